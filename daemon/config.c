/*
 * switchboard's config schema: one table per section, the validators its values go through,
 * and the cross-field checks (exactly one access token source, port range order, the state
 * folder's parent). The sip: section has a file of its own (config_sip.c). Reading files and the
 * load / --check-config entry points live in config_load.c; the engine that applies these tables is
 * config_schema.c.
 *
 * Key names here are an interface: operators' files and outside tests use them verbatim.
 */
#include "daemon/config.h"
#include "daemon/config_schema.h"
#include "daemon/config_sip.h"

#include "base/mem.h"
#include "media/ice.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

_Static_assert(sizeof(enum log_level) == sizeof(int), "log_level is stored as an int");

/* ---- validators ------------------------------------------------------------------------- */

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

/* "host", "host:port", "1.2.3.4:8448", "[::1]:8448" as in URLs and Matrix server names. */
bool config_valid_host_port(const char *s, size_t len)
{
    size_t i = 0;
    if (len && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        size_t hl = close ? (size_t)(close - s) - 1 : 0;
        char v6[INET6_ADDRSTRLEN];
        struct in6_addr a;
        if (!close || hl == 0 || hl >= sizeof(v6))
            return false;
        memcpy(v6, s + 1, hl);
        v6[hl] = '\0';
        if (inet_pton(AF_INET6, v6, &a) != 1)
            return false;
        i = hl + 2;
    } else {
        while (i < len && is_host_char(s[i]))
            i++;
        if (i == 0 || i > 253)
            return false;
    }
    if (i == len)
        return true;
    if (s[i] != ':' || i + 1 == len || len - i - 1 > 5)
        return false;
    unsigned port = 0;
    for (i++; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        port = port * 10 + (unsigned)(s[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

/* http(s)://host[:port][/path], no credentials, query or fragment; trailing '/' dropped so
 * callers can append "/_matrix/...". */
static bool check_http_url(struct config_ctx *ctx, const struct config_field *f, const char *name,
                           unsigned line, char **value)
{
    char *s = *value;
    char q[64];
    const char *rest = NULL;
    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    if (!rest) {
        config_error(ctx, line, "%s: '%s' is not an http or https URL", name,
                     config_quote(q, sizeof(q), s, strlen(s)));
        return false;
    }
    if (strpbrk(s, " \t?#")) {
        config_error(ctx, line, "%s: '%s' must be a plain URL (no spaces, query or fragment)", name,
                     config_quote(q, sizeof(q), s, strlen(s)));
        return false;
    }
    size_t alen = strcspn(rest, "/");
    if (memchr(rest, '@', alen)) {
        /* Not quoted: whatever sits before '@' is probably a password. */
        config_error(ctx, line, "%s: must not contain user credentials", name);
        return false;
    }
    if (!config_valid_host_port(rest, alen)) {
        config_error(ctx, line, "%s: '%s' does not have a valid host[:port]", name,
                     config_quote(q, sizeof(q), s, strlen(s)));
        return false;
    }
    size_t n = strlen(s);
    while (n > (size_t)(rest - s) + alen && s[n - 1] == '/')
        s[--n] = '\0';
    return true;
}

/* @localpart:server_name. Localparts are checked against the historical grammar (any printable
 * ASCII but ':') because old accounts still use it; server names as in the spec. */
bool config_check_user_id(struct config_ctx *ctx, const struct config_field *f, const char *name,
                          unsigned line, char **value)
{
    const char *s = *value;
    size_t len = strlen(s);
    const char *colon = len > 1 ? strchr(s + 1, ':') : NULL;
    bool ok = s[0] == '@' && len <= 255 && colon && colon > s + 1;
    for (const char *p = s + 1; ok && p < colon; p++)
        ok = *p > 0x20 && *p < 0x7f;
    if (ok)
        ok = config_valid_host_port(colon + 1, len - (size_t)(colon + 1 - s));
    if (!ok) {
        char q[64];
        config_error(ctx, line,
                     "%s: '%s' is not a valid Matrix user id (expected @localpart:server)", name,
                     config_quote(q, sizeof(q), s, len));
    }
    return ok;
}

/* Goes into an HTTP header: visible ASCII only. Never quoted. */
static bool token_chars_ok(const char *s)
{
    for (; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f)
            return false;
    }
    return true;
}

static bool check_token(struct config_ctx *ctx, const struct config_field *f, const char *name,
                        unsigned line, char **value)
{
    if (token_chars_ok(*value))
        return true;
    config_error(ctx, line, "%s: may only contain printable ASCII characters without spaces", name);
    return false;
}

bool config_check_user_glob(struct config_ctx *ctx, const struct config_field *f, const char *name,
                            unsigned line, char **value)
{
    const char *s = *value;
    char q[64];
    if ((s[0] != '@' && s[0] != '*' && s[0] != '?') || strpbrk(s, " \t")) {
        config_error(ctx, line, "%s: '%s' is not a user id pattern (like '@*:example.org')", name,
                     config_quote(q, sizeof(q), s, strlen(s)));
        return false;
    }
    return true;
}

static int ip_family_of(const char *s)
{
    struct in6_addr a;
    if (inet_pton(AF_INET, s, &a) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, s, &a) == 1)
        return AF_INET6;
    return 0;
}

bool config_check_ip(struct config_ctx *ctx, const struct config_field *f, const char *name,
                     unsigned line, char **value)
{
    const char *s = *value;
    char q[64];
    struct in6_addr a6;
    struct in_addr a4;
    int fam = ip_family_of(s);
    if (!fam) {
        config_error(ctx, line, "%s: '%s' is not an IPv4 or IPv6 address", name,
                     config_quote(q, sizeof(q), s, strlen(s)));
        return false;
    }
    bool any = fam == AF_INET ? (inet_pton(AF_INET, s, &a4) == 1 && a4.s_addr == 0)
                              : (inet_pton(AF_INET6, s, &a6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&a6));
    if (any) {
        config_error(ctx, line,
                     "%s: '%s' is the unspecified address; give the address peers send media to",
                     name, config_quote(q, sizeof(q), s, strlen(s)));
        return false;
    }
    return true;
}

/* ---- sections --------------------------------------------------------------------------- */

/* Reads the token file named by matrix.access_token_file into matrix.access_token. */
static void load_token_file(struct config_ctx *ctx, unsigned line, struct config_matrix *m)
{
    char *buf = NULL;
    size_t len = 0;
    char q[256];
    const char *shown =
        config_quote(q, sizeof(q), m->access_token_file, strlen(m->access_token_file));
    int err = config_read_file(m->access_token_file, CONFIG_MAX_TOKEN_FILE_SIZE, &buf, &len);
    if (err) {
        config_error(ctx, line, "matrix.access_token_file: cannot read '%s': %s", shown,
                     config_read_strerror(err, CONFIG_MAX_TOKEN_FILE_SIZE));
        return;
    }
    while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\t' || buf[len - 1] == '\n' ||
                   buf[len - 1] == '\r' || buf[len - 1] == '\v' || buf[len - 1] == '\f'))
        len--;
    buf[len] = '\0';
    if (len == 0) {
        config_error(ctx, line, "matrix.access_token_file: '%s' is empty", shown);
    } else if (strlen(buf) != len || !token_chars_ok(buf)) {
        config_error(ctx, line,
                     "matrix.access_token_file: the token in '%s' may only contain printable "
                     "ASCII characters without spaces",
                     shown);
    } else {
        m->access_token = mem_strdup(buf);
        if (!m->access_token)
            config_error(ctx, line, "matrix.access_token_file: out of memory");
    }
    config_free_file(buf, len);
}

static const struct config_section matrix_section;

static void check_matrix(struct config_ctx *ctx, const char *path, unsigned line,
                         const struct config_seen *seen, void *obj)
{
    struct config_matrix *m = obj;
    const struct config_seen *tok = config_seen_get(&matrix_section, seen, "access_token");
    const struct config_seen *file = config_seen_get(&matrix_section, seen, "access_token_file");

    if (tok->present && file->present) {
        config_error(ctx, tok->line > file->line ? tok->line : file->line,
                     "matrix: set only one of access_token and access_token_file");
        return;
    }
    if (!tok->present && !file->present) {
        config_error(ctx, line, "missing required key 'access_token' or 'access_token_file' in %s",
                     path);
        return;
    }
    if (file->valid)
        load_token_file(ctx, file->line, m);
}

static const struct config_section media_section;

static void check_media(struct config_ctx *ctx, const char *path, unsigned line,
                        const struct config_seen *seen, void *obj)
{
    struct config_media *m = obj;
    const struct config_seen *lo = config_seen_get(&media_section, seen, "port_min");
    const struct config_seen *hi = config_seen_get(&media_section, seen, "port_max");

    if (m->ip)
        m->ip_family = ip_family_of(m->ip);
    /* A bad port was already reported; comparing its default would only add noise. */
    if ((lo->present && !lo->valid) || (hi->present && !hi->valid))
        return;
    if (m->port_min > m->port_max)
        config_error(ctx, hi->present ? hi->line : (lo->present ? lo->line : line),
                     "media: port_min (%d) is greater than port_max (%d)", m->port_min,
                     m->port_max);
}

static const struct config_section top_section;

/* The daemon creates state_dir at start, so it may be missing; its parent may not. */
static void check_top(struct config_ctx *ctx, const char *path, unsigned line,
                      const struct config_seen *seen, void *obj)
{
    struct config *cfg = obj;
    config_sip_finish(ctx, &cfg->sip, config_seen_get(&top_section, seen, "sip")->present);
    const struct config_seen *sd = config_seen_get(&top_section, seen, "state_dir");
    if (!sd->valid || !cfg->state_dir)
        return;

    char q[256];
    const char *shown = config_quote(q, sizeof(q), cfg->state_dir, strlen(cfg->state_dir));
    struct stat st;
    if (stat(cfg->state_dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            config_error(ctx, sd->line, "state_dir: '%s' exists and is not a folder", shown);
        return;
    }
    if (errno != ENOENT) {
        config_error(ctx, sd->line, "state_dir: cannot check '%s': %s", shown, strerror(errno));
        return;
    }
    char *parent = mem_strdup(cfg->state_dir);
    if (!parent)
        return;
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(parent, ".");
    if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
        config_error(ctx, sd->line, "state_dir: the folder that would hold '%s' does not exist",
                     shown);
    mem_deref(parent);
}

/* ---- tables ----------------------------------------------------------------------------- */

#define M(type, member) offsetof(struct type, member)

static const struct config_field matrix_fields[] = {
    {.key = "homeserver",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_REQUIRED,
     .offset = M(config_matrix, homeserver),
     .check = check_http_url},
    {.key = "user_id",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_REQUIRED,
     .offset = M(config_matrix, user_id),
     .check = config_check_user_id},
    {.key = "access_token",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_SECRET,
     .offset = M(config_matrix, access_token),
     .check = check_token},
    {.key = "access_token_file",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_PATH,
     .offset = M(config_matrix, access_token_file)},
    {.key = "allowed_users",
     .type = CONFIG_T_STRV,
     .flags = CONFIG_F_REQUIRED | CONFIG_F_NONEMPTY,
     .offset = M(config_matrix, allowed_users),
     .check = config_check_user_glob},
    {.key = "sync_timeout_ms",
     .type = CONFIG_T_INT,
     .offset = M(config_matrix, sync_timeout_ms),
     .min = 0,
     .max = 600000,
     .def = 30000},
};

static const struct config_section matrix_section = {
    .fields = matrix_fields,
    .nfields = sizeof(matrix_fields) / sizeof(matrix_fields[0]),
    .size = sizeof(struct config_matrix),
    .check = check_matrix,
};

/* Indexed by enum ice_mode. */
static const char *const ice_names[] = {"lite", "full", NULL};
_Static_assert(ICE_MODE_LITE == 0 && ICE_MODE_FULL == 1, "ice_names follows enum ice_mode");

static const struct config_field media_fields[] = {
    {.key = "ip",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_REQUIRED,
     .offset = M(config_media, ip),
     .check = config_check_ip},
    {.key = "port_min",
     .type = CONFIG_T_INT,
     .offset = M(config_media, port_min),
     .min = 1,
     .max = 65535,
     .def = 20000},
    {.key = "port_max",
     .type = CONFIG_T_INT,
     .offset = M(config_media, port_max),
     .min = 1,
     .max = 65535,
     .def = 20999},
    {.key = "workers",
     .type = CONFIG_T_INT,
     .offset = M(config_media, workers),
     .min = 0,
     .max = 256,
     .def = 0},
    {.key = "media_timeout_s",
     .type = CONFIG_T_INT,
     .offset = M(config_media, media_timeout_s),
     .min = 1,
     .max = 3600,
     .def = 30},
    {.key = "connect_timeout_s",
     .type = CONFIG_T_INT,
     .offset = M(config_media, connect_timeout_s),
     .min = 1,
     .max = 600,
     .def = 30},
    {.key = "ice",
     .type = CONFIG_T_ENUM,
     .offset = M(config_media, ice),
     .names = ice_names,
     .def = ICE_MODE_LITE},
};

static const struct config_section media_section = {
    .fields = media_fields,
    .nfields = sizeof(media_fields) / sizeof(media_fields[0]),
    .size = sizeof(struct config_media),
    .check = check_media,
};

static const struct config_field conference_fields[] = {
    {.key = "mixer_threads",
     .type = CONFIG_T_INT,
     .offset = M(config_conference, mixer_threads),
     .min = 1,
     .max = 64,
     .def = 1},
    {.key = "opus_bitrate",
     .type = CONFIG_T_INT,
     .offset = M(config_conference, opus_bitrate),
     .min = 6000,
     .max = 510000,
     .def = 32000},
    {.key = "opus_complexity",
     .type = CONFIG_T_INT,
     .offset = M(config_conference, opus_complexity),
     .min = 0,
     .max = 10,
     .def = 5},
};

static const struct config_section conference_section = {
    .fields = conference_fields,
    .nfields = sizeof(conference_fields) / sizeof(conference_fields[0]),
    .size = sizeof(struct config_conference),
};

static const struct config_field calls_fields[] = {
    {.key = "invite_lifetime_ms",
     .type = CONFIG_T_INT,
     .offset = M(config_calls, invite_lifetime_ms),
     .min = 1000,
     .max = 600000,
     .def = 60000},
};

static const struct config_section calls_section = {
    .fields = calls_fields,
    .nfields = sizeof(calls_fields) / sizeof(calls_fields[0]),
    .size = sizeof(struct config_calls),
};

/* In enum log_level order. */
static const char *const log_level_names[] = {"error", "warn", "info", "debug", NULL};

static const struct config_field top_fields[] = {
    {.key = "matrix",
     .type = CONFIG_T_SECTION,
     .flags = CONFIG_F_REQUIRED,
     .offset = M(config, matrix),
     .sub = &matrix_section},
    {.key = "state_dir",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_REQUIRED | CONFIG_F_PATH,
     .offset = M(config, state_dir)},
    {.key = "media",
     .type = CONFIG_T_SECTION,
     .flags = CONFIG_F_REQUIRED,
     .offset = M(config, media),
     .sub = &media_section},
    {.key = "conference",
     .type = CONFIG_T_SECTION,
     .offset = M(config, conference),
     .sub = &conference_section},
    {.key = "calls", .type = CONFIG_T_SECTION, .offset = M(config, calls), .sub = &calls_section},
    {.key = "sip", .type = CONFIG_T_SECTION, .offset = M(config, sip), .sub = &config_sip_section},
    {.key = "log_level",
     .type = CONFIG_T_ENUM,
     .offset = M(config, log_level),
     .names = log_level_names,
     .def = LOG_LVL_INFO},
};

static const struct config_section top_section = {
    .fields = top_fields,
    .nfields = sizeof(top_fields) / sizeof(top_fields[0]),
    .size = sizeof(struct config),
    .check = check_top,
};

const struct config_section *const config_schema = &top_section;
