/*
 * A fake conference participant for the conf/ tests: it sends a tone of its own (or silence),
 * analyses what it is sent, records the DTMF digits relayed to it, counts every call, and flags
 * any call that comes after its leave.
 * Waits are polls for a condition with a deadline, never fixed sleeps.
 */
#ifndef SB_TEST_FAKE_PORT_H
#define SB_TEST_FAKE_PORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "media/tone.h"

#define N          AUDIO_FRAME_SAMPLES
#define TIMEOUT_MS 10000
#define TONE_DB    -20.0
#define MAGIC_LIVE 0x11feu
#define MAGIC_GONE 0xdeadu

/* Calls into a port whose magic says it has left, from any test. */
extern atomic_uint violations;

struct fport {
    atomic_uint magic;
    atomic_bool in_call; /* inside read / write / tick */
    double freq;
    bool silent; /* reads return AUDIO_FRAME_SILENT */
    int write_ret;
    unsigned write_delay_us; /* widens the window in which leave can race a tick */
    struct tone_gen gen;

    atomic_uint_fast64_t reads, writes, ticks;
    atomic_uint_fast64_t analyse_from; /* whole-run analysis starts at this write */
    const int16_t *_Atomic last_out;

    struct tone_analyser *an; /* whole run, probes = every port's tone */
    unsigned nprobes;
    int self; /* own probe index, -1 if none */

    /* Per-frame check of what must always be heard / never be heard. */
    struct tone_analyser *frame_an;
    unsigned must_hear[8], nmust;
    atomic_uint_fast64_t frames_checked, frames_missing, frames_self;

    /* DTMF: the digits relayed to it, in order (a port with no_dtmf has no send_dtmf), and
     * the member its attach hook was last told of. */
    bool no_dtmf;
    char dtmf[64];
    uint16_t dtmf_ms[64];
    atomic_uint ndtmf;
    struct conf_member *_Atomic attached;
    atomic_uint attaches, detaches;
};

/* freq <= 0: a silent port. probes: every tone of the test (np of them, may be 0), self: this
 * port's index among them, or -1. Analysis starts once analyse_from is set. */
struct fport *fport_new(double freq, const double *probes, unsigned np, int self);
void fport_free(struct fport *p);
struct conf_port port_of(struct fport *p);

/* Stops p's whole-run analysis, waits until the clock is surely out of it, clears it and
 * restarts it from the next frame: frames from then on were mixed after the caller's change. */
void analysis_restart(struct fport *p);

void sleep_us(unsigned us);
uint64_t now_ms(void);
uint64_t now_us(void);

/* Polls (1 ms) until the condition holds; false at the deadline (TIMEOUT_MS). */
bool wait_writes(struct fport *p, uint64_t n);
bool wait_dtmf(struct fport *p, unsigned n);
bool wait_clock_ticks(struct conf_mixer *m, unsigned i, uint64_t n);
bool wait_clock_idle(struct conf_mixer *m, unsigned i);
struct conf_clock_stats clock_stats(struct conf_mixer *m, unsigned i);

int fake_setup(void **state);

#endif
