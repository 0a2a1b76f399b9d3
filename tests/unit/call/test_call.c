/*
 * The call state machine (signalling/call.c) against a fake media session
 * (fake_media_session.c, linked instead of media/session.c) and a send() that records every
 * event (call_harness.c): the m.call.* exchange for answering, ringing, renegotiation, failures
 * and the protocol's corner cases, driven on the GLib main loop until the expected event shows
 * up (bounded).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <glib.h>

#include "base/log.h"
#include "base/mem.h"
#include "signalling/call.h"
#include "tests/unit/call/call_harness.h"
#include "tests/unit/call/fake_media_session.h"

/* ---- answering ---- */

static void answer_waits_for_gathering_and_carries_candidates(void **state)
{
    struct call *c = answer_invite("v=0 offer");
    assert_int_equal(call_get_state(c), CALL_STATE_PREPARING);
    assert_int_equal(call_get_direction(c), CALL_INBOUND);
    assert_string_equal(call_id(c), "c1");
    assert_int_equal(sent->len, 0); /* gathering has not finished: nothing yet */

    fake_media_local_candidate(fake_media_last, "candidate:1 1 udp 9 127.0.0.1 5000 typ host");
    fake_media_local_candidate(fake_media_last, "candidate:2 1 udp 8 10.0.0.1 5001 typ host");
    assert_int_equal(sent->len, 0); /* they go into the answer */
    fake_media_gathering_done(fake_media_last);

    /* Gathering done before gather_wait_ms: the answer leaves at once, complete. */
    assert_int_equal(count_type("m.call.answer"), 1);
    json_t *a = nth("m.call.answer", 0);
    assert_string_equal(str(a, "call_id"), "c1");
    assert_string_equal(str(a, "party_id"), OURS);
    assert_string_equal(str(a, "version"), "1");
    assert_string_equal(str(a, "answer.type"), "answer");
    const char *sdp = str(a, "answer.sdp");
    assert_non_null(strstr(sdp, "candidate:1 1 udp 9 127.0.0.1 5000 typ host"));
    assert_non_null(strstr(sdp, "candidate:2 1 udp 8 10.0.0.1 5001 typ host"));
    assert_non_null(strstr(sdp, "a=end-of-candidates"));
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTING);

    /* Nothing owed afterwards: no candidates event, no second end-of-candidates. */
    run_for(150);
    assert_int_equal(sent->len, 1);

    fake_media_connected(fake_media_last);
    assert_int_equal(rep.connected, 1);
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);
    call_hangup(c, CALL_REASON_USER_HANGUP);
    assert_true(fake_media_closed(call_media(c)));
    mem_deref(c);
}

static void answer_after_gather_wait_then_trickles_in_batches(void **state)
{
    env.gather_wait_ms = 100;
    int64_t t0 = g_get_monotonic_time();
    struct call *c = answer_invite("v=0 offer");
    fake_media_local_candidate(fake_media_last, "candidate:1 1 udp 9 127.0.0.1 5000 typ host");
    WAIT_SENT("m.call.answer", 1);
    int64_t waited_ms = (g_get_monotonic_time() - t0) / 1000;
    assert_true(waited_ms >= 90); /* it waited for gathering ... */
    const char *sdp = str(nth("m.call.answer", 0), "answer.sdp");
    assert_non_null(strstr(sdp, "candidate:1 1 udp 9")); /* ... and carries what was found */
    assert_null(strstr(sdp, "end-of-candidates"));       /* gathering still runs */
    assert_int_equal(count_type("m.call.candidates"), 0);

    /* Two found in quick succession leave together. */
    fake_media_local_candidate(fake_media_last, "candidate:2 1 udp 8 10.0.0.1 5001 typ host");
    fake_media_local_candidate(fake_media_last, "candidate:3 1 udp 7 10.0.0.2 5002 typ srflx");
    WAIT_SENT("m.call.candidates", 1);
    json_t *batch = nth("m.call.candidates", 0);
    assert_int_equal(json_array_size(candidates_of(batch)), 2);
    assert_true(has_candidate(batch, "candidate:2 1 udp 8 10.0.0.1 5001 typ host"));
    assert_true(has_candidate(batch, "candidate:3 1 udp 7 10.0.0.2 5002 typ srflx"));
    assert_false(has_candidate(batch, ""));
    assert_string_equal(str(batch, "party_id"), OURS);
    assert_string_equal(str(json_array_get(candidates_of(batch), 0), "sdpMid"), "0");

    /* The end of gathering is announced once, with the "" candidate. */
    fake_media_gathering_done(fake_media_last);
    WAIT_SENT("m.call.candidates", 2);
    json_t *end = nth("m.call.candidates", 1);
    assert_int_equal(json_array_size(candidates_of(end)), 1);
    assert_true(has_candidate(end, ""));
    run_for(120);
    assert_int_equal(count_type("m.call.candidates"), 2);
    call_hangup(c, CALL_REASON_USER_HANGUP);
    mem_deref(c);
}

static void unanswerable_offer_is_hung_up(void **state)
{
    struct in in;
    decode(&in, "m.call.invite",
           "{\"call_id\":\"cbad\",\"party_id\":\"P\",\"version\":\"1\",\"lifetime\":60000,"
           "\"offer\":{\"type\":\"offer\",\"sdp\":\"bogus\"}}");
    struct call *c = NULL;
    char err[256] = "";
    assert_int_equal(call_answer(&c, &env, ROOM, PEER, &in.ev, &handlers, NULL, err, sizeof(err)),
                     EBADMSG);
    in_free(&in);
    assert_null(c);
    assert_non_null(strstr(err, "bogus"));
    assert_int_equal(rep.ended, 0); /* no call was made, so no handler runs */
    assert_int_equal(count_type("m.call.hangup"), 1);
    assert_string_equal(str(nth("m.call.hangup", 0), "reason"), "unknown_error");
    assert_string_equal(str(nth("m.call.hangup", 0), "call_id"), "cbad");
    assert_true(logged("call=cbad", "bogus"));

    /* Media that cannot be set up: refused the same way. */
    fake_media_alloc_error = EMFILE;
    decode(&in, "m.call.invite",
           "{\"call_id\":\"cmedia\",\"party_id\":\"P\",\"version\":\"1\",\"lifetime\":60000,"
           "\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"}}");
    assert_int_equal(call_answer(&c, &env, ROOM, PEER, &in.ev, &handlers, NULL, err, sizeof(err)),
                     EMFILE);
    in_free(&in);
    assert_null(c);
    assert_int_equal(count_type("m.call.hangup"), 2);
    assert_string_equal(str(nth("m.call.hangup", 1), "call_id"), "cmedia");
}

/* ---- ringing ---- */

static void ring_unanswered_times_out(void **state)
{
    env.invite_lifetime_ms = 150;
    int64_t t0 = g_get_monotonic_time();
    struct call *c = ringing_call();
    json_t *inv = nth("m.call.invite", 0);
    assert_string_equal(str(inv, "invitee"), PEER);
    assert_int_equal(json_integer_value(json_object_get(inv, "lifetime")), 150);
    assert_string_equal(str(inv, "offer.type"), "offer");
    assert_non_null(strstr(str(inv, "offer.sdp"), "candidate:1 1 udp 1 127.0.0.1 5000"));
    assert_string_equal(str(inv, "call_id"), call_id(c));
    assert_string_equal(str(inv, "party_id"), OURS);

    assert_true(run_until(ended, NULL, WAIT));
    assert_true((g_get_monotonic_time() - t0) / 1000 >= 140);
    assert_int_equal(rep.reason, CALL_REASON_INVITE_TIMEOUT);
    assert_false(rep.by_remote);
    assert_int_equal(count_type("m.call.hangup"), 1);
    assert_string_equal(str(nth("m.call.hangup", 0), "reason"), "invite_timeout");
    assert_int_equal(call_get_state(c), CALL_STATE_ENDED);
    mem_deref(c);
}

static void ring_answer_selects_party_and_applies_its_early_candidates(void **state)
{
    struct call *c = ringing_call();
    const char *id = call_id(c);
    struct media_session *m = call_media(c);

    /* Two of the callee's devices trickle before either answered. */
    feed(c, PEER, "m.call.candidates",
         "{\"call_id\":\"%s\",\"party_id\":\"A\",\"version\":\"1\",\"candidates\":"
         "[{\"candidate\":\"candidate:a1 1 udp 9 127.0.0.1 6000 typ host\",\"sdpMid\":\"0\"}]}",
         id);
    feed(c, PEER, "m.call.candidates",
         "{\"call_id\":\"%s\",\"party_id\":\"B\",\"version\":\"1\",\"candidates\":"
         "[{\"candidate\":\"candidate:b1 1 udp 9 127.0.0.1 7000 typ host\",\"sdpMid\":\"0\"}]}",
         id);
    assert_int_equal(fake_media_remote_count(m), 0); /* kept until a party is chosen */

    feed(c, PEER, "m.call.answer",
         "{\"call_id\":\"%s\",\"party_id\":\"A\",\"version\":\"1\","
         "\"answer\":{\"type\":\"answer\",\"sdp\":\"v=0 answer\"}}",
         id);
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTING);
    assert_int_equal(count_type("m.call.select_answer"), 1);
    json_t *sel = nth("m.call.select_answer", 0);
    assert_string_equal(str(sel, "selected_party_id"), "A");
    assert_string_equal(str(sel, "call_id"), id);
    assert_string_equal(str(sel, "party_id"), OURS);
    assert_int_equal(fake_media_remote_count(m), 1);
    assert_string_equal(fake_media_remote(m, 0), "candidate:a1 1 udp 9 127.0.0.1 6000 typ host");

    /* After the choice, B is not the call; A still is. */
    feed(c, PEER, "m.call.candidates",
         "{\"call_id\":\"%s\",\"party_id\":\"B\",\"version\":\"1\",\"candidates\":"
         "[{\"candidate\":\"candidate:b2 1 udp 9 127.0.0.1 7001 typ host\",\"sdpMid\":\"0\"}]}",
         id);
    feed(c, PEER, "m.call.candidates",
         "{\"call_id\":\"%s\",\"party_id\":\"A\",\"version\":\"1\",\"candidates\":"
         "[{\"candidate\":\"candidate:a2 1 udp 9 127.0.0.1 6001 typ host\",\"sdpMid\":\"0\"},"
         "{\"candidate\":\"\",\"sdpMid\":\"0\"}]}",
         id);
    assert_int_equal(fake_media_remote_count(m), 2);
    assert_string_equal(fake_media_remote(m, 1), "candidate:a2 1 udp 9 127.0.0.1 6001 typ host");
    assert_true(fake_media_remote_ended(m));

    /* A second answer (B's, late) changes nothing; B's hangup does not end A's call. */
    feed(c, PEER, "m.call.answer",
         "{\"call_id\":\"%s\",\"party_id\":\"B\",\"version\":\"1\","
         "\"answer\":{\"type\":\"answer\",\"sdp\":\"v=0 answer\"}}",
         id);
    assert_int_equal(count_type("m.call.select_answer"), 1);
    assert_int_equal(fake_media_remote_sdps(m), 1);
    feed(c, PEER, "m.call.hangup",
         "{\"call_id\":\"%s\",\"party_id\":\"B\",\"version\":\"1\",\"reason\":\"user_hangup\"}",
         id);
    assert_int_equal(rep.ended, 0);

    fake_media_connected(m);
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);
    assert_int_equal(rep.connected, 1);
    feed(c, PEER, "m.call.hangup",
         "{\"call_id\":\"%s\",\"party_id\":\"A\",\"version\":\"1\",\"reason\":\"user_hangup\"}",
         id);
    assert_int_equal(rep.ended, 1);
    assert_true(rep.by_remote);
    assert_int_equal(rep.reason, CALL_REASON_USER_HANGUP);
    assert_int_equal(count_type("m.call.hangup"), 0); /* the peer ended it: nothing to send */
    mem_deref(c);
}

static void reject_while_ringing_ends_the_call(void **state)
{
    struct call *c = ringing_call();
    feed(c, PEER, "m.call.reject", "{\"call_id\":\"%s\",\"party_id\":\"A\",\"version\":\"1\"}",
         call_id(c));
    assert_int_equal(rep.ended, 1);
    assert_true(rep.by_remote);
    assert_int_equal(rep.reason, CALL_REASON_REJECTED);
    assert_int_equal(call_get_state(c), CALL_STATE_ENDED);
    assert_int_equal(sent->len, 1); /* the invite, nothing after */
    assert_true(fake_media_closed(call_media(c)));
    /* Anything later is for a call that is over. */
    feed(c, PEER, "m.call.answer",
         "{\"call_id\":\"%s\",\"party_id\":\"A\",\"version\":\"1\","
         "\"answer\":{\"type\":\"answer\",\"sdp\":\"v=0\"}}",
         call_id(c));
    assert_int_equal(sent->len, 1);
    assert_int_equal(rep.ended, 1);
    mem_deref(c);
}

static void hangup_while_ringing_ends_the_call(void **state)
{
    /* The callee's device may hang up (decline) before any party was chosen. */
    struct call *c = ringing_call();
    feed(c, PEER, "m.call.hangup",
         "{\"call_id\":\"%s\",\"party_id\":\"A\",\"version\":\"1\",\"reason\":\"user_busy\"}",
         call_id(c));
    assert_int_equal(rep.ended, 1);
    assert_int_equal(rep.reason, CALL_REASON_USER_BUSY);
    assert_int_equal(count_type("m.call.hangup"), 0);
    mem_deref(c);
}

/* ---- the running call ---- */

static void hangup_from_the_peer(void **state)
{
    struct call *c = connected_call();
    feed(c, PEER, "m.call.hangup",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"reason\":\"user_"
         "hangup\"}");
    assert_int_equal(rep.ended, 1);
    assert_true(rep.by_remote);
    assert_int_equal(rep.reason, CALL_REASON_USER_HANGUP);
    assert_int_equal(count_type("m.call.hangup"), 0);
    assert_true(fake_media_closed(call_media(c)));
    /* Hanging up an ended call sends nothing and reports nothing again. */
    call_hangup(c, CALL_REASON_USER_HANGUP);
    assert_int_equal(count_type("m.call.hangup"), 0);
    assert_int_equal(rep.ended, 1);
    mem_deref(c);
}

static void negotiate_offer_is_answered_and_hold_detected(void **state)
{
    struct call *c = connected_call();
    unsigned before = sent->len;

    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"offer\",\"sdp\":\"v=0 a=sendonly\"}}");
    assert_int_equal(count_type("m.call.negotiate"), 1);
    json_t *ans = nth("m.call.negotiate", 0);
    assert_string_equal(str(ans, "description.type"), "answer");
    assert_non_null(strstr(str(ans, "description.sdp"), "fake-answer"));
    assert_string_equal(str(ans, "call_id"), "c1");
    assert_string_equal(str(ans, "party_id"), OURS);
    assert_true(call_is_held(c));
    assert_int_equal(rep.held_changes, 1);
    assert_true(rep.held);
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);

    /* inactive is still on hold: no second report. */
    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"offer\",\"sdp\":\"v=0 a=inactive\"}}");
    assert_int_equal(count_type("m.call.negotiate"), 2);
    assert_int_equal(rep.held_changes, 1);
    assert_true(call_is_held(c));

    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"offer\",\"sdp\":\"v=0 a=sendrecv\"}}");
    assert_int_equal(count_type("m.call.negotiate"), 3);
    assert_int_equal(rep.held_changes, 2);
    assert_false(rep.held);
    assert_false(call_is_held(c));

    /* An answer we did not ask for and an offer we cannot take change nothing. */
    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"answer\",\"sdp\":\"v=0 a=sendonly\"}}");
    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"offer\",\"sdp\":\"bogus\"}}");
    assert_int_equal(count_type("m.call.negotiate"), 3);
    assert_int_equal(sent->len, before + 3);
    assert_false(call_is_held(c));
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);
    assert_true(logged("call=c1", "refusing a renegotiation offer"));
    call_hangup(c, CALL_REASON_USER_HANGUP);
    mem_deref(c);
}

static void negotiate_answer_waits_for_gathering(void **state)
{
    /* A renegotiation while local gathering still runs is answered once it finishes, or after
     * gather_wait_ms at the latest, like the first answer. */
    env.gather_wait_ms = 100;
    struct call *c = answer_invite("v=0 offer");
    WAIT_SENT("m.call.answer", 1); /* gather_wait_ms passed without the end of gathering */
    fake_media_connected(fake_media_last);
    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"offer\",\"sdp\":\"v=0 a=sendonly\"}}");
    assert_int_equal(count_type("m.call.negotiate"), 0); /* waiting for gathering */
    WAIT_SENT("m.call.negotiate", 1);
    assert_string_equal(str(nth("m.call.negotiate", 0), "description.type"), "answer");
    assert_true(call_is_held(c));
    call_hangup(c, CALL_REASON_USER_HANGUP);
    mem_deref(c);
}

static void our_hold_and_resume_renegotiate(void **state)
{
    struct call *c = connected_call();
    assert_int_equal(call_hold(c, true), 0);
    assert_true(call_is_holding(c));
    assert_int_equal(count_type("m.call.negotiate"), 1);
    json_t *off = nth("m.call.negotiate", 0);
    assert_string_equal(str(off, "description.type"), "offer");
    assert_non_null(strstr(str(off, "description.sdp"), "a=sendonly"));
    assert_string_equal(str(off, "party_id"), OURS);
    assert_int_equal(call_hold(c, false), EALREADY); /* one renegotiation at a time */

    unsigned sdps = fake_media_remote_sdps(call_media(c));
    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"answer\",\"sdp\":\"v=0 a=recvonly\"}}");
    assert_int_equal(fake_media_remote_sdps(call_media(c)), sdps + 1);
    assert_false(call_is_held(c)); /* we hold them; they do not hold us */
    assert_int_equal(rep.held_changes, 0);

    assert_int_equal(call_hold(c, false), 0);
    assert_false(call_is_holding(c));
    assert_int_equal(count_type("m.call.negotiate"), 2);
    assert_non_null(strstr(str(nth("m.call.negotiate", 1), "description.sdp"), "a=sendrecv"));
    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"answer\",\"sdp\":\"v=0 a=sendrecv\"}}");
    assert_int_equal(fake_media_remote_sdps(call_media(c)), sdps + 2);
    /* A second answer is stray. */
    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"answer\",\"sdp\":\"v=0 a=sendrecv\"}}");
    assert_int_equal(fake_media_remote_sdps(call_media(c)), sdps + 2);
    call_hangup(c, CALL_REASON_USER_HANGUP);
    assert_int_equal(call_hold(c, true), EINVAL);
    mem_deref(c);
}

static void renegotiation_glare_the_callee_gives_way(void **state)
{
    /* We answered (we are the callee): their offer wins over our pending one. */
    struct call *c = connected_call();
    assert_int_equal(call_hold(c, true), 0);
    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"offer\",\"sdp\":\"v=0 a=sendrecv\"}}");
    assert_int_equal(count_type("m.call.negotiate"), 2);
    assert_string_equal(str(nth("m.call.negotiate", 1), "description.type"), "answer");
    assert_int_equal(call_hold(c, false), 0); /* ours was dropped: a new one may start */
    call_hangup(c, CALL_REASON_USER_HANGUP);
    mem_deref(c);

    /* We rang (we are the caller): we keep ours and ignore theirs. */
    reset_reports();
    c = ringing_call();
    feed(c, PEER, "m.call.answer",
         "{\"call_id\":\"%s\",\"party_id\":\"A\",\"version\":\"1\","
         "\"answer\":{\"type\":\"answer\",\"sdp\":\"v=0\"}}",
         call_id(c));
    fake_media_connected(call_media(c));
    assert_int_equal(call_hold(c, true), 0);
    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"%s\",\"party_id\":\"A\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"offer\",\"sdp\":\"v=0 a=sendrecv\"}}",
         call_id(c));
    assert_int_equal(count_type("m.call.negotiate"), 1); /* only our offer */
    feed(c, PEER, "m.call.negotiate",
         "{\"call_id\":\"%s\",\"party_id\":\"A\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"answer\",\"sdp\":\"v=0 a=recvonly\"}}",
         call_id(c));
    assert_int_equal(call_hold(c, false), 0);
    call_hangup(c, CALL_REASON_USER_HANGUP);
    mem_deref(c);
}

/* ---- failures ---- */

static void media_failure_hangs_up_ice_failed(void **state)
{
    static const enum media_failure fails[] = {MEDIA_FAIL_ICE, MEDIA_FAIL_DTLS,
                                               MEDIA_FAIL_FINGERPRINT};
    for (size_t i = 0; i < G_N_ELEMENTS(fails); i++) {
        reset_reports();
        struct call *c = answer_invite("v=0 offer");
        fake_media_gathering_done(fake_media_last);
        fake_media_fail(call_media(c), fails[i]);
        assert_int_equal(rep.ended, 1);
        assert_false(rep.by_remote);
        assert_int_equal(rep.reason, CALL_REASON_ICE_FAILED);
        assert_int_equal(count_type("m.call.hangup"), 1);
        assert_string_equal(str(nth("m.call.hangup", 0), "reason"), "ice_failed");
        assert_true(logged("call=c1", media_failure_name(fails[i])));
        mem_deref(c);
    }
}

static void consent_failure_hangs_up_ice_timeout(void **state)
{
    struct call *c = connected_call();
    fake_media_fail(call_media(c), MEDIA_FAIL_CONSENT);
    assert_int_equal(rep.ended, 1);
    assert_int_equal(rep.reason, CALL_REASON_ICE_TIMEOUT);
    assert_int_equal(count_type("m.call.hangup"), 1);
    assert_string_equal(str(nth("m.call.hangup", 0), "reason"), "ice_timeout");
    /* Later failures of the same media are not a second ending. */
    fake_media_fail(call_media(c), MEDIA_FAIL_ICE);
    assert_int_equal(rep.ended, 1);
    assert_int_equal(count_type("m.call.hangup"), 1);
    mem_deref(c);
}

static void peer_closing_its_media_waits_for_its_hangup(void **state)
{
    /* DTLS close_notify: the peer is hanging up; its m.call.hangup follows. */
    struct call *c = connected_call();
    fake_media_fail(call_media(c), MEDIA_FAIL_CLOSED);
    assert_int_equal(rep.ended, 0);
    assert_int_equal(count_type("m.call.hangup"), 0);
    run_for(100);
    assert_int_equal(rep.ended, 0);
    feed(c, PEER, "m.call.hangup",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"reason\":\"user_"
         "hangup\"}");
    assert_int_equal(rep.ended, 1);
    assert_true(rep.by_remote);
    assert_int_equal(rep.reason, CALL_REASON_USER_HANGUP);
    assert_int_equal(count_type("m.call.hangup"), 0);
    mem_deref(c);
}

static void media_timeout_after_media_stops(void **state)
{
    env.media_timeout_ms = 200;
    struct call *c = connected_call();
    fake_media_set_last_rx(call_media(c), (uint64_t)g_get_monotonic_time());
    assert_true(run_until(ended, NULL, WAIT));
    assert_int_equal(rep.reason, CALL_REASON_ICE_TIMEOUT);
    assert_false(rep.by_remote);
    assert_string_equal(str(nth("m.call.hangup", 0), "reason"), "ice_timeout");
    assert_true(logged("call=c1", "no media"));
    mem_deref(c);
}

static void media_timeout_when_media_never_came(void **state)
{
    /* Connected (ICE and DTLS done) but not one RTP or RTCP packet: as dead as a peer that
     * stopped. */
    env.media_timeout_ms = 200;
    struct call *c = connected_call();
    assert_true(run_until(ended, NULL, WAIT));
    assert_int_equal(rep.reason, CALL_REASON_ICE_TIMEOUT);
    assert_string_equal(str(nth("m.call.hangup", 0), "reason"), "ice_timeout");
    mem_deref(c);
}

static gboolean media_arrives(gpointer data)
{
    fake_media_set_last_rx(data, (uint64_t)g_get_monotonic_time());
    return G_SOURCE_CONTINUE;
}

static void media_flowing_keeps_the_call(void **state)
{
    env.media_timeout_ms = 200;
    struct call *c = connected_call();
    /* A packet every 20 ms through more than one watch period: the call stays. */
    guint t = g_timeout_add(20, media_arrives, call_media(c));
    assert_false(run_until(ended, NULL, 1500));
    g_source_remove(t);
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);
    call_hangup(c, CALL_REASON_USER_HANGUP);
    mem_deref(c);
}

/* ---- who may speak for the call ---- */

static void events_from_another_sender_are_ignored(void **state)
{
    struct call *c = connected_call();
    unsigned before = sent->len;
    feed(c, "@mallory:hs", "m.call.hangup",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"reason\":\"user_"
         "hangup\"}");
    feed(c, "@mallory:hs", "m.call.candidates",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"candidates\":"
         "[{\"candidate\":\"candidate:m 1 udp 9 6.6.6.6 666 typ host\",\"sdpMid\":\"0\"}]}");
    feed(c, "@mallory:hs", "m.call.negotiate",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":10000,"
         "\"description\":{\"type\":\"offer\",\"sdp\":\"v=0 a=inactive\"}}");
    feed(c, "@mallory:hs", "m.call.select_answer",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\","
         "\"selected_party_id\":\"ELSEWHERE\"}");
    assert_int_equal(rep.ended, 0);
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);
    assert_int_equal(fake_media_remote_count(call_media(c)), 0);
    assert_false(call_is_held(c));
    assert_int_equal(sent->len, before);
    assert_true(logged("call=c1", "@mallory:hs"));

    /* Another device of the peer, once PEERDEV is the call, neither. */
    feed(c, PEER, "m.call.hangup",
         "{\"call_id\":\"c1\",\"party_id\":\"OTHERDEV\",\"version\":\"1\",\"reason\":\"user_"
         "hangup\"}");
    assert_int_equal(rep.ended, 0);
    /* A duplicate invite neither. */
    feed(c, PEER, "m.call.invite",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":60000,"
         "\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"}}");
    assert_int_equal(sent->len, before);
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);
    call_hangup(c, CALL_REASON_USER_HANGUP);
    mem_deref(c);
}

static void select_answer_of_another_party_ends_quietly(void **state)
{
    struct call *c = answer_invite("v=0 offer");
    fake_media_gathering_done(fake_media_last);
    assert_int_equal(count_type("m.call.answer"), 1);
    /* Selecting us is the normal case. */
    feed(c, PEER, "m.call.select_answer",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\","
         "\"selected_party_id\":\"" OURS "\"}");
    assert_int_equal(rep.ended, 0);
    call_hangup(c, CALL_REASON_USER_HANGUP);
    mem_deref(c);

    reset_reports();
    c = answer_invite("v=0 offer");
    fake_media_gathering_done(fake_media_last);
    feed(c, PEER, "m.call.select_answer",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\","
         "\"selected_party_id\":\"SOMEONEELSE\"}");
    assert_int_equal(rep.ended, 1);
    assert_true(rep.by_remote);
    assert_int_equal(rep.reason, CALL_REASON_NONE);
    assert_int_equal(count_type("m.call.hangup"), 0); /* answered elsewhere: not ours to end */
    assert_true(fake_media_closed(call_media(c)));
    mem_deref(c);
}

static void version_0_peer(void **state)
{
    struct in in;
    decode(&in, "m.call.invite",
           "{\"call_id\":\"v0call\",\"version\":0,\"lifetime\":60000,"
           "\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0 offer\"}}");
    assert_null(in.ev.party_id);
    struct call *c = NULL;
    char err[256];
    assert_int_equal(call_answer(&c, &env, ROOM, PEER, &in.ev, &handlers, NULL, err, sizeof(err)),
                     0);
    in_free(&in);
    fake_media_gathering_done(fake_media_last);
    assert_int_equal(count_type("m.call.answer"), 1);
    assert_string_equal(str(nth("m.call.answer", 0), "call_id"), "v0call");

    feed(c, PEER, "m.call.candidates",
         "{\"call_id\":\"v0call\",\"version\":0,\"candidates\":"
         "[{\"candidate\":\"candidate:v 1 udp 9 127.0.0.1 6000 typ host\",\"sdpMid\":\"0\","
         "\"sdpMLineIndex\":0}]}");
    assert_int_equal(fake_media_remote_count(call_media(c)), 1);
    fake_media_connected(call_media(c));
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);

    feed(c, PEER, "m.call.hangup", "{\"call_id\":\"v0call\",\"version\":0}");
    assert_int_equal(rep.ended, 1);
    assert_true(rep.by_remote);
    assert_int_equal(rep.reason, CALL_REASON_NONE);
    assert_int_equal(count_type("m.call.hangup"), 0);
    mem_deref(c);
}

static void malformed_candidates_are_skipped(void **state)
{
    struct call *c = connected_call();
    feed(c, PEER, "m.call.candidates",
         "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"candidates\":"
         "[{\"candidate\":\"garbage\",\"sdpMid\":\"0\"},"
         "{\"candidate\":\"candidate:ok 1 udp 9 127.0.0.1 6000 typ host\",\"sdpMid\":\"0\"}]}");
    assert_int_equal(fake_media_remote_count(call_media(c)), 1);
    assert_true(logged("call=c1", "malformed candidate"));
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);
    call_hangup(c, CALL_REASON_USER_HANGUP);
    assert_string_equal(str(nth("m.call.hangup", 0), "reason"), "user_hangup");
    mem_deref(c);
}

static void send_failures_are_logged_not_fatal(void **state)
{
    struct call *c = answer_invite("v=0 offer");
    send_error = EAGAIN;
    fake_media_gathering_done(fake_media_last); /* the answer cannot be queued */
    assert_true(logged("call=c1", "could not queue m.call.answer"));
    send_error = 0;
    fake_media_connected(call_media(c));
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);
    call_hangup(c, CALL_REASON_USER_HANGUP);
    assert_int_equal(count_type("m.call.hangup"), 1);
    mem_deref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(answer_waits_for_gathering_and_carries_candidates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(answer_after_gather_wait_then_trickles_in_batches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unanswerable_offer_is_hung_up, setup, teardown),
        cmocka_unit_test_setup_teardown(ring_unanswered_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(ring_answer_selects_party_and_applies_its_early_candidates,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(reject_while_ringing_ends_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(hangup_while_ringing_ends_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(hangup_from_the_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(negotiate_offer_is_answered_and_hold_detected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(negotiate_answer_waits_for_gathering, setup, teardown),
        cmocka_unit_test_setup_teardown(our_hold_and_resume_renegotiate, setup, teardown),
        cmocka_unit_test_setup_teardown(renegotiation_glare_the_callee_gives_way, setup, teardown),
        cmocka_unit_test_setup_teardown(media_failure_hangs_up_ice_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(consent_failure_hangs_up_ice_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(peer_closing_its_media_waits_for_its_hangup, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(media_timeout_after_media_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(media_timeout_when_media_never_came, setup, teardown),
        cmocka_unit_test_setup_teardown(media_flowing_keeps_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(events_from_another_sender_are_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(select_answer_of_another_party_ends_quietly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(version_0_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_candidates_are_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(send_failures_are_logged_not_fatal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
