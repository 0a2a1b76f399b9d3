/*
 * One audio RTP session over a media transport: see audio_stream.h.
 *
 * Three threads touch a stream, and the state is laid out by who owns it:
 *   - the transport's worker runs recv_handler(): it parses, filters and accounts each packet
 *     and queues codec payloads in the jitter buffer;
 *   - the mixer clock runs read() (jitter buffer -> decoder), write() (encoder -> transport),
 *     send_dtmf() and tick() (RTCP out);
 *   - the main loop sets the direction and reads statistics.
 * What the worker and the clock share (the jitter buffer, the sequence and jitter accounting of
 * the remote source, the last SR) sits behind one mutex private to the stream, held for a
 * handful of field updates at a time and never across a codec call or a send. Counters with a
 * single writer are relaxed atomics that anyone may read. Nothing is allocated per packet.
 *
 * The codec (media/audio_codec.h) hides its rate: it takes and gives 48 kHz PCM. What stays
 * here is its RTP clock, in which timestamps, durations in the jitter buffer, the interarrival
 * jitter, RTCP's RTP times and telephone-events are counted; `ratio` converts those units into
 * 48 kHz samples (1 for Opus, 6 for the 8 kHz clocks). A payload of any duration the codec
 * allows decodes into `carry`, which read() hands out 20 ms at a time.
 *
 * The worker prefixes each queued payload with one byte carrying the packet's RFC 6464 level
 * and voice flag, so that the level travels with the audio it describes through the jitter
 * buffer (which knows nothing of codecs or extensions).
 */
#include "media/audio_stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/audio_codec.h"
#include "media/audio_level.h"
#include "media/audio_stream_int.h"
#include "media/dtmf.h"
#include "media/jitter.h"
#include "rtp/rtp.h"

#define DEFAULT_BITRATE  32000
#define FEC_LOSS_DEFAULT 10 /* expected loss until the peer's reports tell */
#define RATELIMIT_US     5000000
/* The jitter buffer's least target delay: what a clean path costs. 20 ms plays a packet 10 to
 * 30 ms after it arrives (the tick's phase), so that packet in to mixed packet out stays near
 * 20 ms. Opus's in-band FEC rebuilds a lost packet only when the next one is already here: on a
 * clean path that is about half the time; any jitter raises the target and with it the
 * look-ahead. The buffer starts a little deeper (before it knows the path) and shrinks. */
#define JB_MIN_DELAY_MS     20
#define JB_INITIAL_DELAY_MS 20
/* Once an Opus source loses a packet, the least delay holds one packet of look-ahead for its
 * FEC, until LOSS_CALM_US pass without a loss. */
#define JB_MIN_DELAY_FEC_MS 40
#define LOSS_CALM_US        10000000
#define FADE_SAMPLES        (AUDIO_RATE / 200) /* 5 ms: how playout fades into silence */
#define SSRC_SWITCH_PACKETS 2 /* a new source must send this many in a row to take over */
/* A payload whose sender gives a level this quiet (-dBov) or quieter, without the voice flag,
 * is played as silence undecoded: background noise under a muted or silent microphone. */
#define QUIET_LEVEL      70
#define OPUS_DTX_MAX_LEN 2 /* an Opus payload this short is DTX: no audio in it */

static uint64_t mono_clock(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t random64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
        v = mono_clock(NULL) * 0x9E3779B97F4A7C15ull;
    return v;
}

bool audio_stream_ratelimit(struct ratelimit *rl, uint64_t now)
{
    if (rl->used && now - rl->last_us < RATELIMIT_US) {
        rl->suppressed++;
        return false;
    }
    rl->used = true;
    rl->last_us = now;
    return true;
}

void audio_stream_warn_limited(struct audio_stream *as, struct ratelimit *rl, uint64_t now,
                               const char *what, int err)
{
    if (!audio_stream_ratelimit(rl, now))
        return;
    logc_warn(as->log_ctx, "audio: dropped %s (%s); %llu similar dropped since the last warning",
              what, strerror(err), (unsigned long long)rl->suppressed);
    rl->suppressed = 0;
}

/* ---- receive (worker thread) ---- */

/* Under lock: a new remote source; everything learnt about the old one is forgotten. */
static void switch_source(struct audio_stream *as, uint32_t ssrc)
{
    if (as->latched) {
        logc_info(as->log_ctx, "audio: remote SSRC changed %08x -> %08x, receive side reset",
                  (unsigned)as->remote_ssrc, (unsigned)ssrc);
        as->ssrc_changes++;
    }
    as->latched = true;
    as->bye = false;
    as->remote_ssrc = ssrc;
    memset(&as->seq, 0, sizeof(as->seq));
    memset(&as->jit, 0, sizeof(as->jit));
    if (as->lsr_ssrc != ssrc) { /* an SR may have come before its first RTP packet */
        as->lsr = 0;
        as->lsr_arrival_us = 0;
    }
    jitter_reset(as->jb);
    dtmf_rx_init(&as->dtmf_rx);
    atomic_store_explicit(&as->rx_short, false, memory_order_relaxed);
}

/* Under lock: whether a packet of this SSRC belongs to the current source (switching to it when
 * a new one has clearly taken over: the old said BYE, or the new sent enough in a row). */
static bool accept_source(struct audio_stream *as, uint32_t ssrc)
{
    if (as->latched && ssrc == as->remote_ssrc) {
        as->cand_count = 0;
        return true;
    }
    if (!as->latched || as->bye) {
        switch_source(as, ssrc);
        return true;
    }
    if (ssrc != as->cand_ssrc) {
        as->cand_ssrc = ssrc;
        as->cand_count = 0;
    }
    if (++as->cand_count < SSRC_SWITCH_PACKETS)
        return false;
    as->cand_count = 0;
    switch_source(as, ssrc);
    return true;
}

static void report_dtmf(struct audio_stream *as, const struct dtmf_report *r, unsigned n)
{
    pthread_mutex_lock(&as->lock);
    as->dtmf_events += n;
    pthread_mutex_unlock(&as->lock);
    pthread_mutex_lock(&as->dtmf_lock);
    for (unsigned i = 0; i < n; i++) {
        char digit = dtmf_digit_from_event(r[i].event);
        uint32_t ms = (uint32_t)((uint64_t)r[i].duration * 1000u / as->clock_rate);
        if (digit && as->dtmfh)
            as->dtmfh(digit, (uint16_t)(ms > UINT16_MAX ? UINT16_MAX : ms), as->dtmf_arg);
    }
    pthread_mutex_unlock(&as->dtmf_lock);
}

static void recv_handler(const uint8_t *pkt, size_t len, bool rtcp, void *arg)
{
    struct audio_stream *as = arg;
    uint64_t now = now_us(as);
    if (rtcp) {
        audio_rtcp_recv(as, pkt, len, now);
        return;
    }

    struct rtp_hdr h;
    const uint8_t *pl;
    size_t plen;
    int err = rtp_decode(&h, pkt, len, &pl, &plen);
    if (err) {
        ctr_add(&as->rx_malformed, 1);
        audio_stream_warn_limited(as, &as->rl_malformed, now, "malformed RTP", err);
        return;
    }
    bool audio = h.pt == as->pt;
    if (!audio && (!as->dtmf_pt || h.pt != as->dtmf_pt)) {
        ctr_add(&as->rx_unknown_pt, 1);
        if (audio_stream_ratelimit(&as->rl_pt, now)) {
            logc_warn(as->log_ctx,
                      "audio: dropped RTP with payload type %u (not negotiated); %llu more "
                      "since the last warning",
                      h.pt, (unsigned long long)as->rl_pt.suppressed);
            as->rl_pt.suppressed = 0;
        }
        return;
    }

    /* Everything that needs no shared state is checked before taking the lock. */
    uint8_t queued[JITTER_MAX_PAYLOAD];
    uint32_t duration = 0;
    struct rtp_dtmf ev;
    if (audio) {
        if (plen + 1 > sizeof(queued) ||
            audio_codec_packet_duration(as->codec, pl, plen, &duration)) {
            ctr_add(&as->rx_malformed, 1);
            audio_stream_warn_limited(as, &as->rl_malformed, now, "malformed audio payload",
                                      EBADMSG);
            return;
        }
        uint8_t level = AUDIO_LEVEL_SILENT;
        bool voice = false;
        const uint8_t *ext;
        size_t ext_len;
        queued[0] = AUDIO_META_UNKNOWN;
        if (as->level_ext_id && h.ext && !rtp_ext_find(&h, as->level_ext_id, &ext, &ext_len) &&
            !rtp_audio_level_decode(ext, ext_len, &voice, &level))
            queued[0] = (uint8_t)((voice ? AUDIO_META_VOICE : 0) | (level & 0x7f));
        memcpy(queued + 1, pl, plen);
    } else if ((err = rtp_dtmf_decode(&ev, pl, plen)) != 0) {
        ctr_add(&as->rx_malformed, 1);
        audio_stream_warn_limited(as, &as->rl_malformed, now, "malformed telephone-event", err);
        return;
    }

    struct dtmf_report reports[2];
    unsigned nreports = 0;
    pthread_mutex_lock(&as->lock);
    if (!accept_source(as, h.ssrc)) {
        pthread_mutex_unlock(&as->lock);
        return;
    }
    uint64_t ext_seq = 0;
    err = rtp_seq_update(&as->seq, h.seq, &ext_seq);
    if (err == EAGAIN) {
        ext_seq = h.seq; /* on probation: cycles are 0 until it passes */
        err = 0;
    }
    if (err) {
        pthread_mutex_unlock(&as->lock);
        return; /* a jump not yet confirmed, or far in the past */
    }
    if (audio) {
        if ((uint64_t)duration * AUDIO_FWD_MAX < as->frame_units)
            atomic_store_explicit(&as->rx_short, true, memory_order_relaxed);
        rtp_jitter_update(&as->jit, h.ts, (uint32_t)(now * (as->clock_rate / 1000) / 1000));
        if (atomic_load_explicit(&as->recv_on, memory_order_relaxed))
            (void)jitter_put(as->jb, ext_seq, h.ts, queued, plen + 1, duration, now);
    } else {
        nreports = dtmf_rx_packet(&as->dtmf_rx, h.ts, &ev, reports);
    }
    pthread_mutex_unlock(&as->lock);

    ctr_add(&as->rx_packets, 1);
    ctr_add(&as->rx_bytes, plen);
    atomic_store(&as->last_rx_us, now);
    if (nreports)
        report_dtmf(as, reports, nreports);
}

/* ---- playout (mixer clock) ---- */

bool audio_stream_rx_paused(struct audio_stream *as)
{
    if (atomic_load(&as->recv_on)) {
        if (as->rx_paused) /* not written every tick: the line stays clean */
            as->rx_paused = false;
        return false;
    }
    if (!as->rx_paused) {
        pthread_mutex_lock(&as->lock);
        jitter_reset(as->jb);
        pthread_mutex_unlock(&as->lock);
        if (as->last_kind != AUDIO_FRAME_SILENT) /* start afresh when receiving again */
            (void)audio_decoder_fade_out(as->dec, as->carry, FADE_SAMPLES);
        as->carry_len = 0;
        as->last_kind = AUDIO_FRAME_SILENT;
        as->fwd_rx = false;
        as->fwd_hist_n = 0;
        as->fwd_carry = 0;
        as->rx_paused = true;
    }
    return true;
}

/* read() reports the worst kind among a frame's parts, by the order of the enum. */
_Static_assert(AUDIO_FRAME_SILENT < AUDIO_FRAME_DECODED && AUDIO_FRAME_DECODED < AUDIO_FRAME_FEC &&
                   AUDIO_FRAME_FEC < AUDIO_FRAME_CONCEALED,
               "audio_frame_kind is ordered from best to worst");

/* Mixer clock, after each jitter_get: an Opus stream losing packets keeps one packet of
 * look-ahead, so that in-band FEC can rebuild a single loss; a clean path goes back to the least
 * delay. */
static void loss_lookahead(struct audio_stream *as, enum jitter_result r,
                           const struct jitter_frame *f, uint64_t at)
{
    if (as->codec != AUDIO_CODEC_OPUS)
        return;
    if (r == JITTER_LOST && !f->stretch) {
        as->last_loss_us = at;
        if (!as->lossy) {
            as->lossy = true;
            pthread_mutex_lock(&as->lock);
            jitter_set_min_delay(as->jb, JB_MIN_DELAY_FEC_MS);
            pthread_mutex_unlock(&as->lock);
        }
    } else if (as->lossy && at - as->last_loss_us > LOSS_CALM_US) {
        as->lossy = false;
        pthread_mutex_lock(&as->lock);
        jitter_set_min_delay(as->jb, JB_MIN_DELAY_MS);
        pthread_mutex_unlock(&as->lock);
    }
}

/* carry plays dur samples of silence, the decoder idle. */
static void play_zeros(struct audio_stream *as, size_t dur)
{
    if (dur > AUDIO_MAX_SAMPLES)
        dur = AUDIO_MAX_SAMPLES;
    memset(as->carry, 0, dur * sizeof(as->carry[0]));
    as->carry_len = dur;
    as->carry_kind = as->last_kind = AUDIO_FRAME_SILENT;
}

/* A payload not worth decoding: the sender says it is quiet (when it gave a level: without
 * one, as from SIP legs, everything is decoded and measured), or it is Opus
 * DTX. It plays as silence, is kept for the decoder's restart, and is counted. */
static bool skip_quiet(struct audio_stream *as, const struct jitter_frame *f)
{
    uint8_t meta = f->payload[0];
    bool quiet = meta != AUDIO_META_UNKNOWN && !(meta & AUDIO_META_VOICE) &&
                 (meta & AUDIO_META_LEVEL) >= QUIET_LEVEL;
    bool dtx = as->codec == AUDIO_CODEC_OPUS && f->len - 1 <= OPUS_DTX_MAX_LEN;
    if (!quiet && !dtx)
        return false;
    if (!as->dec_idle) {
        as->fwd_hist_n = 0; /* the decoder restarts from the quiet payloads that follow */
        as->dec_idle = true;
    }
    audio_fwd_hist_push(as, f);
    ctr_add(&as->frames_skipped, 1);
    play_zeros(as, (size_t)f->duration * as->ratio);
    as->next_ts = f->ts + f->duration;
    return true;
}

/* Decodes or conceals the next unit from the jitter buffer into carry; false for silence. */
static bool fill_carry(struct audio_stream *as, uint64_t at)
{
    struct jitter_frame *f = &as->jf;
    pthread_mutex_lock(&as->lock);
    enum jitter_result r = jitter_get(as->jb, at, f);
    pthread_mutex_unlock(&as->lock);
    loss_lookahead(as, r, f, at);

    as->carry_off = 0;
    as->carry_level = AUDIO_LEVEL_SILENT;
    as->carry_voice = false;
    enum audio_frame_kind last = as->last_kind;
    if (r == JITTER_NONE) {
        /* Playout goes silent: a concealment under way fades out rather than stop dead, and
         * so does what a decoder still holds back of its last packet. */
        enum audio_frame_kind tail = AUDIO_FRAME_SILENT;
        if (last == AUDIO_FRAME_CONCEALED || last == AUDIO_FRAME_FEC)
            tail = AUDIO_FRAME_CONCEALED;
        else if (last == AUDIO_FRAME_DECODED && audio_decoder_delay(as->dec))
            tail = AUDIO_FRAME_DECODED;
        as->last_kind = AUDIO_FRAME_SILENT;
        if (tail == AUDIO_FRAME_SILENT || audio_decoder_fade_out(as->dec, as->carry, FADE_SAMPLES))
            return false;
        as->carry_len = FADE_SAMPLES;
        as->carry_kind = tail;
        return true;
    }

    if (r == JITTER_PACKET && skip_quiet(as, f))
        return true;
    if (as->dec_idle && r == JITTER_LOST) {
        /* Lost amid quiet payloads: silence too (concealing would replay the stale state). */
        size_t dur = (size_t)(f->duration ? f->duration : as->frame_units) * as->ratio;
        play_zeros(as, dur);
        return true;
    }
    if (r == JITTER_PACKET) {
        size_t n = 0;
        as->carry_level = f->payload[0] & AUDIO_META_LEVEL;
        as->carry_voice =
            f->payload[0] != AUDIO_META_UNKNOWN && (f->payload[0] & AUDIO_META_VOICE) != 0;
        if (as->dec_idle) {
            /* Talking again after quiet payloads went undecoded: the decoder first decodes
             * the last few of them, so that its state (Opus's energies, the overlap with the
             * frame before) continues the sender's stream rather than what it decoded before
             * the quiet stretch. */
            size_t got;
            const struct audio_fwd_hist *h;
            audio_fwd_hist_replay(as, false, &got, &h);
            last = AUDIO_FRAME_DECODED;
            if (!h)
                last = AUDIO_FRAME_SILENT;
        }
        if (last == AUDIO_FRAME_DECODED && f->ts != as->next_ts)
            audio_decoder_discontinuity(as->dec); /* the jitter buffer skipped a packet */
        if (!audio_decoder_decode(as->dec, f->payload + 1, f->len - 1, as->carry, AUDIO_MAX_SAMPLES,
                                  &n) &&
            n) {
            ctr_add(&as->frames_decoded, 1);
            as->carry_len = n;
            as->carry_kind = as->last_kind = AUDIO_FRAME_DECODED;
            as->next_ts = f->ts + f->duration;
            return true;
        }
        ctr_add(&as->rx_malformed, 1); /* checked on arrival; the decoder refused it anyway */
    }

    size_t dur = (size_t)(f->duration ? f->duration : as->frame_units) * as->ratio;
    if (dur > AUDIO_MAX_SAMPLES)
        dur = AUDIO_MAX_SAMPLES;
    as->carry_len = dur;
    if (r == JITTER_LOST && f->fec && !f->stretch && f->len > 1 &&
        audio_decoder_has_fec(as->dec, f->payload + 1, f->len - 1) &&
        !audio_decoder_decode_fec(as->dec, f->payload + 1, f->len - 1, as->carry, dur)) {
        ctr_add(&as->frames_decoded, 1);
        as->carry_kind = as->last_kind = AUDIO_FRAME_FEC;
        return true;
    }
    if (audio_decoder_conceal(as->dec, as->carry, dur))
        memset(as->carry, 0, dur * sizeof(as->carry[0]));
    as->carry_kind = as->last_kind = AUDIO_FRAME_CONCEALED;
    return true;
}

void audio_stream_read(struct audio_stream *as, int16_t pcm[AUDIO_FRAME_SAMPLES],
                       struct audio_frame_info *info)
{
    struct audio_frame_info fi = {AUDIO_FRAME_SILENT, AUDIO_LEVEL_SILENT, false};
    if (!as) {
        memset(pcm, 0, AUDIO_FRAME_SAMPLES * sizeof(pcm[0]));
        if (info)
            *info = fi;
        return;
    }
    if (audio_stream_rx_paused(as)) {
        memset(pcm, 0, AUDIO_FRAME_SAMPLES * sizeof(pcm[0]));
        if (info)
            *info = fi;
        return;
    }
    if (as->fwd_rx) { /* forwarding until now: the decoder continues from the last payload */
        int16_t last[AUDIO_FRAME_SAMPLES];
        (void)audio_stream_resume_decoding(as, last, true);
    }

    uint64_t now = now_us(as);
    size_t have = 0;
    while (have < AUDIO_FRAME_SAMPLES) {
        if (!as->carry_len && !fill_carry(as, now + (uint64_t)have * 1000000u / AUDIO_RATE)) {
            memset(pcm + have, 0, (AUDIO_FRAME_SAMPLES - have) * sizeof(pcm[0]));
            break;
        }
        size_t n =
            as->carry_len < AUDIO_FRAME_SAMPLES - have ? as->carry_len : AUDIO_FRAME_SAMPLES - have;
        memcpy(pcm + have, as->carry + as->carry_off, n * sizeof(pcm[0]));
        as->carry_off += n;
        as->carry_len -= n;
        have += n;
        /* the frame is as bad as its worst part: concealed > FEC > decoded > silent */
        if (as->carry_kind > fi.kind)
            fi.kind = as->carry_kind;
        if (as->carry_level < fi.level)
            fi.level = as->carry_level;
        fi.voice |= as->carry_voice;
    }
    if (fi.kind == AUDIO_FRAME_CONCEALED)
        ctr_add(&as->frames_concealed, 1);
    else if (fi.kind == AUDIO_FRAME_FEC)
        ctr_add(&as->frames_fec, 1);
    if (info)
        *info = fi;
}

void audio_stream_skip(struct audio_stream *as, unsigned frames)
{
    if (!as || !frames)
        return;
    as->tx_ts += frames * as->frame_units; /* that time passed, whatever was sent in it */
    as->tx_gap = true;
    if (as->fwd_rx || audio_stream_rx_paused(as))
        return; /* forwarded payloads: the listener's own jitter buffer absorbs the stall */
    /* What was due in those frames goes undecoded, so that playout keeps its delay; the next
     * packet decoded does not continue the last one (next_ts), which the decoder blends. */
    as->carry_len = 0;
    uint64_t now = now_us(as), want = (uint64_t)frames * as->frame_units;
    pthread_mutex_lock(&as->lock);
    while (want) {
        if (jitter_get(as->jb, now, &as->jf) == JITTER_NONE)
            break;
        uint64_t d = as->jf.duration ? as->jf.duration : as->frame_units;
        want -= d < want ? d : want;
    }
    pthread_mutex_unlock(&as->lock);
}

/* ---- control and statistics (any thread) ---- */

void audio_stream_set_dtmf_handler(struct audio_stream *as, audio_dtmf_h *h, void *arg)
{
    if (!as)
        return;
    pthread_mutex_lock(&as->dtmf_lock);
    as->dtmfh = h;
    as->dtmf_arg = arg;
    pthread_mutex_unlock(&as->dtmf_lock);
}

void audio_stream_set_direction(struct audio_stream *as, bool send, bool recv)
{
    if (!as)
        return;
    atomic_store(&as->send_on, send);
    atomic_store(&as->recv_on, recv);
}

uint64_t audio_stream_last_rx_us(const struct audio_stream *as)
{
    return as ? atomic_load(&((struct audio_stream *)as)->last_rx_us) : 0;
}

void audio_stream_get_stats(struct audio_stream *as, struct audio_stream_stats *st)
{
    if (!as || !st)
        return;
    memset(st, 0, sizeof(*st));
    struct jitter_stats js;
    pthread_mutex_lock(&as->lock);
    jitter_get_stats(as->jb, &js);
    st->packets_lost = rtp_seq_lost(&as->seq);
    st->jitter_ms = (uint32_t)((uint64_t)rtp_jitter_get(&as->jit) * 1000u / as->clock_rate);
    st->remote_ssrc = as->latched ? as->remote_ssrc : 0;
    st->ssrc_changes = as->ssrc_changes;
    st->dtmf_events = as->dtmf_events;
    pthread_mutex_unlock(&as->lock);

    st->late_dropped = js.late;
    st->jb_dropped = js.dropped;
    st->jb_delay_ms = js.target_ms;
    st->packets_received = ctr_get(&as->rx_packets);
    st->bytes_received = ctr_get(&as->rx_bytes);
    st->packets_sent = ctr_get(&as->tx_packets);
    st->bytes_sent = ctr_get(&as->tx_bytes);
    st->rtt_ms = atomic_load(&as->rtt_ms);
    st->frames_concealed = ctr_get(&as->frames_concealed);
    st->frames_fec = ctr_get(&as->frames_fec);
    st->packets_unknown_pt = ctr_get(&as->rx_unknown_pt);
    st->packets_malformed = ctr_get(&as->rx_malformed);
    st->rtcp_received = ctr_get(&as->rtcp_rx);
    st->rtcp_sent = ctr_get(&as->rtcp_tx);
    st->frames_decoded = ctr_get(&as->frames_decoded);
    st->frames_encoded = ctr_get(&as->frames_encoded);
    st->packets_pulled = ctr_get(&as->fwd_pulled);
    st->packets_forwarded = ctr_get(&as->fwd_pushed);
    st->frames_skipped = ctr_get(&as->frames_skipped);
    st->packets_shared = ctr_get(&as->shared_pushed);
}

/* ---- lifetime ---- */

static void destroy(void *arg)
{
    struct audio_stream *as = arg;
    if (as->t && as->t->recv_arg == as) {
        as->t->recvh = NULL;
        as->t->recv_arg = NULL;
    }
    mem_deref(as->jb);
    mem_deref(as->enc);
    mem_deref(as->dec);
    mem_deref(as->cname);
    mem_deref(as->log_ctx);
    if (as->lock_ok)
        pthread_mutex_destroy(&as->lock);
    if (as->dtmf_lock_ok)
        pthread_mutex_destroy(&as->dtmf_lock);
}

int audio_stream_alloc(struct audio_stream **asp, struct media_transport *t,
                       const struct audio_stream_cfg *cfg)
{
    if (!asp || !t || !t->send || !cfg || !audio_codec_rtp_clock(cfg->codec) || cfg->pt > 127 ||
        cfg->dtmf_pt > 127 || (cfg->dtmf_pt && cfg->dtmf_pt == cfg->pt))
        return EINVAL;

    struct audio_stream *as = mem_zalloc(sizeof(*as), destroy);
    if (!as)
        return ENOMEM;
    if (pthread_mutex_init(&as->lock, NULL)) {
        mem_deref(as);
        return ENOMEM;
    }
    as->lock_ok = true;
    if (pthread_mutex_init(&as->dtmf_lock, NULL)) {
        mem_deref(as);
        return ENOMEM;
    }
    as->dtmf_lock_ok = true;
    as->clock = cfg->clock ? cfg->clock : mono_clock;
    as->clock_arg = cfg->clock_arg;
    bool opus = cfg->codec == AUDIO_CODEC_OPUS;
    as->codec = cfg->codec;
    as->clock_rate = audio_codec_rtp_clock(cfg->codec);
    as->frame_units = audio_codec_frame_units(cfg->codec);
    as->ratio = AUDIO_RATE / as->clock_rate;
    as->pt = cfg->pt;
    as->dtmf_pt = cfg->dtmf_pt;
    as->level_ext_id = cfg->level_ext_id;
    as->fec = opus && cfg->fec;
    as->dtx = opus && cfg->dtx;
    as->rng = cfg->clock ? 0x9E3779B97F4A7C15ull ^ cfg->local_ssrc : random64();
    as->ssrc = cfg->local_ssrc;
    while (!as->ssrc)
        as->ssrc = (uint32_t)xorshift(&as->rng);
    as->tx_seq = (uint16_t)xorshift(&as->rng);
    as->tx_ts = (uint32_t)xorshift(&as->rng);
    as->tx_gap = true;
    atomic_init(&as->send_on, true);
    atomic_init(&as->recv_on, true);
    dtmf_tx_init(&as->dtmf_tx, as->clock_rate);
    dtmf_rx_init(&as->dtmf_rx);

    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    as->wall_offset_us = (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000 - (int64_t)now_us(as);

    int err = 0;
    as->log_ctx = mem_strdup(cfg->log_ctx ? cfg->log_ctx : "");
    if (cfg->cname) {
        as->cname = mem_strdup(cfg->cname);
    } else {
        char cname[32];
        snprintf(cname, sizeof(cname), "sb-%016llx", (unsigned long long)xorshift(&as->rng));
        as->cname = mem_strdup(cname);
    }
    if (!as->log_ctx || !as->cname)
        err = ENOMEM;

    struct jitter_cfg jc = {
        .clock_rate = as->clock_rate,
        .frame_samples = as->frame_units,
        .min_delay_ms = JB_MIN_DELAY_MS,
        .initial_delay_ms = JB_INITIAL_DELAY_MS,
    };
    if (!err)
        err = jitter_alloc(&as->jb, &jc);

    as->enc_loss_pct = as->fec ? FEC_LOSS_DEFAULT : 0;
    struct audio_encoder_cfg ec = {
        .bitrate = cfg->bitrate ? cfg->bitrate : DEFAULT_BITRATE,
        .complexity = cfg->complexity,
        .fec = as->fec,
        .loss_pct = (uint8_t)as->enc_loss_pct,
        .dtx = as->dtx,
    };
    as->enc_cfg = ec;
    /* The encoder is made the first time the stream encodes (most members of a large room hear
     * a mix encoded once for all of them and never need their own): made and dropped here only
     * to refuse bad settings now rather than then. */
    struct audio_encoder *probe = NULL;
    if (!err)
        err = audio_encoder_alloc(&probe, cfg->codec, &ec);
    mem_deref(probe);
    if (!err)
        err = audio_decoder_alloc(&as->dec, cfg->codec);
    if (err) {
        mem_deref(as);
        return err;
    }

    as->t = t;
    t->recv_arg = as;
    t->recvh = recv_handler;
    *asp = as;
    return 0;
}
