/*
 * RFC 6464 level of a PCM frame: see audio_level.h.
 */
#include "media/audio_level.h"

#include <math.h>

uint8_t audio_level_dbov(const int16_t *pcm, size_t n)
{
    if (!pcm || !n)
        return AUDIO_LEVEL_SILENT;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (uint64_t)((int32_t)pcm[i] * pcm[i]);
    if (!sum)
        return AUDIO_LEVEL_SILENT;
    double rms = sqrt((double)sum / (double)n);
    double dbov = -20.0 * log10(rms / 32767.0);
    if (dbov <= 0)
        return 0;
    if (dbov >= AUDIO_LEVEL_SILENT)
        return AUDIO_LEVEL_SILENT;
    return (uint8_t)(dbov + 0.5);
}
