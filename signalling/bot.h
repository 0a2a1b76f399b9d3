/*
 * The switchboard bot: the Matrix face of the gateway. It syncs as its user, joins rooms it is
 * invited to by allowed users, answers and places calls, puts every connected call into its
 * room's conference, and answers commands.
 *
 * Which conference a call joins: a call in a group room joins that room's conference; a call in
 * a direct room linked to a group room (see bot_links.h) joins the group room's; a call in an
 * unlinked direct room is a conference of its own.
 */
#ifndef SB_SIGNALLING_BOT_H
#define SB_SIGNALLING_BOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signalling/call.h"
#include "signalling/mx_client.h"

struct bot;
struct conf_registry;

struct bot_cfg {
    struct mx_client_cfg mx;
    char *const *allowed_users; /* globs */
    size_t n_allowed_users;
    struct conf_registry *conferences; /* shared with the SIP side: both join rooms' mixes */
    struct call_env call;              /* send / send_arg / party_id are filled in by the bot */
};

int bot_alloc(struct bot **bp, const struct bot_cfg *cfg);

/* Learns our device id, then starts syncing. */
int bot_start(struct bot *b);

/* Stops syncing, hangs up every call (an m.call.hangup for each) and calls done once those
 * events have left or timeout_ms passed. */
typedef void(bot_stopped_h)(void *arg);
void bot_shutdown(struct bot *b, uint32_t timeout_ms, bot_stopped_h *done, void *arg);

unsigned bot_call_count(const struct bot *b);

/*
 * Ringing a Matrix user on behalf of someone else (a SIP call to a user route): the bot calls
 * user in a direct room with them (opening one, and waiting for them to join it, if there is
 * none) into the conference named conference, and reports how it went. caller, if set, is
 * announced in the room before the ring.
 */
enum bot_ring_end {
    BOT_RING_REJECTED,  /* declined (m.call.reject, or hung up while ringing) */
    BOT_RING_BUSY,      /* hung up with user_busy */
    BOT_RING_NO_ANSWER, /* nobody answered within the invite's lifetime (or joined in time) */
    BOT_RING_HANGUP,    /* answered, then hung up (by either side) */
    BOT_RING_FAILED,    /* the call could not be set up */
    BOT_RING_CANCELLED, /* bot_ring_cancel() */
};

struct bot_ring_handlers {
    void (*ringing)(void *arg);         /* the invite is out */
    void (*answered)(void *arg);        /* connected and in the conference */
    void (*held)(bool held, void *arg); /* the Matrix user put the call on hold / resumed */
    void (*ended)(enum bot_ring_end why, void *arg);
};

struct bot_ring;
/* *rp is a reference (mem_deref). The handlers run until ended() (or bot_ring_cancel()). */
int bot_ring_user(struct bot *b, const char *user, const char *conference, const char *caller,
                  const struct bot_ring_handlers *h, void *arg, struct bot_ring **rp);
/* Hangs up or abandons the ring; no handler runs afterwards. */
void bot_ring_cancel(struct bot_ring *r);

/* What the bot asks of the SIP side, for !dial, !hangup NUMBER and !sip status (wired by the
 * daemon when a sip: section is configured; without it those commands say SIP is off). */
struct bot_sip_ops {
    void *arg;
    /* EPERM (policy: why says why), ENOENT (no trunk) or 0 (dialling; progress as notices). */
    int (*dial)(void *arg, const char *notice_room, const char *conference, const char *user,
                const char *number, char *why, size_t whylen);
    int (*hangup)(void *arg, const char *conference, const char *number); /* ENOENT: no call */
    char *(*status)(void *arg);                                           /* g_free */
};
void bot_set_sip(struct bot *b, const struct bot_sip_ops *ops);

/* Posts text as an m.notice in room_id (for the SIP side's dial progress). */
void bot_post_notice(struct bot *b, const char *room_id, const char *text);

#endif
