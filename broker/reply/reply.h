/*
 * broker/reply: the reply sink every command handler writes through.
 *
 * A reply is a growable byte buffer of RESP bytes plus the protocol version
 * (2 or 3) of the caller. Builders pick the RESP2 or RESP3 form of each type
 * (maps become flat arrays in RESP2, null becomes $-1 or *-1, ...), so one
 * handler serves every transport: a RESP client's output buffer, a gateway
 * session, a script capture or a transaction queue all own a reply.
 *
 * Hot path: every command writes here; builders append with memcpy and never
 * call snprintf for headers. Allocation failure aborts (runnel_panic), as a
 * Redis reply allocation does.
 *
 * Not here: sockets, output-buffer limits (the owner checks reply->len).
 */
#ifndef BROKER_REPLY_REPLY_H
#define BROKER_REPLY_REPLY_H

#include <stddef.h>
#include <stdint.h>

typedef struct reply {
    char *buf;         /* RESP bytes, owned; NULL when cap is 0 */
    size_t len;        /* bytes used in buf */
    size_t cap;        /* bytes allocated for buf */
    int resp;          /* protocol of the caller: 2 or 3 */
    unsigned errors;   /* error replies written since reply_errors_reset() */
    char last_err[32]; /* code of the last error reply ("ERR", "WRONGTYPE") */
} reply;

/* Lifecycle. reply_init() leaves an empty buffer for protocol resp. */
void reply_init(reply *r, int resp);
void reply_fini(reply *r);
/* Drops the content, keeps the allocation unless it grew past 64 KB. */
void reply_reset(reply *r);
/* Appends raw bytes (already RESP encoded). */
void reply_raw(reply *r, const void *p, size_t len);

/* Scalars. reply_error() takes the whole message with its code and without
 * the leading '-' ("ERR syntax error"); CR and LF in it become spaces, as
 * Redis sanitises error messages. */
void reply_simple(reply *r, const char *s);
void reply_ok(reply *r);
void reply_error(reply *r, const char *msg);
void reply_errorf(reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(reply *r, long long v);
void reply_bulk(reply *r, const void *p, size_t len);
void reply_bulk_cstr(reply *r, const char *s); /* NULL gives a null reply */
void reply_bulk_ll(reply *r, long long v);     /* integer as a bulk string */
void reply_null(reply *r);                     /* RESP2 $-1, RESP3 _ */
void reply_null_array(reply *r);               /* RESP2 *-1, RESP3 _ */
void reply_double(reply *r, double d);         /* RESP2 bulk, RESP3 ',' (%.17g) */
void reply_bool(reply *r, int b);              /* RESP2 :0/:1, RESP3 #f/#t */
/* RESP3 verbatim string with a 3-letter format ("txt"); RESP2 bulk. */
void reply_verbatim(reply *r, const char *p, size_t len, const char *fmt);

/* Aggregates: the caller then writes count items (2*count for a map). */
void reply_array(reply *r, long long count);
void reply_map(reply *r, long long count);  /* RESP2 *2n */
void reply_set(reply *r, long long count);  /* RESP2 *n */
void reply_push(reply *r, long long count); /* RESP2 *n */
/* Convenience: an empty array. */
void reply_empty_array(reply *r);

/* Deferred length: reply_defer() marks the place of a header not yet known;
 * reply_defer_array()/_map()/_set() write it there once the items are out.
 * O(bytes written after the mark) for the move. */
size_t reply_defer(reply *r);
void reply_defer_array(reply *r, size_t mark, long long count);
void reply_defer_map(reply *r, size_t mark, long long count);
void reply_defer_set(reply *r, size_t mark, long long count);

/* Error counters for INFO errorstats. */
void reply_errors_reset(reply *r);

#endif /* BROKER_REPLY_REPLY_H */
