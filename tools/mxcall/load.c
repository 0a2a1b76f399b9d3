/*
 * mxload: N participants in one conference, on switchboard or Janus AudioBridge, measured.
 *
 *   mxload --system switchboard --participants FILE [common options]
 *   mxload --system janus --janus URL [--janus-room ID] --n N [common options]
 *
 * FILE (switchboard): {"homeserver": URL, "room": "!r:hs", "bot": "@bot:hs",
 *   "observer": {"user": "@o:hs", "token": "..."}, "users": [{"user": ..., "token": ...}, ...]}
 * where every user has joined the room already; the observer's /sync carries the bot's answers.
 *
 * Set-up runs a bounded number of joins at once; once every participant connected (or failed,
 * or the set-up timeout passed), a settle time, then the measurement window. The result is one
 * JSON line on stdout ("event": "result"): on-time share of mix packets, onset latency at the
 * sampled listeners, what each sampled listener heard, the server's CPU and RSS over the window
 * (--server-pid) and our own CPU, apart. Progress goes to stdout as "event" lines too.
 *
 * The send clock is one thread on CLOCK_MONOTONIC with absolute sleeps: tick k sends every
 * connected leg's packet k, so the legs' timestamps all follow one clock and a late wake-up
 * delays packets without dropping them.
 */
#include <errno.h>
#include <pthread.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>
#include <jansson.h>

#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "media/audio_codec.h"
#include "media/audio_level.h"
#include "media/dtls.h"
#include "media/opus_codec.h"
#include "media/tone.h"
#include "tools/mxcall/janus.h"
#include "tools/mxcall/load.h"
#include "tools/mxcall/load_int.h"
#include "tools/mxcall/load_matrix.h"

struct payload {
    uint8_t data[OPUS_CODEC_MAX_PACKET];
    size_t len;
    uint8_t level;
    bool voice;
};

static struct payload talker_frames[LOAD_MAX_TALKERS][LOAD_PERIOD_FRAMES];
static struct payload silent_frame;

/* The run, for the handlers below. */
struct run {
    struct load ld;
    const char *system;
    int server_pid;
    unsigned next, inflight, done;
    bool ready, windowing, finished;
    int64_t t0_us, setup_done_us;
    guint timer, progress;
    GThread *clock;
    atomic_bool clock_stop;
    pthread_t clock_self;
    atomic_bool clock_started;
    _Atomic uint64_t tx_window; /* packets the clock sent in the window's ticks */
    /* CPU and RSS at the window's start */
    uint64_t self_ticks0, server_ticks0;
    int64_t clock_ns0, rx_ns0;
    struct load_rx_stats rx0;
    int64_t win_t0;
    int exit_code;
};

static struct run R;

static void emit(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static double now_s(void)
{
    return (double)(g_get_monotonic_time() - R.t0_us) / 1e6;
}

/* ---- payloads ---- */

unsigned load_burst_start(unsigned talker)
{
    unsigned n = R.ld.cfg.talkers > 1 ? R.ld.cfg.talkers - 1 : 1;
    return 5 + talker * (LOAD_PERIOD_FRAMES - LOAD_BURST_FRAMES - 10) / n;
}

const uint8_t *load_payload(const struct load *ld, int talker, uint64_t tick, size_t *len,
                            uint8_t *level, bool *voice)
{
    (void)ld;
    const struct payload *p =
        talker < 0 ? &silent_frame : &talker_frames[talker][tick % LOAD_PERIOD_FRAMES];
    *len = p->len;
    *level = p->level;
    *voice = p->voice;
    return p->data;
}

static int encode_frame(struct opus_codec_enc *e, const int16_t *pcm, struct payload *p)
{
    bool dtx = false;
    int err =
        opus_codec_encode(e, pcm, AUDIO_FRAME_SAMPLES, p->data, sizeof(p->data), &p->len, &dtx);
    p->level = audio_level_dbov(pcm, AUDIO_FRAME_SAMPLES);
    p->voice = audio_level_is_voice(p->level);
    return err;
}

/* Each talker's loop encoded twice, the second pass kept: the encoder's state at the loop's end
 * is what it would be at its start, so the loop plays without a seam. */
static int prepare_payloads(struct load *ld)
{
    struct opus_codec_enc_cfg ec = {.bitrate = 32000, .complexity = (uint8_t)ld->cfg.complexity};
    int16_t pcm[AUDIO_FRAME_SAMPLES];
    for (unsigned t = 0; t < ld->cfg.talkers; t++) {
        struct opus_codec_enc *e;
        int err = opus_codec_enc_alloc(&e, &ec);
        if (err)
            return err;
        struct tone_gen g;
        ld->talker_hz[t] = 600.0 + 400.0 * t; /* exact bins of a 5 ms block: no leakage */
        tone_gen_init(&g, AUDIO_RATE, ld->talker_hz[t], -20.0);
        unsigned b0 = load_burst_start(t);
        for (unsigned pass = 0; pass < 2 && !err; pass++) {
            for (unsigned f = 0; f < LOAD_PERIOD_FRAMES && !err; f++) {
                if (f >= b0 && f < b0 + LOAD_BURST_FRAMES)
                    tone_gen_fill(&g, pcm, AUDIO_FRAME_SAMPLES);
                else
                    memset(pcm, 0, sizeof(pcm));
                err = encode_frame(e, pcm, &talker_frames[t][f]);
            }
        }
        mem_deref(e);
        if (err)
            return err;
    }
    struct opus_codec_enc *e;
    int err = opus_codec_enc_alloc(&e, &ec);
    memset(pcm, 0, sizeof(pcm));
    for (unsigned i = 0; i < 10 && !err; i++)
        err = encode_frame(e, pcm, &silent_frame);
    mem_deref(e);
    return err;
}

/* ---- the send clock ---- */

static gpointer clock_main(gpointer data)
{
    struct load *ld = data;
    struct timespec next;
    R.clock_self = pthread_self();
    atomic_store(&R.clock_started, true);
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (uint64_t tick = 0; !atomic_load(&R.clock_stop); tick++) {
        unsigned frame = (unsigned)(tick % LOAD_PERIOD_FRAMES);
        /* packets of the ticks that start inside the window: the send side's per-packet cost */
        int64_t t = g_get_monotonic_time(), ws = atomic_load(&ld->win_start_us);
        bool in_win = ws && t >= ws && t < atomic_load(&ld->win_end_us);
        uint64_t sent = 0;
        for (unsigned i = 0; i < ld->cfg.n; i++) {
            struct load_leg *leg = atomic_load_explicit(&ld->legs[i], memory_order_acquire);
            if (!leg)
                continue;
            if (i < ld->cfg.talkers && frame == load_burst_start(i) && load_leg_connected(leg)) {
                unsigned k = atomic_load(&ld->nonsets[i]);
                if (k < LOAD_MAX_ONSETS) {
                    ld->onset_us[i][k] = g_get_monotonic_time();
                    atomic_store(&ld->nonsets[i], k + 1);
                }
            }
            sent += load_leg_send(leg, tick);
        }
        if (in_win)
            atomic_fetch_add_explicit(&R.tx_window, sent, memory_order_relaxed);
        next.tv_nsec += 20 * 1000 * 1000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
    }
    return NULL;
}

/* ---- /proc ---- */

static uint64_t cpu_ticks(const char *stat_path)
{
    char buf[1024];
    FILE *f = fopen(stat_path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return ut + st;
}

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kib;
}

/* The send clock's CPU time so far (ns). */
static int64_t clock_cpu_ns(void)
{
    clockid_t cid;
    struct timespec ts;
    if (!atomic_load(&R.clock_started) || pthread_getcpuclockid(R.clock_self, &cid) ||
        clock_gettime(cid, &ts))
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t server_ticks(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", R.server_pid);
    return R.server_pid > 0 ? cpu_ticks(path) : 0;
}

/* ---- results ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(GArray *a, double p)
{
    if (!a->len)
        return -1;
    size_t i = (size_t)floor((a->len - 1) * p + 0.5);
    return (double)g_array_index(a, int64_t, i) / 1000.0;
}

static gboolean after_leave(gpointer data);

static void report(void)
{
    struct load *ld = &R.ld;
    double wall = (double)(g_get_monotonic_time() - R.win_t0) / 1e6;
    double hz = (double)sysconf(_SC_CLK_TCK);
    double self_cpu = (double)(cpu_ticks("/proc/self/stat") - R.self_ticks0) / hz / wall * 100;
    double srv_cpu =
        R.server_pid > 0 ? (double)(server_ticks() - R.server_ticks0) / hz / wall * 100 : -1;
    long srv_rss = R.server_pid > 0 ? rss_kib(R.server_pid) : -1;
    /* Our own cost, apart: the send clock (RTP, SRTP protect, send per packet) and the receive
     * threads (epoll, recvmmsg, timing; sampled listeners unprotect and decode). */
    double send_ns = (double)(clock_cpu_ns() - R.clock_ns0);
    double recv_ns = (double)(load_rx_cpu_ns(ld->rx) - R.rx_ns0);
    struct load_rx_stats rs;
    load_rx_stats(ld->rx, &rs);
    uint64_t rx_all = rs.packets - R.rx0.packets, rx_calls = rs.syscalls - R.rx0.syscalls;
    uint64_t rx_wakes = rs.wakeups - R.rx0.wakeups;
    uint64_t tx_win = atomic_load(&R.tx_window);

    GArray *lat = g_array_new(FALSE, FALSE, sizeof(int64_t));
    uint64_t on_time = 0, expected = 0, rx = 0, tx = 0, tx_failed = 0, rx_bad = 0;
    double worst = 100.0;
    bool correct = true;
    json_t *sampled = json_array();
    for (unsigned i = 0; i < ld->cfg.n; i++) {
        struct load_leg *leg = atomic_load(&ld->legs[i]);
        struct load_leg_result r;
        uint64_t exp = (uint64_t)(ld->cfg.seconds * 50 + 0.5);
        if (!leg) {
            expected += exp;
            worst = 0;
            continue;
        }
        load_leg_result(leg, &r, lat);
        on_time += r.on_time;
        expected += r.expected;
        rx += r.rx_packets;
        tx += r.tx_packets;
        tx_failed += r.tx_failed;
        rx_bad += r.rx_bad;
        double p = r.expected ? 100.0 * (double)r.on_time / (double)r.expected : 0;
        if (p < worst)
            worst = p;
        if (!r.sampled)
            continue;
        json_t *heard = json_array(), *levels = json_array();
        for (unsigned t = 0; t < ld->cfg.talkers; t++) {
            json_array_append_new(heard, json_integer(r.heard[t]));
            json_array_append_new(levels, json_real(round(r.level_db[t] * 10) / 10));
            /* every other talker heard (a burst at least), never itself */
            bool self = (int)t == r.talker;
            if (self ? r.heard[t] > 0 : r.heard[t] == 0)
                correct = false;
        }
        json_array_append_new(sampled,
                              json_pack("{s:i, s:i, s:o, s:o}", "index", (int)i, "talker", r.talker,
                                        "onsets_heard", heard, "level_db", levels));
    }
    g_array_sort(lat, cmp_i64);
    json_t *res = json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:b, s:I, s:I, s:f, s:I, "
        "s:f, s:f}",
        "event", "result", "system", R.system, "n", (int)ld->cfg.n, "connected", (int)ld->connected,
        "failed", (int)ld->failed, "window_s", wall, "on_time_pct",
        expected ? 100.0 * (double)on_time / (double)expected : 0.0, "worst_on_time_pct", worst,
        "latency_p50_ms", pct_ms(lat, 0.5), "latency_p99_ms", pct_ms(lat, 0.99), "latency_max_ms",
        pct_ms(lat, 1.0), "latency_samples", (int)lat->len, "heard_correct", correct, "rx_packets",
        (json_int_t)rx, "tx_packets", (json_int_t)tx, "server_cpu_pct", srv_cpu, "server_rss_kib",
        (json_int_t)srv_rss, "load_cpu_pct", self_cpu, "setup_s",
        (double)(R.setup_done_us - R.t0_us) / 1e6);
    json_object_set_new(res, "sampled", sampled);
    json_t *lc = json_pack(
        "{s:I, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I}", "tx_window", (json_int_t)tx_win,
        "send_cpu_pct", send_ns / 1e7 / wall, "recv_cpu_pct", recv_ns / 1e7 / wall, "us_per_tx",
        tx_win ? send_ns / 1e3 / (double)tx_win : 0.0, "us_per_rx",
        rx_all ? recv_ns / 1e3 / (double)rx_all : 0.0, "rx_datagrams", (json_int_t)rx_all,
        "rx_syscalls", (json_int_t)rx_calls, "rx_wakeups", (json_int_t)rx_wakes, "tx_failed",
        (json_int_t)tx_failed, "rx_unauthentic", (json_int_t)rx_bad);
    json_object_set_new(res, "load", lc);
    json_t *all = json_array();
    for (guint i = 0; i < lat->len && i < 400; i++)
        json_array_append_new(all, json_integer(g_array_index(lat, int64_t, i) / 1000));
    json_object_set_new(res, "latencies_ms", all);
    json_t *freqs = json_array();
    for (unsigned t = 0; t < ld->cfg.talkers; t++)
        json_array_append_new(freqs, json_real(ld->talker_hz[t]));
    json_object_set_new(res, "talker_hz", freqs);
    emit(res);
    g_array_free(lat, TRUE);
}

static gboolean window_end(gpointer data)
{
    (void)data;
    R.timer = 0;
    report();
    R.finished = true;
    atomic_store(&R.clock_stop, true);
    g_thread_join(R.clock);
    R.clock = NULL;
    if (R.ld.drv.leave_all)
        R.ld.drv.leave_all(R.ld.drv.obj);
    R.timer = g_timeout_add(100, after_leave, NULL);
    return G_SOURCE_REMOVE;
}

static gboolean after_leave(gpointer data)
{
    static int rounds;
    (void)data;
    unsigned pending = R.ld.drv.pending ? R.ld.drv.pending(R.ld.drv.obj) : 0;
    if (pending && ++rounds < 100)
        return G_SOURCE_CONTINUE;
    R.timer = 0;
    g_main_loop_quit(R.ld.loop);
    return G_SOURCE_REMOVE;
}

static gboolean window_start(gpointer data)
{
    (void)data;
    R.timer = 0;
    struct load *ld = &R.ld;
    R.win_t0 = g_get_monotonic_time();
    R.self_ticks0 = cpu_ticks("/proc/self/stat");
    R.server_ticks0 = server_ticks();
    R.clock_ns0 = clock_cpu_ns();
    R.rx_ns0 = load_rx_cpu_ns(ld->rx);
    load_rx_stats(ld->rx, &R.rx0);
    atomic_store(&ld->win_end_us, R.win_t0 + (int64_t)(ld->cfg.seconds * 1e6));
    atomic_store(&ld->win_start_us, R.win_t0);
    emit(json_pack("{s:s, s:f, s:f}", "event", "window", "t_s", now_s(), "seconds",
                   ld->cfg.seconds));
    R.timer = g_timeout_add((guint)(ld->cfg.seconds * 1000) + 100, window_end, NULL);
    return G_SOURCE_REMOVE;
}

static void setup_over(void)
{
    if (R.windowing)
        return;
    R.windowing = true;
    R.setup_done_us = g_get_monotonic_time();
    if (R.timer)
        g_source_remove(R.timer);
    emit(json_pack("{s:s, s:f, s:i, s:i}", "event", "setup_done", "t_s", now_s(), "connected",
                   (int)R.ld.connected, "failed", (int)R.ld.failed));
    if (!R.ld.connected) {
        R.exit_code = 1;
        R.timer = 0;
        g_main_loop_quit(R.ld.loop);
        return;
    }
    R.timer = g_timeout_add((guint)(R.ld.cfg.settle_s * 1000), window_start, NULL);
}

static void start_joins(void)
{
    while (R.ready && !R.windowing && R.next < R.ld.cfg.n && R.inflight < R.ld.cfg.parallel) {
        R.inflight++;
        R.ld.drv.join(R.ld.drv.obj, R.next++);
    }
}

void load_driver_ready(struct load *ld)
{
    (void)ld;
    R.ready = true;
    emit(json_pack("{s:s, s:f}", "event", "ready", "t_s", now_s()));
    start_joins();
}

void load_driver_failed(struct load *ld, const char *why)
{
    fprintf(stderr, "mxload: %s\n", why);
    R.exit_code = 1;
    g_main_loop_quit(ld->loop);
}

void load_leg_done(struct load *ld, unsigned index, struct load_leg *leg, bool connected,
                   const char *why)
{
    if (index >= ld->cfg.n)
        return;
    if (connected && leg && !R.windowing) {
        atomic_store_explicit(&ld->legs[index], mem_ref(leg), memory_order_release);
        ld->connected++;
    } else {
        ld->failed++;
        if (ld->failed <= 10)
            fprintf(stderr, "mxload: participant %u failed: %s\n", index, why ? why : "?");
    }
    R.inflight--;
    R.done++;
    if (R.done == ld->cfg.n)
        setup_over();
    else
        start_joins();
}

static gboolean progress(gpointer data)
{
    (void)data;
    if (R.windowing) {
        R.progress = 0;
        return G_SOURCE_REMOVE;
    }
    emit(json_pack("{s:s, s:f, s:i, s:i, s:i}", "event", "progress", "t_s", now_s(), "connected",
                   (int)R.ld.connected, "failed", (int)R.ld.failed, "inflight", (int)R.inflight));
    return G_SOURCE_CONTINUE;
}

static gboolean setup_timeout(gpointer data)
{
    (void)data;
    R.timer = 0;
    fprintf(stderr, "mxload: set-up not finished after %.0f s: %u connected, %u failed\n",
            R.ld.cfg.timeout_s, R.ld.connected, R.ld.failed);
    setup_over();
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data)
{
    (void)data;
    R.exit_code = 1;
    g_main_loop_quit(R.ld.loop);
    return G_SOURCE_CONTINUE;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxload --system switchboard --participants FILE [options]\n"
            "       mxload --system janus --janus URL [--janus-room ID] --n N [options]\n"
            "options:\n"
            "  --n N              participants (switchboard: at most the file's users)\n"
            "  --talkers K        the first K talk, in tone bursts (default 3, at most %d)\n"
            "  --sampled S        silent listeners that decode and check too (default 2)\n"
            "  --settle S         after set-up, before the window (default 3)\n"
            "  --seconds S        measurement window (default 20)\n"
            "  --timeout S        set-up deadline (default 120)\n"
            "  --complexity C     Opus complexity (default 5)\n"
            "  --parallel P       set-ups in flight at once (default 32)\n"
            "  --media-ip IP      host candidate address (default 127.0.0.1)\n"
            "  --ports MIN-MAX    media port range (default 0-0: any)\n"
            "  --server-pid PID   read the server's CPU and RSS over the window\n"
            "  --workers W        receive threads, legs spread over them (default 1, at most 16)\n"
            "  --log-level LEVEL  error|warn|info|debug (default error)\n",
            LOAD_MAX_TALKERS);
}

int main(int argc, char **argv)
{
    enum {
        O_SYSTEM = 256,
        O_PARTIES,
        O_JANUS,
        O_JROOM,
        O_N,
        O_TALKERS,
        O_SAMPLED,
        O_SETTLE,
        O_SECONDS,
        O_TIMEOUT,
        O_COMPLEXITY,
        O_PARALLEL,
        O_IP,
        O_PORTS,
        O_PID,
        O_WORKERS,
        O_LOG,
        O_HELP,
    };
    static const struct option opts[] = {
        {"system", required_argument, 0, O_SYSTEM},
        {"participants", required_argument, 0, O_PARTIES},
        {"janus", required_argument, 0, O_JANUS},
        {"janus-room", required_argument, 0, O_JROOM},
        {"n", required_argument, 0, O_N},
        {"talkers", required_argument, 0, O_TALKERS},
        {"sampled", required_argument, 0, O_SAMPLED},
        {"settle", required_argument, 0, O_SETTLE},
        {"seconds", required_argument, 0, O_SECONDS},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"complexity", required_argument, 0, O_COMPLEXITY},
        {"parallel", required_argument, 0, O_PARALLEL},
        {"media-ip", required_argument, 0, O_IP},
        {"ports", required_argument, 0, O_PORTS},
        {"server-pid", required_argument, 0, O_PID},
        {"workers", required_argument, 0, O_WORKERS},
        {"log-level", required_argument, 0, O_LOG},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    struct load *ld = &R.ld;
    ld->cfg = (struct load_cfg){
        .talkers = 3,
        .sampled = 2,
        .settle_s = 3,
        .seconds = 20,
        .timeout_s = 120,
        .complexity = 5,
        .media_ip = "127.0.0.1",
        .parallel = 32,
    };
    const char *parties = NULL, *janus_url = NULL;
    uint64_t janus_room = 0;
    unsigned port_min = 0, port_max = 0, workers = 0;
    enum log_level level = LOG_LVL_ERROR;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_SYSTEM:
            R.system = optarg;
            break;
        case O_PARTIES:
            parties = optarg;
            break;
        case O_JANUS:
            janus_url = optarg;
            break;
        case O_JROOM:
            janus_room = g_ascii_strtoull(optarg, NULL, 10);
            break;
        case O_N:
            ld->cfg.n = (unsigned)atoi(optarg);
            break;
        case O_TALKERS:
            ld->cfg.talkers = (unsigned)atoi(optarg);
            break;
        case O_SAMPLED:
            ld->cfg.sampled = (unsigned)atoi(optarg);
            break;
        case O_SETTLE:
            ld->cfg.settle_s = atof(optarg);
            break;
        case O_SECONDS:
            ld->cfg.seconds = atof(optarg);
            break;
        case O_TIMEOUT:
            ld->cfg.timeout_s = atof(optarg);
            break;
        case O_COMPLEXITY:
            ld->cfg.complexity = atoi(optarg);
            break;
        case O_PARALLEL:
            ld->cfg.parallel = (unsigned)atoi(optarg);
            break;
        case O_IP:
            ld->cfg.media_ip = optarg;
            break;
        case O_PORTS:
            if (sscanf(optarg, "%u-%u", &port_min, &port_max) != 2 || port_min > port_max ||
                port_max > 65535) {
                fprintf(stderr, "bad --ports %s\n", optarg);
                return 2;
            }
            break;
        case O_PID:
            R.server_pid = atoi(optarg);
            break;
        case O_WORKERS:
            workers = (unsigned)atoi(optarg);
            break;
        case O_LOG:
            if (log_level_parse(optarg, &level)) {
                fprintf(stderr, "bad --log-level %s\n", optarg);
                return 2;
            }
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    bool sb = R.system && strcmp(R.system, "switchboard") == 0;
    bool janus = R.system && strcmp(R.system, "janus") == 0;
    if (optind != argc || (!sb && !janus) || (sb && !parties) || (janus && !janus_url) ||
        ld->cfg.talkers > LOAD_MAX_TALKERS || ld->cfg.seconds <= 0 || ld->cfg.parallel == 0 ||
        ld->cfg.complexity < 0 || ld->cfg.complexity > 10) {
        usage(stderr);
        return 2;
    }
    ld->cfg.port_min = (uint16_t)port_min;
    ld->cfg.port_max = (uint16_t)port_max;
    log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    R.t0_us = g_get_monotonic_time();

    /* One receive thread keeps up with a thousand legs (epoll hands it only the ready
     * sockets); more only help when the load generator has more than one core. */
    if (!workers)
        workers = 1;
    int err = dtls_identity_alloc(&ld->identity);
    if (!err)
        err = load_rx_alloc(&ld->rx, MIN(workers, 16));
    if (!err)
        err = http_client_alloc(&ld->http, NULL);
    if (err) {
        fprintf(stderr, "mxload: cannot start: %s\n", strerror(err));
        return 1;
    }
    ld->loop = g_main_loop_new(NULL, FALSE);
    struct load_matrix *lm = NULL;
    struct janus_load *jl = NULL;
    if (sb) {
        err = load_matrix_alloc(&lm, ld, parties); /* sets cfg.n when it was 0 or too large */
    } else {
        if (!ld->cfg.n) {
            fprintf(stderr, "mxload: --n is required with janus\n");
            return 2;
        }
        err = janus_load_alloc(&jl, ld, janus_url, janus_room);
    }
    if (!err && ld->cfg.talkers > ld->cfg.n)
        ld->cfg.talkers = ld->cfg.n;
    if (!err)
        err = prepare_payloads(ld);
    if (err) {
        fprintf(stderr, "mxload: cannot start: %s\n", strerror(err));
        return 1;
    }
    ld->legs = g_new0(_Atomic(struct load_leg *), ld->cfg.n);
    R.clock = g_thread_new("mxload-clock", clock_main, ld);
    R.timer = g_timeout_add((guint)(ld->cfg.timeout_s * 1000), setup_timeout, NULL);
    R.progress = g_timeout_add(2000, progress, NULL);
    guint s1 = g_unix_signal_add(SIGTERM, on_signal, NULL);
    guint s2 = g_unix_signal_add(SIGINT, on_signal, NULL);
    if (sb)
        err = load_matrix_start(lm);
    else
        err = janus_load_start(jl);
    if (!err)
        g_main_loop_run(ld->loop);
    else
        R.exit_code = 1;

    if (R.clock) {
        atomic_store(&R.clock_stop, true);
        g_thread_join(R.clock);
    }
    if (R.timer)
        g_source_remove(R.timer);
    if (R.progress)
        g_source_remove(R.progress);
    g_source_remove(s1);
    g_source_remove(s2);
    load_rx_stop(ld->rx);
    for (unsigned i = 0; i < ld->cfg.n; i++) {
        struct load_leg *leg = atomic_load(&ld->legs[i]);
        if (leg) {
            load_leg_close(leg);
            mem_deref(leg);
        }
    }
    mem_deref(lm);
    mem_deref(jl);
    g_free(ld->legs);
    mem_deref(ld->http);
    mem_deref(ld->rx);
    mem_deref(ld->identity);
    g_main_loop_unref(ld->loop);
    return R.exit_code;
}
