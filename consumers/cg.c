/*
 * cg.c - consumer groups and consumers (see cg.h): lifecycle, lookups,
 * delivery of new entries, read counters and lag, copy and checking.
 *
 * Every group and consumer is one allocation holding its name after the
 * header, so a lookup by name costs one tree walk and no string compare.
 * The read-counter rules follow Redis 7.4's t_stream.c: the counter is
 * trusted while no deleted entry lies after the last-delivered ID, and is
 * estimated from the stream's metadata otherwise (exact at the edges).
 * Hot path: cg_deliver (XREADGROUP ">"). Not here: pending-entry operations
 * beyond delivery (pel.c), clients, replies, clocks.
 */
#include "consumers/cg_int.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- Allocation ---- */

static void *(*cg_malloc_fn)(size_t) = malloc;
static void (*cg_free_fn)(void *) = free;

void *
cg__malloc(size_t n)
{
    return cg_malloc_fn(n);
}

void
cg__free(void *p)
{
    cg_free_fn(p);
}

void
cg_set_allocator(void *(*malloc_fn)(size_t), void (*free_fn)(void *))
{
    cg_malloc_fn = malloc_fn != NULL ? malloc_fn : malloc;
    cg_free_fn = free_fn != NULL ? free_fn : free;
}

/* ---- Keys ---- */

/* Big-endian, ms first: byte order of keys is ID order, so tree walks come
 * out sorted by ID and ">=" seeks find the next pending ID. */
void
cg__key(unsigned char *key, const stream_id *id)
{
    for (int i = 0; i < 8; i++) {
        key[i] = (unsigned char)(id->ms >> (56 - 8 * i));
        key[8 + i] = (unsigned char)(id->seq >> (56 - 8 * i));
    }
}

stream_id
cg__key_id(const unsigned char *key)
{
    stream_id id = {0, 0};

    for (int i = 0; i < 8; i++) {
        id.ms = (id.ms << 8) | key[i];
        id.seq = (id.seq << 8) | key[8 + i];
    }
    return id;
}

/* ---- Objects ---- */

static void
cg_entry_free(void *e)
{
    CG_FREE(e);
}

static void
cg_consumer_free(void *p)
{
    cg_consumer *c = p;

    /* The consumer PEL only borrows its entries: the group PEL frees them. */
    rax_free(c->pel, NULL);
    CG_FREE(c);
}

/* Consumers go first: their trees only borrow the entries that the PEL
 * free below releases, and nothing reads an entry on the way out. */
static void
cg_group_free(void *p)
{
    cg_group *g = p;

    rax_free(g->consumers, cg_consumer_free);
    rax_free(g->pel, cg_entry_free);
    CG_FREE(g);
}

/* One allocation with the name after the header (the tree key is a
 * second copy, which rax needs anyway). NULL on ENOMEM, nothing left. */
static cg_group *
cg_group_new(const void *name, size_t len, const stream_id *last_id, int64_t entries_read)
{
    cg_group *g = CG_MALLOC(sizeof(*g) + len);

    if (g == NULL)
        return NULL;
    g->pel = rax_new();
    g->consumers = rax_new();
    if (g->pel == NULL || g->consumers == NULL) {
        rax_free(g->pel, NULL);
        rax_free(g->consumers, NULL);
        CG_FREE(g);
        return NULL;
    }
    g->last_id = *last_id;
    g->entries_read = entries_read;
    g->name_len = len;
    if (len)
        memcpy(g->name, name, len);
    return g;
}

/* As cg_group_new; a new consumer was seen now and was never active
 * (XINFO CONSUMERS reports inactive -1 until it gets an entry). */
static cg_consumer *
cg_consumer_new(const void *name, size_t len, int64_t now_ms)
{
    cg_consumer *c = CG_MALLOC(sizeof(*c) + len);

    if (c == NULL)
        return NULL;
    c->pel = rax_new();
    if (c->pel == NULL) {
        CG_FREE(c);
        return NULL;
    }
    c->seen_ms = now_ms;
    c->active_ms = CG_NEVER_ACTIVE;
    c->name_len = len;
    if (len)
        memcpy(c->name, name, len);
    return c;
}

/* ---- Shared PEL helpers ---- */

void
cg__pel_drop(cg_group *g, const unsigned char *key, pel_entry *e)
{
    int removed = rax_remove(g->pel, key, CG_KEY_LEN, NULL);

    assert(removed == 1);
    removed = rax_remove(e->owner->pel, key, CG_KEY_LEN, NULL);
    assert(removed == 1);
    (void)removed;
    CG_FREE(e);
}

int
cg__pel_move(pel_entry *e, const unsigned char *key, cg_consumer *c)
{
    int rc;

    if (e->owner == c)
        return 0;
    /* Insert into the new owner first: only this can fail, and then the
     * entry has not moved yet. */
    rc = rax_try_insert(c->pel, key, CG_KEY_LEN, e, NULL);
    if (rc < 0)
        return rc;
    assert(rc == 1);
    rc = rax_remove(e->owner->pel, key, CG_KEY_LEN, NULL);
    assert(rc == 1);
    e->owner = c;
    return 0;
}

/* ---- Sets ---- */

cg_set *
cg_set_new(void)
{
    cg_set *set = CG_MALLOC(sizeof(*set));

    if (set == NULL)
        return NULL;
    set->groups = rax_new();
    if (set->groups == NULL) {
        CG_FREE(set);
        return NULL;
    }
    return set;
}

void
cg_set_free(cg_set *set)
{
    if (set == NULL)
        return;
    rax_free(set->groups, cg_group_free);
    CG_FREE(set);
}

uint64_t
cg_set_count(const cg_set *set)
{
    return rax_count(set->groups);
}

cg_group *
cg_group_find(const cg_set *set, const void *name, size_t len)
{
    void *g;

    if (!rax_find(set->groups, name, len, &g))
        return NULL;
    return g;
}

/* Copies src's PEL and consumers into the empty group dst. 0 or -ENOMEM
 * (dst then holds part of them; the caller frees it). */
static int
cg_group_copy(cg_group *dst, const cg_group *src)
{
    rax_iter it, pit;
    int rc = 0;

    /* Entries first, owned by nobody for a moment; consumers then claim
     * theirs by key. */
    rax_iter_start(&it, src->pel);
    rax_seek(&it, "^", NULL, 0);
    while (rc == 0 && rax_next(&it)) {
        const pel_entry *e = it.data;
        pel_entry *copy = CG_MALLOC(sizeof(*copy));

        if (copy == NULL) {
            rc = -ENOMEM;
            break;
        }
        *copy = *e;
        copy->owner = NULL;
        if (rax_insert(dst->pel, it.key, it.key_len, copy, NULL) < 0) {
            CG_FREE(copy);
            rc = -ENOMEM;
        }
    }
    if (rc == 0)
        rc = rax_iter_error(&it);
    rax_iter_stop(&it);

    rax_iter_start(&it, src->consumers);
    rax_seek(&it, "^", NULL, 0);
    while (rc == 0 && rax_next(&it)) {
        const cg_consumer *c = it.data;
        cg_consumer *copy = cg_consumer_new(c->name, c->name_len, c->seen_ms);

        if (copy == NULL || rax_insert(dst->consumers, c->name, c->name_len, copy, NULL) < 0) {
            if (copy != NULL)
                cg_consumer_free(copy);
            rc = -ENOMEM;
            break;
        }
        copy->active_ms = c->active_ms;
        rax_iter_start(&pit, c->pel);
        rax_seek(&pit, "^", NULL, 0);
        while (rc == 0 && rax_next(&pit)) {
            void *e = NULL;
            int found = rax_find(dst->pel, pit.key, pit.key_len, &e);

            assert(found);
            (void)found;
            if (rax_insert(copy->pel, pit.key, pit.key_len, e, NULL) < 0)
                rc = -ENOMEM;
            else
                ((pel_entry *)e)->owner = copy;
        }
        if (rc == 0)
            rc = rax_iter_error(&pit);
        rax_iter_stop(&pit);
    }
    if (rc == 0)
        rc = rax_iter_error(&it);
    rax_iter_stop(&it);
    return rc;
}

/* Groups are copied in name order into a fresh set; a failure anywhere
 * frees the whole copy, so the caller sees either a full copy or nothing. */
int
cg_set_dup(const cg_set *set, cg_set **out)
{
    cg_set *copy = cg_set_new();
    rax_iter it;
    int rc = 0;

    if (copy == NULL)
        return -ENOMEM;
    rax_iter_start(&it, set->groups);
    rax_seek(&it, "^", NULL, 0);
    while (rc == 0 && rax_next(&it)) {
        const cg_group *g = it.data;
        cg_group *dst = cg_group_new(g->name, g->name_len, &g->last_id, g->entries_read);

        if (dst == NULL || rax_insert(copy->groups, g->name, g->name_len, dst, NULL) < 0) {
            if (dst != NULL)
                cg_group_free(dst);
            rc = -ENOMEM;
            break;
        }
        rc = cg_group_copy(dst, g);
    }
    if (rc == 0)
        rc = rax_iter_error(&it);
    rax_iter_stop(&it);
    if (rc != 0) {
        /* Entries not yet claimed by a consumer copy have no owner, which
         * the free path does not look at. */
        cg_set_free(copy);
        return rc;
    }
    *out = copy;
    return 0;
}

/* Counts what the structures asked for, not allocator overhead, the same
 * way stream_mem does, so MEMORY USAGE adds like for like. */
size_t
cg_set_mem(const cg_set *set)
{
    size_t total = sizeof(*set) + rax_mem(set->groups);
    cg_iter it, cit;
    cg_group *g;
    cg_consumer *c;

    cg_iter_groups(&it, set);
    while (cg_iter_next_group(&it, &g)) {
        total += sizeof(*g) + g->name_len + rax_mem(g->pel) + rax_mem(g->consumers);
        total += (size_t)rax_count(g->pel) * sizeof(pel_entry);
        cg_iter_consumers(&cit, g);
        while (cg_iter_next_consumer(&cit, &c))
            total += sizeof(*c) + c->name_len + rax_mem(c->pel);
        cg_iter_stop(&cit);
    }
    cg_iter_stop(&it);
    return total;
}

/* Names are checked here; everything inside a group is pel_check's job,
 * since the invariants that matter tie the PELs together. */
int
cg_check(const cg_set *set)
{
    rax_iter it;
    int rc = rax_check(set->groups);

    rax_iter_start(&it, set->groups);
    rax_seek(&it, "^", NULL, 0);
    while (rc == 0 && rax_next(&it)) {
        const cg_group *g = it.data;

        if (g == NULL || g->name_len != it.key_len || memcmp(g->name, it.key, it.key_len) != 0)
            rc = -EINVAL;
        else
            rc = pel_check(g);
    }
    rax_iter_stop(&it);
    return rc;
}

/* ---- Iteration ---- */

void
cg_iter_groups(cg_iter *it, const cg_set *set)
{
    rax_iter_start(&it->ri, set->groups);
    rax_seek(&it->ri, "^", NULL, 0);
}

void
cg_iter_consumers(cg_iter *it, const cg_group *g)
{
    rax_iter_start(&it->ri, g->consumers);
    rax_seek(&it->ri, "^", NULL, 0);
}

int
cg_iter_next_group(cg_iter *it, cg_group **out)
{
    if (!rax_next(&it->ri))
        return 0;
    *out = it->ri.data;
    return 1;
}

int
cg_iter_next_consumer(cg_iter *it, cg_consumer **out)
{
    if (!rax_next(&it->ri))
        return 0;
    *out = it->ri.data;
    return 1;
}

void
cg_iter_stop(cg_iter *it)
{
    rax_iter_stop(&it->ri);
}

/* ---- Set mutations ---- */

/* The lookup first keeps -EEXIST free of allocations: BUSYGROUP is a normal
 * answer, not a failure path. */
int
cg_group_add(cg_set *set, const void *name, size_t len, const stream_id *last_id,
             int64_t entries_read, cg_group **out)
{
    cg_group *g;
    int rc;

    assert(entries_read >= CG_ENTRIES_READ_INVALID);
    if (rax_find(set->groups, name, len, NULL))
        return -EEXIST;
    g = cg_group_new(name, len, last_id, entries_read);
    if (g == NULL)
        return -ENOMEM;
    rc = rax_try_insert(set->groups, name, len, g, NULL);
    if (rc < 0) {
        cg_group_free(g);
        return rc;
    }
    if (out != NULL)
        *out = g;
    return 0;
}

int
cg_group_del(cg_set *set, const void *name, size_t len)
{
    void *g;

    if (!rax_remove(set->groups, name, len, &g))
        return 0;
    cg_group_free(g);
    return 1;
}

/* ---- Group queries ---- */

const void *
cg_group_name(const cg_group *g, size_t *len)
{
    *len = g->name_len;
    return g->name;
}

stream_id
cg_group_last_id(const cg_group *g)
{
    return g->last_id;
}

int64_t
cg_group_entries_read(const cg_group *g)
{
    return g->entries_read;
}

uint64_t
cg_group_consumer_count(const cg_group *g)
{
    return rax_count(g->consumers);
}

uint64_t
cg_group_pending_count(const cg_group *g)
{
    return rax_count(g->pel);
}

/* ---- Read counters and lag ---- */

static int
cg_id_is_zero(const stream_id *id)
{
    return id->ms == 0 && id->seq == 0;
}

/* The first live ID of s, 0-0 when empty (Redis's recorded first ID). */
static stream_id
cg_first_id(const stream *s)
{
    stream_id first = {0, 0};

    if (!stream_first_entry(s, &first))
        first = (stream_id){0, 0};
    return first;
}

/* 1 when an entry deleted by XDEL may lie at or after *start: Redis only
 * remembers the largest deleted ID, so that is all this can tell. */
static int
cg_tombstones_from(const stream *s, const stream_id *start)
{
    stream_id maxdel = stream_max_deleted_id(s);

    if (stream_len(s) == 0 || cg_id_is_zero(&maxdel))
        return 0;
    return stream_id_cmp(start, &maxdel) <= 0;
}

/*
 * The stream keeps only four facts that matter here: entries added, live
 * length, last ID and the largest deleted ID. The counter of an ID is known
 * when those facts pin it down: the last ID (everything added), an empty
 * stream (everything read), or the first live entry and anything before it
 * when no deletion happened inside the live range (added - length, + 1 for
 * the first entry itself). Anything else could be off by an unknown number
 * of deletions, so it is reported as invalid rather than guessed.
 */
int64_t
cg_estimate_entries_read(const stream *s, const stream_id *id)
{
    uint64_t added = stream_entries_added(s), len = stream_len(s);
    stream_id last = stream_last_id(s), maxdel = stream_max_deleted_id(s), first;
    int cmp_last;

    if (added == 0)
        return 0; /* nothing was ever added: every ID reads 0 */
    if (len == 0 && stream_id_cmp(id, &last) <= 0)
        return (int64_t)added;
    if (!cg_id_is_zero(id) && stream_id_cmp(id, &maxdel) < 0)
        return CG_ENTRIES_READ_INVALID; /* a deleted entry lies after id */
    cmp_last = stream_id_cmp(id, &last);
    if (cmp_last == 0)
        return (int64_t)added;
    if (cmp_last > 0)
        return CG_ENTRIES_READ_INVALID; /* an ID from the future */
    first = cg_first_id(s);
    if (cg_id_is_zero(&maxdel) || stream_id_cmp(&maxdel, &first) < 0) {
        /* No deleted entry inside the stream: the entries before the first
         * one are exactly those trimmed away. */
        int cmp_first = stream_id_cmp(id, &first);

        if (cmp_first < 0)
            return (int64_t)(added - len);
        if (cmp_first == 0)
            return (int64_t)(added - len + 1);
    }
    /* Somewhere inside the stream, or behind a deletion: unknown. */
    return CG_ENTRIES_READ_INVALID;
}

/* The checks run from the cheapest certainty to the estimate, in Redis
 * 7.4's order, so the same state gives the same answer (number or null). */
int
cg_group_lag(const stream *s, const cg_group *g, int64_t *lag)
{
    uint64_t added = stream_entries_added(s), len = stream_len(s);
    stream_id first, maxdel;
    int64_t est;

    if (added == 0 || len == 0) {
        *lag = 0; /* nothing added yet, or everything already gone */
        return 1;
    }
    first = cg_first_id(s);
    maxdel = stream_max_deleted_id(s);
    if (stream_id_cmp(&g->last_id, &first) < 0 && stream_id_cmp(&maxdel, &first) < 0) {
        /* The group is behind every live entry and none was deleted among
         * them: it has all of them to read. */
        *lag = (int64_t)len;
        return 1;
    }
    if (g->entries_read != CG_ENTRIES_READ_INVALID && !cg_tombstones_from(s, &g->last_id)) {
        *lag = (int64_t)added - g->entries_read;
        return 1;
    }
    est = cg_estimate_entries_read(s, &g->last_id);
    if (est == CG_ENTRIES_READ_INVALID)
        return 0;
    *lag = (int64_t)added - est;
    return 1;
}

/* ---- Group mutations ---- */

void
cg_group_set_id(cg_group *g, const stream_id *id, int64_t entries_read)
{
    assert(entries_read >= CG_ENTRIES_READ_INVALID);
    g->last_id = *id;
    g->entries_read = entries_read;
}

int
cg_group_raise_id(cg_group *g, const stream_id *id)
{
    if (stream_id_cmp(id, &g->last_id) <= 0)
        return 0;
    g->last_id = *id;
    return 1;
}

/* Moves the group's last-delivered ID forward to *id (> last_id) and keeps
 * its read counter, as Redis 7.4's streamReplyWithRange does. */
static void
cg_group_advance(const stream *s, cg_group *g, const stream_id *id)
{
    stream_id first = cg_first_id(s);

    if (g->entries_read != CG_ENTRIES_READ_INVALID && stream_id_cmp(&g->last_id, &first) >= 0 &&
        !cg_tombstones_from(s, &g->last_id))
        g->entries_read++; /* a trusted counter and nothing deleted ahead */
    else if (stream_entries_added(s) != 0)
        g->entries_read = cg_estimate_entries_read(s, id);
    g->last_id = *id;
}

/*
 * Redis creates the NACK before knowing whether one exists and fixes up
 * afterwards; here the lookup comes first, so the usual case (a new entry)
 * costs one failed find, one allocation and two inserts, and the rare case
 * (SETID rewound the group) moves the existing entry without allocating.
 */
int
cg_deliver(const stream *s, cg_group *g, cg_consumer *c, const stream_id *id, int noack,
           int64_t now_ms)
{
    unsigned char key[CG_KEY_LEN];
    void *found;
    pel_entry *e;
    int rc;

    if (!noack) {
        cg__key(key, id);
        if (rax_find(g->pel, key, CG_KEY_LEN, &found)) {
            /* Pending already: the group was moved back with SETID. The
             * entry goes to this consumer as a first delivery. */
            e = found;
            rc = cg__pel_move(e, key, c);
            if (rc < 0)
                return rc;
        } else {
            e = CG_MALLOC(sizeof(*e));
            if (e == NULL)
                return -ENOMEM;
            e->owner = c;
            rc = rax_try_insert(g->pel, key, CG_KEY_LEN, e, NULL);
            if (rc < 0) {
                CG_FREE(e);
                return rc;
            }
            rc = rax_try_insert(c->pel, key, CG_KEY_LEN, e, NULL);
            if (rc < 0) {
                rax_remove(g->pel, key, CG_KEY_LEN, NULL);
                CG_FREE(e);
                return rc;
            }
            assert(rc == 1);
        }
        e->delivery_ms = now_ms;
        e->delivery_count = 1;
        c->active_ms = now_ms;
    }
    /* Last, so that a failed insert above changed nothing. */
    if (stream_id_cmp(id, &g->last_id) > 0)
        cg_group_advance(s, g, id);
    return 0;
}

/* ---- Consumers ---- */

cg_consumer *
cg_consumer_find(const cg_group *g, const void *name, size_t len)
{
    void *c;

    if (!rax_find(g->consumers, name, len, &c))
        return NULL;
    return c;
}

int
cg_consumer_add(cg_group *g, const void *name, size_t len, int64_t now_ms, cg_consumer **out)
{
    void *old;
    cg_consumer *c;
    int rc;

    if (rax_find(g->consumers, name, len, &old)) {
        if (out != NULL)
            *out = old;
        return -EEXIST;
    }
    c = cg_consumer_new(name, len, now_ms);
    if (c == NULL)
        return -ENOMEM;
    rc = rax_try_insert(g->consumers, name, len, c, NULL);
    if (rc < 0) {
        cg_consumer_free(c);
        return rc;
    }
    if (out != NULL)
        *out = c;
    return 0;
}

/* Entries leave the group PEL without being acknowledged anywhere else:
 * XGROUP DELCONSUMER drops them, it does not hand them over. */
uint64_t
cg_consumer_del(cg_group *g, cg_consumer *c)
{
    uint64_t pending = rax_count(c->pel);
    rax_iter it;
    int removed;

    /* PEL keys are 16 bytes and the tree is shallow, so this walk never
     * needs memory of its own. */
    rax_iter_start(&it, c->pel);
    rax_seek(&it, "^", NULL, 0);
    while (rax_next(&it)) {
        removed = rax_remove(g->pel, it.key, it.key_len, NULL);
        assert(removed == 1);
        CG_FREE(it.data);
    }
    assert(rax_iter_error(&it) == 0);
    rax_iter_stop(&it);
    removed = rax_remove(g->consumers, c->name, c->name_len, NULL);
    assert(removed == 1);
    (void)removed;
    cg_consumer_free(c);
    return pending;
}

const void *
cg_consumer_name(const cg_consumer *c, size_t *len)
{
    *len = c->name_len;
    return c->name;
}

int64_t
cg_consumer_seen_ms(const cg_consumer *c)
{
    return c->seen_ms;
}

int64_t
cg_consumer_active_ms(const cg_consumer *c)
{
    return c->active_ms;
}

uint64_t
cg_consumer_pending_count(const cg_consumer *c)
{
    return rax_count(c->pel);
}

void
cg_consumer_touch(cg_consumer *c, int64_t now_ms)
{
    c->seen_ms = now_ms;
}

void
cg_consumer_set_times(cg_consumer *c, int64_t seen_ms, int64_t active_ms)
{
    c->seen_ms = seen_ms;
    c->active_ms = active_ms;
}
