/*
 * STUN messages (media/stun.h): the RFC 5769 test vectors parsed, authenticated and rebuilt byte
 * for byte; error responses; and the refusals a parser of network input owes: every truncation,
 * a wrong cookie or length, attributes that overrun or come after FINGERPRINT, a corrupted
 * FINGERPRINT or MESSAGE-INTEGRITY, sizes out of range, both ICE roles at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <openssl/evp.h>

#include "media/stun.h"

static const char password[] = "VOkJxbRl1RmTxUk/WvJxBt";

static const uint8_t tid_5769[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                     0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* RFC 5769 2.1: sample request. */
static const uint8_t req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 2.2: sample IPv4 response. */
static const uint8_t resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 2.3: sample IPv6 response. */
static const uint8_t resp6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

/* RFC 5769 2.4: request with long-term authentication (no FINGERPRINT). */
static const uint8_t req_ltc[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72,
    0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88,
    0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00,
    0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
    0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73,
    0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72,
    0x67, 0x00, 0x00, 0x08, 0x00, 0x14, 0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02,
    0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};

static const uint8_t *pw(void)
{
    return (const uint8_t *)password;
}

static void rfc5769_request(void **state)
{
    struct stun_msg m;
    assert_true(stun_is_message(req, sizeof(req)));
    assert_int_equal(stun_msg_parse(&m, req, sizeof(req)), 0);
    assert_int_equal(m.cls, STUN_CLASS_REQUEST);
    assert_int_equal(m.method, STUN_METHOD_BINDING);
    assert_memory_equal(m.tid, tid_5769, 12);
    assert_int_equal(m.username_len, 9);
    assert_memory_equal(m.username, "evtj:h6vY", 9);
    assert_true(m.has_priority);
    assert_int_equal(m.priority, 0x6e0001ff);
    assert_int_equal(m.role, STUN_ROLE_CONTROLLED);
    assert_true(m.tiebreaker == 0x932ff9b151263b36ULL);
    assert_false(m.use_candidate);
    assert_true(m.fingerprint);
    assert_int_equal(m.nunknown, 0);
    assert_int_equal(stun_msg_check_integrity(&m, pw(), strlen(password)), 0);
    assert_int_equal(stun_msg_check_integrity(&m, pw(), strlen(password) - 1), EACCES);
    assert_int_equal(stun_msg_check_integrity(&m, (const uint8_t *)"x", 1), EACCES);

    const char *l, *r;
    size_t ll, rl;
    assert_int_equal(stun_msg_username_split(&m, &l, &ll, &r, &rl), 0);
    assert_int_equal(ll, 4);
    assert_memory_equal(l, "evtj", 4);
    assert_int_equal(rl, 4);
    assert_memory_equal(r, "h6vY", 4);
}

static void rfc5769_responses(void **state)
{
    struct stun_msg m;
    assert_int_equal(stun_msg_parse(&m, resp4, sizeof(resp4)), 0);
    assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
    assert_int_equal(m.method, STUN_METHOD_BINDING);
    assert_true(m.has_xor_addr);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&m.xor_addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 32853);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xC0000201); /* 192.0.2.1 */
    assert_int_equal(stun_msg_check_integrity(&m, pw(), strlen(password)), 0);
    assert_null(m.username);

    assert_int_equal(stun_msg_parse(&m, resp6, sizeof(resp6)), 0);
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&m.xor_addr;
    struct in6_addr want;
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &want), 1);
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 32853);
    assert_memory_equal(&sin6->sin6_addr, &want, 16);
    assert_int_equal(stun_msg_check_integrity(&m, pw(), strlen(password)), 0);
}

static void rfc5769_long_term(void **state)
{
    struct stun_msg m;
    assert_int_equal(stun_msg_parse(&m, req_ltc, sizeof(req_ltc)), 0);
    assert_false(m.fingerprint);
    assert_int_equal(m.username_len, 18);
    /* key = MD5(username ":" realm ":" SASLprep(password)) */
    static const char in[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3"
                             "\x82\xb9:example.org:TheMatrIX";
    uint8_t key[16];
    unsigned klen = 0;
    assert_int_equal(EVP_Digest(in, strlen(in), key, &klen, EVP_md5(), NULL), 1);
    assert_int_equal(stun_msg_check_integrity(&m, key, klen), 0);
    key[0] ^= 1;
    assert_int_equal(stun_msg_check_integrity(&m, key, klen), EACCES);
}

/* Rebuilds the sample request: the same bytes, MESSAGE-INTEGRITY and FINGERPRINT included. The
 * vectors pad with spaces where we pad with zeros, so the test puts spaces into the padding. */
static void build_rfc5769_request(void **state)
{
    uint8_t buf[STUN_MAX_LEN];
    struct bytes_w w = bytes_w_init(buf, sizeof(buf));
    assert_int_equal(stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid_5769), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_SOFTWARE, "STUN test client", 16), 0);
    assert_int_equal(stun_w_u32(&w, STUN_ATTR_PRIORITY, 0x6e0001ff), 0);
    assert_int_equal(stun_w_u64(&w, STUN_ATTR_ICE_CONTROLLED, 0x932ff9b151263b36ULL), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_USERNAME, "evtj:h6vY", 9), 0);
    memset(buf + w.len - 3, ' ', 3);
    assert_int_equal(stun_w_integrity(&w, pw(), strlen(password)), 0);
    assert_int_equal(stun_w_fingerprint(&w), 0);
    assert_int_equal(w.len, sizeof(req));
    assert_memory_equal(buf, req, sizeof(req));
}

static void build_rfc5769_responses(void **state)
{
    uint8_t buf[STUN_MAX_LEN];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(32853)};
    sin.sin_addr.s_addr = htonl(0xC0000201);
    struct bytes_w w = bytes_w_init(buf, sizeof(buf));
    assert_int_equal(stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, tid_5769), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_SOFTWARE, "test vector", 11), 0);
    buf[w.len - 1] = ' ';
    assert_int_equal(stun_w_xor_addr(&w, (struct sockaddr *)&sin), 0);
    assert_int_equal(stun_w_integrity(&w, pw(), strlen(password)), 0);
    assert_int_equal(stun_w_fingerprint(&w), 0);
    assert_int_equal(w.len, sizeof(resp4));
    assert_memory_equal(buf, resp4, sizeof(resp4));

    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(32853)};
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &sin6.sin6_addr),
                     1);
    w = bytes_w_init(buf, sizeof(buf));
    assert_int_equal(stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, tid_5769), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_SOFTWARE, "test vector", 11), 0);
    buf[w.len - 1] = ' ';
    assert_int_equal(stun_w_xor_addr(&w, (struct sockaddr *)&sin6), 0);
    assert_int_equal(stun_w_integrity(&w, pw(), strlen(password)), 0);
    assert_int_equal(stun_w_fingerprint(&w), 0);
    assert_int_equal(w.len, sizeof(resp6));
    assert_memory_equal(buf, resp6, sizeof(resp6));
}

/* What ICE sends: a check with USE-CANDIDATE and ICE-CONTROLLING, and the error answers. */
static void build_and_parse_ice_messages(void **state)
{
    uint8_t buf[256], tid[12];
    assert_int_equal(stun_tid_random(tid), 0);
    struct bytes_w w = bytes_w_init(buf, sizeof(buf));
    assert_int_equal(stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_USERNAME, "abcd:efgh", 9), 0);
    assert_int_equal(stun_w_u32(&w, STUN_ATTR_PRIORITY, 1845501695), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_USE_CANDIDATE, NULL, 0), 0);
    assert_int_equal(stun_w_u64(&w, STUN_ATTR_ICE_CONTROLLING, 42), 0);
    assert_int_equal(stun_w_integrity(&w, (const uint8_t *)"pass", 4), 0);
    assert_int_equal(stun_w_fingerprint(&w), 0);

    struct stun_msg m;
    assert_int_equal(stun_msg_parse(&m, buf, w.len), 0);
    assert_true(m.use_candidate);
    assert_int_equal(m.role, STUN_ROLE_CONTROLLING);
    assert_true(m.tiebreaker == 42);
    assert_int_equal(m.priority, 1845501695);
    assert_memory_equal(m.tid, tid, 12);
    assert_int_equal(stun_msg_check_integrity(&m, (const uint8_t *)"pass", 4), 0);
    assert_int_equal(stun_msg_check_integrity(&m, (const uint8_t *)"pasS", 4), EACCES);

    static const uint16_t codes[] = {400, 401, 403, 420, 487};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        w = bytes_w_init(buf, sizeof(buf));
        assert_int_equal(stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_ERROR, tid), 0);
        assert_int_equal(stun_w_error(&w, codes[i], stun_err_reason(codes[i])), 0);
        assert_int_equal(stun_w_fingerprint(&w), 0);
        assert_int_equal(stun_msg_parse(&m, buf, w.len), 0);
        assert_int_equal(m.cls, STUN_CLASS_ERROR);
        assert_true(m.has_error);
        assert_int_equal(m.error_code, codes[i]);
        assert_int_equal(m.reason_len, strlen(stun_err_reason(codes[i])));
        assert_memory_equal(m.reason, stun_err_reason(codes[i]), m.reason_len);
        assert_int_equal(m.integrity_at, 0);
        assert_int_equal(stun_msg_check_integrity(&m, (const uint8_t *)"pass", 4), ENOENT);
    }
    assert_int_equal(stun_w_error(&w, 299, NULL), EINVAL);
    assert_int_equal(stun_w_error(&w, 700, NULL), EINVAL);

    /* A 420 lists what we did not understand: unknown comprehension-required attributes. */
    w = bytes_w_init(buf, sizeof(buf));
    assert_int_equal(stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid), 0);
    assert_int_equal(stun_w_attr(&w, 0x7777, "x", 1), 0);
    assert_int_equal(stun_w_attr(&w, 0xC001, "y", 1), 0); /* optional: ignored */
    assert_int_equal(stun_msg_parse(&m, buf, w.len), 0);
    assert_int_equal(m.nunknown, 1);
    assert_int_equal(m.unknown[0], 0x7777);

    /* An indication (keepalive) and a class/method the builder must encode exactly. */
    w = bytes_w_init(buf, sizeof(buf));
    assert_int_equal(stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_INDICATION, tid), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), 0);
    assert_int_equal(m.cls, STUN_CLASS_INDICATION);
    assert_int_equal(buf[0], 0x00);
    assert_int_equal(buf[1], 0x11);
    w = bytes_w_init(buf, sizeof(buf));
    assert_int_equal(stun_w_header(&w, 0xABC, STUN_CLASS_ERROR, tid), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), 0);
    assert_int_equal(m.method, 0xABC);
    assert_int_equal(m.cls, STUN_CLASS_ERROR);
    assert_int_equal(stun_w_header(&w, 1, STUN_CLASS_REQUEST, tid), EINVAL); /* not empty */
}

static void truncations_refused(void **state)
{
    struct stun_msg m;
    uint8_t buf[sizeof(req)];
    for (size_t n = 0; n < sizeof(req); n++) {
        memcpy(buf, req, n);
        assert_int_equal(stun_msg_parse(&m, buf, n), EBADMSG);
    }
    /* Truncated, with the length field made to match: an attribute overruns or FINGERPRINT is
     * lost; either way never a crash, and the fingerprint never "verifies" by accident. */
    for (size_t n = STUN_HEADER_LEN; n < sizeof(req); n += 4) {
        memcpy(buf, req, n);
        buf[2] = (uint8_t)((n - STUN_HEADER_LEN) >> 8);
        buf[3] = (uint8_t)(n - STUN_HEADER_LEN);
        int err = stun_msg_parse(&m, buf, n);
        if (!err)
            assert_false(m.fingerprint);
    }
}

static void malformed_refused(void **state)
{
    struct stun_msg m;
    uint8_t buf[2048];

    /* header */
    memcpy(buf, req, sizeof(req));
    buf[0] |= 0x80;
    assert_false(stun_is_message(buf, sizeof(req)));
    assert_int_equal(stun_msg_parse(&m, buf, sizeof(req)), EBADMSG);
    memcpy(buf, req, sizeof(req));
    buf[5] ^= 1; /* cookie */
    assert_int_equal(stun_msg_parse(&m, buf, sizeof(req)), EBADMSG);
    memcpy(buf, req, sizeof(req));
    buf[3] += 4; /* length beyond the datagram */
    assert_int_equal(stun_msg_parse(&m, buf, sizeof(req)), EBADMSG);
    assert_int_equal(stun_msg_parse(&m, req, sizeof(req) + 0), 0);
    assert_int_equal(stun_msg_parse(NULL, req, sizeof(req)), EINVAL);
    assert_int_equal(stun_msg_parse(&m, NULL, 0), EINVAL);

    /* a corrupted byte anywhere before FINGERPRINT breaks it */
    for (size_t i = STUN_HEADER_LEN; i < sizeof(req) - 8; i++) {
        memcpy(buf, req, sizeof(req));
        buf[i] ^= 0x40;
        int err = stun_msg_parse(&m, buf, sizeof(req));
        assert_int_equal(err, EBADMSG);
    }
    /* FINGERPRINT's own type corrupted: an unknown attribute after MESSAGE-INTEGRITY, ignored,
     * and the message no longer counts as fingerprinted */
    memcpy(buf, req, sizeof(req));
    buf[sizeof(req) - 8] ^= 0x40;
    assert_int_equal(stun_msg_parse(&m, buf, sizeof(req)), 0);
    assert_false(m.fingerprint);

    uint8_t tid[12] = {0};
    struct bytes_w w;
#define BEGIN()                                                                                    \
    do {                                                                                           \
        w = bytes_w_init(buf, sizeof(buf));                                                        \
        assert_int_equal(stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid), 0);      \
    } while (0)

    /* an attribute after FINGERPRINT */
    BEGIN();
    assert_int_equal(stun_w_fingerprint(&w), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_SOFTWARE, "x", 1), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), EBADMSG);
    /* sizes checked per type */
    static const struct {
        uint16_t type;
        size_t len;
    } bad[] = {
        {STUN_ATTR_MESSAGE_INTEGRITY, 19}, {STUN_ATTR_PRIORITY, 3},
        {STUN_ATTR_PRIORITY, 8},           {STUN_ATTR_USE_CANDIDATE, 4},
        {STUN_ATTR_ICE_CONTROLLED, 4},     {STUN_ATTR_ICE_CONTROLLING, 12},
        {STUN_ATTR_XOR_MAPPED_ADDRESS, 4}, {STUN_ATTR_XOR_MAPPED_ADDRESS, 12},
        {STUN_ATTR_USERNAME, 0},           {STUN_ATTR_USERNAME, 513},
        {STUN_ATTR_ERROR_CODE, 2},         {STUN_ATTR_FINGERPRINT, 8},
    };
    uint8_t zero[600] = {0};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        BEGIN();
        assert_int_equal(stun_w_attr(&w, bad[i].type, zero, bad[i].len), 0);
        assert_int_equal(stun_msg_parse(&m, buf, w.len), EBADMSG);
    }
    uint8_t v[20] = {0, 0x01};
    BEGIN(); /* IPv4 family with an IPv6 length */
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, v, 20), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), EBADMSG);
    v[1] = 0x03; /* no such family */
    BEGIN();
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, v, 8), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), EBADMSG);
    uint8_t e[4] = {0, 0, 2, 0}; /* class 2: 200 is no error */
    BEGIN();
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_ERROR_CODE, e, 4), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), EBADMSG);
    e[2] = 4;
    e[3] = 100; /* number 0..99 */
    BEGIN();
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_ERROR_CODE, e, 4), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), EBADMSG);

    /* both roles */
    BEGIN();
    assert_int_equal(stun_w_u64(&w, STUN_ATTR_ICE_CONTROLLED, 1), 0);
    assert_int_equal(stun_w_u64(&w, STUN_ATTR_ICE_CONTROLLING, 2), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), EBADMSG);

    /* too many attributes */
    BEGIN();
    for (int i = 0; i < STUN_MAX_ATTRS + 1; i++)
        assert_int_equal(stun_w_attr(&w, STUN_ATTR_SOFTWARE, "x", 1), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), EBADMSG);

    /* an attribute whose length runs past the end */
    BEGIN();
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_SOFTWARE, "abcd", 4), 0);
    buf[STUN_HEADER_LEN + 3] = 8;
    assert_int_equal(stun_msg_parse(&m, buf, w.len), EBADMSG);

    /* the builder refuses a message past STUN_MAX_LEN */
    BEGIN();
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_SOFTWARE, zero, 600), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_SOFTWARE, zero, 600), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_SOFTWARE, zero, 600), EOVERFLOW);
    size_t before = w.len;
    assert_int_equal(stun_msg_parse(&m, buf, before), 0);
    /* and a datagram larger than that is not STUN */
    assert_false(stun_is_message(buf, STUN_MAX_LEN + 4));

    /* attributes after MESSAGE-INTEGRITY (but FINGERPRINT) are ignored, not trusted */
    BEGIN();
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_USERNAME, "a:b", 3), 0);
    assert_int_equal(stun_w_integrity(&w, (const uint8_t *)"k", 1), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_USE_CANDIDATE, NULL, 0), 0);
    assert_int_equal(stun_w_fingerprint(&w), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), 0);
    assert_false(m.use_candidate);
    assert_true(m.fingerprint);
    assert_int_equal(stun_msg_check_integrity(&m, (const uint8_t *)"k", 1), 0);

    /* USERNAME without a colon, or with nothing before it */
    const char *l, *r;
    size_t ll, rl;
    BEGIN();
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_USERNAME, "abc", 3), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), 0);
    assert_int_equal(stun_msg_username_split(&m, &l, &ll, &r, &rl), EBADMSG);
    BEGIN();
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_USERNAME, ":abc", 4), 0);
    assert_int_equal(stun_msg_parse(&m, buf, w.len), 0);
    assert_int_equal(stun_msg_username_split(&m, &l, &ll, &r, &rl), EBADMSG);
    BEGIN();
    assert_int_equal(stun_msg_parse(&m, buf, w.len), 0);
    assert_int_equal(stun_msg_username_split(&m, &l, &ll, &r, &rl), ENOENT);
#undef BEGIN
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc5769_request),         cmocka_unit_test(rfc5769_responses),
        cmocka_unit_test(rfc5769_long_term),       cmocka_unit_test(build_rfc5769_request),
        cmocka_unit_test(build_rfc5769_responses), cmocka_unit_test(build_and_parse_ice_messages),
        cmocka_unit_test(truncations_refused),     cmocka_unit_test(malformed_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
