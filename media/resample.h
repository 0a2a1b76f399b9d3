/*
 * Sample-rate conversion between a codec's rate and the mixer's 48 kHz, over speexdsp's
 * resampler (windowed-sinc, quality 0..10; 5 is its "desktop" setting: about 5 ms of delay at
 * 8 kHz and an anti-aliasing filter that keeps a 3 kHz tone while removing what would fold
 * onto it).
 *
 * A resampler is one direction of one stream: it keeps the filter's history from one call to
 * the next, so frames join without a seam. Between rates in a whole ratio (8, 16 and 48 kHz)
 * each call converts its whole input to exactly in * out_rate / in_rate samples, which is what
 * lets a codec promise its frame sizes. The state is allocated once; processing allocates
 * nothing.
 */
#ifndef SB_MEDIA_RESAMPLE_H
#define SB_MEDIA_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#define RESAMPLE_QUALITY 5

struct resampler;

/* Mono, in_rate -> out_rate (1000 .. 192000 Hz, one a whole multiple of the other), quality
 * 0..10. EINVAL for other rates or quality, ENOMEM. */
int resampler_alloc(struct resampler **rp, uint32_t in_rate, uint32_t out_rate, int quality);

/* Converts in[0..n) into out: *n_out = n * out_rate / in_rate samples. n must be a multiple of
 * in_rate / out_rate when downsampling. EINVAL for such an n, EOVERFLOW when cap is too
 * small. */
int resampler_process(struct resampler *r, const int16_t *in, size_t n, int16_t *out, size_t cap,
                      size_t *n_out);

/* The filter's delay, in output samples: what a call's output still lags its input. */
size_t resampler_delay(const struct resampler *r);

/* Forgets the filter's history (a new, unrelated signal follows). */
void resampler_reset(struct resampler *r);

#endif
