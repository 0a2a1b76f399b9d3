/* Two plain RTP media sessions talking (see rtpleg_session.h). */
#include "rtpleg_session.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "base/mem.h"
#include "media/audio_stream.h"
#include "media/worker.h"

static void on_candidate(const char *c, void *arg)
{
    struct party *p = arg;
    p->candidates++;
}

static void on_gathering_done(void *arg)
{
    struct party *p = arg;
    p->gathering_done++;
}

static void on_connected(void *arg)
{
    struct party *p = arg;
    assert_false(p->closed);
    p->connected++;
}

static void on_failed(enum media_failure why, const char *detail, void *arg)
{
    struct party *p = arg;
    p->failed++;
}

static const struct media_session_handlers handlers = {
    .local_candidate = on_candidate,
    .gathering_done = on_gathering_done,
    .connected = on_connected,
    .failed = on_failed,
};

void party_make(struct loop *l, struct party *p, const char *name, bool offerer, enum sdp_srtp srtp,
                const struct sdp_codec *codecs, size_t ncodecs, double freq, double other_freq)
{
    memset(p, 0, sizeof(*p));
    p->name = name;
    p->freq = freq;
    struct media_session_cfg cfg = {
        .worker = media_workers_pick(l->workers),
        .local_ip = "127.0.0.1",
        .opus_complexity = -1,
        .log_ctx = name,
        .profile = SDP_PROFILE_RTP_AVP,
        .srtp = srtp,
        .codecs = codecs,
        .ncodecs = ncodecs,
    };
    assert_int_equal(media_session_alloc(&p->s, &cfg, offerer, &handlers, p), 0);
    assert_true(media_session_gathering_done(p->s));
    assert_null(media_session_audio(p->s));
    assert_int_equal(tone_gen_init(&p->gen, AUDIO_RATE, freq, -12), 0);
    double probes[2] = {freq, other_freq};
    assert_int_equal(tone_analyser_alloc(&p->an, AUDIO_RATE, probes, 2, 0), 0);
}

void party_free(struct party *p)
{
    if (p->s) {
        media_session_close(p->s);
        p->s = mem_deref(p->s);
    }
    p->an = mem_deref(p->an);
}

int negotiate(struct party *from, struct party *to, void (*edit_answer)(char *sdp), char *err,
              size_t errlen)
{
    char *offer = NULL, *answer = NULL;
    int e = media_session_create_offer(from->s, &offer);
    if (e)
        return e;
    e = media_session_set_remote_offer(to->s, offer, err, errlen);
    mem_deref(offer);
    if (e)
        return e;
    e = media_session_create_answer(to->s, &answer);
    if (e)
        return e;
    if (edit_answer)
        edit_answer(answer);
    e = media_session_set_remote_answer(from->s, answer, err, errlen);
    mem_deref(answer);
    return e;
}

struct talk {
    struct party *p[2];
    int64_t start;
    unsigned frames, total, warmup;
    bool done;
};

static void frame(struct party *p, bool analyse, int64_t now)
{
    struct audio_stream *as = p->s && !p->closed ? media_session_audio(p->s) : NULL;
    if (!as)
        return;
    int16_t pcm[AUDIO_FRAME_SAMPLES];
    struct audio_frame_info fi;
    tone_gen_fill(&p->gen, pcm, AUDIO_FRAME_SAMPLES);
    (void)audio_stream_write(as, pcm);
    audio_stream_tick(as, (uint64_t)now);
    audio_stream_read(as, pcm, &fi);
    if (!analyse)
        return;
    p->frames++;
    p->decoded += fi.kind == AUDIO_FRAME_DECODED;
    tone_analyser_reset(p->an);
    tone_analyser_feed(p->an, pcm, AUDIO_FRAME_SAMPLES);
    double other = tone_analyser_level(p->an, 1), self = tone_analyser_level(p->an, 0);
    double floor = tone_analyser_floor(p->an);
    if (other - self >= 20 && other - floor >= 20) {
        p->clean_level = (p->clean_level * p->clean + other) / (p->clean + 1);
        p->clean++;
    }
}

static gboolean on_tick(gpointer data)
{
    struct talk *t = data;
    int64_t now = g_get_monotonic_time();
    unsigned due = (unsigned)((now - t->start) / (AUDIO_FRAME_MS * 1000)) + 1;
    while (t->frames < due && t->frames < t->total) {
        for (int i = 0; i < 2; i++)
            frame(t->p[i], t->frames >= t->warmup, now);
        t->frames++;
    }
    t->done = t->frames >= t->total;
    return t->done ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static bool talk_done(void *arg)
{
    return ((struct talk *)arg)->done;
}

void talk(struct loop *l, struct party *a, struct party *b, unsigned ms, unsigned warmup_ms)
{
    struct talk t = {
        .p = {a, b},
        .start = g_get_monotonic_time(),
        .total = ms / AUDIO_FRAME_MS,
        .warmup = warmup_ms / AUDIO_FRAME_MS,
    };
    struct party *both[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        both[i]->frames = both[i]->decoded = both[i]->clean = 0;
        both[i]->clean_level = TONE_DB_MIN;
    }
    GSource *src = g_timeout_source_new(2);
    g_source_set_callback(src, on_tick, &t, NULL);
    g_source_attach(src, l->ctx);
    bool done = wait_for(l, talk_done, &t, ms + WAIT_MS);
    g_source_destroy(src);
    g_source_unref(src);
    assert_true(done);
}

bool both_connected(void *pair)
{
    struct party **pp = pair;
    return pp[0]->connected && pp[1]->connected;
}
