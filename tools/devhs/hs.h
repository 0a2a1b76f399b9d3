/*
 * devhs: an in-memory Matrix homeserver (Client-Server API only) used as a test fixture.
 *
 * This header is the model every file of the fixture shares. The whole homeserver is one
 * struct hs behind one mutex: request handlers run on libmicrohttpd's per-connection threads
 * and take hs->lock for the duration of the request (a long-polling /sync releases it while it
 * waits). One lock is slow by server standards and plenty for a test fixture that serves a few
 * hundred clients, and it keeps every handler free of ordering puzzles.
 *
 * Waiting is per user: each user has a condition variable (sharing hs->lock), and a change
 * wakes only the users who can see it — the members of a room for its events, typing and
 * receipts, the owner for account data, room mates for device and presence changes. A broadcast
 * to every parked /sync on every event would cost a thousand wake-ups per message once a load
 * test parks a thousand clients.
 *
 * One global stream position (hs->pos) orders everything a client can sync: room events,
 * account data, typing, receipts, presence and to-device messages each record the position at
 * which they last changed. A sync token is that position ("s42"), so "what happened since" is
 * always "what has a position above the token", and tokens stay valid across a restart because
 * the position is persisted with the rest of the state.
 */
#ifndef DEVHS_HS_H
#define DEVHS_HS_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

struct MHD_Connection;

#define HS_MAX_BODY      (1024u * 1024u) /* request bodies above this get 413 M_TOO_LARGE */
#define HS_MAX_EVENT     65536u          /* the spec's limit for one event's JSON */
#define HS_MAX_ID        255u            /* user ids, room ids, aliases, event types */
#define HS_MAX_ARGS      6u              /* wildcard segments in one route */
#define HS_DEFAULT_LIMIT 10              /* timeline limit when the filter sets none */
#define HS_MAX_DEPTH     64              /* JSON nesting accepted from clients */

/* ---- model ------------------------------------------------------------------------------ */

struct hs_event {
    uint64_t pos; /* stream ordering; unique and increasing across all rooms */
    struct hs_room *room;
    char *event_id;
    char *type;
    char *state_key; /* NULL for a message event */
    char *sender;
    int64_t ts;               /* origin_server_ts, ms */
    json_t *content;          /* never NULL */
    json_t *extra;            /* top-level fields beyond the usual (e.g. "redacts"), or NULL */
    json_t *prev;             /* unsigned.prev_content/prev_sender/replaces_state, or NULL */
    json_t *redacted_because; /* the redaction event (client format), or NULL */
    char *txn_id;             /* set when sent through PUT .../send/{type}/{txnId} */
    uint64_t session; /* id of the access token that sent it (0: none), for transaction_id */
};

/* All versions of one piece of state, oldest first; the last one is current. */
struct hs_state_slot {
    GPtrArray *history; /* struct hs_event * (borrowed from room->events) */
};

struct hs_receipt {
    char *user_id;
    char *type; /* m.read, m.read.private */
    char *thread_id;
    char *event_id;
    int64_t ts;
    uint64_t pos;
};

struct hs_room {
    char *room_id;
    char *version;
    bool published;
    GPtrArray *events;        /* struct hs_event * owned, in pos order */
    GHashTable *by_id;        /* event_id -> struct hs_event * */
    GHashTable *state;        /* "type\x1fstate_key" -> struct hs_state_slot * */
    GHashTable *typing;       /* user_id -> expiry (gint64 monotonic us, boxed) */
    uint64_t typing_pos;      /* last change of the typing set */
    GPtrArray *receipts;      /* struct hs_receipt * */
    uint64_t receipts_pos;    /* last receipt change */
    uint64_t last_member_pos; /* last m.room.member event */
};

struct hs_account_data {
    json_t *content;
    uint64_t pos;
};

struct hs_device {
    char *device_id;
    char *display_name;
    int64_t last_seen_ts;
    /* end-to-end encryption keys (keys.c), all NULL until uploaded */
    json_t *keys;     /* signed device keys */
    json_t *otks;     /* one-time keys: "alg:id" -> key */
    json_t *fallback; /* fallback keys: "alg:id" -> key */
    bool fallback_used;
};

struct hs_to_device {
    uint64_t pos;
    char *sender;
    char *type;
    json_t *content;
};

struct hs_user {
    char *user_id;
    char *password_hash; /* hex SHA-256 of salt+password, NULL: no password */
    char *salt;
    char *displayname;
    char *avatar_url;
    GHashTable *account_data;      /* type -> struct hs_account_data * */
    GHashTable *room_account_data; /* room_id -> (type -> struct hs_account_data *) */
    GPtrArray *filters;            /* json_t *, filter id = index */
    GHashTable *devices;           /* device_id -> struct hs_device * */
    GHashTable *to_device;         /* device_id -> GPtrArray of struct hs_to_device * */
    char *presence;                /* "online" | "offline" | "unavailable" */
    char *status_msg;
    int64_t last_active_ts;
    uint64_t presence_pos;
    GHashTable *forgotten; /* room_id -> position of the membership event forgotten (boxed) */
    json_t *cross_signing; /* {master_key, self_signing_key, user_signing_key}, or NULL */
    GCond wake;            /* with hs->lock: this user's parked /sync requests wait here */
    uint64_t keys_pos;     /* last change of this user's devices or keys */
    /* Rate limit for sends and state puts (0 per_second: none). */
    double rl_per_second, rl_burst, rl_tokens;
    gint64 rl_last_us;
};

/* One access token. A device can hold several; logging a device out drops all of them. */
struct hs_session {
    char *token;
    uint64_t id;
    char *user_id;
    char *device_id;
    GHashTable *txns; /* txn_id -> event_id (sends) or "" (to-device) */
};

enum hs_fault {
    HS_FAULT_NONE = 0,
    HS_FAULT_HTTP_500,
    HS_FAULT_CLOSE,       /* drop the connection before handling the request */
    HS_FAULT_CLOSE_AFTER, /* handle the request, then drop the connection unanswered */
};

struct hs_config {
    const char *server_name;
    const char *state_file; /* NULL: nothing persists */
    char **turn_uris;       /* NULL-terminated, may be NULL */
    const char *turn_secret;
    unsigned turn_ttl;
};

struct hs {
    GMutex lock;
    struct hs_config cfg;
    char *base_url; /* http://host:port, for .well-known */
    uint64_t pos;
    uint64_t presence_pos; /* last presence change of anybody */
    uint64_t keys_pos;     /* last device / key change of anybody */
    uint64_t next_session_id;
    uint64_t next_generated_user;
    int64_t last_ts;
    GHashTable *users;       /* user_id -> struct hs_user * */
    GHashTable *sessions;    /* token -> struct hs_session * */
    GHashTable *rooms;       /* room_id -> struct hs_room * */
    GHashTable *aliases;     /* #alias:server -> room_id (g_strdup) */
    GHashTable *memberships; /* user_id -> (room_id -> struct hs_room *): rooms not forgotten */
    GHashTable *uia;         /* registration session ids -> NULL */
    bool stopping;
    unsigned waiting_syncs;
    uint64_t requests;
    /* fault injection (see admin.c) */
    enum hs_fault fault;
    gint64 fault_until_us; /* monotonic; 0: until cleared */
    long fault_count;      /* requests left to hit; <0: unlimited */
    char *fault_match;     /* only paths containing this, or NULL */
};

/* The model's objects come from mem_zalloc() with their destructor attached; the *_free
 * functions drop a reference (they double as GLib destroy notifiers). A fixture has no use for
 * surviving memory exhaustion, so hs_zalloc() aborts on it like GLib does. */
void *hs_zalloc(size_t size, mem_destroy_h *dh);

struct hs *hs_new(const struct hs_config *cfg);
void hs_free(struct hs *hs);

/* ---- requests ---------------------------------------------------------------------------- */

struct hs_req {
    struct hs *hs;
    struct MHD_Connection *conn;
    const char *method;
    char *raw_path;    /* as received, still percent-encoded, without the query */
    char *raw_query;   /* NULL when absent */
    char **seg;        /* decoded path segments (g_strfreev) */
    unsigned nseg;     /* number of segments */
    GHashTable *query; /* decoded name -> first value */
    GString *body;
    bool body_too_large;
    bool started;
    json_t *json; /* parsed body when the route wants one */
    const char *args[HS_MAX_ARGS];
    unsigned nargs;
    struct hs_session *session; /* set for authenticated routes */
    struct hs_user *user;       /* the session's user */
    bool loopback;
    gint64 t_start;
    /* response */
    unsigned status;
    char *resp; /* malloc'd JSON text */
    size_t resp_len;
    long retry_after_ms; /* >= 0: add Retry-After */
    bool close_after;    /* fault injection: handle, then drop the connection */
};

typedef void(hs_handler_h)(struct hs_req *r);

/* Response helpers: the body is stolen. */
void hs_reply(struct hs_req *r, unsigned status, json_t *body);
void hs_reply_empty(struct hs_req *r);
void hs_error(struct hs_req *r, unsigned status, const char *errcode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 429 M_LIMIT_EXCEEDED with retry_after_ms in the body and Retry-After in the headers. */
void hs_error_limited(struct hs_req *r, long retry_after_ms);
const char *hs_query(const struct hs_req *r, const char *name);
/* Reads an integer query parameter into *v; false (and a 400 reply) when malformed. */
bool hs_query_int(struct hs_req *r, const char *name, long long dflt, long long min, long long max,
                  long long *v);
/* Request header (case-insensitive), or NULL. */
const char *hs_header(struct hs_req *r, const char *name);

/* ---- router.c ---------------------------------------------------------------------------- */

/* Routes the request and fills its response (never blocks except in /sync). */
void hs_dispatch(struct hs_req *r);

/* ---- util.c ------------------------------------------------------------------------------ */

int64_t hs_now_ms(struct hs *hs); /* origin_server_ts clock, never going backwards */
char *hs_random_string(size_t n, const char *alphabet);
char *hs_new_event_id(void);
char *hs_new_room_id(struct hs *hs);
char *hs_token_string(uint64_t pos); /* "s42" (g_free) */
/* Parses "s42"; false for anything else. */
bool hs_token_parse(const char *s, uint64_t *pos);
bool hs_valid_user_id(const char *s);
bool hs_valid_room_id(const char *s);
bool hs_valid_localpart(const char *s, const char **why);
/* Parses JSON from a client. Nesting deeper than HS_MAX_DEPTH is refused before jansson sees
 * it: its parser recurses, and connection threads have small stacks. */
json_t *hs_json_parse(const char *buf, size_t len, json_error_t *err);
/* Room versions 6 and later take canonical JSON only: no floats, integers within +-(2^53-1).
 * Returns why not, or NULL. */
const char *hs_json_canonical_invalid(json_t *j);
/* json helpers: NULL/absent is not an error; a value of another type is. */
bool hs_json_opt_string(json_t *obj, const char *key, const char **out);
bool hs_json_opt_bool(json_t *obj, const char *key, bool *out);
bool hs_json_opt_object(json_t *obj, const char *key, json_t **out);
bool hs_json_opt_array(json_t *obj, const char *key, json_t **out);
bool hs_strv_contains(json_t *array, const char *s);
char *hs_hash_password(const char *salt, const char *password);
uint64_t hs_next_pos(struct hs *hs); /* advances the stream; wake whoever can see the change */
void hs_wake_user(struct hs *hs, const char *user_id);
void hs_wake_room(struct hs *hs, const struct hs_room *room); /* everyone with a membership */
void hs_wake_mates(struct hs *hs, const char *user_id);       /* the user and their room mates */
void hs_wake_all(struct hs *hs);

/* ---- auth.c ------------------------------------------------------------------------------ */

struct hs_user *hs_user_get(struct hs *hs, const char *user_id);
struct hs_user *hs_user_create(struct hs *hs, const char *user_id, const char *password);
struct hs_session *hs_session_create(struct hs *hs, struct hs_user *u, const char *device_id,
                                     const char *display_name);
void hs_user_free(void *u);
struct hs_session *hs_session_new(const char *token, uint64_t id, const char *user_id,
                                  const char *device_id);
struct hs_device *hs_device_new(const char *device_id, const char *display_name);
void hs_device_free(void *d);
/* content: a reference is taken */
struct hs_to_device *hs_to_device_new(uint64_t pos, const char *sender, const char *type,
                                      json_t *content);
void hs_to_device_free(void *m);
/* content: stolen */
struct hs_account_data *hs_account_data_new(json_t *content, uint64_t pos);
void hs_account_data_free(void *ad);
void hs_session_free(void *s);
/* Authenticates r from its bearer token; false after replying 401. */
bool hs_auth(struct hs_req *r);

/* ---- rooms.c ----------------------------------------------------------------------------- */

struct hs_room *hs_room_new(struct hs *hs, const char *room_id, const char *version);
struct hs_receipt *hs_receipt_new(const char *user_id, const char *type, const char *thread_id);
void hs_receipt_free(void *rc);
void hs_room_free(void *room);
struct hs_room *hs_room_get(struct hs *hs, const char *room_id);
/* Looks up the room of r->args[i], replying 400/404 when absent. */
struct hs_room *hs_req_room(struct hs_req *r, unsigned i);

/* Appends a new event (content is stolen) and wakes sync waiters. */
struct hs_event *hs_room_append(struct hs *hs, struct hs_room *room, const char *type,
                                const char *state_key, const char *sender, json_t *content,
                                const struct hs_session *s, const char *txn_id);
/* Inserts a stored event as-is (persistence): no checks, no new position. */
struct hs_event *hs_room_insert(struct hs *hs, struct hs_room *room, struct hs_event *ev);
struct hs_event *hs_event_new(void);
void hs_event_free(void *ev);

struct hs_event *hs_state_get(const struct hs_room *room, const char *type, const char *key);
/* State as of stream position pos (inclusive). */
struct hs_event *hs_state_at(const struct hs_room *room, const char *type, const char *key,
                             uint64_t pos);
/* Every state event current at pos, in a new array (borrowed pointers). */
GPtrArray *hs_state_all_at(const struct hs_room *room, uint64_t pos);
/* "join", "invite", "leave", "ban", "knock", or NULL when the user never had one. */
const char *hs_membership_at(const struct hs_room *room, const char *user_id, uint64_t pos);
const char *hs_membership(const struct hs_room *room, const char *user_id);
/* The user's latest membership event, or NULL. */
struct hs_event *hs_member_event(const struct hs_room *room, const char *user_id);
bool hs_event_visible(const struct hs_room *room, const struct hs_event *ev, const char *user_id);
/* Joined / invited user ids, sorted, in a new array of borrowed strings. */
GPtrArray *hs_room_members(const struct hs_room *room, const char *membership, uint64_t pos);

int64_t hs_power_user(const struct hs_room *room, const char *user_id);
int64_t hs_power_event(const struct hs_room *room, const char *type, bool is_state);
int64_t hs_power_field(const struct hs_room *room, const char *field, int64_t dflt);
/* Validates m.room.power_levels content; returns an error text or NULL. */
const char *hs_power_levels_invalid(json_t *content);

/* Client format of an event for viewer (may be NULL): unsigned.age, transaction_id for the
 * viewer's own token, prev_content; room_id unless for sync. */
json_t *hs_event_json(const struct hs_event *ev, const struct hs_session *viewer,
                      bool with_room_id);
/* Stripped state ({type, state_key, content, sender}). */
json_t *hs_event_stripped(const struct hs_event *ev);

/* Membership index: rooms a user has a membership in and has not forgotten. */
void hs_index_add(struct hs *hs, const char *user_id, struct hs_room *room);
void hs_index_remove(struct hs *hs, const char *user_id, const char *room_id);
GHashTable *hs_index_rooms(struct hs *hs, const char *user_id); /* may be NULL */

/* ---- account.c --------------------------------------------------------------------------- */

/* Sets account data type to content (stolen) in data, at a new stream position. */
void hs_account_data_set(struct hs *hs, struct hs_user *u, GHashTable *data, const char *type,
                         json_t *content);
/* The user's account data table for room_id (created when asked). */
GHashTable *hs_room_account_data(struct hs_user *u, const char *room_id, bool create);

/* ---- keys.c ------------------------------------------------------------------------------ */

/* The device-list part of a sync: users sharing a room with user_id whose devices changed, or who
 * started / stopped sharing one, after since. */
void hs_keys_device_lists(struct hs *hs, const char *user_id, uint64_t since, json_t *changed,
                          json_t *left);
/* {algorithm: count} of the device's unclaimed one-time keys. */
json_t *hs_keys_otk_counts(const struct hs_device *d);
/* Algorithms of the device's unused fallback keys. */
json_t *hs_keys_unused_fallback(const struct hs_device *d);

/* ---- membership.c ------------------------------------------------------------------------ */

/* Changes target's membership in room as sender; replies with an error and returns false when
 * the rules forbid it. content (may be NULL) carries extra fields (reason, displayname...). */
bool hs_membership_change(struct hs_req *r, struct hs_room *room, const char *sender,
                          const char *target, const char *membership, json_t *content,
                          struct hs_event **evp);
json_t *hs_member_content(struct hs *hs, const char *user_id, const char *membership);
/* The position up to which r's user may read room state: now while joined, the moment they left
 * for a former member; false after replying 403 to someone who was never joined. */
bool hs_member_view(struct hs_req *r, struct hs_room *room, uint64_t *upto);

/* ---- events.c ---------------------------------------------------------------------------- */

/* PUT /state: checks one state event against the room's rules (membership changes go through
 * hs_membership_change) and appends it; identical state returns the current event. */
bool hs_state_put(struct hs_req *r, struct hs_room *room, const char *type, const char *key,
                  json_t *content, struct hs_event **evp);
/* The user's token bucket (see /_devhs/rate_limit); false after replying 429. */
bool hs_rate_limit(struct hs_req *r);

/* ---- filter.c ---------------------------------------------------------------------------- */

struct hs_event_filter {
    json_t *types, *not_types, *senders, *not_senders, *rooms, *not_rooms;
    long long limit; /* -1: none */
};

struct hs_filter {
    json_t *def; /* holds the references below */
    struct hs_event_filter presence, account_data;
    json_t *rooms, *not_rooms;
    bool include_leave;
    struct hs_event_filter timeline, state, ephemeral, room_account_data;
    bool lazy_load_members;
};

/* Validates def (a Filter object) into f (which takes a reference); EBADMSG with *why. */
int hs_filter_parse(json_t *def, struct hs_filter *f, const char **why);
int hs_event_filter_parse(json_t *def, struct hs_event_filter *f, const char **why);
void hs_filter_clear(struct hs_filter *f);
/* A /sync or /messages filter parameter: an uploaded filter id or inline JSON (NULL: none);
 * false after replying 400. */
bool hs_filter_from_param(struct hs_req *r, const char *param, struct hs_filter *f);
bool hs_filter_room_ok(const struct hs_filter *f, const char *room_id);
bool hs_event_filter_ok(const struct hs_event_filter *f, const char *type, const char *sender,
                        const char *room_id);

/* ---- persist.c --------------------------------------------------------------------------- */

int hs_state_load(struct hs *hs, const char *path);
int hs_state_save(struct hs *hs, const char *path);

/* ---- handlers (one group per file) ------------------------------------------------------- */

/* auth.c */
hs_handler_h hs_h_register, hs_h_register_available, hs_h_login_flows, hs_h_login, hs_h_logout,
    hs_h_logout_all, hs_h_whoami, hs_h_devices, hs_h_device_get;
/* createroom.c */
hs_handler_h hs_h_create_room, hs_h_alias_get, hs_h_alias_put, hs_h_alias_delete, hs_h_public_rooms;
/* membership.c */
hs_handler_h hs_h_invite, hs_h_join_room, hs_h_join_alias, hs_h_leave, hs_h_kick, hs_h_ban,
    hs_h_unban, hs_h_forget, hs_h_joined_rooms, hs_h_members, hs_h_joined_members;
/* events.c */
hs_handler_h hs_h_send, hs_h_state_put, hs_h_state_put_empty, hs_h_state_all, hs_h_state_get,
    hs_h_state_get_empty, hs_h_event_get, hs_h_redact;
/* timeline.c */
hs_handler_h hs_h_messages, hs_h_context;
/* ephemeral.c */
hs_handler_h hs_h_typing, hs_h_receipt, hs_h_read_markers, hs_h_send_to_device;
/* sync.c */
hs_handler_h hs_h_sync;
/* filter.c */
hs_handler_h hs_h_filter_post, hs_h_filter_get;
/* account.c */
hs_handler_h hs_h_account_data_put, hs_h_account_data_get, hs_h_room_account_data_put,
    hs_h_room_account_data_get, hs_h_profile, hs_h_profile_field, hs_h_profile_put,
    hs_h_presence_get, hs_h_presence_put, hs_h_user_directory;
/* info.c */
hs_handler_h hs_h_versions, hs_h_well_known, hs_h_capabilities, hs_h_pushrules, hs_h_turn_server,
    hs_h_media_config, hs_h_thirdparty_protocols;
/* keys.c */
hs_handler_h hs_h_keys_upload, hs_h_keys_query, hs_h_keys_claim, hs_h_keys_changes,
    hs_h_keys_device_signing, hs_h_keys_signatures, hs_h_room_keys_version;
/* admin.c */
hs_handler_h hs_h_admin_rate_limit, hs_h_admin_fault, hs_h_admin_status, hs_h_admin_save;
/* Decides whether a fault applies to this request (called before anything else). */
enum hs_fault hs_fault_check(struct hs *hs, const char *path);

/* sync.c: housekeeping (typing expiry), run about once a second. */
void hs_housekeeping(struct hs *hs);

#endif
