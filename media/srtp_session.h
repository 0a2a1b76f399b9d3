/*
 * One direction of SRTP/SRTCP (RFC 3711, RFC 7714 for AES-GCM) over libsrtp2, keyed from
 * DTLS-SRTP.
 *
 * A transport makes two sessions, one inbound and one outbound, so the receive path (a media
 * worker) and the send path (a mixer clock) never share a libsrtp context or a lock. Each session
 * accepts any SSRC (ssrc_any_inbound / ssrc_any_outbound): streams are created from the template
 * on a source's first packet, and inbound ones only after that packet authenticated.
 *
 * Packets are transformed in place. Failures are counted, never logged per packet; the counters
 * may be read from any thread (they are single-writer relaxed atomics).
 */
#ifndef SB_MEDIA_SRTP_SESSION_H
#define SB_MEDIA_SRTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/dtls.h"

/* Largest growth of a packet by protect: a 16-byte tag plus the 4-byte SRTCP index. */
#define SRTP_SESSION_MAX_TRAILER 20

struct srtp_session;

enum srtp_session_dir {
    SRTP_SESSION_INBOUND,
    SRTP_SESSION_OUTBOUND,
};

/* key is master key || master salt, key_len the profile's total (30 for AES-CM, 28 for GCM). */
int srtp_session_alloc(struct srtp_session **sp, enum srtp_session_dir dir,
                       enum dtls_srtp_profile profile, const uint8_t *key, size_t key_len);

/* Protects pkt[0..*len) in place; *len grows by the tag (and SRTCP index). EOVERFLOW when cap is
 * too small, EINVAL on an inbound session or a packet too short to be RTP/RTCP, EPROTO for other
 * libsrtp refusals. */
int srtp_session_protect(struct srtp_session *s, uint8_t *pkt, size_t *len, size_t cap, bool rtcp);

/* Authenticates and decrypts pkt[0..*len) in place; *len shrinks. EBADMSG for a packet that does
 * not authenticate or is malformed, EALREADY for a replay (a duplicate or too old: normal on
 * real networks), EINVAL on an outbound session. */
int srtp_session_unprotect(struct srtp_session *s, uint8_t *pkt, size_t *len, bool rtcp);

struct srtp_session_stats {
    uint64_t packets;    /* transformed successfully */
    uint64_t auth_fail;  /* unprotect: authentication failed */
    uint64_t replay;     /* unprotect: duplicate or outside the replay window */
    uint64_t other_fail; /* malformed, too large, or refused by libsrtp */
};
void srtp_session_stats(const struct srtp_session *s, struct srtp_session_stats *st);

/* Whether the linked libsrtp2 can do AES-GCM (it depends on the crypto backend it was built
 * with); DTLS offers SRTP_AEAD_AES_128_GCM only when it can. */
bool srtp_session_gcm_supported(void);

#endif
