/*
 * The ICE-lite host (see ice_lite_int.h): a socket shared by legs, the registry that finds the
 * socket of a worker, and the receive path that finds the leg of each datagram.
 *
 * The receive path, per datagram, on the worker: a first byte of 0..3 that parses as STUN is a
 * request (found by the local ufrag before ':' in USERNAME) or a response (for a private host's
 * one agent, which sent the request); anything else goes to the leg that selected its source
 * address, or is dropped and counted. Requests without USERNAME or MESSAGE-INTEGRITY are answered
 * 400, as RFC 8489 wants; requests for a ufrag nobody has are dropped without an answer, which
 * tells a scanner nothing and costs nothing.
 *
 * Takeover. Two legs cannot share a remote address on one socket: the address is what tells them
 * apart. A leg whose peer nominates an address another leg holds gets it only when that leg has
 * heard nothing from it for a while (the peer reused its port after the old call died and before
 * the old leg timed out); otherwise the nomination is refused, so that a peer with valid
 * credentials for its own leg cannot divert another leg's media by nominating that leg's address.
 *
 * Timers. Every connected leg keeps a consent timer for the life of the call. One GSource per leg
 * would make every wake-up of the worker O(legs): GLib's main loop prepares and checks each source
 * of the context on each iteration, and a busy worker wakes for nearly every datagram. So a host
 * keeps one source for all its legs' timers, whose ready time is the earliest one due; when it
 * fires it runs the due timers and scans the list for the next. Timers fire about once per leg per
 * consent period, so the scan costs little, and a wake-up for a datagram costs O(1) again.
 */
#include "media/ice_lite_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"

#define SHARED_BATCH      32
#define PRIVATE_BATCH     8
#define SHARED_PACE_US    1000 /* a busy shared socket wakes its worker at most once a ms */
#define TAKEOVER_QUIET_US (5 * G_USEC_PER_SEC)

/* ---- addresses ---- */

void lite_addr_from(struct lite_addr *k, const struct sockaddr *sa)
{
    memset(k, 0, sizeof(*k));
    k->family = sa->sa_family;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        k->port = sin->sin_port;
        memcpy(k->ip, &sin->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        k->port = sin6->sin6_port;
        memcpy(k->ip, &sin6->sin6_addr, 16);
    }
}

bool lite_addr_equal(const struct lite_addr *a, const struct lite_addr *b)
{
    return a->family == b->family && a->port == b->port && !memcmp(a->ip, b->ip, 16);
}

static guint addr_hash(gconstpointer p)
{
    const struct lite_addr *k = p;
    /* FNV-1a over the 20 bytes: cheap, and good enough for ports and addresses. */
    const uint8_t *b = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof(*k); i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static gboolean addr_equal(gconstpointer a, gconstpointer b)
{
    return lite_addr_equal(a, b);
}

/* ---- the registry ---- */

static GMutex registry_lock;
static GList *registry; /* struct lite_host *, shared ones */

static void host_destroy(void *data)
{
    struct lite_host *h = data;
    udp_mux_close(h->mux);
    mem_deref(h->mux);
    if (h->by_ufrag)
        g_hash_table_destroy(h->by_ufrag);
    if (h->by_addr)
        g_hash_table_destroy(h->by_addr);
    if (h->ctx)
        g_main_context_unref(h->ctx);
    g_free(h->timers);
    mem_deref(h->log_ctx);
}

static gboolean sweep_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    (void)src;
    return cb(data);
}

static GSourceFuncs sweep_funcs = {
    .dispatch = sweep_dispatch,
};

static void cb_unref(gpointer data)
{
    mem_deref(data);
}

static gboolean on_sweep(gpointer data);

static void on_datagram(uint8_t *pkt, size_t len, const struct sockaddr *src, socklen_t srclen,
                        int64_t now_us, void *arg);

static int host_new(struct lite_host **hp, GMainContext *ctx, const char *ip, uint16_t port_min,
                    uint16_t port_max, bool shared, const char *log_ctx)
{
    struct lite_host *h = mem_zalloc(sizeof(*h), host_destroy);
    if (!h)
        return ENOMEM;
    h->ctx = g_main_context_ref(ctx);
    h->shared = shared;
    g_strlcpy(h->ip, ip, sizeof(h->ip));
    h->port_min = port_min;
    h->port_max = port_max;
    h->log_ctx = mem_strdup(shared ? "" : (log_ctx ? log_ctx : ""));
    h->by_ufrag = g_hash_table_new(g_str_hash, g_str_equal);
    h->by_addr = g_hash_table_new(addr_hash, addr_equal);
    h->users = 1;
    atomic_init(&h->stun_bad, 0);
    atomic_init(&h->unknown_user, 0);
    atomic_init(&h->dropped, 0);
    struct udp_mux_cfg mc = {
        .ctx = ctx,
        .local_ip = ip,
        .port_min = port_min,
        .port_max = port_max,
        .batch = shared ? SHARED_BATCH : PRIVATE_BATCH,
        .batch_send = shared,
        .pace_us = shared ? SHARED_PACE_US : 0,
        .log_ctx = h->log_ctx,
    };
    int err = h->log_ctx ? udp_mux_alloc(&h->mux, &mc, on_datagram, h) : ENOMEM;
    if (err) {
        mem_deref(h);
        return err == EADDRINUSE || err == EACCES ? EADDRNOTAVAIL : err;
    }
    /* The source holds a reference: a sweep running on the worker while the last user releases
     * the host elsewhere finishes with it. */
    h->sweep_at = -1;
    h->sweep = g_source_new(&sweep_funcs, sizeof(GSource));
    g_source_set_priority(h->sweep, G_PRIORITY_DEFAULT);
    g_source_set_callback(h->sweep, on_sweep, mem_ref(h), cb_unref);
    g_source_attach(h->sweep, ctx);
    if (shared)
        log_info("ice-lite: media socket %s:%u shared by this worker's legs",
                 udp_mux_local_ip(h->mux), udp_mux_local_port(h->mux));
    *hp = h;
    return 0;
}

int lite_host_acquire(struct lite_host **hp, GMainContext *ctx, const char *ip, uint16_t port_min,
                      uint16_t port_max, bool shared, const char *log_ctx)
{
    if (!hp || !ctx || !ip)
        return EINVAL;
    if (!shared)
        return host_new(hp, ctx, ip, port_min, port_max, false, log_ctx);

    g_mutex_lock(&registry_lock);
    for (GList *l = registry; l; l = l->next) {
        struct lite_host *h = l->data;
        if (h->ctx == ctx && h->port_min == port_min && h->port_max == port_max &&
            !strcmp(h->ip, ip)) {
            h->users++;
            g_mutex_unlock(&registry_lock);
            *hp = h;
            return 0;
        }
    }
    struct lite_host *h = NULL;
    int err = host_new(&h, ctx, ip, port_min, port_max, true, log_ctx);
    if (!err)
        registry = g_list_prepend(registry, h);
    g_mutex_unlock(&registry_lock);
    if (!err)
        *hp = h;
    return err;
}

void lite_host_release(struct lite_host *h)
{
    if (!h)
        return;
    if (h->shared) {
        g_mutex_lock(&registry_lock);
        bool last = --h->users == 0;
        if (last)
            registry = g_list_remove(registry, h);
        g_mutex_unlock(&registry_lock);
        if (!last)
            return;
    }
    /* Closing waits out a receive batch running on the worker; after it nothing reaches the
     * tables, which every agent has left already. */
    udp_mux_close(h->mux);
    g_source_destroy(h->sweep);
    g_source_unref(h->sweep);
    mem_deref(h);
}

/* ---- timers (worker) ---- */

static void sweep_set(struct lite_host *h, int64_t at)
{
    if (h->sweep_at == at)
        return;
    h->sweep_at = at;
    g_source_set_ready_time(h->sweep, at);
}

void lite_host_timer_arm(struct lite_host *h, struct lite_timer *t, int64_t due_us)
{
    if (due_us <= 0)
        due_us = 1;
    if (t->idx < 0) {
        if (h->ntimers == h->timers_cap) {
            h->timers_cap = h->timers_cap ? h->timers_cap * 2 : 16;
            h->timers = g_renew(struct lite_timer *, h->timers, h->timers_cap);
        }
        t->idx = (int)h->ntimers;
        h->timers[h->ntimers++] = t;
    }
    t->due_us = due_us;
    /* While sweeping, the sweep sets the next time when it is done. */
    if (!h->sweeping && (h->sweep_at < 0 || due_us < h->sweep_at))
        sweep_set(h, due_us);
}

void lite_host_timer_stop(struct lite_host *h, struct lite_timer *t)
{
    t->due_us = 0;
    if (t->idx < 0)
        return;
    unsigned i = (unsigned)t->idx;
    t->idx = -1;
    if (h->sweeping) {
        h->timers[i] = NULL; /* the sweep is walking the list: compacted after it */
        h->holes = true;
        return;
    }
    struct lite_timer *last = h->timers[--h->ntimers];
    if (last != t) {
        h->timers[i] = last;
        last->idx = (int)i;
    }
    /* The sweep's time may now be early: it then finds nothing due and moves on. */
}

static gboolean on_sweep(gpointer data)
{
    struct lite_host *h = data;
    int64_t now = g_get_monotonic_time();
    h->sweeping = true;
    /* A timer's agent may stop any timer (or add one) from its handler: removals leave holes,
     * additions land at the end and are looked at too. */
    for (unsigned i = 0; i < h->ntimers; i++) {
        struct lite_timer *t = h->timers[i];
        if (t && t->due_us && t->due_us <= now) {
            t->due_us = 0;
            lite_agent_on_timer(t->agent, now);
        }
    }
    h->sweeping = false;
    int64_t next = -1;
    unsigned n = 0;
    for (unsigned i = 0; i < h->ntimers; i++) {
        struct lite_timer *t = h->timers[i];
        if (!t)
            continue;
        if (h->holes) {
            t->idx = (int)n;
            h->timers[n] = t;
        }
        n++;
        if (t->due_us && (next < 0 || t->due_us < next))
            next = t->due_us;
    }
    h->ntimers = n;
    h->holes = false;
    h->sweep_at = -2; /* forces the set: a fired source's ready time must move */
    sweep_set(h, next);
    return G_SOURCE_CONTINUE;
}

/* ---- tables (worker) ---- */

int lite_host_add_ufrag(struct lite_host *h, const char *ufrag, struct lite_agent *a)
{
    if (g_hash_table_contains(h->by_ufrag, ufrag))
        return EEXIST; /* 48 random bits: a collision is a bug, not bad luck */
    g_hash_table_insert(h->by_ufrag, (gpointer)ufrag, a);
    if (!h->shared)
        h->only = a;
    return 0;
}

void lite_host_remove_ufrag(struct lite_host *h, const char *ufrag, struct lite_agent *a)
{
    if (g_hash_table_lookup(h->by_ufrag, ufrag) == a)
        g_hash_table_remove(h->by_ufrag, ufrag);
}

int lite_host_select(struct lite_host *h, const struct lite_addr *k, struct lite_agent *a)
{
    struct lite_agent *owner = g_hash_table_lookup(h->by_addr, k);
    if (owner == a)
        return 0;
    if (owner) {
        if (g_get_monotonic_time() - lite_agent_last_heard(owner) < TAKEOVER_QUIET_US)
            return EADDRINUSE;
        /* The old leg keeps its selection (it is dying), it just no longer receives. */
        g_hash_table_remove(h->by_addr, k);
    }
    g_hash_table_insert(h->by_addr, (gpointer)k, a);
    return 0;
}

void lite_host_unselect(struct lite_host *h, const struct lite_addr *k, struct lite_agent *a)
{
    if (g_hash_table_lookup(h->by_addr, k) == a)
        g_hash_table_remove(h->by_addr, k);
}

int lite_host_send(struct lite_host *h, const uint8_t *pkt, size_t len, const struct sockaddr *to,
                   socklen_t tolen)
{
    return udp_mux_send_now(h->mux, pkt, len, to, tolen);
}

/* ---- receive ---- */

static void count(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void answer_bad_request(struct lite_host *h, const struct stun_msg *m,
                               const struct sockaddr *src, socklen_t srclen)
{
    uint8_t buf[128];
    struct bytes_w w = bytes_w_init(buf, sizeof(buf));
    if (!stun_w_header(&w, m->method, STUN_CLASS_ERROR, m->tid) &&
        !stun_w_error(&w, STUN_ERR_BAD_REQUEST, stun_err_reason(STUN_ERR_BAD_REQUEST)) &&
        !stun_w_fingerprint(&w))
        (void)lite_host_send(h, buf, w.len, src, srclen);
}

static void on_stun(struct lite_host *h, const uint8_t *pkt, size_t len, const struct sockaddr *src,
                    socklen_t srclen, int64_t now_us)
{
    struct stun_msg m;
    if (stun_msg_parse(&m, pkt, len) || m.method != STUN_METHOD_BINDING) {
        count(&h->stun_bad);
        return;
    }
    if (m.cls == STUN_CLASS_SUCCESS || m.cls == STUN_CLASS_ERROR) {
        if (h->only)
            lite_agent_on_response(h->only, &m, src, now_us);
        else
            count(&h->dropped);
        return;
    }
    if (m.cls == STUN_CLASS_INDICATION) {
        /* A keepalive: activity from a selected address, nothing to answer. */
        struct lite_addr k;
        lite_addr_from(&k, src);
        struct lite_agent *a = g_hash_table_lookup(h->by_addr, &k);
        if (a)
            lite_agent_on_media(a, NULL, 0, now_us);
        return;
    }
    const char *l, *r;
    size_t ll, rl;
    if (!m.integrity_at || stun_msg_username_split(&m, &l, &ll, &r, &rl)) {
        count(&h->stun_bad);
        answer_bad_request(h, &m, src, srclen);
        return;
    }
    char ufrag[ICE_CRED_MAX + 1];
    struct lite_agent *a = NULL;
    if (ll <= ICE_CRED_MAX) {
        memcpy(ufrag, l, ll);
        ufrag[ll] = '\0';
        a = g_hash_table_lookup(h->by_ufrag, ufrag);
    }
    if (!a) {
        count(&h->unknown_user);
        return;
    }
    lite_agent_on_request(a, &m, src, srclen, now_us);
}

static void on_datagram(uint8_t *pkt, size_t len, const struct sockaddr *src, socklen_t srclen,
                        int64_t now_us, void *arg)
{
    struct lite_host *h = arg;
    if (len && pkt[0] < 4) {
        on_stun(h, pkt, len, src, srclen, now_us);
        return;
    }
    struct lite_addr k;
    lite_addr_from(&k, src);
    struct lite_agent *a = g_hash_table_lookup(h->by_addr, &k);
    if (!a) {
        count(&h->dropped);
        return;
    }
    lite_agent_on_media(a, pkt, len, now_us);
}
