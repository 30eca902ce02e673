/*
 * broker/keyspace/blocking: blocked-caller registry (see blocking.h).
 *
 * Keys are stored with their database number in front (4 bytes, big
 * endian), so one hash table serves every database. A waiter queue is a
 * plain array: blocked callers per key are few and removal is rare next to
 * the cost of the commands they run.
 */
#include "broker/keyspace/blocking.h"

#include <string.h>

#include "broker/util/mem.h"

typedef struct ks_block_queue {
    uint64_t *ids; /* waiting caller ids, oldest first, owned */
    size_t count;  /* ids in use */
    size_t cap;    /* ids allocated */
} ks_block_queue;

static void
ks_block_queue_free(void *q)
{
    ks_block_queue *bq = q;
    if (bq == NULL)
        return;
    util_free(bq->ids);
    util_free(bq);
}

/* Builds "<db:4><key>" into buf (heap when long); returns it. */
static char *
ks_block_mkkey(char *buf, size_t cap, int db, const void *key, size_t len)
{
    char *k = len + 4 <= cap ? buf : util_malloc(len + 4);
    k[0] = (char)((unsigned)db >> 24);
    k[1] = (char)((unsigned)db >> 16);
    k[2] = (char)((unsigned)db >> 8);
    k[3] = (char)db;
    if (len)
        memcpy(k + 4, key, len);
    return k;
}

void
ks_blocking_init(ks_blocking *b)
{
    *b = (ks_blocking){0};
    b->waiters = ks_dict_new();
    b->ready_set = ks_dict_new();
    if (b->waiters == NULL || b->ready_set == NULL)
        runnel_panic("out of memory creating the blocking registry");
}

void
ks_blocking_fini(ks_blocking *b)
{
    ks_dict_free(b->waiters, ks_block_queue_free);
    ks_dict_free(b->ready_set, NULL);
    for (size_t i = 0; i < b->nready; i++)
        util_free(b->ready[i]);
    util_free(b->ready);
    util_free(b->ready_len);
    *b = (ks_blocking){0};
}

void
ks_block_add(ks_blocking *b, int db, const void *key, size_t len, uint64_t id)
{
    char buf[128], *k = ks_block_mkkey(buf, sizeof(buf), db, key, len);
    int existed;
    ks_dict_entry *e = ks_dict_add_or_find(b->waiters, k, len + 4, &existed);
    ks_block_queue *q;
    if (e == NULL)
        runnel_panic("out of memory blocking a client");
    q = existed ? ks_dict_entry_val(e) : NULL;
    if (q == NULL) {
        q = util_calloc(1, sizeof(*q));
        ks_dict_entry_set_val(e, q);
    }
    if (q->count == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 4;
        q->ids = util_realloc(q->ids, q->cap * sizeof(*q->ids));
    }
    q->ids[q->count++] = id;
    b->nblocked++;
    if (k != buf)
        util_free(k);
}

void
ks_block_del(ks_blocking *b, int db, const void *key, size_t len, uint64_t id)
{
    char buf[128], *k = ks_block_mkkey(buf, sizeof(buf), db, key, len);
    ks_dict_entry *e = ks_dict_find(b->waiters, k, len + 4);
    if (e != NULL) {
        ks_block_queue *q = ks_dict_entry_val(e);
        for (size_t i = 0; i < q->count; i++) {
            if (q->ids[i] != id)
                continue;
            memmove(q->ids + i, q->ids + i + 1, (q->count - i - 1) * sizeof(*q->ids));
            q->count--;
            b->nblocked--;
            break;
        }
        if (q->count == 0)
            ks_dict_del(b->waiters, k, len + 4, ks_block_queue_free);
    }
    if (k != buf)
        util_free(k);
}

void
ks_block_signal(ks_blocking *b, int db, const void *key, size_t len)
{
    char buf[128], *k;
    if (b->nblocked == 0)
        return;
    k = ks_block_mkkey(buf, sizeof(buf), db, key, len);
    if (ks_dict_find(b->waiters, k, len + 4) != NULL &&
        ks_dict_add(b->ready_set, k, len + 4, NULL) != NULL) {
        if (b->nready == b->ready_cap) {
            b->ready_cap = b->ready_cap ? b->ready_cap * 2 : 8;
            b->ready = util_realloc(b->ready, b->ready_cap * sizeof(*b->ready));
            b->ready_len = util_realloc(b->ready_len, b->ready_cap * sizeof(*b->ready_len));
        }
        b->ready[b->nready] = k == buf ? util_memdup(k, len + 4) : k;
        b->ready_len[b->nready++] = len + 4;
        return;
    }
    if (k != buf)
        util_free(k);
}

int
ks_block_pop_ready(ks_blocking *b, int *db, char **key, size_t *len)
{
    char *k;
    size_t klen;
    if (b->nready == 0)
        return 0;
    k = b->ready[0];
    klen = b->ready_len[0];
    memmove(b->ready, b->ready + 1, (b->nready - 1) * sizeof(*b->ready));
    memmove(b->ready_len, b->ready_len + 1, (b->nready - 1) * sizeof(*b->ready_len));
    b->nready--;
    ks_dict_del(b->ready_set, k, klen, NULL);
    *db = (int)(((unsigned)(unsigned char)k[0] << 24) | ((unsigned)(unsigned char)k[1] << 16) |
                ((unsigned)(unsigned char)k[2] << 8) | (unsigned)(unsigned char)k[3]);
    /* Hand out the key bytes after the db prefix; the prefix stays in the
     * same allocation, released by ks_block_key_free. */
    *key = k + 4;
    *len = klen - 4;
    return 1;
}

void
ks_block_key_free(char *key)
{
    if (key)
        util_free(key - 4);
}

size_t
ks_block_waiters(ks_blocking *b, int db, const void *key, size_t len, uint64_t **ids)
{
    char buf[128], *k = ks_block_mkkey(buf, sizeof(buf), db, key, len);
    ks_dict_entry *e = ks_dict_find(b->waiters, k, len + 4);
    size_t n = 0;
    *ids = NULL;
    if (e != NULL) {
        ks_block_queue *q = ks_dict_entry_val(e);
        n = q->count;
        *ids = util_malloc(n * sizeof(**ids));
        memcpy(*ids, q->ids, n * sizeof(**ids));
    }
    if (k != buf)
        util_free(k);
    return n;
}

void
ks_block_signal_db(ks_blocking *b, int db)
{
    ks_dict_iter it;
    ks_dict_entry *e;
    char **keys = NULL;
    size_t *lens = NULL, n = 0;
    if (b->nblocked == 0)
        return;
    /* Collect first: signalling adds to ready_set, not to waiters, but the
     * safe iterator is kept free of any other work. */
    ks_dict_iter_start(&it, b->waiters);
    while ((e = ks_dict_iter_next(&it)) != NULL) {
        size_t klen;
        const char *k = ks_dict_entry_key(e, &klen);
        int kdb =
            (int)(((unsigned)(unsigned char)k[0] << 24) | ((unsigned)(unsigned char)k[1] << 16) |
                  ((unsigned)(unsigned char)k[2] << 8) | (unsigned)(unsigned char)k[3]);
        if (kdb != db)
            continue;
        keys = util_realloc(keys, (n + 1) * sizeof(*keys));
        lens = util_realloc(lens, (n + 1) * sizeof(*lens));
        keys[n] = util_memdup(k + 4, klen - 4);
        lens[n++] = klen - 4;
    }
    ks_dict_iter_stop(&it);
    for (size_t i = 0; i < n; i++) {
        ks_block_signal(b, db, keys[i], lens[i]);
        util_free(keys[i]);
    }
    util_free(keys);
    util_free(lens);
}
