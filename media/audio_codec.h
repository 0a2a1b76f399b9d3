/*
 * The audio codecs a stream can carry, behind one interface: every codec takes and gives 20 ms
 * of 48 kHz mono PCM (AUDIO_FRAME_SAMPLES), resampling inside when its own rate differs, so the
 * mixer above never knows which codec a leg speaks. Opus (48 kHz, in-band FEC), G.711 mu-law and
 * A-law (8 kHz), G.722 (16 kHz audio on an 8 kHz RTP clock, RFC 3551).
 */
#ifndef SB_MEDIA_AUDIO_CODEC_H
#define SB_MEDIA_AUDIO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum audio_codec {
    AUDIO_CODEC_OPUS = 0,
    AUDIO_CODEC_PCMU,
    AUDIO_CODEC_PCMA,
    AUDIO_CODEC_G722,
};

/* "opus", "PCMU", "PCMA", "G722" (case-insensitive) -> 0, or ENOENT. */
int audio_codec_from_name(const char *name, enum audio_codec *c);
const char *audio_codec_name(enum audio_codec c);
/* The RTP timestamp clock: 48000 for Opus, 8000 for the others (G.722 too, RFC 3551). */
uint32_t audio_codec_rtp_clock(enum audio_codec c);

#endif
