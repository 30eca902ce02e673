/*
 * test_set.c - unit tests for the set value type (t_set.h).
 *
 * The core is model-based: random add / delete / lookup runs against a
 * sorted array of distinct integers, for a set that stays an intset
 * (members must come out ascending and equal to the model, with the
 * narrowest width Redis would pick), one that converts mid-run (exactly
 * when the model passes the limit or takes a non-integer, and never back)
 * and one that starts as a hashtable. ks_set_check runs after every step.
 * Other cases pin down one behaviour each: widths, dup, random, scan and
 * the ks_obj hooks. Dict allocations go through a counting allocator
 * checked at teardown; the rest is checked by LeakSanitizer in the Asan
 * build. Seeds are printed; set RUNNEL_TEST_SEED to replay one.
 */
#include "broker/keyspace/t_set.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* ---- Test support: PRNG, counting dict allocator ---- */

static uint64_t test_rng_state; /* xorshift64* state, never 0 */
static long test_dict_live;     /* dict allocations not yet freed */

static uint64_t
test_rng(void)
{
    test_rng_state ^= test_rng_state >> 12;
    test_rng_state ^= test_rng_state << 25;
    test_rng_state ^= test_rng_state >> 27;
    return test_rng_state * 0x2545F4914F6CDD1DULL;
}

static void *
test_dict_alloc(size_t n)
{
    void *p = malloc(n);
    if (p != NULL)
        test_dict_live++;
    return p;
}

static void
test_dict_release(void *p)
{
    if (p != NULL)
        test_dict_live--;
    free(p);
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
        fprintf(stderr, "test_set: seed %llu (set RUNNEL_TEST_SEED to reproduce)\n", seed);
    }
    test_rng_state = seed ? seed : 1;
    test_dict_live = 0;
    ks_dict_set_allocator(test_dict_alloc, test_dict_release);
    return 0;
}

static int
test_teardown(void **state)
{
    (void)state;
    ks_dict_set_allocator(NULL, NULL);
    assert_int_equal(test_dict_live, 0);
    return 0;
}

/* ---- The model: a sorted array of distinct integers ---- */

#define TEST_MAX 600

typedef struct test_model {
    int64_t v[TEST_MAX]; /* members, ascending */
    size_t count;        /* members held */
} test_model;

static int
test_model_find(const test_model *m, int64_t x, size_t *pos)
{
    size_t i = 0;
    while (i < m->count && m->v[i] < x)
        i++;
    *pos = i;
    return i < m->count && m->v[i] == x;
}

static int
test_model_add(test_model *m, int64_t x)
{
    size_t pos;
    if (test_model_find(m, x, &pos))
        return 0;
    memmove(&m->v[pos + 1], &m->v[pos], (m->count - pos) * sizeof(m->v[0]));
    m->v[pos] = x;
    m->count++;
    return 1;
}

static int
test_model_del(test_model *m, int64_t x)
{
    size_t pos;
    if (!test_model_find(m, x, &pos))
        return 0;
    memmove(&m->v[pos], &m->v[pos + 1], (m->count - pos - 1) * sizeof(m->v[0]));
    m->count--;
    return 1;
}

/* A random integer drawn from one of three ranges, so all widths occur. */
static int64_t
test_rand_int(void)
{
    switch (test_rng() % 4) {
    case 0:
        return (int64_t)(test_rng() % 200) - 100;
    case 1:
        return (int64_t)(test_rng() % 200000) - 100000;
    case 2:
        return (int64_t)(test_rng() % 40) * 100000000000LL - 2000000000000LL;
    default:
        return (int64_t)(test_rng() % 64) - 32;
    }
}

static int
test_need_width(const test_model *m)
{
    int w = 2;
    for (size_t i = 0; i < m->count; i++) {
        if (m->v[i] < INT32_MIN || m->v[i] > INT32_MAX)
            w = 8;
        else if ((m->v[i] < INT16_MIN || m->v[i] > INT16_MAX) && w < 4)
            w = 4;
    }
    return w;
}

/* Checks o against the model: same members, ascending for an intset. */
static void
test_compare(ks_obj *o, const test_model *m)
{
    ks_set_iter it;
    const char *p;
    size_t len, i = 0;
    char buf[32];

    assert_int_equal(ks_set_check(o), 0);
    assert_int_equal(ks_set_count(o), m->count);
    ks_set_iter_start(&it, o);
    while (ks_set_iter_next(&it, &p, &len)) {
        if (o->enc == KS_ENC_INTSET) {
            int n = snprintf(buf, sizeof(buf), "%lld", (long long)m->v[i]);
            assert_int_equal(len, (size_t)n);
            assert_memory_equal(p, buf, len);
        }
        i++;
    }
    ks_set_iter_stop(&it);
    assert_int_equal(i, m->count);
    for (i = 0; i < m->count; i++) {
        int n = snprintf(buf, sizeof(buf), "%lld", (long long)m->v[i]);
        assert_true(ks_set_contains(o, buf, (size_t)n));
    }
}

/* Random adds and deletes of integers with limit max; returns the object
 * for the caller to free. The set must convert exactly when the model
 * passes max, and its width must be at least what the members need. */
static void
test_run_ints(size_t max, int steps)
{
    test_model m = {{0}, 0};
    ks_obj *o = ks_set_new_for("1", 1);
    int converted = 0;
    char buf[32];

    for (int s = 0; s < steps; s++) {
        int64_t x = test_rand_int();
        int n = snprintf(buf, sizeof(buf), "%lld", (long long)x);
        if (test_rng() % 3 != 0 && m.count < TEST_MAX) {
            assert_int_equal(ks_set_add(o, buf, (size_t)n, max), test_model_add(&m, x));
            if (m.count > max)
                converted = 1;
        } else {
            assert_int_equal(ks_set_del(o, buf, (size_t)n), test_model_del(&m, x));
        }
        assert_int_equal(o->enc, converted ? KS_ENC_HASHTABLE : KS_ENC_INTSET);
        if (!converted)
            assert_true(ks_set_intset_width(o) >= test_need_width(&m));
        test_compare(o, &m);
    }
    ks_obj_free(o);
}

/* ---- Cases ---- */

static void
test_set_intset_matches_model(void **state)
{
    (void)state;
    test_run_ints(100000, 3000);
}

static void
test_set_converts_at_limit(void **state)
{
    (void)state;
    test_run_ints(50, 3000);
}

static void
test_set_exact_threshold(void **state)
{
    ks_obj *o = ks_set_new_for("1", 1);
    (void)state;
    assert_int_equal(ks_set_add(o, "1", 1, 3), 1);
    assert_int_equal(ks_set_add(o, "2", 1, 3), 1);
    assert_int_equal(ks_set_add(o, "3", 1, 3), 1);
    assert_int_equal(o->enc, KS_ENC_INTSET);
    assert_int_equal(ks_set_add(o, "3", 1, 3), 0);
    assert_int_equal(o->enc, KS_ENC_INTSET);
    assert_int_equal(ks_set_add(o, "4", 1, 3), 1);
    assert_int_equal(o->enc, KS_ENC_HASHTABLE);
    assert_int_equal(ks_set_del(o, "4", 1), 1);
    assert_int_equal(ks_set_del(o, "3", 1), 1);
    assert_int_equal(o->enc, KS_ENC_HASHTABLE); /* never converts back */
    assert_int_equal(ks_set_check(o), 0);
    ks_obj_free(o);
}

static void
test_set_non_integer_converts(void **state)
{
    ks_obj *o = ks_set_new_for("5", 1);
    (void)state;
    assert_int_equal(o->enc, KS_ENC_INTSET);
    assert_int_equal(ks_set_add(o, "5", 1, 512), 1);
    /* Not canonical integers: leading zero, sign of zero, blank. */
    assert_int_equal(ks_set_contains(o, "05", 2), 0);
    assert_int_equal(ks_set_add(o, "05", 2, 512), 1);
    assert_int_equal(o->enc, KS_ENC_HASHTABLE);
    assert_int_equal(ks_set_contains(o, "5", 1), 1);
    assert_int_equal(ks_set_contains(o, "05", 2), 1);
    assert_int_equal(ks_set_check(o), 0);
    ks_obj_free(o);
    o = ks_set_new_for("-0", 2);
    assert_int_equal(o->enc, KS_ENC_HASHTABLE);
    ks_obj_free(o);
}

static void
test_set_widths(void **state)
{
    ks_obj *o = ks_set_new_intset();
    (void)state;
    assert_int_equal(ks_set_intset_width(o), 2);
    ks_set_add(o, "32767", 5, 512);
    assert_int_equal(ks_set_intset_width(o), 2);
    ks_set_add(o, "-32769", 6, 512);
    assert_int_equal(ks_set_intset_width(o), 4);
    ks_set_add(o, "9223372036854775807", 19, 512);
    assert_int_equal(ks_set_intset_width(o), 8);
    ks_set_add(o, "-9223372036854775808", 20, 512);
    assert_int_equal(ks_set_check(o), 0);
    ks_set_del(o, "9223372036854775807", 19);
    assert_int_equal(ks_set_intset_width(o), 8); /* never narrows */
    assert_int_equal(ks_set_contains(o, "-9223372036854775808", 20), 1);
    assert_int_equal(ks_set_contains(o, "9223372036854775808", 19), 0);
    assert_int_equal(ks_set_check(o), 0);
    ks_obj_free(o);
}

static void
test_set_hashtable_random_ops(void **state)
{
    ks_obj *o = ks_set_new_for("a", 1);
    char present[64] = {0};
    (void)state;
    for (int s = 0; s < 2000; s++) {
        char k[2] = {(char)('0' + test_rng() % 64), 0};
        int i = k[0] - '0';
        if (test_rng() % 2) {
            assert_int_equal(ks_set_add(o, k, 1, 512), !present[i]);
            present[i] = 1;
        } else {
            assert_int_equal(ks_set_del(o, k, 1), present[i]);
            present[i] = 0;
        }
        assert_int_equal(ks_set_contains(o, k, 1), present[i]);
        assert_int_equal(ks_set_check(o), 0);
    }
    ks_obj_free(o);
}

static void
test_count_member(void *priv, const char *m, size_t len)
{
    (void)m;
    (void)len;
    (*(size_t *)priv)++;
}

static void
test_set_dup_random_scan(void **state)
{
    const char *m;
    size_t len, seen = 0;
    char buf[KS_SET_NUM_BUF];
    ks_obj *o = ks_set_new_intset(), *d;
    (void)state;
    ks_set_add(o, "10", 2, 512);
    ks_set_add(o, "-3", 2, 512);
    d = ks_set_dup(o);
    assert_int_equal(d->enc, KS_ENC_INTSET);
    assert_int_equal(ks_set_count(d), 2);
    ks_set_random(d, test_rng, buf, &m, &len);
    assert_true(ks_set_contains(d, m, len));
    ks_set_convert(d);
    assert_int_equal(d->enc, KS_ENC_HASHTABLE);
    assert_int_equal(ks_set_contains(d, "-3", 2), 1);
    ks_obj *d2 = ks_obj_dup(d);
    assert_int_equal(ks_set_count(d2), 2);
    uint64_t cur = 0;
    do
        cur = ks_set_scan(d2, cur, test_count_member, &seen);
    while (cur != 0);
    assert_true(seen >= 2);
    seen = 0;
    assert_int_equal(ks_set_scan(o, 0, test_count_member, &seen), 0);
    assert_int_equal(seen, 2);
    assert_string_equal(ks_obj_type_name(d2), "set");
    assert_string_equal(ks_obj_enc_name(d2), "hashtable");
    assert_string_equal(ks_obj_enc_name(o), "intset");
    assert_true(ks_obj_mem(o) > 0);
    ks_obj_free(o);
    ks_obj_free(d);
    ks_obj_free(d2);
}

#define T(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_set_intset_matches_model),
        T(test_set_converts_at_limit),
        T(test_set_exact_threshold),
        T(test_set_non_integer_converts),
        T(test_set_widths),
        T(test_set_hashtable_random_ops),
        T(test_set_dup_random_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
