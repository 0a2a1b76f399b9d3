/*
 * The dial plan and the outbound policy (see plan.h).
 */
#include "sip/plan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "base/glob.h"
#include "base/mem.h"

struct sip_plan {
    struct sip_route_in *routes;
    size_t nroutes;
    char **users; /* NULL-terminated */
    size_t nusers;
    char **numbers;
    size_t nnumbers;
};

static void plan_destroy(void *data)
{
    struct sip_plan *p = data;
    for (size_t i = 0; i < p->nroutes; i++) {
        g_free((char *)p->routes[i].number);
        g_free((char *)p->routes[i].room);
        g_free((char *)p->routes[i].user);
    }
    g_free(p->routes);
    g_strfreev(p->users);
    g_strfreev(p->numbers);
}

static char **copy_list(const char *const *v, size_t n)
{
    char **out = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++)
        out[i] = g_strdup(v[i]);
    return out;
}

int sip_plan_alloc(struct sip_plan **pp, const struct sip_cfg *cfg)
{
    if (!pp || !cfg)
        return EINVAL;
    struct sip_plan *p = mem_zalloc(sizeof(*p), plan_destroy);
    if (!p)
        return ENOMEM;
    p->routes = g_new0(struct sip_route_in, cfg->nroutes_in ? cfg->nroutes_in : 1);
    for (size_t i = 0; i < cfg->nroutes_in; i++) {
        const struct sip_route_in *r = &cfg->routes_in[i];
        if (!r->number || (!r->room == !r->user)) {
            mem_deref(p);
            return EINVAL;
        }
        p->routes[i].number = g_strdup(r->number);
        p->routes[i].room = g_strdup(r->room);
        p->routes[i].user = g_strdup(r->user);
        p->nroutes++;
    }
    p->users = copy_list(cfg->outbound_allowed_users, cfg->noutbound_allowed_users);
    p->nusers = cfg->noutbound_allowed_users;
    p->numbers = copy_list(cfg->outbound_allowed_numbers, cfg->noutbound_allowed_numbers);
    p->nnumbers = cfg->noutbound_allowed_numbers;
    *pp = p;
    return 0;
}

const struct sip_route_in *sip_plan_route(const struct sip_plan *p, const char *number)
{
    for (size_t i = 0; number && i < p->nroutes; i++) {
        if (strcmp(p->routes[i].number, number) == 0)
            return &p->routes[i];
    }
    return NULL;
}

int sip_plan_may_dial(const struct sip_plan *p, const char *user_id, const char *number, char *why,
                      size_t whylen)
{
    if (!user_id || !glob_match_any(p->users, p->nusers, user_id)) {
        snprintf(why, whylen,
                 "%s may not place phone calls (not in sip.routes.outbound.allowed_users)",
                 user_id ? user_id : "an unknown user");
        return EPERM;
    }
    if (!number || !glob_match_any(p->numbers, p->nnumbers, number)) {
        snprintf(why, whylen,
                 "%s is not a number calls may go to (not in "
                 "sip.routes.outbound.allowed_numbers)",
                 number ? number : "that");
        return EPERM;
    }
    return 0;
}

int sip_number_normalise(const char *in, char *out, size_t outlen, char *why, size_t whylen)
{
    size_t n = 0;
    if (!in || !out || outlen == 0)
        return EINVAL;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')')
            continue;
        bool ok = (c >= '0' && c <= '9') || c == '*' || c == '#' || (c == '+' && n == 0);
        if (!ok) {
            snprintf(why, whylen,
                     "'%.40s' is not a phone number (digits, with an optional "
                     "leading +)",
                     in);
            return EINVAL;
        }
        if (n + 1 >= outlen || n >= 32) {
            snprintf(why, whylen, "the number is too long (32 digits at most)");
            return EINVAL;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    if (n == 0 || (n == 1 && out[0] == '+')) {
        snprintf(why, whylen, "no number given");
        return EINVAL;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sip_uri_user_number(const char *user, char *out, size_t outlen)
{
    size_t n = 0;
    if (!user || !out || outlen == 0)
        return EINVAL;
    for (const char *p = user; *p && *p != ';'; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (hi < 0 || lo < 0)
                return EBADMSG;
            c = hi * 16 + lo;
            p += 2;
        }
        /* What a number may hold once decoded: a user part that decodes to anything else
         * (';', '@', spaces, controls) is no number of ours. */
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c && strchr("+*#._~!()-", c));
        if (!ok)
            return EBADMSG;
        if (n + 1 >= outlen || n >= SIP_NUMBER_MAX)
            return EBADMSG;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return n ? 0 : EBADMSG;
}
