/*
 * The Matrix client under test, for the signalling tests that run it against the scripted
 * homeserver (fake_hs.h). The client runs on a private GMainContext iterated until a condition
 * holds or a deadline passes; its handlers record what they see, with the room model as each
 * event found it; sends and requests complete into numbered records; the log is captured so a
 * test can look for a line, and teardown fails the test if the access token ever reached one.
 */
#ifndef SB_TEST_MX_TEST_UTIL_H
#define SB_TEST_MX_TEST_UTIL_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>

#include "signalling/mx_client.h"

#define BOT   "@bot:hs"
#define TOKEN "secret-token-123"

/* The client's context, thread-default for the test. */
extern GMainContext *ctx;

/* Iterates ctx until cond(arg) or timeout_ms; returns cond's last answer. */
bool run_until(bool (*cond)(void *), void *arg, unsigned timeout_ms);

/* One room event as the room_event handler saw it. */
struct seen {
    char *room;
    char *event_id;
    char *type;
    bool initial;
    unsigned joined;
    char *name;
    bool encrypted;
    enum mx_membership skey_membership;
};

#define SEEN(t, i) ((struct seen *)g_ptr_array_index((t)->events, (i)))

struct tc {
    struct http_client *http;
    struct mx_client *mx;
    GPtrArray *events;
    GPtrArray *invites; /* "room|inviter|initial" */
    GPtrArray *lefts;
    unsigned synced;
    unsigned synced_initial;
    bool free_on_event;
    char *file_at_synced[4]; /* the token file as synced() found it */
};

/* A client for BOT with TOKEN on the scripted homeserver; extra: other settings (short sync
 * timeout and backoffs unless given). Not started. */
void tc_init(struct tc *t, const struct mx_client_cfg *extra);
void tc_free(struct tc *t);
/* Runs until the synced handler has run n times, or fails the test after 5 s. */
void wait_synced(struct tc *t, unsigned n);

/* Completion records for sends and requests. */
struct done {
    unsigned count;
    int order[16];
    int err[16];
    char *errcode[16];
    json_t *body[16];
    gint64 at[16];
};

extern struct done D;
/* The completion handler for sends and requests; arg is recorded as the order. */
void on_done(int err, const char *errcode, json_t *body, void *arg);
void done_clear(void);
/* A run_until condition: at least (uintptr_t)arg completions. */
bool done_at_least(void *arg);

/* Every log line since setup, newline-terminated. */
extern GString *logged;
unsigned occurrences(const char *hay, const char *needle);

/* A fresh directory per test, for the client's saved sync token. */
extern char *state_dir;
/* The saved token file's contents, NULL if there is none (g_free). */
char *read_token_file(void);

/* JSON from a single-quoted literal, or fails the test. */
json_t *content(const char *s);

/* cmocka setup / teardown: context, homeserver, log capture, state directory. */
int setup(void **state);
int teardown(void **state);

#endif
