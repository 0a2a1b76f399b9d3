/*
 * mxcall command line. One party from options, or many from a JSON file:
 *
 *   mxcall --homeserver URL --user @a:hs --password PW --call '!room:hs' [--invitee @bot:hs]
 *          --tone 440 --probe 550,660 --duration 10
 *   mxcall --homeserver URL --user @a:hs --password PW --answer [--say '!call' --say-room R]
 *   mxcall --homeserver URL --parties parties.json
 *
 * parties.json: {"parties": [{"user": "...", "password": "...", "call": "!r:hs", "tone": 440,
 * "probes": [550, 660], "duration": 10, ...}, ...]} with the same names as the options.
 *
 * Output: JSON lines on stdout ("connected", "status", "result" events). Exit status 0 when
 * every party succeeded (connected, and stayed for its duration or until the peer ended it).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <glib.h>

#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "media/dtls.h"
#include "media/worker.h"
#include "tools/mxcall/mxcall.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: mxcall --homeserver URL [options] (--parties FILE | party options)\n"
        "party options:\n"
        "  --user ID --password PW | --token TOKEN   who (token needs the full user id)\n"
        "  --call ROOM [--invitee USER]              place a call\n"
        "  --answer [--reject]                       answer (or reject) the first call\n"
        "  --say TEXT [--say-room ROOM]              send a text message first\n"
        "  --tone HZ [--tone-dbfs DB]                send a sine (default -20 dBFS)\n"
        "  --wav FILE                                send a WAV file, looped\n"
        "  --record FILE                             record what is heard (48 kHz WAV)\n"
        "  --probe HZ[,HZ...]                        measure these tones in what is heard\n"
        "  --duration S                              hang up after S s connected\n"
        "                                            (0: wait for the peer to hang up)\n"
        "  --measure-from S --measure-to S           analysis window from connection\n"
        "                                            (default 2 s to the end; JSON: \"windows\":\n"
        "                                            [[from, to], ...], up to 4)\n"
        "  --hold-at S [--resume-at S]               hold the peer (m.call.negotiate with\n"
        "                                            a=sendonly) S s after connection, resume\n"
        "                                            (a=sendrecv) later (JSON: hold_at,\n"
        "                                            resume_at)\n"
        "  --dtmf S:DIGITS [--dtmf-ms MS]            send DIGITS (0-9 * # A-D, up to 16) as\n"
        "                                            RFC 4733 events S s after connection, each\n"
        "                                            MS long (default 120); repeatable (JSON:\n"
        "                                            \"dtmf\": [[S, \"DIGITS\"], ...], dtmf_ms).\n"
        "                                            Digits heard print as \"dtmf\" events\n"
        "options:\n"
        "  --timeout S          fail parties not connected after S s (default 30)\n"
        "  --media-ip IP        host candidate address (default 127.0.0.1)\n"
        "  --ports MIN-MAX      media port range (default 30000-39999)\n"
        "  --status-interval MS print status lines (default 0: none)\n"
        "  --log-level LEVEL    error|warn|info|debug (default warn)\n");
}

static int parse_probes(struct party_cfg *pc, const char *s)
{
    char **parts = g_strsplit(s, ",", -1);
    pc->nprobes = 0;
    for (char **q = parts; *q && pc->nprobes < TONE_MAX_PROBES; q++)
        pc->probes[pc->nprobes++] = g_ascii_strtod(*q, NULL);
    g_strfreev(parts);
    return 0;
}

/* One entry of a party's DTMF schedule; EINVAL (said on stderr) for a bad one. */
static int add_dtmf(struct party_cfg *pc, double at, const char *digits)
{
    size_t n = digits ? strlen(digits) : 0;
    if (pc->ndtmf == MXCALL_MAX_DTMF || at < 0 || n == 0 || n > MXCALL_DTMF_DIGITS ||
        strspn(digits, "0123456789*#ABCD") != n ||
        (pc->ndtmf && at < pc->dtmf[pc->ndtmf - 1].at_s)) {
        fprintf(stderr,
                "bad dtmf entry %g \"%s\": at most %d entries in time order, each 1 to %d of "
                "0-9 * # A-D\n",
                at, digits ? digits : "", MXCALL_MAX_DTMF, MXCALL_DTMF_DIGITS);
        return EINVAL;
    }
    pc->dtmf[pc->ndtmf].at_s = at;
    memcpy(pc->dtmf[pc->ndtmf].digits, digits, n + 1);
    pc->ndtmf++;
    return 0;
}

static int parse_dtmf_opt(struct party_cfg *pc, const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon) {
        fprintf(stderr, "bad --dtmf %s: S:DIGITS\n", s);
        return EINVAL;
    }
    return add_dtmf(pc, g_ascii_strtod(s, NULL), colon + 1);
}

static struct party_cfg *party_cfg_new(void)
{
    struct party_cfg *pc = g_new0(struct party_cfg, 1);
    pc->tone_dbfs = -20.0;
    pc->duration_s = 10;
    return pc;
}

static char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? g_strdup(s) : NULL;
}

static double jnum(json_t *o, const char *k, double def)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : def;
}

static int load_parties(struct mxcall *app, const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    json_t *arr = json_object_get(root, "parties");
    if (!json_is_array(arr)) {
        fprintf(stderr, "%s: %s\n", path, root ? "no \"parties\" array" : je.text);
        json_decref(root);
        return EINVAL;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        struct party_cfg *pc = party_cfg_new();
        pc->user = jstr(o, "user");
        pc->password = jstr(o, "password");
        pc->token = jstr(o, "token");
        pc->call_room = jstr(o, "call");
        pc->invitee = jstr(o, "invitee");
        pc->answer = json_is_true(json_object_get(o, "answer"));
        pc->reject = json_is_true(json_object_get(o, "reject"));
        pc->say = jstr(o, "say");
        pc->say_room = jstr(o, "say_room");
        pc->tone_hz = jnum(o, "tone", 0);
        pc->tone_dbfs = jnum(o, "tone_dbfs", -20);
        pc->wav = jstr(o, "wav");
        pc->record = jstr(o, "record");
        pc->duration_s = jnum(o, "duration", 10);
        pc->hold_at_s = jnum(o, "hold_at", 0);
        pc->resume_at_s = jnum(o, "resume_at", 0);
        pc->corrupt_fingerprint = json_is_true(json_object_get(o, "corrupt_fingerprint"));
        pc->dtmf_ms = (unsigned)jnum(o, "dtmf_ms", 0);
        size_t e;
        json_t *ent;
        json_array_foreach(json_object_get(o, "dtmf"), e, ent)
        {
            json_t *at = json_array_get(ent, 0);
            if (json_array_size(ent) != 2 || !json_is_number(at) ||
                add_dtmf(pc, json_number_value(at), json_string_value(json_array_get(ent, 1)))) {
                fprintf(stderr, "%s: party %zu: \"dtmf\" wants [[seconds, \"digits\"], ...]\n",
                        path, i);
                json_decref(root);
                return EINVAL;
            }
        }
        json_t *wins = json_object_get(o, "windows");
        size_t w;
        json_t *win;
        json_array_foreach(wins, w, win)
        {
            if (pc->nwindows < MXCALL_MAX_WINDOWS && json_array_size(win) == 2) {
                pc->windows[pc->nwindows].from_s = json_number_value(json_array_get(win, 0));
                pc->windows[pc->nwindows].to_s = json_number_value(json_array_get(win, 1));
                pc->nwindows++;
            }
        }
        json_t *pr = json_object_get(o, "probes");
        size_t k;
        json_t *f;
        json_array_foreach(pr, k, f)
        {
            if (pc->nprobes < TONE_MAX_PROBES && json_is_number(f))
                pc->probes[pc->nprobes++] = json_number_value(f);
        }
        g_ptr_array_add(app->parties, pc);
    }
    json_decref(root);
    return 0;
}

static int check_party(const struct party_cfg *pc, unsigned i)
{
    if (!pc->user || (!pc->password && !pc->token)) {
        fprintf(stderr, "party %u: user and password (or token) are required\n", i);
        return EINVAL;
    }
    if (!pc->call_room == !pc->answer) {
        fprintf(stderr, "party %u: give exactly one of call and answer\n", i);
        return EINVAL;
    }
    return 0;
}

static void party_unref(gpointer p)
{
    mem_deref(p);
}

void mxcall_party_done(struct mxcall *app)
{
    if (++app->done == app->party_objs->len)
        g_main_loop_quit(app->loop);
}

static gboolean on_signal(gpointer data)
{
    struct mxcall *app = data;
    for (guint i = 0; i < app->party_objs->len; i++)
        party_finish(g_ptr_array_index(app->party_objs, i), "signal");
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    enum {
        O_HS = 256,
        O_USER,
        O_PASSWORD,
        O_TOKEN,
        O_CALL,
        O_INVITEE,
        O_ANSWER,
        O_REJECT,
        O_SAY,
        O_SAY_ROOM,
        O_TONE,
        O_TONE_DBFS,
        O_WAV,
        O_RECORD,
        O_PROBE,
        O_DURATION,
        O_FROM,
        O_TO,
        O_HOLD_AT,
        O_RESUME_AT,
        O_DTMF,
        O_DTMF_MS,
        O_CORRUPT_FP,
        O_TIMEOUT,
        O_IP,
        O_PORTS,
        O_STATUS,
        O_LOG,
        O_PARTIES,
        O_HELP,
    };
    static const struct option opts[] = {
        {"homeserver", required_argument, 0, O_HS},
        {"user", required_argument, 0, O_USER},
        {"password", required_argument, 0, O_PASSWORD},
        {"token", required_argument, 0, O_TOKEN},
        {"call", required_argument, 0, O_CALL},
        {"invitee", required_argument, 0, O_INVITEE},
        {"answer", no_argument, 0, O_ANSWER},
        {"reject", no_argument, 0, O_REJECT},
        {"say", required_argument, 0, O_SAY},
        {"say-room", required_argument, 0, O_SAY_ROOM},
        {"tone", required_argument, 0, O_TONE},
        {"tone-dbfs", required_argument, 0, O_TONE_DBFS},
        {"wav", required_argument, 0, O_WAV},
        {"record", required_argument, 0, O_RECORD},
        {"probe", required_argument, 0, O_PROBE},
        {"duration", required_argument, 0, O_DURATION},
        {"measure-from", required_argument, 0, O_FROM},
        {"measure-to", required_argument, 0, O_TO},
        {"hold-at", required_argument, 0, O_HOLD_AT},
        {"resume-at", required_argument, 0, O_RESUME_AT},
        {"dtmf", required_argument, 0, O_DTMF},
        {"dtmf-ms", required_argument, 0, O_DTMF_MS},
        {"corrupt-fingerprint", no_argument, 0, O_CORRUPT_FP}, /* tests only: not in usage() */
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"media-ip", required_argument, 0, O_IP},
        {"ports", required_argument, 0, O_PORTS},
        {"status-interval", required_argument, 0, O_STATUS},
        {"log-level", required_argument, 0, O_LOG},
        {"parties", required_argument, 0, O_PARTIES},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };

    struct mxcall app = {0};
    app.parties = g_ptr_array_new();
    app.timeout_s = 30;
    const char *media_ip = "127.0.0.1";
    unsigned port_min = 30000, port_max = 39999;
    const char *parties_file = NULL;
    struct party_cfg *one = party_cfg_new();
    bool one_used = false;
    enum log_level level = LOG_LVL_WARN;

    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c >= O_USER && c <= O_CORRUPT_FP)
            one_used = true;
        switch (c) {
        case O_HS:
            app.homeserver = optarg;
            break;
        case O_USER:
            one->user = g_strdup(optarg);
            break;
        case O_PASSWORD:
            one->password = g_strdup(optarg);
            break;
        case O_TOKEN:
            one->token = g_strdup(optarg);
            break;
        case O_CALL:
            one->call_room = g_strdup(optarg);
            break;
        case O_INVITEE:
            one->invitee = g_strdup(optarg);
            break;
        case O_ANSWER:
            one->answer = true;
            break;
        case O_REJECT:
            one->reject = true;
            break;
        case O_SAY:
            one->say = g_strdup(optarg);
            break;
        case O_SAY_ROOM:
            one->say_room = g_strdup(optarg);
            break;
        case O_TONE:
            one->tone_hz = atof(optarg);
            break;
        case O_TONE_DBFS:
            one->tone_dbfs = atof(optarg);
            break;
        case O_WAV:
            one->wav = g_strdup(optarg);
            break;
        case O_RECORD:
            one->record = g_strdup(optarg);
            break;
        case O_PROBE:
            parse_probes(one, optarg);
            break;
        case O_DURATION:
            one->duration_s = atof(optarg);
            break;
        case O_FROM:
            one->windows[0].from_s = atof(optarg);
            break;
        case O_TO:
            one->windows[0].to_s = atof(optarg);
            break;
        case O_HOLD_AT:
            one->hold_at_s = atof(optarg);
            break;
        case O_RESUME_AT:
            one->resume_at_s = atof(optarg);
            break;
        case O_DTMF:
            if (parse_dtmf_opt(one, optarg))
                return 2;
            break;
        case O_DTMF_MS:
            one->dtmf_ms = (unsigned)atoi(optarg);
            break;
        case O_CORRUPT_FP:
            one->corrupt_fingerprint = true;
            break;
        case O_TIMEOUT:
            app.timeout_s = atof(optarg);
            break;
        case O_IP:
            media_ip = optarg;
            break;
        case O_PORTS:
            if (sscanf(optarg, "%u-%u", &port_min, &port_max) != 2 || port_min > port_max ||
                port_max > 65535) {
                fprintf(stderr, "bad --ports %s\n", optarg);
                return 2;
            }
            break;
        case O_STATUS:
            app.status_ms = (unsigned)atoi(optarg);
            break;
        case O_LOG:
            if (log_level_parse(optarg, &level)) {
                fprintf(stderr, "bad --log-level %s\n", optarg);
                return 2;
            }
            break;
        case O_PARTIES:
            parties_file = optarg;
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    log_set_level(level);
    if (!app.homeserver || optind != argc || (parties_file && one_used)) {
        usage(stderr);
        return 2;
    }
    if (parties_file) {
        if (load_parties(&app, parties_file))
            return 2;
    } else {
        g_ptr_array_add(app.parties, one);
    }
    for (guint i = 0; i < app.parties->len; i++) {
        struct party_cfg *pc = g_ptr_array_index(app.parties, i);
        if (check_party(pc, i))
            return 2;
        if (!pc->nwindows) { /* the default window: all but the first 2 s */
            if (pc->windows[0].from_s == 0 && pc->windows[0].to_s == 0)
                pc->windows[0].from_s = 2;
            pc->nwindows = 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    int err = dtls_identity_alloc(&app.identity);
    if (!err)
        err = media_workers_alloc(&app.workers, 0);
    if (!err)
        err = conf_mixer_alloc(&app.mixer, 1);
    if (!err)
        err = http_client_alloc(&app.http, NULL);
    if (err) {
        fprintf(stderr, "mxcall: cannot start: %s\n", strerror(err));
        return 1;
    }
    app.env = (struct call_env){
        .workers = app.workers,
        .media =
            {
                .local_ip = media_ip,
                .port_min = (uint16_t)port_min,
                .port_max = (uint16_t)port_max,
                .identity = app.identity,
                .connect_timeout_ms = (uint32_t)(app.timeout_s * 1000),
                .opus_complexity = -1,
            },
        .invite_lifetime_ms = 60000,
        .media_timeout_ms = 30000,
        .gather_wait_ms = 200,
    };

    app.loop = g_main_loop_new(NULL, FALSE);
    app.party_objs = g_ptr_array_new_with_free_func(party_unref);
    for (guint i = 0; i < app.parties->len; i++) {
        struct party *p;
        if (party_alloc(&p, &app, g_ptr_array_index(app.parties, i), i))
            return 1;
        g_ptr_array_add(app.party_objs, p);
    }
    guint s1 = g_unix_signal_add(SIGTERM, on_signal, &app);
    guint s2 = g_unix_signal_add(SIGINT, on_signal, &app);
    for (guint i = 0; i < app.party_objs->len; i++)
        party_start(g_ptr_array_index(app.party_objs, i));
    if (app.done < app.party_objs->len)
        g_main_loop_run(app.loop);

    bool all_ok = true;
    for (guint i = 0; i < app.party_objs->len; i++)
        all_ok = all_ok && party_succeeded(g_ptr_array_index(app.party_objs, i));
    /* Let the last hangups leave before the clients go. */
    int64_t deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    for (;;) {
        unsigned pending = 0;
        for (guint i = 0; i < app.party_objs->len; i++)
            pending += party_pending_sends(g_ptr_array_index(app.party_objs, i));
        if (!pending || g_get_monotonic_time() >= deadline)
            break;
        g_main_context_iteration(NULL, TRUE);
    }

    g_source_remove(s1);
    g_source_remove(s2);
    g_ptr_array_free(app.party_objs, TRUE);
    mem_deref(app.http);
    mem_deref(app.mixer);
    mem_deref(app.workers);
    mem_deref(app.identity);
    g_main_loop_unref(app.loop);
    return all_ok ? 0 : 1;
}
