/*
 * Mixer clocks under membership changes: members join and leave at random moments while others
 * keep hearing every frame, once per tick; leave is synchronous even when it races a tick;
 * clocks with nothing to do do not tick. Every wait is for a condition with a deadline generous
 * enough for a loaded machine running sanitizers; no assertion depends on the machine's speed.
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

/*
 * Members come and go at random moments while three stay. The three hear each other in every
 * single frame, are written once per clock tick (no tick lost, none doubled), and every
 * deadline is accounted for as a tick or a counted skip. A port that left is freed at once;
 * the clock never touches it again (ASan, and the magic check, would tell).
 */
static void test_join_leave_churn(void **state)
{
    (void)state;
    enum { S = 3, C = 5, OPS = 60 };
    const double tones[S + C] = {500.0, 900.0, 1300.0, 1700.0, 2100.0, 2500.0, 2900.0, 3300.0};
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!churn:test"), 0);

    struct fport *sp[S];
    struct conf_member *sm[S];
    uint64_t c_join[S], t_join[S], skipped_join[S];
    for (int i = 0; i < S; i++) {
        sp[i] = fport_new(tones[i], tones, S + C, i);
        for (int j = 0; j < S; j++)
            if (j != i)
                sp[i]->must_hear[sp[i]->nmust++] = (unsigned)j;
        struct conf_port cp = port_of(sp[i]);
        struct conf_clock_stats st = clock_stats(m, 0);
        c_join[i] = st.ticks;
        skipped_join[i] = st.skipped;
        t_join[i] = now_us();
        assert_int_equal(conf_room_join(room, &cp, "stable", &sm[i]), 0);
    }
    for (int i = 0; i < S; i++)
        atomic_store(&sp[i]->analyse_from, atomic_load(&sp[i]->writes) + 1);

    struct fport *cp_[C] = {0};
    struct conf_member *cm[C] = {0};
    uint32_t rng = 42;
    unsigned joins = 0, leaves = 0;
    for (int op = 0; op < OPS; op++) {
        rng = rng * 1664525u + 1013904223u;
        unsigned k = (rng >> 8) % C;
        if (cm[k]) {
            conf_member_leave(cm[k]);
            cm[k] = NULL;
            fport_free(cp_[k]); /* right away: leave is synchronous */
            cp_[k] = NULL;
            leaves++;
        } else {
            cp_[k] = fport_new(tones[S + k], NULL, 0, -1);
            struct conf_port port = port_of(cp_[k]);
            assert_int_equal(conf_room_join(room, &port, "churn", &cm[k]), 0);
            joins++;
        }
        /* Somewhere in the next few ticks, not on a tick boundary. */
        rng = rng * 1664525u + 1013904223u;
        uint64_t w = atomic_load(&sp[0]->writes);
        assert_true(wait_writes(sp[0], w + (rng >> 8) % 3));
        sleep_us((rng >> 12) % 12000);
    }
    assert_true(joins > 10 && leaves > 10);
    for (int k = 0; k < C; k++) {
        if (cm[k]) {
            conf_member_leave(cm[k]);
            fport_free(cp_[k]);
        }
    }

    /* Stable members leave one by one: from here the others rightly miss them. */
    for (int i = 0; i < S; i++)
        atomic_store(&sp[i]->analyse_from, UINT64_MAX);
    for (int i = 0; i < S; i++) {
        uint64_t w_before = atomic_load(&sp[i]->writes);
        conf_member_leave(sm[i]);
        uint64_t t_leave = now_us();
        struct conf_clock_stats st = clock_stats(m, 0);
        uint64_t writes = atomic_load(&sp[i]->writes);
        assert_true(writes >= w_before);

        /* Once per clock tick while a member: at most the ticks that ran, and at most one
         * tick at each end that may have been under way without it. */
        uint64_t ticks = st.ticks - c_join[i];
        if (writes > ticks || writes + 2 < ticks)
            fail_msg("stable port %d: %llu frames over %llu ticks", i, (unsigned long long)writes,
                     (unsigned long long)ticks);
        /* And every 20 ms deadline became a tick or a counted skip. */
        uint64_t slots = (t_leave - t_join[i]) / CONF_TICK_US;
        uint64_t skipped = st.skipped - skipped_join[i];
        if (writes > slots + 2 || writes + skipped + 4 + slots / 50 < slots)
            fail_msg("stable port %d: %llu frames + %llu skipped over %llu deadlines", i,
                     (unsigned long long)writes, (unsigned long long)skipped,
                     (unsigned long long)slots);
        /* Heard the other stable members in every frame, never itself. */
        assert_true(atomic_load(&sp[i]->frames_checked) > 30);
        if (atomic_load(&sp[i]->frames_missing) != 0)
            fail_msg("stable port %d: %llu of %llu frames lacked a stable peer", i,
                     (unsigned long long)atomic_load(&sp[i]->frames_missing),
                     (unsigned long long)atomic_load(&sp[i]->frames_checked));
        assert_int_equal(atomic_load(&sp[i]->frames_self), 0);
    }
    for (int i = 0; i < S; i++)
        fport_free(sp[i]);
    assert_int_equal(atomic_load(&violations), 0);
    mem_deref(room);
    mem_deref(m);
}

/*
 * Leave racing the tick: a port whose write takes a few milliseconds is often mid-tick when
 * leave is called. Leave must wait that out: when it returns the port is idle, and it is never
 * entered again (its memory is kept, marked gone, and checked on every entry).
 */
static void test_leave_is_synchronous(void **state)
{
    (void)state;
    enum { ROUNDS = 30 };
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!sync:test"), 0);
    struct fport *keep = fport_new(800.0, NULL, 0, -1);
    struct conf_port kp = port_of(keep);
    struct conf_member *km;
    assert_int_equal(conf_room_join(room, &kp, "keeper", &km), 0);

    struct fport *gone[ROUNDS];
    uint32_t rng = 9;
    unsigned caught_inside = 0;
    for (int r = 0; r < ROUNDS; r++) {
        struct fport *p = fport_new(1200.0, NULL, 0, -1);
        p->write_delay_us = 3000;
        struct conf_port cp = port_of(p);
        struct conf_member *mb;
        assert_int_equal(conf_room_join(room, &cp, "racer", &mb), 0);
        assert_true(wait_writes(p, 1));
        rng = rng * 1664525u + 1013904223u;
        sleep_us((rng >> 8) % 20000);
        if (atomic_load(&p->in_call))
            caught_inside++;
        conf_member_leave(mb);
        assert_false(atomic_load(&p->in_call));
        atomic_store(&p->magic, MAGIC_GONE); /* any entry from now on is a violation */
        gone[r] = p;
    }
    /* Give the clock ticks in which a stale pointer would be used. */
    uint64_t w = atomic_load(&keep->writes);
    assert_true(wait_writes(keep, w + 5));
    conf_member_leave(km);
    assert_int_equal(atomic_load(&violations), 0);
    print_message("leave caught a tick inside the port %u of %d times\n", caught_inside, ROUNDS);
    for (int r = 0; r < ROUNDS; r++) {
        atomic_store(&gone[r]->magic, MAGIC_GONE);
        mem_deref(gone[r]->an);
        free(gone[r]);
    }
    fport_free(keep);
    mem_deref(room);
    mem_deref(m);
}

/*
 * Clocks tick only while a room of theirs has members. Rooms go to the least loaded clock.
 */
static void test_idle_clock_does_not_tick(void **state)
{
    (void)state;
    struct conf_mixer *m = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 2), 0);
    assert_int_equal(conf_mixer_clock_count(m), 2);
    struct conf_clock_stats st = clock_stats(m, 0);
    assert_false(st.running);
    assert_int_equal(st.ticks, 0);

    struct conf_room *a = NULL, *b = NULL;
    assert_int_equal(conf_room_alloc(&a, m, "!a:test"), 0);
    assert_int_equal(conf_room_clock(a), 0);
    struct fport *pa = fport_new(700.0, NULL, 0, -1);
    struct conf_port cp = port_of(pa);
    struct conf_member *ma;
    assert_int_equal(conf_room_join(a, &cp, "a", &ma), 0);

    /* Clock 1 has nothing: while clock 0 ticks 10 times, it stays put. */
    assert_true(wait_clock_ticks(m, 0, 10));
    st = clock_stats(m, 1);
    assert_int_equal(st.ticks, 0);
    assert_false(st.running);
    st = clock_stats(m, 0);
    assert_true(st.running);
    assert_int_equal(st.rooms, 1);
    assert_int_equal(st.members, 1);

    /* The next room goes to the idle clock; empty, it still does not tick. */
    assert_int_equal(conf_room_alloc(&b, m, "!b:test"), 0);
    assert_int_equal(conf_room_clock(b), 1);
    uint64_t t0 = clock_stats(m, 0).ticks;
    assert_true(wait_clock_ticks(m, 0, t0 + 10));
    assert_int_equal(clock_stats(m, 1).ticks, 0);

    /* Its first member wakes it; the last to leave room a puts clock 0 to sleep. */
    struct fport *pb = fport_new(900.0, NULL, 0, -1);
    cp = port_of(pb);
    struct conf_member *mbb;
    assert_int_equal(conf_room_join(b, &cp, "b", &mbb), 0);
    assert_true(wait_clock_ticks(m, 1, 5));
    conf_member_leave(ma);
    uint64_t wa = atomic_load(&pa->writes);
    assert_true(wait_clock_idle(m, 0));
    uint64_t frozen = clock_stats(m, 0).ticks;
    uint64_t t1 = clock_stats(m, 1).ticks;
    assert_true(wait_clock_ticks(m, 1, t1 + 10));
    assert_int_equal(clock_stats(m, 0).ticks, frozen);
    assert_int_equal(atomic_load(&pa->writes), wa);

    /* Room a is freed by its owner at once; the clock let go of it already. A rejoin of b
     * right after its last leave does not lose it. */
    mem_deref(a);
    conf_member_leave(mbb);
    assert_int_equal(conf_room_join(b, &cp, "b again", &mbb), 0);
    uint64_t wb = atomic_load(&pb->writes);
    assert_true(wait_writes(pb, wb + 5));
    conf_member_leave(mbb);
    assert_true(wait_clock_idle(m, 1));
    st = clock_stats(m, 1);
    assert_true(st.max_tick_us >= st.last_tick_us);
    assert_int_equal(st.members, 0);

    fport_free(pa);
    fport_free(pb);
    mem_deref(b);
    mem_deref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_leave_churn),
        cmocka_unit_test(test_leave_is_synchronous),
        cmocka_unit_test(test_idle_clock_does_not_tick),
    };
    return cmocka_run_group_tests(tests, fake_setup, NULL);
}
