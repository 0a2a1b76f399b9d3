/*
 * One negotiated audio session with one remote endpoint: the offer/answer exchange
 * (media/sdp_offer_answer.h), the transport it sets up and the audio stream on top
 * (media/audio_stream.h). Two profiles, chosen in the configuration:
 *
 *  - SDP_PROFILE_WEBRTC (the default), for Matrix calls: ICE + DTLS-SRTP
 *    (media/webrtc_transport.h), trickled candidates.
 *  - SDP_PROFILE_RTP_AVP, for SIP calls: plain RTP with symmetric latching, optionally SDES-SRTP
 *    (media/rtp_transport.h). No ICE, DTLS or trickle: local candidates never come, gathering is
 *    done from the start (media_session_gathering_done() is true and the handler never fires),
 *    and `connected` fires once the first negotiation has set the remote address and the stream
 *    (a SIP call is up at its 200 OK, whatever the media does); `failed` never fires.
 *
 * A call (signalling/, sip/) drives it with SDP text (and candidate strings for WebRTC) and gets
 * back SDP text, local candidates and connection state; a conference (conf/) reads and writes
 * the audio stream. Renegotiation (hold, resume, ICE restart, a video m-line added and refused,
 * new SDES keys) goes through the same calls and never interrupts the stream; one that would
 * change the running stream's codec is refused (ENOTSUP) and leaves the session as it was.
 *
 * Threads: every function here is called on the owner's thread (the main loop); handlers come
 * back on it too.
 */
#ifndef SB_MEDIA_SESSION_H
#define SB_MEDIA_SESSION_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/ice.h"
#include "media/sdp_offer_answer.h"

struct media_session;
struct audio_stream;
struct dtls_identity;
struct rtp_transport_info;

enum media_failure {
    MEDIA_FAIL_ICE,         /* no candidate pair worked in time */
    MEDIA_FAIL_DTLS,        /* the DTLS handshake failed */
    MEDIA_FAIL_FINGERPRINT, /* the peer's certificate does not match its SDP */
    MEDIA_FAIL_CONSENT,     /* connected, then the peer stopped answering consent checks */
    MEDIA_FAIL_CLOSED,      /* the peer closed its end (DTLS close_notify): it is hanging up */
};

const char *media_failure_name(enum media_failure f);

struct media_session_handlers {
    void (*local_candidate)(const char *candidate, void *arg);
    void (*gathering_done)(void *arg);
    void (*connected)(void *arg);
    void (*failed)(enum media_failure why, const char *detail, void *arg);
};

struct media_session_cfg {
    GMainContext *worker; /* media worker the transport lives on */
    const char *local_ip;
    uint16_t port_min, port_max;
    struct dtls_identity *identity; /* WEBRTC only (RTP_AVP needs none) */
    uint32_t connect_timeout_ms;    /* ICE + DTLS must finish within this; 0: 30 s */
    uint32_t opus_bitrate;          /* 0: default */
    int opus_complexity;            /* -1: default */
    const char *log_ctx;            /* copied */
    /* WEBRTC: ICE_MODE_LITE (0, the default: ICE-lite on the worker's shared socket, a=ice-lite
     * in our SDP when we answer) or ICE_MODE_FULL (libnice); see media/ice.h. */
    enum ice_mode ice;
    /* WEBRTC, lite: nothing from the peer this long once connected fails with
     * MEDIA_FAIL_CONSENT; 0: 30 s. */
    uint32_t consent_timeout_ms;

    enum sdp_profile profile; /* SDP_PROFILE_WEBRTC (0, the default) or SDP_PROFILE_RTP_AVP */
    enum sdp_srtp srtp;       /* RTP_AVP: SDES off (0) / optional / required */
    /* Codec preference order (with telephone-event entries); copied. NULL: the profile's
     * default (sdp_codecs_default). */
    const struct sdp_codec *codecs;
    size_t ncodecs;
    /* RTP_AVP: the address our SDP gives (a public IP in front of NAT); NULL: local_ip, which
     * then must not be a wildcard. Copied. */
    const char *public_addr;
};

/* offerer: we send the offer (and so control ICE); otherwise we answer one. */
int media_session_alloc(struct media_session **sp, const struct media_session_cfg *cfg,
                        bool offerer, const struct media_session_handlers *h, void *arg);

/*
 * Offer/answer. Local gathering starts at alloc; an SDP made before it finished carries the
 * candidates found so far and the rest trickle through local_candidate. Produced SDP is a mem
 * string (mem_deref). Errors: EBADMSG for SDP we cannot parse, ENOTSUP for an offer or answer
 * without a usable audio section or a common codec (or, RTP_AVP, without the SRTP the mode
 * requires), EPROTO for one that breaks the rules (RTP/SAVP without a=crypto, an answer naming
 * keys we did not offer), each with a message in err. With SDES the SDP text carries keys, ours
 * and the peer's: log the error messages (they never quote a key), never the SDP itself.
 */
int media_session_create_offer(struct media_session *s, char **sdp);
int media_session_set_remote_answer(struct media_session *s, const char *sdp, char *err,
                                    size_t errlen);
/* A remote offer, initial or a renegotiation (hold, resume, ICE restart, added m-lines);
 * followed by media_session_create_answer(). */
int media_session_set_remote_offer(struct media_session *s, const char *sdp, char *err,
                                   size_t errlen);
int media_session_create_answer(struct media_session *s, char **sdp);

/* Our own renegotiation of a running session (hold, resume), whichever side made the first
 * offer: ICE, DTLS and the agreed codec stay, the direction becomes send/recv (hold: send only;
 * resume: both), and every later SDP of ours asks for that direction too. The answer goes to
 * media_session_set_remote_answer(); a remote offer arriving first rolls ours back. EINVAL
 * before the first negotiation finished or while a remote offer awaits our answer, EALREADY
 * while our previous re-offer is unanswered. */
int media_session_create_reoffer(struct media_session *s, bool send, bool recv, char **sdp);

/* Trickled remote candidates ("candidate:..."); "" means end of candidates. Garbage returns
 * EBADMSG (logged by the caller), mDNS ENOTSUP; neither harms the session. RTP_AVP: ENOTSUP. */
int media_session_add_remote_candidate(struct media_session *s, const char *candidate);

/* Whether local gathering has finished (then our SDP carries every candidate). */
bool media_session_gathering_done(const struct media_session *s);

/* The audio stream, NULL until the first offer/answer completed. */
struct audio_stream *media_session_audio(struct media_session *s);

/* What the latest negotiation allows: send to the peer / receive from it. Both false while the
 * peer holds us with a=inactive; recv only with a=sendonly from them (we answer recvonly). */
void media_session_direction(const struct media_session *s, bool *send, bool *recv);

/* The msid stream id our SDP announces (for sdp_stream_metadata). */
const char *media_session_stream_id(const struct media_session *s);

/* Monotonic µs of the last RTP/RTCP received (0: none yet), for the media timeout. */
uint64_t media_session_last_rx_us(const struct media_session *s);

struct media_session_info {
    bool connected;
    char local_addr[64], remote_addr[64];
    int64_t ice_connected_us, dtls_done_us; /* monotonic, 0 until then (always 0 for RTP_AVP) */
    char codec[48];
    char srtp[40]; /* the DTLS-SRTP profile or SDES suite; "" while (or when) none */
};
void media_session_get_info(struct media_session *s, struct media_session_info *info);

/* RTP_AVP: the plain RTP transport's addresses, latch and counters (media/rtp_transport.h).
 * ENOENT for a WebRTC session. */
int media_session_rtp_info(struct media_session *s, struct rtp_transport_info *info);

/* Stops ICE and all callbacks synchronously. mem_deref() afterwards. */
void media_session_close(struct media_session *s);

#endif
