/*
 * SRTP key derivation (RFC 3711 4.3, the AES-CM PRF, key_derivation_rate 0), private to
 * media/srtp_session.c and apart so its test can check it against RFC 3711 appendix B.3.
 */
#ifndef SB_MEDIA_SRTP_KDF_H
#define SB_MEDIA_SRTP_KDF_H

#include <stddef.h>
#include <stdint.h>

#define AES128_KEY_LEN 16

/* out[0..out_len) = the session key of label (0..5) from a 128-bit master key and a master salt
 * of up to 14 bytes (AES-GCM's 12 are zero-padded, RFC 7714 11). 0 or EPROTO/EINVAL. */
int srtp_prf_aes_cm(const uint8_t key[AES128_KEY_LEN], const uint8_t *salt, size_t salt_len,
                    uint8_t label, uint8_t *out, size_t out_len);

#endif
