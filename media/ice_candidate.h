/*
 * ICE candidate attributes (RFC 8839 section 5.1, RFC 6544 for TCP): the "candidate:..." lines
 * a peer trickles through signalling, parsed into a fixed-size struct and formatted back.
 *
 * The text comes from the remote party untouched, so the parser is strict and bounded: every
 * token has a length limit, numbers are range-checked, the whole line is capped, and anything
 * malformed is rejected with EBADMSG and a static reason string the caller can log. Extension
 * attributes we do not use (network-id, network-cost, ...) are skipped as name/value pairs.
 *
 * The struct has no pointers so it can be copied between threads by value.
 */
#ifndef SB_MEDIA_ICE_CANDIDATE_H
#define SB_MEDIA_ICE_CANDIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds (including the NUL where a size). */
#define ICE_CAND_MAX_LINE      1024 /* whole attribute text, "a=" included */
#define ICE_CAND_FOUNDATION_SZ 33   /* 1*32 ice-char */
#define ICE_CAND_ADDR_SZ       256  /* IPv4/IPv6 literal or a hostname of up to 253 chars */
#define ICE_CAND_UFRAG_SZ      257  /* 4..256 ice-char per RFC 8839, we accept 1..256 */
#define ICE_CAND_MAX_COMPONENT 256

enum ice_transport {
    ICE_TRANSPORT_UDP,
    ICE_TRANSPORT_TCP,
};

enum ice_cand_type {
    ICE_CAND_HOST,
    ICE_CAND_SRFLX,
    ICE_CAND_PRFLX,
    ICE_CAND_RELAY,
};

enum ice_tcptype {
    ICE_TCPTYPE_NONE, /* absent (always for UDP) */
    ICE_TCPTYPE_ACTIVE,
    ICE_TCPTYPE_PASSIVE,
    ICE_TCPTYPE_SO,
};

struct ice_candidate {
    char foundation[ICE_CAND_FOUNDATION_SZ];
    uint16_t component; /* 1..256 */
    enum ice_transport transport;
    uint32_t priority;
    char address[ICE_CAND_ADDR_SZ]; /* as given: IP literal or hostname (mDNS "<uuid>.local") */
    uint16_t port;                  /* 1..65535 */
    enum ice_cand_type type;
    bool has_raddr; /* raddr and rport present (both or neither) */
    char raddr[ICE_CAND_ADDR_SZ];
    uint16_t rport; /* 0 allowed: browsers hide it as "raddr 0.0.0.0 rport 0" */
    enum ice_tcptype tcptype;
    bool has_generation;
    uint32_t generation;
    char ufrag[ICE_CAND_UFRAG_SZ]; /* "" when absent */
};

/*
 * Parses one candidate attribute: "candidate:..." or "a=candidate:...", one trailing CRLF or LF
 * tolerated. On EBADMSG *why (if not NULL) gets a static reason ("bad port", ...); *c is then
 * unspecified. EINVAL for NULL arguments.
 */
int ice_candidate_parse(struct ice_candidate *c, const char *line, const char **why);

/* Writes "candidate:..." (no "a=") with raddr/rport, tcptype, generation and ufrag when set.
 * EOVERFLOW if cap is too small (buf then holds a truncated, NUL-terminated string), EINVAL for
 * a candidate that does not satisfy the parser's rules (the output always re-parses). */
int ice_candidate_format(const struct ice_candidate *c, char *buf, size_t cap);

/* A hostname ending in ".local" (RFC 6762): an mDNS-obfuscated host candidate. */
bool ice_candidate_is_mdns(const struct ice_candidate *c);

/* Field-by-field equality (strings compared up to their NUL). */
bool ice_candidate_equal(const struct ice_candidate *a, const struct ice_candidate *b);

const char *ice_cand_type_name(enum ice_cand_type t); /* "host", "srflx", ... */
const char *ice_transport_name(enum ice_transport t); /* "udp", "tcp" */

#endif
