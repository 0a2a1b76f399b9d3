/*
 * Config validation: every rule with its exact message and line, defaults, collecting many
 * problems in one run, and the YAML features that are refused.
 */
#include "config_test_util.h"

#include <sys/socket.h>

#include "media/ice.h"

static void minimal_config_gets_defaults(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    int err = load_text(BASE, &cfg, &d);
    dump_diag(&d);
    assert_int_equal(err, 0);
    assert_non_null(cfg);
    expect_count(&d, 0);

    assert_string_equal(cfg->matrix.homeserver, "http://127.0.0.1:8008");
    assert_string_equal(cfg->matrix.user_id, "@switchboard:example.org");
    assert_string_equal(cfg->matrix.access_token, "syt_secret_token_value");
    assert_null(cfg->matrix.access_token_file);
    assert_int_equal(cfg->matrix.allowed_users.n, 1);
    assert_string_equal(cfg->matrix.allowed_users.v[0], "@*:example.org");
    assert_int_equal(cfg->matrix.sync_timeout_ms, 30000);
    assert_string_equal(cfg->media.ip, "127.0.0.1");
    assert_int_equal(cfg->media.ip_family, AF_INET);
    assert_int_equal(cfg->media.port_min, 20000);
    assert_int_equal(cfg->media.port_max, 20999);
    assert_int_equal(cfg->media.workers, 0);
    assert_int_equal(cfg->media.media_timeout_s, 30);
    assert_int_equal(cfg->media.connect_timeout_s, 30);
    assert_int_equal(cfg->media.ice, ICE_MODE_LITE);
    assert_int_equal(cfg->conference.mixer_threads, 1);
    assert_int_equal(cfg->conference.opus_bitrate, 32000);
    assert_int_equal(cfg->conference.opus_complexity, 5);
    assert_int_equal(cfg->calls.invite_lifetime_ms, 60000);
    assert_int_equal(cfg->log_level, LOG_LVL_INFO);

    char want[512];
    snprintf(want, sizeof(want), "%s/state", tdir);
    assert_string_equal(cfg->state_dir, want);
    assert_string_equal(cfg->dir, tdir);
    mem_deref(cfg);
    config_diag_reset(&d);
}

static void every_key_is_read(void **state)
{
    /* state_dir is absolute here; only its parent has to exist, so it lives in tdir. */
    char text[2048];
    snprintf(text, sizeof(text),
             "# comment\n"
             "matrix:\n"
             "  homeserver: https://matrix.example.org:8448/prefix//\n"
             "  user_id: '@bot:example.org'\n"
             "  access_token: \"abc\"\n"
             "  allowed_users:\n"
             "    - \"@admin:example.org\"\n"
             "    - \"@*:corp.example\"\n"
             "    - \"*\"\n"
             "  sync_timeout_ms: 0\n"
             "state_dir: %s/switchboard\n"
             "media:\n"
             "  ip: \"::1\"\n"
             "  port_min: 1\n"
             "  port_max: 65535\n"
             "  workers: 4\n"
             "  media_timeout_s: 10\n"
             "  connect_timeout_s: 15\n"
             "  ice: full\n"
             "conference:\n"
             "  mixer_threads: 2\n"
             "  opus_bitrate: 64000\n"
             "  opus_complexity: 10\n"
             "calls:\n"
             "  invite_lifetime_ms: 90000\n"
             "log_level: debug\n",
             tdir);
    struct config *cfg = NULL;
    struct config_diag d = {0};
    int err = load_text(text, &cfg, &d);
    dump_diag(&d);
    assert_int_equal(err, 0);

    /* Trailing slashes go, so callers can append "/_matrix/...". */
    assert_string_equal(cfg->matrix.homeserver, "https://matrix.example.org:8448/prefix");
    assert_string_equal(cfg->matrix.user_id, "@bot:example.org");
    assert_string_equal(cfg->matrix.access_token, "abc");
    assert_int_equal(cfg->matrix.allowed_users.n, 3);
    assert_string_equal(cfg->matrix.allowed_users.v[1], "@*:corp.example");
    assert_string_equal(cfg->matrix.allowed_users.v[2], "*");
    assert_int_equal(cfg->matrix.sync_timeout_ms, 0);
    char want[512];
    snprintf(want, sizeof(want), "%s/switchboard", tdir);
    assert_string_equal(cfg->state_dir, want);
    assert_string_equal(cfg->media.ip, "::1");
    assert_int_equal(cfg->media.ip_family, AF_INET6);
    assert_int_equal(cfg->media.port_min, 1);
    assert_int_equal(cfg->media.port_max, 65535);
    assert_int_equal(cfg->media.workers, 4);
    assert_int_equal(cfg->media.media_timeout_s, 10);
    assert_int_equal(cfg->media.connect_timeout_s, 15);
    assert_int_equal(cfg->media.ice, ICE_MODE_FULL);
    assert_int_equal(cfg->conference.mixer_threads, 2);
    assert_int_equal(cfg->conference.opus_bitrate, 64000);
    assert_int_equal(cfg->conference.opus_complexity, 10);
    assert_int_equal(cfg->calls.invite_lifetime_ms, 90000);
    assert_int_equal(cfg->log_level, LOG_LVL_DEBUG);
    mem_deref(cfg);
    config_diag_reset(&d);
}

static void example_config_loads(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    int err = config_load(&cfg, SB_SOURCE_DIR "/switchboard.example.yaml", &d);
    dump_diag(&d);
    assert_int_equal(err, 0);
    assert_non_null(cfg);
    expect_count(&d, 0);
    assert_non_null(cfg->matrix.access_token);
    assert_true(cfg->matrix.allowed_users.n >= 1);
    mem_deref(cfg);
    config_diag_reset(&d);
}

static void unknown_keys(void **state)
{
    expect_only(BASE "frobnicate: 1\n", 9, "unknown key 'frobnicate'");
    expect_only("matrix:\n"
                "  homserver: http://127.0.0.1:8008\n"
                "  homeserver: http://127.0.0.1:8008\n"
                "  user_id: \"@switchboard:example.org\"\n"
                "  access_token: x\n"
                "  allowed_users: [\"@*:example.org\"]\n" BASE_REST,
                2, "unknown key 'homserver' in matrix");
    expect_only(BASE "  prot_min: 5\n", 9, "unknown key 'prot_min' in media");
    /* Keys are quoted with control characters escaped. */
    expect_only(BASE "\"a\\nb\": 1\n", 9, "unknown key 'a\\x0ab'");
    expect_only(BASE "? [a, b]\n: 1\n", 9, "keys must be strings, got a list");
}

static void wrong_types(void **state)
{
    expect_only(BASE "  port_min: \"20000\"\n", 9,
                "media.port_min: expected an integer, got a string");
    expect_only(BASE "  port_min: 20000.5\n", 9,
                "media.port_min: expected an integer, got a float");
    expect_only(BASE "  port_min: true\n", 9, "media.port_min: expected an integer, got a boolean");
    expect_only(BASE "  port_min:\n", 9, "media.port_min: expected an integer, got null");
    expect_only(BASE "  port_min: [1]\n", 9, "media.port_min: expected an integer, got a list");
    expect_only(BASE "  ip2: {a: 1}\n", 9, "unknown key 'ip2' in media");
    expect_only(BASE "log_level: 3\n", 9, "log_level: expected a string, got an integer");
    expect_only(BASE "conference: 5\n", 9, "conference: expected a mapping, got an integer");
    expect_only(BASE "calls: []\n", 9, "calls: expected a mapping, got a list");
    expect_only("matrix:\n"
                "  homeserver: 8008\n"
                "  user_id: \"@switchboard:example.org\"\n"
                "  access_token: x\n"
                "  allowed_users: [\"@*:example.org\"]\n" BASE_REST,
                2, "matrix.homeserver: expected a string, got an integer");
    expect_only("matrix:\n"
                "  homeserver: http://127.0.0.1:8008\n"
                "  user_id: \"@switchboard:example.org\"\n"
                "  access_token: x\n"
                "  allowed_users: \"@*:example.org\"\n" BASE_REST,
                5, "matrix.allowed_users: expected a list of strings, got a string");
    expect_only("matrix:\n"
                "  homeserver: http://127.0.0.1:8008\n"
                "  user_id: \"@switchboard:example.org\"\n"
                "  access_token: x\n"
                "  allowed_users:\n"
                "    - \"@a:example.org\"\n"
                "    - 42\n" BASE_REST,
                7, "matrix.allowed_users[1]: expected a string, got an integer");
    /* A section that is a list: its keys are not looked at, nothing else is reported. */
    expect_only("matrix: [1, 2]\n" BASE_REST, 1, "matrix: expected a mapping, got a list");
}

static void duplicate_keys(void **state)
{
    expect_only(BASE "  port_min: 1000\n  port_min: 2000\n", 10,
                "duplicate key 'port_min' in media (first at line 9)");
    expect_only(BASE "state_dir: /x\n", 9, "duplicate key 'state_dir' (first at line 6)");
    /* The first value is the one checked and kept. */
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(BASE "media:\n  ip: 10.0.0.1\n", &cfg, &d), EBADMSG);
    expect_problem(&d, 9, "duplicate key 'media' (first at line 7)");
    expect_count(&d, 1);
    config_diag_reset(&d);
}

static void missing_required_keys(void **state)
{
    /* At the line of the section that lacks them. */
    expect_only("matrix:\n"
                "  user_id: \"@switchboard:example.org\"\n"
                "  access_token: x\n"
                "  allowed_users: [\"@*:example.org\"]\n" BASE_REST,
                1, "missing required key 'homeserver' in matrix");
    expect_only(BASE_MATRIX "state_dir: ./state\n"
                            "media:\n"
                            "  port_min: 20000\n",
                7, "missing required key 'ip' in media");
    /* Top-level keys at line 1. */
    expect_only(BASE_MATRIX "media:\n  ip: 127.0.0.1\n", 1, "missing required key 'state_dir'");
    expect_only(BASE_MATRIX "state_dir: ./state\n", 1, "missing required key 'media'");

    /* "media:" with every key commented out counts as present but empty. */
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(BASE_MATRIX "state_dir: ./state\n"
                                           "media:\n"
                                           "#  ip: 127.0.0.1\n",
                               &cfg, &d),
                     EBADMSG);
    expect_problem(&d, 7, "missing required key 'ip' in media");
    expect_count(&d, 1);

    /* An empty matrix section lists everything it lacks. */
    assert_int_equal(load_text("matrix:\n" BASE_REST, &cfg, &d), EBADMSG);
    expect_problem(&d, 1, "missing required key 'homeserver' in matrix");
    expect_problem(&d, 1, "missing required key 'user_id' in matrix");
    expect_problem(&d, 1, "missing required key 'allowed_users' in matrix");
    expect_problem(&d, 1, "missing required key 'access_token' or 'access_token_file' in matrix");
    expect_count(&d, 4);
    config_diag_reset(&d);
}

static void many_problems_in_one_run(void **state)
{
    const char *text = "matrix:\n"                    /* 1 */
                       "  homeserver: ftp://hs\n"     /* 2 */
                       "  user_id: \"switchboard\"\n" /* 3 */
                       "  allowed_users: []\n"        /* 4 */
                       "media:\n"                     /* 5 */
                       "  ip: 999.1.1.1\n"            /* 6 */
                       "  port_min: 70000\n"          /* 7 */
                       "  porrt_max: 3\n"             /* 8 */
                       "conference:\n"                /* 9 */
                       "  opus_complexity: 11\n"      /* 10 */
                       "log_level: verbose\n";        /* 11 */
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(text, &cfg, &d), EBADMSG);
    assert_null(cfg);
    expect_problem(&d, 1, "missing required key 'access_token' or 'access_token_file' in matrix");
    expect_problem(&d, 1, "missing required key 'state_dir'");
    expect_problem(&d, 2, "matrix.homeserver: 'ftp://hs' is not an http or https URL");
    expect_problem(&d, 3,
                   "matrix.user_id: 'switchboard' is not a valid Matrix user id (expected "
                   "@localpart:server)");
    expect_problem(&d, 4, "matrix.allowed_users: must list at least one entry");
    expect_problem(&d, 6, "media.ip: '999.1.1.1' is not an IPv4 or IPv6 address");
    expect_problem(&d, 7, "media.port_min: 70000 is out of range (1..65535)");
    expect_problem(&d, 8, "unknown key 'porrt_max' in media");
    expect_problem(&d, 10, "conference.opus_complexity: 11 is out of range (0..10)");
    expect_problem(&d, 11, "log_level: 'verbose' is not one of error, warn, info, debug");
    expect_count(&d, 10);
    /* Sorted by line. */
    for (size_t i = 1; i < d.n; i++)
        assert_true(d.v[i - 1].line <= d.v[i].line);
    config_diag_reset(&d);
}

static void homeserver_rules(void **state)
{
#define HS(url)                                                                                    \
    "matrix:\n  homeserver: " url "\n"                                                             \
    "  user_id: \"@switchboard:example.org\"\n"                                                    \
    "  access_token: x\n"                                                                          \
    "  allowed_users: [\"@*:example.org\"]\n" BASE_REST
    expect_only(HS("matrix.example.org"), 2,
                "matrix.homeserver: 'matrix.example.org' is not an http or https URL");
    expect_only(HS("http://"), 2, "matrix.homeserver: 'http://' does not have a valid host[:port]");
    expect_only(HS("http://hs:0"), 2,
                "matrix.homeserver: 'http://hs:0' does not have a valid host[:port]");
    expect_only(HS("http://hs:65536"), 2,
                "matrix.homeserver: 'http://hs:65536' does not have a valid host[:port]");
    expect_only(HS("\"http://hs/?x=1\""), 2,
                "matrix.homeserver: 'http://hs/?x=1' must be a plain URL (no spaces, query or "
                "fragment)");
    /* Credentials in the URL are refused without being echoed. */
    expect_only(HS("http://bob:hunter2@hs"), 2,
                "matrix.homeserver: must not contain user credentials");
    expect_only(HS("\"\""), 2, "matrix.homeserver: must not be empty");

    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(HS("http://[::1]:8008/"), &cfg, &d), 0);
    assert_string_equal(cfg->matrix.homeserver, "http://[::1]:8008");
    mem_deref(cfg);
    assert_int_equal(load_text(HS("https://hs.example.org"), &cfg, &d), 0);
    assert_string_equal(cfg->matrix.homeserver, "https://hs.example.org");
    mem_deref(cfg);
    config_diag_reset(&d);
#undef HS
}

static void user_id_and_allowed_users_rules(void **state)
{
#define UID(id)                                                                                    \
    "matrix:\n  homeserver: http://hs\n"                                                           \
    "  user_id: " id "\n"                                                                          \
    "  access_token: x\n"                                                                          \
    "  allowed_users: [\"@*:example.org\"]\n" BASE_REST
    expect_only(UID("\"@nocolon\""), 3,
                "matrix.user_id: '@nocolon' is not a valid Matrix user id (expected "
                "@localpart:server)");
    expect_only(UID("\"@:example.org\""), 3,
                "matrix.user_id: '@:example.org' is not a valid Matrix user id (expected "
                "@localpart:server)");
    expect_only(UID("\"@a b:example.org\""), 3,
                "matrix.user_id: '@a b:example.org' is not a valid Matrix user id (expected "
                "@localpart:server)");
    expect_only(UID("\"@a:exa mple.org\""), 3,
                "matrix.user_id: '@a:exa mple.org' is not a valid Matrix user id (expected "
                "@localpart:server)");
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(UID("\"@a.b_c=d-e/f+g:[::1]:8448\""), &cfg, &d), 0);
    mem_deref(cfg);
    config_diag_reset(&d);
#undef UID

    assert_int_equal(load_text("matrix:\n"
                               "  homeserver: http://hs\n"
                               "  user_id: \"@bot:hs\"\n"
                               "  access_token: x\n"
                               "  allowed_users:\n"
                               "    - \"@ok:hs\"\n"
                               "    - example.org\n"
                               "    - \"\"\n" BASE_REST,
                               &cfg, &d),
                     EBADMSG);
    expect_problem(&d, 7,
                   "matrix.allowed_users[1]: 'example.org' is not a user id pattern (like "
                   "'@*:example.org')");
    expect_problem(&d, 8, "matrix.allowed_users[2]: must not be empty");
    expect_count(&d, 2);
    config_diag_reset(&d);
}

static void media_rules(void **state)
{
    expect_only(BASE "  port_min: 21000\n", 9,
                "media: port_min (21000) is greater than port_max (20999)");
    expect_only(BASE "  port_max: 30000\n  port_min: 30001\n", 9,
                "media: port_min (30001) is greater than port_max (30000)");
    expect_only(BASE "  port_min: 0\n", 9, "media.port_min: 0 is out of range (1..65535)");
    expect_only(BASE "  port_max: 99999999999999999999999\n", 9,
                "media.port_max: 99999999999999999999999 is out of range (1..65535)");
    expect_only(BASE "  workers: -1\n", 9, "media.workers: -1 is out of range (0..256)");
    expect_only(BASE "  media_timeout_s: 0\n", 9,
                "media.media_timeout_s: 0 is out of range (1..3600)");
    expect_only(BASE "  ice: bogus\n", 9, "media.ice: 'bogus' is not one of lite, full");
    /* A bad port is reported once; the order check does not pile on. */
    expect_only(BASE "  port_min: 70000\n  port_max: 10\n", 9,
                "media.port_min: 70000 is out of range (1..65535)");

    const char *ip_base = BASE_MATRIX "state_dir: ./state\nmedia:\n  ip: ";
    char text[1024];
    snprintf(text, sizeof(text), "%s0.0.0.0\n", ip_base);
    expect_only(text, 8,
                "media.ip: '0.0.0.0' is the unspecified address; give the address peers send "
                "media to");
    snprintf(text, sizeof(text), "%s\"::\"\n", ip_base);
    expect_only(text, 8,
                "media.ip: '::' is the unspecified address; give the address peers send media to");
    snprintf(text, sizeof(text), "%slocalhost\n", ip_base);
    expect_only(text, 8, "media.ip: 'localhost' is not an IPv4 or IPv6 address");
}

static void secrets_are_never_printed(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    const char *text = "matrix:\n"
                       "  homeserver: http://hs\n"
                       "  user_id: \"@bot:hs\"\n"
                       "  access_token: \"hunter2 secret\"\n"
                       "  allowed_users: [\"@*:hs\"]\n" BASE_REST;
    assert_int_equal(load_text(text, &cfg, &d), EBADMSG);
    expect_problem(&d, 4,
                   "matrix.access_token: may only contain printable ASCII characters without "
                   "spaces");
    expect_count(&d, 1);

    text = "matrix:\n"
           "  homeserver: http://hs\n"
           "  user_id: \"@bot:hs\"\n"
           "  access_token: \"hunter2\\nX-Injected: 1\"\n"
           "  allowed_users: [\"@*:hs\"]\n" BASE_REST;
    assert_int_equal(load_text(text, &cfg, &d), EBADMSG);
    expect_problem(&d, 4, "matrix.access_token: contains control characters");

    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    config_diag_print(&d, f);
    fclose(f);
    assert_null(strstr(out, "hunter2"));
    free(out);
    config_diag_reset(&d);
}

static void yaml_syntax_errors_carry_libyaml_line(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(BASE "  port_min: [1, 2\n"
                                    "log_level: info\n",
                               &cfg, &d),
                     EBADMSG);
    expect_count(&d, 1);
    assert_int_equal(d.v[0].line, 10);
    assert_non_null(strstr(d.v[0].msg, "YAML syntax error: "));

    assert_int_equal(load_text("matrix:\n  a: b\n c: d\n", &cfg, &d), EBADMSG);
    expect_count(&d, 1);
    assert_int_equal(d.v[0].line, 3);
    assert_non_null(strstr(d.v[0].msg, "YAML syntax error: "));

    /* Tabs for indentation and a bare '@' are classics, and get a hint. */
    assert_int_equal(load_text("matrix:\n\thomeserver: x\n", &cfg, &d), EBADMSG);
    expect_count(&d, 1);
    assert_int_equal(d.v[0].line, 2);
    assert_non_null(strstr(d.v[0].msg, "; indent with spaces, not tabs"));
    assert_int_equal(load_text("matrix:\n  homeserver: http://hs\n  user_id: @bot:hs\n", &cfg, &d),
                     EBADMSG);
    expect_problem(&d, 3,
                   "YAML syntax error: found character that cannot start any token (while "
                   "scanning for the next token); values starting with '@' or '`' must be quoted");
    expect_count(&d, 1);

    /* Invalid UTF-8 is reported at its line. */
    assert_int_equal(load_text("a: 1\nb: 2\nc: \xff\n", &cfg, &d), EBADMSG);
    expect_count(&d, 1);
    assert_int_equal(d.v[0].line, 3);
    assert_non_null(strstr(d.v[0].msg, "invalid text: "));
    config_diag_reset(&d);
}

static void anchors_aliases_tags_refused(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    const char *text = "matrix:\n"                                       /* 1 */
                       "  homeserver: &hs http://127.0.0.1:8008\n"       /* 2 */
                       "  user_id: !!str \"@switchboard:example.org\"\n" /* 3 */
                       "  access_token: *hs\n"                           /* 4 */
                       "  allowed_users: [\"@*:example.org\"]\n"         /* 5 */
        BASE_REST;
    assert_int_equal(load_text(text, &cfg, &d), EBADMSG);
    assert_null(cfg);
    expect_problem(&d, 2, "YAML anchors (&name) are not supported");
    expect_problem(&d, 3, "YAML tags (!tag) are not supported");
    expect_problem(&d, 4, "YAML aliases (*name) are not supported");
    expect_count(&d, 3);
    config_diag_reset(&d);
}

static void top_level_must_be_a_mapping(void **state)
{
    expect_only("", 1, "no settings in the file; expected a mapping (key: value)");
    expect_only("# only a comment\n\n", 1,
                "no settings in the file; expected a mapping (key: value)");
    expect_only("~\n", 1, "no settings in the file; expected a mapping (key: value)");
    expect_only("\n- a\n- b\n", 2, "the top level must be a mapping (key: value), got a list");
    expect_only("hello\n", 1, "the top level must be a mapping (key: value), got a string");
    expect_only(BASE "---\na: 1\n", 9, "more than one YAML document; a config file holds one");
}

static void strings_with_nul_or_controls(void **state)
{
    const char *pre = BASE_MATRIX "state_dir: ./state\nmedia:\n  ip: ";
    char text[1024];
    snprintf(text, sizeof(text), "%s\"127.0.0.1\\0x\"\n", pre);
    expect_only(text, 8, "media.ip: contains a NUL character");
    snprintf(text, sizeof(text), "%s\"127.0.0.1\\t\"\n", pre);
    expect_only(text, 8, "media.ip: contains control characters");
}

static void limits(void **state)
{
    /* Deep nesting stops at a fixed depth instead of costing stack or memory. */
    char deep[256];
    size_t at = (size_t)snprintf(deep, sizeof(deep), "a: ");
    for (int i = 0; i < 40; i++)
        deep[at++] = '[';
    deep[at++] = '\n';
    deep[at] = '\0';
    expect_only(deep, 1, "nesting deeper than 32 levels");

    /* Problems past the cap are counted, not kept, and the print says so. */
    size_t cap = 300 * 16 + 64;
    char *many = malloc(cap);
    assert_non_null(many);
    at = 0;
    for (int i = 0; i < 300; i++)
        at += (size_t)snprintf(many + at, cap - at, "k%d: 1\n", i);
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(load_text(many, &cfg, &d), EBADMSG);
    assert_int_equal(d.n, CONFIG_DIAG_MAX);
    assert_true(d.dropped > 0);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    config_diag_print(&d, f);
    fclose(f);
    assert_non_null(strstr(out, "more problems not shown\n"));
    free(out);
    free(many);
    config_diag_reset(&d);
}

static void parse_buffer_entry_point(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(config_parse_buffer(&cfg, BASE, strlen(BASE), "mem.yaml", tdir, &d), 0);
    assert_string_equal(cfg->path, "mem.yaml");
    char want[512];
    snprintf(want, sizeof(want), "%s/state", tdir);
    assert_string_equal(cfg->state_dir, want);
    mem_deref(cfg);

    assert_int_equal(config_parse_buffer(&cfg, "x: 1\n", 5, "mem.yaml", NULL, &d), EBADMSG);
    assert_string_equal(d.file, "mem.yaml");
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    config_diag_print(&d, f);
    fclose(f);
    assert_string_equal(out, "mem.yaml:1: unknown key 'x'\n"
                             "mem.yaml:1: missing required key 'matrix'\n"
                             "mem.yaml:1: missing required key 'state_dir'\n"
                             "mem.yaml:1: missing required key 'media'\n");
    free(out);

    /* Without a diag the result still says what happened. */
    assert_int_equal(config_parse_buffer(&cfg, "- 1\n", 4, NULL, NULL, NULL), EBADMSG);
    assert_int_equal(config_parse_buffer(NULL, "", 0, NULL, NULL, NULL), EINVAL);
    config_diag_reset(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(minimal_config_gets_defaults, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(every_key_is_read, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(example_config_loads, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(unknown_keys, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(wrong_types, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(duplicate_keys, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(missing_required_keys, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(many_problems_in_one_run, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(homeserver_rules, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(user_id_and_allowed_users_rules, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(media_rules, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(secrets_are_never_printed, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(yaml_syntax_errors_carry_libyaml_line, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(anchors_aliases_tags_refused, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(top_level_must_be_a_mapping, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(strings_with_nul_or_controls, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(limits, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(parse_buffer_entry_point, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
