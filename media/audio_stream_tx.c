/*
 * The send side of an audio stream, on the mixer clock: encoding (the encoder made on first
 * use), the RTP header with the level extension, RFC 4733 events interleaved with the audio,
 * and the packets' way out through the transport. See audio_stream.h.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "base/log.h"
#include "media/audio_codec.h"
#include "media/audio_level.h"
#include "media/audio_stream.h"
#include "media/audio_stream_int.h"
#include "media/dtmf.h"
#include "rtp/rtp.h"

#define FEC_LOSS_MIN 5 /* keep some FEC ready for a burst even on a clean path */
#define FEC_LOSS_MAX 50

int audio_stream_send_rtp(struct audio_stream *as, struct rtp_hdr *h, uint8_t *buf,
                          size_t payload_len, size_t cap)
{
    size_t len = 0;
    h->seq = as->tx_seq;
    h->ssrc = as->ssrc;
    int err = rtp_encode(buf, RTP_MAX_PACKET, h, buf + rtp_hdr_size(h), payload_len, &len);
    if (err)
        return err;
    as->tx_seq++;
    err = media_transport_send(as->t, buf, len, cap, false);
    if (!err) {
        ctr_add(&as->tx_packets, 1);
        ctr_add(&as->tx_bytes, payload_len);
    }
    return err;
}

int audio_stream_send_dtmf_due(struct audio_stream *as, uint32_t frame_ts)
{
    struct rtp_dtmf ev;
    uint32_t ts;
    bool marker;
    if (!as->dtmf_pt || !dtmf_tx_next(&as->dtmf_tx, frame_ts, as->frame_units, &ev, &ts, &marker))
        return 0;
    uint8_t buf[RTP_HDR_SIZE + RTP_DTMF_SIZE + MEDIA_TRANSPORT_TRAILER];
    struct rtp_hdr h = {.pt = as->dtmf_pt, .ts = ts, .marker = marker};
    size_t len = 0;
    int err = rtp_dtmf_encode(buf + RTP_HDR_SIZE, RTP_DTMF_SIZE, &ev, &len);
    if (err)
        return err;
    return audio_stream_send_rtp(as, &h, buf, len, sizeof(buf));
}

void audio_stream_level_ext(const struct audio_stream *as, struct rtp_hdr *h, uint8_t ext[8],
                            uint8_t *lv, uint8_t level, bool voice)
{
    if (!as->level_ext_id)
        return;
    *lv = rtp_audio_level_encode(voice, level);
    struct rtp_ext_elem el = {as->level_ext_id, lv, 1};
    size_t ext_len = 0;
    int e = as->level_ext_id <= 14 ? rtp_ext_build(ext, 8, &el, 1, &ext_len)
                                   : rtp_ext_build_two_byte(ext, 8, &el, 1, &ext_len);
    if (!e) {
        h->ext = true;
        h->ext_profile = as->level_ext_id <= 14 ? RTP_EXT_ONE_BYTE : RTP_EXT_TWO_BYTE;
        h->ext_data = ext;
        h->ext_len = ext_len;
    }
}

int audio_stream_encoder(struct audio_stream *as)
{
    if (as->enc)
        return 0;
    int err = audio_encoder_alloc(&as->enc, as->codec, &as->enc_cfg);
    if (err) {
        as->enc = NULL;
        logc_warn(as->log_ctx, "audio: cannot make the encoder (%s)", strerror(err));
        return err;
    }
    as->enc_loss_pct = as->enc_cfg.loss_pct;
    return 0;
}

void audio_stream_encoder_cfg(const struct audio_stream *as, struct audio_encoder_cfg *c)
{
    memset(c, 0, sizeof(*c));
    if (as && as->codec == AUDIO_CODEC_OPUS)
        *c = as->enc_cfg;
}

int audio_stream_write(struct audio_stream *as, const int16_t pcm[AUDIO_FRAME_SAMPLES])
{
    if (!as || !pcm)
        return EINVAL;
    uint64_t now = now_us(as);
    uint32_t frame_ts = as->tx_ts;
    as->tx_ts += as->frame_units; /* time goes on whether we send or not */
    if (as->fwd_tx)
        audio_fwd_before_write(as, &frame_ts);
    if (!atomic_load(&as->send_on)) {
        as->tx_gap = true;
        dtmf_tx_clear(&as->dtmf_tx);
        return 0;
    }

    int err = audio_stream_encoder(as);
    if (err)
        return err;
    if (as->fec) {
        unsigned loss = atomic_load(&as->remote_loss_pct);
        loss = loss < FEC_LOSS_MIN ? FEC_LOSS_MIN : loss > FEC_LOSS_MAX ? FEC_LOSS_MAX : loss;
        if (loss != as->enc_loss_pct && !audio_encoder_set_fec(as->enc, true, (uint8_t)loss))
            as->enc_loss_pct = loss;
    }

    int derr = audio_stream_send_dtmf_due(as, frame_ts);

    uint8_t buf[RTP_MAX_PACKET + MEDIA_TRANSPORT_TRAILER];
    uint8_t ext[8], lv;
    struct rtp_hdr h = {.pt = as->pt, .ts = frame_ts, .marker = as->tx_gap};
    if (as->level_ext_id) {
        uint8_t level = audio_level_dbov(pcm, AUDIO_FRAME_SAMPLES);
        audio_stream_level_ext(as, &h, ext, &lv, level, audio_level_is_voice(level));
    }
    size_t hdr = rtp_hdr_size(&h);
    size_t olen = 0;
    bool dtx = false;
    err = audio_encoder_encode(as->enc, pcm, buf + hdr, RTP_MAX_PACKET - hdr, &olen, &dtx);
    if (err)
        return err;
    ctr_add(&as->frames_encoded, 1);
    if (dtx && as->dtx) {
        as->tx_gap = true; /* nothing worth sending: the next packet starts a talk spurt */
        return derr;
    }
    err = audio_stream_send_rtp(as, &h, buf, olen, sizeof(buf));
    as->tx_gap = err != 0;
    if (!err) {
        as->wrote = true;
        as->last_write_us = now;
        as->last_write_ts = frame_ts;
    }
    return err ? err : derr;
}

int audio_stream_send_dtmf(struct audio_stream *as, char digit, uint16_t duration_ms)
{
    if (!as || dtmf_event_from_digit(digit, NULL))
        return EINVAL;
    if (!as->dtmf_pt)
        return ENOTSUP;
    return dtmf_tx_queue(&as->dtmf_tx, digit, duration_ms);
}
