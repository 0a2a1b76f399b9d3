/*
 * The sip: section: every key as the issue spells it, its defaults, and each rule with its
 * exact message and line (listeners, trunk URIs, CIDRs, passwords and password files, codecs,
 * routes with exactly one destination, dial-string characters, duplicates).
 */
#include "config_test_util.h"

/* BASE is lines 1-8; the sip section starts at line 9. */
#define SIP_HEAD                                                                                   \
    "sip:\n"                                      /* 9 */                                          \
    "  listen: [\"udp:127.0.0.1:5060\"]\n"        /* 10 */                                         \
    "  trunks:\n"                                 /* 11 */                                         \
    "    - name: carrier\n"                       /* 12 */                                         \
    "      allowed_sources: [\"127.0.0.1/32\"]\n" /* 13 */

static void no_sip_section_means_disabled(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(BASE, &cfg, &d), 0);
    assert_false(cfg->sip.enabled);
    assert_int_equal(cfg->sip.trunks.n, 0);
    mem_deref(cfg);
    config_diag_reset(&d);
}

static void the_issue_example_loads(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    int err = load_text(BASE "sip:\n"
                             "  listen: [\"udp:127.0.0.1:5060\", \"tcp:127.0.0.1:5060\"]\n"
                             "  public_ip: 203.0.113.7\n"
                             "  trunks:\n"
                             "    - name: carrier\n"
                             "      registrar: sip:127.0.0.1:5080\n"
                             "      proxy: sip:127.0.0.1:5080\n"
                             "      username: \"switchboard\"\n"
                             "      password: \"s3cret:with colon\"\n"
                             "      from_user: \"+15550100\"\n"
                             "      codecs: [opus, g722, pcmu, pcma]\n"
                             "      srtp: off\n"
                             "      allowed_sources: [\"127.0.0.1/32\"]\n"
                             "  routes:\n"
                             "    inbound:\n"
                             "      - number: \"+15550100\"\n"
                             "        room: \"!abc:example.org\"\n"
                             "      - number: \"+15550101\"\n"
                             "        user: \"@alice:example.org\"\n"
                             "    outbound:\n"
                             "      allowed_users: [\"@*:example.org\"]\n"
                             "      allowed_numbers: [\"+1555*\"]\n",
                        &cfg, &d);
    dump_diag(&d);
    assert_int_equal(err, 0);
    const struct config_sip *s = &cfg->sip;
    assert_true(s->enabled);
    assert_int_equal(s->listen.n, 2);
    assert_string_equal(s->listen.v[1], "tcp:127.0.0.1:5060");
    assert_string_equal(s->public_ip, "203.0.113.7");
    assert_int_equal(s->trunks.n, 1);
    const struct config_sip_trunk *t = &s->trunks.v[0];
    assert_string_equal(t->name, "carrier");
    assert_string_equal(t->registrar, "sip:127.0.0.1:5080");
    assert_string_equal(t->proxy, "sip:127.0.0.1:5080");
    assert_string_equal(t->username, "switchboard");
    assert_string_equal(t->password, "s3cret:with colon");
    assert_null(t->password_file);
    assert_string_equal(t->from_user, "+15550100");
    assert_int_equal(t->codecs.n, 4);
    assert_string_equal(t->codecs.v[0], "opus");
    assert_string_equal(t->codecs.v[3], "pcma");
    assert_int_equal(t->srtp, CONFIG_SIP_SRTP_OFF);
    assert_int_equal(t->allowed_sources.n, 1);
    assert_int_equal(t->register_expires_s, 300);
    assert_int_equal(s->routes.inbound.n, 2);
    assert_string_equal(s->routes.inbound.v[0].number, "+15550100");
    assert_string_equal(s->routes.inbound.v[0].room, "!abc:example.org");
    assert_null(s->routes.inbound.v[0].user);
    assert_string_equal(s->routes.inbound.v[1].user, "@alice:example.org");
    assert_null(s->routes.inbound.v[1].room);
    assert_string_equal(s->routes.outbound.allowed_users.v[0], "@*:example.org");
    assert_string_equal(s->routes.outbound.allowed_numbers.v[0], "+1555*");
    assert_int_equal(s->invite_rate_per_source, 10);
    assert_int_equal(s->session_expires_s, 1800);
    assert_int_equal(s->ring_timeout_s, 60);
    mem_deref(cfg);
    config_diag_reset(&d);
}

static void trunk_defaults(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    int err = load_text(BASE SIP_HEAD "      username: gw\n"
                                      "      password: pw\n"
                                      "      srtp: required\n",
                        &cfg, &d);
    dump_diag(&d);
    assert_int_equal(err, 0);
    const struct config_sip_trunk *t = &cfg->sip.trunks.v[0];
    assert_null(t->registrar);
    assert_null(t->proxy);
    /* from_user defaults to the username; codecs to all four, Opus first. */
    assert_string_equal(t->from_user, "gw");
    assert_int_equal(t->codecs.n, 4);
    assert_string_equal(t->codecs.v[0], "opus");
    assert_string_equal(t->codecs.v[1], "g722");
    assert_string_equal(t->codecs.v[2], "pcmu");
    assert_string_equal(t->codecs.v[3], "pcma");
    assert_int_equal(t->srtp, CONFIG_SIP_SRTP_REQUIRED);
    assert_int_equal(cfg->sip.routes.inbound.n, 0);
    assert_int_equal(cfg->sip.routes.outbound.allowed_numbers.n, 0);
    mem_deref(cfg);
    config_diag_reset(&d);
}

static void password_file(void **state)
{
    char pw[512];
    write_file(pw, sizeof(pw), "sip.pw", "file secret\n\n");
    const char *text = BASE SIP_HEAD "      registrar: sip:192.0.2.1\n"
                                     "      username: gw\n"
                                     "      password_file: sip.pw\n";
    struct config *cfg = NULL;
    struct config_diag d = {0};
    int err = load_text(text, &cfg, &d);
    dump_diag(&d);
    assert_int_equal(err, 0);
    assert_string_equal(cfg->sip.trunks.v[0].password, "file secret");
    assert_string_equal(cfg->sip.trunks.v[0].password_file, pw);
    mem_deref(cfg);
    config_diag_reset(&d);

    char msg[1024];
    snprintf(msg, sizeof(msg),
             "sip.trunks[0].password_file: cannot read '%s/missing.pw': No such file or directory",
             tdir);
    expect_only(BASE SIP_HEAD "      username: gw\n"
                              "      password_file: missing.pw\n",
                15, msg);
    write_file(pw, sizeof(pw), "empty.pw", " \n");
    snprintf(msg, sizeof(msg), "sip.trunks[0].password_file: '%s/empty.pw' is empty", tdir);
    expect_only(BASE SIP_HEAD "      username: gw\n"
                              "      password_file: empty.pw\n",
                15, msg);
    expect_only(BASE SIP_HEAD "      username: gw\n"
                              "      password: a\n"
                              "      password_file: sip.pw\n",
                16, "sip.trunks[0]: set only one of password and password_file");
}

static void credentials_rules(void **state)
{
    expect_only(BASE SIP_HEAD "      registrar: sip:192.0.2.1:5060\n", 14,
                "sip.trunks[0]: a registrar needs a username (and a password)");
    expect_only(BASE SIP_HEAD "      username: gw\n", 14,
                "sip.trunks[0]: username gw given without password or password_file");
    expect_only(BASE SIP_HEAD "      username: \"gw@evil\"\n      password: x\n", 14,
                "sip.trunks[0].username: 'gw@evil' is not a SIP user name (up to 64 of the "
                "characters 0-9 A-Z a-z + * # . _ - ! ~)");
    expect_only(BASE SIP_HEAD "      from_user: \"a;b\"\n", 14,
                "sip.trunks[0].from_user: 'a;b' is not a SIP user name (up to 64 of the "
                "characters 0-9 A-Z a-z + * # . _ - ! ~)");
}

static void password_is_never_quoted(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(BASE SIP_HEAD "      username: gw\n"
                                             "      password: \"hunter2\\x01\"\n",
                               &cfg, &d),
                     EBADMSG);
    expect_problem(&d, 15, "sip.trunks[0].password: contains control characters");
    for (size_t i = 0; i < d.n; i++)
        assert_null(strstr(d.v[i].msg, "hunter2"));
    config_diag_reset(&d);
}

static void listen_rules(void **state)
{
    const char *cases[] = {"udp:127.0.0.1",
                           "sctp:127.0.0.1:5060",
                           "udp:localhost:5060",
                           "udp:127.0.0.1:0",
                           "udp:127.0.0.1:70000",
                           "tcp:::1:5060",
                           "udp:"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024], msg[512];
        snprintf(text, sizeof(text), BASE "sip:\n  listen: [\"%s\"]\n  trunks: [{name: a}]\n",
                 cases[i]);
        snprintf(msg, sizeof(msg),
                 "sip.listen[0]: '%s' is not a listener (expected udp:, tcp: or tls: then "
                 "ADDRESS:PORT, as in \"udp:192.0.2.10:5060\" or \"tcp:[2001:db8::1]:5060\")",
                 cases[i]);
        expect_only(text, 10, msg);
    }
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(BASE "sip:\n"
                                    "  listen: [\"udp:[::1]:5060\", \"tcp:[::1]:5060\", "
                                    "\"udp:127.0.0.1:5070\"]\n"
                                    "  trunks: [{name: a}]\n",
                               &cfg, &d),
                     0);
    mem_deref(cfg);
    config_diag_reset(&d);
    expect_only(BASE "sip:\n"
                     "  listen: [\"udp:127.0.0.1:5060\", \"udp:127.0.0.1:5070\", "
                     "\"tcp:127.0.0.1:5080\"]\n"
                     "  trunks: [{name: a}]\n",
                10,
                "sip.listen: at most 2 different addresses (udp and tcp on one ADDRESS:PORT "
                "count as one, tls as another)");
    expect_only(BASE "sip:\n"
                     "  listen: [\"tls:127.0.0.1:5061\"]\n"
                     "  trunks: [{name: a}]\n",
                10, "sip.listen: a tls: listener needs tls_certificate and tls_key");
    expect_only(BASE "sip:\n"
                     "  listen: [\"udp:127.0.0.1:5060\"]\n"
                     "  tls_certificate: cert.pem\n"
                     "  trunks: [{name: a}]\n",
                11, "sip: tls_certificate and tls_key go together");
    expect_only(BASE "sip:\n  trunks: [{name: a}]\n", 9, "missing required key 'listen' in sip");
    expect_only(BASE "sip:\n  listen: []\n  trunks: [{name: a}]\n", 10,
                "sip.listen: must list at least one entry");
    expect_only(BASE "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n", 9,
                "missing required key 'trunks' in sip");
    expect_only(BASE "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  public_ip: 0.0.0.0\n"
                     "  trunks: [{name: a}]\n",
                11,
                "sip.public_ip: '0.0.0.0' is the unspecified address; give the address peers "
                "send media to");
}

static void uri_rules(void **state)
{
    const char *ok[] = {"sip:127.0.0.1", "sip:sip.example.org:5080", "sips:[2001:db8::1]:5061",
                        "sip:127.0.0.1:5080;transport=tcp"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text), BASE SIP_HEAD "      proxy: \"%s\"\n", ok[i]);
        struct config *cfg = NULL;
        struct config_diag d = {0};
        int err = load_text(text, &cfg, &d);
        dump_diag(&d);
        assert_int_equal(err, 0);
        mem_deref(cfg);
        config_diag_reset(&d);
    }
    const char *bad[] = {
        "http://127.0.0.1", "sip:user@127.0.0.1", "sip:127.0.0.1;lr", "sip:127.0.0.1:99999", "sip:",
        "127.0.0.1:5060"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[1024], msg[512];
        snprintf(text, sizeof(text), BASE SIP_HEAD "      proxy: \"%s\"\n", bad[i]);
        snprintf(msg, sizeof(msg),
                 "sip.trunks[0].proxy: '%s' is not a SIP server URI (expected sip:HOST[:PORT], "
                 "optionally with ;transport=udp, tcp or tls)",
                 bad[i]);
        expect_only(text, 14, msg);
    }
}

static void cidr_rules(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(BASE "sip:\n"
                                    "  listen: [\"udp:127.0.0.1:5060\"]\n"
                                    "  trunks:\n"
                                    "    - name: a\n"
                                    "      allowed_sources: [\"10.0.0.0/8\", \"192.0.2.7\", "
                                    "\"2001:db8::/32\", \"::1\", \"0.0.0.0/0\"]\n",
                               &cfg, &d),
                     0);
    assert_int_equal(cfg->sip.trunks.v[0].allowed_sources.n, 5);
    mem_deref(cfg);
    config_diag_reset(&d);

    const char *bad[] = {"10.0.0.0/33", "10.0.0/8", "example.org",
                         "10.0.0.0/",   "::1/129",  "10.0.0.0/-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[1024], msg[512];
        snprintf(text, sizeof(text),
                 BASE "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  trunks:\n    - name: a\n"
                      "      allowed_sources: [\"%s\"]\n",
                 bad[i]);
        snprintf(msg, sizeof(msg),
                 "sip.trunks[0].allowed_sources[0]: '%s' is not an address or network (expected, "
                 "e.g., 192.0.2.0/24, 2001:db8::/32 or 192.0.2.7)",
                 bad[i]);
        expect_only(text, 13, msg);
    }
    expect_only(BASE "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  trunks:\n    - name: a\n"
                     "      allowed_sources: [\"10.0.0.1/8\"]\n",
                13,
                "sip.trunks[0].allowed_sources[0]: '10.0.0.1/8' has bits set past its /8 prefix");
}

static void codec_and_srtp_rules(void **state)
{
    expect_only(BASE SIP_HEAD "      codecs: [opus, gsm]\n", 14,
                "sip.trunks[0].codecs[1]: 'gsm' is not one of opus, g722, pcmu, pcma");
    expect_only(BASE SIP_HEAD "      codecs: [pcmu, pcmu]\n", 14,
                "sip.trunks[0].codecs: pcmu is listed twice");
    expect_only(BASE SIP_HEAD "      codecs: []\n", 14,
                "sip.trunks[0].codecs: must list at least one entry");
    expect_only(BASE SIP_HEAD "      srtp: sdes\n", 14,
                "sip.trunks[0].srtp: 'sdes' is not one of off, optional, required");
    /* YAML 1.2: a bare off is the string "off", as the issue writes it. */
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(BASE SIP_HEAD "      srtp: optional\n", &cfg, &d), 0);
    assert_int_equal(cfg->sip.trunks.v[0].srtp, CONFIG_SIP_SRTP_OPTIONAL);
    mem_deref(cfg);
    config_diag_reset(&d);
}

static void trunk_names(void **state)
{
    expect_only(BASE SIP_HEAD "    - name: carrier\n", 14,
                "sip.trunks[1]: the name carrier is taken by sip.trunks[0]");
    expect_only(BASE SIP_HEAD "    - name: \"a b\"\n", 14,
                "sip.trunks[1].name: 'a b' is not a trunk name (up to 32 of the characters 0-9 "
                "A-Z a-z . _ -)");
    expect_only(BASE SIP_HEAD "    - proxy: sip:127.0.0.1\n", 14,
                "missing required key 'name' in sip.trunks[1]");
}

static void route_rules(void **state)
{
    expect_only(BASE SIP_HEAD "  routes:\n"
                              "    inbound:\n"
                              "      - number: \"100\"\n"
                              "        room: \"!a:example.org\"\n"
                              "        user: \"@b:example.org\"\n",
                18, "sip.routes.inbound[0]: set only one of room and user");
    expect_only(BASE SIP_HEAD "  routes:\n"
                              "    inbound:\n"
                              "      - number: \"100\"\n",
                16,
                "sip.routes.inbound[0]: set one of room (a conference) and user (a Matrix user)");
    expect_only(BASE SIP_HEAD "  routes:\n"
                              "    inbound:\n"
                              "      - number: \"100\"\n"
                              "        room: \"!a:example.org\"\n"
                              "      - number: \"100\"\n"
                              "        room: \"!b:example.org\"\n",
                18,
                "sip.routes.inbound[1]: the number 100 is routed by sip.routes.inbound[0] already");
    expect_only(BASE SIP_HEAD "  routes:\n"
                              "    inbound:\n"
                              "      - number: \"1@evil.example\"\n"
                              "        room: \"!a:example.org\"\n",
                16,
                "sip.routes.inbound[0].number: '1@evil.example' is not a number (up to 64 of the "
                "characters 0-9 A-Z a-z + * # . _ -)");
    expect_only(BASE SIP_HEAD "  routes:\n"
                              "    inbound:\n"
                              "      - number: \"100\"\n"
                              "        room: \"#alias:example.org\"\n",
                17,
                "sip.routes.inbound[0].room: '#alias:example.org' is not a Matrix room id "
                "(expected !opaque:server; aliases such as #room:server are not accepted)");
    expect_only(BASE SIP_HEAD "  routes:\n"
                              "    outbound:\n"
                              "      allowed_numbers: [\"+1555;user=phone\"]\n",
                16,
                "sip.routes.outbound.allowed_numbers[0]: '+1555;user=phone' is not a number "
                "pattern (up to 64 of the characters 0-9 A-Z a-z + * # . _ - and ?)");
    expect_only(BASE SIP_HEAD "  routes:\n"
                              "    outbound:\n"
                              "      allowed_users: [\"alice\"]\n",
                16,
                "sip.routes.outbound.allowed_users[0]: 'alice' is not a user id pattern (like "
                "'@*:example.org')");
    expect_only(BASE SIP_HEAD "  routes:\n"
                              "    outbound:\n"
                              "      allowed_user: [\"@*:example.org\"]\n",
                16, "unknown key 'allowed_user' in sip.routes.outbound");
}

static void ranges(void **state)
{
    expect_only(BASE SIP_HEAD "  session_expires_s: 60\n", 14,
                "sip.session_expires_s: 60 is out of range (90..86400)");
    expect_only(BASE SIP_HEAD "  invite_rate_per_source: 0\n", 14,
                "sip.invite_rate_per_source: 0 is out of range (1..10000)");
    expect_only(BASE SIP_HEAD "      register_expires_s: 10\n", 14,
                "sip.trunks[0].register_expires_s: 10 is out of range (60..86400)");
}

/* The example file documents the section commented out: with the "# " taken off its lines,
 * it must load as it stands. */
static void example_sip_section_loads(void **state)
{
    FILE *f = fopen(SB_SOURCE_DIR "/switchboard.example.yaml", "r");
    assert_non_null(f);
    char line[1024];
    size_t cap = 256 * 1024, len = 0;
    char *text = calloc(1, cap);
    assert_non_null(text);
    bool in_sip = false, found = false;
    while (fgets(line, sizeof(line), f)) {
        if (strcmp(line, "# sip:\n") == 0)
            in_sip = found = true;
        else if (in_sip && line[0] != '#')
            in_sip = false;
        const char *out = line;
        if (in_sip)
            out = strcmp(line, "#\n") == 0 ? "\n" : line + 2;
        size_t n = strlen(out);
        assert_true(len + n < cap);
        memcpy(text + len, out, n);
        len += n;
    }
    fclose(f);
    assert_true(found);
    struct config *cfg = NULL;
    struct config_diag d = {0};
    int err = load_text(text, &cfg, &d);
    dump_diag(&d);
    assert_int_equal(err, 0);
    assert_true(cfg->sip.enabled);
    assert_int_equal(cfg->sip.trunks.n, 1);
    assert_string_equal(cfg->sip.trunks.v[0].name, "carrier");
    assert_int_equal(cfg->sip.routes.inbound.n, 2);
    assert_int_equal(cfg->sip.routes.outbound.allowed_numbers.n, 1);
    assert_int_equal(cfg->sip.session_expires_s, 1800);
    mem_deref(cfg);
    config_diag_reset(&d);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(no_sip_section_means_disabled, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(the_issue_example_loads, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(trunk_defaults, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(password_file, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(credentials_rules, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(password_is_never_quoted, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(listen_rules, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(uri_rules, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(cidr_rules, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(codec_and_srtp_rules, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(trunk_names, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(route_rules, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(ranges, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(example_sip_section_loads, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
