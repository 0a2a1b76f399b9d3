/*
 * mxload's switchboard driver (see load_matrix.h). Sending is per participant (each call's
 * events must come from its own user), receiving is shared: a thousand /sync loops on one room
 * would each carry every call's events, a thousand times the traffic of one.
 *
 * The observer's /sync is a loop of its own rather than an mx_client: set-up bursts put
 * hundreds of events into the room between two syncs, and it asks for all of them (a timeline
 * limit of 10,000) where the client's filter keeps 20. A call the bot never answers (its own
 * sync may skip invites in such a burst) is hung up and placed again, up to CALL_TRIES times.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "signalling/call_event.h"
#include "signalling/mx_client.h"
#include "tools/mxcall/load.h"
#include "tools/mxcall/load_matrix.h"

#define CALL_TRIES     3
#define ANSWER_WAIT_MS 15000

static const char OBSERVER_FILTER[] = "{\"room\":{\"timeline\":{\"limit\":10000},"
                                      "\"state\":{\"lazy_load_members\":true}},"
                                      "\"presence\":{\"not_types\":[\"*\"]}}";

struct mx_part {
    struct load_matrix *m;
    unsigned index;
    unsigned tries;
    guint retry_timer;
    char *user, *token;
    struct mx_client *mx; /* sends only */
    struct load_leg *leg;
    char call_id[40];
    char party_id[24];
    bool invited, reported, ended;
};

struct load_matrix {
    struct load *ld;
    char *homeserver, *room, *bot;
    char *obs_user, *obs_token;
    char *since;
    bool syncing;
    struct mx_part *parts;
    unsigned nparts;
    GHashTable *by_call; /* call_id -> struct mx_part * */
    bool ready, stopping;
    unsigned ended_by_bot;
};

static void matrix_destroy(void *data)
{
    struct load_matrix *m = data;
    for (unsigned i = 0; i < m->nparts; i++) {
        struct mx_part *p = &m->parts[i];
        if (p->retry_timer)
            g_source_remove(p->retry_timer);
        if (p->leg)
            load_leg_close(p->leg);
        mem_deref(p->leg);
        mem_deref(p->mx);
        g_free(p->user);
        g_free(p->token);
    }
    g_free(m->parts);
    if (m->by_call)
        g_hash_table_destroy(m->by_call);
    g_free(m->homeserver);
    g_free(m->room);
    g_free(m->bot);
    g_free(m->obs_user);
    g_free(m->obs_token);
    g_free(m->since);
}

static void report(struct mx_part *p, bool ok, const char *why)
{
    if (p->reported)
        return;
    p->reported = true;
    if (p->retry_timer) {
        g_source_remove(p->retry_timer);
        p->retry_timer = 0;
    }
    load_leg_done(p->m->ld, p->index, p->leg, ok, why);
}

static void place_call(struct mx_part *p);

/* ---- the participant's side ---- */

static void sent(int err, const char *errcode, json_t *body, void *arg)
{
    struct mx_part *p = arg;
    (void)body;
    if (err)
        report(p, false, errcode ? errcode : strerror(err));
}

static void on_ready(struct load_leg *leg, const char *sdp, void *arg)
{
    struct mx_part *p = arg;
    (void)leg;
    json_t *c = call_event_invite(p->call_id, p->party_id, sdp, 60000, p->m->bot, NULL);
    int err = mx_send_event(p->mx, p->m->room, "m.call.invite", c, sent, p);
    json_decref(c);
    if (err)
        report(p, false, "cannot send the invite");
    else
        p->invited = true;
}

static void on_candidate(struct load_leg *leg, const char *cand, void *arg)
{
    struct mx_part *p = arg;
    (void)leg;
    json_t *c = call_event_candidates(p->call_id, p->party_id, &cand, 1, "0", false);
    mx_send_event(p->mx, p->m->room, "m.call.candidates", c, NULL, NULL);
    json_decref(c);
}

static void on_state(struct load_leg *leg, bool connected, const char *why, void *arg)
{
    struct mx_part *p = arg;
    (void)leg;
    if (!connected && p->reported)
        log_warn("[load=%u] media ended: %s", p->index, why ? why : "?");
    report(p, connected, why);
}

static const struct load_leg_handlers leg_handlers = {
    .ready = on_ready,
    .candidate = on_candidate,
    .state = on_state,
};

static void hangup(struct mx_part *p)
{
    json_t *c = call_event_hangup(p->call_id, p->party_id, CALL_REASON_USER_HANGUP);
    mx_send_event(p->mx, p->m->room, "m.call.hangup", c, NULL, NULL);
    json_decref(c);
}

/* Not connected in time: hang up and call again with a new call id, or give up. */
static gboolean answer_timeout(gpointer data)
{
    struct mx_part *p = data;
    p->retry_timer = 0;
    if (p->reported)
        return G_SOURCE_REMOVE;
    if (p->invited)
        hangup(p);
    g_hash_table_remove(p->m->by_call, p->call_id);
    if (p->leg) {
        load_leg_close(p->leg);
        p->leg = mem_deref(p->leg);
    }
    p->invited = false;
    if (p->tries >= CALL_TRIES) {
        report(p, false, "not connected after every try");
        return G_SOURCE_REMOVE;
    }
    log_warn("[load=%u] not connected after %d ms: calling again", p->index, ANSWER_WAIT_MS);
    place_call(p);
    return G_SOURCE_REMOVE;
}

static void place_call(struct mx_part *p)
{
    struct load_matrix *m = p->m;
    p->tries++;
    snprintf(p->call_id, sizeof(p->call_id), "load%u-%u-%08x", p->index, p->tries, g_random_int());
    g_hash_table_insert(m->by_call, p->call_id, p);
    int err = load_leg_alloc(&p->leg, m->ld, p->index, &leg_handlers, p);
    if (err) {
        report(p, false, strerror(err));
        return;
    }
    p->retry_timer = g_timeout_add(ANSWER_WAIT_MS, answer_timeout, p);
}

static void join(void *obj, unsigned index)
{
    struct load_matrix *m = obj;
    struct mx_part *p = &m->parts[index];
    snprintf(p->party_id, sizeof(p->party_id), "LOAD%u", index);
    struct mx_client_cfg mc = {
        .homeserver = m->homeserver,
        .user_id = p->user,
        .access_token = p->token,
    };
    int err = mx_client_alloc(&p->mx, m->ld->http, &mc, NULL, NULL);
    if (err) {
        report(p, false, strerror(err));
        return;
    }
    place_call(p);
}

static void leave_all(void *obj)
{
    struct load_matrix *m = obj;
    for (unsigned i = 0; i < m->nparts; i++) {
        struct mx_part *p = &m->parts[i];
        if (p->leg)
            load_leg_close(p->leg);
        if (!p->invited || p->ended)
            continue;
        p->ended = true;
        hangup(p);
    }
    m->stopping = true;
}

static unsigned pending(void *obj)
{
    struct load_matrix *m = obj;
    unsigned n = 0;
    for (unsigned i = 0; i < m->nparts; i++)
        n += m->parts[i].mx ? mx_client_pending_sends(m->parts[i].mx) : 0;
    return n;
}

/* ---- the bot's side, through the observer ---- */

static void handle(struct load_matrix *m, json_t *event)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *sender = json_string_value(json_object_get(event, "sender"));
    enum call_event_type t;
    if (!type || !sender || strcmp(sender, m->bot) != 0 || call_event_type_parse(type, &t))
        return;
    struct call_event ev;
    char err[256];
    if (call_event_decode(&ev, t, json_object_get(event, "content"), err, sizeof(err))) {
        log_warn("malformed %s from the bot: %s", type, err);
        return;
    }
    struct mx_part *p = g_hash_table_lookup(m->by_call, ev.call_id);
    if (!p || !p->leg)
        return;
    switch (t) {
    case CALL_EV_ANSWER: {
        if (load_leg_set_answer(p->leg, ev.u.answer.sdp, err, sizeof(err))) {
            report(p, false, err);
            return;
        }
        json_t *c =
            call_event_select_answer(p->call_id, p->party_id, ev.party_id ? ev.party_id : "");
        mx_send_event(p->mx, m->room, "m.call.select_answer", c, NULL, NULL);
        json_decref(c);
        break;
    }
    case CALL_EV_CANDIDATES:
        for (size_t i = 0; i < ev.u.candidates.count; i++)
            load_leg_add_candidate(p->leg, ev.u.candidates.list[i].candidate);
        break;
    case CALL_EV_HANGUP:
    case CALL_EV_REJECT:
        if (p->reported && !p->ended) {
            p->ended = true;
            m->ended_by_bot++;
            log_warn("[load=%u] the bot ended the call", p->index);
        } else if (!p->reported && p->retry_timer) {
            p->invited = false; /* nothing to hang up */
            g_source_remove(p->retry_timer);
            answer_timeout(p);
        }
        break;
    default:
        break;
    }
}

static void sync_request(struct load_matrix *m);

static void sync_again(gpointer data)
{
    sync_request(data);
}

static void synced(const struct http_response *resp, void *arg)
{
    struct load_matrix *m = arg;
    m->syncing = false;
    json_t *body = NULL;
    if (resp->status == 200)
        body = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *next = json_string_value(json_object_get(body, "next_batch"));
    if (!next) {
        if (!m->stopping)
            log_warn("observer /sync: HTTP %ld %s", resp->status, resp->error ? resp->error : "");
        json_decref(body);
        if (!m->stopping)
            g_timeout_add_once(500, sync_again, m);
        return;
    }
    bool initial = !m->since;
    g_free(m->since);
    m->since = g_strdup(next);
    json_t *room =
        json_object_get(json_object_get(json_object_get(body, "rooms"), "join"), m->room);
    json_t *events = json_object_get(json_object_get(room, "timeline"), "events");
    size_t i;
    json_t *ev;
    if (!initial) {
        json_array_foreach(events, i, ev) handle(m, ev);
    }
    json_decref(body);
    if (initial && !m->ready) {
        m->ready = true;
        load_driver_ready(m->ld);
    }
    if (!m->stopping)
        sync_request(m);
}

static void sync_request(struct load_matrix *m)
{
    if (m->syncing)
        return;
    char *filter = http_escape(OBSERVER_FILTER);
    char *since = m->since ? http_escape(m->since) : NULL;
    char *url =
        g_strdup_printf("%s/_matrix/client/v3/sync?timeout=%d&filter=%s%s%s", m->homeserver,
                        m->since ? 10000 : 0, filter, since ? "&since=" : "", since ? since : "");
    struct http_request req = {
        .method = "GET", .url = url, .bearer_token = m->obs_token, .timeout_ms = 60000};
    if (!http_request_start(m->ld->http, &req, synced, m, NULL))
        m->syncing = true;
    g_free(url);
    g_free(filter);
    g_free(since);
}

int load_matrix_start(struct load_matrix *m)
{
    sync_request(m);
    return m->syncing ? 0 : EIO;
}

static char *jdup(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? g_strdup(s) : NULL;
}

int load_matrix_alloc(struct load_matrix **mp, struct load *ld, const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    json_t *users = json_object_get(root, "users");
    json_t *obs = json_object_get(root, "observer");
    if (!json_is_array(users) || !json_is_object(obs)) {
        fprintf(stderr, "%s: %s\n", path, root ? "wants \"users\" and \"observer\"" : je.text);
        json_decref(root);
        return EINVAL;
    }
    struct load_matrix *m = mem_zalloc(sizeof(*m), matrix_destroy);
    if (!m) {
        json_decref(root);
        return ENOMEM;
    }
    m->ld = ld;
    m->homeserver = jdup(root, "homeserver");
    m->room = jdup(root, "room");
    m->bot = jdup(root, "bot");
    m->obs_user = jdup(obs, "user");
    m->obs_token = jdup(obs, "token");
    m->by_call = g_hash_table_new(g_str_hash, g_str_equal);
    size_t n = json_array_size(users);
    if (!ld->cfg.n || ld->cfg.n > n)
        ld->cfg.n = (unsigned)n;
    m->nparts = ld->cfg.n;
    m->parts = g_new0(struct mx_part, m->nparts ? m->nparts : 1);
    int err = 0;
    for (unsigned i = 0; i < m->nparts; i++) {
        json_t *u = json_array_get(users, i);
        m->parts[i] = (struct mx_part){.m = m, .index = i};
        m->parts[i].user = jdup(u, "user");
        m->parts[i].token = jdup(u, "token");
        if (!m->parts[i].user || !m->parts[i].token)
            err = EINVAL;
    }
    json_decref(root);
    if (err || !m->homeserver || !m->room || !m->bot || !m->obs_user || !m->obs_token ||
        !m->nparts) {
        fprintf(stderr,
                "%s: homeserver, room, bot, observer {user, token} and users [{user, "
                "token}] are required\n",
                path);
        mem_deref(m);
        return EINVAL;
    }
    ld->drv =
        (struct load_driver){.obj = m, .join = join, .leave_all = leave_all, .pending = pending};
    *mp = m;
    return 0;
}
