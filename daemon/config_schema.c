/*
 * The engine behind the config tables (config_schema.h): walks a YAML mapping against a
 * section's fields, fills the C struct, and reports every problem with its line.
 *
 * Each field is written exactly once: from the file when present and valid, otherwise from
 * its default. That keeps the struct fully initialised even when the load fails half-way, so
 * one free routine (driven by the same tables) releases whatever was filled.
 */
#include "daemon/config_schema.h"

#include "base/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 160

void config_error(struct config_ctx *ctx, unsigned line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctx->problems++;
    config_diag_add(ctx->diag, line, "%s", msg);
}

const char *config_quote(char *buf, size_t cap, const char *s, size_t len)
{
    size_t at = 0;
    if (cap < 8)
        return "";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* Room for the longest escape and, if this is the last that fits, "...". */
        if (at + 8 >= cap) {
            memcpy(buf + at, "...", 3);
            at += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '\\')
            at += (size_t)snprintf(buf + at, cap - at, "\\x%02x", c);
        else
            buf[at++] = (char)c;
    }
    buf[at] = '\0';
    return buf;
}

char *config_resolve_path(const char *dir, const char *rel)
{
    if (!rel)
        return NULL;
    if (!dir || rel[0] == '/')
        return mem_strdup(rel);

    /* "./state" and "state" name the same folder; keep messages free of "/./". */
    while (rel[0] == '.' && rel[1] == '/') {
        rel += 2;
        while (*rel == '/')
            rel++;
    }
    if (strcmp(rel, ".") == 0)
        rel = "";

    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    size_t rl = strlen(rel);
    bool slash = rl && !(dl == 1 && dir[0] == '/');
    char *out = mem_alloc(dl + (slash ? 1 : 0) + rl + 1, NULL);
    if (!out)
        return NULL;
    memcpy(out, dir, dl);
    size_t at = dl;
    if (slash)
        out[at++] = '/';
    memcpy(out + at, rel, rl);
    out[at + rl] = '\0';
    return out;
}

static const char *expected_of(enum config_type t)
{
    switch (t) {
    case CONFIG_T_STRING:
    case CONFIG_T_ENUM:
        return "a string";
    case CONFIG_T_INT:
        return "an integer";
    case CONFIG_T_BOOL:
        return "a boolean";
    case CONFIG_T_STRV:
        return "a list of strings";
    case CONFIG_T_SECTION:
        return "a mapping";
    case CONFIG_T_LIST:
        return "a list of mappings";
    }
    return "something else";
}

static void type_error(struct config_ctx *ctx, const char *name, unsigned line,
                       enum config_type want, const struct config_node *got)
{
    config_error(ctx, line, "%s: expected %s, got %s", name, expected_of(want),
                 config_node_describe(got));
}

static void *member(void *obj, const struct config_field *f)
{
    return (char *)obj + f->offset;
}

static void free_string(char **sp, bool secret)
{
    if (*sp && secret)
        explicit_bzero(*sp, strlen(*sp));
    *sp = mem_deref(*sp);
}

/* A string value: scalar, no NUL or control characters, not empty, through f->check. */
static char *parse_string(struct config_ctx *ctx, const struct config_field *f, const char *name,
                          unsigned line, const struct config_node *v)
{
    if (v->kind != CONFIG_NODE_SCALAR || v->type != CONFIG_SCALAR_STRING) {
        type_error(ctx, name, line, CONFIG_T_STRING, v);
        return NULL;
    }
    if (strlen(v->str) != v->len) {
        config_error(ctx, line, "%s: contains a NUL character", name);
        return NULL;
    }
    for (size_t i = 0; i < v->len; i++) {
        unsigned char c = (unsigned char)v->str[i];
        if (c < 0x20 || c == 0x7f) {
            config_error(ctx, line, "%s: contains control characters", name);
            return NULL;
        }
    }
    if (v->len == 0) {
        config_error(ctx, line, "%s: must not be empty", name);
        return NULL;
    }

    char *s = mem_strdup(v->str);
    if (!s) {
        config_error(ctx, line, "%s: out of memory", name);
        return NULL;
    }
    if (f->check && !f->check(ctx, f, name, line, &s)) {
        free_string(&s, f->flags & CONFIG_F_SECRET);
        return NULL;
    }
    if (f->flags & CONFIG_F_PATH) {
        char *abs = config_resolve_path(ctx->dir, s);
        mem_deref(s);
        if (!abs)
            config_error(ctx, line, "%s: out of memory", name);
        s = abs;
    }
    return s;
}

static bool parse_int(struct config_ctx *ctx, const struct config_field *f, const char *name,
                      unsigned line, const struct config_node *v, int *out)
{
    if (v->kind != CONFIG_NODE_SCALAR || v->type != CONFIG_SCALAR_INT) {
        type_error(ctx, name, line, CONFIG_T_INT, v);
        return false;
    }
    errno = 0;
    char *end;
    long long x = strtoll(v->str, &end, 10);
    if (errno || *end || x < f->min || x > f->max) {
        char q[64];
        config_error(ctx, line, "%s: %s is out of range (%lld..%lld)", name,
                     config_quote(q, sizeof(q), v->str, v->len), f->min, f->max);
        return false;
    }
    *out = (int)x;
    return true;
}

static bool parse_enum(struct config_ctx *ctx, const struct config_field *f, const char *name,
                       unsigned line, const struct config_node *v, int *out)
{
    if (v->kind != CONFIG_NODE_SCALAR || v->type != CONFIG_SCALAR_STRING) {
        type_error(ctx, name, line, CONFIG_T_ENUM, v);
        return false;
    }
    for (int i = 0; f->names[i]; i++) {
        if (strlen(v->str) == v->len && strcmp(v->str, f->names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    char list[256] = "";
    size_t at = 0;
    for (int i = 0; f->names[i] && at < sizeof(list); i++)
        at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "", f->names[i]);
    char q[64];
    config_error(ctx, line, "%s: '%s' is not one of %s", name,
                 config_quote(q, sizeof(q), v->str, v->len), list);
    return false;
}

static bool parse_strv(struct config_ctx *ctx, const struct config_field *f, const char *name,
                       unsigned line, const struct config_node *v, struct config_strv *out)
{
    if (v->kind != CONFIG_NODE_SEQ) {
        type_error(ctx, name, line, CONFIG_T_STRV, v);
        return false;
    }
    if (v->n == 0) {
        if (f->flags & CONFIG_F_NONEMPTY) {
            config_error(ctx, line, "%s: must list at least one entry", name);
            return false;
        }
        return true;
    }
    char **list = calloc(v->n, sizeof(*list));
    if (!list) {
        config_error(ctx, line, "%s: out of memory", name);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < v->n; i++) {
        char ename[NAME_MAX_LEN + 24]; /* the name and "[index]" */
        snprintf(ename, sizeof(ename), "%s[%zu]", name, i);
        list[i] = parse_string(ctx, f, ename, v->items[i]->line, v->items[i]);
        if (!list[i])
            ok = false;
    }
    if (!ok) {
        for (size_t i = 0; i < v->n; i++)
            free_string(&list[i], f->flags & CONFIG_F_SECRET);
        free(list);
        return false;
    }
    out->v = list;
    out->n = v->n;
    return true;
}

static void defaults(struct config_ctx *ctx, const struct config_section *sec, void *obj);

static void set_default(struct config_ctx *ctx, const struct config_field *f, void *obj)
{
    void *p = member(obj, f);
    switch (f->type) {
    case CONFIG_T_STRING:
        if (f->def_str)
            *(char **)p = (f->flags & CONFIG_F_PATH) ? config_resolve_path(ctx->dir, f->def_str)
                                                     : mem_strdup(f->def_str);
        break;
    case CONFIG_T_INT:
    case CONFIG_T_ENUM:
        *(int *)p = (int)f->def;
        break;
    case CONFIG_T_BOOL:
        *(bool *)p = f->def != 0;
        break;
    case CONFIG_T_SECTION:
        defaults(ctx, f->sub, p);
        break;
    case CONFIG_T_STRV:
    case CONFIG_T_LIST:
        break; /* empty: the struct starts zeroed */
    }
}

static void defaults(struct config_ctx *ctx, const struct config_section *sec, void *obj)
{
    for (size_t i = 0; i < sec->nfields; i++)
        set_default(ctx, &sec->fields[i], obj);
}

static bool parse_list(struct config_ctx *ctx, const struct config_field *f, const char *name,
                       unsigned line, const struct config_node *v, struct config_list *out)
{
    if (v->kind != CONFIG_NODE_SEQ) {
        type_error(ctx, name, line, CONFIG_T_LIST, v);
        return false;
    }
    if (v->n == 0) {
        if (f->flags & CONFIG_F_NONEMPTY) {
            config_error(ctx, line, "%s: must list at least one entry", name);
            return false;
        }
        return true;
    }
    char *elems = calloc(v->n, f->sub->size);
    if (!elems) {
        config_error(ctx, line, "%s: out of memory", name);
        return false;
    }
    /* Elements are kept even when some are bad: the load fails anyway, and every element
     * being initialised keeps the free path uniform. */
    for (size_t i = 0; i < v->n; i++) {
        const struct config_node *e = v->items[i];
        void *obj = elems + i * f->sub->size;
        char ename[NAME_MAX_LEN + 24]; /* the name and "[index]" */
        snprintf(ename, sizeof(ename), "%s[%zu]", name, i);
        if (e->kind != CONFIG_NODE_MAP) {
            config_error(ctx, e->line, "%s: expected a mapping, got %s", ename,
                         config_node_describe(e));
            defaults(ctx, f->sub, obj);
            continue;
        }
        config_schema_apply(ctx, f->sub, e, ename, e->line, obj);
    }
    out->v = elems;
    out->n = v->n;
    return true;
}

/* Parses one present field into its member; false leaves the member for the default. */
static bool parse_field(struct config_ctx *ctx, const struct config_field *f, const char *name,
                        unsigned line, const struct config_node *v, void *obj)
{
    void *p = member(obj, f);
    switch (f->type) {
    case CONFIG_T_STRING: {
        char *s = parse_string(ctx, f, name, line, v);
        if (!s)
            return false;
        *(char **)p = s;
        return true;
    }
    case CONFIG_T_INT:
        return parse_int(ctx, f, name, line, v, p);
    case CONFIG_T_ENUM:
        return parse_enum(ctx, f, name, line, v, p);
    case CONFIG_T_BOOL:
        if (v->kind != CONFIG_NODE_SCALAR || v->type != CONFIG_SCALAR_BOOL) {
            type_error(ctx, name, line, CONFIG_T_BOOL, v);
            return false;
        }
        *(bool *)p = v->str[0] == 't' || v->str[0] == 'T';
        return true;
    case CONFIG_T_STRV:
        return parse_strv(ctx, f, name, line, v, p);
    case CONFIG_T_SECTION:
        if (v->kind == CONFIG_NODE_SCALAR && v->type == CONFIG_SCALAR_NULL) {
            /* "section:" with every key commented out: all defaults, required ones missing. */
            config_schema_apply(ctx, f->sub, NULL, name, line, p);
            return true;
        }
        if (v->kind != CONFIG_NODE_MAP) {
            type_error(ctx, name, line, CONFIG_T_SECTION, v);
            return false;
        }
        config_schema_apply(ctx, f->sub, v, name, line, p);
        return true;
    case CONFIG_T_LIST:
        return parse_list(ctx, f, name, line, v, p);
    }
    return false;
}

static const struct config_field *find_field(const struct config_section *sec,
                                             const struct config_node *k, size_t *index)
{
    if (strlen(k->str) != k->len)
        return NULL;
    for (size_t i = 0; i < sec->nfields; i++) {
        if (strcmp(sec->fields[i].key, k->str) == 0) {
            *index = i;
            return &sec->fields[i];
        }
    }
    return NULL;
}

void config_schema_apply(struct config_ctx *ctx, const struct config_section *sec,
                         const struct config_node *node, const char *path, unsigned line, void *obj)
{
    struct config_seen *seen = calloc(sec->nfields ? sec->nfields : 1, sizeof(*seen));
    if (!seen) {
        config_error(ctx, line, "out of memory");
        defaults(ctx, sec, obj);
        return;
    }
    const char *in = *path ? " in " : "";

    for (size_t i = 0; node && i + 1 < node->n; i += 2) {
        const struct config_node *k = node->items[i];
        const struct config_node *v = node->items[i + 1];
        char q[64];

        if (k->kind != CONFIG_NODE_SCALAR) {
            config_error(ctx, k->line, "keys must be strings, got %s%s%s", config_node_describe(k),
                         in, path);
            continue;
        }
        size_t fi;
        const struct config_field *f = find_field(sec, k, &fi);
        if (!f) {
            config_error(ctx, k->line, "unknown key '%s'%s%s",
                         config_quote(q, sizeof(q), k->str, k->len), in, path);
            continue;
        }
        if (seen[fi].present) {
            config_error(ctx, k->line, "duplicate key '%s'%s%s (first at line %u)", f->key, in,
                         path, seen[fi].line);
            continue;
        }
        seen[fi].present = true;
        seen[fi].line = k->line;

        char name[NAME_MAX_LEN];
        snprintf(name, sizeof(name), "%s%s%s", path, *path ? "." : "", f->key);
        seen[fi].valid = parse_field(ctx, f, name, k->line, v, obj);
    }

    for (size_t i = 0; i < sec->nfields; i++) {
        const struct config_field *f = &sec->fields[i];
        if (!seen[i].present && (f->flags & CONFIG_F_REQUIRED))
            config_error(ctx, line, "missing required key '%s'%s%s", f->key, in, path);
        if (!seen[i].valid)
            set_default(ctx, f, obj);
    }

    if (sec->check)
        sec->check(ctx, path, line, seen, obj);
    free(seen);
}

void config_schema_free(const struct config_section *sec, void *obj)
{
    if (!obj)
        return;
    for (size_t i = 0; i < sec->nfields; i++) {
        const struct config_field *f = &sec->fields[i];
        void *p = member(obj, f);
        bool secret = f->flags & CONFIG_F_SECRET;
        switch (f->type) {
        case CONFIG_T_STRING:
            free_string(p, secret);
            break;
        case CONFIG_T_STRV: {
            struct config_strv *sv = p;
            for (size_t j = 0; j < sv->n; j++)
                free_string(&sv->v[j], secret);
            free(sv->v);
            sv->v = NULL;
            sv->n = 0;
            break;
        }
        case CONFIG_T_SECTION:
            config_schema_free(f->sub, p);
            break;
        case CONFIG_T_LIST: {
            struct config_list *l = p;
            for (size_t j = 0; j < l->n; j++)
                config_schema_free(f->sub, (char *)l->v + j * f->sub->size);
            free(l->v);
            l->v = NULL;
            l->n = 0;
            break;
        }
        case CONFIG_T_INT:
        case CONFIG_T_ENUM:
        case CONFIG_T_BOOL:
            break;
        }
    }
}

const struct config_seen *config_seen_get(const struct config_section *sec,
                                          const struct config_seen *seen, const char *key)
{
    for (size_t i = 0; i < sec->nfields; i++) {
        if (strcmp(sec->fields[i].key, key) == 0)
            return &seen[i];
    }
    static const struct config_seen absent;
    return &absent;
}
