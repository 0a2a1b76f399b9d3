/*
 * The gateway-under-test of the signalling tests (test_sip_register, test_sip_gw): a gateway on a
 * free loopback port with one trunk ("t1", user gw) whose allowed sources are 127.0.0.1 and
 * 127.0.0.2, a room route for +15550100 and an outbound policy; the log captured so a test can
 * look for lines (and teardown checks the password never shows); and a responder for requests
 * the test's fake registrar or proxy receives.
 */
#ifndef SB_TESTS_SIP_GW_FIXTURE_H
#define SB_TESTS_SIP_GW_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "sip/sip.h"
#include "sip_wire.h"

#define PASSWORD "s3cret-pw"

extern GPtrArray *log_lines;

/* cmocka setup / teardown: capture the log at debug level; the password must not be in it. */
int gw_log_setup(void **state);
int gw_log_teardown(void **state);
bool logged(const char *needle);

struct gw_fixture {
    struct sip_gw *gw;
    uint16_t port;
    struct sip_trunk_cfg trunk;
    struct sip_route_in routes[1];
    const char *listen[1];
    char listen_buf[64];
    char registrar[64];
    const char *sources[2];
    const char *users[1], *numbers[1];
    struct sip_cfg cfg;
    bool stopped;
};

/* Starts the gateway: with a registrar at registrar_port (0: an IP-authenticated trunk), at most
 * rate INVITEs a second from one source. */
void fixture_init(struct gw_fixture *f, uint16_t registrar_port, unsigned rate);
void on_stopped(void *arg);
/* Shuts down (waiting for it) and frees the gateway. */
void fixture_stop(struct gw_fixture *f);
bool status_has(struct gw_fixture *f, const char *needle);

/* A response to request req: its Via, From, To (with a tag), Call-ID and CSeq, plus extra. */
void respond(struct wire *w, uint16_t to_port, const char *req, const char *status,
             const char *extra);

#endif
