/*
 * The signalling tests' gateway fixture (see sip_gw_fixture.h).
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

#include "base/log.h"
#include "base/mem.h"
#include "sip_gw_fixture.h"

/* ---- log capture: nothing secret may ever show ---- */

GPtrArray *log_lines;

static void sink(enum log_level level, const char *line, void *arg)
{
    g_ptr_array_add(log_lines, g_strdup(line));
}

bool logged(const char *needle)
{
    for (guint i = 0; i < log_lines->len; i++) {
        if (strstr(g_ptr_array_index(log_lines, i), needle))
            return true;
    }
    return false;
}

int gw_log_setup(void **state)
{
    log_lines = g_ptr_array_new_with_free_func(g_free);
    log_set_sink(sink, NULL);
    log_set_level(LOG_LVL_DEBUG);
    return 0;
}

int gw_log_teardown(void **state)
{
    /* Not the password, not in any form, at any level. */
    assert_false(logged(PASSWORD));
    log_set_sink(NULL, NULL);
    g_ptr_array_free(log_lines, TRUE);
    return 0;
}

/* ---- a gateway ---- */

void fixture_init(struct gw_fixture *f, uint16_t registrar_port, unsigned rate)
{
    memset(f, 0, sizeof(*f));
    f->port = wire_free_port();
    snprintf(f->listen_buf, sizeof(f->listen_buf), "udp:127.0.0.1:%u", f->port);
    f->listen[0] = f->listen_buf;
    f->sources[0] = "127.0.0.1/32";
    f->sources[1] = "127.0.0.2";
    f->trunk = (struct sip_trunk_cfg){
        .name = "t1",
        .username = "gw",
        .password = PASSWORD,
        .from_user = "+15550199",
        .allowed_sources = f->sources,
        .nallowed_sources = 2,
        .register_expires_s = 300,
    };
    if (registrar_port) {
        snprintf(f->registrar, sizeof(f->registrar), "sip:127.0.0.1:%u", registrar_port);
        f->trunk.registrar = f->registrar;
    } else {
        snprintf(f->registrar, sizeof(f->registrar), "sip:127.0.0.1:9");
        f->trunk.proxy = f->registrar;
    }
    f->routes[0] = (struct sip_route_in){.number = "+15550100", .room = "!room:test"};
    f->users[0] = "@*:test";
    f->numbers[0] = "+1555*";
    f->cfg = (struct sip_cfg){
        .listen = f->listen,
        .nlisten = 1,
        .trunks = &f->trunk,
        .ntrunks = 1,
        .routes_in = f->routes,
        .nroutes_in = 1,
        .outbound_allowed_users = f->users,
        .noutbound_allowed_users = 1,
        .outbound_allowed_numbers = f->numbers,
        .noutbound_allowed_numbers = 1,
        .invite_rate_per_source = rate,
        .session_expires_s = 1800,
        .ring_timeout_ms = 30000,
    };
    assert_int_equal(sip_gw_alloc(&f->gw, &f->cfg, NULL, NULL), 0);
    assert_int_equal(sip_gw_start(f->gw), 0);
}

void on_stopped(void *arg)
{
    struct gw_fixture *f = arg;
    f->stopped = true;
}

void fixture_stop(struct gw_fixture *f)
{
    sip_gw_shutdown(f->gw, on_stopped, f);
    assert_true(wire_run_until(&f->stopped, 15000));
    f->gw = mem_deref(f->gw);
}

bool status_has(struct gw_fixture *f, const char *needle)
{
    char *s = sip_gw_status(f->gw);
    bool yes = strstr(s, needle) != NULL;
    if (!yes)
        print_message("status: %s\n(expected: %s)\n", s, needle);
    g_free(s);
    return yes;
}

void respond(struct wire *w, uint16_t to_port, const char *req, const char *status,
             const char *extra)
{
    char *via = wire_header(req, "Via"), *from = wire_header(req, "From");
    char *to = wire_header(req, "To"), *cid = wire_header(req, "Call-ID");
    char *cseq = wire_header(req, "CSeq");
    char *msg = g_strdup_printf("SIP/2.0 %s\nVia: %s\nFrom: %s\nTo: %s%s\nCall-ID: %s\n"
                                "CSeq: %s\n%sContent-Length: 0\n\n",
                                status, via, from, to, strstr(to, "tag=") ? "" : ";tag=reg1", cid,
                                cseq, extra ? extra : "");
    wire_send(w, to_port, msg);
    g_free(msg);
    g_free(via);
    g_free(from);
    g_free(to);
    g_free(cid);
    g_free(cseq);
}
