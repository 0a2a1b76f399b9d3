/*
 * devhs: the model's lifetime and the small pieces every handler needs — identifiers, stream
 * tokens, the timestamp clock, and JSON field checks that tell "absent" from "wrong type"
 * (the spec answers the first with defaults and the second with 400 M_BAD_JSON).
 */
#include "tools/devhs/hs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static void ht_destroy(gpointer p)
{
    g_hash_table_destroy(p);
}

void *hs_zalloc(size_t size, mem_destroy_h *dh)
{
    void *p = mem_zalloc(size, dh);
    if (!p)
        g_error("devhs: out of memory");
    return p;
}

static void hs_destroy(void *p)
{
    struct hs *hs = p;
    g_hash_table_destroy(hs->sessions);
    g_hash_table_destroy(hs->memberships);
    g_hash_table_destroy(hs->rooms);
    g_hash_table_destroy(hs->users);
    g_hash_table_destroy(hs->aliases);
    g_hash_table_destroy(hs->uia);
    g_free(hs->fault_match);
    g_free(hs->base_url);
    g_mutex_clear(&hs->lock);
}

struct hs *hs_new(const struct hs_config *cfg)
{
    struct hs *hs = hs_zalloc(sizeof(*hs), hs_destroy);
    g_mutex_init(&hs->lock);
    hs->cfg = *cfg;
    hs->next_session_id = 1;
    hs->next_generated_user = 1;
    hs->fault_count = -1;
    hs->users = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, hs_user_free);
    hs->sessions = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, hs_session_free);
    hs->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, hs_room_free);
    hs->aliases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    hs->memberships = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ht_destroy);
    hs->uia = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return hs;
}

void hs_free(struct hs *hs)
{
    mem_deref(hs);
}

int64_t hs_now_ms(struct hs *hs)
{
    int64_t now = g_get_real_time() / 1000;
    if (now < hs->last_ts) /* the wall clock stepped back: keep timestamps in stream order */
        now = hs->last_ts;
    hs->last_ts = now;
    return now;
}

uint64_t hs_next_pos(struct hs *hs)
{
    return ++hs->pos;
}

void hs_wake_user(struct hs *hs, const char *user_id)
{
    struct hs_user *u = hs_user_get(hs, user_id);
    if (u)
        g_cond_broadcast(&u->wake);
}

void hs_wake_room(struct hs *hs, const struct hs_room *room)
{
    static const char prefix[] = "m.room.member\x1f";
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, room->state);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (strncmp(k, prefix, sizeof(prefix) - 1) == 0)
            hs_wake_user(hs, (const char *)k + sizeof(prefix) - 1);
    }
}

void hs_wake_mates(struct hs *hs, const char *user_id)
{
    hs_wake_user(hs, user_id);
    GHashTable *rooms = hs_index_rooms(hs, user_id);
    if (!rooms)
        return;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, rooms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (g_strcmp0(hs_membership(v, user_id), "join") == 0)
            hs_wake_room(hs, v);
    }
}

void hs_wake_all(struct hs *hs)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, hs->users);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_cond_broadcast(&((struct hs_user *)v)->wake);
}

char *hs_random_string(size_t n, const char *alphabet)
{
    if (!alphabet)
        alphabet = alnum;
    size_t k = strlen(alphabet);
    char *s = g_malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = alphabet[g_random_int_range(0, (gint32)k)];
    s[n] = '\0';
    return s;
}

/* Room versions 4 and later: "$" + 43 characters of URL-safe unpadded base64 (a hash there,
 * random here; clients treat it as opaque). */
char *hs_new_event_id(void)
{
    guchar raw[32];
    for (size_t i = 0; i < sizeof(raw); i += 4) {
        guint32 v = g_random_int();
        memcpy(raw + i, &v, 4);
    }
    gchar *b = g_base64_encode(raw, sizeof(raw));
    for (char *p = b; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    }
    char *eq = strchr(b, '=');
    if (eq)
        *eq = '\0';
    char *id = g_strconcat("$", b, NULL);
    g_free(b);
    return id;
}

char *hs_new_room_id(struct hs *hs)
{
    for (;;) {
        char *local = hs_random_string(18, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
        char *id = g_strdup_printf("!%s:%s", local, hs->cfg.server_name);
        g_free(local);
        if (!g_hash_table_contains(hs->rooms, id))
            return id;
        g_free(id);
    }
}

char *hs_token_string(uint64_t pos)
{
    return g_strdup_printf("s%" G_GUINT64_FORMAT, pos);
}

bool hs_token_parse(const char *s, uint64_t *pos)
{
    if (!s || s[0] != 's' || s[1] < '0' || s[1] > '9' || strlen(s) > 21)
        return false;
    char *end;
    guint64 v = g_ascii_strtoull(s + 1, &end, 10);
    if (*end)
        return false;
    *pos = v;
    return true;
}

bool hs_valid_user_id(const char *s)
{
    if (!s || s[0] != '@' || strlen(s) > HS_MAX_ID)
        return false;
    const char *colon = strchr(s, ':');
    return colon && colon > s + 1 && colon[1] != '\0';
}

bool hs_valid_room_id(const char *s)
{
    if (!s || s[0] != '!' || strlen(s) > HS_MAX_ID)
        return false;
    const char *colon = strchr(s, ':');
    return colon && colon > s + 1 && colon[1] != '\0';
}

/* The spec's grammar for new user ids (historical ones may be wider; we only mint new ones). */
bool hs_valid_localpart(const char *s, const char **why)
{
    if (!*s) {
        *why = "User ID cannot be empty";
        return false;
    }
    if (s[0] == '_') {
        *why = "User ID may not begin with _";
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("._=-/+", *p))) {
            *why = "User ID can only contain characters a-z, 0-9, or '=_-./+'";
            return false;
        }
    }
    return true;
}

json_t *hs_json_parse(const char *buf, size_t len, json_error_t *err)
{
    unsigned depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > HS_MAX_DEPTH) {
                memset(err, 0, sizeof(*err));
                snprintf(err->text, sizeof(err->text), "nested deeper than %d levels",
                         HS_MAX_DEPTH);
                return NULL;
            }
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return json_loadb(buf, len, 0, err);
}

const char *hs_json_canonical_invalid(json_t *j)
{
    const json_int_t max = ((json_int_t)1 << 53) - 1;
    size_t i;
    const char *k;
    json_t *v;
    switch (json_typeof(j)) {
    case JSON_REAL:
        return "Bad JSON value: float";
    case JSON_INTEGER:
        if (json_integer_value(j) > max || json_integer_value(j) < -max)
            return "JSON integer out of range";
        return NULL;
    case JSON_OBJECT:
        json_object_foreach(j, k, v)
        {
            const char *why = hs_json_canonical_invalid(v);
            if (why)
                return why;
        }
        return NULL;
    case JSON_ARRAY:
        json_array_foreach(j, i, v)
        {
            const char *why = hs_json_canonical_invalid(v);
            if (why)
                return why;
        }
        return NULL;
    default:
        return NULL;
    }
}

bool hs_json_opt_string(json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = NULL;
        return true;
    }
    if (!json_is_string(v))
        return false;
    *out = json_string_value(v);
    return true;
}

bool hs_json_opt_bool(json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return true; /* keep the caller's default */
    if (!json_is_boolean(v))
        return false;
    *out = json_is_true(v);
    return true;
}

bool hs_json_opt_object(json_t *obj, const char *key, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = NULL;
        return true;
    }
    if (!json_is_object(v))
        return false;
    *out = v;
    return true;
}

bool hs_json_opt_array(json_t *obj, const char *key, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = NULL;
        return true;
    }
    if (!json_is_array(v))
        return false;
    *out = v;
    return true;
}

bool hs_strv_contains(json_t *array, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

char *hs_hash_password(const char *salt, const char *password)
{
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(c, (const guchar *)salt, (gssize)strlen(salt));
    g_checksum_update(c, (const guchar *)password, (gssize)strlen(password));
    char *hex = g_strdup(g_checksum_get_string(c));
    g_checksum_free(c);
    return hex;
}
