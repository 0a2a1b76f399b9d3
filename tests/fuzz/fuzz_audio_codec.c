/*
 * libFuzzer target for the codec interface (media/audio_codec.h) on its own, faster than
 * through a stream: any payload into any decoder, interleaved with concealment of any length,
 * fade-outs, discontinuities, FEC decoding and encoding of arbitrary PCM. The decoders behind it
 * take every byte sequence (G.711 and G.722 have no invalid bytes, Opus is checked before
 * libopus sees it); what must hold is the bookkeeping around them: durations bounded and
 * consistent with what is decoded, buffers never overrun, concealment always the length asked.
 *
 * Input: one byte choosing the codec (modulo 4), then records of [op][length][length bytes]:
 * op % 6 = 0 decode the bytes, 1 conceal (length * 6 samples), 2 fade out (likewise),
 * 3 discontinuity, 4 decode FEC from the bytes, 5 encode the bytes as PCM (zero-padded).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "media/audio_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Guard samples after the output: a decoder that writes past what it said must trip them. */
#define GUARD 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum audio_codec codecs[] = {AUDIO_CODEC_OPUS, AUDIO_CODEC_PCMU, AUDIO_CODEC_PCMA,
                                              AUDIO_CODEC_G722};
    static int16_t out[AUDIO_MAX_SAMPLES + GUARD];
    if (size < 1)
        return 0;
    enum audio_codec c = codecs[data[0] % 4];
    struct audio_decoder *d = NULL;
    struct audio_encoder *e = NULL;
    if (audio_decoder_alloc(&d, c) || audio_encoder_alloc(&e, c, NULL)) {
        mem_deref(d);
        return 0;
    }
    uint32_t units_per_ms = audio_codec_rtp_clock(c) / 1000;
    size_t i = 1;
    while (i + 2 <= size) {
        uint8_t op = data[i] % 6, len = data[i + 1];
        i += 2;
        size_t n = len <= size - i ? len : size - i;
        const uint8_t *p = data + i;
        i += n;
        for (size_t g = 0; g < GUARD; g++)
            out[AUDIO_MAX_SAMPLES + g] = 0x5a5a;
        /* cap: sometimes the whole buffer, sometimes just one frame */
        size_t cap = len & 1 ? AUDIO_MAX_SAMPLES : AUDIO_FRAME_SAMPLES;
        size_t got = 0;
        switch (op) {
        case 0: {
            uint32_t units = 0;
            int derr = audio_codec_packet_duration(c, p, n, &units);
            int err = audio_decoder_decode(d, p, n, out, cap, &got);
            if (!derr)
                CHECK(units > 0 && units <= AUDIO_MAX_PACKET_MS * units_per_ms);
            if (!err) {
                CHECK(!derr); /* what decodes has a duration */
                CHECK(got <= cap);
                CHECK(got == (size_t)units * (AUDIO_RATE / audio_codec_rtp_clock(c)));
            }
            break;
        }
        case 1:
        case 2: {
            size_t samples = (size_t)len * 6;
            int err = op == 1 ? audio_decoder_conceal(d, out, samples)
                              : audio_decoder_fade_out(d, out, samples);
            CHECK(samples == 0 ? err != 0 : err == 0);
            if (op == 2 && samples)
                CHECK(out[samples - 1] == 0); /* faded out */
            break;
        }
        case 3:
            audio_decoder_discontinuity(d);
            break;
        case 4:
            if (audio_decoder_has_fec(d, p, n))
                CHECK(c == AUDIO_CODEC_OPUS);
            (void)audio_decoder_decode_fec(d, p, n, out, AUDIO_FRAME_SAMPLES);
            break;
        case 5: {
            static int16_t pcm[AUDIO_FRAME_SAMPLES];
            static uint8_t pkt[1500];
            memset(pcm, 0, sizeof(pcm));
            memcpy(pcm, p, n);
            size_t plen = 0;
            bool dtx = false;
            CHECK(audio_encoder_encode(e, pcm, pkt, sizeof(pkt), &plen, &dtx) == 0);
            uint32_t units = 0;
            if (!dtx) {
                CHECK(audio_codec_packet_duration(c, pkt, plen, &units) == 0);
                CHECK(units == audio_codec_frame_units(c));
            }
            break;
        }
        }
        for (size_t g = 0; g < GUARD; g++)
            CHECK(out[AUDIO_MAX_SAMPLES + g] == 0x5a5a);
    }
    mem_deref(d);
    mem_deref(e);
    return 0;
}
