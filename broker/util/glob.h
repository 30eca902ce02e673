/*
 * glob.h - Redis-compatible glob matching for KEYS, SCAN MATCH, PSUBSCRIBE
 * and CONFIG GET.
 *
 * The matcher gives the same answer as Redis 7.0 for every pattern and
 * string, quirks included (see util_glob_match), but it is not recursive:
 * it walks the pattern once per restart of the last '*', so the cost is
 * O(plen * slen) in the worst case and O(plen + slen) for typical patterns.
 * It runs on the hot path of SCAN and of every PUBLISH with pattern
 * subscribers, and allocates nothing.
 *
 * It does not compile patterns, and it does not treat the bare pattern "*"
 * specially: callers that want "*" to match the empty key (KEYS, SCAN) must
 * test for it themselves, as Redis does.
 */
#ifndef UTIL_GLOB_H
#define UTIL_GLOB_H

#include <stddef.h>

/*
 * Tells whether str[0..slen) matches the glob pattern pat[0..plen). Both are
 * binary-safe byte strings and need not be NUL-terminated.
 *
 * Syntax: '*' matches any run of bytes, '?' one byte, '\x' the byte x,
 * '[abc]' one of the listed bytes, '[^abc]' any other byte, '[a-z]' a range
 * (reversed ends are swapped), '\' also escapes inside brackets. With nocase
 * non-zero, ASCII letters compare case-insensitively, except bytes escaped
 * inside brackets.
 *
 * Redis 7.0 quirks reproduced on purpose:
 *   - an empty string matches only the empty pattern, so "*" does not match "";
 *   - a '[' without its ']' takes the rest of the pattern as the class;
 *   - "[]" is an empty class and "[^]" matches any byte;
 *   - "[a-]" is a range from 'a' to ']';
 *   - range ends and bytes compare as signed chars, so "[a-\xff]" covers
 *     0x00..'a' and 0xff only;
 *   - a pattern whose 1001st group of '*' is not its last token never
 *     matches (Redis stops recursing at that depth).
 *
 * Returns 1 on match, 0 otherwise. Complexity O(plen * slen) worst case.
 */
int util_glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase);

#endif /* UTIL_GLOB_H */
