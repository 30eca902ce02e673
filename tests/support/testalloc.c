/*
 * tests/support/testalloc: seeded PRNG and failing allocator shared by the
 * engine unit tests (see testalloc.h).
 */
#include "tests/support/testalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

uint64_t test_rng_state = 1;
long test_alloc_budget = -1;
long test_alloc_live;

unsigned long long
test_seed(const char *name)
{
    static unsigned long long seed;
    static int printed;
    const char *env = getenv("RUNNEL_TEST_SEED");
    if (!printed++) {
        seed = env ? strtoull(env, NULL, 0) : (unsigned long long)time(NULL);
        fprintf(stderr, "%s: seed %llu (set RUNNEL_TEST_SEED to reproduce)\n", name, seed);
    }
    return seed;
}

uint64_t
test_rng(void)
{
    test_rng_state ^= test_rng_state >> 12;
    test_rng_state ^= test_rng_state << 25;
    test_rng_state ^= test_rng_state >> 27;
    return test_rng_state * 0x2545F4914F6CDD1DULL;
}

uint64_t
test_below(uint64_t n)
{
    return test_rng() % n;
}

/* 1 when one more allocation may succeed (and spends it). */
static int
test_budget_take(void)
{
    if (test_alloc_budget == 0)
        return 0;
    if (test_alloc_budget > 0)
        test_alloc_budget--;
    return 1;
}

void *
testalloc_malloc(size_t n)
{
    void *p;
    if (!test_budget_take())
        return NULL;
    p = malloc(n);
    if (p != NULL)
        test_alloc_live++;
    return p;
}

void *
testalloc_realloc(void *p, size_t n)
{
    void *q;
    if (!test_budget_take())
        return NULL;
    q = realloc(p, n);
    if (q != NULL && p == NULL)
        test_alloc_live++;
    return q;
}

void
testalloc_free(void *p)
{
    if (p != NULL)
        test_alloc_live--;
    free(p);
}
