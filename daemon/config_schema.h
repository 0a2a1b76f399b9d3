/*
 * A table-driven validator: a section is an array of fields, each with a key, a type, the
 * offset of the C member it fills, a default, and an optional validator. One engine walks a
 * YAML mapping against a table and reports unknown keys, duplicates, wrong types, values out
 * of range and missing required keys, so a new section (sip:, with trunks and routes) is a
 * struct in config.h plus a table in config.c, not new parsing code.
 *
 * Types and the C member each fills:
 *   CONFIG_T_STRING   char *             (mem_strdup'd; CONFIG_F_PATH resolves it)
 *   CONFIG_T_INT      int                (min..max)
 *   CONFIG_T_BOOL     bool
 *   CONFIG_T_ENUM     int                (index into names[])
 *   CONFIG_T_STRV     struct config_strv (list of strings, each through check)
 *   CONFIG_T_SECTION  the struct of sub  (a nested mapping)
 *   CONFIG_T_LIST     struct config_list (a list of mappings, each a sub struct)
 *
 * Internal to the config module (daemon/config*.c) and its tests.
 */
#ifndef SB_DAEMON_CONFIG_SCHEMA_H
#define SB_DAEMON_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"
#include "daemon/config_yaml.h"

enum config_type {
    CONFIG_T_STRING,
    CONFIG_T_INT,
    CONFIG_T_BOOL,
    CONFIG_T_ENUM,
    CONFIG_T_STRV,
    CONFIG_T_SECTION,
    CONFIG_T_LIST,
};

enum {
    CONFIG_F_REQUIRED = 1 << 0, /* missing -> "missing required key" */
    CONFIG_F_SECRET = 1 << 1,   /* value never quoted in messages, wiped on free */
    CONFIG_F_PATH = 1 << 2,     /* STRING: relative -> against the config file's folder */
    CONFIG_F_NONEMPTY = 1 << 3, /* STRV / LIST: at least one entry */
};

/* Elements of a CONFIG_T_LIST: n structs of sub->size bytes each, contiguous. */
struct config_list {
    void *v;
    size_t n;
};

/* What validation passes around: where problems go and where relative paths start. */
struct config_ctx {
    struct config_diag *diag;
    const char *dir; /* NULL: leave relative paths alone */
    unsigned problems;
};

/* How one field of a section fared, for a section's cross-field check. */
struct config_seen {
    unsigned line; /* line of the key, 0 when absent */
    bool present;
    bool valid; /* present and accepted */
};

struct config_field;
struct config_section;

/*
 * Validates (and may rewrite: normalise, resolve) one string value. name is the dotted key
 * for messages ("matrix.homeserver", "matrix.allowed_users[2]"). Reports its own problem and
 * returns false to reject. Must not quote the value when the field is secret.
 */
typedef bool(config_check_str_h)(struct config_ctx *ctx, const struct config_field *f,
                                 const char *name, unsigned line, char **value);

/* Cross-field checks of a section once all its fields are in. path is its dotted name
 * ("" at the top), line the line of its key (1 at the top). */
typedef void(config_check_section_h)(struct config_ctx *ctx, const char *path, unsigned line,
                                     const struct config_seen *seen, void *obj);

struct config_field {
    const char *key;
    enum config_type type;
    unsigned flags;
    size_t offset;
    long long min, max;               /* INT */
    long long def;                    /* INT, BOOL, ENUM: value when absent */
    const char *def_str;              /* STRING: value when absent (NULL: stays NULL) */
    const char *const *names;         /* ENUM: NULL-terminated */
    config_check_str_h *check;        /* STRING, STRV (per element) */
    const struct config_section *sub; /* SECTION, LIST */
};

struct config_section {
    const struct config_field *fields;
    size_t nfields;
    size_t size; /* sizeof the struct the fields fill (LIST elements) */
    config_check_section_h *check;
};

/* printf into ctx->diag and count it. */
void config_error(struct config_ctx *ctx, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Fills obj from node (a mapping, or NULL / null for "nothing given": all defaults) by sec.
 * Defaults are applied to every field that is absent or invalid, so obj is always fully
 * initialised and config_schema_free() can run on it. path and line as for the check hook.
 */
void config_schema_apply(struct config_ctx *ctx, const struct config_section *sec,
                         const struct config_node *node, const char *path, unsigned line,
                         void *obj);

/* Frees every string, list and nested section obj holds by sec (not obj itself). */
void config_schema_free(const struct config_section *sec, void *obj);

/* The seen entry for key in sec (key must be in the table). */
const struct config_seen *config_seen_get(const struct config_section *sec,
                                          const struct config_seen *seen, const char *key);

/* Copies s into buf for a message: control characters escaped, long values cut with "...". */
const char *config_quote(char *buf, size_t cap, const char *s, size_t len);

/* switchboard's own schema (config.c): the top-level section, whose struct is struct config. */
extern const struct config_section *const config_schema;

/*
 * Reads a whole regular file of at most limit bytes into *bufp (NUL-terminated, *lenp bytes,
 * release with config_free_file()). Never blocks on FIFOs or devices: anything but a regular
 * file is refused. Returns 0, EISDIR, EINVAL (not a regular file), EFBIG, ENOMEM or the errno
 * of open/read.
 */
int config_read_file(const char *path, size_t limit, char **bufp, size_t *lenp);
/* Wipes (the buffer may hold secrets) and frees what config_read_file() returned. */
void config_free_file(char *buf, size_t len);
/* A message for config_read_file()'s errors ("is larger than 1 MiB", strerror otherwise). */
const char *config_read_strerror(int err, size_t limit);

/* Orders problems by line, keeping the order of those on one line. */
void config_diag_sort(struct config_diag *diag);

/* dir + "/" + rel (leading "./" dropped); absolute rel, or NULL dir, copies. mem-allocated. */
char *config_resolve_path(const char *dir, const char *rel);

#endif
