/*
 * Audio streams speaking the SIP codecs (PCMU, PCMA, G.722) over the simulated network of
 * stream_fixture.h: each one carries the test signal cleanly, conceals loss without a gap or a
 * click, plays the 10 to 60 ms packets phones send, counts everything on its 8 kHz RTP clock
 * (timestamps, jitter, RTCP, telephone-events), and leaves out what was not negotiated.
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
#include "media/audio_codec.h"
#include "media/audio_stream.h"
#include "rtp/rtcp.h"
#include "rtp/rtp.h"
#include "signal.h"
#include "stream_fixture.h"

static const enum audio_codec sip_codecs[] = {AUDIO_CODEC_PCMU, AUDIO_CODEC_PCMA, AUDIO_CODEC_G722};
#define NSIP (sizeof(sip_codecs) / sizeof(sip_codecs[0]))

/* The largest second difference over frames [from, to): a click stands out in it. */
static double roughness(const struct pair *p, size_t from, size_t to)
{
    double m = 0;
    for (size_t i = from * FRAME + 2; i < to * FRAME; i++) {
        double d = fabs((double)p->out[i] - 2.0 * p->out[i - 1] + p->out[i - 2]);
        if (d > m)
            m = d;
    }
    return m;
}

static unsigned first_heard(const struct pair *p, unsigned frames)
{
    unsigned f = 0;
    while (f < frames && p->kind_log[f] == AUDIO_FRAME_SILENT)
        f++;
    return f;
}

static double clean_roughness[4];

static void test_clean_path(void **state)
{
    for (size_t i = 0; i < NSIP; i++) {
        enum audio_codec c = sip_codecs[i];
        struct pair p;
        pair_init_codec(&p, 300, c);
        pair_run(&p, 300, true);

        /* The jitter buffer starts at 60 ms and settles at its 20 ms minimum, dropping a frame
         * now and then on the way: each drop costs a window its alignment, nothing else. */
        double mean, worst;
        unsigned poor = quality_poor(&p, 25, 300, 0.9, &mean, &worst);
        print_message("%s clean: correlation mean %.3f worst %.3f, %u poor windows\n",
                      audio_codec_name(c), mean, worst, poor);
        assert_true(mean > 0.95);
        assert_true(poor <= 2);
        /* 20 ms per packet: 160 bytes, the timestamp 160 on each time (G.722 too) */
        assert_int_equal(p.ab.min_payload, 160);
        assert_int_equal(p.ab.max_payload, 160);
        assert_int_equal(p.ab.ts_step_bad, 0);
        assert_int_equal(p.ab.markers, 1);
        /* no audio-level extension where none was negotiated */
        assert_false(p.ab.saw_ext);
        struct audio_stream_stats sb;
        audio_stream_get_stats(p.b, &sb);
        assert_int_equal(sb.packets_received, 299);
        assert_int_equal(sb.packets_lost, 0);
        assert_int_equal(sb.frames_concealed, 0);
        assert_int_equal(sb.late_dropped, 0);
        assert_int_equal(sb.bytes_received, 299 * 160);
        assert_int_equal(sb.remote_ssrc, 0xa0a0a0a0);
        assert_int_equal(sb.jitter_ms, 0);
        unsigned start = first_heard(&p, 300);
        print_message("%s clean: heard from frame %u, jitter buffer %u ms\n", audio_codec_name(c),
                      start, sb.jb_delay_ms);
        assert_true(start <= 5); /* 20 ms on the way + a 20 ms buffer: no 40 ms FEC margin */
        for (unsigned f = start; f < 300; f++)
            assert_int_equal(p.kind_log[f], AUDIO_FRAME_DECODED);
        clean_roughness[c] = roughness(&p, 25, 300);
        pair_free(&p);
    }
}

/* A tone through each codec, Opus too, end to end: its level, nothing else beside it. */
static void test_tone(void **state)
{
    const enum audio_codec all[] = {AUDIO_CODEC_PCMU, AUDIO_CODEC_PCMA, AUDIO_CODEC_G722,
                                    AUDIO_CODEC_OPUS};
    for (size_t i = 0; i < 4; i++) {
        struct pair p;
        pair_init_codec(&p, 200, all[i]);
        pair_set_tone(&p, 1000, -20);
        pair_run(&p, 200, true);
        const double probe = 1000;
        struct tone_analyser *an = NULL;
        assert_int_equal(tone_analyser_alloc(&an, AUDIO_RATE, &probe, 1, 0), 0);
        tone_analyser_feed(an, p.out + 25 * FRAME, 175 * FRAME);
        double level = tone_analyser_level(an, 0), snr = level - tone_analyser_floor(an);
        print_message("%s 1 kHz tone: %.2f dBFS, %.1f dB above the rest\n",
                      audio_codec_name(all[i]), level, snr);
        assert_true(fabs(level + 20) < 1.0);
        assert_true(snr > (all[i] == AUDIO_CODEC_OPUS ? 20 : 25));
        mem_deref(an);
        pair_free(&p);
    }
}

/* 10 % loss with jitter: concealed, never silent, never a click. */
static void test_loss_concealment(void **state)
{
    for (size_t i = 0; i < NSIP; i++) {
        enum audio_codec c = sip_codecs[i];
        struct pair p;
        pair_init_codec(&p, 500, c);
        p.ab.loss_pct = 10;
        p.ab.jitter_us = 8000;
        pair_run(&p, 500, true);

        struct audio_stream_stats sb;
        audio_stream_get_stats(p.b, &sb);
        double mean, worst;
        quality(&p, 50, 500, &mean, &worst);
        double rough = roughness(&p, 50, 500);
        print_message("%s 10%% loss: lost %lld, concealed %llu, jb %u ms, correlation %.3f, "
                      "roughness %.0f (clean path %.0f)\n",
                      audio_codec_name(c), (long long)sb.packets_lost,
                      (unsigned long long)sb.frames_concealed, sb.jb_delay_ms, mean, rough,
                      clean_roughness[c]);
        assert_true(p.ab.dropped >= 30);
        assert_true(sb.packets_lost >= 30);
        assert_true(sb.frames_concealed >= 30);
        assert_int_equal(sb.frames_fec, 0);
        for (unsigned f = 50; f < 500; f++)
            assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
        assert_true(mean > 0.6);
        if (clean_roughness[c] > 0) /* measured by test_clean_path */
            assert_true(rough < 2.5 * clean_roughness[c]);
        pair_free(&p);
    }
}

/* Phones pack 10 to 60 ms per packet: B still plays 20 ms frames, seamlessly. The packets are
 * 20 ms payloads from a real encoder, split in two or run together (G.711 and G.722 payloads
 * are a stream of bytes, one per clock unit). */
static void run_packet_size(enum audio_codec c, unsigned ms)
{
    struct pair p;
    pair_init_codec(&p, 150, c);
    audio_stream_set_direction(p.a, false, true); /* only the packets made here reach B */
    struct audio_encoder *enc = NULL;
    assert_int_equal(audio_encoder_alloc(&enc, c, NULL), 0);
    static uint8_t stream[150 * 160];
    int16_t pcm[FRAME];
    for (unsigned f = 0; f < 150; f++) {
        size_t len = 0;
        test_signal(pcm, (size_t)f * FRAME);
        assert_int_equal(audio_encoder_encode(enc, pcm, stream + f * 160, 160, &len, NULL), 0);
        assert_int_equal(len, 160);
    }
    mem_deref(enc);
    const size_t units = ms * 8;
    uint8_t buf[RTP_HDR_SIZE + 480];
    for (unsigned k = 0; (k + 1) * units <= sizeof(stream); k++) {
        struct rtp_hdr h = {.pt = p.net.audio_pt,
                            .seq = (uint16_t)(65500 + k), /* wraps on the way */
                            .ts = 4294960000u + (uint32_t)(k * units),
                            .ssrc = 0x5a5a5a5a,
                            .marker = !k};
        size_t len = 0;
        assert_int_equal(rtp_encode(buf, sizeof(buf), &h, stream + k * units, units, &len), 0);
        /* sent when its last sample exists, 20 ms on the way */
        uint64_t at = SIM_START_US + (uint64_t)(k + 1) * ms * 1000 + 20000;
        enqueue(&p.net, &p.eb, buf, len, false, at);
    }
    pair_run(&p, 150, true);

    struct audio_stream_stats st;
    audio_stream_get_stats(p.b, &st);
    assert_int_equal(st.remote_ssrc, 0x5a5a5a5a);
    assert_int_equal(st.frames_concealed, 0);
    assert_int_equal(st.packets_lost, 0);
    assert_int_equal(st.late_dropped, 0);
    unsigned start = first_heard(&p, 150);
    assert_true(start < 10);
    for (unsigned f = start; f < 140; f++)
        assert_int_equal(p.kind_log[f], AUDIO_FRAME_DECODED);
    double mean, worst;
    quality(&p, start + 5, 140, &mean, &worst);
    print_message("%s %u ms packets: heard from frame %u, correlation mean %.3f worst %.3f\n",
                  audio_codec_name(c), ms, start, mean, worst);
    assert_true(mean > 0.9);
    pair_free(&p);
}

static void test_packet_sizes(void **state)
{
    const unsigned sizes[] = {10, 30, 40, 60};
    for (size_t i = 0; i < NSIP; i++)
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
            run_packet_size(sip_codecs[i], sizes[k]);
}

/* telephone-event/8000 both ways, beside PCMU. */
static void test_dtmf_8k(void **state)
{
    struct pair p;
    struct dtmf_log at_b = {0}, at_a = {0};
    pair_init_codec(&p, 200, AUDIO_CODEC_PCMU);
    assert_int_equal(p.net.dtmf_pt, DTMF_PT_8K);
    audio_stream_set_dtmf_handler(p.b, on_dtmf, &at_b);
    audio_stream_set_dtmf_handler(p.a, on_dtmf, &at_a);
    p.ab.dup_dtmf = true;
    p.ab.jitter_us = 15000;
    pair_run(&p, 20, true);
    assert_int_equal(audio_stream_send_dtmf(p.a, '1', 100), 0);
    assert_int_equal(audio_stream_send_dtmf(p.a, '#', 100), 0);
    assert_int_equal(audio_stream_send_dtmf(p.a, '9', 200), 0);
    assert_int_equal(audio_stream_send_dtmf(p.b, '*', 120), 0);
    assert_int_equal(audio_stream_send_dtmf(p.b, 'D', 2000), 0); /* clamped to 1300 ms */
    pair_run(&p, 120, true);

    assert_int_equal(at_b.n, 3);
    assert_memory_equal(at_b.digits, "1#9", 3);
    assert_int_equal(at_b.ms[0], 100);
    assert_int_equal(at_b.ms[1], 100);
    assert_int_equal(at_b.ms[2], 200);
    assert_int_equal(p.ab.dtmf_markers, 3);
    /* 100 ms: 4 updates + 3 end packets; 200 ms: 9 + 3, as at 48 kHz */
    assert_int_equal(p.ab.dtmf, 7 + 7 + 12);
    /* the event's duration is counted at 8000 Hz */
    assert_true(p.ab.last_dtmf.end);
    assert_int_equal(p.ab.last_dtmf.duration, 200 * 8);

    assert_int_equal(at_a.n, 2);
    assert_memory_equal(at_a.digits, "*D", 2);
    assert_int_equal(at_a.ms[0], 120);
    assert_int_equal(at_a.ms[1], 1300);
    assert_int_equal(p.ba.last_dtmf.duration, 1300 * 8);
    /* the events' timestamps are audio timestamps: the frame each event began on */
    assert_int_equal((p.ba.last_ts - p.ba.last_dtmf_ts) % 160, 0);

    struct audio_stream_stats sb;
    audio_stream_get_stats(p.b, &sb);
    assert_int_equal(sb.dtmf_events, 3);
    for (unsigned f = 30; f < 140; f++)
        assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    pair_free(&p);
}

/* RTCP on the 8 kHz clock: round-trip time, the SR's RTP times, the jitter in clock units. */
static void test_rtcp(void **state)
{
    for (size_t i = 0; i < NSIP; i++) {
        enum audio_codec c = sip_codecs[i];
        struct pair p;
        pair_init_codec(&p, 400, c);
        p.ab.delay_us = 30000;
        p.ba.delay_us = 45000;
        p.ab.jitter_us = 10000;
        pair_run(&p, 400, true);

        struct audio_stream_stats sa, sb;
        audio_stream_get_stats(p.a, &sa);
        audio_stream_get_stats(p.b, &sb);
        assert_true(p.ab.srs >= 3);
        /* RTP time advances 8000 a second between A's reports */
        double dt = (double)(p.ab.sr[1].ntp - p.ab.sr[0].ntp) / 4294967296.0;
        double rate = (double)(uint32_t)(p.ab.sr[1].rtp_ts - p.ab.sr[0].rtp_ts) / dt;
        /* the interarrival jitter, as B reports it (clock units) and counts it (ms) */
        print_message("%s: rtt %u ms, SR clock %.0f Hz, jitter %u ms (%u units)\n",
                      audio_codec_name(c), sa.rtt_ms, rate, sb.jitter_ms, p.ba.last_rb.jitter);
        assert_true(sa.rtt_ms >= 73 && sa.rtt_ms <= 77);
        assert_true(rate > 7900 && rate < 8100);
        /* uniform 0..10 ms of extra delay: a mean deviation of about 3.3 ms */
        assert_true(sb.jitter_ms >= 2 && sb.jitter_ms <= 5);
        assert_true(p.ba.last_rb.jitter >= 2 * 8 && p.ba.last_rb.jitter <= 5 * 8);
        assert_true(p.ba.rbs >= 3);
        assert_int_equal(p.ba.last_rb.ssrc, 0xa0a0a0a0);
        pair_free(&p);
    }
}

/* Only the negotiated payload types play; the rest are counted and dropped. */
static void quiet(enum log_level level, const char *line, void *arg)
{
    if (level == LOG_LVL_WARN)
        (*(unsigned *)arg)++;
}

static void test_unknown_pt(void **state)
{
    unsigned warnings = 0;
    log_set_sink(quiet, &warnings);
    struct pair p;
    pair_init_codec(&p, 100, AUDIO_CODEC_PCMU);
    pair_run(&p, 50, true);
    uint8_t buf[200];
    size_t len;
    static const uint8_t payload[160];
    struct rtp_hdr h = {.pt = 8, .seq = 7, .ts = 1, .ssrc = 0xa0a0a0a0}; /* PCMA */
    for (int k = 0; k < 5; k++) {
        h.seq++;
        assert_int_equal(rtp_encode(buf, sizeof(buf), &h, payload, sizeof(payload), &len), 0);
        inject(&p, buf, len, false);
    }
    h.pt = 126; /* telephone-event at 48 kHz: not this stream's */
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, payload, 4, &len), 0);
    inject(&p, buf, len, false);
    h.pt = 0; /* PCMU, but empty */
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, payload, 0, &len), 0);
    inject(&p, buf, len, false);
    pair_run(&p, 50, true);
    struct audio_stream_stats sb;
    audio_stream_get_stats(p.b, &sb);
    log_set_sink(NULL, NULL);
    assert_int_equal(sb.packets_unknown_pt, 6);
    assert_int_equal(sb.packets_malformed, 1);
    assert_int_equal(warnings, 2); /* one of each, rate limited */
    for (unsigned f = 10; f < 100; f++)
        assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    pair_free(&p);
}

/* A talk spurt that ends: what the decoder still held comes out faded, then silence; the next
 * spurt starts clean. */
static void test_stop_and_resume(void **state)
{
    struct pair p;
    pair_init_codec(&p, 300, AUDIO_CODEC_G722);
    pair_run(&p, 100, true);
    audio_stream_set_direction(p.a, false, true);
    pair_run(&p, 100, true);
    for (unsigned f = 110; f < 200; f++)
        assert_int_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    audio_stream_set_direction(p.a, true, true);
    pair_run(&p, 100, true);
    for (unsigned f = 210; f < 300; f++)
        assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    /* the end of each silence-bound stretch reaches zero without a step */
    double rough = roughness(&p, 20, 300);
    print_message("G722 stop and resume: roughness %.0f (clean path %.0f)\n", rough,
                  clean_roughness[AUDIO_CODEC_G722]);
    if (clean_roughness[AUDIO_CODEC_G722] > 0)
        assert_true(rough < 2.5 * clean_roughness[AUDIO_CODEC_G722]);
    double mean, worst;
    quality(&p, 215, 290, &mean, &worst);
    assert_true(mean > 0.9);
    pair_free(&p);
}

int main(void)
{
    log_set_level(LOG_LVL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_path),       cmocka_unit_test(test_tone),
        cmocka_unit_test(test_loss_concealment), cmocka_unit_test(test_packet_sizes),
        cmocka_unit_test(test_dtmf_8k),          cmocka_unit_test(test_rtcp),
        cmocka_unit_test(test_unknown_pt),       cmocka_unit_test(test_stop_and_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
