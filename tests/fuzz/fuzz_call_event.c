/* Fuzzes the m.call.* content decoder: the first byte picks the event type, the rest is JSON. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "signalling/call_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum call_event_type type = (enum call_event_type)(data[0] % 8);
    json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    if (!j)
        return 0;
    struct call_event ev;
    char err[256];
    call_event_decode(&ev, type, j, err, sizeof(err));
    json_decref(j);
    return 0;
}
