/*
 * Fuzzes the ICE candidate attribute parser. Beyond "no crash": whatever parses must format, and
 * the formatted text must parse back to the same candidate (format is the parser's inverse on
 * everything the parser accepts), and a rejection always comes with a reason.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/ice_candidate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char line[ICE_CAND_MAX_LINE + 64];
    char out[ICE_CAND_MAX_LINE + 64];
    struct ice_candidate c, again;
    const char *why = NULL;

    if (size >= sizeof(line))
        size = sizeof(line) - 1;
    memcpy(line, data, size);
    line[size] = '\0';

    int err = ice_candidate_parse(&c, line, &why);
    if (err) {
        if (err != EBADMSG || !why)
            abort();
        return 0;
    }
    (void)ice_candidate_is_mdns(&c);
    if (ice_candidate_format(&c, out, sizeof(out)))
        abort();
    if (ice_candidate_parse(&again, out, &why))
        abort();
    if (!ice_candidate_equal(&c, &again))
        abort();
    return 0;
}
