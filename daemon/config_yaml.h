/*
 * YAML text -> a small tree of nodes that remember their line, for the config validator.
 *
 * libyaml hands out a stream of events; validating against a schema wants random access to a
 * mapping's keys and, for every message, the line a value came from. This reader builds just
 * that tree and nothing more: no anchors, aliases or tags (a config file has no use for them
 * and they make line numbers lie), one document per file, bounded nesting and size.
 *
 * Plain (unquoted) scalars are given a type the way YAML 1.2's core schema does (null,
 * boolean, integer, float, else string); quoted and block scalars are always strings, so
 * `port: "5060"` is a string and `port: 5060` an integer, and the validator can say which.
 *
 * Internal to the config module (daemon/config*.c).
 */
#ifndef SB_DAEMON_CONFIG_YAML_H
#define SB_DAEMON_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>

struct config_diag;

enum config_node_kind {
    CONFIG_NODE_SCALAR,
    CONFIG_NODE_MAP,
    CONFIG_NODE_SEQ,
};

enum config_scalar_type {
    CONFIG_SCALAR_NULL, /* empty, ~, null */
    CONFIG_SCALAR_BOOL, /* true / false */
    CONFIG_SCALAR_INT,  /* [-+]?[0-9]+ */
    CONFIG_SCALAR_FLOAT,
    CONFIG_SCALAR_STRING,
};

struct config_node {
    enum config_node_kind kind;
    enum config_scalar_type type; /* scalars only */
    unsigned line;                /* 1-based */
    char *str;                    /* scalars: NUL-terminated copy (may hold an inner NUL) */
    size_t len;                   /* scalars: bytes in str, excluding the final NUL */
    /* Maps: items[2i] is a key, items[2i+1] its value. Sequences: one item per entry. */
    struct config_node **items;
    size_t n;
    size_t cap;
};

/* Most nesting any config needs is a handful of levels; deeper input is refused. */
#define CONFIG_YAML_MAX_DEPTH 32
/* A bound on nodes keeps a 1 MiB file from costing more than a few MiB of tree. */
#define CONFIG_YAML_MAX_NODES 100000

/*
 * Parses buf (len bytes) into *rootp. Every problem (syntax, anchors, aliases, tags, a second
 * document, nesting or size limits) is added to diag with its line. Returns 0, EBADMSG when
 * there was at least one problem (*rootp is then NULL), or ENOMEM. An empty document (only
 * comments) gives 0 and *rootp == NULL. The tree is freed with mem_deref(root); scalars are
 * wiped on free because they may be secrets.
 */
int config_yaml_parse(struct config_node **rootp, const char *buf, size_t len,
                      struct config_diag *diag);

/* The value for key in a map node, or NULL. The first occurrence wins. */
const struct config_node *config_node_get(const struct config_node *map, const char *key);

/* "a string", "an integer", "a mapping", ... for messages. */
const char *config_node_describe(const struct config_node *node);

#endif
