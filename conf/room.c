/*
 * Rooms and their members: making rooms, joining, leaving, muting, DTMF and stats.
 *
 * Everything a tick touches belongs to the room: the member array, each member's input frame,
 * the mix and the scratch frame for a talker's N-1 are allocated at join time, so a tick
 * allocates nothing. The room's lock is taken by its clock for the room's whole tick and by the
 * control thread for join / leave / foreach; that mutual exclusion is what makes leave
 * synchronous without any hand-shake: once leave has the lock, the clock is not in the room,
 * and the next tick walks an array that no longer holds the member.
 *
 * DTMF comes from other threads (a leg's media worker) and must not wait for a tick, so it has
 * a lock of its own, taken for a few stores: conf_member_dtmf() appends to the member's queue
 * under it and raises the member's pending flag; the tick looks at the flag of each member (one
 * relaxed load, no lock on the common path), empties a flagged queue under the lock and relays
 * it outside. The room's lock may be held when the DTMF lock is taken, never the other way
 * round.
 *
 * Passthrough (conf.h) is decided where membership changes, in join and leave, under the room's
 * lock: the tick only reads the room's mode. Each member remembers, from one tick to the next,
 * whether its payloads went out undecoded (its port is pulling) and to whom, and whether it was
 * pushed to (its port's encoder is idle): that is what tells the tick when a direction goes back
 * to decoding and which two ports to prime, whatever made it go back (a third member, a member
 * muted, a packet boundary not reached yet). A direction leaves forwarding at a packet's end:
 * until then (a tick or two for 40 or 60 ms packets) the member keeps forwarding to the same
 * partner even in a room that mixes, and is not in the mix.
 *
 * The tick itself is in room_tick.c; what both share, in room_int.h.
 */
#include "conf/conf.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/clock.h"
#include "conf/mix.h"
#include "conf/room_int.h"
#include "media/dtmf.h"

static void room_destroy(void *arg)
{
    struct conf_room *r = arg;

    /* Members and the clock's lists each hold a reference, so nobody is left to tick. */
    if (r->clock) {
        conf_clock_add_rooms(r->clock, -1);
        logc_debug(r->log_ctx, "conference room freed");
    }
    free(r->members);
    for (unsigned i = 0; i < r->nouts; i++)
        mem_deref(r->outs[i]);
    free(r->outs);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->dtmf_lock);
    mem_deref(r->clock);
    mem_deref(r->name);
    mem_deref(r->log_ctx);
}

int conf_room_alloc(struct conf_room **rp, struct conf_mixer *m, const char *name)
{
    if (!rp || !m)
        return EINVAL;
    if (!name)
        name = "";

    struct conf_room *r = mem_zalloc(sizeof(*r), room_destroy);
    if (!r)
        return ENOMEM;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->dtmf_lock, NULL);
    atomic_init(&r->count, 0);
    r->sched.room = r;
    r->name = mem_strdup(name);
    size_t ctxlen = strlen(name) + sizeof("room=");
    r->log_ctx = mem_alloc(ctxlen, NULL);
    if (!r->name || !r->log_ctx) {
        mem_deref(r);
        return ENOMEM;
    }
    snprintf(r->log_ctx, ctxlen, "room=%s", name);

    r->clock = conf_mixer_pick_clock(m);
    if (!r->clock) {
        mem_deref(r);
        return EINVAL;
    }
    conf_clock_add_rooms(r->clock, 1);
    logc_debug(r->log_ctx, "conference room on clock %u", conf_clock_index(r->clock));
    *rp = r;
    return 0;
}

unsigned conf_room_count(const struct conf_room *room)
{
    return room ? atomic_load_explicit(&room->count, memory_order_relaxed) : 0;
}

const char *conf_room_name(const struct conf_room *room)
{
    return room ? room->name : NULL;
}

unsigned conf_room_clock(const struct conf_room *room)
{
    return conf_clock_index(room->clock);
}

bool conf_room_passthrough(const struct conf_room *room)
{
    return room && atomic_load_explicit(&room->fwd_pub, memory_order_relaxed);
}

static bool port_can_forward(const struct conf_port *p)
{
    return p->pull_packets && p->push_packets && p->resume_decoding && p->resume_encoding &&
           p->format.clock_rate;
}

/* The ops that let a port be sent the shared mix's payload, and priming on the way back. */
static bool port_can_share(const struct conf_port *p)
{
    return p->push_packets && p->resume_encoding && p->format.clock_rate;
}

static void output_destroy(void *arg)
{
    struct conf_output *o = arg;
    mem_deref(o->enc);
}

static bool output_equal(const struct conf_output *a, const struct conf_output *b)
{
    return audio_format_equal(&a->fmt, &b->fmt) && a->cfg.bitrate == b->cfg.bitrate &&
           a->cfg.complexity == b->cfg.complexity && a->cfg.fec == b->cfg.fec &&
           a->cfg.dtx == b->cfg.dtx;
}

/* Under the room's lock: the room's output of that kind, or NULL. */
static struct conf_output *find_output(struct conf_room *r, const struct conf_output *like)
{
    for (unsigned i = 0; i < r->nouts; i++) {
        if (output_equal(r->outs[i], like))
            return r->outs[i];
    }
    return NULL;
}

/* Under the room's lock, after a join or a leave: whether the room now forwards, and a line for
 * the log when that changed (or when two members must be mixed for their formats). */
static bool update_mode(struct conf_room *r, char *why, size_t len)
{
    why[0] = '\0';
    bool fwd = false;
    char fa[32], fb[32];
    if (r->n == 2) {
        struct conf_member *a = r->members[0], *b = r->members[1];
        fwd = a->can_forward && b->can_forward &&
              audio_format_equal(&a->port.format, &b->port.format);
        if (fwd)
            snprintf(why, len,
                     "passthrough: %s and %s both speak %s, forwarding without transcoding",
                     a->label, b->label, audio_format_str(&a->port.format, fa, sizeof(fa)));
        else if (a->can_forward && b->can_forward)
            snprintf(why, len, "mixing: %s speaks %s, %s speaks %s", a->label,
                     audio_format_str(&a->port.format, fa, sizeof(fa)), b->label,
                     audio_format_str(&b->port.format, fb, sizeof(fb)));
        else if (r->fwd)
            snprintf(why, len, "mixing: %s cannot forward", a->can_forward ? b->label : a->label);
    } else if (r->fwd) {
        snprintf(why, len, "mixing: %u members", r->n);
    }
    r->fwd = fwd;
    atomic_store_explicit(&r->fwd_pub, fwd, memory_order_relaxed);
    return why[0] != '\0';
}

int conf_room_join(struct conf_room *room, const struct conf_port *port, const char *label,
                   struct conf_member **mp)
{
    if (!room || !port || !port->read || !port->write || !mp)
        return EINVAL;

    /* Everything the member will need on the tick path is allocated here, off the clock. */
    struct conf_member *mb = mem_zalloc(sizeof(*mb), NULL);
    if (!mb)
        return ENOMEM;
    mb->label = mem_strdup(label ? label : "");
    if (!mb->label) {
        mem_deref(mb);
        return ENOMEM;
    }
    mb->port = *port;
    mb->can_forward = port_can_forward(port);
    mb->lvl = LVL_SILENT;
    atomic_init(&mb->muted, false);
    atomic_init(&mb->last_level, 127);
    /* A port that can be sent payloads hears the shared mix encoded once: its output, made here
     * in case the room has none of its kind yet (dropped below if it has). */
    struct conf_output *newout = NULL;
    if (port_can_share(port)) {
        newout = mem_zalloc(sizeof(*newout), output_destroy);
        if (!newout) {
            mem_deref(mb->label);
            mem_deref(mb);
            return ENOMEM;
        }
        newout->fmt = port->format;
        newout->cfg = port->enc_cfg;
    }

    int err = 0;
    pthread_mutex_lock(&room->lock);
    if (room->n == room->cap) {
        unsigned cap = room->cap ? room->cap * 2 : 8;
        struct conf_member **mv = realloc(room->members, cap * sizeof(*mv));
        if (!mv) {
            err = ENOMEM;
            goto out;
        }
        room->members = mv;
        room->cap = cap;
    }
    if (!room->scheduled) {
        if (!conf_clock_schedule(room->clock, &room->sched)) {
            logc_warn(room->log_ctx, "cannot join %s: the mixer is stopped", mb->label);
            err = EINVAL;
            goto out;
        }
        room->scheduled = true;
    }
    if (newout) {
        mb->out = find_output(room, newout);
        if (!mb->out) {
            if (room->nouts == room->outs_cap) {
                unsigned cap = room->outs_cap ? room->outs_cap * 2 : 2;
                struct conf_output **ov = realloc(room->outs, cap * sizeof(*ov));
                if (!ov) {
                    err = ENOMEM;
                    goto out;
                }
                room->outs = ov;
                room->outs_cap = cap;
            }
            room->outs[room->nouts++] = newout;
            mb->out = newout;
            newout = NULL;
        }
        mb->out->users++;
    }
    mb->room = mem_ref(room);
    room->members[room->n++] = mb;
    atomic_store_explicit(&room->count, room->n, memory_order_relaxed);
    char why[256];
    bool changed = update_mode(room, why, sizeof(why));
out:
    pthread_mutex_unlock(&room->lock);
    mem_deref(newout);
    if (err) {
        mem_deref(mb->label);
        mem_deref(mb);
        return err;
    }
    conf_clock_add_members(room->clock, 1);
    logc_debug(room->log_ctx, "%s joined (%u in the room)", mb->label, conf_room_count(room));
    if (changed)
        logc_info(room->log_ctx, "%s", why);
    if (mb->port.attach)
        mb->port.attach(mb->port.obj, mb);
    *mp = mb;
    return 0;
}

void conf_member_leave(struct conf_member *mb)
{
    if (!mb)
        return;
    struct conf_room *room = mb->room;

    pthread_mutex_lock(&room->lock);
    for (unsigned i = 0; i < room->n; i++) {
        if (room->members[i] != mb)
            continue;
        memmove(&room->members[i], &room->members[i + 1],
                (room->n - i - 1) * sizeof(room->members[0]));
        room->n--;
        break;
    }
    for (unsigned i = 0; i < room->n; i++) {
        if (room->members[i]->fwd_to == mb)
            room->members[i]->fwd_to = NULL;
        room->members[i]->fwd_src = NULL;
    }
    for (unsigned i = 0; i < room->nspk; i++) {
        if (room->spk[i] == mb)
            room->spk[i--] = room->spk[--room->nspk];
    }
    struct conf_output *gone = NULL;
    if (mb->out && --mb->out->users == 0) {
        for (unsigned i = 0; i < room->nouts; i++) {
            if (room->outs[i] == mb->out)
                room->outs[i] = room->outs[--room->nouts];
        }
        gone = mb->out;
    }
    atomic_store_explicit(&room->count, room->n, memory_order_relaxed);
    char why[256];
    bool changed = update_mode(room, why, sizeof(why));
    pthread_mutex_unlock(&room->lock);
    mem_deref(gone);
    if (changed)
        logc_info(room->log_ctx, "%s", why);
    /* The clock is out of the room and will not find mb again: the port is the caller's, once
     * it no longer passes digits to mb. */
    if (mb->port.attach)
        mb->port.attach(mb->port.obj, NULL);

    conf_clock_add_members(room->clock, -1);
    logc_debug(room->log_ctx, "%s left (%u in the room)", mb->label, conf_room_count(room));
    mem_deref(mb->label);
    mem_deref(mb);
    mem_deref(room);
}

void conf_member_set_muted(struct conf_member *mb, bool muted)
{
    if (mb)
        atomic_store_explicit(&mb->muted, muted, memory_order_relaxed);
}

bool conf_member_muted(const struct conf_member *mb)
{
    return mb && atomic_load_explicit(&mb->muted, memory_order_relaxed);
}

int conf_member_dtmf(struct conf_member *mb, char digit, uint16_t duration_ms)
{
    if (!mb || dtmf_event_from_digit(digit, NULL))
        return EINVAL;
    struct conf_room *r = mb->room;
    if (atomic_load_explicit(&mb->muted, memory_order_relaxed)) {
        log_info("dtmf '%c' (%u ms) from %s in conf=%s: muted, not relayed", digit,
                 (unsigned)duration_ms, mb->label, r->name);
        return 0;
    }
    int err = 0;
    pthread_mutex_lock(&r->dtmf_lock);
    if (mb->dtmf_n == CONF_DTMF_QUEUE) {
        err = ENOBUFS;
    } else {
        mb->dtmf_q[mb->dtmf_n++] = (struct conf_dtmf){digit, duration_ms};
        atomic_store_explicit(&mb->dtmf_pending, true, memory_order_relaxed);
        stat_inc(&mb->dtmf_in);
    }
    pthread_mutex_unlock(&r->dtmf_lock);
    if (err)
        log_warn("dtmf '%c' from %s in conf=%s dropped: %u digits already waiting", digit,
                 mb->label, r->name, CONF_DTMF_QUEUE);
    else
        log_info("dtmf '%c' (%u ms) from %s in conf=%s", digit, (unsigned)duration_ms, mb->label,
                 r->name);
    return err;
}

const char *conf_member_label(const struct conf_member *mb)
{
    return mb ? mb->label : NULL;
}

struct conf_room *conf_member_room(const struct conf_member *mb)
{
    return mb ? mb->room : NULL;
}

void conf_member_get_stats(const struct conf_member *mb, struct conf_member_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!mb)
        return;
    st->ticks = atomic_load_explicit(&mb->ticks, memory_order_relaxed);
    st->frames_mixed = atomic_load_explicit(&mb->frames_mixed, memory_order_relaxed);
    st->frames_forwarded = atomic_load_explicit(&mb->frames_forwarded, memory_order_relaxed);
    st->frames_shared = atomic_load_explicit(&mb->frames_shared, memory_order_relaxed);
    st->speaker = atomic_load_explicit(&mb->speaker_pub, memory_order_relaxed);
    st->frames_silent = atomic_load_explicit(&mb->frames_silent, memory_order_relaxed);
    st->write_errors = atomic_load_explicit(&mb->write_errors, memory_order_relaxed);
    st->dtmf_in = atomic_load_explicit(&mb->dtmf_in, memory_order_relaxed);
    st->dtmf_out = atomic_load_explicit(&mb->dtmf_out, memory_order_relaxed);
    st->last_level = (uint8_t)atomic_load_explicit(&mb->last_level, memory_order_relaxed);
}

void conf_room_foreach(struct conf_room *room, conf_member_h *h, void *arg)
{
    if (!room || !h)
        return;
    pthread_mutex_lock(&room->lock);
    for (unsigned i = 0; i < room->n; i++) {
        if (!h(room->members[i], arg))
            break;
    }
    pthread_mutex_unlock(&room->lock);
}
