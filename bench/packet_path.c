/*
 * bench_packet_path: the CPU cost of each stage a media packet goes through, in microseconds per
 * packet, for the ICE-lite data path (one socket per worker, recvmmsg / sendmmsg) and, where the
 * stage differs, for libnice (a socket and an agent per leg). Figures, not a test: run it on a
 * quiet machine (a Release build) and read the numbers.
 *
 *   stun check      parse a Binding request, find the leg by ufrag (a table of --legs), check
 *                   MESSAGE-INTEGRITY, build the success answer (XOR-MAPPED-ADDRESS, integrity,
 *                   fingerprint): what the lite agent does per check, without the send.
 *   recv+demux      from the socket to the leg's handler. lite: udp_mux (recvmmsg, batches of
 *                   32) and the remote-address table of --legs entries; libnice: an agent's
 *                   socket source, its STUN/consent demux and the agent lock, one recvmsg each.
 *   srtp unprotect  AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM, 160-byte payloads.
 *   rtp + jitter    rtp_decode, rtp_seq_update and jitter_put, plus the mixer's jitter_get for
 *                   the same packet (a steady 20 ms stream).
 *   send            srtp protect and send. lite batched: udp_mux_send from a batching thread,
 *                   flushed every 32 packets (a tick); lite direct: one sendto each; libnice:
 *                   nice_agent_send.
 *
 * The socket stages time the receiving (or sending) side only, as thread CPU time (user +
 * system) of the one thread that drives both ends over 127.0.0.1.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <nice/agent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/mem.h"
#include "media/ice_lite_int.h"
#include "media/jitter.h"
#include "media/srtp_session.h"
#include "media/stun.h"
#include "media/udp_mux.h"
#include "rtp/rtp.h"

#define PAYLOAD 160
#define BATCH   32

static unsigned n_packets = 200000;
static unsigned n_legs = 1000;

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void report(const char *stage, const char *variant, int64_t ns, unsigned n)
{
    printf("%-16s %-22s %8.3f us/packet  (%u packets)\n", stage, variant,
           n ? (double)ns / 1000.0 / n : 0.0, n);
    fflush(stdout);
}

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    memset(buf, 0, RTP_HDR_SIZE + PAYLOAD);
    buf[0] = 0x80;
    buf[1] = 111;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[4] = (uint8_t)(ts >> 24);
    buf[5] = (uint8_t)(ts >> 16);
    buf[6] = (uint8_t)(ts >> 8);
    buf[7] = (uint8_t)ts;
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    for (size_t i = 0; i < PAYLOAD; i++)
        buf[RTP_HDR_SIZE + i] = (uint8_t)(i * 31 + seq);
    return RTP_HDR_SIZE + PAYLOAD;
}

/* ---- stun check ---- */

static void bench_stun(void)
{
    GHashTable *by_ufrag = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (unsigned i = 0; i < n_legs; i++)
        g_hash_table_insert(by_ufrag, g_strdup_printf("uf%05u", i), GUINT_TO_POINTER(i + 1));
    const char *pwd = "0123456789abcdefghijklmnop";

    uint8_t req[512], resp[512];
    struct bytes_w w = bytes_w_init(req, sizeof(req));
    uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const char *user = "uf00420:peer";
    stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
    stun_w_attr(&w, STUN_ATTR_USERNAME, user, strlen(user));
    stun_w_u32(&w, STUN_ATTR_PRIORITY, 0x6e7fffff);
    stun_w_u64(&w, STUN_ATTR_ICE_CONTROLLING, 0x1122334455667788ull);
    stun_w_attr(&w, STUN_ATTR_USE_CANDIDATE, NULL, 0);
    stun_w_integrity(&w, (const uint8_t *)pwd, strlen(pwd));
    stun_w_fingerprint(&w);
    size_t req_len = w.len;

    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(40000)};
    inet_pton(AF_INET, "192.0.2.7", &src.sin_addr);
    unsigned n = n_packets / 4, ok = 0;
    int64_t t0 = cpu_ns();
    for (unsigned i = 0; i < n; i++) {
        struct stun_msg m;
        const char *l, *r;
        size_t ll, rl;
        char uf[ICE_CRED_MAX + 1];
        if (stun_msg_parse(&m, req, req_len) || stun_msg_username_split(&m, &l, &ll, &r, &rl) ||
            ll > ICE_CRED_MAX)
            continue;
        memcpy(uf, l, ll);
        uf[ll] = '\0';
        if (!g_hash_table_lookup(by_ufrag, uf) ||
            stun_msg_check_integrity(&m, (const uint8_t *)pwd, strlen(pwd)))
            continue;
        struct bytes_w o = bytes_w_init(resp, sizeof(resp));
        if (!stun_w_header(&o, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, m.tid) &&
            !stun_w_xor_addr(&o, (struct sockaddr *)&src) &&
            !stun_w_integrity(&o, (const uint8_t *)pwd, strlen(pwd)) && !stun_w_fingerprint(&o))
            ok++;
    }
    int64_t t = cpu_ns() - t0;
    if (ok != n)
        fprintf(stderr, "stun: only %u of %u checks answered\n", ok, n);
    report("stun check", "lite", t, n);
    g_hash_table_destroy(by_ufrag);
}

/* ---- recv+demux ---- */

static int sender_socket(struct sockaddr_in *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
        perror("socket");
        exit(1);
    }
    socklen_t len = sizeof(*bound);
    getsockname(fd, (struct sockaddr *)bound, &len);
    return fd;
}

/* Sends BATCH copies of pkt to dst at once. */
static void blast(int fd, const uint8_t *pkt, size_t len, const struct sockaddr *dst,
                  socklen_t dstlen)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov = {.iov_base = (void *)pkt, .iov_len = len};
    for (int i = 0; i < BATCH; i++)
        msgs[i].msg_hdr = (struct msghdr){
            .msg_name = (void *)dst, .msg_namelen = dstlen, .msg_iov = &iov, .msg_iovlen = 1};
    int sent = 0;
    while (sent < BATCH) {
        int r = sendmmsg(fd, msgs + sent, BATCH - sent, 0);
        if (r <= 0) {
            perror("sendmmsg");
            exit(1);
        }
        sent += r;
    }
}

static guint key_hash(gconstpointer p)
{
    const uint8_t *b = p;
    guint h = 2166136261u;
    for (size_t i = 0; i < sizeof(struct lite_addr); i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return lite_addr_equal(a, b);
}

struct demux {
    GHashTable *by_addr;
    unsigned got, unknown;
    uint64_t bytes;
};

static void on_mux(uint8_t *pkt, size_t len, const struct sockaddr *src, socklen_t srclen,
                   int64_t now_us, void *arg)
{
    struct demux *d = arg;
    struct lite_addr k;
    lite_addr_from(&k, src);
    if (g_hash_table_lookup(d->by_addr, &k)) {
        d->got++;
        d->bytes += len;
    } else {
        d->unknown++;
    }
}

static void bench_recv_lite(void)
{
    GMainContext *ctx = g_main_context_new();
    struct demux d = {.by_addr = g_hash_table_new_full(key_hash, key_equal, g_free, NULL)};
    struct sockaddr_in from;
    int fd = sender_socket(&from);

    /* The table holds --legs addresses, the sender's among them. */
    for (unsigned i = 0; i + 1 < n_legs; i++) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(10000 + i))};
        sin.sin_addr.s_addr = htonl(0xC0000200u + (i % 200));
        struct lite_addr *k = g_new0(struct lite_addr, 1);
        lite_addr_from(k, (struct sockaddr *)&sin);
        g_hash_table_insert(d.by_addr, k, GUINT_TO_POINTER(1));
    }
    struct lite_addr *k = g_new0(struct lite_addr, 1);
    lite_addr_from(k, (struct sockaddr *)&from);
    g_hash_table_insert(d.by_addr, k, GUINT_TO_POINTER(1));

    struct udp_mux_cfg mc = {.ctx = ctx, .local_ip = "127.0.0.1", .batch = BATCH};
    struct udp_mux *mux;
    if (udp_mux_alloc(&mux, &mc, on_mux, &d)) {
        fprintf(stderr, "udp_mux_alloc failed\n");
        exit(1);
    }
    socklen_t dl;
    const struct sockaddr *dst = udp_mux_local_addr(mux, &dl);
    uint8_t pkt[1500];
    size_t len = make_rtp(pkt, 1, 0, 0x1234);

    int64_t t = 0;
    unsigned target = 0;
    for (unsigned sent = 0; sent < n_packets; sent += BATCH * 4) {
        for (int b = 0; b < 4; b++)
            blast(fd, pkt, len, dst, dl);
        target += BATCH * 4;
        int64_t t0 = cpu_ns();
        while (d.got < target)
            g_main_context_iteration(ctx, TRUE);
        t += cpu_ns() - t0;
    }
    struct udp_mux_stats st;
    udp_mux_get_stats(mux, &st);
    report("recv+demux", "lite (recvmmsg 32)", t, d.got);
    printf("%-16s %-22s %8.1f packets per recvmmsg\n", "", "",
           st.rx_batches ? (double)st.rx_packets / (double)st.rx_batches : 0.0);
    udp_mux_close(mux);
    mem_deref(mux);
    close(fd);
    g_hash_table_destroy(d.by_addr);
    g_main_context_unref(ctx);
}

/* ---- libnice ---- */

struct nice_end {
    GMainContext *ctx;
    NiceAgent *agent;
    guint sid;
    bool gathered, ready;
    unsigned got;
};

static void nice_gathered(NiceAgent *agent, guint sid, gpointer data)
{
    ((struct nice_end *)data)->gathered = true;
}

static void nice_state(NiceAgent *agent, guint sid, guint cid, guint state, gpointer data)
{
    if (state == NICE_COMPONENT_STATE_READY)
        ((struct nice_end *)data)->ready = true;
}

static void nice_recv(NiceAgent *agent, guint sid, guint cid, guint len, gchar *buf, gpointer data)
{
    ((struct nice_end *)data)->got++;
}

static void nice_end_init(struct nice_end *e, bool controlling)
{
    e->ctx = g_main_context_new();
    e->agent = nice_agent_new_full(e->ctx, NICE_COMPATIBILITY_RFC5245,
                                   NICE_AGENT_OPTION_CONSENT_FRESHNESS |
                                       NICE_AGENT_OPTION_REGULAR_NOMINATION);
    g_object_set(e->agent, "controlling-mode", (gboolean)controlling, "upnp", FALSE, "ice-tcp",
                 FALSE, NULL);
    NiceAddress a;
    nice_address_init(&a);
    nice_address_set_from_string(&a, "127.0.0.1");
    nice_agent_add_local_address(e->agent, &a);
    e->sid = nice_agent_add_stream(e->agent, 1);
    g_signal_connect(e->agent, "candidate-gathering-done", G_CALLBACK(nice_gathered), e);
    g_signal_connect(e->agent, "component-state-changed", G_CALLBACK(nice_state), e);
    nice_agent_attach_recv(e->agent, e->sid, 1, e->ctx, nice_recv, e);
    nice_agent_gather_candidates(e->agent, e->sid);
}

static void nice_pump(struct nice_end *a, struct nice_end *b)
{
    g_main_context_iteration(a->ctx, FALSE);
    g_main_context_iteration(b->ctx, FALSE);
    g_usleep(200);
}

static void nice_tell(struct nice_end *from, struct nice_end *to)
{
    gchar *uf, *pw;
    nice_agent_get_local_credentials(from->agent, from->sid, &uf, &pw);
    nice_agent_set_remote_credentials(to->agent, to->sid, uf, pw);
    g_free(uf);
    g_free(pw);
    GSList *c = nice_agent_get_local_candidates(from->agent, from->sid, 1);
    nice_agent_set_remote_candidates(to->agent, to->sid, 1, c);
    g_slist_free_full(c, (GDestroyNotify)nice_candidate_free);
}

/* Two connected agents, or false. */
static bool nice_pair(struct nice_end *a, struct nice_end *b)
{
    nice_end_init(a, true);
    nice_end_init(b, false);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!(a->gathered && b->gathered) && g_get_monotonic_time() < deadline)
        nice_pump(a, b);
    nice_tell(a, b);
    nice_tell(b, a);
    while (!(a->ready && b->ready) && g_get_monotonic_time() < deadline)
        nice_pump(a, b);
    /* Let the nomination settle. */
    for (int i = 0; i < 200; i++)
        nice_pump(a, b);
    return a->ready && b->ready;
}

static void nice_end_free(struct nice_end *e)
{
    nice_agent_remove_stream(e->agent, e->sid);
    g_object_unref(e->agent);
    while (g_main_context_iteration(e->ctx, FALSE))
        ;
    g_main_context_unref(e->ctx);
}

static void bench_recv_nice(struct nice_end *a, struct nice_end *b)
{
    uint8_t pkt[1500];
    size_t len = make_rtp(pkt, 1, 0, 0x1234);
    unsigned n = n_packets / 4, base = b->got, target = b->got;
    int64_t t = 0;
    for (unsigned sent = 0; sent < n; sent += BATCH * 4) {
        for (int i = 0; i < BATCH * 4; i++)
            nice_agent_send(a->agent, a->sid, 1, (guint)len, (const gchar *)pkt);
        target += BATCH * 4;
        int64_t t0 = cpu_ns();
        gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
        while (b->got < target && g_get_monotonic_time() < deadline)
            g_main_context_iteration(b->ctx, FALSE);
        t += cpu_ns() - t0;
        target = b->got; /* what the kernel dropped is not waited for */
    }
    report("recv+demux", "libnice", t, b->got - base);
}

/* ---- srtp ---- */

static void bench_srtp(enum srtp_suite suite, const char *name)
{
    uint8_t key[64];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 7 + 3);
    size_t kl = srtp_suite_key_len(suite);
    struct srtp_session *out, *in;
    if (srtp_session_alloc_suite(&out, SRTP_SESSION_OUTBOUND, suite, key, kl) ||
        srtp_session_alloc_suite(&in, SRTP_SESSION_INBOUND, suite, key, kl)) {
        printf("%-16s %-22s unavailable\n", "srtp unprotect", name);
        return;
    }
    unsigned n = n_packets;
    uint8_t(*pkts)[RTP_HDR_SIZE + PAYLOAD + SRTP_SESSION_MAX_TRAILER] = g_malloc(n * sizeof(*pkts));
    size_t *lens = g_new(size_t, n);
    int64_t tp = 0;
    for (unsigned i = 0; i < n; i++) {
        lens[i] = make_rtp(pkts[i], (uint16_t)i, i * 960, 0x1234);
        int64_t t0 = cpu_ns();
        srtp_session_protect(out, pkts[i], &lens[i], sizeof(pkts[i]), false);
        tp += cpu_ns() - t0;
    }
    unsigned ok = 0;
    int64_t t0 = cpu_ns();
    for (unsigned i = 0; i < n; i++)
        ok += srtp_session_unprotect(in, pkts[i], &lens[i], false) == 0;
    int64_t t = cpu_ns() - t0;
    report("srtp unprotect", name, t, ok);
    report("srtp protect", name, tp, n);
    g_free(pkts);
    g_free(lens);
    mem_deref(out);
    mem_deref(in);
}

/* ---- rtp + jitter ---- */

static void bench_jitter(void)
{
    struct jitter *jb;
    struct jitter_cfg jc = {0};
    if (jitter_alloc(&jb, &jc)) {
        fprintf(stderr, "jitter_alloc failed\n");
        return;
    }
    struct jitter_frame *fr = g_new(struct jitter_frame, 1);
    uint8_t pkt[1500];
    struct rtp_seq seq;
    unsigned n = n_packets, played = 0;
    int64_t t = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t len = make_rtp(pkt, (uint16_t)(1000 + i), i * 960, 0x1234);
        uint64_t now = 1000000 + (uint64_t)i * 20000;
        int64_t t0 = cpu_ns();
        struct rtp_hdr h;
        const uint8_t *pl;
        size_t pll;
        uint64_t ext = 0;
        if (!rtp_decode(&h, pkt, len, &pl, &pll)) {
            if (!i)
                rtp_seq_init(&seq, h.seq);
            rtp_seq_update(&seq, h.seq, &ext);
            jitter_put(jb, ext, h.ts, pl, pll, 960, now);
        }
        played += jitter_get(jb, now, fr) == JITTER_PACKET;
        t += cpu_ns() - t0;
    }
    report("rtp + jitter", "decode, put and get", t, n);
    if (played < n / 2)
        fprintf(stderr, "jitter: only %u of %u played\n", played, n);
    g_free(fr);
    mem_deref(jb);
}

/* ---- send ---- */

static void drain(int fd)
{
    uint8_t buf[BATCH][256];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = buf[i], .iov_len = sizeof(buf[i])};
            msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
        }
        if (recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL) <= 0)
            return;
    }
}

static struct srtp_session *out_session(void)
{
    uint8_t key[30] = {1, 2, 3};
    struct srtp_session *s = NULL;
    srtp_session_alloc_suite(&s, SRTP_SESSION_OUTBOUND, SRTP_SUITE_AEAD_AES_128_GCM, key,
                             srtp_suite_key_len(SRTP_SUITE_AEAD_AES_128_GCM));
    if (!s)
        srtp_session_alloc_suite(&s, SRTP_SESSION_OUTBOUND, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, key,
                                 srtp_suite_key_len(SRTP_SUITE_AES_CM_128_HMAC_SHA1_80));
    return s;
}

static void bench_send_lite(bool batched)
{
    GMainContext *ctx = g_main_context_new();
    struct sockaddr_in to;
    int rfd = sender_socket(&to);
    struct udp_mux_cfg mc = {.ctx = ctx, .local_ip = "127.0.0.1", .batch_send = true};
    struct udp_mux *mux;
    struct demux d = {0};
    if (udp_mux_alloc(&mux, &mc, on_mux, &d)) {
        fprintf(stderr, "udp_mux_alloc failed\n");
        exit(1);
    }
    struct srtp_session *s = out_session();
    if (batched)
        udp_mux_flush_thread();
    uint8_t pkt[1500];
    int64_t t = 0;
    unsigned n = n_packets / 2;
    for (unsigned i = 0; i < n; i += BATCH) {
        int64_t t0 = cpu_ns();
        for (unsigned j = 0; j < BATCH; j++) {
            size_t len = make_rtp(pkt, (uint16_t)(i + j), (i + j) * 960, 0x1234);
            srtp_session_protect(s, pkt, &len, sizeof(pkt), false);
            if (batched)
                udp_mux_send(mux, pkt, len, (struct sockaddr *)&to, sizeof(to));
            else
                udp_mux_send_now(mux, pkt, len, (struct sockaddr *)&to, sizeof(to));
        }
        if (batched)
            udp_mux_flush_thread(); /* the end of a mixer tick */
        t += cpu_ns() - t0;
        drain(rfd);
    }
    if (batched)
        udp_mux_thread_unbatch();
    struct udp_mux_stats st;
    udp_mux_get_stats(mux, &st);
    report("send", batched ? "lite (sendmmsg 32)" : "lite (sendto each)", t, n);
    if (batched)
        printf("%-16s %-22s %8.1f packets per sendmmsg, %llu errors\n", "", "",
               st.tx_syscalls ? (double)st.tx_packets / (double)st.tx_syscalls : 0.0,
               (unsigned long long)st.tx_errors);
    mem_deref(s);
    udp_mux_close(mux);
    mem_deref(mux);
    close(rfd);
    g_main_context_unref(ctx);
}

static void bench_send_nice(struct nice_end *a, struct nice_end *b)
{
    struct srtp_session *s = out_session();
    uint8_t pkt[1500];
    int64_t t = 0;
    unsigned n = n_packets / 4;
    for (unsigned i = 0; i < n; i += BATCH) {
        int64_t t0 = cpu_ns();
        for (unsigned j = 0; j < BATCH; j++) {
            size_t len = make_rtp(pkt, (uint16_t)(i + j), (i + j) * 960, 0x1234);
            srtp_session_protect(s, pkt, &len, sizeof(pkt), false);
            nice_agent_send(a->agent, a->sid, 1, (guint)len, (const gchar *)pkt);
        }
        t += cpu_ns() - t0;
        while (g_main_context_iteration(b->ctx, FALSE))
            ;
    }
    report("send", "libnice", t, n);
    mem_deref(s);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--packets") && i + 1 < argc)
            n_packets = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--legs") && i + 1 < argc)
            n_legs = (unsigned)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--packets N] [--legs N]\n", argv[0]);
            return 2;
        }
    }
    if (n_packets < 1024)
        n_packets = 1024;
    if (n_legs < 1)
        n_legs = 1;
    printf("packet path, %u-byte RTP payloads, %u legs in the tables, thread CPU time\n", PAYLOAD,
           n_legs);

    bench_stun();
    bench_recv_lite();
    struct nice_end na = {0}, nb = {0};
    bool nice_ok = nice_pair(&na, &nb);
    if (nice_ok)
        bench_recv_nice(&na, &nb);
    else
        printf("%-16s %-22s agents did not connect\n", "recv+demux", "libnice");
    bench_srtp(SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, "AES_CM_128_HMAC_SHA1_80");
    bench_srtp(SRTP_SUITE_AEAD_AES_128_GCM, "AEAD_AES_128_GCM");
    bench_jitter();
    bench_send_lite(true);
    bench_send_lite(false);
    if (nice_ok)
        bench_send_nice(&na, &nb);
    nice_end_free(&na);
    nice_end_free(&nb);
    return 0;
}
