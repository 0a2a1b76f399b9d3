/*
 * What conf/room.c (membership, under the control thread) and conf/room_tick.c (the clock's
 * tick) share about a room and its members. Private to conf/.
 */
#ifndef SB_CONF_ROOM_INT_H
#define SB_CONF_ROOM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/clock.h"
#include "conf/conf.h"
#include "conf/mix.h"

#define LVL_SILENT (127 * 16) /* smoothed levels are in 1/16 dB */

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

#endif
