#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/log.h"

static char last[4096];
static int lines;

static void capture(enum log_level level, const char *line, void *arg)
{
    (void)level;
    (void)arg;
    snprintf(last, sizeof(last), "%s", line);
    lines++;
}

static void context_and_level_appear(void **state)
{
    log_set_sink(capture, NULL);
    log_set_level(LOG_LVL_INFO);
    lines = 0;
    logc_warn("call=c1", "ice %s", "failed");
    assert_int_equal(lines, 1);
    assert_non_null(strstr(last, "warn "));
    assert_non_null(strstr(last, "[call=c1] ice failed"));
    log_set_sink(NULL, NULL);
}

static void level_filters(void **state)
{
    log_set_sink(capture, NULL);
    log_set_level(LOG_LVL_WARN);
    lines = 0;
    log_info("hidden");
    log_debug("hidden");
    log_error("shown");
    assert_int_equal(lines, 1);
    log_set_level(LOG_LVL_INFO);
    log_set_sink(NULL, NULL);
}

static void control_characters_are_escaped(void **state)
{
    log_set_sink(capture, NULL);
    log_info("sdp from peer: %s", "a=x\r\n2026-01-01 error forged");
    assert_null(strchr(last, '\n'));
    assert_null(strchr(last, '\r'));
    assert_non_null(strstr(last, "\\x0d\\x0a"));
    log_set_sink(NULL, NULL);
}

static void level_names_parse(void **state)
{
    enum log_level l;
    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOG_LVL_DEBUG);
    assert_int_not_equal(log_level_parse("verbose", &l), 0);
    assert_int_not_equal(log_level_parse(NULL, &l), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(context_and_level_appear),
        cmocka_unit_test(level_filters),
        cmocka_unit_test(control_characters_are_escaped),
        cmocka_unit_test(level_names_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
