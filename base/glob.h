/*
 * Shell-style wildcard matching for allow-lists ("@*:example.org", "@bot-??:hs").
 *
 * Only two wildcards: '*' (any run of characters, including none) and '?' (exactly one
 * character). Everything else, '[' and '\\' included, is literal: patterns come from
 * operators' config files and should mean what they look like.
 *
 * The matcher is iterative and remembers only the most recent '*': a failed match resumes
 * one character past where that star last started, which is enough for '*'-only globs and
 * bounds the work by strlen(pattern) * strlen(s). Patterns such as "*a*a*a*a*b" against a
 * long run of 'a' stay polynomial instead of the exponential blow-up of the recursive form.
 *
 * Matching is case-sensitive and byte-wise, except that '?' and '*' step over whole UTF-8
 * sequences so that '?' means one character, not one byte.
 */
#ifndef SB_BASE_GLOB_H
#define SB_BASE_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* True when s matches pattern as a whole. NULL pattern or NULL s never match. */
bool glob_match(const char *pattern, const char *s);

/* True when s matches any of the n patterns (NULL entries are skipped). */
bool glob_match_any(char *const *patterns, size_t n, const char *s);

#endif
