/*
 * tests/unit/test_resp: the RESP request parser and resp_hdr().
 *
 * Most cases run through a simulated client (test_sim) that owns a query
 * buffer, feeds it in chunks and moves it to a fresh allocation on every
 * change, so a parser that kept a pointer across calls trips ASan. Every
 * input is fed whole, split at every byte boundary, byte by byte and in small
 * chunks, and all runs must log the same commands and the same error.
 * Expected error texts were checked byte for byte against redis-server 7.0.
 */
#include "protocols/resp/resp.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#define TEST_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define TEST_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define TEST_POISON(p, n)   ((void)(p), (void)(n))
#define TEST_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define TEST_MAX_BULK (512LL * 1024 * 1024) /* Redis's default proto-max-bulk-len */

/* A string literal and its length, embedded NULs included. */
#define S(lit) (lit), (sizeof(lit) - 1)

/* ---- Simulated client ---------------------------------------------------- */

struct test_sim;
/* The simulated client in use, freed by test_teardown() if a check fails
 * half-way (cmocka longjmps out of the test). */
static struct test_sim *test_live;

/* A growable byte string. */
typedef struct test_str {
    char *buf;  /* owned, NUL-terminated when non-NULL */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
} test_str;

/* A client: the parser, its query buffer and what it has parsed so far. */
typedef struct test_sim {
    resp_parser p; /* the parser under test */
    char *buf;     /* owned query buffer, reallocated (moved) on every change */
    size_t len;    /* bytes pending in buf */
    test_str log;  /* parsed commands: "[n]" then "<len>:<bytes>," per argument */
    int rc;        /* 0 while fine, the negative return once resp_parse() failed */
    char err[96];  /* copy of p.err after a failure */
} test_sim;

static void
test_str_add(test_str *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->buf = realloc(s->buf, s->cap);
        assert_non_null(s->buf);
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static void
test_str_fmt(test_str *s, size_t n)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof(tmp), "%zu", n);

    test_str_add(s, tmp, (size_t)k);
}

/* Replaces sim's buffer by a fresh copy of its bytes from skip plus data. */
static void
test_sim_move(test_sim *s, size_t skip, const char *data, size_t n)
{
    size_t keep = s->len - skip;
    char *nb = malloc(keep + n + 1);

    assert_non_null(nb);
    if (keep > 0)
        memcpy(nb, s->buf + skip, keep);
    if (n > 0)
        memcpy(nb + keep, data, n);
    free(s->buf);
    s->buf = nb;
    s->len = keep + n;
}

static void
test_sim_init(test_sim *s)
{
    memset(s, 0, sizeof(*s));
    resp_parser_init(&s->p, TEST_MAX_BULK);
    test_live = s;
}

static void
test_sim_fini(test_sim *s)
{
    resp_parser_fini(&s->p);
    free(s->buf);
    free(s->log.buf);
    memset(s, 0, sizeof(*s));
    test_live = NULL;
}

/* Appends n bytes to the query buffer and parses every complete command. */
static void
test_sim_feed(test_sim *s, const char *data, size_t n)
{
    if (s->rc < 0)
        return;
    test_sim_move(s, 0, data, n);
    for (;;) {
        int rc = resp_parse(&s->p, s->buf, s->len);

        if (rc == 0)
            return;
        if (rc < 0) {
            s->rc = rc;
            assert_non_null(s->p.err);
            snprintf(s->err, sizeof(s->err), "%s", s->p.err);
            return;
        }
        assert_int_equal(rc, 1);
        assert_true(s->p.consumed > 0);
        assert_true(s->p.consumed <= s->len);
        test_str_add(&s->log, "[", 1);
        test_str_fmt(&s->log, s->p.argc);
        test_str_add(&s->log, "]", 1);
        for (size_t i = 0; i < s->p.argc; i++) {
            test_str_fmt(&s->log, s->p.argv[i].len);
            test_str_add(&s->log, ":", 1);
            test_str_add(&s->log, s->p.argv[i].ptr, s->p.argv[i].len);
            test_str_add(&s->log, ",", 1);
        }
        test_sim_move(s, s->p.consumed, NULL, 0);
    }
}

/* Feeds in[0, n): first `first` bytes, then chunks of `step` bytes. */
static void
test_sim_run(test_sim *s, const char *in, size_t n, size_t first, size_t step)
{
    size_t off = first < n ? first : n;

    test_sim_init(s);
    test_sim_feed(s, in, off);
    while (off < n) {
        size_t k = n - off < step ? n - off : step;

        test_sim_feed(s, in + off, k);
        off += k;
    }
}

static void
test_sim_expect(const test_sim *s, const char *log, size_t log_len, const char *err, size_t pending)
{
    assert_int_equal(s->log.len, log_len);
    if (log_len > 0)
        assert_memory_equal(s->log.buf, log, log_len);
    if (err != NULL) {
        assert_int_equal(s->rc, -EPROTO);
        assert_string_equal(s->err, err);
    } else {
        assert_int_equal(s->rc, 0);
        assert_int_equal(s->len, pending);
    }
}

/*
 * Feeds in whole, split in two at every byte boundary, byte by byte and in
 * chunks of 2, 3 and 7 bytes. Every run must log exactly log (a "[argc]"
 * then "<len>:<bytes>," per argument, per command) and end with error err
 * (NULL: no error and `pending` bytes left unparsed).
 */
static void
test_check_ex(const char *in, size_t n, const char *log, size_t log_len, const char *err,
              size_t pending)
{
    static const size_t steps[] = {1, 2, 3, 7};
    static test_sim s; /* static: test_teardown() may free it after a longjmp */

    test_sim_run(&s, in, n, n, n);
    test_sim_expect(&s, log, log_len, err, pending);
    test_sim_fini(&s);
    for (size_t k = 0; k <= n; k++) {
        test_sim_run(&s, in, n, k, n);
        test_sim_expect(&s, log, log_len, err, pending);
        test_sim_fini(&s);
    }
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        test_sim_run(&s, in, n, 0, steps[i]);
        test_sim_expect(&s, log, log_len, err, pending);
        test_sim_fini(&s);
    }
}

/* Valid input, fully consumed. */
static void
test_check_ok(const char *in, size_t n, const char *log, size_t log_len)
{
    test_check_ex(in, n, log, log_len, NULL, 0);
}

/* Input whose only outcome is the protocol error err. */
static void
test_check_err(const char *in, size_t n, const char *err)
{
    test_check_ex(in, n, "", 0, err, 0);
}

/* ---- Parser fixture for direct calls ------------------------------------- */

static int
test_setup(void **state)
{
    resp_parser *p = malloc(sizeof(*p));

    if (p == NULL)
        return -1;
    resp_parser_init(p, TEST_MAX_BULK);
    *state = p;
    return 0;
}

static int
test_teardown(void **state)
{
    resp_parser_fini(*state);
    free(*state);
    if (test_live != NULL)
        test_sim_fini(test_live);
    return 0;
}

/* One direct resp_parse() call on a literal; returns its result. */
static int
test_parse(resp_parser *p, const char *in, size_t n)
{
    return resp_parse(p, in, n);
}

/* ---- Valid multibulk requests -------------------------------------------- */

static void
test_resp_multibulk_simple(void **state)
{
    resp_parser *p = *state;
    static const char in[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";

    assert_int_equal(test_parse(p, S(in)), 1);
    assert_int_equal(p->argc, 3);
    assert_int_equal(p->consumed, sizeof(in) - 1);
    assert_ptr_equal(p->argv[0].ptr, in + 8);
    assert_int_equal(p->argv[0].len, 3);
    assert_memory_equal(p->argv[2].ptr, "hello", 5);
    test_check_ok(S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"), S("[3]3:SET,1:k,5:hello,"));
    test_check_ok(S("*1\r\n$4\r\nPING\r\n"), S("[1]4:PING,"));
}

static void
test_resp_multibulk_binary_args(void **state)
{
    (void)state;
    test_check_ok(S("*2\r\n$5\r\na\0b\r\n\r\n$6\r\n*1\r\n$0\r\n"), S("[2]5:a\0b\r\n,6:*1\r\n$0,"));
    test_check_ok(S("*1\r\n$4\r\n\r\n\r\n\r\n"), S("[1]4:\r\n\r\n,"));
    test_check_ok(S("*1\r\n$3\r\n\xff\x00\x80\r\n"), S("[1]3:\xff\x00\x80,"));
}

static void
test_resp_multibulk_empty_bulk(void **state)
{
    (void)state;
    test_check_ok(S("*3\r\n$0\r\n\r\n$1\r\nx\r\n$0\r\n\r\n"), S("[3]0:,1:x,0:,"));
}

static void
test_resp_multibulk_many_args_grow_argv(void **state)
{
    resp_parser *p = *state;
    enum { N = 3000 };
    test_str in = {0};
    char hdr[RESP_HDR_MAX];

    test_str_add(&in, hdr, resp_hdr(hdr, '*', N));
    for (int i = 0; i < N; i++) {
        char arg[16];
        int k = snprintf(arg, sizeof(arg), "%d", i);

        test_str_add(&in, hdr, resp_hdr(hdr, '$', k));
        test_str_add(&in, arg, (size_t)k);
        test_str_add(&in, "\r\n", 2);
    }
    assert_int_equal(resp_parse(p, in.buf, in.len), 1);
    assert_int_equal(p->argc, N);
    assert_int_equal(p->consumed, in.len);
    for (int i = 0; i < N; i++) {
        char arg[16];
        int k = snprintf(arg, sizeof(arg), "%d", i);

        assert_int_equal(p->argv[i].len, (size_t)k);
        assert_memory_equal(p->argv[i].ptr, arg, (size_t)k);
    }
    free(in.buf);
}

/* Redis skips the two bytes after '\r' and after a payload unchecked. */
static void
test_resp_multibulk_terminators_unchecked(void **state)
{
    (void)state;
    test_check_ex(S("*1\rX$4\r\nPINGXY*1\r\n$1\r\nz\nQ"), S("[1]4:PING,[1]1:z,"), NULL, 0);
}

/* "*1\r" is not a line yet: Redis waits for the byte after '\r'. */
static void
test_resp_multibulk_waits_for_byte_after_cr(void **state)
{
    resp_parser *p = *state;

    assert_int_equal(test_parse(p, S("*1\r")), 0);
    assert_int_equal(test_parse(p, S("*1\r\n$1\r")), 0);
    assert_int_equal(test_parse(p, S("*1\r\n$1\r\nab")), 0);
    assert_int_equal(test_parse(p, S("*1\r\n$1\r\nab\r")), 1);
    assert_int_equal(p->consumed, 11);
}

/* A count up to INT_MAX is accepted without allocating for it (ASan would
 * refuse a 32 GB argv). */
static void
test_resp_multibulk_huge_count_allocates_lazily(void **state)
{
    resp_parser *p = *state;

    assert_int_equal(test_parse(p, S("*2147483647\r\n")), 0);
    assert_int_equal(test_parse(p, S("*2147483647\r\n$1\r\na\r\n$1\r\nb\r\n")), 0);
    resp_parser_reset(p);
    assert_int_equal(test_parse(p, S("*1\r\n$1\r\nc\r\n")), 1);
    assert_memory_equal(p->argv[0].ptr, "c", 1);
}

/* ---- Valid inline requests ----------------------------------------------- */

static void
test_resp_inline_simple(void **state)
{
    resp_parser *p = *state;

    assert_int_equal(test_parse(p, S("PING\r\nxyz")), 1);
    assert_int_equal(p->argc, 1);
    assert_int_equal(p->consumed, 6);
    assert_memory_equal(p->argv[0].ptr, "PING", 4);
    test_check_ok(S("SET  k\tv\n"), S("[3]3:SET,1:k,1:v,"));
    test_check_ok(S("  GET k  \r\n"), S("[2]3:GET,1:k,"));
}

static void
test_resp_inline_quoted_args(void **state)
{
    (void)state;
    test_check_ok(S("ECHO \"a\\x41\\n\"\n"), S("[2]4:ECHO,3:aA\n,"));
    test_check_ok(S("E \"\\x4a\\xZZ\\q\\b\\a\\t\\r\\\\\\\"\"\n"),
                  S("[2]1:E,11:JxZZq\b\a\t\r\\\","));
    test_check_ok(S("E 'a\\'b' 'c\\d\"'\n"), S("[3]1:E,3:a'b,4:c\\d\","));
    test_check_ok(S("E \"\" ''\n"), S("[3]1:E,0:,0:,"));
    test_check_ok(S("E a\"b c\" d\n"), S("[3]1:E,4:ab c,1:d,"));
    test_check_ok(S("E \"a b\"\t'c d'\r\n"), S("[3]1:E,3:a b,3:c d,"));
    test_check_ok(S("E \"a\\x00b\" \"\\xff\"\n"), S("[3]1:E,3:a\0b,1:\xff,"));
}

/* Blanks: '\v' and '\f' separate arguments but never end an unquoted one;
 * a '\r' inside the line ends one. */
static void
test_resp_inline_blank_rules(void **state)
{
    (void)state;
    test_check_ok(S("E a\vb\n"), S("[2]1:E,3:a\vb,"));
    test_check_ok(S("E \va\n"), S("[2]1:E,1:a,"));
    test_check_ok(S("E \"a\"\vb\n"), S("[3]1:E,1:a,1:b,"));
    test_check_ok(S("E a\rb\n"), S("[3]1:E,1:a,1:b,"));
    test_check_ok(S("E \"a\rb\"\n"), S("[2]1:E,3:a\rb,"));
}

/* With its '\n' already buffered, a line longer than RESP_INLINE_MAX is
 * accepted, as Redis does when it reads it in one go. */
static void
test_resp_inline_long_line_accepted(void **state)
{
    resp_parser *p = *state;
    size_t n = RESP_INLINE_MAX + 5000;
    char *in = malloc(n + 2);

    assert_non_null(in);
    memcpy(in, "ECHO ", 5);
    memset(in + 5, 'a', n - 5);
    in[n] = '\n';
    assert_int_equal(resp_parse(p, in, n + 1), 1);
    assert_int_equal(p->argc, 2);
    assert_int_equal(p->argv[1].len, n - 5);
    free(in);
}

static void
test_resp_pipelined_commands(void **state)
{
    (void)state;
    test_check_ok(S("*1\r\n$4\r\nPING\r\nECHO x\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
                    "\n*0\r\nPING\n*-1\r\n"),
                  S("[1]4:PING,[2]4:ECHO,1:x,[2]4:ECHO,0:,[0][0][1]4:PING,[0]"));
}

static void
test_resp_partial_command_stays_pending(void **state)
{
    (void)state;
    test_check_ex(S("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk"), S("[1]4:PING,"), NULL, 18);
    test_check_ex(S("PING\r\nECHO a"), S("[1]4:PING,"), NULL, 6);
}

/* ---- Silently skipped requests ------------------------------------------- */

static void
test_resp_skip_empty_inline(void **state)
{
    resp_parser *p = *state;

    assert_int_equal(test_parse(p, S("\nPING\n")), 1);
    assert_int_equal(p->argc, 0);
    assert_int_equal(p->consumed, 1);
    assert_int_equal(test_parse(p, S("   \r\n")), 1);
    assert_int_equal(p->argc, 0);
    assert_int_equal(p->consumed, 5);
    test_check_ok(S("\r\n\n \t\n"), S("[0][0][0]"));
}

static void
test_resp_skip_nonpositive_count(void **state)
{
    resp_parser *p = *state;

    assert_int_equal(test_parse(p, S("*0\r\n*1")), 1);
    assert_int_equal(p->argc, 0);
    assert_int_equal(p->consumed, 4);
    assert_int_equal(test_parse(p, S("*-1\r\n")), 1);
    assert_int_equal(p->argc, 0);
    assert_int_equal(p->consumed, 5);
    test_check_ok(S("*-5\r\n*0\r\n*-1\r\n"), S("[0][0][0]"));
}

/* ---- Protocol errors ----------------------------------------------------- */

static void
test_resp_err_invalid_multibulk_length(void **state)
{
    static const char err[] = "Protocol error: invalid multibulk length";

    (void)state;
    test_check_err(S("*x\r\n"), err);
    test_check_err(S("*+1\r\n"), err);
    test_check_err(S("* 1\r\n"), err);
    test_check_err(S("*1 \r\n"), err);
    test_check_err(S("*01\r\n"), err);
    test_check_err(S("*-0\r\n"), err);
    test_check_err(S("*-\r\n"), err);
    test_check_err(S("*\r\n"), err);
    test_check_err(S("*2147483648\r\n"), err);
    test_check_err(S("*12345678901234567890\r\n"), err);
    test_check_err(S("*123456789012345678901\r\n"), err);
}

static void
test_resp_err_too_big_mbulk_count(void **state)
{
    resp_parser *p = *state;
    char *in = malloc(RESP_INLINE_MAX + 1);

    assert_non_null(in);
    in[0] = '*';
    memset(in + 1, '1', RESP_INLINE_MAX);
    assert_int_equal(resp_parse(p, in, RESP_INLINE_MAX), 0);
    assert_int_equal(resp_parse(p, in, RESP_INLINE_MAX + 1), -EPROTO);
    assert_string_equal(p->err, "Protocol error: too big mbulk count string");
    free(in);
}

static void
test_resp_err_expected_dollar(void **state)
{
    (void)state;
    test_check_err(S("*1\r\nX\r\n"), "Protocol error: expected '$', got 'X'");
    test_check_err(S("*2\r\n$1\r\na\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
    test_check_err(S("*1\r\n\xff\r\n"), "Protocol error: expected '$', got '\xff'");
    /* Redis turns CR and LF in error messages into spaces. */
    test_check_err(S("*1\r\n\r\n"), "Protocol error: expected '$', got ' '");
    test_check_err(S("*1\r\n\n\r\n"), "Protocol error: expected '$', got ' '");
}

/* The '$' check waits for a whole header line, as Redis does. */
static void
test_resp_expected_dollar_waits_for_line(void **state)
{
    (void)state;
    test_check_ex(S("*1\r\nX"), "", 0, NULL, 5);
    test_check_ex(S("*1\r\nX\r"), "", 0, NULL, 6);
}

static void
test_resp_err_too_big_bulk_count(void **state)
{
    resp_parser *p = *state;
    size_t n = 4 + RESP_INLINE_MAX + 1;
    char *in = malloc(n);

    assert_non_null(in);
    memcpy(in, "*1\r\n$", 5);
    memset(in + 5, '1', n - 5);
    assert_int_equal(resp_parse(p, in, n - 1), 0);
    assert_int_equal(resp_parse(p, in, n), -EPROTO);
    assert_string_equal(p->err, "Protocol error: too big bulk count string");
    /* A line that does not start with '$' hits the size limit first. */
    resp_parser_reset(p);
    in[4] = 'X';
    assert_int_equal(resp_parse(p, in, n), -EPROTO);
    assert_string_equal(p->err, "Protocol error: too big bulk count string");
    free(in);
}

static void
test_resp_err_invalid_bulk_length(void **state)
{
    static const char err[] = "Protocol error: invalid bulk length";

    (void)state;
    test_check_err(S("*1\r\n$-1\r\n"), err);
    test_check_err(S("*1\r\n$x\r\n"), err);
    test_check_err(S("*1\r\n$\r\n"), err);
    test_check_err(S("*1\r\n$+4\r\nPING\r\n"), err);
    test_check_err(S("*1\r\n$04\r\nPING\r\n"), err);
    test_check_err(S("*2\r\n$1\r\na\r\n$4 \r\nPING\r\n"), err);
    test_check_err(S("*1\r\n$99999999999999999999\r\n"), err);
    test_check_err(S("*1\r\n$536870913\r\n"), err);
}

static void
test_resp_err_unbalanced_quotes(void **state)
{
    static const char err[] = "Protocol error: unbalanced quotes in request";

    (void)state;
    test_check_err(S("ECHO \"ab\n"), err);
    test_check_err(S("ECHO \"a\"b\n"), err);
    test_check_err(S("ECHO 'a'b\n"), err);
    test_check_err(S("ECHO 'ab\r\n"), err);
    test_check_err(S("ECHO \"a\\\n"), err);
    test_check_err(S("ECHO \"a\\\"\n"), err);
}

static void
test_resp_err_too_big_inline(void **state)
{
    resp_parser *p = *state;
    char *in = malloc(RESP_INLINE_MAX + 1);

    assert_non_null(in);
    memset(in, 'A', RESP_INLINE_MAX + 1);
    assert_int_equal(resp_parse(p, in, RESP_INLINE_MAX), 0);
    assert_int_equal(resp_parse(p, in, RESP_INLINE_MAX + 1), -EPROTO);
    assert_string_equal(p->err, "Protocol error: too big inline request");
    free(in);
}

/* A NUL before the line end hides it, as strchr() does in Redis: the request
 * stalls until the size limit trips. */
static void
test_resp_nul_stalls_line(void **state)
{
    resp_parser *p = *state;
    size_t n = RESP_INLINE_MAX + 100;
    char *in = malloc(n);

    assert_non_null(in);
    memset(in, '\n', n);
    memcpy(in, "PING\0", 5);
    assert_int_equal(resp_parse(p, in, 6), 0);
    assert_int_equal(resp_parse(p, in, 1000), 0);
    assert_int_equal(resp_parse(p, in, n), -EPROTO);
    assert_string_equal(p->err, "Protocol error: too big inline request");
    memset(in, '\r', n);
    memcpy(in, "*1\0", 3);
    assert_int_equal(resp_parse(p, in, 5), 0);
    assert_int_equal(resp_parse(p, in, n), -EPROTO);
    assert_string_equal(p->err, "Protocol error: too big mbulk count string");
    memcpy(in, "*1\r\n$4\0", 7);
    assert_int_equal(resp_parse(p, in, 10), 0);
    assert_int_equal(resp_parse(p, in, n), -EPROTO);
    assert_string_equal(p->err, "Protocol error: too big bulk count string");
    free(in);
}

/* After -EPROTO the parser starts over at the next buffer it is given. */
static void
test_resp_error_drops_progress(void **state)
{
    resp_parser *p = *state;

    assert_int_equal(test_parse(p, S("*1\r\n$x\r\n")), -EPROTO);
    assert_int_equal(test_parse(p, S("PING\n")), 1);
    assert_int_equal(p->argc, 1);
}

/* ---- Limits -------------------------------------------------------------- */

static void
test_resp_max_bulk_len_boundary(void **state)
{
    resp_parser *p = *state;

    p->max_bulk_len = 4;
    assert_int_equal(test_parse(p, S("*1\r\n$4\r\nPING\r\n")), 1);
    assert_int_equal(test_parse(p, S("*1\r\n$5\r\nPINGS\r\n")), -EPROTO);
    assert_string_equal(p->err, "Protocol error: invalid bulk length");
    p->max_bulk_len = 0;
    assert_int_equal(test_parse(p, S("*1\r\n$0\r\n\r\n")), 1);
}

/* The limit in force when a header is read applies, not the one at the start. */
static void
test_resp_max_bulk_len_changes_between_calls(void **state)
{
    resp_parser *p = *state;
    static const char in[] = "*2\r\n$3\r\nabc\r\n$3\r\ndef\r\n";

    p->max_bulk_len = 3;
    assert_int_equal(resp_parse(p, in, 10), 0);
    p->max_bulk_len = 2;
    assert_int_equal(resp_parse(p, in, sizeof(in) - 1), -EPROTO);
    assert_string_equal(p->err, "Protocol error: invalid bulk length");
}

static void
test_resp_unauth_count_limit(void **state)
{
    resp_parser *p = *state;

    p->unauth = 1;
    assert_int_equal(test_parse(p, S("*11\r\n")), -EPROTO);
    assert_string_equal(p->err, "Protocol error: unauthenticated multibulk length");
    assert_int_equal(test_parse(p, S("*10\r\n")), 0);
    resp_parser_reset(p);
    assert_int_equal(test_parse(p, S("*-1\r\n")), 1);
    /* Validity is checked before the unauthenticated limit. */
    assert_int_equal(test_parse(p, S("*99999999999\r\n")), -EPROTO);
    assert_string_equal(p->err, "Protocol error: invalid multibulk length");
    p->unauth = 0;
    assert_int_equal(test_parse(p, S("*11\r\n")), 0);
}

static void
test_resp_unauth_bulk_limit(void **state)
{
    resp_parser *p = *state;

    p->unauth = 1;
    assert_int_equal(test_parse(p, S("*1\r\n$16385\r\n")), -EPROTO);
    assert_string_equal(p->err, "Protocol error: unauthenticated bulk length");
    assert_int_equal(test_parse(p, S("*1\r\n$16384\r\n")), 0);
    resp_parser_reset(p);
    assert_int_equal(test_parse(p, S("*1\r\n$999999999999\r\n")), -EPROTO);
    assert_string_equal(p->err, "Protocol error: invalid bulk length");
}

/* ---- Progress across calls ----------------------------------------------- */

/*
 * A 16 MB bulk fed in 64 KB reads into a buffer that moves halfway. The
 * payload is ASan-poisoned throughout, so the parser provably never reads it:
 * each call costs O(1) once the header is known.
 */
static void
test_resp_large_bulk_in_chunks(void **state)
{
    resp_parser *p = *state;
    const size_t bulk = 16u << 20, chunk = 64u << 10;
    char hdr[2 * RESP_HDR_MAX];
    size_t h = resp_hdr(hdr, '*', 2);
    size_t total, have, calls = 0, body;
    int moved = 0, rc = 0;
    char *buf;

    h += resp_hdr(hdr + h, '$', (long long)bulk);
    body = h;
    total = h + bulk + 9; /* payload, its CRLF, then "$1\r\nx\r\n" */
    buf = malloc(total);
    assert_non_null(buf);
    memcpy(buf, hdr, h);
    memset(buf + h, 'v', bulk);
    memcpy(buf + h + bulk, "\r\n$1\r\nx\r\n", 9);
    TEST_POISON(buf + body, bulk);
    for (have = 0; have < total; have += chunk) {
        size_t n = total - have < chunk ? total : have + chunk;

        if (!moved && have >= total / 2) {
            /* The client's buffer moves; only offsets may survive. */
            char *nb = malloc(total);

            assert_non_null(nb);
            TEST_UNPOISON(buf + body, bulk);
            memcpy(nb, buf, total);
            free(buf);
            buf = nb;
            TEST_POISON(buf + body, bulk);
            moved = 1;
        }
        rc = resp_parse(p, buf, n);
        calls++;
        if (rc != 0)
            break;
    }
    TEST_UNPOISON(buf + body, bulk);
    assert_int_equal(rc, 1);
    assert_int_equal(calls, (total + chunk - 1) / chunk);
    assert_int_equal(p->argc, 2);
    assert_ptr_equal(p->argv[0].ptr, buf + body);
    assert_int_equal(p->argv[0].len, bulk);
    assert_memory_equal(p->argv[1].ptr, "x", 1);
    assert_int_equal(p->consumed, total);
    free(buf);
}

/* While an inline line is incomplete, bytes already scanned are never read
 * again (poisoned under ASan); the final split reads the line once. */
static void
test_resp_inline_scan_resumes(void **state)
{
    resp_parser *p = *state;
    const size_t n = 60000, step = 100;
    char *buf = malloc(n + 1);
    size_t have;

    assert_non_null(buf);
    memset(buf, 'a', n);
    buf[3] = ' ';
    buf[n] = '\n';
    for (have = step; have <= n; have += step) {
        assert_int_equal(resp_parse(p, buf, have), 0);
        TEST_POISON(buf, have);
    }
    TEST_UNPOISON(buf, n);
    assert_int_equal(resp_parse(p, buf, n + 1), 1);
    assert_int_equal(p->argc, 2);
    assert_int_equal(p->argv[1].len, n - 4);
    assert_int_equal(p->consumed, n + 1);
    free(buf);
}

static void
test_resp_reset_forgets_partial(void **state)
{
    resp_parser *p = *state;

    assert_int_equal(test_parse(p, S("*2\r\n$3\r\nfoo\r\n$3")), 0);
    resp_parser_reset(p);
    assert_int_equal(test_parse(p, S("PING\r\n")), 1);
    assert_int_equal(p->argc, 1);
    assert_memory_equal(p->argv[0].ptr, "PING", 4);
    assert_int_equal(test_parse(p, S("\"x")), 0);
    resp_parser_reset(p);
    resp_parser_reset(p);
    assert_int_equal(test_parse(p, S("*1\r\n$1\r\ny\r\n")), 1);
}

/* ---- resp_hdr() ---------------------------------------------------------- */

static void
test_resp_hdr_formats(void **state)
{
    static const long long vals[] = {0,       1,         -1,        9,         10,         -10,
                                     99,      100,       12345,     -4096,     1000000000, INT_MAX,
                                     INT_MIN, LLONG_MAX, LLONG_MIN, -LLONG_MAX};
    static const char prefixes[] = "*$:%~>";

    (void)state;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        for (size_t j = 0; j < sizeof(prefixes) - 1; j++) {
            char got[RESP_HDR_MAX + 1], want[64];
            int wn = snprintf(want, sizeof(want), "%c%lld\r\n", prefixes[j], vals[i]);
            size_t n;

            memset(got, '#', sizeof(got));
            n = resp_hdr(got, prefixes[j], vals[i]);
            assert_int_equal(n, (size_t)wn);
            assert_true(n <= RESP_HDR_MAX);
            assert_memory_equal(got, want, n);
            assert_int_equal(got[RESP_HDR_MAX], '#');
        }
    }
}

static void
test_resp_hdr_round_trips_through_parser(void **state)
{
    resp_parser *p = *state;
    char buf[64];
    size_t n = resp_hdr(buf, '*', 1);

    n += resp_hdr(buf + n, '$', 2);
    memcpy(buf + n, "ok\r\n", 4);
    n += 4;
    assert_int_equal(resp_parse(p, buf, n), 1);
    assert_int_equal(p->argc, 1);
    assert_memory_equal(p->argv[0].ptr, "ok", 2);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, test_setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_resp_multibulk_simple),
        T(test_resp_multibulk_binary_args),
        T(test_resp_multibulk_empty_bulk),
        T(test_resp_multibulk_many_args_grow_argv),
        T(test_resp_multibulk_terminators_unchecked),
        T(test_resp_multibulk_waits_for_byte_after_cr),
        T(test_resp_multibulk_huge_count_allocates_lazily),
        T(test_resp_inline_simple),
        T(test_resp_inline_quoted_args),
        T(test_resp_inline_blank_rules),
        T(test_resp_inline_long_line_accepted),
        T(test_resp_pipelined_commands),
        T(test_resp_partial_command_stays_pending),
        T(test_resp_skip_empty_inline),
        T(test_resp_skip_nonpositive_count),
        T(test_resp_err_invalid_multibulk_length),
        T(test_resp_err_too_big_mbulk_count),
        T(test_resp_err_expected_dollar),
        T(test_resp_expected_dollar_waits_for_line),
        T(test_resp_err_too_big_bulk_count),
        T(test_resp_err_invalid_bulk_length),
        T(test_resp_err_unbalanced_quotes),
        T(test_resp_err_too_big_inline),
        T(test_resp_nul_stalls_line),
        T(test_resp_error_drops_progress),
        T(test_resp_max_bulk_len_boundary),
        T(test_resp_max_bulk_len_changes_between_calls),
        T(test_resp_unauth_count_limit),
        T(test_resp_unauth_bulk_limit),
        T(test_resp_large_bulk_in_chunks),
        T(test_resp_inline_scan_resumes),
        T(test_resp_reset_forgets_partial),
        T(test_resp_hdr_formats),
        T(test_resp_hdr_round_trips_through_parser),
    };
#undef T
    return cmocka_run_group_tests_name("resp", tests, NULL, NULL);
}
