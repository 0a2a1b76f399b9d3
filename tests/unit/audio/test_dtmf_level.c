/*
 * RFC 4733 event timing and deduplication (media/dtmf.h) and the RFC 6464 level of a frame
 * (media/audio_level.h).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/audio_level.h"
#include "media/dtmf.h"

static void test_digits(void **state)
{
    const char *all = "0123456789*#ABCD";
    for (uint8_t e = 0; e < 16; e++) {
        uint8_t got = 99;
        assert_int_equal(dtmf_event_from_digit(all[e], &got), 0);
        assert_int_equal(got, e);
        assert_int_equal(dtmf_digit_from_event(e), all[e]);
    }
    uint8_t got;
    assert_int_equal(dtmf_event_from_digit('b', &got), 0);
    assert_int_equal(got, 13);
    assert_int_equal(dtmf_event_from_digit('E', &got), EINVAL);
    assert_int_equal(dtmf_event_from_digit(' ', &got), EINVAL);
    assert_int_equal(dtmf_event_from_digit('\0', &got), EINVAL);
    assert_int_equal(dtmf_digit_from_event(16), 0);
    assert_int_equal(dtmf_digit_from_event(255), 0);
}

struct sent {
    struct rtp_dtmf ev;
    uint32_t ts;
    bool marker;
    unsigned frame;
};

/* Runs the sender for n frames of 20 ms from ts0; returns the packets. */
static unsigned run_tx(struct dtmf_tx *tx, unsigned n, uint32_t ts0, struct sent *out, unsigned cap)
{
    unsigned k = 0;
    for (unsigned f = 0; f < n; f++) {
        struct sent s = {.frame = f};
        if (dtmf_tx_next(tx, ts0 + f * 960, 960, &s.ev, &s.ts, &s.marker)) {
            assert_true(k < cap);
            out[k++] = s;
        }
    }
    return k;
}

static void test_tx_timing(void **state)
{
    struct dtmf_tx tx;
    struct sent s[128];
    dtmf_tx_init(&tx, 48000);
    assert_int_equal(dtmf_tx_queue(&tx, '5', 100), 0);
    assert_int_equal(dtmf_tx_queue(&tx, '#', 10), 0); /* clamped up to 40 ms */
    assert_int_equal(dtmf_tx_queue(&tx, 'x', 100), EINVAL);
    uint32_t ts0 = UINT32_MAX - 2000; /* the timestamps wrap meanwhile */
    unsigned n = run_tx(&tx, 40, ts0, s, 128);

    /* '5': 4 updates, 3 ends, all on the event's first frame timestamp */
    assert_int_equal(n, 7 + 1 + 3);
    for (unsigned i = 0; i < 7; i++) {
        assert_int_equal(s[i].ev.event, 5);
        assert_int_equal(s[i].ts, ts0);
        assert_int_equal(s[i].marker, i == 0);
        assert_int_equal(s[i].ev.end, i >= 4);
        assert_int_equal(s[i].ev.volume, DTMF_VOLUME);
        assert_int_equal(s[i].frame, i);
    }
    assert_int_equal(s[0].ev.duration, 960);
    assert_int_equal(s[3].ev.duration, 3840);
    assert_int_equal(s[4].ev.duration, 4800);
    assert_int_equal(s[6].ev.duration, 4800);
    /* a 40 ms pause, then '#' (40 ms: one update, then the end) */
    assert_int_equal(s[7].frame, 9);
    assert_int_equal(s[7].ev.event, 11);
    assert_true(s[7].marker);
    assert_int_equal(s[7].ts, ts0 + 9 * 960);
    assert_false(s[7].ev.end);
    assert_true(s[8].ev.end);
    assert_int_equal(s[8].ev.duration, 1920);

    /* long digits are clamped to what the field holds */
    assert_int_equal(dtmf_tx_queue(&tx, '1', 5000), 0);
    n = run_tx(&tx, 100, 0, s, 128);
    assert_int_equal(s[n - 1].ev.duration, DTMF_MAX_MS * 48);

    /* a full queue, and clearing it */
    for (int i = 0; i < DTMF_QUEUE; i++)
        assert_int_equal(dtmf_tx_queue(&tx, '7', 100), 0);
    assert_int_equal(dtmf_tx_queue(&tx, '7', 100), ENOBUFS);
    dtmf_tx_clear(&tx);
    assert_int_equal(run_tx(&tx, 50, 0, s, 128), 0);
}

static unsigned rx(struct dtmf_rx *r, uint32_t ts, uint8_t event, bool end, uint16_t dur,
                   struct dtmf_report out[2])
{
    struct rtp_dtmf ev = {.event = event, .end = end, .volume = 10, .duration = dur};
    return dtmf_rx_packet(r, ts, &ev, out);
}

static void test_rx_once(void **state)
{
    struct dtmf_rx r;
    struct dtmf_report out[2];
    dtmf_rx_init(&r);

    /* updates, reordered, three ends and a duplicate: one report */
    assert_int_equal(rx(&r, 1000, 3, false, 960, out), 0);
    assert_int_equal(rx(&r, 1000, 3, false, 2880, out), 0);
    assert_int_equal(rx(&r, 1000, 3, false, 1920, out), 0);
    assert_int_equal(rx(&r, 1000, 3, true, 4800, out), 1);
    assert_int_equal(out[0].event, 3);
    assert_int_equal(out[0].duration, 4800);
    assert_int_equal(rx(&r, 1000, 3, true, 4800, out), 0);
    assert_int_equal(rx(&r, 1000, 3, true, 4800, out), 0);
    assert_int_equal(rx(&r, 1000, 3, false, 2880, out), 0);

    /* the next event; its three ends all lost; then a third event starts: the second is
     * reported when the third shows up */
    assert_int_equal(rx(&r, 9000, 11, false, 960, out), 0);
    assert_int_equal(rx(&r, 9000, 11, false, 1920, out), 0);
    assert_int_equal(rx(&r, 20000, 7, false, 960, out), 1);
    assert_int_equal(out[0].event, 11);
    assert_int_equal(out[0].duration, 1920);
    /* a straggler from the old event changes nothing */
    assert_int_equal(rx(&r, 9000, 11, true, 1920, out), 0);
    assert_int_equal(rx(&r, 20000, 7, true, 1920, out), 1);
    assert_int_equal(out[0].event, 7);

    /* an event whose only surviving packet is an end, after one that never ended: two */
    assert_int_equal(rx(&r, 30000, 1, false, 960, out), 0);
    assert_int_equal(rx(&r, 40000, 2, true, 4800, out), 2);
    assert_int_equal(out[0].event, 1);
    assert_int_equal(out[1].event, 2);

    /* timestamps wrapping */
    dtmf_rx_init(&r);
    assert_int_equal(rx(&r, UINT32_MAX - 100, 4, true, 960, out), 1);
    assert_int_equal(rx(&r, 500, 5, true, 960, out), 1);
    assert_int_equal(out[0].event, 5);
    assert_int_equal(rx(&r, UINT32_MAX - 100, 4, true, 960, out), 0);
}

static void test_level(void **state)
{
    int16_t pcm[960];
    memset(pcm, 0, sizeof(pcm));
    assert_int_equal(audio_level_dbov(pcm, 960), 127);
    assert_int_equal(audio_level_dbov(NULL, 960), 127);
    assert_int_equal(audio_level_dbov(pcm, 0), 127);
    assert_false(audio_level_is_voice(127));

    for (int i = 0; i < 960; i++)
        pcm[i] = i & 1 ? 32767 : -32767; /* full-scale square: 0 dBov */
    assert_int_equal(audio_level_dbov(pcm, 960), 0);
    for (int i = 0; i < 960; i++)
        pcm[i] = (int16_t)(3277 * sin(2 * M_PI * 1000 * i / 48000.0)); /* -20 dBFS sine */
    uint8_t l = audio_level_dbov(pcm, 960);
    assert_true(l >= 22 && l <= 24); /* a sine's RMS is 3 dB below its peak */
    assert_true(audio_level_is_voice(l));
    for (int i = 0; i < 960; i++)
        pcm[i] = (int16_t)(i % 3 - 1); /* one LSB of noise: about -91 dBov */
    l = audio_level_dbov(pcm, 960);
    assert_true(l >= 88 && l <= 94);
    assert_false(audio_level_is_voice(l));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digits),
        cmocka_unit_test(test_tx_timing),
        cmocka_unit_test(test_rx_once),
        cmocka_unit_test(test_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
