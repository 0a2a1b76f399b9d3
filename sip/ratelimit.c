/*
 * Token buckets per source address (see ratelimit.h).
 */
#include "sip/ratelimit.h"

#include <errno.h>
#include <math.h>

#include <glib.h>

#include "base/mem.h"

struct bucket {
    double tokens;
    uint64_t last_us;
};

struct sip_ratelimit {
    double rate, burst;
    size_t max_keys;
    GHashTable *buckets; /* address -> struct bucket */
};

static void ratelimit_destroy(void *data)
{
    struct sip_ratelimit *r = data;
    if (r->buckets)
        g_hash_table_destroy(r->buckets);
}

int sip_ratelimit_alloc(struct sip_ratelimit **rp, double rate, double burst, size_t max_keys)
{
    if (!rp || !(rate > 0) || !(burst >= 1) || max_keys == 0)
        return EINVAL;
    struct sip_ratelimit *r = mem_zalloc(sizeof(*r), ratelimit_destroy);
    if (!r)
        return ENOMEM;
    r->rate = rate;
    r->burst = burst;
    r->max_keys = max_keys;
    r->buckets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    *rp = r;
    return 0;
}

static void refill(const struct sip_ratelimit *r, struct bucket *b, uint64_t now_us)
{
    if (now_us > b->last_us) {
        b->tokens += (double)(now_us - b->last_us) / 1e6 * r->rate;
        if (b->tokens > r->burst)
            b->tokens = r->burst;
    }
    b->last_us = now_us > b->last_us ? now_us : b->last_us;
}

/* Makes room for one more source: first every bucket that has refilled (nobody is limited by
 * it), then, if none has, the least recently used. */
static void make_room(struct sip_ratelimit *r, uint64_t now_us)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, r->buckets);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct bucket *b = v;
        refill(r, b, now_us);
        if (b->tokens >= r->burst)
            g_hash_table_iter_remove(&it);
    }
    if (g_hash_table_size(r->buckets) < r->max_keys)
        return;
    gpointer oldest = NULL;
    uint64_t oldest_us = UINT64_MAX;
    g_hash_table_iter_init(&it, r->buckets);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct bucket *b = v;
        if (b->last_us < oldest_us) {
            oldest_us = b->last_us;
            oldest = k;
        }
    }
    if (oldest)
        g_hash_table_remove(r->buckets, oldest);
}

bool sip_ratelimit_take(struct sip_ratelimit *r, const char *key, uint64_t now_us,
                        unsigned *retry_after_s)
{
    struct bucket *b = g_hash_table_lookup(r->buckets, key);
    if (!b) {
        if (g_hash_table_size(r->buckets) >= r->max_keys)
            make_room(r, now_us);
        b = g_new(struct bucket, 1);
        b->tokens = r->burst;
        b->last_us = now_us;
        g_hash_table_insert(r->buckets, g_strdup(key), b);
    }
    refill(r, b, now_us);
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    if (retry_after_s) {
        double s = ceil((1.0 - b->tokens) / r->rate);
        *retry_after_s = s < 1 ? 1 : s > 3600 ? 3600 : (unsigned)s;
    }
    return false;
}

size_t sip_ratelimit_count(const struct sip_ratelimit *r)
{
    return g_hash_table_size(r->buckets);
}
