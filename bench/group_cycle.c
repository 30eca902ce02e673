/*
 * bench/group_cycle.c: consumer-group cycle benchmark client (hiredis).
 *
 * Mode "cycle": deletes the stream bench:grp, pre-fills it with N entries
 * (pipelined XADD bench:grp * f v), creates group g at 0, then runs C
 * consumer threads, each on its own connection, looping
 * XREADGROUP GROUP g c<i> COUNT 100 STREAMS bench:grp > and one XACK of the
 * IDs it got, until the group has delivered every entry. Prints one line
 * "cycle entries=... acked=... seconds=... rate=..." (entries consumed and
 * acked per second, timed from the first XREADGROUP to the last XACK).
 *
 * Mode "mem": pre-fills N entries, creates the group, reads INFO memory
 * used_memory, delivers every entry to one consumer without XACK
 * (XREADGROUP COUNT 1000 in a loop), reads used_memory again and prints
 * "mem pending=... used_before=... used_after=... bytes_per_pending=...
 * rss_per_pending=..." (the used_memory_rss growth, a cross-check).
 * Both modes delete bench:grp at the end. Exit 0 on success, 1 on any
 * error or count mismatch. The stream build is not timed.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GC_KEY           "bench:grp" /* the stream key */
#define GC_FILL_BATCH    1000        /* XADD per pipelined batch */
#define GC_MAX_CONSUMERS 64          /* upper bound on --consumers */

typedef struct gc_opts {
    const char *host; /* server address */
    int port;         /* server port */
    long entries;     /* stream length to build */
    int consumers;    /* consumer threads (cycle mode) */
    int count;        /* XREADGROUP COUNT (cycle mode) */
} gc_opts;

typedef struct gc_worker {
    const gc_opts *opts; /* shared options */
    int index;           /* consumer number: name c<index> */
    long acked;          /* sum of XACK replies */
    long read;           /* entries delivered */
    int failed;          /* 1 after any error */
} gc_worker;

static double
gc_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Connects to the server in opts; returns the context or NULL (message
 * printed). */
static redisContext *
gc_connect(const gc_opts *opts)
{
    redisContext *rc = redisConnect(opts->host, opts->port);

    if (rc == NULL || rc->err) {
        fprintf(stderr, "group_cycle: connect %s:%d: %s\n", opts->host, opts->port,
                rc ? rc->errstr : "out of memory");
        if (rc)
            redisFree(rc);
        return NULL;
    }
    return rc;
}

/* Runs one command; returns 0 when the reply is not an error, -1 otherwise. */
static int
gc_simple(redisContext *rc, const char *cmd)
{
    redisReply *r = redisCommand(rc, cmd);
    int rv = 0;

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "group_cycle: %s: %s\n", cmd, r ? r->str : rc->errstr);
        rv = -1;
    }
    if (r)
        freeReplyObject(r);
    return rv;
}

/* Deletes the stream and appends n entries f v in pipelined batches; 0 or -1.
 */
static int
gc_fill(redisContext *rc, long n)
{
    redisReply *r;
    long done = 0;

    if (gc_simple(rc, "DEL " GC_KEY) < 0)
        return -1;
    while (done < n) {
        long batch = n - done < GC_FILL_BATCH ? n - done : GC_FILL_BATCH;

        for (long i = 0; i < batch; i++)
            redisAppendCommand(rc, "XADD " GC_KEY " * f v");
        for (long i = 0; i < batch; i++) {
            if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
                fprintf(stderr, "group_cycle: XADD: %s\n", rc->errstr);
                return -1;
            }
            if (r->type != REDIS_REPLY_STRING) {
                fprintf(stderr, "group_cycle: XADD: unexpected reply %s\n",
                        r->type == REDIS_REPLY_ERROR ? r->str : "(not a bulk string)");
                freeReplyObject(r);
                return -1;
            }
            freeReplyObject(r);
        }
        done += batch;
    }
    r = redisCommand(rc, "XLEN " GC_KEY);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer != n) {
        fprintf(stderr, "group_cycle: XLEN after fill is not %ld\n", n);
        if (r)
            freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

/*
 * Returns the entries array of an XREADGROUP reply for one stream, NULL when
 * the reply is nil (nothing new); sets *bad on a malformed or error reply.
 */
static redisReply *
gc_entries(const redisReply *r, int *bad)
{
    *bad = 0;
    if (r->type == REDIS_REPLY_NIL)
        return NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
        r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2 ||
        r->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
        *bad = 1;
        return NULL;
    }
    return r->element[0]->element[1];
}

/* Consumer thread: XREADGROUP COUNT n + XACK until nothing is left. */
static void *
gc_worker_run(void *arg)
{
    gc_worker *w = arg;
    redisContext *rc = gc_connect(w->opts);
    char consumer[16], count[16];
    const char **argv;
    size_t *argvlen;

    if (rc == NULL) {
        w->failed = 1;
        return NULL;
    }
    snprintf(consumer, sizeof(consumer), "c%d", w->index);
    snprintf(count, sizeof(count), "%d", w->opts->count);
    argv = malloc(sizeof(*argv) * (size_t)(w->opts->count + 3));
    argvlen = malloc(sizeof(*argvlen) * (size_t)(w->opts->count + 3));
    if (argv == NULL || argvlen == NULL) {
        w->failed = 1;
        goto out;
    }
    argv[0] = "XACK";
    argv[1] = GC_KEY;
    argv[2] = "g";
    for (;;) {
        redisReply *r, *ents, *ack;
        int bad;
        size_t n;

        r = redisCommand(rc, "XREADGROUP GROUP g %s COUNT %s STREAMS " GC_KEY " >", consumer,
                         count);
        if (r == NULL) {
            fprintf(stderr, "group_cycle: XREADGROUP: %s\n", rc->errstr);
            w->failed = 1;
            break;
        }
        ents = gc_entries(r, &bad);
        if (bad) {
            fprintf(stderr, "group_cycle: XREADGROUP: unexpected reply %s\n",
                    r->type == REDIS_REPLY_ERROR ? r->str : "");
            freeReplyObject(r);
            w->failed = 1;
            break;
        }
        if (ents == NULL || ents->elements == 0) {
            freeReplyObject(r);
            break;
        }
        n = ents->elements;
        for (size_t i = 0; i < n; i++) {
            const redisReply *id = ents->element[i]->element[0];

            argv[3 + i] = id->str;
            argvlen[3 + i] = id->len;
        }
        for (int i = 0; i < 3; i++)
            argvlen[i] = strlen(argv[i]);
        ack = redisCommandArgv(rc, (int)n + 3, argv, argvlen);
        w->read += (long)n;
        freeReplyObject(r);
        if (ack == NULL || ack->type != REDIS_REPLY_INTEGER) {
            fprintf(stderr, "group_cycle: XACK: %s\n",
                    ack ? (ack->type == REDIS_REPLY_ERROR ? ack->str : "bad reply") : rc->errstr);
            if (ack)
                freeReplyObject(ack);
            w->failed = 1;
            break;
        }
        w->acked += ack->integer;
        freeReplyObject(ack);
    }
out:
    free(argv);
    free(argvlen);
    redisFree(rc);
    return NULL;
}

/* Returns the INFO memory field given as "\nname:" (so a prefix cannot match),
 * or -1. */
static long long
gc_info_memory(redisContext *rc, const char *field)
{
    redisReply *r = redisCommand(rc, "INFO memory");
    long long v = -1;
    const char *p;

    if (r && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, field)) != NULL)
        v = atoll(p + strlen(field));
    if (r)
        freeReplyObject(r);
    return v;
}

/* Cycle mode: fill, create group, C consumers; prints the rate. 0 or 1. */
static int
gc_cycle(const gc_opts *opts, redisContext *rc)
{
    gc_worker w[GC_MAX_CONSUMERS];
    pthread_t tid[GC_MAX_CONSUMERS];
    long acked = 0, read = 0;
    int failed = 0;
    double t0, t1;

    if (gc_fill(rc, opts->entries) < 0 || gc_simple(rc, "XGROUP CREATE " GC_KEY " g 0") < 0)
        return 1;
    memset(w, 0, sizeof(w));
    t0 = gc_now();
    for (int i = 0; i < opts->consumers; i++) {
        w[i].opts = opts;
        w[i].index = i;
        if (pthread_create(&tid[i], NULL, gc_worker_run, &w[i]) != 0) {
            fprintf(stderr, "group_cycle: pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < opts->consumers; i++) {
        pthread_join(tid[i], NULL);
        acked += w[i].acked;
        read += w[i].read;
        failed |= w[i].failed;
    }
    t1 = gc_now();
    printf("cycle entries=%ld read=%ld acked=%ld consumers=%d seconds=%.3f "
           "rate=%.0f\n",
           opts->entries, read, acked, opts->consumers, t1 - t0, (double)acked / (t1 - t0));
    gc_simple(rc, "DEL " GC_KEY);
    if (failed || acked != opts->entries || read != opts->entries) {
        fprintf(stderr, "group_cycle: read %ld, acked %ld of %ld entries\n", read, acked,
                opts->entries);
        return 1;
    }
    return 0;
}

/* Mem mode: N delivered-unacked entries for one consumer; prints bytes each. 0
 * or 1. */
static int
gc_mem(const gc_opts *opts, redisContext *rc)
{
    long long before, after, rss_before, rss_after, pending = -1;
    long read = 0;
    redisReply *r;

    if (gc_fill(rc, opts->entries) < 0 || gc_simple(rc, "XGROUP CREATE " GC_KEY " g 0") < 0)
        return 1;
    before = gc_info_memory(rc, "\nused_memory:");
    rss_before = gc_info_memory(rc, "\nused_memory_rss:");
    for (;;) {
        redisReply *ents;
        int bad;

        r = redisCommand(rc, "XREADGROUP GROUP g c0 COUNT 1000 STREAMS " GC_KEY " >");
        if (r == NULL)
            return 1;
        ents = gc_entries(r, &bad);
        if (bad || ents == NULL || ents->elements == 0) {
            freeReplyObject(r);
            if (bad)
                return 1;
            break;
        }
        read += (long)ents->elements;
        freeReplyObject(r);
    }
    after = gc_info_memory(rc, "\nused_memory:");
    rss_after = gc_info_memory(rc, "\nused_memory_rss:");
    r = redisCommand(rc, "XPENDING " GC_KEY " g");
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_INTEGER)
        pending = r->element[0]->integer;
    if (r)
        freeReplyObject(r);
    gc_simple(rc, "DEL " GC_KEY);
    if (before < 0 || after < 0 || pending != opts->entries || read != opts->entries) {
        fprintf(stderr, "group_cycle: mem: read %ld, pending %lld of %ld\n", read, pending,
                opts->entries);
        return 1;
    }
    printf("mem pending=%lld used_before=%lld used_after=%lld "
           "bytes_per_pending=%.1f "
           "rss_per_pending=%.1f\n",
           pending, before, after, (double)(after - before) / (double)pending,
           (double)(rss_after - rss_before) / (double)pending);
    return 0;
}

static void
gc_usage(FILE *f)
{
    fprintf(f, "Usage: group_cycle [-h HOST] [-p PORT] [-n ENTRIES] [-c CONSUMERS] "
               "[-k COUNT] cycle|mem\n"
               "  defaults: -h 127.0.0.1 -p 6379 -n 1000000 -c 4 -k 100\n");
}

int
main(int argc, char **argv)
{
    gc_opts opts = {"127.0.0.1", 6379, 1000000, 4, 100};
    const char *mode = NULL;
    redisContext *rc;
    int rv;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (a[0] == '-' && a[1] != '\0' && a[2] == '\0' && i + 1 < argc) {
            const char *v = argv[++i];

            switch (a[1]) {
            case 'h':
                opts.host = v;
                break;
            case 'p':
                opts.port = atoi(v);
                break;
            case 'n':
                opts.entries = atol(v);
                break;
            case 'c':
                opts.consumers = atoi(v);
                break;
            case 'k':
                opts.count = atoi(v);
                break;
            default:
                gc_usage(stderr);
                return 2;
            }
        } else if (mode == NULL && (strcmp(a, "cycle") == 0 || strcmp(a, "mem") == 0)) {
            mode = a;
        } else {
            gc_usage(stderr);
            return 2;
        }
    }
    if (mode == NULL || opts.entries <= 0 || opts.consumers < 1 ||
        opts.consumers > GC_MAX_CONSUMERS || opts.count < 1) {
        gc_usage(stderr);
        return 2;
    }
    rc = gc_connect(&opts);
    if (rc == NULL)
        return 1;
    rv = strcmp(mode, "cycle") == 0 ? gc_cycle(&opts, rc) : gc_mem(&opts, rc);
    redisFree(rc);
    return rv;
}
