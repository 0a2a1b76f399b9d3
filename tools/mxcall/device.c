/*
 * A party's local audio device: the source (a sine or a looped WAV file) that the mixer reads as
 * the party's voice, and the sink (the tone analyser, a WAV recorder) that the mixer writes what
 * the party hears into. Runs on the mixer clock; the main loop reads the analysis under a lock.
 *
 * DTMF the peer sends reaches the device as any conference member gets digits (its port's
 * send_dtmf, on the clock); they queue under a lock and an idle callback hands them to the
 * party on the main loop, in order.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "media/wav.h"
#include "tools/mxcall/mxcall.h"

#define DTMF_RX_MAX 64

struct mxcall_device {
    struct tone_gen gen;
    bool tone;
    int16_t *wav;
    size_t wav_len, wav_pos;
    struct wav_writer *rec;
    struct window {
        uint64_t from, to;           /* in frames from connection; to == 0: open */
        struct tone_analyser *an;    /* the probes */
        struct tone_analyser *noise; /* off-probe frequencies: the spectrum's noise floor */
    } win[MXCALL_MAX_WINDOWS];
    unsigned nwin;
    unsigned nnoise;
    uint64_t frames; /* frames heard (written to us) */
    GMutex lock;     /* guards the analysers and frames against the main loop's reads */

    GMutex dtmf_lock; /* guards the digits below, queued by the clock for the main loop */
    struct dtmf_rx {
        char digit;
        uint16_t ms;
        int64_t at_us;
    } rx[DTMF_RX_MAX];
    unsigned nrx;
    unsigned rx_dropped;
    bool drain_pending;
    mxcall_dtmf_h *dtmf_h; /* main loop only */
    void *dtmf_arg;
};

static void device_destroy(void *data)
{
    struct mxcall_device *d = data;
    if (d->rec)
        wav_writer_close(d->rec);
    for (unsigned i = 0; i < d->nwin; i++) {
        mem_deref(d->win[i].an);
        mem_deref(d->win[i].noise);
    }
    mem_deref(d->wav);
    g_mutex_clear(&d->lock);
    g_mutex_clear(&d->dtmf_lock);
}

/* Is f within a bin of a probe, or of a product two probes make through a non-linear path
 * (harmonics, sums, differences)? Then it does not tell the noise floor. */
static bool near_products(const struct party_cfg *cfg, double f)
{
    const double guard = 60.0;
    for (unsigned i = 0; i < cfg->nprobes; i++) {
        double a = cfg->probes[i];
        if (fabs(f - a) < guard || fabs(f - 2 * a) < guard || fabs(f - 3 * a) < guard)
            return true;
        for (unsigned j = 0; j < cfg->nprobes; j++) {
            double b = cfg->probes[j];
            if (fabs(f - (a + b)) < guard || fabs(f - fabs(a - b)) < guard ||
                fabs(f - fabs(2 * a - b)) < guard)
                return true;
        }
    }
    return false;
}

/* Frequencies spread over the voice band, clear of the probes and their products. */
static unsigned noise_frequencies(const struct party_cfg *cfg, double *freqs)
{
    unsigned n = 0;
    for (double f = 187.0; f < 4000.0 && n < TONE_MAX_PROBES; f += 120.0) {
        if (!near_products(cfg, f))
            freqs[n++] = f;
    }
    return n;
}

int mxcall_device_alloc(struct mxcall_device **dp, const struct party_cfg *cfg)
{
    struct mxcall_device *d = mem_zalloc(sizeof(*d), device_destroy);
    if (!d)
        return ENOMEM;
    g_mutex_init(&d->lock);
    g_mutex_init(&d->dtmf_lock);
    int err = 0;
    if (cfg->wav) {
        size_t n;
        struct wav_format fmt;
        err = wav_read(cfg->wav, AUDIO_RATE, &d->wav, &n, &fmt);
        if (err) {
            log_error("cannot read %s: %s", cfg->wav, strerror(err));
        } else if (n == 0) {
            err = EINVAL;
            log_error("%s holds no audio", cfg->wav);
        }
        d->wav_len = n;
    } else if (cfg->tone_hz > 0) {
        err = tone_gen_init(&d->gen, AUDIO_RATE, cfg->tone_hz, cfg->tone_dbfs);
        d->tone = !err;
    }
    if (!err && cfg->record)
        err = wav_writer_open(&d->rec, cfg->record, AUDIO_RATE);
    double noise_freqs[TONE_MAX_PROBES];
    d->nnoise = cfg->nprobes ? noise_frequencies(cfg, noise_freqs) : 0;
    for (unsigned i = 0; !err && cfg->nprobes && i < cfg->nwindows; i++) {
        struct window *w = &d->win[d->nwin++];
        w->from = (uint64_t)(cfg->windows[i].from_s * 1000 / AUDIO_FRAME_MS);
        w->to = (uint64_t)(cfg->windows[i].to_s * 1000 / AUDIO_FRAME_MS);
        err =
            tone_analyser_alloc(&w->an, AUDIO_RATE, cfg->probes, cfg->nprobes, AUDIO_FRAME_SAMPLES);
        if (!err && d->nnoise)
            err = tone_analyser_alloc(&w->noise, AUDIO_RATE, noise_freqs, d->nnoise,
                                      AUDIO_FRAME_SAMPLES);
    }
    if (err) {
        mem_deref(d);
        return err;
    }
    *dp = d;
    return 0;
}

/* The party's voice, read by the mixer. */
static void device_read(void *obj, int16_t *pcm, struct audio_frame_info *info)
{
    struct mxcall_device *d = obj;
    info->level = 127;
    info->voice = false;
    info->kind = AUDIO_FRAME_DECODED;
    if (d->tone) {
        tone_gen_fill(&d->gen, pcm, AUDIO_FRAME_SAMPLES);
    } else if (d->wav) {
        for (size_t i = 0; i < AUDIO_FRAME_SAMPLES; i++) {
            pcm[i] = d->wav[d->wav_pos++];
            if (d->wav_pos == d->wav_len)
                d->wav_pos = 0;
        }
    } else {
        memset(pcm, 0, AUDIO_FRAME_SAMPLES * sizeof(*pcm));
        info->kind = AUDIO_FRAME_SILENT;
    }
}

/* What the party hears, written by the mixer. */
static int device_write(void *obj, const int16_t *pcm)
{
    struct mxcall_device *d = obj;
    if (d->rec)
        wav_writer_write(d->rec, pcm, AUDIO_FRAME_SAMPLES);
    g_mutex_lock(&d->lock);
    for (unsigned i = 0; i < d->nwin; i++) {
        struct window *w = &d->win[i];
        if (d->frames < w->from || (w->to && d->frames >= w->to))
            continue;
        tone_analyser_feed(w->an, pcm, AUDIO_FRAME_SAMPLES);
        if (w->noise)
            tone_analyser_feed(w->noise, pcm, AUDIO_FRAME_SAMPLES);
    }
    d->frames++;
    g_mutex_unlock(&d->lock);
    return 0;
}

/* Main loop: the digits the clock queued. */
static gboolean drain_dtmf(gpointer data)
{
    struct mxcall_device *d = data;
    struct dtmf_rx rx[DTMF_RX_MAX];
    g_mutex_lock(&d->dtmf_lock);
    unsigned n = d->nrx, dropped = d->rx_dropped;
    memcpy(rx, d->rx, n * sizeof(rx[0]));
    d->nrx = 0;
    d->rx_dropped = 0;
    d->drain_pending = false;
    g_mutex_unlock(&d->dtmf_lock);
    if (dropped)
        log_warn("%u DTMF digits from the peer dropped: more than %d waiting", dropped,
                 DTMF_RX_MAX);
    for (unsigned i = 0; i < n && d->dtmf_h; i++)
        d->dtmf_h(rx[i].digit, rx[i].ms, rx[i].at_us, d->dtmf_arg);
    return G_SOURCE_REMOVE;
}

static void drain_done(gpointer data)
{
    mem_deref(data);
}

/* A digit the peer sent, relayed to us by the conference (mixer clock). */
static int device_send_dtmf(void *obj, char digit, uint16_t duration_ms)
{
    struct mxcall_device *d = obj;
    bool schedule = false;
    g_mutex_lock(&d->dtmf_lock);
    if (d->nrx < DTMF_RX_MAX)
        d->rx[d->nrx++] = (struct dtmf_rx){digit, duration_ms, g_get_monotonic_time()};
    else
        d->rx_dropped++;
    if (!d->drain_pending)
        d->drain_pending = schedule = true;
    g_mutex_unlock(&d->dtmf_lock);
    if (schedule)
        g_idle_add_full(G_PRIORITY_DEFAULT, drain_dtmf, mem_ref(d), drain_done);
    return 0;
}

void mxcall_device_set_dtmf_handler(struct mxcall_device *d, mxcall_dtmf_h *h, void *arg)
{
    d->dtmf_h = h;
    d->dtmf_arg = arg;
}

void mxcall_device_port(struct mxcall_device *d, struct conf_port *port)
{
    memset(port, 0, sizeof(*port));
    port->read = device_read;
    port->write = device_write;
    port->send_dtmf = device_send_dtmf;
    port->obj = d;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

unsigned mxcall_device_windows(const struct mxcall_device *d)
{
    return d->nwin;
}

void mxcall_device_levels(struct mxcall_device *d, unsigned win, struct mxcall_levels *lv)
{
    memset(lv, 0, sizeof(*lv));
    lv->noise_db = lv->residual_db = TONE_DB_MIN;
    for (unsigned i = 0; i < TONE_MAX_PROBES; i++)
        lv->probe_db[i] = TONE_DB_MIN;
    if (win >= d->nwin)
        return;
    struct window *w = &d->win[win];
    double noise[TONE_MAX_PROBES];
    g_mutex_lock(&d->lock);
    lv->blocks = tone_analyser_blocks(w->an);
    lv->residual_db = tone_analyser_floor(w->an);
    for (unsigned i = 0; i < TONE_MAX_PROBES; i++)
        lv->probe_db[i] = tone_analyser_level(w->an, i);
    for (unsigned i = 0; i < d->nnoise; i++)
        noise[i] = tone_analyser_level(w->noise, i);
    g_mutex_unlock(&d->lock);
    /* The median bin: a tone or two that slipped in cannot move it. */
    qsort(noise, d->nnoise, sizeof(double), cmp_double);
    lv->noise_db = d->nnoise ? noise[d->nnoise / 2] : TONE_DB_MIN;
}

uint64_t mxcall_device_frames_heard(struct mxcall_device *d)
{
    g_mutex_lock(&d->lock);
    uint64_t n = d->frames;
    g_mutex_unlock(&d->lock);
    return n;
}
