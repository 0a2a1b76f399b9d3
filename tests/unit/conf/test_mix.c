/* The pure N-1 mix: exactness, saturation in both directions, the shared mix, levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf/mix.h"

#define N AUDIO_FRAME_SAMPLES

static uint32_t rng = 12345;

static int16_t rnd16(int bound)
{
    rng = rng * 1664525u + 1013904223u;
    return (int16_t)((int)((rng >> 8) % (2u * (unsigned)bound + 1u)) - bound);
}

static void fill_random(int16_t *f, int bound)
{
    for (size_t i = 0; i < N; i++)
        f[i] = rnd16(bound);
}

static void fill_const(int16_t *f, int16_t v)
{
    for (size_t i = 0; i < N; i++)
        f[i] = v;
}

static struct conf_mix mx;

/* Every talker hears exactly the others; everybody else hears exactly everyone. */
static void test_n_minus_1_exact(void **state)
{
    (void)state;
    enum { K = 5 };
    static int16_t in[K][N], out[N];

    for (int round = 0; round < 20; round++) {
        for (int k = 0; k < K; k++)
            fill_random(in[k], 6000); /* K * 6000 < 32767: no clipping anywhere */
        conf_mix_begin(&mx);
        for (int k = 0; k < K; k++)
            conf_mix_add(&mx, in[k]);
        assert_int_equal(mx.ntalkers, K);
        const int16_t *all = conf_mix_end(&mx);
        assert_ptr_equal(all, mx.all);

        for (size_t i = 0; i < N; i++) {
            int32_t s = 0;
            for (int k = 0; k < K; k++)
                s += in[k][i];
            assert_int_equal(all[i], s);
        }
        for (int k = 0; k < K; k++) {
            conf_mix_minus(&mx, in[k], out);
            for (size_t i = 0; i < N; i++) {
                int32_t s = 0;
                for (int j = 0; j < K; j++)
                    if (j != k)
                        s += in[j][i];
                assert_int_equal(out[i], s);
            }
        }
    }
}

/* A lone talker hears silence; the others hear it bit for bit. */
static void test_single_talker(void **state)
{
    (void)state;
    static int16_t in[N], out[N];
    fill_random(in, 32767);
    in[0] = INT16_MIN;
    in[1] = INT16_MAX;
    conf_mix_begin(&mx);
    conf_mix_add(&mx, in);
    const int16_t *all = conf_mix_end(&mx);
    assert_memory_equal(all, in, sizeof(in));
    conf_mix_minus(&mx, in, out);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(out[i], 0);
}

static void test_no_talker_is_silence(void **state)
{
    (void)state;
    memset(mx.all, 0x55, sizeof(mx.all));
    conf_mix_begin(&mx);
    const int16_t *all = conf_mix_end(&mx);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(all[i], 0);
}

/* Clipping happens once, at the end, in both directions; a talker's N-1 comes from the
 * 32-bit sum, not from the clipped shared mix. */
static void test_saturation(void **state)
{
    (void)state;
    static int16_t a[N], b[N], c[N], out[N];

    /* Three loud talkers: everybody clips positive. */
    fill_const(a, 30000);
    fill_const(b, 30000);
    fill_const(c, 30000);
    conf_mix_begin(&mx);
    conf_mix_add(&mx, a);
    conf_mix_add(&mx, b);
    conf_mix_add(&mx, c);
    const int16_t *all = conf_mix_end(&mx);
    conf_mix_minus(&mx, a, out);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(all[i], 32767);
        assert_int_equal(out[i], 32767); /* 60000: not all - own = 2767 */
    }

    /* The same negative. */
    fill_const(a, -30000);
    fill_const(b, -30000);
    fill_const(c, -30000);
    conf_mix_begin(&mx);
    conf_mix_add(&mx, a);
    conf_mix_add(&mx, b);
    conf_mix_add(&mx, c);
    all = conf_mix_end(&mx);
    conf_mix_minus(&mx, c, out);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(all[i], INT16_MIN);
        assert_int_equal(out[i], INT16_MIN);
    }

    /* Mixed signs: the shared mix fits, one talker's N-1 clips each way. */
    fill_const(a, 30000);
    fill_const(b, 30000);
    fill_const(c, -30000);
    conf_mix_begin(&mx);
    conf_mix_add(&mx, a);
    conf_mix_add(&mx, b);
    conf_mix_add(&mx, c);
    all = conf_mix_end(&mx);
    assert_int_equal(all[0], 30000);
    conf_mix_minus(&mx, c, out);
    assert_int_equal(out[0], 32767); /* 60000 */
    conf_mix_minus(&mx, a, out);
    assert_int_equal(out[0], 0);

    /* Extremes: full-scale talkers in both directions never wrap. */
    fill_const(a, INT16_MIN);
    fill_const(b, INT16_MIN);
    fill_const(c, INT16_MAX);
    conf_mix_begin(&mx);
    conf_mix_add(&mx, a);
    conf_mix_add(&mx, b);
    conf_mix_add(&mx, c);
    all = conf_mix_end(&mx);
    assert_int_equal(all[5], INT16_MIN); /* -32769 */
    conf_mix_minus(&mx, c, out);
    assert_int_equal(out[5], INT16_MIN); /* -65536 */
    conf_mix_minus(&mx, a, out);
    assert_int_equal(out[5], -1);
}

/* Many talkers: the 32-bit sum holds, clipping is per sample and sign-correct. */
static void test_many_talkers_random(void **state)
{
    (void)state;
    enum { K = 40 };
    static int16_t in[K][N], out[N];
    for (int k = 0; k < K; k++)
        fill_random(in[k], 32767);
    conf_mix_begin(&mx);
    for (int k = 0; k < K; k++)
        conf_mix_add(&mx, in[k]);
    const int16_t *all = conf_mix_end(&mx);
    for (size_t i = 0; i < N; i++) {
        int32_t s = 0;
        for (int k = 0; k < K; k++)
            s += in[k][i];
        int32_t want = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
        assert_int_equal(all[i], want);
    }
    conf_mix_minus(&mx, in[7], out);
    for (size_t i = 0; i < N; i++) {
        int32_t s = 0;
        for (int k = 0; k < K; k++)
            s += k == 7 ? 0 : in[k][i];
        int32_t want = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
        assert_int_equal(out[i], want);
    }
}

static void test_level(void **state)
{
    (void)state;
    static int16_t f[N];
    memset(f, 0, sizeof(f));
    assert_int_equal(conf_mix_level(f, N), 127);
    assert_int_equal(conf_mix_level(f, 0), 127);

    for (size_t i = 0; i < N; i++)
        f[i] = (i & 1) ? 32767 : -32767; /* full-scale square: 0 dBov */
    assert_int_equal(conf_mix_level(f, N), 0);

    for (size_t i = 0; i < N; i++)
        f[i] = (i & 1) ? 3277 : -3277; /* -20 dBov */
    assert_int_equal(conf_mix_level(f, N), 20);

    fill_const(f, 0);
    f[0] = 1; /* about -89.8 dBov over the frame */
    assert_true(conf_mix_level(f, N) >= 85 && conf_mix_level(f, N) < 127);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_n_minus_1_exact),      cmocka_unit_test(test_single_talker),
        cmocka_unit_test(test_no_talker_is_silence), cmocka_unit_test(test_saturation),
        cmocka_unit_test(test_many_talkers_random),  cmocka_unit_test(test_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
