/*
 * broker/commands/hash: the hash command family: HSET, HSETNX, HMSET,
 * HGET, HMGET, HDEL, HLEN, HSTRLEN, HEXISTS, HKEYS, HVALS, HGETALL,
 * HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN.
 *
 * Handlers check in Redis 7.0's order (arity and number arguments, then
 * the key's type, then the stored value) and create a missing key only
 * once nothing can fail any more, so an error never leaves an empty hash
 * behind. A hash whose last field goes is deleted. The value type and its
 * listpack -> hashtable conversion live in keyspace/t_hash; the thresholds
 * come from hash-max-listpack-entries / -value at each write.
 *
 * Every change fires Redis's keyspace events (hset, hdel, hincrby,
 * hincrbyfloat; del when HDEL empties the hash) after cmd_key_changed.
 * HINCRBYFLOAT is recorded as HSET key field <result> (Redis 7.0), so float
 * rounding cannot differ on replay; the other writes replay as they are.
 *
 * Hot path: HSET/HGET (one key lookup, one field lookup). HRANDFIELD with
 * a negative count and HGETALL are O(reply size).
 * Not here: the value type (keyspace/t_hash), SCAN plumbing (scan.c).
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "broker/commands/families.h"
#include "broker/commands/scan_int.h"
#include "broker/config/config.h"
#include "broker/keyspace/t_hash.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

/* HRANDFIELD's count must lie in [-LONG_MAX, LONG_MAX], and within half
 * that with WITHVALUES (the reply would hold twice as many items). */
#define HASH_RAND_MAX LLONG_MAX
#define HASH_RAND_ERR                                                                              \
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
#define HASH_RAND_HALF_ERR "ERR value is out of range"

/* ------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------ */

/* xorshift64* state for HRANDFIELD, seeded on first use. */
static uint64_t hash_rng_state;

static uint64_t
hash_rng(void)
{
    uint64_t x = hash_rng_state;
    if (x == 0)
        x = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&hash_rng_state ^ 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    hash_rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* The conversion thresholds as configured right now. */
static ks_hash_limits
hash_limits(void)
{
    ks_hash_limits lim = {(size_t)config.hash_max_listpack_entries,
                          (size_t)config.hash_max_listpack_value};
    return lim;
}

/* Looks up the hash under argv[1] for reading (counting a hit or miss).
 * Returns it, or NULL with *bad 0 when missing, or NULL with *bad 1 after
 * replying WRONGTYPE. */
static ks_obj *
hash_lookup_read(cmd_ctx *c, int *bad)
{
    ks_obj *o = cmd_lookup_read(c, 1);
    *bad = 0;
    if (o != NULL && o->type != KS_HASH) {
        cmd_reply_wrongtype(c);
        *bad = 1;
        return NULL;
    }
    return o;
}

/* As hash_lookup_read, for commands that write. */
static ks_obj *
hash_lookup_write(cmd_ctx *c, int *bad)
{
    ks_obj *o = cmd_lookup_write(c, 1);
    *bad = 0;
    if (o != NULL && o->type != KS_HASH) {
        cmd_reply_wrongtype(c);
        *bad = 1;
        return NULL;
    }
    return o;
}

/* Returns o, or a new empty hash stored under argv[1] when o is NULL. */
static ks_obj *
hash_create_if_missing(cmd_ctx *c, ks_obj *o)
{
    if (o == NULL) {
        o = ks_hash_new();
        ks_add(c->db, c->argv[1].ptr, c->argv[1].len, o);
    }
    return o;
}

/* ------------------------------------------------------------------------
 * Writes: HSET, HMSET, HSETNX, HDEL, HINCRBY, HINCRBYFLOAT
 * ------------------------------------------------------------------------ */

/* HSET and HMSET: the same work, replying the count of new fields (HSET)
 * or +OK (HMSET). Pairs apply left to right, so a repeated field keeps its
 * last value. */
static void
hash_set_generic(cmd_ctx *c, int ok_reply)
{
    ks_hash_limits lim = hash_limits();
    long long created = 0;
    int bad;
    ks_obj *o;

    if (c->argc % 2 == 1) {
        reply_errorf(c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    o = hash_lookup_write(c, &bad);
    if (bad)
        return;
    o = hash_create_if_missing(c, o);
    for (int i = 2; i < c->argc; i += 2)
        created += ks_hash_set(o, c->argv[i].ptr, c->argv[i].len, c->argv[i + 1].ptr,
                               c->argv[i + 1].len, &lim);
    /* Redis replies first and notifies after, so a subscribed RESP3
     * caller sees the reply before the push. */
    if (ok_reply)
        reply_ok(c->r);
    else
        reply_int(c->r, created);
    cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    c->dirty += (c->argc - 2) / 2 - 1; /* one change per pair, as Redis counts */
    cmd_notify(c, NOTIFY_HASH, "hset", c->argv[1].ptr, c->argv[1].len);
}

static void
cmd_hset(cmd_ctx *c)
{
    hash_set_generic(c, 0);
}

static void
cmd_hmset(cmd_ctx *c)
{
    hash_set_generic(c, 1);
}

static void
cmd_hsetnx(cmd_ctx *c)
{
    ks_hash_limits lim = hash_limits();
    int bad;
    ks_obj *o = hash_lookup_write(c, &bad);
    if (bad)
        return;
    if (o != NULL && ks_hash_find(o, c->argv[2].ptr, c->argv[2].len, NULL, NULL)) {
        reply_int(c->r, 0);
        return;
    }
    o = hash_create_if_missing(c, o);
    ks_hash_set(o, c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr, c->argv[3].len, &lim);
    reply_int(c->r, 1);
    cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    cmd_notify(c, NOTIFY_HASH, "hset", c->argv[1].ptr, c->argv[1].len);
}

static void
cmd_hdel(cmd_ctx *c)
{
    long long deleted = 0;
    int bad, removed = 0;
    ks_obj *o = hash_lookup_write(c, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_int(c->r, 0);
        return;
    }
    for (int i = 2; i < c->argc; i++) {
        deleted += ks_hash_del(o, c->argv[i].ptr, c->argv[i].len);
        if (ks_hash_count(o) == 0) {
            /* The hash is gone; the remaining fields cannot match. */
            ks_del(c->db, c->argv[1].ptr, c->argv[1].len);
            removed = 1;
            break;
        }
    }
    if (deleted) {
        cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
        c->dirty += deleted - 1; /* one change per field removed */
        cmd_notify(c, NOTIFY_HASH, "hdel", c->argv[1].ptr, c->argv[1].len);
        if (removed)
            cmd_notify(c, NOTIFY_GENERIC, "del", c->argv[1].ptr, c->argv[1].len);
    }
    reply_int(c->r, deleted);
}

static void
cmd_hincrby(cmd_ctx *c)
{
    ks_hash_limits lim = hash_limits();
    long long incr, value = 0;
    char buf[UTIL_LL_BUF];
    const char *v;
    size_t vlen, n;
    int bad;
    ks_obj *o;

    if (cmd_get_ll_or_reply(c, 3, &incr, NULL) < 0)
        return;
    o = hash_lookup_write(c, &bad);
    if (bad)
        return;
    if (o != NULL && ks_hash_find(o, c->argv[2].ptr, c->argv[2].len, &v, &vlen) &&
        !util_str2ll(v, vlen, &value)) {
        reply_error(c->r, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        reply_error(c->r, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    n = util_ll2str(buf, value);
    o = hash_create_if_missing(c, o);
    ks_hash_set(o, c->argv[2].ptr, c->argv[2].len, buf, n, &lim);
    reply_int(c->r, value);
    cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    cmd_notify(c, NOTIFY_HASH, "hincrby", c->argv[1].ptr, c->argv[1].len);
}

static void
cmd_hincrbyfloat(cmd_ctx *c)
{
    ks_hash_limits lim = hash_limits();
    long double incr, value = 0;
    const char *v;
    size_t vlen, n;
    int bad;
    ks_obj *o;
    char *buf;

    if (!util_str2ld(c->argv[3].ptr, c->argv[3].len, &incr)) {
        reply_error(c->r, "ERR value is not a valid float");
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        reply_error(c->r, "ERR value is NaN or Infinity");
        return;
    }
    o = hash_lookup_write(c, &bad);
    if (bad)
        return;
    if (o != NULL && ks_hash_find(o, c->argv[2].ptr, c->argv[2].len, &v, &vlen) &&
        !util_str2ld(v, vlen, &value)) {
        reply_error(c->r, "ERR hash value is not a float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        reply_error(c->r, "ERR increment would produce NaN or Infinity");
        return;
    }
    /* The text can run to thousands of digits (1e4000 has no exponent
     * form in "human" mode), too much for the stack of a handler. */
    buf = util_malloc(UTIL_LD_MAX_CHARS);
    n = util_ld2str(buf, UTIL_LD_MAX_CHARS, value, UTIL_LD_HUMAN);
    o = hash_create_if_missing(c, o);
    ks_hash_set(o, c->argv[2].ptr, c->argv[2].len, buf, n, &lim);
    reply_bulk(c->r, buf, n);
    cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    {
        cmd_prop_args a;
        resp_arg val = {buf, n};
        cmd_prop_args_init(&a);
        cmd_prop_lit(&a, "HSET");
        cmd_prop_arg(&a, &c->argv[1]);
        cmd_prop_arg(&a, &c->argv[2]);
        cmd_prop_arg(&a, &val);
        cmd_prop_emit(c, &a);
    }
    cmd_notify(c, NOTIFY_HASH, "hincrbyfloat", c->argv[1].ptr, c->argv[1].len);
    util_free(buf);
}

/* ------------------------------------------------------------------------
 * Reads: HGET, HMGET, HLEN, HSTRLEN, HEXISTS, HKEYS, HVALS, HGETALL
 * ------------------------------------------------------------------------ */

static void
cmd_hget(cmd_ctx *c)
{
    const char *v;
    size_t vlen;
    int bad;
    ks_obj *o = hash_lookup_read(c, &bad);
    if (bad)
        return;
    if (o != NULL && ks_hash_find(o, c->argv[2].ptr, c->argv[2].len, &v, &vlen))
        reply_bulk(c->r, v, vlen);
    else
        reply_null(c->r);
}

static void
cmd_hmget(cmd_ctx *c)
{
    int bad;
    ks_obj *o = hash_lookup_read(c, &bad);
    if (bad)
        return;
    reply_array(c->r, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        const char *v;
        size_t vlen;
        if (o != NULL && ks_hash_find(o, c->argv[i].ptr, c->argv[i].len, &v, &vlen))
            reply_bulk(c->r, v, vlen);
        else
            reply_null(c->r);
    }
}

static void
cmd_hlen(cmd_ctx *c)
{
    int bad;
    ks_obj *o = hash_lookup_read(c, &bad);
    if (!bad)
        reply_int(c->r, o ? (long long)ks_hash_count(o) : 0);
}

static void
cmd_hstrlen(cmd_ctx *c)
{
    size_t vlen = 0;
    int bad;
    ks_obj *o = hash_lookup_read(c, &bad);
    if (bad)
        return;
    if (o == NULL || !ks_hash_find(o, c->argv[2].ptr, c->argv[2].len, NULL, &vlen))
        vlen = 0;
    reply_int(c->r, (long long)vlen);
}

static void
cmd_hexists(cmd_ctx *c)
{
    int bad;
    ks_obj *o = hash_lookup_read(c, &bad);
    if (!bad)
        reply_int(c->r, o && ks_hash_find(o, c->argv[2].ptr, c->argv[2].len, NULL, NULL));
}

/* Which parts of each pair HKEYS, HVALS and HGETALL reply. */
#define HASH_ALL_FIELDS 1
#define HASH_ALL_VALUES 2

/* HKEYS, HVALS, HGETALL: every pair in the encoding's order; HGETALL is a
 * map (RESP3 '%'), the others flat arrays. */
static void
hash_getall_generic(cmd_ctx *c, int what)
{
    int map = what == (HASH_ALL_FIELDS | HASH_ALL_VALUES);
    const char *f, *v;
    size_t flen, vlen;
    ks_hash_iter it;
    int bad;
    ks_obj *o = hash_lookup_read(c, &bad);
    if (bad)
        return;
    if (o == NULL) {
        if (map)
            reply_map(c->r, 0);
        else
            reply_array(c->r, 0);
        return;
    }
    if (map)
        reply_map(c->r, (long long)ks_hash_count(o));
    else
        reply_array(c->r, (long long)ks_hash_count(o));
    ks_hash_iter_start(&it, o);
    while (ks_hash_iter_next(&it, &f, &flen, &v, &vlen)) {
        if (what & HASH_ALL_FIELDS)
            reply_bulk(c->r, f, flen);
        if (what & HASH_ALL_VALUES)
            reply_bulk(c->r, v, vlen);
    }
    ks_hash_iter_stop(&it);
}

static void
cmd_hkeys(cmd_ctx *c)
{
    hash_getall_generic(c, HASH_ALL_FIELDS);
}

static void
cmd_hvals(cmd_ctx *c)
{
    hash_getall_generic(c, HASH_ALL_VALUES);
}

static void
cmd_hgetall(cmd_ctx *c)
{
    hash_getall_generic(c, HASH_ALL_FIELDS | HASH_ALL_VALUES);
}

/* ------------------------------------------------------------------------
 * HRANDFIELD
 * ------------------------------------------------------------------------ */

/* One pair of an HRANDFIELD reply: RESP3 nests field and value in a
 * 2-array, RESP2 lists them flat. */
static void
hash_rand_reply_pair(cmd_ctx *c, const char *f, size_t flen, const char *v, size_t vlen,
                     int withvalues)
{
    if (withvalues && c->r->resp > 2)
        reply_array(c->r, 2);
    reply_bulk(c->r, f, flen);
    if (withvalues)
        reply_bulk(c->r, v, vlen);
}

/* The header of an HRANDFIELD reply of n pairs. */
static void
hash_rand_reply_header(cmd_ctx *c, unsigned long long n, int withvalues)
{
    if (withvalues && c->r->resp == 2)
        reply_array(c->r, (long long)(n * 2));
    else
        reply_array(c->r, (long long)n);
}

/* count pairs drawn independently (repeats allowed). A listpack's pair
 * positions are gathered once so each draw is O(1). */
static void
hash_rand_repeat(cmd_ctx *c, ks_obj *o, unsigned long long count, int withvalues)
{
    const char *f, *v;
    size_t flen, vlen;
    hash_rand_reply_header(c, count, withvalues);
    if (o->enc == KS_ENC_LISTPACK) {
        size_t size = ks_hash_count(o), i = 0;
        const char **fs = util_malloc(size * sizeof(*fs)), **vs = util_malloc(size * sizeof(*vs));
        size_t *fl = util_malloc(size * sizeof(*fl)), *vl = util_malloc(size * sizeof(*vl));
        ks_hash_iter it;
        ks_hash_iter_start(&it, o);
        while (ks_hash_iter_next(&it, &fs[i], &fl[i], &vs[i], &vl[i]))
            i++;
        ks_hash_iter_stop(&it);
        while (count--) {
            size_t k = (size_t)(hash_rng() % size);
            hash_rand_reply_pair(c, fs[k], fl[k], vs[k], vl[k], withvalues);
        }
        util_free(fs);
        util_free(vs);
        util_free(fl);
        util_free(vl);
        return;
    }
    while (count--) {
        ks_hash_random(o, hash_rng, &f, &flen, &v, &vlen);
        hash_rand_reply_pair(c, f, flen, v, vlen, withvalues);
    }
}

/* count < size distinct pairs. A listpack is walked once with selection
 * sampling (each pair kept with probability needed / remaining), which
 * keeps the listpack's order as Redis's does; a hashtable draws random
 * entries and skips repeats (count * 3 <= size, few repeats), or shuffles
 * the first count slots of an array of all pairs. */
static void
hash_rand_unique(cmd_ctx *c, ks_obj *o, unsigned long long count, int withvalues)
{
    size_t size = ks_hash_count(o);
    const char *f, *v;
    size_t flen, vlen;
    ks_hash_iter it;

    hash_rand_reply_header(c, count, withvalues);
    if (o->enc == KS_ENC_LISTPACK) {
        size_t remaining = size, needed = (size_t)count;
        ks_hash_iter_start(&it, o);
        while (needed > 0 && ks_hash_iter_next(&it, &f, &flen, &v, &vlen)) {
            if (hash_rng() % remaining < needed) {
                hash_rand_reply_pair(c, f, flen, v, vlen, withvalues);
                needed--;
            }
            remaining--;
        }
        ks_hash_iter_stop(&it);
    } else if (count * 3 <= size) {
        ks_dict *seen = ks_dict_new();
        size_t got = 0;
        if (seen == NULL)
            runnel_panic("out of memory in HRANDFIELD");
        while (got < count) {
            int existed;
            ks_hash_random(o, hash_rng, &f, &flen, &v, &vlen);
            if (ks_dict_add_or_find(seen, f, flen, &existed) == NULL)
                runnel_panic("out of memory in HRANDFIELD");
            if (existed)
                continue;
            hash_rand_reply_pair(c, f, flen, v, vlen, withvalues);
            got++;
        }
        ks_dict_free(seen, NULL);
    } else {
        const char **fs = util_malloc(size * sizeof(*fs)), **vs = util_malloc(size * sizeof(*vs));
        size_t *fl = util_malloc(size * sizeof(*fl)), *vl = util_malloc(size * sizeof(*vl));
        size_t i = 0;
        ks_hash_iter_start(&it, o);
        while (ks_hash_iter_next(&it, &fs[i], &fl[i], &vs[i], &vl[i]))
            i++;
        ks_hash_iter_stop(&it);
        for (i = 0; i < count; i++) {
            size_t k = i + (size_t)(hash_rng() % (size - i));
            const char *tf = fs[i], *tv = vs[i];
            size_t tfl = fl[i], tvl = vl[i];
            fs[i] = fs[k], vs[i] = vs[k], fl[i] = fl[k], vl[i] = vl[k];
            fs[k] = tf, vs[k] = tv, fl[k] = tfl, vl[k] = tvl;
            hash_rand_reply_pair(c, fs[i], fl[i], vs[i], vl[i], withvalues);
        }
        util_free(fs);
        util_free(vs);
        util_free(fl);
        util_free(vl);
    }
}

/* HRANDFIELD key count [WITHVALUES] once the arguments are valid. A
 * negative count allows repeats; count 1 is drawn that way too, as in
 * Redis; a count of at least the size returns the whole hash in order. */
static void
hash_rand_with_count(cmd_ctx *c, long long l, int withvalues)
{
    unsigned long long count;
    const char *f, *v;
    size_t flen, vlen, size;
    ks_hash_iter it;
    int bad;
    ks_obj *o = hash_lookup_read(c, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_array(c->r, 0);
        return;
    }
    count = l >= 0 ? (unsigned long long)l : (unsigned long long)-l;
    if (count == 0) {
        reply_array(c->r, 0);
        return;
    }
    if (l < 0 || count == 1) {
        hash_rand_repeat(c, o, count, withvalues);
        return;
    }
    size = ks_hash_count(o);
    if (count >= size) {
        hash_rand_reply_header(c, size, withvalues);
        ks_hash_iter_start(&it, o);
        while (ks_hash_iter_next(&it, &f, &flen, &v, &vlen))
            hash_rand_reply_pair(c, f, flen, v, vlen, withvalues);
        ks_hash_iter_stop(&it);
        return;
    }
    hash_rand_unique(c, o, count, withvalues);
}

static void
cmd_hrandfield(cmd_ctx *c)
{
    const char *f, *v;
    size_t flen, vlen;
    int bad;
    ks_obj *o;

    if (c->argc >= 3) {
        long long l;
        int withvalues = 0;
        if (cmd_get_ll_or_reply(c, 2, &l, NULL) < 0)
            return;
        if (l < -HASH_RAND_MAX) {
            reply_error(c->r, HASH_RAND_ERR);
            return;
        }
        if (c->argc > 4 || (c->argc == 4 && !cmd_arg_is(c, 3, "withvalues"))) {
            cmd_reply_syntax(c);
            return;
        }
        if (c->argc == 4) {
            withvalues = 1;
            if (l < -HASH_RAND_MAX / 2 || l > HASH_RAND_MAX / 2) {
                reply_error(c->r, HASH_RAND_HALF_ERR);
                return;
            }
        }
        hash_rand_with_count(c, l, withvalues);
        return;
    }
    o = hash_lookup_read(c, &bad);
    if (bad)
        return;
    if (o == NULL) {
        reply_null(c->r);
        return;
    }
    ks_hash_random(o, hash_rng, &f, &flen, &v, &vlen);
    reply_bulk(c->r, f, flen);
}

/* ------------------------------------------------------------------------
 * HSCAN
 * ------------------------------------------------------------------------ */

static void
hash_scan_collect(void *priv, const char *f, size_t flen, const char *v, size_t vlen)
{
    cmd__scan_items *items = priv;
    cmd__scan_items_add(items, f, flen);
    cmd__scan_items_add(items, v, vlen);
}

static uint64_t
hash_scan_step(ks_obj *o, uint64_t cursor, cmd__scan_items *it)
{
    return ks_hash_scan(o, cursor, hash_scan_collect, it);
}

/* A listpack hash is returned whole with cursor 0, whatever COUNT says; a
 * hashtable is scanned until COUNT items (fields and values both count, as
 * in Redis 7.0) are in, the cursor wraps or the bucket budget is spent. */
static void
cmd_hscan(cmd_ctx *c)
{
    cmd__scan_collection(c, KS_HASH, KS_ENC_LISTPACK, hash_scan_step, 2);
}

/* ------------------------------------------------------------------------
 * Command table
 * ------------------------------------------------------------------------ */

#define HASH_SCAN_CX                                                                               \
    "O(1) for every call. O(N) for a complete iteration, including enough command calls for "      \
    "the cursor to return back to 0. N is the number of elements inside the collection.."

/* One table entry: every hash command has one key, at index 1, with a
 * single key spec (lastkey 0, keystep 1). */
#define HASH_CMD(nm, fn_, ar, fl, ac, sum, since_, cx, kflags, tp)                                 \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = (ar), .flags = (fl), .acl = (ac), .first_key = 1,      \
        .last_key = 1, .key_step = 1, .summary = (sum), .since = (since_), .group = "hash",        \
        .complexity = (cx),                                                                        \
        .keyspecs = {{.flags = (kflags), .begin = 1, .lastkey = 0, .keystep = 1}}, .tips = (tp)    \
    }

#define HASH_W  (CMD_WRITE | CMD_DENYOOM | CMD_FAST)
#define HASH_WA (ACL_WRITE | ACL_HASH | ACL_FAST)
#define HASH_R  (CMD_READONLY | CMD_FAST)
#define HASH_RA (ACL_READ | ACL_HASH | ACL_FAST)
#define HASH_RS (ACL_READ | ACL_HASH | ACL_SLOW)

/* Flags, ACL categories, key specs and tips as Redis 7.0's COMMAND INFO
 * gives them; summary, since, group and complexity as COMMAND DOCS does. */
cmd_def cmd_hash_defs[] = {
    HASH_CMD("hset", cmd_hset, -4, HASH_W, HASH_WA, "Set the string value of a hash field", "2.0.0",
             "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the "
             "command is called with multiple field/value pairs.",
             "RW update", NULL),
    HASH_CMD("hsetnx", cmd_hsetnx, 4, HASH_W, HASH_WA,
             "Set the value of a hash field, only if the field does not exist", "2.0.0", "O(1)",
             "RW insert", NULL),
    HASH_CMD("hmset", cmd_hmset, -4, HASH_W, HASH_WA, "Set multiple hash fields to multiple values",
             "2.0.0", "O(N) where N is the number of fields being set.", "RW update", NULL),
    HASH_CMD("hget", cmd_hget, 3, HASH_R, HASH_RA, "Get the value of a hash field", "2.0.0", "O(1)",
             "RO access", NULL),
    HASH_CMD("hmget", cmd_hmget, -3, HASH_R, HASH_RA, "Get the values of all the given hash fields",
             "2.0.0", "O(N) where N is the number of fields being requested.", "RO access", NULL),
    HASH_CMD("hdel", cmd_hdel, -3, CMD_WRITE | CMD_FAST, HASH_WA, "Delete one or more hash fields",
             "2.0.0", "O(N) where N is the number of fields to be removed.", "RW delete", NULL),
    HASH_CMD("hlen", cmd_hlen, 2, HASH_R, HASH_RA, "Get the number of fields in a hash", "2.0.0",
             "O(1)", "RO", NULL),
    HASH_CMD("hstrlen", cmd_hstrlen, 3, HASH_R, HASH_RA,
             "Get the length of the value of a hash field", "3.2.0", "O(1)", "RO", NULL),
    HASH_CMD("hexists", cmd_hexists, 3, HASH_R, HASH_RA, "Determine if a hash field exists",
             "2.0.0", "O(1)", "RO", NULL),
    HASH_CMD("hkeys", cmd_hkeys, 2, CMD_READONLY, HASH_RS, "Get all the fields in a hash", "2.0.0",
             "O(N) where N is the size of the hash.", "RO access", "nondeterministic_output_order"),
    HASH_CMD("hvals", cmd_hvals, 2, CMD_READONLY, HASH_RS, "Get all the values in a hash", "2.0.0",
             "O(N) where N is the size of the hash.", "RO access", "nondeterministic_output_order"),
    HASH_CMD("hgetall", cmd_hgetall, 2, CMD_READONLY, HASH_RS,
             "Get all the fields and values in a hash", "2.0.0",
             "O(N) where N is the size of the hash.", "RO access", "nondeterministic_output_order"),
    HASH_CMD("hincrby", cmd_hincrby, 4, HASH_W, HASH_WA,
             "Increment the integer value of a hash field by the given number", "2.0.0", "O(1)",
             "RW access update", NULL),
    HASH_CMD("hincrbyfloat", cmd_hincrbyfloat, 4, HASH_W, HASH_WA,
             "Increment the float value of a hash field by the given amount", "2.6.0", "O(1)",
             "RW access update", NULL),
    HASH_CMD("hrandfield", cmd_hrandfield, -2, CMD_READONLY, HASH_RS,
             "Get one or multiple random fields from a hash", "6.2.0",
             "O(N) where N is the number of fields returned", "RO access",
             "nondeterministic_output"),
    HASH_CMD("hscan", cmd_hscan, -3, CMD_READONLY, HASH_RS,
             "Incrementally iterate hash fields and associated values", "2.8.0", HASH_SCAN_CX,
             "RO access", "nondeterministic_output"),
    {0},
};
