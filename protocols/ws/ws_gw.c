/*
 * protocols/ws/ws_gw: libwebsockets on its own thread, JSON and RESP3
 * sessions, live tails and group consumers over the bridge.
 *
 *   core thread: deliver() --lock--> inbox --lws_cancel_service-->
 *   gateway thread: EVENT_WAIT_CANCELLED drains the inbox, turns replies
 *   and pushes into frames on the connection's queue, asks for WRITEABLE;
 *   WRITEABLE writes frames until the socket chokes.
 *
 * Every bridge session the gateway opens is a ws_chan found by its local
 * id: a connection's main session (its commands, in order, one tag each),
 * a tail, a consumer (loops XREADGROUP ... BLOCK 0 ... > while it has
 * credit; XACK on the main session gives credit back) or a /metrics
 * request. A frame keeps the bridge message it came from until it is
 * written, so the core's client-output-buffer-limit sees what a slow
 * browser has not taken yet.
 *
 * A tail reads history on its own session (XREVRANGE for "$", else XREAD
 * COUNT n from the last ID until a read comes back empty), then goes live:
 * new entries come from the core's tap (on_entry, one copy per XADD
 * whatever the number of tails) and are fanned out here. Tap entries that
 * arrive while a tail still reads history are buffered and kept if they
 * come after the last ID pushed, since replies and taps reach this thread
 * in no guaranteed order. A live tail whose connection has more than
 * WS_OUT_PAUSE bytes queued goes back to reading history, at its pace.
 *
 * Hot path: ws_on_entry (core thread), ws_drain, ws_tap_handle,
 * ws_conn_write.
 * Not here: the JSON mapping (ws_json.c), /metrics text (ws_metrics.c).
 */
#include "protocols/ws/ws_gw.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libwebsockets.h>

#include "protocols/resp/resp.h"
#include "protocols/ws/ws_int.h"
#include "protocols/ws/ws_json.h"

/* Bytes queued on a connection above which tails and consumers wait. */
#define WS_OUT_PAUSE (1024 * 1024)
/* Keepalive: ping after this many idle seconds, hang up after that many. */
#define WS_PING_SECS   30
#define WS_HANGUP_SECS 60
/* Tap entries a tail keeps while it reads history; past it, it reads again. */
#define WS_TAIL_BUF_MAX 10000
/* How long ws_stop waits for connections to close, ms. */
#define WS_STOP_MS 2000
/* Tags of internal sessions: replays (AUTH, SELECT) and the loop's reads. */
#define WS_TAG_REPLAY 1
#define WS_TAG_LOOP   2

enum ws_chan_kind { WS_CHAN_MAIN = 1, WS_CHAN_TAIL, WS_CHAN_CONSUME, WS_CHAN_METRICS };
enum ws_pend_kind { WS_PEND_CMD = 1, WS_PEND_AUTH, WS_PEND_SELECT, WS_PEND_ACK };

typedef struct ws_conn ws_conn;

/* One frame to write, with LWS_PRE bytes of headroom before the payload. */
typedef struct ws_frame {
    struct ws_frame *next; /* connection queue */
    bridge_msg *src;       /* message it came from (freed once written), or NULL */
    int binary;            /* 1 binary, 0 text */
    uint64_t ms, seq;      /* tail buffer: the entry's ID */
    size_t len;            /* payload bytes */
    unsigned char buf[];   /* LWS_PRE headroom, then the payload */
} ws_frame;

/* One stream entry from the core's tap (bridge on_entry), in one
 * allocation: key, then ID text, then the fields as a RESP3 map. */
typedef struct ws_tap {
    struct ws_tap *next; /* tap queue, oldest first */
    int db;              /* database of the stream */
    size_t klen;         /* key bytes */
    size_t idlen;        /* ID text bytes */
    size_t flen;         /* fields bytes */
    char data[];         /* key, ID, fields */
} ws_tap;

/* A request of the main session waiting for its reply. */
typedef struct ws_pend {
    struct ws_pend *next; /* FIFO, oldest first */
    uint64_t tag;         /* bridge tag */
    int kind;             /* enum ws_pend_kind */
    json_t *id;           /* the request's "id" (a reference), or NULL */
    int argc;             /* AUTH/SELECT: the command to replay; ACK: 2 */
    ws_bytes *argv;       /* AUTH/SELECT: the replay; ACK: stream, group (owned) */
} ws_pend;

/* One bridge session of the gateway. */
typedef struct ws_chan {
    struct ws_chan *hnext; /* hash chain */
    struct ws_chan *next;  /* the connection's tails and consumers */
    uint64_t id;           /* local session id */
    int kind;              /* enum ws_chan_kind */
    ws_conn *conn;         /* owner (MAIN/TAIL/CONSUME), NULL for METRICS */
    struct lws *http;      /* METRICS: the waiting request, NULL once gone */
    json_t *req_id;        /* TAIL/CONSUME: the id of the request that opened it */
    ws_bytes stream;       /* TAIL/CONSUME: the key (owned) */
    ws_bytes group;        /* CONSUME: group (owned) */
    ws_bytes consumer;     /* CONSUME: consumer name (owned) */
    char last[48];         /* TAIL: last ID pushed ("$" until resolved) */
    long long count;       /* TAIL: batch; CONSUME: credit limit */
    long long inflight;    /* CONSUME: delivered, not acked */
    int reading;           /* 1 while a read is submitted */
    int paused;            /* 1 when a read waits for the queue to drain */
    int resolving;         /* TAIL: 1 while "$" is resolved to an ID */
    int live;              /* TAIL: 1 once history is read: entries come from the tap */
    int db;                /* TAIL: database (the connection's SELECT) */
    uint64_t last_ms;      /* TAIL: last ID pushed, parsed */
    uint64_t last_seq;     /* TAIL: its sequence part */
    ws_frame *buf_head;    /* TAIL: tap entries seen while not live, oldest first */
    ws_frame *buf_tail;    /* TAIL: newest buffered */
    size_t nbuf;           /* TAIL: entries buffered */
    int overflow;          /* TAIL: 1 when the buffer overflowed (read history again) */
    struct ws_chan *tprev; /* TAIL: the gateway's list of tails */
    struct ws_chan *tnext; /* TAIL: next in it */
    ws_metrics *metrics;   /* METRICS: state */
    struct ws_gw *gw;      /* the gateway (for callbacks with only ch) */
} ws_chan;

/* One WebSocket connection. */
struct ws_conn {
    struct lws *wsi;       /* its lws connection */
    ws_chan *main;         /* its main session */
    ws_chan *chans;        /* tails and consumers */
    int resp3;             /* subprotocol resp3 */
    char *rx;              /* message being reassembled */
    size_t rxlen, rxcap;   /* bytes in rx, allocated */
    ws_frame *out_head;    /* frames to write, oldest first */
    ws_frame *out_tail;    /* newest frame */
    size_t out_bytes;      /* payload bytes queued */
    ws_pend *pend_head;    /* main session requests awaiting replies */
    ws_pend *pend_tail;    /* newest */
    uint64_t next_tag;     /* last tag used on the main session */
    ws_pend *auth;         /* last successful AUTH (replayed on new sessions), or NULL */
    ws_pend *select;       /* last successful SELECT, or NULL */
    int close_code;        /* > 0: close with it once the queue is written */
    char close_reason[64]; /* its reason text */
    resp_parser parser;    /* resp3: request parser */
    ws_conn *prev, *next;  /* the gateway's connections */
};

/* Per-lws-session data: a WebSocket connection or an HTTP request. */
typedef struct ws_pss {
    ws_conn *conn;             /* WebSocket: the connection, else NULL */
    ws_chan *metrics;          /* HTTP /metrics: its session while it waits */
    const unsigned char *body; /* HTTP: the body to write (static or body_owned) */
    size_t body_len;           /* its bytes */
    char *body_owned;          /* HTTP: an allocated body, freed with the request */
    int status;                /* HTTP status to send */
    const char *ctype;         /* its Content-Type */
    size_t sent;               /* body bytes written */
    int ready;                 /* 1 once the response is known */
    int headers_sent;          /* 1 once the headers are written */
} ws_pss;

struct ws_gw {
    bridge *b;                 /* the core's bridge */
    int gw;                    /* our gateway id */
    struct lws_context *ctx;   /* lws context, used by the thread only (but cancel) */
    pthread_t thread;          /* the service thread */
    pthread_mutex_t lock;      /* guards inbox */
    bridge_msg *in_head;       /* delivered messages, oldest first */
    bridge_msg *in_tail;       /* newest */
    ws_tap *tap_head;          /* stream entries from the tap, oldest first */
    ws_tap *tap_tail;          /* newest */
    int woken;                 /* 1 while a wake-up is pending (coalesced) */
    atomic_int stopping;       /* 1 once ws_stop began */
    atomic_int done;           /* 1 when the thread should leave its loop */
    int port;                  /* the port bound */
    char origins[1024];        /* allowed origins ("" = same host) */
    uint64_t max_message;      /* bytes */
    void (*log)(const char *); /* warnings, or NULL */
    /* Gateway thread only. */
    ws_chan **table;  /* local id -> chan, chained */
    size_t table_cap; /* buckets, a power of two */
    size_t nchans;    /* chans in table */
    uint64_t next_id; /* last local id given */
    /* Counters for INFO and /metrics (written by the thread). */
    atomic_ullong nconns;     /* WebSocket connections open */
    atomic_ullong ntails;     /* tails open */
    atomic_ullong nconsumers; /* consumers open */
    atomic_ullong msgs_in;    /* messages received */
    atomic_ullong msgs_out;   /* messages sent */
    atomic_ullong refused;    /* handshakes refused (origin, path) */
    atomic_ullong catchups;   /* live tails sent back to reading history (slow reader) */
    ws_conn *conns;           /* open WebSocket connections (thread only) */
    ws_chan *tails;           /* every tail (thread only) */
};

static void ws_conn_close(ws_conn *c, int code, const char *reason);

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static void
ws_warn(ws_gw *g, const char *what, const char *arg)
{
    char buf[256];
    if (g->log == NULL)
        return;
    snprintf(buf, sizeof(buf), "%s%s", what, arg);
    g->log(buf);
}

static int64_t
ws_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
ws_bytes_copy(ws_bytes *dst, const ws_bytes *src)
{
    dst->ptr = malloc(src->len + 1);
    if (dst->ptr == NULL) {
        dst->len = 0;
        return;
    }
    memcpy(dst->ptr, src->ptr, src->len);
    dst->ptr[src->len] = '\0';
    dst->len = src->len;
}

/* ------------------------------------------------------------------------
 * Channels (gateway thread)
 * ------------------------------------------------------------------------ */

static ws_chan *
ws_chan_find(ws_gw *g, uint64_t id)
{
    ws_chan *ch = g->table[id & (g->table_cap - 1)];
    while (ch && ch->id != id)
        ch = ch->hnext;
    return ch;
}

/* Doubles the table when it holds as many chans as buckets. */
static void
ws_table_grow(ws_gw *g)
{
    size_t cap = g->table_cap * 2;
    ws_chan **t = calloc(cap, sizeof(*t));
    if (t == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < g->table_cap; i++) {
        ws_chan *ch = g->table[i];
        while (ch) {
            ws_chan *next = ch->hnext;
            ch->hnext = t[ch->id & (cap - 1)];
            t[ch->id & (cap - 1)] = ch;
            ch = next;
        }
    }
    free(g->table);
    g->table = t;
    g->table_cap = cap;
}

/* A new chan with a fresh id, indexed and opened on the bridge. */
static ws_chan *
ws_chan_new(ws_gw *g, int kind, ws_conn *c, const char *addr)
{
    ws_chan *ch = calloc(1, sizeof(*ch));
    size_t slot;
    if (ch == NULL)
        return NULL;
    ch->id = ++g->next_id;
    ch->gw = g;
    ch->kind = kind;
    ch->conn = c;
    if (bridge_open(g->b, g->gw, ch->id, addr) != 0) {
        free(ch);
        return NULL;
    }
    if (g->nchans >= g->table_cap)
        ws_table_grow(g);
    slot = ch->id & (g->table_cap - 1);
    ch->hnext = g->table[slot];
    g->table[slot] = ch;
    g->nchans++;
    if (kind == WS_CHAN_TAIL) {
        ch->tnext = g->tails;
        if (ch->tnext)
            ch->tnext->tprev = ch;
        g->tails = ch;
        atomic_fetch_add(&g->ntails, 1);
    } else if (kind == WS_CHAN_CONSUME)
        atomic_fetch_add(&g->nconsumers, 1);
    return ch;
}

/* Closes ch's bridge session and frees it (unlinked from its connection
 * by the caller). */
static void
ws_chan_free(ws_gw *g, ws_chan *ch)
{
    ws_chan **pp = &g->table[ch->id & (g->table_cap - 1)];
    while (*pp && *pp != ch)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = ch->hnext;
    g->nchans--;
    bridge_close(g->b, g->gw, ch->id);
    if (ch->kind == WS_CHAN_TAIL) {
        if (ch->tprev)
            ch->tprev->tnext = ch->tnext;
        else
            g->tails = ch->tnext;
        if (ch->tnext)
            ch->tnext->tprev = ch->tprev;
        atomic_fetch_sub(&g->ntails, 1);
    } else if (ch->kind == WS_CHAN_CONSUME)
        atomic_fetch_sub(&g->nconsumers, 1);
    json_decref(ch->req_id);
    free(ch->stream.ptr);
    free(ch->group.ptr);
    free(ch->consumer.ptr);
    ws__metrics_free(ch->metrics);
    while (ch->buf_head) {
        ws_frame *f = ch->buf_head;
        ch->buf_head = f->next;
        free(f);
    }
    free(ch);
}

/* Removes ch from its connection's list and frees it. */
static void
ws_chan_drop(ws_gw *g, ws_chan *ch)
{
    for (ws_chan **pp = &ch->conn->chans; *pp; pp = &(*pp)->next) {
        if (*pp == ch) {
            *pp = ch->next;
            break;
        }
    }
    ws_chan_free(g, ch);
}

/* Submits argv (ws_bytes) on ch. */
static int
ws_chan_submit(ws_gw *g, ws_chan *ch, uint64_t tag, int argc, const ws_bytes *argv)
{
    const char *av[16] = {0};
    size_t lv[16] = {0};
    const char **pav = av;
    size_t *plv = lv;
    int rc;
    if (argc > 16) {
        pav = malloc((size_t)argc * sizeof(*pav));
        plv = malloc((size_t)argc * sizeof(*plv));
        if (pav == NULL || plv == NULL) {
            free(pav);
            free(plv);
            return -ENOMEM;
        }
    }
    for (int i = 0; i < argc; i++) {
        pav[i] = argv[i].ptr;
        plv[i] = argv[i].len;
    }
    rc = bridge_submit(g->b, g->gw, ch->id, tag, argc, pav, plv);
    if (pav != av) {
        free(pav);
        free(plv);
    }
    return rc;
}

/* Submits a command given as C strings and one byte string per "%b". */
static int
ws_chan_cmd(ws_gw *g, ws_chan *ch, uint64_t tag, int argc, ...)
{
    ws_bytes argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc && i < 16; i++)
        argv[i] = va_arg(ap, ws_bytes);
    va_end(ap);
    return ws_chan_submit(g, ch, tag, argc, argv);
}

/* A ws_bytes over a C string (borrowed: only for submitting). */
static ws_bytes
ws_str(const char *s)
{
    ws_bytes b = {(char *)s, strlen(s)};
    return b;
}

/* ------------------------------------------------------------------------
 * Output queue
 * ------------------------------------------------------------------------ */

/* A frame holding a copy of len bytes, or NULL. */
static ws_frame *
ws_frame_new(const void *data, size_t len, int binary, bridge_msg *src)
{
    ws_frame *f = malloc(sizeof(*f) + LWS_PRE + len);
    if (f == NULL)
        return NULL;
    f->next = NULL;
    f->src = src;
    f->binary = binary;
    f->ms = f->seq = 0;
    f->len = len;
    memcpy(f->buf + LWS_PRE, data, len);
    return f;
}

/* Appends f to c's queue and asks for WRITEABLE. */
static void
ws_conn_push_frame(ws_conn *c, ws_frame *f)
{
    f->next = NULL;
    if (c->out_tail)
        c->out_tail->next = f;
    else
        c->out_head = f;
    c->out_tail = f;
    c->out_bytes += f->len;
    lws_callback_on_writable(c->wsi);
}

/* Queues a copy of len bytes as one frame; src (may be NULL) is freed
 * once the frame is written. */
static void
ws_conn_queue(ws_conn *c, const void *data, size_t len, int binary, bridge_msg *src)
{
    ws_frame *f = ws_frame_new(data, len, binary, src);
    if (f == NULL) {
        bridge_msg_free(src);
        ws_conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    ws_conn_push_frame(c, f);
}

/* Queues obj (consumed) as a text frame with "id" set when id is given. */
static void
ws_conn_json(ws_conn *c, json_t *obj, json_t *id, bridge_msg *src)
{
    char *text;
    if (obj == NULL) {
        bridge_msg_free(src);
        return;
    }
    if (id)
        json_object_set(obj, "id", id);
    text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(obj);
    if (text == NULL) {
        bridge_msg_free(src);
        return;
    }
    ws_conn_queue(c, text, strlen(text), 0, src);
    free(text);
}

/* Queues {"id": id, "error": text}. */
static void
ws_conn_error(ws_conn *c, json_t *id, const char *text)
{
    json_t *o = json_object();
    if (o)
        json_object_set_new(o, "error", json_string(text));
    ws_conn_json(c, o, id, NULL);
}

/* Asks for c to be closed with code once its queue is written. */
static void
ws_conn_close(ws_conn *c, int code, const char *reason)
{
    if (c->close_code)
        return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
    lws_callback_on_writable(c->wsi);
}

/* ------------------------------------------------------------------------
 * Tails and consumers
 * ------------------------------------------------------------------------ */

/* Parses an entry ID ("ms-seq" or "ms"); returns 0 or -1. */
static int
ws_id_parse(const char *s, uint64_t *ms, uint64_t *seq)
{
    char *end;
    errno = 0;
    *seq = 0;
    *ms = strtoull(s, &end, 10);
    if (end == s || errno)
        return -1;
    if (*end == '-') {
        const char *q = end + 1;
        *seq = strtoull(q, &end, 10);
        if (end == q || errno)
            return -1;
    }
    return *end == '\0' ? 0 : -1;
}

/* Whether ID ms-seq comes after the last one ch pushed. */
static int
ws_tail_after(const ws_chan *ch, uint64_t ms, uint64_t seq)
{
    return ms > ch->last_ms || (ms == ch->last_ms && seq > ch->last_seq);
}

static void
ws_tail_set_last(ws_chan *ch, uint64_t ms, uint64_t seq)
{
    ch->last_ms = ms;
    ch->last_seq = seq;
    snprintf(ch->last, sizeof(ch->last), "%llu-%llu", (unsigned long long)ms,
             (unsigned long long)seq);
}

/* History is read: from now on entries come from the tap. Entries the
 * tap brought meanwhile are queued when they come after the last ID
 * pushed (the history reply may have included them). */
static void
ws_tail_go_live(ws_chan *ch)
{
    ws_frame *f = ch->buf_head;
    ch->buf_head = ch->buf_tail = NULL;
    ch->nbuf = 0;
    ch->live = 1;
    while (f) {
        ws_frame *next = f->next;
        if (ws_tail_after(ch, f->ms, f->seq)) {
            ws_tail_set_last(ch, f->ms, f->seq);
            ws_conn_push_frame(ch->conn, f);
        } else {
            free(f);
        }
        f = next;
    }
}

/* Submits the next read of a tail or consumer, unless it waits for the
 * queue to drain or has no credit. */
static void
ws_chan_read(ws_gw *g, ws_chan *ch)
{
    char count[24], credit[24];
    int rc;
    if (ch->reading || ch->resolving)
        return;
    if (ch->conn->out_bytes > WS_OUT_PAUSE) {
        ch->paused = 1;
        return;
    }
    ch->paused = 0;
    if (ch->kind == WS_CHAN_TAIL) {
        snprintf(count, sizeof(count), "%lld", ch->count);
        if (ch->live)
            return;
        rc = ws_chan_cmd(g, ch, WS_TAG_LOOP, 6, ws_str("XREAD"), ws_str("COUNT"), ws_str(count),
                         ws_str("STREAMS"), ch->stream, ws_str(ch->last));
    } else {
        if (ch->count - ch->inflight <= 0)
            return;
        snprintf(credit, sizeof(credit), "%lld", ch->count - ch->inflight);
        rc = ws_chan_cmd(g, ch, WS_TAG_LOOP, 11, ws_str("XREADGROUP"), ws_str("GROUP"), ch->group,
                         ch->consumer, ws_str("COUNT"), ws_str(credit), ws_str("BLOCK"),
                         ws_str("0"), ws_str("STREAMS"), ch->stream, ws_str(">"));
    }
    if (rc == 0)
        ch->reading = 1;
    else if (rc == -EAGAIN)
        ch->paused = 1; /* retried when the connection writes */
}

/* Replays the connection's AUTH and SELECT on a new session. */
static void
ws_chan_replay(ws_gw *g, ws_chan *ch)
{
    ws_conn *c = ch->conn;
    if (c->auth)
        ws_chan_submit(g, ch, WS_TAG_REPLAY, c->auth->argc, c->auth->argv);
    if (c->select)
        ws_chan_submit(g, ch, WS_TAG_REPLAY, c->select->argc, c->select->argv);
}

static ws_chan *
ws_conn_find_chan(ws_conn *c, int kind, const ws_bytes *stream, const ws_bytes *group)
{
    for (ws_chan *ch = c->chans; ch; ch = ch->next) {
        if (ch->kind != kind || ch->stream.len != stream->len ||
            memcmp(ch->stream.ptr, stream->ptr, stream->len) != 0)
            continue;
        if (group &&
            (ch->group.len != group->len || memcmp(ch->group.ptr, group->ptr, group->len) != 0))
            continue;
        return ch;
    }
    return NULL;
}

/* {"tail": ...}: one session per tail, "$" resolved to the stream's last
 * ID first so no entry appended after the reply is missed. */
static void
ws_conn_tail(ws_gw *g, ws_conn *c, ws_req *r)
{
    ws_chan *ch;
    json_t *o;
    if (ws_conn_find_chan(c, WS_CHAN_TAIL, &r->stream, NULL)) {
        ws_conn_error(c, r->id, "ERR this stream is already tailed on this connection");
        return;
    }
    ch = ws_chan_new(g, WS_CHAN_TAIL, c, "ws-tail");
    if (ch == NULL) {
        ws_conn_error(c, r->id, "ERR the server is shutting down or out of memory");
        return;
    }
    ch->req_id = json_incref(r->id);
    ws_bytes_copy(&ch->stream, &r->stream);
    ch->count = r->count;
    ch->db = c->select ? atoi(c->select->argv[1].ptr) : 0;
    ch->next = c->chans;
    c->chans = ch;
    ws_chan_replay(g, ch);
    if (r->from.ptr == NULL || strcmp(r->from.ptr, "$") == 0) {
        ch->resolving = 1;
        ws_chan_cmd(g, ch, WS_TAG_LOOP, 6, ws_str("XREVRANGE"), ch->stream, ws_str("+"),
                    ws_str("-"), ws_str("COUNT"), ws_str("1"));
        return;
    }
    snprintf(ch->last, sizeof(ch->last), "%s", r->from.ptr);
    ws_id_parse(r->from.ptr, &ch->last_ms, &ch->last_seq); /* XREAD checks it */
    o = json_pack("{s:s}", "result", "OK");
    ws_conn_json(c, o, r->id, NULL);
    ws_chan_read(g, ch);
}

static void
ws_conn_consume(ws_gw *g, ws_conn *c, ws_req *r)
{
    ws_chan *ch = ws_chan_new(g, WS_CHAN_CONSUME, c, "ws-consumer");
    if (ch == NULL) {
        ws_conn_error(c, r->id, "ERR the server is shutting down or out of memory");
        return;
    }
    ch->req_id = json_incref(r->id);
    ws_bytes_copy(&ch->stream, &r->stream);
    ws_bytes_copy(&ch->group, &r->group);
    ws_bytes_copy(&ch->consumer, &r->consumer);
    ch->count = r->count;
    ch->next = c->chans;
    c->chans = ch;
    ws_chan_replay(g, ch);
    ws_conn_json(c, json_pack("{s:s}", "result", "OK"), r->id, NULL);
    ws_chan_read(g, ch);
}

/* Pushes the entries of a read reply, one message each. */
static void
ws_chan_push_entries(ws_chan *ch, json_t *reply, size_t *n)
{
    json_t *arr = json_array(), *e;
    size_t i;
    char last[48] = "";
    *n = ws_json_entries(reply, arr, last, sizeof(last));
    if (last[0] && ch->kind == WS_CHAN_TAIL) {
        uint64_t ms, seq;
        if (ws_id_parse(last, &ms, &seq) == 0)
            ws_tail_set_last(ch, ms, seq);
    }
    json_array_foreach(arr, i, e)
    {
        json_t *o = json_object();
        json_object_set_new(o, "push", json_string("entry"));
        json_object_set_new(o, "stream", ws_json_bytes(ch->stream.ptr, ch->stream.len));
        if (ch->kind == WS_CHAN_CONSUME) {
            json_object_set_new(o, "group", ws_json_bytes(ch->group.ptr, ch->group.len));
            json_object_set_new(o, "consumer", ws_json_bytes(ch->consumer.ptr, ch->consumer.len));
        }
        json_object_set(o, "entry", e);
        ws_conn_json(ch->conn, o, NULL, NULL);
    }
    json_decref(arr);
}

/* A reply on a tail or consumer session. */
static void
ws_chan_loop_reply(ws_gw *g, ws_chan *ch, bridge_msg *m)
{
    ws_conn *c = ch->conn;
    json_t *v = NULL;
    size_t n = 0;
    if (m->tag == WS_TAG_REPLAY) {
        bridge_msg_free(m);
        return;
    }
    if (ws_json_value(m->data, m->len, &v) <= 0) {
        bridge_msg_free(m);
        return;
    }
    if (m->len && (m->data[0] == '-' || m->data[0] == '!')) {
        /* NOGROUP, WRONGTYPE, NOAUTH...: the request fails and the session
         * goes. */
        json_t *o = json_object();
        json_object_set(o, "error", json_object_get(v, "error"));
        ws_conn_json(c, o, ch->req_id, NULL);
        json_decref(v);
        bridge_msg_free(m);
        ws_chan_drop(g, ch);
        return;
    }
    if (ch->resolving) {
        /* XREVRANGE + - COUNT 1: the newest ID, or none yet. */
        json_t *first = json_array_get(v, 0);
        const char *id = json_string_value(json_array_get(first, 0));
        uint64_t ms = 0, seq = 0;
        if (id)
            ws_id_parse(id, &ms, &seq);
        ws_tail_set_last(ch, ms, seq);
        ch->resolving = 0;
        ws_conn_json(c, json_pack("{s:s}", "result", "OK"), ch->req_id, NULL);
        ws_tail_go_live(ch);
    } else {
        ch->reading = 0;
        ws_chan_push_entries(ch, v, &n);
        if (ch->kind == WS_CHAN_CONSUME)
            ch->inflight += (long long)n;
        else if (n == 0 && ch->overflow)
            ch->overflow = 0; /* the buffer lost entries: read once more */
        else if (n == 0)
            ws_tail_go_live(ch);
    }
    json_decref(v);
    bridge_msg_free(m);
    ws_chan_read(g, ch);
}

/* Credit back after an XACK of the main session acked n entries. */
static void
ws_conn_acked(ws_gw *g, ws_conn *c, ws_pend *p, long long n)
{
    ws_chan *ch = ws_conn_find_chan(c, WS_CHAN_CONSUME, &p->argv[0], &p->argv[1]);
    if (ch == NULL || n <= 0)
        return;
    ch->inflight -= n < ch->inflight ? n : ch->inflight;
    ws_chan_read(g, ch);
}

/* ------------------------------------------------------------------------
 * Main session: requests and replies
 * ------------------------------------------------------------------------ */

static void
ws_pend_free(ws_pend *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->argc; i++)
        free(p->argv[i].ptr);
    free(p->argv);
    json_decref(p->id);
    free(p);
}

/* Records a request in flight on the main session. argv (argc) is copied
 * for AUTH/SELECT replays and acks. */
static ws_pend *
ws_conn_pend(ws_conn *c, int kind, json_t *id, int argc, const ws_bytes *argv)
{
    ws_pend *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->tag = ++c->next_tag;
    p->kind = kind;
    p->id = json_incref(id);
    if (argc > 0) {
        p->argv = calloc((size_t)argc, sizeof(*p->argv));
        if (p->argv == NULL) {
            ws_pend_free(p);
            return NULL;
        }
        p->argc = argc;
        for (int i = 0; i < argc; i++)
            ws_bytes_copy(&p->argv[i], &argv[i]);
    }
    if (c->pend_tail)
        c->pend_tail->next = p;
    else
        c->pend_head = p;
    c->pend_tail = p;
    return p;
}

/* Drops the newest pending request (its submit failed). */
static void
ws_conn_unpend(ws_conn *c, ws_pend *p)
{
    ws_pend **pp = &c->pend_head;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp == NULL)
        return;
    *pp = p->next;
    if (c->pend_tail == p) {
        c->pend_tail = NULL;
        for (ws_pend *q = c->pend_head; q; q = q->next)
            c->pend_tail = q;
    }
    ws_pend_free(p);
}

/* The error text for a failed bridge_submit. */
static const char *
ws_submit_error(int rc)
{
    if (rc == -E2BIG)
        return "ERR Protocol error: invalid bulk length";
    if (rc == -EAGAIN)
        return "ERR the server is busy, retry later";
    if (rc == -ESHUTDOWN)
        return "ERR the server is shutting down";
    return "ERR out of memory";
}

/* Which replay a command is: AUTH, HELLO ... AUTH u p, SELECT. Fills the
 * replay command into out (borrowed from argv) and returns its kind. */
static int
ws_cmd_kind(const ws_req *r, ws_bytes *out, int *outc)
{
    const ws_bytes *a = r->argv;
    if (strcasecmp(a[0].ptr, "auth") == 0 && a[0].len == 4) {
        *outc = r->argc;
        for (int i = 0; i < r->argc && i < 3; i++)
            out[i] = a[i];
        return r->argc <= 3 ? WS_PEND_AUTH : WS_PEND_CMD;
    }
    if (strcasecmp(a[0].ptr, "select") == 0 && a[0].len == 6 && r->argc == 2) {
        out[0] = a[0];
        out[1] = a[1];
        *outc = 2;
        return WS_PEND_SELECT;
    }
    if (strcasecmp(a[0].ptr, "hello") == 0 && a[0].len == 5) {
        for (int i = 1; i + 2 < r->argc; i++) {
            if (strcasecmp(a[i].ptr, "auth") == 0 && a[i].len == 4) {
                out[0] = ws_str("AUTH");
                out[1] = a[i + 1];
                out[2] = a[i + 2];
                *outc = 3;
                return WS_PEND_AUTH;
            }
        }
    }
    *outc = 0;
    return WS_PEND_CMD;
}

/* Handles one JSON message. */
static void
ws_conn_json_request(ws_gw *g, ws_conn *c, const char *text, size_t len)
{
    ws_req r;
    char err[256];
    ws_bytes replay[3];
    ws_pend *p;
    int kind, n = 0, rc;
    if (ws_json_parse(text, len, &r, err, sizeof(err)) != 0) {
        ws_conn_error(c, r.id, err);
        ws_req_fini(&r);
        return;
    }
    switch (r.kind) {
    case WS_REQ_CMD:
        kind = ws_cmd_kind(&r, replay, &n);
        p = ws_conn_pend(c, kind, r.id, kind == WS_PEND_CMD ? 0 : n, replay);
        if (p == NULL) {
            ws_conn_error(c, r.id, "ERR out of memory");
            break;
        }
        rc = ws_chan_submit(g, c->main, p->tag, r.argc, r.argv);
        if (rc != 0) {
            ws_conn_unpend(c, p);
            ws_conn_error(c, r.id, ws_submit_error(rc));
        }
        break;
    case WS_REQ_TAIL:
        ws_conn_tail(g, c, &r);
        break;
    case WS_REQ_UNTAIL: {
        ws_chan *ch = ws_conn_find_chan(c, WS_CHAN_TAIL, &r.stream, NULL);
        if (ch)
            ws_chan_drop(g, ch);
        ws_conn_json(c, json_pack("{s:i}", "result", ch ? 1 : 0), r.id, NULL);
        break;
    }
    case WS_REQ_CONSUME:
        ws_conn_consume(g, c, &r);
        break;
    case WS_REQ_ACK: {
        ws_bytes *argv = calloc((size_t)r.argc + 3, sizeof(*argv));
        ws_bytes sg[2] = {r.stream, r.group};
        if (argv == NULL || (p = ws_conn_pend(c, WS_PEND_ACK, r.id, 2, sg)) == NULL) {
            free(argv);
            ws_conn_error(c, r.id, "ERR out of memory");
            break;
        }
        argv[0] = ws_str("XACK");
        argv[1] = r.stream;
        argv[2] = r.group;
        for (int i = 0; i < r.argc; i++)
            argv[3 + i] = r.argv[i];
        rc = ws_chan_submit(g, c->main, p->tag, r.argc + 3, argv);
        free(argv);
        if (rc != 0) {
            ws_conn_unpend(c, p);
            ws_conn_error(c, r.id, ws_submit_error(rc));
        }
        break;
    }
    default:
        break;
    }
    ws_req_fini(&r);
}

/* Handles one resp3 message: exactly one RESP command. */
static void
ws_conn_resp_request(ws_gw *g, ws_conn *c, const char *buf, size_t len)
{
    const char *av[64];
    size_t lv[64];
    const char **pav = av;
    size_t *plv = lv;
    char line[256];
    int rc;
    resp_parser_reset(&c->parser);
    rc = resp_parse(&c->parser, buf, len);
    if (rc != 1 || c->parser.consumed != len) {
        snprintf(line, sizeof(line), "-ERR Protocol error: %s\r\n",
                 rc < 0 && c->parser.err ? c->parser.err : "one RESP command per message");
        ws_conn_queue(c, line, strlen(line), 1, NULL);
        return;
    }
    if (c->parser.argc == 0)
        return;
    if (c->parser.argc > 64) {
        pav = malloc(c->parser.argc * sizeof(*pav));
        plv = malloc(c->parser.argc * sizeof(*plv));
        if (pav == NULL || plv == NULL) {
            free(pav);
            free(plv);
            ws_conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
            return;
        }
    }
    for (size_t i = 0; i < c->parser.argc; i++) {
        pav[i] = c->parser.argv[i].ptr;
        plv[i] = c->parser.argv[i].len;
    }
    rc = bridge_submit(g->b, g->gw, c->main->id, ++c->next_tag, (int)c->parser.argc, pav, plv);
    if (pav != av) {
        free(pav);
        free(plv);
    }
    if (rc != 0) {
        snprintf(line, sizeof(line), "-%s\r\n", ws_submit_error(rc));
        ws_conn_queue(c, line, strlen(line), 1, NULL);
    }
}

/* A reply for the main session of a JSON connection. */
static void
ws_conn_reply(ws_gw *g, ws_conn *c, bridge_msg *m)
{
    ws_pend *p;
    json_t *obj, *id;
    /* Requests with no reply (CLIENT REPLY OFF/SKIP) are older. */
    while ((p = c->pend_head) && p->tag < m->tag) {
        c->pend_head = p->next;
        ws_pend_free(p);
    }
    if (c->pend_head == NULL)
        c->pend_tail = NULL;
    if (p == NULL || p->tag != m->tag) {
        bridge_msg_free(m);
        return;
    }
    c->pend_head = p->next;
    if (c->pend_head == NULL)
        c->pend_tail = NULL;
    p->next = NULL;
    id = json_incref(p->id);
    obj = ws_json_reply(m->data, m->len);
    if (obj && json_object_get(obj, "result")) {
        if (p->kind == WS_PEND_AUTH) {
            ws_pend_free(c->auth);
            c->auth = p;
            p = NULL;
        } else if (p->kind == WS_PEND_SELECT) {
            ws_pend_free(c->select);
            c->select = p;
            p = NULL;
        } else if (p->kind == WS_PEND_ACK) {
            ws_conn_acked(g, c, p, json_integer_value(json_object_get(obj, "result")));
        }
    }
    if (obj == NULL)
        obj = json_pack("{s:s}", "error", "ERR the reply could not be converted");
    ws_conn_json(c, obj, id, m);
    json_decref(id);
    ws_pend_free(p);
}

/* ------------------------------------------------------------------------
 * Delivery (core thread -> gateway thread)
 * ------------------------------------------------------------------------ */

/* Core thread: queues m or t and wakes the gateway thread, once per
 * batch (the thread drains everything at each wake-up). */
static void
ws_enqueue(ws_gw *g, bridge_msg *m, ws_tap *t)
{
    int wake;
    pthread_mutex_lock(&g->lock);
    if (m) {
        m->next = NULL;
        if (g->in_tail)
            g->in_tail->next = m;
        else
            g->in_head = m;
        g->in_tail = m;
    }
    if (t) {
        t->next = NULL;
        if (g->tap_tail)
            g->tap_tail->next = t;
        else
            g->tap_head = t;
        g->tap_tail = t;
    }
    wake = !g->woken;
    g->woken = 1;
    pthread_mutex_unlock(&g->lock);
    if (wake)
        lws_cancel_service(g->ctx);
}

static void
ws_deliver(void *arg, bridge_msg *m)
{
    ws_enqueue(arg, m, NULL);
}

/*
 * Core thread, every XADD: while any tail is open, a copy of the entry
 * goes to the gateway thread, which fans it out to the tails of that key.
 * The core's cost per XADD is one copy whatever the number of tails.
 */
static void
ws_on_entry(void *arg, int db, const char *key, size_t klen, const char *id, size_t idlen,
            const char *fields, size_t flen)
{
    ws_gw *g = arg;
    ws_tap *t;
    if (atomic_load_explicit(&g->ntails, memory_order_relaxed) == 0)
        return;
    t = malloc(sizeof(*t) + klen + idlen + flen);
    if (t == NULL)
        return; /* tails catch up when they next read history */
    t->db = db;
    t->klen = klen;
    t->idlen = idlen;
    t->flen = flen;
    memcpy(t->data, key, klen);
    memcpy(t->data + klen, id, idlen);
    memcpy(t->data + klen + idlen, fields, flen);
    ws_enqueue(g, NULL, t);
}

static size_t
ws_info(void *arg, char *buf, size_t cap)
{
    ws_gw *g = arg;
    int n =
        snprintf(buf, cap,
                 "# Ws\r\nws_port:%d\r\nws_connections:%llu\r\nws_tails:%llu\r\n"
                 "ws_consumers:%llu\r\nws_messages_received:%llu\r\n"
                 "ws_messages_sent:%llu\r\nws_handshakes_refused:%llu\r\n"
                 "ws_tail_catchups:%llu\r\n",
                 g->port, atomic_load(&g->nconns), atomic_load(&g->ntails),
                 atomic_load(&g->nconsumers), atomic_load(&g->msgs_in), atomic_load(&g->msgs_out),
                 atomic_load(&g->refused), atomic_load(&g->catchups));
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Submit function of /metrics sessions. */
static int
ws_metrics_submit(void *arg, int argc, const char *const *argv, const size_t *lens)
{
    ws_chan *ch = arg;
    return bridge_submit(ch->gw->b, ch->gw->gw, ch->id, WS_TAG_LOOP, argc, argv, lens);
}

static void ws_http_respond(struct lws *wsi, ws_pss *pss, int status, const char *ctype,
                            const void *body, size_t len, int owned);

/* A reply on a /metrics session. */
static void
ws_metrics_reply(ws_gw *g, ws_chan *ch, bridge_msg *m)
{
    int rc = ws__metrics_feed(ch->metrics, m->data, m->len, ws_metrics_submit, ch);
    ws_pss *pss;
    bridge_msg_free(m);
    if (rc == 0)
        return;
    pss = lws_wsi_user(ch->http);
    pss->metrics = NULL;
    if (rc == 1) {
        size_t len;
        const char *text = ws__metrics_text(ch->metrics, &len);
        char *copy = malloc(len + 1);
        if (copy)
            memcpy(copy, text, len);
        ws_http_respond(ch->http, pss, copy ? 200 : 500, "text/plain; version=0.0.4", copy,
                        copy ? len : 0, 1);
    } else {
        ws_http_respond(ch->http, pss, 503, "text/plain", NULL, 0, 0);
    }
    ws_chan_free(g, ch);
}

/* One message from the core, on the gateway thread. */
static void
ws_handle(ws_gw *g, bridge_msg *m)
{
    ws_chan *ch = ws_chan_find(g, m->session);
    ws_conn *c;
    if (ch == NULL) {
        bridge_msg_free(m);
        return;
    }
    if (ch->kind == WS_CHAN_METRICS) {
        if (m->kind == BRIDGE_REPLY) {
            ws_metrics_reply(g, ch, m);
            return;
        }
        bridge_msg_free(m);
        return;
    }
    c = ch->conn;
    if (m->kind == BRIDGE_CLOSE) {
        char reason[64];
        snprintf(reason, sizeof(reason), "%.*s", (int)(m->len < 60 ? m->len : 60), m->data);
        if (m->code == 1008) {
            /* Over the output limit: what is queued is dropped, the close
             * goes out at once. */
            ws_warn(g, "ws: connection closed by the core: ", reason);
            while (c->out_head) {
                ws_frame *f = c->out_head;
                c->out_head = f->next;
                bridge_msg_free(f->src);
                free(f);
            }
            c->out_tail = NULL;
            c->out_bytes = 0;
        }
        ws_conn_close(c, m->code > 0 ? m->code : 1000, reason);
        bridge_msg_free(m);
        return;
    }
    if (ch->kind != WS_CHAN_MAIN) {
        if (m->kind == BRIDGE_REPLY)
            ws_chan_loop_reply(g, ch, m);
        else
            bridge_msg_free(m);
        return;
    }
    if (c->resp3) {
        ws_conn_queue(c, m->data, m->len, 1, m);
        return;
    }
    if (m->kind == BRIDGE_REPLY) {
        ws_conn_reply(g, c, m);
    } else {
        ws_conn_json(c, ws_json_push(m->data, m->len), NULL, m);
    }
}

/* The push text of a tapped entry, or NULL. */
static char *
ws_tap_text(const ws_tap *t, const char *id, size_t *len)
{
    json_t *fields = NULL, *o;
    char *text;
    if (ws_json_value(t->data + t->klen + t->idlen, t->flen, &fields) <= 0)
        return NULL;
    o = json_pack("{s:s,s:o,s:{s:s,s:o}}", "push", "entry", "stream",
                  ws_json_bytes(t->data, t->klen), "entry", "id", id, "fields", fields);
    if (o == NULL)
        return NULL;
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text)
        *len = strlen(text);
    return text;
}

/*
 * One tapped entry: pushed to every live tail of its key (the text built
 * once), buffered by tails still reading history. A live tail whose
 * connection has more than WS_OUT_PAUSE queued goes back to reading
 * history, at the pace its browser takes it.
 */
static void
ws_tap_handle(ws_gw *g, const ws_tap *t)
{
    char id[48], *text = NULL;
    size_t tlen = 0;
    uint64_t ms, seq;
    if (t->idlen >= sizeof(id))
        return;
    memcpy(id, t->data + t->klen, t->idlen);
    id[t->idlen] = '\0';
    if (ws_id_parse(id, &ms, &seq) != 0)
        return;
    for (ws_chan *ch = g->tails; ch; ch = ch->tnext) {
        ws_frame *f;
        if (ch->db != t->db || ch->stream.len != t->klen ||
            memcmp(ch->stream.ptr, t->data, t->klen) != 0 || !ws_tail_after(ch, ms, seq))
            continue;
        if (text == NULL && (text = ws_tap_text(t, id, &tlen)) == NULL)
            return;
        if (ch->live && ch->conn->out_bytes > WS_OUT_PAUSE) {
            ch->live = 0;
            atomic_fetch_add(&g->catchups, 1);
            ws_chan_read(g, ch); /* paused until the queue drains */
            continue;
        }
        if (!ch->live && ch->nbuf >= WS_TAIL_BUF_MAX) {
            ch->overflow = 1;
            continue;
        }
        f = ws_frame_new(text, tlen, 0, NULL);
        if (f == NULL)
            continue;
        f->ms = ms;
        f->seq = seq;
        if (ch->live) {
            ws_tail_set_last(ch, ms, seq);
            ws_conn_push_frame(ch->conn, f);
        } else {
            if (ch->buf_tail)
                ch->buf_tail->next = f;
            else
                ch->buf_head = f;
            ch->buf_tail = f;
            ch->nbuf++;
        }
    }
    free(text);
}

/* Drains the inbox and the tap queue (gateway thread). */
static void
ws_drain(ws_gw *g)
{
    bridge_msg *m;
    ws_tap *t;
    pthread_mutex_lock(&g->lock);
    m = g->in_head;
    g->in_head = g->in_tail = NULL;
    t = g->tap_head;
    g->tap_head = g->tap_tail = NULL;
    g->woken = 0;
    pthread_mutex_unlock(&g->lock);
    while (m) {
        bridge_msg *next = m->next;
        m->next = NULL;
        ws_handle(g, m);
        m = next;
    }
    while (t) {
        ws_tap *next = t->next;
        ws_tap_handle(g, t);
        free(t);
        t = next;
    }
}

/* ------------------------------------------------------------------------
 * HTTP: dashboard files, /metrics, /healthz
 * ------------------------------------------------------------------------ */

/* The Content-Type of a dashboard file, by extension. */
static const char *
ws_http_ctype(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".json", "application/json"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"},
                 {".txt", "text/plain; charset=utf-8"},
                 {".map", "application/json"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcasecmp(dot, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

static const ws_asset *
ws_http_asset(const char *path)
{
    while (*path == '/')
        path++;
    if (*path == '\0')
        path = "index.html";
    for (size_t i = 0; i < ws__asset_count; i++) {
        if (strcmp(ws__assets[i].path, path) == 0)
            return &ws__assets[i];
    }
    return NULL;
}

/* Sets the response of an HTTP request and asks to write it. owned: body
 * was allocated and is freed with the request. */
static void
ws_http_respond(struct lws *wsi, ws_pss *pss, int status, const char *ctype, const void *body,
                size_t len, int owned)
{
    pss->status = status;
    pss->ctype = ctype;
    pss->body = body;
    pss->body_len = len;
    if (owned)
        pss->body_owned = (char *)body;
    pss->sent = 0;
    pss->ready = 1;
    lws_callback_on_writable(wsi);
}

static int
ws_http_request(ws_gw *g, struct lws *wsi, ws_pss *pss, const char *path)
{
    const ws_asset *a;
    if (strcmp(path, "/healthz") == 0) {
        ws_http_respond(wsi, pss, 200, "text/plain; charset=utf-8", "ok\n", 3, 0);
        return 0;
    }
    if (strcmp(path, "/metrics") == 0) {
        ws_metrics_gw mg = {atomic_load(&g->nconns), atomic_load(&g->ntails),
                            atomic_load(&g->nconsumers), atomic_load(&g->msgs_in),
                            atomic_load(&g->msgs_out)};
        ws_chan *ch = ws_chan_new(g, WS_CHAN_METRICS, NULL, "ws-metrics");
        if (ch == NULL) {
            ws_http_respond(wsi, pss, 503, "text/plain", NULL, 0, 0);
            return 0;
        }
        ch->http = wsi;
        ch->metrics = ws__metrics_new(&mg, ws_now_ms());
        if (ch->metrics == NULL || ws__metrics_start(ch->metrics, ws_metrics_submit, ch) != 0) {
            ws_chan_free(g, ch);
            ws_http_respond(wsi, pss, 503, "text/plain", NULL, 0, 0);
            return 0;
        }
        pss->metrics = ch; /* the response comes with the last reply */
        return 0;
    }
    a = ws_http_asset(path);
    if (a == NULL) {
        ws_http_respond(wsi, pss, 404, "text/plain; charset=utf-8", "not found\n", 10, 0);
        return 0;
    }
    ws_http_respond(wsi, pss, 200, ws_http_ctype(a->path), a->data, a->len, 0);
    return 0;
}

/* Writes the headers, then the body in chunks. Returns -1 to close. */
static int
ws_http_write(struct lws *wsi, ws_pss *pss)
{
    unsigned char buf[LWS_PRE + 8192];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
    size_t n;
    if (!pss->ready)
        return 0;
    if (!pss->headers_sent) {
        if (lws_add_http_common_headers(wsi, (unsigned)pss->status, pss->ctype,
                                        (lws_filepos_t)pss->body_len, &p, end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                         (const unsigned char *)"no-store", 8, &p, end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        pss->headers_sent = 1;
        if (pss->body_len == 0)
            return lws_http_transaction_completed(wsi) ? -1 : 0;
        lws_callback_on_writable(wsi);
        return 0;
    }
    n = pss->body_len - pss->sent;
    if (n > sizeof(buf) - LWS_PRE)
        n = sizeof(buf) - LWS_PRE;
    memcpy(start, pss->body + pss->sent, n);
    pss->sent += n;
    if (lws_write(wsi, start, n,
                  pss->sent == pss->body_len ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    if (pss->sent < pss->body_len) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void
ws_http_done(ws_gw *g, ws_pss *pss)
{
    if (pss->metrics) {
        ws_chan_free(g, pss->metrics);
        pss->metrics = NULL;
    }
    free(pss->body_owned);
    pss->body_owned = NULL;
    pss->ready = 0;
}

/* ------------------------------------------------------------------------
 * WebSocket connections
 * ------------------------------------------------------------------------ */

/* Whether the handshake's Origin is allowed: no Origin (not a browser),
 * "*", one of the configured origins, or by default the same host:port as
 * the Host header. */
static int
ws_origin_ok(ws_gw *g, struct lws *wsi)
{
    char origin[256], host[256], list[sizeof(g->origins)], *save = NULL;
    const char *o;
    int olen = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
    if (olen <= 0)
        return 1;
    if (g->origins[0] == '\0') {
        if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0)
            return 0;
        o = strstr(origin, "://");
        o = o ? o + 3 : origin;
        return strcasecmp(o, host) == 0;
    }
    snprintf(list, sizeof(list), "%s", g->origins);
    for (char *t = strtok_r(list, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
        if (strcmp(t, "*") == 0 || strcasecmp(t, origin) == 0)
            return 1;
    }
    return 0;
}

static int
ws_conn_open(ws_gw *g, struct lws *wsi, ws_pss *pss)
{
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    char addr[64] = "";
    ws_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    c->wsi = wsi;
    c->resp3 = proto && proto->name && strcmp(proto->name, "resp3") == 0;
    lws_get_peer_simple(wsi, addr, sizeof(addr));
    c->main = ws_chan_new(g, WS_CHAN_MAIN, c, addr);
    if (c->main == NULL) {
        free(c);
        return -1;
    }
    resp_parser_init(&c->parser, (long long)bridge_max_arg(g->b));
    c->next = g->conns;
    if (c->next)
        c->next->prev = c;
    g->conns = c;
    pss->conn = c;
    atomic_fetch_add(&g->nconns, 1);
    if (atomic_load(&g->stopping))
        ws_conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "shutdown");
    return 0;
}

/* The connection went: every session it owns is closed; entries a
 * consumer had are left pending in their group. */
static void
ws_conn_gone(ws_gw *g, ws_conn *c)
{
    while (c->chans) {
        ws_chan *ch = c->chans;
        c->chans = ch->next;
        ws_chan_free(g, ch);
    }
    ws_chan_free(g, c->main);
    while (c->out_head) {
        ws_frame *f = c->out_head;
        c->out_head = f->next;
        bridge_msg_free(f->src);
        free(f);
    }
    while (c->pend_head) {
        ws_pend *p = c->pend_head;
        c->pend_head = p->next;
        ws_pend_free(p);
    }
    ws_pend_free(c->auth);
    ws_pend_free(c->select);
    resp_parser_fini(&c->parser);
    free(c->rx);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    atomic_fetch_sub(&g->nconns, 1);
    free(c);
}

/* Appends a received fragment; runs the message once it is whole. Returns
 * -1 to close (over ws-max-message-size: 1009). */
static int
ws_conn_receive(ws_gw *g, ws_conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->close_code)
        return 0; /* closing: the rest of the input is ignored */
    if (c->rxlen + len > g->max_message) {
        /* Closed from WRITEABLE: a -1 here is not honoured while lws is
         * inflating a permessage-deflate message. */
        ws_conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
        c->rxlen = 0;
        return 0;
    }
    if (c->rxlen + len > c->rxcap) {
        size_t cap = c->rxcap ? c->rxcap : 4096;
        char *rx;
        while (cap < c->rxlen + len)
            cap *= 2;
        rx = realloc(c->rx, cap);
        if (rx == NULL)
            return -1;
        c->rx = rx;
        c->rxcap = cap;
    }
    memcpy(c->rx + c->rxlen, in, len);
    c->rxlen += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return 0;
    atomic_fetch_add(&g->msgs_in, 1);
    if (c->close_code == 0) {
        if (c->resp3)
            ws_conn_resp_request(g, c, c->rx, c->rxlen);
        else
            ws_conn_json_request(g, c, c->rx, c->rxlen);
    }
    c->rxlen = 0;
    if (c->rxcap > 1024 * 1024) {
        free(c->rx); /* do not keep a huge buffer for small messages */
        c->rx = NULL;
        c->rxcap = 0;
    }
    return 0;
}

/* Writes queued frames until the socket chokes; then the close, if any. */
static int
ws_conn_write(ws_gw *g, ws_conn *c, struct lws *wsi)
{
    while (c->out_head) {
        ws_frame *f = c->out_head;
        int n =
            lws_write(wsi, f->buf + LWS_PRE, f->len, f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        if (n < (int)f->len)
            return -1;
        c->out_head = f->next;
        if (c->out_head == NULL)
            c->out_tail = NULL;
        c->out_bytes -= f->len;
        bridge_msg_free(f->src);
        free(f);
        atomic_fetch_add(&g->msgs_out, 1);
        if (lws_send_pipe_choked(wsi))
            break;
    }
    if (c->out_head) {
        lws_callback_on_writable(wsi);
    } else if (c->close_code) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    if (c->out_bytes <= WS_OUT_PAUSE) {
        for (ws_chan *ch = c->chans; ch; ch = ch->next) {
            if (ch->paused)
                ws_chan_read(g, ch);
        }
    }
    return 0;
}

/* Gateway thread, woken by lws_cancel_service: the inbox, and when
 * stopping, the closes. */
static void
ws_wake(ws_gw *g)
{
    ws_drain(g);
    if (!atomic_load(&g->stopping))
        return;
    for (ws_conn *c = g->conns; c; c = c->next)
        ws_conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "shutdown");
    if (g->conns == NULL)
        atomic_store(&g->done, 1);
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    ws_gw *g = lws_context_user(lws_get_context(wsi));
    ws_pss *pss = user;
    char uri[64];
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        ws_wake(g);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
            strcmp(uri, "/ws") != 0 || !ws_origin_ok(g, wsi) || atomic_load(&g->stopping)) {
            atomic_fetch_add(&g->refused, 1);
            return -1;
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        return ws_conn_open(g, wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return pss->conn ? ws_conn_receive(g, pss->conn, wsi, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->conn ? ws_conn_write(g, pss->conn, wsi) : 0;
    case LWS_CALLBACK_CLOSED:
        if (pss->conn) {
            ws_conn_gone(g, pss->conn);
            pss->conn = NULL;
        }
        return 0;
    case LWS_CALLBACK_HTTP:
        return ws_http_request(g, wsi, pss, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return ws_http_write(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss) /* none when the peer left before sending a request */
            ws_http_done(g, pss);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------ */

static const struct lws_protocols ws_protocols[] = {
    {"runnel.json", ws_callback, sizeof(ws_pss), 16384, 0, NULL, 0},
    {"resp3", ws_callback, sizeof(ws_pss), 16384, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static const struct lws_extension ws_extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
    {NULL, NULL, NULL}};

static const lws_retry_bo_t ws_keepalive = {
    .secs_since_valid_ping = WS_PING_SECS,
    .secs_since_valid_hangup = WS_HANGUP_SECS,
};

static void (*ws_lws_log_fn)(const char *); /* lws's errors go here */

static void
ws_lws_log(int level, const char *line)
{
    (void)level;
    if (ws_lws_log_fn)
        ws_lws_log_fn(line);
}

static void *
ws_thread(void *arg)
{
    ws_gw *g = arg;
    while (!atomic_load(&g->done)) {
        if (lws_service(g->ctx, 0) < 0)
            break;
    }
    return NULL;
}

static void
ws_free(ws_gw *g)
{
    bridge_msg *m = g->in_head;
    ws_tap *t = g->tap_head;
    while (m) {
        bridge_msg *next = m->next;
        bridge_msg_free(m);
        m = next;
    }
    while (t) {
        ws_tap *next = t->next;
        free(t);
        t = next;
    }
    free(g->table);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

ws_gw *
ws_start(bridge *b, const ws_options *o, char *err, size_t errlen)
{
    static const bridge_ops ops = {.deliver = ws_deliver, .on_entry = ws_on_entry, .info = ws_info};
    struct lws_context_creation_info info;
    ws_gw *g = calloc(1, sizeof(*g));
    sigset_t all, old;
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->b = b;
    g->table_cap = 256;
    g->table = calloc(g->table_cap, sizeof(*g->table));
    pthread_mutex_init(&g->lock, NULL);
    g->max_message = o->max_message ? o->max_message : 512ull * 1024 * 1024;
    g->log = o->log;
    snprintf(g->origins, sizeof(g->origins), "%s", o->allowed_origins ? o->allowed_origins : "");
    if (g->table == NULL) {
        snprintf(err, errlen, "out of memory");
        ws_free(g);
        return NULL;
    }
    ws_lws_log_fn = o->log;
    lws_set_log_level(LLL_ERR, ws_lws_log);
    memset(&info, 0, sizeof(info));
    info.port = o->port;
    info.iface = (o->bind && o->bind[0]) ? o->bind : NULL;
    info.protocols = ws_protocols;
    info.extensions = ws_extensions;
    info.user = g;
    info.count_threads = 1;
    info.retry_and_idle_policy = &ws_keepalive;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    g->ctx = lws_create_context(&info);
    if (g->ctx == NULL) {
        snprintf(err, errlen, "could not listen on %s:%d", info.iface ? info.iface : "*", o->port);
        ws_free(g);
        return NULL;
    }
    g->port = o->port;
    g->gw = bridge_register(b, "ws", &ops, g);
    if (g->gw < 0) {
        snprintf(err, errlen, "no room for another gateway");
        lws_context_destroy(g->ctx);
        ws_free(g);
        return NULL;
    }
    /* Signals stay with the core thread (SIGTERM/SIGINT on its loop). */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&g->thread, NULL, ws_thread, g) != 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        snprintf(err, errlen, "could not start the WebSocket thread");
        bridge_unregister(b, g->gw);
        lws_context_destroy(g->ctx);
        ws_free(g);
        return NULL;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return g;
}

int
ws_bridge_id(const ws_gw *g)
{
    return g->gw;
}

int
ws_port(const ws_gw *g)
{
    return g->port;
}

void
ws_stop(ws_gw *g)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    int waited = 0;
    if (g == NULL)
        return;
    atomic_store(&g->stopping, 1);
    /* The thread writes what is queued and closes each connection with
     * 1001; it sets done once none is left. */
    while (!atomic_load(&g->done) && waited < WS_STOP_MS) {
        lws_cancel_service(g->ctx);
        nanosleep(&tick, NULL);
        waited += 10;
    }
    atomic_store(&g->done, 1);
    lws_cancel_service(g->ctx);
    pthread_join(g->thread, NULL);
    /* No callback may reach g from now on. */
    bridge_unregister(g->b, g->gw);
    /* Connections still open are closed here (CLOSED runs on this thread
     * now that the service thread is gone). */
    lws_context_destroy(g->ctx);
    ws_lws_log_fn = NULL;
    ws_free(g);
}
