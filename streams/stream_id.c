/*
 * stream_id.c - stream ID compare, format, parse, successor and predecessor.
 *
 * Parsing reproduces Redis 7's streamGenericParseIDOrReply byte for byte,
 * quirks included: numbers go through a strict decimal parser first and fall
 * back to strtoull's rules ("+1", " 1", "01", "-0" and "-01" are accepted;
 * a leading '-' after the separator negates modulo 2^64 unless the strict
 * parser saw a negative int64). strtoull itself is not called, so the result
 * never depends on the locale or errno. Hot path: stream_id_cmp (every
 * comparison in the engine) and stream_id_parse (every XADD/XRANGE argument).
 * Not here: ID generation for appends (stream.c).
 */
#include "streams/stream.h"

#include "streams/stream_int.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Longest decimal Redis's string2ll considers (it rejects slen >= 21). */
#define STREAM_ID_LL_MAX_LEN 20
/* Longest ID argument Redis accepts (its stack buffer is 128 bytes). */
#define STREAM_ID_ARG_MAX 127

/* Two-level compare; IDs are unsigned, so no subtraction tricks. */
int
stream_id_cmp(const stream_id *a, const stream_id *b)
{
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

/* Writes v in decimal at dst (no NUL); returns the digits written. */
static size_t
stream_id_put_u64(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

/* snprintf would do, but this runs once per entry in every range reply. */
size_t
stream_id_fmt(char *dst, const stream_id *id)
{
    size_t n = stream_id_put_u64(dst, id->ms);

    dst[n++] = '-';
    n += stream_id_put_u64(dst + n, id->seq);
    dst[n] = '\0';
    return n;
}

/* Redis's string2ll: see stream_int.h. */
int
stream__parse_ll(const char *s, size_t len, int64_t *v)
{
    size_t i = 0;
    uint64_t acc;
    int neg = 0;

    if (len == 0 || len > STREAM_ID_LL_MAX_LEN)
        return 0;
    if (len == 1 && s[0] == '0') {
        *v = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        if (++i == len)
            return 0;
    }
    if (s[i] < '1' || s[i] > '9')
        return 0;
    acc = (uint64_t)(s[i++] - '0');
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (acc > UINT64_MAX / 10 || acc * 10 > UINT64_MAX - (uint64_t)(s[i] - '0'))
            return 0;
        acc = acc * 10 + (uint64_t)(s[i] - '0');
    }
    if (neg) {
        if (acc > (uint64_t)INT64_MAX + 1)
            return 0;
        *v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    } else {
        if (acc > (uint64_t)INT64_MAX)
            return 0;
        *v = (int64_t)acc;
    }
    return 1;
}

/* C-locale isspace, as strtoull skips it. */
static int
stream_id_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/*
 * Redis's string2ull on s[0..len) (no NUL inside): the strict parser, and
 * when it fails, strtoull(s, &end, 10) requiring *s != 0, *end == 0 and no
 * ERANGE. Returns 1 and *v, or 0.
 */
static int
stream_id_str2ull(const char *s, size_t len, uint64_t *v)
{
    size_t i = 0, digits = 0;
    uint64_t acc = 0;
    int64_t ll;
    int neg = 0;

    if (stream__parse_ll(s, len, &ll)) {
        if (ll < 0)
            return 0; /* string2ull rejects negatives without retrying */
        *v = (uint64_t)ll;
        return 1;
    }
    while (i < len && stream_id_is_space(s[i]))
        i++;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        unsigned d = (unsigned)(s[i] - '0');

        if (acc > (UINT64_MAX - d) / 10)
            return 0; /* ERANGE */
        acc = acc * 10 + d;
    }
    if (digits == 0 || i != len)
        return 0; /* no conversion, or trailing bytes */
    *v = neg ? (uint64_t)0 - acc : acc;
    return 1;
}

int
stream_id_parse(const char *s, size_t len, stream_id *out, uint64_t missing_seq, int strict,
                int *seq_given, int *seq_auto)
{
    const char *dash;
    uint64_t ms, seq;
    int given = 1, autoseq = 0;

    if (len > STREAM_ID_ARG_MAX)
        return -EINVAL;
    /* Redis copies the argument into a C string: an embedded NUL ends it. */
    len = strnlen(s, len);
    if (len == 1 && (s[0] == '-' || s[0] == '+')) {
        if (strict)
            return -EINVAL;
        out->ms = out->seq = s[0] == '-' ? 0 : UINT64_MAX;
        if (seq_given != NULL)
            *seq_given = 1;
        if (seq_auto != NULL)
            *seq_auto = 0;
        return 0;
    }
    /* The first '-' separates ms from seq, so "-1" has an empty ms part and
     * is invalid, while "1--1" hands "-1" to the number parser. */
    dash = memchr(s, '-', len);
    if (!stream_id_str2ull(s, dash != NULL ? (size_t)(dash - s) : len, &ms))
        return -EINVAL;
    if (dash == NULL) {
        seq = missing_seq;
        given = 0;
    } else {
        const char *p = dash + 1;
        size_t plen = len - (size_t)(p - s);

        if (seq_auto != NULL && plen == 1 && p[0] == '*') {
            seq = 0;
            given = 0;
            autoseq = 1;
        } else if (!stream_id_str2ull(p, plen, &seq)) {
            return -EINVAL;
        }
    }
    out->ms = ms;
    out->seq = seq;
    if (seq_given != NULL)
        *seq_given = given;
    if (seq_auto != NULL)
        *seq_auto = autoseq;
    return 0;
}

/* Unlike Redis's streamIncrID, the maximum is left as is rather than
 * wrapped to 0-0: callers get -ERANGE and an unchanged ID. */
int
stream_id_incr(stream_id *id)
{
    if (id->seq != UINT64_MAX) {
        id->seq++;
        return 0;
    }
    if (id->ms == UINT64_MAX)
        return -ERANGE;
    id->ms++;
    id->seq = 0;
    return 0;
}

int
stream_id_decr(stream_id *id)
{
    if (id->seq != 0) {
        id->seq--;
        return 0;
    }
    if (id->ms == 0)
        return -ERANGE;
    id->ms--;
    id->seq = UINT64_MAX;
    return 0;
}
