/*
 * devhs: the room model — the event list, state as it was at any stream position, power
 * levels, history visibility, and the client format of events.
 *
 * Each piece of state keeps every version it ever had (oldest first), so "state at position p"
 * is a binary search. That one primitive answers everything sync and pagination ask: the state
 * at the start of a timeline window, what changed since a token, membership when an event was
 * sent (for history visibility), and the state of a room as it was when a user left it.
 */
#include "tools/devhs/hs.h"

#include <string.h>

static char *slot_key(const char *type, const char *key)
{
    return g_strconcat(type, "\x1f", key, NULL);
}

static void slot_destroy(void *p)
{
    struct hs_state_slot *s = p;
    g_ptr_array_free(s->history, TRUE);
}

static void slot_free(gpointer p)
{
    mem_deref(p);
}

static void receipt_destroy(void *p)
{
    struct hs_receipt *rc = p;
    g_free(rc->user_id);
    g_free(rc->type);
    g_free(rc->thread_id);
    g_free(rc->event_id);
}

struct hs_receipt *hs_receipt_new(const char *user_id, const char *type, const char *thread_id)
{
    struct hs_receipt *rc = hs_zalloc(sizeof(*rc), receipt_destroy);
    rc->user_id = g_strdup(user_id);
    rc->type = g_strdup(type);
    rc->thread_id = g_strdup(thread_id);
    return rc;
}

void hs_receipt_free(void *p)
{
    mem_deref(p);
}

static void event_destroy(void *p)
{
    struct hs_event *ev = p;
    g_free(ev->event_id);
    g_free(ev->type);
    g_free(ev->state_key);
    g_free(ev->sender);
    json_decref(ev->content);
    json_decref(ev->extra);
    json_decref(ev->prev);
    json_decref(ev->redacted_because);
    g_free(ev->txn_id);
}

struct hs_event *hs_event_new(void)
{
    return hs_zalloc(sizeof(struct hs_event), event_destroy);
}

void hs_event_free(void *p)
{
    mem_deref(p);
}

static void room_destroy(void *p)
{
    struct hs_room *room = p;
    g_hash_table_destroy(room->state);
    g_hash_table_destroy(room->by_id);
    g_ptr_array_free(room->events, TRUE);
    g_hash_table_destroy(room->typing);
    g_ptr_array_free(room->receipts, TRUE);
    g_free(room->version);
    g_free(room->room_id);
}

struct hs_room *hs_room_new(struct hs *hs, const char *room_id, const char *version)
{
    struct hs_room *room = hs_zalloc(sizeof(*room), room_destroy);
    room->room_id = g_strdup(room_id);
    room->version = g_strdup(version);
    room->events = g_ptr_array_new_with_free_func(hs_event_free);
    room->by_id = g_hash_table_new(g_str_hash, g_str_equal);
    room->state = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, slot_free);
    room->typing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    room->receipts = g_ptr_array_new_with_free_func(hs_receipt_free);
    g_hash_table_insert(hs->rooms, room->room_id, room);
    return room;
}

void hs_room_free(void *p)
{
    mem_deref(p);
}

struct hs_room *hs_room_get(struct hs *hs, const char *room_id)
{
    return room_id ? g_hash_table_lookup(hs->rooms, room_id) : NULL;
}

struct hs_room *hs_req_room(struct hs_req *r, unsigned i)
{
    const char *id = r->args[i];
    if (!hs_valid_room_id(id)) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid room ID");
        return NULL;
    }
    struct hs_room *room = hs_room_get(r->hs, id);
    if (!room)
        hs_error(r, 404, "M_NOT_FOUND", "Unknown room %s", id);
    return room;
}

/* ---- events and state -------------------------------------------------------------------- */

struct hs_event *hs_room_insert(struct hs *hs, struct hs_room *room, struct hs_event *ev)
{
    ev->room = room;
    if (ev->state_key) {
        char *k = slot_key(ev->type, ev->state_key);
        struct hs_state_slot *slot = g_hash_table_lookup(room->state, k);
        if (!slot) {
            slot = hs_zalloc(sizeof(*slot), slot_destroy);
            slot->history = g_ptr_array_new();
            g_hash_table_insert(room->state, k, slot);
        } else {
            g_free(k);
        }
        if (slot->history->len) {
            const struct hs_event *old = g_ptr_array_index(slot->history, slot->history->len - 1);
            json_decref(ev->prev);
            ev->prev = json_pack("{s:O, s:s, s:s}", "prev_content", old->content, "prev_sender",
                                 old->sender, "replaces_state", old->event_id);
        }
        g_ptr_array_add(slot->history, ev);
        if (strcmp(ev->type, "m.room.member") == 0) {
            hs_index_add(hs, ev->state_key, room);
            room->last_member_pos = ev->pos;
        }
    }
    g_ptr_array_add(room->events, ev);
    g_hash_table_insert(room->by_id, ev->event_id, ev);
    return ev;
}

struct hs_event *hs_room_append(struct hs *hs, struct hs_room *room, const char *type,
                                const char *state_key, const char *sender, json_t *content,
                                const struct hs_session *s, const char *txn_id)
{
    struct hs_event *ev = hs_event_new();
    ev->pos = hs_next_pos(hs);
    ev->event_id = hs_new_event_id();
    ev->type = g_strdup(type);
    ev->state_key = g_strdup(state_key);
    ev->sender = g_strdup(sender);
    ev->ts = hs_now_ms(hs);
    ev->content = content ? content : json_object();
    ev->session = s ? s->id : 0;
    ev->txn_id = g_strdup(txn_id);
    hs_room_insert(hs, room, ev);
    hs_wake_room(hs, room); /* after the insert: a new invitee is a member by now */
    return ev;
}

static struct hs_state_slot *slot_get(const struct hs_room *room, const char *type, const char *key)
{
    char *k = slot_key(type, key);
    struct hs_state_slot *slot = g_hash_table_lookup(room->state, k);
    g_free(k);
    return slot;
}

/* Latest version in history at or before pos. */
static struct hs_event *history_at(GPtrArray *h, uint64_t pos)
{
    guint lo = 0, hi = h->len; /* first index with ev->pos > pos */
    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        const struct hs_event *ev = g_ptr_array_index(h, mid);
        if (ev->pos <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? g_ptr_array_index(h, lo - 1) : NULL;
}

struct hs_event *hs_state_get(const struct hs_room *room, const char *type, const char *key)
{
    struct hs_state_slot *slot = slot_get(room, type, key);
    return slot && slot->history->len ? g_ptr_array_index(slot->history, slot->history->len - 1)
                                      : NULL;
}

struct hs_event *hs_state_at(const struct hs_room *room, const char *type, const char *key,
                             uint64_t pos)
{
    struct hs_state_slot *slot = slot_get(room, type, key);
    return slot ? history_at(slot->history, pos) : NULL;
}

static gint by_pos(gconstpointer a, gconstpointer b)
{
    const struct hs_event *x = *(const struct hs_event *const *)a;
    const struct hs_event *y = *(const struct hs_event *const *)b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

GPtrArray *hs_state_all_at(const struct hs_room *room, uint64_t pos)
{
    GPtrArray *out = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, room->state);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct hs_event *ev = history_at(((struct hs_state_slot *)v)->history, pos);
        if (ev)
            g_ptr_array_add(out, ev);
    }
    g_ptr_array_sort(out, by_pos);
    return out;
}

static const char *membership_of(const struct hs_event *ev)
{
    const char *m = ev ? json_string_value(json_object_get(ev->content, "membership")) : NULL;
    return m;
}

const char *hs_membership_at(const struct hs_room *room, const char *user_id, uint64_t pos)
{
    return membership_of(hs_state_at(room, "m.room.member", user_id, pos));
}

const char *hs_membership(const struct hs_room *room, const char *user_id)
{
    return membership_of(hs_state_get(room, "m.room.member", user_id));
}

struct hs_event *hs_member_event(const struct hs_room *room, const char *user_id)
{
    return hs_state_get(room, "m.room.member", user_id);
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The rules of Synapse's filter_events_for_client, minus peeking: history visibility and the
 * user's membership as they were just before the event. */
bool hs_event_visible(const struct hs_room *room, const struct hs_event *ev, const char *user_id)
{
    if (ev->state_key && strcmp(ev->type, "m.room.member") == 0 &&
        strcmp(ev->state_key, user_id) == 0)
        return true;
    uint64_t before = ev->pos ? ev->pos - 1 : 0;
    const struct hs_event *hv_ev = hs_state_at(room, "m.room.history_visibility", "", before);
    const char *hv =
        hv_ev ? json_string_value(json_object_get(hv_ev->content, "history_visibility")) : NULL;
    if (!hv)
        hv = "shared";
    if (strcmp(hv, "world_readable") == 0)
        return true;
    const char *m = hs_membership_at(room, user_id, before);
    if (str_eq(m, "join"))
        return true;
    if (strcmp(hv, "invited") == 0 && str_eq(m, "invite"))
        return true;
    if (strcmp(hv, "shared") == 0 && str_eq(hs_membership(room, user_id), "join"))
        return true;
    return false;
}

static gint by_string(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *hs_room_members(const struct hs_room *room, const char *membership, uint64_t pos)
{
    GPtrArray *out = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, room->state);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct hs_event *ev = history_at(((struct hs_state_slot *)v)->history, pos);
        if (ev && strcmp(ev->type, "m.room.member") == 0 && str_eq(membership_of(ev), membership))
            g_ptr_array_add(out, ev->state_key);
    }
    g_ptr_array_sort(out, by_string);
    return out;
}

/* ---- power levels ------------------------------------------------------------------------ */

static json_t *power_levels(const struct hs_room *room)
{
    const struct hs_event *ev = hs_state_get(room, "m.room.power_levels", "");
    return ev ? ev->content : NULL;
}

static int64_t int_or(json_t *v, int64_t dflt)
{
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

int64_t hs_power_user(const struct hs_room *room, const char *user_id)
{
    json_t *pl = power_levels(room);
    if (!pl) {
        const struct hs_event *create = hs_state_get(room, "m.room.create", "");
        return create && strcmp(create->sender, user_id) == 0 ? 100 : 0;
    }
    json_t *u = json_object_get(json_object_get(pl, "users"), user_id);
    return json_is_integer(u) ? json_integer_value(u)
                              : int_or(json_object_get(pl, "users_default"), 0);
}

int64_t hs_power_event(const struct hs_room *room, const char *type, bool is_state)
{
    json_t *pl = power_levels(room);
    if (!pl)
        return 0;
    json_t *e = json_object_get(json_object_get(pl, "events"), type);
    if (json_is_integer(e))
        return json_integer_value(e);
    return is_state ? int_or(json_object_get(pl, "state_default"), 50)
                    : int_or(json_object_get(pl, "events_default"), 0);
}

int64_t hs_power_field(const struct hs_room *room, const char *field, int64_t dflt)
{
    return int_or(json_object_get(power_levels(room), field), dflt);
}

static bool int_map(json_t *m)
{
    if (!m)
        return true;
    if (!json_is_object(m))
        return false;
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (!json_is_integer(v))
            return false;
    }
    return true;
}

const char *hs_power_levels_invalid(json_t *content)
{
    static const char *const ints[] = {"ban",    "events_default", "invite",       "kick",
                                       "redact", "state_default",  "users_default"};
    for (size_t i = 0; i < G_N_ELEMENTS(ints); i++) {
        json_t *v = json_object_get(content, ints[i]);
        if (v && !json_is_integer(v))
            return "Power levels must be integers";
    }
    if (!int_map(json_object_get(content, "events")) ||
        !int_map(json_object_get(content, "users")) ||
        !int_map(json_object_get(content, "notifications")))
        return "Power level maps must map to integers";
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(content, "users"), k, v)
    {
        if (!hs_valid_user_id(k))
            return "Power level users must be user IDs";
    }
    return NULL;
}

/* ---- client format ----------------------------------------------------------------------- */

json_t *hs_event_json(const struct hs_event *ev, const struct hs_session *viewer, bool with_room_id)
{
    json_t *j = json_object();
    json_object_set_new(j, "event_id", json_string(ev->event_id));
    json_object_set_new(j, "type", json_string(ev->type));
    json_object_set_new(j, "sender", json_string(ev->sender));
    json_object_set_new(j, "origin_server_ts", json_integer(ev->ts));
    json_object_set(j, "content", ev->content);
    if (with_room_id)
        json_object_set_new(j, "room_id", json_string(ev->room->room_id));
    if (ev->state_key)
        json_object_set_new(j, "state_key", json_string(ev->state_key));
    if (ev->extra)
        json_object_update_missing(j, ev->extra);

    json_t *u = json_object();
    int64_t age = g_get_real_time() / 1000 - ev->ts;
    json_object_set_new(u, "age", json_integer(age < 0 ? 0 : age));
    if (viewer && ev->txn_id && ev->session == viewer->id)
        json_object_set_new(u, "transaction_id", json_string(ev->txn_id));
    if (ev->prev)
        json_object_update(u, ev->prev);
    if (ev->redacted_because)
        json_object_set(u, "redacted_because", ev->redacted_because);
    json_object_set_new(j, "unsigned", u);
    return j;
}

json_t *hs_event_stripped(const struct hs_event *ev)
{
    return json_pack("{s:s, s:s, s:O, s:s}", "type", ev->type, "state_key",
                     ev->state_key ? ev->state_key : "", "content", ev->content, "sender",
                     ev->sender);
}

/* ---- membership index -------------------------------------------------------------------- */

void hs_index_add(struct hs *hs, const char *user_id, struct hs_room *room)
{
    GHashTable *rooms = g_hash_table_lookup(hs->memberships, user_id);
    if (!rooms) {
        rooms = g_hash_table_new(g_str_hash, g_str_equal);
        g_hash_table_insert(hs->memberships, g_strdup(user_id), rooms);
    }
    g_hash_table_insert(rooms, room->room_id, room);
}

void hs_index_remove(struct hs *hs, const char *user_id, const char *room_id)
{
    GHashTable *rooms = g_hash_table_lookup(hs->memberships, user_id);
    if (rooms)
        g_hash_table_remove(rooms, room_id);
}

GHashTable *hs_index_rooms(struct hs *hs, const char *user_id)
{
    return g_hash_table_lookup(hs->memberships, user_id);
}
