/*
 * The N-1 audio mix of one 20 ms frame, as pure arithmetic: no locks, no allocation, no I/O.
 *
 * The talkers' frames are summed once into 32 bits. A talker hears saturate(sum - own), which is
 * exact (its own contribution comes out bit for bit, before any clipping), and everybody who
 * did not contribute hears the same saturate(sum), computed once however many they are. That
 * is what lets a large room cost K talkers, not N listeners: N - K members share one frame
 * (and, further up, one encoding of it).
 *
 * The loops run over a fixed AUDIO_FRAME_SAMPLES with restrict pointers and no branches, so
 * the compiler vectorises them (saturation becomes packed min/max).
 */
#ifndef SB_CONF_MIX_H
#define SB_CONF_MIX_H

#include <stddef.h>
#include <stdint.h>

#include "media/audio_stream.h"

struct conf_mix {
    int32_t sum[AUDIO_FRAME_SAMPLES];
    int16_t all[AUDIO_FRAME_SAMPLES]; /* saturate(sum): what every non-talker hears */
    unsigned ntalkers;
};

/* Starts a frame: no talkers, silence. */
void conf_mix_begin(struct conf_mix *mx);

/* Adds one talker's frame. Sums of up to 65,536 full-scale frames cannot overflow 32 bits. */
void conf_mix_add(struct conf_mix *mx, const int16_t *restrict pcm);

/* Finishes the frame; returns mx->all, the mix of every talker. */
const int16_t *conf_mix_end(struct conf_mix *mx);

/* What a talker whose frame was own hears: saturate(sum - own) into out. */
void conf_mix_minus(const struct conf_mix *mx, const int16_t *restrict own, int16_t *restrict out);

/* The frame's level in -dBov, 0 (full scale) to 127 (digital silence), as RFC 6464 counts it. */
uint8_t conf_mix_level(const int16_t *pcm, size_t n);

#endif
