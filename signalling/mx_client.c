/*
 * The Matrix client object: configuration, lifetime and the pieces the other mx_ files share.
 * The work lives next door: the sync loop (mx_sync.c), the room model (mx_rooms.c), the send
 * queues (mx_send.c) and retried requests (mx_op.c).
 *
 * Freeing the client is allowed from inside any of its handlers; every place that calls out
 * holds an mx_guard on its stack, which the destructor clears, so nothing touches the client
 * after the call returns.
 */
#include "signalling/mx_internal.h"

#include "base/log.h"
#include "base/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum {
    SEND_BACKOFF_MIN_MS = 500,
    SEND_BACKOFF_MAX_MS = 30000,
    SEND_GIVE_UP_MS = 300000,
    SYNC_TIMEOUT_MS = 30000,
};

static void client_destroy(void *data)
{
    struct mx_client *c = data;
    for (struct mx_guard *g = c->guards; g; g = g->prev)
        g->alive = false;
    mx_sync_free(c);
    mx_op_cancel_all(c);
    mx_send_free_all(c);
    mx_rooms_free(c);
    mem_deref(c->http);
    if (c->token) {
        memset(c->token, 0, strlen(c->token));
        g_free(c->token);
    }
    g_free(c->hs);
    g_free(c->user_id);
    g_free(c->state_dir);
    if (c->ctx)
        g_main_context_unref(c->ctx);
}

static bool header_safe(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    }
    return true;
}

int mx_client_alloc(struct mx_client **cp, struct http_client *http,
                    const struct mx_client_cfg *cfg, const struct mx_client_handlers *h, void *arg)
{
    if (!cp || !http || !cfg || !cfg->homeserver || !cfg->access_token)
        return EINVAL;
    if (!g_str_has_prefix(cfg->homeserver, "http://") &&
        !g_str_has_prefix(cfg->homeserver, "https://")) {
        log_warn("mx: homeserver '%s' is not an http(s) URL", cfg->homeserver);
        return EINVAL;
    }
    if (!mx_valid_id(cfg->user_id, '@') || strchr(cfg->user_id, ':') == NULL) {
        log_warn("mx: '%s' is not a Matrix user id", cfg->user_id ? cfg->user_id : "(null)");
        return EINVAL;
    }
    if (!cfg->access_token[0] || !header_safe(cfg->access_token)) {
        log_warn("mx: the access token is empty or holds control characters");
        return EINVAL;
    }

    struct mx_client *c = mem_zalloc(sizeof(*c), client_destroy);
    if (!c)
        return ENOMEM;
    c->ctx = g_main_context_ref_thread_default();
    c->http = mem_ref(http);
    c->hs = g_strdup(cfg->homeserver);
    for (size_t n = strlen(c->hs); n > 0 && c->hs[n - 1] == '/'; n--)
        c->hs[n - 1] = '\0';
    c->user_id = g_strdup(cfg->user_id);
    c->token = g_strdup(cfg->access_token);
    c->state_dir = g_strdup(cfg->state_dir);
    c->sync_timeout_ms = cfg->sync_timeout_ms ? cfg->sync_timeout_ms : SYNC_TIMEOUT_MS;
    c->send_retry.min_ms = cfg->send_backoff_ms ? cfg->send_backoff_ms : SEND_BACKOFF_MIN_MS;
    c->send_retry.max_ms =
        SEND_BACKOFF_MAX_MS > c->send_retry.min_ms ? SEND_BACKOFF_MAX_MS : c->send_retry.min_ms;
    c->send_retry.give_up_ms = cfg->send_give_up_ms ? cfg->send_give_up_ms : SEND_GIVE_UP_MS;
    mx_sync_init(c, cfg->sync_backoff_ms);
    if (h)
        c->h = *h;
    c->arg = arg;
    /* Transaction ids must never repeat for this access token, restarts included: a random
     * per-process prefix does that without persisting a counter. */
    snprintf(c->txn_prefix, sizeof(c->txn_prefix), "sb%08x%08x", g_random_int(), g_random_int());
    *cp = c;
    return 0;
}

const char *mx_client_user_id(const struct mx_client *c)
{
    return c ? c->user_id : NULL;
}
