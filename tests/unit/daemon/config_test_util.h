/*
 * Shared helpers for the config tests: a scratch folder per test, files written into it, and
 * assertions over the collected problems that print the whole list when one is missing.
 */
#ifndef SB_TESTS_CONFIG_TEST_UTIL_H
#define SB_TESTS_CONFIG_TEST_UTIL_H

#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"
#include "daemon/config.h"

/* The scratch folder of the running test (absolute). */
static char tdir[256];

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700); /* unreadable-file tests leave 000 behind */
    return remove(path);
}

static inline int scratch_setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tdir, sizeof(tdir), "%s/sbconfig.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tdir))
        return -1;
    /* The config module reports real paths; a symlinked TMPDIR must not fail comparisons. */
    char *real = realpath(tdir, NULL);
    if (!real)
        return -1;
    snprintf(tdir, sizeof(tdir), "%s", real);
    free(real);
    return 0;
}

static inline int scratch_teardown(void **state)
{
    (void)state;
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Writes len bytes of data to tdir/name; returns the absolute path (static buffer per call
 * site is not enough with several files, so the caller passes one). */
static inline const char *write_file_n(char *path, size_t cap, const char *name, const void *data,
                                       size_t len)
{
    snprintf(path, cap, "%s/%s", tdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static inline const char *write_file(char *path, size_t cap, const char *name, const char *text)
{
    return write_file_n(path, cap, name, text, strlen(text));
}

/* Writes text as tdir/sb.yaml and loads it. */
static inline int load_text(const char *text, struct config **cfg, struct config_diag *diag)
{
    char path[512];
    write_file(path, sizeof(path), "sb.yaml", text);
    return config_load(cfg, path, diag);
}

static inline void dump_diag(const struct config_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        print_message("  problem: %u: %s\n", d->v[i].line, d->v[i].msg);
}

/* Asserts that exactly this (line, message) pair was reported. */
static inline void expect_problem(const struct config_diag *d, unsigned line, const char *msg)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->v[i].line == line && strcmp(d->v[i].msg, msg) == 0)
            return;
    }
    print_message("expected %u: %s\n", line, msg);
    dump_diag(d);
    fail();
}

static inline void expect_count(const struct config_diag *d, size_t n)
{
    if (d->n != n) {
        print_message("expected %zu problems, got %zu\n", n, d->n);
        dump_diag(d);
    }
    assert_int_equal(d->n, n);
}

/* Loads text expecting failure with exactly one problem: (line, msg). */
static inline void expect_only(const char *text, unsigned line, const char *msg)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};
    int err = load_text(text, &cfg, &d);
    if (err != EBADMSG)
        dump_diag(&d);
    assert_int_equal(err, EBADMSG);
    assert_null(cfg);
    expect_problem(&d, line, msg);
    expect_count(&d, 1);
    config_diag_reset(&d);
}

/* A valid config; tests append to or splice into it. Lines are numbered for reference. */
#define BASE_MATRIX                                                                                \
    "matrix:\n"                                 /* 1 */                                            \
    "  homeserver: http://127.0.0.1:8008\n"     /* 2 */                                            \
    "  user_id: \"@switchboard:example.org\"\n" /* 3 */                                            \
    "  access_token: syt_secret_token_value\n"  /* 4 */                                            \
    "  allowed_users: [\"@*:example.org\"]\n"   /* 5 */
#define BASE_REST                                                                                  \
    "state_dir: ./state\n" /* 6 */                                                                 \
    "media:\n"             /* 7 */                                                                 \
    "  ip: 127.0.0.1\n"    /* 8 */
#define BASE BASE_MATRIX BASE_REST

#endif
