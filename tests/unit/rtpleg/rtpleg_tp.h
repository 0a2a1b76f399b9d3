/*
 * Plain RTP transports for the rtpleg tests (media/rtp_transport over 127.0.0.1, one worker of
 * the test's loop) and conditions on their counters for wait_for.
 */
#ifndef SB_TESTS_RTPLEG_TP_H
#define SB_TESTS_RTPLEG_TP_H

#include <stdbool.h>
#include <stdint.h>

#include "media/rtp_transport.h"
#include "media/srtp_session.h"
#include "rtpleg_util.h"

struct keys {
    enum srtp_suite suite;
    const uint8_t *local, *remote;
};

/* Conditions on one transport's info, for wait_for. */
struct icond {
    struct rtp_transport *t;
    uint64_t n;
};

/* The payload types the transports' remote side announces: PCMA and telephone-event. */
extern const uint8_t PTS[2];

/* A transport on one of l's workers, recorded by r. */
struct rtp_transport *make_tp(struct loop *l, struct recorder *r, const char *name,
                              uint32_t silence_ms, unsigned latch_packets);
/* t's SDP now says 127.0.0.1:port (with k: SDES keys); returns once the worker applied it. */
void remote_to(struct loop *l, struct rtp_transport *t, uint16_t port, bool mux, bool send_rtp,
               const struct keys *k);

struct rtp_transport_info info_of(struct rtp_transport *t);
bool applied_reached(void *arg);
bool foreign_reached(void *arg);
bool bad_pt_reached(void *arg);
bool auth_fail_reached(void *arg);
bool replay_reached(void *arg);
bool malformed_reached(void *arg);
bool early_reached(void *arg);
bool tx_reached(void *arg);
bool sends_nowhere(void *arg);
bool sends_somewhere(void *arg);
/* Waits until cond holds of t's counters with n. */
void expect(struct loop *l, bool (*cond)(void *), struct rtp_transport *t, uint64_t n);

#endif
