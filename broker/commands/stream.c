/*
 * broker/commands/stream: the stream commands: XADD, XRANGE, XREVRANGE,
 * XLEN, XDEL, XTRIM, XREAD, XSETID, XINFO STREAM/GROUPS/CONSUMERS/HELP
 * (consumer groups themselves: group.c).
 *
 * Handlers parse and validate every argument in Redis's order (so the
 * first error Redis would report is the one reported), then call the
 * stream engine in streams/, then reply. XREAD BLOCK hands the command,
 * with "$" resolved to the stream's last ID, to the server's blocking
 * mechanism, which runs it again when one of its keys changes.
 *
 * Propagation, as Redis 7.0: XADD is recorded with the ID it generated
 * (for "*" and "<ms>-*"), and XADD/XTRIM with "~" as the exact trim they
 * did ("= <length>" for MAXLEN, "= <first ID>" for MINID), so a replay
 * rebuilds the same entries whatever the node sizes are then.
 *
 * Hot path: XADD (one lookup, one append) and XRANGE/XREAD (one seek,
 * then a linear walk of the blocks).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker/commands/families.h"
#include "broker/config/config.h"
#include "broker/keyspace/streamobj.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"
#include "consumers/cg.h"
#include "consumers/pel.h"
#include "streams/stream.h"

#define XERR_INVALID_ID "ERR Invalid stream ID specified as stream command argument"

/* Parsed trimming options shared by XADD and XTRIM. */
typedef struct xtrim_args {
    int strategy;     /* 0, STREAM_TRIM_MAXLEN or STREAM_TRIM_MINID */
    int approx;       /* 1 for "~" */
    long long maxlen; /* MAXLEN threshold */
    stream_id minid;  /* MINID threshold */
    long long limit;  /* LIMIT, or the default Redis picks */
    int nomkstream;   /* XADD NOMKSTREAM */
    int id_given;     /* XADD: an explicit ID (not "*") */
    int seq_auto;     /* XADD: "<ms>-*" */
    stream_id id;     /* XADD: the explicit ID */
    int approx_i;     /* argv index of "~" (0 without it) */
    int thresh_i;     /* argv index of the MAXLEN/MINID threshold */
} xtrim_args;

/* Returns the stream value under argv[i] (NULL when missing), or replies
 * WRONGTYPE and sets *bad. */
static ks_stream *
xs_lookup_value(cmd_ctx *c, int i, int write, int *bad)
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

/* As xs_lookup_value, for the stream log alone. */
static stream *
xs_lookup(cmd_ctx *c, int i, int write, int *bad)
{
    ks_stream *xs = xs_lookup_value(c, i, write, bad);
    return xs ? xs->log : NULL;
}

/* Parses argv[i] as a strict ID ("-" and "+" refused). */
static int
xs_parse_strict_or_reply(cmd_ctx *c, int i, stream_id *id, int *seq_auto)
{
    if (stream_id_parse(c->argv[i].ptr, c->argv[i].len, id, 0, 1, NULL, seq_auto) != 0) {
        reply_error(c->r, XERR_INVALID_ID);
        return -1;
    }
    return 0;
}

/* Parses a range bound: "-", "+", an incomplete ID (seq 0 for a start,
 * the maximum for an end), or "(" followed by a strict ID for an exclusive
 * bound. */
static int
xs_parse_bound_or_reply(cmd_ctx *c, int i, stream_id *id, int is_end)
{
    const resp_arg *a = &c->argv[i];
    if (a->len > 1 && a->ptr[0] == '(') {
        if (stream_id_parse(a->ptr + 1, a->len - 1, id, is_end ? UINT64_MAX : 0, 1, NULL, NULL) !=
            0) {
            reply_error(c->r, XERR_INVALID_ID);
            return -1;
        }
        if ((is_end ? stream_id_decr(id) : stream_id_incr(id)) != 0) {
            reply_error(c->r, is_end ? "ERR invalid end ID for the interval"
                                     : "ERR invalid start ID for the interval");
            return -1;
        }
        return 0;
    }
    if (stream_id_parse(a->ptr, a->len, id, is_end ? UINT64_MAX : 0, 0, NULL, NULL) != 0) {
        reply_error(c->r, XERR_INVALID_ID);
        return -1;
    }
    return 0;
}

/* 1 when argv[i] is exactly the one-byte string s. */
static int
xs_arg_char(const cmd_ctx *c, int i, char ch)
{
    return c->argv[i].len == 1 && c->argv[i].ptr[0] == ch;
}

/* Parses the XADD/XTRIM options from argv[2] on, as Redis's
 * streamParseAddOrTrimArgsOrReply does. Returns the index where it stopped
 * (XADD: the ID), or -1 after replying an error. */
static int
xs_parse_trim_or_reply(cmd_ctx *c, xtrim_args *a, int xadd)
{
    int i = 2, limit_given = 0;
    *a = (xtrim_args){0};
    for (; i < c->argc; i++) {
        int more = c->argc - 1 - i;
        if (xadd && xs_arg_char(c, i, '*'))
            break;
        if ((cmd_arg_is(c, i, "maxlen") || cmd_arg_is(c, i, "minid")) && more) {
            int maxlen = cmd_arg_is(c, i, "maxlen");
            if (a->strategy) {
                reply_error(c->r, "ERR syntax error, MAXLEN and MINID options at the same time "
                                  "are not compatible");
                return -1;
            }
            a->approx = 0;
            a->approx_i = 0;
            if (more >= 2 && xs_arg_char(c, i + 1, '~')) {
                a->approx = 1;
                a->approx_i = i + 1;
                i++;
            } else if (more >= 2 && xs_arg_char(c, i + 1, '=')) {
                i++;
            }
            a->thresh_i = i + 1;
            if (maxlen) {
                if (cmd_get_ll_or_reply(c, i + 1, &a->maxlen, NULL) < 0)
                    return -1;
                if (a->maxlen < 0) {
                    reply_error(c->r, "ERR The MAXLEN argument must be >= 0.");
                    return -1;
                }
                a->strategy = STREAM_TRIM_MAXLEN;
            } else {
                if (xs_parse_strict_or_reply(c, i + 1, &a->minid, NULL) < 0)
                    return -1;
                a->strategy = STREAM_TRIM_MINID;
            }
            i++;
        } else if (cmd_arg_is(c, i, "limit") && more) {
            if (cmd_get_ll_or_reply(c, i + 1, &a->limit, NULL) < 0)
                return -1;
            if (a->limit < 0) {
                reply_error(c->r, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = 1;
            i++;
        } else if (xadd && cmd_arg_is(c, i, "nomkstream")) {
            a->nomkstream = 1;
        } else if (xadd) {
            if (xs_parse_strict_or_reply(c, i, &a->id, &a->seq_auto) < 0)
                return -1;
            a->id_given = 1;
            break;
        } else {
            cmd_reply_syntax(c);
            return -1;
        }
    }
    /* Redis tests the LIMIT value here, so "LIMIT 0" alone passes. */
    if (a->limit && !a->strategy) {
        reply_error(
            c->r, "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return -1;
    }
    if (!xadd && !a->strategy) {
        reply_error(c->r, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (!limit_given) {
        if (a->approx) {
            a->limit = 100 * config.stream_node_max_entries;
            if (a->limit <= 0)
                a->limit = 10000;
            if (a->limit > 1000000)
                a->limit = 1000000;
        } else {
            a->limit = 0;
        }
    } else if (!a->approx && c->sess && c->sess->id == CMD_SESS_LOADER_ID) {
        /* The log records an approximate trim as the exact one it did and
         * keeps its LIMIT (Redis 7.0), which then means nothing. */
        a->limit = 0;
    } else if (!a->approx) {
        /* Even "LIMIT 0" is refused with exact trimming, as Redis does. */
        reply_error(c->r, "ERR syntax error, LIMIT cannot be used without the special ~ option");
        return -1;
    }
    return i;
}

static int64_t
xs_trim(stream *s, const xtrim_args *a)
{
    return stream_trim(s, a->strategy, (uint64_t)a->maxlen, &a->minid, a->approx, a->limit);
}

/*
 * Records XADD or XTRIM with the arguments that would not replay the same
 * rewritten: "~" becomes "=" with the stream's length (MAXLEN) or first ID
 * (MINID; the largest ID when the stream is empty, as Redis 7.0 writes it)
 * as threshold, and, when id_i > 0, argv[id_i] becomes *id. The argv copy
 * is the only allocation. O(argc).
 */
static void
xs_propagate(cmd_ctx *c, const xtrim_args *a, stream *s, int id_i, const stream_id *id)
{
    resp_arg *argv = util_malloc((size_t)c->argc * sizeof(*argv));
    char thresh[STREAM_ID_STR_MAX], idbuf[STREAM_ID_STR_MAX];
    memcpy(argv, c->argv, (size_t)c->argc * sizeof(*argv));
    if (a->approx) {
        argv[a->approx_i].ptr = "=";
        argv[a->approx_i].len = 1;
        if (a->strategy == STREAM_TRIM_MAXLEN) {
            argv[a->thresh_i].len = util_ull2str(thresh, stream_len(s));
        } else {
            stream_id first = {UINT64_MAX, UINT64_MAX};
            stream_first_entry(s, &first);
            argv[a->thresh_i].len = stream_id_fmt(thresh, &first);
        }
        argv[a->thresh_i].ptr = thresh;
    }
    if (id_i > 0) {
        argv[id_i].len = stream_id_fmt(idbuf, id);
        argv[id_i].ptr = idbuf;
    }
    cmd_propagate(c, c->argc, argv);
    util_free(argv);
}

static ks_obj *
xs_obj_new(void)
{
    ks_obj *o = util_calloc(1, sizeof(*o));
    o->type = KS_STREAM;
    o->enc = KS_ENC_STREAM;
    o->lru = ks_clock_sec;
    o->ptr = (char *)ks_stream_new();
    return o;
}

static void
xs_reply_id(reply *r, const stream_id *id)
{
    char buf[STREAM_ID_STR_MAX];
    size_t n = stream_id_fmt(buf, id);
    reply_bulk(r, buf, n);
}

/* Replies the entry the iterator is on: [id, [field, value, ...]]. */
static void
xs_reply_entry(reply *r, stream_iter *it, const stream_id *id, size_t npairs)
{
    stream_field f, v;
    reply_array(r, 2);
    xs_reply_id(r, id);
    reply_array(r, (long long)npairs * 2);
    while (stream_iter_field(it, &f, &v)) {
        reply_bulk(r, f.ptr, f.len);
        reply_bulk(r, v.ptr, v.len);
    }
}

/* Replies the entries of [start, end] (reverse when rev), at most count
 * (count < 0: all) as an array. Returns the entries sent. */
static long long
xs_reply_range(reply *r, stream *s, const stream_id *start, const stream_id *end, long long count,
               int rev)
{
    stream_iter it;
    stream_id id;
    size_t npairs;
    long long n = 0;
    size_t mark = reply_defer(r);
    stream_iter_start(&it, s, start, end, rev);
    while ((count < 0 || n < count) && stream_iter_next(&it, &id, &npairs)) {
        xs_reply_entry(r, &it, &id, npairs);
        n++;
    }
    stream_iter_stop(&it);
    reply_defer_array(r, mark, n);
    return n;
}

static void
cmd_xadd(cmd_ctx *c)
{
    xtrim_args a;
    int i = xs_parse_trim_or_reply(c, &a, 1), bad, rc, mode;
    int field_pos;
    stream *s;
    stream_id id;
    ks_obj *o;
    size_t npairs;
    stream_field *fv;
    if (i < 0)
        return;
    field_pos = i + 1;
    if (c->argc - field_pos < 2 || (c->argc - field_pos) % 2 == 1) {
        reply_error(c->r, "ERR wrong number of arguments for 'xadd' command");
        return;
    }
    if (a.id_given && !a.seq_auto && a.id.ms == 0 && a.id.seq == 0) {
        reply_error(c->r, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    s = xs_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (s == NULL) {
        if (a.nomkstream) {
            reply_null(c->r);
            return;
        }
        o = xs_obj_new();
        ks_add(c->db, c->argv[1].ptr, c->argv[1].len, o);
        s = ((ks_stream *)o->ptr)->log;
    }
    id = stream_last_id(s);
    if (id.ms == UINT64_MAX && id.seq == UINT64_MAX) {
        reply_error(c->r, "ERR The stream has exhausted the last possible ID, unable to add more "
                          "items");
        return;
    }
    npairs = (size_t)(c->argc - field_pos) / 2;
    fv = util_malloc(npairs * 2 * sizeof(*fv));
    for (size_t k = 0; k < npairs * 2; k++) {
        fv[k].ptr = c->argv[field_pos + (int)k].ptr;
        fv[k].len = c->argv[field_pos + (int)k].len;
    }
    mode = !a.id_given ? STREAM_ID_AUTO : a.seq_auto ? STREAM_ID_AUTO_SEQ : STREAM_ID_EXPLICIT;
    rc = stream_append(s, mode, &a.id, fv, npairs, (uint64_t)c->now_ms,
                       (size_t)config.stream_node_max_bytes, (size_t)config.stream_node_max_entries,
                       &id);
    util_free(fv);
    if (rc == -ENOMEM)
        runnel_panic("out of memory appending to a stream");
    if (rc == -EDOM || rc == -ERANGE) {
        reply_error(c->r, "ERR The ID specified in XADD is equal or smaller than the target "
                          "stream top item");
        return;
    }
    if (rc != 0) {
        reply_error(c->r, "ERR Elements are too large to be stored");
        return;
    }
    xs_reply_id(c->r, &id);
    if (c->host && c->host->entry_added)
        c->host->entry_added(c, c->argv[1].ptr, c->argv[1].len, id.ms, id.seq, c->argc - field_pos,
                             c->argv + field_pos);
    cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    cmd_notify(c, NOTIFY_STREAM, "xadd", c->argv[1].ptr, c->argv[1].len);
    if (a.strategy && xs_trim(s, &a) > 0)
        cmd_notify(c, NOTIFY_STREAM, "xtrim", c->argv[1].ptr, c->argv[1].len);
    if (a.approx || !a.id_given || a.seq_auto)
        xs_propagate(c, &a, s, !a.id_given || a.seq_auto ? i : 0, &id);
}

/* XRANGE and XREVRANGE: argv[2] and argv[3] are start and end (end and
 * start for XREVRANGE). */
static void
xs_range(cmd_ctx *c, int rev)
{
    stream_id start, end;
    long long count = -1;
    stream *s;
    int bad;
    if (xs_parse_bound_or_reply(c, rev ? 3 : 2, &start, 0) < 0 ||
        xs_parse_bound_or_reply(c, rev ? 2 : 3, &end, 1) < 0)
        return;
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (cmd_arg_is(c, j, "count") && more >= 1) {
            if (cmd_get_ll_or_reply(c, j + 1, &count, NULL) < 0)
                return;
            if (count < 0)
                count = 0;
            j++;
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }
    if (count == 0) {
        reply_null_array(c->r); /* Redis answers COUNT 0 with a null array */
        return;
    }
    s = xs_lookup(c, 1, 0, &bad);
    if (bad)
        return;
    if (s == NULL) {
        reply_empty_array(c->r);
        return;
    }
    xs_reply_range(c->r, s, &start, &end, count, rev);
}

static void
cmd_xrange(cmd_ctx *c)
{
    xs_range(c, 0);
}

static void
cmd_xrevrange(cmd_ctx *c)
{
    xs_range(c, 1);
}

static void
cmd_xlen(cmd_ctx *c)
{
    int bad;
    stream *s = xs_lookup(c, 1, 0, &bad);
    if (!bad)
        reply_int(c->r, s ? (long long)stream_len(s) : 0);
}

static void
cmd_xdel(cmd_ctx *c)
{
    int bad;
    long long deleted = 0;
    stream *s = xs_lookup(c, 1, 1, &bad);
    stream_id *ids;
    if (bad)
        return;
    if (s == NULL) {
        reply_int(c->r, 0);
        return;
    }
    /* Every ID is checked before any is deleted. */
    ids = util_malloc((size_t)(c->argc - 2) * sizeof(*ids));
    for (int j = 2; j < c->argc; j++) {
        if (xs_parse_strict_or_reply(c, j, &ids[j - 2], NULL) < 0) {
            util_free(ids);
            return;
        }
    }
    for (int j = 2; j < c->argc; j++)
        deleted += stream_delete(s, &ids[j - 2]);
    util_free(ids);
    if (deleted) {
        cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
        cmd_notify(c, NOTIFY_STREAM, "xdel", c->argv[1].ptr, c->argv[1].len);
        c->dirty += deleted - 1;
    }
    reply_int(c->r, deleted);
}

static void
cmd_xtrim(cmd_ctx *c)
{
    xtrim_args a;
    int bad;
    int64_t deleted;
    stream *s;
    if (xs_parse_trim_or_reply(c, &a, 0) < 0)
        return;
    s = xs_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (s == NULL) {
        reply_int(c->r, 0);
        return;
    }
    deleted = xs_trim(s, &a);
    if (deleted) {
        cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
        cmd_notify(c, NOTIFY_STREAM, "xtrim", c->argv[1].ptr, c->argv[1].len);
        c->dirty += deleted - 1;
        if (a.approx)
            xs_propagate(c, &a, s, 0, NULL);
    }
    reply_int(c->r, deleted);
}

static void
cmd_xsetid(cmd_ctx *c)
{
    stream_id id, maxdel = {0, 0}, top;
    long long added = -1;
    int bad;
    stream *s;
    if (xs_parse_strict_or_reply(c, 2, &id, NULL) < 0)
        return;
    for (int i = 3; i < c->argc; i += 2) {
        int more = c->argc - 1 - i;
        if (cmd_arg_is(c, i, "entriesadded") && more) {
            if (cmd_get_ll_or_reply(c, i + 1, &added, NULL) < 0)
                return;
            if (added < 0) {
                reply_error(c->r, "ERR entries_added must be positive");
                return;
            }
        } else if (cmd_arg_is(c, i, "maxdeletedid") && more) {
            if (xs_parse_strict_or_reply(c, i + 1, &maxdel, NULL) < 0)
                return;
            if (stream_id_cmp(&id, &maxdel) < 0) {
                reply_error(c->r, "ERR The ID specified in XSETID is smaller than the provided "
                                  "max_deleted_entry_id");
                return;
            }
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }
    s = xs_lookup(c, 1, 1, &bad);
    if (bad)
        return;
    if (s == NULL) {
        reply_error(c->r, "ERR no such key");
        return;
    }
    top = stream_max_deleted_id(s);
    if (stream_id_cmp(&id, &top) < 0) {
        reply_error(c->r,
                    "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id");
        return;
    }
    if (stream_len(s) > 0) {
        stream_last_entry(s, &top);
        if (stream_id_cmp(&id, &top) < 0) {
            reply_error(
                c->r, "ERR The ID specified in XSETID is smaller than the target stream top item");
            return;
        }
        if (added != -1 && stream_len(s) > (uint64_t)added) {
            reply_error(c->r, "ERR The entries_added specified in XSETID is smaller than the "
                              "target stream length");
            return;
        }
    }
    stream_set_last_id(s, &id);
    if (added != -1)
        stream_set_entries_added(s, (uint64_t)added);
    if (maxdel.ms || maxdel.seq)
        stream_set_max_deleted_id(s, &maxdel);
    cmd_key_changed(c, c->argv[1].ptr, c->argv[1].len);
    reply_ok(c->r);
    cmd_notify(c, NOTIFY_STREAM, "xsetid", c->argv[1].ptr, c->argv[1].len);
}

/* XREAD [COUNT n] [BLOCK ms] STREAMS key... id... */
static void
cmd_xread(cmd_ctx *c)
{
    long long count = 0, timeout = -1;
    int streams_arg = 0, nstreams = 0, bad;
    stream_id *ids;
    char(*resolved)[STREAM_ID_STR_MAX];
    long long served = 0;
    size_t mark;

    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (cmd_arg_is(c, i, "block") && more) {
            /* Nothing may wait inside a script (Redis refuses at BLOCK). */
            if (c->sess->flags & SESS_SCRIPT) {
                reply_error(c->r,
                            "ERR XREAD command is not allowed with BLOCK option from scripts");
                return;
            }
            i++;
            if (cmd_get_ll_or_reply(c, i, &timeout,
                                    "ERR timeout is not an integer or out of range") < 0)
                return;
            if (timeout < 0) {
                reply_error(c->r, "ERR timeout is negative");
                return;
            }
        } else if (cmd_arg_is(c, i, "count") && more) {
            i++;
            if (cmd_get_ll_or_reply(c, i, &count, NULL) < 0)
                return;
            if (count < 0)
                count = 0;
        } else if (cmd_arg_is(c, i, "group") && more >= 2) {
            reply_error(c->r, "ERR The GROUP option is only supported by XREADGROUP. You called "
                              "XREAD instead.");
            return;
        } else if (cmd_arg_is(c, i, "noack")) {
            reply_error(c->r, "ERR The NOACK option is only supported by XREADGROUP. You called "
                              "XREAD instead.");
            return;
        } else if (cmd_arg_is(c, i, "streams") && more) {
            streams_arg = i + 1;
            nstreams = c->argc - streams_arg;
            if (nstreams % 2 != 0) {
                reply_error(c->r, "ERR Unbalanced XREAD list of streams: for each stream key an "
                                  "ID or '$' must be specified.");
                return;
            }
            nstreams /= 2;
            break;
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }
    if (streams_arg == 0) {
        cmd_reply_syntax(c);
        return;
    }

    /* Resolve every ID ("$" is the last ID now), checking types first. */
    ids = util_malloc((size_t)nstreams * sizeof(*ids));
    resolved = util_calloc((size_t)nstreams, sizeof(*resolved));
    for (int k = 0; k < nstreams; k++) {
        int ai = streams_arg + nstreams + k;
        stream *s = xs_lookup(c, streams_arg + k, 0, &bad);
        if (bad)
            goto out;
        if (xs_arg_char(c, ai, '$')) {
            ids[k] = s ? stream_last_id(s) : (stream_id){0, 0};
            stream_id_fmt(resolved[k], &ids[k]);
        } else if (xs_arg_char(c, ai, '>')) {
            reply_error(c->r, "ERR The > ID can be specified only when calling XREADGROUP using "
                              "the GROUP <group> <consumer> option.");
            goto out;
        } else if (xs_arg_char(c, ai, '+')) {
            /* Redis 7.4: "+" reads the last entry, if there is one. */
            stream_id last;
            if (s && stream_last_entry(s, &last)) {
                ids[k] = last;
                if (stream_id_decr(&ids[k]) != 0)
                    ids[k] = last; /* 0-0 cannot be an entry */
            } else {
                ids[k] = s ? stream_last_id(s) : (stream_id){0, 0};
            }
            stream_id_fmt(resolved[k], &ids[k]);
        } else if (xs_parse_strict_or_reply(c, ai, &ids[k], NULL) < 0) {
            goto out;
        }
    }

    /* Serve at once every stream with an entry after its ID. */
    mark = reply_defer(c->r);
    for (int k = 0; k < nstreams; k++) {
        stream *s = xs_lookup(c, streams_arg + k, 0, &bad);
        stream_id last, start, end = {UINT64_MAX, UINT64_MAX};
        if (s == NULL || !stream_last_entry(s, &last) || stream_id_cmp(&last, &ids[k]) <= 0)
            continue;
        start = ids[k];
        stream_id_incr(&start);
        if (c->r->resp < 3)
            reply_array(c->r, 2);
        reply_bulk(c->r, c->argv[streams_arg + k].ptr, c->argv[streams_arg + k].len);
        xs_reply_range(c->r, s, &start, &end, count ? count : -1, 0);
        served++;
    }
    if (served) {
        if (c->r->resp >= 3)
            reply_defer_map(c->r, mark, served);
        else
            reply_defer_array(c->r, mark, served);
        goto out;
    }
    if (timeout >= 0) {
        /* Block with "$" and "+" replaced by the IDs they meant now, so a
         * re-run serves exactly what was appended while waiting. */
        resp_arg *argv = util_malloc((size_t)c->argc * sizeof(*argv));
        int *keys = util_malloc((size_t)nstreams * sizeof(*keys));
        int rc;
        memcpy(argv, c->argv, (size_t)c->argc * sizeof(*argv));
        for (int k = 0; k < nstreams; k++) {
            if (resolved[k][0]) {
                argv[streams_arg + nstreams + k].ptr = resolved[k];
                argv[streams_arg + nstreams + k].len = strlen(resolved[k]);
            }
            keys[k] = streams_arg + k;
        }
        rc = c->host->block(c, c->argc, argv, keys, nstreams, timeout ? c->now_ms + timeout : 0, 0);
        util_free(argv);
        util_free(keys);
        if (rc == 0)
            goto out;
    }
    reply_null_array(c->r);
out:
    util_free(ids);
    util_free(resolved);
}

/* "ERR unknown subcommand or wrong number of arguments for '<argv[1]>'"
 * for bad options of an XINFO subcommand, as Redis words it. */
static void
xs_reply_sub_syntax(cmd_ctx *c)
{
    const resp_arg *a = &c->argv[1];
    const char *nul = memchr(a->ptr, '\0', a->len);
    size_t n = nul ? (size_t)(nul - a->ptr) : a->len;
    reply_errorf(c->r,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try XINFO HELP.",
                 (int)(n < 128 ? n : 128), a->ptr);
}

/* "NOGROUP No such consumer group '<argv[g]>' for key name '<argv[k]>'",
 * names cut at a NUL byte as Redis's %s does, of any length. */
static void
xs_reply_nogroup(cmd_ctx *c, int g, int k)
{
    static const char p1[] = "NOGROUP No such consumer group '", p2[] = "' for key name '";
    size_t gl = strnlen(c->argv[g].ptr, c->argv[g].len);
    size_t kl = strnlen(c->argv[k].ptr, c->argv[k].len);
    size_t n = sizeof(p1) - 1 + gl + sizeof(p2) - 1 + kl + 1;
    char *msg = util_malloc(n + 1), *p = msg;
    memcpy(p, p1, sizeof(p1) - 1);
    p += sizeof(p1) - 1;
    memcpy(p, c->argv[g].ptr, gl);
    p += gl;
    memcpy(p, p2, sizeof(p2) - 1);
    p += sizeof(p2) - 1;
    memcpy(p, c->argv[k].ptr, kl);
    p += kl;
    *p++ = '\'';
    *p = '\0';
    reply_error(c->r, msg);
    util_free(msg);
}

/* Looks the XINFO key (argv[2]) up: "ERR no such key" or WRONGTYPE come
 * first, before any option is looked at, as in Redis. */
static ks_stream *
xs_info_lookup_or_reply(cmd_ctx *c)
{
    int bad;
    ks_stream *xs = xs_lookup_value(c, 2, 0, &bad);
    if (xs == NULL && !bad)
        reply_error(c->r, "ERR no such key");
    return xs;
}

/* The group's lag, or a null when it cannot be known. */
static void
xs_reply_lag(reply *r, const stream *s, const cg_group *g)
{
    int64_t lag;
    if (cg_group_lag(s, g, &lag))
        reply_int(r, lag);
    else
        reply_null(r);
}

/* The group's entries-read, or a null when invalid. */
static void
xs_reply_entries_read(reply *r, const cg_group *g)
{
    int64_t n = cg_group_entries_read(g);
    if (n == CG_ENTRIES_READ_INVALID)
        reply_null(r);
    else
        reply_int(r, n);
}

/* The "pending" array of a group (c == NULL: [id, consumer, delivery time,
 * count]) or of one consumer ([id, delivery time, count]), at most count
 * entries (0: all), for XINFO STREAM FULL. */
static void
xs_reply_full_pel(reply *r, const cg_group *g, const cg_consumer *c, long long count)
{
    pel_iter it;
    stream_id id;
    pel_entry *e;
    long long n = 0;
    size_t mark = reply_defer(r);
    pel_iter_start(&it, g, c, NULL);
    while ((!count || n < count) && pel_iter_next(&it, &id, &e)) {
        reply_array(r, c ? 3 : 4);
        xs_reply_id(r, &id);
        if (c == NULL) {
            size_t len;
            const void *name = cg_consumer_name(pel_entry_owner(e), &len);
            reply_bulk(r, name, len);
        }
        reply_int(r, pel_entry_delivery_ms(e));
        reply_int(r, (long long)pel_entry_delivery_count(e));
        n++;
    }
    pel_iter_stop(&it);
    reply_defer_array(r, mark, n);
}

/* The groups section of XINFO STREAM FULL (Redis 7.4 layout: consumers
 * carry active-time). */
static void
xs_reply_full_groups(reply *r, const ks_stream *xs, long long count)
{
    cg_iter it, cit;
    cg_group *g;
    cg_consumer *cons;
    if (xs->groups == NULL) {
        reply_empty_array(r);
        return;
    }
    reply_array(r, (long long)cg_set_count(xs->groups));
    cg_iter_groups(&it, xs->groups);
    while (cg_iter_next_group(&it, &g)) {
        size_t len;
        const void *name = cg_group_name(g, &len);
        stream_id last = cg_group_last_id(g);
        reply_map(r, 7);
        reply_bulk_cstr(r, "name");
        reply_bulk(r, name, len);
        reply_bulk_cstr(r, "last-delivered-id");
        xs_reply_id(r, &last);
        reply_bulk_cstr(r, "entries-read");
        xs_reply_entries_read(r, g);
        reply_bulk_cstr(r, "lag");
        xs_reply_lag(r, xs->log, g);
        reply_bulk_cstr(r, "pel-count");
        reply_int(r, (long long)cg_group_pending_count(g));
        reply_bulk_cstr(r, "pending");
        xs_reply_full_pel(r, g, NULL, count);
        reply_bulk_cstr(r, "consumers");
        reply_array(r, (long long)cg_group_consumer_count(g));
        cg_iter_consumers(&cit, g);
        while (cg_iter_next_consumer(&cit, &cons)) {
            name = cg_consumer_name(cons, &len);
            reply_map(r, 5);
            reply_bulk_cstr(r, "name");
            reply_bulk(r, name, len);
            reply_bulk_cstr(r, "seen-time");
            reply_int(r, cg_consumer_seen_ms(cons));
            reply_bulk_cstr(r, "active-time");
            reply_int(r, cg_consumer_active_ms(cons));
            reply_bulk_cstr(r, "pel-count");
            reply_int(r, (long long)cg_consumer_pending_count(cons));
            reply_bulk_cstr(r, "pending");
            xs_reply_full_pel(r, g, cons, count);
        }
        cg_iter_stop(&cit);
    }
    cg_iter_stop(&it);
}

/* XINFO STREAM key [FULL [COUNT n]] */
static void
cmd_xinfo_stream(cmd_ctx *c)
{
    int full = 0;
    long long count = 10;
    ks_stream *xs = xs_info_lookup_or_reply(c);
    stream *s;
    stream_id id;
    if (xs == NULL)
        return;
    s = xs->log;
    if (c->argc > 3) {
        if (!cmd_arg_is(c, 3, "full") || c->argc == 5 ||
            (c->argc == 6 && !cmd_arg_is(c, 4, "count")) || c->argc > 6) {
            xs_reply_sub_syntax(c);
            return;
        }
        full = 1;
        if (c->argc == 6) {
            if (cmd_get_ll_or_reply(c, 5, &count, NULL) < 0)
                return;
            if (count < 0)
                count = 10;
        }
    }
    reply_map(c->r, full ? 9 : 10);
    reply_bulk_cstr(c->r, "length");
    reply_int(c->r, (long long)stream_len(s));
    reply_bulk_cstr(c->r, "radix-tree-keys");
    reply_int(c->r, (long long)stream_rax_keys(s));
    reply_bulk_cstr(c->r, "radix-tree-nodes");
    reply_int(c->r, (long long)stream_rax_nodes(s));
    reply_bulk_cstr(c->r, "last-generated-id");
    id = stream_last_id(s);
    xs_reply_id(c->r, &id);
    reply_bulk_cstr(c->r, "max-deleted-entry-id");
    id = stream_max_deleted_id(s);
    xs_reply_id(c->r, &id);
    reply_bulk_cstr(c->r, "entries-added");
    reply_int(c->r, (long long)stream_entries_added(s));
    reply_bulk_cstr(c->r, "recorded-first-entry-id");
    if (!stream_first_entry(s, &id))
        id = (stream_id){0, 0};
    xs_reply_id(c->r, &id);
    if (full) {
        stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
        reply_bulk_cstr(c->r, "entries");
        xs_reply_range(c->r, s, &lo, &hi, count ? count : -1, 0);
        reply_bulk_cstr(c->r, "groups");
        xs_reply_full_groups(c->r, xs, count);
        return;
    }
    reply_bulk_cstr(c->r, "groups");
    reply_int(c->r, xs->groups ? (long long)cg_set_count(xs->groups) : 0);
    for (int last = 0; last < 2; last++) {
        stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
        stream_iter it;
        size_t npairs;
        reply_bulk_cstr(c->r, last ? "last-entry" : "first-entry");
        stream_iter_start(&it, s, &lo, &hi, last);
        if (stream_iter_next(&it, &id, &npairs))
            xs_reply_entry(c->r, &it, &id, npairs);
        else
            reply_null(c->r);
        stream_iter_stop(&it);
    }
}

/* XINFO GROUPS key */
static void
cmd_xinfo_groups(cmd_ctx *c)
{
    ks_stream *xs = xs_info_lookup_or_reply(c);
    cg_iter it;
    cg_group *g;
    if (xs == NULL)
        return;
    if (xs->groups == NULL) {
        reply_empty_array(c->r);
        return;
    }
    reply_array(c->r, (long long)cg_set_count(xs->groups));
    cg_iter_groups(&it, xs->groups);
    while (cg_iter_next_group(&it, &g)) {
        size_t len;
        const void *name = cg_group_name(g, &len);
        stream_id last = cg_group_last_id(g);
        reply_map(c->r, 6);
        reply_bulk_cstr(c->r, "name");
        reply_bulk(c->r, name, len);
        reply_bulk_cstr(c->r, "consumers");
        reply_int(c->r, (long long)cg_group_consumer_count(g));
        reply_bulk_cstr(c->r, "pending");
        reply_int(c->r, (long long)cg_group_pending_count(g));
        reply_bulk_cstr(c->r, "last-delivered-id");
        xs_reply_id(c->r, &last);
        reply_bulk_cstr(c->r, "entries-read");
        xs_reply_entries_read(c->r, g);
        reply_bulk_cstr(c->r, "lag");
        xs_reply_lag(c->r, xs->log, g);
    }
    cg_iter_stop(&it);
}

/* XINFO CONSUMERS key group: name, pending, idle (since the last attempt)
 * and, as Redis 7.2+, inactive (since the last successful read or claim,
 * -1 if none). */
static void
cmd_xinfo_consumers(cmd_ctx *c)
{
    ks_stream *xs = xs_info_lookup_or_reply(c);
    cg_group *g;
    cg_iter it;
    cg_consumer *cons;
    if (xs == NULL)
        return;
    g = xs->groups ? cg_group_find(xs->groups, c->argv[3].ptr, c->argv[3].len) : NULL;
    if (g == NULL) {
        xs_reply_nogroup(c, 3, 2);
        return;
    }
    reply_array(c->r, (long long)cg_group_consumer_count(g));
    cg_iter_consumers(&it, g);
    while (cg_iter_next_consumer(&it, &cons)) {
        size_t len;
        const void *name = cg_consumer_name(cons, &len);
        int64_t idle = c->now_ms - cg_consumer_seen_ms(cons);
        int64_t active = cg_consumer_active_ms(cons);
        reply_map(c->r, 4);
        reply_bulk_cstr(c->r, "name");
        reply_bulk(c->r, name, len);
        reply_bulk_cstr(c->r, "pending");
        reply_int(c->r, (long long)cg_consumer_pending_count(cons));
        reply_bulk_cstr(c->r, "idle");
        reply_int(c->r, idle < 0 ? 0 : idle);
        reply_bulk_cstr(c->r, "inactive");
        reply_int(c->r, active == CG_NEVER_ACTIVE ? -1 : c->now_ms - active);
    }
    cg_iter_stop(&it);
}

static void
cmd_xinfo_help(cmd_ctx *c)
{
    static const char *const help[] = {
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(help) / sizeof(help[0]);
    reply_array(c->r, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c->r, help[i]);
}

#define XS_KEY(fl)                                                                                 \
    {                                                                                              \
        {                                                                                          \
            .flags = (fl), .begin = 1, .keystep = 1                                                \
        }                                                                                          \
    }

static cmd_def cmd_xinfo_subs[] = {
    {"groups",
     cmd_xinfo_groups,
     3,
     CMD_READONLY,
     ACL_STREAM,
     2,
     2,
     1,
     "List the consumer groups of a stream",
     "5.0.0",
     "stream",
     "O(1)",
     NULL,
     {{.flags = "RO access", .begin = 2, .keystep = 1}}},
    {"consumers",
     cmd_xinfo_consumers,
     4,
     CMD_READONLY,
     ACL_STREAM,
     2,
     2,
     1,
     "List the consumers in a consumer group",
     "5.0.0",
     "stream",
     "O(1)",
     NULL,
     {{.flags = "RO access", .begin = 2, .keystep = 1}},
     "nondeterministic_output"},
    {"help", cmd_xinfo_help, 2, CMD_LOADING | CMD_STALE, ACL_STREAM, 0, 0, 0,
     "Show helpful text about the different subcommands", "5.0.0", "stream", "O(1)"},
    {"stream",
     cmd_xinfo_stream,
     -3,
     CMD_READONLY,
     ACL_STREAM,
     2,
     2,
     1,
     "Get information about a stream",
     "5.0.0",
     "stream",
     "O(1)",
     NULL,
     {{.flags = "RO access", .begin = 2, .keystep = 1}}},
    {0},
};

cmd_def cmd_stream_defs[] = {
    {"xadd",
     cmd_xadd,
     -5,
     CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     ACL_STREAM,
     1,
     1,
     1,
     "Appends a new entry to a stream",
     "5.0.0",
     "stream",
     "O(1) when adding a new entry, O(N) "
     "when trimming where N being the number of entries evicted.",
     NULL,
     {{.flags = "RW update",
       .begin = 1,
       .keystep = 1,
       .notes = "UPDATE instead of INSERT because of the optional trimming feature"}},
     "nondeterministic_output"},
    {"xrange", cmd_xrange, -4, CMD_READONLY, ACL_STREAM, 1, 1, 1,
     "Return a range of elements in a stream, with IDs matching the specified IDs interval",
     "5.0.0", "stream",
     "O(N) with N being the number of elements being returned. If N is constant (e.g. always "
     "asking for the first 10 elements with COUNT), you can consider it O(1).",
     NULL, XS_KEY("RO access")},
    {"xrevrange", cmd_xrevrange, -4, CMD_READONLY, ACL_STREAM, 1, 1, 1,
     "Return a range of elements in a stream, with IDs matching the specified IDs interval, in "
     "reverse order (from greater to smaller IDs) compared to XRANGE",
     "5.0.0", "stream",
     "O(N) with N being the number of elements returned. If N is constant (e.g. always asking "
     "for the first 10 elements with COUNT), you can consider it O(1).",
     NULL, XS_KEY("RO access")},
    {"xlen", cmd_xlen, 2, CMD_READONLY | CMD_FAST, ACL_STREAM, 1, 1, 1,
     "Return the number of entries in a stream", "5.0.0", "stream", "O(1)", NULL, XS_KEY("RO")},
    {"xdel", cmd_xdel, -3, CMD_WRITE | CMD_FAST, ACL_STREAM, 1, 1, 1,
     "Removes the specified entries from the stream. Returns the number of items actually "
     "deleted, that may be different from the number of IDs passed in case certain IDs do not "
     "exist.",
     "5.0.0", "stream",
     "O(1) for each single item to delete in the stream, regardless of the "
     "stream size.",
     NULL, XS_KEY("RW delete")},
    {"xtrim", cmd_xtrim, -4, CMD_WRITE, ACL_STREAM, 1, 1, 1,
     "Trims the stream to (approximately if '~' is passed) a certain size", "5.0.0", "stream",
     "O(N), with N being the number of evicted entries. Constant times are very small however, "
     "since entries are organized in macro nodes containing multiple entries that can be "
     "released with a single deallocation.",
     NULL, XS_KEY("RW delete"), "nondeterministic_output"},
    {"xread",
     cmd_xread,
     -4,
     CMD_READONLY | CMD_BLOCKING | CMD_MOVABLE_KEYS,
     ACL_STREAM,
     0,
     0,
     0,
     "Return never seen elements in multiple streams, with IDs greater than the ones reported "
     "by the caller for each stream. Can block.",
     "5.0.0",
     "stream",
     "For each stream mentioned: O(N) with N being the number of elements being returned, it "
     "means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, "
     "XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new "
     "data.",
     NULL,
     {{.flags = "RO access",
       .keyword = "STREAMS",
       .startfrom = 1,
       .lastkey = -1,
       .keystep = 1,
       .limit = 2}}},
    {"xsetid", cmd_xsetid, -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, ACL_STREAM, 1, 1, 1,
     "An internal command for replicating stream values", "5.0.0", "stream", "O(1)", NULL,
     XS_KEY("RW update")},
    {"xinfo", NULL, -2, 0, 0, 0, 0, 0, "A container for stream introspection commands", "5.0.0",
     "stream", "Depends on subcommand.", cmd_xinfo_subs},
    {0},
};
