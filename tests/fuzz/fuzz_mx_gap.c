/* Fuzzes the gap of a limited /sync timeline: a first batch that builds the room model, a
 * second one whose limited timelines start gap fetches, and the /messages pages the homeserver
 * answers them with (one input line each), as it could send them. */
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
    (void)si;
    (void)arg;
    mx_room_joined_count(c, room_id);
    (void)json_string_value(json_object_get(event, "event_id"));
}

static const struct mx_client_handlers handlers = {.room_event = on_event};

/* The next line of the input, or NULL at its end. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
    if (*p >= end)
        return NULL;
    const char *line = *p;
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    *len = nl ? (size_t)(nl - line) : (size_t)(end - line);
    *p = nl ? nl + 1 : end;
    return line;
}

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
    const char *p = (const char *)data, *end = p + size;
    size_t len;
    const char *line = next_line(&p, end, &len);
    if (!line || !mx_sync_feed(c, line, len))
        goto out;
    line = next_line(&p, end, &len);
    json_t *root = line ? json_loadb(line, len, 0, NULL) : NULL;
    const char *nb = json_string_value(json_object_get(root, "next_batch"));
    if (!json_is_object(root) || !mx_valid_token(nb)) {
        json_decref(root);
        goto out;
    }
    /* As the sync loop does after a batch answering the token "s1". */
    g_free(c->since);
    c->since = g_strdup("s1");
    char *next = g_strdup(nb);
    if (!mx_gap_begin(c, root, next, false)) {
        mx_sync_handle(c, root, next, NULL);
        goto out;
    }
    while ((line = next_line(&p, end, &len)) && mx_gap_feed(c, line, len)) {
    }
out:
    mem_deref(c);
    return 0;
}
