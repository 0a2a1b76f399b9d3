/*
 * Jitter buffer under synthetic arrival patterns. A sender emits 20 ms packets (or whatever a
 * test builds), the network gives each an arrival time, and a mixer clock calls jitter_get every
 * 20 ms on a simulated clock; the test checks what came out of every tick.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "media/jitter.h"

#define FRAME    960
#define TICK_US  20000
#define PHASE_US 7000 /* the mixer's ticks are not aligned with the sender's */

struct arrival {
    uint64_t at;
    uint64_t seq;
    uint32_t ts;
    uint32_t dur;
};

struct rec {
    enum jitter_result r;
    uint64_t seq;
    uint64_t fec_seq;
    uint32_t dur;
    bool fec;
    bool stretch;
    uint64_t at;
};

struct sim {
    struct jitter *jb;
    struct arrival *arr;
    size_t narr, cap_arr, next;
    struct rec *rec;
    size_t nrec, cap_rec;
    uint64_t now;
    unsigned put_late, put_dup, put_inval;
    uint32_t max_delay_ms, max_target_ms;
};

static void sim_init(struct sim *s, const struct jitter_cfg *cfg)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(jitter_alloc(&s->jb, cfg), 0);
    s->cap_arr = 1024;
    s->arr = calloc(s->cap_arr, sizeof(*s->arr));
    s->cap_rec = 1024;
    s->rec = calloc(s->cap_rec, sizeof(*s->rec));
    assert_non_null(s->arr);
    assert_non_null(s->rec);
    s->now = PHASE_US;
}

static void sim_free(struct sim *s)
{
    s->jb = mem_deref(s->jb);
    free(s->arr);
    free(s->rec);
}

static void sim_send(struct sim *s, uint64_t at, uint64_t seq, uint32_t ts, uint32_t dur)
{
    if (s->narr == s->cap_arr) {
        s->cap_arr *= 2;
        s->arr = realloc(s->arr, s->cap_arr * sizeof(*s->arr));
        assert_non_null(s->arr);
    }
    s->arr[s->narr++] = (struct arrival){at, seq, ts, dur};
}

static int by_arrival(const void *a, const void *b)
{
    const struct arrival *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x < y ? -1 : 1; /* stable enough: keep the order they were sent in */
}

/* Sorts pending arrivals (call after queueing a batch). */
static void sim_sort(struct sim *s)
{
    /* qsort is not stable; make it so with a sequence-of-insertion tiebreak by index */
    for (size_t i = s->next; i < s->narr; i++)
        s->arr[i].at = s->arr[i].at * 4096 + (i & 4095);
    qsort(s->arr + s->next, s->narr - s->next, sizeof(*s->arr), by_arrival);
    for (size_t i = s->next; i < s->narr; i++)
        s->arr[i].at /= 4096;
}

static void payload_of(uint64_t seq, uint8_t p[8])
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(seq >> (56 - 8 * i));
}

static uint64_t seq_of(const uint8_t p[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void deliver_until(struct sim *s, uint64_t t)
{
    while (s->next < s->narr && s->arr[s->next].at <= t) {
        const struct arrival *a = &s->arr[s->next++];
        uint8_t p[8];
        payload_of(a->seq, p);
        int err = jitter_put(s->jb, a->seq, a->ts, p, sizeof(p), a->dur, a->at);
        if (err == ETIMEDOUT)
            s->put_late++;
        else if (err == EALREADY)
            s->put_dup++;
        else if (err)
            s->put_inval++;
    }
}

/* Runs mixer ticks until (exclusive) t. */
static void sim_run(struct sim *s, uint64_t until)
{
    struct jitter_frame f;
    while (s->now < until) {
        deliver_until(s, s->now);
        enum jitter_result r = jitter_get(s->jb, s->now, &f);
        if (s->nrec == s->cap_rec) {
            s->cap_rec *= 2;
            s->rec = realloc(s->rec, s->cap_rec * sizeof(*s->rec));
            assert_non_null(s->rec);
        }
        struct rec *rc = &s->rec[s->nrec++];
        memset(rc, 0, sizeof(*rc));
        rc->r = r;
        rc->at = s->now;
        rc->dur = f.duration;
        rc->seq = f.seq;
        rc->fec = f.fec;
        rc->stretch = f.stretch;
        if (r == JITTER_PACKET) {
            assert_int_equal(f.len, 8);
            assert_int_equal(seq_of(f.payload), f.seq); /* the right bytes came back */
        }
        if (r == JITTER_LOST && f.fec) {
            assert_int_equal(f.len, 8);
            rc->fec_seq = seq_of(f.payload);
        }
        struct jitter_stats st;
        jitter_get_stats(s->jb, &st);
        if (getenv("JB_TRACE"))
            print_message("t=%llu r=%d seq=%llu dur=%u fec=%d stretch=%d target=%u lag=%u\n",
                          (unsigned long long)s->now, r, (unsigned long long)f.seq, f.duration,
                          f.fec, f.stretch, st.target_ms, st.delay_ms);
        if (r != JITTER_NONE && st.delay_ms > s->max_delay_ms)
            s->max_delay_ms = st.delay_ms;
        if (st.target_ms > s->max_target_ms)
            s->max_target_ms = st.target_ms;
        s->now += TICK_US;
    }
}

/* A steady sender: n packets of 20 ms from seq0/ts0, sent at t0 + i*20 ms, arriving after a
 * base transit. */
static void send_steady(struct sim *s, uint64_t t0, uint64_t seq0, uint32_t ts0, unsigned n,
                        uint64_t transit)
{
    for (unsigned i = 0; i < n; i++)
        sim_send(s, t0 + (uint64_t)i * TICK_US + transit, seq0 + i, ts0 + i * FRAME, FRAME);
}

static unsigned count_kind(const struct sim *s, enum jitter_result r)
{
    unsigned n = 0;
    for (size_t i = 0; i < s->nrec; i++)
        n += s->rec[i].r == r;
    return n;
}

/* Every packet returned once, in increasing sequence order; returns how many. */
static unsigned check_played_in_order(const struct sim *s)
{
    uint64_t last = 0;
    bool any = false;
    unsigned n = 0;
    for (size_t i = 0; i < s->nrec; i++) {
        if (s->rec[i].r != JITTER_PACKET)
            continue;
        if (any)
            assert_true(s->rec[i].seq > last);
        last = s->rec[i].seq;
        any = true;
        n++;
    }
    return n;
}

/* Played in order, and every packet either played or dropped to shrink the buffer (a few at
 * most, while the initial delay sinks to what the path needs). */
static void check_accounted(const struct sim *s, unsigned n, unsigned max_dropped)
{
    struct jitter_stats st;
    jitter_get_stats(s->jb, &st);
    unsigned played = check_played_in_order(s);
    assert_int_equal(played + st.dropped, n);
    assert_true(st.dropped <= max_dropped);
}

static bool was_played(const struct sim *s, uint64_t seq)
{
    for (size_t i = 0; i < s->nrec; i++)
        if (s->rec[i].r == JITTER_PACKET && s->rec[i].seq == seq)
            return true;
    return false;
}

static const struct rec *find_lost(const struct sim *s, uint64_t seq)
{
    for (size_t i = 0; i < s->nrec; i++)
        if (s->rec[i].r == JITTER_LOST && !s->rec[i].stretch && s->rec[i].seq == seq)
            return &s->rec[i];
    return NULL;
}

static void test_in_order(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    send_steady(&s, 0, 1000, 12345, 250, 30000);
    sim_sort(&s);
    sim_run(&s, 6 * 1000000);

    check_accounted(&s, 250, 3);
    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.late, 0);
    assert_int_equal(count_kind(&s, JITTER_PACKET) + st.dropped, 250);
    assert_true(count_kind(&s, JITTER_LOST) <= 3); /* after the last packet */
    /* the first packet waits about the initial target (60 ms), not much more */
    for (size_t i = 0; i < s.nrec; i++) {
        if (s.rec[i].r == JITTER_PACKET) {
            assert_true(s.rec[i].at >= 30000 + 40000);
            assert_true(s.rec[i].at <= 30000 + 80000);
            break;
        }
    }
    /* a calm path lets the target sink to the floor */
    assert_true(st.target_ms <= 30);
    sim_free(&s);
}

/* The floor of the target can move while playing: a calm path sits at 20 ms, a raised floor
 * (a look-ahead for FEC) deepens the buffer to it, lowering it lets the target sink again. */
static void test_min_delay_change(void **state)
{
    struct sim s;
    struct jitter_cfg c = {.min_delay_ms = 20, .initial_delay_ms = 20};
    sim_init(&s, &c);
    send_steady(&s, 0, 1000, 12345, 500, 30000);
    sim_sort(&s);
    sim_run(&s, 3 * 1000000);
    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.target_ms, 20);
    uint64_t stretched = st.stretched;

    jitter_set_min_delay(s.jb, 40);
    sim_run(&s, 6 * 1000000);
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.target_ms, 40);
    assert_true(st.stretched > stretched); /* deepened by inserting a frame */
    assert_true(st.delay_ms >= 30);

    jitter_set_min_delay(s.jb, 20);
    sim_run(&s, 9 * 1000000);
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.target_ms, 20);
    assert_int_equal(st.lost, 0);
    sim_free(&s);
}

static void test_reordered(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    /* every other pair swapped: the odd one arrives 25 ms earlier than its predecessor */
    for (unsigned i = 0; i < 300; i++) {
        uint64_t at = (uint64_t)i * TICK_US + 30000;
        if (i % 4 == 0)
            at += 30000;
        sim_send(&s, at, 500 + i, i * FRAME, FRAME);
    }
    sim_sort(&s);
    sim_run(&s, 7 * 1000000);

    check_accounted(&s, 300, 3);
    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.late, 0);
    /* 30 ms of variation: the target covers it */
    assert_true(st.target_ms >= 30);
    sim_free(&s);
}

static void test_duplicated(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    send_steady(&s, 0, 0, 0, 200, 20000);
    for (unsigned i = 0; i < 200; i += 5) {
        sim_send(&s, (uint64_t)i * TICK_US + 25000, i, i * FRAME, FRAME);  /* still queued */
        sim_send(&s, (uint64_t)i * TICK_US + 400000, i, i * FRAME, FRAME); /* long played */
    }
    sim_sort(&s);
    sim_run(&s, 6 * 1000000);

    check_accounted(&s, 200, 3);
    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.duplicates, 80);
    assert_int_equal(s.put_dup, 80);
    assert_int_equal(st.late, 0);
    assert_int_equal(st.lost, 0);
    sim_free(&s);
}

static void test_lost(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    for (unsigned i = 0; i < 300; i++) {
        if (i == 100 || i == 200 || i == 201)
            continue;
        sim_send(&s, (uint64_t)i * TICK_US + 20000, i, i * FRAME, FRAME);
    }
    sim_sort(&s);
    sim_run(&s, 7 * 1000000);

    const struct rec *l = find_lost(&s, 100);
    assert_non_null(l);
    assert_true(l->fec); /* the next packet is offered for FEC */
    assert_int_equal(l->fec_seq, 101);
    assert_int_equal(l->dur, FRAME);

    l = find_lost(&s, 200);
    assert_non_null(l);
    assert_false(l->fec); /* 201 is gone too */
    l = find_lost(&s, 201);
    assert_non_null(l);
    assert_true(l->fec);
    assert_int_equal(l->fec_seq, 202);

    check_accounted(&s, 297, 3);
    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.lost, 3);
    assert_int_equal(st.late, 0);
    sim_free(&s);
}

static void test_late(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    for (unsigned i = 0; i < 600; i++) {
        uint64_t at = (uint64_t)i * TICK_US + 20000;
        if (i == 300)
            at += 300000; /* one packet stuck for 300 ms */
        sim_send(&s, at, i, i * FRAME, FRAME);
    }
    sim_sort(&s);
    sim_run(&s, (uint64_t)600 * TICK_US);
    struct jitter_stats before;
    jitter_get_stats(s.jb, &before);
    sim_run(&s, (uint64_t)620 * TICK_US + 400000);

    const struct rec *l = find_lost(&s, 300);
    assert_non_null(l);
    assert_true(l->fec);
    assert_false(was_played(&s, 300));
    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.late, 1);
    assert_int_equal(s.put_late, 1);
    /* the late packet raised the target at once, to cover such a delay */
    assert_true(s.max_target_ms >= 250);
    check_accounted(&s, 599, 20); /* the raised target sinks back */
    sim_free(&s);
}

/* Steady traffic, then the path stalls for 200 ms and delivers the backlog at once. */
static void send_with_stall(struct sim *s, unsigned n, unsigned stall_at, uint64_t stall_us)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t sent = (uint64_t)i * TICK_US;
        uint64_t at = sent + 20000;
        uint64_t stall_start = (uint64_t)stall_at * TICK_US;
        if (sent >= stall_start && sent < stall_start + stall_us)
            at = stall_start + stall_us + 20000 + (i - stall_at) * 100;
        sim_send(s, at, i, i * FRAME, FRAME);
    }
}

static void test_jitter_burst_then_calm(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    send_with_stall(&s, 4000, 500, 200000);
    sim_sort(&s);

    sim_run(&s, (uint64_t)500 * TICK_US);
    struct jitter_stats calm;
    jitter_get_stats(s.jb, &calm);
    assert_true(calm.target_ms <= 30);

    /* the burst: target grows quickly */
    sim_run(&s, (uint64_t)530 * TICK_US);
    struct jitter_stats burst;
    jitter_get_stats(s.jb, &burst);
    assert_true(burst.target_ms >= 150);
    /* the stall is waited for (a few concealed frames, then silence), not dropped */
    unsigned played_after = 0;
    for (size_t i = 0; i < s.nrec; i++)
        played_after += s.rec[i].r == JITTER_PACKET && s.rec[i].seq >= 500 && s.rec[i].seq < 510;
    assert_int_equal(played_after, 10);

    /* a second later: still high, shrinking slowly */
    sim_run(&s, (uint64_t)580 * TICK_US);
    struct jitter_stats later;
    jitter_get_stats(s.jb, &later);
    assert_true(later.target_ms >= 100);
    assert_true(later.target_ms < burst.target_ms);

    /* a minute of calm: back near the floor, and the depth followed */
    sim_run(&s, (uint64_t)3500 * TICK_US);
    struct jitter_stats end;
    jitter_get_stats(s.jb, &end);
    assert_true(end.target_ms <= 40);
    assert_true(end.delay_ms <= 60);
    assert_true(end.dropped > 0); /* the extra depth was given back by dropping frames */
    assert_int_equal(end.late, 0);
    sim_free(&s);
}

static void test_dtx_gap(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    /* talk 2 s, silence 3 s (timestamps advance, sequence numbers do not), talk 2 s */
    send_steady(&s, 0, 10, 0, 100, 20000);
    send_steady(&s, 5000000, 110, 250 * FRAME, 100, 20000);
    sim_sort(&s);
    sim_run(&s, 9 * 1000000);

    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.lost, 0); /* a silence is not loss */
    assert_int_equal(st.late, 0);
    check_accounted(&s, 200, 3);
    /* after the last packet of the first spurt: a few concealed frames at most, then silence */
    size_t last99 = 0, first110 = 0;
    for (size_t i = 0; i < s.nrec; i++) {
        if (s.rec[i].r == JITTER_PACKET && s.rec[i].seq == 109)
            last99 = i;
        if (s.rec[i].r == JITTER_PACKET && s.rec[i].seq == 110)
            first110 = i;
    }
    unsigned concealed = 0, silent = 0;
    for (size_t i = last99 + 1; i < first110; i++) {
        concealed += s.rec[i].r == JITTER_LOST;
        silent += s.rec[i].r == JITTER_NONE;
    }
    assert_true(concealed <= 3);
    assert_true(silent >= 140);
    /* resynchronised: the first packet after the silence plays about the target delay after
     * it arrived */
    uint64_t arrived = 5000000 + 20000;
    assert_true(s.rec[first110].at >= arrived);
    assert_true(s.rec[first110].at <= arrived + st.target_ms * 1000 + 30000);
    sim_free(&s);
}

/* Opus DTX: in silence one packet every 400 ms, sequence numbers contiguous. */
static void test_dtx_keepalive(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    send_steady(&s, 0, 0, 0, 100, 20000);
    uint64_t seq = 100;
    for (unsigned k = 1; k <= 20; k++) /* 8 s of DTX */
        sim_send(&s, 2000000 + (uint64_t)k * 400000, seq++, (100 + 20 * k) * FRAME, FRAME);
    send_steady(&s, 10400000, seq, 520 * FRAME, 100, 20000);
    sim_sort(&s);
    sim_run(&s, 13 * 1000000);

    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.late, 0);
    check_accounted(&s, 220, 3);
    /* at most one concealed frame after each lone comfort-noise packet */
    assert_true(st.stretched <= 3 + 20 + 3);
    sim_free(&s);
}

static void test_wraparound(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    /* extended sequence numbers cross 2^16, timestamps cross 2^32 */
    uint32_t ts0 = UINT32_MAX - 100 * FRAME + 17;
    for (unsigned i = 0; i < 300; i++) {
        uint64_t at = (uint64_t)i * TICK_US + 20000 + (i % 3) * 7000;
        if (i == 150)
            continue; /* a loss right after the wrap */
        sim_send(&s, at, 65536 - 120 + i, ts0 + i * FRAME, FRAME);
    }
    sim_sort(&s);
    sim_run(&s, 8 * 1000000);

    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.resets, 0);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.late, 0);
    check_accounted(&s, 299, 3);
    assert_non_null(find_lost(&s, 65536 - 120 + 150));
    sim_free(&s);
}

static void test_sender_restart(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    send_steady(&s, 0, 1000, 5000, 100, 20000);
    /* the sender restarts: sequence number far away, new timestamp base */
    send_steady(&s, 2000000, 40000, 777777777, 100, 20000);
    /* and again with the same sequence space but a timestamp far in the past */
    send_steady(&s, 4000000, 40100, 777777777 - 48000 * 30, 100, 20000);
    sim_sort(&s);
    sim_run(&s, 7 * 1000000);

    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.resets, 2);
    assert_int_equal(st.late, 0);
    /* what the old sender still had queued is discarded with it (a frame or two each time) */
    unsigned played = check_played_in_order(&s);
    assert_true(played + st.dropped >= 300 - 4);
    assert_true(was_played(&s, 40000));
    assert_true(was_played(&s, 40100 + 99));
    assert_true(st.lost <= 1);
    sim_free(&s);
}

/* Sequence numbers carry on but the timestamps step back (a media switch behind a gateway that
 * keeps the SSRC): a restart, not a flood of late packets that would push the target up. */
static void test_timestamp_step_back(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    send_steady(&s, 0, 100, 480000, 150, 20000);
    send_steady(&s, 3000000, 250, 480000 + 150 * FRAME - 24000, 150, 20000);
    sim_sort(&s);
    sim_run(&s, 7 * 1000000);

    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    assert_int_equal(st.resets, 1);
    assert_int_equal(st.late, 0);
    assert_true(s.max_target_ms <= 60);
    assert_true(was_played(&s, 250));
    assert_true(was_played(&s, 399));
    sim_free(&s);
}

static void test_reset_keeps_estimate(void **state)
{
    struct sim s;
    sim_init(&s, NULL);
    send_steady(&s, 0, 0, 0, 100, 20000);
    sim_sort(&s);
    sim_run(&s, 3 * 1000000);
    jitter_reset(s.jb);
    struct jitter_frame f;
    assert_int_equal(jitter_get(s.jb, s.now, &f), JITTER_NONE);
    /* a new source, anything goes: sequence number lower than before */
    uint8_t p[8] = {0};
    assert_int_equal(jitter_put(s.jb, 5, 99, p, sizeof(p), FRAME, s.now), 0);
    assert_int_equal(jitter_put(s.jb, 5, 99, p, sizeof(p), FRAME, s.now), EALREADY);
    assert_int_equal(jitter_put(s.jb, 6, 99, p, 0, FRAME, s.now), EINVAL);
    assert_int_equal(jitter_put(s.jb, 6, 99, p, JITTER_MAX_PAYLOAD + 1, FRAME, s.now), EINVAL);
    assert_int_equal(jitter_put(s.jb, 6, 99, p, sizeof(p), 0, s.now), EINVAL);
    assert_int_equal(jitter_put(s.jb, 6, 99, p, sizeof(p), 48000, s.now), EINVAL);
    assert_int_equal(jitter_get(s.jb, s.now, &f), JITTER_NONE); /* waits for its delay */
    enum jitter_result r = JITTER_NONE;
    for (int i = 1; i < 10 && r == JITTER_NONE; i++)
        r = jitter_get(s.jb, s.now + (uint64_t)i * TICK_US, &f);
    assert_int_equal(r, JITTER_PACKET);
    assert_int_equal(f.seq, 5);
    sim_free(&s);
}

/* The sender's clock runs fast or slow against the mixer's for minutes. */
static void run_drift(double ratio)
{
    struct sim s;
    sim_init(&s, NULL);
    unsigned n = 5 * 60 * 50; /* 5 minutes */
    for (unsigned i = 0; i < n; i++) {
        uint64_t sent = (uint64_t)((double)i * TICK_US / ratio);
        uint64_t at = sent + 20000 + (uint64_t)((i * 7919u) % 11) * 1000; /* 0..10 ms jitter */
        sim_send(&s, at, i, i * FRAME, FRAME);
    }
    sim_sort(&s);
    uint64_t end = (uint64_t)((double)n * TICK_US / ratio);
    sim_run(&s, end);

    struct jitter_stats st;
    jitter_get_stats(s.jb, &st);
    /* the depth stays bounded all along */
    assert_true(s.max_delay_ms <= 120);
    assert_true(st.delay_ms <= 80);
    assert_int_equal(st.late, 0);
    assert_int_equal(st.lost, 0);
    unsigned played = check_played_in_order(&s);
    /* 0.1 % of 15000 frames: about 15 frames dropped (fast sender) or inserted (slow) */
    if (ratio > 1) {
        assert_true(st.dropped >= 10 && st.dropped <= 40);
        assert_true(played + st.dropped >= n - 10);
    } else {
        assert_true(st.stretched >= 10 && st.stretched <= 60);
        assert_true(played >= n - 10);
    }
    sim_free(&s);
}

static void test_drift_fast_sender(void **state)
{
    run_drift(1.001);
}

static void test_drift_slow_sender(void **state)
{
    run_drift(0.999);
}

/* 10 ms packets: two per tick; the caller asks twice, the second time 10 ms later. */
static void test_short_packets(void **state)
{
    struct jitter *jb;
    assert_int_equal(jitter_alloc(&jb, NULL), 0);
    uint8_t p[8] = {1};
    unsigned played = 0, lost = 0;
    uint64_t next_seq = 0;
    for (unsigned tick = 0; tick < 200; tick++) {
        uint64_t now = (uint64_t)tick * TICK_US + PHASE_US;
        for (uint64_t k = 0; k < 4; k++) { /* deliver everything sent by now - 20 ms */
            uint64_t seq = next_seq;
            uint64_t sent = seq * 10000;
            if (sent + 20000 > now)
                break;
            if (seq != 77)
                assert_int_equal(
                    jitter_put(jb, seq, (uint32_t)(seq * 480), p, 8, 480, sent + 20000), 0);
            next_seq++;
        }
        unsigned have = 0;
        struct jitter_frame f;
        while (have < FRAME) {
            enum jitter_result r = jitter_get(jb, now + have * 1000000ull / 48000, &f);
            if (r == JITTER_NONE)
                break;
            assert_int_equal(f.duration, 480);
            played += r == JITTER_PACKET;
            lost += r == JITTER_LOST && !f.stretch;
            have += f.duration;
        }
    }
    assert_int_equal(lost, 1);
    assert_true(played >= 380);
    mem_deref(jb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_min_delay_change),
        cmocka_unit_test(test_reordered),
        cmocka_unit_test(test_duplicated),
        cmocka_unit_test(test_lost),
        cmocka_unit_test(test_late),
        cmocka_unit_test(test_jitter_burst_then_calm),
        cmocka_unit_test(test_dtx_gap),
        cmocka_unit_test(test_dtx_keepalive),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_sender_restart),
        cmocka_unit_test(test_timestamp_step_back),
        cmocka_unit_test(test_reset_keeps_estimate),
        cmocka_unit_test(test_drift_fast_sender),
        cmocka_unit_test(test_drift_slow_sender),
        cmocka_unit_test(test_short_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
