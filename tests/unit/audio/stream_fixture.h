/*
 * Two audio streams joined by an in-memory network on a simulated clock: each stream's transport
 * hands packets to a link that may delay, jitter, drop, duplicate or rewrite them, and the test
 * drives both mixer clocks frame by frame. Everything is deterministic and runs in simulated
 * time. A pair speaks one codec (Opus unless the test picks another); the links record what
 * they carry (payload sizes, timestamp steps, telephone-events, reports) for the tests to check.
 */
#ifndef SB_TESTS_AUDIO_STREAM_FIXTURE_H
#define SB_TESTS_AUDIO_STREAM_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/audio_stream.h"
#include "media/tone.h"
#include "rtp/rtcp.h"
#include "rtp/rtp.h"

#define FRAME        AUDIO_FRAME_SAMPLES
#define TICK_US      20000
#define OPUS_PT      111
#define DTMF_PT      126 /* telephone-event/48000 beside Opus */
#define DTMF_PT_8K   101 /* telephone-event/8000 beside the SIP codecs */
#define LEVEL_ID     1
#define SIM_START_US 1000000

struct net;
struct end;

struct link {
    struct net *net;
    struct end *dst;
    unsigned loss_pct; /* RTP only */
    uint64_t delay_us;
    uint64_t jitter_us; /* uniform 0..jitter extra */
    bool dup_dtmf;
    bool drop_rtcp;
    uint32_t rewrite_ssrc;            /* nonzero: RTP goes out with this SSRC instead */
    struct rtcp_report_block last_rb; /* the last report block sent */
    unsigned rbs, srs, rrs;
    unsigned rtp, rtcp, dropped, markers;
    unsigned dtmf, dtmf_markers;
    struct rtp_dtmf last_dtmf; /* the last telephone-event sent, and its timestamp */
    uint32_t last_dtmf_ts;
    uint8_t last_level;
    bool saw_level, saw_ext;
    uint16_t last_seq;
    uint32_t last_ts;
    size_t min_payload, max_payload; /* audio payload sizes */
    unsigned ts_step_bad;            /* audio packets whose timestamp did not step one frame */
    struct rtcp_sr sr[2];            /* the last two SRs sent, newest in [1] */
};

struct end {
    struct media_transport mt;
    struct link *out;
};

struct pkt {
    uint64_t at, order;
    struct end *dst;
    bool rtcp;
    size_t len;
    uint8_t data[1600];
};

#define MAXQ 512

struct net {
    uint64_t now;
    uint64_t rng;
    uint64_t order;
    uint8_t audio_pt, dtmf_pt;
    uint32_t frame_units; /* the codec's RTP units in 20 ms */
    struct pkt q[MAXQ];
    size_t n;
};

struct pair {
    struct net net;
    struct end ea, eb;
    struct link ab, ba;
    struct audio_stream *a, *b;
    enum audio_codec codec;
    uint64_t frame; /* frames run so far */
    /* what B heard of A, and how */
    int16_t *in, *out;
    size_t cap;
    unsigned kinds[4];
    enum audio_frame_kind *kind_log;
    uint8_t last_level;
    bool tone; /* A sends a sine (pair_set_tone) instead of the speech-like signal */
    struct tone_gen gen;
};

uint64_t net_clock(void *arg);
void enqueue(struct net *n, struct end *dst, const uint8_t *data, size_t len, bool rtcp,
             uint64_t at);
int fake_send(struct media_transport *t, uint8_t *pkt, size_t len, size_t cap, bool rtcp);
/* Delivers every packet due by t, in arrival order, with the clock at its arrival time. */
void pump_until(struct net *n, uint64_t t);

/* The configuration pair_init gives each side: p's codec, its PT and telephone-event PT, the
 * level extension (Opus only, as a WebRTC peer negotiates it), the simulated clock. */
struct audio_stream_cfg base_cfg(struct pair *p, uint32_t ssrc, const char *name);
/* An Opus pair; ca / cb replace the default configuration of either side when not NULL. */
void pair_init(struct pair *p, size_t frames, const struct audio_stream_cfg *ca,
               const struct audio_stream_cfg *cb);
/* A pair speaking codec with the usual payload types (PCMU 0, PCMA 8, G722 9, Opus 111). */
void pair_init_codec(struct pair *p, size_t frames, enum audio_codec codec);
void pair_free(struct pair *p);
/* From now on A sends a sine of hz at dbfs. */
void pair_set_tone(struct pair *p, double hz, double dbfs);
/* 20 ms of the test signal (signal_speechlike) from sample at, from a cache made once. */
void test_signal(int16_t *pcm, size_t at);
/* Runs n frames: A sends the test signal (or silence), B sends silence; B's output is kept. */
void pair_run(struct pair *p, unsigned n, bool a_talks);
/* Correlation of what B played against what A sent, over [from, to) frames, in 200 ms windows
 * each at its own best lag. Returns the mean and the worst window. */
void quality(const struct pair *p, size_t from, size_t to, double *mean, double *worst);
/* The same, and how many windows scored below threshold. */
unsigned quality_poor(const struct pair *p, size_t from, size_t to, double threshold, double *mean,
                      double *worst);
/* Hands a datagram straight to B's receive side. */
void inject(struct pair *p, const uint8_t *pkt, size_t len, bool rtcp);

struct dtmf_log {
    char digits[16];
    uint16_t ms[16];
    unsigned n;
};

void on_dtmf(char digit, uint16_t duration_ms, void *arg);

#endif
