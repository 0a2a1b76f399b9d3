/*
 * switchboard: a Matrix call bridge and conference mixer.
 *
 *   switchboard --config FILE         run in the foreground, logging to stderr
 *   switchboard --check-config FILE   validate FILE and exit (non-zero on problems)
 *
 * main() only makes the pieces and connects them: configuration, the media workers, the mixer
 * clocks, the bot and (with a sip: section) the SIP side wired to it (daemon/sip_bridge.c), then
 * runs the main loop until SIGTERM/SIGINT, when every call is hung up properly before the
 * process exits 0: the SIP side first (BYEs, un-REGISTER), then the Matrix side (its notices
 * about the SIP calls still go out).
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
#include "daemon/sip_bridge.h"
#include "media/dtls.h"
#include "media/worker.h"
#include "signalling/bot.h"

#define SHUTDOWN_TIMEOUT_MS 20000 /* a rate-limited homeserver may delay the hangups */
#define GATHER_WAIT_MS      200

struct daemon {
    GMainLoop *loop;
    struct bot *bot;
    struct sip_bridge *sip; /* NULL without a sip: section */
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
        sip_bridge_shutdown(d->sip, sip_stopped, d);
    else
        bot_shutdown(d->bot, SHUTDOWN_TIMEOUT_MS, stopped, d);
    return G_SOURCE_CONTINUE;
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
                        .ice = (enum ice_mode)cfg->media.ice,
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

    if (cfg->sip.enabled &&
        sip_bridge_alloc(&d.sip, cfg, d.bot, workers, &bc.call.media, conferences))
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
    mem_deref(d.sip); /* before the bot: it cancels the rings still out */
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
