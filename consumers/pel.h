/*
 * pel.h - pending-entry lists of consumer groups: entries delivered and not
 * yet acknowledged, with their owner, last delivery time and delivery count;
 * acknowledgement, claims (XCLAIM), automatic claims (XAUTOCLAIM) and walks.
 *
 * Ownership: each pending entry is one pel_entry, owned by its group's PEL
 * (a radix tree keyed by the 16-byte big-endian entry ID) and borrowed by
 * exactly one consumer's PEL, the consumer named in the entry (Redis's
 * shared streamNACK). Every function here keeps both trees in step, and
 * pel_check verifies it.
 *
 * Entries deleted from the stream (XDEL, XTRIM) stay pending until an ack,
 * or until XCLAIM/XAUTOCLAIM find them gone and drop them, as in Redis 7.
 * Hot paths: pel_ack (two tree removals) and pel_iter over a consumer's PEL
 * (XREADGROUP history). Callers pass now_ms; nothing here reads a clock.
 */
#ifndef CONSUMERS_PEL_H
#define CONSUMERS_PEL_H

#include <stddef.h>
#include <stdint.h>

#include "consumers/cg.h"
#include "streams/rax.h"
#include "streams/stream.h"

typedef struct pel_entry pel_entry; /* opaque: one pending entry */

/* Iterator over a group's or a consumer's PEL in ID order; on the stack,
 * fields private. Only pel_redeliver may change the PEL while it is open. */
typedef struct pel_iter {
    rax_iter ri; /* walk of the PEL tree (private) */
} pel_iter;

/* What pel_claim did with one ID. */
enum {
    PEL_CLAIM_SKIPPED = 0, /* not pending (and no FORCE), or idle below min_idle */
    PEL_CLAIM_CLAIMED = 1, /* now owned by the claiming consumer */
    PEL_CLAIM_DROPPED = 2  /* was pending but is gone from the stream: removed */
};

/* XCLAIM options (the caller parses and validates them). */
typedef struct pel_claim_opts {
    int64_t min_idle;    /* claim only entries idle at least this long, ms (0: any) */
    int64_t delivery_ms; /* new delivery time, ms since epoch; -1 for now_ms */
    int64_t retrycount;  /* new delivery count; -1 to add one (unless justid) */
    int force;           /* create the entry when the ID is in the stream but not pending */
    int justid;          /* JUSTID: leave the delivery count alone */
} pel_claim_opts;

/* ---- Entries (O(1)) ---- */

/* Last delivery time, ms since epoch. */
int64_t pel_entry_delivery_ms(const pel_entry *e);

/* Times delivered (XREADGROUP, XCLAIM, XAUTOCLAIM), or as set by RETRYCOUNT. */
uint64_t pel_entry_delivery_count(const pel_entry *e);

/* The consumer that holds the entry, borrowed. Never NULL. */
cg_consumer *pel_entry_owner(const pel_entry *e);

/* ---- Queries ---- */

/* The pending entry *id of g, borrowed, or NULL. O(log pending). */
pel_entry *pel_find(const cg_group *g, const stream_id *id);

/* Smallest (last = 0) or largest (last = 1) pending ID of g: 1 and *out,
 * or 0 when nothing is pending. O(height). */
int pel_edge(const cg_group *g, int last, stream_id *out);

/* Checker for one group (see cg_check, which calls it for every group). 0 or
 * -EINVAL. O(pending + consumers). */
int pel_check(const cg_group *g);

/* ---- Walks ---- */

/*
 * Starts a walk of g's PEL (c == NULL) or of consumer c's PEL, from the first
 * ID >= *start (NULL: from the beginning). Returns 0 or -ENOMEM. O(height).
 */
int pel_iter_start(pel_iter *it, const cg_group *g, const cg_consumer *c, const stream_id *start);

/* Next pending entry: 1 with its ID and entry (borrowed), or 0 at the end. */
int pel_iter_next(pel_iter *it, stream_id *id, pel_entry **e);

/* Ends a walk. Idempotent. O(1). */
void pel_iter_stop(pel_iter *it);

/* ---- Mutations ---- */

/* XACK one ID: removes it from the group PEL and its owner's PEL and frees
 * it. 1 if it was pending, 0 otherwise. Never fails. O(log pending). */
int pel_ack(cg_group *g, const stream_id *id);

/*
 * Snapshot load: makes *id pending in g, owned by c (a consumer of g), with
 * the saved last delivery time and delivery count, in both PELs. Returns 0,
 * -EEXIST when id is already pending in g, or -ENOMEM with nothing changed.
 * O(log pending).
 */
int pel_restore(cg_group *g, cg_consumer *c, const stream_id *id, int64_t delivery_ms,
                uint64_t delivery_count);

/* XREADGROUP history read of a pending entry that is still in the stream:
 * delivery time now_ms, one more delivery. O(1). */
void pel_redeliver(pel_entry *e, int64_t now_ms);

/*
 * XCLAIM one ID for consumer c of g, as Redis 7.4 does: an ID gone from s is
 * dropped from the PEL when pending (PEL_CLAIM_DROPPED) and skipped
 * otherwise; FORCE creates a missing entry for an ID still in s; an entry
 * idle less than o->min_idle (not one FORCE just made) is skipped. A claimed
 * entry moves to c, gets delivery time o->delivery_ms (now_ms when -1), its
 * count set to o->retrycount or raised by one unless o->justid, and c
 * becomes active at now_ms. Returns a PEL_CLAIM_* value, or -ENOMEM with
 * nothing changed. O(log N + log pending).
 */
int pel_claim(stream *s, cg_group *g, cg_consumer *c, const stream_id *id, const pel_claim_opts *o,
              int64_t now_ms);

/*
 * XAUTOCLAIM for consumer c of g: walks g's PEL from the first ID >= *start,
 * looking at no more than 10 * count entries, and stops after count entries
 * were claimed or dropped. Entries gone from s are dropped from the PEL and
 * their IDs written to deleted[]; entries idle at least min_idle ms move to c
 * with delivery time now_ms (count + 1 unless justid) and their IDs go to
 * claimed[]. Both arrays must hold min(count, pending of g) IDs. *next is the
 * ID to resume from, 0-0 when the walk reached the end. c becomes active
 * when it claims. Returns 0, or -ENOMEM (the entries handled before the
 * failure stay handled and are reported; the PEL stays consistent).
 * O(log pending + 10 * count * log N).
 */
int pel_autoclaim(stream *s, cg_group *g, cg_consumer *c, const stream_id *start, int64_t min_idle,
                  uint64_t count, int justid, int64_t now_ms, stream_id *claimed, size_t *nclaimed,
                  stream_id *deleted, size_t *ndeleted, stream_id *next);

/* 1 when entry *id is live in s (not deleted, not trimmed). O(log N + block). */
int pel_stream_has(stream *s, const stream_id *id);

#endif /* CONSUMERS_PEL_H */
