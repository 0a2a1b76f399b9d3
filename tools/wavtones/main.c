/*
 * wavtones: which test tones a WAV recording holds, as JSON, so a test can check what a phone
 * (baresip's sndfile recording) or any other recorder heard.
 *
 *   wavtones FILE --probe HZ [--probe HZ ...] [--from S] [--to S]
 *
 * prints one line:
 *
 *   {"file":"...","rate":8000,"seconds":12.5,"from":2,"to":10,"blocks":400,
 *    "tones_db":{"440":-21.3,"550":-80.2},"noise_db":-75.0,"residual_db":-60.1,
 *    "total_db":-21.2,"heard":[440]}
 *
 * The analysis is mxcall's: the file is decoded to 48 kHz mono, cut into 20 ms blocks, and
 * each probe's level fitted per block (media/tone.h); the noise floor is the median level at
 * frequencies across the voice band that are clear of the probes and of the products two
 * probes make through a non-linear path, so a tone or two slipping in cannot move it. "heard"
 * lists the probes at least 20 dB above the noise floor. Levels in dBFS.
 *
 * Exit status: 0, 1 for a file that cannot be read or analysed, 2 for bad arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/audio_stream.h"
#include "media/tone.h"
#include "media/wav.h"

#define RATE  AUDIO_RATE
#define BLOCK AUDIO_FRAME_SAMPLES

static void usage(FILE *f)
{
    fprintf(f,
            "usage: wavtones FILE --probe HZ [--probe HZ ...] [--from SECONDS] [--to SECONDS]\n");
}

/* Is f within a bin of a probe, or of a product two probes make (harmonics, sums,
 * differences)? Then it does not tell the noise floor. */
static bool near_products(const double *probes, unsigned n, double f)
{
    const double guard = 60.0;
    for (unsigned i = 0; i < n; i++) {
        double a = probes[i];
        if (fabs(f - a) < guard || fabs(f - 2 * a) < guard || fabs(f - 3 * a) < guard)
            return true;
        for (unsigned j = 0; j < n; j++) {
            double b = probes[j];
            if (fabs(f - (a + b)) < guard || fabs(f - fabs(a - b)) < guard ||
                fabs(f - fabs(2 * a - b)) < guard)
                return true;
        }
    }
    return false;
}

/* Frequencies spread over the voice band, clear of the probes and their products. */
static unsigned noise_frequencies(const double *probes, unsigned n, double *freqs)
{
    unsigned k = 0;
    for (double f = 187.0; f < 4000.0 && k < TONE_MAX_PROBES; f += 120.0) {
        if (!near_products(probes, n, f))
            freqs[k++] = f;
    }
    return k;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0) || v > 1e6)
        return false;
    *out = v;
    return true;
}

static void print_db(double v)
{
    /* JSON has no infinities; TONE_DB_MIN already stands for "nothing". */
    printf("%.2f", isfinite(v) ? v : TONE_DB_MIN);
}

int main(int argc, char **argv)
{
    double probes[TONE_MAX_PROBES];
    unsigned nprobes = 0;
    double from = 0, to = 0;
    static const struct option opts[] = {
        {"probe", required_argument, NULL, 'p'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "p:f:t:h", opts, NULL)) != -1) {
        double v;
        switch (o) {
        case 'p':
            if (!parse_seconds(optarg, &v) || v <= 0 || v >= RATE / 2.0 ||
                nprobes == TONE_MAX_PROBES) {
                fprintf(stderr, "wavtones: bad --probe %s\n", optarg);
                return 2;
            }
            probes[nprobes++] = v;
            break;
        case 'f':
            if (!parse_seconds(optarg, &from)) {
                fprintf(stderr, "wavtones: bad --from %s\n", optarg);
                return 2;
            }
            break;
        case 't':
            if (!parse_seconds(optarg, &to)) {
                fprintf(stderr, "wavtones: bad --to %s\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || nprobes == 0 || (to && to <= from)) {
        usage(stderr);
        return 2;
    }
    const char *file = argv[optind];
    log_set_level(LOG_LVL_WARN);

    int16_t *pcm = NULL;
    size_t n = 0;
    struct wav_format fmt;
    int err = wav_read(file, RATE, &pcm, &n, &fmt);
    if (err) {
        fprintf(stderr, "wavtones: cannot read %s: %s\n", file, strerror(err));
        return 1;
    }
    double noise_freqs[TONE_MAX_PROBES];
    unsigned nnoise = noise_frequencies(probes, nprobes, noise_freqs);
    struct tone_analyser *an = NULL, *noise = NULL;
    err = tone_analyser_alloc(&an, RATE, probes, nprobes, BLOCK);
    if (!err && nnoise)
        err = tone_analyser_alloc(&noise, RATE, noise_freqs, nnoise, BLOCK);
    if (err) {
        fprintf(stderr, "wavtones: cannot analyse these probes: %s\n", strerror(err));
        mem_deref(pcm);
        mem_deref(an);
        return 2;
    }
    size_t start = (size_t)(from * RATE);
    size_t end = to ? (size_t)(to * RATE) : n;
    if (end > n)
        end = n;
    if (start < end) {
        tone_analyser_feed(an, pcm + start, end - start);
        if (noise)
            tone_analyser_feed(noise, pcm + start, end - start);
    }

    double nl[TONE_MAX_PROBES];
    for (unsigned i = 0; i < nnoise; i++)
        nl[i] = tone_analyser_level(noise, i);
    qsort(nl, nnoise, sizeof(double), cmp_double);
    double floor_db = nnoise ? nl[nnoise / 2] : TONE_DB_MIN;
    uint64_t blocks = tone_analyser_blocks(an);

    printf("{\"file\":\"");
    for (const char *p = file; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            printf("\\u%04x", (unsigned char)*p);
        else
            putchar(*p);
    }
    printf("\",\"rate\":%u,\"seconds\":%.3f,\"from\":%g,\"to\":%g,\"blocks\":%llu,\"tones_db\":{",
           (unsigned)fmt.rate, (double)n / RATE, from, (double)end / RATE,
           (unsigned long long)blocks);
    for (unsigned i = 0; i < nprobes; i++) {
        printf("%s\"%g\":", i ? "," : "", probes[i]);
        print_db(tone_analyser_level(an, i));
    }
    printf("},\"noise_db\":");
    print_db(floor_db);
    printf(",\"residual_db\":");
    print_db(tone_analyser_floor(an));
    printf(",\"total_db\":");
    print_db(tone_analyser_total(an));
    printf(",\"heard\":[");
    bool first = true;
    for (unsigned i = 0; i < nprobes; i++) {
        double l = tone_analyser_level(an, i);
        if (blocks && l > TONE_DB_MIN && l - floor_db >= 20.0) {
            printf("%s%g", first ? "" : ",", probes[i]);
            first = false;
        }
    }
    printf("]}\n");
    mem_deref(an);
    mem_deref(noise);
    mem_deref(pcm);
    return 0;
}
