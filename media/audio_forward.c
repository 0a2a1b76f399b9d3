/*
 * Passthrough: a stream's received payloads handed to another stream of the same format and
 * sent as they are, without decoding or encoding (see audio_stream_pull in audio_stream.h).
 *
 * Why it is shaped so. Forwarding keeps everything a listener could notice the same as mixing:
 *   - Pacing: payloads leave the receiving jitter buffer exactly when read() would have decoded
 *     them (the same jitter_get calls at the same playout positions), so a switch between the
 *     two changes neither the delay nor the cadence.
 *   - Time: the sending stream's RTP clock goes on by one frame per tick whether it writes or
 *     pushes, and each payload is stamped with its place in the frame, so timestamps run on
 *     without a jump and sequence numbers without a gap across a switch. A lost packet skips one
 *     sequence number, so that the listener conceals it (or rebuilds it from the next payload's
 *     Opus FEC) rather than hearing a silence; a silence (JITTER_NONE) sets the marker on the
 *     next payload, as write() does after DTX.
 *   - Codec state: a decoder that sat idle while its stream forwarded would blend stale audio
 *     into the next packet, and so would an idle encoder. On the way back to mixing the
 *     receiving side restarts its decoder and decodes the last few payloads it forwarded (a
 *     single one would come out of a fresh Opus decoder at the wrong level: its energies are
 *     coded against the frames before), so that the decoder continues from what the listener
 *     just heard, and the sending side encodes the last 20 ms of that audio once and drops the
 *     result. The listener's decoder still sees another encoder's stream begin (and the Opus
 *     encoder's look-ahead shifts the audio by a few ms), which a frame or two may show.
 *   - Packet boundaries: a direction switches only where a packet ends. Forwarding starts
 *     where no decoded audio is left over (pull says EAGAIN until then) and decoding resumes
 *     where the last payload forwarded has played out (resume_decoding says EAGAIN until then:
 *     the listener got that payload whole). Streams of one packet size reach a boundary within
 *     three frames; packets out of phase with the frames (the size changed mid-call) are
 *     switched mid-packet after a few frames: the receiving side skips what is left of the
 *     packet and, forwarding to decoding, the sending side's clock steps over it, so that
 *     nothing is heard twice and no timestamp is sent twice (the listener hears a skip of at
 *     most one packet, as when a jitter buffer drops one).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "media/audio_level.h"
#include "media/audio_stream.h"
#include "media/audio_stream_int.h"

/* Frames a switch to forwarding waits for a packet boundary before it skips to one. */
#define AUDIO_FWD_WAIT_MAX 6

void audio_stream_format(const struct audio_stream *as, struct audio_format *f)
{
    memset(f, 0, sizeof(*f));
    if (!as)
        return;
    f->codec = as->codec;
    f->clock_rate = as->clock_rate;
    f->channels = 1;
}

bool audio_format_equal(const struct audio_format *a, const struct audio_format *b)
{
    return a && b && a->clock_rate && a->codec == b->codec && a->clock_rate == b->clock_rate &&
           a->channels == b->channels;
}

const char *audio_format_str(const struct audio_format *f, char *buf, size_t len)
{
    if (!f || !f->clock_rate)
        snprintf(buf, len, "none");
    else if (f->channels > 1)
        snprintf(buf, len, "%s/%u/%u", audio_codec_name(f->codec), (unsigned)f->clock_rate,
                 (unsigned)f->channels);
    else
        snprintf(buf, len, "%s/%u", audio_codec_name(f->codec), (unsigned)f->clock_rate);
    return buf;
}

/* ---- receive side ---- */

void audio_fwd_hist_push(struct audio_stream *as, const struct jitter_frame *f)
{
    struct audio_fwd_hist *h = &as->fwd_hist[as->fwd_hist_at];
    as->fwd_hist_at = (as->fwd_hist_at + 1) % AUDIO_FWD_HIST;
    if (as->fwd_hist_n < AUDIO_FWD_HIST)
        as->fwd_hist_n++;
    h->ts = f->ts;
    h->duration = f->duration;
    h->len = f->len - 1;
    memcpy(h->payload, f->payload + 1, f->len - 1);
}

int audio_stream_pull(struct audio_stream *as, struct audio_fwd *fwd)
{
    if (!as || !fwd)
        return EINVAL;
    fwd->n = 0;
    fwd->gap = false;
    fwd->mixed = false;
    if (audio_stream_rx_paused(as)) {
        fwd->gap = true;
        as->fwd_rx = true;
        return 0;
    }
    if (atomic_load_explicit(&as->rx_short, memory_order_relaxed))
        return EAGAIN; /* more packets than a frame holds: decode them */
    if (!as->fwd_rx && as->carry_len) {
        if (++as->fwd_wait <= AUDIO_FWD_WAIT_MAX)
            return EAGAIN; /* mid-packet: decoded audio is left to play */
        /* Packets that never end on a frame boundary (a packet size that changed mid-call
         * leaves them out of phase): what is left of the last one is skipped. */
        as->carry_len = 0;
    }
    as->fwd_wait = 0;
    as->fwd_rx = true;

    uint32_t frame = as->frame_units;
    if (as->fwd_carry >= frame) { /* the last payload is still playing */
        as->fwd_carry -= frame;
        return 0;
    }
    uint32_t have = as->fwd_carry;
    as->fwd_carry = 0;
    uint64_t now = now_us(as);
    while (have < frame) {
        if (fwd->n == AUDIO_FWD_MAX) { /* a short packet raced the check: the rest is silence */
            fwd->gap = true;
            as->last_kind = AUDIO_FRAME_SILENT;
            have = frame;
            break;
        }
        struct jitter_frame *f = &as->fwd_f[fwd->n];
        pthread_mutex_lock(&as->lock);
        enum jitter_result r =
            jitter_get(as->jb, now + (uint64_t)have * 1000000u / as->clock_rate, f);
        pthread_mutex_unlock(&as->lock);
        if (r == JITTER_NONE) {
            fwd->gap = true;
            as->last_kind = AUDIO_FRAME_SILENT;
            as->fwd_hist_n = 0;
            break;
        }
        struct audio_fwd_pkt *p = &fwd->pkt[fwd->n++];
        p->offset = have;
        if (r == JITTER_PACKET && f->len > 1) {
            p->payload = f->payload + 1;
            p->len = f->len - 1;
            p->duration = f->duration;
            p->level = f->payload[0] & AUDIO_META_LEVEL;
            p->level_known = f->payload[0] != AUDIO_META_UNKNOWN;
            p->voice = p->level_known && (f->payload[0] & AUDIO_META_VOICE) != 0;
            as->last_kind = AUDIO_FRAME_DECODED;
            as->next_ts = f->ts + f->duration;
            audio_fwd_hist_push(as, f);
            ctr_add(&as->fwd_pulled, 1);
        } else {
            p->payload = NULL;
            p->len = 0;
            p->duration = f->duration ? f->duration : frame;
            p->level = AUDIO_LEVEL_SILENT;
            p->voice = false;
            p->level_known = false;
            as->last_kind = AUDIO_FRAME_CONCEALED;
            as->fwd_hist_n = 0; /* the next payload does not continue the last one */
        }
        have += p->duration;
    }
    if (have > frame)
        as->fwd_carry = have - frame;
    return 0;
}

int audio_stream_resume_decoding(struct audio_stream *as, int16_t pcm[AUDIO_FRAME_SAMPLES],
                                 bool force)
{
    memset(pcm, 0, AUDIO_FRAME_SAMPLES * sizeof(pcm[0]));
    if (!as || !as->fwd_rx)
        return 0;
    if (as->fwd_carry && !force)
        return EAGAIN; /* the last payload plays into this frame: forward until it ends */
    as->fwd_rx = false;
    /* Forced mid-packet: what the last payload had left to play went to the listener whole, and
     * the sending stream's clock steps over it (audio_fwd_before_write); playing it again would
     * repeat it. */
    as->fwd_carry = 0;
    as->carry_len = 0;
    as->carry_off = 0;

    /* The decoder starts afresh (nothing it held from before forwarding is blended in), then
     * decodes the last payloads forwarded: its state and its last 20 ms are what the listener's
     * decoder has just played. */
    size_t n = 0;
    const struct audio_fwd_hist *last = NULL;
    if (as->last_kind != AUDIO_FRAME_SILENT)
        audio_fwd_hist_replay(as, true, &n, &last);
    else
        audio_fwd_hist_replay(as, true, &n, NULL);
    if (!last) {
        /* Playout is silent (or nothing decoded): the decoder starts from silence, as read()
         * leaves it after a silence. */
        as->last_kind = AUDIO_FRAME_SILENT;
        return 0;
    }
    size_t k = n < AUDIO_FRAME_SAMPLES ? n : AUDIO_FRAME_SAMPLES;
    memcpy(pcm + AUDIO_FRAME_SAMPLES - k, as->carry + n - k, k * sizeof(pcm[0]));
    /* The next packet decodes as this one's continuation (or, after a loss, the decoder blends
     * into it, as after its own concealment). */
    as->next_ts = last->ts + last->duration;
    return 0;
}

void audio_fwd_hist_replay(struct audio_stream *as, bool fade, size_t *n,
                           const struct audio_fwd_hist **last)
{
    int16_t tail[AUDIO_RATE / 200];
    if (fade)
        (void)audio_decoder_fade_out(as->dec, tail, sizeof(tail) / sizeof(tail[0]));
    *n = 0;
    if (last) {
        *last = NULL;
        for (unsigned i = as->fwd_hist_n; i > 0; i--) {
            const struct audio_fwd_hist *h =
                &as->fwd_hist[(as->fwd_hist_at + AUDIO_FWD_HIST - i) % AUDIO_FWD_HIST];
            size_t got = 0;
            if (audio_decoder_decode(as->dec, h->payload, h->len, as->carry, AUDIO_MAX_SAMPLES,
                                     &got) ||
                !got)
                continue; /* cannot happen for a payload that was accepted */
            ctr_add(&as->frames_decoded, 1);
            *n = got;
            *last = h;
        }
    }
    as->fwd_hist_n = 0;
    as->dec_idle = false;
}

/* ---- send side ---- */

int audio_stream_push(struct audio_stream *as, const struct audio_fwd *fwd)
{
    if (!as || !fwd || fwd->n > AUDIO_FWD_MAX)
        return EINVAL;
    uint64_t now = now_us(as);
    uint32_t frame_ts = as->tx_ts;
    as->tx_ts += as->frame_units; /* time goes on whether we send or not */
    if (!as->fwd_tx || (int32_t)(as->tx_cover_end - frame_ts) < 0)
        as->tx_cover_end = frame_ts;
    as->fwd_tx = true;
    if (!atomic_load(&as->send_on)) {
        as->tx_gap = true;
        dtmf_tx_clear(&as->dtmf_tx);
        return 0;
    }

    int derr = audio_stream_send_dtmf_due(as, frame_ts);
    int err = 0;
    uint8_t buf[RTP_MAX_PACKET + MEDIA_TRANSPORT_TRAILER];
    for (unsigned i = 0; i < fwd->n; i++) {
        const struct audio_fwd_pkt *p = &fwd->pkt[i];
        uint32_t ts = frame_ts + p->offset;
        if ((int32_t)(ts + p->duration - as->tx_cover_end) > 0)
            as->tx_cover_end = ts + p->duration;
        if (!p->len) {
            as->tx_seq++; /* lost: the listener sees the gap and conceals it */
            continue;
        }
        uint8_t ext[8], lv;
        struct rtp_hdr h = {.pt = as->pt, .ts = ts, .marker = as->tx_gap};
        if (p->level_known)
            audio_stream_level_ext(as, &h, ext, &lv, p->level, p->voice);
        size_t hdr = rtp_hdr_size(&h);
        if (!p->payload || p->len > RTP_MAX_PACKET - hdr) {
            as->tx_seq++; /* cannot happen for a payload another stream accepted */
            continue;
        }
        memcpy(buf + hdr, p->payload, p->len);
        int e = audio_stream_send_rtp(as, &h, buf, p->len, sizeof(buf));
        as->tx_gap = e != 0;
        if (e) {
            err = e;
        } else {
            as->wrote = true;
            as->last_write_us = now;
            as->last_write_ts = ts;
            ctr_add(fwd->mixed ? &as->shared_pushed : &as->fwd_pushed, 1);
        }
    }
    if (fwd->gap)
        as->tx_gap = true;
    return err ? err : derr;
}

void audio_fwd_before_write(struct audio_stream *as, uint32_t *frame_ts)
{
    as->fwd_tx = false;
    int32_t over = (int32_t)(as->tx_cover_end - *frame_ts);
    if (over <= 0)
        return;
    /* The last payload forwarded plays past the frame's start (it was longer than what was left
     * of its frame): the clock steps over it, so that no timestamp goes out twice and none is
     * skipped, and the audio written (which the receiving side resumed after that payload)
     * follows it seamlessly. */
    *frame_ts += (uint32_t)over;
    as->tx_ts += (uint32_t)over;
}

void audio_stream_resume_encoding(struct audio_stream *as, const int16_t pcm[AUDIO_FRAME_SAMPLES])
{
    if (!as || !pcm || audio_stream_encoder(as))
        return;
    uint8_t buf[RTP_MAX_PACKET];
    size_t len = 0;
    bool dtx = false;
    if (!audio_encoder_encode(as->enc, pcm, buf, sizeof(buf), &len, &dtx))
        ctr_add(&as->frames_encoded, 1);
}
