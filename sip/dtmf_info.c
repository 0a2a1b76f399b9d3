/*
 * DTMF in SIP INFO bodies (see sip/dtmf_info.h). Bounded: the body is read as at most
 * SIP_DTMF_INFO_MAX bytes of lines, each a key and a value of a few characters; anything else
 * (NUL bytes, lines without '=', numbers that do not fit) is malformed.
 */
#include "sip/dtmf_info.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define VALUE_MAX 16

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* A digit from its text: the character itself, or an RFC 4733 event code 0-15. */
static int digit_of(const char *v, size_t n, char *digit)
{
    static const char codes[] = "0123456789*#ABCD";
    if (n == 1) {
        char c = v[0];
        if (c >= 'a' && c <= 'd')
            c = (char)(c - 'a' + 'A');
        if (c && strchr(codes, c)) {
            *digit = c;
            return 0;
        }
        return EBADMSG;
    }
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
        *digit = codes[10 + (v[1] - '0')];
        return 0;
    }
    return EBADMSG;
}

static int number_of(const char *v, size_t n, unsigned *out)
{
    if (n == 0 || n > 6)
        return EBADMSG;
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return EBADMSG;
        x = x * 10 + (unsigned)(v[i] - '0');
    }
    *out = x;
    return 0;
}

/* [p, end) without leading and trailing blanks. */
static void trim(const char **p, const char **end)
{
    while (*p < *end && is_blank(**p))
        (*p)++;
    while (*end > *p && (is_blank((*end)[-1]) || (*end)[-1] == '\r'))
        (*end)--;
}

static int parse_relay(const char *body, size_t len, char *digit, unsigned *ms)
{
    bool have_digit = false, have_ms = false;
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *k = p, *k_end = line_end;
        p = nl ? nl + 1 : end;
        trim(&k, &k_end);
        if (k == k_end)
            continue; /* a blank line */
        const char *eq = memchr(k, '=', (size_t)(k_end - k));
        if (!eq)
            return EBADMSG;
        const char *v = eq + 1, *v_end = k_end, *kk_end = eq;
        trim(&k, &kk_end);
        trim(&v, &v_end);
        size_t klen = (size_t)(kk_end - k), vlen = (size_t)(v_end - v);
        if (vlen > VALUE_MAX)
            return EBADMSG;
        if (klen == 6 && strncasecmp(k, "Signal", 6) == 0) {
            if (have_digit || digit_of(v, vlen, digit))
                return EBADMSG;
            have_digit = true;
        } else if (klen == 8 && strncasecmp(k, "Duration", 8) == 0) {
            if (have_ms || number_of(v, vlen, ms))
                return EBADMSG;
            have_ms = true;
        }
        /* Other keys (a few phones add some) are ignored. */
    }
    return have_digit ? 0 : EBADMSG;
}

int sip_dtmf_info_parse(const char *ctype, const char *body, size_t len, char *digit,
                        uint16_t *duration_ms)
{
    if (!ctype || !digit || !duration_ms || (!body && len))
        return EINVAL;
    bool relay = strcasecmp(ctype, "application/dtmf-relay") == 0;
    if (!relay && strcasecmp(ctype, "application/dtmf") != 0)
        return ENOTSUP;
    if (len == 0 || len > SIP_DTMF_INFO_MAX || memchr(body, '\0', len))
        return EBADMSG;
    unsigned ms = SIP_DTMF_INFO_DEFAULT_MS;
    char d = 0;
    int err;
    if (relay) {
        err = parse_relay(body, len, &d, &ms);
    } else {
        const char *p = body, *end = body + len;
        while (end > p && (end[-1] == '\n' || end[-1] == '\r' || is_blank(end[-1])))
            end--;
        trim(&p, &end);
        err = digit_of(p, (size_t)(end - p), &d);
    }
    if (err)
        return err;
    if (ms == 0)
        ms = SIP_DTMF_INFO_DEFAULT_MS;
    if (ms > SIP_DTMF_INFO_MAX_MS)
        ms = SIP_DTMF_INFO_MAX_MS;
    *digit = d;
    *duration_ms = (uint16_t)ms;
    return 0;
}
