/*
 * libFuzzer target for the jitter buffer: the input is a script of arrivals (sequence number and
 * timestamp steps, durations, arrival delays, duplicates) and mixer ticks. Whatever the order,
 * what comes out must be what went in: each packet returned carries its own bytes, in increasing
 * sequence order between restarts, durations stay within bounds, the buffer never holds more
 * than its capacity, and the delay figures stay within the configured range.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "media/jitter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jitter *jb = NULL;
    struct jitter_cfg cfg = {.capacity = 16, .max_delay_ms = 200};
    if (size && data[0] & 1)
        cfg.frame_samples = 480; /* a 10 ms clock */
    if (jitter_alloc(&jb, &cfg))
        return 0;

    static struct jitter_frame f;
    uint64_t seq = 1000, now = 5000000, last_played = 0, resets = 0;
    uint32_t ts = 0xfffff000u;
    bool played_any = false;
    uint8_t payload[16];

    for (size_t i = 1; i + 4 <= size; i += 4) {
        const uint8_t *op = data + i;
        now += (uint64_t)(op[3] & 0x3f) * 1000;
        if (op[0] & 0x80) {
            enum jitter_result r = jitter_get(jb, now, &f);
            struct jitter_stats st;
            jitter_get_stats(jb, &st);
            if (st.resets != resets) { /* a restart may go back in sequence numbers */
                resets = st.resets;
                played_any = false;
            }
            CHECK(st.target_ms >= 20 && st.target_ms <= 200);
            if (r == JITTER_PACKET) {
                CHECK(f.len == sizeof(payload));
                CHECK(get_u64(f.payload) == f.seq);
                CHECK(f.duration >= 1 && f.duration <= 5760);
                CHECK(!played_any || (int64_t)(f.seq - last_played) > 0);
                last_played = f.seq;
                played_any = true;
            } else if (r == JITTER_LOST) {
                CHECK(f.duration >= 1 && f.duration <= 5760);
                if (f.fec) {
                    CHECK(f.len == sizeof(payload));
                    CHECK((int64_t)(get_u64(f.payload) - f.seq) > 0);
                }
            }
            continue;
        }
        /* an arrival: steps of sequence number and timestamp, duration, lateness */
        int8_t dseq = (int8_t)op[1];
        seq += (uint64_t)(int64_t)(op[0] & 0x40 ? dseq * 997 : dseq);
        ts += (uint32_t)((int32_t)(int8_t)op[2] * 480);
        uint32_t dur = 120u * (uint32_t)(1 + (op[0] & 0x3f));
        put_u64(payload, seq);
        memset(payload + 8, op[3], sizeof(payload) - 8);
        int err = jitter_put(jb, seq, ts, payload, sizeof(payload), dur, now);
        CHECK(err == 0 || err == EALREADY || err == ETIMEDOUT || err == EINVAL);
        CHECK(err != EINVAL || dur > 5760);
    }
    mem_deref(jb);
    return 0;
}
