/*
 * broker/commands/scan: cursor and option parsing, item batches and the
 * reply shared by SCAN and the collection scans (see scan_int.h).
 *
 * Items are copied out of the collection before filtering so the caller's
 * dict can be scanned with rehashing paused and released before the reply
 * is written; the copies cost O(items) and scans are not a hot path.
 */
#include "broker/commands/scan_int.h"

#include <limits.h>
#include <string.h>

#include "broker/util/glob.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

int
cmd__scan_cursor_or_reply(cmd_ctx *c, int i, unsigned long long *out)
{
    const char *s = c->argv[i].ptr;
    const char *nul = memchr(s, '\0', c->argv[i].len);
    size_t len = nul ? (size_t)(nul - s) : c->argv[i].len;
    size_t pos = 0;
    int neg = 0;
    unsigned long long v = 0;

    if (pos < len && (s[pos] == '+' || s[pos] == '-'))
        neg = s[pos++] == '-';
    if (pos == len && len > 0)
        goto bad; /* a lone sign: strtoul stops before it */
    for (; pos < len; pos++) {
        unsigned d;
        if (s[pos] < '0' || s[pos] > '9')
            goto bad;
        d = (unsigned)(s[pos] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            goto bad;
        v = v * 10 + d;
    }
    *out = neg ? (unsigned long long)0 - v : v;
    return 0;
bad:
    reply_error(c->r, "ERR invalid cursor");
    return -1;
}

int
cmd__scan_opts_or_reply(cmd_ctx *c, int first, cmd__scan_args *a)
{
    a->count = 10;
    a->pat = NULL;
    a->plen = 0;
    for (int i = first; i < c->argc; i += 2) {
        int more = c->argc - i - 1; /* arguments after the option name */
        if (cmd_arg_is(c, i, "count") && more >= 1) {
            if (cmd_get_ll_or_reply(c, i + 1, &a->count, NULL) < 0)
                return -1;
            if (a->count < 1)
                return cmd_reply_syntax(c);
        } else if (cmd_arg_is(c, i, "match") && more >= 1) {
            a->pat = c->argv[i + 1].ptr;
            a->plen = c->argv[i + 1].len;
            /* "*" is a no-op filter (and would not match an empty item). */
            if (a->plen == 1 && a->pat[0] == '*')
                a->pat = NULL;
        } else {
            return cmd_reply_syntax(c);
        }
    }
    return 0;
}

void
cmd__scan_reply_empty(cmd_ctx *c)
{
    reply_array(c->r, 2);
    reply_bulk(c->r, "0", 1);
    reply_array(c->r, 0);
}

void
cmd__scan_items_add(cmd__scan_items *it, const char *p, size_t len)
{
    if (it->count == it->cap) {
        it->cap = it->cap ? it->cap * 2 : 16;
        it->ptr = util_realloc(it->ptr, it->cap * sizeof(*it->ptr));
        it->len = util_realloc(it->len, it->cap * sizeof(*it->len));
    }
    it->ptr[it->count] = util_memdup(p, len);
    it->len[it->count++] = len;
}

void
cmd__scan_reply(cmd_ctx *c, unsigned long long cursor, cmd__scan_items *it, size_t stride,
                const cmd__scan_args *a)
{
    char cbuf[UTIL_LL_BUF + 1];
    size_t kept = 0;

    /* Filter in place, keeping the surviving groups at the front. */
    for (size_t i = 0; i + stride <= it->count; i += stride) {
        int keep = a->pat == NULL || util_glob_match(a->pat, a->plen, it->ptr[i], it->len[i], 0);
        for (size_t k = 0; k < stride; k++) {
            if (keep) {
                it->ptr[kept] = it->ptr[i + k];
                it->len[kept++] = it->len[i + k];
            } else {
                util_free(it->ptr[i + k]);
            }
        }
    }
    reply_array(c->r, 2);
    reply_bulk(c->r, cbuf, util_ull2str(cbuf, cursor));
    reply_array(c->r, (long long)kept);
    for (size_t i = 0; i < kept; i++) {
        reply_bulk(c->r, it->ptr[i], it->len[i]);
        util_free(it->ptr[i]);
    }
    util_free(it->ptr);
    util_free(it->len);
    it->ptr = NULL;
    it->len = NULL;
    it->count = it->cap = 0;
}

unsigned long long
cmd__scan_walk(ks_obj *o, int whole, unsigned long long cursor, const cmd__scan_args *a,
               cmd__scan_step_fn step, cmd__scan_items *it)
{
    long long maxiter;
    if (whole)
        return step(o, 0, it);
    maxiter = a->count > LLONG_MAX / CMD_SCAN_MAX_ITER_FACTOR ? LLONG_MAX
                                                              : a->count * CMD_SCAN_MAX_ITER_FACTOR;
    do {
        cursor = step(o, (uint64_t)cursor, it);
    } while (cursor != 0 && maxiter-- > 0 && it->count < (unsigned long long)a->count);
    return cursor;
}

void
cmd__scan_collection(cmd_ctx *c, int type, int whole_enc, cmd__scan_step_fn step, size_t stride)
{
    unsigned long long cursor;
    cmd__scan_args a;
    cmd__scan_items items = {0};
    ks_obj *o;

    if (cmd__scan_cursor_or_reply(c, 2, &cursor) < 0)
        return;
    o = cmd_lookup_read(c, 1);
    if (o != NULL && o->type != type) {
        cmd_reply_wrongtype(c);
        return;
    }
    if (o == NULL) {
        cmd__scan_reply_empty(c);
        return;
    }
    if (cmd__scan_opts_or_reply(c, 3, &a) < 0)
        return;
    cursor = cmd__scan_walk(o, o->enc == whole_enc, cursor, &a, step, &items);
    cmd__scan_reply(c, cursor, &items, stride, &a);
}
