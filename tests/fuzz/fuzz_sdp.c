/*
 * Fuzzes the SDP parser and offer/answer: whatever parses must format, parse again and format
 * to the same text; and answering it with a fixed WebRTC (then plain RTP) local description must
 * either fail cleanly or give an answer that parses.
 */
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

static void answer(const struct sdp_session *offer, enum sdp_profile profile)
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
    /* renegotiating the same offer changes nothing */
    l.current = &p;
    struct sdp_audio_params p2;
    if (sdp_offer_read(offer, &l, &p2, err, sizeof(err)) || p2.ice_restart || p2.dtls_restart ||
        p2.pt != p.pt || p2.mline != p.mline)
        abort();
    mem_deref(back);
    mem_deref(text);
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

    answer(s, SDP_PROFILE_WEBRTC);
    answer(s, SDP_PROFILE_RTP_AVP);
    mem_deref(s);
    return 0;
}
