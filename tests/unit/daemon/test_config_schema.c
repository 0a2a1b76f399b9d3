/*
 * The table engine on its own, with a made-up section shaped like the coming sip: one (a list
 * of trunks with secrets and booleans), so the types switchboard's schema does not use yet are
 * covered too; plus the path and quoting helpers.
 */
#include "config_test_util.h"

#include "daemon/config_schema.h"
#include "daemon/config_yaml.h"

struct trunk {
    char *name;
    char *password;
    bool do_register;
    int expires;
    struct config_strv codecs;
};

struct sipcfg {
    struct config_list trunks;
    char *ca_file;
    bool enabled;
    int transport;
};

static unsigned checks_run;

static void check_trunk(struct config_ctx *ctx, const char *path, unsigned line,
                        const struct config_seen *seen, void *obj)
{
    struct trunk *t = obj;
    checks_run++;
    if (t->do_register && !t->password)
        config_error(ctx, line, "%s: register needs a password", path);
}

static const struct config_field trunk_fields[] = {
    {.key = "name",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_REQUIRED,
     .offset = offsetof(struct trunk, name)},
    {.key = "password",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_SECRET,
     .offset = offsetof(struct trunk, password)},
    {.key = "register", .type = CONFIG_T_BOOL, .offset = offsetof(struct trunk, do_register)},
    {.key = "expires",
     .type = CONFIG_T_INT,
     .offset = offsetof(struct trunk, expires),
     .min = 60,
     .max = 86400,
     .def = 3600},
    {.key = "codecs", .type = CONFIG_T_STRV, .offset = offsetof(struct trunk, codecs)},
};

static const struct config_section trunk_section = {
    .fields = trunk_fields,
    .nfields = sizeof(trunk_fields) / sizeof(trunk_fields[0]),
    .size = sizeof(struct trunk),
    .check = check_trunk,
};

static const char *const transports[] = {"udp", "tcp", "tls", NULL};

static const struct config_field sip_fields[] = {
    {.key = "trunks",
     .type = CONFIG_T_LIST,
     .flags = CONFIG_F_NONEMPTY,
     .offset = offsetof(struct sipcfg, trunks),
     .sub = &trunk_section},
    {.key = "ca_file",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_PATH,
     .offset = offsetof(struct sipcfg, ca_file),
     .def_str = "ca.pem"},
    {.key = "enabled", .type = CONFIG_T_BOOL, .offset = offsetof(struct sipcfg, enabled), .def = 1},
    {.key = "transport",
     .type = CONFIG_T_ENUM,
     .offset = offsetof(struct sipcfg, transport),
     .names = transports,
     .def = 0},
};

static const struct config_section sip_section = {
    .fields = sip_fields,
    .nfields = sizeof(sip_fields) / sizeof(sip_fields[0]),
    .size = sizeof(struct sipcfg),
};

/* Parses text and applies sip_section to *out; returns the number of problems. */
static unsigned apply(const char *text, struct sipcfg *out, struct config_diag *d)
{
    config_diag_reset(d);
    memset(out, 0, sizeof(*out));
    struct config_node *root = NULL;
    assert_int_equal(config_yaml_parse(&root, text, strlen(text), d), 0);
    struct config_ctx ctx = {.diag = d, .dir = "/etc/sb"};
    config_schema_apply(&ctx, &sip_section, root, "sip", 1, out);
    mem_deref(root);
    config_diag_sort(d);
    return ctx.problems;
}

static void lists_of_sections(void **state)
{
    struct sipcfg s;
    struct config_diag d = {0};
    checks_run = 0;
    unsigned n = apply("trunks:\n"
                       "  - name: a\n"
                       "    password: \"p w\"\n"
                       "    register: true\n"
                       "    codecs: [opus, pcma]\n"
                       "  - name: b\n"
                       "    expires: 120\n"
                       "transport: tls\n"
                       "enabled: false\n",
                       &s, &d);
    dump_diag(&d);
    assert_int_equal(n, 0);
    assert_int_equal(checks_run, 2);
    assert_int_equal(s.trunks.n, 2);
    struct trunk *t = s.trunks.v;
    assert_string_equal(t[0].name, "a");
    assert_string_equal(t[0].password, "p w");
    assert_true(t[0].do_register);
    assert_int_equal(t[0].expires, 3600);
    assert_int_equal(t[0].codecs.n, 2);
    assert_string_equal(t[0].codecs.v[1], "pcma");
    assert_string_equal(t[1].name, "b");
    assert_null(t[1].password);
    assert_false(t[1].do_register);
    assert_int_equal(t[1].expires, 120);
    assert_int_equal(t[1].codecs.n, 0);
    assert_int_equal(s.transport, 2);
    assert_false(s.enabled);
    /* String defaults go through path resolution like given values. */
    assert_string_equal(s.ca_file, "/etc/sb/ca.pem");
    config_schema_free(&sip_section, &s);
    assert_null(s.trunks.v);
    config_diag_reset(&d);
}

static void problems_inside_list_elements(void **state)
{
    struct sipcfg s;
    struct config_diag d = {0};
    unsigned n = apply("trunks:\n"                   /* 1 */
                       "  - name: a\n"               /* 2 */
                       "    register: yes\n"         /* 3 */
                       "  - password: \"hunter2\"\n" /* 4 */
                       "    register: true\n"        /* 5 */
                       "    bogus: 1\n"              /* 6 */
                       "  - just a string\n"         /* 7 */
                       "  - name: c\n"               /* 8 */
                       "    name: d\n"               /* 9 */
                       "enabled: 1\n",               /* 10 */
                       &s, &d);
    expect_problem(&d, 3, "sip.trunks[0].register: expected a boolean, got a string");
    expect_problem(&d, 4, "missing required key 'name' in sip.trunks[1]");
    expect_problem(&d, 6, "unknown key 'bogus' in sip.trunks[1]");
    expect_problem(&d, 7, "sip.trunks[2]: expected a mapping, got a string");
    expect_problem(&d, 9, "duplicate key 'name' in sip.trunks[3] (first at line 8)");
    expect_problem(&d, 10, "sip.enabled: expected a boolean, got an integer");
    expect_count(&d, 6);
    assert_int_equal(n, 6);
    /* Bad elements still leave fully initialised structs behind (defaults), so free works. */
    struct trunk *t = s.trunks.v;
    assert_int_equal(s.trunks.n, 4);
    assert_int_equal(t[2].expires, 3600);
    assert_true(s.enabled); /* the default, since the given value was refused */
    config_schema_free(&sip_section, &s);

    n = apply("trunks: []\n", &s, &d);
    expect_problem(&d, 1, "sip.trunks: must list at least one entry");
    expect_count(&d, 1);
    config_schema_free(&sip_section, &s);

    n = apply("trunks: {name: a}\ntransport: sctp\n", &s, &d);
    expect_problem(&d, 1, "sip.trunks: expected a list of mappings, got a mapping");
    expect_problem(&d, 2, "sip.transport: 'sctp' is not one of udp, tcp, tls");
    expect_count(&d, 2);
    config_schema_free(&sip_section, &s);
    config_diag_reset(&d);
}

static void absent_section_gets_defaults(void **state)
{
    struct sipcfg s;
    struct config_diag d = {0};
    memset(&s, 0, sizeof(s));
    struct config_ctx ctx = {.diag = &d, .dir = NULL};
    config_schema_apply(&ctx, &sip_section, NULL, "sip", 1, &s);
    assert_int_equal(ctx.problems, 0);
    assert_true(s.enabled);
    assert_string_equal(s.ca_file, "ca.pem"); /* no folder: left relative */
    assert_int_equal(s.trunks.n, 0);
    config_schema_free(&sip_section, &s);
    config_diag_reset(&d);
}

static void resolve_paths(void **state)
{
    char *p;
    p = config_resolve_path("/etc/sb", "state");
    assert_string_equal(p, "/etc/sb/state");
    mem_deref(p);
    p = config_resolve_path("/etc/sb/", "./././state");
    assert_string_equal(p, "/etc/sb/state");
    mem_deref(p);
    p = config_resolve_path("/etc/sb", ".//x");
    assert_string_equal(p, "/etc/sb/x");
    mem_deref(p);
    p = config_resolve_path("/etc/sb", "../x");
    assert_string_equal(p, "/etc/sb/../x");
    mem_deref(p);
    p = config_resolve_path("/etc/sb", ".");
    assert_string_equal(p, "/etc/sb");
    mem_deref(p);
    p = config_resolve_path("/", "x");
    assert_string_equal(p, "/x");
    mem_deref(p);
    p = config_resolve_path("/etc/sb", "/abs/x");
    assert_string_equal(p, "/abs/x");
    mem_deref(p);
    p = config_resolve_path(NULL, "rel/x");
    assert_string_equal(p, "rel/x");
    mem_deref(p);
    assert_null(config_resolve_path("/etc", NULL));
}

static void quoting(void **state)
{
    char q[32];
    assert_string_equal(config_quote(q, sizeof(q), "abc", 3), "abc");
    assert_string_equal(config_quote(q, sizeof(q), "a\nb\\c", 5), "a\\x0ab\\x5cc");
    assert_string_equal(config_quote(q, sizeof(q), "a\0b", 3), "a\\x00b");
    const char *longer = "0123456789012345678901234567890123456789";
    const char *r = config_quote(q, sizeof(q), longer, strlen(longer));
    assert_true(strlen(r) < sizeof(q));
    assert_non_null(strstr(r, "..."));
    assert_int_equal(strncmp(r, "0123456789", 10), 0);
}

static void scalar_types(void **state)
{
    struct config_diag d = {0};
    struct config_node *root = NULL;
    const char *text = "a: [~, null, '', true, FALSE, 12, -3, +4, 1.5, .5, 1e3, .inf, 0x10, 1_0,"
                       " yes, \"12\", 'true', abc, 1.2.3]\n";
    assert_int_equal(config_yaml_parse(&root, text, strlen(text), &d), 0);
    const struct config_node *a = config_node_get(root, "a");
    assert_non_null(a);
    static const enum config_scalar_type want[] = {
        CONFIG_SCALAR_NULL,   CONFIG_SCALAR_NULL,   CONFIG_SCALAR_STRING, CONFIG_SCALAR_BOOL,
        CONFIG_SCALAR_BOOL,   CONFIG_SCALAR_INT,    CONFIG_SCALAR_INT,    CONFIG_SCALAR_INT,
        CONFIG_SCALAR_FLOAT,  CONFIG_SCALAR_FLOAT,  CONFIG_SCALAR_FLOAT,  CONFIG_SCALAR_FLOAT,
        CONFIG_SCALAR_STRING, CONFIG_SCALAR_STRING, CONFIG_SCALAR_STRING, CONFIG_SCALAR_STRING,
        CONFIG_SCALAR_STRING, CONFIG_SCALAR_STRING, CONFIG_SCALAR_STRING,
    };
    assert_int_equal(a->n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < a->n; i++) {
        if (a->items[i]->type != want[i])
            print_message("item %zu '%s': type %d, want %d\n", i, a->items[i]->str,
                          a->items[i]->type, want[i]);
        assert_int_equal(a->items[i]->type, want[i]);
    }
    assert_null(config_node_get(root, "b"));
    mem_deref(root);

    /* Only comments: no document, no root, no problem. */
    assert_int_equal(config_yaml_parse(&root, "# x\n", 4, &d), 0);
    assert_null(root);
    expect_count(&d, 0);
    config_diag_reset(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lists_of_sections),
        cmocka_unit_test(problems_inside_list_elements),
        cmocka_unit_test(absent_section_gets_defaults),
        cmocka_unit_test(resolve_paths),
        cmocka_unit_test(quoting),
        cmocka_unit_test(scalar_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
