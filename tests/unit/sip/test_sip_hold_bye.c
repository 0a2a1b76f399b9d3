/*
 * Hanging up while our re-INVITE is out: the Matrix user of a bridged call resumes (or holds)
 * and hangs up right after, before the phone has answered the re-INVITE. Our BYE must not
 * overtake that answer: the phone would get the BYE before our ACK of its 2xx. So the BYE waits
 * for the final response (ACK first, then BYE); if none comes it goes after a few seconds
 * anyway; and where the stack ends the session itself on a refusal (a 500 without Retry-After,
 * RFC 5057) there is only its BYE, not a second one of ours. The phone is written by hand on
 * loopback UDP (sip_wire), the Matrix side is the host callbacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

#define NUMBER "+15550101"

struct fixture {
    struct media_workers *workers;
    struct conf_mixer *mixer;
    struct conf_registry *conferences;
    struct sip_gw *gw;
    uint16_t port;
    char listen_buf[64];
    const char *listen[1];
    const char *sources[1];
    const char *codecs[1];
    struct sip_trunk_cfg trunk;
    struct sip_route_in routes[1];
    struct sip_cfg cfg;
    struct wire phone;
    struct sip_call *rung;
    bool stopped;
};

static int on_ring_user(void *arg, const char *user, const char *conference, const char *caller,
                        struct sip_call *sc)
{
    struct fixture *f = arg;
    f->rung = sc;
    return 0;
}

static void on_user_call_gone(void *arg, struct sip_call *sc)
{
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    log_set_level(getenv("SIP_TEST_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_WARN);
    assert_int_equal(media_workers_alloc(&f->workers, 1), 0);
    assert_int_equal(conf_mixer_alloc(&f->mixer, 1), 0);
    assert_int_equal(conf_registry_alloc(&f->conferences, f->mixer), 0);
    wire_open(&f->phone, "127.0.0.1");
    f->port = wire_free_port();
    snprintf(f->listen_buf, sizeof(f->listen_buf), "udp:127.0.0.1:%u", f->port);
    f->listen[0] = f->listen_buf;
    f->sources[0] = "127.0.0.1/32";
    f->codecs[0] = "pcmu";
    f->trunk = (struct sip_trunk_cfg){
        .name = "t1",
        .from_user = "+15550199",
        .codecs = f->codecs,
        .ncodecs = 1,
        .allowed_sources = f->sources,
        .nallowed_sources = 1,
    };
    f->routes[0] = (struct sip_route_in){.number = NUMBER, .user = "@alice:test"};
    unsigned base = 42000 + (unsigned)(getpid() % 200) * 100;
    f->cfg = (struct sip_cfg){
        .listen = f->listen,
        .nlisten = 1,
        .trunks = &f->trunk,
        .ntrunks = 1,
        .routes_in = f->routes,
        .nroutes_in = 1,
        .invite_rate_per_source = 100,
        .workers = f->workers,
        .media = {.local_ip = "127.0.0.1",
                  .port_min = (uint16_t)base,
                  .port_max = (uint16_t)(base + 99),
                  .opus_complexity = -1},
        .ring_timeout_ms = 20000,
    };
    struct sip_gw_host host = {
        .arg = f, .ring_user = on_ring_user, .user_call_gone = on_user_call_gone};
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
    wire_close(&f->phone);
    free(f);
    return 0;
}

/* ---- the phone ---- */

static char *sdp(const struct fixture *f, const char *dir)
{
    return g_strdup_printf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                           "t=0 0\r\nm=audio %u RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=%s\r\n",
                           f->phone.port + 2, dir);
}

/* A response to the gateway's request req, echoing its Via, From, To, Call-ID and CSeq. */
static void respond(struct fixture *f, const char *req, const char *status, const char *body)
{
    char *via = wire_header(req, "Via"), *from = wire_header(req, "From");
    char *to = wire_header(req, "To"), *cid = wire_header(req, "Call-ID");
    char *cseq = wire_header(req, "CSeq");
    char *msg = g_strdup_printf("SIP/2.0 %s\nVia: %s\nFrom: %s\nTo: %s\nCall-ID: %s\nCSeq: %s\n"
                                "Contact: <sip:phone@127.0.0.1:%u>\n%sContent-Length: %zu\n\n%s",
                                status, via, from, to, cid, cseq, f->phone.port,
                                body ? "Content-Type: application/sdp\n" : "",
                                body ? strlen(body) : 0, body ? body : "");
    wire_send(&f->phone, f->port, msg);
    g_free(msg);
    g_free(via);
    g_free(from);
    g_free(to);
    g_free(cid);
    g_free(cseq);
}

/* The phone calls the user route, the user answers, the phone ACKs: the call that is up. */
static struct sip_call *call_up(struct fixture *f, const char *call_id)
{
    char *offer = sdp(f, "sendrecv");
    char *invite = g_strdup_printf(
        "INVITE sip:%s@127.0.0.1:%u SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-%s-1\n"
        "Max-Forwards: 70\nFrom: <sip:+15557777@127.0.0.1>;tag=ph-%s\nTo: <sip:%s@127.0.0.1>\n"
        "Call-ID: %s\nCSeq: 1 INVITE\nContact: <sip:phone@127.0.0.1:%u>\n"
        "Content-Type: application/sdp\nContent-Length: %zu\n\n%s",
        NUMBER, f->port, f->phone.port, call_id, call_id, NUMBER, call_id, f->phone.port,
        strlen(offer), offer);
    wire_send(&f->phone, f->port, invite);
    g_free(invite);
    g_free(offer);
    gint64 deadline = g_get_monotonic_time() + 3000000;
    while (!f->rung && g_get_monotonic_time() < deadline) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(2000);
    }
    assert_non_null(f->rung);
    struct sip_call *sc = f->rung;
    sip_call_user_answered(sc);
    char *ok = wire_recv(&f->phone, "SIP/2.0 200", 3000);
    assert_non_null(ok);
    char *to = wire_header(ok, "To"), *contact = wire_header(ok, "Contact");
    assert_non_null(to);
    assert_non_null(contact);
    const char *lt = strchr(contact, '<');
    assert_non_null(lt);
    char *ack = g_strdup_printf(
        "ACK %.*s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-%s-ack\n"
        "Max-Forwards: 70\nFrom: <sip:+15557777@127.0.0.1>;tag=ph-%s\nTo: %s\nCall-ID: %s\n"
        "CSeq: 1 ACK\nContent-Length: 0\n\n",
        (int)strcspn(lt + 1, ">"), lt + 1, f->phone.port, call_id, call_id, to, call_id);
    wire_send(&f->phone, f->port, ack);
    g_free(ack);
    g_free(to);
    g_free(contact);
    g_free(ok);
    /* The dialog is confirmed once the ACK is in: our hold goes out then. */
    return sc;
}

/* The user holds and hangs up before the phone answers the re-INVITE; returns the re-INVITE. */
static char *hold_then_hang_up(struct fixture *f, struct sip_call *sc)
{
    sip_call_user_hold(sc, true);
    char *reinvite = wire_recv(&f->phone, "INVITE ", 3000);
    assert_non_null(reinvite);
    assert_non_null(strstr(wire_body(reinvite), "a=sendonly"));
    sip_call_user_hangup(sc);
    return reinvite;
}

static bool no_calls(struct fixture *f)
{
    char *status = sip_gw_status(f->gw);
    bool none = strstr(status, "SIP calls: 0") != NULL;
    g_free(status);
    return none;
}

/* Whether the call has ended (the dialog is over, not only our side's media). */
static bool all_gone(struct fixture *f)
{
    gint64 deadline = g_get_monotonic_time() + 3000000;
    while (!no_calls(f) && g_get_monotonic_time() < deadline) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(2000);
    }
    return no_calls(f) && conf_registry_count(f->conferences) == 0;
}

/* ---- tests ---- */

static void bye_waits_for_the_answer_and_follows_the_ack(void **state)
{
    struct fixture *f = *state;
    struct sip_call *sc = call_up(f, "hb-1");
    char *reinvite = hold_then_hang_up(f, sc);
    /* Hung up, but the re-INVITE is out: no BYE yet, and the call is not over. */
    assert_true(wire_quiet(&f->phone, "BYE ", 400));
    assert_false(no_calls(f));

    char *answer = sdp(f, "recvonly");
    respond(f, reinvite, "200 OK", answer);
    g_free(answer);
    /* The ACK of that 2xx, then the BYE: a BYE ahead of the ACK would be skipped here and the
     * second wait would find none. */
    char *ack = wire_recv(&f->phone, "ACK ", 3000);
    assert_non_null(ack);
    char *bye = wire_recv(&f->phone, "BYE ", 3000);
    assert_non_null(bye);
    respond(f, bye, "200 OK", NULL);
    assert_true(all_gone(f));
    /* One BYE only. */
    assert_true(wire_quiet(&f->phone, "BYE ", 300));
    g_free(ack);
    g_free(bye);
    g_free(reinvite);
}

static void bye_goes_anyway_when_the_answer_never_comes(void **state)
{
    struct fixture *f = *state;
    struct sip_call *sc = call_up(f, "hb-2");
    char *reinvite = hold_then_hang_up(f, sc);
    respond(f, reinvite, "100 Trying", NULL);
    /* The wait is bounded (4 s): not at once, but well before the transaction would time out. */
    gint64 t0 = g_get_monotonic_time();
    char *bye = wire_recv(&f->phone, "BYE ", 8000);
    assert_non_null(bye);
    gint64 waited_ms = (g_get_monotonic_time() - t0) / 1000;
    assert_true(waited_ms >= 3000);
    respond(f, bye, "200 OK", NULL);
    respond(f, reinvite, "487 Request Terminated", NULL);
    assert_true(all_gone(f));
    g_free(bye);
    g_free(reinvite);
}

static void refusal_the_stack_ends_on_gets_its_bye_only(void **state)
{
    struct fixture *f = *state;
    struct sip_call *sc = call_up(f, "hb-3");
    char *reinvite = hold_then_hang_up(f, sc);
    assert_true(wire_quiet(&f->phone, "BYE ", 300));
    /* 500 without Retry-After: this sofia-sip ends the session itself (RFC 5057). */
    respond(f, reinvite, "500 Server Internal Error", NULL);
    char *bye = wire_recv(&f->phone, "BYE ", 3000);
    assert_non_null(bye);
    respond(f, bye, "200 OK", NULL);
    assert_true(all_gone(f));
    assert_true(wire_quiet(&f->phone, "BYE ", 500));
    g_free(bye);
    g_free(reinvite);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bye_waits_for_the_answer_and_follows_the_ack, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bye_goes_anyway_when_the_answer_never_comes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(refusal_the_stack_ends_on_gets_its_bye_only, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
