/*
 * broker/keyspace/obj: value objects (see obj.h).
 *
 * The embedded layout keeps header and bytes in one allocation:
 *
 *   +-----------------------------+------------------+----+
 *   | ks_obj (type enc lru len..) | bytes[len]       | \0 |
 *   +-----------------------------+------------------+----+
 *     ptr --------------------------^
 *
 * A raw string owns a separate buffer of cap bytes (cap > len).
 */
#include "broker/keyspace/obj.h"

#include <string.h>

#include "broker/keyspace/streamobj.h"
#include "broker/keyspace/t_hash.h"
#include "broker/keyspace/t_list.h"
#include "broker/keyspace/t_set.h"
#include "broker/keyspace/t_zset.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

uint32_t ks_clock_sec;

static ks_obj *
ks_obj_new_embedded(const void *p, size_t len, uint8_t enc)
{
    ks_obj *o = util_malloc(sizeof(*o) + len + 1);
    o->type = KS_STRING;
    o->enc = enc;
    o->lru = ks_clock_sec;
    o->len = len;
    o->cap = 0;
    o->ptr = (char *)(o + 1);
    if (len)
        memcpy(o->ptr, p, len);
    o->ptr[len] = '\0';
    return o;
}

ks_obj *
ks_obj_new_raw(const void *p, size_t len)
{
    ks_obj *o = util_malloc(sizeof(*o));
    o->type = KS_STRING;
    o->enc = KS_ENC_RAW;
    o->lru = ks_clock_sec;
    o->len = len;
    o->cap = len + 1;
    o->ptr = util_memdup(p, len);
    return o;
}

ks_obj *
ks_obj_new_str(const void *p, size_t len)
{
    long long v;
    /* Canonical integers are tagged "int" (OBJECT ENCODING), as Redis
     * tryObjectEncoding does for values of at most 20 bytes. */
    if (len <= 20 && util_str2ll(p, len, &v))
        return ks_obj_new_embedded(p, len, KS_ENC_INT);
    if (len <= KS_EMBSTR_MAX)
        return ks_obj_new_embedded(p, len, KS_ENC_EMBSTR);
    return ks_obj_new_raw(p, len);
}

/* Room kept after an integer that arithmetic produced (20 digits and the
 * NUL), so the next INCR rewrites it in place instead of allocating. */
#define KS_INT_ROOM 21

ks_obj *
ks_obj_new_ll(long long v)
{
    ks_obj *o = util_malloc(sizeof(*o) + KS_INT_ROOM);
    o->type = KS_STRING;
    o->enc = KS_ENC_INT;
    o->lru = ks_clock_sec;
    o->cap = KS_INT_ROOM;
    o->ptr = (char *)(o + 1);
    o->len = util_ll2str(o->ptr, v);
    o->ptr[o->len] = '\0';
    return o;
}

int
ks_obj_set_ll(ks_obj *o, long long v)
{
    if (o->type != KS_STRING || o->enc != KS_ENC_INT || o->cap < KS_INT_ROOM ||
        o->ptr != (char *)(o + 1))
        return -1;
    o->len = util_ll2str(o->ptr, v);
    o->ptr[o->len] = '\0';
    return 0;
}

ks_obj *
ks_obj_dup(const ks_obj *o)
{
    ks_obj *c;
    if (o->type == KS_HASH)
        return ks_hash_dup(o);
    if (o->type == KS_SET)
        return ks_set_dup(o);
    if (o->type == KS_ZSET)
        return ks_zset_dup(o);
    if (o->type == KS_LIST && o->enc == KS_ENC_QUICKLIST)
        return ks_list_dup(o);
    if (o->type == KS_STREAM) {
        ks_stream *copy = ks_stream_dup((const ks_stream *)o->ptr);
        c = util_calloc(1, sizeof(*c));
        *c = *o;
        c->lru = ks_clock_sec;
        c->ptr = (char *)copy;
        return c;
    }
    if (o->enc == KS_ENC_RAW)
        c = ks_obj_new_raw(o->ptr, o->len);
    else
        c = ks_obj_new_embedded(o->ptr, o->len, o->enc);
    return c;
}

void
ks_obj_free(ks_obj *o)
{
    if (o == NULL)
        return;
    if (o->type == KS_STRING && o->enc == KS_ENC_RAW)
        util_free(o->ptr);
    else if (o->type == KS_HASH)
        ks_hash_fini(o);
    else if (o->type == KS_SET)
        ks_set_fini(o);
    else if (o->type == KS_ZSET)
        ks_zset_fini(o);
    else if (o->type == KS_LIST && o->enc == KS_ENC_QUICKLIST)
        ks_list_fini(o);
    else if (o->type == KS_STREAM)
        ks_stream_free((ks_stream *)o->ptr);
    util_free(o);
}

void
ks_obj_free_void(void *o)
{
    ks_obj_free(o);
}

const char *
ks_obj_type_name(const ks_obj *o)
{
    switch (o->type) {
    case KS_STRING:
        return "string";
    case KS_LIST:
        return "list";
    case KS_SET:
        return "set";
    case KS_ZSET:
        return "zset";
    case KS_HASH:
        return "hash";
    case KS_STREAM:
        return "stream";
    }
    return "unknown";
}

const char *
ks_obj_enc_name(const ks_obj *o)
{
    switch (o->enc) {
    case KS_ENC_RAW:
        return "raw";
    case KS_ENC_INT:
        return "int";
    case KS_ENC_EMBSTR:
        return "embstr";
    case KS_ENC_STREAM:
        return "stream";
    case KS_ENC_LISTPACK:
        return "listpack";
    case KS_ENC_HASHTABLE:
        return "hashtable";
    case KS_ENC_INTSET:
        return "intset";
    case KS_ENC_QUICKLIST:
        return "quicklist";
    case KS_ENC_SKIPLIST:
        return "skiplist";
    }
    return "unknown";
}

int
ks_obj_get_ll(const ks_obj *o, long long *out)
{
    if (o->type != KS_STRING)
        return 0;
    return util_str2ll(o->ptr, o->len, out);
}

size_t
ks_obj_mem(const ks_obj *o)
{
    if (o->type == KS_STRING)
        return sizeof(*o) + (o->cap ? o->cap : o->len + 1);
    if (o->type == KS_HASH)
        return sizeof(*o) + ks_hash_mem(o);
    if (o->type == KS_SET)
        return sizeof(*o) + ks_set_mem(o);
    if (o->type == KS_ZSET)
        return sizeof(*o) + ks_zset_mem(o);
    if (o->type == KS_LIST && o->enc == KS_ENC_QUICKLIST)
        return sizeof(*o) + ks_list_mem(o);
    if (o->type == KS_STREAM)
        return sizeof(*o) + ks_stream_mem((const ks_stream *)o->ptr);
    return sizeof(*o);
}

char *
ks_obj_str_make_room(ks_obj *o, size_t need)
{
    if (o->enc != KS_ENC_RAW) {
        /* Leave the embedded bytes where they are (they die with the
         * header) and move to an owned buffer. */
        size_t cap = need + 1 > o->len + 1 ? need + 1 : o->len + 1;
        char *p = util_malloc(cap);
        memcpy(p, o->ptr, o->len + 1);
        o->ptr = p;
        o->cap = cap;
        o->enc = KS_ENC_RAW;
    } else if (need + 1 > o->cap) {
        /* Grow geometrically below 1 MB, then by 1 MB, as sds does. */
        size_t cap = need + 1 < 1024 * 1024 ? (need + 1) * 2 : need + 1 + 1024 * 1024;
        o->ptr = util_realloc(o->ptr, cap);
        o->cap = cap;
    }
    return o->ptr;
}
