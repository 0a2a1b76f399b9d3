/*
 * The audio stream's state, shared by its source files: audio_stream.c (packets in, audio out
 * and in, control), audio_forward.c (payloads forwarded undecoded: passthrough) and audio_rtcp.c
 * (reports in and out). Private to them: nothing else includes this.
 */
#ifndef SB_MEDIA_AUDIO_STREAM_INT_H
#define SB_MEDIA_AUDIO_STREAM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/audio_codec.h"
#include "media/audio_stream.h"
#include "media/dtmf.h"
#include "media/jitter.h"
#include "rtp/rtcp.h"
#include "rtp/rtp.h"

typedef atomic_uint_fast64_t counter_t;

struct ratelimit {
    bool used;
    uint64_t last_us;
    uint64_t suppressed;
};

/* Payloads a decoder resuming after forwarding decodes (the last one's audio is the prime). */
#define AUDIO_FWD_HIST 3

struct audio_stream {
    struct media_transport *t;
    audio_clock_h *clock;
    void *clock_arg;
    int64_t wall_offset_us; /* CLOCK_REALTIME - clock at alloc: NTP times for RTCP */
    char *cname;
    char *log_ctx;
    enum audio_codec codec;
    uint32_t clock_rate;  /* the codec's RTP clock */
    uint32_t frame_units; /* RTP clock units in 20 ms */
    uint32_t ratio;       /* 48 kHz samples per RTP clock unit (1 or 6) */
    uint8_t pt, dtmf_pt, level_ext_id;
    bool fec, dtx;
    uint32_t ssrc;

    atomic_bool send_on, recv_on;
    atomic_uint_fast64_t last_rx_us;
    /* The source sends packets too short for AUDIO_FWD_MAX of them to fill a frame: its payloads
     * are decoded, never forwarded. Set by the worker, cleared with a new source. */
    atomic_bool rx_short;

    /* Shared by the worker and the clock: under lock. */
    pthread_mutex_t lock;
    bool lock_ok;
    struct jitter *jb;
    bool latched;
    bool bye; /* the remote source said BYE: the next one takes over at once */
    uint32_t remote_ssrc;
    struct rtp_seq seq;
    struct rtp_jitter jit;
    uint32_t lsr; /* middle 32 bits of the NTP time of the last SR, 0 if none */
    uint32_t lsr_ssrc;
    uint64_t lsr_arrival_us;
    uint64_t ssrc_changes;
    uint64_t dtmf_events;

    /* The DTMF handler, called with this lock held so that replacing it waits for a call in
     * progress (the handler's argument may be freed once it is replaced). */
    pthread_mutex_t dtmf_lock;
    bool dtmf_lock_ok;
    audio_dtmf_h *dtmfh;
    void *dtmf_arg;

    /* Worker only. */
    uint32_t cand_ssrc;
    unsigned cand_count;
    struct dtmf_rx dtmf_rx;
    struct ratelimit rl_malformed, rl_pt, rl_rtcp;

    /* One writer each, read anywhere. */
    counter_t rx_packets, rx_bytes, rx_unknown_pt, rx_malformed, rtcp_rx;
    counter_t tx_packets, tx_bytes, rtcp_tx;
    counter_t frames_concealed, frames_fec;
    counter_t frames_decoded, frames_encoded, fwd_pulled, fwd_pushed, frames_skipped, shared_pushed;
    atomic_uint rtt_ms;
    atomic_uint remote_loss_pct; /* what the peer reports losing of our stream */

    /* Mixer clock only. */
    struct audio_encoder *enc; /* NULL until the stream first encodes (audio_stream_encoder) */
    struct audio_encoder_cfg enc_cfg;
    struct audio_decoder *dec;
    uint16_t tx_seq;
    uint32_t tx_ts;
    bool tx_gap;
    bool wrote;
    uint64_t last_write_us;
    uint32_t last_write_ts;
    unsigned enc_loss_pct;
    struct dtmf_tx dtmf_tx;
    uint64_t next_rtcp_us;
    uint64_t tx_packets_at_report;
    uint64_t rng;
    bool rx_paused;
    struct jitter_frame jf;
    int16_t carry[AUDIO_MAX_SAMPLES]; /* decoded audio not yet played */
    size_t carry_off, carry_len;
    enum audio_frame_kind carry_kind;
    uint8_t carry_level;
    bool carry_voice;
    /* What the last unit of playout was: after a concealment, silence begins with a short
     * fade; a packet that does not follow the last one decoded is blended into. */
    enum audio_frame_kind last_kind;
    uint32_t next_ts; /* RTP time the packet after the last decoded one starts at */
    /* Quiet payloads (the sender's level says so, or Opus DTX) are played as silence without
     * decoding; they are kept in fwd_hist, and the decoder, idle since, restarts and decodes
     * them before the first loud payload (audio_stream.c: skip_quiet). */
    bool dec_idle;
    /* Packets were lost lately (Opus): the jitter buffer keeps a packet of look-ahead. */
    bool lossy;
    uint64_t last_loss_us;

    /* Passthrough (mixer clock only). Receive side: the last playout call was a pull; what the
     * last entry pulled plays beyond the frames pulled so far; the last payload pulled is kept
     * in jf (with its level byte) for resume_decoding. */
    bool fwd_rx;
    unsigned fwd_wait; /* pulls refused in a row for decoded audio left over */
    uint32_t fwd_carry;
    struct jitter_frame fwd_f[AUDIO_FWD_MAX];
    /* The last payloads pulled, consecutive, oldest first from fwd_hist_at - fwd_hist_n: a
     * decoder that sat idle decodes them all on resume, so that its state (Opus's energy
     * prediction, the resampler) and the audio it gives are what the listener's decoder has. */
    struct audio_fwd_hist {
        uint32_t ts, duration;
        size_t len;
        uint8_t payload[JITTER_MAX_PAYLOAD];
    } fwd_hist[AUDIO_FWD_HIST];
    unsigned fwd_hist_n, fwd_hist_at;
    /* Send side: pushes since the last write; the RTP time where what they sent ends. */
    bool fwd_tx;
    uint32_t tx_cover_end;
};

/* The byte the worker puts before each queued payload: the RFC 6464 level and voice flag. */
#define AUDIO_META_VOICE 0x80
#define AUDIO_META_LEVEL 0x7f
/* The packet carried no level (voice and digital silence at once, which no sender says). */
#define AUDIO_META_UNKNOWN 0xff

static inline void ctr_add(counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t ctr_get(counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static inline uint64_t now_us(const struct audio_stream *as)
{
    return as->clock(as->clock_arg);
}

static inline uint64_t ntp_at(const struct audio_stream *as, uint64_t t_us)
{
    int64_t w = (int64_t)t_us + as->wall_offset_us;
    return rtcp_ntp_from_timespec(w / 1000000, (long)(w % 1000000) * 1000);
}

static inline uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x2545F4914F6CDD1Dull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

bool audio_stream_ratelimit(struct ratelimit *rl, uint64_t now);
void audio_stream_warn_limited(struct audio_stream *as, struct ratelimit *rl, uint64_t now,
                               const char *what, int err);

/* Mixer clock, audio_stream.c: */
/* Makes the encoder if the stream has none yet: 0, or an errno (logged). */
int audio_stream_encoder(struct audio_stream *as);
/* Sends one RTP packet whose payload (payload_len bytes) is in place after h's header in buf;
 * sets h's sequence number and SSRC. */
int audio_stream_send_rtp(struct audio_stream *as, struct rtp_hdr *h, uint8_t *buf,
                          size_t payload_len, size_t cap);
/* Sends the telephone-event packet due in the frame starting at frame_ts, if any. */
int audio_stream_send_dtmf_due(struct audio_stream *as, uint32_t frame_ts);
/* Puts the RFC 6464 level extension (when negotiated) into h, its bytes in ext[8] and lv. */
void audio_stream_level_ext(const struct audio_stream *as, struct rtp_hdr *h, uint8_t ext[8],
                            uint8_t *lv, uint8_t level, bool voice);
/* Receiving off (hold): true, once the receive side is reset; read and pull then give silence. */
bool audio_stream_rx_paused(struct audio_stream *as);

/* Mixer clock, audio_forward.c: keeps a payload (f holds the level byte before it) in fwd_hist,
 * for a decoder that restarts from the last few. */
void audio_fwd_hist_push(struct audio_stream *as, const struct jitter_frame *f);
/* Decodes what fwd_hist holds (after a faded concealment that ends what the decoder was
 * playing, when fade), and empties it; NULL last: only the fade. The last payload's audio and
 * length in *n (0 when nothing decoded), its history entry in *last. */
void audio_fwd_hist_replay(struct audio_stream *as, bool fade, size_t *n,
                           const struct audio_fwd_hist **last);

/* Mixer clock, audio_forward.c: before the first write() after pushes, moves *frame_ts (and the
 * stream's clock) past what the pushes covered. */
void audio_fwd_before_write(struct audio_stream *as, uint32_t *frame_ts);

/* Worker thread: one received RTCP compound. */
void audio_rtcp_recv(struct audio_stream *as, const uint8_t *buf, size_t len, uint64_t now);

#endif
