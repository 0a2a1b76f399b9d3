/*
 * devhs: reading history — GET /rooms/{id}/messages (pagination in both directions) and
 * GET /rooms/{id}/context/{eventId}.
 *
 * Pagination tokens are stream positions, the same "s<N>" tokens /sync hands out, naming the
 * gap just after event N: paging backwards from sN returns events at or before N, forwards
 * from sN events after N. So a timeline's prev_batch (the position before its first event) and
 * a sync's next_batch both work as `from`, as the spec requires. `end` is left out when no
 * further event exists in that direction, which is how clients learn they reached the start.
 */
#include "tools/devhs/hs.h"

#include <string.h>

static bool token_param(struct hs_req *r, const char *name, bool *present, uint64_t *pos)
{
    const char *s = hs_query(r, name);
    *present = s != NULL && *s;
    if (!*present)
        return true;
    if (hs_token_parse(s, pos))
        return true;
    hs_error(r, 400, "M_INVALID_PARAM", "Invalid '%s' token", name);
    return false;
}

static bool room_filter_param(struct hs_req *r, struct hs_event_filter *f, bool *lazy)
{
    const char *s = hs_query(r, "filter");
    memset(f, 0, sizeof(*f));
    f->limit = -1;
    *lazy = false;
    if (!s || !*s)
        return true;
    json_error_t err;
    json_t *def = hs_json_parse(s, strlen(s), &err);
    if (!def) {
        hs_error(r, 400, "M_NOT_JSON", "Invalid filter JSON: %s", err.text);
        return false;
    }
    const char *why = NULL;
    int e = hs_event_filter_parse(def, f, &why);
    *lazy = json_is_true(json_object_get(def, "lazy_load_members"));
    /* The filter keeps borrowed arrays: hold def for the request's lifetime. */
    if (!e) {
        json_decref(r->json);
        r->json = def;
    } else {
        json_decref(def);
        hs_error(r, 400, "M_BAD_JSON", "%s", why);
        return false;
    }
    return true;
}

static bool wanted(struct hs_room *room, const struct hs_event *ev, const char *user_id,
                   const struct hs_event_filter *f)
{
    return hs_event_filter_ok(f, ev->type, ev->sender, NULL) && hs_event_visible(room, ev, user_id);
}

/* Member events of the chunk's senders, for clients that lazy-load members. */
static json_t *senders_state(struct hs_req *r, struct hs_room *room, json_t *chunk, uint64_t upto)
{
    json_t *state = json_array();
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    size_t i;
    json_t *ev;
    json_array_foreach(chunk, i, ev)
    {
        const char *sender = json_string_value(json_object_get(ev, "sender"));
        if (!sender || g_hash_table_contains(seen, sender))
            continue;
        g_hash_table_add(seen, (gpointer)sender);
        const struct hs_event *m = hs_state_at(room, "m.room.member", sender, upto);
        if (m)
            json_array_append_new(state, hs_event_json(m, r->session, true));
    }
    g_hash_table_destroy(seen);
    return state;
}

void hs_h_messages(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    uint64_t upto;
    if (!room || !hs_member_view(r, room, &upto))
        return;
    const char *dir = hs_query(r, "dir");
    if (!dir)
        dir = "f";
    bool back = strcmp(dir, "b") == 0;
    if (!back && strcmp(dir, "f") != 0) {
        hs_error(r, 400, "M_INVALID_PARAM", "dir must be 'b' or 'f'");
        return;
    }
    bool has_from, has_to, lazy;
    uint64_t from = 0, to = 0;
    long long limit;
    struct hs_event_filter f;
    if (!token_param(r, "from", &has_from, &from) || !token_param(r, "to", &has_to, &to) ||
        !hs_query_int(r, "limit", 10, 0, 1000, &limit) || !room_filter_param(r, &f, &lazy))
        return;
    const char *me = r->user->user_id;
    json_t *chunk = json_array();
    const struct hs_event *last = NULL;
    bool more = false;
    GPtrArray *evs = room->events;

    if (back) {
        uint64_t start = has_from && from < upto ? from : upto;
        if (!has_from)
            from = upto;
        for (guint i = evs->len; i-- > 0;) {
            const struct hs_event *ev = g_ptr_array_index(evs, i);
            if (ev->pos > start)
                continue;
            if (has_to && ev->pos <= to)
                break;
            if (!wanted(room, ev, me, &f))
                continue;
            if ((long long)json_array_size(chunk) >= limit) {
                more = true;
                break;
            }
            json_array_append_new(chunk, hs_event_json(ev, r->session, true));
            last = ev;
        }
    } else {
        uint64_t stop = has_to && to < upto ? to : upto;
        for (guint i = 0; i < evs->len; i++) {
            const struct hs_event *ev = g_ptr_array_index(evs, i);
            if (ev->pos <= from)
                continue;
            if (ev->pos > stop)
                break;
            if (!wanted(room, ev, me, &f))
                continue;
            if ((long long)json_array_size(chunk) >= limit) {
                more = true;
                break;
            }
            json_array_append_new(chunk, hs_event_json(ev, r->session, true));
            last = ev;
        }
    }

    char *start_tok = hs_token_string(from);
    json_t *resp = json_pack("{s:s, s:o}", "start", start_tok, "chunk", chunk);
    g_free(start_tok);
    if (more) {
        /* limit 0 with events left: the token stays where it was */
        uint64_t endpos = last ? (back ? last->pos - 1 : last->pos) : from;
        char *end_tok = hs_token_string(endpos);
        json_object_set_new(resp, "end", json_string(end_tok));
        g_free(end_tok);
    }
    json_object_set_new(resp, "state", lazy ? senders_state(r, room, chunk, upto) : json_array());
    hs_reply(r, 200, resp);
}

void hs_h_context(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    uint64_t upto;
    if (!room || !hs_member_view(r, room, &upto))
        return;
    const char *me = r->user->user_id;
    const struct hs_event *target = g_hash_table_lookup(room->by_id, r->args[1]);
    if (!target || target->pos > upto || !hs_event_visible(room, target, me)) {
        hs_error(r, 404, "M_NOT_FOUND", "Event not found.");
        return;
    }
    long long limit;
    struct hs_event_filter f;
    bool lazy;
    if (!hs_query_int(r, "limit", 10, 0, 100, &limit) || !room_filter_param(r, &f, &lazy))
        return;
    long long n_before = limit / 2, n_after = limit - n_before;
    guint idx = 0;
    while (g_ptr_array_index(room->events, idx) != target)
        idx++;
    json_t *before = json_array(), *after = json_array();
    uint64_t start = target->pos - 1, end = target->pos;
    for (guint i = idx; i-- > 0 && (long long)json_array_size(before) < n_before;) {
        const struct hs_event *ev = g_ptr_array_index(room->events, i);
        if (!wanted(room, ev, me, &f))
            continue;
        json_array_append_new(before, hs_event_json(ev, r->session, true));
        start = ev->pos - 1;
    }
    for (guint i = idx + 1; i < room->events->len && (long long)json_array_size(after) < n_after;
         i++) {
        const struct hs_event *ev = g_ptr_array_index(room->events, i);
        if (ev->pos > upto)
            break;
        if (!wanted(room, ev, me, &f))
            continue;
        json_array_append_new(after, hs_event_json(ev, r->session, true));
        end = ev->pos;
    }
    json_t *state = json_array();
    GPtrArray *all = hs_state_all_at(room, end);
    for (guint i = 0; i < all->len; i++)
        json_array_append_new(state, hs_event_json(g_ptr_array_index(all, i), r->session, true));
    g_ptr_array_free(all, TRUE);
    char *st = hs_token_string(start), *et = hs_token_string(end);
    hs_reply(r, 200,
             json_pack("{s:o, s:o, s:o, s:s, s:s, s:o}", "event",
                       hs_event_json(target, r->session, true), "events_before", before,
                       "events_after", after, "start", st, "end", et, "state", state));
    g_free(st);
    g_free(et);
}
