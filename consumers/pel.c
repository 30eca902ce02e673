/*
 * pel.c - pending-entry lists (see pel.h): acknowledgement, walks, claims
 * and automatic claims, and the checker of the two-tree invariant.
 *
 * An entry changes owner by being inserted in the new owner's tree before it
 * leaves the old one (cg__pel_move), so a failed allocation never strands it;
 * removal never fails. Claims test each ID against the stream itself, since
 * XDEL and XTRIM leave pending entries behind on purpose (Redis 7 drops them
 * only when a claim finds them gone). Hot path: pel_ack. Not here: delivery
 * of new entries (cg_deliver in cg.c).
 */
#include "consumers/cg_int.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

/* ---- Entries ---- */

int64_t
pel_entry_delivery_ms(const pel_entry *e)
{
    return e->delivery_ms;
}

uint64_t
pel_entry_delivery_count(const pel_entry *e)
{
    return e->delivery_count;
}

cg_consumer *
pel_entry_owner(const pel_entry *e)
{
    return e->owner;
}

/* ---- Queries ---- */

pel_entry *
pel_find(const cg_group *g, const stream_id *id)
{
    unsigned char key[CG_KEY_LEN];
    void *e;

    cg__key(key, id);
    if (!rax_find(g->pel, key, CG_KEY_LEN, &e))
        return NULL;
    return e;
}

int
pel_edge(const cg_group *g, int last, stream_id *out)
{
    rax_iter it;
    int found;

    rax_iter_start(&it, g->pel);
    rax_seek(&it, last ? "$" : "^", NULL, 0);
    found = last ? rax_prev(&it) : rax_next(&it);
    if (found)
        *out = cg__key_id(it.key);
    rax_iter_stop(&it);
    return found;
}

/* A range walk over [id, id] skips deleted entries, which is exactly the
 * "still in the stream" test claims need; it costs a seek and one block. */
int
pel_stream_has(stream *s, const stream_id *id)
{
    stream_iter it;
    stream_id got;
    size_t npairs;
    int found;

    stream_iter_start(&it, s, id, id, 0);
    found = stream_iter_next(&it, &got, &npairs);
    stream_iter_stop(&it);
    return found;
}

/* Checks one consumer of g against the group PEL; adds its PEL size to
 * *total. */
static int
pel_check_consumer(const cg_group *g, const unsigned char *key, size_t klen, const cg_consumer *c,
                   uint64_t *total)
{
    rax_iter it;
    int rc = 0;

    if (c == NULL || c->name_len != klen || memcmp(c->name, key, klen) != 0 ||
        rax_check(c->pel) != 0)
        return -EINVAL;
    rax_iter_start(&it, c->pel);
    rax_seek(&it, "^", NULL, 0);
    while (rc == 0 && rax_next(&it)) {
        void *e;

        if (it.key_len != CG_KEY_LEN || !rax_find(g->pel, it.key, it.key_len, &e) || e != it.data ||
            e == NULL || ((pel_entry *)e)->owner != c)
            rc = -EINVAL;
    }
    rax_iter_stop(&it);
    *total += rax_count(c->pel);
    return rc;
}

/* Two passes, one from each side, catch an entry missing from either
 * tree; the size check then rules out an entry held twice. */
int
pel_check(const cg_group *g)
{
    rax_iter it;
    uint64_t total = 0;
    int rc;

    if (g->entries_read < CG_ENTRIES_READ_INVALID || rax_check(g->pel) != 0 ||
        rax_check(g->consumers) != 0)
        return -EINVAL;
    /* Every consumer PEL entry is the group's entry and names that
     * consumer... */
    rc = 0;
    rax_iter_start(&it, g->consumers);
    rax_seek(&it, "^", NULL, 0);
    while (rc == 0 && rax_next(&it))
        rc = pel_check_consumer(g, it.key, it.key_len, it.data, &total);
    rax_iter_stop(&it);
    /* ...and every group entry has an owner of this group that holds it. */
    rax_iter_start(&it, g->pel);
    rax_seek(&it, "^", NULL, 0);
    while (rc == 0 && rax_next(&it)) {
        const pel_entry *e = it.data;
        void *c, *mine;

        if (it.key_len != CG_KEY_LEN || e == NULL || e->owner == NULL ||
            !rax_find(g->consumers, e->owner->name, e->owner->name_len, &c) || c != e->owner ||
            !rax_find(e->owner->pel, it.key, it.key_len, &mine) || mine != e)
            rc = -EINVAL;
    }
    rax_iter_stop(&it);
    if (rc == 0 && total != rax_count(g->pel))
        rc = -EINVAL; /* an entry held by two consumers, or by none */
    return rc;
}

/* ---- Walks ---- */

int
pel_iter_start(pel_iter *it, const cg_group *g, const cg_consumer *c, const stream_id *start)
{
    unsigned char key[CG_KEY_LEN];

    rax_iter_start(&it->ri, c != NULL ? c->pel : g->pel);
    if (start == NULL)
        return rax_seek(&it->ri, "^", NULL, 0);
    cg__key(key, start);
    return rax_seek(&it->ri, ">=", key, CG_KEY_LEN);
}

int
pel_iter_next(pel_iter *it, stream_id *id, pel_entry **e)
{
    if (!rax_next(&it->ri))
        return 0;
    *id = cg__key_id(it->ri.key);
    *e = it->ri.data;
    return 1;
}

void
pel_iter_stop(pel_iter *it)
{
    rax_iter_stop(&it->ri);
}

/* ---- Mutations ---- */

/* The group PEL is the index: its entry names the consumer, so one lookup
 * finds both trees, as Redis's shared NACK does. */
int
pel_ack(cg_group *g, const stream_id *id)
{
    unsigned char key[CG_KEY_LEN];
    void *e;

    cg__key(key, id);
    if (!rax_find(g->pel, key, CG_KEY_LEN, &e))
        return 0;
    cg__pel_drop(g, key, e);
    return 1;
}

void
pel_redeliver(pel_entry *e, int64_t now_ms)
{
    e->delivery_ms = now_ms;
    e->delivery_count++;
}

/* Creates the entry key for c with a first delivery at now_ms (XCLAIM
 * FORCE). 0 or -ENOMEM with nothing changed. */
static int
pel_create(cg_group *g, cg_consumer *c, const unsigned char *key, int64_t now_ms, pel_entry **out)
{
    pel_entry *e = CG_MALLOC(sizeof(*e));
    int rc;

    if (e == NULL)
        return -ENOMEM;
    e->delivery_ms = now_ms;
    e->delivery_count = 1;
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
    *out = e;
    return 0;
}

/* Snapshot load: pel_create with the saved time and count, refusing an ID
 * that is already pending (a corrupt file, since the trees are sets). */
int
pel_restore(cg_group *g, cg_consumer *c, const stream_id *id, int64_t delivery_ms,
            uint64_t delivery_count)
{
    unsigned char key[CG_KEY_LEN];
    pel_entry *e;
    int rc;

    cg__key(key, id);
    if (rax_find(g->pel, key, CG_KEY_LEN, NULL))
        return -EEXIST;
    rc = pel_create(g, c, key, delivery_ms, &e);
    if (rc < 0)
        return rc;
    e->delivery_count = delivery_count;
    return 0;
}

/*
 * The order of the tests is Redis 7.4's xclaimCommand: existence in the
 * stream first (so a deleted entry is dropped even when it would not pass
 * min-idle), then FORCE, then min-idle. Every change to the entry happens
 * after the only step that can fail (the move into c's tree).
 */
int
pel_claim(stream *s, cg_group *g, cg_consumer *c, const stream_id *id, const pel_claim_opts *o,
          int64_t now_ms)
{
    unsigned char key[CG_KEY_LEN];
    void *found;
    pel_entry *e = NULL;
    int created = 0, rc;
    int64_t when = o->delivery_ms;

    cg__key(key, id);
    if (rax_find(g->pel, key, CG_KEY_LEN, &found))
        e = found;
    if (!pel_stream_has(s, id)) {
        /* Gone from the stream (XDEL, XTRIM): nothing left to hand over. */
        if (e == NULL)
            return PEL_CLAIM_SKIPPED;
        cg__pel_drop(g, key, e);
        return PEL_CLAIM_DROPPED;
    }
    if (e == NULL) {
        if (!o->force)
            return PEL_CLAIM_SKIPPED;
        rc = pel_create(g, c, key, now_ms, &e);
        if (rc < 0)
            return rc;
        created = 1;
    }
    /* An entry FORCE just made has no history: min-idle does not apply. */
    if (!created && o->min_idle > 0 && now_ms - e->delivery_ms < o->min_idle)
        return PEL_CLAIM_SKIPPED;
    rc = cg__pel_move(e, key, c);
    if (rc < 0)
        return rc; /* created entries are c's already, so never here */
    /* A time before the epoch or in the future means "now", as in Redis:
     * clients compute TIME from their own, maybe skewed, clocks. */
    e->delivery_ms = when < 0 || when > now_ms ? now_ms : when;
    if (o->retrycount >= 0)
        e->delivery_count = (uint64_t)o->retrycount;
    else if (!o->justid)
        e->delivery_count++;
    c->active_ms = now_ms;
    return PEL_CLAIM_CLAIMED;
}

/*
 * One walk of the group PEL. Moving an entry between consumers changes
 * only consumer trees, so the walk survives it; dropping an entry changes
 * the group tree itself, so the walk seeks again to the dropped key, which
 * lands on the entry after it. The attempts bound (10 per COUNT) keeps a
 * PEL full of recent entries from being scanned end to end.
 */
int
pel_autoclaim(stream *s, cg_group *g, cg_consumer *c, const stream_id *start, int64_t min_idle,
              uint64_t count, int justid, int64_t now_ms, stream_id *claimed, size_t *nclaimed,
              stream_id *deleted, size_t *ndeleted, stream_id *next)
{
    unsigned char key[CG_KEY_LEN];
    uint64_t attempts = count * 10; /* entries looked at, claimed or not */
    rax_iter it;
    int rc = 0;

    *nclaimed = *ndeleted = 0;
    cg__key(key, start);
    rax_iter_start(&it, g->pel);
    rax_seek(&it, ">=", key, CG_KEY_LEN);
    while (attempts-- > 0 && count > 0 && rax_next(&it)) {
        pel_entry *e = it.data;
        stream_id id = cg__key_id(it.key);

        memcpy(key, it.key, CG_KEY_LEN);
        if (!pel_stream_has(s, &id)) {
            /* Dropped entries count against COUNT too (Redis 7.4). */
            cg__pel_drop(g, key, e);
            deleted[(*ndeleted)++] = id;
            rax_seek(&it, ">=", key, CG_KEY_LEN);
            count--;
            continue;
        }
        if (min_idle > 0 && now_ms - e->delivery_ms < min_idle)
            continue;
        rc = cg__pel_move(e, key, c);
        if (rc < 0)
            break;
        e->delivery_ms = now_ms;
        if (!justid)
            e->delivery_count++;
        claimed[(*nclaimed)++] = id;
        count--;
        c->active_ms = now_ms;
    }
    /* The cursor is the entry after the last one looked at. */
    if (rc == 0 && rax_next(&it))
        *next = cg__key_id(it.key);
    else
        *next = (stream_id){0, 0};
    if (rc == 0)
        rc = rax_iter_error(&it);
    rax_iter_stop(&it);
    return rc;
}
