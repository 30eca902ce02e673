/*
 * broker/commands/set: the set command family: SADD, SREM, SCARD,
 * SISMEMBER, SMISMEMBER, SMEMBERS, SMOVE, SPOP, SRANDMEMBER, SINTER,
 * SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN.
 *
 * Handlers check in Redis 7.0's order (arguments, then every key's type,
 * then the stored values) and create a missing key only once nothing can
 * fail any more. A set whose last member goes is deleted. The value type
 * and its intset -> hashtable conversion live in keyspace/t_set; the
 * threshold comes from set-max-intset-entries at each write. The set
 * algebra builds its result as a set value (an intset while it can be),
 * so SUNION/SDIFF of small integer sets list members in ascending order,
 * as Redis 7.0 does.
 *
 * Every change fires Redis's keyspace events (sadd, srem, spop,
 * sinterstore, sunionstore, sdiffstore; del when a set empties), in
 * Redis's order relative to the reply. SPOP is recorded as Redis 7.0
 * records it: SREM key member for one member, DEL key when the whole set
 * goes, else one SREM per popped member in MULTI/EXEC.
 *
 * Hot path: SADD/SISMEMBER (one key lookup, one member lookup). The
 * algebra is O(total members). Not here: the value type (keyspace/t_set),
 * SCAN plumbing (scan.c).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/commands/families.h"
#include "broker/commands/scan_int.h"
#include "broker/config/config.h"
#include "broker/keyspace/t_set.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

#define SET_RAND_ERR                                                                               \
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
#define SET_POSITIVE_ERR "ERR value is out of range, must be positive"

/* ------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------ */

/* xorshift64* state for SPOP and SRANDMEMBER, seeded on first use. */
static uint64_t set_rng_state;

static uint64_t
set_rng(void)
{
    uint64_t x = set_rng_state;
    if (x == 0)
        x = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&set_rng_state ^ 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    set_rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* The intset limit as configured right now. */
static size_t
set_max_intset(void)
{
    return (size_t)config.set_max_intset_entries;
}

/* Looks up the set under argv[i] for reading or writing. Returns it, or
 * NULL with *bad 0 when missing, or NULL with *bad 1 after replying
 * WRONGTYPE. */
static ks_obj *
set_lookup(cmd_ctx *c, int i, int write, int *bad)
{
    ks_obj *o = write ? cmd_lookup_write(c, i) : cmd_lookup_read(c, i);
    *bad = 0;
    if (o != NULL && o->type != KS_SET) {
        cmd_reply_wrongtype(c);
        *bad = 1;
        return NULL;
    }
    return o;
}

/* Deletes an emptied set under key k and fires "del". */
static void
set_del_if_empty(cmd_ctx *c, ks_obj *o, const resp_arg *k)
{
    if (ks_set_count(o) == 0) {
        ks_del(c->db, k->ptr, k->len);
        cmd_notify(c, NOTIFY_GENERIC, "del", k->ptr, k->len);
    }
}

/* ------------------------------------------------------------------------
 * SADD, SREM, SMOVE
 * ------------------------------------------------------------------------ */

static void
cmd_sadd(cmd_ctx *c)
{
    size_t max = set_max_intset();
    long long added = 0;
    int bad;
    ks_obj *o = set_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        o = ks_set_new_for(c->argv[2].ptr, c->argv[2].len);
        ks_add(c->db, c->argv[1].ptr, c->argv[1].len, o);
    }
    for (int i = 2; i < c->argc; i++)
        added += ks_set_add(o, c->argv[i].ptr, c->argv[i].len, max);
    if (added) {
        cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
        c->dirty += added - 1; /* one change per member added */
        cmd_notify(c, NOTIFY_SET, "sadd", c->argv[1].ptr, c->argv[1].len);
    }
    reply_int(c->r, added);
}

static void
cmd_srem(cmd_ctx *c)
{
    long long deleted = 0;
    int bad, removed = 0;
    ks_obj *o = set_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_int(c->r, 0);
        return;
    }
    for (int i = 2; i < c->argc; i++) {
        deleted += ks_set_del(o, c->argv[i].ptr, c->argv[i].len);
        if (ks_set_count(o) == 0) {
            /* The set is gone; the remaining members cannot match. */
            ks_del(c->db, c->argv[1].ptr, c->argv[1].len);
            removed = 1;
            break;
        }
    }
    if (deleted) {
        cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
        c->dirty += deleted - 1;
        cmd_notify(c, NOTIFY_SET, "srem", c->argv[1].ptr, c->argv[1].len);
        if (removed)
            cmd_notify(c, NOTIFY_GENERIC, "del", c->argv[1].ptr, c->argv[1].len);
    }
    reply_int(c->r, deleted);
}

/* SMOVE: a missing source replies 0 before the destination's type is
 * checked, as in Redis; a source equal to the destination only tests
 * membership. Events: srem (and del) on the source, then sadd. */
static void
cmd_smove(cmd_ctx *c)
{
    const resp_arg *src = &c->argv[1], *dst = &c->argv[2], *m = &c->argv[3];
    ks_obj *so, *dobj;
    int bad;

    so = set_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    dobj = cmd_lookup_write(c, 2);
    if (so == NULL) {
        reply_int(c->r, 0);
        return;
    }
    if (dobj != NULL && dobj->type != KS_SET) {
        cmd_reply_wrongtype(c);
        return;
    }
    if (so == dobj) {
        reply_int(c->r, ks_set_contains(so, m->ptr, m->len));
        return;
    }
    if (!ks_set_del(so, m->ptr, m->len)) {
        reply_int(c->r, 0);
        return;
    }
    cmd_notify(c, NOTIFY_SET, "srem", src->ptr, src->len);
    set_del_if_empty(c, so, src);
    cmd_key_changed(c, src->ptr, src->len);
    if (dobj == NULL) {
        dobj = ks_set_new_for(m->ptr, m->len);
        ks_add(c->db, dst->ptr, dst->len, dobj);
    }
    if (ks_set_add(dobj, m->ptr, m->len, set_max_intset())) {
        cmd_key_changed(c, dst->ptr, dst->len);
        cmd_notify(c, NOTIFY_SET, "sadd", dst->ptr, dst->len);
    }
    reply_int(c->r, 1);
}

/* ------------------------------------------------------------------------
 * SCARD, SISMEMBER, SMISMEMBER
 * ------------------------------------------------------------------------ */

static void
cmd_scard(cmd_ctx *c)
{
    int bad;
    ks_obj *o = set_lookup(c, 1, 0, &bad);
    if (!bad)
        reply_int(c->r, o ? (long long)ks_set_count(o) : 0);
}

static void
cmd_sismember(cmd_ctx *c)
{
    int bad;
    ks_obj *o = set_lookup(c, 1, 0, &bad);
    if (!bad)
        reply_int(c->r, o && ks_set_contains(o, c->argv[2].ptr, c->argv[2].len));
}

static void
cmd_smismember(cmd_ctx *c)
{
    int bad;
    ks_obj *o = set_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    reply_array(c->r, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        reply_int(c->r, o && ks_set_contains(o, c->argv[i].ptr, c->argv[i].len));
}

/* ------------------------------------------------------------------------
 * SPOP, SRANDMEMBER
 * ------------------------------------------------------------------------ */

/* Replies every member of o as a RESP3 set, in o's order. */
static void
set_reply_members(cmd_ctx *c, ks_obj *o)
{
    ks_set_iter it;
    const char *m;
    size_t len;
    reply_set(c->r, (long long)ks_set_count(o));
    ks_set_iter_start(&it, o);
    while (ks_set_iter_next(&it, &m, &len))
        reply_bulk(c->r, m, len);
    ks_set_iter_stop(&it);
}

/* Adds SREM key member to batch (the popped member, for replay). */
static void
set_prop_srem(cmd_prop_batch *batch, const resp_arg *k, const char *m, size_t len)
{
    cmd_prop_args a;
    resp_arg member = {m, len};
    cmd_prop_args_init(&a);
    cmd_prop_lit(&a, "SREM");
    cmd_prop_arg(&a, k);
    cmd_prop_arg(&a, &member);
    cmd_prop_batch_add(batch, &a);
}

/* SPOP key count. Popping the whole set replies it in its own order and
 * deletes the key; otherwise count random members are removed one by
 * one. Events: spop, then del when the set is gone. */
static void
set_pop_count(cmd_ctx *c)
{
    const resp_arg *k = &c->argv[1];
    cmd_prop_batch batch;
    char buf[KS_SET_NUM_BUF];
    long long l;
    size_t count;
    int bad;
    ks_obj *o;

    /* Redis 7.0 gives one message for a non-integer and a negative count. */
    if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &l) || l < 0) {
        reply_error(c->r, SET_POSITIVE_ERR);
        return;
    }
    o = set_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL || l == 0) {
        reply_set(c->r, 0);
        return;
    }
    count = (size_t)l;
    cmd_notify(c, NOTIFY_SET, "spop", k->ptr, k->len);
    /* One change per member popped (cmd_key_changed adds the last). */
    c->dirty += (long long)(count < ks_set_count(o) ? count : ks_set_count(o)) - 1;
    if (count >= ks_set_count(o)) {
        cmd_prop_args a;
        set_reply_members(c, o);
        ks_del(c->db, k->ptr, k->len);
        cmd_notify(c, NOTIFY_GENERIC, "del", k->ptr, k->len);
        cmd_key_changed(c, k->ptr, k->len);
        cmd_prop_args_init(&a);
        cmd_prop_lit(&a, "DEL");
        cmd_prop_arg(&a, k);
        cmd_prop_emit(c, &a);
        return;
    }
    reply_set(c->r, (long long)count);
    cmd_prop_batch_init(&batch);
    for (size_t i = 0; i < count; i++) {
        const char *m;
        size_t len;
        char *copy;
        ks_set_random(o, set_rng, buf, &m, &len);
        /* m may be the dict's key, which dies with the member. */
        copy = util_memdup(m, len);
        reply_bulk(c->r, copy, len);
        set_prop_srem(&batch, k, copy, len);
        ks_set_del(o, copy, len);
        util_free(copy);
    }
    cmd_key_changed(c, k->ptr, k->len);
    cmd_prop_batch_flush(c, &batch);
}

static void
cmd_spop(cmd_ctx *c)
{
    const resp_arg *k = &c->argv[1];
    char buf[KS_SET_NUM_BUF];
    const char *m;
    size_t len;
    char *copy;
    int bad;
    ks_obj *o;

    if (c->argc == 3) {
        set_pop_count(c);
        return;
    }
    if (c->argc > 3) {
        cmd_reply_syntax(c);
        return;
    }
    o = set_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_null(c->r);
        return;
    }
    ks_set_random(o, set_rng, buf, &m, &len);
    copy = util_memdup(m, len);
    ks_set_del(o, copy, len);
    cmd_notify(c, NOTIFY_SET, "spop", k->ptr, k->len);
    reply_bulk(c->r, copy, len);
    {
        cmd_prop_args a;
        resp_arg member = {copy, len};
        cmd_prop_args_init(&a);
        cmd_prop_lit(&a, "SREM");
        cmd_prop_arg(&a, k);
        cmd_prop_arg(&a, &member);
        cmd_prop_emit(c, &a);
    }
    util_free(copy);
    set_del_if_empty(c, o, k);
    cmd_key_changed(c, k->ptr, k->len);
}

/* Copies of every member of o, for draws without repeats. */
static char **
set_collect(ks_obj *o, size_t **lens)
{
    size_t n = ks_set_count(o), i = 0;
    char **ms = util_malloc(n * sizeof(*ms));
    ks_set_iter it;
    const char *m;
    size_t len;
    *lens = util_malloc(n * sizeof(**lens));
    ks_set_iter_start(&it, o);
    while (ks_set_iter_next(&it, &m, &len)) {
        ms[i] = util_memdup(m, len);
        (*lens)[i++] = len;
    }
    ks_set_iter_stop(&it);
    return ms;
}

/* count < size distinct random members: a partial shuffle of a copy of
 * the members. */
static void
set_rand_unique(cmd_ctx *c, ks_obj *o, size_t count)
{
    size_t size = ks_set_count(o), *lens;
    char **ms = set_collect(o, &lens);
    reply_array(c->r, (long long)count);
    for (size_t i = 0; i < count; i++) {
        size_t k = i + (size_t)(set_rng() % (size - i));
        char *tm = ms[i];
        size_t tl = lens[i];
        ms[i] = ms[k], lens[i] = lens[k];
        ms[k] = tm, lens[k] = tl;
        reply_bulk(c->r, ms[i], lens[i]);
    }
    for (size_t i = 0; i < size; i++)
        util_free(ms[i]);
    util_free(ms);
    util_free(lens);
}

/* SRANDMEMBER key count: negative counts allow repeats; a count of at
 * least the size returns the whole set (an array, in the set's order). */
static void
set_rand_count(cmd_ctx *c)
{
    char buf[KS_SET_NUM_BUF];
    const char *m;
    size_t len, count;
    long long l;
    int bad;
    ks_obj *o;

    if (cmd_get_ll_or_reply(c, 2, &l, NULL) < 0)
        return;
    if (l < -LLONG_MAX) {
        reply_error(c->r, SET_RAND_ERR);
        return;
    }
    o = set_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    if (o == NULL || l == 0) {
        reply_array(c->r, 0);
        return;
    }
    if (l < 0) {
        count = (size_t)-l;
        reply_array(c->r, (long long)count);
        while (count--) {
            ks_set_random(o, set_rng, buf, &m, &len);
            reply_bulk(c->r, m, len);
        }
        return;
    }
    count = (size_t)l;
    if (count >= ks_set_count(o)) {
        ks_set_iter it;
        reply_array(c->r, (long long)ks_set_count(o));
        ks_set_iter_start(&it, o);
        while (ks_set_iter_next(&it, &m, &len))
            reply_bulk(c->r, m, len);
        ks_set_iter_stop(&it);
        return;
    }
    set_rand_unique(c, o, count);
}

static void
cmd_srandmember(cmd_ctx *c)
{
    char buf[KS_SET_NUM_BUF];
    const char *m;
    size_t len;
    int bad;
    ks_obj *o;

    if (c->argc == 3) {
        set_rand_count(c);
        return;
    }
    if (c->argc > 3) {
        cmd_reply_syntax(c);
        return;
    }
    o = set_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_null(c->r);
        return;
    }
    ks_set_random(o, set_rng, buf, &m, &len);
    reply_bulk(c->r, m, len);
}

/* ------------------------------------------------------------------------
 * Set algebra: SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE,
 * SDIFF, SDIFFSTORE (and SMEMBERS, which Redis 7.0 runs as SINTER)
 * ------------------------------------------------------------------------ */

enum set_op { SET_OP_INTER, SET_OP_UNION, SET_OP_DIFF };

/* Looks up the n sets under argv[first..]; missing keys give NULL. Every
 * key's type is checked, in order, before anything else (Redis does the
 * same even after a missing key). Returns the array (caller frees) or
 * NULL after replying WRONGTYPE. */
static ks_obj **
set_lookup_all(cmd_ctx *c, int first, int n, int write)
{
    ks_obj **sets = util_calloc((size_t)n + 1, sizeof(*sets));
    for (int j = 0; j < n; j++) {
        int bad;
        sets[j] = set_lookup(c, first + j, write, &bad);
        if (bad) {
            util_free(sets);
            return NULL;
        }
    }
    return sets;
}

static int
set_cmp_count(const void *a, const void *b)
{
    size_t x = ks_set_count(*(ks_obj *const *)a), y = ks_set_count(*(ks_obj *const *)b);
    return x < y ? -1 : x > y;
}

/* Stores result res (owned) under dst, or deletes dst when res is empty;
 * replies the size and fires event (or "del"). */
static void
set_store(cmd_ctx *c, const resp_arg *dst, ks_obj *res, const char *event)
{
    size_t n = ks_set_count(res);
    if (n > 0) {
        ks_set(c->db, dst->ptr, dst->len, res, 0);
        cmd_key_changed(c, dst->ptr, dst->len);
        reply_int(c->r, (long long)n);
        cmd_notify(c, NOTIFY_SET, event, dst->ptr, dst->len);
        return;
    }
    ks_obj_free(res);
    reply_int(c->r, 0);
    if (ks_del(c->db, dst->ptr, dst->len)) {
        cmd_key_changed(c, dst->ptr, dst->len);
        cmd_notify(c, NOTIFY_GENERIC, "del", dst->ptr, dst->len);
    }
}

/* SINTER / SINTERCARD / SINTERSTORE over the n keys at argv[first]: the
 * smallest set is walked and each member tested in the others. mode 0
 * replies the members, 1 the count (stopping at limit when non-zero),
 * 2 stores under argv[1]. */
static void
set_inter_generic(cmd_ctx *c, int first, int n, int mode, long long limit)
{
    const resp_arg *dst = &c->argv[1];
    ks_obj **sets = set_lookup_all(c, first, n, mode == 2);
    ks_obj *res = NULL;
    long long card = 0;
    size_t mark = 0;
    ks_set_iter it;
    const char *m;
    size_t len;

    if (sets == NULL)
        return;
    for (int j = 0; j < n; j++) {
        if (sets[j] != NULL)
            continue;
        /* A missing key is an empty set: the intersection is empty. */
        util_free(sets);
        if (mode == 2) {
            /* Here Redis deletes (and notifies) before it replies. */
            if (ks_del(c->db, dst->ptr, dst->len)) {
                cmd_key_changed(c, dst->ptr, dst->len);
                cmd_notify(c, NOTIFY_GENERIC, "del", dst->ptr, dst->len);
            }
            reply_int(c->r, 0);
        } else if (mode == 1) {
            reply_int(c->r, 0);
        } else {
            reply_set(c->r, 0);
        }
        return;
    }
    qsort(sets, (size_t)n, sizeof(*sets), set_cmp_count);
    if (mode == 2)
        res = ks_set_new_intset();
    else if (mode == 0)
        mark = reply_defer(c->r);
    ks_set_iter_start(&it, sets[0]);
    while (ks_set_iter_next(&it, &m, &len)) {
        int j;
        for (j = 1; j < n; j++)
            if (sets[j] != sets[0] && !ks_set_contains(sets[j], m, len))
                break;
        if (j < n)
            continue;
        if (mode == 2)
            ks_set_add(res, m, len, set_max_intset());
        else if (mode == 0)
            reply_bulk(c->r, m, len);
        card++;
        if (mode == 1 && limit && card >= limit)
            break;
    }
    ks_set_iter_stop(&it);
    util_free(sets);
    if (mode == 2)
        set_store(c, dst, res, "sinterstore");
    else if (mode == 1)
        reply_int(c->r, card);
    else
        reply_defer_set(c->r, mark, card);
}

/* SUNION / SDIFF (and their STORE forms) over the n keys at argv[first]:
 * the result is built as a set value, then replied or stored. */
static void
set_union_diff_generic(cmd_ctx *c, int first, int n, enum set_op op, int store)
{
    ks_obj **sets = set_lookup_all(c, first, n, store);
    ks_obj *res;
    ks_set_iter it;
    const char *m;
    size_t len, max = set_max_intset();

    if (sets == NULL)
        return;
    res = ks_set_new_intset();
    for (int j = 0; j < n; j++) {
        if (sets[j] == NULL)
            continue;
        if (op == SET_OP_DIFF && j > 0)
            break;
        ks_set_iter_start(&it, sets[j]);
        while (ks_set_iter_next(&it, &m, &len)) {
            int keep = 1;
            if (op == SET_OP_DIFF)
                for (int k = 1; k < n && keep; k++)
                    keep = sets[k] == NULL || !ks_set_contains(sets[k], m, len);
            if (keep)
                ks_set_add(res, m, len, max);
        }
        ks_set_iter_stop(&it);
    }
    util_free(sets);
    if (store) {
        set_store(c, &c->argv[1], res, op == SET_OP_UNION ? "sunionstore" : "sdiffstore");
        return;
    }
    set_reply_members(c, res);
    ks_obj_free(res);
}

static void
cmd_sinter(cmd_ctx *c)
{
    set_inter_generic(c, 1, c->argc - 1, 0, 0);
}

static void
cmd_sinterstore(cmd_ctx *c)
{
    set_inter_generic(c, 2, c->argc - 2, 2, 0);
}

static void
cmd_sintercard(cmd_ctx *c)
{
    long long numkeys, limit = 0;
    if (!util_str2ll(c->argv[1].ptr, c->argv[1].len, &numkeys) || numkeys < 1) {
        reply_error(c->r, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > c->argc - 2) {
        reply_error(c->r, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int i = 2 + (int)numkeys; i < c->argc; i++) {
        if (cmd_arg_is(c, i, "limit") && i + 1 < c->argc) {
            i++;
            if (!util_str2ll(c->argv[i].ptr, c->argv[i].len, &limit) || limit < 0) {
                reply_error(c->r, "ERR LIMIT can't be negative");
                return;
            }
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }
    set_inter_generic(c, 2, (int)numkeys, 1, limit);
}

static void
cmd_sunion(cmd_ctx *c)
{
    set_union_diff_generic(c, 1, c->argc - 1, SET_OP_UNION, 0);
}

static void
cmd_sunionstore(cmd_ctx *c)
{
    set_union_diff_generic(c, 2, c->argc - 2, SET_OP_UNION, 1);
}

static void
cmd_sdiff(cmd_ctx *c)
{
    set_union_diff_generic(c, 1, c->argc - 1, SET_OP_DIFF, 0);
}

static void
cmd_sdiffstore(cmd_ctx *c)
{
    set_union_diff_generic(c, 2, c->argc - 2, SET_OP_DIFF, 1);
}

/* ------------------------------------------------------------------------
 * SSCAN
 * ------------------------------------------------------------------------ */

static void
set_scan_collect(void *priv, const char *m, size_t len)
{
    cmd__scan_items_add(priv, m, len);
}

static uint64_t
set_scan_step(ks_obj *o, uint64_t cursor, cmd__scan_items *it)
{
    return ks_set_scan(o, cursor, set_scan_collect, it);
}

/* An intset is returned whole with cursor 0, whatever COUNT says; a
 * hashtable is scanned until COUNT members are in, the cursor wraps or the
 * bucket budget is spent. */
static void
cmd_sscan(cmd_ctx *c)
{
    cmd__scan_collection(c, KS_SET, KS_ENC_INTSET, set_scan_step, 1);
}

/* ------------------------------------------------------------------------
 * Command table
 * ------------------------------------------------------------------------ */

#define SET_SCAN_CX                                                                                \
    "O(1) for every call. O(N) for a complete iteration, including enough command calls for "      \
    "the cursor to return back to 0. N is the number of elements inside the collection.."
#define SET_INTER_CX                                                                               \
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of "     \
    "sets."
#define SET_UNION_CX "O(N) where N is the total number of elements in all given sets."

/* One entry with a single key spec: keys argv[1] .. argv[last] (last is
 * 0 for one key, -1 for all). */
#define SET_CMD(nm, fn_, ar, fl, ac, lk, sum, since_, cx, kflags, tp)                              \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = (ar), .flags = (fl), .acl = (ac), .first_key = 1,      \
        .last_key = (lk) == 0 ? 1 : (lk), .key_step = 1, .summary = (sum), .since = (since_),      \
        .group = "set", .complexity = (cx),                                                        \
        .keyspecs = {{.flags = (kflags), .begin = 1, .lastkey = (lk), .keystep = 1}}, .tips = (tp) \
    }

/* A STORE command: the destination, then the sources to the end. */
#define SET_STORE_CMD(nm, fn_, sum, cx, dflags)                                                    \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM,                  \
        .acl = ACL_WRITE | ACL_SET | ACL_SLOW, .first_key = 1, .last_key = -1, .key_step = 1,      \
        .summary = (sum), .since = "1.0.0", .group = "set", .complexity = (cx),                    \
        .keyspecs = {{.flags = (dflags), .begin = 1, .lastkey = 0, .keystep = 1},                  \
                     {.flags = "RO access", .begin = 2, .lastkey = -1, .keystep = 1}},             \
    }

#define SET_W  (CMD_WRITE | CMD_FAST)
#define SET_WA (ACL_WRITE | ACL_SET | ACL_FAST)
#define SET_R  (CMD_READONLY | CMD_FAST)
#define SET_RA (ACL_READ | ACL_SET | ACL_FAST)
#define SET_RS (ACL_READ | ACL_SET | ACL_SLOW)

/* Flags, ACL categories, key specs and tips as Redis 7.0's COMMAND INFO
 * gives them; summary, since, group and complexity as COMMAND DOCS does.
 * SINTERCARD's keynum key spec is approximated by a range spec. */
cmd_def cmd_set_defs[] = {
    SET_CMD("sadd", cmd_sadd, -3, SET_W | CMD_DENYOOM, SET_WA, 0,
            "Add one or more members to a set", "1.0.0",
            "O(1) for each element added, so O(N) to add N elements when the command is called "
            "with multiple arguments.",
            "RW insert", NULL),
    SET_CMD("srem", cmd_srem, -3, SET_W, SET_WA, 0, "Remove one or more members from a set",
            "1.0.0", "O(N) where N is the number of members to be removed.", "RW delete", NULL),
    SET_CMD("scard", cmd_scard, 2, SET_R, SET_RA, 0, "Get the number of members in a set", "1.0.0",
            "O(1)", "RO", NULL),
    SET_CMD("sismember", cmd_sismember, 3, SET_R, SET_RA, 0,
            "Determine if a given value is a member of a set", "1.0.0", "O(1)", "RO", NULL),
    SET_CMD("smismember", cmd_smismember, -3, SET_R, SET_RA, 0,
            "Returns the membership associated with the given elements for a set", "6.2.0",
            "O(N) where N is the number of elements being checked for membership", "RO access",
            NULL),
    SET_CMD("smembers", cmd_sinter, 2, CMD_READONLY, SET_RS, 0, "Get all the members in a set",
            "1.0.0", "O(N) where N is the set cardinality.", "RO access",
            "nondeterministic_output_order"),
    {.name = "smove",
     .fn = cmd_smove,
     .arity = 4,
     .flags = SET_W,
     .acl = SET_WA,
     .first_key = 1,
     .last_key = 2,
     .key_step = 1,
     .summary = "Move a member from one set to another",
     .since = "1.0.0",
     .group = "set",
     .complexity = "O(1)",
     .keyspecs = {{.flags = "RW access delete", .begin = 1, .lastkey = 0, .keystep = 1},
                  {.flags = "RW insert", .begin = 2, .lastkey = 0, .keystep = 1}}},
    SET_CMD("spop", cmd_spop, -2, SET_W, SET_WA, 0,
            "Remove and return one or multiple random members from a set", "1.0.0",
            "Without the count argument O(1), otherwise O(N) where N is the value of the passed "
            "count.",
            "RW access delete", "nondeterministic_output"),
    SET_CMD("srandmember", cmd_srandmember, -2, CMD_READONLY, SET_RS, 0,
            "Get one or multiple random members from a set", "1.0.0",
            "Without the count argument O(1), otherwise O(N) where N is the absolute value of the "
            "passed count.",
            "RO access", "nondeterministic_output"),
    SET_CMD("sinter", cmd_sinter, -2, CMD_READONLY, SET_RS, -1, "Intersect multiple sets", "1.0.0",
            SET_INTER_CX, "RO access", "nondeterministic_output_order"),
    {.name = "sintercard",
     .fn = cmd_sintercard,
     .arity = -3,
     .flags = CMD_READONLY | CMD_MOVABLE_KEYS,
     .acl = SET_RS,
     .first_key = 0,
     .last_key = 0,
     .key_step = 0,
     .summary = "Intersect multiple sets and return the cardinality of the result",
     .since = "7.0.0",
     .group = "set",
     .complexity = SET_INTER_CX,
     .keyspecs = {{.flags = "RO access", .begin = 2, .lastkey = -1, .keystep = 1}}},
    SET_STORE_CMD("sinterstore", cmd_sinterstore,
                  "Intersect multiple sets and store the resulting set in a key", SET_INTER_CX,
                  "RW update"),
    SET_CMD("sunion", cmd_sunion, -2, CMD_READONLY, SET_RS, -1, "Add multiple sets", "1.0.0",
            SET_UNION_CX, "RO access", "nondeterministic_output_order"),
    SET_STORE_CMD("sunionstore", cmd_sunionstore,
                  "Add multiple sets and store the resulting set in a key", SET_UNION_CX,
                  "OW update"),
    SET_CMD("sdiff", cmd_sdiff, -2, CMD_READONLY, SET_RS, -1, "Subtract multiple sets", "1.0.0",
            SET_UNION_CX, "RO access", "nondeterministic_output_order"),
    SET_STORE_CMD("sdiffstore", cmd_sdiffstore,
                  "Subtract multiple sets and store the resulting set in a key", SET_UNION_CX,
                  "OW update"),
    SET_CMD("sscan", cmd_sscan, -3, CMD_READONLY, SET_RS, 0, "Incrementally iterate Set elements",
            "2.8.0", SET_SCAN_CX, "RO access", "nondeterministic_output"),
    {0},
};
