/*
 * broker/server/scriptrun: the server side of running a Lua script
 * (broker/script): its commands through the dispatcher, its writes
 * recorded as one MULTI ... EXEC, and the BUSY state.
 *
 * A script runs on the core thread inside the dispatch of its EVAL/FCALL.
 * The writes it makes are collected and handed to the real propagate sink
 * when it ends, wrapped in MULTI/EXEC (inside EXEC, the transaction
 * already wraps them), so the log never holds half a script. Past
 * busy-reply-threshold the script's count hook calls scriptrun__yield,
 * which runs one non-blocking loop iteration so other clients are
 * answered: the dispatcher replies BUSY to everything but CMD_ALLOW_BUSY
 * commands (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE, ...). Meanwhile
 * the caller is protected: its socket is not read (its query buffer holds
 * the running command's arguments) and it is kept off the flush list (so
 * it is not freed under the script); the cron timer and the before-sleep
 * step (which writes the log) are held; SHUTDOWN NOSAVE and shutdown
 * signals are deferred to the script's end.
 *
 * Hot path: none; a script pays one dispatcher call per redis.call.
 */
#include "broker/server/server.h"

#include <signal.h>
#include <string.h>

#include "broker/script/script.h"
#include "broker/util/mem.h"

/* One write of the running script, kept until the script ends. */
typedef struct scriptrun_op {
    int db;         /* database id */
    int argc;       /* arguments */
    resp_arg *argv; /* point into buf */
    char *buf;      /* argument bytes, owned */
} scriptrun_op;

static void (*scriptrun_sink)(int dbid, int argc, const resp_arg *argv); /* real propagate */
static int scriptrun_wrapping;      /* 1 while propagate is swapped for the run */
static scriptrun_op *scriptrun_ops; /* writes of the run, owned */
static int scriptrun_nops;          /* entries used in scriptrun_ops */
static int scriptrun_capops;        /* entries allocated */
static int scriptrun_polling;       /* 1 while serving other clients from the hook */
static int scriptrun_protected;     /* 1 once the caller, cron and flush were held */
static client *scriptrun_caller;    /* the protected caller, or NULL (not a RESP client) */
static uv_alloc_cb scriptrun_alloc; /* caller's read callbacks, to resume reading */
static uv_read_cb scriptrun_read;
static uv_prepare_cb scriptrun_flush_cb;  /* the before-sleep callback, held meanwhile */
static int scriptrun_shutdown;            /* SHUTDOWN NOSAVE arrived while busy */
static int scriptrun_signum;              /* shutdown signal received while busy, 0 none */
static uv_signal_cb scriptrun_sigterm_cb; /* the server's signal callbacks */
static uv_signal_cb scriptrun_sigint_cb;
static void (*scriptrun_real_shutdown)(cmd_ctx *c, int save, int nosave, int now, int force,
                                       int abort_);

void
scriptrun__call(cmd_session *s, reply *r, int argc, const resp_arg *argv)
{
    dispatch__call(NULL, s, r, argc, argv);
}

void
scriptrun__log(int level, const char *msg)
{
    server_log(level, "%s", msg);
}

void
scriptrun__monitor(cmd_ctx *c)
{
    client *cl;
    if (srv.nmonitors == 0)
        return;
    cl = blocked__client_by_id(c->sess->id);
    if (cl && &cl->sess != c->sess)
        cl = NULL;
    client__monitor_feed(c->sess, cl ? cl->addr : "", c->argc, c->argv);
}

int
scriptrun__busy(void)
{
    return scriptrun_polling;
}

/* Keeps a copy of one write of the script. */
static void
scriptrun_propagate(int dbid, int argc, const resp_arg *argv)
{
    scriptrun_op *op;
    size_t total = 0, off = 0;
    if (scriptrun_nops == scriptrun_capops) {
        scriptrun_capops = scriptrun_capops ? scriptrun_capops * 2 : 8;
        scriptrun_ops =
            util_realloc(scriptrun_ops, (size_t)scriptrun_capops * sizeof(*scriptrun_ops));
    }
    op = &scriptrun_ops[scriptrun_nops++];
    for (int i = 0; i < argc; i++)
        total += argv[i].len;
    op->db = dbid;
    op->argc = argc;
    op->buf = util_malloc(total ? total : 1);
    op->argv = util_malloc((size_t)(argc ? argc : 1) * sizeof(*op->argv));
    for (int i = 0; i < argc; i++) {
        memcpy(op->buf + off, argv[i].ptr, argv[i].len);
        op->argv[i].ptr = op->buf + off;
        op->argv[i].len = argv[i].len;
        off += argv[i].len;
    }
}

/* Records the collected writes as MULTI ... EXEC (record 1) or drops
 * them (record 0), then empties the list. */
static void
scriptrun_ops_flush(int record)
{
    if (record && scriptrun_nops > 0) {
        resp_arg multi = {"MULTI", 5}, exec = {"EXEC", 4};
        scriptrun_sink(scriptrun_ops[0].db, 1, &multi);
        for (int i = 0; i < scriptrun_nops; i++)
            scriptrun_sink(scriptrun_ops[i].db, scriptrun_ops[i].argc, scriptrun_ops[i].argv);
        scriptrun_sink(scriptrun_ops[scriptrun_nops - 1].db, 1, &exec);
    }
    for (int i = 0; i < scriptrun_nops; i++) {
        util_free(scriptrun_ops[i].buf);
        util_free(scriptrun_ops[i].argv);
    }
    util_free(scriptrun_ops);
    scriptrun_ops = NULL;
    scriptrun_nops = scriptrun_capops = 0;
}

void
scriptrun__begin(cmd_ctx *c)
{
    scriptrun_sink = srv.host.propagate;
    scriptrun_wrapping = 0;
    scriptrun_protected = 0;
    scriptrun_caller = NULL;
    scriptrun_shutdown = 0;
    scriptrun_signum = 0;
    /* Inside EXEC the transaction already wraps everything. */
    if (scriptrun_sink && !(c->sess->flags & SESS_IN_EXEC)) {
        srv.host.propagate = scriptrun_propagate;
        scriptrun_wrapping = 1;
    }
}

/* Stops reading the caller and keeps it off the flush list; holds the
 * cron timer and the before-sleep step. */
static void
scriptrun_protect(cmd_ctx *c)
{
    client *cl = blocked__client_by_id(c->sess->id);
    scriptrun_protected = 1;
    uv_timer_stop(&srv.cron);
    scriptrun_flush_cb = srv.flush.prepare_cb;
    uv_prepare_stop(&srv.flush);
    if (cl == NULL || &cl->sess != c->sess || cl->closing)
        return;
    if (cl->pending) {
        client **pp = &srv.flush_list;
        while (*pp && *pp != cl)
            pp = &(*pp)->pnext;
        if (*pp)
            *pp = cl->pnext;
        cl->pnext = NULL;
    }
    cl->pending = 1; /* not in the list: never written nor freed meanwhile */
    scriptrun_alloc = cl->tcp.alloc_cb;
    scriptrun_read = cl->tcp.read_cb;
    uv_read_stop((uv_stream_t *)&cl->tcp);
    scriptrun_caller = cl;
}

static void
scriptrun_unprotect(void)
{
    client *cl = scriptrun_caller;
    scriptrun_protected = 0;
    scriptrun_caller = NULL;
    if (!srv.shutting_down) {
        uv_timer_again(&srv.cron);
        uv_prepare_start(&srv.flush, scriptrun_flush_cb);
    }
    if (cl == NULL)
        return;
    cl->pending = 0;
    if (cl->closing) {
        /* Closed meanwhile: the flush frees it. */
        cl->pending = 1;
        cl->pnext = srv.flush_list;
        srv.flush_list = cl;
        return;
    }
    uv_read_start((uv_stream_t *)&cl->tcp, scriptrun_alloc, scriptrun_read);
    client__queue_flush(cl);
}

void
scriptrun__end(cmd_ctx *c)
{
    if (scriptrun_wrapping) {
        srv.host.propagate = scriptrun_sink;
        /* A script stopped by SHUTDOWN NOSAVE leaves no trace in the log. */
        scriptrun_ops_flush(!scriptrun_shutdown);
    }
    scriptrun_wrapping = 0;
    if (scriptrun_protected)
        scriptrun_unprotect();
    if (scriptrun_shutdown) {
        scriptrun_shutdown = 0;
        srv.host.shutdown(c, 0, 1, 0, 0, 0);
    } else if (scriptrun_signum) {
        int signum = scriptrun_signum;
        scriptrun_signum = 0;
        if (signum == SIGINT)
            scriptrun_sigint_cb(&srv.sigint, signum);
        else
            scriptrun_sigterm_cb(&srv.sigterm, signum);
    }
}

/* SHUTDOWN while busy: only NOSAVE, and only once the script stopped. */
static void
scriptrun_shutdown_hook(cmd_ctx *c, int save, int nosave, int now, int force, int abort_)
{
    int is_eval = 1;
    if (abort_) {
        scriptrun_real_shutdown(c, save, nosave, now, force, abort_);
        return;
    }
    if (!nosave) {
        script_running(&is_eval);
        reply_error(c->r, is_eval ? SCRIPT_BUSY_EVAL : SCRIPT_BUSY_FUNCTION);
        return;
    }
    scriptrun_shutdown = 1;
}

/* SIGTERM/SIGINT while busy: handled once the script ended. */
static void
scriptrun_signal(uv_signal_t *h, int signum)
{
    (void)h;
    scriptrun_signum = signum;
}

int
scriptrun__yield(cmd_ctx *c, int is_eval)
{
    (void)is_eval;
    if (srv.loop == NULL || srv.shutting_down)
        return 0;
    if (!scriptrun_protected)
        scriptrun_protect(c);
    scriptrun_real_shutdown = srv.host.shutdown;
    srv.host.shutdown = scriptrun_shutdown_hook;
    scriptrun_sigterm_cb = srv.sigterm.signal_cb;
    scriptrun_sigint_cb = srv.sigint.signal_cb;
    srv.sigterm.signal_cb = scriptrun_signal;
    srv.sigint.signal_cb = scriptrun_signal;
    scriptrun_polling = 1;
    uv_run(srv.loop, UV_RUN_NOWAIT);
    scriptrun_polling = 0;
    srv.sigterm.signal_cb = scriptrun_sigterm_cb;
    srv.sigint.signal_cb = scriptrun_sigint_cb;
    srv.host.shutdown = scriptrun_real_shutdown;
    /* Replies of this iteration go out now; the log waits for the script. */
    client__flush_all();
    bridge__flush();
    if (scriptrun_shutdown)
        return 1;
    return scriptrun_signum ? 2 : 0;
}
