/*
 * broker/server/dispatch: runs one command for a caller.
 *
 * Order of checks, as Redis 7.0's processCommand: command exists, then
 * subcommand exists, then arity, then authentication, then the RESP2
 * subscribed-mode limit; only then the handler runs. Each step's error is counted in errorstats and
 * in the command's rejected_calls. After the handler: statistics, slow log, MONITOR feed, and
 * CLIENT REPLY OFF/SKIP suppression.
 *
 * Hot path: every command. Allocation-free unless the slow log records or
 * a monitor is attached.
 */
#include "broker/server/server.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "broker/config/config.h"
#include "broker/persist/aof.h"
#include "broker/script/script.h"
#include "broker/util/mem.h"

/* Counts an error reply under its code for INFO errorstats. */
static void
dispatch_count_error(const char *code)
{
    int existed;
    ks_dict_entry *e = ks_dict_add_or_find(srv.errorstats, code, strlen(code), &existed);
    if (e == NULL)
        return;
    ks_dict_entry_set_s64(e, existed ? ks_dict_entry_s64(e) + 1 : 1);
    srv.stat_errors++;
}

static void
dispatch_reject(reply *r, cmd_def *d, const char *msg)
{
    reply_error(r, msg);
    dispatch_count_error(r->last_err);
    if (d)
        d->rejected++;
}

static void
dispatch_unknown(reply *r, int argc, const resp_arg *argv)
{
    char args[256] = "", msg[512];
    size_t used = 0;
    /* Quote arguments until 128 bytes are shown, as Redis does. */
    for (int i = 1; i < argc && used < 128; i++) {
        int room = 128 - (int)used;
        int n =
            snprintf(args + used, sizeof(args) - used, "'%.*s' ",
                     (int)(argv[i].len < (size_t)room ? argv[i].len : (size_t)room), argv[i].ptr);
        if (n < 0)
            break;
        used += (size_t)n;
        if (used >= sizeof(args))
            used = sizeof(args) - 1;
    }
    snprintf(msg, sizeof(msg), "ERR unknown command '%.*s', with args beginning with: %s",
             (int)(argv[0].len < 128 ? argv[0].len : 128), argv[0].ptr, args);
    dispatch_reject(r, NULL, msg);
}

static void
dispatch_slowlog_entry_free(slowlog_entry *e)
{
    for (int i = 0; i < e->argc; i++)
        util_free(e->argv[i]);
    util_free(e->argv);
    util_free(e->argl);
    util_free(e->peer);
    util_free(e->name);
}

void
dispatch__slowlog_free(void)
{
    while (srv.slowlog_len)
        dispatch_slowlog_entry_free(&srv.slowlog[--srv.slowlog_len]);
    util_free(srv.slowlog);
    srv.slowlog = NULL;
}

static void
dispatch_slowlog_add(client *cl, int argc, const resp_arg *argv, long long duration)
{
    slowlog_entry *e;
    int keep = argc > 32 ? 32 : argc;
    if (config.slowlog_max_len <= 0)
        return;
    while (srv.slowlog_len >= (size_t)config.slowlog_max_len) {
        /* Drop the oldest (several when slowlog-max-len shrank). */
        dispatch_slowlog_entry_free(&srv.slowlog[0]);
        memmove(srv.slowlog, srv.slowlog + 1, (srv.slowlog_len - 1) * sizeof(*srv.slowlog));
        srv.slowlog_len--;
    }
    srv.slowlog = util_realloc(srv.slowlog, (srv.slowlog_len + 1) * sizeof(*srv.slowlog));
    e = &srv.slowlog[srv.slowlog_len++];
    e->id = srv.slowlog_next_id++;
    e->time = server_now_ms() / 1000;
    e->duration = duration;
    e->argc = keep;
    e->argv = util_malloc((size_t)keep * sizeof(char *));
    e->argl = util_malloc((size_t)keep * sizeof(size_t));
    for (int i = 0; i < keep; i++) {
        char buf[160];
        if (i == keep - 1 && keep != argc) {
            int n = snprintf(buf, sizeof(buf), "... (%d more arguments)", argc - keep + 1);
            e->argv[i] = util_memdup(buf, (size_t)n);
            e->argl[i] = (size_t)n;
        } else if (argv[i].len > 128) {
            int n = snprintf(buf, sizeof(buf), "%.128s... (%zu more bytes)", argv[i].ptr,
                             argv[i].len - 128);
            /* %.128s stops at a NUL; copy the raw bytes instead. */
            memcpy(buf, argv[i].ptr, 128);
            e->argv[i] = util_memdup(buf, (size_t)n);
            e->argl[i] = (size_t)n;
        } else {
            e->argv[i] = util_memdup(argv[i].ptr, argv[i].len);
            e->argl[i] = argv[i].len;
        }
    }
    e->peer = util_strdup(cl ? cl->addr : "");
    e->name = util_strdup(cl && cl->sess.name ? cl->sess.name : "");
}

/* 1 when d may run for a RESP2 caller with subscriptions: the
 * (un)subscribe commands, PING, QUIT and RESET. */
static int
dispatch_pubsub_allowed(const cmd_def *d)
{
    static const char *const allowed[] = {
        "ping",       "subscribe",    "ssubscribe", "unsubscribe", "sunsubscribe",
        "psubscribe", "punsubscribe", "quit",       "reset",
    };
    if (d->parent)
        return 0;
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (strcmp(d->name, allowed[i]) == 0)
            return 1;
    }
    return 0;
}

/* PING from a subscribed RESP2 caller: a two-item array, as Redis does,
 * since a plain +PONG could not be told from a message. */
static void
dispatch_pubsub_ping(cmd_ctx *c)
{
    reply_array(c->r, 2);
    reply_bulk(c->r, "pong", 4);
    if (c->argc == 2)
        reply_bulk(c->r, c->argv[1].ptr, c->argv[1].len);
    else
        reply_bulk(c->r, "", 0);
}

/* Finds the command named by arg. A client usually repeats its previous
 * command (pipelines, producers looping on XADD), so that one is compared
 * first, which skips the lowercase copy and the hash lookup. */
static cmd_def *
dispatch_lookup(const client *cl, const resp_arg *arg)
{
    const cmd_def *last = cl ? cl->last_cmd : NULL;
    if (last && last->parent)
        last = last->parent;
    if (last && strlen(last->name) == arg->len && strncasecmp(last->name, arg->ptr, arg->len) == 0)
        return (cmd_def *)last;
    return cmd_lookup(arg->ptr, arg->len);
}

/* The commands that run at once inside MULTI instead of being queued. */
static int
dispatch_runs_in_multi(const cmd_def *d)
{
    static const char *const names[] = {"exec", "discard", "multi", "watch", "quit", "reset"};
    if (d->parent)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(d->name, names[i]) == 0)
            return 1;
    return 0;
}

void
dispatch__call(client *cl, cmd_session *sess, reply *r, int argc, const resp_arg *argv)
{
    cmd_def *d = dispatch_lookup(cl, &argv[0]);
    size_t mark = r->len;
    unsigned errors_before;
    long long start, duration;
    cmd_ctx ctx;

    r->resp = sess->resp;
    if (d == NULL) {
        dispatch_unknown(r, argc, argv);
        goto rejected;
    }
    if (d->subs && !(argc == 1 && d->fn)) {
        cmd_def *s = argc >= 2 ? cmd_lookup_sub(d, argv[1].ptr, argv[1].len) : NULL;
        if (argc < 2) {
            char msg[160];
            snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command", d->name);
            dispatch_reject(r, d, msg);
            goto rejected;
        }
        if (s == NULL) {
            char msg[300], up[64];
            size_t i;
            for (i = 0; d->name[i] && i < sizeof(up) - 1; i++)
                up[i] = (char)toupper((unsigned char)d->name[i]);
            up[i] = '\0';
            snprintf(msg, sizeof(msg), "ERR unknown subcommand '%.*s'. Try %s HELP.",
                     (int)(argv[1].len < 128 ? argv[1].len : 128), argv[1].ptr, up);
            dispatch_reject(r, d, msg);
            goto rejected;
        }
        d = s;
    }
    if ((d->arity > 0 && argc != d->arity) || (d->arity < 0 && argc < -d->arity)) {
        char msg[160], name[96];
        snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command",
                 cmd_fullname(d, name, sizeof(name)));
        dispatch_reject(r, d, msg);
        goto rejected;
    }
    if (!sess->authed && !(d->flags & CMD_NO_AUTH)) {
        dispatch_reject(r, d, "NOAUTH Authentication required.");
        goto rejected;
    }
    if ((sess->flags & SESS_PUBSUB) && sess->resp == 2 && !dispatch_pubsub_allowed(d)) {
        char msg[300], name[96];
        snprintf(msg, sizeof(msg),
                 "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                 "RESET are allowed in this context",
                 cmd_fullname(d, name, sizeof(name)));
        dispatch_reject(r, d, msg);
        goto rejected;
    }

    /* Persistence: writes refused after a failed save or log write, and
     * everything but CMD_LOADING commands while the data set loads. */
    if (sess != srv.loader) {
        const char *misconf = aof_writes_refused(); /* NULL unless a save failed */
        if (misconf && ((d->flags & CMD_WRITE) || (!d->parent && strcmp(d->name, "ping") == 0))) {
            dispatch_reject(r, d, misconf);
            goto rejected;
        }
    }
    if (aof_loading() && sess != srv.loader && !(d->flags & CMD_LOADING)) {
        dispatch_reject(r, d, "LOADING Redis is loading the dataset in memory");
        goto rejected;
    }
    /* A script past busy-reply-threshold holds the server (scriptrun.c). */
    if (scriptrun__busy() && !(d->flags & CMD_ALLOW_BUSY)) {
        int is_eval = 1;
        script_running(&is_eval);
        dispatch_reject(r, d, is_eval ? SCRIPT_BUSY_EVAL : SCRIPT_BUSY_FUNCTION);
        goto rejected;
    }
    /* Inside MULTI everything but the transaction commands is queued. */
    if ((sess->flags & SESS_MULTI) && !dispatch_runs_in_multi(d)) {
        cmd_tx_queue(sess, argc, argv);
        reply_simple(r, "QUEUED");
        goto done;
    }

    ctx.argc = argc;
    ctx.argv = argv;
    ctx.ks = &srv.ks;
    ctx.db = &srv.ks.dbs[sess->db];
    ctx.r = r;
    ctx.sess = sess;
    ctx.cmd = d;
    ctx.host = &srv.host;
    ctx.dirty = 0;
    ctx.propagated = 0;
    start = server_ustime();
    ctx.now_ms = start / 1000;
    ks_clock_sec = (uint32_t)(ctx.now_ms / 1000);
    errors_before = r->errors;
    if (cl)
        cl->last_cmd = d;

    if ((sess->flags & SESS_PUBSUB) && sess->resp == 2 && argc <= 2 && d->parent == NULL &&
        strcmp(d->name, "ping") == 0)
        dispatch_pubsub_ping(&ctx);
    else
        d->fn(&ctx);

    /* A write is recorded as its argv unless the handler chose the form. */
    if (ctx.dirty > 0 && !ctx.propagated && srv.host.propagate)
        srv.host.propagate(ctx.db->id, argc, argv);

    srv.dirty += ctx.dirty;
    duration = server_ustime() - start;
    d->calls++;
    d->usec += (unsigned long long)duration;
    srv.stat_cmds++;
    if (r->errors != errors_before) {
        d->failed++;
        dispatch_count_error(r->last_err);
    }
    if (config.slowlog_log_slower_than >= 0 && duration >= config.slowlog_log_slower_than &&
        !(d->flags & CMD_SKIP_SLOWLOG))
        dispatch_slowlog_add(cl, argc, argv, duration);
    if (srv.nmonitors && !(d->flags & (CMD_SKIP_MONITOR | CMD_ADMIN))) {
        const char *from = (sess->flags & SESS_SCRIPT) ? "lua" : ""; /* Redis's "[0 lua]" */
        client__monitor_feed(sess, cl ? cl->addr : from, argc, argv);
    }

    /* Keys this command changed may release blocked clients (after the
     * whole transaction when inside EXEC). */
    if (srv.ks.blocking.nready && !(sess->flags & SESS_IN_EXEC))
        blocked__serve_ready();
    goto done;

rejected:
    /* A command refused while queueing dooms the transaction. */
    if (sess->flags & SESS_MULTI)
        sess->flags |= SESS_MULTI_ERR;
done:
    /* CLIENT REPLY OFF/SKIP: the reply is dropped after it was built. */
    if (sess->flags & (SESS_REPLY_OFF | SESS_REPLY_SKIP))
        r->len = mark;
    sess->flags &= ~SESS_REPLY_SKIP;
    if (sess->flags & SESS_REPLY_SKIP_NEXT) {
        sess->flags &= ~SESS_REPLY_SKIP_NEXT;
        sess->flags |= SESS_REPLY_SKIP;
    }
}

/* SLOWLOG GET/LEN/RESET/HELP. */
void
dispatch__slowlog_cmd(cmd_ctx *c)
{
    const char *sub = c->cmd->name;
    if (strcmp(sub, "len") == 0) {
        reply_int(c->r, (long long)srv.slowlog_len);
    } else if (strcmp(sub, "reset") == 0) {
        dispatch__slowlog_free();
        reply_ok(c->r);
    } else if (strcmp(sub, "get") == 0) {
        long long count = 10;
        if (c->argc > 3) {
            reply_error(c->r, "ERR unknown subcommand or wrong number of arguments for 'GET'. "
                              "Try SLOWLOG HELP.");
            return;
        }
        if (c->argc == 3) {
            if (cmd_get_ll_or_reply(c, 2, &count,
                                    "ERR count should be greater than or equal to -1") < 0)
                return;
            if (count < -1) {
                reply_error(c->r, "ERR count should be greater than or equal to -1");
                return;
            }
            if (count == -1)
                count = (long long)srv.slowlog_len;
        }
        if (count > (long long)srv.slowlog_len)
            count = (long long)srv.slowlog_len;
        reply_array(c->r, count);
        for (long long i = 0; i < count; i++) {
            slowlog_entry *e = &srv.slowlog[srv.slowlog_len - 1 - (size_t)i];
            reply_array(c->r, 6);
            reply_int(c->r, e->id);
            reply_int(c->r, e->time);
            reply_int(c->r, e->duration);
            reply_array(c->r, e->argc);
            for (int k = 0; k < e->argc; k++)
                reply_bulk(c->r, e->argv[k], e->argl[k]);
            reply_bulk_cstr(c->r, e->peer);
            reply_bulk_cstr(c->r, e->name);
        }
    } else {
        static const char *const help[] = {
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        };
        size_t n = sizeof(help) / sizeof(help[0]);
        reply_array(c->r, (long long)n);
        for (size_t i = 0; i < n; i++)
            reply_simple(c->r, help[i]);
    }
}

void
dispatch__reset_stats(void)
{
    for (size_t i = 0; cmd_at(i); i++) {
        cmd_def *d = cmd_at(i);
        d->calls = d->usec = d->rejected = d->failed = 0;
        for (cmd_def *s = (cmd_def *)d->subs; s && s->name; s++)
            s->calls = s->usec = s->rejected = s->failed = 0;
    }
    ks_dict_clear(srv.errorstats, NULL);
    srv.stat_conns = srv.stat_cmds = srv.stat_rejected = 0;
    srv.stat_net_in = srv.stat_net_out = srv.stat_errors = 0;
    srv.ks.hits = srv.ks.misses = srv.ks.expired_keys = 0;
}

/* While EXEC runs, writes are recorded between MULTI and EXEC: the first
 * one opens the block, so a transaction that wrote nothing records
 * nothing. */
static void (*dispatch_exec_sink)(int dbid, int argc, const resp_arg *argv);
static int dispatch_exec_opened;

static void
dispatch_exec_propagate(int dbid, int argc, const resp_arg *argv)
{
    if (!dispatch_exec_opened) {
        resp_arg multi = {"MULTI", 5};
        dispatch_exec_sink(dbid, 1, &multi);
        dispatch_exec_opened = 1;
    }
    dispatch_exec_sink(dbid, argc, argv);
}

/* EXEC: aborts on a queueing error, fails with a null array when a
 * WATCHed key changed, else runs every queued command through the
 * dispatcher with its reply as one element of EXEC's array. */
void
dispatch__exec(cmd_ctx *c)
{
    cmd_session *s = c->sess;
    client *cl;
    int n;

    if (!(s->flags & SESS_MULTI)) {
        reply_error(c->r, "ERR EXEC without MULTI");
        return;
    }
    if (s->flags & SESS_MULTI_ERR) {
        reply_error(c->r, "EXECABORT Transaction discarded because of previous errors.");
        cmd_tx_discard(s);
        return;
    }
    if ((s->flags & SESS_DIRTY_CAS) || cmd_watch_expired(s, c->ks, c->now_ms)) {
        reply_null_array(c->r);
        cmd_tx_discard(s);
        return;
    }

    cl = blocked__client_by_id(s->id);
    if (cl && &cl->sess != s)
        cl = NULL;
    n = cmd_tx_count(s);
    reply_array(c->r, n);
    s->flags &= ~SESS_MULTI;
    s->flags |= SESS_IN_EXEC;
    dispatch_exec_sink = srv.host.propagate;
    dispatch_exec_opened = 0;
    if (dispatch_exec_sink)
        srv.host.propagate = dispatch_exec_propagate;
    for (int i = 0; i < n; i++) {
        int argc;
        const resp_arg *argv = cmd_tx_at(s, i, &argc);
        dispatch__call(cl, s, c->r, argc, argv);
    }
    if (dispatch_exec_sink) {
        srv.host.propagate = dispatch_exec_sink;
        if (dispatch_exec_opened) {
            resp_arg exec = {"EXEC", 4};
            dispatch_exec_sink(srv.ks.dbs[s->db].id, 1, &exec);
        }
    }
    dispatch_exec_sink = NULL;
    s->flags &= ~SESS_IN_EXEC;
    /* The dispatcher counts the inner commands; EXEC itself records nothing. */
    c->propagated = 1;
    cmd_tx_discard(s);
}
