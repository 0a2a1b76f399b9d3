/*
 * m.call.* content: one decoder that validates every field it hands out, and builders for what
 * we send. Field names and semantics follow the Client-Server API's VoIP module; version 0
 * events (integer 0, no party_id) are accepted as the spec requires.
 */
#include "signalling/call_event.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SDP_STREAM_METADATA "org.matrix.msc3077.sdp_stream_metadata"

static const char *const type_names[] = {
    [CALL_EV_INVITE] = "m.call.invite",
    [CALL_EV_CANDIDATES] = "m.call.candidates",
    [CALL_EV_ANSWER] = "m.call.answer",
    [CALL_EV_SELECT_ANSWER] = "m.call.select_answer",
    [CALL_EV_NEGOTIATE] = "m.call.negotiate",
    [CALL_EV_REJECT] = "m.call.reject",
    [CALL_EV_HANGUP] = "m.call.hangup",
    [CALL_EV_SDP_STREAM_METADATA_CHANGED] = "m.call.sdp_stream_metadata_changed",
};

static const char *const reason_names[] = {
    [CALL_REASON_NONE] = "",
    [CALL_REASON_USER_HANGUP] = "user_hangup",
    [CALL_REASON_ICE_FAILED] = "ice_failed",
    [CALL_REASON_ICE_TIMEOUT] = "ice_timeout",
    [CALL_REASON_INVITE_TIMEOUT] = "invite_timeout",
    [CALL_REASON_USER_MEDIA_FAILED] = "user_media_failed",
    [CALL_REASON_USER_BUSY] = "user_busy",
    [CALL_REASON_UNKNOWN_ERROR] = "unknown_error",
    [CALL_REASON_REPLACED] = "replaced",
    [CALL_REASON_OTHER] = "other",
    [CALL_REASON_REJECTED] = "rejected",
};

int call_event_type_parse(const char *type, enum call_event_type *out)
{
    for (size_t i = 0; type && i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (strcmp(type, type_names[i]) == 0) {
            *out = (enum call_event_type)i;
            return 0;
        }
    }
    return ENOENT;
}

const char *call_event_type_name(enum call_event_type t)
{
    return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

const char *call_reason_name(enum call_hangup_reason r)
{
    return (unsigned)r < sizeof(reason_names) / sizeof(reason_names[0]) ? reason_names[r] : "?";
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return EBADMSG;
}

/* A required or optional string field with a length bound (NUL bytes refused). */
static int get_string(json_t *obj, const char *key, bool required, size_t max, const char **out,
                      char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return fail(err, errlen, "missing '%s'", key);
        return 0;
    }
    if (!json_is_string(v))
        return fail(err, errlen, "'%s' is not a string", key);
    size_t len = json_string_length(v);
    if (len > max)
        return fail(err, errlen, "'%s' is too long (%zu bytes, at most %zu)", key, len, max);
    const char *s = json_string_value(v);
    if (strlen(s) != len)
        return fail(err, errlen, "'%s' contains a NUL byte", key);
    *out = s;
    return 0;
}

static int get_lifetime(json_t *obj, const char *key, uint32_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return fail(err, errlen, "missing '%s'", key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(err, errlen, "'%s' is not a non-negative integer", key);
    json_int_t n = json_integer_value(v);
    *out = n > (json_int_t)UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    return 0;
}

/* A session description object {type, sdp}; want_type NULL accepts "offer" and "answer". */
static int get_description(json_t *obj, const char *key, const char *want_type, const char **type,
                           const char **sdp, char *err, size_t errlen)
{
    json_t *d = json_object_get(obj, key);
    if (!d)
        return fail(err, errlen, "missing '%s'", key);
    if (!json_is_object(d))
        return fail(err, errlen, "'%s' is not an object", key);
    int e = get_string(d, "type", true, 16, type, err, errlen);
    if (!e)
        e = get_string(d, "sdp", true, CALL_SDP_MAX, sdp, err, errlen);
    if (e)
        return e;
    if (want_type ? strcmp(*type, want_type) != 0
                  : (strcmp(*type, "offer") != 0 && strcmp(*type, "answer") != 0))
        return fail(err, errlen, "'%s.type' is '%.16s', expected %s", key, *type,
                    want_type ? want_type : "offer or answer");
    return 0;
}

/* The spec: the number 0 is version 0; "1" and any other value (a numeric 1, "2", a namespaced
 * string) is read as version 1, so that later versions stay understood. */
static int get_version(json_t *content)
{
    json_t *v = json_object_get(content, "version");
    return json_is_integer(v) && json_integer_value(v) == 0 ? 0 : 1;
}

static int decode_candidates(struct call_event *ev, json_t *content, char *err, size_t errlen)
{
    json_t *arr = json_object_get(content, "candidates");
    if (!json_is_array(arr))
        return fail(err, errlen, "'candidates' is missing or not an array");
    if (json_array_size(arr) > CALL_CANDIDATES_MAX)
        return fail(err, errlen, "too many candidates (%zu, at most %d)", json_array_size(arr),
                    CALL_CANDIDATES_MAX);
    ev->u.candidates.count = 0;
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        struct call_candidate *cc = &ev->u.candidates.list[ev->u.candidates.count];
        if (!json_is_object(c))
            return fail(err, errlen, "candidate %zu is not an object", i);
        int e = get_string(c, "candidate", true, CALL_CANDIDATE_MAX, &cc->candidate, err, errlen);
        if (!e)
            e = get_string(c, "sdpMid", false, 64, &cc->sdp_mid, err, errlen);
        if (e)
            return e;
        json_t *idx = json_object_get(c, "sdpMLineIndex");
        cc->sdp_mline_index = -1;
        if (idx && !json_is_null(idx)) {
            if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
                json_integer_value(idx) > 1024)
                return fail(err, errlen, "candidate %zu: bad sdpMLineIndex", i);
            cc->sdp_mline_index = (int)json_integer_value(idx);
        }
        ev->u.candidates.count++;
    }
    return 0;
}

static enum call_hangup_reason reason_parse(const char *s)
{
    if (!s)
        return CALL_REASON_NONE;
    for (size_t i = 1; i < CALL_REASON_OTHER; i++) {
        if (strcmp(s, reason_names[i]) == 0)
            return (enum call_hangup_reason)i;
    }
    return CALL_REASON_OTHER;
}

int call_event_decode(struct call_event *ev, enum call_event_type type, json_t *content, char *err,
                      size_t errlen)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(content))
        return fail(err, errlen, "content is not an object");

    int e = get_string(content, "call_id", true, CALL_ID_MAX, &ev->call_id, err, errlen);
    if (e)
        return e;
    if (!ev->call_id[0])
        return fail(err, errlen, "'call_id' is empty");

    ev->version = get_version(content);

    e = get_string(content, "party_id", ev->version >= 1, CALL_ID_MAX, &ev->party_id, err, errlen);
    if (e)
        return e;

    const char *dtype;
    switch (type) {
    case CALL_EV_INVITE:
        e = get_description(content, "offer", "offer", &dtype, &ev->u.invite.sdp, err, errlen);
        if (!e)
            e = get_lifetime(content, "lifetime", &ev->u.invite.lifetime_ms, err, errlen);
        if (!e)
            e = get_string(content, "invitee", false, 255, &ev->u.invite.invitee, err, errlen);
        return e;
    case CALL_EV_ANSWER:
        return get_description(content, "answer", "answer", &dtype, &ev->u.answer.sdp, err, errlen);
    case CALL_EV_NEGOTIATE:
        e = get_description(content, "description", NULL, &ev->u.negotiate.sdp_type,
                            &ev->u.negotiate.sdp, err, errlen);
        if (!e && json_object_get(content, "lifetime"))
            e = get_lifetime(content, "lifetime", &ev->u.negotiate.lifetime_ms, err, errlen);
        return e;
    case CALL_EV_CANDIDATES:
        return decode_candidates(ev, content, err, errlen);
    case CALL_EV_SELECT_ANSWER:
        return get_string(content, "selected_party_id", true, CALL_ID_MAX,
                          &ev->u.select_answer.selected_party_id, err, errlen);
    case CALL_EV_HANGUP:
        e = get_string(content, "reason", false, 64, &ev->u.hangup.reason_text, err, errlen);
        ev->u.hangup.reason = reason_parse(ev->u.hangup.reason_text);
        return e;
    case CALL_EV_REJECT:
    case CALL_EV_SDP_STREAM_METADATA_CHANGED:
        return 0;
    }
    return fail(err, errlen, "unknown event type");
}

/* ---- builders ---- */

static json_t *base_content(const char *call_id, const char *party_id)
{
    return json_pack("{s:s, s:s, s:s}", "call_id", call_id, "party_id", party_id, "version", "1");
}

static void add_stream_metadata(json_t *content, const char *stream_id)
{
    if (!stream_id)
        return;
    json_object_set_new(content, SDP_STREAM_METADATA,
                        json_pack("{s:{s:s, s:b, s:b}}", stream_id, "purpose", "m.usermedia",
                                  "audio_muted", 0, "video_muted", 1));
}

json_t *call_event_invite(const char *call_id, const char *party_id, const char *sdp,
                          uint32_t lifetime_ms, const char *invitee, const char *stream_id)
{
    json_t *c = base_content(call_id, party_id);
    json_object_set_new(c, "offer", json_pack("{s:s, s:s}", "type", "offer", "sdp", sdp));
    json_object_set_new(c, "lifetime", json_integer(lifetime_ms));
    if (invitee)
        json_object_set_new(c, "invitee", json_string(invitee));
    json_object_set_new(c, "capabilities",
                        json_pack("{s:b, s:b}", "m.call.transferee", 0, "m.call.dtmf", 0));
    add_stream_metadata(c, stream_id);
    return c;
}

json_t *call_event_answer(const char *call_id, const char *party_id, const char *sdp,
                          const char *stream_id)
{
    json_t *c = base_content(call_id, party_id);
    json_object_set_new(c, "answer", json_pack("{s:s, s:s}", "type", "answer", "sdp", sdp));
    json_object_set_new(c, "capabilities",
                        json_pack("{s:b, s:b}", "m.call.transferee", 0, "m.call.dtmf", 0));
    add_stream_metadata(c, stream_id);
    return c;
}

json_t *call_event_negotiate(const char *call_id, const char *party_id, const char *sdp_type,
                             const char *sdp, uint32_t lifetime_ms, const char *stream_id)
{
    json_t *c = base_content(call_id, party_id);
    json_object_set_new(c, "description", json_pack("{s:s, s:s}", "type", sdp_type, "sdp", sdp));
    json_object_set_new(c, "lifetime", json_integer(lifetime_ms));
    add_stream_metadata(c, stream_id);
    return c;
}

json_t *call_event_candidates(const char *call_id, const char *party_id,
                              const char *const *candidates, size_t n, const char *mid, bool end)
{
    json_t *c = base_content(call_id, party_id);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:i}", "candidate", candidates[i],
                                             "sdpMid", mid, "sdpMLineIndex", 0));
    if (end)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:i}", "candidate", "", "sdpMid", mid, "sdpMLineIndex", 0));
    json_object_set_new(c, "candidates", arr);
    return c;
}

json_t *call_event_select_answer(const char *call_id, const char *party_id,
                                 const char *selected_party_id)
{
    json_t *c = base_content(call_id, party_id);
    json_object_set_new(c, "selected_party_id", json_string(selected_party_id));
    return c;
}

json_t *call_event_hangup(const char *call_id, const char *party_id, enum call_hangup_reason reason)
{
    json_t *c = base_content(call_id, party_id);
    if (reason != CALL_REASON_NONE && reason != CALL_REASON_OTHER && reason != CALL_REASON_REJECTED)
        json_object_set_new(c, "reason", json_string(call_reason_name(reason)));
    return c;
}

json_t *call_event_reject(const char *call_id, const char *party_id)
{
    return base_content(call_id, party_id);
}
