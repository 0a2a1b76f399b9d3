/*
 * Fuzzes the SDP parser and offer/answer: whatever parses must format, parse again and format
 * to the same text; and answering it with a fixed WebRTC (then plain RTP, without and with
 * SDES-SRTP) local description must either fail cleanly or give an answer that parses. Every
 * a=crypto line that parses must format and parse back to the same key.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "media/sdp.h"
#include "media/sdp_offer_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const candidates[] = {
    "candidate:1 1 udp 2130706431 192.0.2.10 40000 typ host",
};

static struct sdp_crypto keys[2] = {
    {.tag = 1, .suite = SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, .key_len = 30, .key = {1, 2, 3}},
    {.tag = 2, .suite = SRTP_SUITE_AES_CM_128_HMAC_SHA1_32, .key_len = 30, .key = {4, 5, 6}},
};

static void answer(const struct sdp_session *offer, enum sdp_profile profile, enum sdp_srtp srtp)
{
    struct sdp_local l = {
        .profile = profile,
        .sess_id = 1,
        .sess_version = 1,
        .ice_ufrag = "ufrA",
        .ice_pwd = "pwdpwdpwdpwdpwdpwdpwdpwd",
        .fp_alg = "sha-256",
        .fingerprint = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:"
                       "22:33:44:55:66:77:88:99",
        .candidates = candidates,
        .ncandidates = 1,
        .candidates_done = true,
        .addr = profile == SDP_PROFILE_RTP_AVP ? "192.0.2.1" : NULL,
        .port = 20000,
        .ssrc = 1,
        .cname = "c",
        .msid_stream = "s",
        .msid_track = "t",
        .dir = SDP_DIR_SENDRECV,
        .rtcp_mux = true,
        .srtp = srtp,
        .crypto = keys,
        .ncrypto = 2,
    };
    char *text = NULL, err[256];
    struct sdp_audio_params p;
    int e = sdp_answer_create(offer, &l, &text, &p, err, sizeof(err));
    if (e) {
        if (text || !err[0])
            abort(); /* a failure leaves nothing behind and says why */
        return;
    }
    struct sdp_session *back = NULL;
    if (sdp_parse(&back, text, strlen(text), err, sizeof(err)) || back->nmedia != offer->nmedia)
        abort();
    /* SDES: the answer carries our key for the agreed line, and only then */
    const struct sdp_media *am = &back->media[p.mline];
    if (p.srtp != (sdp_attrs_get(&am->attrs, "crypto") != NULL))
        abort();
    if (p.srtp && (p.crypto_local.tag != p.crypto_remote.tag ||
                   p.crypto_local.suite != p.crypto_remote.suite || srtp == SDP_SRTP_OFF))
        abort();
    if (srtp == SDP_SRTP_REQUIRED && !p.srtp)
        abort();
    /* renegotiating the same offer changes nothing */
    l.current = &p;
    struct sdp_audio_params p2;
    if (sdp_offer_read(offer, &l, &p2, err, sizeof(err)) || p2.ice_restart || p2.dtls_restart ||
        p2.pt != p.pt || p2.mline != p.mline || p2.srtp != p.srtp ||
        memcmp(&p2.crypto_remote, &p.crypto_remote, sizeof(p.crypto_remote)))
        abort();
    mem_deref(back);
    mem_deref(text);
}

static void crypto_round_trip(const char *value)
{
    struct sdp_crypto c, c2;
    char why[128], line[160];
    int e = sdp_crypto_parse(&c, value ? value : "", why, sizeof(why));
    if (e) {
        if ((e != EBADMSG && e != ENOTSUP) || !why[0])
            abort();
        return;
    }
    if (c.key_len != srtp_suite_key_len(c.suite) || sdp_crypto_format(&c, line, sizeof(line)) ||
        sdp_crypto_parse(&c2, line, why, sizeof(why)) || c2.tag != c.tag || c2.suite != c.suite ||
        c2.key_len != c.key_len || memcmp(c2.key, c.key, c.key_len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sdp_session *s = NULL;
    char err[256];
    if (sdp_parse(&s, (const char *)data, size, err, sizeof(err)))
        return 0;

    char *text = NULL;
    if (sdp_format(s, &text))
        abort();
    /* CRLF where the input had LF may push a description past the size bound */
    size_t len = strlen(text);
    if (len <= SDP_MAX_LEN) {
        struct sdp_session *s2 = NULL;
        char *text2 = NULL;
        if (sdp_parse(&s2, text, len, err, sizeof(err)) || sdp_format(s2, &text2) ||
            strcmp(text, text2))
            abort();
        mem_deref(text2);
        mem_deref(s2);
    }
    mem_deref(text);

    answer(s, SDP_PROFILE_WEBRTC, SDP_SRTP_OFF);
    answer(s, SDP_PROFILE_RTP_AVP, SDP_SRTP_OFF);
    answer(s, SDP_PROFILE_RTP_AVP, SDP_SRTP_OPTIONAL);
    answer(s, SDP_PROFILE_RTP_AVP, SDP_SRTP_REQUIRED);
    for (size_t i = 0; i < s->nmedia; i++) {
        for (const struct sdp_attr *a = NULL;
             (a = sdp_attrs_next(&s->media[i].attrs, "crypto", a));)
            crypto_round_trip(a->value);
    }
    mem_deref(s);
    return 0;
}
