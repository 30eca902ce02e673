/*
 * cg_malloc.h - the allocator every cg_* and pel_* function goes through.
 *
 * CG_MALLOC and CG_FREE default to libc through hooks that tests replace at
 * run time with cg_set_allocator() (a counting, fail-after-N allocator), so
 * one library build serves both; a build may instead define both macros
 * before including this header. The radix trees inside groups and consumers
 * allocate through rax's own hooks (streams/rax_malloc.h). Cold path next to
 * the trees: one allocation per group, consumer and pending entry.
 *
 * Only the .c files of consumers/ include this header; it is not public API.
 */
#ifndef CONSUMERS_CG_MALLOC_H
#define CONSUMERS_CG_MALLOC_H

#include <stddef.h>

#ifndef CG_MALLOC
void *cg__malloc(size_t n); /* cg.c: through the hook set by cg_set_allocator */
void cg__free(void *p);     /* cg.c: NULL is a no-op */

#define CG_MALLOC(n) cg__malloc(n)
#define CG_FREE(p)   cg__free(p)
#endif

#endif /* CONSUMERS_CG_MALLOC_H */
