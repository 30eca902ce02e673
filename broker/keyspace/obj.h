/*
 * broker/keyspace/obj: the value object stored under every key.
 *
 * A ks_obj carries a type tag, an encoding tag (what OBJECT ENCODING
 * reports, with Redis's names), an access clock for OBJECT IDLETIME and a
 * type-specific payload. Strings keep their bytes in the same allocation as
 * the header while they are short and unmodified ("embstr"), move to a
 * separate growable buffer ("raw") once APPEND or SETRANGE touch them, and
 * are tagged "int" when they hold a canonical 64-bit integer.
 *
 * Hot path: ks_obj_new_str() on every SET, ks_obj_str() on every GET.
 * Not here: key lookup and expiry (db.h), other types (one file each).
 */
#ifndef BROKER_KEYSPACE_OBJ_H
#define BROKER_KEYSPACE_OBJ_H

#include <stddef.h>
#include <stdint.h>

enum ks_type {
    KS_STRING = 0,
    KS_LIST = 1,
    KS_SET = 2,
    KS_ZSET = 3,
    KS_HASH = 4,
    KS_STREAM = 6,
};

enum ks_enc {
    KS_ENC_RAW = 0,       /* string in its own growable buffer */
    KS_ENC_INT = 1,       /* string holding a canonical integer */
    KS_ENC_HASHTABLE = 2, /* hash: ks_dict field -> value (t_hash.h) */
    KS_ENC_INTSET = 6,    /* set: sorted int16/32/64 array (t_set.h) */
    KS_ENC_SKIPLIST = 7,  /* zset: skiplist + dict member -> node (t_zset.h) */
    KS_ENC_EMBSTR = 8,    /* short string embedded after the header */
    KS_ENC_QUICKLIST = 9, /* list: linked listpack nodes (t_list.h) */
    KS_ENC_STREAM = 10,   /* ks_stream: log and groups (streamobj.h) */
    KS_ENC_LISTPACK = 11, /* hash: packed field/value pairs (t_hash.h); zset: member/score */
};

/* Strings up to this length are embedded, as Redis's embstr limit. */
#define KS_EMBSTR_MAX 44

typedef struct ks_obj {
    uint8_t type; /* enum ks_type */
    uint8_t enc;  /* enum ks_enc */
    uint32_t lru; /* access clock in seconds (ks_clock_sec), for IDLETIME */
    size_t len;   /* strings: bytes in ptr (excluding the NUL) */
    size_t cap;   /* strings: bytes allocated in ptr when raw; room after
                     the header for an arithmetic "int"; else 0 */
    char *ptr;    /* strings: NUL-terminated bytes, embedded or owned;
                     streams: the ks_stream * (streamobj.h), owned;
                     hashes: ks_lp * or ks_dict * by enc (t_hash.h), owned;
                     sets: ks_intset * or ks_dict * by enc (t_set.h), owned;
                     zsets: ks_lp * or ks_zsl * by enc (t_zset.h), owned */
} ks_obj;

/* Lifecycle. ks_obj_new_str() picks int/embstr/raw the way Redis's
 * tryObjectEncoding does for a value that arrives from a client. */
ks_obj *ks_obj_new_str(const void *p, size_t len);
ks_obj *ks_obj_new_raw(const void *p, size_t len); /* always "raw" */
ks_obj *ks_obj_new_ll(long long v);                /* "int", with room for in-place INCR */
/* Rewrites an "int" string made by ks_obj_new_ll in place: 0, or -1 when
 * o has no room (the caller then stores a new object). O(1). */
int ks_obj_set_ll(ks_obj *o, long long v);
ks_obj *ks_obj_dup(const ks_obj *o); /* deep copy (COPY) */
void ks_obj_free(ks_obj *o);         /* NULL ok */
/* Same as ks_obj_free with a void * for dict free callbacks. */
void ks_obj_free_void(void *o);

/* Queries. */
const char *ks_obj_type_name(const ks_obj *o); /* "string", "list", ... */
const char *ks_obj_enc_name(const ks_obj *o);  /* "int", "embstr", "raw" */
/* 1 when a string value parses as a strict 64-bit integer. */
int ks_obj_get_ll(const ks_obj *o, long long *out);
/* Bytes held by the value, for INFO memory and MEMORY USAGE. */
size_t ks_obj_mem(const ks_obj *o);

/* Mutations on strings: make o a raw string with room for need bytes (so
 * APPEND and SETRANGE can write in place); returns o->ptr. */
char *ks_obj_str_make_room(ks_obj *o, size_t need);

/* The access clock, in seconds; set by the server before each command. */
extern uint32_t ks_clock_sec;

#endif /* BROKER_KEYSPACE_OBJ_H */
