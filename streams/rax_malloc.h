/*
 * rax_malloc.h - the allocator used by the radix tree (streams/rax.c).
 *
 * Every byte rax.c takes from the heap goes through RAX_MALLOC, RAX_REALLOC
 * and RAX_FREE. A build may define all three on the command line to bind the
 * tree to another allocator at compile time. Otherwise they call through the
 * process-wide hooks below, which default to libc and which tests repoint at a
 * counting, fail-after-N allocator with rax_set_allocator() (rax.h). The
 * indirect call costs nothing next to the allocation itself.
 *
 * Only rax.c includes this header; it is not part of the public API.
 */
#ifndef STREAMS_RAX_MALLOC_H
#define STREAMS_RAX_MALLOC_H

#include <stddef.h>

/* The allocator the default macros call; set with rax_set_allocator(). */
typedef struct rax__allocator {
    void *(*malloc_fn)(size_t n);           /* like malloc(3): NULL on failure */
    void *(*realloc_fn)(void *p, size_t n); /* like realloc(3): p untouched on failure */
    void (*free_fn)(void *p);               /* like free(3): NULL is a no-op */
} rax__allocator;

/* Defined in rax.c, starts as {malloc, realloc, free}. Loop thread only. */
extern rax__allocator rax__alloc;

#ifndef RAX_MALLOC
#define RAX_MALLOC(n)     (rax__alloc.malloc_fn(n))
#define RAX_REALLOC(p, n) (rax__alloc.realloc_fn((p), (n)))
#define RAX_FREE(p)       (rax__alloc.free_fn(p))
#endif

#endif /* STREAMS_RAX_MALLOC_H */
