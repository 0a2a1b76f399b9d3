/*
 * The ICE-lite backend's agent (see ice.h for what the mode is, ice_lite_int.h for the host it
 * shares): one leg's credentials, role, selected address and consent.
 *
 * Controlled (we answered, our SDP says a=ice-lite). We never send a check. A request for our
 * ufrag is authenticated with our password (a wrong MESSAGE-INTEGRITY gets 401 and changes
 * nothing), answered with XOR-MAPPED-ADDRESS, and when it nominates (USE-CANDIDATE, in regular or
 * aggressive nomination alike) its source becomes the selected address: the only one media go
 * to and come from. The peer's consent checks and its media keep consent; nothing heard for the
 * consent timeout fails the leg. A full agent that also thinks it is controlled gets 487 (a lite
 * agent cannot take control) and, per RFC 8445 7.2.5.1, switches.
 *
 * Controlling (we offered; the peer may be full or lite). We check each remote candidate with
 * USE-CANDIDATE and ICE-CONTROLLING: one transmission every Ta = 50 ms (RFC 8445 14.2), the
 * triggered ones first, each transaction retransmitted after an RTO of 500 ms that doubles, up to
 * seven transmissions (RFC 8445 14.3, RFC 8489 6.2.1). The first success selects its address. The
 * peer's own checks are answered like above and, from an address we do not know yet, become a
 * peer-reflexive candidate checked at once (mDNS peers reach us that way). Consent is kept with a
 * check every ~5 s (RFC 7675), whose responses alone refresh it. A role conflict is settled by the
 * tie-breakers (RFC 8445 7.3.1.1).
 *
 * ICE restart: the new ufrag is reachable at once, the old one stays answered (and media keep
 * flowing over the old address) until the new generation nominates.
 *
 * Threads: the send path (any thread) reads the selected address under a per-leg mutex, nothing
 * shared with other legs; everything else runs on the worker.
 */
#include "media/ice_lite_agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"

static struct lite_agent *lite_of(struct ice_agent *a)
{
    return (struct lite_agent *)a;
}

static void stop_source(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

void lite_arm(struct lite_agent *a, GSource **slot, unsigned ms, GSourceFunc fn)
{
    stop_source(slot);
    *slot = g_timeout_source_new(ms);
    g_source_set_callback(*slot, fn, a, NULL);
    g_source_attach(*slot, a->ctx);
}

int64_t lite_agent_last_heard(const struct lite_agent *a)
{
    return a->last_heard_us;
}

/* ---- events ---- */

static void emit_state(struct lite_agent *a, enum ice_state s, const char *detail)
{
    if (a->base.h.state)
        a->base.h.state(s, detail, a->base.arg);
}

static void consent_stop(struct lite_agent *a)
{
    if (a->host)
        lite_host_timer_stop(a->host, &a->consent_timer);
}

void lite_fail(struct lite_agent *a, const char *detail)
{
    if (a->failed)
        return;
    a->failed = true;
    stop_source(&a->check_timer);
    consent_stop(a);
    g_mutex_lock(&a->tx_lock);
    a->tx_ok = false; /* RFC 7675: no consent, no sending */
    g_mutex_unlock(&a->tx_lock);
    emit_state(a, ICE_STATE_FAILED, detail);
}

static void emit_candidate(struct lite_agent *a)
{
    struct ice_candidate c;
    memset(&c, 0, sizeof(c));
    g_strlcpy(c.foundation, "1", sizeof(c.foundation));
    c.component = 1;
    c.transport = ICE_TRANSPORT_UDP;
    c.priority = HOST_PRIORITY;
    g_strlcpy(c.address, udp_mux_local_ip(a->host->mux), sizeof(c.address));
    c.port = udp_mux_local_port(a->host->mux);
    c.type = ICE_CAND_HOST;
    if (a->base.h.local_candidate)
        a->base.h.local_candidate(&c, a->base.arg);
    if (a->base.h.gathering_done)
        a->base.h.gathering_done(a->base.arg);
}

/* ---- consent ---- */

static void consent_arm(struct lite_agent *a, int64_t now)
{
    unsigned ms;
    if (a->checker) {
        unsigned period =
            a->consent_timeout_ms / 3 < CONSENT_PERIOD ? a->consent_timeout_ms / 3 : CONSENT_PERIOD;
        ms = period * 4 / 5 + g_random_int_range(0, (gint)(period * 2 / 5) + 1);
    } else {
        int64_t due = a->last_heard_us + (int64_t)a->consent_timeout_ms * 1000;
        ms = due > now ? (unsigned)((due - now + 999) / 1000) : 1;
    }
    lite_host_timer_arm(a->host, &a->consent_timer, now + (int64_t)(ms ? ms : 1) * 1000);
}

void lite_agent_on_timer(struct lite_agent *a, int64_t now)
{
    if (a->closed || a->failed || !a->selected)
        return;
    int64_t last = a->checker ? a->last_ok_us : a->last_heard_us;
    if (now - last >= (int64_t)a->consent_timeout_ms * 1000) {
        char detail[160];
        snprintf(detail, sizeof(detail),
                 a->checker ? "consent lost (RFC 7675): no answer to our checks for %u ms"
                            : "consent lost (RFC 7675): no check and no packet from the peer "
                              "for %u ms",
                 (unsigned)a->consent_timeout_ms);
        logc_info(a->log_ctx, "ice-lite: %s", detail);
        lite_fail(a, detail);
        return;
    }
    if (a->checker && a->has_remote) {
        if (!stun_tid_random(a->consent_tid)) {
            a->consent_pending = true;
            lite_send_check(a, (struct sockaddr *)&a->sel_addr, a->sel_len, a->consent_tid, false);
        }
    }
    consent_arm(a, now);
}

/* ---- selection ---- */

static void drop_prev(struct lite_agent *a)
{
    if (!a->has_prev)
        return;
    lite_host_remove_ufrag(a->host, a->prev.ufrag, a);
    a->has_prev = false;
}

static void select_addr(struct lite_agent *a, const struct sockaddr *src, socklen_t srclen,
                        int64_t now)
{
    struct lite_addr k;
    lite_addr_from(&k, src);
    bool same = a->selected && lite_addr_equal(&k, &a->sel_key);
    if (!same) {
        char s[80];
        /* The table keeps a pointer to our key: switch it over in place. */
        if (a->selected)
            lite_host_unselect(a->host, &a->sel_key, a);
        struct lite_addr old = a->sel_key;
        a->sel_key = k;
        if (lite_host_select(a->host, &a->sel_key, a)) {
            udp_mux_addr_string(src, s, sizeof(s));
            logc_warn(a->log_ctx,
                      "ice-lite: %s is in use by another call on this socket: not selected", s);
            a->sel_key = old;
            if (a->selected)
                (void)lite_host_select(a->host, &a->sel_key, a);
            return;
        }
        memcpy(&a->sel_addr, src, srclen);
        a->sel_len = srclen;
        g_mutex_lock(&a->tx_lock);
        memcpy(&a->tx_addr, src, srclen);
        a->tx_len = srclen;
        a->tx_mux = a->host->mux;
        a->tx_ok = true;
        g_mutex_unlock(&a->tx_lock);
        bool first = !a->selected;
        a->selected = true;
        a->last_heard_us = a->last_ok_us = now;
        udp_mux_addr_string(src, s, sizeof(s));
        logc_debug(a->log_ctx, "ice-lite: selected %s%s", s, first ? "" : " (changed)");
        if (a->base.h.selected_pair) {
            char local[80];
            socklen_t ll;
            udp_mux_addr_string(udp_mux_local_addr(a->host->mux, &ll), local, sizeof(local));
            a->base.h.selected_pair(local, s, a->base.arg);
        }
    }
    if (!a->connected) {
        a->connected = true;
        drop_prev(a);
        stop_source(&a->check_timer);
        a->last_heard_us = a->last_ok_us = now;
        consent_arm(a, now);
        emit_state(a, ICE_STATE_CONNECTED, NULL);
    }
}

/* ---- STUN in (from the host, on the worker) ---- */

static const struct cred *cred_for(struct lite_agent *a, const struct stun_msg *m, bool *current)
{
    const char *l, *r;
    size_t ll, rl;
    if (stun_msg_username_split(m, &l, &ll, &r, &rl))
        return NULL;
    if (strlen(a->cur.ufrag) == ll && !memcmp(a->cur.ufrag, l, ll)) {
        *current = true;
        return &a->cur;
    }
    if (a->has_prev && strlen(a->prev.ufrag) == ll && !memcmp(a->prev.ufrag, l, ll)) {
        *current = false;
        return &a->prev;
    }
    return NULL;
}

void lite_agent_on_request(struct lite_agent *a, const struct stun_msg *m,
                           const struct sockaddr *src, socklen_t srclen, int64_t now)
{
    bool current = false;
    const struct cred *c = cred_for(a, m, &current);
    if (a->closed || !c)
        return;
    int err = stun_msg_check_integrity(m, (const uint8_t *)c->pwd, strlen(c->pwd));
    if (err) {
        char s[80];
        udp_mux_addr_string(src, s, sizeof(s));
        logc_debug(a->log_ctx, "ice-lite: check from %s with a wrong password: 401", s);
        atomic_fetch_add_explicit(&a->unauthorized, 1, memory_order_relaxed);
        lite_answer_error(a, m, STUN_ERR_UNAUTHORIZED, NULL, src, srclen);
        return;
    }
    if (m->nunknown) {
        lite_answer_error(a, m, STUN_ERR_UNKNOWN_ATTRIBUTE, c->pwd, src, srclen);
        return;
    }
    if (a->revoked) {
        lite_answer_error(a, m, STUN_ERR_FORBIDDEN, c->pwd, src, srclen);
        return;
    }
    /* Role conflicts (RFC 8445 7.3.1.1). Without a side that can check, a lite agent answers 487
     * whatever the tie-breakers say: the full peer must be the controlling one. */
    if (m->role == STUN_ROLE_CONTROLLED && !a->controlling) {
        if (!a->checker || a->tiebreaker >= m->tiebreaker) {
            lite_answer_error(a, m, STUN_ERR_ROLE_CONFLICT, c->pwd, src, srclen);
            return;
        }
        a->controlling = true;
    } else if (m->role == STUN_ROLE_CONTROLLING && a->controlling) {
        if (a->tiebreaker >= m->tiebreaker) {
            lite_answer_error(a, m, STUN_ERR_ROLE_CONFLICT, c->pwd, src, srclen);
            return;
        }
        a->controlling = false;
    }
    lite_answer_success(a, m, c->pwd, src, srclen);
    atomic_fetch_add_explicit(&a->checks, 1, memory_order_relaxed);

    struct lite_addr k;
    lite_addr_from(&k, src);
    if (a->selected && lite_addr_equal(&k, &a->sel_key))
        a->last_heard_us = now;
    if (a->failed)
        return;
    if (!a->controlling && m->use_candidate && current)
        select_addr(a, src, srclen, now);
    else if (a->checker && a->controlling && current && !a->connected)
        lite_triggered_check(a, src, srclen);
}

void lite_agent_on_response(struct lite_agent *a, const struct stun_msg *m,
                            const struct sockaddr *src, int64_t now)
{
    if (a->closed || a->failed || !a->has_remote)
        return;
    if (stun_msg_check_integrity(m, (const uint8_t *)a->rpwd, strlen(a->rpwd)))
        return; /* not from our peer (or not for this generation) */
    struct lite_addr k;
    lite_addr_from(&k, src);

    if (a->consent_pending && !memcmp(m->tid, a->consent_tid, STUN_TID_LEN) && a->selected &&
        lite_addr_equal(&k, &a->sel_key)) {
        a->consent_pending = false;
        if (m->cls == STUN_CLASS_SUCCESS) {
            a->last_ok_us = a->last_heard_us = now;
        } else if (m->has_error && m->error_code == STUN_ERR_FORBIDDEN) {
            logc_info(a->log_ctx, "ice-lite: the peer revoked consent (403)");
            lite_fail(a, "consent revoked by the peer (RFC 7675)");
        }
        return;
    }
    struct pair *p = NULL;
    for (unsigned i = 0; i < a->npairs; i++) {
        if (a->pairs[i].state == PAIR_IN_PROGRESS &&
            !memcmp(a->pairs[i].tid, m->tid, STUN_TID_LEN)) {
            p = &a->pairs[i];
            break;
        }
    }
    if (!p || !lite_addr_equal(&k, &p->key))
        return; /* RFC 8445 7.2.5.2.1: the response must come from where the request went */
    if (m->cls == STUN_CLASS_SUCCESS) {
        p->state = PAIR_SUCCEEDED;
        if (p->nominating && a->controlling)
            select_addr(a, (struct sockaddr *)&p->addr, p->len, now);
        return;
    }
    if (m->has_error && m->error_code == STUN_ERR_ROLE_CONFLICT) {
        /* RFC 8445 7.2.5.1: switch roles and check again. */
        a->controlling = !a->controlling;
        logc_debug(a->log_ctx, "ice-lite: role conflict, now %s",
                   a->controlling ? "controlling" : "controlled");
        p->state = PAIR_WAITING;
        p->triggered = true;
        lite_checks_kick(a);
        return;
    }
    p->state = PAIR_FAILED;
}

void lite_agent_on_media(struct lite_agent *a, uint8_t *pkt, size_t len, int64_t now)
{
    if (a->closed)
        return;
    a->last_heard_us = now;
    if (pkt && len && !a->failed && a->base.h.recv)
        a->base.h.recv(pkt, len, a->base.arg);
}

/* ---- operations (worker) ---- */

static int register_cur(struct lite_agent *a)
{
    int err = lite_host_add_ufrag(a->host, a->cur.ufrag, a);
    if (err) {
        logc_error(a->log_ctx, "ice-lite: local ufrag already in use on this socket");
        return err;
    }
    a->has_cur_reg = true;
    return 0;
}

static int op_gather(struct ice_agent *base)
{
    struct lite_agent *a = lite_of(base);
    if (a->closed)
        return EINVAL;
    if (a->gathered)
        return 0;
    if (!a->host) {
        int err = lite_host_acquire(&a->host, a->ctx, a->ip, a->port_min, a->port_max, !a->checker,
                                    a->log_ctx);
        if (err)
            return err;
    }
    int err = register_cur(a);
    if (err)
        return err;
    a->gathered = true;
    emit_candidate(a);
    lite_checks_kick(a);
    return 0;
}

static void op_set_remote_credentials(struct ice_agent *base, const char *ufrag, const char *pwd)
{
    struct lite_agent *a = lite_of(base);
    g_strlcpy(a->rufrag, ufrag, sizeof(a->rufrag));
    g_strlcpy(a->rpwd, pwd, sizeof(a->rpwd));
    a->has_remote = true;
    lite_checks_kick(a);
}

static void op_restart(struct ice_agent *base, const char *ufrag, const char *pwd)
{
    struct lite_agent *a = lite_of(base);
    if (a->closed)
        return;
    if (a->has_cur_reg) {
        drop_prev(a); /* a restart during a restart: the oldest goes */
        a->prev = a->cur;
        a->has_prev = true;
        a->has_cur_reg = false;
    }
    g_strlcpy(a->cur.ufrag, ufrag, sizeof(a->cur.ufrag));
    g_strlcpy(a->cur.pwd, pwd, sizeof(a->cur.pwd));
    a->has_remote = false;
    a->remote_done = false;
    a->connected = false;
    a->npairs = 0;
    a->consent_pending = false;
    a->controlling = a->checker;
    stop_source(&a->check_timer);
    if (a->checker)
        consent_stop(a); /* its checks would use the old credentials */
    emit_state(a, ICE_STATE_CHECKING, NULL);
    if (a->gathered) {
        if (register_cur(a)) {
            lite_fail(a, "cannot register the new ICE credentials");
            return;
        }
        emit_candidate(a);
    }
}

static void op_add_remote_candidate(struct ice_agent *base, const struct ice_candidate *c)
{
    struct lite_agent *a = lite_of(base);
    if (!a->checker || a->closed)
        return; /* a lite agent checks nothing: the peer's checks tell it everything */
    struct sockaddr_storage sa;
    socklen_t len;
    if (udp_mux_sockaddr(c->address, c->port, &sa, &len))
        return;
    if (a->host) {
        socklen_t ll;
        if (udp_mux_local_addr(a->host->mux, &ll)->sa_family != sa.ss_family)
            return;
    }
    if (!lite_pair_add(a, (struct sockaddr *)&sa, len))
        logc_debug(a->log_ctx, "ice-lite: too many remote candidates, %s:%u ignored", c->address,
                   (unsigned)c->port);
    lite_checks_kick(a);
}

static void op_remote_gathering_done(struct ice_agent *base)
{
    struct lite_agent *a = lite_of(base);
    a->remote_done = true;
    if (a->checker && !a->connected && !a->failed && !a->check_timer && a->npairs) {
        bool active = false;
        for (unsigned i = 0; i < a->npairs; i++)
            active |= a->pairs[i].state != PAIR_FAILED;
        if (!active)
            lite_fail(a, "connectivity checks failed on every candidate pair");
    }
}

static void op_revoke_consent(struct ice_agent *base)
{
    lite_of(base)->revoked = true;
}

static int op_send(struct ice_agent *base, const uint8_t *pkt, size_t len)
{
    struct lite_agent *a = lite_of(base);
    struct sockaddr_storage to;
    socklen_t tolen;
    struct udp_mux *mux;

    g_mutex_lock(&a->tx_lock);
    bool ok = a->tx_ok;
    if (ok) {
        memcpy(&to, &a->tx_addr, a->tx_len);
        tolen = a->tx_len;
        mux = a->tx_mux;
    }
    g_mutex_unlock(&a->tx_lock);
    if (!ok)
        return EAGAIN;
    return udp_mux_send(mux, pkt, len, (struct sockaddr *)&to, tolen);
}

static void op_teardown(struct ice_agent *base)
{
    struct lite_agent *a = lite_of(base);
    if (a->closed)
        return;
    a->closed = true;
    stop_source(&a->check_timer);
    consent_stop(a);
    g_mutex_lock(&a->tx_lock);
    a->tx_ok = false;
    g_mutex_unlock(&a->tx_lock);
    if (!a->host)
        return;
    if (a->has_cur_reg)
        lite_host_remove_ufrag(a->host, a->cur.ufrag, a);
    drop_prev(a);
    if (a->selected)
        lite_host_unselect(a->host, &a->sel_key, a);
    if (a->host->only == a)
        a->host->only = NULL;
}

static bool op_is_lite(const struct ice_agent *base)
{
    return !((const struct lite_agent *)base)->checker;
}

static void op_stats(const struct ice_agent *base, struct ice_agent_stats *st)
{
    struct lite_agent *a = (struct lite_agent *)base; /* atomics read through non-const */
    st->checks = atomic_load_explicit(&a->checks, memory_order_relaxed);
    st->unauthorized = atomic_load_explicit(&a->unauthorized, memory_order_relaxed);
}

static const struct ice_agent_ops lite_ops = {
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

static void lite_destroy(void *data)
{
    struct lite_agent *a = data;
    /* Teardown ran on the worker (the transport's close); the host may go with us. */
    lite_host_release(a->host);
    g_mutex_clear(&a->tx_lock);
    explicit_bzero(&a->cur, sizeof(a->cur));
    explicit_bzero(&a->prev, sizeof(a->prev));
    explicit_bzero(a->rpwd, sizeof(a->rpwd));
    if (a->ctx)
        g_main_context_unref(a->ctx);
    mem_deref(a->log_ctx);
}

int ice_lite_alloc(struct ice_agent **ap, const struct ice_agent_cfg *cfg,
                   const struct ice_agent_handlers *h, void *arg)
{
    struct sockaddr_storage sa;
    socklen_t salen;

    if (!ap || !cfg || !h || !cfg->worker || !cfg->local_ip || !cfg->ufrag || !cfg->pwd)
        return EINVAL;
    if (udp_mux_sockaddr(cfg->local_ip, 0, &sa, &salen) || strlen(cfg->ufrag) > ICE_CRED_MAX ||
        strlen(cfg->pwd) > ICE_CRED_MAX)
        return EINVAL;
    if (cfg->port_max < cfg->port_min || (cfg->port_max && !cfg->port_min))
        return EINVAL;
    struct lite_agent *a = mem_zalloc(sizeof(*a), lite_destroy);
    if (!a)
        return ENOMEM;
    g_mutex_init(&a->tx_lock);
    a->consent_timer.agent = a;
    a->consent_timer.idx = -1;
    a->base.ops = &lite_ops;
    a->base.h = *h;
    a->base.arg = arg;
    a->ctx = g_main_context_ref(cfg->worker);
    a->log_ctx = mem_strdup(cfg->log_ctx ? cfg->log_ctx : "");
    a->checker = cfg->controlling;
    a->controlling = cfg->controlling;
    a->consent_timeout_ms =
        cfg->consent_timeout_ms ? cfg->consent_timeout_ms : ICE_CONSENT_TIMEOUT_MS;
    /* The canonical text of the address, so that the registry finds one socket per address. */
    if (sa.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, a->ip, sizeof(a->ip));
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, a->ip, sizeof(a->ip));
    a->port_min = cfg->port_min;
    a->port_max = cfg->port_max;
    g_strlcpy(a->cur.ufrag, cfg->ufrag, sizeof(a->cur.ufrag));
    g_strlcpy(a->cur.pwd, cfg->pwd, sizeof(a->cur.pwd));
    if (RAND_bytes((unsigned char *)&a->tiebreaker, sizeof(a->tiebreaker)) != 1 || !a->log_ctx) {
        mem_deref(a);
        return ENOMEM;
    }
    *ap = &a->base;
    return 0;
}
