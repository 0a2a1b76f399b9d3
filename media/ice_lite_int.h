/*
 * The ICE-lite backend's two halves and what they share. Private to media/ice_lite.c (the agent:
 * one leg's credentials, role, checks, selection and consent) and media/ice_lite_host.c (the
 * host: a socket and the tables that find the leg a datagram belongs to).
 *
 * A host is one udp_mux plus two hash tables on the worker that owns it: local ufrag -> agent
 * for STUN requests, selected remote address -> agent for everything else. Controlled (answering)
 * legs share one host per (worker context, address, port range), found in a process-wide
 * registry and kept while any leg uses it; a controlling leg has a private host of its own, so
 * that the peer can tell our legs apart by address. Only the registry is locked (at acquire and
 * release); the tables are touched on the worker only, so the receive path takes no lock but the
 * mux's own once per batch.
 */
#ifndef SB_MEDIA_ICE_LITE_INT_H
#define SB_MEDIA_ICE_LITE_INT_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media/ice.h"
#include "media/stun.h"
#include "media/udp_mux.h"

/* A remote transport address as a hash key. */
struct lite_addr {
    uint16_t family;
    uint16_t port; /* network order */
    uint8_t ip[16];
};

void lite_addr_from(struct lite_addr *k, const struct sockaddr *sa);
bool lite_addr_equal(const struct lite_addr *a, const struct lite_addr *b);

struct lite_agent;

/* A one-shot timer of an agent, run by its host's sweep (see ice_lite_host.c). Worker only. */
struct lite_timer {
    struct lite_agent *agent;
    int64_t due_us; /* monotonic; 0: not armed */
    int idx;        /* in the host's list, -1: not in it */
};

struct lite_host {
    /* Fixed at creation. */
    GMainContext *ctx;
    bool shared;
    char ip[64]; /* registry key with the range (shared hosts) */
    uint16_t port_min, port_max;
    struct udp_mux *mux;
    char *log_ctx;

    unsigned users; /* under the registry lock */

    /* Worker only. */
    GHashTable *by_ufrag;    /* const char * (the agent's string) -> struct lite_agent * */
    GHashTable *by_addr;     /* const struct lite_addr * (the agent's) -> struct lite_agent * */
    struct lite_agent *only; /* a private host's one agent: STUN responses go to it */
    GSource *sweep;          /* one source for every agent's timer; made at creation */
    struct lite_timer **timers;
    unsigned ntimers, timers_cap;
    int64_t sweep_at; /* the sweep's ready time, -1: none */
    bool sweeping, holes;

    /* Relaxed atomics: the worker counts, anyone reads. */
    atomic_uint_fast64_t stun_bad, unknown_user, dropped;
};

/* A host for ctx and ip in the range: shared ones from the registry (created on first use),
 * private ones always new. EADDRNOTAVAIL when no port is free, EINVAL, ENOMEM. Any thread. */
int lite_host_acquire(struct lite_host **hp, GMainContext *ctx, const char *ip, uint16_t port_min,
                      uint16_t port_max, bool shared, const char *log_ctx);
/* Drops a use; the last one closes the socket and frees the host. Any thread; every agent on it
 * must be unregistered. */
void lite_host_release(struct lite_host *h);

/* Worker only. */
int lite_host_add_ufrag(struct lite_host *h, const char *ufrag, struct lite_agent *a);
void lite_host_remove_ufrag(struct lite_host *h, const char *ufrag, struct lite_agent *a);
/* Routes datagrams from k to a. EADDRINUSE while another leg that has heard from that address
 * recently holds it (see ice_lite_host.c). */
int lite_host_select(struct lite_host *h, const struct lite_addr *k, struct lite_agent *a);
void lite_host_unselect(struct lite_host *h, const struct lite_addr *k, struct lite_agent *a);

/* Arms t (its agent's, on this host) to run lite_agent_on_timer at due_us (monotonic), or
 * re-arms it; stop takes it off the host, which the agent must do before it goes. */
void lite_host_timer_arm(struct lite_host *h, struct lite_timer *t, int64_t due_us);
void lite_host_timer_stop(struct lite_host *h, struct lite_timer *t);

/* Sends a STUN message at once (answers, checks). */
int lite_host_send(struct lite_host *h, const uint8_t *pkt, size_t len, const struct sockaddr *to,
                   socklen_t tolen);

/* The agent half, called by the host on the worker. */
void lite_agent_on_request(struct lite_agent *a, const struct stun_msg *m,
                           const struct sockaddr *src, socklen_t srclen, int64_t now_us);
void lite_agent_on_response(struct lite_agent *a, const struct stun_msg *m,
                            const struct sockaddr *src, int64_t now_us);
void lite_agent_on_media(struct lite_agent *a, uint8_t *pkt, size_t len, int64_t now_us);
/* The agent's lite_timer is due (it is disarmed first). */
void lite_agent_on_timer(struct lite_agent *a, int64_t now_us);
/* The last time a has heard from its selected address (for lite_host_select's takeover rule). */
int64_t lite_agent_last_heard(const struct lite_agent *a);

#endif
