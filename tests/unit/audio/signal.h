/*
 * Test signals for the audio tests: a voiced, speech-like sound (a harmonic series on a gliding
 * pitch, with a syllable-rate envelope and a little noise). Opus treats it as speech (so its VAD
 * is active and in-band FEC is coded), and its changing pitch gives one clear correlation peak,
 * which a pure tone would not. The lowest harmonics are left out: the high-pass filter of
 * Opus's VOIP mode shifts their phase, which would spoil a waveform comparison.
 */
#ifndef SB_TESTS_AUDIO_SIGNAL_H
#define SB_TESTS_AUDIO_SIGNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Fills pcm[0..n) with the signal starting at sample `start` (so it can be made frame by frame). */
static inline void signal_speechlike(int16_t *pcm, size_t n, uint64_t start)
{
    for (size_t i = 0; i < n; i++) {
        double t = (double)(start + i) / 48000.0;
        /* phase of f0(t) = 140 + 40 sin(2 pi 0.7 t), integrated in closed form */
        double ph = 2 * M_PI * 140 * t + 40.0 / 0.7 * (1 - cos(2 * M_PI * 0.7 * t));
        double s = 0;
        for (int k = 3; k <= 14; k++)
            s += sin(k * ph) / k;
        double env = 0.55 + 0.45 * sin(2 * M_PI * 3 * t);
        uint32_t r = (uint32_t)(start + i) * 2654435761u;
        r ^= r >> 15;
        double noise = (double)(r & 0xffff) / 65536.0 - 0.5;
        pcm[i] = (int16_t)(5000 * env * s + 300 * noise);
    }
}

/* Normalised correlation of a[from..to) with b[from + lag ..). */
static inline double signal_correlation(const int16_t *a, const int16_t *b, size_t from, size_t to,
                                        size_t lag)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = from; i < to; i++) {
        double x = a[i], y = b[i + lag];
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if (aa == 0 || bb == 0)
        return 0;
    return ab / sqrt(aa * bb);
}

/* The lag in 0..max_lag where b best matches a over [from, to). */
static inline size_t signal_best_lag(const int16_t *a, const int16_t *b, size_t from, size_t to,
                                     size_t max_lag, double *corr)
{
    size_t best = 0;
    double bc = -2;
    for (size_t lag = 0; lag <= max_lag; lag++) {
        double c = signal_correlation(a, b, from, to, lag);
        if (c > bc) {
            bc = c;
            best = lag;
        }
    }
    if (corr)
        *corr = bc;
    return best;
}

static inline double signal_snr_db(const int16_t *in, const int16_t *out, size_t from, size_t to,
                                   size_t lag)
{
    double sig = 0, noise = 0;
    for (size_t i = from; i < to; i++) {
        double e = (double)out[i + lag] - in[i];
        sig += (double)in[i] * in[i];
        noise += e * e;
    }
    return 10 * log10(sig / (noise + 1e-9));
}

static inline double signal_energy(const int16_t *p, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += (double)p[i] * p[i];
    return e / (double)(n ? n : 1);
}

#endif
