/* RTP packets, RFC 8285 extensions, audio level, telephone-event and demultiplexing: known
 * answers from hand-built packets, round trips, and every malformed-input branch. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/bytes.h"
#include "rtp/rtp.h"

/* V=2 P=1 X=1 CC=2, M=1 PT=96, seq 0x1234, ts 0xDEADBEEF, SSRC 0x11223344, two CSRCs, a
 * one-byte-form extension (audio level id 1 = voice, 5 dBov; padding byte; id 3 with three
 * bytes; trailing padding), a five-byte payload and three bytes of RTP padding. */
static const uint8_t full_pkt[] = {
    0xb2, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x11, 0x22, 0x33, 0x44, /* fixed */
    0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb,                         /* CSRCs */
    0xbe, 0xde, 0x00, 0x02,                                                 /* ext hdr */
    0x10, 0x85, 0x00, 0x32, 0x01, 0x02, 0x03, 0x00,                         /* ext data */
    0x01, 0x02, 0x03, 0x04, 0x05,                                           /* payload */
    0x00, 0x00, 0x03,                                                       /* padding */
};

static void decode_full_packet(void **state)
{
    struct rtp_hdr h;
    const uint8_t *pl;
    size_t pl_len;

    assert_int_equal(rtp_decode(&h, full_pkt, sizeof(full_pkt), &pl, &pl_len), 0);
    assert_true(h.padding);
    assert_true(h.marker);
    assert_int_equal(h.pt, 96);
    assert_int_equal(h.seq, 0x1234);
    assert_int_equal(h.ts, 0xdeadbeef);
    assert_int_equal(h.ssrc, 0x11223344);
    assert_int_equal(h.cc, 2);
    assert_int_equal(h.csrc[0], 0xaaaaaaaa);
    assert_int_equal(h.csrc[1], 0xbbbbbbbb);
    assert_true(h.ext);
    assert_int_equal(h.ext_profile, RTP_EXT_ONE_BYTE);
    assert_int_equal(h.ext_len, 8);
    assert_ptr_equal(h.ext_data, full_pkt + 24);
    assert_ptr_equal(pl, full_pkt + 32);
    assert_int_equal(pl_len, 5);
    assert_int_equal(rtp_hdr_size(&h), 32);

    const uint8_t *d;
    size_t dl;
    assert_int_equal(rtp_ext_find(&h, 1, &d, &dl), 0);
    assert_int_equal(dl, 1);
    assert_int_equal(d[0], 0x85);
    bool voice;
    uint8_t level;
    assert_int_equal(rtp_audio_level_decode(d, dl, &voice, &level), 0);
    assert_true(voice);
    assert_int_equal(level, 5);

    assert_int_equal(rtp_ext_find(&h, 3, &d, &dl), 0);
    assert_int_equal(dl, 3);
    assert_memory_equal(d, "\x01\x02\x03", 3);
    assert_int_equal(rtp_ext_find(&h, 2, &d, &dl), ENOENT);
    assert_int_equal(rtp_ext_find(&h, 15, &d, &dl), EINVAL);
    assert_int_equal(rtp_ext_find(&h, 0, &d, &dl), EINVAL);
}

static void decode_minimal_packet(void **state)
{
    static const uint8_t pkt[] = {0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 9};
    struct rtp_hdr h;
    const uint8_t *pl = NULL;
    size_t pl_len = 99;

    assert_int_equal(rtp_decode(&h, pkt, sizeof(pkt), &pl, &pl_len), 0);
    assert_false(h.padding);
    assert_false(h.ext);
    assert_false(h.marker);
    assert_int_equal(h.cc, 0);
    assert_int_equal(h.pt, 0);
    assert_int_equal(h.ssrc, 9);
    assert_int_equal(pl_len, 0);
    assert_ptr_equal(pl, pkt + 12);
    /* Payload outputs are optional. */
    assert_int_equal(rtp_decode(&h, pkt, sizeof(pkt), NULL, NULL), 0);
}

static void reencode_matches_wire(void **state)
{
    struct rtp_hdr h;
    const uint8_t *pl;
    size_t pl_len, len;
    uint8_t out[RTP_MAX_PACKET];

    assert_int_equal(rtp_decode(&h, full_pkt, sizeof(full_pkt), &pl, &pl_len), 0);
    assert_int_equal(rtp_encode(out, sizeof(out), &h, pl, pl_len, &len), 0);
    /* Padding is not re-emitted: the same packet without its P bit and padding bytes. */
    assert_int_equal(len, sizeof(full_pkt) - 3);
    assert_int_equal(out[0], full_pkt[0] & ~0x20);
    assert_memory_equal(out + 1, full_pkt + 1, len - 1);

    /* Exactly the needed capacity works; one byte less overflows. */
    assert_int_equal(rtp_encode(out, len, &h, pl, pl_len, &len), 0);
    assert_int_equal(rtp_encode(out, len - 1, &h, pl, pl_len, &len), EOVERFLOW);
    assert_int_equal(rtp_encode(out, 10, &h, pl, pl_len, &len), EOVERFLOW);
}

static void encode_in_place(void **state)
{
    struct rtp_hdr h = {.pt = 111, .seq = 7, .ts = 960, .ssrc = 0x55, .cc = 1, .csrc = {0x66}};
    uint8_t buf[64];
    size_t len;
    uint8_t *pl = buf + rtp_hdr_size(&h);

    assert_int_equal(rtp_hdr_size(&h), 16);
    memcpy(pl, "opus", 4);
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, pl, 4, &len), 0);
    assert_int_equal(len, 20);
    static const uint8_t want[] = {0x81, 111,  0x00, 0x07, 0x00, 0x00, 0x03, 0xc0, 0,   0,
                                   0,    0x55, 0,    0,    0,    0x66, 'o',  'p',  'u', 's'};
    assert_memory_equal(buf, want, sizeof(want));
}

static void rewrite_in_place(void **state)
{
    uint8_t buf[128];
    struct rtp_hdr h;
    const uint8_t *pl;
    size_t pl_len, len;

    /* New seq and SSRC over the same buffer: extension block and payload stay put. */
    memcpy(buf, full_pkt, sizeof(full_pkt));
    assert_int_equal(rtp_decode(&h, buf, sizeof(full_pkt), &pl, &pl_len), 0);
    h.seq = 0x4321;
    h.ssrc = 0x99999999;
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, pl, pl_len, &len), 0);
    assert_int_equal(len, sizeof(full_pkt) - 3);
    assert_int_equal(bytes_get16(buf + 2), 0x4321);
    assert_int_equal(bytes_get32(buf + 8), 0x99999999);
    assert_memory_equal(buf + 12, full_pkt + 12, len - 12);

    /* A larger header (one more CSRC, no extension) in front of the payload still in buf. */
    memcpy(buf, full_pkt, sizeof(full_pkt));
    assert_int_equal(rtp_decode(&h, buf, sizeof(full_pkt), &pl, &pl_len), 0);
    h.ext = false;
    h.cc = 15;
    for (unsigned i = 0; i < 15; i++)
        h.csrc[i] = i;
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, pl, pl_len, &len), 0);
    assert_int_equal(len, 12 + 60 + 5);
    assert_memory_equal(buf + 72, full_pkt + 32, 5);
    assert_int_equal(bytes_get32(buf + 68), 14);

    /* A smaller one: the payload moves back. */
    assert_int_equal(rtp_decode(&h, buf, len, &pl, &pl_len), 0);
    h.cc = 0;
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, pl, pl_len, &len), 0);
    assert_int_equal(len, 12 + 5);
    assert_memory_equal(buf + 12, full_pkt + 32, 5);
}

static void encode_rejects_bad_header(void **state)
{
    uint8_t buf[64];
    size_t len;
    struct rtp_hdr h = {.pt = 0};

    h.cc = 16;
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, NULL, 0, &len), EINVAL);
    h.cc = 0;
    h.pt = 128;
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, NULL, 0, &len), EINVAL);
    h.pt = 0;
    h.ext = true;
    h.ext_profile = RTP_EXT_ONE_BYTE;
    h.ext_data = buf;
    h.ext_len = 3;
    assert_int_equal(rtp_encode(buf + 32, 32, &h, NULL, 0, &len), EINVAL);
    h.ext = false;
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, NULL, 5, &len), EINVAL);
    assert_int_equal(rtp_encode(buf, sizeof(buf), &h, NULL, 0, &len), 0);
    assert_int_equal(len, RTP_HDR_SIZE);
}

static void decode_rejects_malformed(void **state)
{
    struct rtp_hdr h;
    const uint8_t *pl;
    size_t pl_len;
    uint8_t pkt[64];

    /* Short fixed header. */
    for (size_t n = 0; n < RTP_HDR_SIZE; n++)
        assert_int_equal(rtp_decode(&h, full_pkt, n, &pl, &pl_len), EBADMSG);
    /* Truncated anywhere inside the CSRC list or the extension block. */
    for (size_t n = RTP_HDR_SIZE; n < 32; n++)
        assert_int_equal(rtp_decode(&h, full_pkt, n, &pl, &pl_len), EBADMSG);

    /* Version 0, 1, 3. */
    for (unsigned v = 0; v < 4; v++) {
        if (v == RTP_VERSION)
            continue;
        memcpy(pkt, full_pkt, sizeof(full_pkt));
        pkt[0] = (uint8_t)((pkt[0] & 0x3f) | v << 6);
        assert_int_equal(rtp_decode(&h, pkt, sizeof(full_pkt), &pl, &pl_len), EBADMSG);
    }

    /* Extension length past the end of the packet. */
    memcpy(pkt, full_pkt, sizeof(full_pkt));
    pkt[23] = 0x05; /* 20 bytes of extension, 16 left */
    assert_int_equal(rtp_decode(&h, pkt, sizeof(full_pkt), &pl, &pl_len), EBADMSG);

    /* CSRC count past the end. */
    static const uint8_t csrc_short[] = {0x8f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2};
    assert_int_equal(rtp_decode(&h, csrc_short, sizeof(csrc_short), &pl, &pl_len), EBADMSG);

    /* Padding larger than the payload (5 payload + 3 padding bytes = 8 < 9). */
    memcpy(pkt, full_pkt, sizeof(full_pkt));
    pkt[sizeof(full_pkt) - 1] = 9;
    assert_int_equal(rtp_decode(&h, pkt, sizeof(full_pkt), &pl, &pl_len), EBADMSG);
    /* Padding exactly the payload: an empty payload. */
    pkt[sizeof(full_pkt) - 1] = 8;
    assert_int_equal(rtp_decode(&h, pkt, sizeof(full_pkt), &pl, &pl_len), 0);
    assert_int_equal(pl_len, 0);
    /* A padding count of zero. */
    pkt[sizeof(full_pkt) - 1] = 0;
    assert_int_equal(rtp_decode(&h, pkt, sizeof(full_pkt), &pl, &pl_len), EBADMSG);
    /* Padding bit with nothing after the header. */
    static const uint8_t pad_empty[] = {0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(rtp_decode(&h, pad_empty, sizeof(pad_empty), &pl, &pl_len), EBADMSG);

    assert_int_equal(rtp_decode(NULL, full_pkt, sizeof(full_pkt), &pl, &pl_len), EINVAL);
    assert_int_equal(rtp_decode(&h, NULL, 0, &pl, &pl_len), EINVAL);
}

static struct rtp_hdr hdr_with_ext(uint16_t profile, const uint8_t *data, size_t len)
{
    struct rtp_hdr h = {.ext = true, .ext_profile = profile, .ext_data = data, .ext_len = len};
    return h;
}

static void ext_one_byte_edge_cases(void **state)
{
    const uint8_t *d;
    size_t dl;

    /* ID 15 ends the list: what follows does not count. */
    static const uint8_t term[] = {0xf0, 0x10, 0x55, 0x00};
    struct rtp_hdr h = hdr_with_ext(RTP_EXT_ONE_BYTE, term, sizeof(term));
    assert_int_equal(rtp_ext_find(&h, 1, &d, &dl), ENOENT);

    /* ID 0 with a non-zero length is not padding: it ends the list too. */
    static const uint8_t zero_len[] = {0x03, 0x10, 0x55, 0x00};
    h = hdr_with_ext(RTP_EXT_ONE_BYTE, zero_len, sizeof(zero_len));
    assert_int_equal(rtp_ext_find(&h, 1, &d, &dl), ENOENT);

    /* An element (id 1, 16 bytes) running past the block. */
    static const uint8_t past[] = {0x1f, 0x00, 0x00, 0x00};
    h = hdr_with_ext(RTP_EXT_ONE_BYTE, past, sizeof(past));
    assert_int_equal(rtp_ext_find(&h, 1, &d, &dl), EBADMSG);
    assert_int_equal(rtp_ext_find(&h, 2, &d, &dl), EBADMSG);

    /* Padding bytes before the element, and an element filling the block exactly. */
    static const uint8_t padded[] = {0x00, 0x00, 0x21, 0xab, 0xcd, 0x00, 0x00, 0x40};
    h = hdr_with_ext(RTP_EXT_ONE_BYTE, padded, sizeof(padded));
    assert_int_equal(rtp_ext_find(&h, 2, &d, &dl), 0);
    assert_int_equal(dl, 2);
    assert_int_equal(d[1], 0xcd);
    assert_int_equal(rtp_ext_find(&h, 4, &d, &dl), EBADMSG); /* 0x40: one byte, none left */

    /* Not a known profile, no block, empty block. */
    h = hdr_with_ext(0x1234, padded, sizeof(padded));
    assert_int_equal(rtp_ext_find(&h, 2, &d, &dl), ENOENT);
    h.ext = false;
    assert_int_equal(rtp_ext_find(&h, 2, &d, &dl), ENOENT);
    h = hdr_with_ext(RTP_EXT_ONE_BYTE, padded, 0);
    assert_int_equal(rtp_ext_find(&h, 2, &d, &dl), ENOENT);
}

static void ext_two_byte(void **state)
{
    /* id 1 empty, a padding byte, id 200 with three bytes, padding. */
    static const uint8_t blk[] = {0x01, 0x00, 0x00, 0xc8, 0x03, 0x07, 0x08, 0x09};
    struct rtp_hdr h = hdr_with_ext(RTP_EXT_TWO_BYTE | 0x5, blk, sizeof(blk));
    const uint8_t *d;
    size_t dl;

    assert_int_equal(rtp_ext_find(&h, 1, &d, &dl), 0);
    assert_int_equal(dl, 0);
    assert_int_equal(rtp_ext_find(&h, 200, &d, &dl), 0);
    assert_int_equal(dl, 3);
    assert_memory_equal(d, "\x07\x08\x09", 3);
    assert_int_equal(rtp_ext_find(&h, 15, &d, &dl), ENOENT);

    /* A length byte missing, and an element running past the block. */
    static const uint8_t no_len[] = {0x00, 0x00, 0x00, 0x05};
    h = hdr_with_ext(RTP_EXT_TWO_BYTE, no_len, sizeof(no_len));
    assert_int_equal(rtp_ext_find(&h, 7, &d, &dl), EBADMSG);
    static const uint8_t past[] = {0x05, 0x03, 0x00, 0x00};
    h = hdr_with_ext(RTP_EXT_TWO_BYTE, past, sizeof(past));
    assert_int_equal(rtp_ext_find(&h, 5, &d, &dl), EBADMSG);
}

static void ext_build_one_byte(void **state)
{
    static const uint8_t lvl[] = {0x85}, three[] = {1, 2, 3};
    struct rtp_ext_elem e[] = {{1, lvl, 1}, {3, three, 3}};
    uint8_t buf[32];
    size_t len;

    assert_int_equal(rtp_ext_build(buf, sizeof(buf), e, 2, &len), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(buf, "\x10\x85\x32\x01\x02\x03\x00\x00", 8);

    /* A packet carrying it finds both elements again. */
    struct rtp_hdr h = {.pt = 111, .ssrc = 1, .ext = true, .ext_profile = RTP_EXT_ONE_BYTE};
    h.ext_data = buf;
    h.ext_len = len;
    uint8_t pkt[64];
    size_t plen;
    assert_int_equal(rtp_encode(pkt, sizeof(pkt), &h, (const uint8_t *)"x", 1, &plen), 0);
    struct rtp_hdr back;
    const uint8_t *pl, *d;
    size_t pl_len, dl;
    assert_int_equal(rtp_decode(&back, pkt, plen, &pl, &pl_len), 0);
    assert_int_equal(pl_len, 1);
    assert_int_equal(rtp_ext_find(&back, 3, &d, &dl), 0);
    assert_int_equal(dl, 3);
    assert_memory_equal(d, three, 3);

    /* Exactly 4 bytes: no padding word added; nothing at all: an empty block. */
    static const uint8_t t3[] = {9, 9, 9};
    struct rtp_ext_elem e3 = {14, t3, 3};
    assert_int_equal(rtp_ext_build(buf, 4, &e3, 1, &len), 0);
    assert_int_equal(len, 4);
    assert_int_equal(buf[0], 0xe2);
    assert_int_equal(rtp_ext_build(buf, 4, NULL, 0, &len), 0);
    assert_int_equal(len, 0);

    struct rtp_ext_elem bad[] = {{0, lvl, 1}, {15, lvl, 1}, {1, lvl, 0}, {1, buf, 17}};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(rtp_ext_build(buf, sizeof(buf), &bad[i], 1, &len), EINVAL);
    assert_int_equal(rtp_ext_build(buf, 7, e, 2, &len), EOVERFLOW);
    assert_int_equal(rtp_ext_build(buf, 3, e, 1, &len), EOVERFLOW); /* 2 + padding */
}

static void ext_build_two_byte(void **state)
{
    static const uint8_t three[] = {1, 2, 3};
    uint8_t big[20];
    memset(big, 0x42, sizeof(big));
    struct rtp_ext_elem e[] = {{1, NULL, 0}, {200, three, 3}, {14, big, 20}};
    uint8_t buf[64];
    size_t len;

    assert_int_equal(rtp_ext_build_two_byte(buf, sizeof(buf), e, 2, &len), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(buf, "\x01\x00\xc8\x03\x01\x02\x03\x00", 8);

    assert_int_equal(rtp_ext_build_two_byte(buf, sizeof(buf), e, 3, &len), 0);
    assert_int_equal(len, 32); /* 2 + 5 + 22 = 29, padded */
    struct rtp_hdr h = hdr_with_ext(RTP_EXT_TWO_BYTE, buf, len);
    const uint8_t *d;
    size_t dl;
    assert_int_equal(rtp_ext_find(&h, 14, &d, &dl), 0);
    assert_int_equal(dl, 20);
    assert_memory_equal(d, big, 20);

    struct rtp_ext_elem bad = {0, three, 3};
    assert_int_equal(rtp_ext_build_two_byte(buf, sizeof(buf), &bad, 1, &len), EINVAL);
    assert_int_equal(rtp_ext_build_two_byte(buf, 28, e, 3, &len), EOVERFLOW);
}

static void audio_level(void **state)
{
    static const uint8_t quiet[] = {0x7f}, loud[] = {0x80, 0xff};
    bool voice = true;
    uint8_t level = 0;

    assert_int_equal(rtp_audio_level_decode(quiet, 1, &voice, &level), 0);
    assert_false(voice);
    assert_int_equal(level, 127);
    assert_int_equal(rtp_audio_level_decode(loud, 2, &voice, &level), 0);
    assert_true(voice);
    assert_int_equal(level, 0);
    assert_int_equal(rtp_audio_level_decode(loud, 0, &voice, &level), EBADMSG);

    assert_int_equal(rtp_audio_level_encode(true, 5), 0x85);
    assert_int_equal(rtp_audio_level_encode(false, 127), 0x7f);
    assert_int_equal(rtp_audio_level_encode(true, 200), 0xff);
}

static void dtmf(void **state)
{
    struct rtp_dtmf ev = {.event = 11, .end = true, .volume = 10, .duration = 800};
    uint8_t buf[8];
    size_t len;

    assert_int_equal(rtp_dtmf_encode(buf, sizeof(buf), &ev, &len), 0);
    assert_int_equal(len, RTP_DTMF_SIZE);
    assert_memory_equal(buf, "\x0b\x8a\x03\x20", 4);

    /* The reserved bit is ignored. */
    static const uint8_t wire[] = {0x05, 0x4a, 0x00, 0xa0};
    struct rtp_dtmf out;
    assert_int_equal(rtp_dtmf_decode(&out, wire, sizeof(wire)), 0);
    assert_int_equal(out.event, 5);
    assert_false(out.end);
    assert_int_equal(out.volume, 10);
    assert_int_equal(out.duration, 160);

    assert_int_equal(rtp_dtmf_decode(&out, buf, 4), 0);
    assert_int_equal(out.event, 11);
    assert_true(out.end);
    assert_int_equal(out.duration, 800);

    assert_int_equal(rtp_dtmf_decode(&out, wire, 3), EBADMSG);
    assert_int_equal(rtp_dtmf_encode(buf, 3, &ev, &len), EOVERFLOW);
    ev.volume = 64;
    assert_int_equal(rtp_dtmf_encode(buf, sizeof(buf), &ev, &len), EINVAL);
}

static void demux(void **state)
{
    uint8_t b[16] = {0};

    assert_int_equal(rtp_demux(b, 0), RTP_DEMUX_OTHER);
    b[0] = 0x00;
    assert_int_equal(rtp_demux(b, 16), RTP_DEMUX_STUN);
    b[0] = 0x01;
    assert_int_equal(rtp_demux(b, 1), RTP_DEMUX_STUN);
    b[0] = 22; /* DTLS handshake */
    assert_int_equal(rtp_demux(b, 16), RTP_DEMUX_DTLS);
    b[0] = 19; /* ZRTP range */
    assert_int_equal(rtp_demux(b, 16), RTP_DEMUX_OTHER);
    b[0] = 64; /* TURN channel */
    assert_int_equal(rtp_demux(b, 16), RTP_DEMUX_OTHER);
    b[0] = 0x80;
    b[1] = 111;
    assert_int_equal(rtp_demux(b, 12), RTP_DEMUX_RTP);
    assert_int_equal(rtp_demux(b, 11), RTP_DEMUX_OTHER);
    b[1] = 0x80 | 96; /* marker + PT 96: still RTP */
    assert_int_equal(rtp_demux(b, 12), RTP_DEMUX_RTP);
    b[1] = 200;
    assert_int_equal(rtp_demux(b, 8), RTP_DEMUX_RTCP);
    assert_int_equal(rtp_demux(b, 7), RTP_DEMUX_OTHER);
    b[1] = 192;
    assert_int_equal(rtp_demux(b, 8), RTP_DEMUX_RTCP);
    b[1] = 223;
    assert_int_equal(rtp_demux(b, 8), RTP_DEMUX_RTCP);
    b[1] = 224;
    assert_int_equal(rtp_demux(b, 12), RTP_DEMUX_RTP);
    b[0] = 0xc0; /* 192: outside 128..191 */
    assert_int_equal(rtp_demux(b, 12), RTP_DEMUX_OTHER);
    assert_int_equal(rtp_demux(NULL, 12), RTP_DEMUX_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_full_packet),
        cmocka_unit_test(decode_minimal_packet),
        cmocka_unit_test(reencode_matches_wire),
        cmocka_unit_test(encode_in_place),
        cmocka_unit_test(rewrite_in_place),
        cmocka_unit_test(encode_rejects_bad_header),
        cmocka_unit_test(decode_rejects_malformed),
        cmocka_unit_test(ext_one_byte_edge_cases),
        cmocka_unit_test(ext_two_byte),
        cmocka_unit_test(ext_build_one_byte),
        cmocka_unit_test(ext_build_two_byte),
        cmocka_unit_test(audio_level),
        cmocka_unit_test(dtmf),
        cmocka_unit_test(demux),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
