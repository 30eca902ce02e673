/*
 * test_dict.c - unit tests for the keyspace hash table (dict.h).
 *
 * The core is a model-based random test: tens of thousands of add / find /
 * del / unlink / replace operations checked against a plain array indexed
 * by key number, with ks_dict_check after every batch. The other cases pin
 * down one behaviour each: SipHash-1-2 against a reference checked with the
 * published SipHash-2-4 vectors, grow and shrink rules, incremental
 * rehashing, the SCAN guarantee across grows and shrinks, safe iteration
 * with deletion during a rehash, random/sample, s64 values and ENOMEM
 * rollback through a fail-after-N allocator. All allocations go through a
 * counting allocator, and each teardown asserts nothing is left.
 * Seeds are printed; set RUNNEL_TEST_SEED to replay one.
 */
#include "broker/keyspace/dict.h"

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

/* ---- Test support: PRNG, counting allocator, keys, values ---- */

static uint64_t test_rng_state; /* xorshift64* state, never 0 */
static long test_alloc_budget;  /* allocations left before failing, -1 for no limit */
static long test_alloc_live;    /* allocations not yet freed */
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

static void *
dict_test_alloc(size_t n)
{
    void *p;

    if (test_alloc_budget == 0)
        return NULL;
    p = malloc(n);
    if (p != NULL) {
        if (test_alloc_budget > 0)
            test_alloc_budget--;
        test_alloc_live++;
    }
    return p;
}

static void
dict_test_release(void *p)
{
    if (p != NULL)
        test_alloc_live--;
    free(p);
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
        fprintf(stderr, "test_dict: seed %llu (set RUNNEL_TEST_SEED to reproduce)\n", seed);
    }
    test_rng_state = seed ? seed : 1;
    test_alloc_budget = -1;
    test_alloc_live = 0;
    test_val_frees = 0;
    ks_dict_set_allocator(dict_test_alloc, dict_test_release);
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

/* A heap value remembering which key it belongs to. */
typedef struct test_val {
    size_t id;      /* key number */
    unsigned stamp; /* bumped on every replace */
} test_val;

static test_val *
test_val_new(size_t id, unsigned stamp)
{
    test_val *v = malloc(sizeof(*v));

    assert_non_null(v);
    v->id = id;
    v->stamp = stamp;
    return v;
}

static void
test_val_free(void *p)
{
    test_val_frees++;
    free(p);
}

/* Key bytes for number id: mostly text, some with NUL bytes, id 0 empty. */
static size_t
test_key(size_t id, char *buf)
{
    if (id == 0)
        return 0;
    if (id % 7 == 0) {
        int n = snprintf(buf, 64, "bin%zu", id);

        buf[1] = '\0'; /* binary-safe keys */
        buf[n] = '\0';
        return (size_t)n + 1;
    }
    return (size_t)snprintf(buf, 64, "key:%zu", id);
}

static ks_dict_entry *
test_add_id(ks_dict *d, size_t id)
{
    char k[64];
    size_t len = test_key(id, k);
    ks_dict_entry *e = ks_dict_add(d, k, len, test_val_new(id, 0));

    assert_non_null(e);
    return e;
}

static ks_dict_entry *
test_find_id(ks_dict *d, size_t id)
{
    char k[64];
    size_t len = test_key(id, k);

    return ks_dict_find(d, k, len);
}

static int
test_del_id(ks_dict *d, size_t id)
{
    char k[64];
    size_t len = test_key(id, k);

    return ks_dict_del(d, k, len, test_val_free);
}

/* Id stored in an entry's value. */
static size_t
test_entry_id(const ks_dict_entry *e)
{
    return ((const test_val *)ks_dict_entry_val(e))->id;
}

/* Adds entries until a grow starts, then moves a few buckets. */
static void
test_make_rehashing(ks_dict *d, size_t *next_id)
{
    while (!ks_dict_is_rehashing(d))
        test_add_id(d, (*next_id)++);
    ks_dict_rehash_step(d, 3);
    assert_true(ks_dict_is_rehashing(d));
}

/* ---- SipHash ---- */

/* Straightforward SipHash-c-d, written from the paper, for cross-checks. */
static uint64_t
ref_rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static void
ref_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ref_rotl(v[1], 13) ^ v[0];
    v[0] = ref_rotl(v[0], 32);
    v[2] += v[3];
    v[3] = ref_rotl(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = ref_rotl(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = ref_rotl(v[1], 17) ^ v[2];
    v[2] = ref_rotl(v[2], 32);
}

static uint64_t
ref_siphash(int c, int dr, const uint8_t key[16], const uint8_t *m, size_t len)
{
    uint64_t k0 = 0, k1 = 0, v[4];
    size_t i;
    int r, j;

    for (j = 7; j >= 0; j--) {
        k0 = (k0 << 8) | key[j];
        k1 = (k1 << 8) | key[8 + j];
    }
    v[0] = k0 ^ 0x736f6d6570736575ULL;
    v[1] = k1 ^ 0x646f72616e646f6dULL;
    v[2] = k0 ^ 0x6c7967656e657261ULL;
    v[3] = k1 ^ 0x7465646279746573ULL;
    for (i = 0; i <= len / 8; i++) {
        uint64_t w = 0;

        if (i == len / 8) { /* final block: leftover bytes and the length */
            for (j = (int)(len % 8) - 1; j >= 0; j--)
                w = (w << 8) | m[8 * i + (size_t)j];
            w |= (uint64_t)(len & 0xff) << 56;
        } else {
            for (j = 7; j >= 0; j--)
                w = (w << 8) | m[8 * i + (size_t)j];
        }
        v[3] ^= w;
        for (r = 0; r < c; r++)
            ref_round(v);
        v[0] ^= w;
    }
    v[2] ^= 0xff;
    for (r = 0; r < dr; r++)
        ref_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static void
test_dict_siphash12_matches_reference(void **state)
{
    /* Published SipHash-2-4 vectors: key 00..0f, message 00..n-1. */
    static const uint64_t sip24[17] = {
        0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
        0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
        0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
        0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
        0x3f2acc7f57c29bdbULL,
    };
    static const uint8_t defseed[16] = {'r', 'u', 'n', 'n', 'e', 'l', '-', 'd',
                                        'i', 'c', 't', '-', 's', 'e', 'e', 'd'};
    uint8_t key[16], msg[64], low[64];
    size_t n;

    (void)state;
    for (n = 0; n < 64; n++)
        msg[n] = (uint8_t)n;
    for (n = 0; n < 16; n++)
        key[n] = (uint8_t)n;
    for (n = 0; n < 17; n++)
        assert_true(ref_siphash(2, 4, key, msg, n) == sip24[n]);
    /* The default seed is fixed. */
    assert_true(ks_dict_hash("abc", 3) == ref_siphash(1, 2, defseed, (const uint8_t *)"abc", 3));
    ks_dict_set_seed(key);
    for (n = 0; n < 64; n++)
        assert_true(ks_dict_hash(msg, n) == ref_siphash(1, 2, key, msg, n));
    assert_true(ks_dict_hash(NULL, 0) == ref_siphash(1, 2, key, msg, 0));
    /* The nocase variant hashes the ASCII-lowered bytes. */
    memcpy(msg, "Hello, WORLD! [AZ@] \xc3\x89t\xc3\xa9 Mixed-Case-Key-With-Digits 0123", 58);
    for (n = 0; n < 58; n++)
        low[n] = (msg[n] >= 'A' && msg[n] <= 'Z') ? (uint8_t)(msg[n] + 32) : msg[n];
    for (n = 0; n <= 58; n++)
        assert_true(ks_dict_hash_nocase(msg, n) == ks_dict_hash(low, n));
    ks_dict_set_seed(defseed);
}

/* ---- Basic behaviour ---- */

static void
test_dict_add_find_del_basics(void **state)
{
    ks_dict *d = ks_dict_new();
    ks_dict_entry *e;
    int marker = 7;
    size_t len;

    (void)state;
    assert_non_null(d);
    assert_null(ks_dict_find(d, "a", 1));
    assert_int_equal(ks_dict_del(d, "a", 1, NULL), -ENOENT);
    e = ks_dict_add(d, "a", 1, &marker);
    assert_non_null(e);
    assert_ptr_equal(ks_dict_find(d, "a", 1), e);
    assert_ptr_equal(ks_dict_entry_val(e), &marker);
    assert_string_equal(ks_dict_entry_key(e, &len), "a");
    assert_int_equal(len, 1);
    assert_null(ks_dict_find(d, "b", 1));
    assert_null(ks_dict_find(d, "a\0", 2)); /* length is part of the key */
    assert_int_equal(ks_dict_count(d), 1);
    assert_int_equal(ks_dict_del(d, "a", 1, NULL), 0);
    assert_int_equal(ks_dict_count(d), 0);
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_free(d, NULL);
    ks_dict_free(NULL, NULL);
}

static void
test_dict_add_existing_changes_nothing(void **state)
{
    ks_dict *d = ks_dict_new();
    int a = 1, b = 2, existed = -1;
    ks_dict_entry *e;

    (void)state;
    e = ks_dict_add(d, "k", 1, &a);
    assert_null(ks_dict_add(d, "k", 1, &b));
    assert_ptr_equal(ks_dict_entry_val(e), &a);
    assert_int_equal(ks_dict_count(d), 1);
    assert_ptr_equal(ks_dict_add_or_find(d, "k", 1, &existed), e);
    assert_int_equal(existed, 1);
    e = ks_dict_add_or_find(d, "j", 1, &existed);
    assert_int_equal(existed, 0);
    assert_null(ks_dict_entry_val(e));
    assert_int_equal(ks_dict_entry_s64(e), 0);
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_free(d, NULL);
}

static void
test_dict_binary_keys_are_copied(void **state)
{
    ks_dict *d = ks_dict_new();
    char k[4] = {'x', '\0', 'y', '\0'};
    ks_dict_entry *e;
    const char *kb;
    size_t len;

    (void)state;
    e = ks_dict_add(d, k, 3, NULL);
    assert_non_null(ks_dict_add(d, "", 0, NULL));
    assert_non_null(ks_dict_add(d, "x", 1, NULL));
    k[0] = 'z'; /* the dict holds its own copy */
    assert_null(ks_dict_find(d, k, 3));
    k[0] = 'x';
    assert_ptr_equal(ks_dict_find(d, k, 3), e);
    kb = ks_dict_entry_key(e, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(kb, "x\0y", 4); /* NUL-terminated too */
    assert_non_null(ks_dict_find(d, NULL, 0));
    assert_int_equal(ks_dict_count(d), 3);
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_free(d, NULL);
}

static void
test_dict_s64_values_survive_rehash(void **state)
{
    static const int64_t vals[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1700000000123LL};
    ks_dict *d = ks_dict_new();
    size_t i, n = 3000;
    int existed;

    (void)state;
    for (i = 0; i < n; i++) {
        char k[64];
        size_t len = test_key(i, k);
        ks_dict_entry *e = ks_dict_add_or_find(d, k, len, &existed);

        assert_non_null(e);
        ks_dict_entry_set_s64(e, (vals[i % 6] ^ (int64_t)(i % 5)));
    }
    ks_dict_rehash_ms(d, 1000);
    for (i = 0; i < n; i++) {
        ks_dict_entry *e = test_find_id(d, i);

        assert_non_null(e);
        assert_true(ks_dict_entry_s64(e) == (vals[i % 6] ^ (int64_t)(i % 5)));
    }
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_free(d, NULL);
}

static void
test_dict_free_and_clear_release_values(void **state)
{
    ks_dict *d = ks_dict_new();
    size_t base = ks_dict_mem(d), i;

    (void)state;
    for (i = 0; i < 100; i++)
        test_add_id(d, i);
    assert_true(ks_dict_mem(d) > base + 100 * 6);
    ks_dict_clear(d, test_val_free);
    assert_int_equal(test_val_frees, 100);
    assert_int_equal(ks_dict_count(d), 0);
    assert_int_equal(ks_dict_slots(d), 0);
    assert_int_equal(ks_dict_mem(d), base);
    assert_int_equal(ks_dict_check(d), 0);
    for (i = 0; i < 50; i++) /* still usable */
        test_add_id(d, i);
    assert_non_null(test_find_id(d, 49));
    ks_dict_free(d, test_val_free);
    assert_int_equal(test_val_frees, 150);
}

static void
test_dict_unlink_detaches_without_freeing(void **state)
{
    ks_dict *d = ks_dict_new();
    ks_dict_entry *e;
    size_t mem;
    int v = 5;

    (void)state;
    ks_dict_add(d, "gone", 4, &v);
    ks_dict_add(d, "kept", 4, NULL);
    mem = ks_dict_mem(d);
    e = ks_dict_unlink(d, "gone", 4);
    assert_non_null(e);
    assert_ptr_equal(ks_dict_entry_val(e), &v);
    assert_null(ks_dict_find(d, "gone", 4));
    assert_null(ks_dict_unlink(d, "gone", 4));
    assert_int_equal(ks_dict_count(d), 1);
    assert_true(ks_dict_mem(d) < mem);
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_entry_free(e);
    ks_dict_entry_free(NULL);
    ks_dict_free(d, NULL);
}

/* ---- Sizing and rehashing ---- */

static void
test_dict_grows_when_count_reaches_slots(void **state)
{
    ks_dict *d = ks_dict_new();
    size_t id = 0;

    (void)state;
    assert_int_equal(ks_dict_slots(d), 0);
    while (id < 4)
        test_add_id(d, id++);
    assert_int_equal(ks_dict_slots(d), 4);
    assert_false(ks_dict_is_rehashing(d));
    test_add_id(d, id++); /* count 4 >= 4 slots: grow to 8 */
    assert_true(ks_dict_is_rehashing(d));
    assert_int_equal(ks_dict_slots(d), 4 + 8);
    assert_int_equal(ks_dict_check(d), 0);
    assert_true(ks_dict_rehash_ms(d, 100) > 0);
    assert_false(ks_dict_is_rehashing(d));
    assert_int_equal(ks_dict_slots(d), 8);
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_free(d, test_val_free);
}

static void
test_dict_shrinks_only_on_resize_below_min_fill(void **state)
{
    ks_dict *d = ks_dict_new();
    size_t id;

    (void)state;
    for (id = 0; id < 100; id++)
        test_add_id(d, id);
    ks_dict_rehash_ms(d, 100);
    assert_int_equal(ks_dict_slots(d), 128);
    for (id = 13; id < 100; id++) /* 13 of 128 is still >= 10% */
        assert_int_equal(test_del_id(d, id), 0);
    assert_int_equal(ks_dict_slots(d), 128); /* deletes never shrink */
    assert_int_equal(ks_dict_resize_if_needed(d), 0);
    assert_false(ks_dict_is_rehashing(d));
    assert_int_equal(test_del_id(d, 12), 0); /* 12 of 128 is below 10% */
    assert_int_equal(ks_dict_resize_if_needed(d), 0);
    assert_true(ks_dict_is_rehashing(d));
    assert_int_equal(ks_dict_slots(d), 128 + 16);
    assert_int_equal(ks_dict_resize_if_needed(d), 0); /* already rehashing: no-op */
    ks_dict_rehash_ms(d, 100);
    assert_int_equal(ks_dict_slots(d), 16);
    for (id = 0; id < 12; id++)
        assert_non_null(test_find_id(d, id));
    for (id = 0; id < 12; id++)
        test_del_id(d, id);
    assert_int_equal(ks_dict_resize_if_needed(d), 0);
    ks_dict_rehash_ms(d, 100);
    assert_int_equal(ks_dict_slots(d), KS_DICT_MIN_SLOTS); /* never below 4 */
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_free(d, test_val_free);
}

static void
test_dict_lookups_finish_rehash_incrementally(void **state)
{
    ks_dict *d = ks_dict_new();
    size_t id = 0, i, old_slots;

    (void)state;
    for (i = 0; i < 1000; i++)
        test_add_id(d, id++);
    ks_dict_rehash_ms(d, 100);
    test_make_rehashing(d, &id);
    old_slots = ks_dict_slots(d);
    /* Each lookup moves at least one bucket, so size[0] lookups finish it. */
    for (i = 0; i < old_slots && ks_dict_is_rehashing(d); i++) {
        assert_non_null(test_find_id(d, i % id));
        if (i % 64 == 0)
            assert_int_equal(ks_dict_check(d), 0);
    }
    assert_false(ks_dict_is_rehashing(d));
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_free(d, test_val_free);
}

static void
test_dict_pause_blocks_rehash_steps(void **state)
{
    ks_dict *d = ks_dict_new();
    size_t id = 0, slots;

    (void)state;
    test_make_rehashing(d, &id);
    slots = ks_dict_slots(d);
    ks_dict_pause_rehash(d);
    ks_dict_pause_rehash(d);
    ks_dict_rehash_step(d, 1000);
    assert_int_equal(ks_dict_rehash_ms(d, 10), 0);
    ks_dict_resume_rehash(d);
    ks_dict_rehash_step(d, 1000); /* still paused once */
    assert_true(ks_dict_is_rehashing(d));
    assert_int_equal(ks_dict_slots(d), slots);
    ks_dict_resume_rehash(d);
    ks_dict_rehash_step(d, 1000);
    assert_false(ks_dict_is_rehashing(d));
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_free(d, test_val_free);
}

/* ---- Model-based random test ---- */

#define MODEL_KEYS 3000 /* key numbers 0..MODEL_KEYS-1 */

static void
test_dict_model_random_ops(void **state)
{
    test_val **model = calloc(MODEL_KEYS, sizeof(*model)); /* NULL if absent */
    ks_dict *d = ks_dict_new();
    size_t present = 0, op, id;
    unsigned stamp = 1;
    long frees_expected = 0;

    (void)state;
    assert_non_null(model);
    for (op = 0; op < 60000; op++) {
        /* Alternate phases that favour adds and deletes, to grow and shrink. */
        int grow = (op / 6000) % 2 == 0;
        size_t r = test_rng_below(100);
        char k[64];
        size_t len;

        id = test_rng_below(MODEL_KEYS);
        len = test_key(id, k);
        if (r < (grow ? 40u : 15u)) {
            test_val *v = test_val_new(id, stamp++);
            ks_dict_entry *e = ks_dict_add(d, k, len, v);

            assert_true((e == NULL) == (model[id] != NULL));
            if (e == NULL) {
                free(v);
            } else {
                model[id] = v;
                present++;
            }
        } else if (r < 50) {
            int existed = -1;
            ks_dict_entry *e = ks_dict_add_or_find(d, k, len, &existed);

            assert_non_null(e);
            assert_int_equal(existed, model[id] != NULL);
            if (existed) {
                assert_ptr_equal(ks_dict_entry_val(e), model[id]);
            } else {
                model[id] = test_val_new(id, stamp++);
                ks_dict_entry_set_val(e, model[id]);
                present++;
            }
        } else if (r < 70) {
            ks_dict_entry *e = ks_dict_find(d, k, len);
            size_t klen;

            assert_true((e != NULL) == (model[id] != NULL));
            if (e != NULL) {
                assert_ptr_equal(ks_dict_entry_val(e), model[id]);
                assert_memory_equal(ks_dict_entry_key(e, &klen), k, len);
                assert_int_equal(klen, len);
            }
        } else if (r < (grow ? 80u : 88u)) {
            int rc = ks_dict_del(d, k, len, test_val_free);

            assert_int_equal(rc, model[id] != NULL ? 0 : -ENOENT);
            if (rc == 0) {
                model[id] = NULL;
                present--;
                frees_expected++;
            }
        } else if (r < 92) {
            ks_dict_entry *e = ks_dict_unlink(d, k, len);

            assert_true((e != NULL) == (model[id] != NULL));
            if (e != NULL) {
                assert_ptr_equal(ks_dict_entry_val(e), model[id]);
                free(model[id]);
                ks_dict_entry_free(e);
                model[id] = NULL;
                present--;
            }
        } else if (r < 97) {
            ks_dict_entry *e = ks_dict_find(d, k, len);

            if (e != NULL) { /* replace the value */
                free(model[id]);
                model[id] = test_val_new(id, stamp++);
                ks_dict_entry_set_val(e, model[id]);
            }
        } else if (r < 99) {
            assert_int_equal(ks_dict_resize_if_needed(d), 0);
        } else {
            ks_dict_rehash_step(d, 1 + (int)test_rng_below(4));
        }
        assert_int_equal(ks_dict_count(d), present);
        if (op % 500 == 499)
            assert_int_equal(ks_dict_check(d), 0);
    }
    assert_int_equal(test_val_frees, frees_expected);
    for (id = 0; id < MODEL_KEYS; id++) {
        ks_dict_entry *e = test_find_id(d, id);

        assert_true((e != NULL) == (model[id] != NULL));
        if (e != NULL)
            assert_ptr_equal(ks_dict_entry_val(e), model[id]);
    }
    ks_dict_free(d, test_val_free);
    assert_int_equal(test_val_frees, frees_expected + (long)present);
    free(model);
}

/* ---- SCAN ---- */

#define SCAN_STABLE   300  /* ids 0..299 stay for the whole scan */
#define SCAN_VOLATILE 3000 /* ids SCAN_STABLE.. come and go */

/* Scan callback state. */
typedef struct scan_seen {
    unsigned char *hit; /* per id: returned at least once */
    size_t calls;       /* entries reported */
} scan_seen;

static void
scan_cb(void *priv, const ks_dict_entry *e)
{
    scan_seen *s = priv;

    s->hit[test_entry_id(e)] = 1;
    s->calls++;
}

/* Volatile keys of the scan test: which are live, and a list to delete from. */
typedef struct scan_pool {
    unsigned char live[SCAN_VOLATILE]; /* 1 if volatile key SCAN_STABLE + i is in the dict */
    size_t ids[SCAN_VOLATILE];         /* the live indexes, unordered */
    size_t count;                      /* entries used in ids */
} scan_pool;

/* Adds or deletes one volatile key; returns 1 if the dict changed. */
static int
scan_pool_step(ks_dict *d, scan_pool *p, int growing)
{
    size_t i;

    if (growing) {
        i = test_rng_below(SCAN_VOLATILE);
        if (p->live[i])
            return 0;
        test_add_id(d, SCAN_STABLE + i);
        p->live[i] = 1;
        p->ids[p->count++] = i;
        return 1;
    }
    if (p->count == 0)
        return 0;
    i = test_rng_below(p->count);
    assert_int_equal(test_del_id(d, SCAN_STABLE + p->ids[i]), 0);
    p->live[p->ids[i]] = 0;
    p->ids[i] = p->ids[--p->count];
    return 1;
}

static void
test_dict_scan_returns_stable_keys_across_grow_and_shrink(void **state)
{
    unsigned char *hit = calloc(SCAN_STABLE + SCAN_VOLATILE, 1);
    scan_pool *pool = calloc(1, sizeof(*pool));
    ks_dict *d = ks_dict_new();
    size_t grows = 0, shrinks = 0, id, round;
    int growing = 1;

    (void)state;
    assert_non_null(hit);
    assert_non_null(pool);
    for (id = 0; id < SCAN_STABLE; id++)
        test_add_id(d, id);
    for (round = 0; round < 20; round++) {
        scan_seen seen = {hit, 0};
        uint64_t cursor = 0;
        size_t calls = 0;

        memset(hit, 0, SCAN_STABLE + SCAN_VOLATILE);
        do {
            size_t before = ks_dict_slots(d), i, burst = test_rng_below(40);
            int was_rehashing = ks_dict_is_rehashing(d);

            cursor = ks_dict_scan(d, cursor, scan_cb, &seen);
            /* Between calls: a burst of adds or deletes, resizes, rehash steps. */
            for (i = 0; i < burst; i++)
                scan_pool_step(d, pool, growing);
            if (test_rng_below(3) == 0)
                assert_int_equal(ks_dict_resize_if_needed(d), 0);
            ks_dict_rehash_step(d, (int)test_rng_below(3));
            if (growing && pool->count > SCAN_VOLATILE / 2 + test_rng_below(SCAN_VOLATILE / 2))
                growing = 0;
            else if (!growing && pool->count < test_rng_below(200))
                growing = 1;
            if (!was_rehashing && ks_dict_is_rehashing(d)) {
                if (ks_dict_slots(d) > 2 * before)
                    grows++;
                else
                    shrinks++;
            }
            assert_true(++calls < 1000000);
        } while (cursor != 0);
        for (id = 0; id < SCAN_STABLE; id++)
            if (!hit[id])
                fail_msg("round %zu: stable key %zu never returned", round, id);
        assert_int_equal(ks_dict_check(d), 0);
    }
    /* The rounds must really have crossed both kinds of rehash. */
    assert_true(grows > 3);
    assert_true(shrinks > 3);
    ks_dict_free(d, test_val_free);
    free(hit);
    free(pool);
}

static void
test_dict_scan_full_walk_visits_everything(void **state)
{
    unsigned char hit[500] = {0};
    scan_seen seen = {hit, 0};
    ks_dict *d = ks_dict_new();
    uint64_t cursor = 0;
    size_t id = 0, i;

    (void)state;
    assert_int_equal(ks_dict_scan(d, 0, scan_cb, &seen), 0); /* empty: done at once */
    for (i = 0; i < 400; i++)
        test_add_id(d, id++);
    test_make_rehashing(d, &id);
    do
        cursor = ks_dict_scan(d, cursor, scan_cb, &seen);
    while (cursor != 0);
    for (i = 0; i < id; i++)
        assert_true(hit[i]);
    assert_int_equal(seen.calls, id); /* no mutation: each exactly once */
    ks_dict_free(d, test_val_free);
}

/* ---- Safe iterator ---- */

static void
test_dict_iter_deletes_current_during_rehash(void **state)
{
    unsigned char *seen = calloc(5000, 1);
    ks_dict *d = ks_dict_new();
    ks_dict_iter it;
    ks_dict_entry *e;
    size_t id = 0, i, total, visited = 0, kept = 0, slots;

    (void)state;
    assert_non_null(seen);
    for (i = 0; i < 2000; i++)
        test_add_id(d, id++);
    ks_dict_rehash_ms(d, 100);
    test_make_rehashing(d, &id);
    total = id;
    slots = ks_dict_slots(d);
    ks_dict_iter_start(&it, d);
    while ((e = ks_dict_iter_next(&it)) != NULL) {
        size_t eid = test_entry_id(e);

        assert_false(seen[eid]);
        seen[eid] = 1;
        visited++;
        /* Lookups and explicit steps must not move buckets under the iterator. */
        (void)test_find_id(d, test_rng_below(total));
        ks_dict_rehash_step(d, 10);
        if (eid % 3 != 0)
            assert_int_equal(test_del_id(d, eid), 0); /* the current entry */
        else
            kept++;
    }
    ks_dict_iter_stop(&it);
    ks_dict_iter_stop(&it); /* second stop is a no-op */
    assert_int_equal(visited, total);
    assert_int_equal(ks_dict_slots(d), slots);
    assert_int_equal(ks_dict_count(d), kept);
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_rehash_ms(d, 100); /* resumed */
    assert_false(ks_dict_is_rehashing(d));
    for (i = 0; i < total; i++)
        assert_true((test_find_id(d, i) != NULL) == (i % 3 == 0));
    ks_dict_free(d, test_val_free);
    free(seen);
}

static void
test_dict_iter_walks_empty_and_fresh_dicts(void **state)
{
    ks_dict *d = ks_dict_new();
    ks_dict_iter it;

    (void)state;
    ks_dict_iter_start(&it, d);
    assert_null(ks_dict_iter_next(&it));
    ks_dict_iter_stop(&it);
    ks_dict_add(d, "a", 1, NULL);
    ks_dict_iter_start(&it, d);
    assert_non_null(ks_dict_iter_next(&it));
    assert_null(ks_dict_iter_next(&it));
    ks_dict_iter_stop(&it);
    ks_dict_free(d, NULL);
}

/* ---- random / sample ---- */

static void
test_dict_random_returns_live_entries(void **state)
{
    ks_dict *d = ks_dict_new();
    size_t id = 0, i;

    (void)state;
    assert_null(ks_dict_random(d, test_rng));
    for (i = 0; i < 1500; i++)
        test_add_id(d, id++);
    test_make_rehashing(d, &id);
    for (i = 0; i < id; i += 2) /* leave holes */
        test_del_id(d, i);
    for (i = 0; i < 2000; i++) {
        ks_dict_entry *e = ks_dict_random(d, test_rng);
        size_t eid;

        assert_non_null(e);
        eid = test_entry_id(e);
        assert_int_equal(eid % 2, 1);
        assert_ptr_equal(test_find_id(d, eid), e);
    }
    ks_dict_free(d, test_val_free);
}

static void
test_dict_sample_returns_distinct_live_entries(void **state)
{
    ks_dict_entry *out[64];
    ks_dict *d = ks_dict_new();
    size_t id = 0, i, total = 0;

    (void)state;
    assert_int_equal(ks_dict_sample(d, out, 16, test_rng), 0);
    for (i = 0; i < 3000; i++)
        test_add_id(d, id++);
    test_make_rehashing(d, &id);
    for (i = 0; i < id; i += 3)
        test_del_id(d, i);
    for (i = 0; i < 500; i++) {
        size_t want = 1 + test_rng_below(64);
        size_t n = ks_dict_sample(d, out, want, test_rng), a, b;

        assert_true(n <= want);
        total += n;
        for (a = 0; a < n; a++) {
            size_t eid = test_entry_id(out[a]);

            assert_true(eid % 3 != 0);
            assert_ptr_equal(test_find_id(d, eid), out[a]);
            for (b = 0; b < a; b++)
                assert_ptr_not_equal(out[a], out[b]);
        }
    }
    assert_true(total > 0);
    /* Sampled entries may be deleted right away, as active expiry does. */
    i = ks_dict_sample(d, out, 20, test_rng);
    while (i-- > 0) {
        size_t len;
        const char *k = ks_dict_entry_key(out[i], &len);
        char copy[64];

        memcpy(copy, k, len);
        assert_int_equal(ks_dict_del(d, copy, len, test_val_free), 0);
    }
    assert_int_equal(ks_dict_check(d), 0);
    ks_dict_free(d, test_val_free);
    /* A tiny table: the walk must not lap around and repeat entries. */
    d = ks_dict_new();
    for (i = 0; i < 6; i++)
        test_add_id(d, i);
    for (i = 0; i < 200; i++) {
        size_t n = ks_dict_sample(d, out, 64, test_rng), a, b;

        assert_true(n >= 1 && n <= 6);
        for (a = 0; a < n; a++)
            for (b = 0; b < a; b++)
                assert_ptr_not_equal(out[a], out[b]);
    }
    ks_dict_free(d, test_val_free);
}

/* ---- Allocation failures, memory, checker ---- */

static void
test_dict_enomem_leaves_contents_unchanged(void **state)
{
    ks_dict *d;
    size_t id;
    int existed = -1;

    (void)state;
    test_alloc_budget = 0;
    assert_null(ks_dict_new());
    test_alloc_budget = -1;
    d = ks_dict_new();
    test_alloc_budget = 1; /* entry fits, first table does not */
    assert_null(ks_dict_add_or_find(d, "a", 1, &existed));
    assert_int_equal(existed, -1);
    assert_int_equal(ks_dict_count(d), 0);
    assert_int_equal(ks_dict_check(d), 0);
    test_alloc_budget = -1;
    for (id = 0; id < 4; id++)
        test_add_id(d, id);
    test_alloc_budget = 0; /* no entry */
    assert_null(ks_dict_add(d, "x", 1, NULL));
    assert_null(ks_dict_find(d, "x", 1));
    assert_int_equal(ks_dict_count(d), 4);
    assert_int_equal(ks_dict_check(d), 0);
    test_alloc_budget = 1; /* entry but no bigger table: still added */
    assert_non_null(ks_dict_add(d, "x", 1, NULL));
    assert_false(ks_dict_is_rehashing(d));
    assert_int_equal(ks_dict_count(d), 5);
    test_alloc_budget = 0;
    assert_int_equal(ks_dict_resize_if_needed(d), -ENOMEM);
    assert_false(ks_dict_is_rehashing(d));
    assert_int_equal(ks_dict_check(d), 0);
    test_alloc_budget = -1;
    assert_int_equal(ks_dict_resize_if_needed(d), 0);
    assert_true(ks_dict_is_rehashing(d));
    assert_int_equal(ks_dict_del(d, "x", 1, NULL), 0);
    ks_dict_free(d, test_val_free);
}

static void
test_dict_enomem_fail_after_n_keeps_structure_valid(void **state)
{
    ks_dict *d = ks_dict_new();
    size_t id = 0, present = 0;
    long budget;

    (void)state;
    /* Fail each allocation in turn across many grows; the dict must stay sound. */
    for (budget = 0; budget < 400; budget++) {
        size_t i;

        test_alloc_budget = budget % 7;
        for (i = 0; i < 10; i++) {
            char k[64];
            size_t len = test_key(id, k);
            test_val *v = test_val_new(id, 0);

            if (ks_dict_add(d, k, len, v) != NULL) {
                present++;
                id++;
            } else {
                free(v);
                assert_null(ks_dict_find(d, k, len));
            }
            assert_int_equal(ks_dict_count(d), present);
        }
        if (budget % 5 == 0) {
            int rc = ks_dict_resize_if_needed(d);

            assert_true(rc == 0 || rc == -ENOMEM);
        }
        assert_int_equal(ks_dict_check(d), 0);
    }
    test_alloc_budget = -1;
    for (id = 0; id < present; id++)
        assert_non_null(test_find_id(d, id));
    ks_dict_free(d, test_val_free);
}

static void
test_dict_mem_tracks_tables_and_entries(void **state)
{
    ks_dict *d = ks_dict_new();
    size_t base = ks_dict_mem(d), with_table;
    char big[1000];

    (void)state;
    memset(big, 'q', sizeof(big));
    ks_dict_add(d, "a", 1, NULL);
    with_table = ks_dict_mem(d);
    assert_true(with_table >= base + 4 * sizeof(void *) + 2);
    ks_dict_add(d, big, sizeof(big), NULL);
    assert_true(ks_dict_mem(d) >= with_table + sizeof(big) + 1);
    ks_dict_del(d, big, sizeof(big), NULL);
    assert_int_equal(ks_dict_mem(d), with_table);
    ks_dict_free(d, NULL);
}

static void
test_dict_check_detects_corrupted_key(void **state)
{
    ks_dict *d = ks_dict_new();
    ks_dict_entry *e;
    char *k;
    size_t i;

    (void)state;
    for (i = 0; i < 50; i++)
        test_add_id(d, i);
    e = test_find_id(d, 10);
    assert_int_equal(ks_dict_check(d), 0);
    k = (char *)ks_dict_entry_key(e, NULL); /* the entry is not const: test-only poke */
    k[0] ^= 0x55;
    assert_int_equal(ks_dict_check(d), -EINVAL);
    k[0] ^= 0x55;
    assert_int_equal(ks_dict_check(d), 0);
    assert_int_equal(ks_dict_check(NULL), -EINVAL);
    ks_dict_free(d, test_val_free);
}

#define T(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_dict_siphash12_matches_reference),
        T(test_dict_add_find_del_basics),
        T(test_dict_add_existing_changes_nothing),
        T(test_dict_binary_keys_are_copied),
        T(test_dict_s64_values_survive_rehash),
        T(test_dict_free_and_clear_release_values),
        T(test_dict_unlink_detaches_without_freeing),
        T(test_dict_grows_when_count_reaches_slots),
        T(test_dict_shrinks_only_on_resize_below_min_fill),
        T(test_dict_lookups_finish_rehash_incrementally),
        T(test_dict_pause_blocks_rehash_steps),
        T(test_dict_model_random_ops),
        T(test_dict_scan_returns_stable_keys_across_grow_and_shrink),
        T(test_dict_scan_full_walk_visits_everything),
        T(test_dict_iter_deletes_current_during_rehash),
        T(test_dict_iter_walks_empty_and_fresh_dicts),
        T(test_dict_random_returns_live_entries),
        T(test_dict_sample_returns_distinct_live_entries),
        T(test_dict_enomem_leaves_contents_unchanged),
        T(test_dict_enomem_fail_after_n_keeps_structure_valid),
        T(test_dict_mem_tracks_tables_and_entries),
        T(test_dict_check_detects_corrupted_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
