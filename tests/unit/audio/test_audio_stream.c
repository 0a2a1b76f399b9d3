/*
 * An Opus audio stream against another over the simulated network of stream_fixture.h: quality
 * on a clean and a lossy path, FEC, RTCP, DTMF, hold, source changes, bad input, packet sizes.
 * The other codecs are in test_stream_codecs.c.
 */
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
#include "base/log.h"
#include "base/mem.h"
#include "media/audio_stream.h"
#include "media/opus_codec.h"
#include "rtp/rtcp.h"
#include "rtp/rtp.h"
#include "signal.h"
#include "stream_fixture.h"

static void test_clean_path(void **state)
{
    struct pair p;
    pair_init(&p, 300, NULL, NULL);
    pair_run(&p, 300, true);

    double mean, worst;
    quality(&p, 25, 300, &mean, &worst);
    print_message("clean path: correlation mean %.3f worst %.3f\n", mean, worst);
    assert_true(mean > 0.9);
    assert_true(worst > 0.8);

    struct audio_stream_stats sa, sb;
    audio_stream_get_stats(p.a, &sa);
    audio_stream_get_stats(p.b, &sb);
    assert_int_equal(sa.packets_sent, 300);
    assert_int_equal(sb.packets_received, 299); /* the last one is still on its way */
    assert_int_equal(sb.remote_ssrc, 0xa0a0a0a0);
    assert_int_equal(sb.packets_lost, 0);
    assert_int_equal(sb.frames_concealed, 0);
    assert_int_equal(sb.late_dropped, 0);
    assert_true(sb.bytes_received > 300 * 40);
    /* only the first packet starts a talk spurt, and each one is 20 ms on from the last */
    assert_int_equal(p.ab.markers, 1);
    assert_int_equal(p.ab.ts_step_bad, 0);
    /* the level extension carries the measured level, and comes out on the other side */
    assert_true(p.ab.saw_level);
    assert_true(p.ab.last_level > 5 && p.ab.last_level < 60);
    assert_true(p.last_level > 5 && p.last_level < 60); /* a few frames behind: not equal */
    /* B hears A from about the target delay on, without gaps */
    for (unsigned f = 10; f < 300; f++)
        assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    assert_true(audio_stream_last_rx_us(p.b) >= 1000000 + 290 * TICK_US);
    pair_free(&p);
}

static void test_loss_fec(void **state)
{
    struct pair p;
    struct audio_stream_cfg ca;
    pair_init(&p, 500, NULL, NULL);
    /* A encodes with in-band FEC; 10 % of its packets are lost, with some jitter */
    p.a = mem_deref(p.a);
    ca = base_cfg(&p, 0xa0a0a0a0, "party=a");
    ca.fec = true;
    assert_int_equal(audio_stream_alloc(&p.a, &p.ea.mt, &ca), 0);
    p.ab.loss_pct = 10;
    p.ab.jitter_us = 8000;
    pair_run(&p, 500, true);

    struct audio_stream_stats sb;
    audio_stream_get_stats(p.b, &sb);
    print_message("10%% loss: lost %lld, fec %llu, concealed %llu, jb %u ms\n",
                  (long long)sb.packets_lost, (unsigned long long)sb.frames_fec,
                  (unsigned long long)sb.frames_concealed, sb.jb_delay_ms);
    assert_true(p.ab.dropped >= 30);
    assert_true(sb.packets_lost >= 30);
    assert_true(sb.frames_fec > 10); /* most single losses rebuilt from the next packet */
    assert_true(sb.frames_fec > sb.frames_concealed);
    /* continuous: no silent frame once playing */
    for (unsigned f = 50; f < 500; f++)
        assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    double mean, worst;
    quality(&p, 50, 500, &mean, &worst);
    print_message("10%% loss: correlation mean %.3f worst %.3f\n", mean, worst);
    assert_true(mean > 0.75);
    pair_free(&p);
}

static void test_rtcp_rtt(void **state)
{
    struct pair p;
    pair_init(&p, 300, NULL, NULL);
    p.ab.delay_us = 30000;
    p.ba.delay_us = 45000;
    pair_run(&p, 300, true);

    struct audio_stream_stats sa, sb;
    audio_stream_get_stats(p.a, &sa);
    audio_stream_get_stats(p.b, &sb);
    /* about one compound a second each way, SR while sending */
    assert_true(p.ab.rtcp >= 3 && p.ab.rtcp <= 10);
    assert_true(p.ba.rtcp >= 3 && p.ba.rtcp <= 10);
    assert_true(sa.rtcp_received >= 3);
    assert_true(sb.rtcp_received >= 3);
    assert_int_equal(sa.rtcp_sent, p.ab.rtcp);
    /* 30 ms there, 45 ms back */
    print_message("rtt a %u ms, b %u ms\n", sa.rtt_ms, sb.rtt_ms);
    assert_true(sa.rtt_ms >= 73 && sa.rtt_ms <= 77);
    assert_true(sb.rtt_ms >= 73 && sb.rtt_ms <= 77);
    pair_free(&p);
}

/* An SR that arrives before the first RTP packet of its source is still echoed. */
static void test_rtcp_sr_before_rtp(void **state)
{
    struct pair p;
    pair_init(&p, 100, NULL, NULL);
    p.ab.drop_rtcp = true; /* B learns of A's reports only from the SR injected here */
    uint8_t buf[256];
    size_t len = 0;
    struct rtcp_sr sr = {.ssrc = 0xa0a0a0a0, .ntp = 0x1234567890abcdefull, .rtp_ts = 5};
    assert_int_equal(rtcp_sr_encode(buf, sizeof(buf), &len, &sr, NULL, 0), 0);
    p.eb.mt.recvh(buf, len, true, p.eb.mt.recv_arg);
    uint64_t sr_at = p.net.now;
    pair_run(&p, 100, true);

    assert_true(p.ba.rbs >= 1);
    assert_int_equal(p.ba.last_rb.ssrc, 0xa0a0a0a0);
    assert_int_equal(p.ba.last_rb.lsr, rtcp_ntp_mid32(sr.ntp));
    /* the delay since that SR, in 1/65536 s, matches the simulated time (B's last report was
     * sent at most ~1.5 s before the end) */
    uint64_t dlsr_us = (uint64_t)p.ba.last_rb.dlsr * 1000000 / 65536;
    assert_true(dlsr_us > 0 && dlsr_us <= p.net.now - sr_at);
    assert_true(p.ab.srs >= 1); /* A sends, so it reports with SRs */
    pair_free(&p);
}

static void test_dtmf(void **state)
{
    struct pair p;
    struct dtmf_log got = {0};
    pair_init(&p, 200, NULL, NULL);
    audio_stream_set_dtmf_handler(p.b, on_dtmf, &got);
    p.ab.dup_dtmf = true;   /* every event packet arrives twice */
    p.ab.jitter_us = 15000; /* and out of order */
    pair_run(&p, 20, true);
    assert_int_equal(audio_stream_send_dtmf(p.a, '1', 100), 0);
    assert_int_equal(audio_stream_send_dtmf(p.a, '#', 100), 0);
    assert_int_equal(audio_stream_send_dtmf(p.a, '9', 200), 0);
    assert_int_equal(audio_stream_send_dtmf(p.a, 'x', 100), EINVAL);
    pair_run(&p, 60, true);

    assert_int_equal(got.n, 3);
    assert_memory_equal(got.digits, "1#9", 3);
    assert_int_equal(got.ms[0], 100);
    assert_int_equal(got.ms[1], 100);
    assert_int_equal(got.ms[2], 200);
    struct audio_stream_stats sb;
    audio_stream_get_stats(p.b, &sb);
    assert_int_equal(sb.dtmf_events, 3);
    assert_int_equal(p.ab.dtmf_markers, 3); /* one marker per event */
    assert_true(p.ab.last_dtmf.end);
    assert_int_equal(p.ab.last_dtmf.duration, 200 * 48); /* at Opus's 48 kHz clock */
    /* 100 ms: 4 updates + 3 end packets; 200 ms: 9 + 3 */
    assert_int_equal(p.ab.dtmf, 7 + 7 + 12);
    /* audio went on meanwhile */
    for (unsigned f = 30; f < 80; f++)
        assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    pair_free(&p);

    /* without a negotiated telephone-event */
    pair_init(&p, 10, NULL, NULL);
    struct audio_stream *s;
    struct audio_stream_cfg c = base_cfg(&p, 1, "party=c");
    c.dtmf_pt = 0;
    struct end e = {.mt.send = fake_send, .out = &p.ab};
    assert_int_equal(audio_stream_alloc(&s, &e.mt, &c), 0);
    assert_int_equal(audio_stream_send_dtmf(s, '5', 100), ENOTSUP);
    mem_deref(s);
    pair_free(&p);
}

static void test_hold(void **state)
{
    struct pair p;
    pair_init(&p, 400, NULL, NULL);
    pair_run(&p, 100, true);
    unsigned rtp0 = p.ab.rtp, rtcp0 = p.ab.rtcp;

    /* A puts B on hold: no RTP from A, RTCP goes on; B hears silence */
    audio_stream_set_direction(p.a, false, true);
    pair_run(&p, 100, true);
    assert_int_equal(p.ab.rtp, rtp0);
    assert_true(p.ab.rtcp >= rtcp0 + 2);
    assert_true(p.ab.rrs >= 1); /* nothing sent since the last report: RR, not SR */
    for (unsigned f = 110; f < 200; f++)
        assert_int_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    struct audio_stream_stats sb;
    audio_stream_get_stats(p.b, &sb);
    /* a short fade at most (60 ms, and the 5 ms fade-out after it), not 2 s of concealment */
    assert_true(sb.frames_concealed <= 4);

    /* resume: the first packet carries the marker, the timestamps kept running while the
     * sequence numbers did not, and B plays again */
    audio_stream_set_direction(p.a, true, true);
    unsigned markers = p.ab.markers;
    uint16_t seq0 = p.ab.last_seq;
    uint32_t ts0 = p.ab.last_ts;
    pair_run(&p, 1, true);
    assert_int_equal(p.ab.markers, markers + 1);
    assert_int_equal(p.ab.last_seq, (uint16_t)(seq0 + 1));
    assert_int_equal(p.ab.last_ts, ts0 + 101 * FRAME);
    pair_run(&p, 99, true);
    assert_int_equal(p.ab.markers, markers + 1);
    for (unsigned f = 215; f < 300; f++)
        assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    double mean, worst;
    quality(&p, 215, 300, &mean, &worst);
    assert_true(mean > 0.9);

    /* B stops receiving: silence while A still talks */
    audio_stream_set_direction(p.b, true, false);
    pair_run(&p, 50, true);
    for (unsigned f = 300; f < 350; f++)
        assert_int_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    audio_stream_set_direction(p.b, true, true);
    pair_run(&p, 50, true);
    for (unsigned f = 360; f < 400; f++)
        assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    pair_free(&p);
}

struct log_capture {
    unsigned ssrc_lines, warn_lines, bye_lines;
};

static void capture(enum log_level level, const char *line, void *arg)
{
    struct log_capture *c = arg;
    if (strstr(line, "said BYE"))
        c->bye_lines++;
    if (strstr(line, "SSRC changed"))
        c->ssrc_lines++;
    if (level == LOG_LVL_WARN)
        c->warn_lines++;
}

static void test_ssrc_change(void **state)
{
    struct log_capture cap = {0};
    log_set_sink(capture, &cap);
    log_set_level(LOG_LVL_INFO);
    struct pair p;
    pair_init(&p, 300, NULL, NULL);
    pair_run(&p, 150, true);
    p.ab.rewrite_ssrc = 0xdeadbeef; /* A restarts as a new source */
    pair_run(&p, 150, true);
    log_set_level(LOG_LVL_WARN);
    log_set_sink(NULL, NULL);

    struct audio_stream_stats sb;
    audio_stream_get_stats(p.b, &sb);
    assert_int_equal(sb.remote_ssrc, 0xdeadbeef);
    assert_int_equal(sb.ssrc_changes, 1);
    assert_int_equal(cap.ssrc_lines, 1);
    /* after a short restart of playout, the new source is heard as well as the old one was */
    for (unsigned f = 170; f < 300; f++)
        assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    double mean, worst;
    quality(&p, 175, 300, &mean, &worst);
    assert_true(mean > 0.9);
    pair_free(&p);
}

/* After the source's BYE, the next one takes over on its first packet. */
static void test_bye(void **state)
{
    struct log_capture cap = {0};
    log_set_sink(capture, &cap);
    log_set_level(LOG_LVL_INFO);
    struct pair p;
    pair_init(&p, 200, NULL, NULL);
    pair_run(&p, 100, true);
    uint8_t buf[64];
    size_t len = 0;
    assert_int_equal(rtcp_bye_encode(buf, sizeof(buf), &len, 0xa0a0a0a0), 0);
    p.eb.mt.recvh(buf, len, true, p.eb.mt.recv_arg);
    p.ab.rewrite_ssrc = 0x0badcafe;
    pair_run(&p, 2, true);
    pump_until(&p.net, p.net.now + 30000);
    log_set_level(LOG_LVL_WARN);
    log_set_sink(NULL, NULL);

    struct audio_stream_stats st;
    audio_stream_get_stats(p.b, &st);
    assert_int_equal(st.remote_ssrc, 0x0badcafe);
    assert_int_equal(st.ssrc_changes, 1);
    assert_int_equal(st.packets_received, p.ab.rtp); /* the new source's first one counts */
    assert_int_equal(cap.ssrc_lines, 1);
    assert_int_equal(cap.bye_lines, 1);
    pair_free(&p);
}

static void test_garbage_and_unknown_pt(void **state)
{
    struct log_capture cap = {0};
    log_set_sink(capture, &cap);
    struct pair p;
    pair_init(&p, 200, NULL, NULL);
    pair_run(&p, 50, true);

    uint8_t buf[1500];
    size_t len;
    const uint8_t pcmu[160] = {0xff};
    struct rtp_hdr h = {.pt = 0, .seq = 1, .ts = 2, .ssrc = 0xa0a0a0a0};
    /* a payload type that was never negotiated (PCMU) */
    for (int i = 0; i < 10; i++) {
        h.seq++;
        assert_int_equal(rtp_encode(buf, sizeof(buf), &h, pcmu, sizeof(pcmu), &len), 0);
        inject(&p, buf, len, false);
    }
    /* the Opus payload type with an undecodable payload */
    const uint8_t bad_opus[] = {0x03, 0x00};
    h.pt = OPUS_PT;
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, bad_opus, sizeof(bad_opus), &len), 0);
    inject(&p, buf, len, false);
    /* a telephone-event too short to be one */
    h.pt = DTMF_PT;
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, bad_opus, sizeof(bad_opus), &len), 0);
    inject(&p, buf, len, false);
    /* random bytes that are not RTP (version 0) and not RTCP */
    uint32_t r = 99;
    for (int i = 0; i < 100; i++) {
        len = 1 + (size_t)(i * 13 % 300);
        for (size_t k = 0; k < len; k++) {
            r = r * 1103515245 + 12345;
            buf[k] = (uint8_t)(r >> 16);
        }
        buf[0] &= 0x3f;
        inject(&p, buf, len, false);
        inject(&p, buf, len, true);
    }
    inject(&p, buf, 0, false);
    inject(&p, buf, 0, true);
    pair_run(&p, 150, true);
    log_set_sink(NULL, NULL);

    struct audio_stream_stats sb;
    audio_stream_get_stats(p.b, &sb);
    assert_int_equal(sb.packets_unknown_pt, 10);
    assert_int_equal(sb.packets_malformed, 2 + 100 + 100 + 2);
    assert_int_equal(sb.remote_ssrc, 0xa0a0a0a0);
    assert_int_equal(sb.ssrc_changes, 0);
    /* warnings are rate limited: a handful of lines for 200 bad packets */
    assert_true(cap.warn_lines >= 2 && cap.warn_lines <= 6);
    /* and the real stream was not disturbed */
    for (unsigned f = 10; f < 200; f++)
        assert_int_not_equal(p.kind_log[f], AUDIO_FRAME_SILENT);
    double mean, worst;
    quality(&p, 60, 200, &mean, &worst);
    assert_true(mean > 0.9);
    pair_free(&p);
}

/* The peer packs 10, 40 or 60 ms per packet: B still plays 20 ms frames, seamlessly. */
static void run_packet_size(unsigned samples)
{
    struct pair p;
    pair_init(&p, 150, NULL, NULL);
    audio_stream_set_direction(p.a, false, true); /* only the packets made here reach B */
    struct opus_codec_enc *enc = NULL;
    assert_int_equal(opus_codec_enc_alloc(&enc, NULL), 0);
    int16_t pcm[2880];
    uint8_t buf[1500];
    for (unsigned k = 0; (k + 1) * samples <= 150 * FRAME; k++) {
        signal_speechlike(pcm, samples, (uint64_t)k * samples);
        struct rtp_hdr h = {.pt = OPUS_PT,
                            .seq = (uint16_t)(60000 + k),
                            .ts = 123456 + k * samples,
                            .ssrc = 0x5a5a5a5a,
                            .marker = !k};
        size_t olen = 0, len = 0;
        assert_int_equal(opus_codec_encode(enc, pcm, samples, buf + RTP_HDR_SIZE,
                                           sizeof(buf) - RTP_HDR_SIZE, &olen, NULL),
                         0);
        assert_int_equal(rtp_encode(buf, sizeof(buf), &h, buf + RTP_HDR_SIZE, olen, &len), 0);
        /* sent when its last sample exists, 20 ms on the way */
        uint64_t at = 1000000 + (uint64_t)(k + 1) * samples * 1000000 / 48000 + 20000;
        enqueue(&p.net, &p.eb, buf, len, false, at);
    }
    mem_deref(enc);
    pair_run(&p, 150, true);

    struct audio_stream_stats st;
    audio_stream_get_stats(p.b, &st);
    assert_int_equal(st.remote_ssrc, 0x5a5a5a5a);
    assert_int_equal(st.frames_concealed, 0);
    assert_int_equal(st.packets_lost, 0);
    unsigned start = 0;
    while (start < 150 && p.kind_log[start] == AUDIO_FRAME_SILENT)
        start++;
    assert_true(start < 15);
    for (unsigned f = start; f < 140; f++)
        assert_int_equal(p.kind_log[f], AUDIO_FRAME_DECODED);
    double mean, worst;
    quality(&p, start, 140, &mean, &worst);
    print_message("%u ms packets: correlation mean %.3f worst %.3f\n", samples / 48, mean, worst);
    assert_true(mean > 0.9);
    pair_free(&p);
}

static void test_packet_sizes(void **state)
{
    run_packet_size(480);
    run_packet_size(1920);
    run_packet_size(2880);
}

static void test_alloc_checks(void **state)
{
    struct pair p;
    pair_init(&p, 1, NULL, NULL);
    struct audio_stream *s = NULL;
    struct audio_stream_cfg c = base_cfg(&p, 0, NULL);
    struct end e = {.mt.send = fake_send, .out = &p.ab};
    assert_int_equal(audio_stream_alloc(&s, NULL, &c), EINVAL);
    c.dtmf_pt = OPUS_PT;
    assert_int_equal(audio_stream_alloc(&s, &e.mt, &c), EINVAL);
    c.dtmf_pt = 200;
    assert_int_equal(audio_stream_alloc(&s, &e.mt, &c), EINVAL);
    c.dtmf_pt = DTMF_PT;
    c.cname = NULL;
    c.log_ctx = NULL;
    c.clock = NULL; /* the real clock */
    assert_int_equal(audio_stream_alloc(&s, &e.mt, &c), 0);
    assert_true(e.mt.recvh != NULL);
    assert_int_equal(audio_stream_last_rx_us(s), 0);
    struct audio_stream_stats st;
    audio_stream_get_stats(s, &st);
    assert_int_equal(st.remote_ssrc, 0);
    /* reading before anything arrived is silence */
    int16_t pcm[FRAME];
    struct audio_frame_info info;
    memset(pcm, 0x55, sizeof(pcm));
    audio_stream_read(s, pcm, &info);
    assert_int_equal(info.kind, AUDIO_FRAME_SILENT);
    assert_int_equal(info.level, 127);
    assert_int_equal(pcm[0], 0);
    assert_int_equal(pcm[FRAME - 1], 0);
    mem_deref(s);
    assert_null(e.mt.recvh); /* the stream uninstalled itself */
    pair_free(&p);
}

/* Runs B's side of a pair for frames [from, to): when skip_at is in that range, B's clock gives
 * up `skip` ticks there (no read, no write) and then tells the stream so; A sends a 1 kHz tone
 * from tone_at on. Returns the first frame in which B plays the tone. */
static unsigned onset_with_skip(struct pair *p, unsigned total, unsigned tone_at, unsigned skip_at,
                                unsigned skip)
{
    int16_t pcm[FRAME], out[FRAME], zero[FRAME] = {0};
    unsigned heard = 0;
    for (unsigned f = 0; f < total; f++) {
        uint64_t t = SIM_START_US + (uint64_t)f * TICK_US;
        pump_until(&p->net, t);
        if (f >= tone_at)
            tone_gen_fill(&p->gen, pcm, FRAME);
        else
            memset(pcm, 0, sizeof(pcm));
        assert_int_equal(audio_stream_write(p->a, pcm), 0);
        audio_stream_read(p->a, zero, NULL);
        if (skip && f >= skip_at && f < skip_at + skip)
            continue; /* B's clock is stalled */
        if (skip && f == skip_at + skip)
            audio_stream_skip(p->b, skip);
        memset(zero, 0, sizeof(zero));
        assert_int_equal(audio_stream_write(p->b, zero), 0);
        audio_stream_read(p->b, out, NULL);
        double e = 0;
        for (unsigned i = 0; i < FRAME; i++)
            e += (double)out[i] * out[i];
        if (!heard && f >= tone_at && e / FRAME > 1e5)
            heard = f;
    }
    return heard;
}

/* A mixer clock that fell behind skips frames: the receive side drops what was due in them
 * instead of playing everything later (the delay stays what it was), and the send side stamps
 * its next packet after them, marked, as RFC 3550's sampling clock has it. */
static void test_clock_skip(void **state)
{
    struct pair ref, p;
    pair_init(&ref, 10, NULL, NULL);
    pair_init(&p, 10, NULL, NULL);
    assert_int_equal(tone_gen_init(&ref.gen, AUDIO_RATE, 1000, -10), 0);
    assert_int_equal(tone_gen_init(&p.gen, AUDIO_RATE, 1000, -10), 0);
    unsigned want = onset_with_skip(&ref, 160, 120, 0, 0);
    unsigned got = onset_with_skip(&p, 160, 120, 60, 8);
    print_message("tone heard %u frames after it started, %u after a skip of 8\n", want - 120,
                  got - 120);
    assert_true(want > 120);
    assert_true(got + 1 >= want && got <= want + 1);
    /* B's packets: one more talk spurt start, and the one after the stall 9 frames on */
    assert_int_equal(p.ba.markers, ref.ba.markers + 1);
    assert_int_equal(p.ba.ts_step_bad, 0);
    assert_int_equal(p.ba.rtp + 8, ref.ba.rtp);
    pair_free(&ref);
    pair_free(&p);
}

int main(void)
{
    log_set_level(LOG_LVL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_path),   cmocka_unit_test(test_loss_fec),
        cmocka_unit_test(test_rtcp_rtt),     cmocka_unit_test(test_rtcp_sr_before_rtp),
        cmocka_unit_test(test_dtmf),         cmocka_unit_test(test_hold),
        cmocka_unit_test(test_ssrc_change),  cmocka_unit_test(test_bye),
        cmocka_unit_test(test_packet_sizes), cmocka_unit_test(test_garbage_and_unknown_pt),
        cmocka_unit_test(test_alloc_checks), cmocka_unit_test(test_clock_skip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
