/*
 * broker/commands/zset: the sorted set commands: ZADD, ZINCRBY, ZREM, the
 * queries (ZCARD, ZCOUNT, ZLEXCOUNT, ZSCORE, ZMSCORE, ZRANK, ZREVRANK), the
 * ZRANGE family and ZRANGESTORE, ZREMRANGEBY*, the pops (ZPOPMIN/MAX,
 * ZMPOP, blocking BZPOPMIN/MAX, BZMPOP), ZRANDMEMBER, ZUNION/ZINTER/ZDIFF
 * (+STORE), ZINTERCARD and ZSCAN.
 *
 * Handlers check in Redis 7.0's order (options and numbers, then each key's
 * type) and delete a set when its last member goes. Stored results are
 * built the way Redis 7.0 builds them, so they end in its encoding and keep
 * a -0 score only where its skiplist would. A blocking pop that finds
 * nothing hands its arguments to c->host->block and is run again when a key
 * changes; a pop is recorded as ZPOPMIN/ZPOPMAX key [count], as Redis does.
 *
 * Hot path: ZADD/ZSCORE/ZRANK (one lookup, one engine call). Not here: the
 * value type (keyspace/t_zset), score text (reply_double), scan.c plumbing.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/commands/families.h"
#include "broker/commands/scan_int.h"
#include "broker/config/config.h"
#include "broker/keyspace/t_set.h"
#include "broker/keyspace/t_zset.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

#define ZSET_FLOAT_ERR  "ERR value is not a valid float"
#define ZSET_RANGE_ERR  "ERR min or max is not a float"
#define ZSET_LEX_ERR    "ERR min or max not valid string range item"
#define ZSET_NAN_ERR    "ERR resulting score is not a number (NaN)"
#define ZSET_POS_ERR    "ERR value is out of range, must be positive"
#define ZSET_NUMKEY_ERR "ERR numkeys should be greater than 0"
#define ZSET_RAND_ERR                                                                              \
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"

/* Longest score text: "%.17g" of a double fits in 32 bytes. */
#define ZSET_SCORE_BUF 32

/* AGGREGATE modes of ZUNION/ZINTER. */
enum zset_aggr { ZSET_AGGR_SUM, ZSET_AGGR_MIN, ZSET_AGGR_MAX };

/* The algebra operations. */
enum zset_op { ZSET_OP_UNION, ZSET_OP_INTER, ZSET_OP_DIFF };

/* ZRANGE kinds and directions; AUTO until an option or the command fixes them. */
enum zset_rtype { ZSET_BY_AUTO, ZSET_BY_RANK, ZSET_BY_SCORE, ZSET_BY_LEX };
enum zset_rdir { ZSET_DIR_AUTO, ZSET_DIR_FWD, ZSET_DIR_REV };

/* ------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------ */

/* xorshift64* state for ZRANDMEMBER, seeded on first use. */
static uint64_t zset_rng_state;

/* Next pseudo-random 64-bit value (not for anything secret). */
static uint64_t
zset_rng(void)
{
    uint64_t x = zset_rng_state;
    if (x == 0)
        x = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&zset_rng_state ^ 0xD1B54A32D192ED03ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    zset_rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A uniformly random element of the non-empty set o, by rank: Redis draws
 * a skiplist's element from its dict, which favours members of sparse
 * buckets; a rank is fair and O(log n). */
static void
zset_random(ks_obj *o, const char **m, size_t *len, double *score)
{
    ks_zset_at(o, (size_t)(zset_rng() % ks_zset_count(o)), 0, m, len, score);
}

/* The listpack limits as configured right now. */
static ks_zset_limits
zset_limits(void)
{
    ks_zset_limits lim;
    lim.max_entries = (size_t)config.zset_max_listpack_entries;
    lim.max_value = (size_t)config.zset_max_listpack_value;
    return lim;
}

/* Looks up the sorted set under argv[i] for reading or writing. Returns
 * it, or NULL with *bad 0 when missing, or NULL with *bad 1 after
 * replying WRONGTYPE. */
static ks_obj *
zset_lookup(cmd_ctx *c, int i, int write, int *bad)
{
    ks_obj *o = write ? cmd_lookup_write(c, i) : cmd_lookup_read(c, i);
    *bad = 0;
    if (o != NULL && o->type != KS_ZSET) {
        cmd_reply_wrongtype(c);
        *bad = 1;
        return NULL;
    }
    return o;
}

/* Deletes the emptied sorted set under argv[i] and fires "del". Returns 1
 * when it did. */
static int
zset_del_if_empty(cmd_ctx *c, ks_obj *o, int i)
{
    if (ks_zset_count(o) != 0)
        return 0;
    ks_del(c->db, c->argv[i].ptr, c->argv[i].len);
    cmd_notify(c, NOTIFY_GENERIC, "del", c->argv[i].ptr, c->argv[i].len);
    return 1;
}

/* The array header for n elements, doubled for RESP2 WITHSCORES (RESP3
 * nests each member/score pair instead). */
static void
zset_reply_hdr(cmd_ctx *c, long long n, int withscores)
{
    reply_array(c->r, withscores && c->r->resp < 3 ? n * 2 : n);
}

/* One element of a range reply. */
static void
zset_reply_elem(cmd_ctx *c, const char *m, size_t len, double score, int withscores)
{
    if (withscores && c->r->resp >= 3)
        reply_array(c->r, 2);
    reply_bulk(c->r, m, len);
    if (withscores)
        reply_double(c->r, score);
}

/*
 * Stores result res (owned, may be NULL) under argv[dst], or deletes the
 * key when res is empty; replies the size and fires event (or "del"),
 * after the reply as Redis does. One change either way (cmd_key_changed).
 */
static void
zset_store(cmd_ctx *c, int dst, ks_obj *res, const char *event)
{
    const resp_arg *k = &c->argv[dst];
    size_t n = res ? ks_zset_count(res) : 0;
    if (n > 0) {
        ks_set(c->db, k->ptr, k->len, res, 0);
        cmd_key_changed(c, k->ptr, k->len);
        reply_int(c->r, (long long)n);
        cmd_notify(c, NOTIFY_ZSET, event, k->ptr, k->len);
        return;
    }
    ks_obj_free(res);
    reply_int(c->r, 0);
    if (ks_del(c->db, k->ptr, k->len)) {
        cmd_key_changed(c, k->ptr, k->len);
        cmd_notify(c, NOTIFY_GENERIC, "del", k->ptr, k->len);
    }
}

/* ------------------------------------------------------------------------
 * ZADD, ZINCRBY, ZREM
 * ------------------------------------------------------------------------ */

/* Parses the ZADD flags from argv[2] on; returns the index of the first
 * score. ZINCRBY goes through here too, so "ZINCRBY k nx m" is parsed as
 * a flag and then fails the pair count, as in Redis. */
static int
zset_add_flags(cmd_ctx *c, int *flags, int *ch)
{
    int i = 2;
    for (; i < c->argc; i++) {
        if (cmd_arg_is(c, i, "nx"))
            *flags |= KS_ZADD_NX;
        else if (cmd_arg_is(c, i, "xx"))
            *flags |= KS_ZADD_XX;
        else if (cmd_arg_is(c, i, "ch"))
            *ch = 1;
        else if (cmd_arg_is(c, i, "incr"))
            *flags |= KS_ZADD_INCR;
        else if (cmd_arg_is(c, i, "gt"))
            *flags |= KS_ZADD_GT;
        else if (cmd_arg_is(c, i, "lt"))
            *flags |= KS_ZADD_LT;
        else
            break;
    }
    return i;
}

/* The flag combinations Redis refuses, in its order; -1 after replying. */
static int
zset_add_check(cmd_ctx *c, int flags, int pairs)
{
    int nx = flags & KS_ZADD_NX, gt = flags & KS_ZADD_GT, lt = flags & KS_ZADD_LT;
    if (nx && (flags & KS_ZADD_XX)) {
        reply_error(c->r, "ERR XX and NX options at the same time are not compatible");
        return -1;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(c->r, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return -1;
    }
    if ((flags & KS_ZADD_INCR) && pairs > 1) {
        reply_error(c->r, "ERR INCR option supports a single increment-element pair");
        return -1;
    }
    return 0;
}

/*
 * ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ... and ZINCRBY (flags
 * KS_ZADD_INCR). Replies the number added (changed with CH) or, with INCR,
 * the new score or a null when the flags refused it. Events after the
 * reply: "zadd" (or "zincr") when anything changed.
 */
static void
zset_add_generic(cmd_ctx *c, int flags)
{
    const resp_arg *k = &c->argv[1];
    ks_zset_limits lim = zset_limits();
    long long added = 0, updated = 0, processed = 0;
    int ch = 0, bad, first, pairs;
    double *scores, newscore = 0;
    ks_obj *o;

    first = zset_add_flags(c, &flags, &ch);
    pairs = c->argc - first;
    if (pairs == 0 || pairs % 2) {
        cmd_reply_syntax(c);
        return;
    }
    pairs /= 2;
    if (zset_add_check(c, flags, pairs) < 0)
        return;
    scores = util_malloc((size_t)pairs * sizeof(*scores));
    for (int j = 0; j < pairs; j++) {
        const resp_arg *s = &c->argv[first + 2 * j];
        if (ks_zset_parse_score(s->ptr, s->len, &scores[j]) != 0) {
            reply_error(c->r, ZSET_FLOAT_ERR);
            util_free(scores);
            return;
        }
    }
    o = zset_lookup(c, 1, 1, &bad);
    if (bad)
        goto out;
    if (o == NULL) {
        if (flags & KS_ZADD_XX) {
            if (flags & KS_ZADD_INCR)
                reply_null(c->r);
            else
                reply_int(c->r, 0);
            goto out;
        }
        /* Redis 7.0 picks the encoding from the first member alone. */
        o = ks_zset_new(1, c->argv[first + 1].len, &lim);
        ks_add(c->db, k->ptr, k->len, o);
    }
    for (int j = 0; j < pairs; j++) {
        const resp_arg *m = &c->argv[first + 2 * j + 1];
        int res = 0;
        if (ks_zset_add(o, scores[j], m->ptr, m->len, flags, &res, &newscore, &lim) != 0) {
            reply_error(c->r, ZSET_NAN_ERR);
            goto changed;
        }
        added += (res & KS_ZADD_OUT_ADDED) != 0;
        updated += (res & KS_ZADD_OUT_UPDATED) != 0;
        processed += (res & KS_ZADD_OUT_NOP) == 0;
    }
    if (!(flags & KS_ZADD_INCR))
        reply_int(c->r, ch ? added + updated : added);
    else if (processed)
        reply_double(c->r, newscore);
    else
        reply_null(c->r);
changed:
    if (added + updated > 0) {
        cmd_key_changed(c, k->ptr, k->len);
        c->dirty += added + updated - 1; /* one change per member touched */
        cmd_notify(c, NOTIFY_ZSET, (flags & KS_ZADD_INCR) ? "zincr" : "zadd", k->ptr, k->len);
    }
out:
    util_free(scores);
}

/* ZADD: see zset_add_generic. */
static void
cmd_zadd(cmd_ctx *c)
{
    zset_add_generic(c, 0);
}

/* ZINCRBY key increment member: ZADD INCR with the same parser, so its
 * errors (and its reply, the new score) are ZADD's. */
static void
cmd_zincrby(cmd_ctx *c)
{
    zset_add_generic(c, KS_ZADD_INCR);
}

/* ZREM: stops once the set is gone; events "zrem" then "del". */
static void
cmd_zrem(cmd_ctx *c)
{
    const resp_arg *k = &c->argv[1];
    long long deleted = 0;
    int bad, removed = 0;
    ks_obj *o = zset_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_int(c->r, 0);
        return;
    }
    for (int i = 2; i < c->argc; i++) {
        deleted += ks_zset_del(o, c->argv[i].ptr, c->argv[i].len);
        if (ks_zset_count(o) == 0) {
            ks_del(c->db, k->ptr, k->len);
            removed = 1;
            break;
        }
    }
    if (deleted) {
        cmd_notify(c, NOTIFY_ZSET, "zrem", k->ptr, k->len);
        if (removed)
            cmd_notify(c, NOTIFY_GENERIC, "del", k->ptr, k->len);
        cmd_key_changed(c, k->ptr, k->len);
        c->dirty += deleted - 1;
    }
    reply_int(c->r, deleted);
}

/* ------------------------------------------------------------------------
 * ZCARD, ZCOUNT, ZLEXCOUNT, ZSCORE, ZMSCORE, ZRANK, ZREVRANK
 * ------------------------------------------------------------------------ */

/* ZCARD: 0 for a missing key. */
static void
cmd_zcard(cmd_ctx *c)
{
    int bad;
    ks_obj *o = zset_lookup(c, 1, 0, &bad);
    if (!bad)
        reply_int(c->r, o ? (long long)ks_zset_count(o) : 0);
}

/* ZCOUNT key min max: the range is parsed before the key is looked up, so
 * a bad range wins over WRONGTYPE, as in Redis. */
static void
cmd_zcount(cmd_ctx *c)
{
    ks_zrange r;
    int bad;
    ks_obj *o;
    if (ks_zset_parse_range(c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr, c->argv[3].len, &r) !=
        0) {
        reply_error(c->r, ZSET_RANGE_ERR);
        return;
    }
    o = zset_lookup(c, 1, 0, &bad);
    if (!bad)
        reply_int(c->r, o ? (long long)ks_zset_count_range(o, &r) : 0);
}

/* ZLEXCOUNT key min max: the same order of checks as ZCOUNT. Only
 * meaningful when every score is equal (as in Redis). */
static void
cmd_zlexcount(cmd_ctx *c)
{
    ks_zlexrange lr;
    int bad;
    ks_obj *o;
    if (ks_zset_parse_lexrange(c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr, c->argv[3].len,
                               &lr) != 0) {
        reply_error(c->r, ZSET_LEX_ERR);
        return;
    }
    o = zset_lookup(c, 1, 0, &bad);
    if (!bad)
        reply_int(c->r, o ? (long long)ks_zset_count_lex(o, &lr) : 0);
}

/* ZSCORE: the score through reply_double (RESP2 bulk "%.17g", RESP3
 * double), or a null. */
static void
cmd_zscore(cmd_ctx *c)
{
    double score;
    int bad;
    ks_obj *o = zset_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    if (o != NULL && ks_zset_score(o, c->argv[2].ptr, c->argv[2].len, &score))
        reply_double(c->r, score);
    else
        reply_null(c->r);
}

/* ZMSCORE: one score or null per member; a missing key gives all nulls. */
static void
cmd_zmscore(cmd_ctx *c)
{
    double score;
    int bad;
    ks_obj *o = zset_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    reply_array(c->r, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        if (o != NULL && ks_zset_score(o, c->argv[i].ptr, c->argv[i].len, &score))
            reply_double(c->r, score);
        else
            reply_null(c->r);
    }
}

/* ZRANK/ZREVRANK key member (Redis 7.0 has no WITHSCORE: a third
 * argument is an arity error). A rank, or a null. */
static void
zset_rank_generic(cmd_ctx *c, int rev)
{
    long long rank = -1;
    int bad;
    ks_obj *o = zset_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    if (o != NULL)
        rank = ks_zset_rank(o, c->argv[2].ptr, c->argv[2].len, rev, NULL);
    if (rank < 0)
        reply_null(c->r);
    else
        reply_int(c->r, rank);
}

static void
cmd_zrank(cmd_ctx *c)
{
    zset_rank_generic(c, 0);
}

static void
cmd_zrevrank(cmd_ctx *c)
{
    zset_rank_generic(c, 1);
}

/* ------------------------------------------------------------------------
 * The ZRANGE family
 * ------------------------------------------------------------------------ */

/* Clamps rank bounds start..end against n as Redis does; returns 0 when
 * the range is empty, else 1 with 0 <= *start <= *end < n. */
static int
zset_clamp_ranks(long long n, long long *start, long long *end)
{
    if (*start < 0)
        *start += n;
    if (*end < 0)
        *end += n;
    if (*start < 0)
        *start = 0;
    if (*start > *end || *start >= n)
        return 0;
    if (*end >= n)
        *end = n - 1;
    return 1;
}

/*
 * Stores what it yields under argv[dst] ("zrangestore") the way Redis 7.0
 * builds it: a skiplist when the rank range is known to be longer than
 * zset-max-listpack-entries (n > limit), else a listpack that converts
 * while the elements are added in reply order. The order matters beyond
 * the encoding: a listpack keeps no negative zero, so a -0 score added
 * before the conversion is stored as 0, one added after it stays -0.
 */
static void
zset_store_iter(cmd_ctx *c, int dst, ks_zset_iter *it, long long n)
{
    ks_zset_limits lim = zset_limits();
    ks_obj *res =
        n > (long long)lim.max_entries ? ks_zset_new(SIZE_MAX, 0, &lim) : ks_zset_new(0, 0, &lim);
    const char *m;
    size_t len;
    double score;

    while (ks_zset_iter_next(it, &m, &len, &score)) {
        int out;
        ks_zset_add(res, score, m, len, 0, &out, NULL, &lim);
    }
    zset_store(c, dst, res, "zrangestore");
}

/* Replies what it yields; n is the count when known, -1 for a deferred
 * array header. */
static void
zset_reply_iter(cmd_ctx *c, ks_zset_iter *it, long long n, int withscores)
{
    size_t mark = 0, len;
    long long got = 0;
    const char *m;
    double score;

    if (n >= 0)
        zset_reply_hdr(c, n, withscores);
    else
        mark = reply_defer(c->r);
    while (ks_zset_iter_next(it, &m, &len, &score)) {
        zset_reply_elem(c, m, len, score, withscores);
        got++;
    }
    if (n < 0)
        reply_defer_array(c->r, mark, withscores && c->r->resp < 3 ? got * 2 : got);
}

/* Parses the options after <key> <min> <max>; returns 0 or -1 after
 * replying. Each of REV, BYSCORE/BYLEX is accepted only while the
 * command has not fixed it. */
static int
zset_range_opts(cmd_ctx *c, int first, int store, enum zset_rtype *type, enum zset_rdir *dir,
                int *withscores, long long *offset, long long *limit)
{
    for (int j = first; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (!store && cmd_arg_is(c, j, "withscores")) {
            *withscores = 1;
        } else if (cmd_arg_is(c, j, "limit") && left >= 2) {
            if (cmd_get_ll_or_reply(c, j + 1, offset, NULL) < 0 ||
                cmd_get_ll_or_reply(c, j + 2, limit, NULL) < 0)
                return -1;
            j += 2;
        } else if (*dir == ZSET_DIR_AUTO && cmd_arg_is(c, j, "rev")) {
            *dir = ZSET_DIR_REV;
        } else if (*type == ZSET_BY_AUTO && cmd_arg_is(c, j, "bylex")) {
            *type = ZSET_BY_LEX;
        } else if (*type == ZSET_BY_AUTO && cmd_arg_is(c, j, "byscore")) {
            *type = ZSET_BY_SCORE;
        } else {
            cmd_reply_syntax(c);
            return -1;
        }
    }
    return 0;
}

/*
 * The ZRANGE family: the key at argv[at], min and max after it, options
 * after those; store writes the result under argv[1] (ZRANGESTORE). Order
 * of checks as Redis 7.0: options, their conflicts, the range, the key.
 * A negative LIMIT offset gives nothing and a negative count no limit,
 * as Redis's loops do.
 */
static void
zset_range_generic(cmd_ctx *c, int at, int store, enum zset_rtype type, enum zset_rdir dir)
{
    int minidx = at + 1, maxidx = at + 2, withscores = 0, bad, rev;
    long long offset = 0, limit = -1, start = 0, end = 0;
    ks_zrange zr;
    ks_zlexrange lr;
    ks_zset_iter it;
    ks_obj *o;

    if (zset_range_opts(c, at + 3, store, &type, &dir, &withscores, &offset, &limit) < 0)
        return;
    rev = dir == ZSET_DIR_REV;
    if (type == ZSET_BY_AUTO)
        type = ZSET_BY_RANK;
    if (limit != -1 && type == ZSET_BY_RANK) {
        reply_error(c->r, "ERR syntax error, LIMIT is only supported in combination with either "
                          "BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == ZSET_BY_LEX) {
        reply_error(c->r, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    if (rev && type != ZSET_BY_RANK) {
        /* The range is given as max, min. */
        minidx = at + 2;
        maxidx = at + 1;
    }
    const resp_arg *a = &c->argv[minidx], *b = &c->argv[maxidx];
    if (type == ZSET_BY_RANK) {
        if (cmd_get_ll_or_reply(c, minidx, &start, NULL) < 0 ||
            cmd_get_ll_or_reply(c, maxidx, &end, NULL) < 0)
            return;
    } else if (type == ZSET_BY_SCORE) {
        if (ks_zset_parse_range(a->ptr, a->len, b->ptr, b->len, &zr) != 0) {
            reply_error(c->r, ZSET_RANGE_ERR);
            return;
        }
    } else if (ks_zset_parse_lexrange(a->ptr, a->len, b->ptr, b->len, &lr) != 0) {
        reply_error(c->r, ZSET_LEX_ERR);
        return;
    }
    o = zset_lookup(c, at, 0, &bad);
    if (bad)
        return;
    if (o == NULL) {
        if (store)
            zset_store(c, 1, NULL, "zrangestore");
        else
            reply_empty_array(c->r);
        return;
    }
    long long n = (long long)ks_zset_count(o), known = -1;
    if (type == ZSET_BY_RANK) {
        known = zset_clamp_ranks(n, &start, &end) ? end - start + 1 : 0;
        /* An empty range still gets an iterator, one that yields nothing. */
        ks_zset_iter_rank(&it, o, known ? (size_t)start : 0, (size_t)known, rev);
    } else {
        size_t off = (size_t)offset, cnt = limit < 0 ? SIZE_MAX : (size_t)limit;
        if (offset < 0 || (offset > 0 && offset >= n))
            cnt = 0;
        if (cnt == 0)
            off = 0;
        if (type == ZSET_BY_SCORE)
            ks_zset_iter_range(&it, o, &zr, rev, off, cnt);
        else
            ks_zset_iter_lex(&it, o, &lr, rev, off, cnt);
    }
    if (store)
        zset_store_iter(c, 1, &it, known);
    else
        zset_reply_iter(c, &it, known, withscores);
}

/* ZRANGE key min max [BYSCORE|BYLEX] [REV] [LIMIT o c] [WITHSCORES], and
 * the legacy forms below, which fix the kind and direction up front so
 * that repeating them as options is a syntax error. */
static void
cmd_zrange(cmd_ctx *c)
{
    zset_range_generic(c, 1, 0, ZSET_BY_AUTO, ZSET_DIR_AUTO);
}

static void
cmd_zrangestore(cmd_ctx *c)
{
    zset_range_generic(c, 2, 1, ZSET_BY_AUTO, ZSET_DIR_AUTO);
}

static void
cmd_zrevrange(cmd_ctx *c)
{
    zset_range_generic(c, 1, 0, ZSET_BY_RANK, ZSET_DIR_REV);
}

static void
cmd_zrangebyscore(cmd_ctx *c)
{
    zset_range_generic(c, 1, 0, ZSET_BY_SCORE, ZSET_DIR_FWD);
}

static void
cmd_zrevrangebyscore(cmd_ctx *c)
{
    zset_range_generic(c, 1, 0, ZSET_BY_SCORE, ZSET_DIR_REV);
}

static void
cmd_zrangebylex(cmd_ctx *c)
{
    zset_range_generic(c, 1, 0, ZSET_BY_LEX, ZSET_DIR_FWD);
}

static void
cmd_zrevrangebylex(cmd_ctx *c)
{
    zset_range_generic(c, 1, 0, ZSET_BY_LEX, ZSET_DIR_REV);
}

/* ------------------------------------------------------------------------
 * ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX
 * ------------------------------------------------------------------------ */

/* type is ZSET_BY_RANK, _SCORE or _LEX; the range is parsed before the
 * key is looked up. Events: the command's name, then "del". */
static void
zset_remrange_generic(cmd_ctx *c, enum zset_rtype type)
{
    const resp_arg *k = &c->argv[1], *a = &c->argv[2], *b = &c->argv[3];
    long long start = 0, end = 0;
    size_t deleted = 0;
    ks_zrange zr;
    ks_zlexrange lr;
    const char *event;
    int bad, removed;
    ks_obj *o;

    if (type == ZSET_BY_RANK) {
        if (cmd_get_ll_or_reply(c, 2, &start, NULL) < 0 ||
            cmd_get_ll_or_reply(c, 3, &end, NULL) < 0)
            return;
        event = "zremrangebyrank";
    } else if (type == ZSET_BY_SCORE) {
        if (ks_zset_parse_range(a->ptr, a->len, b->ptr, b->len, &zr) != 0) {
            reply_error(c->r, ZSET_RANGE_ERR);
            return;
        }
        event = "zremrangebyscore";
    } else {
        if (ks_zset_parse_lexrange(a->ptr, a->len, b->ptr, b->len, &lr) != 0) {
            reply_error(c->r, ZSET_LEX_ERR);
            return;
        }
        event = "zremrangebylex";
    }
    o = zset_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_int(c->r, 0);
        return;
    }
    if (type == ZSET_BY_RANK) {
        if (zset_clamp_ranks((long long)ks_zset_count(o), &start, &end))
            deleted = ks_zset_del_rank(o, (size_t)start, (size_t)end);
    } else if (type == ZSET_BY_SCORE) {
        deleted = ks_zset_del_range(o, &zr);
    } else {
        deleted = ks_zset_del_lex(o, &lr);
    }
    if (deleted) {
        removed = ks_zset_count(o) == 0;
        if (removed)
            ks_del(c->db, k->ptr, k->len);
        cmd_key_changed(c, k->ptr, k->len);
        cmd_notify(c, NOTIFY_ZSET, event, k->ptr, k->len);
        if (removed)
            cmd_notify(c, NOTIFY_GENERIC, "del", k->ptr, k->len);
        c->dirty += (long long)deleted - 1;
    }
    reply_int(c->r, (long long)deleted);
}

/* The ZREMRANGEBY* entry points: ranks are clamped as ZRANGE clamps them;
 * an empty clamped range removes nothing and fires nothing. */
static void
cmd_zremrangebyrank(cmd_ctx *c)
{
    zset_remrange_generic(c, ZSET_BY_RANK);
}

static void
cmd_zremrangebyscore(cmd_ctx *c)
{
    zset_remrange_generic(c, ZSET_BY_SCORE);
}

static void
cmd_zremrangebylex(cmd_ctx *c)
{
    zset_remrange_generic(c, ZSET_BY_LEX);
}

/* ------------------------------------------------------------------------
 * Pops: ZPOPMIN, ZPOPMAX, ZMPOP, BZPOPMIN, BZPOPMAX, BZMPOP
 * ------------------------------------------------------------------------ */

/*
 * Pops up to count (>= 1) elements from the low end (max 0) or high end of
 * the non-empty set o under argv[i] and replies them: flat member/score
 * pairs, or nested pairs (nested), after the key (emitkey). Shapes:
 *   ZPOPMIN RESP2 / no count  [m, s, ...]      BZPOPMIN   [key, m, s]
 *   ZPOPMIN count, RESP3      [[m, s], ...]    (B)ZMPOP   [key, [[m, s], ...]]
 * Events "zpopmin"/"zpopmax" (after the header, as Redis), then "del".
 */
static void
zset_pop(cmd_ctx *c, int i, ks_obj *o, int max, int emitkey, long long count, int nested)
{
    const resp_arg *k = &c->argv[i];
    long long n = (long long)ks_zset_count(o);
    long long take = count < n ? count : n;

    if (!emitkey) {
        reply_array(c->r, nested ? take : take * 2);
    } else if (!nested) {
        reply_array(c->r, take * 2 + 1);
        reply_bulk(c->r, k->ptr, k->len);
    } else {
        reply_array(c->r, 2);
        reply_bulk(c->r, k->ptr, k->len);
        reply_array(c->r, take);
    }
    for (long long j = 0; j < take; j++) {
        const char *m;
        size_t len, rank = max ? ks_zset_count(o) - 1 : 0;
        double score;
        char *copy;
        ks_zset_at(o, 0, max, &m, &len, &score);
        /* m lives in the set: copy it before the element goes. */
        copy = util_memdup(m, len);
        ks_zset_del_rank(o, rank, rank);
        if (j == 0) {
            cmd_notify(c, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", k->ptr, k->len);
            cmd_key_changed(c, k->ptr, k->len);
        }
        if (nested)
            reply_array(c->r, 2);
        reply_bulk(c->r, copy, len);
        reply_double(c->r, score);
        util_free(copy);
    }
    c->dirty += take - 1; /* one change per element popped */
    zset_del_if_empty(c, o, i);
}

/* Records a pop from argv[i] as ZPOPMIN/ZPOPMAX key [count] (count < 0:
 * without), which is what Redis propagates for the blocking forms and
 * ZMPOP. */
static void
zset_propagate_pop(cmd_ctx *c, int i, int max, long long count)
{
    char buf[24];
    resp_arg av[3];
    int ac = 2;
    av[0].ptr = max ? "ZPOPMAX" : "ZPOPMIN";
    av[0].len = 7;
    av[1] = c->argv[i];
    if (count >= 0) {
        av[2].ptr = buf;
        av[2].len = util_ll2str(buf, count);
        ac = 3;
    }
    cmd_propagate(c, ac, av);
}

/* Blocks the caller on keys argv[keys[..]]; a timeout or a caller that
 * cannot block (MULTI) gets a null array. */
static void
zset_block(cmd_ctx *c, const int *keys, int nkeys, long long ms)
{
    int64_t deadline = ms > 0 ? c->now_ms + ms : 0;
    if (c->host != NULL && c->host->block != NULL &&
        c->host->block(c, c->argc, c->argv, keys, nkeys, deadline, 0) == 0)
        return;
    reply_null_array(c->r);
}

/* ZPOPMIN/ZPOPMAX key [count]. */
static void
zset_pop_generic(cmd_ctx *c, int max)
{
    long long count = -1;
    int bad;
    ks_obj *o;

    if (c->argc > 3) {
        cmd_reply_syntax(c);
        return;
    }
    if (c->argc == 3) {
        /* Redis 7.0 gives one message for a non-integer and a negative count. */
        if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &count) || count < 0) {
            reply_error(c->r, ZSET_POS_ERR);
            return;
        }
    }
    o = zset_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL || count == 0) {
        reply_empty_array(c->r);
        return;
    }
    zset_pop(c, 1, o, max, 0, count < 0 ? 1 : count, c->r->resp >= 3 && count != -1);
}

/* The ZPOPMIN/ZPOPMAX, BZPOPMIN/BZPOPMAX and ZMPOP/BZMPOP entry points. */
static void
cmd_zpopmin(cmd_ctx *c)
{
    zset_pop_generic(c, 0);
}

static void
cmd_zpopmax(cmd_ctx *c)
{
    zset_pop_generic(c, 1);
}

/* BZPOPMIN/BZPOPMAX key [key ...] timeout: pops from the first non-empty
 * set, else blocks. */
static void
zset_bpop_generic(cmd_ctx *c, int max)
{
    int nkeys = c->argc - 2, bad;
    long long ms;
    int *keys;

    if (cmd_get_timeout_or_reply(c, c->argc - 1, &ms) < 0)
        return;
    for (int i = 1; i <= nkeys; i++) {
        ks_obj *o = zset_lookup(c, i, 1, &bad);
        if (bad)
            return;
        if (o == NULL)
            continue;
        zset_pop(c, i, o, max, 1, 1, 0);
        zset_propagate_pop(c, i, max, -1);
        return;
    }
    keys = util_malloc((size_t)nkeys * sizeof(*keys));
    for (int i = 0; i < nkeys; i++)
        keys[i] = i + 1;
    zset_block(c, keys, nkeys, ms);
    util_free(keys);
}

static void
cmd_bzpopmin(cmd_ctx *c)
{
    zset_bpop_generic(c, 0);
}

static void
cmd_bzpopmax(cmd_ctx *c)
{
    zset_bpop_generic(c, 1);
}

/*
 * ZMPOP numkeys key [key ...] MIN|MAX [COUNT count], and BZMPOP with a
 * timeout before numkeys (at is the index of numkeys). Redis parses the
 * timeout of BZMPOP last, after numkeys, MIN|MAX and COUNT.
 */
static void
zset_mpop_generic(cmd_ctx *c, int at, int blocking)
{
    long long numkeys, count = -1, ms = 0;
    int max, bad, wi;

    if (!util_str2ll(c->argv[at].ptr, c->argv[at].len, &numkeys) || numkeys < 1) {
        reply_error(c->r, ZSET_NUMKEY_ERR);
        return;
    }
    if (numkeys >= c->argc - at - 1) {
        cmd_reply_syntax(c);
        return;
    }
    wi = at + 1 + (int)numkeys;
    if (cmd_arg_is(c, wi, "min")) {
        max = 0;
    } else if (cmd_arg_is(c, wi, "max")) {
        max = 1;
    } else {
        cmd_reply_syntax(c);
        return;
    }
    for (int j = wi + 1; j < c->argc; j++) {
        if (count == -1 && j + 1 < c->argc && cmd_arg_is(c, j, "count")) {
            j++;
            if (!util_str2ll(c->argv[j].ptr, c->argv[j].len, &count) || count < 1) {
                reply_error(c->r, "ERR count should be greater than 0");
                return;
            }
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }
    if (count == -1)
        count = 1;
    if (blocking && cmd_get_timeout_or_reply(c, 1, &ms) < 0)
        return;
    for (int i = at + 1; i < wi; i++) {
        ks_obj *o = zset_lookup(c, i, 1, &bad);
        if (bad)
            return;
        if (o == NULL)
            continue;
        zset_pop(c, i, o, max, 1, count, 1);
        zset_propagate_pop(c, i, max, count);
        return;
    }
    if (!blocking) {
        reply_null_array(c->r);
        return;
    }
    int *keys = util_malloc((size_t)numkeys * sizeof(*keys));
    for (int j = 0; j < (int)numkeys; j++)
        keys[j] = at + 1 + j;
    zset_block(c, keys, (int)numkeys, ms);
    util_free(keys);
}

static void
cmd_zmpop(cmd_ctx *c)
{
    zset_mpop_generic(c, 1, 0);
}

static void
cmd_bzmpop(cmd_ctx *c)
{
    zset_mpop_generic(c, 2, 1);
}

/* ------------------------------------------------------------------------
 * ZRANDMEMBER
 * ------------------------------------------------------------------------ */

/* count < size distinct random elements: a partial shuffle of copies. */
static void
zset_rand_unique(cmd_ctx *c, ks_obj *o, size_t count, int withscores)
{
    size_t size = ks_zset_count(o), i = 0, len;
    char **ms = util_malloc(size * sizeof(*ms));
    size_t *lens = util_malloc(size * sizeof(*lens));
    double *scores = util_malloc(size * sizeof(*scores)), score;
    const char *m;
    ks_zset_iter it;

    ks_zset_iter_rank(&it, o, 0, SIZE_MAX, 0);
    while (ks_zset_iter_next(&it, &m, &len, &score)) {
        ms[i] = util_memdup(m, len);
        lens[i] = len;
        scores[i++] = score;
    }
    zset_reply_hdr(c, (long long)count, withscores);
    for (i = 0; i < count; i++) {
        size_t k = i + (size_t)(zset_rng() % (size - i));
        char *tm = ms[i];
        size_t tl = lens[i];
        double ts = scores[i];
        ms[i] = ms[k], lens[i] = lens[k], scores[i] = scores[k];
        ms[k] = tm, lens[k] = tl, scores[k] = ts;
        zset_reply_elem(c, ms[i], lens[i], scores[i], withscores);
    }
    for (i = 0; i < size; i++)
        util_free(ms[i]);
    util_free(ms);
    util_free(lens);
    util_free(scores);
}

/* ZRANDMEMBER key count [WITHSCORES]: a negative count allows repeats (as
 * does a count of 1); a count of at least the size returns the whole set
 * in order. */
static void
zset_rand_count(cmd_ctx *c, long long l, int withscores)
{
    const char *m;
    size_t len;
    double score;
    int bad;
    ks_obj *o = zset_lookup(c, 1, 0, &bad);

    if (bad)
        return;
    if (o == NULL || l == 0) {
        reply_empty_array(c->r);
        return;
    }
    if (l < 0 || l == 1) {
        long long n = l < 0 ? -l : l;
        zset_reply_hdr(c, n, withscores);
        while (n--) {
            zset_random(o, &m, &len, &score);
            zset_reply_elem(c, m, len, score, withscores);
        }
        return;
    }
    if ((size_t)l >= ks_zset_count(o)) {
        /* Redis walks the whole set from the highest element down. */
        ks_zset_iter it;
        ks_zset_iter_rank(&it, o, 0, SIZE_MAX, 1);
        zset_reply_iter(c, &it, (long long)ks_zset_count(o), withscores);
        return;
    }
    zset_rand_unique(c, o, (size_t)l, withscores);
}

/* ZRANDMEMBER key [count [WITHSCORES]]: the count is checked before the
 * option (an out-of-range count wins), then the halved range WITHSCORES
 * allows; without a count, one bulk member or a null. */
static void
cmd_zrandmember(cmd_ctx *c)
{
    const char *m;
    size_t len;
    double score;
    long long l;
    int bad;
    ks_obj *o;

    if (c->argc >= 3) {
        int withscores = 0;
        if (cmd_get_ll_or_reply(c, 2, &l, NULL) < 0)
            return;
        if (l < -LLONG_MAX) {
            reply_error(c->r, ZSET_RAND_ERR);
            return;
        }
        if (c->argc > 4 || (c->argc == 4 && !cmd_arg_is(c, 3, "withscores"))) {
            cmd_reply_syntax(c);
            return;
        }
        if (c->argc == 4) {
            withscores = 1;
            if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
                reply_error(c->r, "ERR value is out of range");
                return;
            }
        }
        zset_rand_count(c, l, withscores);
        return;
    }
    o = zset_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_null(c->r);
        return;
    }
    zset_random(o, &m, &len, &score);
    reply_bulk(c->r, m, len);
}

/* ------------------------------------------------------------------------
 * Algebra: ZUNION, ZINTER, ZDIFF, ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE,
 * ZINTERCARD. Plain sets are inputs too, every member with score 1.
 * ------------------------------------------------------------------------ */

/* One input: a sorted set, a set, or NULL for a missing key. */
typedef struct zset_src {
    ks_obj *o;     /* borrowed from the keyspace, NULL when missing */
    double weight; /* WEIGHTS, default 1 */
} zset_src;

/* Walks an input in its own order (a sorted set from its highest element). */
typedef struct zset_src_iter {
    ks_obj *o;       /* the input, NULL when missing */
    ks_zset_iter zi; /* when o is a sorted set */
    ks_set_iter si;  /* when o is a set */
} zset_src_iter;

/* Members in an input (0 when missing): the sort key of ZUNION/ZINTER. */
static size_t
zset_src_count(const ks_obj *o)
{
    if (o == NULL)
        return 0;
    return o->type == KS_SET ? ks_set_count(o) : ks_zset_count(o);
}

/* 1 and *score when m is in input o (a set member scores 1). */
static int
zset_src_find(ks_obj *o, const char *m, size_t len, double *score)
{
    if (o->type == KS_SET) {
        *score = 1.0;
        return ks_set_contains(o, m, len);
    }
    return ks_zset_score(o, m, len, score);
}

/* Starts a walk over input o (NULL: a walk that yields nothing); the
 * zset_src_* trio mirrors an iterator over either value type. */
static void
zset_src_start(zset_src_iter *it, ks_obj *o)
{
    it->o = o;
    if (o == NULL)
        return;
    if (o->type == KS_SET)
        ks_set_iter_start(&it->si, o);
    else
        ks_zset_iter_rank(&it->zi, o, 0, SIZE_MAX, 1); /* high to low, as Redis walks inputs */
}

/* Next member (borrowed until the next call) and its score: 1, or 0 at
 * the end. */
static int
zset_src_next(zset_src_iter *it, const char **m, size_t *len, double *score)
{
    if (it->o == NULL)
        return 0;
    if (it->o->type == KS_SET) {
        *score = 1.0;
        return ks_set_iter_next(&it->si, m, len);
    }
    return ks_zset_iter_next(&it->zi, m, len, score);
}

/* Ends a walk (sets hold iterator state to release). */
static void
zset_src_stop(zset_src_iter *it)
{
    if (it->o != NULL && it->o->type == KS_SET)
        ks_set_iter_stop(&it->si);
}

/* Folds val into *target; a SUM of +inf and -inf gives 0, as in Redis. */
static void
zset_aggregate(double *target, double val, int aggr)
{
    if (aggr == ZSET_AGGR_SUM) {
        *target += val;
        if (isnan(*target))
            *target = 0.0;
    } else if (aggr == ZSET_AGGR_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

/* Options of the algebra commands, from argv[j] on: WEIGHTS and AGGREGATE
 * (not for ZDIFF nor ZINTERCARD), WITHSCORES (not when storing), LIMIT
 * (ZINTERCARD only). Returns 0 or -1 after replying. */
static int
zset_setop_opts(cmd_ctx *c, int j, zset_src *src, int n, int op, int store, int card, int *aggr,
                int *withscores, long long *limit)
{
    int remaining = c->argc - j;
    while (remaining > 0) {
        if (op != ZSET_OP_DIFF && !card && remaining >= n + 1 && cmd_arg_is(c, j, "weights")) {
            j++, remaining--;
            for (int i = 0; i < n; i++, j++, remaining--) {
                if (ks_zset_parse_score(c->argv[j].ptr, c->argv[j].len, &src[i].weight) != 0) {
                    reply_error(c->r, "ERR weight value is not a float");
                    return -1;
                }
            }
        } else if (op != ZSET_OP_DIFF && !card && remaining >= 2 && cmd_arg_is(c, j, "aggregate")) {
            j++;
            if (cmd_arg_is(c, j, "sum"))
                *aggr = ZSET_AGGR_SUM;
            else if (cmd_arg_is(c, j, "min"))
                *aggr = ZSET_AGGR_MIN;
            else if (cmd_arg_is(c, j, "max"))
                *aggr = ZSET_AGGR_MAX;
            else
                return cmd_reply_syntax(c);
            j++, remaining -= 2;
        } else if (!store && !card && cmd_arg_is(c, j, "withscores")) {
            *withscores = 1;
            j++, remaining--;
        } else if (card && remaining >= 2 && cmd_arg_is(c, j, "limit")) {
            j++;
            if (!util_str2ll(c->argv[j].ptr, c->argv[j].len, limit) || *limit < 0) {
                reply_error(c->r, "ERR LIMIT can't be negative");
                return -1;
            }
            j++, remaining -= 2;
        } else {
            return cmd_reply_syntax(c);
        }
    }
    return 0;
}

/* Sorts inputs by size, smallest first, keeping the order of equal sizes
 * (the order weighted sums are folded in). */
static void
zset_sort_srcs(zset_src *src, int n)
{
    for (int i = 1; i < n; i++) {
        zset_src t = src[i];
        int j = i;
        while (j > 0 && zset_src_count(src[j - 1].o) > zset_src_count(t.o)) {
            src[j] = src[j - 1];
            j--;
        }
        src[j] = t;
    }
}

/* Adds m with score to result res, tracking the longest member. */
static void
zset_res_add(ks_obj *res, const char *m, size_t len, double score, size_t *maxlen,
             const ks_zset_limits *lim)
{
    int out;
    ks_zset_add(res, score, m, len, 0, &out, NULL, lim);
    if (len > *maxlen)
        *maxlen = len;
}

/* ZINTER: walks the smallest input, keeps members present in all, folding
 * the weighted scores; with res NULL only counts (stopping at limit). */
static long long
zset_inter(zset_src *src, int n, int aggr, ks_obj *res, long long limit, size_t *maxlen,
           const ks_zset_limits *lim)
{
    zset_src_iter it;
    const char *m;
    size_t len;
    double s, v;
    long long card = 0;

    if (zset_src_count(src[0].o) == 0)
        return 0;
    zset_src_start(&it, src[0].o);
    while (zset_src_next(&it, &m, &len, &s)) {
        double score = src[0].weight * s;
        int j;
        if (isnan(score))
            score = 0;
        for (j = 1; j < n; j++) {
            if (src[j].o == src[0].o)
                v = s * src[j].weight;
            else if (zset_src_find(src[j].o, m, len, &v))
                v *= src[j].weight;
            else
                break;
            zset_aggregate(&score, v, aggr);
        }
        if (j < n)
            continue;
        card++;
        if (res != NULL)
            zset_res_add(res, m, len, score, maxlen, lim);
        else if (limit && card >= limit)
            break;
    }
    zset_src_stop(&it);
    return card;
}

/* ZUNION: every member of every input, folding the weighted scores. */
static void
zset_union(zset_src *src, int n, int aggr, ks_obj *res, size_t *maxlen, const ks_zset_limits *lim)
{
    zset_src_iter it;
    const char *m;
    size_t len;
    double s, cur;

    for (int i = 0; i < n; i++) {
        zset_src_start(&it, src[i].o);
        while (zset_src_next(&it, &m, &len, &s)) {
            double score = src[i].weight * s;
            if (isnan(score))
                score = 0;
            if (ks_zset_score(res, m, len, &cur)) {
                double old = cur;
                zset_aggregate(&cur, score, aggr);
                /* -0 + 0 is 0: an add would see an equal score and keep
                 * the old sign, so the member is replaced instead. */
                if (cur == old && signbit(cur) != signbit(old))
                    ks_zset_del(res, m, len);
                score = cur;
            }
            zset_res_add(res, m, len, score, maxlen, lim);
        }
        zset_src_stop(&it);
    }
}

/* ZDIFF: members of the first input found in no other, with their scores. */
static void
zset_diff(zset_src *src, int n, ks_obj *res, size_t *maxlen, const ks_zset_limits *lim)
{
    zset_src_iter it;
    const char *m;
    size_t len;
    double s, v;

    zset_src_start(&it, src[0].o);
    while (zset_src_next(&it, &m, &len, &s)) {
        int j;
        for (j = 1; j < n; j++)
            if (src[j].o != NULL && zset_src_find(src[j].o, m, len, &v))
                break;
        if (j == n)
            zset_res_add(res, m, len, s, maxlen, lim);
    }
    zset_src_stop(&it);
}

/*
 * The algebra commands: numkeys at argv[at], the keys after it, then
 * options; dst is the index of the destination (0 when replying) and card
 * selects ZINTERCARD. The result is built as a skiplist and, when stored,
 * converted to a listpack if it fits, as Redis 7.0 does.
 */
static void
zset_setop_generic(cmd_ctx *c, int dst, int at, int op, int card)
{
    static const char *const events[] = {"zunionstore", "zinterstore", "zdiffstore"};
    ks_zset_limits lim = zset_limits();
    long long setnum, limit = 0;
    int aggr = ZSET_AGGR_SUM, withscores = 0, bad;
    size_t maxlen = 0;
    zset_src *src;
    ks_obj *res;

    if (cmd_get_ll_or_reply(c, at, &setnum, NULL) < 0)
        return;
    if (setnum < 1) {
        reply_errorf(c->r, "ERR at least 1 input key is needed for '%s' command", c->cmd->name);
        return;
    }
    if (setnum > c->argc - at - 1) {
        cmd_reply_syntax(c);
        return;
    }
    int n = (int)setnum;
    src = util_calloc((size_t)n, sizeof(*src));
    for (int i = 0; i < n; i++) {
        ks_obj *o = cmd_lookup_read(c, at + 1 + i);
        bad = o != NULL && o->type != KS_ZSET && o->type != KS_SET;
        if (bad) {
            cmd_reply_wrongtype(c);
            util_free(src);
            return;
        }
        src[i].o = o;
        src[i].weight = 1.0;
    }
    if (zset_setop_opts(c, at + 1 + n, src, n, op, dst != 0, card, &aggr, &withscores, &limit) <
        0) {
        util_free(src);
        return;
    }
    if (op != ZSET_OP_DIFF)
        zset_sort_srcs(src, n);
    if (card) {
        reply_int(c->r, zset_inter(src, n, aggr, NULL, limit, &maxlen, &lim));
        util_free(src);
        return;
    }
    res = ks_zset_new(SIZE_MAX, 0, &lim);
    if (op == ZSET_OP_INTER)
        zset_inter(src, n, aggr, res, 0, &maxlen, &lim);
    else if (op == ZSET_OP_UNION)
        zset_union(src, n, aggr, res, &maxlen, &lim);
    else
        zset_diff(src, n, res, &maxlen, &lim);
    util_free(src);
    if (dst) {
        size_t cnt = ks_zset_count(res);
        if (cnt > 0 && cnt <= lim.max_entries && maxlen <= lim.max_value)
            ks_zset_convert(res, KS_ENC_LISTPACK);
        zset_store(c, dst, res, events[op]);
        return;
    }
    ks_zset_iter it;
    ks_zset_iter_rank(&it, res, 0, SIZE_MAX, 0);
    zset_reply_iter(c, &it, (long long)ks_zset_count(res), withscores);
    ks_obj_free(res);
}

/* The algebra entry points: (dst index, numkeys index, op, card only). */
static void
cmd_zunion(cmd_ctx *c)
{
    zset_setop_generic(c, 0, 1, ZSET_OP_UNION, 0);
}

static void
cmd_zinter(cmd_ctx *c)
{
    zset_setop_generic(c, 0, 1, ZSET_OP_INTER, 0);
}

static void
cmd_zdiff(cmd_ctx *c)
{
    zset_setop_generic(c, 0, 1, ZSET_OP_DIFF, 0);
}

static void
cmd_zunionstore(cmd_ctx *c)
{
    zset_setop_generic(c, 1, 2, ZSET_OP_UNION, 0);
}

static void
cmd_zinterstore(cmd_ctx *c)
{
    zset_setop_generic(c, 1, 2, ZSET_OP_INTER, 0);
}

static void
cmd_zdiffstore(cmd_ctx *c)
{
    zset_setop_generic(c, 1, 2, ZSET_OP_DIFF, 0);
}

static void
cmd_zintercard(cmd_ctx *c)
{
    zset_setop_generic(c, 0, 1, ZSET_OP_INTER, 1);
}

/* ------------------------------------------------------------------------
 * ZSCAN: member/score pairs through the shared scan loop (scan.c). The
 * score text is "%.17g" for both encodings: Redis's listpack holds it as
 * the d2string text and its skiplist path prints "%.17Lg" of the same
 * double, which agree for every finite score; infinities print as
 * "inf"/"-inf" either way.
 * ------------------------------------------------------------------------ */

/* Member then score text ("%.17g", "inf", "-inf"), as ZSCAN replies it. */
static void
zset_scan_collect(void *priv, const char *m, size_t len, double score)
{
    char buf[ZSET_SCORE_BUF];
    int n = snprintf(buf, sizeof(buf), "%.17g", score);
    cmd__scan_items_add(priv, m, len);
    cmd__scan_items_add(priv, buf, (size_t)n);
}

/* One ZSCAN step for cmd__scan_walk: the engine's dict cursor. */
static uint64_t
zset_scan_step(ks_obj *o, uint64_t cursor, cmd__scan_items *it)
{
    return ks_zset_scan(o, cursor, zset_scan_collect, it);
}

/* A listpack is returned whole with cursor 0; a skiplist is scanned
 * through its dict as HSCAN does. */
static void
cmd_zscan(cmd_ctx *c)
{
    cmd__scan_collection(c, KS_ZSET, KS_ENC_LISTPACK, zset_scan_step, 2);
}

/* ------------------------------------------------------------------------
 * Command table
 * ------------------------------------------------------------------------ */

#define ZSET_RANGE_CX                                                                              \
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "       \
    "elements being returned. If M is constant (e.g. always asking for the first 10 elements "     \
    "with LIMIT), you can consider it O(log(N))."
#define ZSET_REMRANGE_CX                                                                           \
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "       \
    "elements removed by the operation."
#define ZSET_POP_CX                                                                                \
    "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number "   \
    "of elements popped."
#define ZSET_MPOP_CX                                                                               \
    "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements "   \
    "in the sorted set, and M being the number of elements popped."
#define ZSET_BPOP_CX "O(log(N)) with N being the number of elements in the sorted set."
#define ZSET_LOGN_CX "O(log(N)) with N being the number of elements in the sorted set."
#define ZSET_UNION_CX                                                                              \
    "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being "    \
    "the number of elements in the resulting sorted set."
#define ZSET_UNIONSTORE_CX                                                                         \
    "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being "    \
    "the number of elements in the resulting sorted set."
#define ZSET_INTER_CX                                                                              \
    "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the "       \
    "number of input sorted sets and M being the number of elements in the resulting sorted set."
#define ZSET_DIFF_CX                                                                               \
    "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N "    \
    "is the size of the first set, and K is the size of the result set."
#define ZSET_SCAN_CX                                                                               \
    "O(1) for every call. O(N) for a complete iteration, including enough command calls for "      \
    "the cursor to return back to 0. N is the number of elements inside the collection.."

/* One entry with a single key at argv[1]. */
#define ZSET_CMD(nm, fn_, ar, fl, ac, sum, since_, cx, kflags, tp)                                 \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = (ar), .flags = (fl), .acl = (ac), .first_key = 1,      \
        .last_key = 1, .key_step = 1, .summary = (sum), .since = (since_), .group = "sorted-set",  \
        .complexity = (cx),                                                                        \
        .keyspecs = {{.flags = (kflags), .begin = 1, .lastkey = 0, .keystep = 1}}, .tips = (tp)    \
    }

/* A command whose keys follow a numkeys argument: Redis's keynum key spec,
 * approximated by a range from kbegin to the last argument. */
#define ZSET_NUMKEYS_CMD(nm, fn_, ar, fl, ac, sum, since_, cx, kflags, kbegin)                     \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = (ar), .flags = (fl) | CMD_MOVABLE_KEYS, .acl = (ac),   \
        .summary = (sum), .since = (since_), .group = "sorted-set", .complexity = (cx),            \
        .keyspecs = {{.flags = (kflags), .begin = (kbegin), .lastkey = -1, .keystep = 1}},         \
    }

/* A STORE form: the destination at argv[1], then numkeys and the sources. */
#define ZSET_STORE_CMD(nm, fn_, sum, since_, cx)                                                   \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = -4,                                                    \
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_MOVABLE_KEYS, .acl = ZSET_WS, .first_key = 1,       \
        .last_key = 1, .key_step = 1, .summary = (sum), .since = (since_), .group = "sorted-set",  \
        .complexity = (cx),                                                                        \
        .keyspecs = {{.flags = "OW update", .begin = 1, .lastkey = 0, .keystep = 1},               \
                     {.flags = "RO access", .begin = 2, .lastkey = -1, .keystep = 1}},             \
    }

/* BZPOPMIN/BZPOPMAX: keys from argv[1] to the one before the timeout. */
#define ZSET_BPOP_CMD(nm, fn_, sum)                                                                \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = -3,                                                    \
        .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING | CMD_FAST,                               \
        .acl = ACL_WRITE | ACL_SORTEDSET | ACL_FAST | ACL_BLOCKING, .first_key = 1,                \
        .last_key = -2, .key_step = 1, .summary = (sum), .since = "5.0.0", .group = "sorted-set",  \
        .complexity = ZSET_BPOP_CX,                                                                \
        .keyspecs = {{.flags = "RW access delete", .begin = 1, .lastkey = -2, .keystep = 1}},      \
    }

/* Flag and ACL shorthands: write/read, fast/slow, and the blocking pops. */
#define ZSET_WF (ACL_WRITE | ACL_SORTEDSET | ACL_FAST)
#define ZSET_WS (ACL_WRITE | ACL_SORTEDSET | ACL_SLOW)
#define ZSET_RF (ACL_READ | ACL_SORTEDSET | ACL_FAST)
#define ZSET_RS (ACL_READ | ACL_SORTEDSET | ACL_SLOW)
#define ZSET_R  (CMD_READONLY | CMD_FAST)

/* Flags, ACL categories, key specs and tips as Redis 7.0's COMMAND INFO
 * gives them; summary, since, group and complexity as COMMAND DOCS does.
 * Keynum key specs (ZUNION, ZMPOP, ...) are approximated by range specs. */
cmd_def cmd_zset_defs[] = {
    ZSET_CMD("zadd", cmd_zadd, -4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, ZSET_WF,
             "Add one or more members to a sorted set, or update its score if it already exists",
             "1.2.0",
             "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
             "RW update", NULL),
    ZSET_CMD("zincrby", cmd_zincrby, 4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, ZSET_WF,
             "Increment the score of a member in a sorted set", "1.2.0",
             "O(log(N)) where N is the number of elements in the sorted set.", "RW access update",
             NULL),
    ZSET_CMD("zrem", cmd_zrem, -3, CMD_WRITE | CMD_FAST, ZSET_WF,
             "Remove one or more members from a sorted set", "1.2.0",
             "O(M*log(N)) with N being the number of elements in the sorted set and M the number "
             "of elements to be removed.",
             "RW delete", NULL),
    ZSET_CMD("zcard", cmd_zcard, 2, ZSET_R, ZSET_RF, "Get the number of members in a sorted set",
             "1.2.0", "O(1)", "RO", NULL),
    ZSET_CMD("zcount", cmd_zcount, 4, ZSET_R, ZSET_RF,
             "Count the members in a sorted set with scores within the given values", "2.0.0",
             ZSET_LOGN_CX, "RO access", NULL),
    ZSET_CMD("zlexcount", cmd_zlexcount, 4, ZSET_R, ZSET_RF,
             "Count the number of members in a sorted set between a given lexicographical range",
             "2.8.9", ZSET_LOGN_CX, "RO access", NULL),
    ZSET_CMD("zscore", cmd_zscore, 3, ZSET_R, ZSET_RF,
             "Get the score associated with the given member in a sorted set", "1.2.0", "O(1)",
             "RO access", NULL),
    ZSET_CMD("zmscore", cmd_zmscore, -3, ZSET_R, ZSET_RF,
             "Get the score associated with the given members in a sorted set", "6.2.0",
             "O(N) where N is the number of members being requested.", "RO access", NULL),
    ZSET_CMD("zrank", cmd_zrank, 3, ZSET_R, ZSET_RF,
             "Determine the index of a member in a sorted set", "2.0.0", "O(log(N))", "RO access",
             NULL),
    ZSET_CMD("zrevrank", cmd_zrevrank, 3, ZSET_R, ZSET_RF,
             "Determine the index of a member in a sorted set, with scores ordered from high to "
             "low",
             "2.0.0", "O(log(N))", "RO access", NULL),
    ZSET_CMD("zrange", cmd_zrange, -4, CMD_READONLY, ZSET_RS,
             "Return a range of members in a sorted set", "1.2.0",
             "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
             "of elements returned.",
             "RO access", NULL),
    {.name = "zrangestore",
     .fn = cmd_zrangestore,
     .arity = -5,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .acl = ZSET_WS,
     .first_key = 1,
     .last_key = 2,
     .key_step = 1,
     .summary = "Store a range of members from sorted set into another key",
     .since = "6.2.0",
     .group = "sorted-set",
     .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the "
                   "number of elements stored into the destination key.",
     .keyspecs = {{.flags = "OW update", .begin = 1, .lastkey = 0, .keystep = 1},
                  {.flags = "RO access", .begin = 2, .lastkey = 0, .keystep = 1}}},
    ZSET_CMD("zrangebyscore", cmd_zrangebyscore, -4, CMD_READONLY, ZSET_RS,
             "Return a range of members in a sorted set, by score", "1.0.5", ZSET_RANGE_CX,
             "RO access", NULL),
    ZSET_CMD("zrevrangebyscore", cmd_zrevrangebyscore, -4, CMD_READONLY, ZSET_RS,
             "Return a range of members in a sorted set, by score, with scores ordered from high "
             "to low",
             "2.2.0", ZSET_RANGE_CX, "RO access", NULL),
    ZSET_CMD("zrangebylex", cmd_zrangebylex, -4, CMD_READONLY, ZSET_RS,
             "Return a range of members in a sorted set, by lexicographical range", "2.8.9",
             ZSET_RANGE_CX, "RO access", NULL),
    ZSET_CMD("zrevrangebylex", cmd_zrevrangebylex, -4, CMD_READONLY, ZSET_RS,
             "Return a range of members in a sorted set, by lexicographical range, ordered from "
             "higher to lower strings.",
             "2.8.9", ZSET_RANGE_CX, "RO access", NULL),
    ZSET_CMD("zrevrange", cmd_zrevrange, -4, CMD_READONLY, ZSET_RS,
             "Return a range of members in a sorted set, by index, with scores ordered from high "
             "to low",
             "1.2.0",
             "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
             "of elements returned.",
             "RO access", NULL),
    ZSET_CMD("zremrangebyrank", cmd_zremrangebyrank, 4, CMD_WRITE, ZSET_WS,
             "Remove all members in a sorted set within the given indexes", "2.0.0",
             ZSET_REMRANGE_CX, "RW delete", NULL),
    ZSET_CMD("zremrangebyscore", cmd_zremrangebyscore, 4, CMD_WRITE, ZSET_WS,
             "Remove all members in a sorted set within the given scores", "1.2.0",
             ZSET_REMRANGE_CX, "RW delete", NULL),
    ZSET_CMD("zremrangebylex", cmd_zremrangebylex, 4, CMD_WRITE, ZSET_WS,
             "Remove all members in a sorted set between the given lexicographical range", "2.8.9",
             ZSET_REMRANGE_CX, "RW delete", NULL),
    ZSET_CMD("zpopmin", cmd_zpopmin, -2, CMD_WRITE | CMD_FAST, ZSET_WF,
             "Remove and return members with the lowest scores in a sorted set", "5.0.0",
             ZSET_POP_CX, "RW access delete", NULL),
    ZSET_CMD("zpopmax", cmd_zpopmax, -2, CMD_WRITE | CMD_FAST, ZSET_WF,
             "Remove and return members with the highest scores in a sorted set", "5.0.0",
             ZSET_POP_CX, "RW access delete", NULL),
    ZSET_NUMKEYS_CMD("zmpop", cmd_zmpop, -4, CMD_WRITE, ZSET_WS,
                     "Remove and return members with scores in a sorted set", "7.0.0", ZSET_MPOP_CX,
                     "RW access delete", 1),
    ZSET_BPOP_CMD("bzpopmin", cmd_bzpopmin,
                  "Remove and return the member with the lowest score from one or more sorted "
                  "sets, or block until one is available"),
    ZSET_BPOP_CMD("bzpopmax", cmd_bzpopmax,
                  "Remove and return the member with the highest score from one or more sorted "
                  "sets, or block until one is available"),
    ZSET_NUMKEYS_CMD("bzmpop", cmd_bzmpop, -5, CMD_WRITE | CMD_BLOCKING, ZSET_WS | ACL_BLOCKING,
                     "Remove and return members with scores in a sorted set or block until one "
                     "is available",
                     "7.0.0", ZSET_MPOP_CX, "RW access delete", 2),
    ZSET_CMD("zrandmember", cmd_zrandmember, -2, CMD_READONLY, ZSET_RS,
             "Get one or multiple random elements from a sorted set", "6.2.0",
             "O(N) where N is the number of elements returned", "RO access",
             "nondeterministic_output"),
    ZSET_NUMKEYS_CMD("zunion", cmd_zunion, -3, CMD_READONLY, ZSET_RS, "Add multiple sorted sets",
                     "6.2.0", ZSET_UNION_CX, "RO access", 1),
    ZSET_STORE_CMD("zunionstore", cmd_zunionstore,
                   "Add multiple sorted sets and store the resulting sorted set in a new key",
                   "2.0.0", ZSET_UNIONSTORE_CX),
    ZSET_NUMKEYS_CMD("zinter", cmd_zinter, -3, CMD_READONLY, ZSET_RS,
                     "Intersect multiple sorted sets", "6.2.0", ZSET_INTER_CX, "RO access", 1),
    ZSET_STORE_CMD("zinterstore", cmd_zinterstore,
                   "Intersect multiple sorted sets and store the resulting sorted set in a new key",
                   "2.0.0", ZSET_INTER_CX),
    ZSET_NUMKEYS_CMD("zintercard", cmd_zintercard, -3, CMD_READONLY, ZSET_RS,
                     "Intersect multiple sorted sets and return the cardinality of the result",
                     "7.0.0",
                     "O(N*K) worst case with N being the smallest input sorted set, K being the "
                     "number of input sorted sets.",
                     "RO access", 1),
    ZSET_NUMKEYS_CMD("zdiff", cmd_zdiff, -3, CMD_READONLY, ZSET_RS, "Subtract multiple sorted sets",
                     "6.2.0", ZSET_DIFF_CX, "RO access", 1),
    ZSET_STORE_CMD("zdiffstore", cmd_zdiffstore,
                   "Subtract multiple sorted sets and store the resulting sorted set in a new key",
                   "6.2.0", ZSET_DIFF_CX),
    ZSET_CMD("zscan", cmd_zscan, -3, CMD_READONLY, ZSET_RS,
             "Incrementally iterate sorted sets elements and associated scores", "2.8.0",
             ZSET_SCAN_CX, "RO access", "nondeterministic_output"),
    {0},
};
