/*
 * See tone.h.
 *
 * Per block of N samples x with Hann weights w, the analyser fits A_p cos(w_p n) + B_p sin(w_p n)
 * for every probe p at once by weighted least squares: the normal equations G c = b, where b
 * holds the weighted projections sum(w x cos), sum(w x sin) (one Goertzel pass per probe) and
 * G, the weighted Gram matrix of those cosines and sines, depends only on the probes and the
 * block, so it is built and Cholesky-factored once. A probe's power is that of its fitted sine,
 * (A^2 + B^2) / 2; the explained weighted energy is c . b; the block's total is the weighted
 * mean square sum(w x^2) / sum(w). For a signal made of tones on the probes the fit is exact
 * whatever the frequencies and phases, so the "floor" (total minus explained) is what truly is
 * something else, not leakage of the tones' own spectra into each other.
 * dBFS divides by the power of a full-scale sine, 32767^2 / 2.
 */
#include "media/tone.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/mem.h"
#include "media/pcm.h"

#define FULL_SCALE 32767.0

double tone_dbfs_amplitude(double dbfs)
{
    return FULL_SCALE * pow(10.0, dbfs / 20.0);
}

int tone_gen_init(struct tone_gen *g, unsigned rate, double freq_hz, double dbfs)
{
    if (!g || rate == 0 || !(freq_hz > 0.0) || !(freq_hz < rate / 2.0) || !(dbfs <= 0.0))
        return EINVAL;
    double w = 2.0 * M_PI * freq_hz / rate;
    g->re = 1.0;
    g->im = 0.0;
    g->step_re = cos(w);
    g->step_im = sin(w);
    g->amp = tone_dbfs_amplitude(dbfs);
    return 0;
}

/* One rotation per sample; the magnitude, which rounding lets creep by about 1e-16 a step, is
 * pulled back to 1 once per call. */
static inline double gen_next(struct tone_gen *g)
{
    double v = g->im;
    double re = g->re * g->step_re - g->im * g->step_im;
    double im = g->re * g->step_im + g->im * g->step_re;
    g->re = re;
    g->im = im;
    return v;
}

static void gen_normalise(struct tone_gen *g)
{
    double mag = sqrt(g->re * g->re + g->im * g->im);
    if (mag > 0.0) {
        g->re /= mag;
        g->im /= mag;
    }
}

void tone_gen_fill(struct tone_gen *g, int16_t *pcm, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pcm[i] = pcm_sat16(g->amp * gen_next(g));
    gen_normalise(g);
}

void tone_gen_add(struct tone_gen *g, int16_t *pcm, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pcm[i] = pcm_sat16(pcm[i] + g->amp * gen_next(g));
    gen_normalise(g);
}

/* ---- analyser ---- */

#define NB (2 * TONE_MAX_PROBES) /* basis functions: a cosine and a sine per probe */

struct tone_analyser {
    unsigned rate;
    unsigned block;
    unsigned nprobes;
    double coeff[TONE_MAX_PROBES];  /* Goertzel: 2 cos(w) */
    double rot_re[TONE_MAX_PROBES]; /* e^{-jw(N-1)}, to turn its output into the DFT */
    double rot_im[TONE_MAX_PROBES];
    double chol[NB * NB];                /* Cholesky factor of the weighted Gram matrix */
    double probe_power[TONE_MAX_PROBES]; /* sums over blocks of the fitted sines' power */
    double total_power;
    double residual_power; /* signed: per-block estimates scatter around the truth */
    uint64_t blocks;
    double win_sum; /* sum(w) */
    double *win;    /* the block's weights */
    double *buf;    /* the block being filled */
    unsigned fill;
};

static void analyser_destroy(void *arg)
{
    struct tone_analyser *a = arg;
    mem_deref(a->win);
    mem_deref(a->buf);
}

/* In-place Cholesky of the n x n symmetric matrix m (lower triangle). false if not positive
 * definite, which here means two probes the block is too short to tell apart. */
static bool cholesky(double *m, unsigned n)
{
    for (unsigned j = 0; j < n; j++) {
        double d = m[j * n + j];
        for (unsigned k = 0; k < j; k++)
            d -= m[j * n + k] * m[j * n + k];
        if (!(d > 1e-9 * m[j * n + j]) || !(d > 0.0))
            return false;
        d = sqrt(d);
        m[j * n + j] = d;
        for (unsigned i = j + 1; i < n; i++) {
            double v = m[i * n + j];
            for (unsigned k = 0; k < j; k++)
                v -= m[i * n + k] * m[j * n + k];
            m[i * n + j] = v / d;
        }
    }
    return true;
}

/* Solves L L^T x = b with the factor from cholesky(). */
static void chol_solve(const double *l, unsigned n, const double *b, double *x)
{
    for (unsigned i = 0; i < n; i++) {
        double v = b[i];
        for (unsigned k = 0; k < i; k++)
            v -= l[i * n + k] * x[k];
        x[i] = v / l[i * n + i];
    }
    for (unsigned i = n; i-- > 0;) {
        double v = x[i];
        for (unsigned k = i + 1; k < n; k++)
            v -= l[k * n + i] * x[k];
        x[i] = v / l[i * n + i];
    }
}

/* Gram matrix of the cosine and sine of every probe under the window's weights. */
static int gram_factor(struct tone_analyser *a, const double *freqs)
{
    unsigned nb = 2 * a->nprobes, n = a->block;
    if (nb == 0)
        return 0;
    double *basis = mem_alloc((size_t)nb * n * sizeof(double), NULL);
    if (!basis)
        return ENOMEM;
    for (unsigned p = 0; p < a->nprobes; p++) {
        double w = 2.0 * M_PI * freqs[p] / a->rate;
        for (unsigned k = 0; k < n; k++) {
            basis[(2 * p) * n + k] = cos(w * k);
            basis[(2 * p + 1) * n + k] = sin(w * k);
        }
    }
    for (unsigned i = 0; i < nb; i++) {
        for (unsigned j = 0; j <= i; j++) {
            double g = 0.0;
            for (unsigned k = 0; k < n; k++)
                g += a->win[k] * basis[i * n + k] * basis[j * n + k];
            a->chol[i * nb + j] = g;
            a->chol[j * nb + i] = g;
        }
    }
    mem_deref(basis);
    return cholesky(a->chol, nb) ? 0 : EINVAL;
}

int tone_analyser_alloc(struct tone_analyser **ap, unsigned rate, const double *freqs,
                        unsigned nfreqs, unsigned block)
{
    if (!ap || rate == 0 || (!freqs && nfreqs) || nfreqs > TONE_MAX_PROBES)
        return EINVAL;
    if (block == 0)
        block = rate / 50;
    if (block < 16 || block > (1u << 20))
        return EINVAL;

    double bin_hz = (double)rate / block;
    for (unsigned i = 0; i < nfreqs; i++) {
        if (!(freqs[i] >= bin_hz) || !(freqs[i] <= rate / 2.0 - bin_hz))
            return EINVAL;
        for (unsigned j = 0; j < i; j++) {
            if (fabs(freqs[i] - freqs[j]) < bin_hz)
                return EINVAL;
        }
    }

    struct tone_analyser *a = mem_zalloc(sizeof(*a), analyser_destroy);
    if (!a)
        return ENOMEM;
    a->win = mem_alloc(block * sizeof(double), NULL);
    a->buf = mem_alloc(block * sizeof(double), NULL);
    if (!a->win || !a->buf) {
        mem_deref(a);
        return ENOMEM;
    }
    a->rate = rate;
    a->block = block;
    a->nprobes = nfreqs;
    /* Periodic Hann weights: the fit listens to the middle of the block, so whatever starts
     * or stops at its edges (a member joining mid-block) hardly disturbs it. */
    for (unsigned n = 0; n < block; n++) {
        double w = 0.5 - 0.5 * cos(2.0 * M_PI * n / block);
        a->win[n] = w;
        a->win_sum += w;
    }
    for (unsigned i = 0; i < nfreqs; i++) {
        double w = 2.0 * M_PI * freqs[i] / rate;
        a->coeff[i] = 2.0 * cos(w);
        a->rot_re[i] = cos(w * (block - 1));
        a->rot_im[i] = -sin(w * (block - 1));
    }
    int err = gram_factor(a, freqs);
    if (err) {
        mem_deref(a);
        return err;
    }
    *ap = a;
    return 0;
}

static void analyse_block(struct tone_analyser *a)
{
    double *x = a->buf;
    const double *w = a->win;
    unsigned n = a->block, nb = 2 * a->nprobes;

    double energy = 0.0;
    for (unsigned k = 0; k < n; k++) {
        double xw = x[k] * w[k];
        energy += xw * x[k];
        x[k] = xw;
    }

    /* Projections of w x onto each probe's cosine and sine: the DFT at the probe's exact
     * frequency, by Goertzel. */
    double proj[NB], coef[NB];
    for (unsigned p = 0; p < a->nprobes; p++) {
        double c = a->coeff[p], s1 = 0.0, s2 = 0.0;
        for (unsigned k = 0; k < n; k++) {
            double s0 = x[k] + c * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        /* y = s1 - e^{-jw} s2; X = e^{-jw(N-1)} y = sum x[k] e^{-jwk}. */
        double cw = c / 2.0, sw = sqrt(fmax(0.0, 1.0 - cw * cw));
        double y_re = s1 - cw * s2, y_im = sw * s2;
        double x_re = a->rot_re[p] * y_re - a->rot_im[p] * y_im;
        double x_im = a->rot_re[p] * y_im + a->rot_im[p] * y_re;
        proj[2 * p] = x_re;      /* sum w x cos */
        proj[2 * p + 1] = -x_im; /* sum w x sin */
    }

    /* The weighted least-squares fit of all probe sines at once: exact for tones on the
     * probes whatever their phase, and no probe takes another's energy. */
    double explained = 0.0;
    if (nb) {
        chol_solve(a->chol, nb, proj, coef);
        for (unsigned i = 0; i < nb; i++)
            explained += coef[i] * proj[i];
        for (unsigned p = 0; p < a->nprobes; p++)
            a->probe_power[p] +=
                (coef[2 * p] * coef[2 * p] + coef[2 * p + 1] * coef[2 * p + 1]) / 2.0;
    }
    a->total_power += energy / a->win_sum;
    a->residual_power += (energy - explained) / a->win_sum;
    a->blocks++;
}

void tone_analyser_feed(struct tone_analyser *a, const int16_t *pcm, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        a->buf[a->fill] = pcm[i];
        if (++a->fill == a->block) {
            analyse_block(a);
            a->fill = 0;
        }
    }
}

void tone_analyser_reset(struct tone_analyser *a)
{
    memset(a->probe_power, 0, sizeof(a->probe_power));
    a->total_power = 0.0;
    a->residual_power = 0.0;
    a->blocks = 0;
    a->fill = 0;
}

uint64_t tone_analyser_blocks(const struct tone_analyser *a)
{
    return a->blocks;
}

static double to_dbfs(const struct tone_analyser *a, double power_sum)
{
    if (a->blocks == 0 || !(power_sum > 0.0))
        return TONE_DB_MIN;
    double ref = FULL_SCALE * FULL_SCALE / 2.0;
    double db = 10.0 * log10(power_sum / (double)a->blocks / ref);
    return db < TONE_DB_MIN ? TONE_DB_MIN : db;
}

double tone_analyser_level(const struct tone_analyser *a, unsigned i)
{
    if (i >= a->nprobes)
        return TONE_DB_MIN;
    return to_dbfs(a, a->probe_power[i]);
}

double tone_analyser_total(const struct tone_analyser *a)
{
    return to_dbfs(a, a->total_power);
}

double tone_analyser_floor(const struct tone_analyser *a)
{
    /* Digital silence under a tone leaves only rounding: clamp the tiny negative means. */
    return to_dbfs(a, a->residual_power);
}
