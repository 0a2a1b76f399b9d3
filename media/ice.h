/*
 * The ICE backends behind a WebRTC transport (media/webrtc_transport.h): one interface, two
 * implementations, chosen per leg by the configuration (`media.ice`).
 *
 *  - ICE_MODE_LITE (media/ice_lite.c, the default). On the answering side an ICE-lite agent
 *    (RFC 8445 section 2.5): its single host candidate is the media worker's shared socket
 *    (media/udp_mux.h), the same address and port for every leg on that worker; it never sends
 *    checks, answers the peer's, and takes the address a nominating check (USE-CANDIDATE) comes
 *    from as the one it sends to and accepts media from. Incoming checks find their leg by the
 *    local ufrag in USERNAME, media by the remote address. Our SDP says a=ice-lite. On the
 *    offering side (the controlling agent) the same backend checks the peer's candidates itself:
 *    Binding requests with USE-CANDIDATE and ICE-CONTROLLING to each remote candidate, paced and
 *    retransmitted, first success selected, consent kept with periodic checks; such a leg has a
 *    socket of its own, because a peer that is itself lite (one socket for all its legs) can only
 *    tell our legs apart by our address. It is what mxcall uses as a cheap load generator, and it
 *    works against a full agent too.
 *  - ICE_MODE_FULL (media/ice_nice.c): libnice, full ICE with trickle, regular nomination and
 *    consent freshness, a socket per leg, as the transport always did.
 *
 * The interface is the set of calls the transport's worker half makes and the events it gets
 * back. A backend knows nothing of DTLS or SRTP: it reports every datagram that is not its own
 * STUN through `recv`, and sends what the transport gives it to the selected remote address only.
 *
 * Threads: alloc on the owner's thread; send from any thread (a mixer clock); everything else,
 * and every handler, on the worker's context. teardown() stops all of it synchronously (on the
 * worker); mem_deref() of the agent, from any thread, frees what is left once nobody can send.
 */
#ifndef SB_MEDIA_ICE_H
#define SB_MEDIA_ICE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/ice_candidate.h"

enum ice_mode {
    ICE_MODE_LITE, /* the default */
    ICE_MODE_FULL,
};

/* "lite" | "full" */
const char *ice_mode_name(enum ice_mode mode);
/* EINVAL for anything else. */
int ice_mode_parse(const char *name, enum ice_mode *mode);

#define ICE_CRED_MAX           256   /* ice-ufrag / ice-pwd */
#define ICE_CONSENT_TIMEOUT_MS 30000 /* RFC 7675 */

enum ice_state {
    ICE_STATE_CHECKING,  /* no usable pair (yet, or any more: an ICE restart) */
    ICE_STATE_CONNECTED, /* a pair is selected: send works */
    ICE_STATE_FAILED,    /* checks failed, or (once connected) consent was lost */
};

struct ice_agent_handlers {
    /* One local candidate (ufrag and generation are the transport's to fill in). */
    void (*local_candidate)(const struct ice_candidate *c, void *arg);
    void (*gathering_done)(void *arg);
    /* detail: why, for FAILED (a log line for the operator); NULL otherwise. */
    void (*state)(enum ice_state state, const char *detail, void *arg);
    /* The pair in use, "ip:port" each, whenever it changes. */
    void (*selected_pair)(const char *local, const char *remote, void *arg);
    /* A datagram that is not STUN, from the selected remote address. pkt may be changed in place
     * and is valid during the call only. */
    void (*recv)(uint8_t *pkt, size_t len, void *arg);
};

struct ice_agent_cfg {
    enum ice_mode mode;
    GMainContext *worker;
    const char *local_ip;        /* the only address we gather on */
    uint16_t port_min, port_max; /* both 0: any */
    bool controlling;            /* the offerer controls */
    const char *ufrag, *pwd;     /* our first credentials (copied) */
    uint32_t consent_timeout_ms; /* lite: 0 means ICE_CONSENT_TIMEOUT_MS */
    const char *log_ctx;         /* copied */
};

struct ice_agent;

struct ice_agent_stats {
    uint64_t checks;       /* the peer's checks answered with success */
    uint64_t unauthorized; /* the peer's checks refused for a wrong MESSAGE-INTEGRITY (401) */
};

struct ice_agent_ops {
    /* Starts gathering: candidates and gathering_done follow. EADDRNOTAVAIL when no socket can be
     * had (address, port range). */
    int (*gather)(struct ice_agent *a);
    /* The peer's credentials for the current generation (first time, or after a restart). */
    void (*set_remote_credentials)(struct ice_agent *a, const char *ufrag, const char *pwd);
    /* An ICE restart with our new credentials: the remote ones follow. Local candidates (and
     * gathering_done if gathering had finished) are reported again. Media keep flowing over the
     * old pair until a new one is selected. */
    void (*restart)(struct ice_agent *a, const char *ufrag, const char *pwd);
    /* A remote candidate of the current generation (UDP, component 1, an IP literal). */
    void (*add_remote_candidate)(struct ice_agent *a, const struct ice_candidate *c);
    void (*remote_gathering_done)(struct ice_agent *a);
    /* RFC 7675 5.2: refuse the peer's consent checks from now on (403). */
    void (*revoke_consent)(struct ice_agent *a);
    /* Any thread. 0, or EAGAIN when no pair is selected (the packet is dropped). */
    int (*send)(struct ice_agent *a, const uint8_t *pkt, size_t len);
    /* No handler runs after it; idempotent. */
    void (*teardown)(struct ice_agent *a);
    /* Whether our SDP must say a=ice-lite. */
    bool (*is_lite)(const struct ice_agent *a);
    /* Counters; any thread. */
    void (*stats)(const struct ice_agent *a, struct ice_agent_stats *st);
};

/* The part every backend's agent starts with. */
struct ice_agent {
    const struct ice_agent_ops *ops;
    struct ice_agent_handlers h;
    void *arg;
};

/* Makes the agent cfg->mode names. EINVAL for a bad configuration, ENOMEM. */
int ice_agent_alloc(struct ice_agent **ap, const struct ice_agent_cfg *cfg,
                    const struct ice_agent_handlers *h, void *arg);

/* The backends' constructors (ice_agent_alloc picks one). */
int ice_nice_alloc(struct ice_agent **ap, const struct ice_agent_cfg *cfg,
                   const struct ice_agent_handlers *h, void *arg);
int ice_lite_alloc(struct ice_agent **ap, const struct ice_agent_cfg *cfg,
                   const struct ice_agent_handlers *h, void *arg);

static inline int ice_agent_gather(struct ice_agent *a)
{
    return a->ops->gather(a);
}

static inline void ice_agent_set_remote_credentials(struct ice_agent *a, const char *ufrag,
                                                    const char *pwd)
{
    a->ops->set_remote_credentials(a, ufrag, pwd);
}

static inline void ice_agent_restart(struct ice_agent *a, const char *ufrag, const char *pwd)
{
    a->ops->restart(a, ufrag, pwd);
}

static inline void ice_agent_add_remote_candidate(struct ice_agent *a,
                                                  const struct ice_candidate *c)
{
    a->ops->add_remote_candidate(a, c);
}

static inline void ice_agent_remote_gathering_done(struct ice_agent *a)
{
    a->ops->remote_gathering_done(a);
}

static inline void ice_agent_revoke_consent(struct ice_agent *a)
{
    a->ops->revoke_consent(a);
}

static inline int ice_agent_send(struct ice_agent *a, const uint8_t *pkt, size_t len)
{
    return a->ops->send(a, pkt, len);
}

static inline void ice_agent_teardown(struct ice_agent *a)
{
    a->ops->teardown(a);
}

static inline bool ice_agent_is_lite(const struct ice_agent *a)
{
    return a->ops->is_lite(a);
}

static inline void ice_agent_stats(const struct ice_agent *a, struct ice_agent_stats *st)
{
    a->ops->stats(a, st);
}

#endif
