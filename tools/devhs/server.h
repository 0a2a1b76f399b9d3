/*
 * devhs: the HTTP server around the model (libmicrohttpd, one thread per connection so a
 * handler may block in a /sync long-poll without holding up anybody else).
 */
#ifndef DEVHS_SERVER_H
#define DEVHS_SERVER_H

struct hs;
struct hs_server;

/* Serves HTTP on the listening socket fd (taken over). 0, or an errno value. */
int hs_server_start(struct hs_server **sp, struct hs *hs, int fd);
/* Stops accepting, releases every waiting /sync and joins the connection threads. */
void hs_server_stop(struct hs_server *s, struct hs *hs);

#endif
