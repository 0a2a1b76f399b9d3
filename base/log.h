/*
 * Leveled logging to stderr, one line per message, with an optional context that names where
 * a message comes from ("room=!abc:hs call=c123 party=p1", "peer=127.0.0.1:5060").
 *
 * Lines are built whole and written with one call, so threads never interleave inside a line.
 * Control characters in the final text are escaped: remote parties put whatever they like into
 * SDP and JSON, and a newline in a log line must not forge a second one.
 * Secrets never reach this module: callers log ids, never tokens or passwords.
 */
#ifndef SB_BASE_LOG_H
#define SB_BASE_LOG_H

#include <stdbool.h>

enum log_level {
    LOG_LVL_ERROR = 0,
    LOG_LVL_WARN,
    LOG_LVL_INFO,
    LOG_LVL_DEBUG,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/* "error" | "warn" | "info" | "debug" -> 0, or EINVAL. */
int log_level_parse(const char *name, enum log_level *level);
const char *log_level_name(enum log_level level);

/* Replaces the sink (default: stderr); tests capture lines with it. NULL restores stderr.
 * The line passed has no trailing newline. */
typedef void(log_sink_h)(enum log_level level, const char *line, void *arg);
void log_set_sink(log_sink_h *sink, void *arg);

void log_msg(enum log_level level, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LVL_ERROR, NULL, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, NULL, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, NULL, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_DEBUG))                                                            \
            log_msg(LOG_LVL_DEBUG, NULL, __VA_ARGS__);                                             \
    } while (0)

#define logc_error(ctx, ...) log_msg(LOG_LVL_ERROR, (ctx), __VA_ARGS__)
#define logc_warn(ctx, ...)  log_msg(LOG_LVL_WARN, (ctx), __VA_ARGS__)
#define logc_info(ctx, ...)  log_msg(LOG_LVL_INFO, (ctx), __VA_ARGS__)
#define logc_debug(ctx, ...)                                                                       \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_DEBUG))                                                            \
            log_msg(LOG_LVL_DEBUG, (ctx), __VA_ARGS__);                                            \
    } while (0)

#endif
