/*
 * Who may send us SIP requests: address prefixes (CIDRs) from each trunk's allowed_sources.
 *
 * Parsing is strict (the config already checked the strings; this is the gateway's own copy of
 * the rule) and matching is exact per family, with IPv4-mapped IPv6 addresses (::ffff:a.b.c.d,
 * what a dual-stack socket reports for an IPv4 peer) matched as the IPv4 address they carry.
 */
#ifndef SB_SIP_ACL_H
#define SB_SIP_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sip_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint8_t bits;
};

/* "192.0.2.0/24", "2001:db8::/32", "192.0.2.7" (a single address). EINVAL otherwise, and for a
 * prefix with host bits set. */
int sip_cidr_parse(struct sip_cidr *c, const char *s);

bool sip_cidr_match(const struct sip_cidr *c, const struct sockaddr *sa);
bool sip_cidr_match_any(const struct sip_cidr *list, size_t n, const struct sockaddr *sa);

/* The address of sa as text, without the port ("192.0.2.7", "2001:db8::1"; mapped IPv4 shown
 * as IPv4): the key sources are rate-limited and logged by. "?" for other families. */
void sip_addr_text(const struct sockaddr *sa, char *buf, size_t len);

/* "192.0.2.7:5060" / "[2001:db8::1]:5060", for log lines. */
void sip_addr_port_text(const struct sockaddr *sa, char *buf, size_t len);

#endif
