/*
 * devhs: the route table and what every request goes through before its handler: CORS
 * preflight, 404 / 405, the loopback rule for test controls, authentication and the JSON body.
 *
 * Routes are matched on decoded path segments. "{v}" stands for the Client-Server API version
 * segment (v3, and r0 for older clients), "*" captures one segment into r->args (which may be
 * empty: "/state/m.room.name/" addresses the empty state key). The table is a flat list read
 * top to bottom because a few dozen string compares per request cost nothing here and a flat
 * list is the easiest thing to check against the spec.
 */
#include "tools/devhs/hs.h"

#include "base/log.h"

#include <string.h>

enum {
    R_AUTH = 1 << 0,  /* needs an access token */
    R_BODY = 1 << 1,  /* JSON object body (an empty body reads as {}) */
    R_ADMIN = 1 << 2, /* /_devhs/: loopback clients only, no token */
};

struct route {
    const char *method;
    const char *pattern;
    hs_handler_h *h;
    unsigned flags;
};

#define C "_matrix/client/{v}/"

static const struct route routes[] = {
    {"GET", "_matrix/client/versions", hs_h_versions, 0},
    {"GET", ".well-known/matrix/client", hs_h_well_known, 0},

    {"POST", C "register", hs_h_register, R_BODY},
    {"GET", C "register/available", hs_h_register_available, 0},
    {"GET", C "login", hs_h_login_flows, 0},
    {"POST", C "login", hs_h_login, R_BODY},
    {"POST", C "logout", hs_h_logout, R_AUTH},
    {"POST", C "logout/all", hs_h_logout_all, R_AUTH},
    {"GET", C "account/whoami", hs_h_whoami, R_AUTH},
    {"GET", C "devices", hs_h_devices, R_AUTH},
    {"GET", C "devices/*", hs_h_device_get, R_AUTH},

    {"POST", C "user/*/filter", hs_h_filter_post, R_AUTH | R_BODY},
    {"GET", C "user/*/filter/*", hs_h_filter_get, R_AUTH},
    {"GET", C "sync", hs_h_sync, R_AUTH},

    {"POST", C "createRoom", hs_h_create_room, R_AUTH | R_BODY},
    {"GET", C "directory/room/*", hs_h_alias_get, 0},
    {"PUT", C "directory/room/*", hs_h_alias_put, R_AUTH | R_BODY},
    {"DELETE", C "directory/room/*", hs_h_alias_delete, R_AUTH},
    {"GET", C "publicRooms", hs_h_public_rooms, 0},
    {"POST", C "publicRooms", hs_h_public_rooms, R_AUTH | R_BODY},

    {"POST", C "rooms/*/invite", hs_h_invite, R_AUTH | R_BODY},
    {"POST", C "rooms/*/join", hs_h_join_room, R_AUTH | R_BODY},
    {"POST", C "join/*", hs_h_join_alias, R_AUTH | R_BODY},
    {"POST", C "rooms/*/leave", hs_h_leave, R_AUTH | R_BODY},
    {"POST", C "rooms/*/kick", hs_h_kick, R_AUTH | R_BODY},
    {"POST", C "rooms/*/ban", hs_h_ban, R_AUTH | R_BODY},
    {"POST", C "rooms/*/unban", hs_h_unban, R_AUTH | R_BODY},
    {"POST", C "rooms/*/forget", hs_h_forget, R_AUTH | R_BODY},
    {"GET", C "joined_rooms", hs_h_joined_rooms, R_AUTH},
    {"GET", C "rooms/*/members", hs_h_members, R_AUTH},
    {"GET", C "rooms/*/joined_members", hs_h_joined_members, R_AUTH},

    {"PUT", C "rooms/*/send/*/*", hs_h_send, R_AUTH | R_BODY},
    {"PUT", C "rooms/*/state/*/*", hs_h_state_put, R_AUTH | R_BODY},
    {"PUT", C "rooms/*/state/*", hs_h_state_put_empty, R_AUTH | R_BODY},
    {"GET", C "rooms/*/state", hs_h_state_all, R_AUTH},
    {"GET", C "rooms/*/state/*/*", hs_h_state_get, R_AUTH},
    {"GET", C "rooms/*/state/*", hs_h_state_get_empty, R_AUTH},
    {"GET", C "rooms/*/event/*", hs_h_event_get, R_AUTH},
    {"PUT", C "rooms/*/redact/*/*", hs_h_redact, R_AUTH | R_BODY},
    {"GET", C "rooms/*/messages", hs_h_messages, R_AUTH},
    {"GET", C "rooms/*/context/*", hs_h_context, R_AUTH},
    {"PUT", C "rooms/*/typing/*", hs_h_typing, R_AUTH | R_BODY},
    {"POST", C "rooms/*/receipt/*/*", hs_h_receipt, R_AUTH | R_BODY},
    {"POST", C "rooms/*/read_markers", hs_h_read_markers, R_AUTH | R_BODY},
    {"PUT", C "sendToDevice/*/*", hs_h_send_to_device, R_AUTH | R_BODY},

    {"POST", C "keys/upload", hs_h_keys_upload, R_AUTH | R_BODY},
    {"POST", C "keys/query", hs_h_keys_query, R_AUTH | R_BODY},
    {"POST", C "keys/claim", hs_h_keys_claim, R_AUTH | R_BODY},
    {"GET", C "keys/changes", hs_h_keys_changes, R_AUTH},
    {"POST", C "keys/device_signing/upload", hs_h_keys_device_signing, R_AUTH | R_BODY},
    {"POST", C "keys/signatures/upload", hs_h_keys_signatures, R_AUTH | R_BODY},
    {"GET", C "room_keys/version", hs_h_room_keys_version, R_AUTH},

    {"PUT", C "user/*/account_data/*", hs_h_account_data_put, R_AUTH | R_BODY},
    {"GET", C "user/*/account_data/*", hs_h_account_data_get, R_AUTH},
    {"PUT", C "user/*/rooms/*/account_data/*", hs_h_room_account_data_put, R_AUTH | R_BODY},
    {"GET", C "user/*/rooms/*/account_data/*", hs_h_room_account_data_get, R_AUTH},
    {"GET", C "profile/*", hs_h_profile, 0},
    {"GET", C "profile/*/*", hs_h_profile_field, 0},
    {"PUT", C "profile/*/*", hs_h_profile_put, R_AUTH | R_BODY},
    {"GET", C "presence/*/status", hs_h_presence_get, R_AUTH},
    {"PUT", C "presence/*/status", hs_h_presence_put, R_AUTH | R_BODY},
    {"POST", C "user_directory/search", hs_h_user_directory, R_AUTH | R_BODY},

    {"GET", C "pushrules/", hs_h_pushrules, R_AUTH},
    {"GET", C "pushrules", hs_h_pushrules, R_AUTH},
    {"GET", C "capabilities", hs_h_capabilities, R_AUTH},
    {"GET", C "voip/turnServer", hs_h_turn_server, R_AUTH},
    {"GET", C "thirdparty/protocols", hs_h_thirdparty_protocols, R_AUTH},
    {"GET", "_matrix/client/v1/media/config", hs_h_media_config, R_AUTH},
    {"GET", "_matrix/media/v3/config", hs_h_media_config, R_AUTH},
    {"GET", "_matrix/media/r0/config", hs_h_media_config, R_AUTH},

    {"POST", "_devhs/rate_limit", hs_h_admin_rate_limit, R_ADMIN | R_BODY},
    {"POST", "_devhs/fault", hs_h_admin_fault, R_ADMIN | R_BODY},
    {"GET", "_devhs/status", hs_h_admin_status, R_ADMIN},
    {"POST", "_devhs/save", hs_h_admin_save, R_ADMIN},
};

/* Matches the request's segments against pattern, capturing wildcards into r->args. */
static bool match(struct hs_req *r, const char *pattern)
{
    unsigned i = 0, nargs = 0;
    const char *p = pattern;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (i >= r->nseg)
            return false;
        const char *seg = r->seg[i];
        if (n == 1 && p[0] == '*') {
            if (nargs >= HS_MAX_ARGS)
                return false;
            r->args[nargs++] = seg;
        } else if (n == 3 && strncmp(p, "{v}", 3) == 0) {
            if (strcmp(seg, "v3") != 0 && strcmp(seg, "r0") != 0)
                return false;
        } else if (strlen(seg) != n || strncmp(seg, p, n) != 0) {
            return false;
        }
        i++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (i != r->nseg)
        return false;
    r->nargs = nargs;
    return true;
}

/* Parses the body as a JSON object; false after replying 400. */
static bool parse_body(struct hs_req *r)
{
    if (!r->body || r->body->len == 0) {
        r->json = json_object();
        return true;
    }
    json_error_t err;
    json_t *j = hs_json_parse(r->body->str, r->body->len, &err);
    if (!j) {
        hs_error(r, 400, "M_NOT_JSON", "Content not JSON: %s", err.text);
        return false;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        hs_error(r, 400, "M_BAD_JSON", "Content must be a JSON object");
        return false;
    }
    r->json = j;
    return true;
}

void hs_dispatch(struct hs_req *r)
{
    if (strcmp(r->method, "OPTIONS") == 0) {
        hs_reply_empty(r); /* CORS preflight: the headers are added to every response */
        return;
    }

    const struct route *found = NULL;
    bool path_known = false;
    for (size_t i = 0; i < G_N_ELEMENTS(routes); i++) {
        if (!match(r, routes[i].pattern))
            continue;
        path_known = true;
        if (strcmp(routes[i].method, r->method) == 0 ||
            (strcmp(r->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            found = &routes[i];
            break;
        }
    }
    if (!found) {
        if (path_known)
            hs_error(r, 405, "M_UNRECOGNIZED", "Unrecognized request: method not allowed");
        else
            hs_error(r, 404, "M_UNRECOGNIZED", "Unrecognized request");
        return;
    }
    if ((found->flags & R_ADMIN) && !r->loopback) {
        hs_error(r, 403, "M_FORBIDDEN", "Test controls are served to loopback clients only");
        return;
    }

    struct hs *hs = r->hs;
    g_mutex_lock(&hs->lock);
    hs->requests++;
    if ((found->flags & R_AUTH) && !hs_auth(r))
        goto out;
    if ((found->flags & R_BODY) && !parse_body(r))
        goto out;
    found->h(r);
out:
    g_mutex_unlock(&hs->lock);
}
