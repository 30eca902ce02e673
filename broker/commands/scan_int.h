/*
 * broker/commands/scan_int: the SCAN machinery shared by the command
 * families, so SCAN, HSCAN (and later SSCAN, ZSCAN) parse and reply alike.
 *
 * A collection scan (HSCAN-style) goes: parse the cursor (before the key
 * lookup, as Redis does), look the key up (a missing key gets the empty
 * scan reply without its options being read), parse COUNT and MATCH,
 * collect copies of the items of one or more dict scan steps (or of the
 * whole compact encoding, cursor 0) into a cmd__scan_items batch, then
 * filter and reply with cmd__scan_reply.
 *
 * Not hot: one call per SCAN step, O(items collected).
 */
#ifndef BROKER_COMMANDS_SCAN_INT_H
#define BROKER_COMMANDS_SCAN_INT_H

#include <stddef.h>

#include "broker/commands/cmd.h"

/* A scan visits at most COUNT * CMD_SCAN_MAX_ITER_FACTOR dict buckets per
 * call, so a sparse table cannot make one call run unbounded. */
#define CMD_SCAN_MAX_ITER_FACTOR 10

/* COUNT and MATCH of a collection scan. */
typedef struct cmd__scan_args {
    long long count; /* COUNT, >= 1, default 10 */
    const char *pat; /* MATCH pattern, borrowed from argv; NULL for none or "*" */
    size_t plen;     /* bytes in pat */
} cmd__scan_args;

/* Items copied out of a collection by one scan call, in reply order. */
typedef struct cmd__scan_items {
    char **ptr;   /* owned copies, NUL-terminated */
    size_t *len;  /* bytes of each copy */
    size_t count; /* items held */
    size_t cap;   /* slots allocated */
} cmd__scan_items;

/*
 * Parses argv[i] as a scan cursor the way Redis does with strtoul(): bytes
 * up to a NUL count; an optional sign ("-1" wraps to 2^64-1), decimal
 * digits, nothing after; the empty string is cursor 0; leading blanks and
 * overflow are errors. Replies "ERR invalid cursor" and returns -1 on
 * failure, else 0 with *out set.
 */
int cmd__scan_cursor_or_reply(cmd_ctx *c, int i, unsigned long long *out);

/*
 * Parses the options of a collection scan from argv[first] on: COUNT n
 * (an integer, else "value is not an integer or out of range"; below 1 a
 * syntax error) and MATCH pattern, any case, repeatable (last wins);
 * anything else, TYPE included, is a syntax error. Returns 0 or -1 after
 * replying.
 */
int cmd__scan_opts_or_reply(cmd_ctx *c, int first, cmd__scan_args *a);

/* The reply for a scan of a missing key: cursor "0" and no items. */
void cmd__scan_reply_empty(cmd_ctx *c);

/* Appends a copy of p[0..len) to the batch. Amortized O(len). */
void cmd__scan_items_add(cmd__scan_items *it, const char *p, size_t len);

/* One step of a collection type's scan: copies what the step visits into
 * it and returns the next cursor (0 when the walk is complete). */
typedef uint64_t (*cmd__scan_step_fn)(ks_obj *o, uint64_t cursor, cmd__scan_items *it);

/*
 * Runs a collection scan from cursor: a compact encoding (whole != 0) is
 * returned in one step with cursor 0, whatever COUNT says; a hash table is
 * stepped until COUNT items are in, the cursor wraps, or COUNT *
 * CMD_SCAN_MAX_ITER_FACTOR steps are spent. Returns the next cursor.
 */
unsigned long long cmd__scan_walk(ks_obj *o, int whole, unsigned long long cursor,
                                  const cmd__scan_args *a, cmd__scan_step_fn step,
                                  cmd__scan_items *it);

/*
 * Replies [cursor, items] and frees the batch. Items come in groups of
 * stride (1 for members, 2 for field/value or member/score); when a
 * pattern is set, a group is dropped unless its first item matches.
 * O(items).
 */
void cmd__scan_reply(cmd_ctx *c, unsigned long long cursor, cmd__scan_items *it, size_t stride,
                     const cmd__scan_args *a);

/*
 * HSCAN/SSCAN/ZSCAN key cursor [MATCH p] [COUNT n]: parses the cursor,
 * looks the key up (WRONGTYPE unless it holds type), parses the options,
 * then walks (whole when the value's encoding is whole_enc) and replies
 * with items grouped by stride. Errors in Redis's order.
 */
void cmd__scan_collection(cmd_ctx *c, int type, int whole_enc, cmd__scan_step_fn step,
                          size_t stride);

#endif /* BROKER_COMMANDS_SCAN_INT_H */
