/*
 * cg.h - consumer groups of one stream: the groups (name, last-delivered ID,
 * entries-read), their consumers (name, seen and active times), delivery of
 * new entries, and the lag, with Redis 7.4's rules.
 *
 * Design: a cg_set holds the groups of one stream in a radix tree keyed by
 * name, so they come out in byte order as XINFO GROUPS lists them. Each group
 * owns its pending-entry list (pel.h) and a radix tree of consumers by name.
 * The stream itself stays in streams/: functions that need its metadata
 * (first and last IDs, entries added, max deleted ID) take it as an argument.
 *
 *   cg_set --groups by name--> cg_group --consumers by name--> cg_consumer
 *                                 |  \                              |
 *                                 |   pel: id -> pel_entry (OWNED)  |
 *                                 |              ^                  |
 *                                 +--------------+---- pel: id -> pel_entry
 *                                                      (BORROWED from the group)
 *
 * Hot paths: cg_group_find and cg_consumer_find (one tree lookup each) and
 * cg_deliver (two tree inserts) on every XREADGROUP. Nothing here reads a
 * clock (callers pass now_ms), sees a client or writes a reply. Errors are 0
 * or a negative errno; -ENOMEM leaves the structures unchanged unless noted.
 */
#ifndef CONSUMERS_CG_H
#define CONSUMERS_CG_H

#include <stddef.h>
#include <stdint.h>

#include "streams/rax.h"
#include "streams/stream.h"

/* entries-read when it cannot be known (XINFO shows a null). */
#define CG_ENTRIES_READ_INVALID (-1)

/* active-time of a consumer that never received or claimed an entry. */
#define CG_NEVER_ACTIVE (-1)

typedef struct cg_set cg_set;           /* opaque: the groups of one stream */
typedef struct cg_group cg_group;       /* opaque: one consumer group */
typedef struct cg_consumer cg_consumer; /* opaque: one consumer of a group */

/*
 * Iterator over the groups of a set or the consumers of a group, in byte
 * order of their names. Lives on the stack; fields are private. The set or
 * group must not change while it is open, except through the object it is on.
 */
typedef struct cg_iter {
    rax_iter ri; /* walk of the names tree (private) */
} cg_iter;

/* ---- Process-wide setup ---- */

/*
 * Replaces the allocator behind CG_MALLOC/CG_FREE for every set, group,
 * consumer and pending entry (not their radix trees: see rax_set_allocator).
 * Both NULL restores libc. Only call while no set exists. O(1).
 */
void cg_set_allocator(void *(*malloc_fn)(size_t), void (*free_fn)(void *));

/* ---- Lifecycle ---- */

/* Returns an empty set, or NULL on ENOMEM. O(1). */
cg_set *cg_set_new(void);

/* Frees the set, every group, consumer and pending entry. NULL is a no-op.
 * O(groups + consumers + pending entries). */
void cg_set_free(cg_set *set);

/*
 * Deep copy (COPY): groups, consumers, pending entries with their owners,
 * times and counts. Returns 0 and the copy in *out, or -ENOMEM (nothing
 * allocated is left behind). O(size).
 */
int cg_set_dup(const cg_set *set, cg_set **out);

/* ---- Set queries ---- */

/* Groups in the set. O(1). */
uint64_t cg_set_count(const cg_set *set);

/* Bytes allocated for the set, its groups, consumers, pending entries and
 * all their trees (MEMORY USAGE, INFO). O(groups + consumers). */
size_t cg_set_mem(const cg_set *set);

/* The group named name[0..len), borrowed, or NULL. O(len). */
cg_group *cg_group_find(const cg_set *set, const void *name, size_t len);

/*
 * Whole-structure checker for tests: every tree, every pending entry owned
 * by exactly one consumer of its group and present in that consumer's PEL
 * (same pointer), consumer PEL sizes adding up to the group's, names equal
 * to their keys. Returns 0 or -EINVAL. O(size).
 */
int cg_check(const cg_set *set);

/* ---- Iteration ---- */

/* Starts a walk of the groups of set in name order. No allocation. O(1). */
void cg_iter_groups(cg_iter *it, const cg_set *set);

/* Starts a walk of the consumers of g in name order. No allocation. O(1). */
void cg_iter_consumers(cg_iter *it, const cg_group *g);

/* Next group of a cg_iter_groups walk: 1 and *out set, or 0 at the end.
 * O(1) amortized. */
int cg_iter_next_group(cg_iter *it, cg_group **out);

/* Next consumer of a cg_iter_consumers walk: 1 and *out set, or 0. */
int cg_iter_next_consumer(cg_iter *it, cg_consumer **out);

/* Ends a walk (frees iterator buffers). Idempotent. O(1). */
void cg_iter_stop(cg_iter *it);

/* ---- Set mutations ---- */

/*
 * Creates group name[0..len) with last-delivered ID *last_id and
 * entries_read (>= 0, or CG_ENTRIES_READ_INVALID). Returns 0 and the group
 * in *out (out may be NULL), -EEXIST when the name is taken (XGROUP CREATE
 * answers BUSYGROUP), or -ENOMEM. O(len).
 */
int cg_group_add(cg_set *set, const void *name, size_t len, const stream_id *last_id,
                 int64_t entries_read, cg_group **out);

/* Destroys group name[0..len) with its consumers and pending entries:
 * 1 destroyed, 0 no such group. O(len + consumers + pending). */
int cg_group_del(cg_set *set, const void *name, size_t len);

/* ---- Group queries (O(1)) ---- */

/* The group's name (not NUL-terminated), its length in *len. */
const void *cg_group_name(const cg_group *g, size_t *len);

/* Last-delivered ID. */
stream_id cg_group_last_id(const cg_group *g);

/* Logical read counter of the last-delivered ID, or CG_ENTRIES_READ_INVALID. */
int64_t cg_group_entries_read(const cg_group *g);

/* Consumers in the group. */
uint64_t cg_group_consumer_count(const cg_group *g);

/* Entries in the group's PEL (delivered, not acknowledged). */
uint64_t cg_group_pending_count(const cg_group *g);

/*
 * The group's lag: entries of s not yet delivered to it, as Redis 7.4's
 * streamReplyWithCGLag computes it. Returns 1 and the lag in *lag (it can be
 * negative after XGROUP SETID ... ENTRIESREAD with a large value), or 0 when
 * it cannot be known (deleted entries after the last-delivered ID and no
 * usable counter): XINFO shows a null. O(1).
 */
int cg_group_lag(const stream *s, const cg_group *g, int64_t *lag);

/*
 * Logical read counter of *id in s: how many entries were added up to it,
 * as Redis 7.4's streamEstimateDistanceFromFirstEverEntry. Exact for the last
 * ID, the first entry and IDs before it while no entry after them was
 * deleted; CG_ENTRIES_READ_INVALID otherwise. O(1).
 */
int64_t cg_estimate_entries_read(const stream *s, const stream_id *id);

/* ---- Group mutations ---- */

/* XGROUP SETID: last-delivered ID and entries-read (or invalid). O(1). */
void cg_group_set_id(cg_group *g, const stream_id *id, int64_t entries_read);

/*
 * Raises the last-delivered ID to *id when it is larger (XCLAIM LASTID),
 * leaving entries-read alone as Redis does. Returns 1 if it changed. O(1).
 */
int cg_group_raise_id(cg_group *g, const stream_id *id);

/*
 * Records that entry *id of s went out to consumer c of g (XREADGROUP ">"):
 * when id is past the last-delivered ID, the group moves to it and its
 * entries-read goes up by one, or is estimated again when deleted entries
 * lie ahead (Redis 7.4 rules). Unless noack, the entry enters the group PEL
 * and c's PEL with delivery time now_ms and count 1, taken from any other
 * consumer that held it (possible after XGROUP SETID moved the group back),
 * and c becomes active at now_ms. Returns 0 or -ENOMEM (nothing changed).
 * O(log pending).
 */
int cg_deliver(const stream *s, cg_group *g, cg_consumer *c, const stream_id *id, int noack,
               int64_t now_ms);

/* ---- Consumers ---- */

/* The consumer named name[0..len) of g, borrowed, or NULL. O(len). */
cg_consumer *cg_consumer_find(const cg_group *g, const void *name, size_t len);

/*
 * Creates consumer name[0..len) in g, seen at now_ms and never active.
 * Returns 0 and it in *out (out may be NULL), -EEXIST (the existing one in
 * *out), or -ENOMEM. O(len).
 */
int cg_consumer_add(cg_group *g, const void *name, size_t len, int64_t now_ms, cg_consumer **out);

/*
 * Deletes consumer c of g (XGROUP DELCONSUMER); its pending entries leave
 * the group PEL. Returns how many there were. Never fails. O(pending of c).
 */
uint64_t cg_consumer_del(cg_group *g, cg_consumer *c);

/* The consumer's name (not NUL-terminated), its length in *len. O(1). */
const void *cg_consumer_name(const cg_consumer *c, size_t *len);

/* Last time c tried to read or claim (XINFO CONSUMERS idle), ms. O(1). */
int64_t cg_consumer_seen_ms(const cg_consumer *c);

/* Last time c received or claimed an entry, ms, or CG_NEVER_ACTIVE
 * (XINFO CONSUMERS inactive, Redis 7.2+). O(1). */
int64_t cg_consumer_active_ms(const cg_consumer *c);

/* Entries in c's PEL. O(1). */
uint64_t cg_consumer_pending_count(const cg_consumer *c);

/* Marks c as seen at now_ms (every XREADGROUP, XCLAIM, XAUTOCLAIM). O(1). */
void cg_consumer_touch(cg_consumer *c, int64_t now_ms);

/* Snapshot load: restores c's seen time and active time (ms, or
 * CG_NEVER_ACTIVE) as saved. O(1). */
void cg_consumer_set_times(cg_consumer *c, int64_t seen_ms, int64_t active_ms);

#endif /* CONSUMERS_CG_H */
