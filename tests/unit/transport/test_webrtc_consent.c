/*
 * RFC 7675 consent freshness through the WebRTC transport: a peer that revokes its consent makes
 * the other side fail with WEBRTC_FAIL_CONSENT. Its own executable because consent checks run
 * every few seconds (this case takes about 5 s); the fixture is transport_fixture.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "media/webrtc_transport.h"
#include "transport_fixture.h"

static void consent_revoked_fails_the_peer(void **state)
{
    struct fixture *f = *state;
    make(f, &f->a, true, NULL);
    make(f, &f->b, false, NULL);
    f->a.fwd = f->b.fwd = FWD_DIRECT;
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);
    assert_true(wait_until(f, both_connected, WAIT_MS));

    /* a withdraws consent; b's next consent check (every 4-6 s) is refused. */
    webrtc_transport_revoke_consent(f->a.t);
    assert_true(wait_until(f, b_failed, WAIT_MS));
    assert_int_equal(f->b.why, WEBRTC_FAIL_CONSENT);
    assert_int_equal(f->b.failed, 1);
    assert_int_equal(f->a.failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(consent_revoked_fails_the_peer, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests_name("webrtc_consent", tests, NULL, NULL);
}
