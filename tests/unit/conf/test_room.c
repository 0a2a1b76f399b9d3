/*
 * Rooms on a real mixer clock, with fake ports that each send a tone of their own and analyse
 * what they hear: N-1 by ear, the shared mix, hold, labels and stats, rooms on several clocks,
 * a mixer freed before its rooms. Every wait is for a condition with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "base/mem.h"
#include "conf/conf.h"
#include "media/tone.h"
#include "tests/unit/conf/fake_port.h"

/* Four talkers: each hears the three others at their level, and never itself. */
static void test_everyone_hears_everyone_else(void **state)
{
    (void)state;
    enum { K = 4 };
    const double tones[K] = {400.0, 700.0, 1100.0, 1700.0};
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!tones:test"), 0);

    struct fport *p[K];
    struct conf_member *mb[K];
    for (int i = 0; i < K; i++) {
        p[i] = fport_new(tones[i], tones, K, i);
        struct conf_port cp = port_of(p[i]);
        char label[16];
        snprintf(label, sizeof(label), "@p%d:test", i);
        assert_int_equal(conf_room_join(room, &cp, label, &mb[i]), 0);
    }
    assert_int_equal(conf_room_count(room), K);
    /* Frames written from here on were mixed with all four in the room. */
    for (int i = 0; i < K; i++)
        atomic_store(&p[i]->analyse_from, atomic_load(&p[i]->writes) + 1);
    for (int i = 0; i < K; i++)
        assert_true(wait_writes(p[i], atomic_load(&p[i]->analyse_from) + 25));
    for (int i = 0; i < K; i++)
        conf_member_leave(mb[i]);
    assert_int_equal(conf_room_count(room), 0);

    for (int i = 0; i < K; i++) {
        struct tone_analyser *a = p[i]->an;
        assert_true(tone_analyser_blocks(a) >= 25);
        for (int j = 0; j < K; j++) {
            double l = tone_analyser_level(a, (unsigned)j);
            if (j == i) {
                if (l > -100.0)
                    fail_msg("port %d hears itself at %.1f dBFS", i, l);
            } else if (l < TONE_DB - 0.5 || l > TONE_DB + 0.5) {
                fail_msg("port %d hears port %d at %.1f dBFS", i, j, l);
            }
        }
        assert_true(tone_analyser_floor(a) < -60.0);
        assert_int_equal(atomic_load(&p[i]->frames_self), 0);
        /* read, write and tick once per tick each */
        assert_true(atomic_load(&p[i]->ticks) == atomic_load(&p[i]->writes));
        fport_free(p[i]);
    }
    assert_int_equal(atomic_load(&violations), 0);
    mem_deref(room);
    mem_deref(m);
}

/* Silent members all get the one shared mix; talkers get their own N-1. A muted member is
 * heard by nobody but still hears. Stats count what happened. */
static void test_shared_mix_mute_and_stats(void **state)
{
    (void)state;
    const double tones[3] = {500.0, 900.0, 1300.0};
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!mute:test"), 0);

    struct fport *talk[3], *quiet[3];
    struct conf_member *mt[3], *mq[3];
    for (int i = 0; i < 3; i++) {
        talk[i] = fport_new(tones[i], tones, 3, i);
        quiet[i] = fport_new(0.0, tones, 3, -1);
    }
    quiet[2]->write_ret = EAGAIN; /* a leg not connected yet */
    for (int i = 0; i < 3; i++) {
        struct conf_port cp = port_of(talk[i]);
        assert_int_equal(conf_room_join(room, &cp, "talker", &mt[i]), 0);
        cp = port_of(quiet[i]);
        assert_int_equal(conf_room_join(room, &cp, "listener", &mq[i]), 0);
    }

    /* Everyone is in: listeners share one frame, talkers have their own. */
    uint64_t w = atomic_load(&quiet[0]->writes);
    assert_true(wait_writes(quiet[0], w + 3));
    const int16_t *shared = atomic_load(&quiet[0]->last_out);
    for (int i = 0; i < 3; i++) {
        if (atomic_load(&quiet[i]->last_out) != shared)
            fail_msg("listener %d got its own copy of the mix", i);
        assert_ptr_not_equal(atomic_load(&talk[i]->last_out), shared);
    }

    /* Talker 1 is put on hold. */
    conf_member_set_muted(mt[1], true);
    assert_true(conf_member_muted(mt[1]));
    assert_false(conf_member_muted(mt[0]));
    analysis_restart(quiet[0]);
    analysis_restart(talk[1]);
    struct conf_member_stats st1;
    conf_member_get_stats(mt[1], &st1);
    uint64_t mixed_after_mute = st1.frames_mixed;
    assert_true(wait_writes(quiet[0], atomic_load(&quiet[0]->analyse_from) + 20));
    assert_true(wait_writes(talk[1], atomic_load(&talk[1]->analyse_from) + 20));

    conf_member_get_stats(mt[1], &st1);
    struct conf_member_stats sq0, sq2;
    conf_member_get_stats(mq[0], &sq0);
    conf_member_get_stats(mq[2], &sq2);
    for (int i = 0; i < 3; i++) {
        conf_member_leave(mt[i]);
        conf_member_leave(mq[i]);
    }

    struct tone_analyser *a = quiet[0]->an;
    assert_true(tone_analyser_level(a, 0) > TONE_DB - 0.5);
    assert_true(tone_analyser_level(a, 2) > TONE_DB - 0.5);
    if (tone_analyser_level(a, 1) > -100.0)
        fail_msg("the muted talker is heard at %.1f dBFS", tone_analyser_level(a, 1));
    /* The muted talker still hears the others, and not itself. */
    a = talk[1]->an;
    assert_true(tone_analyser_level(a, 0) > TONE_DB - 0.5);
    assert_true(tone_analyser_level(a, 2) > TONE_DB - 0.5);
    assert_true(tone_analyser_level(a, 1) < -100.0);

    /* On hold: frames read but no longer mixed. */
    assert_true(mixed_after_mute > 0);
    assert_int_equal(st1.frames_mixed, mixed_after_mute);
    assert_true(st1.ticks > st1.frames_mixed);
    assert_true(sq0.ticks > 0 && sq0.frames_silent == sq0.ticks && sq0.frames_mixed == 0);
    assert_int_equal(sq0.last_level, 127);
    assert_int_equal(sq0.write_errors, 0);
    assert_true(sq2.write_errors == sq2.ticks && sq2.ticks > 0);

    for (int i = 0; i < 3; i++) {
        fport_free(talk[i]);
        fport_free(quiet[i]);
    }
    assert_int_equal(atomic_load(&violations), 0);
    mem_deref(room);
    mem_deref(m);
}

struct seen {
    const char *labels[8];
    unsigned n, stop_after;
};

static bool collect(struct conf_member *mbr, void *arg)
{
    struct seen *seen = arg;
    seen->labels[seen->n++] = conf_member_label(mbr);
    return seen->n < seen->stop_after;
}

static void test_stats_level_labels(void **state)
{
    (void)state;
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!who:test"), 0);
    assert_string_equal(conf_room_name(room), "!who:test");

    const char *labels[] = {"@alice:test", "@bob:test", "@carol:test"};
    struct fport *p[3];
    struct conf_member *mb[3];
    for (int i = 0; i < 3; i++) {
        p[i] = fport_new(600.0 + 400.0 * i, NULL, 0, -1);
        struct conf_port cp = port_of(p[i]);
        assert_int_equal(conf_room_join(room, &cp, labels[i], &mb[i]), 0);
    }
    assert_true(wait_writes(p[2], 5));

    struct seen seen = {.stop_after = 8};
    conf_room_foreach(room, collect, &seen);
    assert_int_equal(seen.n, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(seen.labels[i], labels[i]);
    seen.n = 0;
    seen.stop_after = 2;
    conf_room_foreach(room, collect, &seen);
    assert_int_equal(seen.n, 2);

    struct conf_member_stats st;
    conf_member_get_stats(mb[0], &st);
    assert_true(st.ticks >= 5 && st.frames_mixed >= 5);
    assert_int_equal(st.frames_silent, 0);
    assert_int_equal(st.last_level, 23); /* a -20 dBFS sine is -23 dBov */
    assert_string_equal(conf_member_label(mb[1]), "@bob:test");

    /* Leaving from the middle keeps the others' order. */
    conf_member_leave(mb[1]);
    seen.n = 0;
    seen.stop_after = 8;
    conf_room_foreach(room, collect, &seen);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.labels[0], labels[0]);
    assert_string_equal(seen.labels[1], labels[2]);
    conf_member_leave(mb[0]);
    conf_member_leave(mb[2]);
    conf_member_leave(NULL);
    struct conf_port bad = port_of(p[0]);
    bad.read = NULL;
    struct conf_member *x = NULL;
    assert_int_equal(conf_room_join(room, &bad, "x", &x), EINVAL);
    assert_null(x);
    for (int i = 0; i < 3; i++)
        fport_free(p[i]);
    struct conf_clock_stats cs;
    assert_int_equal(conf_mixer_clock_stats(m, 1, &cs), EINVAL);
    mem_deref(room);
    mem_deref(m);
}

/* Rooms spread over clocks; each room's members hear only their own room. */
static void test_rooms_across_clocks(void **state)
{
    (void)state;
    enum { R = 4 };
    const double tones[2 * R] = {500.0, 800.0, 1100.0, 1400.0, 1700.0, 2000.0, 2300.0, 2600.0};
    struct conf_mixer *m = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 2), 0);
    struct conf_room *rooms[R];
    struct fport *p[2 * R];
    struct conf_member *mb[2 * R];
    for (int r = 0; r < R; r++) {
        char name[16];
        snprintf(name, sizeof(name), "!r%d:test", r);
        assert_int_equal(conf_room_alloc(&rooms[r], m, name), 0);
        for (int k = 0; k < 2; k++) {
            int i = 2 * r + k;
            p[i] = fport_new(tones[i], tones, 2 * R, i);
            struct conf_port cp = port_of(p[i]);
            assert_int_equal(conf_room_join(rooms[r], &cp, "m", &mb[i]), 0);
        }
    }
    for (int i = 0; i < 2 * R; i++)
        atomic_store(&p[i]->analyse_from, atomic_load(&p[i]->writes) + 1);
    assert_int_equal(clock_stats(m, 0).rooms, 2);
    assert_int_equal(clock_stats(m, 1).rooms, 2);
    for (int i = 0; i < 2 * R; i++)
        assert_true(wait_writes(p[i], atomic_load(&p[i]->analyse_from) + 20));
    for (int i = 0; i < 2 * R; i++)
        conf_member_leave(mb[i]);
    for (int i = 0; i < 2 * R; i++) {
        int peer = i ^ 1;
        for (int j = 0; j < 2 * R; j++) {
            double l = tone_analyser_level(p[i]->an, (unsigned)j);
            if (j == peer ? l < TONE_DB - 0.5 : l > -90.0)
                fail_msg("port %d hears port %d at %.1f dBFS", i, j, l);
        }
        fport_free(p[i]);
    }
    for (int r = 0; r < R; r++)
        mem_deref(rooms[r]);
    mem_deref(m);
}

/* The mixer goes first: its threads stop, rooms stay valid, members can still leave, joins
 * are refused, and nothing leaks. */
static void test_mixer_freed_first(void **state)
{
    (void)state;
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 0), 0);
    assert_true(conf_mixer_clock_count(m) >= 1);
    assert_int_equal(conf_room_alloc(&room, m, "!orphan:test"), 0);
    struct fport *p = fport_new(1000.0, NULL, 0, -1);
    struct conf_port cp = port_of(p);
    struct conf_member *mb;
    assert_int_equal(conf_room_join(room, &cp, "x", &mb), 0);
    assert_true(wait_writes(p, 3));
    mem_deref(m);
    uint64_t w = atomic_load(&p->writes);
    assert_int_equal(conf_room_count(room), 1);
    struct conf_member *mb2 = NULL;
    assert_int_equal(conf_room_join(room, &cp, "y", &mb2), EINVAL);
    conf_member_leave(mb);
    assert_int_equal(atomic_load(&p->writes), w);
    fport_free(p);
    mem_deref(room);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_everyone_hears_everyone_else),
        cmocka_unit_test(test_shared_mix_mute_and_stats),
        cmocka_unit_test(test_stats_level_labels),
        cmocka_unit_test(test_rooms_across_clocks),
        cmocka_unit_test(test_mixer_freed_first),
    };
    return cmocka_run_group_tests(tests, fake_setup, NULL);
}
