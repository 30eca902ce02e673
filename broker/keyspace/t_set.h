/*
 * broker/keyspace/t_set: the set value type (unordered, distinct,
 * binary-safe byte strings) in its two encodings, as Redis 7.0 has them.
 *
 * A set whose first member is a canonical 64-bit integer starts as
 * "intset": the members kept as a sorted array of integers, all stored
 * with the smallest width (2, 4 or 8 bytes) that fits every member, so a
 * lookup is a binary search. Adding a non-integer member, or more than
 * max_intset members, makes it "hashtable": a ks_dict of member strings
 * with no values. Conversion only grows, as in Redis: removing members
 * never turns a hashtable back into an intset. Redis 7.2 added a third,
 * "listpack" encoding for small non-integer sets; our oracle (7.0) has
 * none, so neither do we.
 *
 *    ks_obj (type KS_SET)        intset:    ks_intset {width, count, | v0 | v1 | ... |}
 *    | enc | ptr ---------->     hashtable: ks_dict  member -> NULL
 *
 * Hot path: add/contains, O(log n) + O(n) memmove for an intset, O(1)
 * average for a hashtable. Not here: replies, command parsing, the
 * configuration that supplies the threshold (the caller passes it).
 */
#ifndef BROKER_KEYSPACE_T_SET_H
#define BROKER_KEYSPACE_T_SET_H

#include <stddef.h>
#include <stdint.h>

#include "broker/keyspace/dict.h"
#include "broker/keyspace/obj.h"

/* Room for the text of any int64 member (sign, 19 digits, NUL). */
#define KS_SET_NUM_BUF 21

/*
 * Stack iterator over the members of one set: an intset in ascending
 * order, a hashtable in table order. Intset members are formatted into
 * buf, so a returned pointer lives until the next call. The set must not
 * change during the walk.
 */
typedef struct ks_set_iter {
    ks_obj *o;                /* set walked */
    size_t pos;               /* intset: index of the next member */
    ks_dict_iter di;          /* hashtable: dict iterator */
    char buf[KS_SET_NUM_BUF]; /* intset: text of the current member */
} ks_set_iter;

/* Called by ks_set_scan for each member; must not change the set. */
typedef void (*ks_set_scan_fn)(void *priv, const char *m, size_t len);

/* ---- Lifecycle ---- */

/* A new empty set ready to take member m first: an intset when m is a
 * canonical integer, else a hashtable (the caller owns it). O(1). */
ks_obj *ks_set_new_for(const void *m, size_t len);

/* A new empty intset (store commands build results in one). O(1). */
ks_obj *ks_set_new_intset(void);

/* Deep copy of set o with the same encoding (COPY). O(n). */
ks_obj *ks_set_dup(const ks_obj *o);

/* Frees the payload of set o (ks_obj_free frees the header). O(n). */
void ks_set_fini(ks_obj *o);

/* ---- Queries ---- */

/* Number of members. O(1). */
size_t ks_set_count(const ks_obj *o);

/* 1 when m[0..len) is a member, else 0. O(log n) intset, O(1) hashtable. */
int ks_set_contains(ks_obj *o, const void *m, size_t len);

/* Bytes held by the payload (not the ks_obj header), for MEMORY USAGE. */
size_t ks_set_mem(const ks_obj *o);

/* Intset width in bytes (2, 4 or 8); 0 for a hashtable. For tests. */
int ks_set_intset_width(const ks_obj *o);

/*
 * Checks the payload: an intset strictly ascending with every member
 * needing the stored width or a narrower one and at least one needing
 * exactly it (empty sets excepted); or a valid dict. Returns 0 or -EINVAL.
 * O(n).
 */
int ks_set_check(ks_obj *o);

/* ---- Mutations ---- */

/*
 * Adds m[0..len) (copied). An intset takes an integer member in place
 * (widening all members when needed) and converts to a hashtable once it
 * holds more than max_intset members; a non-integer member converts it
 * first. Returns 1 when added, 0 when already present. O(n) intset, O(1)
 * average hashtable.
 */
int ks_set_add(ks_obj *o, const void *m, size_t len, size_t max_intset);

/* Removes m; returns 1 if it was a member, else 0. The encoding never
 * changes (an intset never narrows). O(n) intset, O(1) hashtable. */
int ks_set_del(ks_obj *o, const void *m, size_t len);

/* Converts an intset to a hashtable (no-op for a hashtable). O(n). */
void ks_set_convert(ks_obj *o);

/*
 * A random member of a non-empty set, written to *m / *len: borrowed from
 * the set for a hashtable, formatted into buf (KS_SET_NUM_BUF bytes) for an
 * intset. rnd returns uniform 64-bit values. O(1) expected.
 */
void ks_set_random(ks_obj *o, uint64_t (*rnd)(void), char *buf, const char **m, size_t *len);

/* ---- Traversal ---- */

/* Starts an iteration over o (see ks_set_iter). O(1). */
void ks_set_iter_start(ks_set_iter *it, ks_obj *o);

/* Next member: returns 1 and the borrowed member, or 0 at the end. */
int ks_set_iter_next(ks_set_iter *it, const char **m, size_t *len);

/* Ends the iteration. O(1). */
void ks_set_iter_stop(ks_set_iter *it);

/*
 * One SCAN step over a hashtable set with the dict's cursor guarantees;
 * calls fn per member and returns the next cursor, 0 when done. An intset
 * reports every member in order and returns 0. O(members visited).
 */
uint64_t ks_set_scan(ks_obj *o, uint64_t cursor, ks_set_scan_fn fn, void *priv);

#endif /* BROKER_KEYSPACE_T_SET_H */
