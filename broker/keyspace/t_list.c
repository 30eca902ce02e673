/*
 * broker/keyspace/t_list: the quicklist behind list values (see t_list.h):
 * a doubly linked chain of ks_lp nodes. Pushes go into the end node while
 * it has room under the fill limit, else into a new node; an insert into a
 * full node splits it at the insertion point. A node emptied by a pop or
 * delete is unlinked and freed at once, so every node holds >= 1 element.
 */
#include <errno.h>
#include <string.h>

#include "broker/keyspace/t_list.h"
#include "broker/util/mem.h"

/* Packed bytes an element of len bytes adds to a node (data + framing). */
#define LIST_ELEM_OVERHEAD 22
/* Positive fills are still capped at this many bytes per node. */
#define LIST_SAFETY_BYTES 8192

static ks_list *
list_of(const ks_obj *o)
{
    return (ks_list *)o->ptr;
}

/* 1 when node n can take one more element of len bytes under fill. */
static int
list_node_fits(const ks_list *l, const ks_list_node *n, size_t len)
{
    size_t bytes = n->lp.len + len + LIST_ELEM_OVERHEAD;
    if (l->fill >= 0) {
        if (n->lp.count >= (size_t)(l->fill == 0 ? 1 : l->fill))
            return 0;
        return bytes <= LIST_SAFETY_BYTES;
    }
    int f = l->fill < -5 ? 5 : -l->fill;
    return bytes <= ((size_t)4096 << (f - 1));
}

static ks_list_node *
list_node_new(void)
{
    ks_list_node *n = util_calloc(1, sizeof(*n));
    ks_lp_init(&n->lp);
    return n;
}

/* Links new node n after node at (NULL: becomes the head). */
static void
list_link_after(ks_list *l, ks_list_node *at, ks_list_node *n)
{
    n->prev = at;
    n->next = at != NULL ? at->next : l->head;
    if (n->next != NULL)
        n->next->prev = n;
    else
        l->tail = n;
    if (at != NULL)
        at->next = n;
    else
        l->head = n;
    l->nodes++;
}

static void
list_unlink(ks_list *l, ks_list_node *n)
{
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    l->nodes--;
    ks_lp_fini(&n->lp);
    util_free(n);
}

ks_obj *
ks_list_new(int fill)
{
    ks_obj *o = util_calloc(1, sizeof(*o));
    ks_list *l = util_calloc(1, sizeof(*l));
    l->fill = fill;
    o->type = KS_LIST;
    o->enc = KS_ENC_QUICKLIST;
    o->lru = ks_clock_sec;
    o->ptr = (char *)l;
    return o;
}

ks_obj *
ks_list_dup(const ks_obj *o)
{
    const ks_list *l = list_of(o);
    ks_obj *c = ks_list_new(l->fill);
    ks_list *cl = list_of(c);
    for (const ks_list_node *n = l->head; n != NULL; n = n->next) {
        ks_list_node *m = util_calloc(1, sizeof(*m));
        ks_lp_copy(&m->lp, &n->lp);
        list_link_after(cl, cl->tail, m);
    }
    cl->count = l->count;
    return c;
}

void
ks_list_fini(ks_obj *o)
{
    ks_list *l = list_of(o);
    while (l->head != NULL)
        list_unlink(l, l->head);
    util_free(l);
    o->ptr = NULL;
}

size_t
ks_list_len(const ks_obj *o)
{
    return list_of(o)->count;
}

size_t
ks_list_mem(const ks_obj *o)
{
    const ks_list *l = list_of(o);
    size_t m = sizeof(*l);
    for (const ks_list_node *n = l->head; n != NULL; n = n->next)
        m += sizeof(*n) + ks_lp_mem(&n->lp);
    return m;
}

void
ks_list_push(ks_obj *o, int tail, const void *s, size_t len)
{
    ks_list *l = list_of(o);
    ks_list_node *n = tail ? l->tail : l->head;
    if (n == NULL || !list_node_fits(l, n, len)) {
        n = list_node_new();
        list_link_after(l, tail ? l->tail : NULL, n);
    }
    if (tail)
        ks_lp_append(&n->lp, s, len);
    else
        ks_lp_insert(&n->lp, ks_lp_first(&n->lp), s, len);
    l->count++;
}

char *
ks_list_pop(ks_obj *o, int tail, size_t *len)
{
    ks_list *l = list_of(o);
    ks_list_node *n = tail ? l->tail : l->head;
    if (n == NULL)
        return NULL;
    size_t pos = tail ? ks_lp_last(&n->lp) : ks_lp_first(&n->lp);
    const char *d = ks_lp_get(&n->lp, pos, len);
    char *out = util_malloc(*len + 1);
    memcpy(out, d, *len);
    out[*len] = '\0';
    ks_lp_delete(&n->lp, pos, 1);
    l->count--;
    if (n->lp.count == 0)
        list_unlink(l, n);
    return out;
}

int
ks_list_locate(const ks_obj *o, long long idx, ks_list_pos *p)
{
    const ks_list *l = list_of(o);
    long long cnt = (long long)l->count;
    p->node = NULL;
    p->off = KS_LP_NONE;
    if (idx < 0)
        idx += cnt;
    if (idx < 0 || idx >= cnt)
        return 0;
    if (idx < cnt / 2) {
        ks_list_node *n = l->head;
        while ((long long)n->lp.count <= idx) {
            idx -= (long long)n->lp.count;
            n = n->next;
        }
        p->node = n;
        p->off = ks_lp_index(&n->lp, idx);
    } else {
        long long back = cnt - 1 - idx; /* 0 = last element */
        ks_list_node *n = l->tail;
        while ((long long)n->lp.count <= back) {
            back -= (long long)n->lp.count;
            n = n->prev;
        }
        p->node = n;
        p->off = ks_lp_index(&n->lp, -1 - back);
    }
    return 1;
}

const char *
ks_list_pos_get(const ks_list_pos *p, size_t *len)
{
    return ks_lp_get(&p->node->lp, p->off, len);
}

int
ks_list_pos_next(ks_list_pos *p)
{
    size_t nx = ks_lp_next(&p->node->lp, p->off);
    if (nx == KS_LP_NONE) {
        p->node = p->node->next;
        if (p->node == NULL)
            return 0;
        nx = ks_lp_first(&p->node->lp);
    }
    p->off = nx;
    return 1;
}

int
ks_list_pos_prev(ks_list_pos *p)
{
    size_t pv = ks_lp_prev(&p->node->lp, p->off);
    if (pv == KS_LP_NONE) {
        p->node = p->node->prev;
        if (p->node == NULL)
            return 0;
        pv = ks_lp_last(&p->node->lp);
    }
    p->off = pv;
    return 1;
}

void
ks_list_set(ks_obj *o, long long idx, const void *s, size_t len)
{
    ks_list_pos p;
    if (ks_list_locate(o, idx, &p))
        ks_lp_replace(&p.node->lp, p.off, s, len);
}

void
ks_list_insert(ks_obj *o, size_t idx, const void *s, size_t len)
{
    ks_list *l = list_of(o);
    ks_list_pos p;
    if (idx >= l->count) {
        ks_list_push(o, 1, s, len);
        return;
    }
    if (idx == 0) {
        ks_list_push(o, 0, s, len);
        return;
    }
    ks_list_locate(o, (long long)idx, &p);
    ks_list_node *n = p.node;
    if (list_node_fits(l, n, len)) {
        ks_lp_insert(&n->lp, p.off, s, len);
        l->count++;
        return;
    }
    if (p.off == ks_lp_first(&n->lp)) {
        /* Goes at the end of the previous node, or a new node between. */
        ks_list_node *pv = n->prev;
        if (pv != NULL && list_node_fits(l, pv, len)) {
            ks_lp_append(&pv->lp, s, len);
        } else {
            ks_list_node *m = list_node_new();
            ks_lp_append(&m->lp, s, len);
            list_link_after(l, pv, m);
        }
        l->count++;
        return;
    }
    /* Split n at p: the tail part moves to a new node after n. */
    ks_list_node *rest = list_node_new();
    for (size_t q = p.off; q != KS_LP_NONE; q = ks_lp_next(&n->lp, q)) {
        size_t dl;
        const char *d = ks_lp_get(&n->lp, q, &dl);
        ks_lp_append(&rest->lp, d, dl);
    }
    ks_lp_delete(&n->lp, p.off, rest->lp.count);
    list_link_after(l, n, rest);
    if (list_node_fits(l, n, len)) {
        ks_lp_append(&n->lp, s, len);
    } else {
        ks_list_node *m = list_node_new();
        ks_lp_append(&m->lp, s, len);
        list_link_after(l, n, m);
    }
    l->count++;
}

void
ks_list_delete(ks_obj *o, size_t idx, size_t n)
{
    ks_list *l = list_of(o);
    ks_list_pos p;
    if (n == 0 || !ks_list_locate(o, (long long)idx, &p))
        return;
    ks_list_node *node = p.node;
    size_t off = p.off;
    while (n > 0 && node != NULL) {
        size_t before = node->lp.count;
        ks_lp_delete(&node->lp, off, n);
        size_t gone = before - node->lp.count;
        n -= gone;
        l->count -= gone;
        ks_list_node *next = node->next;
        if (node->lp.count == 0)
            list_unlink(l, node);
        node = next;
        if (node != NULL)
            off = ks_lp_first(&node->lp);
    }
}

int
ks_list_check(const ks_obj *o)
{
    const ks_list *l = list_of(o);
    size_t cnt = 0, nodes = 0;
    const ks_list_node *prev = NULL;
    if (o->type != KS_LIST || o->enc != KS_ENC_QUICKLIST)
        return -EINVAL;
    for (const ks_list_node *n = l->head; n != NULL; n = n->next) {
        if (n->prev != prev || n->lp.count == 0 || ks_lp_check(&n->lp) != 0)
            return -EINVAL;
        cnt += n->lp.count;
        nodes++;
        prev = n;
    }
    if (prev != l->tail || cnt != l->count || nodes != l->nodes)
        return -EINVAL;
    return 0;
}
