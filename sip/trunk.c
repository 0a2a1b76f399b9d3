/*
 * Trunks: the carriers and PBXes we exchange calls with. A trunk with a registrar keeps our
 * contact registered there (digest auth answered with its credentials; nua refreshes before
 * expiry); one without is IP-authenticated and only sends. Either way its allowed_sources say
 * who may send us calls on its behalf, and its codecs and SRTP mode shape the calls it carries.
 *
 * Registration failures are retried with exponential backoff (2 s doubling to 5 min, or the
 * registrar's Retry-After), and every change of state is logged once, in the words !sip status
 * shows: "carrier: registered (expires in 280 s)", "carrier: failed: 403 Forbidden, retrying
 * in 8 s". Neither the password nor a digest response ever reaches a log line.
 */
#include "sip/sip_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg_header.h>

#include "base/log.h"
#include "base/mem.h"

#define BACKOFF_MIN_S  2
#define BACKOFF_MAX_S  300
#define MAX_AUTH_TRIES 2 /* challenges answered per request (a proxy and a registrar may both) */

static const char *const codec_names[] = {"opus", "g722", "pcmu", "pcma"};

const char *sip_codec_name(enum sip_codec c)
{
    return (unsigned)c < SIP_MAX_CODECS ? codec_names[c] : "?";
}

static void wipe(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
}

static void trunk_destroy(void *data)
{
    struct sip_trunk *t = data;
    if (t->retry_timer)
        g_source_remove(t->retry_timer);
    if (t->reg) {
        nua_handle_bind(t->reg, NULL);
        nua_handle_destroy(t->reg);
    }
    g_free(t->name);
    g_free(t->registrar);
    g_free(t->proxy);
    g_free(t->domain);
    g_free(t->username);
    wipe(t->password);
    g_free(t->password);
    g_free(t->from_user);
    g_free(t->sources);
}

/* "sip:host:port;transport=tcp" -> "host" (the AOR domain; brackets kept for IPv6). */
static char *uri_host(const char *uri)
{
    const char *p = strchr(uri, ':');
    if (!p)
        return NULL;
    p++;
    size_t n = strcspn(p, ";");
    if (*p == '[') {
        const char *close = memchr(p, ']', n);
        return close ? g_strndup(p, (size_t)(close - p) + 1) : NULL;
    }
    return g_strndup(p, strcspn(p, ":;"));
}

/* The trunk's codecs as our SDP's preference list (with telephone-event at their clocks). */
static int sdp_list(struct sip_trunk *t)
{
    const char *names[SIP_MAX_CODECS];
    for (size_t i = 0; i < t->ncodecs; i++)
        names[i] = codec_names[t->codecs[i]];
    return sdp_codecs_select(SDP_PROFILE_RTP_AVP, names, t->ncodecs, t->sdp_codecs,
                             G_N_ELEMENTS(t->sdp_codecs), &t->nsdp_codecs, NULL);
}

int sip_trunk_alloc(struct sip_trunk **tp, struct sip_gw *gw, const struct sip_trunk_cfg *cfg)
{
    if (!cfg->name || (cfg->registrar && (!cfg->username || !cfg->password)))
        return EINVAL;
    struct sip_trunk *t = mem_zalloc(sizeof(*t), trunk_destroy);
    if (!t)
        return ENOMEM;
    t->kind = SIP_HANDLE_TRUNK;
    t->gw = gw;
    t->name = g_strdup(cfg->name);
    t->registrar = g_strdup(cfg->registrar);
    t->proxy = g_strdup(cfg->proxy ? cfg->proxy : cfg->registrar);
    t->username = g_strdup(cfg->username);
    t->password = g_strdup(cfg->password);
    t->from_user = g_strdup(cfg->from_user ? cfg->from_user : cfg->username);
    t->srtp = cfg->srtp;
    t->expires_s = cfg->register_expires_s ? cfg->register_expires_s : 300;
    snprintf(t->log_ctx, sizeof(t->log_ctx), "trunk=%s", t->name);
    const char *where = t->registrar ? t->registrar : t->proxy;
    if (where && !(t->domain = uri_host(where))) {
        mem_deref(t);
        return EINVAL;
    }
    for (size_t i = 0; i < cfg->ncodecs && t->ncodecs < SIP_MAX_CODECS; i++) {
        for (unsigned c = 0; c < SIP_MAX_CODECS; c++) {
            if (strcmp(cfg->codecs[i], codec_names[c]) == 0)
                t->codecs[t->ncodecs++] = (enum sip_codec)c;
        }
    }
    if (!cfg->ncodecs) {
        for (unsigned c = 0; c < SIP_MAX_CODECS; c++)
            t->codecs[t->ncodecs++] = (enum sip_codec)c;
    }
    if (sdp_list(t)) {
        log_error("sip: trunk %s: cannot make its codec list", t->name);
        mem_deref(t);
        return EINVAL;
    }
    t->sources = g_new0(struct sip_cidr, cfg->nallowed_sources ? cfg->nallowed_sources : 1);
    for (size_t i = 0; i < cfg->nallowed_sources; i++) {
        if (sip_cidr_parse(&t->sources[t->nsources], cfg->allowed_sources[i])) {
            log_error("sip: trunk %s: '%s' is not an address or network", t->name,
                      cfg->allowed_sources[i]);
            mem_deref(t);
            return EINVAL;
        }
        t->nsources++;
    }
    t->state = t->registrar ? SIP_REG_REGISTERING : SIP_REG_NONE;
    *tp = t;
    return 0;
}

/* ---- state ---- */

static void describe(const struct sip_trunk *t, GString *out)
{
    int64_t now = g_get_monotonic_time();
    switch (t->state) {
    case SIP_REG_NONE:
        g_string_append_printf(out, "%s: IP-authenticated (no registration)", t->name);
        break;
    case SIP_REG_REGISTERING:
        g_string_append_printf(out, "%s: registering with %s", t->name, t->registrar);
        break;
    case SIP_REG_REGISTERED: {
        int64_t left = (t->expires_at_us - now + 999999) / 1000000;
        g_string_append_printf(out, "%s: registered (expires in %lld s)", t->name,
                               (long long)(left > 0 ? left : 0));
        break;
    }
    case SIP_REG_FAILED: {
        int64_t left = (t->retry_at_us - now + 999999) / 1000000;
        g_string_append_printf(out, "%s: failed: %d %s, retrying in %lld s", t->name,
                               t->last_status, t->last_phrase, (long long)(left > 0 ? left : 0));
        break;
    }
    case SIP_REG_UNREGISTERING:
        g_string_append_printf(out, "%s: unregistering", t->name);
        break;
    case SIP_REG_STOPPED:
        g_string_append_printf(out, "%s: stopped", t->name);
        break;
    }
}

void sip_trunk_status(const struct sip_trunk *t, GString *out)
{
    describe(t, out);
}

static void log_state(const struct sip_trunk *t)
{
    GString *s = g_string_new(NULL);
    describe(t, s);
    if (t->state == SIP_REG_FAILED)
        logc_warn(t->log_ctx, "%s", s->str);
    else
        logc_info(t->log_ctx, "%s", s->str);
    g_string_free(s, TRUE);
}

/* ---- registering ---- */

static void send_register(struct sip_trunk *t)
{
    struct sip_gw *gw = t->gw;
    if (!t->reg) {
        char aor[256];
        snprintf(aor, sizeof(aor), "<sip:%s@%s>", t->username, t->domain);
        t->reg = nua_handle(gw->nua, (nua_hmagic_t *)t, SIPTAG_TO_STR(aor), SIPTAG_FROM_STR(aor),
                            TAG_END());
        if (!t->reg) {
            logc_error(t->log_ctx, "cannot make a handle to register");
            return;
        }
    }
    char expires[16];
    snprintf(expires, sizeof(expires), "%u", t->expires_s);
    t->auth_tries = 0;
    t->state = SIP_REG_REGISTERING;
    nua_register(t->reg, NUTAG_REGISTRAR(t->registrar), NUTAG_M_USERNAME(t->username),
                 SIPTAG_EXPIRES_STR(expires), NUTAG_OUTBOUND("no-options-keepalive no-validate"),
                 TAG_END());
}

void sip_trunk_start(struct sip_trunk *t)
{
    log_state(t);
    if (t->registrar)
        send_register(t);
}

static gboolean retry_cb(gpointer data)
{
    struct sip_trunk *t = data;
    t->retry_timer = 0;
    if (t->gw->stopping)
        return G_SOURCE_REMOVE;
    logc_info(t->log_ctx, "registering again with %s", t->registrar);
    send_register(t);
    return G_SOURCE_REMOVE;
}

static void failed(struct sip_trunk *t, int status, const char *phrase, const sip_t *sip)
{
    t->last_status = status;
    snprintf(t->last_phrase, sizeof(t->last_phrase), "%s", phrase ? phrase : "");
    t->backoff_s = t->backoff_s ? t->backoff_s * 2 : BACKOFF_MIN_S;
    if (t->backoff_s > BACKOFF_MAX_S)
        t->backoff_s = BACKOFF_MAX_S;
    unsigned wait = t->backoff_s;
    if (sip && sip->sip_retry_after && sip->sip_retry_after->af_delta > wait)
        wait = sip->sip_retry_after->af_delta > BACKOFF_MAX_S
                   ? BACKOFF_MAX_S
                   : (unsigned)sip->sip_retry_after->af_delta;
    t->state = SIP_REG_FAILED;
    t->retry_at_us = g_get_monotonic_time() + (int64_t)wait * 1000000;
    if (t->retry_timer)
        g_source_remove(t->retry_timer);
    t->retry_timer = g_timeout_add_seconds(wait, retry_cb, t);
    log_state(t);
}

/* The expiry the registrar granted: our contact's expires, else the Expires header. */
static uint32_t granted_expires(const struct sip_trunk *t, const sip_t *sip)
{
    for (const sip_contact_t *m = sip ? sip->sip_contact : NULL; m; m = m->m_next) {
        if (m->m_expires && m->m_url->url_user && t->username &&
            strcmp(m->m_url->url_user, t->username) == 0) {
            unsigned long v = strtoul(m->m_expires, NULL, 10);
            if (v > 0 && v <= 86400 * 7)
                return (uint32_t)v;
        }
    }
    if (sip && sip->sip_expires && sip->sip_expires->ex_delta > 0)
        return (uint32_t)sip->sip_expires->ex_delta;
    return t->expires_s;
}

bool sip_trunk_answer_challenge(const struct sip_trunk *t, nua_handle_t *nh, const sip_t *sip,
                                unsigned *tries, const char *log_ctx)
{
    if (!t->username || !t->password || !sip)
        return false;
    const msg_auth_t *au = sip->sip_www_authenticate;
    if (!au)
        au = sip->sip_proxy_authenticate;
    if (!au || !au->au_scheme)
        return false;
    const char *realm = msg_params_find(au->au_params, "realm=");
    const char *stale = msg_params_find(au->au_params, "stale=");
    if (!realm) {
        logc_warn(log_ctx, "a challenge without a realm: cannot answer it");
        return false;
    }
    bool is_stale = stale && g_ascii_strcasecmp(stale, "true") == 0;
    if (!is_stale && ++*tries > MAX_AUTH_TRIES) {
        logc_warn(log_ctx,
                  "challenged again for realm %s: the credentials of trunk %s are not "
                  "accepted",
                  realm, t->name);
        return false;
    }
    bool quoted = realm[0] == '"';
    char *cred = g_strdup_printf("%s:%s%s%s:%s:%s", au->au_scheme, quoted ? "" : "\"", realm,
                                 quoted ? "" : "\"", t->username, t->password);
    logc_debug(log_ctx, "answering a %s challenge for realm %s as %s", au->au_scheme, realm,
               t->username);
    nua_authenticate(nh, NUTAG_AUTH(cred), TAG_END());
    wipe(cred);
    g_free(cred);
    return true;
}

void sip_trunk_event(struct sip_trunk *t, nua_event_t ev, int status, const char *phrase,
                     const sip_t *sip)
{
    if (ev == nua_r_unregister) {
        if (status < 200)
            return;
        t->state = SIP_REG_STOPPED;
        if (status < 300)
            logc_info(t->log_ctx, "%s: unregistered", t->name);
        else
            logc_warn(t->log_ctx, "%s: unregistering failed: %d %s", t->name, status,
                      phrase ? phrase : "");
        return;
    }
    if (ev != nua_r_register || status < 200)
        return;
    if (t->state == SIP_REG_UNREGISTERING || t->state == SIP_REG_STOPPED)
        return;
    if ((status == 401 || status == 407) &&
        sip_trunk_answer_challenge(t, t->reg, sip, &t->auth_tries, t->log_ctx))
        return;
    if (status == 904) {
        /* Sofia's word for "challenged again with the same nonce": our answer was refused. */
        logc_warn(t->log_ctx, "%s: the registrar refused our credentials", t->name);
        status = 401;
        phrase = "Unauthorized";
    }
    if (status >= 300) {
        failed(t, status, phrase, sip);
        return;
    }
    bool was = t->state == SIP_REG_REGISTERED;
    uint32_t granted = granted_expires(t, sip);
    t->state = SIP_REG_REGISTERED;
    t->backoff_s = 0;
    t->auth_tries = 0;
    t->expires_at_us = g_get_monotonic_time() + (int64_t)granted * 1000000;
    if (was)
        logc_debug(t->log_ctx, "%s: registration refreshed (expires in %u s)", t->name, granted);
    else
        log_state(t);
}

bool sip_trunk_stop(struct sip_trunk *t)
{
    if (t->retry_timer) {
        g_source_remove(t->retry_timer);
        t->retry_timer = 0;
    }
    if (t->state == SIP_REG_REGISTERED || (t->state == SIP_REG_REGISTERING && t->reg)) {
        t->state = SIP_REG_UNREGISTERING;
        logc_info(t->log_ctx, "%s: unregistering", t->name);
        nua_unregister(t->reg, TAG_END());
        return false;
    }
    if (t->state != SIP_REG_NONE)
        t->state = SIP_REG_STOPPED;
    return true;
}

bool sip_trunk_stopped(const struct sip_trunk *t)
{
    return t->state != SIP_REG_UNREGISTERING;
}
