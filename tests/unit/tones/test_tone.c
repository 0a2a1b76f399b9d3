/* Tone generator and analyser: phase continuity, level accuracy, separation, noise floor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <errno.h>

#include <cmocka.h>

#include "base/mem.h"
#include "media/tone.h"

#define RATE 48000

static void assert_near(double got, double want, double tol)
{
    if (fabs(got - want) > tol)
        fail_msg("got %.3f, want %.3f +/- %.3f", got, want, tol);
}

/* The generator follows the ideal sine to within rounding over 10 s, however it is chunked. */
static void test_gen_phase_continuous(void **state)
{
    (void)state;
    struct tone_gen g;
    assert_int_equal(tone_gen_init(&g, RATE, 1234.5, -6.0), 0);
    double amp = tone_dbfs_amplitude(-6.0);
    int16_t buf[1000];
    size_t n = 0, sizes[] = {1, 7, 960, 999, 160, 333};
    double maxerr = 0.0;
    for (int round = 0; n < 10u * RATE; round++) {
        size_t k = sizes[round % 6];
        tone_gen_fill(&g, buf, k);
        for (size_t i = 0; i < k; i++, n++) {
            double ideal = amp * sin(2.0 * M_PI * 1234.5 * (double)n / RATE);
            double e = fabs(buf[i] - ideal);
            maxerr = e > maxerr ? e : maxerr;
        }
    }
    assert_true(maxerr <= 0.51);
}

static void test_gen_levels_and_add(void **state)
{
    (void)state;
    struct tone_gen g;
    int16_t buf[RATE / 10];
    assert_int_equal(tone_gen_init(&g, RATE, 1000.0, 0.0), 0);
    tone_gen_fill(&g, buf, RATE / 10);
    int peak = 0;
    for (size_t i = 0; i < RATE / 10; i++)
        peak = abs(buf[i]) > peak ? abs(buf[i]) : peak;
    assert_int_equal(peak, 32767); /* 1 kHz hits its peak exactly at 48 kHz */

    /* Adding a second full-scale tone saturates rather than wraps. */
    struct tone_gen g2;
    assert_int_equal(tone_gen_init(&g2, RATE, 1000.0, 0.0), 0);
    tone_gen_add(&g2, buf, RATE / 10);
    assert_int_equal(buf[12], 32767); /* quarter period: both at +peak */
    assert_int_equal(buf[36], -32768);

    assert_int_equal(tone_gen_init(&g, RATE, 0.0, -20.0), EINVAL);
    assert_int_equal(tone_gen_init(&g, RATE, 24000.0, -20.0), EINVAL);
    assert_int_equal(tone_gen_init(&g, RATE, 1000.0, 1.0), EINVAL);
    assert_int_equal(tone_gen_init(&g, 0, 1000.0, -20.0), EINVAL);
    assert_int_equal(tone_gen_init(&g, RATE, NAN, -20.0), EINVAL);
}

static struct tone_analyser *analyse(unsigned rate, const double *probes, unsigned np,
                                     const int16_t *pcm, size_t n)
{
    struct tone_analyser *a = NULL;
    assert_int_equal(tone_analyser_alloc(&a, rate, probes, np, 0), 0);
    tone_analyser_feed(a, pcm, n);
    return a;
}

/* A tone at -20 dBFS measures -20 dBFS, on or off the analysis grid, at 48 and 8 kHz. */
static void test_level_accuracy(void **state)
{
    (void)state;
    static int16_t pcm[RATE];
    const double freqs[] = {1000.0, 1234.5, 3001.0, 440.0};
    for (size_t f = 0; f < sizeof(freqs) / sizeof(freqs[0]); f++) {
        struct tone_gen g;
        assert_int_equal(tone_gen_init(&g, RATE, freqs[f], -20.0), 0);
        tone_gen_fill(&g, pcm, RATE);
        double probes[] = {freqs[f], freqs[f] + 500.0, freqs[f] + 1500.0};
        struct tone_analyser *a = analyse(RATE, probes, 3, pcm, RATE);
        assert_int_equal(tone_analyser_blocks(a), 50);
        assert_near(tone_analyser_level(a, 0), -20.0, 0.1);
        assert_near(tone_analyser_total(a), -20.0, 0.1);
        assert_true(tone_analyser_level(a, 1) < -90.0);
        assert_true(tone_analyser_level(a, 2) < -90.0);
        /* What is left is the rounding to 16 bits: 1/12 of an LSB squared, -98 dBFS (less
         * when the rounding error is periodic too). */
        assert_true(tone_analyser_floor(a) < -95.0);
        mem_deref(a);
    }

    /* 8 kHz, 20 ms blocks of 160. */
    static int16_t nb[8000];
    struct tone_gen g;
    assert_int_equal(tone_gen_init(&g, 8000, 1000.0, -20.0), 0);
    tone_gen_fill(&g, nb, 8000);
    double probes[] = {1000.0, 2000.0};
    struct tone_analyser *a = analyse(8000, probes, 2, nb, 8000);
    assert_int_equal(tone_analyser_blocks(a), 50);
    assert_near(tone_analyser_level(a, 0), -20.0, 0.1);
    assert_true(tone_analyser_level(a, 1) < -70.0);
    mem_deref(a);
}

/* Two tones 25 dB apart come out 25 dB apart, each where it belongs. */
static void test_two_tones_separated(void **state)
{
    (void)state;
    static int16_t pcm[RATE];
    struct tone_gen ga, gb;
    assert_int_equal(tone_gen_init(&ga, RATE, 600.0, -40.0), 0);
    assert_int_equal(tone_gen_init(&gb, RATE, 750.0, -15.0), 0); /* 3 bins away */
    memset(pcm, 0, sizeof(pcm));
    tone_gen_add(&ga, pcm, RATE);
    tone_gen_add(&gb, pcm, RATE);

    double probes[] = {600.0, 750.0, 2000.0};
    struct tone_analyser *a = analyse(RATE, probes, 3, pcm, RATE);
    double la = tone_analyser_level(a, 0), lb = tone_analyser_level(a, 1);
    assert_near(la, -40.0, 0.5);
    assert_near(lb, -15.0, 0.1);
    assert_true(lb >= la + 20.0);
    assert_true(tone_analyser_level(a, 2) < -80.0);
    assert_true(tone_analyser_floor(a) < -90.0);
    assert_true(lb > tone_analyser_floor(a) + 20.0);
    mem_deref(a);

    /* The fit is joint: tones 1.2 bins apart, off the grid, still measure exactly. */
    struct tone_gen gc, gd;
    assert_int_equal(tone_gen_init(&gc, RATE, 1013.0, -30.0), 0);
    assert_int_equal(tone_gen_init(&gd, RATE, 1073.0, -10.0), 0);
    memset(pcm, 0, sizeof(pcm));
    tone_gen_add(&gc, pcm, RATE);
    tone_gen_add(&gd, pcm, RATE);
    double close[] = {1013.0, 1073.0};
    a = analyse(RATE, close, 2, pcm, RATE);
    assert_near(tone_analyser_level(a, 0), -30.0, 0.05);
    assert_near(tone_analyser_level(a, 1), -10.0, 0.05);
    assert_true(tone_analyser_floor(a) < -90.0);
    mem_deref(a);
}

/* White noise under a tone shows as the floor, at its own level; the tone keeps its level. */
static void test_noise_floor(void **state)
{
    (void)state;
    static int16_t pcm[2 * RATE];
    struct tone_gen g;
    assert_int_equal(tone_gen_init(&g, RATE, 1000.0, -20.0), 0);
    tone_gen_fill(&g, pcm, 2 * RATE);
    /* Uniform noise in [-b, b] has mean square b^2 / 3; pick b for -40 dBFS. */
    double b = sqrt(3.0 * pow(10.0, -40.0 / 10.0) * 32767.0 * 32767.0 / 2.0);
    uint32_t rng = 1;
    for (size_t i = 0; i < 2 * RATE; i++) {
        rng = rng * 1664525u + 1013904223u;
        double u = ((rng >> 8) / 16777216.0) * 2.0 - 1.0;
        pcm[i] = (int16_t)lrint(pcm[i] + u * b);
    }
    double probes[] = {1000.0, 1500.0};
    struct tone_analyser *a = analyse(RATE, probes, 2, pcm, 2 * RATE);
    assert_near(tone_analyser_level(a, 0), -20.0, 0.1);
    assert_near(tone_analyser_floor(a), -40.0, 0.5);
    assert_true(tone_analyser_level(a, 1) < -55.0); /* noise in one bin only */
    assert_true(tone_analyser_level(a, 0) >= tone_analyser_floor(a) + 19.0);
    mem_deref(a);
}

/* Chunking the input does not change the result; reset forgets; silence is TONE_DB_MIN. */
static void test_feed_chunks_and_reset(void **state)
{
    (void)state;
    static int16_t pcm[RATE / 2];
    struct tone_gen g;
    assert_int_equal(tone_gen_init(&g, RATE, 2000.0, -30.0), 0);
    tone_gen_fill(&g, pcm, RATE / 2);
    double probes[] = {2000.0};

    struct tone_analyser *whole = analyse(RATE, probes, 1, pcm, RATE / 2);
    struct tone_analyser *bits = NULL;
    assert_int_equal(tone_analyser_alloc(&bits, RATE, probes, 1, 0), 0);
    for (size_t i = 0; i < RATE / 2;) {
        size_t k = (i % 7) * 37 + 1;
        k = k < RATE / 2 - i ? k : RATE / 2 - i;
        tone_analyser_feed(bits, pcm + i, k);
        i += k;
    }
    assert_int_equal(tone_analyser_blocks(bits), tone_analyser_blocks(whole));
    assert_near(tone_analyser_level(bits, 0), tone_analyser_level(whole, 0), 1e-9);

    tone_analyser_reset(bits);
    assert_int_equal(tone_analyser_blocks(bits), 0);
    assert_true(tone_analyser_level(bits, 0) == TONE_DB_MIN);
    memset(pcm, 0, sizeof(pcm));
    tone_analyser_feed(bits, pcm, RATE / 2);
    assert_int_equal(tone_analyser_blocks(bits), 25);
    assert_true(tone_analyser_level(bits, 0) == TONE_DB_MIN);
    assert_true(tone_analyser_floor(bits) == TONE_DB_MIN);
    assert_true(tone_analyser_level(bits, 5) == TONE_DB_MIN);
    mem_deref(bits);
    mem_deref(whole);
}

static void test_analyser_bad_args(void **state)
{
    (void)state;
    struct tone_analyser *a = NULL;
    double close[] = {1000.0, 1030.0}; /* under a bin at 50 Hz */
    double nyq[] = {23980.0};
    double ok[] = {1000.0};
    assert_int_equal(tone_analyser_alloc(&a, RATE, close, 2, 0), EINVAL);
    assert_int_equal(tone_analyser_alloc(&a, RATE, nyq, 1, 0), EINVAL);
    assert_int_equal(tone_analyser_alloc(&a, 0, ok, 1, 0), EINVAL);
    assert_int_equal(tone_analyser_alloc(&a, RATE, NULL, 1, 0), EINVAL);
    assert_int_equal(tone_analyser_alloc(&a, RATE, ok, TONE_MAX_PROBES + 1, 0), EINVAL);
    assert_int_equal(tone_analyser_alloc(&a, RATE, ok, 1, 4), EINVAL);
    assert_null(a);
    /* A longer block resolves the same pair. */
    assert_int_equal(tone_analyser_alloc(&a, RATE, close, 2, RATE / 10), 0);
    mem_deref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gen_phase_continuous), cmocka_unit_test(test_gen_levels_and_add),
        cmocka_unit_test(test_level_accuracy),       cmocka_unit_test(test_two_tones_separated),
        cmocka_unit_test(test_noise_floor),          cmocka_unit_test(test_feed_chunks_and_reset),
        cmocka_unit_test(test_analyser_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
