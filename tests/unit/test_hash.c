/*
 * test_hash.c - unit tests for the hash value type (t_hash.h) and the
 * packed list under its compact encoding (listpack.h).
 *
 * The core is model-based: random set / delete / lookup runs against a
 * plain array of pairs kept in insertion order, for a hash that stays a
 * listpack (pair order must equal the model's, as HGETALL shows it), one
 * that starts as a hashtable (pairs compared as a set) and one whose small
 * limits make it convert mid-run (it must convert exactly when the model
 * says Redis would, and never back). ks_hash_check and ks_lp_check run
 * after every step. Other cases pin down one behaviour each: the exact
 * thresholds, dup, random, scan, and the ks_obj hooks. Dict allocations go
 * through a counting allocator checked at teardown; the rest is checked by
 * LeakSanitizer in the Asan build. Seeds are printed; set RUNNEL_TEST_SEED
 * to replay one.
 */
#include "broker/keyspace/t_hash.h"

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

#include "broker/keyspace/listpack.h"

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

static size_t
test_rng_below(size_t n)
{
    return (size_t)(test_rng() % n);
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
        fprintf(stderr, "test_hash: seed %llu (set RUNNEL_TEST_SEED to reproduce)\n", seed);
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

/* ---- The model: pairs in insertion order ---- */

#define TEST_MAX_PAIRS 400
#define TEST_MAX_LEN   80

typedef struct test_pair {
    char f[TEST_MAX_LEN]; /* field bytes */
    size_t flen;          /* bytes in f */
    char v[TEST_MAX_LEN]; /* value bytes */
    size_t vlen;          /* bytes in v */
} test_pair;

typedef struct test_model {
    test_pair pairs[TEST_MAX_PAIRS]; /* insertion order, updates in place */
    size_t count;                    /* pairs held */
} test_model;

static long
test_model_find(const test_model *m, const char *f, size_t flen)
{
    for (size_t i = 0; i < m->count; i++) {
        if (m->pairs[i].flen == flen && memcmp(m->pairs[i].f, f, flen) == 0)
            return (long)i;
    }
    return -1;
}

/* Returns 1 when the field was added. */
static int
test_model_set(test_model *m, const char *f, size_t flen, const char *v, size_t vlen)
{
    long i = test_model_find(m, f, flen);
    int added = i < 0;
    if (added) {
        assert_true(m->count < TEST_MAX_PAIRS);
        i = (long)m->count++;
        memcpy(m->pairs[i].f, f, flen);
        m->pairs[i].flen = flen;
    }
    memcpy(m->pairs[i].v, v, vlen);
    m->pairs[i].vlen = vlen;
    return added;
}

static int
test_model_del(test_model *m, const char *f, size_t flen)
{
    long i = test_model_find(m, f, flen);
    if (i < 0)
        return 0;
    memmove(&m->pairs[i], &m->pairs[i + 1], (m->count - (size_t)i - 1) * sizeof(test_pair));
    m->count--;
    return 1;
}

/* Field number id as bytes: text, some with NUL or CR/LF, id 0 empty, a
 * few long ones (to pass small value limits). */
static size_t
test_field(size_t id, char *buf)
{
    int n;
    if (id == 0)
        return 0;
    if (id % 11 == 0) {
        memset(buf, 'F', 40);
        n = snprintf(buf + 40, 20, "%zu", id);
        return (size_t)n + 40;
    }
    n = snprintf(buf, TEST_MAX_LEN, "f%zu", id);
    if (id % 7 == 0)
        buf[1] = '\0';
    if (id % 5 == 0)
        buf[0] = '\n';
    return (size_t)n;
}

/* A random value of 0..maxlen bytes, bytes of any value. */
static size_t
test_value(char *buf, size_t maxlen)
{
    size_t len = test_rng_below(maxlen + 1);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)test_rng();
    return len;
}

/* Checks o against m: count, every lookup, and the pair order for a
 * listpack (as a set for a hashtable). */
static void
test_assert_same(ks_obj *o, const test_model *m)
{
    ks_hash_iter it;
    const char *f, *v;
    size_t flen, vlen, n = 0;
    char *seen = calloc(m->count + 1, 1);

    assert_non_null(seen);
    assert_int_equal(ks_hash_check(o), 0);
    assert_int_equal(ks_hash_count(o), m->count);
    for (size_t i = 0; i < m->count; i++) {
        assert_true(ks_hash_find(o, m->pairs[i].f, m->pairs[i].flen, &v, &vlen));
        assert_int_equal(vlen, m->pairs[i].vlen);
        assert_memory_equal(v, m->pairs[i].v, vlen);
    }
    ks_hash_iter_start(&it, o);
    while (ks_hash_iter_next(&it, &f, &flen, &v, &vlen)) {
        long i = test_model_find(m, f, flen);
        assert_true(i >= 0);
        if (o->enc == KS_ENC_LISTPACK)
            assert_int_equal(i, (long)n);
        assert_false(seen[i]);
        seen[i] = 1;
        assert_int_equal(vlen, m->pairs[i].vlen);
        assert_memory_equal(v, m->pairs[i].v, vlen);
        n++;
    }
    ks_hash_iter_stop(&it);
    assert_int_equal(n, m->count);
    free(seen);
}

/*
 * Runs steps random operations on a hash under lim, checking against the
 * model after each. The expected encoding follows Redis: hashtable once a
 * stored field or value was longer than max_value or the count passed
 * max_entries, listpack before that, never back.
 */
static void
test_model_run(ks_obj *o, const ks_hash_limits *lim, size_t steps, size_t fields, size_t maxval)
{
    test_model *m = calloc(1, sizeof(*m));
    int want_ht = o->enc == KS_ENC_HASHTABLE;
    char fb[TEST_MAX_LEN], vb[TEST_MAX_LEN];

    assert_non_null(m);
    for (size_t s = 0; s < steps; s++) {
        size_t flen = test_field(test_rng_below(fields), fb);
        unsigned op = (unsigned)test_rng_below(10);
        if (op < 6) {
            size_t vlen = test_value(vb, maxval);
            int added = test_model_set(m, fb, flen, vb, vlen);
            assert_int_equal(ks_hash_set(o, fb, flen, vb, vlen, lim), added);
            if (flen > lim->max_value || vlen > lim->max_value || m->count > lim->max_entries)
                want_ht = 1;
        } else if (op < 9) {
            assert_int_equal(ks_hash_del(o, fb, flen), test_model_del(m, fb, flen));
        } else {
            long i = test_model_find(m, fb, flen);
            assert_int_equal(ks_hash_find(o, fb, flen, NULL, NULL), i >= 0);
        }
        assert_int_equal(o->enc, want_ht ? KS_ENC_HASHTABLE : KS_ENC_LISTPACK);
        if (s % 16 == 0 || s == steps - 1)
            test_assert_same(o, m);
        else
            assert_int_equal(ks_hash_count(o), m->count);
    }
    free(m);
}

/* ---- ks_lp ---- */

/* The packed list against an array of strings: insert anywhere, replace
 * with shorter and longer data (crossing varint sizes), delete runs, and
 * walk both ways. */
static void
test_hash_lp_model_random_ops(void **state)
{
    enum { N = 300 };
    static char data[N][300];
    static size_t lens[N];
    size_t count = 0;
    ks_lp lp;

    (void)state;
    ks_lp_init(&lp);
    for (int step = 0; step < 4000; step++) {
        unsigned op = (unsigned)test_rng_below(4);
        char buf[300];
        size_t len = test_rng_below(4) == 0 ? test_rng_below(300) : test_rng_below(20);
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)test_rng();
        if ((op == 0 || count == 0) && count < N) {
            size_t at = test_rng_below(count + 1);
            size_t pos = at == count ? KS_LP_NONE : ks_lp_index(&lp, (long long)at);
            size_t got = ks_lp_insert(&lp, pos, buf, len);
            assert_int_equal(got, ks_lp_index(&lp, (long long)at));
            memmove(&data[at + 1], &data[at], (count - at) * sizeof(data[0]));
            memmove(&lens[at + 1], &lens[at], (count - at) * sizeof(lens[0]));
            memcpy(data[at], buf, len);
            lens[at] = len;
            count++;
        } else if (op == 1 && count > 0) {
            size_t at = test_rng_below(count);
            ks_lp_replace(&lp, ks_lp_index(&lp, (long long)at), buf, len);
            memcpy(data[at], buf, len);
            lens[at] = len;
        } else if (op == 2 && count > 0) {
            size_t at = test_rng_below(count), n = 1 + test_rng_below(3);
            size_t next = ks_lp_delete(&lp, ks_lp_index(&lp, (long long)at), n);
            if (n > count - at)
                n = count - at;
            memmove(&data[at], &data[at + n], (count - at - n) * sizeof(data[0]));
            memmove(&lens[at], &lens[at + n], (count - at - n) * sizeof(lens[0]));
            count -= n;
            assert_int_equal(next, at < count ? ks_lp_index(&lp, (long long)at) : KS_LP_NONE);
        } else if (count > 0) {
            size_t at = test_rng_below(count), got;
            size_t pos = ks_lp_find(&lp, ks_lp_first(&lp), data[at], lens[at], 0);
            const char *p = ks_lp_get(&lp, pos, &got);
            assert_int_equal(got, lens[at]);
            assert_memory_equal(p, data[at], got);
        }
        assert_int_equal(ks_lp_check(&lp), 0);
        assert_int_equal(lp.count, count);
    }
    /* Full walks, forwards and backwards, and negative indexes. */
    {
        size_t pos = ks_lp_first(&lp), i = 0, got;
        for (; pos != KS_LP_NONE; pos = ks_lp_next(&lp, pos), i++) {
            const char *p = ks_lp_get(&lp, pos, &got);
            assert_int_equal(got, lens[i]);
            assert_memory_equal(p, data[i], got);
        }
        assert_int_equal(i, count);
        for (pos = ks_lp_last(&lp); pos != KS_LP_NONE; pos = ks_lp_prev(&lp, pos)) {
            const char *p = ks_lp_get(&lp, pos, &got);
            i--;
            assert_int_equal(got, lens[i]);
            assert_memory_equal(p, data[i], got);
        }
        assert_int_equal(i, 0);
        if (count > 0)
            assert_int_equal(ks_lp_index(&lp, -1), ks_lp_last(&lp));
        assert_int_equal(ks_lp_index(&lp, (long long)count), KS_LP_NONE);
        assert_int_equal(ks_lp_index(&lp, -(long long)count - 1), KS_LP_NONE);
    }
    ks_lp_fini(&lp);
}

static void
test_hash_lp_copy_and_check_detects_damage(void **state)
{
    ks_lp lp, cp;
    size_t len;

    (void)state;
    ks_lp_init(&lp);
    assert_int_equal(ks_lp_first(&lp), KS_LP_NONE);
    assert_int_equal(ks_lp_last(&lp), KS_LP_NONE);
    ks_lp_append(&lp, "abc", 3);
    ks_lp_append(&lp, "", 0);
    ks_lp_append(&lp, "xyz", 3);
    ks_lp_copy(&cp, &lp);
    assert_int_equal(ks_lp_check(&cp), 0);
    assert_int_equal(cp.count, 3);
    assert_memory_equal(ks_lp_get(&cp, ks_lp_index(&cp, 2), &len), "xyz", 3);
    lp.buf[0] = 100; /* first length now runs past the end */
    assert_int_equal(ks_lp_check(&lp), -EINVAL);
    lp.buf[0] = 3;
    lp.count = 2;
    assert_int_equal(ks_lp_check(&lp), -EINVAL);
    lp.count = 3;
    assert_int_equal(ks_lp_check(&lp), 0);
    ks_lp_delete(&cp, 0, 10);
    assert_int_equal(cp.count, 0);
    assert_int_equal(cp.len, 0);
    assert_int_equal(ks_lp_check(&cp), 0);
    ks_lp_fini(&lp);
    ks_lp_fini(&cp);
}

/* ---- ks_hash: model runs ---- */

static void
test_hash_model_listpack_keeps_insertion_order(void **state)
{
    ks_hash_limits lim = {100000, 100000};
    ks_obj *o = ks_hash_new();

    (void)state;
    test_model_run(o, &lim, 6000, 60, 70);
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    ks_obj_free(o);
}

static void
test_hash_model_hashtable(void **state)
{
    ks_hash_limits lim = {0, 0};
    ks_obj *o = ks_hash_new();

    (void)state;
    ks_hash_convert(o);
    assert_int_equal(o->enc, KS_ENC_HASHTABLE);
    test_model_run(o, &lim, 6000, 300, 70);
    ks_obj_free(o);
}

/* Small limits: conversion happens mid-run, at the first long field or
 * value or the first count over the limit, whichever comes first. */
static void
test_hash_model_converts_mid_run(void **state)
{
    (void)state;
    for (int round = 0; round < 40; round++) {
        ks_hash_limits lim = {4 + test_rng_below(30), 20 + test_rng_below(60)};
        ks_obj *o = ks_hash_new();
        test_model_run(o, &lim, 300, 10 + test_rng_below(60), 10 + test_rng_below(70));
        ks_obj_free(o);
    }
}

/* ---- ks_hash: thresholds ---- */

static void
test_hash_converts_when_entries_pass_limit(void **state)
{
    ks_hash_limits lim = {4, 64};
    ks_obj *o = ks_hash_new();
    char f[16];

    (void)state;
    for (int i = 0; i < 4; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        assert_int_equal(ks_hash_set(o, f, strlen(f), "v", 1, &lim), 1);
    }
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    assert_int_equal(ks_hash_set(o, "f0", 2, "new", 3, &lim), 0); /* update: no growth */
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    assert_int_equal(ks_hash_set(o, "f4", 2, "v", 1, &lim), 1);
    assert_int_equal(o->enc, KS_ENC_HASHTABLE);
    for (int i = 0; i < 5; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        assert_int_equal(ks_hash_del(o, f, strlen(f)), 1);
    }
    assert_int_equal(ks_hash_count(o), 0);
    assert_int_equal(o->enc, KS_ENC_HASHTABLE); /* conversion only grows */
    assert_int_equal(ks_hash_check(o), 0);
    ks_obj_free(o);
}

/* A listpack that already holds more pairs than a lowered limit converts
 * on its next set, even an update, as Redis checks after every set. */
static void
test_hash_converts_on_update_after_limit_lowered(void **state)
{
    ks_hash_limits lim = {8, 64};
    ks_obj *o = ks_hash_new();

    (void)state;
    ks_hash_set(o, "a", 1, "1", 1, &lim);
    ks_hash_set(o, "b", 1, "2", 1, &lim);
    ks_hash_set(o, "c", 1, "3", 1, &lim);
    lim.max_entries = 2;
    assert_true(ks_hash_find(o, "c", 1, NULL, NULL)); /* reads never convert */
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    assert_int_equal(ks_hash_set(o, "a", 1, "9", 1, &lim), 0);
    assert_int_equal(o->enc, KS_ENC_HASHTABLE); /* 3 pairs > 2, even on an update */
    ks_obj_free(o);
}

static void
test_hash_converts_when_value_or_field_too_long(void **state)
{
    ks_hash_limits lim = {128, 8};
    ks_obj *o = ks_hash_new(), *p = ks_hash_new(), *q = ks_hash_new();
    const char *v;
    size_t vlen;

    (void)state;
    ks_hash_set(o, "f", 1, "12345678", 8, &lim);
    ks_hash_set(o, "12345678", 8, "", 0, &lim);
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    ks_hash_set(o, "f", 1, "123456789", 9, &lim);
    assert_int_equal(o->enc, KS_ENC_HASHTABLE);
    assert_true(ks_hash_find(o, "f", 1, &v, &vlen));
    assert_int_equal(vlen, 9);
    assert_true(ks_hash_find(o, "12345678", 8, NULL, NULL));

    ks_hash_set(p, "123456789", 9, "v", 1, &lim);
    assert_int_equal(p->enc, KS_ENC_HASHTABLE);

    lim.max_value = 0; /* empty fields and values still fit */
    ks_hash_set(q, "", 0, "", 0, &lim);
    assert_int_equal(q->enc, KS_ENC_LISTPACK);
    ks_hash_set(q, "a", 1, "", 0, &lim);
    assert_int_equal(q->enc, KS_ENC_HASHTABLE);
    ks_obj_free(o);
    ks_obj_free(p);
    ks_obj_free(q);
}

/* ---- ks_hash: other behaviours ---- */

static void
test_hash_dup_is_deep_and_keeps_encoding(void **state)
{
    ks_hash_limits lim = {3, 64};
    ks_obj *o = ks_hash_new(), *c1, *c2;
    const char *v;
    size_t vlen;

    (void)state;
    ks_hash_set(o, "a", 1, "1", 1, &lim);
    ks_hash_set(o, "b", 1, "2", 1, &lim);
    c1 = ks_obj_dup(o);
    assert_int_equal(c1->type, KS_HASH);
    assert_int_equal(c1->enc, KS_ENC_LISTPACK);
    ks_hash_set(o, "c", 1, "3", 1, &lim);
    ks_hash_set(o, "d", 1, "4", 1, &lim);
    assert_int_equal(o->enc, KS_ENC_HASHTABLE);
    c2 = ks_obj_dup(o);
    assert_int_equal(c2->enc, KS_ENC_HASHTABLE);
    assert_int_equal(ks_hash_count(c1), 2);
    assert_int_equal(ks_hash_count(c2), 4);
    ks_hash_set(o, "a", 1, "changed", 7, &lim);
    assert_true(ks_hash_find(c2, "a", 1, &v, &vlen));
    assert_int_equal(vlen, 1);
    assert_memory_equal(v, "1", 1);
    assert_int_equal(ks_hash_check(c1), 0);
    assert_int_equal(ks_hash_check(c2), 0);
    ks_obj_free(o);
    ks_obj_free(c1);
    ks_obj_free(c2);
}

static void
test_hash_obj_hooks_name_and_measure(void **state)
{
    ks_hash_limits lim = {1, 64};
    ks_obj *o = ks_hash_new();
    size_t empty;

    (void)state;
    assert_string_equal(ks_obj_type_name(o), "hash");
    assert_string_equal(ks_obj_enc_name(o), "listpack");
    empty = ks_obj_mem(o);
    ks_hash_set(o, "field", 5, "value", 5, &lim);
    assert_true(ks_obj_mem(o) > empty);
    ks_hash_set(o, "field2", 6, "value", 5, &lim);
    assert_string_equal(ks_obj_enc_name(o), "hashtable");
    assert_true(ks_obj_mem(o) > empty);
    ks_obj_free(o);
    ks_obj_free(NULL);
}

/* Collects scanned fields into a flag array indexed by field number. */
static void
test_scan_mark(void *priv, const char *f, size_t flen, const char *v, size_t vlen)
{
    int *marks = priv;
    char buf[32];
    assert_true(flen > 1 && flen < sizeof(buf));
    memcpy(buf, f + 1, flen - 1);
    buf[flen - 1] = '\0';
    assert_int_equal(vlen, flen);
    assert_memory_equal(v, f, flen);
    marks[atoi(buf)]++;
}

static void
test_hash_scan_and_random_cover_every_pair(void **state)
{
    enum { N = 200 };
    ks_hash_limits lim = {50, 64};
    static int marks[N];
    char f[16];

    (void)state;
    for (int round = 0; round < 2; round++) {
        ks_obj *o = ks_hash_new();
        int n = round == 0 ? 40 : N; /* listpack, then hashtable */
        uint64_t cursor = 0;
        int calls = 0;
        for (int i = 0; i < n; i++) {
            snprintf(f, sizeof(f), "f%d", i);
            ks_hash_set(o, f, strlen(f), f, strlen(f), &lim);
        }
        assert_int_equal(o->enc, round == 0 ? KS_ENC_LISTPACK : KS_ENC_HASHTABLE);
        memset(marks, 0, sizeof(marks));
        do {
            cursor = ks_hash_scan(o, cursor, test_scan_mark, marks);
            calls++;
        } while (cursor != 0);
        if (round == 0)
            assert_int_equal(calls, 1); /* a listpack is returned whole */
        for (int i = 0; i < n; i++)
            assert_true(marks[i] >= 1);
        for (int i = 0; i < 500; i++) {
            const char *rf, *rv;
            size_t rfl, rvl;
            ks_hash_random(o, test_rng, &rf, &rfl, &rv, &rvl);
            assert_true(ks_hash_find(o, rf, rfl, NULL, NULL));
            assert_int_equal(rfl, rvl);
            assert_memory_equal(rf, rv, rfl);
        }
        ks_obj_free(o);
    }
}

static void
test_hash_check_detects_duplicate_field(void **state)
{
    ks_obj *o = ks_hash_new();
    ks_lp *lp = (ks_lp *)o->ptr;

    (void)state;
    assert_int_equal(ks_hash_check(o), 0);
    ks_lp_append(lp, "a", 1);
    ks_lp_append(lp, "1", 1);
    assert_int_equal(ks_hash_check(o), 0);
    ks_lp_append(lp, "a", 1);
    assert_int_equal(ks_hash_check(o), -EINVAL); /* odd count */
    ks_lp_append(lp, "2", 1);
    assert_int_equal(ks_hash_check(o), -EINVAL); /* repeated field */
    ks_obj_free(o);
}

#define T(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_hash_lp_model_random_ops),
        T(test_hash_lp_copy_and_check_detects_damage),
        T(test_hash_model_listpack_keeps_insertion_order),
        T(test_hash_model_hashtable),
        T(test_hash_model_converts_mid_run),
        T(test_hash_converts_when_entries_pass_limit),
        T(test_hash_converts_on_update_after_limit_lowered),
        T(test_hash_converts_when_value_or_field_too_long),
        T(test_hash_dup_is_deep_and_keeps_encoding),
        T(test_hash_obj_hooks_name_and_measure),
        T(test_hash_scan_and_random_cover_every_pair),
        T(test_hash_check_detects_duplicate_field),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
