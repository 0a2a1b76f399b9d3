/*
 * Per-source rate limiting of new INVITEs: one token bucket per source address, refilled at
 * rate tokens a second up to burst. An INVITE takes a token or is refused (503 with
 * Retry-After), so a flood from one address cannot starve the others or the main loop.
 *
 * The table is bounded: idle buckets (full again) are dropped when it fills up, and past that
 * the least recently used one goes, so an attacker cycling through addresses costs memory that
 * is capped, not unbounded. Time comes from the caller (monotonic µs), which makes the bucket
 * arithmetic testable without sleeping.
 *
 * Threads: main loop only.
 */
#ifndef SB_SIP_RATELIMIT_H
#define SB_SIP_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sip_ratelimit;

/* rate > 0 tokens a second, burst >= 1 tokens, at most max_keys sources remembered. */
int sip_ratelimit_alloc(struct sip_ratelimit **rp, double rate, double burst, size_t max_keys);

/* Takes a token for key at now_us. false when the bucket is empty; *retry_after_s (may be NULL)
 * is then the whole seconds until one is back (at least 1). */
bool sip_ratelimit_take(struct sip_ratelimit *r, const char *key, uint64_t now_us,
                        unsigned *retry_after_s);

/* Sources remembered now. */
size_t sip_ratelimit_count(const struct sip_ratelimit *r);

#endif
