/*
 * Passthrough between two audio streams on the simulated network of stream_fixture.h: phone 1's
 * stream sends to leg 1, whose payloads are pulled undecoded and pushed out of leg 2 to phone 2,
 * as a two-party bridge's tick does (with the same priming on a switch back to decoding). Checks
 * what leg 2 puts on the wire (its own SSRC, payload type, sequence numbers and timestamps on its
 * own clock, the payloads byte for byte, one sequence number skipped per lost packet, the marker
 * after a silence, the sender's level, RTCP), what phone 2 hears, and that switching between
 * forwarding and decoding leaves neither hole nor overlap in the timeline, whatever the packet
 * size.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/audio_stream.h"
#include "media/tone.h"
#include "rtp/rtp.h"
#include "stream_fixture.h"

#define FRAMES    400
#define LEG2_PT   96
#define LEG2_SSRC 0x1e920002u

/* ---- what a stream put on the wire ---- */

struct sent {
    uint16_t seq;
    uint32_t ts, ssrc;
    uint8_t pt;
    bool marker, dtmf;
    size_t len;
    uint32_t hash;
};

struct rec {
    struct sent p[4096];
    unsigned n;
};

static struct rec rec_leg2, rec_phone1;

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int rec_send(struct rec *r, struct media_transport *t, uint8_t *pkt, size_t len, size_t cap,
                    bool rtcp)
{
    if (!rtcp) {
        struct rtp_hdr h;
        const uint8_t *pl;
        size_t plen;
        assert_int_equal(rtp_decode(&h, pkt, len, &pl, &plen), 0);
        assert_true(r->n < sizeof(r->p) / sizeof(r->p[0]));
        struct end *e = (struct end *)t;
        r->p[r->n++] = (struct sent){
            .seq = h.seq,
            .ts = h.ts,
            .ssrc = h.ssrc,
            .pt = h.pt,
            .marker = h.marker,
            .dtmf = e->out->net->dtmf_pt && h.pt == e->out->net->dtmf_pt,
            .len = plen,
            .hash = fnv1a(pl, plen),
        };
    }
    return fake_send(t, pkt, len, cap, rtcp);
}

static int leg2_send(struct media_transport *t, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
    return rec_send(&rec_leg2, t, pkt, len, cap, rtcp);
}

static int phone1_send(struct media_transport *t, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
    return rec_send(&rec_phone1, t, pkt, len, cap, rtcp);
}

/* ---- phone 1 -> leg 1 => leg 2 -> phone 2 ---- */

struct chain {
    struct pair in;  /* a: phone 1, b: leg 1 */
    struct pair out; /* a: leg 2, b: phone 2; out.in is what phone 1 sent, out.out what 2 heard */
    uint64_t frame;
    bool fwd_out; /* leg 1 was pulled on the last frame */
    bool phone1_talks;
    struct tone_gen gen;
    bool tone;
    unsigned pulls, reads, eagain, primes, held, hold;
    struct audio_fwd fwd;
    struct dtmf_log leg1_dtmf, phone2_dtmf;
};

static struct chain ch; /* two simulated networks: too big for the stack */

static struct audio_stream_cfg opus_cfg(struct net *n, uint8_t pt, uint32_t ssrc, const char *name)
{
    return (struct audio_stream_cfg){
        .codec = AUDIO_CODEC_OPUS,
        .pt = pt,
        .dtmf_pt = DTMF_PT,
        .level_ext_id = LEVEL_ID,
        .local_ssrc = ssrc,
        .cname = name,
        .log_ctx = name,
        .clock = net_clock,
        .clock_arg = n,
    };
}

static void chain_init(struct chain *c, enum audio_codec codec)
{
    memset(c, 0, sizeof(*c));
    memset(&rec_leg2, 0, sizeof(rec_leg2));
    memset(&rec_phone1, 0, sizeof(rec_phone1));
    if (codec == AUDIO_CODEC_OPUS) {
        struct audio_stream_cfg p1 = opus_cfg(&c->in.net, OPUS_PT, 0xa1a1a1a1, "phone1");
        struct audio_stream_cfg l1 = opus_cfg(&c->in.net, OPUS_PT, 0x1e910001, "leg1");
        p1.fec = true; /* so that phone 2 can rebuild what leg 1 lost from what leg 2 forwards */
        pair_init(&c->in, FRAMES, &p1, &l1);
        struct audio_stream_cfg l2 = opus_cfg(&c->out.net, LEG2_PT, LEG2_SSRC, "leg2");
        struct audio_stream_cfg p2 = opus_cfg(&c->out.net, LEG2_PT, 0xb2b2b2b2, "phone2");
        pair_init(&c->out, FRAMES, &l2, &p2);
    } else {
        pair_init_codec(&c->in, FRAMES, codec);
        pair_init_codec(&c->out, FRAMES, codec);
    }
    c->in.ea.mt.send = phone1_send;
    c->out.ea.mt.send = leg2_send;
    c->phone1_talks = true;
    audio_stream_set_dtmf_handler(c->in.b, on_dtmf, &c->leg1_dtmf);
    audio_stream_set_dtmf_handler(c->out.b, on_dtmf, &c->phone2_dtmf);
}

static void chain_free(struct chain *c)
{
    pair_free(&c->in);
    pair_free(&c->out);
}

/* One 20 ms tick: phone 1 sends (unless packets are injected instead), the bridge forwards leg 1
 * to leg 2 (fwd) or decodes and re-encodes, phone 2 plays. */
static void chain_step(struct chain *c, bool fwd)
{
    uint64_t t = SIM_START_US + c->frame * TICK_US;
    pump_until(&c->in.net, t);
    pump_until(&c->out.net, t);
    size_t at = (size_t)c->frame * FRAME;
    int16_t pcm[FRAME], heard[FRAME];
    if (c->tone)
        tone_gen_fill(&c->gen, pcm, FRAME);
    else
        test_signal(pcm, at);
    if (at + FRAME <= c->out.cap)
        memcpy(c->out.in + at, pcm, sizeof(pcm));
    if (c->phone1_talks) {
        assert_int_equal(audio_stream_write(c->in.a, pcm), 0);
        audio_stream_tick(c->in.a, t);
    }

    /* as the room does: back to decoding at a packet's end, priming both sides */
    int16_t prime[FRAME];
    if (!fwd && c->fwd_out) {
        if (audio_stream_resume_decoding(c->in.b, prime, c->hold >= 6) == EAGAIN) {
            fwd = true;
            c->held++;
            c->hold++;
        } else {
            c->hold = 0;
            audio_stream_resume_encoding(c->out.a, prime);
            c->primes++;
            c->fwd_out = false;
        }
    }
    bool fwd_now = false;
    if (fwd) {
        int err = audio_stream_pull(c->in.b, &c->fwd);
        assert_true(err == 0 || err == EAGAIN);
        fwd_now = err == 0;
        c->eagain += err == EAGAIN;
    }
    if (!fwd_now && c->fwd_out) {
        assert_int_equal(audio_stream_resume_decoding(c->in.b, prime, true), 0);
        audio_stream_resume_encoding(c->out.a, prime);
        c->primes++;
    }
    if (fwd_now) {
        assert_int_equal(audio_stream_push(c->out.a, &c->fwd), 0);
        c->pulls++;
    } else {
        struct audio_frame_info fi;
        audio_stream_read(c->in.b, pcm, &fi);
        assert_int_equal(audio_stream_write(c->out.a, pcm), 0);
        c->reads++;
    }
    c->fwd_out = fwd_now;
    audio_stream_tick(c->in.b, t);
    audio_stream_tick(c->out.a, t);

    struct audio_frame_info info;
    audio_stream_tick(c->out.b, t);
    audio_stream_read(c->out.b, heard, &info);
    if (at + FRAME <= c->out.cap) {
        memcpy(c->out.out + at, heard, sizeof(heard));
        c->out.kind_log[c->frame] = info.kind;
    }
    c->frame++;
}

static void chain_run(struct chain *c, unsigned n, bool fwd)
{
    for (unsigned i = 0; i < n; i++)
        chain_step(c, fwd);
}

static unsigned audio_count(const struct rec *r)
{
    unsigned n = 0;
    for (unsigned i = 0; i < r->n; i++)
        n += !r->p[i].dtmf;
    return n;
}

/* The k-th audio packet of r. */
static const struct sent *audio_at(const struct rec *r, unsigned k)
{
    for (unsigned i = 0; i < r->n; i++) {
        if (!r->p[i].dtmf && k-- == 0)
            return &r->p[i];
    }
    fail_msg("no audio packet %u", k);
    return NULL;
}

/*
 * Whether r's audio runs on one timeline: each audio packet starts where the one before ended
 * (frame_units per packet; 0: the previous payload's size, G.711's duration), one sequence
 * number on, telephone-events taking numbers of their own in between, except for the numbers
 * skipped for lost packets, whose time is accounted for too. A marker only on the first packet
 * (and, allow_markers, after a silence, where timestamps may jump). Returns the numbers skipped.
 */
static unsigned check_timeline(const struct rec *r, uint32_t frame_units, bool allow_markers)
{
    unsigned skipped = 0, events = 0;
    const struct sent *prev = NULL;
    for (unsigned i = 0; i < r->n; i++) {
        const struct sent *o = &r->p[i];
        if (o->dtmf) {
            events++;
            continue;
        }
        if (!prev) {
            assert_true(o->marker);
        } else {
            unsigned gap = (uint16_t)(o->seq - prev->seq) - 1u - events;
            uint32_t unit = frame_units ? frame_units : (uint32_t)prev->len;
            assert_true(gap < 8);
            if (o->marker) {
                assert_true(allow_markers);
            } else if (o->ts - prev->ts != unit * (gap + 1)) {
                fail_msg("packet %u: seq +%u (%u events) ts +%u after %u units", i,
                         (unsigned)(uint16_t)(o->seq - prev->seq), events, o->ts - prev->ts, unit);
            }
            skipped += gap;
        }
        prev = o;
        events = 0;
    }
    return skipped;
}

/* ---- tests ---- */

/* Opus <-> Opus: leg 2 sends leg 1's payloads byte for byte under its own header, nothing is
 * decoded or encoded, and phone 2 hears phone 1 as well as over a direct path. */
static void test_forward_rewrites_headers(void **state)
{
    (void)state;
    struct chain *c = &ch;
    chain_init(c, AUDIO_CODEC_OPUS);
    chain_run(c, 300, true);
    assert_int_equal(c->pulls, 300);

    unsigned n = audio_count(&rec_leg2);
    assert_true(n >= 290);
    /* phone 1's payloads byte for byte, in order (the jitter buffer may drop one to shorten its
     * delay, as it would before a decoder), under leg 2's header */
    unsigned j = 0, dropped = 0;
    for (unsigned k = 0; k < n; k++) {
        const struct sent *o = audio_at(&rec_leg2, k);
        assert_int_equal(o->ssrc, LEG2_SSRC);
        assert_int_equal(o->pt, LEG2_PT);
        while (audio_at(&rec_phone1, j)->hash != o->hash) {
            j++;
            dropped++;
            assert_true(dropped <= 3);
        }
        assert_int_equal(audio_at(&rec_phone1, j)->len, o->len);
        j++;
    }
    /* its own timeline: one marker, timestamps one frame per sequence number (a frame the
     * jitter buffer inserted is a number skipped) */
    unsigned skipped = check_timeline(&rec_leg2, 960, false);
    assert_true(skipped <= 3);
    /* leg 2's timeline is its own, not phone 1's */
    assert_int_not_equal(audio_at(&rec_leg2, 0)->ts, audio_at(&rec_phone1, 0)->ts);

    struct audio_stream_stats l1, l2, p2;
    audio_stream_get_stats(c->in.b, &l1);
    audio_stream_get_stats(c->out.a, &l2);
    audio_stream_get_stats(c->out.b, &p2);
    assert_int_equal(l1.frames_decoded, 0);
    assert_int_equal(l2.frames_encoded, 0);
    assert_int_equal(l1.packets_pulled, n);
    assert_int_equal(l2.packets_forwarded, n);
    assert_int_equal(l2.packets_sent, n);
    assert_int_equal(p2.packets_lost, skipped);
    assert_int_equal(p2.remote_ssrc, LEG2_SSRC);

    /* the sender's level goes through (both legs negotiated the extension) */
    assert_true(c->out.ab.saw_level);
    assert_true(c->out.ab.last_level > 5 && c->out.ab.last_level < 60);
    /* RTCP goes on: leg 2's SRs count what it forwarded, phone 2's reports give it an RTT */
    assert_true(c->out.ab.srs >= 4);
    assert_true(c->out.ab.sr[1].packet_count > 0 && c->out.ab.sr[1].packet_count <= n);
    assert_int_equal(c->out.ab.sr[1].ssrc, LEG2_SSRC);
    assert_true(c->out.ba.rbs > 0);
    assert_int_equal(c->out.ba.last_rb.ssrc, LEG2_SSRC);
    assert_true(l2.rtt_ms >= 35 && l2.rtt_ms <= 45);

    /* as good as a direct path, but for the window around a packet the jitter buffer dropped */
    double mean, worst;
    unsigned poor = quality_poor(&c->out, 25, 300, 0.8, &mean, &worst);
    print_message("forwarded: correlation mean %.3f worst %.3f (%u dropped by the jitter "
                  "buffer)\n",
                  mean, worst, dropped);
    assert_true(mean > 0.9);
    assert_true(poor <= dropped);
    unsigned bad = 0;
    for (unsigned f = 12; f < 300; f++)
        bad += c->out.kind_log[f] != AUDIO_FRAME_DECODED;
    assert_true(bad <= skipped);
    chain_free(c);
}

/* A lost packet is a skipped sequence number (timestamps run on), so phone 2 conceals it or
 * rebuilds it from the next payload's FEC; a silence ends with the marker. */
static void test_forward_loss_and_silence(void **state)
{
    (void)state;
    struct chain *c = &ch;
    chain_init(c, AUDIO_CODEC_OPUS);
    c->in.ab.loss_pct = 10;
    chain_run(c, 200, true);
    c->in.ab.loss_pct = 0;
    unsigned dropped = c->in.ab.dropped;
    assert_true(dropped >= 8);
    audio_stream_set_direction(c->in.a, false, true); /* phone 1 goes quiet */
    chain_run(c, 25, true);
    unsigned quiet_from = audio_count(&rec_leg2);
    audio_stream_set_direction(c->in.a, true, true);
    chain_run(c, 100, true);

    unsigned n = audio_count(&rec_leg2), tail = 0, markers = 0;
    for (unsigned k = 1; k < n; k++) {
        const struct sent *o = audio_at(&rec_leg2, k), *prev = audio_at(&rec_leg2, k - 1);
        markers += o->marker;
        if (o->marker) {
            /* after the silence; before it, the underrun concealed until the buffer gave up */
            tail = (uint16_t)(o->seq - prev->seq) - 1u;
            assert_int_equal(k, quiet_from);
        }
    }
    assert_int_equal(markers, 1);
    unsigned skipped = check_timeline(&rec_leg2, 960, true) - tail;
    /* every packet lost on the way in is a number skipped on the way out (and a few frames the
     * jitter buffer inserted while it settled) */
    assert_true(skipped >= dropped && skipped <= dropped + 3);
    assert_true(tail <= 3);

    struct audio_stream_stats l1, p2;
    audio_stream_get_stats(c->in.b, &l1);
    audio_stream_get_stats(c->out.b, &p2);
    assert_int_equal(l1.frames_decoded, 0);
    assert_int_equal(p2.packets_lost, skipped + tail);
    /* phone 2 made its own decisions: FEC from the packet after a loss, else concealment */
    assert_true(p2.frames_fec > 0);
    assert_true(p2.frames_fec + p2.frames_concealed >= skipped);
    chain_free(c);
}

/* G.711 phones send 10 to 60 ms packets: forwarded as they are, their timestamps laid end to end
 * on leg 2's clock; switching to decoding and back, in the middle of a long packet, leaves no
 * hole and no overlap, and phone 2 hears the tone throughout. */
struct injector {
    uint16_t seq;
    uint32_t ts;
    uint32_t units; /* packet duration at 8 kHz */
    uint64_t next_us;
    struct tone_gen gen;
};

static void inject_due(struct chain *c, struct injector *inj, uint64_t t)
{
    while (inj->next_us <= t) {
        uint8_t pkt[RTP_HDR_SIZE + 480];
        int16_t pcm[480];
        tone_gen_fill(&inj->gen, pcm, inj->units);
        struct rtp_hdr h = {.pt = 0, .seq = inj->seq++, .ts = inj->ts, .ssrc = 0x5eed5eed};
        for (uint32_t i = 0; i < inj->units; i++)
            pkt[RTP_HDR_SIZE + i] = g711_ulaw_from_linear(pcm[i]);
        size_t len = 0;
        assert_int_equal(rtp_encode(pkt, sizeof(pkt), &h, pkt + RTP_HDR_SIZE, inj->units, &len), 0);
        inject(&c->in, pkt, len, false);
        inj->ts += inj->units;
        inj->next_us += inj->units * 125u;
    }
}

static void run_injected(struct chain *c, struct injector *inj, unsigned frames, bool fwd)
{
    for (unsigned i = 0; i < frames; i++) {
        pump_until(&c->in.net, SIM_START_US + c->frame * TICK_US);
        inject_due(c, inj, SIM_START_US + c->frame * TICK_US);
        chain_step(c, fwd);
    }
}

/* Phone 2's level of the 1 kHz tone in each frame from `from` on: the lowest, and how many
 * frames fell below -23 dBFS (the tone is sent at -20). */
static double tone_lowest(const struct chain *c, uint64_t from, unsigned *weak)
{
    struct tone_analyser *an = NULL;
    const double probe = 1000.0;
    assert_int_equal(tone_analyser_alloc(&an, AUDIO_RATE, &probe, 1, FRAME), 0);
    double lowest = 0;
    *weak = 0;
    for (uint64_t f = from; f + 2 < c->frame; f++) {
        tone_analyser_reset(an);
        tone_analyser_feed(an, c->out.out + f * FRAME, FRAME);
        double l = tone_analyser_level(an, 0);
        lowest = l < lowest ? l : lowest;
        *weak += l < -23.0;
    }
    mem_deref(an);
    return lowest;
}

static void run_packet_size(uint32_t units)
{
    struct chain *c = &ch;
    chain_init(c, AUDIO_CODEC_PCMU);
    c->phone1_talks = false;
    struct injector inj = {.seq = 100, .ts = 5000, .units = units, .next_us = SIM_START_US};
    assert_int_equal(tone_gen_init(&inj.gen, 8000, 1000.0, -20.0), 0);
    run_injected(c, &inj, 61, true);
    run_injected(c, &inj, 31, false);
    run_injected(c, &inj, 59, true);
    run_injected(c, &inj, 21, false);
    run_injected(c, &inj, 40, true);
    assert_int_equal(c->primes, 2);
    assert_true(c->held <= 4 && c->eagain <= 4); /* a packet boundary within 60 ms */

    /* leg 2's timeline: each audio packet starts where the one before ended, one sequence number
     * on, with a single marker at the very start; forwarded payloads kept their size */
    assert_int_equal(check_timeline(&rec_leg2, 0, false), 0);
    unsigned n = audio_count(&rec_leg2), fwd = 0, coded = 0;
    assert_true(n > 100);
    for (unsigned k = 0; k < n; k++) {
        fwd += audio_at(&rec_leg2, k)->len == units;
        coded += audio_at(&rec_leg2, k)->len == 160;
    }
    assert_true(fwd > 20 && coded > 20);

    /* phone 2 hears the tone in every frame once it started, across every switch */
    unsigned weak;
    double lowest = tone_lowest(c, 15, &weak);
    print_message("G.711 %u ms packets: %u held, %u EAGAIN, lowest frame %.1f dBFS, %u below "
                  "-23\n",
                  units / 8, c->held, c->eagain, lowest, weak);
    assert_true(lowest > -30.0);
    assert_true(weak <= 2 * c->primes);

    struct audio_stream_stats l1, l2;
    audio_stream_get_stats(c->in.b, &l1);
    audio_stream_get_stats(c->out.a, &l2);
    assert_true(l1.frames_decoded > 0 && l2.frames_encoded > 0);
    assert_int_equal(l2.packets_forwarded, fwd);
    chain_free(c);
}

static void test_forward_packet_sizes(void **state)
{
    (void)state;
    run_packet_size(240); /* 30 ms */
    run_packet_size(80);  /* 10 ms: two to a frame */
    run_packet_size(480); /* 60 ms: one every third frame */
}

/* A phone that changes its packet size mid-call leaves its packets out of phase with the
 * frames: the switches happen mid-packet after a few frames, the timeline still has neither
 * hole nor overlap, and phone 2 never hears a silence. */
static void test_forward_out_of_phase(void **state)
{
    (void)state;
    struct chain *c = &ch;
    chain_init(c, AUDIO_CODEC_PCMU);
    c->phone1_talks = false;
    struct injector inj = {.seq = 100, .ts = 5000, .units = 240, .next_us = SIM_START_US};
    assert_int_equal(tone_gen_init(&inj.gen, 8000, 1000.0, -20.0), 0);
    run_injected(c, &inj, 31, true);
    inj.units = 480;
    inj.next_us += 10000; /* the new size starts 10 ms into a frame */
    run_injected(c, &inj, 30, true);
    run_injected(c, &inj, 30, false);
    run_injected(c, &inj, 30, true);
    run_injected(c, &inj, 30, false);
    assert_int_equal(c->primes, 2);
    assert_int_equal(check_timeline(&rec_leg2, 0, false), 0);
    unsigned weak;
    double lowest = tone_lowest(c, 15, &weak);
    print_message("out of phase: %u held, %u EAGAIN, lowest frame %.1f dBFS, %u below -23\n",
                  c->held, c->eagain, lowest, weak);
    assert_true(lowest > -50.0);
    assert_true(weak <= 4 * c->primes);
    chain_free(c);
}

/* Forwarding, decoding, forwarding again: the timeline runs on, the decoder and the encoder are
 * primed once per switch back to decoding, and phone 2 hears phone 1 throughout. */
static void test_switch_and_back(void **state)
{
    (void)state;
    struct chain *c = &ch;
    chain_init(c, AUDIO_CODEC_OPUS);
    chain_run(c, 100, true);
    chain_run(c, 60, false);
    chain_run(c, 100, true);
    assert_int_equal(c->primes, 1);
    assert_int_equal(c->reads, 60);

    unsigned skipped = check_timeline(&rec_leg2, 960, false);
    assert_true(skipped <= 3);
    struct audio_stream_stats l1, l2, p2;
    audio_stream_get_stats(c->in.b, &l1);
    audio_stream_get_stats(c->out.a, &l2);
    audio_stream_get_stats(c->out.b, &p2);
    /* resuming decodes the last few payloads forwarded (AUDIO_FWD_HIST) */
    assert_true(l1.frames_decoded > c->reads + c->primes);
    assert_true(l1.frames_decoded <= c->reads + 3 * c->primes);
    assert_int_equal(l2.frames_encoded, c->reads + c->primes);
    assert_int_equal(p2.packets_lost, skipped);
    unsigned bad = 0;
    for (unsigned f = 12; f < 258; f++) {
        assert_int_not_equal(c->out.kind_log[f], AUDIO_FRAME_SILENT);
        bad += c->out.kind_log[f] != AUDIO_FRAME_DECODED;
    }
    assert_true(bad <= skipped);

    /* Within each stretch the audio is good (but for the window around a packet the jitter
     * buffer dropped to shorten its delay, as it would before a decoder); the windows across a
     * switch only score lower for the codec delay the transcoding path adds (Opus's look-ahead),
     * which shifts the lag. */
    double mean, worst;
    const unsigned seg[3][2] = {{25, 100}, {106, 160}, {166, 250}};
    unsigned poor = 0;
    for (unsigned i = 0; i < 3; i++) {
        poor += quality_poor(&c->out, seg[i][0], seg[i][1], 0.7, &mean, &worst);
        print_message("frames %u..%u: correlation mean %.3f worst %.3f\n", seg[i][0], seg[i][1],
                      mean, worst);
        assert_true(mean > 0.85);
    }
    print_message("%u poor windows, %u packets dropped by the jitter buffer\n", poor,
                  (unsigned)l1.jb_dropped);
    assert_true(l1.jb_dropped <= 3);
    assert_true(poor <= l1.jb_dropped);
    chain_free(c);
}

/* Telephone-events relayed while forwarding go out interleaved with the forwarded audio, in one
 * sequence number space. */
static void test_forward_dtmf(void **state)
{
    (void)state;
    struct chain *c = &ch;
    chain_init(c, AUDIO_CODEC_OPUS);
    chain_run(c, 20, true);
    assert_int_equal(audio_stream_send_dtmf(c->in.a, '5', 120), 0);
    unsigned relayed = 0;
    for (unsigned i = 0; i < 40; i++) {
        chain_step(c, true);
        /* the bridge relays each digit leg 1 reports to leg 2 on its next tick */
        for (; relayed < c->leg1_dtmf.n; relayed++)
            assert_int_equal(audio_stream_send_dtmf(c->out.a, c->leg1_dtmf.digits[relayed],
                                                    c->leg1_dtmf.ms[relayed]),
                             0);
    }
    assert_int_equal(c->leg1_dtmf.n, 1);
    assert_int_equal(c->phone2_dtmf.n, 1);
    assert_int_equal(c->phone2_dtmf.digits[0], '5');
    assert_int_equal(c->phone2_dtmf.ms[0], 120);
    assert_true(c->out.ab.dtmf >= 4);

    /* the events' numbers are not losses on either side */
    assert_true(check_timeline(&rec_leg2, 960, false) <= 2);
    struct audio_stream_stats l1, l2;
    audio_stream_get_stats(c->in.b, &l1);
    audio_stream_get_stats(c->out.a, &l2);
    assert_int_equal(l1.frames_decoded, 0);
    assert_int_equal(l2.frames_encoded, 0);
    chain_free(c);
}

/* Formats, and the calls' refusals. */
static void test_format_and_args(void **state)
{
    (void)state;
    struct chain *c = &ch;
    chain_init(c, AUDIO_CODEC_PCMU);
    struct audio_format fa, fb, fo = {AUDIO_CODEC_OPUS, 48000, 1};
    audio_stream_format(c->in.b, &fa);
    audio_stream_format(c->out.a, &fb);
    assert_true(audio_format_equal(&fa, &fb));
    assert_false(audio_format_equal(&fa, &fo));
    struct audio_format none = {0};
    assert_false(audio_format_equal(&none, &none));
    char buf[32];
    assert_string_equal(audio_format_str(&fa, buf, sizeof(buf)), "PCMU/8000");
    assert_string_equal(audio_format_str(&fo, buf, sizeof(buf)), "opus/48000");

    struct audio_fwd f = {.n = AUDIO_FWD_MAX + 1};
    assert_int_equal(audio_stream_push(c->out.a, &f), EINVAL);
    assert_int_equal(audio_stream_push(NULL, &f), EINVAL);
    assert_int_equal(audio_stream_pull(NULL, &f), EINVAL);
    int16_t pcm[FRAME];
    /* not forwarding: nothing to do */
    assert_int_equal(audio_stream_resume_decoding(c->in.b, pcm, false), 0);
    for (unsigned i = 0; i < FRAME; i++)
        assert_int_equal(pcm[i], 0);
    chain_free(c);
}

int main(void)
{
    log_set_level(LOG_LVL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_rewrites_headers),
        cmocka_unit_test(test_forward_loss_and_silence),
        cmocka_unit_test(test_forward_packet_sizes),
        cmocka_unit_test(test_forward_out_of_phase),
        cmocka_unit_test(test_switch_and_back),
        cmocka_unit_test(test_forward_dtmf),
        cmocka_unit_test(test_format_and_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
