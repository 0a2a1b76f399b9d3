/*
 * RFC 4733 telephone-events as an audio stream sends and receives them: the timing of the
 * packets of one event on the send side, and "each event once" on the receive side.
 *
 * Sending: an event is a run of packets sharing one RTP timestamp (the frame it started on),
 * the first with the marker bit, each carrying the duration so far, and three packets with the
 * end bit and the final duration (sent three times because any one may be lost). Queued digits
 * follow one another with a short pause, so that "123" arrives as three events.
 *
 * Receiving: the same event arrives many times (updates, three end packets, duplicates); it is
 * reported once, on its first end packet, or when a newer event starts before any end packet
 * of the previous one arrived (all three lost).
 *
 * Pure logic on caller-owned structs (the packets themselves are rtp/'s rtp_dtmf): no locks,
 * no allocation, no clock.
 */
#ifndef SB_MEDIA_DTMF_H
#define SB_MEDIA_DTMF_H

#include <stdbool.h>
#include <stdint.h>

#include "rtp/rtp.h"

#define DTMF_QUEUE       32
#define DTMF_VOLUME      10 /* -dBm0 of the events we send */
#define DTMF_MIN_MS      40
#define DTMF_MAX_MS      1300 /* the 16-bit duration field at 48 kHz holds 1365 ms */
#define DTMF_PAUSE_MS    40   /* between queued digits */
#define DTMF_END_REPEATS 3

/* '0'-'9' -> 0-9, '*' -> 10, '#' -> 11, 'A'-'D' (or 'a'-'d') -> 12-15; EINVAL otherwise. */
int dtmf_event_from_digit(char digit, uint8_t *event);
/* The reverse; 0 for an event that is not a DTMF digit (16 and above). */
char dtmf_digit_from_event(uint8_t event);

struct dtmf_tx {
    uint32_t rate; /* RTP clock of the event payload type */
    struct {
        uint8_t event;
        uint16_t ms;
    } queue[DTMF_QUEUE];
    unsigned head, count;
    bool active;
    uint8_t event;
    uint32_t ts;       /* the event's timestamp */
    uint32_t elapsed;  /* samples covered so far */
    uint32_t duration; /* samples in all */
    unsigned ends_sent;
    uint32_t pause; /* samples of pause left before the next queued digit */
};

void dtmf_tx_init(struct dtmf_tx *tx, uint32_t rate);
/* EINVAL for a character that is not a digit, ENOBUFS when the queue is full. */
int dtmf_tx_queue(struct dtmf_tx *tx, char digit, uint16_t duration_ms);
/* Drops the queue and any event in progress (sending stopped). */
void dtmf_tx_clear(struct dtmf_tx *tx);

/* Once per audio frame: frame_ts is the RTP timestamp of the frame being sent, frame_samples
 * its length. Returns true when an event packet goes out with this frame: *ev is its payload,
 * *ts its RTP timestamp, *marker the marker bit. */
bool dtmf_tx_next(struct dtmf_tx *tx, uint32_t frame_ts, uint32_t frame_samples,
                  struct rtp_dtmf *ev, uint32_t *ts, bool *marker);

struct dtmf_report {
    uint8_t event;
    uint32_t duration; /* samples */
};

struct dtmf_rx {
    bool have; /* an event is known */
    bool reported;
    uint32_t ts;
    uint8_t event;
    uint32_t duration;
};

void dtmf_rx_init(struct dtmf_rx *rx);
/* One received event packet with its RTP timestamp: returns how many events (0..2) are to be
 * reported now, in out[] in order (a previous event that never ended, then this one). */
unsigned dtmf_rx_packet(struct dtmf_rx *rx, uint32_t ts, const struct rtp_dtmf *ev,
                        struct dtmf_report out[2]);

#endif
