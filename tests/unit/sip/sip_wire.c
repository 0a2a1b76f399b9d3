/*
 * Raw SIP over UDP for the gateway tests (see sip_wire.h).
 */
#include "sip_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

void wire_open(struct wire *w, const char *ip)
{
    memset(w, 0, sizeof(*w));
    w->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(w->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    assert_int_equal(bind(w->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(w->fd, (struct sockaddr *)&a, &len), 0);
    w->port = ntohs(a.sin_port);
    snprintf(w->ip, sizeof(w->ip), "%s", ip);
}

void wire_close(struct wire *w)
{
    if (w->fd > 0)
        close(w->fd);
    w->fd = -1;
}

void wire_send(struct wire *w, uint16_t port, const char *text)
{
    GString *s = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (*p == '\n' && (p == text || p[-1] != '\r'))
            g_string_append_c(s, '\r');
        g_string_append_c(s, *p);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ssize_t n = sendto(w->fd, s->str, s->len, 0, (struct sockaddr *)&a, sizeof(a));
    assert_int_equal(n, (ssize_t)s->len);
    g_string_free(s, TRUE);
}

char *wire_recv(struct wire *w, const char *prefix, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    char buf[65536];
    while (g_get_monotonic_time() < deadline) {
        ssize_t n = recv(w->fd, buf, sizeof(buf) - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            if (strncmp(buf, prefix, strlen(prefix)) == 0)
                return g_strdup(buf);
            continue;
        }
        /* Nothing yet: let the gateway work, sleeping in poll at most a few ms. */
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(2000);
    }
    return NULL;
}

bool wire_quiet(struct wire *w, const char *prefix, int ms)
{
    char *m = wire_recv(w, prefix, ms);
    bool quiet = m == NULL;
    g_free(m);
    return quiet;
}

char *wire_header(const char *msg, const char *name)
{
    size_t nl = strlen(name);
    const char *p = msg;
    while ((p = strstr(p, "\r\n"))) {
        p += 2;
        if (p[0] == '\r')
            return NULL; /* end of headers */
        if (g_ascii_strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            return g_strndup(v, strcspn(v, "\r\n"));
        }
    }
    return NULL;
}

const char *wire_body(const char *msg)
{
    const char *p = strstr(msg, "\r\n\r\n");
    return p && p[4] ? p + 4 : NULL;
}

bool wire_run_until(const bool *flag, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (!*flag && g_get_monotonic_time() < deadline) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(2000);
    }
    return *flag;
}

uint16_t wire_free_port(void)
{
    struct wire w;
    wire_open(&w, "127.0.0.1");
    uint16_t port = w.port;
    wire_close(&w);
    return port;
}
