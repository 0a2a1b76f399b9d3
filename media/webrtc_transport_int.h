/*
 * The WebRTC transport's state and the plumbing its two halves share. Private to
 * media/webrtc_transport.c and media/webrtc_worker.c: nothing else includes this.
 *
 * The halves follow the thread boundary, so that a reader of either file knows which thread runs
 * it and which group of fields below it may touch. webrtc_transport.c is the API and the owner's
 * side (alloc, set_remote, candidates, the handlers delivered on the owner's context, close, info,
 * media.send for the mixer); webrtc_worker.c is the ICE / DTLS / SRTP state machine that runs on
 * the media worker (the ICE backend's events, the receive path and its demultiplexing, DTLS
 * callbacks, timers, failure reporting). ICE itself is a backend behind media/ice.h: libnice
 * (full) or our ICE-lite agent on the worker's shared socket.
 *
 * Three threads have the transport in view:
 *
 *  - the owner (main loop) calls the API and gets the handlers;
 *  - the media worker owns the ICE agent's sockets and timers, the DTLS connection, inbound
 *    SRTP, and everything the ICE state machine decides;
 *  - a mixer clock calls media.send, which touches only the outbound SRTP session and the
 *    backend's send (libnice locks its agent; the lite agent reads its selected address under a
 *    lock of its own).
 *
 * Owner and worker talk through two FIFO mailboxes (a locked queue plus one idle source while
 * non-empty). Deliveries are always deferred to the target's main loop, never run inline, so a
 * handler can never re-enter the worker code that produced its event, and a worker step can never
 * be interleaved with an owner call. Each scheduled drain holds a reference on the transport.
 * The struct groups its fields by the thread allowed to touch them.
 */
#ifndef SB_MEDIA_WEBRTC_TRANSPORT_INT_H
#define SB_MEDIA_WEBRTC_TRANSPORT_INT_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/dtls.h"
#include "media/ice.h"
#include "media/ice_candidate.h"
#include "media/srtp_session.h"
#include "media/webrtc_transport.h"

#define CRED_SZ   (ICE_CRED_MAX + 1)
#define COMPONENT 1

enum msg_kind {
    /* owner -> worker */
    M_GATHER,
    M_REMOTE,  /* first remote description */
    M_RESTART, /* ICE restart: new local and/or remote credentials */
    M_CANDIDATE,
    M_REMOTE_DONE,
    M_REVOKE,
    /* worker -> owner */
    M_EV_LOCAL_CAND,
    M_EV_GATHERING_DONE,
    M_EV_CONNECTED,
    M_EV_FAILED,
};

struct msg {
    enum msg_kind kind;
    union {
        struct ice_candidate cand;
        struct {
            bool restart_stream, has_remote;
            char lufrag[CRED_SZ], lpwd[CRED_SZ];
            char rufrag[CRED_SZ], rpwd[CRED_SZ];
            struct dtls_fingerprint fp;
            enum dtls_role role;
        } cred;
        struct {
            enum webrtc_failure why;
            char text[ICE_CAND_MAX_LINE];
        } ev;
    } u;
};

struct webrtc_transport;

struct mbox {
    struct webrtc_transport *t;
    GMainContext *ctx;
    GMutex lock;
    GQueue q;
    bool scheduled;
    void (*handle)(struct webrtc_transport *t, struct msg *m);
};

struct webrtc_transport {
    struct media_transport media; /* the stream's face; media.send is ours */

    /* What media.send reads, on media's cache line: a mixer clock sends for hundreds of
     * transports a tick, each from cold memory. */
    struct ice_agent *ice;                   /* fixed at alloc; released by the destructor only */
    atomic_bool closed;                      /* owner gate: set first thing in close() */
    _Atomic(struct srtp_session *) srtp_out; /* published once by the worker */

    /* Fixed at alloc. */
    GMainContext *worker, *owner;
    struct dtls_identity *identity;
    struct webrtc_transport_handlers h;
    void *arg;
    char *log_ctx;
    uint32_t connect_timeout_ms, dtls_timeout_ms;
    struct mbox to_worker, to_owner;

    /* Shared (closed and srtp_out above too). */
    GRecMutex cb_lock; /* held while an owner handler runs */
    GMutex info_lock;  /* guards info and srtp_in (for the stats) */
    struct webrtc_transport_info info;
    struct srtp_session *srtp_in;

    /* Owner's thread only. */
    struct {
        bool gathering;
        bool remote_set;
        bool local_restart_pending;
        char lufrag[CRED_SZ], lpwd[CRED_SZ];
        char rufrag[CRED_SZ], rpwd[CRED_SZ];
        struct dtls_fingerprint fp;
        enum dtls_role role;
    } o;

    /* Worker's thread only. */
    struct {
        bool closed;
        bool remote_set;      /* credentials of the current generation known */
        bool awaiting_remote; /* we restarted, the peer's new credentials not yet here */
        char lufrag[CRED_SZ];
        char rufrag[CRED_SZ];
        struct dtls_conn *dtls;
        bool gathering_done;
        unsigned local_cands;
        bool remote_gathering_done;
        bool ice_up, ever_connected, restarting;
        bool dtls_done, connected_reported, failed_reported;
        enum ice_state state;
        GQueue pending; /* struct ice_candidate *, until their generation's credentials */
        GSource *connect_timer;
        GQueue held; /* GBytes: DTLS datagrams sent before ICE had a pair */
    } w;
};

/* ---- mailboxes (webrtc_transport.c) ---------------------------------------------------------- */

/* A zeroed message; posting hands it to the mailbox, which frees it once handled. */
struct msg *webrtc_msg_new(enum msg_kind kind);

/* Queues m for mb's handler on mb's context; from any thread. */
void webrtc_mbox_post(struct mbox *mb, struct msg *m);

/* ---- worker half (webrtc_worker.c) ----------------------------------------------------------- */

/* The to_worker mailbox's handler: one owner request. Worker only. */
void webrtc_worker_handle(struct webrtc_transport *t, struct msg *m);

/* The ICE backend's handlers: they run on the worker. */
extern const struct ice_agent_handlers webrtc_ice_handlers;

/* Stops timers, says close_notify and tears the ICE agent down (no callback of ours remains). On
 * the worker's thread, or with its context acquired; idempotent. */
void webrtc_worker_teardown(struct webrtc_transport *t);

#endif
