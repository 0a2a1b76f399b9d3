/*
 * CIDR parsing and matching for allowed_sources (see acl.h).
 */
#include "sip/acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int sip_cidr_parse(struct sip_cidr *c, const char *s)
{
    char a[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    memset(c, 0, sizeof(*c));
    if (al == 0 || al >= sizeof(a))
        return EINVAL;
    memcpy(a, s, al);
    a[al] = '\0';
    if (inet_pton(AF_INET, a, c->addr) == 1)
        c->family = AF_INET;
    else if (inet_pton(AF_INET6, a, c->addr) == 1)
        c->family = AF_INET6;
    else
        return EINVAL;
    unsigned max = c->family == AF_INET ? 32 : 128;
    unsigned bits = max;
    if (slash) {
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return EINVAL;
        bits = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return EINVAL;
            bits = bits * 10 + (unsigned)(*p - '0');
        }
        if (bits > max)
            return EINVAL;
    }
    for (unsigned i = bits; i < max; i++) {
        if (c->addr[i / 8] & (0x80 >> (i % 8)))
            return EINVAL;
    }
    c->bits = (uint8_t)bits;
    return 0;
}

/* The address bytes of sa, an IPv4-mapped IPv6 address as IPv4. */
static const uint8_t *addr_of(const struct sockaddr *sa, int *family)
{
    if (sa->sa_family == AF_INET) {
        *family = AF_INET;
        return (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            *family = AF_INET;
            return a6->s6_addr + 12;
        }
        *family = AF_INET6;
        return a6->s6_addr;
    }
    *family = 0;
    return NULL;
}

bool sip_cidr_match(const struct sip_cidr *c, const struct sockaddr *sa)
{
    int fam;
    const uint8_t *a = sa ? addr_of(sa, &fam) : NULL;
    if (!a || fam != c->family)
        return false;
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(a, c->addr, full) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff00 >> rest);
    return (a[full] & mask) == (c->addr[full] & mask);
}

bool sip_cidr_match_any(const struct sip_cidr *list, size_t n, const struct sockaddr *sa)
{
    for (size_t i = 0; i < n; i++) {
        if (sip_cidr_match(&list[i], sa))
            return true;
    }
    return false;
}

void sip_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
    int fam;
    const uint8_t *a = sa ? addr_of(sa, &fam) : NULL;
    if (!a || !inet_ntop(fam, a, buf, (socklen_t)len))
        snprintf(buf, len, "?");
}

void sip_addr_port_text(const struct sockaddr *sa, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    int fam;
    sip_addr_text(sa, a, sizeof(a));
    if (!sa || !addr_of(sa, &fam)) {
        snprintf(buf, len, "?");
        return;
    }
    unsigned port = ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                                   : ((const struct sockaddr_in6 *)sa)->sin6_port);
    if (fam == AF_INET6)
        snprintf(buf, len, "[%s]:%u", a, port);
    else
        snprintf(buf, len, "%s:%u", a, port);
}
