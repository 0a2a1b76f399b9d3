/*
 * bench_mixer_tick: what one conference room's 20 ms tick costs with N members, in µs per tick
 * and µs per member per tick, with the codec work it did (decodes and encodes per tick) and the
 * memory each member takes. Figures, not a test: run a Release build on a quiet machine.
 *
 * Each member is a real audio stream (Opus 48 kHz, RFC 6464 level extension, in-band FEC) on a
 * transport that only counts what it sends, joined to the room through the same port a WebRTC
 * leg uses. The bench is the network and the clock: before each tick it hands every member's
 * packet for that frame straight to the stream's receive handler (at a fixed phase before the
 * tick, no network jitter), then runs the room's tick itself on a simulated clock and times it
 * with the thread's CPU clock. The room is taken off its mixer's clock thread once everyone
 * has joined, so nothing else ticks it.
 *
 * Talkers (--talkers, 3) send a tone each, pre-encoded; the others send what a silent browser
 * sends (--silent): "level" is a low-level Opus frame every 20 ms with an RFC 6464 level of 127
 * (no voice), "dtx" one 1-byte Opus DTX frame every 400 ms and nothing in between.
 *
 * --latency times what the mixer adds: the members take turns sending 400 ms tone bursts (each
 * member's packets arrive at its own fixed phase before the ticks), and the last member's first
 * mixed packet loud enough to carry a burst (its level extension) is matched to the burst's
 * first packet in: packet in -> mixed packet out, in simulated time.
 *
 * RSS per member is the process's resident growth over the joins and the run, divided by N
 * (streams, codecs, jitter buffers, the room's share; no DTLS or SRTP: the transport is fake).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/clock.h"
#include "conf/conf.h"
#include "media/audio_codec.h"
#include "media/audio_stream.h"
#include "media/tone.h"
#include "rtp/rtp.h"

#define PT       111
#define LEVEL_ID 1
#define TICK     20000u
#define NPAY     50 /* pre-encoded frames per signal, played in a loop */
#define WARMUP   50

struct payloads {
    uint8_t data[NPAY][400];
    size_t len[NPAY];
    uint8_t level[NPAY];
};

struct member {
    struct media_transport mt; /* first: the send callback casts back */
    struct audio_stream *as;
    struct conf_member *cm;
    uint16_t seq;
    uint32_t ts;
    uint64_t sent;
    bool listener; /* latency: its loud packets out are timed */
    uint32_t ssrc;
};

static uint64_t sim_now;
static uint64_t burst_in_us; /* latency: arrival of the burst's first packet, 0 when matched */
static double lat_ms[4096];
static unsigned n_lat;

static uint64_t sim_clock(void *arg)
{
    (void)arg;
    return sim_now;
}

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int bench_send(struct media_transport *t, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
    (void)cap;
    struct member *m = (struct member *)t;
    if (rtcp)
        return 0;
    m->sent++;
    if (m->listener && burst_in_us) {
        struct rtp_hdr h;
        const uint8_t *pl, *ext;
        size_t plen, elen;
        bool voice;
        uint8_t level;
        if (!rtp_decode(&h, pkt, len, &pl, &plen) && h.ext &&
            !rtp_ext_find(&h, LEVEL_ID, &ext, &elen) &&
            !rtp_audio_level_decode(ext, elen, &voice, &level) && level < 70 && n_lat < 4096) {
            lat_ms[n_lat++] = (double)(sim_now - burst_in_us) / 1000.0;
            burst_in_us = 0;
        }
    }
    return 0;
}

static void encode_signal(struct payloads *p, double hz, double dbfs, bool noise)
{
    struct audio_encoder *enc;
    struct audio_encoder_cfg ec = {.bitrate = 32000, .complexity = 5, .fec = true, .loss_pct = 10};
    if (audio_encoder_alloc(&enc, AUDIO_CODEC_OPUS, &ec)) {
        fprintf(stderr, "opus encoder\n");
        exit(1);
    }
    struct tone_gen g;
    if (!noise)
        tone_gen_init(&g, AUDIO_RATE, hz, dbfs);
    uint64_t rng = 88172645463325252ull;
    for (unsigned i = 0; i < NPAY; i++) {
        int16_t pcm[AUDIO_FRAME_SAMPLES];
        if (noise) {
            for (unsigned k = 0; k < AUDIO_FRAME_SAMPLES; k++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                pcm[k] = (int16_t)((int)(rng % 7) - 3); /* about -80 dBov */
            }
        } else {
            tone_gen_fill(&g, pcm, AUDIO_FRAME_SAMPLES);
        }
        bool dtx = false;
        if (audio_encoder_encode(enc, pcm, p->data[i], sizeof(p->data[i]), &p->len[i], &dtx)) {
            fprintf(stderr, "opus encode\n");
            exit(1);
        }
        p->level[i] = noise ? 127 : (uint8_t)lrint(-dbfs + 3.0); /* a sine's RMS is 3 dB down */
    }
    mem_deref(enc);
}

/* Hands m the packet for frame k, arriving at sim time `at`. */
static void deliver(struct member *m, const uint8_t *pl, size_t plen, uint8_t level, bool voice,
                    bool marker, uint64_t at)
{
    uint8_t buf[512], ext[8];
    uint8_t lv = rtp_audio_level_encode(voice, level);
    struct rtp_ext_elem el = {LEVEL_ID, &lv, 1};
    size_t ext_len = 0;
    (void)rtp_ext_build(ext, sizeof(ext), &el, 1, &ext_len);
    struct rtp_hdr h = {.pt = PT,
                        .seq = m->seq++,
                        .ts = m->ts,
                        .ssrc = m->ssrc,
                        .marker = marker,
                        .ext = true,
                        .ext_profile = RTP_EXT_ONE_BYTE,
                        .ext_data = ext,
                        .ext_len = ext_len};
    size_t len = 0;
    if (rtp_encode(buf, sizeof(buf), &h, pl, plen, &len))
        return;
    sim_now = at;
    m->mt.recvh(buf, len, false, m->mt.recv_arg);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct opts {
    unsigned ticks;
    unsigned talkers;
    bool dtx;
    bool latency;
};

static void run(unsigned n, const struct opts *o, struct payloads *tones, struct payloads *quiet)
{
    static const uint8_t dtx_frame[1] = {0xf8}; /* TOC only: a CELT FB 20 ms frame, no data */
    struct conf_mixer *mixer;
    struct conf_room *room;
    if (conf_mixer_alloc(&mixer, 1) || conf_room_alloc(&room, mixer, "bench")) {
        fprintf(stderr, "mixer\n");
        exit(1);
    }
    long rss0 = rss_kib();
    struct member *mv = calloc(n, sizeof(*mv));
    sim_now = 1000000;
    for (unsigned i = 0; i < n; i++) {
        struct member *m = &mv[i];
        m->mt.send = bench_send;
        m->ssrc = 0x1000 + i;
        m->seq = (uint16_t)(i * 7919);
        m->ts = i * 104729u;
        struct audio_stream_cfg c = {
            .codec = AUDIO_CODEC_OPUS,
            .pt = PT,
            .level_ext_id = LEVEL_ID,
            .fec = true,
            .local_ssrc = 0x5000 + i,
            .log_ctx = "bench",
            .complexity = 5,
            .clock = sim_clock,
        };
        struct conf_port port;
        if (audio_stream_alloc(&m->as, &m->mt, &c)) {
            fprintf(stderr, "stream %u\n", i);
            exit(1);
        }
        conf_port_from_audio_stream(&port, m->as);
        if (conf_room_join(room, &port, "m", &m->cm)) {
            fprintf(stderr, "join %u\n", i);
            exit(1);
        }
    }
    mv[n - 1].listener = o->latency;
    mem_deref(mixer); /* stops its clock: from now on only this thread ticks the room */

    uint64_t dec0 = 0, enc0 = 0;
    int64_t busy = 0;
    uint64_t worst = 0;
    n_lat = 0;
    burst_in_us = 0;
    for (unsigned k = 0; k < WARMUP + o->ticks; k++) {
        uint64_t tick_at = 1000000 + (uint64_t)(k + 1) * TICK;
        for (unsigned i = 0; i < n; i++) {
            struct member *m = &mv[i];
            bool talker = i < o->talkers;
            /* Each sender at its own fixed phase before the tick: no network jitter. */
            uint64_t at = tick_at - 500 - (uint64_t)((i * 2654435761u) % 19000u);
            unsigned owner = (k / 60) % (n - 1); /* latency: whose burst this is */
            if (o->latency && i < n - 1) {
                /* 400 ms bursts every 1.2 s, the members taking turns */
                unsigned pos = k % 60;
                if (i == owner && pos < 20) {
                    if (pos == 0 && k >= WARMUP)
                        burst_in_us = at;
                    deliver(m, tones[0].data[k % NPAY], tones[0].len[k % NPAY],
                            tones[0].level[k % NPAY], true, pos == 0, at);
                } else {
                    deliver(m, quiet->data[k % NPAY], quiet->len[k % NPAY], 127, false, k == 0, at);
                }
            } else if (talker && !o->latency) {
                struct payloads *t = &tones[i % 3];
                deliver(m, t->data[k % NPAY], t->len[k % NPAY], t->level[k % NPAY], true, k == 0,
                        at);
            } else if (o->dtx) {
                if (k % 20 == 0)
                    deliver(m, dtx_frame, 1, 127, false, true, at);
            } else {
                deliver(m, quiet->data[k % NPAY], quiet->len[k % NPAY], 127, false, k == 0, at);
            }
            m->ts += AUDIO_FRAME_SAMPLES;
        }
        if (k == WARMUP) {
            for (unsigned i = 0; i < n; i++) {
                struct audio_stream_stats st;
                audio_stream_get_stats(mv[i].as, &st);
                dec0 += st.frames_decoded;
                enc0 += st.frames_encoded;
                mv[i].sent = 0;
            }
        }
        sim_now = tick_at;
        int64_t t0 = cpu_ns();
        conf_room_clock_tick(room, tick_at, 0);
        int64_t dt = cpu_ns() - t0;
        if (k >= WARMUP) {
            busy += dt;
            if ((uint64_t)dt > worst)
                worst = (uint64_t)dt;
        }
    }
    uint64_t dec = 0, enc = 0, sent = 0;
    for (unsigned i = 0; i < n; i++) {
        struct audio_stream_stats st;
        audio_stream_get_stats(mv[i].as, &st);
        dec += st.frames_decoded;
        enc += st.frames_encoded;
        sent += mv[i].sent;
    }
    long rss1 = rss_kib();
    double us = (double)busy / 1000.0 / o->ticks;
    if (o->latency) {
        qsort(lat_ms, n_lat, sizeof(lat_ms[0]), cmp_double);
        double p50 = n_lat ? lat_ms[n_lat / 2] : NAN;
        double p99 =
            n_lat ? lat_ms[(n_lat * 99) / 100 < n_lat ? (n_lat * 99) / 100 : n_lat - 1] : NAN;
        printf("%5u  latency in->out: %u bursts  p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", n, n_lat,
               p50, p99, n_lat ? lat_ms[n_lat - 1] : NAN);
    } else {
        printf("%5u %10.1f %10.2f %10.1f %9.1f %9.1f %9.1f %10.1f\n", n, us, us / n,
               (double)worst / 1000.0, (double)(dec - dec0) / o->ticks,
               (double)(enc - enc0) / o->ticks, (double)sent / o->ticks, (double)(rss1 - rss0) / n);
    }
    fflush(stdout);

    for (unsigned i = 0; i < n; i++)
        conf_member_leave(mv[i].cm);
    for (unsigned i = 0; i < n; i++)
        mem_deref(mv[i].as);
    free(mv);
    mem_deref(room);
}

int main(int argc, char **argv)
{
    struct opts o = {.ticks = 250, .talkers = 3};
    const char *ns = "10,50,100,200,500,1000";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            ns = argv[++i];
        else if (!strcmp(argv[i], "--ticks") && i + 1 < argc)
            o.ticks = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--talkers") && i + 1 < argc)
            o.talkers = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--silent") && i + 1 < argc)
            o.dtx = !strcmp(argv[++i], "dtx");
        else if (!strcmp(argv[i], "--latency"))
            o.latency = true;
        else {
            fprintf(stderr,
                    "usage: %s [--n 10,50,...] [--ticks T] [--talkers K] [--silent level|dtx] "
                    "[--latency]\n",
                    argv[0]);
            return 2;
        }
    }
    if (o.ticks == 0)
        o.ticks = 1;
    log_set_level(LOG_LVL_WARN);

    static struct payloads tones[3], quiet;
    encode_signal(&tones[0], 440, -20, false);
    encode_signal(&tones[1], 660, -20, false);
    encode_signal(&tones[2], 880, -20, false);
    encode_signal(&quiet, 0, 0, true);

    if (!o.latency)
        printf("%5s %10s %10s %10s %9s %9s %9s %10s\n", "N", "us/tick", "us/member", "max us",
               "dec/tick", "enc/tick", "pkts/tick", "RSS KiB/m");
    for (const char *p = ns; *p;) {
        char *end;
        unsigned long n = strtoul(p, &end, 10);
        if (end == p)
            break;
        if (n >= 2 && n <= 100000)
            run((unsigned)n, &o, tones, &quiet);
        p = *end ? end + 1 : end;
    }
    return 0;
}
