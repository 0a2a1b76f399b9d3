/*
 * Send queues. Call signalling is order-sensitive inside a call (the answer must land before its
 * candidates, a hangup after the invite), so each call (a room's m.call.* events with one
 * call_id) sends one event at a time in the order they were queued, and so does each room for
 * its other events. Nothing orders one call against another: with one queue per room, a room
 * everyone calls at once would have its answers sent one round trip after another, which on
 * Synapse (a send takes 100 ms and more in a busy room) put seconds between the first caller's
 * set-up and the sixteenth's. Queues are independent, so one's retries never hold up another.
 *
 * Each event gets its transaction id when queued: a per-process random prefix plus a counter,
 * so ids never repeat across restarts, and every retry of the event reuses it, which makes the
 * PUT idempotent on the homeserver. An event's give-up deadline runs from when it was queued.
 */
#include "signalling/mx_internal.h"

#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct mx_send {
    char *path; /* /rooms/{room}/send/{type}/{txn} */
    char *body;
    char *type;
    gint64 deadline_us;
    mx_done_h *h;
    void *arg;
};

struct mx_send_queue {
    struct mx_client *c;
    char *key; /* room id, or room id and call id */
    char *logctx;
    GQueue waiting;           /* struct mx_send *, not started */
    struct mx_send *inflight; /* head, running as an op */
    bool finishing;           /* a completion handler of this room is running */
};

static void send_free(struct mx_send *s)
{
    if (!s)
        return;
    g_free(s->path);
    g_free(s->body);
    g_free(s->type);
    g_free(s);
}

static void queue_free(gpointer data)
{
    struct mx_send_queue *q = data;
    struct mx_send *s;
    while ((s = g_queue_pop_head(&q->waiting)))
        send_free(s);
    send_free(q->inflight);
    g_free(q->key);
    g_free(q->logctx);
    g_free(q);
}

void mx_send_free_all(struct mx_client *c)
{
    if (c->queues)
        g_hash_table_unref(c->queues);
    c->queues = NULL;
    c->pending_sends = 0;
}

unsigned mx_client_pending_sends(const struct mx_client *c)
{
    return c ? c->pending_sends : 0;
}

static void send_fin(int err, const char *errcode, json_t *body, void *arg);

static int queue_start(struct mx_send_queue *q, struct mx_send *s)
{
    struct mx_op_params p = {
        .method = "PUT",
        .path = s->path,
        .body = g_strdup(s->body),
        .retry = true,
        .deadline_us = s->deadline_us,
        .logctx = q->logctx,
    };
    q->inflight = s;
    int err = mx_op_start(q->c, &p, send_fin, q, NULL);
    if (err)
        q->inflight = NULL;
    return err;
}

/* Starts the next event of the room, or forgets the room's queue when it is empty. */
static void queue_next(struct mx_send_queue *q)
{
    struct mx_client *c = q->c;
    while (!q->inflight) {
        struct mx_send *s = g_queue_pop_head(&q->waiting);
        if (!s) {
            g_hash_table_remove(c->queues, q->key); /* frees q */
            return;
        }
        int err = queue_start(q, s);
        if (err) {
            /* Not even started (out of memory): fail this one, carry on with the next. */
            c->pending_sends--;
            logc_warn(q->logctx, "mx: cannot send %s: %s", s->type, g_strerror(err));
            struct mx_guard g;
            mx_guard_enter(c, &g);
            q->finishing = true;
            if (s->h)
                s->h(err, NULL, NULL, s->arg);
            send_free(s);
            if (!mx_guard_leave(c, &g))
                return;
            q->finishing = false;
        }
    }
}

static void send_fin(int err, const char *errcode, json_t *body, void *arg)
{
    struct mx_send_queue *q = arg;
    struct mx_client *c = q->c;
    struct mx_send *s = q->inflight;
    q->inflight = NULL;
    c->pending_sends--;

    if (!err)
        logc_debug(q->logctx, "mx: sent %s as %s", s->type,
                   json_string_value(json_object_get(body, "event_id")) ?: "?");
    else
        logc_warn(q->logctx, "mx: sending %s failed: %s%s%s", s->type, g_strerror(err),
                  errcode ? " " : "", errcode ? errcode : "");
    /* While the handler runs, new sends to this room queue behind the waiting ones. */
    struct mx_guard g;
    mx_guard_enter(c, &g);
    q->finishing = true;
    if (s->h)
        s->h(err, errcode, body, s->arg);
    send_free(s);
    if (!mx_guard_leave(c, &g))
        return;
    q->finishing = false;
    queue_next(q);
}

/* The queue an event waits in: its call's, or its room's (g_free). */
static char *queue_key(const char *room_id, const char *type, json_t *content)
{
    const char *call_id = json_string_value(json_object_get(content, "call_id"));
    if (g_str_has_prefix(type, "m.call.") && call_id && call_id[0])
        return g_strconcat(room_id, " ", call_id, NULL);
    return g_strdup(room_id);
}

int mx_send_event(struct mx_client *c, const char *room_id, const char *type, json_t *content,
                  mx_done_h *h, void *arg)
{
    if (!c || !mx_valid_id(room_id, '!') || !type || !type[0] || strlen(type) > MX_ID_MAX ||
        !json_is_object(content))
        return EINVAL;
    char *body = json_dumps(content, JSON_COMPACT);
    if (!body)
        return EINVAL;

    char txn[64];
    snprintf(txn, sizeof(txn), "%s.%" G_GUINT64_FORMAT, c->txn_prefix, ++c->txn_counter);
    char *eroom = http_escape(room_id);
    char *etype = http_escape(type);
    struct mx_send *s = g_new0(struct mx_send, 1);
    s->path = g_strdup_printf("/rooms/%s/send/%s/%s", eroom, etype, txn);
    s->body = body;
    s->type = g_strdup(type);
    s->deadline_us = g_get_monotonic_time() + (gint64)c->send_retry.give_up_ms * 1000;
    s->h = h;
    s->arg = arg;
    g_free(eroom);
    g_free(etype);

    if (!c->queues)
        c->queues = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, queue_free);
    char *key = queue_key(room_id, type, content);
    struct mx_send_queue *q = g_hash_table_lookup(c->queues, key);
    if (!q) {
        q = g_new0(struct mx_send_queue, 1);
        q->c = c;
        q->key = key;
        q->logctx = g_strdup_printf("room=%s", room_id);
        g_queue_init(&q->waiting);
        g_hash_table_insert(c->queues, q->key, q);
    } else {
        g_free(key);
    }
    logc_debug(q->logctx, "mx: queued %s (txn %s, %u ahead)", type, txn,
               g_queue_get_length(&q->waiting) + (q->inflight ? 1 : 0));
    if (q->inflight || q->finishing || !g_queue_is_empty(&q->waiting)) {
        g_queue_push_tail(&q->waiting, s);
        c->pending_sends++;
        return 0;
    }
    int err = queue_start(q, s);
    if (err) {
        send_free(s);
        g_hash_table_remove(c->queues, q->key); /* it was idle, so now empty */
        return err;
    }
    c->pending_sends++;
    return 0;
}
