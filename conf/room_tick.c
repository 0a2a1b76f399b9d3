/*
 * The tick a clock runs for one room: read every member, pick the speakers, mix, relay DTMF,
 * write every member (forwarded payloads, the shared mix's payload, or an N-1 mix).
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
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/room_int.h"
#include "media/audio_level.h"

/* Ticks a member may keep forwarding to reach a packet's end (a 120 ms packet needs five). */
#define CONF_FWD_HOLD_MAX 6
/* Active speakers: a frame this loud (-dBov below it) takes or holds a slot; a speaker keeps
 * its slot through pauses of up to the hangover; a member displaces the weakest speaker only
 * when its level (smoothed over a few frames) is this many dB above that speaker's. */
#define SPEAKER_LEVEL  70
#define SPEAKER_HANG   25 /* ticks: 500 ms */
#define SPEAKER_MARGIN 6

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
