/*
 * One participant of mxload (see load_int.h for why it has a transport of its own): a UDP
 * socket, one host candidate in an offer of Opus only, the controlling side of ICE (checks with
 * USE-CANDIDATE to each remote candidate until one answers; the peer's checks answered), and
 * DTLS-SRTP over the selected pair (media/dtls.h, libsrtp2 through media/srtp_session.h). All of
 * that runs on the main loop; once keyed, the socket is connected to the selected address and
 * handed to a receive thread (load_rx.c), and the clock thread sends through it.
 *
 * What arrives is timed, not decoded: the RTP header is in the clear in SRTP, so the mix packets
 * of a silent participant are neither authenticated nor decrypted (a forged packet would count;
 * on the loopback path of a benchmark nothing forges). Sampled listeners unprotect and decode
 * and detect the talkers' tone onsets in 5 ms blocks (the talkers' tones sit on exact bins of a
 * 5 ms block, so they do not leak into each other's bins).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/log.h"
#include "base/mem.h"
#include "media/dtls.h"
#include "media/ice_candidate.h"
#include "media/opus_codec.h"
#include "media/sdp.h"
#include "media/sdp_offer_answer.h"
#include "media/srtp_session.h"
#include "media/transport.h"
#include "media/udp_mux.h"
#include "rtp/rtp.h"
#include "tools/mxcall/load_int.h"

#define BLOCK          240 /* 5 ms at 48 kHz */
#define ON_DB          -35.0
#define OFF_DB         -50.0
#define ON_BLOCKS      3   /* an onset is a tone held 15 ms: a click's splatter is shorter */
#define CHECK_MS       100 /* a check to every remote candidate this often until one answers */
#define MAX_CHECKS     100
#define PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | 255u)
#define HOST_PRIORITY  ((126u << 24) | (65535u << 8) | 255u)

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
    l->ice_ufrag = leg->ufrag;
    l->ice_pwd = leg->pwd;
    l->fp_alg = "sha-256";
    l->fingerprint = dtls_identity_fingerprint(leg->ld->identity);
    l->candidates = (const char *const *)&leg->offer_cand;
    l->ncandidates = 1;
    l->candidates_done = true;
    l->ssrc = leg->ssrc;
    l->cname = leg->cname;
    l->msid_stream = leg->stream;
    l->msid_track = leg->track;
    l->dir = SDP_DIR_SENDRECV;
    l->codecs = opus_only;
    l->ncodecs = G_N_ELEMENTS(opus_only);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

/* ---- set-up outcome (main loop) ---- */

static void stop_sources(struct load_leg *leg)
{
    guint *ids[] = {&leg->watch, &leg->check_timer, &leg->deadline, &leg->idle};
    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
        if (*ids[i])
            g_source_remove(*ids[i]);
        *ids[i] = 0;
    }
}

static void fail(struct load_leg *leg, const char *why)
{
    if (leg->reported || leg->closed)
        return;
    leg->reported = true;
    stop_sources(leg);
    leg->h.state(leg, false, why, leg->arg);
}

/* ---- STUN (main loop during set-up; the receive thread answers requests afterwards) ---- */

static void stun_send(struct load_leg *leg, const uint8_t *buf, size_t len,
                      const struct sockaddr *to, socklen_t tolen)
{
    (void)sendto(leg->fd, buf, len, MSG_DONTWAIT, to, tolen);
}

/* A check of the peer's is answered if it names our ufrag and carries our password's integrity;
 * returns whether it did. Reads only what is fixed at alloc: any thread. */
static bool answer_check(struct load_leg *leg, const struct stun_msg *m, const struct sockaddr *src,
                         socklen_t srclen)
{
    const char *l, *r;
    size_t ll, rl;
    if (stun_msg_username_split(m, &l, &ll, &r, &rl) || ll != strlen(leg->ufrag) ||
        memcmp(l, leg->ufrag, ll) ||
        stun_msg_check_integrity(m, (const uint8_t *)leg->pwd, strlen(leg->pwd)))
        return false;
    uint8_t buf[128];
    struct bytes_w w = bytes_w_init(buf, sizeof(buf));
    int err = stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, m->tid);
    if (!err)
        err = stun_w_xor_addr(&w, src);
    if (!err)
        err = stun_w_integrity(&w, (const uint8_t *)leg->pwd, strlen(leg->pwd));
    if (!err)
        err = stun_w_fingerprint(&w);
    if (!err)
        stun_send(leg, buf, w.len, src, srclen);
    return true;
}

static void send_check(struct load_leg *leg, struct load_remote *rc)
{
    uint8_t buf[512];
    char user[2 * SDP_ICE_MAX + 2];
    int n = snprintf(user, sizeof(user), "%s:%s", leg->rufrag, leg->ufrag);
    struct bytes_w w = bytes_w_init(buf, sizeof(buf));
    int err = stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, rc->tid);
    if (!err)
        err = stun_w_attr(&w, STUN_ATTR_USERNAME, user, (size_t)n);
    if (!err)
        err = stun_w_u32(&w, STUN_ATTR_PRIORITY, PRFLX_PRIORITY);
    if (!err)
        err = stun_w_u64(&w, STUN_ATTR_ICE_CONTROLLING, leg->tiebreaker);
    if (!err)
        err = stun_w_attr(&w, STUN_ATTR_USE_CANDIDATE, NULL, 0);
    if (!err)
        err = stun_w_integrity(&w, (const uint8_t *)leg->rpwd, strlen(leg->rpwd));
    if (!err)
        err = stun_w_fingerprint(&w);
    if (!err) {
        stun_send(leg, buf, w.len, (struct sockaddr *)&rc->addr, rc->len);
        rc->sends++;
    }
}

static gboolean on_check_timer(gpointer data)
{
    struct load_leg *leg = data;
    for (unsigned i = 0; i < leg->nremote; i++)
        if (leg->remote[i].sends < MAX_CHECKS)
            send_check(leg, &leg->remote[i]);
    return G_SOURCE_CONTINUE;
}

static void checks_kick(struct load_leg *leg)
{
    if (leg->selected || !leg->has_remote || leg->check_timer || leg->closed || leg->reported)
        return;
    on_check_timer(leg);
    leg->check_timer = g_timeout_add(CHECK_MS, on_check_timer, leg);
}

static void add_remote(struct load_leg *leg, const struct sockaddr *sa, socklen_t len)
{
    for (unsigned i = 0; i < leg->nremote; i++)
        if (same_addr(&leg->remote[i].addr, sa))
            return;
    if (leg->nremote >= LOAD_MAX_REMOTE)
        return;
    struct load_remote *rc = &leg->remote[leg->nremote];
    memset(rc, 0, sizeof(*rc));
    memcpy(&rc->addr, sa, len);
    rc->len = len;
    if (stun_tid_random(rc->tid))
        return;
    leg->nremote++;
}

static void select_pair(struct load_leg *leg, const struct load_remote *rc)
{
    if (leg->selected)
        return;
    leg->selected = true;
    leg->sel = rc->addr;
    leg->sel_len = rc->len;
    if (leg->check_timer)
        g_source_remove(leg->check_timer);
    leg->check_timer = 0;
    if (leg->dtls && dtls_conn_start(leg->dtls))
        fail(leg, "DTLS would not start");
}

static void setup_stun(struct load_leg *leg, const uint8_t *pkt, size_t len,
                       const struct sockaddr *src, socklen_t srclen)
{
    struct stun_msg m;
    if (stun_msg_parse(&m, pkt, len) || m.method != STUN_METHOD_BINDING)
        return;
    if (m.cls == STUN_CLASS_REQUEST) {
        /* the peer's check: a full agent's (Janus); its source is a candidate too */
        if (answer_check(leg, &m, src, srclen) && leg->has_remote && !leg->selected) {
            add_remote(leg, src, srclen);
            checks_kick(leg);
        }
        return;
    }
    if (m.cls != STUN_CLASS_SUCCESS || !leg->has_remote ||
        stun_msg_check_integrity(&m, (const uint8_t *)leg->rpwd, strlen(leg->rpwd)))
        return;
    for (unsigned i = 0; i < leg->nremote; i++) {
        struct load_remote *rc = &leg->remote[i];
        if (!memcmp(rc->tid, m.tid, STUN_TID_LEN) && same_addr(&rc->addr, src)) {
            select_pair(leg, rc);
            return;
        }
    }
}

/* ---- DTLS (main loop) ---- */

static void dtls_send(const uint8_t *pkt, size_t len, void *arg)
{
    struct load_leg *leg = arg;
    if (leg->selected)
        (void)sendto(leg->fd, pkt, len, MSG_DONTWAIT, (struct sockaddr *)&leg->sel, leg->sel_len);
    else if (leg->dtls_from_len)
        (void)sendto(leg->fd, pkt, len, MSG_DONTWAIT, (struct sockaddr *)&leg->dtls_from,
                     leg->dtls_from_len);
}

static void dtls_established(const struct dtls_srtp_keys *keys, void *arg)
{
    struct load_leg *leg = arg;
    if (leg->closed || leg->reported)
        return;
    int err = srtp_session_alloc(&leg->srtp_out, SRTP_SESSION_OUTBOUND, keys->profile,
                                 keys->local_key, keys->key_len);
    if (!err && leg->sampled)
        err = srtp_session_alloc(&leg->srtp_in, SRTP_SESSION_INBOUND, keys->profile,
                                 keys->remote_key, keys->key_len);
    if (!err && !leg->selected)
        err = EPROTO;
    /* Connected to the selected address: send() needs no address and the kernel keeps the
     * route; nothing from elsewhere reaches the receive thread. */
    if (!err && connect(leg->fd, (struct sockaddr *)&leg->sel, leg->sel_len))
        err = errno;
    if (err) {
        fail(leg, "SRTP set-up failed");
        return;
    }
    stop_sources(leg);
    leg->on_rx = true;
    atomic_store_explicit(&leg->connected, true, memory_order_release);
    err = load_rx_add(leg->ld->rx, leg);
    if (err) {
        atomic_store(&leg->connected, false);
        fail(leg, "cannot receive");
        return;
    }
    leg->reported = true;
    leg->h.state(leg, true, NULL, leg->arg);
}

static void dtls_closed(int err, const char *reason, void *arg)
{
    struct load_leg *leg = arg;
    (void)err;
    atomic_store(&leg->connected, false);
    if (!leg->reported)
        fail(leg, reason ? reason : "DTLS failed");
}

static const struct dtls_conn_handlers dtls_handlers = {
    .send = dtls_send,
    .established = dtls_established,
    .closed = dtls_closed,
};

static void setup_dtls(struct load_leg *leg, const uint8_t *pkt, size_t len,
                       const struct sockaddr *src, socklen_t srclen)
{
    if (!leg->selected) {
        memcpy(&leg->dtls_from, src, srclen);
        leg->dtls_from_len = srclen;
    }
    if (leg->dtls)
        dtls_conn_recv(leg->dtls, pkt, len);
}

/* DTLS after the hand-over (a retransmitted flight, the peer's close_notify), sent from the
 * receive thread to the main loop. */
struct dtls_job {
    struct load_leg *leg;
    size_t len;
    uint8_t pkt[];
};

static gboolean dtls_job_run(gpointer data)
{
    struct dtls_job *j = data;
    if (!j->leg->closed && j->leg->dtls)
        dtls_conn_recv(j->leg->dtls, j->pkt, j->len);
    return G_SOURCE_REMOVE;
}

static void dtls_job_free(gpointer data)
{
    struct dtls_job *j = data;
    mem_deref(j->leg);
    g_free(j);
}

/* ---- the socket during set-up (main loop) ---- */

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct load_leg *leg = data;
    (void)cond;
    for (unsigned i = 0; i < 32 && !leg->on_rx && !leg->closed; i++) {
        uint8_t buf[1500];
        struct sockaddr_storage src;
        socklen_t srclen = sizeof(src);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&src, &srclen);
        if (n <= 0)
            break;
        if (buf[0] < 4)
            setup_stun(leg, buf, (size_t)n, (struct sockaddr *)&src, srclen);
        else if (buf[0] >= 20 && buf[0] < 64)
            setup_dtls(leg, buf, (size_t)n, (struct sockaddr *)&src, srclen);
        /* RTP before DTLS completed cannot be keyed: dropped */
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_deadline(gpointer data)
{
    struct load_leg *leg = data;
    leg->deadline = 0;
    fail(leg, leg->selected ? "DTLS not done in time" : "no ICE pair answered in time");
    return G_SOURCE_REMOVE;
}

static gboolean on_gathered(gpointer data)
{
    struct load_leg *leg = data;
    leg->idle = 0;
    struct sdp_local l;
    local_desc(leg, &l);
    char *sdp = NULL;
    if (sdp_offer_create(&l, &sdp)) {
        fail(leg, "cannot write our offer");
        return G_SOURCE_REMOVE;
    }
    leg->h.ready(leg, sdp, leg->arg);
    mem_deref(sdp);
    return G_SOURCE_REMOVE;
}

/* ---- receive thread ---- */

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
                        leg->onsets[leg->nonsets++] =
                            (struct load_onset){leg->run_us[t], (uint8_t)t};
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

void load_leg_rx(struct load_leg *leg, uint8_t *pkt, size_t len, int64_t now)
{
    if (!len)
        return;
    uint8_t b = pkt[0];
    if (b < 4) {
        struct stun_msg m;
        if (!stun_msg_parse(&m, pkt, len) && m.method == STUN_METHOD_BINDING &&
            m.cls == STUN_CLASS_REQUEST)
            (void)answer_check(leg, &m, (struct sockaddr *)&leg->sel, leg->sel_len);
        return;
    }
    if (b >= 20 && b < 64) {
        struct dtls_job *j = g_malloc(sizeof(*j) + len);
        j->leg = mem_ref(leg);
        j->len = len;
        memcpy(j->pkt, pkt, len);
        g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, dtls_job_run, j, dtls_job_free);
        return;
    }
    if (b < 128 || b > 191 || len < 12)
        return;
    uint8_t pt = pkt[1] & 0x7f;
    if (pt >= 64 && pt <= 95)
        return; /* RTCP (RFC 5761) */
    struct load *ld = leg->ld;
    int64_t start = atomic_load_explicit(&ld->win_start_us, memory_order_relaxed);
    int64_t end = atomic_load_explicit(&ld->win_end_us, memory_order_relaxed);
    if (!start || now < start || now >= end)
        return;
    if (!leg->srtp_in) {
        /* the timestamp, in the clear: neither authenticated nor decrypted */
        leg->rx++;
        if (leg->narr < leg->cap)
            leg->arr[leg->narr++] = (struct load_arrival){now, bytes_get32(pkt + 4)};
        return;
    }
    if (srtp_session_unprotect(leg->srtp_in, pkt, &len, false)) {
        leg->rx_bad++;
        return;
    }
    struct rtp_hdr h;
    const uint8_t *payload;
    size_t plen;
    if (rtp_decode(&h, pkt, len, &payload, &plen))
        return;
    leg->rx++;
    if (leg->narr < leg->cap)
        leg->arr[leg->narr++] = (struct load_arrival){now, h.ts};
    if (leg->dec && plen)
        analyse(leg, payload, plen, now, start);
}

/* ---- API ---- */

static void leg_destroy(void *data)
{
    struct load_leg *leg = data;
    load_leg_close(leg);
    mem_deref(leg->dtls);
    mem_deref(leg->srtp_out);
    mem_deref(leg->srtp_in);
    mem_deref(leg->dec);
    if (leg->fd >= 0)
        close(leg->fd);
    g_free(leg->offer_cand);
    g_free(leg->arr);
}

void load_leg_close(struct load_leg *leg)
{
    if (leg->closed)
        return;
    stop_sources(leg);
    atomic_store(&leg->connected, false);
    atomic_store(&leg->rx_closed, true);
    if (leg->dtls)
        dtls_conn_shutdown(leg->dtls); /* close_notify: the server hangs up at once */
    leg->closed = true;
}

static int open_socket(struct load_leg *leg)
{
    const struct load_cfg *c = &leg->ld->cfg;
    struct sockaddr_storage sa;
    socklen_t salen;
    if (udp_mux_sockaddr(c->media_ip, 0, &sa, &salen))
        return EINVAL;
    leg->fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (leg->fd < 0)
        return errno;
    uint16_t *port = sa.ss_family == AF_INET ? &((struct sockaddr_in *)&sa)->sin_port
                                             : &((struct sockaddr_in6 *)&sa)->sin6_port;
    int err = EADDRINUSE;
    if (!c->port_min) {
        err = bind(leg->fd, (struct sockaddr *)&sa, salen) ? errno : 0;
    } else {
        uint32_t span = (uint32_t)c->port_max - c->port_min + 1, first = g_random_int();
        for (uint32_t i = 0; i < span && err; i++) {
            *port = htons((uint16_t)(c->port_min + (first + i) % span));
            err = bind(leg->fd, (struct sockaddr *)&sa, salen) ? errno : 0;
            if (err && err != EADDRINUSE && err != EACCES)
                break;
        }
    }
    socklen_t len = sizeof(sa);
    if (!err && getsockname(leg->fd, (struct sockaddr *)&sa, &len))
        err = errno;
    if (err)
        return err;
    char ip[64];
    if (sa.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, ip, sizeof(ip));
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, ip, sizeof(ip));
    leg->offer_cand =
        g_strdup_printf("candidate:1 1 udp %u %s %u typ host", HOST_PRIORITY, ip, ntohs(*port));
    return 0;
}

int load_leg_alloc(struct load_leg **lp, struct load *ld, unsigned index,
                   const struct load_leg_handlers *h, void *arg)
{
    struct load_leg *leg = mem_zalloc(sizeof(*leg), leg_destroy);
    if (!leg)
        return ENOMEM;
    leg->fd = -1;
    leg->ld = ld;
    leg->index = index;
    leg->h = *h;
    leg->arg = arg;
    leg->talker = index < ld->cfg.talkers ? (int)index : -1;
    leg->sampled = index < ld->cfg.talkers + ld->cfg.sampled;
    leg->sess_id = ((uint64_t)g_random_int() << 20) ^ g_random_int();
    leg->tiebreaker = ((uint64_t)g_random_int() << 32) | g_random_int();
    leg->ssrc = g_random_int();
    leg->seq = (uint16_t)g_random_int();
    leg->ts0 = g_random_int();
    random_token(leg->ufrag, sizeof(leg->ufrag));
    random_token(leg->pwd, sizeof(leg->pwd));
    random_token(leg->cname, sizeof(leg->cname));
    random_token(leg->stream, sizeof(leg->stream));
    random_token(leg->track, sizeof(leg->track));
    leg->cap = (size_t)(ld->cfg.seconds * 50 * 1.5) + 64;
    leg->arr = g_new(struct load_arrival, leg->cap);
    int err = leg->sampled ? opus_codec_dec_alloc(&leg->dec) : 0;
    if (!err)
        err = open_socket(leg);
    if (err) {
        mem_deref(leg);
        return err;
    }
    leg->watch = g_unix_fd_add(leg->fd, G_IO_IN, on_readable, leg);
    leg->idle = g_idle_add(on_gathered, leg);
    leg->deadline = g_timeout_add((guint)(ld->cfg.timeout_s * 1000), on_deadline, leg);
    *lp = leg;
    return 0;
}

static void add_candidate(struct load_leg *leg, const char *line)
{
    struct ice_candidate c;
    struct sockaddr_storage sa;
    socklen_t len;
    if (ice_candidate_parse(&c, line, NULL) || c.component != 1 ||
        c.transport != ICE_TRANSPORT_UDP || udp_mux_sockaddr(c.address, c.port, &sa, &len))
        return; /* mDNS, TCP, RTCP components: not for us */
    struct sockaddr_storage ours;
    socklen_t ol = sizeof(ours);
    if (getsockname(leg->fd, (struct sockaddr *)&ours, &ol) || ours.ss_family != sa.ss_family)
        return;
    add_remote(leg, (struct sockaddr *)&sa, len);
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
    struct dtls_fingerprint fp;
    if (!e && (e = dtls_fingerprint_parse(&fp, p.fp_alg, p.fingerprint)))
        snprintf(err, errlen, "the answer's fingerprint is unusable");
    if (!e && leg->has_remote) {
        e = ENOTSUP;
        snprintf(err, errlen, "a second answer");
    }
    if (!e) {
        leg->pt = p.pt;
        leg->level_id = p.level_ext_id;
        g_strlcpy(leg->rufrag, p.ice_ufrag, sizeof(leg->rufrag));
        g_strlcpy(leg->rpwd, p.ice_pwd, sizeof(leg->rpwd));
        struct dtls_conn_cfg dc = {
            .role = p.dtls_role,
            .remote_fp = &fp,
            .handshake_timeout_ms = (unsigned)(leg->ld->cfg.timeout_s * 1000),
        };
        char ctx[32];
        snprintf(ctx, sizeof(ctx), "load=%u", leg->index);
        dc.log_ctx = ctx;
        e = dtls_conn_alloc(&leg->dtls, leg->ld->identity, &dc, &dtls_handlers, leg);
        if (e)
            snprintf(err, errlen, "DTLS: %s", strerror(e));
    }
    for (size_t i = 0; !e && i < p.ncandidates; i++)
        add_candidate(leg, p.candidates[i]);
    mem_deref(answer);
    if (!e) {
        leg->has_remote = true;
        /* a server may already hold the peer's ClientHello: dtls_conn_start() handles it */
        if (p.dtls_role == DTLS_ROLE_SERVER && dtls_conn_start(leg->dtls))
            e = EPROTO;
        checks_kick(leg);
    }
    return e;
}

int load_leg_add_candidate(struct load_leg *leg, const char *candidate)
{
    if (!candidate[0] || leg->selected)
        return 0;
    add_candidate(leg, candidate);
    checks_kick(leg);
    return 0;
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

bool load_leg_send(struct load_leg *leg, uint64_t tick)
{
    if (!atomic_load_explicit(&leg->connected, memory_order_acquire))
        return false;
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
    if (rtp_encode(buf, RTP_MAX_PACKET, &h, payload, plen, &len) ||
        srtp_session_protect(leg->srtp_out, buf, &len, sizeof(buf), false) ||
        send(leg->fd, buf, len, MSG_DONTWAIT) < 0) {
        leg->tx_fail++;
        return false;
    }
    leg->marked = true;
    leg->tx++;
    return true;
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
    r->tx_failed = leg->tx_fail;
    r->rx_bad = leg->rx_bad;
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
        const struct load_onset *o = &leg->onsets[i];
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
