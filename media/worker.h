/*
 * Media worker threads: each runs a GLib main loop on its own GMainContext, where the ICE agents
 * (and so the sockets and receive callbacks) of the legs assigned to it live. Legs are spread
 * over the workers; a worker never blocks.
 */
#ifndef SB_MEDIA_WORKER_H
#define SB_MEDIA_WORKER_H

#include <glib.h>

struct media_workers;

/* Starts n worker threads (n = 0: one per online CPU). */
int media_workers_alloc(struct media_workers **wp, unsigned n);

/* The context of the next worker, round robin. The pool keeps it alive until freed. */
GMainContext *media_workers_pick(struct media_workers *w);

unsigned media_workers_count(const struct media_workers *w);

/* Runs fn(arg) on ctx's thread and returns once it has run: directly when the caller owns ctx
 * or can acquire it (no thread runs its loop), else from a high-priority idle source attached
 * to it, waiting for that. The caller must not hold anything the worker might wait for. */
void media_worker_run_sync(GMainContext *ctx, void (*fn)(void *arg), void *arg);

/* mem_deref() of the pool stops and joins its threads (so never from one of them). Every
 * transport on them must be gone. */

#endif
