/*
 * Calls that go out: !dial from a Matrix room. The policy comes first and is the only way to a
 * trunk (toll fraud: no other path in the gateway sends an INVITE out), the number is checked
 * in the form it goes into the Request-URI, and then the call is an INVITE through the trunk's
 * proxy with our offer, 407 challenges answered with the trunk's credentials.
 *
 * Progress goes back to the room as notices, one per step a person cares about: ringing,
 * answered, and how it ended (busy, no answer, declined, hung up, or the failure's code and
 * phrase). A call nobody answers within ring_timeout is cancelled.
 */
#include "sip/sip_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/session.h"

/* ---- dialling ---- */

static gboolean ring_timeout_cb(gpointer data)
{
    struct sip_call *c = data;
    c->ring_timer = 0;
    if (c->state != SIP_CALL_CALLING && c->state != SIP_CALL_RINGING)
        return G_SOURCE_REMOVE;
    logc_info(c->log_ctx, "no answer within %u s", c->gw->cfg.ring_timeout_ms / 1000);
    c->end_status = 480;
    snprintf(c->end_phrase, sizeof(c->end_phrase), "No answer within %u s",
             c->gw->cfg.ring_timeout_ms / 1000);
    sip_call_hangup(c, 0, NULL);
    return G_SOURCE_REMOVE;
}

/* Where the INVITE goes: the number at the trunk proxy's host, port and transport. */
static char *request_uri(const struct sip_trunk *t, const char *number)
{
    const char *p = strchr(t->proxy, ':');
    return g_strdup_printf("sip:%s@%s", number, p + 1);
}

static struct sip_call *find_call(struct sip_gw *gw, const char *conference, const char *number)
{
    for (GList *l = gw->calls; l; l = l->next) {
        struct sip_call *c = l->data;
        if (c->state == SIP_CALL_ENDING || c->state == SIP_CALL_ENDED || !c->conference ||
            strcmp(c->conference, conference) != 0)
            continue;
        const char *who = c->inbound ? c->caller : c->number;
        if (who && strcmp(who, number) == 0)
            return c;
    }
    return NULL;
}

int sip_gw_dial(struct sip_gw *gw, const char *notice_room, const char *conference,
                const char *user_id, const char *number, char *why, size_t whylen)
{
    char num[40];
    char dummy[8];
    if (!why)
        why = dummy, whylen = sizeof(dummy);
    why[0] = '\0';
    if (!gw || !conference || !number)
        return EINVAL;
    if (!gw->started || gw->stopping) {
        snprintf(why, whylen, "the SIP side is not running");
        return ESHUTDOWN;
    }
    if (sip_number_normalise(number, num, sizeof(num), why, whylen))
        return EINVAL;
    int err = sip_plan_may_dial(gw->plan, user_id, num, why, whylen);
    if (err) {
        log_warn("[sip room=%s user=%s] refusing to dial %s: %s", notice_room ? notice_room : "-",
                 user_id ? user_id : "-", num, why);
        return err;
    }
    struct sip_trunk *t = sip_gw_outbound_trunk(gw);
    if (!t) {
        snprintf(why, whylen, "no trunk is configured for outbound calls");
        return ENOENT;
    }
    if (find_call(gw, conference, num)) {
        snprintf(why, whylen, "%s is already in a call with this room", num);
        return EALREADY;
    }

    struct sip_call *c;
    if ((err = sip_call_alloc(&c, gw, NULL, false, t))) {
        snprintf(why, whylen, "out of memory");
        return err;
    }
    char *uuid = g_uuid_string_random();
    c->call_id = g_strdup_printf("%s@switchboard", uuid);
    g_free(uuid);
    c->number = g_strdup(num);
    c->peer = g_strdup(t->proxy);
    c->conference = g_strdup(conference);
    c->notice_room = g_strdup(notice_room);
    c->user_id = g_strdup(user_id);
    sip_call_set_log_ctx(c);

    char *sdp = NULL;
    if ((err = sip_call_media_alloc(c, true)) ||
        (err = media_session_create_offer(c->media, &sdp))) {
        logc_error(c->log_ctx, "cannot make our offer: %s", strerror(err));
        snprintf(why, whylen, "the media could not be set up (%s)", strerror(err));
        c->end_status = -1; /* nothing to tell the room: the caller reports why */
        sip_call_finish(c);
        return err;
    }
    char *ruri = request_uri(t, num);
    char *from =
        g_strdup_printf("<sip:%s@%s>", t->from_user ? t->from_user : "switchboard", t->domain);
    char *to = g_strdup_printf("<sip:%s@%s>", num, t->domain);
    c->nh = nua_handle(gw->nua, (nua_hmagic_t *)c, NUTAG_URL(ruri), SIPTAG_TO_STR(to),
                       SIPTAG_FROM_STR(from), SIPTAG_CALL_ID_STR(c->call_id), TAG_END());
    if (c->nh) {
        nua_invite(c->nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
                   TAG_END());
        logc_info(c->log_ctx, "dialling %s through trunk %s for %s (conference %s)", ruri, t->name,
                  user_id, conference);
    }
    g_free(ruri);
    g_free(from);
    g_free(to);
    mem_deref(sdp);
    if (!c->nh) {
        snprintf(why, whylen, "the SIP stack could not start the call");
        c->end_status = -1;
        sip_call_finish(c);
        return ENOMEM;
    }
    c->ring_timer = g_timeout_add(gw->cfg.ring_timeout_ms, ring_timeout_cb, c);
    return 0; /* the room hears "Dialling ..." from whoever asked */
}

int sip_gw_hangup(struct sip_gw *gw, const char *conference, const char *number)
{
    char num[40], why[128];
    if (!gw || !conference || !number)
        return EINVAL;
    if (sip_number_normalise(number, num, sizeof(num), why, sizeof(why)))
        return ENOENT;
    struct sip_call *c = find_call(gw, conference, num);
    if (!c)
        return ENOENT;
    logc_info(c->log_ctx, "hangup asked from Matrix");
    c->end_status = 0;
    snprintf(c->end_phrase, sizeof(c->end_phrase), "hung up from Matrix");
    sip_call_hangup(c, 480, "Temporarily Unavailable");
    return 0;
}

/* ---- responses ---- */

static void fail_answered(struct sip_call *c, const char *what)
{
    logc_warn(c->log_ctx, "%s: hanging up", what);
    g_strlcpy(c->end_phrase, what, sizeof(c->end_phrase));
    c->end_status = 488;
    sip_call_hangup(c, 0, NULL);
}

void sip_outbound_response(struct sip_call *c, int status, const char *phrase, const sip_t *sip)
{
    logc_debug(c->log_ctx, "INVITE: %d %s", status, phrase ? phrase : "");
    if (status == 100 && phrase && strncmp(phrase, "Redirected", 10) == 0) {
        /* This sofia-sip follows 302 / 305 by itself and only then says so. We follow no
         * redirect (the target is the far end's choice, not our dial plan's): the INVITE it
         * sent is cancelled at once, with the handle. */
        const sip_status_t *st = sip ? sip->sip_status : NULL;
        const sip_contact_t *m = sip ? sip->sip_contact : NULL;
        c->end_status = st ? st->st_status : 302;
        g_strlcpy(c->end_phrase, st && st->st_phrase ? st->st_phrase : "Moved Temporarily",
                  sizeof(c->end_phrase));
        logc_warn(c->log_ctx, "redirected (%d %s) to %s%s%s: not followed", c->end_status,
                  c->end_phrase, m && m->m_url->url_user ? m->m_url->url_user : "",
                  m && m->m_url->url_user ? "@" : "",
                  m && m->m_url->url_host ? m->m_url->url_host : "?");
        c->by_remote = true;
        sip_outbound_ended(c);
        sip_call_hangup(c, 0, NULL);
        return;
    }
    if (status < 200) {
        if ((status == 180 || status == 183) && c->state == SIP_CALL_CALLING) {
            c->state = SIP_CALL_RINGING;
            logc_info(c->log_ctx, "ringing (%d)", status);
            sip_gw_notice(c->gw, c->notice_room, "%s is ringing…", c->number);
        }
        return;
    }
    if (status == 401 || status == 407) {
        if (sip_trunk_answer_challenge(c->trunk, c->nh, sip, &c->auth_tries, c->log_ctx))
            return;
    }
    if (status == 904) {
        /* Sofia's word for "challenged again with the same nonce": our answer was refused. */
        logc_warn(c->log_ctx, "the trunk refused our credentials");
        status = 407;
        phrase = "Proxy Authentication Required";
    }
    if (status >= 300) {
        if (!c->end_status) {
            c->end_status = status;
            g_strlcpy(c->end_phrase, phrase ? phrase : "", sizeof(c->end_phrase));
        }
        c->by_remote = c->state != SIP_CALL_ENDING;
        logc_info(c->log_ctx, "call failed: %d %s", status, phrase ? phrase : "");
        return; /* nua ends the dialog: sip_call_finish() follows */
    }
    if (c->state != SIP_CALL_CALLING && c->state != SIP_CALL_RINGING)
        return; /* a 200 to a re-INVITE or a retransmission */
    const char *sdp = NULL;
    char err[256] = "";
    int e = sip_msg_sdp(sip, &sdp);
    if (!e && !sdp) {
        fail_answered(c, "answered without SDP");
        return;
    }
    if (!e)
        e = media_session_set_remote_answer(c->media, sdp, err, sizeof(err));
    if (e) {
        char what[300];
        snprintf(what, sizeof(what), "unusable answer: %s", err[0] ? err : strerror(e));
        fail_answered(c, what);
        return;
    }
    if (c->ring_timer) {
        g_source_remove(c->ring_timer);
        c->ring_timer = 0;
    }
    c->state = SIP_CALL_ANSWERED;
    c->t_answer_us = g_get_monotonic_time();
    logc_info(c->log_ctx, "answered");
    sip_call_update_hold(c);
    if (sip_call_join(c)) {
        fail_answered(c, "could not join the conference");
        return;
    }
    sip_call_active(c);
    sip_gw_notice(c->gw, c->notice_room, "%s answered.", c->number);
}

void sip_outbound_ended(struct sip_call *c)
{
    struct sip_gw *gw = c->gw;
    const char *n = c->number;
    int s = c->end_status;
    const char *room = c->notice_room;
    if (s < 0 || !room || c->notice_sent)
        return;
    c->notice_sent = true;
    if (c->t_answer_us && s != 488) {
        if (c->by_remote)
            sip_gw_notice(gw, room, "%s hung up.", n);
        else
            sip_gw_notice(gw, room, "The call with %s ended%s%s.", n, c->end_phrase[0] ? ": " : "",
                          c->end_phrase);
        return;
    }
    if (s == 486 || s == 600)
        sip_gw_notice(gw, room, "%s is busy.", n);
    else if (s == 480 || s == 408)
        sip_gw_notice(gw, room, "%s did not answer.", n);
    else if (s == 603)
        sip_gw_notice(gw, room, "%s declined the call.", n);
    else if (s == 487 || (s == 0 && !c->by_remote))
        sip_gw_notice(gw, room, "The call to %s was cancelled.", n);
    else if (s >= 300 && s < 400)
        sip_gw_notice(gw, room,
                      "The call to %s was redirected (%d %s); redirects are not "
                      "followed.",
                      n, s, c->end_phrase);
    else
        sip_gw_notice(gw, room, "The call to %s failed: %d %s.", n, s, c->end_phrase);
}
