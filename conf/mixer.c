/*
 * Mixer clocks: threads that each tick their rooms every 20 ms from a timerfd.
 *
 * Every deadline is absolute (base + k * 20 ms on CLOCK_MONOTONIC), set afresh after each tick,
 * so the cadence never drifts however long ticks take. A clock that wakes late by less than a
 * few periods runs the missed ticks back to back (their frames are waiting in the jitter
 * buffers and the listeners' buffers absorb a short burst); one that fell further behind
 * gives up the missed deadlines and carries on from now, counting them, rather than flooding
 * every listener with a long burst. A clock with no room to tick disarms its timer and sleeps
 * in read(): idle rooms and idle clocks cost nothing.
 *
 * The clock's own lock guards only the inbox of newly scheduled rooms and the arm / stop
 * state; the thread takes it twice per tick, for a few pointer moves, never while it is inside
 * a room. See clock.h for how rooms come and go.
 */
#define _GNU_SOURCE
#include "conf/conf.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "media/udp_mux.h"
#include "base/mem.h"
#include "conf/clock.h"

/* Behind by this many periods or more, a clock skips instead of catching up. */
#define CONF_SKIP_AFTER_TICKS 3
/* At most one "fell behind" warning per clock in this long. */
#define CONF_WARN_INTERVAL_US (10u * 1000u * 1000u)
#define CONF_MAX_CLOCKS       256

struct conf_clock {
    unsigned index;
    int tfd;
    pthread_t thread;
    bool started;
    char log_ctx[24];

    pthread_mutex_t lock;
    /* Under lock: */
    struct conf_sched *inbox; /* rooms scheduled since the last tick */
    bool armed;               /* the thread will wake: timer set, or it is ticking */
    bool rebase;              /* armed from idle: the next tick's deadline is base_us */
    bool stop;
    uint64_t base_us;

    /* The clock thread's alone: */
    struct conf_sched *list; /* rooms it ticks */
    uint64_t deadline_us;    /* the deadline of the tick being run */
    uint64_t last_warn_us;

    /* Pinning load, maintained by the control thread. */
    atomic_uint nrooms;
    atomic_uint nmembers;

    /* Written by the clock thread only. */
    atomic_uint_fast64_t ticks;
    atomic_uint_fast64_t overruns;
    atomic_uint_fast64_t skipped;
    atomic_uint max_tick_us;
    atomic_uint last_tick_us;
    atomic_bool running;
};

struct conf_mixer {
    unsigned n;
    struct conf_clock **clocks;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline void stat_add(atomic_uint_fast64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

/* Sets the timer to fire at the absolute monotonic time at_us; 0 disarms it. */
static void timer_set(struct conf_clock *c, uint64_t at_us)
{
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)(at_us / 1000000u);
    its.it_value.tv_nsec = (long)(at_us % 1000000u) * 1000;
    if (timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        logc_error(c->log_ctx, "timerfd_settime: %s", strerror(errno));
}

/* ---- the clock thread ---- */

/* Takes in the rooms scheduled since the last tick. false: stop. */
static bool tick_begin(struct conf_clock *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->stop) {
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    if (c->rebase) {
        c->deadline_us = c->base_us;
        c->rebase = false;
    }
    for (struct conf_sched *s = c->inbox, *next; s; s = next) {
        next = s->inbox_next;
        s->inbox_next = NULL;
        s->next = c->list;
        c->list = s;
    }
    c->inbox = NULL;
    pthread_mutex_unlock(&c->lock);
    return true;
}

static void tick_run(struct conf_clock *c)
{
    uint64_t now = mono_us();
    uint64_t late = now > c->deadline_us ? now - c->deadline_us : 0;
    unsigned skipped = 0;

    if (late >= CONF_TICK_US) {
        stat_add(&c->overruns, 1);
        if (late >= CONF_SKIP_AFTER_TICKS * CONF_TICK_US) {
            uint64_t k = late / CONF_TICK_US;
            c->deadline_us += k * CONF_TICK_US;
            stat_add(&c->skipped, k);
            skipped = k > UINT_MAX ? UINT_MAX : (unsigned)k;
            if (now - c->last_warn_us >= CONF_WARN_INTERVAL_US || !c->last_warn_us) {
                c->last_warn_us = now;
                logc_warn(c->log_ctx, "fell %llu ms behind: skipped %llu ticks",
                          (unsigned long long)(late / 1000), (unsigned long long)k);
            }
        }
    }
    stat_add(&c->ticks, 1);

    for (struct conf_sched **pp = &c->list; *pp;) {
        struct conf_sched *s = *pp;
        if (conf_room_clock_tick(s->room, now, skipped)) {
            pp = &s->next;
            continue;
        }
        /* Emptied: off the list until a member joins again (via the inbox). */
        *pp = s->next;
        s->next = NULL;
        mem_deref(s->room);
    }

    /* What the rooms sent over the shared media sockets goes out in one batch per socket. */
    udp_mux_flush_thread();

    uint64_t took = mono_us() - now;
    unsigned took32 = took > UINT32_MAX ? UINT32_MAX : (unsigned)took;
    atomic_store_explicit(&c->last_tick_us, took32, memory_order_relaxed);
    if (took32 > atomic_load_explicit(&c->max_tick_us, memory_order_relaxed))
        atomic_store_explicit(&c->max_tick_us, took32, memory_order_relaxed);
    c->deadline_us += CONF_TICK_US;
}

/* Sets the next deadline, or goes idle. false: stop. */
static bool tick_end(struct conf_clock *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->stop) {
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    if (c->list || c->inbox) {
        timer_set(c, c->deadline_us);
    } else {
        timer_set(c, 0);
        c->armed = false;
        atomic_store_explicit(&c->running, false, memory_order_relaxed);
    }
    pthread_mutex_unlock(&c->lock);
    return true;
}

static void *clock_main(void *arg)
{
    struct conf_clock *c = arg;

    for (;;) {
        uint64_t expirations;
        ssize_t r = read(c->tfd, &expirations, sizeof(expirations));
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r != (ssize_t)sizeof(expirations)) {
            /* Cannot happen with a valid timerfd; refuse new rooms rather than spin. */
            logc_error(c->log_ctx, "timer read failed: %s; clock stopped",
                       r < 0 ? strerror(errno) : "short read");
            pthread_mutex_lock(&c->lock);
            c->stop = true;
            pthread_mutex_unlock(&c->lock);
            break;
        }
        if (!tick_begin(c))
            break;
        tick_run(c);
        if (!tick_end(c))
            break;
    }
    return NULL;
}

/* ---- what rooms call (clock.h) ---- */

bool conf_clock_schedule(struct conf_clock *c, struct conf_sched *s)
{
    pthread_mutex_lock(&c->lock);
    if (c->stop) {
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    mem_ref(s->room);
    s->inbox_next = c->inbox;
    c->inbox = s;
    if (!c->armed) {
        /* From idle: tick now, then every period from here. */
        c->armed = true;
        c->rebase = true;
        c->base_us = mono_us();
        atomic_store_explicit(&c->running, true, memory_order_relaxed);
        timer_set(c, c->base_us);
    }
    pthread_mutex_unlock(&c->lock);
    return true;
}

unsigned conf_clock_index(const struct conf_clock *c)
{
    return c->index;
}

void conf_clock_add_rooms(struct conf_clock *c, int delta)
{
    atomic_fetch_add_explicit(&c->nrooms, (unsigned)delta, memory_order_relaxed);
}

void conf_clock_add_members(struct conf_clock *c, int delta)
{
    atomic_fetch_add_explicit(&c->nmembers, (unsigned)delta, memory_order_relaxed);
}

struct conf_clock *conf_mixer_pick_clock(struct conf_mixer *m)
{
    if (!m || m->n == 0)
        return NULL;
    struct conf_clock *best = m->clocks[0];
    for (unsigned i = 1; i < m->n; i++) {
        struct conf_clock *c = m->clocks[i];
        unsigned cm = atomic_load(&c->nmembers), bm = atomic_load(&best->nmembers);
        if (cm < bm || (cm == bm && atomic_load(&c->nrooms) < atomic_load(&best->nrooms)))
            best = c;
    }
    return mem_ref(best);
}

/* ---- the mixer ---- */

static void clock_destroy(void *arg)
{
    struct conf_clock *c = arg;
    if (c->tfd >= 0)
        close(c->tfd);
    pthread_mutex_destroy(&c->lock);
}

/* Drops the references a stopped clock's lists hold. */
static void clock_release_rooms(struct conf_clock *c)
{
    struct conf_sched *s, *next;
    for (s = c->list; s; s = next) {
        next = s->next;
        s->next = NULL;
        conf_room_clock_detach(s->room);
        mem_deref(s->room);
    }
    c->list = NULL;
    pthread_mutex_lock(&c->lock);
    struct conf_sched *inbox = c->inbox;
    c->inbox = NULL;
    pthread_mutex_unlock(&c->lock);
    for (s = inbox; s; s = next) {
        next = s->inbox_next;
        s->inbox_next = NULL;
        conf_room_clock_detach(s->room);
        mem_deref(s->room);
    }
}

static void mixer_destroy(void *arg)
{
    struct conf_mixer *m = arg;

    for (unsigned i = 0; i < m->n; i++) {
        struct conf_clock *c = m->clocks[i];
        pthread_mutex_lock(&c->lock);
        c->stop = true;
        timer_set(c, 1); /* long past: wakes the thread at once */
        pthread_mutex_unlock(&c->lock);
    }
    for (unsigned i = 0; i < m->n; i++) {
        struct conf_clock *c = m->clocks[i];
        if (c->started)
            pthread_join(c->thread, NULL);
        atomic_store(&c->running, false);
        clock_release_rooms(c);
        mem_deref(c);
    }
    free(m->clocks);
}

static int clock_alloc(struct conf_clock **cp, unsigned index)
{
    struct conf_clock *c = mem_zalloc(sizeof(*c), clock_destroy);
    if (!c)
        return ENOMEM;
    c->index = index;
    snprintf(c->log_ctx, sizeof(c->log_ctx), "clock=%u", index);
    pthread_mutex_init(&c->lock, NULL);
    c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (c->tfd < 0) {
        int err = errno;
        logc_error(c->log_ctx, "timerfd_create: %s", strerror(err));
        mem_deref(c);
        return err;
    }
    *cp = c;
    return 0;
}

static int clock_start(struct conf_clock *c)
{
    /* Signals belong to the main loop; a clock must never be the thread that takes one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&c->thread, NULL, clock_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        logc_error(c->log_ctx, "cannot start the clock thread: %s", strerror(err));
        return err;
    }
    c->started = true;
    char name[16];
    snprintf(name, sizeof(name), "sb-clock%u", c->index);
    pthread_setname_np(c->thread, name);
    return 0;
}

int conf_mixer_alloc(struct conf_mixer **mp, unsigned nclocks)
{
    if (!mp)
        return EINVAL;
    if (nclocks == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nclocks = n > 0 ? (unsigned)n : 1;
    }
    if (nclocks > CONF_MAX_CLOCKS)
        return EINVAL;

    struct conf_mixer *m = mem_zalloc(sizeof(*m), mixer_destroy);
    if (!m)
        return ENOMEM;
    m->clocks = calloc(nclocks, sizeof(*m->clocks));
    if (!m->clocks) {
        mem_deref(m);
        return ENOMEM;
    }
    int err = 0;
    for (unsigned i = 0; i < nclocks && !err; i++) {
        err = clock_alloc(&m->clocks[i], i);
        if (!err) {
            m->n++;
            err = clock_start(m->clocks[i]);
        }
    }
    if (err) {
        mem_deref(m);
        return err;
    }
    log_debug("conference mixer: %u clocks", nclocks);
    *mp = m;
    return 0;
}

unsigned conf_mixer_clock_count(const struct conf_mixer *m)
{
    return m ? m->n : 0;
}

int conf_mixer_clock_stats(const struct conf_mixer *m, unsigned idx, struct conf_clock_stats *st)
{
    if (!m || !st || idx >= m->n)
        return EINVAL;
    const struct conf_clock *c = m->clocks[idx];
    st->ticks = atomic_load_explicit(&c->ticks, memory_order_relaxed);
    st->overruns = atomic_load_explicit(&c->overruns, memory_order_relaxed);
    st->skipped = atomic_load_explicit(&c->skipped, memory_order_relaxed);
    st->max_tick_us = atomic_load_explicit(&c->max_tick_us, memory_order_relaxed);
    st->last_tick_us = atomic_load_explicit(&c->last_tick_us, memory_order_relaxed);
    st->rooms = atomic_load_explicit(&c->nrooms, memory_order_relaxed);
    st->members = atomic_load_explicit(&c->nmembers, memory_order_relaxed);
    st->running = atomic_load_explicit(&c->running, memory_order_relaxed);
    return 0;
}
