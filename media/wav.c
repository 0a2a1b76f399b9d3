/*
 * See wav.h. The parser walks RIFF chunks over a bounded buffer with every size checked
 * against what is left; fmt and data may come in either order, unknown chunks are skipped.
 * The rate converter reads the file's samples in place (downmixing as it goes), so a file
 * costs its own bytes plus the output, nothing in between.
 */
#include "media/wav.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/pcm.h"

#define WAV_DEFAULT_RATE 48000u
#define FMT_PCM          0x0001
#define FMT_EXTENSIBLE   0xFFFE
#define SIZE_UNKNOWN     0xFFFFFFFFu
#define MAX_CHUNKS       4096
#define HEADER_LEN       44u

/* KSDATAFORMAT_SUBTYPE_PCM, as stored (little-endian GUID). */
static const uint8_t pcm_guid[16] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                                     0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* A chunk id for a log line: printable as is, else in hex. */
static const char *fourcc(const uint8_t *id, char out[12])
{
    bool printable = true;
    for (int i = 0; i < 4; i++)
        printable = printable && id[i] >= 0x20 && id[i] < 0x7f;
    if (printable)
        snprintf(out, 12, "'%c%c%c%c'", id[0], id[1], id[2], id[3]);
    else
        snprintf(out, 12, "0x%08x", le32(id));
    return out;
}

/* ---- reading ---- */

/* The file's samples, downmixed to mono on the fly. */
struct src {
    const uint8_t *data;
    size_t frames;
    unsigned channels;
};

static inline double src_at(const struct src *s, size_t i)
{
    const uint8_t *p = s->data + i * s->channels * 2u;
    double v = (int16_t)le16(p);
    if (s->channels == 2)
        v = (v + (int16_t)le16(p + 2)) * 0.5;
    return v;
}

/*
 * Band-limited interpolation: out[i] = sum_k x[j + k] h(k - frac), where the output sample i
 * falls at input position j + frac. h is a Kaiser-windowed sinc cut at RS_CUTOFF of the lower
 * Nyquist frequency, RS_HALF taps either side (more when decimating, so the transition band
 * keeps its width), tabulated at RS_PHASES points per input sample and linearly interpolated
 * between them. Integer arithmetic finds j and frac, so long files do not drift.
 */
#define RS_HALF   24
#define RS_CUTOFF 0.88
#define RS_BETA   8.0
#define RS_PHASES 256

static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0, q = x * x / 4.0;
    for (int k = 1; k < 64; k++) {
        term *= q / ((double)k * k);
        sum += term;
        if (term < sum * 1e-15)
            break;
    }
    return sum;
}

static int resample(const struct src *s, unsigned in_rate, int16_t *out, size_t nout,
                    unsigned out_rate)
{
    double scale = out_rate < in_rate ? (double)out_rate / in_rate : 1.0;
    int half = (int)ceil(RS_HALF / scale);
    double fc = RS_CUTOFF * scale;
    size_t ntab = (size_t)2 * half * RS_PHASES + 1;

    float *tab = malloc(ntab * sizeof(*tab));
    if (!tab)
        return ENOMEM;
    /* h is even: compute one half, mirror the other. */
    double i0b = bessel_i0(RS_BETA);
    size_t mid = (size_t)half * RS_PHASES;
    for (size_t t = 0; t <= mid; t++) {
        double u = (double)t / RS_PHASES; /* in input samples */
        double r = u / half;
        double w = r < 1.0 ? bessel_i0(RS_BETA * sqrt(1.0 - r * r)) / i0b : 0.0;
        double x = M_PI * fc * u;
        double sinc = x < 1e-12 ? 1.0 : sin(x) / x;
        tab[mid + t] = tab[mid - t] = (float)(fc * sinc * w);
    }

    for (size_t i = 0; i < nout; i++) {
        uint64_t num = (uint64_t)i * in_rate;
        int64_t j = (int64_t)(num / out_rate);
        double fpos = (double)(num % out_rate) / out_rate * RS_PHASES;
        int ip = (int)fpos;
        double t = fpos - ip;

        int64_t k0 = -half + 1, k1 = half;
        if (j + k0 < 0)
            k0 = -j;
        if (j + k1 >= (int64_t)s->frames)
            k1 = (int64_t)s->frames - 1 - j;
        double acc = 0.0;
        for (int64_t k = k0; k <= k1; k++) {
            /* h(k - frac) lies between table points base - 1 and base. */
            size_t base = (size_t)(k + half) * RS_PHASES - (size_t)ip;
            double h = tab[base - 1] * t + tab[base] * (1.0 - t);
            acc += src_at(s, (size_t)(j + k)) * h;
        }
        out[i] = pcm_sat16(acc);
    }
    free(tab);
    return 0;
}

struct fmt_info {
    uint16_t tag, channels, block_align, bits;
    uint32_t rate, byte_rate;
};

static int parse_fmt(const uint8_t *p, size_t len, struct fmt_info *f, const char *ctx)
{
    if (len < 16) {
        logc_warn(ctx, "wav: fmt chunk of %zu bytes, 16 needed", len);
        return EBADMSG;
    }
    f->tag = le16(p);
    f->channels = le16(p + 2);
    f->rate = le32(p + 4);
    f->byte_rate = le32(p + 8);
    f->block_align = le16(p + 12);
    f->bits = le16(p + 14);

    if (f->tag == FMT_EXTENSIBLE) {
        if (len < 40 || le16(p + 16) < 22) {
            logc_warn(ctx, "wav: WAVE_FORMAT_EXTENSIBLE with a short fmt chunk (%zu bytes)", len);
            return EBADMSG;
        }
        if (memcmp(p + 24, pcm_guid, sizeof(pcm_guid)) != 0) {
            logc_warn(ctx, "wav: WAVE_FORMAT_EXTENSIBLE but not PCM; only 16-bit PCM is read");
            return EBADMSG;
        }
    } else if (f->tag != FMT_PCM) {
        const char *name = f->tag == 3   ? " (IEEE float)"
                           : f->tag == 6 ? " (A-law)"
                           : f->tag == 7 ? " (mu-law)"
                                         : "";
        logc_warn(ctx, "wav: format 0x%04x%s; only 16-bit PCM is read", f->tag, name);
        return EBADMSG;
    }
    if (f->bits != 16) {
        logc_warn(ctx, "wav: %u-bit samples; only 16-bit PCM is read", f->bits);
        return EBADMSG;
    }
    if (f->channels < 1 || f->channels > 2) {
        logc_warn(ctx, "wav: %u channels; only mono and stereo are read", f->channels);
        return EBADMSG;
    }
    if (f->rate < WAV_MIN_RATE || f->rate > WAV_MAX_RATE) {
        logc_warn(ctx, "wav: sample rate %u out of range", f->rate);
        return EBADMSG;
    }
    if (f->block_align != f->channels * 2u) {
        logc_warn(ctx, "wav: block align %u for %u channels of 16 bits", f->block_align,
                  f->channels);
        return EBADMSG;
    }
    if (f->byte_rate != f->rate * f->block_align)
        logc_debug(ctx, "wav: byte rate %u does not match %u Hz (ignored)", f->byte_rate, f->rate);
    return 0;
}

int wav_decode(const uint8_t *buf, size_t len, unsigned out_rate, int16_t **pcmp, size_t *np,
               struct wav_format *fmt, const char *ctx)
{
    if ((!buf && len) || !pcmp || !np || out_rate > WAV_MAX_RATE ||
        (out_rate && out_rate < WAV_MIN_RATE))
        return EINVAL;
    if (out_rate == 0)
        out_rate = WAV_DEFAULT_RATE;
    if (len > WAV_MAX_BYTES) {
        logc_warn(ctx, "wav: %zu bytes, more than the %u accepted", len, WAV_MAX_BYTES);
        return EFBIG;
    }
    if (len < 12 || memcmp(buf, "RIFF", 4) != 0) {
        bool rf64 = len >= 4 && memcmp(buf, "RF64", 4) == 0;
        logc_warn(ctx, "wav: %s", rf64 ? "RF64 files are not supported" : "not a RIFF file");
        return EBADMSG;
    }
    if (memcmp(buf + 8, "WAVE", 4) != 0) {
        logc_warn(ctx, "wav: a RIFF file but not WAVE");
        return EBADMSG;
    }

    const uint8_t *fmtp = NULL, *data = NULL;
    size_t fmtlen = 0, datalen = 0;
    size_t pos = 12;
    char id[12];
    for (unsigned nchunks = 0; len - pos >= 8; nchunks++) {
        if (nchunks == MAX_CHUNKS) {
            logc_warn(ctx, "wav: more than %u chunks", MAX_CHUNKS);
            return EBADMSG;
        }
        const uint8_t *hdr = buf + pos;
        size_t size = le32(hdr + 4);
        pos += 8;
        size_t avail = len - pos;

        if (memcmp(hdr, "data", 4) == 0) {
            if (data) {
                logc_warn(ctx, "wav: two data chunks");
                return EBADMSG;
            }
            if (size > avail) {
                /* A recorder that never fixed its header; play what there is. */
                if (size != SIZE_UNKNOWN)
                    logc_debug(ctx, "wav: data chunk claims %zu bytes, %zu present", size, avail);
                size = avail;
            }
            data = buf + pos;
            datalen = size;
        } else if (memcmp(hdr, "fmt ", 4) == 0) {
            if (fmtp) {
                logc_warn(ctx, "wav: two fmt chunks");
                return EBADMSG;
            }
            if (size > avail) {
                logc_warn(ctx, "wav: fmt chunk of %zu bytes, %zu left in the file", size, avail);
                return EBADMSG;
            }
            fmtp = buf + pos;
            fmtlen = size;
        } else if (size > avail) {
            if (data)
                break; /* trailing junk after the audio: the audio is whole */
            logc_warn(ctx, "wav: chunk %s of %zu bytes, %zu left in the file", fourcc(hdr, id),
                      size, avail);
            return EBADMSG;
        }
        /* Chunks are padded to even sizes; a missing final pad byte is harmless. */
        size_t step = size + (size & 1);
        pos += step < avail ? step : avail;
    }

    struct fmt_info f;
    if (!fmtp) {
        logc_warn(ctx, "wav: no fmt chunk");
        return EBADMSG;
    }
    int err = parse_fmt(fmtp, fmtlen, &f, ctx);
    if (err)
        return err;
    if (!data) {
        logc_warn(ctx, "wav: no data chunk");
        return EBADMSG;
    }

    struct src s = {data, datalen / f.block_align, f.channels};
    uint64_t nout = (uint64_t)s.frames * out_rate / f.rate;
    if (nout > WAV_MAX_SAMPLES) {
        logc_warn(ctx, "wav: %llu samples at %u Hz, more than the %u accepted",
                  (unsigned long long)nout, out_rate, WAV_MAX_SAMPLES);
        return EFBIG;
    }
    int16_t *pcm = mem_alloc(nout ? nout * sizeof(int16_t) : 1, NULL);
    if (!pcm)
        return ENOMEM;
    if (f.rate == out_rate) {
        for (size_t i = 0; i < nout; i++)
            pcm[i] = pcm_sat16(src_at(&s, i));
    } else {
        err = resample(&s, f.rate, pcm, nout, out_rate);
        if (err) {
            mem_deref(pcm);
            return err;
        }
    }
    if (fmt) {
        fmt->channels = f.channels;
        fmt->rate = f.rate;
        fmt->bits = f.bits;
        fmt->frames = s.frames;
    }
    *pcmp = pcm;
    *np = nout;
    return 0;
}

/* Reads a whole file of at most WAV_MAX_BYTES (+1 to tell "too large"); works on pipes too. */
static int read_all(const char *path, uint8_t **bufp, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    size_t cap = 65536;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0)
        cap = (size_t)st.st_size < WAV_MAX_BYTES ? (size_t)st.st_size + 1 : WAV_MAX_BYTES + 1u;
    uint8_t *buf = malloc(cap);
    size_t len = 0;
    int err = buf ? 0 : ENOMEM;
    while (!err) {
        if (len == cap) {
            if (cap > WAV_MAX_BYTES) {
                err = EFBIG;
                break;
            }
            size_t ncap = cap * 2 > WAV_MAX_BYTES + 1u ? WAV_MAX_BYTES + 1u : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                err = ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno != EINTR)
                err = errno;
            continue;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (err) {
        free(buf);
        return err;
    }
    *bufp = buf;
    *lenp = len;
    return 0;
}

int wav_read(const char *path, unsigned out_rate, int16_t **pcmp, size_t *np,
             struct wav_format *fmt)
{
    if (!path)
        return EINVAL;
    char ctx[300];
    snprintf(ctx, sizeof(ctx), "file=%s", path);

    uint8_t *buf = NULL;
    size_t len = 0;
    int err = read_all(path, &buf, &len);
    if (err) {
        if (err == EFBIG)
            logc_warn(ctx, "wav: more than %u bytes", WAV_MAX_BYTES);
        else
            logc_warn(ctx, "wav: cannot read: %s", strerror(err));
        return err;
    }
    err = wav_decode(buf, len, out_rate, pcmp, np, fmt, ctx);
    free(buf);
    return err;
}

/* ---- writing ---- */

struct wav_writer {
    FILE *f;
    char *path;
    unsigned rate;
    uint64_t samples;
    int err; /* first error met */
};

static void header(uint8_t h[HEADER_LEN], unsigned rate, uint32_t riff_size, uint32_t data_size)
{
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, riff_size);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);
    put_le16(h + 20, FMT_PCM);
    put_le16(h + 22, 1); /* mono */
    put_le32(h + 24, rate);
    put_le32(h + 28, rate * 2u);
    put_le16(h + 32, 2);
    put_le16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data_size);
}

/* Writes the real sizes; a stream that cannot seek (a pipe) keeps "unknown". */
static int finish(struct wav_writer *w)
{
    int err = w->err;
    if (fflush(w->f) != 0 && !err)
        err = errno;
    uint64_t data = w->samples * 2u;
    uint8_t h[HEADER_LEN];
    header(h, w->rate, (uint32_t)(data + HEADER_LEN - 8), (uint32_t)data);
    if (fseek(w->f, 0, SEEK_SET) == 0) {
        if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h) && !err)
            err = errno ? errno : EIO;
    } else if (errno != ESPIPE && !err) {
        err = errno;
    }
    if (fclose(w->f) != 0 && !err)
        err = errno;
    w->f = NULL;
    return err;
}

static void writer_destroy(void *arg)
{
    struct wav_writer *w = arg;
    if (w->f) {
        int err = finish(w);
        if (err)
            log_warn("wav: %s: closing: %s", w->path, strerror(err));
    }
    mem_deref(w->path);
}

int wav_writer_open(struct wav_writer **wp, const char *path, unsigned rate)
{
    if (!wp || !path || rate > WAV_MAX_RATE || (rate && rate < WAV_MIN_RATE))
        return EINVAL;
    if (rate == 0)
        rate = WAV_DEFAULT_RATE;
    struct wav_writer *w = mem_zalloc(sizeof(*w), writer_destroy);
    if (!w)
        return ENOMEM;
    w->rate = rate;
    w->path = mem_strdup(path);
    if (!w->path) {
        mem_deref(w);
        return ENOMEM;
    }
    w->f = fopen(path, "wbe");
    if (!w->f) {
        int err = errno;
        log_warn("wav: %s: cannot create: %s", path, strerror(err));
        mem_deref(w);
        return err;
    }
    uint8_t h[HEADER_LEN];
    header(h, rate, SIZE_UNKNOWN, SIZE_UNKNOWN);
    if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h)) {
        int err = errno ? errno : EIO;
        mem_deref(w);
        return err;
    }
    *wp = w;
    return 0;
}

int wav_writer_write(struct wav_writer *w, const int16_t *pcm, size_t n)
{
    if (!w || (!pcm && n))
        return EINVAL;
    if (!w->f)
        return EBADF;
    if (w->err)
        return w->err;
    /* The RIFF size (data + 36) must fit 32 bits. */
    if (n > ((uint64_t)UINT32_MAX - (HEADER_LEN - 8)) / 2u - w->samples)
        return EFBIG;

    uint8_t chunk[1024];
    while (n) {
        size_t k = n < sizeof(chunk) / 2 ? n : sizeof(chunk) / 2;
        for (size_t i = 0; i < k; i++)
            put_le16(chunk + 2 * i, (uint16_t)pcm[i]);
        if (fwrite(chunk, 2, k, w->f) != k) {
            w->err = errno ? errno : EIO;
            return w->err;
        }
        w->samples += k;
        pcm += k;
        n -= k;
    }
    return 0;
}

uint64_t wav_writer_samples(const struct wav_writer *w)
{
    return w ? w->samples : 0;
}

int wav_writer_close(struct wav_writer *w)
{
    if (!w)
        return EINVAL;
    if (!w->f)
        return EBADF;
    return finish(w);
}
