/*
 * tests/support/testalloc: what the engine unit tests share: a seeded
 * xorshift PRNG whose seed is printed once (RUNNEL_TEST_SEED replays it)
 * and a counting, fail-after-N allocator to plug into the engines'
 * *_set_allocator hooks for leak checks and OOM loops.
 */
#ifndef TESTS_SUPPORT_TESTALLOC_H
#define TESTS_SUPPORT_TESTALLOC_H

#include <stddef.h>
#include <stdint.h>

extern uint64_t test_rng_state; /* xorshift64* state, never 0 */
extern long test_alloc_budget;  /* allocations left before failing, -1 for no limit */
extern long test_alloc_live;    /* allocations not yet freed */

/* The run's seed: RUNNEL_TEST_SEED or the time, printed once with name. */
unsigned long long test_seed(const char *name);
/* Next pseudo-random number, and one below n (n > 0). */
uint64_t test_rng(void);
uint64_t test_below(uint64_t n);

/* malloc/realloc/free that count live blocks and fail (return NULL) once
 * test_alloc_budget reaches 0. */
void *testalloc_malloc(size_t n);
void *testalloc_realloc(void *p, size_t n);
void testalloc_free(void *p);

#endif /* TESTS_SUPPORT_TESTALLOC_H */
