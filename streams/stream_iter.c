/*
 * stream_iter.c - range iteration over a stream, forward and backward
 * (XRANGE, XREVRANGE, XREAD and every reader of entries).
 *
 * Forward iteration decodes a block front to back and follows the block
 * chain. Entries carry no back-pointers, so backward iteration decodes a
 * block forward once, keeping the offsets of its last STREAM_ITER_RING
 * entries in the iterator, and hands them out newest first; a block with
 * more entries is rescanned up to the oldest offset handed out. Iterators
 * never allocate: the tree is only used to find the first block. Hot path:
 * stream_iter_next and stream_iter_field, once per entry and per pair.
 * Not here: the entry codec (stream.c) and bounds parsing (broker/).
 */
#include "streams/stream.h"

#include "streams/stream_int.h"

#include <assert.h>
#include <string.h>

#define STREAM_ITER_MASK (STREAM_ITER_RING - 1)

_Static_assert((STREAM_ITER_RING & STREAM_ITER_MASK) == 0, "ring size is a power of two");

void
stream_iter_start(stream_iter *it, stream *s, const stream_id *start, const stream_id *end, int rev)
{
    it->s = s;
    it->blk = NULL;
    it->start.ms = it->start.seq = 0;
    it->end.ms = it->end.seq = UINT64_MAX;
    if (start != NULL)
        it->start = *start;
    if (end != NULL)
        it->end = *end;
    it->rev = rev != 0;
    it->cur = UINT32_MAX;
    it->fleft = 0;
    it->done = stream_id_cmp(&it->start, &it->end) > 0;
    if (it->done) {
        it->after = NULL;
    } else if (!it->rev) {
        /* The block that may hold start: the last one starting at or before it. */
        it->after = stream__find_block(s, &it->start);
        if (it->after == NULL)
            it->after = s->head;
    } else {
        /* Blocks starting after end hold nothing in range. */
        it->after = stream__find_block(s, &it->end);
    }
}

/* Makes b the current block. The master cursor restarts because it holds
 * offsets into this block's master list; lim = used means the first
 * backward pass looks at the whole block. */
static void
stream_iter_enter(stream_iter *it, stream_block *b)
{
    it->blk = b;
    it->after = NULL;
    it->pos = b->master_len;
    it->midx = 0;
    it->mpos = 0;
    it->lim = b->used;
    it->rcount = 0;
    it->rmore = 1;
}

/* Leaves the current block for its neighbour in the iteration direction. */
static void
stream_iter_leave(stream_iter *it)
{
    it->after = it->rev ? it->blk->prev : it->blk->next;
    it->blk = NULL;
}

/*
 * Backward: decodes the entries of the block below it->lim, stopping at the
 * first ID past end, and keeps the newest STREAM_ITER_RING offsets.
 */
static void
stream_iter_fill(stream_iter *it)
{
    const stream_block *b = it->blk;
    uint32_t off = b->master_len, n = 0;
    stream__entry e;

    while (off < it->lim) {
        stream__entry_read(b, off, &e);
        if (stream_id_cmp(&e.id, &it->end) > 0) {
            it->lim = off; /* everything after is past end too */
            break;
        }
        it->ring[n & STREAM_ITER_MASK] = off;
        n++;
        off = stream__entry_end(b, &e);
    }
    if (n > STREAM_ITER_RING) {
        it->rhead = n & STREAM_ITER_MASK;
        it->rcount = STREAM_ITER_RING;
        it->rmore = 1;
        it->lim = it->ring[it->rhead]; /* next pass stops below the oldest kept */
    } else {
        it->rhead = 0;
        it->rcount = n;
        it->rmore = 0;
    }
}

/* Sets up the field cursor for entry e of the current block. */
static void
stream_iter_pick(stream_iter *it, const stream__entry *e, stream_id *id, size_t *npairs)
{
    it->cur = e->off;
    it->fpos = e->body;
    it->same = (e->flags & STREAM__FLAG_SAME) != 0;
    it->fleft = e->npairs;
    *id = e->id;
    *npairs = (size_t)e->npairs;
}

/*
 * Forward: entries below start are skipped (only the first block can hold
 * them) and the first one past end finishes the walk. Backward: the ring
 * holds only entries <= end, so the first one below start finishes it.
 * Deleted entries are skipped in both directions but still decoded, since
 * their bytes sit between live ones.
 */
int
stream_iter_next(stream_iter *it, stream_id *id, size_t *npairs)
{
    stream__entry e;

    it->cur = UINT32_MAX;
    it->fleft = 0;
    while (!it->done) {
        stream_block *b = it->blk;

        if (b == NULL) {
            if (it->after == NULL) {
                it->done = 1;
                break;
            }
            stream_iter_enter(it, it->after);
            continue;
        }
        if (!it->rev) {
            if (it->pos >= b->used) {
                stream_iter_leave(it);
                continue;
            }
            stream__entry_read(b, it->pos, &e);
            it->pos = stream__entry_end(b, &e);
            if (stream_id_cmp(&e.id, &it->start) < 0 || (e.flags & STREAM__FLAG_DELETED))
                continue;
            if (stream_id_cmp(&e.id, &it->end) > 0) {
                it->done = 1;
                break;
            }
        } else {
            if (it->rcount == 0) {
                if (!it->rmore) {
                    stream_iter_leave(it);
                    continue;
                }
                stream_iter_fill(it);
                continue;
            }
            it->rcount--;
            stream__entry_read(b, it->ring[(it->rhead + it->rcount) & STREAM_ITER_MASK], &e);
            if (stream_id_cmp(&e.id, &it->start) < 0) {
                it->done = 1;
                break;
            }
            if (e.flags & STREAM__FLAG_DELETED)
                continue;
        }
        stream_iter_pick(it, &e, id, npairs);
        return 1;
    }
    return 0;
}

/* Decodes master field idx of the current block into *out, moving the
 * iterator's master cursor (sequential reads cost one skip each). */
static void
stream_iter_master(stream_iter *it, uint64_t idx, stream_field *out)
{
    const stream_block *b = it->blk;
    uint64_t ref;

    assert(idx < b->master_count);
    if (idx < it->midx) {
        it->midx = 0;
        it->mpos = 0;
    }
    while (it->midx < idx) {
        it->mpos = (uint32_t)(stream__elem_skip(b->data + it->mpos) - b->data);
        it->midx++;
    }
    (void)stream__elem_get(b->data + it->mpos, out, it->fbuf, &ref);
}

/* SAME entries take field j from the master list; other entries hold a
 * literal or a reference to a master field. Values are always literal. */
int
stream_iter_field(stream_iter *it, stream_field *field, stream_field *value)
{
    const stream_block *b = it->blk;
    const unsigned char *p;
    uint64_t ref;

    if (it->cur == UINT32_MAX || it->fleft == 0)
        return 0;
    p = b->data + it->fpos;
    if (it->same) {
        stream_iter_master(it, b->master_count - it->fleft, field);
    } else {
        p = stream__elem_get(p, field, it->fbuf, &ref);
        if (ref != UINT64_MAX)
            stream_iter_master(it, ref, field);
    }
    p = stream__elem_get(p, value, it->vbuf, &ref);
    assert(ref == UINT64_MAX); /* values are never references */
    it->fpos = (uint32_t)(p - b->data);
    it->fleft--;
    return 1;
}

/* Flagging an entry moves no byte, so the iterator's offsets stay valid
 * unless the whole block goes; the neighbour is read before that. */
void
stream_iter_delete(stream_iter *it)
{
    stream_block *b = it->blk;
    stream_block *neighbour;
    stream__entry e;

    assert(it->cur != UINT32_MAX && b != NULL);
    neighbour = it->rev ? b->prev : b->next;
    stream__entry_read(b, it->cur, &e);
    it->cur = UINT32_MAX;
    it->fleft = 0;
    if (stream__entry_delete(it->s, b, &e)) {
        /* The block went with its last live entry: resume at the neighbour. */
        it->blk = NULL;
        it->after = neighbour;
    }
}

/* Leaves the iterator finished, so a stray stream_iter_next returns 0. */
void
stream_iter_stop(stream_iter *it)
{
    it->done = 1;
    it->blk = NULL;
    it->after = NULL;
    it->cur = UINT32_MAX;
}

/* ---- Raw walk (snapshots) ---- */

/* A forward walk over the whole stream whose next step does not skip
 * deleted entries; the range bounds are set only so that a stray
 * stream_iter_next behaves. */
void
stream_iter_start_raw(stream_iter *it, stream *s)
{
    stream_iter_start(it, s, NULL, NULL, 0);
    it->after = s->head;
}

int
stream_iter_next_raw(stream_iter *it, stream_id *id, size_t *npairs, int *deleted, int *block_start)
{
    stream__entry e;

    it->cur = UINT32_MAX;
    it->fleft = 0;
    while (!it->done) {
        stream_block *b = it->blk;

        if (b == NULL) {
            if (it->after == NULL) {
                it->done = 1;
                break;
            }
            stream_iter_enter(it, it->after);
            continue;
        }
        if (it->pos >= b->used) {
            stream_iter_leave(it);
            continue;
        }
        *block_start = it->pos == b->master_len;
        stream__entry_read(b, it->pos, &e);
        it->pos = stream__entry_end(b, &e);
        *deleted = (e.flags & STREAM__FLAG_DELETED) != 0;
        stream_iter_pick(it, &e, id, npairs);
        return 1;
    }
    return 0;
}
