/*
 * The room model the sync loop keeps: per room, every member's membership, the name and
 * whether encryption was turned on. It holds only what the call bridge asks about, so a room
 * costs a hash of members and two fields; the rest of the state stays on the homeserver.
 *
 * Input comes from sync, that is from other people's clients through the homeserver: events
 * that are not objects, ids that are not ids and contents of the wrong type are skipped with a
 * warning naming the room.
 */
#include "signalling/mx_internal.h"

#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mx_room {
    char *id;
    GHashTable *members; /* user id -> GINT_TO_POINTER(enum mx_membership) */
    unsigned joined;
    char *name;
    bool encrypted;
    char *last_event; /* the last timeline event handed to the handlers, for gap fetches */
};

bool mx_valid_id(const char *id, char sigil)
{
    if (!id || id[0] != sigil)
        return false;
    size_t n = strlen(id);
    if (n < 2 || n > MX_ID_MAX)
        return false;
    for (const char *p = id; *p; p++) {
        if ((unsigned char)*p < 0x21 || *p == 0x7f)
            return false;
    }
    return true;
}

static void room_free(gpointer data)
{
    struct mx_room *r = data;
    g_hash_table_unref(r->members);
    g_free(r->name);
    g_free(r->last_event);
    g_free(r->id);
    g_free(r);
}

struct mx_room *mx_rooms_get(struct mx_client *c, const char *room_id, bool create)
{
    if (!c->rooms) {
        if (!create)
            return NULL;
        c->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, room_free);
    }
    struct mx_room *r = room_id ? g_hash_table_lookup(c->rooms, room_id) : NULL;
    if (r || !create)
        return r;
    r = g_new0(struct mx_room, 1);
    r->id = g_strdup(room_id);
    r->members = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_hash_table_insert(c->rooms, r->id, r);
    return r;
}

void mx_rooms_drop(struct mx_client *c, const char *room_id)
{
    if (c->rooms)
        g_hash_table_remove(c->rooms, room_id);
}

void mx_rooms_free(struct mx_client *c)
{
    if (c->rooms)
        g_hash_table_unref(c->rooms);
    c->rooms = NULL;
}

static enum mx_membership parse_membership(const char *s)
{
    static const struct {
        const char *name;
        enum mx_membership m;
    } map[] = {
        {"invite", MX_MEMBERSHIP_INVITE}, {"join", MX_MEMBERSHIP_JOIN},
        {"leave", MX_MEMBERSHIP_LEAVE},   {"ban", MX_MEMBERSHIP_BAN},
        {"knock", MX_MEMBERSHIP_KNOCK},
    };
    for (size_t i = 0; s && i < G_N_ELEMENTS(map); i++) {
        if (strcmp(s, map[i].name) == 0)
            return map[i].m;
    }
    return MX_MEMBERSHIP_NONE;
}

void mx_rooms_set_membership(struct mx_room *r, const char *user_id, enum mx_membership m)
{
    enum mx_membership old = GPOINTER_TO_INT(g_hash_table_lookup(r->members, user_id));
    if (old == MX_MEMBERSHIP_JOIN && m != MX_MEMBERSHIP_JOIN)
        r->joined--;
    else if (old != MX_MEMBERSHIP_JOIN && m == MX_MEMBERSHIP_JOIN)
        r->joined++;
    g_hash_table_insert(r->members, g_strdup(user_id), GINT_TO_POINTER(m));
}

void mx_rooms_set_last_event(struct mx_room *r, const char *event_id)
{
    if (!r || !event_id || (r->last_event && strcmp(r->last_event, event_id) == 0))
        return;
    g_free(r->last_event);
    r->last_event = g_strdup(event_id);
}

const char *mx_rooms_last_event(struct mx_room *r)
{
    return r ? r->last_event : NULL;
}

enum mx_membership mx_room_self(struct mx_client *c, struct mx_room *r)
{
    return r ? GPOINTER_TO_INT(g_hash_table_lookup(r->members, c->user_id)) : MX_MEMBERSHIP_NONE;
}

void mx_rooms_apply(struct mx_client *c, struct mx_room *r, json_t *ev)
{
    char ctx[MX_ID_MAX + 8];
    snprintf(ctx, sizeof(ctx), "room=%s", r->id);
    if (!json_is_object(ev)) {
        logc_warn(ctx, "mx: skipping an event that is not an object");
        return;
    }
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *skey = json_string_value(json_object_get(ev, "state_key"));
    json_t *content = json_object_get(ev, "content");
    if (!type || !skey)
        return; /* not a state event */
    if (!json_is_object(content)) {
        logc_warn(ctx, "mx: skipping %s state event without a content object", type);
        return;
    }

    if (strcmp(type, "m.room.member") == 0) {
        if (!mx_valid_id(skey, '@')) {
            logc_warn(ctx, "mx: skipping m.room.member with an invalid state_key");
            return;
        }
        const char *ms = json_string_value(json_object_get(content, "membership"));
        enum mx_membership m = parse_membership(ms);
        if (m == MX_MEMBERSHIP_NONE) {
            logc_warn(ctx, "mx: skipping m.room.member of %s with membership '%s'", skey,
                      ms ? ms : "(none)");
            return;
        }
        mx_rooms_set_membership(r, skey, m);
    } else if (strcmp(type, "m.room.name") == 0 && skey[0] == '\0') {
        const char *name = json_string_value(json_object_get(content, "name"));
        g_free(r->name);
        r->name = name && name[0] ? g_strdup(name) : NULL;
    } else if (strcmp(type, "m.room.encryption") == 0 && skey[0] == '\0') {
        /* Encryption cannot be turned off again (spec 11.12.2): ignore anything that tries. */
        if (json_string_value(json_object_get(content, "algorithm")))
            r->encrypted = true;
    }
}

/* --- public queries --- */

static struct mx_room *lookup(struct mx_client *c, const char *room_id)
{
    return c && room_id ? mx_rooms_get(c, room_id, false) : NULL;
}

enum mx_membership mx_room_membership(struct mx_client *c, const char *room_id, const char *user_id)
{
    struct mx_room *r = lookup(c, room_id);
    if (!r || !user_id)
        return MX_MEMBERSHIP_NONE;
    return GPOINTER_TO_INT(g_hash_table_lookup(r->members, user_id));
}

unsigned mx_room_joined_count(struct mx_client *c, const char *room_id)
{
    struct mx_room *r = lookup(c, room_id);
    return r ? r->joined : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

unsigned mx_room_joined_others(struct mx_client *c, const char *room_id, const char **out,
                               unsigned cap)
{
    struct mx_room *r = lookup(c, room_id);
    if (!r)
        return 0;
    GPtrArray *all = g_ptr_array_sized_new(r->joined);
    GHashTableIter it;
    gpointer key, val;
    g_hash_table_iter_init(&it, r->members);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        if (GPOINTER_TO_INT(val) == MX_MEMBERSHIP_JOIN && strcmp(key, c->user_id) != 0)
            g_ptr_array_add(all, key);
    }
    if (all->len > 1) /* pdata may be NULL when empty, and qsort must not see NULL */
        qsort(all->pdata, all->len, sizeof(gpointer), cmp_str);
    unsigned n = all->len;
    for (unsigned i = 0; out && i < n && i < cap; i++)
        out[i] = g_ptr_array_index(all, i);
    g_ptr_array_unref(all);
    return n;
}

unsigned mx_direct_rooms(struct mx_client *c, const char *user_id, const char **out, unsigned cap)
{
    if (!c->rooms || !user_id)
        return 0;
    unsigned n = 0;
    GHashTableIter it;
    gpointer val;
    g_hash_table_iter_init(&it, c->rooms);
    while (g_hash_table_iter_next(&it, NULL, &val)) {
        struct mx_room *r = val;
        if (r->joined != 2 ||
            GPOINTER_TO_INT(g_hash_table_lookup(r->members, c->user_id)) != MX_MEMBERSHIP_JOIN ||
            GPOINTER_TO_INT(g_hash_table_lookup(r->members, user_id)) != MX_MEMBERSHIP_JOIN)
            continue;
        if (out && n < cap)
            out[n] = r->id;
        n++;
    }
    return n;
}

const char *mx_room_name(struct mx_client *c, const char *room_id)
{
    struct mx_room *r = lookup(c, room_id);
    return r ? r->name : NULL;
}

bool mx_room_is_encrypted(struct mx_client *c, const char *room_id)
{
    struct mx_room *r = lookup(c, room_id);
    return r && r->encrypted;
}
