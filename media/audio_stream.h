/*
 * One audio RTP session over a media transport: the negotiated codec's payload (Opus, G.711
 * mu-law or A-law, G.722: media/audio_codec.h) in both directions, with the receive side's
 * adaptive jitter buffer and decoder, the send side's encoder and packetiser, RFC 4733
 * telephone-events, and RTCP SR/RR with the statistics they carry. This is the "here are decoded
 * frames / give me frames to send" face a leg shows conf/.
 *
 * Frames are 20 ms of mono 16-bit PCM at 48 kHz (AUDIO_FRAME_SAMPLES samples) whatever the
 * codec. On the wire everything follows the codec's RTP clock (48000 for Opus, 8000 for the
 * others): timestamps, the interarrival jitter, the jitter buffer's durations, RTCP's RTP times
 * and the telephone-events, which are sent and expected at that clock too.
 *
 * Passthrough: where two streams carry the same format (a two-party bridge with one codec on
 * both sides), the clock may take a stream's received payloads as they are (audio_stream_pull,
 * instead of read) and hand them to the other stream (audio_stream_push, instead of write), which
 * sends them under its own SSRC, sequence numbers, timestamps and payload type. The receiving
 * jitter buffer still paces them, so forwarding and mixing play out with the same delay, and the
 * clock may switch between the two at any frame: see audio_stream_pull for how.
 *
 * Threads: packets arrive on the transport's media worker thread; audio_stream_read / _write /
 * _tick (and the passthrough calls) are called by one mixer clock thread; configuration calls
 * (direction, stats) may come from the main thread. The jitter buffer between the worker and the
 * clock is the only state they share, behind a lock private to this stream.
 */
#ifndef SB_MEDIA_AUDIO_STREAM_H
#define SB_MEDIA_AUDIO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/audio_codec.h"
#include "media/transport.h"

struct audio_stream;

/* A monotonic clock in µs; the stream uses CLOCK_MONOTONIC unless its configuration names
 * another (tests run two streams on a simulated clock). */
typedef uint64_t(audio_clock_h)(void *arg);

struct audio_stream_cfg {
    enum audio_codec codec; /* what the negotiation chose (AUDIO_CODEC_OPUS is 0) */
    uint8_t pt;             /* its negotiated payload type */
    uint8_t dtmf_pt;        /* telephone-event at the codec's clock rate, 0 when not negotiated */
    uint8_t level_ext_id;   /* RFC 6464 ssrc-audio-level extension id, 0 when not negotiated */
    /* Opus only (ignored for the other codecs): */
    bool fec;            /* encode with in-band FEC (peer's useinbandfec=1) */
    bool dtx;            /* peer accepts DTX (usedtx=1) */
    uint32_t bitrate;    /* target bits/s, 0 for the default (32000) */
    uint32_t local_ssrc; /* 0: pick a random one */
    const char *cname;   /* RTCP CNAME; copied */
    const char *log_ctx; /* "room=... call=... party=..."; copied */
    int complexity;      /* Opus encoder complexity 1..10; 0 or negative: the default (5) */
    /* NULL: CLOCK_MONOTONIC. A simulation passes its own clock; the stream's random choices
     * (sequence and timestamp bases, RTCP intervals) then derive from local_ssrc, so that runs
     * repeat exactly. */
    audio_clock_h *clock;
    void *clock_arg;
};

/* What audio_stream_read produced for this 20 ms. */
enum audio_frame_kind {
    AUDIO_FRAME_SILENT,    /* nothing to play (not started, on hold, DTX): pcm is zeros */
    AUDIO_FRAME_DECODED,   /* a packet was decoded */
    AUDIO_FRAME_FEC,       /* the lost packet was rebuilt from the next packet's FEC data */
    AUDIO_FRAME_CONCEALED, /* the packet was lost: packet loss concealment */
};

struct audio_frame_info {
    enum audio_frame_kind kind;
    uint8_t level; /* RFC 6464 -dBov of the frame if the sender said, else 127 */
    bool voice;    /* the sender's VAD flag, when it sent one */
};

struct audio_stream_stats {
    uint64_t packets_received;
    uint64_t packets_sent;
    uint64_t bytes_received;
    uint64_t bytes_sent;
    int64_t packets_lost;  /* from sequence numbers, cumulative */
    uint64_t late_dropped; /* arrived after their playout time */
    uint64_t jb_dropped;   /* discarded by the jitter buffer to shorten its delay (drift) */
    uint32_t jitter_ms;    /* RFC 3550 interarrival jitter */
    uint32_t rtt_ms;       /* from RTCP SR/RR (LSR/DLSR), 0 until known */
    uint32_t jb_delay_ms;  /* the jitter buffer's current target delay */
    uint32_t remote_ssrc;
    uint64_t frames_concealed;
    uint64_t frames_fec;
    uint64_t dtmf_events;        /* RFC 4733 events received (end packets, deduplicated) */
    uint64_t packets_unknown_pt; /* RTP with a payload type that was not negotiated: dropped */
    uint64_t packets_malformed;  /* undecodable RTP / RTCP / codec payloads: dropped */
    uint64_t ssrc_changes;       /* the remote source changed (the receive side was reset) */
    uint64_t rtcp_received;
    uint64_t rtcp_sent;
    uint64_t frames_decoded; /* payloads decoded (FEC rebuilds and priming included) */
    uint64_t frames_encoded; /* frames encoded (priming included) */
    uint64_t packets_pulled; /* payloads taken for forwarding, undecoded (audio_stream_pull) */
    uint64_t
        packets_forwarded; /* payloads of another stream sent as they are (audio_stream_push) */
    /* payloads played as silence undecoded: the sender's level said quiet, or Opus DTX */
    uint64_t frames_skipped;
    uint64_t packets_shared; /* payloads of a mix encoded for several streams (push, mixed) */
};

/* Called on the worker thread for each telephone-event received (once per event, on its end),
 * with its duration at the codec's clock converted to ms. */
typedef void(audio_dtmf_h)(char digit, uint16_t duration_ms, void *arg);

/* Installs the stream as t's receiver. t is not owned: it must stop delivering (be closed)
 * before the last reference to the stream is dropped, and still exist then (the stream unhooks
 * itself from it). EINVAL for a missing transport, an unknown codec, a payload type above 127,
 * or a dtmf_pt equal to pt. */
int audio_stream_alloc(struct audio_stream **asp, struct media_transport *t,
                       const struct audio_stream_cfg *cfg);

/* Thread-safe. When it returns, the previous handler is not running and will not be called
 * again, so its arg may be freed; it must not be called from inside a handler. */
void audio_stream_set_dtmf_handler(struct audio_stream *as, audio_dtmf_h *h, void *arg);

/* Hold / resume: what the negotiated direction lets us do. Not sending stops RTP (RTCP goes on);
 * not receiving makes read() return silence. Thread-safe. */
void audio_stream_set_direction(struct audio_stream *as, bool send, bool recv);

/* Mixer clock: the next 20 ms of received audio. Always fills pcm. */
void audio_stream_read(struct audio_stream *as, int16_t pcm[AUDIO_FRAME_SAMPLES],
                       struct audio_frame_info *info);

/* Mixer clock: encodes and sends 20 ms. The frame's level, measured from pcm, goes into the
 * audio-level extension when negotiated. Returns 0, or an errno from the transport (EAGAIN
 * before it connects). */
int audio_stream_write(struct audio_stream *as, const int16_t pcm[AUDIO_FRAME_SAMPLES]);

/* Mixer clock: sends an RFC 4733 digit ('0'-'9', '*', '#', 'A'-'D') over the next frames,
 * interleaved with audio, at the codec's clock. EINVAL for another character, ENOTSUP without a
 * negotiated PT.
 * Digits queue (ENOBUFS past 32) and go out one after another with a 40 ms pause; the
 * duration is clamped to 40 .. 1300 ms (the longest one event packet can express). */
int audio_stream_send_dtmf(struct audio_stream *as, char digit, uint16_t duration_ms);

/* Mixer clock: the clock gave up `frames` frames (it fell behind). Received audio due in them
 * is dropped undecoded rather than played late, and the next packet sent is stamped after
 * them with the marker bit, as if they had been sent (RFC 3550). */
void audio_stream_skip(struct audio_stream *as, unsigned frames);

/* Mixer clock, every frame: sends RTCP SR/RR + SDES when due (about every 1 s, randomised). */
void audio_stream_tick(struct audio_stream *as, uint64_t now_us);

/* Monotonic time (CLOCK_MONOTONIC, µs) of the last packet received, RTP or RTCP; 0 if never.
 * Thread-safe: the main loop reads it to detect media that stopped. */
uint64_t audio_stream_last_rx_us(const struct audio_stream *as);

/* ---- passthrough ---- */

/* What a stream's payloads are: streams of equal formats can exchange payloads unchanged. */
struct audio_format {
    enum audio_codec codec;
    uint32_t clock_rate; /* RTP clock; 0: no format (the port cannot forward) */
    uint8_t channels;
};

void audio_stream_format(const struct audio_stream *as, struct audio_format *f);
/* The settings its encoder has, or would have (it is made the first time the stream encodes):
 * streams of one format and equal settings can send one payload encoded once (Opus; zeros for
 * the other codecs, which have none). FEC's expected loss follows the peer's reports only in
 * the stream's own encoder. */
void audio_stream_encoder_cfg(const struct audio_stream *as, struct audio_encoder_cfg *c);
bool audio_format_equal(const struct audio_format *a, const struct audio_format *b);
/* "opus/48000" for logs. */
const char *audio_format_str(const struct audio_format *f, char *buf, size_t len);

/* Payloads in 20 ms: down to 2.5 ms packets (Opus's shortest). */
#define AUDIO_FWD_MAX 8

/* One received payload to forward, or a lost one (len 0) whose place the listener conceals. */
struct audio_fwd_pkt {
    const uint8_t *payload; /* the pulling stream's: valid until its next pull */
    size_t len;             /* 0: lost (or late): the sender skips a sequence number */
    uint32_t offset;        /* where it starts in the frame, in RTP clock units */
    uint32_t duration;      /* RTP clock units */
    uint8_t level;          /* RFC 6464 -dBov as the sender gave it, when level_known */
    bool voice;
    bool level_known; /* the sender gave its level (and the receiving stream negotiated it) */
};

/* The next 20 ms of a received stream, as payloads in playout order. */
struct audio_fwd {
    unsigned n;
    /* Playout went silent within this frame (nothing received, DTX, hold): the next payload
     * starts a talk spurt (marker bit). */
    bool gap;
    /* Not another stream's payloads but a mix encoded once for several streams (a
     * conference's shared mix): counted as packets_shared rather than packets_forwarded. */
    bool mixed;
    struct audio_fwd_pkt pkt[AUDIO_FWD_MAX];
};

/*
 * Mixer clock, instead of read: the next 20 ms as the payloads the jitter buffer releases for
 * it, undecoded. A payload longer than the frame covers the next frames too (they pull nothing
 * until it has played out); shorter ones come several to a frame; a lost packet is an entry of
 * length 0 (the listener's decoder conceals it, or rebuilds it from the next one's FEC). Returns
 * 0, or EAGAIN when the frame cannot be forwarded because the decoder still holds part of a
 * packet decoded by read() (one packet size reaches a frame boundary within 60 ms; packets out
 * of phase with the frames are cut after a few frames, skipping what is left of one), or
 * because the source sends packets too short for AUDIO_FWD_MAX to fill a frame: read() this
 * frame instead. Reading after pulling is always possible: read() first resumes
 * decoding itself (audio_stream_resume_decoding, forced) if nobody did.
 */
int audio_stream_pull(struct audio_stream *as, struct audio_fwd *fwd);

/*
 * Mixer clock, instead of write: sends what another stream of the same format pulled, each
 * payload at this stream's timestamp for its place in the frame (the stream's clock goes on by
 * 20 ms per call, as with write), with this stream's SSRC, sequence numbers (one skipped for a
 * lost packet), payload type, the marker after a gap, and the sender's level when both ends
 * negotiated the extension. Queued telephone-events go out as with write. Returns 0 or an errno
 * from the transport. A write after pushes starts where the last payload pushed ends (the
 * stream's clock steps over what it covered past its frame): no timestamp goes out twice.
 */
int audio_stream_push(struct audio_stream *as, const struct audio_fwd *fwd);

/* Mixer clock, on the switch from forwarding back to decoding: restarts the decoder and decodes
 * the last few payloads pulled (so that its state is what the listener's decoder has and the next
 * payload decodes as their continuation), and puts the last 20 ms in pcm (zeros in front of a
 * shorter payload; silence when playout was silent). EAGAIN (and nothing done) while
 * that payload still plays into the coming frame: pull this frame too, the switch waits for the
 * packet boundary. force switches anyway: what the payload had left to play is skipped (the
 * listener got it whole). 0 and zeros in pcm when the stream was not forwarding. */
int audio_stream_resume_decoding(struct audio_stream *as, int16_t pcm[AUDIO_FRAME_SAMPLES],
                                 bool force);

/* Mixer clock, on the switch from pushing back to write: encodes pcm (the last 20 ms the
 * listener heard, from the other stream's audio_stream_resume_decoding) and drops the payload,
 * so that the encoder's memory is what the listener's decoder has just played, not whatever it
 * encoded before forwarding began. */
void audio_stream_resume_encoding(struct audio_stream *as, const int16_t pcm[AUDIO_FRAME_SAMPLES]);

void audio_stream_get_stats(struct audio_stream *as, struct audio_stream_stats *st);

#endif
