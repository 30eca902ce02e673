/*
 * tests/unit/test_snapshot: the binary snapshot codec (broker/persist/
 * snapshot.h), write then load.
 *
 * The main case fills a keyspace with every type in each of its encodings
 * (small and large, binary keys and values with NUL bytes, expiring keys,
 * streams with deleted entries, block boundaries, groups whose PEL entries
 * belong to several consumers), writes it, loads it into a fresh keyspace
 * and walks both side by side, comparing every byte, time, counter and the
 * stream block layout. Other cases cut the file at many offsets, flip bytes,
 * load a missing or foreign file, and check that keys past their expiry are
 * skipped. Files go to a fresh directory under /tmp, removed by teardown.
 */
#include "broker/persist/snapshot.h"

#include "broker/commands/families.h"
#include "broker/config/config.h"
#include "broker/keyspace/streamobj.h"
#include "broker/keyspace/t_hash.h"
#include "broker/keyspace/t_list.h"
#include "broker/keyspace/t_set.h"
#include "broker/keyspace/t_zset.h"
#include "consumers/pel.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define TEST_NOW_MS 1700000000000LL /* the fixed load time */

/* One case's state: the source and loaded keyspaces and the directory. */
typedef struct test_env {
    ks_space a;     /* written */
    ks_space b;     /* loaded */
    char dir[64];   /* temporary directory */
    char path[128]; /* dir/dump.snap */
    char err[256];  /* last error text */
} test_env;

static int
test_setup(void **state)
{
    test_env *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    config_init();
    ks_space_init(&e->a, 16);
    ks_space_init(&e->b, 16);
    snprintf(e->dir, sizeof(e->dir), "/tmp/test_snapshot.XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->path, sizeof(e->path), "%s/dump.snap", e->dir);
    *state = e;
    return 0;
}

static int
test_teardown(void **state)
{
    test_env *e = *state;
    char p[160];

    unlink(e->path);
    snprintf(p, sizeof(p), "%s/cut.snap", e->dir);
    unlink(p);
    assert_int_equal(rmdir(e->dir), 0); /* no temp file left behind */
    ks_space_fini(&e->a);
    ks_space_fini(&e->b);
    config_fini();
    free(e);
    return 0;
}

/* ---- Building values ---- */

static void
test_put(ks_space *ks, int db, const void *key, size_t klen, ks_obj *o, int64_t expire)
{
    ks_add(&ks->dbs[db], key, klen, o);
    if (expire >= 0)
        ks_set_expire(&ks->dbs[db], key, klen, expire);
}

static ks_obj *
test_hash(size_t n, size_t vlen)
{
    ks_hash_limits lim = {(size_t)config.hash_max_listpack_entries,
                          (size_t)config.hash_max_listpack_value};
    ks_obj *o = ks_hash_new();
    char f[32], v[256];

    for (size_t i = 0; i < n; i++) {
        int fl = snprintf(f, sizeof(f), "f%zu", i);

        memset(v, 'a' + (int)(i % 26), vlen);
        v[0] = '\0'; /* binary values */
        ks_hash_set(o, f, (size_t)fl, v, vlen, &lim);
    }
    return o;
}

static ks_obj *
test_intset(size_t n)
{
    ks_obj *o = ks_set_new_for("1", 1);
    char m[32];

    for (size_t i = 0; i < n; i++) {
        int ml = snprintf(m, sizeof(m), "%lld", (long long)i * 7919 - 100000);

        ks_set_add(o, m, (size_t)ml, (size_t)config.set_max_intset_entries);
    }
    return o;
}

static ks_obj *
test_list(size_t n)
{
    ks_obj *o = ks_list_new((int)config.list_max_listpack_size);
    char v[64];

    for (size_t i = 0; i < n; i++) {
        int vl = snprintf(v, sizeof(v), "item-%zu", i);

        v[2] = '\0';
        ks_list_push(o, 1, v, (size_t)vl);
    }
    return o;
}

/* n members with scores spread over both signs (ties broken by member
 * bytes), plus -inf, +inf and a binary member; long members when mlen. */
static ks_obj *
test_zset(size_t n, size_t mlen)
{
    ks_zset_limits lim = {(size_t)config.zset_max_listpack_entries,
                          (size_t)config.zset_max_listpack_value};
    ks_obj *o = ks_zset_new(0, 0, &lim);
    char m[256];
    int out;

    for (size_t i = 0; i < n; i++) {
        int ml = snprintf(m, sizeof(m), "m%zu", i);

        if (mlen > (size_t)ml) {
            memset(m + ml, 'q', mlen - (size_t)ml);
            ml = (int)mlen;
        }
        assert_int_equal(ks_zset_add(o, (double)(i % 7) * -1.25 + (double)i / 3, m, (size_t)ml, 0,
                                     &out, NULL, &lim),
                         0);
    }
    assert_int_equal(ks_zset_add(o, -INFINITY, "low", 3, 0, &out, NULL, &lim), 0);
    assert_int_equal(ks_zset_add(o, INFINITY, "high", 4, 0, &out, NULL, &lim), 0);
    assert_int_equal(ks_zset_add(o, 0.1, "b\0in", 4, 0, &out, NULL, &lim), 0);
    assert_int_equal(ks_zset_add(o, -0.0, "negzero", 7, 0, &out, NULL, &lim), 0);
    return o;
}

/* Appends n entries with varied fields (master-list hits, misses, numbers,
 * binary) in blocks of at most 16 entries, IDs 1000-i then same ms. */
static stream *
test_stream_fill(ks_stream *xs, int n)
{
    stream *s = xs->log;

    for (int i = 0; i < n; i++) {
        char v[32];
        stream_field fv[6] = {{"name", 4}, {v, 0}, {"n", 1}, {"12", 2}, {"x\0y", 3}, {"", 0}};
        size_t npairs = i % 3 == 0 ? 2 : 3;
        stream_id id = {1000 + (uint64_t)i / 2, (uint64_t)i % 2};

        fv[1].len = (size_t)snprintf(v, sizeof(v), "value %d", i);
        if (i % 5 == 0)
            fv[2].ptr = "other";
        assert_int_equal(stream_append(s, STREAM_ID_EXPLICIT, &id, fv, npairs, 0, 0, 16, NULL), 0);
    }
    return s;
}

static stream_id
test_id(uint64_t ms, uint64_t seq)
{
    stream_id id = {ms, seq};
    return id;
}

/* A stream with deleted entries (a block's first, middle ones, a whole
 * block), trimmed head, raised counters, two groups with several
 * consumers owning PEL entries, one never-active consumer, one group with
 * an unknown entries-read. */
static ks_obj *
test_stream_big(void)
{
    ks_obj *o = ks_stream_obj_new();
    ks_stream *xs = (ks_stream *)o->ptr;
    stream *s = test_stream_fill(xs, 200);
    cg_set *set = ks_stream_groups(xs);
    cg_group *g1, *g2, *g3;
    cg_consumer *alice, *bob, *carol, *idle;
    stream_id id, start = test_id(0, 0);

    /* Block 2 starts at 1008-0: delete its first entry. */
    id = test_id(1008, 0);
    assert_int_equal(stream_delete(s, &id), 1);
    id = test_id(1010, 1);
    assert_int_equal(stream_delete(s, &id), 1);
    for (uint64_t ms = 1032; ms < 1040; ms++) { /* a whole block of 16 */
        id = test_id(ms, 0);
        assert_int_equal(stream_delete(s, &id), 1);
        id = test_id(ms, 1);
        assert_int_equal(stream_delete(s, &id), 1);
    }
    assert_true(stream_trim(s, STREAM_TRIM_MAXLEN, 170, NULL, 0, 0) > 0);
    stream_set_entries_added(s, 5000);
    assert_int_equal(cg_group_add(set, "g1", 2, &start, 0, &g1), 0);
    assert_int_equal(cg_group_add(set, "g\0bin", 5, &start, CG_ENTRIES_READ_INVALID, &g2), 0);
    assert_int_equal(cg_group_add(set, "empty", 5, &start, 0, &g3), 0);
    assert_int_equal(cg_consumer_add(g1, "alice", 5, TEST_NOW_MS - 500, &alice), 0);
    assert_int_equal(cg_consumer_add(g1, "bob", 3, TEST_NOW_MS - 400, &bob), 0);
    assert_int_equal(cg_consumer_add(g1, "idle", 4, TEST_NOW_MS - 300, &idle), 0);
    assert_int_equal(cg_consumer_add(g2, "carol", 5, TEST_NOW_MS - 200, &carol), 0);
    {
        stream_iter it;
        size_t np;
        int k = 0;

        stream_iter_start(&it, s, NULL, NULL, 0);
        while (k < 60 && stream_iter_next(&it, &id, &np)) {
            cg_consumer *c = k % 3 == 0 ? bob : alice;

            assert_int_equal(cg_deliver(s, g1, c, &id, 0, TEST_NOW_MS - 1000 + k), 0);
            if (k < 10)
                assert_int_equal(cg_deliver(s, g2, carol, &id, k % 2, TEST_NOW_MS - 50), 0);
            k++;
        }
        stream_iter_stop(&it);
    }
    /* A redelivered entry and an entry deleted from the stream while pending. */
    pel_redeliver(pel_find(g1, &id), TEST_NOW_MS - 5);
    pel_redeliver(pel_find(g1, &id), TEST_NOW_MS - 4);
    assert_int_equal(stream_delete(s, &id), 1);
    cg_group_set_id(g2, &id, CG_ENTRIES_READ_INVALID);
    cg_consumer_touch(idle, TEST_NOW_MS - 1);
    return o;
}

/* A stream whose every entry was deleted, with one group. */
static ks_obj *
test_stream_emptied(void)
{
    ks_obj *o = ks_stream_obj_new();
    ks_stream *xs = (ks_stream *)o->ptr;
    stream *s = test_stream_fill(xs, 4);
    stream_id id = test_id(1001, 1);

    for (uint64_t i = 0; i < 4; i++) {
        id = test_id(1000 + i / 2, i % 2);
        assert_int_equal(stream_delete(s, &id), 1);
    }
    assert_int_equal(cg_group_add(ks_stream_groups(xs), "grp", 3, &id, 4, NULL), 0);
    return o;
}

/* Every type and encoding in databases 0, 3 and 15. */
static void
test_fill(ks_space *ks)
{
    static const char binkey[] = "bin\0key\xff";
    static const char binval[] = "a\0b\0c\r\n";
    char big[300];

    memset(big, 'z', sizeof(big));
    test_put(ks, 0, "int", 3, ks_obj_new_str("12345", 5), -1);
    test_put(ks, 0, "neg", 3, ks_obj_new_ll(-9223372036854775807LL - 1), -1);
    test_put(ks, 0, "emb", 3, ks_obj_new_str("hello", 5), -1);
    test_put(ks, 0, "raw", 3, ks_obj_new_str(big, sizeof(big)), -1);
    test_put(ks, 0, "rawshort", 8, ks_obj_new_raw("ab", 2), -1);
    test_put(ks, 0, "empty", 5, ks_obj_new_str("", 0), -1);
    test_put(ks, 0, binkey, sizeof(binkey) - 1, ks_obj_new_str(binval, sizeof(binval) - 1), -1);
    test_put(ks, 0, "", 0, ks_obj_new_str("empty key", 9), -1);
    test_put(ks, 0, "ttl", 3, ks_obj_new_str("v", 1), TEST_NOW_MS + 100000);
    test_put(ks, 0, "ttlnow", 6, ks_obj_new_str("v", 1), TEST_NOW_MS);
    test_put(ks, 0, "ttlpast", 7, test_list(3), TEST_NOW_MS - 1);
    test_put(ks, 0, "hsmall", 6, test_hash(5, 10), -1);
    test_put(ks, 0, "hmany", 5, test_hash(600, 5), -1);
    test_put(ks, 0, "hbig", 4, test_hash(3, 200), TEST_NOW_MS + 1);
    test_put(ks, 0, "ssmall", 6, test_intset(10), -1);
    test_put(ks, 0, "sints", 5, test_intset(1000), -1);
    {
        ks_obj *o = ks_set_new_for("m\0x", 3);

        ks_set_add(o, "m\0x", 3, 512);
        ks_set_add(o, "7", 1, 512);
        test_put(ks, 3, "sstr", 4, o, -1);
    }
    test_put(ks, 0, "zsmall", 6, test_zset(5, 0), -1);
    test_put(ks, 0, "zmany", 5, test_zset(300, 0), TEST_NOW_MS + 7);
    test_put(ks, 3, "zlong", 5, test_zset(3, 100), -1);
    test_put(ks, 0, "lsmall", 6, test_list(3), -1);
    test_put(ks, 0, "lbig", 4, test_list(5000), -1);
    test_put(ks, 3, "xbig", 4, test_stream_big(), -1);
    test_put(ks, 15, "xempty", 6, test_stream_emptied(), TEST_NOW_MS + 5);
    test_put(ks, 15, "xnew", 4, ks_stream_obj_new(), -1);
}

/* ---- Deep comparison ---- */

static void
test_cmp_str(const ks_obj *a, const ks_obj *b)
{
    long long x, y;

    if (a->enc == KS_ENC_INT) {
        assert_int_equal(b->enc, KS_ENC_INT);
        assert_true(ks_obj_get_ll(a, &x) && ks_obj_get_ll(b, &y));
        assert_true(x == y);
        return;
    }
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->ptr, b->ptr, a->len);
}

static void
test_cmp_list(const ks_obj *a, const ks_obj *b)
{
    ks_list_pos pa, pb;
    size_t la, lb;

    assert_int_equal(ks_list_len(a), ks_list_len(b));
    assert_int_equal(ks_list_check(b), 0);
    assert_true(ks_list_locate(a, 0, &pa) && ks_list_locate(b, 0, &pb));
    do {
        const char *sa = ks_list_pos_get(&pa, &la), *sb = ks_list_pos_get(&pb, &lb);

        assert_int_equal(la, lb);
        assert_memory_equal(sa, sb, la);
        assert_int_equal(ks_list_pos_next(&pa), ks_list_pos_next(&pb));
    } while (pa.node != NULL);
}

static void
test_cmp_set(ks_obj *a, ks_obj *b)
{
    ks_set_iter it;
    const char *m;
    size_t len;

    assert_int_equal(ks_set_count(a), ks_set_count(b));
    assert_int_equal(ks_set_check(b), 0);
    ks_set_iter_start(&it, a);
    while (ks_set_iter_next(&it, &m, &len))
        assert_true(ks_set_contains(b, m, len));
    ks_set_iter_stop(&it);
}

/* Same pairs; for listpack hashes in the same order. */
static void
test_cmp_hash(ks_obj *a, ks_obj *b)
{
    ks_hash_iter ia, ib;
    const char *f, *v, *f2, *v2;
    size_t fl, vl, fl2, vl2;

    assert_int_equal(ks_hash_count(a), ks_hash_count(b));
    assert_int_equal(ks_hash_check(b), 0);
    ks_hash_iter_start(&ia, a);
    ks_hash_iter_start(&ib, b);
    while (ks_hash_iter_next(&ia, &f, &fl, &v, &vl)) {
        assert_true(ks_hash_find(b, f, fl, &v2, &vl2));
        assert_int_equal(vl, vl2);
        assert_memory_equal(v, v2, vl);
        if (a->enc == KS_ENC_LISTPACK) {
            assert_true(ks_hash_iter_next(&ib, &f2, &fl2, &v2, &vl2));
            assert_int_equal(fl, fl2);
            assert_memory_equal(f, f2, fl);
        }
    }
    ks_hash_iter_stop(&ia);
    ks_hash_iter_stop(&ib);
}

/* Same members in the same order with bit-identical scores. */
static void
test_cmp_zset(ks_obj *a, ks_obj *b)
{
    ks_zset_iter ia, ib;
    const char *ma, *mb;
    size_t la, lb;
    double sa, sb;

    assert_int_equal(ks_zset_count(a), ks_zset_count(b));
    assert_int_equal(ks_zset_check(b), 0);
    ks_zset_iter_rank(&ia, a, 0, SIZE_MAX, 0);
    ks_zset_iter_rank(&ib, b, 0, SIZE_MAX, 0);
    while (ks_zset_iter_next(&ia, &ma, &la, &sa)) {
        assert_true(ks_zset_iter_next(&ib, &mb, &lb, &sb));
        assert_int_equal(la, lb);
        assert_memory_equal(ma, mb, la);
        assert_memory_equal(&sa, &sb, sizeof(sa));
    }
    assert_false(ks_zset_iter_next(&ib, &mb, &lb, &sb));
}

static void
test_cmp_ids(stream_id x, stream_id y)
{
    assert_true(x.ms == y.ms && x.seq == y.seq);
}

/* Every stored entry, deleted ones and block starts included. */
static void
test_cmp_log(stream *a, stream *b)
{
    stream_iter ia, ib;
    stream_id xa, xb;
    size_t na, nb;
    int da, db, ba, bb, more;

    assert_int_equal(stream_check(b), 0);
    assert_int_equal(stream_len(a), stream_len(b));
    test_cmp_ids(stream_last_id(a), stream_last_id(b));
    test_cmp_ids(stream_max_deleted_id(a), stream_max_deleted_id(b));
    assert_int_equal(stream_entries_added(a), stream_entries_added(b));
    assert_int_equal(stream_first_entry(a, &xa), stream_first_entry(b, &xb));
    if (stream_len(a) > 0)
        test_cmp_ids(xa, xb);
    assert_int_equal(stream_rax_keys(a), stream_rax_keys(b));
    assert_int_equal(stream_rax_nodes(a), stream_rax_nodes(b));
    stream_iter_start_raw(&ia, a);
    stream_iter_start_raw(&ib, b);
    do {
        stream_field fa, va, fb, vb;

        more = stream_iter_next_raw(&ia, &xa, &na, &da, &ba);
        assert_int_equal(more, stream_iter_next_raw(&ib, &xb, &nb, &db, &bb));
        if (!more)
            break;
        test_cmp_ids(xa, xb);
        assert_int_equal(na, nb);
        assert_int_equal(da, db);
        assert_int_equal(ba, bb);
        while (stream_iter_field(&ia, &fa, &va)) {
            assert_true(stream_iter_field(&ib, &fb, &vb));
            assert_int_equal(fa.len, fb.len);
            assert_memory_equal(fa.ptr, fb.ptr, fa.len);
            assert_int_equal(va.len, vb.len);
            assert_memory_equal(va.ptr, vb.ptr, va.len);
        }
    } while (more);
    stream_iter_stop(&ia);
    stream_iter_stop(&ib);
}

static void
test_cmp_names(const void *a, size_t al, const void *b, size_t bl)
{
    assert_int_equal(al, bl);
    assert_memory_equal(a, b, al);
}

static void
test_cmp_group(cg_group *a, cg_group *b)
{
    cg_iter ia, ib;
    cg_consumer *ca, *cb;
    pel_iter pa, pb;
    pel_entry *ea, *eb;
    stream_id xa, xb;
    size_t al, bl;
    int more;

    test_cmp_ids(cg_group_last_id(a), cg_group_last_id(b));
    assert_int_equal(cg_group_entries_read(a), cg_group_entries_read(b));
    assert_int_equal(cg_group_consumer_count(a), cg_group_consumer_count(b));
    assert_int_equal(cg_group_pending_count(a), cg_group_pending_count(b));
    cg_iter_consumers(&ia, a);
    cg_iter_consumers(&ib, b);
    while (cg_iter_next_consumer(&ia, &ca)) {
        const void *na = cg_consumer_name(ca, &al), *nb;

        assert_true(cg_iter_next_consumer(&ib, &cb));
        nb = cg_consumer_name(cb, &bl);
        test_cmp_names(na, al, nb, bl);
        assert_int_equal(cg_consumer_seen_ms(ca), cg_consumer_seen_ms(cb));
        assert_int_equal(cg_consumer_active_ms(ca), cg_consumer_active_ms(cb));
        assert_int_equal(cg_consumer_pending_count(ca), cg_consumer_pending_count(cb));
    }
    cg_iter_stop(&ia);
    cg_iter_stop(&ib);
    assert_int_equal(pel_iter_start(&pa, a, NULL, NULL), 0);
    assert_int_equal(pel_iter_start(&pb, b, NULL, NULL), 0);
    do {
        more = pel_iter_next(&pa, &xa, &ea);
        assert_int_equal(more, pel_iter_next(&pb, &xb, &eb));
        if (!more)
            break;
        test_cmp_ids(xa, xb);
        assert_int_equal(pel_entry_delivery_ms(ea), pel_entry_delivery_ms(eb));
        assert_int_equal(pel_entry_delivery_count(ea), pel_entry_delivery_count(eb));
        {
            const void *na = cg_consumer_name(pel_entry_owner(ea), &al);
            const void *nb = cg_consumer_name(pel_entry_owner(eb), &bl);

            test_cmp_names(na, al, nb, bl);
        }
    } while (more);
    pel_iter_stop(&pa);
    pel_iter_stop(&pb);
}

static void
test_cmp_stream(ks_obj *a, ks_obj *b)
{
    ks_stream *xa = (ks_stream *)a->ptr, *xb = (ks_stream *)b->ptr;
    uint64_t na = xa->groups ? cg_set_count(xa->groups) : 0;
    uint64_t nb = xb->groups ? cg_set_count(xb->groups) : 0;
    cg_iter ia, ib;
    cg_group *ga, *gb;
    size_t al, bl;

    test_cmp_log(xa->log, xb->log);
    assert_int_equal(na, nb);
    if (na == 0)
        return;
    assert_int_equal(cg_check(xb->groups), 0);
    cg_iter_groups(&ia, xa->groups);
    cg_iter_groups(&ib, xb->groups);
    while (cg_iter_next_group(&ia, &ga)) {
        const void *name = cg_group_name(ga, &al), *gname;

        assert_true(cg_iter_next_group(&ib, &gb));
        gname = cg_group_name(gb, &bl);
        test_cmp_names(name, al, gname, bl);
        test_cmp_group(ga, gb);
    }
    cg_iter_stop(&ia);
    cg_iter_stop(&ib);
}

/* Walks every key of a: b holds it with the same expiry and value unless
 * it was expired at now_ms; b holds nothing else. Returns keys compared. */
static size_t
test_cmp_space(ks_space *a, ks_space *b, int64_t now_ms)
{
    size_t total = 0;

    for (int i = 0; i < a->count; i++) {
        ks_db *da = &a->dbs[i], *db = &b->dbs[i];
        size_t live = 0, n = 0, j;
        ks_dict_entry **ents = calloc(ks_dict_count(da->keys) + 1, sizeof(*ents));
        ks_dict_iter it;
        ks_dict_entry *e;

        /* Collected first: a failed assertion must not leave the dict
         * paused by an open iterator (entries never move). */
        assert_non_null(ents);
        ks_dict_iter_start(&it, da->keys);
        while ((e = ks_dict_iter_next(&it)) != NULL)
            ents[n++] = e;
        ks_dict_iter_stop(&it);
        for (j = 0; j < n; j++) {
            size_t klen;
            const char *key = ks_dict_entry_key(ents[j], &klen);
            int64_t exp = ks_get_expire(da, key, klen);
            ks_obj *oa = ks_dict_entry_val(ents[j]), *ob;
            ks_dict_entry *eb = ks_dict_find(db->keys, key, klen);

            if (exp >= 0 && exp <= now_ms) {
                assert_null(eb);
                continue;
            }
            assert_non_null(eb);
            live++;
            ob = ks_dict_entry_val(eb);
            assert_int_equal(ks_get_expire(db, key, klen), exp);
            assert_int_equal(oa->type, ob->type);
            switch (oa->type) {
            case KS_STRING:
                test_cmp_str(oa, ob);
                break;
            case KS_LIST:
                test_cmp_list(oa, ob);
                break;
            case KS_SET:
                test_cmp_set(oa, ob);
                break;
            case KS_HASH:
                test_cmp_hash(oa, ob);
                break;
            case KS_ZSET:
                test_cmp_zset(oa, ob);
                break;
            case KS_STREAM:
                test_cmp_stream(oa, ob);
                break;
            default:
                fail_msg("unexpected type %d", oa->type);
            }
        }
        free(ents);
        assert_int_equal(ks_dict_count(db->keys), live);
        total += live;
    }
    return total;
}

static const char *
test_enc(ks_space *ks, int db, const char *key)
{
    ks_dict_entry *e = ks_dict_find(ks->dbs[db].keys, key, strlen(key));

    assert_non_null(e);
    return ks_obj_enc_name(ks_dict_entry_val(e));
}

/* ---- Cases ---- */

static void
test_snapshot_crc64_check_value(void **state)
{
    (void)state;
    assert_true(snap_crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    assert_true(snap_crc64(snap_crc64(0, "1234", 4), "56789", 5) == 0xe9c6d914c4b8d9caULL);
    assert_true(snap_crc64(0, "", 0) == 0);
}

static void
test_snapshot_roundtrip_every_type(void **state)
{
    test_env *e = *state;
    snap_info info;
    struct stat st;

    test_fill(&e->a);
    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    assert_int_equal(stat(e->path, &st), 0);
    assert_int_equal(
        snap_load(&e->b, e->path, TEST_NOW_MS, &info, NULL, NULL, e->err, sizeof(e->err)), 0);
    assert_int_equal(info.keys, test_cmp_space(&e->a, &e->b, TEST_NOW_MS));
    assert_int_equal(info.keys, 23);
    assert_int_equal(info.expired, 2); /* ttlnow (at now) and ttlpast */
    assert_int_equal(info.bytes, (uint64_t)st.st_size);
    assert_true(info.ctime_ms > TEST_NOW_MS);
    /* Encodings as the thresholds choose. */
    assert_string_equal(test_enc(&e->b, 0, "int"), "int");
    assert_string_equal(test_enc(&e->b, 0, "neg"), "int");
    assert_string_equal(test_enc(&e->b, 0, "emb"), "embstr");
    assert_string_equal(test_enc(&e->b, 0, "raw"), "raw");
    assert_string_equal(test_enc(&e->b, 0, "rawshort"), "embstr");
    assert_string_equal(test_enc(&e->b, 0, "hsmall"), "listpack");
    assert_string_equal(test_enc(&e->b, 0, "hmany"), "hashtable");
    assert_string_equal(test_enc(&e->b, 0, "hbig"), "hashtable");
    assert_string_equal(test_enc(&e->b, 0, "ssmall"), "intset");
    assert_string_equal(test_enc(&e->b, 0, "sints"), "hashtable");
    assert_string_equal(test_enc(&e->b, 3, "sstr"), "hashtable");
    assert_string_equal(test_enc(&e->b, 0, "lbig"), "quicklist");
    assert_string_equal(test_enc(&e->b, 0, "zsmall"), "listpack");
    assert_string_equal(test_enc(&e->b, 0, "zmany"), "skiplist");
    assert_string_equal(test_enc(&e->b, 3, "zlong"), "skiplist");
    assert_string_equal(test_enc(&e->b, 3, "xbig"), "stream");
}

/* Written twice from equal keyspaces, the files differ only in the ctime
 * aux field and the CRC; a second write replaces the first atomically. */
static void
test_snapshot_rewrite_replaces_file(void **state)
{
    test_env *e = *state;

    test_put(&e->a, 0, "k", 1, ks_obj_new_str("one", 3), -1);
    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    ks_set(&e->a.dbs[0], "k", 1, ks_obj_new_str("two", 3), 0);
    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    assert_int_equal(
        snap_load(&e->b, e->path, TEST_NOW_MS, NULL, NULL, NULL, e->err, sizeof(e->err)), 0);
    assert_int_equal(test_cmp_space(&e->a, &e->b, TEST_NOW_MS), 1);
}

static void
test_snapshot_empty_keyspace(void **state)
{
    test_env *e = *state;
    snap_info info;

    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    assert_int_equal(
        snap_load(&e->b, e->path, TEST_NOW_MS, &info, NULL, NULL, e->err, sizeof(e->err)), 0);
    assert_int_equal(info.keys, 0);
    assert_int_equal(test_cmp_space(&e->a, &e->b, TEST_NOW_MS), 0);
}

static void
test_snapshot_missing_file_enoent(void **state)
{
    test_env *e = *state;

    assert_int_equal(
        snap_load(&e->b, e->path, TEST_NOW_MS, NULL, NULL, NULL, e->err, sizeof(e->err)), -ENOENT);
    assert_non_null(strstr(e->err, e->path));
}

/* Reads the whole file into a malloc'ed buffer. */
static unsigned char *
test_slurp(const char *path, size_t *len)
{
    struct stat st;
    unsigned char *p;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    p = malloc((size_t)st.st_size + 1);
    assert_non_null(p);
    assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return p;
}

static void
test_spit(const char *path, const unsigned char *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

/* Loads path into a fresh keyspace expecting -EINVAL and a message that
 * names the file and a byte offset. */
static void
test_expect_einval(const char *path)
{
    ks_space ks;
    char err[256] = "";

    ks_space_init(&ks, 16);
    assert_int_equal(snap_load(&ks, path, TEST_NOW_MS, NULL, NULL, NULL, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "byte"));
    ks_space_fini(&ks);
}

static void
test_snapshot_truncated_einval(void **state)
{
    test_env *e = *state;
    char cut[160];
    unsigned char *p;
    size_t len, step;

    snprintf(cut, sizeof(cut), "%s/cut.snap", e->dir);
    test_fill(&e->a);
    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    p = test_slurp(e->path, &len);
    step = len / 150 + 1;
    for (size_t n = 0; n < len; n += n < 40 || n > len - 40 ? 1 : step) {
        test_spit(cut, p, n);
        test_expect_einval(cut);
    }
    free(p);
}

static void
test_snapshot_flipped_byte_einval(void **state)
{
    test_env *e = *state;
    char cut[160];
    unsigned char *p;
    size_t len, step;

    snprintf(cut, sizeof(cut), "%s/cut.snap", e->dir);
    test_fill(&e->a);
    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    p = test_slurp(e->path, &len);
    step = len / 100 + 1;
    for (size_t at = 0; at<len; at += at> len - 20 ? 1 : step) {
        p[at] ^= 0x20;
        test_spit(cut, p, len);
        test_expect_einval(cut);
        p[at] ^= 0x20;
    }
    /* Extra bytes after the checksum are damage too. */
    p = realloc(p, len + 1);
    p[len] = 0;
    test_spit(cut, p, len + 1);
    test_expect_einval(cut);
    free(p);
}

/* Damage that keeps a valid checksum (as a crafted file would) is refused
 * by the parse itself: every load returns 0 or -EINVAL, never crashes,
 * never trips an assertion and leaks nothing (LeakSanitizer). */
static void
test_snapshot_crafted_files_refused_cleanly(void **state)
{
    test_env *e = *state;
    char cut[160];
    unsigned char *p, *q;
    size_t len;
    uint64_t rng = 0x9e3779b97f4a7c15ULL, crc;
    int ok = 0, bad = 0;

    snprintf(cut, sizeof(cut), "%s/cut.snap", e->dir);
    test_fill(&e->a);
    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    p = test_slurp(e->path, &len);
    q = malloc(len);
    assert_non_null(q);
    for (int round = 0; round < 400; round++) {
        ks_space ks;
        int rc, flips = 1 + round % 3;

        memcpy(q, p, len);
        for (int f = 0; f < flips; f++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            /* Half the rounds aim at the first 2 KB, where the headers,
             * small values and counts are; the rest anywhere. */
            size_t at = (size_t)(rng >> 33) % (round % 2 ? len - 8 : 2048);

            q[at] = (unsigned char)(rng >> 13);
        }
        crc = snap_crc64(0, q, len - 8);
        for (int i = 0; i < 8; i++)
            q[len - 8 + i] = (unsigned char)(crc >> (8 * i));
        test_spit(cut, q, len);
        ks_space_init(&ks, 16);
        rc = snap_load(&ks, cut, TEST_NOW_MS, NULL, NULL, NULL, e->err, sizeof(e->err));
        assert_true(rc == 0 || rc == -EINVAL);
        if (rc == 0)
            ok++;
        else
            bad++;
        ks_space_fini(&ks);
    }
    print_message("crafted files: %d loaded, %d refused\n", ok, bad);
    assert_true(bad > 0);
    free(p);
    free(q);
}

static void
test_snapshot_foreign_file_einval(void **state)
{
    test_env *e = *state;
    static const unsigned char junk[] = "REDIS0011 not ours at all, no no no";

    test_spit(e->path, junk, sizeof(junk) - 1);
    test_expect_einval(e->path);
    test_spit(e->path, junk, 0);
    test_expect_einval(e->path);
}

/* Expiries at or before the load time are skipped and counted, later ones
 * kept with the same absolute time. */
static void
test_snapshot_past_expiry_skipped(void **state)
{
    test_env *e = *state;
    snap_info info;

    test_put(&e->a, 2, "gone", 4, ks_obj_new_str("x", 1), TEST_NOW_MS - 86400000);
    test_put(&e->a, 2, "edge", 4, test_hash(2, 2), TEST_NOW_MS);
    test_put(&e->a, 2, "kept", 4, ks_obj_new_str("y", 1), TEST_NOW_MS + 1);
    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    assert_int_equal(
        snap_load(&e->b, e->path, TEST_NOW_MS, &info, NULL, NULL, e->err, sizeof(e->err)), 0);
    assert_int_equal(info.keys, 1);
    assert_int_equal(info.expired, 2);
    assert_int_equal(ks_get_expire(&e->b.dbs[2], "kept", 4), TEST_NOW_MS + 1);
    assert_int_equal(ks_dict_count(e->b.dbs[2].keys), 1);
}

static void
test_progress(void *priv, uint64_t bytes)
{
    uint64_t *calls = priv;

    assert_true(bytes > 0);
    (*calls)++;
}

static void
test_snapshot_progress_called(void **state)
{
    test_env *e = *state;
    uint64_t calls = 0;
    char k[32];

    for (int i = 0; i < 5000; i++) {
        int kl = snprintf(k, sizeof(k), "key:%d", i);

        test_put(&e->a, 1, k, (size_t)kl, ks_obj_new_ll(i), -1);
    }
    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    assert_int_equal(
        snap_load(&e->b, e->path, TEST_NOW_MS, NULL, test_progress, &calls, e->err, sizeof(e->err)),
        0);
    assert_int_equal(calls, 4); /* every 1024 keys */
    assert_int_equal(test_cmp_space(&e->a, &e->b, TEST_NOW_MS), 5000);
}

/* A database number the loading server does not have is refused. */
static void
test_snapshot_db_out_of_range_einval(void **state)
{
    test_env *e = *state;
    ks_space small;

    test_put(&e->a, 9, "k", 1, ks_obj_new_str("v", 1), -1);
    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    ks_space_init(&small, 4);
    assert_int_equal(
        snap_load(&small, e->path, TEST_NOW_MS, NULL, NULL, NULL, e->err, sizeof(e->err)), -EINVAL);
    assert_non_null(strstr(e->err, "database"));
    ks_space_fini(&small);
}

static void
test_snapshot_unwritable_dir_fails(void **state)
{
    test_env *e = *state;
    char bad[200];

    snprintf(bad, sizeof(bad), "%s/nodir/dump.snap", e->dir);
    assert_int_equal(snap_write(&e->a, bad, e->err, sizeof(e->err)), -ENOENT);
    assert_non_null(strstr(e->err, "nodir"));
}

/* ---- Through the command handlers ---- */

#define TEST_MAX_ARGS 24

/* The def of name (a subcommand when sub is not NULL) in the stream, group
 * and keys tables. */
static const cmd_def *
test_find_cmd(const char *name, const char *sub)
{
    static cmd_def *tables[3];

    tables[0] = cmd_stream_defs;
    tables[1] = cmd_group_defs;
    tables[2] = cmd_keys_defs;
    for (int t = 0; t < 3; t++) {
        for (const cmd_def *d = tables[t]; d->name; d++) {
            if (strcasecmp(d->name, name) != 0)
                continue;
            if (d->subs == NULL)
                return d;
            for (const cmd_def *x = d->subs; sub != NULL && x->name; x++)
                if (strcasecmp(x->name, sub) == 0)
                    return x;
        }
    }
    fail_msg("no command %s %s", name, sub ? sub : "");
    return NULL;
}

/* Runs one space-separated command (no argument contains a space) at
 * now_ms on database 0 of ks and returns a malloc'ed copy of its reply. */
static char *
test_cmd(ks_space *ks, int64_t now_ms, const char *line)
{
    resp_arg argv[TEST_MAX_ARGS];
    char buf[512], *save = NULL, *tok, *out;
    cmd_session sess = {0};
    reply r;
    cmd_ctx c;
    int argc = 0;

    snprintf(buf, sizeof(buf), "%s", line);
    for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        assert_true(argc < TEST_MAX_ARGS);
        argv[argc].ptr = tok;
        argv[argc++].len = strlen(tok);
    }
    sess.resp = 2;
    reply_init(&r, 2);
    c = (cmd_ctx){.argc = argc,
                  .argv = argv,
                  .ks = ks,
                  .db = &ks->dbs[0],
                  .r = &r,
                  .sess = &sess,
                  .now_ms = now_ms,
                  .cmd = test_find_cmd(argv[0].ptr, argc > 1 ? argv[1].ptr : NULL)};
    c.cmd->fn(&c);
    out = malloc(r.len + 1);
    assert_non_null(out);
    memcpy(out, r.buf, r.len);
    out[r.len] = 0;
    reply_fini(&r);
    return out;
}

/* Runs a write and checks that it did not fail. */
static void
test_write_cmd(ks_space *ks, int64_t now_ms, const char *line)
{
    char *rep = test_cmd(ks, now_ms, line);

    if (rep[0] == '-')
        fail_msg("%s -> %s", line, rep);
    free(rep);
}

/* XINFO, XPENDING and XRANGE answer byte for byte the same after a save and
 * load (at the same clock, so idle times match too), and the next XADD and
 * XREADGROUP behave the same on both. */
static void
test_snapshot_stream_commands_answer_identically(void **state)
{
    static const char *queries[] = {
        "XINFO STREAM s FULL",
        "XINFO STREAM s",
        "XINFO STREAM s FULL COUNT 3",
        "XINFO GROUPS s",
        "XINFO CONSUMERS s g1",
        "XINFO CONSUMERS s g2",
        "XPENDING s g1",
        "XPENDING s g1 - + 1000",
        "XPENDING s g1 - + 1000 bob",
        "XPENDING s g2 IDLE 10 - + 1000",
        "XLEN s",
        "XRANGE s - +",
        "XINFO STREAM e FULL",
        "XINFO GROUPS e",
    };
    test_env *e = *state;
    int64_t t = TEST_NOW_MS;
    char line[256];

    for (int i = 1; i <= 250; i++) {
        snprintf(line, sizeof(line), "XADD s %d-%d name n%d value %d%s", 1000 + i / 3, i % 3, i,
                 i * 7, i % 4 ? "" : " extra field");
        test_write_cmd(&e->a, t, line);
    }
    test_write_cmd(&e->a, t, "XDEL s 1001-0 1002-1 1040-0 1040-1 1040-2 1083-1");
    test_write_cmd(&e->a, t, "XTRIM s MAXLEN 230");
    test_write_cmd(&e->a, t, "XGROUP CREATE s g1 0");
    test_write_cmd(&e->a, t, "XGROUP CREATE s g2 1050-0 ENTRIESREAD 40");
    test_write_cmd(&e->a, t, "XGROUP CREATE s g0 $");
    test_write_cmd(&e->a, t + 10, "XREADGROUP GROUP g1 alice COUNT 20 STREAMS s >");
    test_write_cmd(&e->a, t + 20, "XREADGROUP GROUP g1 bob COUNT 7 STREAMS s >");
    test_write_cmd(&e->a, t + 30, "XREADGROUP GROUP g2 carol COUNT 5 STREAMS s >");
    test_write_cmd(&e->a, t + 40, "XREADGROUP GROUP g2 dave NOACK COUNT 5 STREAMS s >");
    test_write_cmd(&e->a, t + 50, "XCLAIM s g1 carol 0 1010-0 1011-1 RETRYCOUNT 9");
    test_write_cmd(&e->a, t + 55, "XCLAIM s g1 bob 0 1012-0 JUSTID");
    test_write_cmd(&e->a, t + 60, "XACK s g1 1013-0 1013-1");
    test_write_cmd(&e->a, t + 70, "XGROUP CREATECONSUMER s g1 erin");
    test_write_cmd(&e->a, t + 80, "XREADGROUP GROUP g1 alice STREAMS s 0");
    test_write_cmd(&e->a, t + 90, "XDEL s 1005-0");
    test_write_cmd(&e->a, t + 95, "XADD e 5-5 k v");
    test_write_cmd(&e->a, t + 95, "XDEL e 5-5");
    test_write_cmd(&e->a, t + 96, "XGROUP CREATE e grp 0");
    test_write_cmd(&e->a, t + 96, "XSETID e 9-9 ENTRIESADDED 77 MAXDELETEDID 6-0");

    assert_int_equal(snap_write(&e->a, e->path, e->err, sizeof(e->err)), 0);
    assert_int_equal(snap_load(&e->b, e->path, t + 100, NULL, NULL, NULL, e->err, sizeof(e->err)),
                     0);
    for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
        char *ra = test_cmd(&e->a, t + 1000, queries[q]);
        char *rb = test_cmd(&e->b, t + 1000, queries[q]);

        if (strcmp(ra, rb) != 0)
            fail_msg("%s differs:\n%s\n--- vs ---\n%s", queries[q], ra, rb);
        assert_true(ra[0] != '-');
        free(ra);
        free(rb);
    }
    /* The tail block fills up the same way. */
    for (int i = 0; i < 120; i++) {
        test_write_cmd(&e->a, t + 2000 + i, "XADD s * k v");
        test_write_cmd(&e->b, t + 2000 + i, "XADD s * k v");
    }
    test_write_cmd(&e->a, t + 3000, "XREADGROUP GROUP g1 alice COUNT 50 STREAMS s >");
    test_write_cmd(&e->b, t + 3000, "XREADGROUP GROUP g1 alice COUNT 50 STREAMS s >");
    for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
        char *ra = test_cmd(&e->a, t + 4000, queries[q]);
        char *rb = test_cmd(&e->b, t + 4000, queries[q]);

        if (strcmp(ra, rb) != 0)
            fail_msg("after XADD: %s differs:\n%s\n--- vs ---\n%s", queries[q], ra, rb);
        free(ra);
        free(rb);
    }
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, test_setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_snapshot_crc64_check_value),
        T(test_snapshot_roundtrip_every_type),
        T(test_snapshot_rewrite_replaces_file),
        T(test_snapshot_empty_keyspace),
        T(test_snapshot_missing_file_enoent),
        T(test_snapshot_truncated_einval),
        T(test_snapshot_flipped_byte_einval),
        T(test_snapshot_foreign_file_einval),
        T(test_snapshot_past_expiry_skipped),
        T(test_snapshot_progress_called),
        T(test_snapshot_db_out_of_range_einval),
        T(test_snapshot_unwritable_dir_fails),
        T(test_snapshot_stream_commands_answer_identically),
        T(test_snapshot_crafted_files_refused_cleanly),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
