/*
 * num.h - number parsing and formatting with Redis 7.0's exact rules.
 *
 * Every command that reads or prints a number goes through here (INCR*,
 * ZADD scores, stream IDs, replies), so the accepted spellings and the
 * printed digits match redis-server byte for byte: strict integers without
 * '+', spaces or leading zeros; floats through the C library's strtod and
 * strtold with Redis's extra rejections; doubles printed with "%.17g" and
 * long doubles with "%.17Lf" trimmed.
 *
 * The integer paths are hot (every INCR, every RESP integer) and allocate
 * nothing. Float parsing copies the text to add a NUL; util_str2d allocates
 * only for inputs longer than 255 bytes. Parsing assumes the "C" locale,
 * which the server never changes for LC_NUMERIC or LC_CTYPE.
 * Nothing here knows RESP framing or error strings.
 */
#ifndef UTIL_NUM_H
#define UTIL_NUM_H

#include <stddef.h>

/* Bytes that hold any long long or unsigned long long as text, plus NUL. */
#define UTIL_LL_BUF 21

/* Bytes that hold any util_d2str or util_d2resp text, plus NUL. */
#define UTIL_DBL_BUF 32

/*
 * Longest long double text util_str2ld accepts is UTIL_LD_MAX_CHARS - 1 bytes,
 * and a UTIL_LD_MAX_CHARS buffer holds any util_ld2str output (the widest,
 * 1.18e4932 in UTIL_LD_HUMAN mode, is under 5000 bytes). Redis's
 * MAX_LONG_DOUBLE_CHARS.
 */
#define UTIL_LD_MAX_CHARS (5 * 1024)

/* util_ld2str modes. */
#define UTIL_LD_HUMAN 0 /* "%.17Lf", trailing zeros and '.' trimmed, "-0" printed "0" */
#define UTIL_LD_AUTO  1 /* "%.17Lg" */

/*
 * Parses s[0..len) as a strict decimal long long (Redis string2ll): an
 * optional '-', then "0" alone or a digit 1-9 followed by digits. Rejects
 * the empty string, '+', spaces anywhere, leading zeros, "-0", any other
 * byte, and values outside [LLONG_MIN, LLONG_MAX].
 * Returns 1 and writes *out on success, 0 otherwise. O(len), len <= 20 read.
 */
int util_str2ll(const char *s, size_t len, long long *out);

/*
 * Parses an unsigned long long the way Redis string2ull reads stream IDs:
 * only the bytes before the first NUL in s[0..len) count. If they form a
 * strict long long (util_str2ll) it must be >= 0. Otherwise they go through
 * strtoull rules: leading white space, an optional '+' or '-', one or more
 * decimal digits, nothing after; a '-' negates modulo 2^64, so " -1" gives
 * 18446744073709551615 while "-1" is rejected, exactly as in Redis. Values
 * above ULLONG_MAX are rejected.
 * Returns 1 and writes *out on success, 0 otherwise. O(len).
 */
int util_str2ull(const char *s, size_t len, unsigned long long *out);

/*
 * Parses s[0..len) as a long double (Redis string2ld, used by INCRBYFLOAT
 * and HINCRBYFLOAT): strtold syntax (decimal, hex "0x1p3", "inf",
 * "infinity"), any case. Rejects len 0 or len >= UTIL_LD_MAX_CHARS, leading
 * white space, trailing bytes (a NUL included), overflow, underflow to zero
 * (denormal results are accepted) and NaN. "inf" is accepted: callers
 * reject infinite results themselves, as Redis does.
 * Returns 1 and writes *out on success, 0 otherwise. O(len).
 */
int util_str2ld(const char *s, size_t len, long double *out);

/*
 * Parses s[0..len) as a double (Redis string2d / getDoubleFromObject, used
 * for ZADD scores and the like): same rules as util_str2ld but with strtod
 * and no length limit. Returns 1 and writes *out on success, 0 otherwise,
 * including when a copy of an input over 255 bytes cannot be allocated.
 * O(len).
 */
int util_str2d(const char *s, size_t len, double *out);

/*
 * Writes v in decimal plus a NUL to dst, which must hold UTIL_LL_BUF bytes.
 * Returns the length without the NUL (1 to 20). O(1), no library calls.
 */
size_t util_ll2str(char *dst, long long v);

/* util_ll2str for unsigned values: UTIL_LL_BUF bytes, returns 1 to 20. O(1). */
size_t util_ull2str(char *dst, unsigned long long v);

/*
 * Formats v into dst[0..cap) with a NUL the way Redis ld2string does:
 * "inf"/"-inf" for infinities; mode UTIL_LD_HUMAN prints "%.17Lf" with
 * trailing zeros after the point (and a bare point) removed and "-0" turned
 * into "0" (INCRBYFLOAT 10.5 then 0.1 gives "10.6"); UTIL_LD_AUTO prints
 * "%.17Lg". NaN prints as the C library does ("nan" or "-nan").
 * Returns the length without the NUL, or 0 if the text does not fit or the
 * mode is unknown (then dst is "" when cap > 0). O(digits).
 */
size_t util_ld2str(char *dst, size_t cap, long double v, int mode);

/*
 * Formats v into dst[0..cap) with a NUL the way Redis 7.0 d2string does:
 * "nan", "inf", "-inf", "0", "-0", integers below 2^52 in magnitude printed
 * as integers, anything else as "%.17g" (0.1 gives "0.10000000000000001").
 * Returns the length without the NUL, or 0 if it does not fit (then dst is
 * "" when cap > 0). UTIL_DBL_BUF bytes always suffice. O(1).
 */
size_t util_d2str(char *dst, size_t cap, double v);

/*
 * Formats v as the payload of Redis 7.0 addReplyDouble (RESP2 bulk string
 * or RESP3 double): "inf" or "-inf", otherwise "%.17g", which gives "-0" for
 * negative zero and the C library's "nan"/"-nan" for NaN.
 * Returns the length without the NUL, or 0 if it does not fit (then dst is
 * "" when cap > 0). UTIL_DBL_BUF bytes always suffice. O(1).
 */
size_t util_d2resp(char *dst, size_t cap, double v);

#endif /* UTIL_NUM_H */
