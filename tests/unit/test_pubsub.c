/*
 * test_pubsub.c - unit tests for the pub/sub hub (broker/pubsub/pubsub.h).
 *
 * One behaviour per case: subscription counts and duplicates, delivery
 * order (channel subscribers in subscription order, then each matching
 * pattern in creation order), exact RESP2/RESP3 frames shared by every
 * receiver of a group, shard channels kept apart, unsubscribe-all order,
 * drop on disconnect, PUBSUB CHANNELS filtering and the shared buffers.
 * A model-based random test checks counts against a plain matrix with
 * pubsub_check after every step. The seed is printed; set
 * RUNNEL_TEST_SEED to replay one. Leaks are caught by LeakSanitizer.
 */
#include "broker/pubsub/pubsub.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* One recorded delivery. */
typedef struct test_delivery {
    uint64_t id;    /* receiver */
    void *data;     /* its data pointer */
    pubsub_buf *f2; /* RESP2 frame, one reference held */
    pubsub_buf *f3; /* RESP3 frame, one reference held */
} test_delivery;

/* Deliveries seen since the last test_reset. */
typedef struct test_log {
    test_delivery d[64]; /* the first 64 */
    size_t n;            /* all of them */
} test_log;

static void
test_deliver(void *priv, uint64_t id, void *data, pubsub_msg *m)
{
    test_log *log = priv;
    if (log->n < sizeof(log->d) / sizeof(log->d[0])) {
        test_delivery *d = &log->d[log->n];
        d->id = id;
        d->data = data;
        d->f2 = pubsub_msg_frame(m, 2);
        d->f3 = pubsub_msg_frame(m, 3);
        pubsub_buf_ref(d->f2);
        pubsub_buf_ref(d->f3);
    }
    log->n++;
}

static void
test_reset(test_log *log)
{
    size_t n = log->n < 64 ? log->n : 64;
    for (size_t i = 0; i < n; i++) {
        pubsub_buf_unref(log->d[i].f2);
        pubsub_buf_unref(log->d[i].f3);
    }
    log->n = 0;
}

typedef struct test_env {
    test_log log; /* deliveries */
    pubsub *ps;   /* hub under test */
} test_env;

static int
test_setup(void **state)
{
    test_env *e = calloc(1, sizeof(*e));
    e->ps = pubsub_new(test_deliver, &e->log);
    *state = e;
    return 0;
}

static int
test_teardown(void **state)
{
    test_env *e = *state;
    test_reset(&e->log);
    assert_int_equal(pubsub_check(e->ps), 0);
    pubsub_free(e->ps);
    free(e);
    return 0;
}

static int
test_sub(test_env *e, int kind, uint64_t id, const char *name)
{
    return pubsub_subscribe(e->ps, kind, id, (void *)(uintptr_t)(id * 16), name, strlen(name));
}

static long long
test_pub(test_env *e, const char *ch, const char *msg)
{
    return pubsub_publish(e->ps, 0, ch, strlen(ch), msg, strlen(msg));
}

static void
test_frame_is_n(const pubsub_buf *b, const char *want, size_t len)
{
    assert_int_equal(b->len, len);
    assert_memory_equal(b->data, want, len);
}

/* want is a string literal (it may hold NUL bytes). */
#define test_frame_is(b, want) test_frame_is_n((b), (want), sizeof(want) - 1)

static void
test_pubsub_counts_and_duplicates(void **state)
{
    test_env *e = *state;
    assert_int_equal(test_sub(e, PUBSUB_CHANNEL, 1, "a"), 1);
    assert_int_equal(test_sub(e, PUBSUB_CHANNEL, 1, "a"), 0);
    assert_int_equal(test_sub(e, PUBSUB_CHANNEL, 1, "b"), 1);
    assert_int_equal(test_sub(e, PUBSUB_PATTERN, 1, "a"), 1);
    assert_int_equal(test_sub(e, PUBSUB_SHARD, 1, "a"), 1);
    assert_int_equal(test_sub(e, PUBSUB_CHANNEL, 2, "a"), 1);
    assert_int_equal(pubsub_count(e->ps, PUBSUB_CHANNEL, 1), 2);
    assert_int_equal(pubsub_count(e->ps, PUBSUB_PATTERN, 1), 1);
    assert_int_equal(pubsub_count(e->ps, PUBSUB_SHARD, 1), 1);
    assert_int_equal(pubsub_count(e->ps, PUBSUB_CHANNEL, 3), 0);
    assert_int_equal(pubsub_names(e->ps, PUBSUB_CHANNEL), 2);
    assert_int_equal(pubsub_numsub(e->ps, PUBSUB_CHANNEL, "a", 1), 2);
    assert_int_equal(pubsub_numsub(e->ps, PUBSUB_SHARD, "a", 1), 1);
    assert_int_equal(pubsub_check(e->ps), 0);
    assert_int_equal(pubsub_unsubscribe(e->ps, PUBSUB_CHANNEL, 1, "a", 1), 1);
    assert_int_equal(pubsub_unsubscribe(e->ps, PUBSUB_CHANNEL, 1, "a", 1), 0);
    assert_int_equal(pubsub_unsubscribe(e->ps, PUBSUB_CHANNEL, 9, "a", 1), 0);
    assert_int_equal(pubsub_numsub(e->ps, PUBSUB_CHANNEL, "a", 1), 1);
    assert_int_equal(pubsub_check(e->ps), 0);
}

static void
test_pubsub_publish_order_and_count(void **state)
{
    test_env *e = *state;
    test_sub(e, PUBSUB_CHANNEL, 3, "news");
    test_sub(e, PUBSUB_CHANNEL, 1, "news");
    test_sub(e, PUBSUB_PATTERN, 2, "n*");
    test_sub(e, PUBSUB_PATTERN, 1, "*s");
    test_sub(e, PUBSUB_CHANNEL, 2, "other");
    assert_int_equal(test_pub(e, "news", "hi"), 4);
    assert_int_equal(e->log.n, 4);
    /* Channel subscribers in subscription order, then patterns in
     * creation order; a subscriber matching twice gets two deliveries. */
    assert_int_equal(e->log.d[0].id, 3);
    assert_int_equal(e->log.d[1].id, 1);
    assert_int_equal(e->log.d[2].id, 2);
    assert_int_equal(e->log.d[3].id, 1);
    assert_ptr_equal(e->log.d[0].data, (void *)(uintptr_t)(3 * 16));
    test_reset(&e->log);
    assert_int_equal(test_pub(e, "nobody", "x"), 1); /* only n* matches */
    test_reset(&e->log);
    assert_int_equal(test_pub(e, "zzz", "x"), 0);
    assert_int_equal(e->log.n, 0);
}

static void
test_pubsub_frames_are_exact_and_shared(void **state)
{
    test_env *e = *state;
    test_sub(e, PUBSUB_CHANNEL, 1, "ch");
    test_sub(e, PUBSUB_CHANNEL, 2, "ch");
    test_sub(e, PUBSUB_PATTERN, 3, "c?");
    test_sub(e, PUBSUB_PATTERN, 4, "c?");
    assert_int_equal(test_pub(e, "ch", "hello"), 4);
    test_frame_is(e->log.d[0].f2, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    test_frame_is(e->log.d[0].f3, ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    test_frame_is(e->log.d[2].f2,
                  "*4\r\n$8\r\npmessage\r\n$2\r\nc?\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    test_frame_is(e->log.d[2].f3,
                  ">4\r\n$8\r\npmessage\r\n$2\r\nc?\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    /* One copy per group and protocol, shared by its receivers. */
    assert_ptr_equal(e->log.d[0].f2, e->log.d[1].f2);
    assert_ptr_equal(e->log.d[2].f3, e->log.d[3].f3);
    assert_ptr_not_equal(e->log.d[0].f2, e->log.d[2].f2);
    assert_int_equal(e->log.d[0].f2->refs, 2);
}

static void
test_pubsub_binary_and_empty_payloads(void **state)
{
    test_env *e = *state;
    pubsub_subscribe(e->ps, PUBSUB_CHANNEL, 1, NULL, "a\0b", 3);
    assert_int_equal(pubsub_publish(e->ps, 0, "a\0b", 3, "", 0), 1);
    test_frame_is(e->log.d[0].f2, "*3\r\n$7\r\nmessage\r\n$3\r\na\0b\r\n$0\r\n\r\n");
    assert_int_equal(pubsub_publish(e->ps, 0, "a", 1, "x", 1), 0);
}

static void
test_pubsub_shard_is_apart(void **state)
{
    test_env *e = *state;
    test_sub(e, PUBSUB_SHARD, 1, "s");
    test_sub(e, PUBSUB_PATTERN, 2, "*");
    assert_int_equal(pubsub_publish(e->ps, 1, "s", 1, "m", 1), 1);
    test_frame_is(e->log.d[0].f2, "*3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nm\r\n");
    test_reset(&e->log);
    /* PUBLISH does not reach shard subscribers; SPUBLISH ignores patterns. */
    assert_int_equal(test_pub(e, "s", "m"), 1);
    assert_int_equal(e->log.d[0].id, 2);
    test_reset(&e->log);
    assert_int_equal(pubsub_publish(e->ps, 1, "t", 1, "m", 1), 0);
}

static void
test_pubsub_first_gives_subscription_order(void **state)
{
    test_env *e = *state;
    size_t len;
    const char *name;
    test_sub(e, PUBSUB_PATTERN, 1, "p2");
    test_sub(e, PUBSUB_PATTERN, 1, "p1");
    test_sub(e, PUBSUB_PATTERN, 1, "p3");
    assert_int_equal(pubsub_unsubscribe(e->ps, PUBSUB_PATTERN, 1, "p1", 2), 1);
    name = pubsub_first(e->ps, PUBSUB_PATTERN, 1, &len);
    assert_non_null(name);
    assert_memory_equal(name, "p2", 2);
    pubsub_unsubscribe(e->ps, PUBSUB_PATTERN, 1, name, len);
    name = pubsub_first(e->ps, PUBSUB_PATTERN, 1, &len);
    assert_memory_equal(name, "p3", 2);
    pubsub_unsubscribe(e->ps, PUBSUB_PATTERN, 1, name, len);
    assert_null(pubsub_first(e->ps, PUBSUB_PATTERN, 1, &len));
    assert_null(pubsub_first(e->ps, PUBSUB_CHANNEL, 7, &len));
}

static void
test_pubsub_drop_removes_everything(void **state)
{
    test_env *e = *state;
    char name[16];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        test_sub(e, PUBSUB_CHANNEL, 1, name);
        test_sub(e, PUBSUB_CHANNEL, 2, name);
        test_sub(e, PUBSUB_PATTERN, 1, name);
        test_sub(e, PUBSUB_SHARD, 1, name);
    }
    assert_int_equal(pubsub_drop(e->ps, 1), 150);
    assert_int_equal(pubsub_drop(e->ps, 1), 0);
    assert_int_equal(pubsub_count(e->ps, PUBSUB_CHANNEL, 1), 0);
    assert_int_equal(pubsub_names(e->ps, PUBSUB_CHANNEL), 50);
    assert_int_equal(pubsub_names(e->ps, PUBSUB_PATTERN), 0);
    assert_int_equal(pubsub_names(e->ps, PUBSUB_SHARD), 0);
    assert_int_equal(pubsub_check(e->ps), 0);
    assert_int_equal(test_pub(e, "c7", "x"), 1);
}

/* pubsub_each callback: counts names and remembers the last. */
typedef struct test_names {
    int n;         /* names seen */
    char last[32]; /* the last, NUL-terminated */
} test_names;

static void
test_collect(void *arg, const char *name, size_t len)
{
    test_names *t = arg;
    t->n++;
    snprintf(t->last, sizeof(t->last), "%.*s", (int)len, name);
}

static void
test_pubsub_each_filters_with_glob(void **state)
{
    test_env *e = *state;
    test_names t = {0};
    test_sub(e, PUBSUB_CHANNEL, 1, "news.a");
    test_sub(e, PUBSUB_CHANNEL, 2, "news.b");
    test_sub(e, PUBSUB_CHANNEL, 2, "sport");
    test_sub(e, PUBSUB_SHARD, 2, "news.c");
    pubsub_each(e->ps, PUBSUB_CHANNEL, NULL, 0, test_collect, &t);
    assert_int_equal(t.n, 3);
    t.n = 0;
    pubsub_each(e->ps, PUBSUB_CHANNEL, "news.[b]", 8, test_collect, &t);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.last, "news.b");
    t.n = 0;
    pubsub_each(e->ps, PUBSUB_SHARD, "news*", 5, test_collect, &t);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.last, "news.c");
}

static void
test_pubsub_buf_wrap_and_refs(void **state)
{
    char *block = malloc(4);
    pubsub_buf *b;
    (void)state;
    memcpy(block, "abcd", 4);
    b = pubsub_buf_wrap(block, 4);
    assert_ptr_equal(b->data, block);
    pubsub_buf_ref(b);
    assert_int_equal(b->refs, 2);
    pubsub_buf_unref(b);
    pubsub_buf_unref(b); /* frees block too */
    pubsub_buf_unref(NULL);
    b = pubsub_buf_new(3);
    assert_int_equal(b->len, 3);
    pubsub_buf_unref(b);
}

static uint64_t test_rng_state;

static uint64_t
test_rng(void)
{
    test_rng_state ^= test_rng_state >> 12;
    test_rng_state ^= test_rng_state << 25;
    test_rng_state ^= test_rng_state >> 27;
    return test_rng_state * 0x2545F4914F6CDD1DULL;
}

#define TEST_IDS   12
#define TEST_NAMES 10

static void
test_pubsub_model_random(void **state)
{
    test_env *e = *state;
    /* model[id][kind][name]: subscribed or not. */
    static char model[TEST_IDS][PUBSUB_NKINDS][TEST_NAMES];
    const char *seed_env = getenv("RUNNEL_TEST_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL) | 1;
    memset(model, 0, sizeof(model));
    test_rng_state = seed;
    printf("test_pubsub_model_random seed=%llu\n", (unsigned long long)seed);
    for (int step = 0; step < 20000; step++) {
        int id = (int)(test_rng() % TEST_IDS), kind = (int)(test_rng() % PUBSUB_NKINDS);
        int nm = (int)(test_rng() % TEST_NAMES), op = (int)(test_rng() % 10);
        char name[8];
        snprintf(name, sizeof(name), "n%d", nm);
        if (op < 5) {
            int added = test_sub(e, kind, (uint64_t)id, name);
            assert_int_equal(added, !model[id][kind][nm]);
            model[id][kind][nm] = 1;
        } else if (op < 9) {
            int gone = pubsub_unsubscribe(e->ps, kind, (uint64_t)id, name, strlen(name));
            assert_int_equal(gone, model[id][kind][nm]);
            model[id][kind][nm] = 0;
        } else if (test_rng() % 8 == 0) {
            size_t want = 0;
            for (int k = 0; k < PUBSUB_NKINDS; k++) {
                for (int n = 0; n < TEST_NAMES; n++)
                    want += (size_t)model[id][k][n];
            }
            assert_int_equal(pubsub_drop(e->ps, (uint64_t)id), want);
            memset(model[id], 0, sizeof(model[id]));
        } else {
            /* Publish on a channel name: its subscribers plus every
             * subscription to the pattern of the same name (no glob
             * characters, so a pattern matches only itself). */
            long long want = 0;
            for (int i = 0; i < TEST_IDS; i++)
                want += model[i][PUBSUB_CHANNEL][nm] + model[i][PUBSUB_PATTERN][nm];
            assert_int_equal(test_pub(e, name, "m"), want);
            test_reset(&e->log);
        }
        if (step % 97 == 0) {
            assert_int_equal(pubsub_check(e->ps), 0);
            for (int i = 0; i < TEST_IDS; i++) {
                for (int k = 0; k < PUBSUB_NKINDS; k++) {
                    size_t want = 0;
                    for (int n = 0; n < TEST_NAMES; n++)
                        want += (size_t)model[i][k][n];
                    assert_int_equal(pubsub_count(e->ps, k, (uint64_t)i), want);
                }
            }
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pubsub_counts_and_duplicates, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_publish_order_and_count, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_frames_are_exact_and_shared, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_binary_and_empty_payloads, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_shard_is_apart, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_first_gives_subscription_order, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_drop_removes_everything, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_each_filters_with_glob, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_buf_wrap_and_refs, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_model_random, test_setup, test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
