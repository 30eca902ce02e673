/*
 * stream_trim.c - MAXLEN / MINID trimming from the head of a stream (XTRIM,
 * and XADD with a trim clause).
 *
 * Follows Redis 7's streamTrim step for step: whole blocks are dropped from
 * the head while the strategy allows; approximate trimming stops at the
 * first block that cannot go whole, exact trimming then flags entries
 * deleted inside that one block. The LIMIT check runs per block before
 * anything is removed from it. Unlike XDEL, trimming leaves
 * max-deleted-entry-id alone (Redis 7.0 does too). Hot path: XADD MAXLEN ~,
 * which usually drops one block or nothing; it walks the block chain and
 * never allocates. Not here: argument parsing or the default LIMIT (broker/).
 */
#include "streams/stream.h"

#include "streams/stream_int.h"

#include <assert.h>

/* ID of the last entry stored in b, deleted or not (Redis's lpGetEdgeStreamID). */
static stream_id
stream_trim_block_last(const stream_block *b)
{
    stream__entry e;

    stream__entry_read(b, b->last_off, &e);
    return e.id;
}

/*
 * Exact trimming inside block b: flags entries deleted from the front while
 * the strategy still asks for it. Returns the entries removed; frees b if
 * none stays live.
 */
static int64_t
stream_trim_inside(stream *s, stream_block *b, int strategy, uint64_t maxlen,
                   const stream_id *minid)
{
    uint32_t off;
    int64_t removed = 0;
    stream__entry e;

    for (off = b->master_len; off < b->used; off = stream__entry_end(b, &e)) {
        stream__entry_read(b, off, &e);
        if (strategy == STREAM_TRIM_MAXLEN ? s->length <= maxlen : stream_id_cmp(&e.id, minid) >= 0)
            break;
        if (e.flags & STREAM__FLAG_DELETED)
            continue;
        b->data[off] |= STREAM__FLAG_DELETED;
        b->live--;
        s->length--;
        removed++;
    }
    /* MINID can flag every live entry when the block's tail was already
     * deleted (Redis then keeps an empty listpack; we drop the block). */
    if (b->live == 0)
        stream__block_drop(s, b);
    return removed;
}

int64_t
stream_trim(stream *s, int strategy, uint64_t maxlen, const stream_id *minid, int approx,
            int64_t limit)
{
    int64_t removed = 0;
    stream_block *b;

    assert(strategy == STREAM_TRIM_MAXLEN || strategy == STREAM_TRIM_MINID);
    assert(strategy == STREAM_TRIM_MAXLEN || minid != NULL);
    while ((b = s->head) != NULL) {
        int64_t entries = (int64_t)b->live;
        int whole;

        if (strategy == STREAM_TRIM_MAXLEN && s->length <= maxlen)
            break;
        if (limit > 0 && removed + entries > limit)
            break;
        if (strategy == STREAM_TRIM_MAXLEN) {
            whole = s->length - b->live >= maxlen;
        } else {
            stream_id last = stream_trim_block_last(b);

            whole = stream_id_cmp(&last, minid) < 0;
        }
        if (whole) {
            s->length -= b->live;
            removed += entries;
            stream__block_drop(s, b);
            continue;
        }
        if (!approx)
            removed += stream_trim_inside(s, b, strategy, maxlen, minid);
        break; /* this block keeps entries, so later blocks keep all theirs */
    }
    if (s->length == 0)
        s->first_id.ms = s->first_id.seq = 0;
    else if (removed > 0)
        stream__refresh_first(s);
    return removed;
}
