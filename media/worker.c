/*
 * A fixed pool of media worker threads. Each owns a GMainContext, pushed as its thread-default,
 * and runs a GMainLoop on it until the pool is freed. Work reaches a worker only as sources
 * attached to its context (libnice sockets and timers, g_main_context_invoke), so the pool itself
 * needs no locking beyond the round-robin counter.
 *
 * Stopping posts a quit to each loop through its own context rather than calling
 * g_main_loop_quit() directly: a quit that arrived before the thread entered g_main_loop_run()
 * would otherwise be lost and the join would hang.
 */
#include "media/worker.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/log.h"
#include "base/mem.h"

struct media_worker {
    GThread *thread;
    GMainContext *ctx;
    GMainLoop *loop;
};

struct media_workers {
    unsigned n;
    atomic_uint next;
    struct media_worker *w; /* n entries */
};

struct sync_call {
    void (*fn)(void *arg);
    void *arg;
    GMutex lock;
    GCond cond;
    bool done;
};

static gboolean run_on_worker(gpointer data)
{
    struct sync_call *sc = data;
    sc->fn(sc->arg);
    g_mutex_lock(&sc->lock);
    sc->done = true;
    g_cond_signal(&sc->cond);
    g_mutex_unlock(&sc->lock);
    return G_SOURCE_REMOVE;
}

void media_worker_run_sync(GMainContext *ctx, void (*fn)(void *arg), void *arg)
{
    if (g_main_context_is_owner(ctx)) {
        fn(arg);
        return;
    }
    if (g_main_context_acquire(ctx)) {
        fn(arg); /* no thread runs the loop: nothing runs concurrently */
        g_main_context_release(ctx);
        return;
    }
    struct sync_call sc = {.fn = fn, .arg = arg};
    g_mutex_init(&sc.lock);
    g_cond_init(&sc.cond);
    GSource *src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_HIGH);
    g_source_set_callback(src, run_on_worker, &sc, NULL);
    g_source_attach(src, ctx);
    g_source_unref(src);
    g_mutex_lock(&sc.lock);
    while (!sc.done)
        g_cond_wait(&sc.cond, &sc.lock);
    g_mutex_unlock(&sc.lock);
    g_cond_clear(&sc.cond);
    g_mutex_clear(&sc.lock);
}

static gpointer worker_main(gpointer data)
{
    struct media_worker *w = data;

    g_main_context_push_thread_default(w->ctx);
    g_main_loop_run(w->loop);
    g_main_context_pop_thread_default(w->ctx);
    return NULL;
}

static gboolean quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

static void workers_destroy(void *data)
{
    struct media_workers *p = data;

    for (unsigned i = 0; i < p->n; i++) {
        struct media_worker *w = &p->w[i];
        if (w->thread) {
            g_main_context_invoke(w->ctx, quit_loop, w->loop);
            g_thread_join(w->thread);
        }
        if (w->loop)
            g_main_loop_unref(w->loop);
        if (w->ctx)
            g_main_context_unref(w->ctx);
    }
    g_free(p->w);
}

int media_workers_alloc(struct media_workers **wp, unsigned n)
{
    if (!wp)
        return EINVAL;
    if (n == 0)
        n = g_get_num_processors();
    if (n == 0 || n > 256)
        return EINVAL;

    struct media_workers *p = mem_zalloc(sizeof(*p), workers_destroy);
    if (!p)
        return ENOMEM;
    p->w = g_new0(struct media_worker, n);
    p->n = n;
    atomic_init(&p->next, 0);

    for (unsigned i = 0; i < n; i++) {
        struct media_worker *w = &p->w[i];
        char name[16];

        w->ctx = g_main_context_new();
        w->loop = g_main_loop_new(w->ctx, FALSE);
        snprintf(name, sizeof(name), "media-%u", i);
        GError *err = NULL;
        w->thread = g_thread_try_new(name, worker_main, w, &err);
        if (!w->thread) {
            log_error("media worker %u: cannot start thread: %s", i, err ? err->message : "?");
            g_clear_error(&err);
            mem_deref(p);
            return EAGAIN;
        }
    }
    *wp = p;
    return 0;
}

GMainContext *media_workers_pick(struct media_workers *w)
{
    if (!w || !w->n)
        return NULL;
    unsigned i = atomic_fetch_add_explicit(&w->next, 1, memory_order_relaxed);
    return w->w[i % w->n].ctx;
}

unsigned media_workers_count(const struct media_workers *w)
{
    return w ? w->n : 0;
}
