/*
 * stream.h - the stream log: an append-only sequence of entries, each an ID
 * (ms-seq) plus field/value pairs, with Redis 7's XADD/XRANGE/XDEL/XTRIM rules.
 *
 * Design: entries live in blocks (macro-nodes) of compactly encoded entries,
 * indexed in a radix tree (streams/rax.h) by the 128-bit big-endian ID of
 * their first entry and chained in ID order, so appends, trims and iteration
 * never walk the tree. The encoding is drawn in streams/stream_int.h.
 * Hot paths: stream_append (amortized O(1), touches only the tail block),
 * stream_iter_* (sequential decode of a block), stream_trim from the head.
 * Not here: consumer groups and PELs (consumers/), argument parsing beyond
 * IDs, replies, persistence, clocks (callers pass now_ms).
 */
#ifndef STREAMS_STREAM_H
#define STREAMS_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* Buffer for stream_id_fmt: the longest ID, "18446744073709551615-
 * 18446744073709551615", takes 41 bytes plus the NUL. */
#define STREAM_ID_STR_MAX 44

/* Entry offsets a backward iterator keeps per pass over a block; blocks with
 * more entries are walked backward in several passes (see stream_iter). */
#define STREAM_ITER_RING 256

/* Room for one decoded compact number: "-9223372036854775808" or a decimal
 * such as "-0.0000000000000001", plus NUL. */
#define STREAM_NUM_BUF 24

/* A stream entry ID; IDs order by ms, then seq. Public value type. */
typedef struct stream_id {
    uint64_t ms;  /* milliseconds part (usually Unix time in ms) */
    uint64_t seq; /* sequence within the same ms */
} stream_id;

/* A borrowed byte string: a field or a value. */
typedef struct stream_field {
    const void *ptr; /* bytes, not NUL-terminated; borrowed */
    size_t len;      /* length in bytes */
} stream_field;

typedef struct stream stream;             /* opaque; see stream_int.h */
typedef struct stream_block stream_block; /* opaque; one block of entries */

/* Entries a block holds at most, whatever the caller's node_max_entries:
 * a backward walk makes at most this / STREAM_ITER_RING passes per block. */
#define STREAM_BLOCK_MAX_ENTRIES 4096

/*
 * Range iterator, meant to live on the stack (no allocation). All fields are
 * private to stream_iter.c; they are public only so that the struct has a
 * size. Offsets are byte offsets into the current block's data.
 */
typedef struct stream_iter {
    stream *s;                       /* iterated stream (borrowed) */
    stream_block *blk;               /* block being read, NULL between blocks */
    stream_block *after;             /* block to read when blk is NULL */
    stream_id start;                 /* lower bound, inclusive */
    stream_id end;                   /* upper bound, inclusive */
    int rev;                         /* 0 forward, 1 backward */
    int done;                        /* 1 once the range is exhausted */
    uint32_t pos;                    /* forward: offset of the next entry to decode */
    uint32_t cur;                    /* offset of the current entry, UINT32_MAX if none */
    uint32_t fpos;                   /* offset of the current entry's next element */
    uint32_t same;                   /* current entry uses the master field list */
    uint64_t fleft;                  /* field/value pairs left in the current entry */
    uint32_t midx;                   /* master cursor: index of the master field at mpos */
    uint32_t mpos;                   /* master cursor: offset of master field midx */
    uint32_t lim;                    /* backward: entries at offsets >= lim are done */
    uint32_t rhead;                  /* backward: ring index of the oldest offset */
    uint32_t rcount;                 /* backward: offsets left to hand out in the ring */
    uint32_t rmore;                  /* backward: entries exist before the ring's oldest */
    uint32_t ring[STREAM_ITER_RING]; /* backward: entry offsets, oldest at rhead */
    char fbuf[STREAM_NUM_BUF];       /* decoded compact field */
    char vbuf[STREAM_NUM_BUF];       /* decoded compact value */
} stream_iter;

/* ---- IDs ---- */

/* Returns <0, 0 or >0 as a is before, equal to or after b. O(1). */
int stream_id_cmp(const stream_id *a, const stream_id *b);

/* Writes "ms-seq" and a NUL to dst (STREAM_ID_STR_MAX bytes); returns the
 * length without the NUL. O(1). */
size_t stream_id_fmt(char *dst, const stream_id *id);

/*
 * Parses an ID argument as Redis's streamGenericParseIDOrReply does. s need
 * not be NUL-terminated; like Redis, parsing stops at an embedded NUL.
 * len > 127 is invalid. "-" gives 0-0 and "+" gives the maximum ID unless
 * strict. "<ms>" alone gives seq = missing_seq and *seq_given = 0;
 * "<ms>-<seq>" gives *seq_given = 1 (also "-" and "+"). "<ms>-*" is accepted
 * only when seq_auto != NULL: *seq_auto = 1, seq = 0, *seq_given = 0.
 * Numbers follow Redis's string2ull: a strict decimal, else strtoull, so
 * " 1", "+1", "01" and "-0" are accepted while "-1", "1 ", "" and values past
 * 2^64-1 are not. seq_given and seq_auto may be NULL; outputs are written only
 * on success. Returns 0 or -EINVAL. O(len).
 */
int stream_id_parse(const char *s, size_t len, stream_id *out, uint64_t missing_seq, int strict,
                    int *seq_given, int *seq_auto);

/* Next ID (seq + 1, carrying into ms). 0, or -ERANGE when id is the maximum
 * (id unchanged). O(1). */
int stream_id_incr(stream_id *id);

/* Previous ID. 0, or -ERANGE when id is 0-0 (unchanged). O(1). */
int stream_id_decr(stream_id *id);

/* ---- Lifecycle ---- */

/* Returns an empty stream, or NULL on ENOMEM. O(1). */
stream *stream_new(void);

/* Frees s and every block it owns; NULL is a no-op. O(blocks). */
void stream_free(stream *s);

/* Deep copy with the same metadata (COPY), or NULL on ENOMEM. Blocks are
 * copied shrunk to fit. O(bytes). */
stream *stream_dup(const stream *s);

/*
 * Replaces the allocator behind STREAM_MALLOC/STREAM_REALLOC/STREAM_FREE for
 * every stream (fail-after-N allocators in tests). All NULL restores libc.
 * Only call while no stream exists. O(1).
 */
void stream_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                          void (*free_fn)(void *));

/* ---- Queries (O(1) unless noted) ---- */

/* Live (not deleted) entries. */
uint64_t stream_len(const stream *s);

/* Last generated ID (XADD, or stored by XSETID); 0-0 for a new stream. */
stream_id stream_last_id(const stream *s);

/* Largest ID removed by XDEL (or set by XSETID); 0-0 when none. Trimming
 * leaves it alone, as Redis 7 does. */
stream_id stream_max_deleted_id(const stream *s);

/* Entries ever added (XINFO entries-added). */
uint64_t stream_entries_added(const stream *s);

/* 1 and the first live ID in *out, or 0 when the stream is empty (cached,
 * O(1)). */
int stream_first_entry(const stream *s, stream_id *out);

/* 1 and the last live ID in *out, or 0 when empty. O(1) unless the last
 * entry is deleted, then O(tail block). */
int stream_last_entry(const stream *s, stream_id *out);

/* Blocks, i.e. radix tree keys (XINFO radix-tree-keys). */
uint64_t stream_rax_keys(const stream *s);

/* Radix tree nodes (XINFO radix-tree-nodes). */
uint64_t stream_rax_nodes(const stream *s);

/* Bytes allocated: the stream header, every block (header and data capacity)
 * and the radix tree. O(1). */
size_t stream_mem(const stream *s);

/* Whole-structure checker for tests: decodes every block and compares the
 * tree, the block chain and the metadata. 0 or -EINVAL. O(bytes). */
int stream_check(const stream *s);

/* ---- Mutations ---- */

enum {
    STREAM_ID_AUTO = 0,     /* "*": ms = max(now_ms, last.ms), seq next or 0 */
    STREAM_ID_AUTO_SEQ = 1, /* "<ms>-*": seq = last.seq + 1 if ms == last.ms, else 0 */
    STREAM_ID_EXPLICIT = 2  /* "<ms>-<seq>" as given */
};

/*
 * Appends one entry: fv holds 2*npairs items (field, value, ...), copied.
 * id is read for AUTO_SEQ (ms) and EXPLICIT, ignored for AUTO. A new block
 * starts when the tail block would pass node_max_bytes of encoded data or
 * hold more than node_max_entries entries, deleted ones included (either 0 =
 * no limit; STREAM_BLOCK_MAX_ENTRIES and 1 GiB always apply); a block always
 * takes its first entry. Checks, in Redis's order: -EINVAL for an EXPLICIT
 * 0-0; -ERANGE when the last ID is the maximum ("exhausted"), or for AUTO_SEQ
 * when ms == last.ms and last.seq is UINT64_MAX (Redis 7.0 replies "Elements
 * are too large to be stored" there, later versions "equal or smaller"); -EDOM when the
 * ID is <= the last ID; -E2BIG when the fields and values total more than
 * 1 GiB. -ENOMEM leaves s unchanged. On success returns 0 and the ID in *out
 * (out may be NULL). Amortized O(1) + O(entry size).
 */
int stream_append(stream *s, int id_mode, const stream_id *id, const stream_field *fv,
                  size_t npairs, uint64_t now_ms, size_t node_max_bytes, size_t node_max_entries,
                  stream_id *out);

/*
 * Marks entry id deleted in place (XDEL); a block left with no live entry is
 * freed. Updates the length, the first entry and max-deleted-entry-id as
 * Redis does. Returns 1 deleted, 0 not found (or already deleted). Never
 * fails: if the tree seek cannot allocate it falls back to walking blocks.
 * O(log N + block).
 */
int stream_delete(stream *s, const stream_id *id);

enum { STREAM_TRIM_MAXLEN = 1, STREAM_TRIM_MINID = 2 };

/*
 * Trims from the head as Redis's streamTrim does. MAXLEN keeps at most maxlen
 * entries; MINID drops entries with ID < *minid (minid ignored for MAXLEN).
 * Whole blocks go first; approx stops at the first block that cannot go as a
 * whole, exact then marks entries deleted inside that block. limit > 0 stops
 * before a block whose live entries would take the removed count past limit
 * (Redis checks this before exact marking too); 0 = no limit. Leaves
 * max-deleted-entry-id alone (Redis 7). Returns entries removed (>= 0); never
 * fails. O(blocks removed + block).
 */
int64_t stream_trim(stream *s, int strategy, uint64_t maxlen, const stream_id *minid, int approx,
                    int64_t limit);

/* XSETID support: the broker validates, these only store. O(1). */
void stream_set_last_id(stream *s, const stream_id *id);
void stream_set_entries_added(stream *s, uint64_t n);
void stream_set_max_deleted_id(stream *s, const stream_id *id);

/* ---- Iteration ---- */

/*
 * Starts an iteration over [start, end] inclusive (NULL start = 0-0, NULL
 * end = maximum), forward (rev = 0) or backward, skipping deleted entries.
 * No allocation. The stream must not change while the iterator is open,
 * except through stream_iter_delete. O(log N).
 */
void stream_iter_start(stream_iter *it, stream *s, const stream_id *start, const stream_id *end,
                       int rev);

/* Moves to the next entry in range: 1 with its ID and pair count, 0 when
 * done. Amortized O(entry) forward; backward, blocks of more than
 * STREAM_ITER_RING entries cost O(block / STREAM_ITER_RING) per entry. */
int stream_iter_next(stream_iter *it, stream_id *id, size_t *npairs);

/* The current entry's next field and value: 1 and both set (valid until the
 * next call on it), 0 when the entry has no more pairs. O(element). */
int stream_iter_field(stream_iter *it, stream_field *field, stream_field *value);

/* Deletes the current entry as stream_delete does; iteration may go on, but
 * stream_iter_field returns 0 until the next stream_iter_next. O(block). */
void stream_iter_delete(stream_iter *it);

/* Ends the iteration (nothing to free; kept for symmetry). O(1). */
void stream_iter_stop(stream_iter *it);

/* ---- Snapshot support ----
 *
 * A snapshot records the stream as stored: every entry, deleted ones
 * included, and the entries that start a block, so that a load rebuilds the
 * same blocks and radix tree (XINFO radix-tree-keys and -nodes answer as
 * before, and the tail block fills up as it would have). */

/*
 * Starts a forward walk over every stored entry of s, deleted ones included,
 * for stream_iter_next_raw and stream_iter_field. No allocation; the stream
 * must not change during the walk. O(1).
 */
void stream_iter_start_raw(stream_iter *it, stream *s);

/*
 * Next stored entry of a raw walk: 1 with its ID, pair count, *deleted (1 for
 * an entry removed by XDEL or trimming) and *block_start (1 when the entry is
 * the first of its block), or 0 at the end. The pairs of a deleted entry are
 * readable too. Amortized O(entry).
 */
int stream_iter_next_raw(stream_iter *it, stream_id *id, size_t *npairs, int *deleted,
                         int *block_start);

/*
 * Snapshot load: appends the entry *id with fv (2*npairs items, copied) as
 * it was stored: in a new block when new_block or when s has none, else in
 * the tail block whatever the node limits (only STREAM_BLOCK_MAX_ENTRIES and
 * the block's hard byte limit apply), flagged deleted when deleted. Only the
 * length moves (for a live entry); last ID, entries added and max deleted ID
 * wait for stream_restore_finish. Returns 0; -EINVAL for ID 0-0; -EDOM when
 * id is not above the last stored entry; -E2BIG past the size limits; -ENOMEM with s unchanged.
 * Amortized O(1) + O(entry size).
 */
int stream_restore_append(stream *s, const stream_id *id, const stream_field *fv, size_t npairs,
                          int new_block, int deleted);

/*
 * Ends a snapshot load: stores the last ID, entries added and max deleted ID
 * and recomputes the first entry. Returns 0, or -EINVAL (nothing stored)
 * when a block holds no live entry, the last stored entry is above *last_id,
 * or entries_added is below the length. s stays freeable either way.
 * O(blocks + head block).
 */
int stream_restore_finish(stream *s, const stream_id *last_id, uint64_t entries_added,
                          const stream_id *max_deleted_id);

#endif /* STREAMS_STREAM_H */
