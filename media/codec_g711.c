/*
 * G.711 (PCMU mu-law, PCMA A-law) at 8 kHz behind the codec interface: 48 kHz frames are
 * resampled to 160 samples and companded byte by byte; received payloads of any length (phones
 * send 10 to 60 ms) expand through a table, go through the shared concealment and back up to
 * 48 kHz (codec_plc.c).
 *
 * Expansion is a 256-entry table per law (G.711's decoder output values, the mid-points of its
 * quantisation intervals); compression is computed from the segment (the position of the top
 * bit), which a table of 64 K entries would only make slower on a busy cache.
 */
#include <errno.h>

#include "base/mem.h"
#include "media/audio_codec_int.h"
#include "media/resample.h"

#define G711_RATE   8000
#define G711_RATIO  (AUDIO_RATE / G711_RATE)
#define G711_FRAME  (AUDIO_FRAME_SAMPLES / G711_RATIO)
#define ULAW_BIAS   0x84
#define ALAW_INVERT 0x55 /* even bits are inverted on the wire */

static const int16_t ulaw_table[256] = {
    -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956, -23932, -22908, -21884, -20860,
    -19836, -18812, -17788, -16764, -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412,
    -11900, -11388, -10876, -10364, -9852,  -9340,  -8828,  -8316,  -7932,  -7676,  -7420,  -7164,
    -6908,  -6652,  -6396,  -6140,  -5884,  -5628,  -5372,  -5116,  -4860,  -4604,  -4348,  -4092,
    -3900,  -3772,  -3644,  -3516,  -3388,  -3260,  -3132,  -3004,  -2876,  -2748,  -2620,  -2492,
    -2364,  -2236,  -2108,  -1980,  -1884,  -1820,  -1756,  -1692,  -1628,  -1564,  -1500,  -1436,
    -1372,  -1308,  -1244,  -1180,  -1116,  -1052,  -988,   -924,   -876,   -844,   -812,   -780,
    -748,   -716,   -684,   -652,   -620,   -588,   -556,   -524,   -492,   -460,   -428,   -396,
    -372,   -356,   -340,   -324,   -308,   -292,   -276,   -260,   -244,   -228,   -212,   -196,
    -180,   -164,   -148,   -132,   -120,   -112,   -104,   -96,    -88,    -80,    -72,    -64,
    -56,    -48,    -40,    -32,    -24,    -16,    -8,     0,      32124,  31100,  30076,  29052,
    28028,  27004,  25980,  24956,  23932,  22908,  21884,  20860,  19836,  18812,  17788,  16764,
    15996,  15484,  14972,  14460,  13948,  13436,  12924,  12412,  11900,  11388,  10876,  10364,
    9852,   9340,   8828,   8316,   7932,   7676,   7420,   7164,   6908,   6652,   6396,   6140,
    5884,   5628,   5372,   5116,   4860,   4604,   4348,   4092,   3900,   3772,   3644,   3516,
    3388,   3260,   3132,   3004,   2876,   2748,   2620,   2492,   2364,   2236,   2108,   1980,
    1884,   1820,   1756,   1692,   1628,   1564,   1500,   1436,   1372,   1308,   1244,   1180,
    1116,   1052,   988,    924,    876,    844,    812,    780,    748,    716,    684,    652,
    620,    588,    556,    524,    492,    460,    428,    396,    372,    356,    340,    324,
    308,    292,    276,    260,    244,    228,    212,    196,    180,    164,    148,    132,
    120,    112,    104,    96,     88,     80,     72,     64,     56,     48,     40,     32,
    24,     16,     8,      0,
};

static const int16_t alaw_table[256] = {
    -5504,  -5248,  -6016,  -5760,  -4480,  -4224,  -4992,  -4736,  -7552,  -7296,  -8064,  -7808,
    -6528,  -6272,  -7040,  -6784,  -2752,  -2624,  -3008,  -2880,  -2240,  -2112,  -2496,  -2368,
    -3776,  -3648,  -4032,  -3904,  -3264,  -3136,  -3520,  -3392,  -22016, -20992, -24064, -23040,
    -17920, -16896, -19968, -18944, -30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136,
    -11008, -10496, -12032, -11520, -8960,  -8448,  -9984,  -9472,  -15104, -14592, -16128, -15616,
    -13056, -12544, -14080, -13568, -344,   -328,   -376,   -360,   -280,   -264,   -312,   -296,
    -472,   -456,   -504,   -488,   -408,   -392,   -440,   -424,   -88,    -72,    -120,   -104,
    -24,    -8,     -56,    -40,    -216,   -200,   -248,   -232,   -152,   -136,   -184,   -168,
    -1376,  -1312,  -1504,  -1440,  -1120,  -1056,  -1248,  -1184,  -1888,  -1824,  -2016,  -1952,
    -1632,  -1568,  -1760,  -1696,  -688,   -656,   -752,   -720,   -560,   -528,   -624,   -592,
    -944,   -912,   -1008,  -976,   -816,   -784,   -880,   -848,   5504,   5248,   6016,   5760,
    4480,   4224,   4992,   4736,   7552,   7296,   8064,   7808,   6528,   6272,   7040,   6784,
    2752,   2624,   3008,   2880,   2240,   2112,   2496,   2368,   3776,   3648,   4032,   3904,
    3264,   3136,   3520,   3392,   22016,  20992,  24064,  23040,  17920,  16896,  19968,  18944,
    30208,  29184,  32256,  31232,  26112,  25088,  28160,  27136,  11008,  10496,  12032,  11520,
    8960,   8448,   9984,   9472,   15104,  14592,  16128,  15616,  13056,  12544,  14080,  13568,
    344,    328,    376,    360,    280,    264,    312,    296,    472,    456,    504,    488,
    408,    392,    440,    424,    88,     72,     120,    104,    24,     8,      56,     40,
    216,    200,    248,    232,    152,    136,    184,    168,    1376,   1312,   1504,   1440,
    1120,   1056,   1248,   1184,   1888,   1824,   2016,   1952,   1632,   1568,   1760,   1696,
    688,    656,    752,    720,    560,    528,    624,    592,    944,    912,    1008,   976,
    816,    784,    880,    848,
};

static int top_bit(unsigned v)
{
    return 31 - __builtin_clz(v);
}

uint8_t g711_ulaw_from_linear(int16_t s)
{
    int v = s, mask;
    if (v < 0) {
        v = ULAW_BIAS - v - 1;
        mask = 0x7f;
    } else {
        v = ULAW_BIAS + v;
        mask = 0xff;
    }
    int seg = top_bit((unsigned)v | 0xff) - 7;
    if (seg >= 8)
        return (uint8_t)(0x7f ^ mask); /* clipped to the largest magnitude */
    return (uint8_t)(((seg << 4) | ((v >> (seg + 3)) & 0x0f)) ^ mask);
}

int16_t g711_ulaw_to_linear(uint8_t u)
{
    return ulaw_table[u];
}

uint8_t g711_alaw_from_linear(int16_t s)
{
    int v = s, mask;
    if (v >= 0) {
        mask = ALAW_INVERT | 0x80;
    } else {
        mask = ALAW_INVERT;
        v = -v - 1;
    }
    int seg = top_bit((unsigned)v | 0xff) - 7; /* 0..7 for any 16-bit sample */
    return (uint8_t)(((seg << 4) | ((v >> (seg ? seg + 3 : 4)) & 0x0f)) ^ mask);
}

int16_t g711_alaw_to_linear(uint8_t a)
{
    return alaw_table[a];
}

/* ---- encoder ---- */

struct g711_enc {
    struct audio_encoder base;
    struct resampler *down;
    int16_t pcm[G711_FRAME];
};

static void enc_destroy(void *arg)
{
    struct g711_enc *e = arg;
    mem_deref(e->down);
}

static int enc_encode(struct audio_encoder *base, const int16_t *pcm, uint8_t *buf, size_t cap,
                      size_t *len, bool *dtx)
{
    struct g711_enc *e = (struct g711_enc *)base;
    if (cap < G711_FRAME)
        return EOVERFLOW;
    size_t n = 0;
    int err = resampler_process(e->down, pcm, AUDIO_FRAME_SAMPLES, e->pcm, G711_FRAME, &n);
    if (err)
        return err;
    if (base->codec == AUDIO_CODEC_PCMU) {
        for (size_t i = 0; i < n; i++)
            buf[i] = g711_ulaw_from_linear(e->pcm[i]);
    } else {
        for (size_t i = 0; i < n; i++)
            buf[i] = g711_alaw_from_linear(e->pcm[i]);
    }
    *len = n;
    *dtx = false;
    return 0;
}

static const struct audio_encoder_ops enc_ops = {
    .encode = enc_encode,
};

int codec_g711_enc_alloc(struct audio_encoder **ep, enum audio_codec law)
{
    if (law != AUDIO_CODEC_PCMU && law != AUDIO_CODEC_PCMA)
        return EINVAL;
    struct g711_enc *e = mem_zalloc(sizeof(*e), enc_destroy);
    if (!e)
        return ENOMEM;
    e->base.ops = &enc_ops;
    e->base.codec = law;
    int err = resampler_alloc(&e->down, AUDIO_RATE, G711_RATE, RESAMPLE_QUALITY);
    if (err) {
        mem_deref(e);
        return err;
    }
    *ep = &e->base;
    return 0;
}

/* ---- decoder ---- */

struct g711_dec {
    struct audio_decoder base;
    const int16_t *table;
    struct codec_out out;
};

static void dec_destroy(void *arg)
{
    struct g711_dec *d = arg;
    codec_out_release(&d->out);
}

static int dec_decode(struct audio_decoder *base, const uint8_t *payload, size_t len, int16_t *pcm,
                      size_t cap, size_t *samples)
{
    struct g711_dec *d = (struct g711_dec *)base;
    if (len > sizeof(d->out.native) / sizeof(d->out.native[0]) ||
        len > AUDIO_MAX_SAMPLES / G711_RATIO)
        return EBADMSG;
    if (len * G711_RATIO > cap)
        return EOVERFLOW;
    for (size_t i = 0; i < len; i++)
        d->out.native[i] = d->table[payload[i]];
    return codec_out_decoded(&d->out, len, pcm, cap, samples);
}

static int dec_conceal(struct audio_decoder *base, int16_t *pcm, size_t samples, bool fade_out)
{
    struct g711_dec *d = (struct g711_dec *)base;
    return codec_out_conceal(&d->out, pcm, samples, fade_out);
}

static void dec_discontinuity(struct audio_decoder *base)
{
    struct g711_dec *d = (struct g711_dec *)base;
    codec_plc_discontinuity(&d->out.plc);
}

static const struct audio_decoder_ops dec_ops = {
    .decode = dec_decode,
    .conceal = dec_conceal,
    .discontinuity = dec_discontinuity,
};

int codec_g711_dec_alloc(struct audio_decoder **dp, enum audio_codec law)
{
    if (law != AUDIO_CODEC_PCMU && law != AUDIO_CODEC_PCMA)
        return EINVAL;
    struct g711_dec *d = mem_zalloc(sizeof(*d), dec_destroy);
    if (!d)
        return ENOMEM;
    d->base.ops = &dec_ops;
    d->base.codec = law;
    d->base.ratio = G711_RATIO;
    d->table = law == AUDIO_CODEC_PCMU ? ulaw_table : alaw_table;
    int err = codec_out_init(&d->out, G711_RATE);
    if (err) {
        mem_deref(d);
        return err;
    }
    d->base.delay = codec_out_delay(&d->out);
    *dp = &d->base;
    return 0;
}
