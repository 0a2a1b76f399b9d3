/*
 * SDP read helpers: attribute lookup with the session-level fallback, directions, payload
 * formats (rtpmap with RFC 3551's static table, fmtp parameters). See sdp.h.
 *
 * These read text that came from outside, already bounded and free of control bytes by the
 * parser, but not otherwise trusted: every number is range-checked, nothing is copied unbounded.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "media/sdp.h"
#include "media/sdp_int.h"

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
