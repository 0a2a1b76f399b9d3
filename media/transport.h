/*
 * What a media stream sends through and receives from, whatever carries it: a WebRTC transport
 * (ICE + DTLS-SRTP, media/webrtc_transport.h) or, for SIP, a plain RTP socket with optional
 * SDES-SRTP. The stream above sees clear RTP/RTCP in both directions and never knows which.
 *
 * Threads: the receive handler runs on the media worker thread that owns the transport; send
 * may be called from one other thread at a time (the stream's mixer clock) concurrently with
 * receiving. Implementations keep their send-side and receive-side state apart so neither
 * direction takes a lock the other holds.
 */
#ifndef SB_MEDIA_TRANSPORT_H
#define SB_MEDIA_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room an encrypting transport needs after the packet for its auth tag (SRTP / SRTCP). */
#define MEDIA_TRANSPORT_TRAILER 32

/* One clear RTP or RTCP packet (rtcp tells which), decrypted and authenticated. The buffer is
 * the transport's; the handler copies what it keeps. */
typedef void(media_recv_h)(const uint8_t *pkt, size_t len, bool rtcp, void *arg);

struct media_transport {
    /* Protects (when encrypting) and sends pkt[0..len); cap >= len + MEDIA_TRANSPORT_TRAILER
     * gives room for the tag, the buffer may be modified. 0, EAGAIN (not connected yet: the
     * packet is dropped), or an errno. */
    int (*send)(struct media_transport *t, uint8_t *pkt, size_t len, size_t cap, bool rtcp);
    /* Installed by the stream that reads this transport, before the transport can deliver. */
    media_recv_h *recvh;
    void *recv_arg;
};

static inline int media_transport_send(struct media_transport *t, uint8_t *pkt, size_t len,
                                       size_t cap, bool rtcp)
{
    return t->send(t, pkt, len, cap, rtcp);
}

#endif
