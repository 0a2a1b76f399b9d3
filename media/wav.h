/*
 * WAV files for playing prompts and test signals into calls and recording what comes back
 * (the mxcall tool, tests comparing against baresip / sox recordings).
 *
 * Reading accepts RIFF/WAVE with 16-bit PCM (WAVE_FORMAT_PCM, or WAVE_FORMAT_EXTENSIBLE with
 * the PCM subformat), mono or stereo, at any rate from 1 kHz to 384 kHz, and delivers mono at the
 * rate asked for (48 kHz for a call): channels are averaged, and the rate is converted with a
 * Kaiser-windowed sinc interpolator (about 80 dB of image and alias rejection), so an 8 kHz
 * prompt neither buzzes nor loses its top. Files are read whole into memory, bounded by
 * WAV_MAX_BYTES; the parser trusts no size field (a data chunk that claims more than the file
 * holds, as a recorder that never finished leaves it, is cut to what is there). Any other
 * format is refused with EBADMSG and a log line that says why.
 *
 * Writing produces 16-bit mono PCM at a given rate, incrementally, and fixes the sizes in the
 * header on close. Until then they say "unknown length" (0xFFFFFFFF), which this reader (and
 * most others) take as "to the end of the file", so a recording cut short by a crash plays.
 */
#ifndef SB_MEDIA_WAV_H
#define SB_MEDIA_WAV_H

#include <stddef.h>
#include <stdint.h>

#define WAV_MAX_BYTES (256u * 1024u * 1024u)
#define WAV_MIN_RATE  1000u
/* Decoded output bound: 2^26 samples is 23 minutes at 48 kHz. */
#define WAV_MAX_SAMPLES (1u << 26)
#define WAV_MAX_RATE    384000u

/* What the file held. */
struct wav_format {
    uint16_t channels;
    uint32_t rate;
    uint16_t bits;
    uint64_t frames; /* sample frames (one sample per channel) in the data read */
};

/* Decodes a whole WAV file image buf[0..len) to mono at out_rate (0: 48000; else
 * WAV_MIN_RATE to WAV_MAX_RATE). *pcmp is a mem
 * block (mem_deref) of *np samples; fmt (may be NULL) receives the file's own format. ctx
 * names the source in log lines (may be NULL). 0, EINVAL for bad arguments, EBADMSG for a
 * malformed or unsupported file, EFBIG when the result would be too large, ENOMEM. */
int wav_decode(const uint8_t *buf, size_t len, unsigned out_rate, int16_t **pcmp, size_t *np,
               struct wav_format *fmt, const char *ctx);

/* wav_decode() of a file; errno values from opening / reading it as well. */
int wav_read(const char *path, unsigned out_rate, int16_t **pcmp, size_t *np,
             struct wav_format *fmt);

struct wav_writer;

/* Creates (truncates) path for mono 16-bit PCM at rate (0: 48000; else WAV_MIN_RATE to
 * WAV_MAX_RATE). */
int wav_writer_open(struct wav_writer **wp, const char *path, unsigned rate);

/* Appends n samples. EFBIG once the file would pass the 4 GiB RIFF limit (nothing written). */
int wav_writer_write(struct wav_writer *w, const int16_t *pcm, size_t n);

/* Samples written so far. */
uint64_t wav_writer_samples(const struct wav_writer *w);

/* Fixes the header and closes the file; returns the first error met while writing or
 * closing. Further writes fail with EBADF. mem_deref() closes too (logging any error). */
int wav_writer_close(struct wav_writer *w);

#endif
