/*
 * The bot's state, shared by its files: bot.c (sync events, invites, membership), bot_calls.c
 * (calls and conferences), bot_commands.c (the ! commands), bot_ring.c (the bot ringing
 * someone). Private to signalling/.
 */
#ifndef SB_SIGNALLING_BOT_PRIV_H
#define SB_SIGNALLING_BOT_PRIV_H

#include <glib.h>
#include <jansson.h>

#include "signalling/bot.h"
#include "signalling/bot_links.h"

struct http_client;
struct conf_member;

#define BOT_RECENT_EVENTS 1024

struct bot {
    struct bot_cfg cfg;
    char **allowed; /* owned copy of the globs */
    char *user_id;
    char *device_id;
    struct http_client *http;
    struct mx_client *mx;
    struct bot_links *links;
    struct call_env env;
    const struct bot_sip_ops *sip; /* NULL: no SIP side */

    GHashTable *calls;         /* call_id -> struct bot_call * */
    GHashTable *pending_rings; /* direct room id -> struct bot_ring * waiting for a join */

    /* Event ids handled lately: a homeserver that replays must not make us act twice. */
    char *recent[BOT_RECENT_EVENTS];
    unsigned recent_next;
    GHashTable *recent_set;
    GHashTable *encrypted_warned; /* rooms told that the bot cannot read them */

    bool stopping;
    guint stop_timer;
    int64_t stop_deadline_us;
    bot_stopped_h *stopped;
    void *stopped_arg;
};

struct bot_call {
    struct bot *bot;
    struct call *call;
    char *conference_id;
    struct conf_member *member;
    struct bot_ring *ring; /* the ring this call is, if the bot placed it (a reference) */
};

bool bot_user_allowed(const struct bot *b, const char *user);
void bot_notice(struct bot *b, const char *room_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* How old an event is (unsigned.age, else from origin_server_ts), in ms. */
int64_t bot_event_age_ms(json_t *event);

/* The conference a call in room_id joins. */
const char *bot_conference_of(const struct bot *b, const char *room_id);

/* bot_calls.c */
void bot_calls_handle_event(struct bot *b, const char *room_id, json_t *event);
/* Calls user in room_id into conference for ring (which hears what the call does). */
int bot_calls_ring_into(struct bot *b, const char *room_id, const char *user,
                        const char *conference, struct bot_ring *ring, struct bot_call **bcp);
void bot_calls_hangup_all(struct bot *b);
/* Calls of user in the conference (0 if none); hangs them up when hangup is set. */
unsigned bot_calls_of_user(struct bot *b, const char *conference_id, const char *user, bool hangup);
/* Hangs up calls in room_id with user (they left the room); user NULL: every call there. */
void bot_calls_peer_left(struct bot *b, const char *room_id, const char *user);
/* "@a, +1555 (on hold)" of the conference, or NULL when nobody is in it; g_free. */
char *bot_calls_who(struct bot *b, const char *conference_id);
void bot_call_free(gpointer p);

/* bot_commands.c */
void bot_commands_handle(struct bot *b, const char *room_id, const char *sender, const char *body);

/* bot_ring.c: the bot ringing a user into a conference in the direct room room (NULL: open a
 * new one named new_room_name, linked to link_group when set), now or once they joined it. */
int bot_ring_begin(struct bot *b, const char *user, const char *room, const char *conference,
                   const char *new_room_name, const char *link_group, const char *caller,
                   const struct bot_ring_handlers *h, void *arg, struct bot_ring **rp);
void bot_ring_unref(gpointer p);
/* A member joined a room: rings that were waiting for them go out. */
void bot_rings_member_joined(struct bot *b, const char *room_id, const char *user);
/* We left room_id: a ring waiting there fails. */
void bot_rings_room_gone(struct bot *b, const char *room_id);
/* What the ring's call did. */
void bot_ring_call_connected(struct bot_ring *r);
void bot_ring_call_held(struct bot_ring *r, bool held);
void bot_ring_call_ended(struct bot_ring *r, enum call_hangup_reason reason, bool by_remote);

#endif
