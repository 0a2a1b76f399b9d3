/*
 * The Matrix client's gap fetch against the scripted homeserver (fake_hs.h): when a /sync
 * timeline of a room we follow is limited, the events before it are fetched with /messages
 * (paged back from prev_batch to the previous batch's token) and handed out once each, oldest
 * first, before the batch's own timeline; the batch's token is saved, and the next /sync sent,
 * only once the gap is in; failures back off like /sync and lose nothing; a gap longer than the
 * bound keeps its newest events, with a warning; a refusal skips the gap, with a warning.
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

#define MSG(id) "{'type':'m.room.message','event_id':'" id "','sender':'@alice:hs','content':{}}"
#define JOIN(user, id)                                                                             \
    "{'type':'m.room.member','state_key':'" user "','event_id':'" id "','sender':'" user "',"      \
    "'content':{'membership':'join'}}"

/* The first batch: we follow !r:hs, whose last event is $a1. */
static const char FIRST[] = "{'next_batch':'s1','rooms':{'join':{'!r:hs':{"
                            "'state':{'events':[" JOIN("@alice:hs", "$sa") "," JOIN(
                                "@bot:hs", "$sb") "]},"
                                                  "'timeline':{'events':[" MSG("$a1") "]}}}}}";

/* The second: limited, prev_batch p2; $g4 is both in the gap and in the timeline. */
static const char SECOND[] =
    "{'next_batch':'s2','rooms':{'join':{'!r:hs':{"
    "'state':{'events':[" JOIN("@carol:hs",
                               "$g2") "]},"
                                      "'timeline':{'limited':true,'prev_batch':'p2','events':[" MSG(
                                          "$g4") "," MSG("$t1") "]}}}}}";

/* The gap, newest first, in two pages; the second reaches $a1, which was handed out. */
static const char PAGE1[] = "{'start':'p2','end':'p1','chunk':[" MSG("$g4") "," MSG("$g3") "]}";
static const char PAGE2[] = "{'start':'p1','chunk':[" JOIN("@carol:hs", "$g2") "," MSG(
    "$g1") "," MSG("$g1") "," MSG("$a1") "," MSG("$a0") "]}";

static void expect_ids(struct tc *t, const char *const *ids, unsigned n)
{
    assert_int_equal(t->events->len, n);
    for (unsigned i = 0; i < n; i++)
        assert_string_equal(SEEN(t, i)->event_id, ids[i]);
}

static bool token_file_is_s2(void *arg)
{
    (void)arg;
    char *d = read_token_file();
    bool ok = d && strcmp(d, "s2\n") == 0;
    g_free(d);
    return ok;
}

static void test_gap_fetched_in_order_once(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", FIRST);
    hs_rule("GET", "/messages", 200, PAGE1, 1);
    hs_rule("GET", "/messages", 200, PAGE2, 1);
    hs_batch("s1", SECOND);
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 2);

    /* $g1 came twice in the gap, $g4 in the gap and the timeline: each handed out once, in
     * order, the gap before the timeline; $a1 and older were handled before. */
    const char *ids[] = {"$a1", "$g1", "$g2", "$g3", "$g4", "$t1"};
    expect_ids(&t, ids, 6);
    for (unsigned i = 1; i < 6; i++)
        assert_false(SEEN(&t, i)->initial);
    /* The model as each event found it: carol joined in the gap. */
    assert_int_equal(SEEN(&t, 1)->joined, 2);
    assert_int_equal(SEEN(&t, 2)->joined, 3);
    assert_int_equal(SEEN(&t, 5)->joined, 3);

    GPtrArray *m = hs_reqs("GET", "/messages");
    assert_int_equal(m->len, 2);
    assert_string_equal(HS_REQ(m, 0)->path, "/_matrix/client/v3/rooms/!r:hs/messages");
    assert_string_equal(HS_REQ(m, 0)->dir, "b");
    assert_string_equal(HS_REQ(m, 0)->from, "p2");
    assert_string_equal(HS_REQ(m, 0)->to, "s1");
    assert_string_equal(HS_REQ(m, 0)->limit, "100");
    assert_string_equal(HS_REQ(m, 0)->auth, "Bearer " TOKEN);
    json_t *f = json_loads(HS_REQ(m, 0)->filter, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(f, "limit")), 100);
    json_decref(f);
    assert_string_equal(HS_REQ(m, 1)->from, "p1");
    assert_string_equal(HS_REQ(m, 1)->to, "s1");
    g_ptr_array_unref(m);
    assert_int_equal(occurrences(logged->str, "earlier events were skipped"), 0);
    assert_int_equal(occurrences(logged->str, "oldest events were skipped"), 0);

    /* Gap fetched: the loop goes on from s2. */
    struct hs_at_least s3 = {"GET", "/sync", 3};
    assert_true(run_until(hs_reqs_at_least, &s3, 5000));
    GPtrArray *syncs = hs_reqs("GET", "/sync");
    assert_string_equal(HS_REQ(syncs, 2)->since, "s2");
    g_ptr_array_unref(syncs);
    tc_free(&t);
}

static void test_gap_fetch_backs_off_and_loses_nothing(void **state)
{
    struct mx_client_cfg cfg = {.state_dir = state_dir, .sync_backoff_ms = 100};
    struct tc t;
    tc_init(&t, &cfg);
    hs_batch("", FIRST);
    struct hs_rule *down = hs_rule("GET", "/messages", 503, "{'errcode':'M_UNKNOWN'}", -1);
    hs_rule("GET", "/messages", 200, PAGE1, 1);
    hs_rule("GET", "/messages", 200, PAGE2, 1);
    hs_batch("s1", SECOND);
    assert_int_equal(mx_client_start(t.mx), 0);

    /* The homeserver is down for /messages: the batch waits, its token is not saved and no
     * /sync goes out past it. */
    struct hs_at_least three = {"GET", "/messages", 3};
    assert_true(run_until(hs_reqs_at_least, &three, 5000));
    assert_int_equal(t.synced, 1);
    assert_int_equal(t.events->len, 1);
    char *tok = read_token_file();
    assert_string_equal(tok, "s1\n");
    g_free(tok);
    GPtrArray *syncs = hs_reqs("GET", "/sync");
    assert_int_equal(syncs->len, 2);
    g_ptr_array_unref(syncs);

    hs_rule_set_remaining(down, 0);
    wait_synced(&t, 2);
    const char *ids[] = {"$a1", "$g1", "$g2", "$g3", "$g4", "$t1"};
    expect_ids(&t, ids, 6);
    assert_true(run_until(token_file_is_s2, NULL, 5000));

    GPtrArray *m = hs_reqs("GET", "/messages");
    assert_true(m->len >= 5);
    for (guint i = 0; i + 2 < m->len; i++)
        assert_string_equal(HS_REQ(m, i)->from, "p2"); /* the same page again */
    assert_string_equal(HS_REQ(m, m->len - 1)->from, "p1");
    /* 100, 200 ms nominal, each +-25 % */
    assert_true(hs_gap_ms(m, 1) >= 70);
    assert_true(hs_gap_ms(m, 2) >= 145);
    g_ptr_array_unref(m);
    assert_int_equal(occurrences(logged->str, "homeserver unreachable"), 1);
    assert_int_equal(occurrences(logged->str, "homeserver reachable again"), 1);
    tc_free(&t);
}

/* A page of 100 messages, newest first: $m<base+99> .. $m<base>, with an end token. */
static char *page_of(unsigned base, const char *start, const char *end)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "{\"start\":\"%s\",\"end\":\"%s\",\"chunk\":[", start, end);
    for (unsigned i = 100; i-- > 0;)
        g_string_append_printf(s,
                               "{\"type\":\"m.room.message\",\"event_id\":\"$m%u\","
                               "\"sender\":\"@alice:hs\",\"content\":{}}%s",
                               base + i, i ? "," : "");
    g_string_append(s, "]}");
    return g_string_free(s, FALSE);
}

static void test_gap_longer_than_bound(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", FIRST);
    /* Ten pages exist: $m0 .. $m999, newest first. */
    for (unsigned p = 0; p < 10; p++) {
        char from[8], end[8];
        snprintf(from, sizeof(from), "q%u", p);
        snprintf(end, sizeof(end), "q%u", p + 1);
        char *body = page_of(900 - 100 * p, from, end);
        hs_rule("GET", "/messages", 200, body, 1);
        g_free(body);
    }
    hs_batch("s1", "{'next_batch':'s2','rooms':{'join':{'!r:hs':{'timeline':{'limited':true,"
                   "'prev_batch':'q0','events':[" MSG("$t1") "]}}}}}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 2);

    /* Five pages, the newest 500 events of the gap, oldest first, then the timeline. */
    assert_int_equal(hs_count("GET", "/messages"), 5);
    assert_int_equal(t.events->len, 1 + 500 + 1);
    for (unsigned i = 0; i < 500; i++) {
        char want[16];
        snprintf(want, sizeof(want), "$m%u", 500 + i);
        assert_string_equal(SEEN(&t, 1 + i)->event_id, want);
    }
    assert_string_equal(SEEN(&t, 501)->event_id, "$t1");
    assert_int_equal(occurrences(logged->str, "oldest events were skipped"), 1);
    tc_free(&t);
}

static void test_gap_refused_is_skipped(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", FIRST);
    hs_batch("s1", SECOND);
    hs_batch("s2", "{'next_batch':'s3','rooms':{'join':{'!r:hs':{'timeline':{'limited':true,"
                   "'prev_batch':'p3','events':[" MSG("$t2") "]}}}}}");
    hs_rule("GET", "/messages", 403, "{'errcode':'M_FORBIDDEN','error':'no'}", 1);
    hs_rule("GET", "/messages", 200, "{'chunk':5}", -1);
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 3);

    /* Neither a refusal nor garbage in a 200 is asked again: the batches go on without
     * their gaps, with a warning naming the room. */
    const char *ids[] = {"$a1", "$g4", "$t1", "$t2"};
    expect_ids(&t, ids, 4);
    assert_int_equal(hs_count("GET", "/messages"), 2);
    assert_int_equal(occurrences(logged->str, "/messages refused (HTTP 403 M_FORBIDDEN)"), 1);
    assert_int_equal(occurrences(logged->str, "answered without a chunk"), 1);
    assert_non_null(strstr(logged->str, "room=!r:hs"));
    tc_free(&t);
}

static void test_stop_during_gap_fetch(void **state)
{
    struct mx_client_cfg cfg = {.state_dir = state_dir, .sync_backoff_ms = 100};
    struct tc t;
    tc_init(&t, &cfg);
    hs_batch("", FIRST);
    struct hs_rule *down = hs_rule("GET", "/messages", 502, "bad gateway", -1);
    hs_batch("s1", SECOND);
    assert_int_equal(mx_client_start(t.mx), 0);
    struct hs_at_least two = {"GET", "/messages", 2};
    assert_true(run_until(hs_reqs_at_least, &two, 5000));
    mx_client_stop(t.mx);
    unsigned n = hs_count("GET", "/messages");
    struct hs_at_least more = {"GET", "/messages", n + 1};
    assert_false(run_until(hs_reqs_at_least, &more, 400)); /* stopped means stopped */

    /* Started again: the same /sync again (its batch was never handled), and its gap. */
    hs_rule_set_remaining(down, 0);
    hs_rule("GET", "/messages", 200, PAGE1, 1);
    hs_rule("GET", "/messages", 200, PAGE2, 1);
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 2);
    const char *ids[] = {"$a1", "$g1", "$g2", "$g3", "$g4", "$t1"};
    expect_ids(&t, ids, 6);
    GPtrArray *syncs = hs_reqs("GET", "/sync");
    assert_int_equal(syncs->len >= 3, 1);
    assert_string_equal(HS_REQ(syncs, 1)->since, "s1");
    assert_string_equal(HS_REQ(syncs, 2)->since, "s1");
    g_ptr_array_unref(syncs);
    assert_true(run_until(token_file_is_s2, NULL, 5000));
    tc_free(&t);
}

static void test_gap_after_restart(void **state)
{
    /* Resumed from a saved token, the client knows no room yet: a limited room without our
     * join in it is one we were in before, and its gap counts; one with our join is new. */
    char *p = g_build_filename(state_dir, "sync_token", NULL);
    assert_true(g_file_set_contents(p, "s5\n", -1, NULL));
    g_free(p);
    struct mx_client_cfg cfg = {.state_dir = state_dir};
    struct tc t;
    tc_init(&t, &cfg);
    hs_batch("s5", "{'next_batch':'s6','rooms':{'join':{"
                   "'!r:hs':{'timeline':{'limited':true,'prev_batch':'p6','events':[" MSG(
                       "$t1") "]}},"
                              "'!n:hs':{'state':{'events':[" JOIN(
                                  "@bot:hs", "$j") "]},'timeline':{'limited':true,'prev_batch':"
                                                   "'p7','events':[" MSG("$n1") "]}}}}}");
    hs_rule("GET", "/messages", 200, "{'start':'p6','chunk':[" MSG("$g2") "," MSG("$g1") "]}", 1);
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    GPtrArray *m = hs_reqs("GET", "/messages");
    assert_int_equal(m->len, 1);
    assert_string_equal(HS_REQ(m, 0)->path, "/_matrix/client/v3/rooms/!r:hs/messages");
    assert_string_equal(HS_REQ(m, 0)->from, "p6");
    assert_string_equal(HS_REQ(m, 0)->to, "s5");
    g_ptr_array_unref(m);
    GPtrArray *r = g_ptr_array_new();
    for (guint i = 0; i < t.events->len; i++) {
        if (strcmp(SEEN(&t, i)->room, "!r:hs") == 0)
            g_ptr_array_add(r, SEEN(&t, i)->event_id);
    }
    assert_int_equal(r->len, 3);
    assert_string_equal(g_ptr_array_index(r, 0), "$g1");
    assert_string_equal(g_ptr_array_index(r, 1), "$g2");
    assert_string_equal(g_ptr_array_index(r, 2), "$t1");
    g_ptr_array_unref(r);
    assert_int_equal(t.events->len, 4); /* and $n1 */
    tc_free(&t);
}

static bool events_at_least_2(void *arg)
{
    return ((struct tc *)arg)->events->len >= 2;
}

static void test_client_freed_by_a_gap_event(void **state)
{
    struct mx_client_cfg cfg = {.state_dir = state_dir};
    struct tc t;
    tc_init(&t, &cfg);
    hs_batch("", FIRST);
    hs_rule("GET", "/messages", 200, PAGE1, 1);
    hs_rule("GET", "/messages", 200, PAGE2, 1);
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    t.free_on_event = true;
    hs_batch("s1", SECOND);
    assert_true(run_until(events_at_least_2, &t, 5000));
    /* The first event of the gap freed the client: nothing else ran, nothing was saved. */
    assert_null(t.mx);
    struct hs_at_least more = {"GET", "/sync", 3};
    assert_false(run_until(hs_reqs_at_least, &more, 300));
    assert_int_equal(t.events->len, 2);
    assert_string_equal(SEEN(&t, 1)->event_id, "$g1");
    assert_int_equal(t.synced, 1);
    char *tok = read_token_file();
    assert_string_equal(tok, "s1\n");
    g_free(tok);
    tc_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gap_fetched_in_order_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_fetch_backs_off_and_loses_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gap_longer_than_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_refused_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_gap_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_freed_by_a_gap_event, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
