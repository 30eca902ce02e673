/*
 * test_pel.c - unit tests for pending-entry lists (consumers/pel.h) and
 * delivery (cg_deliver).
 *
 * The core is a model-based random test: a stream with appends, XDELs and
 * trims under one group whose consumers come and go, driven through
 * deliveries (with and without NOACK), history re-reads, acks, claims (all
 * options), automatic claims, consumer deletions and SETID rewinds, checked
 * after every step against a plain list of pending records (owner, delivery
 * time, count) and with cg_check. Other cases pin one behaviour each (claim
 * rules, the XAUTOCLAIM cursor and COUNT, entries deleted from the stream),
 * and an OOM loop fails every allocation of deliveries and claims in turn
 * and checks that nothing changed. Allocations of the engine, its trees and
 * the stream are counted; every teardown asserts none is left. Seeds are
 * printed; set RUNNEL_TEST_SEED to replay one.
 */
#include "consumers/pel.h"

#include "consumers/cg.h"
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
#include <time.h>

#include <cmocka.h>

#include "tests/support/testalloc.h"

static int
test_setup(void **state)
{
    unsigned long long seed = test_seed("test_pel");

    (void)state;
    test_rng_state = seed ? seed : 1;
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

/* Appends "f v" with ID ms-0; asserts success. */
static void
test_add(stream *s, uint64_t ms)
{
    stream_field fv[2] = {{"f", 1}, {"v", 1}};
    stream_id id = {ms, 0};

    assert_int_equal(stream_append(s, STREAM_ID_EXPLICIT, &id, fv, 1, 0, 0, 8, NULL), 0);
}

/* ---- Model ---- */

#define M_CONSUMERS 5 /* consumer names "c0".."c4" */
#define M_MAX_IDS   4096

typedef struct m_rec {
    stream_id id;   /* pending entry */
    int owner;      /* consumer index */
    int64_t time;   /* delivery time */
    uint64_t count; /* delivery count */
} m_rec;

typedef struct model {
    m_rec rec[M_MAX_IDS];        /* pending records, ascending IDs */
    size_t n;                    /* records in use */
    int exists[M_CONSUMERS];     /* consumer i exists */
    int64_t active[M_CONSUMERS]; /* expected active time, -1 never */
    stream_id live[M_MAX_IDS];   /* live stream IDs, ascending */
    size_t nlive;                /* IDs in live */
    stream_id last;              /* group last-delivered ID */
} model;

static model test_m; /* large: static rather than on the stack */

/* Outcomes seen by the random test, printed so a run shows its coverage. */
static unsigned long m_stat_claim[3];    /* pel_claim results by PEL_CLAIM_* */
static unsigned long m_stat_autoclaimed; /* entries claimed by autoclaims */
static unsigned long m_stat_autodropped; /* entries dropped by autoclaims */
static unsigned long m_stat_max_pending; /* largest PEL seen */

static size_t
m_lower(const model *m, const stream_id *id)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (stream_id_cmp(&m->rec[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static m_rec *
m_find(model *m, const stream_id *id)
{
    size_t i = m_lower(m, id);

    return i < m->n && stream_id_cmp(&m->rec[i].id, id) == 0 ? &m->rec[i] : NULL;
}

static void
m_del_at(model *m, size_t i)
{
    memmove(&m->rec[i], &m->rec[i + 1], (m->n - i - 1) * sizeof(m->rec[0]));
    m->n--;
}

static m_rec *
m_insert(model *m, const stream_id *id)
{
    size_t i = m_lower(m, id);

    assert_true(m->n < M_MAX_IDS);
    memmove(&m->rec[i + 1], &m->rec[i], (m->n - i) * sizeof(m->rec[0]));
    m->n++;
    m->rec[i].id = *id;
    return &m->rec[i];
}

static int
m_live(const model *m, const stream_id *id)
{
    for (size_t i = 0; i < m->nlive; i++)
        if (stream_id_cmp(&m->live[i], id) == 0)
            return 1;
    return 0;
}

/* Rebuilds the model's live IDs from the stream (after XDEL or a trim). */
static void
m_sync_live(model *m, stream *s)
{
    stream_iter it;
    stream_id id;
    size_t np;

    m->nlive = 0;
    stream_iter_start(&it, s, NULL, NULL, 0);
    while (stream_iter_next(&it, &id, &np)) {
        assert_true(m->nlive < M_MAX_IDS);
        m->live[m->nlive++] = id;
    }
    stream_iter_stop(&it);
}

/* Index of consumer c among "c0".."c4". */
static int
m_index_of(const cg_consumer *c)
{
    size_t len;
    const char *name = cg_consumer_name(c, &len);

    assert_int_equal(len, 2);
    return name[1] - '0';
}

/* Compares the whole engine state with the model. */
static void
m_compare(const model *m, const cg_set *set, const cg_group *g)
{
    pel_iter it;
    stream_id id;
    pel_entry *e;
    size_t i = 0;
    uint64_t per[M_CONSUMERS] = {0};
    int ncons = 0;

    assert_int_equal(cg_check(set), 0);
    assert_int_equal(cg_group_pending_count(g), m->n);
    test_assert_id(cg_group_last_id(g), m->last);
    assert_int_equal(pel_iter_start(&it, g, NULL, NULL), 0);
    while (pel_iter_next(&it, &id, &e)) {
        assert_true(i < m->n);
        test_assert_id(id, m->rec[i].id);
        assert_int_equal(m_index_of(pel_entry_owner(e)), m->rec[i].owner);
        assert_int_equal(pel_entry_delivery_ms(e), m->rec[i].time);
        assert_int_equal(pel_entry_delivery_count(e), m->rec[i].count);
        per[m->rec[i].owner]++;
        i++;
    }
    pel_iter_stop(&it);
    assert_int_equal(i, m->n);
    for (int k = 0; k < M_CONSUMERS; k++) {
        char name[3] = {'c', (char)('0' + k), 0};
        cg_consumer *c = cg_consumer_find(g, name, 2);

        assert_int_equal(c != NULL, m->exists[k]);
        if (c == NULL) {
            assert_int_equal(per[k], 0);
            continue;
        }
        ncons++;
        assert_int_equal(cg_consumer_pending_count(c), per[k]);
        assert_int_equal(cg_consumer_active_ms(c), m->active[k]);
    }
    assert_int_equal(cg_group_consumer_count(g), ncons);
}

/* The consumer k, created when missing (model and engine). */
static cg_consumer *
m_consumer(model *m, cg_group *g, int k, int64_t now)
{
    char name[3] = {'c', (char)('0' + k), 0};
    cg_consumer *c = NULL;
    int rc = cg_consumer_add(g, name, 2, now, &c);

    assert_true(rc == 0 || rc == -EEXIST);
    if (rc == 0) {
        assert_false(m->exists[k]);
        m->exists[k] = 1;
        m->active[k] = CG_NEVER_ACTIVE;
    }
    if (rc == 0)
        assert_int_equal(cg_consumer_seen_ms(c), now);
    cg_consumer_touch(c, now);
    assert_int_equal(cg_consumer_seen_ms(c), now);
    return c;
}

/* A random ID near the stream's: live, pending, deleted or never used. */
static stream_id
m_pick_id(const model *m, uint64_t top)
{
    switch (test_below(3)) {
    case 0:
        if (m->nlive)
            return m->live[test_below(m->nlive)];
        break;
    case 1:
        if (m->n)
            return m->rec[test_below(m->n)].id;
        break;
    default:
        break;
    }
    return test_id(test_below(top + 2), test_below(2));
}

/* ---- Model steps ---- */

static void
m_step_deliver(model *m, stream *s, cg_group *g, int64_t now)
{
    int k = (int)test_below(M_CONSUMERS), noack = test_below(5) == 0;
    uint64_t count = test_below(4);
    cg_consumer *c = m_consumer(m, g, k, now);
    stream_id start = cg_group_last_id(g), id;
    stream_iter it;
    size_t np;
    uint64_t n = 0;

    stream_id_incr(&start);
    stream_iter_start(&it, s, &start, NULL, 0);
    while ((count == 0 || n < count) && stream_iter_next(&it, &id, &np)) {
        assert_int_equal(cg_deliver(s, g, c, &id, noack, now), 0);
        if (!noack) {
            m_rec *r = m_find(m, &id);

            if (r == NULL)
                r = m_insert(m, &id);
            r->owner = k;
            r->time = now;
            r->count = 1;
            m->active[k] = now;
        }
        m->last = id;
        n++;
    }
    stream_iter_stop(&it);
}

static void
m_step_history(model *m, stream *s, cg_group *g, int64_t now, uint64_t top)
{
    int k = (int)test_below(M_CONSUMERS);
    cg_consumer *c;
    stream_id start = test_id(test_below(top + 1), 0), id;
    uint64_t count = test_below(4), n = 0;
    size_t i;
    pel_iter it;
    pel_entry *e;

    if (!m->exists[k])
        return;
    c = m_consumer(m, g, k, now);
    i = m_lower(m, &start);
    assert_int_equal(pel_iter_start(&it, g, c, &start), 0);
    while ((count == 0 || n < count) && pel_iter_next(&it, &id, &e)) {
        while (i < m->n && m->rec[i].owner != k)
            i++;
        assert_true(i < m->n);
        test_assert_id(id, m->rec[i].id);
        if (pel_stream_has(s, &id)) {
            assert_true(m_live(m, &id));
            pel_redeliver(e, now);
            m->rec[i].time = now;
            m->rec[i].count++;
        } else {
            assert_false(m_live(m, &id));
        }
        i++;
        n++;
    }
    pel_iter_stop(&it);
}

static void
m_step_ack(model *m, cg_group *g, uint64_t top)
{
    stream_id id = m_pick_id(m, top);
    m_rec *r = m_find(m, &id);

    assert_int_equal(pel_ack(g, &id), r != NULL);
    if (r != NULL)
        m_del_at(m, (size_t)(r - m->rec));
}

static void
m_step_claim(model *m, stream *s, cg_group *g, int64_t now, uint64_t top)
{
    int k = (int)test_below(M_CONSUMERS), want, created = 0;
    cg_consumer *c = m_consumer(m, g, k, now);
    stream_id id = m_pick_id(m, top);
    pel_claim_opts o = {0};
    m_rec *r;

    o.min_idle = test_below(3) == 0 ? (int64_t)test_below(200) : 0;
    o.delivery_ms = test_below(3) == 0 ? (int64_t)test_below((uint64_t)now + 100) - 50 : -1;
    o.retrycount = test_below(4) == 0 ? (int64_t)test_below(10) : -1;
    o.force = test_below(3) == 0;
    o.justid = test_below(2) == 0;

    r = m_find(m, &id);
    if (!m_live(m, &id)) {
        want = r ? PEL_CLAIM_DROPPED : PEL_CLAIM_SKIPPED;
        if (r)
            m_del_at(m, (size_t)(r - m->rec));
    } else if (r == NULL && !o.force) {
        want = PEL_CLAIM_SKIPPED;
    } else {
        if (r == NULL) {
            r = m_insert(m, &id);
            r->owner = k;
            r->time = now;
            r->count = 1;
            created = 1;
        }
        if (!created && o.min_idle > 0 && now - r->time < o.min_idle) {
            want = PEL_CLAIM_SKIPPED;
        } else {
            want = PEL_CLAIM_CLAIMED;
            r->owner = k;
            r->time = o.delivery_ms < 0 || o.delivery_ms > now ? now : o.delivery_ms;
            if (o.retrycount >= 0)
                r->count = (uint64_t)o.retrycount;
            else if (!o.justid)
                r->count++;
            m->active[k] = now;
        }
    }
    assert_int_equal(pel_claim(s, g, c, &id, &o, now), want);
    m_stat_claim[want]++;
}

static void
m_step_autoclaim(model *m, stream *s, cg_group *g, int64_t now, uint64_t top)
{
    int k = (int)test_below(M_CONSUMERS), justid = (int)test_below(2);
    cg_consumer *c = m_consumer(m, g, k, now);
    stream_id start = test_id(test_below(top + 1), test_below(2)), next, want_next = {0, 0};
    uint64_t count = 1 + test_below(5), left = count, attempts = count * 10;
    int64_t min_idle = test_below(2) ? 0 : (int64_t)test_below(100);
    stream_id snap[M_MAX_IDS], claimed[M_MAX_IDS], deleted[M_MAX_IDS];
    stream_id wclaimed[M_MAX_IDS], wdeleted[M_MAX_IDS];
    size_t nsnap = 0, seen = 0, nc, nd, wc = 0, wd = 0;

    for (size_t i = m_lower(m, &start); i < m->n; i++)
        snap[nsnap++] = m->rec[i].id;
    while (attempts-- > 0 && left > 0 && seen < nsnap) {
        stream_id id = snap[seen++];
        m_rec *r = m_find(m, &id);

        if (!m_live(m, &id)) {
            m_del_at(m, (size_t)(r - m->rec));
            wdeleted[wd++] = id;
            left--;
            continue;
        }
        if (min_idle > 0 && now - r->time < min_idle)
            continue;
        r->owner = k;
        r->time = now;
        if (!justid)
            r->count++;
        wclaimed[wc++] = id;
        left--;
        m->active[k] = now;
    }
    if (seen < nsnap)
        want_next = snap[seen];
    assert_int_equal(pel_autoclaim(s, g, c, &start, min_idle, count, justid, now, claimed, &nc,
                                   deleted, &nd, &next),
                     0);
    assert_int_equal(nc, wc);
    assert_int_equal(nd, wd);
    for (size_t i = 0; i < nc; i++)
        test_assert_id(claimed[i], wclaimed[i]);
    for (size_t i = 0; i < nd; i++)
        test_assert_id(deleted[i], wdeleted[i]);
    test_assert_id(next, want_next);
    m_stat_autoclaimed += nc;
    m_stat_autodropped += nd;
}

static void
m_step_delconsumer(model *m, cg_group *g)
{
    int k = (int)test_below(M_CONSUMERS);
    char name[3] = {'c', (char)('0' + k), 0};
    cg_consumer *c = cg_consumer_find(g, name, 2);
    uint64_t want = 0;

    if (c == NULL) {
        assert_false(m->exists[k]);
        return;
    }
    for (size_t i = 0; i < m->n;) {
        if (m->rec[i].owner == k) {
            m_del_at(m, i);
            want++;
        } else {
            i++;
        }
    }
    assert_int_equal(cg_consumer_del(g, c), want);
    m->exists[k] = 0;
}

static void
test_pel_model_random_ops(void **state)
{
    model *m = &test_m;
    cg_set *set = cg_set_new();
    stream *s = stream_new();
    cg_group *g;
    stream_id zero = {0, 0};
    uint64_t top = 0;
    int64_t now = 1000;

    (void)state;
    memset(m, 0, sizeof(*m));
    assert_non_null(set);
    assert_non_null(s);
    assert_int_equal(cg_group_add(set, "g", 1, &zero, 0, &g), 0);
    for (int step = 0; step < 6000; step++) {
        uint64_t op = test_below(100);

        now += (int64_t)test_below(30);
        if (op < 15) {
            for (uint64_t n = 1 + test_below(4); n > 0; n--)
                test_add(s, ++top);
            m_sync_live(m, s);
        } else if (op < 35) {
            m_step_deliver(m, s, g, now);
        } else if (op < 45) {
            m_step_history(m, s, g, now, top);
        } else if (op < 57) {
            m_step_ack(m, g, top);
        } else if (op < 72) {
            m_step_claim(m, s, g, now, top);
        } else if (op < 82) {
            m_step_autoclaim(m, s, g, now, top);
        } else if (op < 86) {
            m_step_delconsumer(m, g);
        } else if (op < 93) {
            stream_id id = m_pick_id(m, top);

            stream_delete(s, &id);
            m_sync_live(m, s);
        } else if (op < 96) {
            if (stream_len(s) > 4)
                stream_trim(s, STREAM_TRIM_MAXLEN, stream_len(s) - test_below(4), &zero, 0, 0);
            m_sync_live(m, s);
        } else if (op < 98) {
            /* SETID back (or forward): later reads hand over pending entries. */
            stream_id id = test_id(test_below(top + 1), 0);

            cg_group_set_id(g, &id, CG_ENTRIES_READ_INVALID);
            m->last = id;
        } else {
            /* Stream memory goes with trims: keep the stream short. */
            if (stream_len(s) > 200)
                stream_trim(s, STREAM_TRIM_MAXLEN, 50, &zero, 0, 0);
            m_sync_live(m, s);
        }
        m_compare(m, set, g);
        if (m->n > m_stat_max_pending)
            m_stat_max_pending = m->n;
        if (m->n > M_MAX_IDS - 64 || top > M_MAX_IDS - 64)
            break;
    }
    fprintf(stderr,
            "test_pel: model: %llu entries added, claims %lu/%lu/%lu (skipped/claimed/dropped), "
            "autoclaimed %lu, autodropped %lu, max pending %lu\n",
            (unsigned long long)top, m_stat_claim[0], m_stat_claim[1], m_stat_claim[2],
            m_stat_autoclaimed, m_stat_autodropped, m_stat_max_pending);
    cg_set_free(set);
    stream_free(s);
}

/* ---- One behaviour each ---- */

/* A small fixture: stream 1-0..5-0, group g, consumers alice and bob,
 * alice holding 1-0..3-0 delivered at t=100. */
typedef struct fixture {
    stream *s;
    cg_set *set;
    cg_group *g;
    cg_consumer *alice;
    cg_consumer *bob;
} fixture;

static void
fixture_init(fixture *f)
{
    stream_id zero = {0, 0};

    f->s = stream_new();
    f->set = cg_set_new();
    assert_non_null(f->s);
    assert_non_null(f->set);
    for (uint64_t ms = 1; ms <= 5; ms++)
        test_add(f->s, ms);
    assert_int_equal(cg_group_add(f->set, "g", 1, &zero, 0, &f->g), 0);
    assert_int_equal(cg_consumer_add(f->g, "alice", 5, 100, &f->alice), 0);
    assert_int_equal(cg_consumer_add(f->g, "bob", 3, 100, &f->bob), 0);
    for (uint64_t ms = 1; ms <= 3; ms++) {
        stream_id id = {ms, 0};

        assert_int_equal(cg_deliver(f->s, f->g, f->alice, &id, 0, 100), 0);
    }
    assert_int_equal(cg_check(f->set), 0);
}

static void
fixture_fini(fixture *f)
{
    assert_int_equal(cg_check(f->set), 0);
    cg_set_free(f->set);
    stream_free(f->s);
}

static void
test_pel_claim_moves_owner(void **state)
{
    fixture f;
    stream_id id = {2, 0};
    pel_claim_opts o = {.delivery_ms = -1, .retrycount = -1};
    pel_entry *e;

    (void)state;
    fixture_init(&f);
    assert_int_equal(pel_claim(f.s, f.g, f.bob, &id, &o, 150), PEL_CLAIM_CLAIMED);
    e = pel_find(f.g, &id);
    assert_ptr_equal(pel_entry_owner(e), f.bob);
    assert_int_equal(pel_entry_delivery_ms(e), 150);
    assert_int_equal(pel_entry_delivery_count(e), 2);
    assert_int_equal(cg_consumer_pending_count(f.alice), 2);
    assert_int_equal(cg_consumer_pending_count(f.bob), 1);
    assert_int_equal(cg_consumer_active_ms(f.bob), 150);
    fixture_fini(&f);
}

static void
test_pel_claim_min_idle_skips_recent(void **state)
{
    fixture f;
    stream_id id = {1, 0};
    pel_claim_opts o = {.min_idle = 60, .delivery_ms = -1, .retrycount = -1};

    (void)state;
    fixture_init(&f);
    assert_int_equal(pel_claim(f.s, f.g, f.bob, &id, &o, 159), PEL_CLAIM_SKIPPED);
    assert_ptr_equal(pel_entry_owner(pel_find(f.g, &id)), f.alice);
    assert_int_equal(cg_consumer_active_ms(f.bob), CG_NEVER_ACTIVE);
    assert_int_equal(pel_claim(f.s, f.g, f.bob, &id, &o, 160), PEL_CLAIM_CLAIMED);
    fixture_fini(&f);
}

static void
test_pel_claim_options_set_time_and_count(void **state)
{
    fixture f;
    stream_id id = {3, 0};
    pel_claim_opts o = {.delivery_ms = 42, .retrycount = 9, .justid = 1};
    pel_entry *e;

    (void)state;
    fixture_init(&f);
    assert_int_equal(pel_claim(f.s, f.g, f.bob, &id, &o, 500), PEL_CLAIM_CLAIMED);
    e = pel_find(f.g, &id);
    assert_int_equal(pel_entry_delivery_ms(e), 42);
    assert_int_equal(pel_entry_delivery_count(e), 9);
    /* JUSTID without RETRYCOUNT leaves the count; a time in the future
     * means now. */
    o.retrycount = -1;
    o.delivery_ms = 900;
    assert_int_equal(pel_claim(f.s, f.g, f.alice, &id, &o, 500), PEL_CLAIM_CLAIMED);
    assert_int_equal(pel_entry_delivery_ms(e), 500);
    assert_int_equal(pel_entry_delivery_count(e), 9);
    fixture_fini(&f);
}

static void
test_pel_claim_force_creates_entry(void **state)
{
    fixture f;
    stream_id id = {5, 0}, missing = {9, 0};
    pel_claim_opts o = {.min_idle = 1000000, .delivery_ms = -1, .retrycount = -1};

    (void)state;
    fixture_init(&f);
    assert_int_equal(pel_claim(f.s, f.g, f.bob, &id, &o, 200), PEL_CLAIM_SKIPPED);
    o.force = 1;
    /* min-idle does not apply to an entry FORCE made; the count is 1 + 1. */
    assert_int_equal(pel_claim(f.s, f.g, f.bob, &id, &o, 200), PEL_CLAIM_CLAIMED);
    assert_int_equal(pel_entry_delivery_count(pel_find(f.g, &id)), 2);
    /* FORCE never invents an entry the stream does not have. */
    assert_int_equal(pel_claim(f.s, f.g, f.bob, &missing, &o, 200), PEL_CLAIM_SKIPPED);
    assert_null(pel_find(f.g, &missing));
    fixture_fini(&f);
}

static void
test_pel_claim_drops_deleted_entry(void **state)
{
    fixture f;
    stream_id id = {2, 0};
    pel_claim_opts o = {.delivery_ms = -1, .retrycount = -1, .force = 1};

    (void)state;
    fixture_init(&f);
    assert_int_equal(stream_delete(f.s, &id), 1);
    /* Deleting from the stream leaves the entry pending... */
    assert_non_null(pel_find(f.g, &id));
    assert_int_equal(cg_group_pending_count(f.g), 3);
    /* ...until a claim finds it gone. */
    assert_int_equal(pel_claim(f.s, f.g, f.bob, &id, &o, 200), PEL_CLAIM_DROPPED);
    assert_null(pel_find(f.g, &id));
    assert_int_equal(cg_consumer_pending_count(f.alice), 2);
    assert_int_equal(pel_claim(f.s, f.g, f.bob, &id, &o, 200), PEL_CLAIM_SKIPPED);
    fixture_fini(&f);
}

static void
test_pel_autoclaim_cursor_and_deleted(void **state)
{
    fixture f;
    stream_id start = {0, 0}, next, claimed[3], deleted[3], del = {1, 0};
    size_t nc, nd;

    (void)state;
    fixture_init(&f);
    assert_int_equal(stream_delete(f.s, &del), 1);
    /* COUNT 1: the deleted 1-0 uses it up; the cursor is 2-0. */
    assert_int_equal(
        pel_autoclaim(f.s, f.g, f.bob, &start, 0, 1, 0, 300, claimed, &nc, deleted, &nd, &next), 0);
    assert_int_equal(nc, 0);
    assert_int_equal(nd, 1);
    test_assert_id(deleted[0], test_id(1, 0));
    test_assert_id(next, test_id(2, 0));
    assert_int_equal(cg_group_pending_count(f.g), 2);
    /* From the cursor, everything left: the walk ends, the cursor is 0-0. */
    assert_int_equal(
        pel_autoclaim(f.s, f.g, f.bob, &next, 0, 10, 1, 300, claimed, &nc, deleted, &nd, &next), 0);
    assert_int_equal(nc, 2);
    assert_int_equal(nd, 0);
    test_assert_id(claimed[0], test_id(2, 0));
    test_assert_id(claimed[1], test_id(3, 0));
    test_assert_id(next, test_id(0, 0));
    assert_int_equal(cg_consumer_pending_count(f.bob), 2);
    /* JUSTID: counts stay at 1. */
    assert_int_equal(pel_entry_delivery_count(pel_find(f.g, &claimed[0])), 1);
    assert_int_equal(cg_consumer_active_ms(f.bob), 300);
    fixture_fini(&f);
}

static void
test_pel_autoclaim_attempts_limit(void **state)
{
    fixture f;
    stream_id start = {0, 0}, next, claimed[3], deleted[3];
    size_t nc, nd;

    (void)state;
    fixture_init(&f);
    /* Nothing idle enough: COUNT 1 looks at 10 entries at most, here all 3. */
    assert_int_equal(
        pel_autoclaim(f.s, f.g, f.bob, &start, 1000, 1, 0, 300, claimed, &nc, deleted, &nd, &next),
        0);
    assert_int_equal(nc + nd, 0);
    test_assert_id(next, test_id(0, 0));
    assert_int_equal(cg_consumer_active_ms(f.bob), CG_NEVER_ACTIVE);
    fixture_fini(&f);
}

static void
test_pel_ack_removes_from_both(void **state)
{
    fixture f;
    stream_id id = {2, 0}, other = {4, 0};

    (void)state;
    fixture_init(&f);
    assert_int_equal(pel_ack(f.g, &id), 1);
    assert_int_equal(pel_ack(f.g, &id), 0);
    assert_int_equal(pel_ack(f.g, &other), 0);
    assert_int_equal(cg_group_pending_count(f.g), 2);
    assert_int_equal(cg_consumer_pending_count(f.alice), 2);
    fixture_fini(&f);
}

static void
test_pel_edges_and_walk_from(void **state)
{
    fixture f;
    stream_id first, last, id, from = {2, 0};
    pel_iter it;
    pel_entry *e;

    (void)state;
    fixture_init(&f);
    assert_int_equal(pel_edge(f.g, 0, &first), 1);
    assert_int_equal(pel_edge(f.g, 1, &last), 1);
    test_assert_id(first, test_id(1, 0));
    test_assert_id(last, test_id(3, 0));
    assert_int_equal(pel_iter_start(&it, f.g, f.alice, &from), 0);
    assert_int_equal(pel_iter_next(&it, &id, &e), 1);
    test_assert_id(id, from);
    pel_iter_stop(&it);
    assert_int_equal(pel_iter_start(&it, f.g, f.bob, NULL), 0);
    assert_int_equal(pel_iter_next(&it, &id, &e), 0);
    pel_iter_stop(&it);
    fixture_fini(&f);
}

static void
test_pel_deliver_takes_over_pending(void **state)
{
    fixture f;
    stream_id zero = {0, 0}, id = {1, 0};
    pel_entry *e;

    (void)state;
    fixture_init(&f);
    /* SETID back to 0: a new read hands 1-0 to bob as a first delivery. */
    cg_group_set_id(f.g, &zero, CG_ENTRIES_READ_INVALID);
    assert_int_equal(cg_deliver(f.s, f.g, f.bob, &id, 0, 700), 0);
    e = pel_find(f.g, &id);
    assert_ptr_equal(pel_entry_owner(e), f.bob);
    assert_int_equal(pel_entry_delivery_count(e), 1);
    assert_int_equal(pel_entry_delivery_ms(e), 700);
    assert_int_equal(cg_group_pending_count(f.g), 3);
    /* NOACK leaves the PEL alone but moves the group on. */
    id = test_id(4, 0);
    assert_int_equal(cg_deliver(f.s, f.g, f.bob, &id, 1, 700), 0);
    assert_null(pel_find(f.g, &id));
    test_assert_id(cg_group_last_id(f.g), id);
    fixture_fini(&f);
}

/* ---- Out of memory ---- */

/* A summary that changes if any part of the state changes. */
static uint64_t
test_fingerprint(const cg_group *g)
{
    pel_iter it;
    stream_id id, last = cg_group_last_id(g);
    pel_entry *e;
    uint64_t h = 1469598103934665603ULL;

    h = (h ^ last.ms) * 1099511628211ULL;
    h = (h ^ (uint64_t)cg_group_entries_read(g)) * 1099511628211ULL;
    h = (h ^ cg_group_consumer_count(g)) * 1099511628211ULL;
    assert_int_equal(pel_iter_start(&it, g, NULL, NULL), 0);
    while (pel_iter_next(&it, &id, &e)) {
        size_t len;
        const char *name = cg_consumer_name(pel_entry_owner(e), &len);

        h = (h ^ id.ms) * 1099511628211ULL;
        h = (h ^ (uint64_t)pel_entry_delivery_ms(e)) * 1099511628211ULL;
        h = (h ^ pel_entry_delivery_count(e)) * 1099511628211ULL;
        h = (h ^ (uint64_t)(unsigned char)name[0] ^ len) * 1099511628211ULL;
    }
    pel_iter_stop(&it);
    return h;
}

static void
test_pel_oom_leaves_state_unchanged(void **state)
{
    (void)state;
    for (int op = 0; op < 4; op++) {
        for (long budget = 0;; budget++) {
            fixture f;
            stream_id id4 = {4, 0}, id5 = {5, 0}, id1 = {1, 0};
            pel_claim_opts force = {.delivery_ms = -1, .retrycount = -1, .force = 1};
            pel_claim_opts plain = {.delivery_ms = -1, .retrycount = -1};
            cg_consumer *carol = NULL;
            uint64_t before;
            int rc = 0;

            fixture_init(&f);
            before = test_fingerprint(f.g);
            test_alloc_budget = budget;
            switch (op) {
            case 0: /* deliver a new entry */
                rc = cg_deliver(f.s, f.g, f.bob, &id4, 0, 900);
                break;
            case 1: /* claim with FORCE (creates) */
                rc = pel_claim(f.s, f.g, f.bob, &id5, &force, 900);
                break;
            case 2: /* claim that moves an entry */
                rc = pel_claim(f.s, f.g, f.bob, &id1, &plain, 900);
                break;
            default: /* a new consumer */
                rc = cg_consumer_add(f.g, "carol", 5, 900, &carol);
                break;
            }
            test_alloc_budget = -1;
            if (rc == -ENOMEM) {
                assert_int_equal(cg_check(f.set), 0);
                assert_int_equal(test_fingerprint(f.g), before);
                fixture_fini(&f);
                continue;
            }
            assert_true(rc >= 0);
            assert_int_not_equal(test_fingerprint(f.g), before);
            fixture_fini(&f);
            break;
        }
    }
}

/* Snapshot load: entries land in both PELs with the saved time and count,
 * owned by the given consumer; a repeated ID is refused, nothing changed. */
static void
test_pel_restore_sets_owner_time_count(void **state)
{
    cg_set *set = cg_set_new();
    cg_group *g;
    cg_consumer *a, *b;
    pel_entry *e;
    stream_id id;
    pel_iter it;
    int n = 0;

    (void)state;
    assert_int_equal(cg_group_add(set, "g", 1, &(stream_id){9, 0}, 9, &g), 0);
    assert_int_equal(cg_consumer_add(g, "a", 1, 1, &a), 0);
    assert_int_equal(cg_consumer_add(g, "b", 1, 1, &b), 0);
    assert_int_equal(pel_restore(g, a, &(stream_id){3, 0}, 1234, 7), 0);
    assert_int_equal(pel_restore(g, b, &(stream_id){1, 5}, 99, 1), 0);
    assert_int_equal(pel_restore(g, a, &(stream_id){8, 0}, 5, 0), 0);
    assert_int_equal(pel_restore(g, b, &(stream_id){3, 0}, 1, 1), -EEXIST);
    assert_int_equal(cg_group_pending_count(g), 3);
    assert_int_equal(cg_consumer_pending_count(a), 2);
    assert_int_equal(cg_consumer_pending_count(b), 1);
    e = pel_find(g, &(stream_id){3, 0});
    assert_non_null(e);
    assert_ptr_equal(pel_entry_owner(e), a);
    assert_int_equal(pel_entry_delivery_ms(e), 1234);
    assert_int_equal(pel_entry_delivery_count(e), 7);
    assert_int_equal(cg_consumer_active_ms(a), CG_NEVER_ACTIVE); /* times untouched */
    assert_int_equal(pel_iter_start(&it, g, b, NULL), 0);
    while (pel_iter_next(&it, &id, &e)) {
        test_assert_id(id, test_id(1, 5));
        assert_int_equal(pel_entry_delivery_ms(e), 99);
        n++;
    }
    pel_iter_stop(&it);
    assert_int_equal(n, 1);
    assert_int_equal(cg_check(set), 0);
    cg_set_free(set);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, test_setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_pel_model_random_ops),
        T(test_pel_claim_moves_owner),
        T(test_pel_claim_min_idle_skips_recent),
        T(test_pel_claim_options_set_time_and_count),
        T(test_pel_claim_force_creates_entry),
        T(test_pel_claim_drops_deleted_entry),
        T(test_pel_autoclaim_cursor_and_deleted),
        T(test_pel_autoclaim_attempts_limit),
        T(test_pel_ack_removes_from_both),
        T(test_pel_edges_and_walk_from),
        T(test_pel_deliver_takes_over_pending),
        T(test_pel_oom_leaves_state_unchanged),
        T(test_pel_restore_sets_owner_time_count),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
