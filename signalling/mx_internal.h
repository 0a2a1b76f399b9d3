/*
 * What the files of the Matrix client share and nobody else sees: the client struct, the
 * retrying request (mx_op.c), the room model (mx_rooms.c), the send queues (mx_send.c) and
 * the sync loop (mx_sync.c). Everything here runs on the client's main context.
 */
#ifndef SB_SIGNALLING_MX_INTERNAL_H
#define SB_SIGNALLING_MX_INTERNAL_H

#include "base/http.h"
#include "signalling/mx_client.h"

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    MX_ID_MAX = 255,     /* Matrix ids (user, room, event) are at most 255 bytes */
    MX_ERRCODE_MAX = 64, /* longest errcode we keep */
    MX_TOKEN_MAX = 4096, /* longest next_batch we accept */
    MX_SYNC_MARGIN_MS = 30000,
    MX_RETRY_FLOOR_MS = 100, /* a server asking for 0 ms again and again must not spin us */
};

/* Timeline events per room and /sync batch. A bot sees bursts (every caller's invite and
 * candidates at once): a hundred covers the common case in one request; a longer gap is
 * fetched with /messages (mx_gap.c). */
#define MX_TIMELINE_LIMIT 100
/* The room event filter of /sync's timeline, which /messages gets too so that a gap is filled
 * with the events the timeline would have carried. */
#define MX_TIMELINE_FILTER_JSON "{\"limit\":" G_STRINGIFY(MX_TIMELINE_LIMIT) "}"

/* Handlers run from the sync loop or a completion may drop the last reference to the client.
 * Each such call site keeps a guard on its stack; the destructor clears every guard, so the
 * caller knows to touch nothing of the client afterwards. Guards nest like the calls. */
struct mx_guard {
    bool alive;
    struct mx_guard *prev;
};

struct mx_retry_policy {
    uint32_t min_ms;     /* first backoff */
    uint32_t max_ms;     /* backoff cap */
    uint32_t give_up_ms; /* total time after which a retried request fails with ETIMEDOUT */
};

enum mx_sync_state {
    MX_SYNC_OK = 0,
    MX_SYNC_UNREACHABLE,    /* network errors, 5xx, garbage */
    MX_SYNC_RATE_LIMITED,   /* 429 */
    MX_SYNC_TOKEN_REJECTED, /* M_UNKNOWN_TOKEN */
    MX_SYNC_REFUSED,        /* any other 4xx */
};

struct mx_op;
struct mx_gap_fetch;

struct mx_client {
    GMainContext *ctx;
    struct http_client *http; /* one reference */
    char *hs;                 /* homeserver base URL, no trailing '/' */
    char *user_id;
    char *token;
    char *state_dir;
    uint32_t sync_timeout_ms;
    struct mx_retry_policy send_retry;
    struct mx_retry_policy sync_retry; /* give_up_ms unused: sync never gives up */
    uint32_t token_retry_ms;
    struct mx_client_handlers h;
    void *arg;
    struct mx_guard *guards;

    struct mx_op *ops; /* every request in flight or waiting to retry */
    char txn_prefix[24];
    uint64_t txn_counter;

    GHashTable *queues; /* room id -> struct mx_send_queue */
    unsigned pending_sends;

    GHashTable *rooms; /* room id -> struct mx_room */

    /* sync loop */
    bool running;
    bool token_loaded;
    char *filter; /* uploaded filter id, or the filter itself as JSON when upload was refused */
    char *since;
    bool req_initial; /* the request in flight has no since */
    bool in_batch;    /* handlers of a batch are running */
    struct http_call *sync_call;
    GSource *sync_timer;
    uint32_t sync_backoff_ms;
    enum mx_sync_state sync_state;
    unsigned sync_refused;    /* /sync with our saved token refused (400) in a row */
    struct mx_gap_fetch *gap; /* a batch held while the gaps of its limited timelines load */

    bool rate_limit_hinted; /* the operator was told how to lift rate limits */
};

static inline void mx_guard_enter(struct mx_client *c, struct mx_guard *g)
{
    g->alive = true;
    g->prev = c->guards;
    c->guards = g;
}

/* false: the client is gone. */
static inline bool mx_guard_leave(struct mx_client *c, struct mx_guard *g)
{
    if (!g->alive)
        return false;
    c->guards = g->prev;
    return true;
}

/* --- mx_op.c: one Client-Server request, retried per policy --- */

typedef void(mx_op_fin_h)(int err, const char *errcode, json_t *body, void *arg);

struct mx_op_params {
    const char *method;
    const char *path; /* below /_matrix/client/v3, escaped */
    char *body;       /* taken (freed, wiped) by mx_op_start */
    bool retry;
    gint64 deadline_us; /* give up retrying after this monotonic time; 0: now + give_up_ms */
    const char *logctx; /* "room=!x:hs" or NULL */
};

int mx_op_start(struct mx_client *c, const struct mx_op_params *p, mx_op_fin_h *fin, void *arg,
                struct mx_op **opp);
void mx_op_cancel_all(struct mx_client *c);

/* Classifies a non-2xx response: the decoded body (new reference or NULL), the errcode (empty
 * when none) and the delay the server asked for (body retry_after_ms, else Retry-After, else
 * -1). */
void mx_parse_error(const struct http_response *resp, json_t **bodyp,
                    char errcode[MX_ERRCODE_MAX + 1], long *retry_after_ms);
/* A failure worth retrying: below HTTP (but not an oversized body), 5xx, 429. */
bool mx_transient(const struct http_response *resp);
/* ms +- 25 %. */
uint32_t mx_jitter(uint32_t ms);
GSource *mx_timer_start(struct mx_client *c, uint32_t ms, GSourceFunc fn, void *data);
void mx_timer_stop(GSource **srcp);
/* "4 s" or "250 ms", for log lines. */
const char *mx_delay_str(uint32_t ms, char buf[32]);

/* --- mx_rooms.c: the room model --- */

struct mx_room;
struct mx_room *mx_rooms_get(struct mx_client *c, const char *room_id, bool create);
void mx_rooms_drop(struct mx_client *c, const char *room_id);
/* Applies one (possibly stripped) state event; ignores anything that is not state we model. */
void mx_rooms_apply(struct mx_client *c, struct mx_room *r, json_t *ev);
void mx_rooms_set_membership(struct mx_room *r, const char *user_id, enum mx_membership m);
enum mx_membership mx_room_self(struct mx_client *c, struct mx_room *r);
/* The last timeline event of the room handed to the handlers (NULL: none yet). */
void mx_rooms_set_last_event(struct mx_room *r, const char *event_id);
const char *mx_rooms_last_event(struct mx_room *r);
void mx_rooms_free(struct mx_client *c);
bool mx_valid_id(const char *id, char sigil);

/* --- mx_send.c --- */
void mx_send_free_all(struct mx_client *c);

/* --- mx_sync.c --- */
void mx_sync_init(struct mx_client *c, uint32_t backoff_min_ms);
void mx_sync_free(struct mx_client *c);
/* A sync token, filter id or pagination token we accept: printable ASCII, bounded. */
bool mx_valid_token(const char *t);
/* The sync loop's failure handling, for requests that hold it up (a gap fetch): back off and
 * log as for /sync; when the timer fires, the held batch's gap fetch resumes. Only for network
 * errors, 5xx, 429 and a rejected access token. */
void mx_sync_failed(struct mx_client *c, const struct http_response *resp);
void mx_sync_recovered(struct mx_client *c);
/* Handles a held batch with its gaps (room id -> array of events, oldest first; may be NULL),
 * then saves next and syncs on. Takes root, next and gaps. */
void mx_sync_handle(struct mx_client *c, json_t *root, char *next, GHashTable *gaps);

/* --- mx_gap.c: filling the gaps of limited timelines --- */

/* Looks for joined rooms whose timeline in this batch was limited although we were following
 * them. None: returns false and takes nothing. Otherwise holds the batch (takes root and next),
 * fetches each gap with /messages and hands everything to mx_sync_handle() when done. */
bool mx_gap_begin(struct mx_client *c, json_t *root, char *next, bool initial);
/* Sends the held batch's next /messages request (after a backoff). */
void mx_gap_resume(struct mx_client *c);
/* Drops a held batch (the client stopped: its /sync is asked again from the same token). */
void mx_gap_free(struct mx_client *c);
/* Handles body as the homeserver's 200 answer to the gap's /messages request in flight (which
 * is cancelled): for the fuzz target. False when no gap page is being fetched. */
bool mx_gap_feed(struct mx_client *c, const char *body, size_t len);
/* Handles body as one /sync response, without saving its token or syncing again: for the fuzz
 * target. Returns false when a handler freed the client. */
bool mx_sync_feed(struct mx_client *c, const char *body, size_t len);

#endif
