/*
 * tests/nng/nng_req_client: drives runnel-server's nng rep0 endpoint with
 * many requests in flight (one req0 socket, several contexts, one aio per
 * context) and checks every reply. Used by tests/integration/test_nng.py
 * and bench/nng.sh.
 *
 *   nng_req_client <url> <contexts> <requests> echo
 *       ECHO <unique payload>: every reply must be that payload.
 *   nng_req_client <url> <contexts> <requests> xadd <key>
 *       XADD <key> * f <n>: every reply must be a bulk string ID.
 *
 *   nng_req_client <url> 0 0 seq <command>...
 *       sends each command (an inline line) in turn on one req0 pipe and
 *       prints each reply in hex, one per line.
 *   nng_req_client <url> 0 <count> sub <topic>...
 *       subscribes (sub0) to each topic followed by a NUL byte (a topic
 *       ending in '*' is subscribed as the prefix before it), prints
 *       "ready", then <count> messages in hex, one per line (10 s limit).
 *   nng_req_client <url> <batch> <requests> push <key>
 *       pushes XADD <key> * n <i> for i = 0.. over one push0 pipe, in
 *       order, <batch> commands per message (0 or 1: one), then waits a
 *       moment so the last ones leave.
 *
 * Prints "ok <requests> <seconds> <requests/s>" and exits 0, or prints the
 * first mismatch and exits 1.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

typedef struct rc_ctx {
    nng_ctx ctx;   /* req0 context */
    nng_aio *aio;  /* its aio */
    int sending;   /* 1 while the send is in flight, 0 while receiving */
    long current;  /* number of the request in flight */
    char want[64]; /* expected echo payload */
} rc_ctx;

static nng_socket rc_sock;
static long rc_total;                /* requests to make */
static atomic_long rc_next;          /* next request number */
static atomic_long rc_done;          /* replies checked */
static atomic_int rc_failed;         /* 1 after a mismatch */
static int rc_xadd;                  /* 1: XADD mode */
static const char *rc_key = "bench"; /* XADD key */
static pthread_mutex_t rc_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rc_cond = PTHREAD_COND_INITIALIZER;

static void
rc_fail(const char *what, const char *got, size_t len)
{
    if (atomic_exchange(&rc_failed, 1) == 0)
        fprintf(stderr, "FAIL: %s: got %.*s\n", what, (int)(len > 200 ? 200 : len), got);
    pthread_mutex_lock(&rc_mtx);
    pthread_cond_signal(&rc_cond);
    pthread_mutex_unlock(&rc_mtx);
}

/* Starts the next request on c, or signals the end. */
static void
rc_send_next(rc_ctx *c)
{
    long n = atomic_fetch_add(&rc_next, 1);
    char num[32], cmd[256];
    nng_msg *m;
    int len;
    if (n >= rc_total || atomic_load(&rc_failed))
        return;
    c->current = n;
    snprintf(num, sizeof(num), "%ld", n);
    if (rc_xadd) {
        len = snprintf(cmd, sizeof(cmd),
                       "*5\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$1\r\n*\r\n$1\r\nf\r\n$%zu\r\n%s\r\n",
                       strlen(rc_key), rc_key, strlen(num), num);
    } else {
        snprintf(c->want, sizeof(c->want), "payload-%ld-\x01\x02\r\n", n);
        len = snprintf(cmd, sizeof(cmd), "*2\r\n$4\r\nECHO\r\n$%zu\r\n%s\r\n", strlen(c->want),
                       c->want);
    }
    if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, cmd, (size_t)len) != 0) {
        rc_fail("alloc", "", 0);
        return;
    }
    c->sending = 1;
    nng_aio_set_msg(c->aio, m);
    nng_ctx_send(c->ctx, c->aio);
}

static void
rc_check(rc_ctx *c, const char *body, size_t len)
{
    if (rc_xadd) {
        if (len < 4 || body[0] != '$' || memchr(body, '-', len) == NULL) {
            rc_fail("xadd reply", body, len);
            return;
        }
    } else {
        char want[128];
        int n = snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(c->want), c->want);
        if ((size_t)n != len || memcmp(want, body, len) != 0) {
            rc_fail("echo reply", body, len);
            return;
        }
    }
    if (atomic_fetch_add(&rc_done, 1) + 1 == rc_total) {
        pthread_mutex_lock(&rc_mtx);
        pthread_cond_signal(&rc_cond);
        pthread_mutex_unlock(&rc_mtx);
    }
}

static void
rc_cb(void *arg)
{
    rc_ctx *c = arg;
    int rv = nng_aio_result(c->aio);
    if (rv != 0) {
        if (c->sending)
            nng_msg_free(nng_aio_get_msg(c->aio));
        if (rv != NNG_ECLOSED && rv != NNG_ECANCELED)
            rc_fail("aio", nng_strerror(rv), strlen(nng_strerror(rv)));
        return;
    }
    if (c->sending) {
        c->sending = 0;
        nng_ctx_recv(c->ctx, c->aio);
        return;
    }
    {
        nng_msg *m = nng_aio_get_msg(c->aio);
        rc_check(c, nng_msg_body(m), nng_msg_len(m));
        nng_msg_free(m);
    }
    rc_send_next(c);
}

static void
rc_hex(const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        printf("%02x", b[i]);
    printf("\n");
    fflush(stdout);
}

/* seq mode: commands one after the other on one pipe. */
static int
rc_seq(const char *url, int n, char **cmds)
{
    nng_socket s;
    int rv;
    if ((rv = nng_req0_open(&s)) != 0 || (rv = nng_dial(s, url, NULL, 0)) != 0) {
        fprintf(stderr, "FAIL: dial %s: %s\n", url, nng_strerror(rv));
        return 1;
    }
    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
    for (int i = 0; i < n; i++) {
        char *buf = NULL;
        size_t len = 0;
        if ((rv = nng_send(s, cmds[i], strlen(cmds[i]), 0)) != 0 ||
            (rv = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC)) != 0) {
            fprintf(stderr, "FAIL: %s: %s\n", cmds[i], nng_strerror(rv));
            return 1;
        }
        rc_hex(buf, len);
        nng_free(buf, len);
    }
    nng_close(s);
    return 0;
}

/* sub mode: print count messages. */
static int
rc_sub(const char *url, long count, int ntopics, char **topics)
{
    nng_socket s;
    int rv;
    if ((rv = nng_sub0_open(&s)) != 0) {
        fprintf(stderr, "FAIL: sub0: %s\n", nng_strerror(rv));
        return 1;
    }
    for (int i = 0; i < ntopics; i++) {
        size_t len = strlen(topics[i]);
        if (len > 0 && topics[i][len - 1] == '*')
            len--; /* a bare prefix */
        else
            len++; /* the topic and its NUL */
        nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, topics[i], len);
    }
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
    if ((rv = nng_dial(s, url, NULL, 0)) != 0) {
        fprintf(stderr, "FAIL: dial %s: %s\n", url, nng_strerror(rv));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (long i = 0; i < count; i++) {
        char *buf = NULL;
        size_t len = 0;
        if ((rv = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC)) != 0) {
            fprintf(stderr, "FAIL: recv: %s\n", nng_strerror(rv));
            return 1;
        }
        rc_hex(buf, len);
        nng_free(buf, len);
    }
    nng_close(s);
    return 0;
}

/* push mode: one pipe, commands in order, batch per message. */
static int
rc_push(const char *url, int batch, long total, const char *key)
{
    nng_socket s;
    struct timespec t0, t1;
    double secs;
    size_t cap = 256 * (size_t)batch, len = 0;
    char *buf = malloc(cap);
    int rv, inbuf = 0;
    if ((rv = nng_push0_open(&s)) != 0 || (rv = nng_dial(s, url, NULL, 0)) != 0) {
        fprintf(stderr, "FAIL: dial %s: %s\n", url, nng_strerror(rv));
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < total; i++) {
        char num[32];
        snprintf(num, sizeof(num), "%ld", i);
        len += (size_t)snprintf(
            buf + len, cap - len,
            "*5\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$1\r\n*\r\n$1\r\nn\r\n$%zu\r\n%s\r\n", strlen(key),
            key, strlen(num), num);
        if (++inbuf < batch && i + 1 < total)
            continue;
        if ((rv = nng_send(s, buf, len, 0)) != 0) {
            fprintf(stderr, "FAIL: send: %s\n", nng_strerror(rv));
            return 1;
        }
        len = 0;
        inbuf = 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    nng_msleep(200); /* nng_close drops what is still queued */
    nng_close(s);
    free(buf);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("ok %ld %.3f %.0f\n", total, secs, (double)total / secs);
    return 0;
}

int
main(int argc, char **argv)
{
    int nctx;
    rc_ctx *ctxs;
    struct timespec t0, t1, deadline;
    double secs;
    int rv;
    if (argc < 5) {
        fprintf(stderr, "usage: %s <url> <contexts> <requests> echo|xadd [key]\n", argv[0]);
        return 2;
    }
    nctx = atoi(argv[2]);
    rc_total = atol(argv[3]);
    if (strcmp(argv[4], "seq") == 0)
        return rc_seq(argv[1], argc - 5, argv + 5);
    if (strcmp(argv[4], "sub") == 0)
        return rc_sub(argv[1], rc_total, argc - 5, argv + 5);
    if (strcmp(argv[4], "push") == 0)
        return rc_push(argv[1], nctx > 1 ? nctx : 1, rc_total, argc > 5 ? argv[5] : "bench");
    rc_xadd = strcmp(argv[4], "xadd") == 0;
    if (argc > 5)
        rc_key = argv[5];
    if (nctx <= 0 || rc_total <= 0)
        return 2;

    if ((rv = nng_req0_open(&rc_sock)) != 0 || (rv = nng_dial(rc_sock, argv[1], NULL, 0)) != 0) {
        fprintf(stderr, "FAIL: dial %s: %s\n", argv[1], nng_strerror(rv));
        return 1;
    }
    /* No resend: a request is answered once, however long it takes. */
    nng_socket_set_ms(rc_sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    ctxs = calloc((size_t)nctx, sizeof(*ctxs));
    for (int i = 0; i < nctx; i++) {
        if (nng_ctx_open(&ctxs[i].ctx, rc_sock) != 0 ||
            nng_aio_alloc(&ctxs[i].aio, rc_cb, &ctxs[i]) != 0) {
            fprintf(stderr, "FAIL: context\n");
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < nctx; i++)
        rc_send_next(&ctxs[i]);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 120;
    pthread_mutex_lock(&rc_mtx);
    while (atomic_load(&rc_done) < rc_total && !atomic_load(&rc_failed)) {
        if (pthread_cond_timedwait(&rc_cond, &rc_mtx, &deadline) != 0) {
            atomic_store(&rc_failed, 1);
            fprintf(stderr, "FAIL: timeout after %ld replies\n", atomic_load(&rc_done));
            break;
        }
    }
    pthread_mutex_unlock(&rc_mtx);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int i = 0; i < nctx; i++)
        nng_aio_stop(ctxs[i].aio);
    for (int i = 0; i < nctx; i++) {
        nng_aio_free(ctxs[i].aio);
        nng_ctx_close(ctxs[i].ctx);
    }
    nng_close(rc_sock);
    free(ctxs);
    if (atomic_load(&rc_failed))
        return 1;
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("ok %ld %.3f %.0f\n", rc_total, secs, (double)rc_total / secs);
    return 0;
}
