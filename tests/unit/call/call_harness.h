/*
 * The harness of the call state machine's tests: signalling/call.c runs against the fake media
 * session (fake_media_session.h) with a send() that records every event it queues and handlers
 * that count what it reported, on the GLib default main loop, which the tests drive until the
 * event they wait for shows up (bounded by WAIT).
 */
#ifndef SB_TESTS_CALL_HARNESS_H
#define SB_TESTS_CALL_HARNESS_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>

#include "signalling/call.h"

#define ROOM "!room:hs"
#define PEER "@alice:hs"
#define OURS "BOTDEV"
#define WAIT 3000 /* ms: the longest any condition may take */

/* What the call sent (deep copies), in order. */
struct sent {
    char *room;
    char *type;
    json_t *content;
};
extern GPtrArray *sent; /* struct sent * */
extern int send_error;  /* non-zero: send() fails with it */

/* What the call reported through its handlers. */
struct call_report {
    unsigned connected, held_changes, ended;
    bool held;
    enum call_hangup_reason reason;
    bool by_remote;
};
extern struct call_report rep;

/* The env every call of a test uses (reset by setup()); handlers fill rep. */
extern struct call_env env;
extern const struct call_handlers handlers;

/* cmocka setup / teardown: fresh records, captured log lines, a default env. */
int setup(void **state);
int teardown(void **state);
/* Forgets what was sent and reported (between the cases of one test). */
void reset_reports(void);

/* Whether a captured log line contains a (and b, unless NULL). */
bool logged(const char *a, const char *b);

/* Runs the main loop until cond(arg) holds or ms pass; returns cond(arg). */
bool run_until(bool (*cond)(const void *), const void *arg, unsigned ms);
/* Lets ms of timers run (for "nothing else happens" checks). */
void run_for(unsigned ms);

unsigned count_type(const char *type);
/* The n-th (0-based) event of type sent, or NULL. */
json_t *nth(const char *type, unsigned n);
struct want {
    const char *type;
    unsigned n;
};
bool have(const void *want);    /* at least want->n events of want->type were sent */
bool ended(const void *unused); /* the call reported its end */
#define WAIT_SENT(type_, n_) assert_true(run_until(have, &(struct want){(type_), (n_)}, WAIT))

/* o["a"]["b"] for "a.b", as a string (NULL if absent or not a string). */
const char *str(json_t *o, const char *path);
json_t *candidates_of(json_t *content);
bool has_candidate(json_t *content, const char *cand);

/* An event from the peer: decoded from printf-made JSON text, which it keeps alive. */
struct in {
    json_t *json;
    struct call_event ev;
};
void decode(struct in *in, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void in_free(struct in *in);
/* Feeds one event of type to c as sent by sender. */
void feed(struct call *c, const char *sender, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An invite from PEER (party PEERDEV, version 1, call "c1") answered by us; still preparing. */
struct call *answer_invite(const char *sdp);
/* answer_invite, gathering done (the answer is out), media connected. */
struct call *connected_call(void);
/* call_ring to PEER with the invite out. */
struct call *ringing_call(void);

#endif
