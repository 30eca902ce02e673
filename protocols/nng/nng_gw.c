/*
 * protocols/nng/nng_gw: the nng gateway (rep0 requests, pub0 fan-out,
 * pull0 ingestion) on nng's threads, talking to the core over the bridge.
 *
 * rep0 runs nctx contexts, each with one aio cycling through
 *
 *   RECV --request--> WAIT (submitted; the core owns the turn)
 *     ^                 | deliver(): the reply, on the core thread
 *     +------ SEND <----+
 *
 * A request names its context in the bridge tag (index | generation << 32).
 * A pipe that goes away while its request waits bumps the generation and
 * puts the context back to RECV, so a late reply is dropped and no context
 * is ever stuck. The set of live pipes decides whether a request is
 * submitted at all (a request racing its pipe's removal is dropped).
 * pull0 has one aio, so one pipe's commands reach the core in order.
 *
 * Hot path: nngt_rep_cb, nngt_pull_cb, nngt_deliver, nngt_on_publish.
 */
#include "protocols/nng/nng_gw.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>

#include "protocols/resp/resp.h"

#define NNGT_DEFAULT_CONTEXTS 16
/* Tag of pull0 commands: only error replies come back (and are counted). */
#define NNGT_TAG_PULL BRIDGE_TAG_ERRORS_ONLY
/* Bytes a request may have beyond one proto-max-bulk-len argument (the
 * RESP framing and the other arguments); nng drops the pipe past it. */
#define NNGT_RECV_SLACK (1024 * 1024)
/* Wait before retrying a submit the full inbox refused. */
#define NNGT_RETRY_MS 1

enum { NNGT_IDLE = 0, NNGT_RECV, NNGT_WAIT, NNGT_SEND, NNGT_RETRY };

typedef struct nngt_ctx {
    struct nngt *g;      /* the gateway */
    int idx;             /* index in g->ctxs */
    nng_ctx ctx;         /* rep0 context */
    nng_aio *aio;        /* its only aio */
    pthread_mutex_t mtx; /* guards state, gen, pipe, req */
    int state;           /* NNGT_* */
    uint32_t gen;        /* bumped when a waiting request is abandoned */
    uint32_t pipe;       /* pipe of the request in WAIT/RETRY */
    nng_msg *req;        /* request kept while RETRY waits */
    resp_parser parser;  /* decodes the request body */
} nngt_ctx;

struct nngt {
    bridge *b;                    /* the core */
    int gw;                       /* bridge gateway id */
    void (*log)(const char *msg); /* rate-limited warnings, or NULL */
    char rep_url[256];            /* endpoints, "" off */
    char pub_url[256];
    char pull_url[256];
    int has_rep, has_pub, has_pull; /* sockets opened */
    nng_socket rep, pub, pull;      /* the sockets */
    nngt_ctx *ctxs;                 /* rep0 contexts */
    int nctx;                       /* entries in ctxs */
    /* pull0 */
    nng_aio *pull_aio;       /* the only receiver */
    nng_msg *pull_req;       /* message kept while a retry waits */
    size_t pull_off;         /* its next command starts here */
    resp_parser pull_parser; /* decodes pull0 bodies */
    /* Live pipes (rep0 and pull0), guarded by pipes_mtx. */
    pthread_mutex_t pipes_mtx;
    uint32_t *pipes; /* ids, unordered */
    size_t npipes, pipes_cap;
    atomic_int stopping; /* 1 once nngt_stop began */
    /* Counters (INFO nng). */
    atomic_ullong n_requests;    /* rep0 requests received */
    atomic_ullong n_replies;     /* rep0 replies sent */
    atomic_ullong n_pull;        /* pull0 commands handed to the core */
    atomic_ullong n_pull_err;    /* pull0 commands refused or answered with an error */
    atomic_ullong n_publishes;   /* pub0 messages sent (channels and entries) */
    atomic_ullong n_refused;     /* rep0 requests refused (malformed, too large) */
    atomic_ullong n_pushes;      /* core pushes dropped (no push channel on nng) */
    atomic_ullong n_pipes_total; /* pipes ever connected */
    atomic_llong last_log;       /* unix s of the last pull0 warning */
};

/* ------------------------------------------------------------------------
 * Live pipes
 * ------------------------------------------------------------------------ */

static void
nngt_pipe_add(nngt *g, uint32_t id)
{
    pthread_mutex_lock(&g->pipes_mtx);
    if (g->npipes == g->pipes_cap) {
        size_t cap = g->pipes_cap ? g->pipes_cap * 2 : 16;
        uint32_t *p = realloc(g->pipes, cap * sizeof(*p));
        if (p == NULL) {
            pthread_mutex_unlock(&g->pipes_mtx);
            return;
        }
        g->pipes = p;
        g->pipes_cap = cap;
    }
    g->pipes[g->npipes++] = id;
    pthread_mutex_unlock(&g->pipes_mtx);
}

/* Removes id; returns 1 when it was live. */
static int
nngt_pipe_del(nngt *g, uint32_t id)
{
    int found = 0;
    pthread_mutex_lock(&g->pipes_mtx);
    for (size_t i = 0; i < g->npipes; i++) {
        if (g->pipes[i] == id) {
            g->pipes[i] = g->pipes[--g->npipes];
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&g->pipes_mtx);
    return found;
}

/* 1 when id is live; the caller holds pipes_mtx. */
static int
nngt_pipe_live_locked(nngt *g, uint32_t id)
{
    for (size_t i = 0; i < g->npipes; i++)
        if (g->pipes[i] == id)
            return 1;
    return 0;
}

static void
nngt_pipe_addr(nng_pipe p, char *buf, size_t cap)
{
    nng_sockaddr sa;
    snprintf(buf, cap, "nng:%d", nng_pipe_id(p));
    if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
        return;
    if (sa.s_family == NNG_AF_INET) {
        const uint8_t *a = (const uint8_t *)&sa.s_in.sa_addr;
        unsigned port = ((unsigned)((const uint8_t *)&sa.s_in.sa_port)[0] << 8) |
                        ((const uint8_t *)&sa.s_in.sa_port)[1];
        snprintf(buf, cap, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], port);
    } else if (sa.s_family == NNG_AF_IPC) {
        snprintf(buf, cap, "%.100s:0", sa.s_ipc.sa_path);
    }
}

static void nngt_ctx_recv(nngt_ctx *c);

/* Pipe events of the rep0 and pull0 sockets: one core session per pipe,
 * opened before the pipe can deliver anything (ADD_PRE), closed after it
 * is gone; contexts waiting for it go back to receiving. */
static void
nngt_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    nngt *g = arg;
    uint32_t id = (uint32_t)nng_pipe_id(p);
    if (ev == NNG_PIPE_EV_ADD_PRE) {
        char addr[128];
        nngt_pipe_addr(p, addr, sizeof(addr));
        if (bridge_open(g->b, g->gw, id, addr) != 0) {
            nng_pipe_close(p);
            return;
        }
        nngt_pipe_add(g, id);
        atomic_fetch_add(&g->n_pipes_total, 1);
        return;
    }
    if (ev != NNG_PIPE_EV_REM_POST)
        return;
    nngt_pipe_del(g, id);
    bridge_close(g->b, g->gw, id);
    for (int i = 0; i < g->nctx; i++) {
        nngt_ctx *c = &g->ctxs[i];
        pthread_mutex_lock(&c->mtx);
        if (c->pipe == id && c->state == NNGT_WAIT && !atomic_load(&g->stopping)) {
            c->gen++;
            c->pipe = 0;
            nngt_ctx_recv(c);
        }
        pthread_mutex_unlock(&c->mtx);
    }
}

/* ------------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------------ */

/*
 * Decodes body into p: one whole command (a RESP array, or one inline line
 * whose terminator may be left out). Returns argc (> 0), or 0 with *err
 * set to the protocol error Redis would give.
 */
static int
nngt_decode(resp_parser *p, uint64_t max_arg, const char *body, size_t len, char **inl,
            const char **err)
{
    int rc;
    *inl = NULL;
    resp_parser_reset(p);
    p->max_bulk_len = (long long)max_arg;
    rc = len ? resp_parse(p, body, len) : 0;
    if (rc == 0 && len > 0 && body[0] != '*' && len < RESP_INLINE_MAX) {
        /* An inline command without its line end (nngcat --data PING). */
        *inl = malloc(len + 2);
        if (*inl == NULL) {
            *err = "Protocol error: out of memory";
            return 0;
        }
        memcpy(*inl, body, len);
        memcpy(*inl + len, "\r\n", 2);
        resp_parser_reset(p);
        body = *inl;
        len += 2;
        rc = resp_parse(p, body, len);
    }
    if (rc < 0) {
        *err = rc == -EPROTO ? p->err : "Protocol error: out of memory";
        return 0;
    }
    if (rc == 0) {
        *err = "Protocol error: incomplete command";
        return 0;
    }
    if (p->consumed != len) {
        *err = "Protocol error: more than one command in a message";
        return 0;
    }
    if (p->argc == 0) {
        *err = "Protocol error: empty command";
        return 0;
    }
    return (int)p->argc;
}

/* Submits the parsed command of p; returns bridge_submit's code. */
static int
nngt_submit(nngt *g, resp_parser *p, uint32_t pipe, uint64_t tag)
{
    /* Per thread, so neither zeroed per call nor on a shared stack. */
    static _Thread_local const char *argv[64];
    static _Thread_local size_t lens[64];
    const char **av = argv;
    size_t *lv = lens;
    int argc = (int)p->argc, rc;
    if (argc > 64) {
        av = malloc((size_t)argc * sizeof(*av));
        lv = malloc((size_t)argc * sizeof(*lv));
        if (av == NULL || lv == NULL) {
            free(av);
            free(lv);
            return -ENOMEM;
        }
    }
    for (int i = 0; i < argc; i++) {
        av[i] = p->argv[i].ptr;
        lv[i] = p->argv[i].len;
    }
    rc = bridge_submit(g->b, g->gw, pipe, tag, argc, av, lv);
    if (av != argv) {
        free(av);
        free(lv);
    }
    return rc;
}

/* Starts receiving on c (c->mtx held or c not shared yet). */
static void
nngt_ctx_recv(nngt_ctx *c)
{
    c->state = NNGT_RECV;
    nng_ctx_recv(c->ctx, c->aio);
}

/* Sends "-ERR <text>" on c (mtx held). */
static void
nngt_ctx_error(nngt_ctx *c, const char *text)
{
    nng_msg *m;
    atomic_fetch_add(&c->g->n_refused, 1);
    if (nng_msg_alloc(&m, 0) != 0) {
        nngt_ctx_recv(c);
        return;
    }
    nng_msg_append(m, "-ERR ", 5);
    nng_msg_append(m, text, strlen(text));
    nng_msg_append(m, "\r\n", 2);
    c->state = NNGT_SEND;
    nng_aio_set_msg(c->aio, m);
    nng_ctx_send(c->ctx, c->aio);
}

/* Handles the request msg of c (mtx held): submit, refuse or retry. */
static void
nngt_ctx_request(nngt_ctx *c, nng_msg *msg)
{
    nngt *g = c->g;
    uint32_t pipe = (uint32_t)nng_pipe_id(nng_msg_get_pipe(msg));
    const char *err = NULL;
    char *inl = NULL;
    int live, rc;
    if (nngt_decode(&c->parser, bridge_max_arg(g->b), nng_msg_body(msg), nng_msg_len(msg), &inl,
                    &err) == 0) {
        free(inl);
        nng_msg_free(msg);
        nngt_ctx_error(c, err);
        return;
    }
    /* Submit only for a live pipe, and mark the wait before the pipe's
     * removal can look at this context. */
    pthread_mutex_lock(&g->pipes_mtx);
    live = nngt_pipe_live_locked(g, pipe);
    if (live) {
        c->state = NNGT_WAIT;
        c->pipe = pipe;
    }
    pthread_mutex_unlock(&g->pipes_mtx);
    if (!live) {
        free(inl);
        nng_msg_free(msg);
        nngt_ctx_recv(c);
        return;
    }
    rc = nngt_submit(g, &c->parser, pipe, ((uint64_t)c->gen << 32) | (uint64_t)c->idx);
    free(inl);
    if (rc == -EAGAIN) {
        /* The core is behind: try again shortly, keeping the request. */
        c->state = NNGT_RETRY;
        c->req = msg;
        nng_sleep_aio(NNGT_RETRY_MS, c->aio);
        return;
    }
    nng_msg_free(msg);
    if (rc == -E2BIG) {
        nngt_ctx_error(c, "Protocol error: invalid bulk length");
    } else if (rc == -ESHUTDOWN) {
        c->state = NNGT_IDLE;
    } else if (rc != 0) {
        nngt_ctx_error(c, "Protocol error: out of memory");
    }
}

static void
nngt_rep_cb(void *arg)
{
    nngt_ctx *c = arg;
    int rv = nng_aio_result(c->aio);
    pthread_mutex_lock(&c->mtx);
    if (atomic_load(&c->g->stopping)) {
        if (c->state == NNGT_SEND && rv != 0)
            nng_msg_free(nng_aio_get_msg(c->aio));
        if (c->state == NNGT_RECV && rv == 0)
            nng_msg_free(nng_aio_get_msg(c->aio));
        if (c->req)
            nng_msg_free(c->req);
        c->req = NULL;
        c->state = NNGT_IDLE;
        pthread_mutex_unlock(&c->mtx);
        return;
    }
    switch (c->state) {
    case NNGT_RECV:
        if (rv != 0) {
            if (rv != NNG_ECLOSED)
                nngt_ctx_recv(c);
            else
                c->state = NNGT_IDLE;
            break;
        }
        atomic_fetch_add(&c->g->n_requests, 1);
        nngt_ctx_request(c, nng_aio_get_msg(c->aio));
        break;
    case NNGT_SEND:
        if (rv != 0)
            nng_msg_free(nng_aio_get_msg(c->aio));
        else
            atomic_fetch_add(&c->g->n_replies, 1);
        nngt_ctx_recv(c);
        break;
    case NNGT_RETRY: {
        nng_msg *m = c->req;
        c->req = NULL;
        /* Its pipe may have gone meanwhile: the check in request() sees it. */
        nngt_ctx_request(c, m);
        break;
    }
    default:
        break;
    }
    pthread_mutex_unlock(&c->mtx);
}

/* ------------------------------------------------------------------------
 * pull0
 * ------------------------------------------------------------------------ */

/* Logs at most one pull0 warning a second. */
static void
nngt_warn(nngt *g, const char *prefix, const char *what, size_t len)
{
    char msg[256];
    long long now = (long long)time(NULL);
    long long last = atomic_load(&g->last_log);
    if (g->log == NULL || now == last || !atomic_compare_exchange_strong(&g->last_log, &last, now))
        return;
    snprintf(msg, sizeof(msg), "%s%.*s", prefix, (int)(len > 120 ? 120 : len), what);
    g->log(msg);
}

static void
nngt_pull_next(nngt *g)
{
    nng_recv_aio(g->pull, g->pull_aio);
}

/* Counts and logs a pull0 message refused from byte off on. */
static void
nngt_pull_refused(nngt *g, const char *err)
{
    atomic_fetch_add(&g->n_pull_err, 1);
    nngt_warn(g, "nng pull: refused a command: ", err, strlen(err));
}

/*
 * Runs the commands of one pull0 message: one inline line, or one or more
 * RESP arrays back to back (a producer's pipeline), in order, from
 * g->pull_off on. A malformed command drops it and the rest of the
 * message. Returns 1 when it waits for a retry (the inbox was full; msg
 * and the offset are kept), 0 when msg is done (freed).
 */
static int
nngt_pull_request(nngt *g, nng_msg *msg)
{
    uint32_t pipe = (uint32_t)nng_pipe_id(nng_msg_get_pipe(msg));
    const char *body = nng_msg_body(msg), *err = NULL;
    size_t len = nng_msg_len(msg);
    resp_parser *p = &g->pull_parser;
    char *inl = NULL;
    int rc;
    if (len == 0 || body[0] != '*') {
        if (nngt_decode(p, bridge_max_arg(g->b), body, len, &inl, &err) == 0) {
            free(inl);
            nngt_pull_refused(g, err);
            goto done;
        }
        rc = nngt_submit(g, p, pipe, NNGT_TAG_PULL);
        free(inl);
        if (rc == -EAGAIN)
            goto retry;
        if (rc == 0)
            atomic_fetch_add(&g->n_pull, 1);
        else if (rc != -ESHUTDOWN)
            nngt_pull_refused(g, "Protocol error: invalid bulk length");
        goto done;
    }
    while (g->pull_off < len) {
        resp_parser_reset(p);
        p->max_bulk_len = (long long)bridge_max_arg(g->b);
        rc = resp_parse(p, body + g->pull_off, len - g->pull_off);
        if (rc != 1) {
            nngt_pull_refused(g, rc == -EPROTO ? p->err : "Protocol error: incomplete command");
            break;
        }
        if (p->argc > 0) {
            rc = nngt_submit(g, p, pipe, NNGT_TAG_PULL);
            if (rc == -EAGAIN)
                goto retry;
            if (rc == -ESHUTDOWN)
                break;
            if (rc == 0)
                atomic_fetch_add(&g->n_pull, 1);
            else
                nngt_pull_refused(g, "Protocol error: invalid bulk length");
        }
        g->pull_off += p->consumed;
    }
done:
    g->pull_off = 0;
    nng_msg_free(msg);
    return 0;
retry:
    g->pull_req = msg;
    nng_sleep_aio(NNGT_RETRY_MS, g->pull_aio);
    return 1;
}

static void
nngt_pull_cb(void *arg)
{
    nngt *g = arg;
    int rv = nng_aio_result(g->pull_aio);
    nng_msg *m;
    if (atomic_load(&g->stopping)) {
        if (g->pull_req) {
            nng_msg_free(g->pull_req);
            g->pull_req = NULL;
        } else if (rv == 0) {
            nng_msg_free(nng_aio_get_msg(g->pull_aio));
        }
        return;
    }
    if (g->pull_req) {
        m = g->pull_req; /* a retry after the sleep */
        g->pull_req = NULL;
    } else if (rv != 0) {
        if (rv != NNG_ECLOSED)
            nngt_pull_next(g);
        return;
    } else {
        m = nng_aio_get_msg(g->pull_aio);
    }
    if (nngt_pull_request(g, m) == 0)
        nngt_pull_next(g);
}

/* ------------------------------------------------------------------------
 * Bridge callbacks (core thread)
 * ------------------------------------------------------------------------ */

static void
nngt_deliver(void *arg, bridge_msg *m)
{
    nngt *g = arg;
    if (m->kind == BRIDGE_PUSH) {
        atomic_fetch_add(&g->n_pushes, 1);
    } else if (m->kind == BRIDGE_CLOSE) {
        /* The core ended the session (QUIT, output limit, shutdown): end
         * the connection too; its removal frees the waiting contexts. */
        nng_pipe p = NNG_PIPE_INITIALIZER;
        if (nngt_pipe_del(g, (uint32_t)m->session)) {
            p.id = (uint32_t)m->session;
            if (m->code != 1001)
                nng_pipe_close(p);
        }
    } else if (m->tag & NNGT_TAG_PULL) {
        if (m->len > 0 && (m->data[0] == '-' || m->data[0] == '!')) {
            size_t n = m->len;
            while (n > 0 && (m->data[n - 1] == '\r' || m->data[n - 1] == '\n'))
                n--;
            atomic_fetch_add(&g->n_pull_err, 1);
            nngt_warn(g, "nng pull: command failed: ", m->data + 1, n - 1);
        }
    } else {
        uint32_t idx = (uint32_t)(m->tag & 0xffffffffu), gen = (uint32_t)(m->tag >> 32);
        nngt_ctx *c = idx < (uint32_t)g->nctx ? &g->ctxs[idx] : NULL;
        nng_msg *out;
        if (c && nng_msg_alloc(&out, m->len) == 0) {
            memcpy(nng_msg_body(out), m->data, m->len);
            pthread_mutex_lock(&c->mtx);
            if (c->state == NNGT_WAIT && c->gen == gen && !atomic_load(&g->stopping)) {
                c->state = NNGT_SEND;
                c->pipe = 0;
                nng_aio_set_msg(c->aio, out);
                nng_ctx_send(c->ctx, c->aio);
                out = NULL;
            }
            pthread_mutex_unlock(&c->mtx);
            if (out)
                nng_msg_free(out); /* its pipe went away meanwhile */
        }
    }
    bridge_msg_free(m);
}

/* Sends "<prefix><name>\0<rest...>" on pub0, never waiting. */
static void
nngt_pub_send(nngt *g, const char *prefix, const char *name, size_t nlen, const char *a,
              size_t alen, const char *b, size_t blen)
{
    nng_msg *m;
    if (!g->has_pub || nng_msg_alloc(&m, 0) != 0)
        return;
    if (nng_msg_append(m, prefix, strlen(prefix)) != 0 || nng_msg_append(m, name, nlen) != 0 ||
        nng_msg_append(m, "", 1) != 0 || nng_msg_append(m, a, alen) != 0 ||
        (b && (nng_msg_append(m, "", 1) != 0 || nng_msg_append(m, b, blen) != 0))) {
        nng_msg_free(m);
        return;
    }
    if (nng_sendmsg(g->pub, m, NNG_FLAG_NONBLOCK) != 0) {
        nng_msg_free(m);
        return;
    }
    atomic_fetch_add(&g->n_publishes, 1);
}

static void
nngt_on_publish(void *arg, int sharded, const char *channel, size_t clen, const char *message,
                size_t mlen)
{
    nngt_pub_send(arg, sharded ? "sc:" : "c:", channel, clen, message, mlen, NULL, 0);
}

static void
nngt_on_entry(void *arg, int db, const char *key, size_t klen, const char *id, size_t idlen,
              const char *fields, size_t flen)
{
    (void)db;
    nngt_pub_send(arg, "x:", key, klen, id, idlen, fields, flen);
}

static size_t
nngt_info(void *arg, char *buf, size_t cap)
{
    nngt *g = arg;
    size_t npipes;
    int n;
    pthread_mutex_lock(&g->pipes_mtx);
    npipes = g->npipes;
    pthread_mutex_unlock(&g->pipes_mtx);
    n = snprintf(buf, cap,
                 "# Nng\r\nnng_rep_url:%s\r\nnng_pub_url:%s\r\nnng_pull_url:%s\r\n"
                 "nng_contexts:%d\r\nnng_pipes:%zu\r\nnng_pipes_total:%llu\r\n"
                 "nng_requests:%llu\r\nnng_replies:%llu\r\nnng_refused:%llu\r\n"
                 "nng_pull_commands:%llu\r\nnng_pull_errors:%llu\r\nnng_publishes:%llu\r\n"
                 "nng_pushes_dropped:%llu\r\n",
                 g->rep_url, g->pub_url, g->pull_url, g->nctx, npipes,
                 (unsigned long long)atomic_load(&g->n_pipes_total),
                 (unsigned long long)atomic_load(&g->n_requests),
                 (unsigned long long)atomic_load(&g->n_replies),
                 (unsigned long long)atomic_load(&g->n_refused),
                 (unsigned long long)atomic_load(&g->n_pull),
                 (unsigned long long)atomic_load(&g->n_pull_err),
                 (unsigned long long)atomic_load(&g->n_publishes),
                 (unsigned long long)atomic_load(&g->n_pushes));
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* ------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------ */

static int
nngt_fail(nngt *g, char *err, size_t errlen, const char *what, const char *url, int rv)
{
    snprintf(err, errlen, "%s %s: %s", what, url, nng_strerror(rv));
    nngt_stop(g);
    return -1;
}

/* Opens the rep0 socket with its contexts; 0 or -1 (err set). */
static int
nngt_open_rep(nngt *g, char *err, size_t errlen)
{
    int rv;
    size_t maxsz = (size_t)bridge_max_arg(g->b) + NNGT_RECV_SLACK;
    if ((rv = nng_rep0_open(&g->rep)) != 0)
        return nngt_fail(g, err, errlen, "rep0 socket for", g->rep_url, rv);
    g->has_rep = 1;
    nng_socket_set_size(g->rep, NNG_OPT_RECVMAXSZ, maxsz);
    nng_pipe_notify(g->rep, NNG_PIPE_EV_ADD_PRE, nngt_pipe_cb, g);
    nng_pipe_notify(g->rep, NNG_PIPE_EV_REM_POST, nngt_pipe_cb, g);
    for (int i = 0; i < g->nctx; i++) {
        nngt_ctx *c = &g->ctxs[i];
        c->g = g;
        c->idx = i;
        pthread_mutex_init(&c->mtx, NULL);
        resp_parser_init(&c->parser, (long long)bridge_max_arg(g->b));
        if ((rv = nng_aio_alloc(&c->aio, nngt_rep_cb, c)) != 0 ||
            (rv = nng_ctx_open(&c->ctx, g->rep)) != 0)
            return nngt_fail(g, err, errlen, "rep0 context for", g->rep_url, rv);
    }
    if ((rv = nng_listen(g->rep, g->rep_url, NULL, 0)) != 0)
        return nngt_fail(g, err, errlen, "cannot listen on", g->rep_url, rv);
    for (int i = 0; i < g->nctx; i++) {
        pthread_mutex_lock(&g->ctxs[i].mtx);
        nngt_ctx_recv(&g->ctxs[i]);
        pthread_mutex_unlock(&g->ctxs[i].mtx);
    }
    return 0;
}

nngt *
nngt_start(bridge *b, const nngt_options *o, char *err, size_t errlen)
{
    static const bridge_ops ops = {
        .deliver = nngt_deliver,
        .on_publish = nngt_on_publish,
        .on_entry = nngt_on_entry,
        .info = nngt_info,
    };
    nngt *g = calloc(1, sizeof(*g));
    sigset_t all, old;
    int rv;
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->b = b;
    g->log = o->log;
    snprintf(g->rep_url, sizeof(g->rep_url), "%s", o->rep_url ? o->rep_url : "");
    snprintf(g->pub_url, sizeof(g->pub_url), "%s", o->pub_url ? o->pub_url : "");
    snprintf(g->pull_url, sizeof(g->pull_url), "%s", o->pull_url ? o->pull_url : "");
    g->nctx = o->contexts > 0 ? o->contexts : NNGT_DEFAULT_CONTEXTS;
    pthread_mutex_init(&g->pipes_mtx, NULL);
    resp_parser_init(&g->pull_parser, (long long)bridge_max_arg(b));
    g->gw = bridge_register(b, "nng", &ops, g);
    if (g->gw < 0) {
        snprintf(err, errlen, "no room for another gateway");
        g->gw = -1;
        nngt_stop(g);
        return NULL;
    }
    g->ctxs = calloc((size_t)g->nctx, sizeof(*g->ctxs));
    if (g->ctxs == NULL) {
        snprintf(err, errlen, "out of memory");
        nngt_stop(g);
        return NULL;
    }
    /* nng's threads start with the first socket: they inherit a mask that
     * leaves SIGTERM and SIGINT to the core loop. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rv = 0;
    if (g->rep_url[0] && nngt_open_rep(g, err, errlen) != 0)
        rv = -1;
    if (rv == 0 && g->pub_url[0]) {
        if ((rv = nng_pub0_open(&g->pub)) != 0) {
            rv = nngt_fail(g, err, errlen, "pub0 socket for", g->pub_url, rv);
        } else {
            g->has_pub = 1;
            if ((rv = nng_listen(g->pub, g->pub_url, NULL, 0)) != 0)
                rv = nngt_fail(g, err, errlen, "cannot listen on", g->pub_url, rv);
        }
    }
    if (rv == 0 && g->pull_url[0]) {
        if ((rv = nng_pull0_open(&g->pull)) != 0) {
            rv = nngt_fail(g, err, errlen, "pull0 socket for", g->pull_url, rv);
        } else {
            g->has_pull = 1;
            nng_socket_set_size(g->pull, NNG_OPT_RECVMAXSZ,
                                (size_t)bridge_max_arg(b) + NNGT_RECV_SLACK);
            nng_pipe_notify(g->pull, NNG_PIPE_EV_ADD_PRE, nngt_pipe_cb, g);
            nng_pipe_notify(g->pull, NNG_PIPE_EV_REM_POST, nngt_pipe_cb, g);
            if ((rv = nng_aio_alloc(&g->pull_aio, nngt_pull_cb, g)) != 0)
                rv = nngt_fail(g, err, errlen, "pull0 aio for", g->pull_url, rv);
            else if ((rv = nng_listen(g->pull, g->pull_url, NULL, 0)) != 0)
                rv = nngt_fail(g, err, errlen, "cannot listen on", g->pull_url, rv);
            else
                nngt_pull_next(g);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rv == 0 ? g : NULL;
}

int
nngt_bridge_id(const nngt *g)
{
    return g->gw;
}

void
nngt_stop(nngt *g)
{
    if (g == NULL)
        return;
    atomic_store(&g->stopping, 1);
    if (g->gw >= 0)
        bridge_unregister(g->b, g->gw);
    /* No pipe event reaches g once it is freed. */
    if (g->has_rep) {
        nng_pipe_notify(g->rep, NNG_PIPE_EV_ADD_PRE, NULL, NULL);
        nng_pipe_notify(g->rep, NNG_PIPE_EV_REM_POST, NULL, NULL);
    }
    if (g->has_pull) {
        nng_pipe_notify(g->pull, NNG_PIPE_EV_ADD_PRE, NULL, NULL);
        nng_pipe_notify(g->pull, NNG_PIPE_EV_REM_POST, NULL, NULL);
    }
    /* Every aio stops (its callback finished) before a socket closes. */
    if (g->pull_aio)
        nng_aio_stop(g->pull_aio);
    for (int i = 0; g->ctxs && i < g->nctx; i++) {
        if (g->ctxs[i].aio)
            nng_aio_stop(g->ctxs[i].aio);
    }
    if (g->has_pull)
        nng_close(g->pull);
    if (g->has_pub)
        nng_close(g->pub);
    if (g->has_rep)
        nng_close(g->rep);
    if (g->pull_req)
        nng_msg_free(g->pull_req);
    if (g->pull_aio)
        nng_aio_free(g->pull_aio);
    for (int i = 0; g->ctxs && i < g->nctx; i++) {
        nngt_ctx *c = &g->ctxs[i];
        if (c->req)
            nng_msg_free(c->req);
        if (c->aio)
            nng_aio_free(c->aio);
        if (c->g) {
            resp_parser_fini(&c->parser);
            pthread_mutex_destroy(&c->mtx);
        }
    }
    free(g->ctxs);
    resp_parser_fini(&g->pull_parser);
    pthread_mutex_destroy(&g->pipes_mtx);
    free(g->pipes);
    free(g);
}
