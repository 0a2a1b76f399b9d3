/*
 * The RFC 6464 audio level of a frame of PCM: its RMS in -dBov (0 is a full-scale square wave,
 * 127 digital silence), as the client-to-mixer header extension carries it and as a mixer ranks
 * speakers. Computed on our own outgoing frames; received levels come from the extension.
 */
#ifndef SB_MEDIA_AUDIO_LEVEL_H
#define SB_MEDIA_AUDIO_LEVEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIO_LEVEL_SILENT 127
/* Frames louder than this (-dBov below it) carry the V (voice) flag: a crude activity detector,
 * above the noise floor of a quiet room, below any talker. */
#define AUDIO_LEVEL_VOICE 50

uint8_t audio_level_dbov(const int16_t *pcm, size_t n);

static inline bool audio_level_is_voice(uint8_t level)
{
    return level < AUDIO_LEVEL_VOICE;
}

#endif
