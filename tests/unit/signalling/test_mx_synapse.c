/*
 * The Matrix client against what Synapse does and the development homeserver used not to: a
 * room joined since the last batch always arrives "limited" (with our own join event twice in
 * its timeline), a saved sync token Synapse does not know is refused with 400 M_UNKNOWN
 * "Invalid stream token", the default rc_message lets a bot send only bursts of 10 events
 * before every send is answered 429, and each send into a busy room takes 100 ms and more, so
 * that answering a room's callers one after another adds up to seconds; logins from one address
 * beyond 3 are answered 429 too. The scripted homeserver (fake_hs.h) plays those answers; the
 * harness is mx_test_util.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "fake_hs.h"
#include "mx_test_util.h"
#include "signalling/mx_client.h"

#define LIMITED_LINE "timeline was limited"

/* Our join as Synapse sends it in the first batch of a room: twice (synapse#9768). */
#define OWN_JOIN                                                                                   \
    "{'type':'m.room.member','state_key':'@bot:hs','sender':'@bot:hs','event_id':'$j',"            \
    "'content':{'membership':'join'}}"

static void test_newly_joined_room_limited_is_no_gap(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", "{'next_batch':'s1','rooms':{'invite':{'!i:hs':{'invite_state':{'events':["
                 "{'type':'m.room.member','state_key':'@bot:hs','sender':'@alice:hs',"
                 "'content':{'membership':'invite'}}]}}}}}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);

    /* Joined after an invite, and one joined without one (created by us): both limited. */
    hs_batch("s1", "{'next_batch':'s2','rooms':{'join':{"
                   "'!i:hs':{'state':{'events':[{'type':'m.room.member','state_key':'@alice:hs',"
                   "'sender':'@alice:hs','content':{'membership':'join'}}]},"
                   "'timeline':{'limited':true,'events':[" OWN_JOIN "," OWN_JOIN "]}},"
                   "'!d:hs':{'timeline':{'limited':true,'events':[" OWN_JOIN "]}}}}}");
    wait_synced(&t, 2);
    assert_int_equal(occurrences(logged->str, LIMITED_LINE), 0);
    assert_int_equal(hs_count("GET", "/messages"), 0); /* nothing to fetch: no gap */
    assert_int_equal(mx_room_membership(t.mx, "!i:hs", BOT), MX_MEMBERSHIP_JOIN);
    assert_int_equal(mx_room_joined_count(t.mx, "!i:hs"), 2);
    assert_int_equal(mx_room_membership(t.mx, "!d:hs", BOT), MX_MEMBERSHIP_JOIN);

    /* A gap in a room we were already following is worth the warning, once per gap. */
    hs_batch("s2", "{'next_batch':'s3','rooms':{'join':{'!i:hs':{'timeline':{'limited':true,"
                   "'events':[{'type':'m.room.message','event_id':'$m','sender':'@alice:hs',"
                   "'content':{}}]}}}}}");
    wait_synced(&t, 3);
    assert_int_equal(occurrences(logged->str, LIMITED_LINE), 1);
    assert_non_null(strstr(logged->str, "room=!i:hs"));
    tc_free(&t);
}

static void write_token_file(const char *tok)
{
    char *p = g_build_filename(state_dir, "sync_token", NULL);
    assert_true(g_file_set_contents(p, tok, -1, NULL));
    g_free(p);
}

static bool token_file_is_s1(void *arg)
{
    (void)arg;
    char *d = read_token_file();
    bool ok = d && strcmp(d, "s1\n") == 0;
    g_free(d);
    return ok;
}

static void test_refused_token_starts_afresh(void **state)
{
    write_token_file("s42_7_0_1_1_1_1_10_0\n"); /* a token of some other homeserver */
    struct mx_client_cfg cfg = {.state_dir = state_dir, .sync_backoff_ms = 50};
    struct tc t;
    tc_init(&t, &cfg);
    hs_rule("GET", "/sync", 400, "{'errcode':'M_UNKNOWN','error':'Invalid stream token'}", 2);
    hs_batch("", "{'next_batch':'s1','rooms':{'join':{'!r:hs':{'timeline':{'events':["
                 "{'type':'m.room.message','event_id':'$old','sender':'@alice:hs',"
                 "'content':{'msgtype':'m.text','body':'!call'}}]}}}}}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);

    /* The filter is suspected first (uploaded again), then the token is dropped. */
    GPtrArray *all = hs_reqs(NULL, NULL);
    assert_true(all->len >= 5);
    assert_non_null(strstr(HS_REQ(all, 0)->path, "/filter"));
    assert_string_equal(HS_REQ(all, 1)->since, "s42_7_0_1_1_1_1_10_0");
    assert_non_null(strstr(HS_REQ(all, 2)->path, "/filter"));
    assert_string_equal(HS_REQ(all, 3)->since, "s42_7_0_1_1_1_1_10_0");
    assert_non_null(strstr(HS_REQ(all, 4)->path, "/sync"));
    assert_null(HS_REQ(all, 4)->since);
    assert_string_equal(HS_REQ(all, 4)->timeout, "0");
    g_ptr_array_unref(all);
    assert_int_equal(occurrences(logged->str, "refuses our sync token"), 1);

    /* What arrives then is history, as on any first start, and its token replaces the bad one. */
    assert_int_equal(t.synced_initial, 1);
    assert_int_equal(t.events->len, 1);
    assert_true(SEEN(&t, 0)->initial);
    assert_true(run_until(token_file_is_s1, NULL, 5000));
    tc_free(&t);
}

static void test_refused_initial_sync_keeps_backing_off(void **state)
{
    /* Without a saved token there is nothing to drop: a homeserver refusing every /sync is
     * asked again after a backoff, with the filter uploaded again, and never in a tight loop. */
    struct mx_client_cfg cfg = {.sync_backoff_ms = 100};
    struct tc t;
    tc_init(&t, &cfg);
    hs_rule("GET", "/sync", 400, "{'errcode':'M_UNKNOWN','error':'no'}", 3);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    GPtrArray *syncs = hs_reqs("GET", "/sync");
    assert_int_equal(syncs->len, 4);
    assert_true(hs_gap_ms(syncs, 1) >= 70);
    assert_true(hs_gap_ms(syncs, 2) >= 145);
    g_ptr_array_unref(syncs);
    assert_int_equal(hs_count("POST", "/filter"), 4);
    assert_int_equal(occurrences(logged->str, "refuses our sync token"), 0);
    tc_free(&t);
}

static void test_refused_filter_then_accepted_keeps_token(void **state)
{
    /* A homeserver that only lost our filter ("No such filter") keeps our place in the stream. */
    write_token_file("s7\n");
    struct mx_client_cfg cfg = {.state_dir = state_dir, .sync_backoff_ms = 50};
    struct tc t;
    tc_init(&t, &cfg);
    hs_rule("GET", "/sync", 400, "{'errcode':'M_INVALID_PARAM','error':'No such filter'}", 1);
    hs_batch("s7", "{'next_batch':'s8','rooms':{'join':{'!r:hs':{'timeline':{'events':["
                   "{'type':'m.room.message','event_id':'$new','sender':'@alice:hs',"
                   "'content':{}}]}}}}}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    assert_int_equal(t.synced_initial, 0);
    assert_false(SEEN(&t, 0)->initial);
    assert_int_equal(hs_count("POST", "/filter"), 2);
    assert_int_equal(occurrences(logged->str, "refuses our sync token"), 0);

    /* A later refusal starts the count again: one refusal is never enough to drop the token. */
    hs_rule("GET", "/sync", 400, "{'errcode':'M_INVALID_PARAM','error':'No such filter'}", 1);
    hs_batch("s8", "{'next_batch':'s9'}");
    wait_synced(&t, 2);
    assert_int_equal(t.synced_initial, 0);
    assert_int_equal(occurrences(logged->str, "refuses our sync token"), 0);
    tc_free(&t);
}

static void test_rate_limit_hint_once(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("PUT", "/send/", 429, "{'errcode':'M_LIMIT_EXCEEDED','retry_after_ms':150}", 3);
    for (int i = 0; i < 2; i++) {
        json_t *c = content("{'call_id':'c1','version':'1'}");
        const char *room = i ? "!b:hs" : "!a:hs";
        assert_int_equal(
            mx_send_event(t.mx, room, "m.call.answer", c, on_done, (void *)(intptr_t)i), 0);
        json_decref(c);
    }
    assert_true(run_until(done_at_least, (void *)2, 5000));
    assert_int_equal(D.err[0], 0);
    assert_int_equal(D.err[1], 0);
    assert_int_equal(hs_count("PUT", "/send/"), 5);
    assert_int_equal(occurrences(logged->str, "override_ratelimit"), 1);
    assert_non_null(strstr(logged->str, "rate-limits " BOT));
    tc_free(&t);
}

static void send_in(struct tc *t, const char *type, const char *json, int order)
{
    json_t *c = content(json);
    assert_int_equal(mx_send_event(t->mx, "!r:hs", type, c, on_done, (void *)(intptr_t)order), 0);
    json_decref(c);
}

static void test_calls_in_one_room_do_not_wait_for_each_other(void **state)
{
    /* Everyone in a room calls at once: each answer must not wait for the others' round trips
     * (on Synapse 100 ms and more each), while each call keeps its own order. */
    struct tc t;
    tc_init(&t, NULL);
    struct hs_rule *stuck = hs_rule("PUT", "/send/m.call.invite/", 503, "{}", -1);
    send_in(&t, "m.call.invite", "{'call_id':'A','version':'1'}", 0);
    send_in(&t, "m.call.candidates", "{'call_id':'A','version':'1','candidates':[]}", 1);
    struct hs_at_least retrying = {"PUT", "/send/m.call.invite/", 2};
    assert_true(run_until(hs_reqs_at_least, &retrying, 5000));
    send_in(&t, "m.call.answer", "{'call_id':'B','version':'1'}", 2);
    send_in(&t, "m.call.candidates", "{'call_id':'B','version':'1','candidates':[]}", 3);
    send_in(&t, "m.room.message", "{'msgtype':'m.notice','body':'hi'}", 4);
    assert_true(run_until(done_at_least, (void *)3, 5000));
    /* B's answer, then its candidates; the notice in between or around them. */
    int pos[5] = {-1, -1, -1, -1, -1};
    for (int i = 0; i < 3; i++)
        pos[D.order[i]] = i;
    assert_true(pos[2] >= 0 && pos[3] >= 0 && pos[4] >= 0);
    assert_true(pos[2] < pos[3]);
    assert_int_equal(hs_count("PUT", "/send/m.call.candidates/"), 1); /* not A's yet */
    assert_int_equal(mx_client_pending_sends(t.mx), 2);

    hs_rule_set_remaining(stuck, 0);
    assert_true(run_until(done_at_least, (void *)5, 5000));
    assert_int_equal(D.order[3], 0);
    assert_int_equal(D.order[4], 1);
    for (int i = 0; i < 5; i++)
        assert_int_equal(D.err[i], 0);
    GPtrArray *cands = hs_reqs("PUT", "/send/m.call.candidates/");
    assert_int_equal(cands->len, 2);
    assert_non_null(strstr(HS_REQ(cands, 1)->body, "\"A\""));
    g_ptr_array_unref(cands);
    tc_free(&t);
}

static void test_login_waits_out_rate_limit(void **state)
{
    /* Synapse's rc_login: 3 logins from one address, then 429 with retry_after_ms. */
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("POST", "/login", 429, "{'errcode':'M_LIMIT_EXCEEDED','retry_after_ms':200}", 2);
    hs_rule("POST", "/login", 200, "{'access_token':'tok2','device_id':'DEV2','user_id':'@u:hs'}",
            1);
    hs_rule("POST", "/login", 500, "{'errcode':'M_UNKNOWN'}", 1);
    char *hs = hs_url();
    assert_int_equal(mx_login_password(t.http, hs, "u", "hunter2", on_done, (void *)0), 0);
    assert_true(run_until(done_at_least, (void *)1, 5000));
    assert_int_equal(D.err[0], 0);
    assert_string_equal(json_string_value(json_object_get(D.body[0], "access_token")), "tok2");
    GPtrArray *l = hs_reqs("POST", "/login");
    assert_int_equal(l->len, 3);
    assert_true(hs_gap_ms(l, 1) >= 150);
    assert_true(hs_gap_ms(l, 2) >= 150);
    g_ptr_array_unref(l);

    /* Anything else is final: the login may have happened, and a retry would make a device. */
    assert_int_equal(mx_login_password(t.http, hs, "u", "hunter2", on_done, (void *)1), 0);
    assert_true(run_until(done_at_least, (void *)2, 5000));
    assert_int_equal(D.err[1], EPROTO);
    assert_int_equal(hs_count("POST", "/login"), 4);
    assert_null(strstr(logged->str, "hunter2"));
    g_free(hs);
    tc_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_newly_joined_room_limited_is_no_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_token_starts_afresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_initial_sync_keeps_backing_off, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_filter_then_accepted_keeps_token, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_hint_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_calls_in_one_room_do_not_wait_for_each_other, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_login_waits_out_rate_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
