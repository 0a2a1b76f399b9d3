/*
 * devhs: users, devices and access tokens — registration (user-interactive auth with the
 * m.login.dummy stage only, as a homeserver with open registration offers it), password login,
 * logout, whoami, and the bearer-token check every authenticated route goes through.
 *
 * Passwords are kept as salted SHA-256: this is a fixture, but its state file lands in test
 * output directories and should not carry passwords in the clear.
 */
#include "tools/devhs/hs.h"

#include "base/log.h"

#include <string.h>

static void account_data_destroy(void *p)
{
    struct hs_account_data *ad = p;
    json_decref(ad->content);
}

struct hs_account_data *hs_account_data_new(json_t *content, uint64_t pos)
{
    struct hs_account_data *ad = hs_zalloc(sizeof(*ad), account_data_destroy);
    ad->content = content;
    ad->pos = pos;
    return ad;
}

void hs_account_data_free(void *p)
{
    mem_deref(p);
}

static void ht_destroy(gpointer p)
{
    g_hash_table_destroy(p);
}

static void device_destroy(void *p)
{
    struct hs_device *d = p;
    g_free(d->device_id);
    g_free(d->display_name);
    json_decref(d->keys);
    json_decref(d->otks);
    json_decref(d->fallback);
}

struct hs_device *hs_device_new(const char *device_id, const char *display_name)
{
    struct hs_device *d = hs_zalloc(sizeof(*d), device_destroy);
    d->device_id = g_strdup(device_id);
    d->display_name = g_strdup(display_name);
    return d;
}

void hs_device_free(void *p)
{
    mem_deref(p);
}

static void to_device_destroy(void *p)
{
    struct hs_to_device *m = p;
    g_free(m->sender);
    g_free(m->type);
    json_decref(m->content);
}

struct hs_to_device *hs_to_device_new(uint64_t pos, const char *sender, const char *type,
                                      json_t *content)
{
    struct hs_to_device *m = hs_zalloc(sizeof(*m), to_device_destroy);
    m->pos = pos;
    m->sender = g_strdup(sender);
    m->type = g_strdup(type);
    m->content = json_incref(content);
    return m;
}

void hs_to_device_free(void *p)
{
    mem_deref(p);
}

static void ptr_array_free(gpointer p)
{
    g_ptr_array_free(p, TRUE);
}

static void user_destroy(void *p)
{
    struct hs_user *u = p;
    g_free(u->user_id);
    g_free(u->password_hash);
    g_free(u->salt);
    g_free(u->displayname);
    g_free(u->avatar_url);
    g_hash_table_destroy(u->account_data);
    g_hash_table_destroy(u->room_account_data);
    g_ptr_array_free(u->filters, TRUE);
    g_hash_table_destroy(u->devices);
    g_hash_table_destroy(u->to_device);
    g_free(u->presence);
    g_free(u->status_msg);
    g_hash_table_destroy(u->forgotten);
    json_decref(u->cross_signing);
    g_cond_clear(&u->wake);
}

void hs_user_free(void *p)
{
    mem_deref(p);
}

static void session_destroy(void *p)
{
    struct hs_session *s = p;
    g_free(s->token);
    g_free(s->user_id);
    g_free(s->device_id);
    g_hash_table_destroy(s->txns);
}

struct hs_session *hs_session_new(const char *token, uint64_t id, const char *user_id,
                                  const char *device_id)
{
    struct hs_session *s = hs_zalloc(sizeof(*s), session_destroy);
    s->token = g_strdup(token);
    s->id = id;
    s->user_id = g_strdup(user_id);
    s->device_id = g_strdup(device_id);
    s->txns = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return s;
}

void hs_session_free(void *p)
{
    mem_deref(p);
}

struct hs_user *hs_user_get(struct hs *hs, const char *user_id)
{
    return user_id ? g_hash_table_lookup(hs->users, user_id) : NULL;
}

struct hs_user *hs_user_create(struct hs *hs, const char *user_id, const char *password)
{
    struct hs_user *u = hs_zalloc(sizeof(*u), user_destroy);
    u->user_id = g_strdup(user_id);
    if (password) {
        u->salt = hs_random_string(16, NULL);
        u->password_hash = hs_hash_password(u->salt, password);
    }
    /* Like Synapse: the localpart is the initial display name. */
    const char *colon = strchr(user_id, ':');
    u->displayname = g_strndup(user_id + 1, (gsize)(colon - user_id - 1));
    u->account_data = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, hs_account_data_free);
    u->room_account_data = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ht_destroy);
    u->filters = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
    u->devices = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, hs_device_free);
    u->to_device = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ptr_array_free);
    u->presence = g_strdup("offline");
    u->forgotten = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_cond_init(&u->wake);
    g_hash_table_insert(hs->users, u->user_id, u);
    return u;
}

static struct hs_device *device_ensure(struct hs_user *u, const char *device_id,
                                       const char *display_name)
{
    struct hs_device *d = g_hash_table_lookup(u->devices, device_id);
    if (!d) {
        d = hs_device_new(device_id, NULL);
        g_hash_table_insert(u->devices, d->device_id, d);
    }
    if (display_name) {
        g_free(d->display_name);
        d->display_name = g_strdup(display_name);
    }
    return d;
}

struct hs_session *hs_session_create(struct hs *hs, struct hs_user *u, const char *device_id,
                                     const char *display_name)
{
    char *rnd = hs_random_string(40, NULL);
    char *token = g_strconcat("syt_", rnd, NULL);
    char *dev =
        device_id ? g_strdup(device_id) : hs_random_string(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    struct hs_session *s = hs_session_new(token, hs->next_session_id++, u->user_id, dev);
    g_free(rnd);
    g_free(token);
    g_free(dev);
    if (!g_hash_table_contains(u->devices, s->device_id)) {
        u->keys_pos = hs->keys_pos = hs_next_pos(hs); /* a new device for room mates to see */
        hs_wake_mates(hs, u->user_id);
    }
    device_ensure(u, s->device_id, display_name);
    g_hash_table_insert(hs->sessions, s->token, s);
    return s;
}

bool hs_auth(struct hs_req *r)
{
    const char *token = NULL;
    const char *h = hs_header(r, "Authorization");
    if (h && g_ascii_strncasecmp(h, "Bearer ", 7) == 0)
        token = h + 7;
    if (!token || !*token)
        token = hs_query(r, "access_token");
    if (!token || !*token) {
        hs_error(r, 401, "M_MISSING_TOKEN", "Missing access token");
        return false;
    }
    struct hs_session *s = g_hash_table_lookup(r->hs->sessions, token);
    struct hs_user *u = s ? hs_user_get(r->hs, s->user_id) : NULL;
    if (!s || !u) {
        hs_error(r, 401, "M_UNKNOWN_TOKEN", "Unknown access token");
        return false;
    }
    r->session = s;
    r->user = u;
    struct hs_device *d = g_hash_table_lookup(u->devices, s->device_id);
    if (d)
        d->last_seen_ts = hs_now_ms(r->hs);
    return true;
}

static json_t *login_response(struct hs_req *r, struct hs_session *s)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:{s:s}}}", "user_id", s->user_id, "access_token",
                     s->token, "device_id", s->device_id, "home_server", r->hs->cfg.server_name,
                     "well_known", "m.homeserver", "base_url",
                     r->hs->base_url ? r->hs->base_url : "");
}

/* Lower-cases and validates a requested localpart into a full user id; false after replying. */
static bool desired_user_id(struct hs_req *r, const char *username, char **user_id)
{
    char *local = g_ascii_strdown(username, -1);
    const char *why = NULL;
    if (!hs_valid_localpart(local, &why)) {
        hs_error(r, 400, "M_INVALID_USERNAME", "%s", why);
        g_free(local);
        return false;
    }
    *user_id = g_strdup_printf("@%s:%s", local, r->hs->cfg.server_name);
    g_free(local);
    if (strlen(*user_id) > HS_MAX_ID) {
        hs_error(r, 400, "M_INVALID_USERNAME", "User ID may not be longer than %u characters",
                 HS_MAX_ID);
        g_free(*user_id);
        return false;
    }
    if (hs_user_get(r->hs, *user_id)) {
        hs_error(r, 400, "M_USER_IN_USE", "User ID already taken.");
        g_free(*user_id);
        return false;
    }
    return true;
}

static void reply_uia(struct hs_req *r, const char *session)
{
    json_t *body = json_pack("{s:s, s:[{s:[s]}], s:{}, s:[]}", "session", session, "flows",
                             "stages", "m.login.dummy", "params", "completed");
    hs_reply(r, 401, body);
}

void hs_h_register(struct hs_req *r)
{
    struct hs *hs = r->hs;
    const char *kind = hs_query(r, "kind");
    if (kind && strcmp(kind, "user") != 0) {
        if (strcmp(kind, "guest") == 0)
            hs_error(r, 403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled");
        else
            hs_error(r, 400, "M_INVALID_PARAM", "Invalid kind");
        return;
    }
    const char *username, *password, *device_id, *display_name;
    bool inhibit = false;
    json_t *auth;
    if (!hs_json_opt_string(r->json, "username", &username) ||
        !hs_json_opt_string(r->json, "password", &password) ||
        !hs_json_opt_string(r->json, "device_id", &device_id) ||
        !hs_json_opt_string(r->json, "initial_device_display_name", &display_name) ||
        !hs_json_opt_bool(r->json, "inhibit_login", &inhibit) ||
        !hs_json_opt_object(r->json, "auth", &auth)) {
        hs_error(r, 400, "M_BAD_JSON", "Invalid type for a registration parameter");
        return;
    }
    if (password && strlen(password) > 512) {
        hs_error(r, 400, "M_INVALID_PARAM", "Password too long");
        return;
    }
    if (device_id && (!*device_id || strlen(device_id) > 128)) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid device_id");
        return;
    }

    /* Like Synapse, the user id is checked before the auth stages so a client learns early
     * that its choice is taken. */
    char *user_id = NULL;
    if (username && !desired_user_id(r, username, &user_id))
        return;

    const char *type = NULL, *session = NULL;
    if (auth && (!hs_json_opt_string(auth, "type", &type) ||
                 !hs_json_opt_string(auth, "session", &session))) {
        g_free(user_id);
        hs_error(r, 400, "M_BAD_JSON", "Invalid auth dict");
        return;
    }
    if (!auth || !type) {
        char *sid = session ? g_strdup(session) : hs_random_string(24, NULL);
        if (!g_hash_table_contains(hs->uia, sid) && g_hash_table_size(hs->uia) < 10000)
            g_hash_table_add(hs->uia, g_strdup(sid));
        reply_uia(r, sid);
        g_free(sid);
        g_free(user_id);
        return;
    }
    if (strcmp(type, "m.login.dummy") != 0) {
        g_free(user_id);
        hs_error(r, 400, "M_UNRECOGNIZED", "Unrecognized auth type %s", type);
        return;
    }
    if (session && !g_hash_table_contains(hs->uia, session)) {
        g_free(user_id);
        hs_error(r, 400, "M_UNKNOWN", "Unknown session ID");
        return;
    }
    if (session)
        g_hash_table_remove(hs->uia, session);

    if (!user_id) {
        do {
            g_free(user_id);
            user_id = g_strdup_printf("@%" G_GUINT64_FORMAT ":%s", hs->next_generated_user++,
                                      hs->cfg.server_name);
        } while (hs_user_get(hs, user_id));
    }
    struct hs_user *u = hs_user_create(hs, user_id, password);
    logc_info(user_id, "registered");
    g_free(user_id);
    if (inhibit) {
        hs_reply(
            r, 200,
            json_pack("{s:s, s:s}", "user_id", u->user_id, "home_server", hs->cfg.server_name));
        return;
    }
    struct hs_session *s = hs_session_create(hs, u, device_id, display_name);
    hs_reply(r, 200, login_response(r, s));
}

void hs_h_register_available(struct hs_req *r)
{
    const char *username = hs_query(r, "username");
    if (!username) {
        hs_error(r, 400, "M_MISSING_PARAM", "Missing username");
        return;
    }
    char *user_id = NULL;
    if (!desired_user_id(r, username, &user_id))
        return;
    g_free(user_id);
    hs_reply(r, 200, json_pack("{s:b}", "available", 1));
}

void hs_h_login_flows(struct hs_req *r)
{
    hs_reply(r, 200, json_pack("{s:[{s:s}]}", "flows", "type", "m.login.password"));
}

void hs_h_login(struct hs_req *r)
{
    struct hs *hs = r->hs;
    const char *type, *password, *legacy_user, *device_id, *display_name;
    json_t *ident;
    if (!hs_json_opt_string(r->json, "type", &type) ||
        !hs_json_opt_string(r->json, "password", &password) ||
        !hs_json_opt_string(r->json, "user", &legacy_user) ||
        !hs_json_opt_string(r->json, "device_id", &device_id) ||
        !hs_json_opt_string(r->json, "initial_device_display_name", &display_name) ||
        !hs_json_opt_object(r->json, "identifier", &ident)) {
        hs_error(r, 400, "M_BAD_JSON", "Invalid type for a login parameter");
        return;
    }
    if (!type) {
        hs_error(r, 400, "M_MISSING_PARAM", "Missing login type");
        return;
    }
    if (strcmp(type, "m.login.password") != 0) {
        hs_error(r, 400, "M_UNKNOWN", "Unknown login type %s", type);
        return;
    }
    const char *user = legacy_user;
    if (ident) {
        const char *itype, *iuser;
        if (!hs_json_opt_string(ident, "type", &itype) ||
            !hs_json_opt_string(ident, "user", &iuser)) {
            hs_error(r, 400, "M_BAD_JSON", "Invalid identifier");
            return;
        }
        if (!itype || strcmp(itype, "m.id.user") != 0) {
            hs_error(r, 400, "M_UNKNOWN", "Unknown login identifier type");
            return;
        }
        user = iuser;
    }
    if (!user) {
        hs_error(r, 400, "M_MISSING_PARAM", "User identifier is missing 'user' key");
        return;
    }
    if (!password) {
        hs_error(r, 400, "M_MISSING_PARAM", "Missing parameter: password");
        return;
    }
    if (device_id && (!*device_id || strlen(device_id) > 128)) {
        hs_error(r, 400, "M_INVALID_PARAM", "Invalid device_id");
        return;
    }
    /* Synapse maps logins to lower case; we only ever mint lower-case user ids. */
    char *given =
        user[0] == '@' ? g_strdup(user) : g_strdup_printf("@%s:%s", user, hs->cfg.server_name);
    char *user_id = g_ascii_strdown(given, -1);
    g_free(given);
    struct hs_user *u = hs_user_get(hs, user_id);
    bool ok = false;
    if (u && u->password_hash) {
        char *h = hs_hash_password(u->salt, password);
        ok = strcmp(h, u->password_hash) == 0;
        g_free(h);
    }
    if (!ok) {
        logc_info(user_id, "login refused");
        g_free(user_id);
        hs_error(r, 403, "M_FORBIDDEN", "Invalid username or password");
        return;
    }
    g_free(user_id);
    struct hs_session *s = hs_session_create(hs, u, device_id, display_name);
    logc_info(u->user_id, "logged in, device %s", s->device_id);
    hs_reply(r, 200, login_response(r, s));
}

/* Drops every token of one device (or of all the user's devices when device_id is NULL). */
static void drop_sessions(struct hs *hs, struct hs_user *u, const char *device_id)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, hs->sessions);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct hs_session *s = v;
        if (strcmp(s->user_id, u->user_id) == 0 &&
            (!device_id || strcmp(s->device_id, device_id) == 0))
            g_hash_table_iter_remove(&it);
    }
    /* The device list changed; waking the user also answers a /sync parked on a dropped token
     * with 401 at once. */
    u->keys_pos = hs->keys_pos = hs_next_pos(hs);
    hs_wake_mates(hs, u->user_id);
    if (device_id) {
        g_hash_table_remove(u->devices, device_id);
        g_hash_table_remove(u->to_device, device_id);
    } else {
        g_hash_table_remove_all(u->devices);
        g_hash_table_remove_all(u->to_device);
    }
}

void hs_h_logout(struct hs_req *r)
{
    char *device_id = g_strdup(r->session->device_id);
    logc_info(r->user->user_id, "logged out device %s", device_id);
    drop_sessions(r->hs, r->user, device_id);
    g_free(device_id);
    r->session = NULL;
    hs_reply_empty(r);
}

void hs_h_logout_all(struct hs_req *r)
{
    logc_info(r->user->user_id, "logged out all devices");
    drop_sessions(r->hs, r->user, NULL);
    r->session = NULL;
    hs_reply_empty(r);
}

void hs_h_whoami(struct hs_req *r)
{
    hs_reply(r, 200,
             json_pack("{s:s, s:s, s:b}", "user_id", r->user->user_id, "device_id",
                       r->session->device_id, "is_guest", 0));
}

static json_t *device_json(const struct hs_user *u, const struct hs_device *d)
{
    json_t *j = json_pack("{s:s, s:s}", "device_id", d->device_id, "user_id", u->user_id);
    if (d->display_name)
        json_object_set_new(j, "display_name", json_string(d->display_name));
    if (d->last_seen_ts)
        json_object_set_new(j, "last_seen_ts", json_integer(d->last_seen_ts));
    return j;
}

void hs_h_devices(struct hs_req *r)
{
    json_t *list = json_array();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, r->user->devices);
    while (g_hash_table_iter_next(&it, &k, &v))
        json_array_append_new(list, device_json(r->user, v));
    hs_reply(r, 200, json_pack("{s:o}", "devices", list));
}

void hs_h_device_get(struct hs_req *r)
{
    struct hs_device *d = g_hash_table_lookup(r->user->devices, r->args[0]);
    if (!d) {
        hs_error(r, 404, "M_NOT_FOUND", "Device not found");
        return;
    }
    hs_reply(r, 200, device_json(r->user, d));
}
