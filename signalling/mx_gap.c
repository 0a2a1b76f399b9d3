/*
 * Filling the gaps of limited timelines. When more events land in a room between two /sync
 * responses than the filter's timeline limit, the homeserver sends only the newest and marks
 * the timeline limited; the rest (say, the invites of half the people who called at once)
 * would never be seen. So before such a batch is handled, each gap is fetched with
 * GET /rooms/{id}/messages?dir=b, from the timeline's prev_batch back to the token the batch
 * answers (`to`), paging until the homeserver says there is nothing more, or an event we
 * already handed out turns up (for a homeserver that ignores `to`), or a bound is reached
 * (logged: the oldest events of the gap are then skipped, as before).
 *
 * The batch is held meanwhile: its token is not saved and the next /sync is not sent, so
 * handlers see the gap's events, in order, before the timeline's, and a crash or restart during
 * the fetch asks the same /sync again. Network errors, 5xx, 429 and a rejected access token
 * wait like /sync does (mx_sync_failed: same backoff, same "unreachable" / "reachable again"
 * lines) and then ask the same page again; an outage costs time, not events. A refusal (other
 * 4xx) or an answer that is not a page is not going to change by asking again: that room's gap
 * keeps what was fetched so far, with a warning, rather than holding up every room forever.
 *
 * Rooms are fetched one after the other, one request at a time: gaps are rare and a bot's
 * homeserver has better things to do than answer them in parallel.
 */
#include "signalling/mx_internal.h"

#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum {
    GAP_PAGE_LIMIT = 100,   /* events asked per /messages request */
    GAP_MAX_PAGES = 5,      /* per room and batch */
    GAP_MAX_EVENTS = 500,   /* per room and batch */
    GAP_TIMEOUT_MS = 60000, /* one /messages request */
};

struct gap_room {
    char *room_id;
    char *from;       /* the next page's token */
    char *stop_at;    /* the last event handed out in this room, if known */
    json_t *events;   /* newest first, as /messages dir=b gives them */
    GHashTable *seen; /* event ids in events (borrowed from them) */
    unsigned pages;
};

struct mx_gap_fetch {
    json_t *root; /* the held batch */
    char *next;   /* its next_batch */
    char *to;     /* the token the batch answers: where each gap starts */
    GPtrArray *rooms;
    guint cur;
    struct http_call *call;
    GHashTable *gaps; /* room id -> events oldest first, for mx_sync_handle */
};

static void room_free(gpointer data)
{
    struct gap_room *gr = data;
    g_hash_table_destroy(gr->seen);
    json_decref(gr->events);
    g_free(gr->room_id);
    g_free(gr->from);
    g_free(gr->stop_at);
    g_free(gr);
}

static void fetch_free(struct mx_gap_fetch *f)
{
    if (!f)
        return;
    if (f->call)
        http_call_cancel(f->call);
    json_decref(f->root);
    g_free(f->next);
    g_free(f->to);
    g_ptr_array_free(f->rooms, TRUE);
    if (f->gaps)
        g_hash_table_destroy(f->gaps);
    g_free(f);
}

void mx_gap_free(struct mx_client *c)
{
    fetch_free(c->gap);
    c->gap = NULL;
}

/* Our own join is in the room's entry, and it is a join, not a change of name or avatar. */
static bool own_fresh_join(struct mx_client *c, json_t *v)
{
    const char *sections[] = {"state", "timeline"};
    for (size_t k = 0; k < G_N_ELEMENTS(sections); k++) {
        json_t *evs = json_object_get(json_object_get(v, sections[k]), "events");
        json_t *ev;
        size_t i;
        json_array_foreach(evs, i, ev)
        {
            const char *type = json_string_value(json_object_get(ev, "type"));
            const char *skey = json_string_value(json_object_get(ev, "state_key"));
            if (!type || !skey || strcmp(type, "m.room.member") != 0 ||
                strcmp(skey, c->user_id) != 0)
                continue;
            const char *ms =
                json_string_value(json_object_get(json_object_get(ev, "content"), "membership"));
            json_t *prev = json_object_get(json_object_get(ev, "unsigned"), "prev_content");
            const char *pms = json_string_value(json_object_get(prev, "membership"));
            if (ms && strcmp(ms, "join") == 0 && !(pms && strcmp(pms, "join") == 0))
                return true;
        }
    }
    return false;
}

/* A joined room of the batch whose gap we need: limited, with a prev_batch, and one we were
 * following before this batch. A room joined since comes with its history (and is always
 * limited): no gap. A room we know nothing about without our join in its entry is one we were
 * in before a restart (the room model is not kept across restarts): its gap counts. */
static bool gap_wanted(struct mx_client *c, json_t *leave, const char *room_id, json_t *v)
{
    if (!mx_valid_id(room_id, '!') || !json_is_object(v))
        return false;
    json_t *tl = json_object_get(v, "timeline");
    if (!json_is_true(json_object_get(tl, "limited")))
        return false;
    if (!mx_valid_token(json_string_value(json_object_get(tl, "prev_batch"))))
        return false; /* handle_join says so */
    /* A room in leave too is dropped before its join entry is handled: joined afresh. */
    if (json_object_get(leave, room_id))
        return false;
    struct mx_room *r = mx_rooms_get(c, room_id, false);
    if (r)
        return mx_room_self(c, r) == MX_MEMBERSHIP_JOIN;
    return !own_fresh_join(c, v);
}

static void send_page(struct mx_client *c);

static void all_done(struct mx_client *c)
{
    struct mx_gap_fetch *f = c->gap;
    c->gap = NULL;
    json_t *root = f->root;
    char *next = f->next;
    GHashTable *gaps = f->gaps;
    f->root = NULL;
    f->next = NULL;
    f->gaps = NULL;
    fetch_free(f);
    mx_sync_handle(c, root, next, gaps); /* may free c */
}

/* The current room's gap is complete (or as complete as it gets): hand it over, oldest first,
 * and go on with the next room or the batch. */
static void room_done(struct mx_client *c)
{
    struct mx_gap_fetch *f = c->gap;
    struct gap_room *gr = g_ptr_array_index(f->rooms, f->cur);
    size_t n = json_array_size(gr->events);
    json_t *chrono = json_array();
    for (size_t i = n; i-- > 0;)
        json_array_append(chrono, json_array_get(gr->events, i));
    g_hash_table_insert(f->gaps, g_strdup(gr->room_id), chrono);
    char ctx[MX_ID_MAX + 8];
    snprintf(ctx, sizeof(ctx), "room=%s", gr->room_id);
    logc_info(ctx, "mx: gap of a limited timeline fetched: %zu events in %u page%s", n, gr->pages,
              gr->pages == 1 ? "" : "s");
    f->cur++;
    if (f->cur < f->rooms->len)
        send_page(c);
    else
        all_done(c);
}

/* Takes one page. Returns true when the room's gap is complete. */
static bool take_page(struct gap_room *gr, json_t *page, const char *ctx)
{
    json_t *chunk = json_object_get(page, "chunk");
    if (!json_is_array(chunk)) {
        logc_warn(ctx, "mx: /messages answered without a chunk: the rest of the gap of a "
                       "limited timeline is skipped");
        return true;
    }
    gr->pages++;
    bool reached = false, full = false;
    size_t i;
    json_t *ev;
    json_array_foreach(chunk, i, ev)
    {
        if (json_array_size(gr->events) >= GAP_MAX_EVENTS) {
            full = true;
            break;
        }
        if (!json_is_object(ev))
            continue;
        const char *eid = json_string_value(json_object_get(ev, "event_id"));
        if (eid && gr->stop_at && strcmp(eid, gr->stop_at) == 0) {
            reached = true; /* handed out before: so is everything older */
            break;
        }
        if (eid) {
            if (g_hash_table_contains(gr->seen, eid))
                continue;
            g_hash_table_add(gr->seen, (gpointer)eid); /* kept alive by events */
        }
        json_array_append(gr->events, ev);
    }
    const char *end = json_string_value(json_object_get(page, "end"));
    if (!full && (reached || !end || json_array_size(chunk) == 0 || strcmp(end, gr->from) == 0))
        return true; /* the start of the gap (or of the room) */
    if (!full && !mx_valid_token(end)) {
        logc_warn(ctx, "mx: /messages answered with an invalid end token: the rest of the gap "
                       "of a limited timeline is skipped");
        return true;
    }
    if (full || json_array_size(gr->events) >= GAP_MAX_EVENTS || gr->pages >= GAP_MAX_PAGES) {
        logc_warn(ctx,
                  "mx: the gap of a limited timeline is longer than %u events or %u pages: its "
                  "oldest events were skipped",
                  GAP_MAX_EVENTS, GAP_MAX_PAGES);
        return true;
    }
    g_free(gr->from);
    gr->from = g_strdup(end);
    return false;
}

static void page_done(const struct http_response *resp, void *arg)
{
    struct mx_client *c = arg;
    struct mx_gap_fetch *f = c->gap;
    f->call = NULL;
    struct gap_room *gr = g_ptr_array_index(f->rooms, f->cur);
    char ctx[MX_ID_MAX + 8];
    snprintf(ctx, sizeof(ctx), "room=%s", gr->room_id);

    if (resp->status < 200 || resp->status >= 300) {
        json_t *ebody;
        char errcode[MX_ERRCODE_MAX + 1];
        long ra;
        mx_parse_error(resp, &ebody, errcode, &ra);
        json_decref(ebody);
        if (mx_transient(resp) ||
            (resp->status == 401 && strcmp(errcode, "M_UNKNOWN_TOKEN") == 0)) {
            mx_sync_failed(c, resp); /* back off; the timer resumes with this page */
            return;
        }
        if (resp->status)
            logc_warn(ctx,
                      "mx: /messages refused (HTTP %ld%s%s): the rest of the gap of a limited "
                      "timeline is skipped",
                      resp->status, errcode[0] ? " " : "", errcode);
        else
            logc_warn(ctx,
                      "mx: /messages failed (%s): the rest of the gap of a limited timeline "
                      "is skipped",
                      resp->error ? resp->error : "error");
        room_done(c);
        return;
    }
    mx_sync_recovered(c);
    json_t *page = json_loadb(resp->body, resp->body_len, 0, NULL);
    bool complete;
    if (!json_is_object(page)) {
        logc_warn(ctx, "mx: /messages answered with something other than a JSON object: the "
                       "rest of the gap of a limited timeline is skipped");
        complete = true;
    } else {
        complete = take_page(gr, page, ctx);
    }
    json_decref(page);
    if (complete)
        room_done(c);
    else
        send_page(c);
}

static void send_page(struct mx_client *c)
{
    struct mx_gap_fetch *f = c->gap;
    struct gap_room *gr = g_ptr_array_index(f->rooms, f->cur);
    char *eroom = http_escape(gr->room_id);
    char *efrom = http_escape(gr->from);
    char *eto = http_escape(f->to);
    char *efilter = http_escape(MX_TIMELINE_FILTER_JSON);
    char *url = g_strdup_printf("%s/_matrix/client/v3/rooms/%s/messages?dir=b&from=%s&to=%s"
                                "&limit=%d&filter=%s",
                                c->hs, eroom, efrom, eto, GAP_PAGE_LIMIT, efilter);
    g_free(eroom);
    g_free(efrom);
    g_free(eto);
    g_free(efilter);
    struct http_request req = {
        .method = "GET",
        .url = url,
        .bearer_token = c->token,
        .timeout_ms = GAP_TIMEOUT_MS,
    };
    int err = http_request_start(c->http, &req, page_done, c, &f->call);
    g_free(url);
    if (err) {
        struct http_response r = {.status = 0, .err = err, .error = g_strerror(err), .body = ""};
        r.retry_after_ms = -1;
        mx_sync_failed(c, &r);
    }
}

void mx_gap_resume(struct mx_client *c)
{
    if (c->gap && !c->gap->call)
        send_page(c);
}

bool mx_gap_feed(struct mx_client *c, const char *body, size_t len)
{
    if (!c->gap || !c->gap->call)
        return false;
    http_call_cancel(c->gap->call);
    c->gap->call = NULL;
    const struct http_response resp = {
        .status = 200, .body = body, .body_len = len, .retry_after_ms = -1};
    page_done(&resp, c);
    return true;
}

bool mx_gap_begin(struct mx_client *c, json_t *root, char *next, bool initial)
{
    if (initial || !c->since)
        return false;
    json_t *rooms = json_object_get(root, "rooms");
    json_t *leave = json_object_get(rooms, "leave");
    GPtrArray *want = NULL;
    const char *room_id;
    json_t *v;
    json_object_foreach(json_object_get(rooms, "join"), room_id, v)
    {
        if (!gap_wanted(c, leave, room_id, v))
            continue;
        if (!want)
            want = g_ptr_array_new_with_free_func(room_free);
        struct gap_room *gr = g_new0(struct gap_room, 1);
        gr->room_id = g_strdup(room_id);
        gr->from = g_strdup(
            json_string_value(json_object_get(json_object_get(v, "timeline"), "prev_batch")));
        const char *last = mx_rooms_last_event(mx_rooms_get(c, room_id, false));
        gr->stop_at = last ? g_strdup(last) : NULL;
        gr->events = json_array();
        gr->seen = g_hash_table_new(g_str_hash, g_str_equal);
        g_ptr_array_add(want, gr);
        char ctx[MX_ID_MAX + 8];
        snprintf(ctx, sizeof(ctx), "room=%s", room_id);
        logc_info(ctx, "mx: /sync timeline was limited: fetching the events before it");
    }
    if (!want)
        return false;
    struct mx_gap_fetch *f = g_new0(struct mx_gap_fetch, 1);
    f->root = root;
    f->next = next;
    f->to = g_strdup(c->since);
    f->rooms = want;
    f->gaps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_decref);
    mx_gap_free(c);
    c->gap = f;
    send_page(c);
    return true;
}
