/*
 * devhs: per-user data — account data (global and per room), profile, presence and the user
 * directory. A profile change is copied into the user's member event in every joined room, as
 * Synapse does, because clients show member names from room state, not from /profile.
 */
#include "tools/devhs/hs.h"

#include <string.h>

#define MAX_PROFILE_FIELD 1024

void hs_account_data_set(struct hs *hs, struct hs_user *u, GHashTable *data, const char *type,
                         json_t *content)
{
    struct hs_account_data *ad = g_hash_table_lookup(data, type);
    if (!ad) {
        ad = hs_account_data_new(NULL, 0);
        g_hash_table_insert(data, g_strdup(type), ad);
    }
    json_decref(ad->content);
    ad->content = content;
    ad->pos = hs_next_pos(hs);
    g_cond_broadcast(&u->wake);
}

GHashTable *hs_room_account_data(struct hs_user *u, const char *room_id, bool create)
{
    GHashTable *t = g_hash_table_lookup(u->room_account_data, room_id);
    if (!t && create) {
        t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, hs_account_data_free);
        g_hash_table_insert(u->room_account_data, g_strdup(room_id), t);
    }
    return t;
}

static bool own(struct hs_req *r, const char *what)
{
    if (strcmp(r->args[0], r->user->user_id) == 0)
        return true;
    hs_error(r, 403, "M_FORBIDDEN", "Cannot %s account data for other users.", what);
    return false;
}

static bool type_ok(struct hs_req *r, const char *type)
{
    if (*type && strlen(type) <= HS_MAX_ID)
        return true;
    hs_error(r, 400, "M_INVALID_PARAM", "Invalid account data type");
    return false;
}

void hs_h_account_data_put(struct hs_req *r)
{
    const char *type = r->args[1];
    if (!own(r, "add") || !type_ok(r, type))
        return;
    if (strcmp(type, "m.push_rules") == 0) {
        hs_error(r, 400, "M_BAD_JSON", "Cannot set m.push_rules through this API");
        return;
    }
    hs_account_data_set(r->hs, r->user, r->user->account_data, type, json_deep_copy(r->json));
    hs_reply_empty(r);
}

static void reply_account_data(struct hs_req *r, GHashTable *data, const char *type)
{
    const struct hs_account_data *ad = data ? g_hash_table_lookup(data, type) : NULL;
    if (!ad)
        hs_error(r, 404, "M_NOT_FOUND", "Account data not found");
    else
        hs_reply(r, 200, json_incref(ad->content));
}

void hs_h_account_data_get(struct hs_req *r)
{
    if (own(r, "get"))
        reply_account_data(r, r->user->account_data, r->args[1]);
}

static bool room_id_ok(struct hs_req *r, const char *room_id)
{
    if (hs_valid_room_id(room_id))
        return true;
    hs_error(r, 400, "M_INVALID_PARAM", "%s is not a valid room ID", room_id);
    return false;
}

void hs_h_room_account_data_put(struct hs_req *r)
{
    const char *room_id = r->args[1], *type = r->args[2];
    if (!own(r, "add") || !room_id_ok(r, room_id) || !type_ok(r, type))
        return;
    if (strcmp(type, "m.fully_read") == 0) {
        hs_error(r, 400, "M_BAD_JSON", "Cannot set m.fully_read through this API");
        return;
    }
    hs_account_data_set(r->hs, r->user, hs_room_account_data(r->user, room_id, true), type,
                        json_deep_copy(r->json));
    hs_reply_empty(r);
}

void hs_h_room_account_data_get(struct hs_req *r)
{
    if (own(r, "get") && room_id_ok(r, r->args[1]))
        reply_account_data(r, hs_room_account_data(r->user, r->args[1], false), r->args[2]);
}

/* ---- profile ----------------------------------------------------------------------------- */

static struct hs_user *profile_user(struct hs_req *r)
{
    struct hs_user *u = hs_valid_user_id(r->args[0]) ? hs_user_get(r->hs, r->args[0]) : NULL;
    if (!u)
        hs_error(r, 404, "M_NOT_FOUND", "Profile was not found");
    return u;
}

void hs_h_profile(struct hs_req *r)
{
    struct hs_user *u = profile_user(r);
    if (!u)
        return;
    json_t *p = json_object();
    if (u->displayname)
        json_object_set_new(p, "displayname", json_string(u->displayname));
    if (u->avatar_url)
        json_object_set_new(p, "avatar_url", json_string(u->avatar_url));
    hs_reply(r, 200, p);
}

static char **field_of(struct hs_user *u, const char *field)
{
    if (strcmp(field, "displayname") == 0)
        return &u->displayname;
    if (strcmp(field, "avatar_url") == 0)
        return &u->avatar_url;
    return NULL;
}

void hs_h_profile_field(struct hs_req *r)
{
    struct hs_user *u = profile_user(r);
    if (!u)
        return;
    char **f = field_of(u, r->args[1]);
    if (!f || !*f) {
        hs_error(r, 404, "M_NOT_FOUND", "Profile field not found");
        return;
    }
    json_t *p = json_object();
    json_object_set_new(p, r->args[1], json_string(*f));
    hs_reply(r, 200, p);
}

void hs_h_profile_put(struct hs_req *r)
{
    struct hs_user *u = r->user;
    if (strcmp(r->args[0], u->user_id) != 0) {
        hs_error(r, 403, "M_FORBIDDEN", "Cannot set another user's profile");
        return;
    }
    const char *field = r->args[1];
    char **f = field_of(u, field);
    if (!f) {
        hs_error(r, 400, "M_UNRECOGNIZED", "Unknown profile field %s", field);
        return;
    }
    const char *value;
    if (!hs_json_opt_string(r->json, field, &value)) {
        hs_error(r, 400, "M_BAD_JSON", "%s must be a string", field);
        return;
    }
    if (value && strlen(value) > MAX_PROFILE_FIELD) {
        hs_error(r, 400, "M_BAD_JSON", "%s is too long", field);
        return;
    }
    g_free(*f);
    *f = value && *value ? g_strdup(value) : NULL;

    GHashTable *rooms = hs_index_rooms(r->hs, u->user_id);
    if (rooms) {
        GPtrArray *joined = g_ptr_array_new();
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, rooms);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            if (g_strcmp0(hs_membership(v, u->user_id), "join") == 0)
                g_ptr_array_add(joined, v);
        }
        for (guint i = 0; i < joined->len; i++) {
            struct hs_room *room = g_ptr_array_index(joined, i);
            json_t *c = json_deep_copy(hs_member_event(room, u->user_id)->content);
            if (*f)
                json_object_set_new(c, field, json_string(*f));
            else
                json_object_del(c, field);
            hs_room_append(r->hs, room, "m.room.member", u->user_id, u->user_id, c, r->session,
                           NULL);
        }
        g_ptr_array_free(joined, TRUE);
    }
    hs_reply_empty(r);
}

/* ---- presence ---------------------------------------------------------------------------- */

void hs_h_presence_get(struct hs_req *r)
{
    struct hs_user *u = hs_user_get(r->hs, r->args[0]);
    if (!u) {
        hs_error(r, 404, "M_NOT_FOUND", "Unknown user");
        return;
    }
    json_t *p = json_pack("{s:s, s:b}", "presence", u->presence, "currently_active",
                          strcmp(u->presence, "online") == 0);
    if (u->last_active_ts)
        json_object_set_new(p, "last_active_ago",
                            json_integer(g_get_real_time() / 1000 - u->last_active_ts));
    if (u->status_msg)
        json_object_set_new(p, "status_msg", json_string(u->status_msg));
    hs_reply(r, 200, p);
}

void hs_h_presence_put(struct hs_req *r)
{
    struct hs_user *u = r->user;
    if (strcmp(r->args[0], u->user_id) != 0) {
        hs_error(r, 403, "M_FORBIDDEN", "Can only set your own presence state");
        return;
    }
    const char *presence, *msg;
    if (!hs_json_opt_string(r->json, "presence", &presence) ||
        !hs_json_opt_string(r->json, "status_msg", &msg)) {
        hs_error(r, 400, "M_BAD_JSON", "presence and status_msg must be strings");
        return;
    }
    if (!presence) {
        hs_error(r, 400, "M_MISSING_PARAM", "Missing presence");
        return;
    }
    if (strcmp(presence, "online") != 0 && strcmp(presence, "offline") != 0 &&
        strcmp(presence, "unavailable") != 0) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid presence state");
        return;
    }
    if (msg && strlen(msg) > MAX_PROFILE_FIELD) {
        hs_error(r, 400, "M_BAD_JSON", "status_msg is too long");
        return;
    }
    g_free(u->presence);
    u->presence = g_strdup(presence);
    g_free(u->status_msg);
    u->status_msg = msg ? g_strdup(msg) : NULL;
    u->last_active_ts = hs_now_ms(r->hs);
    u->presence_pos = r->hs->presence_pos = hs_next_pos(r->hs);
    hs_wake_mates(r->hs, u->user_id);
    hs_reply_empty(r);
}

/* ---- user directory ---------------------------------------------------------------------- */

static gint by_user_id(gconstpointer a, gconstpointer b)
{
    const struct hs_user *x = *(const struct hs_user *const *)a;
    const struct hs_user *y = *(const struct hs_user *const *)b;
    return strcmp(x->user_id, y->user_id);
}

/* Every local user matches, like Synapse with search_all_users enabled. */
void hs_h_user_directory(struct hs_req *r)
{
    const char *term;
    json_t *limit = json_object_get(r->json, "limit");
    if (!hs_json_opt_string(r->json, "search_term", &term) || (limit && !json_is_integer(limit))) {
        hs_error(r, 400, "M_BAD_JSON", "search_term must be a string and limit an integer");
        return;
    }
    if (!term) {
        hs_error(r, 400, "M_MISSING_PARAM", "Missing search_term");
        return;
    }
    json_int_t max = limit ? json_integer_value(limit) : 10;
    if (max < 0)
        max = 0;
    char *needle = g_utf8_casefold(term, -1);
    GPtrArray *hits = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, r->hs->users);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct hs_user *u = v;
        char *id = g_utf8_casefold(u->user_id, -1);
        char *dn = u->displayname ? g_utf8_casefold(u->displayname, -1) : NULL;
        if (strstr(id, needle) || (dn && strstr(dn, needle)))
            g_ptr_array_add(hits, u);
        g_free(id);
        g_free(dn);
    }
    g_free(needle);
    g_ptr_array_sort(hits, by_user_id);
    json_t *results = json_array();
    for (guint i = 0; i < hits->len && (json_int_t)i < max; i++) {
        const struct hs_user *u = g_ptr_array_index(hits, i);
        json_t *e = json_pack("{s:s}", "user_id", u->user_id);
        if (u->displayname)
            json_object_set_new(e, "display_name", json_string(u->displayname));
        if (u->avatar_url)
            json_object_set_new(e, "avatar_url", json_string(u->avatar_url));
        json_array_append_new(results, e);
    }
    bool limited = (json_int_t)hits->len > max;
    g_ptr_array_free(hits, TRUE);
    hs_reply(r, 200, json_pack("{s:o, s:b}", "results", results, "limited", limited));
}
