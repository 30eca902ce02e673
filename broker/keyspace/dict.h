/*
 * dict.h - the keyspace hash table: databases (key -> value pointer), the
 * expires table (key -> int64 ms) and, later, set and hash values.
 *
 * Chained buckets in power-of-two tables, with two tables while an
 * INCREMENTAL rehash moves entries from the old table to the new one, so no
 * single command pays for a whole resize. Keys are binary-safe and copied
 * into the entry itself (one allocation per entry); values are never copied
 * or freed except through a ks_dict_free_fn given by the caller. Keys hash
 * with SipHash-1-2 under a process-wide 16-byte seed.
 *
 *    ks_dict                       table[0] (old, while rehashing)
 *    +-------------+    +---+      +---------------------------------+
 *    | table[0] ---+--->| 0 |----->| next | val | klen | "key\0"    |
 *    | table[1] ---+-+  | 1 |      +---------------------------------+
 *    | rehash_idx  | |  |...|      table[1] (new, twice or 1/2^k the size)
 *    +-------------+ +->[ 0 | 1 | 2 | ... ]
 *
 * Hot paths: find/add/del are O(1) average plus one rehash step; scan,
 * sample and random feed SCAN, active expiry and eviction. The table is not
 * thread-safe and does not expire or evict anything itself.
 */
#ifndef KEYSPACE_DICT_H
#define KEYSPACE_DICT_H

#include <stddef.h>
#include <stdint.h>

/* Bucket count of a table when the first entry arrives; tables never shrink below it. */
#define KS_DICT_MIN_SLOTS 4

/* A table filled below this percentage shrinks on ks_dict_resize_if_needed. */
#define KS_DICT_MIN_FILL 10

typedef struct ks_dict ks_dict;             /* opaque */
typedef struct ks_dict_entry ks_dict_entry; /* opaque; never moves once added */

/* Releases one value; called by ks_dict_free, ks_dict_clear and ks_dict_del. */
typedef void (*ks_dict_free_fn)(void *val);

/* Called once per entry by ks_dict_scan; must not add or delete entries. */
typedef void (*ks_dict_scan_fn)(void *priv, const ks_dict_entry *e);

/*
 * Safe iterator, meant to live on the stack. Between ks_dict_iter_start and
 * ks_dict_iter_stop, rehashing is paused, so every entry present for the
 * whole walk is returned exactly once, and the entry last returned may be
 * deleted or unlinked. Deleting any other entry is not allowed; added
 * entries may or may not be returned. Fields are private to dict.c.
 */
typedef struct ks_dict_iter {
    ks_dict *d;                /* dict walked; NULL once stopped */
    ks_dict_entry *next_entry; /* entry returned next, saved before the caller sees the current */
    size_t bucket;             /* next bucket of `table` to load */
    int table;                 /* 0 or 1: which table is being walked */
} ks_dict_iter;

/* ---- Process-wide setup ---- */

/*
 * Sets the 16-byte SipHash key used by every dict. Call once at startup,
 * before any dict holds entries: existing entries would no longer be found.
 * The default is a fixed key. O(1).
 */
void ks_dict_set_seed(const uint8_t seed[16]);

/*
 * Replaces the allocator of every dict (tables and entries). Both NULL
 * restores malloc/free. For tests (fail-after-N allocators); only call while
 * no dict exists, since memory must be released by the allocator that
 * provided it. O(1).
 */
void ks_dict_set_allocator(void *(*alloc_fn)(size_t), void (*free_fn)(void *));

/* SipHash-1-2 of key[0..len) under the seed. key may be NULL when len is 0. O(len). */
uint64_t ks_dict_hash(const void *key, size_t len);

/* As ks_dict_hash with ASCII letters folded to lower case first. O(len). */
uint64_t ks_dict_hash_nocase(const void *key, size_t len);

/* ---- Lifecycle ---- */

/* Returns an empty dict (no table allocated until the first add), or NULL on ENOMEM. O(1). */
ks_dict *ks_dict_new(void);

/*
 * Frees d, its tables and entries; calls fn (if not NULL) on every value.
 * NULL d is a no-op. No iterator may be active. O(n + slots).
 */
void ks_dict_free(ks_dict *d, ks_dict_free_fn fn);

/*
 * Removes every entry (calling fn, if not NULL, on each value) and frees the
 * tables; d stays usable and empty. Invalidates iterators: only
 * ks_dict_iter_stop may be called on them afterwards. O(n + slots).
 */
void ks_dict_clear(ks_dict *d, ks_dict_free_fn fn);

/* ---- Queries ---- */

/* Number of entries. O(1). */
size_t ks_dict_count(const ks_dict *d);

/* Buckets allocated in both tables (0 for a fresh or cleared dict). O(1). */
size_t ks_dict_slots(const ks_dict *d);

/* 1 while entries are being moved from the old table to the new one, else 0. O(1). */
int ks_dict_is_rehashing(const ks_dict *d);

/*
 * Finds the entry for key[0..len). Returns a borrowed pointer, valid until
 * that entry is deleted, unlinked or the dict cleared (entries never move),
 * or NULL. Performs one rehash step. O(1) average.
 */
ks_dict_entry *ks_dict_find(ks_dict *d, const void *key, size_t len);

/*
 * Bytes allocated by d: the struct, both bucket arrays and every entry
 * (header + key + NUL), for INFO memory. Values are not counted. O(1).
 */
size_t ks_dict_mem(const ks_dict *d);

/*
 * Checks the whole structure: table sizes, counts, every entry in the
 * bucket its hash selects, empty buckets behind the rehash index, no
 * duplicate keys, NUL-terminated keys, memory accounting. For tests.
 * Returns 0 or -EINVAL. O(n + slots).
 */
int ks_dict_check(const ks_dict *d);

/* ---- Mutations ---- */

/*
 * Adds key[0..len) (copied) with value val (borrowed until the entry is
 * deleted; the dict owns nothing of it). Returns the new entry, or NULL if
 * the key exists (then nothing changes) or on ENOMEM (then the contents are
 * unchanged); use ks_dict_add_or_find to tell these apart. May start a
 * grow when count >= slots. O(1) average plus one rehash step.
 */
ks_dict_entry *ks_dict_add(ks_dict *d, const void *key, size_t len, void *val);

/*
 * Returns the entry for key[0..len), adding it with a NULL value (s64 0) if
 * absent. *existed is set to 1 or 0 on success. Returns NULL only on ENOMEM,
 * with the contents unchanged. O(1) average plus one rehash step.
 */
ks_dict_entry *ks_dict_add_or_find(ks_dict *d, const void *key, size_t len, int *existed);

/*
 * Deletes key[0..len), calling fn (if not NULL) on its value. Returns 0 or
 * -ENOENT. Never shrinks the table (see ks_dict_resize_if_needed).
 * O(1) average plus one rehash step.
 */
int ks_dict_del(ks_dict *d, const void *key, size_t len, ks_dict_free_fn fn);

/*
 * Detaches the entry for key[0..len) without freeing it and returns it, or
 * NULL if absent. The caller owns it and must release it with
 * ks_dict_entry_free (its value is the caller's business). O(1) average.
 */
ks_dict_entry *ks_dict_unlink(ks_dict *d, const void *key, size_t len);

/* Frees an entry returned by ks_dict_unlink; never its value. NULL is a no-op. O(1). */
void ks_dict_entry_free(ks_dict_entry *e);

/*
 * Starts a rehash if the table needs one and none is running: grow when
 * count >= slots, shrink to the smallest power of two >= max(count, 4) when
 * fill is under KS_DICT_MIN_FILL percent. Returns 0, or -ENOMEM with the
 * dict unchanged. O(new slots) for the bucket array.
 */
int ks_dict_resize_if_needed(ks_dict *d);

/*
 * Moves up to `buckets` non-empty buckets (visiting at most ten times as
 * many empty ones) from the old table to the new one. Does nothing when
 * not rehashing or while paused. O(buckets).
 */
void ks_dict_rehash_step(ks_dict *d, int buckets);

/*
 * Rehashes in batches of 100 buckets for about ms milliseconds (at least
 * one batch), stopping early when done or paused. Returns the number of
 * old-table buckets processed. Reads CLOCK_MONOTONIC.
 */
int ks_dict_rehash_ms(ks_dict *d, int ms);

/* Pauses rehash steps (nesting counter); used by safe iterators and scans. O(1). */
void ks_dict_pause_rehash(ks_dict *d);

/* Undoes one ks_dict_pause_rehash. O(1). */
void ks_dict_resume_rehash(ks_dict *d);

/* ---- Entries ---- */

/*
 * Key bytes of e, NUL-terminated (the NUL is not counted); *len gets the
 * length if len is not NULL. Valid as long as the entry. O(1).
 */
const char *ks_dict_entry_key(const ks_dict_entry *e, size_t *len);

/* Value pointer of e. O(1). */
void *ks_dict_entry_val(const ks_dict_entry *e);

/* Replaces the value pointer of e; the old one is not freed. O(1). */
void ks_dict_entry_set_val(ks_dict_entry *e, void *val);

/* Value slot read as an int64 (the slot is a union; use one view per dict). O(1). */
int64_t ks_dict_entry_s64(const ks_dict_entry *e);

/* Stores an int64 in the value slot, e.g. an expire time in ms. O(1). */
void ks_dict_entry_set_s64(ks_dict_entry *e, int64_t v);

/* ---- Traversal ---- */

/*
 * One SCAN step: calls fn on every entry of the bucket(s) at cursor and
 * returns the next cursor, 0 when the walk is complete (start with 0).
 * Cursors advance by incrementing the reversed bits under the table mask,
 * and while rehashing the small table's bucket and all its expansions in
 * the big table are visited, so every entry present from the first call to
 * the last is returned at least once even across grows and shrinks; some
 * may be returned more than once. Rehashing is paused during the call.
 * O(entries visited) per call; an empty dict returns 0.
 */
uint64_t ks_dict_scan(ks_dict *d, uint64_t cursor, ks_dict_scan_fn fn, void *priv);

/*
 * Returns a random entry (random non-empty bucket, then a random entry of
 * its chain), or NULL if empty. rnd returns uniform 64-bit values. Performs
 * one rehash step. O(slots / count) expected.
 */
ks_dict_entry *ks_dict_random(ks_dict *d, uint64_t (*rnd)(void));

/*
 * Stores up to count distinct entries from consecutive buckets starting at a
 * random one into out, visiting at most 10 * count buckets and never
 * wrapping past the start, for active expiry and eviction. Returns how many
 * (possibly fewer than count, 0 only if d is empty or count is 0). Performs
 * count rehash steps first. The entries are borrowed. O(count).
 */
size_t ks_dict_sample(ks_dict *d, ks_dict_entry **out, size_t count, uint64_t (*rnd)(void));

/* Starts a safe iteration over d (see ks_dict_iter). O(1). */
void ks_dict_iter_start(ks_dict_iter *it, ks_dict *d);

/* Returns the next entry (borrowed), or NULL at the end. O(1) amortized over the walk. */
ks_dict_entry *ks_dict_iter_next(ks_dict_iter *it);

/* Ends the iteration and resumes rehashing; stopping twice is a no-op. O(1). */
void ks_dict_iter_stop(ks_dict_iter *it);

#endif /* KEYSPACE_DICT_H */
