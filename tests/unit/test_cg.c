/*
 * test_cg.c - unit tests for consumer groups and consumers (consumers/cg.h).
 *
 * One behaviour per case: groups kept in name order with binary names,
 * BUSYGROUP-style -EEXIST, consumers created, found and deleted with their
 * pending entries, the read counter across deliveries, deletions and
 * trims, the lag (the cases where Redis 7.4 gives a number and those where
 * it gives a null), the entries-read estimate at every edge, deep copies
 * (and their ENOMEM rollback through a fail-after-N allocator) and memory
 * accounting. The PEL itself is fuzzed in test_pel.c. Allocations of the
 * engine, its trees and the stream are counted and every teardown asserts
 * none is left.
 */
#include "consumers/cg.h"

#include "consumers/pel.h"
#include "streams/rax.h"
#include "streams/stream.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/support/testalloc.h"

static int
test_setup(void **state)
{
    (void)state;
    test_alloc_budget = -1;
    test_alloc_live = 0;
    cg_set_allocator(testalloc_malloc, testalloc_free);
    rax_set_allocator(testalloc_malloc, testalloc_realloc, testalloc_free);
    stream_set_allocator(testalloc_malloc, testalloc_realloc, testalloc_free);
    return 0;
}

static int
test_teardown(void **state)
{
    (void)state;
    cg_set_allocator(NULL, NULL);
    rax_set_allocator(NULL, NULL, NULL);
    stream_set_allocator(NULL, NULL, NULL);
    assert_int_equal(test_alloc_live, 0);
    return 0;
}

/* ---- Helpers ---- */

static const stream_id test_zero = {0, 0};

static stream_id
test_id(uint64_t ms, uint64_t seq)
{
    stream_id id = {ms, seq};

    return id;
}

static void
test_assert_id(stream_id got, stream_id want)
{
    if (got.ms != want.ms || got.seq != want.seq)
        fail_msg("id %llu-%llu, expected %llu-%llu", (unsigned long long)got.ms,
                 (unsigned long long)got.seq, (unsigned long long)want.ms,
                 (unsigned long long)want.seq);
}

/* Appends "f v" with ID ms-0. */
static void
test_add(stream *s, uint64_t ms)
{
    stream_field fv[2] = {{"f", 1}, {"v", 1}};
    stream_id id = {ms, 0};

    assert_int_equal(stream_append(s, STREAM_ID_EXPLICIT, &id, fv, 1, 0, 0, 4, NULL), 0);
}

/* A stream with entries 1-0 .. n-0. */
static stream *
test_stream(uint64_t n)
{
    stream *s = stream_new();

    assert_non_null(s);
    for (uint64_t ms = 1; ms <= n; ms++)
        test_add(s, ms);
    return s;
}

/* Delivers up to count entries after g's last ID to c (XREADGROUP ">"). */
static void
test_read(stream *s, cg_group *g, cg_consumer *c, uint64_t count)
{
    stream_id start = cg_group_last_id(g), id;
    stream_iter it;
    size_t np;
    uint64_t n = 0;

    stream_id_incr(&start);
    stream_iter_start(&it, s, &start, NULL, 0);
    while (n < count && stream_iter_next(&it, &id, &np)) {
        assert_int_equal(cg_deliver(s, g, c, &id, 0, 10), 0);
        n++;
    }
    stream_iter_stop(&it);
}

/* Asserts the lag of g: want >= 0, or -100 for "unknown" (null). */
static void
test_assert_lag(const stream *s, const cg_group *g, int64_t want)
{
    int64_t lag = 12345;
    int valid = cg_group_lag(s, g, &lag);

    if (want == -100) {
        assert_int_equal(valid, 0);
        assert_int_equal(lag, 12345); /* untouched */
    } else {
        assert_int_equal(valid, 1);
        assert_int_equal(lag, want);
    }
}

/* ---- Groups ---- */

static void
test_cg_groups_sorted_by_name(void **state)
{
    cg_set *set = cg_set_new();
    const char *names[] = {"beta", "alpha", "", "alpha2", "Zed", "bin\0x", "bin"};
    const size_t lens[] = {4, 5, 0, 6, 3, 5, 3};
    const int order[] = {2, 4, 1, 3, 0, 6, 5}; /* byte order, shorter first */
    cg_group *g;
    cg_iter it;
    size_t i = 0;

    (void)state;
    assert_non_null(set);
    for (size_t k = 0; k < 7; k++)
        assert_int_equal(cg_group_add(set, names[k], lens[k], &test_zero, 0, NULL), 0);
    assert_int_equal(cg_set_count(set), 7);
    cg_iter_groups(&it, set);
    while (cg_iter_next_group(&it, &g)) {
        size_t len;
        const char *name = cg_group_name(g, &len);

        assert_true(i < 7);
        assert_int_equal(len, lens[order[i]]);
        assert_memory_equal(name, names[order[i]], len);
        i++;
    }
    cg_iter_stop(&it);
    assert_int_equal(i, 7);
    assert_int_equal(cg_check(set), 0);
    cg_set_free(set);
}

static void
test_cg_group_add_busy_and_del(void **state)
{
    cg_set *set = cg_set_new();
    stream_id id = {7, 1};
    cg_group *g = NULL, *again = NULL;

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &id, 3, &g), 0);
    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &again), -EEXIST);
    assert_null(again);
    assert_ptr_equal(cg_group_find(set, "g", 1), g);
    assert_null(cg_group_find(set, "G", 1));
    test_assert_id(cg_group_last_id(g), id);
    assert_int_equal(cg_group_entries_read(g), 3);
    assert_int_equal(cg_group_del(set, "nope", 4), 0);
    assert_int_equal(cg_group_del(set, "g", 1), 1);
    assert_null(cg_group_find(set, "g", 1));
    assert_int_equal(cg_set_count(set), 0);
    cg_set_free(set);
}

static void
test_cg_group_del_frees_pending(void **state)
{
    cg_set *set = cg_set_new();
    stream *s = test_stream(5);
    cg_group *g;
    cg_consumer *a, *b;

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &g), 0);
    assert_int_equal(cg_consumer_add(g, "a", 1, 5, &a), 0);
    assert_int_equal(cg_consumer_add(g, "b", 1, 5, &b), 0);
    test_read(s, g, a, 2);
    test_read(s, g, b, 3);
    assert_int_equal(cg_group_pending_count(g), 5);
    assert_int_equal(cg_check(set), 0);
    assert_int_equal(cg_group_del(set, "g", 1), 1);
    cg_set_free(set);
    stream_free(s);
}

static void
test_cg_set_id_and_raise(void **state)
{
    cg_set *set = cg_set_new();
    cg_group *g;
    stream_id five = {5, 0}, three = {3, 0};

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &g), 0);
    cg_group_set_id(g, &five, CG_ENTRIES_READ_INVALID);
    assert_int_equal(cg_group_entries_read(g), CG_ENTRIES_READ_INVALID);
    assert_int_equal(cg_group_raise_id(g, &three), 0);
    test_assert_id(cg_group_last_id(g), five);
    assert_int_equal(cg_group_raise_id(g, &(stream_id){9, 9}), 1);
    test_assert_id(cg_group_last_id(g), test_id(9, 9));
    assert_int_equal(cg_group_entries_read(g), CG_ENTRIES_READ_INVALID);
    cg_set_free(set);
}

/* ---- Consumers ---- */

static void
test_cg_consumer_add_find_del(void **state)
{
    cg_set *set = cg_set_new();
    stream *s = test_stream(4);
    cg_group *g;
    cg_consumer *a, *b, *again = NULL;
    cg_iter it;
    cg_consumer *c;
    int n = 0;

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &g), 0);
    assert_int_equal(cg_consumer_add(g, "bob", 3, 40, &b), 0);
    assert_int_equal(cg_consumer_add(g, "alice", 5, 50, &a), 0);
    assert_int_equal(cg_consumer_add(g, "alice", 5, 60, &again), -EEXIST);
    assert_ptr_equal(again, a);
    assert_int_equal(cg_consumer_seen_ms(a), 50);
    assert_int_equal(cg_consumer_active_ms(a), CG_NEVER_ACTIVE);
    assert_ptr_equal(cg_consumer_find(g, "bob", 3), b);
    assert_null(cg_consumer_find(g, "bo", 2));
    cg_iter_consumers(&it, g);
    while (cg_iter_next_consumer(&it, &c)) {
        size_t len;
        const char *name = cg_consumer_name(c, &len);

        assert_memory_equal(name, n == 0 ? "alice" : "bob", len);
        n++;
    }
    cg_iter_stop(&it);
    assert_int_equal(n, 2);
    test_read(s, g, a, 3);
    test_read(s, g, b, 1);
    assert_int_equal(cg_consumer_active_ms(a), 10);
    cg_consumer_touch(a, 99);
    assert_int_equal(cg_consumer_seen_ms(a), 99);
    /* Deleting alice drops her three pending entries from the group. */
    assert_int_equal(cg_consumer_del(g, a), 3);
    assert_int_equal(cg_group_pending_count(g), 1);
    assert_int_equal(cg_group_consumer_count(g), 1);
    assert_null(pel_find(g, &(stream_id){1, 0}));
    assert_non_null(pel_find(g, &(stream_id){4, 0}));
    assert_int_equal(cg_check(set), 0);
    cg_set_free(set);
    stream_free(s);
}

/* ---- Read counter and lag ---- */

static void
test_cg_lag_counts_undelivered(void **state)
{
    cg_set *set = cg_set_new();
    stream *s = stream_new();
    cg_group *g;
    cg_consumer *c;

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &g), 0);
    assert_int_equal(cg_consumer_add(g, "c", 1, 0, &c), 0);
    test_assert_lag(s, g, 0); /* nothing ever added */
    for (uint64_t ms = 1; ms <= 5; ms++)
        test_add(s, ms);
    test_assert_lag(s, g, 5);
    test_read(s, g, c, 2);
    assert_int_equal(cg_group_entries_read(g), 2);
    test_assert_lag(s, g, 3);
    test_read(s, g, c, 10);
    assert_int_equal(cg_group_entries_read(g), 5);
    test_assert_lag(s, g, 0);
    cg_set_free(set);
    stream_free(s);
}

static void
test_cg_lag_null_after_deletion_ahead(void **state)
{
    cg_set *set = cg_set_new();
    stream *s = test_stream(5);
    cg_group *g;
    cg_consumer *c;

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &g), 0);
    assert_int_equal(cg_consumer_add(g, "c", 1, 0, &c), 0);
    test_read(s, g, c, 2);
    /* A deletion after the group's position: how many of the 3 left are
     * still there cannot be told from the counters alone. */
    assert_int_equal(stream_delete(s, &(stream_id){4, 0}), 1);
    test_assert_lag(s, g, -100);
    /* Reading past the deleted entry makes it known again. */
    test_read(s, g, c, 1);
    test_assert_lag(s, g, -100);
    assert_int_equal(cg_group_entries_read(g), CG_ENTRIES_READ_INVALID);
    test_read(s, g, c, 1);
    test_assert_id(cg_group_last_id(g), test_id(5, 0));
    assert_int_equal(cg_group_entries_read(g), 5);
    test_assert_lag(s, g, 0);
    cg_set_free(set);
    stream_free(s);
}

static void
test_cg_lag_deletion_behind_is_harmless(void **state)
{
    cg_set *set = cg_set_new();
    stream *s = test_stream(5);
    cg_group *g;
    cg_consumer *c;

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &g), 0);
    assert_int_equal(cg_consumer_add(g, "c", 1, 0, &c), 0);
    test_read(s, g, c, 3);
    assert_int_equal(stream_delete(s, &(stream_id){2, 0}), 1);
    test_assert_lag(s, g, 2);
    cg_set_free(set);
    stream_free(s);
}

static void
test_cg_lag_empty_and_behind_first(void **state)
{
    cg_set *set = cg_set_new();
    stream *s = test_stream(4);
    cg_group *g, *h;
    stream_id ten = {10, 0};

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &g), 0);
    /* ENTRIESREAD larger than what was ever added: a negative lag, as
     * Redis reports it... */
    assert_int_equal(cg_group_add(set, "h", 1, &ten, 10, &h), 0);
    test_assert_lag(s, h, -6);
    /* ...unless the group is behind the first entry (Redis 7.4). */
    cg_group_set_id(g, &test_zero, 10);
    test_assert_lag(s, g, 4);
    /* An emptied stream has nothing left to read (Redis 7.4). */
    stream_trim(s, STREAM_TRIM_MAXLEN, 0, &test_zero, 0, 0);
    test_assert_lag(s, g, 0);
    test_assert_lag(s, h, 0);
    cg_set_free(set);
    stream_free(s);
}

static void
test_cg_estimate_entries_read_edges(void **state)
{
    stream *s = stream_new();
    stream_id last;

    (void)state;
    assert_int_equal(cg_estimate_entries_read(s, &(stream_id){3, 0}), 0); /* never added */
    for (uint64_t ms = 1; ms <= 6; ms++)
        test_add(s, ms);
    stream_trim(s, STREAM_TRIM_MAXLEN, 4, &test_zero, 0, 0);              /* 3-0..6-0 left */
    assert_int_equal(cg_estimate_entries_read(s, &(stream_id){6, 0}), 6); /* the last ID */
    assert_int_equal(cg_estimate_entries_read(s, &(stream_id){7, 0}), CG_ENTRIES_READ_INVALID);
    assert_int_equal(cg_estimate_entries_read(s, &(stream_id){3, 0}), 3); /* the first entry */
    assert_int_equal(cg_estimate_entries_read(s, &(stream_id){2, 5}), 2); /* before it */
    assert_int_equal(cg_estimate_entries_read(s, &test_zero), 2);
    assert_int_equal(cg_estimate_entries_read(s, &(stream_id){4, 0}), CG_ENTRIES_READ_INVALID);
    /* A deletion inside the stream makes everything before it unknown. */
    assert_int_equal(stream_delete(s, &(stream_id){5, 0}), 1);
    assert_int_equal(cg_estimate_entries_read(s, &(stream_id){2, 0}), CG_ENTRIES_READ_INVALID);
    assert_int_equal(cg_estimate_entries_read(s, &(stream_id){6, 0}), 6);
    /* An empty stream: any ID up to the last one has read everything. */
    stream_trim(s, STREAM_TRIM_MAXLEN, 0, &test_zero, 0, 0);
    last = stream_last_id(s);
    assert_int_equal(cg_estimate_entries_read(s, &last), 6);
    assert_int_equal(cg_estimate_entries_read(s, &(stream_id){1, 0}), 6);
    stream_free(s);
}

static void
test_cg_entries_read_after_trim(void **state)
{
    cg_set *set = cg_set_new();
    stream *s = test_stream(3);
    cg_group *g;
    cg_consumer *c;

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &g), 0);
    assert_int_equal(cg_consumer_add(g, "c", 1, 0, &c), 0);
    stream_trim(s, STREAM_TRIM_MAXLEN, 2, &test_zero, 0, 0);
    /* The group is behind the first entry: its counter is re-estimated
     * rather than incremented (1-0 went without being read). */
    test_read(s, g, c, 1);
    test_assert_id(cg_group_last_id(g), test_id(2, 0));
    assert_int_equal(cg_group_entries_read(g), 2);
    test_assert_lag(s, g, 1);
    cg_set_free(set);
    stream_free(s);
}

/* ---- Copies and memory ---- */

/* A set with two groups, consumers and pending entries; the stream in *out. */
static cg_set *
test_populated(stream **out)
{
    cg_set *set = cg_set_new();
    stream *s = test_stream(6);
    cg_group *g, *h;
    cg_consumer *a, *b, *c;

    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &g), 0);
    assert_int_equal(cg_group_add(set, "h", 1, &(stream_id){2, 0}, CG_ENTRIES_READ_INVALID, &h), 0);
    assert_int_equal(cg_consumer_add(g, "a", 1, 1, &a), 0);
    assert_int_equal(cg_consumer_add(g, "b", 1, 2, &b), 0);
    assert_int_equal(cg_consumer_add(h, "c", 1, 3, &c), 0);
    assert_int_equal(cg_consumer_add(h, "idle", 4, 3, NULL), 0);
    test_read(s, g, a, 2);
    test_read(s, g, b, 2);
    test_read(s, h, c, 3);
    *out = s;
    return set;
}

static void
test_cg_dup_is_deep(void **state)
{
    stream *s;
    cg_set *set = test_populated(&s), *copy = NULL;
    cg_group *g, *cg;
    cg_consumer *a;

    (void)state;
    assert_int_equal(cg_set_dup(set, &copy), 0);
    assert_int_equal(cg_check(copy), 0);
    assert_int_equal(cg_set_count(copy), 2);
    cg = cg_group_find(copy, "g", 1);
    assert_non_null(cg);
    assert_int_equal(cg_group_pending_count(cg), 4);
    assert_int_equal(cg_consumer_pending_count(cg_consumer_find(cg, "b", 1)), 2);
    assert_int_equal(cg_group_consumer_count(cg_group_find(copy, "h", 1)), 2);
    assert_ptr_equal(pel_entry_owner(pel_find(cg, &(stream_id){3, 0})),
                     cg_consumer_find(cg, "b", 1));
    /* Changing the original leaves the copy alone. */
    g = cg_group_find(set, "g", 1);
    a = cg_consumer_find(g, "a", 1);
    assert_int_equal(cg_consumer_del(g, a), 2);
    assert_int_equal(cg_group_del(set, "h", 1), 1);
    assert_int_equal(cg_group_pending_count(cg), 4);
    assert_int_equal(cg_set_count(copy), 2);
    assert_int_equal(cg_check(set), 0);
    assert_int_equal(cg_check(copy), 0);
    cg_set_free(copy);
    cg_set_free(set);
    stream_free(s);
}

static void
test_cg_dup_oom_leaves_nothing(void **state)
{
    stream *s;
    cg_set *set = test_populated(&s);
    long live = test_alloc_live;

    (void)state;
    for (long budget = 0;; budget++) {
        cg_set *copy = NULL;
        int rc;

        test_alloc_budget = budget;
        rc = cg_set_dup(set, &copy);
        test_alloc_budget = -1;
        if (rc == 0) {
            assert_int_equal(cg_check(copy), 0);
            cg_set_free(copy);
            break;
        }
        assert_int_equal(rc, -ENOMEM);
        assert_int_equal(test_alloc_live, live);
    }
    assert_int_equal(test_alloc_live, live);
    cg_set_free(set);
    stream_free(s);
}

static void
test_cg_group_add_oom_rolls_back(void **state)
{
    cg_set *set = cg_set_new();

    (void)state;
    for (long budget = 0;; budget++) {
        long live = test_alloc_live;
        int rc;

        test_alloc_budget = budget;
        rc = cg_group_add(set, "group", 5, &test_zero, 0, NULL);
        test_alloc_budget = -1;
        if (rc == 0)
            break;
        assert_int_equal(rc, -ENOMEM);
        assert_int_equal(test_alloc_live, live);
        assert_int_equal(cg_set_count(set), 0);
    }
    assert_int_equal(cg_set_count(set), 1);
    assert_int_equal(cg_check(set), 0);
    cg_set_free(set);
}

/* Snapshot load restores both times, including "never active". */
static void
test_cg_consumer_set_times_restores(void **state)
{
    cg_set *set = cg_set_new();
    cg_group *g;
    cg_consumer *c;

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &test_zero, 0, &g), 0);
    assert_int_equal(cg_consumer_add(g, "c", 1, 100, &c), 0);
    cg_consumer_set_times(c, 5000, 4000);
    assert_int_equal(cg_consumer_seen_ms(c), 5000);
    assert_int_equal(cg_consumer_active_ms(c), 4000);
    cg_consumer_set_times(c, 7, CG_NEVER_ACTIVE);
    assert_int_equal(cg_consumer_seen_ms(c), 7);
    assert_int_equal(cg_consumer_active_ms(c), CG_NEVER_ACTIVE);
    assert_int_equal(cg_check(set), 0);
    cg_set_free(set);
}

static void
test_cg_mem_grows_with_pending(void **state)
{
    stream *s;
    cg_set *set = test_populated(&s), *empty = cg_set_new();
    size_t before = cg_set_mem(set);
    cg_group *g = cg_group_find(set, "g", 1);

    (void)state;
    assert_true(cg_set_mem(empty) < before);
    for (uint64_t ms = 7; ms <= 100; ms++)
        test_add(s, ms);
    test_read(s, g, cg_consumer_find(g, "a", 1), 100);
    assert_true(cg_set_mem(set) > before + 94 * sizeof(void *));
    cg_set_free(empty);
    cg_set_free(set);
    stream_free(s);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, test_setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_cg_groups_sorted_by_name),         T(test_cg_group_add_busy_and_del),
        T(test_cg_group_del_frees_pending),       T(test_cg_set_id_and_raise),
        T(test_cg_consumer_add_find_del),         T(test_cg_lag_counts_undelivered),
        T(test_cg_lag_null_after_deletion_ahead), T(test_cg_lag_deletion_behind_is_harmless),
        T(test_cg_lag_empty_and_behind_first),    T(test_cg_estimate_entries_read_edges),
        T(test_cg_entries_read_after_trim),       T(test_cg_dup_is_deep),
        T(test_cg_dup_oom_leaves_nothing),        T(test_cg_group_add_oom_rolls_back),
        T(test_cg_mem_grows_with_pending),        T(test_cg_consumer_set_times_restores),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
