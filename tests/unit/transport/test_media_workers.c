#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>

#include <glib.h>

#include "base/mem.h"
#include "media/worker.h"

struct probe {
    GMutex lock;
    GCond cond;
    bool ran;
    GThread *thread;
    GMainContext *thread_default;
};

static gboolean probe_run(gpointer data)
{
    struct probe *p = data;
    g_mutex_lock(&p->lock);
    p->ran = true;
    p->thread = g_thread_self();
    p->thread_default = g_main_context_get_thread_default();
    g_cond_signal(&p->cond);
    g_mutex_unlock(&p->lock);
    return G_SOURCE_REMOVE;
}

/* Runs probe_run on ctx and waits (bounded) for it. */
static bool run_on(GMainContext *ctx, struct probe *p)
{
    g_mutex_init(&p->lock);
    g_cond_init(&p->cond);
    p->ran = false;
    g_main_context_invoke(ctx, probe_run, p);
    gint64 end = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    g_mutex_lock(&p->lock);
    while (!p->ran) {
        if (!g_cond_wait_until(&p->cond, &p->lock, end))
            break;
    }
    bool ran = p->ran;
    g_mutex_unlock(&p->lock);
    g_cond_clear(&p->cond);
    g_mutex_clear(&p->lock);
    return ran;
}

static void round_robin_over_own_threads(void **state)
{
    struct media_workers *w = NULL;
    assert_int_equal(media_workers_alloc(&w, 2), 0);
    assert_int_equal(media_workers_count(w), 2);

    GMainContext *a = media_workers_pick(w);
    GMainContext *b = media_workers_pick(w);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_ptr_equal(media_workers_pick(w), a);
    assert_ptr_equal(media_workers_pick(w), b);

    struct probe pa, pb;
    assert_true(run_on(a, &pa));
    assert_true(run_on(b, &pb));
    assert_ptr_not_equal(pa.thread, g_thread_self());
    assert_ptr_not_equal(pb.thread, g_thread_self());
    assert_ptr_not_equal(pa.thread, pb.thread);
    /* Each worker's context is its thread-default, so sources made there land on it. */
    assert_ptr_equal(pa.thread_default, a);
    assert_ptr_equal(pb.thread_default, b);

    /* Freeing quits and joins: afterwards no worker is left dispatching. */
    g_main_context_ref(a);
    mem_deref(w);
    assert_true(g_main_context_acquire(a));
    g_main_context_release(a);
    g_main_context_unref(a);
}

static void default_count_and_errors(void **state)
{
    struct media_workers *w = NULL;
    assert_int_equal(media_workers_alloc(&w, 0), 0);
    assert_int_equal(media_workers_count(w), g_get_num_processors());
    mem_deref(w);

    assert_int_equal(media_workers_alloc(NULL, 1), EINVAL);
    assert_null(media_workers_pick(NULL));
    assert_int_equal(media_workers_count(NULL), 0);
}

static void free_right_after_alloc(void **state)
{
    /* A quit posted before a thread reached its loop must not be lost (the join would hang). */
    for (int i = 0; i < 20; i++) {
        struct media_workers *w = NULL;
        assert_int_equal(media_workers_alloc(&w, 2), 0);
        mem_deref(w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_robin_over_own_threads),
        cmocka_unit_test(default_count_and_errors),
        cmocka_unit_test(free_right_after_alloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
