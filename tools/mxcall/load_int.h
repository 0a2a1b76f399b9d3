/*
 * mxload's own leg transport, inside (load_leg.c, load_rx.c): what the set-up on the main loop,
 * the send clock and the receive threads share about one leg.
 *
 * Why mxload does not use media/webrtc_transport for its legs: that transport authenticates and
 * decrypts every packet it receives and hands it up one by one from a GLib poll of each worker's
 * sockets. A load generator needs neither for most of its legs: the RTP header (sequence,
 * timestamp) and the arrival time are in the clear in SRTP, and that is all the on-time figure
 * uses. So a leg here does ICE (the controlling side's checks, the peer's checks answered) and
 * DTLS-SRTP (media/dtls.h) on the main loop, then moves its socket, connected to the selected
 * address, to an epoll receive thread; only the sampled listeners unprotect and decode.
 */
#ifndef SB_TOOLS_MXCALL_LOAD_INT_H
#define SB_TOOLS_MXCALL_LOAD_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media/dtls.h"
#include "media/sdp_offer_answer.h"
#include "media/stun.h"
#include "tools/mxcall/load.h"

#define LOAD_MAX_REMOTE 8 /* remote candidates checked per leg */

struct load_rx;
struct opus_codec_dec;
struct srtp_session;

struct load_arrival {
    int64_t us;
    uint32_t ts;
};

struct load_onset {
    int64_t us;
    uint8_t talker;
};

struct load_remote {
    struct sockaddr_storage addr;
    socklen_t len;
    uint8_t tid[STUN_TID_LEN];
    unsigned sends;
};

struct load_leg {
    struct load *ld;
    unsigned index;
    int talker;
    bool sampled;
    struct load_leg_handlers h;
    void *arg;
    int fd;
    char ufrag[9], pwd[25];
    char *offer_cand;
    uint64_t sess_id;
    uint32_t ssrc;
    char cname[17], stream[17], track[17];

    /* set-up: main loop only */
    guint watch, check_timer, deadline, idle;
    bool closed, reported, has_remote;
    char rufrag[SDP_ICE_MAX + 1], rpwd[SDP_ICE_MAX + 1];
    struct load_remote remote[LOAD_MAX_REMOTE];
    unsigned nremote;
    bool selected;
    struct sockaddr_storage sel;
    socklen_t sel_len;
    struct sockaddr_storage dtls_from; /* before a pair is selected, DTLS answers go there */
    socklen_t dtls_from_len;
    struct dtls_conn *dtls;
    uint64_t tiebreaker;
    bool on_rx; /* the socket belongs to a receive thread now */

    atomic_bool connected;         /* SRTP keyed and on a receive thread; read by the clock */
    atomic_bool rx_closed;         /* the receive thread skips it from now on */
    struct srtp_session *srtp_out; /* clock thread, once connected */
    struct srtp_session *srtp_in;  /* sampled listeners only: their receive thread */

    /* send side: clock thread */
    uint8_t pt, level_id;
    uint16_t seq;
    uint32_t ts0;
    bool marked;
    uint64_t tx, tx_fail;

    /* receive side: its receive thread */
    struct load_arrival *arr;
    size_t narr, cap;
    uint64_t rx, rx_bad;
    struct opus_codec_dec *dec;
    bool on[LOAD_MAX_TALKERS];
    unsigned run[LOAD_MAX_TALKERS];   /* blocks in a row above the on level */
    int64_t run_us[LOAD_MAX_TALKERS]; /* when that run began */
    double power[LOAD_MAX_TALKERS];   /* sum of block powers in the window */
    uint64_t blocks;
    struct load_onset onsets[LOAD_MAX_ONSETS];
    unsigned nonsets;
};

/* ---- receive threads (load_rx.c) ---- */

/* threads epoll receive threads (1..16). */
int load_rx_alloc(struct load_rx **rp, unsigned threads);
/* The leg's socket joins a thread's epoll set (the leg is referenced until the free). */
int load_rx_add(struct load_rx *rx, struct load_leg *leg);
/* Stops and joins the threads; idempotent. mem_deref() afterwards drops the legs. */
void load_rx_stop(struct load_rx *rx);
/* The threads' CPU time so far (ns, summed), for the figures. */
int64_t load_rx_cpu_ns(struct load_rx *rx);
struct load_rx_stats {
    uint64_t packets, syscalls, wakeups;
};
void load_rx_stats(struct load_rx *rx, struct load_rx_stats *st);

/* One datagram of a leg on its receive thread (load_leg.c). pkt may be changed in place. */
void load_leg_rx(struct load_leg *leg, uint8_t *pkt, size_t len, int64_t now_us);

#endif
