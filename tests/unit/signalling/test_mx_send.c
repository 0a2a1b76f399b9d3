/*
 * The Matrix client's send side against the scripted homeserver (fake_hs.h): event sends in
 * order per room with transaction ids reused on retry, rate limits, errors that fail at once,
 * rooms that do not block each other, giving up; one-off requests and password login; freeing the
 * client inside a handler or with sends queued; bad configuration. The harness is
 * mx_test_util.h.
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

static char *txn_of(const char *path)
{
    return g_strdup(strrchr(path, '/') + 1);
}

static void test_send_order_while_retrying(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("PUT", "/send/", 500, "{'errcode':'M_UNKNOWN','error':'boom'}", 1);
    const char *types[] = {"m.call.invite", "m.call.candidates", "m.call.hangup"};
    for (int i = 0; i < 3; i++) {
        json_t *c = content("{'call_id':'c1','version':'1'}");
        json_object_set_new(c, "seq", json_integer(i));
        assert_int_equal(mx_send_event(t.mx, "!r:hs", types[i], c, on_done, (void *)(intptr_t)i),
                         0);
        json_decref(c);
    }
    assert_int_equal(mx_client_pending_sends(t.mx), 3);
    assert_true(run_until(done_at_least, (void *)3, 5000));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(D.order[i], i);
        assert_int_equal(D.err[i], 0);
        assert_non_null(json_string_value(json_object_get(D.body[i], "event_id")));
    }
    assert_int_equal(mx_client_pending_sends(t.mx), 0);

    GPtrArray *puts = hs_reqs("PUT", "/send/");
    assert_int_equal(puts->len, 4);
    char *t0 = txn_of(HS_REQ(puts, 0)->path), *t1 = txn_of(HS_REQ(puts, 1)->path);
    char *t2 = txn_of(HS_REQ(puts, 2)->path), *t3 = txn_of(HS_REQ(puts, 3)->path);
    assert_string_equal(t0, t1); /* the retry reused the transaction id */
    assert_string_not_equal(t1, t2);
    assert_string_not_equal(t2, t3);
    assert_non_null(strstr(HS_REQ(puts, 1)->path, "/rooms/!r:hs/send/m.call.invite/"));
    assert_non_null(strstr(HS_REQ(puts, 2)->path, "/send/m.call.candidates/"));
    assert_non_null(strstr(HS_REQ(puts, 3)->path, "/send/m.call.hangup/"));
    assert_string_equal(HS_REQ(puts, 1)->auth, "Bearer " TOKEN);
    json_t *b = json_loads(HS_REQ(puts, 3)->body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(b, "seq")), 2);
    json_decref(b);
    g_free(t0);
    g_free(t1);
    g_free(t2);
    g_free(t3);
    g_ptr_array_unref(puts);
    tc_free(&t);
}

static void test_429_retry_after(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    /* retry_after_ms in the body... */
    hs_rule("PUT", "/send/", 429, "{'errcode':'M_LIMIT_EXCEEDED','retry_after_ms':300}", 1);
    json_t *c = content("{'x':1}");
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.call.invite", c, on_done, NULL), 0);
    assert_true(run_until(done_at_least, (void *)1, 5000));
    assert_int_equal(D.err[0], 0);
    GPtrArray *puts = hs_reqs("PUT", "/send/");
    assert_int_equal(puts->len, 2);
    assert_string_equal(HS_REQ(puts, 0)->path, HS_REQ(puts, 1)->path);
    assert_true(hs_gap_ms(puts, 1) >= 250);
    g_ptr_array_unref(puts);

    /* ...or a Retry-After header. */
    struct hs_rule *r = hs_rule("PUT", "/send/", 429, "{'errcode':'M_LIMIT_EXCEEDED'}", 1);
    hs_rule_set_header(r, "Retry-After", "1");
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.call.invite", c, on_done, NULL), 0);
    json_decref(c);
    assert_true(run_until(done_at_least, (void *)2, 5000));
    assert_int_equal(D.err[1], 0);
    puts = hs_reqs("PUT", "/send/");
    assert_int_equal(puts->len, 4);
    assert_string_equal(HS_REQ(puts, 2)->path, HS_REQ(puts, 3)->path);
    assert_true(hs_gap_ms(puts, 3) >= 900);
    g_ptr_array_unref(puts);
    tc_free(&t);
}

static void test_4xx_fails_at_once(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("PUT", "/send/", 403, "{'errcode':'M_FORBIDDEN','error':'not allowed'}", 1);
    json_t *c = content("{'x':1}");
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.call.invite", c, on_done, (void *)0), 0);
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.call.hangup", c, on_done, (void *)1), 0);
    json_decref(c);
    assert_true(run_until(done_at_least, (void *)2, 5000));
    assert_int_equal(D.order[0], 0);
    assert_int_equal(D.err[0], EPROTO);
    assert_string_equal(D.errcode[0], "M_FORBIDDEN");
    assert_string_equal(json_string_value(json_object_get(D.body[0], "error")), "not allowed");
    assert_int_equal(D.order[1], 1);
    assert_int_equal(D.err[1], 0);
    assert_int_equal(hs_count("PUT", "/send/"), 2);

    /* Bad arguments are refused up front. */
    json_t *arr = json_array();
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.x", arr, on_done, NULL), EINVAL);
    assert_int_equal(mx_send_event(t.mx, "no-bang", "m.x", arr, on_done, NULL), EINVAL);
    json_decref(arr);
    assert_int_equal(mx_client_pending_sends(t.mx), 0);
    tc_free(&t);
}

static void test_rooms_do_not_block_each_other(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    struct hs_rule *fail_a = hs_rule("PUT", "/rooms/!a:hs/", 503, "{}", -1);
    json_t *c = content("{'x':1}");
    assert_int_equal(mx_send_event(t.mx, "!a:hs", "m.call.invite", c, on_done, (void *)0), 0);
    struct hs_at_least two_a = {"PUT", "/rooms/!a:hs/", 2};
    assert_true(run_until(hs_reqs_at_least, &two_a, 5000)); /* A is retrying */
    assert_int_equal(mx_send_event(t.mx, "!b:hs", "m.call.invite", c, on_done, (void *)1), 0);
    json_decref(c);
    assert_true(run_until(done_at_least, (void *)1, 5000));
    assert_int_equal(D.order[0], 1);
    assert_int_equal(D.err[0], 0);
    assert_int_equal(mx_client_pending_sends(t.mx), 1);

    hs_rule_set_remaining(fail_a, 0);
    assert_true(run_until(done_at_least, (void *)2, 5000));
    assert_int_equal(D.order[1], 0);
    assert_int_equal(D.err[1], 0);
    GPtrArray *a = hs_reqs("PUT", "/rooms/!a:hs/");
    assert_true(a->len >= 3);
    for (guint i = 1; i < a->len; i++)
        assert_string_equal(HS_REQ(a, i)->path, HS_REQ(a, 0)->path);
    g_ptr_array_unref(a);
    tc_free(&t);
}

static void test_send_gives_up(void **state)
{
    struct mx_client_cfg cfg = {.send_give_up_ms = 400};
    struct tc t;
    tc_init(&t, &cfg);
    hs_rule("PUT", "/send/", 500, "{'errcode':'M_UNKNOWN'}", -1);
    json_t *c = content("{'x':1}");
    gint64 t0 = g_get_monotonic_time();
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.call.invite", c, on_done, NULL), 0);
    json_decref(c);
    assert_true(run_until(done_at_least, (void *)1, 5000));
    assert_int_equal(D.err[0], ETIMEDOUT);
    assert_true((D.at[0] - t0) / 1000 < 2000);
    assert_true(hs_count("PUT", "/send/") >= 3);
    assert_non_null(strstr(logged->str, "giving up"));
    tc_free(&t);
}

static void test_request_and_login(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("GET", "/account/whoami", 502, "{}", 1);
    hs_rule("GET", "/account/whoami", 200, "{'user_id':'@bot:hs'}", -1);
    hs_rule("POST", "/createRoom", 500, "{'errcode':'M_UNKNOWN','error':'x'}", -1);
    hs_rule("POST", "/login", 200, "{'access_token':'newtok','device_id':'DEV'}", -1);

    assert_int_equal(mx_request(t.mx, "GET", "/account/whoami", NULL, true, on_done, (void *)0), 0);
    assert_true(run_until(done_at_least, (void *)1, 5000));
    assert_int_equal(D.err[0], 0);
    assert_string_equal(json_string_value(json_object_get(D.body[0], "user_id")), BOT);
    assert_int_equal(hs_count("GET", "/account/whoami"), 2);

    json_t *body = content("{'preset':'private_chat'}");
    assert_int_equal(mx_request(t.mx, "POST", "/createRoom", body, false, on_done, (void *)1), 0);
    json_decref(body);
    assert_true(run_until(done_at_least, (void *)2, 5000));
    assert_int_equal(D.err[1], EPROTO);
    assert_string_equal(D.errcode[1], "M_UNKNOWN");
    assert_int_equal(hs_count("POST", "/createRoom"), 1);
    GPtrArray *cr = hs_reqs("POST", "/createRoom");
    assert_string_equal(HS_REQ(cr, 0)->body, "{\"preset\":\"private_chat\"}");
    g_ptr_array_unref(cr);

    char *hs = hs_url();
    assert_int_equal(mx_login_password(t.http, hs, "bot", "hunter2", on_done, (void *)2), 0);
    g_free(hs);
    assert_true(run_until(done_at_least, (void *)3, 5000));
    assert_int_equal(D.err[2], 0);
    assert_string_equal(json_string_value(json_object_get(D.body[2], "access_token")), "newtok");
    GPtrArray *l = hs_reqs("POST", "/login");
    assert_int_equal(l->len, 1);
    assert_string_equal(HS_REQ(l, 0)->path, "/_matrix/client/v3/login");
    assert_string_equal(HS_REQ(l, 0)->auth, "");
    json_t *lb = json_loads(HS_REQ(l, 0)->body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(lb, "type")), "m.login.password");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(lb, "identifier"), "user")), "bot");
    assert_string_equal(json_string_value(json_object_get(lb, "password")), "hunter2");
    json_decref(lb);
    g_ptr_array_unref(l);
    assert_null(strstr(logged->str, "hunter2"));
    tc_free(&t);
}

static bool mx_freed(void *arg)
{
    return ((struct tc *)arg)->mx == NULL;
}

static void test_free_inside_handler_and_with_sends_queued(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    t.free_on_event = true;
    hs_batch("", "{'next_batch':'s1','rooms':{'join':{'!r:hs':{'timeline':{'events':["
                 "{'type':'m.room.message','event_id':'$1','content':{}},"
                 "{'type':'m.room.message','event_id':'$2','content':{}}]}}}}}");
    assert_int_equal(mx_client_start(t.mx), 0);
    struct hs_at_least one = {"GET", "/sync", 1};
    assert_true(run_until(hs_reqs_at_least, &one, 5000));
    /* The handler frees the client on the first event: nothing more is delivered. */
    assert_true(run_until(mx_freed, &t, 5000));
    assert_int_equal(t.events->len, 1);
    assert_int_equal(t.synced, 0);
    tc_free(&t);

    /* Freed with sends queued and retrying: their handlers never run. */
    struct tc t2;
    tc_init(&t2, NULL);
    hs_rule("PUT", "/send/", 500, "{}", -1);
    json_t *c = content("{'x':1}");
    for (int i = 0; i < 3; i++)
        assert_int_equal(mx_send_event(t2.mx, "!r:hs", "m.x", c, on_done, NULL), 0);
    json_decref(c);
    struct hs_at_least retried = {"PUT", "/send/", 2};
    assert_true(run_until(hs_reqs_at_least, &retried, 5000));
    t2.mx = mem_deref(t2.mx);
    while (g_main_context_iteration(ctx, FALSE))
        ;
    assert_int_equal(D.count, 0);
    tc_free(&t2);
}

static void test_bad_config(void **state)
{
    struct http_client *http = NULL;
    assert_int_equal(http_client_alloc(&http, ctx), 0);
    struct mx_client *c = NULL;
    struct mx_client_cfg cfg = {.homeserver = "ftp://x", .user_id = BOT, .access_token = TOKEN};
    assert_int_equal(mx_client_alloc(&c, http, &cfg, NULL, NULL), EINVAL);
    cfg.homeserver = "http://127.0.0.1:1";
    cfg.user_id = "bot";
    assert_int_equal(mx_client_alloc(&c, http, &cfg, NULL, NULL), EINVAL);
    cfg.user_id = BOT;
    cfg.access_token = "abc\r\nX: y";
    assert_int_equal(mx_client_alloc(&c, http, &cfg, NULL, NULL), EINVAL);
    cfg.access_token = TOKEN;
    assert_int_equal(mx_client_alloc(&c, http, &cfg, NULL, NULL), 0);
    assert_int_equal(mx_request(c, "GET", "no-slash", NULL, false, on_done, NULL), EINVAL);
    mem_deref(c);
    mem_deref(http);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_order_while_retrying, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_4xx_fails_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rooms_do_not_block_each_other, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_gives_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_and_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_handler_and_with_sends_queued, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
