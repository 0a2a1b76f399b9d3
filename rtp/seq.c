/*
 * Receive-side statistics of one RTP source: extended sequence numbers, loss accounting and
 * interarrival jitter, exactly as RFC 3550 appendices A.1, A.3 and A.8 give them, because the
 * numbers end up in our receiver reports and the sender on the other side reads them with
 * the same formulas (a "smarter" loss count would just be a wrong one there).
 *
 * The algorithm's constants are the RFC's: a source becomes valid after MIN_SEQUENTIAL packets
 * in sequence; a forward jump up to MAX_DROPOUT is ordinary loss, a step back up to
 * MAX_MISORDER is a late or duplicate packet, and anything else is believed only when the
 * packet after it continues from there (the sender restarted or changed its sequence space).
 */
#include "rtp/rtp.h"

#include <errno.h>

enum {
    MIN_SEQUENTIAL = 2,
    MAX_DROPOUT = 3000,
    MAX_MISORDER = 100,
};

#define RTP_SEQ_MOD (1u << 16)

/* A.1 init_seq(): the base of a (re)started sequence space. */
static void seq_restart(struct rtp_seq *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
}

void rtp_seq_init(struct rtp_seq *s, uint16_t seq)
{
    seq_restart(s, seq);
    s->max_seq = (uint16_t)(seq - 1);
    s->probation = MIN_SEQUENTIAL;
    s->started = true;
}

int rtp_seq_update(struct rtp_seq *s, uint16_t seq, uint64_t *ext)
{
    if (!s->started)
        rtp_seq_init(s, seq);

    uint16_t udelta = (uint16_t)(seq - s->max_seq);

    if (s->probation) {
        if (seq == (uint16_t)(s->max_seq + 1)) {
            s->probation--;
            s->max_seq = seq;
            if (s->probation == 0) {
                seq_restart(s, seq);
                s->received++;
                if (ext)
                    *ext = s->cycles + seq;
                return 0;
            }
        } else {
            s->probation = MIN_SEQUENTIAL - 1;
            s->max_seq = seq;
        }
        return EAGAIN;
    }

    uint32_t extended;
    if (udelta < MAX_DROPOUT) {
        /* In order, with a permissible gap. */
        if (seq < s->max_seq)
            s->cycles += RTP_SEQ_MOD;
        s->max_seq = seq;
        extended = s->cycles + seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
        /* A very large jump. */
        if (seq == s->bad_seq) {
            /* Two sequential packets: assume the other side restarted without telling us. */
            seq_restart(s, seq);
            extended = seq;
        } else {
            s->bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1);
            return EBADMSG;
        }
    } else {
        /* Duplicate or reordered packet: it belongs to this cycle if it is not above max_seq,
         * else to the one before. */
        if (seq <= s->max_seq) {
            extended = s->cycles + seq;
        } else if (s->cycles) {
            extended = s->cycles - RTP_SEQ_MOD + seq;
        } else {
            s->received++;
            return EBADMSG;
        }
    }
    s->received++;
    if (ext)
        *ext = extended;
    return 0;
}

uint32_t rtp_seq_ext_max(const struct rtp_seq *s)
{
    return s->cycles + s->max_seq;
}

uint32_t rtp_seq_expected(const struct rtp_seq *s)
{
    if (!s->started || s->probation)
        return 0;
    return rtp_seq_ext_max(s) - s->base_seq + 1;
}

int32_t rtp_seq_lost(const struct rtp_seq *s)
{
    if (!s->started || s->probation)
        return 0;
    int64_t lost = (int64_t)rtp_seq_expected(s) - (int64_t)s->received;
    if (lost > 0x7fffff)
        return 0x7fffff;
    if (lost < -0x800000)
        return -0x800000;
    return (int32_t)lost;
}

uint8_t rtp_seq_fraction_lost(struct rtp_seq *s)
{
    if (!s->started || s->probation)
        return 0;

    uint32_t expected = rtp_seq_expected(s);
    uint32_t expected_interval = expected - s->expected_prior;
    uint32_t received_interval = s->received - s->received_prior;
    s->expected_prior = expected;
    s->received_prior = s->received;

    if (expected_interval == 0 || received_interval >= expected_interval)
        return 0;
    uint64_t lost_interval = expected_interval - received_interval;
    return (uint8_t)((lost_interval << 8) / expected_interval);
}

/*
 * A.8: J += (|D| - J) / 16 in integer arithmetic, keeping J scaled by 16 so the 1/16 gain
 * loses no precision. Differences are taken modulo 2^32 and read as signed, so wrapping
 * timestamps and a wrapping arrival clock are harmless.
 */
void rtp_jitter_update(struct rtp_jitter *j, uint32_t rtp_ts, uint32_t arrival)
{
    uint32_t transit = arrival - rtp_ts;
    if (!j->started) {
        j->started = true;
        j->transit = transit;
        j->jitter_q4 = 0;
        return;
    }

    int32_t d = (int32_t)(transit - j->transit);
    j->transit = transit;
    uint32_t ad = d < 0 ? (uint32_t)0 - (uint32_t)d : (uint32_t)d;

    /* A step larger than 2^27 would overflow the scaled value: that is a clock jump, not
     * jitter, and counting it would poison the estimate for hundreds of packets. */
    if (ad >= (1u << 27))
        return;
    j->jitter_q4 += ad - ((j->jitter_q4 + 8) >> 4);
}

uint32_t rtp_jitter_get(const struct rtp_jitter *j)
{
    return j->jitter_q4 >> 4;
}
