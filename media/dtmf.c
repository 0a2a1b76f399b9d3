/*
 * RFC 4733 event timing and deduplication: see dtmf.h.
 */
#include "media/dtmf.h"

#include <errno.h>
#include <string.h>

int dtmf_event_from_digit(char digit, uint8_t *event)
{
    uint8_t e;
    if (digit >= '0' && digit <= '9')
        e = (uint8_t)(digit - '0');
    else if (digit == '*')
        e = 10;
    else if (digit == '#')
        e = 11;
    else if (digit >= 'A' && digit <= 'D')
        e = (uint8_t)(12 + digit - 'A');
    else if (digit >= 'a' && digit <= 'd')
        e = (uint8_t)(12 + digit - 'a');
    else
        return EINVAL;
    if (event)
        *event = e;
    return 0;
}

char dtmf_digit_from_event(uint8_t event)
{
    static const char digits[] = "0123456789*#ABCD";
    return event < 16 ? digits[event] : 0;
}

void dtmf_tx_init(struct dtmf_tx *tx, uint32_t rate)
{
    memset(tx, 0, sizeof(*tx));
    tx->rate = rate ? rate : 48000;
}

int dtmf_tx_queue(struct dtmf_tx *tx, char digit, uint16_t duration_ms)
{
    uint8_t event;
    if (dtmf_event_from_digit(digit, &event))
        return EINVAL;
    if (tx->count == DTMF_QUEUE)
        return ENOBUFS;
    if (duration_ms < DTMF_MIN_MS)
        duration_ms = DTMF_MIN_MS;
    if (duration_ms > DTMF_MAX_MS)
        duration_ms = DTMF_MAX_MS;
    unsigned i = (tx->head + tx->count) % DTMF_QUEUE;
    tx->queue[i].event = event;
    tx->queue[i].ms = duration_ms;
    tx->count++;
    return 0;
}

void dtmf_tx_clear(struct dtmf_tx *tx)
{
    uint32_t rate = tx->rate;
    dtmf_tx_init(tx, rate);
}

bool dtmf_tx_next(struct dtmf_tx *tx, uint32_t frame_ts, uint32_t frame_samples,
                  struct rtp_dtmf *ev, uint32_t *ts, bool *marker)
{
    *marker = false;
    if (!tx->active) {
        if (tx->pause) {
            tx->pause = tx->pause > frame_samples ? tx->pause - frame_samples : 0;
            return false;
        }
        if (!tx->count)
            return false;
        tx->event = tx->queue[tx->head].event;
        tx->duration = (uint32_t)tx->queue[tx->head].ms * (tx->rate / 1000);
        tx->head = (tx->head + 1) % DTMF_QUEUE;
        tx->count--;
        tx->active = true;
        tx->ts = frame_ts;
        tx->elapsed = 0;
        tx->ends_sent = 0;
        *marker = true;
    }

    ev->event = tx->event;
    ev->volume = DTMF_VOLUME;
    *ts = tx->ts;
    if (tx->elapsed + frame_samples < tx->duration) {
        tx->elapsed += frame_samples;
        ev->end = false;
        ev->duration = (uint16_t)tx->elapsed;
        return true;
    }
    ev->end = true;
    ev->duration = (uint16_t)(tx->duration > UINT16_MAX ? UINT16_MAX : tx->duration);
    if (++tx->ends_sent == DTMF_END_REPEATS) {
        tx->active = false;
        tx->pause = DTMF_PAUSE_MS * (tx->rate / 1000);
    }
    return true;
}

void dtmf_rx_init(struct dtmf_rx *rx)
{
    memset(rx, 0, sizeof(*rx));
}

unsigned dtmf_rx_packet(struct dtmf_rx *rx, uint32_t ts, const struct rtp_dtmf *ev,
                        struct dtmf_report out[2])
{
    unsigned n = 0;
    if (rx->have && ts != rx->ts) {
        if ((int32_t)(ts - rx->ts) < 0)
            return 0; /* a straggler of an older event */
        if (!rx->reported) {
            out[n].event = rx->event;
            out[n].duration = rx->duration;
            n++;
        }
        rx->have = false;
    }
    if (!rx->have) {
        rx->have = true;
        rx->reported = false;
        rx->ts = ts;
        rx->event = ev->event;
        rx->duration = 0;
    }
    if (ev->duration > rx->duration)
        rx->duration = ev->duration;
    if (ev->end && !rx->reported) {
        rx->reported = true;
        out[n].event = rx->event;
        out[n].duration = rx->duration;
        n++;
    }
    return n;
}
