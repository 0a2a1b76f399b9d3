/* See stream_fixture.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/bytes.h"
#include "base/mem.h"
#include "signal.h"
#include "stream_fixture.h"

uint64_t net_clock(void *arg)
{
    return ((struct net *)arg)->now;
}

static uint32_t net_rand(struct net *n)
{
    uint64_t x = n->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    n->rng = x;
    return (uint32_t)(x >> 16);
}

void enqueue(struct net *n, struct end *dst, const uint8_t *data, size_t len, bool rtcp,
             uint64_t at)
{
    assert_true(n->n < MAXQ);
    assert_true(len <= sizeof(n->q[0].data));
    struct pkt *p = &n->q[n->n++];
    p->at = at;
    p->order = n->order++;
    p->dst = dst;
    p->rtcp = rtcp;
    p->len = len;
    memcpy(p->data, data, len);
}

static void record_rtcp(struct link *l, const uint8_t *pkt, size_t len)
{
    struct rtcp_iter it;
    struct rtcp_pkt p;
    rtcp_iter_init(&it, pkt, len);
    assert_int_equal(rtcp_iter_next(&it, &p), 0); /* what we send is well-formed */
    struct rtcp_report_block rb[RTCP_MAX_REPORTS];
    size_t nrb = 0;
    uint32_t ssrc;
    if (p.type == RTCP_SR) {
        struct rtcp_sr sr;
        assert_int_equal(rtcp_sr_decode(&p, &sr, rb, RTCP_MAX_REPORTS, &nrb), 0);
        l->sr[0] = l->sr[1];
        l->sr[1] = sr;
        l->srs++;
    } else {
        assert_int_equal(p.type, RTCP_RR);
        assert_int_equal(rtcp_rr_decode(&p, &ssrc, rb, RTCP_MAX_REPORTS, &nrb), 0);
        l->rrs++;
    }
    assert_true(nrb <= 1);
    if (nrb) {
        l->last_rb = rb[0];
        l->rbs++;
    }
    assert_int_equal(rtcp_iter_next(&it, &p), 0);
    assert_int_equal(p.type, RTCP_SDES);
    l->rtcp++;
}

static void record_audio(struct link *l, const struct rtp_hdr *h, size_t plen)
{
    if (l->rtp && !h->marker && h->ts - l->last_ts != l->net->frame_units)
        l->ts_step_bad++;
    l->rtp++;
    l->markers += h->marker;
    l->last_seq = h->seq;
    l->last_ts = h->ts;
    if (!l->min_payload || plen < l->min_payload)
        l->min_payload = plen;
    if (plen > l->max_payload)
        l->max_payload = plen;
    const uint8_t *ext;
    size_t ext_len;
    bool voice;
    l->saw_ext |= h->ext;
    if (h->ext && !rtp_ext_find(h, LEVEL_ID, &ext, &ext_len) &&
        !rtp_audio_level_decode(ext, ext_len, &voice, &l->last_level))
        l->saw_level = true;
}

int fake_send(struct media_transport *t, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
    struct end *e = (struct end *)t;
    struct link *l = e->out;
    struct net *n = l->net;
    assert_true(cap >= len + MEDIA_TRANSPORT_TRAILER);
    uint64_t at = n->now + l->delay_us;
    if (rtcp) {
        record_rtcp(l, pkt, len);
        if (!l->drop_rtcp)
            enqueue(n, l->dst, pkt, len, true, at);
        return 0;
    }
    struct rtp_hdr h;
    const uint8_t *pl;
    size_t plen;
    assert_int_equal(rtp_decode(&h, pkt, len, &pl, &plen), 0);
    bool dtmf = n->dtmf_pt && h.pt == n->dtmf_pt;
    if (dtmf) {
        l->dtmf++;
        l->dtmf_markers += h.marker;
        assert_int_equal(rtp_dtmf_decode(&l->last_dtmf, pl, plen), 0);
        l->last_dtmf_ts = h.ts;
    } else {
        assert_int_equal(h.pt, n->audio_pt);
        record_audio(l, &h, plen);
    }
    if (l->jitter_us)
        at += net_rand(n) % (l->jitter_us + 1);
    if (!dtmf && l->loss_pct && net_rand(n) % 100 < l->loss_pct) {
        l->dropped++;
        return 0;
    }
    if (l->rewrite_ssrc)
        bytes_put32(pkt + 8, l->rewrite_ssrc);
    enqueue(n, l->dst, pkt, len, false, at);
    if (dtmf && l->dup_dtmf)
        enqueue(n, l->dst, pkt, len, false, at + 3000);
    return 0;
}

void pump_until(struct net *n, uint64_t t)
{
    for (;;) {
        size_t best = n->n;
        for (size_t i = 0; i < n->n; i++) {
            if (n->q[i].at > t)
                continue;
            if (best == n->n || n->q[i].at < n->q[best].at ||
                (n->q[i].at == n->q[best].at && n->q[i].order < n->q[best].order))
                best = i;
        }
        if (best == n->n)
            break;
        struct pkt p = n->q[best];
        n->q[best] = n->q[--n->n];
        if (p.at > n->now)
            n->now = p.at;
        if (p.dst->mt.recvh)
            p.dst->mt.recvh(p.data, p.len, p.rtcp, p.dst->mt.recv_arg);
    }
    n->now = t;
}

struct audio_stream_cfg base_cfg(struct pair *p, uint32_t ssrc, const char *name)
{
    bool opus = p->codec == AUDIO_CODEC_OPUS;
    struct audio_stream_cfg c = {
        .codec = p->codec,
        .pt = p->net.audio_pt,
        .dtmf_pt = p->net.dtmf_pt,
        .level_ext_id = opus ? LEVEL_ID : 0,
        .local_ssrc = ssrc,
        .cname = name,
        .log_ctx = name,
        .clock = net_clock,
        .clock_arg = &p->net,
    };
    return c;
}

static uint8_t static_pt(enum audio_codec codec)
{
    switch (codec) {
    case AUDIO_CODEC_PCMU:
        return 0;
    case AUDIO_CODEC_PCMA:
        return 8;
    case AUDIO_CODEC_G722:
        return 9;
    case AUDIO_CODEC_OPUS:
        break;
    }
    return OPUS_PT;
}

static void pair_setup(struct pair *p, size_t frames, enum audio_codec codec,
                       const struct audio_stream_cfg *ca, const struct audio_stream_cfg *cb)
{
    memset(p, 0, sizeof(*p));
    p->codec = codec;
    p->net.rng = 0x1234567;
    p->net.now = SIM_START_US;
    p->net.audio_pt = ca ? ca->pt : static_pt(codec);
    p->net.dtmf_pt = ca ? ca->dtmf_pt : codec == AUDIO_CODEC_OPUS ? DTMF_PT : DTMF_PT_8K;
    p->net.frame_units = audio_codec_frame_units(codec);
    p->ea.mt.send = fake_send;
    p->eb.mt.send = fake_send;
    p->ea.out = &p->ab;
    p->eb.out = &p->ba;
    p->ab = (struct link){.net = &p->net, .dst = &p->eb, .delay_us = 20000};
    p->ba = (struct link){.net = &p->net, .dst = &p->ea, .delay_us = 20000};
    struct audio_stream_cfg da = base_cfg(p, 0xa0a0a0a0, "party=a");
    struct audio_stream_cfg db = base_cfg(p, 0xb0b0b0b0, "party=b");
    assert_int_equal(audio_stream_alloc(&p->a, &p->ea.mt, ca ? ca : &da), 0);
    assert_int_equal(audio_stream_alloc(&p->b, &p->eb.mt, cb ? cb : &db), 0);
    p->cap = frames * FRAME;
    p->in = calloc(p->cap, sizeof(int16_t));
    p->out = calloc(p->cap, sizeof(int16_t));
    p->kind_log = calloc(frames, sizeof(*p->kind_log));
    assert_non_null(p->in);
    assert_non_null(p->out);
    assert_non_null(p->kind_log);
}

void pair_init(struct pair *p, size_t frames, const struct audio_stream_cfg *ca,
               const struct audio_stream_cfg *cb)
{
    pair_setup(p, frames, AUDIO_CODEC_OPUS, ca, cb);
}

void pair_init_codec(struct pair *p, size_t frames, enum audio_codec codec)
{
    pair_setup(p, frames, codec, NULL, NULL);
}

void pair_set_tone(struct pair *p, double hz, double dbfs)
{
    assert_int_equal(tone_gen_init(&p->gen, AUDIO_RATE, hz, dbfs), 0);
    p->tone = true;
}

void pair_free(struct pair *p)
{
    p->a = mem_deref(p->a);
    p->b = mem_deref(p->b);
    free(p->in);
    free(p->out);
    free(p->kind_log);
}

/* The test signal is costly to compute (a dozen sines a sample) and every run plays the same:
 * it is made once. */
#define SIGNAL_CACHE_FRAMES 600

void test_signal(int16_t *pcm, size_t at)
{
    static int16_t *cache;
    if (!cache) {
        cache = malloc(SIGNAL_CACHE_FRAMES * FRAME * sizeof(*cache));
        assert_non_null(cache);
        signal_speechlike(cache, SIGNAL_CACHE_FRAMES * FRAME, 0);
    }
    if (at + FRAME <= SIGNAL_CACHE_FRAMES * FRAME)
        memcpy(pcm, cache + at, FRAME * sizeof(*pcm));
    else
        signal_speechlike(pcm, FRAME, at);
}

void pair_run(struct pair *p, unsigned n, bool a_talks)
{
    int16_t pcm[FRAME], out[FRAME], zero[FRAME] = {0};
    struct audio_frame_info info;
    for (unsigned i = 0; i < n; i++) {
        uint64_t t = SIM_START_US + p->frame * TICK_US;
        pump_until(&p->net, t);
        size_t at = (size_t)p->frame * FRAME;
        if (a_talks && p->tone)
            tone_gen_fill(&p->gen, pcm, FRAME);
        else if (a_talks)
            test_signal(pcm, at);
        else
            memset(pcm, 0, sizeof(pcm));
        if (at + FRAME <= p->cap)
            memcpy(p->in + at, pcm, sizeof(pcm));
        int err = audio_stream_write(p->a, pcm);
        assert_int_equal(err, 0);
        audio_stream_tick(p->a, t);
        assert_int_equal(audio_stream_write(p->b, zero), 0);
        audio_stream_tick(p->b, t);

        audio_stream_read(p->b, out, &info);
        audio_stream_read(p->a, zero, NULL);
        memset(zero, 0, sizeof(zero));
        if (at + FRAME <= p->cap) {
            memcpy(p->out + at, out, sizeof(out));
            p->kind_log[p->frame] = info.kind;
        }
        p->kinds[info.kind]++;
        if (info.kind != AUDIO_FRAME_SILENT)
            p->last_level = info.level;
        p->frame++;
    }
}

void quality(const struct pair *p, size_t from, size_t to, double *mean, double *worst)
{
    (void)quality_poor(p, from, to, 0, mean, worst);
}

unsigned quality_poor(const struct pair *p, size_t from, size_t to, double threshold, double *mean,
                      double *worst)
{
    /* the jitter buffer moves the lag when it adapts, and a window across such a step scores
     * low: each 200 ms window gets its own best lag */
    const size_t win = 10 * FRAME, max_lag = 9600; /* 200 ms */
    double sum = 0, low = 2;
    unsigned nwin = 0, poor = 0;
    for (size_t s = from * FRAME; s + win + max_lag <= to * FRAME; s += win) {
        /* coarse search on every 16th sample, then refine */
        size_t best = 0;
        double bc = -2;
        for (size_t lag = 0; lag <= max_lag; lag += 16) {
            double ab = 0, aa = 0, bb = 0;
            for (size_t i = s; i < s + win; i += 16) {
                double x = p->in[i], y = p->out[i + lag];
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
            double c = aa && bb ? ab / sqrt(aa * bb) : 0;
            if (c > bc) {
                bc = c;
                best = lag;
            }
        }
        double c;
        size_t lo = best > 16 ? best - 16 : 0;
        (void)signal_best_lag(p->in + s, p->out + s + lo, 0, win, 32, &c);
        sum += c;
        if (c < low)
            low = c;
        poor += c < threshold;
        nwin++;
    }
    assert_true(nwin > 0);
    *mean = sum / nwin;
    *worst = low;
    return poor;
}

void inject(struct pair *p, const uint8_t *pkt, size_t len, bool rtcp)
{
    p->eb.mt.recvh(pkt, len, rtcp, p->eb.mt.recv_arg);
}

void on_dtmf(char digit, uint16_t duration_ms, void *arg)
{
    struct dtmf_log *l = arg;
    if (l->n < 15) {
        l->ms[l->n] = duration_ms;
        l->digits[l->n++] = digit;
    }
}
