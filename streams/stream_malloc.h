/*
 * stream_malloc.h - the allocator every stream_* function goes through.
 *
 * STREAM_MALLOC, STREAM_REALLOC and STREAM_FREE default to libc through
 * hooks that tests replace at run time with stream_set_allocator() (a
 * fail-after-N allocator), so one library build serves both. A build may
 * instead define all three macros before including this header. Cold path:
 * blocks allocate once and grow geometrically. Not here: the radix tree's
 * allocations (streams/rax_malloc.h).
 */
#ifndef STREAMS_STREAM_MALLOC_H
#define STREAMS_STREAM_MALLOC_H

#include <stddef.h>

#ifndef STREAM_MALLOC
void *stream__malloc(size_t n);
void *stream__realloc(void *p, size_t n);
void stream__free(void *p);

#define STREAM_MALLOC(n)     stream__malloc(n)
#define STREAM_REALLOC(p, n) stream__realloc((p), (n))
#define STREAM_FREE(p)       stream__free(p)
#endif

#endif /* STREAMS_STREAM_MALLOC_H */
