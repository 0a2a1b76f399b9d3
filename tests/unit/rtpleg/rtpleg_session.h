/*
 * Two media sessions of the plain RTP profile in one process, for the session tests: each
 * party counts its handler calls, sends its own tone through its audio stream and analyses what
 * it hears, with the test thread as owner and as mixer clock.
 */
#ifndef SB_TESTS_RTPLEG_SESSION_H
#define SB_TESTS_RTPLEG_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "media/session.h"
#include "media/tone.h"
#include "rtpleg_util.h"

struct party {
    const char *name;
    struct media_session *s;
    unsigned connected, failed, candidates, gathering_done;
    double freq; /* the tone it sends */
    struct tone_gen gen;
    struct tone_analyser *an; /* probes: its own tone, the other's */
    bool closed;
    /* Of the frames after the warm-up: all, those decoded from a packet, and the clean ones,
     * which carry the other's tone 20 dB above its own and above everything else. Each frame is
     * judged alone: on a loaded machine a late packet now and then makes the jitter buffer
     * conceal or re-time a frame, which is its business, not what these tests look at. */
    unsigned frames, decoded, clean;
    double clean_level; /* the other's tone, mean over the clean frames, dBFS */
};

/* A session on the next worker: RTP_AVP, 127.0.0.1, the given SRTP mode and codec list
 * (NULL: the default); it will send a tone of freq Hz at -12 dBFS and listen for other_freq. */
void party_make(struct loop *l, struct party *p, const char *name, bool offerer, enum sdp_srtp srtp,
                const struct sdp_codec *codecs, size_t ncodecs, double freq, double other_freq);
void party_free(struct party *p);

/* One offer/answer: from offers, to answers. edit_answer (may be NULL) rewrites the answer text
 * in place before the offerer reads it. 0, or the first error with its message in err. */
int negotiate(struct party *from, struct party *to, void (*edit_answer)(char *sdp), char *err,
              size_t errlen);

/* Both parties send and receive for ms of audio, in real time; the frames after the first
 * warmup_ms are judged (the counts above start over). Parties closed are left alone. */
void talk(struct loop *l, struct party *a, struct party *b, unsigned ms, unsigned warmup_ms);

/* Both connected handlers have fired. */
bool both_connected(void *pair /* struct party *[2] */);

#endif
