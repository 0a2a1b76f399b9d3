/*
 * devhs: the end-to-end encryption key endpoints — upload, query, claim and changes of device
 * keys and one-time / fallback keys, cross-signing keys and signatures — and the device-list
 * part of /sync.
 *
 * The homeserver never understands these keys: it stores what devices upload and hands it to
 * whoever asks, which is all a real one does too. That is enough for matrix-js-sdk's crypto to
 * set up Olm sessions and share Megolm keys through to-device messages, so encrypted rooms
 * (Element's default for direct chats) work against the fixture. Key backup is not offered
 * (room_keys/version answers 404 like a server without a backup).
 */
#include "tools/devhs/hs.h"

#include <string.h>

static struct hs_device *my_device(struct hs_req *r)
{
    return g_hash_table_lookup(r->user->devices, r->session->device_id);
}

/* "signed_curve25519:AAAAHQ" -> counts["signed_curve25519"]++ */
json_t *hs_keys_otk_counts(const struct hs_device *d)
{
    json_t *counts = json_pack("{s:i}", "signed_curve25519", 0);
    const char *id;
    json_t *v;
    json_object_foreach(d ? d->otks : NULL, id, v)
    {
        const char *colon = strchr(id, ':');
        char *alg = colon ? g_strndup(id, (gsize)(colon - id)) : g_strdup(id);
        json_object_set_new(counts, alg,
                            json_integer(json_integer_value(json_object_get(counts, alg)) + 1));
        g_free(alg);
    }
    return counts;
}

json_t *hs_keys_unused_fallback(const struct hs_device *d)
{
    json_t *algs = json_array();
    if (!d || !d->fallback || d->fallback_used)
        return algs;
    const char *id;
    json_t *v;
    json_object_foreach(d->fallback, id, v)
    {
        const char *colon = strchr(id, ':');
        char *alg = colon ? g_strndup(id, (gsize)(colon - id)) : g_strdup(id);
        if (!hs_strv_contains(algs, alg))
            json_array_append_new(algs, json_string(alg));
        g_free(alg);
    }
    return algs;
}

void hs_h_keys_upload(struct hs_req *r)
{
    struct hs_device *d = my_device(r);
    json_t *dk, *otks, *fallback;
    if (!d) {
        hs_error(r, 400, "M_UNKNOWN", "Device not found");
        return;
    }
    if (!hs_json_opt_object(r->json, "device_keys", &dk) ||
        !hs_json_opt_object(r->json, "one_time_keys", &otks) ||
        !hs_json_opt_object(r->json, "fallback_keys", &fallback)) {
        hs_error(r, 400, "M_BAD_JSON", "device_keys, one_time_keys and fallback_keys are objects");
        return;
    }
    if (!fallback && !hs_json_opt_object(r->json, "org.matrix.msc2732.fallback_keys", &fallback)) {
        hs_error(r, 400, "M_BAD_JSON", "fallback_keys must be an object");
        return;
    }
    if (dk) {
        const char *uid = json_string_value(json_object_get(dk, "user_id"));
        const char *did = json_string_value(json_object_get(dk, "device_id"));
        if (!uid || !did || strcmp(uid, r->user->user_id) != 0 || strcmp(did, d->device_id) != 0) {
            hs_error(r, 400, "M_INVALID_PARAM", "User ID or device ID does not match the token");
            return;
        }
        if (!d->keys || !json_equal(d->keys, dk)) {
            json_decref(d->keys);
            d->keys = json_deep_copy(dk);
            r->user->keys_pos = r->hs->keys_pos = hs_next_pos(r->hs);
            hs_wake_mates(r->hs, r->user->user_id);
        }
    }
    if (otks) {
        if (!d->otks)
            d->otks = json_object();
        const char *id;
        json_t *v;
        json_object_foreach(otks, id, v)
        {
            if (!json_object_get(d->otks, id) && json_object_size(d->otks) < 10000)
                json_object_set(d->otks, id, v);
        }
    }
    if (fallback && json_object_size(fallback)) {
        json_decref(d->fallback);
        d->fallback = json_deep_copy(fallback);
        d->fallback_used = false;
    }
    hs_reply(r, 200, json_pack("{s:o}", "one_time_key_counts", hs_keys_otk_counts(d)));
}

static json_t *device_keys_for_query(const struct hs_device *d)
{
    json_t *k = json_deep_copy(d->keys);
    json_t *u = json_object_get(k, "unsigned");
    if (!json_is_object(u)) {
        u = json_object();
        json_object_set_new(k, "unsigned", u);
    }
    if (d->display_name)
        json_object_set_new(u, "device_display_name", json_string(d->display_name));
    return k;
}

void hs_h_keys_query(struct hs_req *r)
{
    json_t *want;
    if (!hs_json_opt_object(r->json, "device_keys", &want) || !want) {
        hs_error(r, 400, "M_BAD_JSON", "device_keys must be an object");
        return;
    }
    json_t *device_keys = json_object(), *master = json_object(), *self_signing = json_object(),
           *user_signing = json_object();
    const char *uid;
    json_t *devices;
    json_object_foreach(want, uid, devices)
    {
        if (!json_is_array(devices)) {
            json_decref(device_keys);
            json_decref(master);
            json_decref(self_signing);
            json_decref(user_signing);
            hs_error(r, 400, "M_BAD_JSON", "device_keys must map users to device lists");
            return;
        }
        struct hs_user *u = hs_user_get(r->hs, uid);
        json_t *out = json_object();
        json_object_set_new(device_keys, uid, out);
        if (!u)
            continue;
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, u->devices);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            const struct hs_device *d = v;
            if (d->keys && (!json_array_size(devices) || hs_strv_contains(devices, k)))
                json_object_set_new(out, k, device_keys_for_query(d));
        }
        json_t *cs = u->cross_signing;
        if (json_object_get(cs, "master_key"))
            json_object_set(master, uid, json_object_get(cs, "master_key"));
        if (json_object_get(cs, "self_signing_key"))
            json_object_set(self_signing, uid, json_object_get(cs, "self_signing_key"));
        if (u == r->user && json_object_get(cs, "user_signing_key"))
            json_object_set(user_signing, uid, json_object_get(cs, "user_signing_key"));
    }
    hs_reply(r, 200,
             json_pack("{s:o, s:o, s:o, s:o, s:{}}", "device_keys", device_keys, "master_keys",
                       master, "self_signing_keys", self_signing, "user_signing_keys", user_signing,
                       "failures"));
}

/* Takes one key of algorithm alg from keys (removing it); NULL when there is none. */
static json_t *take_key(json_t *keys, const char *alg, bool remove, char **id_out)
{
    size_t n = strlen(alg);
    const char *id;
    json_t *v;
    json_object_foreach(keys, id, v)
    {
        if (strncmp(id, alg, n) == 0 && id[n] == ':') {
            *id_out = g_strdup(id);
            json_incref(v);
            if (remove)
                json_object_del(keys, id);
            return v;
        }
    }
    return NULL;
}

void hs_h_keys_claim(struct hs_req *r)
{
    json_t *want;
    if (!hs_json_opt_object(r->json, "one_time_keys", &want) || !want) {
        hs_error(r, 400, "M_BAD_JSON", "one_time_keys must be an object");
        return;
    }
    json_t *result = json_object();
    const char *uid;
    json_t *devices;
    json_object_foreach(want, uid, devices)
    {
        struct hs_user *u = hs_user_get(r->hs, uid);
        if (!u || !json_is_object(devices))
            continue;
        const char *did;
        json_t *alg;
        json_object_foreach(devices, did, alg)
        {
            struct hs_device *d = g_hash_table_lookup(u->devices, did);
            if (!d || !json_is_string(alg))
                continue;
            char *id = NULL;
            json_t *key = take_key(d->otks, json_string_value(alg), true, &id);
            if (!key && d->fallback) {
                key = take_key(d->fallback, json_string_value(alg), false, &id);
                d->fallback_used = key != NULL;
            }
            if (!key)
                continue;
            json_t *per_user = json_object_get(result, uid);
            if (!per_user) {
                per_user = json_object();
                json_object_set_new(result, uid, per_user);
            }
            json_t *per_dev = json_object();
            json_object_set_new(per_dev, id, key);
            json_object_set_new(per_user, did, per_dev);
            g_free(id);
        }
    }
    hs_reply(r, 200, json_pack("{s:o, s:{}}", "one_time_keys", result, "failures"));
}

/* Users sharing a joined room with user_id, with the position at which they started to. */
static GHashTable *room_mates(struct hs *hs, const char *user_id)
{
    GHashTable *mates = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTable *rooms = hs_index_rooms(hs, user_id);
    if (!rooms)
        return mates;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct hs_room *room = v;
        if (g_strcmp0(hs_membership(room, user_id), "join") != 0)
            continue;
        GPtrArray *members = hs_room_members(room, "join", hs->pos);
        for (guint i = 0; i < members->len; i++)
            g_hash_table_add(mates, g_ptr_array_index(members, i));
        g_ptr_array_free(members, TRUE);
    }
    return mates;
}

void hs_keys_device_lists(struct hs *hs, const char *user_id, uint64_t since, json_t *changed,
                          json_t *left)
{
    GHashTable *rooms = hs_index_rooms(hs, user_id);
    GHashTableIter it;
    gpointer k, v;
    /* Walking every room mate is the expensive part: skip it when nothing can have changed,
     * which is what nearly every wake-up of a parked /sync finds. */
    bool members_moved = false;
    if (rooms) {
        g_hash_table_iter_init(&it, rooms);
        while (!members_moved && g_hash_table_iter_next(&it, &k, &v))
            members_moved = ((struct hs_room *)v)->last_member_pos > since;
    }
    if (hs->keys_pos <= since && !members_moved)
        return;
    GHashTable *mates = room_mates(hs, user_id);
    g_hash_table_iter_init(&it, mates);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct hs_user *u = hs_user_get(hs, k);
        if (u && u->keys_pos > since)
            json_array_append_new(changed, json_string(k));
    }
    /* Membership changes after since in rooms we are in: newcomers count as changed (we may
     * never have seen their devices), people we no longer share any room with as left. */
    if (rooms) {
        g_hash_table_iter_init(&it, rooms);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            struct hs_room *room = v;
            if (room->last_member_pos <= since)
                continue;
            for (guint i = room->events->len; i-- > 0;) {
                const struct hs_event *ev = g_ptr_array_index(room->events, i);
                if (ev->pos <= since)
                    break;
                if (!ev->state_key || strcmp(ev->type, "m.room.member") != 0 ||
                    strcmp(ev->state_key, user_id) == 0)
                    continue;
                const char *who = ev->state_key;
                bool shares = g_hash_table_contains(mates, who);
                if (shares && !hs_strv_contains(changed, who))
                    json_array_append_new(changed, json_string(who));
                else if (!shares && !hs_strv_contains(left, who))
                    json_array_append_new(left, json_string(who));
            }
        }
    }
    g_hash_table_destroy(mates);
}

void hs_h_keys_changes(struct hs_req *r)
{
    uint64_t from, to;
    if (!hs_token_parse(hs_query(r, "from"), &from)) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid or missing 'from' token");
        return;
    }
    if (!hs_query(r, "to"))
        to = r->hs->pos;
    else if (!hs_token_parse(hs_query(r, "to"), &to)) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid 'to' token");
        return;
    }
    (void)to; /* everything up to now: a later change is reported again, which is harmless */
    json_t *changed = json_array(), *left = json_array();
    hs_keys_device_lists(r->hs, r->user->user_id, from, changed, left);
    hs_reply(r, 200, json_pack("{s:o, s:o}", "changed", changed, "left", left));
}

void hs_h_keys_device_signing(struct hs_req *r)
{
    struct hs_user *u = r->user;
    json_t *auth;
    if (!hs_json_opt_object(r->json, "auth", &auth)) {
        hs_error(r, 400, "M_BAD_JSON", "auth must be an object");
        return;
    }
    json_t *next_master = json_object_get(r->json, "master_key");
    json_t *cur_master = json_object_get(u->cross_signing, "master_key");
    /* Like Synapse: the first upload needs no auth, replacing a master key does. */
    if (cur_master && next_master && !json_equal(cur_master, next_master) && !auth) {
        char *sid = hs_random_string(24, NULL);
        hs_reply(r, 401,
                 json_pack("{s:s, s:[{s:[s]}, {s:[s]}], s:{}, s:[]}", "session", sid, "flows",
                           "stages", "m.login.password", "stages", "m.login.dummy", "params",
                           "completed"));
        g_free(sid);
        return;
    }
    if (!u->cross_signing)
        u->cross_signing = json_object();
    static const char *const kinds[] = {"master_key", "self_signing_key", "user_signing_key"};
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        json_t *k = json_object_get(r->json, kinds[i]);
        if (json_is_object(k))
            json_object_set_new(u->cross_signing, kinds[i], json_deep_copy(k));
    }
    u->keys_pos = r->hs->keys_pos = hs_next_pos(r->hs);
    hs_wake_mates(r->hs, u->user_id);
    hs_reply_empty(r);
}

/* Merges the signatures of signed into the stored object target. */
static void merge_signatures(json_t *target, json_t *signed_obj)
{
    json_t *add = json_object_get(signed_obj, "signatures");
    if (!json_is_object(add))
        return;
    json_t *sigs = json_object_get(target, "signatures");
    if (!json_is_object(sigs)) {
        sigs = json_object();
        json_object_set_new(target, "signatures", sigs);
    }
    const char *signer;
    json_t *by_key;
    json_object_foreach(add, signer, by_key)
    {
        json_t *mine = json_object_get(sigs, signer);
        if (!json_is_object(mine)) {
            mine = json_object();
            json_object_set_new(sigs, signer, mine);
        }
        if (json_is_object(by_key))
            json_object_update(mine, by_key);
    }
}

void hs_h_keys_signatures(struct hs_req *r)
{
    const char *uid;
    json_t *per_user;
    json_object_foreach(r->json, uid, per_user)
    {
        struct hs_user *u = hs_user_get(r->hs, uid);
        if (!u || !json_is_object(per_user))
            continue;
        const char *key_id;
        json_t *obj;
        json_object_foreach(per_user, key_id, obj)
        {
            struct hs_device *d = g_hash_table_lookup(u->devices, key_id);
            if (d && d->keys) {
                merge_signatures(d->keys, obj);
                continue;
            }
            const char *kinds[] = {"master_key", "self_signing_key", "user_signing_key"};
            for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
                json_t *k = json_object_get(u->cross_signing, kinds[i]);
                json_t *keys = json_object_get(k, "keys");
                const char *kid;
                json_t *kv;
                json_object_foreach(keys, kid, kv)
                {
                    const char *colon = strchr(kid, ':');
                    if (colon && strcmp(colon + 1, key_id) == 0)
                        merge_signatures(k, obj);
                }
            }
        }
        u->keys_pos = r->hs->keys_pos = hs_next_pos(r->hs);
        hs_wake_mates(r->hs, u->user_id);
    }
    hs_reply(r, 200, json_pack("{s:{}}", "failures"));
}

void hs_h_room_keys_version(struct hs_req *r)
{
    hs_error(r, 404, "M_NOT_FOUND", "No current backup version");
}
