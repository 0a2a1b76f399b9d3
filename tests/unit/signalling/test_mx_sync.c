/*
 * The Matrix client's sync side against the scripted homeserver (fake_hs.h): the filter upload
 * and the /sync loop, dispatch order and the room model each event sees, malformed and hostile
 * batches, invites / joins / leaves, the saved sync token, and how /sync failures back off,
 * wait or recover. The harness is mx_test_util.h.
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

static void test_filter_then_sync(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    struct hs_at_least c3 = {"GET", "/sync", 2};
    assert_true(run_until(hs_reqs_at_least, &c3, 5000));

    GPtrArray *all = hs_reqs(NULL, NULL);
    assert_true(all->len >= 3);
    struct hs_req *f = HS_REQ(all, 0);
    assert_string_equal(f->method, "POST");
    assert_string_equal(f->path, "/_matrix/client/v3/user/" BOT "/filter");
    assert_string_equal(f->auth, "Bearer " TOKEN);
    json_t *fj = json_loads(f->body, 0, NULL);
    assert_non_null(fj);
    json_t *room = json_object_get(fj, "room");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(room, "timeline"), "limit")), 100);
    assert_true(
        json_is_false(json_object_get(json_object_get(room, "state"), "lazy_load_members")));
    json_decref(fj);

    struct hs_req *s1 = HS_REQ(all, 1);
    assert_string_equal(s1->method, "GET");
    assert_string_equal(s1->path, "/_matrix/client/v3/sync");
    assert_string_equal(s1->filter, "f1");
    assert_null(s1->since);
    assert_string_equal(s1->timeout, "0");
    assert_string_equal(s1->auth, "Bearer " TOKEN);
    struct hs_req *s2 = HS_REQ(all, 2);
    assert_string_equal(s2->path, "/_matrix/client/v3/sync");
    assert_string_equal(s2->since, "s1");
    assert_string_equal(s2->filter, "f1");
    assert_string_equal(s2->timeout, "200");
    g_ptr_array_unref(all);

    assert_int_equal(t.synced_initial, 1);
    assert_string_equal(mx_client_user_id(t.mx), BOT);
    tc_free(&t);
}

static const char ROOM_BATCH1[] =
    "{'next_batch':'s1','rooms':{'join':{'!r:hs':{"
    "'state':{'events':["
    "{'type':'m.room.create','state_key':'','sender':'@alice:hs','content':{}},"
    "{'type':'m.room.member','state_key':'@alice:hs','sender':'@alice:hs',"
    "'content':{'membership':'join'}},"
    "{'type':'m.room.member','state_key':'@bot:hs','sender':'@bot:hs',"
    "'content':{'membership':'join'}}]},"
    "'timeline':{'limited':true,'events':["
    "{'type':'m.room.name','state_key':'','event_id':'$e1','sender':'@alice:hs',"
    "'content':{'name':'Room'}},"
    "{'type':'m.room.member','state_key':'@bob:hs','event_id':'$e2','sender':'@bob:hs',"
    "'content':{'membership':'join'}},"
    "42,"
    "{'event_id':'$notype','content':{}},"
    "{'type':'m.room.member','state_key':'not-a-user','event_id':'$bad','sender':'@x:hs',"
    "'content':{'membership':'join'}},"
    "{'type':'m.room.encryption','state_key':'','event_id':'$e3','sender':'@alice:hs',"
    "'content':{'algorithm':'m.megolm.v1.aes-sha2'}},"
    "{'type':'m.room.message','event_id':'$e4','sender':'@alice:hs',"
    "'content':{'msgtype':'m.text','body':'hi'}},"
    "{'type':'m.room.member','state_key':'@alice:hs','event_id':'$e5','sender':'@alice:hs',"
    "'content':{'membership':'leave'}}]}}, "
    "'bad-room-id':{'timeline':{'events':[{'type':'x','event_id':'$never'}]}}}}}";

static const char ROOM_BATCH2[] =
    "{'next_batch':'s2','rooms':{'join':{'!r:hs':{'timeline':{'events':["
    "{'type':'m.room.member','state_key':'@carol:hs','event_id':'$e6','sender':'@carol:hs',"
    "'content':{'membership':'join'}}]}}}}}";

static void test_dispatch_order_and_model(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", ROOM_BATCH1);
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);

    assert_int_equal(t.events->len, 6);
    const char *ids[] = {"$e1", "$e2", "$bad", "$e3", "$e4", "$e5"};
    for (unsigned i = 0; i < 6; i++) {
        assert_string_equal(SEEN(&t, i)->event_id, ids[i]);
        assert_string_equal(SEEN(&t, i)->room, "!r:hs");
        assert_true(SEEN(&t, i)->initial);
    }
    /* Each event saw the model with itself applied. */
    assert_string_equal(SEEN(&t, 0)->name, "Room");
    assert_int_equal(SEEN(&t, 0)->joined, 2);
    assert_false(SEEN(&t, 0)->encrypted);
    assert_int_equal(SEEN(&t, 1)->joined, 3);
    assert_int_equal(SEEN(&t, 1)->skey_membership, MX_MEMBERSHIP_JOIN);
    assert_int_equal(SEEN(&t, 2)->joined, 3); /* the bad member event changed nothing */
    assert_true(SEEN(&t, 3)->encrypted);
    assert_string_equal(SEEN(&t, 4)->type, "m.room.message");
    assert_int_equal(SEEN(&t, 5)->joined, 2);
    assert_int_equal(SEEN(&t, 5)->skey_membership, MX_MEMBERSHIP_LEAVE);

    assert_int_equal(mx_room_membership(t.mx, "!r:hs", BOT), MX_MEMBERSHIP_JOIN);
    assert_int_equal(mx_room_membership(t.mx, "!r:hs", "@alice:hs"), MX_MEMBERSHIP_LEAVE);
    assert_int_equal(mx_room_membership(t.mx, "!r:hs", "@nobody:hs"), MX_MEMBERSHIP_NONE);
    assert_int_equal(mx_room_membership(t.mx, "!unknown:hs", BOT), MX_MEMBERSHIP_NONE);
    assert_int_equal(mx_room_joined_count(t.mx, "!unknown:hs"), 0);
    assert_null(mx_room_name(t.mx, "!unknown:hs"));
    const char *others[4];
    assert_int_equal(mx_room_joined_others(t.mx, "!r:hs", others, 4), 1);
    assert_string_equal(others[0], "@bob:hs");
    assert_int_equal(mx_room_joined_count(t.mx, "bad-room-id"), 0);

    hs_batch("s1", ROOM_BATCH2);
    wait_synced(&t, 2);
    assert_int_equal(t.events->len, 7);
    assert_string_equal(SEEN(&t, 6)->event_id, "$e6");
    assert_false(SEEN(&t, 6)->initial);
    assert_int_equal(SEEN(&t, 6)->joined, 3);
    assert_int_equal(mx_room_joined_others(t.mx, "!r:hs", others, 4), 2);
    assert_string_equal(others[0], "@bob:hs");
    assert_string_equal(others[1], "@carol:hs");
    /* cap smaller than the count: fills cap, reports all */
    assert_int_equal(mx_room_joined_others(t.mx, "!r:hs", others, 1), 2);
    assert_int_equal(t.synced_initial, 1);
    tc_free(&t);
}

static void test_malformed_batches(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", "{'next_batch':7}");
    hs_rule("GET", "/sync", 200, "[1,2]", 1);
    hs_rule("GET", "/sync", 200, "{'next_batch':'bad token'}", 1);
    assert_int_equal(mx_client_start(t.mx), 0);
    struct hs_at_least three = {"GET", "/sync", 3};
    assert_true(run_until(hs_reqs_at_least, &three, 5000));
    assert_int_equal(t.synced, 0);
    assert_non_null(strstr(logged->str, "malformed /sync response"));

    hs_batch("", "{'next_batch':'s1','rooms':{'join':[],'invite':'x','leave':5}}");
    wait_synced(&t, 1);
    hs_batch("s1", "{'next_batch':'s2','rooms':{'join':{"
                   "'!a:hs':5,"
                   "'!b:hs':{'state':{'events':{}},'timeline':{'events':'no'}},"
                   "'!c:hs':{'state':{'events':[1,null,{'type':'m.room.member','state_key':'@u:hs',"
                   "'content':{'membership':5}},{'type':'m.room.name','state_key':'',"
                   "'content':{'name':7}},{'type':'m.room.member','state_key':'@v:hs',"
                   "'content':'str'},{'type':'m.room.encryption','state_key':'x',"
                   "'content':{'algorithm':'y'}}]},"
                   "'timeline':{'events':[{'type':'m.room.member','state_key':'@w:hs',"
                   "'content':{'membership':'dance'},'event_id':'$w'}]}}},"
                   "'invite':{'!d:hs':{'invite_state':{'events':[{'type':'m.room.member',"
                   "'state_key':'@bot:hs','content':{'membership':'invite'},'sender':'nobody'}]}},"
                   "'!e:hs':{}}}}");
    wait_synced(&t, 2);
    assert_int_equal(t.invites->len, 0);
    assert_int_equal(t.events->len, 1);
    assert_int_equal(mx_room_joined_count(t.mx, "!c:hs"), 1); /* only ourselves */
    assert_null(mx_room_name(t.mx, "!c:hs"));
    assert_false(mx_room_is_encrypted(t.mx, "!c:hs"));
    assert_int_equal(mx_room_membership(t.mx, "!c:hs", "@w:hs"), MX_MEMBERSHIP_NONE);
    assert_int_equal(mx_room_joined_count(t.mx, "!b:hs"), 1);
    tc_free(&t);
}

static void test_invite_join_leave(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", "{'next_batch':'s1','rooms':{'invite':{'!i:hs':{'invite_state':{'events':["
                 "{'type':'m.room.name','state_key':'','sender':'@alice:hs',"
                 "'content':{'name':'Invited'}},"
                 "{'type':'m.room.member','state_key':'@bot:hs','sender':'@alice:hs',"
                 "'content':{'membership':'invite'}}]}}}}}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    assert_int_equal(t.invites->len, 1);
    assert_string_equal(g_ptr_array_index(t.invites, 0), "!i:hs|@alice:hs|1");
    assert_int_equal(mx_room_membership(t.mx, "!i:hs", BOT), MX_MEMBERSHIP_INVITE);
    assert_string_equal(mx_room_name(t.mx, "!i:hs"), "Invited");
    assert_int_equal(mx_room_joined_count(t.mx, "!i:hs"), 0);

    hs_batch("s1", "{'next_batch':'s2','rooms':{'join':{'!i:hs':{'state':{'events':["
                   "{'type':'m.room.member','state_key':'@alice:hs','sender':'@alice:hs',"
                   "'content':{'membership':'join'}}]},"
                   "'timeline':{'events':["
                   "{'type':'m.room.member','state_key':'@bot:hs','sender':'@bot:hs',"
                   "'event_id':'$j','content':{'membership':'join'}}]}}}}}");
    wait_synced(&t, 2);
    assert_int_equal(mx_room_membership(t.mx, "!i:hs", BOT), MX_MEMBERSHIP_JOIN);
    assert_int_equal(mx_room_joined_count(t.mx, "!i:hs"), 2);
    assert_int_equal(t.events->len, 1);
    assert_int_equal(SEEN(&t, 0)->joined, 2);
    assert_int_equal(t.invites->len, 1);

    hs_batch("s2", "{'next_batch':'s3','rooms':{'leave':{'!i:hs':{'timeline':{'events':["
                   "{'type':'m.room.member','state_key':'@bot:hs','sender':'@alice:hs',"
                   "'event_id':'$k','content':{'membership':'leave'}}]}},"
                   "'!never-known:hs':{}}}}");
    wait_synced(&t, 3);
    assert_int_equal(t.lefts->len, 1);
    assert_string_equal(g_ptr_array_index(t.lefts, 0), "!i:hs");
    assert_int_equal(mx_room_membership(t.mx, "!i:hs", BOT), MX_MEMBERSHIP_NONE);
    assert_int_equal(mx_room_joined_count(t.mx, "!i:hs"), 0);
    assert_int_equal(t.events->len, 1); /* a left room's timeline is not dispatched */
    tc_free(&t);
}

struct file_is {
    const char *want;
};

static bool token_file_is(void *arg)
{
    char *d = read_token_file();
    bool ok = d && strcmp(d, ((struct file_is *)arg)->want) == 0;
    g_free(d);
    return ok;
}

static void test_resume_from_saved_token(void **state)
{
    struct mx_client_cfg cfg = {.state_dir = state_dir};
    struct tc t1, t2;
    tc_init(&t1, &cfg);
    hs_batch("", "{'next_batch':'s1','rooms':{'join':{'!r:hs':{'timeline':{'events':["
                 "{'type':'m.room.message','event_id':'$a1','sender':'@alice:hs',"
                 "'content':{}}]}}}}}");
    hs_batch("s1", "{'next_batch':'s2','rooms':{'join':{'!r:hs':{'timeline':{'events':["
                   "{'type':'m.room.message','event_id':'$a2','sender':'@alice:hs',"
                   "'content':{}}]}}}}}");
    assert_int_equal(mx_client_start(t1.mx), 0);
    wait_synced(&t1, 2);
    struct file_is f = {"s2\n"};
    assert_true(token_file_is(&f)); /* saved before the next /sync went out */
    /* ...and only after the batch was handled */
    assert_null(t1.file_at_synced[0]);
    assert_string_equal(t1.file_at_synced[1], "s1\n");
    assert_int_equal(t1.events->len, 2);
    assert_true(SEEN(&t1, 0)->initial);
    assert_false(SEEN(&t1, 1)->initial);
    tc_free(&t1);

    unsigned syncs_before = hs_count("GET", "/sync");
    hs_batch("s2", "{'next_batch':'s3','rooms':{'join':{'!r:hs':{'timeline':{'events':["
                   "{'type':'m.room.message','event_id':'$a3','sender':'@alice:hs',"
                   "'content':{}}]}}}}}");
    tc_init(&t2, &cfg);
    assert_int_equal(mx_client_start(t2.mx), 0);
    wait_synced(&t2, 1);
    assert_int_equal(t2.events->len, 1);
    assert_string_equal(SEEN(&t2, 0)->event_id, "$a3");
    assert_false(SEEN(&t2, 0)->initial);
    assert_int_equal(t2.synced_initial, 0);
    GPtrArray *syncs = hs_reqs("GET", "/sync");
    assert_true(syncs->len > syncs_before);
    assert_string_equal(HS_REQ(syncs, syncs_before)->since, "s2");
    g_ptr_array_unref(syncs);
    f.want = "s3\n";
    assert_true(run_until(token_file_is, &f, 5000));
    /* No temporary file left behind by the atomic write. */
    GDir *dir = g_dir_open(state_dir, 0, NULL);
    assert_non_null(dir);
    for (const char *name; (name = g_dir_read_name(dir));)
        assert_false(g_str_has_prefix(name, "sync_token.tmp"));
    g_dir_close(dir);
    tc_free(&t2);
}

static void test_corrupt_token_file_ignored(void **state)
{
    char *p = g_build_filename(state_dir, "sync_token", NULL);
    assert_true(g_file_set_contents(p, "bad token\x01", -1, NULL));
    g_free(p);
    struct mx_client_cfg cfg = {.state_dir = state_dir};
    struct tc t;
    tc_init(&t, &cfg);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    assert_int_equal(t.synced_initial, 1);
    assert_non_null(strstr(logged->str, "does not hold a valid sync token"));
    tc_free(&t);
}

static void test_sync_backoff_and_recovery(void **state)
{
    struct mx_client_cfg cfg = {.sync_backoff_ms = 100};
    struct tc t;
    tc_init(&t, &cfg);
    hs_rule("GET", "/sync", 500, "{'errcode':'M_UNKNOWN'}", 3);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    GPtrArray *syncs = hs_reqs("GET", "/sync");
    assert_true(syncs->len >= 4);
    /* 100, 200, 400 ms nominal, each +-25 % */
    assert_true(hs_gap_ms(syncs, 1) >= 70);
    assert_true(hs_gap_ms(syncs, 2) >= 145);
    assert_true(hs_gap_ms(syncs, 3) >= 295);
    assert_true(hs_gap_ms(syncs, 3) < 3000);
    assert_null(HS_REQ(syncs, 3)->since); /* still the initial sync */
    g_ptr_array_unref(syncs);
    assert_int_equal(occurrences(logged->str, "homeserver unreachable"), 1);
    assert_int_equal(occurrences(logged->str, "homeserver reachable again"), 1);
    assert_int_equal(t.synced_initial, 1);

    /* Later, a gateway error with a body that is not JSON: one more "unreachable", one more
     * recovery, however many attempts failed in between. */
    struct hs_rule *r = hs_rule("GET", "/sync", 502, "not json", -1);
    struct hs_at_least more = {"GET", "/sync", hs_count("GET", "/sync") + 2};
    assert_true(run_until(hs_reqs_at_least, &more, 5000));
    hs_rule_set_remaining(r, 0);
    hs_batch("s1", "{'next_batch':'s2'}");
    wait_synced(&t, 2);
    assert_int_equal(occurrences(logged->str, "homeserver unreachable"), 2);
    assert_int_equal(occurrences(logged->str, "homeserver reachable again"), 2);
    tc_free(&t);
}

static void test_sync_unknown_token_waits(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("GET", "/sync", 401, "{'errcode':'M_UNKNOWN_TOKEN','error':'bad token'}", -1);
    assert_int_equal(mx_client_start(t.mx), 0);
    struct hs_at_least one = {"GET", "/sync", 1};
    assert_true(run_until(hs_reqs_at_least, &one, 5000));
    /* No busy loop: within a generous window, no second attempt. */
    struct hs_at_least two = {"GET", "/sync", 2};
    assert_false(run_until(hs_reqs_at_least, &two, 400));
    assert_non_null(strstr(logged->str, "rejected the access token"));
    assert_non_null(strstr(logged->str, "retrying in 60 s"));
    mx_client_stop(t.mx);
    tc_free(&t);
}

static void test_sync_429(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("GET", "/sync", 429, "{'errcode':'M_LIMIT_EXCEEDED','retry_after_ms':300}", 1);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    GPtrArray *syncs = hs_reqs("GET", "/sync");
    assert_true(hs_gap_ms(syncs, 1) >= 250);
    g_ptr_array_unref(syncs);
    tc_free(&t);
}

static void test_sync_refused_uploads_filter_again(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("GET", "/sync", 400, "{'errcode':'M_INVALID_PARAM','error':'unknown filter'}", 1);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    GPtrArray *all = hs_reqs(NULL, NULL);
    assert_true(all->len >= 4);
    assert_non_null(strstr(HS_REQ(all, 0)->path, "/filter"));
    assert_non_null(strstr(HS_REQ(all, 1)->path, "/sync"));
    assert_non_null(strstr(HS_REQ(all, 2)->path, "/filter"));
    assert_non_null(strstr(HS_REQ(all, 3)->path, "/sync"));
    g_ptr_array_unref(all);
    assert_int_equal(occurrences(logged->str, "homeserver refuses /sync"), 1);
    tc_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_filter_then_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_order_and_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invite_join_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_from_saved_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_token_file_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_backoff_and_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_unknown_token_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_429, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_refused_uploads_filter_again, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
