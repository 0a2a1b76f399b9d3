#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/mem.h"

static int destroyed;

static void counter_destroy(void *data)
{
    (void)data;
    destroyed++;
}

static void destructor_runs_once_on_last_deref(void **state)
{
    destroyed = 0;
    int *p = mem_zalloc(sizeof(*p), counter_destroy);
    assert_non_null(p);
    assert_int_equal(*p, 0);
    assert_int_equal(mem_nrefs(p), 1);
    assert_ptr_equal(mem_ref(p), p);
    assert_int_equal(mem_nrefs(p), 2);
    assert_null(mem_deref(p));
    assert_int_equal(destroyed, 0);
    assert_null(mem_deref(p));
    assert_int_equal(destroyed, 1);
}

static void null_is_accepted(void **state)
{
    assert_null(mem_ref(NULL));
    assert_null(mem_deref(NULL));
    assert_int_equal(mem_nrefs(NULL), 0);
    assert_null(mem_strdup(NULL));
}

static void strdup_copies(void **state)
{
    char *s = mem_strdup("hello");
    assert_string_equal(s, "hello");
    mem_deref(s);
}

static void huge_size_fails_cleanly(void **state)
{
    assert_null(mem_alloc(SIZE_MAX, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(destructor_runs_once_on_last_deref),
        cmocka_unit_test(null_is_accepted),
        cmocka_unit_test(strdup_copies),
        cmocka_unit_test(huge_size_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
