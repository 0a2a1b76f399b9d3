/*
 * Adaptive jitter buffer for one received stream, codec-agnostic.
 *
 * The worker thread puts packets in as they arrive (extended sequence number, RTP timestamp,
 * payload, duration, arrival time); the mixer clock takes out, once per slot, what to play next:
 * a packet to decode, a missing packet to conceal (with the following packet, whose in-band FEC
 * may rebuild it), or nothing (not started, silence).
 *
 * Playout follows timestamps, not sequence numbers: a sender in DTX or silence suppression keeps
 * its sequence numbers contiguous while its timestamps jump, and such a gap is silence, not loss;
 * numbers missing where the timestamps run on without a gap were not audio (RFC 4733 events share
 * the sequence space), and are not a loss either.
 * A missing packet is concealed only for a few frames; past that the buffer goes silent and
 * resynchronises on the next packet, so neither a silence nor a stall turns into seconds of
 * concealment or a permanent extra delay.
 *
 * The target delay is derived from the delay variation of recent packets: each packet's transit
 * (arrival minus timestamp) against the smallest transit of the last few seconds, collected in
 * a histogram that slowly forgets; the target is its 95th percentile plus half a frame, bounded.
 * A late packet raises the target at once (a decaying peak), calm lets it sink slowly. The buffer
 * reaches the target where it costs nothing (at the end of a silence, or while waiting for a
 * late packet) and otherwise by dropping or inserting a single frame now and then, which also
 * absorbs clock drift between the sender and the mixer.
 *
 * Storage is a fixed ring of packet slots indexed by sequence number, allocated once: no
 * allocation per packet, memory bounded per stream (about capacity x 1.5 kB). Pure logic: no
 * locks, no threads, no clock; the caller passes the time, which keeps it deterministic under
 * test. The audio stream wraps it in its own lock.
 */
#ifndef SB_MEDIA_JITTER_H
#define SB_MEDIA_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JITTER_MAX_PAYLOAD 1500

struct jitter;

struct jitter_cfg {
    uint32_t clock_rate;       /* RTP clock in Hz; 0: 48000 */
    uint32_t frame_samples;    /* the clock's period in samples (20 ms); 0: clock_rate / 50 */
    uint32_t min_delay_ms;     /* lower bound of the target delay; 0: 20 */
    uint32_t max_delay_ms;     /* upper bound of the target delay; 0: 400 */
    uint32_t initial_delay_ms; /* target before anything is known; 0: 60 */
    uint32_t max_conceal_ms;   /* concealment with no packet before going silent; 0: 60 */
    uint32_t capacity;         /* packet slots, rounded up to a power of two; 0: 64 */
};

enum jitter_result {
    JITTER_NONE,   /* nothing to play now (not started, silence, gave up concealing) */
    JITTER_PACKET, /* frame->payload is the next packet: decode it */
    JITTER_LOST,   /* the next packet is missing: conceal frame->duration samples */
};

struct jitter_frame {
    uint64_t seq;      /* PACKET: its extended sequence number; LOST: the missing one */
    uint32_t ts;       /* PACKET: its RTP timestamp */
    uint32_t duration; /* PACKET: its duration; LOST: samples to conceal */
    size_t len;
    /* LOST: the packet following the missing one, when it is here (its in-band FEC data may
     * rebuild the missing frame); it stays queued and is returned again as the next PACKET. */
    bool fec;
    /* LOST: nothing is lost for good; the frame is inserted to deepen the buffer or to wait
     * for a late packet (conceal it just the same, but it is not a loss). */
    bool stretch;
    uint8_t payload[JITTER_MAX_PAYLOAD];
};

struct jitter_stats {
    uint64_t packets;    /* accepted by put */
    uint64_t played;     /* returned as PACKET */
    uint64_t lost;       /* returned as LOST for a missing packet */
    uint64_t stretched;  /* returned as LOST to insert a frame (deepen, wait) */
    uint64_t late;       /* arrived after their slot was played or given up: dropped */
    uint64_t duplicates; /* a copy of a packet already buffered or played: dropped */
    uint64_t dropped;    /* discarded to shrink the buffer (too deep, drift) */
    uint64_t resets;     /* the sender restarted (sequence / timestamp jump) */
    uint32_t target_ms;  /* current target delay */
    uint32_t delay_ms;   /* current playout delay behind the fastest recent packet */
};

int jitter_alloc(struct jitter **jbp, const struct jitter_cfg *cfg);

/* Changes the lower bound of the target delay (0: 20 ms; at most max_delay_ms), from the next
 * get on: e.g. a look-ahead of one packet for in-band FEC once the path loses packets. */
void jitter_set_min_delay(struct jitter *jb, uint32_t ms);

/* Forgets every packet and the timing of the old sender (a new SSRC); keeps the delay
 * statistics, which describe the network path rather than the sender. */
void jitter_reset(struct jitter *jb);

/*
 * Worker thread: one received packet. seq is the extended sequence number (rtp_seq_update),
 * duration its length in samples (from the codec), arrival_us the local receive time on the
 * clock jitter_get is given. Returns 0 (queued; also when it restarted the buffer), EALREADY (a
 * duplicate), ETIMEDOUT (too late: its slot is gone), EINVAL (empty or oversized payload, zero
 * or absurd duration). The payload is copied.
 */
int jitter_put(struct jitter *jb, uint64_t seq, uint32_t ts, const uint8_t *payload, size_t len,
               uint32_t duration, uint64_t arrival_us);

/*
 * Mixer clock: what to play next. now_us is the local time at which the returned audio starts
 * to play: the clock tick, plus whatever the caller still holds from a longer packet or a
 * previous call in the same tick (10 ms packets: two calls per 20 ms frame). On JITTER_NONE the
 * caller plays silence for the rest of its frame.
 */
enum jitter_result jitter_get(struct jitter *jb, uint64_t now_us, struct jitter_frame *f);

void jitter_get_stats(const struct jitter *jb, struct jitter_stats *st);

#endif
