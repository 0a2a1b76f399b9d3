/*
 * Iterative '*' / '?' matcher; see glob.h for why a single backtrack point is enough.
 */
#include "base/glob.h"

/* Steps over one character: a lead byte and the continuation bytes (10xxxxxx) after it.
 * Invalid UTF-8 still advances by at least one byte, so every loop terminates. */
static const char *next_char(const char *s)
{
    s++;
    for (int i = 0; i < 3 && ((unsigned char)*s & 0xc0) == 0x80; i++)
        s++;
    return s;
}

bool glob_match(const char *pattern, const char *s)
{
    if (!pattern || !s)
        return false;

    const char *p = pattern;
    const char *star_p = NULL; /* pattern just after the last '*' seen */
    const char *star_s = NULL; /* where that star's match currently ends */

    while (*s) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            if (!*p)
                return true; /* a trailing star takes the rest */
            star_p = p;
            star_s = s;
            continue;
        }
        if (*p == '?') {
            p++;
            s = next_char(s);
            continue;
        }
        if (*p && *p == *s) {
            p++;
            s++;
            continue;
        }
        if (!star_p)
            return false;
        /* Let the last star swallow one more character and retry what follows it. Earlier
         * stars never need revisiting: anything they could absorb, the last one can too. */
        star_s = next_char(star_s);
        s = star_s;
        p = star_p;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

bool glob_match_any(char *const *patterns, size_t n, const char *s)
{
    if (!patterns || !s)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (patterns[i] && glob_match(patterns[i], s))
            return true;
    }
    return false;
}
