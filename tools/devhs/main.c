/*
 * devhs: command line, listening socket, lifecycle.
 *
 * The listening socket is bound here rather than by libmicrohttpd so that port 0 works (the
 * kernel picks a free port and we print the one it picked: tests start many homeservers in
 * parallel and read the URL from our first stdout line), and so IPv6 literals need no special
 * daemon flags. Signals are blocked in every thread and taken synchronously by the main thread
 * with sigtimedwait(), which doubles as the once-a-second housekeeping tick; a signal handler
 * would have to do the state save from async-signal context, which it cannot.
 */
#include "tools/devhs/hs.h"
#include "tools/devhs/server.h"

#include "base/log.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: devhs [--listen HOST:PORT] [--server-name NAME] [--state-file PATH]\n"
               "             [--turn-uri URI ...] [--turn-secret SECRET] [--turn-ttl SECONDS]\n"
               "             [--log-level error|warn|info|debug]\n"
               "A development Matrix homeserver for tests (not for production use).\n"
               "Port 0 picks a free port; the first stdout line names the URL once ready.\n");
}

/* "127.0.0.1:8008", "[::1]:0", "localhost:8008" -> host and port strings (g_free). */
static int split_listen(const char *s, char **host, char **port)
{
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return EINVAL;
        *host = g_strndup(s + 1, (gsize)(end - s - 1));
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return EINVAL;
        *host = g_strndup(s, (gsize)(colon - s));
    }
    *port = g_strdup(colon + 1);
    if (!**host || !**port) {
        g_free(*host);
        g_free(*port);
        return EINVAL;
    }
    return 0;
}

/* Binds and listens; returns the socket and the base URL naming the port actually bound. */
static int open_listener(const char *listen_spec, char **base_url)
{
    char *host = NULL, *port = NULL;
    if (split_listen(listen_spec, &host, &port)) {
        log_error("--listen %s: expected HOST:PORT", listen_spec);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai) {
        log_error("--listen %s: %s", listen_spec, gai_strerror(gai));
        g_free(host);
        g_free(port);
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 256) == 0)
            break;
        log_error("--listen %s: %s", listen_spec, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    g_free(port);
    if (fd < 0) {
        g_free(host);
        return -1;
    }

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char addr[NI_MAXHOST], serv[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) ||
        getnameinfo((struct sockaddr *)&ss, sl, addr, sizeof(addr), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV)) {
        log_error("--listen %s: cannot read the bound address", listen_spec);
        close(fd);
        g_free(host);
        return -1;
    }
    *base_url =
        g_strdup_printf(ss.ss_family == AF_INET6 ? "http://[%s]:%s" : "http://%s:%s", addr, serv);
    g_free(host);
    return fd;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"server-name", required_argument, NULL, 'n'},
        {"state-file", required_argument, NULL, 's'},
        {"turn-uri", required_argument, NULL, 'u'},
        {"turn-secret", required_argument, NULL, 'S'},
        {"turn-ttl", required_argument, NULL, 't'},
        {"log-level", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen_spec = "127.0.0.1:8008";
    struct hs_config cfg = {.server_name = "localhost", .turn_ttl = 86400};
    GPtrArray *turn_uris = g_ptr_array_new();
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen_spec = optarg;
            break;
        case 'n':
            cfg.server_name = optarg;
            break;
        case 's':
            cfg.state_file = optarg;
            break;
        case 'u':
            g_ptr_array_add(turn_uris, optarg);
            break;
        case 'S':
            cfg.turn_secret = optarg;
            break;
        case 't': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v == 0 || v > 7u * 86400) {
                fprintf(stderr, "devhs: --turn-ttl wants 1..604800 seconds\n");
                return 2;
            }
            cfg.turn_ttl = (unsigned)v;
            break;
        }
        case 'v': {
            enum log_level lvl;
            if (log_level_parse(optarg, &lvl)) {
                fprintf(stderr, "devhs: unknown log level %s\n", optarg);
                return 2;
            }
            log_set_level(lvl);
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !*cfg.server_name || strchr(cfg.server_name, '/')) {
        usage(stderr);
        return 2;
    }
    if (turn_uris->len && !cfg.turn_secret)
        log_warn("--turn-uri without --turn-secret: /voip/turnServer will answer {}");
    g_ptr_array_add(turn_uris, NULL);
    cfg.turn_uris = (char **)turn_uris->pdata;

    /* Before any thread exists, so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct hs *hs = hs_new(&cfg);
    if (cfg.state_file && hs_state_load(hs, cfg.state_file)) {
        hs_free(hs);
        return 1;
    }

    char *base_url = NULL;
    int fd = open_listener(listen_spec, &base_url);
    if (fd < 0) {
        hs_free(hs);
        return 1;
    }
    hs->base_url = base_url;

    struct hs_server *srv = NULL;
    if (hs_server_start(&srv, hs, fd)) {
        close(fd);
        hs_free(hs);
        return 1;
    }
    printf("devhs listening on %s\n", base_url);
    fflush(stdout);
    log_info("devhs listening on %s (server name %s%s%s)", base_url, cfg.server_name,
             cfg.state_file ? ", state file " : "", cfg.state_file ? cfg.state_file : "");

    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("signal %d: shutting down", sig);
            break;
        }
        hs_housekeeping(hs);
    }

    hs_server_stop(srv, hs);
    int rc = 0;
    if (cfg.state_file) {
        g_mutex_lock(&hs->lock);
        rc = hs_state_save(hs, cfg.state_file) ? 1 : 0;
        g_mutex_unlock(&hs->lock);
    }
    hs_free(hs);
    g_ptr_array_free(turn_uris, TRUE);
    return rc;
}
