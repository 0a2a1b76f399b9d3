#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_level = LOG_LVL_INFO;
static log_sink_h *g_sink;
static void *g_sink_arg;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
    atomic_store(&g_level, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&g_level);
}

bool log_enabled(enum log_level level)
{
    return (int)level <= atomic_load_explicit(&g_level, memory_order_relaxed);
}

int log_level_parse(const char *name, enum log_level *level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (name && strcmp(name, level_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return EINVAL;
}

const char *log_level_name(enum log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

void log_set_sink(log_sink_h *sink, void *arg)
{
    g_sink = sink;
    g_sink_arg = arg;
}

/* Copies src into dst escaping control bytes as \xNN; always NUL-terminates. */
static size_t append_escaped(char *dst, size_t cap, size_t at, const char *src)
{
    for (const unsigned char *s = (const unsigned char *)src; *s && at + 5 < cap; s++) {
        if (*s < 0x20 || *s == 0x7f)
            at += (size_t)snprintf(dst + at, cap - at, "\\x%02x", *s);
        else
            dst[at++] = (char)*s;
    }
    dst[at] = '\0';
    return at;
}

void log_msg(enum log_level level, const char *ctx, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;

    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);

    char line[2600];
    size_t at = (size_t)snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                                 log_level_name(level));
    if (ctx && *ctx) {
        line[at++] = '[';
        at = append_escaped(line, sizeof(line) - 2, at, ctx);
        line[at++] = ']';
        line[at++] = ' ';
    }
    at = append_escaped(line, sizeof(line) - 1, at, msg);

    if (g_sink) {
        g_sink(level, line, g_sink_arg);
        return;
    }
    line[at++] = '\n';
    /* One write(2) per line: atomic with respect to other threads' lines. */
    ssize_t r = write(STDERR_FILENO, line, at);
    (void)r;
}
