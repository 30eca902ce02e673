/*
 * rax.c - radix tree with compressed nodes and inline leaves (layout in rax.h).
 *
 * Every mutation that can fail allocates what it needs before linking anything
 * in, so -ENOMEM leaves the tree untouched. Removal only shrinks nodes in place
 * (a failed shrinking realloc is harmless) except for merging single-child
 * chains, which is skipped when it cannot allocate. Nodes have no parent
 * pointer: removal finds a parent by walking the key again (rax_locate).
 * Invariants (rax_check): only the root may be childless; branch bytes are
 * sorted; a compressed run has 2..RAX_NODE_MAX_SIZE bytes; a value is stored
 * iff it is not NULL; unless t->lax, no two nodes could be merged, so the shape
 * depends only on the keys. Hot paths: rax_walk_key (find, insert, remove),
 * rax_branch_add (appends) and the iterator steps. No locking, no safe
 * iterators, no copying of values.
 */
#include "streams/rax.h"

#include "streams/rax_malloc.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Longest run a compressed node holds (29-bit size); longer key tails chain nodes. */
#ifndef RAX_NODE_MAX_SIZE
#define RAX_NODE_MAX_SIZE ((1u << 29) - 1)
#endif

#define RAX_PTR sizeof(void *) /* slot and value alignment and size */

/* Iterator state bits (rax_iter.flags). */
#define RAX_ITER_JUST_SEEKED 1u /* next/prev returns the current element first */
#define RAX_ITER_EOF         2u /* no current element; next/prev return 0 */
#define RAX_ITER_OOM         4u /* the last seek or step ran out of memory */

typedef struct rax_node rax_node;

/* A child slot: a node, or the value of an inline leaf when the slot's leaf bit is set. */
typedef union rax_slot {
    rax_node *child; /* owned child node (leaf bit clear) */
    void *val;       /* value of a key ending here with no descendants (leaf bit set) */
} rax_slot;

struct rax_node {
    unsigned int iskey : 1;   /* a key ends at the start of this node */
    unsigned int isnull : 1;  /* that key's value is NULL and not stored; only with iskey */
    unsigned int iscompr : 1; /* chars are one run followed by a single slot */
    unsigned int size : 29;   /* children of a branch, or bytes of a compressed run */
    unsigned char data[];     /* chars, leafmap, pad, slots, value (rax.h) */
};

_Static_assert(sizeof(struct rax_node) == 4, "the node header is 32 bits");

struct rax {
    rax_slot head;  /* .child is the root node, never NULL */
    uint64_t count; /* keys stored, inline leaves included */
    uint64_t nodes; /* nodes allocated */
    size_t mem;     /* sum of the nominal sizes of all nodes */
    int lax;        /* 1 once the shape may not be minimal (skipped merge, overlong key) */
};

rax__allocator rax__alloc = {malloc, realloc, free};

/* ---- Node layout ---- */

static size_t
rax_nslots_for(size_t size, int compr)
{
    return compr ? 1 : size;
}

static size_t
rax_nslots(const rax_node *n)
{
    return rax_nslots_for(n->size, n->iscompr);
}

/* Offset of the slots: header, chars and leafmap rounded up to pointer alignment. */
static size_t
rax_slots_off_for(size_t size, int compr)
{
    size_t off = sizeof(rax_node) + size + (rax_nslots_for(size, compr) + 7) / 8;

    return (off + RAX_PTR - 1) & ~(RAX_PTR - 1);
}

static size_t
rax_bytes_for(size_t size, int compr, int hasval)
{
    return rax_slots_off_for(size, compr) + (rax_nslots_for(size, compr) + !!hasval) * RAX_PTR;
}

static int
rax_has_value(const rax_node *n)
{
    return n->iskey && !n->isnull;
}

static size_t
rax_node_bytes(const rax_node *n)
{
    return rax_bytes_for(n->size, n->iscompr, rax_has_value(n));
}

static unsigned char *
rax_chars(rax_node *n)
{
    return n->data;
}

static unsigned char *
rax_leafmap(rax_node *n)
{
    return n->data + n->size;
}

static rax_slot *
rax_slots(rax_node *n)
{
    return (rax_slot *)((unsigned char *)n + rax_slots_off_for(n->size, n->iscompr));
}

/* The value field; exists only when rax_has_value(n). */
static rax_slot *
rax_valp(rax_node *n)
{
    return rax_slots(n) + rax_nslots(n);
}

/* Value of the key ending at n's start (n must be a key). */
static void *
rax_value(rax_node *n)
{
    assert(n->iskey);
    return n->isnull ? NULL : rax_valp(n)->val;
}

static int
rax_is_leaf(rax_node *n, size_t s)
{
    return (rax_leafmap(n)[s >> 3] >> (s & 7)) & 1;
}

static void
rax_set_slot(rax_node *n, size_t s, rax_slot v, int leaf)
{
    unsigned char bit = (unsigned char)(1u << (s & 7));

    rax_slots(n)[s] = v;
    if (leaf)
        rax_leafmap(n)[s >> 3] |= bit;
    else
        rax_leafmap(n)[s >> 3] &= (unsigned char)~bit;
}

static void
rax_set_child(rax_node *n, size_t s, rax_node *child)
{
    rax_slot v = {.child = child};

    rax_set_slot(n, s, v, 0);
}

static void
rax_set_leaf(rax_node *n, size_t s, void *val)
{
    rax_slot v = {.val = val};

    rax_set_slot(n, s, v, 1);
}

/* Copies slot ss of src (content and leaf bit) into slot ds of dst. */
static void
rax_copy_slot(rax_node *dst, size_t ds, rax_node *src, size_t ss)
{
    rax_set_slot(dst, ds, rax_slots(src)[ss], rax_is_leaf(src, ss));
}

/*
 * Index of the first child byte >= c in branch n (n->size when none). The
 * binary search is branch-free (conditional moves): child bytes of appended
 * keys would otherwise mispredict at every level.
 */
static size_t
rax_lower_bound(rax_node *n, unsigned char c)
{
    const unsigned char *chars = rax_chars(n), *base = chars;
    size_t len = n->size;

    if (len == 0)
        return 0;
    while (len > 1) {
        size_t half = len / 2;

        base = base[half] < c ? base + half : base;
        len -= half;
    }
    return (size_t)(base - chars) + (*base < c);
}

/* ---- Node allocation (keeps t->nodes and t->mem current) ---- */

/*
 * Allocates a node with zeroed chars and leafmap; it stores val as its value
 * when iskey and val is not NULL. Slots are left for the caller to set.
 */
static rax_node *
rax_node_new(rax *t, size_t size, int compr, int iskey, void *val)
{
    int hasval = iskey && val != NULL;
    size_t bytes = rax_bytes_for(size, compr, hasval);
    rax_node *n = RAX_MALLOC(bytes);

    if (n == NULL)
        return NULL;
    memset(n, 0, rax_slots_off_for(size, compr));
    n->iskey = iskey != 0;
    n->isnull = iskey && !hasval;
    n->iscompr = compr != 0;
    n->size = (unsigned int)size;
    if (hasval)
        rax_valp(n)->val = val;
    t->mem += bytes;
    t->nodes++;
    return n;
}

/* Node holding the run s[0..m), m >= 1: compressed when m >= 2, else a one-child branch. */
static rax_node *
rax_node_new_run(rax *t, const unsigned char *s, size_t m, int iskey, void *val)
{
    rax_node *n = rax_node_new(t, m, m >= 2, iskey, val);

    if (n != NULL)
        memcpy(rax_chars(n), s, m);
    return n;
}

static void
rax_node_free(rax *t, rax_node *n)
{
    if (n == NULL)
        return;
    t->mem -= rax_node_bytes(n);
    t->nodes--;
    RAX_FREE(n);
}

/*
 * Gives back the tail of n after its header shrank it from old_bytes to its
 * nominal size. A failed realloc keeps the larger block, which is harmless;
 * t->mem always counts nominal sizes. Returns n's (possibly new) address.
 */
static rax_node *
rax_node_shrunk(rax *t, rax_slot *link, rax_node *n, size_t old_bytes)
{
    size_t bytes = rax_node_bytes(n);
    rax_node *m;

    assert(bytes <= old_bytes);
    t->mem -= old_bytes - bytes;
    if (bytes == old_bytes)
        return n;
    m = RAX_REALLOC(n, bytes);
    if (m == NULL)
        return n;
    link->child = m;
    return m;
}

/* Frees a chain built by rax_build_tail: nodes linked through slot 0 down to a leaf. */
static void
rax_free_chain(rax *t, rax_node *n)
{
    while (n != NULL) {
        rax_node *next = rax_is_leaf(n, 0) ? NULL : rax_slots(n)[0].child;

        rax_node_free(t, n);
        n = next;
    }
}

/*
 * Builds the nodes for the key tail s[0..n), n >= 1, ending in an inline leaf
 * holding leaf_val. The first node is a key with head_val when head_key. Tails
 * longer than RAX_NODE_MAX_SIZE become a chain. Returns the first node, or
 * NULL on ENOMEM with nothing left allocated.
 */
static rax_node *
rax_build_tail(rax *t, const unsigned char *s, size_t n, int head_key, void *head_val,
               void *leaf_val)
{
    rax_node *first = NULL, *prev = NULL;

    assert(n >= 1);
    while (n > 0) {
        size_t m = n < RAX_NODE_MAX_SIZE ? n : RAX_NODE_MAX_SIZE;
        rax_node *node = rax_node_new_run(t, s, m, first == NULL && head_key, head_val);

        if (node == NULL) {
            if (prev != NULL)
                rax_set_leaf(prev, 0, NULL); /* terminate the partial chain */
            rax_free_chain(t, first);
            return NULL;
        }
        if (prev == NULL)
            first = node;
        else
            rax_set_child(prev, 0, node);
        prev = node;
        s += m;
        n -= m;
    }
    rax_set_leaf(prev, 0, leaf_val);
    return first;
}

/* ---- Walking a key ---- */

/* Where a walk along a key stopped. */
typedef struct rax_walk {
    rax_slot *link; /* slot holding h: &t->head or a slot of h's parent */
    rax_node *h;    /* node where the walk stopped; the leaf's host when leaf */
    size_t i;       /* key bytes consumed */
    size_t j;       /* bytes of compressed h matched when the walk stopped inside it */
    size_t slot;    /* slot of h holding the inline leaf (leaf only) */
    int leaf;       /* 1: stopped on the inline leaf ending at key[0..i) */
} rax_walk;

/*
 * Follows key from the root as far as the tree goes. On return either leaf is
 * set, or the walk stopped at the start of h (j == 0) or inside compressed h.
 * O(k).
 */
static void
rax_walk_key(rax *t, const unsigned char *key, size_t len, rax_walk *w)
{
    rax_slot *link = &t->head;
    rax_node *h = link->child;
    size_t i = 0, j = 0, s = 0;
    int leaf = 0;

    for (;;) {
        j = 0;
        if (h->iscompr) {
            const unsigned char *chars = rax_chars(h);

            while (j < h->size && i < len && chars[j] == key[i]) {
                j++;
                i++;
            }
            if (j < h->size)
                break;
            s = 0;
        } else {
            if (i == len || h->size == 0)
                break;
            s = rax_lower_bound(h, key[i]);
            if (s == h->size || rax_chars(h)[s] != key[i])
                break;
            i++;
        }
        if (rax_is_leaf(h, s)) {
            leaf = 1;
            break;
        }
        link = &rax_slots(h)[s];
        h = link->child;
    }
    w->link = link;
    w->h = h;
    w->i = i;
    w->j = leaf ? 0 : j;
    w->slot = s;
    w->leaf = leaf;
}

/* ---- Lifecycle and queries ---- */

void
rax_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                  void (*free_fn)(void *))
{
    assert((malloc_fn == NULL) == (realloc_fn == NULL) && (malloc_fn == NULL) == (free_fn == NULL));
    rax__alloc.malloc_fn = malloc_fn != NULL ? malloc_fn : malloc;
    rax__alloc.realloc_fn = realloc_fn != NULL ? realloc_fn : realloc;
    rax__alloc.free_fn = free_fn != NULL ? free_fn : free;
}

rax *
rax_new(void)
{
    rax *t = RAX_MALLOC(sizeof(*t));

    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->head.child = rax_node_new(t, 0, 0, 0, NULL);
    if (t->head.child == NULL) {
        RAX_FREE(t);
        return NULL;
    }
    return t;
}

/* Calls free_val on n's own value and on the values of its inline leaves. */
static void
rax_free_values(rax_node *n, void (*free_val)(void *val))
{
    size_t s, ns = rax_nslots(n);

    if (free_val == NULL)
        return;
    if (rax_has_value(n) && rax_valp(n)->val != NULL)
        free_val(rax_valp(n)->val);
    for (s = 0; s < ns; s++)
        if (rax_is_leaf(n, s) && rax_slots(n)[s].val != NULL)
            free_val(rax_slots(n)[s].val);
}

/* Highest slot of n whose leaf bit is clear, or -1. */
static long
rax_last_child(rax_node *n)
{
    long s = (long)rax_nslots(n) - 1;

    while (s >= 0 && rax_is_leaf(n, (size_t)s)) {
        if ((s & 7) == 7 && rax_leafmap(n)[s >> 3] == 0xff)
            s -= 8; /* skip a whole byte of leaves */
        else
            s--;
    }
    return s;
}

/*
 * Post-order free without a stack, by pointer reversal: descending into the
 * highest child slot of a node, that slot is made to point at the node's
 * parent; when the child is done, the slot is found again as the highest one
 * whose leaf bit is clear, read for the way up, and marked as a leaf (done).
 * Children are taken from the last slot down, so the slot found is always the
 * one that was descended through.
 */
void
rax_free(rax *t, void (*free_val)(void *val))
{
    rax_node *n, *up = NULL;

    if (t == NULL)
        return;
    n = t->head.child;
    rax_free_values(n, free_val);
    for (;;) {
        long s = rax_last_child(n);

        if (s >= 0) {
            rax_node *c = rax_slots(n)[s].child;

            rax_slots(n)[s].child = up;
            up = n;
            n = c;
            rax_free_values(n, free_val);
            continue;
        }
        RAX_FREE(n);
        if (up == NULL)
            break;
        n = up;
        s = rax_last_child(n);
        assert(s >= 0);
        up = rax_slots(n)[s].child;
        rax_set_leaf(n, (size_t)s, NULL);
    }
    RAX_FREE(t);
}

int
rax_find(const rax *t, const unsigned char *key, size_t len, void **val)
{
    rax_walk w;

    assert(t != NULL && (key != NULL || len == 0));
    rax_walk_key((rax *)t, key, len, &w); /* the walk only reads */
    if (w.i != len)
        return 0;
    if (w.leaf) {
        if (val != NULL)
            *val = rax_slots(w.h)[w.slot].val;
        return 1;
    }
    if (w.j != 0 || !w.h->iskey)
        return 0;
    if (val != NULL)
        *val = rax_value(w.h);
    return 1;
}

uint64_t
rax_count(const rax *t)
{
    return t->count;
}

uint64_t
rax_nodes(const rax *t)
{
    return t->nodes;
}

size_t
rax_mem(const rax *t)
{
    return t->mem;
}

/* ---- Insertion ---- */

/*
 * Makes the node h (held by link) the end of a key with value val; h may
 * already be one. Grows h by a value field when needed, the only allocation.
 */
static int
rax_insert_at_node(rax *t, rax_slot *link, rax_node *h, void *val, void **old, int replace)
{
    size_t bytes = rax_node_bytes(h);
    int was_key = h->iskey;
    void *prev = was_key ? rax_value(h) : NULL;
    rax_node *m;

    if (was_key && (!replace || (val == NULL && !rax_has_value(h)))) {
        /* Nothing to change. */
    } else if (was_key && rax_has_value(h)) {
        if (val != NULL) {
            rax_valp(h)->val = val;
        } else {
            h->isnull = 1; /* NULL is not stored: the value field goes */
            rax_node_shrunk(t, link, h, bytes);
        }
    } else if (val == NULL) {
        assert(!was_key);
        h->iskey = 1;
        h->isnull = 1;
        t->count++;
        return 1;
    } else {
        /* The value field is appended: nothing before it moves. */
        m = RAX_REALLOC(h, bytes + RAX_PTR);
        if (m == NULL)
            return -ENOMEM; /* h is untouched */
        m->iskey = 1;
        m->isnull = 0;
        rax_valp(m)->val = val;
        t->mem += RAX_PTR;
        link->child = m;
        if (!was_key) {
            t->count++;
            return 1;
        }
    }
    if (old != NULL)
        *old = prev;
    return 0;
}

/*
 * The key ends inside compressed h after j bytes (0 < j < size): h becomes a
 * prefix node with h's own key, followed by a new key node with the rest.
 *
 *   ["abcd"] -> X    insert "ab"    ["ab"] -> [*"cd"] -> X
 */
static int
rax_insert_split_end(rax *t, rax_slot *link, rax_node *h, size_t j, void *val)
{
    unsigned char *chars = rax_chars(h);
    rax_node *p = rax_node_new_run(t, chars, j, h->iskey, h->iskey ? rax_value(h) : NULL);
    rax_node *s = rax_node_new_run(t, chars + j, h->size - j, 1, val);

    if (p == NULL || s == NULL) {
        rax_node_free(t, p);
        rax_node_free(t, s);
        return -ENOMEM;
    }
    rax_copy_slot(s, 0, h, 0);
    rax_set_child(p, 0, s);
    link->child = p;
    rax_node_free(t, h);
    t->count++;
    return 1;
}

/*
 * The key leaves compressed h at byte j (0 <= j < size), its next byte being
 * key[i]: h splits into an optional prefix (h's bytes before j, h's own key),
 * a two-way branch, and an optional suffix (h's bytes after j); the new key's
 * tail hangs off the branch. When j == 0 the branch takes h's key.
 *
 *   ["abcd"] -> X   insert "abxy"   ["ab"] -> [c x] -> ["d"] -> X
 *                                                \-> <"abxy"> ... (tail "y")
 */
static int
rax_insert_split_mismatch(rax *t, rax_slot *link, rax_node *h, size_t j, const unsigned char *key,
                          size_t i, size_t len, void *val)
{
    unsigned char *chars = rax_chars(h);
    void *hval = h->iskey ? rax_value(h) : NULL;
    size_t rest = h->size - j - 1, rem = len - i - 1;
    rax_node *p = NULL, *b, *s = NULL, *tail = NULL;
    size_t old_pos = chars[j] < key[i] ? 0 : 1;
    int failed;

    if (j > 0)
        p = rax_node_new_run(t, chars, j, h->iskey, hval);
    b = rax_node_new(t, 2, 0, j == 0 && h->iskey, j == 0 ? hval : NULL);
    if (rest > 0)
        s = rax_node_new_run(t, chars + j + 1, rest, 0, NULL);
    if (rem > 0)
        tail = rax_build_tail(t, key + i + 1, rem, 0, NULL, val);
    failed =
        (j > 0 && p == NULL) || b == NULL || (rest > 0 && s == NULL) || (rem > 0 && tail == NULL);
    if (failed) {
        rax_node_free(t, p);
        rax_node_free(t, b);
        rax_node_free(t, s);
        rax_free_chain(t, tail);
        return -ENOMEM;
    }
    rax_chars(b)[old_pos] = chars[j];
    rax_chars(b)[1 - old_pos] = key[i];
    if (s != NULL) {
        rax_copy_slot(s, 0, h, 0);
        rax_set_child(b, old_pos, s);
    } else {
        rax_copy_slot(b, old_pos, h, 0);
    }
    if (tail != NULL)
        rax_set_child(b, 1 - old_pos, tail);
    else
        rax_set_leaf(b, 1 - old_pos, val);
    if (p != NULL)
        rax_set_child(p, 0, b);
    link->child = p != NULL ? p : b;
    rax_node_free(t, h);
    t->count++;
    return 1;
}

/*
 * Inserts a bit at position pos of the bitmap b (nbytes bytes, the last one
 * free for the bit shifted out of the old top byte).
 */
static void
rax_bits_insert(unsigned char *b, size_t nbytes, size_t pos, int bit)
{
    size_t pb = pos >> 3, k;
    unsigned low = (1u << (pos & 7)) - 1;

    for (k = nbytes - 1; k > pb; k--)
        b[k] = (unsigned char)((b[k] << 1) | (b[k - 1] >> 7));
    b[pb] = (unsigned char)((b[pb] & low) | ((b[pb] & ~low) << 1) | ((unsigned)bit << (pos & 7)));
}

/*
 * Grows branch h (size >= 1) in place by a child for byte c at sorted position
 * pos. The realloc is the last step that can fail, so a failure leaves h as it
 * was. Every part of the layout moves towards the end, so the moves run back
 * to front, with the leaf bits and the value saved first.
 */
static rax_node *
rax_branch_add(rax *t, rax_slot *link, rax_node *h, size_t pos, unsigned char c, rax_slot v,
               int leaf)
{
    size_t size = h->size, bytes = rax_node_bytes(h), nbytes, old_lm = (size + 7) / 8;
    unsigned char bits[33] = {0}; /* leafmap of the result: at most 256 children */
    void *val = rax_has_value(h) ? rax_valp(h)->val : NULL;
    rax_slot *from, *to;
    rax_node *m;

    assert(!h->iscompr && size >= 1 && size < 256 && pos <= size);
    nbytes = rax_bytes_for(size + 1, 0, rax_has_value(h));
    m = RAX_REALLOC(h, nbytes);
    if (m == NULL)
        return NULL;
    memcpy(bits, rax_leafmap(m), old_lm);
    rax_bits_insert(bits, old_lm + 1, pos, leaf);
    from = rax_slots(m);
    m->size = (unsigned int)(size + 1);
    to = rax_slots(m);
    memmove(to + pos + 1, from + pos, (size - pos) * sizeof(*to));
    memmove(to, from, pos * sizeof(*to));
    to[pos] = v;
    memmove(rax_chars(m) + pos + 1, rax_chars(m) + pos, size - pos);
    rax_chars(m)[pos] = c;
    memcpy(rax_leafmap(m), bits, (size + 1 + 7) / 8);
    if (rax_has_value(m))
        rax_valp(m)->val = val;
    t->mem += nbytes - bytes;
    link->child = m;
    return m;
}

/*
 * Branch h has no child for key[i]: h gains one at its sorted position,
 * holding the inline leaf or the tail of the key. An empty root is replaced by
 * the tail itself, compressed, so the root keeps its own key.
 */
static int
rax_insert_child(rax *t, rax_slot *link, rax_node *h, const unsigned char *key, size_t i,
                 size_t len, void *val)
{
    size_t rem = len - i - 1;
    rax_node *tail = NULL, *m;
    rax_slot v = {.val = val};

    if (h->size == 0) {
        m = rax_build_tail(t, key + i, len - i, h->iskey, h->iskey ? rax_value(h) : NULL, val);
        if (m == NULL)
            return -ENOMEM;
        link->child = m;
        rax_node_free(t, h);
        t->count++;
        return 1;
    }
    if (rem > 0) {
        tail = rax_build_tail(t, key + i + 1, rem, 0, NULL, val);
        if (tail == NULL)
            return -ENOMEM;
        v.child = tail;
    }
    if (rax_branch_add(t, link, h, rax_lower_bound(h, key[i]), key[i], v, tail == NULL) == NULL) {
        rax_free_chain(t, tail);
        return -ENOMEM;
    }
    t->count++;
    return 1;
}

/*
 * The key runs on past the inline leaf in slot s of host: the leaf becomes a
 * real key node (keeping its value) that starts the rest of the key.
 */
static int
rax_insert_past_leaf(rax *t, rax_node *host, size_t s, const unsigned char *key, size_t i,
                     size_t len, void *val)
{
    rax_node *n = rax_build_tail(t, key + i, len - i, 1, rax_slots(host)[s].val, val);

    if (n == NULL)
        return -ENOMEM;
    rax_set_child(host, s, n);
    t->count++;
    return 1;
}

static int
rax_insert_generic(rax *t, const unsigned char *key, size_t len, void *val, void **old, int replace)
{
    rax_walk w;

    assert(t != NULL && (key != NULL || len == 0));
    if (len > RAX_NODE_MAX_SIZE)
        t->lax = 1; /* chains of full runs: merges may stop at the size limit */
    rax_walk_key(t, key, len, &w);
    if (w.leaf) {
        rax_slot *slot = &rax_slots(w.h)[w.slot];

        if (w.i < len)
            return rax_insert_past_leaf(t, w.h, w.slot, key, w.i, len, val);
        if (old != NULL)
            *old = slot->val;
        if (replace)
            slot->val = val;
        return 0;
    }
    if (w.j == 0 && w.i == len)
        return rax_insert_at_node(t, w.link, w.h, val, old, replace);
    if (!w.h->iscompr)
        return rax_insert_child(t, w.link, w.h, key, w.i, len, val);
    if (w.i == len)
        return rax_insert_split_end(t, w.link, w.h, w.j, val);
    return rax_insert_split_mismatch(t, w.link, w.h, w.j, key, w.i, len, val);
}

int
rax_insert(rax *t, const unsigned char *key, size_t len, void *val, void **old)
{
    return rax_insert_generic(t, key, len, val, old, 1);
}

int
rax_try_insert(rax *t, const unsigned char *key, size_t len, void *val, void **old)
{
    return rax_insert_generic(t, key, len, val, old, 0);
}

/* ---- Removal ---- */

/* A node on the path of a key, found again from the root (nodes have no parent pointer). */
typedef struct rax_loc {
    rax_slot *link;   /* slot holding node: &t->head or a slot of parent */
    rax_node *node;   /* the node starting at the requested key offset */
    rax_node *parent; /* its parent, NULL for the root */
    rax_slot *plink;  /* slot holding parent (unset for the root) */
    size_t pslot;     /* slot of parent leading to node */
    size_t poff;      /* key offset where parent starts */
} rax_loc;

/*
 * Finds the node that starts key[off..] on the path of key, which must exist
 * (off is where a node of the walk started). O(k).
 */
static void
rax_locate(rax *t, const unsigned char *key, size_t off, rax_loc *loc)
{
    size_t at = 0;

    loc->link = &t->head;
    loc->node = t->head.child;
    loc->parent = NULL;
    loc->plink = NULL;
    loc->pslot = 0;
    loc->poff = 0;
    while (at < off) {
        rax_node *n = loc->node;
        size_t s = n->iscompr ? 0 : rax_lower_bound(n, key[at]);

        assert(s < rax_nslots(n) && !rax_is_leaf(n, s));
        assert(n->iscompr || rax_chars(n)[s] == key[at]);
        loc->plink = loc->link;
        loc->parent = n;
        loc->pslot = s;
        loc->poff = at;
        at += n->iscompr ? n->size : 1;
        loc->link = &rax_slots(n)[s];
        loc->node = loc->link->child;
    }
    assert(at == off);
}

/* Removes bit pos from the bitmap b of nbytes bytes; the bits above it move down. */
static void
rax_bits_delete(unsigned char *b, size_t nbytes, size_t pos)
{
    size_t pb = pos >> 3, k;
    unsigned low = (1u << (pos & 7)) - 1;

    b[pb] = (unsigned char)((b[pb] & low) | ((unsigned)(b[pb] >> 1) & ~low));
    for (k = pb; k + 1 < nbytes; k++) {
        b[k] = (unsigned char)(b[k] | (b[k + 1] & 1u) << 7);
        b[k + 1] = (unsigned char)(b[k + 1] >> 1);
    }
}

/*
 * Removes slot s of branch n (size >= 2) in place: every part of the layout
 * only moves towards the start, so the moves run front to back, with the
 * leaf bits and the value saved first. Returns n's (possibly new) address.
 */
static rax_node *
rax_branch_del(rax *t, rax_slot *link, rax_node *n, size_t s)
{
    size_t size = n->size, bytes = rax_node_bytes(n);
    unsigned char bits[32]; /* leafmap: at most 256 children */
    void *val = rax_has_value(n) ? rax_valp(n)->val : NULL;
    rax_slot *from = rax_slots(n), *to;

    assert(!n->iscompr && size >= 2 && s < size && size <= 256);
    memcpy(bits, rax_leafmap(n), (size + 7) / 8);
    rax_bits_delete(bits, (size + 7) / 8, s);
    memmove(rax_chars(n) + s, rax_chars(n) + s + 1, size - s - 1);
    n->size = (unsigned int)(size - 1);
    to = rax_slots(n);
    memmove(to, from, s * sizeof(*to));
    memmove(to + s, from + s + 1, (size - s - 1) * sizeof(*to));
    memcpy(rax_leafmap(n), bits, (size - 1 + 7) / 8);
    if (rax_has_value(n))
        rax_valp(n)->val = val;
    return rax_node_shrunk(t, link, n, bytes);
}

/* The root lost its only child: it becomes an empty branch, keeping its own key. */
static void
rax_root_empty(rax *t)
{
    rax_node *r = t->head.child;
    size_t bytes = rax_node_bytes(r);
    void *val = rax_has_value(r) ? rax_valp(r)->val : NULL;

    r->size = 0;
    r->iscompr = 0;
    if (rax_has_value(r))
        rax_valp(r)->val = val;
    rax_node_shrunk(t, &t->head, r, bytes);
}

/*
 * Merges the chain starting at the single-child node held by link with the
 * non-key single-child nodes below it into one compressed node. When that
 * cannot allocate, the chain stays as it is (valid, just not minimal).
 */
static void
rax_merge_chain(rax *t, rax_slot *link)
{
    rax_node *first = link->child, *last = first, *m, *n;
    size_t total = first->size, k = 0, at;

    assert(rax_nslots(first) == 1);
    while (!rax_is_leaf(last, 0)) {
        rax_node *c = rax_slots(last)[0].child;

        if (c->iskey || rax_nslots(c) != 1 || c->size > RAX_NODE_MAX_SIZE - total)
            break;
        total += c->size;
        last = c;
        k++;
    }
    if (k == 0)
        return;
    m = rax_node_new(t, total, 1, first->iskey, first->iskey ? rax_value(first) : NULL);
    if (m == NULL) {
        t->lax = 1;
        return;
    }
    rax_copy_slot(m, 0, last, 0);
    for (n = first, at = 0; n != NULL;) {
        rax_node *next = n == last ? NULL : rax_slots(n)[0].child;

        memcpy(rax_chars(m) + at, rax_chars(n), n->size);
        at += n->size;
        rax_node_free(t, n);
        n = next;
    }
    link->child = m;
}

/*
 * Node x starting at key[off..] now has a single child, or just stopped being
 * a key: merge it with its single-child parent (when x is not a key) and with
 * what follows it. Those are the only pairs the change can make mergeable.
 */
static void
rax_fix_merge(rax *t, const unsigned char *key, size_t off)
{
    rax_loc loc;

    rax_locate(t, key, off, &loc);
    if (rax_nslots(loc.node) != 1)
        return;
    if (!loc.node->iskey && loc.parent != NULL && rax_nslots(loc.parent) == 1)
        rax_merge_chain(t, loc.plink);
    else
        rax_merge_chain(t, loc.link);
}

/*
 * The node starting at key[off..] loses its only child (already unlinked or
 * about to be discarded). A childless root becomes empty; a childless key node
 * turns into an inline leaf of its parent; a childless non-key node goes, and
 * its parent loses a child in turn.
 */
static void
rax_prune(rax *t, const unsigned char *key, size_t off)
{
    for (;;) {
        rax_loc loc;
        rax_node *n, *parent;

        rax_locate(t, key, off, &loc);
        n = loc.node;
        parent = loc.parent;
        if (parent == NULL) {
            rax_root_empty(t);
            return;
        }
        if (n->iskey) {
            rax_set_leaf(parent, loc.pslot, rax_value(n));
            rax_node_free(t, n);
            return;
        }
        rax_node_free(t, n);
        if (!parent->iscompr && parent->size >= 2) {
            parent = rax_branch_del(t, loc.plink, parent, loc.pslot);
            if (parent->size == 1)
                rax_fix_merge(t, key, loc.poff);
            return;
        }
        off = loc.poff;
    }
}

int
rax_remove(rax *t, const unsigned char *key, size_t len, void **old)
{
    rax_walk w;
    void *val;

    assert(t != NULL && (key != NULL || len == 0));
    rax_walk_key(t, key, len, &w);
    if (w.i != len)
        return 0;
    if (w.leaf) {
        rax_node *host = w.h;
        size_t off = len - (host->iscompr ? host->size : 1);

        val = rax_slots(host)[w.slot].val;
        if (!host->iscompr && host->size >= 2) {
            host = rax_branch_del(t, w.link, host, w.slot);
            if (host->size == 1)
                rax_fix_merge(t, key, off);
        } else {
            rax_prune(t, key, off);
        }
    } else {
        rax_node *h = w.h;
        size_t bytes = rax_node_bytes(h);

        if (w.j != 0 || !h->iskey)
            return 0;
        val = rax_value(h);
        h->iskey = 0;
        h->isnull = 0;
        h = rax_node_shrunk(t, w.link, h, bytes);
        if (rax_nslots(h) == 1)
            rax_fix_merge(t, key, len);
    }
    t->count--;
    if (old != NULL)
        *old = val;
    return 1;
}

/* ---- Iterator ---- */

/*
 * The iterator's position is the end of its path: the node or inline leaf
 * reached through the slot of the top frame (the root with no frames). The key
 * buffer holds the bytes of every frame: a whole run for a compressed node,
 * one byte for a branch.
 */

/* Makes room for one more frame and `add` more key bytes. */
static int
rax_iter_reserve(rax_iter *it, size_t add)
{
    if (it->depth == it->stack_cap) {
        size_t cap = it->stack_cap * 2;
        rax_iter_frame *f;

        if (it->stack == it->stack_static) {
            f = RAX_MALLOC(cap * sizeof(*f));
            if (f != NULL)
                memcpy(f, it->stack, it->depth * sizeof(*f));
        } else {
            f = RAX_REALLOC(it->stack, cap * sizeof(*f));
        }
        if (f == NULL)
            return -ENOMEM;
        it->stack = f;
        it->stack_cap = cap;
    }
    if (add > it->key_cap - it->key_len) {
        size_t cap = it->key_cap * 2 > it->key_len + add ? it->key_cap * 2 : it->key_len + add;
        unsigned char *k;

        if (it->key == it->key_static) {
            k = RAX_MALLOC(cap);
            if (k != NULL)
                memcpy(k, it->key, it->key_len);
        } else {
            k = RAX_REALLOC(it->key, cap);
        }
        if (k == NULL)
            return -ENOMEM;
        it->key = k;
        it->key_cap = cap;
    }
    return 0;
}

/* Moves down through slot s of n, which must be the current position. */
static int
rax_iter_push(rax_iter *it, rax_node *n, size_t s)
{
    size_t add = n->iscompr ? n->size : 1;

    if (rax_iter_reserve(it, add) < 0)
        return -ENOMEM;
    it->stack[it->depth].node = n;
    it->stack[it->depth].slot = (uint32_t)s;
    it->depth++;
    memcpy(it->key + it->key_len, n->iscompr ? rax_chars(n) : rax_chars(n) + s, add);
    it->key_len += add;
    return 0;
}

/* Moves up one frame; returns the frame left. */
static rax_iter_frame
rax_iter_pop(rax_iter *it)
{
    rax_iter_frame f = it->stack[--it->depth];

    it->key_len -= f.node->iscompr ? f.node->size : 1;
    return f;
}

/* The node at the position, or NULL with *val set when it is an inline leaf. */
static rax_node *
rax_iter_at(rax_iter *it, void **val)
{
    rax_iter_frame *f;

    if (it->depth == 0)
        return it->tree->head.child;
    f = &it->stack[it->depth - 1];
    if (rax_is_leaf(f->node, f->slot)) {
        *val = rax_slots(f->node)[f->slot].val;
        return NULL;
    }
    return rax_slots(f->node)[f->slot].child;
}

/* If the position is a key, loads its value into data and returns 1. */
static int
rax_iter_load(rax_iter *it)
{
    void *val = NULL;
    rax_node *n = rax_iter_at(it, &val);

    if (n != NULL && !n->iskey)
        return 0;
    it->data = n != NULL ? rax_value(n) : val;
    return 1;
}

/* Descends to the smallest key at or below the position: 1, 0 (none), -ENOMEM. */
static int
rax_iter_leftmost(rax_iter *it)
{
    for (;;) {
        void *val;
        rax_node *n;

        if (rax_iter_load(it))
            return 1;
        n = rax_iter_at(it, &val);
        if (n->size == 0)
            return 0; /* empty root */
        if (rax_iter_push(it, n, 0) < 0)
            return -ENOMEM;
    }
}

/* Descends to the largest key at or below the position: 1, 0 (none), -ENOMEM. */
static int
rax_iter_rightmost(rax_iter *it)
{
    for (;;) {
        void *val;
        rax_node *n = rax_iter_at(it, &val);

        if (n == NULL || n->size == 0)
            return rax_iter_load(it);
        if (rax_iter_push(it, n, rax_nslots(n) - 1) < 0)
            return -ENOMEM;
    }
}

/* Smallest key after the whole subtree of the position. */
static int
rax_iter_up_next(rax_iter *it)
{
    while (it->depth > 0) {
        rax_iter_frame f = rax_iter_pop(it);

        if (!f.node->iscompr && f.slot + 1u < f.node->size) {
            if (rax_iter_push(it, f.node, f.slot + 1u) < 0)
                return -ENOMEM;
            return rax_iter_leftmost(it);
        }
    }
    return 0;
}

/* Largest key before the whole subtree of the position (the position's own key included). */
static int
rax_iter_up_prev(rax_iter *it)
{
    while (it->depth > 0) {
        rax_iter_frame f = rax_iter_pop(it);

        if (!f.node->iscompr && f.slot > 0) {
            if (rax_iter_push(it, f.node, f.slot - 1u) < 0)
                return -ENOMEM;
            return rax_iter_rightmost(it);
        }
        if (rax_iter_load(it))
            return 1;
    }
    return 0;
}

/* Smallest key inside the position's subtree other than the position itself, else after it. */
static int
rax_iter_step_next(rax_iter *it)
{
    void *val;
    rax_node *n = rax_iter_at(it, &val);

    if (n == NULL || n->size == 0)
        return rax_iter_up_next(it);
    if (rax_iter_push(it, n, 0) < 0)
        return -ENOMEM;
    return rax_iter_leftmost(it);
}

void
rax_iter_start(rax_iter *it, rax *t)
{
    it->key = it->key_static;
    it->key_len = 0;
    it->data = NULL;
    it->tree = t;
    it->flags = RAX_ITER_EOF;
    it->key_cap = RAX_ITER_STATIC_LEN;
    it->stack = it->stack_static;
    it->depth = 0;
    it->stack_cap = RAX_ITER_STACK_STATIC;
}

void
rax_iter_stop(rax_iter *it)
{
    if (it->key != it->key_static)
        RAX_FREE(it->key);
    if (it->stack != it->stack_static)
        RAX_FREE(it->stack);
    rax_iter_start(it, it->tree);
}

int
rax_iter_error(const rax_iter *it)
{
    return it->flags & RAX_ITER_OOM ? -ENOMEM : 0;
}

/* How a seek walk along the key stopped. */
enum rax_seek_stop {
    RAX_SEEK_BEFORE, /* key ends inside h, or leaves compressed h on a smaller byte */
    RAX_SEEK_AFTER,  /* key leaves compressed h on a larger byte */
    RAX_SEEK_BRANCH, /* branch h has no child for the next key byte */
    RAX_SEEK_LEAF,   /* an inline leaf was reached with key bytes left */
    RAX_SEEK_EXACT   /* the key itself is at the position */
};

/*
 * Walks key from the root, pushing every level fully matched. Returns how it
 * stopped; *hp is the node at the position and *idx the lower bound of the
 * next key byte among a branch's children. -ENOMEM on a failed push.
 */
static int
rax_iter_seek_walk(rax_iter *it, const unsigned char *key, size_t len, rax_node **hp, size_t *idx)
{
    rax_node *h = it->tree->head.child;
    size_t i = 0;

    for (;;) {
        void *val;
        size_t s = 0;

        *hp = h;
        if (h->iscompr) {
            const unsigned char *chars = rax_chars(h);
            size_t j = 0;

            while (j < h->size && i < len && chars[j] == key[i]) {
                j++;
                i++;
            }
            if (j < h->size) {
                if (i == len && j == 0 && h->iskey)
                    return RAX_SEEK_EXACT;
                return i == len || key[i] < chars[j] ? RAX_SEEK_BEFORE : RAX_SEEK_AFTER;
            }
        } else {
            if (i == len)
                return h->iskey ? RAX_SEEK_EXACT : RAX_SEEK_BEFORE;
            s = rax_lower_bound(h, key[i]);
            if (s == h->size || rax_chars(h)[s] != key[i]) {
                *idx = s;
                return RAX_SEEK_BRANCH;
            }
            i++;
        }
        if (rax_iter_push(it, h, s) < 0)
            return -ENOMEM;
        h = rax_iter_at(it, &val);
        if (h == NULL)
            return i == len ? RAX_SEEK_EXACT : RAX_SEEK_LEAF;
    }
}

/*
 * Positions it on the element op selects for key. gt/lt: the op starts with
 * '>' or '<'; eq: it accepts the key itself. Returns 1, 0 (none), -ENOMEM.
 */
static int
rax_iter_seek_key(rax_iter *it, int gt, int lt, int eq, const unsigned char *key, size_t len)
{
    rax_node *h = NULL;
    size_t idx = 0;
    int stop = rax_iter_seek_walk(it, key, len, &h, &idx);

    if (stop < 0)
        return stop;
    if (stop == RAX_SEEK_EXACT) {
        if (eq)
            return rax_iter_load(it);
        return gt ? rax_iter_step_next(it) : rax_iter_up_prev(it);
    }
    if (!gt && !lt)
        return 0; /* "==" and the key is absent */
    switch (stop) {
    case RAX_SEEK_BEFORE:
        /* Every key below h's start is greater; h's own key (if any) is smaller. */
        if (gt)
            return rax_iter_step_next(it);
        return h->iskey ? rax_iter_load(it) : rax_iter_up_prev(it);
    case RAX_SEEK_AFTER:
        /* h's whole subtree is smaller: skip past it, or take its largest key. */
        return gt ? rax_iter_up_next(it) : rax_iter_rightmost(it);
    case RAX_SEEK_BRANCH:
        /* Children from idx on are greater, those before it smaller, h's key smaller. */
        if (gt) {
            if (idx == h->size)
                return rax_iter_up_next(it);
            if (rax_iter_push(it, h, idx) < 0)
                return -ENOMEM;
            return rax_iter_leftmost(it);
        }
        if (idx > 0) {
            if (rax_iter_push(it, h, idx - 1) < 0)
                return -ENOMEM;
            return rax_iter_rightmost(it);
        }
        return h->iskey ? rax_iter_load(it) : rax_iter_up_prev(it);
    default: /* RAX_SEEK_LEAF: the leaf's key is a prefix of key */
        return gt ? rax_iter_up_next(it) : rax_iter_load(it);
    }
}

int
rax_seek(rax_iter *it, const char *op, const unsigned char *key, size_t len)
{
    int gt = 0, lt = 0, eq = 0, r;

    assert(it != NULL && op != NULL && (key != NULL || len == 0 || op[0] == '^' || op[0] == '$'));
    it->depth = 0;
    it->key_len = 0;
    it->flags = RAX_ITER_EOF;
    if ((op[0] == '^' || op[0] == '$') && op[1] == '\0') {
        r = op[0] == '^' ? rax_iter_leftmost(it) : rax_iter_rightmost(it);
    } else if (op[0] == '=' && op[1] == '=' && op[2] == '\0') {
        eq = 1;
        r = rax_iter_seek_key(it, gt, lt, eq, key, len);
    } else if ((op[0] == '>' || op[0] == '<') &&
               (op[1] == '\0' || (op[1] == '=' && op[2] == '\0'))) {
        gt = op[0] == '>';
        lt = op[0] == '<';
        eq = op[1] == '=';
        r = rax_iter_seek_key(it, gt, lt, eq, key, len);
    } else {
        return -EINVAL;
    }
    if (r < 0) {
        it->flags |= RAX_ITER_OOM;
        return r;
    }
    if (r > 0)
        it->flags = RAX_ITER_JUST_SEEKED;
    return 0;
}

/* One step of rax_next/rax_prev after the flags were handled. */
static int
rax_iter_finish_step(rax_iter *it, int r)
{
    if (r > 0)
        return 1;
    it->flags = RAX_ITER_EOF | (r < 0 ? RAX_ITER_OOM : 0u);
    return 0;
}

int
rax_next(rax_iter *it)
{
    if (it->flags & RAX_ITER_EOF)
        return 0;
    if (it->flags & RAX_ITER_JUST_SEEKED) {
        it->flags &= ~RAX_ITER_JUST_SEEKED;
        return 1;
    }
    return rax_iter_finish_step(it, rax_iter_step_next(it));
}

int
rax_prev(rax_iter *it)
{
    if (it->flags & RAX_ITER_EOF)
        return 0;
    if (it->flags & RAX_ITER_JUST_SEEKED) {
        it->flags &= ~RAX_ITER_JUST_SEEKED;
        return 1;
    }
    return rax_iter_finish_step(it, rax_iter_up_prev(it));
}

/* ---- Checker ---- */

/* Totals gathered by rax_check_node. */
typedef struct rax_check_sum {
    uint64_t keys;  /* keys found, inline leaves included */
    uint64_t nodes; /* nodes found */
    size_t mem;     /* nominal bytes of the nodes found */
} rax_check_sum;

static int
rax_check_node(const rax *t, rax_node *n, int root, rax_check_sum *sum)
{
    size_t ns = rax_nslots(n), s;
    unsigned char *lm = rax_leafmap(n);

    sum->nodes++;
    sum->mem += rax_node_bytes(n);
    if (n->isnull && !n->iskey)
        return -EINVAL;
    if (rax_has_value(n) && rax_valp(n)->val == NULL)
        return -EINVAL; /* NULL values are never stored */
    sum->keys += n->iskey;
    if (n->iscompr && (n->size < 2 || n->size > RAX_NODE_MAX_SIZE))
        return -EINVAL;
    if (!n->iscompr && (n->size > 256 || (n->size == 0 && !root)))
        return -EINVAL; /* a childless non-root node must be an inline leaf */
    for (s = 1; !n->iscompr && s < n->size; s++)
        if (rax_chars(n)[s - 1] >= rax_chars(n)[s])
            return -EINVAL;
    if (ns % 8 != 0 && (lm[ns / 8] >> (ns % 8)) != 0)
        return -EINVAL; /* unused leafmap bits stay clear */
    for (s = 0; s < ns; s++) {
        rax_node *c;
        int r;

        if (rax_is_leaf(n, s)) {
            sum->keys++;
            continue;
        }
        c = rax_slots(n)[s].child;
        if (c == NULL)
            return -EINVAL;
        if (!t->lax && ns == 1 && !c->iskey && rax_nslots(c) == 1 &&
            (size_t)n->size + c->size <= RAX_NODE_MAX_SIZE)
            return -EINVAL; /* n and c should have been merged */
        r = rax_check_node(t, c, 0, sum);
        if (r < 0)
            return r;
    }
    return 0;
}

int
rax_check(const rax *t)
{
    rax_check_sum sum = {0, 0, 0};

    if (t == NULL || t->head.child == NULL)
        return -EINVAL;
    if (rax_check_node(t, t->head.child, 1, &sum) < 0)
        return -EINVAL;
    if (sum.keys != t->count || sum.nodes != t->nodes || sum.mem != t->mem)
        return -EINVAL;
    return 0;
}
