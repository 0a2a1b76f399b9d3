/* WAV I/O: round trip, stereo and rate conversion, malformed files refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <errno.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/tone.h"
#include "media/wav.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/sb-wav-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    log_set_level(LOG_LVL_ERROR); /* the malformed-file cases are meant to warn */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[300];
    const char *names[] = {"a.wav", "b.wav", "c.wav"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    return 0;
}

static const char *tmp(const char *name)
{
    static char p[300];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
    return p;
}

/* ---- building files by hand ---- */

struct img {
    uint8_t b[1 << 20];
    size_t n;
};

static void put(struct img *m, const void *p, size_t n)
{
    assert_true(m->n + n <= sizeof(m->b));
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put16(struct img *m, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(m, b, 2);
}

static void put32(struct img *m, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(m, b, 4);
}

static void riff(struct img *m)
{
    m->n = 0;
    put(m, "RIFF", 4);
    put32(m, 0); /* fixed by done() */
    put(m, "WAVE", 4);
}

static void fmt_chunk(struct img *m, uint16_t tag, uint16_t ch, uint32_t rate, uint16_t bits,
                      uint16_t align)
{
    put(m, "fmt ", 4);
    put32(m, 16);
    put16(m, tag);
    put16(m, ch);
    put32(m, rate);
    put32(m, rate * align);
    put16(m, align);
    put16(m, bits);
}

static void pcm_fmt(struct img *m, uint16_t ch, uint32_t rate)
{
    fmt_chunk(m, 1, ch, rate, 16, (uint16_t)(ch * 2));
}

static void data_chunk(struct img *m, const int16_t *s, size_t nsamples)
{
    put(m, "data", 4);
    put32(m, (uint32_t)(nsamples * 2));
    for (size_t i = 0; i < nsamples; i++)
        put16(m, (uint16_t)s[i]);
}

static void done(struct img *m)
{
    uint32_t v = (uint32_t)(m->n - 8);
    m->b[4] = (uint8_t)v;
    m->b[5] = (uint8_t)(v >> 8);
    m->b[6] = (uint8_t)(v >> 16);
    m->b[7] = (uint8_t)(v >> 24);
}

static struct img img;

static int decode(const struct img *m, unsigned rate, int16_t **pcm, size_t *n,
                  struct wav_format *f)
{
    *pcm = NULL;
    int err = wav_decode(m->b, m->n, rate, pcm, n, f, "test");
    if (err)
        assert_null(*pcm);
    return err;
}

/* ---- tests ---- */

/* Written incrementally, read back bit for bit, with a header a strict reader accepts. */
static void test_round_trip(void **state)
{
    (void)state;
    enum { N = 48000 + 123 };
    static int16_t src[N];
    struct tone_gen g;
    assert_int_equal(tone_gen_init(&g, 48000, 997.0, -3.0), 0);
    tone_gen_fill(&g, src, N);
    src[0] = INT16_MIN;
    src[1] = INT16_MAX;
    src[2] = -1;
    src[3] = 0;

    struct wav_writer *w = NULL;
    assert_int_equal(wav_writer_open(&w, tmp("a.wav"), 48000), 0);
    for (size_t i = 0; i < N;) {
        size_t k = (i / 960) % 3 ? 960 : 17;
        k = k < N - i ? k : N - i;
        assert_int_equal(wav_writer_write(w, src + i, k), 0);
        i += k;
    }
    assert_int_equal(wav_writer_samples(w), N);
    assert_int_equal(wav_writer_close(w), 0);
    assert_int_equal(wav_writer_write(w, src, 1), EBADF);
    mem_deref(w);

    FILE *f = fopen(tmp("a.wav"), "rb");
    assert_non_null(f);
    uint8_t h[44];
    assert_int_equal(fread(h, 1, 44, f), 44);
    fseek(f, 0, SEEK_END);
    assert_int_equal(ftell(f), 44 + 2 * N);
    fclose(f);
    assert_memory_equal(h, "RIFF", 4);
    assert_int_equal(h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24, 36 + 2 * N);
    assert_memory_equal(h + 8, "WAVEfmt ", 8);
    assert_int_equal(h[20] | h[21] << 8, 1);  /* PCM */
    assert_int_equal(h[22] | h[23] << 8, 1);  /* mono */
    assert_int_equal(h[34] | h[35] << 8, 16); /* bits */
    assert_memory_equal(h + 36, "data", 4);
    assert_int_equal(h[40] | h[41] << 8 | h[42] << 16 | (uint32_t)h[43] << 24, 2 * N);

    int16_t *pcm;
    size_t n;
    struct wav_format fmt;
    assert_int_equal(wav_read(tmp("a.wav"), 48000, &pcm, &n, &fmt), 0);
    assert_int_equal(n, N);
    assert_int_equal(fmt.channels, 1);
    assert_int_equal(fmt.rate, 48000);
    assert_int_equal(fmt.bits, 16);
    assert_int_equal(fmt.frames, N);
    assert_memory_equal(pcm, src, sizeof(src));
    mem_deref(pcm);

    /* The same at a writer rate of 8 kHz, read back at 8 kHz. */
    assert_int_equal(wav_writer_open(&w, tmp("b.wav"), 8000), 0);
    assert_int_equal(wav_writer_write(w, src, 8000), 0);
    mem_deref(w); /* closing by mem_deref fixes the header too */
    assert_int_equal(wav_read(tmp("b.wav"), 8000, &pcm, &n, &fmt), 0);
    assert_int_equal(n, 8000);
    assert_int_equal(fmt.rate, 8000);
    assert_memory_equal(pcm, src, 8000 * sizeof(int16_t));
    mem_deref(pcm);

    /* An empty recording is a valid empty file. */
    assert_int_equal(wav_writer_open(&w, tmp("c.wav"), 0), 0);
    assert_int_equal(wav_writer_close(w), 0);
    mem_deref(w);
    assert_int_equal(wav_read(tmp("c.wav"), 0, &pcm, &n, &fmt), 0);
    assert_int_equal(n, 0);
    assert_int_equal(fmt.rate, 48000);
    mem_deref(pcm);

    assert_int_equal(wav_read(tmp("missing.wav"), 0, &pcm, &n, NULL), ENOENT);
    assert_int_equal(wav_writer_open(&w, tmp("no/such/dir.wav"), 0), ENOENT);
}

static struct tone_analyser *analyse(unsigned rate, const double *probes, unsigned np,
                                     const int16_t *pcm, size_t n)
{
    struct tone_analyser *a = NULL;
    assert_int_equal(tone_analyser_alloc(&a, rate, probes, np, 0), 0);
    tone_analyser_feed(a, pcm, n);
    return a;
}

/* 8 kHz stereo becomes 48 kHz mono: the tone keeps its pitch and level, the images that
 * naive interpolation leaves (7, 9, 15, 17 kHz) are gone, channels are averaged. */
static void test_stereo_8k_to_48k(void **state)
{
    (void)state;
    enum { FR = 8000 };
    static int16_t l[FR], r[FR], st[2 * FR];
    struct tone_gen gl, gr;
    assert_int_equal(tone_gen_init(&gl, 8000, 1000.0, -20.0), 0);
    assert_int_equal(tone_gen_init(&gr, 8000, 2500.0, -20.0), 0);
    tone_gen_fill(&gl, l, FR);
    tone_gen_fill(&gr, r, FR);
    for (size_t i = 0; i < FR; i++) {
        st[2 * i] = l[i];
        st[2 * i + 1] = r[i];
    }
    riff(&img);
    pcm_fmt(&img, 2, 8000);
    data_chunk(&img, st, 2 * FR);
    done(&img);

    int16_t *pcm;
    size_t n;
    struct wav_format fmt;
    assert_int_equal(decode(&img, 48000, &pcm, &n, &fmt), 0);
    assert_int_equal(fmt.channels, 2);
    assert_int_equal(fmt.rate, 8000);
    assert_int_equal(fmt.frames, FR);
    assert_int_equal(n, 48000);

    /* Skip the filter's edges: analyse the middle 0.8 s. */
    double probes[] = {1000.0, 2500.0, 5500.0, 7000.0, 9000.0, 15000.0, 17000.0};
    struct tone_analyser *a = analyse(48000, probes, 7, pcm + 4800, 48000 - 9600);
    double each = -20.0 - 6.02; /* (L + R) / 2 halves each */
    assert_true(fabs(tone_analyser_level(a, 0) - each) < 0.2);
    assert_true(fabs(tone_analyser_level(a, 1) - each) < 0.3);
    for (unsigned i = 2; i < 7; i++) {
        if (tone_analyser_level(a, i) > each - 60.0)
            fail_msg("image at %.0f Hz: %.1f dBFS", probes[i], tone_analyser_level(a, i));
    }
    assert_true(tone_analyser_floor(a) < each - 50.0);
    mem_deref(a);
    mem_deref(pcm);

    /* Opposite channels cancel. */
    for (size_t i = 0; i < FR; i++)
        st[2 * i + 1] = (int16_t)-st[2 * i];
    riff(&img);
    pcm_fmt(&img, 2, 8000);
    data_chunk(&img, st, 2 * FR);
    done(&img);
    assert_int_equal(decode(&img, 8000, &pcm, &n, &fmt), 0);
    assert_int_equal(n, FR);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pcm[i], 0);
    mem_deref(pcm);
}

/* 44.1 kHz up and 48 kHz down: pitch and level kept, what cannot fit below the new Nyquist
 * frequency is filtered rather than folded back. */
static void test_other_rates(void **state)
{
    (void)state;
    static int16_t s[44100];
    struct tone_gen g;
    assert_int_equal(tone_gen_init(&g, 44100, 1000.0, -10.0), 0);
    tone_gen_fill(&g, s, 44100);
    riff(&img);
    pcm_fmt(&img, 1, 44100);
    data_chunk(&img, s, 44100);
    done(&img);
    int16_t *pcm;
    size_t n;
    assert_int_equal(decode(&img, 48000, &pcm, &n, NULL), 0);
    assert_int_equal(n, 48000);
    double p1[] = {1000.0, 1200.0};
    struct tone_analyser *a = analyse(48000, p1, 2, pcm + 4800, 48000 - 9600);
    assert_true(fabs(tone_analyser_level(a, 0) + 10.0) < 0.2);
    assert_true(tone_analyser_level(a, 1) < -80.0); /* a wrong ratio would move the pitch */
    assert_true(tone_analyser_floor(a) < -70.0);
    mem_deref(a);
    mem_deref(pcm);

    /* 48 kHz with 1 kHz and 6 kHz down to 8 kHz: 6 kHz must not alias to 2 kHz. */
    static int16_t d[48000];
    struct tone_gen g1, g6;
    assert_int_equal(tone_gen_init(&g1, 48000, 1000.0, -20.0), 0);
    assert_int_equal(tone_gen_init(&g6, 48000, 6000.0, -20.0), 0);
    memset(d, 0, sizeof(d));
    tone_gen_add(&g1, d, 48000);
    tone_gen_add(&g6, d, 48000);
    riff(&img);
    pcm_fmt(&img, 1, 48000);
    data_chunk(&img, d, 48000);
    done(&img);
    assert_int_equal(decode(&img, 8000, &pcm, &n, NULL), 0);
    assert_int_equal(n, 8000);
    double p2[] = {1000.0, 2000.0};
    a = analyse(8000, p2, 2, pcm + 800, 8000 - 1600);
    assert_true(fabs(tone_analyser_level(a, 0) + 20.0) < 0.2);
    assert_true(tone_analyser_level(a, 1) < -80.0);
    mem_deref(a);
    mem_deref(pcm);
}

/* What real files carry: extra chunks (odd-sized, padded), fmt after data, extensible PCM,
 * sizes a recorder never fixed, a partial last frame. */
static void test_tolerated_variants(void **state)
{
    (void)state;
    int16_t s[6] = {1, -2, 3, -4, 5, -6};
    int16_t *pcm;
    size_t n;
    struct wav_format fmt;

    riff(&img);
    put(&img, "LIST", 4);
    put32(&img, 3);
    put(&img, "abc\0", 4); /* 3 + pad */
    data_chunk(&img, s, 6);
    pcm_fmt(&img, 1, 48000);
    done(&img);
    assert_int_equal(decode(&img, 48000, &pcm, &n, &fmt), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(pcm, s, sizeof(s));
    mem_deref(pcm);

    /* WAVE_FORMAT_EXTENSIBLE, PCM subformat, stereo. */
    static const uint8_t guid[16] = {1,    0, 0, 0,    0, 0,    0x10, 0,
                                     0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71};
    riff(&img);
    put(&img, "fmt ", 4);
    put32(&img, 40);
    put16(&img, 0xFFFE);
    put16(&img, 2);
    put32(&img, 48000);
    put32(&img, 48000 * 4);
    put16(&img, 4);
    put16(&img, 16);
    put16(&img, 22);
    put16(&img, 16);
    put32(&img, 3);
    put(&img, guid, 16);
    data_chunk(&img, s, 6);
    done(&img);
    assert_int_equal(decode(&img, 48000, &pcm, &n, &fmt), 0);
    assert_int_equal(fmt.channels, 2);
    assert_int_equal(n, 3);
    assert_int_equal(pcm[0], 0); /* (1 - 2) / 2 rounds to even */
    assert_int_equal(pcm[1], 0);
    assert_int_equal(pcm[2], 0);
    mem_deref(pcm);

    /* Unfinished recording: sizes 0xFFFFFFFF, and half a frame at the end. */
    riff(&img);
    pcm_fmt(&img, 1, 48000);
    data_chunk(&img, s, 6);
    put(&img, "\x07", 1);
    img.b[4] = img.b[5] = img.b[6] = img.b[7] = 0xff;
    memset(img.b + 40, 0xff, 4);
    assert_int_equal(decode(&img, 48000, &pcm, &n, &fmt), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(pcm, s, sizeof(s));
    mem_deref(pcm);

    /* A data size larger than the file, not the "unknown" marker: cut to what is there. */
    memset(img.b + 40, 0, 4);
    img.b[41] = 0x10;
    assert_int_equal(decode(&img, 48000, &pcm, &n, &fmt), 0);
    assert_int_equal(n, 6);
    mem_deref(pcm);
}

static void expect_bad(const char *what)
{
    int16_t *pcm;
    size_t n;
    int err = decode(&img, 48000, &pcm, &n, NULL);
    if (err != EBADMSG)
        fail_msg("%s: got %d, want EBADMSG", what, err);
}

static void test_malformed(void **state)
{
    (void)state;
    int16_t s[4] = {1, 2, 3, 4};

    img.n = 0;
    expect_bad("empty");
    put(&img, "RIFF", 4);
    expect_bad("4 bytes");
    riff(&img);
    img.b[8] = 'X';
    expect_bad("not WAVE");
    memcpy(img.b, "RF64", 4);
    expect_bad("RF64");
    memcpy(img.b, "RIFX", 4);
    expect_bad("big-endian RIFX");

    riff(&img);
    data_chunk(&img, s, 4);
    done(&img);
    expect_bad("no fmt");

    riff(&img);
    pcm_fmt(&img, 1, 48000);
    done(&img);
    expect_bad("no data");

    riff(&img);
    put(&img, "fmt ", 4);
    put32(&img, 14);
    put(&img, "\x01\x00\x01\x00\x80\xbb\x00\x00\x00\x77\x01\x00\x02\x00", 14);
    data_chunk(&img, s, 4);
    done(&img);
    expect_bad("short fmt");

    riff(&img);
    put(&img, "fmt ", 4);
    put32(&img, 1000);
    put(&img, "\x01\x00", 2);
    done(&img);
    expect_bad("fmt past the end");

    riff(&img);
    put(&img, "junk", 4);
    put32(&img, 0x7ffffff0);
    pcm_fmt(&img, 1, 48000);
    data_chunk(&img, s, 4);
    done(&img);
    expect_bad("huge chunk before the audio");

    const struct {
        uint16_t tag, ch;
        uint32_t rate;
        uint16_t bits, align;
        const char *what;
    } bad[] = {
        {3, 1, 48000, 32, 4, "float"},
        {6, 1, 8000, 8, 1, "A-law"},
        {1, 1, 48000, 8, 1, "8-bit"},
        {1, 1, 48000, 24, 3, "24-bit"},
        {1, 3, 48000, 16, 6, "3 channels"},
        {1, 0, 48000, 16, 0, "0 channels"},
        {1, 1, 0, 16, 2, "rate 0"},
        {1, 1, 1000000, 16, 2, "rate 1 MHz"},
        {1, 1, 500, 16, 2, "rate 500 Hz"},
        {1, 2, 48000, 16, 2, "bad align"},
        {0xFFFE, 1, 48000, 16, 2, "short extensible"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        riff(&img);
        fmt_chunk(&img, bad[i].tag, bad[i].ch, bad[i].rate, bad[i].bits, bad[i].align);
        data_chunk(&img, s, 4);
        done(&img);
        expect_bad(bad[i].what);
    }

    riff(&img);
    pcm_fmt(&img, 1, 48000);
    pcm_fmt(&img, 1, 48000);
    data_chunk(&img, s, 4);
    done(&img);
    expect_bad("two fmt");

    riff(&img);
    pcm_fmt(&img, 1, 48000);
    data_chunk(&img, s, 4);
    data_chunk(&img, s, 4);
    done(&img);
    expect_bad("two data");

    /* Extensible with a non-PCM subformat (IEEE float). */
    riff(&img);
    put(&img, "fmt ", 4);
    put32(&img, 40);
    put16(&img, 0xFFFE);
    put16(&img, 1);
    put32(&img, 48000);
    put32(&img, 96000);
    put16(&img, 2);
    put16(&img, 16);
    put16(&img, 22);
    put16(&img, 16);
    put32(&img, 4);
    put(&img, "\x03\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71", 16);
    data_chunk(&img, s, 4);
    done(&img);
    expect_bad("extensible float");

    int16_t *pcm;
    size_t n;
    assert_int_equal(wav_decode(NULL, 10, 48000, &pcm, &n, NULL, NULL), EINVAL);
    assert_int_equal(wav_decode(img.b, img.n, 1000000, &pcm, &n, NULL, NULL), EINVAL);
}

/* Random damage to a valid file never crashes or over-reads (run under ASan): each result is
 * a clean decode or a clean refusal. */
static void test_mutations(void **state)
{
    (void)state;
    int16_t s[64];
    for (int i = 0; i < 64; i++)
        s[i] = (int16_t)(i * 1000 - 32000);
    static struct img base;
    riff(&base);
    pcm_fmt(&base, 2, 22050);
    put(&base, "LIST", 4);
    put32(&base, 5);
    put(&base, "hello\0", 6);
    data_chunk(&base, s, 64);
    done(&base);

    uint32_t rng = 7;
    unsigned ok = 0, refused = 0;
    for (int round = 0; round < 2000; round++) {
        img = base;
        int edits = 1 + round % 4;
        for (int e = 0; e < edits; e++) {
            rng = rng * 1664525u + 1013904223u;
            size_t at = (rng >> 8) % base.n;
            rng = rng * 1664525u + 1013904223u;
            img.b[at] = (uint8_t)(rng >> 24);
        }
        rng = rng * 1664525u + 1013904223u;
        if (round % 5 == 0)
            img.n = (rng >> 8) % base.n; /* and truncation */
        int16_t *pcm;
        size_t n;
        int err = wav_decode(img.b, img.n, 48000, &pcm, &n, NULL, NULL);
        if (err == 0) {
            ok++;
            assert_true(n <= WAV_MAX_SAMPLES);
            mem_deref(pcm);
        } else {
            refused++;
            assert_true(err == EBADMSG || err == EFBIG);
        }
    }
    assert_true(ok > 0 && refused > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_stereo_8k_to_48k),
        cmocka_unit_test(test_other_rates), cmocka_unit_test(test_tolerated_variants),
        cmocka_unit_test(test_malformed),   cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
