/*
 * DTMF in SIP INFO bodies (sip/dtmf_info.c), as a phone or trunk may send anything: the first
 * byte picks the content type, the rest is the body, passed without a terminating NUL. What is
 * accepted must be one DTMF digit with a duration in range.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/dtmf_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {"application/dtmf-relay", "application/dtmf",
                                        "APPLICATION/DTMF-RELAY", "application/sdp"};
    if (size == 0 || size > 4096)
        return 0;
    const char *type = types[data[0] % 4];
    /* A copy of exactly the body's bytes, so reading past it is caught. */
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, len);
    char digit = 0;
    uint16_t ms = 0;
    if (sip_dtmf_info_parse(type, body, len, &digit, &ms) == 0) {
        if (!digit || !strchr("0123456789*#ABCD", digit))
            abort();
        if (ms == 0 || ms > SIP_DTMF_INFO_MAX_MS)
            abort();
        if (data[0] % 4 == 3 || len > SIP_DTMF_INFO_MAX)
            abort();
    }
    free(body);
    return 0;
}
