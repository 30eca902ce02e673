/*
 * broker/server/blocked: clients waiting in a blocking command (XREAD
 * BLOCK, BLPOP, XREADGROUP BLOCK, ...): RESP clients and gateway sessions
 * (server/bridge.c), both found by their CLIENT ID.
 *
 * A blocking handler that finds nothing to return calls host->block with
 * the command to run again; the client then stops reading commands, its
 * keys are registered in the keyspace's blocking registry, and a timer
 * holds its deadline. After each command the server drains the registry's
 * ready keys and re-runs the waiting commands, oldest client first, until
 * one replies (it is then unblocked) or blocks again. This is the same
 * scheme as Redis 7.2+, so a command behaves the same whether it was
 * served at once or after waiting.
 *
 * Not hot: only clients that block pay for it.
 */
#include "broker/server/server.h"

#include <string.h>
#include <strings.h>

#include "broker/util/mem.h"

typedef struct blocked_state {
    int argc;          /* arguments of the command to re-run */
    resp_arg *argv;    /* point into buf */
    char *buf;         /* owned copy of the argument bytes */
    int nkeys;         /* keys waited on */
    int *keys;         /* indexes into argv */
    int db;            /* database of the keys */
    int null_bulk;     /* timeout reply: 1 null bulk, 0 null array */
    int again;         /* set when a re-run blocked again */
    uv_timer_t *timer; /* deadline timer, NULL without deadline; owned */
    uint64_t id;       /* the caller, for the timer */
} blocked_state;

/* A caller that may block: a RESP client or a gateway session. */
typedef struct blocked_caller {
    cmd_session *sess;    /* its session */
    reply *out;           /* where its replies go */
    blocked_state **slot; /* where its waiting state hangs */
    client *cl;           /* the RESP client, or NULL */
    bridge_sess *bs;      /* the gateway session, or NULL */
} blocked_caller;

client *
blocked__client_by_id(uint64_t id)
{
    ks_dict_entry *e = ks_dict_find(srv.clients_by_id, &id, sizeof(id));
    return e ? ks_dict_entry_val(e) : NULL;
}

/* Finds caller id; returns 0, or -1 when there is none. */
static int
blocked_find(uint64_t id, blocked_caller *w)
{
    client *cl = blocked__client_by_id(id);
    memset(w, 0, sizeof(*w));
    if (cl) {
        if (cl->closing)
            return -1;
        w->sess = &cl->sess;
        w->out = &cl->out;
        w->slot = &cl->blocked;
        w->cl = cl;
        return 0;
    }
    w->bs = bridge__sess_by_id(id);
    if (w->bs == NULL)
        return -1;
    w->sess = &w->bs->sess;
    w->out = &w->bs->out;
    w->slot = &w->bs->blocked;
    return 0;
}

static void
blocked_timer_closed(uv_handle_t *h)
{
    util_free(h);
}

static void
blocked_timeout_cb(uv_timer_t *t)
{
    blocked_state *b = t->data;
    blocked__unblock_id(b->id, BLOCKED_TIMEOUT);
}

int
blocked__block(cmd_ctx *c, int argc, const resp_arg *argv, const int *keys, int nkeys,
               int64_t deadline_ms, int null_bulk)
{
    blocked_caller w;
    blocked_state *b;
    size_t total = 0, off = 0;
    if (blocked_find(c->sess->id, &w) != 0 || w.sess != c->sess)
        return -1; /* not a client or a gateway session: scripts cannot wait */
    if (c->sess->flags & SESS_IN_EXEC)
        return -1; /* inside EXEC a blocking command answers at once */
    if (*w.slot) {
        /* A re-run found nothing yet: keep waiting, same deadline. */
        (*w.slot)->again = 1;
        return 0;
    }
    b = util_calloc(1, sizeof(*b));
    for (int i = 0; i < argc; i++)
        total += argv[i].len;
    b->buf = util_malloc(total ? total : 1);
    b->argv = util_malloc((size_t)argc * sizeof(*b->argv));
    for (int i = 0; i < argc; i++) {
        memcpy(b->buf + off, argv[i].ptr, argv[i].len);
        b->argv[i].ptr = b->buf + off;
        b->argv[i].len = argv[i].len;
        off += argv[i].len;
    }
    b->argc = argc;
    b->keys = util_malloc((size_t)nkeys * sizeof(*b->keys));
    memcpy(b->keys, keys, (size_t)nkeys * sizeof(*b->keys));
    b->nkeys = nkeys;
    b->db = c->sess->db;
    b->null_bulk = null_bulk;
    b->id = c->sess->id;
    for (int i = 0; i < nkeys; i++)
        ks_block_add(&srv.ks.blocking, b->db, b->argv[keys[i]].ptr, b->argv[keys[i]].len,
                     c->sess->id);
    if (deadline_ms > 0) {
        int64_t wait = deadline_ms - c->now_ms;
        b->timer = util_malloc(sizeof(*b->timer));
        uv_timer_init(srv.loop, b->timer);
        b->timer->data = b;
        uv_timer_start(b->timer, blocked_timeout_cb, (uint64_t)(wait > 0 ? wait : 0), 0);
    }
    *w.slot = b;
    srv.nblocked++;
    return 0;
}

/* Drops w's waiting state and writes the reply `how` asks for. Returns 0,
 * or -1 when w was not blocked. */
static int
blocked_release(blocked_caller *w, int how)
{
    blocked_state *b = *w->slot;
    if (b == NULL)
        return -1;
    *w->slot = NULL;
    srv.nblocked--;
    for (int i = 0; i < b->nkeys; i++)
        ks_block_del(&srv.ks.blocking, b->db, b->argv[b->keys[i]].ptr, b->argv[b->keys[i]].len,
                     w->sess->id);
    if (b->timer) {
        uv_timer_stop(b->timer);
        uv_close((uv_handle_t *)b->timer, blocked_timer_closed);
    }
    if (how == BLOCKED_TIMEOUT) {
        w->out->resp = w->sess->resp;
        if (b->null_bulk)
            reply_null(w->out);
        else
            reply_null_array(w->out);
    } else if (how == BLOCKED_ERROR) {
        reply_error(w->out, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    }
    util_free(b->buf);
    util_free(b->argv);
    util_free(b->keys);
    util_free(b);
    return 0;
}

/* After w was unblocked with a reply: send it and run what waited. */
static void
blocked_resume(blocked_caller *w)
{
    if (w->bs) {
        bridge__unblocked(w->bs);
        return;
    }
    client__queue_flush(w->cl);
    /* Commands pipelined behind the blocking one run now. */
    if (!srv.serving_blocked)
        client__process(w->cl);
}

void
blocked__unblock(client *cl, int how)
{
    blocked_caller w = {&cl->sess, &cl->out, &cl->blocked, cl, NULL};
    if (blocked_release(&w, how) != 0 || how == BLOCKED_GONE)
        return;
    blocked_resume(&w);
}

void
blocked__unblock_sess(bridge_sess *s, int how)
{
    blocked_caller w = {&s->sess, &s->out, &s->blocked, NULL, s};
    if (blocked_release(&w, how) != 0 || how == BLOCKED_GONE)
        return;
    blocked_resume(&w);
}

int
blocked__unblock_id(uint64_t id, int how)
{
    blocked_caller w;
    if (blocked_find(id, &w) != 0 || blocked_release(&w, how) != 0)
        return 0;
    if (how != BLOCKED_GONE)
        blocked_resume(&w);
    return 1;
}

/* Re-runs w's blocked command; unblocks it when it replied. */
static void
blocked_rerun(blocked_caller *w)
{
    blocked_state *b = *w->slot;
    size_t mark = w->out->len;
    unsigned errors = w->out->errors;
    b->again = 0;
    dispatch__call(w->cl, w->sess, w->out, b->argc, b->argv);
    /* A key that became another type does not serve the caller: as in
     * Redis 7.0 it keeps waiting (until its deadline) instead of getting
     * WRONGTYPE from the re-run. XREADGROUP is the exception: it follows
     * Redis 7.4, where a group reader whose stream went away is told. */
    if (*w->slot == b && !b->again && w->out->errors != errors &&
        strcmp(w->out->last_err, "WRONGTYPE") == 0 &&
        !(b->argv[0].len == 10 && strncasecmp(b->argv[0].ptr, "xreadgroup", 10) == 0)) {
        w->out->len = mark;
        w->out->errors = errors;
        b->again = 1;
    }
    if (*w->slot == b && !b->again) {
        blocked_release(w, BLOCKED_SERVED);
        if (w->bs) {
            /* The reply goes now; queued requests run after the serving
             * loop (the bridge's wake list). */
            bridge__unblocked(w->bs);
            return;
        }
        /* Its pipelined commands wait for the serving loop to finish. */
        w->cl->paused = 1;
    }
    if (w->cl)
        client__queue_flush(w->cl);
}

void
blocked__serve_ready(void)
{
    int db;
    char *key;
    size_t len;
    int resumed = 0;
    if (srv.serving_blocked)
        return;
    srv.serving_blocked = 1;
    while (ks_block_pop_ready(&srv.ks.blocking, &db, &key, &len)) {
        uint64_t *ids;
        size_t n = ks_block_waiters(&srv.ks.blocking, db, key, len, &ids);
        for (size_t i = 0; i < n; i++) {
            blocked_caller w;
            if (blocked_find(ids[i], &w) == 0 && *w.slot)
                blocked_rerun(&w);
        }
        resumed += n > 0;
        util_free(ids);
        ks_block_key_free(key);
    }
    srv.serving_blocked = 0;
    if (resumed)
        client__resume_paused();
}
