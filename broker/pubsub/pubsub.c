/*
 * broker/pubsub: subscription indexes and message fan-out (see pubsub.h).
 *
 * Three hash tables hold the state: name -> channel record per kind,
 * id -> subscriber record, and (id, kind, name) -> subscription record.
 * Records point at each other, so a subscription is unlinked from its
 * channel and its subscriber in O(1) once found. Patterns are also kept in
 * a list in creation order, which PUBLISH walks. A channel or subscriber
 * record lives exactly as long as it has subscriptions.
 *
 * Invariants (pubsub_check): chan->count == length of its list,
 * sub->count[k] == length of its list of kind k, and the link table holds
 * exactly the records reachable from the channels.
 */
#include "broker/pubsub/pubsub.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "broker/keyspace/dict.h"
#include "broker/util/glob.h"
#include "broker/util/mem.h"
#include "protocols/resp/resp.h"

typedef struct pubsub_chan pubsub_chan;
typedef struct pubsub_sub pubsub_sub;
typedef struct pubsub_link pubsub_link;

/* One subscription: subscriber sub to chan. Owned by the link table. */
struct pubsub_link {
    pubsub_chan *chan;          /* the channel or pattern, borrowed */
    pubsub_sub *sub;            /* the subscriber, borrowed */
    pubsub_link *cprev, *cnext; /* chan's subscribers, subscription order */
    pubsub_link *sprev, *snext; /* sub's subscriptions of this kind */
};

/* A channel, pattern or shard channel with at least one subscriber. */
struct pubsub_chan {
    int kind;                   /* PUBSUB_CHANNEL, _PATTERN or _SHARD */
    char *name;                 /* owned copy, NUL-terminated */
    size_t len;                 /* bytes in name */
    pubsub_link *head, *tail;   /* subscribers, oldest first */
    size_t count;               /* subscribers, > 0 while the record lives */
    pubsub_chan *pprev, *pnext; /* hub's pattern list (patterns only) */
};

/* A subscriber with at least one subscription. */
struct pubsub_sub {
    uint64_t id;                      /* caller id */
    void *data;                       /* handed back on delivery, borrowed */
    pubsub_link *head[PUBSUB_NKINDS]; /* subscriptions per kind, oldest first */
    pubsub_link *tail[PUBSUB_NKINDS]; /* newest per kind */
    size_t count[PUBSUB_NKINDS];      /* subscriptions per kind */
};

struct pubsub {
    pubsub_deliver_fn fn;             /* delivery callback */
    void *priv;                       /* its first argument */
    ks_dict *names[PUBSUB_NKINDS];    /* name -> pubsub_chan *, owned */
    ks_dict *subs;                    /* 8-byte id -> pubsub_sub *, owned */
    ks_dict *links;                   /* id.kind.name -> pubsub_link *, owned */
    pubsub_chan *pat_head, *pat_tail; /* patterns in creation order */
};

/* Frame kinds of a message group. */
enum { PUBSUB_MSG_MESSAGE, PUBSUB_MSG_PMESSAGE, PUBSUB_MSG_SMESSAGE };

struct pubsub_msg {
    int kind;             /* PUBSUB_MSG_* */
    const char *pat;      /* pattern (pmessage only), borrowed */
    size_t plen;          /* bytes in pat */
    const char *ch;       /* channel, borrowed */
    size_t clen;          /* bytes in ch */
    const char *msg;      /* payload, borrowed */
    size_t mlen;          /* bytes in msg */
    pubsub_buf *frame[2]; /* RESP2 and RESP3 frames once built, owned */
};

/* Link-table keys up to this size are built on the stack. */
#define PUBSUB_KEY_STACK 256

/* ------------------------------------------------------------------------
 * Shared buffers
 * ------------------------------------------------------------------------ */

pubsub_buf *
pubsub_buf_new(size_t len)
{
    pubsub_buf *b = util_malloc(sizeof(*b) + len);
    b->refs = 1;
    b->len = len;
    b->data = (char *)(b + 1);
    return b;
}

pubsub_buf *
pubsub_buf_wrap(char *block, size_t len)
{
    pubsub_buf *b = util_malloc(sizeof(*b));
    b->refs = 1;
    b->len = len;
    b->data = block;
    return b;
}

void
pubsub_buf_ref(pubsub_buf *b)
{
    assert(b->refs > 0);
    b->refs++;
}

void
pubsub_buf_unref(pubsub_buf *b)
{
    if (b == NULL)
        return;
    assert(b->refs > 0);
    if (--b->refs > 0)
        return;
    if (b->data != (char *)(b + 1))
        util_free(b->data);
    util_free(b);
}

/* ------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------ */

pubsub *
pubsub_new(pubsub_deliver_fn fn, void *priv)
{
    pubsub *ps = util_calloc(1, sizeof(*ps));
    ps->fn = fn;
    ps->priv = priv;
    for (int k = 0; k < PUBSUB_NKINDS; k++)
        ps->names[k] = ks_dict_new();
    ps->subs = ks_dict_new();
    ps->links = ks_dict_new();
    for (int k = 0; k < PUBSUB_NKINDS; k++) {
        if (ps->names[k] == NULL)
            runnel_panic("out of memory creating the pub/sub hub");
    }
    if (ps->subs == NULL || ps->links == NULL)
        runnel_panic("out of memory creating the pub/sub hub");
    return ps;
}

static void
pubsub_chan_free(void *p)
{
    pubsub_chan *ch = p;
    util_free(ch->name);
    util_free(ch);
}

void
pubsub_free(pubsub *ps)
{
    if (ps == NULL)
        return;
    /* Records point at each other; each table owns one kind of record. */
    ks_dict_free(ps->links, util_free);
    ks_dict_free(ps->subs, util_free);
    for (int k = 0; k < PUBSUB_NKINDS; k++)
        ks_dict_free(ps->names[k], pubsub_chan_free);
    util_free(ps);
}

/* ------------------------------------------------------------------------
 * Lookups
 * ------------------------------------------------------------------------ */

/* Builds the link-table key id.kind.name into stack (or a heap block when
 * it does not fit; the caller frees it if it differs from stack). */
static char *
pubsub_link_key(char *stack, uint64_t id, int kind, const void *name, size_t len, size_t *klen)
{
    char *k = 9 + len <= PUBSUB_KEY_STACK ? stack : util_malloc(9 + len);
    memcpy(k, &id, 8);
    k[8] = (char)kind;
    if (len)
        memcpy(k + 9, name, len);
    *klen = 9 + len;
    return k;
}

static pubsub_sub *
pubsub_sub_find(pubsub *ps, uint64_t id)
{
    ks_dict_entry *e = ks_dict_find(ps->subs, &id, sizeof(id));
    return e ? ks_dict_entry_val(e) : NULL;
}

static pubsub_chan *
pubsub_chan_find(pubsub *ps, int kind, const void *name, size_t len)
{
    ks_dict_entry *e = ks_dict_find(ps->names[kind], name, len);
    return e ? ks_dict_entry_val(e) : NULL;
}

size_t
pubsub_count(pubsub *ps, int kind, uint64_t id)
{
    pubsub_sub *s = pubsub_sub_find(ps, id);
    assert(kind >= 0 && kind < PUBSUB_NKINDS);
    return s ? s->count[kind] : 0;
}

size_t
pubsub_names(pubsub *ps, int kind)
{
    assert(kind >= 0 && kind < PUBSUB_NKINDS);
    return ks_dict_count(ps->names[kind]);
}

size_t
pubsub_numsub(pubsub *ps, int kind, const void *name, size_t len)
{
    pubsub_chan *ch = pubsub_chan_find(ps, kind, name, len);
    return ch ? ch->count : 0;
}

const char *
pubsub_first(pubsub *ps, int kind, uint64_t id, size_t *len)
{
    pubsub_sub *s = pubsub_sub_find(ps, id);
    if (s == NULL || s->head[kind] == NULL)
        return NULL;
    *len = s->head[kind]->chan->len;
    return s->head[kind]->chan->name;
}

void
pubsub_each(pubsub *ps, int kind, const char *pat, size_t plen,
            void (*fn)(void *arg, const char *name, size_t len), void *arg)
{
    ks_dict_iter it;
    ks_dict_entry *e;
    ks_dict_iter_start(&it, ps->names[kind]);
    while ((e = ks_dict_iter_next(&it)) != NULL) {
        pubsub_chan *ch = ks_dict_entry_val(e);
        if (pat == NULL || util_glob_match(pat, plen, ch->name, ch->len, 0))
            fn(arg, ch->name, ch->len);
    }
    ks_dict_iter_stop(&it);
}

/* ------------------------------------------------------------------------
 * Subscribe / unsubscribe
 * ------------------------------------------------------------------------ */

int
pubsub_subscribe(pubsub *ps, int kind, uint64_t id, void *data, const void *name, size_t len)
{
    char stack[PUBSUB_KEY_STACK];
    size_t klen;
    char *key = pubsub_link_key(stack, id, kind, name, len, &klen);
    int existed;
    ks_dict_entry *le = ks_dict_add_or_find(ps->links, key, klen, &existed);
    pubsub_sub *s;
    pubsub_chan *ch;
    pubsub_link *l;

    if (key != stack)
        util_free(key);
    if (le == NULL)
        runnel_panic("out of memory subscribing");
    if (existed)
        return 0;
    s = pubsub_sub_find(ps, id);
    if (s == NULL) {
        s = util_calloc(1, sizeof(*s));
        s->id = id;
        s->data = data;
        if (ks_dict_add(ps->subs, &id, sizeof(id), s) == NULL)
            runnel_panic("out of memory subscribing");
    }
    assert(s->data == data);
    ch = pubsub_chan_find(ps, kind, name, len);
    if (ch == NULL) {
        ch = util_calloc(1, sizeof(*ch));
        ch->kind = kind;
        ch->name = util_malloc(len + 1);
        if (len)
            memcpy(ch->name, name, len);
        ch->name[len] = '\0';
        ch->len = len;
        if (ks_dict_add(ps->names[kind], name, len, ch) == NULL)
            runnel_panic("out of memory subscribing");
        if (kind == PUBSUB_PATTERN) {
            ch->pprev = ps->pat_tail;
            if (ps->pat_tail)
                ps->pat_tail->pnext = ch;
            else
                ps->pat_head = ch;
            ps->pat_tail = ch;
        }
    }
    l = util_calloc(1, sizeof(*l));
    l->chan = ch;
    l->sub = s;
    l->cprev = ch->tail;
    if (ch->tail)
        ch->tail->cnext = l;
    else
        ch->head = l;
    ch->tail = l;
    ch->count++;
    l->sprev = s->tail[kind];
    if (s->tail[kind])
        s->tail[kind]->snext = l;
    else
        s->head[kind] = l;
    s->tail[kind] = l;
    s->count[kind]++;
    ks_dict_entry_set_val(le, l);
    return 1;
}

/* Unlinks l from its channel and subscriber and frees it, with the channel
 * and subscriber records when they become empty. The link-table entry must
 * already be gone. */
static void
pubsub_link_free(pubsub *ps, pubsub_link *l)
{
    pubsub_chan *ch = l->chan;
    pubsub_sub *s = l->sub;
    int kind = ch->kind;

    if (l->cprev)
        l->cprev->cnext = l->cnext;
    else
        ch->head = l->cnext;
    if (l->cnext)
        l->cnext->cprev = l->cprev;
    else
        ch->tail = l->cprev;
    if (--ch->count == 0) {
        if (kind == PUBSUB_PATTERN) {
            if (ch->pprev)
                ch->pprev->pnext = ch->pnext;
            else
                ps->pat_head = ch->pnext;
            if (ch->pnext)
                ch->pnext->pprev = ch->pprev;
            else
                ps->pat_tail = ch->pprev;
        }
        ks_dict_del(ps->names[kind], ch->name, ch->len, NULL);
        pubsub_chan_free(ch);
    }
    if (l->sprev)
        l->sprev->snext = l->snext;
    else
        s->head[kind] = l->snext;
    if (l->snext)
        l->snext->sprev = l->sprev;
    else
        s->tail[kind] = l->sprev;
    s->count[kind]--;
    if (s->count[PUBSUB_CHANNEL] + s->count[PUBSUB_PATTERN] + s->count[PUBSUB_SHARD] == 0) {
        ks_dict_del(ps->subs, &s->id, sizeof(s->id), NULL);
        util_free(s);
    }
    util_free(l);
}

int
pubsub_unsubscribe(pubsub *ps, int kind, uint64_t id, const void *name, size_t len)
{
    char stack[PUBSUB_KEY_STACK];
    size_t klen;
    char *key = pubsub_link_key(stack, id, kind, name, len, &klen);
    ks_dict_entry *le = ks_dict_unlink(ps->links, key, klen);
    pubsub_link *l;

    if (key != stack)
        util_free(key);
    if (le == NULL)
        return 0;
    l = ks_dict_entry_val(le);
    ks_dict_entry_free(le);
    pubsub_link_free(ps, l);
    return 1;
}

size_t
pubsub_drop(pubsub *ps, uint64_t id)
{
    size_t n = 0;
    for (int k = 0; k < PUBSUB_NKINDS; k++) {
        size_t len;
        const char *name;
        /* Each removal may free the subscriber record: look it up again. */
        while ((name = pubsub_first(ps, k, id, &len)) != NULL) {
            int gone = pubsub_unsubscribe(ps, k, id, name, len);
            assert(gone);
            (void)gone;
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------------------------------
 * Publishing
 * ------------------------------------------------------------------------ */

/* Hands m to every subscriber of ch; returns how many. */
static long long
pubsub_fan_out(pubsub *ps, pubsub_chan *ch, pubsub_msg *m)
{
    long long n = 0;
    for (pubsub_link *l = ch->head; l; l = l->cnext) {
        ps->fn(ps->priv, l->sub->id, l->sub->data, m);
        n++;
    }
    pubsub_buf_unref(m->frame[0]);
    pubsub_buf_unref(m->frame[1]);
    m->frame[0] = m->frame[1] = NULL;
    return n;
}

long long
pubsub_publish(pubsub *ps, int shard, const void *channel, size_t clen, const void *msg,
               size_t mlen)
{
    pubsub_msg m = {0};
    pubsub_chan *ch;
    long long n = 0;

    m.ch = channel;
    m.clen = clen;
    m.msg = msg;
    m.mlen = mlen;
    if (shard) {
        m.kind = PUBSUB_MSG_SMESSAGE;
        ch = pubsub_chan_find(ps, PUBSUB_SHARD, channel, clen);
        return ch ? pubsub_fan_out(ps, ch, &m) : 0;
    }
    m.kind = PUBSUB_MSG_MESSAGE;
    ch = pubsub_chan_find(ps, PUBSUB_CHANNEL, channel, clen);
    if (ch)
        n += pubsub_fan_out(ps, ch, &m);
    m.kind = PUBSUB_MSG_PMESSAGE;
    for (pubsub_chan *p = ps->pat_head; p; p = p->pnext) {
        if (!util_glob_match(p->name, p->len, channel, clen, 0))
            continue;
        m.pat = p->name;
        m.plen = p->len;
        n += pubsub_fan_out(ps, p, &m);
    }
    return n;
}

/* Appends a bulk string to dst; returns the new end. */
static char *
pubsub_put_bulk(char *dst, const char *p, size_t len)
{
    dst += resp_hdr(dst, '$', (long long)len);
    if (len)
        memcpy(dst, p, len);
    dst[len] = '\r';
    dst[len + 1] = '\n';
    return dst + len + 2;
}

pubsub_buf *
pubsub_msg_frame(pubsub_msg *m, int resp)
{
    static const char *const names[] = {"message", "pmessage", "smessage"};
    int slot = resp >= 3 ? 1 : 0;
    size_t cap;
    pubsub_buf *b;
    char *p;

    if (m->frame[slot])
        return m->frame[slot];
    cap = 4 * RESP_HDR_MAX + 16 + m->plen + m->clen + m->mlen + 8;
    b = pubsub_buf_new(cap);
    p = b->data;
    p += resp_hdr(p, slot ? '>' : '*', m->kind == PUBSUB_MSG_PMESSAGE ? 4 : 3);
    p = pubsub_put_bulk(p, names[m->kind], strlen(names[m->kind]));
    if (m->kind == PUBSUB_MSG_PMESSAGE)
        p = pubsub_put_bulk(p, m->pat, m->plen);
    p = pubsub_put_bulk(p, m->ch, m->clen);
    p = pubsub_put_bulk(p, m->msg, m->mlen);
    b->len = (size_t)(p - b->data);
    assert(b->len <= cap);
    m->frame[slot] = b;
    return b;
}

int
pubsub_check(pubsub *ps)
{
    size_t links = 0, sublinks = 0, pats = 0;
    ks_dict_iter it;
    ks_dict_entry *e;
    for (int k = 0; k < PUBSUB_NKINDS; k++) {
        ks_dict_iter_start(&it, ps->names[k]);
        while ((e = ks_dict_iter_next(&it)) != NULL) {
            pubsub_chan *ch = ks_dict_entry_val(e);
            size_t n = 0;
            for (pubsub_link *l = ch->head; l; l = l->cnext) {
                if (l->chan != ch || (l->cnext && l->cnext->cprev != l))
                    break;
                n++;
            }
            if (ch->kind != k || n != ch->count || n == 0) {
                ks_dict_iter_stop(&it);
                return -EINVAL;
            }
            links += n;
        }
        ks_dict_iter_stop(&it);
    }
    for (pubsub_chan *p = ps->pat_head; p; p = p->pnext)
        pats++;
    if (pats != ks_dict_count(ps->names[PUBSUB_PATTERN]))
        return -EINVAL;
    ks_dict_iter_start(&it, ps->subs);
    while ((e = ks_dict_iter_next(&it)) != NULL) {
        pubsub_sub *s = ks_dict_entry_val(e);
        size_t total = 0;
        for (int k = 0; k < PUBSUB_NKINDS; k++) {
            size_t n = 0;
            for (pubsub_link *l = s->head[k]; l; l = l->snext) {
                if (l->sub != s || l->chan->kind != k)
                    break;
                n++;
            }
            if (n != s->count[k])
                break;
            total += n;
        }
        if (total == 0 || total != s->count[0] + s->count[1] + s->count[2]) {
            ks_dict_iter_stop(&it);
            return -EINVAL;
        }
        sublinks += total;
    }
    ks_dict_iter_stop(&it);
    if (links != sublinks || links != ks_dict_count(ps->links))
        return -EINVAL;
    return 0;
}
