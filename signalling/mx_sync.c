/*
 * The /sync loop: upload the filter once, then long-poll, hand each batch to the handlers in
 * order, and only then persist its next_batch, so that after a crash or restart a batch is
 * either handled again in full or never seen again, not half of each.
 *
 * Failures never spin: network errors and 5xx back off exponentially with jitter, a 429 waits
 * what the server asked, a rejected access token waits a minute (an operator has to act), and
 * each change of state is logged once ("homeserver unreachable ..." / "... reachable again")
 * rather than once per attempt. A saved token that the homeserver still refuses once the filter
 * was uploaded afresh is dropped: the sync starts afresh rather than never again.
 *
 * A limited timeline in a room we follow holds the batch until its gap was fetched with
 * /messages (mx_gap.c): the gap's events are handed out first, and only then the batch's token
 * saved.
 *
 * The token file is written synchronously (temp file, fsync, rename): it is a few bytes once
 * per batch, and doing it before the next /sync is what makes the resume exact.
 */
#include "signalling/mx_internal.h"

#include "base/log.h"
#include "base/statefile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Timelines long enough for a burst of calls (a longer gap is fetched, see mx_gap.c) and
 * every member's state, which the room model needs to count who is in a call's room. */
static const char FILTER_JSON[] = "{\"room\":{\"timeline\":" MX_TIMELINE_FILTER_JSON ","
                                  "\"state\":{\"lazy_load_members\":false}},"
                                  "\"presence\":{\"not_types\":[\"*\"]}}";

enum {
    SYNC_BACKOFF_MAX_MS = 60000,
    TOKEN_RETRY_MS = 60000,
    INITIAL_SYNC_HTTP_TIMEOUT_MS = 180000,
};

static void sync_request(struct mx_client *c);
static void filter_upload(struct mx_client *c);

bool mx_valid_token(const char *t)
{
    if (!t || !t[0] || strlen(t) > MX_TOKEN_MAX)
        return false;
    for (; *t; t++) {
        if (!g_ascii_isgraph(*t))
            return false;
    }
    return true;
}

/* --- next_batch persistence --- */

#define TOKEN_FILE "sync_token"

static void token_load(struct mx_client *c)
{
    if (!c->state_dir)
        return;
    char *data = NULL;
    size_t len = 0;
    int err = statefile_read(c->state_dir, TOKEN_FILE, MX_TOKEN_MAX + 2, &data, &len);
    if (err == EFBIG) {
        log_warn("mx: %s/%s is too large to be a sync token; starting afresh", c->state_dir,
                 TOKEN_FILE);
    } else if (err) {
        if (err != ENOENT)
            log_warn("mx: cannot read %s/%s: %s; starting afresh", c->state_dir, TOKEN_FILE,
                     g_strerror(err));
    } else {
        if (memchr(data, '\0', len))
            data[0] = '\0'; /* embedded NUL: garbage */
        g_strstrip(data);
        if (mx_valid_token(data)) {
            g_free(c->since);
            c->since = g_strdup(data);
            log_info("mx: resuming sync from the saved token");
        } else {
            log_warn("mx: %s/%s does not hold a valid sync token; starting afresh", c->state_dir,
                     TOKEN_FILE);
        }
    }
    g_free(data);
}

static void token_save(struct mx_client *c, const char *tok)
{
    if (!c->state_dir)
        return;
    char *line = g_strconcat(tok, "\n", NULL);
    int err = statefile_write(c->state_dir, TOKEN_FILE, line, strlen(line));
    if (err)
        log_error("mx: cannot save the sync token to %s/%s: %s", c->state_dir, TOKEN_FILE,
                  g_strerror(err));
    g_free(line);
}

/* --- failure handling --- */

static gboolean sync_timer_fired(gpointer data)
{
    struct mx_client *c = data;
    g_source_unref(c->sync_timer);
    c->sync_timer = NULL;
    if (!c->running)
        return G_SOURCE_REMOVE;
    if (c->gap)
        mx_gap_resume(c);
    else if (!c->filter)
        filter_upload(c);
    else
        sync_request(c);
    return G_SOURCE_REMOVE;
}

static uint32_t next_backoff(struct mx_client *c)
{
    if (!c->sync_backoff_ms)
        c->sync_backoff_ms = c->sync_retry.min_ms;
    uint32_t d = mx_jitter(c->sync_backoff_ms);
    c->sync_backoff_ms = c->sync_backoff_ms * 2 > c->sync_retry.max_ms ? c->sync_retry.max_ms
                                                                       : c->sync_backoff_ms * 2;
    return d;
}

static void sync_backoff(struct mx_client *c, enum mx_sync_state st, uint32_t delay,
                         const char *why)
{
    char d[32];
    mx_delay_str(delay, d);
    if (st == c->sync_state) {
        log_debug("mx: /sync still failing (%s), retrying in %s", why, d);
    } else {
        switch (st) {
        case MX_SYNC_TOKEN_REJECTED:
            log_error("mx: the homeserver rejected the access token of %s (%s); retrying in %s",
                      c->user_id, why, d);
            break;
        case MX_SYNC_RATE_LIMITED:
            log_warn("mx: homeserver rate-limits /sync (%s), retrying in %s", why, d);
            break;
        case MX_SYNC_REFUSED:
            log_error("mx: homeserver refuses /sync (%s), retrying in %s", why, d);
            break;
        default:
            log_warn("mx: homeserver unreachable (%s), retrying in %s", why, d);
            break;
        }
    }
    c->sync_state = st;
    mx_timer_stop(&c->sync_timer);
    c->sync_timer = mx_timer_start(c, delay, sync_timer_fired, c);
}

void mx_sync_failed(struct mx_client *c, const struct http_response *resp)
{
    json_t *ebody;
    char errcode[MX_ERRCODE_MAX + 1];
    long ra;
    char why[192];
    mx_parse_error(resp, &ebody, errcode, &ra);
    json_decref(ebody);
    if (resp->status)
        snprintf(why, sizeof(why), "HTTP %ld%s%s", resp->status, errcode[0] ? " " : "", errcode);
    else
        snprintf(why, sizeof(why), "%s", resp->error ? resp->error : "network error");

    uint32_t asked = ra < 0 ? 0 : ra < MX_RETRY_FLOOR_MS ? MX_RETRY_FLOOR_MS : (uint32_t)ra;
    if (resp->status == 401 && strcmp(errcode, "M_UNKNOWN_TOKEN") == 0) {
        sync_backoff(c, MX_SYNC_TOKEN_REJECTED, c->token_retry_ms, why);
    } else if (resp->status == 429) {
        sync_backoff(c, MX_SYNC_RATE_LIMITED, asked ? asked : next_backoff(c), why);
    } else if (resp->status == 0 || mx_transient(resp)) {
        sync_backoff(c, MX_SYNC_UNREACHABLE, asked ? asked : next_backoff(c), why);
    } else if (resp->status == 400 && c->since && ++c->sync_refused >= 2) {
        /* Refused again with a freshly uploaded filter: it is the saved token the homeserver
         * does not know (another homeserver's, or from a database since restored). Synapse
         * says M_UNKNOWN "Invalid stream token"; retrying it forever would leave us deaf. */
        log_warn("mx: the homeserver refuses our sync token (%s): starting afresh; what "
                 "happened while we were away is not acted on",
                 why);
        g_free(c->since);
        c->since = NULL;
        c->sync_refused = 0;
        sync_request(c);
    } else {
        /* A homeserver that lost our filter (restored, migrated) refuses its id: upload it
         * again on the next attempt. */
        g_free(c->filter);
        c->filter = NULL;
        sync_backoff(c, MX_SYNC_REFUSED, next_backoff(c), why);
    }
}

void mx_sync_recovered(struct mx_client *c)
{
    if (c->sync_state != MX_SYNC_OK)
        log_info("mx: homeserver reachable again");
    c->sync_state = MX_SYNC_OK;
    c->sync_backoff_ms = 0;
}

/* A request that could not even start: back off as for a network error. */
static void start_failed(struct mx_client *c, int err)
{
    struct http_response r = {.status = 0, .err = err, .error = g_strerror(err), .body = ""};
    r.retry_after_ms = -1;
    mx_sync_failed(c, &r);
}

/* --- filter --- */

static void filter_done(const struct http_response *resp, void *arg)
{
    struct mx_client *c = arg;
    c->sync_call = NULL;
    if (resp->status >= 200 && resp->status < 300) {
        json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "filter_id"));
        if (id && strlen(id) <= MX_ID_MAX && mx_valid_token(id)) {
            c->filter = g_strdup(id);
            json_decref(j);
            log_debug("mx: filter %s uploaded", c->filter);
            /* After a refused /sync the filter was only a suspect: the backoff keeps growing
             * until a /sync is accepted. */
            if (c->sync_state != MX_SYNC_REFUSED)
                mx_sync_recovered(c);
            sync_request(c);
            return;
        }
        json_decref(j);
        struct http_response bad = *resp;
        bad.status = 0;
        bad.error = "filter upload answered without a filter_id";
        mx_sync_failed(c, &bad);
        return;
    }
    json_t *ebody;
    char errcode[MX_ERRCODE_MAX + 1];
    long ra;
    mx_parse_error(resp, &ebody, errcode, &ra);
    json_decref(ebody);
    if (mx_transient(resp) || strcmp(errcode, "M_UNKNOWN_TOKEN") == 0) {
        mx_sync_failed(c, resp);
        return;
    }
    /* /sync takes the filter inline just as well. */
    log_warn("mx: filter upload refused (HTTP %ld %s); sending the filter with each /sync",
             resp->status, errcode);
    c->filter = g_strdup(FILTER_JSON);
    sync_request(c);
}

static void filter_upload(struct mx_client *c)
{
    char *euser = http_escape(c->user_id);
    char *url = g_strdup_printf("%s/_matrix/client/v3/user/%s/filter", c->hs, euser);
    g_free(euser);
    struct http_request req = {
        .method = "POST",
        .url = url,
        .body = FILTER_JSON,
        .body_len = sizeof(FILTER_JSON) - 1,
        .bearer_token = c->token,
        .timeout_ms = 60000,
    };
    int err = http_request_start(c->http, &req, filter_done, c, &c->sync_call);
    g_free(url);
    if (err)
        start_failed(c, err);
}

/* --- batches --- */

static bool room_id_ok(const char *room_id, json_t *v)
{
    if (mx_valid_id(room_id, '!') && json_is_object(v))
        return true;
    log_warn("mx: /sync: skipping a room with an invalid id or body");
    return false;
}

static json_t *events_of(json_t *room, const char *section)
{
    json_t *evs = json_object_get(json_object_get(room, section), "events");
    return json_is_array(evs) ? evs : NULL;
}

/* Applies and hands out timeline events in order, but none whose id is in skip. Returns false
 * when a handler freed the client. */
static bool dispatch(struct mx_client *c, struct mx_guard *g, struct mx_room *r,
                     const char *room_id, json_t *evs, GHashTable *skip,
                     const struct mx_sync_info *si)
{
    char ctx[MX_ID_MAX + 8];
    snprintf(ctx, sizeof(ctx), "room=%s", room_id);
    json_t *ev;
    size_t i;
    json_array_foreach(evs, i, ev)
    {
        if (!json_is_object(ev) || !json_is_string(json_object_get(ev, "type"))) {
            logc_warn(ctx, "mx: skipping a timeline event without a type");
            continue;
        }
        const char *eid = json_string_value(json_object_get(ev, "event_id"));
        if (eid && skip && g_hash_table_contains(skip, eid))
            continue;
        mx_rooms_apply(c, r, ev);
        if (mx_valid_id(eid, '$'))
            mx_rooms_set_last_event(r, eid);
        if (c->h.room_event) {
            c->h.room_event(c, room_id, ev, si, c->arg);
            if (!g->alive)
                return false;
        }
    }
    return true;
}

/* The ids of the timeline's events, which the gap must not hand out a second time. */
static GHashTable *timeline_ids(json_t *tl_events)
{
    GHashTable *ids = g_hash_table_new(g_str_hash, g_str_equal);
    json_t *ev;
    size_t i;
    json_array_foreach(tl_events, i, ev)
    {
        const char *eid = json_string_value(json_object_get(ev, "event_id"));
        if (eid)
            g_hash_table_add(ids, (gpointer)eid);
    }
    return ids;
}

/* gap: the events between the previous batch and this timeline, oldest first, when the
 * timeline was limited and the gap was fetched. Returns false when a handler freed the
 * client. */
static bool handle_join(struct mx_client *c, struct mx_guard *g, const char *room_id, json_t *v,
                        const struct mx_sync_info *si, json_t *gap)
{
    char ctx[MX_ID_MAX + 8];
    snprintf(ctx, sizeof(ctx), "room=%s", room_id);
    struct mx_room *r = mx_rooms_get(c, room_id, false);
    bool newly_joined = !r || mx_room_self(c, r) != MX_MEMBERSHIP_JOIN;
    if (r && mx_room_self(c, r) == MX_MEMBERSHIP_INVITE) {
        /* What we knew came from the stripped invite state: the full state replaces it. */
        mx_rooms_drop(c, room_id);
        r = NULL;
    }
    if (!r)
        r = mx_rooms_get(c, room_id, true);

    json_t *tl = json_object_get(v, "timeline");
    json_t *tl_events = events_of(v, "timeline");
    if (gap && json_array_size(gap)) {
        /* Before the state section: that is the state at the start of the timeline, after the
         * gap, so applying it next leaves the model as the timeline's first event expects. */
        GHashTable *skip = timeline_ids(tl_events);
        bool alive = dispatch(c, g, r, room_id, gap, skip, si);
        g_hash_table_destroy(skip);
        if (!alive)
            return false;
    }

    json_t *ev;
    size_t i;
    json_array_foreach(events_of(v, "state"), i, ev)
    {
        mx_rooms_apply(c, r, ev);
    }
    mx_rooms_set_membership(r, c->user_id, MX_MEMBERSHIP_JOIN);

    /* A room joined since the last batch comes with a window of its history, which Synapse
     * always marks limited: only a gap in a room we were following loses anything, and that
     * gap was fetched unless the homeserver gave no prev_batch to fetch it from. */
    if (!si->initial && !newly_joined && !gap && json_is_true(json_object_get(tl, "limited")))
        logc_warn(ctx, "mx: /sync timeline was limited without a prev_batch: earlier events "
                       "were skipped");
    return dispatch(c, g, r, room_id, tl_events, NULL, si);
}

static bool handle_invite(struct mx_client *c, struct mx_guard *g, const char *room_id, json_t *v,
                          const struct mx_sync_info *si)
{
    char ctx[MX_ID_MAX + 8];
    snprintf(ctx, sizeof(ctx), "room=%s", room_id);
    struct mx_room *r = mx_rooms_get(c, room_id, true);
    bool known = mx_room_self(c, r) == MX_MEMBERSHIP_INVITE;
    const char *inviter = NULL;
    json_t *ev;
    size_t i;
    json_array_foreach(events_of(v, "invite_state"), i, ev)
    {
        mx_rooms_apply(c, r, ev);
        const char *type = json_string_value(json_object_get(ev, "type"));
        const char *skey = json_string_value(json_object_get(ev, "state_key"));
        const char *ms =
            json_string_value(json_object_get(json_object_get(ev, "content"), "membership"));
        const char *sender = json_string_value(json_object_get(ev, "sender"));
        if (type && skey && ms && strcmp(type, "m.room.member") == 0 &&
            strcmp(skey, c->user_id) == 0 && strcmp(ms, "invite") == 0 && mx_valid_id(sender, '@'))
            inviter = sender;
    }
    mx_rooms_set_membership(r, c->user_id, MX_MEMBERSHIP_INVITE);
    if (!inviter) {
        logc_warn(ctx, "mx: invite without an invite member event for us; ignored");
        return true;
    }
    if (known)
        return true; /* already reported */
    logc_info(ctx, "mx: invited by %s", inviter);
    if (c->h.invited) {
        c->h.invited(c, room_id, inviter, si, c->arg);
        if (!g->alive)
            return false;
    }
    return true;
}

static bool handle_batch(struct mx_client *c, json_t *root, GHashTable *gaps)
{
    struct mx_sync_info si = {.initial = c->req_initial};
    struct mx_guard g;
    mx_guard_enter(c, &g);
    json_t *rooms = json_object_get(root, "rooms");
    const char *room_id;
    json_t *v;

    json_object_foreach(json_object_get(rooms, "leave"), room_id, v)
    {
        if (!room_id_ok(room_id, v) || !mx_rooms_get(c, room_id, false))
            continue;
        logc_info(NULL, "mx: left room %s", room_id);
        mx_rooms_drop(c, room_id);
        if (c->h.left) {
            c->h.left(c, room_id, &si, c->arg);
            if (!g.alive)
                return false;
        }
    }
    json_object_foreach(json_object_get(rooms, "join"), room_id, v)
    {
        json_t *gap = gaps ? g_hash_table_lookup(gaps, room_id) : NULL;
        if (room_id_ok(room_id, v) && !handle_join(c, &g, room_id, v, &si, gap))
            return false;
    }
    json_object_foreach(json_object_get(rooms, "invite"), room_id, v)
    {
        if (room_id_ok(room_id, v) && !handle_invite(c, &g, room_id, v, &si))
            return false;
    }
    if (c->h.synced) {
        c->h.synced(c, &si, c->arg);
        if (!g.alive)
            return false;
    }
    return mx_guard_leave(c, &g);
}

bool mx_sync_feed(struct mx_client *c, const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    if (!json_is_object(root) ||
        !mx_valid_token(json_string_value(json_object_get(root, "next_batch")))) {
        json_decref(root);
        return true;
    }
    c->in_batch = true;
    bool alive = handle_batch(c, root, NULL);
    json_decref(root);
    if (alive)
        c->in_batch = false;
    return alive;
}

void mx_sync_handle(struct mx_client *c, json_t *root, char *next, GHashTable *gaps)
{
    c->in_batch = true;
    bool alive = handle_batch(c, root, gaps);
    json_decref(root);
    if (gaps)
        g_hash_table_destroy(gaps);
    if (!alive) {
        g_free(next);
        return;
    }
    c->in_batch = false;
    token_save(c, next);
    g_free(c->since);
    c->since = next;
    if (c->running)
        sync_request(c);
}

static void sync_done(const struct http_response *resp, void *arg)
{
    struct mx_client *c = arg;
    c->sync_call = NULL;
    if (resp->status < 200 || resp->status >= 300) {
        mx_sync_failed(c, resp);
        return;
    }
    json_error_t jerr;
    json_t *root = json_loadb(resp->body, resp->body_len, 0, &jerr);
    const char *nb = json_string_value(json_object_get(root, "next_batch"));
    if (!json_is_object(root) || !mx_valid_token(nb)) {
        json_decref(root);
        struct http_response bad = *resp;
        bad.status = 0;
        bad.error = "malformed /sync response";
        mx_sync_failed(c, &bad);
        return;
    }
    mx_sync_recovered(c);
    c->sync_refused = 0;
    char *next = g_strdup(nb);
    /* A limited timeline in a room we follow: its gap is fetched first, and the batch (and
     * its token) waits for it. */
    if (mx_gap_begin(c, root, next, c->req_initial))
        return;
    mx_sync_handle(c, root, next, NULL);
}

static void sync_request(struct mx_client *c)
{
    if (c->sync_call || c->sync_timer || c->gap)
        return;
    c->req_initial = c->since == NULL;
    uint32_t timeout = c->req_initial ? 0 : c->sync_timeout_ms;
    char *efilter = http_escape(c->filter);
    GString *url = g_string_new(c->hs);
    g_string_append_printf(url, "/_matrix/client/v3/sync?filter=%s&timeout=%u", efilter, timeout);
    g_free(efilter);
    if (c->since) {
        char *esince = http_escape(c->since);
        g_string_append_printf(url, "&since=%s", esince);
        g_free(esince);
    }
    struct http_request req = {
        .method = "GET",
        .url = url->str,
        .bearer_token = c->token,
        .timeout_ms = c->req_initial ? INITIAL_SYNC_HTTP_TIMEOUT_MS
                                     : (long)c->sync_timeout_ms + MX_SYNC_MARGIN_MS,
    };
    int err = http_request_start(c->http, &req, sync_done, c, &c->sync_call);
    g_string_free(url, TRUE);
    if (err)
        start_failed(c, err);
}

/* --- lifecycle --- */

void mx_sync_init(struct mx_client *c, uint32_t backoff_min_ms)
{
    c->sync_retry.min_ms = backoff_min_ms ? backoff_min_ms : 1000;
    c->sync_retry.max_ms =
        SYNC_BACKOFF_MAX_MS > c->sync_retry.min_ms ? SYNC_BACKOFF_MAX_MS : c->sync_retry.min_ms;
    c->token_retry_ms = TOKEN_RETRY_MS;
}

int mx_client_start(struct mx_client *c)
{
    if (!c)
        return EINVAL;
    if (c->running)
        return 0;
    c->running = true;
    if (c->in_batch)
        return 0; /* the batch being handled continues the loop when it is done */
    if (!c->token_loaded) {
        c->token_loaded = true;
        if (c->state_dir && g_mkdir_with_parents(c->state_dir, 0700) != 0)
            log_warn("mx: cannot create %s: %s", c->state_dir, g_strerror(errno));
        token_load(c);
    }
    log_info("mx: syncing as %s", c->user_id);
    if (!c->filter)
        filter_upload(c);
    else
        sync_request(c);
    return 0;
}

void mx_client_stop(struct mx_client *c)
{
    if (!c || !c->running)
        return;
    c->running = false;
    if (c->sync_call) {
        http_call_cancel(c->sync_call);
        c->sync_call = NULL;
    }
    mx_timer_stop(&c->sync_timer);
    mx_gap_free(c);
    log_info("mx: sync stopped");
}

void mx_sync_free(struct mx_client *c)
{
    mx_client_stop(c);
    mx_gap_free(c);
    g_free(c->filter);
    g_free(c->since);
    c->filter = c->since = NULL;
}
