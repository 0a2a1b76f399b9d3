/*
 * SDP read helpers: attribute lookup with the session-level fallback, directions, payload
 * formats (rtpmap with RFC 3551's static table, fmtp parameters), see sdp.h; and SDES: the
 * a=crypto line (RFC 4568, see sdp_offer_answer.h) and which line an offer or an answer agrees
 * on (for sdp_offer_answer.c, see sdp_oa_int.h).
 *
 * These read text that came from outside, already bounded and free of control bytes by the
 * parser, but not otherwise trusted: every number is range-checked, nothing is copied unbounded.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "media/sdp.h"
#include "media/sdp_int.h"
#include "media/sdp_oa_int.h"
#include "media/sdp_offer_answer.h"

struct span {
    const char *p;
    size_t n;
};

const struct sdp_attr *sdp_attrs_next(const struct sdp_attrs *attrs, const char *name,
                                      const struct sdp_attr *prev)
{
    if (!attrs || !name || !attrs->n)
        return NULL;
    size_t i = prev ? (size_t)(prev - attrs->v) + 1 : 0;
    for (; i < attrs->n; i++) {
        if (!strcmp(attrs->v[i].name, name))
            return &attrs->v[i];
    }
    return NULL;
}

const struct sdp_attr *sdp_attrs_get(const struct sdp_attrs *attrs, const char *name)
{
    return sdp_attrs_next(attrs, name, NULL);
}

const struct sdp_attr *sdp_attr_find(const struct sdp_session *s, const struct sdp_media *m,
                                     const char *name)
{
    const struct sdp_attr *a = m ? sdp_attrs_get(&m->attrs, name) : NULL;
    return a ? a : s ? sdp_attrs_get(&s->attrs, name) : NULL;
}

const char *sdp_attr_value(const struct sdp_session *s, const struct sdp_media *m, const char *name)
{
    const struct sdp_attr *a = sdp_attr_find(s, m, name);
    return a ? a->value : NULL;
}

const char *sdp_media_mid(const struct sdp_media *m)
{
    const struct sdp_attr *a = m ? sdp_attrs_get(&m->attrs, "mid") : NULL;
    return a ? a->value : NULL;
}

const struct sdp_conn *sdp_media_conn(const struct sdp_session *s, const struct sdp_media *m)
{
    if (m && m->conn.addr)
        return &m->conn;
    return s && s->conn.addr ? &s->conn : NULL;
}

static const char *const dir_names[] = {"inactive", "sendonly", "recvonly", "sendrecv"};

static bool level_dir(const struct sdp_attrs *at, enum sdp_dir *d)
{
    for (size_t i = 0; i < at->n; i++) {
        if (at->v[i].value)
            continue;
        for (int k = 0; k < 4; k++) {
            if (!strcmp(at->v[i].name, dir_names[k])) {
                *d = (enum sdp_dir)k;
                return true;
            }
        }
    }
    return false;
}

enum sdp_dir sdp_media_dir(const struct sdp_session *s, const struct sdp_media *m)
{
    enum sdp_dir d = SDP_DIR_SENDRECV;
    if (m && level_dir(&m->attrs, &d))
        return d;
    if (s)
        level_dir(&s->attrs, &d);
    return d;
}

enum sdp_dir sdp_dir_reverse(enum sdp_dir d)
{
    unsigned b = (unsigned)d;
    return (enum sdp_dir)(((b & SDP_DIR_SEND) ? SDP_DIR_RECV : 0) |
                          ((b & SDP_DIR_RECV) ? SDP_DIR_SEND : 0));
}

const char *sdp_dir_name(enum sdp_dir d)
{
    return (unsigned)d < 4 ? dir_names[d] : "?";
}

int sdp_fmt_pt(const char *fmt, uint8_t *pt)
{
    unsigned long v;
    if (!fmt || !sdp_uint(fmt, strlen(fmt), 127, &v))
        return EBADMSG;
    *pt = (uint8_t)v;
    return 0;
}

/* The PT a "<pt> rest" attribute value starts with; *rest points past the following spaces. */
static bool value_pt(const char *v, uint8_t *pt, const char **rest)
{
    if (!v)
        return false;
    size_t n = strcspn(v, " ");
    unsigned long x;
    if (!sdp_uint(v, n, 127, &x))
        return false;
    *pt = (uint8_t)x;
    v += n;
    while (*v == ' ')
        v++;
    *rest = v;
    return true;
}

static const struct sdp_rtpmap static_pts[] = {
    {0, "PCMU", 8000, 1}, {3, "GSM", 8000, 1}, {4, "G723", 8000, 1},  {8, "PCMA", 8000, 1},
    {9, "G722", 8000, 1}, {13, "CN", 8000, 1}, {18, "G729", 8000, 1},
};

static int parse_rtpmap(const char *enc, uint8_t pt, struct sdp_rtpmap *rm)
{
    /* enc: "opus/48000/2" (maybe followed by junk spaces) */
    size_t n = strcspn(enc, " ");
    struct span f[3];
    size_t nf = 0, start = 0;
    for (size_t i = 0; i <= n && nf <= 3; i++) {
        if (i == n || enc[i] == '/') {
            if (nf < 3)
                f[nf] = (struct span){enc + start, i - start};
            nf++;
            start = i + 1;
        }
    }
    unsigned long rate, ch = 1;
    if (nf < 2 || nf > 3 || !f[0].n || f[0].n >= sizeof(rm->name) ||
        !sdp_is_token(f[0].p, f[0].n) || !sdp_uint(f[1].p, f[1].n, 0xffffffffUL, &rate) || !rate ||
        (nf == 3 && (!sdp_uint(f[2].p, f[2].n, 255, &ch) || !ch)))
        return EBADMSG;
    rm->pt = pt;
    memcpy(rm->name, f[0].p, f[0].n);
    rm->name[f[0].n] = '\0';
    rm->clock_rate = (uint32_t)rate;
    rm->channels = (uint8_t)ch;
    return 0;
}

int sdp_media_rtpmap(const struct sdp_media *m, uint8_t pt, struct sdp_rtpmap *rm)
{
    if (!m || !rm)
        return EINVAL;
    for (const struct sdp_attr *a = NULL; (a = sdp_attrs_next(&m->attrs, "rtpmap", a));) {
        uint8_t apt;
        const char *rest;
        if (value_pt(a->value, &apt, &rest) && apt == pt)
            return parse_rtpmap(rest, pt, rm);
    }
    for (size_t i = 0; i < sizeof(static_pts) / sizeof(static_pts[0]); i++) {
        if (static_pts[i].pt == pt) {
            *rm = static_pts[i];
            return 0;
        }
    }
    return ENOENT;
}

const char *sdp_media_fmtp(const struct sdp_media *m, uint8_t pt)
{
    if (!m)
        return NULL;
    for (const struct sdp_attr *a = NULL; (a = sdp_attrs_next(&m->attrs, "fmtp", a));) {
        uint8_t apt;
        const char *rest;
        if (value_pt(a->value, &apt, &rest) && apt == pt)
            return rest;
    }
    return NULL;
}

int sdp_fmtp_param(const char *fmtp, const char *key, const char **val, size_t *vlen)
{
    if (!fmtp || !key)
        return ENOENT;
    size_t klen = strlen(key);
    const char *p = fmtp;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        const char *eq = memchr(p, '=', n);
        if (eq) {
            size_t kn = (size_t)(eq - p);
            while (kn && p[kn - 1] == ' ')
                kn--;
            if (kn == klen && !strncasecmp(p, key, klen)) {
                const char *v = eq + 1;
                size_t vn = n - (size_t)(v - p);
                while (vn && *v == ' ')
                    v++, vn--;
                while (vn && v[vn - 1] == ' ')
                    vn--;
                if (val)
                    *val = v;
                if (vlen)
                    *vlen = vn;
                return 0;
            }
        }
        p += n;
    }
    return ENOENT;
}

int sdp_fmtp_uint(const char *fmtp, const char *key, uint32_t *v)
{
    const char *p;
    size_t n;
    int err = sdp_fmtp_param(fmtp, key, &p, &n);
    if (err)
        return err;
    unsigned long x;
    if (!sdp_uint(p, n, 0xffffffffUL, &x))
        return EBADMSG;
    if (v)
        *v = (uint32_t)x;
    return 0;
}

/* ---- SDES a=crypto (RFC 4568) ------------------------------------------------------------- */

static const struct {
    const char *name;
    enum srtp_suite suite;
} crypto_suites[] = {
    {"AES_CM_128_HMAC_SHA1_80", SRTP_SUITE_AES_CM_128_HMAC_SHA1_80},
    {"AES_CM_128_HMAC_SHA1_32", SRTP_SUITE_AES_CM_128_HMAC_SHA1_32},
    {"AEAD_AES_128_GCM", SRTP_SUITE_AEAD_AES_128_GCM},
};

#define NSUITES (sizeof(crypto_suites) / sizeof(crypto_suites[0]))

/* base64 of the longest key||salt we know (46 bytes, AES-256), with padding */
#define B64_MAX 64

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const char *sdp_crypto_suite_name(enum srtp_suite suite)
{
    for (size_t i = 0; i < NSUITES; i++) {
        if (crypto_suites[i].suite == suite)
            return crypto_suites[i].name;
    }
    return NULL;
}

static int b64_value(char c)
{
    const char *at = c ? strchr(b64, c) : NULL;
    return at ? (int)(at - b64) : -1;
}

/* Strict base64 (RFC 4648 alphabet), padding optional as some stacks leave it out; bits left
 * over in the last character must be zero. The number of bytes, or -1. */
static int b64_decode(const char *p, size_t n, uint8_t *out, size_t cap)
{
    while (n && p[n - 1] == '=' && n % 4 != 1)
        n--; /* trailing padding: at most what a final group can hold */
    if (n % 4 == 1)
        return -1;
    size_t len = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(p[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len == cap)
                return -1;
            out[len++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return acc ? -1 : (int)len;
}

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

__attribute__((format(printf, 4, 5))) static int why_fail(char *why, size_t whylen, int code,
                                                          const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* "|2^31" or "|1048576": packets the key may protect. SRTP's own limit is 2^48. */
static int parse_lifetime(const char *p, size_t n, uint64_t *life, char *why, size_t whylen)
{
    unsigned long v;
    if (n > 2 && p[0] == '2' && p[1] == '^') {
        if (!sdp_uint(p + 2, n - 2, 999, &v))
            return why_fail(why, whylen, EBADMSG, "malformed key lifetime");
        if (v > 48)
            return why_fail(why, whylen, ENOTSUP, "key lifetime beyond 2^48 packets");
        *life = 1ULL << v;
        return 0;
    }
    uint64_t x = 0;
    if (!n)
        return why_fail(why, whylen, EBADMSG, "malformed key lifetime");
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return why_fail(why, whylen, EBADMSG, "malformed key lifetime");
        x = x > (1ULL << 48) ? x : x * 10 + (uint64_t)(p[i] - '0');
    }
    if (!x)
        return why_fail(why, whylen, EBADMSG, "key lifetime of 0 packets");
    if (x > (1ULL << 48))
        return why_fail(why, whylen, ENOTSUP, "key lifetime beyond 2^48 packets");
    *life = x;
    return 0;
}

/* "inline:<key||salt>[|lifetime][|MKI:length]" for suite into c. */
static int parse_key_params(struct sdp_crypto *c, const char *p, size_t n, char *why, size_t whylen)
{
    if (memchr(p, ';', n))
        return why_fail(why, whylen, ENOTSUP, "several keys (we key each direction once)");
    if (n < 7 || strncasecmp(p, "inline:", 7))
        return why_fail(why, whylen, ENOTSUP, "key method is not inline");
    p += 7;
    n -= 7;
    size_t kn = 0;
    while (kn < n && p[kn] != '|')
        kn++;
    uint8_t key[B64_MAX];
    int klen = kn <= B64_MAX ? b64_decode(p, kn, key, sizeof(key)) : -1;
    if (klen < 0)
        return why_fail(why, whylen, EBADMSG, "key is not base64 of a key and salt");
    size_t want = srtp_suite_key_len(c->suite);
    if ((size_t)klen != want || want > sizeof(c->key)) {
        explicit_bzero(key, sizeof(key));
        return why_fail(why, whylen, EBADMSG, "key and salt of %d bytes, %s needs %zu", klen,
                        sdp_crypto_suite_name(c->suite), want);
    }
    memcpy(c->key, key, want);
    c->key_len = want;
    explicit_bzero(key, sizeof(key));

    /* then at most a lifetime and an MKI, in that order */
    size_t at = kn;
    bool have_life = false;
    while (at < n) {
        at++; /* the '|' */
        size_t fn = 0;
        while (at + fn < n && p[at + fn] != '|')
            fn++;
        if (memchr(p + at, ':', fn))
            return why_fail(why, whylen, ENOTSUP, "an MKI (we key each direction once)");
        if (have_life)
            return why_fail(why, whylen, EBADMSG, "two key lifetimes");
        int e = parse_lifetime(p + at, fn, &c->lifetime, why, whylen);
        if (e)
            return e;
        have_life = true;
        at += fn;
    }
    return 0;
}

/* One session parameter: those that change nothing for us pass, the rest refuse the line. */
static int session_param(const char *p, size_t n, char *why, size_t whylen)
{
    static const char *const refused[] = {"UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP",
                                          "UNAUTHENTICATED_SRTP"};
    if (p[0] == '-')
        return 0; /* an extension the writer marked as safe to ignore */
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (n == strlen(refused[i]) && !strncmp(p, refused[i], n))
            return why_fail(why, whylen, ENOTSUP, "%s is not supported", refused[i]);
    }
    if (n > 4 && !strncmp(p, "KDR=", 4)) {
        unsigned long v;
        if (!sdp_uint(p + 4, n - 4, 24, &v))
            return why_fail(why, whylen, EBADMSG, "malformed KDR");
        return v ? why_fail(why, whylen, ENOTSUP, "a key derivation rate (KDR) is not supported")
                 : 0;
    }
    if (n > 4 && !strncmp(p, "WSH=", 4))
        return 0; /* a replay window hint: ours (1024) is larger than the minimum of 64 */
    if (n > 10 && !strncmp(p, "FEC_ORDER=", 10))
        return 0; /* we do no FEC, so the order of FEC and SRTP does not matter */
    if (n > 8 && !strncmp(p, "FEC_KEY=", 8))
        return why_fail(why, whylen, ENOTSUP, "FEC_KEY is not supported");
    return why_fail(why, whylen, ENOTSUP, "unknown session parameter %.*s", (int)(n > 24 ? 24 : n),
                    p);
}

int sdp_crypto_parse(struct sdp_crypto *c, const char *value, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (!c || !value)
        return EINVAL;
    memset(c, 0, sizeof(*c));

    struct span f[3];
    size_t nf = 0;
    const char *p = value;
    while (*p == ' ')
        p++;
    while (*p && nf < 3) {
        size_t n = strcspn(p, " ");
        f[nf++] = (struct span){p, n};
        p += n;
        while (*p == ' ')
            p++;
    }
    if (nf < 3)
        return why_fail(why, whylen, EBADMSG, "a=crypto needs a tag, a suite and a key");

    unsigned long tag;
    if (f[0].n > 9 || !sdp_uint(f[0].p, f[0].n, SDP_CRYPTO_TAG_MAX, &tag))
        return why_fail(why, whylen, EBADMSG, "malformed a=crypto tag");
    c->tag = (uint32_t)tag;

    size_t i = 0;
    while (i < NSUITES && (f[1].n != strlen(crypto_suites[i].name) ||
                           strncasecmp(f[1].p, crypto_suites[i].name, f[1].n)))
        i++;
    if (i == NSUITES) {
        if (!sdp_is_token(f[1].p, f[1].n))
            return why_fail(why, whylen, EBADMSG, "malformed crypto suite");
        return why_fail(why, whylen, ENOTSUP, "crypto suite %.*s is not supported",
                        (int)(f[1].n > 32 ? 32 : f[1].n), f[1].p);
    }
    c->suite = crypto_suites[i].suite;

    int e = parse_key_params(c, f[2].p, f[2].n, why, whylen);
    while (!e && *p) {
        size_t n = strcspn(p, " ");
        e = session_param(p, n, why, whylen);
        p += n;
        while (*p == ' ')
            p++;
    }
    if (e)
        explicit_bzero(c, sizeof(*c));
    return e;
}

int sdp_crypto_format(const struct sdp_crypto *c, char *buf, size_t cap)
{
    const char *name = c ? sdp_crypto_suite_name(c->suite) : NULL;
    if (!name || !buf || c->tag > SDP_CRYPTO_TAG_MAX ||
        c->key_len != srtp_suite_key_len(c->suite) || c->key_len > sizeof(c->key))
        return EINVAL;
    char key[B64_MAX + 1];
    b64_encode(c->key, c->key_len, key);
    int n = snprintf(buf, cap, "%u %s inline:%s", (unsigned)c->tag, name, key);
    explicit_bzero(key, sizeof(key));
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            explicit_bzero(buf, cap);
        return EOVERFLOW;
    }
    return 0;
}

/* ---- SDES in offer/answer
 * ---------------------------------------------------------------------------------- */

static const struct sdp_crypto *local_crypto(const struct sdp_local *l, enum srtp_suite suite,
                                             bool by_tag, uint32_t tag)
{
    for (size_t i = 0; l->srtp != SDP_SRTP_OFF && i < l->ncrypto; i++) {
        if (by_tag ? l->crypto[i].tag == tag : l->crypto[i].suite == suite)
            return &l->crypto[i];
    }
    return NULL;
}

/* The offer's a=crypto lines: the first one with a suite we have a key for is agreed. */
int sdp_oa_offer_crypto(const struct sdp_media *m, const struct sdp_local *l,
                        struct sdp_audio_params *out, char *err, size_t errlen)
{
    out->savp = sdp_oa_proto_savp(m->proto);
    if (l->srtp == SDP_SRTP_OFF)
        return 0; /* a=crypto in an RTP/AVP offer is best effort: we answer plain RTP */
    char why[96] = "";
    int first = 0;
    unsigned lines = 0;
    for (const struct sdp_attr *a = NULL; (a = sdp_attrs_next(&m->attrs, "crypto", a));) {
        struct sdp_crypto c;
        char w[96];
        lines++;
        int e = a->value ? sdp_crypto_parse(&c, a->value, w, sizeof(w)) : EBADMSG;
        if (!e && !local_crypto(l, c.suite, false, 0)) {
            e = ENOTSUP;
            snprintf(w, sizeof(w), "crypto suite %s is not enabled",
                     sdp_crypto_suite_name(c.suite));
        }
        if (e) {
            if (!first) {
                first = e;
                snprintf(why, sizeof(why), "%s", a->value ? w : "an empty a=crypto");
            }
            continue;
        }
        out->srtp = true;
        out->crypto_remote = c;
        out->crypto_local = *local_crypto(l, c.suite, false, 0);
        out->crypto_local.tag = c.tag; /* the answer names the line it takes */
        out->crypto_local.lifetime = 0;
        explicit_bzero(&c, sizeof(c));
        return 0;
    }
    if (out->savp && !lines)
        return sdp_oa_fail(err, errlen, EPROTO, "%s offered without a=crypto", m->proto);
    if (out->savp)
        return sdp_oa_fail(err, errlen, first, "no a=crypto we can use (the first: %s)", why);
    if (l->srtp == SDP_SRTP_REQUIRED)
        return sdp_oa_fail(err, errlen, ENOTSUP, "SRTP is required, the offer is plain %s%s%s",
                           m->proto, lines ? ": " : "", lines ? why : "");
    return 0;
}

/* The answer's a=crypto: one line naming the tag and suite of one of ours, or none (plain RTP,
 * unless we offered RTP/SAVP). */
int sdp_oa_answer_crypto(const struct sdp_media *m, const struct sdp_local *l,
                         struct sdp_audio_params *out, char *err, size_t errlen)
{
    out->savp = sdp_oa_proto_savp(m->proto);
    const struct sdp_attr *a = sdp_attrs_get(&m->attrs, "crypto");
    if (l->srtp == SDP_SRTP_OFF)
        return 0;
    if (!a)
        return out->savp
                   ? sdp_oa_fail(err, errlen, EPROTO, "the answer is %s without a=crypto", m->proto)
                   : 0;
    if (sdp_attrs_next(&m->attrs, "crypto", a))
        return sdp_oa_fail(err, errlen, EPROTO, "the answer has more than one a=crypto");
    struct sdp_crypto c;
    char why[96];
    int e = a->value ? sdp_crypto_parse(&c, a->value, why, sizeof(why)) : EBADMSG;
    if (e)
        return sdp_oa_fail(err, errlen, e, "the answer's a=crypto: %s", a->value ? why : "empty");
    const struct sdp_crypto *ours = local_crypto(l, c.suite, true, c.tag);
    if (!ours || ours->suite != c.suite) {
        explicit_bzero(&c, sizeof(c));
        return sdp_oa_fail(err, errlen, EPROTO,
                           "the answer's a=crypto (tag %u, %s) matches none we offered",
                           (unsigned)c.tag, sdp_crypto_suite_name(c.suite));
    }
    out->srtp = true;
    out->crypto_local = *ours;
    out->crypto_remote = c;
    explicit_bzero(&c, sizeof(c));
    return 0;
}
