/*
 * Rooms and their members, and the tick a clock runs for one room.
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
 * Large rooms (conf.h): reading a member only decodes what its sender did not say was quiet
 * (audio_stream.c), the speakers are picked after everyone is read, and only their frames are
 * summed. Each distinct output (conf_output: format and encoder settings) encodes the shared mix
 * at most once per tick, the first time a listener of it is written, with an encoder of the
 * room's own made on first use; the payload goes to each of its listeners by push_packets. A
 * member whose frame was in the last tick's mix is not given the shared payload on this one
 * (the encoder's look-ahead holds a few ms of that mix, its own voice among it): it stays on its
 * own encoder a tick longer.
 */

/* Ticks a member may keep forwarding to reach a packet's end (a 120 ms packet needs five). */
#define CONF_FWD_HOLD_MAX 6
/* Active speakers: a frame this loud (-dBov below it) takes or holds a slot; a speaker keeps
 * its slot through pauses of up to the hangover; a member displaces the weakest speaker only
 * when its level (smoothed over a few frames) is this many dB above that speaker's. */
#define SPEAKER_LEVEL  70
#define SPEAKER_HANG   25 /* ticks: 500 ms */
#define SPEAKER_MARGIN 6
#define LVL_SILENT     (127 * 16) /* smoothed levels are in 1/16 dB */
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
#include "media/audio_level.h"
#include "media/dtmf.h"

struct conf_dtmf {
    char digit;
    uint16_t ms;
};

/* One distinct output of the room's shared mix: a format and the encoder settings that change
 * the payload. Its encoder is made the first time someone hears it. Under the room's lock. */
struct conf_output {
    struct audio_format fmt;
    struct audio_encoder_cfg cfg;
    struct audio_encoder *enc;
    unsigned users;     /* members whose port it fits */
    uint64_t used_tick; /* the last tick it was encoded on */
    bool done;          /* encoded this tick (err says how) */
    int err;
    struct audio_fwd fwd; /* this tick's payload, as a forwarded frame */
    uint8_t payload[1500];
};

struct conf_member {
    struct conf_room *room; /* reference */
    struct conf_port port;
    char *label;
    atomic_bool muted;

    /* Written by the clock during a tick, under the room's lock. */
    bool talking;
    uint8_t level; /* this tick's frame, -dBov */
    struct audio_frame_info info;

    /* Active speakers and the shared mix, under the room's lock. */
    bool speaker;            /* holds a slot: its frames are mixed */
    unsigned hang;           /* ticks of hangover left */
    unsigned lvl;            /* smoothed level (1/16 dB), frozen while in hangover */
    struct conf_output *out; /* its shared output, NULL: always written */
    bool shared_in;          /* it was pushed the shared payload on the last tick */
    bool mixed;              /* its frame is in this tick's mix */
    bool mixed_last;         /* and in the last tick's */
    atomic_bool speaker_pub; /* == speaker, for lock-free readers */
    atomic_uint_fast64_t frames_shared;
    int16_t in[AUDIO_FRAME_SAMPLES];

    /* Passthrough, under the room's lock. */
    bool can_forward;            /* the port has the ops and a format */
    bool forwarding;             /* this tick: pulled, fwd holds its payloads */
    bool fwd_out;                /* its payloads went to fwd_to undecoded on the last tick */
    bool fwd_in;                 /* it was pushed payloads on the last tick */
    unsigned fwd_hold;           /* ticks forwarded past the room's wish, to a packet's end */
    struct conf_member *fwd_to;  /* where its payloads go; cleared when that member leaves */
    struct conf_member *fwd_src; /* this tick: whose payloads it gets */
    struct audio_fwd fwd;

    /* Written by the clock only (so plain load + store, no locked add), read from anywhere. */
    atomic_uint_fast64_t ticks;
    atomic_uint_fast64_t frames_mixed;
    atomic_uint_fast64_t frames_forwarded;
    atomic_uint_fast64_t frames_silent;
    atomic_uint_fast64_t write_errors;
    atomic_uint last_level;
    atomic_uint_fast64_t dtmf_out;

    /* Digits the member sent, not yet relayed: under the room's dtmf_lock. */
    struct conf_dtmf dtmf_q[CONF_DTMF_QUEUE];
    unsigned dtmf_n;
    atomic_uint_fast64_t dtmf_in;
    atomic_bool dtmf_pending; /* dtmf_n > 0, readable without the lock */
};

struct conf_room {
    struct conf_sched sched;  /* the clock's links */
    struct conf_clock *clock; /* reference; the room never moves */
    char *name;
    char *log_ctx;
    atomic_uint count; /* == n, for lock-free readers */

    pthread_mutex_t dtmf_lock; /* the members' DTMF queues */

    pthread_mutex_t lock;
    /* Under lock: */
    struct conf_member **members; /* join order */
    unsigned n, cap;
    bool scheduled; /* on the clock's inbox or tick list */
    struct conf_mix mix;
    int16_t out[AUDIO_FRAME_SAMPLES];   /* a talker's N-1, written then sent at once */
    bool fwd;                           /* two members of one format: forwarding */
    atomic_bool fwd_pub;                /* == fwd, for lock-free readers */
    int16_t prime[AUDIO_FRAME_SAMPLES]; /* what a listener heard last, on a switch to mixing */

    struct conf_member *spk[CONF_SPEAKERS]; /* the active speakers */
    unsigned nspk;
    struct conf_output **outs; /* distinct shared outputs */
    unsigned nouts, outs_cap;
    uint64_t tick_no;
    int16_t heard[AUDIO_FRAME_SAMPLES]; /* last tick's shared mix: primes a new speaker */
};

static inline void stat_inc(atomic_uint_fast64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

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

/* ---- the clock's side ---- */

/* The sender's RFC 6464 level when it gave one for a decoded frame, else measured: most
 * frames arrive with one, and measuring costs a pass over the frame. */
static uint8_t frame_level(const struct conf_member *mb)
{
    if (mb->info.kind == AUDIO_FRAME_SILENT)
        return 127;
    if (mb->info.kind == AUDIO_FRAME_DECODED && mb->info.level < 127)
        return mb->info.level;
    return conf_mix_level(mb->in, AUDIO_FRAME_SAMPLES);
}

/* Hands each member's waiting digits to every other member's port, before this tick's audio
 * is written, so that they go out with it. */
static void relay_dtmf(struct conf_room *r, struct conf_member *const *mv, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct conf_member *from = mv[i];
        if (!atomic_load_explicit(&from->dtmf_pending, memory_order_relaxed))
            continue;
        struct conf_dtmf q[CONF_DTMF_QUEUE];
        pthread_mutex_lock(&r->dtmf_lock);
        unsigned k = from->dtmf_n;
        memcpy(q, from->dtmf_q, k * sizeof(q[0]));
        from->dtmf_n = 0;
        atomic_store_explicit(&from->dtmf_pending, false, memory_order_relaxed);
        pthread_mutex_unlock(&r->dtmf_lock);
        for (unsigned d = 0; d < k; d++) {
            for (unsigned j = 0; j < n; j++) {
                struct conf_member *to = mv[j];
                if (j != i && to->port.send_dtmf &&
                    to->port.send_dtmf(to->port.obj, q[d].digit, q[d].ms) == 0)
                    stat_inc(&to->dtmf_out);
            }
        }
    }
}

/* The level of a forwarded frame: the loudest payload's, when the sender said. */
static uint8_t fwd_level(const struct audio_fwd *f)
{
    uint8_t level = 127;
    for (unsigned i = 0; i < f->n; i++) {
        if (f->pkt[i].len && f->pkt[i].level_known && f->pkt[i].level < level)
            level = f->pkt[i].level;
    }
    return level;
}

/* Takes the member's next 20 ms: its payloads when the room forwards and the port can (its
 * frame then stays out of the mix), else its decoded audio for the mix. */
static void read_member(struct conf_room *r, struct conf_member *const *mv, unsigned i)
{
    struct conf_member *mb = mv[i];
    bool muted = atomic_load_explicit(&mb->muted, memory_order_relaxed);
    bool want = r->fwd && !muted;
    struct conf_member *to = r->fwd ? mv[1 - i] : NULL;
    mb->forwarding = false;
    if (!want && mb->fwd_out) {
        /* Back to decoding once the payload forwarded last has played out: the decoder continues
         * from it, and the encoder of whoever heard it starts from the same audio. */
        bool force = mb->fwd_hold >= CONF_FWD_HOLD_MAX;
        if (mb->port.resume_decoding(mb->port.obj, r->prime, force) == EAGAIN) {
            want = true;
            to = mb->fwd_to;
            mb->fwd_hold++;
        } else {
            if (mb->fwd_to && mb->fwd_to->fwd_in) {
                mb->fwd_to->port.resume_encoding(mb->fwd_to->port.obj, r->prime);
                mb->fwd_to->fwd_in = false;
            }
            mb->fwd_out = false;
            mb->fwd_to = NULL;
            mb->fwd_hold = 0;
        }
    }
    if (want && mb->port.pull_packets(mb->port.obj, &mb->fwd) == 0) {
        mb->forwarding = true;
        mb->fwd_out = true;
        mb->fwd_to = to;
        if (to)
            to->fwd_src = mb;
        mb->talking = false;
        bool silent = mb->fwd.n == 0 && mb->fwd.gap;
        if (silent) {
            stat_inc(&mb->frames_silent);
            atomic_store_explicit(&mb->last_level, 127, memory_order_relaxed);
        } else {
            stat_inc(&mb->frames_forwarded);
            if (mb->fwd.n)
                atomic_store_explicit(&mb->last_level, fwd_level(&mb->fwd), memory_order_relaxed);
        }
        return;
    }
    if (mb->fwd_out) { /* the port could not forward after all (pull said EAGAIN) */
        (void)mb->port.resume_decoding(mb->port.obj, r->prime, true);
        if (mb->fwd_to && mb->fwd_to->fwd_in) {
            mb->fwd_to->port.resume_encoding(mb->fwd_to->port.obj, r->prime);
            mb->fwd_to->fwd_in = false;
        }
        mb->fwd_out = false;
        mb->fwd_to = NULL;
        mb->fwd_hold = 0;
    }
    mb->info.kind = AUDIO_FRAME_SILENT;
    mb->info.level = 127;
    mb->info.voice = false;
    mb->port.read(mb->port.obj, mb->in, &mb->info);

    bool silent = mb->info.kind == AUDIO_FRAME_SILENT;
    mb->talking = !silent && !muted;
    mb->level = frame_level(mb);
    atomic_store_explicit(&mb->last_level, mb->level, memory_order_relaxed);
    if (silent)
        stat_inc(&mb->frames_silent);
}

static void set_speaker(struct conf_member *mb, bool on)
{
    logc_debug(mb->room->log_ctx, "%s %s the speakers", mb->label, on ? "joins" : "leaves");
    mb->speaker = on;
    atomic_store_explicit(&mb->speaker_pub, on, memory_order_relaxed);
}

/*
 * Who is mixed this tick: at most CONF_SPEAKERS members. A member talking louder than
 * SPEAKER_LEVEL takes a free slot, or the slot of the weakest speaker when its smoothed level is
 * SPEAKER_MARGIN dB above that one's; a speaker keeps its slot through SPEAKER_HANG ticks of
 * pause (its level frozen meanwhile, so a pause alone does not make it the weakest). Cost: one
 * pass over the members, and a pass over the few slots for each member talking without one.
 */
static void select_speakers(struct conf_room *r, struct conf_member *const *mv, unsigned n)
{
    for (unsigned i = 0; i < r->nspk; i++) {
        struct conf_member *mb = r->spk[i];
        if (mb->talking && mb->level < SPEAKER_LEVEL) {
            mb->hang = SPEAKER_HANG;
        } else if (mb->hang) {
            mb->hang--;
        } else {
            set_speaker(mb, false);
            mb->lvl = LVL_SILENT;
            r->spk[i--] = r->spk[--r->nspk];
        }
    }
    for (unsigned i = 0; i < n; i++) {
        struct conf_member *mb = mv[i];
        bool active = mb->talking && mb->level < SPEAKER_LEVEL;
        if (!active) {
            if (!mb->speaker)
                mb->lvl = LVL_SILENT;
            continue;
        }
        mb->lvl = (mb->lvl * 3 + (unsigned)mb->level * 16) / 4;
        if (mb->speaker)
            continue;
        if (r->nspk < CONF_SPEAKERS) {
            r->spk[r->nspk++] = mb;
            set_speaker(mb, true);
            mb->hang = SPEAKER_HANG;
            continue;
        }
        unsigned w = 0;
        for (unsigned k = 1; k < r->nspk; k++) {
            if (r->spk[k]->lvl > r->spk[w]->lvl)
                w = k;
        }
        if (mb->lvl + SPEAKER_MARGIN * 16 < r->spk[w]->lvl) {
            set_speaker(r->spk[w], false);
            r->spk[w]->lvl = LVL_SILENT;
            r->spk[w] = mb;
            set_speaker(mb, true);
            mb->hang = SPEAKER_HANG;
        }
    }
}

/* The shared mix encoded for output o, once per tick: 0 with o->fwd ready, or an errno. */
static int shared_payload(struct conf_room *r, struct conf_output *o, const int16_t *all,
                          uint8_t level)
{
    if (o->done)
        return o->err;
    o->done = true;
    if (!o->enc) {
        o->err = audio_encoder_alloc(&o->enc, o->fmt.codec, &o->cfg);
        if (o->err) {
            o->enc = NULL;
            logc_warn(r->log_ctx, "cannot make the shared mix's encoder (%s)", strerror(o->err));
            return o->err;
        }
    }
    size_t len = 0;
    bool dtx = false;
    if (o->used_tick + 1 != r->tick_no) /* idle since: start from what was heard last */
        (void)audio_encoder_encode(o->enc, r->heard, o->payload, sizeof(o->payload), &len, &dtx);
    o->used_tick = r->tick_no;
    o->err = audio_encoder_encode(o->enc, all, o->payload, sizeof(o->payload), &len, &dtx);
    if (o->err)
        return o->err;
    o->fwd.mixed = true;
    o->fwd.gap = dtx && o->cfg.dtx;
    o->fwd.n = o->fwd.gap ? 0 : 1;
    o->fwd.pkt[0] = (struct audio_fwd_pkt){
        .payload = o->payload,
        .len = len,
        .offset = 0,
        .duration = audio_codec_frame_units(o->fmt.codec),
        .level = level,
        .voice = audio_level_is_voice(level),
        .level_known = true,
    };
    return 0;
}

/* Gives the member its 20 ms: the payloads forwarded to it, else its N-1 of the mix. */
static void write_member(struct conf_room *r, struct conf_member *mb, const int16_t *all,
                         unsigned *level)
{
    int err;
    if (mb->fwd_src) {
        err = mb->port.push_packets(mb->port.obj, &mb->fwd_src->fwd);
        mb->fwd_in = true;
        mb->fwd_src = NULL;
        mb->shared_in = false; /* the way back from forwarding primes it (read_member) */
    } else {
        mb->fwd_in = false; /* primed on the way back when its source could say with what */
        /* Not the shared payload on the tick after its own frame was in the mix: the shared
         * encoder's look-ahead still carries a few ms of that mix. */
        if (!mb->speaker && !mb->mixed_last && mb->out) {
            if (*level > 127)
                *level = conf_mix_level(all, AUDIO_FRAME_SAMPLES);
            if (shared_payload(r, mb->out, all, (uint8_t)*level) == 0) {
                err = mb->port.push_packets(mb->port.obj, &mb->out->fwd);
                mb->shared_in = true;
                stat_inc(&mb->frames_shared);
                goto done;
            }
        }
        if (mb->shared_in) { /* its own encoder again: from the audio it heard last */
            mb->port.resume_encoding(mb->port.obj, r->heard);
            mb->shared_in = false;
        }
        const int16_t *out = all;
        if (mb->mixed) {
            conf_mix_minus(&r->mix, mb->in, r->out);
            out = r->out;
        }
        err = mb->port.write(mb->port.obj, out);
    }
done:
    if (err != 0)
        stat_inc(&mb->write_errors);
}

bool conf_room_clock_tick(struct conf_room *r, uint64_t now_us, unsigned skipped)
{
    pthread_mutex_lock(&r->lock);
    unsigned n = r->n;
    if (n == 0) {
        r->scheduled = false;
        pthread_mutex_unlock(&r->lock);
        return false;
    }
    struct conf_member *const *mv = r->members;
    for (unsigned i = 0; skipped && i < n; i++) {
        if (mv[i]->port.skip)
            mv[i]->port.skip(mv[i]->port.obj, skipped);
    }

    r->tick_no++;
    conf_mix_begin(&r->mix);
    for (unsigned i = 0; i < n; i++)
        read_member(r, mv, i);
    select_speakers(r, mv, n);
    for (unsigned i = 0; i < r->nspk; i++) {
        struct conf_member *mb = r->spk[i];
        if (mb->talking) {
            conf_mix_add(&r->mix, mb->in);
            mb->mixed = true;
            stat_inc(&mb->frames_mixed);
        }
    }
    const int16_t *all = conf_mix_end(&r->mix);
    relay_dtmf(r, mv, n);

    for (unsigned i = 0; i < r->nouts; i++)
        r->outs[i]->done = false;
    unsigned level = 128; /* the shared mix's, measured when first needed */
    for (unsigned i = 0; i < n; i++) {
        struct conf_member *mb = mv[i];
        write_member(r, mb, all, &level);
        mb->mixed_last = mb->mixed;
        mb->mixed = false;
        if (mb->port.tick)
            mb->port.tick(mb->port.obj, now_us);
        stat_inc(&mb->ticks);
    }
    memcpy(r->heard, all, sizeof(r->heard));
    pthread_mutex_unlock(&r->lock);
    return true;
}

void conf_room_clock_detach(struct conf_room *r)
{
    pthread_mutex_lock(&r->lock);
    r->scheduled = false;
    pthread_mutex_unlock(&r->lock);
}
