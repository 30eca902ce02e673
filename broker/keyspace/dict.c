/*
 * dict.c - chained hash table with incremental rehashing and SipHash-1-2.
 *
 * Central choice: a resize never moves all entries at once. ks_dict_expand
 * allocates the new bucket array and sets rehash_idx; from then on every
 * find/add/del moves one more non-empty bucket (ks_dict_rehash), and the
 * server cron can spend a time budget with ks_dict_rehash_ms. While both
 * tables exist, lookups try table[0] then table[1] and new entries always go
 * to table[1], so table[0] only drains. Buckets of table[0] below rehash_idx
 * are always empty. Safe iterators and scans pause rehashing so that no
 * entry jumps behind their position.
 *
 * Entries carry their key inline and never move in memory (rehashing only
 * relinks them), so a pointer from find/iterators stays valid until that
 * entry itself is removed. Hashes are recomputed when an entry moves rather
 * than stored, to keep entries at 24 bytes plus the key.
 */
#include "broker/keyspace/dict.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ks_dict_entry {
    ks_dict_entry *next; /* next entry of the same bucket, NULL at the end */
    union {
        void *ptr;   /* value pointer, owned by the caller */
        int64_t s64; /* or an integer such as an expire time in ms */
    } val;
    size_t klen; /* key length in bytes, NUL not counted */
    char key[];  /* klen key bytes, then a NUL */
};

struct ks_dict {
    ks_dict_entry **table[2]; /* bucket arrays; table[1] is non-NULL only while rehashing */
    size_t size[2];           /* buckets per table: 0 or a power of two >= KS_DICT_MIN_SLOTS */
    size_t used[2];           /* entries per table */
    size_t rehash_idx;        /* next table[0] bucket to move; those below it are empty */
    size_t entry_bytes;       /* sum of entry allocation sizes, for ks_dict_mem */
    int paused;               /* ks_dict_pause_rehash nesting depth, >= 0 */
};

/* Empty buckets a rehash step may skip per non-empty bucket it moves. */
#define KS_DICT_EMPTY_VISITS 10

/* Buckets moved between clock reads in ks_dict_rehash_ms. */
#define KS_DICT_MS_BATCH 100

#define KS_DICT_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static void *(*ks_dict_alloc)(size_t) = malloc; /* see ks_dict_set_allocator */
static void (*ks_dict_release)(void *) = free;  /* pairs with ks_dict_alloc */

/* SipHash key halves, little-endian reads of the 16-byte seed. */
static uint64_t ks_dict_k0 = 0x642d6c656e6e7572ULL; /* "runnel-d" */
static uint64_t ks_dict_k1 = 0x646565732d746369ULL; /* "ict-seed" */

/* ---- SipHash-1-2 ---- */

static uint8_t
ks_dict_fold(uint8_t b)
{
    return (b >= 'A' && b <= 'Z') ? (uint8_t)(b + ('a' - 'A')) : b;
}

/* Reads 8 bytes little-endian, folding ASCII case if asked. The common
 * case-sensitive read is one unaligned load on little-endian hosts: it is
 * on the path of every key lookup. */
static inline uint64_t
ks_dict_load64(const uint8_t *p, int nocase)
{
    uint64_t v = 0;
    int i;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (!nocase) {
        memcpy(&v, p, sizeof(v));
        return v;
    }
#endif
    for (i = 7; i >= 0; i--)
        v = (v << 8) | (nocase ? ks_dict_fold(p[i]) : p[i]);
    return v;
}

/* One SipRound on the four state words. */
#define KS_DICT_SIPROUND(v0, v1, v2, v3)                                                           \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = KS_DICT_ROTL(v1, 13);                                                                 \
        v1 ^= v0;                                                                                  \
        v0 = KS_DICT_ROTL(v0, 32);                                                                 \
        v2 += v3;                                                                                  \
        v3 = KS_DICT_ROTL(v3, 16);                                                                 \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = KS_DICT_ROTL(v3, 21);                                                                 \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = KS_DICT_ROTL(v1, 17);                                                                 \
        v1 ^= v2;                                                                                  \
        v2 = KS_DICT_ROTL(v2, 32);                                                                 \
    } while (0)

/*
 * SipHash with one compression round per 8-byte word and two finalization
 * rounds (Aumasson and Bernstein's SipHash-c-d with c = 1, d = 2): plenty
 * against hash flooding from clients, and about twice as fast as 2-4.
 */
static uint64_t
ks_dict_siphash(const uint8_t *in, size_t len, int nocase)
{
    uint64_t v0 = ks_dict_k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = ks_dict_k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = ks_dict_k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = ks_dict_k1 ^ 0x7465646279746573ULL;
    size_t whole = len - (len & 7);
    uint64_t last = (uint64_t)len << 56;
    size_t i;

    for (i = 0; i < whole; i += 8) {
        uint64_t m = ks_dict_load64(in + i, nocase);

        v3 ^= m;
        KS_DICT_SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    for (i = len & 7; i > 0; i--) {
        uint8_t b = in[whole + i - 1];

        last |= (uint64_t)(nocase ? ks_dict_fold(b) : b) << (8 * (i - 1));
    }
    v3 ^= last;
    KS_DICT_SIPROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    KS_DICT_SIPROUND(v0, v1, v2, v3);
    KS_DICT_SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

void
ks_dict_set_seed(const uint8_t seed[16])
{
    assert(seed != NULL);
    ks_dict_k0 = ks_dict_load64(seed, 0);
    ks_dict_k1 = ks_dict_load64(seed + 8, 0);
}

void
ks_dict_set_allocator(void *(*alloc_fn)(size_t), void (*free_fn)(void *))
{
    assert((alloc_fn == NULL) == (free_fn == NULL));
    ks_dict_alloc = alloc_fn ? alloc_fn : malloc;
    ks_dict_release = free_fn ? free_fn : free;
}

uint64_t
ks_dict_hash(const void *key, size_t len)
{
    assert(key != NULL || len == 0);
    return ks_dict_siphash(key, len, 0);
}

uint64_t
ks_dict_hash_nocase(const void *key, size_t len)
{
    assert(key != NULL || len == 0);
    return ks_dict_siphash(key, len, 1);
}

/* ---- Entries and tables ---- */

static size_t
ks_dict_entry_size(size_t klen)
{
    return sizeof(ks_dict_entry) + klen + 1;
}

/* Allocates an unlinked entry holding a copy of the key and a zero value. */
static ks_dict_entry *
ks_dict_entry_new(const void *key, size_t len)
{
    ks_dict_entry *e;

    if (len > SIZE_MAX - sizeof(ks_dict_entry) - 1)
        return NULL;
    e = ks_dict_alloc(ks_dict_entry_size(len));
    if (e == NULL)
        return NULL;
    e->next = NULL;
    e->val.s64 = 0;
    e->val.ptr = NULL;
    e->klen = len;
    if (len > 0)
        memcpy(e->key, key, len);
    e->key[len] = '\0';
    return e;
}

static int
ks_dict_key_eq(const ks_dict_entry *e, const void *key, size_t len)
{
    return e->klen == len && (len == 0 || memcmp(e->key, key, len) == 0);
}

static size_t
ks_dict_bucket(const ks_dict *d, int t, uint64_t h)
{
    return (size_t)(h & (uint64_t)(d->size[t] - 1));
}

/* A zeroed bucket array of n slots, or NULL. */
static ks_dict_entry **
ks_dict_table_new(size_t n)
{
    ks_dict_entry **t;

    if (n > SIZE_MAX / sizeof(*t))
        return NULL;
    t = ks_dict_alloc(n * sizeof(*t));
    if (t != NULL)
        memset(t, 0, n * sizeof(*t));
    return t;
}

/*
 * Returns the link (bucket head or a `next` field) that points at the entry
 * for key, and its table in *tbl, or NULL. table[0] is searched first: an
 * entry lives in exactly one table, and table[0] buckets below rehash_idx
 * are empty, so searching them is merely wasted work.
 */
static ks_dict_entry **
ks_dict_link(const ks_dict *d, const void *key, size_t len, uint64_t h, int *tbl)
{
    int t;

    for (t = 0; t < 2 && d->table[t] != NULL; t++) {
        ks_dict_entry **link = &d->table[t][ks_dict_bucket(d, t, h)];

        for (; *link != NULL; link = &(*link)->next) {
            if (ks_dict_key_eq(*link, key, len)) {
                if (tbl != NULL)
                    *tbl = t;
                return link;
            }
        }
    }
    return NULL;
}

/* Makes table[1] the only table once table[0] has drained. */
static void
ks_dict_finish_rehash(ks_dict *d)
{
    assert(d->used[0] == 0);
    ks_dict_release(d->table[0]);
    d->table[0] = d->table[1];
    d->size[0] = d->size[1];
    d->used[0] = d->used[1];
    d->table[1] = NULL;
    d->size[1] = 0;
    d->used[1] = 0;
    d->rehash_idx = 0;
}

/*
 * Moves up to n non-empty table[0] buckets into table[1], skipping at most
 * KS_DICT_EMPTY_VISITS * n empty ones so a sparse table cannot stall a
 * command. Returns how many buckets rehash_idx advanced.
 */
static size_t ks_dict_rehash_some(ks_dict *d, size_t n);

/* The per-operation rehash step: a field test when no rehash is running,
 * which is nearly always. */
static inline size_t
ks_dict_rehash(ks_dict *d, size_t n)
{
    if (d->table[1] == NULL)
        return 0;
    return ks_dict_rehash_some(d, n);
}

static size_t
ks_dict_rehash_some(ks_dict *d, size_t n)
{
    size_t empty_left = n > SIZE_MAX / KS_DICT_EMPTY_VISITS ? SIZE_MAX : n * KS_DICT_EMPTY_VISITS;
    size_t done = 0;

    if (d->table[1] == NULL || d->paused > 0)
        return 0;
    while (n > 0 && d->used[0] > 0) {
        ks_dict_entry *e;

        assert(d->rehash_idx < d->size[0]);
        while ((e = d->table[0][d->rehash_idx]) == NULL) {
            d->rehash_idx++;
            done++;
            if (--empty_left == 0)
                return done;
        }
        d->table[0][d->rehash_idx++] = NULL;
        done++;
        while (e != NULL) {
            ks_dict_entry *next = e->next;
            size_t b = ks_dict_bucket(d, 1, ks_dict_hash(e->key, e->klen));

            e->next = d->table[1][b];
            d->table[1][b] = e;
            d->used[0]--;
            d->used[1]++;
            e = next;
        }
        n--;
    }
    if (d->used[0] == 0)
        ks_dict_finish_rehash(d);
    return done;
}

/*
 * Allocates a table of the smallest power of two >= max(min_entries, 4)
 * slots: the first table directly, otherwise as table[1] with a rehash
 * starting. Asking for the current size is a no-op. 0 or -ENOMEM.
 */
static int
ks_dict_expand(ks_dict *d, size_t min_entries)
{
    size_t n = KS_DICT_MIN_SLOTS;
    ks_dict_entry **t;

    assert(d->table[1] == NULL);
    while (n < min_entries) {
        if (n > SIZE_MAX / 2 / sizeof(*t))
            return -ENOMEM;
        n <<= 1;
    }
    if (n == d->size[0])
        return 0;
    t = ks_dict_table_new(n);
    if (t == NULL)
        return -ENOMEM;
    if (d->table[0] == NULL) {
        d->table[0] = t;
        d->size[0] = n;
        return 0;
    }
    d->table[1] = t;
    d->size[1] = n;
    d->rehash_idx = 0;
    return 0;
}

/* Grows when the table is full (count >= slots), as Redis does on insert. */
static int
ks_dict_grow_if_needed(ks_dict *d)
{
    if (d->table[1] != NULL)
        return 0;
    if (d->table[0] == NULL)
        return ks_dict_expand(d, KS_DICT_MIN_SLOTS);
    if (d->used[0] >= d->size[0])
        return ks_dict_expand(d, d->used[0] + 1);
    return 0;
}

/* ---- Lifecycle ---- */

ks_dict *
ks_dict_new(void)
{
    ks_dict *d = ks_dict_alloc(sizeof(*d));

    if (d == NULL)
        return NULL;
    memset(d, 0, sizeof(*d));
    d->table[0] = NULL;
    d->table[1] = NULL;
    return d;
}

void
ks_dict_clear(ks_dict *d, ks_dict_free_fn fn)
{
    int t;

    assert(d != NULL);
    for (t = 0; t < 2; t++) {
        size_t i;

        for (i = 0; i < d->size[t]; i++) {
            ks_dict_entry *e = d->table[t][i];

            while (e != NULL) {
                ks_dict_entry *next = e->next;

                if (fn != NULL)
                    fn(e->val.ptr);
                ks_dict_release(e);
                e = next;
            }
        }
        ks_dict_release(d->table[t]);
        d->table[t] = NULL;
        d->size[t] = 0;
        d->used[t] = 0;
    }
    d->rehash_idx = 0;
    d->entry_bytes = 0;
    /* d->paused is kept so that active iterators can still be stopped. */
}

void
ks_dict_free(ks_dict *d, ks_dict_free_fn fn)
{
    if (d == NULL)
        return;
    assert(d->paused == 0);
    ks_dict_clear(d, fn);
    ks_dict_release(d);
}

/* ---- Queries ---- */

size_t
ks_dict_count(const ks_dict *d)
{
    assert(d != NULL);
    return d->used[0] + d->used[1];
}

size_t
ks_dict_slots(const ks_dict *d)
{
    assert(d != NULL);
    return d->size[0] + d->size[1];
}

int
ks_dict_is_rehashing(const ks_dict *d)
{
    assert(d != NULL);
    return d->table[1] != NULL;
}

ks_dict_entry *
ks_dict_find(ks_dict *d, const void *key, size_t len)
{
    ks_dict_entry **link;

    assert(d != NULL && (key != NULL || len == 0));
    if (ks_dict_count(d) == 0)
        return NULL;
    ks_dict_rehash(d, 1);
    link = ks_dict_link(d, key, len, ks_dict_hash(key, len), NULL);
    return link != NULL ? *link : NULL;
}

size_t
ks_dict_mem(const ks_dict *d)
{
    assert(d != NULL);
    return sizeof(*d) + (d->size[0] + d->size[1]) * sizeof(ks_dict_entry *) + d->entry_bytes;
}

/* Checks one table; *bytes accumulates entry sizes. 0 or -EINVAL. */
static int
ks_dict_check_table(const ks_dict *d, int t, size_t *bytes)
{
    size_t seen = 0;
    size_t i;

    if (d->table[t] == NULL)
        return d->size[t] == 0 && d->used[t] == 0 ? 0 : -EINVAL;
    if (d->size[t] < KS_DICT_MIN_SLOTS || (d->size[t] & (d->size[t] - 1)) != 0)
        return -EINVAL;
    for (i = 0; i < d->size[t]; i++) {
        const ks_dict_entry *e = d->table[t][i];

        if (e != NULL && t == 0 && d->table[1] != NULL && i < d->rehash_idx)
            return -EINVAL; /* already moved, must be empty */
        for (; e != NULL; e = e->next) {
            uint64_t h = ks_dict_hash(e->key, e->klen);
            ks_dict_entry **link;
            int where = -1;

            if (++seen > d->used[t] || e->key[e->klen] != '\0')
                return -EINVAL; /* the count guard also stops on a cycle */
            if (ks_dict_bucket(d, t, h) != i)
                return -EINVAL;
            /* A lookup must land on this very entry, or the key is duplicated. */
            link = ks_dict_link(d, e->key, e->klen, h, &where);
            if (link == NULL || *link != e || where != t)
                return -EINVAL;
            *bytes += ks_dict_entry_size(e->klen);
        }
    }
    return seen == d->used[t] ? 0 : -EINVAL;
}

int
ks_dict_check(const ks_dict *d)
{
    size_t bytes = 0;

    if (d == NULL || d->paused < 0)
        return -EINVAL;
    if (d->table[1] != NULL && (d->table[0] == NULL || d->rehash_idx > d->size[0]))
        return -EINVAL;
    if (d->table[1] == NULL && d->rehash_idx != 0)
        return -EINVAL;
    if (ks_dict_check_table(d, 0, &bytes) != 0 || ks_dict_check_table(d, 1, &bytes) != 0)
        return -EINVAL;
    return bytes == d->entry_bytes ? 0 : -EINVAL;
}

/* ---- Mutations ---- */

ks_dict_entry *
ks_dict_add_or_find(ks_dict *d, const void *key, size_t len, int *existed)
{
    ks_dict_entry **link;
    ks_dict_entry *e;
    uint64_t h;
    size_t b;
    int t;

    assert(d != NULL && existed != NULL && (key != NULL || len == 0));
    ks_dict_rehash(d, 1);
    h = ks_dict_hash(key, len);
    link = ks_dict_link(d, key, len, h, NULL);
    if (link != NULL) {
        *existed = 1;
        return *link;
    }
    /*
     * Allocate the entry before growing so that an ENOMEM here changes
     * nothing. A failed grow is harmless once a table exists: the entry
     * goes into a longer chain and the next insert tries again.
     */
    e = ks_dict_entry_new(key, len);
    if (e == NULL)
        return NULL;
    if (ks_dict_grow_if_needed(d) != 0 && d->table[0] == NULL) {
        ks_dict_release(e);
        return NULL;
    }
    t = d->table[1] != NULL ? 1 : 0;
    b = ks_dict_bucket(d, t, h);
    e->next = d->table[t][b];
    d->table[t][b] = e;
    d->used[t]++;
    d->entry_bytes += ks_dict_entry_size(len);
    *existed = 0;
    return e;
}

ks_dict_entry *
ks_dict_add(ks_dict *d, const void *key, size_t len, void *val)
{
    int existed;
    ks_dict_entry *e = ks_dict_add_or_find(d, key, len, &existed);

    if (e == NULL || existed)
        return NULL;
    e->val.ptr = val;
    return e;
}

ks_dict_entry *
ks_dict_unlink(ks_dict *d, const void *key, size_t len)
{
    ks_dict_entry **link;
    ks_dict_entry *e;
    int t = 0;

    assert(d != NULL && (key != NULL || len == 0));
    if (ks_dict_count(d) == 0)
        return NULL;
    ks_dict_rehash(d, 1);
    link = ks_dict_link(d, key, len, ks_dict_hash(key, len), &t);
    if (link == NULL)
        return NULL;
    e = *link;
    *link = e->next;
    e->next = NULL;
    d->used[t]--;
    d->entry_bytes -= ks_dict_entry_size(e->klen);
    return e;
}

int
ks_dict_del(ks_dict *d, const void *key, size_t len, ks_dict_free_fn fn)
{
    ks_dict_entry *e = ks_dict_unlink(d, key, len);

    if (e == NULL)
        return -ENOENT;
    if (fn != NULL)
        fn(e->val.ptr);
    ks_dict_release(e);
    return 0;
}

void
ks_dict_entry_free(ks_dict_entry *e)
{
    if (e != NULL)
        ks_dict_release(e);
}

int
ks_dict_resize_if_needed(ks_dict *d)
{
    assert(d != NULL);
    if (d->table[1] != NULL || d->table[0] == NULL)
        return 0;
    if (d->used[0] >= d->size[0])
        return ks_dict_expand(d, d->used[0] + 1);
    /* used < size here, so used * 100 cannot overflow for any real table. */
    if (d->size[0] > KS_DICT_MIN_SLOTS && d->used[0] * 100 < KS_DICT_MIN_FILL * d->size[0])
        return ks_dict_expand(d, d->used[0]);
    return 0;
}

void
ks_dict_rehash_step(ks_dict *d, int buckets)
{
    assert(d != NULL);
    if (buckets > 0)
        ks_dict_rehash(d, (size_t)buckets);
}

static int64_t
ks_dict_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
ks_dict_rehash_ms(ks_dict *d, int ms)
{
    int64_t deadline;
    size_t total = 0;

    assert(d != NULL);
    deadline = ks_dict_now_ns() + (int64_t)(ms > 0 ? ms : 0) * 1000000;
    for (;;) {
        size_t n = ks_dict_rehash(d, KS_DICT_MS_BATCH);

        total += n;
        if (n == 0 || d->table[1] == NULL || total >= INT_MAX - KS_DICT_MS_BATCH * 11)
            break;
        if (ks_dict_now_ns() >= deadline)
            break;
    }
    return (int)total;
}

void
ks_dict_pause_rehash(ks_dict *d)
{
    assert(d != NULL && d->paused < INT_MAX);
    d->paused++;
}

void
ks_dict_resume_rehash(ks_dict *d)
{
    assert(d != NULL && d->paused > 0);
    d->paused--;
}

/* ---- Entries ---- */

const char *
ks_dict_entry_key(const ks_dict_entry *e, size_t *len)
{
    assert(e != NULL);
    if (len != NULL)
        *len = e->klen;
    return e->key;
}

void *
ks_dict_entry_val(const ks_dict_entry *e)
{
    assert(e != NULL);
    return e->val.ptr;
}

void
ks_dict_entry_set_val(ks_dict_entry *e, void *val)
{
    assert(e != NULL);
    e->val.ptr = val;
}

int64_t
ks_dict_entry_s64(const ks_dict_entry *e)
{
    assert(e != NULL);
    return e->val.s64;
}

void
ks_dict_entry_set_s64(ks_dict_entry *e, int64_t v)
{
    assert(e != NULL);
    e->val.s64 = v;
}

/* ---- Traversal ---- */

static uint64_t
ks_dict_reverse_bits(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0fULL) | ((v & 0x0f0f0f0f0f0f0f0fULL) << 4);
    v = ((v >> 8) & 0x00ff00ff00ff00ffULL) | ((v & 0x00ff00ff00ff00ffULL) << 8);
    v = ((v >> 16) & 0x0000ffff0000ffffULL) | ((v & 0x0000ffff0000ffffULL) << 16);
    return (v >> 32) | (v << 32);
}

/*
 * Advances the cursor by one in the bucket order of a table with this
 * mask: bits outside the mask are set so the carry of the reversed
 * increment runs through them, leaving them all zero at the wrap.
 */
static uint64_t
ks_dict_cursor_next(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = ks_dict_reverse_bits(v);
    v++;
    return ks_dict_reverse_bits(v);
}

static void
ks_dict_scan_bucket(const ks_dict_entry *e, ks_dict_scan_fn fn, void *priv)
{
    while (e != NULL) {
        const ks_dict_entry *next = e->next;

        fn(priv, e);
        e = next;
    }
}

uint64_t
ks_dict_scan(ks_dict *d, uint64_t cursor, ks_dict_scan_fn fn, void *priv)
{
    uint64_t v = cursor;

    assert(d != NULL && fn != NULL);
    if (ks_dict_count(d) == 0)
        return 0;
    ks_dict_pause_rehash(d);
    if (d->table[1] == NULL) {
        uint64_t m0 = d->size[0] - 1;

        ks_dict_scan_bucket(d->table[0][v & m0], fn, priv);
        v = ks_dict_cursor_next(v, m0);
    } else {
        /*
         * Bucket v & m0 of the small table splits into the buckets of the
         * big table whose low bits equal it. Visit them all by counting up
         * the bits in m1 but not m0 (high bits of the index, low bits of
         * the reversed cursor); their wrap carries into the m0 bits, which
         * is exactly the small table's next cursor.
         */
        int small = d->size[0] <= d->size[1] ? 0 : 1;
        ks_dict_entry **ts = d->table[small];
        ks_dict_entry **tb = d->table[1 - small];
        uint64_t m0 = d->size[small] - 1;
        uint64_t m1 = d->size[1 - small] - 1;

        ks_dict_scan_bucket(ts[v & m0], fn, priv);
        do {
            ks_dict_scan_bucket(tb[v & m1], fn, priv);
            v = ks_dict_cursor_next(v, m1);
        } while ((v & (m0 ^ m1)) != 0);
    }
    ks_dict_resume_rehash(d);
    return v;
}

ks_dict_entry *
ks_dict_random(ks_dict *d, uint64_t (*rnd)(void))
{
    ks_dict_entry *head = NULL;
    ks_dict_entry *e;
    size_t chain = 0;
    uint64_t pick;

    assert(d != NULL && rnd != NULL);
    if (ks_dict_count(d) == 0)
        return NULL;
    ks_dict_rehash(d, 1);
    if (d->table[1] != NULL) {
        /* Buckets below rehash_idx are empty: draw from the rest of both tables. */
        size_t span = d->size[0] + d->size[1] - d->rehash_idx;

        while (head == NULL) {
            size_t i = d->rehash_idx + (size_t)(rnd() % span);

            head = i < d->size[0] ? d->table[0][i] : d->table[1][i - d->size[0]];
        }
    } else {
        while (head == NULL)
            head = d->table[0][ks_dict_bucket(d, 0, rnd())];
    }
    for (e = head; e != NULL; e = e->next)
        chain++;
    pick = rnd() % chain;
    for (e = head; pick > 0; pick--)
        e = e->next;
    return e;
}

size_t
ks_dict_sample(ks_dict *d, ks_dict_entry **out, size_t count, uint64_t (*rnd)(void))
{
    size_t stored = 0;
    size_t steps, maxmask, i, j;
    int tables;

    assert(d != NULL && rnd != NULL && (out != NULL || count == 0));
    if (count > ks_dict_count(d))
        count = ks_dict_count(d);
    if (count == 0)
        return 0;
    for (j = 0; j < count && d->table[1] != NULL; j++)
        ks_dict_rehash(d, 1);
    tables = d->table[1] != NULL ? 2 : 1;
    maxmask = d->size[0] - 1;
    if (tables == 2 && d->size[1] - 1 > maxmask)
        maxmask = d->size[1] - 1;
    /*
     * Walk consecutive indexes, never more than one full lap: every entry
     * sits at exactly one (table, index), so the result has no duplicates,
     * which lets callers delete what they sampled without double frees.
     */
    steps = count > SIZE_MAX / 10 ? SIZE_MAX : count * 10;
    if (steps > maxmask + 1 && maxmask + 1 != 0)
        steps = maxmask + 1;
    i = (size_t)rnd() & maxmask;
    for (; steps > 0 && stored < count; steps--) {
        int t;

        for (t = 0; t < tables && stored < count; t++) {
            ks_dict_entry *e;

            if (i >= d->size[t] || (t == 0 && tables == 2 && i < d->rehash_idx))
                continue; /* outside this table, or already moved */
            for (e = d->table[t][i]; e != NULL && stored < count; e = e->next)
                out[stored++] = e;
        }
        i = (i + 1) & maxmask;
    }
    return stored;
}

void
ks_dict_iter_start(ks_dict_iter *it, ks_dict *d)
{
    assert(it != NULL && d != NULL);
    it->d = d;
    it->next_entry = NULL;
    it->bucket = 0;
    it->table = 0;
    ks_dict_pause_rehash(d);
}

ks_dict_entry *
ks_dict_iter_next(ks_dict_iter *it)
{
    ks_dict *d;

    assert(it != NULL && it->d != NULL);
    d = it->d;
    for (;;) {
        ks_dict_entry *e = it->next_entry;

        if (e != NULL) {
            /* Save the successor now: the caller may delete e. */
            it->next_entry = e->next;
            return e;
        }
        if (it->bucket < d->size[it->table]) {
            it->next_entry = d->table[it->table][it->bucket++];
            continue;
        }
        if (it->table == 0 && d->table[1] != NULL) {
            it->table = 1;
            it->bucket = 0;
            continue;
        }
        return NULL;
    }
}

void
ks_dict_iter_stop(ks_dict_iter *it)
{
    assert(it != NULL);
    if (it->d == NULL)
        return;
    ks_dict_resume_rehash(it->d);
    it->d = NULL;
}
