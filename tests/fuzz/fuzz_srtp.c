/*
 * libFuzzer target for the SRTP receive path (media/srtp_session.c), which sees every packet
 * off the network before anything else does. The first input byte picks the suite (three) and
 * RTP or RTCP; the rest is handed to unprotect on a keyed inbound session as a packet, then split
 * into several packets at 0xff 0xff 0xfe markers (so one input can carry a valid packet followed
 * by variants: replays, reorders, tampered copies). Nothing may crash or read out of bounds, a
 * result is one of the documented ones, and a packet that passes never grows.
 *
 * Half of the inputs instead protect their bytes on an outbound session and unprotect the result,
 * which must give the bytes back (the seeds need no valid tags for that half to go deep).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "media/srtp_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const uint8_t key[30] = {0x3a, 0x11, 0x9c, 0x42, 0x07, 0xe5, 0x61, 0xd0, 0x2b, 0x88,
                                0x5f, 0x93, 0x14, 0xc7, 0x70, 0xae, 0x01, 0xfe, 0x23, 0x56,
                                0x9a, 0xbc, 0x4d, 0x68, 0x0f, 0x31, 0xe2, 0x77, 0x85, 0xd9};

static void unprotect_one(struct srtp_session *in, const uint8_t *p, size_t n, bool rtcp)
{
    /* An exact-size heap copy so ASan sees any read past the packet. */
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return;
    memcpy(buf, p, n);
    size_t len = n;
    int err = srtp_session_unprotect(in, buf, &len, rtcp);
    CHECK(err == 0 || err == EBADMSG || err == EALREADY);
    if (!err)
        CHECK(len < n);
    else
        CHECK(len == n);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum srtp_suite suite = (enum srtp_suite)(data[0] % 3);
    bool rtcp = data[0] & 0x10;
    bool roundtrip = data[0] & 0x20;
    data++;
    size--;

    struct srtp_session *in = NULL, *out = NULL;
    size_t kl = srtp_suite_key_len(suite);
    CHECK(srtp_session_alloc_suite(&in, SRTP_SESSION_INBOUND, suite, key, kl) == 0);

    if (roundtrip) {
        CHECK(srtp_session_alloc_suite(&out, SRTP_SESSION_OUTBOUND, suite, key, kl) == 0);
        size_t n = size > 2000 ? 2000 : size;
        uint8_t *buf = malloc(n + SRTP_SESSION_MAX_TRAILER), *clear = malloc(n ? n : 1);
        if (buf && clear) {
            memcpy(buf, data, n);
            memcpy(clear, data, n);
            size_t len = n;
            int err = srtp_session_protect(out, buf, &len, n + SRTP_SESSION_MAX_TRAILER, rtcp);
            CHECK(err == 0 || err == EINVAL);
            if (!err) {
                CHECK(len > n && len <= n + SRTP_SESSION_MAX_TRAILER);
                CHECK(srtp_session_unprotect(in, buf, &len, rtcp) == 0);
                CHECK(len == n && memcmp(buf, clear, n) == 0);
            }
        }
        free(buf);
        free(clear);
        mem_deref(out);
        mem_deref(in);
        return 0;
    }

    unprotect_one(in, data, size, rtcp);
    size_t start = 0;
    for (size_t i = 0; i + 3 <= size; i++) {
        if (data[i] == 0xff && data[i + 1] == 0xff && data[i + 2] == 0xfe) {
            unprotect_one(in, data + start, i - start, rtcp);
            start = i + 3;
            i += 2;
        }
    }
    if (start)
        unprotect_one(in, data + start, size - start, rtcp);
    mem_deref(in);
    return 0;
}
