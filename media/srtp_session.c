/*
 * SRTP and SRTCP (RFC 3711; AES-GCM per RFC 7714) on OpenSSL's libcrypto.
 *
 * Why not libsrtp2: Debian's libsrtp2 is built on NSS, whose PK11 layer sets up a cipher context
 * per packet; at conference scale that was a third of the process's CPU. Here every key is
 * derived once when the session is made (key_derivation_rate 0, so session keys never change and
 * do not depend on the SSRC), and the session holds one keyed EVP cipher context and, for the
 * AES-CM suites, the keyed HMAC-SHA1 states, for RTP and for RTCP; a packet only sets the IV
 * (and copies the HMAC states) before the transform: no allocation per packet.
 *
 * Per SSRC the session keeps a small record: the highest packet index seen (ROC and sequence,
 * RFC 3711 3.3.1 and appendix A, estimated exactly as libsrtp does), a replay window of
 * SRTP_REPLAY_WINDOW packets for RTP and one for the SRTCP index, and the SRTCP index sent.
 * Inbound records are made only after a packet authenticated, so a stranger without the key
 * cannot fill the table (bounded at SRTP_MAX_STREAMS). The window is 1024 packets rather than the
 * usual 64/128: a video burst reordered by a few hundred packets is normal and must not be dropped
 * as a replay. Outbound allows repeated sequence numbers so a stream may retransmit (NACK / RTX)
 * through the same session.
 *
 * Everything read from a packet is bounded before use: the header (CSRCs, extension) must fit
 * in front of the tag, and tags are compared in constant time (CRYPTO_memcmp).
 */
#include "media/srtp_session.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <glib.h>
/* HMAC-SHA1 runs on the SHA1_* functions (deprecated in OpenSSL 3 but present, and the same
 * assembly): the keyed inner and outer states are copied per packet as plain structs, where
 * EVP_MAC would duplicate a provider context (a malloc and a free) every time. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/srtp_kdf.h"

#define SRTP_REPLAY_WINDOW 1024 /* packets; a multiple of 64 */
#define RTP_MIN_LEN        12
#define RTCP_MIN_LEN       8
#define SRTP_MAX_PKT       16384 /* far above any MTU; keeps lengths within int */
/* SSRCs per session: audio, video, RTX, FEC, with room to spare. Inbound, a full table forgets
 * its least recently used source (a peer that changes SSRCs at every renegotiation must not run
 * out); outbound refuses instead, as forgetting would reuse keystream (ROC, SRTCP index). */
#define SRTP_MAX_STREAMS 64
#define SRTCP_INDEX_MAX  0x7fffffffu
#define SRTCP_E_FLAG     0x80000000u

#define CM_SALT_LEN  14
#define GCM_SALT_LEN 12
#define HMAC_KEY_LEN 20
#define GCM_TAG_LEN  16
#define SRTCP_CM_TAG 10

/* A replay window over 48-bit (RTP) or 31-bit (SRTCP) indices: bit (index % W) stands for the
 * index within W below top. */
struct replay {
    uint64_t top;
    bool init;
    uint64_t bits[SRTP_REPLAY_WINDOW / 64];
};

struct srtp_stream {
    uint32_t ssrc;
    struct replay rtp;     /* inbound: window; outbound: only top (the ROC and highest seq) */
    struct replay rtcp;    /* inbound only */
    uint32_t rtcp_out_idx; /* outbound: last SRTCP index sent (0: none yet) */
    uint64_t used;         /* the session's clock at the last lookup */
};

/* The keyed transforms of one of RTP / RTCP. */
struct srtp_keys {
    EVP_CIPHER_CTX *cipher;    /* AES-128-CTR or AES-128-GCM, keyed */
    SHA_CTX hmac_in, hmac_out; /* HMAC-SHA1 after the key's ipad / opad block (AES-CM) */
    uint8_t salt[CM_SALT_LEN];
    size_t tag_len;
};

struct srtp_session {
    enum srtp_session_dir dir;
    bool gcm;
    struct srtp_keys rtp, rtcp;
    struct srtp_stream *streams;
    size_t nstreams, cap_streams;
    uint64_t clock; /* counts stream lookups, for least-recently-used eviction */
    /* Single writer (the thread using the session), any reader. */
    atomic_uint_least64_t packets, auth_fail, replay, other_fail;
};

/* ---- process-wide algorithm handles, fetched once ---- */

static EVP_CIPHER *alg_ctr, *alg_gcm;

static gpointer fetch_algorithms(gpointer unused)
{
    (void)unused;
    alg_ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
    alg_gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    if (!alg_ctr || !alg_gcm) {
        log_error("srtp: libcrypto lacks AES-128-CTR, AES-128-GCM or HMAC");
        return GINT_TO_POINTER(EPROTO);
    }
    return GINT_TO_POINTER(0);
}

static int ensure_init(void)
{
    static GOnce once = G_ONCE_INIT;
    return GPOINTER_TO_INT(g_once(&once, fetch_algorithms, NULL));
}

static inline void count(atomic_uint_least64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void keys_clear(struct srtp_keys *k)
{
    EVP_CIPHER_CTX_free(k->cipher);
    OPENSSL_cleanse(&k->hmac_in, sizeof(k->hmac_in));
    OPENSSL_cleanse(&k->hmac_out, sizeof(k->hmac_out));
    OPENSSL_cleanse(k->salt, sizeof(k->salt));
    k->cipher = NULL;
}

/* Derives and keys one of RTP (labels 0, 1, 2) or RTCP (3, 4, 5). */
static int keys_init(struct srtp_keys *k, bool gcm, bool decrypt, const uint8_t *master,
                     size_t master_salt_len, uint8_t label0, size_t tag_len)
{
    uint8_t ekey[AES128_KEY_LEN], akey[HMAC_KEY_LEN];
    const uint8_t *msalt = master + AES128_KEY_LEN;
    int err = srtp_prf_aes_cm(master, msalt, master_salt_len, label0, ekey, sizeof(ekey));
    if (!err)
        err = srtp_prf_aes_cm(master, msalt, master_salt_len, label0 + 2, k->salt,
                              gcm ? GCM_SALT_LEN : CM_SALT_LEN);
    if (!err && !gcm)
        err = srtp_prf_aes_cm(master, msalt, master_salt_len, label0 + 1, akey, sizeof(akey));
    k->tag_len = tag_len;
    if (!err) {
        k->cipher = EVP_CIPHER_CTX_new();
        if (!k->cipher)
            err = ENOMEM;
        else if (!(decrypt && gcm
                       ? EVP_DecryptInit_ex2(k->cipher, alg_gcm, ekey, NULL, NULL)
                       : EVP_EncryptInit_ex2(k->cipher, gcm ? alg_gcm : alg_ctr, ekey, NULL, NULL)))
            err = EPROTO;
    }
    if (!err && !gcm) {
        /* RFC 2104 with a 20-byte key: one block of key XOR ipad / opad. */
        uint8_t pad[64];
        memset(pad, 0x36, sizeof(pad));
        for (size_t i = 0; i < sizeof(akey); i++)
            pad[i] ^= akey[i];
        SHA1_Init(&k->hmac_in);
        SHA1_Update(&k->hmac_in, pad, sizeof(pad));
        memset(pad, 0x5c, sizeof(pad));
        for (size_t i = 0; i < sizeof(akey); i++)
            pad[i] ^= akey[i];
        SHA1_Init(&k->hmac_out);
        SHA1_Update(&k->hmac_out, pad, sizeof(pad));
        OPENSSL_cleanse(pad, sizeof(pad));
    }
    OPENSSL_cleanse(ekey, sizeof(ekey));
    OPENSSL_cleanse(akey, sizeof(akey));
    return err;
}

/* ---- replay window and index estimation ---- */

static inline bool replay_seen(const struct replay *r, uint64_t idx)
{
    return r->bits[(idx % SRTP_REPLAY_WINDOW) / 64] >> (idx % 64) & 1;
}

/* 0 if idx may be accepted, EALREADY for a duplicate or an index too old for the window. */
static int replay_check(const struct replay *r, uint64_t idx)
{
    if (!r->init || idx > r->top)
        return 0;
    if (r->top - idx >= SRTP_REPLAY_WINDOW || replay_seen(r, idx))
        return EALREADY;
    return 0;
}

static void replay_add(struct replay *r, uint64_t idx)
{
    if (!r->init || idx >= r->top + SRTP_REPLAY_WINDOW) {
        memset(r->bits, 0, sizeof(r->bits));
    } else {
        for (uint64_t i = r->top + 1; i <= idx; i++)
            r->bits[(i % SRTP_REPLAY_WINDOW) / 64] &= ~(1ull << (i % 64));
    }
    if (!r->init || idx > r->top)
        r->top = idx;
    r->init = true;
    r->bits[(idx % SRTP_REPLAY_WINDOW) / 64] |= 1ull << (idx % 64);
}

/* The 48-bit index of seq given the highest seen (RFC 3711 appendix A). Before the first ROC
 * rollover an old-looking seq counts as ROC 0, as libsrtp has it. */
static uint64_t rtp_index_estimate(const struct replay *r, uint16_t seq)
{
    if (!r->init)
        return seq;
    uint32_t roc = (uint32_t)(r->top >> 16), v = roc;
    uint16_t s_l = (uint16_t)r->top;
    if (s_l < 32768) {
        if ((int)seq - (int)s_l > 32768 && roc > 0)
            v = roc - 1;
    } else if ((int)s_l - 32768 > (int)seq) {
        v = roc + 1;
    }
    return (uint64_t)v << 16 | seq;
}

/* ---- streams ---- */

static struct srtp_stream *stream_find(struct srtp_session *s, uint32_t ssrc)
{
    for (size_t i = 0; i < s->nstreams; i++) {
        if (s->streams[i].ssrc == ssrc) {
            s->streams[i].used = ++s->clock;
            return &s->streams[i];
        }
    }
    return NULL;
}

/* Adds a copy of st; NULL at the bound (outbound) or out of memory. */
static struct srtp_stream *stream_add(struct srtp_session *s, const struct srtp_stream *st)
{
    if (s->nstreams == s->cap_streams) {
        if (s->cap_streams >= SRTP_MAX_STREAMS) {
            if (s->dir == SRTP_SESSION_OUTBOUND)
                return NULL;
            size_t lru = 0;
            for (size_t i = 1; i < s->nstreams; i++)
                if (s->streams[i].used < s->streams[lru].used)
                    lru = i;
            s->streams[lru] = *st;
            s->streams[lru].used = ++s->clock;
            return &s->streams[lru];
        }
        size_t ncap = s->cap_streams ? s->cap_streams * 2 : 2;
        struct srtp_stream *n = g_try_realloc(s->streams, ncap * sizeof(*n));
        if (!n)
            return NULL;
        s->streams = n;
        s->cap_streams = ncap;
    }
    s->streams[s->nstreams] = *st;
    s->streams[s->nstreams].used = ++s->clock;
    return &s->streams[s->nstreams++];
}

/* ---- the transforms ---- */

/* Length of the RTP header (fixed part, CSRCs, extension) if it fits in n bytes, else 0. */
static size_t rtp_header_len(const uint8_t *p, size_t n)
{
    if (n < RTP_MIN_LEN)
        return 0;
    size_t h = RTP_MIN_LEN + 4 * (size_t)(p[0] & 0x0f);
    if (p[0] & 0x10) {
        if (h + 4 > n)
            return 0;
        h += 4 + 4 * (size_t)(p[h + 2] << 8 | p[h + 3]);
    }
    return h <= n ? h : 0;
}

/* AES-CM IV: salt XOR SSRC << 64 XOR index << 16 (RFC 3711 4.1.1). */
static void cm_iv(uint8_t iv[16], const uint8_t salt[CM_SALT_LEN], uint32_t ssrc, uint64_t idx)
{
    memcpy(iv, salt, CM_SALT_LEN);
    iv[14] = iv[15] = 0;
    iv[4] ^= (uint8_t)(ssrc >> 24);
    iv[5] ^= (uint8_t)(ssrc >> 16);
    iv[6] ^= (uint8_t)(ssrc >> 8);
    iv[7] ^= (uint8_t)ssrc;
    for (int i = 0; i < 6; i++)
        iv[13 - i] ^= (uint8_t)(idx >> (8 * i));
}

/* GCM IV (RFC 7714 8.1 / 9.1): 00 00 || SSRC || ROC or 00 00 || SEQ or index, XOR the salt. */
static void gcm_iv(uint8_t iv[12], const uint8_t salt[GCM_SALT_LEN], uint32_t ssrc, uint64_t idx)
{
    memset(iv, 0, 12);
    wr32(iv + 2, ssrc);
    for (int i = 0; i < 6; i++)
        iv[11 - i] = (uint8_t)(idx >> (8 * i));
    for (int i = 0; i < 12; i++)
        iv[i] ^= salt[i];
}

static int ctr_crypt(struct srtp_keys *k, const uint8_t iv[16], uint8_t *p, size_t n)
{
    int outl = 0;
    if (!EVP_EncryptInit_ex2(k->cipher, NULL, NULL, iv, NULL))
        return EPROTO;
    if (n && !EVP_EncryptUpdate(k->cipher, p, &outl, p, (int)n))
        return EPROTO;
    return 0;
}

/* HMAC-SHA1 over a || b (b may be empty), the full 20 bytes into mac. */
static int hmac(struct srtp_keys *k, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                uint8_t mac[20])
{
    SHA_CTX c = k->hmac_in;
    uint8_t inner[SHA_DIGEST_LENGTH];
    SHA1_Update(&c, a, alen);
    if (blen)
        SHA1_Update(&c, b, blen);
    SHA1_Final(inner, &c);
    c = k->hmac_out;
    SHA1_Update(&c, inner, sizeof(inner));
    SHA1_Final(mac, &c);
    OPENSSL_cleanse(&c, sizeof(c));
    return 0;
}

/* GCM seal: aad in the clear, p[0..n) encrypted in place, the tag to tag. */
static int gcm_seal(struct srtp_keys *k, const uint8_t iv[12], const uint8_t *aad, size_t aadlen,
                    uint8_t *p, size_t n, uint8_t *tag)
{
    int outl = 0;
    if (!EVP_EncryptInit_ex2(k->cipher, NULL, NULL, iv, NULL) ||
        !EVP_EncryptUpdate(k->cipher, NULL, &outl, aad, (int)aadlen) ||
        (n && !EVP_EncryptUpdate(k->cipher, p, &outl, p, (int)n)) ||
        !EVP_EncryptFinal_ex(k->cipher, p + n, &outl) ||
        !EVP_CIPHER_CTX_ctrl(k->cipher, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN, tag))
        return EPROTO;
    return 0;
}

/* GCM open: EBADMSG when the tag does not verify (p is then garbage). */
static int gcm_open(struct srtp_keys *k, const uint8_t iv[12], const uint8_t *aad, size_t aadlen,
                    uint8_t *p, size_t n, const uint8_t *tag)
{
    int outl = 0;
    uint8_t t[GCM_TAG_LEN];
    memcpy(t, tag, sizeof(t));
    if (!EVP_DecryptInit_ex2(k->cipher, NULL, NULL, iv, NULL) ||
        !EVP_DecryptUpdate(k->cipher, NULL, &outl, aad, (int)aadlen) ||
        (n && !EVP_DecryptUpdate(k->cipher, p, &outl, p, (int)n)) ||
        !EVP_CIPHER_CTX_ctrl(k->cipher, EVP_CTRL_AEAD_SET_TAG, GCM_TAG_LEN, t))
        return EPROTO;
    return EVP_DecryptFinal_ex(k->cipher, p + n, &outl) > 0 ? 0 : EBADMSG;
}

static int rtp_protect(struct srtp_session *s, uint8_t *pkt, size_t *len)
{
    size_t n = *len, h = rtp_header_len(pkt, n);
    if (!h)
        return EINVAL;
    uint32_t ssrc = rd32(pkt + 8);
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    struct srtp_stream *st = stream_find(s, ssrc);
    if (!st) {
        struct srtp_stream fresh = {.ssrc = ssrc};
        st = stream_add(s, &fresh);
        if (!st)
            return EPROTO;
    }
    uint64_t idx = rtp_index_estimate(&st->rtp, seq);
    struct srtp_keys *k = &s->rtp;
    int err;
    if (s->gcm) {
        uint8_t iv[12];
        gcm_iv(iv, k->salt, ssrc, idx);
        err = gcm_seal(k, iv, pkt, h, pkt + h, n - h, pkt + n);
    } else {
        uint8_t iv[16], roc[4], mac[20];
        cm_iv(iv, k->salt, ssrc, idx);
        wr32(roc, (uint32_t)(idx >> 16));
        err = ctr_crypt(k, iv, pkt + h, n - h);
        if (!err)
            err = hmac(k, pkt, n, roc, 4, mac);
        if (!err)
            memcpy(pkt + n, mac, k->tag_len);
    }
    if (err)
        return err;
    if (!st->rtp.init || idx > st->rtp.top) {
        st->rtp.top = idx;
        st->rtp.init = true;
    }
    *len = n + k->tag_len;
    return 0;
}

static int rtcp_protect(struct srtp_session *s, uint8_t *pkt, size_t *len)
{
    size_t n = *len;
    uint32_t ssrc = rd32(pkt + 4);
    struct srtp_stream *st = stream_find(s, ssrc);
    if (!st) {
        struct srtp_stream fresh = {.ssrc = ssrc};
        st = stream_add(s, &fresh);
        if (!st)
            return EPROTO;
    }
    if (st->rtcp_out_idx >= SRTCP_INDEX_MAX)
        return EPROTO; /* the key is worn out (2^31 packets); a rekey is due */
    uint32_t idx = st->rtcp_out_idx + 1;
    struct srtp_keys *k = &s->rtcp;
    int err;
    if (s->gcm) {
        /* RFC 7714 9.2: AAD is the first 8 octets || E-flag and index; the index follows the
         * tag. */
        uint8_t iv[12], aad[12];
        gcm_iv(iv, k->salt, ssrc, idx);
        memcpy(aad, pkt, 8);
        wr32(aad + 8, SRTCP_E_FLAG | idx);
        err = gcm_seal(k, iv, aad, sizeof(aad), pkt + 8, n - 8, pkt + n);
        if (!err)
            wr32(pkt + n + GCM_TAG_LEN, SRTCP_E_FLAG | idx);
    } else {
        uint8_t iv[16], mac[20];
        cm_iv(iv, k->salt, ssrc, idx);
        err = ctr_crypt(k, iv, pkt + 8, n - 8);
        wr32(pkt + n, SRTCP_E_FLAG | idx);
        if (!err)
            err = hmac(k, pkt, n + 4, NULL, 0, mac);
        if (!err)
            memcpy(pkt + n + 4, mac, k->tag_len);
    }
    if (err)
        return err;
    st->rtcp_out_idx = idx;
    *len = n + 4 + k->tag_len;
    return 0;
}

static int rtp_unprotect(struct srtp_session *s, uint8_t *pkt, size_t *len)
{
    struct srtp_keys *k = &s->rtp;
    size_t n = *len - k->tag_len, h = rtp_header_len(pkt, n);
    if (!h)
        return EINVAL;
    uint32_t ssrc = rd32(pkt + 8);
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    struct srtp_stream *st = stream_find(s, ssrc), fresh = {.ssrc = ssrc};
    const struct replay *win = st ? &st->rtp : &fresh.rtp;
    uint64_t idx = rtp_index_estimate(win, seq);
    int err = replay_check(win, idx);
    if (err)
        return err;
    if (s->gcm) {
        uint8_t iv[12];
        gcm_iv(iv, k->salt, ssrc, idx);
        err = gcm_open(k, iv, pkt, h, pkt + h, n - h, pkt + n);
    } else {
        uint8_t iv[16], roc[4], mac[20];
        wr32(roc, (uint32_t)(idx >> 16));
        err = hmac(k, pkt, n, roc, 4, mac);
        if (!err && CRYPTO_memcmp(mac, pkt + n, k->tag_len) != 0)
            err = EBADMSG;
        if (!err) {
            cm_iv(iv, k->salt, ssrc, idx);
            err = ctr_crypt(k, iv, pkt + h, n - h);
        }
    }
    if (err)
        return err;
    if (!st && !(st = stream_add(s, &fresh)))
        return EPROTO;
    replay_add(&st->rtp, idx);
    *len = n;
    return 0;
}

static int rtcp_unprotect(struct srtp_session *s, uint8_t *pkt, size_t *len)
{
    struct srtp_keys *k = &s->rtcp;
    size_t n = *len - k->tag_len - 4; /* the RTCP packet without the SRTCP trailer */
    const uint8_t *word = s->gcm ? pkt + *len - 4 : pkt + n;
    uint32_t e_idx = rd32(word), idx = e_idx & SRTCP_INDEX_MAX;
    bool encrypted = e_idx & SRTCP_E_FLAG;
    uint32_t ssrc = rd32(pkt + 4);
    struct srtp_stream *st = stream_find(s, ssrc), fresh = {.ssrc = ssrc};
    const struct replay *win = st ? &st->rtcp : &fresh.rtcp;
    int err = replay_check(win, idx);
    if (err)
        return err;
    if (s->gcm) {
        /* Unencrypted SRTCP (E = 0) authenticates the whole packet as AAD (RFC 7714 9.2). */
        uint8_t iv[12], aad[RTCP_MIN_LEN + 4];
        gcm_iv(iv, k->salt, ssrc, idx);
        if (encrypted) {
            memcpy(aad, pkt, 8);
            memcpy(aad + 8, word, 4);
            err = gcm_open(k, iv, aad, sizeof(aad), pkt + 8, n - 8, pkt + n);
        } else {
            uint8_t tag[GCM_TAG_LEN];
            memcpy(tag, pkt + n, GCM_TAG_LEN);
            memmove(pkt + n, word, 4); /* AAD is the packet || E and index, contiguous */
            err = gcm_open(k, iv, pkt, n + 4, pkt + n + 4, 0, tag);
        }
    } else {
        uint8_t iv[16], mac[20];
        err = hmac(k, pkt, n + 4, NULL, 0, mac);
        if (!err && CRYPTO_memcmp(mac, pkt + n + 4, k->tag_len) != 0)
            err = EBADMSG;
        if (!err && encrypted) {
            cm_iv(iv, k->salt, ssrc, idx);
            err = ctr_crypt(k, iv, pkt + 8, n - 8);
        }
    }
    if (err)
        return err;
    if (!st && !(st = stream_add(s, &fresh)))
        return EPROTO;
    replay_add(&st->rtcp, idx);
    *len = n;
    return 0;
}

/* ---- the interface ---- */

static void session_destroy(void *data)
{
    struct srtp_session *s = data;
    keys_clear(&s->rtp);
    keys_clear(&s->rtcp);
    g_free(s->streams);
}

size_t srtp_suite_key_len(enum srtp_suite suite)
{
    switch (suite) {
    case SRTP_SUITE_AES_CM_128_HMAC_SHA1_80:
    case SRTP_SUITE_AES_CM_128_HMAC_SHA1_32:
        return AES128_KEY_LEN + CM_SALT_LEN;
    case SRTP_SUITE_AEAD_AES_128_GCM:
        return AES128_KEY_LEN + GCM_SALT_LEN;
    }
    return 0;
}

int srtp_session_alloc(struct srtp_session **sp, enum srtp_session_dir dir,
                       enum dtls_srtp_profile profile, const uint8_t *key, size_t key_len)
{
    switch (profile) {
    case DTLS_SRTP_AES128_CM_SHA1_80:
        return srtp_session_alloc_suite(sp, dir, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, key, key_len);
    case DTLS_SRTP_AEAD_AES_128_GCM:
        return srtp_session_alloc_suite(sp, dir, SRTP_SUITE_AEAD_AES_128_GCM, key, key_len);
    }
    return EINVAL;
}

int srtp_session_alloc_suite(struct srtp_session **sp, enum srtp_session_dir dir,
                             enum srtp_suite suite, const uint8_t *key, size_t key_len)
{
    if (!sp || !key || (dir != SRTP_SESSION_INBOUND && dir != SRTP_SESSION_OUTBOUND))
        return EINVAL;
    size_t want = srtp_suite_key_len(suite);
    if (!want || key_len != want)
        return EINVAL;
    int err = ensure_init();
    if (err)
        return err;

    struct srtp_session *s = mem_zalloc(sizeof(*s), session_destroy);
    if (!s)
        return ENOMEM;
    s->dir = dir;
    s->gcm = suite == SRTP_SUITE_AEAD_AES_128_GCM;
    bool decrypt = dir == SRTP_SESSION_INBOUND;
    size_t salt_len = key_len - AES128_KEY_LEN;
    size_t rtp_tag = s->gcm ? GCM_TAG_LEN : suite == SRTP_SUITE_AES_CM_128_HMAC_SHA1_32 ? 4 : 10;
    size_t rtcp_tag = s->gcm ? GCM_TAG_LEN : SRTCP_CM_TAG;
    err = keys_init(&s->rtp, s->gcm, decrypt, key, salt_len, 0, rtp_tag);
    if (!err)
        err = keys_init(&s->rtcp, s->gcm, decrypt, key, salt_len, 3, rtcp_tag);
    if (err) {
        mem_deref(s);
        return err;
    }
    *sp = s;
    return 0;
}

int srtp_session_protect(struct srtp_session *s, uint8_t *pkt, size_t *len, size_t cap, bool rtcp)
{
    if (!s || !pkt || !len || s->dir != SRTP_SESSION_OUTBOUND)
        return EINVAL;
    size_t n = *len;
    if (n < (rtcp ? RTCP_MIN_LEN : RTP_MIN_LEN) || n > SRTP_MAX_PKT) {
        count(&s->other_fail);
        return EINVAL;
    }
    if (cap < n + (rtcp ? s->rtcp.tag_len + 4 : s->rtp.tag_len))
        return EOVERFLOW;
    int err = rtcp ? rtcp_protect(s, pkt, len) : rtp_protect(s, pkt, len);
    if (err) {
        count(&s->other_fail);
        return err;
    }
    count(&s->packets);
    return 0;
}

int srtp_session_unprotect(struct srtp_session *s, uint8_t *pkt, size_t *len, bool rtcp)
{
    if (!s || !pkt || !len || s->dir != SRTP_SESSION_INBOUND)
        return EINVAL;
    size_t n = *len;
    if (n < (rtcp ? RTCP_MIN_LEN + s->rtcp.tag_len + 4 : RTP_MIN_LEN + s->rtp.tag_len) ||
        n > SRTP_MAX_PKT) {
        count(&s->other_fail);
        return EBADMSG;
    }
    int err = rtcp ? rtcp_unprotect(s, pkt, len) : rtp_unprotect(s, pkt, len);
    switch (err) {
    case 0:
        count(&s->packets);
        return 0;
    case EALREADY:
        count(&s->replay);
        return EALREADY;
    case EBADMSG:
        count(&s->auth_fail);
        return EBADMSG;
    default:
        count(&s->other_fail);
        return EBADMSG;
    }
}

void srtp_session_stats(const struct srtp_session *s, struct srtp_session_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
    if (!s)
        return;
    st->packets = atomic_load_explicit(&s->packets, memory_order_relaxed);
    st->auth_fail = atomic_load_explicit(&s->auth_fail, memory_order_relaxed);
    st->replay = atomic_load_explicit(&s->replay, memory_order_relaxed);
    st->other_fail = atomic_load_explicit(&s->other_fail, memory_order_relaxed);
}

bool srtp_session_gcm_supported(void)
{
    return true;
}
