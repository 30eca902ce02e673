/*
 * broker/keyspace/db: the numbered databases and their expiry.
 *
 * Each database is two hash tables (broker/keyspace/dict): keys -> ks_obj,
 * and expires -> absolute expiry time in ms for the keys that have one.
 * Keys expire lazily (every lookup checks the expires table first) and
 * actively (ks_active_expire() samples the expires tables within a time
 * budget on every server tick, as Redis's activeExpireCycle does), so the
 * memory of expired keys is reclaimed without reads.
 *
 * Hot path: ks_lookup() and ks_set() on every GET/SET: one hash lookup each
 * plus one in expires only when that table is not empty.
 * Not here: replies, notifications to clients (a hook reports deletions).
 */
#ifndef BROKER_KEYSPACE_DB_H
#define BROKER_KEYSPACE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "broker/keyspace/blocking.h"
#include "broker/keyspace/dict.h"
#include "broker/keyspace/obj.h"

struct ks_space;

typedef struct ks_db {
    ks_dict *keys;          /* key -> ks_obj *, owned */
    ks_dict *expires;       /* key -> int64 ms (entry s64), subset of keys */
    int id;                 /* database number */
    long long avg_ttl;      /* running estimate of remaining TTL, ms (INFO) */
    struct ks_space *space; /* the owner, for its hooks */
} ks_db;

typedef struct ks_space {
    ks_db *dbs;                            /* count databases, owned */
    int count;                             /* "databases" config, fixed at start */
    unsigned long long expired_keys;       /* stat: keys removed by expiry */
    unsigned long long expired_stale_perc; /* stat: last cycle's % expired */
    unsigned long long expire_cycle_ms;    /* stat: ms spent in active expiry */
    unsigned long long hits;               /* stat: keyspace_hits */
    unsigned long long misses;             /* stat: keyspace_misses */
    unsigned int active_db;                /* active expiry resumes here */
    ks_blocking blocking;                  /* callers blocked on keys */
    /* Called for every key deleted by expiry (before the value is freed),
     * and for every key a command changed (ks_touch_key): notifications
     * and WATCH plug in here. May be NULL. */
    void (*on_expired)(void *priv, ks_db *db, const char *key, size_t len);
    /* Called after a key is created (ks_add, ks_set of a new key): the
     * "new" keyspace event. May be NULL. */
    void (*on_new)(void *priv, ks_db *db, const char *key, size_t len);
    /* Called when a lookup counting hits and misses finds nothing (after
     * any lazy expiry), unless KS_LOOKUP_NONOTIFY: the "keymiss" event.
     * May be NULL. */
    void (*on_miss)(void *priv, ks_db *db, const char *key, size_t len);
    void *priv; /* passed to the hooks */
    /* 1 while a snapshot or log is loaded: keys whose expiry passed stay
     * live (as Redis, which expires nothing while loading), so replaying
     * "SET k 5 PX 1000; INCR k" after the TTL gives what it gave then. */
    int no_expire;
} ks_space;

/* Lifecycle. */
void ks_space_init(ks_space *ks, int count);
void ks_space_fini(ks_space *ks);

/* Lookup flags. */
#define KS_LOOKUP_NOTOUCH  1 /* do not update the access clock */
#define KS_LOOKUP_NOSTATS  2 /* do not count a hit or miss */
#define KS_LOOKUP_NOEXPIRE 4 /* do not delete an expired key (still NULL) */
#define KS_LOOKUP_NONOTIFY 8 /* a miss is counted but not reported to on_miss */

/* Returns the live value of key or NULL; an expired key is deleted first
 * (and reported through on_expired). Borrowed pointer, valid until the
 * database next changes. O(1). */
ks_obj *ks_lookup(ks_space *ks, ks_db *db, const void *key, size_t len, int64_t now_ms, int flags);
/* 1 if the key exists and is not expired (no stats, no touch). */
int ks_exists(ks_space *ks, ks_db *db, const void *key, size_t len, int64_t now_ms);

/* Stores val under key, taking ownership; an old value is freed. The
 * expiry is removed unless keep_ttl. O(1) amortized. */
void ks_set(ks_db *db, const void *key, size_t len, ks_obj *val, int keep_ttl);
/* Adds a key that must not exist (asserted). Takes ownership of val. */
void ks_add(ks_db *db, const void *key, size_t len, ks_obj *val);
/* Deletes key and its expiry; returns 1 if it existed. */
int ks_del(ks_db *db, const void *key, size_t len);
/* Detaches the value without freeing it (RENAME, MOVE); NULL if absent.
 * The expiry is removed too; *expire_out gets it (-1 for none). */
ks_obj *ks_take(ks_db *db, const void *key, size_t len, int64_t *expire_out);

/* Expiry. ks_get_expire() returns -1 when the key has none. The key must
 * exist for ks_set_expire (asserted). */
int64_t ks_get_expire(ks_db *db, const void *key, size_t len);
void ks_set_expire(ks_db *db, const void *key, size_t len, int64_t when_ms);
int ks_persist(ks_db *db, const void *key, size_t len); /* 1 if removed */

/* Whole-database operations. ks_flush() returns the keys removed. */
size_t ks_flush(ks_db *db);
void ks_swap(ks_db *a, ks_db *b);

/* Active expiry: samples keys with an expiry in every database, deleting
 * the expired ones, until budget_us is spent or too few of the sampled
 * keys are expired. Returns keys deleted. */
size_t ks_active_expire(ks_space *ks, int64_t now_ms, long long budget_us);
/* Incremental rehash and resize for every database (server cron). */
void ks_cron(ks_space *ks, int budget_ms);

/* A random live key (RANDOMKEY): borrowed bytes or NULL when empty. */
const char *ks_random_key(ks_space *ks, ks_db *db, int64_t now_ms, size_t *len);

#endif /* BROKER_KEYSPACE_DB_H */
