/*
 * test_rax.c - unit tests for the radix tree (streams/rax.h).
 *
 * The core is a model-based random test: 100k insert / try_insert / remove /
 * find / seek (every op) / next / prev operations checked against a sorted
 * array, in three key families (random bytes, a three-letter alphabet with
 * many shared prefixes that forces splits and merges, 16-byte big-endian
 * stream IDs), with rax_check, full walks both ways and a shape comparison
 * against a tree rebuilt from scratch after every batch. The allocation-failure
 * test fails the Nth allocation of a fixed sequence for every N, as antirez/rax
 * rax-oom-test.c does, and checks that nothing changed. All tree memory goes
 * through a counting allocator, and each teardown asserts nothing is left.
 * Seeds are printed; set RUNNEL_TEST_SEED to replay one.
 */
#include "streams/rax.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* ---- Test support: PRNG, counting allocator ---- */

static uint64_t test_rng_state; /* xorshift64* state, never 0 */
static long test_alloc_calls;   /* malloc and realloc calls since the last reset */
static long test_fail_at;       /* call number that fails (only that one), 0 for none */
static long test_alloc_live;    /* blocks not yet freed */
static long test_val_frees;     /* values released through test_val_free */

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

/* Counts the call; returns 1 if this is the one that must fail. */
static int
test_alloc_fails(void)
{
    return ++test_alloc_calls == test_fail_at;
}

static void *
rax_test_malloc(size_t n)
{
    void *p;

    if (test_alloc_fails())
        return NULL;
    p = malloc(n);
    if (p != NULL)
        test_alloc_live++;
    return p;
}

static void *
rax_test_realloc(void *p, size_t n)
{
    void *q;

    if (test_alloc_fails())
        return NULL;
    q = realloc(p, n);
    if (q != NULL && p == NULL)
        test_alloc_live++;
    return q;
}

static void
rax_test_free(void *p)
{
    if (p != NULL)
        test_alloc_live--;
    free(p);
}

/* Fails the nth allocation from now (0: none). */
static void
test_fail_nth(long nth)
{
    test_alloc_calls = 0;
    test_fail_at = nth;
}

static int
test_setup(void **state)
{
    static unsigned long long seed;
    static int printed;
    const char *env = getenv("RUNNEL_TEST_SEED");

    (void)state;
    if (!printed++) { /* every case restarts from the same seed */
        seed = env ? strtoull(env, NULL, 0) : (unsigned long long)time(NULL);
        fprintf(stderr, "test_rax: seed %llu (set RUNNEL_TEST_SEED to reproduce)\n", seed);
    }
    test_rng_state = seed ? seed : 1;
    test_fail_nth(0);
    test_alloc_live = 0;
    test_val_frees = 0;
    rax_set_allocator(rax_test_malloc, rax_test_realloc, rax_test_free);
    return 0;
}

static int
test_teardown(void **state)
{
    (void)state;
    rax_set_allocator(NULL, NULL, NULL);
    assert_int_equal(test_alloc_live, 0);
    return 0;
}

static void
test_val_free(void *p)
{
    test_val_frees++;
    free(p);
}

/* Key from a C string. */
#define K(s) ((const unsigned char *)(s)), (sizeof(s) - 1)

/* Tag values: distinct non-NULL pointers that are never dereferenced. */
#define V(n) ((void *)(uintptr_t)(0x1000u + 8u * (unsigned)(n)))

/* ---- The model: a sorted array of keys ---- */

#define TEST_KEY_MAX 24

typedef struct test_ent {
    unsigned char key[TEST_KEY_MAX]; /* key bytes */
    size_t len;                      /* bytes in key */
    void *val;                       /* value, possibly NULL */
} test_ent;

typedef struct test_model {
    test_ent *v; /* sorted by test_cmp, heap */
    size_t n;    /* entries in use */
    size_t cap;  /* entries allocated */
} test_model;

static int
test_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    size_t min = alen < blen ? alen : blen;
    int c = min ? memcmp(a, b, min) : 0;

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Index of the first entry >= key; *found tells whether it is equal. */
static size_t
test_model_lower(const test_model *m, const unsigned char *key, size_t len, int *found)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (test_cmp(m->v[mid].key, m->v[mid].len, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->n && test_cmp(m->v[lo].key, m->v[lo].len, key, len) == 0;
    return lo;
}

static void
test_model_put(test_model *m, size_t at, const unsigned char *key, size_t len, void *val)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = realloc(m->v, m->cap * sizeof(*m->v));
        assert_non_null(m->v);
    }
    memmove(m->v + at + 1, m->v + at, (m->n - at) * sizeof(*m->v));
    memcpy(m->v[at].key, key, len);
    m->v[at].len = len;
    m->v[at].val = val;
    m->n++;
}

static void
test_model_del(test_model *m, size_t at)
{
    memmove(m->v + at, m->v + at + 1, (m->n - at - 1) * sizeof(*m->v));
    m->n--;
}

/*
 * Index op selects in the model for key (may be -1 or n: none), as the tree
 * positions an iterator.
 */
static long
test_model_seek(const test_model *m, const char *op, const unsigned char *key, size_t len)
{
    int found;
    long lo;

    if (op[0] == '^')
        return m->n ? 0 : -1;
    if (op[0] == '$')
        return (long)m->n - 1;
    lo = (long)test_model_lower(m, key, len, &found);
    if (op[0] == '=')
        return found ? lo : -1;
    if (op[0] == '>')
        return (op[1] == '=' || !found) ? lo : lo + 1;
    return (op[1] == '=' && found) ? lo : lo - 1;
}

/* ---- Checks of a tree against the model ---- */

static void
test_expect_key(const rax_iter *it, const test_ent *e)
{
    assert_int_equal(it->key_len, e->len);
    assert_memory_equal(it->key, e->key, e->len);
    assert_ptr_equal(it->data, e->val);
}

/* Full walks in both directions, count and every find. */
static void
test_expect_contents(rax *t, const test_model *m)
{
    rax_iter it;
    size_t i;

    assert_int_equal(rax_check(t), 0);
    assert_int_equal(rax_count(t), m->n);
    rax_iter_start(&it, t);
    assert_int_equal(rax_seek(&it, "^", NULL, 0), 0);
    for (i = 0; i < m->n; i++) {
        assert_int_equal(rax_next(&it), 1);
        test_expect_key(&it, &m->v[i]);
    }
    assert_int_equal(rax_next(&it), 0);
    assert_int_equal(rax_seek(&it, "$", NULL, 0), 0);
    for (i = m->n; i > 0; i--) {
        void *val = V(0);

        assert_int_equal(rax_prev(&it), 1);
        test_expect_key(&it, &m->v[i - 1]);
        assert_int_equal(rax_find(t, m->v[i - 1].key, m->v[i - 1].len, &val), 1);
        assert_ptr_equal(val, m->v[i - 1].val);
    }
    assert_int_equal(rax_prev(&it), 0);
    assert_int_equal(rax_iter_error(&it), 0);
    rax_iter_stop(&it);
}

/* The shape depends only on the keys: a tree rebuilt from the model matches. */
static void
test_expect_minimal_shape(rax *t, const test_model *m)
{
    rax *fresh = rax_new();
    size_t i;

    assert_non_null(fresh);
    for (i = 0; i < m->n; i++)
        assert_int_equal(rax_insert(fresh, m->v[i].key, m->v[i].len, m->v[i].val, NULL), 1);
    assert_int_equal(rax_nodes(fresh), rax_nodes(t));
    assert_int_equal(rax_mem(fresh), rax_mem(t));
    rax_free(fresh, NULL);
}

/*
 * Seeks with op and takes up to `steps` random next/prev steps: the first
 * returns the element the seek selected, each later one moves its own way.
 */
static void
test_expect_seek(rax *t, const test_model *m, const char *op, const unsigned char *key, size_t len,
                 int steps)
{
    rax_iter it;
    long e = test_model_seek(m, op, key, len);
    int eof = e < 0 || e >= (long)m->n, s;

    rax_iter_start(&it, t);
    assert_int_equal(rax_seek(&it, op, key, len), 0);
    for (s = 0; s < steps; s++) {
        int next = (int)test_rng_below(2);

        if (s > 0 && !eof) {
            e += next ? 1 : -1;
            eof = e < 0 || e >= (long)m->n;
        }
        if (eof) {
            assert_int_equal(next ? rax_next(&it) : rax_prev(&it), 0);
            continue;
        }
        assert_int_equal(next ? rax_next(&it) : rax_prev(&it), 1);
        test_expect_key(&it, &m->v[e]);
    }
    rax_iter_stop(&it);
}

/* ---- Key families ---- */

enum test_keys {
    TEST_KEYS_BYTES,  /* up to 10 random bytes drawn from a 4096-key universe */
    TEST_KEYS_SMALL,  /* up to 7 letters from "abc": deep shared prefixes */
    TEST_KEYS_STREAM, /* 16-byte big-endian (ms, seq) pairs */
};

static size_t
test_key(enum test_keys kind, unsigned char *k)
{
    size_t len, i;

    switch (kind) {
    case TEST_KEYS_BYTES: {
        uint64_t x = test_rng_below(4096) * 0x9E3779B97F4A7C15ULL;

        len = (size_t)(x >> 60) % 11;
        for (i = 0; i < len; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            k[i] = (unsigned char)(x >> 56);
        }
        return len;
    }
    case TEST_KEYS_SMALL:
        len = test_rng_below(8);
        for (i = 0; i < len; i++)
            k[i] = (unsigned char)('a' + test_rng_below(3));
        return len;
    default: {
        uint64_t ms = 1700000000000ULL + test_rng_below(3000), seq = test_rng_below(4);

        if (test_rng_below(8) == 0)
            ms = (test_rng_below(512) + 1) * 0x9E3779B97F4A7C15ULL; /* a few far away */
        for (i = 0; i < 8; i++) {
            k[i] = (unsigned char)(ms >> (56 - 8 * i));
            k[8 + i] = (unsigned char)(seq >> (56 - 8 * i));
        }
        return 16;
    }
    }
}

/* A seek target: usually a key of the family, sometimes cut short or extended. */
static size_t
test_seek_key(enum test_keys kind, unsigned char *k)
{
    size_t len = test_key(kind, k);

    if (test_rng_below(4) == 0 && len > 0)
        len = test_rng_below(len);
    else if (test_rng_below(4) == 0 && len < TEST_KEY_MAX)
        k[len++] = (unsigned char)test_rng_below(256);
    return len;
}

static void *
test_random_val(size_t op)
{
    return test_rng_below(10) == 0 ? NULL : V(op + 1);
}

/* The random-operation run shared by the three model cases. */
static void
test_model_run(enum test_keys kind, size_t ops)
{
    static const char *const seek_ops[] = {"^", "$", "==", ">=", ">", "<=", "<"};
    test_model m = {NULL, 0, 0};
    rax *t = rax_new();
    size_t op;

    assert_non_null(t);
    for (op = 0; op < ops; op++) {
        unsigned char k[TEST_KEY_MAX];
        size_t len = test_key(kind, k), choice = test_rng_below(100), at;
        void *val = test_random_val(op), *old = V(0);
        int found, r;

        at = test_model_lower(&m, k, len, &found);
        if (choice < 35) {
            r = rax_insert(t, k, len, val, &old);
            assert_int_equal(r, !found);
            if (found) {
                assert_ptr_equal(old, m.v[at].val);
                m.v[at].val = val;
            } else {
                test_model_put(&m, at, k, len, val);
            }
        } else if (choice < 45) {
            r = rax_try_insert(t, k, len, val, &old);
            assert_int_equal(r, !found);
            if (found)
                assert_ptr_equal(old, m.v[at].val);
            else
                test_model_put(&m, at, k, len, val);
        } else if (choice < 75) {
            r = rax_remove(t, k, len, &old);
            assert_int_equal(r, found);
            if (found) {
                assert_ptr_equal(old, m.v[at].val);
                test_model_del(&m, at);
            }
        } else if (choice < 85) {
            r = rax_find(t, k, len, &old);
            assert_int_equal(r, found);
            if (found)
                assert_ptr_equal(old, m.v[at].val);
        } else {
            len = test_seek_key(kind, k);
            test_expect_seek(t, &m, seek_ops[test_rng_below(7)], k, len,
                             1 + (int)test_rng_below(6));
        }
        if (op % 2000 == 1999) {
            test_expect_contents(t, &m);
            test_expect_minimal_shape(t, &m);
        }
    }
    test_expect_contents(t, &m);
    rax_free(t, NULL);
    free(m.v);
}

/* ---- Cases ---- */

static void
test_rax_model_random_bytes(void **state)
{
    (void)state;
    test_model_run(TEST_KEYS_BYTES, 100000);
}

static void
test_rax_model_small_alphabet_splits_and_merges(void **state)
{
    (void)state;
    test_model_run(TEST_KEYS_SMALL, 100000);
}

static void
test_rax_model_stream_ids(void **state)
{
    (void)state;
    test_model_run(TEST_KEYS_STREAM, 100000);
}

/*
 * For N = 1, 2, ... the Nth allocation of a fixed insert/remove sequence
 * fails: that call returns -ENOMEM (inserts) or still succeeds (removes, which
 * only skip a merge), the contents match the model and rax_check passes; the
 * sequence then goes on with a tree that may be less compact.
 */
static void
test_rax_alloc_failure_leaves_tree_unchanged(void **state)
{
    uint64_t seed = test_rng();
    long nth, enomem = 0;
    int reached = 1;

    (void)state;
    for (nth = 1; reached; nth++) {
        test_model m = {NULL, 0, 0};
        rax *t = rax_new();
        size_t op;

        assert_non_null(t);
        test_rng_state = seed;
        test_fail_nth(nth);
        for (op = 0; op < 600; op++) {
            unsigned char k[TEST_KEY_MAX];
            size_t len = test_key(op % 3 ? TEST_KEYS_SMALL : TEST_KEYS_BYTES, k), at;
            void *val = test_random_val(op), *old = V(0);
            long before = test_alloc_calls;
            int found, r;

            at = test_model_lower(&m, k, len, &found);
            if (test_rng_below(100) < 60) {
                int replace = (int)test_rng_below(2);

                r = replace ? rax_insert(t, k, len, val, &old)
                            : rax_try_insert(t, k, len, val, &old);
                if (r == -ENOMEM) {
                    /* Only the call that met the failing allocation may fail. */
                    assert_true(before < nth && test_alloc_calls >= nth);
                    assert_ptr_equal(old, V(0)); /* out-param untouched */
                    enomem++;
                    test_expect_contents(t, &m);
                    continue;
                }
                assert_int_equal(r, !found);
                if (!found)
                    test_model_put(&m, at, k, len, val);
                else if (replace)
                    m.v[at].val = val;
            } else {
                r = rax_remove(t, k, len, &old);
                assert_int_equal(r, found);
                if (found)
                    test_model_del(&m, at);
            }
            assert_int_equal(rax_check(t), 0);
        }
        reached = test_alloc_calls >= nth;
        test_expect_contents(t, &m);
        rax_free(t, NULL);
        free(m.v);
        assert_int_equal(test_alloc_live, 0);
    }
    assert_true(nth > 100);   /* the sequence did allocate */
    assert_true(enomem > 50); /* and most failures reached an insert */
    test_fail_nth(0);
}

static void
test_rax_new_fails_cleanly(void **state)
{
    (void)state;
    test_fail_nth(1);
    assert_null(rax_new());
    test_fail_nth(2);
    assert_null(rax_new());
    test_fail_nth(0);
    assert_int_equal(test_alloc_live, 0);
}

static void
test_rax_counts_nodes_keys_and_bytes(void **state)
{
    rax *t = rax_new();

    (void)state;
    assert_int_equal(rax_count(t), 0);
    assert_int_equal(rax_nodes(t), 1); /* the empty root */
    assert_int_equal(rax_mem(t), 8);
    assert_int_equal(rax_insert(t, K("foo"), V(1), NULL), 1);
    assert_int_equal(rax_nodes(t), 1); /* ["foo"] -> <foo> */
    assert_int_equal(rax_insert(t, K("foobar"), V(2), NULL), 1);
    assert_int_equal(rax_insert(t, K("footer"), V(3), NULL), 1);
    /* ["foo"] -> [* b t] -> ["ar"] / ["er"], as drawn in rax.h. */
    assert_int_equal(rax_count(t), 3);
    assert_int_equal(rax_nodes(t), 4);
    assert_int_equal(rax_mem(t), 16 + 32 + 16 + 16);
    assert_int_equal(rax_check(t), 0);
    rax_free(t, NULL);
}

static void
test_rax_remove_recompresses(void **state)
{
    rax *t = rax_new();
    void *old = NULL;

    (void)state;
    assert_int_equal(rax_insert(t, K("foo"), V(1), NULL), 1);
    assert_int_equal(rax_insert(t, K("foobar"), V(2), NULL), 1);
    assert_int_equal(rax_insert(t, K("footer"), V(3), NULL), 1);
    assert_int_equal(rax_remove(t, K("footer"), &old), 1);
    assert_ptr_equal(old, V(3));
    assert_int_equal(rax_nodes(t), 2); /* ["foo"] -> [*"bar"] -> <foobar> */
    assert_int_equal(rax_check(t), 0);
    assert_int_equal(rax_remove(t, K("foo"), NULL), 1);
    assert_int_equal(rax_nodes(t), 1); /* ["foobar"] -> <foobar> */
    assert_int_equal(rax_check(t), 0);
    assert_int_equal(rax_remove(t, K("foobar"), NULL), 1);
    assert_int_equal(rax_nodes(t), 1);
    assert_int_equal(rax_mem(t), 8);
    assert_int_equal(rax_count(t), 0);
    assert_int_equal(rax_check(t), 0);
    rax_free(t, NULL);
}

static void
test_rax_insert_overwrites_and_returns_old(void **state)
{
    rax *t = rax_new();
    void *old = NULL, *val = NULL;

    (void)state;
    assert_int_equal(rax_insert(t, K("k"), V(1), &old), 1);
    assert_null(old); /* untouched for a new key */
    assert_int_equal(rax_insert(t, K("k"), V(2), &old), 0);
    assert_ptr_equal(old, V(1));
    assert_int_equal(rax_find(t, K("k"), &val), 1);
    assert_ptr_equal(val, V(2));
    assert_int_equal(rax_count(t), 1);
    rax_free(t, NULL);
}

static void
test_rax_try_insert_keeps_existing(void **state)
{
    rax *t = rax_new();
    void *old = NULL, *val = NULL;

    (void)state;
    assert_int_equal(rax_try_insert(t, K("k"), V(1), &old), 1);
    assert_int_equal(rax_try_insert(t, K("k"), V(2), &old), 0);
    assert_ptr_equal(old, V(1));
    assert_int_equal(rax_find(t, K("k"), &val), 1);
    assert_ptr_equal(val, V(1));
    rax_free(t, NULL);
}

static void
test_rax_remove_absent_returns_zero(void **state)
{
    rax *t = rax_new();
    void *old = V(9);

    (void)state;
    assert_int_equal(rax_remove(t, K("x"), &old), 0);
    assert_int_equal(rax_insert(t, K("abc"), V(1), NULL), 1);
    assert_int_equal(rax_remove(t, K("ab"), &old), 0);   /* ends inside a run */
    assert_int_equal(rax_remove(t, K("abcd"), &old), 0); /* runs past a leaf */
    assert_int_equal(rax_remove(t, K(""), &old), 0);
    assert_ptr_equal(old, V(9));
    assert_int_equal(rax_count(t), 1);
    rax_free(t, NULL);
}

static void
test_rax_empty_key_is_a_key(void **state)
{
    rax *t = rax_new();
    rax_iter it;
    void *val = NULL;

    (void)state;
    assert_int_equal(rax_find(t, NULL, 0, &val), 0);
    assert_int_equal(rax_insert(t, NULL, 0, V(1), NULL), 1);
    assert_int_equal(rax_insert(t, K("a"), V(2), NULL), 1);
    assert_int_equal(rax_find(t, K(""), &val), 1);
    assert_ptr_equal(val, V(1));
    rax_iter_start(&it, t);
    assert_int_equal(rax_seek(&it, "^", NULL, 0), 0);
    assert_int_equal(rax_next(&it), 1);
    assert_int_equal(it.key_len, 0);
    assert_ptr_equal(it.data, V(1));
    assert_int_equal(rax_seek(&it, "<", K("a")), 0);
    assert_int_equal(rax_prev(&it), 1);
    assert_int_equal(it.key_len, 0);
    assert_int_equal(rax_prev(&it), 0);
    rax_iter_stop(&it);
    assert_int_equal(rax_remove(t, NULL, 0, &val), 1);
    assert_ptr_equal(val, V(1));
    assert_int_equal(rax_find(t, NULL, 0, NULL), 0);
    assert_int_equal(rax_count(t), 1);
    assert_int_equal(rax_check(t), 0);
    rax_free(t, NULL);
}

static void
test_rax_null_values_are_distinct_from_absence(void **state)
{
    rax *t = rax_new();
    void *val = V(9);
    size_t mem;

    (void)state;
    assert_int_equal(rax_insert(t, K("a"), NULL, NULL), 1);
    assert_int_equal(rax_insert(t, K("ab"), NULL, NULL), 1); /* "a" is now a node, no value */
    assert_int_equal(rax_find(t, K("a"), &val), 1);
    assert_null(val);
    assert_int_equal(rax_find(t, K("b"), &val), 0);
    mem = rax_mem(t);
    assert_int_equal(rax_insert(t, K("a"), V(1), &val), 0);
    assert_null(val);
    assert_int_equal(rax_mem(t), mem + sizeof(void *)); /* the value field appears */
    assert_int_equal(rax_insert(t, K("a"), NULL, &val), 0);
    assert_ptr_equal(val, V(1));
    assert_int_equal(rax_mem(t), mem); /* and goes again */
    assert_int_equal(rax_remove(t, K("ab"), &val), 1);
    assert_null(val);
    assert_int_equal(rax_check(t), 0);
    rax_free(t, NULL);
}

static void
test_rax_free_calls_callback_once_per_value(void **state)
{
    rax *t = rax_new();
    long expected = 0;
    size_t i;

    (void)state;
    for (i = 0; i < 3000; i++) {
        unsigned char k[TEST_KEY_MAX];
        size_t len = test_key(i % 2 ? TEST_KEYS_SMALL : TEST_KEYS_STREAM, k);
        void *val = i % 5 ? malloc(8) : NULL, *old = NULL;

        if (rax_insert(t, k, len, val, &old) == 0) {
            if (old != NULL) {
                free(old);
                expected--;
            }
        }
        expected += val != NULL;
    }
    rax_free(t, test_val_free);
    assert_int_equal(test_val_frees, expected);
    rax_free(NULL, test_val_free);
}

static void
test_rax_seek_ops_on_known_keys(void **state)
{
    static const char *const keys[] = {"alien",  "all",     "alligator", "ba",  "baloon", "rom",
                                       "romane", "romanus", "romulus",   "rub", "rubens"};
    test_model m = {NULL, 0, 0};
    rax *t = rax_new();
    rax_iter it;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        int found;
        size_t at = test_model_lower(&m, (const unsigned char *)keys[i], strlen(keys[i]), &found);

        test_model_put(&m, at, (const unsigned char *)keys[i], strlen(keys[i]), V(i + 1));
        assert_int_equal(
            rax_insert(t, (const unsigned char *)keys[i], strlen(keys[i]), V(i + 1), NULL), 1);
    }
    rax_iter_start(&it, t);
    assert_int_equal(rax_seek(&it, ">=", K("ro")), 0);
    assert_int_equal(rax_next(&it), 1);
    assert_memory_equal(it.key, "rom", 3);
    assert_int_equal(rax_seek(&it, "<", K("rom")), 0);
    assert_int_equal(rax_prev(&it), 1);
    assert_memory_equal(it.key, "baloon", 6);
    assert_int_equal(rax_seek(&it, ">", K("rubens")), 0);
    assert_int_equal(rax_next(&it), 0);
    assert_int_equal(rax_prev(&it), 0); /* the end is sticky */
    assert_int_equal(rax_seek(&it, "==", K("romanu")), 0);
    assert_int_equal(rax_next(&it), 0);
    assert_int_equal(rax_seek(&it, "<=", K("zzz")), 0);
    assert_int_equal(rax_prev(&it), 1);
    assert_memory_equal(it.key, "rubens", 6);
    assert_int_equal(rax_seek(&it, "=>", K("a")), -EINVAL);
    assert_int_equal(rax_next(&it), 0);
    assert_int_equal(rax_seek(&it, "", K("a")), -EINVAL);
    rax_iter_stop(&it);
    for (i = 0; i < 2000; i++) {
        static const char *const ops[] = {"^", "$", "==", ">=", ">", "<=", "<"};
        unsigned char k[TEST_KEY_MAX];
        size_t len = test_rng_below(8), j;

        for (j = 0; j < len; j++)
            k[j] = (unsigned char)"abelmnorsu"[test_rng_below(10)];
        test_expect_seek(t, &m, ops[i % 7], k, len, 4);
    }
    rax_free(t, NULL);
    free(m.v);
}

static void
test_rax_seek_on_empty_tree_finds_nothing(void **state)
{
    static const char *const ops[] = {"^", "$", "==", ">=", ">", "<=", "<"};
    rax *t = rax_new();
    rax_iter it;
    size_t i;

    (void)state;
    rax_iter_start(&it, t);
    assert_int_equal(rax_next(&it), 0); /* not seeked yet */
    for (i = 0; i < 7; i++) {
        assert_int_equal(rax_seek(&it, ops[i], K("a")), 0);
        assert_int_equal(rax_next(&it), 0);
        assert_int_equal(rax_seek(&it, ops[i], NULL, 0), 0);
        assert_int_equal(rax_prev(&it), 0);
    }
    rax_iter_stop(&it);
    rax_free(t, NULL);
}

/* Keys "b", "ab", "aab", ...: one branch level per key, deeper than the static stack. */
static rax *
test_deep_tree(size_t depth)
{
    rax *t = rax_new();
    unsigned char k[512];
    size_t i;

    assert_non_null(t);
    assert_true(depth < sizeof(k));
    memset(k, 'a', sizeof(k));
    for (i = 0; i < depth; i++) {
        k[i] = 'b';
        assert_int_equal(rax_insert(t, k, i + 1, V(i), NULL), 1);
        k[i] = 'a';
    }
    return t;
}

static void
test_rax_iter_grows_key_and_stack_buffers(void **state)
{
    rax *t = test_deep_tree(300);
    rax_iter it;
    size_t n = 0;

    (void)state;
    assert_int_equal(rax_check(t), 0);
    rax_iter_start(&it, t);
    assert_int_equal(rax_seek(&it, "^", NULL, 0), 0);
    while (rax_next(&it)) {
        assert_int_equal(it.key_len, 300 - n); /* longest first: "aa...ab" < "ab" */
        assert_int_equal(it.key[it.key_len - 1], 'b');
        n++;
    }
    assert_int_equal(n, 300);
    assert_int_equal(rax_seek(&it, "$", NULL, 0), 0);
    for (n = 0; rax_prev(&it); n++)
        assert_int_equal(it.key_len, n + 1);
    assert_int_equal(n, 300);
    rax_iter_stop(&it);
    rax_iter_stop(&it); /* idempotent */
    rax_free(t, NULL);
}

static void
test_rax_iter_alloc_failure_ends_walk(void **state)
{
    rax *t = test_deep_tree(300);
    long nth;
    int failed = 1;

    (void)state;
    for (nth = 1; failed; nth++) {
        rax_iter it;
        size_t n = 0;
        int r;

        failed = 0;
        rax_iter_start(&it, t);
        test_fail_nth(nth);
        r = rax_seek(&it, "$", NULL, 0);
        assert_int_equal(r, 0); /* "b": no buffer needed */
        while (rax_prev(&it))
            n++;
        if (rax_iter_error(&it) == -ENOMEM) {
            failed = 1;
            assert_true(n < 300);
        } else {
            assert_int_equal(n, 300);
        }
        test_fail_nth(nth);
        r = rax_seek(&it, "^", NULL, 0);
        if (r == -ENOMEM) {
            failed = 1;
            assert_int_equal(rax_iter_error(&it), -ENOMEM);
            assert_int_equal(rax_next(&it), 0);
        } else {
            assert_int_equal(r, 0);
            assert_int_equal(rax_next(&it), 1);
            assert_int_equal(it.key_len, 300);
        }
        rax_iter_stop(&it);
    }
    test_fail_nth(0);
    rax_free(t, NULL);
}

static void
test_rax_sequential_ids_cost_under_ten_bytes_each(void **state)
{
    rax *t = rax_new();
    rax_iter it;
    uint64_t i, n = 200000;

    (void)state;
    for (i = 0; i < n; i++) {
        unsigned char k[16] = {0};
        int b;

        for (b = 0; b < 8; b++)
            k[15 - b] = (unsigned char)(i >> (8 * b));
        assert_int_equal(rax_insert(t, k, 16, V(i), NULL), 1);
    }
    assert_int_equal(rax_check(t), 0);
    assert_true(rax_mem(t) < 10 * n);
    assert_true(rax_nodes(t) < n / 100);
    rax_iter_start(&it, t);
    assert_int_equal(
        rax_seek(&it, ">", (const unsigned char *)"\0\0\0\0\0\0\0\0\0\0\0\0\0\1\0\0", 16), 0);
    assert_int_equal(rax_next(&it), 1);
    assert_ptr_equal(it.data, V(65537));
    rax_iter_stop(&it);
    rax_free(t, NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_rax_model_random_bytes),
        T(test_rax_model_small_alphabet_splits_and_merges),
        T(test_rax_model_stream_ids),
        T(test_rax_alloc_failure_leaves_tree_unchanged),
        T(test_rax_new_fails_cleanly),
        T(test_rax_counts_nodes_keys_and_bytes),
        T(test_rax_remove_recompresses),
        T(test_rax_insert_overwrites_and_returns_old),
        T(test_rax_try_insert_keeps_existing),
        T(test_rax_remove_absent_returns_zero),
        T(test_rax_empty_key_is_a_key),
        T(test_rax_null_values_are_distinct_from_absence),
        T(test_rax_free_calls_callback_once_per_value),
        T(test_rax_seek_ops_on_known_keys),
        T(test_rax_seek_on_empty_tree_finds_nothing),
        T(test_rax_iter_grows_key_and_stack_buffers),
        T(test_rax_iter_alloc_failure_ends_walk),
        T(test_rax_sequential_ids_cost_under_ten_bytes_each),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
