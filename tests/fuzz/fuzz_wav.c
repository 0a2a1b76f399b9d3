/* Fuzzes the WAV reader: RIFF chunk walking, format checks, resampling of whatever it accepts. */
#include <errno.h>
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_LVL_ERROR);
    int16_t *pcm = NULL;
    size_t n = 0;
    struct wav_format fmt;
    int err = wav_decode(data, size, 48000, &pcm, &n, &fmt, "fuzz");
    if (err != 0 && err != EBADMSG && err != EFBIG && err != ENOMEM)
        abort(); /* only the documented failures */
    mem_deref(pcm);
    return 0;
}
