/*
 * A conference port onto a media audio stream: the WebRTC (and later plain RTP) leg's face.
 * Thin wrappers rather than casts of the stream's functions, so the calls stay type-checked.
 */
#include "conf/conf.h"

#include "media/audio_stream.h"

static void port_read(void *obj, int16_t *pcm, struct audio_frame_info *info)
{
    audio_stream_read(obj, pcm, info);
}

static int port_write(void *obj, const int16_t *pcm)
{
    return audio_stream_write(obj, pcm);
}

static void port_tick(void *obj, uint64_t now_us)
{
    audio_stream_tick(obj, now_us);
}

void conf_port_from_audio_stream(struct conf_port *p, struct audio_stream *as)
{
    p->read = port_read;
    p->write = port_write;
    p->tick = port_tick;
    p->obj = as;
}
