/*
 * DTLS-SRTP key agreement (RFC 5763 / 5764) with OpenSSL over memory BIOs: the transport feeds
 * received DTLS records in and gets records to send out; when the handshake finishes, the peer's
 * certificate has been checked against the fingerprint from its SDP and the SRTP keys are
 * exported.
 */
#ifndef SB_MEDIA_DTLS_H
#define SB_MEDIA_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dtls_role {
    DTLS_ROLE_CLIENT, /* a=setup:active: we send the ClientHello */
    DTLS_ROLE_SERVER, /* a=setup:passive */
};

/* A process-wide certificate and key (ECDSA P-256, self-signed) and its SHA-256 fingerprint. */
struct dtls_identity;
int dtls_identity_alloc(struct dtls_identity **idp);
/* "AB:CD:..." upper-case hex, for a=fingerprint:sha-256 */
const char *dtls_identity_fingerprint(const struct dtls_identity *id);

/* SRTP protection profiles we negotiate, best first. */
enum dtls_srtp_profile {
    DTLS_SRTP_AEAD_AES_128_GCM = 7,
    DTLS_SRTP_AES128_CM_SHA1_80 = 1,
};

struct dtls_srtp_keys {
    enum dtls_srtp_profile profile;
    uint8_t local_key[32]; /* key || salt for what we send */
    uint8_t remote_key[32];
    size_t key_len; /* key + salt length for the profile */
};

#endif
