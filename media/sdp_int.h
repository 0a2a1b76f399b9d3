/*
 * Shared by the SDP model's files (sdp.c, sdp_read.c) and offer/answer; not for other users.
 */
#ifndef SB_MEDIA_SDP_INT_H
#define SB_MEDIA_SDP_INT_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 8866 token: one or more visible ASCII characters other than the separators. */
bool sdp_is_token(const char *p, size_t n);

/* p[0..n) as a decimal number of at most 10 digits, no sign, no larger than max. */
bool sdp_uint(const char *p, size_t n, unsigned long max, unsigned long *v);

#endif
