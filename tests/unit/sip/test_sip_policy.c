/*
 * The pure parts of the SIP side: allowed_sources CIDRs, the per-source INVITE rate limit, the
 * dial plan and the outbound policy (the toll-fraud boundary), number handling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "sip/acl.h"
#include "sip/plan.h"
#include "sip/ratelimit.h"

static struct sockaddr_storage sa4(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET;
    s->sin_port = htons(5060);
    assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage sa6(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(5061);
    assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
    return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void cidr_parse_and_match(void **state)
{
    struct sip_cidr c;
    assert_int_equal(sip_cidr_parse(&c, "192.0.2.0/24"), 0);
    struct sockaddr_storage in = sa4("192.0.2.200"), out = sa4("192.0.3.1");
    assert_true(sip_cidr_match(&c, SA(in)));
    assert_false(sip_cidr_match(&c, SA(out)));

    /* A prefix that does not end on a byte. */
    assert_int_equal(sip_cidr_parse(&c, "10.128.0.0/9"), 0);
    struct sockaddr_storage a = sa4("10.200.1.1"), b = sa4("10.127.255.255");
    assert_true(sip_cidr_match(&c, SA(a)));
    assert_false(sip_cidr_match(&c, SA(b)));

    /* One address; and /0 is everyone of that family only. */
    assert_int_equal(sip_cidr_parse(&c, "127.0.0.1"), 0);
    struct sockaddr_storage lo = sa4("127.0.0.1"), lo2 = sa4("127.0.0.2");
    assert_true(sip_cidr_match(&c, SA(lo)));
    assert_false(sip_cidr_match(&c, SA(lo2)));
    assert_int_equal(sip_cidr_parse(&c, "0.0.0.0/0"), 0);
    struct sockaddr_storage v6 = sa6("2001:db8::1");
    assert_true(sip_cidr_match(&c, SA(lo2)));
    assert_false(sip_cidr_match(&c, SA(v6)));

    /* IPv6, and IPv4-mapped IPv6 matched as the IPv4 address it carries. */
    assert_int_equal(sip_cidr_parse(&c, "2001:db8::/32"), 0);
    struct sockaddr_storage other6 = sa6("2001:db9::1");
    assert_true(sip_cidr_match(&c, SA(v6)));
    assert_false(sip_cidr_match(&c, SA(other6)));
    assert_int_equal(sip_cidr_parse(&c, "192.0.2.0/24"), 0);
    struct sockaddr_storage mapped = sa6("::ffff:192.0.2.9");
    assert_true(sip_cidr_match(&c, SA(mapped)));

    const char *bad[] = {"",  "/8",       "192.0.2.0/33", "192.0.2.1/24", "::1/129",
                         "x", "1.2.3.4/", "1.2.3.4/1a",   "1.2.3.4/0008"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sip_cidr_parse(&c, bad[i]), EINVAL);

    struct sip_cidr list[2];
    assert_int_equal(sip_cidr_parse(&list[0], "10.0.0.0/8"), 0);
    assert_int_equal(sip_cidr_parse(&list[1], "127.0.0.1/32"), 0);
    assert_true(sip_cidr_match_any(list, 2, SA(lo)));
    assert_false(sip_cidr_match_any(list, 2, SA(lo2)));
    assert_false(sip_cidr_match_any(list, 2, NULL));
}

static void address_text(void **state)
{
    char buf[80];
    struct sockaddr_storage a = sa4("192.0.2.7"), b = sa6("2001:db8::1"),
                            m = sa6("::ffff:10.0.0.1");
    sip_addr_text(SA(a), buf, sizeof(buf));
    assert_string_equal(buf, "192.0.2.7");
    sip_addr_port_text(SA(a), buf, sizeof(buf));
    assert_string_equal(buf, "192.0.2.7:5060");
    sip_addr_port_text(SA(b), buf, sizeof(buf));
    assert_string_equal(buf, "[2001:db8::1]:5061");
    sip_addr_text(SA(m), buf, sizeof(buf));
    assert_string_equal(buf, "10.0.0.1");
    sip_addr_text(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "?");
}

static void rate_limit_per_source(void **state)
{
    struct sip_ratelimit *r;
    assert_int_equal(sip_ratelimit_alloc(&r, 2, 2, 16), 0);
    uint64_t t = 1000000;
    unsigned retry = 0;
    /* A burst of two, then refused with a retry of one second. */
    assert_true(sip_ratelimit_take(r, "10.0.0.1", t, &retry));
    assert_true(sip_ratelimit_take(r, "10.0.0.1", t, &retry));
    assert_false(sip_ratelimit_take(r, "10.0.0.1", t, &retry));
    assert_int_equal(retry, 1);
    /* Another source is not affected. */
    assert_true(sip_ratelimit_take(r, "10.0.0.2", t, NULL));
    /* Half a second refills one token at 2 a second. */
    assert_true(sip_ratelimit_take(r, "10.0.0.1", t + 500000, NULL));
    assert_false(sip_ratelimit_take(r, "10.0.0.1", t + 500000, NULL));
    /* Never more than the burst, however long it was idle. */
    uint64_t later = t + 60 * 1000000ull;
    assert_true(sip_ratelimit_take(r, "10.0.0.1", later, NULL));
    assert_true(sip_ratelimit_take(r, "10.0.0.1", later, NULL));
    assert_false(sip_ratelimit_take(r, "10.0.0.1", later, NULL));
    /* A clock that goes back changes nothing. */
    assert_false(sip_ratelimit_take(r, "10.0.0.1", t, NULL));
    mem_deref(r);

    /* A slow rate: the retry says how long. */
    assert_int_equal(sip_ratelimit_alloc(&r, 0.1, 1, 16), 0);
    assert_true(sip_ratelimit_take(r, "a", t, &retry));
    assert_false(sip_ratelimit_take(r, "a", t, &retry));
    assert_int_equal(retry, 10);
    mem_deref(r);

    assert_int_equal(sip_ratelimit_alloc(&r, 0, 1, 16), EINVAL);
    assert_int_equal(sip_ratelimit_alloc(&r, 1, 0.5, 16), EINVAL);
}

static void rate_limit_table_is_bounded(void **state)
{
    struct sip_ratelimit *r;
    assert_int_equal(sip_ratelimit_alloc(&r, 1, 1, 8), 0);
    char key[32];
    uint64_t t = 1;
    /* Sources that keep their buckets empty: the least recently used goes. */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
        assert_true(sip_ratelimit_take(r, key, t + (uint64_t)i, NULL));
        assert_true(sip_ratelimit_count(r) <= 8);
    }
    /* The most recent sources are remembered (and limited). */
    assert_false(sip_ratelimit_take(r, "10.0.0.99", t + 100, NULL));
    /* Idle buckets are dropped before anyone limited is forgotten. */
    assert_true(sip_ratelimit_take(r, "fresh", t + 10 * 1000000ull, NULL));
    assert_true(sip_ratelimit_count(r) <= 2);
    mem_deref(r);
}

static struct sip_plan *plan_of(const char *const *users, size_t nu, const char *const *numbers,
                                size_t nn)
{
    static const struct sip_route_in routes[] = {
        {.number = "+15550100", .room = "!abc:example.org"},
        {.number = "+15550101", .user = "@alice:example.org"},
        {.number = "conference", .room = "!conf:example.org"},
    };
    struct sip_cfg cfg = {
        .routes_in = routes,
        .nroutes_in = 3,
        .outbound_allowed_users = users,
        .noutbound_allowed_users = nu,
        .outbound_allowed_numbers = numbers,
        .noutbound_allowed_numbers = nn,
    };
    struct sip_plan *p = NULL;
    assert_int_equal(sip_plan_alloc(&p, &cfg), 0);
    return p;
}

static void inbound_routes(void **state)
{
    struct sip_plan *p = plan_of(NULL, 0, NULL, 0);
    const struct sip_route_in *r = sip_plan_route(p, "+15550100");
    assert_non_null(r);
    assert_string_equal(r->room, "!abc:example.org");
    assert_null(r->user);
    r = sip_plan_route(p, "+15550101");
    assert_string_equal(r->user, "@alice:example.org");
    assert_non_null(sip_plan_route(p, "conference"));
    /* Exact numbers only. */
    assert_null(sip_plan_route(p, "15550100"));
    assert_null(sip_plan_route(p, "+155501000"));
    assert_null(sip_plan_route(p, ""));
    assert_null(sip_plan_route(p, NULL));
    mem_deref(p);

    /* A route needs exactly one destination. */
    struct sip_route_in both = {.number = "1", .room = "!a:b", .user = "@c:d"};
    struct sip_cfg cfg = {.routes_in = &both, .nroutes_in = 1};
    assert_int_equal(sip_plan_alloc(&p, &cfg), EINVAL);
}

static void outbound_policy_fails_closed(void **state)
{
    char why[256];
    /* Nobody listed: nobody dials. */
    struct sip_plan *p = plan_of(NULL, 0, NULL, 0);
    assert_int_equal(sip_plan_may_dial(p, "@alice:example.org", "+15551234", why, sizeof(why)),
                     EPERM);
    assert_non_null(strstr(why, "allowed_users"));
    mem_deref(p);

    const char *users[] = {"@*:example.org"};
    const char *numbers[] = {"+1555*", "911"};
    p = plan_of(users, 1, numbers, 2);
    assert_int_equal(sip_plan_may_dial(p, "@alice:example.org", "+15551234", why, sizeof(why)), 0);
    assert_int_equal(sip_plan_may_dial(p, "@alice:example.org", "911", why, sizeof(why)), 0);
    /* The user is checked, then the number, each with its reason. */
    assert_int_equal(sip_plan_may_dial(p, "@mallory:evil.example", "+15551234", why, sizeof(why)),
                     EPERM);
    assert_string_equal(why, "@mallory:evil.example may not place phone calls (not in "
                             "sip.routes.outbound.allowed_users)");
    assert_int_equal(sip_plan_may_dial(p, "@alice:example.org", "+449001234567", why, sizeof(why)),
                     EPERM);
    assert_string_equal(why, "+449001234567 is not a number calls may go to (not in "
                             "sip.routes.outbound.allowed_numbers)");
    assert_int_equal(sip_plan_may_dial(p, "@alice:example.org", "9111", why, sizeof(why)), EPERM);
    assert_int_equal(sip_plan_may_dial(p, NULL, "911", why, sizeof(why)), EPERM);
    assert_int_equal(sip_plan_may_dial(p, "@alice:example.org", NULL, why, sizeof(why)), EPERM);
    mem_deref(p);
}

static void numbers_typed_by_people(void **state)
{
    char out[40], why[128];
    assert_int_equal(sip_number_normalise("+1 (555) 123-4567", out, sizeof(out), why, sizeof(why)),
                     0);
    assert_string_equal(out, "+15551234567");
    assert_int_equal(sip_number_normalise("*31#", out, sizeof(out), why, sizeof(why)), 0);
    assert_string_equal(out, "*31#");
    /* Anything that could reach into a URI is refused, not cleaned. */
    const char *bad[] = {"+1555@evil.example",
                         "1555;user=phone",
                         "15+55",
                         "",
                         "+",
                         "  ",
                         "sip:1555",
                         "1555%40x",
                         "123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        assert_int_equal(sip_number_normalise(bad[i], out, sizeof(out), why, sizeof(why)), EINVAL);
        assert_true(why[0] != '\0');
    }
}

static void numbers_in_uris(void **state)
{
    char out[SIP_NUMBER_MAX + 1];
    assert_int_equal(sip_uri_user_number("%2B15550100", out, sizeof(out)), 0);
    assert_string_equal(out, "+15550100");
    assert_int_equal(sip_uri_user_number("+15550100;npdi;rn=+15551111", out, sizeof(out)), 0);
    assert_string_equal(out, "+15550100");
    assert_int_equal(sip_uri_user_number("conference", out, sizeof(out)), 0);
    assert_string_equal(out, "conference");
    assert_int_equal(sip_uri_user_number("%0a1", out, sizeof(out)), EBADMSG);
    assert_int_equal(sip_uri_user_number("%3B0", out, sizeof(out)), EBADMSG);
    assert_int_equal(sip_uri_user_number("a%40b", out, sizeof(out)), EBADMSG);
    assert_int_equal(sip_uri_user_number("a%20b", out, sizeof(out)), EBADMSG);
    assert_int_equal(sip_uri_user_number("%2", out, sizeof(out)), EBADMSG);
    assert_int_equal(sip_uri_user_number("%zz", out, sizeof(out)), EBADMSG);
    assert_int_equal(sip_uri_user_number(";x", out, sizeof(out)), EBADMSG);
    char longer[200];
    memset(longer, '1', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(sip_uri_user_number(longer, out, sizeof(out)), EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cidr_parse_and_match),    cmocka_unit_test(address_text),
        cmocka_unit_test(rate_limit_per_source),   cmocka_unit_test(rate_limit_table_is_bounded),
        cmocka_unit_test(inbound_routes),          cmocka_unit_test(outbound_policy_fails_closed),
        cmocka_unit_test(numbers_typed_by_people), cmocka_unit_test(numbers_in_uris),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
