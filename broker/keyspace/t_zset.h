/*
 * broker/keyspace/t_zset: the sorted set value type (distinct binary-safe
 * members, each with a double score, ordered by score then by member
 * bytes) in its two encodings, as Redis 7.0 has them.
 *
 * A small sorted set is "listpack": member/score pairs packed in order in
 * one ks_lp (member, score, member, score, ...), the score kept as its 8
 * raw double bytes so reading it back is exact. Once it holds more than
 * max_entries members, or a member longer than max_value bytes is stored,
 * it becomes "skiplist": a skiplist whose forward links carry span counts
 * (so a rank is found in O(log n)) plus a ks_dict member -> score for O(1)
 * ZSCORE. Conversion only grows on writes; store commands may create a
 * result directly in the encoding its size calls for (ks_zset_new).
 *
 *    ks_obj (type KS_ZSET)       listpack: ks_lp | m1 | s1 | m2 | s2 | ...
 *    | enc | ptr ---------->     skiplist: ks_zsl {dict member->node,
 *                                          head -> L0..L31 forward+span}
 *
 * Hot path: add/score/rank, O(n) over <= max_entries pairs for a listpack,
 * O(log n) for a skiplist. Not here: replies, argument parsing of
 * commands, the configuration that supplies the limits (the caller passes
 * them), score formatting (reply_double).
 */
#ifndef BROKER_KEYSPACE_T_ZSET_H
#define BROKER_KEYSPACE_T_ZSET_H

#include <stddef.h>
#include <stdint.h>

#include "broker/keyspace/obj.h"

/* Most levels a skiplist node may have (Redis uses 32, p = 1/4). */
#define KS_ZSL_MAXLEVEL 32

/* Conversion thresholds (zset-max-listpack-entries / -value). */
typedef struct ks_zset_limits {
    size_t max_entries; /* most members a listpack may hold */
    size_t max_value;   /* longest member a listpack may hold, bytes */
} ks_zset_limits;

/* A score interval for ZRANGEBYSCORE and friends: min..max, each end
 * inclusive unless its ex flag is set ("(1.5"). */
typedef struct ks_zrange {
    double min;
    double max;
    int minex; /* 1: min itself excluded */
    int maxex; /* 1: max itself excluded */
} ks_zrange;

/* A lexicographic interval for ZRANGEBYLEX and friends. Pointers borrow
 * the caller's argument bytes (after the leading '[' or '('). */
typedef struct ks_zlexrange {
    const char *min; /* bytes of the lower bound (unused when mininf) */
    size_t minlen;
    const char *max; /* bytes of the upper bound (unused when maxinf) */
    size_t maxlen;
    int minex;  /* 1: '(' exclusive lower bound */
    int maxex;  /* 1: '(' exclusive upper bound */
    int mininf; /* -1: "-" (below everything), +1: "+" (above everything), 0: bounded */
    int maxinf; /* -1: "-", +1: "+", 0: bounded */
} ks_zlexrange;

/* ZADD input flags. */
#define KS_ZADD_INCR (1 << 0) /* add score to the current one */
#define KS_ZADD_NX   (1 << 1) /* only add new members */
#define KS_ZADD_XX   (1 << 2) /* only update existing members */
#define KS_ZADD_GT   (1 << 3) /* only update when the new score is greater */
#define KS_ZADD_LT   (1 << 4) /* only update when the new score is lower */

/* ZADD outcome (one of them is set in *out). */
#define KS_ZADD_OUT_NOP     (1 << 0) /* nothing done (NX/XX/GT/LT refused it) */
#define KS_ZADD_OUT_ADDED   (1 << 1) /* member was new */
#define KS_ZADD_OUT_UPDATED (1 << 2) /* score changed */
#define KS_ZADD_OUT_SAME    (1 << 3) /* member existed with this exact score */

/* Stack iterator over a sorted set in order or reverse order. A returned
 * member is borrowed from the set: valid until the set changes. */
typedef struct ks_zset_iter {
    ks_obj *o;       /* sorted set walked */
    int rev;         /* 1: walk from high to low */
    size_t lppos;    /* listpack: position of the next member entry, 0 when done */
    void *node;      /* skiplist: next node, NULL when done */
    size_t left;     /* elements still to return (SIZE_MAX: unbounded) */
    int range;       /* 0 none, 1 score (zr), 2 lex (lr): stop when past it */
    ks_zrange zr;    /* score range when range == 1 */
    ks_zlexrange lr; /* lex range when range == 2 */
} ks_zset_iter;

/* Called by ks_zset_scan for each element; must not change the set. */
typedef void (*ks_zset_scan_fn)(void *priv, const char *m, size_t len, double score);

/* ---- Argument parsing (no replies: callers map -EINVAL to Redis's text) ---- */

/*
 * Parses a score as Redis's ZADD does: strtod over the whole text, "inf",
 * "+inf", "-inf" (any case) accepted, NaN and trailing bytes refused.
 * Returns 0 or -EINVAL.
 */
int ks_zset_parse_score(const void *s, size_t len, double *out);

/* Parses a score range ("(1", "-inf", "+inf", "5"); -EINVAL when either end
 * is not a float ("ERR min or max is not a float"). Returns 0. */
int ks_zset_parse_range(const void *min, size_t minlen, const void *max, size_t maxlen,
                        ks_zrange *out);

/* Parses a lex range ("[a", "(a", "-", "+"); -EINVAL when an end has any
 * other form ("ERR min or max not valid string range item"). Returns 0. */
int ks_zset_parse_lexrange(const void *min, size_t minlen, const void *max, size_t maxlen,
                           ks_zlexrange *out);

/* ---- Lifecycle ---- */

/* A new empty sorted set in the encoding Redis would choose for a result
 * of about `count` members whose longest is `maxlen` bytes: listpack when
 * count <= lim->max_entries and maxlen <= lim->max_value (and count is not
 * 0 with max_entries 0), else skiplist. The caller owns it. O(1). */
ks_obj *ks_zset_new(size_t count, size_t maxlen, const ks_zset_limits *lim);

/* Deep copy with the same encoding (COPY). O(n). */
ks_obj *ks_zset_dup(const ks_obj *o);

/* Frees the payload of o (ks_obj_free frees the header). O(n). */
void ks_zset_fini(ks_obj *o);

/* ---- Queries ---- */

/* Number of members. O(1). */
size_t ks_zset_count(const ks_obj *o);

/* 1 and *score when m is a member, else 0. O(n) listpack, O(1) skiplist. */
int ks_zset_score(ks_obj *o, const void *m, size_t len, double *score);

/* 0-based rank of m counted from the lowest (rev 0) or highest (rev 1),
 * and its score when score is not NULL; -1 when m is not a member.
 * O(n) listpack, O(log n) skiplist. */
long long ks_zset_rank(ks_obj *o, const void *m, size_t len, int rev, double *score);

/* Members whose score is in r / whose bytes are in lr. O(log n) skiplist
 * (via ranks), O(n) listpack. */
size_t ks_zset_count_range(ks_obj *o, const ks_zrange *r);
size_t ks_zset_count_lex(ks_obj *o, const ks_zlexrange *lr);

/* The element at rank (0-based, from the lowest; rev counts from the
 * highest): member borrowed, score. Returns 1, or 0 when out of range. */
int ks_zset_at(ks_obj *o, size_t rank, int rev, const char **m, size_t *len, double *score);

/* Longest member, in bytes (store commands' encoding choice). O(n). */
size_t ks_zset_max_member_len(ks_obj *o);

/* Bytes held by the payload (not the ks_obj header), for MEMORY USAGE. */
size_t ks_zset_mem(const ks_obj *o);

/*
 * Checks the payload: listpack pairs strictly ordered by (score, member),
 * no NaN; skiplist levels ordered, every span equal to the number of
 * level-0 steps it covers, backward links, length, and the dict holding
 * exactly the members with their scores. Returns 0 or -EINVAL. O(n log n).
 */
int ks_zset_check(ks_obj *o);

/* ---- Mutations ---- */

/*
 * ZADD/ZINCRBY core: sets member m (copied) to score, or adds score to the
 * current one with KS_ZADD_INCR, honouring NX/XX/GT/LT as Redis's zsetAdd
 * does. *out gets one KS_ZADD_OUT_* value; *newscore (may be NULL) the
 * member's score afterwards when it was added or updated (or would be,
 * for SAME). A listpack converts to a skiplist when the add passes the
 * limits. Returns 0, or -EDOM when INCR produces NaN (nothing changed:
 * "ERR resulting score is not a number (NaN)"). score must not be NaN.
 * A listpack stores -0.0 as 0.0, as Redis (whose listpack keeps scores as
 * text) does; *newscore still gets the computed value (ZADD INCR -0 on a
 * new member replies "-0", ZSCORE then says "0").
 * O(n) listpack, O(log n) skiplist.
 */
int ks_zset_add(ks_obj *o, double score, const void *m, size_t len, int flags, int *out,
                double *newscore, const ks_zset_limits *lim);

/* Removes m; returns 1 if it was a member, else 0. O(n) / O(log n). */
int ks_zset_del(ks_obj *o, const void *m, size_t len);

/* Removes ranks start..end inclusive (0-based from the lowest, already
 * clamped by the caller to 0 <= start <= end < count), the score range r,
 * or the lex range lr. Each returns the number removed. O(log n + removed). */
size_t ks_zset_del_rank(ks_obj *o, size_t start, size_t end);
size_t ks_zset_del_range(ks_obj *o, const ks_zrange *r);
size_t ks_zset_del_lex(ks_obj *o, const ks_zlexrange *lr);

/* Converts to KS_ENC_SKIPLIST or KS_ENC_LISTPACK (no-op when already). */
void ks_zset_convert(ks_obj *o, int enc);

/* ---- Traversal ---- */

/* Starts at rank `start` (0-based from the lowest, or from the highest when
 * rev) and returns at most `count` elements (SIZE_MAX: to the end). O(log n)
 * skiplist, O(n) listpack. */
void ks_zset_iter_rank(ks_zset_iter *it, ks_obj *o, size_t start, size_t count, int rev);

/* Starts at the first element inside r (the last one when rev) and stops
 * after the last element inside it; skips `offset` elements first and
 * returns at most `count` (SIZE_MAX: no limit) - ZRANGEBYSCORE LIMIT. */
void ks_zset_iter_range(ks_zset_iter *it, ks_obj *o, const ks_zrange *r, int rev, size_t offset,
                        size_t count);

/* The same over a lex range (members compared as bytes; meaningful when all
 * scores are equal, as in Redis). */
void ks_zset_iter_lex(ks_zset_iter *it, ks_obj *o, const ks_zlexrange *lr, int rev, size_t offset,
                      size_t count);

/* Next element: returns 1 with the borrowed member and its score, or 0 at
 * the end. The set must not change during the walk. */
int ks_zset_iter_next(ks_zset_iter *it, const char **m, size_t *len, double *score);

/* A random element of a non-empty set (borrowed member, score). rnd returns
 * uniform 64-bit values. O(1) expected skiplist via the dict, O(n) listpack. */
void ks_zset_random(ks_obj *o, uint64_t (*rnd)(void), const char **m, size_t *len, double *score);

/*
 * One SCAN step with the dict's cursor guarantees for a skiplist; calls fn
 * per element and returns the next cursor, 0 when done. A listpack reports
 * every element in order and returns 0. O(elements visited).
 */
uint64_t ks_zset_scan(ks_obj *o, uint64_t cursor, ks_zset_scan_fn fn, void *priv);

#endif /* BROKER_KEYSPACE_T_ZSET_H */
