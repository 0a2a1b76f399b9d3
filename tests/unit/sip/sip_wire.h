/*
 * Raw SIP over UDP for the gateway tests: a socket on a loopback address of the test's choice
 * (127.0.0.1, .2, ... stand for different sources), messages written by hand, and a receive
 * that keeps the GLib default context (where the gateway's sofia stack runs) turning while it
 * waits, bounded by a timeout. Enough SIP parsing to pick headers out of what comes back.
 */
#ifndef SB_TESTS_SIP_WIRE_H
#define SB_TESTS_SIP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wire {
    int fd;
    char ip[32];
    uint16_t port;
};

/* Binds a UDP socket on ip, port chosen by the system. */
void wire_open(struct wire *w, const char *ip);
void wire_close(struct wire *w);

/* Sends text (LF line ends are turned into CRLF) to 127.0.0.1:port. */
void wire_send(struct wire *w, uint16_t port, const char *text);

/* The next message whose first line starts with prefix (others are skipped), or NULL after
 * timeout_ms; g_free. Runs the default main context meanwhile. */
char *wire_recv(struct wire *w, const char *prefix, int timeout_ms);

/* Whether nothing matching prefix arrives within ms (the main loop runs meanwhile). */
bool wire_quiet(struct wire *w, const char *prefix, int ms);

/* The value of header name (case-insensitive, first one) in msg, or NULL; g_free. */
char *wire_header(const char *msg, const char *name);

/* The body after the blank line, or NULL. */
const char *wire_body(const char *msg);

/* Runs the default main context until *flag is true or timeout_ms passes; returns *flag. */
bool wire_run_until(const bool *flag, int timeout_ms);

/* A UDP port free on 127.0.0.1 right now. */
uint16_t wire_free_port(void);

#endif
