/*
 * The daemon's configuration: one YAML file, read once at start, validated strictly.
 *
 * Loading collects every problem it finds, each with the line it refers to, instead of
 * stopping at the first: an operator fixing a config wants the whole list in one go, the way
 * a compiler reports. `switchboard --check-config FILE` prints that list as "FILE:LINE:
 * message" lines and exits non-zero, or prints "FILE: ok" and exits 0.
 *
 * Strictness is deliberate: unknown keys (typos), wrong types (`port_min: "20000"`),
 * duplicate keys, YAML anchors/aliases/tags and a second document are all errors, because a
 * silently ignored line in a gateway's config shows up weeks later as a call that fails.
 * Secrets (the access token) never appear in a message. Relative paths are resolved against
 * the folder of the config file, never the working directory.
 *
 * Every key, its type, default and validator is a row in a table in config.c; adding a
 * section means adding a struct here and a table there (see config_schema.h).
 */
#ifndef SB_DAEMON_CONFIG_H
#define SB_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/log.h"

/* Config files larger than this are refused unread. */
#define CONFIG_MAX_FILE_SIZE (1024 * 1024)
/* An access_token_file (or a SIP password_file) larger than this cannot hold a token. */
#define CONFIG_MAX_TOKEN_FILE_SIZE (64 * 1024)

/* A list of strings; v[i] are mem-allocated, owned by the config. */
struct config_strv {
    char **v;
    size_t n;
};

struct config_matrix {
    char *homeserver;                 /* "http[s]://host[:port][/path]", no trailing '/' */
    char *user_id;                    /* "@localpart:server" */
    char *access_token;               /* SECRET: never log. From the file when one is given */
    char *access_token_file;          /* absolute path the token came from, or NULL */
    struct config_strv allowed_users; /* globs (base/glob.h), at least one */
    int sync_timeout_ms;              /* default 30000 */
};

struct config_media {
    char *ip;              /* IPv4 or IPv6 literal for host candidates */
    int ip_family;         /* AF_INET or AF_INET6, from ip */
    int port_min;          /* default 20000 */
    int port_max;          /* default 20999, >= port_min */
    int workers;           /* 0 = one per core */
    int media_timeout_s;   /* default 30: no RTP/RTCP this long ends a call */
    int connect_timeout_s; /* default 30: ICE + DTLS not done this long ends a call */
    int ice;               /* enum ice_mode (media/ice.h): "lite" (0, the default) or "full" */
};

struct config_conference {
    int mixer_threads;   /* default 1 */
    int opus_bitrate;    /* bit/s, default 32000 */
    int opus_complexity; /* 0..10, default 5 */
};

struct config_calls {
    int invite_lifetime_ms; /* default 60000 */
};

/* sip.trunks[i] */
struct config_sip_trunk {
    char *name;                /* unique; names the trunk in logs and !sip status */
    char *registrar;           /* "sip:host[:port][;transport=...]"; NULL: IP-authenticated */
    char *proxy;               /* where outbound INVITEs go; NULL: the registrar */
    char *username;            /* digest user (required with a registrar) */
    char *password;            /* SECRET: never log. From the file when one is given */
    char *password_file;       /* absolute path the password came from, or NULL */
    char *from_user;           /* user part of From: in outbound calls; default username */
    struct config_strv codecs; /* "opus" | "g722" | "pcmu" | "pcma", preference order */
    int srtp;                  /* enum config_sip_srtp */
    struct config_strv allowed_sources; /* CIDRs; inbound requests from elsewhere get 403 */
    int register_expires_s;             /* default 300 */
    unsigned line;                      /* of the entry, for messages */
};

/* In the order of sip.h's enum sip_srtp. */
enum config_sip_srtp {
    CONFIG_SIP_SRTP_OFF,
    CONFIG_SIP_SRTP_OPTIONAL,
    CONFIG_SIP_SRTP_REQUIRED,
};

/* sip.routes.inbound[i]: exactly one of room and user is set. */
struct config_sip_route {
    char *number;
    char *room;    /* "!id:server": the caller joins this room's conference */
    char *user;    /* "@user:server": the bot rings this user, bridged 1:1 */
    unsigned line; /* of the entry, for messages */
};

/* Lists of the sections above (laid out as the schema engine's lists). */
struct config_sip_trunks {
    struct config_sip_trunk *v;
    size_t n;
};

struct config_sip_routes_in {
    struct config_sip_route *v;
    size_t n;
};

struct config_sip_outbound {
    struct config_strv allowed_users;   /* globs of Matrix users who may !dial */
    struct config_strv allowed_numbers; /* globs of numbers they may dial */
};

struct config_sip_routes {
    struct config_sip_routes_in inbound;
    struct config_sip_outbound outbound;
};

/* The sip: section; absent means no SIP side at all (enabled false). */
struct config_sip {
    bool enabled;
    struct config_strv listen; /* "udp:127.0.0.1:5060", "tcp:...", "tls:..." */
    char *public_ip;           /* advertised in SDP and Contact; NULL: the listen address */
    char *tls_certificate;     /* PEM, absolute; required with a tls: listener */
    char *tls_key;             /* PEM, absolute */
    struct config_sip_trunks trunks;
    struct config_sip_routes routes;
    int invite_rate_per_source; /* INVITEs a second from one address; beyond: 503 */
    int session_expires_s;      /* RFC 4028 session interval, default 1800 */
    int ring_timeout_s;         /* outbound calls not answered by then are cancelled */
};

struct config {
    char *path; /* the file as named by the caller */
    char *dir;  /* absolute folder of the file; relative paths were resolved against it */
    struct config_matrix matrix;
    char *state_dir; /* absolute unless the config came from a buffer with no folder */
    struct config_media media;
    struct config_conference conference;
    struct config_calls calls;
    struct config_sip sip;
    enum log_level log_level; /* default LOG_LVL_INFO */
};

/* One problem: the line it refers to (0 when it is about the file as a whole) and a message
 * that already names the key ("media.port_min: expected an integer, got a string"). */
struct config_problem {
    unsigned line;
    char *msg;
};

/*
 * Problems found by one load. Caller-owned; a zeroed struct is an empty list:
 *
 *     struct config_diag diag = {0};
 *     if (config_load(&cfg, path, &diag)) config_diag_print(&diag, stderr);
 *     config_diag_reset(&diag);
 */
struct config_diag {
    char *file;               /* name printed in front of every line */
    struct config_problem *v; /* sorted by line once a load returns */
    size_t n;
    size_t dropped; /* problems past CONFIG_DIAG_MAX, counted not kept */
};

#define CONFIG_DIAG_MAX 100

/*
 * Reads, parses and validates the file at path. On success *cfgp holds a new config (release
 * with mem_deref()) and diag is empty. On failure *cfgp is NULL, diag (cleared first; may be
 * NULL) lists every problem found, and the result is EBADMSG for a config with problems, the
 * open/read errno (ENOENT, EACCES, EISDIR, ...) or EFBIG for a file that cannot be read as a
 * config, ENOMEM, or EINVAL for NULL arguments.
 */
int config_load(struct config **cfgp, const char *path, struct config_diag *diag);

/*
 * The same on text already in memory (the fuzz target, tests). name is used in messages and
 * as cfg->path; dir is the folder relative paths are resolved against (NULL: leave them
 * relative to the working directory). An access_token_file is still read from disk.
 */
int config_parse_buffer(struct config **cfgp, const char *buf, size_t len, const char *name,
                        const char *dir, struct config_diag *diag);

/* Adds a problem (printf-style message). Never fails visibly: past CONFIG_DIAG_MAX or when
 * memory runs out the problem is only counted. NULL diag is a no-op. */
void config_diag_add(struct config_diag *diag, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One "FILE:LINE: message" line per problem ("FILE: message" for line 0). */
void config_diag_print(const struct config_diag *diag, FILE *f);

/* Frees the problems; the struct is empty and reusable afterwards. */
void config_diag_reset(struct config_diag *diag);

/* --check-config: problems to stderr, "FILE: ok" to stdout; returns the exit status. */
int config_check_main(const char *path);
/* The same with explicit streams (tests). */
int config_check_run(const char *path, FILE *out, FILE *err);

/* Creates cfg->state_dir (mode 0700) if it does not exist yet; 0 or an errno value
 * (ENOTDIR when something that is not a folder is in the way). */
int config_state_dir_create(const struct config *cfg);

#endif
