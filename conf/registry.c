#include "conf/registry.h"

#include <errno.h>

#include <glib.h>

#include "base/log.h"
#include "base/mem.h"

struct conf_registry {
    struct conf_mixer *mixer;
    GHashTable *rooms; /* name (the room's own copy) -> struct conf_room * (one reference) */
};

static void unref_room(gpointer p)
{
    mem_deref(p);
}

static void registry_destroy(void *data)
{
    struct conf_registry *r = data;
    if (r->rooms)
        g_hash_table_destroy(r->rooms);
    mem_deref(r->mixer);
}

int conf_registry_alloc(struct conf_registry **rp, struct conf_mixer *mixer)
{
    struct conf_registry *r = mem_zalloc(sizeof(*r), registry_destroy);
    if (!r)
        return ENOMEM;
    r->mixer = mem_ref(mixer);
    r->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, unref_room);
    *rp = r;
    return 0;
}

struct conf_room *conf_registry_find(struct conf_registry *r, const char *name)
{
    return g_hash_table_lookup(r->rooms, name);
}

unsigned conf_registry_count(const struct conf_registry *r)
{
    return g_hash_table_size(r->rooms);
}

int conf_registry_join(struct conf_registry *r, const char *name, const struct conf_port *port,
                       const char *label, struct conf_member **mp)
{
    struct conf_room *room = conf_registry_find(r, name);
    bool opened = false;
    if (!room) {
        int err = conf_room_alloc(&room, r->mixer, name);
        if (err)
            return err;
        g_hash_table_insert(r->rooms, g_strdup(name), room);
        opened = true;
        log_info("[conf=%s] conference opened", name);
    }
    int err = conf_room_join(room, port, label, mp);
    if (err && opened)
        g_hash_table_remove(r->rooms, name);
    return err;
}

void conf_registry_leave(struct conf_registry *r, struct conf_member *mb)
{
    struct conf_room *room = conf_member_room(mb);
    if (!room)
        return;
    conf_member_leave(mb);
    if (conf_room_count(room) == 0) {
        log_info("[conf=%s] conference closed", conf_room_name(room));
        g_hash_table_remove(r->rooms, conf_room_name(room)); /* frees room: key first */
    }
}
