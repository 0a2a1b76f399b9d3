/*
 * Adaptive jitter buffer: see jitter.h for the model. Everything here is in samples of the RTP
 * clock (int64), timestamps extended past their 32-bit wrap, so that arrival times, playout
 * positions and delays compare directly.
 *
 * Three modes:
 *   EMPTY    nothing played since the start or a reset; starts when the first packet has waited
 *            the target delay.
 *   PLAYING  one packet per get, in sequence order; a missing one is concealed for a few frames.
 *   IDLE     silence (a timestamp gap, or a stall given up on); the next packet resynchronises
 *            playout to the target delay, which is where the depth is adjusted for free.
 *
 * "lag" is how far playout runs behind the fastest recent packet: now - (min transit + play_ts).
 * A packet whose delay variation v exceeds lag misses its slot, so the target is kept at or
 * above the 95th percentile of v plus half a frame (the tick phase).
 *
 * Layout. A mixer clock reads every member's buffer once per tick, and at hundreds of members
 * each read starts from cold memory: what it costs is cache misses. So the fields a get and a
 * put touch come first in the struct, the slots' bookkeeping (32 bytes each, two to a cache
 * line, so that looking at the next packet is usually free) is kept apart from their payloads,
 * and a get touches one payload, the one it plays.
 */
#include "media/jitter.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/mem.h"

#define HIST_BUCKETS   128 /* delay variation histogram: 4 ms buckets up to 512 ms */
#define HIST_BUCKET_MS 4
#define HIST_FORGET    0.998 /* per packet: a memory of about 500 packets (10 s of 20 ms) */
#define HIST_QUANTILE  0.95

#define MIN_BUCKETS   8 /* sliding minimum of transit: 8 x 500 ms */
#define MIN_BUCKET_US 500000

#define PEAK_TAU_US        5000000.0 /* a late packet's peak decays with this time constant */
#define SHRINK_INTERVAL_US 500000    /* at most one dropped frame per interval */
#define GROW_INTERVAL_US   100000    /* at most one inserted frame per interval */
#define MAX_DURATION_MS    120       /* the longest packet (Opus allows 120 ms) */
#define DTX_RUN_PACKETS    3         /* talk spurts shorter than this are comfort noise */

enum jb_mode {
    MODE_EMPTY,
    MODE_PLAYING,
    MODE_IDLE,
};

struct slot {
    uint64_t seq;
    int64_t ts; /* extended */
    uint32_t rtp_ts;
    uint32_t duration;
    uint16_t len;
    bool used;
};

struct jitter {
    /* configuration, in samples */
    uint32_t rate;
    int64_t frame, half, min_delay, max_delay, initial_delay, max_conceal, max_dur;
    uint64_t cap, mask;

    /* playout */
    enum jb_mode mode;
    uint64_t play_seq; /* next sequence number to play (EMPTY: lowest buffered) */
    uint64_t high_seq; /* highest buffered or played */
    int64_t play_ts;   /* extended timestamp of the next sample to play */
    int64_t ts_ref;    /* unwrap reference: highest extended timestamp seen */
    bool ts_ref_valid;
    uint32_t last_dur;
    int64_t conceal_run;        /* samples concealed since the last packet played */
    uint32_t played_since_idle; /* packets played since the last resynchronisation */
    uint64_t played_mask;       /* bit i: play_seq - 1 - i was played (duplicate detection) */
    uint64_t count;             /* used slots */
    int64_t lag;                /* playout lag measured at the last get while playing */
    uint64_t last_adjust_us;
    bool adjusted;

    /* delay estimate */
    int64_t min_epoch[MIN_BUCKETS];
    int64_t min_val[MIN_BUCKETS];
    int64_t min_transit;
    bool have_transit;
    double hist_inc, hist_total;
    double peak; /* samples */
    uint64_t peak_us;
    bool peak_time_valid;
    int64_t target;

    struct jitter_stats st;
    struct slot *slots; /* cap of them, after the struct */
    uint8_t *payloads;  /* cap x JITTER_MAX_PAYLOAD, after the slots */
    double hist[HIST_BUCKETS];
};

static uint8_t *payload_of(const struct jitter *jb, const struct slot *s)
{
    return jb->payloads + (size_t)(s - jb->slots) * JITTER_MAX_PAYLOAD;
}

static int64_t ms_to_samples(const struct jitter *jb, int64_t ms)
{
    return ms * (int64_t)jb->rate / 1000;
}

static int64_t samples_to_ms(const struct jitter *jb, int64_t s)
{
    return s * 1000 / (int64_t)jb->rate;
}

static int64_t us_to_samples(const struct jitter *jb, uint64_t us)
{
    /* split so that us * rate cannot overflow */
    return (int64_t)((us / 1000000) * jb->rate + (us % 1000000) * jb->rate / 1000000);
}

static int64_t ts_unwrap(struct jitter *jb, uint32_t ts)
{
    if (!jb->ts_ref_valid)
        return (int64_t)ts;
    return jb->ts_ref + (int32_t)(ts - (uint32_t)jb->ts_ref);
}

static struct slot *slot_at(struct jitter *jb, uint64_t seq)
{
    struct slot *s = &jb->slots[seq & jb->mask];
    return (s->used && s->seq == seq) ? s : NULL;
}

/* Lowest buffered packet at or after play_seq. */
static struct slot *first_present(struct jitter *jb)
{
    if (!jb->count)
        return NULL;
    uint64_t span = jb->high_seq - jb->play_seq; /* modular: numbers may wrap */
    if (span >= jb->cap)
        span = jb->cap - 1;
    for (uint64_t k = 0; k <= span; k++) {
        struct slot *p = slot_at(jb, jb->play_seq + k);
        if (p)
            return p;
    }
    return NULL;
}

static void release(struct jitter *jb, struct slot *s)
{
    s->used = false;
    jb->count--;
}

/* Moves play_seq forward by n; played tells whether the first of them was played. */
static void advance(struct jitter *jb, uint64_t n, bool played)
{
    if (!n)
        return;
    uint64_t m = n >= 64 ? 0 : jb->played_mask << n;
    if (played)
        m |= (uint64_t)1 << (n >= 64 ? 63 : n - 1);
    jb->played_mask = m;
    jb->play_seq += n;
}

static void transit_update(struct jitter *jb, uint64_t arrival_us, int64_t transit)
{
    int64_t e = (int64_t)(arrival_us / MIN_BUCKET_US);
    unsigned i = (unsigned)(e % MIN_BUCKETS);
    if (jb->min_epoch[i] != e) {
        jb->min_epoch[i] = e;
        jb->min_val[i] = transit;
    } else if (transit < jb->min_val[i]) {
        jb->min_val[i] = transit;
    }
    int64_t m = transit;
    for (unsigned k = 0; k < MIN_BUCKETS; k++) {
        if (jb->min_epoch[k] > e - MIN_BUCKETS && jb->min_epoch[k] <= e && jb->min_val[k] < m)
            m = jb->min_val[k];
    }
    jb->min_transit = m;
    jb->have_transit = true;
}

static void hist_add(struct jitter *jb, int64_t v)
{
    int64_t b = samples_to_ms(jb, v) / HIST_BUCKET_MS;
    if (b < 0)
        b = 0;
    if (b >= HIST_BUCKETS)
        b = HIST_BUCKETS - 1;
    jb->hist[b] += jb->hist_inc;
    jb->hist_total += jb->hist_inc;
    /* Forgetting by growing the weight of new samples instead of shrinking every bucket:
     * O(1) per packet, renormalised now and then. */
    jb->hist_inc /= HIST_FORGET;
    if (jb->hist_inc > 1e12) {
        for (unsigned k = 0; k < HIST_BUCKETS; k++)
            jb->hist[k] /= jb->hist_inc;
        jb->hist_total /= jb->hist_inc;
        jb->hist_inc = 1.0;
    }
}

static int64_t hist_quantile(const struct jitter *jb)
{
    if (jb->hist_total <= 0)
        return 0;
    double want = jb->hist_total * HIST_QUANTILE, acc = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        acc += jb->hist[b];
        if (acc >= want)
            return ms_to_samples(jb, (int64_t)(b + 1) * HIST_BUCKET_MS);
    }
    return ms_to_samples(jb, (int64_t)HIST_BUCKETS * HIST_BUCKET_MS);
}

static void target_update(struct jitter *jb, uint64_t now_us)
{
    if (jb->peak_time_valid && now_us > jb->peak_us)
        jb->peak *= exp(-(double)(now_us - jb->peak_us) / PEAK_TAU_US);
    jb->peak_us = now_us;
    jb->peak_time_valid = true;

    int64_t t = hist_quantile(jb) + jb->half;
    if ((int64_t)jb->peak > t)
        t = (int64_t)jb->peak;
    if (t < jb->min_delay)
        t = jb->min_delay;
    if (t > jb->max_delay)
        t = jb->max_delay;
    jb->target = t;
}

static void reset_playout(struct jitter *jb)
{
    for (uint64_t i = 0; i < jb->cap; i++)
        jb->slots[i].used = false;
    jb->count = 0;
    jb->mode = MODE_EMPTY;
    jb->play_seq = jb->high_seq = 0;
    jb->play_ts = 0;
    jb->ts_ref = 0;
    jb->ts_ref_valid = false;
    jb->last_dur = (uint32_t)jb->frame;
    jb->conceal_run = 0;
    jb->played_since_idle = 0;
    jb->played_mask = 0;
    jb->lag = 0;
    jb->have_transit = false;
    for (unsigned k = 0; k < MIN_BUCKETS; k++)
        jb->min_epoch[k] = INT64_MIN;
}

int jitter_alloc(struct jitter **jbp, const struct jitter_cfg *cfg)
{
    if (!jbp)
        return EINVAL;
    struct jitter_cfg c = cfg ? *cfg : (struct jitter_cfg){0};
    if (!c.clock_rate)
        c.clock_rate = 48000;
    if (!c.frame_samples)
        c.frame_samples = c.clock_rate / 50;
    if (!c.min_delay_ms)
        c.min_delay_ms = 20;
    if (!c.max_delay_ms)
        c.max_delay_ms = 400;
    if (!c.initial_delay_ms)
        c.initial_delay_ms = 60;
    if (!c.max_conceal_ms)
        c.max_conceal_ms = 60;
    if (!c.capacity)
        c.capacity = 64;
    if (c.clock_rate > 192000 || c.frame_samples > c.clock_rate ||
        c.min_delay_ms > c.max_delay_ms || c.max_delay_ms > 10000 || c.capacity > 4096)
        return EINVAL;
    uint64_t cap = 8;
    while (cap < c.capacity)
        cap <<= 1;

    struct jitter *jb =
        mem_zalloc(sizeof(*jb) + cap * (sizeof(struct slot) + JITTER_MAX_PAYLOAD), NULL);
    if (!jb)
        return ENOMEM;
    jb->slots = (struct slot *)(jb + 1);
    jb->payloads = (uint8_t *)(jb->slots + cap);
    jb->rate = c.clock_rate;
    jb->cap = cap;
    jb->mask = cap - 1;
    jb->frame = c.frame_samples;
    jb->half = jb->frame / 2;
    jb->min_delay = ms_to_samples(jb, c.min_delay_ms);
    jb->max_delay = ms_to_samples(jb, c.max_delay_ms);
    jb->initial_delay = ms_to_samples(jb, c.initial_delay_ms);
    jb->max_conceal = ms_to_samples(jb, c.max_conceal_ms);
    jb->max_dur = ms_to_samples(jb, MAX_DURATION_MS);
    jb->hist_inc = 1.0;
    jb->peak = (double)jb->initial_delay;
    jb->target = jb->initial_delay;
    reset_playout(jb);
    *jbp = jb;
    return 0;
}

void jitter_set_min_delay(struct jitter *jb, uint32_t ms)
{
    if (!jb)
        return;
    int64_t d = ms_to_samples(jb, ms ? ms : 20);
    jb->min_delay = d < jb->max_delay ? d : jb->max_delay;
}

void jitter_reset(struct jitter *jb)
{
    if (jb)
        reset_playout(jb);
}

int jitter_put(struct jitter *jb, uint64_t seq, uint32_t ts, const uint8_t *payload, size_t len,
               uint32_t duration, uint64_t arrival_us)
{
    if (!jb || !payload || !len || len > JITTER_MAX_PAYLOAD || !duration || duration > jb->max_dur)
        return EINVAL;

    bool anchored = jb->mode != MODE_EMPTY || jb->count;
    int64_t ets = ts_unwrap(jb, ts);
    int64_t d = (int64_t)(seq - jb->play_seq);

    if (anchored) {
        bool restart = false;
        if (d >= (int64_t)jb->cap)
            restart = true; /* far ahead of playout: a new sender, or hopelessly behind */
        else if (d < 0 && jb->mode != MODE_EMPTY)
            /* behind playout: late, unless its timestamp says it is a new sender */
            restart = d < -4 * (int64_t)jb->cap || ets > jb->play_ts + jb->frame;
        else if (d >= 0 && jb->mode != MODE_EMPTY)
            /* newer packets never start behind playout by more than concealment can have
             * overshot: their sender restarted its timestamps */
            restart = ets < jb->play_ts - (jb->max_conceal + jb->max_dur + jb->frame);
        if (restart) {
            reset_playout(jb);
            jb->st.resets++;
            anchored = false;
            ets = (int64_t)ts;
            d = 0;
        }
    }

    /* duplicates never count as delay samples */
    if (anchored && d >= 0 && slot_at(jb, seq)) {
        jb->st.duplicates++;
        return EALREADY;
    }
    if (anchored && d < 0 && jb->mode != MODE_EMPTY && -d <= 64 &&
        ((jb->played_mask >> (-d - 1)) & 1)) {
        jb->st.duplicates++;
        return EALREADY;
    }

    int64_t transit = us_to_samples(jb, arrival_us) - ets;
    transit_update(jb, arrival_us, transit);
    int64_t v = transit - jb->min_transit;
    hist_add(jb, v);
    /* It missed its slot (or would have): make room for such a delay at once. */
    if (jb->mode != MODE_EMPTY && v > jb->lag) {
        double p = (double)(v + jb->half);
        if (p > (double)jb->max_delay)
            p = (double)jb->max_delay;
        if (p > jb->peak)
            jb->peak = p;
    }

    if (anchored && d < 0) {
        if (jb->mode != MODE_EMPTY || jb->high_seq - seq >= jb->cap) {
            jb->st.late++;
            return ETIMEDOUT;
        }
        jb->play_seq = seq; /* reordered before playout started */
    }

    struct slot *s = &jb->slots[seq & jb->mask];
    if (s->used) /* cannot happen while every used slot is within [play_seq, +cap) */
        release(jb, s);
    s->used = true;
    s->seq = seq;
    s->ts = ets;
    s->rtp_ts = ts;
    s->duration = duration;
    s->len = (uint16_t)len;
    memcpy(payload_of(jb, s), payload, len);
    jb->count++;

    if (!anchored) {
        jb->play_seq = seq;
        jb->high_seq = seq;
    } else if ((int64_t)(seq - jb->high_seq) > 0) {
        jb->high_seq = seq;
    }
    if (!jb->ts_ref_valid || ets > jb->ts_ref) {
        jb->ts_ref = ets;
        jb->ts_ref_valid = true;
    }
    jb->st.packets++;
    return 0;
}

static enum jitter_result play(struct jitter *jb, struct slot *p, struct jitter_frame *f)
{
    f->seq = p->seq;
    f->ts = p->rtp_ts;
    f->duration = p->duration;
    f->len = p->len;
    memcpy(f->payload, payload_of(jb, p), p->len);
    jb->play_ts = p->ts + p->duration;
    jb->last_dur = p->duration;
    jb->conceal_run = 0;
    jb->played_since_idle++;
    release(jb, p);
    advance(jb, 1, true);
    jb->st.played++;
    return JITTER_PACKET;
}

/* EMPTY / IDLE: start on the first buffered packet once it has waited the target delay. */
static bool resync(struct jitter *jb, int64_t now, struct jitter_frame *f, enum jitter_result *res)
{
    struct slot *p = first_present(jb);
    if (!p || !jb->have_transit)
        return false;
    if (now - jb->min_transit - p->ts < jb->target - jb->half)
        return false;
    if (jb->mode == MODE_EMPTY)
        jb->play_seq = p->seq;
    else
        advance(jb, p->seq - jb->play_seq, false); /* lost while silent: nothing to conceal */
    jb->mode = MODE_PLAYING;
    jb->played_since_idle = 0;
    jb->lag = now - jb->min_transit - p->ts;
    *res = play(jb, p, f);
    return true;
}

enum jitter_result jitter_get(struct jitter *jb, uint64_t now_us, struct jitter_frame *f)
{
    f->len = 0;
    f->fec = false;
    f->stretch = false;
    f->duration = 0;
    f->seq = 0;
    f->ts = 0;
    if (!jb)
        return JITTER_NONE;

    target_update(jb, now_us);
    int64_t now = us_to_samples(jb, now_us);
    enum jitter_result res = JITTER_NONE;

    /* Each pass either returns or consumes a packet / changes mode, so cap + 4 bounds it. */
    for (uint64_t guard = 0; guard < jb->cap + 4; guard++) {
        if (jb->mode != MODE_PLAYING)
            return resync(jb, now, f, &res) ? res : JITTER_NONE;

        int64_t lag = now - jb->min_transit - jb->play_ts;
        jb->lag = lag;
        struct slot *p = slot_at(jb, jb->play_seq);
        if (p) {
            int64_t gap = p->ts - jb->play_ts;
            if (gap > jb->half) {
                /* silence in the stream (DTX): the next packet plays at the target delay */
                jb->mode = MODE_IDLE;
                continue;
            }
            struct slot *q = slot_at(jb, jb->play_seq + 1);
            bool contiguous = q && q->ts >= p->ts && q->ts - p->ts <= p->duration + jb->half;
            /* after the drop the lag is still within the band resync starts in */
            bool deep = lag - p->duration >= jb->target - jb->half;
            bool too_deep = lag - p->duration >= jb->max_delay;
            bool may_adjust = !jb->adjusted || now_us - jb->last_adjust_us >= SHRINK_INTERVAL_US;
            if (contiguous && deep && (may_adjust || too_deep)) {
                release(jb, p);
                advance(jb, 1, true);
                jb->play_ts = q->ts;
                jb->st.dropped++;
                jb->last_adjust_us = now_us;
                jb->adjusted = true;
                continue;
            }
            bool may_grow = !jb->adjusted || now_us - jb->last_adjust_us >= GROW_INTERVAL_US;
            if (lag < jb->target - jb->half && may_grow && jb->played_since_idle > 0) {
                jb->last_adjust_us = now_us;
                jb->adjusted = true;
                jb->st.stretched++;
                f->stretch = true;
                f->seq = p->seq;
                f->duration = jb->last_dur;
                return JITTER_LOST;
            }
            return play(jb, p, f);
        }

        /* The next packet is missing. */
        struct slot *q = first_present(jb);
        if (q && q->ts == jb->play_ts) {
            /* The numbers before it carried no audio time: telephone-events (RFC 4733) share
             * the sequence numbers of the stream. Nothing is lost. */
            advance(jb, q->seq - jb->play_seq, false);
            continue;
        }
        int64_t budget = jb->played_since_idle >= DTX_RUN_PACKETS ? jb->max_conceal : jb->frame;
        if (jb->conceal_run >= budget) {
            jb->mode = MODE_IDLE;
            continue;
        }
        uint32_t dur = jb->last_dur;
        f->seq = jb->play_seq;
        if (!q) {
            /* Underrun: wait for it (it may be late), concealing meanwhile. */
            f->stretch = true;
            f->duration = dur;
            jb->conceal_run += dur;
            jb->st.stretched++;
            return JITTER_LOST;
        }
        if (q->seq == jb->play_seq + 1) {
            int64_t span = q->ts - jb->play_ts;
            if (span > 0 && span <= jb->max_dur)
                dur = (uint32_t)span;
            f->fec = true;
            f->ts = q->rtp_ts;
            f->len = q->len;
            memcpy(f->payload, payload_of(jb, q), q->len);
        }
        f->duration = dur;
        advance(jb, 1, false);
        jb->play_ts += dur;
        jb->conceal_run += dur;
        jb->st.lost++;
        return JITTER_LOST;
    }
    return JITTER_NONE;
}

void jitter_get_stats(const struct jitter *jb, struct jitter_stats *st)
{
    if (!jb || !st)
        return;
    *st = jb->st;
    st->target_ms = (uint32_t)samples_to_ms(jb, jb->target);
    st->delay_ms = jb->lag > 0 ? (uint32_t)samples_to_ms(jb, jb->lag) : 0;
}
