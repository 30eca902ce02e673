/*
 * broker/util/mem: allocation wrappers for the broker.
 *
 * Library folders return -ENOMEM; the broker, like Redis's zmalloc, treats a
 * failed allocation as fatal and calls runnel_panic(), so command handlers
 * never carry OOM paths. Only broker/ uses these.
 */
#ifndef BROKER_UTIL_MEM_H
#define BROKER_UTIL_MEM_H

#include <stddef.h>

/* Never return NULL: they abort the process on failure. */
void *util_malloc(size_t n);
void *util_calloc(size_t n, size_t size);
void *util_realloc(void *p, size_t n);
/* Copies len bytes and adds a NUL terminator. */
char *util_memdup(const void *p, size_t len);
char *util_strdup(const char *s);
void util_free(void *p);

/* Logs the message at warning level and aborts. */
_Noreturn void runnel_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* BROKER_UTIL_MEM_H */
