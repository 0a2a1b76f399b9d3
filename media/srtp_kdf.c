/*
 * The AES-CM PRF of RFC 3711 4.3.3: the keystream of AES-128 in counter mode under the master
 * key, with IV = (master salt XOR (label << 48)) << 16. Run once per key when a session is made,
 * so a throwaway cipher context is fine here.
 */
#include "media/srtp_kdf.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

int srtp_prf_aes_cm(const uint8_t key[AES128_KEY_LEN], const uint8_t *salt, size_t salt_len,
                    uint8_t label, uint8_t *out, size_t out_len)
{
    if (!key || !salt || !out || salt_len > 14 || out_len > 4096)
        return EINVAL;
    uint8_t iv[16] = {0};
    memcpy(iv, salt, salt_len);
    iv[7] ^= label;
    memset(out, 0, out_len);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl = 0, ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) &&
                       EVP_EncryptUpdate(c, out, &outl, out, (int)out_len);
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : EPROTO;
}
