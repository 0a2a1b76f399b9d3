#include "media/audio_codec.h"

#include <errno.h>
#include <strings.h>

static const struct {
    const char *name;
    uint32_t clock;
} codecs[] = {
    [AUDIO_CODEC_OPUS] = {"opus", 48000},
    [AUDIO_CODEC_PCMU] = {"PCMU", 8000},
    [AUDIO_CODEC_PCMA] = {"PCMA", 8000},
    [AUDIO_CODEC_G722] = {"G722", 8000},
};

#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

int audio_codec_from_name(const char *name, enum audio_codec *c)
{
    for (size_t i = 0; name && i < NCODECS; i++) {
        if (strcasecmp(name, codecs[i].name) == 0) {
            *c = (enum audio_codec)i;
            return 0;
        }
    }
    return ENOENT;
}

const char *audio_codec_name(enum audio_codec c)
{
    return (unsigned)c < NCODECS ? codecs[c].name : "?";
}

uint32_t audio_codec_rtp_clock(enum audio_codec c)
{
    return (unsigned)c < NCODECS ? codecs[c].clock : 0;
}
