/*
 * Opus wrapper: a tone survives encode + decode, concealment and FEC produce something close to
 * the lost frame, and garbage never crashes the decoder.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "media/opus_codec.h"
#include "signal.h"

#define FRAME   960
#define NFRAMES 100 /* 2 s */
#define TOTAL   (FRAME * NFRAMES)

static int16_t *make_speech(size_t n)
{
    int16_t *pcm = calloc(n, sizeof(*pcm));
    assert_non_null(pcm);
    signal_speechlike(pcm, n, 0);
    return pcm;
}

struct coded {
    uint8_t pkt[NFRAMES][OPUS_CODEC_MAX_PACKET];
    size_t len[NFRAMES];
};

static void encode_all(const struct opus_codec_enc_cfg *cfg, const int16_t *pcm, struct coded *c)
{
    struct opus_codec_enc *e = NULL;
    assert_int_equal(opus_codec_enc_alloc(&e, cfg), 0);
    for (size_t f = 0; f < NFRAMES; f++) {
        bool dtx = true;
        assert_int_equal(opus_codec_encode(e, pcm + f * FRAME, FRAME, c->pkt[f], sizeof(c->pkt[f]),
                                           &c->len[f], &dtx),
                         0);
        assert_false(dtx);
        assert_true(c->len[f] > 2);
        uint32_t n = 0;
        assert_int_equal(opus_codec_packet_samples(c->pkt[f], c->len[f], &n), 0);
        assert_int_equal(n, FRAME);
    }
    mem_deref(e);
}

static void test_speech_roundtrip(void **state)
{
    int16_t *in = make_speech(TOTAL);
    int16_t *out = calloc(TOTAL, sizeof(*out));
    struct coded *c = calloc(1, sizeof(*c));
    encode_all(NULL, in, c);

    struct opus_codec_dec *d = NULL;
    assert_int_equal(opus_codec_dec_alloc(&d), 0);
    size_t bytes = 0;
    for (size_t f = 0; f < NFRAMES; f++) {
        size_t n = 0;
        assert_int_equal(opus_codec_decode(d, c->pkt[f], c->len[f], out + f * FRAME, FRAME, &n), 0);
        assert_int_equal(n, FRAME);
        bytes += c->len[f];
    }
    /* 32 kbit/s by default: about 80 bytes a frame */
    assert_true(bytes / NFRAMES >= 50 && bytes / NFRAMES <= 120);
    double corr = 0;
    size_t lag = signal_best_lag(in, out, FRAME * 10, FRAME * 40, 700, &corr);
    print_message("codec delay %zu samples, correlation %.3f, snr %.1f dB\n", lag, corr,
                  signal_snr_db(in, out, FRAME * 10, TOTAL - 1200, lag));
    assert_true(lag > 200 && lag < 450); /* Opus adds 6.5 ms (312 samples) of delay */
    assert_true(corr > 0.95);
    assert_true(signal_snr_db(in, out, FRAME * 10, TOTAL - 1200, lag) > 10);

    mem_deref(d);
    free(c);
    free(in);
    free(out);
}

/* A pure 1 kHz tone: periodic, so only its phase within one period (48 samples) is searched. */
static void test_sine_roundtrip(void **state)
{
    int16_t *in = calloc(TOTAL, sizeof(*in));
    int16_t *out = calloc(TOTAL, sizeof(*out));
    struct coded *c = calloc(1, sizeof(*c));
    assert_non_null(in);
    for (size_t i = 0; i < TOTAL; i++)
        in[i] = (int16_t)(8000 * sin(2 * M_PI * 1000 * (double)i / 48000.0));
    encode_all(NULL, in, c);
    struct opus_codec_dec *d = NULL;
    assert_int_equal(opus_codec_dec_alloc(&d), 0);
    for (size_t f = 0; f < NFRAMES; f++) {
        size_t n = 0;
        assert_int_equal(opus_codec_decode(d, c->pkt[f], c->len[f], out + f * FRAME, FRAME, &n), 0);
    }
    double corr = 0;
    size_t lag = signal_best_lag(in, out, FRAME * 10, FRAME * 90, 48, &corr);
    double snr = signal_snr_db(in, out, FRAME * 10, FRAME * 90, lag);
    print_message("1 kHz sine: correlation %.4f, snr %.1f dB\n", corr, snr);
    assert_true(corr > 0.98);
    assert_true(snr > 15);
    mem_deref(d);
    free(c);
    free(in);
    free(out);
}

static void test_bitrate_and_settings(void **state)
{
    int16_t *in = make_speech(TOTAL);
    struct opus_codec_enc *e = NULL;
    struct opus_codec_enc_cfg cfg = {.bitrate = 12000, .complexity = 10};
    assert_int_equal(opus_codec_enc_alloc(&e, &cfg), 0);
    uint8_t buf[OPUS_CODEC_MAX_PACKET];
    size_t len = 0, total = 0;
    for (size_t f = 0; f < 50; f++) {
        assert_int_equal(opus_codec_encode(e, in + f * FRAME, FRAME, buf, sizeof(buf), &len, NULL),
                         0);
        total += len;
    }
    assert_true(total / 50 <= 40); /* 12 kbit/s: 30 bytes a frame */
    assert_int_equal(opus_codec_enc_set_bitrate(e, 64000), 0);
    total = 0;
    for (size_t f = 50; f < 100; f++) {
        assert_int_equal(opus_codec_encode(e, in + f * FRAME, FRAME, buf, sizeof(buf), &len, NULL),
                         0);
        total += len;
    }
    assert_true(total / 50 >= 100);

    assert_int_equal(opus_codec_enc_set_bitrate(e, 100), EINVAL);
    assert_int_equal(opus_codec_enc_set_complexity(e, 11), EINVAL);
    assert_int_equal(opus_codec_enc_set_complexity(e, 0), 0);
    assert_int_equal(opus_codec_enc_set_fec(e, true, 101), EINVAL);
    assert_int_equal(opus_codec_encode(e, in, 1000, buf, sizeof(buf), &len, NULL), EINVAL);
    assert_int_equal(opus_codec_encode(e, in, FRAME, buf, 2, &len, NULL), EOVERFLOW);
    struct opus_codec_enc *bad = NULL;
    cfg.bitrate = 1000000;
    assert_int_equal(opus_codec_enc_alloc(&bad, &cfg), EINVAL);
    assert_null(bad);
    mem_deref(e);
    free(in);
}

static void test_dtx(void **state)
{
    struct opus_codec_enc *e = NULL;
    struct opus_codec_enc_cfg cfg = {.dtx = true};
    assert_int_equal(opus_codec_enc_alloc(&e, &cfg), 0);
    int16_t silence[FRAME] = {0};
    uint8_t buf[OPUS_CODEC_MAX_PACKET];
    unsigned dtx_frames = 0;
    for (int f = 0; f < 100; f++) {
        size_t len = 0;
        bool dtx = false;
        assert_int_equal(opus_codec_encode(e, silence, FRAME, buf, sizeof(buf), &len, &dtx), 0);
        assert_int_equal(dtx, len <= 2);
        dtx_frames += dtx;
    }
    assert_true(dtx_frames >= 50); /* silence is mostly not sent */
    assert_int_equal(opus_codec_enc_set_dtx(e, false), 0);
    for (int f = 0; f < 20; f++) {
        size_t len = 0;
        bool dtx = true;
        assert_int_equal(opus_codec_encode(e, silence, FRAME, buf, sizeof(buf), &len, &dtx), 0);
        assert_false(dtx);
    }
    mem_deref(e);
}

/* Every 10th frame lost: concealment keeps the tone going, FEC rebuilds it closely. */
static void test_plc_and_fec(void **state)
{
    int16_t *in = make_speech(TOTAL);
    int16_t *plc = calloc(TOTAL, sizeof(*plc));
    int16_t *fec = calloc(TOTAL, sizeof(*fec));
    int16_t *ref = calloc(TOTAL, sizeof(*ref));
    struct coded *c = calloc(1, sizeof(*c));
    struct opus_codec_enc_cfg cfg = {.fec = true, .loss_pct = 20};
    encode_all(&cfg, in, c);

    unsigned with_fec = 0;
    for (size_t f = 1; f < NFRAMES; f++)
        with_fec += opus_codec_packet_has_fec(c->pkt[f], c->len[f]);
    assert_true(with_fec >= NFRAMES / 2);

    /* three decoders: all packets (reference), losses concealed, losses rebuilt from FEC */
    struct opus_codec_dec *dr = NULL, *dp = NULL, *df = NULL;
    assert_int_equal(opus_codec_dec_alloc(&dr), 0);
    assert_int_equal(opus_codec_dec_alloc(&dp), 0);
    assert_int_equal(opus_codec_dec_alloc(&df), 0);
    bool rebuilt[NFRAMES] = {false};
    unsigned nrebuilt = 0, nlost = 0;
    for (size_t f = 0; f < NFRAMES; f++) {
        size_t n;
        bool lost = f % 7 == 3 && f + 1 < NFRAMES;
        assert_int_equal(opus_codec_decode(dr, c->pkt[f], c->len[f], ref + f * FRAME, FRAME, &n),
                         0);
        if (lost)
            assert_int_equal(opus_codec_conceal(dp, plc + f * FRAME, FRAME), 0);
        else
            assert_int_equal(
                opus_codec_decode(dp, c->pkt[f], c->len[f], plc + f * FRAME, FRAME, &n), 0);
        if (lost && opus_codec_packet_has_fec(c->pkt[f + 1], c->len[f + 1])) {
            assert_int_equal(
                opus_codec_decode_fec(df, c->pkt[f + 1], c->len[f + 1], fec + f * FRAME, FRAME), 0);
            rebuilt[f] = true;
            nrebuilt++;
        } else if (lost) {
            assert_int_equal(opus_codec_conceal(df, fec + f * FRAME, FRAME), 0);
        } else {
            assert_int_equal(
                opus_codec_decode(df, c->pkt[f], c->len[f], fec + f * FRAME, FRAME, &n), 0);
        }
        nlost += lost;
    }
    assert_true(nrebuilt >= nlost / 2);

    double e_ref = 0, e_plc = 0, e_fec = 0, c_plc = 0, c_fec = 0;
    for (size_t f = 0; f < NFRAMES; f++) {
        if (!rebuilt[f])
            continue;
        size_t from = f * FRAME;
        e_ref += signal_energy(ref + from, FRAME);
        e_plc += signal_energy(plc + from, FRAME);
        e_fec += signal_energy(fec + from, FRAME);
        c_plc += signal_correlation(ref, plc, from, from + FRAME, 0);
        c_fec += signal_correlation(ref, fec, from, from + FRAME, 0);
    }
    c_plc /= nrebuilt;
    c_fec /= nrebuilt;
    print_message("lost %u, rebuilt from FEC %u: correlation with the clean decode %.2f "
                  "(concealed: %.2f)\n",
                  nlost, nrebuilt, c_fec, c_plc);
    /* concealment is not silence, and not much louder than the signal */
    assert_true(e_plc > e_ref * 0.1 && e_plc < e_ref * 2);
    assert_true(e_fec > e_ref * 0.3 && e_fec < e_ref * 2);
    /* the FEC copy is a coarser encoding of the same frame: it tracks the waveform */
    assert_true(c_fec > 0.8);
    assert_true(c_fec > c_plc);

    /* a concealed length that is not a multiple of 2.5 ms */
    int16_t odd[1000];
    assert_int_equal(opus_codec_conceal(dp, odd, 1000), 0);
    assert_int_equal(opus_codec_conceal(dp, odd, 0), EINVAL);
    assert_int_equal(opus_codec_conceal(dp, plc, OPUS_CODEC_MAX_SAMPLES + 1), EINVAL);

    mem_deref(dr);
    mem_deref(dp);
    mem_deref(df);
    free(c);
    free(in);
    free(plc);
    free(fec);
    free(ref);
}

static void test_garbage(void **state)
{
    struct opus_codec_dec *d = NULL;
    assert_int_equal(opus_codec_dec_alloc(&d), 0);
    int16_t pcm[OPUS_CODEC_MAX_SAMPLES];
    size_t n;
    uint32_t ns;

    /* well-known malformed shapes */
    const uint8_t code3_zero[] = {0x03, 0x00};            /* code 3, zero frames */
    const uint8_t code3_long[] = {0xfb, 0x3f};            /* 63 x 20 ms > 120 ms */
    const uint8_t code1_odd[] = {0x01, 0xaa, 0xbb, 0xcc}; /* two equal frames, odd payload */
    const uint8_t code2_short[] = {0x02, 0xfc};           /* length byte says more than there is */
    const uint8_t code3_pad[] = {0x03, 0x41, 0xff, 0xff}; /* padding beyond the end */
    const uint8_t *bad[] = {code3_zero, code3_long, code1_odd, code2_short, code3_pad};
    const size_t bad_len[] = {sizeof(code3_zero), sizeof(code3_long), sizeof(code1_odd),
                              sizeof(code2_short), sizeof(code3_pad)};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(opus_codec_packet_samples(bad[i], bad_len[i], &ns), EBADMSG);
        assert_int_equal(opus_codec_decode(d, bad[i], bad_len[i], pcm, FRAME, &n), EBADMSG);
        assert_int_equal(opus_codec_decode_fec(d, bad[i], bad_len[i], pcm, FRAME), EBADMSG);
        assert_false(opus_codec_packet_has_fec(bad[i], bad_len[i]));
    }
    assert_int_equal(opus_codec_decode(d, code1_odd, 0, pcm, FRAME, &n), EBADMSG);
    assert_int_equal(opus_codec_decode(d, NULL, 10, pcm, FRAME, &n), EBADMSG);

    /* a valid 60 ms packet into a 20 ms buffer */
    const uint8_t celt60[] = {(31 << 3) | 3, 0x03, 0, 0, 0}; /* CELT 20 ms x 3, tiny frames */
    if (opus_codec_packet_samples(celt60, sizeof(celt60), &ns) == 0) {
        assert_int_equal(ns, 2880);
        assert_int_equal(opus_codec_decode(d, celt60, sizeof(celt60), pcm, FRAME, &n), EOVERFLOW);
    }

    /* random bytes: any answer but a crash, and a decoded length within bounds */
    srand(4733);
    uint8_t buf[1500];
    unsigned ok = 0;
    for (int i = 0; i < 5000; i++) {
        size_t len = (size_t)(rand() % (int)sizeof(buf));
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)rand();
        int err = opus_codec_decode(d, buf, len, pcm, OPUS_CODEC_MAX_SAMPLES, &n);
        assert_true(err == 0 || err == EBADMSG);
        if (!err) {
            assert_true(n > 0 && n <= OPUS_CODEC_MAX_SAMPLES);
            ok++;
        }
        (void)opus_codec_packet_has_fec(buf, len);
        err = opus_codec_decode_fec(d, buf, len, pcm, FRAME);
        assert_true(err == 0 || err == EBADMSG);
    }
    assert_true(ok > 0); /* Opus accepts many byte strings: the check is not just "reject" */
    mem_deref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_speech_roundtrip),     cmocka_unit_test(test_sine_roundtrip),
        cmocka_unit_test(test_bitrate_and_settings), cmocka_unit_test(test_dtx),
        cmocka_unit_test(test_plc_and_fec),          cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
