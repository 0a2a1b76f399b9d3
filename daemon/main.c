/*
 * switchboard: a Matrix call bridge and conference mixer.
 *
 *   switchboard --config FILE         run in the foreground, logging to stderr
 *   switchboard --check-config FILE   validate FILE and exit (non-zero on problems)
 *
 * main() only wires the layers together: configuration, the media workers, the mixer clocks,
 * the bot and (with a sip: section) the SIP gateway, then runs the main loop until
 * SIGTERM/SIGINT, when every call is hung up properly before the process exits 0: the SIP side
 * first (BYEs, un-REGISTER), then the Matrix side (its notices about the SIP calls still go
 * out).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <glib.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "conf/registry.h"
#include "daemon/config.h"
#include "media/dtls.h"
#include "media/worker.h"
#include "signalling/bot.h"
#include "sip/sip.h"

#define SHUTDOWN_TIMEOUT_MS 20000 /* a rate-limited homeserver may delay the hangups */
#define GATHER_WAIT_MS      200

struct daemon {
    GMainLoop *loop;
    struct bot *bot;
    struct sip_gw *sip;
    struct bot_sip_ops sip_ops;
    GHashTable *user_rings; /* struct sip_call * -> struct user_ring: phones ringing users */
    GPtrArray *ended_rings; /* freed from an idle callback, out of the ring's own handler */
    guint reap_idle;
    bool stopping;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: switchboard --config FILE\n"
               "       switchboard --check-config FILE\n");
}

static void stopped(void *arg)
{
    struct daemon *d = arg;
    log_info("all calls hung up; exiting");
    g_main_loop_quit(d->loop);
}

static void sip_stopped(void *arg)
{
    struct daemon *d = arg;
    bot_shutdown(d->bot, SHUTDOWN_TIMEOUT_MS, stopped, d);
}

static gboolean on_signal(gpointer data)
{
    struct daemon *d = data;
    if (d->stopping) {
        log_warn("second signal: exiting without waiting");
        g_main_loop_quit(d->loop);
        return G_SOURCE_CONTINUE;
    }
    d->stopping = true;
    log_info("signal received: shutting down");
    if (d->sip)
        sip_gw_shutdown(d->sip, sip_stopped, d);
    else
        bot_shutdown(d->bot, SHUTDOWN_TIMEOUT_MS, stopped, d);
    return G_SOURCE_CONTINUE;
}

/* ---- the SIP side, wired to the bot ---- */

static void host_notice(void *arg, const char *room_id, const char *text)
{
    struct daemon *d = arg;
    bot_post_notice(d->bot, room_id, text);
}

/* A phone calling a user route: the bot rings the user (bot_ring_user) and what happens to
 * the ring is what the phone is told; the phone giving up cancels the ring. */
struct user_ring {
    struct daemon *d;
    struct sip_call *sc;
    struct bot_ring *ring;
};

static void user_ring_free(gpointer p)
{
    struct user_ring *ur = p;
    mem_deref(ur->ring);
    g_free(ur);
}

static void ring_ringing(void *arg)
{
    struct user_ring *ur = arg;
    sip_call_user_ringing(ur->sc);
}

static void ring_answered(void *arg)
{
    struct user_ring *ur = arg;
    sip_call_user_answered(ur->sc);
}

static gboolean reap_rings(gpointer data)
{
    struct daemon *d = data;
    d->reap_idle = 0;
    g_ptr_array_set_size(d->ended_rings, 0);
    return G_SOURCE_REMOVE;
}

static void ring_ended(enum bot_ring_end why, void *arg)
{
    struct user_ring *ur = arg;
    struct sip_call *sc = ur->sc;
    struct daemon *d = ur->d;
    /* The SIP side is told below and will not report the call gone: forget it first. The ring
     * is inside its own handler now (maybe still inside bot_ring_user()): freed later. */
    g_hash_table_steal(d->user_rings, sc);
    g_ptr_array_add(d->ended_rings, ur);
    if (!d->reap_idle)
        d->reap_idle = g_idle_add(reap_rings, d);
    switch (why) {
    case BOT_RING_REJECTED:
        sip_call_user_refused(sc, 603);
        break;
    case BOT_RING_BUSY:
        sip_call_user_refused(sc, 486);
        break;
    case BOT_RING_NO_ANSWER:
    case BOT_RING_FAILED:
        sip_call_user_refused(sc, 480);
        break;
    case BOT_RING_HANGUP:
        sip_call_user_hangup(sc);
        break;
    case BOT_RING_CANCELLED:
        break;
    }
}

static const struct bot_ring_handlers ring_handlers = {
    .ringing = ring_ringing,
    .answered = ring_answered,
    .ended = ring_ended,
};

static int host_ring_user(void *arg, const char *user_id, const char *conference,
                          const char *caller, struct sip_call *sc)
{
    struct daemon *d = arg;
    struct user_ring *ur = g_new0(struct user_ring, 1);
    ur->d = d;
    ur->sc = sc;
    g_hash_table_insert(d->user_rings, sc, ur);
    int err = bot_ring_user(d->bot, user_id, conference, caller, &ring_handlers, ur, &ur->ring);
    if (err)
        g_hash_table_remove(d->user_rings, sc);
    return err;
}

static void host_user_call_gone(void *arg, struct sip_call *sc)
{
    struct daemon *d = arg;
    struct user_ring *ur = g_hash_table_lookup(d->user_rings, sc);
    if (!ur)
        return;
    bot_ring_cancel(ur->ring); /* no handler runs after this */
    g_hash_table_remove(d->user_rings, sc);
}

static int ops_dial(void *arg, const char *notice_room, const char *conference, const char *user,
                    const char *number, char *why, size_t whylen)
{
    struct daemon *d = arg;
    return sip_gw_dial(d->sip, notice_room, conference, user, number, why, whylen);
}

static int ops_hangup(void *arg, const char *conference, const char *number)
{
    struct daemon *d = arg;
    return sip_gw_hangup(d->sip, conference, number);
}

static char *ops_status(void *arg)
{
    struct daemon *d = arg;
    return sip_gw_status(d->sip);
}

/* The sip: section as the gateway takes it; the arrays point into cfg, which outlives it. */
struct sip_setup {
    struct sip_cfg cfg;
    struct sip_trunk_cfg *trunks;
    struct sip_route_in *routes;
};

static void sip_setup_free(struct sip_setup *s)
{
    g_free(s->trunks);
    g_free(s->routes);
}

static void sip_setup_fill(struct sip_setup *s, const struct config *cfg,
                           struct media_workers *workers, const struct media_session_cfg *media)
{
    const struct config_sip *c = &cfg->sip;
    s->trunks = g_new0(struct sip_trunk_cfg, c->trunks.n ? c->trunks.n : 1);
    for (size_t i = 0; i < c->trunks.n; i++) {
        const struct config_sip_trunk *t = &c->trunks.v[i];
        s->trunks[i] = (struct sip_trunk_cfg){
            .name = t->name,
            .registrar = t->registrar,
            .proxy = t->proxy,
            .username = t->username,
            .password = t->password,
            .from_user = t->from_user,
            .codecs = (const char *const *)t->codecs.v,
            .ncodecs = t->codecs.n,
            .srtp = t->srtp == CONFIG_SIP_SRTP_REQUIRED   ? SIP_SRTP_REQUIRED
                    : t->srtp == CONFIG_SIP_SRTP_OPTIONAL ? SIP_SRTP_OPTIONAL
                                                          : SIP_SRTP_OFF,
            .allowed_sources = (const char *const *)t->allowed_sources.v,
            .nallowed_sources = t->allowed_sources.n,
            .register_expires_s = (uint32_t)t->register_expires_s,
        };
    }
    s->routes = g_new0(struct sip_route_in, c->routes.inbound.n ? c->routes.inbound.n : 1);
    for (size_t i = 0; i < c->routes.inbound.n; i++) {
        const struct config_sip_route *r = &c->routes.inbound.v[i];
        s->routes[i] = (struct sip_route_in){.number = r->number, .room = r->room, .user = r->user};
    }
    s->cfg = (struct sip_cfg){
        .listen = (const char *const *)c->listen.v,
        .nlisten = c->listen.n,
        .public_ip = c->public_ip,
        .tls_cert = c->tls_certificate,
        .tls_key = c->tls_key,
        .trunks = s->trunks,
        .ntrunks = c->trunks.n,
        .routes_in = s->routes,
        .nroutes_in = c->routes.inbound.n,
        .outbound_allowed_users = (const char *const *)c->routes.outbound.allowed_users.v,
        .noutbound_allowed_users = c->routes.outbound.allowed_users.n,
        .outbound_allowed_numbers = (const char *const *)c->routes.outbound.allowed_numbers.v,
        .noutbound_allowed_numbers = c->routes.outbound.allowed_numbers.n,
        .invite_rate_per_source = (uint32_t)c->invite_rate_per_source,
        .session_expires_s = (uint32_t)c->session_expires_s,
        .workers = workers,
        .media = *media,
        .ring_timeout_ms = (uint32_t)c->ring_timeout_s * 1000,
        .rtp_timeout_ms = (uint32_t)cfg->media.media_timeout_s * 1000,
    };
}

static int start_sip(struct daemon *d, const struct config *cfg, struct media_workers *workers,
                     const struct media_session_cfg *media, struct conf_registry *conferences)
{
    struct sip_setup s = {0};
    sip_setup_fill(&s, cfg, workers, media);
    struct sip_gw_host host = {
        .arg = d,
        .notice = host_notice,
        .ring_user = host_ring_user,
        .user_call_gone = host_user_call_gone,
    };
    d->user_rings = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, user_ring_free);
    d->ended_rings = g_ptr_array_new_with_free_func(user_ring_free);
    int err = sip_gw_alloc(&d->sip, &s.cfg, conferences, &host);
    sip_setup_free(&s);
    if (err) {
        log_error("cannot set up the SIP side: %s", strerror(err));
        return err;
    }
    if ((err = sip_gw_start(d->sip))) {
        log_error("cannot start the SIP side: %s", strerror(err));
        return err;
    }
    d->sip_ops = (struct bot_sip_ops){
        .arg = d,
        .dial = ops_dial,
        .hangup = ops_hangup,
        .status = ops_status,
    };
    bot_set_sip(d->bot, &d->sip_ops);
    return 0;
}

static int run(const struct config *cfg)
{
    int err = config_state_dir_create(cfg);
    if (err) {
        log_error("cannot create state_dir %s: %s", cfg->state_dir, strerror(err));
        return 1;
    }

    struct dtls_identity *identity = NULL;
    struct media_workers *workers = NULL;
    struct conf_mixer *mixer = NULL;
    struct conf_registry *conferences = NULL;
    struct daemon d = {0};
    int status = 1;

    if ((err = dtls_identity_alloc(&identity))) {
        log_error("cannot make the DTLS certificate: %s", strerror(err));
        goto out;
    }
    if ((err = media_workers_alloc(&workers, (unsigned)cfg->media.workers))) {
        log_error("cannot start media workers: %s", strerror(err));
        goto out;
    }
    if ((err = conf_mixer_alloc(&mixer, (unsigned)cfg->conference.mixer_threads))) {
        log_error("cannot start mixer clocks: %s", strerror(err));
        goto out;
    }
    if ((err = conf_registry_alloc(&conferences, mixer)))
        goto out;

    struct bot_cfg bc = {
        .mx =
            {
                .homeserver = cfg->matrix.homeserver,
                .user_id = cfg->matrix.user_id,
                .access_token = cfg->matrix.access_token,
                .state_dir = cfg->state_dir,
                .sync_timeout_ms = (uint32_t)cfg->matrix.sync_timeout_ms,
            },
        .allowed_users = cfg->matrix.allowed_users.v,
        .n_allowed_users = cfg->matrix.allowed_users.n,
        .conferences = conferences,
        .call =
            {
                .workers = workers,
                .media =
                    {
                        .local_ip = cfg->media.ip,
                        .port_min = (uint16_t)cfg->media.port_min,
                        .port_max = (uint16_t)cfg->media.port_max,
                        .identity = identity,
                        .connect_timeout_ms = (uint32_t)cfg->media.connect_timeout_s * 1000,
                        .opus_bitrate = (uint32_t)cfg->conference.opus_bitrate,
                        .opus_complexity = cfg->conference.opus_complexity,
                    },
                .invite_lifetime_ms = (uint32_t)cfg->calls.invite_lifetime_ms,
                .media_timeout_ms = (uint32_t)cfg->media.media_timeout_s * 1000,
                .gather_wait_ms = GATHER_WAIT_MS,
            },
    };
    if ((err = bot_alloc(&d.bot, &bc))) {
        log_error("cannot start the Matrix client: %s", strerror(err));
        goto out;
    }

    if (cfg->sip.enabled && start_sip(&d, cfg, workers, &bc.call.media, conferences))
        goto out;

    d.loop = g_main_loop_new(NULL, FALSE);
    guint sig_term = g_unix_signal_add(SIGTERM, on_signal, &d);
    guint sig_int = g_unix_signal_add(SIGINT, on_signal, &d);

    log_info("switchboard starting: homeserver %s, user %s, media %s:%d-%d", cfg->matrix.homeserver,
             cfg->matrix.user_id, cfg->media.ip, cfg->media.port_min, cfg->media.port_max);
    if ((err = bot_start(d.bot))) {
        log_error("cannot start: %s", strerror(err));
    } else {
        g_main_loop_run(d.loop);
        status = 0;
    }
    g_source_remove(sig_term);
    g_source_remove(sig_int);
    g_main_loop_unref(d.loop);

out:
    mem_deref(d.sip);
    if (d.user_rings)
        g_hash_table_destroy(d.user_rings);
    if (d.reap_idle)
        g_source_remove(d.reap_idle);
    if (d.ended_rings)
        g_ptr_array_free(d.ended_rings, TRUE);
    mem_deref(d.bot);
    mem_deref(conferences);
    mem_deref(mixer);
    mem_deref(workers);
    mem_deref(identity);
    return status;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--check-config") == 0)
        return config_check_main(argv[2]);
    if (argc != 3 || strcmp(argv[1], "--config") != 0) {
        usage(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN);

    struct config *cfg = NULL;
    struct config_diag diag = {0};
    int err = config_load(&cfg, argv[2], &diag);
    if (err) {
        if (diag.n)
            config_diag_print(&diag, stderr);
        else
            fprintf(stderr, "%s: %s\n", argv[2], strerror(err));
        config_diag_reset(&diag);
        return 1;
    }
    config_diag_reset(&diag);
    log_set_level(cfg->log_level);
    int status = run(cfg);
    mem_deref(cfg);
    return status;
}
