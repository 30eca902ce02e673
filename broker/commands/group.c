/*
 * broker/commands/group: the consumer group commands: XGROUP (CREATE,
 * SETID, DESTROY, CREATECONSUMER, DELCONSUMER, HELP), XREADGROUP, XACK,
 * XPENDING, XCLAIM and XAUTOCLAIM. (XINFO GROUPS/CONSUMERS live with the
 * other XINFO subcommands in stream.c.)
 *
 * Handlers check their arguments in the order Redis does, so the first
 * error Redis would give is the one given, then call the group engine in
 * consumers/ and reply. XREADGROUP BLOCK hands the unchanged command to the
 * server's blocking mechanism and is simply run again when its key changes
 * (Redis 7.2+): a new entry is then served, and a key deleted or a group
 * destroyed meanwhile gets the error a fresh XREADGROUP would get.
 *
 * Propagation: what XREADGROUP, XCLAIM and XAUTOCLAIM did is recorded as
 * its effects, as Redis 7.0 records them, so a replay restores owners,
 * delivery times and counts exactly: per entry delivered, redelivered or
 * claimed, XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID
 * LASTID last (for an entry gone from the stream, its state before it was
 * dropped, which replays as the drop); XGROUP SETID key group last
 * ENTRIESREAD n when the last-delivered ID moved (Redis 7.0 does this only
 * for NOACK and so loses entries-read; 7.2 always does); XGROUP
 * CREATECONSUMER for a consumer created that no XCLAIM recreates. Several
 * commands go in one MULTI/EXEC. The other group commands replay as they
 * are ("$" included: the log replays the same stream).
 *
 * Hot path: XREADGROUP ">" (one group lookup, then per entry one decode and
 * two PEL inserts) and XACK (two PEL removals per ID). Not here: the PEL and
 * lag rules (consumers/).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker/commands/families.h"
#include "broker/keyspace/streamobj.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"
#include "consumers/cg.h"
#include "consumers/pel.h"
#include "streams/stream.h"

#define GRP_ERR_INVALID_ID "ERR Invalid stream ID specified as stream command argument"

/* XAUTOCLAIM COUNT bounds: Redis caps COUNT so that COUNT * 16 fits a long,
 * and fails when its temporary array of COUNT IDs cannot be allocated.
 * Runnel allocates only what the PEL can fill, so it stands in for that
 * failure with a fixed limit well past any real allocation (16 TiB). */
#define GRP_AUTOCLAIM_COUNT_MAX   (0x7fffffffffffffffLL / 16)
#define GRP_AUTOCLAIM_COUNT_NOMEM (1LL << 40)

/* ---- Helpers ---- */

/* Bytes of argv[i] up to its first NUL: what Redis's "%s" prints. */
static size_t
grp_cstr_len(const cmd_ctx *c, int i)
{
    return strnlen(c->argv[i].ptr, c->argv[i].len);
}

/* 1 when argv[i] is exactly s, compared as a C string (Redis's strcmp). */
static int
grp_arg_eq(const cmd_ctx *c, int i, const char *s)
{
    size_t n = strlen(s);
    return grp_cstr_len(c, i) == n && memcmp(c->argv[i].ptr, s, n) == 0;
}

/*
 * Replies an error made of p1, argv[a1], p2, argv[a2] (skipped when a2 < 0)
 * and p3, arguments cut at a NUL byte as Redis's "%s" does. Names may be of
 * any length, so the message is built on the heap.
 */
static void
grp_reply_error2(cmd_ctx *c, const char *p1, int a1, const char *p2, int a2, const char *p3)
{
    size_t l1 = strlen(p1), l2 = strlen(p2), l3 = strlen(p3);
    size_t n1 = grp_cstr_len(c, a1), n2 = a2 >= 0 ? grp_cstr_len(c, a2) : 0;
    char *msg = util_malloc(l1 + n1 + l2 + n2 + l3 + 1), *p = msg;
    memcpy(p, p1, l1);
    p += l1;
    memcpy(p, c->argv[a1].ptr, n1);
    p += n1;
    memcpy(p, p2, l2);
    p += l2;
    if (n2)
        memcpy(p, c->argv[a2].ptr, n2);
    p += n2;
    memcpy(p, p3, l3 + 1);
    reply_error(c->r, msg);
    util_free(msg);
}

/* "NOGROUP No such key '<key>' or consumer group '<group>'" + suffix. */
static void
grp_reply_nogroup(cmd_ctx *c, int key, int group, const char *suffix)
{
    grp_reply_error2(c, "NOGROUP No such key '", key, "' or consumer group '", group, suffix);
}

/* Returns the stream value under argv[i] (NULL when missing), or replies
 * WRONGTYPE and sets *bad. */
static ks_stream *
grp_lookup(cmd_ctx *c, int i, int write, int *bad)
{
    ks_obj *o = write ? cmd_lookup_write(c, i) : cmd_lookup_read(c, i);
    *bad = 0;
    if (o == NULL)
        return NULL;
    if (o->type != KS_STREAM) {
        cmd_reply_wrongtype(c);
        *bad = 1;
        return NULL;
    }
    return (ks_stream *)o->ptr;
}

/* The group argv[i] of xs, or NULL. */
static cg_group *
grp_find(const ks_stream *xs, const cmd_ctx *c, int i)
{
    if (xs == NULL || xs->groups == NULL)
        return NULL;
    return cg_group_find(xs->groups, c->argv[i].ptr, c->argv[i].len);
}

/* The consumer argv[i] of g, created (seen now) when missing. */
static cg_consumer *
grp_consumer(cmd_ctx *c, cg_group *g, int i)
{
    cg_consumer *cons = NULL;
    int rc = cg_consumer_add(g, c->argv[i].ptr, c->argv[i].len, c->now_ms, &cons);
    if (rc == -ENOMEM)
        runnel_panic("out of memory creating a consumer");
    if (rc == 0)
        c->dirty++;
    return cons;
}

/* Adds to b the XCLAIM that recreates a pending entry as it is: id owned
 * by consumer name[0..len), delivered at time_ms, count times, with the
 * group's last-delivered ID g_last. */
static void
grp_prop_xclaim(cmd_prop_batch *b, const cmd_ctx *c, int key_i, int group_i, const void *name,
                size_t len, const stream_id *id, int64_t time_ms, uint64_t count,
                const stream_id *g_last)
{
    cmd_prop_args a;
    resp_arg cname = {name, len};
    cmd_prop_args_init(&a);
    cmd_prop_lit(&a, "XCLAIM");
    cmd_prop_arg(&a, &c->argv[key_i]);
    cmd_prop_arg(&a, &c->argv[group_i]);
    cmd_prop_arg(&a, &cname);
    cmd_prop_lit(&a, "0");
    cmd_prop_id(&a, id->ms, id->seq);
    cmd_prop_lit(&a, "TIME");
    cmd_prop_ll(&a, (long long)time_ms);
    cmd_prop_lit(&a, "RETRYCOUNT");
    cmd_prop_ll(&a, (long long)count);
    cmd_prop_lit(&a, "FORCE");
    cmd_prop_lit(&a, "JUSTID");
    cmd_prop_lit(&a, "LASTID");
    cmd_prop_id(&a, g_last->ms, g_last->seq);
    cmd_prop_batch_add(b, &a);
}

/* The XCLAIM for pending entry id of g as it is now (owner, time, count). */
static void
grp_prop_pending(cmd_prop_batch *b, const cmd_ctx *c, int key_i, int group_i, const cg_group *g,
                 const stream_id *id)
{
    pel_entry *e = pel_find(g, id);
    stream_id last = cg_group_last_id(g);
    const void *name;
    size_t len;
    if (e == NULL)
        return;
    name = cg_consumer_name(pel_entry_owner(e), &len);
    grp_prop_xclaim(b, c, key_i, group_i, name, len, id, pel_entry_delivery_ms(e),
                    pel_entry_delivery_count(e), &last);
}

/* Adds XGROUP SETID key group <last-delivered ID> ENTRIESREAD <n> for g. */
static void
grp_prop_setid(cmd_prop_batch *b, const cmd_ctx *c, int key_i, int group_i, const cg_group *g)
{
    cmd_prop_args a;
    stream_id last = cg_group_last_id(g);
    cmd_prop_args_init(&a);
    cmd_prop_lit(&a, "XGROUP");
    cmd_prop_lit(&a, "SETID");
    cmd_prop_arg(&a, &c->argv[key_i]);
    cmd_prop_arg(&a, &c->argv[group_i]);
    cmd_prop_id(&a, last.ms, last.seq);
    cmd_prop_lit(&a, "ENTRIESREAD");
    cmd_prop_ll(&a, (long long)cg_group_entries_read(g));
    cmd_prop_batch_add(b, &a);
}

/* Adds XGROUP CREATECONSUMER key group consumer (all three from argv). */
static void
grp_prop_createconsumer(cmd_prop_batch *b, const cmd_ctx *c, int key_i, int group_i, int cons_i)
{
    cmd_prop_args a;
    cmd_prop_args_init(&a);
    cmd_prop_lit(&a, "XGROUP");
    cmd_prop_lit(&a, "CREATECONSUMER");
    cmd_prop_arg(&a, &c->argv[key_i]);
    cmd_prop_arg(&a, &c->argv[group_i]);
    cmd_prop_arg(&a, &c->argv[cons_i]);
    cmd_prop_batch_add(b, &a);
}

/* Parses argv[i] as a strict ID ("-" and "+" refused). */
static int
grp_parse_strict_or_reply(cmd_ctx *c, int i, stream_id *id)
{
    if (stream_id_parse(c->argv[i].ptr, c->argv[i].len, id, 0, 1, NULL, NULL) != 0) {
        reply_error(c->r, GRP_ERR_INVALID_ID);
        return -1;
    }
    return 0;
}

/* Parses a range bound of XPENDING/XAUTOCLAIM: "-", "+", an ID (an
 * incomplete one gets seq 0 as a start, the maximum as an end) or "("
 * and a strict ID for an exclusive bound. */
static int
grp_parse_bound_or_reply(cmd_ctx *c, int i, stream_id *id, int is_end)
{
    const resp_arg *a = &c->argv[i];
    uint64_t missing = is_end ? UINT64_MAX : 0;
    if (a->len > 1 && a->ptr[0] == '(') {
        if (stream_id_parse(a->ptr + 1, a->len - 1, id, missing, 1, NULL, NULL) != 0) {
            reply_error(c->r, GRP_ERR_INVALID_ID);
            return -1;
        }
        if ((is_end ? stream_id_decr(id) : stream_id_incr(id)) != 0) {
            reply_error(c->r, is_end ? "ERR invalid end ID for the interval"
                                     : "ERR invalid start ID for the interval");
            return -1;
        }
        return 0;
    }
    if (stream_id_parse(a->ptr, a->len, id, missing, 0, NULL, NULL) != 0) {
        reply_error(c->r, GRP_ERR_INVALID_ID);
        return -1;
    }
    return 0;
}

static void
grp_reply_id(reply *r, const stream_id *id)
{
    char buf[STREAM_ID_STR_MAX];
    size_t n = stream_id_fmt(buf, id);
    reply_bulk(r, buf, n);
}

/* Replies entry *id of s as [id, [field, value, ...]]: 1, or 0 (nothing
 * written) when it is not in the stream. */
static int
grp_reply_entry(reply *r, stream *s, const stream_id *id)
{
    stream_iter it;
    stream_id got;
    stream_field f, v;
    size_t npairs;
    int found;
    stream_iter_start(&it, s, id, id, 0);
    found = stream_iter_next(&it, &got, &npairs);
    if (found) {
        reply_array(r, 2);
        grp_reply_id(r, &got);
        reply_array(r, (long long)npairs * 2);
        while (stream_iter_field(&it, &f, &v)) {
            reply_bulk(r, f.ptr, f.len);
            reply_bulk(r, v.ptr, v.len);
        }
    }
    stream_iter_stop(&it);
    return found;
}

/* ---- XGROUP ---- */

/* What the XGROUP subcommands share, parsed and looked up in Redis's order. */
typedef struct grp_xgroup_args {
    ks_stream *xs;        /* the stream, NULL only with MKSTREAM */
    cg_group *g;          /* the group argv[3], or NULL */
    int mkstream;         /* CREATE ... MKSTREAM */
    int64_t entries_read; /* ENTRIESREAD, or CG_ENTRIES_READ_INVALID */
} grp_xgroup_args;

static void
grp_reply_sub_syntax(cmd_ctx *c)
{
    size_t n = grp_cstr_len(c, 1);
    reply_errorf(c->r,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try XGROUP HELP.",
                 (int)(n < 128 ? n : 128), c->argv[1].ptr);
}

/*
 * Options (CREATE: MKSTREAM, ENTRIESREAD; SETID: ENTRIESREAD), then the
 * key, then (without MKSTREAM) that the key exists and, for SETID,
 * CREATECONSUMER and DELCONSUMER, that the group does. Returns 0, or -1
 * after replying an error.
 */
static int
grp_xgroup_prepare(cmd_ctx *c, grp_xgroup_args *a)
{
    const char *sub = c->cmd->name;
    int create = strcmp(sub, "create") == 0, setid = strcmp(sub, "setid") == 0, bad;
    *a = (grp_xgroup_args){.entries_read = CG_ENTRIES_READ_INVALID};
    for (int i = 5; i < c->argc;) {
        if (create && cmd_arg_is(c, i, "mkstream")) {
            a->mkstream = 1;
            i++;
        } else if ((create || setid) && cmd_arg_is(c, i, "entriesread") && i + 1 < c->argc) {
            long long n;
            if (cmd_get_ll_or_reply(c, i + 1, &n, NULL) < 0)
                return -1;
            if (n < 0 && n != CG_ENTRIES_READ_INVALID) {
                reply_error(c->r, "ERR value for ENTRIESREAD must be positive or -1");
                return -1;
            }
            a->entries_read = n;
            i += 2;
        } else {
            grp_reply_sub_syntax(c);
            return -1;
        }
    }
    a->xs = grp_lookup(c, 2, 1, &bad);
    if (bad)
        return -1;
    if (a->mkstream)
        return 0;
    if (a->xs == NULL) {
        reply_error(c->r, "ERR The XGROUP subcommand requires the key to exist. Note that for "
                          "CREATE you may want to use the MKSTREAM option to create an empty "
                          "stream automatically.");
        return -1;
    }
    a->g = grp_find(a->xs, c, 3);
    if (a->g == NULL && !create && strcmp(sub, "destroy") != 0) {
        grp_reply_error2(c, "NOGROUP No such consumer group '", 3, "' for key name '", 2, "'");
        return -1;
    }
    return 0;
}

/* XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n]. The argument
 * count is checked after the shared part, as in Redis, so a bad key or type
 * is reported before "wrong number of arguments". */
static void
cmd_xgroup_create(cmd_ctx *c)
{
    grp_xgroup_args a;
    stream_id id = {0, 0};
    int rc;
    if (grp_xgroup_prepare(c, &a) < 0)
        return;
    if (c->argc > 8) {
        grp_reply_sub_syntax(c);
        return;
    }
    if (grp_arg_eq(c, 4, "$")) {
        if (a.xs)
            id = stream_last_id(a.xs->log);
    } else if (grp_parse_strict_or_reply(c, 4, &id) < 0) {
        return;
    }
    if (a.xs == NULL) {
        /* MKSTREAM, now that nothing can fail any more. */
        ks_obj *o = ks_stream_obj_new();
        ks_add(c->db, c->argv[2].ptr, c->argv[2].len, o);
        a.xs = (ks_stream *)o->ptr;
        cmd_key_changed(c, c->argv[2].ptr, c->argv[2].len);
    }
    rc = cg_group_add(ks_stream_groups(a.xs), c->argv[3].ptr, c->argv[3].len, &id, a.entries_read,
                      NULL);
    if (rc == -ENOMEM)
        runnel_panic("out of memory creating a consumer group");
    if (rc == -EEXIST) {
        reply_error(c->r, "BUSYGROUP Consumer Group name already exists");
        return;
    }
    c->dirty++;
    reply_ok(c->r);
    cmd_notify(c, NOTIFY_STREAM, "xgroup-create", c->argv[2].ptr, c->argv[2].len);
}

/* XGROUP SETID key group id|$ [ENTRIESREAD n]. Unlike CREATE the ID is
 * parsed leniently ("-" and "+" are fine), and a missing ENTRIESREAD makes
 * the counter unknown rather than keeping the old one. */
static void
cmd_xgroup_setid(cmd_ctx *c)
{
    grp_xgroup_args a;
    stream_id id;
    if (grp_xgroup_prepare(c, &a) < 0)
        return;
    if (c->argc != 5 && c->argc != 7) {
        grp_reply_sub_syntax(c);
        return;
    }
    if (grp_arg_eq(c, 4, "$")) {
        id = stream_last_id(a.xs->log);
    } else if (stream_id_parse(c->argv[4].ptr, c->argv[4].len, &id, 0, 0, NULL, NULL) != 0) {
        reply_error(c->r, GRP_ERR_INVALID_ID);
        return;
    }
    cg_group_set_id(a.g, &id, a.entries_read);
    c->dirty++;
    reply_ok(c->r);
    cmd_notify(c, NOTIFY_STREAM, "xgroup-setid", c->argv[2].ptr, c->argv[2].len);
}

/* XGROUP DESTROY key group */
static void
cmd_xgroup_destroy(cmd_ctx *c)
{
    grp_xgroup_args a;
    if (grp_xgroup_prepare(c, &a) < 0)
        return;
    if (a.g == NULL) {
        reply_int(c->r, 0);
        return;
    }
    cg_group_del(a.xs->groups, c->argv[3].ptr, c->argv[3].len);
    c->dirty++;
    /* Readers blocked on the group run again and get NOGROUP; this is not
     * a change of the key's content (Redis signals it ready, not modified). */
    reply_int(c->r, 1);
    cmd_notify(c, NOTIFY_STREAM, "xgroup-destroy", c->argv[2].ptr, c->argv[2].len);
    ks_block_signal(&c->ks->blocking, c->db->id, c->argv[2].ptr, c->argv[2].len);
}

/* XGROUP CREATECONSUMER key group consumer: 1 if created, 0 if it was
 * there already. */
static void
cmd_xgroup_createconsumer(cmd_ctx *c)
{
    grp_xgroup_args a;
    int rc;
    if (grp_xgroup_prepare(c, &a) < 0)
        return;
    rc = cg_consumer_add(a.g, c->argv[4].ptr, c->argv[4].len, c->now_ms, NULL);
    if (rc == -ENOMEM)
        runnel_panic("out of memory creating a consumer");
    if (rc == 0) {
        c->dirty++;
        cmd_notify(c, NOTIFY_STREAM, "xgroup-createconsumer", c->argv[2].ptr, c->argv[2].len);
    }
    reply_int(c->r, rc == 0);
}

/* XGROUP DELCONSUMER key group consumer: replies the pending entries the
 * consumer had, which leave the group PEL with it. */
static void
cmd_xgroup_delconsumer(cmd_ctx *c)
{
    grp_xgroup_args a;
    cg_consumer *cons;
    uint64_t pending = 0;
    if (grp_xgroup_prepare(c, &a) < 0)
        return;
    cons = cg_consumer_find(a.g, c->argv[4].ptr, c->argv[4].len);
    if (cons != NULL) {
        pending = cg_consumer_del(a.g, cons);
        c->dirty++;
        cmd_notify(c, NOTIFY_STREAM, "xgroup-delconsumer", c->argv[2].ptr, c->argv[2].len);
    }
    reply_int(c->r, (long long)pending);
}

static void
cmd_xgroup_help(cmd_ctx *c)
{
    static const char *const help[] = {
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(help) / sizeof(help[0]);
    reply_array(c->r, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c->r, help[i]);
}

/* ---- XREADGROUP ---- */

/* The ">" of XREADGROUP, kept as the maximum ID as Redis does (so an
 * explicit 18446744073709551615-18446744073709551615 means ">" too). */
static const stream_id grp_id_new = {UINT64_MAX, UINT64_MAX};

/* Replies what consumer cons of g has pending after *after (its history),
 * at most count entries (0: all). Entries still in the stream count as
 * delivered once more; deleted ones come as [id, nil]. The PEL walk sees
 * only its own tree, so looking each ID up in the stream is what tells a
 * live entry from one XDEL or XTRIM removed. */
static void
grp_reply_history(cmd_ctx *c, stream *s, cg_consumer *cons, cg_group *g, const stream_id *after,
                  long long count, cmd_prop_batch *b, int key_i, int group_i)
{
    stream_id start = *after, id;
    pel_iter it;
    pel_entry *e;
    long long n = 0;
    size_t mark = reply_defer(c->r);
    stream_id_incr(&start);
    if (pel_iter_start(&it, g, cons, &start) < 0)
        runnel_panic("out of memory walking a consumer's pending entries");
    while ((!count || n < count) && pel_iter_next(&it, &id, &e)) {
        if (grp_reply_entry(c->r, s, &id)) {
            /* Recorded too (Redis 7.0 does not), so a replay keeps the
             * count and time of the redelivery. */
            stream_id last = cg_group_last_id(g);
            const void *name;
            size_t len;
            pel_redeliver(e, c->now_ms);
            name = cg_consumer_name(cons, &len);
            grp_prop_xclaim(b, c, key_i, group_i, name, len, &id, pel_entry_delivery_ms(e),
                            pel_entry_delivery_count(e), &last);
            c->dirty++;
        } else {
            reply_array(c->r, 2);
            grp_reply_id(c->r, &id);
            reply_null_array(c->r);
        }
        n++;
    }
    pel_iter_stop(&it);
    reply_defer_array(c->r, mark, n);
}

/* Replies the entries of s after the group's last-delivered ID, at most
 * count (0: all), delivering each to cons. The entry is written before it
 * is recorded, but a failed record is fatal anyway, so no reply can
 * announce an entry the PEL does not hold. */
static void
grp_reply_new(cmd_ctx *c, stream *s, cg_group *g, cg_consumer *cons, long long count, int noack,
              cmd_prop_batch *b, int key_i, int group_i)
{
    stream_id start = cg_group_last_id(g), id;
    stream_iter it;
    stream_field f, v;
    size_t npairs;
    long long n = 0;
    size_t mark = reply_defer(c->r);
    stream_id_incr(&start);
    stream_iter_start(&it, s, &start, NULL, 0);
    while ((!count || n < count) && stream_iter_next(&it, &id, &npairs)) {
        reply_array(c->r, 2);
        grp_reply_id(c->r, &id);
        reply_array(c->r, (long long)npairs * 2);
        while (stream_iter_field(&it, &f, &v)) {
            reply_bulk(c->r, f.ptr, f.len);
            reply_bulk(c->r, v.ptr, v.len);
        }
        if (cg_deliver(s, g, cons, &id, noack, c->now_ms) < 0)
            runnel_panic("out of memory delivering a stream entry");
        if (!noack)
            grp_prop_pending(b, c, key_i, group_i, g, &id);
        n++;
    }
    stream_iter_stop(&it);
    reply_defer_array(c->r, mark, n);
    c->dirty += n;
    if (n)
        grp_prop_setid(b, c, key_i, group_i, g);
}

/* The parsed options of an XREADGROUP. */
typedef struct grp_xread_args {
    long long count;   /* COUNT, 0 for no limit */
    long long timeout; /* BLOCK ms, -1 without BLOCK */
    int streams_arg;   /* index of the first key */
    int nstreams;      /* keys (and IDs) */
    int group_arg;     /* index of the group name; the consumer follows */
    int noack;         /* NOACK */
} grp_xread_args;

/* Parses the options up to STREAMS, in Redis's order. 0, or -1 after
 * replying an error. */
static int
grp_xread_parse_or_reply(cmd_ctx *c, grp_xread_args *a)
{
    *a = (grp_xread_args){.timeout = -1};
    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (cmd_arg_is(c, i, "block") && more) {
            /* Nothing may wait inside a script (Redis refuses at BLOCK). */
            if (c->sess->flags & SESS_SCRIPT) {
                reply_error(c->r,
                            "ERR XREADGROUP command is not allowed with BLOCK option from scripts");
                return -1;
            }
            i++;
            if (cmd_get_ll_or_reply(c, i, &a->timeout,
                                    "ERR timeout is not an integer or out of range") < 0)
                return -1;
            if (a->timeout < 0) {
                reply_error(c->r, "ERR timeout is negative");
                return -1;
            }
        } else if (cmd_arg_is(c, i, "count") && more) {
            i++;
            if (cmd_get_ll_or_reply(c, i, &a->count, NULL) < 0)
                return -1;
            if (a->count < 0)
                a->count = 0;
        } else if (cmd_arg_is(c, i, "streams") && more) {
            a->streams_arg = i + 1;
            a->nstreams = c->argc - a->streams_arg;
            if (a->nstreams % 2 != 0) {
                /* Redis 7.0 words it for XREAD; 7.2+ names the command. */
                reply_error(c->r, "ERR Unbalanced XREAD list of streams: for each stream key an "
                                  "ID or '$' must be specified.");
                return -1;
            }
            a->nstreams /= 2;
            break;
        } else if (cmd_arg_is(c, i, "group") && more >= 2) {
            a->group_arg = i + 1;
            i += 2;
        } else if (cmd_arg_is(c, i, "noack")) {
            a->noack = 1;
        } else {
            return cmd_reply_syntax(c);
        }
    }
    if (a->streams_arg == 0)
        return cmd_reply_syntax(c);
    if (a->group_arg == 0) {
        reply_error(c->r, "ERR Missing GROUP option for XREADGROUP");
        return -1;
    }
    return 0;
}

/* Checks that every key holds the group and every ID is valid, before
 * anything is read or changed; fills ids and groups. 0, or -1 after
 * replying an error. */
static int
grp_xread_resolve_or_reply(cmd_ctx *c, const grp_xread_args *a, stream_id *ids, cg_group **groups)
{
    int bad;
    for (int k = 0; k < a->nstreams; k++) {
        int ki = a->streams_arg + k, ai = a->streams_arg + a->nstreams + k;
        ks_stream *xs = grp_lookup(c, ki, 0, &bad);
        if (bad)
            return -1;
        groups[k] = grp_find(xs, c, a->group_arg);
        if (groups[k] == NULL) {
            grp_reply_nogroup(c, ki, a->group_arg, "' in XREADGROUP with GROUP option");
            return -1;
        }
        if (grp_arg_eq(c, ai, "$") || grp_arg_eq(c, ai, "+")) {
            /* "+" is refused as in Redis 7.4, which gave it a meaning for
             * XREAD; 7.0 answers "Invalid stream ID" for it. */
            const char *sym = c->argv[ai].ptr[0] == '$' ? "$" : "+";
            reply_errorf(c->r,
                         "ERR The %s ID is meaningless in the context of XREADGROUP: you want "
                         "to read the history of this consumer by specifying a proper ID, or use "
                         "the > ID to get new messages. The %s ID would just return an empty "
                         "result set.",
                         sym, sym);
            return -1;
        }
        if (grp_arg_eq(c, ai, ">"))
            ids[k] = grp_id_new;
        else if (grp_parse_strict_or_reply(c, ai, &ids[k]) < 0)
            return -1;
    }
    return 0;
}

/* Serves every stream with something for the consumer: its history for an
 * explicit ID (even when empty), new entries for ">". The consumer is
 * created and marked seen on every stream, served or not (Redis 7.2+).
 * Returns the streams served; the caller writes the outer header. */
static long long
grp_xread_serve(cmd_ctx *c, const grp_xread_args *a, const stream_id *ids, cg_group **groups,
                cmd_prop_batch *b)
{
    long long served = 0;
    int bad;
    for (int k = 0; k < a->nstreams; k++) {
        int ki = a->streams_arg + k;
        ks_stream *xs = grp_lookup(c, ki, 0, &bad);
        cg_group *g = groups[k];
        int history = stream_id_cmp(&ids[k], &grp_id_new) != 0, serve = history;
        cg_consumer *cons;
        stream_id last_entry, last_id = cg_group_last_id(g);
        int ci = a->group_arg + 1;
        int created = cg_consumer_find(g, c->argv[ci].ptr, c->argv[ci].len) == NULL;
        if (!history && stream_last_entry(xs->log, &last_entry) &&
            stream_id_cmp(&last_entry, &last_id) > 0)
            serve = 1;
        cons = grp_consumer(c, g, ci);
        cg_consumer_touch(cons, c->now_ms);
        /* A new consumer is recorded unless the XCLAIMs of its deliveries
         * create it on replay (then Redis 7.0 records none either). */
        if (created && (a->noack || history || !serve))
            grp_prop_createconsumer(b, c, ki, a->group_arg, ci);
        if (!serve)
            continue;
        if (c->r->resp < 3)
            reply_array(c->r, 2);
        reply_bulk(c->r, c->argv[ki].ptr, c->argv[ki].len);
        if (history)
            grp_reply_history(c, xs->log, cons, g, &ids[k], a->count, b, ki, a->group_arg);
        else
            grp_reply_new(c, xs->log, g, cons, a->count, a->noack, b, ki, a->group_arg);
        served++;
    }
    return served;
}

/* XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id... */
static void
cmd_xreadgroup(cmd_ctx *c)
{
    grp_xread_args a;
    stream_id *ids;
    cg_group **groups;
    long long served;
    size_t mark;
    cmd_prop_batch batch;

    if (grp_xread_parse_or_reply(c, &a) < 0)
        return;
    cmd_prop_batch_init(&batch);
    ids = util_malloc((size_t)a.nstreams * sizeof(*ids));
    groups = util_malloc((size_t)a.nstreams * sizeof(*groups));
    if (grp_xread_resolve_or_reply(c, &a, ids, groups) < 0)
        goto out;
    mark = reply_defer(c->r);
    served = grp_xread_serve(c, &a, ids, groups, &batch);
    if (served) {
        if (c->r->resp >= 3)
            reply_defer_map(c->r, mark, served);
        else
            reply_defer_array(c->r, mark, served);
        goto out;
    }
    if (a.timeout >= 0) {
        /* The command runs again as it is when one of its keys changes. */
        int *keys = util_malloc((size_t)a.nstreams * sizeof(*keys));
        int rc;
        for (int k = 0; k < a.nstreams; k++)
            keys[k] = a.streams_arg + k;
        rc = c->host->block(c, c->argc, c->argv, keys, a.nstreams,
                            a.timeout ? c->now_ms + a.timeout : 0, 0);
        util_free(keys);
        if (rc == 0)
            goto out;
    }
    reply_null_array(c->r);
out:
    /* Never the command itself: its effects, or nothing. */
    cmd_prop_batch_flush(c, &batch);
    util_free(ids);
    util_free(groups);
}

/* ---- XACK ---- */

/* XACK key group id...: the number of IDs that were pending. A missing key
 * or group answers 0 before the IDs are even parsed, as in Redis. */
static void
cmd_xack(cmd_ctx *c)
{
    int bad, n = c->argc - 3;
    long long acked = 0;
    ks_stream *xs = grp_lookup(c, 1, 0, &bad);
    cg_group *g;
    stream_id *ids;
    if (bad)
        return;
    /* No key or no group: nothing to acknowledge, whatever the IDs. */
    g = grp_find(xs, c, 2);
    if (g == NULL) {
        reply_int(c->r, 0);
        return;
    }
    /* All or nothing: every ID is checked before any is acknowledged. */
    ids = util_malloc((size_t)n * sizeof(*ids));
    for (int j = 0; j < n; j++) {
        if (grp_parse_strict_or_reply(c, 3 + j, &ids[j]) < 0) {
            util_free(ids);
            return;
        }
    }
    for (int j = 0; j < n; j++)
        acked += pel_ack(g, &ids[j]);
    util_free(ids);
    c->dirty += acked;
    reply_int(c->r, acked);
}

/* ---- XPENDING ---- */

/* XPENDING key group: [count, smallest ID, largest ID, [[consumer, n]...]] */
static void
grp_pending_summary(cmd_ctx *c, cg_group *g)
{
    stream_id first, last;
    cg_iter it;
    cg_consumer *cons;
    long long n = 0;
    size_t mark;
    reply_array(c->r, 4);
    reply_int(c->r, (long long)cg_group_pending_count(g));
    if (cg_group_pending_count(g) == 0) {
        reply_null(c->r);
        reply_null(c->r);
        reply_null_array(c->r);
        return;
    }
    pel_edge(g, 0, &first);
    pel_edge(g, 1, &last);
    grp_reply_id(c->r, &first);
    grp_reply_id(c->r, &last);
    mark = reply_defer(c->r);
    cg_iter_consumers(&it, g);
    while (cg_iter_next_consumer(&it, &cons)) {
        size_t len;
        const void *name;
        if (cg_consumer_pending_count(cons) == 0)
            continue;
        name = cg_consumer_name(cons, &len);
        reply_array(c->r, 2);
        reply_bulk(c->r, name, len);
        reply_bulk_ll(c->r, (long long)cg_consumer_pending_count(cons));
        n++;
    }
    cg_iter_stop(&it);
    reply_defer_array(c->r, mark, n);
}

/* XPENDING key group [[IDLE min-idle] start end count [consumer]]. With a
 * consumer that does not exist the answer is an empty array, not an error.
 * Idle times are clamped at 0: a delivery time set by XCLAIM TIME is never
 * in the future, but the clock may step back. */
static void
cmd_xpending(cmd_ctx *c)
{
    stream_id start = {0, 0}, end = {0, 0}, id;
    long long count = 0, minidle = 0, n = 0;
    int consumer_arg = 0, bad;
    ks_stream *xs;
    cg_group *g;
    const cg_consumer *cons = NULL;
    pel_iter it;
    pel_entry *e;
    size_t mark;

    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
        cmd_reply_syntax(c);
        return;
    }
    /* The range arguments come first, so that their errors win. */
    if (c->argc >= 6) {
        int si = 3;
        if (cmd_arg_is(c, 3, "idle")) {
            if (cmd_get_ll_or_reply(c, 4, &minidle, NULL) < 0)
                return;
            if (c->argc < 8) {
                cmd_reply_syntax(c);
                return;
            }
            si += 2;
        }
        if (cmd_get_ll_or_reply(c, si + 2, &count, NULL) < 0)
            return;
        if (count < 0)
            count = 0;
        if (grp_parse_bound_or_reply(c, si, &start, 0) < 0 ||
            grp_parse_bound_or_reply(c, si + 1, &end, 1) < 0)
            return;
        if (si + 3 < c->argc)
            consumer_arg = si + 3;
    }
    xs = grp_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    g = grp_find(xs, c, 2);
    if (g == NULL) {
        grp_reply_nogroup(c, 1, 2, "'");
        return;
    }
    if (c->argc == 3) {
        grp_pending_summary(c, g);
        return;
    }
    if (consumer_arg) {
        cons = cg_consumer_find(g, c->argv[consumer_arg].ptr, c->argv[consumer_arg].len);
        if (cons == NULL) {
            reply_empty_array(c->r);
            return;
        }
    }
    mark = reply_defer(c->r);
    if (pel_iter_start(&it, g, cons, &start) < 0)
        runnel_panic("out of memory walking a pending-entry list");
    while (count > 0 && pel_iter_next(&it, &id, &e) && stream_id_cmp(&id, &end) <= 0) {
        int64_t idle = c->now_ms - pel_entry_delivery_ms(e);
        size_t len;
        const void *name;
        if (minidle && idle < minidle)
            continue;
        name = cg_consumer_name(pel_entry_owner(e), &len);
        reply_array(c->r, 4);
        grp_reply_id(c->r, &id);
        reply_bulk(c->r, name, len);
        reply_int(c->r, idle < 0 ? 0 : idle);
        reply_int(c->r, (long long)pel_entry_delivery_count(e));
        count--;
        n++;
    }
    pel_iter_stop(&it);
    reply_defer_array(c->r, mark, n);
}

/* ---- XCLAIM ---- */

/*
 * XCLAIM key group consumer min-idle-time id... [IDLE ms] [TIME ms-unix]
 * [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]. IDs and options are not
 * separated by a keyword: the IDs end at the first argument that does not
 * parse as one, which is then read as an option. Every option is checked
 * before anything is claimed, so the reply is all-or-nothing.
 */
static void
cmd_xclaim(cmd_ctx *c)
{
    pel_claim_opts o = {.delivery_ms = -1, .retrycount = -1};
    stream_id *ids, lastid = {0, 0};
    long long minidle, v, n = 0;
    int bad, nids = 0, j;
    ks_stream *xs = grp_lookup(c, 1, 0, &bad);
    cg_group *g;
    cg_consumer *cons;
    size_t mark;
    int raised, created;
    cmd_prop_batch batch;
    if (bad)
        return;
    /* Redis looks the group up before parsing anything else. */
    g = grp_find(xs, c, 2);
    if (g == NULL) {
        grp_reply_nogroup(c, 1, 2, "'");
        return;
    }
    if (cmd_get_ll_or_reply(c, 4, &minidle, "ERR Invalid min-idle-time argument for XCLAIM") < 0)
        return;
    o.min_idle = minidle < 0 ? 0 : minidle;
    /* IDs run up to the first argument that is not one; options follow. */
    ids = util_malloc((size_t)(c->argc - 5) * sizeof(*ids));
    for (j = 5; j < c->argc; j++) {
        if (stream_id_parse(c->argv[j].ptr, c->argv[j].len, &ids[nids], 0, 1, NULL, NULL) != 0)
            break;
        nids++;
    }
    for (; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (cmd_arg_is(c, j, "force")) {
            o.force = 1;
        } else if (cmd_arg_is(c, j, "justid")) {
            o.justid = 1;
        } else if (cmd_arg_is(c, j, "idle") && more) {
            if (cmd_get_ll_or_reply(c, ++j, &v, "ERR Invalid IDLE option argument for XCLAIM") < 0)
                goto out;
            /* Out of [0, now] means now (the engine clamps -1 as well). */
            o.delivery_ms = v < 0 || v > c->now_ms ? -1 : c->now_ms - v;
        } else if (cmd_arg_is(c, j, "time") && more) {
            if (cmd_get_ll_or_reply(c, ++j, &v, "ERR Invalid TIME option argument for XCLAIM") < 0)
                goto out;
            o.delivery_ms = v;
        } else if (cmd_arg_is(c, j, "retrycount") && more) {
            if (cmd_get_ll_or_reply(c, ++j, &v,
                                    "ERR Invalid RETRYCOUNT option argument for XCLAIM") < 0)
                goto out;
            o.retrycount = v < 0 ? -1 : v;
        } else if (cmd_arg_is(c, j, "lastid") && more) {
            if (grp_parse_strict_or_reply(c, ++j, &lastid) < 0)
                goto out;
        } else {
            grp_reply_error2(c, "ERR Unrecognized XCLAIM option '", j, "'", -1, "");
            goto out;
        }
    }
    raised = cg_group_raise_id(g, &lastid);
    if (raised)
        c->dirty++;
    created = cg_consumer_find(g, c->argv[3].ptr, c->argv[3].len) == NULL;
    cons = grp_consumer(c, g, 3);
    cg_consumer_touch(cons, c->now_ms);
    cmd_prop_batch_init(&batch);
    mark = reply_defer(c->r);
    for (int k = 0; k < nids; k++) {
        /* The state of an entry about to be dropped is recorded as it was
         * (Redis 7.0): its replay finds the entry gone and drops it too. */
        pel_entry *e = pel_find(g, &ids[k]);
        cg_consumer *owner = e ? pel_entry_owner(e) : NULL;
        int64_t old_ms = e ? pel_entry_delivery_ms(e) : 0;
        uint64_t old_count = e ? pel_entry_delivery_count(e) : 0;
        int rc = pel_claim(xs->log, g, cons, &ids[k], &o, c->now_ms);
        if (rc == -ENOMEM)
            runnel_panic("out of memory claiming a pending entry");
        if (rc == PEL_CLAIM_DROPPED && owner != NULL) {
            stream_id last = cg_group_last_id(g);
            const void *name;
            size_t len;
            name = cg_consumer_name(owner, &len);
            grp_prop_xclaim(&batch, c, 1, 2, name, len, &ids[k], old_ms, old_count, &last);
        }
        if (rc == PEL_CLAIM_DROPPED)
            c->dirty++;
        if (rc != PEL_CLAIM_CLAIMED)
            continue;
        grp_prop_pending(&batch, c, 1, 2, g, &ids[k]);
        if (o.justid)
            grp_reply_id(c->r, &ids[k]);
        else
            grp_reply_entry(c->r, xs->log, &ids[k]);
        c->dirty++;
        n++;
    }
    reply_defer_array(c->r, mark, n);
    /* A consumer no XCLAIM above recreates is recorded on its own. */
    if (created && n == 0)
        grp_prop_createconsumer(&batch, c, 1, 2, 3);
    if (raised)
        grp_prop_setid(&batch, c, 1, 2, g);
    cmd_prop_batch_flush(c, &batch);
out:
    util_free(ids);
}

/* ---- XAUTOCLAIM ---- */

/* A pending entry whose stream entry is gone, as it was before XAUTOCLAIM
 * dropped it. */
typedef struct grp_gone_entry {
    stream_id id;       /* the entry */
    cg_consumer *owner; /* its owner (stays: only the entry is dropped) */
    int64_t ms;         /* delivery time, ms since epoch */
    uint64_t count;     /* delivery count */
} grp_gone_entry;

typedef struct grp_gone {
    grp_gone_entry *v; /* owned, in PEL order */
    size_t n;          /* entries */
} grp_gone;

/* Collects the state of the pending entries of g from *start whose stream
 * entry is gone, over the part of the PEL that pel_autoclaim may visit
 * (10 * count entries), so the drops can be recorded as they were.
 * O(10 * count * log N). */
static void
grp_gone_collect(grp_gone *gone, stream *s, const cg_group *g, const stream_id *start,
                 uint64_t count)
{
    pel_iter it;
    stream_id id;
    pel_entry *e;
    uint64_t budget = count > UINT64_MAX / 10 ? UINT64_MAX : count * 10, seen = 0;
    size_t cap = 0;
    gone->v = NULL;
    gone->n = 0;
    if (pel_iter_start(&it, g, NULL, start) < 0)
        runnel_panic("out of memory walking pending entries");
    while (seen < budget && pel_iter_next(&it, &id, &e)) {
        seen++;
        if (pel_stream_has(s, &id))
            continue;
        if (gone->n == cap) {
            cap = cap ? cap * 2 : 8;
            gone->v = util_realloc(gone->v, cap * sizeof(*gone->v));
        }
        gone->v[gone->n++] = (grp_gone_entry){id, pel_entry_owner(e), pel_entry_delivery_ms(e),
                                              pel_entry_delivery_count(e)};
    }
    pel_iter_stop(&it);
}

/* Records an XAUTOCLAIM: the XCLAIM of each claimed entry as it is now and
 * of each dropped one as it was, in PEL order as Redis 7.0 does, and the
 * consumer when it was created and claimed nothing. */
static void
grp_autoclaim_propagate(cmd_ctx *c, const cg_group *g, const grp_gone *gone,
                        const stream_id *claimed, size_t nclaimed, const stream_id *deleted,
                        size_t ndeleted, int created)
{
    cmd_prop_batch b;
    stream_id last = cg_group_last_id(g);
    size_t i = 0, j = 0, k = 0;
    cmd_prop_batch_init(&b);
    /* Merge the two ID lists, both ascending, into PEL order. */
    while (i < nclaimed || j < ndeleted) {
        if (j >= ndeleted || (i < nclaimed && stream_id_cmp(&claimed[i], &deleted[j]) < 0)) {
            grp_prop_pending(&b, c, 1, 2, g, &claimed[i++]);
            continue;
        }
        while (k < gone->n && stream_id_cmp(&gone->v[k].id, &deleted[j]) < 0)
            k++;
        if (k < gone->n && stream_id_cmp(&gone->v[k].id, &deleted[j]) == 0) {
            const void *name;
            size_t len;
            name = cg_consumer_name(gone->v[k].owner, &len);
            grp_prop_xclaim(&b, c, 1, 2, name, len, &deleted[j], gone->v[k].ms, gone->v[k].count,
                            &last);
        }
        j++;
    }
    if (created && nclaimed == 0)
        grp_prop_createconsumer(&b, c, 1, 2, 3);
    cmd_prop_batch_flush(c, &b);
}

/* XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID]:
 * [next start, claimed entries (or IDs), IDs dropped because deleted].
 * Here, unlike XCLAIM, the arguments are checked before the key, and a bad
 * COUNT of any kind gets the one "COUNT must be > 0" message. */
static void
cmd_xautoclaim(cmd_ctx *c)
{
    long long minidle, count = 100;
    stream_id start, next, *claimed, *deleted;
    size_t nclaimed, ndeleted, cap;
    int justid = 0, bad, rc;
    ks_stream *xs;
    cg_group *g;
    cg_consumer *cons;
    grp_gone gone;
    int created;

    if (cmd_get_ll_or_reply(c, 4, &minidle, "ERR Invalid min-idle-time argument for XAUTOCLAIM") <
        0)
        return;
    if (minidle < 0)
        minidle = 0;
    if (grp_parse_bound_or_reply(c, 5, &start, 0) < 0)
        return;
    for (int j = 6; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (cmd_arg_is(c, j, "count") && more) {
            if (!util_str2ll(c->argv[j + 1].ptr, c->argv[j + 1].len, &count) || count < 1 ||
                count > GRP_AUTOCLAIM_COUNT_MAX) {
                reply_error(c->r, "ERR COUNT must be > 0");
                return;
            }
            j++;
        } else if (cmd_arg_is(c, j, "justid")) {
            justid = 1;
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }
    xs = grp_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    g = grp_find(xs, c, 2);
    if (g == NULL) {
        grp_reply_nogroup(c, 1, 2, "'");
        return;
    }
    if (count > GRP_AUTOCLAIM_COUNT_NOMEM) {
        reply_error(c->r,
                    "ERR Insufficient memory, failed allocating transient memory, COUNT too high.");
        return;
    }
    created = cg_consumer_find(g, c->argv[3].ptr, c->argv[3].len) == NULL;
    cons = grp_consumer(c, g, 3);
    cg_consumer_touch(cons, c->now_ms);
    /* Claimed plus dropped never exceed COUNT nor the PEL's size. */
    cap = (size_t)count;
    if (cap > cg_group_pending_count(g))
        cap = (size_t)cg_group_pending_count(g);
    claimed = util_malloc((cap ? cap : 1) * sizeof(*claimed));
    deleted = util_malloc((cap ? cap : 1) * sizeof(*deleted));
    grp_gone_collect(&gone, xs->log, g, &start, (uint64_t)count);
    rc = pel_autoclaim(xs->log, g, cons, &start, minidle, (uint64_t)count, justid, c->now_ms,
                       claimed, &nclaimed, deleted, &ndeleted, &next);
    if (rc < 0)
        runnel_panic("out of memory claiming pending entries");
    c->dirty += (long long)(nclaimed + ndeleted);
    grp_autoclaim_propagate(c, g, &gone, claimed, nclaimed, deleted, ndeleted, created);
    reply_array(c->r, 3);
    grp_reply_id(c->r, &next);
    reply_array(c->r, (long long)nclaimed);
    for (size_t k = 0; k < nclaimed; k++) {
        if (justid)
            grp_reply_id(c->r, &claimed[k]);
        else
            grp_reply_entry(c->r, xs->log, &claimed[k]);
    }
    reply_array(c->r, (long long)ndeleted);
    for (size_t k = 0; k < ndeleted; k++)
        grp_reply_id(c->r, &deleted[k]);
    util_free(claimed);
    util_free(deleted);
    util_free(gone.v);
}

/* ---- Command table ---- */

#define GRP_KEY(fl, at)                                                                            \
    {                                                                                              \
        {                                                                                          \
            .flags = (fl), .begin = (at), .keystep = 1                                             \
        }                                                                                          \
    }

/* Flags, ACL categories, key specs, tips and docs as redis-server 7.0's
 * COMMAND INFO and COMMAND DOCS give them (@read/@write, @fast/@slow and
 * @blocking follow from the flags). Subcommands are listed in the order one
 * Redis build printed them; Redis itself walks a hash table there. */
static cmd_def cmd_xgroup_subs[] = {
    {"create", cmd_xgroup_create, -5, CMD_WRITE | CMD_DENYOOM, ACL_STREAM, 2, 2, 1,
     "Create a consumer group.", "5.0.0", "stream", "O(1)", NULL, GRP_KEY("RW insert", 2)},
    {"setid", cmd_xgroup_setid, -5, CMD_WRITE, ACL_STREAM, 2, 2, 1,
     "Set a consumer group to an arbitrary last delivered ID value.", "5.0.0", "stream", "O(1)",
     NULL, GRP_KEY("RW update", 2)},
    {"delconsumer", cmd_xgroup_delconsumer, 5, CMD_WRITE, ACL_STREAM, 2, 2, 1,
     "Delete a consumer from a consumer group.", "5.0.0", "stream", "O(1)", NULL,
     GRP_KEY("RW delete", 2)},
    {"destroy", cmd_xgroup_destroy, 4, CMD_WRITE, ACL_STREAM, 2, 2, 1, "Destroy a consumer group.",
     "5.0.0", "stream",
     "O(N) where N is the number of entries in the group's pending entries list (PEL).", NULL,
     GRP_KEY("RW delete", 2)},
    {"help", cmd_xgroup_help, 2, CMD_LOADING | CMD_STALE, ACL_STREAM, 0, 0, 0,
     "Show helpful text about the different subcommands", "5.0.0", "stream", "O(1)"},
    {"createconsumer", cmd_xgroup_createconsumer, 5, CMD_WRITE | CMD_DENYOOM, ACL_STREAM, 2, 2, 1,
     "Create a consumer in a consumer group.", "6.2.0", "stream", "O(1)", NULL,
     GRP_KEY("RW insert", 2)},
    {0},
};

cmd_def cmd_group_defs[] = {
    {"xgroup", NULL, -2, 0, 0, 0, 0, 0, "A container for consumer groups commands", "5.0.0",
     "stream", "Depends on subcommand.", cmd_xgroup_subs},
    {"xreadgroup",
     cmd_xreadgroup,
     -7,
     CMD_WRITE | CMD_BLOCKING | CMD_MOVABLE_KEYS,
     ACL_STREAM,
     0,
     0,
     0,
     "Return new entries from a stream using a consumer group, or access the history of the "
     "pending entries for a given consumer. Can block.",
     "5.0.0",
     "stream",
     "For each stream mentioned: O(M) with M being the number of elements returned. If M is "
     "constant (e.g. always asking for the first 10 elements with COUNT), you can consider it "
     "O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to "
     "serve the N clients blocked on the stream getting new data.",
     NULL,
     {{.flags = "RO access",
       .keyword = "STREAMS",
       .startfrom = 4,
       .lastkey = -1,
       .keystep = 1,
       .limit = 2}}},
    {"xack", cmd_xack, -4, CMD_WRITE | CMD_FAST, ACL_STREAM, 1, 1, 1,
     "Marks a pending message as correctly processed, effectively removing it from the pending "
     "entries list of the consumer group. Return value of the command is the number of messages "
     "successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
     "5.0.0", "stream", "O(1) for each message ID processed.", NULL, GRP_KEY("RW update", 1)},
    {"xpending", cmd_xpending, -3, CMD_READONLY, ACL_STREAM, 1, 1, 1,
     "Return information and entries from a stream consumer group pending entries list, that "
     "are messages fetched but never acknowledged.",
     "5.0.0", "stream",
     "O(N) with N being the number of elements returned, so asking for a small fixed number of "
     "entries per call is O(1). O(M), where M is the total number of entries scanned when used "
     "with the IDLE filter. When the command returns just the summary and the list of consumers "
     "is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every "
     "consumer.",
     NULL, GRP_KEY("RO access", 1), "nondeterministic_output"},
    {"xclaim", cmd_xclaim, -6, CMD_WRITE | CMD_FAST, ACL_STREAM, 1, 1, 1,
     "Changes (or acquires) ownership of a message in a consumer group, as if the message was "
     "delivered to the specified consumer.",
     "5.0.0", "stream",
     "O(log N) with N being the number of messages in the PEL of the consumer group.", NULL,
     GRP_KEY("RW update", 1), "nondeterministic_output"},
    {"xautoclaim", cmd_xautoclaim, -6, CMD_WRITE | CMD_FAST, ACL_STREAM, 1, 1, 1,
     "Changes (or acquires) ownership of messages in a consumer group, as if the messages were "
     "delivered to the specified consumer.",
     "6.2.0", "stream", "O(1) if COUNT is small.", NULL, GRP_KEY("RW delete", 1),
     "nondeterministic_output"},
    {0},
};
