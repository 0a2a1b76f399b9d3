/*
 * The bot's life and its view of the rooms: start-up (who am I, which device), the handlers of
 * the Matrix client (invites, timeline events, membership), notices, and an orderly shutdown that
 * hangs every call up before the process exits.
 */
#include "signalling/bot_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/glob.h"
#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"

#define SHUTDOWN_POLL_MS 50
/* Commands older than this are history (a room just joined), not requests. */
#define COMMAND_MAX_AGE_MS 60000

bool bot_user_allowed(const struct bot *b, const char *user)
{
    return user && glob_match_any(b->allowed, b->cfg.n_allowed_users, user);
}

const char *bot_conference_of(const struct bot *b, const char *room_id)
{
    const char *group = bot_links_group_room(b->links, room_id);
    return group ? group : room_id;
}

static void notice_sent(int err, const char *errcode, json_t *body, void *arg)
{
    if (err)
        log_warn("could not send a notice: %s %s", strerror(err), errcode ? errcode : "");
}

void bot_notice(struct bot *b, const char *room_id, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_t *content = json_pack("{s:s, s:s}", "msgtype", "m.notice", "body", text);
    mx_send_event(b->mx, room_id, "m.room.message", content, notice_sent, NULL);
    json_decref(content);
}

void bot_set_sip(struct bot *b, const struct bot_sip_ops *ops)
{
    b->sip = ops;
}

void bot_post_notice(struct bot *b, const char *room_id, const char *text)
{
    bot_notice(b, room_id, "%s", text);
}

static int send_room_event(void *arg, const char *room_id, const char *type, json_t *content)
{
    struct bot *b = arg;
    return mx_send_event(b->mx, room_id, type, content, NULL, NULL);
}

/* ---- replays ---- */

static bool seen_before(struct bot *b, const char *event_id)
{
    if (!event_id)
        return false;
    if (g_hash_table_contains(b->recent_set, event_id))
        return true;
    char *old = b->recent[b->recent_next];
    if (old)
        g_hash_table_remove(b->recent_set, old); /* frees old */
    b->recent[b->recent_next] = g_strdup(event_id);
    g_hash_table_add(b->recent_set, b->recent[b->recent_next]);
    b->recent_next = (b->recent_next + 1) % BOT_RECENT_EVENTS;
    return false;
}

int64_t bot_event_age_ms(json_t *event)
{
    json_t *age = json_object_get(json_object_get(event, "unsigned"), "age");
    if (json_is_integer(age))
        return json_integer_value(age);
    json_t *ts = json_object_get(event, "origin_server_ts");
    if (json_is_integer(ts))
        return g_get_real_time() / 1000 - json_integer_value(ts);
    return 0;
}

/* Calls and commands in an encrypted room arrive as m.room.encrypted, which the bot cannot read
 * (it has no E2EE device yet): say so once per room instead of staying silent. */
static void encrypted_event(struct bot *b, const char *room_id)
{
    if (g_hash_table_contains(b->encrypted_warned, room_id))
        return;
    g_hash_table_add(b->encrypted_warned, g_strdup(room_id));
    log_warn("[room=%s] the room is end-to-end encrypted: its calls and commands cannot be read "
             "(no E2EE device yet)",
             room_id);
    bot_notice(b, room_id,
               "This room is end-to-end encrypted and I cannot read encrypted calls or commands "
               "yet. Call me from an unencrypted room, or type !call in one.");
}

/* ---- Matrix client handlers ---- */

static void joined(int err, const char *errcode, json_t *body, void *arg)
{
    char *room_id = arg;
    if (err)
        log_warn("[room=%s] could not join: %s %s", room_id, strerror(err), errcode ? errcode : "");
    else
        log_info("[room=%s] joined", room_id);
    g_free(room_id);
}

static void on_invited(struct mx_client *mx, const char *room_id, const char *inviter,
                       const struct mx_sync_info *si, void *arg)
{
    struct bot *b = arg;
    if (!bot_user_allowed(b, inviter)) {
        log_info("[room=%s] ignoring an invite from %s, who is not allowed", room_id,
                 inviter ? inviter : "?");
        return;
    }
    char *esc = http_escape(room_id);
    char *path = g_strdup_printf("/join/%s", esc);
    g_free(esc);
    log_info("[room=%s] invited by %s: joining", room_id, inviter);
    mx_request(b->mx, "POST", path, NULL, true, joined, g_strdup(room_id));
    g_free(path);
}

static void handle_membership(struct bot *b, const char *room_id, json_t *event)
{
    const char *user = json_string_value(json_object_get(event, "state_key"));
    const char *membership =
        json_string_value(json_object_get(json_object_get(event, "content"), "membership"));
    if (!user || !membership || strcmp(user, b->user_id) == 0)
        return;
    if (strcmp(membership, "join") == 0) {
        bot_rings_member_joined(b, room_id, user);
    } else if (strcmp(membership, "leave") == 0 || strcmp(membership, "ban") == 0) {
        bot_calls_peer_left(b, room_id, user);
        const char *owner = bot_links_user(b->links, room_id);
        if (owner && strcmp(owner, user) == 0) {
            log_info("[room=%s] %s left their direct room: unlinking it", room_id, user);
            bot_links_remove_direct(b->links, room_id);
        }
    }
}

static void on_room_event(struct mx_client *mx, const char *room_id, json_t *event,
                          const struct mx_sync_info *si, void *arg)
{
    struct bot *b = arg;
    /* The first sync of a fresh start is history: nothing in it is addressed to us now. */
    if (si->initial || b->stopping)
        return;
    if (!json_is_object(event))
        return;
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *sender = json_string_value(json_object_get(event, "sender"));
    if (!type || !sender)
        return;
    if (seen_before(b, json_string_value(json_object_get(event, "event_id"))))
        return;

    if (strcmp(type, "m.room.member") == 0) {
        handle_membership(b, room_id, event);
        return;
    }
    if (strcmp(sender, b->user_id) == 0)
        return; /* our own echo */
    if (strncmp(type, "m.call.", 7) == 0) {
        bot_calls_handle_event(b, room_id, event);
        return;
    }
    if (strcmp(type, "m.room.encrypted") == 0) {
        encrypted_event(b, room_id);
        return;
    }
    if (strcmp(type, "m.room.message") == 0) {
        json_t *content = json_object_get(event, "content");
        const char *msgtype = json_string_value(json_object_get(content, "msgtype"));
        const char *body = json_string_value(json_object_get(content, "body"));
        if (!msgtype || !body || strcmp(msgtype, "m.text") != 0 || body[0] != '!')
            return;
        /* A room we just joined hands us its history: an old "!call" must not ring now. */
        int64_t age = bot_event_age_ms(event);
        if (age > COMMAND_MAX_AGE_MS) {
            log_info("[room=%s] ignoring a command from %s sent %lld s ago", room_id, sender,
                     (long long)(age / 1000));
            return;
        }
        bot_commands_handle(b, room_id, sender, body);
    }
}

/* We left a room (or were kicked, or banned): its calls cannot go on there. */
static void on_left(struct mx_client *mx, const char *room_id, const struct mx_sync_info *si,
                    void *arg)
{
    struct bot *b = arg;
    log_info("[room=%s] we are no longer in the room: ending its calls", room_id);
    bot_calls_peer_left(b, room_id, NULL);
    bot_rings_room_gone(b, room_id);
    if (bot_links_user(b->links, room_id))
        bot_links_remove_direct(b->links, room_id);
}

static const struct mx_client_handlers mx_handlers = {
    .room_event = on_room_event,
    .invited = on_invited,
    .left = on_left,
};

/* ---- start ---- */

static void whoami_done(int err, const char *errcode, json_t *body, void *arg)
{
    struct bot *b = arg;
    const char *device = json_string_value(json_object_get(body, "device_id"));
    const char *user = json_string_value(json_object_get(body, "user_id"));
    if (err) {
        log_error("whoami failed (%s %s): is the access token right?", strerror(err),
                  errcode ? errcode : "");
    } else if (user && strcmp(user, b->user_id) != 0) {
        log_error("the access token belongs to %s, not to the configured %s", user, b->user_id);
    }
    if (!device) {
        char *rand = g_uuid_string_random();
        device = rand;
        b->device_id = g_strdup_printf("SB%.8s", rand);
        g_free(rand);
    } else {
        b->device_id = g_strdup(device);
    }
    b->env.party_id = b->device_id;
    log_info("signed in as %s (device %s)", b->user_id, b->device_id);
    mx_client_start(b->mx);
}

int bot_start(struct bot *b)
{
    return mx_request(b->mx, "GET", "/account/whoami", NULL, true, whoami_done, b);
}

/* ---- shutdown ---- */

static gboolean stop_poll(gpointer data)
{
    struct bot *b = data;
    if (mx_client_pending_sends(b->mx) > 0 && g_get_monotonic_time() < b->stop_deadline_us)
        return G_SOURCE_CONTINUE;
    if (mx_client_pending_sends(b->mx) > 0)
        log_warn("shutdown: %u events could not be sent in time", mx_client_pending_sends(b->mx));
    b->stop_timer = 0;
    if (b->stopped)
        b->stopped(b->stopped_arg);
    return G_SOURCE_REMOVE;
}

void bot_shutdown(struct bot *b, uint32_t timeout_ms, bot_stopped_h *done, void *arg)
{
    if (b->stopping)
        return;
    b->stopping = true;
    b->stopped = done;
    b->stopped_arg = arg;
    b->stop_deadline_us = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
    log_info("shutting down: hanging up %u calls", g_hash_table_size(b->calls));
    mx_client_stop(b->mx);
    bot_calls_hangup_all(b);
    b->stop_timer = g_timeout_add(SHUTDOWN_POLL_MS, stop_poll, b);
}

unsigned bot_call_count(const struct bot *b)
{
    return g_hash_table_size(b->calls);
}

/* ---- construction ---- */

static void bot_destroy(void *data)
{
    struct bot *b = data;
    if (b->stop_timer)
        g_source_remove(b->stop_timer);
    if (b->calls) {
        bot_calls_hangup_all(b);
        g_hash_table_destroy(b->calls);
    }
    if (b->pending_rings)
        g_hash_table_destroy(b->pending_rings);
    if (b->recent_set)
        g_hash_table_destroy(b->recent_set);
    if (b->encrypted_warned)
        g_hash_table_destroy(b->encrypted_warned);
    mem_deref(b->mx);
    mem_deref(b->links);
    mem_deref(b->http);
    g_strfreev(b->allowed);
    g_free(b->user_id);
    g_free(b->device_id);
}

int bot_alloc(struct bot **bp, const struct bot_cfg *cfg)
{
    struct bot *b = mem_zalloc(sizeof(*b), bot_destroy);
    if (!b)
        return ENOMEM;
    b->cfg = *cfg;
    b->allowed = g_new0(char *, cfg->n_allowed_users + 1);
    for (size_t i = 0; i < cfg->n_allowed_users; i++)
        b->allowed[i] = g_strdup(cfg->allowed_users[i]);
    b->cfg.allowed_users = b->allowed;
    b->user_id = g_strdup(cfg->mx.user_id);
    b->env = cfg->call;
    b->env.send = send_room_event;
    b->env.send_arg = b;
    b->calls = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, bot_call_free);
    b->pending_rings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, bot_ring_unref);
    b->recent_set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    b->encrypted_warned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    int err = http_client_alloc(&b->http, NULL);
    if (!err)
        err = bot_links_load(&b->links, cfg->mx.state_dir);
    if (!err)
        err = mx_client_alloc(&b->mx, b->http, &cfg->mx, &mx_handlers, b);
    if (err) {
        mem_deref(b);
        return err;
    }
    *bp = b;
    return 0;
}
