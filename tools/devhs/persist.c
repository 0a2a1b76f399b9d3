/*
 * devhs: the state file — everything a client could notice across a restart: users and their
 * passwords (salted hashes), devices, access tokens with their transaction ids, rooms with every
 * event, account data, filters, receipts, pending to-device messages, aliases and the stream
 * position. Typing notifications are ephemeral and do not survive, as on a real server.
 *
 * One JSON document, written to a temporary file and renamed over the old one so a crash in the
 * middle never leaves half a state. Loading replays each room's events through the same insert
 * path the live server uses, so the derived indexes (state history, membership) are rebuilt
 * rather than stored; a file that is not what we wrote is refused with a message, never
 * trusted.
 */
#include "tools/devhs/hs.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_FORMAT  "devhs-state"
#define STATE_VERSION 1

/* ---- save -------------------------------------------------------------------------------- */

static json_t *save_account_data(GHashTable *data)
{
    json_t *o = json_object();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, data);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct hs_account_data *ad = v;
        json_object_set_new(
            o, k, json_pack("{s:O, s:I}", "content", ad->content, "pos", (json_int_t)ad->pos));
    }
    return o;
}

static json_t *save_user(const struct hs_user *u)
{
    json_t *j = json_pack("{s:s, s:s, s:I, s:I}", "user_id", u->user_id, "presence", u->presence,
                          "last_active_ts", (json_int_t)u->last_active_ts, "presence_pos",
                          (json_int_t)u->presence_pos);
    if (u->password_hash) {
        json_object_set_new(j, "salt", json_string(u->salt));
        json_object_set_new(j, "password_hash", json_string(u->password_hash));
    }
    if (u->displayname)
        json_object_set_new(j, "displayname", json_string(u->displayname));
    if (u->avatar_url)
        json_object_set_new(j, "avatar_url", json_string(u->avatar_url));
    if (u->status_msg)
        json_object_set_new(j, "status_msg", json_string(u->status_msg));
    json_object_set_new(j, "account_data", save_account_data(u->account_data));

    json_t *rad = json_object();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, u->room_account_data);
    while (g_hash_table_iter_next(&it, &k, &v))
        json_object_set_new(rad, k, save_account_data(v));
    json_object_set_new(j, "room_account_data", rad);

    json_t *filters = json_array();
    for (guint i = 0; i < u->filters->len; i++)
        json_array_append(filters, g_ptr_array_index(u->filters, i));
    json_object_set_new(j, "filters", filters);

    json_t *devices = json_array();
    g_hash_table_iter_init(&it, u->devices);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct hs_device *d = v;
        json_t *dj = json_pack("{s:s, s:I, s:b}", "device_id", d->device_id, "last_seen_ts",
                               (json_int_t)d->last_seen_ts, "fallback_used", d->fallback_used);
        if (d->display_name)
            json_object_set_new(dj, "display_name", json_string(d->display_name));
        if (d->keys)
            json_object_set(dj, "keys", d->keys);
        if (d->otks)
            json_object_set(dj, "one_time_keys", d->otks);
        if (d->fallback)
            json_object_set(dj, "fallback_keys", d->fallback);
        json_array_append_new(devices, dj);
    }
    json_object_set_new(j, "devices", devices);

    json_t *td = json_object();
    g_hash_table_iter_init(&it, u->to_device);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        GPtrArray *q = v;
        json_t *list = json_array();
        for (guint i = 0; i < q->len; i++) {
            const struct hs_to_device *m = g_ptr_array_index(q, i);
            json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:O}", "pos", (json_int_t)m->pos,
                                                  "sender", m->sender, "type", m->type, "content",
                                                  m->content));
        }
        json_object_set_new(td, k, list);
    }
    json_object_set_new(j, "to_device", td);

    json_t *forgotten = json_object();
    g_hash_table_iter_init(&it, u->forgotten);
    while (g_hash_table_iter_next(&it, &k, &v))
        json_object_set_new(forgotten, k, json_integer((json_int_t) * (uint64_t *)v));
    json_object_set_new(j, "forgotten", forgotten);
    if (u->cross_signing)
        json_object_set(j, "cross_signing", u->cross_signing);
    json_object_set_new(j, "keys_pos", json_integer((json_int_t)u->keys_pos));
    return j;
}

static json_t *save_event(const struct hs_event *ev)
{
    json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:I, s:O}", "pos", (json_int_t)ev->pos, "event_id",
                          ev->event_id, "type", ev->type, "sender", ev->sender, "ts",
                          (json_int_t)ev->ts, "content", ev->content);
    if (ev->state_key)
        json_object_set_new(j, "state_key", json_string(ev->state_key));
    if (ev->extra)
        json_object_set(j, "extra", ev->extra);
    if (ev->redacted_because)
        json_object_set(j, "redacted_because", ev->redacted_because);
    if (ev->txn_id) {
        json_object_set_new(j, "txn_id", json_string(ev->txn_id));
        json_object_set_new(j, "session", json_integer((json_int_t)ev->session));
    }
    return j;
}

static json_t *save_room(const struct hs_room *room)
{
    json_t *events = json_array();
    for (guint i = 0; i < room->events->len; i++)
        json_array_append_new(events, save_event(g_ptr_array_index(room->events, i)));
    json_t *receipts = json_array();
    for (guint i = 0; i < room->receipts->len; i++) {
        const struct hs_receipt *rc = g_ptr_array_index(room->receipts, i);
        json_t *rj = json_pack("{s:s, s:s, s:s, s:I, s:I}", "user_id", rc->user_id, "type",
                               rc->type, "event_id", rc->event_id, "ts", (json_int_t)rc->ts, "pos",
                               (json_int_t)rc->pos);
        if (rc->thread_id)
            json_object_set_new(rj, "thread_id", json_string(rc->thread_id));
        json_array_append_new(receipts, rj);
    }
    return json_pack("{s:s, s:s, s:b, s:o, s:o}", "room_id", room->room_id, "version",
                     room->version, "published", room->published, "events", events, "receipts",
                     receipts);
}

int hs_state_save(struct hs *hs, const char *path)
{
    json_t *users = json_array(), *sessions = json_array(), *rooms = json_array();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, hs->users);
    while (g_hash_table_iter_next(&it, &k, &v))
        json_array_append_new(users, save_user(v));
    g_hash_table_iter_init(&it, hs->sessions);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct hs_session *s = v;
        json_t *txns = json_object();
        GHashTableIter ti;
        gpointer tk, tv;
        g_hash_table_iter_init(&ti, s->txns);
        while (g_hash_table_iter_next(&ti, &tk, &tv))
            json_object_set_new(txns, tk, json_string(tv));
        json_array_append_new(sessions, json_pack("{s:s, s:I, s:s, s:s, s:o}", "token", s->token,
                                                  "id", (json_int_t)s->id, "user_id", s->user_id,
                                                  "device_id", s->device_id, "txns", txns));
    }
    g_hash_table_iter_init(&it, hs->rooms);
    while (g_hash_table_iter_next(&it, &k, &v))
        json_array_append_new(rooms, save_room(v));
    json_t *aliases = json_object();
    g_hash_table_iter_init(&it, hs->aliases);
    while (g_hash_table_iter_next(&it, &k, &v))
        json_object_set_new(aliases, k, json_string(v));

    json_t *root =
        json_pack("{s:s, s:i, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "format", STATE_FORMAT,
                  "version", STATE_VERSION, "server_name", hs->cfg.server_name, "pos",
                  (json_int_t)hs->pos, "next_session_id", (json_int_t)hs->next_session_id,
                  "next_generated_user", (json_int_t)hs->next_generated_user, "users", users,
                  "sessions", sessions, "rooms", rooms, "aliases", aliases);
    if (!root) {
        log_error("state file %s: cannot build the state document", path);
        return ENOMEM;
    }
    char *tmp = g_strconcat(path, ".tmp", NULL);
    int err = 0;
    /* 0600: the file holds access tokens. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || json_dumpfd(root, fd, JSON_COMPACT) || fsync(fd)) {
        err = errno ? errno : EIO;
        log_error("state file %s: cannot write %s: %s", path, tmp, strerror(err));
    }
    if (fd >= 0 && close(fd) && !err)
        err = errno;
    if (!err && rename(tmp, path)) {
        err = errno;
        log_error("state file %s: rename failed: %s", path, strerror(err));
    }
    if (err)
        unlink(tmp);
    else
        log_info("state saved to %s (%u users, %u rooms, position %" G_GUINT64_FORMAT ")", path,
                 g_hash_table_size(hs->users), g_hash_table_size(hs->rooms), hs->pos);
    g_free(tmp);
    json_decref(root);
    return err;
}

/* ---- load -------------------------------------------------------------------------------- */

static int bad(const char *path, const char *what, const json_error_t *e)
{
    log_error("state file %s: %s%s%s", path, what, e ? ": " : "", e ? e->text : "");
    return EBADMSG;
}

static int load_account_data(GHashTable *data, json_t *j)
{
    const char *type;
    json_t *v;
    json_object_foreach(j, type, v)
    {
        json_t *content;
        json_int_t pos;
        if (json_unpack(v, "{s:o, s:I}", "content", &content, "pos", &pos) ||
            !json_is_object(content))
            return EBADMSG;
        g_hash_table_replace(data, g_strdup(type),
                             hs_account_data_new(json_incref(content), (uint64_t)pos));
    }
    return 0;
}

static int load_user(struct hs *hs, json_t *j, const char *path)
{
    const char *user_id, *salt = NULL, *hash = NULL, *dn = NULL, *av = NULL, *presence = NULL,
                         *msg = NULL;
    json_int_t last_active = 0, presence_pos = 0, keys_pos = 0;
    json_t *ad = NULL, *rad = NULL, *filters = NULL, *devices = NULL, *td = NULL, *forgotten = NULL,
           *cross_signing = NULL;
    json_error_t e;
    if (json_unpack_ex(j, &e, 0,
                       "{s:s, s?s, s?s, s?s, s?s, s?s, s?s, s?I, s?I, s?o, s?o, s?o, s?o, s?o, "
                       "s?o, s?o, s?I}",
                       "user_id", &user_id, "salt", &salt, "password_hash", &hash, "displayname",
                       &dn, "avatar_url", &av, "presence", &presence, "status_msg", &msg,
                       "last_active_ts", &last_active, "presence_pos", &presence_pos,
                       "account_data", &ad, "room_account_data", &rad, "filters", &filters,
                       "devices", &devices, "to_device", &td, "forgotten", &forgotten,
                       "cross_signing", &cross_signing, "keys_pos", &keys_pos))
        return bad(path, "bad user", &e);
    if (!hs_valid_user_id(user_id) || hs_user_get(hs, user_id) || (!salt != !hash))
        return bad(path, "bad or duplicate user", NULL);
    struct hs_user *u = hs_user_create(hs, user_id, NULL);
    u->salt = g_strdup(salt);
    u->password_hash = g_strdup(hash);
    g_free(u->displayname);
    u->displayname = g_strdup(dn);
    u->avatar_url = g_strdup(av);
    if (presence) {
        g_free(u->presence);
        u->presence = g_strdup(presence);
    }
    u->status_msg = g_strdup(msg);
    u->last_active_ts = last_active;
    u->presence_pos = (uint64_t)presence_pos;
    u->keys_pos = (uint64_t)keys_pos;
    if (u->keys_pos > hs->keys_pos)
        hs->keys_pos = u->keys_pos;
    u->cross_signing = json_is_object(cross_signing) ? json_incref(cross_signing) : NULL;
    if (u->presence_pos > hs->presence_pos)
        hs->presence_pos = u->presence_pos;
    if (ad && load_account_data(u->account_data, ad))
        return bad(path, "bad account data", NULL);
    const char *k;
    json_t *v;
    json_object_foreach(rad, k, v)
    {
        if (load_account_data(hs_room_account_data(u, k, true), v))
            return bad(path, "bad room account data", NULL);
    }
    size_t i;
    json_array_foreach(filters, i, v)
    {
        if (!json_is_object(v))
            return bad(path, "bad filter", NULL);
        g_ptr_array_add(u->filters, json_incref(v));
    }
    json_array_foreach(devices, i, v)
    {
        const char *device_id, *name = NULL;
        json_int_t seen = 0;
        int fallback_used = 0;
        json_t *keys = NULL, *otks = NULL, *fallback = NULL;
        if (json_unpack(v, "{s:s, s?s, s?I, s?b, s?o, s?o, s?o}", "device_id", &device_id,
                        "display_name", &name, "last_seen_ts", &seen, "fallback_used",
                        &fallback_used, "keys", &keys, "one_time_keys", &otks, "fallback_keys",
                        &fallback) ||
            (keys && !json_is_object(keys)) || (otks && !json_is_object(otks)) ||
            (fallback && !json_is_object(fallback)))
            return bad(path, "bad device", NULL);
        struct hs_device *d = hs_device_new(device_id, name);
        d->last_seen_ts = seen;
        d->keys = json_incref(keys);
        d->otks = json_incref(otks);
        d->fallback = json_incref(fallback);
        d->fallback_used = fallback_used;
        g_hash_table_replace(u->devices, d->device_id, d);
    }
    json_object_foreach(td, k, v)
    {
        GPtrArray *q = g_ptr_array_new_with_free_func(hs_to_device_free);
        g_hash_table_replace(u->to_device, g_strdup(k), q);
        size_t n;
        json_t *m;
        json_array_foreach(v, n, m)
        {
            const char *sender, *type;
            json_t *content;
            json_int_t pos;
            if (json_unpack(m, "{s:I, s:s, s:s, s:o}", "pos", &pos, "sender", &sender, "type",
                            &type, "content", &content))
                return bad(path, "bad to-device message", NULL);
            g_ptr_array_add(q, hs_to_device_new((uint64_t)pos, sender, type, content));
        }
    }
    json_object_foreach(forgotten, k, v)
    {
        if (!json_is_integer(v))
            return bad(path, "bad forgotten room", NULL);
        uint64_t *pos = g_new(uint64_t, 1);
        *pos = (uint64_t)json_integer_value(v);
        g_hash_table_replace(u->forgotten, g_strdup(k), pos);
    }
    return 0;
}

static int load_session(struct hs *hs, json_t *j, const char *path)
{
    const char *token, *user_id, *device_id;
    json_int_t id;
    json_t *txns = NULL;
    json_error_t e;
    if (json_unpack_ex(j, &e, 0, "{s:s, s:I, s:s, s:s, s?o}", "token", &token, "id", &id, "user_id",
                       &user_id, "device_id", &device_id, "txns", &txns))
        return bad(path, "bad session", &e);
    if (!hs_user_get(hs, user_id) || g_hash_table_contains(hs->sessions, token))
        return bad(path, "session of an unknown user, or a duplicate token", NULL);
    struct hs_session *s = hs_session_new(token, (uint64_t)id, user_id, device_id);
    g_hash_table_insert(hs->sessions, s->token, s);
    const char *k;
    json_t *v;
    json_object_foreach(txns, k, v)
    {
        if (!json_is_string(v))
            return bad(path, "bad transaction", NULL);
        g_hash_table_replace(s->txns, g_strdup(k), g_strdup(json_string_value(v)));
    }
    return 0;
}

static int load_room(struct hs *hs, json_t *j, const char *path)
{
    const char *room_id, *version;
    int published = 0;
    json_t *events, *receipts = NULL;
    json_error_t e;
    if (json_unpack_ex(j, &e, 0, "{s:s, s:s, s?b, s:o, s?o}", "room_id", &room_id, "version",
                       &version, "published", &published, "events", &events, "receipts", &receipts))
        return bad(path, "bad room", &e);
    if (!hs_valid_room_id(room_id) || hs_room_get(hs, room_id) || !json_is_array(events))
        return bad(path, "bad or duplicate room", NULL);
    struct hs_room *room = hs_room_new(hs, room_id, version);
    room->published = published;
    uint64_t last = 0;
    size_t i;
    json_t *v;
    json_array_foreach(events, i, v)
    {
        const char *event_id, *type, *sender, *state_key = NULL, *txn_id = NULL;
        json_int_t pos, ts, session = 0;
        json_t *content, *extra = NULL, *redacted = NULL;
        if (json_unpack_ex(v, &e, 0, "{s:I, s:s, s:s, s:s, s:I, s:o, s?s, s?o, s?o, s?s, s?I}",
                           "pos", &pos, "event_id", &event_id, "type", &type, "sender", &sender,
                           "ts", &ts, "content", &content, "state_key", &state_key, "extra", &extra,
                           "redacted_because", &redacted, "txn_id", &txn_id, "session", &session))
            return bad(path, "bad event", &e);
        if ((uint64_t)pos <= last || !json_is_object(content) ||
            g_hash_table_contains(room->by_id, event_id))
            return bad(path, "events out of order or duplicated", NULL);
        last = (uint64_t)pos;
        struct hs_event *ev = hs_event_new();
        ev->pos = (uint64_t)pos;
        ev->event_id = g_strdup(event_id);
        ev->type = g_strdup(type);
        ev->sender = g_strdup(sender);
        ev->state_key = g_strdup(state_key);
        ev->ts = ts;
        ev->content = json_incref(content);
        ev->extra = json_incref(extra);
        ev->redacted_because = json_incref(redacted);
        ev->txn_id = g_strdup(txn_id);
        ev->session = (uint64_t)session;
        hs_room_insert(hs, room, ev);
        if (ev->pos > hs->pos)
            hs->pos = ev->pos;
        if (ev->ts > hs->last_ts)
            hs->last_ts = ev->ts;
    }
    json_array_foreach(receipts, i, v)
    {
        const char *user_id, *type, *event_id, *thread_id = NULL;
        json_int_t ts, pos;
        if (json_unpack(v, "{s:s, s:s, s:s, s:I, s:I, s?s}", "user_id", &user_id, "type", &type,
                        "event_id", &event_id, "ts", &ts, "pos", &pos, "thread_id", &thread_id))
            return bad(path, "bad receipt", NULL);
        struct hs_receipt *rc = hs_receipt_new(user_id, type, thread_id);
        rc->event_id = g_strdup(event_id);
        rc->ts = ts;
        rc->pos = (uint64_t)pos;
        g_ptr_array_add(room->receipts, rc);
        if (rc->pos > room->receipts_pos)
            room->receipts_pos = rc->pos;
    }
    return 0;
}

/* A forgotten room stays forgotten unless the membership changed after the forget. */
static void apply_forgotten(struct hs *hs)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, hs->users);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct hs_user *u = v;
        GHashTableIter fi;
        gpointer room_id, pos;
        g_hash_table_iter_init(&fi, u->forgotten);
        while (g_hash_table_iter_next(&fi, &room_id, &pos)) {
            struct hs_room *room = hs_room_get(hs, room_id);
            const struct hs_event *m = room ? hs_member_event(room, u->user_id) : NULL;
            if (m && m->pos == *(uint64_t *)pos)
                hs_index_remove(hs, u->user_id, room_id);
        }
    }
}

int hs_state_load(struct hs *hs, const char *path)
{
    if (access(path, F_OK) != 0) {
        log_info("state file %s does not exist yet: starting empty", path);
        return 0;
    }
    json_error_t e;
    json_t *root = json_load_file(path, 0, &e);
    if (!root)
        return bad(path, "not JSON", &e);
    const char *format, *server_name;
    int version;
    json_int_t pos, next_session, next_user;
    json_t *users, *sessions, *rooms, *aliases;
    int err = 0;
    if (json_unpack_ex(root, &e, 0, "{s:s, s:i, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "format",
                       &format, "version", &version, "server_name", &server_name, "pos", &pos,
                       "next_session_id", &next_session, "next_generated_user", &next_user, "users",
                       &users, "sessions", &sessions, "rooms", &rooms, "aliases", &aliases)) {
        err = bad(path, "not a devhs state file", &e);
        goto out;
    }
    if (strcmp(format, STATE_FORMAT) != 0 || version != STATE_VERSION) {
        err = bad(path, "unknown format or version", NULL);
        goto out;
    }
    if (strcmp(server_name, hs->cfg.server_name) != 0) {
        log_error("state file %s belongs to server name %s, not %s", path, server_name,
                  hs->cfg.server_name);
        err = EINVAL;
        goto out;
    }
    hs->pos = (uint64_t)pos;
    hs->next_session_id = (uint64_t)next_session;
    hs->next_generated_user = (uint64_t)next_user;
    size_t i;
    json_t *v;
    json_array_foreach(users, i, v)
    {
        if ((err = load_user(hs, v, path)))
            goto out;
    }
    json_array_foreach(sessions, i, v)
    {
        if ((err = load_session(hs, v, path)))
            goto out;
    }
    json_array_foreach(rooms, i, v)
    {
        if ((err = load_room(hs, v, path)))
            goto out;
    }
    const char *alias;
    json_object_foreach(aliases, alias, v)
    {
        if (json_is_string(v))
            g_hash_table_replace(hs->aliases, g_strdup(alias), g_strdup(json_string_value(v)));
    }
    apply_forgotten(hs);
    log_info("state loaded from %s (%u users, %u rooms, position %" G_GUINT64_FORMAT ")", path,
             g_hash_table_size(hs->users), g_hash_table_size(hs->rooms), hs->pos);
out:
    json_decref(root);
    return err;
}
