/*
 * The SIP stack on the main loop: one sofia-sip nua for the whole gateway, its root driven by
 * the GLib default context (su_glib), its one callback dispatching to trunks and calls, and
 * the gateway's life: start, status of the pieces, an orderly shutdown.
 *
 * Sofia handles transactions, retransmissions, dialogs, Record-Route, digest auth and session
 * timers; it does not do SDP here (NUTAG_MEDIA_ENABLE(0)): every SDP body is ours, made and read
 * by the call's media session. nua runs in this thread (su_root_threading off), so its callback
 * comes from the main loop like everything else on the control plane.
 *
 * Shutdown goes in phases, each bounded: hang every call up (BYE, CANCEL, or a final response
 * to one still ringing), un-REGISTER every trunk, then shut nua down. A peer that never answers
 * costs at most a few seconds per phase, never the 32 s of a SIP transaction timeout.
 */
#include "sip/sip_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/su_log.h>

#include "base/log.h"
#include "base/mem.h"

#define STOP_POLL_MS         50
#define STOP_PHASE_MS        3000 /* each shutdown phase waits at most this long */
#define DESTROY_WAIT_MS      2000 /* for nua's shutdown when nobody waited for it */
#define LIMITER_MAX_SOURCES  4096
#define LOG_LINES_PER_SOURCE 1.0 /* a second, after a burst of 5 */

static GOnce su_once = G_ONCE_INIT;

/* ---- sofia's own log into ours ---- */

static char sofia_line[512];
static size_t sofia_len;

/* Sofia writes a line in pieces; whole lines go to our log at debug level. */
static void sofia_logger(void *stream, char const *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void sofia_logger(void *stream, char const *fmt, va_list ap)
{
    char piece[512];
    vsnprintf(piece, sizeof(piece), fmt, ap);
    for (const char *p = piece; *p; p++) {
        if (*p == '\n' || sofia_len + 1 >= sizeof(sofia_line)) {
            sofia_line[sofia_len] = '\0';
            if (sofia_len)
                log_debug("sofia: %s", sofia_line);
            sofia_len = 0;
            if (*p == '\n')
                continue;
        }
        sofia_line[sofia_len++] = *p;
    }
}

static gpointer su_setup(gpointer unused)
{
    su_init();
    su_log_redirect(su_log_default, sofia_logger, NULL);
    su_log_redirect(su_log_global, sofia_logger, NULL);
    return NULL;
}

/* ---- helpers for the other files ---- */

struct sip_trunk *sip_gw_trunk_for_source(struct sip_gw *gw, const struct sockaddr *sa)
{
    for (size_t i = 0; sa && i < gw->ntrunks; i++) {
        struct sip_trunk *t = gw->trunks[i];
        if (sip_cidr_match_any(t->sources, t->nsources, sa))
            return t;
    }
    return NULL;
}

struct sip_trunk *sip_gw_outbound_trunk(struct sip_gw *gw)
{
    for (size_t i = 0; i < gw->ntrunks; i++) {
        if (gw->trunks[i]->proxy || gw->trunks[i]->registrar)
            return gw->trunks[i];
    }
    return NULL;
}

void sip_gw_notice(struct sip_gw *gw, const char *room, const char *fmt, ...)
{
    if (!gw->host.notice || !room)
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    gw->host.notice(gw->host.arg, room, text);
}

bool sip_gw_may_log(struct sip_gw *gw, const char *source)
{
    return sip_ratelimit_take(gw->log_limiter, source, (uint64_t)g_get_monotonic_time(), NULL);
}

/* ---- the nua callback ---- */

static void shutdown_step(struct sip_gw *gw);

static void nua_callback(nua_event_t ev, int status, char const *phrase, nua_t *nua,
                         nua_magic_t *magic, nua_handle_t *nh, nua_hmagic_t *hmagic,
                         sip_t const *sip, tagi_t tags[])
{
    struct sip_gw *gw = (struct sip_gw *)magic;
    const enum sip_hkind *kind = (const enum sip_hkind *)hmagic;

    if (ev == nua_r_shutdown) {
        log_debug("sip: shutdown %d %s", status, phrase ? phrase : "");
        if (status >= 200) {
            gw->nua_shutdown_done = true;
            if (gw->stopping)
                shutdown_step(gw);
        }
        return;
    }
    if (kind && *kind == SIP_HANDLE_TRUNK) {
        sip_trunk_event((struct sip_trunk *)hmagic, ev, status, phrase, sip);
        return;
    }
    if (kind && *kind == SIP_HANDLE_CALL) {
        struct sip_call *c = mem_ref((struct sip_call *)hmagic);
        sip_call_event(c, ev, status, phrase, sip, tags);
        mem_deref(c);
        return;
    }
    switch (ev) {
    case nua_i_invite:
        sip_inbound_invite(gw, nh, sip);
        return;
    case nua_i_options:
        sip_inbound_options(gw, nh, sip);
        return;
    case nua_i_info:
        /* INFO is ours to answer (DTMF in a call); outside our calls there is nothing. */
        if (!nh)
            return;
        if (status < 200)
            nua_respond(nh, 481, "Call/Transaction Does Not Exist", NUTAG_WITH_THIS(nua),
                        TAG_END());
        nua_handle_destroy(nh);
        return;
    case nua_i_error:
        log_warn("sip: stack error %d %s", status, phrase ? phrase : "");
        return;
    default:
        break;
    }
    if (nh && nua_event_is_incoming_request(ev)) {
        /* A request outside our dialogs that nua has answered itself (405 and the like). */
        log_debug("sip: %s answered by the stack (%d)", nua_event_name(ev), status);
        nua_handle_destroy(nh);
    } else {
        log_debug("sip: %s %d %s on a handle we no longer have", nua_event_name(ev), status,
                  phrase ? phrase : "");
    }
}

/* ---- listeners ---- */

/* "udp:HOST:PORT" -> proto, host (IPv6 with brackets), port. */
static bool split_listen(const char *s, char *proto, char *host, size_t hostlen, char *port)
{
    const char *last = strrchr(s, ':');
    if (strlen(s) < 6 || s[3] != ':' || !last || last <= s + 4)
        return false;
    memcpy(proto, s, 3);
    proto[3] = '\0';
    size_t hl = (size_t)(last - s - 4);
    if (hl >= hostlen || strlen(last + 1) > 5)
        return false;
    memcpy(host, s + 4, hl);
    host[hl] = '\0';
    strcpy(port, last + 1);
    return true;
}

/* Up to two bind URLs (nua's URL and SIPS URL): the plain transports of one ADDRESS:PORT
 * share one ("sip:H:P;transport=udp,tcp"), TLS has its own. With a public address the URL names
 * it and binds maddr, which is how sofia advertises one address while binding another. */
static int listen_urls(const struct sip_gw *gw, char *urls[2])
{
    urls[0] = urls[1] = NULL;
    char keys[2][96] = {"", ""};
    char protos[2][16] = {"", ""};
    bool tls[2] = {false, false};
    size_t n = 0;
    for (size_t i = 0; i < gw->nlisten; i++) {
        char proto[4], host[80], port[8], key[96];
        if (!split_listen(gw->listen[i], proto, host, sizeof(host), port))
            return EINVAL;
        bool is_tls = strcmp(proto, "tls") == 0;
        snprintf(key, sizeof(key), "%s:%s", host, port);
        size_t j = 0;
        while (j < n && !(strcmp(keys[j], key) == 0 && tls[j] == is_tls))
            j++;
        if (j == n) {
            if (n == 2)
                return EINVAL;
            snprintf(keys[n], sizeof(keys[n]), "%s", key);
            tls[n] = is_tls;
            n++;
        }
        if (!strstr(protos[j], proto)) {
            size_t l = strlen(protos[j]);
            snprintf(protos[j] + l, sizeof(protos[j]) - l, "%s%s", l ? "," : "", proto);
        }
    }
    for (size_t j = 0; j < n; j++) {
        const char *colon = strrchr(keys[j], ':');
        int hl = (int)(colon - keys[j]);
        /* No transport parameter binds every transport of the scheme (udp and tcp; tls for
         * sips). A list ("udp,tcp") would say the same, but this sofia-sip keeps the list in
         * a stack array that is gone by the time it is read. */
        char tp[32] = "";
        if (!tls[j] && strchr(protos[j], ',') == NULL)
            snprintf(tp, sizeof(tp), ";transport=%s", protos[j]);
        if (gw->public_ip) {
            bool v6 = strchr(gw->public_ip, ':') != NULL;
            urls[j] =
                g_strdup_printf("%s:%s%s%s%s;maddr=%.*s%s", tls[j] ? "sips" : "sip", v6 ? "[" : "",
                                gw->public_ip, v6 ? "]" : "", colon, hl, keys[j], tp);
        } else {
            urls[j] = g_strdup_printf("%s:%s%s", tls[j] ? "sips" : "sip", keys[j], tp);
        }
    }
    return n ? 0 : EINVAL;
}

static int write_private_file(const char *path, const char *a, const char *b)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    int err = 0;
    for (const char *part = a; part && !err; part = part == a ? b : NULL) {
        size_t len = strlen(part), off = 0;
        while (off < len) {
            ssize_t w = write(fd, part + off, len - off);
            if (w < 0) {
                err = errno;
                break;
            }
            off += (size_t)w;
        }
    }
    if (close(fd) != 0 && !err)
        err = errno;
    return err;
}

/* Sofia's TLS transport reads a folder holding agent.pem (key and certificate) and cafile.pem:
 * made here, private, from the configured PEM files. */
static int tls_folder(struct sip_gw *gw)
{
    gchar *cert = NULL, *key = NULL;
    GError *gerr = NULL;
    int err = 0;
    if (!g_file_get_contents(gw->tls_cert, &cert, NULL, &gerr) ||
        !g_file_get_contents(gw->tls_key, &key, NULL, &gerr)) {
        log_error("sip: cannot read the TLS certificate or key: %s", gerr->message);
        g_error_free(gerr);
        err = ENOENT;
        goto out;
    }
    gw->tls_dir = g_dir_make_tmp("switchboard-sip-XXXXXX", &gerr);
    if (!gw->tls_dir) {
        log_error("sip: cannot make a folder for TLS: %s", gerr->message);
        g_error_free(gerr);
        err = EIO;
        goto out;
    }
    char *agent = g_build_filename(gw->tls_dir, "agent.pem", NULL);
    char *ca = g_build_filename(gw->tls_dir, "cafile.pem", NULL);
    err = write_private_file(agent, key, cert);
    if (!err)
        err = write_private_file(ca, cert, NULL);
    g_free(agent);
    g_free(ca);
out:
    if (key)
        explicit_bzero(key, strlen(key));
    g_free(key);
    g_free(cert);
    return err;
}

static void tls_folder_remove(struct sip_gw *gw)
{
    if (!gw->tls_dir)
        return;
    const char *names[] = {"agent.pem", "cafile.pem"};
    for (size_t i = 0; i < 2; i++) {
        char *p = g_build_filename(gw->tls_dir, names[i], NULL);
        g_unlink(p);
        g_free(p);
    }
    g_rmdir(gw->tls_dir);
    g_free(gw->tls_dir);
    gw->tls_dir = NULL;
}

/* ---- life ---- */

static void finish_all_calls(struct sip_gw *gw)
{
    while (gw->calls)
        sip_call_finish(gw->calls->data); /* unlinks it */
}

static void gw_destroy(void *data)
{
    struct sip_gw *gw = data;
    if (gw->stop_timer)
        g_source_remove(gw->stop_timer);
    finish_all_calls(gw);
    for (size_t i = 0; i < gw->ntrunks; i++)
        mem_deref(gw->trunks[i]);
    g_free(gw->trunks);
    if (gw->nua) {
        if (!gw->nua_shutdown_sent) {
            gw->nua_shutdown_sent = true;
            nua_shutdown(gw->nua);
        }
        int64_t deadline = g_get_monotonic_time() + DESTROY_WAIT_MS * 1000;
        while (!gw->nua_shutdown_done && g_get_monotonic_time() < deadline)
            su_root_step(gw->root, 50);
        if (gw->nua_shutdown_done)
            nua_destroy(gw->nua);
        else
            log_warn("sip: the stack did not shut down in time; leaving it");
    }
    /* The GSource is the root's port: detached from the context here, freed with the root. */
    if (gw->source)
        g_source_destroy(gw->source);
    if (gw->root)
        su_root_destroy(gw->root);
    su_home_deinit(gw->home);
    tls_folder_remove(gw);
    mem_deref(gw->plan);
    mem_deref(gw->limiter);
    mem_deref(gw->log_limiter);
    g_strfreev(gw->listen);
    g_free(gw->public_ip);
    g_free(gw->tls_cert);
    g_free(gw->tls_key);
}

int sip_gw_alloc(struct sip_gw **gwp, const struct sip_cfg *cfg, struct conf_registry *conferences,
                 const struct sip_gw_host *host)
{
    if (!gwp || !cfg || !cfg->nlisten || !cfg->listen)
        return EINVAL;
    g_once(&su_once, su_setup, NULL);

    struct sip_gw *gw = mem_zalloc(sizeof(*gw), gw_destroy);
    if (!gw)
        return ENOMEM;
    su_home_init(gw->home);
    gw->cfg = *cfg;
    gw->cfg.listen = NULL;
    gw->cfg.trunks = NULL;
    gw->cfg.routes_in = NULL;
    gw->cfg.outbound_allowed_users = gw->cfg.outbound_allowed_numbers = NULL;
    if (!gw->cfg.session_expires_s)
        gw->cfg.session_expires_s = 1800;
    if (!gw->cfg.ring_timeout_ms)
        gw->cfg.ring_timeout_ms = 60000;
    if (!gw->cfg.invite_rate_per_source)
        gw->cfg.invite_rate_per_source = 10;
    gw->media = cfg->media;
    gw->workers = cfg->workers;
    gw->conferences = conferences;
    if (host)
        gw->host = *host;
    gw->public_ip = g_strdup(cfg->public_ip);
    gw->tls_cert = g_strdup(cfg->tls_cert);
    gw->tls_key = g_strdup(cfg->tls_key);
    gw->listen = g_new0(char *, cfg->nlisten + 1);
    for (size_t i = 0; i < cfg->nlisten; i++)
        gw->listen[i] = g_strdup(cfg->listen[i]);
    gw->nlisten = cfg->nlisten;

    double rate = gw->cfg.invite_rate_per_source;
    int err = sip_plan_alloc(&gw->plan, cfg);
    if (!err)
        err = sip_ratelimit_alloc(&gw->limiter, rate, rate, LIMITER_MAX_SOURCES);
    if (!err)
        err = sip_ratelimit_alloc(&gw->log_limiter, LOG_LINES_PER_SOURCE, 5, LIMITER_MAX_SOURCES);
    gw->trunks = g_new0(struct sip_trunk *, cfg->ntrunks ? cfg->ntrunks : 1);
    for (size_t i = 0; !err && i < cfg->ntrunks; i++) {
        err = sip_trunk_alloc(&gw->trunks[i], gw, &cfg->trunks[i]);
        if (!err)
            gw->ntrunks++;
    }
    if (err) {
        mem_deref(gw);
        return err;
    }

    gw->root = su_glib_root_create(gw);
    if (!gw->root) {
        mem_deref(gw);
        return ENOMEM;
    }
    /* nua would otherwise run its stack in a thread of its own. */
    su_root_threading(gw->root, 0);
    gw->source = su_glib_root_gsource(gw->root);
    g_source_attach(gw->source, NULL);
    *gwp = gw;
    return 0;
}

int sip_gw_start(struct sip_gw *gw)
{
    if (!gw || gw->started)
        return EINVAL;
    char *urls[2];
    int err = listen_urls(gw, urls);
    if (err) {
        log_error("sip: cannot make bind addresses of the listen entries");
        return err;
    }
    if (gw->tls_cert && gw->tls_key)
        log_warn("sip: this sofia-sip keeps about 47 KB per TLS connection until exit: let only "
                 "your trunks reach the TLS port");
    if (gw->tls_cert && gw->tls_key && (err = tls_folder(gw))) {
        g_free(urls[0]);
        g_free(urls[1]);
        return err;
    }
    char expires[16];
    snprintf(expires, sizeof(expires), "%u", gw->cfg.session_expires_s);
    gw->nua = nua_create(
        gw->root, nua_callback, (nua_magic_t *)gw, NUTAG_URL(urls[0]),
        TAG_IF(urls[1], NUTAG_SIPS_URL(urls[1])),
        TAG_IF(gw->tls_dir, NUTAG_CERTIFICATE_DIR(gw->tls_dir)), NUTAG_MEDIA_ENABLE(0),
        NUTAG_AUTOANSWER(0), NUTAG_AUTOALERT(0), NUTAG_AUTOACK(1), NUTAG_ENABLEMESSAGE(0),
        NUTAG_ENABLEMESSENGER(0), NUTAG_APPL_METHOD("OPTIONS, INFO"),
        SIPTAG_ALLOW_STR("INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"),
        SIPTAG_SUPPORTED_STR("timer"), NUTAG_SESSION_TIMER(gw->cfg.session_expires_s),
        NUTAG_MIN_SE(90), NUTAG_UPDATE_REFRESH(1),
        NUTAG_OUTBOUND("no-options-keepalive no-validate"), SIPTAG_USER_AGENT_STR("switchboard"),
        TAG_END());
    if (!gw->nua) {
        err = errno ? errno : EADDRINUSE;
        log_error("sip: cannot listen on %s%s%s: %s", urls[0], urls[1] ? " and " : "",
                  urls[1] ? urls[1] : "", strerror(err));
        g_free(urls[0]);
        g_free(urls[1]);
        return err;
    }
    log_info("sip: listening on %s%s%s (session timer %u s)", urls[0], urls[1] ? " and " : "",
             urls[1] ? urls[1] : "", gw->cfg.session_expires_s);
    g_free(urls[0]);
    g_free(urls[1]);
    gw->started = true;
    for (size_t i = 0; i < gw->ntrunks; i++)
        sip_trunk_start(gw->trunks[i]);
    return 0;
}

/* ---- shutdown ---- */

/* The done handler must not free the gateway (the daemon quits its loop, then frees). */
static void stop_done(struct sip_gw *gw)
{
    gw->stop_phase = 4;
    log_info("sip: stopped");
    if (gw->stopped)
        gw->stopped(gw->stopped_arg);
}

static bool trunks_stopped(struct sip_gw *gw)
{
    for (size_t i = 0; i < gw->ntrunks; i++) {
        if (!sip_trunk_stopped(gw->trunks[i]))
            return false;
    }
    return true;
}

/* Moves through the phases as far as it can now. */
static void shutdown_step(struct sip_gw *gw)
{
    int64_t now = g_get_monotonic_time();
    bool late = now >= gw->stop_deadline_us;
    if (gw->stop_phase == 1) {
        if (gw->calls && !late)
            return;
        if (gw->calls)
            log_warn("sip: shutdown: %u calls did not end in time", g_list_length(gw->calls));
        finish_all_calls(gw);
        gw->stop_phase = 2;
        gw->stop_deadline_us = now + STOP_PHASE_MS * 1000;
        for (size_t i = 0; i < gw->ntrunks; i++)
            sip_trunk_stop(gw->trunks[i]);
        late = false;
    }
    if (gw->stop_phase == 2) {
        if (!trunks_stopped(gw) && !late)
            return;
        if (!trunks_stopped(gw))
            log_warn("sip: shutdown: unregistering did not finish in time");
        gw->stop_phase = 3;
        gw->stop_deadline_us = now + STOP_PHASE_MS * 1000;
        if (gw->nua && !gw->nua_shutdown_sent) {
            gw->nua_shutdown_sent = true;
            nua_shutdown(gw->nua);
        }
        late = false;
    }
    if (gw->stop_phase == 3) {
        if (gw->nua && !gw->nua_shutdown_done && !late)
            return;
        stop_done(gw);
    }
}

static gboolean stop_poll(gpointer data)
{
    struct sip_gw *gw = data;
    if (gw->stop_phase != 4)
        shutdown_step(gw);
    if (gw->stop_phase != 4)
        return G_SOURCE_CONTINUE;
    gw->stop_timer = 0;
    return G_SOURCE_REMOVE;
}

void sip_gw_shutdown(struct sip_gw *gw, sip_gw_stopped_h *done, void *arg)
{
    if (!gw || gw->stopping)
        return;
    gw->stopping = true;
    gw->stopped = done;
    gw->stopped_arg = arg;
    gw->stop_phase = 1;
    gw->stop_deadline_us = g_get_monotonic_time() + STOP_PHASE_MS * 1000;
    log_info("sip: shutting down: ending %u calls", g_list_length(gw->calls));
    /* Hanging up may end a call at once and so change the list: work on a copy. */
    GList *copy = g_list_copy(gw->calls);
    for (GList *l = copy; l; l = l->next)
        mem_ref(l->data);
    for (GList *l = copy; l; l = l->next) {
        sip_call_hangup(l->data, 503, "Service Unavailable");
        mem_deref(l->data);
    }
    g_list_free(copy);
    if (!gw->started) {
        gw->stop_phase = 3;
        stop_done(gw);
        return;
    }
    gw->stop_timer = g_timeout_add(STOP_POLL_MS, stop_poll, gw);
    shutdown_step(gw);
}
