/*
 * The Matrix <-> SIP wiring (see sip_bridge.h): the gateway's host callbacks onto the bot, the
 * bot's SIP commands onto the gateway, and one struct user_ring per phone ringing a Matrix user.
 *
 * A ring and its SIP call point at each other only through the table here: the gateway says
 * when a call is gone (user_call_gone), the bot says when a ring is over (ended), and whichever
 * comes first forgets the pair, so neither side is told about the other after that. A ring that
 * ends is inside its own handler (maybe still inside bot_ring_user()): it is freed from an idle
 * callback, not there.
 */
#include "daemon/sip_bridge.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

#include "base/log.h"
#include "base/mem.h"
#include "daemon/config.h"
#include "signalling/bot.h"

struct sip_bridge {
    struct bot *bot;
    struct sip_gw *gw;
    struct bot_sip_ops ops;
    GHashTable *rings;      /* struct sip_call * -> struct user_ring: phones ringing users */
    GPtrArray *ended_rings; /* freed from an idle callback, out of the ring's own handler */
    guint reap_idle;
};

struct user_ring {
    struct sip_bridge *b;
    struct sip_call *sc;
    struct bot_ring *ring;
};

static void user_ring_free(gpointer p)
{
    struct user_ring *ur = p;
    mem_deref(ur->ring);
    g_free(ur);
}

/* ---- the bot's ring, told to the phone ---- */

static void ring_ringing(void *arg)
{
    struct user_ring *ur = arg;
    sip_call_user_ringing(ur->sc);
}

static void ring_answered(void *arg)
{
    struct user_ring *ur = arg;
    sip_call_user_answered(ur->sc);
}

static void ring_held(bool held, void *arg)
{
    struct user_ring *ur = arg;
    sip_call_user_hold(ur->sc, held);
}

static gboolean reap_rings(gpointer data)
{
    struct sip_bridge *b = data;
    b->reap_idle = 0;
    g_ptr_array_set_size(b->ended_rings, 0);
    return G_SOURCE_REMOVE;
}

static void ring_ended(enum bot_ring_end why, void *arg)
{
    struct user_ring *ur = arg;
    struct sip_call *sc = ur->sc;
    struct sip_bridge *b = ur->b;
    /* The SIP side is told below and will not report the call gone: forget it first. */
    g_hash_table_steal(b->rings, sc);
    g_ptr_array_add(b->ended_rings, ur);
    if (!b->reap_idle)
        b->reap_idle = g_idle_add(reap_rings, b);
    switch (why) {
    case BOT_RING_REJECTED:
        sip_call_user_refused(sc, 603);
        break;
    case BOT_RING_BUSY:
        sip_call_user_refused(sc, 486);
        break;
    case BOT_RING_NO_ANSWER:
    case BOT_RING_FAILED:
        sip_call_user_refused(sc, 480);
        break;
    case BOT_RING_HANGUP:
        sip_call_user_hangup(sc);
        break;
    case BOT_RING_CANCELLED:
        break;
    }
}

static const struct bot_ring_handlers ring_handlers = {
    .ringing = ring_ringing,
    .answered = ring_answered,
    .held = ring_held,
    .ended = ring_ended,
};

/* ---- the gateway's host ---- */

static void host_notice(void *arg, const char *room_id, const char *text)
{
    struct sip_bridge *b = arg;
    bot_post_notice(b->bot, room_id, text);
}

static int host_ring_user(void *arg, const char *user_id, const char *conference,
                          const char *caller, struct sip_call *sc)
{
    struct sip_bridge *b = arg;
    struct user_ring *ur = g_new0(struct user_ring, 1);
    ur->b = b;
    ur->sc = sc;
    g_hash_table_insert(b->rings, sc, ur);
    int err = bot_ring_user(b->bot, user_id, conference, caller, &ring_handlers, ur, &ur->ring);
    if (err)
        g_hash_table_remove(b->rings, sc);
    return err;
}

static void host_user_call_gone(void *arg, struct sip_call *sc)
{
    struct sip_bridge *b = arg;
    struct user_ring *ur = g_hash_table_lookup(b->rings, sc);
    if (!ur)
        return;
    bot_ring_cancel(ur->ring); /* no handler runs after this */
    g_hash_table_remove(b->rings, sc);
}

/* ---- the bot's SIP commands ---- */

static int ops_dial(void *arg, const char *notice_room, const char *conference, const char *user,
                    const char *number, char *why, size_t whylen)
{
    struct sip_bridge *b = arg;
    return sip_gw_dial(b->gw, notice_room, conference, user, number, why, whylen);
}

static int ops_hangup(void *arg, const char *conference, const char *number)
{
    struct sip_bridge *b = arg;
    return sip_gw_hangup(b->gw, conference, number);
}

static char *ops_status(void *arg)
{
    struct sip_bridge *b = arg;
    return sip_gw_status(b->gw);
}

/* ---- the sip: section as the gateway takes it ---- */

/* The arrays point into cfg, which outlives them; the gateway copies what it keeps. */
struct sip_setup {
    struct sip_cfg cfg;
    struct sip_trunk_cfg *trunks;
    struct sip_route_in *routes;
};

static enum sip_srtp srtp_of(int s) /* enum config_sip_srtp */
{
    return s == CONFIG_SIP_SRTP_REQUIRED   ? SIP_SRTP_REQUIRED
           : s == CONFIG_SIP_SRTP_OPTIONAL ? SIP_SRTP_OPTIONAL
                                           : SIP_SRTP_OFF;
}

static void sip_setup_fill(struct sip_setup *s, const struct config *cfg,
                           struct media_workers *workers, const struct media_session_cfg *media)
{
    const struct config_sip *c = &cfg->sip;
    s->trunks = g_new0(struct sip_trunk_cfg, c->trunks.n ? c->trunks.n : 1);
    for (size_t i = 0; i < c->trunks.n; i++) {
        const struct config_sip_trunk *t = &c->trunks.v[i];
        s->trunks[i] = (struct sip_trunk_cfg){
            .name = t->name,
            .registrar = t->registrar,
            .proxy = t->proxy,
            .username = t->username,
            .password = t->password,
            .from_user = t->from_user,
            .codecs = (const char *const *)t->codecs.v,
            .ncodecs = t->codecs.n,
            .srtp = srtp_of(t->srtp),
            .allowed_sources = (const char *const *)t->allowed_sources.v,
            .nallowed_sources = t->allowed_sources.n,
            .register_expires_s = (uint32_t)t->register_expires_s,
        };
    }
    s->routes = g_new0(struct sip_route_in, c->routes.inbound.n ? c->routes.inbound.n : 1);
    for (size_t i = 0; i < c->routes.inbound.n; i++) {
        const struct config_sip_route *r = &c->routes.inbound.v[i];
        s->routes[i] = (struct sip_route_in){.number = r->number, .room = r->room, .user = r->user};
    }
    s->cfg = (struct sip_cfg){
        .listen = (const char *const *)c->listen.v,
        .nlisten = c->listen.n,
        .public_ip = c->public_ip,
        .tls_cert = c->tls_certificate,
        .tls_key = c->tls_key,
        .trunks = s->trunks,
        .ntrunks = c->trunks.n,
        .routes_in = s->routes,
        .nroutes_in = c->routes.inbound.n,
        .outbound_allowed_users = (const char *const *)c->routes.outbound.allowed_users.v,
        .noutbound_allowed_users = c->routes.outbound.allowed_users.n,
        .outbound_allowed_numbers = (const char *const *)c->routes.outbound.allowed_numbers.v,
        .noutbound_allowed_numbers = c->routes.outbound.allowed_numbers.n,
        .invite_rate_per_source = (uint32_t)c->invite_rate_per_source,
        .session_expires_s = (uint32_t)c->session_expires_s,
        .workers = workers,
        .media = *media,
        .ring_timeout_ms = (uint32_t)c->ring_timeout_s * 1000,
        .rtp_timeout_ms = (uint32_t)cfg->media.media_timeout_s * 1000,
    };
}

/* ---- life ---- */

static void bridge_destroy(void *data)
{
    struct sip_bridge *b = data;
    if (b->bot)
        bot_set_sip(b->bot, NULL);
    /* The gateway first: ending its calls tells user_call_gone, which needs the table. */
    mem_deref(b->gw);
    if (b->rings)
        g_hash_table_destroy(b->rings);
    if (b->reap_idle)
        g_source_remove(b->reap_idle);
    if (b->ended_rings)
        g_ptr_array_free(b->ended_rings, TRUE);
}

int sip_bridge_alloc(struct sip_bridge **bp, const struct config *cfg, struct bot *bot,
                     struct media_workers *workers, const struct media_session_cfg *media,
                     struct conf_registry *conferences)
{
    if (!bp || !cfg || !cfg->sip.enabled || !bot || !media)
        return EINVAL;
    struct sip_bridge *b = mem_zalloc(sizeof(*b), bridge_destroy);
    if (!b)
        return ENOMEM;
    b->rings = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, user_ring_free);
    b->ended_rings = g_ptr_array_new_with_free_func(user_ring_free);

    struct sip_setup s = {0};
    sip_setup_fill(&s, cfg, workers, media);
    struct sip_gw_host host = {
        .arg = b,
        .notice = host_notice,
        .ring_user = host_ring_user,
        .user_call_gone = host_user_call_gone,
    };
    int err = sip_gw_alloc(&b->gw, &s.cfg, conferences, &host);
    g_free(s.trunks);
    g_free(s.routes);
    if (err) {
        log_error("cannot set up the SIP side: %s", strerror(err));
        mem_deref(b);
        return err;
    }
    if ((err = sip_gw_start(b->gw))) {
        log_error("cannot start the SIP side: %s", strerror(err));
        mem_deref(b);
        return err;
    }
    b->bot = bot;
    b->ops = (struct bot_sip_ops){
        .arg = b,
        .dial = ops_dial,
        .hangup = ops_hangup,
        .status = ops_status,
    };
    bot_set_sip(bot, &b->ops);
    *bp = b;
    return 0;
}

void sip_bridge_shutdown(struct sip_bridge *b, sip_gw_stopped_h *done, void *arg)
{
    sip_gw_shutdown(b->gw, done, arg);
}
