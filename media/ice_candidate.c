/*
 * The candidate-attribute grammar of RFC 8839 section 5.1:
 *
 *   candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
 *             [raddr <addr>] [rport <port>] *(<extension-name> <extension-value>)
 *
 * The line is copied into a bounded stack buffer and split on spaces into at most
 * ICE_CAND_MAX_TOKENS tokens, so nothing a peer sends can make us allocate or loop without bound.
 * Every field is validated as strictly as the RFC allows without rejecting what real stacks send
 * (Chromium's "raddr 0.0.0.0 rport 0", numeric or hex foundations, upper-case "UDP").
 */
#include "media/ice_candidate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ICE_CAND_MAX_TOKENS 64
#define ICE_CAND_MAX_TOKEN  256

static bool is_ice_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '+' || ch == '/';
}

static bool ice_chars(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_ice_char(s[i]))
            return false;
    }
    return true;
}

/* Decimal digits only (no sign, no spaces), at most 10 of them, value <= max. */
static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool valid_hostname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    bool all_digits_dots = true;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && ch != '-')
            return false;
        if (!(ch >= '0' && ch <= '9'))
            all_digits_dots = false;
        if (++label > 63)
            return false;
    }
    /* A trailing dot, or something that looks like a broken IPv4 literal ("1.2.3"). */
    return label > 0 && !all_digits_dots;
}

static bool valid_address(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (strchr(s, ':'))
        return strlen(s) < INET6_ADDRSTRLEN && inet_pton(AF_INET6, s, buf) == 1;
    if (inet_pton(AF_INET, s, buf) == 1)
        return true;
    return valid_hostname(s);
}

static bool copy_token(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

const char *ice_cand_type_name(enum ice_cand_type t)
{
    switch (t) {
    case ICE_CAND_HOST:
        return "host";
    case ICE_CAND_SRFLX:
        return "srflx";
    case ICE_CAND_PRFLX:
        return "prflx";
    case ICE_CAND_RELAY:
        return "relay";
    }
    return "?";
}

const char *ice_transport_name(enum ice_transport t)
{
    return t == ICE_TRANSPORT_TCP ? "tcp" : "udp";
}

static const char *tcptype_name(enum ice_tcptype t)
{
    switch (t) {
    case ICE_TCPTYPE_ACTIVE:
        return "active";
    case ICE_TCPTYPE_PASSIVE:
        return "passive";
    case ICE_TCPTYPE_SO:
        return "so";
    case ICE_TCPTYPE_NONE:
        break;
    }
    return NULL;
}

static bool parse_type(const char *s, enum ice_cand_type *t)
{
    static const struct {
        const char *name;
        enum ice_cand_type type;
    } types[] = {
        {"host", ICE_CAND_HOST},
        {"srflx", ICE_CAND_SRFLX},
        {"prflx", ICE_CAND_PRFLX},
        {"relay", ICE_CAND_RELAY},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (!strcasecmp(s, types[i].name)) {
            *t = types[i].type;
            return true;
        }
    }
    return false;
}

static bool parse_tcptype(const char *s, enum ice_tcptype *t)
{
    if (!strcasecmp(s, "active"))
        *t = ICE_TCPTYPE_ACTIVE;
    else if (!strcasecmp(s, "passive"))
        *t = ICE_TCPTYPE_PASSIVE;
    else if (!strcasecmp(s, "so"))
        *t = ICE_TCPTYPE_SO;
    else
        return false;
    return true;
}

/* Printable ASCII without spaces: what any extension token may hold. */
static bool token_chars_ok(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return false;
    }
    return true;
}

/* Splits buf in place on runs of spaces. Returns the token count, or -1 when there are too many
 * tokens or one is too long. */
static int tokenize(char *buf, char **tok, int max)
{
    int n = 0;
    char *p = buf;
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            return n;
        if (n == max)
            return -1;
        tok[n++] = p;
        char *start = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - start) > ICE_CAND_MAX_TOKEN)
            return -1;
        if (*p)
            *p++ = '\0';
    }
}

#define FAIL(reason)                                                                               \
    do {                                                                                           \
        if (why)                                                                                   \
            *why = (reason);                                                                       \
        return EBADMSG;                                                                            \
    } while (0)

int ice_candidate_parse(struct ice_candidate *c, const char *line, const char **why)
{
    char buf[ICE_CAND_MAX_LINE + 1];
    char *tok[ICE_CAND_MAX_TOKENS];
    uint32_t v;

    if (why)
        *why = NULL;
    if (!c || !line)
        return EINVAL;

    size_t len = strnlen(line, ICE_CAND_MAX_LINE + 1);
    if (len > ICE_CAND_MAX_LINE)
        FAIL("line too long");
    memcpy(buf, line, len);
    buf[len] = '\0';
    if (len && buf[len - 1] == '\n')
        buf[--len] = '\0';
    if (len && buf[len - 1] == '\r')
        buf[--len] = '\0';

    char *p = buf;
    if (!strncmp(p, "a=", 2))
        p += 2;
    if (strncmp(p, "candidate:", 10))
        FAIL("not a candidate attribute");
    p += 10;
    for (char *q = p; *q; q++) {
        if ((unsigned char)*q < 0x20 || (unsigned char)*q == 0x7f || *q == '\t')
            FAIL("control character");
    }

    int n = tokenize(p, tok, ICE_CAND_MAX_TOKENS);
    if (n < 0)
        FAIL("too many or too long tokens");
    if (n < 8)
        FAIL("missing fields");

    memset(c, 0, sizeof(*c));

    if (!ice_chars(tok[0], 1, ICE_CAND_FOUNDATION_SZ - 1))
        FAIL("bad foundation");
    strcpy(c->foundation, tok[0]);

    if (!parse_u32(tok[1], ICE_CAND_MAX_COMPONENT, &v) || v == 0)
        FAIL("bad component id");
    c->component = (uint16_t)v;

    if (!strcasecmp(tok[2], "udp"))
        c->transport = ICE_TRANSPORT_UDP;
    else if (!strcasecmp(tok[2], "tcp"))
        c->transport = ICE_TRANSPORT_TCP;
    else
        FAIL("unknown transport");

    if (!parse_u32(tok[3], UINT32_MAX, &v))
        FAIL("bad priority");
    c->priority = v;

    if (!valid_address(tok[4]) || !copy_token(c->address, sizeof(c->address), tok[4]))
        FAIL("bad address");

    if (!parse_u32(tok[5], 65535, &v) || v == 0)
        FAIL("bad port");
    c->port = (uint16_t)v;

    if (strcmp(tok[6], "typ"))
        FAIL("missing typ");
    if (!parse_type(tok[7], &c->type))
        FAIL("unknown candidate type");

    bool seen_raddr = false, seen_rport = false;
    for (int i = 8; i < n; i += 2) {
        const char *name = tok[i];
        if (i + 1 >= n)
            FAIL("extension attribute without a value");
        const char *val = tok[i + 1];
        if (!token_chars_ok(name) || !token_chars_ok(val))
            FAIL("bad character in extension attribute");

        if (!strcmp(name, "raddr")) {
            if (seen_raddr)
                FAIL("duplicate raddr");
            if (!valid_address(val) || !copy_token(c->raddr, sizeof(c->raddr), val))
                FAIL("bad raddr");
            seen_raddr = true;
        } else if (!strcmp(name, "rport")) {
            if (seen_rport)
                FAIL("duplicate rport");
            if (!parse_u32(val, 65535, &v))
                FAIL("bad rport");
            c->rport = (uint16_t)v;
            seen_rport = true;
        } else if (!strcmp(name, "tcptype")) {
            if (c->tcptype != ICE_TCPTYPE_NONE)
                FAIL("duplicate tcptype");
            if (c->transport != ICE_TRANSPORT_TCP)
                FAIL("tcptype on a UDP candidate");
            if (!parse_tcptype(val, &c->tcptype))
                FAIL("bad tcptype");
        } else if (!strcmp(name, "generation")) {
            if (c->has_generation)
                FAIL("duplicate generation");
            if (!parse_u32(val, UINT32_MAX, &v))
                FAIL("bad generation");
            c->generation = v;
            c->has_generation = true;
        } else if (!strcmp(name, "ufrag")) {
            if (c->ufrag[0])
                FAIL("duplicate ufrag");
            if (!ice_chars(val, 1, ICE_CAND_UFRAG_SZ - 1))
                FAIL("bad ufrag");
            strcpy(c->ufrag, val);
        }
        /* Anything else (network-id, network-cost, ...) is skipped. */
    }
    if (seen_raddr != seen_rport)
        FAIL("raddr and rport must come together");
    c->has_raddr = seen_raddr;
    return 0;
}

int ice_candidate_format(const struct ice_candidate *c, char *buf, size_t cap)
{
    if (!c || !buf || !cap)
        return EINVAL;
    buf[0] = '\0';

    /* Refuse what the parser would refuse, so formatted text always round-trips. */
    if (!ice_chars(c->foundation, 1, ICE_CAND_FOUNDATION_SZ - 1) || c->component == 0 ||
        c->component > ICE_CAND_MAX_COMPONENT || c->port == 0 ||
        strnlen(c->address, sizeof(c->address)) == sizeof(c->address) ||
        !valid_address(c->address) || c->type > ICE_CAND_RELAY || c->transport > ICE_TRANSPORT_TCP)
        return EINVAL;
    if (c->has_raddr &&
        (strnlen(c->raddr, sizeof(c->raddr)) == sizeof(c->raddr) || !valid_address(c->raddr)))
        return EINVAL;
    if (c->ufrag[0] && (strnlen(c->ufrag, sizeof(c->ufrag)) == sizeof(c->ufrag) ||
                        !ice_chars(c->ufrag, 1, ICE_CAND_UFRAG_SZ - 1)))
        return EINVAL;
    const char *tcptype = NULL;
    if (c->tcptype != ICE_TCPTYPE_NONE) {
        tcptype = tcptype_name(c->tcptype);
        if (!tcptype || c->transport != ICE_TRANSPORT_TCP)
            return EINVAL;
    }

    size_t len = 0;
    int r =
        snprintf(buf, cap, "candidate:%s %u %s %u %s %u typ %s", c->foundation,
                 (unsigned)c->component, ice_transport_name(c->transport), (unsigned)c->priority,
                 c->address, (unsigned)c->port, ice_cand_type_name(c->type));
#define ADVANCE()                                                                                  \
    do {                                                                                           \
        if (r < 0 || (size_t)r >= cap - len)                                                       \
            return EOVERFLOW;                                                                      \
        len += (size_t)r;                                                                          \
    } while (0)
    ADVANCE();
    if (c->has_raddr) {
        r = snprintf(buf + len, cap - len, " raddr %s rport %u", c->raddr, (unsigned)c->rport);
        ADVANCE();
    }
    if (tcptype) {
        r = snprintf(buf + len, cap - len, " tcptype %s", tcptype);
        ADVANCE();
    }
    if (c->has_generation) {
        r = snprintf(buf + len, cap - len, " generation %u", (unsigned)c->generation);
        ADVANCE();
    }
    if (c->ufrag[0]) {
        r = snprintf(buf + len, cap - len, " ufrag %s", c->ufrag);
        ADVANCE();
    }
#undef ADVANCE
    return 0;
}

bool ice_candidate_is_mdns(const struct ice_candidate *c)
{
    if (!c)
        return false;
    size_t n = strnlen(c->address, sizeof(c->address));
    if (n <= 6 || n == sizeof(c->address) || strchr(c->address, ':'))
        return false;
    return !strcasecmp(c->address + n - 6, ".local");
}

bool ice_candidate_equal(const struct ice_candidate *a, const struct ice_candidate *b)
{
    return !strcmp(a->foundation, b->foundation) && a->component == b->component &&
           a->transport == b->transport && a->priority == b->priority &&
           !strcmp(a->address, b->address) && a->port == b->port && a->type == b->type &&
           a->has_raddr == b->has_raddr &&
           (!a->has_raddr || (!strcmp(a->raddr, b->raddr) && a->rport == b->rport)) &&
           a->tcptype == b->tcptype && a->has_generation == b->has_generation &&
           (!a->has_generation || a->generation == b->generation) && !strcmp(a->ufrag, b->ufrag);
}
