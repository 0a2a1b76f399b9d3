/*
 * A plain RTP media transport, for SIP legs: RTP/AVP over two UDP sockets (RTP on an even port,
 * RTCP on the next one, or both on the first with rtcp-mux), optionally protected with SDES-SRTP
 * (keys from a=crypto, media/srtp_session.h), and symmetric RTP (RFC 4961) so that a phone
 * behind NAT is reached where its packets really come from rather than where its SDP says.
 *
 * Where we send: to the address the peer's SDP gave until a valid RTP packet arrives, then to
 * that packet's source ("latching"). A valid packet is RTP version 2 with one of the negotiated
 * payload types and, with SRTP, one that authenticates. The latch moves only when the latched
 * source has been silent for latch_silence_ms and one new source sends latch_packets valid
 * packets in a row; packets from anywhere else are counted and dropped. Nothing is ever sent to
 * an address that neither the SDP nor a latched packet gave. RTCP latches the same way on its
 * own socket (from the IP the RTP came from). A remote address of 0.0.0.0 (RFC 2543 hold) sends
 * nothing at all; a direction without send stops RTP but not RTCP.
 *
 * Threads, as in the WebRTC transport (media/webrtc_transport.h): the sockets and the receive
 * path live on a media worker's context; media.send is called from one mixer clock thread; the
 * owner (main loop) calls the rest. Owner requests reach the worker through its context in
 * order and never block; close() waits for the worker once so that afterwards no receive
 * handler runs. The send side takes one lock of its own, which the other threads take only to
 * change where packets go (a latch, a new SDP, new keys), never per packet.
 */
#ifndef SB_MEDIA_RTP_TRANSPORT_H
#define SB_MEDIA_RTP_TRANSPORT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/srtp_session.h"
#include "media/transport.h"

struct rtp_transport;

struct rtp_transport_cfg {
    GMainContext *worker;        /* media worker context the sockets live on */
    const char *local_ip;        /* numeric IPv4 or IPv6 address to bind ("0.0.0.0": any) */
    uint16_t port_min, port_max; /* RTP on an even port in the range, RTCP on the next; 0 0: any */
    const char *log_ctx;         /* copied */
    uint32_t latch_silence_ms;   /* 0: 2000 */
    unsigned latch_packets;      /* 0: 5 */
};

/* What the negotiation says about the remote end. */
struct rtp_transport_remote {
    const char *addr;      /* c=: a numeric address; 0.0.0.0 or :: for hold */
    uint16_t port;         /* m= port */
    const char *rtcp_addr; /* a=rtcp's address; NULL or "": addr */
    uint16_t rtcp_port;    /* a=rtcp's port; 0: port + 1 */
    bool rtcp_mux;         /* RTCP shares the RTP port, both ways */
    bool send_rtp;         /* the direction lets us send RTP (RTCP flows regardless) */
    const uint8_t *pts;    /* the negotiated payload types (codec, telephone-event) */
    size_t npts;
    /* SDES-SRTP: one suite, our key (we send with it) and the peer's (it sends with it), each
     * master key || salt of srtp_suite_key_len(suite) bytes. Keys that did not change keep the
     * running SRTP contexts (their rollover counters), so a re-INVITE does not disturb media. */
    bool srtp;
    enum srtp_suite suite;
    const uint8_t *local_key, *remote_key;
    size_t key_len;
};

/* Binds both sockets (EADDRINUSE when no pair in the range is free, EINVAL for a bad
 * configuration) and starts receiving on the worker; packets are dropped until set_remote. */
int rtp_transport_alloc(struct rtp_transport **tp, const struct rtp_transport_cfg *cfg);

/* The clear RTP/RTCP face for the stream on top. */
struct media_transport *rtp_transport_media(struct rtp_transport *t);

/* Our RTP port (RTCP is the next one); for the SDP. */
uint16_t rtp_transport_local_port(const struct rtp_transport *t);

/* The remote end from a negotiation, the first or a renegotiation. A changed SDP address
 * starts latching over; the same one keeps the latch. EINVAL for NULLs or more than 128 payload
 * types, EBADMSG for an address that is not a numeric IP (a host name is not resolved here),
 * EAFNOSUPPORT for an address of the other family than ours, EPROTO for keys of the wrong
 * length, ENOMEM. The worker applies it shortly after: until then media.send returns EAGAIN. */
int rtp_transport_set_remote(struct rtp_transport *t, const struct rtp_transport_remote *r);

struct rtp_transport_stats {
    uint64_t rx_rtp, rx_rtcp; /* delivered to the stream */
    uint64_t rx_early;        /* before the remote end was known */
    uint64_t rx_malformed;    /* neither RTP nor RTCP, or truncated */
    uint64_t rx_foreign;      /* from a source other than the latched one */
    uint64_t rx_bad_pt;       /* a would-be source with a payload type not negotiated */
    uint64_t rx_auth_fail;    /* SRTP / SRTCP that did not authenticate */
    uint64_t rx_replay;       /* SRTP replays */
    uint64_t tx_rtp, tx_rtcp; /* sent */
    uint64_t tx_dropped;      /* nowhere to send (hold, no RTCP address yet) */
    uint64_t tx_errors;       /* SRTP or socket refusals */
    unsigned latches;         /* first latches (one per SDP address) */
    unsigned latch_changes;   /* the latch moved to another source */
    unsigned remotes_applied; /* set_remote calls the worker has put into effect */
};

struct rtp_transport_info {
    char local_addr[64];  /* "ip:port" of our RTP socket */
    char remote_addr[64]; /* where RTP goes now; "" when nowhere (hold, or no remote yet) */
    bool latched;         /* remote_addr came from a packet */
    bool rtcp_mux, srtp;
    struct rtp_transport_stats stats;
};
void rtp_transport_get_info(struct rtp_transport *t, struct rtp_transport_info *info);

/* Stops receiving and sending synchronously: after it returns no receive handler runs and
 * media.send returns EAGAIN; the sockets are closed. Owner's thread. mem_deref() without close
 * closes too. */
void rtp_transport_close(struct rtp_transport *t);

#endif
