/* Sequence numbers, loss accounting (RFC 3550 A.1, A.3) and interarrival jitter (A.8). */
#include <math.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rtp/rtp.h"

/* Feeds seq and expects rc; returns the extended number (or UINT64_MAX when not set). */
static uint64_t feed(struct rtp_seq *s, uint16_t seq, int rc)
{
    uint64_t ext = UINT64_MAX;
    assert_int_equal(rtp_seq_update(s, seq, &ext), rc);
    return ext;
}

/* A source made valid at first, first + 1. */
static void start_at(struct rtp_seq *s, uint16_t first)
{
    memset(s, 0, sizeof(*s));
    feed(s, first, EAGAIN);
    assert_int_equal(feed(s, (uint16_t)(first + 1), 0), (uint16_t)(first + 1));
}

static void probation(void **state)
{
    struct rtp_seq s = {0};

    assert_int_equal(rtp_seq_expected(&s), 0);
    assert_int_equal(feed(&s, 100, EAGAIN), UINT64_MAX);
    assert_int_equal(rtp_seq_expected(&s), 0);
    assert_int_equal(rtp_seq_lost(&s), 0);
    assert_int_equal(rtp_seq_fraction_lost(&s), 0);
    assert_int_equal(feed(&s, 101, 0), 101);
    assert_int_equal(s.received, 1);
    assert_int_equal(rtp_seq_expected(&s), 1);
    assert_int_equal(rtp_seq_ext_max(&s), 101);
    assert_int_equal(rtp_seq_lost(&s), 0);

    /* Out of sequence during probation starts probation over from that packet. */
    memset(&s, 0, sizeof(s));
    feed(&s, 100, EAGAIN);
    feed(&s, 105, EAGAIN);
    feed(&s, 107, EAGAIN);
    assert_int_equal(feed(&s, 108, 0), 108);

    /* rtp_seq_init() puts a running source back on probation (a new SSRC). */
    rtp_seq_init(&s, 5000);
    feed(&s, 5000, EAGAIN);
    assert_int_equal(feed(&s, 5001, 0), 5001);
    assert_int_equal(rtp_seq_expected(&s), 1);

    /* Probation across the wrap. */
    memset(&s, 0, sizeof(s));
    feed(&s, 65535, EAGAIN);
    assert_int_equal(feed(&s, 0, 0), 0);
    assert_int_equal(feed(&s, 1, 0), 1);
}

static void wrap_around(void **state)
{
    struct rtp_seq s;
    start_at(&s, 65533);

    assert_int_equal(feed(&s, 65535, 0), 65535);
    assert_int_equal(feed(&s, 0, 0), 65536);
    assert_int_equal(feed(&s, 1, 0), 65537);
    assert_int_equal(s.cycles, 65536);
    assert_int_equal(rtp_seq_ext_max(&s), 65537);
    assert_int_equal(rtp_seq_expected(&s), 4);
    assert_int_equal(rtp_seq_lost(&s), 0);

    /* A late packet from before the wrap keeps the number of its own cycle. */
    assert_int_equal(feed(&s, 65535, 0), 65535);
    assert_int_equal(rtp_seq_ext_max(&s), 65537);

    /* Loss across the wrap: 2 .. 65535 + 5 of the next cycle. */
    for (uint32_t i = 2; i < 65536; i += 1000)
        feed(&s, (uint16_t)i, 0);
    assert_int_equal(feed(&s, 5, 0), 2 * 65536 + 5);
}

static void loss_and_fraction(void **state)
{
    struct rtp_seq s;
    start_at(&s, 10); /* base 11 */

    feed(&s, 12, 0);
    feed(&s, 14, 0);
    feed(&s, 15, 0); /* 11..15: 13 lost */
    assert_int_equal(rtp_seq_expected(&s), 5);
    assert_int_equal(rtp_seq_lost(&s), 1);
    assert_int_equal(rtp_seq_fraction_lost(&s), 256 / 5);

    for (uint16_t q = 16; q < 20; q++)
        feed(&s, q, 0);
    assert_int_equal(rtp_seq_fraction_lost(&s), 0);
    assert_int_equal(rtp_seq_lost(&s), 1);

    feed(&s, 20, 0);
    feed(&s, 23, 0); /* 20..23: two of four lost */
    assert_int_equal(rtp_seq_fraction_lost(&s), 128);
    assert_int_equal(rtp_seq_lost(&s), 3);

    /* An interval with nothing expected reports zero, not a division by zero. */
    assert_int_equal(rtp_seq_fraction_lost(&s), 0);

    /* The late arrival of a packet counted lost earlier makes the next interval's loss
     * negative (one expected, two received), which is reported as 0; the cumulative count
     * goes down. */
    feed(&s, 21, 0);
    feed(&s, 24, 0);
    assert_int_equal(rtp_seq_fraction_lost(&s), 0);
    assert_int_equal(rtp_seq_lost(&s), 2);
}

static void duplicates_and_reordering(void **state)
{
    struct rtp_seq s;
    start_at(&s, 10); /* base 11 */

    assert_int_equal(feed(&s, 13, 0), 13);
    assert_int_equal(feed(&s, 12, 0), 12); /* reordered */
    assert_int_equal(rtp_seq_lost(&s), 0);
    assert_int_equal(rtp_seq_ext_max(&s), 13);

    /* Duplicates are counted as received (A.1 does not detect them): loss goes negative. */
    assert_int_equal(feed(&s, 12, 0), 12);
    assert_int_equal(feed(&s, 13, 0), 13);
    assert_int_equal(rtp_seq_expected(&s), 3);
    assert_int_equal(s.received, 5);
    assert_int_equal(rtp_seq_lost(&s), -2);
    assert_int_equal(rtp_seq_fraction_lost(&s), 0);

    /* The oldest tolerated misorder (99 behind max: A.1 treats a step back of MAX_MISORDER
     * = 100 as a jump) versus one more. */
    for (uint16_t q = 14; q <= 300; q++)
        feed(&s, q, 0);
    assert_int_equal(feed(&s, 201, 0), 201);
    assert_int_equal(feed(&s, 200, EBADMSG), UINT64_MAX);

    /* A late packet from before the stream's first cycle: counted, but has no number. */
    struct rtp_seq t;
    start_at(&t, 10);
    uint32_t before = t.received;
    feed(&t, 65530, EBADMSG);
    assert_int_equal(t.received, before + 1);
    assert_int_equal(rtp_seq_ext_max(&t), 11);
}

static void dropout_and_restart(void **state)
{
    struct rtp_seq s;
    start_at(&s, 999); /* base 1000 */

    /* A gap just under MAX_DROPOUT is loss... */
    assert_int_equal(feed(&s, 1000 + 2999, 0), 3999);
    assert_int_equal(rtp_seq_lost(&s), 2998);
    /* ...one of MAX_DROPOUT is not believed until confirmed. */
    feed(&s, 3999 + 3000, EBADMSG);
    /* An unconfirmed jump leaves the stream alone. */
    assert_int_equal(feed(&s, 4000, 0), 4000);
    assert_int_equal(rtp_seq_ext_max(&s), 4000);
    assert_int_equal(rtp_seq_expected(&s), 3001);

    /* A restarted sender: the jump is confirmed by the next packet and the statistics start
     * over from it. */
    feed(&s, 30000, EBADMSG);
    assert_int_equal(feed(&s, 30001, 0), 30001);
    assert_int_equal(s.base_seq, 30001);
    assert_int_equal(s.cycles, 0);
    assert_int_equal(s.received, 1);
    assert_int_equal(rtp_seq_expected(&s), 1);
    assert_int_equal(rtp_seq_lost(&s), 0);
    assert_int_equal(feed(&s, 30002, 0), 30002);

    /* A duplicate far in the past is dropped like a jump. */
    assert_int_equal(feed(&s, 29000, EBADMSG), UINT64_MAX);
    assert_int_equal(s.received, 2);
}

static void lost_clamped_to_24_bits(void **state)
{
    struct rtp_seq s;
    start_at(&s, 0);

    s.cycles = 200u << 16; /* some 13 million expected, one received */
    assert_int_equal(rtp_seq_lost(&s), 0x7fffff);
    s.cycles = 0;
    s.received = 20000000;
    assert_int_equal(rtp_seq_lost(&s), -0x800000);
}

static void ext_may_be_null(void **state)
{
    struct rtp_seq s = {0};
    assert_int_equal(rtp_seq_update(&s, 1, NULL), EAGAIN);
    assert_int_equal(rtp_seq_update(&s, 2, NULL), 0);
}

static void jitter_constant_transit_is_zero(void **state)
{
    struct rtp_jitter j = {0};
    /* Timestamps wrapping through 2^32, arrival clock offset arbitrarily. */
    uint32_t ts = 0xffffff00u;
    for (int i = 0; i < 50; i++, ts += 160)
        rtp_jitter_update(&j, ts, ts + 123456789u);
    assert_int_equal(rtp_jitter_get(&j), 0);
}

/* Every other packet arrives d late: |D| = d for every packet after the first, so J tends to
 * d. The integer estimate must follow the RFC's floating-point recurrence at every step, and
 * reach d (or the unit below it, as truncating the RFC's value does). */
static void jitter_converges(void **state)
{
    const uint32_t d = 32;
    struct rtp_jitter j = {0};
    double ref = 0;
    uint32_t ts = 1000, prev_transit = 0;

    for (int i = 0; i < 400; i++, ts += 160) {
        uint32_t arrival = ts + 5000 + (i % 2 ? d : 0);
        rtp_jitter_update(&j, ts, arrival);
        uint32_t transit = arrival - ts;
        if (i > 0) {
            double dd = fabs((double)(int32_t)(transit - prev_transit));
            ref += (dd - ref) / 16;
        }
        prev_transit = transit;
        /* The scaled state tracks the real-valued recurrence to within its rounding... */
        assert_true(fabs(j.jitter_q4 / 16.0 - ref) <= 0.5 + 1e-9);
        /* ...and the reported value is its integer part. */
        assert_int_equal(rtp_jitter_get(&j), j.jitter_q4 >> 4);
    }
    assert_in_range(rtp_jitter_get(&j), d - 1, d);

    /* Back to a steady stream: the estimate decays towards zero. */
    for (int i = 0; i < 200; i++, ts += 160)
        rtp_jitter_update(&j, ts, ts + 5000);
    assert_int_equal(rtp_jitter_get(&j), 0);
}

static void jitter_ignores_clock_jumps(void **state)
{
    struct rtp_jitter j = {0};
    rtp_jitter_update(&j, 0, 100);
    rtp_jitter_update(&j, 160, 160 + 100 + 48); /* |D| = 48: J = 3 */
    assert_int_equal(rtp_jitter_get(&j), 3);
    rtp_jitter_update(&j, 320, 320 + 100 + 48 + (1u << 30));
    assert_int_equal(rtp_jitter_get(&j), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(probation),           cmocka_unit_test(wrap_around),
        cmocka_unit_test(loss_and_fraction),   cmocka_unit_test(duplicates_and_reordering),
        cmocka_unit_test(dropout_and_restart), cmocka_unit_test(lost_clamped_to_24_bits),
        cmocka_unit_test(ext_may_be_null),     cmocka_unit_test(jitter_constant_transit_is_zero),
        cmocka_unit_test(jitter_converges),    cmocka_unit_test(jitter_ignores_clock_jumps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
