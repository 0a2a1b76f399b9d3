/*
 * One Client-Server API request with the retry policy a bridge needs: failures below HTTP, 5xx
 * and 429 are tried again with the same method, path and body (so a send keeps its txnId),
 * after the delay the server asked for (retry_after_ms in a 429 body, else Retry-After), else
 * after an exponential, jittered backoff; a retried request gives up at its deadline with
 * ETIMEDOUT. Any other 4xx fails at once with EPROTO and the Matrix errcode.
 *
 * mx_request() and mx_login_password() are thin wrappers (a login is retried on 429 alone:
 * after any other failure it may have happened); the send queues (mx_send.c) run their head
 * event through the same machinery.
 */
#include "signalling/mx_internal.h"

#include "base/log.h"
#include "base/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct mx_op {
    struct mx_client *c; /* NULL for a login, which runs without a client */
    struct mx_op *prev, *next;
    struct http_client *http; /* reference */
    GMainContext *ctx;
    char *method;
    char *url;
    char *path; /* for log lines */
    char *body;
    char *logctx;
    bool retry;
    bool only_429; /* retry rate limiting alone (a login: a lost answer may have made a device) */
    gint64 deadline_us;
    uint32_t backoff_ms;
    uint32_t backoff_max_ms;
    unsigned attempts;
    struct http_call *call;
    GSource *timer;
    mx_op_fin_h *fin;
    void *arg;
};

uint32_t mx_jitter(uint32_t ms)
{
    if (ms < 4)
        return ms;
    return ms - ms / 4 + g_random_int_range(0, (gint32)(ms / 2) + 1);
}

const char *mx_delay_str(uint32_t ms, char buf[32])
{
    if (ms < 1000)
        snprintf(buf, 32, "%u ms", ms);
    else
        snprintf(buf, 32, "%u s", (ms + 500) / 1000);
    return buf;
}

GSource *mx_timer_start(struct mx_client *c, uint32_t ms, GSourceFunc fn, void *data)
{
    GSource *s = g_timeout_source_new(ms);
    g_source_set_callback(s, fn, data, NULL);
    g_source_attach(s, c->ctx);
    return s;
}

void mx_timer_stop(GSource **srcp)
{
    if (*srcp) {
        g_source_destroy(*srcp);
        g_source_unref(*srcp);
        *srcp = NULL;
    }
}

bool mx_transient(const struct http_response *resp)
{
    if (resp->status == 0)
        return resp->err != EMSGSIZE && resp->err != EINVAL && resp->err != ENOMEM;
    return resp->status >= 500 || resp->status == 429;
}

void mx_parse_error(const struct http_response *resp, json_t **bodyp,
                    char errcode[MX_ERRCODE_MAX + 1], long *retry_after_ms)
{
    errcode[0] = '\0';
    *retry_after_ms = -1;
    *bodyp = NULL;
    json_t *body = resp->body_len ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    if (body && json_is_object(body)) {
        const char *ec = json_string_value(json_object_get(body, "errcode"));
        if (ec && strlen(ec) <= MX_ERRCODE_MAX) {
            bool printable = true;
            for (const char *p = ec; *p; p++)
                printable = printable && g_ascii_isgraph(*p);
            if (printable)
                strcpy(errcode, ec);
        }
        json_t *ra = json_object_get(body, "retry_after_ms");
        if (json_is_integer(ra) && json_integer_value(ra) >= 0)
            *retry_after_ms = json_integer_value(ra) > 24 * 3600 * 1000
                                  ? 24 * 3600 * 1000
                                  : (long)json_integer_value(ra);
        *bodyp = body;
    } else if (body) {
        json_decref(body);
    }
    if (*retry_after_ms < 0)
        *retry_after_ms = resp->retry_after_ms;
}

static void op_unlink(struct mx_op *op)
{
    struct mx_client *c = op->c;
    if (!c)
        return;
    if (op->prev)
        op->prev->next = op->next;
    else if (c->ops == op)
        c->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    op->prev = op->next = NULL;
}

static void op_free(struct mx_op *op)
{
    if (op->call)
        http_call_cancel(op->call);
    mx_timer_stop(&op->timer);
    mem_deref(op->http);
    g_main_context_unref(op->ctx);
    g_free(op->method);
    g_free(op->url);
    g_free(op->path);
    if (op->body) {
        memset(op->body, 0, strlen(op->body)); /* may hold a password */
        g_free(op->body);
    }
    g_free(op->logctx);
    g_free(op);
}

static void op_finish(struct mx_op *op, int err, const char *errcode, json_t *body)
{
    op_unlink(op);
    op->fin(err, errcode && errcode[0] ? errcode : NULL, body, op->arg);
    op_free(op);
}

static int op_attempt(struct mx_op *op);

static gboolean op_retry_timer(gpointer data)
{
    struct mx_op *op = data;
    g_source_unref(op->timer);
    op->timer = NULL;
    int err = op_attempt(op);
    if (err)
        op_finish(op, err, NULL, NULL);
    return G_SOURCE_REMOVE;
}

static void op_http_done(const struct http_response *resp, void *arg)
{
    struct mx_op *op = arg;
    op->call = NULL;

    if (resp->status >= 200 && resp->status < 300) {
        json_error_t jerr;
        json_t *body = json_loadb(resp->body, resp->body_len, 0, &jerr);
        if (!body) {
            logc_warn(op->logctx, "mx: %s %s: response is not JSON (%s)", op->method, op->path,
                      jerr.text);
            op_finish(op, EBADMSG, NULL, NULL);
            return;
        }
        if (op->attempts > 1)
            logc_info(op->logctx, "mx: %s %s succeeded after %u attempts", op->method, op->path,
                      op->attempts);
        op_finish(op, 0, NULL, body);
        json_decref(body);
        return;
    }

    json_t *ebody;
    char errcode[MX_ERRCODE_MAX + 1];
    long ra;
    mx_parse_error(resp, &ebody, errcode, &ra);
    char why[160];
    if (resp->status)
        snprintf(why, sizeof(why), "HTTP %ld%s%s", resp->status, errcode[0] ? " " : "", errcode);
    else
        snprintf(why, sizeof(why), "%s", resp->error ? resp->error : "network error");

    if (op->retry && (op->only_429 ? resp->status == 429 : mx_transient(resp))) {
        uint32_t delay;
        if (ra >= 0) {
            delay = ra < MX_RETRY_FLOOR_MS ? MX_RETRY_FLOOR_MS : (uint32_t)ra;
        } else {
            delay = mx_jitter(op->backoff_ms);
            op->backoff_ms =
                op->backoff_ms * 2 > op->backoff_max_ms ? op->backoff_max_ms : op->backoff_ms * 2;
        }
        char dbuf[32];
        if (g_get_monotonic_time() + (gint64)delay * 1000 > op->deadline_us) {
            logc_warn(op->logctx, "mx: %s %s failed (%s); giving up after %u attempts", op->method,
                      op->path, why, op->attempts);
            op_finish(op, ETIMEDOUT, errcode, ebody);
            json_decref(ebody);
            return;
        }
        if (resp->status == 429 && op->c && !op->c->rate_limit_hinted) {
            /* Synapse's default rc_message (0.2 events/s, bursts of 10) lets a bot answer a
             * few calls, then holds each answer and hangup for seconds. */
            op->c->rate_limit_hinted = true;
            log_warn("mx: the homeserver rate-limits %s: calls wait for their answers and "
                     "hangups; exempt this account from rate limits (on Synapse: the admin "
                     "API's users/<user id>/override_ratelimit)",
                     op->c->user_id);
        }
        if (op->attempts == 1)
            logc_warn(op->logctx, "mx: %s %s failed (%s), retrying in %s", op->method, op->path,
                      why, mx_delay_str(delay, dbuf));
        else
            logc_debug(op->logctx, "mx: %s %s failed again (%s), retrying in %s", op->method,
                       op->path, why, mx_delay_str(delay, dbuf));
        json_decref(ebody);
        op->timer = g_timeout_source_new(delay);
        g_source_set_callback(op->timer, op_retry_timer, op, NULL);
        g_source_attach(op->timer, op->ctx);
        return;
    }

    logc_warn(op->logctx, "mx: %s %s failed (%s)", op->method, op->path, why);
    if (resp->status)
        op_finish(op, EPROTO, errcode, ebody);
    else
        op_finish(op, resp->err ? resp->err : EIO, NULL, NULL);
    json_decref(ebody);
}

static int op_attempt(struct mx_op *op)
{
    struct http_request req = {
        .method = op->method,
        .url = op->url,
        .body = op->body,
        .body_len = op->body ? strlen(op->body) : 0,
        .bearer_token = op->c ? op->c->token : NULL,
        .timeout_ms = 60000,
    };
    op->attempts++;
    return http_request_start(op->http, &req, op_http_done, op, &op->call);
}

static struct mx_op *op_new(struct http_client *http, GMainContext *ctx, const char *hs,
                            const struct mx_op_params *p, const struct mx_retry_policy *rp)
{
    struct mx_op *op = g_new0(struct mx_op, 1);
    op->http = mem_ref(http);
    op->ctx = g_main_context_ref(ctx);
    op->method = g_strdup(p->method);
    op->path = g_strdup(p->path);
    op->url = g_strconcat(hs, "/_matrix/client/v3", p->path, NULL);
    op->body = p->body;
    op->logctx = g_strdup(p->logctx);
    op->retry = p->retry;
    op->backoff_ms = rp->min_ms;
    op->backoff_max_ms = rp->max_ms;
    op->deadline_us =
        p->deadline_us ? p->deadline_us : g_get_monotonic_time() + (gint64)rp->give_up_ms * 1000;
    return op;
}

int mx_op_start(struct mx_client *c, const struct mx_op_params *p, mx_op_fin_h *fin, void *arg,
                struct mx_op **opp)
{
    if (!c || !p || !p->method || !p->path || p->path[0] != '/' || !fin) {
        g_free(p ? p->body : NULL);
        return EINVAL;
    }
    struct mx_op *op = op_new(c->http, c->ctx, c->hs, p, &c->send_retry);
    op->c = c;
    op->fin = fin;
    op->arg = arg;
    int err = op_attempt(op);
    if (err) {
        op->c = NULL;
        op_free(op);
        return err;
    }
    op->next = c->ops;
    if (c->ops)
        c->ops->prev = op;
    c->ops = op;
    if (opp)
        *opp = op;
    return 0;
}

void mx_op_cancel_all(struct mx_client *c)
{
    while (c->ops) {
        struct mx_op *op = c->ops;
        op_unlink(op);
        op_free(op);
    }
}

/* mx_request / mx_login_password deliver straight to the caller's handler. */
struct mx_user_done {
    mx_done_h *h;
    void *arg;
};

static void user_fin(int err, const char *errcode, json_t *body, void *arg)
{
    struct mx_user_done ud = *(struct mx_user_done *)arg;
    g_free(arg);
    ud.h(err, errcode, body, ud.arg);
}

int mx_request(struct mx_client *c, const char *method, const char *path, json_t *body, bool retry,
               mx_done_h *h, void *arg)
{
    if (!c || !method || !path || path[0] != '/' || !h)
        return EINVAL;
    char *b = NULL;
    if (body && !(b = json_dumps(body, JSON_COMPACT)))
        return EINVAL;
    struct mx_user_done *ud = g_new(struct mx_user_done, 1);
    ud->h = h;
    ud->arg = arg;
    struct mx_op_params p = {.method = method, .path = path, .body = b, .retry = retry};
    int err = mx_op_start(c, &p, user_fin, ud, NULL);
    if (err)
        g_free(ud);
    return err;
}

int mx_login_password(struct http_client *http, const char *homeserver, const char *user,
                      const char *password, mx_done_h *h, void *arg)
{
    if (!http || !homeserver || !user || !password || !h)
        return EINVAL;
    json_t *j = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "type", "m.login.password", "identifier",
                          "type", "m.id.user", "user", user, "password", password,
                          "initial_device_display_name", "switchboard");
    if (!j)
        return EINVAL; /* not UTF-8 */
    char *b = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!b)
        return ENOMEM;

    char *hs = g_strdup(homeserver);
    while (*hs && hs[strlen(hs) - 1] == '/')
        hs[strlen(hs) - 1] = '\0';
    /* Synapse lets 3 logins in from one address, then one every 6 s (rc_login): a tool
     * starting many parties at once has to wait its turn. */
    struct mx_op_params p = {.method = "POST", .path = "/login", .body = b, .retry = true};
    struct mx_retry_policy rate_limited = {.min_ms = 1000, .max_ms = 10000, .give_up_ms = 60000};
    GMainContext *ctx = g_main_context_ref_thread_default();
    struct mx_op *op = op_new(http, ctx, hs, &p, &rate_limited);
    op->only_429 = true;
    g_main_context_unref(ctx);
    g_free(hs);
    struct mx_user_done *ud = g_new(struct mx_user_done, 1);
    ud->h = h;
    ud->arg = arg;
    op->fin = user_fin;
    op->arg = ud;
    int err = op_attempt(op);
    if (err) {
        op_free(op);
        g_free(ud);
    }
    return err;
}
