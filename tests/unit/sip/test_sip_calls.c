/*
 * SIP calls through the gateway, with real media sessions and a real conference registry, the
 * far end written by hand on loopback UDP: an inbound call to a room (200 with our SDP answer,
 * the leg in the room's conference), hold with sendonly and inactive (our 200 says recvonly /
 * inactive, never sendrecv, and the leg is muted), a malformed re-INVITE refused while the call
 * carries on, BYE from the phone; a late-offer INVITE (our offer in the 200, the answer in the
 * ACK); CANCEL while ringing a user route; and the outbound side: a 407 challenge answered, the
 * progress notices (ringing, busy, declined, redirect not followed, answered, hung up).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "conf/registry.h"
#include "media/worker.h"
#include "sip/sip.h"
#include "sip_wire.h"

#define ROOM "!room:test"

static GPtrArray *notices;

struct fixture {
    struct media_workers *workers;
    struct conf_mixer *mixer;
    struct conf_registry *conferences;
    struct sip_gw *gw;
    uint16_t port;
    char listen_buf[64], proxy[64];
    const char *listen[1];
    const char *sources[1];
    const char *users[1], *numbers[1];
    const char *codecs[2];
    struct sip_trunk_cfg trunk;
    struct sip_route_in routes[2];
    struct sip_cfg cfg;
    struct wire peer; /* the phone, or the trunk's proxy */
    bool stopped;
    struct sip_call *rung;
    bool gone;
};

static void on_notice(void *arg, const char *room, const char *text)
{
    g_ptr_array_add(notices, g_strdup_printf("%s|%s", room, text));
}

static int on_ring_user(void *arg, const char *user, const char *conference, const char *caller,
                        struct sip_call *sc)
{
    struct fixture *f = arg;
    f->rung = sc;
    return 0;
}

static void on_user_call_gone(void *arg, struct sip_call *sc)
{
    struct fixture *f = arg;
    if (sc == f->rung)
        f->gone = true;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    notices = g_ptr_array_new_with_free_func(g_free);
    log_set_level(getenv("SIP_TEST_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_WARN);
    assert_int_equal(media_workers_alloc(&f->workers, 1), 0);
    assert_int_equal(conf_mixer_alloc(&f->mixer, 1), 0);
    assert_int_equal(conf_registry_alloc(&f->conferences, f->mixer), 0);
    wire_open(&f->peer, "127.0.0.1");
    f->port = wire_free_port();
    snprintf(f->listen_buf, sizeof(f->listen_buf), "udp:127.0.0.1:%u", f->port);
    snprintf(f->proxy, sizeof(f->proxy), "sip:127.0.0.1:%u", f->peer.port);
    f->listen[0] = f->listen_buf;
    f->sources[0] = "127.0.0.1/32";
    f->users[0] = "@*:test";
    f->numbers[0] = "+1555*";
    f->codecs[0] = "pcmu";
    f->codecs[1] = "pcma";
    f->trunk = (struct sip_trunk_cfg){
        .name = "t1",
        .proxy = f->proxy,
        .username = "gw",
        .password = "pw",
        .from_user = "+15550199",
        .codecs = f->codecs,
        .ncodecs = 2,
        .allowed_sources = f->sources,
        .nallowed_sources = 1,
    };
    f->routes[0] = (struct sip_route_in){.number = "+15550100", .room = ROOM};
    f->routes[1] = (struct sip_route_in){.number = "+15550101", .user = "@alice:test"};
    unsigned base = 40000 + (unsigned)(getpid() % 200) * 100;
    f->cfg = (struct sip_cfg){
        .listen = f->listen,
        .nlisten = 1,
        .trunks = &f->trunk,
        .ntrunks = 1,
        .routes_in = f->routes,
        .nroutes_in = 2,
        .outbound_allowed_users = f->users,
        .noutbound_allowed_users = 1,
        .outbound_allowed_numbers = f->numbers,
        .noutbound_allowed_numbers = 1,
        .invite_rate_per_source = 100,
        .workers = f->workers,
        .media = {.local_ip = "127.0.0.1",
                  .port_min = (uint16_t)base,
                  .port_max = (uint16_t)(base + 99),
                  .opus_complexity = -1},
        .ring_timeout_ms = 20000,
    };
    struct sip_gw_host host = {.arg = f,
                               .notice = on_notice,
                               .ring_user = on_ring_user,
                               .user_call_gone = on_user_call_gone};
    assert_int_equal(sip_gw_alloc(&f->gw, &f->cfg, f->conferences, &host), 0);
    assert_int_equal(sip_gw_start(f->gw), 0);
    *state = f;
    return 0;
}

static void stopped(void *arg)
{
    struct fixture *f = arg;
    f->stopped = true;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sip_gw_shutdown(f->gw, stopped, f);
    wire_run_until(&f->stopped, 15000);
    mem_deref(f->gw);
    assert_int_equal(conf_registry_count(f->conferences), 0);
    mem_deref(f->conferences);
    mem_deref(f->mixer);
    mem_deref(f->workers);
    wire_close(&f->peer);
    g_ptr_array_free(notices, TRUE);
    free(f);
    return 0;
}

/* ---- messages ---- */

static char *sdp_offer(const struct wire *w, const char *dir, const char *formats)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(
        s,
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio %u RTP/AVP %s\r\n",
        w->port + 2, formats);
    if (strstr(formats, "0"))
        g_string_append(s, "a=rtpmap:0 PCMU/8000\r\n");
    if (dir)
        g_string_append_printf(s, "a=%s\r\n", dir);
    return g_string_free(s, FALSE);
}

struct dialog {
    char call_id[64];
    char to_tag[64];
    char contact[128]; /* the gateway's Contact: where in-dialog requests go */
    unsigned cseq;
};

/* A request in (or starting) dialog d. ACK and CANCEL reuse the INVITE's CSeq; the ACK of a
 * final error response and a CANCEL belong to the INVITE's transaction (its branch), the ACK of
 * a 2xx is a transaction of its own. */
static void send_request(struct fixture *f, struct dialog *d, const char *method,
                         const char *number, const char *body, bool invite_branch)
{
    char ruri[160];
    if (d->contact[0])
        snprintf(ruri, sizeof(ruri), "%s", d->contact);
    else
        snprintf(ruri, sizeof(ruri), "sip:%s@127.0.0.1:%u", number, f->port);
    bool same = strcmp(method, "ACK") == 0 || strcmp(method, "CANCEL") == 0;
    unsigned cseq = same ? d->cseq : ++d->cseq;
    char *msg = g_strdup_printf(
        "%s %s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-%s-%u-%s\n"
        "Max-Forwards: 70\nFrom: <sip:+15557777@127.0.0.1>;tag=ph-%s\n"
        "To: <sip:%s@127.0.0.1>%s%s\nCall-ID: %s\nCSeq: %u %s\n"
        "Contact: <sip:phone@127.0.0.1:%u>\n%sContent-Length: %zu\n\n%s",
        method, ruri, f->peer.port, d->call_id, cseq, invite_branch ? "INVITE" : method, d->call_id,
        number, d->to_tag[0] && strcmp(method, "CANCEL") ? ";tag=" : "",
        strcmp(method, "CANCEL") ? d->to_tag : "", d->call_id, cseq, method, f->peer.port,
        body ? "Content-Type: application/sdp\n" : "", body ? strlen(body) : 0, body ? body : "");
    wire_send(&f->peer, f->port, msg);
    g_free(msg);
}

static void request(struct fixture *f, struct dialog *d, const char *method, const char *number,
                    const char *body)
{
    send_request(f, d, method, number, body, strcmp(method, "CANCEL") == 0);
}

/* The ACK of an INVITE's final response: its own transaction after a 2xx, else the INVITE's. */
static void ack(struct fixture *f, struct dialog *d, const char *number, const char *body,
                bool after_2xx)
{
    send_request(f, d, "ACK", number, body, !after_2xx);
}

/* The final response to our request (provisionals skipped); fills the dialog's tag and Contact
 * from a 2xx. */
static char *final_response(struct fixture *f, struct dialog *d, const char *method)
{
    gint64 deadline = g_get_monotonic_time() + 5000000;
    while (g_get_monotonic_time() < deadline) {
        char *r = wire_recv(&f->peer, "SIP/2.0 ", 5000);
        if (!r)
            break;
        char *cseq = wire_header(r, "CSeq");
        char want[64];
        snprintf(want, sizeof(want), "%u %s", d->cseq, method);
        bool ours = cseq && strcmp(cseq, want) == 0;
        g_free(cseq);
        if (!ours || strncmp(r, "SIP/2.0 1", 9) == 0) {
            g_free(r);
            continue;
        }
        char *to = wire_header(r, "To");
        const char *tag = to ? strstr(to, "tag=") : NULL;
        if (tag && !d->to_tag[0])
            snprintf(d->to_tag, sizeof(d->to_tag), "%.*s", (int)strcspn(tag + 4, ";"), tag + 4);
        g_free(to);
        char *contact = wire_header(r, "Contact");
        if (contact && strncmp(r, "SIP/2.0 2", 9) == 0 && !d->contact[0]) {
            const char *lt = strchr(contact, '<');
            if (lt)
                snprintf(d->contact, sizeof(d->contact), "%.*s", (int)strcspn(lt + 1, ">"), lt + 1);
        }
        g_free(contact);
        return r;
    }
    return NULL;
}

static bool status_is(const char *resp, const char *status)
{
    if (!resp || strncmp(resp + 8, status, strlen(status)) != 0) {
        print_message("expected %s, got: %s\n", status, resp ? resp : "(nothing)");
        return false;
    }
    return true;
}

static char *sdp_attr(const char *resp)
{
    const char *body = wire_body(resp);
    static const char *const dirs[] = {"a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"};
    for (size_t i = 0; body && i < 4; i++) {
        if (strstr(body, dirs[i]))
            return g_strdup(dirs[i] + 2);
    }
    return g_strdup(body ? "sendrecv" : "none");
}

static bool take_member(struct conf_member *mb, void *arg)
{
    *(struct conf_member **)arg = mb;
    return false;
}

static struct conf_member *room_member(struct fixture *f)
{
    struct conf_room *room = conf_registry_find(f->conferences, ROOM);
    struct conf_member *m = NULL;
    if (room)
        conf_room_foreach(room, take_member, &m);
    return m;
}

static bool wait_for(bool (*cond)(struct fixture *), struct fixture *f, int ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
    while (!cond(f) && g_get_monotonic_time() < deadline) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(2000);
    }
    return cond(f);
}

static bool room_empty(struct fixture *f)
{
    return conf_registry_find(f->conferences, ROOM) == NULL;
}

static bool noticed(const char *needle)
{
    for (guint i = 0; i < notices->len; i++) {
        if (strstr(g_ptr_array_index(notices, i), needle))
            return true;
    }
    return false;
}

static bool wait_notice(const char *needle, int ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
    while (!noticed(needle) && g_get_monotonic_time() < deadline) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(2000);
    }
    if (!noticed(needle)) {
        print_message("no notice '%s'; notices:\n", needle);
        for (guint i = 0; i < notices->len; i++)
            print_message("  %s\n", (char *)g_ptr_array_index(notices, i));
    }
    return noticed(needle);
}

/* ---- inbound ---- */

static void inbound_room_call_hold_resume_bye(void **state)
{
    struct fixture *f = *state;
    struct dialog d = {.call_id = "in-room-1"};
    char *offer = sdp_offer(&f->peer, NULL, "0");
    request(f, &d, "INVITE", "+15550100", offer);
    g_free(offer);
    char *r = final_response(f, &d, "INVITE");
    assert_true(status_is(r, "200"));
    const char *body = wire_body(r);
    assert_non_null(body);
    assert_non_null(strstr(body, "m=audio "));
    assert_non_null(strstr(body, "RTP/AVP 0"));
    g_free(r);
    ack(f, &d, "+15550100", NULL, true);
    struct conf_member *m = room_member(f);
    assert_non_null(m);
    assert_false(conf_member_muted(m));
    assert_non_null(strstr(conf_member_label(m), "+15557777"));

    /* Hold with sendonly: we answer recvonly and the leg is muted. */
    static const char *const holds[][2] = {{"sendonly", "recvonly"}, {"inactive", "inactive"}};
    for (int i = 0; i < 2; i++) {
        offer = sdp_offer(&f->peer, holds[i][0], "0");
        request(f, &d, "INVITE", "+15550100", offer);
        g_free(offer);
        r = final_response(f, &d, "INVITE");
        assert_true(status_is(r, "200"));
        char *dir = sdp_attr(r);
        assert_string_equal(dir, holds[i][1]);
        g_free(dir);
        g_free(r);
        ack(f, &d, "+15550100", NULL, true);
        assert_true(conf_member_muted(room_member(f)));
    }
    char *status = sip_gw_status(f->gw);
    assert_non_null(strstr(status, "on hold"));
    g_free(status);

    /* A malformed re-INVITE: 400, and the call stays as it was. */
    offer = g_strdup("v=0\r\nthis is not sdp\r\n");
    request(f, &d, "INVITE", "+15550100", offer);
    g_free(offer);
    r = final_response(f, &d, "INVITE");
    assert_true(status_is(r, "400"));
    g_free(r);
    ack(f, &d, "+15550100", NULL, false);
    assert_non_null(room_member(f));

    /* Resume. */
    offer = sdp_offer(&f->peer, "sendrecv", "0");
    request(f, &d, "INVITE", "+15550100", offer);
    g_free(offer);
    r = final_response(f, &d, "INVITE");
    assert_true(status_is(r, "200"));
    char *dir = sdp_attr(r);
    assert_string_equal(dir, "sendrecv");
    g_free(dir);
    g_free(r);
    ack(f, &d, "+15550100", NULL, true);
    assert_false(conf_member_muted(room_member(f)));

    /* BYE from the phone: out of the conference, which closes. */
    request(f, &d, "BYE", "+15550100", NULL);
    r = final_response(f, &d, "BYE");
    assert_true(status_is(r, "200"));
    g_free(r);
    assert_true(wait_for(room_empty, f, 3000));
    status = sip_gw_status(f->gw);
    assert_non_null(strstr(status, "SIP calls: 0"));
    g_free(status);
}

static void late_offer_answer_in_ack(void **state)
{
    struct fixture *f = *state;
    struct dialog d = {.call_id = "in-late-1"};
    request(f, &d, "INVITE", "+15550100", NULL);
    char *r = final_response(f, &d, "INVITE");
    assert_true(status_is(r, "200"));
    /* Our offer: the trunk's codecs (PCMU, PCMA) and telephone-event. */
    const char *body = wire_body(r);
    assert_non_null(body);
    assert_non_null(strstr(body, "m=audio "));
    assert_non_null(strstr(body, "PCMU/8000"));
    assert_non_null(strstr(body, "PCMA/8000"));
    assert_null(strstr(body, "opus"));
    g_free(r);
    assert_null(room_member(f));
    char *answer = sdp_offer(&f->peer, NULL, "0");
    ack(f, &d, "+15550100", answer, true);
    g_free(answer);
    gint64 deadline = g_get_monotonic_time() + 3000000;
    while (!room_member(f) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    assert_non_null(room_member(f));
    request(f, &d, "BYE", "+15550100", NULL);
    r = final_response(f, &d, "BYE");
    assert_true(status_is(r, "200"));
    g_free(r);
    assert_true(wait_for(room_empty, f, 3000));
}

static void user_route_rings_then_cancel(void **state)
{
    struct fixture *f = *state;
    struct dialog d = {.call_id = "in-user-1"};
    char *offer = sdp_offer(&f->peer, NULL, "0");
    request(f, &d, "INVITE", "+15550101", offer);
    g_free(offer);
    gint64 deadline = g_get_monotonic_time() + 3000000;
    while (!f->rung && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    assert_non_null(f->rung);
    sip_call_user_ringing(f->rung);
    char *r = wire_recv(&f->peer, "SIP/2.0 180", 3000);
    assert_non_null(r);
    g_free(r);

    /* The caller gives up: 487 to the INVITE, and the Matrix side is told. */
    request(f, &d, "CANCEL", "+15550101", NULL);
    r = final_response(f, &d, "INVITE");
    assert_true(status_is(r, "487"));
    g_free(r);
    ack(f, &d, "+15550101", NULL, false);
    assert_true(wire_run_until(&f->gone, 3000));
}

static void user_route_refused_by_the_user(void **state)
{
    struct fixture *f = *state;
    struct dialog d = {.call_id = "in-user-2"};
    char *offer = sdp_offer(&f->peer, NULL, "0");
    request(f, &d, "INVITE", "+15550101", offer);
    g_free(offer);
    gint64 deadline = g_get_monotonic_time() + 3000000;
    while (!f->rung && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    assert_non_null(f->rung);
    sip_call_user_refused(f->rung, 486);
    char *r = final_response(f, &d, "INVITE");
    assert_true(status_is(r, "486"));
    g_free(r);
    ack(f, &d, "+15550101", NULL, false);
    /* The Matrix side refused it: nobody tells it the call is gone. */
    assert_true(wire_quiet(&f->peer, "SIP/2.0", 300));
    assert_false(f->gone);
}

/* ---- outbound ---- */

/* Answers the INVITE that arrives at the proxy with status (and extra headers / body). */
static char *proxy_answer(struct fixture *f, const char *status, const char *extra,
                          const char *body)
{
    char *inv = wire_recv(&f->peer, "INVITE ", 5000);
    assert_non_null(inv);
    char *via = wire_header(inv, "Via"), *from = wire_header(inv, "From");
    char *to = wire_header(inv, "To"), *cid = wire_header(inv, "Call-ID");
    char *cseq = wire_header(inv, "CSeq");
    char *msg = g_strdup_printf("SIP/2.0 %s\nVia: %s\nFrom: %s\nTo: %s;tag=far\nCall-ID: %s\n"
                                "CSeq: %s\nContact: <sip:far@127.0.0.1:%u>\n%s%s"
                                "Content-Length: %zu\n\n%s",
                                status, via, from, to, cid, cseq, f->peer.port, extra ? extra : "",
                                body ? "Content-Type: application/sdp\n" : "",
                                body ? strlen(body) : 0, body ? body : "");
    wire_send(&f->peer, f->port, msg);
    g_free(msg);
    g_free(via);
    g_free(from);
    g_free(to);
    g_free(cid);
    g_free(cseq);
    return inv;
}

/* A response to request msg (its Via, From, To with our tag, Call-ID, CSeq). */
static void respond_to(struct fixture *f, const char *req, const char *status)
{
    char *via = wire_header(req, "Via"), *from = wire_header(req, "From");
    char *to = wire_header(req, "To"), *cid = wire_header(req, "Call-ID");
    char *cseq = wire_header(req, "CSeq");
    char *msg = g_strdup_printf("SIP/2.0 %s\nVia: %s\nFrom: %s\nTo: %s;tag=far\nCall-ID: %s\n"
                                "CSeq: %s\nContent-Length: 0\n\n",
                                status, via, from, to, cid, cseq);
    wire_send(&f->peer, f->port, msg);
    g_free(msg);
    g_free(via);
    g_free(from);
    g_free(to);
    g_free(cid);
    g_free(cseq);
}

static void dial(struct fixture *f)
{
    char why[256];
    assert_int_equal(sip_gw_dial(f->gw, ROOM, ROOM, "@alice:test", "+15551234", why, sizeof(why)),
                     0);
}

static void outbound_outcomes(void **state)
{
    struct fixture *f = *state;

    /* 407: answered with the trunk's credentials; 180: ringing; 486: busy. */
    dial(f);
    char *inv = proxy_answer(f, "407 Proxy Authentication Required",
                             "Proxy-Authenticate: Digest realm=\"t\", nonce=\"abc\"\n", NULL);
    char *from = wire_header(inv, "From");
    assert_non_null(strstr(from, "sip:+15550199@127.0.0.1"));
    char *ruri = g_strndup(inv, strcspn(inv, "\r\n"));
    assert_non_null(strstr(ruri, "INVITE sip:+15551234@127.0.0.1:"));
    assert_non_null(strstr(wire_body(inv), "PCMU/8000"));
    g_free(ruri);
    g_free(from);
    g_free(inv);
    char *ack407 = wire_recv(&f->peer, "ACK ", 3000);
    assert_non_null(ack407);
    g_free(ack407);
    inv = proxy_answer(f, "180 Ringing", NULL, NULL);
    char *auth = wire_header(inv, "Proxy-Authorization");
    assert_non_null(auth);
    assert_non_null(strstr(auth, "username=\"gw\""));
    g_free(auth);
    assert_true(wait_notice(ROOM "|+15551234 is ringing", 3000));
    /* The final response to the same INVITE. */
    char *via = wire_header(inv, "Via"), *fr = wire_header(inv, "From"),
         *to = wire_header(inv, "To");
    char *cid = wire_header(inv, "Call-ID"), *cseq = wire_header(inv, "CSeq");
    char *msg = g_strdup_printf("SIP/2.0 486 Busy Here\nVia: %s\nFrom: %s\nTo: %s;tag=far\n"
                                "Call-ID: %s\nCSeq: %s\nContent-Length: 0\n\n",
                                via, fr, to, cid, cseq);
    wire_send(&f->peer, f->port, msg);
    g_free(msg);
    g_free(via);
    g_free(fr);
    g_free(to);
    g_free(cid);
    g_free(cseq);
    g_free(inv);
    assert_true(wait_notice(ROOM "|+15551234 is busy.", 3000));

    /* Declined, not found, a redirect (not followed). */
    static const char *const outcomes[][2] = {
        {"603 Decline", "+15551234 declined the call."},
        {"404 Not Found", "The call to +15551234 failed: 404 Not Found."},
        {"302 Moved Temporarily",
         "The call to +15551234 was redirected (302 Moved Temporarily); redirects are not "
         "followed."},
        {"480 Temporarily Unavailable", "+15551234 did not answer."},
        {"500 Server Internal Error", "The call to +15551234 failed: 500 Server Internal Error."},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(outcomes); i++) {
        dial(f);
        g_free(proxy_answer(f, outcomes[i][0], NULL, NULL));
        char want[256];
        snprintf(want, sizeof(want), "%s|%s", ROOM, outcomes[i][1]);
        assert_true(wait_notice(want, 3000));
        g_free(wire_recv(&f->peer, "ACK ", 3000));
        if (outcomes[i][0][0] == '3') {
            /* This sofia-sip sends the INVITE to the redirect target by itself (the Contact
             * points back here); the gateway cancels it at once. */
            char *again = proxy_answer(f, "180 Ringing", NULL, NULL);
            assert_non_null(strstr(again, "INVITE sip:far@127.0.0.1:"));
            char *cancel = wire_recv(&f->peer, "CANCEL ", 3000);
            assert_non_null(cancel);
            respond_to(f, cancel, "200 OK");
            respond_to(f, again, "487 Request Terminated");
            g_free(wire_recv(&f->peer, "ACK ", 3000));
            g_free(cancel);
            g_free(again);
        }
    }

    /* Answered: into the conference; then !hangup sends BYE. */
    dial(f);
    char *answer = sdp_offer(&f->peer, NULL, "0");
    g_free(proxy_answer(f, "200 OK", NULL, answer));
    g_free(answer);
    char *ack200 = wire_recv(&f->peer, "ACK ", 3000);
    assert_non_null(ack200);
    g_free(ack200);
    assert_true(wait_notice(ROOM "|+15551234 answered.", 3000));
    assert_non_null(room_member(f));
    assert_int_equal(sip_gw_hangup(f->gw, ROOM, "+1 555 1234"), 0);
    char *bye = wire_recv(&f->peer, "BYE ", 3000);
    assert_non_null(bye);
    respond_to(f, bye, "200 OK");
    g_free(bye);
    assert_true(wait_for(room_empty, f, 3000));
    assert_true(wait_notice(ROOM "|The call with +15551234 ended: hung up from Matrix.", 3000));
    char *status = sip_gw_status(f->gw);
    assert_non_null(strstr(status, "SIP calls: 0"));
    g_free(status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(inbound_room_call_hold_resume_bye, setup, teardown),
        cmocka_unit_test_setup_teardown(late_offer_answer_in_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(user_route_rings_then_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(user_route_refused_by_the_user, setup, teardown),
        cmocka_unit_test_setup_teardown(outbound_outcomes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
