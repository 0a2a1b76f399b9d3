/*
 * devhs: what a client reads once at start-up — versions, .well-known, capabilities, push
 * rules, media config, third-party protocols — and the TURN credentials of the VoIP module.
 *
 * The push rules are Synapse's default global ruleset (trimmed to the rules that matter here):
 * matrix-js-sdk evaluates them on every event, so they must be complete and well-formed. TURN
 * credentials use the coturn REST scheme ("use-auth-secret"): username "<expiry>:<user_id>",
 * password base64(HMAC-SHA1(secret, username)), which coturn checks without talking to us.
 */
#include "tools/devhs/hs.h"

#include <string.h>

void hs_h_versions(struct hs_req *r)
{
    json_t *v = json_array();
    for (int i = 1; i <= 11; i++)
        json_array_append_new(v, json_sprintf("v1.%d", i));
    hs_reply(r, 200, json_pack("{s:o, s:{}}", "versions", v, "unstable_features"));
}

void hs_h_well_known(struct hs_req *r)
{
    hs_reply(
        r, 200,
        json_pack("{s:{s:s}}", "m.homeserver", "base_url", r->hs->base_url ? r->hs->base_url : ""));
}

void hs_h_capabilities(struct hs_req *r)
{
    json_t *available = json_object();
    for (int i = 1; i <= 11; i++) {
        char v[8];
        snprintf(v, sizeof(v), "%d", i);
        json_object_set_new(available, v, json_string("stable"));
    }
    hs_reply(r, 200,
             json_pack("{s:{s:{s:b}, s:{s:s, s:o}, s:{s:b}, s:{s:b}, s:{s:b}}}", "capabilities",
                       "m.change_password", "enabled", 0, "m.room_versions", "default", "10",
                       "available", available, "m.set_displayname", "enabled", 1,
                       "m.set_avatar_url", "enabled", 1, "m.3pid_changes", "enabled", 0));
}

static const char push_rules[] =
    "{\"global\":{"
    "\"override\":["
    "{\"rule_id\":\".m.rule.master\",\"default\":true,\"enabled\":false,\"conditions\":[],"
    "\"actions\":[]},"
    "{\"rule_id\":\".m.rule.suppress_notices\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_match\",\"key\":\"content.msgtype\",\"pattern\":"
    "\"m.notice\"}],\"actions\":[]},"
    "{\"rule_id\":\".m.rule.invite_for_me\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.member\"},"
    "{\"kind\":\"event_match\",\"key\":\"content.membership\",\"pattern\":\"invite\"},"
    "{\"kind\":\"event_match\",\"key\":\"state_key\",\"pattern\":\"@@USER@@\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"default\"}]},"
    "{\"rule_id\":\".m.rule.member_event\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.member\"}],"
    "\"actions\":[]},"
    "{\"rule_id\":\".m.rule.is_user_mention\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_property_contains\",\"key\":"
    "\"content.m\\\\.mentions.user_ids\",\"value\":\"@@USER@@\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"default\"},"
    "{\"set_tweak\":\"highlight\"}]},"
    "{\"rule_id\":\".m.rule.contains_display_name\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"contains_display_name\"}],\"actions\":[\"notify\","
    "{\"set_tweak\":\"sound\",\"value\":\"default\"},{\"set_tweak\":\"highlight\"}]},"
    "{\"rule_id\":\".m.rule.is_room_mention\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_property_is\",\"key\":\"content.m\\\\.mentions.room\","
    "\"value\":true},{\"kind\":\"sender_notification_permission\",\"key\":\"room\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"highlight\"}]},"
    "{\"rule_id\":\".m.rule.roomnotif\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_match\",\"key\":\"content.body\",\"pattern\":\"@room\"},"
    "{\"kind\":\"sender_notification_permission\",\"key\":\"room\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"highlight\"}]},"
    "{\"rule_id\":\".m.rule.tombstone\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.tombstone\"},"
    "{\"kind\":\"event_match\",\"key\":\"state_key\",\"pattern\":\"\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"highlight\"}]},"
    "{\"rule_id\":\".m.rule.reaction\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.reaction\"}],"
    "\"actions\":[]},"
    "{\"rule_id\":\".m.rule.room.server_acl\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":"
    "\"m.room.server_acl\"},{\"kind\":\"event_match\",\"key\":\"state_key\",\"pattern\":\"\"}],"
    "\"actions\":[]},"
    "{\"rule_id\":\".m.rule.suppress_edits\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_property_is\",\"key\":"
    "\"content.m\\\\.relates_to.rel_type\",\"value\":\"m.replace\"}],\"actions\":[]}"
    "],"
    "\"content\":["
    "{\"rule_id\":\".m.rule.contains_user_name\",\"default\":true,\"enabled\":true,"
    "\"pattern\":\"@@LOCALPART@@\",\"actions\":[\"notify\",{\"set_tweak\":\"sound\","
    "\"value\":\"default\"},{\"set_tweak\":\"highlight\"}]}"
    "],"
    "\"room\":[],\"sender\":[],"
    "\"underride\":["
    "{\"rule_id\":\".m.rule.call\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.call.invite\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"ring\"},"
    "{\"set_tweak\":\"highlight\",\"value\":false}]},"
    "{\"rule_id\":\".m.rule.encrypted_room_one_to_one\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"room_member_count\",\"is\":\"2\"},{\"kind\":\"event_match\","
    "\"key\":\"type\",\"pattern\":\"m.room.encrypted\"}],\"actions\":[\"notify\","
    "{\"set_tweak\":\"sound\",\"value\":\"default\"},{\"set_tweak\":\"highlight\","
    "\"value\":false}]},"
    "{\"rule_id\":\".m.rule.room_one_to_one\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"room_member_count\",\"is\":\"2\"},{\"kind\":\"event_match\","
    "\"key\":\"type\",\"pattern\":\"m.room.message\"}],\"actions\":[\"notify\","
    "{\"set_tweak\":\"sound\",\"value\":\"default\"},{\"set_tweak\":\"highlight\","
    "\"value\":false}]},"
    "{\"rule_id\":\".m.rule.message\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.message\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"highlight\",\"value\":false}]},"
    "{\"rule_id\":\".m.rule.encrypted\",\"default\":true,\"enabled\":true,"
    "\"conditions\":[{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.encrypted\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"highlight\",\"value\":false}]}"
    "]}}";

/* Replaces the placeholder strings of the template with the user's values. */
static void fill(json_t *j, const char *user_id, const char *localpart)
{
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), "@@USER@@") == 0)
                json_string_set(v, user_id);
            else if (json_is_string(v) && strcmp(json_string_value(v), "@@LOCALPART@@") == 0)
                json_string_set(v, localpart);
            else
                fill(v, user_id, localpart);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            fill(v, user_id, localpart);
        }
    }
}

void hs_h_pushrules(struct hs_req *r)
{
    json_error_t err;
    json_t *rules = json_loads(push_rules, 0, &err);
    if (!rules) {
        hs_error(r, 500, "M_UNKNOWN", "Push rule template: %s", err.text);
        return;
    }
    const char *uid = r->user->user_id;
    char *local = g_strndup(uid + 1, (gsize)(strchr(uid, ':') - uid - 1));
    fill(rules, uid, local);
    g_free(local);
    hs_reply(r, 200, rules);
}

void hs_h_turn_server(struct hs_req *r)
{
    const struct hs_config *cfg = &r->hs->cfg;
    if (!cfg->turn_uris || !cfg->turn_uris[0] || !cfg->turn_secret) {
        hs_reply_empty(r); /* Synapse answers {} without URIs and credentials */
        return;
    }
    json_t *uris = json_array();
    for (char **u = cfg->turn_uris; *u; u++)
        json_array_append_new(uris, json_string(*u));
    gint64 expiry = g_get_real_time() / G_USEC_PER_SEC + cfg->turn_ttl;
    char *username = g_strdup_printf("%" G_GINT64_FORMAT ":%s", expiry, r->user->user_id);
    GHmac *h =
        g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)cfg->turn_secret, strlen(cfg->turn_secret));
    g_hmac_update(h, (const guchar *)username, (gssize)strlen(username));
    guint8 digest[20];
    gsize len = sizeof(digest);
    g_hmac_get_digest(h, digest, &len);
    g_hmac_unref(h);
    char *password = g_base64_encode(digest, len);
    hs_reply(r, 200,
             json_pack("{s:s, s:s, s:o, s:i}", "username", username, "password", password, "uris",
                       uris, "ttl", (int)cfg->turn_ttl));
    g_free(username);
    g_free(password);
}

void hs_h_media_config(struct hs_req *r)
{
    hs_reply(r, 200, json_pack("{s:i}", "m.upload.size", 50 * 1024 * 1024));
}

void hs_h_thirdparty_protocols(struct hs_req *r)
{
    hs_reply_empty(r);
}
