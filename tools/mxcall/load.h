/*
 * mxload: mxcall's many-participants load mode. One process puts N participants into one
 * conference, on switchboard (Matrix calls to the bot, through a homeserver) or on Janus
 * AudioBridge (its HTTP API), over the same media path either way: ICE + DTLS-SRTP + Opus, the
 * real webrtc transport of media/.
 *
 * What makes a thousand participants cheap enough for one core:
 *   - no conference, no mixer, no encoder per participant: every payload is encoded once at
 *     start (each talker's tone bursts, one silent frame shared by all the silent ones) and a
 *     single 20 ms clock thread stamps a header on it and hands it to each leg's transport;
 *   - received mix packets are neither authenticated, decrypted nor decoded, only timed
 *     (arrival and the RTP timestamp, in the clear in SRTP), except at a few sampled listeners,
 *     which unprotect, decode and look for the talkers' tone onsets;
 *   - each leg's socket is connected to the server's address once ICE selected it (send()
 *     without an address); receive threads drain the ready sockets of an epoll set with
 *     recvmmsg into their own buffers;
 *   - signalling is shared: one /sync (an observer in the room) or one Janus long-poll carries
 *     every participant's events, routed to the legs by call id or handle id.
 *
 * Threads: the main loop (signalling, ICE and DTLS set-up, results), the receive threads
 * (load_rx.c: epoll over connected legs' sockets, recvmmsg, load_leg_rx), and the send clock
 * (load.c). Each leg's receive-side counters are written by its receive thread only and read
 * by the main loop after the window closed.
 */
#ifndef SB_TOOLS_MXCALL_LOAD_H
#define SB_TOOLS_MXCALL_LOAD_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct load;
struct load_leg;
struct http_client;
struct load_rx;
struct dtls_identity;

#define LOAD_MAX_TALKERS 8
#define LOAD_MAX_ONSETS  512 /* burst onsets kept per talker (sent) and per sampled listener */

/* One participant's media: its own socket, ICE (controlling) and DTLS-SRTP (load_leg.c), the
 * send state the clock uses and the receive-side record of mix packets. */
typedef void(load_leg_ready_h)(struct load_leg *leg, const char *offer_sdp, void *arg);
typedef void(load_leg_candidate_h)(struct load_leg *leg, const char *candidate, void *arg);
typedef void(load_leg_state_h)(struct load_leg *leg, bool connected, const char *why, void *arg);

struct load_leg_handlers {
    load_leg_ready_h *ready;         /* gathering done: our offer, with every candidate */
    load_leg_candidate_h *candidate; /* trickled candidate (before ready only); may be NULL */
    load_leg_state_h *state;         /* connected, or failed (why) */
};

int load_leg_alloc(struct load_leg **lp, struct load *ld, unsigned index,
                   const struct load_leg_handlers *h, void *arg);
/* The answer to our offer: ICE credentials, fingerprint, candidates. EBADMSG / ENOTSUP with a
 * message in err. */
int load_leg_set_answer(struct load_leg *leg, const char *sdp, char *err, size_t errlen);
int load_leg_add_candidate(struct load_leg *leg, const char *candidate);
unsigned load_leg_index(const struct load_leg *leg);
bool load_leg_connected(const struct load_leg *leg);
/* Closes the transport (no handler runs after); mem_deref() afterwards. */
void load_leg_close(struct load_leg *leg);

/* Results of one leg, read on the main loop once the clock stopped and the window closed. */
struct load_leg_result {
    uint64_t rx_packets; /* in the window */
    uint64_t expected;   /* one per 20 ms of the window */
    uint64_t on_time;    /* arrived within 20 ms of the fitted schedule */
    uint64_t tx_packets, tx_failed;
    uint64_t rx_bad; /* sampled listeners: packets that did not authenticate */
    /* sampled listeners: per talker, how many onsets were heard and the latencies (µs) */
    bool sampled;
    int talker; /* -1: silent */
    unsigned heard[LOAD_MAX_TALKERS];
    double level_db[LOAD_MAX_TALKERS]; /* mean level of each talker's tone over the window */
};
void load_leg_result(struct load_leg *leg, struct load_leg_result *r, GArray *latencies_us);

/* ---- the load (load.c) ---- */

struct load_cfg {
    unsigned n;       /* participants */
    unsigned talkers; /* the first ones talk (tone bursts), the rest are silent */
    unsigned sampled; /* silent listeners that decode too (talkers always decode) */
    double settle_s;  /* after the last one connected, before the window */
    double seconds;   /* the measurement window */
    double timeout_s; /* set-up must finish within this */
    int complexity;   /* Opus complexity of the payloads we send, and asked of Janus */
    const char *media_ip;
    uint16_t port_min, port_max;
    unsigned parallel; /* set-ups in flight at once */
};

/* What a signalling driver offers load.c (see load_driver_ready below). */
struct load_driver {
    void *obj;
    void (*join)(void *obj, unsigned index);
    void (*leave_all)(void *obj);
    unsigned (*pending)(void *obj);
};

struct load {
    struct load_cfg cfg;
    GMainLoop *loop;
    struct http_client *http;
    struct load_rx *rx; /* the receive threads (load_rx.c) */
    struct dtls_identity *identity;
    _Atomic(struct load_leg *) *legs; /* cfg.n; set once connected, read by the clock */
    unsigned connected, failed;
    /* The window on the monotonic clock (µs); 0 until it is set. The receive path records
     * only inside it. */
    _Atomic int64_t win_start_us, win_end_us;
    /* Talker t's burst onsets as sent (monotonic µs), written by the clock thread. */
    int64_t onset_us[LOAD_MAX_TALKERS][LOAD_MAX_ONSETS];
    _Atomic unsigned nonsets[LOAD_MAX_TALKERS];
    double talker_hz[LOAD_MAX_TALKERS];
    struct load_driver drv;
};

/* The payload a leg sends for clock tick `tick` (20 ms steps from the clock's start), and its
 * RFC 6464 level (-dBov, voice flag). Shared, read-only once the clock runs. */
const uint8_t *load_payload(const struct load *ld, int talker, uint64_t tick, size_t *len,
                            uint8_t *level, bool *voice);

/* Frame positions of the bursts in the talkers' loops: talker t is on for frames
 * [burst_start(t), burst_start(t) + LOAD_BURST_FRAMES) of every LOAD_PERIOD_FRAMES. */
#define LOAD_PERIOD_FRAMES 150 /* 3 s */
#define LOAD_BURST_FRAMES  60  /* 1.2 s */
unsigned load_burst_start(unsigned talker);

/* The leg's send on the clock thread: one packet for this tick; whether it went out. */
bool load_leg_send(struct load_leg *leg, uint64_t tick);

/* ---- signalling drivers (load_matrix.c, janus.c) ----
 * A driver prepares (logs in, syncs, creates the room...) and says load_driver_ready(); then
 * load.c asks it to join participants one by one, a bounded number in flight, and the driver
 * reports each outcome with load_leg_done() (once per index). At the end leave_all() hangs up
 * every call; pending() says how many requests are still going out. */

void load_driver_ready(struct load *ld);
void load_driver_failed(struct load *ld, const char *why);
void load_leg_done(struct load *ld, unsigned index, struct load_leg *leg, bool connected,
                   const char *why);

#endif
