/*
 * devhs: writing and reading room events — sends with transaction-id idempotency, state puts
 * with the power-level rules, redactions, and the state / event getters.
 *
 * Idempotency follows Synapse: a transaction is keyed by the access token and the request path,
 * and a retry answers with the first event id without creating anything. The map lives in the
 * session and is persisted, so a client that retries across a homeserver restart (what the
 * gateway's sender does after a network error) still gets exactly one event.
 */
#include "tools/devhs/hs.h"

#include "base/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool hs_rate_limit(struct hs_req *r)
{
    struct hs_user *u = r->user;
    if (u->rl_per_second <= 0)
        return true;
    gint64 now = g_get_monotonic_time();
    double elapsed = (double)(now - u->rl_last_us) / 1e6;
    u->rl_tokens = fmin(u->rl_burst, u->rl_tokens + elapsed * u->rl_per_second);
    u->rl_last_us = now;
    if (u->rl_tokens >= 1.0) {
        u->rl_tokens -= 1.0;
        return true;
    }
    long wait_ms = (long)ceil((1.0 - u->rl_tokens) / u->rl_per_second * 1000.0);
    hs_error_limited(r, wait_ms > 0 ? wait_ms : 1);
    return false;
}

static bool is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

static bool require_joined(struct hs_req *r, struct hs_room *room)
{
    if (is(hs_membership(room, r->user->user_id), "join"))
        return true;
    hs_error(r, 403, "M_FORBIDDEN", "User %s not in room %s", r->user->user_id, room->room_id);
    return false;
}

static bool valid_type(struct hs_req *r, const char *type)
{
    if (*type && strlen(type) <= HS_MAX_ID)
        return true;
    hs_error(r, 400, "M_INVALID_PARAM", "Invalid event type");
    return false;
}

static bool canonical_ok(struct hs_req *r, struct hs_room *room, json_t *content)
{
    const char *why = atoi(room->version) >= 6 ? hs_json_canonical_invalid(content) : NULL;
    if (!why)
        return true;
    hs_error(r, 400, "M_BAD_JSON", "%s", why);
    return false;
}

static bool size_ok(struct hs_req *r, json_t *content)
{
    /* The content plus an envelope of ids and keys, against the spec's 64 KiB per event. */
    size_t n = json_dumpb(content, NULL, 0, JSON_COMPACT) + 1024;
    if (n <= HS_MAX_EVENT)
        return true;
    hs_error(r, 413, "M_TOO_LARGE", "Event too large (over %u bytes)", HS_MAX_EVENT);
    return false;
}

static char *txn_key(struct hs_req *r)
{
    return g_strdup(r->raw_path);
}

void hs_h_send(struct hs_req *r)
{
    const char *type = r->args[1], *txn = r->args[2];
    char *key = txn_key(r);
    const char *seen = g_hash_table_lookup(r->session->txns, key);
    if (seen) {
        g_free(key);
        hs_reply(r, 200, json_pack("{s:s}", "event_id", seen));
        return;
    }
    struct hs_room *room = hs_req_room(r, 0);
    if (!room || !valid_type(r, type) || !hs_rate_limit(r) || !require_joined(r, room) ||
        !size_ok(r, r->json) || !canonical_ok(r, room, r->json)) {
        g_free(key);
        return;
    }
    int64_t have = hs_power_user(room, r->user->user_id);
    int64_t need = hs_power_event(room, type, false);
    if (have < need) {
        g_free(key);
        hs_error(r, 403, "M_FORBIDDEN",
                 "You don't have permission to post that to the room. user_level (%" G_GINT64_FORMAT
                 ") < send_level (%" G_GINT64_FORMAT ")",
                 have, need);
        return;
    }
    struct hs_event *ev = hs_room_append(r->hs, room, type, NULL, r->user->user_id,
                                         json_incref(r->json), r->session, txn);
    g_hash_table_insert(r->session->txns, key, g_strdup(ev->event_id));
    hs_reply(r, 200, json_pack("{s:s}", "event_id", ev->event_id));
}

/* Auth rule for m.room.power_levels: nobody grants or changes a level above their own, and
 * nobody changes the level of a user at or above their own (other than themselves). */
static const char *power_change_forbidden(struct hs_room *room, const char *sender, json_t *next)
{
    const struct hs_event *cur = hs_state_get(room, "m.room.power_levels", "");
    if (!cur)
        return NULL;
    json_t *old = cur->content;
    int64_t mine = hs_power_user(room, sender);
    static const char *const fields[] = {"ban",    "events_default", "invite",       "kick",
                                         "redact", "state_default",  "users_default"};
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        json_t *a = json_object_get(old, fields[i]), *b = json_object_get(next, fields[i]);
        if (json_equal(a, b) || (!a && !b))
            continue;
        if ((a && json_integer_value(a) > mine) || (b && json_integer_value(b) > mine))
            return "You cannot change a power level above your own";
    }
    const char *maps[] = {"events", "users"};
    for (size_t m = 0; m < 2; m++) {
        json_t *ma = json_object_get(old, maps[m]), *mb = json_object_get(next, maps[m]);
        json_t *both[2] = {ma, mb};
        for (int side = 0; side < 2; side++) {
            const char *k;
            json_t *v;
            json_object_foreach(both[side], k, v)
            {
                json_t *a = json_object_get(ma, k), *b = json_object_get(mb, k);
                if (a && b && json_equal(a, b))
                    continue;
                if ((a && json_integer_value(a) > mine) || (b && json_integer_value(b) > mine))
                    return "You cannot change a power level above your own";
                if (m == 1 && a && strcmp(k, sender) != 0 && json_integer_value(a) >= mine)
                    return "You cannot change the level of a user at or above your own";
            }
        }
    }
    return NULL;
}

static const char *content_invalid(const char *type, json_t *content)
{
    if (strcmp(type, "m.room.power_levels") == 0)
        return hs_power_levels_invalid(content);
    if (strcmp(type, "m.room.join_rules") == 0 &&
        !json_is_string(json_object_get(content, "join_rule")))
        return "join_rule must be a string";
    if (strcmp(type, "m.room.history_visibility") == 0 &&
        !json_is_string(json_object_get(content, "history_visibility")))
        return "history_visibility must be a string";
    if (strcmp(type, "m.room.name") == 0 && json_object_get(content, "name") &&
        !json_is_string(json_object_get(content, "name")))
        return "name must be a string";
    if (strcmp(type, "m.room.topic") == 0 && json_object_get(content, "topic") &&
        !json_is_string(json_object_get(content, "topic")))
        return "topic must be a string";
    return NULL;
}

bool hs_state_put(struct hs_req *r, struct hs_room *room, const char *type, const char *key,
                  json_t *content, struct hs_event **evp)
{
    const char *sender = r->user->user_id;
    if (!valid_type(r, type) || !size_ok(r, content) || !canonical_ok(r, room, content))
        return false;
    if (strcmp(type, "m.room.member") == 0) {
        const char *membership;
        if (!hs_valid_user_id(key)) {
            hs_error(r, 400, "M_INVALID_PARAM", "Member state key must be a user ID");
            return false;
        }
        if (!hs_json_opt_string(content, "membership", &membership) || !membership) {
            hs_error(r, 400, "M_BAD_JSON", "membership must be a string");
            return false;
        }
        char *m = g_strdup(membership);
        json_t *extra = json_deep_copy(content);
        json_object_del(extra, "membership");
        bool ok = hs_membership_change(r, room, sender, key, m, extra, evp);
        json_decref(extra);
        g_free(m);
        return ok;
    }
    if (strcmp(type, "m.room.create") == 0) {
        hs_error(r, 403, "M_FORBIDDEN", "The create event cannot be replaced");
        return false;
    }
    if (!require_joined(r, room))
        return false;
    if (key[0] == '@' && strcmp(key, sender) != 0) {
        hs_error(r, 403, "M_FORBIDDEN", "State keys starting with @ are owned by that user");
        return false;
    }
    const char *bad = content_invalid(type, content);
    if (bad) {
        hs_error(r, 400, "M_BAD_JSON", "%s", bad);
        return false;
    }
    int64_t have = hs_power_user(room, sender);
    int64_t need = hs_power_event(room, type, true);
    if (have < need) {
        hs_error(r, 403, "M_FORBIDDEN",
                 "You don't have permission to post that to the room. user_level (%" G_GINT64_FORMAT
                 ") < send_level (%" G_GINT64_FORMAT ")",
                 have, need);
        return false;
    }
    if (strcmp(type, "m.room.power_levels") == 0) {
        const char *why = power_change_forbidden(room, sender, content);
        if (why) {
            hs_error(r, 403, "M_FORBIDDEN", "%s", why);
            return false;
        }
    }
    /* Like Synapse, re-sending identical state returns the existing event. */
    struct hs_event *cur = hs_state_get(room, type, key);
    if (cur && strcmp(cur->sender, sender) == 0 && json_equal(cur->content, content)) {
        if (evp)
            *evp = cur;
        return true;
    }
    struct hs_event *ev =
        hs_room_append(r->hs, room, type, key, sender, json_incref(content), r->session, NULL);
    if (evp)
        *evp = ev;
    return true;
}

static void state_put(struct hs_req *r, const char *type, const char *key)
{
    struct hs_room *room = hs_req_room(r, 0);
    if (!room || !hs_rate_limit(r))
        return;
    struct hs_event *ev = NULL;
    if (hs_state_put(r, room, type, key, r->json, &ev))
        hs_reply(r, 200, json_pack("{s:s}", "event_id", ev->event_id));
}

void hs_h_state_put(struct hs_req *r)
{
    state_put(r, r->args[1], r->args[2]);
}

void hs_h_state_put_empty(struct hs_req *r)
{
    state_put(r, r->args[1], "");
}

void hs_h_state_all(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    uint64_t upto;
    if (!room || !hs_member_view(r, room, &upto))
        return;
    json_t *list = json_array();
    GPtrArray *state = hs_state_all_at(room, upto);
    for (guint i = 0; i < state->len; i++)
        json_array_append_new(list, hs_event_json(g_ptr_array_index(state, i), r->session, true));
    g_ptr_array_free(state, TRUE);
    hs_reply(r, 200, list);
}

static void state_get(struct hs_req *r, const char *type, const char *key)
{
    struct hs_room *room = hs_req_room(r, 0);
    uint64_t upto;
    if (!room || !hs_member_view(r, room, &upto))
        return;
    const struct hs_event *ev = hs_state_at(room, type, key, upto);
    if (!ev) {
        hs_error(r, 404, "M_NOT_FOUND", "Event not found.");
        return;
    }
    if (is(hs_query(r, "format"), "event"))
        hs_reply(r, 200, hs_event_json(ev, r->session, true));
    else
        hs_reply(r, 200, json_incref(ev->content));
}

void hs_h_state_get(struct hs_req *r)
{
    state_get(r, r->args[1], r->args[2]);
}

void hs_h_state_get_empty(struct hs_req *r)
{
    state_get(r, r->args[1], "");
}

void hs_h_event_get(struct hs_req *r)
{
    struct hs_room *room = hs_req_room(r, 0);
    if (!room)
        return;
    const struct hs_event *ev = g_hash_table_lookup(room->by_id, r->args[1]);
    if (!ev || !hs_event_visible(room, ev, r->user->user_id)) {
        hs_error(r, 404, "M_NOT_FOUND", "Event not found.");
        return;
    }
    hs_reply(r, 200, hs_event_json(ev, r->session, true));
}

/* The keys each event type keeps through a redaction (room versions 1-11, simplified). */
static json_t *pruned(const struct hs_event *ev)
{
    static const struct {
        const char *type;
        const char *keys[9];
    } keep[] = {
        {"m.room.member", {"membership", "join_authorised_via_users_server"}},
        {"m.room.create", {"creator", "room_version", "m.federate", "type", "predecessor"}},
        {"m.room.join_rules", {"join_rule", "allow"}},
        {"m.room.power_levels",
         {"ban", "events", "events_default", "invite", "kick", "redact", "state_default", "users",
          "users_default"}},
        {"m.room.history_visibility", {"history_visibility"}},
        {"m.room.redaction", {"redacts"}},
    };
    json_t *c = json_object();
    for (size_t i = 0; i < G_N_ELEMENTS(keep); i++) {
        if (strcmp(ev->type, keep[i].type) != 0)
            continue;
        for (size_t k = 0; k < G_N_ELEMENTS(keep[i].keys) && keep[i].keys[k]; k++) {
            json_t *v = json_object_get(ev->content, keep[i].keys[k]);
            if (v)
                json_object_set(c, keep[i].keys[k], v);
        }
    }
    return c;
}

void hs_h_redact(struct hs_req *r)
{
    const char *target_id = r->args[1], *txn = r->args[2];
    char *key = txn_key(r);
    const char *seen = g_hash_table_lookup(r->session->txns, key);
    if (seen) {
        g_free(key);
        hs_reply(r, 200, json_pack("{s:s}", "event_id", seen));
        return;
    }
    struct hs_room *room = hs_req_room(r, 0);
    const char *reason;
    if (!room || !hs_rate_limit(r) || !require_joined(r, room)) {
        g_free(key);
        return;
    }
    if (!hs_json_opt_string(r->json, "reason", &reason)) {
        g_free(key);
        hs_error(r, 400, "M_BAD_JSON", "reason must be a string");
        return;
    }
    struct hs_event *target = g_hash_table_lookup(room->by_id, target_id);
    int64_t have = hs_power_user(room, r->user->user_id);
    bool own = target && strcmp(target->sender, r->user->user_id) == 0;
    if (have < hs_power_event(room, "m.room.redaction", false) ||
        (!own && have < hs_power_field(room, "redact", 50))) {
        g_free(key);
        hs_error(r, 403, "M_FORBIDDEN", "You don't have permission to redact events");
        return;
    }
    json_t *content = json_pack("{s:s}", "redacts", target_id);
    if (reason)
        json_object_set_new(content, "reason", json_string(reason));
    struct hs_event *ev = hs_room_append(r->hs, room, "m.room.redaction", NULL, r->user->user_id,
                                         content, r->session, txn);
    ev->extra = json_pack("{s:s}", "redacts", target_id);
    if (target && !target->redacted_because) {
        json_t *c = pruned(target);
        json_decref(target->content);
        target->content = c;
        target->redacted_because = hs_event_json(ev, NULL, true);
        json_object_del(target->redacted_because, "unsigned");
    }
    g_hash_table_insert(r->session->txns, key, g_strdup(ev->event_id));
    hs_reply(r, 200, json_pack("{s:s}", "event_id", ev->event_id));
}
