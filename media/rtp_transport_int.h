/*
 * The plain RTP transport's state and what its two halves share. Private to
 * media/rtp_transport.c and media/rtp_worker.c: nothing else includes this.
 *
 * The halves follow the thread boundary, so that a reader of either file knows which thread runs
 * it and which group of fields below it may touch. rtp_transport.c is the API and the owner's
 * side (alloc and the port pair, each negotiation turned into a message, close, info) plus
 * media.send for the mixer; rtp_worker.c is what runs on the media worker (the receive path,
 * symmetric RTP latching, and the one place that decides where packets go).
 *
 * Three threads have the transport in view:
 *
 *  - the owner (main loop) binds the sockets at alloc, turns each negotiation into a message for
 *    the worker (addresses parsed, SRTP contexts made only when the keys changed) and closes;
 *  - the media worker owns the receive path: it reads batches with recvmmsg, demultiplexes RTP
 *    and RTCP, authenticates, decides what is latched, and publishes where packets go;
 *  - a mixer clock calls media.send, which reads that destination and the outbound SRTP context
 *    under tx_lock, which only the worker (on a latch or a new negotiation) and close ever take
 *    besides it.
 *
 * Where packets go is decided in one place (the worker's publish step) from what the worker
 * knows: the SDP's addresses, and the latched sources. It is the only writer of the destination,
 * so an owner request and a latch can never overwrite each other's result. Owner requests reach
 * the worker through its context in order; each one holds a reference on the transport. The
 * struct groups its fields by the thread allowed to touch them.
 */
#ifndef SB_MEDIA_RTP_TRANSPORT_INT_H
#define SB_MEDIA_RTP_TRANSPORT_INT_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media/rtp_transport.h"
#include "media/srtp_session.h"

#define RX_BATCH 8    /* datagrams per recvmmsg */
#define RX_BUF   1600 /* an MTU and then some; larger datagrams are dropped */
#define KEY_MAX  32

typedef atomic_uint_least64_t counter;

struct addr {
    struct sockaddr_storage ss;
    socklen_t len; /* 0: none */
};

/* One negotiation, owner -> worker. */
struct msg {
    struct rtp_transport *t;
    struct addr rtp, rtcp; /* from the SDP; none on hold */
    bool hold, mux, send_rtp, srtp;
    uint8_t pts[16]; /* bitmap of the negotiated payload types */
    bool rekey;      /* in and out replace the running contexts (NULL: plain RTP) */
    struct srtp_session *in, *out;
};

struct rtp_transport {
    struct media_transport media; /* the stream's face; media.send is ours */

    /* Fixed at alloc. */
    GMainContext *worker;
    char *log_ctx;
    int fd_rtp, fd_rtcp;
    int family;
    uint16_t port;
    char local_str[64];
    int64_t silence_us;
    unsigned latch_packets;

    /* Shared. Counters have one writer each (the worker for rx, the sender for tx). */
    atomic_bool closed;
    GMutex tx_lock;
    struct {
        bool closed, ready;
        bool send_rtp, mux, srtp, latched;
        struct addr rtp, rtcp;
        struct srtp_session *out;
        char remote_str[64];
    } tx; /* under tx_lock */
    counter rx_rtp, rx_rtcp, rx_early, rx_malformed, rx_foreign, rx_bad_pt, rx_auth_fail, rx_replay,
        tx_rtp, tx_rtcp, tx_dropped, tx_errors, latches, latch_changes, applied;

    /* Owner's thread only: the keys running now, to tell a re-key from a repeat. SECRET. */
    struct {
        bool srtp;
        enum srtp_suite suite;
        uint8_t lkey[KEY_MAX], rkey[KEY_MAX];
        size_t klen;
    } o;

    /* Worker's thread only. */
    struct {
        bool closed;
        GSource *src_rtp, *src_rtcp;
        bool remote_set, hold, mux;
        uint8_t pts[16];
        struct addr sdp_rtp, sdp_rtcp;
        bool latched, rtcp_latched;
        struct addr latch, rtcp_latch;
        int64_t latch_rx_us; /* last valid packet from the latched source */
        struct addr cand;    /* a source that may take the latch over */
        unsigned cand_count;
        struct srtp_session *in;
        uint8_t buf[RX_BATCH][RX_BUF];
        struct sockaddr_storage from[RX_BATCH];
    } w;
};

static inline void count(counter *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline uint64_t counted(const counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- worker half (rtp_worker.c) -------------------------------------------------------------- */

/* "ip:port" or "[ip]:port"; "" for no address. Any thread. */
void rtp_addr_str(const struct addr *a, char *out, size_t cap);

/* Idle callback on the worker, once from alloc: starts watching both sockets. data is the
 * transport; the source holds a reference on it. */
gboolean rtp_worker_start(gpointer data);

/* Invoked on the worker for one negotiation: data is the struct msg, which holds a reference on
 * its transport and is freed by the invoke's destroy notify; what the worker takes over (the new
 * SRTP contexts) it clears from the message. */
gboolean rtp_worker_apply(gpointer data);

/* Stops receiving and drops the inbound SRTP context. On the worker's thread, or with its context
 * acquired; idempotent. */
void rtp_worker_teardown(struct rtp_transport *t);

#endif
