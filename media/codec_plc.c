/*
 * Packet loss concealment for the codecs that have none of their own (G.711, G.722), and
 * their common way up to 48 kHz: see audio_codec_int.h.
 *
 * The concealment is waveform substitution after G.711 Appendix I, reshaped so that it never
 * delays the signal. Appendix I holds back 3.75 ms of output so that it can cross-fade the
 * history into the first repeated period; here the repeated material itself is shaped instead:
 * the first quarter-period of each loop carries a ramp that cancels the step between the last
 * sample played and the loop's first sample, which makes the start and every wrap of the loop
 * continuous without touching what was already played. The rest follows Appendix I: the pitch
 * is found once per loss by normalised autocorrelation over 5 .. 15 ms, the loop widens to two
 * and three periods after 10 and 20 ms (cross-faded), the output fades linearly from 10 ms to
 * silence at 60 ms, and the first packet after a loss is cross-faded with the continued
 * concealment over 4 ms, plus 4 ms for each further 10 ms lost, at most 10 ms.
 *
 * The history is frozen while concealing: every synthetic sample is a function of the history
 * and its index since the loss began, which keeps the state small and the cross-fades exact.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "media/audio_codec_int.h"
#include "media/pcm.h"
#include "media/resample.h"

#define PITCH_MIN_TENTHS_MS 50 /* Appendix I: 5 ms (200 Hz); shorter loops buzz */
#define FADE_START_MS       10
#define FADE_LEN_MS         50
#define BLEND_MS            4
#define BLEND_MAX_MS        10

void codec_plc_init(struct codec_plc *p, uint32_t rate)
{
    memset(p, 0, sizeof(*p));
    if (rate < 1000 || rate > CODEC_PLC_MAX_RATE)
        rate = rate < 1000 ? 1000 : CODEC_PLC_MAX_RATE; /* a programming error: stay bounded */
    p->rate = rate;
    p->pmin = rate * PITCH_MIN_TENTHS_MS / 10000;
    p->pmax = rate * CODEC_PLC_PITCH_MAX / 10000;
    p->hlen = 3 * p->pmax + 2;
}

static uint32_t ms(const struct codec_plc *p, uint32_t m)
{
    return p->rate * m / 1000;
}

/* The lag in [pmin, pmax] at which the last pmax samples best repeat what came before. */
static unsigned find_pitch(const struct codec_plc *p)
{
    const unsigned w = p->pmax;
    const int16_t *x = p->hist + p->hlen - w;
    unsigned best = p->pmax;
    double best_c = 0;
    for (unsigned lag = p->pmin; lag <= p->pmax; lag++) {
        const int16_t *y = x - lag;
        int64_t xy = 0, yy = 0;
        for (unsigned i = 0; i < w; i++) {
            xy += (int32_t)x[i] * y[i];
            yy += (int32_t)y[i] * y[i];
        }
        double c = yy > 0 ? (double)xy / sqrt((double)yy) : 0;
        if (c > best_c) {
            best_c = c;
            best = lag;
        }
    }
    return best;
}

static void start(struct codec_plc *p)
{
    p->pitch = find_pitch(p);
    p->ramp = p->pitch / 4 ? p->pitch / 4 : 1;
    p->k = 0;
    p->active = true;
}

/* Periods in the loop k samples into the loss. */
static unsigned periods(const struct codec_plc *p, uint32_t k)
{
    return k < ms(p, 10) ? 1 : k < ms(p, 20) ? 2 : 3;
}

/* Sample j of the loop of n periods: the last n periods of the history, the first quarter
 * period lifted by a fading ramp so the loop continues the last sample played. */
static double loop_value(const struct codec_plc *p, unsigned n, uint32_t j)
{
    const unsigned len = n * p->pitch, base = p->hlen - len;
    double v = p->hist[base + j];
    if (j < p->ramp) {
        double step = (double)p->hist[p->hlen - 1] - p->hist[base - 1];
        v += step * (double)(p->ramp - j) / p->ramp;
    }
    return v;
}

static double gain(const struct codec_plc *p, uint32_t k)
{
    uint32_t from = ms(p, FADE_START_MS), len = ms(p, FADE_LEN_MS);
    if (k < from)
        return 1.0;
    if (k >= from + len)
        return 0.0;
    return 1.0 - (double)(k - from) / len;
}

/* Synthetic sample k since the loss began. */
static double synth(const struct codec_plc *p, uint32_t k)
{
    double g = gain(p, k);
    if (g == 0.0)
        return 0.0;
    unsigned n = periods(p, k);
    double v = loop_value(p, n, k % (n * p->pitch));
    uint32_t widened = n == 2 ? ms(p, 10) : n == 3 ? ms(p, 20) : 0;
    if (n > 1 && k - widened < p->ramp) {
        double w = (double)(k - widened + 1) / (p->ramp + 1);
        v = w * v + (1 - w) * loop_value(p, n - 1, k % ((n - 1) * p->pitch));
    }
    return g * v;
}

static void push_history(struct codec_plc *p, const int16_t *pcm, size_t n)
{
    if (n >= p->hlen) {
        memcpy(p->hist, pcm + n - p->hlen, p->hlen * sizeof(p->hist[0]));
        return;
    }
    memmove(p->hist, p->hist + n, (p->hlen - n) * sizeof(p->hist[0]));
    memcpy(p->hist + p->hlen - n, pcm, n * sizeof(p->hist[0]));
}

void codec_plc_good(struct codec_plc *p, int16_t *pcm, size_t n)
{
    if (p->active) {
        uint32_t step = ms(p, 10);
        size_t r = ms(p, BLEND_MS) + (p->k > step ? (p->k - step) / step * ms(p, BLEND_MS) : 0);
        if (r > ms(p, BLEND_MAX_MS))
            r = ms(p, BLEND_MAX_MS);
        if (r > n)
            r = n;
        for (size_t i = 0; i < r; i++) {
            double w = (double)(i + 1) / (double)(r + 1);
            pcm[i] = pcm_sat16(w * pcm[i] + (1 - w) * synth(p, p->k + (uint32_t)i));
        }
        p->active = false;
        p->k = 0;
    }
    push_history(p, pcm, n);
}

void codec_plc_conceal(struct codec_plc *p, int16_t *pcm, size_t n)
{
    if (!p->active)
        start(p);
    for (size_t i = 0; i < n; i++)
        pcm[i] = pcm_sat16(synth(p, p->k + (uint32_t)i));
    /* past the fade everything is silence: no need to count further */
    uint32_t end = ms(p, FADE_START_MS + FADE_LEN_MS) + ms(p, BLEND_MAX_MS);
    p->k = p->k + n > end ? end : p->k + (uint32_t)n;
}

void codec_plc_reset(struct codec_plc *p)
{
    memset(p->hist, 0, sizeof(p->hist));
    p->active = false;
    p->k = 0;
}

void codec_plc_discontinuity(struct codec_plc *p)
{
    if (!p->active)
        start(p);
}

/* ---- the way out to 48 kHz ---- */

int codec_out_init(struct codec_out *o, uint32_t rate)
{
    if (!rate || AUDIO_RATE % rate || rate > CODEC_PLC_MAX_RATE)
        return EINVAL;
    codec_plc_init(&o->plc, rate);
    o->ratio = AUDIO_RATE / rate;
    return resampler_alloc(&o->up, rate, AUDIO_RATE, RESAMPLE_QUALITY);
}

size_t codec_out_delay(const struct codec_out *o)
{
    return resampler_delay(o->up);
}

void codec_out_release(struct codec_out *o)
{
    o->up = mem_deref(o->up);
}

int codec_out_decoded(struct codec_out *o, size_t n, int16_t *pcm, size_t cap, size_t *samples)
{
    if (n > sizeof(o->native) / sizeof(o->native[0]))
        return EINVAL;
    if (n * o->ratio > cap)
        return EOVERFLOW;
    codec_plc_good(&o->plc, o->native, n);
    return resampler_process(o->up, o->native, n, pcm, cap, samples);
}

/* A fade-out is applied at 48 kHz, after the resampler: what the resampler still holds (the
 * last few ms decoded or concealed) comes out first, so fading before it would let that part
 * play at full level and stop dead. Its history is then dropped, so that the next packet
 * starts from silence. */
int codec_out_conceal(struct codec_out *o, int16_t *pcm, size_t samples, bool fade_out)
{
    size_t n = samples / o->ratio, got = 0;
    if (!n || n * o->ratio != samples || n > sizeof(o->native) / sizeof(o->native[0]))
        return EINVAL;
    codec_plc_conceal(&o->plc, o->native, n);
    int err = resampler_process(o->up, o->native, n, pcm, samples, &got);
    if (err || !fade_out)
        return err;
    for (size_t i = 0; i < samples; i++)
        pcm[i] = (int16_t)((int32_t)pcm[i] * (int32_t)(samples - 1 - i) / (int32_t)samples);
    codec_plc_reset(&o->plc);
    resampler_reset(o->up);
    return 0;
}
