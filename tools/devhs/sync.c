/*
 * devhs: /sync — building a response for "everything since position S" and long-polling until
 * there is something to say.
 *
 * A response is a pure function of the model, the user's token, S and the current position N:
 * every room the user has a membership in is examined and contributes what changed in (S, N].
 * Long-polling is then simple: build; if empty, wait on hs->cond (which every change
 * broadcasts) and build again, until the timeout. Rebuilding is wasteful by server standards
 * and cheap at fixture sizes, and it cannot miss a wake-up because the "is there anything?"
 * check and the wait happen under the same lock.
 *
 * Shape and semantics follow the spec and Synapse: an initial sync (no since) gives the state
 * at the start of the timeline plus the last `limit` visible events (limited when more exist);
 * an incremental one gives the events after S, with state events in the timeline and, when the
 * window had to be cut, the state that changed between S and the start of the timeline. A
 * room joined since S is sent like an initial sync of that room, but always marked limited as
 * Synapse does; a room left since S appears once under rooms.leave.
 */
#include "tools/devhs/hs.h"

#include <string.h>

struct sync_ctx {
    struct hs *hs;
    struct hs_user *u;
    struct hs_session *s;
    const char *me;
    uint64_t since; /* 0 with initial */
    bool initial;
    bool full_state;
    uint64_t now;
    struct hs_filter f;
    long long limit;
};

static bool is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

/* Visible, filter-passing events in (from, upto], the last ctx->limit of them. *gap says
 * whether state may have changed outside what the timeline shows (it was cut, or a state event
 * was filtered out), which is when the state section has to be worked out. */
static json_t *timeline(struct sync_ctx *c, struct hs_room *room, uint64_t from, uint64_t upto,
                        bool *limited, uint64_t *tstart, bool *gap)
{
    GPtrArray *picked = g_ptr_array_new();
    *limited = *gap = false;
    for (guint i = room->events->len; i-- > 0;) {
        const struct hs_event *ev = g_ptr_array_index(room->events, i);
        if (ev->pos > upto)
            continue;
        if (ev->pos <= from)
            break;
        if (!hs_event_filter_ok(&c->f.timeline, ev->type, ev->sender, room->room_id) ||
            !hs_event_visible(room, ev, c->me)) {
            *gap |= ev->state_key != NULL;
            continue;
        }
        if ((long long)picked->len >= c->limit) {
            *limited = *gap = true;
            break;
        }
        g_ptr_array_add(picked, (gpointer)ev);
    }
    json_t *events = json_array();
    for (guint i = picked->len; i-- > 0;)
        json_array_append_new(events, hs_event_json(g_ptr_array_index(picked, i), c->s, false));
    *tstart = picked->len
                  ? ((const struct hs_event *)g_ptr_array_index(picked, picked->len - 1))->pos
                  : upto + 1;
    g_ptr_array_free(picked, TRUE);
    return events;
}

/* The state section: everything at the start of the timeline when full, else only what changed
 * after since and before the timeline (the part of the gap a limited timeline left out). */
static json_t *state_section(struct sync_ctx *c, struct hs_room *room, uint64_t tstart, bool full)
{
    json_t *events = json_array();
    GPtrArray *state = hs_state_all_at(room, tstart - 1);
    for (guint i = 0; i < state->len; i++) {
        const struct hs_event *ev = g_ptr_array_index(state, i);
        if (!full && ev->pos <= c->since)
            continue;
        if (!hs_event_filter_ok(&c->f.state, ev->type, ev->sender, room->room_id))
            continue;
        json_array_append_new(events, hs_event_json(ev, c->s, false));
    }
    g_ptr_array_free(state, TRUE);
    return events;
}

static json_t *ephemeral(struct sync_ctx *c, struct hs_room *room, bool full)
{
    json_t *events = json_array();
    if (hs_event_filter_ok(&c->f.ephemeral, "m.typing", NULL, room->room_id) &&
        ((full && g_hash_table_size(room->typing)) || (!full && room->typing_pos > c->since))) {
        json_t *ids = json_array();
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, room->typing);
        while (g_hash_table_iter_next(&it, &k, &v))
            json_array_append_new(ids, json_string(k));
        json_array_append_new(
            events, json_pack("{s:s, s:{s:o}}", "type", "m.typing", "content", "user_ids", ids));
    }
    if ((full || room->receipts_pos > c->since) &&
        hs_event_filter_ok(&c->f.ephemeral, "m.receipt", NULL, room->room_id)) {
        json_t *content = json_object();
        for (guint i = 0; i < room->receipts->len; i++) {
            const struct hs_receipt *rc = g_ptr_array_index(room->receipts, i);
            if ((!full && rc->pos <= c->since) ||
                (strcmp(rc->type, "m.read.private") == 0 && strcmp(rc->user_id, c->me) != 0))
                continue;
            json_t *by_event = json_object_get(content, rc->event_id);
            if (!by_event) {
                by_event = json_object();
                json_object_set_new(content, rc->event_id, by_event);
            }
            json_t *by_type = json_object_get(by_event, rc->type);
            if (!by_type) {
                by_type = json_object();
                json_object_set_new(by_event, rc->type, by_type);
            }
            json_t *info = json_pack("{s:I}", "ts", (json_int_t)rc->ts);
            if (rc->thread_id)
                json_object_set_new(info, "thread_id", json_string(rc->thread_id));
            json_object_set_new(by_type, rc->user_id, info);
        }
        if (json_object_size(content))
            json_array_append_new(events,
                                  json_pack("{s:s, s:o}", "type", "m.receipt", "content", content));
        else
            json_decref(content);
    }
    return events;
}

static json_t *account_data_events(struct sync_ctx *c, GHashTable *data, bool full,
                                   const struct hs_event_filter *f, const char *room_id)
{
    json_t *events = json_array();
    if (!data)
        return events;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, data);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct hs_account_data *ad = v;
        if ((!full && ad->pos <= c->since) || !hs_event_filter_ok(f, k, NULL, room_id))
            continue;
        json_array_append_new(
            events, json_pack("{s:s, s:O}", "type", (const char *)k, "content", ad->content));
    }
    return events;
}

static json_t *summary(struct sync_ctx *c, struct hs_room *room)
{
    GPtrArray *joined = hs_room_members(room, "join", c->now);
    GPtrArray *invited = hs_room_members(room, "invite", c->now);
    json_t *heroes = json_array();
    GPtrArray *lists[2] = {joined, invited};
    for (int l = 0; l < 2; l++) {
        for (guint i = 0; i < lists[l]->len && json_array_size(heroes) < 5; i++) {
            const char *uid = g_ptr_array_index(lists[l], i);
            if (strcmp(uid, c->me) != 0)
                json_array_append_new(heroes, json_string(uid));
        }
    }
    json_t *s = json_pack("{s:i, s:i, s:o}", "m.joined_member_count", (int)joined->len,
                          "m.invited_member_count", (int)invited->len, "m.heroes", heroes);
    g_ptr_array_free(joined, TRUE);
    g_ptr_array_free(invited, TRUE);
    return s;
}

/* A joined or left room up to position upto. full: the room is new to the client (initial
 * sync, or joined since the token): history from the start, all state and ephemeral data.
 * With full_state the state section is complete but the timeline still starts at the token.
 * NULL when nothing changed and neither applies. */
static json_t *room_entry(struct sync_ctx *c, struct hs_room *room, bool full, uint64_t upto,
                          bool joined)
{
    bool limited, gap;
    uint64_t tstart;
    json_t *tl = timeline(c, room, full ? 0 : c->since, upto, &limited, &tstart, &gap);
    /* Like Synapse: a room joined since the token is always "limited", however short its
     * history (the client has no earlier timeline of it to join this one to). */
    if (full && joined && !c->initial)
        limited = true;
    bool whole_state = full || c->full_state;
    json_t *state = whole_state || gap ? state_section(c, room, tstart, whole_state) : json_array();
    json_t *eph = joined ? ephemeral(c, room, full) : json_array();
    GHashTable *rad = g_hash_table_lookup(c->u->room_account_data, room->room_id);
    json_t *ad = account_data_events(c, rad, full, &c->f.room_account_data, room->room_id);
    if (!whole_state && !json_array_size(tl) && !json_array_size(state) && !json_array_size(eph) &&
        !json_array_size(ad)) {
        json_decref(tl);
        json_decref(state);
        json_decref(eph);
        json_decref(ad);
        return NULL;
    }
    char *prev = hs_token_string(tstart - 1);
    json_t *e = json_pack("{s:{s:o, s:b, s:s}, s:{s:o}, s:{s:o}}", "timeline", "events", tl,
                          "limited", limited, "prev_batch", prev, "state", "events", state,
                          "account_data", "events", ad);
    g_free(prev);
    if (joined) {
        json_object_set_new(e, "ephemeral", json_pack("{s:o}", "events", eph));
        json_object_set_new(e, "unread_notifications",
                            json_pack("{s:i, s:i}", "notification_count", 0, "highlight_count", 0));
        /* Like Synapse: only when membership may have changed (clients keep the last one). */
        if (whole_state || room->last_member_pos > c->since)
            json_object_set_new(e, "summary", summary(c, room));
    } else {
        json_decref(eph);
    }
    return e;
}

static json_t *invite_entry(struct sync_ctx *c, struct hs_room *room, const struct hs_event *inv)
{
    static const char *const types[] = {
        "m.room.create",          "m.room.join_rules", "m.room.name", "m.room.avatar",
        "m.room.canonical_alias", "m.room.encryption", "m.room.topic"};
    json_t *events = json_array();
    for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
        const struct hs_event *ev = hs_state_at(room, types[i], "", inv->pos);
        if (ev)
            json_array_append_new(events, hs_event_stripped(ev));
    }
    const struct hs_event *inviter = hs_state_at(room, "m.room.member", inv->sender, inv->pos);
    if (inviter && strcmp(inv->sender, c->me) != 0)
        json_array_append_new(events, hs_event_stripped(inviter));
    json_array_append_new(events, hs_event_json(inv, c->s, false));
    return json_pack("{s:{s:o}}", "invite_state", "events", events);
}

static json_t *presence_events(struct sync_ctx *c)
{
    json_t *events = json_array();
    if (c->hs->presence_pos <= c->since) /* nobody's presence changed: skip the member walk */
        return events;
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_add(seen, (gpointer)c->me);
    GHashTable *rooms = hs_index_rooms(c->hs, c->me);
    if (rooms) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, rooms);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            if (!is(hs_membership(v, c->me), "join"))
                continue;
            GPtrArray *members = hs_room_members(v, "join", c->now);
            for (guint i = 0; i < members->len; i++)
                g_hash_table_add(seen, g_ptr_array_index(members, i));
            g_ptr_array_free(members, TRUE);
        }
    }
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, seen);
    int64_t now_ms = g_get_real_time() / 1000;
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct hs_user *u = hs_user_get(c->hs, k);
        if (!u || u->presence_pos == 0 || u->presence_pos <= c->since ||
            !hs_event_filter_ok(&c->f.presence, "m.presence", u->user_id, NULL))
            continue;
        json_t *content = json_pack("{s:s, s:b}", "presence", u->presence, "currently_active",
                                    strcmp(u->presence, "online") == 0);
        if (u->last_active_ts)
            json_object_set_new(content, "last_active_ago",
                                json_integer(now_ms - u->last_active_ts));
        if (u->status_msg)
            json_object_set_new(content, "status_msg", json_string(u->status_msg));
        json_array_append_new(events, json_pack("{s:s, s:s, s:o}", "type", "m.presence", "sender",
                                                u->user_id, "content", content));
    }
    g_hash_table_destroy(seen);
    return events;
}

static json_t *to_device_events(struct sync_ctx *c)
{
    json_t *events = json_array();
    GPtrArray *q = g_hash_table_lookup(c->u->to_device, c->s->device_id);
    if (!q)
        return events;
    /* A sync with since=S acknowledges everything up to S. */
    while (q->len && ((struct hs_to_device *)g_ptr_array_index(q, 0))->pos <= c->since)
        g_ptr_array_remove_index(q, 0);
    for (guint i = 0; i < q->len; i++) {
        const struct hs_to_device *m = g_ptr_array_index(q, i);
        if (m->pos > c->now)
            break;
        json_array_append_new(events, json_pack("{s:s, s:s, s:O}", "type", m->type, "sender",
                                                m->sender, "content", m->content));
    }
    return events;
}

static json_t *build(struct sync_ctx *c, bool *empty)
{
    c->now = c->hs->pos;
    json_t *join = json_object(), *invite = json_object(), *leave = json_object();
    GHashTable *rooms = hs_index_rooms(c->hs, c->me);
    if (rooms) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, rooms);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            struct hs_room *room = v;
            if (!hs_filter_room_ok(&c->f, room->room_id))
                continue;
            const struct hs_event *mev = hs_member_event(room, c->me);
            const char *m =
                mev ? json_string_value(json_object_get(mev->content, "membership")) : NULL;
            json_t *e = NULL;
            if (is(m, "join")) {
                bool full = c->initial || !is(hs_membership_at(room, c->me, c->since), "join");
                e = room_entry(c, room, full, c->now, true);
                if (e)
                    json_object_set_new(join, room->room_id, e);
            } else if (is(m, "invite")) {
                if (c->initial || mev->pos > c->since)
                    json_object_set_new(invite, room->room_id, invite_entry(c, room, mev));
            } else if (is(m, "leave") || is(m, "ban")) {
                if (c->initial ? c->f.include_leave : mev->pos > c->since) {
                    e = room_entry(c, room, c->initial, mev->pos, false);
                    if (!e) /* the leave itself is always news */
                        e = room_entry(c, room, true, mev->pos, false);
                    json_object_set_new(leave, room->room_id, e);
                }
            }
        }
    }
    json_t *account_data =
        account_data_events(c, c->u->account_data, c->initial, &c->f.account_data, NULL);
    json_t *presence = presence_events(c);
    json_t *to_device = to_device_events(c);
    json_t *changed = json_array(), *left = json_array();
    if (!c->initial)
        hs_keys_device_lists(c->hs, c->me, c->since, changed, left);
    const struct hs_device *dev = g_hash_table_lookup(c->u->devices, c->s->device_id);
    *empty = !json_object_size(join) && !json_object_size(invite) && !json_object_size(leave) &&
             !json_array_size(account_data) && !json_array_size(presence) &&
             !json_array_size(to_device) && !json_array_size(changed) && !json_array_size(left);
    char *next = hs_token_string(c->now);
    json_t *resp = json_pack(
        "{s:s, s:{s:o, s:o, s:o, s:{}}, s:{s:o}, s:{s:o}, s:{s:o}, s:{s:o, s:o}, s:o, s:o}",
        "next_batch", next, "rooms", "join", join, "invite", invite, "leave", leave, "knock",
        "account_data", "events", account_data, "presence", "events", presence, "to_device",
        "events", to_device, "device_lists", "changed", changed, "left", left,
        "device_one_time_keys_count", hs_keys_otk_counts(dev), "device_unused_fallback_key_types",
        hs_keys_unused_fallback(dev));
    g_free(next);
    return resp;
}

void hs_h_sync(struct hs_req *r)
{
    struct hs *hs = r->hs;
    struct sync_ctx c = {.hs = hs, .u = r->user, .s = r->session, .me = r->user->user_id};
    const char *since = hs_query(r, "since");
    if (since && !hs_token_parse(since, &c.since)) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid since token");
        return;
    }
    c.initial = !since;
    if (c.since > hs->pos) /* a token from a newer, unsaved state: resume from now */
        c.since = hs->pos;
    long long timeout;
    if (!hs_query_int(r, "timeout", 0, 0, 600000, &timeout))
        return;
    const char *fs = hs_query(r, "full_state");
    c.full_state = is(fs, "true");
    if (fs && !c.full_state && !is(fs, "false")) {
        hs_error(r, 400, "M_INVALID_PARAM", "full_state must be true or false");
        return;
    }
    const char *presence = hs_query(r, "set_presence");
    if (presence && !is(presence, "online") && !is(presence, "offline") &&
        !is(presence, "unavailable")) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid set_presence");
        return;
    }
    if (!hs_filter_from_param(r, hs_query(r, "filter"), &c.f))
        return;
    c.limit = c.f.timeline.limit >= 0 ? c.f.timeline.limit : HS_DEFAULT_LIMIT;

    if (!presence)
        presence = "online";
    if (!is(presence, "offline")) {
        c.u->last_active_ts = hs_now_ms(hs);
        if (!is(c.u->presence, presence)) {
            g_free(c.u->presence);
            c.u->presence = g_strdup(presence);
            /* Nobody is woken for this: room mates see it with their next batch. */
            c.u->presence_pos = hs->presence_pos = hs_next_pos(hs);
        }
    }

    /* The lock is released while waiting: the token may be logged out meanwhile, and then
     * its session is gone. Recognise that by looking the token up again after each wait. */
    char *token = g_strdup(c.s->token);
    gint64 deadline = g_get_monotonic_time() + timeout * 1000;
    for (;;) {
        if (g_hash_table_lookup(hs->sessions, token) != c.s) {
            hs_error(r, 401, "M_UNKNOWN_TOKEN", "Access token logged out during /sync");
            break;
        }
        bool empty;
        json_t *resp = build(&c, &empty);
        if (!empty || c.initial || c.full_state || hs->stopping ||
            g_get_monotonic_time() >= deadline) {
            hs_reply(r, 200, resp);
            break;
        }
        json_decref(resp);
        hs->waiting_syncs++;
        g_cond_wait_until(&c.u->wake, &hs->lock, deadline);
        hs->waiting_syncs--;
    }
    g_free(token);
    r->session = NULL;
    hs_filter_clear(&c.f);
}

void hs_housekeeping(struct hs *hs)
{
    g_mutex_lock(&hs->lock);
    gint64 now = g_get_monotonic_time();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, hs->rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct hs_room *room = v;
        bool changed = false;
        GHashTableIter ti;
        gpointer uk, exp;
        g_hash_table_iter_init(&ti, room->typing);
        while (g_hash_table_iter_next(&ti, &uk, &exp)) {
            if (*(gint64 *)exp <= now) {
                g_hash_table_iter_remove(&ti);
                changed = true;
            }
        }
        if (changed) {
            room->typing_pos = hs_next_pos(hs);
            hs_wake_room(hs, room);
        }
    }
    g_mutex_unlock(&hs->lock);
}
