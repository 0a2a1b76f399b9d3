/*
 * Offer/answer (RFC 3264) for one audio session, in two profiles:
 *
 *  - WEBRTC: what browsers and other WebRTC stacks speak (RFC 8829 JSEP): UDP/TLS/RTP/SAVPF, ICE
 *    credentials and candidates (RFC 8839, trickle RFC 8838/8840), DTLS-SRTP fingerprint and setup
 *    role (RFC 8122, 5763, 8842, 4145), BUNDLE (RFC 8843), rtcp-mux (RFC 5761), mid, msid.
 *  - RTP_AVP: plain RTP to the address and port in the peer's c= and m= lines (a=rtcp, optional
 *    rtcp-mux), as SIP phones speak it, optionally protected with SDES-SRTP (RFC 4568 a=crypto,
 *    RFC 7714 for AES-GCM). SDES is a mode of this profile rather than a third one, because SIP
 *    devices mix the two: "best effort" SRTP puts a=crypto lines into an RTP/AVP offer (the
 *    answer decides whether media is protected), RTP/SAVP insists on them. sdp_local.srtp says
 *    which we do: OFF (plain RTP/AVP only), OPTIONAL (offer RTP/AVP with a=crypto, answer
 *    either) or REQUIRED (offer RTP/SAVP, refuse unprotected media).
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
#include "media/srtp_session.h"

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

/* A preference list from codec names as an operator writes them ("opus", "g722", "pcmu",
 * "pcma": any case) in their order, each as the profile's default list has it (payload type,
 * clock, fmtp), then the default list's telephone-event entries for the clock rates chosen. The
 * strings are the default list's (static). ENOENT for a name the profile's list lacks (*bad, if
 * given, gets its index), EINVAL for no names or a name twice, EOVERFLOW when cap is too small
 * (SDP_MAX_FORMATS always does). */
int sdp_codecs_select(enum sdp_profile profile, const char *const *names, size_t n,
                      struct sdp_codec *out, size_t cap, size_t *count, size_t *bad);

/* SDES-SRTP in the RTP_AVP profile (see the top of this file). */
enum sdp_srtp {
    SDP_SRTP_OFF,
    SDP_SRTP_OPTIONAL,
    SDP_SRTP_REQUIRED,
};

#define SDP_CRYPTO_KEY_MAX 32         /* master key || salt of the suites we know (30 at most) */
#define SDP_CRYPTO_TAG_MAX 999999999u /* RFC 4568: 1*9DIGIT */
#define SDP_CRYPTO_MAX     8          /* our own a=crypto lines in one offer */

/* One a=crypto line (RFC 4568): "<tag> <suite> inline:<base64 key||salt>[|<lifetime>]". The key
 * is a SECRET: it goes into SDP and into SRTP, never into a log line or an error message. */
struct sdp_crypto {
    uint32_t tag; /* 1..SDP_CRYPTO_TAG_MAX */
    enum srtp_suite suite;
    uint8_t key[SDP_CRYPTO_KEY_MAX];
    size_t key_len;    /* srtp_suite_key_len(suite) */
    uint64_t lifetime; /* packets the key may protect as the line says; 0 when it does not */
};

/* "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM". */
const char *sdp_crypto_suite_name(enum srtp_suite suite);

/* Parses an a=crypto value. EBADMSG for a malformed line (a bad tag, base64, or a key of the
 * wrong length for its suite), ENOTSUP for one we cannot use: an unknown suite, several keys or
 * an MKI (we key each direction once, with no MKI), a lifetime beyond SRTP's 2^48 packets, or a
 * session parameter we cannot honour (KDR other than 0, UNENCRYPTED_SRTP / _SRTCP,
 * UNAUTHENTICATED_SRTP, FEC_KEY, or any unknown one not marked optional with "-"); WSH and
 * FEC_ORDER are accepted. why (may be NULL) gets a short reason that never quotes the key. */
int sdp_crypto_parse(struct sdp_crypto *c, const char *value, char *why, size_t whylen);

/* Writes "<tag> <suite> inline:<base64>" (no lifetime, no MKI) into buf. EINVAL for a bad
 * suite, tag or key length, EOVERFLOW when cap is too small (100 bytes always do). */
int sdp_crypto_format(const struct sdp_crypto *c, char *buf, size_t cap);

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

    /* the remote's c= address and m= port (where plain RTP goes; for WEBRTC only informative),
     * and where its RTCP goes: a=rtcp's port and address when given, else 0 and "" (port + 1 on
     * the same address, or the RTP port itself with rtcp_mux) */
    char remote_addr[64];
    uint16_t remote_port;
    char remote_rtcp_addr[64];
    uint16_t remote_rtcp_port;

    /* RTP_AVP with SDES: whether the media is protected, whether the section's proto was
     * RTP/SAVP(F), and the agreed a=crypto line of each side: ours (the key we send with, under
     * the tag of the agreed line) and the peer's (the key it sends with). SECRET keys. */
    bool srtp;
    bool savp;
    struct sdp_crypto crypto_local, crypto_remote;
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

    /* RTP_AVP only. rtcp_mux: our offers carry a=rtcp-mux (answers carry it when the offer did).
     * srtp: SDES mode; crypto: our keys, one per suite we accept, in preference order (at most
     * SDP_CRYPTO_MAX), the tags being those our offers write; needed unless srtp is OFF. */
    bool rtcp_mux;
    enum sdp_srtp srtp;
    const struct sdp_crypto *crypto;
    size_t ncrypto;

    /* The result of the previous negotiation of this session, NULL for the first. */
    const struct sdp_audio_params *current;
};

/* Negotiates a remote offer, initial or renegotiation, without writing an answer: fills out
 * (which may be the same object as local->current). RTP_AVP with SDES: the offer's first
 * a=crypto line whose suite we have a key for is agreed (lines we cannot use are skipped); an
 * RTP/SAVP section without one is refused (EPROTO without any a=crypto, else ENOTSUP or EBADMSG
 * with the first line's reason), and so is plain RTP when SRTP is required (ENOTSUP). */
int sdp_offer_read(const struct sdp_session *offer, const struct sdp_local *local,
                   struct sdp_audio_params *out, char *err, size_t errlen);

/* sdp_offer_read, then our answer as a mem string (mem_deref). Every m-section but the accepted
 * audio one is refused (port 0, a=mid only); the BUNDLE group lists the accepted mid only. On a
 * renegotiation (hold, resume, ICE restart, added m-lines) pass the previous result as
 * local->current and an incremented session version. out may be NULL. */
int sdp_answer_create(const struct sdp_session *offer, const struct sdp_local *local, char **answer,
                      struct sdp_audio_params *out, char *err, size_t errlen);

/* Our offer: one audio m-section (mid "0" in WEBRTC, with BUNDLE, a=setup:actpass, rtcp-mux, the
 * audio level extension as id 1), our codecs in preference order. RTP_AVP with SDES: RTP/SAVP
 * when required (or when the current negotiation is on RTP/SAVP), else RTP/AVP, with one
 * a=crypto line per key of local->crypto. */
int sdp_offer_create(const struct sdp_local *local, char **offer);

/* Reads the answer to an offer made from offered: the audio section must be accepted, with
 * codecs we offered, and (WEBRTC) ICE credentials, a fingerprint and a=setup active or passive
 * (active: we are the DTLS server). RTP_AVP with SDES: an a=crypto line in the answer must name
 * the tag and suite of one of ours; without one the media is plain RTP, which is EPROTO when we
 * offered RTP/SAVP. */
int sdp_answer_read(const struct sdp_session *answer, const struct sdp_local *offered,
                    struct sdp_audio_params *out, char *err, size_t errlen);

#endif
