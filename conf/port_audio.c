/*
 * A conference port onto a media audio stream: the WebRTC or plain RTP leg's face, with the
 * stream's passthrough calls and format so that a two-party room of one codec forwards payloads
 * between two such ports. Thin wrappers rather than casts of the stream's functions, so the
 * calls stay type-checked.
 *
 * DTMF both ways: while the stream is a member, the digits it receives (on its media worker)
 * go to conf_member_dtmf(), and the digits the room relays to it go out as its own
 * telephone-events. Replacing the stream's handler on leave waits for a handler call in
 * progress, which is what lets leave free the member right after.
 */
#include "conf/conf.h"

#include <string.h>

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

static int port_send_dtmf(void *obj, char digit, uint16_t duration_ms)
{
    return audio_stream_send_dtmf(obj, digit, duration_ms);
}

static int port_pull(void *obj, struct audio_fwd *fwd)
{
    return audio_stream_pull(obj, fwd);
}

static int port_push(void *obj, const struct audio_fwd *fwd)
{
    return audio_stream_push(obj, fwd);
}

static int port_resume_decoding(void *obj, int16_t *pcm, bool force)
{
    return audio_stream_resume_decoding(obj, pcm, force);
}

static void port_resume_encoding(void *obj, const int16_t *pcm)
{
    audio_stream_resume_encoding(obj, pcm);
}

static void port_skip(void *obj, unsigned frames)
{
    audio_stream_skip(obj, frames);
}

static void on_dtmf(char digit, uint16_t duration_ms, void *arg)
{
    (void)conf_member_dtmf(arg, digit, duration_ms); /* refusals are logged there */
}

static void port_attach(void *obj, struct conf_member *mb)
{
    audio_stream_set_dtmf_handler(obj, mb ? on_dtmf : NULL, mb);
}

void conf_port_from_audio_stream(struct conf_port *p, struct audio_stream *as)
{
    memset(p, 0, sizeof(*p));
    p->read = port_read;
    p->write = port_write;
    p->tick = port_tick;
    p->skip = port_skip;
    p->obj = as;
    p->send_dtmf = port_send_dtmf;
    p->attach = port_attach;
    audio_stream_format(as, &p->format);
    audio_stream_encoder_cfg(as, &p->enc_cfg);
    p->pull_packets = port_pull;
    p->push_packets = port_push;
    p->resume_decoding = port_resume_decoding;
    p->resume_encoding = port_resume_encoding;
}
