/*
 * broker/keyspace/listpack: a packed list of byte strings, the compact
 * encoding shared by the small collection values (hash field/value pairs
 * today; list nodes and small sorted sets can reuse it).
 *
 * All elements live back to back in one growable byte buffer, so a small
 * collection costs one allocation plus a few bytes of framing per element,
 * and walking it is a linear scan over cache-friendly memory. Each element
 * carries its length in front (to walk forwards) and the size of
 * "header + data" behind (to walk backwards):
 *
 *    buf: | elem 0                 | elem 1         | ...      |
 *         +-------+--------+-------+-------+--------+-------+
 *         | len   | data   | back  | len   | data   | back  |
 *         +-------+--------+-------+-------+--------+-------+
 *    len:  LEB128 varint of the data length (1..10 bytes)
 *    back: LEB128 varint of (len bytes + data length), stored reversed so it
 *          is read right to left from the start of the next element
 *
 * Positions are byte offsets of an element's first byte; KS_LP_NONE means
 * "no element". Hot path: find over small lists (O(n) compares), append.
 * Not here: thresholds and conversion to a scalable encoding (the owner
 * type decides), integer compaction.
 */
#ifndef BROKER_KEYSPACE_LISTPACK_H
#define BROKER_KEYSPACE_LISTPACK_H

#include <stddef.h>
#include <stdint.h>

/* "No element": past the end, before the start, not found. */
#define KS_LP_NONE SIZE_MAX

/*
 * A packed list. A value type meant to be embedded in its owner; the fields
 * are read-only outside listpack.c.
 */
typedef struct ks_lp {
    unsigned char *buf; /* elements, owned; NULL while cap is 0 */
    size_t len;         /* bytes used in buf */
    size_t cap;         /* bytes allocated for buf */
    size_t count;       /* elements held */
} ks_lp;

/* ---- Lifecycle ---- */

/* Makes lp an empty list (no allocation). O(1). */
void ks_lp_init(ks_lp *lp);

/* Releases lp's buffer; lp is left empty and reusable. O(1). */
void ks_lp_fini(ks_lp *lp);

/* Makes dst (uninitialised storage) an exact copy of src. O(bytes). */
void ks_lp_copy(ks_lp *dst, const ks_lp *src);

/* ---- Queries ---- */

/* Position of the first / last element, KS_LP_NONE when empty. O(1). */
size_t ks_lp_first(const ks_lp *lp);
size_t ks_lp_last(const ks_lp *lp);

/* Position of the element after / before pos, or KS_LP_NONE. O(1). */
size_t ks_lp_next(const ks_lp *lp, size_t pos);
size_t ks_lp_prev(const ks_lp *lp, size_t pos);

/*
 * Data of the element at pos; *len gets its length. The pointer is borrowed
 * until lp next changes and is not NUL-terminated. O(1).
 */
const char *ks_lp_get(const ks_lp *lp, size_t pos, size_t *len);

/*
 * Position of element number i (negative counts from the end, -1 is the
 * last), or KS_LP_NONE when out of range. O(i) from the nearer end.
 */
size_t ks_lp_index(const ks_lp *lp, long long i);

/*
 * Looks for the element equal to s[0..len), comparing the element at pos
 * and then every (skip + 1)-th one after it (skip 1 visits the fields of a
 * field/value list). Returns its position or KS_LP_NONE. O(n).
 */
size_t ks_lp_find(const ks_lp *lp, size_t pos, const void *s, size_t len, size_t skip);

/* Bytes allocated by lp (buffer capacity), for MEMORY USAGE. O(1). */
size_t ks_lp_mem(const ks_lp *lp);

/*
 * Checks the whole buffer: every header and back length consistent, the
 * element count right, forward and backward walks agreeing. For tests.
 * Returns 0 or -EINVAL. O(bytes).
 */
int ks_lp_check(const ks_lp *lp);

/* ---- Mutations (positions returned stay valid until the next change) ---- */

/*
 * Inserts a copy of s[0..len) before the element at pos (KS_LP_NONE
 * appends). s must not point into lp. Returns the new element's position.
 * O(bytes after pos) for the move, amortized O(1) growth.
 */
size_t ks_lp_insert(ks_lp *lp, size_t pos, const void *s, size_t len);

/* Appends a copy of s[0..len); returns its position. Amortized O(len). */
size_t ks_lp_append(ks_lp *lp, const void *s, size_t len);

/*
 * Replaces the element at pos with a copy of s[0..len) (s must not point
 * into lp). Returns pos, which still names the replaced element.
 * O(bytes after pos).
 */
size_t ks_lp_replace(ks_lp *lp, size_t pos, const void *s, size_t len);

/*
 * Deletes n elements starting at pos (fewer if the list ends first).
 * Returns the position of the element that followed them, or KS_LP_NONE.
 * O(bytes after pos).
 */
size_t ks_lp_delete(ks_lp *lp, size_t pos, size_t n);

#endif /* BROKER_KEYSPACE_LISTPACK_H */
