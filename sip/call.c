/*
 * One SIP call, either direction: its nua dialog on one side, its media session and conference
 * membership on the other, and the timers that end it when the far end is gone.
 *
 * The call is the nua handle's magic; the gateway's list holds the one long-lived reference and
 * drops it in sip_call_finish(), the single terminal transition every path ends in (nua's
 * "terminated" state, a forced end at shutdown, a failed set-up). Hanging up our side leaves the
 * conference and closes the media at once: the BYE's transaction may take its time, the mix
 * should not hear a leg that is going away.
 *
 * Hold: the peer's re-INVITE says what it wants (sendonly or inactive: it holds us); the media
 * session answers with the matching direction (recvonly / inactive, never sendrecv) and the leg
 * is muted in the mix while held, so hold music never reaches the room.
 */
#include "sip/sip_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/registry.h"
#include "media/session.h"
#include "media/worker.h"

#define MEDIA_WATCH_MS 1000
/* After our BYE / CANCEL, how long the dialog may take to end before we drop it anyway (a
 * transaction to a vanished peer times out after 32 s). */
#define GUARD_MS 40000
/* How long a BYE waits for the final response to our re-INVITE (sent at once after that). */
#define BYE_WAIT_MS 4000
#define SDP_MAX_LEN (64 * 1024)

static const char *const state_names[] = {"incoming", "calling", "ringing", "answered",
                                          "active",   "ending",  "ended"};

const char *sip_call_state_name(enum sip_call_state s)
{
    return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

static void remove_source(guint *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

static void call_destroy(void *data)
{
    struct sip_call *c = data;
    remove_source(&c->ring_timer);
    remove_source(&c->media_timer);
    remove_source(&c->guard_timer);
    remove_source(&c->reinvite_timer);
    remove_source(&c->bye_timer);
    if (c->member)
        conf_registry_leave(c->gw->conferences, c->member);
    if (c->media) {
        media_session_close(c->media);
        mem_deref(c->media);
    }
    if (c->nh) {
        nua_handle_bind(c->nh, NULL);
        nua_handle_destroy(c->nh);
    }
    g_free(c->call_id);
    g_free(c->number);
    g_free(c->caller);
    g_free(c->peer);
    g_free(c->conference);
    g_free(c->notice_room);
    g_free(c->user_id);
}

int sip_call_alloc(struct sip_call **cp, struct sip_gw *gw, nua_handle_t *nh, bool inbound,
                   struct sip_trunk *trunk)
{
    struct sip_call *c = mem_zalloc(sizeof(*c), call_destroy);
    if (!c)
        return ENOMEM;
    c->kind = SIP_HANDLE_CALL;
    c->gw = gw;
    c->inbound = inbound;
    c->trunk = trunk;
    c->state = inbound ? SIP_CALL_INCOMING : SIP_CALL_CALLING;
    c->t_start_us = g_get_monotonic_time();
    c->nh = nh;
    if (nh)
        nua_handle_bind(nh, (nua_hmagic_t *)c);
    gw->calls = g_list_prepend(gw->calls, c); /* the list's reference */
    *cp = c;
    sip_call_set_log_ctx(c);
    return 0;
}

void sip_call_set_log_ctx(struct sip_call *c)
{
    snprintf(c->log_ctx, sizeof(c->log_ctx), "sip call=%.80s %s=%s peer=%s",
             c->call_id ? c->call_id : "-", c->inbound ? "number" : "to",
             c->number ? c->number : "-", c->peer ? c->peer : "-");
}

int sip_msg_sdp(const sip_t *sip, const char **sdp)
{
    *sdp = NULL;
    const sip_payload_t *pl = sip ? sip->sip_payload : NULL;
    if (!pl || !pl->pl_data || pl->pl_len == 0)
        return 0;
    const sip_content_type_t *ct = sip->sip_content_type;
    if (ct && ct->c_type && g_ascii_strcasecmp(ct->c_type, "application/sdp") != 0)
        return EBADMSG;
    if (pl->pl_len > SDP_MAX_LEN || memchr(pl->pl_data, '\0', pl->pl_len))
        return EBADMSG;
    /* Sofia keeps a NUL after the payload it parsed. */
    *sdp = pl->pl_data;
    return 0;
}

/* ---- media ---- */

static void on_media_connected(void *arg)
{
    struct sip_call *c = arg;
    struct media_session_info info;
    media_session_get_info(c->media, &info);
    logc_info(c->log_ctx, "media connected (%s, %s <-> %s)", info.codec, info.local_addr,
              info.remote_addr);
}

static void on_media_failed(enum media_failure why, const char *detail, void *arg)
{
    struct sip_call *c = arg;
    if (c->state == SIP_CALL_ENDING || c->state == SIP_CALL_ENDED)
        return;
    logc_warn(c->log_ctx, "media failed (%s): %s", media_failure_name(why), detail ? detail : "");
    sip_call_hangup(c, 0, NULL);
}

static const struct media_session_handlers media_handlers = {
    .connected = on_media_connected,
    .failed = on_media_failed,
};

int sip_call_media_alloc(struct sip_call *c, bool offerer)
{
    struct sip_gw *gw = c->gw;
    struct media_session_cfg mcfg = gw->media;
    mcfg.log_ctx = c->log_ctx;
    mcfg.worker = gw->workers ? media_workers_pick(gw->workers) : mcfg.worker;
    mcfg.profile = SDP_PROFILE_RTP_AVP;
    mcfg.srtp = c->trunk->srtp == SIP_SRTP_REQUIRED   ? SDP_SRTP_REQUIRED
                : c->trunk->srtp == SIP_SRTP_OPTIONAL ? SDP_SRTP_OPTIONAL
                                                      : SDP_SRTP_OFF;
    mcfg.codecs = c->trunk->sdp_codecs;
    mcfg.ncodecs = c->trunk->nsdp_codecs;
    mcfg.public_addr = gw->public_ip;
    int err = media_session_alloc(&c->media, &mcfg, offerer, &media_handlers, c);
    if (err)
        logc_error(c->log_ctx, "cannot set up media: %s", strerror(err));
    return err;
}

static bool label_of(struct sip_call *c, char *buf, size_t len)
{
    const char *who = c->inbound ? (c->caller ? c->caller : "phone") : c->number;
    snprintf(buf, len, "%s (phone)", who);
    return true;
}

int sip_call_join(struct sip_call *c)
{
    if (c->member)
        return 0;
    if (!c->gw->conferences || !c->conference)
        return EINVAL;
    struct audio_stream *as = c->media ? media_session_audio(c->media) : NULL;
    if (!as) {
        logc_error(c->log_ctx, "cannot join the conference: no audio stream");
        return EPROTO;
    }
    struct conf_port port;
    conf_port_from_audio_stream(&port, as);
    char label[128];
    label_of(c, label, sizeof(label));
    int err = conf_registry_join(c->gw->conferences, c->conference, &port, label, &c->member);
    if (err) {
        logc_error(c->log_ctx, "cannot join conference %s: %s", c->conference, strerror(err));
        return err;
    }
    conf_member_set_muted(c->member, c->held);
    logc_info(c->log_ctx, "joined conference %s (%u in it)", c->conference,
              conf_room_count(conf_member_room(c->member)));
    return 0;
}

static void leave(struct sip_call *c)
{
    if (c->member) {
        conf_registry_leave(c->gw->conferences, c->member);
        c->member = NULL;
        logc_info(c->log_ctx, "left conference %s", c->conference);
    }
    if (c->media)
        media_session_close(c->media);
}

void sip_call_update_hold(struct sip_call *c)
{
    bool send, recv;
    if (!c->media)
        return;
    media_session_direction(c->media, &send, &recv);
    /* The peer holds us when it no longer wants our audio (it offered sendonly or inactive);
     * whatever it still sends then is hold music, not speech for the conference. */
    bool held = !send;
    if (held == c->held)
        return;
    c->held = held;
    if (!held)
        sip_call_media_watch_reset(c);
    logc_info(c->log_ctx, "the phone %s the call%s", held ? "held" : "resumed",
              held ? (recv ? " (sendonly: we only listen)" : " (inactive)") : "");
    if (c->member)
        conf_member_set_muted(c->member, held);
}

/* ---- timers ---- */

void sip_call_media_watch_reset(struct sip_call *c)
{
    c->media_since_us = g_get_monotonic_time();
}

static gboolean media_watch_cb(gpointer data)
{
    struct sip_call *c = data;
    uint32_t limit = c->gw->cfg.rtp_timeout_ms;
    /* Held either way, or about to be: the phone may well send nothing. */
    if (!c->media || !limit || c->held || c->hold_agreed || c->hold_local)
        return G_SOURCE_CONTINUE;
    uint64_t last = media_session_last_rx_us(c->media);
    uint64_t now = (uint64_t)g_get_monotonic_time();
    uint64_t since = (uint64_t)MAX(c->t_answer_us, c->media_since_us);
    if (!last || last < since)
        last = since;
    if (now > last && now - last > (uint64_t)limit * 1000) {
        c->media_timer = 0;
        logc_warn(c->log_ctx, "no RTP from the phone for %u ms: hanging up",
                  (unsigned)((now - last) / 1000));
        c->end_status = 408;
        snprintf(c->end_phrase, sizeof(c->end_phrase), "RTP timeout");
        sip_call_hangup(c, 0, NULL);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

void sip_call_active(struct sip_call *c)
{
    if (c->state == SIP_CALL_ENDING || c->state == SIP_CALL_ENDED)
        return;
    c->state = SIP_CALL_ACTIVE;
    if (!c->t_answer_us)
        c->t_answer_us = g_get_monotonic_time();
    if (!c->media_timer && c->gw->cfg.rtp_timeout_ms)
        c->media_timer = g_timeout_add(MEDIA_WATCH_MS, media_watch_cb, c);
    sip_hold_kick(c); /* a hold the Matrix user asked for before the dialog was confirmed */
}

static gboolean guard_cb(gpointer data)
{
    struct sip_call *c = data;
    c->guard_timer = 0;
    logc_warn(c->log_ctx, "the dialog did not end %u s after we hung up: dropping it",
              GUARD_MS / 1000);
    sip_call_finish(c);
    return G_SOURCE_REMOVE;
}

/* ---- ending ---- */

static void send_bye(struct sip_call *c)
{
    logc_info(c->log_ctx, "hanging up (BYE)");
    if (c->end_status == 408 && c->end_phrase[0])
        nua_bye(c->nh, SIPTAG_REASON_STR("SIP;cause=408;text=\"RTP timeout\""), TAG_END());
    else
        nua_bye(c->nh, TAG_END());
}

void sip_call_deferred_bye(struct sip_call *c, bool send)
{
    if (!c->bye_deferred)
        return;
    c->bye_deferred = false;
    remove_source(&c->bye_timer);
    if (send && c->nh && c->state == SIP_CALL_ENDING)
        send_bye(c);
}

static gboolean bye_wait_cb(gpointer data)
{
    struct sip_call *c = data;
    c->bye_timer = 0;
    logc_warn(c->log_ctx, "no final response to our re-INVITE within %u ms: BYE regardless",
              BYE_WAIT_MS);
    sip_call_deferred_bye(c, true);
    return G_SOURCE_REMOVE;
}

void sip_call_hangup(struct sip_call *c, int status, const char *phrase)
{
    if (c->state == SIP_CALL_ENDING || c->state == SIP_CALL_ENDED)
        return;
    enum sip_call_state was = c->state;
    c->state = SIP_CALL_ENDING;
    remove_source(&c->ring_timer);
    remove_source(&c->media_timer);
    remove_source(&c->reinvite_timer);
    leave(c);
    if (!c->nh) {
        sip_call_finish(c);
        return;
    }
    switch (was) {
    case SIP_CALL_INCOMING:
        if (status < 300 || status > 699)
            status = 480, phrase = "Temporarily Unavailable";
        logc_info(c->log_ctx, "refusing: %d %s", status, phrase ? phrase : "");
        c->end_status = status;
        g_strlcpy(c->end_phrase, phrase ? phrase : "", sizeof(c->end_phrase));
        nua_respond(c->nh, status, phrase, TAG_END());
        break;
    case SIP_CALL_CALLING:
    case SIP_CALL_RINGING:
        logc_info(c->log_ctx, "cancelling");
        nua_cancel(c->nh, TAG_END());
        break;
    default:
        if (c->reinvite_out && !c->gw->stopping) {
            /* A BYE now would cross the answer to our re-INVITE, and the phone would get it
             * before our ACK of its 2xx: a race (RFC 5407) that phones handle badly. It goes
             * once the answer is in (sip_hold_response), or after a short wait (not when
             * shutting down, whose wait for the calls is shorter). */
            logc_info(c->log_ctx, "hanging up once the phone has answered our re-INVITE");
            c->bye_deferred = true;
            c->bye_timer = g_timeout_add(BYE_WAIT_MS, bye_wait_cb, c);
            break;
        }
        send_bye(c);
        break;
    }
    if (!c->guard_timer)
        c->guard_timer = g_timeout_add(GUARD_MS, guard_cb, c);
}

void sip_call_finish(struct sip_call *c)
{
    if (c->state == SIP_CALL_ENDED && !g_list_find(c->gw->calls, c))
        return;
    struct sip_gw *gw = c->gw;
    mem_ref(c);
    c->state = SIP_CALL_ENDED;
    remove_source(&c->ring_timer);
    remove_source(&c->media_timer);
    remove_source(&c->guard_timer);
    remove_source(&c->reinvite_timer);
    remove_source(&c->bye_timer);
    c->bye_deferred = false;
    leave(c);
    int64_t secs = c->t_answer_us ? (g_get_monotonic_time() - c->t_answer_us) / 1000000 : 0;
    logc_info(c->log_ctx, "call ended by %s%s%.0d%s%s (%lld s connected)",
              c->by_remote ? "the phone" : "us", c->end_status ? ": " : "", c->end_status,
              c->end_phrase[0] ? " " : "", c->end_phrase, (long long)secs);
    if (c->inbound && c->user_route && !c->user_gone_told && gw->host.user_call_gone) {
        c->user_gone_told = true;
        gw->host.user_call_gone(gw->host.arg, c);
    }
    if (!c->inbound)
        sip_outbound_ended(c);
    if (c->nh) {
        nua_handle_bind(c->nh, NULL);
        nua_handle_destroy(c->nh);
        c->nh = NULL;
    }
    GList *link = g_list_find(gw->calls, c);
    if (link) {
        gw->calls = g_list_delete_link(gw->calls, link);
        mem_deref(c); /* the list's reference */
    }
    mem_deref(c);
}

/* ---- events ---- */

static void on_bye(struct sip_call *c)
{
    c->by_remote = true;
    logc_info(c->log_ctx, "the phone hung up (BYE)");
    remove_source(&c->media_timer);
    leave(c);
}

static void on_cancel(struct sip_call *c)
{
    c->by_remote = true;
    c->end_status = 487;
    snprintf(c->end_phrase, sizeof(c->end_phrase), "Request Terminated");
    logc_info(c->log_ctx, "the caller gave up (CANCEL)");
    leave(c);
}

/* DTMF by SIP INFO (for phones that do not send RFC 4733 events): into the conference like the
 * events the media stream receives. INFO is ours to answer (NUTAG_APPL_METHOD): 200 for a digit
 * or an empty INFO (a keep-alive some phones send), 415 for other bodies, 400 for a malformed
 * one. */
static void on_info(struct sip_call *c, int status, const sip_t *sip)
{
    nua_t *nua = c->gw->nua;
    if (status >= 200)
        return; /* answered by the stack */
    const sip_payload_t *pl = sip ? sip->sip_payload : NULL;
    const sip_content_type_t *ct = sip ? sip->sip_content_type : NULL;
    if (!pl || !pl->pl_data || pl->pl_len == 0) {
        nua_respond(c->nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
        return;
    }
    char digit = 0;
    uint16_t ms = 0;
    const char *type = ct && ct->c_type ? ct->c_type : "";
    int err = sip_dtmf_info_parse(type, pl->pl_data, pl->pl_len, &digit, &ms);
    if (err == ENOTSUP || err == EINVAL) {
        logc_info(c->log_ctx, "INFO with a %.64s body: not DTMF, 415", type[0] ? type : "typeless");
        nua_respond(c->nh, SIP_415_UNSUPPORTED_MEDIA,
                    SIPTAG_ACCEPT_STR("application/dtmf-relay, application/dtmf"),
                    NUTAG_WITH_THIS(nua), TAG_END());
        return;
    }
    if (err) {
        logc_warn(c->log_ctx, "malformed DTMF in an INFO (%s, %u bytes): 400", type,
                  (unsigned)pl->pl_len);
        nua_respond(c->nh, SIP_400_BAD_REQUEST, NUTAG_WITH_THIS(nua), TAG_END());
        return;
    }
    nua_respond(c->nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
    if (!c->member) {
        logc_info(c->log_ctx, "DTMF '%c' by SIP INFO outside a conference: dropped", digit);
        return;
    }
    logc_debug(c->log_ctx, "DTMF '%c' (%u ms) by SIP INFO", digit, (unsigned)ms);
    /* Logged (and refused when queued too deep) by the conference. */
    (void)conf_member_dtmf(c->member, digit, ms);
}

void sip_call_event(struct sip_call *c, nua_event_t ev, int status, const char *phrase,
                    const sip_t *sip, tagi_t tags[])
{
    if (c->state == SIP_CALL_ENDED)
        return;
    switch (ev) {
    case nua_i_invite:
        if (status >= 200) {
            /* Refused by the stack: it crossed our re-INVITE (491) or overlapped another. */
            logc_info(c->log_ctx, "a re-INVITE from the phone crossed ours: %d %s", status,
                      phrase ? phrase : "");
            break;
        }
        sip_inbound_reinvite(c, sip);
        break;
    case nua_r_invite:
        if (c->reinvite_out)
            sip_hold_response(c, status, phrase, sip);
        else if (!c->inbound)
            sip_outbound_response(c, status, phrase, sip);
        break;
    case nua_i_ack:
        sip_inbound_ack(c, sip);
        break;
    case nua_i_cancel:
        on_cancel(c);
        break;
    case nua_i_bye:
        on_bye(c);
        break;
    case nua_i_info:
        on_info(c, status, sip);
        break;
    case nua_r_bye:
        if (status >= 200 && c->state != SIP_CALL_ENDING && c->state != SIP_CALL_ENDED) {
            /* A BYE we did not ask for: the phone refused our re-INVITE in a way that ends the
             * session (sip/hold.c), or the stack's session timer found no refresh. */
            if (c->reinvite_fatal) {
                logc_info(c->log_ctx, "the stack hung up after the refusal of our re-INVITE");
            } else {
                logc_warn(c->log_ctx, "the session expired without a refresh from the phone: "
                                      "the stack hung up");
                c->end_status = 408;
                snprintf(c->end_phrase, sizeof(c->end_phrase), "Session timeout");
            }
            c->state = SIP_CALL_ENDING;
            leave(c);
        }
        logc_debug(c->log_ctx, "%s: %d %s", nua_event_name(ev), status, phrase ? phrase : "");
        break;
    case nua_r_cancel:
        logc_debug(c->log_ctx, "%s: %d %s", nua_event_name(ev), status, phrase ? phrase : "");
        break;
    case nua_r_update:
        if (status >= 300)
            logc_warn(c->log_ctx, "session refresh failed: %d %s", status, phrase ? phrase : "");
        break;
    case nua_i_state: {
        int cs = -1;
        tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
        if (cs == nua_callstate_ready && c->state == SIP_CALL_ANSWERED && !c->await_ack_sdp)
            sip_call_active(c);
        if (cs == nua_callstate_terminated) {
            if (status >= 300 && !c->end_status) {
                c->end_status = status;
                g_strlcpy(c->end_phrase, phrase ? phrase : "", sizeof(c->end_phrase));
            }
            sip_call_finish(c);
        }
        break;
    }
    case nua_i_terminated:
        sip_call_finish(c);
        break;
    default:
        logc_debug(c->log_ctx, "%s %d %s", nua_event_name(ev), status, phrase ? phrase : "");
        break;
    }
}
