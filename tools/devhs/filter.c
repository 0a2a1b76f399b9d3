/*
 * devhs: filters — upload and download (POST/GET /user/{userId}/filter), validation with the
 * spec's types (a wrong type is 400 M_BAD_JSON, as Synapse's schema check answers), and the
 * matching that /sync and /messages apply: rooms / not_rooms, types / not_types with '*'
 * wildcards, senders / not_senders, limits, include_leave. lazy_load_members is accepted and
 * read, but the fixture always sends every member (a server may send more than asked).
 */
#include "tools/devhs/hs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool string_array(json_t *obj, const char *key, json_t **out)
{
    json_t *a;
    if (!hs_json_opt_array(obj, key, &a))
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v))
            return false;
    }
    *out = a;
    return true;
}

int hs_event_filter_parse(json_t *def, struct hs_event_filter *f, const char **why)
{
    memset(f, 0, sizeof(*f));
    f->limit = -1;
    if (!def || json_is_null(def))
        return 0;
    if (!json_is_object(def)) {
        *why = "Event filters must be objects";
        return EBADMSG;
    }
    if (!string_array(def, "types", &f->types) || !string_array(def, "not_types", &f->not_types) ||
        !string_array(def, "senders", &f->senders) ||
        !string_array(def, "not_senders", &f->not_senders) ||
        !string_array(def, "rooms", &f->rooms) || !string_array(def, "not_rooms", &f->not_rooms)) {
        *why = "Filter lists must be arrays of strings";
        return EBADMSG;
    }
    json_t *limit = json_object_get(def, "limit");
    if (limit && !json_is_null(limit)) {
        if (!json_is_integer(limit) || json_integer_value(limit) < 0) {
            *why = "Filter limit must be a non-negative integer";
            return EBADMSG;
        }
        f->limit = json_integer_value(limit);
    }
    bool b = false;
    if (!hs_json_opt_bool(def, "lazy_load_members", &b) ||
        !hs_json_opt_bool(def, "include_redundant_members", &b) ||
        !hs_json_opt_bool(def, "contains_url", &b) ||
        !hs_json_opt_bool(def, "unread_thread_notifications", &b)) {
        *why = "Filter flags must be booleans";
        return EBADMSG;
    }
    return 0;
}

int hs_filter_parse(json_t *def, struct hs_filter *f, const char **why)
{
    memset(f, 0, sizeof(*f));
    if (!json_is_object(def)) {
        *why = "Filter must be a JSON object";
        return EBADMSG;
    }
    json_t *room, *fields;
    const char *format;
    if (!hs_json_opt_object(def, "room", &room) || !string_array(def, "event_fields", &fields) ||
        !hs_json_opt_string(def, "event_format", &format)) {
        *why = "Invalid filter: wrong type for room, event_fields or event_format";
        return EBADMSG;
    }
    if (format && strcmp(format, "client") != 0 && strcmp(format, "federation") != 0) {
        *why = "event_format must be client or federation";
        return EBADMSG;
    }
    int err = hs_event_filter_parse(json_object_get(def, "presence"), &f->presence, why);
    if (!err)
        err = hs_event_filter_parse(json_object_get(def, "account_data"), &f->account_data, why);
    if (!err)
        err = hs_event_filter_parse(json_object_get(room, "timeline"), &f->timeline, why);
    if (!err)
        err = hs_event_filter_parse(json_object_get(room, "state"), &f->state, why);
    if (!err)
        err = hs_event_filter_parse(json_object_get(room, "ephemeral"), &f->ephemeral, why);
    if (!err)
        err = hs_event_filter_parse(json_object_get(room, "account_data"), &f->room_account_data,
                                    why);
    if (err)
        return err;
    if (room && (!string_array(room, "rooms", &f->rooms) ||
                 !string_array(room, "not_rooms", &f->not_rooms) ||
                 !hs_json_opt_bool(room, "include_leave", &f->include_leave))) {
        *why = "Invalid room filter";
        return EBADMSG;
    }
    json_t *state = json_object_get(room, "state");
    f->lazy_load_members = json_is_true(json_object_get(state, "lazy_load_members"));
    f->def = json_incref(def);
    return 0;
}

void hs_filter_clear(struct hs_filter *f)
{
    json_decref(f->def);
    memset(f, 0, sizeof(*f));
}

/* '*' matches any run of characters, as the spec allows in type filters. */
static bool glob(const char *pat, const char *s)
{
    while (*pat) {
        if (*pat == '*') {
            while (*pat == '*')
                pat++;
            if (!*pat)
                return true;
            for (; *s; s++) {
                if (glob(pat, s))
                    return true;
            }
            return false;
        }
        if (*pat != *s)
            return false;
        pat++;
        s++;
    }
    return !*s;
}

static bool any_glob(json_t *pats, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(pats, i, v)
    {
        if (glob(json_string_value(v), s))
            return true;
    }
    return false;
}

bool hs_filter_room_ok(const struct hs_filter *f, const char *room_id)
{
    if (f->not_rooms && hs_strv_contains(f->not_rooms, room_id))
        return false;
    return !f->rooms || hs_strv_contains(f->rooms, room_id);
}

bool hs_event_filter_ok(const struct hs_event_filter *f, const char *type, const char *sender,
                        const char *room_id)
{
    if (f->not_types && any_glob(f->not_types, type))
        return false;
    if (f->types && !any_glob(f->types, type))
        return false;
    if (sender && f->not_senders && hs_strv_contains(f->not_senders, sender))
        return false;
    if (sender && f->senders && !hs_strv_contains(f->senders, sender))
        return false;
    if (room_id && f->not_rooms && hs_strv_contains(f->not_rooms, room_id))
        return false;
    if (room_id && f->rooms && !hs_strv_contains(f->rooms, room_id))
        return false;
    return true;
}

static bool own_user(struct hs_req *r, const char *what)
{
    if (strcmp(r->args[0], r->user->user_id) == 0)
        return true;
    hs_error(r, 403, "M_FORBIDDEN", "Cannot %s filters for other users", what);
    return false;
}

void hs_h_filter_post(struct hs_req *r)
{
    if (!own_user(r, "create"))
        return;
    struct hs_filter f;
    const char *why = NULL;
    if (hs_filter_parse(r->json, &f, &why)) {
        hs_error(r, 400, "M_BAD_JSON", "%s", why);
        return;
    }
    hs_filter_clear(&f);
    if (r->user->filters->len >= 10000) {
        hs_error(r, 400, "M_LIMIT_EXCEEDED", "Too many filters");
        return;
    }
    g_ptr_array_add(r->user->filters, json_deep_copy(r->json));
    char id[24];
    snprintf(id, sizeof(id), "%u", r->user->filters->len - 1);
    hs_reply(r, 200, json_pack("{s:s}", "filter_id", id));
}

static json_t *filter_by_id(struct hs_user *u, const char *id)
{
    char *end;
    if (!*id || *id < '0' || *id > '9')
        return NULL;
    unsigned long i = strtoul(id, &end, 10);
    if (*end || i >= u->filters->len)
        return NULL;
    return g_ptr_array_index(u->filters, i);
}

void hs_h_filter_get(struct hs_req *r)
{
    if (!own_user(r, "get"))
        return;
    json_t *f = filter_by_id(r->user, r->args[1]);
    if (!f) {
        hs_error(r, 404, "M_NOT_FOUND", "No such filter");
        return;
    }
    hs_reply(r, 200, json_incref(f));
}

bool hs_filter_from_param(struct hs_req *r, const char *param, struct hs_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->timeline.limit = f->state.limit = f->ephemeral.limit = f->presence.limit = -1;
    f->account_data.limit = f->room_account_data.limit = -1;
    if (!param || !*param)
        return true;
    const char *why = NULL;
    if (param[0] == '{') {
        json_error_t err;
        json_t *def = hs_json_parse(param, strlen(param), &err);
        if (!def) {
            hs_error(r, 400, "M_NOT_JSON", "Invalid filter JSON: %s", err.text);
            return false;
        }
        int e = hs_filter_parse(def, f, &why);
        json_decref(def);
        if (e) {
            hs_error(r, 400, "M_BAD_JSON", "%s", why);
            return false;
        }
        return true;
    }
    json_t *def = filter_by_id(r->user, param);
    if (!def) {
        hs_error(r, 400, "M_INVALID_PARAM", "No such filter");
        return false;
    }
    if (hs_filter_parse(def, f, &why)) {
        hs_error(r, 400, "M_BAD_JSON", "%s", why);
        return false;
    }
    return true;
}
