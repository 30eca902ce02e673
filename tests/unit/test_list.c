/*
 * test_list.c - unit tests for the list value type (t_list.h): the
 * quicklist of listpack nodes that Redis 7.0 uses for every list.
 *
 * The core is model-based: random pushes, pops, sets, inserts and deletes
 * at both ends and in the middle run against a plain array of strings,
 * for several node size limits (list-max-listpack-size -5..-1 and small
 * positive counts, so nodes fill, split and empty often); after every step
 * ks_list_check verifies the links and counts and the whole list is
 * compared with the model walking both ways. Other cases pin down one
 * behaviour each: node boundaries at the fill limit, big elements, dup,
 * and the ks_obj hooks. Leaks are caught by LeakSanitizer in the Asan
 * build. Seeds are printed; set RUNNEL_TEST_SEED to replay one.
 */
#include "broker/keyspace/t_list.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "broker/util/mem.h"

#define TEST_MODEL_MAX 4096 /* most elements the model holds */
#define TEST_ELEM_MAX  600  /* longest random element */

/* ---- Test support: PRNG and the model ---- */

static uint64_t test_rng_state; /* xorshift64* state, never 0 */

static uint64_t
test_rng(void)
{
    test_rng_state ^= test_rng_state >> 12;
    test_rng_state ^= test_rng_state << 25;
    test_rng_state ^= test_rng_state >> 27;
    return test_rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t
test_rng_below(size_t n)
{
    return (size_t)(test_rng() % n);
}

/* One model element: its bytes (owned) and length. */
typedef struct test_elem {
    char *p;    /* bytes, malloc'ed */
    size_t len; /* length */
} test_elem;

/* The model: elements in list order. */
typedef struct test_model {
    test_elem v[TEST_MODEL_MAX]; /* elements */
    size_t n;                    /* count */
} test_model;

static test_model test_m;

/* A random element: short text, a number, or a long run of bytes. */
static test_elem
test_make_elem(void)
{
    test_elem e;
    size_t kind = test_rng_below(10);
    e.len = kind == 0 ? test_rng_below(TEST_ELEM_MAX) : test_rng_below(12);
    e.p = malloc(e.len + 1);
    for (size_t i = 0; i < e.len; i++)
        e.p[i] = (char)('a' + test_rng_below(kind == 1 ? 2 : 26));
    e.p[e.len] = '\0';
    return e;
}

static void
test_model_insert(size_t idx, test_elem e)
{
    memmove(&test_m.v[idx + 1], &test_m.v[idx], (test_m.n - idx) * sizeof(test_elem));
    test_m.v[idx] = e;
    test_m.n++;
}

static void
test_model_delete(size_t idx, size_t n)
{
    if (idx + n > test_m.n)
        n = test_m.n - idx;
    for (size_t i = idx; i < idx + n; i++)
        free(test_m.v[i].p);
    memmove(&test_m.v[idx], &test_m.v[idx + n], (test_m.n - idx - n) * sizeof(test_elem));
    test_m.n -= n;
}

static void
test_model_clear(void)
{
    test_model_delete(0, test_m.n);
}

/* The list equals the model, walked forwards and backwards. */
static void
test_assert_same(const ks_obj *o)
{
    ks_list_pos p;
    size_t i = 0, len;
    const char *d;

    assert_int_equal(ks_list_check(o), 0);
    assert_int_equal(ks_list_len(o), test_m.n);
    if (ks_list_locate(o, 0, &p)) {
        do {
            assert_true(i < test_m.n);
            d = ks_list_pos_get(&p, &len);
            assert_int_equal(len, test_m.v[i].len);
            assert_memory_equal(d, test_m.v[i].p, len);
            i++;
        } while (ks_list_pos_next(&p));
    }
    assert_int_equal(i, test_m.n);
    if (ks_list_locate(o, -1, &p)) {
        do {
            i--;
            d = ks_list_pos_get(&p, &len);
            assert_int_equal(len, test_m.v[i].len);
            assert_memory_equal(d, test_m.v[i].p, len);
        } while (ks_list_pos_prev(&p));
    }
    assert_int_equal(i, 0);
}

static int
test_setup(void **state)
{
    static unsigned long long seed;
    static int printed;
    const char *env = getenv("RUNNEL_TEST_SEED");

    (void)state;
    if (!printed++) {
        seed = env ? strtoull(env, NULL, 0) : (unsigned long long)time(NULL);
        fprintf(stderr, "test_list: seed %llu (set RUNNEL_TEST_SEED to reproduce)\n", seed);
    }
    test_rng_state = seed ? seed : 1;
    test_m.n = 0;
    return 0;
}

static int
test_teardown(void **state)
{
    (void)state;
    test_model_clear();
    return 0;
}

/* ---- Model-based random runs ---- */

/* Runs steps random operations on a list with node limit fill. */
static void
test_random_run(int fill, int steps)
{
    ks_obj *o = ks_list_new(fill);

    for (int s = 0; s < steps; s++) {
        size_t op = test_rng_below(100);
        if (op < 40 && test_m.n < TEST_MODEL_MAX) {
            /* push at either end */
            test_elem e = test_make_elem();
            int tail = (int)test_rng_below(2);
            ks_list_push(o, tail, e.p, e.len);
            test_model_insert(tail ? test_m.n : 0, e);
        } else if (op < 60) {
            /* pop at either end */
            int tail = (int)test_rng_below(2);
            size_t len;
            char *v = ks_list_pop(o, tail, &len);
            if (test_m.n == 0) {
                assert_null(v);
            } else {
                size_t idx = tail ? test_m.n - 1 : 0;
                assert_non_null(v);
                assert_int_equal(len, test_m.v[idx].len);
                assert_memory_equal(v, test_m.v[idx].p, len);
                util_free(v);
                test_model_delete(idx, 1);
            }
        } else if (op < 70 && test_m.n > 0) {
            /* set one element, by positive or negative index */
            test_elem e = test_make_elem();
            size_t idx = test_rng_below(test_m.n);
            long long at =
                test_rng_below(2) ? (long long)idx : (long long)idx - (long long)test_m.n;
            ks_list_set(o, at, e.p, e.len);
            free(test_m.v[idx].p);
            test_m.v[idx] = e;
        } else if (op < 85 && test_m.n < TEST_MODEL_MAX) {
            /* insert anywhere (the middle splits full nodes) */
            test_elem e = test_make_elem();
            size_t idx = test_rng_below(test_m.n + 1);
            ks_list_insert(o, idx, e.p, e.len);
            test_model_insert(idx, e);
        } else if (test_m.n > 0) {
            /* delete a run */
            size_t idx = test_rng_below(test_m.n);
            size_t n = test_rng_below(test_rng_below(4) == 0 ? 200 : 4) + 1;
            ks_list_delete(o, idx, n);
            test_model_delete(idx, n);
        }
        test_assert_same(o);
    }
    /* a deep copy is equal and independent */
    ks_obj *c = ks_obj_dup(o);
    test_assert_same(c);
    ks_obj_free(o);
    test_assert_same(c);
    ks_obj_free(c);
    test_model_clear();
}

static void
test_random_default_fill(void **state)
{
    (void)state;
    test_random_run(-2, 3000);
}

static void
test_random_all_fills(void **state)
{
    (void)state;
    for (int fill = -5; fill <= 5; fill++)
        test_random_run(fill, 800);
    test_random_run(128, 800);
}

/* ---- One behaviour each ---- */

/* With a positive fill every node holds at most fill elements, and pushes
 * open a new node exactly when the end node is full. */
static void
test_node_count_limit(void **state)
{
    ks_obj *o = ks_list_new(4);
    const ks_list *l = (const ks_list *)o->ptr;
    (void)state;
    for (int i = 0; i < 16; i++) {
        char b[8];
        int n = snprintf(b, sizeof(b), "%d", i);
        ks_list_push(o, 1, b, (size_t)n);
        assert_int_equal(l->nodes, (size_t)(i / 4 + 1));
    }
    for (const ks_list_node *n = l->head; n != NULL; n = n->next)
        assert_int_equal(n->lp.count, 4);
    /* popping empties and unlinks nodes from the head */
    for (int i = 0; i < 4; i++)
        util_free(ks_list_pop(o, 0, &(size_t){0}));
    assert_int_equal(l->nodes, 3);
    assert_int_equal(ks_list_check(o), 0);
    ks_obj_free(o);
}

/* With the default fill (-2) a node stays under 8 KB of packed bytes. */
static void
test_node_bytes_limit(void **state)
{
    ks_obj *o = ks_list_new(-2);
    const ks_list *l = (const ks_list *)o->ptr;
    char buf[100];
    (void)state;
    memset(buf, 'x', sizeof(buf));
    for (int i = 0; i < 1000; i++)
        ks_list_push(o, i % 2, buf, sizeof(buf));
    assert_true(l->nodes > 1);
    for (const ks_list_node *n = l->head; n != NULL; n = n->next)
        assert_true(n->lp.len <= 8192);
    /* an element bigger than the limit gets a node of its own */
    char *big = calloc(1, 20000);
    ks_list_push(o, 1, big, 20000);
    assert_int_equal(l->tail->lp.count, 1);
    ks_list_push(o, 1, "a", 1);
    assert_int_equal(l->tail->lp.count, 1);
    free(big);
    assert_int_equal(ks_list_check(o), 0);
    ks_obj_free(o);
}

/* Type, encoding names, memory and locate bounds. */
static void
test_obj_hooks(void **state)
{
    ks_obj *o = ks_list_new(-2);
    ks_list_pos p;
    (void)state;
    assert_string_equal(ks_obj_type_name(o), "list");
    assert_string_equal(ks_obj_enc_name(o), "quicklist");
    assert_false(ks_list_locate(o, 0, &p));
    ks_list_push(o, 1, "a", 1);
    ks_list_push(o, 1, "b", 1);
    assert_true(ks_obj_mem(o) > sizeof(*o));
    assert_true(ks_list_locate(o, -2, &p));
    assert_false(ks_list_locate(o, -3, &p));
    assert_false(ks_list_locate(o, 2, &p));
    ks_list_delete(o, 0, 100);
    assert_int_equal(ks_list_len(o), 0);
    assert_int_equal(ks_list_check(o), 0);
    ks_obj_free(o);
}

#define T(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_random_default_fill), T(test_random_all_fills), T(test_node_count_limit),
        T(test_node_bytes_limit),    T(test_obj_hooks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
