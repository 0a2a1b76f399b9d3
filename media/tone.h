/*
 * Test tones: a sine generator and an analyser that tells which tones a signal holds.
 *
 * Tests, benchmarks and the mxcall tool send each party its own tone and check what comes back
 * ("B hears A and C, never itself, 20 dB above the noise"). The generator is a rotating phasor,
 * phase-continuous across calls however the samples are chunked, and cheap enough for a load
 * generator running many calls. The analyser cuts the signal into fixed blocks (20 ms by
 * default) and in each one fits a sine at every probe frequency at once (weighted least
 * squares under a Hann window, projections by Goertzel), which measures a tone on a probe
 * exactly, at any frequency and phase, without the probes taking each other's energy. Averages
 * over all the blocks seen give each probe's level, the total, and the "noise floor": the
 * power the probe sines do not explain (noise, distortion, tones elsewhere).
 *
 * Levels are in dBFS where a full-scale sine (peak 32767) is 0 dBFS, so a tone made at
 * -20 dBFS measures -20 dBFS. Works at any sample rate.
 */
#ifndef SB_MEDIA_TONE_H
#define SB_MEDIA_TONE_H

#include <stddef.h>
#include <stdint.h>

/* Returned for levels of nothing at all (digital silence). */
#define TONE_DB_MIN -200.0

/* Probes per analyser. */
#define TONE_MAX_PROBES 32

struct tone_gen {
    double re, im;           /* phasor; the sample is amp * im */
    double step_re, step_im; /* rotation per sample */
    double amp;              /* peak, in sample units */
};

/* A sine of freq_hz (0 < freq < rate/2) at dbfs (<= 0) starting at phase 0. EINVAL otherwise. */
int tone_gen_init(struct tone_gen *g, unsigned rate, double freq_hz, double dbfs);

/* Writes the next n samples over pcm. */
void tone_gen_fill(struct tone_gen *g, int16_t *pcm, size_t n);

/* Adds the next n samples onto pcm, saturating, for signals made of several tones. */
void tone_gen_add(struct tone_gen *g, int16_t *pcm, size_t n);

/* Peak amplitude (sample units) of a sine at dbfs. */
double tone_dbfs_amplitude(double dbfs);

struct tone_analyser;

/* Probes at freqs[0..nfreqs) Hz, block samples per analysis block (0: 20 ms). A block resolves
 * frequencies one bin (rate / block Hz: 50 Hz for 20 ms) apart, so probes must be at least a
 * bin apart and a bin inside (0, rate / 2); use a longer block for closer tones. EINVAL for
 * bad arguments. */
int tone_analyser_alloc(struct tone_analyser **ap, unsigned rate, const double *freqs,
                        unsigned nfreqs, unsigned block);

/* Feeds samples; they are analysed a block at a time, any remainder waits for the next feed. */
void tone_analyser_feed(struct tone_analyser *a, const int16_t *pcm, size_t n);

/* Forgets every block analysed so far (and the partial block). */
void tone_analyser_reset(struct tone_analyser *a);

/* Blocks analysed since alloc or reset. */
uint64_t tone_analyser_blocks(const struct tone_analyser *a);

/* Mean level of probe i over the blocks analysed, dBFS (TONE_DB_MIN with no block or no
 * signal; a probe index out of range too). */
double tone_analyser_level(const struct tone_analyser *a, unsigned i);

/* Mean total level, dBFS. */
double tone_analyser_total(const struct tone_analyser *a);

/* Mean level of everything the probes do not explain (noise, distortion, other tones), dBFS. */
double tone_analyser_floor(const struct tone_analyser *a);

#endif
