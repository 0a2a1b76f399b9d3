/*
 * devhs: test controls under /_devhs/ (loopback clients only, no token) — per-user rate limits,
 * injected faults, a status snapshot for tests that wait for a client to be long-polling, and
 * an explicit state save.
 *
 * A fault applies to every Client-Server request that arrives while it is active (never to
 * /_devhs/ itself, so a test can always switch it off): "http_500" answers 500 M_UNKNOWN,
 * "close" drops the connection without a response, "close_after" handles the request and then
 * drops the connection (the client cannot know its send went through: the case transaction
 * ids exist for). It lasts duration_ms (0: until the next {"mode":"none"}), optionally only
 * for count requests and only for paths containing match.
 */
#include "tools/devhs/hs.h"

#include "base/log.h"

#include <string.h>

void hs_h_admin_rate_limit(struct hs_req *r)
{
    const char *user_id;
    json_t *per_second = json_object_get(r->json, "per_second");
    json_t *burst = json_object_get(r->json, "burst");
    if (!hs_json_opt_string(r->json, "user_id", &user_id) || !user_id ||
        !json_is_number(per_second) || (burst && !json_is_number(burst))) {
        hs_error(r, 400, "M_BAD_JSON", "Expected {user_id, per_second, burst}");
        return;
    }
    struct hs_user *u = hs_user_get(r->hs, user_id);
    if (!u) {
        hs_error(r, 404, "M_NOT_FOUND", "Unknown user %s", user_id);
        return;
    }
    double rate = json_number_value(per_second);
    double b = burst ? json_number_value(burst) : 1.0;
    if (rate < 0 || b < 0) {
        hs_error(r, 400, "M_INVALID_PARAM", "per_second and burst must not be negative");
        return;
    }
    u->rl_per_second = rate;
    u->rl_burst = b < 1.0 ? 1.0 : b;
    u->rl_tokens = u->rl_burst;
    u->rl_last_us = g_get_monotonic_time();
    log_info("rate limit for %s: %.3g/s, burst %.3g", user_id, rate, u->rl_burst);
    hs_reply_empty(r);
}

static void fault_clear(struct hs *hs)
{
    hs->fault = HS_FAULT_NONE;
    hs->fault_until_us = 0;
    hs->fault_count = -1;
    g_free(hs->fault_match);
    hs->fault_match = NULL;
}

void hs_h_admin_fault(struct hs_req *r)
{
    const char *mode, *match;
    json_t *duration = json_object_get(r->json, "duration_ms");
    json_t *count = json_object_get(r->json, "count");
    if (!hs_json_opt_string(r->json, "mode", &mode) || !mode ||
        !hs_json_opt_string(r->json, "match", &match) || (duration && !json_is_integer(duration)) ||
        (count && !json_is_integer(count))) {
        hs_error(r, 400, "M_BAD_JSON", "Expected {mode, duration_ms, count, match}");
        return;
    }
    enum hs_fault f;
    if (strcmp(mode, "none") == 0)
        f = HS_FAULT_NONE;
    else if (strcmp(mode, "http_500") == 0)
        f = HS_FAULT_HTTP_500;
    else if (strcmp(mode, "close") == 0)
        f = HS_FAULT_CLOSE;
    else if (strcmp(mode, "close_after") == 0)
        f = HS_FAULT_CLOSE_AFTER;
    else {
        hs_error(r, 400, "M_INVALID_PARAM", "mode must be none, http_500, close or close_after");
        return;
    }
    json_int_t ms = duration ? json_integer_value(duration) : 0;
    json_int_t n = count ? json_integer_value(count) : -1;
    if (ms < 0 || (count && n < 1)) {
        hs_error(r, 400, "M_INVALID_PARAM", "duration_ms must be >= 0 and count >= 1");
        return;
    }
    struct hs *hs = r->hs;
    fault_clear(hs);
    hs->fault = f;
    if (f != HS_FAULT_NONE) {
        hs->fault_until_us = ms ? g_get_monotonic_time() + (gint64)ms * 1000 : 0;
        hs->fault_count = (long)n;
        hs->fault_match = match ? g_strdup(match) : NULL;
    }
    log_info("fault injection: %s for %lld ms", mode, (long long)ms);
    hs_reply_empty(r);
}

enum hs_fault hs_fault_check(struct hs *hs, const char *path)
{
    g_mutex_lock(&hs->lock);
    enum hs_fault f = hs->fault;
    if (f != HS_FAULT_NONE && hs->fault_until_us && g_get_monotonic_time() >= hs->fault_until_us) {
        fault_clear(hs);
        f = HS_FAULT_NONE;
    }
    if (f != HS_FAULT_NONE && hs->fault_match && !strstr(path, hs->fault_match))
        f = HS_FAULT_NONE;
    if (f != HS_FAULT_NONE && hs->fault_count > 0 && --hs->fault_count == 0)
        fault_clear(hs); /* this request is the last one hit */
    g_mutex_unlock(&hs->lock);
    return f;
}

void hs_h_admin_status(struct hs_req *r)
{
    struct hs *hs = r->hs;
    static const char *const names[] = {"none", "http_500", "close", "close_after"};
    hs_reply(r, 200,
             json_pack("{s:I, s:i, s:i, s:i, s:i, s:I, s:s}", "pos", (json_int_t)hs->pos, "users",
                       (int)g_hash_table_size(hs->users), "rooms",
                       (int)g_hash_table_size(hs->rooms), "sessions",
                       (int)g_hash_table_size(hs->sessions), "waiting_syncs",
                       (int)hs->waiting_syncs, "requests", (json_int_t)hs->requests, "fault",
                       names[hs->fault]));
}

void hs_h_admin_save(struct hs_req *r)
{
    if (!r->hs->cfg.state_file) {
        hs_error(r, 400, "M_UNKNOWN", "devhs was started without --state-file");
        return;
    }
    if (hs_state_save(r->hs, r->hs->cfg.state_file)) {
        hs_error(r, 500, "M_UNKNOWN", "Saving the state failed (see the log)");
        return;
    }
    hs_reply_empty(r);
}
