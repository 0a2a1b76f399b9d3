/*
 * devhs: what travels beside the timeline — typing notifications, read receipts and markers,
 * and to-device messages. None of it is a room event; each records the stream position of its
 * last change so /sync can say "changed since S" like it does for events.
 */
#include "tools/devhs/hs.h"

#include <string.h>

#define MAX_TYPING_TIMEOUT_MS 120000

static bool joined(struct hs_req *r, struct hs_room *room)
{
    if (g_strcmp0(hs_membership(room, r->user->user_id), "join") == 0)
        return true;
    hs_error(r, 403, "M_FORBIDDEN", "User %s not in room %s", r->user->user_id, room->room_id);
    return false;
}

void hs_h_typing(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    if (!room)
        return;
    if (strcmp(r->args[1], r->user->user_id) != 0) {
        hs_error(r, 403, "M_FORBIDDEN", "Cannot set typing state for another user");
        return;
    }
    if (!joined(r, room))
        return;
    json_t *typing = json_object_get(r->json, "typing");
    json_t *timeout = json_object_get(r->json, "timeout");
    if (!typing) {
        hs_error(r, 400, "M_MISSING_PARAM", "Missing typing");
        return;
    }
    if (!json_is_boolean(typing) || (timeout && !json_is_integer(timeout))) {
        hs_error(r, 400, "M_BAD_JSON", "typing must be a boolean and timeout an integer");
        return;
    }
    const char *me = r->user->user_id;
    bool changed;
    if (json_is_true(typing)) {
        json_int_t ms = timeout ? json_integer_value(timeout) : 30000;
        if (ms < 0)
            ms = 0;
        if (ms > MAX_TYPING_TIMEOUT_MS)
            ms = MAX_TYPING_TIMEOUT_MS;
        gint64 *expiry = g_new(gint64, 1);
        *expiry = g_get_monotonic_time() + (gint64)ms * 1000;
        changed = !g_hash_table_contains(room->typing, me);
        g_hash_table_insert(room->typing, g_strdup(me), expiry);
    } else {
        changed = g_hash_table_remove(room->typing, me);
    }
    if (changed) {
        room->typing_pos = hs_next_pos(r->hs);
        hs_wake_room(r->hs, room);
    }
    hs_reply_empty(r);
}

static void put_receipt(struct hs *hs, struct hs_room *room, const char *user_id, const char *type,
                        const char *thread_id, const char *event_id)
{
    struct hs_receipt *rc = NULL;
    for (guint i = 0; i < room->receipts->len; i++) {
        struct hs_receipt *x = g_ptr_array_index(room->receipts, i);
        if (strcmp(x->user_id, user_id) == 0 && strcmp(x->type, type) == 0 &&
            g_strcmp0(x->thread_id, thread_id) == 0) {
            rc = x;
            break;
        }
    }
    if (!rc) {
        rc = hs_receipt_new(user_id, type, thread_id);
        g_ptr_array_add(room->receipts, rc);
    }
    g_free(rc->event_id);
    rc->event_id = g_strdup(event_id);
    rc->ts = hs_now_ms(hs);
    rc->pos = room->receipts_pos = hs_next_pos(hs);
    hs_wake_room(hs, room);
}

static void set_fully_read(struct hs_req *r, struct hs_room *room, const char *event_id)
{
    hs_account_data_set(r->hs, r->user, hs_room_account_data(r->user, room->room_id, true),
                        "m.fully_read", json_pack("{s:s}", "event_id", event_id));
}

static bool valid_event_id(struct hs_req *r, const char *id)
{
    if (id && id[0] == '$' && strlen(id) <= HS_MAX_ID)
        return true;
    hs_error(r, 400, "M_INVALID_PARAM", "Invalid event ID");
    return false;
}

void hs_h_receipt(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    const char *type = r->args[1], *event_id = r->args[2], *thread_id;
    if (!room || !joined(r, room) || !valid_event_id(r, event_id))
        return;
    if (!hs_json_opt_string(r->json, "thread_id", &thread_id)) {
        hs_error(r, 400, "M_BAD_JSON", "thread_id must be a string");
        return;
    }
    if (strcmp(type, "m.fully_read") == 0) {
        set_fully_read(r, room, event_id);
    } else if (strcmp(type, "m.read") == 0 || strcmp(type, "m.read.private") == 0) {
        put_receipt(r->hs, room, r->user->user_id, type, thread_id, event_id);
    } else {
        hs_error(r, 400, "M_INVALID_PARAM",
                 "Receipt type must be 'm.read', 'm.read.private' or 'm.fully_read'");
        return;
    }
    hs_reply_empty(r);
}

void hs_h_read_markers(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    if (!room || !joined(r, room))
        return;
    const char *fully, *read, *priv;
    if (!hs_json_opt_string(r->json, "m.fully_read", &fully) ||
        !hs_json_opt_string(r->json, "m.read", &read) ||
        !hs_json_opt_string(r->json, "m.read.private", &priv)) {
        hs_error(r, 400, "M_BAD_JSON", "Read markers must be event IDs");
        return;
    }
    if ((fully && !valid_event_id(r, fully)) || (read && !valid_event_id(r, read)) ||
        (priv && !valid_event_id(r, priv)))
        return;
    if (fully)
        set_fully_read(r, room, fully);
    if (read)
        put_receipt(r->hs, room, r->user->user_id, "m.read", NULL, read);
    if (priv)
        put_receipt(r->hs, room, r->user->user_id, "m.read.private", NULL, priv);
    hs_reply_empty(r);
}

static void queue_to_device(struct hs_user *u, const char *device_id, uint64_t pos,
                            const char *sender, const char *type, json_t *content)
{
    GPtrArray *q = g_hash_table_lookup(u->to_device, device_id);
    if (!q) {
        q = g_ptr_array_new_with_free_func(hs_to_device_free);
        g_hash_table_insert(u->to_device, g_strdup(device_id), q);
    }
    if (q->len >= 10000) /* a device that never syncs must not grow us without bound */
        return;
    g_ptr_array_add(q, hs_to_device_new(pos, sender, type, content));
}

void hs_h_send_to_device(struct hs_req *r)
{
    const char *type = r->args[0];
    const char *key = r->raw_path;
    if (g_hash_table_contains(r->session->txns, key)) {
        hs_reply_empty(r);
        return;
    }
    json_t *messages;
    if (!hs_json_opt_object(r->json, "messages", &messages) || !messages) {
        hs_error(r, 400, "M_BAD_JSON", "messages must be an object");
        return;
    }
    const char *uid, *dev;
    json_t *per_user, *content;
    json_object_foreach(messages, uid, per_user)
    {
        if (!json_is_object(per_user)) {
            hs_error(r, 400, "M_BAD_JSON", "messages must map users to devices");
            return;
        }
        json_object_foreach(per_user, dev, content)
        {
            if (!json_is_object(content)) {
                hs_error(r, 400, "M_BAD_JSON", "to-device content must be an object");
                return;
            }
        }
    }
    uint64_t pos = hs_next_pos(r->hs);
    json_object_foreach(messages, uid, per_user)
    {
        struct hs_user *u = hs_user_get(r->hs, uid);
        if (!u)
            continue;
        json_object_foreach(per_user, dev, content)
        {
            if (strcmp(dev, "*") == 0) {
                GHashTableIter it;
                gpointer k, v;
                g_hash_table_iter_init(&it, u->devices);
                while (g_hash_table_iter_next(&it, &k, &v))
                    queue_to_device(u, k, pos, r->user->user_id, type, content);
            } else if (g_hash_table_contains(u->devices, dev)) {
                queue_to_device(u, dev, pos, r->user->user_id, type, content);
            }
        }
        g_cond_broadcast(&u->wake);
    }
    g_hash_table_insert(r->session->txns, g_strdup(key), g_strdup(""));
    hs_reply_empty(r);
}
