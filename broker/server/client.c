/*
 * broker/server/client: RESP clients on the core thread (the fast path).
 *
 * Reads land directly in the client's query buffer; every complete command
 * in it is parsed and run before returning to the loop, so a pipeline of
 * thousands of commands in one read is answered in one pass. Replies
 * accumulate in the client's reply buffer and are written with
 * uv_try_write from the loop's prepare handle, just before it sleeps.
 *
 * Output is a queue: a ring of reference-counted segments (pub/sub frames
 * shared by every receiver, and reply bytes moved out of the reply buffer
 * when the socket was full), then the reply buffer itself. An ordinary
 * reply only appends to the reply buffer (no allocation); a published
 * message costs each receiver one ring slot and one reference, not a copy.
 * Everything goes out with one writev (uv_try_write over several buffers);
 * what the socket does not take is handed to a queued uv_write over the
 * ring, whose segments stay referenced until it completes.
 *
 * Hot path: client_read_cb -> client__process -> dispatch__call,
 * client__deliver, and client__flush_all. Not here: command semantics
 * (commands/), the loop and listeners (loop.c), subscriptions (pubsub/).
 */
#include "broker/server/server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "broker/config/config.h"
#include "broker/persist/aof.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

/* Bytes asked of the kernel per read, as Redis's PROTO_IOBUF_LEN. */
#define CLIENT_READ_CHUNK (16 * 1024)
/* Output bytes not counted against limits (Redis's PROTO_REPLY_CHUNK_BYTES
 * static reply buffer). */
#define CLIENT_STATIC_OBUF (16 * 1024)
/* Buffers handed to one writev. */
#define CLIENT_IOV 64
/* Seconds of output-buffer peaks INFO remembers (client_recent_max_*). */
#define CLIENT_PEAK_SLOTS 8

/* Peak output-buffer size per second, over the last CLIENT_PEAK_SLOTS s. */
static size_t client_peak_obuf[CLIENT_PEAK_SLOTS]; /* bytes */
static int64_t client_peak_sec[CLIENT_PEAK_SLOTS]; /* unix s of each slot */

static void client_close(client *c);

static void
client_addr_str(const struct sockaddr_storage *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        port = ntohs(s4->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        port = ntohs(s6->sin6_port);
    }
    snprintf(buf, cap, "%s:%d", ip, port);
}

static void
client_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    client *c = h->data;
    (void)suggested;
    if (c->qcap - c->qlen < CLIENT_READ_CHUNK) {
        size_t cap = c->qcap ? c->qcap : CLIENT_READ_CHUNK;
        while (cap - c->qlen < CLIENT_READ_CHUNK)
            cap *= 2;
        c->qbuf = util_realloc(c->qbuf, cap);
        c->qcap = cap;
    }
    buf->base = c->qbuf + c->qlen;
    buf->len = c->qcap - c->qlen;
}

static void
client_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    client *c = s->data;
    (void)buf;
    if (nread < 0) {
        client_close(c);
        return;
    }
    if (nread == 0)
        return;
    c->qlen += (size_t)nread;
    c->tot_net_in += (unsigned long long)nread;
    srv.stat_net_in += (unsigned long long)nread;
    c->last_ms = server_now_ms();
    if ((long long)(c->qlen - c->qpos) > config.client_query_buffer_limit) {
        server_log(CONFIG_LL_WARNING,
                   "Closing client that reached max query buffer length: id=%llu addr=%s "
                   "(qbuf initial bytes: ...)",
                   (unsigned long long)c->sess.id, c->addr);
        client_close(c);
        return;
    }
    client__process(c);
}

void
client__accept(uv_stream_t *listener, int status)
{
    client *c;
    struct sockaddr_storage sa;
    int len = sizeof(sa);
    uv_os_fd_t fd;
    if (status < 0)
        return;
    c = util_calloc(1, sizeof(*c));
    uv_tcp_init(srv.loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)util_free);
        return;
    }
    if ((long long)srv.nclients >= config.maxclients) {
        static const char msg[] = "-ERR max number of clients reached\r\n";
        uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        srv.stat_rejected++;
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)util_free);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (config.tcp_keepalive > 0)
        uv_tcp_keepalive(&c->tcp, 1, (unsigned)config.tcp_keepalive);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0)
        client_addr_str(&sa, c->addr, sizeof(c->addr));
    len = sizeof(sa);
    if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&sa, &len) == 0)
        client_addr_str(&sa, c->laddr, sizeof(c->laddr));
    c->fd = uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 ? (int)fd : -1;
    c->sess.id = ++srv.next_client_id;
    c->sess.resp = 2;
    c->sess.authed = config.requirepass[0] == '\0';
    c->ctime_ms = c->last_ms = server_now_ms();
    resp_parser_init(&c->parser, config.proto_max_bulk_len);
    reply_init(&c->out, 2);
    c->next = srv.clients;
    if (srv.clients)
        srv.clients->prev = c;
    srv.clients = c;
    srv.nclients++;
    srv.stat_conns++;
    if (ks_dict_add(srv.clients_by_id, &c->sess.id, sizeof(c->sess.id), c) == NULL)
        runnel_panic("out of memory indexing a client");
    uv_read_start((uv_stream_t *)&c->tcp, client_alloc_cb, client_read_cb);
}

/* ------------------------------------------------------------------------
 * Output queue
 * ------------------------------------------------------------------------ */

/* Appends b to the ring (the reference moves to the client). */
static void
client_seg_push(client *c, pubsub_buf *b)
{
    if (c->seg_count == c->seg_cap) {
        uint32_t cap = c->seg_cap ? c->seg_cap * 2 : 8;
        pubsub_buf **segs = util_malloc(cap * sizeof(*segs));
        /* Unroll the ring into the new array, oldest first. */
        for (uint32_t i = 0; i < c->seg_count; i++)
            segs[i] = c->segs[(c->seg_head + i) & (c->seg_cap - 1)];
        util_free(c->segs);
        c->segs = segs;
        c->seg_cap = cap;
        c->seg_head = 0;
    }
    c->segs[(c->seg_head + c->seg_count) & (c->seg_cap - 1)] = b;
    c->seg_count++;
    c->seg_bytes += b->len;
}

/* Drops the oldest segment (fully written). */
static void
client_seg_pop(client *c)
{
    assert(c->seg_count > 0);
    pubsub_buf_unref(c->segs[c->seg_head]);
    c->seg_head = (c->seg_head + 1) & (c->seg_cap - 1);
    c->seg_count--;
    c->seg_off = 0;
    if (c->seg_count == 0 && c->seg_cap > 64) {
        /* A burst is over: do not keep a large ring for an idle client. */
        util_free(c->segs);
        c->segs = NULL;
        c->seg_cap = 0;
        c->seg_head = 0;
    }
}

/* Moves the reply buffer's bytes to the ring without copying them. */
static void
client_seal_out(client *c)
{
    if (c->out.len == 0)
        return;
    client_seg_push(c, pubsub_buf_wrap(c->out.buf, c->out.len));
    c->out.buf = NULL;
    c->out.len = c->out.cap = 0;
}

/*
 * The output buffer size that limits, INFO and CLIENT LIST omem count:
 * bytes waiting to be written (a shared frame counts in full for each
 * receiver), less the first CLIENT_STATIC_OBUF, which Redis keeps in a
 * fixed per-client buffer and does not count. So small replies never
 * trip a limit, as in Redis.
 */
static size_t
client_obuf_used(const client *c)
{
    size_t n = c->seg_bytes + c->out.len;
    return n > CLIENT_STATIC_OBUF ? n - CLIENT_STATIC_OBUF : 0;
}

/* Fills iov with what comes next: ring segments, then the reply buffer
 * when every segment fit. Returns the bytes covered. */
static size_t
client_iov(client *c, uv_buf_t *iov, unsigned *niov, int with_out)
{
    size_t total = 0;
    unsigned n = 0;
    for (uint32_t i = 0; i < c->seg_count && n < CLIENT_IOV; i++) {
        pubsub_buf *b = c->segs[(c->seg_head + i) & (c->seg_cap - 1)];
        size_t off = i == 0 ? c->seg_off : 0;
        iov[n++] = uv_buf_init(b->data + off, (unsigned)(b->len - off));
        total += b->len - off;
    }
    if (with_out && c->out.len > 0 && n < CLIENT_IOV && n == c->seg_count) {
        iov[n++] = uv_buf_init(c->out.buf, (unsigned)c->out.len);
        total += c->out.len;
    }
    *niov = n;
    return total;
}

/* Releases n bytes just written, oldest first. A reply buffer written in
 * part moves to the ring, so the unwritten tail keeps its place. */
static void
client_consume(client *c, size_t n)
{
    c->tot_net_out += n;
    srv.stat_net_out += n;
    while (n > 0 && c->seg_count > 0) {
        size_t left = c->segs[c->seg_head]->len - c->seg_off;
        if (n < left) {
            c->seg_off += n;
            c->seg_bytes -= n;
            return;
        }
        n -= left;
        c->seg_bytes -= left;
        client_seg_pop(c);
    }
    if (n == 0)
        return;
    assert(n <= c->out.len);
    if (n == c->out.len) {
        reply_reset(&c->out);
        return;
    }
    assert(c->seg_count == 0);
    client_seal_out(c);
    c->seg_off = n;
    c->seg_bytes -= n;
}

static void
client_free_cb(uv_handle_t *h)
{
    client *c = h->data;
    resp_parser_fini(&c->parser);
    reply_fini(&c->out);
    while (c->seg_count > 0)
        client_seg_pop(c);
    util_free(c->segs);
    util_free(c->qbuf);
    util_free(c->sess.name);
    cmd_tx_free(&c->sess);
    util_free(c);
}

/* Unlinks the client from every list and closes its socket; the memory
 * goes in the close callback, after libuv cancelled any write. */
static void
client_close(client *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv.clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv.nclients--;
    ks_dict_del(srv.clients_by_id, &c->sess.id, sizeof(c->sess.id), NULL);
    blocked__unblock(c, BLOCKED_GONE);
    pubsub_drop(srv.pubsub, c->sess.id);
    if (c->sess.flags & SESS_MONITOR)
        srv.nmonitors--;
    /* A client in the flush list stays there: the flush skips closing
     * clients and unlinks them, so the list never dangles. */
    if (!c->pending)
        uv_close((uv_handle_t *)&c->tcp, client_free_cb);
}

void
client__free_async(client *c)
{
    client_close(c);
}

void
client__queue_flush(client *c)
{
    if (c->pending || c->closing)
        return;
    c->pending = 1;
    c->pnext = srv.flush_list;
    srv.flush_list = c;
}

static void client_write(client *c);

static void
client_write_cb(uv_write_t *req, int status)
{
    client *c = req->data;
    c->writing = 0;
    if (c->closing)
        return; /* the ring goes with the client in client_free_cb */
    if (status < 0) {
        client_close(c);
        return;
    }
    client_consume(c, c->inflight);
    c->inflight = 0;
    if (c->close_asap) {
        client_close(c);
        return;
    }
    /* Replies queued since may belong to writes not yet in the log. */
    if (aof_pending())
        aof_before_sleep();
    client_write(c);
}

/* Writes as much of the output queue as the socket takes now, with one
 * writev per CLIENT_IOV buffers; queues the rest as one uv_write. */
static void
client_write(client *c)
{
    uv_buf_t iov[CLIENT_IOV];
    unsigned niov;
    size_t total;
    int n;
    if (c->writing)
        return;
    for (;;) {
        if (c->seg_count == 0 && c->out.len == 0) {
            if (c->sess.flags & SESS_CLOSE_AFTER_REPLY)
                client_close(c);
            return;
        }
        total = client_iov(c, iov, &niov, 1);
        n = uv_try_write((uv_stream_t *)&c->tcp, iov, niov);
        if (n == UV_EAGAIN)
            n = 0;
        if (n < 0) {
            client_close(c);
            return;
        }
        client_consume(c, (size_t)n);
        if ((size_t)n < total)
            break;
    }
    /* The socket is full: hand the rest to a queued write. The reply
     * buffer joins the ring so new replies can grow it meanwhile. */
    client_seal_out(c);
    c->inflight = client_iov(c, iov, &niov, 0);
    c->writing = 1;
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, iov, niov, client_write_cb) != 0) {
        c->writing = 0;
        c->inflight = 0;
        client_close(c);
    }
}

void
client__flush_all(void)
{
    while (srv.flush_list) {
        client *c = srv.flush_list;
        srv.flush_list = c->pnext;
        c->pending = 0;
        c->pnext = NULL;
        if (c->closing) {
            uv_close((uv_handle_t *)&c->tcp, client_free_cb);
            continue;
        }
        if (c->close_asap) {
            /* Nothing more is written to a client over its limit. */
            client_close(c);
            continue;
        }
        client_write(c);
    }
}

/* Records used bytes in this second's peak slot (INFO
 * client_recent_max_output_buffer). */
static void
client_peak_note(size_t used, int64_t now_s)
{
    int slot = (int)(now_s % CLIENT_PEAK_SLOTS);
    if (client_peak_sec[slot] != now_s) {
        client_peak_sec[slot] = now_s;
        client_peak_obuf[slot] = 0;
    }
    if (used > client_peak_obuf[slot])
        client_peak_obuf[slot] = used;
}

size_t
client__recent_max_obuf(int64_t now_ms)
{
    int64_t now_s = now_ms / 1000;
    size_t max = 0;
    for (int i = 0; i < CLIENT_PEAK_SLOTS; i++) {
        if (now_s - client_peak_sec[i] < CLIENT_PEAK_SLOTS && client_peak_obuf[i] > max)
            max = client_peak_obuf[i];
    }
    return max;
}

static int client_obuf_check(client *c, int async);

void
client__cron(int64_t now_ms)
{
    for (client *c = srv.clients, *next; c; c = next) {
        next = c->next;
        client_peak_note(client_obuf_used(c), now_ms / 1000);
        /* A client over its soft limit that receives nothing more is
         * still closed once its seconds are up, as Redis's clientsCron
         * does. */
        client_obuf_check(c, 0);
    }
}

/*
 * Enforces client-output-buffer-limit for c's class, as Redis does: over
 * the hard limit, or over the soft limit continuously for more than its
 * seconds, the client is closed. With async (while output is being added,
 * maybe during a publish) it is only scheduled: it gets nothing more and
 * the next flush closes it; otherwise (the cron) it is closed now. Returns
 * 1 when it was closed or scheduled.
 */
static int
client_obuf_check(client *c, int async)
{
    int cls = (c->sess.flags & SESS_PUBSUB) ? CONFIG_OBUF_PUBSUB : CONFIG_OBUF_NORMAL;
    unsigned long long hard = config.obuf_hard[cls], soft = config.obuf_soft[cls];
    unsigned long long used;
    int64_t now_s;
    int over = 0;
    char info[1024];

    if ((hard == 0 && soft == 0) || c->close_asap || c->closing)
        return 0;
    used = client_obuf_used(c);
    if (used == 0)
        return 0;
    now_s = server_now_ms() / 1000;
    if (hard && used >= hard)
        over = 1;
    if (soft && used >= soft) {
        if (c->obuf_soft_since == 0)
            c->obuf_soft_since = now_s; /* first time seen: not over yet */
        else if (now_s - c->obuf_soft_since > config.obuf_soft_secs[cls])
            over = 1;
    } else {
        c->obuf_soft_since = 0;
    }
    if (!over)
        return 0;
    client_peak_note(used, now_s);
    client__info_line(c, info, sizeof(info));
    if (!async) {
        server_log(CONFIG_LL_WARNING, "Client %s closed for overcoming of output buffer limits.",
                   info);
        client_close(c);
        return 1;
    }
    c->close_asap = 1;
    server_log(CONFIG_LL_WARNING,
               "Client %s scheduled to be closed ASAP for overcoming of output buffer limits.",
               info);
    client__queue_flush(c);
    return 1;
}

void
client__deliver(void *priv, uint64_t id, void *data, pubsub_msg *m)
{
    /* Subscribers are RESP clients or gateway sessions, registered with
     * their session. */
    client *c = (client *)((char *)data - offsetof(client, sess));
    pubsub_buf *f;
    (void)priv;
    if (((cmd_session *)data)->gateway) {
        bridge__deliver(data, m);
        return;
    }
    assert(c->sess.id == id);
    (void)id;
    if (c->close_asap || c->closing)
        return;
    f = pubsub_msg_frame(m, c->sess.resp);
    /* Bytes already in the reply buffer go out first: append behind them.
     * Otherwise share the frame. */
    if (c->out.len > 0) {
        reply_raw(&c->out, f->data, f->len);
    } else {
        pubsub_buf_ref(f);
        client_seg_push(c, f);
    }
    client__queue_flush(c);
    client_obuf_check(c, 1);
}

/* 1 when CLIENT PAUSE holds a command of this kind right now. */
static int
client_pause_holds(const resp_arg *argv, int argc)
{
    cmd_def *d;
    if (srv.pause_end_ms == 0)
        return 0;
    if (server_now_ms() >= srv.pause_end_ms) {
        srv.pause_end_ms = 0;
        return 0;
    }
    if (srv.pause_all)
        return 1;
    d = cmd_lookup(argv[0].ptr, argv[0].len);
    if (d && d->subs && argc > 1) {
        cmd_def *s = cmd_lookup_sub(d, argv[1].ptr, argv[1].len);
        if (s)
            d = s;
    }
    return d && (d->flags & (CMD_WRITE | CMD_MAY_REPLICATE));
}

void
client__process(client *c)
{
    while (!c->closing && !c->blocked && !(c->sess.flags & SESS_CLOSE_AFTER_REPLY) &&
           c->qpos < c->qlen) {
        int rc;
        c->parser.max_bulk_len = config.proto_max_bulk_len;
        c->parser.unauth = !c->sess.authed;
        rc = resp_parse(&c->parser, c->qbuf + c->qpos, c->qlen - c->qpos);
        if (rc == 0)
            break;
        if (rc < 0) {
            reply_errorf(&c->out, "ERR %s", c->parser.err);
            srv.stat_errors++;
            c->sess.flags |= SESS_CLOSE_AFTER_REPLY;
            c->qpos = c->qlen;
            break;
        }
        if (c->parser.argc > 0) {
            if (client_pause_holds(c->parser.argv, (int)c->parser.argc)) {
                /* Leave the command in the buffer; parse it again on
                 * unpause. */
                resp_parser_reset(&c->parser);
                c->paused = 1;
                break;
            }
            c->out.resp = c->sess.resp;
            dispatch__call(c, &c->sess, &c->out, (int)c->parser.argc, c->parser.argv);
            c->tot_cmds++;
        }
        c->qpos += c->parser.consumed;
    }
    if (c->qpos == c->qlen) {
        c->qpos = c->qlen = 0;
    } else if (c->qpos > 0 && !c->paused) {
        /* Keep the partial command at the front; the parser's progress is
         * relative to the command start, so moving it is safe. */
        memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
        c->qlen -= c->qpos;
        c->qpos = 0;
    }
    if (c->out.len > 0 || c->seg_count > 0 || (c->sess.flags & SESS_CLOSE_AFTER_REPLY)) {
        client__queue_flush(c);
        client_obuf_check(c, 1);
    }
}

void
client__resume_paused(void)
{
    for (client *c = srv.clients; c; c = c->next) {
        if (c->paused) {
            c->paused = 0;
            client__process(c);
        }
    }
}

/* Flags letters as Redis's CLIENT LIST prints them. */
static void
client_flags_str(const client *c, char *buf)
{
    char *p = buf;
    if (c->sess.flags & SESS_MONITOR)
        *p++ = 'O';
    if (c->blocked)
        *p++ = 'b';
    if (c->sess.flags & SESS_PUBSUB)
        *p++ = 'P';
    if (c->sess.flags & SESS_CLOSE_AFTER_REPLY)
        *p++ = 'A';
    if (c->sess.flags & SESS_NO_EVICT)
        *p++ = 'e';
    if (p == buf)
        *p++ = 'N';
    *p = '\0';
}

void
client__info_line(client *c, char *buf, size_t cap)
{
    char flags[16], cmdname[96];
    int64_t now = server_now_ms();
    client_flags_str(c, flags);
    if (c->last_cmd)
        cmd_fullname(c->last_cmd, cmdname, sizeof(cmdname));
    else
        strcpy(cmdname, "NULL");
    snprintf(
        buf, cap,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%zu "
        "psub=%zu ssub=%zu multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 rbs=%zu "
        "rbp=%zu obl=%zu oll=%u omem=%zu tot-mem=%zu events=r%s cmd=%s user=default "
        "redir=-1 resp=%d",
        (unsigned long long)c->sess.id, c->addr, c->laddr, c->fd, c->sess.name ? c->sess.name : "",
        (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->last_ms) / 1000), flags,
        c->sess.db, pubsub_count(srv.pubsub, PUBSUB_CHANNEL, c->sess.id),
        pubsub_count(srv.pubsub, PUBSUB_PATTERN, c->sess.id),
        pubsub_count(srv.pubsub, PUBSUB_SHARD, c->sess.id), c->qlen - c->qpos, c->qcap - c->qlen,
        c->out.cap, c->out.len, c->out.len, (unsigned)c->seg_count, client_obuf_used(c),
        sizeof(*c) + c->qcap + c->out.cap + c->seg_cap * sizeof(*c->segs) + c->seg_bytes,
        c->writing ? "w" : "", cmdname, c->sess.resp);
}

static client *
client_by_id(uint64_t id)
{
    for (client *c = srv.clients; c; c = c->next) {
        if (c->sess.id == id)
            return c;
    }
    return NULL;
}

static client *
client_of_session(const cmd_session *s)
{
    return client_by_id(s->id);
}

/* CLIENT LIST / CLIENT INFO output. */
static void
client_cmd_list(cmd_ctx *ctx)
{
    char line[1024];
    size_t total = 0, cap = 1024;
    char *out = util_malloc(cap);
    uint64_t *ids = NULL;
    int nids = 0, type_filter = 0;
    for (int i = 2; i < ctx->argc; i++) {
        if (cmd_arg_is(ctx, i, "type") && i + 1 < ctx->argc) {
            i++;
            if (cmd_arg_is(ctx, i, "normal"))
                type_filter = 1;
            else if (cmd_arg_is(ctx, i, "pubsub"))
                type_filter = 2;
            else if (cmd_arg_is(ctx, i, "master") || cmd_arg_is(ctx, i, "replica") ||
                     cmd_arg_is(ctx, i, "slave"))
                type_filter = 3;
            else {
                reply_errorf(ctx->r, "ERR Unknown client type '%.*s'", (int)ctx->argv[i].len,
                             ctx->argv[i].ptr);
                goto out;
            }
        } else if (cmd_arg_is(ctx, i, "id") && i + 1 < ctx->argc) {
            ids = util_realloc(ids, (size_t)(ctx->argc) * sizeof(*ids));
            for (i = i + 1; i < ctx->argc; i++) {
                long long v;
                if (!util_str2ll(ctx->argv[i].ptr, ctx->argv[i].len, &v) || v <= 0) {
                    reply_error(ctx->r, "ERR Invalid client ID");
                    goto out;
                }
                ids[nids++] = (uint64_t)v;
            }
        } else {
            cmd_reply_syntax(ctx);
            goto out;
        }
    }
    /* Oldest first, as Redis lists them. */
    {
        client *last = srv.clients;
        while (last && last->next)
            last = last->next;
        for (client *c = last; c; c = c->prev) {
            size_t n;
            if (type_filter == 3 || (type_filter == 2 && !(c->sess.flags & SESS_PUBSUB)) ||
                (type_filter == 1 && (c->sess.flags & SESS_PUBSUB)))
                continue;
            if (nids) {
                int found = 0;
                for (int k = 0; k < nids; k++)
                    found |= ids[k] == c->sess.id;
                if (!found)
                    continue;
            }
            client__info_line(c, line, sizeof(line));
            n = strlen(line);
            if (total + n + 2 > cap) {
                cap = (total + n + 2) * 2;
                out = util_realloc(out, cap);
            }
            memcpy(out + total, line, n);
            total += n;
            out[total++] = '\n';
        }
    }
    /* Gateway sessions (server/bridge.c) after the RESP clients. */
    for (bridge_sess *s = bridge__first(); s; s = s->next) {
        size_t n;
        int found = nids == 0;
        if (type_filter == 3 || (type_filter == 2 && !(s->sess.flags & SESS_PUBSUB)) ||
            (type_filter == 1 && (s->sess.flags & SESS_PUBSUB)))
            continue;
        for (int k = 0; k < nids; k++)
            found |= ids[k] == s->sess.id;
        if (!found)
            continue;
        bridge__info_line(s, line, sizeof(line));
        n = strlen(line);
        if (total + n + 2 > cap) {
            cap = (total + n + 2) * 2;
            out = util_realloc(out, cap);
        }
        memcpy(out + total, line, n);
        total += n;
        out[total++] = '\n';
    }
    reply_verbatim(ctx->r, out, total, "txt");
out:
    util_free(ids);
    util_free(out);
}

/* CLIENT KILL, old form (addr) and new form (filters). */
static void
client_cmd_kill(cmd_ctx *ctx)
{
    const resp_arg *addr = NULL, *laddr = NULL;
    long long id = 0, maxage = 0;
    int skipme = 1, type = 0, killed = 0;
    client *self = client_of_session(ctx->sess);
    if (ctx->argc == 3) {
        addr = &ctx->argv[2];
        for (client *c = srv.clients; c; c = c->next) {
            if (strlen(c->addr) == addr->len && memcmp(c->addr, addr->ptr, addr->len) == 0) {
                if (c == self)
                    c->sess.flags |= SESS_CLOSE_AFTER_REPLY;
                else
                    client_close(c);
                reply_ok(ctx->r);
                return;
            }
        }
        for (bridge_sess *s = bridge__first(); s; s = s->next) {
            if (strlen(s->addr) == addr->len && memcmp(s->addr, addr->ptr, addr->len) == 0) {
                bridge__kill(s);
                reply_ok(ctx->r);
                return;
            }
        }
        reply_error(ctx->r, "ERR No such client");
        return;
    }
    if (ctx->argc % 2 != 0) {
        cmd_reply_syntax(ctx);
        return;
    }
    for (int i = 2; i < ctx->argc; i += 2) {
        const resp_arg *v = &ctx->argv[i + 1];
        if (cmd_arg_is(ctx, i, "id")) {
            if (!util_str2ll(v->ptr, v->len, &id) || id <= 0) {
                reply_error(ctx->r, "ERR client-id should be greater than 0");
                return;
            }
        } else if (cmd_arg_is(ctx, i, "addr")) {
            addr = v;
        } else if (cmd_arg_is(ctx, i, "laddr")) {
            laddr = v;
        } else if (cmd_arg_is(ctx, i, "maxage")) {
            if (!util_str2ll(v->ptr, v->len, &maxage) || maxage <= 0) {
                reply_error(ctx->r, "ERR syntax error");
                return;
            }
        } else if (cmd_arg_is(ctx, i, "type")) {
            if (cmd_arg_is(ctx, i + 1, "normal"))
                type = 1;
            else if (cmd_arg_is(ctx, i + 1, "pubsub"))
                type = 2;
            else if (cmd_arg_is(ctx, i + 1, "master") || cmd_arg_is(ctx, i + 1, "replica") ||
                     cmd_arg_is(ctx, i + 1, "slave"))
                type = 3;
            else {
                reply_errorf(ctx->r, "ERR Unknown client type '%.*s'", (int)v->len, v->ptr);
                return;
            }
        } else if (cmd_arg_is(ctx, i, "user")) {
            if (!(v->len == 7 && memcmp(v->ptr, "default", 7) == 0)) {
                reply_errorf(ctx->r, "ERR No such user '%.*s'", (int)v->len, v->ptr);
                return;
            }
        } else if (cmd_arg_is(ctx, i, "skipme")) {
            if (cmd_arg_is(ctx, i + 1, "yes"))
                skipme = 1;
            else if (cmd_arg_is(ctx, i + 1, "no"))
                skipme = 0;
            else {
                cmd_reply_syntax(ctx);
                return;
            }
        } else {
            cmd_reply_syntax(ctx);
            return;
        }
    }
    for (client *c = srv.clients, *next; c; c = next) {
        next = c->next;
        if (id && c->sess.id != (uint64_t)id)
            continue;
        if (addr && !(strlen(c->addr) == addr->len && memcmp(c->addr, addr->ptr, addr->len) == 0))
            continue;
        if (laddr &&
            !(strlen(c->laddr) == laddr->len && memcmp(c->laddr, laddr->ptr, laddr->len) == 0))
            continue;
        if (type == 3 || (type == 2 && !(c->sess.flags & SESS_PUBSUB)) ||
            (type == 1 && (c->sess.flags & SESS_PUBSUB)))
            continue;
        if (maxage && (server_now_ms() - c->ctime_ms) / 1000 < maxage)
            continue;
        if (c == self && skipme)
            continue;
        if (c == self)
            c->sess.flags |= SESS_CLOSE_AFTER_REPLY;
        else
            client_close(c);
        killed++;
    }
    /* Gateway sessions (server/bridge.c), with the same filters. */
    for (bridge_sess *s = bridge__first(); s; s = s->next) {
        const char *gw = bridge__gw_name(s);
        int addr_ok =
            !addr || (strlen(s->addr) == addr->len && memcmp(s->addr, addr->ptr, addr->len) == 0);
        if ((id && s->sess.id != (uint64_t)id) || !addr_ok ||
            (laddr && !(strlen(gw) == laddr->len && memcmp(gw, laddr->ptr, laddr->len) == 0)) ||
            type == 3 || (type == 2 && !(s->sess.flags & SESS_PUBSUB)) ||
            (type == 1 && (s->sess.flags & SESS_PUBSUB)) ||
            (maxage && (server_now_ms() - s->ctime_ms) / 1000 < maxage) ||
            (s->sess.id == ctx->sess->id && skipme))
            continue;
        bridge__kill(s);
        killed++;
    }
    reply_int(ctx->r, killed);
}

static void
client_unpause_cb(uv_timer_t *t)
{
    (void)t;
    srv.pause_end_ms = 0;
    client__resume_paused();
}

static void
client_cmd_pause(cmd_ctx *ctx)
{
    long long ms;
    int all = 1;
    if (cmd_get_ll_or_reply(ctx, 2, &ms, "ERR timeout is not an integer or out of range") < 0)
        return;
    if (ms < 0) {
        reply_error(ctx->r, "ERR timeout is negative");
        return;
    }
    if (ctx->argc == 4) {
        if (cmd_arg_is(ctx, 3, "write"))
            all = 0;
        else if (!cmd_arg_is(ctx, 3, "all")) {
            reply_error(ctx->r, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    } else if (ctx->argc > 4) {
        cmd_reply_syntax(ctx);
        return;
    }
    /* A later pause extends, never shortens; ALL wins over WRITE. */
    if (srv.pause_end_ms == 0 || ctx->now_ms + ms > srv.pause_end_ms)
        srv.pause_end_ms = ctx->now_ms + ms;
    srv.pause_all = srv.pause_end_ms && (all || srv.pause_all);
    uv_timer_start(&srv.unpause, client_unpause_cb, (uint64_t)(srv.pause_end_ms - ctx->now_ms) + 1,
                   0);
    reply_ok(ctx->r);
}

static const char *const client_help[] = {
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * MAXAGE <maxage>",
    "      Kill connections older than the specified age.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Print this help.",
    NULL,
};

void
client__cmd(cmd_ctx *ctx)
{
    const char *sub = ctx->cmd->name;
    client *self = client_of_session(ctx->sess);
    char line[1024];
    if (strcmp(sub, "id") == 0) {
        reply_int(ctx->r, (long long)ctx->sess->id);
    } else if (strcmp(sub, "setname") == 0) {
        if (!cmd_client_name_ok(&ctx->argv[2])) {
            reply_error(ctx->r, "ERR Client names cannot contain spaces, newlines or special "
                                "characters.");
            return;
        }
        util_free(ctx->sess->name);
        ctx->sess->name = ctx->argv[2].len ? util_memdup(ctx->argv[2].ptr, ctx->argv[2].len) : NULL;
        reply_ok(ctx->r);
    } else if (strcmp(sub, "getname") == 0) {
        reply_bulk_cstr(ctx->r, ctx->sess->name);
    } else if (strcmp(sub, "list") == 0) {
        client_cmd_list(ctx);
    } else if (strcmp(sub, "info") == 0) {
        size_t n;
        bridge_sess *bs = ctx->sess->gateway ? bridge__sess_by_id(ctx->sess->id) : NULL;
        if (bs) {
            bs->last_cmd = ctx->cmd;
            bridge__info_line(bs, line, sizeof(line));
            n = strlen(line);
            line[n++] = '\n';
            reply_verbatim(ctx->r, line, n, "txt");
            return;
        }
        if (self == NULL) {
            reply_null(ctx->r);
            return;
        }
        self->last_cmd = ctx->cmd;
        client__info_line(self, line, sizeof(line));
        n = strlen(line);
        line[n++] = '\n';
        reply_verbatim(ctx->r, line, n, "txt");
    } else if (strcmp(sub, "kill") == 0) {
        client_cmd_kill(ctx);
    } else if (strcmp(sub, "pause") == 0) {
        client_cmd_pause(ctx);
    } else if (strcmp(sub, "unpause") == 0) {
        srv.pause_end_ms = 0;
        uv_timer_stop(&srv.unpause);
        client__resume_paused();
        reply_ok(ctx->r);
    } else if (strcmp(sub, "reply") == 0) {
        if (cmd_arg_is(ctx, 2, "on")) {
            ctx->sess->flags &= ~(SESS_REPLY_OFF | SESS_REPLY_SKIP_NEXT | SESS_REPLY_SKIP);
            reply_ok(ctx->r);
        } else if (cmd_arg_is(ctx, 2, "off")) {
            ctx->sess->flags |= SESS_REPLY_OFF;
        } else if (cmd_arg_is(ctx, 2, "skip")) {
            if (!(ctx->sess->flags & SESS_REPLY_OFF))
                ctx->sess->flags |= SESS_REPLY_SKIP_NEXT;
        } else {
            cmd_reply_syntax(ctx);
        }
    } else if (strcmp(sub, "no-evict") == 0) {
        if (cmd_arg_is(ctx, 2, "on"))
            ctx->sess->flags |= SESS_NO_EVICT;
        else if (cmd_arg_is(ctx, 2, "off"))
            ctx->sess->flags &= ~SESS_NO_EVICT;
        else {
            cmd_reply_syntax(ctx);
            return;
        }
        reply_ok(ctx->r);
    } else if (strcmp(sub, "unblock") == 0) {
        long long id;
        int how = BLOCKED_TIMEOUT;
        if (cmd_get_ll_or_reply(ctx, 2, &id, NULL) < 0)
            return;
        if (ctx->argc == 4) {
            if (cmd_arg_is(ctx, 3, "error"))
                how = BLOCKED_ERROR;
            else if (!cmd_arg_is(ctx, 3, "timeout")) {
                reply_error(ctx->r, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                return;
            }
        } else if (ctx->argc > 4) {
            cmd_reply_syntax(ctx);
            return;
        }
        reply_int(ctx->r, blocked__unblock_id((uint64_t)id, how));
    } else if (strcmp(sub, "help") == 0) {
        long long n = 0;
        while (client_help[n])
            n++;
        reply_array(ctx->r, n);
        for (long long i = 0; i < n; i++)
            reply_simple(ctx->r, client_help[i]);
    }
}

void
client__close_idle(int64_t now_ms)
{
    if (config.timeout <= 0)
        return;
    for (client *c = srv.clients, *next; c; c = next) {
        next = c->next;
        if ((c->sess.flags & (SESS_PUBSUB | SESS_MONITOR)) || c->writing || c->blocked)
            continue;
        if ((now_ms - c->last_ms) / 1000 > config.timeout) {
            server_log(CONFIG_LL_VERBOSE, "Closing idle client");
            client_close(c);
        }
    }
}

void
client__monitor_feed(const cmd_session *from, const char *addr, int argc, const resp_arg *argv)
{
    char head[128];
    size_t cap = 256, len;
    char *line;
    long long us = server_ustime();
    int n = snprintf(head, sizeof(head), "+%lld.%06lld [%d %s]", us / 1000000, us % 1000000,
                     from->db, addr);
    line = util_malloc(cap);
    memcpy(line, head, (size_t)n);
    len = (size_t)n;
    for (int i = 0; i < argc; i++) {
        /* Quote like Redis's sdscatrepr. */
        if (len + argv[i].len * 4 + 8 > cap) {
            cap = len + argv[i].len * 4 + 64;
            line = util_realloc(line, cap);
        }
        line[len++] = ' ';
        line[len++] = '"';
        for (size_t k = 0; k < argv[i].len; k++) {
            unsigned char ch = (unsigned char)argv[i].ptr[k];
            switch (ch) {
            case '\\':
                line[len++] = '\\';
                line[len++] = '\\';
                break;
            case '"':
                line[len++] = '\\';
                line[len++] = '"';
                break;
            case '\n':
                line[len++] = '\\';
                line[len++] = 'n';
                break;
            case '\r':
                line[len++] = '\\';
                line[len++] = 'r';
                break;
            case '\t':
                line[len++] = '\\';
                line[len++] = 't';
                break;
            case '\a':
                line[len++] = '\\';
                line[len++] = 'a';
                break;
            case '\b':
                line[len++] = '\\';
                line[len++] = 'b';
                break;
            default:
                if (ch >= 32 && ch < 127)
                    line[len++] = (char)ch;
                else
                    len += (size_t)sprintf(line + len, "\\x%02x", ch);
            }
        }
        line[len++] = '"';
    }
    line[len++] = '\r';
    line[len++] = '\n';
    for (client *c = srv.clients; c; c = c->next) {
        if (!(c->sess.flags & SESS_MONITOR))
            continue;
        reply_raw(&c->out, line, len);
        client__queue_flush(c);
    }
    util_free(line);
}

void
client__monitor(cmd_ctx *ctx)
{
    if (ctx->sess->flags & SESS_MONITOR)
        return;
    ctx->sess->flags |= SESS_MONITOR;
    srv.nmonitors++;
    reply_ok(ctx->r);
}

void
client__reset(cmd_ctx *ctx)
{
    cmd_session *s = ctx->sess;
    if (s->flags & SESS_MONITOR)
        srv.nmonitors--;
    /* Subscriptions go without replies; SESS_PUBSUB is cleared below. */
    pubsub_drop(srv.pubsub, s->id);
    cmd_tx_discard(s);
    s->flags &= SESS_CLOSE_AFTER_REPLY;
    s->db = 0;
    s->resp = s->gateway ? 3 : 2; /* gateway sessions start in RESP3 */
    ctx->r->resp = s->resp;
    util_free(s->name);
    s->name = NULL;
    s->authed = config.requirepass[0] == '\0';
    reply_simple(ctx->r, "RESET");
}

void
client__close_all(void)
{
    while (srv.clients)
        client_close(srv.clients);
    client__flush_all();
}
