/*
 * The sip: section of the config: listeners, trunks, the dial plan. Its key names are the ones
 * operators were promised (see switchboard.example.yaml) and are an interface.
 *
 * What is checked here is what would otherwise surface as a call that fails weeks later or, worse,
 * as toll fraud: trunk URIs and CIDRs are parsed as the gateway will parse them, every inbound
 * route names exactly one destination, numbers and globs contain only dial-string characters (so
 * nothing from a config can smuggle parameters into a Request-URI), and secrets (passwords) are
 * never quoted back.
 */
#include "daemon/config.h"
#include "daemon/config_schema.h"
#include "daemon/config_sip.h"

#include "base/mem.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

_Static_assert(sizeof(struct config_sip_trunks) == sizeof(struct config_list) &&
                   offsetof(struct config_sip_trunks, n) == offsetof(struct config_list, n),
               "sip.trunks is filled as a config_list");
_Static_assert(sizeof(struct config_sip_routes_in) == sizeof(struct config_list) &&
                   offsetof(struct config_sip_routes_in, n) == offsetof(struct config_list, n),
               "sip.routes.inbound is filled as a config_list");

#define MAX_NUMBER_LEN   64
#define MAX_LISTEN_BINDS 2 /* sofia-sip's nua binds its URL and its SIPS URL, no more */

static const char *const codec_names[] = {"opus", "g722", "pcmu", "pcma", NULL};

/* ---- validators ------------------------------------------------------------------------- */

static const char *quote(char *buf, size_t cap, const char *s)
{
    return config_quote(buf, cap, s, strlen(s));
}

/* An IPv4 literal, or an IPv6 one in brackets; *fam set. */
static bool parse_ip_literal(const char *s, size_t len, int *fam)
{
    char a[INET6_ADDRSTRLEN + 2];
    unsigned char buf[sizeof(struct in6_addr)];
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        if (len - 2 >= sizeof(a))
            return false;
        memcpy(a, s + 1, len - 2);
        a[len - 2] = '\0';
        *fam = AF_INET6;
        return inet_pton(AF_INET6, a, buf) == 1;
    }
    if (len >= sizeof(a))
        return false;
    memcpy(a, s, len);
    a[len] = '\0';
    *fam = AF_INET;
    return inet_pton(AF_INET, a, buf) == 1;
}

static bool parse_port(const char *s, size_t len, unsigned *port)
{
    unsigned p = 0;
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        p = p * 10 + (unsigned)(s[i] - '0');
    }
    *port = p;
    return p >= 1 && p <= 65535;
}

/* "udp:127.0.0.1:5060", "tcp:[::1]:5060", "tls:192.0.2.1:5061". */
static bool check_listen(struct config_ctx *ctx, const struct config_field *f, const char *name,
                         unsigned line, char **value)
{
    const char *s = *value;
    char q[96];
    size_t len = strlen(s);
    const char *last = strrchr(s, ':');
    unsigned port;
    int fam;
    bool ok = len > 4 && (strncmp(s, "udp:", 4) == 0 || strncmp(s, "tcp:", 4) == 0 ||
                          strncmp(s, "tls:", 4) == 0);
    if (ok)
        ok = last && last > s + 4 && parse_ip_literal(s + 4, (size_t)(last - s - 4), &fam) &&
             parse_port(last + 1, len - (size_t)(last + 1 - s), &port);
    if (!ok)
        config_error(ctx, line,
                     "%s: '%s' is not a listener (expected udp:, tcp: or tls: then ADDRESS:PORT, "
                     "as in \"udp:192.0.2.10:5060\" or \"tcp:[2001:db8::1]:5060\")",
                     name, quote(q, sizeof(q), s));
    return ok;
}

/* sip:host[:port] or sips:host[:port], optionally ;transport=udp|tcp|tls. No user part: these
 * name a server, and a user would end up in every Request-URI. */
static bool check_sip_uri(struct config_ctx *ctx, const struct config_field *f, const char *name,
                          unsigned line, char **value)
{
    const char *s = *value;
    char q[96];
    const char *rest = strncmp(s, "sip:", 4) == 0    ? s + 4
                       : strncmp(s, "sips:", 5) == 0 ? s + 5
                                                     : NULL;
    bool ok = rest != NULL;
    if (ok) {
        const char *semi = strchr(rest, ';');
        size_t hl = semi ? (size_t)(semi - rest) : strlen(rest);
        ok = !memchr(rest, '@', hl) && config_valid_host_port(rest, hl);
        if (ok && semi)
            ok = strcasecmp(semi, ";transport=udp") == 0 ||
                 strcasecmp(semi, ";transport=tcp") == 0 || strcasecmp(semi, ";transport=tls") == 0;
    }
    if (!ok)
        config_error(ctx, line,
                     "%s: '%s' is not a SIP server URI (expected sip:HOST[:PORT], optionally "
                     "with ;transport=udp, tcp or tls)",
                     name, quote(q, sizeof(q), s));
    return ok;
}

/* 192.0.2.0/24, 2001:db8::/32, or a single address. The host bits must be clear: 10.0.0.1/8
 * is more likely a typo than a wish to allow 10.0.0.0/8. */
static bool check_cidr(struct config_ctx *ctx, const struct config_field *f, const char *name,
                       unsigned line, char **value)
{
    const char *s = *value;
    char q[96];
    char a[INET6_ADDRSTRLEN];
    unsigned char bytes[16];
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    int fam = 0;
    unsigned bits = 0;
    bool ok = al > 0 && al < sizeof(a);
    if (ok) {
        memcpy(a, s, al);
        a[al] = '\0';
        if (inet_pton(AF_INET, a, bytes) == 1)
            fam = AF_INET;
        else if (inet_pton(AF_INET6, a, bytes) == 1)
            fam = AF_INET6;
        ok = fam != 0;
    }
    unsigned maxbits = fam == AF_INET ? 32 : 128;
    if (ok && slash) {
        const char *p = slash + 1;
        ok = *p && strlen(p) <= 3;
        for (; ok && *p; p++) {
            ok = *p >= '0' && *p <= '9';
            bits = bits * 10 + (unsigned)(*p - '0');
        }
        ok = ok && bits <= maxbits;
    } else {
        bits = maxbits;
    }
    if (!ok) {
        config_error(ctx, line,
                     "%s: '%s' is not an address or network (expected, e.g., 192.0.2.0/24, "
                     "2001:db8::/32 or 192.0.2.7)",
                     name, quote(q, sizeof(q), s));
        return false;
    }
    for (unsigned i = bits; i < maxbits; i++) {
        if (bytes[i / 8] & (0x80 >> (i % 8))) {
            config_error(ctx, line, "%s: '%s' has bits set past its /%u prefix", name,
                         quote(q, sizeof(q), s), bits);
            return false;
        }
    }
    return true;
}

static bool dial_char(char c, bool glob)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("+*#._-", c) || (glob && c == '?');
}

static bool check_dial(struct config_ctx *ctx, const char *name, unsigned line, const char *s,
                       bool glob)
{
    char q[96];
    bool ok = strlen(s) <= MAX_NUMBER_LEN;
    for (const char *p = s; ok && *p; p++)
        ok = dial_char(*p, glob);
    if (!ok)
        config_error(ctx, line,
                     "%s: '%s' is not a %s (up to %d of the characters 0-9 A-Z a-z + * # . _ -%s)",
                     name, quote(q, sizeof(q), s), glob ? "number pattern" : "number",
                     MAX_NUMBER_LEN, glob ? " and ?" : "");
    return ok;
}

static bool check_number(struct config_ctx *ctx, const struct config_field *f, const char *name,
                         unsigned line, char **value)
{
    return check_dial(ctx, name, line, *value, false);
}

static bool check_number_glob(struct config_ctx *ctx, const struct config_field *f,
                              const char *name, unsigned line, char **value)
{
    return check_dial(ctx, name, line, *value, true);
}

/* A SIP URI user part we put into From / To / Contact: no '@', ':' or ';' to break out of it. */
static bool check_sip_user(struct config_ctx *ctx, const struct config_field *f, const char *name,
                           unsigned line, char **value)
{
    const char *s = *value;
    char q[96];
    bool ok = strlen(s) <= MAX_NUMBER_LEN;
    for (const char *p = s; ok && *p; p++)
        ok = dial_char(*p, false) || strchr("!~", *p);
    if (!ok)
        config_error(ctx, line,
                     "%s: '%s' is not a SIP user name (up to %d of the characters 0-9 A-Z a-z "
                     "+ * # . _ - ! ~)",
                     name, quote(q, sizeof(q), s), MAX_NUMBER_LEN);
    return ok;
}

static bool check_trunk_name(struct config_ctx *ctx, const struct config_field *f, const char *name,
                             unsigned line, char **value)
{
    const char *s = *value;
    char q[96];
    bool ok = strlen(s) <= 32;
    for (const char *p = s; ok && *p; p++)
        ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
             strchr("._-", *p);
    if (!ok)
        config_error(ctx, line,
                     "%s: '%s' is not a trunk name (up to 32 of the characters 0-9 A-Z a-z . _ -)",
                     name, quote(q, sizeof(q), s));
    return ok;
}

/* Goes into a digest computation, never into a message or a log. */
static bool check_password(struct config_ctx *ctx, const struct config_field *f, const char *name,
                           unsigned line, char **value)
{
    for (const char *p = *value; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            config_error(ctx, line, "%s: may not contain control characters", name);
            return false;
        }
    }
    return true;
}

static bool check_codec(struct config_ctx *ctx, const struct config_field *f, const char *name,
                        unsigned line, char **value)
{
    for (const char *const *c = codec_names; *c; c++) {
        if (strcmp(*value, *c) == 0)
            return true;
    }
    char q[64];
    config_error(ctx, line, "%s: '%s' is not one of opus, g722, pcmu, pcma", name,
                 quote(q, sizeof(q), *value));
    return false;
}

static bool check_room_id(struct config_ctx *ctx, const struct config_field *f, const char *name,
                          unsigned line, char **value)
{
    const char *s = *value;
    const char *colon = strchr(s, ':');
    bool ok = s[0] == '!' && colon && colon > s + 1 && strlen(s) <= 255 &&
              config_valid_host_port(colon + 1, strlen(colon + 1));
    for (const char *p = s; ok && p < colon; p++)
        ok = *p > 0x20 && *p < 0x7f;
    if (!ok) {
        char q[96];
        config_error(ctx, line,
                     "%s: '%s' is not a Matrix room id (expected !opaque:server; aliases such as "
                     "#room:server are not accepted)",
                     name, quote(q, sizeof(q), s));
    }
    return ok;
}

/* ---- section checks --------------------------------------------------------------------- */

static const struct config_section trunk_section;

/* The password from password_file: the file's content without trailing whitespace. */
static void load_password_file(struct config_ctx *ctx, const char *path, unsigned line,
                               struct config_sip_trunk *t)
{
    char *buf = NULL;
    size_t len = 0;
    char q[256];
    const char *shown = quote(q, sizeof(q), t->password_file);
    int err = config_read_file(t->password_file, CONFIG_MAX_TOKEN_FILE_SIZE, &buf, &len);
    if (err) {
        config_error(ctx, line, "%s.password_file: cannot read '%s': %s", path, shown,
                     config_read_strerror(err, CONFIG_MAX_TOKEN_FILE_SIZE));
        return;
    }
    while (len && strchr(" \t\r\n\v\f", buf[len - 1]))
        len--;
    buf[len] = '\0';
    bool ok = len > 0 && strlen(buf) == len;
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)buf[i] >= 0x20 && buf[i] != 0x7f;
    if (len == 0)
        config_error(ctx, line, "%s.password_file: '%s' is empty", path, shown);
    else if (!ok)
        config_error(ctx, line,
                     "%s.password_file: the password in '%s' contains control characters", path,
                     shown);
    else if (!(t->password = mem_strdup(buf)))
        config_error(ctx, line, "%s.password_file: out of memory", path);
    config_free_file(buf, len);
}

static void default_codecs(struct config_ctx *ctx, unsigned line, struct config_strv *sv)
{
    size_t n = sizeof(codec_names) / sizeof(codec_names[0]) - 1;
    sv->v = calloc(n, sizeof(*sv->v));
    if (!sv->v) {
        config_error(ctx, line, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        sv->v[i] = mem_strdup(codec_names[i]);
    sv->n = n;
}

static void check_trunk(struct config_ctx *ctx, const char *path, unsigned line,
                        const struct config_seen *seen, void *obj)
{
    struct config_sip_trunk *t = obj;
    const struct config_seen *pw = config_seen_get(&trunk_section, seen, "password");
    const struct config_seen *pwf = config_seen_get(&trunk_section, seen, "password_file");
    const struct config_seen *reg = config_seen_get(&trunk_section, seen, "registrar");
    const struct config_seen *user = config_seen_get(&trunk_section, seen, "username");
    const struct config_seen *codecs = config_seen_get(&trunk_section, seen, "codecs");
    t->line = line;

    if (pw->present && pwf->present) {
        config_error(ctx, pw->line > pwf->line ? pw->line : pwf->line,
                     "%s: set only one of password and password_file", path);
    } else if (pwf->valid) {
        load_password_file(ctx, path, pwf->line, t);
    }
    if (reg->present && !user->present)
        config_error(ctx, reg->line, "%s: a registrar needs a username (and a password)", path);
    if (user->present && !pw->present && !pwf->present)
        config_error(ctx, user->line, "%s: username %s given without password or password_file",
                     path, t->username ? t->username : "");
    if (!t->from_user && t->username)
        t->from_user = mem_strdup(t->username);

    if (!codecs->present) {
        default_codecs(ctx, line, &t->codecs);
    } else if (codecs->valid) {
        for (size_t i = 0; i < t->codecs.n; i++) {
            for (size_t j = 0; j < i; j++) {
                if (strcmp(t->codecs.v[i], t->codecs.v[j]) == 0) {
                    config_error(ctx, codecs->line, "%s.codecs: %s is listed twice", path,
                                 t->codecs.v[i]);
                    break;
                }
            }
        }
    }
}

static void check_route(struct config_ctx *ctx, const char *path, unsigned line,
                        const struct config_seen *seen, void *obj);

/* Listeners sofia binds as one URL: udp and tcp on one ADDRESS:PORT share a bind; tls has its
 * own. */
static size_t listen_binds(const struct config_strv *listen, bool *tls)
{
    char keys[MAX_LISTEN_BINDS + 1][128];
    size_t n = 0;
    *tls = false;
    for (size_t i = 0; i < listen->n; i++) {
        const char *s = listen->v[i];
        bool is_tls = strncmp(s, "tls:", 4) == 0;
        char key[128];
        snprintf(key, sizeof(key), "%c%s", is_tls ? 's' : 'p', s + 4);
        *tls |= is_tls;
        size_t j = 0;
        while (j < n && strcmp(keys[j], key) != 0)
            j++;
        if (j == n) {
            if (n == MAX_LISTEN_BINDS)
                return n + 1;
            snprintf(keys[n++], sizeof(keys[0]), "%s", key);
        }
    }
    return n;
}

static void check_sip(struct config_ctx *ctx, const char *path, unsigned line,
                      const struct config_seen *seen, void *obj)
{
    struct config_sip *sip = obj;
    const struct config_seen *listen = config_seen_get(&config_sip_section, seen, "listen");
    const struct config_seen *cert = config_seen_get(&config_sip_section, seen, "tls_certificate");
    const struct config_seen *key = config_seen_get(&config_sip_section, seen, "tls_key");

    if (listen->valid) {
        bool tls;
        if (listen_binds(&sip->listen, &tls) > MAX_LISTEN_BINDS)
            config_error(ctx, listen->line,
                         "sip.listen: at most %d different addresses (udp and tcp on one "
                         "ADDRESS:PORT count as one, tls as another)",
                         MAX_LISTEN_BINDS);
        if (tls && (!cert->present || !key->present))
            config_error(ctx, listen->line,
                         "sip.listen: a tls: listener needs tls_certificate and tls_key");
    }
    if (cert->present != key->present)
        config_error(ctx, cert->present ? cert->line : key->line,
                     "sip: tls_certificate and tls_key go together");

    for (size_t i = 0; i < sip->trunks.n; i++) {
        const struct config_sip_trunk *t = &sip->trunks.v[i];
        for (size_t j = 0; t->name && j < i; j++) {
            if (sip->trunks.v[j].name && strcmp(t->name, sip->trunks.v[j].name) == 0) {
                config_error(ctx, t->line,
                             "sip.trunks[%zu]: the name %s is taken by sip.trunks[%zu]", i, t->name,
                             j);
                break;
            }
        }
    }
    const struct config_sip_routes_in *in = &sip->routes.inbound;
    for (size_t i = 0; i < in->n; i++) {
        for (size_t j = 0; in->v[i].number && j < i; j++) {
            if (in->v[j].number && strcmp(in->v[i].number, in->v[j].number) == 0) {
                config_error(ctx, in->v[i].line,
                             "sip.routes.inbound[%zu]: the number %s is routed by "
                             "sip.routes.inbound[%zu] already",
                             i, in->v[i].number, j);
                break;
            }
        }
    }
}

void config_sip_finish(struct config_ctx *ctx, struct config_sip *sip, bool present)
{
    sip->enabled = present;
}

/* ---- tables ----------------------------------------------------------------------------- */

#define M(type, member) offsetof(struct type, member)

static const char *const srtp_names[] = {"off", "optional", "required", NULL};

static const struct config_field trunk_fields[] = {
    {.key = "name",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_REQUIRED,
     .offset = M(config_sip_trunk, name),
     .check = check_trunk_name},
    {.key = "registrar",
     .type = CONFIG_T_STRING,
     .offset = M(config_sip_trunk, registrar),
     .check = check_sip_uri},
    {.key = "proxy",
     .type = CONFIG_T_STRING,
     .offset = M(config_sip_trunk, proxy),
     .check = check_sip_uri},
    {.key = "username",
     .type = CONFIG_T_STRING,
     .offset = M(config_sip_trunk, username),
     .check = check_sip_user},
    {.key = "password",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_SECRET,
     .offset = M(config_sip_trunk, password),
     .check = check_password},
    {.key = "password_file",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_PATH,
     .offset = M(config_sip_trunk, password_file)},
    {.key = "from_user",
     .type = CONFIG_T_STRING,
     .offset = M(config_sip_trunk, from_user),
     .check = check_sip_user},
    {.key = "codecs",
     .type = CONFIG_T_STRV,
     .flags = CONFIG_F_NONEMPTY,
     .offset = M(config_sip_trunk, codecs),
     .check = check_codec},
    {.key = "srtp",
     .type = CONFIG_T_ENUM,
     .offset = M(config_sip_trunk, srtp),
     .names = srtp_names,
     .def = CONFIG_SIP_SRTP_OFF},
    {.key = "allowed_sources",
     .type = CONFIG_T_STRV,
     .offset = M(config_sip_trunk, allowed_sources),
     .check = check_cidr},
    {.key = "register_expires_s",
     .type = CONFIG_T_INT,
     .offset = M(config_sip_trunk, register_expires_s),
     .min = 60,
     .max = 86400,
     .def = 300},
};

static const struct config_section trunk_section = {
    .fields = trunk_fields,
    .nfields = sizeof(trunk_fields) / sizeof(trunk_fields[0]),
    .size = sizeof(struct config_sip_trunk),
    .check = check_trunk,
};

static const struct config_field route_fields[] = {
    {.key = "number",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_REQUIRED,
     .offset = M(config_sip_route, number),
     .check = check_number},
    {.key = "room",
     .type = CONFIG_T_STRING,
     .offset = M(config_sip_route, room),
     .check = check_room_id},
    {.key = "user",
     .type = CONFIG_T_STRING,
     .offset = M(config_sip_route, user),
     .check = config_check_user_id},
};

static const struct config_section route_section = {
    .fields = route_fields,
    .nfields = sizeof(route_fields) / sizeof(route_fields[0]),
    .size = sizeof(struct config_sip_route),
    .check = check_route,
};

static void check_route(struct config_ctx *ctx, const char *path, unsigned line,
                        const struct config_seen *seen, void *obj)
{
    struct config_sip_route *r = obj;
    const struct config_seen *room = config_seen_get(&route_section, seen, "room");
    const struct config_seen *user = config_seen_get(&route_section, seen, "user");
    r->line = line;
    if (room->present && user->present)
        config_error(ctx, room->line > user->line ? room->line : user->line,
                     "%s: set only one of room and user", path);
    else if (!room->present && !user->present)
        config_error(ctx, line, "%s: set one of room (a conference) and user (a Matrix user)",
                     path);
}

static const struct config_field outbound_fields[] = {
    {.key = "allowed_users",
     .type = CONFIG_T_STRV,
     .offset = M(config_sip_outbound, allowed_users),
     .check = config_check_user_glob},
    {.key = "allowed_numbers",
     .type = CONFIG_T_STRV,
     .offset = M(config_sip_outbound, allowed_numbers),
     .check = check_number_glob},
};

static const struct config_section outbound_section = {
    .fields = outbound_fields,
    .nfields = sizeof(outbound_fields) / sizeof(outbound_fields[0]),
    .size = sizeof(struct config_sip_outbound),
};

static const struct config_field routes_fields[] = {
    {.key = "inbound",
     .type = CONFIG_T_LIST,
     .offset = M(config_sip_routes, inbound),
     .sub = &route_section},
    {.key = "outbound",
     .type = CONFIG_T_SECTION,
     .offset = M(config_sip_routes, outbound),
     .sub = &outbound_section},
};

static const struct config_section routes_section = {
    .fields = routes_fields,
    .nfields = sizeof(routes_fields) / sizeof(routes_fields[0]),
    .size = sizeof(struct config_sip_routes),
};

static const struct config_field sip_fields[] = {
    {.key = "listen",
     .type = CONFIG_T_STRV,
     .flags = CONFIG_F_REQUIRED | CONFIG_F_NONEMPTY,
     .offset = M(config_sip, listen),
     .check = check_listen},
    {.key = "public_ip",
     .type = CONFIG_T_STRING,
     .offset = M(config_sip, public_ip),
     .check = config_check_ip},
    {.key = "tls_certificate",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_PATH,
     .offset = M(config_sip, tls_certificate)},
    {.key = "tls_key",
     .type = CONFIG_T_STRING,
     .flags = CONFIG_F_PATH,
     .offset = M(config_sip, tls_key)},
    {.key = "trunks",
     .type = CONFIG_T_LIST,
     .flags = CONFIG_F_REQUIRED | CONFIG_F_NONEMPTY,
     .offset = M(config_sip, trunks),
     .sub = &trunk_section},
    {.key = "routes",
     .type = CONFIG_T_SECTION,
     .offset = M(config_sip, routes),
     .sub = &routes_section},
    {.key = "invite_rate_per_source",
     .type = CONFIG_T_INT,
     .offset = M(config_sip, invite_rate_per_source),
     .min = 1,
     .max = 10000,
     .def = 10},
    {.key = "session_expires_s",
     .type = CONFIG_T_INT,
     .offset = M(config_sip, session_expires_s),
     .min = 90,
     .max = 86400,
     .def = 1800},
    {.key = "ring_timeout_s",
     .type = CONFIG_T_INT,
     .offset = M(config_sip, ring_timeout_s),
     .min = 5,
     .max = 600,
     .def = 60},
};

const struct config_section config_sip_section = {
    .fields = sip_fields,
    .nfields = sizeof(sip_fields) / sizeof(sip_fields[0]),
    .size = sizeof(struct config_sip),
    .check = check_sip,
};
