#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "signalling/call_event.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test json: %s", e.text);
    return j;
}

static int decode(const char *type, const char *text, struct call_event *ev, char *err,
                  json_t **keep)
{
    enum call_event_type t;
    assert_int_equal(call_event_type_parse(type, &t), 0);
    *keep = J(text);
    return call_event_decode(ev, t, *keep, err, 256);
}

static void invite_v1_decodes(void **state)
{
    struct call_event ev;
    char err[256];
    json_t *j;
    assert_int_equal(decode("m.call.invite",
                            "{\"call_id\":\"c1\",\"party_id\":\"DEV\",\"version\":\"1\","
                            "\"lifetime\":60000,\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"},"
                            "\"invitee\":\"@bot:hs\"}",
                            &ev, err, &j),
                     0);
    assert_int_equal(ev.type, CALL_EV_INVITE);
    assert_string_equal(ev.call_id, "c1");
    assert_string_equal(ev.party_id, "DEV");
    assert_int_equal(ev.version, 1);
    assert_int_equal(ev.u.invite.lifetime_ms, 60000);
    assert_string_equal(ev.u.invite.sdp, "v=0");
    assert_string_equal(ev.u.invite.invitee, "@bot:hs");
    json_decref(j);
}

static void invite_v0_without_party_id(void **state)
{
    struct call_event ev;
    char err[256];
    json_t *j;
    assert_int_equal(decode("m.call.invite",
                            "{\"call_id\":\"c0\",\"version\":0,\"lifetime\":30000,"
                            "\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"}}",
                            &ev, err, &j),
                     0);
    assert_int_equal(ev.version, 0);
    assert_null(ev.party_id);
    assert_null(ev.u.invite.invitee);
    json_decref(j);
}

static void malformed_invites_are_refused_with_reasons(void **state)
{
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"[]", "content is not an object"},
        {"{\"version\":\"1\"}", "missing 'call_id'"},
        {"{\"call_id\":5,\"version\":\"1\"}", "'call_id' is not a string"},
        {"{\"call_id\":\"\",\"version\":\"1\"}", "'call_id' is empty"},
        {"{\"call_id\":\"c\",\"version\":\"1\",\"lifetime\":1,"
         "\"offer\":{\"type\":\"offer\",\"sdp\":\"x\"}}",
         "missing 'party_id'"},
        {"{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\",\"lifetime\":1}",
         "missing 'offer'"},
        {"{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\",\"lifetime\":1,"
         "\"offer\":{\"type\":\"answer\",\"sdp\":\"x\"}}",
         "expected offer"},
        {"{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\",\"lifetime\":\"1\","
         "\"offer\":{\"type\":\"offer\",\"sdp\":\"x\"}}",
         "'lifetime' is not a non-negative integer"},
        {"{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\",\"lifetime\":1,"
         "\"offer\":{\"type\":\"offer\",\"sdp\":[]}}",
         "'sdp' is not a string"},
        {"{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\",\"lifetime\":1,"
         "\"offer\":{\"type\":\"offer\",\"sdp\":\"x\"},\"invitee\":7}",
         "'invitee' is not a string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct call_event ev;
        char err[256];
        json_t *j;
        int e = decode("m.call.invite", cases[i].json, &ev, err, &j);
        assert_int_equal(e, EBADMSG);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].msg);
        json_decref(j);
    }
}

static void huge_sdp_is_refused(void **state)
{
    size_t n = 1024 * 1024;
    char *sdp = malloc(n + 1);
    memset(sdp, 'a', n);
    sdp[n] = '\0';
    json_t *c = json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:s}}", "call_id", "c", "party_id", "p",
                          "version", "1", "lifetime", 1000, "offer", "type", "offer", "sdp", sdp);
    struct call_event ev;
    char err[256];
    assert_int_equal(call_event_decode(&ev, CALL_EV_INVITE, c, err, sizeof(err)), EBADMSG);
    assert_non_null(strstr(err, "too long"));
    json_decref(c);
    free(sdp);
}

/* The spec reads every version but the number 0 as "1". */
static void other_versions_are_read_as_1(void **state)
{
    static const char *const versions[] = {"\"7\"", "1", "\"1.1\"", "\"0\"", "null", "{}"};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "{\"call_id\":\"c9\",\"party_id\":\"p\",\"version\":%s,\"lifetime\":1,"
                 "\"offer\":{\"type\":\"offer\",\"sdp\":\"x\"}}",
                 versions[i]);
        struct call_event ev;
        char err[256];
        json_t *j;
        assert_int_equal(decode("m.call.invite", text, &ev, err, &j), 0);
        assert_int_equal(ev.version, 1);
        assert_string_equal(ev.party_id, "p");
        json_decref(j);
    }
}

static void candidates_decode_with_end_marker(void **state)
{
    struct call_event ev;
    char err[256];
    json_t *j;
    assert_int_equal(decode("m.call.candidates",
                            "{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\","
                            "\"candidates\":[{\"candidate\":\"candidate:1 1 udp 1 1.2.3.4 5 typ "
                            "host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0},{\"candidate\":\"\"}]}",
                            &ev, err, &j),
                     0);
    assert_int_equal(ev.u.candidates.count, 2);
    assert_string_equal(ev.u.candidates.list[0].sdp_mid, "0");
    assert_int_equal(ev.u.candidates.list[0].sdp_mline_index, 0);
    assert_string_equal(ev.u.candidates.list[1].candidate, "");
    assert_int_equal(ev.u.candidates.list[1].sdp_mline_index, -1);
    json_decref(j);

    assert_int_equal(decode("m.call.candidates",
                            "{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\","
                            "\"candidates\":[42]}",
                            &ev, err, &j),
                     EBADMSG);
    json_decref(j);
}

static void too_many_candidates_refused(void **state)
{
    json_t *c = json_pack("{s:s, s:s, s:s}", "call_id", "c", "party_id", "p", "version", "1");
    json_t *arr = json_array();
    for (int i = 0; i < CALL_CANDIDATES_MAX + 1; i++)
        json_array_append_new(arr, json_pack("{s:s}", "candidate", "candidate:x"));
    json_object_set_new(c, "candidates", arr);
    struct call_event ev;
    char err[256];
    assert_int_equal(call_event_decode(&ev, CALL_EV_CANDIDATES, c, err, sizeof(err)), EBADMSG);
    assert_non_null(strstr(err, "too many candidates"));
    json_decref(c);
}

static void hangup_reasons(void **state)
{
    struct call_event ev;
    char err[256];
    json_t *j;
    assert_int_equal(decode("m.call.hangup",
                            "{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\","
                            "\"reason\":\"ice_failed\"}",
                            &ev, err, &j),
                     0);
    assert_int_equal(ev.u.hangup.reason, CALL_REASON_ICE_FAILED);
    json_decref(j);
    assert_int_equal(decode("m.call.hangup",
                            "{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\","
                            "\"reason\":\"weird\"}",
                            &ev, err, &j),
                     0);
    assert_int_equal(ev.u.hangup.reason, CALL_REASON_OTHER);
    assert_string_equal(ev.u.hangup.reason_text, "weird");
    json_decref(j);
}

static void negotiate_accepts_offer_and_answer(void **state)
{
    struct call_event ev;
    char err[256];
    json_t *j;
    assert_int_equal(decode("m.call.negotiate",
                            "{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\","
                            "\"lifetime\":10,\"description\":{\"type\":\"offer\",\"sdp\":\"v\"}}",
                            &ev, err, &j),
                     0);
    assert_string_equal(ev.u.negotiate.sdp_type, "offer");
    json_decref(j);
    assert_int_equal(decode("m.call.negotiate",
                            "{\"call_id\":\"c\",\"party_id\":\"p\",\"version\":\"1\","
                            "\"description\":{\"type\":\"pranswer\",\"sdp\":\"v\"}}",
                            &ev, err, &j),
                     EBADMSG);
    json_decref(j);
}

static void builders_round_trip_through_decoder(void **state)
{
    const char *cands[] = {"candidate:1 1 udp 2122260223 127.0.0.1 20000 typ host"};
    struct {
        enum call_event_type t;
        json_t *c;
    } built[] = {
        {CALL_EV_INVITE, call_event_invite("c", "me", "v=0", 60000, "@u:hs", "s1")},
        {CALL_EV_ANSWER, call_event_answer("c", "me", "v=0", "s1")},
        {CALL_EV_NEGOTIATE, call_event_negotiate("c", "me", "answer", "v=0", 60000, "s1")},
        {CALL_EV_CANDIDATES, call_event_candidates("c", "me", cands, 1, "0", true)},
        {CALL_EV_SELECT_ANSWER, call_event_select_answer("c", "me", "them")},
        {CALL_EV_HANGUP, call_event_hangup("c", "me", CALL_REASON_ICE_TIMEOUT)},
        {CALL_EV_REJECT, call_event_reject("c", "me")},
    };
    for (size_t i = 0; i < sizeof(built) / sizeof(built[0]); i++) {
        struct call_event ev;
        char err[256];
        assert_int_equal(call_event_decode(&ev, built[i].t, built[i].c, err, sizeof(err)), 0);
        assert_string_equal(ev.call_id, "c");
        assert_string_equal(ev.party_id, "me");
        assert_int_equal(ev.version, 1);
        if (built[i].t == CALL_EV_CANDIDATES) {
            assert_int_equal(ev.u.candidates.count, 2);
            assert_string_equal(ev.u.candidates.list[1].candidate, "");
        }
        if (built[i].t == CALL_EV_HANGUP)
            assert_int_equal(ev.u.hangup.reason, CALL_REASON_ICE_TIMEOUT);
        if (built[i].t == CALL_EV_INVITE)
            assert_string_equal(ev.u.invite.invitee, "@u:hs");
        json_decref(built[i].c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(invite_v1_decodes),
        cmocka_unit_test(invite_v0_without_party_id),
        cmocka_unit_test(malformed_invites_are_refused_with_reasons),
        cmocka_unit_test(huge_sdp_is_refused),
        cmocka_unit_test(other_versions_are_read_as_1),
        cmocka_unit_test(candidates_decode_with_end_marker),
        cmocka_unit_test(too_many_candidates_refused),
        cmocka_unit_test(hangup_reasons),
        cmocka_unit_test(negotiate_accepts_offer_and_answer),
        cmocka_unit_test(builders_round_trip_through_decoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
