/* The plain RTP transports the rtpleg tests make, and waits on their counters. */
#include "rtpleg_tp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "media/worker.h"

const uint8_t PTS[2] = {8, 101};

struct rtp_transport *make_tp(struct loop *l, struct recorder *r, const char *name,
                              uint32_t silence_ms, unsigned latch_packets)
{
    struct rtp_transport_cfg cfg = {
        .worker = media_workers_pick(l->workers),
        .local_ip = "127.0.0.1",
        .log_ctx = name,
        .latch_silence_ms = silence_ms,
        .latch_packets = latch_packets,
    };
    struct rtp_transport *t = NULL;
    assert_int_equal(rtp_transport_alloc(&t, &cfg), 0);
    assert_int_equal(rtp_transport_local_port(t) % 2, 0);
    recorder_init(r, l->ctx);
    recorder_attach(r, rtp_transport_media(t));
    return t;
}

void remote_to(struct loop *l, struct rtp_transport *t, uint16_t port, bool mux, bool send_rtp,
               const struct keys *k)
{
    unsigned before = info_of(t).stats.remotes_applied;
    struct rtp_transport_remote r = {
        .addr = "127.0.0.1",
        .port = port,
        .rtcp_mux = mux,
        .send_rtp = send_rtp,
        .pts = PTS,
        .npts = 2,
    };
    if (k) {
        r.srtp = true;
        r.suite = k->suite;
        r.local_key = k->local;
        r.remote_key = k->remote;
        r.key_len = srtp_suite_key_len(k->suite);
    }
    assert_int_equal(rtp_transport_set_remote(t, &r), 0);
    struct icond c = {t, before + 1u};
    assert_true(wait_for(l, applied_reached, &c, WAIT_MS));
}

struct rtp_transport_info info_of(struct rtp_transport *t)
{
    struct rtp_transport_info i;
    rtp_transport_get_info(t, &i);
    return i;
}

bool applied_reached(void *arg)
{
    struct icond *c = arg;
    return info_of(c->t).stats.remotes_applied >= c->n;
}

bool foreign_reached(void *arg)
{
    struct icond *c = arg;
    return info_of(c->t).stats.rx_foreign >= c->n;
}

bool bad_pt_reached(void *arg)
{
    struct icond *c = arg;
    return info_of(c->t).stats.rx_bad_pt >= c->n;
}

bool auth_fail_reached(void *arg)
{
    struct icond *c = arg;
    return info_of(c->t).stats.rx_auth_fail >= c->n;
}

bool replay_reached(void *arg)
{
    struct icond *c = arg;
    return info_of(c->t).stats.rx_replay >= c->n;
}

bool malformed_reached(void *arg)
{
    struct icond *c = arg;
    return info_of(c->t).stats.rx_malformed >= c->n;
}

bool early_reached(void *arg)
{
    struct icond *c = arg;
    return info_of(c->t).stats.rx_early >= c->n;
}

bool tx_reached(void *arg)
{
    struct icond *c = arg;
    return info_of(c->t).stats.tx_rtp >= c->n;
}

bool sends_nowhere(void *arg)
{
    struct icond *c = arg;
    return info_of(c->t).remote_addr[0] == '\0';
}

bool sends_somewhere(void *arg)
{
    struct icond *c = arg;
    return info_of(c->t).remote_addr[0] != '\0';
}

void expect(struct loop *l, bool (*cond)(void *), struct rtp_transport *t, uint64_t n)
{
    struct icond c = {t, n};
    assert_true(wait_for(l, cond, &c, WAIT_MS));
}
