/*
 * broker/commands/list: the list command family: LPUSH, RPUSH, LPUSHX,
 * RPUSHX, LPOP, RPOP, LLEN, LINDEX, LRANGE, LSET, LTRIM, LREM, LINSERT,
 * LPOS, LMOVE, RPOPLPUSH, LMPOP and the blocking BLPOP, BRPOP, BLMOVE,
 * BRPOPLPUSH, BLMPOP.
 *
 * Handlers check in Redis 7.0's order (numbers and options, then the key's
 * type) and delete a list as soon as its last element goes. A blocking pop
 * that finds nothing hands its arguments to c->host->block; the server
 * runs the same command again when one of its keys changes, so waiters
 * are served by the same code, in arrival order. Every change fires
 * Redis's keyspace events (lpush, rpush, lpop, rpop, lset, ltrim,
 * linsert, lrem, del) after cmd_key_changed.
 *
 * Propagation, as Redis 7.0: a served BLPOP/BRPOP is recorded as LPOP/RPOP
 * key, LMPOP and BLMPOP as LPOP/RPOP key <count popped>, BLMOVE as LMOVE
 * and BRPOPLPUSH as RPOPLPUSH (a timeout records nothing).
 *
 * Hot path: LPUSH/RPUSH/LPOP/RPOP (one lookup, O(1) per element).
 * Not here: the quicklist itself (keyspace/t_list).
 */
#include <limits.h>
#include <string.h>

#include "broker/commands/families.h"
#include "broker/config/config.h"
#include "broker/keyspace/t_list.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

/* Node limit for lists created now: list-max-listpack-size (the
 * default -2 means 8 KB nodes), clamped to an int. */
#define LIST_FILL ((int)config.list_max_listpack_size)

#define LIST_RANK_ERR                                                                              \
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "   \
    "negative to start from the end of the list"

/* ------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------ */

/* Looks up argv[i] (for writing when write is set). Returns the list, or
 * NULL with *bad 0 when missing, or NULL with *bad 1 after WRONGTYPE. */
static ks_obj *
list_lookup(cmd_ctx *c, int i, int write, int *bad)
{
    ks_obj *o = write ? cmd_lookup_write(c, i) : cmd_lookup_read(c, i);
    *bad = 0;
    if (o != NULL && o->type != KS_LIST) {
        cmd_reply_wrongtype(c);
        *bad = 1;
        return NULL;
    }
    return o;
}

/* Parses argv[i] as LEFT or RIGHT: 0 left, 1 right, -1 neither. */
static int
list_where(const cmd_ctx *c, int i)
{
    if (cmd_arg_is(c, i, "left"))
        return 0;
    if (cmd_arg_is(c, i, "right"))
        return 1;
    return -1;
}

/* Deletes key argv[i] (list o) with a "del" event when o is empty. */
static void
list_del_if_empty(cmd_ctx *c, ks_obj *o, int i)
{
    if (ks_list_len(o) != 0)
        return;
    ks_del(c->db, c->argv[i].ptr, c->argv[i].len);
    cmd_notify(c, NOTIFY_GENERIC, "del", c->argv[i].ptr, c->argv[i].len);
}

/* Pops up to n elements of list o from the head (tail 0) or tail and
 * replies them as bulk strings (the caller wrote any array header). */
static void
list_pop_reply(cmd_ctx *c, ks_obj *o, int tail, long long n)
{
    for (long long k = 0; k < n; k++) {
        size_t len;
        char *v = ks_list_pop(o, tail, &len);
        if (v == NULL)
            break;
        reply_bulk(c->r, v, len);
        util_free(v);
    }
}

/* Blocks the caller on nkeys keys (indexes in keys) with timeout ms; a
 * timeout replies a null array, as Redis does for every list pop. When the
 * caller cannot block (MULTI), replies a null bulk (denied_bulk 1: BLMOVE,
 * BRPOPLPUSH) or a null array at once. */
static void
list_block(cmd_ctx *c, const int *keys, int nkeys, long long ms, int denied_bulk)
{
    int64_t deadline = ms > 0 ? c->now_ms + ms : 0;
    if (c->host != NULL && c->host->block != NULL &&
        c->host->block(c, c->argc, c->argv, keys, nkeys, deadline, 0) == 0)
        return;
    if (denied_bulk)
        reply_null(c->r);
    else
        reply_null_array(c->r);
}

/* ------------------------------------------------------------------------
 * Pushes: LPUSH, RPUSH, LPUSHX, RPUSHX
 * ------------------------------------------------------------------------ */

/* Pushes argv[2..] at the head (tail 0) or tail; with xx only onto an
 * existing list. Replies the new length. */
static void
list_push_generic(cmd_ctx *c, int tail, int xx)
{
    int bad;
    ks_obj *o = list_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        if (xx) {
            reply_int(c->r, 0);
            return;
        }
        o = ks_list_new(LIST_FILL);
        ks_add(c->db, c->argv[1].ptr, c->argv[1].len, o);
    }
    for (int i = 2; i < c->argc; i++)
        ks_list_push(o, tail, c->argv[i].ptr, c->argv[i].len);
    reply_int(c->r, (long long)ks_list_len(o));
    cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    c->dirty += c->argc - 3; /* one change per element, as Redis counts */
    cmd_notify(c, NOTIFY_LIST, tail ? "rpush" : "lpush", c->argv[1].ptr, c->argv[1].len);
}

static void
cmd_lpush(cmd_ctx *c)
{
    list_push_generic(c, 0, 0);
}

static void
cmd_rpush(cmd_ctx *c)
{
    list_push_generic(c, 1, 0);
}

static void
cmd_lpushx(cmd_ctx *c)
{
    list_push_generic(c, 0, 1);
}

static void
cmd_rpushx(cmd_ctx *c)
{
    list_push_generic(c, 1, 1);
}

/* ------------------------------------------------------------------------
 * Pops: LPOP, RPOP, LMPOP, BLPOP, BRPOP, BLMPOP
 * ------------------------------------------------------------------------ */

/* Records a pop from key argv[i] as LPOP/RPOP key, with count n when
 * n > 0 (the LMPOP form). */
static void
list_propagate_pop(cmd_ctx *c, int tail, int i, long long n)
{
    cmd_prop_args a;
    cmd_prop_args_init(&a);
    cmd_prop_lit(&a, tail ? "RPOP" : "LPOP");
    cmd_prop_arg(&a, &c->argv[i]);
    if (n > 0)
        cmd_prop_ll(&a, n);
    cmd_prop_emit(c, &a);
}

/* LPOP/RPOP key [count]. */
static void
list_pop_generic(cmd_ctx *c, int tail)
{
    long long count = 0;
    int has_count = c->argc == 3, bad;
    ks_obj *o;

    if (c->argc > 3) {
        reply_errorf(c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    if (has_count && (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &count) || count < 0)) {
        reply_error(c->r, "ERR value is out of range, must be positive");
        return;
    }
    o = list_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        if (has_count)
            reply_null_array(c->r);
        else
            reply_null(c->r);
        return;
    }
    if (has_count && count == 0) {
        reply_empty_array(c->r);
        return;
    }
    if (has_count) {
        long long n = (long long)ks_list_len(o);
        reply_array(c->r, count < n ? count : n);
        list_pop_reply(c, o, tail, count);
        c->dirty += (count < n ? count : n) - 1; /* one change per element */
    } else {
        list_pop_reply(c, o, tail, 1);
    }
    cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    cmd_notify(c, NOTIFY_LIST, tail ? "rpop" : "lpop", c->argv[1].ptr, c->argv[1].len);
    list_del_if_empty(c, o, 1);
}

static void
cmd_lpop(cmd_ctx *c)
{
    list_pop_generic(c, 0);
}

static void
cmd_rpop(cmd_ctx *c)
{
    list_pop_generic(c, 1);
}

/* BLPOP/BRPOP key [key ...] timeout: serves the first non-empty list. */
static void
list_bpop_generic(cmd_ctx *c, int tail)
{
    long long ms;
    int nkeys = c->argc - 2, bad;
    int *keys;

    if (cmd_get_timeout_or_reply(c, c->argc - 1, &ms) != 0)
        return;
    for (int i = 1; i <= nkeys; i++) {
        ks_obj *o = list_lookup(c, i, 1, &bad);
        if (bad)
            return;
        if (o == NULL)
            continue;
        reply_array(c->r, 2);
        reply_bulk(c->r, c->argv[i].ptr, c->argv[i].len);
        list_pop_reply(c, o, tail, 1);
        cmd_key_changed(c, c->argv[i].ptr, c->argv[i].len);
        list_propagate_pop(c, tail, i, 0);
        cmd_notify(c, NOTIFY_LIST, tail ? "rpop" : "lpop", c->argv[i].ptr, c->argv[i].len);
        list_del_if_empty(c, o, i);
        return;
    }
    keys = util_malloc((size_t)nkeys * sizeof(*keys));
    for (int i = 0; i < nkeys; i++)
        keys[i] = i + 1;
    list_block(c, keys, nkeys, ms, 0);
    util_free(keys);
}

static void
cmd_blpop(cmd_ctx *c)
{
    list_bpop_generic(c, 0);
}

static void
cmd_brpop(cmd_ctx *c)
{
    list_bpop_generic(c, 1);
}

/*
 * LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], and BLMPOP with a
 * timeout before numkeys (first is the index of numkeys).
 */
static void
list_mpop_generic(cmd_ctx *c, int first, int blocking)
{
    long long ms = 0, numkeys, count = 1;
    int where, bad, count_seen = 0;

    if (blocking && cmd_get_timeout_or_reply(c, 1, &ms) != 0)
        return;
    if (!util_str2ll(c->argv[first].ptr, c->argv[first].len, &numkeys) || numkeys <= 0 ||
        numkeys > INT_MAX) {
        reply_error(c->r, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > c->argc - first - 2) {
        cmd_reply_syntax(c);
        return;
    }
    int wi = first + 1 + (int)numkeys;
    where = list_where(c, wi);
    if (where < 0) {
        cmd_reply_syntax(c);
        return;
    }
    for (int i = wi + 1; i < c->argc; i++) {
        if (!count_seen && i + 1 < c->argc && cmd_arg_is(c, i, "count")) {
            if (!util_str2ll(c->argv[i + 1].ptr, c->argv[i + 1].len, &count) || count <= 0) {
                reply_error(c->r, "ERR count should be greater than 0");
                return;
            }
            count_seen = 1;
            i++;
            continue;
        }
        cmd_reply_syntax(c);
        return;
    }
    for (int i = first + 1; i < wi; i++) {
        ks_obj *o = list_lookup(c, i, 1, &bad);
        if (bad)
            return;
        if (o == NULL)
            continue;
        long long n = (long long)ks_list_len(o);
        reply_array(c->r, 2);
        reply_bulk(c->r, c->argv[i].ptr, c->argv[i].len);
        reply_array(c->r, count < n ? count : n);
        list_pop_reply(c, o, where, count);
        cmd_key_changed(c, c->argv[i].ptr, c->argv[i].len);
        list_propagate_pop(c, where, i, count < n ? count : n);
        cmd_notify(c, NOTIFY_LIST, where ? "rpop" : "lpop", c->argv[i].ptr, c->argv[i].len);
        list_del_if_empty(c, o, i);
        return;
    }
    if (!blocking) {
        reply_null_array(c->r);
        return;
    }
    int *keys = util_malloc((size_t)numkeys * sizeof(*keys));
    for (int k = 0; k < (int)numkeys; k++)
        keys[k] = first + 1 + k;
    list_block(c, keys, (int)numkeys, ms, 0);
    util_free(keys);
}

static void
cmd_lmpop(cmd_ctx *c)
{
    list_mpop_generic(c, 1, 0);
}

static void
cmd_blmpop(cmd_ctx *c)
{
    list_mpop_generic(c, 2, 1);
}

/* ------------------------------------------------------------------------
 * Moves: LMOVE, RPOPLPUSH, BLMOVE, BRPOPLPUSH
 * ------------------------------------------------------------------------ */

/*
 * Moves one element from list argv[1] (end from) to list argv[2] (end to)
 * and replies it. With ms >= 0 blocks when the source is missing.
 */
static void
list_move_generic(cmd_ctx *c, int from, int to, long long ms)
{
    const resp_arg *src = &c->argv[1], *dst = &c->argv[2];
    int bad;
    ks_obj *so = list_lookup(c, 1, 1, &bad), *dobj;
    size_t len;
    char *v;

    if (bad)
        return;
    if (so == NULL) {
        if (ms >= 0) {
            int key = 1;
            list_block(c, &key, 1, ms, 1);
        } else {
            reply_null(c->r);
        }
        return;
    }
    dobj = list_lookup(c, 2, 1, &bad);
    if (bad)
        return;
    v = ks_list_pop(so, from, &len);
    if (dobj == NULL) {
        dobj = ks_list_new(LIST_FILL);
        ks_add(c->db, dst->ptr, dst->len, dobj);
    }
    cmd_key_changed(c, dst->ptr, dst->len);
    ks_list_push(dobj, to, v, len);
    cmd_notify(c, NOTIFY_LIST, to ? "rpush" : "lpush", dst->ptr, dst->len);
    reply_bulk(c->r, v, len);
    util_free(v);
    cmd_notify(c, NOTIFY_LIST, from ? "rpop" : "lpop", src->ptr, src->len);
    list_del_if_empty(c, so, 1);
    cmd_key_changed(c, src->ptr, src->len);
    if (ms >= 0) {
        /* BLMOVE -> LMOVE with its LEFT/RIGHT arguments, BRPOPLPUSH ->
         * RPOPLPUSH (Redis 7.0). */
        cmd_prop_args a;
        int lmove = c->argc == 6;
        cmd_prop_args_init(&a);
        cmd_prop_lit(&a, lmove ? "LMOVE" : "RPOPLPUSH");
        cmd_prop_arg(&a, src);
        cmd_prop_arg(&a, dst);
        if (lmove) {
            cmd_prop_arg(&a, &c->argv[3]);
            cmd_prop_arg(&a, &c->argv[4]);
        }
        cmd_prop_emit(c, &a);
    }
}

static void
cmd_lmove(cmd_ctx *c)
{
    int from = list_where(c, 3), to = list_where(c, 4);
    if (from < 0 || to < 0) {
        cmd_reply_syntax(c);
        return;
    }
    list_move_generic(c, from, to, -1);
}

static void
cmd_rpoplpush(cmd_ctx *c)
{
    list_move_generic(c, 1, 0, -1);
}

static void
cmd_blmove(cmd_ctx *c)
{
    long long ms;
    int from = list_where(c, 3), to = list_where(c, 4);
    if (from < 0 || to < 0) {
        cmd_reply_syntax(c);
        return;
    }
    if (cmd_get_timeout_or_reply(c, 5, &ms) != 0)
        return;
    list_move_generic(c, from, to, ms);
}

static void
cmd_brpoplpush(cmd_ctx *c)
{
    long long ms;
    if (cmd_get_timeout_or_reply(c, 3, &ms) != 0)
        return;
    list_move_generic(c, 1, 0, ms);
}

/* ------------------------------------------------------------------------
 * Reads: LLEN, LINDEX, LRANGE, LPOS
 * ------------------------------------------------------------------------ */

static void
cmd_llen(cmd_ctx *c)
{
    int bad;
    ks_obj *o = list_lookup(c, 1, 0, &bad);
    if (!bad)
        reply_int(c->r, o ? (long long)ks_list_len(o) : 0);
}

static void
cmd_lindex(cmd_ctx *c)
{
    long long idx;
    int bad;
    ks_list_pos p;
    ks_obj *o = list_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_null(c->r);
        return;
    }
    if (cmd_get_ll_or_reply(c, 2, &idx, NULL) != 0)
        return;
    if (!ks_list_locate(o, idx, &p)) {
        reply_null(c->r);
        return;
    }
    size_t len;
    const char *d = ks_list_pos_get(&p, &len);
    reply_bulk(c->r, d, len);
}

/* Clamps [*start, *end] (negative from the end) to a list of n elements;
 * returns the number of elements in range (0 when empty). */
static long long
list_range(long long n, long long *start, long long *end)
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
    return *end - *start + 1;
}

static void
cmd_lrange(cmd_ctx *c)
{
    long long start, end, n;
    int bad;
    ks_obj *o;
    ks_list_pos p;

    if (cmd_get_ll_or_reply(c, 2, &start, NULL) != 0 || cmd_get_ll_or_reply(c, 3, &end, NULL) != 0)
        return;
    o = list_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_empty_array(c->r);
        return;
    }
    n = list_range((long long)ks_list_len(o), &start, &end);
    reply_array(c->r, n);
    if (n == 0)
        return;
    ks_list_locate(o, start, &p);
    for (long long k = 0; k < n; k++) {
        size_t len;
        const char *d = ks_list_pos_get(&p, &len);
        reply_bulk(c->r, d, len);
        ks_list_pos_next(&p);
    }
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
static void
cmd_lpos(cmd_ctx *c)
{
    const resp_arg *el = &c->argv[2];
    long long rank = 1, count = -1, maxlen = 0, matches = 0, idx, cmp = 0;
    int bad, tail;
    size_t mark = 0;
    ks_obj *o;
    ks_list_pos p;

    for (int i = 3; i < c->argc; i++) {
        int more = i + 1 < c->argc;
        if (more && cmd_arg_is(c, i, "rank")) {
            if (cmd_get_ll_or_reply(c, i + 1, &rank, NULL) != 0)
                return;
            if (rank == 0) {
                reply_error(c->r, LIST_RANK_ERR);
                return;
            }
        } else if (more && cmd_arg_is(c, i, "count")) {
            if (cmd_get_ll_or_reply(c, i + 1, &count, NULL) != 0)
                return;
            if (count < 0) {
                reply_error(c->r, "ERR COUNT can't be negative");
                return;
            }
        } else if (more && cmd_arg_is(c, i, "maxlen")) {
            if (cmd_get_ll_or_reply(c, i + 1, &maxlen, NULL) != 0)
                return;
            if (maxlen < 0) {
                reply_error(c->r, "ERR MAXLEN can't be negative");
                return;
            }
        } else {
            cmd_reply_syntax(c);
            return;
        }
        i++;
    }
    o = list_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    if (o == NULL) {
        if (count >= 0)
            reply_empty_array(c->r);
        else
            reply_null(c->r);
        return;
    }
    if (count >= 0)
        mark = reply_defer(c->r);
    tail = rank < 0;
    if (tail)
        rank = rank == LLONG_MIN ? 1 : -rank; /* Redis's negation wraps */
    idx = tail ? (long long)ks_list_len(o) - 1 : 0;
    if (ks_list_locate(o, tail ? -1 : 0, &p)) {
        do {
            size_t len;
            const char *d;
            if (maxlen != 0 && cmp >= maxlen)
                break;
            cmp++;
            d = ks_list_pos_get(&p, &len);
            if (len == el->len && memcmp(d, el->ptr, len) == 0) {
                if (rank > 1) {
                    rank--;
                } else {
                    matches++;
                    reply_int(c->r, idx);
                    if (count != 0 && matches >= (count < 0 ? 1 : count))
                        break;
                }
            }
            idx += tail ? -1 : 1;
        } while (tail ? ks_list_pos_prev(&p) : ks_list_pos_next(&p));
    }
    if (count >= 0)
        reply_defer_array(c->r, mark, matches);
    else if (matches == 0)
        reply_null(c->r);
}

/* ------------------------------------------------------------------------
 * Edits: LSET, LTRIM, LREM, LINSERT
 * ------------------------------------------------------------------------ */

static void
cmd_lset(cmd_ctx *c)
{
    long long idx;
    int bad;
    ks_list_pos p;
    ks_obj *o = list_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_error(c->r, "ERR no such key");
        return;
    }
    if (cmd_get_ll_or_reply(c, 2, &idx, NULL) != 0)
        return;
    if (!ks_list_locate(o, idx, &p)) {
        reply_error(c->r, "ERR index out of range");
        return;
    }
    ks_list_set(o, idx, c->argv[3].ptr, c->argv[3].len);
    reply_ok(c->r);
    cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    cmd_notify(c, NOTIFY_LIST, "lset", c->argv[1].ptr, c->argv[1].len);
}

static void
cmd_ltrim(cmd_ctx *c)
{
    long long start, end, n, keep;
    int bad;
    ks_obj *o;

    if (cmd_get_ll_or_reply(c, 2, &start, NULL) != 0 || cmd_get_ll_or_reply(c, 3, &end, NULL) != 0)
        return;
    o = list_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_ok(c->r);
        return;
    }
    n = (long long)ks_list_len(o);
    keep = list_range(n, &start, &end);
    if (keep == 0) {
        ks_list_delete(o, 0, (size_t)n);
    } else {
        ks_list_delete(o, (size_t)end + 1, (size_t)(n - end - 1));
        ks_list_delete(o, 0, (size_t)start);
    }
    /* Redis notifies before it replies here. */
    cmd_notify(c, NOTIFY_LIST, "ltrim", c->argv[1].ptr, c->argv[1].len);
    list_del_if_empty(c, o, 1);
    cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    reply_ok(c->r);
}

static void
cmd_lrem(cmd_ctx *c)
{
    const resp_arg *el = &c->argv[3];
    long long count, removed = 0, idx;
    int bad, tail;
    ks_obj *o;

    if (cmd_get_ll_or_reply(c, 2, &count, NULL) != 0)
        return;
    o = list_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_int(c->r, 0);
        return;
    }
    tail = count < 0;
    idx = tail ? (long long)ks_list_len(o) - 1 : 0;
    while (idx >= 0 && idx < (long long)ks_list_len(o)) {
        ks_list_pos p;
        size_t len;
        const char *d;
        ks_list_locate(o, idx, &p);
        d = ks_list_pos_get(&p, &len);
        if (len == el->len && memcmp(d, el->ptr, len) == 0) {
            ks_list_delete(o, (size_t)idx, 1);
            removed++;
            if (count != 0 && removed == (tail ? -count : count))
                break;
            if (tail)
                idx--;
        } else {
            idx += tail ? -1 : 1;
        }
    }
    if (removed) {
        /* Redis notifies before it replies here. */
        cmd_notify(c, NOTIFY_LIST, "lrem", c->argv[1].ptr, c->argv[1].len);
        list_del_if_empty(c, o, 1);
        cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    }
    reply_int(c->r, removed);
}

static void
cmd_linsert(cmd_ctx *c)
{
    const resp_arg *pivot = &c->argv[3], *el = &c->argv[4];
    int after, bad;
    long long idx = 0;
    ks_obj *o;
    ks_list_pos p;

    if (cmd_arg_is(c, 2, "after"))
        after = 1;
    else if (cmd_arg_is(c, 2, "before"))
        after = 0;
    else {
        cmd_reply_syntax(c);
        return;
    }
    o = list_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_int(c->r, 0);
        return;
    }
    if (ks_list_locate(o, 0, &p)) {
        do {
            size_t len;
            const char *d = ks_list_pos_get(&p, &len);
            if (len == pivot->len && memcmp(d, pivot->ptr, len) == 0) {
                ks_list_insert(o, (size_t)(idx + after), el->ptr, el->len);
                cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
                cmd_notify(c, NOTIFY_LIST, "linsert", c->argv[1].ptr, c->argv[1].len);
                reply_int(c->r, (long long)ks_list_len(o)); /* after, as Redis */
                return;
            }
            idx++;
        } while (ks_list_pos_next(&p));
    }
    reply_int(c->r, -1);
}

/* ------------------------------------------------------------------------
 * Command table
 * ------------------------------------------------------------------------ */

#define LIST_PUSH_CX                                                                               \
    "O(1) for each element added, so O(N) to add N elements when the command is called with "      \
    "multiple arguments."
#define LIST_MPOP_CX                                                                               \
    "O(N+M) where N is the number of provided keys and M is the number of elements returned."
#define LIST_BPOP_CX "O(N) where N is the number of provided keys."
#define LIST_BMOVE_SUM                                                                             \
    "Pop an element from a list, push it to another list and return it; or block until one is "    \
    "available"

/* One table entry for a command with one key at index 1. */
#define LIST_CMD(nm, fn_, ar, fl, ac, sum, since_, cx, kflags)                                     \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = (ar), .flags = (fl), .acl = (ac), .first_key = 1,      \
        .last_key = 1, .key_step = 1, .summary = (sum), .since = (since_), .group = "list",        \
        .complexity = (cx),                                                                        \
        .keyspecs = {{.flags = (kflags), .begin = 1, .lastkey = 0, .keystep = 1}},                 \
    }

/* A source/destination pair at 1 and 2 (LMOVE and friends). */
#define LIST_MOVE_CMD(nm, fn_, ar, fl, ac, sum, since_)                                            \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = (ar), .flags = (fl), .acl = (ac), .first_key = 1,      \
        .last_key = 2, .key_step = 1, .summary = (sum), .since = (since_), .group = "list",        \
        .complexity = "O(1)",                                                                      \
        .keyspecs = {{.flags = "RW access delete", .begin = 1, .lastkey = 0, .keystep = 1},        \
                     {.flags = "RW insert", .begin = 2, .lastkey = 0, .keystep = 1}},              \
    }

#define LIST_W   (CMD_WRITE | CMD_DENYOOM | CMD_FAST)
#define LIST_WF  (ACL_WRITE | ACL_LIST | ACL_FAST)
#define LIST_WS  (ACL_WRITE | ACL_LIST | ACL_SLOW)
#define LIST_RF  (ACL_READ | ACL_LIST | ACL_FAST)
#define LIST_RS  (ACL_READ | ACL_LIST | ACL_SLOW)
#define LIST_BL  (CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING)
#define LIST_BLA (ACL_WRITE | ACL_LIST | ACL_SLOW | ACL_BLOCKING)

/* Flags, ACL categories and key specs as Redis 7.0's COMMAND INFO gives
 * them; summary, since, group and complexity as COMMAND DOCS does. The
 * keynum key spec of LMPOP/BLMPOP is approximated by a range spec. */
cmd_def cmd_list_defs[] = {
    LIST_CMD("lpush", cmd_lpush, -3, LIST_W, LIST_WF, "Prepend one or multiple elements to a list",
             "1.0.0", LIST_PUSH_CX, "RW insert"),
    LIST_CMD("rpush", cmd_rpush, -3, LIST_W, LIST_WF, "Append one or multiple elements to a list",
             "1.0.0", LIST_PUSH_CX, "RW insert"),
    LIST_CMD("lpushx", cmd_lpushx, -3, LIST_W, LIST_WF,
             "Prepend an element to a list, only if the list exists", "2.2.0", LIST_PUSH_CX,
             "RW insert"),
    LIST_CMD("rpushx", cmd_rpushx, -3, LIST_W, LIST_WF,
             "Append an element to a list, only if the list exists", "2.2.0", LIST_PUSH_CX,
             "RW insert"),
    LIST_CMD("lpop", cmd_lpop, -2, CMD_WRITE | CMD_FAST, LIST_WF,
             "Remove and get the first elements in a list", "1.0.0",
             "O(N) where N is the number of elements returned", "RW access delete"),
    LIST_CMD("rpop", cmd_rpop, -2, CMD_WRITE | CMD_FAST, LIST_WF,
             "Remove and get the last elements in a list", "1.0.0",
             "O(N) where N is the number of elements returned", "RW access delete"),
    LIST_CMD("llen", cmd_llen, 2, CMD_READONLY | CMD_FAST, LIST_RF, "Get the length of a list",
             "1.0.0", "O(1)", "RO"),
    LIST_CMD("lindex", cmd_lindex, 3, CMD_READONLY, LIST_RS,
             "Get an element from a list by its index", "1.0.0",
             "O(N) where N is the number of elements to traverse to get to the element at index. "
             "This makes asking for the first or the last element of the list O(1).",
             "RO access"),
    LIST_CMD("lrange", cmd_lrange, 4, CMD_READONLY, LIST_RS, "Get a range of elements from a list",
             "1.0.0",
             "O(S+N) where S is the distance of start offset from HEAD for small lists, from "
             "nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the "
             "specified range.",
             "RO access"),
    LIST_CMD("lset", cmd_lset, 4, CMD_WRITE | CMD_DENYOOM, LIST_WS,
             "Set the value of an element in a list by its index", "1.0.0",
             "O(N) where N is the length of the list. Setting either the first or the last "
             "element of the list is O(1).",
             "RW update"),
    LIST_CMD("ltrim", cmd_ltrim, 4, CMD_WRITE, LIST_WS, "Trim a list to the specified range",
             "1.0.0", "O(N) where N is the number of elements to be removed by the operation.",
             "RW delete"),
    LIST_CMD("lrem", cmd_lrem, 4, CMD_WRITE, LIST_WS, "Remove elements from a list", "1.0.0",
             "O(N+M) where N is the length of the list and M is the number of elements removed.",
             "RW delete"),
    LIST_CMD("linsert", cmd_linsert, 5, CMD_WRITE | CMD_DENYOOM, LIST_WS,
             "Insert an element before or after another element in a list", "2.2.0",
             "O(N) where N is the number of elements to traverse before seeing the value pivot. "
             "This means that inserting somewhere on the left end on the list (head) can be "
             "considered O(1) and inserting somewhere on the right end (tail) is O(N).",
             "RW insert"),
    LIST_CMD("lpos", cmd_lpos, -3, CMD_READONLY, LIST_RS,
             "Return the index of matching elements on a list", "6.0.6",
             "O(N) where N is the number of elements in the list, for the average case. When "
             "searching for elements near the head or the tail of the list, or when the MAXLEN "
             "option is provided, the command may run in constant time.",
             "RO access"),
    LIST_MOVE_CMD("lmove", cmd_lmove, 5, CMD_WRITE | CMD_DENYOOM, LIST_WS,
                  "Pop an element from a list, push it to another list and return it", "6.2.0"),
    LIST_MOVE_CMD("rpoplpush", cmd_rpoplpush, 3, CMD_WRITE | CMD_DENYOOM, LIST_WS,
                  "Remove the last element in a list, prepend it to another list and return it",
                  "1.2.0"),
    {.name = "lmpop",
     .fn = cmd_lmpop,
     .arity = -4,
     .flags = CMD_WRITE | CMD_MOVABLE_KEYS,
     .acl = LIST_WS,
     .summary = "Pop elements from a list",
     .since = "7.0.0",
     .group = "list",
     .complexity = LIST_MPOP_CX,
     .keyspecs = {{.flags = "RW access delete", .begin = 1, .lastkey = -1, .keystep = 1}}},
    {.name = "blpop",
     .fn = cmd_blpop,
     .arity = -3,
     .flags = LIST_BL,
     .acl = LIST_BLA,
     .first_key = 1,
     .last_key = -2,
     .key_step = 1,
     .summary = "Remove and get the first element in a list, or block until one is available",
     .since = "2.0.0",
     .group = "list",
     .complexity = LIST_BPOP_CX,
     .keyspecs = {{.flags = "RW access delete", .begin = 1, .lastkey = -2, .keystep = 1}}},
    {.name = "brpop",
     .fn = cmd_brpop,
     .arity = -3,
     .flags = LIST_BL,
     .acl = LIST_BLA,
     .first_key = 1,
     .last_key = -2,
     .key_step = 1,
     .summary = "Remove and get the last element in a list, or block until one is available",
     .since = "2.0.0",
     .group = "list",
     .complexity = LIST_BPOP_CX,
     .keyspecs = {{.flags = "RW access delete", .begin = 1, .lastkey = -2, .keystep = 1}}},
    LIST_MOVE_CMD("blmove", cmd_blmove, 6, LIST_BL | CMD_DENYOOM, LIST_BLA, LIST_BMOVE_SUM,
                  "6.2.0"),
    LIST_MOVE_CMD("brpoplpush", cmd_brpoplpush, 4, LIST_BL | CMD_DENYOOM, LIST_BLA, LIST_BMOVE_SUM,
                  "2.2.0"),
    {.name = "blmpop",
     .fn = cmd_blmpop,
     .arity = -5,
     .flags = CMD_WRITE | CMD_BLOCKING | CMD_MOVABLE_KEYS,
     .acl = LIST_BLA,
     .summary = "Pop elements from a list, or block until one is available",
     .since = "7.0.0",
     .group = "list",
     .complexity = LIST_MPOP_CX,
     .keyspecs = {{.flags = "RW access delete", .begin = 2, .lastkey = -1, .keystep = 1}}},
    {0},
};
