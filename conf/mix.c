/*
 * See mix.h. Each loop is written in the plainest form the vectoriser recognises: a counted
 * loop over a compile-time length, restrict-qualified arrays, the clamp as two comparisons.
 */
#include "conf/mix.h"

#include <math.h>
#include <string.h>

static inline int16_t sat16(int32_t v)
{
    v = v > INT16_MAX ? INT16_MAX : v;
    v = v < INT16_MIN ? INT16_MIN : v;
    return (int16_t)v;
}

void conf_mix_begin(struct conf_mix *mx)
{
    memset(mx->sum, 0, sizeof(mx->sum));
    mx->ntalkers = 0;
}

void conf_mix_add(struct conf_mix *mx, const int16_t *restrict pcm)
{
    int32_t *restrict sum = mx->sum;
    for (size_t i = 0; i < AUDIO_FRAME_SAMPLES; i++)
        sum[i] += pcm[i];
    mx->ntalkers++;
}

const int16_t *conf_mix_end(struct conf_mix *mx)
{
    if (mx->ntalkers == 0) {
        memset(mx->all, 0, sizeof(mx->all));
        return mx->all;
    }
    const int32_t *restrict sum = mx->sum;
    int16_t *restrict all = mx->all;
    for (size_t i = 0; i < AUDIO_FRAME_SAMPLES; i++)
        all[i] = sat16(sum[i]);
    return mx->all;
}

void conf_mix_minus(const struct conf_mix *mx, const int16_t *restrict own, int16_t *restrict out)
{
    const int32_t *restrict sum = mx->sum;
    for (size_t i = 0; i < AUDIO_FRAME_SAMPLES; i++)
        out[i] = sat16(sum[i] - own[i]);
}

uint8_t conf_mix_level(const int16_t *pcm, size_t n)
{
    if (n == 0)
        return 127;
    /* Squares reach 2^30, so a frame's sum needs 64 bits. */
    int64_t energy = 0;
    for (size_t i = 0; i < n; i++)
        energy += (int32_t)pcm[i] * pcm[i];
    if (energy == 0)
        return 127;
    double ms = (double)energy / (double)n;
    double dbov = 10.0 * log10(ms / (32767.0 * 32767.0));
    if (dbov >= 0.0)
        return 0;
    if (dbov <= -127.0)
        return 127;
    return (uint8_t)lrint(-dbov);
}
