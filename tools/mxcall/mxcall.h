/*
 * mxcall: a command-line Matrix VoIP client on switchboard's own media stack, for tests, the
 * demo and load. One process runs any number of parties; each logs in, syncs, places or answers
 * one call, sends a tone or a WAV file, measures (and optionally records) what it hears, and
 * prints JSON lines: events as they happen and one result per party at the end.
 *
 * Each connected party is a conference of two on the shared mixer: the remote call's audio
 * stream and the party's local "device" (tone / WAV source, analyser / recorder sink), so the
 * audio path is exactly the gateway's.
 */
#ifndef SB_TOOLS_MXCALL_H
#define SB_TOOLS_MXCALL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/tone.h"
#include "signalling/call.h"

struct http_client;
struct conf_mixer;
struct media_workers;
struct dtls_identity;
struct mxcall_device;

#define MXCALL_MAX_WINDOWS 4
#define MXCALL_MAX_DTMF    8  /* entries of a party's "dtmf" schedule */
#define MXCALL_DTMF_DIGITS 16 /* digits in one entry (what the conference queues at once) */

struct party_cfg {
    char *user;     /* user id or localpart */
    char *password; /* log in with it, or use token */
    char *token;
    char *call_room; /* place a call in this room ... */
    char *invitee;   /* ... to this user (default: the room's other member) */
    bool answer;     /* ... or answer the first call addressed to us */
    bool reject;     /* answer mode: reject the call instead (tests) */
    char *say;       /* a text message to send first (e.g. "!call") */
    char *say_room;
    double tone_hz; /* 0: silence unless wav */
    double tone_dbfs;
    char *wav;
    char *record;
    double probes[TONE_MAX_PROBES];
    unsigned nprobes;
    double duration_s; /* connected this long, then hang up; 0: until the peer ends */
    struct {
        double from_s, to_s;       /* seconds from connection; to 0: to the end */
    } windows[MXCALL_MAX_WINDOWS]; /* what is heard is analysed in each window apart */
    unsigned nwindows;
    double hold_at_s;   /* > 0: put the peer on hold this long after connecting (negotiate) */
    double resume_at_s; /* > 0: resume it then */
    struct {
        double at_s; /* seconds from connection */
        char digits[MXCALL_DTMF_DIGITS + 1];
    } dtmf[MXCALL_MAX_DTMF]; /* RFC 4733 digits sent to the peer, in time order */
    unsigned ndtmf;
    unsigned dtmf_ms; /* each digit's duration (default 120) */
    /* Tests only: our SDP's a=fingerprint is altered before it leaves, so the peer's DTLS
     * check must fail. */
    bool corrupt_fingerprint;
};

struct mxcall {
    GMainLoop *loop;
    char *homeserver;
    struct http_client *http;
    struct media_workers *workers;
    struct conf_mixer *mixer;
    struct dtls_identity *identity;
    struct call_env env;   /* template: send / party_id are per party */
    double timeout_s;      /* a party not connected by then fails */
    unsigned status_ms;    /* status lines every so often, 0: none */
    GPtrArray *parties;    /* struct party_cfg * */
    GPtrArray *party_objs; /* struct party * */
    unsigned done;
    bool failed;
};

struct party;

int party_alloc(struct party **pp, struct mxcall *app, struct party_cfg *cfg, unsigned index);
void party_start(struct party *p);
void party_print_status(struct party *p);
/* Ends the party's call (if any) and prints its result. */
void party_finish(struct party *p, const char *why);
bool party_succeeded(const struct party *p);
unsigned party_pending_sends(const struct party *p);

/* The party is over (result printed); the last one ends the program. */
void mxcall_party_done(struct mxcall *app);

/* The local audio device of a connected party. */
int mxcall_device_alloc(struct mxcall_device **dp, const struct party_cfg *cfg);
struct conf_port;
void mxcall_device_port(struct mxcall_device *d, struct conf_port *port);
/* What the party heard in its analysis window, in dBFS. */
struct mxcall_levels {
    uint64_t blocks;                  /* 20 ms blocks analysed */
    double probe_db[TONE_MAX_PROBES]; /* each probe's level */
    double noise_db;    /* the noise floor: the median level of 50 Hz bins away from the probes
                           and their harmonics and intermodulation products */
    double residual_db; /* all power the probes do not explain (noise, glitches, products) */
};
unsigned mxcall_device_windows(const struct mxcall_device *d);
void mxcall_device_levels(struct mxcall_device *d, unsigned window, struct mxcall_levels *lv);
uint64_t mxcall_device_frames_heard(struct mxcall_device *d);
/* Digits the peer sends (RFC 4733, relayed to the device by the party's conference), reported
 * on the main loop in the order they came, with the monotonic time they reached the device. NULL
 * stops the reports (digits still queued are dropped). */
typedef void(mxcall_dtmf_h)(char digit, uint16_t duration_ms, int64_t at_us, void *arg);
void mxcall_device_set_dtmf_handler(struct mxcall_device *d, mxcall_dtmf_h *h, void *arg);

#endif
