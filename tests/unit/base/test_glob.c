#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/glob.h"

static void literals(void **state)
{
    assert_true(glob_match("", ""));
    assert_true(glob_match("@alice:example.org", "@alice:example.org"));
    assert_false(glob_match("@alice:example.org", "@alice:example.or"));
    assert_false(glob_match("@alice:example.or", "@alice:example.org"));
    assert_false(glob_match("", "a"));
    assert_false(glob_match("a", ""));
    /* Case matters: Matrix ids are compared byte-wise. */
    assert_false(glob_match("@Alice:hs", "@alice:hs"));
    /* Only * and ? are special. */
    assert_true(glob_match("[ab]\\x", "[ab]\\x"));
    assert_false(glob_match("[ab]", "a"));
}

static void star(void **state)
{
    assert_true(glob_match("*", ""));
    assert_true(glob_match("*", "anything at all"));
    assert_true(glob_match("**", ""));
    assert_true(glob_match("@*:example.org", "@alice:example.org"));
    assert_true(glob_match("@*:example.org", "@:example.org"));
    assert_false(glob_match("@*:example.org", "@alice:example.org.evil"));
    assert_false(glob_match("@*:example.org", "@alice:evil.example.org:x"));
    assert_false(glob_match("@*:example.org", "@alice:notexample.org"));
    assert_true(glob_match("@*:*example.org", "@alice:notexample.org"));
    assert_true(glob_match("a*b*c", "abc"));
    assert_true(glob_match("a*b*c", "aXbYbZc"));
    assert_false(glob_match("a*b*c", "aXbYbZ"));
    assert_true(glob_match("*.org", "x.org.org"));
    assert_true(glob_match("a*", "a"));
    assert_false(glob_match("a*", "ba"));
    /* The star must backtrack past a partial match of what follows it. */
    assert_true(glob_match("*aab", "aaaab"));
    assert_true(glob_match("*ab*ab", "abxabab"));
    assert_false(glob_match("*ab*ab", "abxaba"));
}

static void question_mark(void **state)
{
    assert_true(glob_match("?", "a"));
    assert_false(glob_match("?", ""));
    assert_false(glob_match("?", "ab"));
    assert_true(glob_match("@bot-??:hs", "@bot-07:hs"));
    assert_false(glob_match("@bot-??:hs", "@bot-7:hs"));
    assert_true(glob_match("*?", "x"));
    assert_false(glob_match("*?", ""));
    assert_true(glob_match("?*?", "ab"));
    assert_false(glob_match("?*?", "a"));
}

static void utf8_is_one_character(void **state)
{
    /* "é" is two bytes, "€" three, "😀" four: each is one '?'. */
    assert_true(glob_match("@?:hs", "@\xc3\xa9:hs"));
    assert_true(glob_match("@?:hs", "@\xe2\x82\xac:hs"));
    assert_true(glob_match("@?:hs", "@\xf0\x9f\x98\x80:hs"));
    assert_false(glob_match("@??:hs", "@\xc3\xa9:hs"));
    /* A literal continuation byte never matches in the middle of a character. */
    assert_false(glob_match("*?\xa9", "\xc3\xa9\xc3\xa9"));
    assert_true(glob_match("*\xc3\xa9", "x\xc3\xa9"));
    /* Invalid UTF-8 (a lone continuation byte) still advances. */
    assert_true(glob_match("?", "\x80"));
    assert_true(glob_match("*", "\x80\x80\x80"));
}

static void null_arguments(void **state)
{
    assert_false(glob_match(NULL, "a"));
    assert_false(glob_match("a", NULL));
    assert_false(glob_match_any(NULL, 3, "a"));
}

static void any_of_a_list(void **state)
{
    char *pats[] = {"@admin:hs", NULL, "@*:example.org"};
    assert_true(glob_match_any(pats, 3, "@admin:hs"));
    assert_true(glob_match_any(pats, 3, "@bob:example.org"));
    assert_false(glob_match_any(pats, 3, "@bob:hs"));
    assert_false(glob_match_any(pats, 0, "@admin:hs"));
    assert_false(glob_match_any(pats, 1, "@bob:example.org"));
}

/* A recursive matcher takes exponential time on these; the iterative one must finish them in
 * a blink (the test's timeout is the bound, no clock is read here). */
static void pathological_patterns(void **state)
{
    size_t n = 200000;
    char *s = malloc(n + 2);
    assert_non_null(s);
    memset(s, 'a', n);
    s[n] = '\0';

    assert_false(glob_match("*a*a*a*a*b", s));
    assert_false(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", s));
    assert_true(glob_match("*a*a*a*a*a", s));
    assert_false(glob_match("a*a*a*a*a*a*a*a*a*a*a*a*?b", s));

    s[n] = 'b';
    s[n + 1] = '\0';
    assert_true(glob_match("*a*a*a*a*b", s));
    assert_true(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", s));
    assert_false(glob_match("*a*a*a*a*c", s));

    /* Many stars in the pattern: each extra one is cheap. */
    char pat[4001];
    for (int i = 0; i < 2000; i++) {
        pat[2 * i] = '*';
        pat[2 * i + 1] = 'a';
    }
    pat[4000] = '\0';
    assert_false(glob_match(pat, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
    assert_false(glob_match(pat, s));
    s[n] = '\0';
    assert_true(glob_match(pat, s));

    /* A long literal after a star: bounded by len(pattern) * len(s). */
    char lit[103];
    lit[0] = '*';
    memset(lit + 1, 'a', 100);
    lit[101] = 'b';
    lit[102] = '\0';
    assert_false(glob_match(lit, s));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literals),
        cmocka_unit_test(star),
        cmocka_unit_test(question_mark),
        cmocka_unit_test(utf8_is_one_character),
        cmocka_unit_test(null_arguments),
        cmocka_unit_test(any_of_a_list),
        cmocka_unit_test(pathological_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
