/*
 * glob.c - Redis-compatible glob matching without recursion.
 *
 * Every token other than '*' consumes exactly one byte of the string, so the
 * classic two-pointer algorithm is exact: on a mismatch, only the most recent
 * '*' needs to swallow one more byte, earlier stars never do. That replaces
 * Redis's recursion (and its nesting limit and "skip longer matches" escape
 * hatch) with a loop bounded by O(plen * slen).
 *
 * Bracket classes are re-read each time they are tried instead of being
 * compiled, which keeps the matcher allocation-free. The reading below
 * follows the Redis 7.0 rules byte for byte, including what happens when
 * the pattern ends inside a class; the helpers treat the byte past the end
 * of the pattern as NUL, as Redis sees the terminator of its sds strings.
 */
#include "broker/util/glob.h"

#include <stdint.h>

/* Depth at which Redis 7.0 stops recursing into '*': the 1001st star group. */
#define UTIL_GLOB_MAX_STARS 1000

/* Byte i of the pattern, or NUL past its end. */
static unsigned char
util_glob_at(const unsigned char *pat, size_t plen, size_t i)
{
    return i < plen ? pat[i] : 0;
}

/* The byte read as a signed char, the way Redis compares class ranges. */
static int
util_glob_signed(unsigned char b)
{
    return b < 128 ? (int)b : (int)b - 256;
}

/* ASCII-only tolower: the server never switches LC_CTYPE away from "C". */
static int
util_glob_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int
util_glob_same(unsigned char a, unsigned char b, int nocase)
{
    if (nocase)
        return util_glob_lower(a) == util_glob_lower(b);
    return a == b;
}

/*
 * Reads the class whose body starts at pat[i] (just past the '[') and tests
 * the byte c against it. *last gets the index of the class's final pattern
 * byte: its ']' or, for an unterminated class, the last byte of the pattern.
 * The order of the tests matters and mirrors Redis: an escape wins over ']',
 * ']' wins over the end of the pattern, and a range needs three bytes left.
 */
static int
util_glob_class(const unsigned char *pat, size_t plen, size_t i, unsigned char c, int nocase,
                size_t *last)
{
    int negate = 0;
    int match = 0;

    if (util_glob_at(pat, plen, i) == '^') {
        negate = 1;
        i++;
    }
    for (;;) {
        size_t left = plen - i;

        if (util_glob_at(pat, plen, i) == '\\' && left >= 2) {
            i++;
            if (pat[i] == c) /* escaped bytes ignore nocase */
                match = 1;
        } else if (util_glob_at(pat, plen, i) == ']') {
            break;
        } else if (left == 0) {
            i--; /* the class ends with the pattern */
            break;
        } else if (left >= 3 && pat[i + 1] == '-') {
            int lo = util_glob_signed(pat[i]);
            int hi = util_glob_signed(pat[i + 2]);
            int ch = util_glob_signed(c);

            if (lo > hi) {
                int tmp = lo;

                lo = hi;
                hi = tmp;
            }
            if (nocase) { /* lowered after the swap, as Redis does */
                lo = util_glob_lower(lo);
                hi = util_glob_lower(hi);
                ch = util_glob_lower(ch);
            }
            if (ch >= lo && ch <= hi)
                match = 1;
            i += 2;
        } else if (util_glob_same(pat[i], c, nocase)) {
            match = 1;
        }
        i++;
    }
    *last = i;
    return negate ? !match : match;
}

/*
 * Tests the single-byte token at pat[p] (not '*') against c and stores the
 * index of the following token in *next.
 */
static int
util_glob_token(const unsigned char *pat, size_t plen, size_t p, unsigned char c, int nocase,
                size_t *next)
{
    size_t last;
    int match;

    switch (pat[p]) {
    case '?':
        *next = p + 1;
        return 1;
    case '[':
        match = util_glob_class(pat, plen, p + 1, c, nocase, &last);
        *next = last + 1;
        return match;
    case '\\':
        if (p + 1 < plen) { /* a trailing '\' is a literal backslash */
            *next = p + 2;
            return util_glob_same(pat[p + 1], c, nocase);
        }
        break;
    default:
        break;
    }
    *next = p + 1;
    return util_glob_same(pat[p], c, nocase);
}

/*
 * Redis gives up on any pattern whose star group number 1000 (counting from
 * 0) is followed by more tokens: the match can neither succeed before that
 * group nor get past it. Finds such patterns by walking the tokens once.
 */
static int
util_glob_too_deep(const unsigned char *pat, size_t plen)
{
    size_t p = 0;
    size_t stars = 0;

    while (p < plen) {
        size_t next;

        if (pat[p] == '*') {
            while (p < plen && pat[p] == '*')
                p++;
            if (p == plen)
                return 0; /* a final star never recurses */
            if (stars++ == UTIL_GLOB_MAX_STARS)
                return 1;
            continue;
        }
        (void)util_glob_token(pat, plen, p, 0, 0, &next);
        p = next;
    }
    return 0;
}

int
util_glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase)
{
    const unsigned char *pp = (const unsigned char *)pat;
    const unsigned char *sp = (const unsigned char *)str;
    size_t p = 0, s = 0;
    size_t star_p = SIZE_MAX; /* token after the latest star, SIZE_MAX if none */
    size_t star_s = 0;        /* string index that star's expansion ends at */

    if (slen == 0)
        return plen == 0;
    if (util_glob_too_deep(pp, plen))
        return 0;
    while (s < slen) {
        size_t next;

        if (p < plen && pp[p] == '*') {
            while (p < plen && pp[p] == '*')
                p++;
            if (p == plen)
                return 1;
            star_p = p;
            star_s = s;
            continue;
        }
        if (p < plen && util_glob_token(pp, plen, p, sp[s], nocase, &next)) {
            p = next;
            s++;
            continue;
        }
        if (star_p == SIZE_MAX)
            return 0;
        p = star_p; /* let the latest star swallow one more byte */
        s = ++star_s;
    }
    while (p < plen && pp[p] == '*')
        p++;
    return p == plen;
}
