/*
 * broker/commands/string: the string command family (GET, SET and its
 * options, the counters, ranges, MGET/MSET, LCS).
 *
 * Every handler parses and validates all of its arguments before it
 * touches the keyspace, and checks in the order Redis 7.0 does, so the
 * first error a client sees is the same one Redis would send. Values that
 * arrive from a client are stored through ks_obj_new_str(), which picks the
 * int/embstr/raw encoding as Redis does; APPEND and SETRANGE edit in place
 * and leave a raw string; counters store int-encoded results; INCRBYFLOAT
 * stores a plain (embstr or raw) string, never "int".
 *
 * Hot path: GET and SET (one lookup, one insert). LCS is O(N*M) in time and
 * memory and refuses tables larger than the bulk length limit.
 *
 * Propagation: a relative or seconds expiry is recorded as SET key value
 * PXAT <ms> (SETEX, PSETEX, SET EX/PX/EXAT), GETEX as PEXPIREAT, PERSIST
 * or DEL, GETSET as SET, GETDEL as DEL and INCRBYFLOAT as SET ... KEEPTTL
 * with the result, exactly as Redis 7.0 rewrites them.
 *
 * Not here: key-level commands (keys.c), bit operations.
 */
#include "broker/commands/families.h"
#include "broker/config/config.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/util/mem.h"
#include "broker/util/num.h"

/* Largest string a command may build: proto-max-bulk-len, as Redis's
 * checkStringLength uses. */
#define STRING_MAX_LEN (config.proto_max_bulk_len)

/* Buffer for a long double printed with "%.17Lf": enough for LDBL_MAX. */
#define STRING_LD_BUF UTIL_LD_MAX_CHARS

/* Options of SET and GETEX (string_parse_opts). */
#define STRING_OPT_NX      (1u << 0)
#define STRING_OPT_XX      (1u << 1)
#define STRING_OPT_GET     (1u << 2)
#define STRING_OPT_KEEPTTL (1u << 3)
#define STRING_OPT_PERSIST (1u << 4)
#define STRING_OPT_EX      (1u << 5)
#define STRING_OPT_PX      (1u << 6)
#define STRING_OPT_EXAT    (1u << 7)
#define STRING_OPT_PXAT    (1u << 8)
#define STRING_OPT_EXPIRE  (STRING_OPT_EX | STRING_OPT_PX | STRING_OPT_EXAT | STRING_OPT_PXAT)

/* ------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------ */

/* A string object holding exactly these bytes, never tagged "int": what
 * Redis's createStringObject builds (INCRBYFLOAT results). ks_obj_new_str
 * embeds every value of at most KS_EMBSTR_MAX bytes, int or not, so only
 * the tag changes. */
static ks_obj *
string_obj_new_plain(const char *p, size_t len)
{
    ks_obj *o;
    if (len > KS_EMBSTR_MAX)
        return ks_obj_new_raw(p, len);
    o = ks_obj_new_str(p, len);
    o->enc = KS_ENC_EMBSTR;
    return o;
}

/* Replies the error for a result longer than the bulk limit when
 * len + add exceeds it (or overflows); returns -1 then, else 0. */
static int
string_check_len_or_reply(cmd_ctx *c, long long len, long long add)
{
    unsigned long long total = (unsigned long long)len + (unsigned long long)add;
    if (total > (unsigned long long)STRING_MAX_LEN) {
        reply_error(c->r, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return -1;
    }
    return 0;
}

/* The GET part shared by GET, GETSET, GETDEL and SET ... GET: replies the
 * value or a null, counting a keyspace hit or miss. Returns -1 after a
 * WRONGTYPE reply, 0 otherwise; *found gets the value (NULL if none). */
static int
string_reply_value(cmd_ctx *c, ks_obj **found)
{
    ks_obj *o = cmd_lookup_read(c, 1);
    *found = o;
    if (o == NULL) {
        reply_null(c->r);
        return 0;
    }
    if (o->type != KS_STRING)
        return cmd_reply_wrongtype(c);
    reply_bulk(c->r, o->ptr, o->len);
    return 0;
}

/* Parses the options of SET (is_set) or GETEX from argv[first] on, with
 * Redis's rules: NX/XX exclude each other, KEEPTTL/PERSIST and the four
 * expiry forms exclude each other, repeating an option is allowed (the last
 * value wins). Replies "syntax error" and returns -1 on anything else;
 * *expire_idx gets the argv index of the expiry value or 0. */
static int
string_parse_opts(cmd_ctx *c, int first, int is_set, unsigned *flags, int *expire_idx)
{
    unsigned f = 0;
    *expire_idx = 0;
    for (int j = first; j < c->argc; j++) {
        int has_next = j + 1 < c->argc;
        if (is_set && cmd_arg_is(c, j, "nx") && !(f & STRING_OPT_XX)) {
            f |= STRING_OPT_NX;
        } else if (is_set && cmd_arg_is(c, j, "xx") && !(f & STRING_OPT_NX)) {
            f |= STRING_OPT_XX;
        } else if (is_set && cmd_arg_is(c, j, "get")) {
            f |= STRING_OPT_GET;
        } else if (is_set && cmd_arg_is(c, j, "keepttl") &&
                   !(f & (STRING_OPT_PERSIST | STRING_OPT_EXPIRE))) {
            f |= STRING_OPT_KEEPTTL;
        } else if (!is_set && cmd_arg_is(c, j, "persist") &&
                   !(f & (STRING_OPT_KEEPTTL | STRING_OPT_EXPIRE))) {
            f |= STRING_OPT_PERSIST;
        } else if (cmd_arg_is(c, j, "ex") && has_next &&
                   !(f & (STRING_OPT_KEEPTTL | STRING_OPT_PERSIST | STRING_OPT_EXPIRE) &
                     ~STRING_OPT_EX)) {
            f |= STRING_OPT_EX;
            *expire_idx = ++j;
        } else if (cmd_arg_is(c, j, "px") && has_next &&
                   !(f & (STRING_OPT_KEEPTTL | STRING_OPT_PERSIST | STRING_OPT_EXPIRE) &
                     ~STRING_OPT_PX)) {
            f |= STRING_OPT_PX;
            *expire_idx = ++j;
        } else if (cmd_arg_is(c, j, "exat") && has_next &&
                   !(f & (STRING_OPT_KEEPTTL | STRING_OPT_PERSIST | STRING_OPT_EXPIRE) &
                     ~STRING_OPT_EXAT)) {
            f |= STRING_OPT_EXAT;
            *expire_idx = ++j;
        } else if (cmd_arg_is(c, j, "pxat") && has_next &&
                   !(f & (STRING_OPT_KEEPTTL | STRING_OPT_PERSIST | STRING_OPT_EXPIRE) &
                     ~STRING_OPT_PXAT)) {
            f |= STRING_OPT_PXAT;
            *expire_idx = ++j;
        } else {
            return cmd_reply_syntax(c);
        }
    }
    *flags = f;
    return 0;
}

/* Turns the expiry argument argv[i] into an absolute time in ms. Seconds
 * forms (EX, EXAT) are scaled, relative forms (EX, PX) are added to the
 * command time. A value <= 0, or one whose scaled or absolute form would
 * overflow, gets "invalid expire time in '<name>' command". Returns -1
 * after replying. */
static int
string_expire_or_reply(cmd_ctx *c, int i, unsigned flags, const char *name, int64_t *when)
{
    long long v;
    int seconds = (flags & (STRING_OPT_EX | STRING_OPT_EXAT)) != 0;
    if (cmd_get_ll_or_reply(c, i, &v, NULL) < 0)
        return -1;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000))
        goto invalid;
    if (seconds)
        v *= 1000;
    if (flags & (STRING_OPT_EX | STRING_OPT_PX)) {
        if (v > LLONG_MAX - c->now_ms)
            goto invalid;
        v += c->now_ms;
    }
    *when = v;
    return 0;
invalid:
    reply_errorf(c->r, "ERR invalid expire time in '%s' command", name);
    return -1;
}

/* Records the command as name argv[1] (then argv[2] when with_value):
 * GETSET as SET, GETDEL and a past GETEX as DEL, GETEX PERSIST as PERSIST. */
static void
string_propagate_key(cmd_ctx *c, const char *name, int with_value)
{
    cmd_prop_args a;
    cmd_prop_args_init(&a);
    cmd_prop_lit(&a, name);
    cmd_prop_arg(&a, &c->argv[1]);
    if (with_value)
        cmd_prop_arg(&a, &c->argv[2]);
    cmd_prop_emit(c, &a);
}

/* ------------------------------------------------------------------------
 * GET, SET and friends
 * ------------------------------------------------------------------------ */

static void
cmd_get(cmd_ctx *c)
{
    ks_obj *o;
    string_reply_value(c, &o);
}

/* The common tail of SET, SETNX, SETEX and PSETEX once the options are
 * known. The checks run in Redis's order: expiry value, then the GET
 * reply (and its type check), then the NX/XX condition. ok_int selects
 * the SETNX replies (:1 / :0) instead of +OK / null. */
static void
string_set_generic(cmd_ctx *c, unsigned flags, int val_i, int expire_i, const char *name,
                   int ok_int)
{
    const resp_arg *key = &c->argv[1];
    int64_t when = 0;
    ks_obj *o;
    if (expire_i && string_expire_or_reply(c, expire_i, flags, name, &when) < 0)
        return;
    if ((flags & STRING_OPT_GET) && string_reply_value(c, &o) < 0)
        return;
    /* A plain SET overwrites whatever is there, so only the conditional
     * forms (and KEEPTTL, which must not keep a stale key's TTL) need the
     * lookup, and its lazy expiry, first: one hash per SET instead of two. */
    o = (flags & (STRING_OPT_NX | STRING_OPT_XX | STRING_OPT_KEEPTTL)) ||
                (config.notify_keyspace_events & (NOTIFY_EXPIRED | NOTIFY_NEW))
            ? cmd_lookup_write(c, 1)
            : NULL;
    if (((flags & STRING_OPT_NX) && o != NULL) || ((flags & STRING_OPT_XX) && o == NULL)) {
        if (flags & STRING_OPT_GET)
            return; /* the old value (or null) is the reply */
        if (ok_int)
            reply_int(c->r, 0);
        else
            reply_null(c->r);
        return;
    }
    ks_set(c->db, key->ptr, key->len, ks_obj_new_str(c->argv[val_i].ptr, c->argv[val_i].len),
           (flags & STRING_OPT_KEEPTTL) != 0);
    /* A time already past is stored as is: Redis 7.0 keeps the key until
     * the next access or the active cycle expires it. */
    if (expire_i)
        ks_set_expire(c->db, key->ptr, key->len, when);
    cmd_key_changed(c, key->ptr, key->len);
    if (expire_i) {
        /* Replays at the same absolute time, without NX/XX/GET. */
        cmd_prop_args a;
        cmd_prop_args_init(&a);
        cmd_prop_lit(&a, "SET");
        cmd_prop_arg(&a, key);
        cmd_prop_arg(&a, &c->argv[val_i]);
        cmd_prop_lit(&a, "PXAT");
        cmd_prop_ll(&a, when);
        cmd_prop_emit(c, &a);
    }
    cmd_notify(c, NOTIFY_STRING, "set", key->ptr, key->len);
    if (expire_i)
        cmd_notify(c, NOTIFY_GENERIC, "expire", key->ptr, key->len);
    if (flags & STRING_OPT_GET)
        return;
    if (ok_int)
        reply_int(c->r, 1);
    else
        reply_ok(c->r);
}

static void
cmd_set(cmd_ctx *c)
{
    unsigned flags = 0;
    int expire_i;
    if (string_parse_opts(c, 3, 1, &flags, &expire_i) < 0)
        return;
    string_set_generic(c, flags, 2, expire_i, "set", 0);
}

static void
cmd_setnx(cmd_ctx *c)
{
    string_set_generic(c, STRING_OPT_NX, 2, 0, "setnx", 1);
}

static void
cmd_setex(cmd_ctx *c)
{
    string_set_generic(c, STRING_OPT_EX, 3, 2, "setex", 0);
}

static void
cmd_psetex(cmd_ctx *c)
{
    string_set_generic(c, STRING_OPT_PX, 3, 2, "psetex", 0);
}

static void
cmd_getset(cmd_ctx *c)
{
    const resp_arg *key = &c->argv[1];
    ks_obj *o;
    if (string_reply_value(c, &o) < 0)
        return;
    /* A plain SET: any TTL goes. The write lookup reaps a stale key. */
    cmd_lookup_write(c, 1);
    ks_set(c->db, key->ptr, key->len, ks_obj_new_str(c->argv[2].ptr, c->argv[2].len), 0);
    cmd_key_changed(c, key->ptr, key->len);
    string_propagate_key(c, "SET", 1);
    cmd_notify(c, NOTIFY_STRING, "set", key->ptr, key->len);
}

static void
cmd_getdel(cmd_ctx *c)
{
    const resp_arg *key = &c->argv[1];
    ks_obj *o;
    if (string_reply_value(c, &o) < 0 || o == NULL)
        return;
    ks_del(c->db, key->ptr, key->len);
    cmd_key_changed(c, key->ptr, key->len);
    string_propagate_key(c, "DEL", 0);
    cmd_notify(c, NOTIFY_GENERIC, "del", key->ptr, key->len);
}

/* GETEX checks in Redis's order: option syntax, then a missing key (null,
 * even with a bad expiry value), then the type, then the expiry value. */
static void
cmd_getex(cmd_ctx *c)
{
    const resp_arg *key = &c->argv[1];
    unsigned flags = 0;
    int expire_i;
    int64_t when = 0;
    ks_obj *o;
    if (string_parse_opts(c, 2, 0, &flags, &expire_i) < 0)
        return;
    o = cmd_lookup_read(c, 1);
    if (o == NULL) {
        reply_null(c->r);
        return;
    }
    if (o->type != KS_STRING) {
        cmd_reply_wrongtype(c);
        return;
    }
    if (expire_i && string_expire_or_reply(c, expire_i, flags, "getex", &when) < 0)
        return;
    reply_bulk(c->r, o->ptr, o->len);
    if ((flags & (STRING_OPT_EXAT | STRING_OPT_PXAT)) && when <= c->now_ms) {
        /* An absolute time already past deletes the key now. */
        ks_del(c->db, key->ptr, key->len);
        cmd_key_changed(c, key->ptr, key->len);
        string_propagate_key(c, "DEL", 0);
        cmd_notify(c, NOTIFY_GENERIC, "del", key->ptr, key->len);
    } else if (expire_i) {
        cmd_prop_args a;
        ks_set_expire(c->db, key->ptr, key->len, when);
        cmd_key_changed(c, key->ptr, key->len);
        cmd_prop_args_init(&a);
        cmd_prop_lit(&a, "PEXPIREAT");
        cmd_prop_arg(&a, key);
        cmd_prop_ll(&a, when);
        cmd_prop_emit(c, &a);
        cmd_notify(c, NOTIFY_GENERIC, "expire", key->ptr, key->len);
    } else if ((flags & STRING_OPT_PERSIST) && ks_persist(c->db, key->ptr, key->len)) {
        cmd_key_changed(c, key->ptr, key->len);
        string_propagate_key(c, "PERSIST", 0);
        cmd_notify(c, NOTIFY_GENERIC, "persist", key->ptr, key->len);
    }
}

static void
cmd_mget(cmd_ctx *c)
{
    reply_array(c->r, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        ks_obj *o = cmd_lookup_read(c, j);
        if (o == NULL || o->type != KS_STRING)
            reply_null(c->r);
        else
            reply_bulk(c->r, o->ptr, o->len);
    }
}

/* MSET and MSETNX. Pairs are set left to right, so a repeated key keeps its
 * last value; every key loses its TTL as with SET. */
static void
string_mset_generic(cmd_ctx *c, int nx)
{
    if (c->argc % 2 == 0) {
        reply_errorf(c->r, "ERR wrong number of arguments for '%s' command",
                     nx ? "msetnx" : "mset");
        return;
    }
    if (nx) {
        for (int j = 1; j < c->argc; j += 2) {
            if (cmd_lookup_write(c, j) != NULL) {
                reply_int(c->r, 0);
                return;
            }
        }
    }
    for (int j = 1; j < c->argc; j += 2) {
        const resp_arg *key = &c->argv[j];
        /* The write lookup reaps a stale key first, as Redis's setKey does. */
        cmd_lookup_write(c, j);
        ks_set(c->db, key->ptr, key->len, ks_obj_new_str(c->argv[j + 1].ptr, c->argv[j + 1].len),
               0);
        cmd_key_changed(c, key->ptr, key->len);
        cmd_notify(c, NOTIFY_STRING, "set", key->ptr, key->len);
    }
    if (nx)
        reply_int(c->r, 1);
    else
        reply_ok(c->r);
}

static void
cmd_mset(cmd_ctx *c)
{
    string_mset_generic(c, 0);
}

static void
cmd_msetnx(cmd_ctx *c)
{
    string_mset_generic(c, 1);
}

/* ------------------------------------------------------------------------
 * In-place edits: APPEND, SETRANGE; reads: STRLEN, GETRANGE
 * ------------------------------------------------------------------------ */

static void
cmd_append(cmd_ctx *c)
{
    const resp_arg *key = &c->argv[1];
    const resp_arg *add = &c->argv[2];
    ks_obj *o = cmd_lookup_write(c, 1);
    size_t total;
    if (o == NULL) {
        /* A new key is stored like a SET value (it may be "int"). */
        ks_add(c->db, key->ptr, key->len, ks_obj_new_str(add->ptr, add->len));
        total = add->len;
    } else {
        char *p;
        if (o->type != KS_STRING) {
            cmd_reply_wrongtype(c);
            return;
        }
        if (string_check_len_or_reply(c, (long long)o->len, (long long)add->len) < 0)
            return;
        /* Even an empty append leaves the value raw, as in Redis. */
        p = ks_obj_str_make_room(o, o->len + add->len);
        if (add->len)
            memcpy(p + o->len, add->ptr, add->len);
        o->len += add->len;
        p[o->len] = '\0';
        total = o->len;
    }
    cmd_key_changed(c, key->ptr, key->len);
    cmd_notify(c, NOTIFY_STRING, "append", key->ptr, key->len);
    reply_int(c->r, (long long)total);
}

static void
cmd_strlen(cmd_ctx *c)
{
    ks_obj *o = cmd_lookup_read(c, 1);
    if (o == NULL) {
        reply_int(c->r, 0);
        return;
    }
    if (o->type != KS_STRING) {
        cmd_reply_wrongtype(c);
        return;
    }
    reply_int(c->r, (long long)o->len);
}

/* SETRANGE: the offset is checked before the key; an empty value changes
 * nothing (and skips the size check), so it replies the current length. */
static void
cmd_setrange(cmd_ctx *c)
{
    const resp_arg *key = &c->argv[1];
    const resp_arg *val = &c->argv[3];
    long long offset;
    size_t end;
    char *p;
    ks_obj *o;
    if (cmd_get_ll_or_reply(c, 2, &offset, NULL) < 0)
        return;
    if (offset < 0) {
        reply_error(c->r, "ERR offset is out of range");
        return;
    }
    o = cmd_lookup_write(c, 1);
    if (o == NULL) {
        if (val->len == 0) {
            reply_int(c->r, 0);
            return;
        }
        if (string_check_len_or_reply(c, offset, (long long)val->len) < 0)
            return;
        o = ks_obj_new_raw("", 0);
        ks_add(c->db, key->ptr, key->len, o);
    } else {
        if (o->type != KS_STRING) {
            cmd_reply_wrongtype(c);
            return;
        }
        if (val->len == 0) {
            reply_int(c->r, (long long)o->len);
            return;
        }
        if (string_check_len_or_reply(c, offset, (long long)val->len) < 0)
            return;
    }
    end = (size_t)offset + val->len;
    p = ks_obj_str_make_room(o, end > o->len ? end : o->len);
    if ((size_t)offset > o->len)
        memset(p + o->len, 0, (size_t)offset - o->len);
    memcpy(p + offset, val->ptr, val->len);
    if (end > o->len) {
        o->len = end;
        p[end] = '\0';
    }
    cmd_key_changed(c, key->ptr, key->len);
    cmd_notify(c, NOTIFY_STRING, "setrange", key->ptr, key->len);
    reply_int(c->r, (long long)o->len);
}

/* GETRANGE and SUBSTR: inclusive range with negative indexes counted from
 * the end, clamped to the string. Both bounds are parsed before the key is
 * looked up; a missing key gives an empty string. */
static void
cmd_getrange(cmd_ctx *c)
{
    long long start, end, len;
    ks_obj *o;
    if (cmd_get_ll_or_reply(c, 2, &start, NULL) < 0 || cmd_get_ll_or_reply(c, 3, &end, NULL) < 0)
        return;
    o = cmd_lookup_read(c, 1);
    if (o == NULL) {
        reply_bulk(c->r, "", 0);
        return;
    }
    if (o->type != KS_STRING) {
        cmd_reply_wrongtype(c);
        return;
    }
    len = (long long)o->len;
    /* Both negative and inverted: empty, before any clamping. */
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c->r, "", 0);
        return;
    }
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (len == 0 || start > end)
        reply_bulk(c->r, "", 0);
    else
        reply_bulk(c->r, o->ptr + start, (size_t)(end - start + 1));
}

/* ------------------------------------------------------------------------
 * Counters
 * ------------------------------------------------------------------------ */

/* Adds incr to the integer at argv[1] (0 when missing), keeping its TTL,
 * and replies the result. */
static void
string_incr_generic(cmd_ctx *c, long long incr)
{
    const resp_arg *key = &c->argv[1];
    ks_obj *o = cmd_lookup_write(c, 1);
    long long v = 0;
    if (o != NULL) {
        if (o->type != KS_STRING) {
            cmd_reply_wrongtype(c);
            return;
        }
        if (!ks_obj_get_ll(o, &v)) {
            reply_error(c->r, "ERR value is not an integer or out of range");
            return;
        }
    }
    if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
        (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
        reply_error(c->r, "ERR increment or decrement would overflow");
        return;
    }
    v += incr;
    /* In place when the value came from arithmetic before (TTL kept), as
     * Redis updates an unshared integer object. */
    if (o == NULL || ks_obj_set_ll(o, v) != 0)
        ks_set(c->db, key->ptr, key->len, ks_obj_new_ll(v), 1);
    cmd_key_changed(c, key->ptr, key->len);
    cmd_notify(c, NOTIFY_STRING, "incrby", key->ptr, key->len);
    reply_int(c->r, v);
}

static void
cmd_incr(cmd_ctx *c)
{
    string_incr_generic(c, 1);
}

static void
cmd_decr(cmd_ctx *c)
{
    string_incr_generic(c, -1);
}

static void
cmd_incrby(cmd_ctx *c)
{
    long long incr;
    if (cmd_get_ll_or_reply(c, 2, &incr, NULL) < 0)
        return;
    string_incr_generic(c, incr);
}

static void
cmd_decrby(cmd_ctx *c)
{
    long long decr;
    if (cmd_get_ll_or_reply(c, 2, &decr, NULL) < 0)
        return;
    /* -LLONG_MIN does not exist. */
    if (decr == LLONG_MIN) {
        reply_error(c->r, "ERR decrement would overflow");
        return;
    }
    string_incr_generic(c, -decr);
}

/* INCRBYFLOAT works in long double and stores the human form ("%.17Lf"
 * without trailing zeros). The stored value is checked before the
 * increment, as in Redis. */
static void
cmd_incrbyfloat(cmd_ctx *c)
{
    const resp_arg *key = &c->argv[1];
    ks_obj *o = cmd_lookup_write(c, 1);
    long double v = 0, incr;
    char buf[STRING_LD_BUF];
    size_t n;
    if (o != NULL && o->type != KS_STRING) {
        cmd_reply_wrongtype(c);
        return;
    }
    if ((o != NULL && !util_str2ld(o->ptr, o->len, &v)) ||
        !util_str2ld(c->argv[2].ptr, c->argv[2].len, &incr)) {
        reply_error(c->r, "ERR value is not a valid float");
        return;
    }
    v += incr;
    if (isnan(v) || isinf(v)) {
        reply_error(c->r, "ERR increment would produce NaN or Infinity");
        return;
    }
    n = util_ld2str(buf, sizeof(buf), v, UTIL_LD_HUMAN);
    ks_set(c->db, key->ptr, key->len, string_obj_new_plain(buf, n), 1);
    cmd_key_changed(c, key->ptr, key->len);
    {
        /* The result, not the increment: float rounding must not differ
         * on replay. The TTL stays as it is. */
        cmd_prop_args a;
        resp_arg val = {buf, n};
        cmd_prop_args_init(&a);
        cmd_prop_lit(&a, "SET");
        cmd_prop_arg(&a, key);
        cmd_prop_arg(&a, &val);
        cmd_prop_lit(&a, "KEEPTTL");
        cmd_prop_emit(c, &a);
    }
    cmd_notify(c, NOTIFY_STRING, "incrbyfloat", key->ptr, key->len);
    reply_bulk(c->r, buf, n);
}

/* ------------------------------------------------------------------------
 * LCS
 * ------------------------------------------------------------------------ */

/* Dynamic-programming table of LCS lengths: cell (i, j) holds the length of
 * the LCS of a[0..i) and b[0..j); rows of blen + 1 cells. */
#define STRING_LCS_AT(t, i, j, blen) ((t)[(size_t)(i) * ((size_t)(blen) + 1) + (size_t)(j)])

/* Fills the (alen + 1) x (blen + 1) table bottom-up. O(alen * blen). */
static void
string_lcs_fill(uint32_t *t, const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            uint32_t v;
            if (i == 0 || j == 0) {
                v = 0;
            } else if (a[i - 1] == b[j - 1]) {
                v = STRING_LCS_AT(t, i - 1, j - 1, blen) + 1;
            } else {
                uint32_t up = STRING_LCS_AT(t, i - 1, j, blen);
                uint32_t left = STRING_LCS_AT(t, i, j - 1, blen);
                v = up > left ? up : left;
            }
            STRING_LCS_AT(t, i, j, blen) = v;
        }
    }
}

/* Writes one IDX match: [[a_start, a_end], [b_start, b_end](, len)]. */
static void
string_lcs_reply_match(reply *r, uint32_t as, uint32_t ae, uint32_t bs, uint32_t be, int withlen)
{
    reply_array(r, 2 + withlen);
    reply_array(r, 2);
    reply_int(r, as);
    reply_int(r, ae);
    reply_array(r, 2);
    reply_int(r, bs);
    reply_int(r, be);
    if (withlen)
        reply_int(r, (long long)(ae - as + 1));
}

/* Walks the table back from (alen, blen), writing the LCS itself into out
 * when out is not NULL (room for the LCS length) and, when idx, replying
 * the matched ranges from the end of the strings to the start. Ties between the two neighbour cells
 * step back in b, which decides which of several equal answers comes out. Returns the ranges
 * written. */
static long long
string_lcs_walk(reply *r, const uint32_t *t, const char *a, uint32_t alen, const char *b,
                uint32_t blen, char *out, int idx, long long minlen, int withlen)
{
    uint32_t i = alen, j = blen, k = STRING_LCS_AT(t, alen, blen, blen);
    uint32_t as = 0, ae = 0, bs = 0, be = 0;
    int open = 0; /* a range is being extended backwards */
    long long ranges = 0;
    while (i > 0 && j > 0) {
        int emit = 0;
        if (a[i - 1] == b[j - 1]) {
            if (out)
                out[k - 1] = a[i - 1];
            if (!open) {
                as = ae = i - 1;
                bs = be = j - 1;
                open = 1;
            } else {
                /* Only a diagonal step can reach a match while a range is
                 * open, so the range always extends by one. */
                as--;
                bs--;
            }
            if (as == 0 || bs == 0)
                emit = 1;
            k--;
            i--;
            j--;
        } else {
            if (STRING_LCS_AT(t, i - 1, j, blen) > STRING_LCS_AT(t, i, j - 1, blen))
                i--;
            else
                j--;
            emit = open;
        }
        if (emit) {
            if (idx && (minlen == 0 || (long long)(ae - as + 1) >= minlen)) {
                string_lcs_reply_match(r, as, ae, bs, be, withlen);
                ranges++;
            }
            open = 0;
        }
    }
    return ranges;
}

static void
cmd_lcs(cmd_ctx *c)
{
    ks_obj *oa = cmd_lookup_read(c, 1);
    ks_obj *ob = cmd_lookup_read(c, 2);
    int getlen = 0, getidx = 0, withlen = 0;
    long long minlen = 0;
    const char *a, *b;
    uint32_t alen, blen, total;
    unsigned long long cells;
    uint32_t *t;
    char *out = NULL;
    if ((oa && oa->type != KS_STRING) || (ob && ob->type != KS_STRING)) {
        reply_error(c->r, "ERR The specified keys must contain string values");
        return;
    }
    for (int j = 3; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "idx")) {
            getidx = 1;
        } else if (cmd_arg_is(c, j, "len")) {
            getlen = 1;
        } else if (cmd_arg_is(c, j, "withmatchlen")) {
            withlen = 1;
        } else if (cmd_arg_is(c, j, "minmatchlen") && j + 1 < c->argc) {
            if (cmd_get_ll_or_reply(c, j + 1, &minlen, NULL) < 0)
                return;
            if (minlen < 0)
                minlen = 0;
            j++;
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }
    if (getidx && getlen) {
        reply_error(c->r, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    a = oa ? oa->ptr : "";
    b = ob ? ob->ptr : "";
    if ((oa && oa->len >= UINT32_MAX - 1) || (ob && ob->len >= UINT32_MAX - 1)) {
        reply_error(c->r, "ERR String too long for LCS");
        return;
    }
    alen = oa ? (uint32_t)oa->len : 0;
    blen = ob ? (uint32_t)ob->len : 0;
    cells = (unsigned long long)(alen + 1ull) * (blen + 1ull);
    if (cells * sizeof(uint32_t) > (unsigned long long)STRING_MAX_LEN) {
        reply_error(c->r, "ERR Insufficient memory, transient memory for LCS exceeds "
                          "proto-max-bulk-len");
        return;
    }
    /* A transient table of up to 512 MB: fail the command, not the
     * process, when it cannot be had. */
    t = malloc((size_t)cells * sizeof(uint32_t));
    if (t == NULL) {
        reply_error(c->r, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
    string_lcs_fill(t, a, alen, b, blen);
    total = STRING_LCS_AT(t, alen, blen, blen);
    if (getidx) {
        size_t mark;
        long long ranges;
        reply_map(c->r, 2);
        reply_bulk_cstr(c->r, "matches");
        mark = reply_defer(c->r);
        ranges = string_lcs_walk(c->r, t, a, alen, b, blen, NULL, 1, minlen, withlen);
        reply_defer_array(c->r, mark, ranges);
        reply_bulk_cstr(c->r, "len");
        reply_int(c->r, total);
    } else if (getlen) {
        reply_int(c->r, total);
    } else {
        out = util_malloc(total + 1);
        string_lcs_walk(c->r, t, a, alen, b, blen, out, 0, 0, 0);
        reply_bulk(c->r, out, total);
        util_free(out);
    }
    free(t);
}

/* ------------------------------------------------------------------------
 * Command table
 * ------------------------------------------------------------------------ */

#define STRING_RANGE_CX                                                                            \
    "O(N) where N is the length of the returned string. The complexity is ultimately "             \
    "determined by the returned length, but because creating a substring from an existing "        \
    "string is very cheap, it can be considered O(1) for small strings."

/* One table entry with its single key spec (flags, lastkey and keystep as
 * COMMAND INFO shows them; every string command's keys start at index 1)
 * and its command tips. Subcommands and statistics start empty. */
#define STRING_CMD(...) STRING_CMDN(NULL, __VA_ARGS__)
#define STRING_CMDN(kn, nm, fn_, ar, fl, ac, fk, lk, ks, sum, since_, cx, kflags, klast, kstep,    \
                    tp)                                                                            \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = (ar), .flags = (fl), .acl = (ac), .first_key = (fk),   \
        .last_key = (lk), .key_step = (ks), .summary = (sum), .since = (since_),                   \
        .group = "string", .complexity = (cx),                                                     \
        .keyspecs = {{.flags = (kflags),                                                           \
                      .begin = 1,                                                                  \
                      .lastkey = (klast),                                                          \
                      .keystep = (kstep),                                                          \
                      .notes = (kn)}},                                                             \
        .tips = (tp)                                                                               \
    }

/* Flags, ACL categories, key positions, key specs and tips as Redis 7.0's
 * COMMAND INFO gives them; summary, since, group and complexity as COMMAND
 * DOCS does. */
cmd_def cmd_string_defs[] = {
    STRING_CMD("get", cmd_get, 2, CMD_READONLY | CMD_FAST, ACL_READ | ACL_STRING | ACL_FAST, 1, 1,
               1, "Get the value of a key", "1.0.0", "O(1)", "RO access", 0, 1, NULL),
    STRING_CMDN("RW and ACCESS due to the optional `GET` argument", "set", cmd_set, -3,
                CMD_WRITE | CMD_DENYOOM, ACL_WRITE | ACL_STRING | ACL_SLOW, 1, 1, 1,
                "Set the string value of a key", "1.0.0", "O(1)", "RW access update variable_flags",
                0, 1, NULL),
    STRING_CMD("setnx", cmd_setnx, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST,
               ACL_WRITE | ACL_STRING | ACL_FAST, 1, 1, 1,
               "Set the value of a key, only if the key does not exist", "1.0.0", "O(1)",
               "OW insert", 0, 1, NULL),
    STRING_CMD("setex", cmd_setex, 4, CMD_WRITE | CMD_DENYOOM, ACL_WRITE | ACL_STRING | ACL_SLOW, 1,
               1, 1, "Set the value and expiration of a key", "2.0.0", "O(1)", "OW update", 0, 1,
               NULL),
    STRING_CMD("psetex", cmd_psetex, 4, CMD_WRITE | CMD_DENYOOM, ACL_WRITE | ACL_STRING | ACL_SLOW,
               1, 1, 1, "Set the value and expiration in milliseconds of a key", "2.6.0", "O(1)",
               "OW update", 0, 1, NULL),
    STRING_CMD("getset", cmd_getset, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST,
               ACL_WRITE | ACL_STRING | ACL_FAST, 1, 1, 1,
               "Set the string value of a key and return its old value", "1.0.0", "O(1)",
               "RW access update", 0, 1, NULL),
    STRING_CMD("getdel", cmd_getdel, 2, CMD_WRITE | CMD_FAST, ACL_WRITE | ACL_STRING | ACL_FAST, 1,
               1, 1, "Get the value of a key and delete the key", "6.2.0", "O(1)",
               "RW access delete", 0, 1, NULL),
    STRING_CMDN("RW and UPDATE because it changes the TTL", "getex", cmd_getex, -2,
                CMD_WRITE | CMD_FAST, ACL_WRITE | ACL_STRING | ACL_FAST, 1, 1, 1,
                "Get the value of a key and optionally set its expiration", "6.2.0", "O(1)",
                "RW access update", 0, 1, NULL),
    STRING_CMD("mget", cmd_mget, -2, CMD_READONLY | CMD_FAST, ACL_READ | ACL_STRING | ACL_FAST, 1,
               -1, 1, "Get the values of all the given keys", "1.0.0",
               "O(N) where N is the number of keys to retrieve.", "RO access", -1, 1,
               "request_policy:multi_shard"),
    STRING_CMD("mset", cmd_mset, -3, CMD_WRITE | CMD_DENYOOM, ACL_WRITE | ACL_STRING | ACL_SLOW, 1,
               -1, 2, "Set multiple keys to multiple values", "1.0.1",
               "O(N) where N is the number of keys to set.", "OW update", -1, 2,
               "request_policy:multi_shard response_policy:all_succeeded"),
    STRING_CMD("msetnx", cmd_msetnx, -3, CMD_WRITE | CMD_DENYOOM, ACL_WRITE | ACL_STRING | ACL_SLOW,
               1, -1, 2, "Set multiple keys to multiple values, only if none of the keys exist",
               "1.0.1", "O(N) where N is the number of keys to set.", "OW insert", -1, 2,
               "request_policy:multi_shard response_policy:agg_min"),
    STRING_CMD("append", cmd_append, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST,
               ACL_WRITE | ACL_STRING | ACL_FAST, 1, 1, 1, "Append a value to a key", "2.0.0",
               "O(1). The amortized time complexity is O(1) assuming the appended value is "
               "small and the already present value is of any size, since the dynamic string "
               "library used by Redis will double the free space available on every "
               "reallocation.",
               "RW insert", 0, 1, NULL),
    STRING_CMD("strlen", cmd_strlen, 2, CMD_READONLY | CMD_FAST, ACL_READ | ACL_STRING | ACL_FAST,
               1, 1, 1, "Get the length of the value stored in a key", "2.2.0", "O(1)", "RO", 0, 1,
               NULL),
    STRING_CMD("incr", cmd_incr, 2, CMD_WRITE | CMD_DENYOOM | CMD_FAST,
               ACL_WRITE | ACL_STRING | ACL_FAST, 1, 1, 1,
               "Increment the integer value of a key by one", "1.0.0", "O(1)", "RW access update",
               0, 1, NULL),
    STRING_CMD("decr", cmd_decr, 2, CMD_WRITE | CMD_DENYOOM | CMD_FAST,
               ACL_WRITE | ACL_STRING | ACL_FAST, 1, 1, 1,
               "Decrement the integer value of a key by one", "1.0.0", "O(1)", "RW access update",
               0, 1, NULL),
    STRING_CMD("incrby", cmd_incrby, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST,
               ACL_WRITE | ACL_STRING | ACL_FAST, 1, 1, 1,
               "Increment the integer value of a key by the given amount", "1.0.0", "O(1)",
               "RW access update", 0, 1, NULL),
    STRING_CMD("decrby", cmd_decrby, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST,
               ACL_WRITE | ACL_STRING | ACL_FAST, 1, 1, 1,
               "Decrement the integer value of a key by the given number", "1.0.0", "O(1)",
               "RW access update", 0, 1, NULL),
    STRING_CMD("incrbyfloat", cmd_incrbyfloat, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST,
               ACL_WRITE | ACL_STRING | ACL_FAST, 1, 1, 1,
               "Increment the float value of a key by the given amount", "2.6.0", "O(1)",
               "RW access update", 0, 1, NULL),
    STRING_CMD("getrange", cmd_getrange, 4, CMD_READONLY, ACL_READ | ACL_STRING | ACL_SLOW, 1, 1, 1,
               "Get a substring of the string stored at a key", "2.4.0", STRING_RANGE_CX,
               "RO access", 0, 1, NULL),
    STRING_CMD("setrange", cmd_setrange, 4, CMD_WRITE | CMD_DENYOOM,
               ACL_WRITE | ACL_STRING | ACL_SLOW, 1, 1, 1,
               "Overwrite part of a string at key starting at the specified offset", "2.2.0",
               "O(1), not counting the time taken to copy the new string in place. Usually, "
               "this string is very small so the amortized complexity is O(1). Otherwise, "
               "complexity is O(M) with M being the length of the value argument.",
               "RW update", 0, 1, NULL),
    STRING_CMD("substr", cmd_getrange, 4, CMD_READONLY, ACL_READ | ACL_STRING | ACL_SLOW, 1, 1, 1,
               "Get a substring of the string stored at a key", "1.0.0", STRING_RANGE_CX,
               "RO access", 0, 1, NULL),
    STRING_CMD("lcs", cmd_lcs, -3, CMD_READONLY, ACL_READ | ACL_STRING | ACL_SLOW, 1, 2, 1,
               "Find longest common substring", "7.0.0",
               "O(N*M) where N and M are the lengths of s1 and s2, respectively", "RO access", 1, 1,
               NULL),
    {0},
};
