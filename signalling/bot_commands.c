/*
 * The bot's commands, typed in a room by an allowed user and answered as m.notice:
 *   !help    what the bot does
 *   !call    ring me into this room's conference (in my direct room linked to this room)
 *   !who     who is in this room's conference
 *   !hangup  end my call(s) in this room's conference
 *   !dial NUMBER, !hangup NUMBER, !sip status   the SIP side, through struct bot_sip_ops
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
    "!dial NUMBER - call a phone number into this room's conference\n"
    "!hangup NUMBER - end the call to that number\n"
    "!sip status - the SIP trunks and calls\n"
    "!help - this text";

/* A phone number as the dial plan takes it: digits with an optional leading +, and * or #. */
static bool number_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 32)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!(c >= '0' && c <= '9') && !(c == '+' && i == 0) && c != '*' && c != '#')
            return false;
    }
    return true;
}

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

/* ---- the SIP side: !dial, !hangup NUMBER, !sip status ---- */

static bool sip_on(struct bot *b, const char *room_id)
{
    if (b->sip)
        return true;
    bot_notice(b, room_id, "SIP is not configured on this gateway.");
    return false;
}

static void cmd_dial(struct bot *b, const char *room_id, const char *sender, const char *number)
{
    if (!number_ok(number)) {
        bot_notice(b, room_id, "Usage: !dial NUMBER (digits, an optional leading +)");
        return;
    }
    if (!sip_on(b, room_id))
        return;
    char why[256] = "";
    int err = b->sip->dial(b->sip->arg, room_id, bot_conference_of(b, room_id), sender, number, why,
                           sizeof(why));
    if (err == EPERM)
        bot_notice(b, room_id, "Not dialling %s: %s", number, why[0] ? why : "not allowed");
    else if (err)
        bot_notice(b, room_id, "Cannot dial %s: %s", number, why[0] ? why : strerror(err));
    else
        bot_notice(b, room_id, "Dialling %s...", number);
}

static void cmd_hangup_number(struct bot *b, const char *room_id, const char *number)
{
    if (!sip_on(b, room_id))
        return;
    if (b->sip->hangup(b->sip->arg, bot_conference_of(b, room_id), number) == 0)
        bot_notice(b, room_id, "Hanging up %s.", number);
    else
        bot_notice(b, room_id, "There is no call to %s in this room's conference.", number);
}

static void cmd_sip(struct bot *b, const char *room_id, const char *arg)
{
    if (strcmp(arg, "status") != 0) {
        bot_notice(b, room_id, "Usage: !sip status");
        return;
    }
    if (!sip_on(b, room_id))
        return;
    char *status = b->sip->status(b->sip->arg);
    bot_notice(b, room_id, "%s", status ? status : "no status");
    g_free(status);
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
    char cmd[32], arg[64];
    size_t n = strcspn(body, " \t\r\n");
    if (n >= sizeof(cmd))
        return;
    memcpy(cmd, body, n);
    cmd[n] = '\0';
    /* One argument at most: the rest of the line, trimmed. */
    const char *rest = body + n + strspn(body + n, " \t");
    size_t alen = strcspn(rest, "\r\n");
    while (alen && (rest[alen - 1] == ' ' || rest[alen - 1] == '\t'))
        alen--;
    if (alen >= sizeof(arg)) {
        bot_notice(b, room_id, "That argument is too long.");
        return;
    }
    memcpy(arg, rest, alen);
    arg[alen] = '\0';
    if (strcmp(cmd, "!help") && strcmp(cmd, "!call") && strcmp(cmd, "!who") &&
        strcmp(cmd, "!hangup") && strcmp(cmd, "!dial") && strcmp(cmd, "!sip"))
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
    else if (strcmp(cmd, "!dial") == 0)
        cmd_dial(b, room_id, sender, arg);
    else if (strcmp(cmd, "!sip") == 0)
        cmd_sip(b, room_id, arg);
    else if (arg[0])
        cmd_hangup_number(b, room_id, arg);
    else
        cmd_hangup(b, room_id, sender);
}
