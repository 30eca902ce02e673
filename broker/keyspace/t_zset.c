/*
 * broker/keyspace/t_zset: sorted set values in listpack and skiplist
 * encodings (see t_zset.h).
 *
 * Both encodings keep the same order: by score, ties broken by member
 * bytes (memcmp over the common prefix, the shorter first). Scores compare
 * with < and ==, so -0.0 and 0.0 are equal and ordered by member, as in
 * Redis. The skiplist node does not own its member: it points at the key
 * bytes of its dict entry (entries never move), so each member is stored
 * once; the dict value is the node. Nodes are unlinked from the list before
 * their entry is freed. Hot path: ZADD / ZSCORE / ZRANK, one dict probe
 * plus one O(log n) descent; every range query is one or two descents
 * and a level-0 walk. Not here: replies, limits from the configuration.
 *
 * Allocation failure aborts (util_malloc, runnel_panic), as for every
 * broker value: no command handler carries an OOM path.
 */
#include "broker/keyspace/t_zset.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "broker/keyspace/dict.h"
#include "broker/keyspace/listpack.h"
#include "broker/util/mem.h"

/* One skiplist node; lvl[] has `level` links. */
typedef struct ks_zsl_node {
    const char *m;            /* member bytes, borrowed from the dict entry key */
    size_t len;               /* member length in bytes */
    double score;             /* never NaN */
    struct ks_zsl_node *back; /* previous node at level 0, NULL for the first */
    int level;                /* links in lvl, 1..KS_ZSL_MAXLEVEL */
    struct ks_zsl_link {
        struct ks_zsl_node *fwd; /* next node at this level, NULL at the end */
        size_t span;             /* level-0 steps to fwd (nodes after us when fwd is NULL) */
    } lvl[];                     /* level links, lowest first */
} ks_zsl_node;

/* The skiplist payload. */
typedef struct ks_zsl {
    ks_dict *dict;     /* member -> ks_zsl_node *, owns the member bytes */
    ks_zsl_node *head; /* sentinel with KS_ZSL_MAXLEVEL links, owned */
    ks_zsl_node *tail; /* highest node, NULL when empty */
    size_t length;     /* nodes, excluding head */
    int level;         /* levels in use, >= 1 */
    size_t node_bytes; /* bytes allocated for nodes (head included) */
} ks_zsl;

/* Predicate over a node and its 1-based rank, monotone along the list. */
typedef int (*ks_zsl_pred)(const ks_zsl_node *n, size_t rank, const void *arg);

/* ---- Helpers shared by both encodings ---- */

/* Compares member bytes: memcmp over the common prefix, shorter first. */
static int
ks_zset_memcmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Orders (score, member) pairs. */
static int
ks_zset_cmp(double s1, const void *m1, size_t l1, double s2, const void *m2, size_t l2)
{
    if (s1 < s2)
        return -1;
    if (s1 > s2)
        return 1;
    return ks_zset_memcmp(m1, l1, m2, l2);
}

/* Score range bounds, one side each, honouring the exclusive flags. A walk
 * that starts past one bound only needs the other to know when to stop. */
static int
ks_zset_gte_min(double v, const ks_zrange *r)
{
    return r->minex ? v > r->min : v >= r->min;
}

static int
ks_zset_lte_max(double v, const ks_zrange *r)
{
    return r->maxex ? v < r->max : v <= r->max;
}

/* 1 when no score can be inside r. */
static int
ks_zset_range_empty(const ks_zrange *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

/* Both bounds: whether a score belongs to r. */
static int
ks_zset_in_range(double v, const ks_zrange *r)
{
    return ks_zset_gte_min(v, r) && ks_zset_lte_max(v, r);
}

/* Lex bounds: "-" is below every member and "+" above every member,
 * whichever end they appear at, as Redis's shared min/max strings. */
static int
ks_zset_lex_gte_min(const char *m, size_t len, const ks_zlexrange *lr)
{
    if (lr->mininf)
        return lr->mininf < 0;
    int c = ks_zset_memcmp(m, len, lr->min, lr->minlen);
    return lr->minex ? c > 0 : c >= 0;
}

static int
ks_zset_lex_lte_max(const char *m, size_t len, const ks_zlexrange *lr)
{
    if (lr->maxinf)
        return lr->maxinf > 0;
    int c = ks_zset_memcmp(m, len, lr->max, lr->maxlen);
    return lr->maxex ? c < 0 : c <= 0;
}

/* 1 when no member can be inside lr ("+" as min, "-" as max, min > max,
 * or min == max with an exclusive end), as Redis's sdscmplex test. */
static int
ks_zset_lex_empty(const ks_zlexrange *lr)
{
    if (lr->mininf > 0 || lr->maxinf < 0)
        return 1;
    if (lr->mininf < 0 || lr->maxinf > 0)
        return 0;
    int c = ks_zset_memcmp(lr->min, lr->minlen, lr->max, lr->maxlen);
    return c > 0 || (c == 0 && (lr->minex || lr->maxex));
}

/* Both lex bounds: whether a member belongs to lr. */
static int
ks_zset_in_lex(const char *m, size_t len, const ks_zlexrange *lr)
{
    return ks_zset_lex_gte_min(m, len, lr) && ks_zset_lex_lte_max(m, len, lr);
}

/* ---- Argument parsing ---- */

/* Copies s[0..len) into buf (or a heap block when long) NUL-terminated. */
static char *
ks_zset_cstr(const void *s, size_t len, char *buf, size_t cap)
{
    char *p = len < cap ? buf : util_malloc(len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

int
ks_zset_parse_score(const void *s, size_t len, double *out)
{
    char buf[128];
    char *p, *end;
    double v;
    int ok;

    /* As Redis's getDoubleFromObject: the whole text (no NUL inside, no
     * leading space), overflow refused, underflow to zero refused. */
    char c0 = len > 0 ? ((const char *)s)[0] : '\0';
    if (len == 0 || (c0 != '\0' && strchr(" \t\n\v\f\r", c0) != NULL))
        return -EINVAL;
    p = ks_zset_cstr(s, len, buf, sizeof(buf));
    errno = 0;
    v = strtod(p, &end);
    ok = (size_t)(end - p) == len && !isnan(v) &&
         !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0.0));
    if (p != buf)
        util_free(p);
    if (!ok)
        return -EINVAL;
    *out = v;
    return 0;
}

/* One end of a score range: "(" prefix for exclusive, then strtod up to
 * the first NUL byte, as Redis's zslParseRange (which accepts leading
 * space, an empty number as 0 and overflow as inf). */
static int
ks_zset_parse_range_end(const void *s, size_t len, double *v, int *ex)
{
    char buf[128];
    char *p, *q, *end;
    int ok;

    p = ks_zset_cstr(s, len, buf, sizeof(buf));
    q = p;
    *ex = 0;
    if (len > 0 && q[0] == '(') {
        *ex = 1;
        q++;
    }
    *v = strtod(q, &end);
    ok = end[0] == '\0' && !isnan(*v);
    if (p != buf)
        util_free(p);
    return ok ? 0 : -EINVAL;
}

int
ks_zset_parse_range(const void *min, size_t minlen, const void *max, size_t maxlen, ks_zrange *out)
{
    ks_zrange r;
    if (ks_zset_parse_range_end(min, minlen, &r.min, &r.minex) < 0 ||
        ks_zset_parse_range_end(max, maxlen, &r.max, &r.maxex) < 0)
        return -EINVAL;
    *out = r;
    return 0;
}

/* One end of a lex range: "+" / "-" (alone, or followed by a NUL byte as
 * Redis reads it), or '[' / '(' then the bytes. */
static int
ks_zset_parse_lex_end(const void *s, size_t len, const char **p, size_t *plen, int *ex, int *inf)
{
    const char *c = s;
    if (len == 0)
        return -EINVAL;
    *p = NULL;
    *plen = 0;
    *ex = 0;
    *inf = 0;
    switch (c[0]) {
    case '+':
    case '-':
        if (len > 1 && c[1] != '\0')
            return -EINVAL;
        *inf = c[0] == '+' ? 1 : -1;
        return 0;
    case '(':
    case '[':
        *ex = c[0] == '(';
        *p = c + 1;
        *plen = len - 1;
        return 0;
    default:
        return -EINVAL;
    }
}

int
ks_zset_parse_lexrange(const void *min, size_t minlen, const void *max, size_t maxlen,
                       ks_zlexrange *out)
{
    ks_zlexrange lr;
    if (ks_zset_parse_lex_end(min, minlen, &lr.min, &lr.minlen, &lr.minex, &lr.mininf) < 0 ||
        ks_zset_parse_lex_end(max, maxlen, &lr.max, &lr.maxlen, &lr.maxex, &lr.maxinf) < 0)
        return -EINVAL;
    *out = lr;
    return 0;
}

/* ---- Listpack encoding ---- */

static ks_lp *
ks_zset_lp(const ks_obj *o)
{
    assert(o->type == KS_ZSET && o->enc == KS_ENC_LISTPACK);
    return (ks_lp *)o->ptr;
}

/* Score stored in the entry at pos (8 raw bytes). */
static double
ks_zset_lp_score(const ks_lp *lp, size_t pos)
{
    size_t len;
    const char *p = ks_lp_get(lp, pos, &len);
    double v;
    assert(len == sizeof(v));
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Member at pos and its score (from the following entry). */
static const char *
ks_zset_lp_pair(const ks_lp *lp, size_t pos, size_t *len, double *score)
{
    const char *m = ks_lp_get(lp, pos, len);
    if (score != NULL)
        *score = ks_zset_lp_score(lp, ks_lp_next(lp, pos));
    return m;
}

/* Position of the member entry after / before the pair at pos. */
static size_t
ks_zset_lp_next(const ks_lp *lp, size_t pos)
{
    size_t s = ks_lp_next(lp, pos);
    return s == KS_LP_NONE ? KS_LP_NONE : ks_lp_next(lp, s);
}

static size_t
ks_zset_lp_prev(const ks_lp *lp, size_t pos)
{
    size_t s = ks_lp_prev(lp, pos);
    return s == KS_LP_NONE ? KS_LP_NONE : ks_lp_prev(lp, s);
}

/* Position of the last pair's member entry, KS_LP_NONE when empty. */
static size_t
ks_zset_lp_last(const ks_lp *lp)
{
    size_t s = ks_lp_last(lp);
    return s == KS_LP_NONE ? KS_LP_NONE : ks_lp_prev(lp, s);
}

/* Position of member m, KS_LP_NONE when absent. */
static size_t
ks_zset_lp_find(const ks_lp *lp, const void *m, size_t len)
{
    size_t first = ks_lp_first(lp);
    if (first == KS_LP_NONE)
        return KS_LP_NONE;
    return ks_lp_find(lp, first, m, len, 1);
}

/* Appends a score entry. -0.0 is stored as 0.0: Redis writes listpack
 * scores as text with integral values in integer form, which drops the
 * sign of zero, so ZSCORE of a listpack member never says "-0". */
static size_t
ks_zset_lp_put_score(ks_lp *lp, size_t pos, double score)
{
    if (score == 0.0)
        score = 0.0;
    return ks_lp_insert(lp, pos, &score, sizeof(score));
}

/* Inserts the pair in order (m must not be present nor point into lp). */
static void
ks_zset_lp_insert(ks_lp *lp, double score, const void *m, size_t len)
{
    size_t pos = ks_lp_first(lp);
    while (pos != KS_LP_NONE) {
        size_t mlen;
        double s;
        const char *cur = ks_zset_lp_pair(lp, pos, &mlen, &s);
        if (ks_zset_cmp(s, cur, mlen, score, m, len) > 0)
            break;
        pos = ks_zset_lp_next(lp, pos);
    }
    pos = ks_lp_insert(lp, pos, m, len);
    ks_zset_lp_put_score(lp, ks_lp_next(lp, pos), score);
}

/* ---- Skiplist encoding ---- */

static ks_zsl *
ks_zset_zsl(const ks_obj *o)
{
    assert(o->type == KS_ZSET && o->enc == KS_ENC_SKIPLIST);
    return (ks_zsl *)o->ptr;
}

/* Bytes of a node with `level` links (the flexible array included). */
static size_t
ks_zsl_node_size(int level)
{
    return sizeof(ks_zsl_node) + (size_t)level * sizeof(struct ks_zsl_link);
}

/* Level of a new node: 1, then one more with probability 1/4 each time.
 * A private xorshift keeps the shape independent of other PRNG users. */
static int
ks_zsl_random_level(void)
{
    static uint64_t state = 0x9E3779B97F4A7C15ULL;
    int level = 1;
    for (;;) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        uint64_t r = state * 0x2545F4914F6CDD1DULL;
        for (int i = 0; i < 32; i++, r >>= 2) {
            if ((r & 3) != 0 || level == KS_ZSL_MAXLEVEL)
                return level;
            level++;
        }
    }
}

/* A zeroed node of the given level, counted in node_bytes for MEMORY
 * USAGE; the caller sets member, score and links. */
static ks_zsl_node *
ks_zsl_node_new(ks_zsl *zsl, int level)
{
    ks_zsl_node *n = util_calloc(1, ks_zsl_node_size(level));
    n->level = level;
    zsl->node_bytes += ks_zsl_node_size(level);
    return n;
}

/* Frees an unlinked node and uncounts it. */
static void
ks_zsl_node_free(ks_zsl *zsl, ks_zsl_node *n)
{
    zsl->node_bytes -= ks_zsl_node_size(n->level);
    util_free(n);
}

/* An empty skiplist: the head sentinel always has every level, so raising
 * the list's level never reallocates it. */
static ks_zsl *
ks_zsl_new(void)
{
    ks_zsl *zsl = util_calloc(1, sizeof(*zsl));
    zsl->dict = ks_dict_new();
    if (zsl->dict == NULL)
        runnel_panic("out of memory creating a sorted set");
    zsl->head = ks_zsl_node_new(zsl, KS_ZSL_MAXLEVEL);
    zsl->level = 1;
    return zsl;
}

/* Frees nodes along level 0, then the dict (which owns the member
 * bytes the nodes borrowed), then the skiplist itself. */
static void
ks_zsl_free(ks_zsl *zsl)
{
    ks_zsl_node *n = zsl->head->lvl[0].fwd;
    while (n != NULL) {
        ks_zsl_node *next = n->lvl[0].fwd;
        util_free(n);
        n = next;
    }
    util_free(zsl->head);
    ks_dict_free(zsl->dict, NULL);
    util_free(zsl);
}

/* Orders node a against (score, m): <0, 0 or >0. */
static int
ks_zsl_node_cmp(const ks_zsl_node *a, double score, const void *m, size_t len)
{
    return ks_zset_cmp(a->score, a->m, a->len, score, m, len);
}

/* Links node n (level and score set) into the list by its order. */
static void
ks_zsl_link(ks_zsl *zsl, ks_zsl_node *n)
{
    ks_zsl_node *update[KS_ZSL_MAXLEVEL];
    size_t rank[KS_ZSL_MAXLEVEL];
    ks_zsl_node *x = zsl->head;

    for (int i = zsl->level - 1; i >= 0; i--) {
        rank[i] = i == zsl->level - 1 ? 0 : rank[i + 1];
        while (x->lvl[i].fwd != NULL &&
               ks_zsl_node_cmp(x->lvl[i].fwd, n->score, n->m, n->len) < 0) {
            rank[i] += x->lvl[i].span;
            x = x->lvl[i].fwd;
        }
        update[i] = x;
    }
    if (n->level > zsl->level) {
        /* New levels start at the head, whose link spans the whole list. */
        for (int i = zsl->level; i < n->level; i++) {
            rank[i] = 0;
            update[i] = zsl->head;
            update[i]->lvl[i].fwd = NULL;
            update[i]->lvl[i].span = zsl->length;
        }
        zsl->level = n->level;
    }
    for (int i = 0; i < n->level; i++) {
        n->lvl[i].fwd = update[i]->lvl[i].fwd;
        update[i]->lvl[i].fwd = n;
        n->lvl[i].span = update[i]->lvl[i].span - (rank[0] - rank[i]);
        update[i]->lvl[i].span = rank[0] - rank[i] + 1;
    }
    for (int i = n->level; i < zsl->level; i++)
        update[i]->lvl[i].span++;
    n->back = update[0] == zsl->head ? NULL : update[0];
    if (n->lvl[0].fwd != NULL)
        n->lvl[0].fwd->back = n;
    else
        zsl->tail = n;
    zsl->length++;
}

/* Unlinks x given its predecessors at every level in use. */
static void
ks_zsl_unlink_with(ks_zsl *zsl, ks_zsl_node *x, ks_zsl_node **update)
{
    for (int i = 0; i < zsl->level; i++) {
        if (update[i]->lvl[i].fwd == x) {
            update[i]->lvl[i].span += x->lvl[i].span - 1;
            update[i]->lvl[i].fwd = x->lvl[i].fwd;
        } else {
            update[i]->lvl[i].span--;
        }
    }
    if (x->lvl[0].fwd != NULL)
        x->lvl[0].fwd->back = x->back;
    else
        zsl->tail = x->back;
    while (zsl->level > 1 && zsl->head->lvl[zsl->level - 1].fwd == NULL)
        zsl->level--;
    zsl->length--;
}

/* Fills update[] with the last node before (score, m) at every level. */
static void
ks_zsl_find_update(ks_zsl *zsl, double score, const void *m, size_t len, ks_zsl_node **update)
{
    ks_zsl_node *x = zsl->head;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->lvl[i].fwd != NULL && ks_zsl_node_cmp(x->lvl[i].fwd, score, m, len) < 0)
            x = x->lvl[i].fwd;
        update[i] = x;
    }
}

/* Unlinks node n (found by its own score and member); does not free it. */
static void
ks_zsl_unlink(ks_zsl *zsl, ks_zsl_node *n)
{
    ks_zsl_node *update[KS_ZSL_MAXLEVEL];
    ks_zsl_find_update(zsl, n->score, n->m, n->len, update);
    assert(update[0]->lvl[0].fwd == n);
    ks_zsl_unlink_with(zsl, n, update);
}

/* Adds a new member (absent from the dict). */
static ks_zsl_node *
ks_zsl_insert(ks_zsl *zsl, double score, const void *m, size_t len)
{
    ks_zsl_node *n = ks_zsl_node_new(zsl, ks_zsl_random_level());
    ks_dict_entry *e = ks_dict_add(zsl->dict, m, len, n);
    if (e == NULL)
        runnel_panic("out of memory adding a sorted set member");
    n->m = ks_dict_entry_key(e, &n->len);
    n->score = score;
    ks_zsl_link(zsl, n);
    return n;
}

/* Unlinks n, drops its dict entry (and with it the member bytes), frees it. */
static void
ks_zsl_drop(ks_zsl *zsl, ks_zsl_node *n)
{
    ks_dict_entry *e = ks_dict_unlink(zsl->dict, n->m, n->len);
    assert(e != NULL && ks_dict_entry_val(e) == n);
    ks_dict_entry_free(e);
    ks_zsl_node_free(zsl, n);
}

/* Moves n to a new score: in place when the order holds, else relinked. */
static void
ks_zsl_update_score(ks_zsl *zsl, ks_zsl_node *n, double score)
{
    ks_zsl_node *next = n->lvl[0].fwd;
    if ((n->back == NULL || ks_zsl_node_cmp(n->back, score, n->m, n->len) < 0) &&
        (next == NULL || ks_zsl_node_cmp(next, score, n->m, n->len) > 0)) {
        n->score = score;
        return;
    }
    ks_zsl_unlink(zsl, n);
    n->score = score;
    ks_zsl_link(zsl, n);
}

/* Last node (the head when none) of the prefix where pred holds, and its
 * 1-based rank (0 for the head). */
static ks_zsl_node *
ks_zsl_last_where(ks_zsl *zsl, ks_zsl_pred pred, const void *arg, size_t *rank,
                  ks_zsl_node **update)
{
    ks_zsl_node *x = zsl->head;
    size_t r = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->lvl[i].fwd != NULL && pred(x->lvl[i].fwd, r + x->lvl[i].span, arg)) {
            r += x->lvl[i].span;
            x = x->lvl[i].fwd;
        }
        if (update != NULL)
            update[i] = x;
    }
    if (rank != NULL)
        *rank = r;
    return x;
}

/* Node at 1-based rank (1..length). */
static ks_zsl_node *
ks_zsl_at(ks_zsl *zsl, size_t rank)
{
    ks_zsl_node *x = zsl->head;
    size_t r = 0;
    assert(rank >= 1 && rank <= zsl->length);
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->lvl[i].fwd != NULL && r + x->lvl[i].span <= rank) {
            r += x->lvl[i].span;
            x = x->lvl[i].fwd;
        }
        if (r == rank)
            return x;
    }
    return NULL;
}

/*
 * Predicates for ks_zsl_last_where. Each holds on a prefix of the list:
 * "below the lower bound" finds the node before a range, "within the upper
 * bound" finds its last node, and the rank predicate finds a position.
 */
static int
ks_zsl_pred_below_min(const ks_zsl_node *n, size_t rank, const void *arg)
{
    (void)rank;
    return !ks_zset_gte_min(n->score, arg);
}

static int
ks_zsl_pred_lte_max(const ks_zsl_node *n, size_t rank, const void *arg)
{
    (void)rank;
    return ks_zset_lte_max(n->score, arg);
}

static int
ks_zsl_pred_below_lexmin(const ks_zsl_node *n, size_t rank, const void *arg)
{
    (void)rank;
    return !ks_zset_lex_gte_min(n->m, n->len, arg);
}

static int
ks_zsl_pred_lte_lexmax(const ks_zsl_node *n, size_t rank, const void *arg)
{
    (void)rank;
    return ks_zset_lex_lte_max(n->m, n->len, arg);
}

static int
ks_zsl_pred_rank_below(const ks_zsl_node *n, size_t rank, const void *arg)
{
    (void)n;
    return rank < *(const size_t *)arg;
}

/* The node at or after the one whose predecessor is x (NULL at the end). */
static ks_zsl_node *
ks_zsl_after(const ks_zsl_node *x)
{
    return x->lvl[0].fwd;
}

/* First node in r with its 1-based rank, or NULL. */
static ks_zsl_node *
ks_zsl_first_in_range(ks_zsl *zsl, const ks_zrange *r, size_t *rank)
{
    size_t k;
    ks_zsl_node *x;
    if (ks_zset_range_empty(r))
        return NULL;
    x = ks_zsl_after(ks_zsl_last_where(zsl, ks_zsl_pred_below_min, r, &k, NULL));
    if (x == NULL || !ks_zset_lte_max(x->score, r))
        return NULL;
    if (rank != NULL)
        *rank = k + 1;
    return x;
}

/* Last node in r with its 1-based rank, or NULL. */
static ks_zsl_node *
ks_zsl_last_in_range(ks_zsl *zsl, const ks_zrange *r, size_t *rank)
{
    size_t k;
    ks_zsl_node *x;
    if (ks_zset_range_empty(r))
        return NULL;
    x = ks_zsl_last_where(zsl, ks_zsl_pred_lte_max, r, &k, NULL);
    if (x == zsl->head || !ks_zset_gte_min(x->score, r))
        return NULL;
    if (rank != NULL)
        *rank = k;
    return x;
}

/* First node in lr with its 1-based rank, or NULL. */
static ks_zsl_node *
ks_zsl_first_in_lex(ks_zsl *zsl, const ks_zlexrange *lr, size_t *rank)
{
    size_t k;
    ks_zsl_node *x;
    if (ks_zset_lex_empty(lr))
        return NULL;
    x = ks_zsl_after(ks_zsl_last_where(zsl, ks_zsl_pred_below_lexmin, lr, &k, NULL));
    if (x == NULL || !ks_zset_lex_lte_max(x->m, x->len, lr))
        return NULL;
    if (rank != NULL)
        *rank = k + 1;
    return x;
}

/* Last node in lr with its 1-based rank, or NULL. */
static ks_zsl_node *
ks_zsl_last_in_lex(ks_zsl *zsl, const ks_zlexrange *lr, size_t *rank)
{
    size_t k;
    ks_zsl_node *x;
    if (ks_zset_lex_empty(lr))
        return NULL;
    x = ks_zsl_last_where(zsl, ks_zsl_pred_lte_lexmax, lr, &k, NULL);
    if (x == zsl->head || !ks_zset_lex_gte_min(x->m, x->len, lr))
        return NULL;
    if (rank != NULL)
        *rank = k;
    return x;
}

/* ---- Lifecycle ---- */

static ks_obj *
ks_zset_obj(uint8_t enc, void *payload)
{
    ks_obj *o = util_calloc(1, sizeof(*o));
    o->type = KS_ZSET;
    o->enc = enc;
    o->lru = ks_clock_sec;
    o->ptr = payload;
    return o;
}

/* A heap ks_lp, empty (ks_lp is a value type meant to be embedded). */
static ks_lp *
ks_zset_lp_new(void)
{
    ks_lp *lp = util_malloc(sizeof(*lp));
    ks_lp_init(lp);
    return lp;
}

/* max_entries 0 means "never a listpack", as Redis's ZADD creating a key
 * with zset-max-listpack-entries 0 makes a skiplist even for one member. */
ks_obj *
ks_zset_new(size_t count, size_t maxlen, const ks_zset_limits *lim)
{
    if (lim->max_entries != 0 && count <= lim->max_entries && maxlen <= lim->max_value)
        return ks_zset_obj(KS_ENC_LISTPACK, ks_zset_lp_new());
    return ks_zset_obj(KS_ENC_SKIPLIST, ks_zsl_new());
}

/* The listpack copies as one buffer; the skiplist is rebuilt (new node
 * levels, same order) since its nodes point into its own dict. */
ks_obj *
ks_zset_dup(const ks_obj *o)
{
    ks_obj *c;
    if (o->enc == KS_ENC_LISTPACK) {
        ks_lp *lp = util_malloc(sizeof(*lp));
        ks_lp_copy(lp, ks_zset_lp(o));
        c = ks_zset_obj(KS_ENC_LISTPACK, lp);
    } else {
        ks_zsl *src = ks_zset_zsl(o);
        ks_zsl *zsl = ks_zsl_new();
        /* Walk from the tail so every insert lands at the head: O(1) each. */
        for (ks_zsl_node *n = src->tail; n != NULL; n = n->back)
            ks_zsl_insert(zsl, n->score, n->m, n->len);
        c = ks_zset_obj(KS_ENC_SKIPLIST, zsl);
    }
    return c;
}

/* Leaves o->ptr NULL so a second fini is harmless. */
void
ks_zset_fini(ks_obj *o)
{
    if (o->ptr == NULL)
        return;
    if (o->enc == KS_ENC_LISTPACK) {
        ks_lp_fini(ks_zset_lp(o));
        util_free(o->ptr);
    } else {
        ks_zsl_free(ks_zset_zsl(o));
    }
    o->ptr = NULL;
}

/* ---- Queries ---- */

size_t
ks_zset_count(const ks_obj *o)
{
    if (o->enc == KS_ENC_LISTPACK)
        return ks_zset_lp(o)->count / 2;
    return ks_zset_zsl(o)->length;
}

/* Skiplist: one dict probe, the node holds the score. */
int
ks_zset_score(ks_obj *o, const void *m, size_t len, double *score)
{
    if (o->enc == KS_ENC_LISTPACK) {
        ks_lp *lp = ks_zset_lp(o);
        size_t pos = ks_zset_lp_find(lp, m, len);
        if (pos == KS_LP_NONE)
            return 0;
        *score = ks_zset_lp_score(lp, ks_lp_next(lp, pos));
        return 1;
    }
    ks_dict_entry *e = ks_dict_find(ks_zset_zsl(o)->dict, m, len);
    if (e == NULL)
        return 0;
    *score = ((ks_zsl_node *)ks_dict_entry_val(e))->score;
    return 1;
}

/* Predicate: node at or before (score, member) given as a node. */
static int
ks_zsl_pred_not_after(const ks_zsl_node *n, size_t rank, const void *arg)
{
    const ks_zsl_node *t = arg;
    (void)rank;
    return ks_zsl_node_cmp(n, t->score, t->m, t->len) <= 0;
}

/* Listpack: count pairs up to the member. Skiplist: the dict gives the
 * node, then one top-down walk sums the spans up to it. */
long long
ks_zset_rank(ks_obj *o, const void *m, size_t len, int rev, double *score)
{
    size_t count = ks_zset_count(o);
    size_t rank = 0;
    double s;

    if (o->enc == KS_ENC_LISTPACK) {
        ks_lp *lp = ks_zset_lp(o);
        size_t pos = ks_lp_first(lp);
        for (; pos != KS_LP_NONE; pos = ks_zset_lp_next(lp, pos), rank++) {
            size_t mlen;
            const char *cur = ks_zset_lp_pair(lp, pos, &mlen, &s);
            if (ks_zset_memcmp(cur, mlen, m, len) == 0)
                break;
        }
        if (pos == KS_LP_NONE)
            return -1;
    } else {
        ks_zsl *zsl = ks_zset_zsl(o);
        ks_dict_entry *e = ks_dict_find(zsl->dict, m, len);
        if (e == NULL)
            return -1;
        ks_zsl_node *n = ks_dict_entry_val(e);
        ks_zsl_node *x = ks_zsl_last_where(zsl, ks_zsl_pred_not_after, n, &rank, NULL);
        assert(x == n);
        (void)x;
        rank--;
        s = n->score;
    }
    if (score != NULL)
        *score = s;
    return (long long)(rev ? count - 1 - rank : rank);
}

/* Skiplist: the difference of the ranks of the first and last node in
 * range, two O(log n) walks; a listpack just counts. */
size_t
ks_zset_count_range(ks_obj *o, const ks_zrange *r)
{
    size_t n = 0;
    if (o->enc == KS_ENC_LISTPACK) {
        ks_zset_iter it;
        ks_zset_iter_range(&it, o, r, 0, 0, SIZE_MAX);
        while (ks_zset_iter_next(&it, NULL, NULL, NULL))
            n++;
        return n;
    }
    size_t first, last;
    ks_zsl *zsl = ks_zset_zsl(o);
    if (ks_zsl_first_in_range(zsl, r, &first) == NULL)
        return 0;
    if (ks_zsl_last_in_range(zsl, r, &last) == NULL)
        return 0;
    return last - first + 1;
}

/* As ks_zset_count_range over a lex range. */
size_t
ks_zset_count_lex(ks_obj *o, const ks_zlexrange *lr)
{
    size_t n = 0;
    if (o->enc == KS_ENC_LISTPACK) {
        ks_zset_iter it;
        ks_zset_iter_lex(&it, o, lr, 0, 0, SIZE_MAX);
        while (ks_zset_iter_next(&it, NULL, NULL, NULL))
            n++;
        return n;
    }
    size_t first, last;
    ks_zsl *zsl = ks_zset_zsl(o);
    if (ks_zsl_first_in_lex(zsl, lr, &first) == NULL)
        return 0;
    if (ks_zsl_last_in_lex(zsl, lr, &last) == NULL || last < first)
        return 0;
    return last - first + 1;
}

/* A reverse rank counts from the top: rank k from the end is
 * count - 1 - k from the start. */
int
ks_zset_at(ks_obj *o, size_t rank, int rev, const char **m, size_t *len, double *score)
{
    size_t count = ks_zset_count(o);
    if (rank >= count)
        return 0;
    if (rev)
        rank = count - 1 - rank;
    if (o->enc == KS_ENC_LISTPACK) {
        ks_lp *lp = ks_zset_lp(o);
        size_t pos = ks_lp_index(lp, (long long)rank * 2);
        *m = ks_zset_lp_pair(lp, pos, len, score);
        return 1;
    }
    ks_zsl_node *n = ks_zsl_at(ks_zset_zsl(o), rank + 1);
    *m = n->m;
    *len = n->len;
    *score = n->score;
    return 1;
}

size_t
ks_zset_max_member_len(ks_obj *o)
{
    size_t best = 0;
    ks_zset_iter it;
    size_t len;
    const char *m;
    double s;
    ks_zset_iter_rank(&it, o, 0, SIZE_MAX, 0);
    while (ks_zset_iter_next(&it, &m, &len, &s))
        if (len > best)
            best = len;
    return best;
}

size_t
ks_zset_mem(const ks_obj *o)
{
    if (o->enc == KS_ENC_LISTPACK)
        return sizeof(ks_lp) + ks_lp_mem(ks_zset_lp(o));
    ks_zsl *zsl = ks_zset_zsl(o);
    return sizeof(*zsl) + zsl->node_bytes + ks_dict_mem(zsl->dict);
}

/* ---- Checker ---- */

/* A member seen by the listpack checker. */
typedef struct ks_zset_mref {
    const char *m; /* member bytes, borrowed from the listpack */
    size_t len;    /* member length */
} ks_zset_mref;

/* qsort order of member refs: member bytes. */
static int
ks_zset_mref_cmp(const void *a, const void *b)
{
    const ks_zset_mref *x = a, *y = b;
    return ks_zset_memcmp(x->m, x->len, y->m, y->len);
}

/* 1 when two of the n members are equal (sorts refs). */
static int
ks_zset_has_dup(ks_zset_mref *refs, size_t n)
{
    qsort(refs, n, sizeof(*refs), ks_zset_mref_cmp);
    for (size_t i = 1; i < n; i++)
        if (ks_zset_mref_cmp(&refs[i - 1], &refs[i]) == 0)
            return 1;
    return 0;
}

/* Pairs well formed (8-byte score, no NaN, no -0.0), strictly ordered,
 * members distinct. */
static int
ks_zset_check_lp(const ks_lp *lp)
{
    size_t pos, plen = 0, n = 0;
    const char *prev = NULL;
    double ps = 0;
    ks_zset_mref *refs;
    int rc = 0;

    if (ks_lp_check(lp) < 0 || lp->count % 2 != 0)
        return -EINVAL;
    refs = util_malloc((lp->count / 2 + 1) * sizeof(*refs));
    for (pos = ks_lp_first(lp); pos != KS_LP_NONE; pos = ks_zset_lp_next(lp, pos)) {
        size_t len, slen;
        size_t spos = ks_lp_next(lp, pos);
        const char *m = ks_lp_get(lp, pos, &len);
        double s;
        ks_lp_get(lp, spos, &slen);
        if (slen != sizeof(double)) {
            rc = -EINVAL;
            break;
        }
        s = ks_zset_lp_score(lp, spos);
        if (isnan(s) || (s == 0.0 && signbit(s)) ||
            (prev != NULL && ks_zset_cmp(ps, prev, plen, s, m, len) >= 0)) {
            rc = -EINVAL;
            break;
        }
        refs[n].m = m;
        refs[n].len = len;
        n++;
        prev = m;
        plen = len;
        ps = s;
    }
    if (rc == 0 && ks_zset_has_dup(refs, n))
        rc = -EINVAL;
    util_free(refs);
    return rc;
}

/* Node address -> rank, for checking spans. */
typedef struct ks_zsl_rankent {
    const ks_zsl_node *n; /* node, borrowed */
    size_t rank;          /* 1-based rank at level 0 */
} ks_zsl_rankent;

/* qsort / bsearch order of the rank table: node address. */
static int
ks_zsl_rankent_cmp(const void *a, const void *b)
{
    const ks_zsl_node *x = ((const ks_zsl_rankent *)a)->n;
    const ks_zsl_node *y = ((const ks_zsl_rankent *)b)->n;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* Rank of n looked up in the sorted table; 0 for the head, SIZE_MAX if unknown. */
static size_t
ks_zsl_rank_of(const ks_zsl *zsl, const ks_zsl_rankent *tab, const ks_zsl_node *n)
{
    ks_zsl_rankent key = {n, 0};
    const ks_zsl_rankent *hit;
    if (n == zsl->head)
        return 0;
    hit = bsearch(&key, tab, zsl->length, sizeof(*tab), ks_zsl_rankent_cmp);
    return hit != NULL ? hit->rank : SIZE_MAX;
}

/* Every level: each link's span is the rank distance to its target, the
 * chain holds exactly the nodes tall enough, in rank order. */
static int
ks_zsl_check_levels(const ks_zsl *zsl, const ks_zsl_rankent *tab, const size_t *tall)
{
    for (int i = 0; i < zsl->level; i++) {
        const ks_zsl_node *x = zsl->head;
        size_t seen = 0;
        for (;;) {
            size_t r = ks_zsl_rank_of(zsl, tab, x);
            const ks_zsl_node *f = x->lvl[i].fwd;
            if (r == SIZE_MAX)
                return -EINVAL;
            if (f == NULL) {
                if (x->lvl[i].span != zsl->length - r)
                    return -EINVAL;
                break;
            }
            size_t fr = ks_zsl_rank_of(zsl, tab, f);
            if (fr == SIZE_MAX || fr <= r || x->lvl[i].span != fr - r || f->level <= i)
                return -EINVAL;
            seen++;
            x = f;
        }
        if (seen != tall[i])
            return -EINVAL;
    }
    return 0;
}

/* Level 0 first (order, back links, tail, dict entries pointing at the
 * right node with the member bytes the node borrows, node accounting),
 * then every level's spans against the level-0 ranks. */
static int
ks_zset_check_zsl(ks_zsl *zsl)
{
    size_t tall[KS_ZSL_MAXLEVEL] = {0};
    ks_zsl_rankent *tab;
    const ks_zsl_node *prev = NULL;
    size_t n = 0, bytes = ks_zsl_node_size(KS_ZSL_MAXLEVEL);
    int maxlevel = 1, rc = 0;

    if (zsl->level < 1 || zsl->level > KS_ZSL_MAXLEVEL || ks_dict_check(zsl->dict) < 0 ||
        ks_dict_count(zsl->dict) != zsl->length)
        return -EINVAL;
    tab = util_malloc((zsl->length + 1) * sizeof(*tab));
    for (const ks_zsl_node *x = zsl->head->lvl[0].fwd; x != NULL; x = x->lvl[0].fwd) {
        ks_dict_entry *e;
        if (n == zsl->length || x->back != prev || x->level < 1 || x->level > KS_ZSL_MAXLEVEL ||
            isnan(x->score) ||
            (prev != NULL &&
             ks_zset_cmp(prev->score, prev->m, prev->len, x->score, x->m, x->len) >= 0)) {
            rc = -EINVAL;
            break;
        }
        e = ks_dict_find(zsl->dict, x->m, x->len);
        if (e == NULL || ks_dict_entry_val(e) != x || ks_dict_entry_key(e, NULL) != x->m) {
            rc = -EINVAL;
            break;
        }
        for (int i = 0; i < x->level; i++)
            tall[i]++;
        if (x->level > maxlevel)
            maxlevel = x->level;
        bytes += ks_zsl_node_size(x->level);
        tab[n].n = x;
        tab[n].rank = n + 1;
        n++;
        prev = x;
    }
    if (rc == 0 && (n != zsl->length || zsl->tail != prev || maxlevel != zsl->level ||
                    bytes != zsl->node_bytes || zsl->head->back != NULL))
        rc = -EINVAL;
    if (rc == 0) {
        qsort(tab, n, sizeof(*tab), ks_zsl_rankent_cmp);
        rc = ks_zsl_check_levels(zsl, tab, tall);
    }
    util_free(tab);
    return rc;
}

int
ks_zset_check(ks_obj *o)
{
    if (o->type != KS_ZSET || o->ptr == NULL)
        return -EINVAL;
    if (o->enc == KS_ENC_LISTPACK)
        return ks_zset_check_lp(ks_zset_lp(o));
    if (o->enc == KS_ENC_SKIPLIST)
        return ks_zset_check_zsl(ks_zset_zsl(o));
    return -EINVAL;
}

/* ---- Mutations ---- */

/*
 * The decision shared by both encodings for an existing member whose
 * score is cur: NX refuses, INCR adds (NaN is an error), GT/LT refuse a
 * score that does not move the right way. Returns 1 to go on with *score
 * the new score, 0 for a NOP, -EDOM for NaN.
 */
static int
ks_zset_add_existing(double cur, double *score, int flags)
{
    if (flags & KS_ZADD_NX)
        return 0;
    if (flags & KS_ZADD_INCR) {
        *score += cur;
        if (isnan(*score))
            return -EDOM;
    }
    if (((flags & KS_ZADD_LT) && *score >= cur) || ((flags & KS_ZADD_GT) && *score <= cur))
        return 0;
    return 1;
}

/* The listpack half of ks_zset_add. Returns 1, having changed nothing,
 * when a new member must go in but does not fit the limits: the caller
 * converts and retries on the skiplist. */
static int
ks_zset_add_lp(ks_obj *o, double score, const void *m, size_t len, int flags, int *out,
               double *newscore, const ks_zset_limits *lim)
{
    ks_lp *lp = ks_zset_lp(o);
    size_t pos = ks_zset_lp_find(lp, m, len);
    if (pos != KS_LP_NONE) {
        double cur = ks_zset_lp_score(lp, ks_lp_next(lp, pos));
        int rc = ks_zset_add_existing(cur, &score, flags);
        if (rc <= 0) {
            if (rc == 0)
                *out = KS_ZADD_OUT_NOP;
            return rc;
        }
        if (newscore != NULL)
            *newscore = score;
        if (score != cur) {
            ks_lp_delete(lp, pos, 2);
            ks_zset_lp_insert(lp, score, m, len);
            *out = KS_ZADD_OUT_UPDATED;
        } else {
            *out = KS_ZADD_OUT_SAME;
        }
        return 0;
    }
    if (flags & KS_ZADD_XX) {
        *out = KS_ZADD_OUT_NOP;
        return 0;
    }
    if (ks_zset_count(o) + 1 > lim->max_entries || len > lim->max_value)
        return 1; /* the caller converts and adds to the skiplist */
    ks_zset_lp_insert(lp, score, m, len);
    if (newscore != NULL)
        *newscore = score;
    *out = KS_ZADD_OUT_ADDED;
    return 0;
}

/* The skiplist half of ks_zset_add. */
static int
ks_zset_add_zsl(ks_obj *o, double score, const void *m, size_t len, int flags, int *out,
                double *newscore)
{
    ks_zsl *zsl = ks_zset_zsl(o);
    ks_dict_entry *e = ks_dict_find(zsl->dict, m, len);
    if (e != NULL) {
        ks_zsl_node *n = ks_dict_entry_val(e);
        int rc = ks_zset_add_existing(n->score, &score, flags);
        if (rc <= 0) {
            if (rc == 0)
                *out = KS_ZADD_OUT_NOP;
            return rc;
        }
        if (newscore != NULL)
            *newscore = score;
        if (score != n->score) {
            ks_zsl_update_score(zsl, n, score);
            *out = KS_ZADD_OUT_UPDATED;
        } else {
            *out = KS_ZADD_OUT_SAME;
        }
        return 0;
    }
    if (flags & KS_ZADD_XX) {
        *out = KS_ZADD_OUT_NOP;
        return 0;
    }
    ks_zsl_insert(zsl, score, m, len);
    if (newscore != NULL)
        *newscore = score;
    *out = KS_ZADD_OUT_ADDED;
    return 0;
}

int
ks_zset_add(ks_obj *o, double score, const void *m, size_t len, int flags, int *out,
            double *newscore, const ks_zset_limits *lim)
{
    assert(!isnan(score));
    if (o->enc == KS_ENC_LISTPACK) {
        int rc = ks_zset_add_lp(o, score, m, len, flags, out, newscore, lim);
        if (rc <= 0)
            return rc;
        /* A new member that does not fit: convert first, as Redis does. */
        ks_zset_convert(o, KS_ENC_SKIPLIST);
    }
    return ks_zset_add_zsl(o, score, m, len, flags, out, newscore);
}

/* Skiplist: unlink from the list first, since the node borrows its
 * member bytes from the dict entry the second step frees. */
int
ks_zset_del(ks_obj *o, const void *m, size_t len)
{
    if (o->enc == KS_ENC_LISTPACK) {
        ks_lp *lp = ks_zset_lp(o);
        size_t pos = ks_zset_lp_find(lp, m, len);
        if (pos == KS_LP_NONE)
            return 0;
        ks_lp_delete(lp, pos, 2);
        return 1;
    }
    ks_zsl *zsl = ks_zset_zsl(o);
    ks_dict_entry *e = ks_dict_find(zsl->dict, m, len);
    if (e == NULL)
        return 0;
    ks_zsl_node *n = ks_dict_entry_val(e);
    ks_zsl_unlink(zsl, n);
    ks_zsl_drop(zsl, n);
    return 1;
}

/* What a range delete removes: ranks, a score range or a lex range. */
typedef struct ks_zset_delspec {
    int kind;               /* 0 rank, 1 score, 2 lex */
    size_t start, end;      /* kind 0: 1-based ranks, inclusive */
    const ks_zrange *r;     /* kind 1 */
    const ks_zlexrange *lr; /* kind 2 */
} ks_zset_delspec;

/* 1 when the element (with its original 1-based rank) is past the start. */
static int
ks_zset_del_inside(const ks_zset_delspec *d, const char *m, size_t len, double s, size_t rank)
{
    if (d->kind == 0)
        return rank >= d->start && rank <= d->end;
    if (d->kind == 1)
        return ks_zset_in_range(s, d->r);
    return ks_zset_in_lex(m, len, d->lr);
}

/* Listpack range delete: one forward pass. */
static size_t
ks_zset_del_lp(ks_obj *o, const ks_zset_delspec *d)
{
    ks_lp *lp = ks_zset_lp(o);
    size_t pos = ks_lp_first(lp), rank = 1, removed = 0;
    /* Skip the elements before the range, then delete while inside. */
    while (pos != KS_LP_NONE) {
        size_t len;
        double s;
        const char *m = ks_zset_lp_pair(lp, pos, &len, &s);
        if (ks_zset_del_inside(d, m, len, s, rank))
            break;
        if (d->kind == 0
                ? rank > d->end
                : (d->kind == 1 ? !ks_zset_lte_max(s, d->r) : !ks_zset_lex_lte_max(m, len, d->lr)))
            return 0;
        pos = ks_zset_lp_next(lp, pos);
        rank++;
    }
    while (pos != KS_LP_NONE) {
        size_t len;
        double s;
        const char *m = ks_zset_lp_pair(lp, pos, &len, &s);
        if (!ks_zset_del_inside(d, m, len, s, rank))
            break;
        pos = ks_lp_delete(lp, pos, 2);
        rank++;
        removed++;
    }
    return removed;
}

/* Skiplist range delete: one descent records the predecessor of the
 * first victim at every level; each deletion keeps them valid. */
static size_t
ks_zset_del_zsl(ks_obj *o, const ks_zset_delspec *d)
{
    ks_zsl *zsl = ks_zset_zsl(o);
    ks_zsl_node *update[KS_ZSL_MAXLEVEL];
    ks_zsl_node *x;
    size_t rank, removed = 0;

    if (d->kind == 0) {
        ks_zsl_last_where(zsl, ks_zsl_pred_rank_below, &d->start, &rank, update);
    } else if (d->kind == 1) {
        if (ks_zset_range_empty(d->r))
            return 0;
        ks_zsl_last_where(zsl, ks_zsl_pred_below_min, d->r, &rank, update);
    } else {
        if (ks_zset_lex_empty(d->lr))
            return 0;
        ks_zsl_last_where(zsl, ks_zsl_pred_below_lexmin, d->lr, &rank, update);
    }
    /* update[] stays the predecessor set of the next candidate. */
    x = update[0]->lvl[0].fwd;
    rank++;
    while (x != NULL && ks_zset_del_inside(d, x->m, x->len, x->score, rank)) {
        ks_zsl_node *next = x->lvl[0].fwd;
        ks_zsl_unlink_with(zsl, x, update);
        ks_zsl_drop(zsl, x);
        removed++;
        rank++;
        x = next;
    }
    return removed;
}

/* Dispatches a range delete on the encoding. */
static size_t
ks_zset_del_spec(ks_obj *o, const ks_zset_delspec *d)
{
    if (o->enc == KS_ENC_LISTPACK)
        return ks_zset_del_lp(o, d);
    return ks_zset_del_zsl(o, d);
}

size_t
ks_zset_del_rank(ks_obj *o, size_t start, size_t end)
{
    ks_zset_delspec d = {0, start + 1, end + 1, NULL, NULL};
    assert(start <= end && end < ks_zset_count(o));
    return ks_zset_del_spec(o, &d);
}

size_t
ks_zset_del_range(ks_obj *o, const ks_zrange *r)
{
    ks_zset_delspec d = {1, 0, 0, r, NULL};
    return ks_zset_del_spec(o, &d);
}

size_t
ks_zset_del_lex(ks_obj *o, const ks_zlexrange *lr)
{
    ks_zset_delspec d = {2, 0, 0, NULL, lr};
    return ks_zset_del_spec(o, &d);
}

/* Both directions keep the order, so the target is filled without
 * searching: appended to the listpack, or inserted at the skiplist head
 * when walking backwards. */
void
ks_zset_convert(ks_obj *o, int enc)
{
    assert(o->type == KS_ZSET && (enc == KS_ENC_LISTPACK || enc == KS_ENC_SKIPLIST));
    if (o->enc == enc)
        return;
    if (enc == KS_ENC_SKIPLIST) {
        ks_lp *lp = ks_zset_lp(o);
        ks_zsl *zsl = ks_zsl_new();
        /* From the last pair down, so each insert lands at the head. */
        for (size_t pos = ks_zset_lp_last(lp); pos != KS_LP_NONE; pos = ks_zset_lp_prev(lp, pos)) {
            size_t len;
            double s;
            const char *m = ks_zset_lp_pair(lp, pos, &len, &s);
            ks_zsl_insert(zsl, s, m, len);
        }
        ks_lp_fini(lp);
        util_free(lp);
        o->ptr = (char *)zsl;
    } else {
        ks_zsl *zsl = ks_zset_zsl(o);
        ks_lp *lp = ks_zset_lp_new();
        for (ks_zsl_node *n = zsl->head->lvl[0].fwd; n != NULL; n = n->lvl[0].fwd) {
            ks_lp_append(lp, n->m, n->len);
            ks_zset_lp_put_score(lp, KS_LP_NONE, n->score);
        }
        ks_zsl_free(zsl);
        o->ptr = (char *)lp;
    }
    o->enc = (uint8_t)enc;
}

/* ---- Traversal ---- */

static void
ks_zset_iter_init(ks_zset_iter *it, ks_obj *o, int rev, size_t count)
{
    memset(it, 0, sizeof(*it));
    it->o = o;
    it->rev = rev;
    it->left = count;
}

/* Positions the iterator at rank k (0-based from the lowest). */
static void
ks_zset_iter_seek_rank(ks_zset_iter *it, size_t k)
{
    if (k >= ks_zset_count(it->o))
        return;
    if (it->o->enc == KS_ENC_LISTPACK)
        it->lppos = ks_lp_index(ks_zset_lp(it->o), (long long)k * 2) + 1;
    else
        it->node = ks_zsl_at(ks_zset_zsl(it->o), k + 1);
}

/* Steps one element in the walk direction (nothing when done). */
static void
ks_zset_iter_step(ks_zset_iter *it)
{
    if (it->o->enc == KS_ENC_LISTPACK) {
        if (it->lppos != 0) {
            ks_lp *lp = ks_zset_lp(it->o);
            size_t p =
                it->rev ? ks_zset_lp_prev(lp, it->lppos - 1) : ks_zset_lp_next(lp, it->lppos - 1);
            it->lppos = p == KS_LP_NONE ? 0 : p + 1;
        }
    } else if (it->node != NULL) {
        ks_zsl_node *n = it->node;
        it->node = it->rev ? n->back : n->lvl[0].fwd;
    }
}

/* Borrowed view of the current element; 0 when done. */
static int
ks_zset_iter_peek(const ks_zset_iter *it, const char **m, size_t *len, double *score)
{
    if (it->o->enc == KS_ENC_LISTPACK) {
        if (it->lppos == 0)
            return 0;
        *m = ks_zset_lp_pair(ks_zset_lp(it->o), it->lppos - 1, len, score);
        return 1;
    }
    if (it->node == NULL)
        return 0;
    const ks_zsl_node *n = it->node;
    *m = n->m;
    *len = n->len;
    *score = n->score;
    return 1;
}

/* 1 while the current element has not passed the far end of the range:
 * the upper bound on a forward walk, the lower one on a reverse walk (the
 * near end held at the start), as Redis's range loops test it. */
static int
ks_zset_iter_inside(const ks_zset_iter *it)
{
    const char *m;
    size_t len;
    double s;
    if (!ks_zset_iter_peek(it, &m, &len, &s))
        return 0;
    if (it->range == 1)
        return it->rev ? ks_zset_gte_min(s, &it->zr) : ks_zset_lte_max(s, &it->zr);
    if (it->range == 2)
        return it->rev ? ks_zset_lex_gte_min(m, len, &it->lr)
                       : ks_zset_lex_lte_max(m, len, &it->lr);
    return 1;
}

/* Marks the walk finished. */
static void
ks_zset_iter_done(ks_zset_iter *it)
{
    it->lppos = 0;
    it->node = NULL;
}

/* Skips offset elements without looking at the range (the next call to
 * ks_zset_iter_next checks it), as Redis's LIMIT offset loop does. */
static void
ks_zset_iter_skip(ks_zset_iter *it, size_t offset)
{
    while (offset-- > 0 && (it->lppos != 0 || it->node != NULL))
        ks_zset_iter_step(it);
}

/* A reverse walk from rank start counts from the top. */
void
ks_zset_iter_rank(ks_zset_iter *it, ks_obj *o, size_t start, size_t count, int rev)
{
    size_t n = ks_zset_count(o);
    ks_zset_iter_init(it, o, rev, count);
    if (start >= n || count == 0)
        return;
    ks_zset_iter_seek_rank(it, rev ? n - 1 - start : start);
}

/* Listpack: rank of the first pair (from the walk's start) for which
 * inside() holds, scanning from the walk's end, or SIZE_MAX. The first
 * element that passes the lower (upper when rev) bound is the start, as
 * Redis's zzlFirstInRange / zzlLastInRange pick it. */
static size_t
ks_zset_lp_start(ks_zset_iter *it)
{
    ks_lp *lp = ks_zset_lp(it->o);
    size_t pos = it->rev ? ks_zset_lp_last(lp) : ks_lp_first(lp);
    while (pos != KS_LP_NONE) {
        size_t len;
        double s;
        const char *m = ks_zset_lp_pair(lp, pos, &len, &s);
        int past;
        if (it->range == 1)
            past = it->rev ? ks_zset_lte_max(s, &it->zr) : ks_zset_gte_min(s, &it->zr);
        else
            past = it->rev ? ks_zset_lex_lte_max(m, len, &it->lr)
                           : ks_zset_lex_gte_min(m, len, &it->lr);
        if (past)
            return pos;
        pos = it->rev ? ks_zset_lp_prev(lp, pos) : ks_zset_lp_next(lp, pos);
    }
    return KS_LP_NONE;
}

/* Positions a range iterator at its first element, then skips offset. */
static void
ks_zset_iter_start_range(ks_zset_iter *it, size_t offset)
{
    if (it->left == 0)
        return;
    if (it->o->enc == KS_ENC_LISTPACK) {
        size_t pos = ks_zset_lp_start(it);
        it->lppos = pos == KS_LP_NONE ? 0 : pos + 1;
    } else {
        ks_zsl *zsl = ks_zset_zsl(it->o);
        if (it->range == 1)
            it->node = it->rev ? ks_zsl_last_in_range(zsl, &it->zr, NULL)
                               : ks_zsl_first_in_range(zsl, &it->zr, NULL);
        else
            it->node = it->rev ? ks_zsl_last_in_lex(zsl, &it->lr, NULL)
                               : ks_zsl_first_in_lex(zsl, &it->lr, NULL);
    }
    ks_zset_iter_skip(it, offset);
}

void
ks_zset_iter_range(ks_zset_iter *it, ks_obj *o, const ks_zrange *r, int rev, size_t offset,
                   size_t count)
{
    ks_zset_iter_init(it, o, rev, count);
    it->range = 1;
    it->zr = *r;
    if (ks_zset_range_empty(r))
        return;
    ks_zset_iter_start_range(it, offset);
}

void
ks_zset_iter_lex(ks_zset_iter *it, ks_obj *o, const ks_zlexrange *lr, int rev, size_t offset,
                 size_t count)
{
    ks_zset_iter_init(it, o, rev, count);
    it->range = 2;
    it->lr = *lr;
    if (ks_zset_lex_empty(lr))
        return;
    ks_zset_iter_start_range(it, offset);
}

/* The far bound is checked when an element is about to be returned, so
 * a LIMIT offset that skips past the range ends the walk here. */
int
ks_zset_iter_next(ks_zset_iter *it, const char **m, size_t *len, double *score)
{
    const char *bm = NULL;
    size_t blen = 0;
    double bs = 0;

    if (it->left == 0 || !ks_zset_iter_inside(it)) {
        ks_zset_iter_done(it);
        return 0;
    }
    ks_zset_iter_peek(it, &bm, &blen, &bs);
    if (m != NULL)
        *m = bm;
    if (len != NULL)
        *len = blen;
    if (score != NULL)
        *score = bs;
    if (it->left != SIZE_MAX)
        it->left--;
    ks_zset_iter_step(it);
    return 1;
}

/* Listpack: a uniform rank. Skiplist: the dict's random entry, whose
 * value is the node. */
void
ks_zset_random(ks_obj *o, uint64_t (*rnd)(void), const char **m, size_t *len, double *score)
{
    size_t count = ks_zset_count(o);
    assert(count > 0);
    if (o->enc == KS_ENC_LISTPACK) {
        ks_zset_at(o, (size_t)(rnd() % count), 0, m, len, score);
        return;
    }
    ks_dict_entry *e = ks_dict_random(ks_zset_zsl(o)->dict, rnd);
    const ks_zsl_node *n = ks_dict_entry_val(e);
    *m = n->m;
    *len = n->len;
    *score = n->score;
}

/* Adapter from ks_dict_scan's callback to an element callback. */
typedef struct ks_zset_scan_ctx {
    ks_zset_scan_fn fn; /* caller's callback */
    void *priv;         /* caller's argument */
} ks_zset_scan_ctx;

/* Reports the node a dict entry points at. */
static void
ks_zset_scan_entry(void *priv, const ks_dict_entry *e)
{
    const ks_zset_scan_ctx *sc = priv;
    const ks_zsl_node *n = ks_dict_entry_val(e);
    sc->fn(sc->priv, n->m, n->len, n->score);
}

/* The skiplist is scanned through its dict, so the cursor carries the
 * dict's guarantees across rehashes. */
uint64_t
ks_zset_scan(ks_obj *o, uint64_t cursor, ks_zset_scan_fn fn, void *priv)
{
    if (o->enc == KS_ENC_LISTPACK) {
        ks_zset_iter it;
        const char *m;
        size_t len;
        double s;
        ks_zset_iter_rank(&it, o, 0, SIZE_MAX, 0);
        while (ks_zset_iter_next(&it, &m, &len, &s))
            fn(priv, m, len, s);
        return 0;
    }
    ks_zset_scan_ctx sc = {fn, priv};
    return ks_dict_scan(ks_zset_zsl(o)->dict, cursor, ks_zset_scan_entry, &sc);
}
