/*
 * num.c - Redis-exact number parsing and formatting.
 *
 * Integer parsing is hand-written because Redis's rules (no '+', no leading
 * zeros, no "-0") are stricter than strtoll, and it is on the INCR hot path.
 * Float parsing defers to strtod/strtold so that rounding matches Redis to
 * the last bit, and then applies the rejections Redis adds on top (leading
 * space, trailing bytes, overflow, underflow to zero, NaN). Those C
 * functions need a NUL-terminated string, so the input is copied first.
 *
 * Integer formatting writes two digits per step from a 200-byte table.
 * Float formatting goes through snprintf, the same code Redis uses, so the
 * digits agree; only infinities, zeros and small integers take shortcuts.
 */
#include "broker/util/num.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inputs up to this many bytes are copied on the stack by util_str2d. */
#define UTIL_NUM_STACK_COPY 256

/* "00" "01" ... "99": two decimal digits per pair of bytes. */
static const char util_num_pairs[201] = "00010203040506070809"
                                        "10111213141516171819"
                                        "20212223242526272829"
                                        "30313233343536373839"
                                        "40414243444546474849"
                                        "50515253545556575859"
                                        "60616263646566676869"
                                        "70717273747576777879"
                                        "80818283848586878889"
                                        "90919293949596979899";

/* White space as isspace() sees it in the "C" locale. */
static int
util_num_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int
util_num_digit(char c)
{
    return c >= '0' && c <= '9';
}

int
util_str2ll(const char *s, size_t len, long long *out)
{
    unsigned long long v;
    size_t i = 0;
    int neg = 0;

    if (len == 0 || len >= UTIL_LL_BUF)
        return 0; /* no valid spelling is longer than 20 bytes */
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1)
            return 0;
    }
    if (s[i] < '1' || s[i] > '9')
        return 0; /* rejects leading zeros, "-0", '+' and spaces */
    v = (unsigned long long)(s[i++] - '0');
    for (; i < len; i++) {
        unsigned d;

        if (!util_num_digit(s[i]))
            return 0;
        d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return 0;
        /* Negate in unsigned arithmetic: -LLONG_MIN does not fit. */
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

int
util_str2ull(const char *s, size_t len, unsigned long long *out)
{
    const char *nul = len ? memchr(s, '\0', len) : NULL;
    unsigned long long v = 0;
    long long ll;
    size_t i = 0;
    int neg = 0;

    /* Redis hands a C string to string2ull, so a NUL ends the input. */
    if (nul)
        len = (size_t)(nul - s);
    if (util_str2ll(s, len, &ll)) {
        if (ll < 0)
            return 0;
        *out = (unsigned long long)ll;
        return 1;
    }
    /* strtoull(3) rules: spaces, a sign, at least one digit, then the end. */
    while (i < len && util_num_space(s[i]))
        i++;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == len || !util_num_digit(s[i]))
        return 0;
    for (; i < len && util_num_digit(s[i]); i++) {
        unsigned d = (unsigned)(s[i] - '0');

        if (v > (ULLONG_MAX - d) / 10)
            return 0; /* ERANGE */
        v = v * 10 + d;
    }
    if (i != len)
        return 0;
    *out = neg ? 0 - v : v;
    return 1;
}

/*
 * The rejections Redis applies after strtod/strtold. `end` is where the
 * conversion stopped, `len` the input length, `range` whether errno was
 * ERANGE, and `inf_or_zero`/`nan` classify the result.
 */
static int
util_num_float_ok(const char *buf, const char *end, size_t len, int range, int inf_or_zero, int nan)
{
    if (len == 0 || util_num_space(buf[0]))
        return 0;
    if ((size_t)(end - buf) != len)
        return 0; /* trailing bytes, or a NUL inside the input */
    if (range && inf_or_zero)
        return 0; /* overflow, or underflow all the way to zero */
    return !nan;
}

int
util_str2ld(const char *s, size_t len, long double *out)
{
    char buf[UTIL_LD_MAX_CHARS];
    long double v;
    char *end;
    int range;

    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtold(buf, &end);
    range = errno == ERANGE;
    if (!util_num_float_ok(buf, end, len, range, isinf(v) || v == 0, isnan(v)))
        return 0;
    *out = v;
    return 1;
}

int
util_str2d(const char *s, size_t len, double *out)
{
    char stack[UTIL_NUM_STACK_COPY];
    char *buf = stack;
    double v;
    char *end;
    int ok;

    if (len == 0)
        return 0;
    if (len >= sizeof(stack)) {
        buf = malloc(len + 1);
        if (buf == NULL)
            return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtod(buf, &end);
    ok = util_num_float_ok(buf, end, len, errno == ERANGE, isinf(v) || v == 0, isnan(v));
    if (buf != stack)
        free(buf);
    if (!ok)
        return 0;
    *out = v;
    return 1;
}

size_t
util_ull2str(char *dst, unsigned long long v)
{
    char tmp[UTIL_LL_BUF];
    char *p = tmp + sizeof(tmp);
    size_t len;

    /* Fill tmp from its end, two digits at a time. */
    while (v >= 100) {
        unsigned pair = (unsigned)(v % 100) * 2;

        v /= 100;
        *--p = util_num_pairs[pair + 1];
        *--p = util_num_pairs[pair];
    }
    if (v >= 10) {
        unsigned pair = (unsigned)v * 2;

        *--p = util_num_pairs[pair + 1];
        *--p = util_num_pairs[pair];
    } else {
        *--p = (char)('0' + v);
    }
    len = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(dst, p, len);
    dst[len] = '\0';
    return len;
}

size_t
util_ll2str(char *dst, long long v)
{
    unsigned long long mag;

    if (v >= 0)
        return util_ull2str(dst, (unsigned long long)v);
    /* 0 - (unsigned)v is the magnitude even for LLONG_MIN. */
    mag = 0 - (unsigned long long)v;
    dst[0] = '-';
    return 1 + util_ull2str(dst + 1, mag);
}

/* Copies the NUL-terminated text of length len into dst if it fits. */
static size_t
util_num_put(char *dst, size_t cap, const char *text, size_t len)
{
    if (len + 1 > cap) {
        if (cap > 0)
            dst[0] = '\0';
        return 0;
    }
    memcpy(dst, text, len + 1);
    return len;
}

/* Checks an snprintf result against the buffer; returns the length or 0. */
static size_t
util_num_fit(char *dst, size_t cap, int n)
{
    if (n < 0 || (size_t)n + 1 > cap) {
        if (cap > 0)
            dst[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

size_t
util_ld2str(char *dst, size_t cap, long double v, int mode)
{
    size_t len;
    int n;

    if (isinf(v))
        return v > 0 ? util_num_put(dst, cap, "inf", 3) : util_num_put(dst, cap, "-inf", 4);
    if (mode == UTIL_LD_AUTO) {
        n = snprintf(dst, cap, "%.17Lg", v);
        return util_num_fit(dst, cap, n);
    }
    if (mode != UTIL_LD_HUMAN)
        return util_num_fit(dst, cap, -1); /* unknown mode */
    n = snprintf(dst, cap, "%.17Lf", v);
    len = util_num_fit(dst, cap, n);
    if (len == 0)
        return 0;
    /* Trim "1.50000000000000000" to "1.5" and "2.00000000000000000" to "2". */
    if (memchr(dst, '.', len) != NULL) {
        while (dst[len - 1] == '0')
            len--;
        if (dst[len - 1] == '.')
            len--;
    }
    if (len == 2 && dst[0] == '-' && dst[1] == '0') {
        dst[0] = '0'; /* tiny negatives round to "-0" */
        len = 1;
    }
    dst[len] = '\0';
    return len;
}

size_t
util_d2str(char *dst, size_t cap, double v)
{
    char tmp[UTIL_LL_BUF];

    if (isnan(v))
        return util_num_put(dst, cap, "nan", 3);
    if (isinf(v))
        return v > 0 ? util_num_put(dst, cap, "inf", 3) : util_num_put(dst, cap, "-inf", 4);
    if (v == 0)
        return signbit(v) ? util_num_put(dst, cap, "-0", 2) : util_num_put(dst, cap, "0", 1);
    /*
     * Whole numbers strictly between -(2^52 - 1) and 2^52 convert to long
     * long exactly; "%.17g" would print the same digits, only slower.
     */
    if (v > -4503599627370495.0 && v < 4503599627370496.0 && v == (double)(long long)v)
        return util_num_put(dst, cap, tmp, util_ll2str(tmp, (long long)v));
    return util_num_fit(dst, cap, snprintf(dst, cap, "%.17g", v));
}

size_t
util_d2resp(char *dst, size_t cap, double v)
{
    if (isinf(v))
        return v > 0 ? util_num_put(dst, cap, "inf", 3) : util_num_put(dst, cap, "-inf", 4);
    return util_num_fit(dst, cap, snprintf(dst, cap, "%.17g", v));
}
