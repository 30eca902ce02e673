/*
 * broker/util/mem: allocation wrappers that abort on failure (see mem.h).
 */
#include "broker/util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *
util_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        runnel_panic("out of memory allocating %zu bytes", n);
    return p;
}

void *
util_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        runnel_panic("out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *
util_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        runnel_panic("out of memory reallocating %zu bytes", n);
    return q;
}

char *
util_memdup(const void *p, size_t len)
{
    char *q = util_malloc(len + 1);
    if (len)
        memcpy(q, p, len);
    q[len] = '\0';
    return q;
}

char *
util_strdup(const char *s)
{
    return util_memdup(s, strlen(s));
}

void
util_free(void *p)
{
    free(p);
}

void
runnel_panic(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "runnel: PANIC: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
