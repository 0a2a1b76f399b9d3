/* Helpers shared by the offer/answer tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/mem.h"
#include "sdp_test_util.h"

static const char *const our_candidates[] = {
    "candidate:1 1 udp 2130706431 192.0.2.10 40000 typ host",
    "candidate:2 1 udp 1694498815 198.51.100.1 40000 typ srflx raddr 192.0.2.10 rport 40000",
};

struct sdp_local test_webrtc_local(void)
{
    struct sdp_local l = {
        .profile = SDP_PROFILE_WEBRTC,
        .sess_id = 1234567890123ULL,
        .sess_version = 1,
        .ice_ufrag = "ufrA",
        .ice_pwd = "pwdpwdpwdpwdpwdpwdpwdpwd",
        .fp_alg = "sha-256",
        .fingerprint = OUR_FP,
        .candidates = our_candidates,
        .ncandidates = 2,
        .candidates_done = true,
        .ssrc = 305419896,
        .cname = "sbcname",
        .msid_stream = "sbstream",
        .msid_track = "sbtrack",
        .dir = SDP_DIR_SENDRECV,
    };
    return l;
}

struct sdp_local test_avp_local(void)
{
    struct sdp_local l = {
        .profile = SDP_PROFILE_RTP_AVP,
        .sess_id = 77,
        .sess_version = 1,
        .addr = "192.0.2.1",
        .port = 20000,
        .ssrc = 1,
        .cname = "x",
        .dir = SDP_DIR_SENDRECV,
    };
    return l;
}

char *test_crlf(const char *text)
{
    size_t n = strlen(text), lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    char *out = malloc(n + lines + 1), *p = out;
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n')
            *p++ = '\r';
        *p++ = text[i];
    }
    *p = '\0';
    return out;
}

struct sdp_session *test_parse(const char *text)
{
    struct sdp_session *s = NULL;
    char err[256];
    int e = sdp_parse(&s, text, strlen(text), err, sizeof(err));
    if (e)
        fail_msg("parse failed (%d): %s\n%s", e, err, text);
    return s;
}

char *test_answer(const char *text, const struct sdp_local *l, struct sdp_audio_params *p,
                  struct sdp_session **offerp)
{
    struct sdp_session *offer = test_parse(text);
    char *answer = NULL, err[256];
    int e = sdp_answer_create(offer, l, &answer, p, err, sizeof(err));
    if (e)
        fail_msg("answer failed (%d): %s", e, err);
    assert_non_null(answer);
    if (offerp)
        *offerp = offer;
    else
        mem_deref(offer);
    return answer;
}

void test_answer_fails(const char *text, const struct sdp_local *l, int code, const char *want)
{
    struct sdp_session *offer = test_parse(text);
    struct sdp_audio_params p;
    char *answer = NULL, err[256];
    int e = sdp_answer_create(offer, l, &answer, &p, err, sizeof(err));
    if (e != code)
        fail_msg("expected %d, got %d (%s)", code, e, err);
    assert_null(answer);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    mem_deref(offer);
}

void test_has_line(const char *sdp, const char *line)
{
    char want[512];
    snprintf(want, sizeof(want), "\r\n%s\r\n", line);
    if (!strstr(sdp, want))
        fail_msg("no line \"%s\" in:\n%s", line, sdp);
}

void test_lacks(const char *sdp, const char *text)
{
    if (strstr(sdp, text))
        fail_msg("\"%s\" should not be in:\n%s", text, sdp);
}

const char *test_replace(const char *text, const char *from, const char *to)
{
    static char buf[16384];
    const char *at = strstr(text, from);
    assert_non_null(at);
    size_t pre = (size_t)(at - text);
    assert_true(strlen(text) - strlen(from) + strlen(to) < sizeof(buf));
    memcpy(buf, text, pre);
    strcpy(buf + pre, to);
    strcat(buf, at + strlen(from));
    return buf;
}
