/*
 * stream.c - the stream log core: allocation hooks, the compact entry codec,
 * lifecycle, queries, append, delete and the whole-structure checker.
 *
 * Appends touch only the tail block: the entry is measured, the block grows
 * by half (or a new block starts and the old tail is shrunk to fit), then
 * the entry is written in place. Deletion flips a flag byte; a block whose
 * last live entry goes is unlinked from the chain and the tree. Every
 * -ENOMEM path runs before the first visible change. Hot paths: the codec
 * (stream__elem_*, stream__entry_*) and stream_append. Not here: range
 * iteration (stream_iter.c), trimming (stream_trim.c), ID parsing
 * (stream_id.c).
 */
#include "streams/stream.h"

#include "streams/stream_int.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Master lists up to this many fields are searched in full for references;
 * longer ones only at the same position, so an append stays O(entry). */
#define STREAM_REF_SCAN_MAX 32
/* Smallest growth step of a block's data buffer. */
#define STREAM_GROW_MIN 32

/* ---- Allocation hooks ---- */

static void *(*stream_malloc_fn)(size_t) = malloc;           /* STREAM_MALLOC target */
static void *(*stream_realloc_fn)(void *, size_t) = realloc; /* STREAM_REALLOC target */
static void (*stream_free_fn)(void *) = free;                /* STREAM_FREE target */

void *
stream__malloc(size_t n)
{
    return stream_malloc_fn(n);
}

void *
stream__realloc(void *p, size_t n)
{
    return stream_realloc_fn(p, n);
}

void
stream__free(void *p)
{
    stream_free_fn(p);
}

void
stream_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                     void (*free_fn)(void *))
{
    stream_malloc_fn = malloc_fn != NULL ? malloc_fn : malloc;
    stream_realloc_fn = realloc_fn != NULL ? realloc_fn : realloc;
    stream_free_fn = free_fn != NULL ? free_fn : free;
}

/* ---- Codec: varints ----
 *
 * LEB128: seven bits per byte, low bits first, high bit set on every byte
 * but the last. Deltas and sequence numbers are small, so one byte is the
 * usual case; the decoder is inline in stream_int.h. */

size_t
stream__uvarint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80u) {
        v >>= 7;
        n++;
    }
    return n;
}

unsigned char *
stream__uvarint_put(unsigned char *p, uint64_t v)
{
    while (v >= 0x80u) {
        *p++ = (unsigned char)(v | 0x80u);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

/* ---- Codec: elements ----
 *
 * A field or value is stored as a number only when formatting the number
 * gives back the very same bytes; the classification below decides that,
 * and the encoder and the size function both call it so that measuring an
 * entry and writing it can never disagree. */

enum { STREAM_K_STR, STREAM_K_INT, STREAM_K_DEC };

/* A string classified for encoding. */
typedef struct stream_num {
    int kind;      /* STREAM_K_* */
    int neg;       /* decimal: leading '-' */
    unsigned frac; /* decimal: digits after '.', 1..16 */
    int64_t i;     /* integer value */
    uint64_t mant; /* decimal: all digits as one integer */
} stream_num;

/* Decimal "[-]I.F" as documented in stream_int.h: 1 and n filled, or 0. */
static int
stream_parse_dec(const char *s, size_t len, stream_num *n)
{
    size_t i = 0, idigits = 0, fdigits = 0;
    uint64_t m = 0;

    if (len < 3 || len > 20)
        return 0;
    n->neg = s[0] == '-';
    i = (size_t)n->neg;
    if (i < len && s[i] == '0') {
        i++;
        idigits = 1;
    } else {
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, idigits++)
            m = m * 10 + (uint64_t)(s[i] - '0');
    }
    if (idigits == 0 || i >= len || s[i] != '.')
        return 0;
    for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, fdigits++)
        m = m * 10 + (uint64_t)(s[i] - '0');
    /* At most 18 digits, so m cannot overflow (10^18 < 2^63). */
    if (i != len || fdigits == 0 || fdigits > 16 || idigits + fdigits > 18)
        return 0;
    n->kind = STREAM_K_DEC;
    n->frac = (unsigned)fdigits;
    n->mant = m;
    return 1;
}

/* Classifies ptr[0..len) as a canonical integer, a canonical decimal or a
 * plain string. Nothing longer than 20 bytes can be a number we store. */
static void
stream_classify(const void *ptr, size_t len, stream_num *n)
{
    n->kind = STREAM_K_STR;
    if (len == 0 || len > 20)
        return;
    if (stream__parse_ll(ptr, len, &n->i)) {
        n->kind = STREAM_K_INT;
        return;
    }
    (void)stream_parse_dec(ptr, len, n);
}

/* Bytes of the shortest two's complement form of v (1..8). Values 0..127
 * never get here: they are a single header byte of their own. */
static size_t
stream_int_bytes(int64_t v)
{
    size_t n = 1;

    while (n < 8) {
        int64_t lo = -((int64_t)1 << (8 * n - 1));
        int64_t hi = ((int64_t)1 << (8 * n - 1)) - 1;

        if (v >= lo && v <= hi)
            break;
        n++;
    }
    return n;
}

/* Must match stream__elem_put byte for byte: appends measure first. */
size_t
stream__elem_size(const void *ptr, size_t len)
{
    stream_num n;

    stream_classify(ptr, len, &n);
    if (n.kind == STREAM_K_INT)
        return n.i >= 0 && n.i <= 0x7f ? 1 : 1 + stream_int_bytes(n.i);
    if (n.kind == STREAM_K_DEC)
        return 1 + stream__uvarint_len(n.mant);
    if (len < 64)
        return 1 + len;
    return 1 + stream__uvarint_len(len) + len;
}

unsigned char *
stream__elem_put(unsigned char *dst, const void *ptr, size_t len)
{
    stream_num n;

    stream_classify(ptr, len, &n);
    if (n.kind == STREAM_K_INT) {
        uint64_t u = (uint64_t)n.i;
        size_t k, nb;

        if (n.i >= 0 && n.i <= 0x7f) {
            *dst++ = (unsigned char)n.i;
            return dst;
        }
        /* Little-endian so the decoder can shift bytes in without a table. */
        nb = stream_int_bytes(n.i);
        *dst++ = (unsigned char)(STREAM__E_INT | (nb - 1));
        for (k = 0; k < nb; k++)
            *dst++ = (unsigned char)(u >> (8 * k));
        return dst;
    }
    if (n.kind == STREAM_K_DEC) {
        *dst++ = (unsigned char)((n.neg ? STREAM__E_DECN : STREAM__E_DECP) | (n.frac - 1));
        return stream__uvarint_put(dst, n.mant);
    }
    if (len < 64) {
        *dst++ = (unsigned char)(STREAM__E_STR6 | len);
    } else {
        *dst++ = (unsigned char)STREAM__E_STR;
        dst = stream__uvarint_put(dst, len);
    }
    if (len > 0)
        memcpy(dst, ptr, len);
    return dst + len;
}

/* Header ranges are tested in ascending order (stream_int.h); the
 * iterator skips every element of every entry it passes over. */
const unsigned char *
stream__elem_skip(const unsigned char *p)
{
    unsigned h = *p++;
    uint64_t v;

    if (h < STREAM__E_STR6)
        return p;
    if (h < STREAM__E_INT)
        return p + (h & 0x3fu);
    if (h < STREAM__E_REF3)
        return p + (h & 7u) + 1;
    if (h < STREAM__E_DECP)
        return p;
    if (h < STREAM__E_STR)
        return stream__uvarint_get(p, &v);
    p = stream__uvarint_get(p, &v);
    return h == STREAM__E_STR ? p + v : p;
}

/* Writes v in decimal at dst (no NUL); returns the length. Used for every
 * compact number a reader gets back, so no snprintf. */
static size_t
stream_fmt_u64(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

/* Formats a decimal: mantissa digits padded to frac + 1, '.' before the
 * last frac of them. The padding restores the zeros of "0.05" (mantissa 5,
 * frac 2 -> "005" -> "0.05"); the sign is separate so "-0.0" survives. */
static size_t
stream_fmt_dec(char *buf, int neg, uint64_t mant, unsigned frac)
{
    char digits[24];
    size_t nd = stream_fmt_u64(digits, mant), pad, n = 0, k;

    pad = nd < (size_t)frac + 1 ? (size_t)frac + 1 - nd : 0;
    if (neg)
        buf[n++] = '-';
    for (k = 0; k < pad + nd; k++) {
        if (k == pad + nd - frac)
            buf[n++] = '.';
        buf[n++] = k < pad ? '0' : digits[k - pad];
    }
    return n;
}

/* Strings come back as pointers into the block (no copy); numbers are
 * formatted into the caller's buffer, which lives in the iterator. */
const unsigned char *
stream__elem_get(const unsigned char *p, stream_field *out, char *buf, uint64_t *ref)
{
    unsigned h = *p++;
    uint64_t v;

    *ref = UINT64_MAX;
    if (h < STREAM__E_STR6) {
        out->ptr = buf;
        out->len = stream_fmt_u64(buf, h);
        return p;
    }
    if (h < STREAM__E_INT) {
        out->ptr = p;
        out->len = h & 0x3fu;
        return p + out->len;
    }
    if (h < STREAM__E_REF3) {
        size_t nb = (h & 7u) + 1, k;
        uint64_t u = 0;

        for (k = 0; k < nb; k++)
            u |= (uint64_t)p[k] << (8 * k);
        if (nb < 8 && (u >> (8 * nb - 1)) != 0)
            u |= ~(uint64_t)0 << (8 * nb); /* sign-extend */
        out->ptr = buf;
        if ((u >> 63) != 0) {
            buf[0] = '-';
            out->len = 1 + stream_fmt_u64(buf + 1, (uint64_t)0 - u);
        } else {
            out->len = stream_fmt_u64(buf, u);
        }
        return p + nb;
    }
    if (h < STREAM__E_DECP) {
        *ref = h & 7u;
        return p;
    }
    if (h < STREAM__E_STR) {
        p = stream__uvarint_get(p, &v);
        out->ptr = buf;
        out->len = stream_fmt_dec(buf, h >= STREAM__E_DECN, v, (h & 15u) + 1);
        return p;
    }
    p = stream__uvarint_get(p, &v);
    if (h == STREAM__E_REF) {
        *ref = v;
        return p;
    }
    out->ptr = p;
    out->len = (size_t)v;
    return p + v;
}

/* ---- Codec: entries ----
 *
 * The head is flags, an optional ms-delta extension and the sequence; IDs
 * are rebuilt from the block's first ID. The ms delta never wraps because
 * entries only get larger IDs than the block's first. */

/* A SAME entry stores no pair count: it has as many pairs as the master
 * list has fields. */
void
stream__entry_read(const stream_block *b, uint32_t off, stream__entry *e)
{
    const unsigned char *start = b->data + off, *p = start + 1;
    unsigned flags = start[0];
    uint64_t msd = flags >> STREAM__MSD_SHIFT, seq, extra;

    if (msd == STREAM__MSD_ESCAPE) {
        p = stream__uvarint_get(p, &extra);
        msd += extra;
    }
    p = stream__uvarint_get(p, &seq);
    e->id.ms = b->first.ms + msd;
    e->id.seq = msd == 0 ? b->first.seq + seq : seq;
    e->flags = flags & (STREAM__FLAG_DELETED | STREAM__FLAG_SAME);
    if (flags & STREAM__FLAG_SAME)
        e->npairs = b->master_count;
    else
        p = stream__uvarint_get(p, &e->npairs);
    e->off = off;
    e->body = off + (uint32_t)(p - start);
}

/* No per-entry length is stored (it would cost a byte or two per entry),
 * so the end is found by skipping the elements. */
uint32_t
stream__entry_end(const stream_block *b, const stream__entry *e)
{
    const unsigned char *p = b->data + e->body;
    uint64_t n = e->flags & STREAM__FLAG_SAME ? e->npairs : 2 * e->npairs;

    while (n-- > 0)
        p = stream__elem_skip(p);
    return (uint32_t)(p - b->data);
}

/* ---- Blocks ----
 *
 * Invariants (stream_check verifies them): blocks are chained in ID order
 * and each is in the tree under its first ID; every block holds at least
 * one live entry; s->blocks and s->block_bytes match the chain. */

/* Big-endian, so the tree's byte order is the ID order. */
void
stream__key(unsigned char key[16], const stream_id *id)
{
    int k;

    for (k = 0; k < 8; k++) {
        key[k] = (unsigned char)(id->ms >> (56 - 8 * k));
        key[8 + k] = (unsigned char)(id->seq >> (56 - 8 * k));
    }
}

/* The tail check first serves XADD-adjacent reads (XREAD of new entries,
 * XDEL of recent ones) without touching the tree. */
stream_block *
stream__find_block(const stream *s, const stream_id *id)
{
    unsigned char key[16];
    stream_block *b = NULL;
    rax_iter it;

    if (s->tail == NULL)
        return NULL;
    if (stream_id_cmp(&s->tail->first, id) <= 0)
        return s->tail; /* the common case of recent IDs, without the tree */
    stream__key(key, id);
    rax_iter_start(&it, s->index);
    if (rax_seek(&it, "<=", key, sizeof(key)) == 0) {
        int found = rax_next(&it);

        if (found || rax_iter_error(&it) == 0) {
            if (found)
                b = it.data;
            rax_iter_stop(&it);
            return b;
        }
    }
    rax_iter_stop(&it);
    /* The iterator could not allocate: walk the chain instead. */
    for (b = s->tail; b != NULL && stream_id_cmp(&b->first, id) > 0; b = b->prev)
        ;
    return b;
}

/* rax_remove never fails, so dropping a block needs no rollback path and
 * delete and trim stay infallible. */
void
stream__block_drop(stream *s, stream_block *b)
{
    unsigned char key[16];
    int removed;

    stream__key(key, &b->first);
    removed = rax_remove(s->index, key, sizeof(key), NULL);
    assert(removed == 1);
    (void)removed;
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        s->head = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    else
        s->tail = b->prev;
    s->blocks--;
    s->block_bytes -= sizeof(*b) + b->cap;
    STREAM_FREE(b->data);
    STREAM_FREE(b);
}

/* Redis's streamGetEdgeID(first, skip tombstones), cached in first_id. */
void
stream__refresh_first(stream *s)
{
    stream_block *b = s->head;
    uint32_t off;
    stream__entry e;

    if (s->length == 0 || b == NULL) {
        s->first_id.ms = s->first_id.seq = 0;
        return;
    }
    /* The head block has a live entry: empty blocks are always freed. */
    for (off = b->master_len; off < b->used; off = stream__entry_end(b, &e)) {
        stream__entry_read(b, off, &e);
        if (!(e.flags & STREAM__FLAG_DELETED)) {
            s->first_id = e.id;
            return;
        }
    }
    assert(0 && "head block without a live entry");
}

/*
 * Order matters: the ID is copied first because dropping the block frees
 * the bytes e was decoded from, and first_id is refreshed last, once the
 * emptied block (if any) is gone from the head.
 */
int
stream__entry_delete(stream *s, stream_block *b, const stream__entry *e)
{
    stream_id id = e->id;
    int freed = 0;

    assert(!(e->flags & STREAM__FLAG_DELETED) && b->live > 0);
    b->data[e->off] |= STREAM__FLAG_DELETED;
    b->live--;
    s->length--;
    if (stream_id_cmp(&id, &s->max_deleted_id) > 0)
        s->max_deleted_id = id;
    if (b->live == 0) {
        stream__block_drop(s, b);
        freed = 1;
    }
    if (s->length == 0)
        s->first_id.ms = s->first_id.seq = 0;
    else if (stream_id_cmp(&id, &s->first_id) == 0)
        stream__refresh_first(s);
    return freed;
}

/* ---- Lifecycle ---- */

/* The tree is created up front (one small node) so no later call has to
 * handle a missing index. */
stream *
stream_new(void)
{
    stream *s = STREAM_MALLOC(sizeof(*s));

    if (s == NULL)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->index = rax_new();
    if (s->index == NULL) {
        STREAM_FREE(s);
        return NULL;
    }
    return s;
}

void
stream_free(stream *s)
{
    stream_block *b, *next;

    if (s == NULL)
        return;
    for (b = s->head; b != NULL; b = next) {
        next = b->next;
        STREAM_FREE(b->data);
        STREAM_FREE(b);
    }
    rax_free(s->index, NULL);
    STREAM_FREE(s);
}

/* Each copied block is shrunk to fit; on failure the partial copy is freed
 * through stream_free, which is why every block is linked right away. */
stream *
stream_dup(const stream *s)
{
    stream *d = stream_new();
    const stream_block *b;

    if (d == NULL)
        return NULL;
    for (b = s->head; b != NULL; b = b->next) {
        stream_block *nb = STREAM_MALLOC(sizeof(*nb));
        unsigned char key[16];

        if (nb == NULL)
            goto fail;
        *nb = *b;
        nb->data = STREAM_MALLOC(b->used);
        if (nb->data == NULL) {
            STREAM_FREE(nb);
            goto fail;
        }
        memcpy(nb->data, b->data, b->used);
        nb->cap = b->used;
        stream__key(key, &nb->first);
        if (rax_insert(d->index, key, sizeof(key), nb, NULL) != 1) {
            STREAM_FREE(nb->data);
            STREAM_FREE(nb);
            goto fail;
        }
        nb->next = NULL;
        nb->prev = d->tail;
        if (d->tail != NULL)
            d->tail->next = nb;
        else
            d->head = nb;
        d->tail = nb;
        d->blocks++;
        d->block_bytes += sizeof(*nb) + nb->cap;
    }
    d->length = s->length;
    d->entries_added = s->entries_added;
    d->last_id = s->last_id;
    d->first_id = s->first_id;
    d->max_deleted_id = s->max_deleted_id;
    return d;

fail:
    stream_free(d);
    return NULL;
}

/* ---- Queries ---- */

uint64_t
stream_len(const stream *s)
{
    return s->length;
}

stream_id
stream_last_id(const stream *s)
{
    return s->last_id;
}

stream_id
stream_max_deleted_id(const stream *s)
{
    return s->max_deleted_id;
}

uint64_t
stream_entries_added(const stream *s)
{
    return s->entries_added;
}

int
stream_first_entry(const stream *s, stream_id *out)
{
    if (s->length == 0)
        return 0;
    *out = s->first_id;
    return 1;
}

/* The tail block always has a live entry, so the answer is in it; only a
 * deleted last entry costs a scan. */
int
stream_last_entry(const stream *s, stream_id *out)
{
    const stream_block *b = s->tail;
    stream__entry e;
    uint32_t off;
    int found = 0;

    if (b == NULL)
        return 0;
    stream__entry_read(b, b->last_off, &e);
    if (!(e.flags & STREAM__FLAG_DELETED)) {
        *out = e.id;
        return 1;
    }
    for (off = b->master_len; off < b->last_off; off = stream__entry_end(b, &e)) {
        stream__entry_read(b, off, &e);
        if (!(e.flags & STREAM__FLAG_DELETED)) {
            *out = e.id;
            found = 1;
        }
    }
    assert(found); /* the tail block has a live entry */
    return found;
}

uint64_t
stream_rax_keys(const stream *s)
{
    return rax_count(s->index);
}

uint64_t
stream_rax_nodes(const stream *s)
{
    return rax_nodes(s->index);
}

size_t
stream_mem(const stream *s)
{
    return sizeof(*s) + s->block_bytes + rax_mem(s->index);
}

/* ---- Append ----
 *
 * Order of work: the ID and the size checks first (no allocation), then the
 * entry is measured against the tail block, then either the tail grows or a
 * new block is allocated and inserted in the tree. Only after all that can
 * fail do the chain and the metadata change, so -ENOMEM needs no undo. */

/* The ID an append would use, or the Redis-ordered error (stream.h): the
 * 0-0 check precedes the exhausted check, as in xaddCommand, and EDOM is
 * decided last, on the derived ID. */
static int
stream_next_id(const stream *s, int mode, const stream_id *given, uint64_t now_ms, stream_id *out)
{
    stream_id id = s->last_id;

    if (mode == STREAM_ID_EXPLICIT && given->ms == 0 && given->seq == 0)
        return -EINVAL;
    if (s->last_id.ms == UINT64_MAX && s->last_id.seq == UINT64_MAX)
        return -ERANGE;
    switch (mode) {
    case STREAM_ID_AUTO:
        if (now_ms > s->last_id.ms) {
            id.ms = now_ms;
            id.seq = 0;
        } else {
            (void)stream_id_incr(&id); /* cannot fail: last is not the maximum */
        }
        break;
    case STREAM_ID_AUTO_SEQ:
        if (given->ms == s->last_id.ms) {
            if (s->last_id.seq == UINT64_MAX)
                return -ERANGE;
            id.seq++;
        } else {
            id.ms = given->ms;
            id.seq = 0;
        }
        break;
    default:
        assert(mode == STREAM_ID_EXPLICIT);
        id = *given;
        break;
    }
    if (stream_id_cmp(&id, &s->last_id) <= 0)
        return -EDOM;
    *out = id;
    return 0;
}

/* 1 if field f equals the element at p. Comparing decoded bytes (not
 * encodings) keeps this correct for numeric field names like "1". */
static int
stream_elem_equals(const unsigned char *p, const stream_field *f)
{
    char buf[STREAM_NUM_BUF];
    stream_field e;
    uint64_t ref;

    (void)stream__elem_get(p, &e, buf, &ref);
    assert(ref == UINT64_MAX); /* master lists hold no references */
    return e.len == f->len && (f->len == 0 || memcmp(e.ptr, f->ptr, f->len) == 0);
}

/* 1 if the fields of fv are exactly b's master list, in order. */
static int
stream_master_same(const stream_block *b, const stream_field *fv, size_t npairs)
{
    const unsigned char *p = b->data;
    size_t j;

    if (npairs != b->master_count)
        return 0;
    for (j = 0; j < npairs; j++) {
        if (!stream_elem_equals(p, &fv[2 * j]))
            return 0;
        p = stream__elem_skip(p);
    }
    return 1;
}

/* Walks b's master list alongside the fields of a non-SAME entry. */
typedef struct stream_mcursor {
    uint32_t idx;           /* master index at p */
    const unsigned char *p; /* master element idx, or the list end */
} stream_mcursor;

/*
 * Master index equal to field j (f), or UINT64_MAX: the same position is
 * tried first (cursor, amortized O(1)), then short lists in full.
 */
static uint64_t
stream_master_find(const stream_block *b, stream_mcursor *c, size_t j, const stream_field *f)
{
    const unsigned char *p;
    uint32_t i;

    while (c->idx < j && c->idx < b->master_count) {
        c->p = stream__elem_skip(c->p);
        c->idx++;
    }
    if (c->idx == j && j < b->master_count && stream_elem_equals(c->p, f))
        return j;
    if (b->master_count > STREAM_REF_SCAN_MAX)
        return UINT64_MAX;
    for (i = 0, p = b->data; i < b->master_count; i++, p = stream__elem_skip(p))
        if (i != j && stream_elem_equals(p, f))
            return i;
    return UINT64_MAX;
}

/* Bytes of a master reference: one for the first eight master fields. */
static size_t
stream_ref_size(uint64_t idx)
{
    return idx < 8 ? 1 : 1 + stream__uvarint_len(idx);
}

/*
 * Encodes the entry into dst, or only measures it when dst is NULL; both
 * passes take the same decisions. Returns the encoded size.
 */
static size_t
stream_entry_encode(const stream_block *b, unsigned char *dst, const stream_id *id,
                    const stream_field *fv, size_t npairs, int same)
{
    unsigned char head[32], *h = head;
    uint64_t msd = id->ms - b->first.ms;
    uint64_t seq = msd == 0 ? id->seq - b->first.seq : id->seq;
    unsigned flags = same ? STREAM__FLAG_SAME : 0;
    stream_mcursor c = {0, b->data};
    size_t size, hlen, j;

    /* Deltas under 63 ms ride in the flags byte; later ones spill into a
     * varint. The sequence is a delta only within the block's first ms. */
    flags |= (unsigned)(msd < STREAM__MSD_ESCAPE ? msd : STREAM__MSD_ESCAPE) << STREAM__MSD_SHIFT;
    *h++ = (unsigned char)flags;
    if (msd >= STREAM__MSD_ESCAPE)
        h = stream__uvarint_put(h, msd - STREAM__MSD_ESCAPE);
    h = stream__uvarint_put(h, seq);
    if (!same)
        h = stream__uvarint_put(h, npairs);
    hlen = (size_t)(h - head);
    size = hlen;
    if (dst != NULL) {
        memcpy(dst, head, hlen);
        dst += hlen;
    }
    for (j = 0; j < npairs; j++) {
        const stream_field *f = &fv[2 * j], *v = &fv[2 * j + 1];

        if (!same) {
            /* A reference only when it is no longer than the literal. */
            uint64_t ref = stream_master_find(b, &c, j, f);
            size_t lit = stream__elem_size(f->ptr, f->len);

            if (ref != UINT64_MAX && stream_ref_size(ref) <= lit) {
                size += stream_ref_size(ref);
                if (dst != NULL && ref < 8) {
                    *dst++ = (unsigned char)(STREAM__E_REF3 | ref);
                } else if (dst != NULL) {
                    *dst++ = (unsigned char)STREAM__E_REF;
                    dst = stream__uvarint_put(dst, ref);
                }
            } else {
                size += lit;
                if (dst != NULL)
                    dst = stream__elem_put(dst, f->ptr, f->len);
            }
        }
        size += stream__elem_size(v->ptr, v->len);
        if (dst != NULL)
            dst = stream__elem_put(dst, v->ptr, v->len);
    }
    return size;
}

/* Appends the entry (size bytes, measured) to block b. -ENOMEM unchanged:
 * realloc leaves the old buffer in place when it fails. */
static int
stream_block_append(stream *s, stream_block *b, const stream_id *id, const stream_field *fv,
                    size_t npairs, int same, size_t size, size_t limit)
{
    size_t need = (size_t)b->used + size;

    if (need > b->cap) {
        /* Grow by half (at least STREAM_GROW_MIN), never past what the
         * block may hold: the slack is given back when the block closes. */
        size_t cap = (size_t)b->cap + (b->cap / 2 > STREAM_GROW_MIN ? b->cap / 2 : STREAM_GROW_MIN);
        unsigned char *data;

        if (cap > limit)
            cap = limit;
        if (cap < need)
            cap = need;
        data = STREAM_REALLOC(b->data, cap);
        if (data == NULL)
            return -ENOMEM;
        s->block_bytes += cap - b->cap;
        b->data = data;
        b->cap = (uint32_t)cap;
    }
    (void)stream_entry_encode(b, b->data + b->used, id, fv, npairs, same);
    b->last_off = b->used;
    b->used = (uint32_t)need;
    b->count++;
    b->live++;
    return 0;
}

/* Starts a new tail block holding the entry, whose fields become the master
 * list. -ENOMEM or -E2BIG leave s unchanged. */
static int
stream_block_start(stream *s, const stream_id *id, const stream_field *fv, size_t npairs)
{
    stream_block *b, *old = s->tail;
    unsigned char key[16], *p;
    size_t mlen = 0, size, j;
    int rc;

    for (j = 0; j < npairs; j++)
        mlen += stream__elem_size(fv[2 * j].ptr, fv[2 * j].len);
    /* Allocate everything, header, data, tree slot, before touching s. */
    b = STREAM_MALLOC(sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    memset(b, 0, sizeof(*b));
    b->first = *id;
    b->master_count = (uint32_t)npairs;
    size = stream_entry_encode(b, NULL, id, fv, npairs, 1);
    if (mlen + size > STREAM__BLOCK_HARD_BYTES || npairs > UINT32_MAX) {
        STREAM_FREE(b);
        return -E2BIG;
    }
    b->data = STREAM_MALLOC(mlen + size);
    if (b->data == NULL) {
        STREAM_FREE(b);
        return -ENOMEM;
    }
    stream__key(key, id);
    rc = rax_insert(s->index, key, sizeof(key), b, NULL);
    if (rc < 0) {
        STREAM_FREE(b->data);
        STREAM_FREE(b);
        return -ENOMEM;
    }
    assert(rc == 1); /* IDs only grow, so the key is new */
    for (j = 0, p = b->data; j < npairs; j++)
        p = stream__elem_put(p, fv[2 * j].ptr, fv[2 * j].len);
    (void)stream_entry_encode(b, p, id, fv, npairs, 1);
    b->master_len = (uint32_t)mlen;
    b->last_off = (uint32_t)mlen;
    b->used = b->cap = (uint32_t)(mlen + size);
    b->count = b->live = 1;
    b->prev = old;
    if (old != NULL) {
        old->next = b;
        /* The old tail is closed for good: give back its slack. */
        if (old->cap > old->used) {
            unsigned char *data = STREAM_REALLOC(old->data, old->used);

            if (data != NULL) {
                s->block_bytes -= old->cap - old->used;
                old->data = data;
                old->cap = old->used;
            }
        }
    } else {
        s->head = b;
    }
    s->tail = b;
    s->blocks++;
    s->block_bytes += sizeof(*b) + b->cap;
    return 0;
}

int
stream_append(stream *s, int id_mode, const stream_id *id, const stream_field *fv, size_t npairs,
              uint64_t now_ms, size_t node_max_bytes, size_t node_max_entries, stream_id *out)
{
    stream_block *b = s->tail;
    size_t raw = 0, limit, j;
    stream_id nid;
    int rc;

    rc = stream_next_id(s, id_mode, id, now_ms, &nid);
    if (rc != 0)
        return rc;
    for (j = 0; j < 2 * npairs; j++) {
        if (fv[j].len > STREAM__ENTRY_MAX_RAW - raw)
            return -E2BIG;
        raw += fv[j].len;
    }
    limit = node_max_bytes != 0 && node_max_bytes < STREAM__BLOCK_MAX_BYTES
                ? node_max_bytes
                : STREAM__BLOCK_MAX_BYTES;
    /* The tail takes the entry unless it is full by count (deleted entries
     * count, as in Redis) or the encoded entry would push it past the byte
     * limit; a block closed once is never reopened by a smaller entry
     * because appends only look at the tail. */
    rc = 1; /* 1: a new block is needed */
    if (b != NULL && b->count < STREAM_BLOCK_MAX_ENTRIES &&
        (node_max_entries == 0 || b->count < node_max_entries)) {
        int same = stream_master_same(b, fv, npairs);
        size_t size = stream_entry_encode(b, NULL, &nid, fv, npairs, same);

        if (size <= limit && b->used + size <= limit)
            rc = stream_block_append(s, b, &nid, fv, npairs, same, size, limit);
    }
    if (rc == 1)
        rc = stream_block_start(s, &nid, fv, npairs);
    if (rc != 0)
        return rc;
    s->length++;
    s->entries_added++;
    s->last_id = nid;
    if (s->length == 1)
        s->first_id = nid;
    if (out != NULL)
        *out = nid;
    return 0;
}

/* ---- Delete and XSETID ---- */

/* The scan stops at the first larger ID: entries are sorted in a block. */
int
stream_delete(stream *s, const stream_id *id)
{
    stream_block *b = stream__find_block(s, id);
    stream__entry e;
    uint32_t off;

    if (b == NULL)
        return 0;
    stream__entry_read(b, b->last_off, &e);
    if (stream_id_cmp(&e.id, id) < 0)
        return 0; /* past the block's last entry */
    for (off = b->master_len; off < b->used; off = stream__entry_end(b, &e)) {
        int c;

        stream__entry_read(b, off, &e);
        c = stream_id_cmp(&e.id, id);
        if (c > 0)
            return 0;
        if (c == 0) {
            if (e.flags & STREAM__FLAG_DELETED)
                return 0;
            (void)stream__entry_delete(s, b, &e);
            return 1;
        }
    }
    return 0;
}

void
stream_set_last_id(stream *s, const stream_id *id)
{
    s->last_id = *id;
}

void
stream_set_entries_added(stream *s, uint64_t n)
{
    s->entries_added = n;
}

void
stream_set_max_deleted_id(stream *s, const stream_id *id)
{
    s->max_deleted_id = *id;
}

/* ---- Snapshot restore ----
 *
 * A snapshot keeps the block layout (every stored entry, deleted ones
 * included, and where each block starts), so a loaded stream has the same
 * radix tree (XINFO radix-tree-keys/nodes) and its tail block fills up
 * exactly as before. While a restore runs a block may briefly hold no live
 * entry (its first entries were deleted); stream_restore_finish refuses a
 * stream left that way. */

int
stream_restore_append(stream *s, const stream_id *id, const stream_field *fv, size_t npairs,
                      int new_block, int deleted)
{
    stream_block *b = s->tail;
    size_t raw = 0, j;
    int rc;

    if (id->ms == 0 && id->seq == 0)
        return -EINVAL; /* no entry may have ID 0-0, as XADD refuses it */
    if (b != NULL) {
        stream__entry last;

        stream__entry_read(b, b->last_off, &last);
        if (stream_id_cmp(id, &last.id) <= 0)
            return -EDOM;
    }
    for (j = 0; j < 2 * npairs; j++) {
        if (fv[j].len > STREAM__ENTRY_MAX_RAW - raw)
            return -E2BIG;
        raw += fv[j].len;
    }
    if (b == NULL || new_block) {
        rc = stream_block_start(s, id, fv, npairs);
    } else {
        int same = stream_master_same(b, fv, npairs);
        size_t size = stream_entry_encode(b, NULL, id, fv, npairs, same);

        if (b->count >= STREAM_BLOCK_MAX_ENTRIES || size > STREAM__BLOCK_HARD_BYTES - b->used)
            return -E2BIG;
        rc = stream_block_append(s, b, id, fv, npairs, same, size, STREAM__BLOCK_HARD_BYTES);
    }
    if (rc != 0)
        return rc;
    b = s->tail;
    if (deleted) {
        b->data[b->last_off] |= STREAM__FLAG_DELETED;
        b->live--;
    } else {
        s->length++;
    }
    return 0;
}

int
stream_restore_finish(stream *s, const stream_id *last_id, uint64_t entries_added,
                      const stream_id *max_deleted_id)
{
    const stream_block *b;

    for (b = s->head; b != NULL; b = b->next)
        if (b->live == 0)
            return -EINVAL;
    if (s->tail != NULL) {
        stream__entry last;

        stream__entry_read(s->tail, s->tail->last_off, &last);
        if (stream_id_cmp(&last.id, last_id) > 0)
            return -EINVAL;
    }
    if (entries_added < s->length)
        return -EINVAL;
    s->last_id = *last_id;
    s->entries_added = entries_added;
    s->max_deleted_id = *max_deleted_id;
    stream__refresh_first(s);
    return 0;
}

/* ---- Checker ----
 *
 * Re-parses every byte with bounds checks (the hot decoders trust the data)
 * and compares what the trusted decoders say with what the bounded walk
 * found, then the counters, the chain, the tree and the metadata. */

/* Bounded uvarint read for the checker; NULL when it runs past end or
 * past 64 bits. */
static const unsigned char *
stream_check_uvarint(const unsigned char *p, const unsigned char *end, uint64_t *v)
{
    uint64_t x = 0;
    unsigned shift = 0;

    while (p < end && shift < 64) {
        x |= (uint64_t)(*p & 0x7fu) << shift;
        if (!(*p++ & 0x80u)) {
            *v = x;
            return p;
        }
        shift += 7;
    }
    return NULL;
}

/* Validates one element within [p, end); refs allowed when nmaster > 0
 * (indices < nmaster). Returns the byte after it or NULL. */
static const unsigned char *
stream_check_elem(const unsigned char *p, const unsigned char *end, int allow_ref, uint64_t nmaster)
{
    unsigned h;
    uint64_t v;

    if (p >= end)
        return NULL;
    h = *p++;
    if (h < STREAM__E_STR6)
        return p;
    if (h < STREAM__E_INT)
        return (size_t)(end - p) >= (h & 0x3fu) ? p + (h & 0x3fu) : NULL;
    if (h < STREAM__E_REF3)
        return (size_t)(end - p) > (h & 7u) ? p + (h & 7u) + 1 : NULL;
    if (h < STREAM__E_DECP)
        return allow_ref && (h & 7u) < nmaster ? p : NULL;
    if (h < STREAM__E_STR) {
        p = stream_check_uvarint(p, end, &v);
        return p != NULL && v < 1000000000000000000ULL ? p : NULL;
    }
    if (h > STREAM__E_REF)
        return NULL;
    p = stream_check_uvarint(p, end, &v);
    if (p == NULL)
        return NULL;
    if (h == STREAM__E_REF)
        return allow_ref && v < nmaster ? p : NULL;
    return (uint64_t)(end - p) >= v ? p + v : NULL;
}

/* Validates block b's encoding and counters; *prev is the previous entry's
 * ID (updated). Returns 0 or -EINVAL. */
static int
stream_check_block(const stream_block *b, stream_id *prev, int *have_prev, uint64_t *live,
                   stream_id *first_live)
{
    const unsigned char *p = b->data, *end = b->data + b->used;
    uint32_t k, count = 0, nlive = 0, last = 0;

    if (b->used > b->cap || b->master_len >= b->used || b->live == 0 || b->live > b->count)
        return -EINVAL;
    for (k = 0; k < b->master_count; k++)
        if ((p = stream_check_elem(p, b->data + b->master_len, 0, 0)) == NULL)
            return -EINVAL;
    if (p != b->data + b->master_len)
        return -EINVAL;
    while (p < end) {
        uint32_t off = (uint32_t)(p - b->data);
        unsigned flags = *p++;
        uint64_t msd = flags >> STREAM__MSD_SHIFT, extra, seq, n, e;
        stream__entry ent;

        if (msd == STREAM__MSD_ESCAPE) {
            if ((p = stream_check_uvarint(p, end, &extra)) == NULL)
                return -EINVAL;
            msd += extra;
        }
        if ((p = stream_check_uvarint(p, end, &seq)) == NULL)
            return -EINVAL;
        if (!(flags & STREAM__FLAG_SAME) && (p = stream_check_uvarint(p, end, &n)) == NULL)
            return -EINVAL;
        stream__entry_read(b, off, &ent);
        if (count == 0 && (stream_id_cmp(&ent.id, &b->first) != 0 || off != b->master_len))
            return -EINVAL;
        if (*have_prev && stream_id_cmp(&ent.id, prev) <= 0)
            return -EINVAL;
        if (msd > 0 && ent.id.ms < b->first.ms)
            return -EINVAL; /* ms delta wrapped */
        n = ent.flags & STREAM__FLAG_SAME ? ent.npairs : 2 * ent.npairs;
        for (e = 0; e < n; e++) {
            int field = !(ent.flags & STREAM__FLAG_SAME) && e % 2 == 0;

            if ((p = stream_check_elem(p, end, field, b->master_count)) == NULL)
                return -EINVAL;
        }
        if (stream__entry_end(b, &ent) != (uint32_t)(p - b->data))
            return -EINVAL;
        if (!(ent.flags & STREAM__FLAG_DELETED)) {
            if (*live == 0 && nlive == 0)
                *first_live = ent.id;
            nlive++;
        }
        *prev = ent.id;
        *have_prev = 1;
        last = off;
        count++;
    }
    if (count != b->count || nlive != b->live || last != b->last_off)
        return -EINVAL;
    *live += nlive;
    return 0;
}

/* The tree is checked through lookups of each chained block plus the key
 * count, which proves it holds exactly the chain without an iterator. */
int
stream_check(const stream *s)
{
    const stream_block *b, *prevb = NULL;
    stream_id prev = {0, 0}, first_live = {0, 0};
    uint64_t live = 0, nblocks = 0;
    size_t bytes = 0;
    int have_prev = 0;

    if (s->index == NULL || rax_check(s->index) != 0)
        return -EINVAL;
    for (b = s->head; b != NULL; prevb = b, b = b->next) {
        unsigned char key[16];
        void *val = NULL;

        if (b->prev != prevb)
            return -EINVAL;
        stream__key(key, &b->first);
        if (!rax_find(s->index, key, sizeof(key), &val) || val != b)
            return -EINVAL;
        if (stream_check_block(b, &prev, &have_prev, &live, &first_live) != 0)
            return -EINVAL;
        nblocks++;
        bytes += sizeof(*b) + b->cap;
    }
    if (prevb != s->tail || nblocks != s->blocks || rax_count(s->index) != nblocks)
        return -EINVAL;
    if (bytes != s->block_bytes || live != s->length || s->entries_added < s->length)
        return -EINVAL;
    if (have_prev && stream_id_cmp(&prev, &s->last_id) > 0)
        return -EINVAL;
    if (live > 0 && stream_id_cmp(&first_live, &s->first_id) != 0)
        return -EINVAL;
    if (live == 0 && (s->first_id.ms != 0 || s->first_id.seq != 0))
        return -EINVAL;
    return 0;
}
