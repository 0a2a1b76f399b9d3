/*
 * The content of m.call.* events (Matrix Client-Server API, "Voice over IP", versions 0 and 1):
 * decoding with validation into a typed view, and encoding what we send.
 *
 * Everything here comes off the network from whoever is in a room, so the decoder checks types
 * and bounds of every field it exposes and says exactly what was wrong. The decoded view borrows
 * strings from the JSON it was decoded from: keep the json_t alive while using it.
 */
#ifndef SB_SIGNALLING_CALL_EVENT_H
#define SB_SIGNALLING_CALL_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CALL_ID_MAX         256
#define CALL_SDP_MAX        (64 * 1024)
#define CALL_CANDIDATES_MAX 64
#define CALL_CANDIDATE_MAX  1024

enum call_event_type {
    CALL_EV_INVITE,
    CALL_EV_CANDIDATES,
    CALL_EV_ANSWER,
    CALL_EV_SELECT_ANSWER,
    CALL_EV_NEGOTIATE,
    CALL_EV_REJECT,
    CALL_EV_HANGUP,
    CALL_EV_SDP_STREAM_METADATA_CHANGED,
};

enum call_hangup_reason {
    CALL_REASON_NONE = 0, /* no reason given (version 0 hangups) */
    CALL_REASON_USER_HANGUP,
    CALL_REASON_ICE_FAILED,
    CALL_REASON_ICE_TIMEOUT,
    CALL_REASON_INVITE_TIMEOUT,
    CALL_REASON_USER_MEDIA_FAILED,
    CALL_REASON_USER_BUSY,
    CALL_REASON_UNKNOWN_ERROR,
    CALL_REASON_REPLACED, /* glare resolution (matrix-js-sdk) */
    CALL_REASON_OTHER,    /* any other string: kept in reason_text */
    CALL_REASON_REJECTED, /* not a hangup reason: the peer sent m.call.reject (never sent) */
};

struct call_candidate {
    const char *candidate; /* "candidate:..." or "" (end of candidates) */
    const char *sdp_mid;   /* may be NULL */
    int sdp_mline_index;   /* -1 when absent */
};

struct call_event {
    enum call_event_type type;
    const char *call_id;
    const char *party_id; /* NULL for version 0 */
    int version;          /* 0 (the number 0), else 1: the spec reads every other value as 1 */
    union {
        struct {
            const char *sdp;
            uint32_t lifetime_ms;
            const char *invitee; /* NULL: any member but the sender */
        } invite;
        struct {
            const char *sdp;
        } answer;
        struct {
            const char *sdp_type; /* "offer" or "answer" */
            const char *sdp;
            uint32_t lifetime_ms;
        } negotiate;
        struct {
            struct call_candidate list[CALL_CANDIDATES_MAX];
            size_t count;
        } candidates;
        struct {
            const char *selected_party_id;
        } select_answer;
        struct {
            enum call_hangup_reason reason;
            const char *reason_text;
        } hangup;
    } u;
};

/* event type string -> enum; ENOENT for a type that is not an m.call.* event we know. */
int call_event_type_parse(const char *type, enum call_event_type *out);
const char *call_event_type_name(enum call_event_type t);

/*
 * Decodes the content of an event of the given type. Returns 0, or EBADMSG with a message in
 * err for malformed content (missing or mistyped fields, over-long values, a bad SDP type).
 */
int call_event_decode(struct call_event *ev, enum call_event_type type, json_t *content, char *err,
                      size_t errlen);

const char *call_reason_name(enum call_hangup_reason r);

/* Builders for the content we send: version "1", call_id and party_id set. New references. */
json_t *call_event_invite(const char *call_id, const char *party_id, const char *sdp,
                          uint32_t lifetime_ms, const char *invitee, const char *stream_id);
json_t *call_event_answer(const char *call_id, const char *party_id, const char *sdp,
                          const char *stream_id);
json_t *call_event_negotiate(const char *call_id, const char *party_id, const char *sdp_type,
                             const char *sdp, uint32_t lifetime_ms, const char *stream_id);
/* candidates: "candidate:..." strings, each for m-line 0 / mid; end adds the "" marker. */
json_t *call_event_candidates(const char *call_id, const char *party_id,
                              const char *const *candidates, size_t n, const char *mid, bool end);
json_t *call_event_select_answer(const char *call_id, const char *party_id,
                                 const char *selected_party_id);
json_t *call_event_hangup(const char *call_id, const char *party_id,
                          enum call_hangup_reason reason);
json_t *call_event_reject(const char *call_id, const char *party_id);

#endif
