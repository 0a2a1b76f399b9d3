/*
 * sipload's main: options, the SIP stack (one nua on the GLib main loop through su_glib, media
 * off: every SDP is the call's media session's), the media workers and mixer clocks, the ramp
 * that places the calls, the tally, and the JSON printed at the end.
 *
 *   sipload --uri 'sip:+1555{i:04}@127.0.0.1:5070' --calls 20 --rate 5 --codec pcmu \
 *           --duration 30 --analyse 2 --probe 440 --probe 990
 *
 * stderr carries progress lines (one when every call was answered or failed: "sipload: all
 * calls placed: N up, M failed", then one per report interval); stdout gets one JSON object once
 * every call has ended.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <glib-unix.h>
#include <jansson.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_glib.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "media/worker.h"
#include "tools/sipload/sipload.h"

#define SHUTDOWN_WAIT_MS 3000
#define STOP_WAIT_MS     8000 /* after SIGINT: calls still ending are abandoned */

struct sl {
    struct sl_cfg cfg;
    GMainLoop *loop;
    su_root_t *root;
    GSource *root_source;
    nua_t *nua;
    bool nua_down;
    struct media_workers *workers;
    struct conf_mixer *mixer;

    struct sl_call **calls;
    unsigned placed, answered, failed, ended, ended_by_remote, up;
    unsigned max_up;
    struct {
        int status;
        unsigned n;
    } failures[SL_MAX_FAILURE];
    unsigned nfailures;
    GArray *setup_ms;
    struct sl_totals totals;
    GArray *heard; /* struct sl_heard */

    guint ramp_timer, report_timer, stop_timer;
    bool stopping, all_placed_said, finished;
    gint64 t_start;
    double cpu_start;
};

const struct sl_cfg *sl_cfg(const struct sl *sl)
{
    return &sl->cfg;
}

nua_t *sl_nua(struct sl *sl)
{
    return sl->nua;
}

GMainContext *sl_worker(struct sl *sl)
{
    return media_workers_pick(sl->workers);
}

struct conf_mixer *sl_mixer(struct sl *sl)
{
    return sl->mixer;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void maybe_finish(struct sl *sl);

static void say_all_placed(struct sl *sl)
{
    if (sl->all_placed_said || sl->answered + sl->failed < sl->cfg.calls)
        return;
    sl->all_placed_said = true;
    fprintf(stderr, "sipload: all calls placed: %u up, %u failed\n", sl->up, sl->failed);
    fflush(stderr);
}

void sl_call_answered(struct sl *sl, struct sl_call *c, double setup_ms)
{
    (void)c;
    sl->answered++;
    sl->up++;
    if (sl->up > sl->max_up)
        sl->max_up = sl->up;
    g_array_append_val(sl->setup_ms, setup_ms);
    say_all_placed(sl);
}

void sl_call_failed(struct sl *sl, struct sl_call *c, int status, const char *why)
{
    (void)c;
    log_warn("a call failed: %s", why);
    sl->failed++;
    unsigned i = 0;
    while (i < sl->nfailures && sl->failures[i].status != status)
        i++;
    if (i == sl->nfailures && i < SL_MAX_FAILURE)
        sl->failures[sl->nfailures++] = (typeof(sl->failures[0])){status, 0};
    if (i < sl->nfailures)
        sl->failures[i].n++;
    say_all_placed(sl);
    maybe_finish(sl);
}

void sl_call_ended(struct sl *sl, struct sl_call *c, bool by_remote, const struct sl_totals *t,
                   const struct sl_heard *heard)
{
    (void)c;
    sl->ended++;
    sl->up--;
    sl->ended_by_remote += by_remote;
    sl->totals.packets_sent += t->packets_sent;
    sl->totals.packets_received += t->packets_received;
    sl->totals.packets_lost += t->packets_lost;
    sl->totals.frames_concealed += t->frames_concealed;
    sl->totals.late_dropped += t->late_dropped;
    if (heard)
        g_array_append_val(sl->heard, *heard);
    maybe_finish(sl);
}

/* ---- the ramp ---- */

static gboolean place_next(gpointer arg)
{
    struct sl *sl = arg;
    if (sl->stopping || sl->placed >= sl->cfg.calls) {
        sl->ramp_timer = 0;
        return G_SOURCE_REMOVE;
    }
    unsigned idx = sl->placed++;
    int err = sl_call_start(&sl->calls[idx], sl, idx);
    if (err) {
        char why[64];
        snprintf(why, sizeof(why), "not placed: %s", strerror(err));
        sl_call_failed(sl, NULL, 0, why);
    }
    if (sl->placed >= sl->cfg.calls) {
        sl->ramp_timer = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean report(gpointer arg)
{
    struct sl *sl = arg;
    fprintf(stderr, "sipload: placed %u, up %u, failed %u, ended %u, cpu %.1f%% since start\n",
            sl->placed, sl->up, sl->failed, sl->ended,
            (cpu_seconds() - sl->cpu_start) * 1e8 /
                (double)MAX(1, g_get_monotonic_time() - sl->t_start));
    return G_SOURCE_CONTINUE;
}

/* ---- the end ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(GArray *a, double p)
{
    if (!a->len)
        return NAN;
    g_array_sort(a, cmp_double);
    unsigned i = (unsigned)floor((a->len - 1) * p);
    return g_array_index(a, double, i);
}

static json_t *json_num(double v)
{
    return isfinite(v) ? json_real(round(v * 10) / 10) : json_null();
}

static void print_result(struct sl *sl)
{
    double wall = (double)(g_get_monotonic_time() - sl->t_start) / 1e6;
    double cpu = cpu_seconds() - sl->cpu_start;
    json_t *o = json_object();
    json_object_set_new(o, "calls", json_integer(sl->cfg.calls));
    json_object_set_new(o, "codec", json_string(audio_codec_name(sl->cfg.codec)));
    json_object_set_new(o, "placed", json_integer(sl->placed));
    json_object_set_new(o, "answered", json_integer(sl->answered));
    json_object_set_new(o, "max_up", json_integer(sl->max_up));
    json_object_set_new(o, "failed", json_integer(sl->failed));
    json_t *f = json_object();
    for (unsigned i = 0; i < sl->nfailures; i++) {
        char k[16];
        snprintf(k, sizeof(k), "%d", sl->failures[i].status);
        json_object_set_new(f, sl->failures[i].status ? k : "local",
                            json_integer(sl->failures[i].n));
    }
    json_object_set_new(o, "failures", f);
    json_object_set_new(o, "ended", json_integer(sl->ended));
    json_object_set_new(o, "ended_by_remote", json_integer(sl->ended_by_remote));
    json_t *s = json_object();
    json_object_set_new(s, "p50", json_num(percentile(sl->setup_ms, 0.5)));
    json_object_set_new(s, "p95", json_num(percentile(sl->setup_ms, 0.95)));
    json_object_set_new(s, "max", json_num(percentile(sl->setup_ms, 1.0)));
    json_object_set_new(o, "setup_ms", s);
    const struct sl_totals *t = &sl->totals;
    json_object_set_new(o, "packets_sent", json_integer((json_int_t)t->packets_sent));
    json_object_set_new(o, "packets_received", json_integer((json_int_t)t->packets_received));
    json_object_set_new(o, "packets_lost", json_integer((json_int_t)t->packets_lost));
    double expected =
        (double)t->packets_received + (double)(t->packets_lost > 0 ? t->packets_lost : 0);
    json_object_set_new(
        o, "loss_pct",
        json_num(expected > 0 ? 100.0 * (double)MAX(0, t->packets_lost) / expected : 0));
    json_object_set_new(o, "frames_concealed", json_integer((json_int_t)t->frames_concealed));
    json_object_set_new(o, "late_dropped", json_integer((json_int_t)t->late_dropped));
    json_object_set_new(o, "wall_s", json_num(wall));
    json_object_set_new(o, "cpu_s", json_num(cpu));
    json_object_set_new(o, "cpu_pct", json_num(wall > 0 ? 100.0 * cpu / wall : 0));
    json_t *h = json_array();
    for (unsigned i = 0; i < sl->heard->len; i++) {
        const struct sl_heard *e = &g_array_index(sl->heard, struct sl_heard, i);
        json_t *x = json_object(), *tones = json_object();
        json_object_set_new(x, "call", json_integer(e->call));
        json_object_set_new(x, "blocks", json_integer((json_int_t)e->blocks));
        for (unsigned k = 0; k < sl->cfg.nprobes; k++) {
            char key[24];
            snprintf(key, sizeof(key), "%g", sl->cfg.probes[k]);
            json_object_set_new(tones, key, json_num(e->probe_db[k]));
        }
        json_object_set_new(x, "tones_db", tones);
        json_object_set_new(x, "residual_db", json_num(e->residual_db));
        json_array_append_new(h, x);
    }
    json_object_set_new(o, "heard", h);
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(o);
}

static gboolean quit_now(gpointer arg)
{
    struct sl *sl = arg;
    g_main_loop_quit(sl->loop);
    return G_SOURCE_REMOVE;
}

static void finish(struct sl *sl)
{
    if (sl->finished)
        return;
    sl->finished = true;
    print_result(sl);
    if (sl->report_timer) {
        g_source_remove(sl->report_timer);
        sl->report_timer = 0;
    }
    nua_shutdown(sl->nua);
    g_timeout_add(SHUTDOWN_WAIT_MS, quit_now, sl);
}

static void maybe_finish(struct sl *sl)
{
    if (sl->placed >= sl->cfg.calls && sl->ended + sl->failed >= sl->cfg.calls && sl->up == 0)
        finish(sl);
}

static gboolean stop_timeout(gpointer arg)
{
    struct sl *sl = arg;
    sl->stop_timer = 0;
    fprintf(stderr, "sipload: calls still ending after %d ms: giving up on them\n", STOP_WAIT_MS);
    finish(sl);
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer arg)
{
    struct sl *sl = arg;
    if (sl->stopping)
        return G_SOURCE_CONTINUE;
    sl->stopping = true;
    fprintf(stderr, "sipload: stopping: hanging up %u calls\n", sl->up);
    for (unsigned i = 0; i < sl->placed; i++) {
        if (sl->calls[i])
            sl_call_hangup(sl->calls[i]);
    }
    /* calls never placed count as failed, so that the tally adds up */
    while (sl->placed < sl->cfg.calls) {
        sl->placed++;
        sl_call_failed(sl, NULL, 0, "not placed: stopped");
    }
    maybe_finish(sl);
    if (!sl->finished)
        sl->stop_timer = g_timeout_add(STOP_WAIT_MS, stop_timeout, sl);
    return G_SOURCE_CONTINUE;
}

/* ---- sofia ---- */

static void nua_cb(nua_event_t ev, int status, char const *phrase, nua_t *nua, nua_magic_t *magic,
                   nua_handle_t *nh, nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[])
{
    struct sl *sl = (struct sl *)magic;
    (void)nua;
    if (ev == nua_r_shutdown) {
        if (status >= 200) {
            sl->nua_down = true;
            g_main_loop_quit(sl->loop);
        }
        return;
    }
    if (hmagic) {
        sl_call_event((struct sl_call *)hmagic, ev, status, phrase, sip, tags);
        return;
    }
    if (ev == nua_i_invite) { /* we only place calls */
        nua_respond(nh, SIP_403_FORBIDDEN, NUTAG_WITH_THIS(nua), TAG_END());
        nua_handle_destroy(nh);
    } else if (ev == nua_i_options) {
        nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
        nua_handle_destroy(nh);
    }
}

/* ---- options ---- */

static gboolean add_probe(const gchar *name, const gchar *value, gpointer data, GError **error)
{
    struct sl_cfg *cfg = data;
    (void)name;
    char *end;
    double v = g_ascii_strtod(value, &end);
    if (*end || v <= 0 || cfg->nprobes >= SL_MAX_PROBES) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--probe takes a frequency in Hz (at most %d)", SL_MAX_PROBES);
        return FALSE;
    }
    cfg->probes[cfg->nprobes++] = v;
    return TRUE;
}

/* Option strings the configuration points into, freed at exit. */
static gchar *opt_strings[4];

static int parse_args(struct sl_cfg *cfg, int argc, char **argv)
{
    gchar *codec = NULL, *uri = NULL, *bind = NULL, *local_ip = NULL, *from = NULL, *level = NULL;
    gint calls = 1, first = 0, analyse = 0, clocks = 0, workers = 0;
    gdouble rate = 10, duration = 30, tone = 440, step = 0, dbfs = -20, from_s = 3,
            setup_timeout = 20;
    GOptionEntry entries[] = {
        {"uri", 'u', 0, G_OPTION_ARG_STRING, &uri,
         "target SIP URI; {i} or {i:04} is the call's index", "URI"},
        {"calls", 'n', 0, G_OPTION_ARG_INT, &calls, "concurrent calls (1)", "N"},
        {"first-index", 0, 0, G_OPTION_ARG_INT, &first, "index of the first call (0)", "N"},
        {"rate", 'r', 0, G_OPTION_ARG_DOUBLE, &rate, "calls placed per second (10)", "R"},
        {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &duration,
         "seconds each call stays up once answered; 0: until SIGINT (30)", "S"},
        {"codec", 'c', 0, G_OPTION_ARG_STRING, &codec, "pcmu (default), pcma, g722 or opus",
         "NAME"},
        {"bind", 0, 0, G_OPTION_ARG_STRING, &bind, "our SIP address (sip:127.0.0.1:*)", "URL"},
        {"local-ip", 0, 0, G_OPTION_ARG_STRING, &local_ip, "our RTP address (127.0.0.1)", "IP"},
        {"from", 0, 0, G_OPTION_ARG_STRING, &from, "our user part (sipload)", "USER"},
        {"tone", 0, 0, G_OPTION_ARG_DOUBLE, &tone, "each call's tone in Hz (440)", "HZ"},
        {"tone-step", 0, 0, G_OPTION_ARG_DOUBLE, &step, "Hz between calls' tones (0)", "HZ"},
        {"tone-dbfs", 0, 0, G_OPTION_ARG_DOUBLE, &dbfs, "tone level (-20)", "DB"},
        {"analyse", 'a', 0, G_OPTION_ARG_INT, &analyse, "analyse what the first N calls hear (0)",
         "N"},
        {"probe", 'p', 0, G_OPTION_ARG_CALLBACK, (gpointer)add_probe,
         "a frequency to measure in what they hear (repeat)", "HZ"},
        {"analyse-from", 0, 0, G_OPTION_ARG_DOUBLE, &from_s,
         "seconds after the answer the analysis starts (3)", "S"},
        {"setup-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &setup_timeout,
         "seconds a call may take to be answered (20)", "S"},
        {"clocks", 0, 0, G_OPTION_ARG_INT, &clocks, "mixer clocks (one per CPU)", "N"},
        {"workers", 0, 0, G_OPTION_ARG_INT, &workers, "media workers (one per CPU)", "N"},
        {"log-level", 0, 0, G_OPTION_ARG_STRING, &level, "error, warn (default), info, debug",
         "LEVEL"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("- place concurrent SIP calls and measure them");
    GOptionGroup *g = g_option_group_new("main", "", "", cfg, NULL);
    g_option_group_add_entries(g, entries);
    g_option_context_set_main_group(ctx, g);
    GError *error = NULL;
    bool ok = g_option_context_parse(ctx, &argc, &argv, &error);
    g_option_context_free(ctx);
    int err = 0;
    if (!ok) {
        fprintf(stderr, "sipload: %s\n", error->message);
        g_error_free(error);
        err = EINVAL;
    }
    enum log_level lvl = LOG_LVL_WARN;
    if (!err && level && log_level_parse(level, &lvl)) {
        fprintf(stderr, "sipload: unknown log level %s\n", level);
        err = EINVAL;
    }
    log_set_level(lvl);
    cfg->codec = AUDIO_CODEC_PCMU;
    if (!err && codec && audio_codec_from_name(codec, &cfg->codec)) {
        fprintf(stderr, "sipload: unknown codec %s\n", codec);
        err = EINVAL;
    }
    if (!err && (!uri || calls < 1 || calls > 100000 || rate <= 0 || duration < 0 || analyse < 0 ||
                 first < 0 || clocks < 0 || workers < 0)) {
        fprintf(stderr, "sipload: --uri is needed; --calls, --rate at least 1; see --help\n");
        err = EINVAL;
    }
    cfg->uri = uri;
    cfg->calls = (unsigned)calls;
    cfg->first_index = (unsigned)first;
    cfg->rate = rate;
    cfg->duration = duration;
    cfg->bind = bind ? bind : "sip:127.0.0.1:*";
    cfg->local_ip = local_ip ? local_ip : "127.0.0.1";
    cfg->from_user = from ? from : "sipload";
    cfg->tone_hz = tone;
    cfg->tone_step = step;
    cfg->tone_dbfs = dbfs;
    cfg->analyse = (unsigned)analyse;
    cfg->analyse_from_s = from_s;
    cfg->setup_timeout_s = setup_timeout;
    cfg->clocks = (unsigned)clocks;
    cfg->workers = (unsigned)workers;
    opt_strings[0] = uri;
    opt_strings[1] = bind;
    opt_strings[2] = local_ip;
    opt_strings[3] = from;
    g_free(codec);
    g_free(level);
    return err;
}

int main(int argc, char **argv)
{
    struct sl sl = {0};
    if (parse_args(&sl.cfg, argc, argv)) {
        for (size_t i = 0; i < G_N_ELEMENTS(opt_strings); i++)
            g_free(opt_strings[i]);
        return 2;
    }
    su_init();
    int err = media_workers_alloc(&sl.workers, sl.cfg.workers);
    if (!err)
        err = conf_mixer_alloc(&sl.mixer, sl.cfg.clocks);
    if (err) {
        fprintf(stderr, "sipload: cannot start the media threads: %s\n", strerror(err));
        return 1;
    }
    sl.loop = g_main_loop_new(NULL, FALSE);
    sl.root = su_glib_root_create(&sl);
    su_root_threading(sl.root, 0);
    sl.root_source = su_glib_root_gsource(sl.root);
    g_source_attach(sl.root_source, NULL);
    sl.nua = nua_create(sl.root, nua_cb, (nua_magic_t *)&sl, NUTAG_URL(sl.cfg.bind),
                        NUTAG_MEDIA_ENABLE(0), NUTAG_AUTOANSWER(0), NUTAG_AUTOACK(1),
                        NUTAG_ENABLEMESSAGE(0), NUTAG_ENABLEMESSENGER(0),
                        NUTAG_APPL_METHOD("OPTIONS"), SIPTAG_USER_AGENT_STR("sipload"),
                        NUTAG_OUTBOUND("no-options-keepalive no-validate"), TAG_END());
    if (!sl.nua) {
        fprintf(stderr, "sipload: cannot listen on %s\n", sl.cfg.bind);
        return 1;
    }
    sl.calls = g_new0(struct sl_call *, sl.cfg.calls);
    sl.setup_ms = g_array_new(FALSE, FALSE, sizeof(double));
    sl.heard = g_array_new(FALSE, FALSE, sizeof(struct sl_heard));
    sl.t_start = g_get_monotonic_time();
    sl.cpu_start = cpu_seconds();
    guint sigint = g_unix_signal_add(SIGINT, on_signal, &sl);
    guint sigterm = g_unix_signal_add(SIGTERM, on_signal, &sl);
    sl.report_timer = g_timeout_add_seconds(5, report, &sl);
    fprintf(stderr, "sipload: %u calls to %s, %s, %.1f per second, %.0f s each\n", sl.cfg.calls,
            sl.cfg.uri, audio_codec_name(sl.cfg.codec), sl.cfg.rate, sl.cfg.duration);
    (void)place_next(&sl);
    if (sl.placed < sl.cfg.calls && !sl.stopping)
        sl.ramp_timer = g_timeout_add((guint)MAX(1.0, 1000.0 / sl.cfg.rate), place_next, &sl);

    g_main_loop_run(sl.loop);

    if (sl.ramp_timer)
        g_source_remove(sl.ramp_timer);
    if (sl.stop_timer)
        g_source_remove(sl.stop_timer);
    if (sl.report_timer)
        g_source_remove(sl.report_timer);
    g_source_remove(sigint);
    g_source_remove(sigterm);
    for (unsigned i = 0; i < sl.cfg.calls; i++)
        sl_call_free(sl.calls[i]);
    if (sl.nua_down)
        nua_destroy(sl.nua);
    g_source_destroy(sl.root_source);
    su_root_destroy(sl.root);
    mem_deref(sl.mixer);
    mem_deref(sl.workers);
    g_array_free(sl.setup_ms, TRUE);
    g_array_free(sl.heard, TRUE);
    g_free(sl.calls);
    g_main_loop_unref(sl.loop);
    for (size_t i = 0; i < G_N_ELEMENTS(opt_strings); i++)
        g_free(opt_strings[i]);
    int rc = sl.answered == sl.cfg.calls && sl.failed == 0 ? 0 : 3;
    return rc;
}
