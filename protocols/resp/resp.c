/*
 * protocols/resp: RESP request parser and header encoder.
 *
 * Central choice: the parser never copies multibulk payloads and never keeps
 * pointers into the caller's buffer between calls. It records offsets from
 * the command's first byte and turns them into pointers only when a command
 * is complete, so the caller may move its buffer while a command is partial.
 *
 * Hot path: resp_parse() per read; a bulk payload still arriving costs one
 * comparison per call, header lines are scanned once with memchr.
 *
 * Redis 7.0 quirks kept on purpose (checked against redis-server 7.0.15):
 * - Line searches stop at a NUL byte, as Redis's strchr() over its
 *   NUL-terminated query buffer does: a NUL before the terminator stalls the
 *   line until the "too big" limit trips.
 * - Count lines end at the first '\r'; the byte after it is skipped without
 *   being checked, and so are the two bytes after a bulk payload.
 * - Inline requests are split like sdssplitargs() (see resp_split()).
 *
 * Not here: reply bodies, RESP3 client-side parsing, query-buffer limits.
 */
#include "protocols/resp/resp.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Allocation hooks; a test build may point them at a failing allocator. */
#ifndef RESP_REALLOC
#define RESP_REALLOC realloc
#endif
#ifndef RESP_FREE
#define RESP_FREE free
#endif

/* Parser phases (resp_parser.state). */
enum {
    RESP__IDLE = 0, /* no command started */
    RESP__INLINE,   /* looking for the '\n' of an inline request */
    RESP__COUNT,    /* looking for the '\r' of the "*<count>" line */
    RESP__BULK      /* reading bulk headers and payloads */
};

#define RESP__ARGS_FIRST   1024            /* first argv allocation, at most */
#define RESP__ARGS_KEEP    1024            /* argv kept across commands, at most */
#define RESP__SCRATCH_KEEP RESP_INLINE_MAX /* scratch kept across commands, at most */
#define RESP__LL_MAXLEN    20              /* longest integer text ("-9223372036854775808") */

/* ---- Helpers ------------------------------------------------------------- */

/* Frees argv, offsets and scratch if they grew past what is worth keeping. */
static void
resp_trim(resp_parser *p)
{
    if (p->cap > RESP__ARGS_KEEP) {
        RESP_FREE(p->argv);
        RESP_FREE(p->offs);
        p->argv = NULL;
        p->offs = NULL;
        p->cap = 0;
    }
    if (p->scratch_cap > RESP__SCRATCH_KEEP) {
        RESP_FREE(p->scratch);
        p->scratch = NULL;
        p->scratch_cap = 0;
    }
}

/*
 * Makes room for one more argument. Grows geometrically, never past limit
 * (the arguments the command can still have), so a claimed count only bounds
 * the allocation and never drives it. Returns 0 or -ENOMEM (p unchanged,
 * except that argv may already be larger than cap, which is harmless).
 */
static int
resp_reserve(resp_parser *p, size_t limit)
{
    size_t want;
    void *a;

    if (p->nargs < p->cap)
        return 0;
    want = p->cap ? p->cap * 2 : RESP__ARGS_FIRST;
    if (want > limit)
        want = limit;
    if (want <= p->nargs)
        want = p->nargs + 1;
    if (want > SIZE_MAX / sizeof(resp_arg))
        return -ENOMEM;
    a = RESP_REALLOC(p->argv, want * sizeof(resp_arg));
    if (a == NULL)
        return -ENOMEM;
    p->argv = a;
    a = RESP_REALLOC(p->offs, want * sizeof(size_t));
    if (a == NULL)
        return -ENOMEM;
    p->offs = a;
    p->cap = want;
    return 0;
}

/*
 * Finds byte ch in buf[*scan, len), stopping at a NUL (Redis strchr()).
 * Returns 1 with *at set and *scan = *at, or 0 with *scan at the NUL (so the
 * next call rechecks one byte) or at len (so no byte is scanned twice).
 */
static int
resp_find(const char *buf, size_t len, size_t *scan, char ch, size_t *at)
{
    const char *hit, *nul;
    size_t from = *scan, end;

    if (from >= len)
        return 0;
    if (buf[from] == '\0')
        return 0;
    hit = memchr(buf + from, ch, len - from);
    end = hit ? (size_t)(hit - buf) : len;
    nul = memchr(buf + from, '\0', end - from);
    if (nul != NULL) {
        *scan = (size_t)(nul - buf);
        return 0;
    }
    *scan = end;
    if (hit == NULL)
        return 0;
    *at = end;
    return 1;
}

/*
 * Parses s[0, n) as a decimal long long with Redis string2ll() rules: 1 to
 * 20 bytes, an optional '-', no '+', no spaces, no leading zeros ("0" alone
 * is fine, "-0" is not), no overflow. Returns 1 and sets *out, or 0.
 */
static int
resp_strtoll(const char *s, size_t n, long long *out)
{
    unsigned long long v, lim = (unsigned long long)LLONG_MAX;
    size_t i = 0;
    int neg = 0;

    if (n == 0 || n > RESP__LL_MAXLEN)
        return 0;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        lim += 1; /* |LLONG_MIN| */
        i = 1;
    }
    if (i == n || s[i] < '1' || s[i] > '9')
        return 0;
    v = (unsigned long long)(s[i++] - '0');
    for (; i < n; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return 0;
        d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    /* v >= 1 here, so v - 1 fits in a long long even for LLONG_MIN. */
    *out = neg ? -(long long)(v - 1) - 1 : (long long)v;
    return 1;
}

/* Drops progress and reports a protocol error with message msg. */
static int
resp_fail(resp_parser *p, const char *msg)
{
    p->err = msg;
    p->state = RESP__IDLE;
    return -EPROTO;
}

/* Reports a command of p->nargs arguments spanning consumed bytes. */
static int
resp_done(resp_parser *p, size_t consumed)
{
    p->argc = p->nargs;
    p->consumed = consumed;
    p->state = RESP__IDLE;
    return 1;
}

/* ---- Inline requests ----------------------------------------------------- */

/* The separators sdssplitargs() skips between arguments (C-locale isspace). */
static int
resp_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int
resp_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Maps the byte after a backslash inside double quotes. */
static char
resp_unescape(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'b':
        return '\b';
    case 'a':
        return '\a';
    default:
        return c;
    }
}

/*
 * Splits line[0, n) (no NUL inside) into p->argv, unescaping into p->scratch,
 * which never needs more than n bytes. Rules, as sdssplitargs(): blanks
 * separate; an unquoted argument ends at ' ', '\t', '\r' or '\n' but takes
 * '\v' and '\f'; quotes may start mid-argument ("a\"b c\"" is one argument);
 * a closing quote must be followed by a blank or the end of the line.
 * Returns 0, -EPROTO (unbalanced quotes) or -ENOMEM.
 */
static int
resp_split(resp_parser *p, const char *line, size_t n)
{
    static const char unbalanced[] = "Protocol error: unbalanced quotes in request";
    size_t i = 0, out = 0;
    char *dst;

    if (n > p->scratch_cap) {
        char *s = RESP_REALLOC(p->scratch, n);

        if (s == NULL)
            return -ENOMEM;
        p->scratch = s;
        p->scratch_cap = n;
    }
    dst = p->scratch;
    p->nargs = 0;
    for (;;) {
        size_t start;
        char quote = 0;
        int rc;

        while (i < n && resp_is_blank(line[i]))
            i++;
        if (i == n)
            return 0;
        start = out;
        for (;;) {
            char c;

            if (i == n) {
                if (quote)
                    return resp_fail(p, unbalanced);
                break;
            }
            c = line[i];
            if (quote == '"' && c == '\\' && i + 1 < n) {
                int hi = i + 3 < n && line[i + 1] == 'x' ? resp_hexval(line[i + 2]) : -1;
                int lo = hi >= 0 ? resp_hexval(line[i + 3]) : -1;

                if (lo >= 0) {
                    dst[out++] = (char)(hi * 16 + lo);
                    i += 4;
                } else {
                    dst[out++] = resp_unescape(line[i + 1]);
                    i += 2;
                }
            } else if (quote == '\'' && c == '\\' && i + 1 < n && line[i + 1] == '\'') {
                dst[out++] = '\'';
                i += 2;
            } else if (quote != 0 && c == quote) {
                if (i + 1 < n && !resp_is_blank(line[i + 1]))
                    return resp_fail(p, unbalanced);
                i++;
                break;
            } else if (quote == 0 && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
                i++;
                break;
            } else if (quote == 0 && (c == '"' || c == '\'')) {
                quote = c;
                i++;
            } else {
                /* Includes a lone '\\' ending a double-quoted line: it is
                 * kept, then the missing quote is reported above. */
                dst[out++] = c;
                i++;
            }
        }
        rc = resp_reserve(p, SIZE_MAX);
        if (rc < 0)
            return rc;
        p->argv[p->nargs].ptr = dst + start;
        p->argv[p->nargs].len = out - start;
        p->nargs++;
    }
}

/* Parses an inline request: one line ended by '\n', with an optional '\r'. */
static int
resp_parse_inline(resp_parser *p, const char *buf, size_t len)
{
    size_t nl, end;
    int rc;

    if (!resp_find(buf, len, &p->scan, '\n', &nl)) {
        if (len > RESP_INLINE_MAX)
            return resp_fail(p, "Protocol error: too big inline request");
        return 0;
    }
    end = nl;
    if (end > 0 && buf[end - 1] == '\r')
        end--;
    rc = resp_split(p, buf, end);
    if (rc < 0)
        return rc; /* on -ENOMEM scan still points at nl: a retry redoes the split */
    return resp_done(p, nl + 1);
}

/* ---- Multibulk requests -------------------------------------------------- */

/*
 * Reads the "*<count>\r?" line. Returns 1 when bulks follow (state becomes
 * RESP__BULK), or what resp_parse() returns.
 */
static int
resp_parse_count(resp_parser *p, const char *buf, size_t len)
{
    size_t cr;
    long long n;

    if (!resp_find(buf, len, &p->scan, '\r', &cr)) {
        if (len > RESP_INLINE_MAX)
            return resp_fail(p, "Protocol error: too big mbulk count string");
        return 0;
    }
    if (cr + 1 >= len)
        return 0; /* Redis wants the byte after '\r' buffered (it never checks it) */
    if (!resp_strtoll(buf + 1, cr - 1, &n) || n > INT_MAX)
        return resp_fail(p, "Protocol error: invalid multibulk length");
    if (p->unauth && n > RESP_UNAUTH_MAX_COUNT)
        return resp_fail(p, "Protocol error: unauthenticated multibulk length");
    p->pos = cr + 2;
    p->nargs = 0;
    if (n <= 0)
        return resp_done(p, p->pos);
    p->left = n;
    p->bulk_len = -1;
    p->scan = p->pos;
    p->state = RESP__BULK;
    return 1;
}

/* Formats "expected '$', got 'X'"; CR and LF show as spaces, as Redis's
 * addReplyErrorFormat() sanitises them. */
static int
resp_fail_dollar(resp_parser *p, char got)
{
    static const char head[] = "Protocol error: expected '$', got '";
    size_t n = sizeof(head) - 1;

    memcpy(p->errbuf, head, n);
    p->errbuf[n++] = (got == '\r' || got == '\n') ? ' ' : got;
    p->errbuf[n++] = '\'';
    p->errbuf[n] = '\0';
    return resp_fail(p, p->errbuf);
}

/* Reads the "$<len>\r?" header at p->pos. Returns 1 when read, else what
 * resp_parse() returns. */
static int
resp_parse_bulk_hdr(resp_parser *p, const char *buf, size_t len)
{
    size_t cr;
    long long n;

    if (!resp_find(buf, len, &p->scan, '\r', &cr)) {
        if (len - p->pos > RESP_INLINE_MAX)
            return resp_fail(p, "Protocol error: too big bulk count string");
        return 0;
    }
    if (cr + 1 >= len)
        return 0;
    /* Only now, with a whole line, does Redis look at the first byte. */
    if (buf[p->pos] != '$')
        return resp_fail_dollar(p, buf[p->pos]);
    if (!resp_strtoll(buf + p->pos + 1, cr - p->pos - 1, &n) || n < 0 || n > p->max_bulk_len)
        return resp_fail(p, "Protocol error: invalid bulk length");
    if (p->unauth && n > RESP_UNAUTH_MAX_BULK)
        return resp_fail(p, "Protocol error: unauthenticated bulk length");
    p->pos = cr + 2;
    p->bulk_len = n;
    return 1;
}

/* Reads bulks until the command is complete or the bytes run out. */
static int
resp_parse_bulks(resp_parser *p, const char *buf, size_t len)
{
    size_t i;
    int rc;

    while (p->left > 0) {
        if (p->bulk_len < 0) {
            rc = resp_parse_bulk_hdr(p, buf, len);
            if (rc != 1)
                return rc;
        }
        /* Payload plus the two bytes Redis skips without checking. */
        if ((unsigned long long)(len - p->pos) < (unsigned long long)p->bulk_len + 2)
            return 0;
        rc = resp_reserve(p, p->nargs + (size_t)p->left);
        if (rc < 0)
            return rc;
        p->offs[p->nargs] = p->pos;
        p->argv[p->nargs].len = (size_t)p->bulk_len;
        p->nargs++;
        p->pos += (size_t)p->bulk_len + 2;
        p->scan = p->pos;
        p->bulk_len = -1;
        p->left--;
    }
    /* Complete: the buffer is now fixed for the caller, so pointers are safe. */
    for (i = 0; i < p->nargs; i++)
        p->argv[i].ptr = buf + p->offs[i];
    return resp_done(p, p->pos);
}

/* ---- Public API ---------------------------------------------------------- */

void
resp_parser_init(resp_parser *p, long long max_bulk_len)
{
    assert(p != NULL);
    assert(max_bulk_len >= 0);
    memset(p, 0, sizeof(*p));
    p->max_bulk_len = max_bulk_len;
    p->bulk_len = -1;
}

void
resp_parser_fini(resp_parser *p)
{
    if (p == NULL)
        return;
    RESP_FREE(p->argv);
    RESP_FREE(p->offs);
    RESP_FREE(p->scratch);
    p->argv = NULL;
    p->offs = NULL;
    p->scratch = NULL;
    p->cap = 0;
    p->scratch_cap = 0;
    p->argc = 0;
    p->state = RESP__IDLE;
}

void
resp_parser_reset(resp_parser *p)
{
    assert(p != NULL);
    p->state = RESP__IDLE;
    p->argc = 0;
    p->nargs = 0;
    resp_trim(p);
}

int
resp_parse(resp_parser *p, const char *buf, size_t len)
{
    int rc;

    assert(p != NULL);
    assert(buf != NULL || len == 0);
    if (p->state == RESP__IDLE) {
        if (len == 0)
            return 0;
        /* The previous command's argv is dead: release oversized storage. */
        resp_trim(p);
        p->nargs = 0;
        p->scan = 0;
        p->pos = 0;
        p->left = 0;
        p->bulk_len = -1;
        p->state = buf[0] == '*' ? RESP__COUNT : RESP__INLINE;
        if (p->state == RESP__COUNT)
            p->scan = 1;
    }
    /* The caller must not shrink what it already showed us. */
    assert(p->scan <= len && p->pos <= len);
    switch (p->state) {
    case RESP__INLINE:
        return resp_parse_inline(p, buf, len);
    case RESP__COUNT:
        rc = resp_parse_count(p, buf, len);
        if (rc != 1 || p->state != RESP__BULK)
            return rc;
        return resp_parse_bulks(p, buf, len);
    default:
        assert(p->state == RESP__BULK);
        return resp_parse_bulks(p, buf, len);
    }
}

size_t
resp_hdr(char *dst, char prefix, long long n)
{
    char digits[RESP__LL_MAXLEN];
    unsigned long long v;
    size_t k = 0, o = 0;

    dst[o++] = prefix;
    if (n < 0) {
        dst[o++] = '-';
        v = 0ULL - (unsigned long long)n; /* well defined for LLONG_MIN too */
    } else {
        v = (unsigned long long)n;
    }
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (k > 0)
        dst[o++] = digits[--k];
    dst[o++] = '\r';
    dst[o++] = '\n';
    return o;
}
