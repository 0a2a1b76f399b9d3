/*
 * The full-ICE backend (media.ice: full): one libnice agent per leg, with one stream and one
 * component (BUNDLE + rtcp-mux), trickle, regular nomination and RFC 7675 consent freshness, its
 * own sockets on the worker's context. This is the libnice code the WebRTC transport always had,
 * moved behind the backend interface (ice.h) unchanged in behaviour.
 *
 * libnice emits a signal from whichever thread releases its agent lock with signals pending; that
 * is nearly always the worker, but a signal can surface in a mixer thread's nice_agent_send() or in
 * the owner's call. Signal handlers therefore act directly only on the worker and re-post
 * themselves there otherwise (each post holding a reference on the agent). The NiceAgent object
 * lives until the destructor, so that a concurrent send never touches a freed agent.
 */
#include <errno.h>
#include <nice/agent.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/ice.h"

#define COMPONENT 1

struct ice_nice {
    struct ice_agent base;
    NiceAgent *agent;
    guint stream_id;
    GMainContext *worker;
    char *log_ctx;

    /* Worker only. */
    bool closed;
    bool gathering_done;
    guint state;
};

static bool on_worker(const struct ice_nice *n)
{
    return g_main_context_is_owner(n->worker);
}

/* ---- events, on the worker ---- */

static void nice_to_ice(const NiceCandidate *nc, struct ice_candidate *c)
{
    memset(c, 0, sizeof(*c));
    g_strlcpy(c->foundation, nc->foundation, sizeof(c->foundation));
    c->component = (uint16_t)nc->component_id;
    c->transport = ICE_TRANSPORT_UDP;
    c->priority = nc->priority;
    nice_address_to_string(&nc->addr, c->address);
    c->port = (uint16_t)nice_address_get_port(&nc->addr);
    switch (nc->type) {
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
        c->type = ICE_CAND_SRFLX;
        break;
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
        c->type = ICE_CAND_PRFLX;
        break;
    case NICE_CANDIDATE_TYPE_RELAYED:
        c->type = ICE_CAND_RELAY;
        break;
    default:
        c->type = ICE_CAND_HOST;
        break;
    }
    if (c->type != ICE_CAND_HOST && nice_address_is_valid(&nc->base_addr)) {
        nice_address_to_string(&nc->base_addr, c->raddr);
        c->rport = (uint16_t)nice_address_get_port(&nc->base_addr);
        c->has_raddr = true;
    }
}

static void ev_local_candidate(struct ice_nice *n, const NiceCandidate *nc)
{
    struct ice_candidate c;
    if (nc->transport != NICE_CANDIDATE_TRANSPORT_UDP || nc->component_id != COMPONENT)
        return;
    nice_to_ice(nc, &c);
    if (n->base.h.local_candidate)
        n->base.h.local_candidate(&c, n->base.arg);
}

static void ev_gathering_done(struct ice_nice *n)
{
    n->gathering_done = true;
    if (n->base.h.gathering_done)
        n->base.h.gathering_done(n->base.arg);
}

static void ev_state(struct ice_nice *n, guint state)
{
    guint prev = n->state;
    n->state = state;
    logc_debug(n->log_ctx, "webrtc: ICE %s -> %s",
               nice_component_state_to_string((NiceComponentState)prev),
               nice_component_state_to_string((NiceComponentState)state));
    enum ice_state s = ICE_STATE_CHECKING;
    if (state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY)
        s = ICE_STATE_CONNECTED;
    else if (state == NICE_COMPONENT_STATE_FAILED)
        s = ICE_STATE_FAILED;
    if (n->base.h.state)
        n->base.h.state(s, NULL, n->base.arg);
}

static void addr_string(const NiceCandidate *c, char *out, size_t cap)
{
    char ip[NICE_ADDRESS_STRING_LEN];
    nice_address_to_string(&c->addr, ip);
    if (nice_address_ip_version(&c->addr) == 6)
        snprintf(out, cap, "[%s]:%u", ip, nice_address_get_port(&c->addr));
    else
        snprintf(out, cap, "%s:%u", ip, nice_address_get_port(&c->addr));
}

static void ev_selected_pair(struct ice_nice *n, const NiceCandidate *l, const NiceCandidate *r)
{
    char la[64], ra[64];
    addr_string(l, la, sizeof(la));
    addr_string(r, ra, sizeof(ra));
    if (n->base.h.selected_pair)
        n->base.h.selected_pair(la, ra, n->base.arg);
}

static void on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
                    gpointer data)
{
    struct ice_nice *n = data;
    if (!n->closed && n->base.h.recv)
        n->base.h.recv((uint8_t *)buf, len, n->base.arg);
}

/* ---- signals: act on the worker, re-post from anywhere else ---- */

enum post_kind {
    P_STATE,
    P_NEW_CAND,
    P_GATHER_DONE,
    P_PAIR,
};

struct post {
    struct ice_nice *n; /* referenced */
    enum post_kind kind;
    guint state;
    NiceCandidate *nc[2];
};

static gboolean post_run(gpointer data)
{
    struct post *p = data;
    struct ice_nice *n = p->n;
    if (n->closed)
        return G_SOURCE_REMOVE;
    switch (p->kind) {
    case P_STATE:
        ev_state(n, p->state);
        break;
    case P_NEW_CAND:
        ev_local_candidate(n, p->nc[0]);
        break;
    case P_GATHER_DONE:
        ev_gathering_done(n);
        break;
    case P_PAIR:
        ev_selected_pair(n, p->nc[0], p->nc[1]);
        break;
    }
    return G_SOURCE_REMOVE;
}

static void post_free(gpointer data)
{
    struct post *p = data;
    if (p->nc[0])
        nice_candidate_free(p->nc[0]);
    if (p->nc[1])
        nice_candidate_free(p->nc[1]);
    mem_deref(p->n);
    g_free(p);
}

static void post(struct ice_nice *n, enum post_kind kind, guint state, const NiceCandidate *a,
                 const NiceCandidate *b)
{
    struct post *p = g_new0(struct post, 1);
    p->n = mem_ref(n);
    p->kind = kind;
    p->state = state;
    p->nc[0] = a ? nice_candidate_copy(a) : NULL;
    p->nc[1] = b ? nice_candidate_copy(b) : NULL;
    GSource *src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, post_run, p, post_free);
    g_source_attach(src, n->worker);
    g_source_unref(src);
}

static void sig_state(NiceAgent *agent, guint stream_id, guint component_id, guint state,
                      gpointer data)
{
    struct ice_nice *n = data;
    if (stream_id != n->stream_id || component_id != COMPONENT)
        return;
    if (!on_worker(n))
        post(n, P_STATE, state, NULL, NULL);
    else if (!n->closed)
        ev_state(n, state);
}

static void sig_new_candidate(NiceAgent *agent, NiceCandidate *cand, gpointer data)
{
    struct ice_nice *n = data;
    if (cand->stream_id != n->stream_id)
        return;
    if (!on_worker(n))
        post(n, P_NEW_CAND, 0, cand, NULL);
    else if (!n->closed)
        ev_local_candidate(n, cand);
}

static void sig_gathering_done(NiceAgent *agent, guint stream_id, gpointer data)
{
    struct ice_nice *n = data;
    if (stream_id != n->stream_id)
        return;
    if (!on_worker(n))
        post(n, P_GATHER_DONE, 0, NULL, NULL);
    else if (!n->closed)
        ev_gathering_done(n);
}

static void sig_selected_pair(NiceAgent *agent, guint stream_id, guint component_id,
                              NiceCandidate *l, NiceCandidate *r, gpointer data)
{
    struct ice_nice *n = data;
    if (stream_id != n->stream_id || component_id != COMPONENT)
        return;
    if (!on_worker(n))
        post(n, P_PAIR, 0, l, r);
    else if (!n->closed)
        ev_selected_pair(n, l, r);
}

/* ---- operations ---- */

static struct ice_nice *nice_of(struct ice_agent *a)
{
    return (struct ice_nice *)a;
}

static int op_gather(struct ice_agent *a)
{
    struct ice_nice *n = nice_of(a);
    return nice_agent_gather_candidates(n->agent, n->stream_id) ? 0 : EADDRNOTAVAIL;
}

static void op_set_remote_credentials(struct ice_agent *a, const char *ufrag, const char *pwd)
{
    struct ice_nice *n = nice_of(a);
    nice_agent_set_remote_credentials(n->agent, n->stream_id, ufrag, pwd);
}

static void op_restart(struct ice_agent *a, const char *ufrag, const char *pwd)
{
    struct ice_nice *n = nice_of(a);
    nice_agent_restart_stream(n->agent, n->stream_id);
    nice_agent_set_local_credentials(n->agent, n->stream_id, ufrag, pwd);
    GSList *cands = nice_agent_get_local_candidates(n->agent, n->stream_id, COMPONENT);
    for (GSList *l = cands; l; l = l->next)
        ev_local_candidate(n, l->data);
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    if (n->gathering_done && n->base.h.gathering_done)
        n->base.h.gathering_done(n->base.arg);
}

static void op_add_remote_candidate(struct ice_agent *a, const struct ice_candidate *c)
{
    struct ice_nice *n = nice_of(a);
    NiceCandidateType type = NICE_CANDIDATE_TYPE_HOST;
    switch (c->type) {
    case ICE_CAND_SRFLX:
        type = NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
        break;
    case ICE_CAND_PRFLX:
        type = NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
        break;
    case ICE_CAND_RELAY:
        type = NICE_CANDIDATE_TYPE_RELAYED;
        break;
    case ICE_CAND_HOST:
        break;
    }
    NiceCandidate *nc = nice_candidate_new(type);
    nc->stream_id = n->stream_id;
    nc->component_id = COMPONENT;
    nc->transport = NICE_CANDIDATE_TRANSPORT_UDP;
    nc->priority = c->priority;
    g_strlcpy(nc->foundation, c->foundation, sizeof(nc->foundation));
    if (!nice_address_set_from_string(&nc->addr, c->address)) {
        nice_candidate_free(nc);
        return;
    }
    nice_address_set_port(&nc->addr, c->port);
    if (c->has_raddr && nice_address_set_from_string(&nc->base_addr, c->raddr))
        nice_address_set_port(&nc->base_addr, c->rport);

    GSList one = {.data = nc, .next = NULL};
    int added = nice_agent_set_remote_candidates(n->agent, n->stream_id, COMPONENT, &one);
    if (added < 1)
        logc_debug(n->log_ctx, "webrtc: remote candidate %s:%u not added", c->address,
                   (unsigned)c->port);
    nice_candidate_free(nc);
}

static void op_remote_gathering_done(struct ice_agent *a)
{
    struct ice_nice *n = nice_of(a);
    nice_agent_peer_candidate_gathering_done(n->agent, n->stream_id);
}

static void op_revoke_consent(struct ice_agent *a)
{
    struct ice_nice *n = nice_of(a);
    nice_agent_consent_lost(n->agent, n->stream_id, COMPONENT);
}

static int op_send(struct ice_agent *a, const uint8_t *pkt, size_t len)
{
    struct ice_nice *n = nice_of(a);
    gint sent = nice_agent_send(n->agent, n->stream_id, COMPONENT, (guint)len, (const gchar *)pkt);
    return sent == (gint)len ? 0 : EAGAIN;
}

static void op_teardown(struct ice_agent *a)
{
    struct ice_nice *n = nice_of(a);
    if (n->closed)
        return;
    n->closed = true;
    g_signal_handlers_disconnect_by_data(n->agent, n);
    if (n->stream_id) {
        nice_agent_attach_recv(n->agent, n->stream_id, COMPONENT, n->worker, NULL, NULL);
        nice_agent_remove_stream(n->agent, n->stream_id);
    }
}

static bool op_is_lite(const struct ice_agent *a)
{
    return false;
}

static void op_stats(const struct ice_agent *a, struct ice_agent_stats *st)
{
    memset(st, 0, sizeof(*st)); /* libnice counts nothing we could show */
}

static const struct ice_agent_ops nice_ops = {
    .gather = op_gather,
    .set_remote_credentials = op_set_remote_credentials,
    .restart = op_restart,
    .add_remote_candidate = op_add_remote_candidate,
    .remote_gathering_done = op_remote_gathering_done,
    .revoke_consent = op_revoke_consent,
    .send = op_send,
    .teardown = op_teardown,
    .is_lite = op_is_lite,
    .stats = op_stats,
};

static void nice_destroy(void *data)
{
    struct ice_nice *n = data;
    if (n->agent)
        g_object_unref(n->agent);
    if (n->worker)
        g_main_context_unref(n->worker);
    mem_deref(n->log_ctx);
}

int ice_nice_alloc(struct ice_agent **ap, const struct ice_agent_cfg *cfg,
                   const struct ice_agent_handlers *h, void *arg)
{
    NiceAddress addr;

    if (!ap || !cfg || !h || !cfg->worker || !cfg->local_ip || !cfg->ufrag || !cfg->pwd)
        return EINVAL;
    nice_address_init(&addr);
    if (!nice_address_set_from_string(&addr, cfg->local_ip))
        return EINVAL;
    struct ice_nice *n = mem_zalloc(sizeof(*n), nice_destroy);
    if (!n)
        return ENOMEM;
    n->base.ops = &nice_ops;
    n->base.h = *h;
    n->base.arg = arg;
    n->worker = g_main_context_ref(cfg->worker);
    n->log_ctx = mem_strdup(cfg->log_ctx ? cfg->log_ctx : "");
    n->state = NICE_COMPONENT_STATE_DISCONNECTED;
    n->agent =
        nice_agent_new_full(n->worker, NICE_COMPATIBILITY_RFC5245,
                            NICE_AGENT_OPTION_ICE_TRICKLE | NICE_AGENT_OPTION_CONSENT_FRESHNESS |
                                NICE_AGENT_OPTION_REGULAR_NOMINATION);
    if (!n->log_ctx || !n->agent) {
        mem_deref(n);
        return ENOMEM;
    }
    g_object_set(n->agent, "controlling-mode", (gboolean)cfg->controlling, "upnp", FALSE, "ice-tcp",
                 FALSE, "ice-udp", TRUE, NULL);
    nice_agent_add_local_address(n->agent, &addr);
    n->stream_id = nice_agent_add_stream(n->agent, 1);
    if (!n->stream_id) {
        mem_deref(n);
        return ENOMEM;
    }
    if (cfg->port_min)
        nice_agent_set_port_range(n->agent, n->stream_id, COMPONENT, cfg->port_min, cfg->port_max);
    nice_agent_set_local_credentials(n->agent, n->stream_id, cfg->ufrag, cfg->pwd);

    g_signal_connect(n->agent, "component-state-changed", G_CALLBACK(sig_state), n);
    g_signal_connect(n->agent, "new-candidate-full", G_CALLBACK(sig_new_candidate), n);
    g_signal_connect(n->agent, "candidate-gathering-done", G_CALLBACK(sig_gathering_done), n);
    g_signal_connect(n->agent, "new-selected-pair-full", G_CALLBACK(sig_selected_pair), n);
    nice_agent_attach_recv(n->agent, n->stream_id, COMPONENT, n->worker, on_recv, n);
    *ap = &n->base;
    return 0;
}
