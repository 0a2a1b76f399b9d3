/*
 * SDP model, parser and formatter (see sdp.h for the shape and its reasons).
 *
 * Parsing is one pass over at most SDP_MAX_LEN bytes: each line is checked (length, bytes, form)
 * before anything is copied, so a hostile description costs at most a few copies of its own
 * size. Strings go to an arena owned by the session; the variable-length arrays (attributes,
 * formats, other lines) are malloc'd and capped by the SDP_MAX_* bounds.
 *
 * Formatting runs the same writer twice, once to measure and once to fill an exactly sized mem
 * string, so there is no reallocation and no fixed buffer to overflow.
 *
 * The read helpers (attribute lookup, rtpmap, fmtp, direction) are in sdp_read.c.
 */
#include "media/sdp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "media/sdp_int.h"

#define ARENA_BLOCK 4096

struct sdp_arena {
    struct sdp_arena *next;
    size_t used, cap;
    char data[];
};

/* ---- memory ----------------------------------------------------------------------------- */

static void session_destroy(void *data)
{
    struct sdp_session *s = data;
    for (size_t i = 0; i < s->nmedia; i++) {
        free(s->media[i].fmts);
        free(s->media[i].other.v);
        free(s->media[i].attrs.v);
    }
    free(s->other.v);
    free(s->attrs.v);
    for (struct sdp_arena *a = s->arena, *next; a; a = next) {
        next = a->next;
        free(a);
    }
}

static struct sdp_session *session_new(size_t arena_hint)
{
    struct sdp_session *s = mem_zalloc(sizeof(*s), session_destroy);
    if (!s)
        return NULL;
    size_t cap = arena_hint > ARENA_BLOCK ? arena_hint : ARENA_BLOCK;
    s->arena = malloc(sizeof(*s->arena) + cap);
    if (!s->arena)
        return mem_deref(s);
    s->arena->next = NULL;
    s->arena->used = 0;
    s->arena->cap = cap;
    return s;
}

/* A NUL-terminated copy of p[0..n) owned by the session. */
static char *sdup(struct sdp_session *s, const char *p, size_t n)
{
    struct sdp_arena *a = s->arena;
    if (a->cap - a->used < n + 1) {
        size_t cap = n + 1 > ARENA_BLOCK ? n + 1 : ARENA_BLOCK;
        struct sdp_arena *b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        if (cap > ARENA_BLOCK) { /* a one-off big string: keep the head's free space in use */
            b->next = a->next;
            a->next = b;
        } else {
            b->next = a;
            s->arena = b;
        }
        a = b;
    }
    char *d = a->data + a->used;
    memcpy(d, p, n);
    d[n] = '\0';
    a->used += n + 1;
    return d;
}

/* Makes room for one more element of an array capped at max elements. */
static int grow(void *vp, size_t *cap, size_t n, size_t elsz, size_t max)
{
    void **v = vp;
    if (n >= max)
        return EOVERFLOW;
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > max)
        ncap = max;
    void *nv = realloc(*v, ncap * elsz);
    if (!nv)
        return ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}

static int attr_push(struct sdp_session *s, struct sdp_attrs *at, const char *line, size_t len)
{
    int err = grow(&at->v, &at->cap, at->n, sizeof(*at->v), SDP_MAX_ATTRS);
    if (err)
        return err;
    const char *colon = memchr(line, ':', len);
    size_t nlen = colon ? (size_t)(colon - line) : len;
    char *l = sdup(s, line, len);
    char *name = l ? sdup(s, line, nlen) : NULL;
    if (!name)
        return ENOMEM;
    at->v[at->n++] = (struct sdp_attr){name, colon ? l + nlen + 1 : NULL, l};
    return 0;
}

static int line_push(struct sdp_session *s, struct sdp_lines *ls, char type, const char *v,
                     size_t len)
{
    int err = grow(&ls->v, &ls->cap, ls->n, sizeof(*ls->v), SDP_MAX_OTHER);
    if (err)
        return err;
    char *d = sdup(s, v, len);
    if (!d)
        return ENOMEM;
    ls->v[ls->n++] = (struct sdp_line){type, d};
    return 0;
}

/* ---- characters ------------------------------------------------------------------------- */

/* RFC 8866 token-char: visible ASCII except the separators. */
static bool is_token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]", c);
}

bool sdp_is_token(const char *p, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_token_char((unsigned char)p[i]))
            return false;
    }
    return true;
}

/* A proto: token *("/" token). */
static bool is_proto(const char *p, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '/') {
            if (!sdp_is_token(p + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* ---- parsing ---------------------------------------------------------------------------- */

struct span {
    const char *p;
    size_t n;
};

/* Splits on runs of spaces. Returns the field count, which may exceed max (fields past max are
 * counted, not stored). */
static size_t split(const char *p, size_t n, struct span *f, size_t max)
{
    size_t count = 0, i = 0;
    while (i < n) {
        while (i < n && p[i] == ' ')
            i++;
        if (i == n)
            break;
        size_t start = i;
        while (i < n && p[i] != ' ')
            i++;
        if (count < max)
            f[count] = (struct span){p + start, i - start};
        count++;
    }
    return count;
}

bool sdp_uint(const char *p, size_t n, unsigned long max, unsigned long *v)
{
    if (!n || n > 10)
        return false;
    unsigned long long x = 0; /* ten digits fit, whatever the width of long */
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        x = x * 10 + (unsigned long long)(p[i] - '0');
    }
    if (x > max)
        return false;
    *v = (unsigned long)x;
    return true;
}

struct parser {
    struct sdp_session *s;
    struct sdp_media *m; /* the current m-section, NULL in the session part */
    unsigned lineno;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int perr(struct parser *ps, const char *fmt, ...)
{
    if (ps->err && ps->errlen) {
        int off = ps->lineno ? snprintf(ps->err, ps->errlen, "sdp line %u: ", ps->lineno)
                             : snprintf(ps->err, ps->errlen, "sdp: ");
        if (off >= 0 && (size_t)off < ps->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err + off, ps->errlen - (size_t)off, fmt, ap);
            va_end(ap);
        }
    }
    return EBADMSG;
}

/* An EOVERFLOW from a capped array becomes a message naming the bound. */
static int pushed(struct parser *ps, int err, int max, const char *what)
{
    if (err == EOVERFLOW)
        return perr(ps, "more than %d %s in the %s", max, what,
                    ps->m ? "m-section" : "session part");
    return err;
}

static int parse_conn(struct parser *ps, const char *v, size_t n)
{
    struct sdp_conn *c = ps->m ? &ps->m->conn : &ps->s->conn;
    if (c->addr)
        return perr(ps, "second c= line in the %s", ps->m ? "m-section" : "session part");
    struct span f[3];
    if (split(v, n, f, 3) != 3)
        return perr(ps, "c= line needs 3 fields (nettype addrtype address)");
    c->nettype = sdup(ps->s, f[0].p, f[0].n);
    c->addrtype = sdup(ps->s, f[1].p, f[1].n);
    c->addr = sdup(ps->s, f[2].p, f[2].n);
    return c->nettype && c->addrtype && c->addr ? 0 : ENOMEM;
}

static int parse_origin(struct parser *ps, const char *v, size_t n)
{
    struct span f[6];
    if (split(v, n, f, 6) != 6)
        return perr(ps, "o= line needs 6 fields");
    struct sdp_origin *o = &ps->s->origin;
    const char **dst[6] = {&o->username, &o->sess_id,  &o->sess_version,
                           &o->nettype,  &o->addrtype, &o->addr};
    for (size_t i = 0; i < 6; i++) {
        if (!(*dst[i] = sdup(ps->s, f[i].p, f[i].n)))
            return ENOMEM;
    }
    return 0;
}

static int parse_media(struct parser *ps, const char *v, size_t n)
{
    struct sdp_session *s = ps->s;
    if (s->nmedia >= SDP_MAX_MEDIA)
        return perr(ps, "more than %d m= sections", SDP_MAX_MEDIA);
    struct span f[3 + SDP_MAX_FORMATS];
    size_t nf = split(v, n, f, 3 + SDP_MAX_FORMATS);
    if (nf < 3)
        return perr(ps, "m= line needs media, port and proto");
    if (nf == 3)
        return perr(ps, "m= line has no formats");
    if (nf > 3 + SDP_MAX_FORMATS)
        return perr(ps, "m= line has more than %d formats", SDP_MAX_FORMATS);
    if (!sdp_is_token(f[0].p, f[0].n))
        return perr(ps, "m= line: bad media type");
    struct span port = f[1], nports = {NULL, 0};
    const char *slash = memchr(port.p, '/', port.n);
    if (slash) {
        nports = (struct span){slash + 1, port.n - (size_t)(slash - port.p) - 1};
        port.n = (size_t)(slash - port.p);
    }
    unsigned long pv, nv = 0;
    if (!sdp_uint(port.p, port.n, 65535, &pv) ||
        (slash && (!sdp_uint(nports.p, nports.n, 65535, &nv) || !nv)))
        return perr(ps, "m= line: bad port");
    if (!is_proto(f[2].p, f[2].n))
        return perr(ps, "m= line: bad proto");

    struct sdp_media *m = &s->media[s->nmedia++];
    ps->m = m;
    m->port = (uint16_t)pv;
    m->nports = (uint16_t)nv;
    m->type = sdup(s, f[0].p, f[0].n);
    m->proto = sdup(s, f[2].p, f[2].n);
    m->fmts = malloc((nf - 3) * sizeof(*m->fmts));
    if (!m->type || !m->proto || !m->fmts)
        return ENOMEM;
    m->fmts_cap = nf - 3;
    for (size_t i = 3; i < nf; i++) {
        if (!sdp_is_token(f[i].p, f[i].n))
            return perr(ps, "m= line: bad format \"%.*s\"", (int)(f[i].n > 16 ? 16 : f[i].n),
                        f[i].p);
        if (!(m->fmts[m->nfmts++] = sdup(s, f[i].p, f[i].n)))
            return ENOMEM;
    }
    return 0;
}

static int parse_attr(struct parser *ps, const char *v, size_t n)
{
    const char *colon = memchr(v, ':', n);
    size_t nlen = colon ? (size_t)(colon - v) : n;
    if (!colon) {
        while (nlen && v[nlen - 1] == ' ') /* "a=rtcp-mux " from sloppy writers */
            nlen--;
        n = nlen;
    }
    if (!sdp_is_token(v, nlen))
        return perr(ps, "a= line: bad attribute name");
    struct sdp_attrs *at = ps->m ? &ps->m->attrs : &ps->s->attrs;
    return pushed(ps, attr_push(ps->s, at, v, n), SDP_MAX_ATTRS, "attributes");
}

/* One line, without its line ending, already checked for length and bytes. */
static int parse_line(struct parser *ps, const char *line, size_t n, unsigned *seen)
{
    char type = line[0];
    if (n < 2 || line[1] != '=' || type < 'a' || type > 'z')
        return perr(ps, "not a <type>=<value> line");
    if (!(*seen & 1) && type != 'v')
        return perr(ps, "the description does not start with v=");
    const char *v = line + 2;
    size_t vn = n - 2;
    bool session_only = strchr("vosuepzrt", type) != NULL;
    if (session_only && ps->m)
        return perr(ps, "%c= line inside an m-section", type);

    switch (type) {
    case 'v':
        if (*seen & 1)
            return perr(ps, "second v= line");
        if (vn != 1 || v[0] != '0')
            return perr(ps, "unsupported version v=%.*s", (int)(vn > 8 ? 8 : vn), v);
        *seen |= 1;
        return 0;
    case 'o':
        if (*seen & 2)
            return perr(ps, "second o= line");
        *seen |= 2;
        return parse_origin(ps, v, vn);
    case 's':
        if (ps->s->name)
            return perr(ps, "second s= line");
        return (ps->s->name = sdup(ps->s, v, vn)) ? 0 : ENOMEM;
    case 'c':
        return parse_conn(ps, v, vn);
    case 'm':
        if (!(*seen & 2))
            return perr(ps, "m= line before the o= line");
        return parse_media(ps, v, vn);
    case 'a':
        return parse_attr(ps, v, vn);
    case 'i':
    case 'b':
    case 'k':
    case 'u':
    case 'e':
    case 'p':
    case 't':
    case 'r':
    case 'z': {
        struct sdp_lines *ls = ps->m ? &ps->m->other : &ps->s->other;
        return pushed(ps, line_push(ps->s, ls, type, v, vn), SDP_MAX_OTHER, "i=/b=/t=/k=... lines");
    }
    default:
        return perr(ps, "unknown line type %c=", type);
    }
}

int sdp_parse(struct sdp_session **sp, const char *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!sp || (!text && len))
        return EINVAL;
    if (len > SDP_MAX_LEN) {
        if (err && errlen)
            snprintf(err, errlen, "sdp: %zu bytes, more than the %d allowed", len, SDP_MAX_LEN);
        return EBADMSG;
    }
    struct parser ps = {.err = err, .errlen = errlen};
    ps.s = session_new(len + len / 4 + 64);
    if (!ps.s)
        return ENOMEM;

    unsigned seen = 0;
    int rc = 0;
    size_t pos = 0;
    while (pos < len && !rc) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        ps.lineno++;
        if (n && line[n - 1] == '\r')
            n--;
        if (n > SDP_MAX_LINE) {
            rc = perr(&ps, "line of %zu bytes, more than the %d allowed", n, SDP_MAX_LINE);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (is_ctl((unsigned char)line[i])) {
                rc = perr(&ps, "control byte 0x%02x at column %zu", (unsigned char)line[i], i + 1);
                break;
            }
        }
        if (!rc && n)
            rc = parse_line(&ps, line, n, &seen);
    }
    if (!rc) {
        ps.lineno = 0;
        if (!(seen & 1))
            rc = perr(&ps, "no v= line: not a session description");
        else if (!(seen & 2))
            rc = perr(&ps, "no o= line");
        else if (!ps.s->nmedia)
            rc = perr(&ps, "no m= line");
    }
    if (rc) {
        mem_deref(ps.s);
        return rc;
    }
    *sp = ps.s;
    return 0;
}

/* ---- formatting ------------------------------------------------------------------------- */

/* Measures when buf is NULL, writes otherwise (cap was measured in the first pass). */
struct out {
    char *buf;
    size_t len;
};

static void put(struct out *o, const char *p, size_t n)
{
    if (o->buf)
        memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_line(struct out *o, char type, const char *v)
{
    char hdr[2] = {type, '='};
    put(o, hdr, 2);
    puts_(o, v);
    put(o, "\r\n", 2);
}

static void put_other(struct out *o, const struct sdp_lines *ls, const char *types)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (strchr(types, ls->v[i].type))
            put_line(o, ls->v[i].type, ls->v[i].value);
    }
}

static void put_conn(struct out *o, const struct sdp_conn *c)
{
    if (!c->addr)
        return;
    puts_(o, "c=");
    puts_(o, c->nettype);
    put(o, " ", 1);
    puts_(o, c->addrtype);
    put(o, " ", 1);
    puts_(o, c->addr);
    put(o, "\r\n", 2);
}

static void put_attrs(struct out *o, const struct sdp_attrs *at)
{
    for (size_t i = 0; i < at->n; i++)
        put_line(o, 'a', at->v[i].line);
}

static void format_into(struct out *o, const struct sdp_session *s)
{
    const struct sdp_origin *og = &s->origin;
    puts_(o, "v=0\r\no=");
    const char *of[6] = {og->username, og->sess_id,  og->sess_version,
                         og->nettype,  og->addrtype, og->addr};
    for (size_t i = 0; i < 6; i++) {
        if (i)
            put(o, " ", 1);
        puts_(o, of[i]);
    }
    put(o, "\r\n", 2);
    put_line(o, 's', s->name ? s->name : "-");
    put_other(o, &s->other, "iuep");
    put_conn(o, &s->conn);
    put_other(o, &s->other, "b");
    bool has_t = false;
    for (size_t i = 0; i < s->other.n; i++)
        has_t |= s->other.v[i].type == 't';
    if (!has_t)
        puts_(o, "t=0 0\r\n");
    put_other(o, &s->other, "trz");
    put_other(o, &s->other, "k");
    put_attrs(o, &s->attrs);

    for (size_t i = 0; i < s->nmedia; i++) {
        const struct sdp_media *m = &s->media[i];
        char port[16];
        if (m->nports)
            snprintf(port, sizeof(port), " %u/%u ", m->port, m->nports);
        else
            snprintf(port, sizeof(port), " %u ", m->port);
        puts_(o, "m=");
        puts_(o, m->type);
        puts_(o, port);
        puts_(o, m->proto);
        for (size_t f = 0; f < m->nfmts; f++) {
            put(o, " ", 1);
            puts_(o, m->fmts[f]);
        }
        put(o, "\r\n", 2);
        put_other(o, &m->other, "i");
        put_conn(o, &m->conn);
        put_other(o, &m->other, "b");
        put_other(o, &m->other, "k");
        put_attrs(o, &m->attrs);
    }
}

int sdp_format(const struct sdp_session *s, char **textp)
{
    if (!s || !textp || !s->origin.addr)
        return EINVAL;
    for (size_t i = 0; i < s->nmedia; i++) {
        if (!s->media[i].nfmts) /* would not parse again */
            return EINVAL;
    }
    struct out o = {NULL, 0};
    format_into(&o, s);
    size_t n = o.len;
    o = (struct out){mem_alloc(n + 1, NULL), 0};
    if (!o.buf)
        return ENOMEM;
    format_into(&o, s);
    o.buf[n] = '\0';
    *textp = o.buf;
    return 0;
}

/* ---- building --------------------------------------------------------------------------- */

static bool text_ok(const char *v, size_t max)
{
    size_t n = 0;
    for (; v[n]; n++) {
        if (is_ctl((unsigned char)v[n]) || n >= max)
            return false;
    }
    return true;
}

static bool addr_ok(const char *a)
{
    return a && *a && text_ok(a, 256) && !strchr(a, ' ');
}

static int set_conn(struct sdp_session *s, struct sdp_conn *c, const char *addr)
{
    if (!addr_ok(addr))
        return EINVAL;
    c->nettype = "IN";
    c->addrtype = strchr(addr, ':') ? "IP6" : "IP4";
    c->addr = sdup(s, addr, strlen(addr));
    return c->addr ? 0 : ENOMEM;
}

int sdp_session_alloc(struct sdp_session **sp, uint64_t sess_id, uint64_t sess_version)
{
    if (!sp)
        return EINVAL;
    struct sdp_session *s = session_new(0);
    if (!s)
        return ENOMEM;
    char id[24], ver[24];
    snprintf(id, sizeof(id), "%llu", (unsigned long long)sess_id);
    snprintf(ver, sizeof(ver), "%llu", (unsigned long long)sess_version);
    s->origin = (struct sdp_origin){
        "-", sdup(s, id, strlen(id)), sdup(s, ver, strlen(ver)), "IN", "IP4", "127.0.0.1"};
    s->name = "-";
    if (!s->origin.sess_id || !s->origin.sess_version || line_push(s, &s->other, 't', "0 0", 3)) {
        mem_deref(s);
        return ENOMEM;
    }
    *sp = s;
    return 0;
}

int sdp_origin_set_addr(struct sdp_session *s, const char *addr)
{
    if (!s)
        return EINVAL;
    struct sdp_conn c;
    int err = set_conn(s, &c, addr);
    if (err)
        return err;
    s->origin.addrtype = c.addrtype;
    s->origin.addr = c.addr;
    return 0;
}

int sdp_conn_set(struct sdp_session *s, struct sdp_media *m, const char *addr)
{
    if (!s)
        return EINVAL;
    return set_conn(s, m ? &m->conn : &s->conn, addr);
}

int sdp_media_add(struct sdp_session *s, struct sdp_media **mp, const char *type, uint16_t port,
                  const char *proto)
{
    if (!s || !type || !proto || !sdp_is_token(type, strlen(type)) ||
        !is_proto(proto, strlen(proto)) || strlen(type) + strlen(proto) > 256)
        return EINVAL;
    if (s->nmedia >= SDP_MAX_MEDIA)
        return EOVERFLOW;
    struct sdp_media *m = &s->media[s->nmedia];
    memset(m, 0, sizeof(*m));
    m->type = sdup(s, type, strlen(type));
    m->proto = sdup(s, proto, strlen(proto));
    if (!m->type || !m->proto)
        return ENOMEM;
    m->port = port;
    s->nmedia++;
    if (mp)
        *mp = m;
    return 0;
}

int sdp_media_add_format(struct sdp_session *s, struct sdp_media *m, const char *fmt)
{
    if (!s || !m || !fmt || !sdp_is_token(fmt, strlen(fmt)))
        return EINVAL;
    /* "m=" type " 65535/65535 " proto, then " fmt" each: keep the line within bounds */
    size_t len = 2 + strlen(m->type) + 13 + strlen(m->proto) + 1 + strlen(fmt);
    for (size_t i = 0; i < m->nfmts; i++)
        len += 1 + strlen(m->fmts[i]);
    if (len > SDP_MAX_LINE)
        return EOVERFLOW;
    int err = grow(&m->fmts, &m->fmts_cap, m->nfmts, sizeof(*m->fmts), SDP_MAX_FORMATS);
    if (err)
        return err;
    const char *d = sdup(s, fmt, strlen(fmt));
    if (!d)
        return ENOMEM;
    m->fmts[m->nfmts++] = d;
    return 0;
}

int sdp_attr_add(struct sdp_session *s, struct sdp_media *m, const char *name, const char *value)
{
    if (!s || !name || !sdp_is_token(name, strlen(name)))
        return EINVAL;
    size_t nlen = strlen(name);
    if (!value)
        return attr_push(s, m ? &m->attrs : &s->attrs, name, nlen);
    if (!text_ok(value, SDP_MAX_LINE))
        return EINVAL;
    size_t vlen = strlen(value);
    if (nlen + 1 + vlen > SDP_MAX_LINE - 2)
        return EINVAL;
    char buf[SDP_MAX_LINE];
    memcpy(buf, name, nlen);
    buf[nlen] = ':';
    memcpy(buf + nlen + 1, value, vlen);
    return attr_push(s, m ? &m->attrs : &s->attrs, buf, nlen + 1 + vlen);
}

int sdp_attr_addf(struct sdp_session *s, struct sdp_media *m, const char *name, const char *fmt,
                  ...)
{
    if (!fmt)
        return EINVAL;
    char value[SDP_MAX_LINE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value))
        return EINVAL;
    return sdp_attr_add(s, m, name, value);
}
