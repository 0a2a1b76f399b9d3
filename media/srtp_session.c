/*
 * libsrtp2 behind a direction-typed wrapper. libsrtp wants srtp_init() exactly once per process
 * before anything else, so the first session alloc does it under g_once; it is never shut down
 * (sessions may be alive on any thread until exit).
 *
 * The replay window is 1024 packets rather than libsrtp's default 128: a video burst reordered by
 * a few hundred packets is normal and must not be dropped as a replay. The outbound side allows
 * repeated sequence numbers so a stream may retransmit (NACK / RTX) through the same session.
 */
#include "media/srtp_session.h"

#include <errno.h>
#include <limits.h>
#include <srtp2/srtp.h>
#include <stdatomic.h>
#include <string.h>

#include <glib.h>

#include "base/log.h"
#include "base/mem.h"

#define SRTP_REPLAY_WINDOW 1024
#define RTP_MIN_LEN        12
#define RTCP_MIN_LEN       8
#define SRTP_MAX_PKT       16384 /* far above any MTU; keeps lengths within int */

struct srtp_session {
    srtp_t ctx;
    enum srtp_session_dir dir;
    size_t rtp_trailer;  /* bytes protect adds to RTP */
    size_t rtcp_trailer; /* ... and to RTCP (tag + E/index word) */
    /* Single writer (the thread using the session), any reader. */
    atomic_uint_least64_t packets, auth_fail, replay, other_fail;
};

static int init_status = -1;

static gpointer srtp_global_init(gpointer unused)
{
    srtp_err_status_t st = srtp_init();
    if (st != srtp_err_status_ok)
        log_error("srtp: srtp_init failed (%d)", (int)st);
    init_status = st == srtp_err_status_ok ? 0 : EPROTO;
    return NULL;
}

static int ensure_init(void)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, srtp_global_init, NULL);
    return init_status;
}

static inline void count(atomic_uint_least64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void session_destroy(void *data)
{
    struct srtp_session *s = data;
    if (s->ctx)
        srtp_dealloc(s->ctx);
}

size_t srtp_suite_key_len(enum srtp_suite suite)
{
    switch (suite) {
    case SRTP_SUITE_AES_CM_128_HMAC_SHA1_80:
    case SRTP_SUITE_AES_CM_128_HMAC_SHA1_32:
        return SRTP_AES_ICM_128_KEY_LEN_WSALT;
    case SRTP_SUITE_AEAD_AES_128_GCM:
        return SRTP_AES_GCM_128_KEY_LEN_WSALT;
    }
    return 0;
}

static int set_policy(srtp_policy_t *p, enum srtp_suite suite, size_t key_len, size_t *rtp_tag,
                      size_t *rtcp_tag)
{
    if (!key_len || key_len != srtp_suite_key_len(suite))
        return EINVAL;
    switch (suite) {
    case SRTP_SUITE_AES_CM_128_HMAC_SHA1_80:
        srtp_crypto_policy_set_rtp_default(&p->rtp);
        srtp_crypto_policy_set_rtcp_default(&p->rtcp);
        *rtp_tag = *rtcp_tag = 10;
        return 0;
    case SRTP_SUITE_AES_CM_128_HMAC_SHA1_32:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
        srtp_crypto_policy_set_rtcp_default(&p->rtcp);
        *rtp_tag = 4;
        *rtcp_tag = 10;
        return 0;
    case SRTP_SUITE_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
        *rtp_tag = *rtcp_tag = 16;
        return 0;
    }
    return EINVAL;
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
    if (!sp || !key)
        return EINVAL;
    int err = ensure_init();
    if (err)
        return err;

    srtp_policy_t policy;
    uint8_t keybuf[SRTP_MAX_KEY_LEN];
    size_t rtp_tag = 0, rtcp_tag = 0;

    memset(&policy, 0, sizeof(policy));
    err = set_policy(&policy, suite, key_len, &rtp_tag, &rtcp_tag);
    if (err)
        return err;
    if (key_len > sizeof(keybuf))
        return EINVAL;
    memcpy(keybuf, key, key_len);

    policy.ssrc.type = dir == SRTP_SESSION_INBOUND ? ssrc_any_inbound : ssrc_any_outbound;
    policy.key = keybuf;
    policy.window_size = SRTP_REPLAY_WINDOW;
    policy.allow_repeat_tx = dir == SRTP_SESSION_OUTBOUND;
    policy.next = NULL;

    struct srtp_session *s = mem_zalloc(sizeof(*s), session_destroy);
    if (!s) {
        explicit_bzero(keybuf, sizeof(keybuf));
        return ENOMEM;
    }
    s->dir = dir;
    s->rtp_trailer = rtp_tag;
    s->rtcp_trailer = rtcp_tag + 4;

    srtp_err_status_t st = srtp_create(&s->ctx, &policy);
    explicit_bzero(keybuf, sizeof(keybuf));
    if (st != srtp_err_status_ok) {
        s->ctx = NULL;
        mem_deref(s);
        return st == srtp_err_status_alloc_fail ? ENOMEM : EPROTO;
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
    if (cap < n + (rtcp ? s->rtcp_trailer : s->rtp_trailer))
        return EOVERFLOW;

    int ilen = (int)n;
    srtp_err_status_t st =
        rtcp ? srtp_protect_rtcp(s->ctx, pkt, &ilen) : srtp_protect(s->ctx, pkt, &ilen);
    if (st != srtp_err_status_ok || ilen < 0 || (size_t)ilen > cap) {
        count(&s->other_fail);
        return EPROTO;
    }
    *len = (size_t)ilen;
    count(&s->packets);
    return 0;
}

int srtp_session_unprotect(struct srtp_session *s, uint8_t *pkt, size_t *len, bool rtcp)
{
    if (!s || !pkt || !len || s->dir != SRTP_SESSION_INBOUND)
        return EINVAL;
    size_t n = *len;
    if (n < (rtcp ? RTCP_MIN_LEN + s->rtcp_trailer : RTP_MIN_LEN + s->rtp_trailer) ||
        n > SRTP_MAX_PKT) {
        count(&s->other_fail);
        return EBADMSG;
    }

    int ilen = (int)n;
    srtp_err_status_t st =
        rtcp ? srtp_unprotect_rtcp(s->ctx, pkt, &ilen) : srtp_unprotect(s->ctx, pkt, &ilen);
    switch (st) {
    case srtp_err_status_ok:
        if (ilen < 0 || (size_t)ilen > n) {
            count(&s->other_fail);
            return EBADMSG;
        }
        *len = (size_t)ilen;
        count(&s->packets);
        return 0;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        count(&s->replay);
        return EALREADY;
    case srtp_err_status_auth_fail:
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

static gpointer probe_gcm(gpointer unused)
{
    if (ensure_init())
        return GINT_TO_POINTER(1);
    srtp_policy_t p;
    uint8_t key[SRTP_AES_GCM_128_KEY_LEN_WSALT] = {0};
    memset(&p, 0, sizeof(p));
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    p.ssrc.type = ssrc_any_outbound;
    p.key = key;
    p.window_size = SRTP_REPLAY_WINDOW;
    srtp_t ctx = NULL;
    if (srtp_create(&ctx, &p) != srtp_err_status_ok)
        return GINT_TO_POINTER(1);
    srtp_dealloc(ctx);
    return GINT_TO_POINTER(2);
}

bool srtp_session_gcm_supported(void)
{
    static GOnce once = G_ONCE_INIT;
    return GPOINTER_TO_INT(g_once(&once, probe_gcm, NULL)) == 2;
}
