/*
 * One direction of SRTP/SRTCP (RFC 3711, RFC 7714 for AES-GCM) on OpenSSL's libcrypto, keyed
 * from DTLS-SRTP (WebRTC legs) or from SDES a=crypto lines (SIP legs, RFC 4568).
 *
 * A transport makes two sessions, one inbound and one outbound, so the receive path (a media
 * worker) and the send path (a mixer clock) never share a cipher context or a lock. Each session
 * accepts any SSRC: a source's state (ROC, replay windows, SRTCP index) is made on its first
 * packet, and inbound only after that packet authenticated.
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

/* The protection suites, whoever negotiated them. AES_CM_128_HMAC_SHA1_32 shortens the SRTP tag
 * only: SRTCP keeps the 80-bit one (RFC 4568 6.2.2); DTLS-SRTP never picks it. */
enum srtp_suite {
    SRTP_SUITE_AES_CM_128_HMAC_SHA1_80,
    SRTP_SUITE_AES_CM_128_HMAC_SHA1_32,
    SRTP_SUITE_AEAD_AES_128_GCM,
};

/* Master key || master salt bytes of a suite: 30 for AES-CM, 28 for GCM; 0 for no suite. */
size_t srtp_suite_key_len(enum srtp_suite suite);

/* key is master key || master salt, key_len the suite's total (srtp_suite_key_len). */
int srtp_session_alloc_suite(struct srtp_session **sp, enum srtp_session_dir dir,
                             enum srtp_suite suite, const uint8_t *key, size_t key_len);

/* The same keyed from DTLS-SRTP, by its profile. */
int srtp_session_alloc(struct srtp_session **sp, enum srtp_session_dir dir,
                       enum dtls_srtp_profile profile, const uint8_t *key, size_t key_len);

/* Protects pkt[0..*len) in place; *len grows by the tag (and SRTCP index). EOVERFLOW when cap is
 * too small, EINVAL on an inbound session or a packet too short to be RTP/RTCP (or whose header
 * runs past its end), EPROTO for other refusals (too many SSRCs, SRTCP index exhausted). */
int srtp_session_protect(struct srtp_session *s, uint8_t *pkt, size_t *len, size_t cap, bool rtcp);

/* Authenticates and decrypts pkt[0..*len) in place; *len shrinks. EBADMSG for a packet that does
 * not authenticate or is malformed, EALREADY for a replay (a duplicate or too old: normal on
 * real networks), EINVAL on an outbound session. */
int srtp_session_unprotect(struct srtp_session *s, uint8_t *pkt, size_t *len, bool rtcp);

struct srtp_session_stats {
    uint64_t packets;    /* transformed successfully */
    uint64_t auth_fail;  /* unprotect: authentication failed */
    uint64_t replay;     /* unprotect: duplicate or outside the replay window */
    uint64_t other_fail; /* malformed, too large, or otherwise refused */
};
void srtp_session_stats(const struct srtp_session *s, struct srtp_session_stats *st);

/* Whether AEAD_AES_128_GCM is available: always, since libcrypto has it (kept for callers: DTLS
 * offers SRTP_AEAD_AES_128_GCM only when it is). */
bool srtp_session_gcm_supported(void);

#endif
