/*
 * devhs: room creation and the room directory (aliases, public rooms).
 *
 * createRoom emits the events a real homeserver emits, in Synapse's order, because clients
 * read the result as a timeline: m.room.create, the creator's join, m.room.power_levels (with
 * the preset's and the request's overrides), m.room.canonical_alias, the preset's join rules /
 * history visibility / guest access unless initial_state sets them, initial_state, name, topic,
 * and last the invites (with is_direct when asked).
 */
#include "tools/devhs/hs.h"

#include "base/log.h"

#include <stdlib.h>
#include <string.h>

static const char *const room_versions[] = {"1", "2", "3", "4",  "5", "6",
                                            "7", "8", "9", "10", "11"};

static bool known_version(const char *v)
{
    for (size_t i = 0; i < G_N_ELEMENTS(room_versions); i++) {
        if (strcmp(v, room_versions[i]) == 0)
            return true;
    }
    return false;
}

static bool in_initial_state(json_t *initial, const char *type)
{
    size_t i;
    json_t *ev;
    json_array_foreach(initial, i, ev)
    {
        const char *t = json_string_value(json_object_get(ev, "type"));
        const char *k = json_string_value(json_object_get(ev, "state_key"));
        if (t && strcmp(t, type) == 0 && (!k || !*k))
            return true;
    }
    return false;
}

static json_t *default_power_levels(const char *creator, bool private_preset, json_t *invite,
                                    bool invitees_ops)
{
    json_t *pl = json_pack(
        "{s:{s:i}, s:i, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:i, "
        "s:i, s:i, s:i, s:i, s:i, s:i, s:{s:i}}",
        "users", creator, 100, "users_default", 0, "events", "m.room.name", 50,
        "m.room.power_levels", 100, "m.room.history_visibility", 100, "m.room.canonical_alias", 50,
        "m.room.avatar", 50, "m.room.tombstone", 100, "m.room.server_acl", 100, "m.room.encryption",
        100, "events_default", 0, "state_default", 50, "ban", 50, "kick", 50, "redact", 50,
        "invite", private_preset ? 0 : 50, "historical", 100, "notifications", "room", 50);
    if (invitees_ops) {
        size_t i;
        json_t *u;
        json_array_foreach(invite, i, u)
        {
            json_object_set_new(json_object_get(pl, "users"), json_string_value(u),
                                json_integer(100));
        }
    }
    return pl;
}

/* Checks the request before anything is created: a half-built room helps nobody. */
static bool validate(struct hs_req *r, json_t *b, json_t **invite, json_t **initial,
                     json_t **creation, json_t **pl_override)
{
    const char *s;
    bool flag;
    if (!hs_json_opt_string(b, "visibility", &s) || !hs_json_opt_string(b, "preset", &s) ||
        !hs_json_opt_string(b, "name", &s) || !hs_json_opt_string(b, "topic", &s) ||
        !hs_json_opt_string(b, "room_alias_name", &s) ||
        !hs_json_opt_string(b, "room_version", &s) || !hs_json_opt_bool(b, "is_direct", &flag) ||
        !hs_json_opt_array(b, "invite", invite) ||
        !hs_json_opt_array(b, "initial_state", initial) ||
        !hs_json_opt_object(b, "creation_content", creation) ||
        !hs_json_opt_object(b, "power_level_content_override", pl_override)) {
        hs_error(r, 400, "M_BAD_JSON", "Invalid type for a createRoom parameter");
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(*invite, i, v)
    {
        if (!json_is_string(v) || !hs_valid_user_id(json_string_value(v))) {
            hs_error(r, 400, "M_INVALID_PARAM", "Invalid user_id in invite");
            return false;
        }
    }
    json_array_foreach(*initial, i, v)
    {
        const char *type, *key;
        json_t *content;
        if (!json_is_object(v) || !hs_json_opt_string(v, "type", &type) || !type || !*type ||
            !hs_json_opt_string(v, "state_key", &key) ||
            !hs_json_opt_object(v, "content", &content) || !content) {
            hs_error(r, 400, "M_BAD_JSON", "initial_state entries need type and content");
            return false;
        }
        if (strcmp(type, "m.room.power_levels") == 0 && hs_power_levels_invalid(content)) {
            hs_error(r, 400, "M_BAD_JSON", "%s", hs_power_levels_invalid(content));
            return false;
        }
        if (strcmp(type, "m.room.create") == 0 || strcmp(type, "m.room.member") == 0) {
            hs_error(r, 400, "M_BAD_JSON", "initial_state may not set %s", type);
            return false;
        }
    }
    if (*pl_override && hs_power_levels_invalid(*pl_override)) {
        hs_error(r, 400, "M_BAD_JSON", "%s", hs_power_levels_invalid(*pl_override));
        return false;
    }
    return true;
}

void hs_h_create_room(struct hs_req *r)
{
    struct hs *hs = r->hs;
    json_t *b = r->json, *invite, *initial, *creation, *pl_override;
    if (!validate(r, b, &invite, &initial, &creation, &pl_override))
        return;
    const char *visibility = json_string_value(json_object_get(b, "visibility"));
    const char *preset = json_string_value(json_object_get(b, "preset"));
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *topic = json_string_value(json_object_get(b, "topic"));
    const char *alias_name = json_string_value(json_object_get(b, "room_alias_name"));
    const char *version = json_string_value(json_object_get(b, "room_version"));
    bool is_direct = json_is_true(json_object_get(b, "is_direct"));
    bool public_room = visibility && strcmp(visibility, "public") == 0;
    if (visibility && !public_room && strcmp(visibility, "private") != 0) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid visibility %s", visibility);
        return;
    }
    if (!preset)
        preset = public_room ? "public_chat" : "private_chat";
    bool trusted = strcmp(preset, "trusted_private_chat") == 0;
    bool private_preset = trusted || strcmp(preset, "private_chat") == 0;
    if (!private_preset && strcmp(preset, "public_chat") != 0) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid preset %s", preset);
        return;
    }
    if (!version)
        version = "10";
    if (!known_version(version)) {
        hs_error(r, 400, "M_UNSUPPORTED_ROOM_VERSION",
                 "Your homeserver does not support this room version");
        return;
    }
    if (atoi(version) >= 6) {
        json_t *parts[] = {initial, creation, pl_override};
        for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
            const char *why = parts[i] ? hs_json_canonical_invalid(parts[i]) : NULL;
            if (why) {
                hs_error(r, 400, "M_BAD_JSON", "%s", why);
                return;
            }
        }
    }
    char *alias = NULL;
    if (alias_name) {
        if (!*alias_name || strpbrk(alias_name, ": \t\n#")) {
            hs_error(r, 400, "M_INVALID_PARAM", "Invalid characters in room alias");
            return;
        }
        alias = g_strdup_printf("#%s:%s", alias_name, hs->cfg.server_name);
        if (strlen(alias) > HS_MAX_ID) {
            g_free(alias);
            hs_error(r, 400, "M_INVALID_PARAM", "Room alias too long");
            return;
        }
        if (g_hash_table_contains(hs->aliases, alias)) {
            g_free(alias);
            hs_error(r, 400, "M_ROOM_IN_USE", "Room alias already taken");
            return;
        }
    }

    const char *me = r->user->user_id;
    const struct hs_session *s = r->session;
    char *room_id = hs_new_room_id(hs);
    struct hs_room *room = hs_room_new(hs, room_id, version);
    g_free(room_id);
    room->published = public_room;

    json_t *create = creation ? json_deep_copy(creation) : json_object();
    json_object_set_new(create, "room_version", json_string(version));
    if (strcmp(version, "11") != 0)
        json_object_set_new(create, "creator", json_string(me));
    else
        json_object_del(create, "creator");
    hs_room_append(hs, room, "m.room.create", "", me, create, s, NULL);
    hs_room_append(hs, room, "m.room.member", me, me, hs_member_content(hs, me, "join"), s, NULL);

    if (!in_initial_state(initial, "m.room.power_levels")) {
        json_t *pl = default_power_levels(me, private_preset, invite, trusted);
        if (pl_override)
            json_object_update(pl, pl_override);
        hs_room_append(hs, room, "m.room.power_levels", "", me, pl, s, NULL);
    }
    if (alias && !in_initial_state(initial, "m.room.canonical_alias")) {
        g_hash_table_insert(hs->aliases, g_strdup(alias), g_strdup(room->room_id));
        hs_room_append(hs, room, "m.room.canonical_alias", "", me,
                       json_pack("{s:s}", "alias", alias), s, NULL);
    } else if (alias) {
        g_hash_table_insert(hs->aliases, g_strdup(alias), g_strdup(room->room_id));
    }
    if (!in_initial_state(initial, "m.room.join_rules"))
        hs_room_append(hs, room, "m.room.join_rules", "", me,
                       json_pack("{s:s}", "join_rule", private_preset ? "invite" : "public"), s,
                       NULL);
    if (!in_initial_state(initial, "m.room.history_visibility"))
        hs_room_append(hs, room, "m.room.history_visibility", "", me,
                       json_pack("{s:s}", "history_visibility", "shared"), s, NULL);
    if (private_preset && !in_initial_state(initial, "m.room.guest_access"))
        hs_room_append(hs, room, "m.room.guest_access", "", me,
                       json_pack("{s:s}", "guest_access", "can_join"), s, NULL);
    size_t i;
    json_t *v;
    json_array_foreach(initial, i, v)
    {
        const char *key = json_string_value(json_object_get(v, "state_key"));
        hs_room_append(hs, room, json_string_value(json_object_get(v, "type")), key ? key : "", me,
                       json_deep_copy(json_object_get(v, "content")), s, NULL);
    }
    if (name)
        hs_room_append(hs, room, "m.room.name", "", me, json_pack("{s:s}", "name", name), s, NULL);
    if (topic)
        hs_room_append(hs, room, "m.room.topic", "", me, json_pack("{s:s}", "topic", topic), s,
                       NULL);
    json_array_foreach(invite, i, v)
    {
        const char *target = json_string_value(v);
        if (strcmp(target, me) == 0 || g_strcmp0(hs_membership(room, target), "invite") == 0)
            continue;
        json_t *c = hs_member_content(hs, target, "invite");
        if (is_direct)
            json_object_set_new(c, "is_direct", json_true());
        hs_room_append(hs, room, "m.room.member", target, me, c, s, NULL);
    }
    logc_info(room->room_id, "created by %s (preset %s, version %s)", me, preset, version);

    json_t *resp = json_pack("{s:s}", "room_id", room->room_id);
    if (alias)
        json_object_set_new(resp, "room_alias", json_string(alias));
    g_free(alias);
    hs_reply(r, 200, resp);
}

/* ---- aliases and the public room list ---------------------------------------------------- */

static bool alias_param(struct hs_req *r, const char **alias)
{
    *alias = r->args[0];
    const char *colon = strchr(*alias, ':');
    if ((*alias)[0] != '#' || !colon || colon == *alias + 1 || strlen(*alias) > HS_MAX_ID) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid room alias");
        return false;
    }
    return true;
}

void hs_h_alias_get(struct hs_req *r)
{
    const char *alias;
    if (!alias_param(r, &alias))
        return;
    const char *room_id = g_hash_table_lookup(r->hs->aliases, alias);
    if (room_id)
        hs_reply(r, 200,
                 json_pack("{s:s, s:[s]}", "room_id", room_id, "servers", r->hs->cfg.server_name));
    else
        hs_error(r, 404, "M_NOT_FOUND", "Room alias %s not found", alias);
}

void hs_h_alias_put(struct hs_req *r)
{
    const char *alias, *room_id;
    if (!alias_param(r, &alias))
        return;
    if (strcmp(strchr(alias, ':') + 1, r->hs->cfg.server_name) != 0) {
        hs_error(r, 400, "M_INVALID_PARAM", "Room alias must be on this server");
        return;
    }
    if (!hs_json_opt_string(r->json, "room_id", &room_id) || !room_id) {
        hs_error(r, 400, "M_BAD_JSON", "room_id must be a string");
        return;
    }
    if (!hs_room_get(r->hs, room_id)) {
        hs_error(r, 404, "M_NOT_FOUND", "Unknown room %s", room_id);
        return;
    }
    if (g_hash_table_contains(r->hs->aliases, alias)) {
        hs_error(r, 409, "M_UNKNOWN", "Room alias %s already exists", alias);
        return;
    }
    g_hash_table_insert(r->hs->aliases, g_strdup(alias), g_strdup(room_id));
    hs_reply_empty(r);
}

void hs_h_alias_delete(struct hs_req *r)
{
    const char *alias;
    if (!alias_param(r, &alias))
        return;
    const char *room_id = g_hash_table_lookup(r->hs->aliases, alias);
    if (!room_id) {
        hs_error(r, 404, "M_NOT_FOUND", "Room alias %s not found", alias);
        return;
    }
    struct hs_room *room = hs_room_get(r->hs, room_id);
    if (!room || g_strcmp0(hs_membership(room, r->user->user_id), "join") != 0) {
        hs_error(r, 403, "M_FORBIDDEN", "You don't have permission to delete the alias");
        return;
    }
    g_hash_table_remove(r->hs->aliases, alias);
    hs_reply_empty(r);
}

static const char *state_str(struct hs_room *room, const char *type, const char *field)
{
    const struct hs_event *ev = hs_state_get(room, type, "");
    return ev ? json_string_value(json_object_get(ev->content, field)) : NULL;
}

void hs_h_public_rooms(struct hs_req *r)
{
    const char *term = NULL;
    json_t *filter = NULL;
    if (r->json && hs_json_opt_object(r->json, "filter", &filter) && filter)
        hs_json_opt_string(filter, "generic_search_term", &term);
    json_t *chunk = json_array();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, r->hs->rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct hs_room *room = v;
        if (!room->published)
            continue;
        const char *name = state_str(room, "m.room.name", "name");
        const char *topic = state_str(room, "m.room.topic", "topic");
        if (term && !(name && strstr(name, term)) && !(topic && strstr(topic, term)))
            continue;
        GPtrArray *joined = hs_room_members(room, "join", r->hs->pos);
        json_t *e =
            json_pack("{s:s, s:i, s:b, s:b}", "room_id", room->room_id, "num_joined_members",
                      (int)joined->len, "world_readable", 0, "guest_can_join", 0);
        g_ptr_array_free(joined, TRUE);
        if (name)
            json_object_set_new(e, "name", json_string(name));
        if (topic)
            json_object_set_new(e, "topic", json_string(topic));
        const char *alias = state_str(room, "m.room.canonical_alias", "alias");
        if (alias)
            json_object_set_new(e, "canonical_alias", json_string(alias));
        const char *jr = state_str(room, "m.room.join_rules", "join_rule");
        if (jr)
            json_object_set_new(e, "join_rule", json_string(jr));
        json_array_append_new(chunk, e);
    }
    size_t n = json_array_size(chunk);
    hs_reply(r, 200, json_pack("{s:o, s:i}", "chunk", chunk, "total_room_count_estimate", (int)n));
}
