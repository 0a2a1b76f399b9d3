/* See fake_port.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/mem.h"
#include "tests/unit/conf/fake_port.h"

/* Calls into a port after its leave returned, from any test. */
atomic_uint violations;

/* ---- a fake participant ---- */

static void enter(struct fport *p)
{
    if (atomic_load(&p->magic) != MAGIC_LIVE)
        atomic_fetch_add(&violations, 1);
    atomic_store(&p->in_call, true);
}

static void leave_call(struct fport *p)
{
    atomic_store(&p->in_call, false);
}

static void fp_read(void *obj, int16_t *pcm, struct audio_frame_info *info)
{
    struct fport *p = obj;
    enter(p);
    if (p->silent) {
        memset(pcm, 0, N * sizeof(*pcm));
        info->kind = AUDIO_FRAME_SILENT;
    } else {
        tone_gen_fill(&p->gen, pcm, N);
        info->kind = AUDIO_FRAME_DECODED;
    }
    atomic_fetch_add(&p->reads, 1);
    leave_call(p);
}

void sleep_us(unsigned us)
{
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
    nanosleep(&ts, NULL);
}

static int fp_write(void *obj, const int16_t *pcm)
{
    struct fport *p = obj;
    enter(p);
    uint64_t w = atomic_load(&p->writes);
    atomic_store(&p->last_out, pcm);
    if (p->an && w >= atomic_load(&p->analyse_from))
        tone_analyser_feed(p->an, pcm, N);
    if (p->frame_an && w >= atomic_load(&p->analyse_from)) {
        tone_analyser_reset(p->frame_an);
        tone_analyser_feed(p->frame_an, pcm, N);
        bool missing = false;
        for (unsigned i = 0; i < p->nmust; i++)
            missing = missing || tone_analyser_level(p->frame_an, p->must_hear[i]) < TONE_DB - 3;
        if (missing)
            atomic_fetch_add(&p->frames_missing, 1);
        if (p->self >= 0 && tone_analyser_level(p->frame_an, (unsigned)p->self) > -70.0)
            atomic_fetch_add(&p->frames_self, 1);
        atomic_fetch_add(&p->frames_checked, 1);
    }
    if (p->write_delay_us)
        sleep_us(p->write_delay_us);
    atomic_store(&p->writes, w + 1);
    leave_call(p);
    return p->write_ret;
}

static void fp_tick(void *obj, uint64_t now_us)
{
    struct fport *p = obj;
    enter(p);
    if (now_us == 0)
        atomic_fetch_add(&violations, 1);
    atomic_fetch_add(&p->ticks, 1);
    leave_call(p);
}

static int fp_send_dtmf(void *obj, char digit, uint16_t duration_ms)
{
    struct fport *p = obj;
    enter(p);
    unsigned n = atomic_load(&p->ndtmf);
    if (n < sizeof(p->dtmf)) {
        p->dtmf[n] = digit;
        p->dtmf_ms[n] = duration_ms;
        atomic_store(&p->ndtmf, n + 1);
    }
    leave_call(p);
    return 0;
}

/* Outside the tick, from join and leave: counts, and flags a call after the port was freed. */
static void fp_attach(void *obj, struct conf_member *mb)
{
    struct fport *p = obj;
    if (atomic_load(&p->magic) != MAGIC_LIVE)
        atomic_fetch_add(&violations, 1);
    atomic_store(&p->attached, mb);
    atomic_fetch_add(mb ? &p->attaches : &p->detaches, 1);
}

/* probes: every tone of the test, self: this port's index in it (or -1). */
struct fport *fport_new(double freq, const double *probes, unsigned np, int self)
{
    struct fport *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    atomic_store(&p->magic, MAGIC_LIVE);
    p->freq = freq;
    p->self = self;
    p->silent = freq <= 0.0;
    if (!p->silent)
        assert_int_equal(tone_gen_init(&p->gen, AUDIO_RATE, freq, TONE_DB), 0);
    if (np) {
        p->nprobes = np;
        assert_int_equal(tone_analyser_alloc(&p->an, AUDIO_RATE, probes, np, 0), 0);
        assert_int_equal(tone_analyser_alloc(&p->frame_an, AUDIO_RATE, probes, np, N), 0);
    }
    atomic_store(&p->analyse_from, UINT64_MAX);
    return p;
}

void fport_free(struct fport *p)
{
    atomic_store(&p->magic, MAGIC_GONE);
    mem_deref(p->an);
    mem_deref(p->frame_an);
    free(p);
}

struct conf_port port_of(struct fport *p)
{
    struct conf_port cp = {
        .read = fp_read,
        .write = fp_write,
        .tick = fp_tick,
        .obj = p,
        .send_dtmf = p->no_dtmf ? NULL : fp_send_dtmf,
        .attach = fp_attach,
    };
    return cp;
}

/* ---- waiting ---- */

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Polls (1 ms) until p has written n frames; false at the deadline. */
bool wait_writes(struct fport *p, uint64_t n)
{
    uint64_t end = now_ms() + TIMEOUT_MS;
    while (atomic_load(&p->writes) < n) {
        if (now_ms() > end)
            return false;
        sleep_us(1000);
    }
    return true;
}

bool wait_dtmf(struct fport *p, unsigned n)
{
    uint64_t end = now_ms() + TIMEOUT_MS;
    while (atomic_load(&p->ndtmf) < n) {
        if (now_ms() > end)
            return false;
        sleep_us(1000);
    }
    return true;
}

struct conf_clock_stats clock_stats(struct conf_mixer *m, unsigned i)
{
    struct conf_clock_stats st;
    assert_int_equal(conf_mixer_clock_stats(m, i, &st), 0);
    return st;
}

bool wait_clock_ticks(struct conf_mixer *m, unsigned i, uint64_t n)
{
    uint64_t end = now_ms() + TIMEOUT_MS;
    while (clock_stats(m, i).ticks < n) {
        if (now_ms() > end)
            return false;
        sleep_us(1000);
    }
    return true;
}

bool wait_clock_idle(struct conf_mixer *m, unsigned i)
{
    uint64_t end = now_ms() + TIMEOUT_MS;
    while (clock_stats(m, i).running) {
        if (now_ms() > end)
            return false;
        sleep_us(1000);
    }
    return true;
}

int fake_setup(void **state)
{
    (void)state;
    log_set_level(LOG_LVL_WARN);
    return 0;
}

void analysis_restart(struct fport *p)
{
    atomic_store(&p->analyse_from, UINT64_MAX);
    assert_true(wait_writes(p, atomic_load(&p->writes) + 2));
    tone_analyser_reset(p->an);
    atomic_store(&p->analyse_from, atomic_load(&p->writes) + 1);
}
