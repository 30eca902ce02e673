/*
 * broker/keyspace/t_set: set values in intset and hashtable encodings
 * (see t_set.h).
 *
 * The intset is one allocation: a small header then count members of
 * width bytes each, ascending. Adding a member that does not fit the
 * width rewrites every member wider, back to front so nothing is
 * overwritten before it is read; such a member is below or above all
 * others, so it goes at one end. Hashtable members are dict keys with a
 * NULL value.
 *
 * Allocation failure aborts (util_malloc, runnel_panic), as for every
 * broker value: no command handler carries an OOM path.
 */
#include "broker/keyspace/t_set.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "broker/util/mem.h"
#include "broker/util/num.h"

/* The intset payload. */
typedef struct ks_intset {
    uint32_t width;       /* bytes per member: 2, 4 or 8 */
    uint32_t count;       /* members held */
    size_t cap;           /* members that fit in data before a realloc */
    unsigned char data[]; /* count members, native byte order, ascending */
} ks_intset;

/* The intset payload of o (asserts the encoding). */
static ks_intset *
ks_set_is(const ks_obj *o)
{
    assert(o->type == KS_SET && o->enc == KS_ENC_INTSET);
    return (ks_intset *)o->ptr;
}

/* The dict payload of o (asserts the encoding). */
static ks_dict *
ks_set_dict(const ks_obj *o)
{
    assert(o->type == KS_SET && o->enc == KS_ENC_HASHTABLE);
    return (ks_dict *)o->ptr;
}

/* Smallest width that holds v. */
static uint32_t
ks_set_width_of(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX)
        return 2;
    if (v >= INT32_MIN && v <= INT32_MAX)
        return 4;
    return 8;
}

/* Member i, sign-extended. memcpy reads the bytes without type-punning the
 * byte array (strict aliasing); compilers turn it into one load. */
static int64_t
ks_set_is_get(const ks_intset *is, size_t i)
{
    const unsigned char *p = is->data + i * is->width;
    if (is->width == 2) {
        int16_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    if (is->width == 4) {
        int32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    int64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Stores v as member i at the current width (v must fit it). */
static void
ks_set_is_put(ks_intset *is, size_t i, int64_t v)
{
    unsigned char *p = is->data + i * is->width;
    if (is->width == 2) {
        int16_t x = (int16_t)v;
        memcpy(p, &x, sizeof(x));
    } else if (is->width == 4) {
        int32_t x = (int32_t)v;
        memcpy(p, &x, sizeof(x));
    } else {
        memcpy(p, &v, sizeof(v));
    }
}

/* Binary search: returns 1 and the index of v, or 0 and where it goes. */
static int
ks_set_is_search(const ks_intset *is, int64_t v, size_t *pos)
{
    size_t lo = 0, hi = is->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t cur = ks_set_is_get(is, mid);
        if (cur == v) {
            *pos = mid;
            return 1;
        }
        if (cur < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

/* An empty 16-bit intset with room for cap members. */
static ks_intset *
ks_set_is_new(size_t cap)
{
    ks_intset *is = util_malloc(sizeof(*is) + cap * 2);
    is->width = 2;
    is->count = 0;
    is->cap = cap;
    return is;
}

/* Makes room for one more member at the given width; returns the
 * (possibly moved) intset. Widening rewrites members back to front. */
static ks_intset *
ks_set_is_grow(ks_intset *is, uint32_t width)
{
    size_t need = (size_t)is->count + 1;
    if (need > is->cap || width > is->width) {
        size_t cap = need > is->cap ? need * 2 : is->cap;
        size_t w = width > is->width ? width : is->width;
        is = util_realloc(is, sizeof(*is) + cap * w);
        is->cap = cap;
    }
    if (width > is->width) {
        uint32_t old = is->width;
        for (size_t i = is->count; i-- > 0;) {
            int64_t v;
            is->width = old;
            v = ks_set_is_get(is, i);
            is->width = width;
            ks_set_is_put(is, i, v);
        }
        is->width = width;
    }
    return is;
}

/* Adds v; returns 1 when added, 0 when present. */
static int
ks_set_is_add(ks_obj *o, int64_t v)
{
    ks_intset *is = ks_set_is(o);
    uint32_t w = ks_set_width_of(v);
    size_t pos;
    if (w > is->width) {
        /* v is outside the range of every member: it goes at one end. */
        is = ks_set_is_grow(is, w);
        pos = v < 0 ? 0 : is->count;
    } else {
        if (ks_set_is_search(is, v, &pos))
            return 0;
        is = ks_set_is_grow(is, is->width);
    }
    memmove(is->data + (pos + 1) * is->width, is->data + pos * is->width,
            (is->count - pos) * is->width);
    ks_set_is_put(is, pos, v);
    is->count++;
    o->ptr = (char *)is;
    return 1;
}

/* 1 when m[0..len) is a canonical integer, with the value in *v. Only
 * canonical text may go into an intset, since members come back out
 * formatted: "007" or "-0" must stay the bytes the client sent, so they
 * force a hashtable, as Redis's string2ll test does. */
static int
ks_set_as_int(const void *m, size_t len, int64_t *v)
{
    long long ll;
    if (len > 20 || !util_str2ll(m, len, &ll))
        return 0;
    *v = (int64_t)ll;
    return 1;
}

/* A set object header around payload (owned) with encoding enc. */
static ks_obj *
ks_set_obj(uint8_t enc, void *payload)
{
    ks_obj *o = util_calloc(1, sizeof(*o));
    o->type = KS_SET;
    o->enc = enc;
    o->lru = ks_clock_sec;
    o->ptr = payload;
    return o;
}

/* A new member dict; out of memory is fatal, as for every value. */
static ks_dict *
ks_set_dict_new(void)
{
    ks_dict *d = ks_dict_new();
    if (d == NULL)
        runnel_panic("out of memory creating a set");
    return d;
}

ks_obj *
ks_set_new_intset(void)
{
    return ks_set_obj(KS_ENC_INTSET, ks_set_is_new(4));
}

ks_obj *
ks_set_new_for(const void *m, size_t len)
{
    int64_t v;
    if (ks_set_as_int(m, len, &v))
        return ks_set_new_intset();
    return ks_set_obj(KS_ENC_HASHTABLE, ks_set_dict_new());
}

ks_obj *
ks_set_dup(const ks_obj *o)
{
    if (o->enc == KS_ENC_INTSET) {
        const ks_intset *is = ks_set_is(o);
        ks_intset *c = util_malloc(sizeof(*c) + (size_t)is->count * is->width);
        memcpy(c, is, sizeof(*c) + (size_t)is->count * is->width);
        c->cap = is->count;
        return ks_set_obj(KS_ENC_INTSET, c);
    }
    ks_obj *c = ks_set_obj(KS_ENC_HASHTABLE, ks_set_dict_new());
    ks_set_iter it;
    const char *m;
    size_t len;
    ks_set_iter_start(&it, (ks_obj *)o);
    while (ks_set_iter_next(&it, &m, &len))
        if (ks_dict_add((ks_dict *)c->ptr, m, len, NULL) == NULL)
            runnel_panic("out of memory copying a set");
    ks_set_iter_stop(&it);
    return c;
}

void
ks_set_fini(ks_obj *o)
{
    if (o->enc == KS_ENC_INTSET)
        util_free(o->ptr);
    else
        ks_dict_free(ks_set_dict(o), NULL);
    o->ptr = NULL;
}

size_t
ks_set_count(const ks_obj *o)
{
    if (o->enc == KS_ENC_INTSET)
        return ks_set_is(o)->count;
    return ks_dict_count(ks_set_dict(o));
}

int
ks_set_contains(ks_obj *o, const void *m, size_t len)
{
    if (o->enc == KS_ENC_INTSET) {
        int64_t v;
        size_t pos;
        return ks_set_as_int(m, len, &v) && ks_set_is_search(ks_set_is(o), v, &pos);
    }
    return ks_dict_find(ks_set_dict(o), m, len) != NULL;
}

size_t
ks_set_mem(const ks_obj *o)
{
    if (o->enc == KS_ENC_INTSET) {
        const ks_intset *is = ks_set_is(o);
        return sizeof(*is) + is->cap * is->width;
    }
    return ks_dict_mem(ks_set_dict(o));
}

int
ks_set_intset_width(const ks_obj *o)
{
    return o->enc == KS_ENC_INTSET ? (int)ks_set_is(o)->width : 0;
}

int
ks_set_check(ks_obj *o)
{
    if (o->type != KS_SET)
        return -EINVAL;
    if (o->enc == KS_ENC_INTSET) {
        const ks_intset *is = ks_set_is(o);
        uint32_t widest = 2;
        if (is->width != 2 && is->width != 4 && is->width != 8)
            return -EINVAL;
        if (is->count > is->cap)
            return -EINVAL;
        for (size_t i = 0; i < is->count; i++) {
            int64_t v = ks_set_is_get(is, i);
            if (ks_set_width_of(v) > widest)
                widest = ks_set_width_of(v);
            if (i > 0 && ks_set_is_get(is, i - 1) >= v)
                return -EINVAL;
        }
        /* An intset only widens on demand, and never narrows on removal,
         * so the width is at least what the members need. */
        return widest <= is->width ? 0 : -EINVAL;
    }
    if (o->enc != KS_ENC_HASHTABLE)
        return -EINVAL;
    return ks_dict_check(ks_set_dict(o));
}

void
ks_set_convert(ks_obj *o)
{
    ks_intset *is;
    ks_dict *d;
    char buf[KS_SET_NUM_BUF];
    if (o->enc != KS_ENC_INTSET)
        return;
    is = ks_set_is(o);
    d = ks_set_dict_new();
    for (size_t i = 0; i < is->count; i++) {
        size_t n = util_ll2str(buf, (long long)ks_set_is_get(is, i));
        if (ks_dict_add(d, buf, n, NULL) == NULL)
            runnel_panic("out of memory converting a set");
    }
    util_free(is);
    o->ptr = (char *)d;
    o->enc = KS_ENC_HASHTABLE;
}

int
ks_set_add(ks_obj *o, const void *m, size_t len, size_t max_intset)
{
    int existed;
    if (o->enc == KS_ENC_INTSET) {
        int64_t v;
        if (ks_set_as_int(m, len, &v)) {
            if (!ks_set_is_add(o, v))
                return 0;
            /* Redis 7.0 converts once the count passes the limit. */
            if (ks_set_is(o)->count > max_intset)
                ks_set_convert(o);
            return 1;
        }
        ks_set_convert(o);
    }
    /* One probe both tests and inserts. */
    if (ks_dict_add_or_find(ks_set_dict(o), m, len, &existed) == NULL)
        runnel_panic("out of memory adding a set member");
    return !existed;
}

int
ks_set_del(ks_obj *o, const void *m, size_t len)
{
    if (o->enc == KS_ENC_INTSET) {
        ks_intset *is = ks_set_is(o);
        int64_t v;
        size_t pos;
        if (!ks_set_as_int(m, len, &v) || !ks_set_is_search(is, v, &pos))
            return 0;
        /* Close the gap; the width stays, as Redis never narrows. */
        memmove(is->data + pos * is->width, is->data + (pos + 1) * is->width,
                (is->count - pos - 1) * is->width);
        is->count--;
        return 1;
    }
    return ks_dict_del(ks_set_dict(o), m, len, NULL) == 0;
}

void
ks_set_random(ks_obj *o, uint64_t (*rnd)(void), char *buf, const char **m, size_t *len)
{
    assert(ks_set_count(o) > 0);
    if (o->enc == KS_ENC_INTSET) {
        const ks_intset *is = ks_set_is(o);
        int64_t v = ks_set_is_get(is, (size_t)(rnd() % is->count));
        *len = util_ll2str(buf, (long long)v);
        *m = buf;
    } else {
        ks_dict_entry *e = ks_dict_random(ks_set_dict(o), rnd);
        *m = ks_dict_entry_key(e, len);
    }
}

void
ks_set_iter_start(ks_set_iter *it, ks_obj *o)
{
    it->o = o;
    it->pos = 0;
    if (o->enc == KS_ENC_HASHTABLE)
        ks_dict_iter_start(&it->di, ks_set_dict(o));
}

int
ks_set_iter_next(ks_set_iter *it, const char **m, size_t *len)
{
    if (it->o->enc == KS_ENC_INTSET) {
        const ks_intset *is = ks_set_is(it->o);
        if (it->pos >= is->count)
            return 0;
        *len = util_ll2str(it->buf, (long long)ks_set_is_get(is, it->pos++));
        *m = it->buf;
        return 1;
    }
    ks_dict_entry *e = ks_dict_iter_next(&it->di);
    if (e == NULL)
        return 0;
    *m = ks_dict_entry_key(e, len);
    return 1;
}

void
ks_set_iter_stop(ks_set_iter *it)
{
    if (it->o->enc == KS_ENC_HASHTABLE)
        ks_dict_iter_stop(&it->di);
}

/* Adapter from ks_dict_scan's callback to a member callback. */
typedef struct ks_set_scan_ctx {
    ks_set_scan_fn fn; /* caller's callback */
    void *priv;        /* caller's argument */
} ks_set_scan_ctx;

static void
ks_set_scan_entry(void *priv, const ks_dict_entry *e)
{
    const ks_set_scan_ctx *sc = priv;
    size_t len;
    const char *m = ks_dict_entry_key(e, &len);
    sc->fn(sc->priv, m, len);
}

uint64_t
ks_set_scan(ks_obj *o, uint64_t cursor, ks_set_scan_fn fn, void *priv)
{
    if (o->enc == KS_ENC_INTSET) {
        ks_set_iter it;
        const char *m;
        size_t len;
        ks_set_iter_start(&it, o);
        while (ks_set_iter_next(&it, &m, &len))
            fn(priv, m, len);
        ks_set_iter_stop(&it);
        return 0;
    }
    ks_set_scan_ctx sc = {fn, priv};
    return ks_dict_scan(ks_set_dict(o), cursor, ks_set_scan_entry, &sc);
}
