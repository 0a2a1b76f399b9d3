/*
 * A Matrix Client-Server API client on the main loop: the /sync long-poll, the room model it
 * feeds (membership, names, encryption), and sending with the guarantees a call bridge needs.
 *
 * - Sync resumes from the next_batch token saved in state_dir after each batch was handled, so
 *   a restart neither replays nor loses events. When more events landed in a followed room than
 *   a batch's timeline carries (limited), the ones before it are fetched with /messages and
 *   handed out, in order, before the batch's own (up to a bound, logged when reached).
 * - Events sent to one room leave in the order they were queued (an answer before its
 *   candidates), one at a time, each PUT with its own transaction id; failures from the network,
 *   5xx and 429 are retried with the same transaction id (idempotent on the server), 429 after
 *   its retry_after_ms, others with exponential backoff. A 4xx other than 429 fails the send.
 * - Network errors on /sync back off exponentially (1 s .. 60 s, with jitter) and recover by
 *   themselves when the homeserver returns.
 * The access token is sent in the Authorization header and never logged.
 */
#ifndef SB_SIGNALLING_MX_CLIENT_H
#define SB_SIGNALLING_MX_CLIENT_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct mx_client;
struct http_client;

enum mx_membership {
    MX_MEMBERSHIP_NONE = 0,
    MX_MEMBERSHIP_INVITE,
    MX_MEMBERSHIP_JOIN,
    MX_MEMBERSHIP_LEAVE,
    MX_MEMBERSHIP_BAN,
    MX_MEMBERSHIP_KNOCK,
};

struct mx_client_cfg {
    const char *homeserver; /* base URL, e.g. "http://127.0.0.1:8008" */
    const char *user_id;
    const char *access_token; /* copied; never logged */
    const char *state_dir;    /* where next_batch is kept; NULL: nothing persists */
    uint32_t sync_timeout_ms; /* long-poll timeout, 0: 30000 */
    /* Retry tuning (0: the default). Sends and retried requests back off from send_backoff_ms
     * (500) doubling to 30 s and give up after send_give_up_ms (300000) with ETIMEDOUT; /sync
     * backs off from sync_backoff_ms (1000) doubling to 60 s, and waits 60 s after the
     * homeserver rejected the access token. */
    uint32_t send_backoff_ms;
    uint32_t send_give_up_ms;
    uint32_t sync_backoff_ms;
};

struct mx_sync_info {
    bool initial; /* the first sync of a fresh start (no saved token): history, not news */
};

struct mx_client_handlers {
    /* A timeline event of a joined room, in order (state events included). The room model
     * already reflects the state up to and including this event. */
    void (*room_event)(struct mx_client *c, const char *room_id, json_t *event,
                       const struct mx_sync_info *si, void *arg);
    /* We were invited to room_id by inviter. */
    void (*invited)(struct mx_client *c, const char *room_id, const char *inviter,
                    const struct mx_sync_info *si, void *arg);
    /* One /sync batch was handled completely (its token is saved after this returns). */
    void (*synced)(struct mx_client *c, const struct mx_sync_info *si, void *arg);
    /* We left room_id (or were kicked or banned, or our invite was withdrawn); it is no
     * longer in the room model. May be NULL. */
    void (*left)(struct mx_client *c, const char *room_id, const struct mx_sync_info *si,
                 void *arg);
};

/* Runs on the thread-default main context of the caller, which must be the one http runs on.
 * Handlers may be NULL. The client keeps a reference to http. Dropping the last reference to
 * the client (allowed from inside any of its handlers) cancels its sync and every queued send
 * or request; their handlers do not run. */
int mx_client_alloc(struct mx_client **cp, struct http_client *http,
                    const struct mx_client_cfg *cfg, const struct mx_client_handlers *h, void *arg);

/* Starts the sync loop (uploads the filter first). */
int mx_client_start(struct mx_client *c);
/* Stops syncing; queued sends continue until flushed or the client is freed. */
void mx_client_stop(struct mx_client *c);
/* Sends still queued or in flight, across rooms (for a clean shutdown). */
unsigned mx_client_pending_sends(const struct mx_client *c);
const char *mx_client_user_id(const struct mx_client *c);

/* Room model, from sync state. NULL / 0 for a room we know nothing about. */
enum mx_membership mx_room_membership(struct mx_client *c, const char *room_id,
                                      const char *user_id);
unsigned mx_room_joined_count(struct mx_client *c, const char *room_id);
/* Joined members other than ourselves, into out (up to cap, sorted); returns how many there
 * are. The strings, like mx_room_name()'s, stay valid until the room's state next changes. */
unsigned mx_room_joined_others(struct mx_client *c, const char *room_id, const char **out,
                               unsigned cap);
const char *mx_room_name(struct mx_client *c, const char *room_id); /* m.room.name or NULL */
/* Joined rooms whose only other joined member is user_id, into out (up to cap; the ids are
 * valid until the next sync batch); returns how many there are. */
unsigned mx_direct_rooms(struct mx_client *c, const char *user_id, const char **out, unsigned cap);
bool mx_room_is_encrypted(struct mx_client *c, const char *room_id);

/* Completion of a send or request: on success err is 0 and body the decoded JSON response;
 * on failure err is an errno (EPROTO for a Matrix error, whose errcode is set and whose body
 * is the error object; ETIMEDOUT when retries were exhausted; EBADMSG for a 2xx that is not
 * JSON; below HTTP, the http_response err). body is borrowed: json_incref() to keep it. */
typedef void(mx_done_h)(int err, const char *errcode, json_t *body, void *arg);

/* Queues an event for room_id (content is borrowed: it is serialised at once). Events of one
 * call (m.call.* with the same call_id) are sent in the order queued, and so are a room's other
 * events; different calls do not wait for each other. */
int mx_send_event(struct mx_client *c, const char *room_id, const char *type, json_t *content,
                  mx_done_h *h, void *arg);

/* Any other Client-Server request. path is below /_matrix/client/v3 and already escaped
 * ("/createRoom", "/rooms/!x%3Ahs/join"); body may be NULL. With retry set, network errors,
 * 5xx and 429 are retried with backoff (use for idempotent requests only). */
int mx_request(struct mx_client *c, const char *method, const char *path, json_t *body, bool retry,
               mx_done_h *h, void *arg);

/* Logs in with a password (m.login.password) without a client: the handler's body holds
 * access_token and device_id. For tools (mxcall); the password is never logged. Rate limiting
 * (429) is waited out, for up to a minute; any other failure is final. */
int mx_login_password(struct http_client *http, const char *homeserver, const char *user,
                      const char *password, mx_done_h *h, void *arg);

#endif
