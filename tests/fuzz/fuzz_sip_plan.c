/*
 * The SIP side's own parsing of what arrives from outside: the number in a Request-URI or To
 * user part (%-escapes, user parameters), numbers as people type them for !dial, and CIDRs with
 * the address matching they feed. Checks that each result stays in its bounds and that what is
 * accepted is well formed (a normalised number only has dial-string characters).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "sip/acl.h"
#include "sip/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    char out[SIP_NUMBER_MAX + 1];
    if (sip_uri_user_number(s, out, sizeof(out)) == 0) {
        size_t n = strlen(out);
        if (n == 0 || n > SIP_NUMBER_MAX)
            abort();
        for (size_t i = 0; i < n; i++) {
            if (!strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+*#._~!()-",
                        out[i]))
                abort();
        }
    }

    char num[40], why[128];
    if (sip_number_normalise(s, num, sizeof(num), why, sizeof(why)) == 0) {
        size_t n = strlen(num);
        if (n == 0 || n > 32)
            abort();
        for (size_t i = 0; i < n; i++) {
            char c = num[i];
            if (!((c >= '0' && c <= '9') || c == '*' || c == '#' || (c == '+' && i == 0)))
                abort();
        }
    }

    struct sip_cidr c;
    if (sip_cidr_parse(&c, s) == 0) {
        if ((c.family != AF_INET && c.family != AF_INET6) ||
            c.bits > (c.family == AF_INET ? 32 : 128))
            abort();
        /* Its own network address matches it. */
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
        struct sockaddr_in a4 = {.sin_family = AF_INET};
        const struct sockaddr *sa;
        if (c.family == AF_INET) {
            memcpy(&a4.sin_addr, c.addr, 4);
            sa = (const struct sockaddr *)&a4;
        } else {
            memcpy(&a6.sin6_addr, c.addr, 16);
            sa = (const struct sockaddr *)&a6;
        }
        if (!sip_cidr_match(&c, sa))
            abort();
        char text[64];
        sip_addr_port_text(sa, text, sizeof(text));
    }
    free(s);
    return 0;
}
