/*
 * Active speakers in large rooms, on a real mixer clock with fake ports that each send a tone of
 * their own (or silence) and analyse what they are sent: only the few members talking are
 * mixed, everyone still hears every talker but itself, a fifth talker waits for a slot and gets
 * it once one of the four speakers stops, and slots do not flap between equal talkers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "base/mem.h"
#include "conf/conf.h"
#include "media/tone.h"
#include "tests/unit/conf/fake_port.h"

#define ROOM 20

static bool is_speaker(struct conf_member *mb)
{
    struct conf_member_stats st;
    conf_member_get_stats(mb, &st);
    return st.speaker;
}

static uint64_t mixed(struct conf_member *mb)
{
    struct conf_member_stats st;
    conf_member_get_stats(mb, &st);
    return st.frames_mixed;
}

/* Joins k talkers (tones[0..k)) then ROOM - k silent members. */
static void join_room(struct conf_room *room, const double *tones, unsigned k, struct fport **p,
                      struct conf_member **mb)
{
    for (unsigned i = 0; i < ROOM; i++) {
        p[i] = i < k ? fport_new(tones[i], tones, k, (int)i) : fport_new(0.0, tones, k, -1);
        struct conf_port cp = port_of(p[i]);
        char label[16];
        snprintf(label, sizeof(label), "@m%u:test", i);
        assert_int_equal(conf_room_join(room, &cp, label, &mb[i]), 0);
    }
}

static void leave_room(struct fport **p, struct conf_member **mb)
{
    for (unsigned i = 0; i < ROOM; i++)
        conf_member_leave(mb[i]);
    for (unsigned i = 0; i < ROOM; i++)
        fport_free(p[i]);
}

/* Three talkers in a room of twenty: each hears the two others and never itself, the silent
 * ones hear all three, and only the talkers hold speaker slots. */
static void test_three_talkers_of_twenty(void **state)
{
    (void)state;
    const double tones[3] = {500.0, 900.0, 1300.0};
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!twenty:test"), 0);
    struct fport *p[ROOM];
    struct conf_member *mb[ROOM];
    join_room(room, tones, 3, p, mb);

    for (unsigned i = 0; i < ROOM; i++)
        analysis_restart(p[i]);
    for (unsigned i = 0; i < ROOM; i++)
        assert_true(wait_writes(p[i], atomic_load(&p[i]->analyse_from) + 25));
    for (unsigned i = 0; i < ROOM; i++)
        assert_int_equal(is_speaker(mb[i]), i < 3);

    for (unsigned i = 0; i < ROOM; i++) {
        struct tone_analyser *a = p[i]->an;
        assert_true(tone_analyser_blocks(a) >= 25);
        for (unsigned j = 0; j < 3; j++) {
            double l = tone_analyser_level(a, j);
            if (j == i) {
                if (l > -100.0)
                    fail_msg("member %u hears itself at %.1f dBFS", i, l);
            } else if (l < TONE_DB - 0.5 || l > TONE_DB + 0.5) {
                fail_msg("member %u hears talker %u at %.1f dBFS", i, j, l);
            }
        }
        assert_true(tone_analyser_floor(a) < -60.0);
    }
    leave_room(p, mb);
    assert_int_equal(atomic_load(&violations), 0);
    mem_deref(room);
    mem_deref(m);
}

/* Five talkers: four are mixed and keep their slots (the fifth, as loud, never displaces one);
 * once one of the four stops, the fifth is heard and the one that stopped is not. */
static void test_fifth_talker_waits_for_a_slot(void **state)
{
    (void)state;
    enum { K = 5 };
    const double tones[K] = {400.0, 700.0, 1000.0, 1300.0, 1600.0};
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!five:test"), 0);
    struct fport *p[ROOM];
    struct conf_member *mb[ROOM];
    join_room(room, tones, K, p, mb);
    struct fport *listener = p[ROOM - 1];

    assert_true(wait_writes(listener, atomic_load(&listener->writes) + 5));
    int out = -1;
    unsigned nspk = 0;
    for (unsigned i = 0; i < K; i++) {
        if (is_speaker(mb[i]))
            nspk++;
        else
            out = (int)i;
    }
    assert_int_equal(nspk, CONF_SPEAKERS);
    assert_true(out >= 0);
    uint64_t out_mixed = mixed(mb[out]);

    /* Four speakers, steadily: the fifth is not heard, however long it talks. */
    analysis_restart(listener);
    assert_true(wait_writes(listener, atomic_load(&listener->analyse_from) + 40));
    struct tone_analyser *a = listener->an;
    for (unsigned j = 0; j < K; j++) {
        double l = tone_analyser_level(a, j);
        if ((int)j == out) {
            if (l > -100.0)
                fail_msg("the talker without a slot is heard at %.1f dBFS", l);
        } else if (l < TONE_DB - 0.5 || l > TONE_DB + 0.5) {
            fail_msg("speaker %u is heard at %.1f dBFS", j, l);
        }
    }
    assert_int_equal(mixed(mb[out]), out_mixed);
    for (unsigned i = 0; i < K; i++)
        assert_int_equal(is_speaker(mb[i]), (int)i != out);

    /* One speaker stops (held): after its hangover the fifth takes the slot. */
    unsigned stop = out == 0 ? 1 : 0;
    conf_member_set_muted(mb[stop], true);
    uint64_t deadline = now_ms() + TIMEOUT_MS;
    while (!is_speaker(mb[out])) {
        assert_true(now_ms() < deadline);
        sleep_us(1000);
    }
    assert_false(is_speaker(mb[stop]));
    analysis_restart(listener);
    assert_true(wait_writes(listener, atomic_load(&listener->analyse_from) + 25));
    for (unsigned j = 0; j < K; j++) {
        double l = tone_analyser_level(a, j);
        if (j == stop) {
            if (l > -100.0)
                fail_msg("the talker that stopped is heard at %.1f dBFS", l);
        } else if (l < TONE_DB - 0.5 || l > TONE_DB + 0.5) {
            fail_msg("talker %u is heard at %.1f dBFS", j, l);
        }
    }
    /* and the fifth hears the three others still talking, not itself */
    a = p[out]->an;
    analysis_restart(p[out]);
    assert_true(wait_writes(p[out], atomic_load(&p[out]->analyse_from) + 25));
    for (unsigned j = 0; j < K; j++) {
        double l = tone_analyser_level(a, j);
        if ((int)j == out || j == stop)
            assert_true(l < -100.0);
        else
            assert_true(l > TONE_DB - 0.5);
    }
    assert_int_equal(atomic_load(&p[out]->frames_self), 0);
    leave_room(p, mb);
    assert_int_equal(atomic_load(&violations), 0);
    mem_deref(room);
    mem_deref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_talkers_of_twenty),
        cmocka_unit_test(test_fifth_talker_waits_for_a_slot),
    };
    return cmocka_run_group_tests(tests, fake_setup, NULL);
}
