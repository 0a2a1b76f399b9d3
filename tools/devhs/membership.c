/*
 * devhs: membership — invite, join, leave, kick, ban, unban, forget, and the member lists.
 *
 * One function (hs_membership_change) applies the rules every path shares, whether the change
 * comes from /invite, /join, createRoom's invite list or a PUT of an m.room.member state event:
 * join rules, bans, "already in the room", and the power levels for invite / kick / ban. The
 * errors are the ones Synapse gives, 403 M_FORBIDDEN with a sentence saying why.
 */
#include "tools/devhs/hs.h"

#include "base/log.h"

#include <string.h>

static bool is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

json_t *hs_member_content(struct hs *hs, const char *user_id, const char *membership)
{
    json_t *c = json_pack("{s:s}", "membership", membership);
    const struct hs_user *u = hs_user_get(hs, user_id);
    if (u && u->displayname)
        json_object_set_new(c, "displayname", json_string(u->displayname));
    if (u && u->avatar_url)
        json_object_set_new(c, "avatar_url", json_string(u->avatar_url));
    return c;
}

static const char *join_rule(const struct hs_room *room)
{
    const struct hs_event *ev = hs_state_get(room, "m.room.join_rules", "");
    const char *jr = ev ? json_string_value(json_object_get(ev->content, "join_rule")) : NULL;
    return jr ? jr : "invite";
}

static bool forbidden(struct hs_req *r, const char *why)
{
    hs_error(r, 403, "M_FORBIDDEN", "%s", why);
    return false;
}

bool hs_membership_change(struct hs_req *r, struct hs_room *room, const char *sender,
                          const char *target, const char *membership, json_t *extra,
                          struct hs_event **evp)
{
    struct hs *hs = r->hs;
    const char *sm = hs_membership(room, sender);
    const char *tm = hs_membership(room, target);
    const bool self = strcmp(sender, target) == 0;
    const int64_t sender_pl = hs_power_user(room, sender);
    char why[300];
    if (evp)
        *evp = NULL;

    if (strcmp(membership, "join") == 0) {
        if (!self)
            return forbidden(r, "Cannot force another user to join");
        if (is(tm, "ban"))
            return forbidden(r, "You are banned from the room");
        if (is(tm, "join")) {
            /* Joining again only makes an event when the member content changes. */
            struct hs_event *cur = hs_member_event(room, target);
            json_t *c = json_deep_copy(cur->content);
            if (extra)
                json_object_update(c, extra);
            bool same = json_equal(c, cur->content);
            if (same) {
                json_decref(c);
                if (evp)
                    *evp = cur;
                return true;
            }
            struct hs_event *ev =
                hs_room_append(hs, room, "m.room.member", target, sender, c, r->session, NULL);
            if (evp)
                *evp = ev;
            return true;
        }
        const char *jr = join_rule(room);
        if (strcmp(jr, "public") != 0 && !is(tm, "invite"))
            return forbidden(r, "You are not invited to this room.");
    } else if (strcmp(membership, "invite") == 0) {
        if (!is(sm, "join")) {
            snprintf(why, sizeof(why), "User %s not in room %s", sender, room->room_id);
            return forbidden(r, why);
        }
        if (is(tm, "join")) {
            snprintf(why, sizeof(why), "%s is already in the room.", target);
            return forbidden(r, why);
        }
        if (is(tm, "ban")) {
            snprintf(why, sizeof(why), "%s is banned from the room", target);
            return forbidden(r, why);
        }
        if (sender_pl < hs_power_field(room, "invite", 0))
            return forbidden(r, "You don't have permission to invite users");
        if (is(tm, "invite")) {
            if (evp)
                *evp = hs_member_event(room, target);
            return true; /* already invited: the retry of an invite is a no-op */
        }
    } else if (strcmp(membership, "leave") == 0) {
        if (self) {
            if (!tm) {
                snprintf(why, sizeof(why), "User %s not in room %s", target, room->room_id);
                return forbidden(r, why);
            }
            if (is(tm, "ban"))
                return forbidden(r, "You are banned from the room");
            if (is(tm, "leave")) {
                if (evp)
                    *evp = hs_member_event(room, target);
                return true;
            }
        } else if (is(tm, "ban")) { /* unban */
            if (!is(sm, "join"))
                return forbidden(r, "You are not in the room");
            if (sender_pl < hs_power_field(room, "ban", 50))
                return forbidden(r, "You don't have permission to unban users");
        } else { /* kick */
            if (!is(sm, "join"))
                return forbidden(r, "You are not in the room");
            if (!is(tm, "join") && !is(tm, "invite") && !is(tm, "knock"))
                return forbidden(r, "The target user is not in the room");
            if (sender_pl < hs_power_field(room, "kick", 50) ||
                sender_pl <= hs_power_user(room, target))
                return forbidden(r, "You don't have permission to kick this user");
        }
    } else if (strcmp(membership, "ban") == 0) {
        if (self)
            return forbidden(r, "You cannot ban yourself");
        if (!is(sm, "join"))
            return forbidden(r, "You are not in the room");
        if (sender_pl < hs_power_field(room, "ban", 50) || sender_pl <= hs_power_user(room, target))
            return forbidden(r, "You don't have permission to ban this user");
    } else {
        hs_error(r, 400, "M_BAD_JSON", "Unsupported membership %s", membership);
        return false;
    }

    json_t *content = strcmp(membership, "join") == 0 || strcmp(membership, "invite") == 0
                          ? hs_member_content(hs, target, membership)
                          : json_pack("{s:s}", "membership", membership);
    if (extra)
        json_object_update(content, extra);
    json_object_set_new(content, "membership", json_string(membership));
    struct hs_event *ev =
        hs_room_append(hs, room, "m.room.member", target, sender, content, r->session, NULL);
    if (strcmp(membership, "join") != 0 && g_hash_table_remove(room->typing, target)) {
        room->typing_pos = hs_next_pos(hs);
        hs_wake_room(hs, room);
    }
    logc_info(room->room_id, "%s: %s -> %s", target, tm ? tm : "none", membership);
    if (evp)
        *evp = ev;
    return true;
}

/* Reads {user_id, reason} for invite / kick / ban / unban; NULL after replying 400. */
static const char *target_param(struct hs_req *r, json_t **extra)
{
    const char *user_id, *reason;
    if (!hs_json_opt_string(r->json, "user_id", &user_id) ||
        !hs_json_opt_string(r->json, "reason", &reason)) {
        hs_error(r, 400, "M_BAD_JSON", "user_id and reason must be strings");
        return NULL;
    }
    if (!user_id) {
        hs_error(r, 400, "M_MISSING_PARAM", "Missing user_id");
        return NULL;
    }
    if (!hs_valid_user_id(user_id)) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid user_id %s", user_id);
        return NULL;
    }
    *extra = reason ? json_pack("{s:s}", "reason", reason) : NULL;
    return user_id;
}

static void change_other(struct hs_req *r, const char *membership, bool unban)
{
    struct hs_room *room = hs_req_room(r, 0);
    json_t *extra = NULL;
    const char *target = room ? target_param(r, &extra) : NULL;
    if (!target)
        return;
    if (unban && !is(hs_membership(room, target), "ban")) {
        json_decref(extra);
        hs_error(r, 403, "M_FORBIDDEN", "%s is not banned", target);
        return;
    }
    if (!unban && strcmp(membership, "leave") == 0 && strcmp(target, r->user->user_id) == 0) {
        json_decref(extra);
        hs_error(r, 403, "M_FORBIDDEN", "Use /leave to leave a room");
        return;
    }
    if (hs_membership_change(r, room, r->user->user_id, target, membership, extra, NULL))
        hs_reply_empty(r);
    json_decref(extra);
}

void hs_h_invite(struct hs_req *r)
{
    change_other(r, "invite", false);
}

void hs_h_kick(struct hs_req *r)
{
    change_other(r, "leave", false);
}

void hs_h_ban(struct hs_req *r)
{
    change_other(r, "ban", false);
}

void hs_h_unban(struct hs_req *r)
{
    change_other(r, "leave", true);
}

static void join(struct hs_req *r, struct hs_room *room)
{
    const char *reason;
    if (!hs_json_opt_string(r->json, "reason", &reason)) {
        hs_error(r, 400, "M_BAD_JSON", "reason must be a string");
        return;
    }
    json_t *extra = reason ? json_pack("{s:s}", "reason", reason) : NULL;
    if (hs_membership_change(r, room, r->user->user_id, r->user->user_id, "join", extra, NULL))
        hs_reply(r, 200, json_pack("{s:s}", "room_id", room->room_id));
    json_decref(extra);
}

void hs_h_join_room(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    if (room)
        join(r, room);
}

void hs_h_join_alias(struct hs_req *r)
{
    const char *id = r->args[0];
    if (id[0] == '#') {
        const char *room_id = g_hash_table_lookup(r->hs->aliases, id);
        struct hs_room *room = hs_room_get(r->hs, room_id);
        if (!room) {
            hs_error(r, 404, "M_NOT_FOUND", "Room alias %s not found", id);
            return;
        }
        join(r, room);
        return;
    }
    struct hs_room *room = hs_req_room(r, 0);
    if (room)
        join(r, room);
}

void hs_h_leave(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    if (!room)
        return;
    const char *reason;
    if (!hs_json_opt_string(r->json, "reason", &reason)) {
        hs_error(r, 400, "M_BAD_JSON", "reason must be a string");
        return;
    }
    json_t *extra = reason ? json_pack("{s:s}", "reason", reason) : NULL;
    if (hs_membership_change(r, room, r->user->user_id, r->user->user_id, "leave", extra, NULL))
        hs_reply_empty(r);
    json_decref(extra);
}

void hs_h_forget(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    if (!room)
        return;
    const char *m = hs_membership(room, r->user->user_id);
    if (is(m, "join") || is(m, "invite")) {
        hs_error(r, 400, "M_UNKNOWN", "User %s is in room %s", r->user->user_id, room->room_id);
        return;
    }
    const struct hs_event *ev = hs_member_event(room, r->user->user_id);
    if (ev) {
        uint64_t *pos = g_new(uint64_t, 1);
        *pos = ev->pos;
        g_hash_table_insert(r->user->forgotten, g_strdup(room->room_id), pos);
    }
    hs_index_remove(r->hs, r->user->user_id, room->room_id);
    hs_reply_empty(r);
}

void hs_h_joined_rooms(struct hs_req *r)
{
    json_t *list = json_array();
    GHashTable *rooms = hs_index_rooms(r->hs, r->user->user_id);
    if (rooms) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, rooms);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            if (is(hs_membership(v, r->user->user_id), "join"))
                json_array_append_new(list, json_string(k));
        }
    }
    hs_reply(r, 200, json_pack("{s:o}", "joined_rooms", list));
}

bool hs_member_view(struct hs_req *r, struct hs_room *room, uint64_t *upto)
{
    const struct hs_event *ev = hs_member_event(room, r->user->user_id);
    const char *m = ev ? json_string_value(json_object_get(ev->content, "membership")) : NULL;
    if (is(m, "join")) {
        *upto = r->hs->pos;
        return true;
    }
    if (is(m, "leave") || is(m, "ban")) {
        /* Only if they had been joined before: a rejected invite shows nothing. */
        for (uint64_t p = ev->pos; p > 0;) {
            const struct hs_event *prev =
                hs_state_at(room, "m.room.member", r->user->user_id, p - 1);
            if (!prev)
                break;
            if (is(json_string_value(json_object_get(prev->content, "membership")), "join")) {
                *upto = ev->pos;
                return true;
            }
            p = prev->pos;
        }
    }
    hs_error(r, 403, "M_FORBIDDEN", "User %s not in room %s", r->user->user_id, room->room_id);
    return false;
}

void hs_h_members(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    uint64_t upto;
    if (!room || !hs_member_view(r, room, &upto))
        return;
    const char *at = hs_query(r, "at");
    if (at) {
        uint64_t p;
        if (!hs_token_parse(at, &p)) {
            hs_error(r, 400, "M_INVALID_PARAM", "Invalid 'at' token");
            return;
        }
        if (p < upto)
            upto = p;
    }
    const char *want = hs_query(r, "membership");
    const char *not = hs_query(r, "not_membership");
    json_t *chunk = json_array();
    GPtrArray *state = hs_state_all_at(room, upto);
    for (guint i = 0; i < state->len; i++) {
        const struct hs_event *ev = g_ptr_array_index(state, i);
        if (strcmp(ev->type, "m.room.member") != 0)
            continue;
        const char *m = json_string_value(json_object_get(ev->content, "membership"));
        if ((want && !is(m, want)) || (not &&is(m, not )))
            continue;
        json_array_append_new(chunk, hs_event_json(ev, r->session, true));
    }
    g_ptr_array_free(state, TRUE);
    hs_reply(r, 200, json_pack("{s:o}", "chunk", chunk));
}

void hs_h_joined_members(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    if (!room)
        return;
    if (!is(hs_membership(room, r->user->user_id), "join")) {
        hs_error(r, 403, "M_FORBIDDEN", "User %s not in room %s", r->user->user_id, room->room_id);
        return;
    }
    json_t *joined = json_object();
    GPtrArray *members = hs_room_members(room, "join", r->hs->pos);
    for (guint i = 0; i < members->len; i++) {
        const char *uid = g_ptr_array_index(members, i);
        const struct hs_event *ev = hs_member_event(room, uid);
        json_t *m = json_object();
        json_t *dn = json_object_get(ev->content, "displayname");
        json_t *av = json_object_get(ev->content, "avatar_url");
        if (json_is_string(dn))
            json_object_set(m, "display_name", dn);
        if (json_is_string(av))
            json_object_set(m, "avatar_url", av);
        json_object_set_new(joined, uid, m);
    }
    g_ptr_array_free(members, TRUE);
    hs_reply(r, 200, json_pack("{s:o}", "joined", joined));
}
