/*
 * The bot's commands, typed in a room by an allowed user and answered as m.notice:
 *   !help    what the bot does
 *   !call    ring me into this room's conference (in my direct room linked to this room)
 *   !who     who is in this room's conference
 *   !hangup  end my call(s) in this room's conference
 * And the rings !call leaves waiting until the user has joined their direct room.
 */
#include "signalling/bot_priv.h"

#include <errno.h>
#include <string.h>

#include "base/http.h"
#include "base/log.h"

static const char help_text[] =
    "I am a call bridge. Call me in this room (or in the direct room I open for you) and you "
    "join this room's conference: everyone in it hears everyone else.\n"
    "!call - I ring you into this room's conference\n"
    "!who - who is in this room's conference\n"
    "!hangup - end your call in this room's conference\n"
    "!help - this text";

void bot_ring_free(gpointer p)
{
    struct bot_ring *r = p;
    if (r->timer)
        g_source_remove(r->timer);
    g_free(r->user);
    g_free(r->direct_room);
    g_free(r->group_room);
    g_free(r);
}

static void ring_now(struct bot *b, const char *direct_room, const char *user)
{
    int err = bot_calls_ring(b, direct_room, user);
    if (err)
        log_warn("[room=%s] could not ring %s: %s", direct_room, user, strerror(err));
}

void bot_rings_member_joined(struct bot *b, const char *room_id, const char *user)
{
    struct bot_ring *r = g_hash_table_lookup(b->pending_rings, room_id);
    if (!r || strcmp(r->user, user) != 0)
        return;
    log_info("[room=%s] %s joined: ringing", room_id, user);
    char *u = g_strdup(user);
    g_hash_table_remove(b->pending_rings, room_id);
    ring_now(b, room_id, u);
    g_free(u);
}

static gboolean ring_expired(gpointer data)
{
    struct bot_ring *r = data;
    r->timer = 0;
    log_info("[room=%s] %s did not join in time: not ringing", r->direct_room, r->user);
    g_hash_table_remove(r->bot->pending_rings, r->direct_room); /* frees r */
    return G_SOURCE_REMOVE;
}

static void wait_then_ring(struct bot *b, const char *direct_room, const char *user,
                           const char *group_room)
{
    struct bot_ring *r = g_new0(struct bot_ring, 1);
    r->bot = b;
    r->user = g_strdup(user);
    r->direct_room = g_strdup(direct_room);
    r->group_room = g_strdup(group_room);
    r->timer = g_timeout_add(b->env.invite_lifetime_ms, ring_expired, r);
    g_hash_table_replace(b->pending_rings, r->direct_room, r);
}

/* ---- !call ---- */

struct create_ctx {
    struct bot *bot;
    char *user;
    char *group_room;
};

static void direct_room_created(int err, const char *errcode, json_t *body, void *arg)
{
    struct create_ctx *cc = arg;
    struct bot *b = cc->bot;
    const char *room_id = json_string_value(json_object_get(body, "room_id"));
    if (err || !room_id) {
        log_warn("[room=%s] could not create a direct room for %s: %s %s", cc->group_room, cc->user,
                 strerror(err ? err : EPROTO), errcode ? errcode : "");
        bot_notice(b, cc->group_room, "Sorry %s, I could not open a direct room to ring you.",
                   cc->user);
    } else {
        log_info("[room=%s] direct room %s created for %s", cc->group_room, room_id, cc->user);
        bot_links_set(b->links, cc->user, cc->group_room, room_id);
        wait_then_ring(b, room_id, cc->user, cc->group_room);
    }
    g_free(cc->user);
    g_free(cc->group_room);
    g_free(cc);
}

static void create_direct_room(struct bot *b, const char *group_room, const char *user)
{
    const char *name = mx_room_name(b->mx, group_room);
    /* Unencrypted: the bot has no E2EE device yet, so it could not read calls in it. */
    json_t *req = json_pack("{s:s, s:b, s:[s], s:s}", "preset", "private_chat", "is_direct", 1,
                            "invite", user, "name", name ? name : group_room);
    struct create_ctx *cc = g_new0(struct create_ctx, 1);
    cc->bot = b;
    cc->user = g_strdup(user);
    cc->group_room = g_strdup(group_room);
    /* Not retried: a retry after a lost response would make a second room. */
    int err = mx_request(b->mx, "POST", "/createRoom", req, false, direct_room_created, cc);
    json_decref(req);
    if (err)
        direct_room_created(err, NULL, NULL, cc);
}

static void reinvited(int err, const char *errcode, json_t *body, void *arg)
{
    char *room = arg;
    if (err)
        log_warn("[room=%s] could not re-invite: %s %s", room, strerror(err),
                 errcode ? errcode : "");
    g_free(room);
}

static void cmd_call(struct bot *b, const char *room_id, const char *sender)
{
    const char *conference = bot_conference_of(b, room_id);
    if (bot_calls_of_user(b, conference, sender, false) > 0) {
        bot_notice(b, room_id, "%s, you already have a call in this room's conference.", sender);
        return;
    }
    /* In a two-member room (a direct room) ring right here. */
    if (mx_room_joined_count(b->mx, room_id) == 2) {
        ring_now(b, room_id, sender);
        return;
    }
    const char *direct = bot_links_direct_room(b->links, sender, room_id);
    if (!direct) {
        bot_notice(b, room_id, "Ringing %s in a new direct room; accept its invite to answer.",
                   sender);
        create_direct_room(b, room_id, sender);
        return;
    }
    enum mx_membership ours = mx_room_membership(b->mx, direct, b->user_id);
    enum mx_membership theirs = mx_room_membership(b->mx, direct, sender);
    if (ours != MX_MEMBERSHIP_JOIN) {
        /* We lost that room: start over with a new one. */
        bot_links_remove_direct(b->links, direct);
        create_direct_room(b, room_id, sender);
        return;
    }
    bot_notice(b, room_id, "Ringing %s in your direct room with me.", sender);
    if (theirs == MX_MEMBERSHIP_JOIN) {
        ring_now(b, direct, sender);
        return;
    }
    if (theirs != MX_MEMBERSHIP_INVITE) {
        char *esc = http_escape(direct);
        char *path = g_strdup_printf("/rooms/%s/invite", esc);
        json_t *req = json_pack("{s:s}", "user_id", sender);
        mx_request(b->mx, "POST", path, req, true, reinvited, g_strdup(direct));
        json_decref(req);
        g_free(path);
        g_free(esc);
    }
    wait_then_ring(b, direct, sender, room_id);
}

/* ---- !who, !hangup ---- */

static void cmd_who(struct bot *b, const char *room_id)
{
    char *who = bot_calls_who(b, bot_conference_of(b, room_id));
    if (who)
        bot_notice(b, room_id, "In this room's conference: %s", who);
    else
        bot_notice(b, room_id, "Nobody is in this room's conference.");
    g_free(who);
}

static void cmd_hangup(struct bot *b, const char *room_id, const char *sender)
{
    unsigned n = bot_calls_of_user(b, bot_conference_of(b, room_id), sender, true);
    if (n)
        bot_notice(b, room_id, "Hung up %u call%s of %s.", n, n == 1 ? "" : "s", sender);
    else
        bot_notice(b, room_id, "%s, you have no call in this room's conference.", sender);
}

void bot_commands_handle(struct bot *b, const char *room_id, const char *sender, const char *body)
{
    char cmd[32];
    size_t n = strcspn(body, " \t\r\n");
    if (n >= sizeof(cmd))
        return;
    memcpy(cmd, body, n);
    cmd[n] = '\0';
    if (strcmp(cmd, "!help") && strcmp(cmd, "!call") && strcmp(cmd, "!who") &&
        strcmp(cmd, "!hangup"))
        return; /* not ours: other bots use ! too */
    if (!bot_user_allowed(b, sender)) {
        log_info("[room=%s] ignoring %s from %s, who is not allowed", room_id, cmd, sender);
        return;
    }
    log_info("[room=%s] %s from %s", room_id, cmd, sender);
    if (strcmp(cmd, "!help") == 0)
        bot_notice(b, room_id, "%s", help_text);
    else if (strcmp(cmd, "!call") == 0)
        cmd_call(b, room_id, sender);
    else if (strcmp(cmd, "!who") == 0)
        cmd_who(b, room_id);
    else
        cmd_hangup(b, room_id, sender);
}
