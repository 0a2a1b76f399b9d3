/*
 * The codec interface (media/audio_codec.h) and the resampler under it: G.711 against known
 * values and against spandsp's implementation, each codec's round trip of a tone (level,
 * frequency, noise), payload durations, concealment that continues the signal and never clicks,
 * and the resampler's anti-aliasing.
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

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include "base/mem.h"
#include "media/audio_codec.h"
#include "media/resample.h"
#include "media/tone.h"
#include "signal.h"

#define FRAME AUDIO_FRAME_SAMPLES

static const enum audio_codec all_codecs[] = {AUDIO_CODEC_OPUS, AUDIO_CODEC_PCMU, AUDIO_CODEC_PCMA,
                                              AUDIO_CODEC_G722};

static void test_names_and_clocks(void **state)
{
    enum audio_codec c;
    assert_int_equal(audio_codec_from_name("pcmu", &c), 0);
    assert_int_equal(c, AUDIO_CODEC_PCMU);
    assert_int_equal(audio_codec_from_name("G722", &c), 0);
    assert_int_equal(c, AUDIO_CODEC_G722);
    assert_int_equal(audio_codec_from_name("G729", &c), ENOENT);
    assert_int_equal(audio_codec_rtp_clock(AUDIO_CODEC_OPUS), 48000);
    assert_int_equal(audio_codec_rtp_clock(AUDIO_CODEC_G722), 8000); /* RFC 3551 */
    assert_int_equal(audio_codec_frame_units(AUDIO_CODEC_OPUS), 960);
    assert_int_equal(audio_codec_frame_units(AUDIO_CODEC_PCMA), 160);
    assert_int_equal(audio_codec_frame_units(AUDIO_CODEC_G722), 160);
    assert_int_equal(audio_codec_rtp_clock((enum audio_codec)7), 0);
    assert_string_equal(audio_codec_name(AUDIO_CODEC_PCMA), "PCMA");

    struct audio_encoder *e = NULL;
    struct audio_decoder *d = NULL;
    assert_int_equal(audio_encoder_alloc(&e, (enum audio_codec)7, NULL), EINVAL);
    assert_int_equal(audio_decoder_alloc(&d, (enum audio_codec)7), EINVAL);
    uint32_t units;
    const uint8_t b = 0;
    assert_int_equal(audio_codec_packet_duration((enum audio_codec)7, &b, 1, &units), EINVAL);
}

/* ---- G.711 ---- */

static void test_g711_known_answers(void **state)
{
    /* mu-law: zero is 0xff (all bits inverted), the extremes 0x80 / 0x00 */
    assert_int_equal(g711_ulaw_from_linear(0), 0xff);
    assert_int_equal(g711_ulaw_from_linear(-1), 0x7f);
    assert_int_equal(g711_ulaw_from_linear(32767), 0x80);
    assert_int_equal(g711_ulaw_from_linear(-32768), 0x00);
    assert_int_equal(g711_ulaw_from_linear(1000), 0xce);
    assert_int_equal(g711_ulaw_from_linear(-1000), 0x4e);
    assert_int_equal(g711_ulaw_to_linear(0xff), 0);
    assert_int_equal(g711_ulaw_to_linear(0x7f), 0);
    assert_int_equal(g711_ulaw_to_linear(0x80), 32124);
    assert_int_equal(g711_ulaw_to_linear(0x00), -32124);
    assert_int_equal(g711_ulaw_to_linear(0xce), 988);
    assert_int_equal(g711_ulaw_to_linear(0x4e), -988);
    /* A-law: even bits inverted, so the smallest magnitudes are 0xd5 / 0x55 */
    assert_int_equal(g711_alaw_from_linear(0), 0xd5);
    assert_int_equal(g711_alaw_from_linear(-1), 0x55);
    assert_int_equal(g711_alaw_from_linear(32767), 0xaa);
    assert_int_equal(g711_alaw_from_linear(-32768), 0x2a);
    assert_int_equal(g711_alaw_from_linear(1000), 0xfa);
    assert_int_equal(g711_alaw_to_linear(0xd5), 8);
    assert_int_equal(g711_alaw_to_linear(0x55), -8);
    assert_int_equal(g711_alaw_to_linear(0xaa), 32256);
    assert_int_equal(g711_alaw_to_linear(0x2a), -32256);
    assert_int_equal(g711_alaw_to_linear(0xfa), 1008);
}

/* ITU-T G.191's reference G.711 compressors (its g711.c), transcribed: one's complement for
 * negative samples, 14 (mu-law) or 12 (A-law) most significant bits. */
static uint8_t g191_ulaw(int16_t x)
{
    int absno = x < 0 ? ((~x) >> 2) + 33 : (x >> 2) + 33;
    if (absno > 0x1fff)
        absno = 0x1fff;
    int i = absno >> 6, segno = 1;
    while (i != 0) {
        segno++;
        i >>= 1;
    }
    int out = ((0x08 - segno) << 4) | (0x0f - ((absno >> segno) & 0x0f));
    return (uint8_t)(x >= 0 ? out | 0x80 : out);
}

static uint8_t g191_alaw(int16_t x)
{
    int ix = x < 0 ? (~x) >> 4 : x >> 4;
    if (ix > 15) {
        int iexp = 1;
        while (ix > 16 + 15) {
            ix >>= 1;
            iexp++;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if (x >= 0)
        ix |= 0x80;
    return (uint8_t)(ix ^ 0x55);
}

/* Every sample against the ITU reference, every byte against an independent implementation
 * (spandsp's). spandsp's mu-law compressor rounds the other way on the 127 decision thresholds
 * of negative samples (two's instead of one's complement): there it may be one code off. */
static void test_g711_matches_references(void **state)
{
    unsigned off_by_one = 0;
    for (int v = -32768; v <= 32767; v++) {
        assert_int_equal(g711_ulaw_from_linear((int16_t)v), g191_ulaw((int16_t)v));
        assert_int_equal(g711_alaw_from_linear((int16_t)v), g191_alaw((int16_t)v));
        assert_int_equal(g711_alaw_from_linear((int16_t)v), linear_to_alaw(v));
        uint8_t ours = g711_ulaw_from_linear((int16_t)v), theirs = linear_to_ulaw(v);
        if (ours != theirs) {
            assert_true(v < 0);
            assert_int_equal(abs((int)ours - (int)theirs), 1);
            off_by_one++;
        }
    }
    assert_true(off_by_one <= 127);
    for (int b = 0; b < 256; b++) {
        assert_int_equal(g711_ulaw_to_linear((uint8_t)b), ulaw_to_linear((uint8_t)b));
        assert_int_equal(g711_alaw_to_linear((uint8_t)b), alaw_to_linear((uint8_t)b));
    }
    /* and the companding error stays within the quantisation step, which grows with the
     * magnitude: 1/16 of the segment's span, so at most about 3 % above the first segments */
    for (int v = -32000; v <= 32000; v += 7) {
        int u = g711_ulaw_to_linear(g711_ulaw_from_linear((int16_t)v));
        int a = g711_alaw_to_linear(g711_alaw_from_linear((int16_t)v));
        int tol = abs(v) / 32 + 16;
        assert_true(abs(u - v) <= tol);
        assert_true(abs(a - v) <= tol);
    }
}

/* ---- round trips ---- */

struct rt_result {
    double level, floor, other;
    size_t min_len, max_len;
};

/* A tone of freq at dbfs through encode + decode, frames 20 ms frames; the first 10 are not
 * analysed (codec and resampler start-up). */
static struct rt_result roundtrip(enum audio_codec c, double freq, double dbfs, unsigned frames)
{
    struct audio_encoder *e = NULL;
    struct audio_decoder *d = NULL;
    assert_int_equal(audio_encoder_alloc(&e, c, NULL), 0);
    assert_int_equal(audio_decoder_alloc(&d, c), 0);
    assert_int_equal(audio_encoder_codec(e), c);
    assert_int_equal(audio_decoder_codec(d), c);
    struct tone_gen g;
    assert_int_equal(tone_gen_init(&g, AUDIO_RATE, freq, dbfs), 0);
    const double probes[] = {freq, freq < 1500 ? 2 * freq : freq / 2};
    struct tone_analyser *an = NULL;
    assert_int_equal(tone_analyser_alloc(&an, AUDIO_RATE, probes, 2, 0), 0);
    struct rt_result r = {.min_len = SIZE_MAX};
    int16_t pcm[FRAME], out[AUDIO_MAX_SAMPLES];
    uint8_t pkt[1500];
    for (unsigned f = 0; f < frames; f++) {
        tone_gen_fill(&g, pcm, FRAME);
        size_t len = 0, n = 0;
        bool dtx = true;
        assert_int_equal(audio_encoder_encode(e, pcm, pkt, sizeof(pkt), &len, &dtx), 0);
        assert_false(dtx);
        r.min_len = len < r.min_len ? len : r.min_len;
        r.max_len = len > r.max_len ? len : r.max_len;
        uint32_t units = 0;
        assert_int_equal(audio_codec_packet_duration(c, pkt, len, &units), 0);
        assert_int_equal(units, audio_codec_frame_units(c));
        assert_int_equal(audio_decoder_decode(d, pkt, len, out, AUDIO_MAX_SAMPLES, &n), 0);
        assert_int_equal(n, FRAME);
        if (f >= 10)
            tone_analyser_feed(an, out, n);
    }
    r.level = tone_analyser_level(an, 0);
    r.other = tone_analyser_level(an, 1);
    r.floor = tone_analyser_floor(an);
    mem_deref(an);
    mem_deref(e);
    mem_deref(d);
    return r;
}

static void test_roundtrip_tones(void **state)
{
    const struct {
        enum audio_codec c;
        double freq, min_snr;
    } cases[] = {
        /* G.711's companding gives about 38 dB on a loud tone; G.722's ADPCM more. */
        {AUDIO_CODEC_PCMU, 1000, 30}, {AUDIO_CODEC_PCMA, 1000, 30}, {AUDIO_CODEC_G722, 1000, 30},
        {AUDIO_CODEC_OPUS, 1000, 20}, {AUDIO_CODEC_PCMU, 300, 30},  {AUDIO_CODEC_PCMA, 3000, 25},
        {AUDIO_CODEC_G722, 300, 30},  {AUDIO_CODEC_G722, 6000, 20}, {AUDIO_CODEC_OPUS, 3000, 20},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rt_result r = roundtrip(cases[i].c, cases[i].freq, -20, 100);
        print_message("%s %4.0f Hz: level %.2f dBFS, snr %.1f dB, other %.1f dBFS, %zu..%zu "
                      "bytes\n",
                      audio_codec_name(cases[i].c), cases[i].freq, r.level, r.level - r.floor,
                      r.other, r.min_len, r.max_len);
        assert_true(fabs(r.level + 20) < 1.0);             /* level within 1 dB */
        assert_true(r.level - r.floor > cases[i].min_snr); /* what is left is noise */
        assert_true(r.other < r.level - 30);               /* no energy moved elsewhere */
        if (cases[i].c != AUDIO_CODEC_OPUS) {
            assert_int_equal(r.min_len, 160); /* 20 ms: 160 bytes, G.722 too */
            assert_int_equal(r.max_len, 160);
        }
    }
}

/* A quiet tone keeps its level too (G.711's companding is about relative precision). */
static void test_roundtrip_quiet(void **state)
{
    for (size_t i = 0; i < sizeof(all_codecs) / sizeof(all_codecs[0]); i++) {
        struct rt_result r = roundtrip(all_codecs[i], 700, -45, 60);
        print_message("%s 700 Hz at -45 dBFS: level %.2f, snr %.1f dB\n",
                      audio_codec_name(all_codecs[i]), r.level, r.level - r.floor);
        assert_true(fabs(r.level + 45) < 1.0);
        assert_true(r.level - r.floor > 15);
    }
}

static void test_payload_durations(void **state)
{
    const enum audio_codec narrow[] = {AUDIO_CODEC_PCMU, AUDIO_CODEC_PCMA, AUDIO_CODEC_G722};
    static uint8_t pkt[1200];
    static int16_t out[AUDIO_MAX_SAMPLES];
    memset(pkt, 0xd5, sizeof(pkt));
    for (size_t i = 0; i < 3; i++) {
        enum audio_codec c = narrow[i];
        struct audio_decoder *d = NULL;
        assert_int_equal(audio_decoder_alloc(&d, c), 0);
        const size_t lens[] = {80, 160, 240, 320, 480, 960, 1, 7};
        for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
            uint32_t units = 0;
            size_t n = 0;
            assert_int_equal(audio_codec_packet_duration(c, pkt, lens[k], &units), 0);
            assert_int_equal(units, lens[k]); /* 10 ms = 80 units, 60 ms = 480 ... */
            assert_int_equal(audio_decoder_decode(d, pkt, lens[k], out, AUDIO_MAX_SAMPLES, &n), 0);
            assert_int_equal(n, lens[k] * 6);
        }
        uint32_t units;
        size_t n;
        assert_int_equal(audio_codec_packet_duration(c, pkt, 961, &units), EBADMSG);
        assert_int_equal(audio_codec_packet_duration(c, pkt, 0, &units), EBADMSG);
        assert_int_equal(audio_codec_packet_duration(c, NULL, 10, &units), EBADMSG);
        assert_int_equal(audio_decoder_decode(d, pkt, 961, out, AUDIO_MAX_SAMPLES, &n), EBADMSG);
        assert_int_equal(audio_decoder_decode(d, pkt, 0, out, AUDIO_MAX_SAMPLES, &n), EBADMSG);
        assert_int_equal(audio_decoder_decode(d, pkt, 160, out, 959, &n), EOVERFLOW);
        /* the concealment takes whole samples of the codec's own rate */
        assert_int_equal(audio_decoder_conceal(d, out, 100), EINVAL);
        assert_int_equal(audio_decoder_conceal(d, out, 0), EINVAL);
        assert_int_equal(audio_decoder_conceal(d, out, AUDIO_MAX_SAMPLES + 6), EINVAL);
        assert_int_equal(audio_decoder_conceal(d, out, 480), 0);
        /* no FEC */
        assert_false(audio_decoder_has_fec(d, pkt, 160));
        assert_int_equal(audio_decoder_decode_fec(d, pkt, 160, out, 960), ENOTSUP);
        mem_deref(d);

        struct audio_encoder *e = NULL;
        assert_int_equal(audio_encoder_alloc(&e, c, NULL), 0);
        int16_t pcm[FRAME] = {0};
        size_t len;
        assert_int_equal(audio_encoder_encode(e, pcm, pkt, 159, &len, NULL), EOVERFLOW);
        assert_int_equal(audio_encoder_set_fec(e, true, 10), ENOTSUP);
        mem_deref(e);
    }
    struct audio_encoder *e = NULL;
    assert_int_equal(audio_encoder_alloc(&e, AUDIO_CODEC_OPUS, NULL), 0);
    assert_int_equal(audio_encoder_set_fec(e, true, 10), 0);
    assert_int_equal(audio_encoder_set_fec(e, true, 101), EINVAL);
    mem_deref(e);
}

/* ---- concealment ---- */

/* The largest second difference: a click (a step in the waveform) stands out in it, while a
 * band-limited signal's is small. */
static double roughness(const int16_t *p, size_t n)
{
    double m = 0;
    for (size_t i = 2; i < n; i++) {
        double d = fabs((double)p[i] - 2.0 * p[i - 1] + p[i - 2]);
        if (d > m)
            m = d;
    }
    return m;
}

enum loss_mode {
    LOSS_CONCEAL, /* conceal the lost frames */
    LOSS_ZEROS,   /* play silence in their place: what a click sounds like */
    LOSS_SKIP,    /* skip them (the jitter buffer dropping a packet), with a discontinuity */
};

/* A 440 Hz tone, frames 30 .. 30 + lost - 1 lost. Returns the whole output (100 frames). */
static int16_t *lossy_run(enum audio_codec c, unsigned lost, enum loss_mode mode, double *rough,
                          double *rough_clean, double *cont_corr)
{
    struct audio_encoder *e = NULL;
    struct audio_decoder *d = NULL;
    assert_int_equal(audio_encoder_alloc(&e, c, NULL), 0);
    assert_int_equal(audio_decoder_alloc(&d, c), 0);
    struct tone_gen g;
    assert_int_equal(tone_gen_init(&g, AUDIO_RATE, 440, -10), 0);
    int16_t *in = calloc(100 * FRAME, sizeof(int16_t));
    int16_t *out = calloc(100 * FRAME, sizeof(int16_t));
    assert_non_null(in);
    assert_non_null(out);
    tone_gen_fill(&g, in, 100 * FRAME);
    uint8_t pkt[200];
    for (unsigned f = 0; f < 100; f++) {
        size_t len = 0, n = 0;
        assert_int_equal(audio_encoder_encode(e, in + f * FRAME, pkt, sizeof(pkt), &len, NULL), 0);
        int16_t *o = out + f * FRAME;
        if (f >= 30 && f < 30 + lost) {
            if (mode == LOSS_CONCEAL)
                assert_int_equal(audio_decoder_conceal(d, o, FRAME), 0);
            else if (mode == LOSS_ZEROS)
                memset(o, 0, FRAME * sizeof(*o));
            else
                memcpy(o, out + (f - 1) * FRAME, FRAME * sizeof(*o)); /* replaced below */
            continue;
        }
        if (mode == LOSS_SKIP && f == 30 + lost)
            audio_decoder_discontinuity(d);
        assert_int_equal(audio_decoder_decode(d, pkt, len, o, FRAME, &n), 0);
        assert_int_equal(n, FRAME);
    }
    if (mode == LOSS_SKIP) /* the skipped frames are not played at all */
        memmove(out + 30 * FRAME, out + (30 + lost) * FRAME, (70 - lost) * FRAME * sizeof(*out));
    size_t end = (mode == LOSS_SKIP ? 100 - lost : 100) * FRAME;
    *rough_clean = roughness(out + 10 * FRAME, 20 * FRAME);
    *rough = roughness(out + 25 * FRAME, end - 25 * FRAME - 5 * FRAME);
    /* how well the first 10 ms of concealment continue the tone: against the input that was
     * lost, delayed as the codec (its resamplers) delays everything */
    size_t delay = signal_best_lag(in + 20 * FRAME, out + 20 * FRAME, 0, 5 * FRAME, 1000, NULL);
    *cont_corr = signal_correlation(in + 30 * FRAME - delay, out + 30 * FRAME, 0, FRAME / 2, 0);
    free(in);
    mem_deref(e);
    mem_deref(d);
    return out;
}

static void test_concealment(void **state)
{
    const enum audio_codec narrow[] = {AUDIO_CODEC_PCMU, AUDIO_CODEC_PCMA, AUDIO_CODEC_G722};
    for (size_t i = 0; i < 3; i++) {
        enum audio_codec c = narrow[i];
        double rough, clean, cont;
        /* one frame lost: the tone goes on, smoothly, at its level */
        int16_t *out = lossy_run(c, 1, LOSS_CONCEAL, &rough, &clean, &cont);
        double e_before = signal_energy(out + 28 * FRAME, FRAME);
        double e_lost = signal_energy(out + 30 * FRAME, FRAME);
        print_message("%s 1 lost: roughness %.0f (clean %.0f), continuation %.3f, level %.1f dB\n",
                      audio_codec_name(c), rough, clean, cont, 10 * log10(e_lost / e_before));
        assert_true(rough < 2 * clean);
        assert_true(cont > 0.9);
        assert_true(10 * log10(e_lost / e_before) > -3.0); /* fading starts after 10 ms only */
        free(out);

        /* four frames lost: faded to silence by 60 ms, back without a click */
        out = lossy_run(c, 4, LOSS_CONCEAL, &rough, &clean, &cont);
        double e_late = signal_energy(out + 33 * FRAME + FRAME / 2, FRAME / 2); /* 70..80 ms */
        print_message("%s 4 lost: roughness %.0f (clean %.0f), 4th frame %.1f dB\n",
                      audio_codec_name(c), rough, clean, 10 * log10(e_late / e_before + 1e-12));
        assert_true(rough < 2 * clean);
        assert_true(e_late < e_before * 1e-4); /* silent by then */
        free(out);

        /* the metric does see a click: silence in place of a frame is one */
        out = lossy_run(c, 1, LOSS_ZEROS, &rough, &clean, &cont);
        print_message("%s 1 zeroed: roughness %.0f (clean %.0f)\n", audio_codec_name(c), rough,
                      clean);
        assert_true(rough > 3 * clean);
        free(out);

        /* a skipped packet is blended into, not jumped to */
        out = lossy_run(c, 1, LOSS_SKIP, &rough, &clean, &cont);
        print_message("%s 1 skipped: roughness %.0f (clean %.0f)\n", audio_codec_name(c), rough,
                      clean);
        assert_true(rough < 2 * clean);
        free(out);
    }
}

/* fade_out ends at silence without a step, and leaves nothing to blend into what follows. */
static void test_fade_out(void **state)
{
    const enum audio_codec list[] = {AUDIO_CODEC_PCMU, AUDIO_CODEC_G722, AUDIO_CODEC_OPUS};
    for (size_t i = 0; i < 3; i++) {
        struct audio_encoder *e = NULL;
        struct audio_decoder *d = NULL;
        assert_int_equal(audio_encoder_alloc(&e, list[i], NULL), 0);
        assert_int_equal(audio_decoder_alloc(&d, list[i]), 0);
        struct tone_gen g;
        assert_int_equal(tone_gen_init(&g, AUDIO_RATE, 440, -10), 0);
        int16_t pcm[FRAME], out[AUDIO_MAX_SAMPLES], tail[240];
        uint8_t pkt[1500];
        size_t len, n;
        for (unsigned f = 0; f < 20; f++) {
            tone_gen_fill(&g, pcm, FRAME);
            assert_int_equal(audio_encoder_encode(e, pcm, pkt, sizeof(pkt), &len, NULL), 0);
            assert_int_equal(audio_decoder_decode(d, pkt, len, out, AUDIO_MAX_SAMPLES, &n), 0);
        }
        assert_int_equal(audio_decoder_conceal(d, out, FRAME), 0);
        assert_int_equal(audio_decoder_fade_out(d, tail, 240), 0);
        assert_true(abs(tail[239]) < 200);
        double clean = roughness(out, FRAME);
        int16_t joined[FRAME + 240];
        memcpy(joined, out, sizeof(out[0]) * FRAME);
        memcpy(joined + FRAME, tail, sizeof(tail));
        assert_true(roughness(joined, FRAME + 240) < 2 * clean);

        /* What comes next decodes as it would in a fresh decoder: nothing of the old stream. */
        struct audio_encoder *e2 = NULL;
        struct audio_decoder *fresh = NULL;
        assert_int_equal(audio_encoder_alloc(&e2, list[i], NULL), 0);
        assert_int_equal(audio_decoder_alloc(&fresh, list[i]), 0);
        struct tone_gen g2;
        assert_int_equal(tone_gen_init(&g2, AUDIO_RATE, 1000, -10), 0);
        int16_t want[AUDIO_MAX_SAMPLES];
        size_t nwant;
        tone_gen_fill(&g2, pcm, FRAME);
        assert_int_equal(audio_encoder_encode(e2, pcm, pkt, sizeof(pkt), &len, NULL), 0);
        assert_int_equal(audio_decoder_decode(d, pkt, len, out, AUDIO_MAX_SAMPLES, &n), 0);
        assert_int_equal(audio_decoder_decode(fresh, pkt, len, want, AUDIO_MAX_SAMPLES, &nwant), 0);
        assert_int_equal(n, nwant);
        assert_memory_equal(out, want, n * sizeof(out[0]));
        mem_deref(e2);
        mem_deref(fresh);
        mem_deref(e);
        mem_deref(d);
    }
}

/* ---- resampling ---- */

/* Level at probe freq of a tone at in_freq (rate in_rate, -10 dBFS) resampled to out_rate. */
static double resampled_level(uint32_t in_rate, uint32_t out_rate, double in_freq, double probe,
                              double *floor)
{
    struct resampler *r = NULL;
    assert_int_equal(resampler_alloc(&r, in_rate, out_rate, RESAMPLE_QUALITY), 0);
    struct tone_gen g;
    assert_int_equal(tone_gen_init(&g, in_rate, in_freq, -10), 0);
    struct tone_analyser *an = NULL;
    assert_int_equal(tone_analyser_alloc(&an, out_rate, &probe, 1, 0), 0);
    size_t fin = in_rate / 50, fout = out_rate / 50;
    int16_t in[960], out[960];
    for (unsigned f = 0; f < 50; f++) {
        size_t n = 0;
        tone_gen_fill(&g, in, fin);
        assert_int_equal(resampler_process(r, in, fin, out, fout, &n), 0);
        assert_int_equal(n, fout); /* whole ratios convert exactly, frame by frame */
        if (f >= 5)
            tone_analyser_feed(an, out, n);
    }
    double level = tone_analyser_level(an, 0);
    if (floor)
        *floor = tone_analyser_floor(an);
    mem_deref(an);
    mem_deref(r);
    return level;
}

static void test_resample_quality(void **state)
{
    double floor;
    /* a 3 kHz tone survives 48 -> 8 kHz at its level, and nothing else appears */
    double lv = resampled_level(48000, 8000, 3000, 3000, &floor);
    print_message("48k->8k 3 kHz: %.2f dBFS, floor %.1f\n", lv, floor);
    assert_true(fabs(lv + 10) < 1.0);
    assert_true(floor < lv - 40);
    /* 5 kHz would fold onto 3 kHz at 8 kHz: the filter removes it */
    lv = resampled_level(48000, 8000, 5000, 3000, NULL);
    print_message("48k->8k 5 kHz: alias at 3 kHz %.1f dBFS\n", lv);
    assert_true(lv < -10 - 40);
    /* and 11 kHz, which would fold onto 3 kHz too */
    lv = resampled_level(48000, 8000, 11000, 3000, NULL);
    assert_true(lv < -10 - 40);
    /* up: 3 kHz at 8 kHz keeps its level at 48 kHz, and its image at 5 kHz is gone */
    lv = resampled_level(8000, 48000, 3000, 3000, &floor);
    print_message("8k->48k 3 kHz: %.2f dBFS, floor %.1f\n", lv, floor);
    assert_true(fabs(lv + 10) < 1.0);
    assert_true(floor < lv - 40);
    lv = resampled_level(8000, 48000, 3000, 5000, NULL);
    print_message("8k->48k 3 kHz: image at 5 kHz %.1f dBFS\n", lv);
    assert_true(lv < -10 - 40);
    /* 16 kHz both ways, 7 kHz kept */
    assert_true(fabs(resampled_level(48000, 16000, 7000, 7000, NULL) + 10) < 1.0);
    assert_true(fabs(resampled_level(16000, 48000, 7000, 7000, NULL) + 10) < 1.0);
    assert_true(resampled_level(48000, 16000, 9000, 7000, NULL) < -10 - 40);
}

static void test_resample_checks(void **state)
{
    struct resampler *r = NULL;
    assert_int_equal(resampler_alloc(&r, 44100, 48000, 5), EINVAL);
    assert_int_equal(resampler_alloc(&r, 8000, 48000, 11), EINVAL);
    assert_int_equal(resampler_alloc(&r, 0, 48000, 5), EINVAL);
    assert_int_equal(resampler_alloc(&r, 48000, 8000, 5), 0);
    int16_t in[960] = {0}, out[960];
    size_t n = 0;
    assert_int_equal(resampler_process(r, in, 961 - 1, out, 159, &n), EOVERFLOW);
    assert_int_equal(resampler_process(r, in, 100, out, 960, &n), EINVAL); /* not 6k samples */
    assert_int_equal(resampler_process(r, in, 0, out, 960, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(resampler_process(r, in, 480, out, 960, &n), 0);
    assert_int_equal(n, 80);
    resampler_reset(r);
    mem_deref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_clocks),
        cmocka_unit_test(test_g711_known_answers),
        cmocka_unit_test(test_g711_matches_references),
        cmocka_unit_test(test_roundtrip_tones),
        cmocka_unit_test(test_roundtrip_quiet),
        cmocka_unit_test(test_payload_durations),
        cmocka_unit_test(test_concealment),
        cmocka_unit_test(test_fade_out),
        cmocka_unit_test(test_resample_quality),
        cmocka_unit_test(test_resample_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
