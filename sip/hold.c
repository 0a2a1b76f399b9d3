/*
 * Our side holds the phone: the Matrix user of a bridged call (a user route) puts the call on
 * hold or resumes it (m.call.negotiate), and the phone is told the way one phone tells another,
 * with a re-INVITE offering a=sendonly (hold) or a=sendrecv again (resume). The bot has muted
 * the Matrix user in the mix already; the re-INVITE lets the phone show the hold, stop sending,
 * play its own music.
 *
 * Only the latest wish counts: a change made while a re-INVITE is out goes when that one is
 * answered, one made before the call is confirmed goes once it is. What can go wrong:
 *  - glare: a re-INVITE of the phone's crossed ours (491 either way; sofia answers theirs and
 *    refuses ours while theirs is open). We try again after the random wait of RFC 3261 14.1
 *    (2.1-4 s when the Call-ID is ours, up to 2 s when it is the phone's), a few times.
 *  - a refusal that concerns the request (488, 403, 486, 603, a 5xx with Retry-After, ...): the
 *    call goes on as it was, and says so in the log; the user's next change tries again.
 *  - a refusal that RFC 5057 lets end the session: a response that ends the dialog or the
 *    invite usage (481, 408, 404, ...) and, in this sofia-sip, a 5xx or 6xx without Retry-After
 *    (its graceful termination: nua sends the BYE itself). Nothing stops nua there, so the log
 *    says which refusal ended the call, and the call ends like any other.
 *  - a hang-up while our re-INVITE is out: the BYE waits for its final response (so it follows
 *    our ACK of a 2xx instead of crossing it), a few seconds at most (sip_call_hangup).
 *
 * The media session keeps an unanswered re-offer pending and has no call to drop it; an empty
 * answer settles it and leaves the session as the last completed negotiation made it (see
 * media_session_set_remote_answer), which is what settle() relies on.
 */
#include "sip/sip_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sofia-sip/sip_util.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/session.h"

#define GLARE_TRIES_MAX 5

void sip_hold_settle(struct sip_call *c)
{
    if (!c->reoffer_unsettled)
        return;
    c->reoffer_unsettled = false;
    char err[128];
    if (c->media)
        (void)media_session_set_remote_answer(c->media, "", err, sizeof(err));
}

static bool dialog_ready(const struct sip_call *c)
{
    return c->state == SIP_CALL_ACTIVE && c->media && c->nh && !c->await_ack_sdp;
}

static gboolean glare_retry(gpointer data)
{
    struct sip_call *c = data;
    c->reinvite_timer = 0;
    sip_hold_kick(c);
    return G_SOURCE_REMOVE;
}

void sip_hold_kick(struct sip_call *c)
{
    if (c->reinvite_out || c->reinvite_timer || !dialog_ready(c))
        return;
    bool want = c->hold_wanted;
    if (want == c->hold_agreed && want == c->hold_local)
        return;
    sip_hold_settle(c);
    char *sdp = NULL;
    int err = media_session_create_reoffer(c->media, true, !want, &sdp);
    if (err) {
        logc_warn(c->log_ctx, "cannot make the re-offer that %s the phone: %s",
                  want ? "holds" : "resumes", strerror(err));
        return;
    }
    c->hold_local = want;
    c->reoffer_unsettled = true;
    c->reinvite_out = true;
    logc_info(c->log_ctx, "%s the phone: re-INVITE with a=%s", want ? "holding" : "resuming",
              want ? "sendonly" : "sendrecv");
    nua_invite(c->nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
               TAG_END());
    mem_deref(sdp);
}

/* RFC 3261 14.1: the owner of the Call-ID waits 2.1 to 4 s, the other side up to 2 s, in
 * steps of 10 ms. */
static guint glare_wait_ms(const struct sip_call *c)
{
    bool ours = !c->inbound;
    return ours ? 2100 + 10 * (guint)g_random_int_range(0, 191)
                : 10 * (guint)g_random_int_range(0, 201);
}

/* Whether nua ends the session itself on this refusal of our re-INVITE (nua_client_response
 * reads RFC 5057 so): a response that ends the dialog or the invite usage (481, 408, ...) and,
 * in this sofia-sip, a 5xx or 6xx without Retry-After (it sends the BYE). */
static bool stack_ends_session(int status, const sip_t *sip)
{
    int graceful = !(sip && sip->sip_retry_after);
    int terminates = sip_response_terminates_dialog(status, sip_method_invite, &graceful);
    return terminates || graceful;
}

void sip_hold_response(struct sip_call *c, int status, const char *phrase, const sip_t *sip)
{
    if (status < 200)
        return;
    bool ending = c->state == SIP_CALL_ENDING || c->state == SIP_CALL_ENDED;
    if ((status == 401 || status == 407) && !ending &&
        sip_trunk_answer_challenge(c->trunk, c->nh, sip, &c->auth_tries, c->log_ctx))
        return; /* sent again with credentials: still out */
    c->reinvite_out = false;
    if (ending) {
        /* Hung up meanwhile: the BYE waited for this answer (nua has ACKed a 2xx by now),
         * unless nua ends the session on this refusal itself. */
        if (status >= 300 && stack_ends_session(status, sip)) {
            sip_call_deferred_bye(c, false);
            logc_info(c->log_ctx,
                      "our re-INVITE got %d %s after we hung up: the SIP stack ends "
                      "the call on that",
                      status, phrase ? phrase : "");
            return;
        }
        sip_call_deferred_bye(c, true);
        return;
    }
    bool asked = c->hold_local;
    const char *what = asked ? "hold" : "resume";
    if (status >= 300) {
        sip_hold_settle(c);
        if (status == 491 && c->glare_tries < GLARE_TRIES_MAX) {
            c->glare_tries++;
            guint ms = glare_wait_ms(c);
            logc_info(c->log_ctx,
                      "our re-INVITE (%s) crossed one of the phone's (491): again in "
                      "%u ms",
                      what, ms);
            c->reinvite_timer = g_timeout_add(ms, glare_retry, c);
            return;
        }
        c->glare_tries = 0;
        if (stack_ends_session(status, sip)) {
            c->reinvite_fatal = true;
            c->end_status = status;
            g_strlcpy(c->end_phrase, phrase ? phrase : "", sizeof(c->end_phrase));
            logc_warn(c->log_ctx,
                      "the phone refused our re-INVITE (%s): %d %s; the SIP stack ends the "
                      "call on that (RFC 5057)",
                      what, status, phrase ? phrase : "");
            return;
        }
        logc_warn(c->log_ctx,
                  "the phone refused our re-INVITE (%s): %d %s; the call goes on as "
                  "it was",
                  what, status, phrase ? phrase : "");
        return;
    }
    c->glare_tries = 0;
    const char *sdp = NULL;
    char err[256] = "";
    int e = sip_msg_sdp(sip, &sdp);
    if (!e && !sdp) {
        snprintf(err, sizeof(err), "no SDP in the 200");
        e = EPROTO;
    } else if (!e) {
        c->reoffer_unsettled = false;
        e = media_session_set_remote_answer(c->media, sdp, err, sizeof(err));
    }
    /* The phone took the change either way; a bad answer only leaves our media as it was. */
    c->hold_agreed = asked;
    if (e) {
        sip_hold_settle(c);
        logc_warn(c->log_ctx,
                  "unusable answer to our re-INVITE (%s): %s; the media stay as they "
                  "were",
                  what, err[0] ? err : strerror(e));
    } else {
        bool send, recv;
        media_session_direction(c->media, &send, &recv);
        logc_info(c->log_ctx, "the phone accepted the %s (we %s)", what,
                  send && recv ? "send and receive"
                  : send       ? "only send"
                  : recv       ? "only receive"
                               : "neither send nor receive");
        /* Resumed: the phone may still hold us on its side, which its answer says. */
        if (!asked)
            sip_call_update_hold(c);
        sip_call_media_watch_reset(c);
    }
    sip_hold_kick(c); /* the user may have changed their mind meanwhile */
}

void sip_hold_remote_offer_answered(struct sip_call *c)
{
    /* The session dropped a re-offer of ours that was still pending; our answer asked for the
     * direction of our last re-offer, so that is what the phone knows now. */
    c->reoffer_unsettled = false;
    c->hold_agreed = c->hold_local;
}

void sip_call_user_hold(struct sip_call *sc, bool hold)
{
    if (!sc || sc->kind != SIP_HANDLE_CALL || sc->state == SIP_CALL_ENDING ||
        sc->state == SIP_CALL_ENDED || sc->hold_wanted == hold)
        return;
    sc->hold_wanted = hold;
    sc->glare_tries = 0;
    logc_info(sc->log_ctx, "%s %s the call", sc->user_id ? sc->user_id : "the Matrix user",
              hold ? "held" : "resumed");
    sip_hold_kick(sc);
}
