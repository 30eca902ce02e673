/*
 * broker/keyspace/blocking: the registry of callers blocked on keys.
 *
 * For every (database, key) some caller waits on, the registry keeps the
 * waiting caller ids in arrival order; a write to such a key puts it on
 * the ready list once. The server drains the ready list after each command
 * and runs the waiting commands again for their callers, oldest first
 * (Redis 7.2+ re-executes blocked commands the same way). Callers cross
 * this interface by numeric id, never by pointer.
 *
 * Hot path: ks_block_signal() on every key change; one counter test when
 * nobody is blocked, one hash lookup otherwise.
 * Not here: timeouts, replies, the commands themselves (server/).
 */
#ifndef BROKER_KEYSPACE_BLOCKING_H
#define BROKER_KEYSPACE_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

#include "broker/keyspace/dict.h"

typedef struct ks_blocking {
    ks_dict *waiters;   /* "<db:4><key>" -> ks_block_queue *, owned */
    ks_dict *ready_set; /* "<db:4><key>" of keys in ready, for dedupe */
    char **ready;       /* ready keys, "<db:4><key>", owned, in signal order */
    size_t *ready_len;  /* byte lengths of ready[] */
    size_t nready;      /* entries in ready */
    size_t ready_cap;   /* allocated entries of ready/ready_len */
    size_t nblocked;    /* (caller, key) registrations */
} ks_blocking;

void ks_blocking_init(ks_blocking *b);
void ks_blocking_fini(ks_blocking *b);

/* Registers caller id as waiting on key of database db (at the tail). */
void ks_block_add(ks_blocking *b, int db, const void *key, size_t len, uint64_t id);
/* Removes caller id from the waiters of key (no-op when absent). */
void ks_block_del(ks_blocking *b, int db, const void *key, size_t len, uint64_t id);
/* Marks key ready when some caller waits on it. */
void ks_block_signal(ks_blocking *b, int db, const void *key, size_t len);
/* Marks ready every key of database db that some caller waits on (FLUSHDB,
 * FLUSHALL, SWAPDB: the waiting commands run again and see the change).
 * O(keys waited on). */
void ks_block_signal_db(ks_blocking *b, int db);

/* Takes the oldest ready key: 1 and *db/key/len (caller frees key with
 * ks_block_key_free), 0 when none is ready. */
int ks_block_pop_ready(ks_blocking *b, int *db, char **key, size_t *len);
void ks_block_key_free(char *key);
/* Copies the ids waiting on key, in arrival order, into a new array
 * (caller frees with util_free); returns the count. */
size_t ks_block_waiters(ks_blocking *b, int db, const void *key, size_t len, uint64_t **ids);

#endif /* BROKER_KEYSPACE_BLOCKING_H */
