/*
 * One ICE-lite agent's state, shared by media/ice_lite.c (credentials, selection, consent, the
 * operations) and media/ice_lite_checks.c (the STUN it sends: answers to checks, and on the
 * controlling side its own checks and their pacing). Private to those two; the host half sees
 * only ice_lite_int.h.
 */
#ifndef SB_MEDIA_ICE_LITE_AGENT_H
#define SB_MEDIA_ICE_LITE_AGENT_H

#include "media/ice_lite_int.h"

#define TA_MS          50
#define RTO_FIRST_MS   500
#define MAX_SENDS      7
#define MAX_PAIRS      16
#define CONSENT_PERIOD 5000 /* ms, RFC 7675: randomised to 0.8..1.2 of it */
#define HOST_PRIORITY  ((126u << 24) | (65535u << 8) | 255u)
#define PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | 255u)

enum pair_state {
    PAIR_WAITING,
    PAIR_IN_PROGRESS,
    PAIR_SUCCEEDED,
    PAIR_FAILED,
};

struct pair {
    struct sockaddr_storage addr;
    socklen_t len;
    struct lite_addr key;
    enum pair_state state;
    bool triggered;
    bool nominating; /* the request in flight carries USE-CANDIDATE */
    uint8_t tid[STUN_TID_LEN];
    unsigned sends;
    int64_t next_us;
};

struct cred {
    char ufrag[ICE_CRED_MAX + 1];
    char pwd[ICE_CRED_MAX + 1];
};

struct lite_agent {
    struct ice_agent base;

    /* Send path, any thread; next to base (ops), so that a send reads one or two cache lines
     * of a leg that a mixer clock reaches from cold memory. */
    GMutex tx_lock;
    bool tx_ok;
    socklen_t tx_len;
    struct udp_mux *tx_mux; /* the host's, which outlives the agent's users */
    struct sockaddr_storage tx_addr;

    GMainContext *ctx;
    char *log_ctx;
    bool checker; /* controlling at alloc: we send checks (and have a private socket) */
    uint32_t consent_timeout_ms;
    char ip[64];
    uint16_t port_min, port_max;
    uint64_t tiebreaker;

    /* The host: acquired on the worker by gather, released by the destructor. */
    struct lite_host *host;

    /* Worker only. */
    bool closed, gathered, revoked, failed;
    bool controlling; /* current role */
    struct cred cur, prev;
    bool has_cur_reg, has_prev;
    char rufrag[ICE_CRED_MAX + 1], rpwd[ICE_CRED_MAX + 1];
    bool has_remote, remote_done;
    bool selected, connected;
    struct lite_addr sel_key;
    struct sockaddr_storage sel_addr;
    socklen_t sel_len;
    int64_t last_heard_us;           /* a check or packet from the selected address */
    int64_t last_ok_us;              /* checker: a consent response */
    struct lite_timer consent_timer; /* on the host's sweep, not a GSource of its own */
    GSource *check_timer;
    struct pair pairs[MAX_PAIRS];
    unsigned npairs;
    uint8_t consent_tid[STUN_TID_LEN];
    bool consent_pending;

    atomic_uint_fast64_t checks, unauthorized; /* the worker counts, anyone reads */
};

/* Worker only. (Re)arms a one-shot GSource of the agent in slot. */
void lite_arm(struct lite_agent *a, GSource **slot, unsigned ms, GSourceFunc fn);
/* Worker only. Fails the agent (once) with detail. */
void lite_fail(struct lite_agent *a, const char *detail);

/* STUN out (ice_lite_checks.c), worker only. An error answer to m (400, 401, 487). */
void lite_answer_error(struct lite_agent *a, const struct stun_msg *m, uint16_t code,
                       const char *key, const struct sockaddr *src, socklen_t srclen);
/* A success answer to m, signed with key, XOR-MAPPED-ADDRESS the source. */
void lite_answer_success(struct lite_agent *a, const struct stun_msg *m, const char *key,
                         const struct sockaddr *src, socklen_t srclen);
/* A Binding request (nominate: with USE-CANDIDATE) from our current credentials. */
void lite_send_check(struct lite_agent *a, const struct sockaddr *to, socklen_t tolen,
                     const uint8_t tid[STUN_TID_LEN], bool nominate);
/* Controlling side: (re)starts the paced checks of the pairs still waiting. */
void lite_checks_kick(struct lite_agent *a);
/* Controlling side: a pair for a remote address (NULL when the table is full). */
struct pair *lite_pair_add(struct lite_agent *a, const struct sockaddr *sa, socklen_t len);
/* Controlling side: a check towards src at once (a peer-reflexive or triggered pair). */
void lite_triggered_check(struct lite_agent *a, const struct sockaddr *src, socklen_t srclen);

#endif
