/*
 * broker/keyspace/t_hash: hash values in listpack and hashtable encodings
 * (see t_hash.h).
 *
 * Listpack layout: elements alternate field, value, so fields sit at even
 * element indexes and a lookup compares every other element. Hashtable
 * values are ks_hash_val blobs owned by the dict entries and released with
 * ks_hash_val_free. A value is replaced by freeing the old blob and storing
 * a new one, so pointers handed out by find/iter die with the next change,
 * as the header says.
 *
 * Allocation failure aborts (util_malloc, runnel_panic), as for every
 * broker value: no command handler carries an OOM path.
 */
#include "broker/keyspace/t_hash.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "broker/keyspace/listpack.h"
#include "broker/util/mem.h"

/* A hashtable value: length-prefixed, NUL-terminated bytes. */
typedef struct ks_hash_val {
    size_t len;  /* bytes in data, excluding the NUL */
    char data[]; /* value bytes plus a NUL */
} ks_hash_val;

static ks_hash_val *
ks_hash_val_new(const void *p, size_t len)
{
    ks_hash_val *v = util_malloc(sizeof(*v) + len + 1);
    v->len = len;
    if (len)
        memcpy(v->data, p, len);
    v->data[len] = '\0';
    return v;
}

static void
ks_hash_val_free(void *v)
{
    util_free(v);
}

static ks_lp *
ks_hash_lp(const ks_obj *o)
{
    assert(o->type == KS_HASH && o->enc == KS_ENC_LISTPACK);
    return (ks_lp *)o->ptr;
}

static ks_dict *
ks_hash_dict(const ks_obj *o)
{
    assert(o->type == KS_HASH && o->enc == KS_ENC_HASHTABLE);
    return (ks_dict *)o->ptr;
}

/* Adds a pair to a dict that must not hold the field. */
static void
ks_hash_dict_add(ks_dict *d, const void *f, size_t flen, const void *v, size_t vlen)
{
    ks_hash_val *val = ks_hash_val_new(v, vlen);
    if (ks_dict_add(d, f, flen, val) == NULL)
        runnel_panic("out of memory adding a hash field");
}

static ks_dict *
ks_hash_dict_new(void)
{
    ks_dict *d = ks_dict_new();
    if (d == NULL)
        runnel_panic("out of memory creating a hash table");
    return d;
}

/* ------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------ */

ks_obj *
ks_hash_new(void)
{
    ks_obj *o = util_calloc(1, sizeof(*o));
    ks_lp *lp = util_malloc(sizeof(*lp));
    ks_lp_init(lp);
    o->type = KS_HASH;
    o->enc = KS_ENC_LISTPACK;
    o->lru = ks_clock_sec;
    o->ptr = (char *)lp;
    return o;
}

ks_obj *
ks_hash_dup(const ks_obj *o)
{
    ks_obj *c = util_calloc(1, sizeof(*c));
    c->type = KS_HASH;
    c->enc = o->enc;
    c->lru = ks_clock_sec;
    if (o->enc == KS_ENC_LISTPACK) {
        ks_lp *lp = util_malloc(sizeof(*lp));
        ks_lp_copy(lp, ks_hash_lp(o));
        c->ptr = (char *)lp;
    } else {
        ks_dict *src = ks_hash_dict(o), *dst = ks_hash_dict_new();
        ks_dict_iter it;
        ks_dict_entry *e;
        ks_dict_iter_start(&it, src);
        while ((e = ks_dict_iter_next(&it)) != NULL) {
            size_t flen;
            const char *f = ks_dict_entry_key(e, &flen);
            const ks_hash_val *v = ks_dict_entry_val(e);
            ks_hash_dict_add(dst, f, flen, v->data, v->len);
        }
        ks_dict_iter_stop(&it);
        c->ptr = (char *)dst;
    }
    return c;
}

void
ks_hash_fini(ks_obj *o)
{
    if (o->enc == KS_ENC_LISTPACK) {
        ks_lp *lp = ks_hash_lp(o);
        ks_lp_fini(lp);
        util_free(lp);
    } else {
        ks_dict_free(ks_hash_dict(o), ks_hash_val_free);
    }
    o->ptr = NULL;
}

/* ------------------------------------------------------------------------
 * Queries
 * ------------------------------------------------------------------------ */

size_t
ks_hash_count(const ks_obj *o)
{
    if (o->enc == KS_ENC_LISTPACK)
        return ks_hash_lp(o)->count / 2;
    return ks_dict_count(ks_hash_dict(o));
}

/* Position of field f's element in a listpack hash, or KS_LP_NONE. */
static size_t
ks_hash_lp_find(const ks_lp *lp, const void *f, size_t flen)
{
    return ks_lp_find(lp, ks_lp_first(lp), f, flen, 1);
}

int
ks_hash_find(ks_obj *o, const void *f, size_t flen, const char **v, size_t *vlen)
{
    const char *vp;
    size_t vl;
    if (o->enc == KS_ENC_LISTPACK) {
        const ks_lp *lp = ks_hash_lp(o);
        size_t pos = ks_hash_lp_find(lp, f, flen);
        if (pos == KS_LP_NONE)
            return 0;
        vp = ks_lp_get(lp, ks_lp_next(lp, pos), &vl);
    } else {
        ks_dict_entry *e = ks_dict_find(ks_hash_dict(o), f, flen);
        const ks_hash_val *val;
        if (e == NULL)
            return 0;
        val = ks_dict_entry_val(e);
        vp = val->data;
        vl = val->len;
    }
    if (v)
        *v = vp;
    if (vlen)
        *vlen = vl;
    return 1;
}

size_t
ks_hash_mem(const ks_obj *o)
{
    size_t total;
    ks_dict_iter it;
    ks_dict_entry *e;
    if (o->enc == KS_ENC_LISTPACK)
        return sizeof(ks_lp) + ks_lp_mem(ks_hash_lp(o));
    total = ks_dict_mem(ks_hash_dict(o));
    ks_dict_iter_start(&it, ks_hash_dict(o));
    while ((e = ks_dict_iter_next(&it)) != NULL)
        total += sizeof(ks_hash_val) + ((const ks_hash_val *)ks_dict_entry_val(e))->len + 1;
    ks_dict_iter_stop(&it);
    return total;
}

int
ks_hash_check(ks_obj *o)
{
    if (o->type != KS_HASH || o->ptr == NULL)
        return -EINVAL;
    if (o->enc == KS_ENC_LISTPACK) {
        const ks_lp *lp = ks_hash_lp(o);
        if (ks_lp_check(lp) != 0 || lp->count % 2 != 0)
            return -EINVAL;
        for (size_t pos = ks_lp_first(lp); pos != KS_LP_NONE;) {
            size_t flen, next;
            const char *f = ks_lp_get(lp, pos, &flen);
            next = ks_lp_next(lp, ks_lp_next(lp, pos));
            /* No later field may repeat this one. */
            if (next != KS_LP_NONE && ks_lp_find(lp, next, f, flen, 1) != KS_LP_NONE)
                return -EINVAL;
            pos = next;
        }
        return 0;
    }
    if (o->enc == KS_ENC_HASHTABLE) {
        ks_dict_iter it;
        ks_dict_entry *e;
        int rc = ks_dict_check(ks_hash_dict(o));
        ks_dict_iter_start(&it, ks_hash_dict(o));
        while (rc == 0 && (e = ks_dict_iter_next(&it)) != NULL) {
            if (ks_dict_entry_val(e) == NULL)
                rc = -EINVAL;
        }
        ks_dict_iter_stop(&it);
        return rc;
    }
    return -EINVAL;
}

/* ------------------------------------------------------------------------
 * Mutations
 * ------------------------------------------------------------------------ */

void
ks_hash_convert(ks_obj *o)
{
    ks_lp *lp;
    ks_dict *d;
    if (o->enc != KS_ENC_LISTPACK)
        return;
    lp = ks_hash_lp(o);
    d = ks_hash_dict_new();
    for (size_t pos = ks_lp_first(lp); pos != KS_LP_NONE;) {
        size_t flen, vlen, vpos = ks_lp_next(lp, pos);
        const char *f = ks_lp_get(lp, pos, &flen);
        const char *v = ks_lp_get(lp, vpos, &vlen);
        ks_hash_dict_add(d, f, flen, v, vlen);
        pos = ks_lp_next(lp, vpos);
    }
    ks_lp_fini(lp);
    util_free(lp);
    o->ptr = (char *)d;
    o->enc = KS_ENC_HASHTABLE;
}

int
ks_hash_set(ks_obj *o, const void *f, size_t flen, const void *v, size_t vlen,
            const ks_hash_limits *lim)
{
    int added;
    if (o->enc == KS_ENC_LISTPACK) {
        const ks_lp *lp = ks_hash_lp(o);
        /* Too long for a listpack: convert before storing, so the long
         * element never enters the packed buffer. */
        if (flen > lim->max_value || vlen > lim->max_value ||
            lp->len + flen + vlen > KS_HASH_LP_SAFE_BYTES)
            ks_hash_convert(o);
    }
    if (o->enc == KS_ENC_LISTPACK) {
        ks_lp *lp = ks_hash_lp(o);
        size_t pos = ks_hash_lp_find(lp, f, flen);
        if (pos != KS_LP_NONE) {
            ks_lp_replace(lp, ks_lp_next(lp, pos), v, vlen);
            added = 0;
        } else {
            ks_lp_append(lp, f, flen);
            ks_lp_append(lp, v, vlen);
            added = 1;
        }
        if (lp->count / 2 > lim->max_entries)
            ks_hash_convert(o);
    } else {
        int existed;
        ks_dict_entry *e = ks_dict_add_or_find(ks_hash_dict(o), f, flen, &existed);
        if (e == NULL)
            runnel_panic("out of memory adding a hash field");
        if (existed)
            ks_hash_val_free(ks_dict_entry_val(e));
        ks_dict_entry_set_val(e, ks_hash_val_new(v, vlen));
        added = !existed;
    }
    return added;
}

int
ks_hash_del(ks_obj *o, const void *f, size_t flen)
{
    if (o->enc == KS_ENC_LISTPACK) {
        ks_lp *lp = ks_hash_lp(o);
        size_t pos = ks_hash_lp_find(lp, f, flen);
        if (pos == KS_LP_NONE)
            return 0;
        ks_lp_delete(lp, pos, 2);
        return 1;
    }
    return ks_dict_del(ks_hash_dict(o), f, flen, ks_hash_val_free) == 0;
}

/* ------------------------------------------------------------------------
 * Traversal
 * ------------------------------------------------------------------------ */

void
ks_hash_iter_start(ks_hash_iter *it, ks_obj *o)
{
    it->o = o;
    if (o->enc == KS_ENC_LISTPACK)
        it->pos = ks_lp_first(ks_hash_lp(o));
    else
        ks_dict_iter_start(&it->di, ks_hash_dict(o));
}

int
ks_hash_iter_next(ks_hash_iter *it, const char **f, size_t *flen, const char **v, size_t *vlen)
{
    if (it->o->enc == KS_ENC_LISTPACK) {
        const ks_lp *lp = ks_hash_lp(it->o);
        size_t vpos;
        if (it->pos == KS_LP_NONE)
            return 0;
        vpos = ks_lp_next(lp, it->pos);
        *f = ks_lp_get(lp, it->pos, flen);
        *v = ks_lp_get(lp, vpos, vlen);
        it->pos = ks_lp_next(lp, vpos);
        return 1;
    } else {
        ks_dict_entry *e = ks_dict_iter_next(&it->di);
        const ks_hash_val *val;
        if (e == NULL)
            return 0;
        *f = ks_dict_entry_key(e, flen);
        val = ks_dict_entry_val(e);
        *v = val->data;
        *vlen = val->len;
        return 1;
    }
}

void
ks_hash_iter_stop(ks_hash_iter *it)
{
    if (it->o->enc == KS_ENC_HASHTABLE)
        ks_dict_iter_stop(&it->di);
}

void
ks_hash_random(ks_obj *o, uint64_t (*rnd)(void), const char **f, size_t *flen, const char **v,
               size_t *vlen)
{
    assert(ks_hash_count(o) > 0);
    if (o->enc == KS_ENC_LISTPACK) {
        const ks_lp *lp = ks_hash_lp(o);
        size_t pair = (size_t)(rnd() % (lp->count / 2));
        size_t pos = ks_lp_index(lp, (long long)(pair * 2));
        *f = ks_lp_get(lp, pos, flen);
        *v = ks_lp_get(lp, ks_lp_next(lp, pos), vlen);
    } else {
        ks_dict_entry *e = ks_dict_random(ks_hash_dict(o), rnd);
        const ks_hash_val *val = ks_dict_entry_val(e);
        *f = ks_dict_entry_key(e, flen);
        *v = val->data;
        *vlen = val->len;
    }
}

/* Adapter from ks_dict_scan's callback to a pair callback. */
typedef struct ks_hash_scan_ctx {
    ks_hash_scan_fn fn; /* caller's callback */
    void *priv;         /* caller's argument */
} ks_hash_scan_ctx;

static void
ks_hash_scan_entry(void *priv, const ks_dict_entry *e)
{
    const ks_hash_scan_ctx *sc = priv;
    const ks_hash_val *val = ks_dict_entry_val(e);
    size_t flen;
    const char *f = ks_dict_entry_key(e, &flen);
    sc->fn(sc->priv, f, flen, val->data, val->len);
}

uint64_t
ks_hash_scan(ks_obj *o, uint64_t cursor, ks_hash_scan_fn fn, void *priv)
{
    if (o->enc == KS_ENC_LISTPACK) {
        ks_hash_iter it;
        const char *f, *v;
        size_t flen, vlen;
        ks_hash_iter_start(&it, o);
        while (ks_hash_iter_next(&it, &f, &flen, &v, &vlen))
            fn(priv, f, flen, v, vlen);
        ks_hash_iter_stop(&it);
        return 0;
    } else {
        ks_hash_scan_ctx sc = {fn, priv};
        return ks_dict_scan(ks_hash_dict(o), cursor, ks_hash_scan_entry, &sc);
    }
}
