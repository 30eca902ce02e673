/*
 * test_stream.c - unit tests for the stream log (streams/stream.h).
 *
 * The core is a model-based random test: appends (random field sets, master-
 * equal ones included, values of every encoding class), range reads both ways
 * with random bounds, deletes (direct and through an iterator), and MAXLEN /
 * MINID trims, exact and approximate with LIMIT, checked against a vector of
 * live entries with stream_check after every batch; approximate trims are
 * checked white-box against the head blocks Redis's rules allow to go. Other
 * cases pin one behaviour each: ID parsing vectors from Redis 7.0.15, ID
 * generation edges, trim and max-deleted-entry-id rules, backward walks of
 * big blocks, -ENOMEM rollback through a fail-after-N allocator, and memory
 * per entry. Allocations are counted and every teardown asserts none is left.
 * Seeds are printed; set RUNNEL_TEST_SEED to replay one.
 */
#include "streams/stream.h"

#include "streams/rax.h"
#include "streams/stream_int.h"

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

#include "tests/support/testalloc.h"

static int
test_setup(void **state)
{
    unsigned long long seed = test_seed("test_stream");

    (void)state;
    test_rng_state = seed ? seed : 1;
    test_alloc_budget = -1;
    test_alloc_live = 0;
    stream_set_allocator(testalloc_malloc, testalloc_realloc, testalloc_free);
    rax_set_allocator(testalloc_malloc, testalloc_realloc, testalloc_free);
    return 0;
}

static int
test_teardown(void **state)
{
    (void)state;
    stream_set_allocator(NULL, NULL, NULL);
    rax_set_allocator(NULL, NULL, NULL);
    assert_int_equal(test_alloc_live, 0);
    return 0;
}

/* ---- Helpers ---- */

static const stream_id test_id_max = {UINT64_MAX, UINT64_MAX};

static stream_id
test_id(uint64_t ms, uint64_t seq)
{
    stream_id id = {ms, seq};

    return id;
}

static stream_field
test_str(const char *s)
{
    stream_field f = {s, strlen(s)};

    return f;
}

static void
test_assert_id(stream_id got, uint64_t ms, uint64_t seq)
{
    if (got.ms != ms || got.seq != seq)
        fail_msg("id %llu-%llu, expected %llu-%llu", (unsigned long long)got.ms,
                 (unsigned long long)got.seq, (unsigned long long)ms, (unsigned long long)seq);
}

/* Appends "f v" with an explicit ID; asserts success. */
static void
test_add(stream *s, uint64_t ms, uint64_t seq, size_t max_bytes, size_t max_entries)
{
    stream_field fv[2] = {test_str("f"), test_str("v")};
    stream_id id = {ms, seq}, out;

    assert_int_equal(
        stream_append(s, STREAM_ID_EXPLICIT, &id, fv, 1, 0, max_bytes, max_entries, &out), 0);
    test_assert_id(out, ms, seq);
}

/* Entry IDs of s from a full iteration in the given direction. */
static size_t
test_collect(stream *s, int rev, stream_id *ids, size_t max)
{
    stream_iter it;
    stream_id id;
    size_t n = 0, np;

    stream_iter_start(&it, s, NULL, NULL, rev);
    while (stream_iter_next(&it, &id, &np)) {
        assert_true(n < max);
        ids[n++] = id;
    }
    stream_iter_stop(&it);
    return n;
}

/* ---- Model ---- */

typedef struct m_bytes {
    unsigned char *p; /* heap copy (plain malloc, not counted) */
    size_t len;       /* bytes */
} m_bytes;

typedef struct m_entry {
    stream_id id;  /* entry ID */
    size_t npairs; /* pairs */
    m_bytes *fv;   /* 2 * npairs byte strings */
} m_entry;

typedef struct model {
    m_entry *e;         /* live entries, ascending IDs */
    size_t n;           /* live entries */
    size_t cap;         /* slots in e */
    stream_id last;     /* last generated ID */
    stream_id maxdel;   /* max-deleted-entry-id (XDEL only) */
    uint64_t added;     /* entries-added */
    size_t max_bytes;   /* current node_max_bytes */
    size_t max_entries; /* current node_max_entries */
} model;

static void
model_entry_free(m_entry *e)
{
    size_t k;

    for (k = 0; k < 2 * e->npairs; k++)
        free(e->fv[k].p);
    free(e->fv);
}

static void
model_fini(model *m)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        model_entry_free(&m->e[i]);
    free(m->e);
}

static void
model_push(model *m, const stream_id *id, const stream_field *fv, size_t npairs)
{
    m_entry *e;
    size_t k;

    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->e = realloc(m->e, m->cap * sizeof(*m->e));
        assert_non_null(m->e);
    }
    e = &m->e[m->n++];
    e->id = *id;
    e->npairs = npairs;
    e->fv = calloc(2 * npairs + 1, sizeof(*e->fv));
    assert_non_null(e->fv);
    for (k = 0; k < 2 * npairs; k++) {
        e->fv[k].len = fv[k].len;
        e->fv[k].p = malloc(fv[k].len + 1);
        assert_non_null(e->fv[k].p);
        if (fv[k].len > 0)
            memcpy(e->fv[k].p, fv[k].ptr, fv[k].len);
    }
}

/* Index of the first entry with ID >= id. */
static size_t
model_lower(const model *m, const stream_id *id)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (stream_id_cmp(&m->e[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void
model_remove_at(model *m, size_t i)
{
    model_entry_free(&m->e[i]);
    memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(*m->e));
    m->n--;
}

/* XDEL in the model: 1 if id was live. */
static int
model_delete(model *m, const stream_id *id)
{
    size_t i = model_lower(m, id);

    if (i == m->n || stream_id_cmp(&m->e[i].id, id) != 0)
        return 0;
    model_remove_at(m, i);
    if (stream_id_cmp(id, &m->maxdel) > 0)
        m->maxdel = *id;
    return 1;
}

static void
model_drop_head(model *m, size_t k)
{
    size_t i;

    assert_true(k <= m->n);
    if (k == 0)
        return;
    for (i = 0; i < k; i++)
        model_entry_free(&m->e[i]);
    memmove(m->e, m->e + k, (m->n - k) * sizeof(*m->e));
    m->n -= k;
}

/* The entry's pairs as the iterator yields them must equal the model's. */
static void
model_match_fields(stream_iter *it, const m_entry *e, size_t npairs)
{
    stream_field f, v;
    size_t k;

    assert_int_equal(npairs, e->npairs);
    for (k = 0; k < e->npairs; k++) {
        assert_int_equal(stream_iter_field(it, &f, &v), 1);
        assert_int_equal(f.len, e->fv[2 * k].len);
        assert_int_equal(v.len, e->fv[2 * k + 1].len);
        assert_true(f.len == 0 || memcmp(f.ptr, e->fv[2 * k].p, f.len) == 0);
        assert_true(v.len == 0 || memcmp(v.ptr, e->fv[2 * k + 1].p, v.len) == 0);
    }
    assert_int_equal(stream_iter_field(it, &f, &v), 0);
}

/* Iterates [a, b] in direction rev and compares every entry with the model. */
static void
model_check_range(stream *s, const model *m, const stream_id *a, const stream_id *b, int rev)
{
    size_t lo = model_lower(m, a), hi = lo, got = 0, np;
    stream_iter it;
    stream_id id;

    while (hi < m->n && stream_id_cmp(&m->e[hi].id, b) <= 0)
        hi++;
    if (stream_id_cmp(a, b) > 0)
        hi = lo;
    stream_iter_start(&it, s, a, b, rev);
    while (stream_iter_next(&it, &id, &np)) {
        const m_entry *e;

        assert_true(lo + got < hi);
        e = rev ? &m->e[hi - 1 - got] : &m->e[lo + got];
        test_assert_id(id, e->id.ms, e->id.seq);
        model_match_fields(&it, e, np);
        got++;
    }
    stream_iter_stop(&it);
    assert_int_equal(got, hi - lo);
}

static void
model_check_meta(stream *s, const model *m)
{
    stream_id id;

    assert_int_equal(stream_check(s), 0);
    assert_int_equal(stream_len(s), m->n);
    test_assert_id(stream_last_id(s), m->last.ms, m->last.seq);
    test_assert_id(stream_max_deleted_id(s), m->maxdel.ms, m->maxdel.seq);
    assert_int_equal(stream_entries_added(s), m->added);
    if (m->n == 0) {
        assert_int_equal(stream_first_entry(s, &id), 0);
        assert_int_equal(stream_last_entry(s, &id), 0);
    } else {
        assert_int_equal(stream_first_entry(s, &id), 1);
        test_assert_id(id, m->e[0].id.ms, m->e[0].id.seq);
        assert_int_equal(stream_last_entry(s, &id), 1);
        test_assert_id(id, m->e[m->n - 1].id.ms, m->e[m->n - 1].id.seq);
    }
    assert_int_equal(stream_rax_keys(s), s->blocks);
}

/* ---- Random content ---- */

#define GEN_MAX 700 /* longest generated string */

/* A value from one of the encoding classes; returns its length. */
static size_t
gen_value(unsigned char *buf)
{
    static const char *fixed[] = {"0",
                                  "-0",
                                  "01",
                                  "+1",
                                  "42",
                                  "127",
                                  "128",
                                  "-1",
                                  "-128",
                                  "-129",
                                  "255",
                                  "256",
                                  "65535",
                                  "-9223372036854775808",
                                  "9223372036854775807",
                                  "9223372036854775808",
                                  "-9223372036854775809",
                                  "21.5",
                                  "-21.5",
                                  "0.5",
                                  "-0.5",
                                  "0.05",
                                  "1.50",
                                  "-0.0",
                                  "0.0",
                                  "00.5",
                                  ".5",
                                  "5.",
                                  "1e5",
                                  "3.14159265358979323846",
                                  "123456789012345678.9",
                                  "12345678901234567.8",
                                  "0.1234567890123456",
                                  "0.12345678901234567",
                                  "-",
                                  " 1",
                                  "1 ",
                                  "nan",
                                  "inf",
                                  "1.2.3",
                                  "--1",
                                  "+0.5"};
    size_t len, k;

    switch (test_below(8)) {
    case 0:
        return (size_t)sprintf((char *)buf, "%u", (unsigned)test_below(200));
    case 1:
        return (size_t)sprintf((char *)buf, "%lld",
                               (long long)(test_rng() >> (1 + test_below(63))) *
                                   (test_below(2) ? -1 : 1));
    case 2:
        return (size_t)sprintf((char *)buf, "%s%u.%0*u", test_below(3) ? "" : "-",
                               (unsigned)test_below(1000), 1 + (int)test_below(4),
                               (unsigned)test_below(1000));
    case 3:
        k = test_below(sizeof(fixed) / sizeof(fixed[0]));
        len = strlen(fixed[k]);
        memcpy(buf, fixed[k], len);
        return len;
    case 4: /* binary with NULs */
        len = test_below(80);
        for (k = 0; k < len; k++)
            buf[k] = (unsigned char)(test_below(4) == 0 ? 0 : test_rng());
        return len;
    case 5:
        return 0;
    case 6: /* around the short/long string boundary, and long */
        len = test_below(2) ? 62 + test_below(4) : test_below(GEN_MAX);
        for (k = 0; k < len; k++)
            buf[k] = (unsigned char)('a' + test_below(26));
        return len;
    default:
        len = 1 + test_below(8);
        for (k = 0; k < len; k++)
            buf[k] = (unsigned char)('a' + test_below(3));
        return len;
    }
}

/* Field-set templates; numbers and the empty string are field names too. */
static const char *const gen_t0[] = {"sensor", "temp"};
static const char *const gen_t1[] = {"a"};
static const char *const gen_t2[] = {"user", "action", "ts", "1", "2"};
static const char *const gen_t4[] = {"", "x"};
static const char *const gen_t5[] = {"sensor", "temp", "extra"};
static const char *const gen_t6[] = {"temp", "sensor"};
static const char *const gen_pool[] = {"sensor", "temp", "a", "b",  "1",   "-1", "21.5",
                                       "",       "user", "x", "ts", "f12", "0"};

typedef struct gen_entry {
    unsigned char buf[2 * 48][GEN_MAX]; /* backing bytes */
    stream_field fv[2 * 48];            /* fields and values */
    size_t npairs;                      /* pairs */
} gen_entry;

static void
gen_set_field(gen_entry *g, size_t j, const char *name)
{
    size_t len = strlen(name);

    memcpy(g->buf[2 * j], name, len);
    g->fv[2 * j].ptr = g->buf[2 * j];
    g->fv[2 * j].len = len;
}

static void
gen_fields(gen_entry *g)
{
    const char *const *t = NULL;
    size_t n = 0, j;
    unsigned pick = (unsigned)test_below(12);

    switch (pick) {
    case 0:
    case 1:
    case 2:
        t = gen_t0, n = 2;
        break;
    case 3:
        t = gen_t1, n = 1;
        break;
    case 4:
        t = gen_t2, n = 5;
        break;
    case 5:
        t = gen_t4, n = 2;
        break;
    case 6:
        t = gen_t5, n = 3;
        break;
    case 7:
        t = gen_t6, n = 2;
        break;
    default:
        break;
    }
    if (t != NULL) {
        g->npairs = n;
        for (j = 0; j < n; j++)
            gen_set_field(g, j, t[j]);
        return;
    }
    if (pick == 8 || pick == 9) { /* 40 fields: positional references only */
        char name[16];

        g->npairs = 40;
        for (j = 0; j < 40; j++) {
            sprintf(name, "f%zu", pick == 9 && j % 7 == 3 ? j + 100 : j);
            gen_set_field(g, j, name);
        }
        return;
    }
    g->npairs = test_below(16) == 0 ? 0 : 1 + test_below(6);
    for (j = 0; j < g->npairs; j++) {
        if (test_below(5) == 0) {
            size_t len = gen_value(g->buf[2 * j]);

            g->fv[2 * j].ptr = g->buf[2 * j];
            g->fv[2 * j].len = len;
        } else {
            gen_set_field(g, j, gen_pool[test_below(sizeof(gen_pool) / sizeof(gen_pool[0]))]);
        }
    }
}

static void
gen_entry_fill(gen_entry *g)
{
    size_t j;

    gen_fields(g);
    for (j = 0; j < g->npairs; j++) {
        g->fv[2 * j + 1].len = gen_value(g->buf[2 * j + 1]);
        g->fv[2 * j + 1].ptr = g->buf[2 * j + 1];
    }
}

/* The result stream_append must give, per the contract in stream.h. */
static int
model_expect_id(const model *m, int mode, const stream_id *given, uint64_t now, stream_id *out)
{
    stream_id id = m->last;

    if (mode == STREAM_ID_EXPLICIT && given->ms == 0 && given->seq == 0)
        return -EINVAL;
    if (stream_id_cmp(&m->last, &test_id_max) == 0)
        return -ERANGE;
    if (mode == STREAM_ID_AUTO) {
        if (now > m->last.ms)
            id = test_id(now, 0);
        else
            assert_int_equal(stream_id_incr(&id), 0);
    } else if (mode == STREAM_ID_AUTO_SEQ) {
        if (given->ms == m->last.ms) {
            if (m->last.seq == UINT64_MAX)
                return -ERANGE;
            id.seq++;
        } else {
            id = test_id(given->ms, 0);
        }
    } else {
        id = *given;
    }
    if (stream_id_cmp(&id, &m->last) <= 0)
        return -EDOM;
    *out = id;
    return 0;
}

/* One random append checked against the model. */
static void
model_op_append(stream *s, model *m, gen_entry *g, uint64_t *clock)
{
    int mode = (int)test_below(10), rc, want;
    stream_id given = m->last, out = {0, 0}, expect = {0, 0};

    gen_entry_fill(g);
    /* A clock that mostly creeps forward, sometimes jumps, sometimes goes back. */
    switch (test_below(10)) {
    case 0:
        *clock = *clock > 5 ? *clock - 5 : 0;
        break;
    case 1:
        *clock += 64 + test_below(100000);
        break;
    case 2:
    case 3:
        *clock += 1;
        break;
    default:
        break;
    }
    mode = mode < 6 ? STREAM_ID_AUTO : mode < 8 ? STREAM_ID_AUTO_SEQ : STREAM_ID_EXPLICIT;
    if (mode == STREAM_ID_AUTO_SEQ) {
        uint64_t r = test_below(4);

        given.ms = r == 0   ? m->last.ms
                   : r == 1 ? m->last.ms + 1 + test_below(70)
                            : m->last.ms - (m->last.ms > 0);
        given.seq = 0;
    } else if (mode == STREAM_ID_EXPLICIT) {
        uint64_t r = test_below(6);

        if (r == 0)
            given = test_id(0, 0);
        else if (r == 1)
            given = m->last; /* equal: EDOM */
        else if (r == 2)
            given = test_id(m->last.ms, m->last.seq + 1 + test_below(1000));
        else
            given = test_id(m->last.ms + 1 + test_below(r == 3 ? (uint64_t)1 << 40 : 200),
                            test_below(r == 4 ? (uint64_t)1 << 62 : 3));
    }
    want = model_expect_id(m, mode, &given, *clock, &expect);
    rc = stream_append(s, mode, &given, g->fv, g->npairs, *clock, m->max_bytes, m->max_entries,
                       &out);
    assert_int_equal(rc, want);
    if (rc != 0)
        return;
    test_assert_id(out, expect.ms, expect.seq);
    model_push(m, &out, g->fv, g->npairs);
    m->last = out;
    m->added++;
}

/* A random ID near the model's content. */
static stream_id
model_pick_id(const model *m)
{
    stream_id id;

    if (m->n == 0 || test_below(8) == 0)
        return test_below(2) ? test_id(0, 0) : test_below(2) ? test_id_max : m->last;
    id = m->e[test_below(m->n)].id;
    switch (test_below(4)) {
    case 0:
        (void)stream_id_incr(&id);
        break;
    case 1:
        (void)stream_id_decr(&id);
        break;
    default:
        break;
    }
    return id;
}

static void
model_op_delete(stream *s, model *m)
{
    stream_id id = model_pick_id(m);
    int want = model_delete(m, &id);

    assert_int_equal(stream_delete(s, &id), want);
}

/* Deletes about a third of a random range through the iterator. */
static void
model_op_iter_delete(stream *s, model *m)
{
    stream_id a = model_pick_id(m), b = model_pick_id(m), id, *ids, *del;
    int rev = (int)test_below(2);
    size_t lo, hi, n, k = 0, nd = 0, np;
    stream_iter it;

    if (stream_id_cmp(&a, &b) > 0) {
        stream_id t = a;

        a = b;
        b = t;
    }
    lo = model_lower(m, &a);
    for (hi = lo; hi < m->n && stream_id_cmp(&m->e[hi].id, &b) <= 0; hi++)
        ;
    n = hi - lo;
    ids = calloc(n + 1, sizeof(*ids));
    del = calloc(n + 1, sizeof(*del));
    assert_true(ids != NULL && del != NULL);
    for (k = 0; k < n; k++)
        ids[k] = m->e[rev ? hi - 1 - k : lo + k].id;
    k = 0;
    stream_iter_start(&it, s, &a, &b, rev);
    while (stream_iter_next(&it, &id, &np)) {
        assert_true(k < n);
        test_assert_id(id, ids[k].ms, ids[k].seq);
        if (test_below(3) == 0) {
            stream_field f, v;

            stream_iter_delete(&it);
            assert_int_equal(stream_iter_field(&it, &f, &v), 0);
            del[nd++] = id;
        }
        k++;
    }
    stream_iter_stop(&it);
    assert_int_equal(k, n);
    for (k = 0; k < nd; k++)
        assert_int_equal(model_delete(m, &del[k]), 1);
    free(ids);
    free(del);
}

/* Live counts and last IDs of the blocks, head first (white-box). */
static size_t
model_blocks(const stream *s, uint64_t *live, stream_id *last, size_t max)
{
    const stream_block *b;
    size_t n = 0;

    for (b = s->head; b != NULL && n < max; b = b->next, n++) {
        stream__entry e;

        stream__entry_read(b, b->last_off, &e);
        live[n] = b->live;
        last[n] = e.id;
    }
    return n;
}

#define MODEL_MAX_BLOCKS 4096

static void
model_op_trim(stream *s, model *m)
{
    static uint64_t live[MODEL_MAX_BLOCKS];
    static stream_id last[MODEL_MAX_BLOCKS];
    int strategy = test_below(2) ? STREAM_TRIM_MAXLEN : STREAM_TRIM_MINID;
    int approx = (int)test_below(2);
    int64_t limit = approx && test_below(2) ? (int64_t)(1 + test_below(300)) : 0, got;
    uint64_t maxlen = test_below(m->n + 5), before = m->n, sum = 0;
    stream_id minid = model_pick_id(m);
    size_t nb = model_blocks(s, live, last, MODEL_MAX_BLOCKS), k = 0, i;

    assert_true(nb < MODEL_MAX_BLOCKS);
    got = stream_trim(s, strategy, maxlen, &minid, approx, limit);
    assert_true(got >= 0 && (uint64_t)got <= before);
    if (!approx) {
        size_t want = 0;

        if (strategy == STREAM_TRIM_MAXLEN)
            want = m->n > maxlen ? m->n - maxlen : 0;
        else
            want = model_lower(m, &minid);
        assert_int_equal(got, want);
        model_drop_head(m, want);
        return;
    }
    /* Approximate: exactly the whole head blocks the rules allow. */
    while (k < nb) {
        int whole = strategy == STREAM_TRIM_MAXLEN
                        ? before - sum > maxlen && before - sum - live[k] >= maxlen
                        : stream_id_cmp(&last[k], &minid) < 0;

        if (!whole || (limit > 0 && sum + live[k] > (uint64_t)limit))
            break;
        sum += live[k++];
    }
    assert_int_equal(got, sum);
    for (i = 0; i < sum; i++)
        if (strategy == STREAM_TRIM_MINID)
            assert_true(stream_id_cmp(&m->e[i].id, &minid) < 0);
    assert_true(strategy != STREAM_TRIM_MAXLEN || sum == 0 || before - sum >= maxlen);
    model_drop_head(m, sum);
}

static void
model_check_all(stream *s, const model *m)
{
    stream_id a, b;
    int k;

    model_check_meta(s, m);
    model_check_range(s, m, &(stream_id){0, 0}, &test_id_max, 0);
    model_check_range(s, m, &(stream_id){0, 0}, &test_id_max, 1);
    for (k = 0; k < 4; k++) {
        a = model_pick_id(m);
        b = model_pick_id(m);
        model_check_range(s, m, &a, &b, k & 1);
        model_check_range(s, m, &b, &a, k & 1);
    }
}

/* Node limits the broker might pass (it may change them between calls). */
static void
model_pick_limits(model *m)
{
    static const size_t limits[][2] = {{4096, 100}, {0, 0}, {64, 0},   {0, 3},
                                       {200, 10},   {1, 1}, {4096, 0}, {0, 300}};
    size_t k = test_below(sizeof(limits) / sizeof(limits[0]));

    m->max_bytes = limits[k][0];
    m->max_entries = limits[k][1];
}

/* ---- Cases: IDs ---- */

typedef struct id_vec {
    const char *s; /* argument */
    int strict;    /* strict parse */
    int with_auto; /* pass seq_auto */
    int rc;        /* expected return */
    uint64_t ms;   /* expected ms */
    uint64_t seq;  /* expected seq */
    int seq_given; /* expected *seq_given */
    int seq_auto;  /* expected *seq_auto */
} id_vec;

/* Results checked against redis-server 7.0.15 (XADD/XRANGE replies). */
static void
test_stream_id_parse_matches_redis(void **state)
{
    static const id_vec v[] = {
        {"0-0", 0, 0, 0, 0, 0, 1, 0},
        {"-", 0, 0, 0, 0, 0, 1, 0},
        {"+", 0, 0, 0, UINT64_MAX, UINT64_MAX, 1, 0},
        {"-", 1, 0, -EINVAL, 0, 0, 0, 0},
        {"+", 1, 0, -EINVAL, 0, 0, 0, 0},
        {"5", 0, 0, 0, 5, 77, 0, 0},
        {"18446744073709551615-18446744073709551615", 1, 0, 0, UINT64_MAX, UINT64_MAX, 1, 0},
        {"18446744073709551615", 1, 0, 0, UINT64_MAX, 77, 0, 0},
        {"18446744073709551616", 0, 0, -EINVAL, 0, 0, 0, 0},
        {"1-18446744073709551616", 0, 0, -EINVAL, 0, 0, 0, 0},
        {"1-", 0, 0, -EINVAL, 0, 0, 0, 0},
        {"-1", 0, 0, -EINVAL, 0, 0, 0, 0},
        {"", 0, 0, -EINVAL, 0, 0, 0, 0},
        {" 1", 0, 0, 0, 1, 77, 0, 0},
        {"1 ", 0, 0, -EINVAL, 0, 0, 0, 0},
        {"+1", 0, 0, 0, 1, 77, 0, 0},
        {"01", 0, 0, 0, 1, 77, 0, 0},
        {"0x1", 0, 0, -EINVAL, 0, 0, 0, 0},
        {"1- 2", 0, 0, 0, 1, 2, 1, 0},
        {"1-+2", 0, 0, 0, 1, 2, 1, 0},
        {"1--0", 0, 0, 0, 1, 0, 1, 0},
        {"1--1", 0, 0, -EINVAL, 0, 0, 0, 0},
        {"1--01", 0, 0, 0, 1, UINT64_MAX, 1, 0},
        {"1--00000000000000000001", 0, 0, 0, 1, UINT64_MAX, 1, 0},
        {"1--9223372036854775808", 0, 0, -EINVAL, 0, 0, 0, 0},
        {"1--9223372036854775809", 0, 0, 0, 1, 9223372036854775807ULL, 1, 0},
        {"1--18446744073709551615", 0, 0, 0, 1, 1, 1, 0},
        {"1--18446744073709551616", 0, 0, -EINVAL, 0, 0, 0, 0},
        {"9223372036854775808", 0, 0, 0, 9223372036854775808ULL, 77, 0, 0},
        {"00000000000000000000001", 0, 0, 0, 1, 77, 0, 0},
        {"1-*", 0, 0, -EINVAL, 0, 0, 0, 0},
        {"1-*", 1, 1, 0, 1, 0, 0, 1},
        {"1-**", 1, 1, -EINVAL, 0, 0, 0, 0},
        {"*", 1, 1, -EINVAL, 0, 0, 0, 0},
        {"1-2-3", 0, 0, -EINVAL, 0, 0, 0, 0},
    };
    size_t k;

    (void)state;
    for (k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
        stream_id id = {123, 456};
        int given = -1, autoseq = -1;
        int rc = stream_id_parse(v[k].s, strlen(v[k].s), &id, 77, v[k].strict, &given,
                                 v[k].with_auto ? &autoseq : NULL);

        if (rc != v[k].rc)
            fail_msg("\"%s\": rc %d, expected %d", v[k].s, rc, v[k].rc);
        if (rc != 0) {
            test_assert_id(id, 123, 456); /* untouched on error */
            continue;
        }
        test_assert_id(id, v[k].ms, v[k].seq);
        assert_int_equal(given, v[k].seq_given);
        if (v[k].with_auto)
            assert_int_equal(autoseq, v[k].seq_auto);
    }
}

static void
test_stream_id_parse_length_and_nul(void **state)
{
    char buf[200];
    stream_id id;

    (void)state;
    memset(buf, '0', sizeof(buf));
    buf[126] = '7';
    assert_int_equal(stream_id_parse(buf, 127, &id, 0, 0, NULL, NULL), 0);
    test_assert_id(id, 7, 0);
    assert_int_equal(stream_id_parse(buf, 128, &id, 0, 0, NULL, NULL), -EINVAL);
    /* Like Redis's C-string copy, an embedded NUL ends the argument. */
    assert_int_equal(stream_id_parse("12\0junk", 7, &id, 3, 0, NULL, NULL), 0);
    test_assert_id(id, 12, 3);
    assert_int_equal(stream_id_parse("-\0x", 3, &id, 3, 0, NULL, NULL), 0);
    test_assert_id(id, 0, 0);
    assert_int_equal(stream_id_parse("-\0x", 3, &id, 3, 1, NULL, NULL), -EINVAL);
}

static void
test_stream_id_fmt_cmp_incr_decr(void **state)
{
    char buf[STREAM_ID_STR_MAX];
    stream_id a = {UINT64_MAX, UINT64_MAX}, b = {0, 0}, c = {5, UINT64_MAX};

    (void)state;
    assert_int_equal(stream_id_fmt(buf, &a), 41);
    assert_string_equal(buf, "18446744073709551615-18446744073709551615");
    assert_int_equal(stream_id_fmt(buf, &b), 3);
    assert_string_equal(buf, "0-0");
    assert_true(stream_id_cmp(&b, &a) < 0 && stream_id_cmp(&a, &b) > 0);
    assert_int_equal(stream_id_cmp(&c, &c), 0);
    assert_true(stream_id_cmp(&(stream_id){4, UINT64_MAX}, &(stream_id){5, 0}) < 0);
    assert_int_equal(stream_id_incr(&a), -ERANGE);
    test_assert_id(a, UINT64_MAX, UINT64_MAX);
    assert_int_equal(stream_id_decr(&b), -ERANGE);
    test_assert_id(b, 0, 0);
    assert_int_equal(stream_id_incr(&c), 0);
    test_assert_id(c, 6, 0);
    assert_int_equal(stream_id_decr(&c), 0);
    test_assert_id(c, 5, UINT64_MAX);
}

/* ---- Cases: ID generation ---- */

static void
test_stream_auto_id_survives_clock_going_back(void **state)
{
    stream *s = stream_new();
    stream_field fv[2] = {test_str("k"), test_str("v")};
    stream_id out;

    (void)state;
    assert_non_null(s);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 1, 1000, 4096, 100, &out), 0);
    test_assert_id(out, 1000, 0);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 1, 1000, 4096, 100, &out), 0);
    test_assert_id(out, 1000, 1);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 1, 400, 4096, 100, &out), 0);
    test_assert_id(out, 1000, 2); /* clock went back: reuse last ms */
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 1, 0, 4096, 100, &out), 0);
    test_assert_id(out, 1000, 3);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 1, 1001, 4096, 100, &out), 0);
    test_assert_id(out, 1001, 0);
    assert_int_equal(stream_check(s), 0);
    stream_free(s);
}

static void
test_stream_seq_overflow_rules(void **state)
{
    stream *s = stream_new();
    stream_field fv[2] = {test_str("k"), test_str("v")};
    stream_id out = {9, 9}, id;

    (void)state;
    /* AUTO carries into ms when seq is exhausted. */
    test_add(s, 7, UINT64_MAX, 4096, 100);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 1, 3, 4096, 100, &out), 0);
    test_assert_id(out, 8, 0);
    /* AUTO_SEQ cannot: -ERANGE, nothing added. */
    test_add(s, 9, UINT64_MAX, 4096, 100);
    id = test_id(9, 0);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO_SEQ, &id, fv, 1, 0, 4096, 100, &out), -ERANGE);
    id = test_id(8, 0);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO_SEQ, &id, fv, 1, 0, 4096, 100, &out), -EDOM);
    id = test_id(10, 0);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO_SEQ, &id, fv, 1, 0, 4096, 100, &out), 0);
    test_assert_id(out, 10, 0);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO_SEQ, &id, fv, 1, 0, 4096, 100, &out), 0);
    test_assert_id(out, 10, 1);
    /* Explicit errors in Redis's order. */
    id = test_id(0, 0);
    assert_int_equal(stream_append(s, STREAM_ID_EXPLICIT, &id, fv, 1, 0, 4096, 100, &out), -EINVAL);
    id = test_id(10, 1);
    assert_int_equal(stream_append(s, STREAM_ID_EXPLICIT, &id, fv, 1, 0, 4096, 100, &out), -EDOM);
    /* The last possible ID exhausts every mode; explicit 0-0 still says EINVAL. */
    test_add(s, UINT64_MAX, UINT64_MAX, 4096, 100);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 1, 0, 4096, 100, &out), -ERANGE);
    id = test_id(UINT64_MAX, 0);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO_SEQ, &id, fv, 1, 0, 4096, 100, &out), -ERANGE);
    assert_int_equal(stream_append(s, STREAM_ID_EXPLICIT, &test_id_max, fv, 1, 0, 4096, 100, &out),
                     -ERANGE);
    id = test_id(0, 0);
    assert_int_equal(stream_append(s, STREAM_ID_EXPLICIT, &id, fv, 1, 0, 4096, 100, &out), -EINVAL);
    assert_int_equal(stream_len(s), 6);
    assert_int_equal(stream_entries_added(s), 6);
    assert_int_equal(stream_check(s), 0);
    stream_free(s);
}

static void
test_stream_auto_seq_on_empty_stream_gives_0_1(void **state)
{
    stream *s = stream_new();
    stream_field fv[2] = {test_str("k"), test_str("v")};
    stream_id id = {0, 0}, out;

    (void)state;
    assert_int_equal(stream_append(s, STREAM_ID_AUTO_SEQ, &id, fv, 1, 0, 4096, 100, &out), 0);
    test_assert_id(out, 0, 1);
    stream_free(s);
}

static void
test_stream_too_large_entry_is_e2big(void **state)
{
    stream *s = stream_new();
    char small[4] = "abc";
    stream_field fv[4] = {{small, 1}, {small, (size_t)1 << 30}, {small, 1}, {small, 1}};
    stream_id out = {1, 1};

    (void)state;
    /* Lengths are checked before any byte is read. */
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 2, 5, 4096, 100, &out), -E2BIG);
    assert_int_equal(stream_len(s), 0);
    fv[1].len = 1;
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 2, 5, 4096, 100, &out), 0);
    assert_int_equal(stream_len(s), 1);
    stream_free(s);
}

/* ---- Cases: content ---- */

static void
test_stream_values_round_trip_byte_exact(void **state)
{
    static const char *vals[] = {"0",
                                 "-0",
                                 "01",
                                 "+1",
                                 "127",
                                 "128",
                                 "-1",
                                 "-128",
                                 "-129",
                                 "32767",
                                 "-32768",
                                 "9223372036854775807",
                                 "-9223372036854775808",
                                 "9223372036854775808",
                                 "21.5",
                                 "-21.5",
                                 "0.05",
                                 "1.50",
                                 "-0.0",
                                 "0.0",
                                 "00.5",
                                 ".5",
                                 "5.",
                                 "1e5",
                                 "0.1234567890123456",
                                 "0.12345678901234567",
                                 "123456789012345678.9",
                                 "99999999999999999.9",
                                 "",
                                 "-",
                                 "1.",
                                 "-.5",
                                 "0.0000000000000001",
                                 "-0.0000000000000001",
                                 "12345678.123456789"};
    size_t n = sizeof(vals) / sizeof(vals[0]), k;
    stream *s = stream_new();
    stream_iter it;
    stream_id id;
    size_t np;

    (void)state;
    for (k = 0; k < n; k++) {
        stream_field fv[4] = {test_str(vals[k]), test_str(vals[k]), test_str("v"),
                              test_str(vals[n - 1 - k])};

        assert_int_equal(
            stream_append(s, STREAM_ID_EXPLICIT, &(stream_id){1, k + 1}, fv, 2, 0, 4096, 8, NULL),
            0);
    }
    assert_int_equal(stream_check(s), 0);
    k = 0;
    stream_iter_start(&it, s, NULL, NULL, 0);
    while (stream_iter_next(&it, &id, &np)) {
        stream_field f, v;

        assert_int_equal(np, 2);
        assert_int_equal(stream_iter_field(&it, &f, &v), 1);
        assert_int_equal(f.len, strlen(vals[k]));
        assert_memory_equal(f.ptr, vals[k], f.len);
        assert_memory_equal(v.ptr, vals[k], v.len);
        assert_int_equal(stream_iter_field(&it, &f, &v), 1);
        assert_int_equal(v.len, strlen(vals[n - 1 - k]));
        assert_memory_equal(v.ptr, vals[n - 1 - k], v.len);
        k++;
    }
    assert_int_equal(k, n);
    stream_free(s);
}

static void
test_stream_blocks_follow_node_limits(void **state)
{
    stream *s = stream_new();
    uint64_t k;

    (void)state;
    for (k = 1; k <= 1000; k++)
        test_add(s, k, 0, 4096, 100);
    assert_int_equal(stream_rax_keys(s), 10);
    stream_free(s);
    s = stream_new();
    for (k = 1; k <= 100; k++)
        test_add(s, k, 0, 1, 0); /* every block takes exactly its first entry */
    assert_int_equal(stream_rax_keys(s), 100);
    stream_free(s);
    s = stream_new();
    for (k = 1; k <= 5000; k++)
        test_add(s, k, 0, 0, 0); /* no limits: the hard entry cap applies */
    assert_int_equal(stream_rax_keys(s), 2);
    assert_int_equal(stream_check(s), 0);
    stream_free(s);
}

static void
test_stream_mixed_field_sets_share_blocks(void **state)
{
    stream *s = stream_new();
    stream_field a[4] = {test_str("sensor"), test_str("1"), test_str("temp"), test_str("2")};
    stream_field b[6] = {test_str("temp"), test_str("3"), test_str("sensor"),
                         test_str("4"),    test_str("x"), test_str("5")};
    stream_field f, v;
    stream_iter it;
    stream_id id;
    size_t np, k = 0;

    (void)state;
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, a, 2, 1, 4096, 100, NULL), 0);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, b, 3, 1, 4096, 100, NULL), 0);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, a, 2, 1, 4096, 100, NULL), 0);
    assert_int_equal(stream_rax_keys(s), 1);
    assert_int_equal(stream_check(s), 0);
    stream_iter_start(&it, s, NULL, NULL, 1);
    while (stream_iter_next(&it, &id, &np)) {
        const stream_field *want = k == 1 ? b : a;
        size_t j;

        assert_int_equal(np, k == 1 ? 3 : 2);
        for (j = 0; j < np; j++) {
            assert_int_equal(stream_iter_field(&it, &f, &v), 1);
            assert_int_equal(f.len, want[2 * j].len);
            assert_memory_equal(f.ptr, want[2 * j].ptr, f.len);
            assert_memory_equal(v.ptr, want[2 * j + 1].ptr, v.len);
        }
        k++;
    }
    assert_int_equal(k, 3);
    stream_free(s);
}

static void
test_stream_reverse_walks_blocks_larger_than_ring(void **state)
{
    static stream_id fwd[3000], rev[3000];
    stream *s = stream_new();
    size_t n, k;

    (void)state;
    for (k = 0; k < 3000; k++)
        test_add(s, 1 + k / 7, k % 7, 0, 0); /* one block of 3000 entries */
    for (k = 0; k < 3000; k += 5)
        assert_int_equal(stream_delete(s, &(stream_id){1 + k / 7, k % 7}), 1);
    assert_int_equal(stream_rax_keys(s), 1);
    n = test_collect(s, 0, fwd, 3000);
    assert_int_equal(test_collect(s, 1, rev, 3000), n);
    assert_int_equal(n, 2400);
    for (k = 0; k < n; k++)
        assert_int_equal(stream_id_cmp(&fwd[k], &rev[n - 1 - k]), 0);
    /* Random bounds inside the block, both directions, against the forward list. */
    for (k = 0; k < 200; k++) {
        size_t lo = test_below(n), hi = lo + test_below(n - lo), got = 0, np;
        int back = (int)test_below(2);
        stream_iter it;
        stream_id id;

        stream_iter_start(&it, s, &fwd[lo], &fwd[hi], back);
        while (stream_iter_next(&it, &id, &np)) {
            assert_true(got <= hi - lo);
            assert_int_equal(stream_id_cmp(&id, back ? &fwd[hi - got] : &fwd[lo + got]), 0);
            got++;
        }
        assert_int_equal(got, hi - lo + 1);
    }
    stream_free(s);
}

/* ---- Cases: delete and trim ---- */

static void
test_stream_xdel_sets_max_deleted_trim_does_not(void **state)
{
    stream *s = stream_new();
    stream_id id;
    uint64_t k;

    (void)state;
    for (k = 1; k <= 5; k++)
        test_add(s, k, 1, 4096, 100);
    assert_int_equal(stream_trim(s, STREAM_TRIM_MAXLEN, 2, NULL, 0, 0), 3);
    test_assert_id(stream_max_deleted_id(s), 0, 0);
    assert_int_equal(stream_first_entry(s, &id), 1);
    test_assert_id(id, 4, 1);
    assert_int_equal(stream_delete(s, &(stream_id){5, 1}), 1);
    test_assert_id(stream_max_deleted_id(s), 5, 1);
    assert_int_equal(stream_delete(s, &(stream_id){5, 1}), 0);
    assert_int_equal(stream_delete(s, &(stream_id){4, 1}), 1);
    test_assert_id(stream_max_deleted_id(s), 5, 1); /* only grows */
    assert_int_equal(stream_len(s), 0);
    assert_int_equal(stream_rax_keys(s), 0); /* the emptied block is gone */
    test_add(s, 6, 1, 4096, 100);
    assert_int_equal(stream_first_entry(s, &id), 1);
    test_assert_id(id, 6, 1);
    assert_int_equal(stream_entries_added(s), 6);
    assert_int_equal(stream_check(s), 0);
    stream_free(s);
}

static void
test_stream_trim_approx_and_limit(void **state)
{
    stream *s = stream_new();
    uint64_t k;

    (void)state;
    for (k = 1; k <= 1000; k++)
        test_add(s, k, 0, 4096, 100);
    /* ~ keeps whole blocks: 1000 -> 950 removes nothing more than 0 whole blocks. */
    assert_int_equal(stream_trim(s, STREAM_TRIM_MAXLEN, 950, NULL, 1, 0), 0);
    assert_int_equal(stream_trim(s, STREAM_TRIM_MAXLEN, 850, NULL, 1, 0), 100);
    /* LIMIT stops before a block that would pass it. */
    assert_int_equal(stream_trim(s, STREAM_TRIM_MAXLEN, 0, NULL, 1, 250), 200);
    assert_int_equal(stream_len(s), 700);
    assert_int_equal(stream_trim(s, STREAM_TRIM_MINID, 0, &(stream_id){401, 0}, 1, 0), 100);
    assert_int_equal(stream_trim(s, STREAM_TRIM_MINID, 0, &(stream_id){450, 0}, 1, 0), 0);
    /* Exact trimming marks inside the head block. */
    assert_int_equal(stream_trim(s, STREAM_TRIM_MINID, 0, &(stream_id){450, 0}, 0, 0), 49);
    assert_int_equal(stream_trim(s, STREAM_TRIM_MAXLEN, 500, NULL, 0, 0), 51);
    assert_int_equal(stream_len(s), 500);
    assert_int_equal(stream_rax_keys(s), 5);
    /* Exact with a limit obeys it per block, as Redis's streamTrim does. */
    assert_int_equal(stream_trim(s, STREAM_TRIM_MAXLEN, 10, NULL, 0, 150), 100);
    assert_int_equal(stream_check(s), 0);
    stream_free(s);
}

static void
test_stream_minid_exact_drops_block_left_empty(void **state)
{
    stream *s = stream_new();
    uint64_t k;

    (void)state;
    for (k = 1; k <= 10; k++)
        test_add(s, k, 0, 4096, 5);
    assert_int_equal(stream_delete(s, &(stream_id){5, 0}), 1);
    /* Block 1-0..5-0 has its last entry deleted; MINID 5-0 flags the rest. */
    assert_int_equal(stream_trim(s, STREAM_TRIM_MINID, 0, &(stream_id){5, 0}, 0, 0), 4);
    assert_int_equal(stream_rax_keys(s), 1);
    assert_int_equal(stream_len(s), 5);
    assert_int_equal(stream_check(s), 0);
    stream_free(s);
}

static void
test_stream_xsetid_setters_store(void **state)
{
    stream *s = stream_new();
    stream_field fv[2] = {test_str("k"), test_str("v")};
    stream_id out;

    (void)state;
    test_add(s, 5, 0, 4096, 100);
    stream_set_last_id(s, &(stream_id){90, 7});
    stream_set_entries_added(s, 40);
    stream_set_max_deleted_id(s, &(stream_id){3, 3});
    test_assert_id(stream_last_id(s), 90, 7);
    assert_int_equal(stream_entries_added(s), 40);
    test_assert_id(stream_max_deleted_id(s), 3, 3);
    assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 1, 10, 4096, 100, &out), 0);
    test_assert_id(out, 90, 8); /* AUTO continues from the stored last ID */
    assert_int_equal(stream_entries_added(s), 41);
    assert_int_equal(stream_check(s), 0);
    stream_free(s);
}

/* ---- Snapshot support: raw walk and restore ---- */

/* Copies every stored entry of s into a new stream through the raw walk and
 * the restore calls, as the snapshot codec does. */
static stream *
test_restore_copy(stream *s)
{
    stream *d = stream_new();
    stream_iter it;
    stream_id id, md = stream_max_deleted_id(s), last = stream_last_id(s);
    stream_field fv[16], f, v;
    char copy[16][STREAM_NUM_BUF];
    size_t np, k;
    int del, bstart;

    assert_non_null(d);
    stream_iter_start_raw(&it, s);
    while (stream_iter_next_raw(&it, &id, &np, &del, &bstart)) {
        assert_true(np <= 8);
        /* Decoded numbers live in the iterator until its next call: copy. */
        for (k = 0; stream_iter_field(&it, &f, &v); k++) {
            assert_true(f.len <= STREAM_NUM_BUF && v.len <= STREAM_NUM_BUF);
            memcpy(copy[2 * k], f.ptr, f.len);
            memcpy(copy[2 * k + 1], v.ptr, v.len);
            fv[2 * k] = (stream_field){copy[2 * k], f.len};
            fv[2 * k + 1] = (stream_field){copy[2 * k + 1], v.len};
        }
        assert_int_equal(k, np);
        assert_int_equal(stream_restore_append(d, &id, fv, np, bstart, del), 0);
    }
    stream_iter_stop(&it);
    assert_int_equal(stream_restore_finish(d, &last, stream_entries_added(s), &md), 0);
    return d;
}

static void
test_stream_raw_walk_reports_deleted_and_block_starts(void **state)
{
    stream *s = stream_new();
    stream_iter it;
    stream_id id;
    size_t np;
    int del, bstart, n = 0;
    static const int want_del[10] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    static const int want_start[10] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0};

    (void)state;
    for (uint64_t k = 1; k <= 10; k++)
        test_add(s, k, 0, 0, 4);
    assert_int_equal(stream_delete(s, &(stream_id){1, 0}), 1);
    assert_int_equal(stream_delete(s, &(stream_id){6, 0}), 1);
    stream_iter_start_raw(&it, s);
    while (stream_iter_next_raw(&it, &id, &np, &del, &bstart)) {
        stream_field f, v;

        assert_true(n < 10);
        test_assert_id(id, (uint64_t)n + 1, 0);
        assert_int_equal(del, want_del[n]);
        assert_int_equal(bstart, want_start[n]);
        assert_int_equal(np, 1);
        assert_int_equal(stream_iter_field(&it, &f, &v), 1); /* deleted ones too */
        assert_memory_equal(f.ptr, "f", 1);
        assert_memory_equal(v.ptr, "v", 1);
        n++;
    }
    stream_iter_stop(&it);
    assert_int_equal(n, 10);
    stream_free(s);
}

/* The copy has the same entries, blocks, tree, counters and bytes, and
 * further appends fill its tail exactly as they fill the original's. */
static void
test_stream_restore_rebuilds_same_blocks(void **state)
{
    stream *s = stream_new(), *d;
    stream_id a[200], b[200];
    char v[32];

    (void)state;
    for (uint64_t k = 1; k <= 100; k++) {
        stream_field fv[4] = {test_str(k % 7 ? "f" : "g"), {v, 0}, test_str("n"), test_str("-1.5")};
        stream_id id = {k * 100, k % 3};

        fv[1].len = (size_t)snprintf(v, sizeof(v), "%llu", (unsigned long long)k * 31);
        assert_int_equal(stream_append(s, STREAM_ID_EXPLICIT, &id, fv, 1 + k % 2, 0, 0, 9, NULL),
                         0);
    }
    assert_int_equal(stream_delete(s, &(stream_id){1000, 1}), 1); /* first of block 2 */
    assert_int_equal(stream_delete(s, &(stream_id){2500, 1}), 1);
    assert_int_equal(stream_delete(s, &(stream_id){10000, 1}), 1); /* the last entry */
    assert_true(stream_trim(s, STREAM_TRIM_MAXLEN, 90, NULL, 0, 0) > 0);
    stream_set_entries_added(s, 1234);
    d = test_restore_copy(s);
    assert_int_equal(stream_check(d), 0);
    assert_int_equal(stream_len(d), stream_len(s));
    assert_int_equal(stream_rax_keys(d), stream_rax_keys(s));
    assert_int_equal(stream_rax_nodes(d), stream_rax_nodes(s));
    assert_int_equal(stream_entries_added(d), 1234);
    test_assert_id(stream_last_id(d), 10000, 1);
    test_assert_id(stream_max_deleted_id(d), 10000, 1);
    assert_int_equal(test_collect(d, 0, b, 200), test_collect(s, 0, a, 200));
    assert_memory_equal(a, b, stream_len(s) * sizeof(a[0]));
    {
        stream_iter is, id;
        stream_id xs, xd;
        size_t ns, nd;
        stream_field fs, vs, fd, vd;

        stream_iter_start(&is, s, NULL, NULL, 0);
        stream_iter_start(&id, d, NULL, NULL, 0);
        while (stream_iter_next(&is, &xs, &ns)) {
            assert_true(stream_iter_next(&id, &xd, &nd));
            assert_int_equal(ns, nd);
            while (stream_iter_field(&is, &fs, &vs)) {
                assert_true(stream_iter_field(&id, &fd, &vd));
                assert_int_equal(fs.len, fd.len);
                assert_memory_equal(fs.ptr, fd.ptr, fs.len);
                assert_int_equal(vs.len, vd.len);
                assert_memory_equal(vs.ptr, vd.ptr, vs.len);
            }
        }
        stream_iter_stop(&is);
        stream_iter_stop(&id);
    }
    for (uint64_t k = 1; k <= 20; k++) {
        test_add(s, 20000 + k, 0, 0, 9);
        test_add(d, 20000 + k, 0, 0, 9);
    }
    assert_int_equal(stream_rax_keys(d), stream_rax_keys(s));
    assert_int_equal(stream_check(d), 0);
    stream_free(s);
    stream_free(d);
}

static void
test_stream_restore_rejects_bad_input(void **state)
{
    stream_field fv[2] = {test_str("f"), test_str("v")};
    stream_id last = {9, 0}, zero = {0, 0};
    stream *d = stream_new();

    (void)state;
    assert_int_equal(stream_restore_append(d, &zero, fv, 1, 1, 0), -EINVAL);
    assert_int_equal(stream_restore_append(d, &(stream_id){5, 0}, fv, 1, 1, 1), 0);
    assert_int_equal(stream_restore_append(d, &(stream_id){5, 0}, fv, 1, 0, 0), -EDOM);
    assert_int_equal(stream_restore_append(d, &(stream_id){4, 9}, fv, 1, 1, 0), -EDOM);
    /* The only block holds only a deleted entry. */
    assert_int_equal(stream_restore_finish(d, &last, 1, &zero), -EINVAL);
    assert_int_equal(stream_restore_append(d, &(stream_id){6, 0}, fv, 1, 0, 0), 0);
    assert_int_equal(stream_restore_finish(d, &(stream_id){5, 9}, 1, &zero), -EINVAL);
    assert_int_equal(stream_restore_finish(d, &last, 0, &zero), -EINVAL);
    assert_int_equal(stream_restore_finish(d, &last, 2, &(stream_id){5, 0}), 0);
    assert_int_equal(stream_len(d), 1);
    assert_int_equal(stream_check(d), 0);
    stream_free(d);
}

static void
test_stream_check_detects_corruption(void **state)
{
    stream *s = stream_new();
    stream_block *b;
    unsigned char saved;
    uint64_t k;

    (void)state;
    for (k = 1; k <= 20; k++)
        test_add(s, k, 0, 4096, 100);
    assert_int_equal(stream_check(s), 0);
    b = s->head;
    saved = b->data[b->last_off];
    b->data[b->last_off] |= STREAM__FLAG_DELETED; /* live count now wrong */
    assert_int_equal(stream_check(s), -EINVAL);
    b->data[b->last_off] = saved;
    saved = b->data[0];
    b->data[0] = 0xf7; /* reserved element header in the master list */
    assert_int_equal(stream_check(s), -EINVAL);
    b->data[0] = saved;
    s->length++;
    assert_int_equal(stream_check(s), -EINVAL);
    s->length--;
    s->first_id.seq++;
    assert_int_equal(stream_check(s), -EINVAL);
    s->first_id.seq--;
    assert_int_equal(stream_check(s), 0);
    stream_free(s);
}

/* ---- Cases: model-based random test ---- */

static void
test_stream_random_against_model(void **state)
{
    gen_entry *g = malloc(sizeof(*g));
    model m;
    stream *s = stream_new();
    uint64_t clock = 1000;
    int batch, op;

    (void)state;
    memset(&m, 0, sizeof(m));
    assert_true(g != NULL && s != NULL);
    model_pick_limits(&m);
    for (batch = 0; batch < 120; batch++) {
        if (batch % 10 == 0)
            model_pick_limits(&m);
        for (op = 0; op < 60; op++) {
            uint64_t r = test_below(100);

            if (r < 70)
                model_op_append(s, &m, g, &clock);
            else if (r < 85)
                model_op_delete(s, &m);
            else if (r < 90)
                model_op_iter_delete(s, &m);
            else if (r < 94)
                model_op_trim(s, &m);
        }
        model_check_all(s, &m);
        if (batch % 20 == 19) {
            stream *d = stream_dup(s);

            assert_non_null(d);
            model_check_all(d, &m);
            stream_free(d);
        }
    }
    /* Trim to empty, then the stream still takes appends. */
    (void)stream_trim(s, STREAM_TRIM_MAXLEN, 0, NULL, 0, 0);
    model_drop_head(&m, m.n);
    model_check_all(s, &m);
    model_op_append(s, &m, g, &clock);
    model_check_all(s, &m);
    stream_free(s);
    model_fini(&m);
    free(g);
}

/* ---- Cases: allocation failures ---- */

/* FNV-1a over n bytes. */
static uint64_t
test_mix(uint64_t h, const void *p, size_t n)
{
    size_t k;

    for (k = 0; k < n; k++)
        h = (h ^ ((const unsigned char *)p)[k]) * 1099511628211ULL;
    return h;
}

/* Hash of everything observable, to prove a failed call changed nothing. */
static uint64_t
test_fingerprint(stream *s)
{
    uint64_t h = 1469598103934665603ULL;
    stream_field f, v;
    stream_iter it;
    stream_id id, m[3] = {stream_last_id(s), stream_max_deleted_id(s), {0, 0}};
    size_t np;

    (void)stream_first_entry(s, &m[2]);
    h = test_mix(h, m, sizeof(m));
    stream_iter_start(&it, s, NULL, NULL, 0);
    while (stream_iter_next(&it, &id, &np)) {
        h = test_mix(h, &id, sizeof(id));
        while (stream_iter_field(&it, &f, &v)) {
            h = test_mix(h, f.ptr, f.len);
            h = test_mix(h, v.ptr, v.len);
        }
    }
    return h ^ stream_len(s) ^ (stream_entries_added(s) << 20) ^ (stream_rax_keys(s) << 40);
}

static void
test_stream_enomem_leaves_stream_unchanged(void **state)
{
    stream *s = stream_new(), *d;
    gen_entry *g = malloc(sizeof(*g));
    int op;

    (void)state;
    assert_true(s != NULL && g != NULL);
    for (op = 0; op < 300; op++) {
        uint64_t before = test_fingerprint(s), mem = stream_mem(s);
        size_t limit = op % 3 == 0 ? 1 : 4096; /* 1 byte: every append starts a block */
        long budget;
        int rc = -ENOMEM;

        gen_entry_fill(g);
        for (budget = 0; rc == -ENOMEM; budget++) {
            long live = test_alloc_live;

            test_alloc_budget = budget;
            rc = stream_append(s, STREAM_ID_AUTO, NULL, g->fv, g->npairs, (uint64_t)op, limit, 16,
                               NULL);
            test_alloc_budget = -1;
            assert_int_equal(stream_check(s), 0);
            if (rc == -ENOMEM) {
                assert_int_equal(test_fingerprint(s), before);
                assert_int_equal(stream_mem(s), mem);
                assert_int_equal(test_alloc_live, live);
            }
        }
        assert_int_equal(rc, 0);
        if (op % 4 == 3) { /* deletes and trims never allocate */
            stream_id first;

            test_alloc_budget = 0;
            if (stream_first_entry(s, &first))
                assert_int_equal(stream_delete(s, &first), 1);
            (void)stream_trim(s, STREAM_TRIM_MAXLEN, 40, NULL, op % 8 == 3, 0);
            test_alloc_budget = -1;
            assert_int_equal(stream_check(s), 0);
        }
    }
    for (op = 0; op < 200; op++) { /* dup fails cleanly at every allocation */
        test_alloc_budget = op;
        d = stream_dup(s);
        test_alloc_budget = -1;
        if (d != NULL) {
            assert_int_equal(test_fingerprint(d), test_fingerprint(s));
            assert_int_equal(stream_check(d), 0);
            stream_free(d);
            break;
        }
    }
    assert_true(op < 200);
    test_alloc_budget = 0;
    assert_null(stream_new());
    test_alloc_budget = 1;
    assert_null(stream_new()); /* the tree's allocation fails */
    test_alloc_budget = -1;
    stream_free(s);
    stream_free(NULL);
    free(g);
}

/* ---- Cases: memory ---- */

/* 1,000,000 x `XADD s * sensor 42 temp 21.5` at default limits, with a clock
 * advancing 1 ms every `per_ms` appends. Returns bytes per entry. */
static double
test_mem_run(uint64_t per_ms)
{
    stream_field fv[4] = {test_str("sensor"), test_str("42"), test_str("temp"), test_str("21.5")};
    stream *s = stream_new();
    uint64_t k, n = 1000000;
    double per;

    assert_non_null(s);
    for (k = 0; k < n; k++)
        assert_int_equal(stream_append(s, STREAM_ID_AUTO, NULL, fv, 2,
                                       1700000000000ULL + k / per_ms, 4096, 100, NULL),
                         0);
    assert_int_equal(stream_len(s), n);
    per = (double)stream_mem(s) / (double)stream_len(s);
    fprintf(stderr,
            "test_stream: 1M entries, %llu per ms: stream_mem %zu bytes, %.2f bytes/entry, "
            "%llu blocks, %llu tree nodes\n",
            (unsigned long long)per_ms, stream_mem(s), per, (unsigned long long)stream_rax_keys(s),
            (unsigned long long)stream_rax_nodes(s));
    assert_int_equal(stream_check(s), 0);
    stream_free(s);
    return per;
}

static void
test_stream_memory_per_entry(void **state)
{
    (void)state;
    /* ~180/ms is the rate redis-benchmark -P 100 reaches against Redis 7.0. */
    assert_true(test_mem_run(180) < 10.0);
    assert_true(test_mem_run(1) < 10.0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, test_setup, test_teardown)
        T(test_stream_id_parse_matches_redis),
        T(test_stream_id_parse_length_and_nul),
        T(test_stream_id_fmt_cmp_incr_decr),
        T(test_stream_auto_id_survives_clock_going_back),
        T(test_stream_seq_overflow_rules),
        T(test_stream_auto_seq_on_empty_stream_gives_0_1),
        T(test_stream_too_large_entry_is_e2big),
        T(test_stream_values_round_trip_byte_exact),
        T(test_stream_blocks_follow_node_limits),
        T(test_stream_mixed_field_sets_share_blocks),
        T(test_stream_reverse_walks_blocks_larger_than_ring),
        T(test_stream_xdel_sets_max_deleted_trim_does_not),
        T(test_stream_trim_approx_and_limit),
        T(test_stream_minid_exact_drops_block_left_empty),
        T(test_stream_xsetid_setters_store),
        T(test_stream_raw_walk_reports_deleted_and_block_starts),
        T(test_stream_restore_rebuilds_same_blocks),
        T(test_stream_restore_rejects_bad_input),
        T(test_stream_check_detects_corruption),
        T(test_stream_random_against_model),
        T(test_stream_enomem_leaves_stream_unchanged),
        T(test_stream_memory_per_entry),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
