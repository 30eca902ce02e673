/*
 * test_zset.c - unit tests for the sorted set value type (t_zset.h).
 *
 * The core is model-based: thousands of random operations (add under every
 * flag combination, incr, del, del by rank / score / lex, rank, score, at,
 * counts, forward and reverse iterators with offset and count, random,
 * scan) run against a sorted array of (score, member) pairs, on a set that
 * stays a listpack, one that converts mid-run (exactly when an add passes
 * max_entries or max_value, never back), and one that starts as a
 * skiplist; lex runs keep every score equal, as the lex commands expect.
 * ks_zset_check runs after every step. Other cases pin down one behaviour
 * each: conversion at the thresholds, ks_zset_new's choice, the parsers
 * against redis-server 7.0 answers, -0.0 in a listpack, the ks_obj hooks.
 * Dict allocations go through the counting allocator, checked at teardown;
 * the rest is checked by LeakSanitizer. Seeds are printed; set
 * RUNNEL_TEST_SEED to replay one.
 */
#include "broker/keyspace/t_zset.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/keyspace/dict.h"
#include "broker/keyspace/listpack.h"
#include "tests/support/testalloc.h"

static int
test_setup(void **state)
{
    (void)state;
    test_rng_state = test_seed("test_zset") | 1;
    test_alloc_budget = -1;
    test_alloc_live = 0;
    ks_dict_set_allocator(testalloc_malloc, testalloc_free);
    return 0;
}

static int
test_teardown(void **state)
{
    (void)state;
    ks_dict_set_allocator(NULL, NULL);
    assert_int_equal(test_alloc_live, 0);
    return 0;
}

/* ---- The model: a sorted array of (score, member) ---- */

#define TM_CAP  512 /* most members a model holds */
#define TM_MAXM 80  /* longest member generated, bytes */

typedef struct tm_ent {
    double s;        /* score, sign of zero as the set should hold it */
    char m[TM_MAXM]; /* member bytes */
    size_t len;      /* member length */
} tm_ent;

typedef struct tm {
    tm_ent e[TM_CAP]; /* ascending by (score, member) */
    size_t n;         /* entries held */
} tm;

/* Member order written out longhand: bytes, then the shorter first. */
static int
tm_memcmp(const char *a, size_t al, const char *b, size_t bl)
{
    for (size_t i = 0; i < al && i < bl; i++)
        if ((unsigned char)a[i] != (unsigned char)b[i])
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
    return al == bl ? 0 : (al < bl ? -1 : 1);
}

static int
tm_before(double s1, const char *m1, size_t l1, double s2, const char *m2, size_t l2)
{
    if (s1 != s2)
        return s1 < s2;
    return tm_memcmp(m1, l1, m2, l2) < 0;
}

static long
tm_find(const tm *t, const char *m, size_t len)
{
    for (size_t i = 0; i < t->n; i++)
        if (tm_memcmp(t->e[i].m, t->e[i].len, m, len) == 0)
            return (long)i;
    return -1;
}

static void
tm_insert(tm *t, double s, const char *m, size_t len)
{
    size_t i = 0;
    assert_true(t->n < TM_CAP && len <= TM_MAXM);
    while (i < t->n && tm_before(t->e[i].s, t->e[i].m, t->e[i].len, s, m, len))
        i++;
    memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof(t->e[0]));
    t->e[i].s = s;
    memcpy(t->e[i].m, m, len);
    t->e[i].len = len;
    t->n++;
}

static void
tm_remove(tm *t, size_t i)
{
    memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(t->e[0]));
    t->n--;
}

static int
tm_in_range(double s, const ks_zrange *r)
{
    int lo = r->minex ? s > r->min : s >= r->min;
    int hi = r->maxex ? s < r->max : s <= r->max;
    return lo && hi;
}

static int
tm_in_lex(const char *m, size_t len, const ks_zlexrange *lr)
{
    int lo, hi;
    if (lr->mininf)
        lo = lr->mininf < 0;
    else
        lo = lr->minex ? tm_memcmp(m, len, lr->min, lr->minlen) > 0
                       : tm_memcmp(m, len, lr->min, lr->minlen) >= 0;
    if (lr->maxinf)
        hi = lr->maxinf > 0;
    else
        hi = lr->maxex ? tm_memcmp(m, len, lr->max, lr->maxlen) < 0
                       : tm_memcmp(m, len, lr->max, lr->maxlen) <= 0;
    return lo && hi;
}

/* Same score including the sign of zero (the set must keep it exactly). */
static void
test_same_score(double got, double want)
{
    if (isinf(want) || isinf(got))
        assert_true(got == want);
    else
        assert_memory_equal(&got, &want, sizeof(got));
}

/* Checks the whole set against the model, both walk directions. */
static void
test_compare(ks_obj *o, const tm *t)
{
    ks_zset_iter it;
    const char *m;
    size_t len, i = 0;
    double s;

    assert_int_equal(ks_zset_check(o), 0);
    assert_int_equal(ks_zset_count(o), t->n);
    ks_zset_iter_rank(&it, o, 0, SIZE_MAX, 0);
    while (ks_zset_iter_next(&it, &m, &len, &s)) {
        assert_true(i < t->n);
        assert_int_equal(len, t->e[i].len);
        assert_memory_equal(m, t->e[i].m, len);
        test_same_score(s, t->e[i].s);
        i++;
    }
    assert_int_equal(i, t->n);
    ks_zset_iter_rank(&it, o, 0, SIZE_MAX, 1);
    while (ks_zset_iter_next(&it, &m, &len, &s)) {
        assert_true(i > 0);
        i--;
        assert_int_equal(len, t->e[i].len);
        assert_memory_equal(m, t->e[i].m, len);
    }
    assert_int_equal(i, 0);
}

/* ---- Random inputs ---- */

typedef struct test_run {
    size_t max_entries; /* limits passed to every add */
    size_t max_value;
    int lex;            /* 1: every score is TEST_LEX_SCORE, lex operations on */
    int start_skiplist; /* 1: created as a skiplist */
    size_t pool;        /* distinct short members drawn from */
    size_t target;      /* size the op mix drifts towards */
    int steps;          /* operations */
} test_run;

#define TEST_LEX_SCORE 7.0

static const double test_scores[] = {-INFINITY, -1e300, -2.5, -1,    -0.0,    0.0,
                                     0.5,       1,      3,    1e300, INFINITY};

static double
test_rand_score(void)
{
    if (test_below(2))
        return test_scores[test_below(sizeof(test_scores) / sizeof(test_scores[0]))];
    return ((double)test_below(41) - 20) / 2;
}

/* A member: for lex runs a short string over a, b, NUL, 0xff (the empty
 * string included); else "m<n>" from the pool, or rarely one whose length
 * is around max_value. */
static size_t
test_rand_member(const test_run *r, char *buf)
{
    if (r->lex) {
        static const char alpha[] = {'a', 'b', '\0', (char)0xff};
        size_t len = test_below(6);
        for (size_t i = 0; i < len; i++)
            buf[i] = alpha[test_below(4)];
        return len;
    }
    if (test_below(60) == 0) {
        size_t len = r->max_value - 1 + test_below(3);
        if (len > TM_MAXM)
            len = TM_MAXM;
        memset(buf, 'L', len);
        buf[len - 1] = (char)('0' + test_below(3));
        return len;
    }
    return (size_t)snprintf(buf, TM_MAXM, "m%llu", (unsigned long long)test_below(r->pool));
}

static void
test_rand_range(ks_zrange *zr)
{
    zr->min = test_rand_score();
    zr->max = test_below(4) == 0 ? zr->min : test_rand_score();
    zr->minex = (int)test_below(2);
    zr->maxex = (int)test_below(2);
}

/* A lex range built through the parser from random "[x", "(x", "-", "+"
 * texts; buf must hold two items of 8 bytes. */
static void
test_rand_lex(ks_zlexrange *lr, char *buf)
{
    static const char alpha[] = {'a', 'b', '\0', (char)0xff};
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        char *p = buf + 8 * k;
        unsigned kind = (unsigned)test_below(8);
        if (kind == 0) {
            p[0] = '-';
            len[k] = 1;
        } else if (kind == 1) {
            p[0] = '+';
            len[k] = 1;
        } else {
            p[0] = kind & 1 ? '(' : '[';
            len[k] = 1 + test_below(5);
            for (size_t i = 1; i < len[k]; i++)
                p[i] = alpha[test_below(4)];
        }
    }
    assert_int_equal(ks_zset_parse_lexrange(buf, len[0], buf + 8, len[1], lr), 0);
}

/* ---- Model versions of the mutations ---- */

/* ZADD as Redis's zsetAdd decides it; returns 0 or -EDOM, *out, *ns. */
static int
tm_add(tm *t, double score, const char *m, size_t len, int flags, int lp, int *out, double *ns)
{
    long i = tm_find(t, m, len);
    if (i < 0) {
        if (flags & KS_ZADD_XX) {
            *out = KS_ZADD_OUT_NOP;
            return 0;
        }
        *ns = score;
        tm_insert(t, lp && score == 0 ? 0.0 : score, m, len);
        *out = KS_ZADD_OUT_ADDED;
        return 0;
    }
    double cur = t->e[i].s, s = score;
    if (flags & KS_ZADD_NX) {
        *out = KS_ZADD_OUT_NOP;
        return 0;
    }
    if (flags & KS_ZADD_INCR) {
        s = cur + score;
        if (isnan(s))
            return -EDOM;
    }
    if (((flags & KS_ZADD_GT) && !(s > cur)) || ((flags & KS_ZADD_LT) && !(s < cur))) {
        *out = KS_ZADD_OUT_NOP;
        return 0;
    }
    *ns = s;
    if (s == cur) {
        *out = KS_ZADD_OUT_SAME;
        return 0;
    }
    tm_remove(t, (size_t)i);
    tm_insert(t, lp && s == 0 ? 0.0 : s, m, len);
    *out = KS_ZADD_OUT_UPDATED;
    return 0;
}

/* ---- Operation checks ---- */

static void
test_op_add(ks_obj *o, tm *t, const test_run *r, int *converted)
{
    char m[TM_MAXM];
    size_t len = test_rand_member(r, m);
    int flags = (int)test_below(32);
    double score = r->lex ? TEST_LEX_SCORE : test_rand_score();
    ks_zset_limits lim = {r->max_entries, r->max_value};
    int out = -1, mout = -1;
    double ns = NAN, mns = NAN;
    int was_lp = o->enc == KS_ENC_LISTPACK;
    int is_new = tm_find(t, m, len) < 0;
    int rc, mrc;

    if (r->lex)
        flags &= ~KS_ZADD_INCR;
    /* Conversion happens exactly when a new member is really added past
     * a limit: decide it from the model before the call. */
    if (was_lp && is_new && !(flags & KS_ZADD_XX) &&
        (t->n + 1 > r->max_entries || len > r->max_value))
        *converted = 1;
    mrc = tm_add(t, score, m, len, flags, was_lp && !*converted, &mout, &mns);
    rc = ks_zset_add(o, score, m, len, flags, &out, &ns, &lim);
    assert_int_equal(rc, mrc);
    if (rc == 0) {
        assert_int_equal(out, mout);
        if (out != KS_ZADD_OUT_NOP)
            test_same_score(ns, mns);
    }
    assert_int_equal(o->enc, *converted ? KS_ENC_SKIPLIST : KS_ENC_LISTPACK);
}

static void
test_op_queries(ks_obj *o, const tm *t, const test_run *r)
{
    char m[TM_MAXM];
    size_t len = test_rand_member(r, m);
    long i = tm_find(t, m, len);
    double s = NAN;
    int rev = (int)test_below(2);
    long long rank = ks_zset_rank(o, m, len, rev, &s);

    assert_int_equal(ks_zset_score(o, m, len, &s), i >= 0);
    if (i < 0) {
        assert_int_equal(rank, -1);
        return;
    }
    assert_int_equal(rank, rev ? (long long)t->n - 1 - i : i);
    test_same_score(s, t->e[i].s);
    assert_int_equal(ks_zset_rank(o, m, len, !rev, NULL), rev ? i : (long long)t->n - 1 - i);
}

static void
test_op_at(ks_obj *o, const tm *t)
{
    size_t k = test_below(t->n + 2);
    int rev = (int)test_below(2);
    const char *m;
    size_t len;
    double s;
    int got = ks_zset_at(o, k, rev, &m, &len, &s);
    assert_int_equal(got, k < t->n);
    if (got) {
        const tm_ent *e = &t->e[rev ? t->n - 1 - k : k];
        assert_int_equal(len, e->len);
        assert_memory_equal(m, e->m, len);
        test_same_score(s, e->s);
    }
}

/* Collects the model's indices in order (or reverse) that a range walk
 * returns after offset, up to count, into idx; returns how many. kind 0
 * ranks (from start), 1 score range, 2 lex range. */
static size_t
tm_walk(const tm *t, int kind, const ks_zrange *zr, const ks_zlexrange *lr, int rev, size_t offset,
        size_t count, size_t *idx)
{
    size_t n = 0, skipped = 0;
    for (size_t j = 0; j < t->n && n < count; j++) {
        size_t i = rev ? t->n - 1 - j : j;
        int in = kind == 0   ? 1
                 : kind == 1 ? tm_in_range(t->e[i].s, zr)
                             : tm_in_lex(t->e[i].m, t->e[i].len, lr);
        if (!in)
            continue;
        if (skipped < offset) {
            skipped++;
            continue;
        }
        idx[n++] = i;
    }
    return n;
}

static void
test_expect_walk(ks_zset_iter *it, const tm *t, const size_t *idx, size_t n)
{
    const char *m;
    size_t len;
    double s;
    for (size_t k = 0; k < n; k++) {
        assert_true(ks_zset_iter_next(it, &m, &len, &s));
        assert_int_equal(len, t->e[idx[k]].len);
        assert_memory_equal(m, t->e[idx[k]].m, len);
        test_same_score(s, t->e[idx[k]].s);
    }
    assert_false(ks_zset_iter_next(it, &m, &len, &s));
    assert_false(ks_zset_iter_next(it, &m, &len, &s));
}

static void
test_op_iters(ks_obj *o, const tm *t, const test_run *r)
{
    static size_t idx[TM_CAP];
    ks_zset_iter it;
    int rev = (int)test_below(2);
    size_t offset = test_below(4) == 0 ? test_below(t->n + 2) : test_below(3);
    size_t count = test_below(3) == 0 ? SIZE_MAX : test_below(t->n + 2);
    size_t n;

    /* By rank: start rank, count; the model skips start elements. */
    n = tm_walk(t, 0, NULL, NULL, rev, offset, count, idx);
    ks_zset_iter_rank(&it, o, offset, count, rev);
    test_expect_walk(&it, t, idx, n);

    if (!r->lex) {
        ks_zrange zr;
        test_rand_range(&zr);
        n = tm_walk(t, 1, &zr, NULL, rev, offset, count, idx);
        ks_zset_iter_range(&it, o, &zr, rev, offset, count);
        test_expect_walk(&it, t, idx, n);
        assert_int_equal(ks_zset_count_range(o, &zr),
                         tm_walk(t, 1, &zr, NULL, 0, 0, SIZE_MAX, idx));
    } else {
        ks_zlexrange lr;
        char buf[16];
        test_rand_lex(&lr, buf);
        n = tm_walk(t, 2, NULL, &lr, rev, offset, count, idx);
        ks_zset_iter_lex(&it, o, &lr, rev, offset, count);
        test_expect_walk(&it, t, idx, n);
        assert_int_equal(ks_zset_count_lex(o, &lr), tm_walk(t, 2, NULL, &lr, 0, 0, SIZE_MAX, idx));
    }
}

static void
test_op_del(ks_obj *o, tm *t, const test_run *r)
{
    static size_t idx[TM_CAP];
    unsigned kind = (unsigned)test_below(4) % 3; /* 0 (a member) half the time */
    size_t n, removed;

    if (kind == 0) {
        char m[TM_MAXM];
        size_t len = test_rand_member(r, m);
        long i = tm_find(t, m, len);
        assert_int_equal(ks_zset_del(o, m, len), i >= 0);
        if (i >= 0)
            tm_remove(t, (size_t)i);
        return;
    }
    if (kind == 1) {
        if (t->n == 0)
            return;
        size_t start = test_below(t->n);
        size_t end = start + test_below(t->n - start < 4 ? t->n - start : 4);
        assert_int_equal(ks_zset_del_rank(o, start, end), end - start + 1);
        for (size_t k = start; k <= end; k++)
            tm_remove(t, start);
        return;
    }
    if (!r->lex) {
        ks_zrange zr;
        test_rand_range(&zr);
        n = tm_walk(t, 1, &zr, NULL, 0, 0, SIZE_MAX, idx);
        removed = ks_zset_del_range(o, &zr);
    } else {
        ks_zlexrange lr;
        char buf[16];
        test_rand_lex(&lr, buf);
        n = tm_walk(t, 2, NULL, &lr, 0, 0, SIZE_MAX, idx);
        removed = ks_zset_del_lex(o, &lr);
    }
    assert_int_equal(removed, n);
    while (n-- > 0)
        tm_remove(t, idx[n]);
}

static uint64_t
test_rnd(void)
{
    return test_rng();
}

/* Scan callback: marks the model entry of each element reported. */
typedef struct test_scan {
    const tm *t;         /* model */
    unsigned char *seen; /* per model entry */
} test_scan;

static void
test_scan_cb(void *priv, const char *m, size_t len, double score)
{
    test_scan *sc = priv;
    long i = tm_find(sc->t, m, len);
    assert_true(i >= 0);
    test_same_score(score, sc->t->e[i].s);
    sc->seen[i] = 1;
}

static void
test_op_random_scan(ks_obj *o, const tm *t)
{
    unsigned char seen[TM_CAP] = {0};
    test_scan sc = {t, seen};
    uint64_t cursor = 0;
    int calls = 0;

    if (t->n > 0) {
        const char *m;
        size_t len;
        double s;
        ks_zset_random(o, test_rnd, &m, &len, &s);
        long i = tm_find(t, m, len);
        assert_true(i >= 0);
        test_same_score(s, t->e[i].s);
    }
    do {
        cursor = ks_zset_scan(o, cursor, test_scan_cb, &sc);
        assert_true(++calls < 100000);
    } while (cursor != 0);
    for (size_t i = 0; i < t->n; i++)
        assert_true(seen[i]);
    size_t maxlen = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].len > maxlen)
            maxlen = t->e[i].len;
    assert_int_equal(ks_zset_max_member_len(o), maxlen);
}

static void
test_run_model(const test_run *r)
{
    static tm t;
    ks_zset_limits lim = {r->max_entries, r->max_value};
    ks_obj *o = ks_zset_new(r->start_skiplist ? r->max_entries + 1 : 0, 0, &lim);
    int converted = r->start_skiplist;

    t.n = 0;
    assert_int_equal(o->enc, converted ? KS_ENC_SKIPLIST : KS_ENC_LISTPACK);
    for (int step = 0; step < r->steps; step++) {
        /* Below the target size, adds are drawn three times as often. */
        unsigned op = (unsigned)test_below(t.n < r->target ? 18 : 10);
        if (op >= 10)
            op = op % 4;
        if (op < 4 && t.n < TM_CAP - 1)
            test_op_add(o, &t, r, &converted);
        else if (op == 4 || (op < 4 && t.n >= TM_CAP - 1))
            test_op_del(o, &t, r);
        else if (op == 5)
            test_op_queries(o, &t, r);
        else if (op == 6)
            test_op_at(o, &t);
        else if (op == 7 || op == 8)
            test_op_iters(o, &t, r);
        else
            test_op_random_scan(o, &t);
        test_compare(o, &t);
        assert_int_equal(o->enc, converted ? KS_ENC_SKIPLIST : KS_ENC_LISTPACK);
    }
    ks_obj_free(o);
}

/* ---- Model-based cases ---- */

static void
test_zset_model_listpack(void **state)
{
    /* Limits never reached: the set must stay a listpack throughout. */
    test_run r = {TM_CAP, TM_MAXM, 0, 0, 300, 250, 4000};
    (void)state;
    test_run_model(&r);
}

static void
test_zset_model_converts(void **state)
{
    /* Small limits: the run crosses max_entries or max_value early. */
    test_run r = {24, 12, 0, 0, 200, 120, 4000};
    (void)state;
    test_run_model(&r);
}

static void
test_zset_model_skiplist(void **state)
{
    test_run r = {16, 64, 0, 1, 800, 450, 6000};
    (void)state;
    test_run_model(&r);
}

static void
test_zset_model_lex_listpack(void **state)
{
    test_run r = {TM_CAP, TM_MAXM, 1, 0, 0, 200, 4000};
    (void)state;
    test_run_model(&r);
}

static void
test_zset_model_lex_skiplist(void **state)
{
    test_run r = {8, 64, 1, 1, 0, 400, 5000};
    (void)state;
    test_run_model(&r);
}

/* ---- Single behaviours ---- */

static void
test_zset_converts_at_max_entries(void **state)
{
    ks_zset_limits lim = {4, 8};
    ks_obj *o = ks_zset_new(0, 0, &lim);
    char m[16];
    int out;
    (void)state;
    for (int i = 0; i < 4; i++) {
        snprintf(m, sizeof(m), "m%d", i);
        assert_int_equal(ks_zset_add(o, i, m, 2, 0, &out, NULL, &lim), 0);
        assert_int_equal(out, KS_ZADD_OUT_ADDED);
    }
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    /* Updating or refusing at the limit does not convert. */
    assert_int_equal(ks_zset_add(o, 9, "m0", 2, 0, &out, NULL, &lim), 0);
    assert_int_equal(out, KS_ZADD_OUT_UPDATED);
    assert_int_equal(ks_zset_add(o, 9, "m9", 2, KS_ZADD_XX, &out, NULL, &lim), 0);
    assert_int_equal(out, KS_ZADD_OUT_NOP);
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    assert_int_equal(ks_zset_add(o, 5, "m5", 2, 0, &out, NULL, &lim), 0);
    assert_int_equal(o->enc, KS_ENC_SKIPLIST);
    assert_int_equal(ks_zset_count(o), 5);
    assert_int_equal(ks_zset_check(o), 0);
    /* Deleting back below the limit never converts back. */
    assert_int_equal(ks_zset_del(o, "m5", 2), 1);
    assert_int_equal(ks_zset_del(o, "m1", 2), 1);
    assert_int_equal(o->enc, KS_ENC_SKIPLIST);
    ks_obj_free(o);
}

static void
test_zset_converts_at_max_value(void **state)
{
    ks_zset_limits lim = {128, 8};
    ks_obj *o = ks_zset_new(0, 0, &lim);
    int out;
    double s;
    (void)state;
    assert_int_equal(ks_zset_add(o, 1, "12345678", 8, 0, &out, NULL, &lim), 0);
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    assert_int_equal(ks_zset_add(o, 2, "123456789", 9, KS_ZADD_XX, &out, NULL, &lim), 0);
    assert_int_equal(out, KS_ZADD_OUT_NOP);
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    assert_int_equal(ks_zset_add(o, 2, "123456789", 9, 0, &out, NULL, &lim), 0);
    assert_int_equal(out, KS_ZADD_OUT_ADDED);
    assert_int_equal(o->enc, KS_ENC_SKIPLIST);
    assert_int_equal(ks_zset_check(o), 0);
    assert_true(ks_zset_score(o, "12345678", 8, &s));
    assert_true(s == 1);
    ks_obj_free(o);
}

static void
test_zset_new_picks_encoding(void **state)
{
    ks_zset_limits lim = {4, 8}, zero = {0, 8};
    struct {
        size_t count, maxlen;
        const ks_zset_limits *lim;
        int enc;
    } cases[] = {
        {0, 0, &lim, KS_ENC_LISTPACK},  {4, 8, &lim, KS_ENC_LISTPACK},
        {5, 8, &lim, KS_ENC_SKIPLIST},  {4, 9, &lim, KS_ENC_SKIPLIST},
        {0, 0, &zero, KS_ENC_SKIPLIST}, {1, 0, &zero, KS_ENC_SKIPLIST},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ks_obj *o = ks_zset_new(cases[i].count, cases[i].maxlen, cases[i].lim);
        assert_int_equal(o->type, KS_ZSET);
        assert_int_equal(o->enc, cases[i].enc);
        assert_int_equal(ks_zset_count(o), 0);
        assert_int_equal(ks_zset_check(o), 0);
        ks_obj_free(o);
    }
}

static void
test_zset_convert_both_ways(void **state)
{
    static tm t;
    ks_zset_limits lim = {1000, 64};
    ks_obj *o = ks_zset_new(0, 0, &lim);
    int out;
    (void)state;
    t.n = 0;
    for (int i = 0; i < 200; i++) {
        char m[16];
        int n = snprintf(m, sizeof(m), "k%d", (int)test_below(300));
        double s = test_rand_score();
        if (s == 0)
            s = 0.0; /* a listpack holds no -0.0 */
        double ns;
        int mout;
        tm_add(&t, s, m, (size_t)n, 0, 1, &mout, &ns);
        ks_zset_add(o, s, m, (size_t)n, 0, &out, NULL, &lim);
    }
    test_compare(o, &t);
    ks_zset_convert(o, KS_ENC_LISTPACK);
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    ks_zset_convert(o, KS_ENC_SKIPLIST);
    assert_int_equal(o->enc, KS_ENC_SKIPLIST);
    test_compare(o, &t);
    ks_zset_convert(o, KS_ENC_SKIPLIST);
    test_compare(o, &t);
    ks_zset_convert(o, KS_ENC_LISTPACK);
    assert_int_equal(o->enc, KS_ENC_LISTPACK);
    test_compare(o, &t);
    ks_obj_free(o);
}

static void
test_zset_negative_zero(void **state)
{
    ks_zset_limits lim = {128, 64};
    ks_obj *o = ks_zset_new(0, 0, &lim);
    int out;
    double s, ns;
    (void)state;
    /* Listpack: Redis stores "-0" as 0, yet the reply carries -0. */
    assert_int_equal(ks_zset_add(o, -0.0, "x", 1, KS_ZADD_INCR, &out, &ns, &lim), 0);
    assert_int_equal(out, KS_ZADD_OUT_ADDED);
    assert_true(ns == 0 && signbit(ns));
    assert_true(ks_zset_score(o, "x", 1, &s));
    assert_true(s == 0 && !signbit(s));
    /* 0 and -0 compare equal: ZADD -0 is SAME, GT refuses it. */
    assert_int_equal(ks_zset_add(o, -0.0, "x", 1, 0, &out, NULL, &lim), 0);
    assert_int_equal(out, KS_ZADD_OUT_SAME);
    assert_int_equal(ks_zset_add(o, -0.0, "x", 1, KS_ZADD_GT, &out, NULL, &lim), 0);
    assert_int_equal(out, KS_ZADD_OUT_NOP);
    /* Skiplist keeps -0.0 exactly, and a 0 update leaves it alone. */
    ks_zset_convert(o, KS_ENC_SKIPLIST);
    assert_int_equal(ks_zset_add(o, -0.0, "y", 1, 0, &out, NULL, &lim), 0);
    assert_true(ks_zset_score(o, "y", 1, &s));
    assert_true(s == 0 && signbit(s));
    assert_int_equal(ks_zset_add(o, 0.0, "y", 1, 0, &out, NULL, &lim), 0);
    assert_int_equal(out, KS_ZADD_OUT_SAME);
    assert_true(ks_zset_score(o, "y", 1, &s));
    assert_true(signbit(s));
    assert_int_equal(ks_zset_check(o), 0);
    /* Back to a listpack: the sign is dropped, as Redis's conversion. */
    ks_zset_convert(o, KS_ENC_LISTPACK);
    assert_true(ks_zset_score(o, "y", 1, &s));
    assert_true(s == 0 && !signbit(s));
    assert_int_equal(ks_zset_check(o), 0);
    ks_obj_free(o);
}

static void
test_zset_incr_nan_changes_nothing(void **state)
{
    ks_zset_limits lims[2] = {{128, 64}, {0, 64}};
    (void)state;
    for (int k = 0; k < 2; k++) {
        ks_obj *o = ks_zset_new(0, 0, &lims[k]);
        int out = 12345;
        double s, ns = 1;
        assert_int_equal(ks_zset_add(o, INFINITY, "a", 1, 0, &out, NULL, &lims[k]), 0);
        assert_int_equal(ks_zset_add(o, -INFINITY, "a", 1, KS_ZADD_INCR, &out, &ns, &lims[k]),
                         -EDOM);
        assert_true(ks_zset_score(o, "a", 1, &s));
        assert_true(s == INFINITY);
        assert_true(ns == 1);
        /* inf + 1 stays inf: SAME, and GT refuses it. */
        assert_int_equal(ks_zset_add(o, 1, "a", 1, KS_ZADD_INCR, &out, &ns, &lims[k]), 0);
        assert_int_equal(out, KS_ZADD_OUT_SAME);
        assert_true(ns == INFINITY);
        assert_int_equal(ks_zset_add(o, 1, "a", 1, KS_ZADD_INCR | KS_ZADD_GT, &out, &ns, &lims[k]),
                         0);
        assert_int_equal(out, KS_ZADD_OUT_NOP);
        assert_int_equal(ks_zset_check(o), 0);
        ks_obj_free(o);
    }
}

/* ---- Parsers: the tables are redis-server 7.0.15's answers ---- */

static void
test_zset_parse_score_table(void **state)
{
    static const struct {
        const char *s;
        size_t len;
        int ok;
        double v;
    } cases[] = {
        {"1.5", 3, 1, 1.5},
        {"0x10", 4, 1, 16},
        {"0X1p3", 5, 1, 8},
        {"1e-310", 6, 1, 1e-310},
        {"inf", 3, 1, INFINITY},
        {"-INF", 4, 1, -INFINITY},
        {"+Inf", 4, 1, INFINITY},
        {"infinity", 8, 1, INFINITY},
        {".5", 2, 1, 0.5},
        {"5.", 2, 1, 5},
        {"+1", 2, 1, 1},
        {"-0", 2, 1, -0.0},
        {" 1", 2, 0, 0},
        {"\t1", 2, 0, 0},
        {"1 ", 2, 0, 0},
        {"1e400", 5, 0, 0},
        {"-1e400", 6, 0, 0},
        {"1e-400", 6, 0, 0},
        {"", 0, 0, 0},
        {"nan", 3, 0, 0},
        {"0x", 2, 0, 0},
        {"1e", 2, 0, 0},
        {"--1", 3, 0, 0},
        {"1_0", 3, 0, 0},
        {"1\0", 2, 0, 0},
        {"abc", 3, 0, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double v = 42;
        int rc = ks_zset_parse_score(cases[i].s, cases[i].len, &v);
        assert_int_equal(rc, cases[i].ok ? 0 : -EINVAL);
        if (cases[i].ok)
            test_same_score(v, cases[i].v);
        else
            assert_true(v == 42);
    }
}

static void
test_zset_parse_range_table(void **state)
{
    static const struct {
        const char *s;
        size_t len;
        int ok;
        double v;
        int ex;
    } cases[] = {
        {"", 0, 1, 0, 0},
        {"(", 1, 1, 0, 1},
        {" 1", 2, 1, 1, 0},
        {"(1", 2, 1, 1, 1},
        {"( 1", 3, 1, 1, 1},
        {"0x1", 3, 1, 1, 0},
        {"1e400", 5, 1, INFINITY, 0},
        {"(1e400", 6, 1, INFINITY, 1},
        {"inf", 3, 1, INFINITY, 0},
        {"(inf", 4, 1, INFINITY, 1},
        {"-inf", 4, 1, -INFINITY, 0},
        {"+inf", 4, 1, INFINITY, 0},
        {"infinity", 8, 1, INFINITY, 0},
        {"1\0x", 3, 1, 1, 0},
        {"(1\0x", 4, 1, 1, 1},
        {"1 ", 2, 0, 0, 0},
        {"nan", 3, 0, 0, 0},
        {"(nan", 4, 0, 0, 0},
        {"abc", 3, 0, 0, 0},
        {"((1", 3, 0, 0, 0},
        {"1e", 2, 0, 0, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ks_zrange r = {7, 7, 7, 7};
        /* The entry is tried as min, then as max with a valid min. */
        int rc = ks_zset_parse_range(cases[i].s, cases[i].len, "2", 1, &r);
        assert_int_equal(rc, cases[i].ok ? 0 : -EINVAL);
        if (cases[i].ok) {
            test_same_score(r.min, cases[i].v);
            assert_int_equal(r.minex, cases[i].ex);
            assert_true(r.max == 2 && r.maxex == 0);
        } else {
            assert_true(r.min == 7 && r.minex == 7);
        }
        rc = ks_zset_parse_range("(3", 2, cases[i].s, cases[i].len, &r);
        assert_int_equal(rc, cases[i].ok ? 0 : -EINVAL);
        if (cases[i].ok) {
            test_same_score(r.max, cases[i].v);
            assert_int_equal(r.maxex, cases[i].ex);
            assert_true(r.min == 3 && r.minex == 1);
        }
    }
}

static void
test_zset_parse_lexrange_table(void **state)
{
    static const struct {
        const char *s;
        size_t len;
        int ok;
        int inf;
        int ex;
        const char *b;
        size_t blen;
    } cases[] = {
        {"-", 1, 1, -1, 0, NULL, 0},    {"+", 1, 1, 1, 0, NULL, 0},
        {"-\0x", 3, 1, -1, 0, NULL, 0}, {"[", 1, 1, 0, 0, "", 0},
        {"(", 1, 1, 0, 1, "", 0},       {"[a", 2, 1, 0, 0, "a", 1},
        {"(ab", 3, 1, 0, 1, "ab", 2},   {"[a\0", 3, 1, 0, 0, "a\0", 2},
        {"-x", 2, 0, 0, 0, NULL, 0},    {"++", 2, 0, 0, 0, NULL, 0},
        {"", 0, 0, 0, 0, NULL, 0},      {"a", 1, 0, 0, 0, NULL, 0},
        {" [a", 3, 0, 0, 0, NULL, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ks_zlexrange lr;
        memset(&lr, 0x5a, sizeof(lr));
        int rc = ks_zset_parse_lexrange(cases[i].s, cases[i].len, "+", 1, &lr);
        assert_int_equal(rc, cases[i].ok ? 0 : -EINVAL);
        if (!cases[i].ok) {
            assert_int_equal(ks_zset_parse_lexrange("-", 1, cases[i].s, cases[i].len, &lr),
                             -EINVAL);
            continue;
        }
        assert_int_equal(lr.mininf, cases[i].inf);
        assert_int_equal(lr.maxinf, 1);
        if (cases[i].inf == 0) {
            assert_int_equal(lr.minex, cases[i].ex);
            assert_int_equal(lr.minlen, cases[i].blen);
            assert_memory_equal(lr.min, cases[i].b, cases[i].blen);
        }
        assert_int_equal(ks_zset_parse_lexrange("-", 1, cases[i].s, cases[i].len, &lr), 0);
        assert_int_equal(lr.maxinf, cases[i].inf);
        if (cases[i].inf == 0) {
            assert_int_equal(lr.maxex, cases[i].ex);
            assert_int_equal(lr.maxlen, cases[i].blen);
        }
    }
}

static void
test_zset_lex_counts_match_redis(void **state)
{
    /* ZADD zl 0 a 0 b 0 c 0 a\0b, then ZLEXCOUNT answers from redis 7.0. */
    static const struct {
        const char *min;
        size_t minlen;
        const char *max;
        size_t maxlen;
        size_t count;
    } cases[] = {
        {"-", 1, "+", 1, 4},   {"+", 1, "+", 1, 0},   {"-", 1, "-", 1, 0},    {"[", 1, "+", 1, 4},
        {"[a", 2, "(b", 2, 2}, {"(a", 2, "[b", 2, 2}, {"[a\0", 3, "+", 1, 3}, {"[b", 2, "[a", 2, 0},
        {"[a", 2, "(a", 2, 0}, {"[a", 2, "[a", 2, 1}, {"+", 1, "-", 1, 0},    {"-", 1, "[b", 2, 3},
    };
    ks_zset_limits lims[2] = {{128, 64}, {0, 64}};
    (void)state;
    for (int k = 0; k < 2; k++) {
        ks_obj *o = ks_zset_new(0, 0, &lims[k]);
        int out;
        ks_zset_add(o, 0, "a", 1, 0, &out, NULL, &lims[k]);
        ks_zset_add(o, 0, "b", 1, 0, &out, NULL, &lims[k]);
        ks_zset_add(o, 0, "c", 1, 0, &out, NULL, &lims[k]);
        ks_zset_add(o, 0, "a\0b", 3, 0, &out, NULL, &lims[k]);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            ks_zlexrange lr;
            assert_int_equal(ks_zset_parse_lexrange(cases[i].min, cases[i].minlen, cases[i].max,
                                                    cases[i].maxlen, &lr),
                             0);
            assert_int_equal(ks_zset_count_lex(o, &lr), cases[i].count);
        }
        ks_obj_free(o);
    }
}

static void
test_zset_obj_hooks(void **state)
{
    ks_zset_limits lims[2] = {{128, 64}, {0, 64}};
    static const char *names[2] = {"listpack", "skiplist"};
    (void)state;
    for (int k = 0; k < 2; k++) {
        ks_obj *o = ks_zset_new(0, 0, &lims[k]);
        size_t empty = ks_obj_mem(o);
        int out;
        double s;
        for (int i = 0; i < 50; i++) {
            char m[16];
            int n = snprintf(m, sizeof(m), "member-%d", i);
            ks_zset_add(o, i, m, (size_t)n, 0, &out, NULL, &lims[k]);
        }
        assert_string_equal(ks_obj_type_name(o), "zset");
        assert_string_equal(ks_obj_enc_name(o), names[k]);
        assert_true(ks_obj_mem(o) > empty);
        ks_obj *c = ks_obj_dup(o);
        assert_int_equal(c->enc, o->enc);
        assert_int_equal(ks_zset_check(c), 0);
        assert_int_equal(ks_zset_count(c), 50);
        /* The copy is independent of the original. */
        ks_zset_del(o, "member-7", 8);
        assert_true(ks_zset_score(c, "member-7", 8, &s));
        assert_true(s == 7);
        assert_false(ks_zset_score(o, "member-7", 8, &s));
        ks_obj_free(c);
        ks_obj_free(o);
    }
}

/* Builds a listpack sorted set from (member, score bytes) entries. */
static ks_obj *
test_raw_lp(const char *const *m, const double *sc, size_t n, size_t score_len)
{
    ks_zset_limits lim = {128, 64};
    ks_obj *o = ks_zset_new(0, 0, &lim);
    ks_lp *lp = (ks_lp *)o->ptr;
    for (size_t i = 0; i < n; i++) {
        ks_lp_append(lp, m[i], strlen(m[i]));
        if (score_len > 0)
            ks_lp_append(lp, &sc[i], score_len);
    }
    return o;
}

static void
test_zset_check_rejects_bad_listpack(void **state)
{
    static const char *const ab[] = {"a", "b"}, *const ba[] = {"b", "a"}, *const aa[] = {"a", "a"},
                             *const pre[] = {"ab", "a"};
    static const double up[] = {1, 2}, same[] = {1, 1}, nan2[] = {1, NAN}, negz[] = {-0.0, 1};
    struct {
        const char *const *m;
        const double *sc;
        size_t n, slen;
        int rc;
    } cases[] = {
        {ab, up, 2, 8, 0},         {ab, same, 2, 8, 0},       {ba, same, 2, 8, -EINVAL},
        {ba, up, 2, 8, 0},         {aa, up, 2, 8, -EINVAL},   {pre, same, 2, 8, -EINVAL},
        {ab, nan2, 2, 8, -EINVAL}, {ab, negz, 2, 8, -EINVAL}, {ab, up, 2, 4, -EINVAL},
        {ab, up, 1, 0, -EINVAL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ks_obj *o = test_raw_lp(cases[i].m, cases[i].sc, cases[i].n, cases[i].slen);
        assert_int_equal(ks_zset_check(o), cases[i].rc);
        ks_obj_free(o);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)

int
main(void)
{
    // clang-format off
    const struct CMUnitTest tests[] = {
        T(test_zset_model_listpack),
        T(test_zset_model_converts),
        T(test_zset_model_skiplist),
        T(test_zset_model_lex_listpack),
        T(test_zset_model_lex_skiplist),
        T(test_zset_converts_at_max_entries),
        T(test_zset_converts_at_max_value),
        T(test_zset_new_picks_encoding),
        T(test_zset_convert_both_ways),
        T(test_zset_negative_zero),
        T(test_zset_incr_nan_changes_nothing),
        T(test_zset_parse_score_table),
        T(test_zset_parse_range_table),
        T(test_zset_parse_lexrange_table),
        T(test_zset_lex_counts_match_redis),
        T(test_zset_obj_hooks),
        T(test_zset_check_rejects_bad_listpack),
    };
    // clang-format on
    return cmocka_run_group_tests(tests, NULL, NULL);
}
