/*
 * Quiet input is not decoded: payloads whose sender says they are quiet (RFC 6464 level of 70
 * -dBov or quieter, no voice flag) and Opus DTX play as silence without touching the decoder,
 * and the jitter buffer still paces them. When the sender talks again the decoder restarts and
 * decodes the last few quiet payloads first, so the first loud payload comes out exactly as a
 * decoder that had followed the stream would give it. Packets without a level are decoded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "base/mem.h"
#include "media/audio_codec.h"
#include "media/audio_stream.h"
#include "media/tone.h"
#include "rtp/rtp.h"
#include "stream_fixture.h"

#define NFRAMES 140

enum what { TONE, QUIET, DTX, NOTHING, QUIET_NO_LEVEL };

struct script {
    enum what what[NFRAMES];
    uint8_t payload[NFRAMES][400];
    size_t len[NFRAMES];
};

static void make_script(struct script *s)
{
    for (unsigned k = 0; k < NFRAMES; k++) {
        if (k < 30)
            s->what[k] = TONE;
        else if (k < 60)
            s->what[k] = QUIET;
        else if (k < 90)
            s->what[k] = TONE;
        else if (k < 110)
            s->what[k] = (k == 90 || k == 100) ? DTX : NOTHING;
        else
            s->what[k] = QUIET_NO_LEVEL;
    }
    struct audio_encoder *enc = NULL;
    assert_int_equal(audio_encoder_alloc(&enc, AUDIO_CODEC_OPUS, NULL), 0);
    struct tone_gen g;
    assert_int_equal(tone_gen_init(&g, AUDIO_RATE, 440, -20), 0);
    uint64_t rng = 12345;
    for (unsigned k = 0; k < NFRAMES; k++) {
        int16_t pcm[FRAME];
        if (s->what[k] == TONE) {
            tone_gen_fill(&g, pcm, FRAME);
        } else {
            for (unsigned i = 0; i < FRAME; i++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                pcm[i] = (int16_t)((int)(rng % 9) - 4);
            }
        }
        bool dtx = false;
        assert_int_equal(
            audio_encoder_encode(enc, pcm, s->payload[k], sizeof(s->payload[k]), &s->len[k], &dtx),
            0);
        if (s->what[k] == DTX) {
            s->payload[k][0] = 0xf8; /* TOC only */
            s->len[k] = 1;
        }
    }
    mem_deref(enc);
}

static void send_script(struct pair *p, const struct script *s)
{
    uint16_t seq = 1000;
    for (unsigned k = 0; k < NFRAMES; k++) {
        if (s->what[k] == NOTHING)
            continue;
        uint8_t buf[600], ext[8];
        bool level = s->what[k] != QUIET_NO_LEVEL;
        uint8_t lv = rtp_audio_level_encode(s->what[k] == TONE, s->what[k] == TONE ? 23 : 127);
        struct rtp_ext_elem el = {LEVEL_ID, &lv, 1};
        size_t ext_len = 0;
        assert_int_equal(rtp_ext_build(ext, sizeof(ext), &el, 1, &ext_len), 0);
        struct rtp_hdr h = {.pt = OPUS_PT,
                            .seq = seq++,
                            .ts = 5000 + k * FRAME,
                            .ssrc = 0x77,
                            .marker = k == 0 || k == 90 || k == 110,
                            .ext = level,
                            .ext_profile = RTP_EXT_ONE_BYTE,
                            .ext_data = ext,
                            .ext_len = ext_len};
        size_t len = 0;
        assert_int_equal(rtp_encode(buf, sizeof(buf), &h, s->payload[k], s->len[k], &len), 0);
        enqueue(&p->net, &p->eb, buf, len, false, SIM_START_US + (uint64_t)(k + 1) * TICK_US);
    }
}

static bool frame_equal(const int16_t *a, const int16_t *b)
{
    return memcmp(a, b, FRAME * sizeof(a[0])) == 0;
}

/* How close b is to the reference a: signal to difference, dB. */
static double snr_db(const int16_t *a, const int16_t *b)
{
    double sig = 1e-9, diff = 1e-9;
    for (unsigned i = 0; i < FRAME; i++) {
        sig += (double)a[i] * a[i];
        diff += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    }
    return 10.0 * log10(sig / diff);
}

static void test_quiet_skipped(void **state)
{
    (void)state;
    static struct script s;
    make_script(&s);
    struct pair p;
    pair_init(&p, NFRAMES + 10, NULL, NULL);
    audio_stream_set_direction(p.a, false, true); /* only the packets made here reach B */
    send_script(&p, &s);

    /* The tone, then the quiet stretch: decoded, then not (the jitter buffer may drop one of
     * the quiet payloads to shorten its delay, as it would a decoded one). */
    pair_run(&p, NFRAMES + 10, false);
    unsigned first = 0;
    while (first < 20 && p.kind_log[first] == AUDIO_FRAME_SILENT)
        first++;
    assert_true(first < 10);
    for (unsigned f = first; f < first + 30; f++)
        assert_int_equal(p.kind_log[f], AUDIO_FRAME_DECODED);
    unsigned onset = first + 30;
    static const int16_t zero[FRAME];
    while (onset < NFRAMES && p.kind_log[onset] == AUDIO_FRAME_SILENT) {
        assert_true(frame_equal(p.out + (size_t)onset * FRAME, zero));
        onset++;
    }
    assert_true(onset >= first + 58 && onset <= first + 61);
    struct audio_stream_stats st;
    audio_stream_get_stats(p.b, &st);

    /* Talking again: the first loud payload sounds as from a decoder that followed the stream
     * (it restarted and decoded the last three quiet payloads), not from the stale one. */
    assert_int_equal(p.kind_log[onset], AUDIO_FRAME_DECODED);
    struct audio_decoder *ref = NULL, *stale = NULL;
    assert_int_equal(audio_decoder_alloc(&ref, AUDIO_CODEC_OPUS), 0);
    assert_int_equal(audio_decoder_alloc(&stale, AUDIO_CODEC_OPUS), 0);
    static int16_t pcm[AUDIO_MAX_SAMPLES];
    size_t n = 0;
    for (unsigned k = 57; k <= 60; k++)
        assert_int_equal(
            audio_decoder_decode(ref, s.payload[k], s.len[k], pcm, AUDIO_MAX_SAMPLES, &n), 0);
    assert_int_equal(n, FRAME);
    double good = snr_db(pcm, p.out + (size_t)onset * FRAME);
    for (unsigned k = 0; k < 30; k++)
        assert_int_equal(
            audio_decoder_decode(stale, s.payload[k], s.len[k], pcm, AUDIO_MAX_SAMPLES, &n), 0);
    assert_int_equal(
        audio_decoder_decode(stale, s.payload[60], s.len[60], pcm, AUDIO_MAX_SAMPLES, &n), 0);
    double bad = snr_db(pcm, p.out + (size_t)onset * FRAME);
    print_message("onset against a decoder that followed the stream: %.1f dB SNR (stale %.1f)\n",
                  good, bad);
    assert_true(good > 30.0);
    assert_true(good > bad + 20.0);
    mem_deref(ref);
    mem_deref(stale);
    for (unsigned f = onset; f < onset + 30; f++)
        assert_int_equal(p.kind_log[f], AUDIO_FRAME_DECODED);

    /* DTX: silence, undecoded. Quiet payloads without a level: decoded. */
    unsigned f = onset + 30, dtx = 0;
    while (f < NFRAMES + 10 && p.kind_log[f] == AUDIO_FRAME_SILENT)
        f++, dtx++;
    assert_true(dtx >= 18 && dtx <= 22);
    unsigned no_level = 0;
    while (f < NFRAMES + 10 && p.kind_log[f] == AUDIO_FRAME_DECODED)
        f++, no_level++;
    assert_true(no_level >= 25);

    audio_stream_get_stats(p.b, &st);
    assert_int_equal(st.frames_skipped + st.jb_dropped, 30 + 2);
    assert_true(st.frames_skipped >= 29);
    unsigned decoded = 0;
    for (unsigned k = 0; k < NFRAMES + 10; k++)
        decoded += p.kind_log[k] == AUDIO_FRAME_DECODED;
    /* and the payloads replayed at each onset: three quiet ones, then the two DTX ones */
    assert_int_equal(st.frames_decoded, decoded + 3 + 2);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quiet_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
