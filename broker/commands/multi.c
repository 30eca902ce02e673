/*
 * broker/commands/multi: transactions. MULTI, DISCARD, WATCH, UNWATCH and
 * the EXEC entry (run by the server, which owns the dispatcher), the
 * per-session queue of commands and the registry of watched keys.
 *
 * A session in MULTI has its commands copied into its cmd_tx queue by the
 * dispatcher (which replies +QUEUED, or an error that flags the session
 * SESS_MULTI_ERR so EXEC aborts). WATCH records (db, key) pairs in the
 * session and in one process-wide dict from "db id + key" to the sessions
 * watching it; cmd_key_changed() and the flush/swap/expiry paths "touch" a
 * key, which flags every watcher SESS_DIRTY_CAS, and EXEC then answers a
 * null array without running anything.
 *
 * Hot path: cmd_watch_touch() on every changed key, one dict lookup that
 * is skipped while nothing is watched.
 */
#include <errno.h>
#include <string.h>

#include "broker/commands/families.h"
#include "broker/keyspace/dict.h"
#include "broker/util/mem.h"

/* One queued command: its arguments copied into one buffer. */
typedef struct tx_cmd {
    int argc;       /* arguments */
    resp_arg *argv; /* pointers into buf */
    char *buf;      /* argument bytes, owned */
} tx_cmd;

/* One watched key of a session. */
typedef struct tx_watch {
    int db;      /* database id */
    char *key;   /* key bytes, owned */
    size_t len;  /* key length */
    int expired; /* 1 when it was already logically expired at WATCH */
} tx_watch;

struct cmd_tx {
    tx_cmd *q;   /* queued commands, in order */
    int nq;      /* commands queued */
    int capq;    /* slots in q */
    tx_watch *w; /* watched keys */
    size_t nw;   /* keys watched */
    size_t capw; /* slots in w */
};

/* Watchers of one (db, key): the sessions, unordered. */
typedef struct tx_watchers {
    cmd_session **s; /* borrowed sessions */
    size_t n;        /* sessions */
    size_t cap;      /* slots */
} tx_watchers;

static ks_dict *tx_registry; /* "db id (4 bytes) + key" -> tx_watchers *, owned */

/* ---- Registry ---- */

/* Builds the registry key for (db, key) into a heap buffer. */
static char *
tx_regkey(int db, const void *key, size_t len, size_t *out_len)
{
    char *k = util_malloc(len + 4);
    uint32_t d = (uint32_t)db;
    memcpy(k, &d, 4);
    if (len)
        memcpy(k + 4, key, len);
    *out_len = len + 4;
    return k;
}

static void
tx_watchers_free(void *p)
{
    tx_watchers *w = p;
    if (w) {
        util_free(w->s);
        util_free(w);
    }
}

static tx_watchers *
tx_watchers_find(int db, const void *key, size_t len)
{
    ks_dict_entry *e;
    size_t klen;
    char *k;
    if (tx_registry == NULL || ks_dict_count(tx_registry) == 0)
        return NULL;
    k = tx_regkey(db, key, len, &klen);
    e = ks_dict_find(tx_registry, k, klen);
    util_free(k);
    return e ? ks_dict_entry_val(e) : NULL;
}

static cmd_tx *
tx_get(cmd_session *s)
{
    if (s->tx == NULL)
        s->tx = util_calloc(1, sizeof(*s->tx));
    return s->tx;
}

/* Adds s as a watcher of (db, key) unless it already watches it. */
static void
tx_watch_add(cmd_session *s, int db, const void *key, size_t len, int expired)
{
    cmd_tx *tx = tx_get(s);
    ks_dict_entry *e;
    tx_watchers *w;
    size_t klen;
    char *k;
    int existed;

    for (size_t i = 0; i < tx->nw; i++)
        if (tx->w[i].db == db && tx->w[i].len == len && memcmp(tx->w[i].key, key, len) == 0)
            return;
    if (tx->nw == tx->capw) {
        tx->capw = tx->capw ? tx->capw * 2 : 4;
        tx->w = util_realloc(tx->w, tx->capw * sizeof(*tx->w));
    }
    tx->w[tx->nw].db = db;
    tx->w[tx->nw].key = util_memdup(key, len ? len : 1);
    tx->w[tx->nw].len = len;
    tx->w[tx->nw].expired = expired;
    tx->nw++;

    if (tx_registry == NULL)
        tx_registry = ks_dict_new();
    k = tx_regkey(db, key, len, &klen);
    e = ks_dict_add_or_find(tx_registry, k, klen, &existed);
    util_free(k);
    w = existed ? ks_dict_entry_val(e) : NULL;
    if (w == NULL) {
        w = util_calloc(1, sizeof(*w));
        ks_dict_entry_set_val(e, w);
    }
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 2;
        w->s = util_realloc(w->s, w->cap * sizeof(*w->s));
    }
    w->s[w->n++] = s;
}

/* Forgets every key s watches. O(keys watched x watchers per key). */
static void
tx_unwatch_all(cmd_session *s)
{
    cmd_tx *tx = s->tx;
    if (tx == NULL)
        return;
    for (size_t i = 0; i < tx->nw; i++) {
        tx_watchers *w = tx_watchers_find(tx->w[i].db, tx->w[i].key, tx->w[i].len);
        if (w) {
            for (size_t j = 0; j < w->n; j++) {
                if (w->s[j] == s) {
                    w->s[j] = w->s[--w->n];
                    break;
                }
            }
            if (w->n == 0) {
                size_t klen;
                char *k = tx_regkey(tx->w[i].db, tx->w[i].key, tx->w[i].len, &klen);
                ks_dict_del(tx_registry, k, klen, tx_watchers_free);
                util_free(k);
            }
        }
        util_free(tx->w[i].key);
    }
    tx->nw = 0;
    s->flags &= ~SESS_DIRTY_CAS;
}

/* ---- Queue ---- */

void
cmd_tx_queue(cmd_session *s, int argc, const resp_arg *argv)
{
    cmd_tx *tx = tx_get(s);
    size_t total = 0, off = 0;
    tx_cmd *q;
    if (tx->nq == tx->capq) {
        tx->capq = tx->capq ? tx->capq * 2 : 4;
        tx->q = util_realloc(tx->q, (size_t)tx->capq * sizeof(*tx->q));
    }
    q = &tx->q[tx->nq++];
    for (int i = 0; i < argc; i++)
        total += argv[i].len;
    q->buf = util_malloc(total ? total : 1);
    q->argv = util_malloc((size_t)argc * sizeof(*q->argv));
    for (int i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(q->buf + off, argv[i].ptr, argv[i].len);
        q->argv[i].ptr = q->buf + off;
        q->argv[i].len = argv[i].len;
        off += argv[i].len;
    }
    q->argc = argc;
}

int
cmd_tx_count(const cmd_session *s)
{
    return s->tx ? s->tx->nq : 0;
}

const resp_arg *
cmd_tx_at(const cmd_session *s, int i, int *argc)
{
    *argc = s->tx->q[i].argc;
    return s->tx->q[i].argv;
}

void
cmd_tx_discard(cmd_session *s)
{
    cmd_tx *tx = s->tx;
    s->flags &= ~(SESS_MULTI | SESS_MULTI_ERR);
    if (tx == NULL)
        return;
    for (int i = 0; i < tx->nq; i++) {
        util_free(tx->q[i].buf);
        util_free(tx->q[i].argv);
    }
    tx->nq = 0;
    tx_unwatch_all(s);
}

void
cmd_tx_free(cmd_session *s)
{
    if (s->tx == NULL)
        return;
    cmd_tx_discard(s);
    util_free(s->tx->q);
    util_free(s->tx->w);
    util_free(s->tx);
    s->tx = NULL;
    if (tx_registry && ks_dict_count(tx_registry) == 0) {
        ks_dict_free(tx_registry, tx_watchers_free);
        tx_registry = NULL;
    }
}

/* ---- Touching ---- */

/* 1 when key is still stored in db but its expiry has passed. */
static int
tx_logically_expired(ks_db *db, const void *key, size_t len, int64_t now_ms)
{
    return ks_dict_find(db->keys, key, len) != NULL && !ks_exists(db->space, db, key, len, now_ms);
}

void
cmd_watch_touch(int db, const void *key, size_t len)
{
    tx_watchers *w = tx_watchers_find(db, key, len);
    if (w)
        for (size_t i = 0; i < w->n; i++)
            w->s[i]->flags |= SESS_DIRTY_CAS;
}

/* Touches every watched key of db that exists in db, or (when other is not
 * NULL) in other: what FLUSHDB/FLUSHALL (other NULL) and SWAPDB (db and
 * other trade contents) change. Call it before the change. */
void
cmd_watch_touch_db(ks_db *db, ks_db *other, int64_t now_ms)
{
    ks_dict_iter it;
    ks_dict_entry *e;
    if (tx_registry == NULL || ks_dict_count(tx_registry) == 0)
        return;
    ks_dict_iter_start(&it, tx_registry);
    while ((e = ks_dict_iter_next(&it)) != NULL) {
        size_t klen;
        const char *k = ks_dict_entry_key(e, &klen);
        uint32_t id;
        tx_watchers *w = ks_dict_entry_val(e);
        memcpy(&id, k, 4);
        if ((int)id != db->id)
            continue;
        if (!ks_exists(db->space, db, k + 4, klen - 4, now_ms) &&
            (other == NULL || !ks_exists(other->space, other, k + 4, klen - 4, now_ms)))
            continue;
        for (size_t i = 0; i < w->n; i++)
            w->s[i]->flags |= SESS_DIRTY_CAS;
    }
    ks_dict_iter_stop(&it);
}

int
cmd_watch_expired(const cmd_session *s, ks_space *ks, int64_t now_ms)
{
    const cmd_tx *tx = s->tx;
    if (tx == NULL)
        return 0;
    for (size_t i = 0; i < tx->nw; i++) {
        const tx_watch *w = &tx->w[i];
        if (w->expired || w->db < 0 || w->db >= ks->count)
            continue;
        if (tx_logically_expired(&ks->dbs[w->db], w->key, w->len, now_ms))
            return 1;
    }
    return 0;
}

/* ---- Commands ---- */

static void
cmd_multi(cmd_ctx *c)
{
    if (c->sess->flags & SESS_MULTI) {
        reply_error(c->r, "ERR MULTI calls can not be nested");
        return;
    }
    c->sess->flags |= SESS_MULTI;
    reply_ok(c->r);
}

static void
cmd_discard(cmd_ctx *c)
{
    if (!(c->sess->flags & SESS_MULTI)) {
        reply_error(c->r, "ERR DISCARD without MULTI");
        return;
    }
    cmd_tx_discard(c->sess);
    reply_ok(c->r);
}

static void
cmd_exec(cmd_ctx *c)
{
    c->host->exec(c);
}

static void
cmd_watch(cmd_ctx *c)
{
    if (c->sess->flags & SESS_MULTI) {
        reply_error(c->r, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    /* Already doomed: watching more changes nothing. */
    if (!(c->sess->flags & SESS_DIRTY_CAS)) {
        for (int i = 1; i < c->argc; i++) {
            const resp_arg *k = &c->argv[i];
            int expired = tx_logically_expired(c->db, k->ptr, k->len, c->now_ms);
            tx_watch_add(c->sess, c->db->id, k->ptr, k->len, expired);
        }
    }
    reply_ok(c->r);
}

static void
cmd_unwatch(cmd_ctx *c)
{
    tx_unwatch_all(c->sess);
    reply_ok(c->r);
}

#define TX_FLAGS (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

cmd_def cmd_multi_defs[] = {
    {"multi", cmd_multi, 1, TX_FLAGS | CMD_FAST | CMD_ALLOW_BUSY, ACL_TRANSACTION, 0, 0, 0,
     "Mark the start of a transaction block", "1.2.0", "transactions", "O(1)"},
    {"exec", cmd_exec, 1, TX_FLAGS | CMD_SKIP_SLOWLOG, ACL_TRANSACTION, 0, 0, 0,
     "Execute all commands issued after MULTI", "1.2.0", "transactions",
     "Depends on commands in the transaction"},
    {"discard", cmd_discard, 1, TX_FLAGS | CMD_FAST | CMD_ALLOW_BUSY, ACL_TRANSACTION, 0, 0, 0,
     "Discard all commands issued after MULTI", "2.0.0", "transactions",
     "O(N), when N is the number of queued commands"},
    {"watch", cmd_watch, -2, TX_FLAGS | CMD_FAST | CMD_ALLOW_BUSY, ACL_TRANSACTION, 1, -1, 1,
     "Watch the given keys to determine execution of the MULTI/EXEC block", "2.2.0", "transactions",
     "O(1) for every key.", .keyspecs = {{.flags = "RO", .begin = 1, .lastkey = -1, .keystep = 1}}},
    {"unwatch", cmd_unwatch, 1, TX_FLAGS | CMD_FAST | CMD_ALLOW_BUSY, ACL_TRANSACTION, 0, 0, 0,
     "Forget about all watched keys", "2.2.0", "transactions", "O(1)"},
    {0},
};
