/*
 * libFuzzer target for STUN (media/stun.h), the first thing the shared media socket does with a
 * datagram whose first byte says STUN. The input is parsed; whatever parsed must describe itself
 * consistently (pointers inside the datagram, sizes within bounds), MESSAGE-INTEGRITY is checked
 * with a fixed key, USERNAME is split as the ICE-lite demultiplexer splits it, and what was read
 * is written again (the answer a lite agent would send, and the request with the same
 * attributes), which must parse back to the same values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool within(const void *p, size_t n, const uint8_t *buf, size_t len)
{
    const uint8_t *q = p;
    return q >= buf && n <= len && (size_t)(q - buf) <= len - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stun_msg m;
    static const uint8_t key[] = "VOkJxbRl1RmTxUk/WvJxBt";

    bool shape = stun_is_message(data, size);
    int err = stun_msg_parse(&m, data, size);
    if (err) {
        CHECK(err == EBADMSG);
        return 0;
    }
    CHECK(shape);
    CHECK(size <= STUN_MAX_LEN);
    CHECK((unsigned)m.cls <= STUN_CLASS_ERROR && m.method <= 0x0FFF);
    if (m.username) {
        CHECK(m.username_len > 0 && m.username_len <= STUN_USERNAME_MAX);
        CHECK(within(m.username, m.username_len, data, size));
    }
    if (m.has_error) {
        CHECK(m.error_code >= 300 && m.error_code <= 699);
        CHECK(m.reason_len <= STUN_REASON_MAX && within(m.reason, m.reason_len, data, size));
    }
    if (m.integrity_at)
        CHECK(m.integrity_at >= STUN_HEADER_LEN && m.integrity_at + 24 <= size);
    CHECK(m.nunknown <= STUN_MAX_UNKNOWN);
    err = stun_msg_check_integrity(&m, key, sizeof(key) - 1);
    CHECK(err == 0 || err == ENOENT || err == EACCES);
    CHECK((err == ENOENT) == (m.integrity_at == 0));

    const char *l, *r;
    size_t ll, rl;
    err = stun_msg_username_split(&m, &l, &ll, &r, &rl);
    if (!err) {
        CHECK(ll > 0 && ll + 1 + rl == m.username_len);
        CHECK(within(l, ll, data, size) && within(r, rl, data, size));
    } else {
        CHECK(err == ENOENT || err == EBADMSG);
    }

    /* Write back what was read, then read that. */
    uint8_t out[STUN_MAX_LEN];
    struct bytes_w w = bytes_w_init(out, sizeof(out));
    CHECK(stun_w_header(&w, m.method, m.cls, m.tid) == 0);
    if (m.username)
        CHECK(stun_w_attr(&w, STUN_ATTR_USERNAME, m.username, m.username_len) == 0);
    if (m.has_priority)
        CHECK(stun_w_u32(&w, STUN_ATTR_PRIORITY, m.priority) == 0);
    if (m.use_candidate)
        CHECK(stun_w_attr(&w, STUN_ATTR_USE_CANDIDATE, NULL, 0) == 0);
    if (m.role != STUN_ROLE_NONE)
        CHECK(stun_w_u64(&w,
                         m.role == STUN_ROLE_CONTROLLING ? STUN_ATTR_ICE_CONTROLLING
                                                         : STUN_ATTR_ICE_CONTROLLED,
                         m.tiebreaker) == 0);
    if (m.has_xor_addr)
        CHECK(stun_w_xor_addr(&w, (const struct sockaddr *)&m.xor_addr) == 0);
    if (m.has_error) {
        char reason[129];
        size_t n = m.reason_len < 128 ? m.reason_len : 128;
        memcpy(reason, m.reason, n);
        reason[n] = '\0';
        CHECK(stun_w_error(&w, m.error_code, reason) == 0);
    }
    CHECK(stun_w_integrity(&w, key, sizeof(key) - 1) == 0);
    CHECK(stun_w_fingerprint(&w) == 0);

    struct stun_msg m2;
    CHECK(stun_msg_parse(&m2, out, w.len) == 0);
    CHECK(m2.cls == m.cls && m2.method == m.method && !memcmp(m2.tid, m.tid, STUN_TID_LEN));
    CHECK(m2.fingerprint && stun_msg_check_integrity(&m2, key, sizeof(key) - 1) == 0);
    CHECK(m2.username_len == m.username_len);
    CHECK(!m.username || !memcmp(m2.username, m.username, m.username_len));
    CHECK(m2.has_priority == m.has_priority && m2.priority == m.priority);
    CHECK(m2.use_candidate == m.use_candidate);
    CHECK(m2.role == m.role && m2.tiebreaker == m.tiebreaker);
    CHECK(m2.has_xor_addr == m.has_xor_addr);
    if (m.has_xor_addr)
        CHECK(!memcmp(&m2.xor_addr, &m.xor_addr, sizeof(m.xor_addr)));
    CHECK(m2.has_error == m.has_error && m2.error_code == m.error_code);
    return 0;
}
