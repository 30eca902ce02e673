/*
 * broker/keyspace/listpack: packed list of byte strings (see listpack.h).
 *
 * Varints are LEB128: 7 bits per byte, low group first, high bit set on
 * every byte but the last. The back length uses the same bytes in reverse
 * order, so reading right to left from an element's end yields the low
 * group first and the last byte read (the leftmost) has its high bit clear.
 * The buffer grows geometrically and shrinks only when it is mostly empty,
 * so repeated set/delete on a small collection does not reallocate.
 */
#include "broker/keyspace/listpack.h"

#include <errno.h>
#include <string.h>

#include "broker/util/mem.h"

/* Largest LEB128 encoding of a size_t. */
#define KS_LP_VARINT_MAX 10

/* Writes v as LEB128 into out; returns the bytes used. */
static size_t
ks_lp_varint_put(unsigned char *out, size_t v)
{
    size_t n = 0;
    do {
        unsigned char b = (unsigned char)(v & 0x7f);
        v >>= 7;
        out[n++] = (unsigned char)(v ? (b | 0x80) : b);
    } while (v);
    return n;
}

/* Bytes the LEB128 encoding of v takes. */
static size_t
ks_lp_varint_size(size_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

/* Reads a LEB128 varint at p; *n gets the bytes it took. */
static size_t
ks_lp_varint_get(const unsigned char *p, size_t *n)
{
    size_t v = 0;
    unsigned shift = 0;
    size_t i = 0;
    for (;;) {
        unsigned char b = p[i++];
        v |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *n = i;
    return v;
}

/* Reads the reversed varint that ends just before end (exclusive); *n gets
 * the bytes it took. */
static size_t
ks_lp_back_get(const unsigned char *end, size_t *n)
{
    size_t v = 0;
    unsigned shift = 0;
    size_t i = 0;
    for (;;) {
        unsigned char b = *(end - 1 - i);
        i++;
        v |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *n = i;
    return v;
}

/* Total bytes of an element holding len data bytes. */
static size_t
ks_lp_elem_size(size_t len)
{
    size_t body = ks_lp_varint_size(len) + len;
    return body + ks_lp_varint_size(body);
}

/* Encodes an element for s[0..len) at out (room for ks_lp_elem_size). */
static void
ks_lp_elem_write(unsigned char *out, const void *s, size_t len)
{
    unsigned char tmp[KS_LP_VARINT_MAX];
    size_t h = ks_lp_varint_put(out, len);
    size_t body = h + len, b;
    if (len)
        memcpy(out + h, s, len);
    b = ks_lp_varint_put(tmp, body);
    for (size_t i = 0; i < b; i++)
        out[body + i] = tmp[b - 1 - i];
}

/* Bytes taken by the element at pos. */
static size_t
ks_lp_elem_at_size(const ks_lp *lp, size_t pos)
{
    size_t h, len = ks_lp_varint_get(lp->buf + pos, &h);
    return h + len + ks_lp_varint_size(h + len);
}

/* Makes room for need more bytes. */
static void
ks_lp_reserve(ks_lp *lp, size_t need)
{
    size_t want = lp->len + need, cap;
    if (want <= lp->cap)
        return;
    cap = lp->cap ? lp->cap : 32;
    while (cap < want)
        cap = cap < 1024 * 1024 ? cap * 2 : cap + 1024 * 1024;
    lp->buf = util_realloc(lp->buf, cap);
    lp->cap = cap;
}

/* Gives memory back once less than a quarter of the buffer is used. */
static void
ks_lp_shrink(ks_lp *lp)
{
    if (lp->len == 0) {
        util_free(lp->buf);
        lp->buf = NULL;
        lp->cap = 0;
    } else if (lp->cap > 128 && lp->len < lp->cap / 4) {
        lp->buf = util_realloc(lp->buf, lp->cap / 2);
        lp->cap /= 2;
    }
}

void
ks_lp_init(ks_lp *lp)
{
    lp->buf = NULL;
    lp->len = 0;
    lp->cap = 0;
    lp->count = 0;
}

void
ks_lp_fini(ks_lp *lp)
{
    util_free(lp->buf);
    ks_lp_init(lp);
}

void
ks_lp_copy(ks_lp *dst, const ks_lp *src)
{
    ks_lp_init(dst);
    if (src->len == 0)
        return;
    dst->buf = util_malloc(src->len);
    memcpy(dst->buf, src->buf, src->len);
    dst->len = dst->cap = src->len;
    dst->count = src->count;
}

size_t
ks_lp_first(const ks_lp *lp)
{
    return lp->len ? 0 : KS_LP_NONE;
}

size_t
ks_lp_last(const ks_lp *lp)
{
    size_t b, body;
    if (lp->len == 0)
        return KS_LP_NONE;
    body = ks_lp_back_get(lp->buf + lp->len, &b);
    return lp->len - b - body;
}

size_t
ks_lp_next(const ks_lp *lp, size_t pos)
{
    size_t next = pos + ks_lp_elem_at_size(lp, pos);
    return next < lp->len ? next : KS_LP_NONE;
}

size_t
ks_lp_prev(const ks_lp *lp, size_t pos)
{
    size_t n, body;
    if (pos == 0)
        return KS_LP_NONE;
    body = ks_lp_back_get(lp->buf + pos, &n);
    return pos - n - body;
}

const char *
ks_lp_get(const ks_lp *lp, size_t pos, size_t *len)
{
    size_t h;
    *len = ks_lp_varint_get(lp->buf + pos, &h);
    return (const char *)lp->buf + pos + h;
}

size_t
ks_lp_index(const ks_lp *lp, long long i)
{
    size_t pos;
    if (i < 0)
        i += (long long)lp->count;
    if (i < 0 || (unsigned long long)i >= lp->count)
        return KS_LP_NONE;
    if ((size_t)i < lp->count / 2) {
        pos = ks_lp_first(lp);
        while (i--)
            pos = ks_lp_next(lp, pos);
    } else {
        size_t back = lp->count - 1 - (size_t)i;
        pos = ks_lp_last(lp);
        while (back--)
            pos = ks_lp_prev(lp, pos);
    }
    return pos;
}

size_t
ks_lp_find(const ks_lp *lp, size_t pos, const void *s, size_t len, size_t skip)
{
    while (pos != KS_LP_NONE && pos < lp->len) {
        size_t h, elen = ks_lp_varint_get(lp->buf + pos, &h);
        if (elen == len && (len == 0 || memcmp(lp->buf + pos + h, s, len) == 0))
            return pos;
        /* Step over this element and skip more without decoding them. */
        pos += h + elen + ks_lp_varint_size(h + elen);
        for (size_t k = 0; k < skip && pos < lp->len; k++)
            pos += ks_lp_elem_at_size(lp, pos);
    }
    return KS_LP_NONE;
}

size_t
ks_lp_mem(const ks_lp *lp)
{
    return lp->cap;
}

int
ks_lp_check(const ks_lp *lp)
{
    size_t pos = 0, count = 0, last = KS_LP_NONE;
    if (lp->len > lp->cap || (lp->cap && lp->buf == NULL))
        return -EINVAL;
    while (pos < lp->len) {
        size_t h, len, b, body;
        if (lp->len - pos < 2)
            return -EINVAL;
        len = ks_lp_varint_get(lp->buf + pos, &h);
        if (len > lp->len - pos - h)
            return -EINVAL;
        body = h + len;
        if (pos + body + ks_lp_varint_size(body) > lp->len)
            return -EINVAL;
        if (ks_lp_back_get(lp->buf + pos + body + ks_lp_varint_size(body), &b) != body ||
            b != ks_lp_varint_size(body))
            return -EINVAL;
        if (count > 0 && ks_lp_prev(lp, pos) != last)
            return -EINVAL;
        last = pos;
        pos += body + b;
        count++;
    }
    if (pos != lp->len || count != lp->count || ks_lp_last(lp) != last)
        return -EINVAL;
    return 0;
}

size_t
ks_lp_insert(ks_lp *lp, size_t pos, const void *s, size_t len)
{
    size_t sz = ks_lp_elem_size(len);
    if (pos == KS_LP_NONE)
        pos = lp->len;
    ks_lp_reserve(lp, sz);
    if (pos < lp->len)
        memmove(lp->buf + pos + sz, lp->buf + pos, lp->len - pos);
    ks_lp_elem_write(lp->buf + pos, s, len);
    lp->len += sz;
    lp->count++;
    return pos;
}

size_t
ks_lp_append(ks_lp *lp, const void *s, size_t len)
{
    return ks_lp_insert(lp, KS_LP_NONE, s, len);
}

size_t
ks_lp_replace(ks_lp *lp, size_t pos, const void *s, size_t len)
{
    size_t old = ks_lp_elem_at_size(lp, pos);
    size_t sz = ks_lp_elem_size(len);
    if (sz > old)
        ks_lp_reserve(lp, sz - old);
    if (sz != old)
        memmove(lp->buf + pos + sz, lp->buf + pos + old, lp->len - pos - old);
    ks_lp_elem_write(lp->buf + pos, s, len);
    lp->len = lp->len - old + sz;
    return pos;
}

size_t
ks_lp_delete(ks_lp *lp, size_t pos, size_t n)
{
    size_t end = pos;
    size_t removed = 0;
    while (removed < n && end < lp->len) {
        end += ks_lp_elem_at_size(lp, end);
        removed++;
    }
    memmove(lp->buf + pos, lp->buf + end, lp->len - end);
    lp->len -= end - pos;
    lp->count -= removed;
    ks_lp_shrink(lp);
    return pos < lp->len ? pos : KS_LP_NONE;
}
