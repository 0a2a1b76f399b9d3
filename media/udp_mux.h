/*
 * A UDP socket for many media legs at once: received datagrams are read in batches with
 * recvmmsg() into buffers the mux owns (nothing is allocated per packet) and handed, one by one
 * with their source address, to one receive handler on the context that owns the socket (a media
 * worker); what legs send goes out through per-thread batches flushed with sendmmsg().
 *
 * Why: a conference of a thousand legs on one core cannot afford a socket, a GSource and a poll
 * wake-up per leg and a system call per packet. One socket per media worker, demultiplexed by
 * whoever owns it (the ICE-lite host: STUN by ICE credentials, media by remote address), turns
 * that into one wake-up and one system call per batch.
 *
 * Sending. Any thread may send. A thread that calls udp_mux_flush_thread() is a batching thread
 * from then on: what it sends through a batching mux is queued (copied) in a batch of that
 * thread's, per socket, and leaves with one sendmmsg() when the batch is full or the thread calls
 * udp_mux_flush_thread() again. A mixer clock calls it at the end of every tick, so nothing waits
 * longer than one tick and a tick's packets leave in a handful of system calls. Should a batching
 * thread stop calling it, a send that finds a datagram queued for UDP_MUX_HOLD_MAX_US flushes
 * the thread's batches first. Every other thread (the worker answering STUN, DTLS, a mixer
 * clock that never called udp_mux_flush_thread()) sends at once. A thread's batch is flushed when
 * it exits. Sends never block: a full socket buffer drops the packet (counted), as UDP would.
 *
 * Lifetime: udp_mux_close() stops the receive handler, from any thread, and returns only when no
 * call of it is running (unless called from inside it); mem_deref() after that frees. Batches
 * hold a reference on the mux whose packets they hold, so the socket outlives them.
 */
#ifndef SB_MEDIA_UDP_MUX_H
#define SB_MEDIA_UDP_MUX_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define UDP_MUX_MAX_PACKET  1500  /* larger datagrams are truncated on receive (and dropped) */
#define UDP_MUX_BATCH       32    /* default recvmmsg / sendmmsg batch */
#define UDP_MUX_HOLD_MAX_US 20000 /* a queued datagram is sent with the next send after this */

struct udp_mux;

/* One received datagram, on the mux's context. pkt is the mux's buffer, valid during the call
 * only; the handler may change it in place (SRTP decrypts in place). now_us: monotonic time read
 * once for the batch. */
typedef void(udp_mux_recv_h)(uint8_t *pkt, size_t len, const struct sockaddr *src, socklen_t srclen,
                             int64_t now_us, void *arg);

struct udp_mux_cfg {
    GMainContext *ctx;           /* where the receive source runs */
    const char *local_ip;        /* numeric IPv4 or IPv6 address to bind */
    uint16_t port_min, port_max; /* both 0: any port */
    unsigned batch;              /* datagrams per recvmmsg (1..64); 0: UDP_MUX_BATCH */
    bool batch_send;             /* sends from batching threads are queued (else always direct) */
    unsigned pace_us; /* a busy socket drained at most once per pace_us (see udp_mux.c); 0: not */
    const char *log_ctx; /* copied */
};

/* Binds the socket (a random port of the range first, then the others) and starts receiving.
 * EINVAL for a bad address or range, EADDRINUSE when no port of the range is free, or the errno
 * of socket(). */
int udp_mux_alloc(struct udp_mux **mp, const struct udp_mux_cfg *cfg, udp_mux_recv_h *recvh,
                  void *arg);

/* Stops receiving; see the lifetime note above. Idempotent. */
void udp_mux_close(struct udp_mux *m);

/* The bound address, and its parts ("127.0.0.1", 20001). */
const struct sockaddr *udp_mux_local_addr(const struct udp_mux *m, socklen_t *len);
const char *udp_mux_local_ip(const struct udp_mux *m);
uint16_t udp_mux_local_port(const struct udp_mux *m);

/* Sends pkt to dst: queued in the calling thread's batch when it is a batching thread and the mux
 * batches, else at once. 0, EMSGSIZE (larger than UDP_MUX_MAX_PACKET for a batch), EINVAL, or the
 * errno of sendto (EAGAIN: the socket buffer is full, dropped). A queued packet whose sendmmsg
 * later fails is counted in tx_errors. */
int udp_mux_send(struct udp_mux *m, const uint8_t *pkt, size_t len, const struct sockaddr *dst,
                 socklen_t dstlen);

/* Sends at once, whatever the thread. */
int udp_mux_send_now(struct udp_mux *m, const uint8_t *pkt, size_t len, const struct sockaddr *dst,
                     socklen_t dstlen);

/* Sends everything the calling thread has queued and makes it a batching thread (see above). */
void udp_mux_flush_thread(void);

/* The calling thread stops batching (its queue is flushed first). */
void udp_mux_thread_unbatch(void);

struct udp_mux_stats {
    uint64_t rx_packets, rx_batches, rx_truncated, rx_errors;
    uint64_t tx_packets, tx_syscalls, tx_errors;
};
void udp_mux_get_stats(const struct udp_mux *m, struct udp_mux_stats *st);

/* Fills sa from a numeric address and port. EINVAL when ip is not an IPv4/IPv6 literal. */
int udp_mux_sockaddr(const char *ip, uint16_t port, struct sockaddr_storage *sa, socklen_t *len);

/* "ip:port" or "[ip6]:port" of sa into buf ("?" for another family). */
void udp_mux_addr_string(const struct sockaddr *sa, char *buf, size_t cap);

#endif
