/*
 * broker/keyspace/db: databases, lazy and active expiry (see db.h).
 *
 * Invariant: every key in expires is also in keys. Lookups check expires
 * only when it is not empty, so databases without TTLs pay one hash lookup
 * per access.
 */
#include "broker/keyspace/db.h"

#include <assert.h>
#include <time.h>

#include "broker/util/mem.h"

/* Keys sampled per database per loop of the active cycle, and the share of
 * expired keys among them under which the cycle moves on (Redis uses 20
 * and 10%). */
#define KS_EXPIRE_SAMPLE           20
#define KS_EXPIRE_ACCEPTABLE_STALE 10

static uint64_t ks_rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
ks_rng(void)
{
    /* xorshift64*: cheap and good enough for sampling. */
    uint64_t x = ks_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ks_rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void
ks_space_init(ks_space *ks, int count)
{
    assert(count > 0);
    *ks = (ks_space){0};
    ks->count = count;
    ks->dbs = util_calloc((size_t)count, sizeof(ks_db));
    for (int i = 0; i < count; i++) {
        ks->dbs[i].id = i;
        ks->dbs[i].space = ks;
        ks->dbs[i].keys = ks_dict_new();
        ks->dbs[i].expires = ks_dict_new();
        if (ks->dbs[i].keys == NULL || ks->dbs[i].expires == NULL)
            runnel_panic("out of memory creating databases");
    }
    ks_blocking_init(&ks->blocking);
    ks_rng_state ^= (uint64_t)time(NULL);
}

void
ks_space_fini(ks_space *ks)
{
    for (int i = 0; i < ks->count; i++) {
        ks_dict_free(ks->dbs[i].keys, ks_obj_free_void);
        ks_dict_free(ks->dbs[i].expires, NULL);
    }
    util_free(ks->dbs);
    ks->dbs = NULL;
    ks_blocking_fini(&ks->blocking);
}

/* Deletes key because it expired: reports it first, then frees it. */
static void
ks_expire_now(ks_space *ks, ks_db *db, const void *key, size_t len)
{
    if (ks->on_expired)
        ks->on_expired(ks->priv, db, key, len);
    ks_del(db, key, len);
    ks->expired_keys++;
    /* Commands blocked on the key run again and see it gone. */
    ks_block_signal(&ks->blocking, db->id, key, len);
}

/* Counts a miss and reports it ("keymiss"), as the flags allow. */
static void
ks_miss(ks_space *ks, ks_db *db, const void *key, size_t len, int flags)
{
    if (flags & KS_LOOKUP_NOSTATS)
        return;
    ks->misses++;
    if (ks->on_miss && !(flags & KS_LOOKUP_NONOTIFY))
        ks->on_miss(ks->priv, db, key, len);
}

ks_obj *
ks_lookup(ks_space *ks, ks_db *db, const void *key, size_t len, int64_t now_ms, int flags)
{
    ks_dict_entry *e;
    if (ks_dict_count(db->expires) > 0 && !ks->no_expire) {
        ks_dict_entry *x = ks_dict_find(db->expires, key, len);
        if (x != NULL && ks_dict_entry_s64(x) <= now_ms) {
            if (!(flags & KS_LOOKUP_NOEXPIRE))
                ks_expire_now(ks, db, key, len);
            ks_miss(ks, db, key, len, flags);
            return NULL;
        }
    }
    e = ks_dict_find(db->keys, key, len);
    if (e == NULL) {
        ks_miss(ks, db, key, len, flags);
        return NULL;
    }
    ks_obj *o = ks_dict_entry_val(e);
    if (!(flags & KS_LOOKUP_NOSTATS))
        ks->hits++;
    if (!(flags & KS_LOOKUP_NOTOUCH))
        o->lru = ks_clock_sec;
    return o;
}

int
ks_exists(ks_space *ks, ks_db *db, const void *key, size_t len, int64_t now_ms)
{
    return ks_lookup(ks, db, key, len, now_ms, KS_LOOKUP_NOTOUCH | KS_LOOKUP_NOSTATS) != NULL;
}

void
ks_set(ks_db *db, const void *key, size_t len, ks_obj *val, int keep_ttl)
{
    int existed = 0;
    ks_dict_entry *e = ks_dict_add_or_find(db->keys, key, len, &existed);
    if (e == NULL)
        runnel_panic("out of memory adding a key");
    if (existed) {
        ks_obj_free(ks_dict_entry_val(e));
        if (!keep_ttl && ks_dict_count(db->expires) > 0)
            ks_dict_del(db->expires, key, len, NULL);
    }
    ks_dict_entry_set_val(e, val);
    if (!existed && db->space && db->space->on_new)
        db->space->on_new(db->space->priv, db, key, len);
}

void
ks_add(ks_db *db, const void *key, size_t len, ks_obj *val)
{
    ks_dict_entry *e = ks_dict_add(db->keys, key, len, val);
    assert(e != NULL);
    if (e == NULL)
        runnel_panic("ks_add on an existing key or out of memory");
    if (db->space && db->space->on_new)
        db->space->on_new(db->space->priv, db, key, len);
}

int
ks_del(ks_db *db, const void *key, size_t len)
{
    if (ks_dict_count(db->expires) > 0)
        ks_dict_del(db->expires, key, len, NULL);
    return ks_dict_del(db->keys, key, len, ks_obj_free_void) == 0;
}

ks_obj *
ks_take(ks_db *db, const void *key, size_t len, int64_t *expire_out)
{
    ks_dict_entry *e = ks_dict_unlink(db->keys, key, len);
    ks_obj *o;
    if (e == NULL)
        return NULL;
    o = ks_dict_entry_val(e);
    ks_dict_entry_free(e);
    *expire_out = -1;
    if (ks_dict_count(db->expires) > 0) {
        ks_dict_entry *x = ks_dict_unlink(db->expires, key, len);
        if (x != NULL) {
            *expire_out = ks_dict_entry_s64(x);
            ks_dict_entry_free(x);
        }
    }
    return o;
}

int64_t
ks_get_expire(ks_db *db, const void *key, size_t len)
{
    ks_dict_entry *x;
    if (ks_dict_count(db->expires) == 0)
        return -1;
    x = ks_dict_find(db->expires, key, len);
    return x ? ks_dict_entry_s64(x) : -1;
}

void
ks_set_expire(ks_db *db, const void *key, size_t len, int64_t when_ms)
{
    int existed;
    ks_dict_entry *x;
    assert(ks_dict_find(db->keys, key, len) != NULL);
    x = ks_dict_add_or_find(db->expires, key, len, &existed);
    if (x == NULL)
        runnel_panic("out of memory setting an expiry");
    ks_dict_entry_set_s64(x, when_ms);
}

int
ks_persist(ks_db *db, const void *key, size_t len)
{
    if (ks_dict_count(db->expires) == 0)
        return 0;
    return ks_dict_del(db->expires, key, len, NULL) == 0;
}

size_t
ks_flush(ks_db *db)
{
    size_t n = ks_dict_count(db->keys);
    ks_dict_clear(db->keys, ks_obj_free_void);
    ks_dict_clear(db->expires, NULL);
    db->avg_ttl = 0;
    return n;
}

void
ks_swap(ks_db *a, ks_db *b)
{
    ks_dict *k = a->keys, *x = a->expires;
    long long t = a->avg_ttl;
    a->keys = b->keys;
    a->expires = b->expires;
    a->avg_ttl = b->avg_ttl;
    b->keys = k;
    b->expires = x;
    b->avg_ttl = t;
}

static long long
ks_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One sampling round on db: returns keys expired, *sampled gets how many
 * were looked at. */
static size_t
ks_expire_round(ks_space *ks, ks_db *db, int64_t now_ms, size_t *sampled)
{
    ks_dict_entry *batch[KS_EXPIRE_SAMPLE];
    size_t n = ks_dict_sample(db->expires, batch, KS_EXPIRE_SAMPLE, ks_rng);
    size_t expired = 0;
    long long ttl_sum = 0, ttl_n = 0;
    /* Collect first: deleting while holding sampled entry pointers would
     * leave them dangling, so copy the expired keys' names out. */
    char *names[KS_EXPIRE_SAMPLE];
    size_t lens[KS_EXPIRE_SAMPLE];
    size_t nexp = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t when = ks_dict_entry_s64(batch[i]);
        if (when <= now_ms) {
            size_t klen;
            const char *k = ks_dict_entry_key(batch[i], &klen);
            names[nexp] = util_memdup(k, klen);
            lens[nexp++] = klen;
        } else {
            ttl_sum += when - now_ms;
            ttl_n++;
        }
    }
    for (size_t i = 0; i < nexp; i++) {
        ks_expire_now(ks, db, names[i], lens[i]);
        util_free(names[i]);
        expired++;
    }
    if (ttl_n) {
        long long avg = ttl_sum / ttl_n;
        /* Smooth like Redis: weigh the old estimate 98%. */
        db->avg_ttl = db->avg_ttl ? (db->avg_ttl / 50) * 49 + avg / 50 : avg;
    }
    *sampled = n;
    return expired;
}

size_t
ks_active_expire(ks_space *ks, int64_t now_ms, long long budget_us)
{
    long long start = ks_now_us();
    size_t total = 0, total_sampled = 0, total_expired = 0;
    for (int j = 0; j < ks->count; j++) {
        ks_db *db = &ks->dbs[ks->active_db % (unsigned)ks->count];
        ks->active_db++;
        for (;;) {
            size_t sampled = 0, expired;
            if (ks_dict_count(db->expires) == 0) {
                db->avg_ttl = 0; /* as Redis: no volatile keys, no average */
                break;
            }
            expired = ks_expire_round(ks, db, now_ms, &sampled);
            total += expired;
            total_sampled += sampled;
            total_expired += expired;
            if (ks_now_us() - start > budget_us)
                goto out;
            /* Keep going on this database only while many sampled keys
             * were stale. */
            if (sampled == 0 || expired * 100 / sampled <= KS_EXPIRE_ACCEPTABLE_STALE)
                break;
        }
    }
out:
    if (total_sampled)
        ks->expired_stale_perc = total_expired * 100 / total_sampled;
    ks->expire_cycle_ms += (unsigned long long)((ks_now_us() - start) / 1000);
    return total;
}

void
ks_cron(ks_space *ks, int budget_ms)
{
    for (int i = 0; i < ks->count; i++) {
        ks_db *db = &ks->dbs[i];
        ks_dict_resize_if_needed(db->keys);
        ks_dict_resize_if_needed(db->expires);
        if (ks_dict_is_rehashing(db->keys))
            ks_dict_rehash_ms(db->keys, budget_ms);
        if (ks_dict_is_rehashing(db->expires))
            ks_dict_rehash_ms(db->expires, budget_ms);
    }
}

const char *
ks_random_key(ks_space *ks, ks_db *db, int64_t now_ms, size_t *len)
{
    /* Retry while the picked key is expired; a database whose keys are all
     * stale empties itself this way. */
    for (;;) {
        ks_dict_entry *e = ks_dict_random(db->keys, ks_rng);
        const char *k;
        if (e == NULL)
            return NULL;
        k = ks_dict_entry_key(e, len);
        if (ks_exists(ks, db, k, *len, now_ms)) {
            e = ks_dict_find(db->keys, k, *len);
            return ks_dict_entry_key(e, len);
        }
    }
}
