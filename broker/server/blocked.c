/*
 * broker/server/blocked: clients waiting in a blocking command (XREAD
 * BLOCK, and later BLPOP, XREADGROUP BLOCK, ...).
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
    client *cl;        /* back pointer for the timer */
} blocked_state;

client *
blocked__client_by_id(uint64_t id)
{
    ks_dict_entry *e = ks_dict_find(srv.clients_by_id, &id, sizeof(id));
    return e ? ks_dict_entry_val(e) : NULL;
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
    blocked__unblock(b->cl, BLOCKED_TIMEOUT);
}

int
blocked__block(cmd_ctx *c, int argc, const resp_arg *argv, const int *keys, int nkeys,
               int64_t deadline_ms, int null_bulk)
{
    client *cl = blocked__client_by_id(c->sess->id);
    blocked_state *b;
    size_t total = 0, off = 0;
    if (cl == NULL || &cl->sess != c->sess)
        return -1; /* not a RESP client: gateways and scripts cannot wait */
    if (c->sess->flags & SESS_IN_EXEC)
        return -1; /* inside EXEC a blocking command answers at once */
    if (cl->blocked) {
        /* A re-run found nothing yet: keep waiting, same deadline. */
        cl->blocked->again = 1;
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
    b->cl = cl;
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
    cl->blocked = b;
    srv.nblocked++;
    return 0;
}

void
blocked__unblock(client *cl, int how)
{
    blocked_state *b = cl->blocked;
    if (b == NULL)
        return;
    cl->blocked = NULL;
    srv.nblocked--;
    for (int i = 0; i < b->nkeys; i++)
        ks_block_del(&srv.ks.blocking, b->db, b->argv[b->keys[i]].ptr, b->argv[b->keys[i]].len,
                     cl->sess.id);
    if (b->timer) {
        uv_timer_stop(b->timer);
        uv_close((uv_handle_t *)b->timer, blocked_timer_closed);
    }
    if (how == BLOCKED_TIMEOUT) {
        cl->out.resp = cl->sess.resp;
        if (b->null_bulk)
            reply_null(&cl->out);
        else
            reply_null_array(&cl->out);
    } else if (how == BLOCKED_ERROR) {
        reply_error(&cl->out, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    }
    util_free(b->buf);
    util_free(b->argv);
    util_free(b->keys);
    util_free(b);
    if (how == BLOCKED_GONE)
        return;
    client__queue_flush(cl);
    /* Commands pipelined behind the blocking one run now. */
    if (!srv.serving_blocked)
        client__process(cl);
}

/* Re-runs cl's blocked command; unblocks it when it replied. */
static void
blocked_rerun(client *cl)
{
    blocked_state *b = cl->blocked;
    b->again = 0;
    dispatch__call(cl, &cl->sess, &cl->out, b->argc, b->argv);
    if (cl->blocked == b && !b->again) {
        blocked__unblock(cl, BLOCKED_SERVED);
        /* Its pipelined commands wait for the serving loop to finish. */
        cl->paused = 1;
    }
    client__queue_flush(cl);
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
            client *cl = blocked__client_by_id(ids[i]);
            if (cl && cl->blocked && !cl->closing)
                blocked_rerun(cl);
        }
        resumed += n > 0;
        util_free(ids);
        ks_block_key_free(key);
    }
    srv.serving_blocked = 0;
    if (resumed)
        client__resume_paused();
}
