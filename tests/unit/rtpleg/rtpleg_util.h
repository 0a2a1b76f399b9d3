/*
 * Helpers of the plain RTP leg tests: the owner loop and its bounded waits, plain UDP sockets
 * that play a phone, a NAT mapping or a third party, packet builders, and a recorder that a
 * transport delivers into from its worker.
 */
#ifndef SB_TESTS_RTPLEG_UTIL_H
#define SB_TESTS_RTPLEG_UTIL_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/transport.h"

#define WAIT_MS 10000

struct loop {
    GMainContext *ctx;
    struct media_workers *workers;
};

/* A new context made thread-default, and two media workers. */
void loop_init(struct loop *l);
/* Drains the context, stops the workers. */
void loop_fini(struct loop *l);
/* Runs the owner's loop until cond(arg) or timeout_ms (a 5 ms tick re-checks); cond's result. */
bool wait_for(struct loop *l, bool (*cond)(void *), void *arg, unsigned timeout_ms);
/* Runs the loop for ms: for behaviour that is about time passing (silence before a re-latch). */
void run_for(struct loop *l, unsigned ms);

/* What a transport delivered, recorded on its worker. */
struct rx_pkt {
    bool rtcp;
    size_t len;
    uint8_t data[1500];
};

struct recorder {
    GMutex lock;
    GPtrArray *pkts; /* struct rx_pkt * */
    GMainContext *owner;
    bool closed;          /* set by the test once it closed the transport */
    unsigned after_close; /* deliveries after that: must stay 0 */
};

void recorder_init(struct recorder *r, GMainContext *owner);
void recorder_fini(struct recorder *r);
/* Installs r as t's receiver. */
void recorder_attach(struct recorder *r, struct media_transport *t);
unsigned recorder_count(struct recorder *r);
/* A copy of packet i (fails the test when there is none). */
struct rx_pkt recorder_get(struct recorder *r, unsigned i);
/* Waits until r holds at least n packets. */
bool recorder_wait(struct loop *l, struct recorder *r, unsigned n);

/* A UDP socket on 127.0.0.1, non-blocking; *port gets its port. */
int udp_open(uint16_t *port);
int udp_send(int fd, uint16_t port, const void *buf, size_t len);
/* One datagram within timeout_ms, its length; -1 when none came. *from_port (optional) gets
 * the source port. */
int udp_recv(int fd, void *buf, size_t cap, unsigned timeout_ms, uint16_t *from_port);
/* Whether a datagram is waiting right now (no wait). */
bool udp_pending(int fd);
/* A free even port p with p + 1 also free, at the time of asking. */
uint16_t free_port_pair(void);

/* An RTP packet: payload bytes fill, fill + 1, ...; its length. */
size_t make_rtp(uint8_t *buf, uint8_t pt, uint16_t seq, uint32_t ssrc, uint8_t fill,
                size_t payload);
/* An RTCP receiver report without blocks; its length (8). */
size_t make_rtcp(uint8_t *buf, uint32_t ssrc);
/* The sequence number of an RTP packet. */
uint16_t rtp_seq_of(const uint8_t *pkt);

/* Sends through t until it no longer says EAGAIN (the remote end is being applied) or the
 * timeout; the last result. */
int send_when_ready(struct loop *l, struct media_transport *t, uint8_t *pkt, size_t len, size_t cap,
                    bool rtcp);

#endif
