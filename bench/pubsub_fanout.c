/*
 * bench/pubsub_fanout.c: pub/sub fan-out benchmark client (hiredis).
 *
 * S subscriber connections SUBSCRIBE to one channel (each confirmed before
 * anything is published), then a publisher thread on its own connection
 * sends M PUBLISH commands pipelined in batches. Each 64-byte payload holds
 * a sequence number and the send time (CLOCK_MONOTONIC, ns). One event-loop
 * thread (poll over plain sockets, hiredis reader) drains all subscribers,
 * checks every subscriber gets every message once and in order, and records
 * the publish-to-receive latency of each delivery. Pushes are parsed by
 * hand (the frame of a RESP2 "message" push on this channel with a 64-byte
 * payload has a fixed size), so the client's CPU is not what limits the
 * figure; anything else on a subscriber socket is an error. The publisher keeps at
 * most a window of messages ahead of the slowest subscriber (default
 * max(batch, 10000 / S), about 10000 deliveries in flight), so the figure
 * is the fan-out rate, not the growth of output buffers. Prints one line
 * "fanout subscribers=... messages=... delivered=... seconds=... rate=...
 * p50_us=... p99_us=..." (rate = M*S / time from the first PUBLISH to the
 * last delivery). Exit 0 on success, 1 on any error or count mismatch.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PF_CHANNEL    "bench:fanout" /* the channel */
#define PF_PAYLOAD    64             /* payload bytes */
#define PF_MAX_SUBS   1000           /* upper bound on -s */
#define PF_READ_CHUNK 65536          /* bytes per read() */

typedef struct pf_opts {
    const char *host; /* server address */
    int port;         /* server port */
    int subs;         /* subscriber connections */
    long messages;    /* PUBLISH commands */
    int batch;        /* PUBLISH per pipelined batch */
    long window;      /* max messages ahead of the slowest subscriber */
} pf_opts;

typedef struct pf_shared {
    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t cond;  /* signalled when min_recv advances or on failure */
    long min_recv;        /* messages every subscriber has received */
    int failed;           /* 1 after any error in either thread */
    uint64_t t_first;     /* ns of the first PUBLISH */
} pf_shared;

typedef struct pf_pub {
    const pf_opts *opts; /* shared options */
    pf_shared *sh;       /* shared progress */
} pf_pub;

/* Returns CLOCK_MONOTONIC in ns. */
static uint64_t
pf_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Connects to the server in opts; returns the context or NULL (message
 * printed). */
static redisContext *
pf_connect(const pf_opts *opts)
{
    redisContext *rc = redisConnect(opts->host, opts->port);

    if (rc == NULL || rc->err) {
        fprintf(stderr, "pubsub_fanout: connect %s:%d: %s\n", opts->host, opts->port,
                rc ? rc->errstr : "out of memory");
        if (rc)
            redisFree(rc);
        return NULL;
    }
    return rc;
}

/* Marks the run failed and wakes the publisher. */
static void
pf_fail(pf_shared *sh)
{
    pthread_mutex_lock(&sh->lock);
    sh->failed = 1;
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->lock);
}

/* Publisher thread: M PUBLISH in pipelined batches, each reply must be S. */
static void *
pf_pub_run(void *arg)
{
    pf_pub *p = arg;
    const pf_opts *o = p->opts;
    redisContext *rc = pf_connect(o);
    char payload[PF_PAYLOAD + 1];
    long sent = 0;

    if (rc == NULL) {
        pf_fail(p->sh);
        return NULL;
    }
    while (sent < o->messages) {
        long batch = o->messages - sent < o->batch ? o->messages - sent : o->batch;
        int stop;

        pthread_mutex_lock(&p->sh->lock);
        while (!p->sh->failed && sent + batch - p->sh->min_recv > o->window)
            pthread_cond_wait(&p->sh->cond, &p->sh->lock);
        stop = p->sh->failed;
        pthread_mutex_unlock(&p->sh->lock);
        if (stop)
            break;
        for (long i = 0; i < batch; i++) {
            uint64_t t = pf_now_ns();

            if (sent + i == 0)
                p->sh->t_first = t;
            /* seq and ts as fixed-width decimals, padded to PF_PAYLOAD. */
            snprintf(payload, sizeof(payload), "seq=%020ld ts=%020llu %-*s", sent + i,
                     (unsigned long long)t, PF_PAYLOAD - 49, "pad");
            redisAppendCommand(rc, "PUBLISH " PF_CHANNEL " %b", payload, (size_t)PF_PAYLOAD);
        }
        for (long i = 0; i < batch; i++) {
            redisReply *r;

            if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
                fprintf(stderr, "pubsub_fanout: PUBLISH: %s\n", rc->errstr);
                pf_fail(p->sh);
                goto out;
            }
            if (r->type != REDIS_REPLY_INTEGER || r->integer != o->subs) {
                fprintf(stderr, "pubsub_fanout: PUBLISH reached %lld subscribers, not %d\n",
                        r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL, o->subs);
                freeReplyObject(r);
                pf_fail(p->sh);
                goto out;
            }
            freeReplyObject(r);
        }
        sent += batch;
    }
out:
    redisFree(rc);
    return NULL;
}

/* Subscribes rc to the channel and waits for the confirmation; 0 or -1. */
static int
pf_subscribe(redisContext *rc)
{
    redisReply *r = redisCommand(rc, "SUBSCRIBE " PF_CHANNEL);
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
             r->element[0]->type == REDIS_REPLY_STRING &&
             strcmp(r->element[0]->str, "subscribe") == 0;

    if (!ok)
        fprintf(stderr, "pubsub_fanout: SUBSCRIBE: %s\n",
                r ? (r->type == REDIS_REPLY_ERROR ? r->str : "bad reply") : rc->errstr);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/* The fixed frame of one push: prefix, PF_PAYLOAD bytes, CRLF. */
#define PF_PREFIX "*3\r\n$7\r\nmessage\r\n$12\r\n" PF_CHANNEL "\r\n$64\r\n"
#define PF_FRAME  (sizeof(PF_PREFIX) - 1 + PF_PAYLOAD + 2)

/* Parses n fixed-width decimal digits at s. */
static uint64_t
pf_digits(const char *s, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    return v;
}

/*
 * Checks one push frame f of subscriber i: must be a "message" with
 * sequence number *next; stores its latency. Returns 0 or -1.
 */
static int
pf_take(const char *f, int i, long *next, uint64_t *lat, long *nlat)
{
    const char *pl = f + sizeof(PF_PREFIX) - 1;
    long seq;

    if (memcmp(f, PF_PREFIX, sizeof(PF_PREFIX) - 1) != 0 || memcmp(pl, "seq=", 4) != 0 ||
        memcmp(pl + 24, " ts=", 4) != 0 || memcmp(pl + PF_PAYLOAD, "\r\n", 2) != 0) {
        fprintf(stderr, "pubsub_fanout: subscriber %d: unexpected push\n", i);
        return -1;
    }
    seq = (long)pf_digits(pl + 4, 20);
    if (seq != *next) {
        fprintf(stderr, "pubsub_fanout: subscriber %d: got message %ld, expected %ld\n", i, seq,
                *next);
        return -1;
    }
    (*next)++;
    lat[(*nlat)++] = pf_now_ns() - pf_digits(pl + 28, 20);
    return 0;
}

/* qsort comparator for uint64_t latencies. */
static int
pf_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Event loop over all subscribers until each has M messages; 0 or -1. */
static int
pf_drain(const pf_opts *o, redisContext **subs, pf_shared *sh, uint64_t *lat, long *nlat,
         uint64_t *t_last)
{
    struct pollfd *pfd = calloc((size_t)o->subs, sizeof(*pfd));
    long *next = calloc((size_t)o->subs, sizeof(*next));
    size_t *have = calloc((size_t)o->subs, sizeof(*have));
    char *carry = malloc((size_t)o->subs * PF_FRAME); /* partial frame per subscriber */
    char *buf = malloc(PF_FRAME + PF_READ_CHUNK);
    long done = 0, min = 0;
    int rv = -1;

    if (pfd == NULL || next == NULL || have == NULL || carry == NULL || buf == NULL)
        goto out;
    for (int i = 0; i < o->subs; i++) {
        pfd[i].fd = subs[i]->fd;
        pfd[i].events = POLLIN;
    }
    while (done < o->subs) {
        int n = poll(pfd, (nfds_t)o->subs, 1000);

        if (n < 0 && errno != EINTR)
            goto out;
        pthread_mutex_lock(&sh->lock);
        n = sh->failed;
        pthread_mutex_unlock(&sh->lock);
        if (n)
            goto out;
        for (int i = 0; i < o->subs; i++) {
            ssize_t got;
            size_t off;

            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            memcpy(buf, carry + (size_t)i * PF_FRAME, have[i]);
            got = read(pfd[i].fd, buf + have[i], PF_READ_CHUNK);
            if (got <= 0) {
                if (got < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                fprintf(stderr, "pubsub_fanout: subscriber %d: connection lost\n", i);
                goto out;
            }
            have[i] += (size_t)got;
            for (off = 0; have[i] - off >= PF_FRAME; off += PF_FRAME) {
                if (next[i] >= o->messages || pf_take(buf + off, i, &next[i], lat, nlat) < 0)
                    goto out;
                if (next[i] == o->messages) {
                    done++;
                    pfd[i].fd = -pfd[i].fd - 1; /* poll ignores negative fds */
                    *t_last = pf_now_ns();
                }
            }
            /* Keep the partial frame for this subscriber's next read. */
            have[i] -= off;
            memcpy(carry + (size_t)i * PF_FRAME, buf + off, have[i]);
        }
        min = o->messages;
        for (int i = 0; i < o->subs; i++)
            if (next[i] < min)
                min = next[i];
        pthread_mutex_lock(&sh->lock);
        if (min != sh->min_recv) {
            sh->min_recv = min;
            pthread_cond_signal(&sh->cond);
        }
        pthread_mutex_unlock(&sh->lock);
    }
    rv = 0;
out:
    if (rv < 0)
        pf_fail(sh);
    free(pfd);
    free(next);
    free(have);
    free(carry);
    free(buf);
    return rv;
}

/* Prints the usage line to f. */
static void
pf_usage(FILE *f)
{
    fprintf(f, "Usage: pubsub_fanout [-h HOST] [-p PORT] [-s SUBSCRIBERS] [-m MESSAGES] "
               "[-b BATCH] [-w WINDOW]\n"
               "  defaults: -h 127.0.0.1 -p 6379 -s 10 -m 100000 -b 100 -w max(b, 10000/s)\n");
}

int
main(int argc, char **argv)
{
    pf_opts o = {"127.0.0.1", 6379, 10, 100000, 100, 0};
    pf_shared sh = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    redisContext **subs;
    pf_pub pub;
    pthread_t tid;
    uint64_t *lat, t_last = 0;
    long nlat = 0;
    int rv = 1, drained;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (a[0] != '-' || a[1] == '\0' || a[2] != '\0' || i + 1 >= argc) {
            pf_usage(stderr);
            return 2;
        }
        switch (a[1]) {
        case 'h':
            o.host = argv[++i];
            break;
        case 'p':
            o.port = atoi(argv[++i]);
            break;
        case 's':
            o.subs = atoi(argv[++i]);
            break;
        case 'm':
            o.messages = atol(argv[++i]);
            break;
        case 'b':
            o.batch = atoi(argv[++i]);
            break;
        case 'w':
            o.window = atol(argv[++i]);
            break;
        default:
            pf_usage(stderr);
            return 2;
        }
    }
    if (o.window == 0 && o.subs > 0)
        o.window = 10000 / o.subs > o.batch ? 10000 / o.subs : o.batch;
    if (o.subs < 1 || o.subs > PF_MAX_SUBS || o.messages < 1 || o.batch < 1 || o.window < o.batch) {
        pf_usage(stderr);
        return 2;
    }
    subs = calloc((size_t)o.subs, sizeof(*subs));
    lat = malloc(sizeof(*lat) * (size_t)o.messages * (size_t)o.subs);
    if (subs == NULL || lat == NULL) {
        fprintf(stderr, "pubsub_fanout: out of memory\n");
        return 1;
    }
    for (int i = 0; i < o.subs; i++) {
        subs[i] = pf_connect(&o);
        if (subs[i] == NULL || pf_subscribe(subs[i]) < 0)
            goto out;
    }
    pub.opts = &o;
    pub.sh = &sh;
    if (pthread_create(&tid, NULL, pf_pub_run, &pub) != 0) {
        fprintf(stderr, "pubsub_fanout: pthread_create failed\n");
        goto out;
    }
    drained = pf_drain(&o, subs, &sh, lat, &nlat, &t_last);
    pthread_join(tid, NULL);
    if (drained < 0 || sh.failed || nlat != o.messages * o.subs) {
        fprintf(stderr, "pubsub_fanout: %ld of %ld deliveries\n", nlat, o.messages * o.subs);
        goto out;
    }
    qsort(lat, (size_t)nlat, sizeof(*lat), pf_cmp_u64);
    {
        double secs = (double)(t_last - sh.t_first) / 1e9;

        printf("fanout subscribers=%d messages=%ld delivered=%ld seconds=%.3f rate=%.0f "
               "p50_us=%.1f p99_us=%.1f\n",
               o.subs, o.messages, nlat, secs, (double)nlat / secs, (double)lat[nlat / 2] / 1e3,
               (double)lat[(long)((double)nlat * 0.99)] / 1e3);
    }
    rv = 0;
out:
    for (int i = 0; i < o.subs; i++)
        if (subs[i] != NULL)
            redisFree(subs[i]);
    free(subs);
    free(lat);
    return rv;
}
