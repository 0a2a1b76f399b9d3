/*
 * sipload: a SIP load generator on sofia-sip (nua) and switchboard's own media stack. It places
 * N concurrent calls to a SIP URI at a given rate, each with plain RTP (media_session, RTP_AVP
 * profile) offering one codec (PCMU or Opus), each sending a tone from a device port on the
 * conference mixer clock as mxcall's parties do, keeps them up for a duration, optionally
 * analyses what a few of them hear, and prints one JSON object of figures at the end (calls up,
 * failures by status, set-up times, packets, loss, its own CPU).
 *
 * Shaped for measuring the gateway rather than itself: one nua and one GLib main loop for every
 * call, media on a few worker threads, every call's tone and codec work on the mixer clocks (one
 * two-member room per call: the call's stream and the device), nothing per packet on the main
 * loop.
 */
#ifndef SB_TOOLS_SIPLOAD_H
#define SB_TOOLS_SIPLOAD_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include <sofia-sip/nua.h>

#include "media/audio_codec.h"
#include "media/audio_stream.h"
#include "media/tone.h"

#define SL_MAX_PROBES  8
#define SL_MAX_FAILURE 16 /* distinct final statuses kept */

struct sl_cfg {
    const char *uri; /* target; "{i}" / "{i:0W}" become the call's index (from first_index) */
    unsigned calls;  /* concurrent calls to place */
    unsigned first_index;
    double rate;     /* calls placed per second */
    double duration; /* seconds each call stays up once answered; 0: until SIGINT / SIGTERM */
    enum audio_codec codec;
    const char *bind; /* our SIP address, "sip:127.0.0.1:*" */
    const char *local_ip;
    const char *from_user;
    double tone_hz, tone_dbfs; /* each call's voice; calls step tone_step Hz apart when set */
    double tone_step;
    unsigned analyse; /* the first calls whose hearing is analysed */
    double probes[SL_MAX_PROBES];
    unsigned nprobes;
    double analyse_from_s; /* seconds after the answer the analysis starts (jitter settles) */
    unsigned clocks, workers;
    double setup_timeout_s; /* a call not answered by then is cancelled and counted failed */
};

struct sl;

/* One call's lifetime, in call.c. */
struct sl_call;

struct sl_totals {
    uint64_t packets_sent, packets_received;
    int64_t packets_lost;
    uint64_t frames_concealed, late_dropped;
};

/* What the first cfg->analyse calls heard. */
struct sl_heard {
    unsigned call;
    uint64_t blocks;
    double probe_db[SL_MAX_PROBES];
    double residual_db;
};

/* ---- main.c, for call.c ---- */
const struct sl_cfg *sl_cfg(const struct sl *sl);
nua_t *sl_nua(struct sl *sl);
GMainContext *sl_worker(struct sl *sl);
struct conf_mixer *sl_mixer(struct sl *sl);
/* A call was answered (setup_ms from INVITE to 200), failed (status: its final response, or
 * 0 for a local error / a timeout), or ended (after being up); totals are its stream's. */
void sl_call_answered(struct sl *sl, struct sl_call *c, double setup_ms);
void sl_call_failed(struct sl *sl, struct sl_call *c, int status, const char *why);
void sl_call_ended(struct sl *sl, struct sl_call *c, bool by_remote, const struct sl_totals *t,
                   const struct sl_heard *heard);

/* ---- call.c ---- */
int sl_call_start(struct sl_call **cp, struct sl *sl, unsigned idx);
/* Hangs up (BYE, or CANCEL while still ringing); the call reports once sofia is done with it. */
void sl_call_hangup(struct sl_call *c);
bool sl_call_is_up(const struct sl_call *c);
/* The nua callback's share for a handle that belongs to a call. */
void sl_call_event(struct sl_call *c, nua_event_t event, int status, const char *phrase,
                   sip_t const *sip, tagi_t tags[]);
/* Frees what is left once the call reported its end. */
void sl_call_free(struct sl_call *c);

#endif
