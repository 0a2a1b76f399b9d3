/*
 * Calls and conferences: which m.call.* events the bot acts on, who may call, glare, and the
 * conference each connected call joins. A call enters its conference when its media connects
 * and leaves it when it ends; a conference with nobody in it is freed, so idle rooms cost
 * nothing.
 */
#include "signalling/bot_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/registry.h"
#include "media/session.h"

void bot_call_free(gpointer p)
{
    struct bot_call *bc = p;
    if (bc->member)
        conf_registry_leave(bc->bot->cfg.conferences, bc->member);
    mem_deref(bc->call);
    mem_deref(bc->ring);
    g_free(bc->conference_id);
    g_free(bc);
}

/* ---- call handlers ---- */

static void on_call_connected(struct call *c, void *arg)
{
    struct bot_call *bc = arg;
    struct bot *b = bc->bot;
    struct audio_stream *as = media_session_audio(call_media(c));
    if (!as) {
        logc_error(call_log_ctx(c), "cannot join the conference: no audio stream");
        call_hangup(c, CALL_REASON_UNKNOWN_ERROR);
        return;
    }
    struct conf_port port;
    conf_port_from_audio_stream(&port, as);
    int err = conf_registry_join(b->cfg.conferences, bc->conference_id, &port, call_peer_user(c),
                                 &bc->member);
    if (err) {
        logc_error(call_log_ctx(c), "cannot join the conference: %s", strerror(err));
        call_hangup(c, CALL_REASON_UNKNOWN_ERROR);
        return;
    }
    conf_member_set_muted(bc->member, call_is_held(c));
    logc_info(call_log_ctx(c), "joined conference %s (%u in it)", bc->conference_id,
              conf_room_count(conf_member_room(bc->member)));
    if (bc->ring)
        bot_ring_call_connected(bc->ring);
}

static void on_call_hold(struct call *c, bool held, void *arg)
{
    struct bot_call *bc = arg;
    if (bc->member)
        conf_member_set_muted(bc->member, held);
    if (bc->ring)
        bot_ring_call_held(bc->ring, held);
}

static void on_call_ended(struct call *c, enum call_hangup_reason reason, bool by_remote, void *arg)
{
    struct bot_call *bc = arg;
    struct bot *b = bc->bot;
    if (bc->member) {
        conf_registry_leave(b->cfg.conferences, bc->member);
        bc->member = NULL;
    }
    struct bot_ring *ring = mem_ref(bc->ring);
    g_hash_table_remove(b->calls, call_id(c)); /* frees bc */
    if (ring)
        bot_ring_call_ended(ring, reason, by_remote);
    mem_deref(ring);
}

static const struct call_handlers call_handlers = {
    .connected = on_call_connected,
    .hold_changed = on_call_hold,
    .ended = on_call_ended,
};

static struct bot_call *bot_call_new(struct bot *b, const char *conference)
{
    struct bot_call *bc = g_new0(struct bot_call, 1);
    bc->bot = b;
    bc->conference_id = g_strdup(conference);
    return bc;
}

/* ---- refusing ---- */

static void refuse(struct bot *b, const char *room_id, const char *call_id, bool reject)
{
    json_t *content = reject ? call_event_reject(call_id, b->device_id)
                             : call_event_hangup(call_id, b->device_id, CALL_REASON_UNKNOWN_ERROR);
    mx_send_event(b->mx, room_id, reject ? "m.call.reject" : "m.call.hangup", content, NULL, NULL);
    json_decref(content);
}

/* Is an invite that could not be decoded still one we should answer with a refusal? Only if it
 * is plainly addressed to us, so garbage aimed at others never makes us speak. */
static bool malformed_invite_for_us(struct bot *b, const char *room_id, json_t *content,
                                    const char **call_id)
{
    *call_id = json_string_value(json_object_get(content, "call_id"));
    if (!*call_id || !**call_id || strlen(*call_id) > CALL_ID_MAX)
        return false;
    json_t *invitee = json_object_get(content, "invitee");
    if (json_is_string(invitee))
        return strcmp(json_string_value(invitee), b->user_id) == 0;
    return !invitee && mx_room_joined_count(b->mx, room_id) == 2;
}

/* ---- invites ---- */

/* An outbound call of ours ringing user in room_id (glare candidate), or NULL. */
static struct bot_call *ringing_call_to(struct bot *b, const char *room_id, const char *user)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, b->calls);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        struct bot_call *bc = v;
        enum call_state st = call_get_state(bc->call);
        if (call_get_direction(bc->call) == CALL_OUTBOUND &&
            (st == CALL_STATE_PREPARING || st == CALL_STATE_RINGING) &&
            strcmp(call_room_id(bc->call), room_id) == 0 &&
            strcmp(call_peer_user(bc->call), user) == 0)
            return bc;
    }
    return NULL;
}

static void handle_invite(struct bot *b, const char *room_id, const char *sender, json_t *event,
                          const struct call_event *ev, const char *ctx)
{
    if (ev->u.invite.invitee && strcmp(ev->u.invite.invitee, b->user_id) != 0) {
        logc_debug(ctx, "invite for %s, not us", ev->u.invite.invitee);
        return;
    }
    if (!ev->u.invite.invitee && mx_room_joined_count(b->mx, room_id) != 2) {
        logc_debug(ctx, "invite without invitee in a room of %u: not for us alone",
                   mx_room_joined_count(b->mx, room_id));
        return;
    }
    int64_t age = bot_event_age_ms(event);
    if (age > (int64_t)ev->u.invite.lifetime_ms) {
        logc_info(ctx, "ignoring an expired invite (age %lld ms, lifetime %u ms)", (long long)age,
                  ev->u.invite.lifetime_ms);
        return;
    }
    if (!bot_user_allowed(b, sender)) {
        logc_warn(ctx, "rejecting a call from %s, who is not allowed", sender);
        refuse(b, room_id, ev->call_id, true);
        return;
    }
    if (b->stopping)
        return;

    struct bot_call *ours = ringing_call_to(b, room_id, sender);
    if (ours) {
        /* Glare, as the spec resolves it: an invite of ours not sent yet gives way; once both
         * are out, both sides keep the call with the lower call_id. The loser's owner hangs it
         * up: a hangup from us for their call could reach them before our invite and end their
         * side before it can switch to our call. */
        if (call_get_state(ours->call) == CALL_STATE_PREPARING) {
            logc_info(ctx, "glare: their call wins over our %s, not sent yet", call_id(ours->call));
            call_hangup(ours->call, CALL_REASON_REPLACED);
        } else if (strcmp(call_id(ours->call), ev->call_id) > 0) {
            logc_info(ctx, "glare: their call wins over our %s", call_id(ours->call));
            call_hangup(ours->call, CALL_REASON_REPLACED);
        } else {
            logc_info(ctx, "glare: our call %s wins; ignoring theirs", call_id(ours->call));
            return;
        }
    }

    struct bot_call *bc = bot_call_new(b, bot_conference_of(b, room_id));
    char err[256];
    int e =
        call_answer(&bc->call, &b->env, room_id, sender, ev, &call_handlers, bc, err, sizeof(err));
    if (e) {
        logc_warn(ctx, "could not answer: %s", err);
        g_free(bc->conference_id);
        g_free(bc);
        return;
    }
    g_hash_table_insert(b->calls, (char *)call_id(bc->call), bc);
}

void bot_calls_handle_event(struct bot *b, const char *room_id, json_t *event)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *sender = json_string_value(json_object_get(event, "sender"));
    json_t *content = json_object_get(event, "content");
    enum call_event_type t;
    if (call_event_type_parse(type, &t))
        return; /* an m.call.* type we do not handle */

    char ctx[400];
    const char *cid = json_string_value(json_object_get(content, "call_id"));
    snprintf(ctx, sizeof(ctx), "room=%s call=%.64s sender=%s", room_id, cid ? cid : "?", sender);

    struct call_event ev;
    char err[256];
    int e = call_event_decode(&ev, t, content, err, sizeof(err));
    if (e) {
        logc_warn(ctx, "malformed %s: %s", type, err);
        const char *refuse_id;
        if (t == CALL_EV_INVITE && malformed_invite_for_us(b, room_id, content, &refuse_id) &&
            bot_user_allowed(b, sender) && !g_hash_table_contains(b->calls, refuse_id))
            refuse(b, room_id, refuse_id, false);
        return;
    }

    struct bot_call *bc = g_hash_table_lookup(b->calls, ev.call_id);
    if (bc) {
        if (strcmp(call_room_id(bc->call), room_id) != 0) {
            logc_warn(ctx, "event for a call of another room ignored");
            return;
        }
        call_handle_event(bc->call, sender, &ev);
        return;
    }
    if (t == CALL_EV_INVITE)
        handle_invite(b, room_id, sender, event, &ev, ctx);
    else
        logc_debug(ctx, "%s for a call we do not have", type);
}

/* ---- the bot's own calls and commands ---- */

int bot_calls_ring_into(struct bot *b, const char *room_id, const char *user,
                        const char *conference, struct bot_ring *ring, struct bot_call **bcp)
{
    if (b->stopping)
        return ESHUTDOWN;
    struct bot_call *bc = bot_call_new(b, conference);
    int e = call_ring(&bc->call, &b->env, room_id, user, &call_handlers, bc);
    if (e) {
        g_free(bc->conference_id);
        g_free(bc);
        return e;
    }
    bc->ring = mem_ref(ring);
    g_hash_table_insert(b->calls, (char *)call_id(bc->call), bc);
    if (bcp)
        *bcp = bc;
    return 0;
}

static void call_unref(gpointer c)
{
    mem_deref(c);
}

/* Calls to end are collected first: hanging up removes them from the table. */
static void hangup_matching(struct bot *b, const char *conference_id, const char *room_id,
                            const char *user, unsigned *count, bool hangup)
{
    GPtrArray *victims = g_ptr_array_new_with_free_func(call_unref);
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, b->calls);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        struct bot_call *bc = v;
        if (conference_id && strcmp(bc->conference_id, conference_id) != 0)
            continue;
        if (room_id && strcmp(call_room_id(bc->call), room_id) != 0)
            continue;
        if (user && strcmp(call_peer_user(bc->call), user) != 0)
            continue;
        g_ptr_array_add(victims, mem_ref(bc->call));
    }
    if (count)
        *count = victims->len;
    for (guint i = 0; hangup && i < victims->len; i++)
        call_hangup(g_ptr_array_index(victims, i), CALL_REASON_USER_HANGUP);
    g_ptr_array_free(victims, TRUE);
}

void bot_calls_hangup_all(struct bot *b)
{
    hangup_matching(b, NULL, NULL, NULL, NULL, true);
}

unsigned bot_calls_of_user(struct bot *b, const char *conference_id, const char *user, bool hangup)
{
    unsigned n = 0;
    hangup_matching(b, conference_id, NULL, user, &n, hangup);
    return n;
}

void bot_calls_peer_left(struct bot *b, const char *room_id, const char *user)
{
    hangup_matching(b, NULL, room_id, user, NULL, true);
}

static bool who_add(struct conf_member *mb, void *arg)
{
    GString *s = arg;
    g_string_append_printf(s, "%s%s%s", s->len ? ", " : "", conf_member_label(mb),
                           conf_member_muted(mb) ? " (on hold)" : "");
    return true;
}

char *bot_calls_who(struct bot *b, const char *conference_id)
{
    struct conf_room *room = conf_registry_find(b->cfg.conferences, conference_id);
    if (!room)
        return NULL;
    GString *s = g_string_new(NULL);
    conf_room_foreach(room, who_add, s);
    return g_string_free(s, s->len == 0);
}
