/*
 * DTLS-SRTP key agreement (RFC 5763 / 5764) with OpenSSL over memory BIOs: the transport feeds
 * received DTLS records in and gets records to send out; when the handshake finishes, the peer's
 * certificate has been checked against the fingerprint from its SDP and the SRTP keys are
 * exported.
 *
 * The connection never touches a socket: datagrams go out through a send handler (the transport
 * sends them on the ICE-selected pair) so nothing here can be pointed at another address. Its
 * timers (retransmission, the overall handshake deadline) are GSources on one GMainContext, and
 * every call and handler runs on that context's thread: a connection is single-threaded.
 */
#ifndef SB_MEDIA_DTLS_H
#define SB_MEDIA_DTLS_H

#include <glib.h>
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

/* A certificate fingerprint from a=fingerprint (RFC 8122): the hash functions browsers and SIP
 * stacks use. */
enum dtls_fp_alg {
    DTLS_FP_SHA1,
    DTLS_FP_SHA256,
    DTLS_FP_SHA384,
    DTLS_FP_SHA512,
};

#define DTLS_FP_MAX_LEN 64 /* SHA-512 */

struct dtls_fingerprint {
    enum dtls_fp_alg alg;
    uint8_t md[DTLS_FP_MAX_LEN];
    size_t len;
};

/* The identity's fingerprint with another hash, "AB:CD:..." into buf (EOVERFLOW if too small:
 * 3 * digest length is enough). */
int dtls_identity_fingerprint_alg(const struct dtls_identity *id, enum dtls_fp_alg alg, char *buf,
                                  size_t cap);

/* "SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80" */
const char *dtls_srtp_profile_name(enum dtls_srtp_profile p);

/* alg "sha-1" | "sha-256" | "sha-384" | "sha-512" (any case), hex "AB:cd:..." (any case, colon
 * separated, exactly the digest length). EBADMSG for anything else, EINVAL for NULLs. */
int dtls_fingerprint_parse(struct dtls_fingerprint *fp, const char *alg, const char *hex);

/*
 * One DTLS association. Handlers run on cfg->ctx's thread from inside dtls_conn_start(),
 * dtls_conn_recv() or a timer; they must not free the connection.
 */
struct dtls_conn;

struct dtls_conn_handlers {
    /* One datagram for the peer. The send cannot fail as far as DTLS is concerned: a lost
     * datagram is retransmitted by the handshake timers. */
    void (*send)(const uint8_t *pkt, size_t len, void *arg);
    /* Handshake done and the peer's certificate matches the fingerprint: the SRTP keys, with
     * local/remote already chosen by our role. */
    void (*established)(const struct dtls_srtp_keys *keys, void *arg);
    /* The association ended; called at most once, never after dtls_conn_shutdown():
     *   ETIMEDOUT    handshake not finished within the deadline
     *   EKEYREJECTED the peer's certificate is missing or does not match the fingerprint
     *   EPROTO       handshake failure (alert, no common SRTP profile, ...)
     *   ECONNRESET   the peer sent close_notify (after or during the handshake) */
    void (*closed)(int err, const char *reason, void *arg);
};

struct dtls_conn_cfg {
    enum dtls_role role;
    const struct dtls_fingerprint *remote_fp; /* copied */
    GMainContext *ctx;             /* timers live here; NULL: the thread-default context */
    unsigned handshake_timeout_ms; /* from dtls_conn_start(); 0: 20 s */
    unsigned mtu;                  /* largest datagram we send; 0: 1200 */
    const char *log_ctx;           /* copied */
};

/* Allocates a connection with identity id (referenced). mem_deref() on ctx's thread frees it
 * silently (no handler is called). */
int dtls_conn_alloc(struct dtls_conn **cp, struct dtls_identity *id,
                    const struct dtls_conn_cfg *cfg, const struct dtls_conn_handlers *h, void *arg);

/* Starts the handshake deadline; a client also sends its ClientHello. A server handles a
 * ClientHello fed in before start as well. Idempotent. */
int dtls_conn_start(struct dtls_conn *c);

/* One received datagram classified as DTLS (first byte 20..63). Anything unusable is dropped. */
void dtls_conn_recv(struct dtls_conn *c, const uint8_t *pkt, size_t len);

/* Sends close_notify if established, stops the timers; no handler is called afterwards. */
void dtls_conn_shutdown(struct dtls_conn *c);

bool dtls_conn_established(const struct dtls_conn *c);

#endif
