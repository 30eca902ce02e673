/*
 * broker/keyspace/t_hash: the hash value type (field -> value, both
 * binary-safe byte strings) in its two encodings.
 *
 * A new hash is "listpack": its field/value pairs packed in insertion order
 * in one ks_lp (field, value, field, value, ...), updated in place, so
 * HGETALL on a small hash lists pairs in the order Redis's listpack does.
 * Once it holds more than max_entries pairs, or a field or value longer
 * than max_value bytes is stored, it becomes "hashtable": a ks_dict from
 * field to a length-prefixed value blob. Conversion only grows, as in Redis:
 * deleting fields never turns a hashtable back into a listpack.
 *
 *    ks_obj (type KS_HASH)
 *    +------------------+       listpack: ks_lp  | f1 | v1 | f2 | v2 | ...
 *    | enc | ptr -------+--->   hashtable: ks_dict  f -> ks_hash_val {len, bytes}
 *    +------------------+
 *
 * Hot path: find and set, O(n) over <= max_entries pairs for a listpack,
 * O(1) average for a hashtable. Not here: replies, command parsing, the
 * configuration that supplies the limits (the caller passes them).
 */
#ifndef BROKER_KEYSPACE_T_HASH_H
#define BROKER_KEYSPACE_T_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "broker/keyspace/dict.h"
#include "broker/keyspace/obj.h"

/* A listpack hash converts before its bytes would pass this size, as
 * Redis's listpack safety limit (1 GB). */
#define KS_HASH_LP_SAFE_BYTES (1ull << 30)

/* Conversion thresholds (hash-max-listpack-entries / -value). */
typedef struct ks_hash_limits {
    size_t max_entries; /* most pairs a listpack may hold */
    size_t max_value;   /* longest field or value a listpack may hold, bytes */
} ks_hash_limits;

/*
 * Stack iterator over the pairs of one hash. Listpack hashes are walked in
 * insertion order, hashtable hashes in table order. The hash must not change
 * during the walk. Fields are private to t_hash.c.
 */
typedef struct ks_hash_iter {
    ks_obj *o;       /* hash walked */
    size_t pos;      /* listpack: position of the next field */
    ks_dict_iter di; /* hashtable: dict iterator */
} ks_hash_iter;

/* Called by ks_hash_scan for each pair; must not change the hash. */
typedef void (*ks_hash_scan_fn)(void *priv, const char *f, size_t flen, const char *v, size_t vlen);

/* ---- Lifecycle ---- */

/* A new empty hash object, listpack encoded (the caller owns it). O(1). */
ks_obj *ks_hash_new(void);

/* Deep copy of hash o with the same encoding (COPY). O(n). */
ks_obj *ks_hash_dup(const ks_obj *o);

/* Frees the payload of hash o (ks_obj_free frees the header). O(n). */
void ks_hash_fini(ks_obj *o);

/* ---- Queries ---- */

/* Number of fields. O(1). */
size_t ks_hash_count(const ks_obj *o);

/*
 * Looks up field f[0..flen). Returns 1 and sets *v / *vlen (borrowed until
 * the hash next changes) when found, else 0. Either out pointer may be NULL.
 * O(n) listpack, O(1) average hashtable.
 */
int ks_hash_find(ks_obj *o, const void *f, size_t flen, const char **v, size_t *vlen);

/* Bytes held by the payload (not the ks_obj header), for MEMORY USAGE. O(n). */
size_t ks_hash_mem(const ks_obj *o);

/*
 * Checks the payload: a valid listpack with an even element count and no
 * repeated field, or a valid dict with non-NULL values. For tests.
 * Returns 0 or -EINVAL. O(n^2) listpack, O(n) hashtable.
 */
int ks_hash_check(ks_obj *o);

/* ---- Mutations ---- */

/*
 * Sets field f to value v (both copied). A listpack hash first converts to
 * a hashtable when flen or vlen exceeds lim->max_value or its bytes would
 * pass KS_HASH_LP_SAFE_BYTES; after an insert it converts when it holds
 * more than lim->max_entries pairs. Neither f nor v may point into the hash.
 * Returns 1 when the field was added, 0 when its value was replaced (a
 * listpack keeps the field's place). O(n) listpack, O(1) average hashtable.
 */
int ks_hash_set(ks_obj *o, const void *f, size_t flen, const void *v, size_t vlen,
                const ks_hash_limits *lim);

/* Deletes field f; returns 1 if it existed, else 0. The encoding never
 * changes. O(n) listpack, O(1) average hashtable. */
int ks_hash_del(ks_obj *o, const void *f, size_t flen);

/* Converts a listpack hash to a hashtable (no-op for a hashtable). O(n). */
void ks_hash_convert(ks_obj *o);

/* ---- Traversal ---- */

/* Starts an iteration over o (see ks_hash_iter). O(1). */
void ks_hash_iter_start(ks_hash_iter *it, ks_obj *o);

/* Next pair: returns 1 and the borrowed field and value, or 0 at the end. */
int ks_hash_iter_next(ks_hash_iter *it, const char **f, size_t *flen, const char **v, size_t *vlen);

/* Ends the iteration. O(1). */
void ks_hash_iter_stop(ks_hash_iter *it);

/*
 * A random pair of a non-empty hash, borrowed. rnd returns uniform 64-bit
 * values. O(n) listpack, O(1) expected hashtable.
 */
void ks_hash_random(ks_obj *o, uint64_t (*rnd)(void), const char **f, size_t *flen, const char **v,
                    size_t *vlen);

/*
 * One SCAN step over a hashtable hash with the dict's cursor guarantees
 * (every pair present for the whole walk is reported at least once); calls
 * fn per pair and returns the next cursor, 0 when done. A listpack hash
 * reports every pair in order and returns 0. O(pairs visited).
 */
uint64_t ks_hash_scan(ks_obj *o, uint64_t cursor, ks_hash_scan_fn fn, void *priv);

#endif /* BROKER_KEYSPACE_T_HASH_H */
