/*
 * STUN parse and build (see stun.h). The two integrity mechanisms are the only arithmetic here:
 *
 *  - MESSAGE-INTEGRITY is HMAC-SHA1 over the message up to the attribute, with the header's
 *    length field counting up to the end of MESSAGE-INTEGRITY itself (RFC 5389 15.4). Received
 *    messages are checked on a stack copy of that prefix with the length patched, so the datagram
 *    stays untouched; built ones patch the length in place before the HMAC.
 *  - FINGERPRINT is CRC-32 (ISO-HDLC, the one of zlib and Ethernet) XOR 0x5354554e, over the
 *    message up to the attribute with the length likewise counting it (RFC 5389 15.5).
 */
#include "media/stun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define FINGERPRINT_XOR 0x5354554eu
#define ATTR_HDR        4

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* CRC-32 of a header whose length field is replaced by len_field, then of rest. */
static uint32_t crc32_msg(const uint8_t *hdr, uint16_t len_field, const uint8_t *rest, size_t n)
{
    uint8_t h[STUN_HEADER_LEN];
    uint32_t c = 0xFFFFFFFFu;

    pthread_once(&crc_once, crc_init);
    memcpy(h, hdr, sizeof(h));
    bytes_put16(h + 2, len_field);
    for (size_t i = 0; i < sizeof(h); i++)
        c = crc_table[(c ^ h[i]) & 0xFF] ^ (c >> 8);
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ rest[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* HMAC-SHA1 of data[0..n) with the header's length field replaced by len_field. */
static int hmac_msg(const uint8_t *key, size_t keylen, const uint8_t *data, size_t n,
                    uint16_t len_field, uint8_t out[STUN_INTEGRITY_LEN])
{
    uint8_t copy[STUN_MAX_LEN];
    unsigned outlen = 0;

    if (n < STUN_HEADER_LEN || n > sizeof(copy))
        return EINVAL;
    memcpy(copy, data, n);
    bytes_put16(copy + 2, len_field);
    if (!HMAC(EVP_sha1(), key, (int)keylen, copy, n, out, &outlen) || outlen != STUN_INTEGRITY_LEN)
        return EIO;
    return 0;
}

bool stun_is_message(const uint8_t *buf, size_t len)
{
    if (!buf || len < STUN_HEADER_LEN || len > STUN_MAX_LEN || (buf[0] & 0xC0))
        return false;
    size_t mlen = bytes_get16(buf + 2);
    return bytes_get32(buf + 4) == STUN_MAGIC_COOKIE && (mlen & 3) == 0 &&
           mlen + STUN_HEADER_LEN == len;
}

static int parse_xor_addr(struct stun_msg *m, const uint8_t *v, size_t n)
{
    if (n < 4 || v[0] != 0)
        return EBADMSG;
    uint16_t port = bytes_get16(v + 2) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16);
    memset(&m->xor_addr, 0, sizeof(m->xor_addr));
    if (v[1] == 0x01) {
        if (n != 8)
            return EBADMSG;
        struct sockaddr_in *sin = (struct sockaddr_in *)&m->xor_addr;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        uint32_t a = bytes_get32(v + 4) ^ STUN_MAGIC_COOKIE;
        sin->sin_addr.s_addr = htonl(a);
    } else if (v[1] == 0x02) {
        if (n != 20)
            return EBADMSG;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&m->xor_addr;
        uint8_t pad[16];
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        bytes_put32(pad, STUN_MAGIC_COOKIE);
        memcpy(pad + 4, m->tid, STUN_TID_LEN);
        for (int i = 0; i < 16; i++)
            sin6->sin6_addr.s6_addr[i] = v[4 + i] ^ pad[i];
    } else {
        return EBADMSG;
    }
    m->has_xor_addr = true;
    return 0;
}

static int parse_error(struct stun_msg *m, const uint8_t *v, size_t n)
{
    if (n < 4 || n - 4 > STUN_REASON_MAX)
        return EBADMSG;
    unsigned cls = v[2] & 0x07, num = v[3];
    if (cls < 3 || cls > 6 || num > 99)
        return EBADMSG;
    m->has_error = true;
    m->error_code = (uint16_t)(cls * 100 + num);
    m->reason = (const char *)v + 4;
    m->reason_len = n - 4;
    return 0;
}

/* One attribute before MESSAGE-INTEGRITY (or MESSAGE-INTEGRITY itself). at: its offset. */
static int parse_attr(struct stun_msg *m, uint16_t type, const uint8_t *v, size_t n, size_t at,
                      bool *seen_priority, bool *seen_role)
{
    switch (type) {
    case STUN_ATTR_USERNAME:
        if (n == 0 || n > STUN_USERNAME_MAX)
            return EBADMSG;
        if (!m->username) {
            m->username = (const char *)v;
            m->username_len = n;
        }
        return 0;
    case STUN_ATTR_MESSAGE_INTEGRITY:
        if (n != STUN_INTEGRITY_LEN)
            return EBADMSG;
        m->integrity_at = at;
        return 0;
    case STUN_ATTR_XOR_MAPPED_ADDRESS:
        return m->has_xor_addr ? 0 : parse_xor_addr(m, v, n);
    case STUN_ATTR_PRIORITY:
        if (n != 4)
            return EBADMSG;
        if (!*seen_priority) {
            *seen_priority = true;
            m->has_priority = true;
            m->priority = bytes_get32(v);
        }
        return 0;
    case STUN_ATTR_USE_CANDIDATE:
        if (n != 0)
            return EBADMSG;
        m->use_candidate = true;
        return 0;
    case STUN_ATTR_ICE_CONTROLLED:
    case STUN_ATTR_ICE_CONTROLLING: {
        if (n != 8)
            return EBADMSG;
        enum stun_role r =
            type == STUN_ATTR_ICE_CONTROLLED ? STUN_ROLE_CONTROLLED : STUN_ROLE_CONTROLLING;
        if (*seen_role) {
            if (m->role != r)
                return EBADMSG; /* both roles at once */
            return 0;
        }
        *seen_role = true;
        m->role = r;
        m->tiebreaker = ((uint64_t)bytes_get32(v) << 32) | bytes_get32(v + 4);
        return 0;
    }
    case STUN_ATTR_ERROR_CODE:
        return m->has_error ? 0 : parse_error(m, v, n);
    case STUN_ATTR_FINGERPRINT:
        return 0; /* handled by the caller */
    case STUN_ATTR_MAPPED_ADDRESS:
    case STUN_ATTR_UNKNOWN_ATTRIBUTES:
    case STUN_ATTR_REALM:
    case STUN_ATTR_NONCE:
    case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
    case STUN_ATTR_USERHASH:
        return 0; /* known, not used by ICE's short-term checks */
    default:
        if (type < 0x8000 && m->nunknown < STUN_MAX_UNKNOWN)
            m->unknown[m->nunknown++] = type;
        return 0;
    }
}

int stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len)
{
    if (!m || !buf)
        return EINVAL;
    memset(m, 0, sizeof(*m));
    if (!stun_is_message(buf, len))
        return EBADMSG;

    uint16_t type = bytes_get16(buf);
    m->cls = (enum stun_class)(((type >> 7) & 0x2) | ((type >> 4) & 0x1));
    m->method = (uint16_t)((type & 0x000F) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0F80));
    memcpy(m->tid, buf + 8, STUN_TID_LEN);
    m->buf = buf;
    m->len = len;

    bool seen_priority = false, seen_role = false, after_mi = false;
    unsigned count = 0;
    size_t at = STUN_HEADER_LEN;
    while (at < len) {
        if (len - at < ATTR_HDR || ++count > STUN_MAX_ATTRS)
            return EBADMSG;
        uint16_t atype = bytes_get16(buf + at);
        size_t alen = bytes_get16(buf + at + 2);
        size_t padded = (alen + 3) & ~(size_t)3;
        if (padded > len - at - ATTR_HDR)
            return EBADMSG;
        const uint8_t *v = buf + at + ATTR_HDR;

        if (atype == STUN_ATTR_FINGERPRINT) {
            if (alen != 4 || at + ATTR_HDR + 4 != len)
                return EBADMSG; /* must be last */
            uint32_t want = crc32_msg(buf, (uint16_t)(len - STUN_HEADER_LEN), buf + STUN_HEADER_LEN,
                                      at - STUN_HEADER_LEN) ^
                            FINGERPRINT_XOR;
            if (bytes_get32(v) != want)
                return EBADMSG;
            m->fingerprint = true;
        } else if (!after_mi) {
            int err = parse_attr(m, atype, v, alen, at, &seen_priority, &seen_role);
            if (err)
                return err;
            after_mi = atype == STUN_ATTR_MESSAGE_INTEGRITY;
        }
        at += ATTR_HDR + padded;
    }
    return 0;
}

int stun_msg_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t keylen)
{
    uint8_t mac[STUN_INTEGRITY_LEN];

    if (!m || !m->buf || (!key && keylen))
        return EINVAL;
    if (!m->integrity_at)
        return ENOENT;
    size_t end = m->integrity_at + ATTR_HDR + STUN_INTEGRITY_LEN;
    if (hmac_msg(key, keylen, m->buf, m->integrity_at, (uint16_t)(end - STUN_HEADER_LEN), mac))
        return EACCES;
    /* Constant time: the MAC is a secret until it matches. */
    const uint8_t *got = m->buf + m->integrity_at + ATTR_HDR;
    uint8_t diff = 0;
    for (size_t i = 0; i < STUN_INTEGRITY_LEN; i++)
        diff |= (uint8_t)(mac[i] ^ got[i]);
    return diff ? EACCES : 0;
}

int stun_msg_username_split(const struct stun_msg *m, const char **left, size_t *left_len,
                            const char **right, size_t *right_len)
{
    if (!m || !left || !left_len || !right || !right_len)
        return EINVAL;
    if (!m->username)
        return ENOENT;
    const char *colon = memchr(m->username, ':', m->username_len);
    if (!colon || colon == m->username)
        return EBADMSG;
    *left = m->username;
    *left_len = (size_t)(colon - m->username);
    *right = colon + 1;
    *right_len = m->username_len - *left_len - 1;
    return 0;
}

/* ---- building ---- */

static void set_len(struct bytes_w *w)
{
    bytes_put16(w->start + 2, (uint16_t)(w->len - STUN_HEADER_LEN));
}

int stun_w_header(struct bytes_w *w, uint16_t method, enum stun_class cls,
                  const uint8_t tid[STUN_TID_LEN])
{
    if (!w || !tid || w->len != 0 || method > 0x0FFF || (unsigned)cls > 3)
        return EINVAL;
    uint16_t type = (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) |
                               ((method & 0x0F80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7));
    int err = bw_u16(w, type);
    if (!err)
        err = bw_u16(w, 0);
    if (!err)
        err = bw_u32(w, STUN_MAGIC_COOKIE);
    if (!err)
        err = bw_bytes(w, tid, STUN_TID_LEN);
    return err;
}

int stun_w_attr(struct bytes_w *w, uint16_t type, const void *value, size_t len)
{
    if (!w || w->len < STUN_HEADER_LEN || (len && !value) || len > 0xFFFF)
        return EINVAL;
    size_t pad = (4 - (len & 3)) & 3;
    if (w->len + ATTR_HDR + len + pad > STUN_MAX_LEN)
        return EOVERFLOW;
    size_t mark = w->len;
    int err = bw_u16(w, type);
    if (!err)
        err = bw_u16(w, (uint16_t)len);
    if (!err)
        err = bw_bytes(w, value, len);
    if (!err)
        err = bw_zero(w, pad);
    if (err) {
        w->len = mark;
        return err;
    }
    set_len(w);
    return 0;
}

int stun_w_u32(struct bytes_w *w, uint16_t type, uint32_t v)
{
    uint8_t b[4];
    bytes_put32(b, v);
    return stun_w_attr(w, type, b, sizeof(b));
}

int stun_w_u64(struct bytes_w *w, uint16_t type, uint64_t v)
{
    uint8_t b[8];
    bytes_put32(b, (uint32_t)(v >> 32));
    bytes_put32(b + 4, (uint32_t)v);
    return stun_w_attr(w, type, b, sizeof(b));
}

int stun_w_xor_addr(struct bytes_w *w, const struct sockaddr *sa)
{
    uint8_t v[20];
    size_t n;

    if (!w || !sa || w->len < STUN_HEADER_LEN)
        return EINVAL;
    v[0] = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        v[1] = 0x01;
        bytes_put16(v + 2, ntohs(sin->sin_port) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16));
        bytes_put32(v + 4, ntohl(sin->sin_addr.s_addr) ^ STUN_MAGIC_COOKIE);
        n = 8;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        uint8_t pad[16];
        v[1] = 0x02;
        bytes_put16(v + 2, ntohs(sin6->sin6_port) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16));
        bytes_put32(pad, STUN_MAGIC_COOKIE);
        memcpy(pad + 4, w->start + 8, STUN_TID_LEN);
        for (int i = 0; i < 16; i++)
            v[4 + i] = sin6->sin6_addr.s6_addr[i] ^ pad[i];
        n = 20;
    } else {
        return EINVAL;
    }
    return stun_w_attr(w, STUN_ATTR_XOR_MAPPED_ADDRESS, v, n);
}

int stun_w_error(struct bytes_w *w, uint16_t code, const char *reason)
{
    uint8_t v[4 + 128];
    if (code < 300 || code > 699)
        return EINVAL;
    size_t rlen = reason ? strnlen(reason, 128) : 0;
    v[0] = v[1] = 0;
    v[2] = (uint8_t)(code / 100);
    v[3] = (uint8_t)(code % 100);
    if (rlen)
        memcpy(v + 4, reason, rlen);
    return stun_w_attr(w, STUN_ATTR_ERROR_CODE, v, 4 + rlen);
}

int stun_w_integrity(struct bytes_w *w, const uint8_t *key, size_t keylen)
{
    uint8_t mac[STUN_INTEGRITY_LEN];

    if (!w || w->len < STUN_HEADER_LEN || (!key && keylen))
        return EINVAL;
    if (w->len + ATTR_HDR + STUN_INTEGRITY_LEN > STUN_MAX_LEN ||
        w->cap - w->len < ATTR_HDR + STUN_INTEGRITY_LEN)
        return EOVERFLOW;
    size_t end = w->len + ATTR_HDR + STUN_INTEGRITY_LEN;
    int err = hmac_msg(key, keylen, w->start, w->len, (uint16_t)(end - STUN_HEADER_LEN), mac);
    if (err)
        return err;
    return stun_w_attr(w, STUN_ATTR_MESSAGE_INTEGRITY, mac, sizeof(mac));
}

int stun_w_fingerprint(struct bytes_w *w)
{
    if (!w || w->len < STUN_HEADER_LEN)
        return EINVAL;
    if (w->len + ATTR_HDR + 4 > STUN_MAX_LEN || w->cap - w->len < ATTR_HDR + 4)
        return EOVERFLOW;
    size_t end = w->len + ATTR_HDR + 4;
    uint32_t crc = crc32_msg(w->start, (uint16_t)(end - STUN_HEADER_LEN),
                             w->start + STUN_HEADER_LEN, w->len - STUN_HEADER_LEN);
    return stun_w_u32(w, STUN_ATTR_FINGERPRINT, crc ^ FINGERPRINT_XOR);
}

int stun_tid_random(uint8_t tid[STUN_TID_LEN])
{
    return RAND_bytes(tid, STUN_TID_LEN) == 1 ? 0 : EIO;
}

const char *stun_err_reason(uint16_t code)
{
    switch (code) {
    case STUN_ERR_BAD_REQUEST:
        return "Bad Request";
    case STUN_ERR_UNAUTHORIZED:
        return "Unauthorized";
    case STUN_ERR_FORBIDDEN:
        return "Forbidden";
    case STUN_ERR_UNKNOWN_ATTRIBUTE:
        return "Unknown Attribute";
    case STUN_ERR_ROLE_CONFLICT:
        return "Role Conflict";
    default:
        return "";
    }
}
