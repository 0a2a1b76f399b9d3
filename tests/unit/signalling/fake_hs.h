/*
 * A scripted Matrix homeserver for the signalling tests: libmicrohttpd on 127.0.0.1 at an
 * ephemeral port, a thread per connection so a held /sync never blocks a send. It records every
 * request and answers from:
 * - rules: "the next N requests matching METHOD and a path fragment get this answer";
 * - sync batches keyed by the since they answer ("" for none), held like a long poll until
 *   the test supplies one or the request's timeout passes (at most 2 s);
 * - defaults: filter id "f1" for filter uploads, event id "$evN" for sends, 404 otherwise.
 * One server per process, started and stopped around each test (cmocka setup / teardown).
 * JSON handed to it may use single quotes, for readable literals.
 */
#ifndef SB_TEST_FAKE_HS_H
#define SB_TEST_FAKE_HS_H

#include <glib.h>
#include <stdbool.h>

/* One recorded request. Query arguments are NULL when absent, auth "" without the header. */
struct hs_req {
    char *method;
    char *path;
    char *since;
    char *filter;
    char *timeout;
    char *body;
    char *auth;
    gint64 t_us;                   /* monotonic arrival time */
    char *from, *to, *dir, *limit; /* /messages' query arguments */
};

struct hs_rule;

/* Starts the server (fails the test if it cannot) / releases held /syncs and stops it. */
void hs_start(void);
void hs_stop(void);

/* "http://127.0.0.1:<port>/" (g_free). */
char *hs_url(void);

/* s with every single quote turned into a double one (g_free). */
char *hs_json(const char *s);

/* The answer to the /sync whose since is `since` ("" for the initial one); a /sync held for it
 * gets it at once. */
void hs_batch(const char *since, const char *json);

/* The next count requests (-1: all of them) with this method and a path containing path_part get
 * this status and body. Rules are tried in the order added, before the defaults; the server owns
 * them. */
struct hs_rule *hs_rule(const char *method, const char *path_part, unsigned status,
                        const char *body, int count);
void hs_rule_set_remaining(struct hs_rule *r, int n);
/* One extra response header on the rule's answers. */
void hs_rule_set_header(struct hs_rule *r, const char *name, const char *value);

/* Copies of the recorded requests matching method and path fragment (NULL: any), in arrival
 * order (g_ptr_array_unref). */
GPtrArray *hs_reqs(const char *method, const char *path_part);
unsigned hs_count(const char *method, const char *path_part);

#define HS_REQ(a, i) ((struct hs_req *)g_ptr_array_index((a), (i)))

/* Milliseconds between the arrivals of requests i - 1 and i of a. */
gint64 hs_gap_ms(GPtrArray *a, guint i);

/* A condition for a polling wait: at least n requests matching method and path recorded. */
struct hs_at_least {
    const char *method, *path;
    unsigned n;
};
bool hs_reqs_at_least(void *arg);

#endif
