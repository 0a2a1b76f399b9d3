/*
 * Shared between the two halves of offer/answer: sdp_offer_answer.c (reading) and
 * sdp_oa_write.c (writing). Not for use outside them.
 */
#ifndef SB_MEDIA_SDP_OA_INT_H
#define SB_MEDIA_SDP_OA_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "media/sdp_offer_answer.h"

/* local's codec list, or the profile's default. */
void sdp_oa_codecs(const struct sdp_local *l, const struct sdp_codec **cs, size_t *n);

/* Writes the message into err (may be NULL) and returns code. */
int sdp_oa_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

bool sdp_oa_is_dtmf(const char *name);
bool sdp_oa_codec_match(const struct sdp_codec *c, const struct sdp_rtpmap *rm);

/* Whether an offered proto is one the profile (and SRTP mode) can answer; whether a proto is
 * RTP/SAVP or RTP/SAVPF; the proto our offers use (RTP_AVP: by the SRTP mode and, in a
 * renegotiation, by what the current one runs on). */
bool sdp_oa_proto_ok(enum sdp_profile p, enum sdp_srtp srtp, const char *proto);
bool sdp_oa_proto_savp(const char *proto);
const char *sdp_oa_offer_proto(const struct sdp_local *l);

/* EINVAL for a local description that cannot be used at all. */
int sdp_oa_check_local(const struct sdp_local *l);

/* SDES (sdp_read.c): the a=crypto lines of the chosen audio section m of an offer / of an
 * answer to our offer, into out->srtp, savp, crypto_local and crypto_remote; the errors of
 * sdp_offer_read / sdp_answer_read with a message in err. */
int sdp_oa_offer_crypto(const struct sdp_media *m, const struct sdp_local *l,
                        struct sdp_audio_params *out, char *err, size_t errlen);
int sdp_oa_answer_crypto(const struct sdp_media *m, const struct sdp_local *l,
                         struct sdp_audio_params *out, char *err, size_t errlen);

#endif
