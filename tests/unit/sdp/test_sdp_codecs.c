/* Codec preference lists from an operator's codec names (sdp_codecs_select), and what an offer
 * and an answer make of them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/mem.h"
#include "media/sdp.h"
#include "media/sdp_offer_answer.h"
#include "sdp_samples.h"
#include "sdp_test_util.h"

static void names_to_a_list(void **state)
{
    struct sdp_codec cs[SDP_MAX_FORMATS];
    size_t n = 0, bad = 99;
    const char *const names[] = {"pcma", "G722", "opus"};
    assert_int_equal(
        sdp_codecs_select(SDP_PROFILE_RTP_AVP, names, 3, cs, SDP_MAX_FORMATS, &n, &bad), 0);
    assert_int_equal(n, 5);
    assert_string_equal(cs[0].name, "PCMA");
    assert_int_equal(cs[0].pt, 8);
    assert_string_equal(cs[1].name, "G722");
    assert_int_equal(cs[1].pt, 9);
    assert_string_equal(cs[2].name, "opus");
    assert_int_equal(cs[2].pt, 111);
    /* telephone-event at both clock rates */
    assert_string_equal(cs[3].name, "telephone-event");
    assert_int_equal(cs[3].clock_rate, 48000);
    assert_int_equal(cs[4].clock_rate, 8000);
    assert_int_equal(cs[4].pt, 101);

    /* an offer in that order */
    struct sdp_local l = test_avp_local();
    l.codecs = cs;
    l.ncodecs = n;
    char *o;
    assert_int_equal(sdp_offer_create(&l, &o), 0);
    test_has_line(o, "m=audio 20000 RTP/AVP 8 9 111 126 101");
    mem_deref(o);

    /* and an answer to a phone offering PCMU and PCMA takes PCMA, our first */
    struct sdp_audio_params p;
    char *a = test_answer(SIP_OFFER, &l, &p, NULL);
    assert_string_equal(p.codec, "PCMA");
    assert_int_equal(p.dtmf_pt, 101);
    mem_deref(a);

    /* only 8 kHz codecs: one telephone-event */
    const char *const pcmu[] = {"PCMU"};
    assert_int_equal(sdp_codecs_select(SDP_PROFILE_RTP_AVP, pcmu, 1, cs, SDP_MAX_FORMATS, &n, NULL),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(cs[1].clock_rate, 8000);
    l.ncodecs = n;
    test_answer_fails(
        test_replace(SIP_OFFER, "m=audio 30000 RTP/AVP 8 0 101", "m=audio 30000 RTP/AVP 8 101"), &l,
        ENOTSUP, "no common audio codec");
}

static void bad_names(void **state)
{
    struct sdp_codec cs[8];
    size_t n, bad = 99;
    const char *const unknown[] = {"opus", "G729"};
    assert_int_equal(sdp_codecs_select(SDP_PROFILE_RTP_AVP, unknown, 2, cs, 8, &n, &bad), ENOENT);
    assert_int_equal(bad, 1);
    /* WebRTC legs carry Opus only */
    const char *const g722[] = {"g722"};
    assert_int_equal(sdp_codecs_select(SDP_PROFILE_WEBRTC, g722, 1, cs, 8, &n, &bad), ENOENT);
    const char *const dtmf[] = {"telephone-event"};
    assert_int_equal(sdp_codecs_select(SDP_PROFILE_RTP_AVP, dtmf, 1, cs, 8, &n, &bad), ENOENT);
    const char *const twice[] = {"pcmu", "PCMU"};
    assert_int_equal(sdp_codecs_select(SDP_PROFILE_RTP_AVP, twice, 2, cs, 8, &n, NULL), EINVAL);
    const char *const four[] = {"pcmu", "pcma", "g722", "opus"};
    assert_int_equal(sdp_codecs_select(SDP_PROFILE_RTP_AVP, four, 4, cs, 5, &n, NULL), EOVERFLOW);
    assert_int_equal(sdp_codecs_select(SDP_PROFILE_RTP_AVP, four, 4, cs, 6, &n, NULL), 0);
    assert_int_equal(n, 6);
    assert_int_equal(sdp_codecs_select(SDP_PROFILE_RTP_AVP, four, 0, cs, 6, &n, NULL), EINVAL);
    const char *const null[] = {NULL};
    assert_int_equal(sdp_codecs_select(SDP_PROFILE_RTP_AVP, null, 1, cs, 6, &n, &bad), ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_to_a_list),
        cmocka_unit_test(bad_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
