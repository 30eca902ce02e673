/*
 * rax.h - radix tree keyed by byte strings with compressed nodes: the index of
 * the stream log (16-byte big-endian entry IDs), of PELs and of group names.
 *
 * Central design choice: memory per key. Runs of single-child levels live in
 * one compressed node, as in Redis's rax, and a key without descendants costs
 * no node: its value sits in its parent's child slot (an "inline leaf", flagged
 * in a per-node bitmap), so sequential IDs cost about 9 bytes per key.
 *
 * Hot paths: rax_insert at the right edge (XADD), rax_find, seek + next (XRANGE,
 * XREAD), all O(k) in the key length k. The tree never copies values and frees
 * them only through the callback given to rax_free; it is not thread-safe and
 * has no safe iterators: any mutation invalidates every iterator of the tree.
 */
#ifndef STREAMS_RAX_H
#define STREAMS_RAX_H

#include <stddef.h>
#include <stdint.h>

/*
 * Node layout. Every node is one allocation: a 32-bit header, the child bytes,
 * a bitmap telling which slots are inline leaves, padding up to pointer
 * alignment, the slots, and the node's own value when it has one.
 *
 *   +--------+-------------+-------------+-----+---------------+----------+
 *   | header | chars[size] | leafmap[lb] | pad | slot[nslots]  | value    |
 *   | 4 B    | size B      | (nslots+7)/8| 0-7 | nslots ptrs   | 0 or ptr |
 *   +--------+-------------+-------------+-----+---------------+----------+
 *
 *   header  = iskey:1 | isnull:1 | iscompr:1 | size:29
 *   iskey   = a key ends at the start of this node (before chars)
 *   isnull  = that key's value is NULL and is not stored (no value field)
 *   iscompr = 0: branch node, chars are the first bytes of `size` children,
 *                sorted, nslots = size (0 only for an empty root);
 *             1: compressed node, chars are a run of `size` >= 2 bytes
 *                walked in sequence, nslots = 1 (the slot after the run)
 *   leafmap = bit i set: slot[i] holds the value of a key that ends there and
 *             has no descendants (inline leaf); clear: slot[i] is a child node
 *   value   = present iff iskey && !isnull
 *
 * Keys "foo", "foobar" and "footer" (nodes in [], keys marked with *, inline
 * leaves as <value>):
 *
 *      ["foo"]            compressed, size 3, slot -> branch          16 B
 *         |
 *      [*  b  t ]         branch, size 2, key "foo" with its value    32 B
 *         |    \
 *      ["ar"]  ["er"]     compressed, size 2, slot = inline leaf      16 B each
 *        |       |
 *   <foobar>  <footer>    values stored in the slots: no node
 *
 * Byte sizes on a 64-bit target: a branch with n children and no value takes
 * 4 + n + ceil(n/8) rounded up to 8, plus 8n; a full 256-way branch whose
 * children are all inline leaves is 2344 bytes for 256 keys. Measured for
 * 1,000,000 sequential 128-bit big-endian keys (0, 1, 2, ...): 9.19 bytes and
 * 0.004 nodes per key, where Redis's layout adds a 16-byte leaf node per key
 * (about 25 bytes). With one ID per millisecond (ms = T + i, seq = 0) each key
 * also needs a node for its 8-byte run of zero seq bytes: 33.2 bytes per key.
 */

/* Key bytes an iterator holds without a heap buffer. */
#define RAX_ITER_STATIC_LEN 128

/* Path frames an iterator holds without a heap buffer (depth of the tree). */
#define RAX_ITER_STACK_STATIC 32

typedef struct rax rax; /* opaque */

struct rax_node; /* private to rax.c; layout above */

/* One step of an iterator's path from the root. Private to rax.c. */
typedef struct rax_iter_frame {
    struct rax_node *node; /* node on the path, borrowed from the tree */
    uint32_t slot;         /* slot left through; always 0 for a compressed node */
} rax_iter_frame;

/*
 * Iterator, meant to live on the stack (it must not be copied or moved while
 * started: key may point into it). Only key, key_len and data are public, and
 * only after rax_next or rax_prev returned 1.
 */
typedef struct rax_iter {
    unsigned char *key; /* current key: key_static or a heap buffer owned by the iterator */
    size_t key_len;     /* bytes in key */
    void *data;         /* value of the current key, borrowed from the tree */
    /* Private to rax.c. */
    rax *tree;                                          /* tree walked, borrowed */
    unsigned flags;                                     /* RAX_ITER_* state bits (rax.c) */
    size_t key_cap;                                     /* bytes key can hold */
    rax_iter_frame *stack;                              /* stack_static or a heap array */
    size_t depth;                                       /* frames in use: path to the position */
    size_t stack_cap;                                   /* frames stack can hold */
    rax_iter_frame stack_static[RAX_ITER_STACK_STATIC]; /* frames before the heap is needed */
    unsigned char key_static[RAX_ITER_STATIC_LEN];      /* key bytes before the heap is needed */
} rax_iter;

/* ---- Process-wide setup ---- */

/*
 * Replaces the allocator behind RAX_MALLOC/RAX_REALLOC/RAX_FREE (rax_malloc.h)
 * for every tree and iterator. Pass all three, or all NULL to restore libc.
 * For tests (counting, fail-after-N allocators); call only while no tree or
 * iterator buffer exists. Has no effect when the build defines RAX_MALLOC. O(1).
 */
void rax_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                       void (*free_fn)(void *));

/* ---- Lifecycle ---- */

/* Returns an empty tree, or NULL on ENOMEM. O(1). */
rax *rax_new(void);

/*
 * Frees t and every node; calls free_val once for each non-NULL value (never
 * for NULL ones). t may be NULL and free_val may be NULL. Uses no stack or heap
 * proportional to the tree's depth. O(n) in the nodes and keys.
 */
void rax_free(rax *t, void (*free_val)(void *val));

/* ---- Queries ---- */

/*
 * Looks key[0..len) up: 1 if found (its value, possibly NULL, in *val when val
 * is not NULL), 0 if absent. key may be NULL when len is 0. Never allocates.
 * O(k), k = len (plus a binary search of at most 8 steps per branch node).
 */
int rax_find(const rax *t, const unsigned char *key, size_t len, void **val);

/* Keys stored. O(1). */
uint64_t rax_count(const rax *t);

/* Nodes allocated (XINFO radix-tree-nodes); inline leaves are not nodes. O(1). */
uint64_t rax_nodes(const rax *t);

/* Bytes requested for the nodes (not the rax struct, not allocator overhead). O(1). */
size_t rax_mem(const rax *t);

/*
 * Whole-structure checker for tests: node encodings, sorted children, no
 * childless non-root node, leaf bitmaps, key/node/byte counters, and, unless a
 * merge was skipped for lack of memory, that no two nodes could be merged.
 * Returns 0 or -EINVAL. Recursive (depth = tree height). O(n).
 */
int rax_check(const rax *t);

/* ---- Mutations ---- */

/*
 * Inserts or overwrites key[0..len) with val (NULL is a valid value). Returns 1
 * if the key was new, 0 if it existed (value replaced; the old one in *old
 * when old is not NULL), -ENOMEM with the tree unchanged. The tree never owns
 * val. O(k).
 */
int rax_insert(rax *t, const unsigned char *key, size_t len, void *val, void **old);

/*
 * Inserts key[0..len) only if absent: 1 inserted, 0 existed (nothing changed;
 * the existing value in *old when old is not NULL), -ENOMEM (tree unchanged).
 * O(k).
 */
int rax_try_insert(rax *t, const unsigned char *key, size_t len, void *val, void **old);

/*
 * Removes key[0..len): 1 removed (its value in *old when old is not NULL, for
 * the caller to free), 0 not found. Nodes left with a single child are merged
 * back into compressed nodes. Never fails: if a merge cannot allocate, the
 * nodes stay unmerged (still valid). O(k).
 */
int rax_remove(rax *t, const unsigned char *key, size_t len, void **old);

/* ---- Iteration ---- */

/* Attaches it to t, positioned nowhere (rax_next/rax_prev return 0). No allocation. O(1). */
void rax_iter_start(rax_iter *it, rax *t);

/*
 * Positions it for op: "^" first key, "$" last key, "==" key itself, ">=" / ">"
 * the smallest key at or above / above key, "<=" / "<" the largest at or below /
 * below key (key ignored and may be NULL for "^" and "$"). The next rax_next
 * or rax_prev call returns that element (or 0 if there is none), later calls
 * move on in their direction. Returns 0, -EINVAL for an unknown op, or -ENOMEM
 * (the iterator is then at its end). Allocates only past RAX_ITER_STATIC_LEN
 * key bytes or RAX_ITER_STACK_STATIC levels. O(k + height).
 */
int rax_seek(rax_iter *it, const char *op, const unsigned char *key, size_t len);

/*
 * Moves to the next key in byte order (memcmp, shorter first on ties) and sets
 * key, key_len and data: returns 1, or 0 at the end (sticky until the next
 * seek) or when a buffer could not grow (then rax_iter_error says -ENOMEM).
 * Amortized O(1) per key over a full walk, O(height) worst case.
 */
int rax_next(rax_iter *it);

/* As rax_next, towards smaller keys. */
int rax_prev(rax_iter *it);

/* -ENOMEM if the last seek or step stopped for lack of memory, else 0. O(1). */
int rax_iter_error(const rax_iter *it);

/* Frees the iterator's heap buffers; it may be started again. Idempotent. O(1). */
void rax_iter_stop(rax_iter *it);

#endif /* STREAMS_RAX_H */
