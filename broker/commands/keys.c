/*
 * broker/commands/keys: the generic keyspace commands, those that work on a
 * key whatever its type: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY,
 * RENAME, RENAMENX, MOVE, COPY, TOUCH, OBJECT, the EXPIRE family, TTL and
 * friends, PERSIST.
 *
 * Every handler parses and validates all its arguments before it looks a
 * key up, so an error never leaves a half-done change; the order of the
 * checks follows Redis 7.0 so that the same bad command gets the same error.
 * Lookups pick their flags the way Redis does: commands that write never
 * count keyspace hits or misses, and introspection (TYPE, TTL, OBJECT)
 * never refreshes the access clock.
 *
 * Hot paths: DEL, EXISTS, EXPIRE and TTL are one or two hash lookups per
 * key. KEYS is O(keys in the database); SCAN is O(COUNT) per call.
 *
 * Propagation: the EXPIRE family is recorded as PEXPIREAT with the
 * absolute time (its NX/XX/GT/LT options kept), or as DEL when the time is
 * already past, as Redis 7.0 does; the other writes replay as they are.
 *
 * Not here: the type-specific commands, and UNLINK's background free (the
 * value is freed at once; Runnel has no lazy-free thread).
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "broker/commands/cmd.h"
#include "broker/commands/families.h"
#include "broker/commands/scan_int.h"
#include "broker/keyspace/dict.h"
#include "broker/util/glob.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

/* Integers 0..KEYS_SHARED_INTS-1 are shared objects in Redis: OBJECT
 * REFCOUNT reports KEYS_SHARED_REFCOUNT (INT_MAX) for them. */
#define KEYS_SHARED_INTS     10000
#define KEYS_SHARED_REFCOUNT 2147483647LL

/* Options of the EXPIRE family. */
#define KEYS_EXPIRE_NX 1
#define KEYS_EXPIRE_XX 2
#define KEYS_EXPIRE_GT 4
#define KEYS_EXPIRE_LT 8

/* SCAN visits at most COUNT * KEYS_SCAN_MAX_ITER_FACTOR buckets per call,
 * so that a sparse table cannot make one call run unbounded. */
#define KEYS_SCAN_MAX_ITER_FACTOR 10

/* ------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------ */

/* 1 when arguments i and j hold the same bytes. */
static int
keys_args_equal(const cmd_ctx *c, int i, int j)
{
    return c->argv[i].len == c->argv[j].len &&
           memcmp(c->argv[i].ptr, c->argv[j].ptr, c->argv[i].len) == 0;
}

/* Length of argument i up to its first NUL byte: Redis prints and compares
 * some arguments as C strings, which stop there. */
static size_t
keys_arg_clen(const cmd_ctx *c, int i)
{
    const char *nul = memchr(c->argv[i].ptr, '\0', c->argv[i].len);
    return nul ? (size_t)(nul - c->argv[i].ptr) : c->argv[i].len;
}

/* Parses argument i as a database number (MOVE, COPY ... DB) and checks its
 * range. Replies the error and returns -1 on failure: a non-integer, a value
 * outside a C int (Redis parses it as an int first) or a database that does
 * not exist. */
static int
keys_parse_db_or_reply(cmd_ctx *c, int i, ks_db **out)
{
    long long v;
    if (cmd_get_ll_or_reply(c, i, &v, NULL) < 0)
        return -1;
    if (v < INT_MIN || v > INT_MAX) {
        reply_error(c->r, "ERR value is out of range, value must between -2147483648 and "
                          "2147483647");
        return -1;
    }
    if (v < 0 || v >= c->ks->count) {
        reply_error(c->r, "ERR DB index is out of range");
        return -1;
    }
    *out = &c->ks->dbs[v];
    return 0;
}

/* Reports a change of key in db, which may not be the caller's database
 * (MOVE, COPY ... DB): cmd_key_changed() works on c->db, so point it at db
 * for the call. */
static void
keys_changed_in(cmd_ctx *c, ks_db *db, const void *key, size_t len)
{
    ks_db *saved = c->db;
    c->db = db;
    cmd_key_changed(c, key, len);
    c->db = saved;
}

/* A keyspace event for key in db, which may not be the caller's database
 * (MOVE, COPY ... DB). */
static void
keys_notify_in(cmd_ctx *c, ks_db *db, int type, const char *event, const void *key, size_t len)
{
    ks_db *saved = c->db;
    c->db = db;
    cmd_notify(c, type, event, key, len);
    c->db = saved;
}

/* 1 when key has an expiry that is already due. Deletes nothing. */
static int
keys_is_expired(const cmd_ctx *c, const void *key, size_t len)
{
    int64_t when = ks_get_expire(c->db, key, len);
    return when != -1 && when <= c->now_ms && !c->ks->no_expire;
}

/* ------------------------------------------------------------------------
 * DEL, UNLINK, EXISTS, TOUCH, TYPE
 * ------------------------------------------------------------------------ */

/* DEL and UNLINK: an expired key is removed by the lookup and not counted. */
static void
cmd_keys_del_generic(cmd_ctx *c)
{
    long long deleted = 0;
    for (int j = 1; j < c->argc; j++) {
        const resp_arg *k = &c->argv[j];
        if (ks_lookup(c->ks, c->db, k->ptr, k->len, c->now_ms,
                      KS_LOOKUP_NOSTATS | KS_LOOKUP_NOTOUCH) == NULL)
            continue;
        if (ks_del(c->db, k->ptr, k->len)) {
            cmd_key_changed(c, k->ptr, k->len);
            cmd_notify(c, NOTIFY_GENERIC, "del", k->ptr, k->len);
            deleted++;
        }
    }
    reply_int(c->r, deleted);
}

static void
cmd_del(cmd_ctx *c)
{
    cmd_keys_del_generic(c);
}

static void
cmd_unlink(cmd_ctx *c)
{
    cmd_keys_del_generic(c);
}

static void
cmd_exists(cmd_ctx *c)
{
    long long count = 0;
    /* A key named twice counts twice, as in Redis. */
    for (int j = 1; j < c->argc; j++) {
        if (ks_lookup(c->ks, c->db, c->argv[j].ptr, c->argv[j].len, c->now_ms, KS_LOOKUP_NOTOUCH) !=
            NULL)
            count++;
    }
    reply_int(c->r, count);
}

static void
cmd_touch(cmd_ctx *c)
{
    long long count = 0;
    for (int j = 1; j < c->argc; j++) {
        if (cmd_lookup_read(c, j) != NULL)
            count++;
    }
    reply_int(c->r, count);
}

static void
cmd_type(cmd_ctx *c)
{
    ks_obj *o =
        ks_lookup(c->ks, c->db, c->argv[1].ptr, c->argv[1].len, c->now_ms, KS_LOOKUP_NOTOUCH);
    reply_simple(c->r, o ? ks_obj_type_name(o) : "none");
}

/* ------------------------------------------------------------------------
 * KEYS, SCAN, RANDOMKEY
 * ------------------------------------------------------------------------ */

static void
cmd_keys(cmd_ctx *c)
{
    const char *pat = c->argv[1].ptr;
    size_t plen = c->argv[1].len;
    /* "*" matches every key, the empty one included (the matcher alone
     * would not match ""). */
    int allkeys = plen == 1 && pat[0] == '*';
    long long count = 0;
    size_t mark = reply_defer(c->r);
    ks_dict_iter it;
    ks_dict_entry *e;

    /* Expired keys are skipped but not deleted: deleting would change the
     * table under the iterator, and Redis leaves them to lazy expiry too. */
    ks_dict_iter_start(&it, c->db->keys);
    while ((e = ks_dict_iter_next(&it)) != NULL) {
        size_t klen;
        const char *k = ks_dict_entry_key(e, &klen);
        if (!allkeys && !util_glob_match(pat, plen, k, klen, 0))
            continue;
        if (keys_is_expired(c, k, klen))
            continue;
        reply_bulk(c->r, k, klen);
        count++;
    }
    ks_dict_iter_stop(&it);
    reply_defer_array(c->r, mark, count);
}

/* Keys collected by one SCAN call before filtering: copies, since the
 * filters may delete expired keys from the table. */
typedef struct keys_scan_batch {
    char **names; /* owned copies, NUL-terminated */
    size_t *lens; /* bytes of each name */
    size_t count; /* names held */
    size_t cap;   /* slots allocated */
} keys_scan_batch;

static void
keys_scan_collect(void *priv, const ks_dict_entry *e)
{
    keys_scan_batch *b = priv;
    size_t klen;
    const char *k = ks_dict_entry_key(e, &klen);
    if (b->count == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->names = util_realloc(b->names, b->cap * sizeof(*b->names));
        b->lens = util_realloc(b->lens, b->cap * sizeof(*b->lens));
    }
    b->names[b->count] = util_memdup(k, klen);
    b->lens[b->count++] = klen;
}

/* Applies SCAN's filters to one collected key, in Redis's order: pattern,
 * then type (a lookup that deletes the key if expired; a missing key has
 * type "none"), then expiry (deleting an expired key). Returns 1 to keep. */
static int
keys_scan_keep(cmd_ctx *c, const char *k, size_t klen, const char *pat, size_t plen,
               const char *tname, size_t tlen)
{
    if (pat && !util_glob_match(pat, plen, k, klen, 0))
        return 0;
    if (tname) {
        ks_obj *o = ks_lookup(c->ks, c->db, k, klen, c->now_ms, KS_LOOKUP_NOTOUCH);
        const char *t = o ? ks_obj_type_name(o) : "none";
        if (strlen(t) != tlen || strncasecmp(t, tname, tlen) != 0)
            return 0;
    }
    if (keys_is_expired(c, k, klen)) {
        ks_lookup(c->ks, c->db, k, klen, c->now_ms, KS_LOOKUP_NOSTATS | KS_LOOKUP_NOTOUCH);
        return 0;
    }
    return 1;
}

static void
cmd_scan(cmd_ctx *c)
{
    unsigned long long cursor;
    long long count = 10;
    const char *pat = NULL, *tname = NULL;
    size_t plen = 0, tlen = 0;
    keys_scan_batch b = {0};
    long long maxiter;
    char cbuf[UTIL_LL_BUF + 1];
    size_t kept = 0;

    if (cmd__scan_cursor_or_reply(c, 1, &cursor) < 0)
        return;
    for (int i = 2; i < c->argc; i += 2) {
        int more = c->argc - i - 1; /* arguments after the option name */
        if (cmd_arg_is(c, i, "count") && more >= 1) {
            if (cmd_get_ll_or_reply(c, i + 1, &count, NULL) < 0)
                return;
            if (count < 1) {
                cmd_reply_syntax(c);
                return;
            }
        } else if (cmd_arg_is(c, i, "match") && more >= 1) {
            pat = c->argv[i + 1].ptr;
            plen = c->argv[i + 1].len;
            /* "*" is a no-op filter (and would not match the empty key). */
            if (plen == 1 && pat[0] == '*')
                pat = NULL;
        } else if (cmd_arg_is(c, i, "type") && more >= 1) {
            /* Redis compares the type name as a C string. */
            tname = c->argv[i + 1].ptr;
            tlen = keys_arg_clen(c, i + 1);
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }

    /* Collect: stop once COUNT keys are in, the cursor is back to 0 or the
     * bucket budget is spent. */
    maxiter = count > LLONG_MAX / KEYS_SCAN_MAX_ITER_FACTOR ? LLONG_MAX
                                                            : count * KEYS_SCAN_MAX_ITER_FACTOR;
    do {
        cursor =
            (unsigned long long)ks_dict_scan(c->db->keys, (uint64_t)cursor, keys_scan_collect, &b);
    } while (cursor != 0 && maxiter-- > 0 && b.count < (unsigned long long)count);

    /* Filter in place, keeping the survivors at the front. */
    for (size_t i = 0; i < b.count; i++) {
        if (keys_scan_keep(c, b.names[i], b.lens[i], pat, plen, tname, tlen)) {
            b.names[kept] = b.names[i];
            b.lens[kept++] = b.lens[i];
        } else {
            util_free(b.names[i]);
        }
    }

    reply_array(c->r, 2);
    reply_bulk(c->r, cbuf, util_ull2str(cbuf, cursor));
    reply_array(c->r, (long long)kept);
    for (size_t i = 0; i < kept; i++) {
        reply_bulk(c->r, b.names[i], b.lens[i]);
        util_free(b.names[i]);
    }
    util_free(b.names);
    util_free(b.lens);
}

static void
cmd_randomkey(cmd_ctx *c)
{
    size_t len;
    const char *k = ks_random_key(c->ks, c->db, c->now_ms, &len);
    if (k == NULL)
        reply_null(c->r);
    else
        reply_bulk(c->r, k, len);
}

/* ------------------------------------------------------------------------
 * RENAME, RENAMENX, MOVE, COPY
 * ------------------------------------------------------------------------ */

static void
cmd_keys_rename_generic(cmd_ctx *c, int nx)
{
    const resp_arg *src = &c->argv[1], *dst = &c->argv[2];
    ks_obj *o;
    int64_t when;

    /* The source must exist even when renaming a key to itself. */
    if (cmd_lookup_write(c, 1) == NULL) {
        reply_error(c->r, "ERR no such key");
        return;
    }
    if (keys_args_equal(c, 1, 2)) {
        if (nx)
            reply_int(c->r, 0);
        else
            reply_ok(c->r);
        return;
    }
    if (cmd_lookup_write(c, 2) != NULL) {
        if (nx) {
            reply_int(c->r, 0);
            return;
        }
        ks_del(c->db, dst->ptr, dst->len);
    }
    o = ks_take(c->db, src->ptr, src->len, &when);
    ks_add(c->db, dst->ptr, dst->len, o);
    if (when != -1)
        ks_set_expire(c->db, dst->ptr, dst->len, when);
    cmd_key_changed(c, src->ptr, src->len);
    cmd_key_changed(c, dst->ptr, dst->len);
    /* ks_add reported "new" for dst; Redis sends no "del" for a
     * replaced destination. */
    cmd_notify(c, NOTIFY_GENERIC, "rename_from", src->ptr, src->len);
    cmd_notify(c, NOTIFY_GENERIC, "rename_to", dst->ptr, dst->len);
    if (nx)
        reply_int(c->r, 1);
    else
        reply_ok(c->r);
}

static void
cmd_rename(cmd_ctx *c)
{
    cmd_keys_rename_generic(c, 0);
}

static void
cmd_renamenx(cmd_ctx *c)
{
    cmd_keys_rename_generic(c, 1);
}

static void
cmd_move(cmd_ctx *c)
{
    const resp_arg *k = &c->argv[1];
    ks_db *dst;
    ks_obj *o;
    int64_t when;

    if (keys_parse_db_or_reply(c, 2, &dst) < 0)
        return;
    if (dst == c->db) {
        reply_error(c->r, "ERR source and destination objects are the same");
        return;
    }
    if (cmd_lookup_write(c, 1) == NULL ||
        ks_lookup(c->ks, dst, k->ptr, k->len, c->now_ms, KS_LOOKUP_NOSTATS) != NULL) {
        reply_int(c->r, 0);
        return;
    }
    o = ks_take(c->db, k->ptr, k->len, &when);
    ks_add(dst, k->ptr, k->len, o);
    if (when != -1)
        ks_set_expire(dst, k->ptr, k->len, when);
    cmd_key_changed(c, k->ptr, k->len);
    keys_changed_in(c, dst, k->ptr, k->len);
    cmd_notify(c, NOTIFY_GENERIC, "move_from", k->ptr, k->len);
    keys_notify_in(c, dst, NOTIFY_GENERIC, "move_to", k->ptr, k->len);
    reply_int(c->r, 1);
}

static void
cmd_copy(cmd_ctx *c)
{
    const resp_arg *dkey = &c->argv[2];
    ks_db *dst = c->db;
    int replace = 0;
    ks_obj *o, *dup, *old;
    int64_t when;

    for (int j = 3; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "replace")) {
            replace = 1;
        } else if (cmd_arg_is(c, j, "db") && j + 1 < c->argc) {
            if (keys_parse_db_or_reply(c, j + 1, &dst) < 0)
                return;
            j++;
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }
    if (dst == c->db && keys_args_equal(c, 1, 2)) {
        reply_error(c->r, "ERR source and destination objects are the same");
        return;
    }
    o = cmd_lookup_read(c, 1);
    if (o == NULL) {
        reply_int(c->r, 0);
        return;
    }
    when = ks_get_expire(c->db, c->argv[1].ptr, c->argv[1].len);
    old = ks_lookup(c->ks, dst, dkey->ptr, dkey->len, c->now_ms, KS_LOOKUP_NOSTATS);
    if (old != NULL && !replace) {
        reply_int(c->r, 0);
        return;
    }
    dup = ks_obj_dup(o);
    if (dup == NULL) {
        /* A type without a copy routine yet. */
        reply_error(c->r, "ERR unknown type object");
        return;
    }
    if (old != NULL)
        ks_del(dst, dkey->ptr, dkey->len);
    ks_add(dst, dkey->ptr, dkey->len, dup);
    if (when != -1)
        ks_set_expire(dst, dkey->ptr, dkey->len, when);
    keys_changed_in(c, dst, dkey->ptr, dkey->len);
    keys_notify_in(c, dst, NOTIFY_GENERIC, "copy_to", dkey->ptr, dkey->len);
    reply_int(c->r, 1);
}

/* ------------------------------------------------------------------------
 * OBJECT
 * ------------------------------------------------------------------------ */

/* The key of OBJECT <sub> key, without touching its access clock; replies
 * null and returns NULL when it does not exist. */
static ks_obj *
keys_object_lookup_or_reply(cmd_ctx *c)
{
    /* A miss is counted but, as in Redis, no "keymiss" event fires. */
    ks_obj *o = ks_lookup(c->ks, c->db, c->argv[2].ptr, c->argv[2].len, c->now_ms,
                          KS_LOOKUP_NOTOUCH | KS_LOOKUP_NONOTIFY);
    if (o == NULL)
        reply_null(c->r);
    return o;
}

static void
cmd_object_encoding(cmd_ctx *c)
{
    ks_obj *o = keys_object_lookup_or_reply(c);
    if (o != NULL)
        reply_bulk_cstr(c->r, ks_obj_enc_name(o));
}

static void
cmd_object_refcount(cmd_ctx *c)
{
    ks_obj *o = keys_object_lookup_or_reply(c);
    long long v;
    if (o == NULL)
        return;
    /* Redis stores small integers as shared objects with a pinned count. */
    if (o->type == KS_STRING && o->enc == KS_ENC_INT && ks_obj_get_ll(o, &v) && v >= 0 &&
        v < KEYS_SHARED_INTS)
        reply_int(c->r, KEYS_SHARED_REFCOUNT);
    else
        reply_int(c->r, 1);
}

static void
cmd_object_idletime(cmd_ctx *c)
{
    ks_obj *o = keys_object_lookup_or_reply(c);
    if (o == NULL)
        return;
    /* The clock only moves forward; guard against a value stamped ahead. */
    reply_int(c->r, ks_clock_sec >= o->lru ? (long long)(ks_clock_sec - o->lru) : 0);
}

static void
cmd_object_freq(cmd_ctx *c)
{
    /* Runnel has no LFU maxmemory-policy, so frequency is never tracked;
     * the missing-key check still comes first, as in Redis. */
    if (keys_object_lookup_or_reply(c) == NULL)
        return;
    reply_error(c->r, "ERR An LFU maxmemory policy is not selected, access frequency not "
                      "tracked. Please note that when switching between policies at runtime "
                      "LRU and LFU data will take some time to adjust.");
}

static const char *const keys_object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
};

static void
cmd_object_help(cmd_ctx *c)
{
    size_t n = sizeof(keys_object_help) / sizeof(keys_object_help[0]);
    reply_array(c->r, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c->r, keys_object_help[i]);
}

/* ------------------------------------------------------------------------
 * EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST
 * ------------------------------------------------------------------------ */

/* Parses the NX/XX/GT/LT options from argument 3 on into *flags. Replies the
 * error and returns -1 on an unknown option or a forbidden combination. */
static int
keys_parse_expire_flags_or_reply(cmd_ctx *c, int *flags)
{
    int f = 0;
    for (int j = 3; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "nx")) {
            f |= KEYS_EXPIRE_NX;
        } else if (cmd_arg_is(c, j, "xx")) {
            f |= KEYS_EXPIRE_XX;
        } else if (cmd_arg_is(c, j, "gt")) {
            f |= KEYS_EXPIRE_GT;
        } else if (cmd_arg_is(c, j, "lt")) {
            f |= KEYS_EXPIRE_LT;
        } else {
            reply_errorf(c->r, "ERR Unsupported option %.*s", (int)keys_arg_clen(c, j),
                         c->argv[j].ptr);
            return -1;
        }
    }
    if ((f & KEYS_EXPIRE_NX) && (f & (KEYS_EXPIRE_XX | KEYS_EXPIRE_GT | KEYS_EXPIRE_LT))) {
        reply_error(c->r, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((f & KEYS_EXPIRE_GT) && (f & KEYS_EXPIRE_LT)) {
        reply_error(c->r, "ERR GT and LT options at the same time are not compatible");
        return -1;
    }
    *flags = f;
    return 0;
}

/* 1 when the options allow replacing the expiry cur (-1 for none) by when.
 * A key without expiry has an infinite TTL: GT never beats it, LT always
 * does. */
static int
keys_expire_allowed(int flags, int64_t cur, long long when)
{
    if ((flags & KEYS_EXPIRE_NX) && cur != -1)
        return 0;
    if ((flags & KEYS_EXPIRE_XX) && cur == -1)
        return 0;
    if ((flags & KEYS_EXPIRE_GT) && (cur == -1 || when <= cur))
        return 0;
    if ((flags & KEYS_EXPIRE_LT) && cur != -1 && when >= cur)
        return 0;
    return 1;
}

/* Records an EXPIRE-family command: DEL key when it deleted (set 0), else
 * PEXPIREAT key <when> followed by the caller's options, as Redis 7.0
 * rewrites it (PEXPIREAT itself replays unchanged; the time is rewritten
 * only when it was relative or in seconds). */
static void
keys_propagate_expire(cmd_ctx *c, int set, long long when, int new_time)
{
    cmd_prop_args a;
    cmd_prop_args_init(&a);
    if (!set) {
        cmd_prop_lit(&a, "DEL");
        cmd_prop_arg(&a, &c->argv[1]);
    } else {
        if (strcmp(c->cmd->name, "pexpireat") == 0)
            return; /* recorded as it is */
        cmd_prop_lit(&a, "PEXPIREAT");
        cmd_prop_arg(&a, &c->argv[1]);
        if (new_time)
            cmd_prop_ll(&a, when);
        else
            cmd_prop_arg(&a, &c->argv[2]);
        for (int j = 3; j < c->argc && a.argc < CMD_PROP_MAXARGS; j++)
            cmd_prop_arg(&a, &c->argv[j]);
    }
    cmd_prop_emit(c, &a);
}

/* The EXPIRE family: the time argument is relative to basetime (ms; 0 for
 * the *AT forms), in seconds when seconds is set. A time already past
 * deletes the key and still replies 1. */
static void
cmd_keys_expire_generic(cmd_ctx *c, long long basetime, int seconds)
{
    const resp_arg *k = &c->argv[1];
    long long when;
    int flags;

    if (keys_parse_expire_flags_or_reply(c, &flags) < 0)
        return;
    if (cmd_get_ll_or_reply(c, 2, &when, NULL) < 0)
        return;
    /* Negative times are allowed; only overflow of the unit conversion or
     * of the addition of basetime is an error. */
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
            goto overflow;
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime)
        goto overflow;
    when += basetime;

    if (cmd_lookup_write(c, 1) == NULL) {
        reply_int(c->r, 0);
        return;
    }
    if (flags && !keys_expire_allowed(flags, ks_get_expire(c->db, k->ptr, k->len), when)) {
        reply_int(c->r, 0);
        return;
    }
    /* Redis notifies "del" before its reply and "expire" after it; a
     * subscribed RESP3 caller sees the pushes in that order. */
    /* While loading, a past time is kept as the key's expiry (Redis does
     * the same), so later replayed writes see the key as they did. */
    if (when <= c->now_ms && !c->ks->no_expire) {
        ks_del(c->db, k->ptr, k->len);
        cmd_key_changed(c, k->ptr, k->len);
        keys_propagate_expire(c, 0, 0, 0);
        cmd_notify(c, NOTIFY_GENERIC, "del", k->ptr, k->len);
        reply_int(c->r, 1);
    } else {
        ks_set_expire(c->db, k->ptr, k->len, when);
        cmd_key_changed(c, k->ptr, k->len);
        keys_propagate_expire(c, 1, when, basetime != 0 || seconds);
        reply_int(c->r, 1);
        cmd_notify(c, NOTIFY_GENERIC, "expire", k->ptr, k->len);
    }
    return;
overflow:
    reply_errorf(c->r, "ERR invalid expire time in '%s' command", c->cmd->name);
}

static void
cmd_expire(cmd_ctx *c)
{
    cmd_keys_expire_generic(c, c->now_ms, 1);
}

static void
cmd_pexpire(cmd_ctx *c)
{
    cmd_keys_expire_generic(c, c->now_ms, 0);
}

static void
cmd_expireat(cmd_ctx *c)
{
    cmd_keys_expire_generic(c, 0, 1);
}

static void
cmd_pexpireat(cmd_ctx *c)
{
    cmd_keys_expire_generic(c, 0, 0);
}

static void
cmd_persist(cmd_ctx *c)
{
    const resp_arg *k = &c->argv[1];
    if (cmd_lookup_write(c, 1) != NULL && ks_persist(c->db, k->ptr, k->len)) {
        cmd_key_changed(c, k->ptr, k->len);
        cmd_notify(c, NOTIFY_GENERIC, "persist", k->ptr, k->len);
        reply_int(c->r, 1);
    } else {
        reply_int(c->r, 0);
    }
}

/* ------------------------------------------------------------------------
 * TTL, PTTL, EXPIRETIME, PEXPIRETIME
 * ------------------------------------------------------------------------ */

/* -2 for a missing key, -1 for no expiry, else the remaining time (or the
 * absolute time when absolute is set), in ms or rounded to seconds. */
static void
cmd_keys_ttl_generic(cmd_ctx *c, int in_ms, int absolute)
{
    const resp_arg *k = &c->argv[1];
    int64_t when;
    long long ttl;

    if (ks_lookup(c->ks, c->db, k->ptr, k->len, c->now_ms, KS_LOOKUP_NOTOUCH) == NULL) {
        reply_int(c->r, -2);
        return;
    }
    when = ks_get_expire(c->db, k->ptr, k->len);
    if (when == -1) {
        reply_int(c->r, -1);
        return;
    }
    ttl = absolute ? when : when - c->now_ms;
    if (ttl < 0)
        ttl = 0;
    /* Round to the nearest second; ttl + 500 could overflow near
     * LLONG_MAX (PEXPIREAT 9223372036854775807). */
    reply_int(c->r, in_ms ? ttl : ttl / 1000 + (ttl % 1000 >= 500));
}

static void
cmd_ttl(cmd_ctx *c)
{
    cmd_keys_ttl_generic(c, 0, 0);
}

static void
cmd_pttl(cmd_ctx *c)
{
    cmd_keys_ttl_generic(c, 1, 0);
}

static void
cmd_expiretime(cmd_ctx *c)
{
    cmd_keys_ttl_generic(c, 0, 1);
}

static void
cmd_pexpiretime(cmd_ctx *c)
{
    cmd_keys_ttl_generic(c, 1, 1);
}

/* ------------------------------------------------------------------------
 * Command table
 * ------------------------------------------------------------------------ */

/* One entry: arity, flags, ACL categories, legacy key positions, key specs
 * and tips as Redis 7.0's COMMAND INFO gives them; summary, since and
 * complexity as COMMAND DOCS does (group "generic"). The trailing arguments
 * are the key specs (KEYS_SPEC), or KEYS_NOSPEC for a command without keys. */
#define KEYS_CMD(nm, fn_, ar, fl, ac, fk, lk, st, sum, since_, cx, tp, ...)                        \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = (ar), .flags = (fl), .acl = (ac), .first_key = (fk),   \
        .last_key = (lk), .key_step = (st), .summary = (sum), .since = (since_),                   \
        .group = "generic", .complexity = (cx), .keyspecs = {__VA_ARGS__}, .tips = (tp)            \
    }
/* A key spec: begin_search index, find_keys range (lastkey 0: one key, -1:
 * to the last argument), step 1, no limit. */
#define KEYS_SPEC(fl, begin_, last)                                                                \
    {                                                                                              \
        .flags = (fl), .begin = (begin_), .lastkey = (last), .keystep = 1                          \
    }
#define KEYS_NOSPEC                                                                                \
    {                                                                                              \
        .flags = NULL                                                                              \
    }

/* Tips shared by several commands. */
#define KEYS_TIPS_MULTI  "request_policy:multi_shard response_policy:agg_sum"
#define KEYS_TIPS_NONDET "nondeterministic_output"

static cmd_def keys_object_subs[] = {
    KEYS_CMD("encoding", cmd_object_encoding, 3, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW,
             2, 2, 1, "Inspect the internal encoding of a Redis object", "2.2.3", "O(1)",
             KEYS_TIPS_NONDET, KEYS_SPEC("RO", 2, 0)),
    KEYS_CMD("freq", cmd_object_freq, 3, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW, 2, 2, 1,
             "Get the logarithmic access frequency counter of a Redis object", "4.0.0", "O(1)",
             KEYS_TIPS_NONDET, KEYS_SPEC("RO", 2, 0)),
    KEYS_CMD("help", cmd_object_help, 2, CMD_LOADING | CMD_STALE, ACL_KEYSPACE | ACL_SLOW, 0, 0, 0,
             "Show helpful text about the different subcommands", "6.2.0", "O(1)", NULL,
             KEYS_NOSPEC),
    KEYS_CMD("idletime", cmd_object_idletime, 3, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW,
             2, 2, 1, "Get the time since a Redis object was last accessed", "2.2.3", "O(1)",
             KEYS_TIPS_NONDET, KEYS_SPEC("RO", 2, 0)),
    KEYS_CMD("refcount", cmd_object_refcount, 3, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW,
             2, 2, 1, "Get the number of references to the value of the key", "2.2.3", "O(1)",
             KEYS_TIPS_NONDET, KEYS_SPEC("RO", 2, 0)),
    {0},
};

cmd_def cmd_keys_defs[] = {
    KEYS_CMD("copy", cmd_copy, -3, CMD_WRITE | CMD_DENYOOM, ACL_KEYSPACE | ACL_WRITE | ACL_SLOW, 1,
             2, 1, "Copy a key", "6.2.0",
             "O(N) worst case for collections, where N is the number of nested items. O(1) for "
             "string values.",
             NULL, KEYS_SPEC("RO access", 1, 0), KEYS_SPEC("OW update", 2, 0)),
    KEYS_CMD("del", cmd_del, -2, CMD_WRITE, ACL_KEYSPACE | ACL_WRITE | ACL_SLOW, 1, -1, 1,
             "Delete a key", "1.0.0",
             "O(N) where N is the number of keys that will be removed. When a key to remove "
             "holds a value other than a string, the individual complexity for this key is O(M) "
             "where M is the number of elements in the list, set, sorted set or hash. Removing a "
             "single key that holds a string value is O(1).",
             KEYS_TIPS_MULTI, KEYS_SPEC("RM delete", 1, -1)),
    KEYS_CMD("exists", cmd_exists, -2, CMD_READONLY | CMD_FAST, ACL_KEYSPACE | ACL_READ | ACL_FAST,
             1, -1, 1, "Determine if a key exists", "1.0.0",
             "O(N) where N is the number of keys to check.", KEYS_TIPS_MULTI,
             KEYS_SPEC("RO", 1, -1)),
    KEYS_CMD("expire", cmd_expire, -3, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST, 1,
             1, 1, "Set a key's time to live in seconds", "1.0.0", "O(1)", NULL,
             KEYS_SPEC("RW update", 1, 0)),
    KEYS_CMD("expireat", cmd_expireat, -3, CMD_WRITE | CMD_FAST,
             ACL_KEYSPACE | ACL_WRITE | ACL_FAST, 1, 1, 1,
             "Set the expiration for a key as a UNIX timestamp", "1.2.0", "O(1)", NULL,
             KEYS_SPEC("RW update", 1, 0)),
    KEYS_CMD("expiretime", cmd_expiretime, 2, CMD_READONLY | CMD_FAST,
             ACL_KEYSPACE | ACL_READ | ACL_FAST, 1, 1, 1,
             "Get the expiration Unix timestamp for a key", "7.0.0", "O(1)", NULL,
             KEYS_SPEC("RO access", 1, 0)),
    KEYS_CMD("keys", cmd_keys, 2, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW | ACL_DANGEROUS,
             0, 0, 0, "Find all keys matching the given pattern", "1.0.0",
             "O(N) with N being the number of keys in the database, under the assumption that "
             "the key names in the database and the given pattern have limited length.",
             "request_policy:all_shards nondeterministic_output_order", KEYS_NOSPEC),
    KEYS_CMD("move", cmd_move, 3, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST, 1, 1,
             1, "Move a key to another database", "1.0.0", "O(1)", NULL,
             KEYS_SPEC("RW access update", 1, 0)),
    {.name = "object",
     .fn = NULL,
     .arity = -2,
     .flags = 0,
     .acl = ACL_SLOW,
     .summary = "A container for object introspection commands",
     .since = "2.2.3",
     .group = "generic",
     .complexity = "Depends on subcommand.",
     .subs = keys_object_subs},
    KEYS_CMD("persist", cmd_persist, 2, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
             1, 1, 1, "Remove the expiration from a key", "2.2.0", "O(1)", NULL,
             KEYS_SPEC("RW update", 1, 0)),
    KEYS_CMD("pexpire", cmd_pexpire, -3, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
             1, 1, 1, "Set a key's time to live in milliseconds", "2.6.0", "O(1)", NULL,
             KEYS_SPEC("RW update", 1, 0)),
    KEYS_CMD("pexpireat", cmd_pexpireat, -3, CMD_WRITE | CMD_FAST,
             ACL_KEYSPACE | ACL_WRITE | ACL_FAST, 1, 1, 1,
             "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0",
             "O(1)", NULL, KEYS_SPEC("RW update", 1, 0)),
    KEYS_CMD("pexpiretime", cmd_pexpiretime, 2, CMD_READONLY | CMD_FAST,
             ACL_KEYSPACE | ACL_READ | ACL_FAST, 1, 1, 1,
             "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0", "O(1)", NULL,
             KEYS_SPEC("RO access", 1, 0)),
    KEYS_CMD("pttl", cmd_pttl, 2, CMD_READONLY | CMD_FAST, ACL_KEYSPACE | ACL_READ | ACL_FAST, 1, 1,
             1, "Get the time to live for a key in milliseconds", "2.6.0", "O(1)", KEYS_TIPS_NONDET,
             KEYS_SPEC("RO access", 1, 0)),
    KEYS_CMD("randomkey", cmd_randomkey, 1, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW, 0, 0,
             0, "Return a random key from the keyspace", "1.0.0", "O(1)",
             "request_policy:all_shards nondeterministic_output", KEYS_NOSPEC),
    KEYS_CMD("rename", cmd_rename, 3, CMD_WRITE, ACL_KEYSPACE | ACL_WRITE | ACL_SLOW, 1, 2, 1,
             "Rename a key", "1.0.0", "O(1)", NULL, KEYS_SPEC("RW access delete", 1, 0),
             KEYS_SPEC("OW update", 2, 0)),
    KEYS_CMD("renamenx", cmd_renamenx, 3, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
             1, 2, 1, "Rename a key, only if the new key does not exist", "1.0.0", "O(1)", NULL,
             KEYS_SPEC("RW access delete", 1, 0), KEYS_SPEC("OW insert", 2, 0)),
    KEYS_CMD("scan", cmd_scan, -2, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW, 0, 0, 0,
             "Incrementally iterate the keys space", "2.8.0",
             "O(1) for every call. O(N) for a complete iteration, including enough command calls "
             "for the cursor to return back to 0. N is the number of elements inside the "
             "collection.",
             "nondeterministic_output request_policy:special", KEYS_NOSPEC),
    KEYS_CMD("touch", cmd_touch, -2, CMD_READONLY | CMD_FAST, ACL_KEYSPACE | ACL_READ | ACL_FAST, 1,
             -1, 1,
             "Alters the last access time of a key(s). Returns the number of existing keys "
             "specified.",
             "3.2.1", "O(N) where N is the number of keys that will be touched.", KEYS_TIPS_MULTI,
             KEYS_SPEC("RO", 1, -1)),
    KEYS_CMD("ttl", cmd_ttl, 2, CMD_READONLY | CMD_FAST, ACL_KEYSPACE | ACL_READ | ACL_FAST, 1, 1,
             1, "Get the time to live for a key in seconds", "1.0.0", "O(1)", KEYS_TIPS_NONDET,
             KEYS_SPEC("RO access", 1, 0)),
    KEYS_CMD("type", cmd_type, 2, CMD_READONLY | CMD_FAST, ACL_KEYSPACE | ACL_READ | ACL_FAST, 1, 1,
             1, "Determine the type stored at key", "1.0.0", "O(1)", NULL, KEYS_SPEC("RO", 1, 0)),
    KEYS_CMD("unlink", cmd_unlink, -2, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST, 1,
             -1, 1,
             "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but "
             "non blocking.",
             "4.0.0",
             "O(1) for each key removed regardless of its size. Then the command does O(N) work "
             "in a different thread in order to reclaim memory, where N is the number of "
             "allocations the deleted objects where composed of.",
             KEYS_TIPS_MULTI, KEYS_SPEC("RM delete", 1, -1)),
    {0},
};
