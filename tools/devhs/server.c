/*
 * devhs: the HTTP layer. libmicrohttpd runs one thread per connection, so a /sync handler can
 * simply block on the model's condition variable; the thread stack is kept small because a
 * test may hold hundreds of long-polls open at once.
 *
 * The request path is taken raw from the URI log callback and split before percent-decoding:
 * libmicrohttpd decodes the whole path first, which would turn an escaped '/' inside a state
 * key or transaction id into a path separator. The query string is parsed here too, with the
 * same bounds. Everything else about a request (routing, auth, JSON) lives in router.c.
 */
#include "tools/devhs/server.h"
#include "tools/devhs/hs.h"

#include "base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SEGMENTS 32
#define MAX_QUERY    64

struct hs_server {
    struct MHD_Daemon *d;
    struct hs *hs;
    /* Requests between the URI callback and completion (response sent or connection gone);
     * shutdown waits for them so parked long-polls get their answer out. */
    GMutex lock;
    GCond idle;
    unsigned active;
    gint closing; /* atomic: responses ask clients to close the connection */
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL for %00 or invalid UTF-8 (nothing of either
 * kind can be a Matrix identifier, and both would break the JSON we build from them). */
static char *pct_decode(const char *s, size_t n, bool plus_is_space)
{
    char *out = g_malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            char c = (char)(hi << 4 | lo);
            if (c == '\0') {
                g_free(out);
                return NULL;
            }
            out[o++] = c;
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (!g_utf8_validate(out, (gssize)o, NULL)) {
        g_free(out);
        return NULL;
    }
    return out;
}

/* Splits the raw path into decoded segments; false when malformed. */
static bool parse_path(struct hs_req *r)
{
    const char *p = r->raw_path;
    if (*p != '/')
        return false;
    p++;
    GPtrArray *segs = g_ptr_array_new();
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char *seg = segs->len < MAX_SEGMENTS ? pct_decode(p, n, false) : NULL;
        if (!seg) {
            g_ptr_array_add(segs, NULL);
            g_strfreev((char **)g_ptr_array_free(segs, FALSE));
            return false;
        }
        g_ptr_array_add(segs, seg);
        if (!slash)
            break;
        p = slash + 1;
    }
    r->nseg = segs->len;
    g_ptr_array_add(segs, NULL);
    r->seg = (char **)g_ptr_array_free(segs, FALSE);
    return true;
}

static bool parse_query(struct hs_req *r)
{
    r->query = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (!r->raw_query || !*r->raw_query)
        return true;
    char **parts = g_strsplit(r->raw_query, "&", MAX_QUERY + 1);
    bool ok = g_strv_length(parts) <= MAX_QUERY;
    for (char **part = parts; ok && *part; part++) {
        if (!**part)
            continue;
        char *eq = strchr(*part, '=');
        size_t klen = eq ? (size_t)(eq - *part) : strlen(*part);
        char *k = pct_decode(*part, klen, true);
        char *v = pct_decode(eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0, true);
        if (!k || !v) {
            g_free(k);
            g_free(v);
            ok = false;
            break;
        }
        if (g_hash_table_contains(r->query, k)) {
            g_free(k);
            g_free(v);
        } else {
            g_hash_table_insert(r->query, k, v);
        }
    }
    g_strfreev(parts);
    return ok;
}

static bool is_loopback(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

static bool is_admin_path(const char *path)
{
    return strncmp(path, "/_devhs/", 8) == 0 || strcmp(path, "/_devhs") == 0;
}

/* ---- response helpers (declared in hs.h) ------------------------------------------------ */

void hs_reply(struct hs_req *r, unsigned status, json_t *body)
{
    free(r->resp);
    r->resp = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!r->resp) {
        status = 500;
        r->resp = strdup("{\"errcode\":\"M_UNKNOWN\",\"error\":\"Out of memory\"}");
    }
    r->resp_len = r->resp ? strlen(r->resp) : 0;
    r->status = status;
}

void hs_reply_empty(struct hs_req *r)
{
    hs_reply(r, 200, json_object());
}

void hs_error(struct hs_req *r, unsigned status, const char *errcode, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* A message built from a truncated identifier may end inside a UTF-8 sequence. */
    const char *end;
    if (!g_utf8_validate(msg, -1, &end))
        msg[end - msg] = '\0';
    json_t *body = json_pack("{s:s, s:s}", "errcode", errcode, "error", msg);
    if (body && status == 401 && strcmp(errcode, "M_UNKNOWN_TOKEN") == 0)
        json_object_set_new(body, "soft_logout", json_false());
    hs_reply(r, status, body);
}

void hs_error_limited(struct hs_req *r, long retry_after_ms)
{
    json_t *body = json_pack("{s:s, s:s, s:I}", "errcode", "M_LIMIT_EXCEEDED", "error",
                             "Too Many Requests", "retry_after_ms", (json_int_t)retry_after_ms);
    hs_reply(r, 429, body);
    r->retry_after_ms = retry_after_ms;
}

const char *hs_query(const struct hs_req *r, const char *name)
{
    return r->query ? g_hash_table_lookup(r->query, name) : NULL;
}

bool hs_query_int(struct hs_req *r, const char *name, long long dflt, long long min, long long max,
                  long long *v)
{
    const char *s = hs_query(r, name);
    if (!s) {
        *v = dflt;
        return true;
    }
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno) {
        hs_error(r, 400, "M_INVALID_PARAM", "Query parameter '%s' must be an integer", name);
        return false;
    }
    *v = x < min ? min : x > max ? max : x;
    return true;
}

const char *hs_header(struct hs_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------------- */

static void req_destroy(void *p)
{
    struct hs_req *r = p;
    g_free(r->raw_path);
    g_free(r->raw_query);
    g_strfreev(r->seg);
    if (r->query)
        g_hash_table_destroy(r->query);
    if (r->body)
        g_string_free(r->body, TRUE);
    json_decref(r->json);
    free(r->resp);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct hs_server *srv = cls;
    g_mutex_lock(&srv->lock);
    srv->active++;
    g_mutex_unlock(&srv->lock);
    struct hs_req *r = hs_zalloc(sizeof(*r), req_destroy);
    r->hs = srv->hs;
    r->conn = conn;
    r->t_start = g_get_monotonic_time();
    r->retry_after_ms = -1;
    const char *q = strchr(uri, '?');
    const char *hash = strchr(uri, '#');
    size_t plen = q ? (size_t)(q - uri) : hash ? (size_t)(hash - uri) : strlen(uri);
    r->raw_path = g_strndup(uri, plen);
    if (q)
        r->raw_query = hash && hash > q ? g_strndup(q + 1, (gsize)(hash - q - 1)) : g_strdup(q + 1);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct hs_server *srv = cls;
    if (!*req_cls)
        return;
    mem_deref(*req_cls);
    *req_cls = NULL;
    g_mutex_lock(&srv->lock);
    if (--srv->active == 0)
        g_cond_broadcast(&srv->idle);
    g_mutex_unlock(&srv->lock);
}

static enum MHD_Result send_response(struct hs_server *srv, struct hs_req *r)
{
    if (!r->resp)
        hs_error(r, 500, "M_UNKNOWN", "No response");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO;
    r->resp = NULL;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-cache, no-store, must-revalidate");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(resp, "Access-Control-Allow-Methods",
                            "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            "X-Requested-With, Content-Type, Authorization, Date");
    if (g_atomic_int_get(&srv->closing))
        MHD_add_response_header(resp, "Connection", "close");
    if (r->retry_after_ms >= 0) {
        char v[32];
        snprintf(v, sizeof(v), "%ld", (r->retry_after_ms + 999) / 1000);
        MHD_add_response_header(resp, "Retry-After", v);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    log_debug("%s %s -> %u (%lld ms)", r->method, r->raw_path, r->status,
              (long long)((g_get_monotonic_time() - r->t_start) / 1000));
    return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    struct hs_server *srv = cls;
    struct hs_req *r = *req_cls;
    if (!r) /* the URI callback always runs first; this is belt and braces */
        *req_cls = r = on_uri(srv, url, conn);

    if (!r->started) {
        r->started = true;
        r->method = method;
        r->conn = conn;
        r->loopback = is_loopback(conn);
        r->body = g_string_new(NULL);
        if (!is_admin_path(r->raw_path)) {
            enum hs_fault f = hs_fault_check(srv->hs, r->raw_path);
            if (f == HS_FAULT_CLOSE) {
                log_debug("%s %s -> connection closed (injected fault)", method, r->raw_path);
                return MHD_NO;
            }
            if (f == HS_FAULT_HTTP_500)
                hs_error(r, 500, "M_UNKNOWN", "Internal server error (injected fault)");
            r->close_after = f == HS_FAULT_CLOSE_AFTER;
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        if (!r->body_too_large) {
            if (r->body->len + *upload_data_size > HS_MAX_BODY) {
                r->body_too_large = true;
                g_string_truncate(r->body, 0);
            } else {
                g_string_append_len(r->body, upload_data, (gssize)*upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (r->resp) {
        /* injected 500, decided when the headers arrived */
    } else if (r->body_too_large) {
        hs_error(r, 413, "M_TOO_LARGE", "Request body too large (over %u bytes)", HS_MAX_BODY);
    } else if (!parse_path(r) || !parse_query(r)) {
        hs_error(r, 400, "M_UNRECOGNIZED", "Malformed request path or query");
    } else {
        hs_dispatch(r);
    }
    if (r->close_after) {
        log_debug("%s %s -> %u, then connection closed (injected fault)", method, r->raw_path,
                  r->status);
        return MHD_NO;
    }
    return send_response(srv, r);
}

/* libmicrohttpd's own format strings. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    g_strchomp(msg);
    log_warn("http: %s", msg);
}

static void server_destroy(void *p)
{
    struct hs_server *s = p;
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->idle);
}

int hs_server_start(struct hs_server **sp, struct hs *hs, int fd)
{
    struct hs_server *s = hs_zalloc(sizeof(*s), server_destroy);
    s->hs = hs;
    g_mutex_init(&s->lock);
    g_cond_init(&s->idle);
    s->d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_access, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)(256 * 1024), MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 * 1024), MHD_OPTION_END);
    if (!s->d) {
        log_error("cannot start the HTTP daemon");
        mem_deref(s);
        return EIO;
    }
    *sp = s;
    return 0;
}

void hs_server_stop(struct hs_server *s, struct hs *hs)
{
    if (!s)
        return;
    MHD_socket lfd = MHD_quiesce_daemon(s->d);
    g_atomic_int_set(&s->closing, 1);
    g_mutex_lock(&hs->lock);
    hs->stopping = true;
    hs_wake_all(hs);
    g_mutex_unlock(&hs->lock);
    /* Let requests in flight (parked /sync above all) finish sending their answers before
     * libmicrohttpd shuts every socket down; bounded, as a client may keep sending. */
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    g_mutex_lock(&s->lock);
    while (s->active && g_cond_wait_until(&s->idle, &s->lock, deadline))
        ;
    if (s->active)
        log_warn("stopping with %u requests still in flight", s->active);
    g_mutex_unlock(&s->lock);
    MHD_stop_daemon(s->d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    mem_deref(s);
}
