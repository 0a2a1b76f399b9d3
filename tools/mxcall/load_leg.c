/*
 * One participant of mxload: a WebRTC transport (ICE + DTLS-SRTP, media/webrtc_transport.h)
 * under an offer of Opus only, with none of an audio stream's work on top. The clock thread
 * sends prepared payloads through it (load_leg_send); what arrives is timed, not decoded,
 * except at sampled listeners, which decode it and detect the talkers' tone onsets in 5 ms
 * blocks (the talkers' tones sit on exact bins of a 5 ms block, so they do not leak into each
 * other's bins).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/dtls.h"
#include "media/opus_codec.h"
#include "media/sdp.h"
#include "media/sdp_offer_answer.h"
#include "media/webrtc_transport.h"
#include "media/worker.h"
#include "rtp/rtp.h"
#include "tools/mxcall/load.h"

#define MAX_LOCAL_CANDS 16
#define BLOCK           240 /* 5 ms at 48 kHz */
#define ON_DB           -35.0
#define OFF_DB          -50.0
#define ON_BLOCKS       3 /* an onset is a tone held 15 ms: a click's splatter is shorter */

struct arrival {
    int64_t us;
    uint32_t ts;
};

struct onset {
    int64_t us;
    uint8_t talker;
};

struct load_leg {
    struct load *ld;
    unsigned index;
    int talker;
    bool sampled;
    struct load_leg_handlers h;
    void *arg;
    struct webrtc_transport *tp;
    struct media_transport *mt;
    char *cands[MAX_LOCAL_CANDS];
    size_t ncands;
    bool gathered, closed, failed_once;
    uint64_t sess_id;
    uint32_t ssrc;
    char cname[17], stream[17], track[17];
    atomic_bool connected;

    /* send side: clock thread */
    uint8_t pt, level_id;
    uint16_t seq;
    uint32_t ts0;
    bool marked;
    uint64_t tx;

    /* receive side: worker thread */
    struct arrival *arr;
    size_t narr, cap;
    uint64_t rx;
    struct opus_codec_dec *dec;
    bool on[LOAD_MAX_TALKERS];
    unsigned run[LOAD_MAX_TALKERS];   /* blocks in a row above ON_DB */
    int64_t run_us[LOAD_MAX_TALKERS]; /* when that run began */
    double power[LOAD_MAX_TALKERS];   /* sum of block powers in the window */
    uint64_t blocks;
    struct onset onsets[LOAD_MAX_ONSETS];
    unsigned nonsets;
};

static const struct sdp_codec opus_only[] = {
    {"opus", 48000, 2, 111, "minptime=10;useinbandfec=1", NULL},
};

static void random_token(char *buf, size_t len)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (size_t i = 0; i + 1 < len; i++)
        buf[i] = alphabet[g_random_int_range(0, (gint32)sizeof(alphabet) - 1)];
    buf[len - 1] = '\0';
}

static void local_desc(struct load_leg *leg, struct sdp_local *l)
{
    memset(l, 0, sizeof(*l));
    l->profile = SDP_PROFILE_WEBRTC;
    l->sess_id = leg->sess_id;
    l->sess_version = 1;
    webrtc_transport_local_credentials(leg->tp, &l->ice_ufrag, &l->ice_pwd);
    l->fp_alg = "sha-256";
    l->fingerprint = dtls_identity_fingerprint(leg->ld->identity);
    l->candidates = (const char *const *)leg->cands;
    l->ncandidates = leg->ncands;
    l->candidates_done = leg->gathered;
    l->ssrc = leg->ssrc;
    l->cname = leg->cname;
    l->msid_stream = leg->stream;
    l->msid_track = leg->track;
    l->dir = SDP_DIR_SENDRECV;
    l->codecs = opus_only;
    l->ncodecs = G_N_ELEMENTS(opus_only);
}

/* ---- receive (worker thread) ---- */

/* Goertzel power of one 5 ms block at f, as dBFS of a sine's peak. */
static double block_db(const int16_t *x, double f)
{
    double w = 2.0 * M_PI * f / 48000.0, coeff = 2.0 * cos(w);
    double s1 = 0, s2 = 0;
    for (unsigned i = 0; i < BLOCK; i++) {
        double s = x[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    double p = s1 * s1 + s2 * s2 - coeff * s1 * s2; /* |X|^2 */
    double amp = 2.0 * sqrt(p > 0 ? p : 0) / BLOCK;
    return amp > 0 ? 20.0 * log10(amp / 32768.0) : -200.0;
}

static void analyse(struct load_leg *leg, const uint8_t *payload, size_t len, int64_t now,
                    int64_t start)
{
    int16_t pcm[OPUS_CODEC_MAX_SAMPLES];
    size_t n = 0;
    if (opus_codec_decode(leg->dec, payload, len, pcm, OPUS_CODEC_MAX_SAMPLES, &n))
        return;
    struct load *ld = leg->ld;
    for (size_t b = 0; b + BLOCK <= n; b += BLOCK) {
        for (unsigned t = 0; t < ld->cfg.talkers; t++) {
            double db = block_db(pcm + b, ld->talker_hz[t]);
            leg->power[t] += pow(10.0, db / 10.0);
            if (db > ON_DB) {
                if (!leg->run[t]++)
                    leg->run_us[t] = now + (int64_t)(b * 1000000 / 48000);
                if (!leg->on[t] && leg->run[t] >= ON_BLOCKS) {
                    leg->on[t] = true;
                    /* a tone already on when the window opened is no onset */
                    if (leg->nonsets < LOAD_MAX_ONSETS && leg->run_us[t] >= start + 500000)
                        leg->onsets[leg->nonsets++] = (struct onset){leg->run_us[t], (uint8_t)t};
                }
            } else {
                leg->run[t] = 0;
                if (db < OFF_DB)
                    leg->on[t] = false;
            }
        }
        leg->blocks++;
    }
}

static void on_rx(const uint8_t *pkt, size_t len, bool rtcp, void *arg)
{
    struct load_leg *leg = arg;
    if (rtcp)
        return;
    struct rtp_hdr h;
    const uint8_t *payload;
    size_t plen;
    if (rtp_decode(&h, pkt, len, &payload, &plen))
        return;
    int64_t now = g_get_monotonic_time();
    int64_t start = atomic_load(&leg->ld->win_start_us), end = atomic_load(&leg->ld->win_end_us);
    if (!start || now < start || now >= end)
        return;
    leg->rx++;
    if (leg->narr < leg->cap)
        leg->arr[leg->narr++] = (struct arrival){now, h.ts};
    if (leg->dec && plen)
        analyse(leg, payload, plen, now, start);
}

/* ---- transport events (owner's thread) ---- */

static void on_local_candidate(const char *candidate, void *arg)
{
    struct load_leg *leg = arg;
    if (leg->ncands < MAX_LOCAL_CANDS && !leg->gathered)
        leg->cands[leg->ncands++] = g_strdup(candidate);
    else if (leg->h.candidate)
        leg->h.candidate(leg, candidate, leg->arg);
}

static void on_gathering_done(void *arg)
{
    struct load_leg *leg = arg;
    if (leg->gathered)
        return;
    leg->gathered = true;
    struct sdp_local l;
    local_desc(leg, &l);
    char *sdp = NULL;
    int err = sdp_offer_create(&l, &sdp);
    if (err) {
        leg->failed_once = true;
        leg->h.state(leg, false, "cannot write our offer", leg->arg);
        return;
    }
    leg->h.ready(leg, sdp, leg->arg);
    mem_deref(sdp);
}

static void on_connected(void *arg)
{
    struct load_leg *leg = arg;
    atomic_store(&leg->connected, true);
    leg->h.state(leg, true, NULL, leg->arg);
}

static void on_failed(enum webrtc_failure why, const char *detail, void *arg)
{
    struct load_leg *leg = arg;
    bool was = atomic_exchange(&leg->connected, false);
    (void)why;
    if (leg->failed_once)
        return;
    leg->failed_once = true;
    leg->h.state(leg, false, detail ? detail : (was ? "media lost" : "failed"), leg->arg);
}

static const struct webrtc_transport_handlers tp_handlers = {
    .local_candidate = on_local_candidate,
    .gathering_done = on_gathering_done,
    .connected = on_connected,
    .failed = on_failed,
};

/* ---- API ---- */

static void leg_destroy(void *data)
{
    struct load_leg *leg = data;
    load_leg_close(leg);
    mem_deref(leg->tp);
    mem_deref(leg->dec);
    for (size_t i = 0; i < leg->ncands; i++)
        g_free(leg->cands[i]);
    g_free(leg->arr);
}

void load_leg_close(struct load_leg *leg)
{
    if (leg->closed)
        return;
    leg->closed = true;
    atomic_store(&leg->connected, false);
    if (leg->tp)
        webrtc_transport_close(leg->tp);
}

int load_leg_alloc(struct load_leg **lp, struct load *ld, unsigned index,
                   const struct load_leg_handlers *h, void *arg)
{
    struct load_leg *leg = mem_zalloc(sizeof(*leg), leg_destroy);
    if (!leg)
        return ENOMEM;
    leg->ld = ld;
    leg->index = index;
    leg->h = *h;
    leg->arg = arg;
    leg->talker = index < ld->cfg.talkers ? (int)index : -1;
    leg->sampled = index < ld->cfg.talkers + ld->cfg.sampled;
    leg->sess_id = ((uint64_t)g_random_int() << 20) ^ g_random_int();
    leg->ssrc = g_random_int();
    leg->seq = (uint16_t)g_random_int();
    leg->ts0 = g_random_int();
    random_token(leg->cname, sizeof(leg->cname));
    random_token(leg->stream, sizeof(leg->stream));
    random_token(leg->track, sizeof(leg->track));
    leg->cap = (size_t)(ld->cfg.seconds * 50 * 1.5) + 64;
    leg->arr = g_new(struct arrival, leg->cap);
    int err = leg->sampled ? opus_codec_dec_alloc(&leg->dec) : 0;
    char ctx[64];
    snprintf(ctx, sizeof(ctx), "load=%u", index);
    struct webrtc_transport_cfg tc = {
        .worker = media_workers_pick(ld->workers),
        .local_ip = ld->cfg.media_ip,
        .port_min = ld->cfg.port_min,
        .port_max = ld->cfg.port_max,
        .controlling = true,
        .identity = ld->identity,
        .log_ctx = ctx,
        .connect_timeout_ms = (uint32_t)(ld->cfg.timeout_s * 1000),
    };
    if (!err)
        err = webrtc_transport_alloc(&leg->tp, &tc, &tp_handlers, leg);
    if (!err) {
        leg->mt = webrtc_transport_media(leg->tp);
        leg->mt->recvh = on_rx;
        leg->mt->recv_arg = leg;
        err = webrtc_transport_gather(leg->tp);
    }
    if (err) {
        mem_deref(leg);
        return err;
    }
    *lp = leg;
    return 0;
}

int load_leg_set_answer(struct load_leg *leg, const char *sdp, char *err, size_t errlen)
{
    struct sdp_session *answer;
    int e = sdp_parse(&answer, sdp, strlen(sdp), err, errlen);
    if (e)
        return e;
    struct sdp_local l;
    local_desc(leg, &l);
    struct sdp_audio_params p;
    e = sdp_answer_read(answer, &l, &p, err, errlen);
    if (!e) {
        leg->pt = p.pt;
        leg->level_id = p.level_ext_id;
        e = webrtc_transport_set_remote(leg->tp, p.ice_ufrag, p.ice_pwd, p.fp_alg, p.fingerprint,
                                        p.dtls_role);
        if (e)
            snprintf(err, errlen, "the transport refused the answer: %s", strerror(e));
    }
    for (size_t i = 0; !e && i < p.ncandidates; i++)
        webrtc_transport_add_remote_candidate(leg->tp, p.candidates[i]);
    if (!e && p.end_of_candidates)
        webrtc_transport_remote_gathering_done(leg->tp);
    mem_deref(answer);
    return e;
}

int load_leg_add_candidate(struct load_leg *leg, const char *candidate)
{
    if (!candidate[0]) {
        webrtc_transport_remote_gathering_done(leg->tp);
        return 0;
    }
    return webrtc_transport_add_remote_candidate(leg->tp, candidate);
}

unsigned load_leg_index(const struct load_leg *leg)
{
    return leg->index;
}

bool load_leg_connected(const struct load_leg *leg)
{
    return atomic_load(&leg->connected);
}

/* ---- send (clock thread) ---- */

void load_leg_send(struct load_leg *leg, uint64_t tick)
{
    if (!atomic_load_explicit(&leg->connected, memory_order_acquire))
        return;
    size_t plen;
    uint8_t level;
    bool voice;
    const uint8_t *payload = load_payload(leg->ld, leg->talker, tick, &plen, &level, &voice);
    uint8_t ext[8], lv = rtp_audio_level_encode(voice, level);
    size_t extlen = 0;
    struct rtp_hdr h = {
        .marker = !leg->marked,
        .pt = leg->pt,
        .seq = leg->seq++,
        .ts = leg->ts0 + (uint32_t)(tick * 960),
        .ssrc = leg->ssrc,
    };
    if (leg->level_id) {
        struct rtp_ext_elem e = {leg->level_id, &lv, 1};
        if (!rtp_ext_build(ext, sizeof(ext), &e, 1, &extlen)) {
            h.ext = true;
            h.ext_profile = RTP_EXT_ONE_BYTE;
            h.ext_data = ext;
            h.ext_len = extlen;
        }
    }
    uint8_t buf[RTP_MAX_PACKET + MEDIA_TRANSPORT_TRAILER];
    size_t len;
    if (rtp_encode(buf, RTP_MAX_PACKET, &h, payload, plen, &len))
        return;
    if (!media_transport_send(leg->mt, buf, len, sizeof(buf), false)) {
        leg->marked = true;
        leg->tx++;
    }
}

/* ---- results (main loop, after the window) ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void load_leg_result(struct load_leg *leg, struct load_leg_result *r, GArray *latencies_us)
{
    struct load *ld = leg->ld;
    memset(r, 0, sizeof(*r));
    r->rx_packets = leg->rx;
    r->tx_packets = leg->tx;
    r->expected = (uint64_t)(ld->cfg.seconds * 50 + 0.5);
    r->talker = leg->talker;
    r->sampled = leg->sampled;
    /* The schedule: packet i is due at c + (ts_i - ts_0) / 48 kHz, c fitted as the median of
     * what each packet allows (an L1 fit: robust to the odd early or late one), so a packet is
     * late when it comes more than 20 ms after the path's typical delay. A timestamp seen twice
     * counts once. */
    if (leg->narr) {
        int64_t *rel = g_new(int64_t, leg->narr), *sorted = g_new(int64_t, leg->narr);
        for (size_t i = 0; i < leg->narr; i++) {
            int32_t d = (int32_t)(leg->arr[i].ts - leg->arr[0].ts);
            rel[i] = sorted[i] = leg->arr[i].us - (int64_t)d * 1000000 / 48000;
        }
        qsort(sorted, leg->narr, sizeof(int64_t), cmp_i64);
        int64_t c = sorted[leg->narr / 2];
        g_free(sorted);
        GHashTable *seen = g_hash_table_new(g_direct_hash, g_direct_equal);
        for (size_t i = 0; i < leg->narr; i++) {
            if (rel[i] - c > 20000)
                continue;
            gpointer key = GUINT_TO_POINTER(leg->arr[i].ts + 1);
            if (g_hash_table_contains(seen, key))
                continue;
            g_hash_table_add(seen, key);
            r->on_time++;
        }
        g_hash_table_destroy(seen);
        g_free(rel);
        if (r->on_time > r->expected)
            r->on_time = r->expected;
    }
    for (unsigned t = 0; t < ld->cfg.talkers && t < LOAD_MAX_TALKERS; t++)
        r->level_db[t] =
            leg->blocks && leg->power[t] > 0 ? 10.0 * log10(leg->power[t] / leg->blocks) : -200.0;
    /* Each onset heard: latency from the talker's latest onset sent before it, if that was
     * less than a second earlier (anything later is not this burst's onset but noise). */
    for (unsigned i = 0; i < leg->nonsets; i++) {
        const struct onset *o = &leg->onsets[i];
        unsigned n = atomic_load(&ld->nonsets[o->talker]);
        if (n > LOAD_MAX_ONSETS)
            n = LOAD_MAX_ONSETS;
        int64_t best = -1;
        for (unsigned k = 0; k < n; k++) {
            int64_t s = ld->onset_us[o->talker][k];
            if (s <= o->us && o->us - s < 1000000)
                best = s;
        }
        if (best < 0)
            continue;
        r->heard[o->talker]++;
        if (latencies_us && (int)o->talker != leg->talker) {
            int64_t lat = o->us - best;
            g_array_append_val(latencies_us, lat);
        }
    }
}
