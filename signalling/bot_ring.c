/*
 * Rings: the bot calling a user into a conference. A ring goes out in a direct room with the
 * user; when there is none yet the bot opens one (for !call, linked to the group room the user
 * typed it in) and the ring waits until the user has joined it. Whoever asked for the ring (a
 * SIP call to a user route) hears how it went through the ring's handlers; !call asks with none.
 */
#include "signalling/bot_priv.h"

#include <errno.h>
#include <string.h>

#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"

enum ring_state {
    RING_OPENING, /* creating the direct room */
    RING_WAITING, /* for the user to join it */
    RING_CALLING, /* the call is ringing */
    RING_ANSWERED,
    RING_OVER,
};

struct bot_ring {
    struct bot *bot;
    char *user;
    char *room;
    char *conference;
    char *caller; /* who is calling, for the notice before the ring; may be NULL */
    const struct bot_ring_handlers *h;
    void *arg;
    enum ring_state state;
    guint wait_timer;
    char *call_id; /* while calling or answered */
};

static void ring_destroy(void *data)
{
    struct bot_ring *r = data;
    if (r->wait_timer)
        g_source_remove(r->wait_timer);
    g_free(r->user);
    g_free(r->room);
    g_free(r->conference);
    g_free(r->caller);
    g_free(r->call_id);
}

void bot_ring_unref(gpointer p)
{
    mem_deref(p);
}

/* Terminal: tells the asker once (unless it cancelled) and drops the bot's interest. */
static void ring_over(struct bot_ring *r, enum bot_ring_end why)
{
    if (r->state == RING_OVER)
        return;
    r->state = RING_OVER;
    if (r->wait_timer) {
        g_source_remove(r->wait_timer);
        r->wait_timer = 0;
    }
    const struct bot_ring_handlers *h = r->h;
    r->h = NULL;
    if (h && h->ended)
        h->ended(why, r->arg);
}

/* ---- placing the call ---- */

static void ring_place(struct bot_ring *r)
{
    struct bot *b = r->bot;
    if (r->caller)
        bot_notice(b, r->room, "Call from %s", r->caller);
    struct bot_call *bc = NULL;
    int err = bot_calls_ring_into(b, r->room, r->user, r->conference, r, &bc);
    if (err) {
        log_warn("[room=%s] could not ring %s: %s", r->room, r->user, strerror(err));
        ring_over(r, BOT_RING_FAILED);
        return;
    }
    r->state = RING_CALLING;
    r->call_id = g_strdup(call_id(bc->call));
    if (r->h && r->h->ringing)
        r->h->ringing(r->arg);
}

static gboolean wait_expired(gpointer data)
{
    struct bot_ring *r = data;
    r->wait_timer = 0;
    log_info("[room=%s] %s did not join in time: not ringing", r->room, r->user);
    mem_ref(r);
    g_hash_table_remove(r->bot->pending_rings, r->room);
    ring_over(r, BOT_RING_NO_ANSWER);
    mem_deref(r);
    return G_SOURCE_REMOVE;
}

static void ring_wait(struct bot_ring *r)
{
    struct bot *b = r->bot;
    r->state = RING_WAITING;
    r->wait_timer = g_timeout_add(b->env.invite_lifetime_ms, wait_expired, r);
    g_hash_table_replace(b->pending_rings, g_strdup(r->room), mem_ref(r));
}

void bot_rings_member_joined(struct bot *b, const char *room_id, const char *user)
{
    struct bot_ring *r = g_hash_table_lookup(b->pending_rings, room_id);
    if (!r || strcmp(r->user, user) != 0)
        return;
    log_info("[room=%s] %s joined: ringing", room_id, user);
    mem_ref(r);
    g_hash_table_remove(b->pending_rings, room_id);
    if (r->wait_timer) {
        g_source_remove(r->wait_timer);
        r->wait_timer = 0;
    }
    ring_place(r);
    mem_deref(r);
}

void bot_rings_room_gone(struct bot *b, const char *room_id)
{
    struct bot_ring *r = g_hash_table_lookup(b->pending_rings, room_id);
    if (!r)
        return;
    mem_ref(r);
    g_hash_table_remove(b->pending_rings, room_id);
    ring_over(r, BOT_RING_FAILED);
    mem_deref(r);
}

/* ---- opening a direct room ---- */

struct open_ctx {
    struct bot_ring *ring;
    char *link_group; /* link the new room to this group room, or NULL */
};

static void room_opened(int err, const char *errcode, json_t *body, void *arg)
{
    struct open_ctx *oc = arg;
    struct bot_ring *r = oc->ring;
    struct bot *b = r->bot;
    const char *room_id = json_string_value(json_object_get(body, "room_id"));
    if (r->state != RING_OPENING) {
        /* cancelled meanwhile: the room stays, the ring does not */
    } else if (err || !room_id) {
        log_warn("could not open a direct room for %s: %s %s", r->user,
                 strerror(err ? err : EPROTO), errcode ? errcode : "");
        if (oc->link_group)
            bot_notice(b, oc->link_group, "Sorry %s, I could not open a direct room to ring you.",
                       r->user);
        ring_over(r, BOT_RING_FAILED);
    } else {
        log_info("[room=%s] direct room opened for %s", room_id, r->user);
        if (oc->link_group)
            bot_links_set(b->links, r->user, oc->link_group, room_id);
        r->room = g_strdup(room_id);
        ring_wait(r);
        /* The user may have joined already: the sync that brought the join can be handled
         * before this response (the homeserver invites them as it creates the room). */
        if (mx_room_membership(b->mx, r->room, r->user) == MX_MEMBERSHIP_JOIN)
            bot_rings_member_joined(b, r->room, r->user);
    }
    mem_deref(r);
    g_free(oc->link_group);
    g_free(oc);
}

static int open_room(struct bot_ring *r, const char *name, const char *link_group)
{
    struct bot *b = r->bot;
    /* Unencrypted: the bot has no E2EE device yet, so it could not read calls in it. */
    json_t *req = json_pack("{s:s, s:b, s:[s], s:s}", "preset", "private_chat", "is_direct", 1,
                            "invite", r->user, "name", name);
    struct open_ctx *oc = g_new0(struct open_ctx, 1);
    oc->ring = mem_ref(r);
    oc->link_group = g_strdup(link_group);
    r->state = RING_OPENING;
    /* Not retried: a retry after a lost response would make a second room. */
    int err = mx_request(b->mx, "POST", "/createRoom", req, false, room_opened, oc);
    json_decref(req);
    if (err) {
        mem_deref(oc->ring);
        g_free(oc->link_group);
        g_free(oc);
    }
    return err;
}

static void reinvited(int err, const char *errcode, json_t *body, void *arg)
{
    char *room = arg;
    if (err)
        log_warn("[room=%s] could not re-invite: %s %s", room, strerror(err),
                 errcode ? errcode : "");
    g_free(room);
}

/* ---- starting ---- */

int bot_ring_begin(struct bot *b, const char *user, const char *room, const char *conference,
                   const char *new_room_name, const char *link_group, const char *caller,
                   const struct bot_ring_handlers *h, void *arg, struct bot_ring **rp)
{
    if (b->stopping)
        return ESHUTDOWN;
    struct bot_ring *r = mem_zalloc(sizeof(*r), ring_destroy);
    if (!r)
        return ENOMEM;
    r->bot = b;
    r->user = g_strdup(user);
    r->room = g_strdup(room);
    r->conference = g_strdup(conference);
    r->caller = g_strdup(caller);
    r->h = h;
    r->arg = arg;

    int err = 0;
    if (!room) {
        err = open_room(r, new_room_name, link_group);
    } else {
        enum mx_membership theirs = mx_room_membership(b->mx, room, user);
        if (theirs == MX_MEMBERSHIP_JOIN) {
            ring_place(r);
        } else {
            if (theirs != MX_MEMBERSHIP_INVITE) {
                char *esc = http_escape(room);
                char *path = g_strdup_printf("/rooms/%s/invite", esc);
                json_t *req = json_pack("{s:s}", "user_id", user);
                mx_request(b->mx, "POST", path, req, true, reinvited, g_strdup(room));
                json_decref(req);
                g_free(path);
                g_free(esc);
            }
            ring_wait(r);
        }
    }
    if (err) {
        mem_deref(r);
        return err;
    }
    if (rp)
        *rp = r;
    else
        mem_deref(r);
    return 0;
}

int bot_ring_user(struct bot *b, const char *user, const char *conference, const char *caller,
                  const struct bot_ring_handlers *h, void *arg, struct bot_ring **rp)
{
    /* A direct room with the user that no group room claims; else a new one. */
    const char *rooms[16];
    unsigned n = mx_direct_rooms(b->mx, user, rooms, 16);
    const char *room = NULL;
    for (unsigned i = 0; i < n && i < 16 && !room; i++) {
        if (!bot_links_group_room(b->links, rooms[i]))
            room = rooms[i];
    }
    log_info("ringing %s for %s%s", user, caller ? caller : "a caller",
             room ? "" : " (opening a direct room)");
    return bot_ring_begin(b, user, room, conference, "Calls", NULL, caller, h, arg, rp);
}

void bot_ring_cancel(struct bot_ring *r)
{
    if (!r || r->state == RING_OVER)
        return;
    struct bot *b = r->bot;
    enum ring_state was = r->state;
    r->h = NULL; /* the asker knows: no handler from here on */
    if (was == RING_WAITING) {
        mem_ref(r);
        g_hash_table_remove(b->pending_rings, r->room);
        ring_over(r, BOT_RING_CANCELLED);
        mem_deref(r);
        return;
    }
    if (was == RING_CALLING || was == RING_ANSWERED) {
        struct bot_call *bc = g_hash_table_lookup(b->calls, r->call_id);
        if (bc)
            call_hangup(bc->call, CALL_REASON_USER_HANGUP);
    }
    ring_over(r, BOT_RING_CANCELLED);
}

/* ---- what the call did ---- */

void bot_ring_call_connected(struct bot_ring *r)
{
    if (r->state != RING_CALLING)
        return;
    r->state = RING_ANSWERED;
    if (r->h && r->h->answered)
        r->h->answered(r->arg);
}

void bot_ring_call_held(struct bot_ring *r, bool held)
{
    if (r->state == RING_ANSWERED && r->h && r->h->held)
        r->h->held(held, r->arg);
}

void bot_ring_call_ended(struct bot_ring *r, enum call_hangup_reason reason, bool by_remote)
{
    enum bot_ring_end why;
    if (r->state == RING_ANSWERED)
        why = BOT_RING_HANGUP;
    else if (reason == CALL_REASON_REJECTED)
        why = BOT_RING_REJECTED;
    else if (reason == CALL_REASON_USER_BUSY)
        why = BOT_RING_BUSY;
    else if (reason == CALL_REASON_INVITE_TIMEOUT)
        why = BOT_RING_NO_ANSWER;
    else if (by_remote && reason == CALL_REASON_USER_HANGUP)
        why = BOT_RING_REJECTED; /* hung up while ringing: declined */
    else
        why = BOT_RING_FAILED;
    ring_over(r, why);
}
