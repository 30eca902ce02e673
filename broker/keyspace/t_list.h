/*
 * broker/keyspace/t_list: the list value type (an ordered sequence of
 * binary-safe byte strings, pushed and popped at both ends), as Redis 7.0
 * keeps it: always a "quicklist", a doubly linked list of listpack nodes.
 * (Redis 7.2 added a single-listpack encoding for small lists; our oracle
 * 7.0 reports "quicklist" for every list, so we have only that one.)
 *
 *    ks_obj (KS_LIST, KS_ENC_QUICKLIST) -> ks_list {head, tail, count}
 *        head <-> node <-> node <-> tail      each node: ks_lp of elements
 *
 * A node grows up to list-max-listpack-size (the caller passes it as fill:
 * negative -1..-5 = 4/8/16/32/64 KB of packed bytes, positive = elements),
 * then a new node starts. Empty nodes are unlinked at once.
 * Hot path: push/pop at either end, O(1). Index access walks nodes from
 * the nearer end. Not here: replies, argument parsing, notifications.
 */
#ifndef BROKER_KEYSPACE_T_LIST_H
#define BROKER_KEYSPACE_T_LIST_H

#include <stddef.h>

#include "broker/keyspace/listpack.h"
#include "broker/keyspace/obj.h"

/* One quicklist node: a listpack of consecutive elements. */
typedef struct ks_list_node {
    struct ks_list_node *prev; /* towards the head, NULL at the head */
    struct ks_list_node *next; /* towards the tail, NULL at the tail */
    ks_lp lp;                  /* the elements, never empty */
} ks_list_node;

/* The list payload behind ks_obj.ptr. */
typedef struct ks_list {
    ks_list_node *head; /* first node, NULL when empty */
    ks_list_node *tail; /* last node, NULL when empty */
    size_t count;       /* elements in all nodes */
    size_t nodes;       /* nodes linked */
    int fill;           /* list-max-listpack-size for new pushes */
} ks_list;

/* A position: one element of one node. Valid until the list changes. */
typedef struct ks_list_pos {
    ks_list_node *node; /* node holding the element, NULL when none */
    size_t off;         /* element's byte offset in node->lp */
} ks_list_pos;

/* A new empty list with node size limit fill (caller owns it). O(1). */
ks_obj *ks_list_new(int fill);

/* Deep copy of list o (COPY). O(n). */
ks_obj *ks_list_dup(const ks_obj *o);

/* Frees the payload of list o (ks_obj_free frees the header). O(n). */
void ks_list_fini(ks_obj *o);

/* Number of elements. O(1). */
size_t ks_list_len(const ks_obj *o);

/* Bytes held by the payload, for MEMORY USAGE. O(nodes). */
size_t ks_list_mem(const ks_obj *o);

/* Pushes a copy of s[0..len) at the head (tail 0) or tail (tail 1). O(1). */
void ks_list_push(ks_obj *o, int tail, const void *s, size_t len);

/*
 * Removes the head (tail 0) or tail element and returns it as a new
 * util_malloc'ed buffer (caller frees) with *len its length; NULL when the
 * list is empty. O(1).
 */
char *ks_list_pop(ks_obj *o, int tail, size_t *len);

/*
 * Finds element idx (negative counts from the tail). Returns 1 and fills
 * *p, or 0 when out of range. O(nodes) from the nearer end.
 */
int ks_list_locate(const ks_obj *o, long long idx, ks_list_pos *p);

/* Data of the element at p (borrowed, not NUL-terminated). O(1). */
const char *ks_list_pos_get(const ks_list_pos *p, size_t *len);

/* Moves p to the next / previous element; returns 0 (p->node NULL) at
 * the end. O(1). */
int ks_list_pos_next(ks_list_pos *p);
int ks_list_pos_prev(ks_list_pos *p);

/* Replaces element idx (must exist) with a copy of s[0..len). */
void ks_list_set(ks_obj *o, long long idx, const void *s, size_t len);

/* Inserts a copy of s[0..len) before element idx (0..len; len appends).
 * O(node bytes + nodes). */
void ks_list_insert(ks_obj *o, size_t idx, const void *s, size_t len);

/* Deletes n elements from idx on (fewer if the list ends). O(n + nodes). */
void ks_list_delete(ks_obj *o, size_t idx, size_t n);

/* Checks the structure (links, counts, no empty node, each listpack).
 * Returns 0 or -EINVAL. For tests. */
int ks_list_check(const ks_obj *o);

#endif /* BROKER_KEYSPACE_T_LIST_H */
