/*
 * The bot's commands, typed in a room by an allowed user and answered as m.notice:
 *   !help    what the bot does
 *   !call    ring me into this room's conference (in my direct room linked to this room)
 *   !who     who is in this room's conference
 *   !hangup  end my call(s) in this room's conference
 */
#include "signalling/bot_priv.h"

#include <errno.h>
#include <string.h>

#include "base/log.h"

static const char help_text[] =
    "I am a call bridge. Call me in this room (or in the direct room I open for you) and you "
    "join this room's conference: everyone in it hears everyone else.\n"
    "!call - I ring you into this room's conference\n"
    "!who - who is in this room's conference\n"
    "!hangup - end your call in this room's conference\n"
    "!help - this text";

/* ---- !call ---- */

static void cmd_call(struct bot *b, const char *room_id, const char *sender)
{
    const char *conference = bot_conference_of(b, room_id);
    if (bot_calls_of_user(b, conference, sender, false) > 0) {
        bot_notice(b, room_id, "%s, you already have a call in this room's conference.", sender);
        return;
    }
    const char *direct = NULL, *link = NULL, *name = NULL;
    if (mx_room_joined_count(b->mx, room_id) == 2) {
        direct = room_id; /* a direct room already: ring right here */
    } else {
        direct = bot_links_direct_room(b->links, sender, room_id);
        if (direct && mx_room_membership(b->mx, direct, b->user_id) != MX_MEMBERSHIP_JOIN) {
            /* We lost that room: start over with a new one. */
            bot_links_remove_direct(b->links, direct);
            direct = NULL;
        }
        if (!direct) {
            link = room_id;
            name = mx_room_name(b->mx, room_id);
            if (!name)
                name = room_id;
        }
        bot_notice(b, room_id,
                   direct ? "Ringing %s in your direct room with me."
                          : "Ringing %s in a new direct room; accept its invite to answer.",
                   sender);
    }
    int err = bot_ring_begin(b, sender, direct, conference, name, link, NULL, NULL, NULL, NULL);
    if (err)
        log_warn("[room=%s] could not ring %s: %s", room_id, sender, strerror(err));
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
