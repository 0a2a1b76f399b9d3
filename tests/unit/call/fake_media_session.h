/*
 * A fake media session for the call state machine's tests, linked in place of media/session.c
 * (and of media_workers_pick from media/worker.c): no sockets, no threads. The test plays the
 * transport's part through the fake_media_* calls below (local candidates, end of gathering,
 * connected, failures, received media) and reads back what the call gave the session.
 *
 * Its SDP is text the test can grep: "fake-offer" / "fake-answer" / "fake-reoffer", an
 * "a=candidate:..." line per local candidate, "a=end-of-candidates" once gathering finished, and
 * one direction line. Remote SDP containing "bogus" is refused (EBADMSG); otherwise its
 * direction line (a=sendonly, a=recvonly, a=inactive, else sendrecv) sets the negotiated
 * direction.
 */
#ifndef SB_TESTS_FAKE_MEDIA_SESSION_H
#define SB_TESTS_FAKE_MEDIA_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "media/session.h"

/* The session most recently allocated (the call holds its reference). */
extern struct media_session *fake_media_last;
/* When non-zero, the next media_session_alloc() fails with it (then resets to 0). */
extern int fake_media_alloc_error;

void fake_media_local_candidate(struct media_session *s, const char *candidate);
void fake_media_gathering_done(struct media_session *s);
void fake_media_connected(struct media_session *s);
void fake_media_fail(struct media_session *s, enum media_failure why);
void fake_media_set_last_rx(struct media_session *s, uint64_t us);

bool fake_media_offerer(const struct media_session *s);
bool fake_media_closed(const struct media_session *s);
/* Remote candidates the call passed on, in order ("" entries are not kept). */
unsigned fake_media_remote_count(const struct media_session *s);
const char *fake_media_remote(const struct media_session *s, unsigned i);
bool fake_media_remote_ended(const struct media_session *s); /* "" was passed */
/* Remote SDPs accepted (offers and answers). */
unsigned fake_media_remote_sdps(const struct media_session *s);

#endif
