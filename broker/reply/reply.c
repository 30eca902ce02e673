/*
 * broker/reply: RESP2/RESP3 reply builders over a growable buffer (see
 * reply.h). Headers are formatted with resp_hdr() (no snprintf); doubles
 * use %.17g as Redis 7.0 does.
 */
#include "broker/reply/reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/util/mem.h"
#include "protocols/resp/resp.h"

/* A buffer that grew past this is released on reset, so one huge reply
 * does not pin memory for the client's lifetime. */
#define REPLY_KEEP_MAX (64 * 1024)

void
reply_init(reply *r, int resp)
{
    *r = (reply){0};
    r->resp = resp;
}

void
reply_fini(reply *r)
{
    util_free(r->buf);
    r->buf = NULL;
    r->len = r->cap = 0;
}

void
reply_reset(reply *r)
{
    r->len = 0;
    if (r->cap > REPLY_KEEP_MAX) {
        util_free(r->buf);
        r->buf = NULL;
        r->cap = 0;
    }
}

static inline char *
reply_room(reply *r, size_t n)
{
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        while (cap < r->len + n)
            cap *= 2;
        r->buf = util_realloc(r->buf, cap);
        r->cap = cap;
    }
    return r->buf + r->len;
}

void
reply_raw(reply *r, const void *p, size_t len)
{
    char *dst = reply_room(r, len);
    memcpy(dst, p, len);
    r->len += len;
}

static inline void
reply_hdr(reply *r, char prefix, long long n)
{
    char *dst = reply_room(r, RESP_HDR_MAX);
    r->len += resp_hdr(dst, prefix, n);
}

void
reply_simple(reply *r, const char *s)
{
    size_t n = strlen(s);
    char *dst = reply_room(r, n + 3);
    dst[0] = '+';
    memcpy(dst + 1, s, n);
    dst[n + 1] = '\r';
    dst[n + 2] = '\n';
    r->len += n + 3;
}

void
reply_ok(reply *r)
{
    reply_raw(r, "+OK\r\n", 5);
}

void
reply_error(reply *r, const char *msg)
{
    size_t n = strlen(msg), code;
    char *dst = reply_room(r, n + 3);
    dst[0] = '-';
    for (size_t i = 0; i < n; i++)
        dst[i + 1] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    dst[n + 1] = '\r';
    dst[n + 2] = '\n';
    r->len += n + 3;
    /* Remember the error code (up to the first space) for errorstats. */
    for (code = 0; code < n && msg[code] != ' ' && code < sizeof(r->last_err) - 1; code++)
        r->last_err[code] = msg[code];
    r->last_err[code] = '\0';
    r->errors++;
}

void
reply_errorf(reply *r, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    reply_error(r, buf);
}

void
reply_int(reply *r, long long v)
{
    reply_hdr(r, ':', v);
}

void
reply_bulk(reply *r, const void *p, size_t len)
{
    char *dst = reply_room(r, RESP_HDR_MAX + len + 2);
    size_t h = resp_hdr(dst, '$', (long long)len);
    if (len)
        memcpy(dst + h, p, len);
    dst[h + len] = '\r';
    dst[h + len + 1] = '\n';
    r->len += h + len + 2;
}

void
reply_bulk_cstr(reply *r, const char *s)
{
    if (s == NULL)
        reply_null(r);
    else
        reply_bulk(r, s, strlen(s));
}

void
reply_bulk_ll(reply *r, long long v)
{
    char buf[RESP_HDR_MAX];
    /* resp_hdr writes ":<n>\r\n"; reuse its digits. */
    size_t n = resp_hdr(buf, ':', v);
    reply_bulk(r, buf + 1, n - 3);
}

void
reply_null(reply *r)
{
    if (r->resp >= 3)
        reply_raw(r, "_\r\n", 3);
    else
        reply_raw(r, "$-1\r\n", 5);
}

void
reply_null_array(reply *r)
{
    if (r->resp >= 3)
        reply_raw(r, "_\r\n", 3);
    else
        reply_raw(r, "*-1\r\n", 5);
}

void
reply_double(reply *r, double d)
{
    char buf[64];
    int n;
    if (isinf(d))
        n = snprintf(buf, sizeof(buf), "%s", d > 0 ? "inf" : "-inf");
    else
        n = snprintf(buf, sizeof(buf), "%.17g", d);
    if (r->resp >= 3) {
        char *dst = reply_room(r, (size_t)n + 3);
        dst[0] = ',';
        memcpy(dst + 1, buf, (size_t)n);
        dst[n + 1] = '\r';
        dst[n + 2] = '\n';
        r->len += (size_t)n + 3;
    } else {
        reply_bulk(r, buf, (size_t)n);
    }
}

void
reply_bool(reply *r, int b)
{
    if (r->resp >= 3)
        reply_raw(r, b ? "#t\r\n" : "#f\r\n", 4);
    else
        reply_raw(r, b ? ":1\r\n" : ":0\r\n", 4);
}

void
reply_verbatim(reply *r, const char *p, size_t len, const char *fmt)
{
    if (r->resp < 3) {
        reply_bulk(r, p, len);
        return;
    }
    reply_hdr(r, '=', (long long)len + 4);
    reply_raw(r, fmt, 3);
    reply_raw(r, ":", 1);
    reply_raw(r, p, len);
    reply_raw(r, "\r\n", 2);
}

void
reply_array(reply *r, long long count)
{
    reply_hdr(r, '*', count);
}

void
reply_map(reply *r, long long count)
{
    if (r->resp >= 3)
        reply_hdr(r, '%', count);
    else
        reply_hdr(r, '*', count * 2);
}

void
reply_set(reply *r, long long count)
{
    reply_hdr(r, r->resp >= 3 ? '~' : '*', count);
}

void
reply_push(reply *r, long long count)
{
    reply_hdr(r, r->resp >= 3 ? '>' : '*', count);
}

void
reply_empty_array(reply *r)
{
    reply_raw(r, "*0\r\n", 4);
}

size_t
reply_defer(reply *r)
{
    return r->len;
}

static void
reply_defer_hdr(reply *r, size_t mark, char prefix, long long count)
{
    char hdr[RESP_HDR_MAX];
    size_t n = resp_hdr(hdr, prefix, count);
    reply_room(r, n);
    memmove(r->buf + mark + n, r->buf + mark, r->len - mark);
    memcpy(r->buf + mark, hdr, n);
    r->len += n;
}

void
reply_defer_array(reply *r, size_t mark, long long count)
{
    reply_defer_hdr(r, mark, '*', count);
}

void
reply_defer_map(reply *r, size_t mark, long long count)
{
    if (r->resp >= 3)
        reply_defer_hdr(r, mark, '%', count);
    else
        reply_defer_hdr(r, mark, '*', count * 2);
}

void
reply_defer_set(reply *r, size_t mark, long long count)
{
    reply_defer_hdr(r, mark, r->resp >= 3 ? '~' : '*', count);
}

void
reply_errors_reset(reply *r)
{
    r->errors = 0;
    r->last_err[0] = '\0';
}
