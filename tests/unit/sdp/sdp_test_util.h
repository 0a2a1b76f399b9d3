/* Helpers shared by the offer/answer tests (cmocka assertions inside). */
#ifndef SB_TESTS_SDP_TEST_UTIL_H
#define SB_TESTS_SDP_TEST_UTIL_H

#include "media/sdp.h"
#include "media/sdp_offer_answer.h"

#define OUR_FP                                                                                     \
    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:"   \
    "88:99"

/* A WebRTC local description: ufrag "ufrA", two candidates (the first 192.0.2.10:40000, gathering
 * done), SSRC 305419896 cname "sbcname", msid "sbstream sbtrack", sendrecv, session 1234567890123
 * version 1. */
struct sdp_local test_webrtc_local(void);
/* A plain RTP one: 192.0.2.1:20000, session 77 version 1, the default codecs. */
struct sdp_local test_avp_local(void);

/* text with every LF turned into CRLF (malloc'd). */
char *test_crlf(const char *text);
/* Parses text or fails the test. */
struct sdp_session *test_parse(const char *text);
/* Answers text with l or fails the test; the answer is a mem string. *offerp (optional) gets the
 * parsed offer, which the candidates in *p point into. */
char *test_answer(const char *text, const struct sdp_local *l, struct sdp_audio_params *p,
                  struct sdp_session **offerp);
/* Answers text expecting error code and a message containing want. */
void test_answer_fails(const char *text, const struct sdp_local *l, int code, const char *want);
/* The SDP has the whole line / does not contain the text. */
void test_has_line(const char *sdp, const char *line);
void test_lacks(const char *sdp, const char *text);
/* text with its first from replaced by to, in a static buffer (valid until the next call). */
const char *test_replace(const char *text, const char *from, const char *to);

#endif
