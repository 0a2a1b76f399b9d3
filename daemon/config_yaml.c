/*
 * libyaml events -> struct config_node tree; see config_yaml.h for what is refused and why.
 *
 * The builder keeps an explicit stack of open containers rather than recursing, so nesting
 * costs no C stack; the depth is capped anyway because the validator and the destructor walk
 * the tree recursively. Problems that leave the event stream usable (an anchor, a tag, an
 * alias) are reported and parsing goes on, so one run lists all of them; problems that end
 * the stream (syntax, limits) stop it.
 */
#include "daemon/config_yaml.h"

#include "base/mem.h"
#include "daemon/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct builder {
    struct config_node *root;
    struct config_node *stack[CONFIG_YAML_MAX_DEPTH];
    size_t depth;
    size_t nodes;
    unsigned docs;
    bool failed;
    struct config_diag *diag;
};

static void node_destroy(void *data)
{
    struct config_node *n = data;
    for (size_t i = 0; i < n->n; i++)
        mem_deref(n->items[i]);
    free(n->items);
    if (n->str) {
        /* Scalars include the access token and, later, SIP passwords. */
        explicit_bzero(n->str, n->len);
        free(n->str);
    }
}

static bool equals_any(const char *s, const char *const *words)
{
    for (; *words; words++) {
        if (strcmp(s, *words) == 0)
            return true;
    }
    return false;
}

static bool is_int(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

/* YAML 1.2 core: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_float(const char *s)
{
    static const char *const special[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf",
                                          "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
                                          ".NaN",  ".NAN",  NULL};
    if (equals_any(s, special))
        return true;
    if (*s == '-' || *s == '+')
        s++;
    size_t digits = 0;
    while (*s >= '0' && *s <= '9') {
        s++;
        digits++;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            s++;
            digits++;
        }
    }
    if (!digits)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static enum config_scalar_type plain_type(const char *s, size_t len)
{
    static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE", NULL};

    if (len == 0 || equals_any(s, nulls))
        return CONFIG_SCALAR_NULL;
    if (strlen(s) != len)
        return CONFIG_SCALAR_STRING; /* plain scalars cannot hold NUL, but never assume */
    if (equals_any(s, bools))
        return CONFIG_SCALAR_BOOL;
    if (is_int(s))
        return CONFIG_SCALAR_INT;
    if (is_float(s))
        return CONFIG_SCALAR_FLOAT;
    return CONFIG_SCALAR_STRING;
}

static unsigned line_of(const yaml_mark_t *m)
{
    return m->line < UINT_MAX ? (unsigned)m->line + 1 : UINT_MAX;
}

static int node_new(struct builder *b, enum config_node_kind kind, unsigned line,
                    struct config_node **np)
{
    if (++b->nodes > CONFIG_YAML_MAX_NODES) {
        config_diag_add(b->diag, line, "too many values (more than %d)", CONFIG_YAML_MAX_NODES);
        b->failed = true;
        return EBADMSG;
    }
    struct config_node *n = mem_zalloc(sizeof(*n), node_destroy);
    if (!n)
        return ENOMEM;
    n->kind = kind;
    n->line = line;
    *np = n;
    return 0;
}

/* Hands a finished node to its parent (or makes it the root). Takes the reference. */
static int attach(struct builder *b, struct config_node *n)
{
    if (b->depth == 0) {
        mem_deref(b->root);
        b->root = n;
        return 0;
    }
    struct config_node *parent = b->stack[b->depth - 1];
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        struct config_node **items = realloc(parent->items, cap * sizeof(*items));
        if (!items) {
            mem_deref(n);
            return ENOMEM;
        }
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = n;
    return 0;
}

/* Anchors and tags: reported, the node is kept so the rest of the file still gets checked. */
static void refuse_decorations(struct builder *b, const yaml_char_t *anchor, const yaml_char_t *tag,
                               unsigned line)
{
    if (anchor) {
        config_diag_add(b->diag, line, "YAML anchors (&name) are not supported");
        b->failed = true;
    }
    if (tag) {
        config_diag_add(b->diag, line, "YAML tags (!tag) are not supported");
        b->failed = true;
    }
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
    unsigned line = line_of(&ev->start_mark);
    refuse_decorations(b, ev->data.scalar.anchor, ev->data.scalar.tag, line);

    struct config_node *n;
    int err = node_new(b, CONFIG_NODE_SCALAR, line, &n);
    if (err)
        return err;
    n->len = ev->data.scalar.length;
    n->str = malloc(n->len + 1);
    if (!n->str) {
        mem_deref(n);
        return ENOMEM;
    }
    memcpy(n->str, ev->data.scalar.value, n->len);
    n->str[n->len] = '\0';
    n->type = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_type(n->str, n->len)
                                                               : CONFIG_SCALAR_STRING;
    return attach(b, n);
}

static int on_alias(struct builder *b, const yaml_event_t *ev)
{
    unsigned line = line_of(&ev->start_mark);
    config_diag_add(b->diag, line, "YAML aliases (*name) are not supported");
    b->failed = true;
    /* A placeholder keeps key/value pairs aligned so later problems are still found. */
    struct config_node *n;
    int err = node_new(b, CONFIG_NODE_SCALAR, line, &n);
    if (err)
        return err;
    n->str = calloc(1, 1);
    if (!n->str) {
        mem_deref(n);
        return ENOMEM;
    }
    n->type = CONFIG_SCALAR_NULL;
    return attach(b, n);
}

static int on_container_start(struct builder *b, const yaml_event_t *ev, bool map)
{
    unsigned line = line_of(&ev->start_mark);
    if (map)
        refuse_decorations(b, ev->data.mapping_start.anchor, ev->data.mapping_start.tag, line);
    else
        refuse_decorations(b, ev->data.sequence_start.anchor, ev->data.sequence_start.tag, line);

    if (b->depth == CONFIG_YAML_MAX_DEPTH) {
        config_diag_add(b->diag, line, "nesting deeper than %d levels", CONFIG_YAML_MAX_DEPTH);
        b->failed = true;
        return EBADMSG;
    }
    struct config_node *n;
    int err = node_new(b, map ? CONFIG_NODE_MAP : CONFIG_NODE_SEQ, line, &n);
    if (err)
        return err;
    b->stack[b->depth++] = n;
    return 0;
}

static int on_container_end(struct builder *b)
{
    if (b->depth == 0)
        return EBADMSG; /* libyaml never does this; refuse rather than trust */
    struct config_node *n = b->stack[--b->depth];
    return attach(b, n);
}

/* Reader errors carry a byte offset, not a line: count the newlines before it. */
static unsigned line_at_offset(const char *buf, size_t len, size_t off)
{
    unsigned line = 1;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n')
            line++;
    }
    return line;
}

/* The byte at (line, column) of the problem, both 0-based as libyaml counts them (columns in
 * characters), or -1. Only used to add a hint for the two mistakes everyone makes. */
static int char_at(const char *buf, size_t len, size_t line, size_t column)
{
    size_t i = 0;
    for (size_t l = 0; l < line; l++) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl)
            return -1;
        i = (size_t)(nl - buf) + 1;
    }
    for (size_t c = 0; c < column && i < len; c++) {
        i++;
        while (i < len && ((unsigned char)buf[i] & 0xc0) == 0x80)
            i++;
    }
    return i < len ? (unsigned char)buf[i] : -1;
}

static const char *hint_for(const yaml_parser_t *p, const char *buf, size_t len)
{
    if (p->error != YAML_SCANNER_ERROR)
        return "";
    switch (char_at(buf, len, p->problem_mark.line, p->problem_mark.column)) {
    case '\t':
        return "; indent with spaces, not tabs";
    case '@':
    case '`':
        return "; values starting with '@' or '`' must be quoted";
    default:
        return "";
    }
}

static void report_parser_error(struct builder *b, const yaml_parser_t *p, const char *buf,
                                size_t len)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    b->failed = true;

    if (p->error == YAML_READER_ERROR) {
        config_diag_add(b->diag, line_at_offset(buf, len, p->problem_offset), "invalid text: %s",
                        problem);
        return;
    }
    unsigned line = line_of(&p->problem_mark);
    const char *hint = hint_for(p, buf, len);
    if (p->context) {
        unsigned cline = line_of(&p->context_mark);
        if (cline != line)
            config_diag_add(b->diag, line, "YAML syntax error: %s (%s at line %u)%s", problem,
                            p->context, cline, hint);
        else
            config_diag_add(b->diag, line, "YAML syntax error: %s (%s)%s", problem, p->context,
                            hint);
    } else {
        config_diag_add(b->diag, line, "YAML syntax error: %s%s", problem, hint);
    }
}

static void unwind(struct builder *b)
{
    while (b->depth)
        mem_deref(b->stack[--b->depth]);
    b->root = mem_deref(b->root);
}

int config_yaml_parse(struct config_node **rootp, const char *buf, size_t len,
                      struct config_diag *diag)
{
    if (!rootp || (!buf && len))
        return EINVAL;
    *rootp = NULL;

    struct builder b = {.diag = diag};
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""), len);

    int err = 0;
    bool done = false;
    while (!done && !err) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                err = ENOMEM;
            } else {
                report_parser_error(&b, &parser, buf, len);
                err = EBADMSG;
            }
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++b.docs > 1) {
                config_diag_add(diag, line_of(&ev.start_mark),
                                "more than one YAML document; a config file holds one");
                b.failed = true;
                err = EBADMSG;
            }
            break;
        case YAML_SCALAR_EVENT:
            err = on_scalar(&b, &ev);
            break;
        case YAML_ALIAS_EVENT:
            err = on_alias(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            err = on_container_start(&b, &ev, false);
            break;
        case YAML_MAPPING_START_EVENT:
            err = on_container_start(&b, &ev, true);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            err = on_container_end(&b);
            break;
        default: /* stream start, document end, no event */
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);

    if (!err && b.failed)
        err = EBADMSG;
    if (err) {
        unwind(&b);
        return err;
    }
    *rootp = b.root;
    return 0;
}

const struct config_node *config_node_get(const struct config_node *map, const char *key)
{
    if (!map || map->kind != CONFIG_NODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct config_node *k = map->items[i];
        if (k->kind == CONFIG_NODE_SCALAR && k->len == strlen(key) && strcmp(k->str, key) == 0)
            return map->items[i + 1];
    }
    return NULL;
}

const char *config_node_describe(const struct config_node *node)
{
    if (!node)
        return "nothing";
    switch (node->kind) {
    case CONFIG_NODE_MAP:
        return "a mapping";
    case CONFIG_NODE_SEQ:
        return "a list";
    case CONFIG_NODE_SCALAR:
        break;
    }
    switch (node->type) {
    case CONFIG_SCALAR_NULL:
        return "null";
    case CONFIG_SCALAR_BOOL:
        return "a boolean";
    case CONFIG_SCALAR_INT:
        return "an integer";
    case CONFIG_SCALAR_FLOAT:
        return "a float";
    case CONFIG_SCALAR_STRING:
        break;
    }
    return "a string";
}
