/* Fuzzes the handling of a /sync response: the room model it feeds (membership, names,
 * encryption, invites, leaves) and the events it hands out, as the homeserver could send them. */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "signalling/mx_client.h"
#include "signalling/mx_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_event(struct mx_client *c, const char *room_id, json_t *event,
                     const struct mx_sync_info *si, void *arg)
{
    const char *others[4];
    mx_room_joined_others(c, room_id, others, 4);
    mx_room_joined_count(c, room_id);
    mx_room_name(c, room_id);
    mx_room_is_encrypted(c, room_id);
    const char *sender = json_string_value(json_object_get(event, "sender"));
    if (sender)
        mx_room_membership(c, room_id, sender);
}

static const struct mx_client_handlers handlers = {.room_event = on_event};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_client *http;
    if (!http) {
        log_set_level(LOG_LVL_ERROR);
        http_client_alloc(&http, NULL);
    }
    struct mx_client_cfg cfg = {
        .homeserver = "http://127.0.0.1:9",
        .user_id = "@bot:hs",
        .access_token = "token",
    };
    struct mx_client *c = NULL;
    if (mx_client_alloc(&c, http, &cfg, &handlers, NULL))
        return 0;
    /* Two batches from one input, so the second sees the model the first built. */
    const uint8_t *split = memchr(data, '\n', size);
    size_t first = split ? (size_t)(split - data) : size;
    if (mx_sync_feed(c, (const char *)data, first) && split)
        mx_sync_feed(c, (const char *)split + 1, size - first - 1);
    mem_deref(c);
    return 0;
}
