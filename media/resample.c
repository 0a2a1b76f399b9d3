/*
 * speexdsp resampler wrapper: see resample.h.
 */
#include "media/resample.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <speex/speex_resampler.h>

#include "base/mem.h"

struct resampler {
    SpeexResamplerState *st;
    uint32_t in_rate, out_rate;
};

static void destroy(void *arg)
{
    struct resampler *r = arg;
    if (r->st)
        speex_resampler_destroy(r->st);
}

static bool rate_ok(uint32_t rate)
{
    return rate >= 1000 && rate <= 192000;
}

int resampler_alloc(struct resampler **rp, uint32_t in_rate, uint32_t out_rate, int quality)
{
    if (!rp || !rate_ok(in_rate) || !rate_ok(out_rate) || quality < 0 || quality > 10)
        return EINVAL;
    uint32_t hi = in_rate > out_rate ? in_rate : out_rate;
    uint32_t lo = in_rate > out_rate ? out_rate : in_rate;
    if (hi % lo)
        return EINVAL;
    struct resampler *r = mem_zalloc(sizeof(*r), destroy);
    if (!r)
        return ENOMEM;
    int err = 0;
    r->st = speex_resampler_init(1, in_rate, out_rate, quality, &err);
    if (!r->st || err != RESAMPLER_ERR_SUCCESS) {
        mem_deref(r);
        return err == RESAMPLER_ERR_ALLOC_FAILED ? ENOMEM : EINVAL;
    }
    r->in_rate = in_rate;
    r->out_rate = out_rate;
    *rp = r;
    return 0;
}

int resampler_process(struct resampler *r, const int16_t *in, size_t n, int16_t *out, size_t cap,
                      size_t *n_out)
{
    if (!r || (!in && n) || !out || !n_out || n > UINT32_MAX / 8)
        return EINVAL;
    if (r->in_rate > r->out_rate && n % (r->in_rate / r->out_rate))
        return EINVAL;
    size_t want = (size_t)((uint64_t)n * r->out_rate / r->in_rate);
    if (want > cap)
        return EOVERFLOW;
    *n_out = want;
    if (!n)
        return 0;
    spx_uint32_t in_len = (spx_uint32_t)n, out_len = (spx_uint32_t)want;
    speex_resampler_process_int(r->st, 0, in, &in_len, out, &out_len);
    /* Whole ratios convert exactly; should the library ever hold a sample back, hold the last
     * one rather than leave a hole (a frame must stay a frame). */
    if (out_len < want) {
        int16_t last = out_len ? out[out_len - 1] : 0;
        for (size_t i = out_len; i < want; i++)
            out[i] = last;
    }
    return 0;
}

size_t resampler_delay(const struct resampler *r)
{
    int d = r ? speex_resampler_get_output_latency(r->st) : 0;
    return d > 0 ? (size_t)d : 0;
}

void resampler_reset(struct resampler *r)
{
    if (r)
        speex_resampler_reset_mem(r->st);
}
