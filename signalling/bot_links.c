#include "signalling/bot_links.h"

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/statefile.h"

#define LINKS_FILE "links.json"
#define LINKS_MAX  (4 * 1024 * 1024)

struct link {
    char *user;
    char *group_room;
    char *direct_room;
};

struct bot_links {
    char *state_dir;
    GPtrArray *links; /* struct link * */
};

static void link_free(gpointer p)
{
    struct link *k = p;
    g_free(k->user);
    g_free(k->group_room);
    g_free(k->direct_room);
    g_free(k);
}

static void links_destroy(void *data)
{
    struct bot_links *l = data;
    g_ptr_array_free(l->links, TRUE);
    g_free(l->state_dir);
}

static void add(struct bot_links *l, const char *user, const char *group, const char *direct)
{
    struct link *k = g_new0(struct link, 1);
    k->user = g_strdup(user);
    k->group_room = g_strdup(group);
    k->direct_room = g_strdup(direct);
    g_ptr_array_add(l->links, k);
}

static void load_file(struct bot_links *l)
{
    char *text = NULL;
    size_t len = 0;
    int err = statefile_read(l->state_dir, LINKS_FILE, LINKS_MAX, &text, &len);
    if (err) {
        if (err != ENOENT)
            log_error("cannot read %s/%s: %s; starting without links", l->state_dir, LINKS_FILE,
                      strerror(err));
        return;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    g_free(text);
    json_t *arr = json_object_get(root, "links");
    if (!json_is_array(arr)) {
        log_error("%s/%s is damaged (%s); starting without links", l->state_dir, LINKS_FILE,
                  root ? "no links array" : je.text);
        json_decref(root);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *u = json_string_value(json_object_get(v, "user"));
        const char *g = json_string_value(json_object_get(v, "group_room"));
        const char *d = json_string_value(json_object_get(v, "direct_room"));
        if (u && g && d)
            add(l, u, g, d);
    }
    json_decref(root);
}

static int save(struct bot_links *l)
{
    if (!l->state_dir)
        return 0;
    json_t *arr = json_array();
    for (guint i = 0; i < l->links->len; i++) {
        struct link *k = g_ptr_array_index(l->links, i);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "user", k->user, "group_room",
                                             k->group_room, "direct_room", k->direct_room));
    }
    json_t *root = json_pack("{s:o}", "links", arr);
    char *text = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    int err = statefile_write(l->state_dir, LINKS_FILE, text, strlen(text));
    free(text);
    if (err)
        log_error("cannot save %s/%s: %s", l->state_dir, LINKS_FILE, strerror(err));
    return err;
}

int bot_links_load(struct bot_links **lp, const char *state_dir)
{
    struct bot_links *l = mem_zalloc(sizeof(*l), links_destroy);
    if (!l)
        return ENOMEM;
    l->links = g_ptr_array_new_with_free_func(link_free);
    l->state_dir = g_strdup(state_dir);
    if (state_dir)
        load_file(l);
    *lp = l;
    return 0;
}

static struct link *find_direct(const struct bot_links *l, const char *direct_room)
{
    for (guint i = 0; i < l->links->len; i++) {
        struct link *k = g_ptr_array_index(l->links, i);
        if (strcmp(k->direct_room, direct_room) == 0)
            return k;
    }
    return NULL;
}

const char *bot_links_direct_room(const struct bot_links *l, const char *user,
                                  const char *group_room)
{
    for (guint i = 0; i < l->links->len; i++) {
        struct link *k = g_ptr_array_index(l->links, i);
        if (strcmp(k->user, user) == 0 && strcmp(k->group_room, group_room) == 0)
            return k->direct_room;
    }
    return NULL;
}

const char *bot_links_group_room(const struct bot_links *l, const char *direct_room)
{
    struct link *k = find_direct(l, direct_room);
    return k ? k->group_room : NULL;
}

const char *bot_links_user(const struct bot_links *l, const char *direct_room)
{
    struct link *k = find_direct(l, direct_room);
    return k ? k->user : NULL;
}

int bot_links_set(struct bot_links *l, const char *user, const char *group_room,
                  const char *direct_room)
{
    for (guint i = 0; i < l->links->len; i++) {
        struct link *k = g_ptr_array_index(l->links, i);
        if ((strcmp(k->user, user) == 0 && strcmp(k->group_room, group_room) == 0) ||
            strcmp(k->direct_room, direct_room) == 0) {
            g_ptr_array_remove_index(l->links, i);
            i--;
        }
    }
    add(l, user, group_room, direct_room);
    return save(l);
}

void bot_links_remove_direct(struct bot_links *l, const char *direct_room)
{
    struct link *k = find_direct(l, direct_room);
    if (!k)
        return;
    g_ptr_array_remove(l->links, k);
    save(l);
}
