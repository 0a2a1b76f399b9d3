/*
 * 16-bit PCM helpers shared by the code that computes samples in floating point (the tone
 * generator, the WAV resampler).
 */
#ifndef SB_MEDIA_PCM_H
#define SB_MEDIA_PCM_H

#include <math.h>
#include <stdint.h>

/* Rounds to the nearest sample, clamped to the int16 range. */
static inline int16_t pcm_sat16(double v)
{
    long s = lrint(v);
    if (s > INT16_MAX)
        return INT16_MAX;
    if (s < INT16_MIN)
        return INT16_MIN;
    return (int16_t)s;
}

#endif
