/*
 * The transport tests' fixture: two WebRTC transports in one process, on two media workers,
 * talking over 127.0.0.1. The test thread is the owner (signalling) and, for media.send, the
 * mixer. Each peer records every handler call (and any that comes after its close), its local
 * candidates and, from its worker, the clear packets it receives. Every wait runs the owner's
 * loop until a condition holds or a deadline passes.
 */
#ifndef SB_TEST_TRANSPORT_FIXTURE_H
#define SB_TEST_TRANSPORT_FIXTURE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/webrtc_transport.h"
#include "media/worker.h"

#define WAIT_MS 15000

enum fwd {
    FWD_NONE,   /* the test hands candidates over itself */
    FWD_DIRECT, /* each local candidate goes to the other side at once */
    FWD_MDNS,   /* ... rewritten as an mDNS name, which the other side must skip */
};

struct rx {
    bool rtcp;
    size_t len;
    uint8_t data[1500];
};

struct peer {
    const char *name;
    struct webrtc_transport *t;
    struct peer *other;
    struct dtls_identity *id;
    enum dtls_role role;
    enum fwd fwd;
    bool close_on_fail;
    bool closed;

    /* Owner thread. */
    unsigned callbacks, connected, failed, gathering_done;
    unsigned calls_after_close;
    enum webrtc_failure why;
    char detail[200];
    GPtrArray *cands;

    /* Worker thread writes, owner reads. */
    GMutex lock;
    GPtrArray *rx; /* struct rx * */
    GMainContext *owner;
};

struct fixture {
    GMainContext *ctx;
    struct media_workers *workers;
    struct peer a, b;
    enum ice_mode ice; /* what make() asks for; fixture_setup says ICE_MODE_FULL (libnice) */
};

/* cmocka setup / teardown: *state is a struct fixture with both peers initialised (no transport
 * yet); teardown closes and frees whatever transports are left. */
int fixture_setup(void **state);
int fixture_teardown(void **state);

/* More peers than a and b (tests of many legs): a peer with its identity and no transport, whose
 * candidates go to other; freed (closed first) by fixture_peer_free. */
void fixture_peer_init(struct fixture *f, struct peer *p, const char *name, struct peer *other);
void fixture_peer_free(struct peer *p);

/* Runs the owner loop until cond(f) or timeout_ms; returns cond(f). A 10 ms tick re-checks
 * conditions that no event announces (info fields). */
bool wait_until(struct fixture *f, bool (*cond)(struct fixture *), unsigned timeout_ms);
/* Runs the loop for ms, for "nothing more happens" checks. */
void run_for(struct fixture *f, unsigned ms);

bool both_connected(struct fixture *f);
bool both_failed(struct fixture *f);
bool a_failed(struct fixture *f);
bool b_failed(struct fixture *f);
bool both_gathered(struct fixture *f);

/* Packets p has received so far (any thread). */
unsigned rx_count(struct peer *p);

struct opts {
    uint16_t port_min, port_max;
    uint32_t connect_timeout_ms;
    uint32_t consent_timeout_ms; /* lite */
};

/* Allocates p's transport on the next worker. The controlling side is the DTLS client (it
 * offered, the answer said setup:passive). o: optional port range and connect timeout. */
void make(struct fixture *f, struct peer *p, bool controlling, const struct opts *o);
/* p learns what q's SDP would carry (credentials, fingerprint); set_remote's result. */
int set_remote_from(struct peer *p, struct peer *q);

/* An RTP packet (PT 111) with payload bytes fill, fill+1, ...; its length. */
size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, uint8_t fill, size_t payload);
/* An empty RTCP receiver report; its length. */
size_t make_rtcp(uint8_t *buf, uint32_t ssrc);
/* Sends three RTP packets and one RTCP from `from` and checks they arrive at `to` in the clear,
 * intact and in order. */
void check_media(struct fixture *f, struct peer *from, struct peer *to, uint16_t seq0);

#endif
