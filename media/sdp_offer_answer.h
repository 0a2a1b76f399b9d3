/*
 * Offer/answer (RFC 3264) for one audio session, in two profiles:
 *
 *  - WEBRTC: what browsers and other WebRTC stacks speak (RFC 8829 JSEP): UDP/TLS/RTP/SAVPF, ICE
 *    credentials and candidates (RFC 8839, trickle RFC 8838/8840), DTLS-SRTP fingerprint and setup
 *    role (RFC 8122, 5763, 8842, 4145), BUNDLE (RFC 8843), rtcp-mux (RFC 5761), mid, msid.
 *  - RTP_AVP: plain RTP to the address and port in the peer's c= and m= lines, as SIP phones
 *    speak it. SDES-SRTP (RTP/SAVP with a=crypto) would be a third profile beside it.
 *
 * We accept exactly one audio m-section and refuse every other one, because a leg carries one
 * audio stream into the mixer; the codec is one codec (plus the telephone-event at its clock
 * rate), chosen in our preference order, so the stream never has to follow a codec switch.
 *
 * The negotiated result is a plain struct (sdp_audio_params) the caller keeps: it configures
 * the transport and the audio stream, and, passed back as sdp_local.current, lets the next
 * negotiation notice an ICE restart, keep the DTLS role (RFC 8842) and keep the codec.
 *
 * Remote text is checked before it is copied out: ICE credentials (ice-char, at most 256), the
 * fingerprint (a known hash, hex pairs of the hash's length), mids (tokens). Errors: EBADMSG
 * for a malformed attribute, EPROTO when a required one is missing or contradicts the offer,
 * ENOTSUP when there is nothing we can accept (no usable audio m-section, no common codec), each
 * with a message in err; EINVAL for a caller's mistake. Nothing here logs: the caller knows which
 * call the SDP belongs to and logs err with that context.
 *
 * Pure functions over their arguments (no globals, no locks): any thread may call them.
 */
#ifndef SB_MEDIA_SDP_OFFER_ANSWER_H
#define SB_MEDIA_SDP_OFFER_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/dtls.h"
#include "media/sdp.h"

#define SDP_MAX_CANDIDATES 32 /* taken from one SDP; more are ignored (and counted) */
#define SDP_MID_MAX        64
#define SDP_ICE_MAX        256      /* ice-ufrag / ice-pwd, RFC 8839 */
#define SDP_FP_MAX         (64 * 3) /* "AB:CD:..." of a SHA-512 */

#define SDP_URI_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

enum sdp_profile {
    SDP_PROFILE_WEBRTC,
    SDP_PROFILE_RTP_AVP,
};

/* One entry of our codec preference list. */
struct sdp_codec {
    const char *name;    /* "opus", "PCMU", "PCMA", "G722", "telephone-event" (any case) */
    uint32_t clock_rate; /* the RTP clock: 48000 for opus, 8000 for G722 (RFC 3551) */
    uint8_t channels;    /* 2 for opus (RFC 7587 always says /2), else 1 */
    uint8_t pt;          /* the payload type we offer (answers use the offer's) */
    const char *fmtp;    /* parameters we send, or NULL ("minptime=10;useinbandfec=1") */
    const char *rtcp_fb; /* one a=rtcp-fb value we offer for it, or NULL; answered only when
                            the offer had it */
};

/* Our default preference lists. WEBRTC: opus/111, telephone-event/48000/126. RTP_AVP: opus/111,
 * G722/9, PCMU/0, PCMA/8, telephone-event/48000/126, telephone-event/8000/101. */
const struct sdp_codec *sdp_codecs_default(enum sdp_profile profile, size_t *count);

enum sdp_setup {
    SDP_SETUP_NONE, /* no a=setup */
    SDP_SETUP_ACTPASS,
    SDP_SETUP_ACTIVE,
    SDP_SETUP_PASSIVE,
};

/* What one negotiation gave, for the one audio m-section (all strings are copies, except the
 * candidates: see there). */
struct sdp_audio_params {
    enum sdp_profile profile;
    unsigned mline;            /* index of the audio m-section */
    char mid[SDP_MID_MAX + 1]; /* "" when the section had no a=mid */
    bool bundle;               /* the section was in a BUNDLE group both sides agreed on */

    /* the codec, with the payload type the offer gave it */
    char codec[32];
    uint8_t pt;
    uint32_t clock_rate;
    uint8_t channels;
    /* opus: what the remote prefers to receive (its fmtp, RFC 7587), for our encoder */
    bool opus_fec;               /* useinbandfec=1 */
    bool opus_dtx;               /* usedtx=1 */
    bool opus_stereo;            /* stereo=1 */
    uint32_t opus_maxavgbitrate; /* maxaveragebitrate, 0 when absent */
    uint8_t dtmf_pt;             /* telephone-event at the codec's clock rate, 0: none */
    uint8_t level_ext_id;        /* RFC 6464 audio level extension id 1..14, 0: none */
    unsigned ptime;              /* remote a=ptime in ms, 0 when absent */

    /* direction, from our point of view; dir is what our SDP says */
    bool send, recv;
    enum sdp_dir dir;

    /* the remote transport (WEBRTC) */
    char ice_ufrag[SDP_ICE_MAX + 1];
    char ice_pwd[SDP_ICE_MAX + 1];
    bool ice_lite;
    bool ice_restart;             /* the credentials differ from sdp_local.current's */
    char fp_alg[16];              /* "sha-256" (lower case) */
    char fingerprint[SDP_FP_MAX]; /* "AB:CD:..." (upper case) */
    enum sdp_setup remote_setup;  /* as the remote wrote it */
    enum dtls_role dtls_role;     /* ours: CLIENT when we are a=setup:active */
    bool dtls_restart;            /* fingerprint or role changed from sdp_local.current's */
    bool rtcp_mux;
    /* "candidate:..." strings found in the SDP. They point into the session that was read and
     * are valid only while it is held; they are not carried by sdp_local.current. */
    const char *candidates[SDP_MAX_CANDIDATES];
    size_t ncandidates;
    size_t candidates_dropped; /* past SDP_MAX_CANDIDATES */
    bool end_of_candidates;
    uint32_t remote_ssrc; /* first a=ssrc, 0 when none */

    /* the remote's c= address and m= port (where plain RTP goes; for WEBRTC only informative) */
    char remote_addr[64];
    uint16_t remote_port;
};

/* What we put into our description. */
struct sdp_local {
    enum sdp_profile profile;
    uint64_t sess_id, sess_version; /* o= line; the caller increments the version on changes */

    /* WEBRTC: ICE and DTLS */
    const char *ice_ufrag, *ice_pwd;
    bool ice_lite;
    const char *fp_alg;            /* "sha-256" */
    const char *fingerprint;       /* "AB:CD:..." */
    const char *const *candidates; /* "candidate:..." strings gathered so far */
    size_t ncandidates;
    bool candidates_done; /* gathering finished: a=end-of-candidates */

    /* c= and m= port. NULL: the first candidate's address and port (WEBRTC), or 0.0.0.0 and 9 when
     * there is none yet (RFC 8829). RTP_AVP needs them: where the peer sends RTP. */
    const char *addr;
    uint16_t port;

    uint32_t ssrc; /* a=ssrc:<ssrc> cname:<cname> (WEBRTC), 0: none */
    const char *cname;
    const char
        *msid_stream; /* a=msid:<stream> <track>, a=msid-semantic: WMS <stream>; NULL: none */
    const char *msid_track;
    enum sdp_dir dir; /* what we want, normally SDP_DIR_SENDRECV */

    const struct sdp_codec *codecs; /* preference order; NULL: sdp_codecs_default(profile) */
    size_t ncodecs;

    /* The result of the previous negotiation of this session, NULL for the first. */
    const struct sdp_audio_params *current;
};

/* Negotiates a remote offer, initial or renegotiation, without writing an answer: fills out
 * (which may be the same object as local->current). */
int sdp_offer_read(const struct sdp_session *offer, const struct sdp_local *local,
                   struct sdp_audio_params *out, char *err, size_t errlen);

/* sdp_offer_read, then our answer as a mem string (mem_deref). Every m-section but the accepted
 * audio one is refused (port 0, a=mid only); the BUNDLE group lists the accepted mid only. On a
 * renegotiation (hold, resume, ICE restart, added m-lines) pass the previous result as
 * local->current and an incremented session version. out may be NULL. */
int sdp_answer_create(const struct sdp_session *offer, const struct sdp_local *local, char **answer,
                      struct sdp_audio_params *out, char *err, size_t errlen);

/* Our offer: one audio m-section (mid "0" in WEBRTC, with BUNDLE, a=setup:actpass, rtcp-mux, the
 * audio level extension as id 1), our codecs in preference order. */
int sdp_offer_create(const struct sdp_local *local, char **offer);

/* Reads the answer to an offer made from offered: the audio section must be accepted, with
 * codecs we offered, and (WEBRTC) ICE credentials, a fingerprint and a=setup active or passive
 * (active: we are the DTLS server). */
int sdp_answer_read(const struct sdp_session *answer, const struct sdp_local *offered,
                    struct sdp_audio_params *out, char *err, size_t errlen);

#endif
