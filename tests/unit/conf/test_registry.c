#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/mem.h"
#include "conf/registry.h"
#include "fake_port.h"

static void same_name_same_room_and_empty_rooms_close(void **state)
{
    struct conf_mixer *m;
    struct conf_registry *r;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_registry_alloc(&r, m), 0);
    assert_null(conf_registry_find(r, "!a:hs"));

    double probes[] = {440, 660};
    struct fport *p1 = fport_new(440, probes, 2, 0), *p2 = fport_new(660, probes, 2, 1),
                 *p3 = fport_new(440, probes, 2, 0);
    struct conf_port c1 = port_of(p1), c2 = port_of(p2), c3 = port_of(p3);
    struct conf_member *m1, *m2, *m3;
    assert_int_equal(conf_registry_join(r, "!a:hs", &c1, "@alice:hs", &m1), 0);
    assert_int_equal(conf_registry_join(r, "!a:hs", &c2, "+15550100", &m2), 0);
    assert_int_equal(conf_registry_join(r, "!b:hs", &c3, "@bob:hs", &m3), 0);
    assert_int_equal(conf_registry_count(r), 2);
    struct conf_room *a = conf_registry_find(r, "!a:hs");
    assert_non_null(a);
    assert_ptr_equal(conf_member_room(m1), a);
    assert_ptr_equal(conf_member_room(m2), a);
    assert_int_equal(conf_room_count(a), 2);
    assert_ptr_not_equal(conf_member_room(m3), a);

    /* The shared room ticks for both of its members. */
    assert_true(wait_writes(p1, 50));
    assert_true(wait_writes(p2, 50));

    conf_registry_leave(r, m1);
    assert_int_equal(conf_registry_count(r), 2); /* "+15550100" is still in "!a:hs" */
    conf_registry_leave(r, m2);
    assert_null(conf_registry_find(r, "!a:hs"));
    assert_int_equal(conf_registry_count(r), 1);
    conf_registry_leave(r, m3);
    assert_int_equal(conf_registry_count(r), 0);

    fport_free(p1);
    fport_free(p2);
    fport_free(p3);
    mem_deref(r);
    mem_deref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_name_same_room_and_empty_rooms_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
