/*
 * Passthrough in a room on a real mixer clock, with real audio streams: each member is a leg
 * (an audio stream joined through conf_port_from_audio_stream) talking over the simulated network
 * of tests/unit/audio/stream_fixture.h to a phone that sends a tone of its own and analyses, frame
 * by frame, what it hears. The phones and their networks are driven from inside the tick (the
 * port is wrapped: the member's first call of a tick runs its phone's 20 ms, its tick call plays
 * what the phone received), so everything runs in simulated time, one 20 ms step per tick,
 * whatever the real clock's jitter.
 *
 * Checks: two Opus legs forward (no decode, no encode counted, each phone hears the other's tone
 * in every frame, leg-to-phone timestamps step one frame, one marker); a third member switches
 * the room to mixing and everyone hears everyone else, continuously across the switch; its leave
 * switches back to forwarding; DTMF goes through while forwarding; PCMU and Opus legs mix.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "media/tone.h"
#include "tests/unit/audio/stream_fixture.h"

#define MAXF       600 /* frames a phone keeps levels of */
#define NPROBES    3
#define WAIT_MS    10000
#define TONE_DBFS  -20.0
#define HEARD_DBFS -26.0 /* a frame in which a tone is weaker than this is a glitch */
#define SELF_DBFS  -45.0

static const double probes[NPROBES] = {400.0, 700.0, 1100.0};

/* One member: a leg (pair.b) joined to the room, and its phone (pair.a) on the far side. */
struct leg {
    struct pair p;
    struct conf_port port; /* the stream's own port, which the wrapper calls */
    unsigned tone;         /* index in probes */
    bool driven;           /* the phone ran this tick */
    atomic_bool quiet;     /* the phone sends silence instead of its tone */
    atomic_uint frames;    /* ticks run */
    struct tone_analyser *an;
    float heard[MAXF][NPROBES]; /* dBFS of each probe in each frame the phone played */
    atomic_uint dtmf_n;
    _Atomic char dtmf_digit;
    struct conf_member *mb;
};

static void phone_dtmf(char digit, uint16_t duration_ms, void *arg)
{
    struct leg *l = arg;
    (void)duration_ms;
    atomic_store(&l->dtmf_digit, digit);
    atomic_fetch_add(&l->dtmf_n, 1);
}

/* The phone's 20 ms, once per tick, before the leg is read or pulled: packets due arrive, the
 * phone sends its tone. */
static void drive(struct leg *l)
{
    if (l->driven)
        return;
    l->driven = true;
    uint64_t t = SIM_START_US + (uint64_t)atomic_load(&l->frames) * TICK_US;
    pump_until(&l->p.net, t);
    int16_t pcm[FRAME];
    if (atomic_load(&l->quiet))
        memset(pcm, 0, sizeof(pcm));
    else
        tone_gen_fill(&l->p.gen, pcm, FRAME);
    (void)audio_stream_write(l->p.a, pcm);
    audio_stream_tick(l->p.a, t);
}

static void w_read(void *obj, int16_t *pcm, struct audio_frame_info *info)
{
    struct leg *l = obj;
    drive(l);
    l->port.read(l->port.obj, pcm, info);
}

static int w_pull(void *obj, struct audio_fwd *fwd)
{
    struct leg *l = obj;
    drive(l);
    return l->port.pull_packets(l->port.obj, fwd);
}

static int w_write(void *obj, const int16_t *pcm)
{
    struct leg *l = obj;
    return l->port.write(l->port.obj, pcm);
}

static int w_push(void *obj, const struct audio_fwd *fwd)
{
    struct leg *l = obj;
    return l->port.push_packets(l->port.obj, fwd);
}

static int w_resume_decoding(void *obj, int16_t *pcm, bool force)
{
    struct leg *l = obj;
    return l->port.resume_decoding(l->port.obj, pcm, force);
}

static void w_resume_encoding(void *obj, const int16_t *pcm)
{
    struct leg *l = obj;
    l->port.resume_encoding(l->port.obj, pcm);
}

static int w_send_dtmf(void *obj, char digit, uint16_t duration_ms)
{
    struct leg *l = obj;
    return l->port.send_dtmf(l->port.obj, digit, duration_ms);
}

static void w_attach(void *obj, struct conf_member *mb)
{
    struct leg *l = obj;
    l->port.attach(l->port.obj, mb);
}

/* After the leg wrote: the leg's reports, then the phone plays what reached it so far. */
static void w_tick(void *obj, uint64_t now_us)
{
    struct leg *l = obj;
    (void)now_us;
    unsigned f = atomic_load(&l->frames);
    uint64_t t = SIM_START_US + (uint64_t)f * TICK_US;
    drive(l); /* a member whose read the room skipped (cannot happen; keeps time whole) */
    l->port.tick(l->port.obj, t);
    int16_t pcm[FRAME];
    struct audio_frame_info info;
    audio_stream_read(l->p.a, pcm, &info);
    if (f < MAXF) {
        tone_analyser_reset(l->an);
        tone_analyser_feed(l->an, pcm, FRAME);
        for (unsigned k = 0; k < NPROBES; k++)
            l->heard[f][k] = (float)tone_analyser_level(l->an, k);
    }
    l->driven = false;
    atomic_store(&l->frames, f + 1);
}

static struct leg *leg_new(enum audio_codec codec, unsigned tone)
{
    struct leg *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    pair_init_codec(&l->p, 4, codec);
    l->tone = tone;
    pair_set_tone(&l->p, probes[tone], TONE_DBFS);
    assert_int_equal(tone_analyser_alloc(&l->an, AUDIO_RATE, probes, NPROBES, FRAME), 0);
    audio_stream_set_dtmf_handler(l->p.a, phone_dtmf, l);
    conf_port_from_audio_stream(&l->port, l->p.b);
    return l;
}

static struct conf_port leg_port(struct leg *l)
{
    struct conf_port w = {
        .read = w_read,
        .write = w_write,
        .tick = w_tick,
        .obj = l,
        .send_dtmf = w_send_dtmf,
        .attach = w_attach,
        .format = l->port.format,
        .enc_cfg = l->port.enc_cfg,
        .pull_packets = w_pull,
        .push_packets = w_push,
        .resume_decoding = w_resume_decoding,
        .resume_encoding = w_resume_encoding,
    };
    return w;
}

static void leg_join(struct leg *l, struct conf_room *room, const char *label)
{
    struct conf_port w = leg_port(l);
    assert_int_equal(conf_room_join(room, &w, label, &l->mb), 0);
}

static void leg_leave(struct leg *l)
{
    conf_member_leave(l->mb);
    l->mb = NULL;
}

static void leg_free(struct leg *l)
{
    assert_null(l->mb);
    mem_deref(l->an);
    pair_free(&l->p);
    free(l);
}

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pause_ms(unsigned ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (bounded) until the leg has run n frames; returns the frame count. */
static unsigned wait_frames(struct leg *l, unsigned n)
{
    uint64_t end = ms_now() + WAIT_MS;
    unsigned f;
    while ((f = atomic_load(&l->frames)) < n) {
        if (ms_now() > end)
            fail_msg("the clock ran %u of %u frames", f, n);
        pause_ms(2);
    }
    return f;
}

/* Frames in [from, to) in which the phone heard the probe below HEARD_DBFS. */
static unsigned weak_frames(const struct leg *l, unsigned probe, unsigned from, unsigned to,
                            float *lowest)
{
    unsigned weak = 0;
    *lowest = 0;
    for (unsigned f = from; f < to && f < MAXF; f++) {
        float v = l->heard[f][probe];
        *lowest = v < *lowest ? v : *lowest;
        if (v < HEARD_DBFS)
            print_message("  frame %u: %.1f dBFS\n", f, (double)v);
        weak += v < HEARD_DBFS;
    }
    return weak;
}

static float loudest(const struct leg *l, unsigned probe, unsigned from, unsigned to)
{
    float m = -200;
    for (unsigned f = from; f < to && f < MAXF; f++)
        m = l->heard[f][probe] > m ? l->heard[f][probe] : m;
    return m;
}

static struct audio_stream_stats leg_stats(const struct leg *l)
{
    struct audio_stream_stats st;
    audio_stream_get_stats(l->p.b, &st);
    return st;
}

static struct audio_stream_stats phone_stats(const struct leg *l)
{
    struct audio_stream_stats st;
    audio_stream_get_stats(l->p.a, &st);
    return st;
}

static struct conf_member_stats member_stats(const struct leg *l)
{
    struct conf_member_stats st;
    conf_member_get_stats(l->mb, &st);
    return st;
}

/* Two Opus legs forward; a third member makes the room mix and everyone hears everyone else;
 * when it leaves the two forward again; a digit goes through while forwarding. Each phone hears
 * its partner in every frame from the first few on, across both switches. */
static void test_two_forward_three_mix(void **state)
{
    (void)state;
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "sip-bridge:test"), 0);
    struct leg *a = leg_new(AUDIO_CODEC_OPUS, 0), *b = leg_new(AUDIO_CODEC_OPUS, 1);
    struct leg *c = leg_new(AUDIO_CODEC_OPUS, 2);

    leg_join(a, room, "@a:test");
    leg_join(b, room, "@b:test");
    unsigned a_start = atomic_load(&a->frames);
    assert_true(conf_room_passthrough(room));

    /* ---- forwarding ---- */
    /* a ran alone (mixed) until b joined: from a few frames on, neither leg decodes or encodes */
    wait_frames(b, 5);
    struct audio_stream_stats la0 = leg_stats(a), lb0 = leg_stats(b);
    struct conf_member_stats ma0 = member_stats(a), mb0 = member_stats(b);
    assert_true(la0.frames_decoded <= 3 && la0.frames_encoded <= 3);
    wait_frames(b, 45);
    struct audio_stream_stats la = leg_stats(a), lb = leg_stats(b);
    assert_int_equal(la.frames_decoded, la0.frames_decoded);
    assert_int_equal(la.frames_encoded, la0.frames_encoded);
    assert_int_equal(lb.frames_decoded, lb0.frames_decoded);
    assert_int_equal(lb.frames_encoded, lb0.frames_encoded);
    assert_int_equal(lb.frames_decoded + lb.frames_encoded, 0);
    assert_true(la.packets_pulled >= 35 && lb.packets_forwarded >= 35);
    struct conf_member_stats ma = member_stats(a), mb = member_stats(b);
    assert_true(ma.frames_forwarded >= 35 && mb.frames_forwarded >= 35);
    assert_int_equal(ma.frames_mixed, ma0.frames_mixed);
    assert_int_equal(mb.frames_mixed, mb0.frames_mixed);
    assert_true(ma.last_level < 40); /* the phone's own RFC 6464 figure, forwarded */

    /* ---- a third member: mixing ---- */
    leg_join(c, room, "@c:test");
    unsigned a_join = atomic_load(&a->frames), b_join = atomic_load(&b->frames);
    assert_false(conf_room_passthrough(room));
    wait_frames(c, 45);
    unsigned a_mix = atomic_load(&a->frames), b_mix = atomic_load(&b->frames);
    la = leg_stats(a);
    lb = leg_stats(b);
    assert_true(la.frames_decoded >= 30 && la.frames_encoded >= 30);
    assert_true(lb.frames_decoded >= 30 && lb.frames_encoded >= 30);
    ma = member_stats(a);
    assert_true(ma.frames_mixed >= 30);

    /* ---- back to two: forwarding again ---- */
    leg_leave(c);
    unsigned a_back = atomic_load(&a->frames), b_back = atomic_load(&b->frames);
    assert_true(conf_room_passthrough(room));
    wait_frames(a, a_back + 5);
    la0 = leg_stats(a);
    lb0 = leg_stats(b);
    ma0 = member_stats(a);

    /* a digit from phone a, relayed while forwarding */
    assert_int_equal(atomic_load(&b->dtmf_n), 0);
    assert_int_equal(audio_stream_send_dtmf(a->p.a, '7', 100), 0);
    wait_frames(a, a_back + 50);
    uint64_t end = ms_now() + WAIT_MS;
    while (atomic_load(&b->dtmf_n) == 0 && ms_now() < end)
        pause_ms(2);
    assert_int_equal(atomic_load(&b->dtmf_n), 1);
    assert_int_equal(atomic_load(&b->dtmf_digit), '7');
    assert_int_equal(member_stats(a).dtmf_in, 1);
    assert_int_equal(member_stats(b).dtmf_out, 1);

    la = leg_stats(a);
    lb = leg_stats(b);
    assert_int_equal(la.frames_decoded, la0.frames_decoded);
    assert_int_equal(la.frames_encoded, la0.frames_encoded);
    assert_int_equal(lb.frames_decoded, lb0.frames_decoded);
    assert_int_equal(lb.frames_encoded, lb0.frames_encoded);
    ma = member_stats(a);
    assert_true(ma.frames_forwarded >= ma0.frames_forwarded + 40);
    assert_int_equal(ma.frames_mixed, ma0.frames_mixed);

    /* ---- the third member once more: the codecs left idle resume again ---- */
    unsigned c_join2 = atomic_load(&c->frames);
    leg_join(c, room, "@c:test");
    unsigned a_join2 = atomic_load(&a->frames), b_join2 = atomic_load(&b->frames);
    assert_false(conf_room_passthrough(room));
    wait_frames(c, c_join2 + 30);
    unsigned a_mix2 = atomic_load(&a->frames), b_mix2 = atomic_load(&b->frames);
    leg_leave(c);
    unsigned a_back2 = atomic_load(&a->frames), b_back2 = atomic_load(&b->frames);
    assert_true(conf_room_passthrough(room));
    wait_frames(a, a_back2 + 20);
    leg_leave(a);
    leg_leave(b);
    unsigned a_end = atomic_load(&a->frames), b_end = atomic_load(&b->frames);

    /* ---- what the phones heard ---- */
    /* Each phone hears its partner in every frame. A switch to mixing puts the leg's own
     * encoder in place of the far phone's (its look-ahead shifts the tone's phase, its state
     * differs): the few frames across that step score lower against a pure tone, never a
     * dropout; a switch back to forwarding is clean.
     */
    const struct {
        struct leg *l;
        unsigned probe, start, to_mix[2], to_fwd[2], end;
    } ears[2] = {
        {a, 1, a_start + 8, {a_join, a_join2}, {a_back, a_back2}, a_end},
        {b, 0, 8, {b_join, b_join2}, {b_back, b_back2}, b_end},
    };
    float low;
    for (unsigned e = 0; e < 2; e++) {
        const struct leg *l = ears[e].l;
        unsigned weak = weak_frames(l, ears[e].probe, ears[e].start, ears[e].end, &low);
        print_message("%s hears its partner: lowest frame %.1f dBFS, %u weak\n", e ? "b" : "a",
                      (double)low, weak);
        assert_true(low > -36.0);
        assert_true(weak <= 6);
        for (unsigned k = 0; k < 2; k++) {
            float at_mix, at_fwd;
            unsigned wm = weak_frames(l, ears[e].probe, ears[e].to_mix[k] - 1,
                                      ears[e].to_mix[k] + 12, &at_mix);
            unsigned wf = weak_frames(l, ears[e].probe, ears[e].to_fwd[k] - 1,
                                      ears[e].to_fwd[k] + 12, &at_fwd);
            print_message("  switch %u: to mixing %.1f dBFS, to forwarding %.1f dBFS\n", k,
                          (double)at_mix, (double)at_fwd);
            assert_true(wm <= 3);
            assert_int_equal(wf, 0);
        }
    }
    /* everyone hears the two others while the three mix (past the first frames of c's path) */
    assert_int_equal(weak_frames(a, 2, a_join + 8, a_mix, &low), 0);
    assert_int_equal(weak_frames(b, 2, b_join + 8, b_mix, &low), 0);
    assert_int_equal(weak_frames(c, 0, 8, 45, &low), 0);
    assert_int_equal(weak_frames(c, 1, 8, 45, &low), 0);
    /* nobody hears itself, and c is gone once it left */
    assert_true(loudest(a, 0, 8, a_end) < SELF_DBFS);
    assert_true(loudest(b, 1, 8, b_end) < SELF_DBFS);
    assert_true(loudest(c, 2, 8, 45) < SELF_DBFS);
    assert_true(loudest(a, 2, a_back + 8, a_join2) < SELF_DBFS);
    assert_true(loudest(a, 2, a_back2 + 8, a_end) < SELF_DBFS);
    assert_int_equal(weak_frames(a, 2, a_join2 + 8, a_mix2, &low), 0);
    assert_int_equal(weak_frames(b, 2, b_join2 + 8, b_mix2, &low), 0);
    assert_int_equal(weak_frames(c, 0, c_join2 + 8, c_join2 + 30, &low), 0);

    /* each leg's stream to its phone ran on one timeline across the switches: one frame per
     * packet, no marker but at the start, no number skipped */
    assert_int_equal(a->p.ba.ts_step_bad, 0);
    assert_int_equal(b->p.ba.ts_step_bad, 0);
    /* a may have run alone for a tick or two before b joined, on silence (DTX): the talk spurt
     * that followed has its own marker */
    assert_true(a->p.ba.markers >= 1 && a->p.ba.markers <= 2);
    assert_int_equal(b->p.ba.markers, 1);
    struct audio_stream_stats pa = phone_stats(a), pb = phone_stats(b);
    print_message("phones: lost %lld / %lld, concealed %llu / %llu\n", (long long)pa.packets_lost,
                  (long long)pb.packets_lost, (unsigned long long)pa.frames_concealed,
                  (unsigned long long)pb.frames_concealed);
    assert_true(pa.packets_lost <= 1 && pb.packets_lost <= 1);
    assert_int_equal(pa.remote_ssrc, 0xb0b0b0b0u); /* the leg's own SSRC, not the other phone's */

    leg_free(a);
    leg_free(b);
    leg_free(c);
    mem_deref(room);
    mem_deref(m);
}

/* A PCMU leg and an Opus leg: different formats, the room mixes (decodes and encodes), each
 * phone hears the other. */
static void test_codecs_differ_mix(void **state)
{
    (void)state;
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "sip-bridge:mixed"), 0);
    struct leg *a = leg_new(AUDIO_CODEC_OPUS, 0), *b = leg_new(AUDIO_CODEC_PCMU, 1);
    leg_join(a, room, "@a:test");
    leg_join(b, room, "phone");
    assert_false(conf_room_passthrough(room));
    wait_frames(a, 40);
    wait_frames(b, 40);
    struct conf_member_stats ma = member_stats(a), mb = member_stats(b);
    assert_int_equal(ma.frames_forwarded, 0);
    assert_int_equal(mb.frames_forwarded, 0);
    assert_true(ma.frames_mixed >= 25 && mb.frames_mixed >= 25);
    struct audio_stream_stats la = leg_stats(a), lb = leg_stats(b);
    assert_true(la.frames_decoded >= 25 && lb.frames_encoded >= 25);
    assert_int_equal(la.packets_pulled + lb.packets_forwarded, 0);
    leg_leave(a);
    leg_leave(b);
    float low;
    assert_int_equal(weak_frames(a, 1, 10, 50, &low), 0);
    assert_int_equal(weak_frames(b, 0, 10, 50, &low), 0);
    leg_free(a);
    leg_free(b);
    mem_deref(room);
    mem_deref(m);
}

static void hears_steadily(const struct leg *l, unsigned probe, unsigned from, unsigned to)
{
    float low;
    unsigned weak = weak_frames(l, probe, from, to, &low);
    if (weak > 2 || low < -33.0)
        fail_msg("probe %u: %u weak frames, the weakest at %.1f dBFS", probe, weak, (double)low);
}

static struct conf_member_stats mstats(const struct leg *l)
{
    struct conf_member_stats st;
    conf_member_get_stats(l->mb, &st);
    return st;
}

/* Five Opus legs, two talking: the three silent ones hear the mix encoded once (pushed to each
 * of them; their own encoders never made), their input is not decoded; a silent one that starts
 * talking becomes a speaker on its own encoder, and what its phone hears of the others has no
 * weak frame across the switch. */
static void test_shared_encoding(void **state)
{
    (void)state;
    enum { L = 5 };
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!shared:test"), 0);
    struct leg *l[L];
    for (unsigned i = 0; i < L; i++) {
        l[i] = leg_new(AUDIO_CODEC_OPUS, i < 2 ? i : 2);
        atomic_store(&l[i]->quiet, i >= 2);
    }
    for (unsigned i = 0; i < L; i++) {
        char label[16];
        snprintf(label, sizeof(label), "@l%u:test", i);
        leg_join(l[i], room, label);
    }
    unsigned j0 = wait_frames(l[L - 1], 1);
    wait_frames(l[L - 1], j0 + 60);

    for (unsigned i = 0; i < L; i++) {
        struct conf_member_stats ms = mstats(l[i]);
        struct audio_stream_stats ls = leg_stats(l[i]);
        if (i < 2) {
            assert_true(ms.speaker);
            assert_true(ls.frames_encoded >= 50);
        } else {
            assert_false(ms.speaker);
            assert_true(ms.frames_shared >= 50);
            assert_true(ls.packets_shared >= 50);
            assert_int_equal(ls.frames_encoded, 0);
            assert_int_equal(ls.frames_decoded, 0);
            assert_true(ls.frames_skipped >= 40);
        }
        assert_int_equal(ls.packets_forwarded, 0);
    }

    /* The last silent one starts talking. */
    unsigned s = atomic_load(&l[4]->frames);
    atomic_store(&l[4]->quiet, false);
    wait_frames(l[4], s + 60);
    unsigned end = atomic_load(&l[4]->frames);
    assert_true(mstats(l[4]).speaker);
    assert_true(leg_stats(l[4]).frames_encoded >= 40);
    for (unsigned i = 0; i < L; i++)
        leg_leave(l[i]);

    /* Every tone heard in every frame, but for a dip or two (a jitter buffer settling its delay
     * drops a frame now and then), switches included. */
    unsigned settle = j0 + 10;
    for (unsigned i = 2; i < L; i++) {
        hears_steadily(l[i], 0, settle, end);
        hears_steadily(l[i], 1, settle, end);
    }
    hears_steadily(l[2], 2, s + 10, end);
    hears_steadily(l[0], 1, settle, end);
    hears_steadily(l[1], 0, settle, end);
    assert_true(loudest(l[0], 0, settle, end) < SELF_DBFS);
    assert_true(loudest(l[1], 1, settle, end) < SELF_DBFS);
    assert_true(loudest(l[4], 2, s + 10, end) < SELF_DBFS);
    for (unsigned i = 0; i < L; i++) {
        assert_int_equal(l[i]->p.ba.ts_step_bad, 0);
        leg_free(l[i]);
    }
    mem_deref(room);
    mem_deref(m);
}

int main(void)
{
    log_set_level(LOG_LVL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_forward_three_mix),
        cmocka_unit_test(test_codecs_differ_mix),
        cmocka_unit_test(test_shared_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
