/*
 * Opus encoder and decoder wrappers: see opus_codec.h. The interesting parts are the checks:
 * libopus decodes whatever it is given, so each payload is first walked by opus_packet_parse()
 * (which validates the framing of RFC 6716 section 3) and its duration bounded.
 */
#include "media/opus_codec.h"

#include <errno.h>
#include <string.h>

#include <opus/opus.h>

#include "base/mem.h"

#define DEFAULT_BITRATE    32000
#define DEFAULT_COMPLEXITY 5
#define PLC_GRANULE        (OPUS_CODEC_RATE / 400) /* 2.5 ms: libopus conceals in these */

struct opus_codec_enc {
    OpusEncoder *enc;
};

struct opus_codec_dec {
    OpusDecoder *dec;
    int16_t scratch[OPUS_CODEC_MAX_SAMPLES];
};

static void enc_destroy(void *arg)
{
    struct opus_codec_enc *e = arg;
    if (e->enc)
        opus_encoder_destroy(e->enc);
}

static void dec_destroy(void *arg)
{
    struct opus_codec_dec *d = arg;
    if (d->dec)
        opus_decoder_destroy(d->dec);
}

int opus_codec_enc_set_bitrate(struct opus_codec_enc *e, uint32_t bitrate)
{
    if (!e || bitrate < 6000 || bitrate > 510000)
        return EINVAL;
    return opus_encoder_ctl(e->enc, OPUS_SET_BITRATE((opus_int32)bitrate)) == OPUS_OK ? 0 : EPROTO;
}

int opus_codec_enc_set_complexity(struct opus_codec_enc *e, int complexity)
{
    if (!e || complexity < 0 || complexity > 10)
        return EINVAL;
    return opus_encoder_ctl(e->enc, OPUS_SET_COMPLEXITY(complexity)) == OPUS_OK ? 0 : EPROTO;
}

int opus_codec_enc_set_fec(struct opus_codec_enc *e, bool fec, uint8_t loss_pct)
{
    if (!e || loss_pct > 100)
        return EINVAL;
    if (opus_encoder_ctl(e->enc, OPUS_SET_INBAND_FEC(fec ? 1 : 0)) != OPUS_OK ||
        opus_encoder_ctl(e->enc, OPUS_SET_PACKET_LOSS_PERC((int)loss_pct)) != OPUS_OK)
        return EPROTO;
    return 0;
}

int opus_codec_enc_set_dtx(struct opus_codec_enc *e, bool dtx)
{
    if (!e)
        return EINVAL;
    return opus_encoder_ctl(e->enc, OPUS_SET_DTX(dtx ? 1 : 0)) == OPUS_OK ? 0 : EPROTO;
}

int opus_codec_enc_alloc(struct opus_codec_enc **ep, const struct opus_codec_enc_cfg *cfg)
{
    if (!ep)
        return EINVAL;
    struct opus_codec_enc_cfg c = cfg ? *cfg : (struct opus_codec_enc_cfg){0};
    if (!c.bitrate)
        c.bitrate = DEFAULT_BITRATE;
    if (!c.complexity)
        c.complexity = DEFAULT_COMPLEXITY;
    if (c.bitrate < 6000 || c.bitrate > 510000 || c.complexity > 10 || c.loss_pct > 100)
        return EINVAL;

    struct opus_codec_enc *e = mem_zalloc(sizeof(*e), enc_destroy);
    if (!e)
        return ENOMEM;
    int oerr = 0;
    e->enc = opus_encoder_create(OPUS_CODEC_RATE, 1, OPUS_APPLICATION_VOIP, &oerr);
    if (!e->enc || oerr != OPUS_OK) {
        mem_deref(e);
        return oerr == OPUS_ALLOC_FAIL ? ENOMEM : EPROTO;
    }
    int err = opus_codec_enc_set_bitrate(e, c.bitrate);
    if (!err)
        err = opus_codec_enc_set_complexity(e, c.complexity);
    if (!err)
        err = opus_codec_enc_set_fec(e, c.fec, c.loss_pct);
    if (!err)
        err = opus_codec_enc_set_dtx(e, c.dtx);
    if (err) {
        mem_deref(e);
        return err;
    }
    *ep = e;
    return 0;
}

static bool valid_frame_size(size_t samples)
{
    switch (samples) {
    case 120:
    case 240:
    case 480:
    case 960:
    case 1920:
    case 2880:
        return true;
    default:
        return false;
    }
}

int opus_codec_encode(struct opus_codec_enc *e, const int16_t *pcm, size_t samples, uint8_t *buf,
                      size_t cap, size_t *len, bool *dtx)
{
    if (!e || !pcm || !buf || !len || !valid_frame_size(samples))
        return EINVAL;
    if (cap < 3)
        return EOVERFLOW;
    opus_int32 max = cap > 4000 ? 4000 : (opus_int32)cap;
    opus_int32 n = opus_encode(e->enc, pcm, (int)samples, buf, max);
    if (n == OPUS_BUFFER_TOO_SMALL)
        return EOVERFLOW;
    if (n < 0)
        return EPROTO;
    *len = (size_t)n;
    if (dtx)
        *dtx = n <= 2;
    return 0;
}

int opus_codec_dec_alloc(struct opus_codec_dec **dp)
{
    if (!dp)
        return EINVAL;
    struct opus_codec_dec *d = mem_zalloc(sizeof(*d), dec_destroy);
    if (!d)
        return ENOMEM;
    int oerr = 0;
    d->dec = opus_decoder_create(OPUS_CODEC_RATE, 1, &oerr);
    if (!d->dec || oerr != OPUS_OK) {
        mem_deref(d);
        return oerr == OPUS_ALLOC_FAIL ? ENOMEM : EPROTO;
    }
    *dp = d;
    return 0;
}

int opus_codec_packet_samples(const uint8_t *pkt, size_t len, uint32_t *samples)
{
    if (!pkt || !len || len > 65535 || !samples)
        return EBADMSG;
    const unsigned char *frames[48];
    opus_int16 sizes[48];
    if (opus_packet_parse(pkt, (opus_int32)len, NULL, frames, sizes, NULL) <= 0)
        return EBADMSG;
    int n = opus_packet_get_nb_samples(pkt, (opus_int32)len, OPUS_CODEC_RATE);
    if (n <= 0 || n > OPUS_CODEC_MAX_SAMPLES)
        return EBADMSG;
    *samples = (uint32_t)n;
    return 0;
}

int opus_codec_decode(struct opus_codec_dec *d, const uint8_t *pkt, size_t len, int16_t *pcm,
                      size_t cap, size_t *samples)
{
    if (!d || !pcm || !samples)
        return EINVAL;
    uint32_t n;
    if (opus_codec_packet_samples(pkt, len, &n))
        return EBADMSG;
    if (n > cap)
        return EOVERFLOW;
    int got = opus_decode(d->dec, pkt, (opus_int32)len, pcm, (int)n, 0);
    if (got < 0)
        return EBADMSG;
    *samples = (size_t)got;
    return 0;
}

/* libopus conceals in whole 2.5 ms granules; other lengths go through the scratch buffer. */
static int decode_into(struct opus_codec_dec *d, const uint8_t *pkt, size_t len, int16_t *pcm,
                       size_t samples, int fec)
{
    size_t rounded = (samples + PLC_GRANULE - 1) / PLC_GRANULE * PLC_GRANULE;
    int16_t *out = rounded == samples ? pcm : d->scratch;
    int got = opus_decode(d->dec, pkt, (opus_int32)len, out, (int)rounded, fec);
    if (got < 0)
        return pkt ? EBADMSG : EPROTO;
    if ((size_t)got < samples)
        memset(out + got, 0, (samples - (size_t)got) * sizeof(*out));
    if (out != pcm)
        memcpy(pcm, out, samples * sizeof(*pcm));
    return 0;
}

int opus_codec_conceal(struct opus_codec_dec *d, int16_t *pcm, size_t samples)
{
    if (!d || !pcm || !samples || samples > OPUS_CODEC_MAX_SAMPLES)
        return EINVAL;
    return decode_into(d, NULL, 0, pcm, samples, 0);
}

void opus_codec_dec_reset(struct opus_codec_dec *d)
{
    if (d)
        opus_decoder_ctl(d->dec, OPUS_RESET_STATE);
}

int opus_codec_decode_fec(struct opus_codec_dec *d, const uint8_t *next, size_t len, int16_t *pcm,
                          size_t samples)
{
    if (!d || !pcm || !samples || samples > OPUS_CODEC_MAX_SAMPLES)
        return EINVAL;
    uint32_t n;
    if (opus_codec_packet_samples(next, len, &n))
        return EBADMSG;
    return decode_into(d, next, len, pcm, samples, 1);
}

/* The LBRR flag is the first range-coded bit after the per-frame VAD flags of the first SILK
 * frame; coded with probability 1/2, it shows up as a plain bit (as libopus 1.5's
 * opus_packet_has_lbrr reads it). CELT-only packets never carry FEC. */
bool opus_codec_packet_has_fec(const uint8_t *pkt, size_t len)
{
    if (!pkt || !len || len > 65535)
        return false;
    const unsigned char *frames[48];
    opus_int16 sizes[48];
    if (opus_packet_parse(pkt, (opus_int32)len, NULL, frames, sizes, NULL) <= 0)
        return false;
    unsigned config = pkt[0] >> 3;
    if (config >= 16) /* CELT only */
        return false;
    if (sizes[0] <= 0)
        return false;
    int per_frame = opus_packet_get_samples_per_frame(pkt, OPUS_CODEC_RATE);
    int silk_frames = per_frame > 960 ? per_frame / 960 : 1; /* 20 ms SILK frames */
    int lbrr = (frames[0][0] >> (7 - silk_frames)) & 1;
    if (opus_packet_get_nb_channels(pkt) == 2)
        lbrr |= (frames[0][0] >> (6 - 2 * silk_frames)) & 1;
    return lbrr != 0;
}
