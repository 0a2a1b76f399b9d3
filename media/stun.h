/*
 * STUN messages (RFC 5389 / 8489) as ICE uses them (RFC 8445 section 7, RFC 7675): Binding
 * requests, success and error responses and indications, with the attributes connectivity and
 * consent checks carry: USERNAME, MESSAGE-INTEGRITY (HMAC-SHA1 with a short-term credential),
 * FINGERPRINT (CRC-32), XOR-MAPPED-ADDRESS, PRIORITY, USE-CANDIDATE, ICE-CONTROLLED and
 * ICE-CONTROLLING (with the tie-breaker) and ERROR-CODE.
 *
 * The parser reads a datagram straight off the network, so it trusts nothing: the header must be
 * exact (zero top bits, magic cookie, a length that matches the datagram and is a multiple of 4),
 * every attribute must fit, sizes are checked per attribute type, the number of attributes is
 * capped, a FINGERPRINT must be last and correct. What it finds is described in struct stun_msg
 * without a copy (pointers into the datagram); checking MESSAGE-INTEGRITY is a separate step
 * because the key depends on whom USERNAME names. Malformed input is EBADMSG, never a crash.
 *
 * The builder appends to a bytes_w cursor (base/bytes.h) and keeps the header's length field
 * right after every attribute, so MESSAGE-INTEGRITY and FINGERPRINT, which cover the message up
 * to themselves, are computed over exactly what goes out.
 *
 * Pure functions, no allocation, no globals but a CRC table built once: any thread may call them.
 */
#ifndef SB_MEDIA_STUN_H
#define SB_MEDIA_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/bytes.h"

#define STUN_HEADER_LEN    20
#define STUN_TID_LEN       12
#define STUN_MAGIC_COOKIE  0x2112A442u
#define STUN_MAX_LEN       1500 /* larger datagrams are not STUN we accept */
#define STUN_MAX_ATTRS     32   /* attributes read from one message */
#define STUN_USERNAME_MAX  512  /* RFC 5389 15.3: less than 513 bytes */
#define STUN_REASON_MAX    763  /* RFC 5389 15.6 */
#define STUN_MAX_UNKNOWN   8    /* unknown comprehension-required attributes reported */
#define STUN_INTEGRITY_LEN 20   /* HMAC-SHA1 */

#define STUN_METHOD_BINDING 0x001

enum stun_class {
    STUN_CLASS_REQUEST = 0,
    STUN_CLASS_INDICATION = 1,
    STUN_CLASS_SUCCESS = 2,
    STUN_CLASS_ERROR = 3,
};

enum stun_attr {
    STUN_ATTR_MAPPED_ADDRESS = 0x0001,
    STUN_ATTR_USERNAME = 0x0006,
    STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
    STUN_ATTR_ERROR_CODE = 0x0009,
    STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
    STUN_ATTR_REALM = 0x0014,
    STUN_ATTR_NONCE = 0x0015,
    STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
    STUN_ATTR_USERHASH = 0x001E,
    STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    STUN_ATTR_PRIORITY = 0x0024,
    STUN_ATTR_USE_CANDIDATE = 0x0025,
    STUN_ATTR_SOFTWARE = 0x8022,
    STUN_ATTR_ALTERNATE_SERVER = 0x8023,
    STUN_ATTR_FINGERPRINT = 0x8028,
    STUN_ATTR_ICE_CONTROLLED = 0x8029,
    STUN_ATTR_ICE_CONTROLLING = 0x802A,
};

/* ERROR-CODE values ICE uses. */
enum {
    STUN_ERR_BAD_REQUEST = 400,
    STUN_ERR_UNAUTHORIZED = 401,
    STUN_ERR_FORBIDDEN = 403, /* RFC 7675: consent revoked */
    STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
    STUN_ERR_ROLE_CONFLICT = 487,
};

enum stun_role {
    STUN_ROLE_NONE,
    STUN_ROLE_CONTROLLED,  /* ICE-CONTROLLED present */
    STUN_ROLE_CONTROLLING, /* ICE-CONTROLLING present */
};

/* A parsed message. Pointers point into the datagram given to stun_msg_parse(). */
struct stun_msg {
    enum stun_class cls;
    uint16_t method;
    uint8_t tid[STUN_TID_LEN];
    const uint8_t *buf; /* the whole message */
    size_t len;

    const char *username; /* not NUL-terminated; NULL when absent */
    size_t username_len;
    size_t integrity_at; /* offset of the MESSAGE-INTEGRITY attribute, 0 when absent */
    bool fingerprint;    /* a FINGERPRINT was present (and correct: else the parse fails) */
    bool has_xor_addr;
    struct sockaddr_storage xor_addr; /* XOR-MAPPED-ADDRESS, decoded */
    bool has_priority;
    uint32_t priority;
    bool use_candidate;
    enum stun_role role;
    uint64_t tiebreaker; /* with role */
    bool has_error;
    uint16_t error_code; /* 300..699 */
    const char *reason;  /* not NUL-terminated, may be empty */
    size_t reason_len;
    /* Comprehension-required attributes (< 0x8000) we do not know, for a 420 answer. */
    uint16_t unknown[STUN_MAX_UNKNOWN];
    size_t nunknown;
};

/* Cheap test for the demultiplexer: could this datagram be STUN (header shape, magic cookie,
 * length field consistent with len)? A true here still needs stun_msg_parse(). */
bool stun_is_message(const uint8_t *buf, size_t len);

/* Parses buf[0..len). EBADMSG for anything malformed (*m is then unspecified), EINVAL for NULLs.
 * Attributes after MESSAGE-INTEGRITY other than FINGERPRINT are skipped unread (RFC 5389 15.4);
 * anything after FINGERPRINT, or a FINGERPRINT that does not match, is malformed. Of an attribute
 * given twice the first counts. A request with both ICE-CONTROLLED and ICE-CONTROLLING is
 * malformed. */
int stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len);

/* Checks MESSAGE-INTEGRITY with key (the short-term credential: the password's bytes). 0 when it
 * matches, ENOENT when the message has none, EACCES when it does not match. */
int stun_msg_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t keylen);

/* USERNAME split at the first ':' ("<recipient ufrag>:<sender ufrag>" in ICE checks): *left and
 * *right point into the message. ENOENT without USERNAME, EBADMSG without ':' or with an empty
 * left part. */
int stun_msg_username_split(const struct stun_msg *m, const char **left, size_t *left_len,
                            const char **right, size_t *right_len);

/* ---- building: each function appends to w and updates the header's length ---- */

/* Starts a message in w (which must be empty): header with the given transaction id. */
int stun_w_header(struct bytes_w *w, uint16_t method, enum stun_class cls,
                  const uint8_t tid[STUN_TID_LEN]);
/* One attribute with its value, zero-padded to 4 bytes. */
int stun_w_attr(struct bytes_w *w, uint16_t type, const void *value, size_t len);
int stun_w_u32(struct bytes_w *w, uint16_t type, uint32_t v);
int stun_w_u64(struct bytes_w *w, uint16_t type, uint64_t v);
/* XOR-MAPPED-ADDRESS of sa (AF_INET or AF_INET6; EINVAL otherwise). */
int stun_w_xor_addr(struct bytes_w *w, const struct sockaddr *sa);
/* ERROR-CODE with code 300..699 (EINVAL otherwise) and a reason phrase (may be NULL). */
int stun_w_error(struct bytes_w *w, uint16_t code, const char *reason);
/* MESSAGE-INTEGRITY over everything so far. */
int stun_w_integrity(struct bytes_w *w, const uint8_t *key, size_t keylen);
/* FINGERPRINT over everything so far: the last attribute. */
int stun_w_fingerprint(struct bytes_w *w);

/* A random transaction id (OpenSSL's CSPRNG). EIO if it fails. */
int stun_tid_random(uint8_t tid[STUN_TID_LEN]);

/* The reason phrase we send with a code ("Bad Request", ...). */
const char *stun_err_reason(uint16_t code);

#endif
