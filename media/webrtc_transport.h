/*
 * A WebRTC media transport: ICE with one component (BUNDLE + rtcp-mux), DTLS-SRTP over it (OpenSSL
 * for the handshake, media/srtp_session on libcrypto for the packets) and RFC 7983 demultiplexing
 * of what arrives. ICE is one of two backends (media/ice.h): ICE-lite on the media worker's shared
 * socket (the default: one socket, one poll and batched system calls for all of a worker's legs),
 * or libnice's full ICE (trickle, RFC 7675 consent freshness) with a socket per leg.
 *
 * The remote DTLS certificate must match the fingerprint the remote SDP carried; anything else
 * fails the transport. No RTP is accepted or sent before DTLS completes, and packets are only
 * ever sent to the candidate pair ICE selected, so nothing a peer says can redirect media to an
 * address that did not pass connectivity checks.
 *
 * Threads: created and driven from the owner's thread (the main loop); the agent lives on a media
 * worker's context; the handlers below are invoked on the context that was thread-default when
 * the transport was allocated (the owner's), never on the worker.
 */
#ifndef SB_MEDIA_WEBRTC_TRANSPORT_H
#define SB_MEDIA_WEBRTC_TRANSPORT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/dtls.h"
#include "media/ice.h"
#include "media/transport.h"

struct webrtc_transport;

enum webrtc_failure {
    WEBRTC_FAIL_ICE,         /* connectivity checks failed: no pair works */
    WEBRTC_FAIL_DTLS,        /* handshake failed or timed out */
    WEBRTC_FAIL_FINGERPRINT, /* the peer's certificate does not match its SDP fingerprint */
    WEBRTC_FAIL_CONSENT,     /* was connected, then consent expired (RFC 7675): peer gone */
    WEBRTC_FAIL_CLOSED,      /* the peer closed DTLS (close_notify): it is hanging up */
};

struct webrtc_transport_handlers {
    /* A local candidate in SDP attribute form without "a=" ("candidate:1 1 udp ..."). */
    void (*local_candidate)(const char *candidate, void *arg);
    void (*gathering_done)(void *arg);
    /* ICE connected and DTLS done with a verified fingerprint: media can flow. At most once. */
    void (*connected)(void *arg);
    /* At most once, and never followed by connected; a DTLS close_notify from the peer (it
     * hung up) is WEBRTC_FAIL_DTLS with a detail saying so. The handler may close the transport. */
    void (*failed)(enum webrtc_failure why, const char *detail, void *arg);
};

struct webrtc_transport_cfg {
    GMainContext *worker;        /* media worker context the agent lives on */
    const char *local_ip;        /* the only address host candidates are gathered on */
    uint16_t port_min, port_max; /* both 0: any port (lite: the range of the shared socket) */
    bool controlling;            /* ICE role: the offerer controls */
    struct dtls_identity *identity;
    const char *log_ctx;         /* copied */
    uint32_t connect_timeout_ms; /* set_remote to connected (ICE + DTLS); 0: 30 s */
    uint32_t dtls_timeout_ms;    /* DTLS handshake, from ICE connected; 0: 20 s */
    /* ICE_MODE_LITE (0, the default) or ICE_MODE_FULL (libnice). With LITE the role decides.
     * controlling = false (we answer): ICE-lite on the worker's shared socket (port_min..max
     * gives that socket's port, one per worker); webrtc_transport_ice_lite() is true and our SDP
     * must say a=ice-lite; the peer (full, or our controlling lite) does the checks.
     * controlling = true (we offer): a minimal controlling agent on a socket of its own from the
     * range. It sends Binding requests with USE-CANDIDATE and ICE-CONTROLLING to each remote
     * candidate (IP literals; mDNS peers reach it through their own checks), paced every 50 ms
     * and retransmitted (RTO 500 ms doubling, 7 sends), selects the first that succeeds, answers
     * the peer's checks, and keeps consent with a check every ~5 s (or consent_timeout_ms / 3).
     * It works against a full agent (tested with libnice, which Janus uses) and against our lite
     * answerer; webrtc_transport_ice_lite() is false (no a=ice-lite). This is mxcall's cheap load
     * generator: no libnice agent, no gathering beyond one host candidate. media_session_cfg.ice
     * passes the mode through (media/session.h). */
    enum ice_mode ice;
    /* lite: once connected, nothing heard from the peer (checks, packets; for the controlling
     * side, answers to its consent checks) this long fails the transport with
     * WEBRTC_FAIL_CONSENT; 0: 30 s (RFC 7675). libnice keeps its own. */
    uint32_t consent_timeout_ms;
};
/* The connect timeout fails the transport with WEBRTC_FAIL_ICE (or WEBRTC_FAIL_DTLS when ICE had
 * connected). It is what ends a hopeless attempt: many peers never send end-of-candidates, so
 * ICE alone may never declare failure. An ICE restart re-arms it for the new checks. */

int webrtc_transport_alloc(struct webrtc_transport **tp, const struct webrtc_transport_cfg *cfg,
                           const struct webrtc_transport_handlers *h, void *arg);

/* The clear RTP/RTCP face for the stream on top. */
struct media_transport *webrtc_transport_media(struct webrtc_transport *t);

/* Whether our SDP must say a=ice-lite: the lite backend on the controlled (answering) side. */
bool webrtc_transport_ice_lite(const struct webrtc_transport *t);

/* Our current ICE credentials; they change on an ICE restart (ours or the peer's), so read them
 * again for each SDP. The strings are the transport's: valid until the free, overwritten by a
 * restart. Owner's thread. */
void webrtc_transport_local_credentials(const struct webrtc_transport *t, const char **ufrag,
                                        const char **pwd);

/* We initiate an ICE restart (a new offer): new local credentials at once, read them with
 * webrtc_transport_local_credentials(); local_candidate / gathering_done are reported again for
 * the new generation. The peer's answer then comes through webrtc_transport_set_remote(). */
int webrtc_transport_restart_ice(struct webrtc_transport *t);

/* Starts gathering; local_candidate / gathering_done follow (host candidates at once). */
int webrtc_transport_gather(struct webrtc_transport *t);

/* The remote side's ICE credentials, DTLS fingerprint ("sha-256", "AB:CD:...") and our DTLS
 * role, from its SDP. Checks start once this is set. Calling it again with new ICE credentials
 * restarts ICE (an ICE restart in a renegotiation; our credentials change too, and our candidates
 * are reported again); DTLS and SRTP carry on. Calling it again with the same credentials is a
 * no-op; a different fingerprint or role on an existing association is refused (ENOTSUP).
 * EBADMSG for malformed credentials or fingerprint, EINVAL for NULLs. */
int webrtc_transport_set_remote(struct webrtc_transport *t, const char *ufrag, const char *pwd,
                                const char *fp_alg, const char *fingerprint, enum dtls_role role);

/* One remote candidate ("candidate:..." with or without "a="). mDNS (.local) host candidates
 * cannot be resolved here and are skipped with a debug line (returns ENOTSUP): the peer's
 * checks reach us anyway and become peer-reflexive candidates. TCP candidates and components
 * other than 1 (we do UDP with rtcp-mux only) are skipped the same way. EBADMSG for garbage
 * (logged with the log context). Candidates may come before or after set_remote; they are kept
 * until the remote credentials are known. A candidate whose ufrag names another generation than
 * the current remote one is held for a coming restart (or dropped by it). */
int webrtc_transport_add_remote_candidate(struct webrtc_transport *t, const char *candidate);

/* The peer said it has no more candidates. Optional: many peers never say so. */
void webrtc_transport_remote_gathering_done(struct webrtc_transport *t);

/* Revokes our consent to receive (RFC 7675 section 5.2): from now on we refuse the peer's consent
 * checks, so it stops sending within seconds (its transport fails with consent lost) even when
 * our hangup never reaches it through signalling. Undone only by an ICE restart. */
void webrtc_transport_revoke_consent(struct webrtc_transport *t);

struct webrtc_transport_info {
    bool connected;
    char local_addr[64]; /* selected pair, "ip:port" */
    char remote_addr[64];
    int64_t ice_connected_us; /* monotonic time ICE connected, 0 until then */
    int64_t dtls_done_us;     /* monotonic time DTLS finished, 0 until then */
    char srtp_profile[40];
    unsigned ice_restarts; /* ICE restarts that reconnected */
    /* SRTP packet counters (see media/srtp_session.h) */
    uint64_t srtp_rx_packets, srtp_rx_auth_fail, srtp_rx_replay, srtp_rx_other_fail;
    uint64_t srtp_tx_packets, srtp_tx_fail;
    /* lite: checks for this leg answered with success, and refused for a wrong password (401) */
    uint64_t ice_checks, ice_unauthorized;
};
void webrtc_transport_get_info(struct webrtc_transport *t, struct webrtc_transport_info *info);

/* Stops the agent and all callbacks synchronously; mem_deref() afterwards frees. Closing first
 * lets an owner drop its own references without a callback racing in. Sends close_notify if DTLS
 * was up. After it returns no handler runs and the worker holds no callback of ours; media.send
 * returns EAGAIN. Call it from the owner's thread (a handler may call it). mem_deref() without
 * close() closes too. */
void webrtc_transport_close(struct webrtc_transport *t);

#endif
