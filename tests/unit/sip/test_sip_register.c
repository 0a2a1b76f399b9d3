/*
 * Trunk registration against a hand-written registrar on loopback UDP: digest auth (the
 * response checked by recomputing it, neither the password nor the response in any log line),
 * the stack's refresh before expiry, un-REGISTER at shutdown; and after failures (403, refused
 * credentials) exponential backoff with the status text that says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "base/log.h"
#include "base/mem.h"
#include "sip_gw_fixture.h"

/* ---- digest ---- */

static char *md5_hex(const char *s)
{
    return g_compute_checksum_for_string(G_CHECKSUM_MD5, s, -1);
}

/* The value of key in a Digest header (quotes removed), or NULL; g_free. */
static char *digest_param(const char *hdr, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "%s=", key);
    const char *p = hdr;
    while ((p = strstr(p, pat))) {
        if (p == hdr || p[-1] == ' ' || p[-1] == ',') {
            p += strlen(pat);
            if (*p == '"')
                return g_strndup(p + 1, strcspn(p + 1, "\""));
            return g_strndup(p, strcspn(p, ", \r\n"));
        }
        p++;
    }
    return NULL;
}

static void registers_with_digest_auth(void **state)
{
    struct wire reg;
    wire_open(&reg, "127.0.0.1");
    struct gw_fixture f;
    fixture_init(&f, reg.port, 10);

    char *r1 = wire_recv(&reg, "REGISTER ", 5000);
    assert_non_null(r1);
    char *to = wire_header(r1, "To");
    assert_non_null(strstr(to, "sip:gw@127.0.0.1"));
    char *expires = wire_header(r1, "Expires");
    assert_string_equal(expires, "300");
    assert_null(wire_header(r1, "Authorization"));
    assert_true(status_has(&f, "t1: registering with sip:127.0.0.1:"));
    respond(&reg, f.port, r1, "401 Unauthorized",
            "WWW-Authenticate: Digest realm=\"test.realm\", "
            "nonce=\"n0nce42\", algorithm=MD5\n");

    char *r2 = wire_recv(&reg, "REGISTER ", 5000);
    assert_non_null(r2);
    char *auth = wire_header(r2, "Authorization");
    assert_non_null(auth);
    char *user = digest_param(auth, "username"), *realm = digest_param(auth, "realm");
    char *nonce = digest_param(auth, "nonce"), *uri = digest_param(auth, "uri");
    char *response = digest_param(auth, "response");
    assert_string_equal(user, "gw");
    assert_string_equal(realm, "test.realm");
    assert_string_equal(nonce, "n0nce42");
    assert_non_null(uri);
    char *a1 = g_strdup_printf("gw:test.realm:%s", PASSWORD);
    char *a2 = g_strdup_printf("REGISTER:%s", uri);
    char *ha1 = md5_hex(a1), *ha2 = md5_hex(a2);
    char *kd = g_strdup_printf("%s:%s:%s", ha1, nonce, ha2);
    char *want = md5_hex(kd);
    assert_string_equal(response, want);

    char *contact = wire_header(r2, "Contact");
    char extra[512];
    snprintf(extra, sizeof(extra), "Contact: %s;expires=4\n", contact);
    respond(&reg, f.port, r2, "200 OK", extra);
    gint64 deadline = g_get_monotonic_time() + 5000000;
    bool ok = false;
    while (!ok && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, FALSE);
        char *s = sip_gw_status(f.gw);
        ok = strstr(s, "t1: registered (expires in 4 s)") != NULL;
        g_free(s);
    }
    assert_true(ok);
    assert_true(logged("t1: registered (expires in 4 s)"));
    /* The digest response is as secret as the password it proves. */
    assert_false(logged(want));

    /* The stack refreshes before the 4 s granted run out, with our credentials. */
    gint64 t_granted = g_get_monotonic_time();
    char *rr = wire_recv(&reg, "REGISTER ", 5000);
    assert_non_null(rr);
    assert_true(g_get_monotonic_time() - t_granted < 4000000);
    char *rauth = wire_header(rr, "Authorization");
    assert_non_null(rauth);
    char *rcontact = wire_header(rr, "Contact");
    snprintf(extra, sizeof(extra), "Contact: %s;expires=120\n", rcontact);
    respond(&reg, f.port, rr, "200 OK", extra);
    deadline = g_get_monotonic_time() + 5000000;
    ok = false;
    while (!ok && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, FALSE);
        char *s = sip_gw_status(f.gw);
        ok = strstr(s, "t1: registered (expires in 120 s)") != NULL;
        g_free(s);
    }
    assert_true(ok);
    g_free(rcontact);
    g_free(rauth);
    g_free(rr);

    /* Shutdown un-REGISTERs, then reports done. */
    sip_gw_shutdown(f.gw, on_stopped, &f);
    char *r3 = wire_recv(&reg, "REGISTER ", 5000);
    assert_non_null(r3);
    char *c3 = wire_header(r3, "Contact"), *e3 = wire_header(r3, "Expires");
    assert_true((c3 && strstr(c3, "expires=0")) || (e3 && strcmp(e3, "0") == 0));
    respond(&reg, f.port, r3, "200 OK", NULL);
    assert_true(wire_run_until(&f.stopped, 10000));
    assert_true(logged("t1: unregistered"));
    f.gw = mem_deref(f.gw);

    g_free(c3);
    g_free(e3);
    g_free(r3);
    g_free(contact);
    g_free(a1);
    g_free(a2);
    g_free(ha1);
    g_free(ha2);
    g_free(kd);
    g_free(want);
    g_free(user);
    g_free(realm);
    g_free(nonce);
    g_free(uri);
    g_free(response);
    g_free(auth);
    g_free(r2);
    g_free(expires);
    g_free(to);
    g_free(r1);
    wire_close(&reg);
}

static void registration_failures_back_off(void **state)
{
    struct wire reg;
    wire_open(&reg, "127.0.0.1");
    struct gw_fixture f;
    fixture_init(&f, reg.port, 10);

    /* Refused outright. */
    char *r = wire_recv(&reg, "REGISTER ", 5000);
    assert_non_null(r);
    respond(&reg, f.port, r, "403 Forbidden", NULL);
    g_free(r);
    gint64 deadline = g_get_monotonic_time() + 3000000;
    while (!logged("t1: failed: 403 Forbidden, retrying in 2 s") &&
           g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    assert_true(logged("t1: failed: 403 Forbidden, retrying in 2 s"));
    assert_true(status_has(&f, "t1: failed: 403 Forbidden, retrying in "));

    /* The retry comes after the backoff; wrong credentials: challenged again after our
     * answer, which is a failure too, with a doubled backoff. */
    gint64 t0 = g_get_monotonic_time();
    r = wire_recv(&reg, "REGISTER ", 5000);
    assert_non_null(r);
    assert_true(g_get_monotonic_time() - t0 > 1000000);
    /* A fresh challenge to our answer, as a registrar sends for credentials it does not take:
     * sofia gives up on it (904), which the trunk reports as the 401 it is. */
    respond(&reg, f.port, r, "401 Unauthorized",
            "WWW-Authenticate: Digest realm=\"test.realm\", nonce=\"n1\"\n");
    g_free(r);
    r = wire_recv(&reg, "REGISTER ", 5000);
    assert_non_null(r);
    char *auth = wire_header(r, "Authorization");
    assert_non_null(auth);
    g_free(auth);
    respond(&reg, f.port, r, "401 Unauthorized",
            "WWW-Authenticate: Digest realm=\"test.realm\", nonce=\"n2\"\n");
    g_free(r);
    deadline = g_get_monotonic_time() + 3000000;
    while (!logged("t1: failed: 401 Unauthorized, retrying in 4 s") &&
           g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    assert_true(logged("t1: failed: 401 Unauthorized, retrying in 4 s"));
    assert_true(logged("t1: the registrar refused our credentials"));
    /* No more answers to that challenge. */
    assert_true(wire_quiet(&reg, "REGISTER ", 500));

    /* Nothing registered: shutdown has nothing to un-REGISTER. */
    fixture_stop(&f);
    assert_false(logged("t1: unregistering"));
    wire_close(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(registers_with_digest_auth, gw_log_setup, gw_log_teardown),
        cmocka_unit_test_setup_teardown(registration_failures_back_off, gw_log_setup,
                                        gw_log_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
