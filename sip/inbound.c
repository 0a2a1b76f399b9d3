/*
 * Calls that come in: who may call (the source must be in a trunk's allowed_sources, and within
 * its INVITE rate), where a number goes (a room's conference or a Matrix user), and the SDP
 * of the INVITE (no common codec: 488; malformed: 400; none at all: we offer in the 200 and
 * take the answer from the ACK). The order of the checks is the cost order: an address
 * comparison, a token bucket, a table lookup, and only then SDP parsing and media.
 *
 * Every refusal is logged with the source it came from, at most a few lines a second per
 * source, so a flood cannot flood the log too.
 */
#include "sip/sip_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sofia-sip/msg_addr.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/session.h"

/* ---- refusing ---- */

static void refuse(struct sip_gw *gw, nua_handle_t *nh, int status, const char *phrase)
{
    nua_respond(nh, status, phrase, TAG_END());
    nua_handle_destroy(nh);
}

static const struct sockaddr *request_source(struct sip_gw *gw)
{
    msg_t *msg = nua_current_request(gw->nua);
    su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;
    return ai ? ai->ai_addr : NULL;
}

/* ---- the dialled number and the caller ---- */

static bool number_of(const url_t *url, char *out, size_t len)
{
    return url && url->url_user && sip_uri_user_number(url->url_user, out, len) == 0;
}

static char *caller_of(const sip_t *sip)
{
    char num[SIP_NUMBER_MAX + 1];
    const sip_from_t *from = sip->sip_from;
    if (from && number_of(from->a_url, num, sizeof(num)))
        return g_strdup(num);
    /* A display name is whatever the caller wrote: printable ASCII of it, bounded, for the
     * room's notices and !who. */
    GString *s = g_string_new(NULL);
    for (const char *p = from ? from->a_display : NULL; p && *p && s->len < 40; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            g_string_append_c(s, *p);
    }
    g_strstrip(s->str);
    if (!s->str[0]) {
        g_string_free(s, TRUE);
        return g_strdup("anonymous");
    }
    return g_string_free(s, FALSE);
}

/* ---- SDP ---- */

/* The answer to an offer set with media_session_set_remote_offer, or our offer when the INVITE
 * had none. NULL (logged) on failure. */
static char *local_sdp(struct sip_call *c, bool offer)
{
    char *sdp = NULL;
    int err = offer ? media_session_create_offer(c->media, &sdp)
                    : media_session_create_answer(c->media, &sdp);
    if (err) {
        logc_error(c->log_ctx, "cannot make our SDP %s: %s", offer ? "offer" : "answer",
                   strerror(err));
        return NULL;
    }
    return sdp;
}

/* 0, or the SIP status refusing the offer (400 malformed, 488 nothing we can use). */
static int take_offer(struct sip_call *c, const char *sdp)
{
    char err[256] = "";
    int e = media_session_set_remote_offer(c->media, sdp, err, sizeof(err));
    if (!e)
        return 0;
    logc_warn(c->log_ctx, "refusing the offer: %s", err[0] ? err : strerror(e));
    return e == EBADMSG ? 400 : 488;
}

static void respond_sdp(struct sip_call *c, int status, const char *phrase, const char *sdp)
{
    nua_respond(c->nh, status, phrase, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
                SIPTAG_PAYLOAD_STR(sdp), TAG_END());
}

/* Sends our 200 (answer, or offer for a late-offer INVITE) and joins when the media is agreed. */
static void answer(struct sip_call *c)
{
    bool late = c->await_ack_sdp;
    char *sdp = local_sdp(c, late);
    if (!sdp) {
        sip_call_hangup(c, 500, "Server Internal Error");
        return;
    }
    respond_sdp(c, 200, "OK", sdp);
    mem_deref(sdp);
    c->state = SIP_CALL_ANSWERED;
    c->t_answer_us = g_get_monotonic_time();
    logc_info(c->log_ctx, "answered%s",
              late ? " (our offer in the 200, the answer due in the ACK)" : "");
    if (!late) {
        sip_call_update_hold(c);
        if (sip_call_join(c))
            sip_call_hangup(c, 0, NULL);
    }
}

/* ---- a new INVITE ---- */

static void ring_user(struct sip_gw *gw, struct sip_call *c, const char *user)
{
    c->user_route = true;
    c->user_id = g_strdup(user);
    c->conference = g_strdup_printf("sip-bridge:%s", c->call_id);
    int err = gw->host.ring_user
                  ? gw->host.ring_user(gw->host.arg, user, c->conference, c->caller, c)
                  : ENOTSUP;
    if (err) {
        logc_warn(c->log_ctx, "cannot ring %s: %s", user, strerror(err));
        c->user_gone_told = true; /* the Matrix side has nothing to end */
        sip_call_hangup(c, 480, "Temporarily Unavailable");
        return;
    }
    logc_info(c->log_ctx, "ringing %s on Matrix", user);
}

void sip_inbound_invite(struct sip_gw *gw, nua_handle_t *nh, const sip_t *sip)
{
    char src[64], srcport[80], ctx[256];
    const struct sockaddr *sa = request_source(gw);
    sip_addr_text(sa, src, sizeof(src));
    sip_addr_port_text(sa, srcport, sizeof(srcport));
    const char *cid = sip && sip->sip_call_id ? sip->sip_call_id->i_id : "-";
    snprintf(ctx, sizeof(ctx), "sip call=%.80s peer=%s", cid, srcport);

    if (!sip || gw->stopping) {
        refuse(gw, nh, 503, "Service Unavailable");
        return;
    }
    struct sip_trunk *trunk = sip_gw_trunk_for_source(gw, sa);
    if (!trunk) {
        if (sip_gw_may_log(gw, src))
            logc_warn(ctx, "INVITE from %s, which is in no trunk's allowed_sources: 403", srcport);
        refuse(gw, nh, 403, "Forbidden");
        return;
    }
    unsigned retry = 1;
    if (!sip_ratelimit_take(gw->limiter, src, (uint64_t)g_get_monotonic_time(), &retry)) {
        if (sip_gw_may_log(gw, src))
            logc_warn(ctx, "more than %u INVITEs a second from %s: 503, retry after %u s",
                      gw->cfg.invite_rate_per_source, src, retry);
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", retry);
        nua_respond(nh, 503, "Service Unavailable", SIPTAG_RETRY_AFTER_STR(ra), TAG_END());
        nua_handle_destroy(nh);
        return;
    }

    /* The number: the Request-URI's user, else the To user (some trunks keep the R-URI on our
     * registered contact). */
    char number[SIP_NUMBER_MAX + 1] = "";
    const struct sip_route_in *route = NULL;
    if (number_of(sip->sip_request ? sip->sip_request->rq_url : NULL, number, sizeof(number)))
        route = sip_plan_route(gw->plan, number);
    if (!route) {
        char to[SIP_NUMBER_MAX + 1];
        if (number_of(sip->sip_to ? sip->sip_to->a_url : NULL, to, sizeof(to)) &&
            (route = sip_plan_route(gw->plan, to)))
            snprintf(number, sizeof(number), "%s", to);
    }
    if (!route) {
        logc_info(ctx, "no route for number %s (trunk %s): 404", number[0] ? number : "(none)",
                  trunk->name);
        refuse(gw, nh, 404, "Not Found");
        return;
    }
    const char *sdp;
    if (sip_msg_sdp(sip, &sdp)) {
        logc_warn(ctx, "an INVITE whose body is not SDP: 415");
        nua_respond(nh, 415, "Unsupported Media Type", SIPTAG_ACCEPT_STR("application/sdp"),
                    TAG_END());
        nua_handle_destroy(nh);
        return;
    }
    /* nua has sent 100 Trying already. */

    struct sip_call *c;
    if (sip_call_alloc(&c, gw, nh, true, trunk)) {
        refuse(gw, nh, 500, "Server Internal Error");
        return;
    }
    c->call_id = g_strdup(cid);
    c->number = g_strdup(number);
    c->caller = caller_of(sip);
    c->peer = g_strdup(srcport);
    sip_call_set_log_ctx(c);
    logc_info(c->log_ctx, "INVITE from %s via trunk %s to %s%s", c->caller, trunk->name,
              route->room ? "room " : "user ", route->room ? route->room : route->user);

    if (sip_call_media_alloc(c, sdp == NULL)) {
        sip_call_hangup(c, 500, "Server Internal Error");
        return;
    }
    if (sdp) {
        int status = take_offer(c, sdp);
        if (status) {
            sip_call_hangup(c, status, status == 400 ? "Bad Request" : "Not Acceptable Here");
            return;
        }
    } else {
        c->await_ack_sdp = true;
    }
    if (route->room) {
        c->conference = g_strdup(route->room);
        answer(c);
    } else {
        ring_user(gw, c, route->user);
    }
}

/* ---- the Matrix side's answers for a user route ---- */

static bool user_call_pending(struct sip_call *sc)
{
    return sc && sc->kind == SIP_HANDLE_CALL && sc->inbound && sc->user_route &&
           sc->state == SIP_CALL_INCOMING;
}

void sip_call_user_ringing(struct sip_call *sc)
{
    if (!user_call_pending(sc) || sc->ringing_sent)
        return;
    sc->ringing_sent = true;
    nua_respond(sc->nh, SIP_180_RINGING, TAG_END());
    logc_info(sc->log_ctx, "%s is being rung: 180", sc->user_id);
}

void sip_call_user_answered(struct sip_call *sc)
{
    if (!user_call_pending(sc))
        return;
    logc_info(sc->log_ctx, "%s answered", sc->user_id);
    answer(sc);
}

void sip_call_user_refused(struct sip_call *sc, int code)
{
    if (!user_call_pending(sc))
        return;
    const char *phrase = code == 486   ? "Busy Here"
                         : code == 603 ? "Decline"
                         : code == 480 ? "Temporarily Unavailable"
                                       : NULL;
    if (!phrase)
        code = 603, phrase = "Decline";
    sc->user_gone_told = true;
    logc_info(sc->log_ctx, "%s did not take the call: %d %s", sc->user_id, code, phrase);
    sip_call_hangup(sc, code, phrase);
}

void sip_call_user_hangup(struct sip_call *sc)
{
    if (!sc || sc->kind != SIP_HANDLE_CALL || !sc->inbound || !sc->user_route)
        return;
    sc->user_gone_told = true;
    logc_info(sc->log_ctx, "%s hung up", sc->user_id ? sc->user_id : "the Matrix user");
    sip_call_hangup(sc, 480, "Temporarily Unavailable");
}

/* ---- in the dialog ---- */

void sip_inbound_reinvite(struct sip_call *c, const sip_t *sip)
{
    if (c->state != SIP_CALL_ACTIVE && c->state != SIP_CALL_ANSWERED) {
        nua_respond(c->nh, 491, "Request Pending", TAG_END());
        return;
    }
    const char *sdp;
    if (sip_msg_sdp(sip, &sdp)) {
        logc_warn(c->log_ctx, "a re-INVITE whose body is not SDP: 415");
        nua_respond(c->nh, 415, "Unsupported Media Type", SIPTAG_ACCEPT_STR("application/sdp"),
                    TAG_END());
        return;
    }
    char *ours = NULL;
    if (!sdp) {
        /* No offer (a refresh, or the peer wants ours): offer what we have (held, if the Matrix
         * user holds the call), the answer in the ACK. */
        sip_hold_settle(c);
        int err = media_session_create_reoffer(c->media, true, !c->hold_local, &ours);
        if (err) {
            logc_warn(c->log_ctx, "cannot offer in answer to a re-INVITE without SDP: %s",
                      strerror(err));
            nua_respond(c->nh, 500, "Server Internal Error", TAG_END());
            return;
        }
        c->await_ack_sdp = true;
        c->reoffer_unsettled = true;
    } else {
        int status = take_offer(c, sdp);
        if (status) {
            /* The call goes on as it was. */
            nua_respond(c->nh, status, status == 400 ? "Bad Request" : "Not Acceptable Here",
                        TAG_END());
            return;
        }
        ours = local_sdp(c, false);
        if (!ours) {
            nua_respond(c->nh, 500, "Server Internal Error", TAG_END());
            return;
        }
        sip_call_update_hold(c);
        sip_hold_remote_offer_answered(c);
    }
    respond_sdp(c, 200, "OK", ours);
    mem_deref(ours);
}

void sip_inbound_ack(struct sip_call *c, const sip_t *sip)
{
    if (!c->await_ack_sdp) {
        if (c->state == SIP_CALL_ANSWERED)
            sip_call_active(c);
        else
            sip_hold_kick(c); /* a hold that waited for the phone's re-INVITE to finish */
        return;
    }
    c->await_ack_sdp = false;
    const char *sdp = NULL;
    char err[256] = "";
    int e = sip_msg_sdp(sip, &sdp);
    if (!e && !sdp)
        snprintf(err, sizeof(err), "the ACK carries no answer to our offer");
    else if (!e)
        e = media_session_set_remote_answer(c->media, sdp, err, sizeof(err));
    c->reoffer_unsettled = false;
    if (e || !sdp) {
        logc_warn(c->log_ctx, "unusable answer in the ACK: %s: hanging up",
                  err[0] ? err : strerror(e));
        sip_call_hangup(c, 0, NULL);
        return;
    }
    sip_call_update_hold(c);
    if (c->state == SIP_CALL_ANSWERED) {
        if (sip_call_join(c)) {
            sip_call_hangup(c, 0, NULL);
            return;
        }
        sip_call_active(c);
    } else {
        c->hold_agreed = c->hold_local;
        sip_hold_kick(c);
    }
}

void sip_inbound_options(struct sip_gw *gw, nua_handle_t *nh, const sip_t *sip)
{
    char src[64], ctx[96];
    const struct sockaddr *sa = request_source(gw);
    sip_addr_text(sa, src, sizeof(src));
    snprintf(ctx, sizeof(ctx), "sip peer=%s", src);
    if (!sip_gw_trunk_for_source(gw, sa)) {
        if (sip_gw_may_log(gw, src))
            logc_warn(ctx, "OPTIONS from an address in no trunk's allowed_sources: 403");
        nua_respond(nh, 403, "Forbidden", NUTAG_WITH_THIS(gw->nua), TAG_END());
    } else {
        nua_respond(nh, 200, "OK", NUTAG_WITH_THIS(gw->nua), SIPTAG_ACCEPT_STR("application/sdp"),
                    TAG_END());
    }
    nua_handle_destroy(nh);
}
