/*
 * libFuzzer target for an audio stream's receive side: the input is a script of datagrams as a
 * transport would deliver them (RTP or RTCP, any bytes) between mixer ticks on a simulated
 * clock, for a stream of one of the codecs. Each tick reads a frame (jitter buffer, decoder,
 * FEC, concealment, the fade into silence) and now and then writes one and sends reports, so
 * what a peer sends reaches every consumer of it. Nothing may crash, and a frame is always
 * 20 ms of PCM with a sane description.
 *
 * Script: one byte choosing the codec (its value modulo 4: Opus PT 111, PCMU PT 0, PCMA PT 8,
 * G.722 PT 9; telephone-event PT 101 for all), then records of [flags][length][length bytes];
 * flags bit 0: RTCP, bit 1: run a mixer tick first, bits 2-7: milliseconds to advance the clock
 * before the datagram.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/audio_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t sim_now;

static uint64_t sim_clock(void *arg)
{
    (void)arg;
    return sim_now;
}

static int discard(struct media_transport *t, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
    CHECK(len > 0 && cap >= len + MEDIA_TRANSPORT_TRAILER);
    return 0;
}

static void quiet(enum log_level level, const char *line, void *arg)
{
    (void)level;
    (void)line;
    (void)arg;
}

static void on_dtmf(char digit, uint16_t duration_ms, void *arg)
{
    CHECK(strchr("0123456789*#ABCD", digit) != NULL && digit);
    (*(unsigned *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum audio_codec codecs[] = {AUDIO_CODEC_OPUS, AUDIO_CODEC_PCMU, AUDIO_CODEC_PCMA,
                                              AUDIO_CODEC_G722};
    static const uint8_t pts[] = {111, 0, 8, 9};
    if (size < 1)
        return 0;
    unsigned c = data[0] % 4;
    data++;
    size--;
    log_set_sink(quiet, NULL);
    sim_now = 1000000;
    struct media_transport t = {.send = discard};
    struct audio_stream_cfg cfg = {
        .codec = codecs[c],
        .pt = pts[c],
        .dtmf_pt = 101,
        .level_ext_id = 1,
        .fec = true,
        .local_ssrc = 0x11111111,
        .cname = "fuzz",
        .clock = sim_clock,
    };
    struct audio_stream *as = NULL;
    if (audio_stream_alloc(&as, &t, &cfg))
        return 0;
    unsigned digits = 0;
    audio_stream_set_dtmf_handler(as, on_dtmf, &digits);

    static int16_t pcm[AUDIO_FRAME_SAMPLES];
    uint64_t next_tick = sim_now;
    unsigned ticks = 0;
    size_t i = 0;
    while (i + 2 <= size) {
        uint8_t flags = data[i];
        size_t len = data[i + 1];
        i += 2;
        if (len > size - i)
            len = size - i;
        sim_now += (uint64_t)(flags >> 2) * 1000;
        while ((flags & 2) && next_tick <= sim_now && ticks < 400) {
            struct audio_frame_info info;
            audio_stream_read(as, pcm, &info);
            CHECK(info.kind <= AUDIO_FRAME_CONCEALED);
            CHECK(info.level <= 127);
            if (info.kind == AUDIO_FRAME_SILENT)
                CHECK(pcm[0] == 0 && pcm[AUDIO_FRAME_SAMPLES - 1] == 0);
            if (ticks % 16 == 0) { /* the send side too, but sparingly: encoding is slow */
                CHECK(audio_stream_write(as, pcm) == 0);
                audio_stream_tick(as, next_tick);
            }
            next_tick += 20000;
            ticks++;
        }
        t.recvh(data + i, len, flags & 1, t.recv_arg);
        i += len;
    }

    struct audio_stream_stats st;
    audio_stream_get_stats(as, &st);
    CHECK(st.dtmf_events >= digits);
    mem_deref(as);
    log_set_sink(NULL, NULL);
    return 0;
}
