/*
 * DTLS-SRTP with OpenSSL: the process identity (key, self-signed certificate, SSL_CTX) and one
 * connection per transport.
 *
 * Records come in through a memory BIO, one datagram at a time, and go out through a small custom
 * BIO whose write hands each datagram to the owner's send handler as it is produced (a memory BIO
 * would glue the datagrams of a flight together). That BIO always reports success: a datagram the
 * transport could not send yet is simply lost, and the DTLS retransmission timer, driven by a
 * GSource on the connection's context, sends the flight again.
 *
 * The peer's certificate is checked against the SDP fingerprint inside OpenSSL's verify callback,
 * so a mismatch aborts the handshake with a bad_certificate alert instead of completing it, and
 * checked once more when the handshake completes (it must be there at all).
 */
#include "media/dtls.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/srtp_session.h"

#define DTLS_DEFAULT_TIMEOUT_MS 20000
#define DTLS_DEFAULT_MTU        1200
#define DTLS_RTX_INITIAL_US     400000  /* first retransmission; doubles */
#define DTLS_RTX_MAX_US         3200000 /* cap, well inside the handshake deadline */
#define DTLS_EXPORTER_LABEL     "EXTRACTOR-dtls_srtp"

/* ---- identity ---------------------------------------------------------------------------- */

struct dtls_identity {
    EVP_PKEY *key;
    X509 *cert;
    SSL_CTX *ctx;
    char fingerprint[3 * 32]; /* "AB:CD:..." for SHA-256 */
};

static int verify_cb(int preverify_ok, X509_STORE_CTX *store);

static const char *ssl_err_str(unsigned long e)
{
    const char *s = e ? ERR_reason_error_string(e) : NULL;
    return s ? s : "unknown error";
}

static void identity_destroy(void *data)
{
    struct dtls_identity *id = data;
    SSL_CTX_free(id->ctx);
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
}

static void hex_colon(char *out, const uint8_t *md, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        out[3 * i] = hex[md[i] >> 4];
        out[3 * i + 1] = hex[md[i] & 15];
        out[3 * i + 2] = i + 1 < len ? ':' : '\0';
    }
}

static X509 *make_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    uint64_t sn = 0;
    bool ok = x && name && serial && RAND_bytes((unsigned char *)&sn, sizeof(sn)) == 1;

    /* A positive 63-bit serial: unique enough that peers caching by issuer+serial never mix two
     * of our certificates up. */
    sn = (sn >> 1) | 1;
    ok = ok && ASN1_INTEGER_set_uint64(serial, sn) == 1 && X509_set_serialNumber(x, serial) == 1;
    ok = ok && X509_set_version(x, X509_VERSION_3) == 1;
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -24L * 3600) != NULL;
    ok = ok && X509_gmtime_adj(X509_getm_notAfter(x), 29L * 24 * 3600) != NULL;
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                          (const unsigned char *)"switchboard", -1, -1, 0) == 1;
    ok = ok && X509_set_subject_name(x, name) == 1 && X509_set_issuer_name(x, name) == 1;
    ok = ok && X509_set_pubkey(x, key) == 1;
    ok = ok && X509_sign(x, key, EVP_sha256()) > 0;

    ASN1_INTEGER_free(serial);
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int dtls_identity_alloc(struct dtls_identity **idp)
{
    if (!idp)
        return EINVAL;
    struct dtls_identity *id = mem_zalloc(sizeof(*id), identity_destroy);
    if (!id)
        return ENOMEM;

    id->key = EVP_EC_gen("P-256");
    id->cert = id->key ? make_cert(id->key) : NULL;
    if (!id->cert) {
        log_error("dtls: cannot create the certificate: %s", ssl_err_str(ERR_get_error()));
        ERR_clear_error();
        mem_deref(id);
        return ENOMEM;
    }

    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (X509_digest(id->cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) {
        mem_deref(id);
        return EPROTO;
    }
    hex_colon(id->fingerprint, md, mdlen);

    id->ctx = SSL_CTX_new(DTLS_method());
    const char *profiles = srtp_session_gcm_supported()
                               ? "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
                               : "SRTP_AES128_CM_SHA1_80";
    bool ok = id->ctx && SSL_CTX_set_min_proto_version(id->ctx, DTLS1_2_VERSION) == 1 &&
              SSL_CTX_use_certificate(id->ctx, id->cert) == 1 &&
              SSL_CTX_use_PrivateKey(id->ctx, id->key) == 1 &&
              SSL_CTX_check_private_key(id->ctx) == 1 &&
              SSL_CTX_set_tlsext_use_srtp(id->ctx, profiles) == 0; /* 0 is success here */
    if (!ok) {
        log_error("dtls: cannot set up the SSL context: %s", ssl_err_str(ERR_get_error()));
        ERR_clear_error();
        mem_deref(id);
        return EPROTO;
    }
    SSL_CTX_set_verify(id->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    SSL_CTX_set_session_cache_mode(id->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(id->ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    *idp = id;
    return 0;
}

const char *dtls_identity_fingerprint(const struct dtls_identity *id)
{
    return id ? id->fingerprint : NULL;
}

const char *dtls_srtp_profile_name(enum dtls_srtp_profile p)
{
    switch (p) {
    case DTLS_SRTP_AEAD_AES_128_GCM:
        return "SRTP_AEAD_AES_128_GCM";
    case DTLS_SRTP_AES128_CM_SHA1_80:
        return "SRTP_AES128_CM_SHA1_80";
    }
    return "?";
}

/* ---- fingerprints ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    enum dtls_fp_alg alg;
    size_t len;
} fp_algs[] = {
    {"sha-1", DTLS_FP_SHA1, 20},
    {"sha-256", DTLS_FP_SHA256, 32},
    {"sha-384", DTLS_FP_SHA384, 48},
    {"sha-512", DTLS_FP_SHA512, 64},
};

static const EVP_MD *fp_md(enum dtls_fp_alg alg)
{
    switch (alg) {
    case DTLS_FP_SHA1:
        return EVP_sha1();
    case DTLS_FP_SHA256:
        return EVP_sha256();
    case DTLS_FP_SHA384:
        return EVP_sha384();
    case DTLS_FP_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int dtls_fingerprint_parse(struct dtls_fingerprint *fp, const char *alg, const char *hex)
{
    if (!fp || !alg || !hex)
        return EINVAL;
    size_t want = 0;
    for (size_t i = 0; i < sizeof(fp_algs) / sizeof(fp_algs[0]); i++) {
        if (!strcasecmp(alg, fp_algs[i].name)) {
            fp->alg = fp_algs[i].alg;
            want = fp_algs[i].len;
        }
    }
    if (!want)
        return EBADMSG;
    /* Exactly want pairs of hex digits separated by single colons. */
    if (strnlen(hex, 3 * DTLS_FP_MAX_LEN + 1) != 3 * want - 1)
        return EBADMSG;
    for (size_t i = 0; i < want; i++) {
        int hi = hexval(hex[3 * i]), lo = hexval(hex[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i + 1 < want && hex[3 * i + 2] != ':'))
            return EBADMSG;
        fp->md[i] = (uint8_t)(hi << 4 | lo);
    }
    fp->len = want;
    return 0;
}

int dtls_identity_fingerprint_alg(const struct dtls_identity *id, enum dtls_fp_alg alg, char *buf,
                                  size_t cap)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    const EVP_MD *type = fp_md(alg);
    if (!id || !buf || !type)
        return EINVAL;
    if (X509_digest(id->cert, type, md, &len) != 1 || !len)
        return EPROTO;
    if (cap < 3 * (size_t)len)
        return EOVERFLOW;
    hex_colon(buf, md, len);
    return 0;
}

static bool cert_matches(X509 *cert, const struct dtls_fingerprint *fp)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    const EVP_MD *type = fp_md(fp->alg);
    if (!cert || !type || X509_digest(cert, type, md, &len) != 1 || len != fp->len)
        return false;
    return CRYPTO_memcmp(md, fp->md, len) == 0;
}

/* ---- connection -------------------------------------------------------------------------- */

enum dtls_state {
    DTLS_ST_NEW,
    DTLS_ST_HANDSHAKE, /* started */
    DTLS_ST_ESTABLISHED,
    DTLS_ST_CLOSED, /* failed, closed by the peer, or shut down: inert */
};

struct dtls_conn {
    struct dtls_identity *id;
    SSL *ssl;
    BIO *rbio; /* memory BIO owned by ssl */
    enum dtls_role role;
    enum dtls_state state;
    bool started;
    bool fp_mismatch; /* set by verify_cb */
    struct dtls_fingerprint remote_fp;
    GMainContext *ctx;
    GSource *rtx_timer;
    GSource *deadline;
    unsigned timeout_ms;
    unsigned mtu;
    struct dtls_conn_handlers h;
    void *arg;
    char *log_ctx;
};

static BIO_METHOD *out_method;

static int out_write(BIO *b, const char *data, int len)
{
    struct dtls_conn *c = BIO_get_data(b);
    if (len > 0 && c && c->h.send)
        c->h.send((const uint8_t *)data, (size_t)len, c->arg);
    return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct dtls_conn *c = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return c ? (long)c->mtu : DTLS_DEFAULT_MTU;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
        return 0;
    default:
        return 0;
    }
}

static int out_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static gpointer out_method_init(gpointer unused)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sb-dtls-out");
    if (m) {
        BIO_meth_set_write(m, out_write);
        BIO_meth_set_ctrl(m, out_ctrl);
        BIO_meth_set_create(m, out_create);
    }
    out_method = m;
    return m;
}

static void stop_timer(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

static void conn_destroy(void *data)
{
    struct dtls_conn *c = data;
    stop_timer(&c->rtx_timer);
    stop_timer(&c->deadline);
    if (c->ssl) {
        BIO *w = SSL_get_wbio(c->ssl);
        if (w)
            BIO_set_data(w, NULL);
        SSL_free(c->ssl);
    }
    if (c->ctx)
        g_main_context_unref(c->ctx);
    mem_deref(c->id);
    mem_deref(c->log_ctx);
}

/* Ends the association and tells the owner, once. */
static void conn_fail(struct dtls_conn *c, int err, const char *reason)
{
    if (c->state == DTLS_ST_CLOSED)
        return;
    c->state = DTLS_ST_CLOSED;
    stop_timer(&c->rtx_timer);
    stop_timer(&c->deadline);
    ERR_clear_error();
    logc_info(c->log_ctx, "dtls: %s", reason);
    if (c->h.closed)
        c->h.closed(err, reason, c->arg);
}

static gboolean on_rtx_timer(gpointer data);

static void arm_rtx_timer(struct dtls_conn *c)
{
    struct timeval tv;
    stop_timer(&c->rtx_timer);
    if (c->state == DTLS_ST_CLOSED || DTLSv1_get_timeout(c->ssl, &tv) != 1)
        return;
    guint ms = (guint)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
    c->rtx_timer = g_timeout_source_new(ms ? ms : 1);
    g_source_set_callback(c->rtx_timer, on_rtx_timer, c, NULL);
    g_source_attach(c->rtx_timer, c->ctx);
}

static void handshake_failed(struct dtls_conn *c, int ssl_err)
{
    char reason[160];
    unsigned long e = ERR_peek_error();

    if (c->fp_mismatch) {
        conn_fail(c, EKEYREJECTED, "peer certificate does not match the SDP fingerprint");
        return;
    }
    if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
        ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        conn_fail(c, EKEYREJECTED, "peer sent no certificate");
        return;
    }
    if (ssl_err == SSL_ERROR_ZERO_RETURN) {
        conn_fail(c, ECONNRESET, "closed by the peer during the handshake");
        return;
    }
    snprintf(reason, sizeof(reason), "handshake failed: %s", e ? ssl_err_str(e) : "unexpected end");
    conn_fail(c, EPROTO, reason);
}

static void handshake_done(struct dtls_conn *c)
{
    X509 *peer = SSL_get0_peer_certificate(c->ssl);
    if (!peer) {
        conn_fail(c, EKEYREJECTED, "peer sent no certificate");
        return;
    }
    if (!cert_matches(peer, &c->remote_fp)) {
        conn_fail(c, EKEYREJECTED, "peer certificate does not match the SDP fingerprint");
        return;
    }

    SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(c->ssl);
    struct dtls_srtp_keys keys;
    size_t key, salt;
    memset(&keys, 0, sizeof(keys));
    if (!prof) {
        conn_fail(c, EPROTO, "no SRTP profile negotiated (use_srtp)");
        return;
    }
    switch (prof->id) {
    case SRTP_AEAD_AES_128_GCM:
        keys.profile = DTLS_SRTP_AEAD_AES_128_GCM;
        key = 16;
        salt = 12;
        break;
    case SRTP_AES128_CM_SHA1_80:
        keys.profile = DTLS_SRTP_AES128_CM_SHA1_80;
        key = 16;
        salt = 14;
        break;
    default:
        conn_fail(c, EPROTO, "unsupported SRTP profile negotiated");
        return;
    }

    /* RFC 5764 4.2: client key, server key, client salt, server salt. */
    uint8_t km[2 * (16 + 14)];
    if (SSL_export_keying_material(c->ssl, km, 2 * (key + salt), DTLS_EXPORTER_LABEL,
                                   strlen(DTLS_EXPORTER_LABEL), NULL, 0, 0) != 1) {
        conn_fail(c, EPROTO, "cannot export the SRTP keying material");
        return;
    }
    uint8_t *client = c->role == DTLS_ROLE_CLIENT ? keys.local_key : keys.remote_key;
    uint8_t *server = c->role == DTLS_ROLE_CLIENT ? keys.remote_key : keys.local_key;
    memcpy(client, km, key);
    memcpy(server, km + key, key);
    memcpy(client + key, km + 2 * key, salt);
    memcpy(server + key, km + 2 * key + salt, salt);
    keys.key_len = key + salt;
    OPENSSL_cleanse(km, sizeof(km));

    c->state = DTLS_ST_ESTABLISHED;
    stop_timer(&c->deadline);
    logc_debug(c->log_ctx, "dtls: established (%s, %s)", SSL_get_version(c->ssl),
               dtls_srtp_profile_name(keys.profile));
    if (c->h.established)
        c->h.established(&keys, c->arg);
    OPENSSL_cleanse(&keys, sizeof(keys));
}

/* Runs the handshake as far as the input allows. */
static void drive_handshake(struct dtls_conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        handshake_done(c);
    } else {
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            handshake_failed(c, e);
            return;
        }
    }
    arm_rtx_timer(c);
}

/* After the handshake: close_notify, alerts, and retransmitted peer flights (OpenSSL answers
 * those itself when our last flight was lost). */
static void read_established(struct dtls_conn *c)
{
    uint8_t buf[1500];
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, sizeof(buf));
        if (r > 0)
            continue; /* application data has no use here */
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN)
            conn_fail(c, ECONNRESET, "closed by the peer (close_notify)");
        else
            conn_fail(c, EPROTO, "fatal alert or error after the handshake");
        return;
    }
    arm_rtx_timer(c);
}

static gboolean on_rtx_timer(gpointer data)
{
    struct dtls_conn *c = data;
    g_source_unref(c->rtx_timer);
    c->rtx_timer = NULL;
    if (c->state == DTLS_ST_CLOSED)
        return G_SOURCE_REMOVE;
    ERR_clear_error();
    if (DTLSv1_handle_timeout(c->ssl) < 0) {
        conn_fail(c, ETIMEDOUT, "handshake gave up retransmitting");
        return G_SOURCE_REMOVE;
    }
    arm_rtx_timer(c);
    return G_SOURCE_REMOVE;
}

static gboolean on_deadline(gpointer data)
{
    struct dtls_conn *c = data;
    g_source_unref(c->deadline);
    c->deadline = NULL;
    if (c->state != DTLS_ST_ESTABLISHED)
        conn_fail(c, ETIMEDOUT, "handshake timed out");
    return G_SOURCE_REMOVE;
}

static unsigned int rtx_timer_cb(SSL *ssl, unsigned int timer_us)
{
    if (timer_us == 0)
        return DTLS_RTX_INITIAL_US;
    return timer_us >= DTLS_RTX_MAX_US / 2 ? DTLS_RTX_MAX_US : 2 * timer_us;
}

static int verify_cb(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct dtls_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;

    /* Self-signed certificates are the norm: only the fingerprint of the leaf decides. */
    if (!c || X509_STORE_CTX_get_error_depth(store) != 0)
        return 1;
    if (cert_matches(X509_STORE_CTX_get_current_cert(store), &c->remote_fp))
        return 1;
    c->fp_mismatch = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
}

int dtls_conn_alloc(struct dtls_conn **cp, struct dtls_identity *id,
                    const struct dtls_conn_cfg *cfg, const struct dtls_conn_handlers *h, void *arg)
{
    static GOnce once = G_ONCE_INIT;

    if (!cp || !id || !cfg || !cfg->remote_fp || !cfg->remote_fp->len || !h)
        return EINVAL;
    if (!g_once(&once, out_method_init, NULL))
        return ENOMEM;

    struct dtls_conn *c = mem_zalloc(sizeof(*c), conn_destroy);
    if (!c)
        return ENOMEM;
    c->id = mem_ref(id);
    c->role = cfg->role;
    c->remote_fp = *cfg->remote_fp;
    c->ctx = cfg->ctx ? g_main_context_ref(cfg->ctx) : g_main_context_ref_thread_default();
    c->timeout_ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : DTLS_DEFAULT_TIMEOUT_MS;
    c->mtu = cfg->mtu ? cfg->mtu : DTLS_DEFAULT_MTU;
    c->h = *h;
    c->arg = arg;
    c->log_ctx = mem_strdup(cfg->log_ctx ? cfg->log_ctx : "");

    ERR_clear_error();
    c->ssl = SSL_new(id->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(out_method);
    if (!c->ssl || !c->rbio || !wbio || !c->log_ctx) {
        BIO_free(c->rbio);
        BIO_free(wbio);
        c->rbio = NULL;
        ERR_clear_error();
        mem_deref(c);
        return ENOMEM;
    }
    BIO_set_mem_eof_return(c->rbio, -1);
    BIO_set_data(wbio, c);
    SSL_set_bio(c->ssl, c->rbio, wbio);
    SSL_set_app_data(c->ssl, c);
    SSL_set_options(c->ssl, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(c->ssl, (long)c->mtu);
    DTLS_set_timer_cb(c->ssl, rtx_timer_cb);
    if (c->role == DTLS_ROLE_CLIENT)
        SSL_set_connect_state(c->ssl);
    else
        SSL_set_accept_state(c->ssl);
    *cp = c;
    return 0;
}

int dtls_conn_start(struct dtls_conn *c)
{
    if (!c)
        return EINVAL;
    if (c->started || c->state == DTLS_ST_CLOSED)
        return 0;
    c->started = true;
    if (c->state == DTLS_ST_NEW)
        c->state = DTLS_ST_HANDSHAKE;
    if (c->state == DTLS_ST_HANDSHAKE) {
        c->deadline = g_timeout_source_new(c->timeout_ms);
        g_source_set_callback(c->deadline, on_deadline, c, NULL);
        g_source_attach(c->deadline, c->ctx);
        if (c->role == DTLS_ROLE_CLIENT)
            drive_handshake(c);
    }
    return 0;
}

void dtls_conn_recv(struct dtls_conn *c, const uint8_t *pkt, size_t len)
{
    if (!c || !pkt || !len || len > 65535 || c->state == DTLS_ST_CLOSED)
        return;
    /* A client speaks first; anything before our ClientHello is noise. */
    if (c->role == DTLS_ROLE_CLIENT && !c->started)
        return;
    if (c->state == DTLS_ST_NEW)
        c->state = DTLS_ST_HANDSHAKE;

    (void)BIO_reset(c->rbio);
    if (BIO_write(c->rbio, pkt, (int)len) != (int)len)
        return;
    if (c->state == DTLS_ST_HANDSHAKE)
        drive_handshake(c);
    else if (c->state == DTLS_ST_ESTABLISHED)
        read_established(c);
    /* Whatever OpenSSL did not consume belongs to this datagram only. */
    (void)BIO_reset(c->rbio);
}

void dtls_conn_shutdown(struct dtls_conn *c)
{
    if (!c || c->state == DTLS_ST_CLOSED)
        return;
    bool established = c->state == DTLS_ST_ESTABLISHED;
    c->state = DTLS_ST_CLOSED;
    stop_timer(&c->rtx_timer);
    stop_timer(&c->deadline);
    if (established) {
        ERR_clear_error();
        (void)SSL_shutdown(c->ssl);
        ERR_clear_error();
    }
    /* The owner asked: no handler from here on, not even for datagrams. */
    c->h.send = NULL;
}

bool dtls_conn_established(const struct dtls_conn *c)
{
    return c && c->state == DTLS_ST_ESTABLISHED;
}
