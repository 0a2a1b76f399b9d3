#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "media/ice_candidate.h"

static void parse_ok(const char *line, struct ice_candidate *c)
{
    const char *why = NULL;
    int err = ice_candidate_parse(c, line, &why);
    if (err)
        fail_msg("rejected \"%s\": %s", line, why ? why : "?");
}

static void expect_bad(const char *line, const char *reason)
{
    struct ice_candidate c;
    const char *why = NULL;
    int err = ice_candidate_parse(&c, line, &why);
    if (err != EBADMSG)
        fail_msg("accepted \"%s\"", line);
    assert_non_null(why);
    if (reason && !strstr(why, reason))
        fail_msg("\"%s\": reason \"%s\", expected \"%s\"", line, why, reason);
}

/* Formats c and checks the text parses back to the same candidate. */
static void roundtrip(const struct ice_candidate *c, char *out, size_t cap)
{
    struct ice_candidate again;
    assert_int_equal(ice_candidate_format(c, out, cap), 0);
    parse_ok(out, &again);
    assert_true(ice_candidate_equal(c, &again));
}

static void chromium_host(void **state)
{
    struct ice_candidate c;
    char buf[ICE_CAND_MAX_LINE];
    parse_ok("candidate:842163049 1 udp 1677729535 192.168.1.10 46154 typ host generation 0 "
             "ufrag sXk4 network-id 1 network-cost 10",
             &c);
    assert_string_equal(c.foundation, "842163049");
    assert_int_equal(c.component, 1);
    assert_int_equal(c.transport, ICE_TRANSPORT_UDP);
    assert_int_equal(c.priority, 1677729535u);
    assert_string_equal(c.address, "192.168.1.10");
    assert_int_equal(c.port, 46154);
    assert_int_equal(c.type, ICE_CAND_HOST);
    assert_false(c.has_raddr);
    assert_int_equal(c.tcptype, ICE_TCPTYPE_NONE);
    assert_true(c.has_generation);
    assert_int_equal(c.generation, 0);
    assert_string_equal(c.ufrag, "sXk4");
    assert_false(ice_candidate_is_mdns(&c));

    roundtrip(&c, buf, sizeof(buf));
    /* Unknown extensions are dropped, known ones kept in a fixed order. */
    assert_string_equal(buf, "candidate:842163049 1 udp 1677729535 192.168.1.10 46154 typ host "
                             "generation 0 ufrag sXk4");
}

static void chromium_srflx_and_relay(void **state)
{
    struct ice_candidate c;
    char buf[ICE_CAND_MAX_LINE];

    parse_ok("candidate:3471623853 1 udp 1686052607 203.0.113.7 60017 typ srflx raddr "
             "192.168.1.10 rport 60017 generation 0 ufrag sXk4 network-id 1 network-cost 10",
             &c);
    assert_int_equal(c.type, ICE_CAND_SRFLX);
    assert_true(c.has_raddr);
    assert_string_equal(c.raddr, "192.168.1.10");
    assert_int_equal(c.rport, 60017);
    roundtrip(&c, buf, sizeof(buf));

    parse_ok("candidate:2157334355 1 udp 33562367 198.51.100.2 3478 typ relay raddr 203.0.113.7 "
             "rport 60017 generation 0 ufrag sXk4 network-cost 999",
             &c);
    assert_int_equal(c.type, ICE_CAND_RELAY);
    assert_string_equal(c.address, "198.51.100.2");
    assert_int_equal(c.priority, 33562367u);
    roundtrip(&c, buf, sizeof(buf));

    /* Chromium hides the related address of reflexive candidates. */
    parse_ok("candidate:1 1 udp 1686052607 203.0.113.7 60017 typ srflx raddr 0.0.0.0 rport 0", &c);
    assert_string_equal(c.raddr, "0.0.0.0");
    assert_int_equal(c.rport, 0);
    roundtrip(&c, buf, sizeof(buf));

    parse_ok("candidate:7 1 udp 1845501695 198.51.100.9 41000 typ prflx raddr 10.0.0.2 rport 5000",
             &c);
    assert_int_equal(c.type, ICE_CAND_PRFLX);
}

static void chromium_tcp(void **state)
{
    struct ice_candidate c;
    char buf[ICE_CAND_MAX_LINE];
    parse_ok("candidate:1050411977 1 tcp 1518280447 192.168.1.10 9 typ host tcptype active "
             "generation 0 ufrag sXk4 network-id 1",
             &c);
    assert_int_equal(c.transport, ICE_TRANSPORT_TCP);
    assert_int_equal(c.tcptype, ICE_TCPTYPE_ACTIVE);
    assert_int_equal(c.port, 9);
    roundtrip(&c, buf, sizeof(buf));
    assert_non_null(strstr(buf, " tcp "));
    assert_non_null(strstr(buf, "tcptype active"));

    parse_ok("candidate:3 1 TCP 1518280447 192.168.1.10 50000 typ host tcptype passive", &c);
    assert_int_equal(c.tcptype, ICE_TCPTYPE_PASSIVE);
    parse_ok("candidate:3 1 tcp 1518280447 192.168.1.10 50000 typ host tcptype so", &c);
    assert_int_equal(c.tcptype, ICE_TCPTYPE_SO);
}

static void mdns_host(void **state)
{
    struct ice_candidate c;
    char buf[ICE_CAND_MAX_LINE];
    parse_ok("candidate:1 1 udp 2122260223 3b3e1a3f-7cf8-4a5d-93ab-5d1e0e3d3b3c.local 54321 typ "
             "host generation 0 ufrag abcd network-cost 999",
             &c);
    assert_string_equal(c.address, "3b3e1a3f-7cf8-4a5d-93ab-5d1e0e3d3b3c.local");
    assert_true(ice_candidate_is_mdns(&c));
    roundtrip(&c, buf, sizeof(buf));

    parse_ok("candidate:1 1 udp 2122260223 ABCDEF.LOCAL 54321 typ host", &c);
    assert_true(ice_candidate_is_mdns(&c));
    parse_ok("candidate:1 1 udp 2122260223 turn.example.com 54321 typ host", &c);
    assert_false(ice_candidate_is_mdns(&c));
    parse_ok("candidate:1 1 udp 2122260223 10.1.2.3 54321 typ host", &c);
    assert_false(ice_candidate_is_mdns(&c));
}

static void ipv6_and_prefixes(void **state)
{
    struct ice_candidate c;
    char buf[ICE_CAND_MAX_LINE];

    parse_ok("a=candidate:2 1 UDP 2122252543 2001:db8::1 50000 typ host\r\n", &c);
    assert_string_equal(c.address, "2001:db8::1");
    assert_int_equal(c.transport, ICE_TRANSPORT_UDP);
    assert_false(c.has_generation);
    assert_string_equal(c.ufrag, "");
    roundtrip(&c, buf, sizeof(buf));
    assert_string_equal(buf, "candidate:2 1 udp 2122252543 2001:db8::1 50000 typ host");

    /* Firefox style: upper-case transport, foundation 0, a link-local address. */
    parse_ok("candidate:0 1 UDP 2122187007 fe80::1c2f:3dff:fe4a:b8c1 51234 typ host\n", &c);
    assert_string_equal(c.foundation, "0");
    /* aiortc style hex foundation. */
    parse_ok("candidate:9d2b8f3c6e0f2b1a8c3d4e5f6a7b8c9d 1 udp 2130706431 10.0.0.1 1 typ host", &c);
    assert_int_equal(c.port, 1);
    parse_ok("candidate:a+/B 256 udp 4294967295 10.0.0.1 65535 typ host", &c);
    assert_int_equal(c.component, 256);
    assert_int_equal(c.priority, 4294967295u);
    assert_int_equal(c.port, 65535);
}

static void garbage(void **state)
{
    char longline[2 * ICE_CAND_MAX_LINE];
    char longtok[600];

    expect_bad("", "not a candidate");
    expect_bad("a=", "not a candidate");
    expect_bad("foo", "not a candidate");
    expect_bad("candidate:", "missing");
    expect_bad("candidate:1 1 udp 2122260223 10.0.0.1 5000 typ", "missing");
    expect_bad("candidate:1 1 udp 2122260223 10.0.0.1 5000", "missing");
    expect_bad("candidate:1 1 udp 2122260223 10.0.0.1 0 typ host", "port");
    expect_bad("candidate:1 1 udp 2122260223 10.0.0.1 65536 typ host", "port");
    expect_bad("candidate:1 1 udp 2122260223 10.0.0.1 -5 typ host", "port");
    expect_bad("candidate:1 1 udp 2122260223 10.0.0.1 5x typ host", "port");
    expect_bad("candidate:1 1 udp 4294967296 10.0.0.1 5000 typ host", "priority");
    expect_bad("candidate:1 1 udp 99999999999 10.0.0.1 5000 typ host", "priority");
    expect_bad("candidate:1 1 udp -1 10.0.0.1 5000 typ host", "priority");
    expect_bad("candidate:1 0 udp 1 10.0.0.1 5000 typ host", "component");
    expect_bad("candidate:1 257 udp 1 10.0.0.1 5000 typ host", "component");
    expect_bad("candidate:1 1 sctp 1 10.0.0.1 5000 typ host", "transport");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 type host", "typ");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ bogus", "type");
    expect_bad("candidate:1 1 udp 1 1.2.3 5000 typ host", "address");
    expect_bad("candidate:1 1 udp 1 256.1.1.1 5000 typ host", "address");
    expect_bad("candidate:1 1 udp 1 2001:db8::zz 5000 typ host", "address");
    expect_bad("candidate:1 1 udp 1 bad_host.local 5000 typ host", "address");
    expect_bad("candidate:1 1 udp 1 host..local 5000 typ host", "address");
    expect_bad("candidate:1 1 udp 1 host.local. 5000 typ host", "address");
    expect_bad("candidate:1.5 1 udp 1 10.0.0.1 5000 typ host", "foundation");
    expect_bad("candidate:123456789012345678901234567890123 1 udp 1 10.0.0.1 5000 typ host",
               "foundation");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ srflx raddr 10.0.0.2 rport", "value");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ srflx raddr 10.0.0.2", "together");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ srflx raddr 10.0.0.2 generation 0",
               "together");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ srflx rport 70000 raddr 10.0.0.2", "rport");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ srflx raddr x_y rport 1", "raddr");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ srflx raddr 1.1.1.1 rport 1 raddr 1.1.1.1",
               "duplicate");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ host tcptype active", "UDP");
    expect_bad("candidate:1 1 tcp 1 10.0.0.1 5000 typ host tcptype sideways", "tcptype");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ host generation x", "generation");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ host ufrag a:b", "ufrag");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ host\x01", "control");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ\thost", "control");
    expect_bad("candidate:1 1 udp 1 10.0.0.1 5000 typ host network-id \xc3\xa9", "character");

    memset(longline, 0, sizeof(longline));
    strcpy(longline, "candidate:1 1 udp 1 10.0.0.1 5000 typ host");
    while (strlen(longline) < sizeof(longline) - 16)
        strcat(longline, " x 1");
    expect_bad(longline, "too long");

    memset(longtok, 'a', sizeof(longtok) - 1);
    longtok[sizeof(longtok) - 1] = '\0';
    char line[ICE_CAND_MAX_LINE];
    snprintf(line, sizeof(line), "candidate:1 1 udp 1 10.0.0.1 5000 typ host x %s", longtok);
    expect_bad(line, "token");

    /* Many short tokens within the length limit. */
    strcpy(line, "candidate:1 1 udp 1 10.0.0.1 5000 typ host");
    while (strlen(line) < sizeof(line) - 8)
        strcat(line, " a b");
    expect_bad(line, "token");

    struct ice_candidate c;
    assert_int_equal(ice_candidate_parse(NULL, "candidate:1", NULL), EINVAL);
    assert_int_equal(ice_candidate_parse(&c, NULL, NULL), EINVAL);
}

static void format_bounds(void **state)
{
    struct ice_candidate c;
    char small[20], buf[ICE_CAND_MAX_LINE];

    parse_ok("candidate:1 1 udp 2122260223 10.0.0.1 5000 typ srflx raddr 10.0.0.2 rport 6000", &c);
    assert_int_equal(ice_candidate_format(&c, small, sizeof(small)), EOVERFLOW);
    assert_int_equal(strlen(small), sizeof(small) - 1);

    /* Exactly enough room. */
    assert_int_equal(ice_candidate_format(&c, buf, sizeof(buf)), 0);
    size_t need = strlen(buf) + 1;
    assert_int_equal(ice_candidate_format(&c, buf, need), 0);
    assert_int_equal(ice_candidate_format(&c, buf, need - 1), EOVERFLOW);

    /* What the parser refuses, format refuses too. */
    struct ice_candidate bad = c;
    bad.port = 0;
    assert_int_equal(ice_candidate_format(&bad, buf, sizeof(buf)), EINVAL);
    bad = c;
    strcpy(bad.address, "not an address!");
    assert_int_equal(ice_candidate_format(&bad, buf, sizeof(buf)), EINVAL);
    bad = c;
    bad.tcptype = ICE_TCPTYPE_ACTIVE;
    assert_int_equal(ice_candidate_format(&bad, buf, sizeof(buf)), EINVAL);
    bad = c;
    bad.foundation[0] = '\0';
    assert_int_equal(ice_candidate_format(&bad, buf, sizeof(buf)), EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chromium_host),     cmocka_unit_test(chromium_srflx_and_relay),
        cmocka_unit_test(chromium_tcp),      cmocka_unit_test(mdns_host),
        cmocka_unit_test(ipv6_and_prefixes), cmocka_unit_test(garbage),
        cmocka_unit_test(format_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
