/*
 * One Matrix VoIP call (version 1, version 0 accepted) between us and one remote party, from
 * invite to hangup: the m.call.* exchange on one side, a media session on the other.
 *
 * The call owns its media session and its timers; its owner (the bot, or mxcall) feeds it the
 * events that carry its call_id and learns from the handlers when it connected and when it
 * ended. It never decides who may call or which conference a call joins: that is the owner's.
 *
 * Threads: main loop only.
 */
#ifndef SB_SIGNALLING_CALL_H
#define SB_SIGNALLING_CALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/session.h"
#include "signalling/call_event.h"

struct media_workers;

struct call;

enum call_direction {
    CALL_INBOUND,  /* they invited us */
    CALL_OUTBOUND, /* we invited them */
};

enum call_state {
    CALL_STATE_PREPARING,  /* gathering before our first SDP leaves */
    CALL_STATE_RINGING,    /* outbound: invite sent, no answer yet */
    CALL_STATE_CONNECTING, /* SDP exchanged, ICE / DTLS under way */
    CALL_STATE_CONNECTED,
    CALL_STATE_ENDED,
};

const char *call_state_name(enum call_state s);

/* What calls need from their owner, shared by every call of that owner. */
struct call_env {
    struct media_workers *workers;  /* each call's transport goes to the next worker */
    struct media_session_cfg media; /* template; worker and log_ctx are set per call */
    const char *party_id;           /* ours: the device id */
    uint32_t invite_lifetime_ms;    /* in our invites; ringing gives up after it */
    uint32_t media_timeout_ms;      /* no RTP/RTCP this long once connected: ice_timeout */
    uint32_t gather_wait_ms;        /* how long an SDP may wait for gathering to finish */
    /* Queues an event for the room (content borrowed). 0 or an errno. */
    int (*send)(void *arg, const char *room_id, const char *type, json_t *content);
    void *send_arg;
};

struct call_handlers {
    void (*connected)(struct call *c, void *arg);
    /* The peer put us on hold (it offered sendonly or inactive) or resumed. */
    void (*hold_changed)(struct call *c, bool held, void *arg);
    /* The call is over; by_remote tells who ended it. The owner drops its reference here. */
    void (*ended)(struct call *c, enum call_hangup_reason reason, bool by_remote, void *arg);
};

/* Answers an invite (already validated: decoded, addressed to us, not expired, allowed). On
 * failure (an SDP we cannot answer) the call sends the hangup itself and returns the error with
 * a message in err; no call is made. */
int call_answer(struct call **cp, const struct call_env *env, const char *room_id,
                const char *peer_user, const struct call_event *invite,
                const struct call_handlers *h, void *arg, char *err, size_t errlen);

/* Rings peer_user in room_id (invitee is always set). */
int call_ring(struct call **cp, const struct call_env *env, const char *room_id,
              const char *peer_user, const struct call_handlers *h, void *arg);

/* A later event of this call (same call_id) from sender. */
void call_handle_event(struct call *c, const char *sender, const struct call_event *ev);

/* Puts the peer on hold (an m.call.negotiate offer with a=sendonly: we stop listening, as a phone
 * playing hold music does) or resumes (a=sendrecv). 0 once the offer is queued; EINVAL unless
 * the call is connecting or connected, EALREADY while a renegotiation is unfinished. The
 * peer's answer completes it; when both sides offer at once the callee gives way. */
int call_hold(struct call *c, bool hold);
/* Whether our last renegotiation put the peer on hold. */
bool call_is_holding(const struct call *c);

/* Ends the call from our side: sends m.call.hangup with the reason (unless already ended) and
 * reports ended(by_remote = false). */
void call_hangup(struct call *c, enum call_hangup_reason reason);

const char *call_id(const struct call *c);
const char *call_room_id(const struct call *c);
const char *call_peer_user(const struct call *c);
const char *call_log_ctx(const struct call *c);
enum call_state call_get_state(const struct call *c);
enum call_direction call_get_direction(const struct call *c);
bool call_is_held(const struct call *c);
struct media_session *call_media(struct call *c);

/* Set-up timings in ms (-1 until known): invite seen -> our SDP sent; SDP exchange complete ->
 * ICE connected; ICE connected -> DTLS done. */
struct call_timings {
    int64_t to_sdp_ms, to_ice_ms, to_dtls_ms;
};
void call_get_timings(struct call *c, struct call_timings *t);

#endif
