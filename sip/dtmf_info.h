/*
 * DTMF carried in SIP INFO requests, the way many phones and trunks send it when RFC 4733
 * events were not negotiated (or alongside them): application/dtmf-relay, a few "Key=value"
 * lines ("Signal=5", "Duration=160"), or application/dtmf, the digit alone. Neither has a
 * standard; what is accepted here is what deployed phones send: keys in any case, blanks around
 * '=', CRLF or LF line ends, the signal as a digit or as its RFC 4733 event code ("10" for '*').
 *
 * Pure: no I/O, no SIP stack; fuzzed (tests/fuzz/fuzz_sip_info.c).
 */
#ifndef SB_SIP_DTMF_INFO_H
#define SB_SIP_DTMF_INFO_H

#include <stddef.h>
#include <stdint.h>

#define SIP_DTMF_INFO_MAX        256  /* a longer body is not DTMF */
#define SIP_DTMF_INFO_DEFAULT_MS 160  /* when the body gives no duration */
#define SIP_DTMF_INFO_MAX_MS     5000 /* a longer duration is clamped to this */

/* The digit of an INFO body. ctype: the Content-Type's "type/subtype" (any case). 0 with *digit
 * ('0'-'9', '*', '#', 'A'-'D') and *duration_ms; ENOTSUP for another content type; EBADMSG for a
 * body that names no digit, or that is malformed or too long. body need not be NUL-terminated. */
int sip_dtmf_info_parse(const char *ctype, const char *body, size_t len, char *digit,
                        uint16_t *duration_ms);

#endif
