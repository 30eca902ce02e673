/*
 * broker/server/bridge: the core side of protocols/bridge.h, through which
 * gateways (nng, WebSocket) running on their own threads reach the core.
 *
 *   gateway threads                      core thread
 *   bridge_open/submit/close --> inbox --> uv_async: drain the whole queue
 *        (mutex, FIFO, limit)              -> session's request queue
 *                                          -> dispatch__call (one at a time)
 *   ops->deliver  <-- outbox (FIFO) <---- replies, pushes, closes; handed
 *                     flushed before sleep  over after the log was written
 *
 * Each session is a caller like a RESP client: a cmd_session with its own
 * CLIENT ID, a reply buffer, subscriptions (pushes come through the pub/sub
 * hub's delivery callback, client__deliver, which hands gateway sessions to
 * bridge__deliver) and blocking commands (blocked.c finds sessions by id).
 * Bytes handed to a gateway are counted until it frees them, so the
 * client-output-buffer-limit of the session's class applies.
 *
 * Hot path: bridge_submit (gateway thread), bridge_drain, bridge_sess_run,
 * bridge__flush. Not here: gateway sockets (protocols/nng, protocols/ws).
 */
#include "broker/server/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/config/config.h"
#include "broker/util/glob.h"
#include "broker/util/mem.h"
#include "protocols/bridge.h"

/* Gateways one server holds (ws, nng, and room for a test one). */
#define BRIDGE_MAX_GW 4
/* Requests the inbox holds before bridge_submit answers -EAGAIN. A
 * gateway has at most a few hundred requests in flight (16 nng contexts,
 * one per WebSocket session at a time); this only stops a runaway producer
 * (nng push) from queueing unbounded memory while the core is busy. */
#define BRIDGE_INBOX_MAX 65536

enum { BRIDGE_IN_OPEN = 1, BRIDGE_IN_SUBMIT, BRIDGE_IN_CLOSE };

/* One request from a gateway thread, in one allocation. */
typedef struct bridge_item {
    struct bridge_item *next; /* inbox, then session queue */
    int kind;                 /* BRIDGE_IN_* */
    int gw;                   /* gateway id */
    uint64_t session;         /* the gateway's local id */
    uint64_t tag;             /* SUBMIT: request tag */
    int argc;                 /* SUBMIT: arguments */
    resp_arg *argv;           /* SUBMIT: into data */
    char data[];              /* OPEN: the address; SUBMIT: argv then bytes */
} bridge_item;

/* Bytes of one session in a gateway's hands: shared by the session and
 * every message it was sent, freed with the last of them. */
typedef struct bridge_acct {
    atomic_long refs;    /* owners */
    atomic_size_t bytes; /* delivered, not yet freed */
} bridge_acct;

typedef struct bridge_gw {
    char name[16];  /* "nng", "ws": its INFO section */
    bridge_ops ops; /* callbacks */
    void *gw;       /* their argument */
    char *filter;   /* stream keys for on_entry (glob, owned), NULL all */
} bridge_gw;

struct bridge {
    uv_async_t async;             /* wakes the core: inbox or wake list */
    pthread_mutex_t lock;         /* guards head, tail, count */
    bridge_item *head, *tail;     /* inbox, oldest first */
    size_t count;                 /* items in the inbox */
    atomic_int stopping;          /* 1 once the core shuts down */
    atomic_uint_fast64_t max_arg; /* proto-max-bulk-len, refreshed by the core */
    int ngw;                      /* registered gateways */
    bridge_gw gws[BRIDGE_MAX_GW]; /* by gateway id */
    /* Core thread only. */
    int started;           /* 1 between bridge__init and bridge__fini */
    ks_dict *by_local;     /* (gw, local id) -> bridge_sess */
    ks_dict *by_id;        /* CLIENT ID -> bridge_sess */
    bridge_sess *sessions; /* newest first */
    unsigned long nsess;   /* sessions open */
    bridge_sess *wake;     /* sessions to run at the next drain */
    bridge_msg *out_head;  /* outbox: messages for gateways, oldest first */
    bridge_msg *out_tail;  /* last message of the outbox */
};

static bridge bridge_core;

/* Hidden header in front of every bridge_msg (bridge_msg_free finds it). */
typedef struct bridge_outhdr {
    bridge_acct *acct; /* the session's counter (a reference), or NULL */
    size_t counted;    /* bytes counted in acct */
    int gw;            /* destination gateway */
} bridge_outhdr;
#define BRIDGE_OUTHDR_SIZE                                                                         \
    ((sizeof(bridge_outhdr) + alignof(max_align_t) - 1) / alignof(max_align_t) *                   \
     alignof(max_align_t))

static bridge_outhdr *
bridge_hdr_of(bridge_msg *m)
{
    return (bridge_outhdr *)((char *)m - BRIDGE_OUTHDR_SIZE);
}

static void
bridge_acct_unref(bridge_acct *a)
{
    if (a && atomic_fetch_sub(&a->refs, 1) == 1)
        free(a);
}

void
bridge_msg_free(bridge_msg *m)
{
    bridge_outhdr *h;
    if (m == NULL)
        return;
    h = bridge_hdr_of(m);
    if (h->acct) {
        atomic_fetch_sub(&h->acct->bytes, h->counted);
        bridge_acct_unref(h->acct);
    }
    free(h);
}

/* A message for session s (core thread), its bytes counted against s's
 * output limit unless it is a close. Never NULL. */
static bridge_msg *
bridge_msg_new(bridge_sess *s, int kind, uint64_t tag, int code, const void *data, size_t len)
{
    bridge_outhdr *h = malloc(BRIDGE_OUTHDR_SIZE + sizeof(bridge_msg) + len);
    bridge_msg *m;
    if (h == NULL)
        runnel_panic("out of memory building a gateway message");
    m = (bridge_msg *)((char *)h + BRIDGE_OUTHDR_SIZE);
    h->gw = s->gw;
    h->acct = NULL;
    h->counted = 0;
    if (kind != BRIDGE_CLOSE) {
        h->acct = s->acct;
        h->counted = len;
        atomic_fetch_add(&s->acct->refs, 1);
        atomic_fetch_add(&s->acct->bytes, len);
    }
    m->next = NULL;
    m->session = s->local;
    m->tag = tag;
    m->kind = kind;
    m->code = code;
    m->len = len;
    if (len)
        memcpy(m->data, data, len);
    return m;
}

/* Queues m in the outbox; bridge__flush hands it over before the loop
 * sleeps, after the append-only log was written. */
static void
bridge_out_push(bridge_msg *m)
{
    if (bridge_core.out_tail)
        bridge_core.out_tail->next = m;
    else
        bridge_core.out_head = m;
    bridge_core.out_tail = m;
}

void
bridge__flush(void)
{
    bridge_msg *m = bridge_core.out_head;
    bridge_core.out_head = bridge_core.out_tail = NULL;
    while (m) {
        bridge_msg *next = m->next;
        bridge_gw *g = &bridge_core.gws[bridge_hdr_of(m)->gw];
        m->next = NULL;
        if (g->ops.deliver && !atomic_load(&bridge_core.stopping))
            g->ops.deliver(g->gw, m);
        else
            bridge_msg_free(m);
        m = next;
    }
}

/* ------------------------------------------------------------------------
 * Gateway side (any thread)
 * ------------------------------------------------------------------------ */

int
bridge_register(bridge *b, const char *name, const bridge_ops *ops, void *gw)
{
    bridge_gw *g;
    if (b->ngw >= BRIDGE_MAX_GW)
        return -ENOSPC;
    g = &b->gws[b->ngw];
    snprintf(g->name, sizeof(g->name), "%s", name);
    g->ops = *ops;
    g->gw = gw;
    g->filter = NULL;
    return b->ngw++;
}

static void bridge_sess_free(bridge_sess *s, int code, const char *reason);

void
bridge_unregister(bridge *b, int gw)
{
    if (gw < 0 || gw >= b->ngw)
        return;
    for (bridge_sess *s = b->sessions, *next; s; s = next) {
        next = s->next;
        if (s->gw == gw)
            bridge_sess_free(s, 0, NULL);
    }
    memset(&b->gws[gw].ops, 0, sizeof(b->gws[gw].ops));
    b->gws[gw].gw = NULL;
}

uint64_t
bridge_max_arg(const bridge *b)
{
    return atomic_load(&((bridge *)b)->max_arg);
}

/* Appends it to the inbox and wakes the core. Returns 0, -EAGAIN over the
 * limit (SUBMIT only), -ESHUTDOWN once stopping. */
static int
bridge_push(bridge *b, bridge_item *it, int limited)
{
    int wake;
    it->next = NULL;
    pthread_mutex_lock(&b->lock);
    if (atomic_load(&b->stopping)) {
        pthread_mutex_unlock(&b->lock);
        return -ESHUTDOWN;
    }
    if (limited && b->count >= BRIDGE_INBOX_MAX) {
        pthread_mutex_unlock(&b->lock);
        return -EAGAIN;
    }
    if (b->tail)
        b->tail->next = it;
    else
        b->head = it;
    b->tail = it;
    wake = b->count++ == 0;
    pthread_mutex_unlock(&b->lock);
    /* Wake-ups coalesce; the first item of a batch is enough. The async
     * handle is closed only after every gateway stopped. */
    if (wake)
        uv_async_send(&b->async);
    return 0;
}

int
bridge_open(bridge *b, int gw, uint64_t session, const char *addr)
{
    size_t alen = addr ? strlen(addr) : 0;
    bridge_item *it = malloc(sizeof(*it) + alen + 1);
    int rc;
    if (it == NULL)
        return -ENOMEM;
    it->kind = BRIDGE_IN_OPEN;
    it->gw = gw;
    it->session = session;
    it->tag = 0;
    it->argc = 0;
    it->argv = NULL;
    memcpy(it->data, addr ? addr : "", alen + 1);
    rc = bridge_push(b, it, 0);
    if (rc != 0)
        free(it);
    return rc;
}

int
bridge_submit(bridge *b, int gw, uint64_t session, uint64_t tag, int argc, const char *const *argv,
              const size_t *lens)
{
    uint64_t max = atomic_load(&b->max_arg);
    size_t total = 0;
    bridge_item *it;
    char *p;
    int rc;
    if (argc <= 0)
        return -EINVAL;
    for (int i = 0; i < argc; i++) {
        if (lens[i] > max)
            return -E2BIG;
        total += lens[i];
    }
    it = malloc(sizeof(*it) + (size_t)argc * sizeof(resp_arg) + total);
    if (it == NULL)
        return -ENOMEM;
    it->kind = BRIDGE_IN_SUBMIT;
    it->gw = gw;
    it->session = session;
    it->tag = tag;
    it->argc = argc;
    it->argv = (resp_arg *)(void *)it->data;
    p = it->data + (size_t)argc * sizeof(resp_arg);
    for (int i = 0; i < argc; i++) {
        if (lens[i])
            memcpy(p, argv[i], lens[i]);
        it->argv[i].ptr = p;
        it->argv[i].len = lens[i];
        p += lens[i];
    }
    rc = bridge_push(b, it, 1);
    if (rc != 0)
        free(it);
    return rc;
}

void
bridge_close(bridge *b, int gw, uint64_t session)
{
    bridge_item *it = malloc(sizeof(*it));
    if (it == NULL)
        return; /* the session goes at shutdown */
    it->kind = BRIDGE_IN_CLOSE;
    it->gw = gw;
    it->session = session;
    it->tag = 0;
    it->argc = 0;
    it->argv = NULL;
    if (bridge_push(b, it, 0) != 0)
        free(it);
}

/* ------------------------------------------------------------------------
 * Sessions (core thread)
 * ------------------------------------------------------------------------ */

typedef struct bridge_key {
    uint64_t gw;    /* gateway id */
    uint64_t local; /* its session id */
} bridge_key;

static bridge_sess *
bridge_sess_find(int gw, uint64_t local)
{
    bridge_key k = {(uint64_t)gw, local};
    ks_dict_entry *e;
    if (bridge_core.by_local == NULL)
        return NULL;
    e = ks_dict_find(bridge_core.by_local, &k, sizeof(k));
    return e ? ks_dict_entry_val(e) : NULL;
}

bridge_sess *
bridge__sess_by_id(uint64_t id)
{
    ks_dict_entry *e;
    if (bridge_core.by_id == NULL || bridge_core.nsess == 0)
        return NULL;
    e = ks_dict_find(bridge_core.by_id, &id, sizeof(id));
    return e ? ks_dict_entry_val(e) : NULL;
}

bridge_sess *
bridge__first(void)
{
    return bridge_core.sessions;
}

unsigned long
bridge__count(void)
{
    return bridge_core.nsess;
}

static void
bridge_sess_open(int gw, uint64_t local, const char *addr)
{
    bridge_key k = {(uint64_t)gw, local};
    bridge_sess *s;
    if (gw < 0 || gw >= bridge_core.ngw || bridge_sess_find(gw, local))
        return; /* a gateway bug; the old session stays */
    s = util_calloc(1, sizeof(*s));
    s->sess.id = ++srv.next_client_id;
    s->sess.resp = 3;
    s->sess.authed = config.requirepass[0] == '\0';
    s->sess.gateway = 1;
    reply_init(&s->out, 3);
    s->gw = gw;
    s->local = local;
    s->acct = util_calloc(1, sizeof(*s->acct));
    atomic_init(&s->acct->refs, 1);
    atomic_init(&s->acct->bytes, 0);
    s->ctime_ms = s->last_ms = server_now_ms();
    snprintf(s->addr, sizeof(s->addr), "%s", addr);
    if (ks_dict_add(bridge_core.by_local, &k, sizeof(k), s) == NULL ||
        ks_dict_add(bridge_core.by_id, &s->sess.id, sizeof(s->sess.id), s) == NULL)
        runnel_panic("out of memory indexing a gateway session");
    s->next = bridge_core.sessions;
    if (s->next)
        s->next->prev = s;
    bridge_core.sessions = s;
    bridge_core.nsess++;
    srv.stat_conns++;
}

/* Frees s; with code > 0 the gateway is told (BRIDGE_CLOSE) after every
 * message already queued for it. */
static void
bridge_sess_free(bridge_sess *s, int code, const char *reason)
{
    bridge_key k = {(uint64_t)s->gw, s->local};
    if (code > 0)
        bridge_out_push(bridge_msg_new(s, BRIDGE_CLOSE, 0, code, reason, strlen(reason)));
    ks_dict_del(bridge_core.by_local, &k, sizeof(k), NULL);
    ks_dict_del(bridge_core.by_id, &s->sess.id, sizeof(s->sess.id), NULL);
    if (s->prev)
        s->prev->next = s->next;
    else
        bridge_core.sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    bridge_core.nsess--;
    /* Unlink from the wake list. */
    for (bridge_sess **pp = &bridge_core.wake; *pp; pp = &(*pp)->wnext) {
        if (*pp == s) {
            *pp = s->wnext;
            break;
        }
    }
    blocked__unblock_sess(s, BLOCKED_GONE);
    if (srv.pubsub)
        pubsub_drop(srv.pubsub, s->sess.id);
    if (s->sess.flags & SESS_MONITOR)
        srv.nmonitors--;
    cmd_tx_free(&s->sess);
    util_free(s->sess.name);
    while (s->qhead) {
        bridge_item *it = s->qhead;
        s->qhead = it->next;
        free(it);
    }
    reply_fini(&s->out);
    bridge_acct_unref(s->acct);
    util_free(s);
}

/* Queues s to run its waiting requests at the next drain. */
static void
bridge_sess_wake(bridge_sess *s)
{
    if (s->woken)
        return;
    s->woken = 1;
    s->wnext = bridge_core.wake;
    bridge_core.wake = s;
    uv_async_send(&bridge_core.async);
}

/*
 * Enforces client-output-buffer-limit on the bytes s has in its gateway's
 * hands, with the class of its session (pubsub once it subscribed), as for
 * a RESP client. Over it, s is closed at the next drain (never in the
 * middle of a publish). Returns 1 when it is over.
 */
static int
bridge_sess_obuf_check(bridge_sess *s)
{
    int cls = (s->sess.flags & SESS_PUBSUB) ? CONFIG_OBUF_PUBSUB : CONFIG_OBUF_NORMAL;
    unsigned long long hard = config.obuf_hard[cls], soft = config.obuf_soft[cls];
    unsigned long long used = atomic_load(&s->acct->bytes);
    int64_t now_s;
    int over = 0;
    if (s->close_asap)
        return 1;
    if (hard == 0 && soft == 0)
        return 0;
    now_s = server_now_ms() / 1000;
    if (hard && used >= hard)
        over = 1;
    if (soft && used >= soft) {
        if (s->obuf_soft_since == 0)
            s->obuf_soft_since = now_s;
        else if (now_s - s->obuf_soft_since > config.obuf_soft_secs[cls])
            over = 1;
    } else {
        s->obuf_soft_since = 0;
    }
    if (!over)
        return 0;
    server_log(CONFIG_LL_WARNING,
               "Gateway session id=%llu addr=%s closed for overcoming of output buffer limits.",
               (unsigned long long)s->sess.id, s->addr);
    s->close_asap = 1;
    s->close_reason = "output buffer limit";
    bridge_sess_wake(s);
    return 1;
}

void
bridge__kill(bridge_sess *s)
{
    if (s->close_asap)
        return;
    s->close_asap = 1;
    s->close_reason = "killed";
    bridge_sess_wake(s);
}

const char *
bridge__gw_name(const bridge_sess *s)
{
    return bridge_core.gws[s->gw].name;
}

/* Sends the reply bytes of s's current request, if any (none after
 * CLIENT REPLY OFF/SKIP). */
static void
bridge_sess_reply(bridge_sess *s)
{
    if (s->out.len > 0 && (s->tag & BRIDGE_TAG_ERRORS_ONLY) && s->out.buf[0] != '-' &&
        s->out.buf[0] != '!') {
        reply_reset(&s->out);
        return;
    }
    if (s->out.len > 0) {
        bridge_out_push(bridge_msg_new(s, BRIDGE_REPLY, s->tag, 0, s->out.buf, s->out.len));
        reply_reset(&s->out);
        bridge_sess_obuf_check(s);
    }
}

/* Runs s's waiting requests in order until one blocks. Returns 1 when s
 * was freed. */
static int
bridge_sess_run(bridge_sess *s)
{
    while (s->qhead && !s->blocked && !s->close_asap) {
        bridge_item *it = s->qhead;
        s->qhead = it->next;
        if (s->qhead == NULL)
            s->qtail = NULL;
        s->tag = it->tag;
        s->out.resp = s->sess.resp;
        s->last_ms = server_now_ms();
        dispatch__call(NULL, &s->sess, &s->out, it->argc, it->argv);
        /* Producers repeat one command: skip the lookup when it matches. */
        if (!(s->last_cmd && s->last_cmd->parent == NULL &&
              strlen(s->last_cmd->name) == it->argv[0].len &&
              strncasecmp(s->last_cmd->name, it->argv[0].ptr, it->argv[0].len) == 0))
            s->last_cmd = cmd_lookup(it->argv[0].ptr, it->argv[0].len);
        s->tot_cmds++;
        free(it);
        if (s->blocked)
            break; /* the reply comes when it is served */
        bridge_sess_reply(s);
        if (s->sess.flags & SESS_CLOSE_AFTER_REPLY) {
            bridge_sess_free(s, 1000, "quit");
            return 1;
        }
    }
    if (s->close_asap) {
        bridge_sess_free(s, 1008, s->close_reason);
        return 1;
    }
    return 0;
}

void
bridge__unblocked(bridge_sess *s)
{
    bridge_sess_reply(s);
    bridge_sess_wake(s);
}

void
bridge__deliver(cmd_session *sess, pubsub_msg *m)
{
    bridge_sess *s = (bridge_sess *)(void *)((char *)sess - offsetof(bridge_sess, sess));
    pubsub_buf *f;
    if (s->close_asap)
        return;
    f = pubsub_msg_frame(m, s->sess.resp);
    bridge_out_push(bridge_msg_new(s, BRIDGE_PUSH, 0, 0, f->data, f->len));
    bridge_sess_obuf_check(s);
}

/* ------------------------------------------------------------------------
 * The inbox (core thread)
 * ------------------------------------------------------------------------ */

static void
bridge_drain(uv_async_t *a)
{
    bridge_item *it;
    bridge_sess *wake;
    (void)a;
    atomic_store(&bridge_core.max_arg, (uint_fast64_t)config.proto_max_bulk_len);
    /* Sessions woken since (unblocked, over a limit) run first: their
     * requests are older than anything in the inbox. */
    wake = bridge_core.wake;
    bridge_core.wake = NULL;
    while (wake) {
        bridge_sess *s = wake;
        wake = s->wnext;
        s->woken = 0;
        s->wnext = NULL;
        bridge_sess_run(s);
    }
    pthread_mutex_lock(&bridge_core.lock);
    it = bridge_core.head;
    bridge_core.head = bridge_core.tail = NULL;
    bridge_core.count = 0;
    pthread_mutex_unlock(&bridge_core.lock);
    while (it) {
        bridge_item *next = it->next;
        bridge_sess *s = bridge_sess_find(it->gw, it->session);
        it->next = NULL;
        if (it->kind == BRIDGE_IN_OPEN) {
            bridge_sess_open(it->gw, it->session, it->data);
            free(it);
        } else if (it->kind == BRIDGE_IN_CLOSE) {
            if (s)
                bridge_sess_free(s, 0, NULL);
            free(it);
        } else if (s == NULL || srv.shutting_down) {
            free(it); /* closed meanwhile: nothing is delivered for it */
        } else {
            if (s->qtail)
                s->qtail->next = it;
            else
                s->qhead = it;
            s->qtail = it;
            if (!s->blocked)
                bridge_sess_run(s);
        }
        it = next;
    }
}

/* ------------------------------------------------------------------------
 * Taps
 * ------------------------------------------------------------------------ */

void
bridge__published(int sharded, const void *channel, size_t clen, const void *msg, size_t mlen)
{
    for (int i = 0; i < bridge_core.ngw; i++) {
        bridge_gw *g = &bridge_core.gws[i];
        if (g->ops.on_publish)
            g->ops.on_publish(g->gw, sharded, channel, clen, msg, mlen);
    }
}

void
bridge__entry_filter(int gw, const char *glob)
{
    if (gw < 0 || gw >= bridge_core.ngw)
        return;
    util_free(bridge_core.gws[gw].filter);
    bridge_core.gws[gw].filter = glob ? util_strdup(glob) : NULL;
}

void
bridge__entry_added(cmd_ctx *c, const void *key, size_t klen, uint64_t ms, uint64_t seq,
                    int nfields, const resp_arg *fields)
{
    reply map;
    char id[48];
    int idlen = 0, built = 0;
    for (int i = 0; i < bridge_core.ngw; i++) {
        bridge_gw *g = &bridge_core.gws[i];
        if (g->ops.on_entry == NULL)
            continue;
        if (g->filter &&
            (g->filter[0] == '\0' || !util_glob_match(g->filter, strlen(g->filter), key, klen, 0)))
            continue;
        if (!built) {
            reply_init(&map, 3);
            reply_map(&map, nfields / 2);
            for (int k = 0; k < nfields; k++)
                reply_bulk(&map, fields[k].ptr, fields[k].len);
            idlen = snprintf(id, sizeof(id), "%llu-%llu", (unsigned long long)ms,
                             (unsigned long long)seq);
            built = 1;
        }
        g->ops.on_entry(g->gw, c->db->id, key, klen, id, (size_t)idlen, map.buf, map.len);
    }
    if (built)
        reply_fini(&map);
}

/* ------------------------------------------------------------------------
 * INFO and CLIENT LIST
 * ------------------------------------------------------------------------ */

int
bridge__has_section(const char *name, size_t len)
{
    for (int i = 0; i < bridge_core.ngw; i++) {
        const bridge_gw *g = &bridge_core.gws[i];
        if (g->ops.info && strlen(g->name) == len && strncasecmp(g->name, name, len) == 0)
            return 1;
    }
    return 0;
}

size_t
bridge__info(const char *name, size_t len, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < bridge_core.ngw && used + 3 < cap; i++) {
        bridge_gw *g = &bridge_core.gws[i];
        if (g->ops.info == NULL)
            continue;
        if (name && !(strlen(g->name) == len && strncasecmp(g->name, name, len) == 0))
            continue;
        if (used > 0) {
            memcpy(buf + used, "\r\n", 3);
            used += 2;
        }
        used += g->ops.info(g->gw, buf + used, cap - used);
        if (used >= cap)
            used = cap - 1;
        buf[used] = '\0';
    }
    return used;
}

void
bridge__info_line(bridge_sess *s, char *buf, size_t cap)
{
    char flags[8], *p = flags, cmdname[96];
    int64_t now = server_now_ms();
    if (s->blocked)
        *p++ = 'b';
    if (s->sess.flags & SESS_PUBSUB)
        *p++ = 'P';
    if (p == flags)
        *p++ = 'N';
    *p = '\0';
    if (s->last_cmd)
        cmd_fullname(s->last_cmd, cmdname, sizeof(cmdname));
    else
        strcpy(cmdname, "NULL");
    snprintf(buf, cap,
             "id=%llu addr=%s laddr=%s fd=-1 name=%s age=%lld idle=%lld flags=%s db=%d sub=%zu "
             "psub=%zu ssub=%zu multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=%zu "
             "rbp=0 obl=0 oll=0 omem=%zu tot-mem=%zu events=r cmd=%s user=default redir=-1 "
             "resp=%d",
             (unsigned long long)s->sess.id, s->addr, bridge_core.gws[s->gw].name,
             s->sess.name ? s->sess.name : "", (long long)((now - s->ctime_ms) / 1000),
             (long long)((now - s->last_ms) / 1000), flags, s->sess.db,
             pubsub_count(srv.pubsub, PUBSUB_CHANNEL, s->sess.id),
             pubsub_count(srv.pubsub, PUBSUB_PATTERN, s->sess.id),
             pubsub_count(srv.pubsub, PUBSUB_SHARD, s->sess.id), s->out.cap,
             (size_t)atomic_load(&s->acct->bytes), sizeof(*s) + s->out.cap, cmdname, s->sess.resp);
}

/* ------------------------------------------------------------------------
 * Lifecycle (core thread)
 * ------------------------------------------------------------------------ */

bridge *
bridge__init(void)
{
    bridge *b = &bridge_core;
    if (b->started)
        return b;
    pthread_mutex_init(&b->lock, NULL);
    uv_async_init(srv.loop, &b->async, bridge_drain);
    atomic_init(&b->stopping, 0);
    atomic_init(&b->max_arg, (uint_fast64_t)config.proto_max_bulk_len);
    b->by_local = ks_dict_new();
    b->by_id = ks_dict_new();
    b->started = 1;
    srv.host.published = bridge__published;
    srv.host.entry_added = bridge__entry_added;
    return b;
}

void
bridge__shutdown(void)
{
    bridge *b = &bridge_core;
    if (!b->started || atomic_load(&b->stopping))
        return;
    /* Replies already built go first, then one close per session. */
    while (b->sessions)
        bridge_sess_free(b->sessions, 1001, "shutdown");
    bridge__flush();
    pthread_mutex_lock(&b->lock);
    atomic_store(&b->stopping, 1);
    pthread_mutex_unlock(&b->lock);
    srv.host.published = NULL;
    srv.host.entry_added = NULL;
}

void
bridge__fini(void)
{
    bridge *b = &bridge_core;
    bridge_item *it;
    if (!b->started)
        return;
    while (b->sessions)
        bridge_sess_free(b->sessions, 0, NULL);
    atomic_store(&b->stopping, 1);
    bridge__flush(); /* frees: nothing is delivered once stopping */
    it = b->head;
    while (it) {
        bridge_item *next = it->next;
        free(it);
        it = next;
    }
    b->head = b->tail = NULL;
    b->count = 0;
    for (int i = 0; i < b->ngw; i++)
        util_free(b->gws[i].filter);
    b->ngw = 0;
    ks_dict_free(b->by_local, NULL);
    ks_dict_free(b->by_id, NULL);
    b->by_local = b->by_id = NULL;
    pthread_mutex_destroy(&b->lock);
    b->started = 0;
}
