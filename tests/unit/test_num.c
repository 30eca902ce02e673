/*
 * test_num.c - unit tests for the Redis-exact number helpers in num.h.
 *
 * Almost everything is table-driven. Every row whose comment says "redis"
 * was checked against redis-server 7.0.15: integers with SET + INCR, stream
 * IDs with XADD (util_str2ull), long doubles with INCRBYFLOAT on "0" (both
 * util_str2ld and the UTIL_LD_HUMAN printer), doubles with ZADD + ZSCORE
 * (util_str2d and util_d2resp) and listpack bytes from DUMP (util_d2str).
 * One randomized test compares integer printing with snprintf; its seed is
 * printed and can be set with RUNNEL_TEST_SEED.
 */
#include "broker/util/num.h"

#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* A parse case: input bytes (sizeof-based, so NUL bytes count). */
typedef struct num_int_case {
    const char *in; /* input bytes */
    size_t len;     /* input length */
    int ok;         /* expected return */
    long long want; /* expected value when ok (bit pattern for ull) */
} num_int_case;

#define NI(s, ok, v)                                                                               \
    {                                                                                              \
        s, sizeof(s) - 1, ok, v                                                                    \
    }

/* Float input and the text Redis prints for it, or NULL when rejected. */
typedef struct num_float_case {
    const char *in;   /* input bytes */
    size_t len;       /* input length */
    const char *want; /* printed form, NULL if the parse must fail */
} num_float_case;

#define NF(s, w)                                                                                   \
    {                                                                                              \
        s, sizeof(s) - 1, w                                                                        \
    }

static uint64_t num_rng_state; /* xorshift64* state, never 0 */

static uint64_t
num_rng(void)
{
    num_rng_state ^= num_rng_state >> 12;
    num_rng_state ^= num_rng_state << 25;
    num_rng_state ^= num_rng_state >> 27;
    return num_rng_state * 0x2545F4914F6CDD1DULL;
}

static int
num_setup_seed(void **state)
{
    const char *env = getenv("RUNNEL_TEST_SEED");
    unsigned long long seed = env ? strtoull(env, NULL, 0) : (unsigned long long)time(NULL);

    (void)state;
    fprintf(stderr, "test_num: seed %llu (set RUNNEL_TEST_SEED to reproduce)\n", seed);
    num_rng_state = seed ? seed : 1;
    return 0;
}

static void
test_num_str2ll_strict_integers(void **state)
{
    static const num_int_case cases[] = {
        NI("0", 1, 0),
        NI("1", 1, 1),
        NI("-1", 1, -1),
        NI("123", 1, 123),
        NI("9223372036854775807", 1, LLONG_MAX),  /* redis */
        NI("-9223372036854775808", 1, LLONG_MIN), /* redis */
        NI("9223372036854775808", 0, 0),          /* redis */
        NI("-9223372036854775809", 0, 0),         /* redis */
        NI("18446744073709551616", 0, 0),
        NI("99999999999999999999", 0, 0),
        NI("123456789012345678901", 0, 0), /* redis */
        NI("", 0, 0),                      /* redis */
        NI("-", 0, 0),                     /* redis */
        NI("-0", 0, 0),                    /* redis */
        NI("01", 0, 0),                    /* redis: SET k 01; INCR k fails */
        NI("00", 0, 0),                    /* redis */
        NI("-01", 0, 0),                   /* redis */
        NI("+1", 0, 0),                    /* redis */
        NI(" 1", 0, 0),                    /* redis */
        NI("1 ", 0, 0),                    /* redis */
        NI("1\0", 0, 0),                   /* redis */
        NI("1e3", 0, 0),                   /* redis */
        NI("0x10", 0, 0),                  /* redis */
        NI("12a", 0, 0),
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long v = 42;
        int ok = util_str2ll(cases[i].in, cases[i].len, &v);

        if (ok != cases[i].ok || (ok && v != cases[i].want))
            fail_msg("row %zu \"%s\": got %d %lld", i, cases[i].in, ok, v);
        if (!ok && v != 42)
            fail_msg("row %zu wrote *out on failure", i);
    }
}

static void
test_num_str2ull_follows_stream_id_rules(void **state)
{
    static const num_int_case cases[] = {
        NI("5", 1, 5),
        NI(" 5", 1, 5),                      /* redis: XADD s " 5-1" */
        NI("+5", 1, 5),                      /* redis */
        NI("05", 1, 5),                      /* redis */
        NI("007", 1, 7),                     /* redis */
        NI("\t1", 1, 1),                     /* redis */
        NI("\n1", 1, 1),                     /* redis */
        NI(" +1", 1, 1),                     /* redis */
        NI("-0", 1, 0),                      /* redis */
        NI("+0", 1, 0),                      /* redis */
        NI("  -0", 1, 0),                    /* redis */
        NI(" -1", 1, -1),                    /* redis: 18446744073709551615 */
        NI("  -18446744073709551615", 1, 1), /* redis */
        NI("18446744073709551615", 1, -1),   /* redis: ULLONG_MAX */
        NI("18446744073709551616", 0, 0),    /* redis */
        NI("99999999999999999999999", 0, 0),
        NI("-1", 0, 0),  /* redis */
        NI("", 0, 0),    /* redis */
        NI("1 ", 0, 0),  /* redis */
        NI("0x1", 0, 0), /* redis */
        NI("1e3", 0, 0), /* redis */
        NI("- 1", 0, 0), /* redis */
        NI(" ", 0, 0),
        NI("+", 0, 0),
        NI("1\0x", 1, 1),  /* redis: XADD s "5-1\0x" gives 5-1 */
        NI("\0001", 0, 0), /* NUL then '1': nothing before the NUL */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned long long v = 42;
        int ok = util_str2ull(cases[i].in, cases[i].len, &v);

        if (ok != cases[i].ok || (ok && v != (unsigned long long)cases[i].want))
            fail_msg("row %zu \"%s\": got %d %llu", i, cases[i].in, ok, v);
        if (!ok && v != 42)
            fail_msg("row %zu wrote *out on failure", i);
    }
}

/* Long double inputs with what INCRBYFLOAT on "0" replies (redis). */
static const num_float_case num_ld_cases[] = {
    NF("5.0e3", "5000"),
    NF("+1", "1"),
    NF("0x10", "16"),
    NF("-0", "0"),
    NF("-0.0", "0"),
    NF(".5", "0.5"),
    NF("5.", "5"),
    NF("0.1", "0.1"),
    NF("123.456e-5", "0.00123456"),
    NF("-1.5e-17", "-0.00000000000000002"),
    NF("0.00000000000000000001", "0"),
    NF("-0.00000000000000000001", "0"),
    NF("1.123456789012345678", "1.12345678901234568"),
    NF("123456789012345678901234567890", "123456789012345678899921813504"),
    NF("1.5e-4940", "0"), /* denormal: ERANGE but not zero, accepted */
    NF("3.6e-4951", "0"),
    NF("inf", "inf"), /* accepted here, refused later by INCRBYFLOAT */
    NF("INF", "inf"),
    NF("infinity", "inf"),
    NF("1e5000", NULL),  /* overflow */
    NF("1e-5000", NULL), /* underflow to zero */
    NF("nan", NULL),
    NF(" 1", NULL),
    NF("1 ", NULL),
    NF("", NULL),
    NF("1\0", NULL),
    NF("abc", NULL),
    NF("1e", NULL),
};

static void
test_num_str2ld_accepts_what_incrbyfloat_accepts(void **state)
{
    char out[UTIL_LD_MAX_CHARS];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(num_ld_cases) / sizeof(num_ld_cases[0]); i++) {
        const num_float_case *c = &num_ld_cases[i];
        long double v = 42;
        int ok = util_str2ld(c->in, c->len, &v);

        if (ok != (c->want != NULL))
            fail_msg("row %zu \"%s\": got %d", i, c->in, ok);
        if (!ok) {
            assert_true(v == 42);
            continue;
        }
        assert_true(util_ld2str(out, sizeof(out), v, UTIL_LD_HUMAN) > 0);
        if (strcmp(out, c->want) != 0)
            fail_msg("row %zu \"%s\": printed \"%s\" want \"%s\"", i, c->in, out, c->want);
    }
}

static void
test_num_str2ld_length_limit(void **state)
{
    char *s = malloc(UTIL_LD_MAX_CHARS + 1);
    long double v = 0;

    (void)state;
    assert_non_null(s);
    /* redis: 5118 zeros then "1" parse, 5119 zeros then "1" do not. */
    memset(s, '0', UTIL_LD_MAX_CHARS);
    s[UTIL_LD_MAX_CHARS - 2] = '1';
    assert_int_equal(util_str2ld(s, UTIL_LD_MAX_CHARS - 1, &v), 1);
    assert_true(v == 1);
    s[UTIL_LD_MAX_CHARS - 2] = '0';
    s[UTIL_LD_MAX_CHARS - 1] = '1';
    assert_int_equal(util_str2ld(s, UTIL_LD_MAX_CHARS, &v), 0);
    free(s);
}

static void
test_num_str2ld_huge_values_print_in_full(void **state)
{
    char out[UTIL_LD_MAX_CHARS];
    long double v = 0;

    (void)state;
    /* redis: INCRBYFLOAT k 1e400 replies with 401 digits. */
    assert_int_equal(util_str2ld("1e400", 5, &v), 1);
    assert_int_equal(util_ld2str(out, sizeof(out), v, UTIL_LD_HUMAN), 401);
    assert_memory_equal(out, "10000000000000000000281880683947586514", 38);
    assert_int_equal(util_str2ld("1.18e4932", 9, &v), 1);
    assert_int_equal(util_ld2str(out, sizeof(out), v, UTIL_LD_HUMAN), 4933);
    assert_memory_equal(out, "1180000000000000000000652812918093699202", 40);
}

static void
test_num_ld2str_human_sums_like_incrbyfloat(void **state)
{
    static const struct {
        const char *a, *b, *want; /* redis: SET k a; INCRBYFLOAT k b */
    } cases[] = {
        {"10.5", "0.1", "10.6"},
        {"5.0e3", "0", "5000"},
        {"1.5", "0x1p-2", "1.75"},
        {"3", "-3", "0"},
        {"1e17", "1", "100000000000000001"},
        {"3", "1.0000000000000000001", "4"},
    };
    char out[UTIL_LD_MAX_CHARS];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long double a, b;

        assert_int_equal(util_str2ld(cases[i].a, strlen(cases[i].a), &a), 1);
        assert_int_equal(util_str2ld(cases[i].b, strlen(cases[i].b), &b), 1);
        util_ld2str(out, sizeof(out), a + b, UTIL_LD_HUMAN);
        assert_string_equal(out, cases[i].want);
    }
}

static void
test_num_ld2str_auto_uses_17_significant_digits(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(util_ld2str(out, sizeof(out), 0.1L, UTIL_LD_AUTO), 3);
    assert_string_equal(out, "0.1");
    util_ld2str(out, sizeof(out), 1e17L, UTIL_LD_AUTO);
    assert_string_equal(out, "1e+17");
    util_ld2str(out, sizeof(out), 123456789012345678.0L, UTIL_LD_AUTO);
    assert_string_equal(out, "1.2345678901234568e+17");
    util_ld2str(out, sizeof(out), 3.0L, UTIL_LD_AUTO);
    assert_string_equal(out, "3");
    util_ld2str(out, sizeof(out), -0.0L, UTIL_LD_AUTO);
    assert_string_equal(out, "-0");
    util_ld2str(out, sizeof(out), -INFINITY, UTIL_LD_AUTO);
    assert_string_equal(out, "-inf");
}

static void
test_num_ld2str_reports_short_buffer(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(util_ld2str(out, sizeof(out), 1.5L, UTIL_LD_HUMAN), 0);
    assert_string_equal(out, ""); /* "%.17Lf" needs 20 bytes before trimming */
    assert_int_equal(util_ld2str(out, 4, -INFINITY, UTIL_LD_HUMAN), 0);
    assert_int_equal(util_ld2str(out, 5, -INFINITY, UTIL_LD_HUMAN), 4);
    assert_int_equal(util_ld2str(out, sizeof(out), 1.5L, 7), 0);
    assert_int_equal(util_ld2str(out, 0, 1.5L, UTIL_LD_AUTO), 0);
}

/* Double inputs with what ZADD then ZSCORE (skiplist encoding) replies. */
static const num_float_case num_d_cases[] = {
    NF("1", "1"),
    NF("1.5", "1.5"),
    NF("0.1", "0.10000000000000001"),
    NF("-0", "-0"),
    NF("-0.0", "-0"),
    NF("inf", "inf"),
    NF("-inf", "-inf"),
    NF("+inf", "inf"),
    NF("INF", "inf"),
    NF("infinity", "inf"),
    NF("1e308", "1e+308"),
    NF("1e-320", "9.9998886718268301e-321"),
    NF("4.9e-324", "4.9406564584124654e-324"),
    NF("2.2250738585072014e-308", "2.2250738585072014e-308"),
    NF("0x10", "16"),
    NF(".5", "0.5"),
    NF("5.", "5"),
    NF("1e3", "1000"),
    NF("3.0", "3"),
    NF("123456789012345678", "1.2345678901234568e+17"),
    NF("4503599627370496", "4503599627370496"),
    NF("-4503599627370496", "-4503599627370496"),
    NF("1e16", "10000000000000000"),
    NF("1e17", "1e+17"),
    NF("0.30000000000000004", "0.30000000000000004"),
    NF("nan", NULL),
    NF("1e309", NULL),
    NF("-1e309", NULL),
    NF("1e-400", NULL),
    NF("1e-324", NULL),
    NF(" 1", NULL),
    NF("1 ", NULL),
    NF("Inf ", NULL),
    NF("1\0", NULL),
    NF("", NULL),
};

static void
test_num_str2d_and_d2resp_match_zadd_zscore(void **state)
{
    char out[UTIL_DBL_BUF];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(num_d_cases) / sizeof(num_d_cases[0]); i++) {
        const num_float_case *c = &num_d_cases[i];
        double v = 42;
        int ok = util_str2d(c->in, c->len, &v);

        if (ok != (c->want != NULL))
            fail_msg("row %zu \"%s\": got %d", i, c->in, ok);
        if (!ok) {
            assert_true(v == 42);
            continue;
        }
        assert_int_equal(util_d2resp(out, sizeof(out), v), strlen(c->want));
        if (strcmp(out, c->want) != 0)
            fail_msg("row %zu \"%s\": printed \"%s\" want \"%s\"", i, c->in, out, c->want);
    }
}

static void
test_num_str2d_long_input(void **state)
{
    size_t len = 20003;
    char *s = malloc(len);
    double v = 0;

    (void)state;
    assert_non_null(s);
    /* redis: ZADD accepts 20000 zeros then "2.5". */
    memset(s, '0', len);
    memcpy(s + len - 3, "2.5", 3);
    assert_int_equal(util_str2d(s, len, &v), 1);
    assert_true(v == 2.5);
    s[len - 1] = 'x';
    assert_int_equal(util_str2d(s, len, &v), 0);
    free(s);
}

static void
test_num_d2str_matches_listpack_scores(void **state)
{
    static const struct {
        double v;         /* input */
        const char *want; /* d2string text; "redis" rows seen in DUMP */
    } cases[] = {
        {0.1, "0.10000000000000001"},        /* redis */
        {1.5, "1.5"},                        /* redis */
        {0.5, "0.5"},                        /* redis */
        {1e-320, "9.9998886718268301e-321"}, /* redis */
        {INFINITY, "inf"},                   /* redis */
        {-INFINITY, "-inf"},                 /* redis */
        {0.0, "0"},
        {-0.0, "-0"},
        {3.0, "3"},
        {-7.0, "-7"},
        {4503599627370495.0, "4503599627370495"},
        {4503599627370496.0, "4503599627370496"},
        {-4503599627370495.0, "-4503599627370495"},
        {-4503599627370496.0, "-4503599627370496"},
        {1e16, "10000000000000000"},
        {1e17, "1e+17"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {-1.5e300, "-1.5000000000000001e+300"},
        {2.5e-5, "2.5000000000000001e-05"},
    };
    char out[UTIL_DBL_BUF];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(util_d2str(out, sizeof(out), cases[i].v), strlen(cases[i].want));
        assert_string_equal(out, cases[i].want);
    }
    assert_int_equal(util_d2str(out, sizeof(out), NAN), 3);
    assert_string_equal(out, "nan");
    assert_int_equal(util_d2str(out, 3, 1.5), 0);
    assert_string_equal(out, "");
    assert_int_equal(util_d2str(out, 4, 1.5), 3);
    assert_int_equal(util_d2str(out, 2, 12.0), 0);
}

static void
test_num_d2resp_short_buffer_and_nan(void **state)
{
    char out[UTIL_DBL_BUF];

    (void)state;
    assert_int_equal(util_d2resp(out, 4, -INFINITY), 0);
    assert_int_equal(util_d2resp(out, 5, -INFINITY), 4);
    assert_int_equal(util_d2resp(out, 3, 0.25), 0);
    assert_string_equal(out, "");
    assert_int_equal(util_d2resp(out, sizeof(out), NAN), 3);
    assert_string_equal(out, "nan");
    assert_int_equal(util_d2resp(out, sizeof(out), -2.2250738585072014e-308), 24);
}

static void
test_num_ll2str_edge_values(void **state)
{
    static const struct {
        long long v;      /* input */
        const char *want; /* decimal text */
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {-1, "-1"},
        {9, "9"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {-100, "-100"},
        {12345, "12345"},
        {LLONG_MAX, "9223372036854775807"},
        {LLONG_MIN, "-9223372036854775808"},
    };
    char out[UTIL_LL_BUF];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(util_ll2str(out, cases[i].v), strlen(cases[i].want));
        assert_string_equal(out, cases[i].want);
    }
    assert_int_equal(util_ull2str(out, ULLONG_MAX), 20);
    assert_string_equal(out, "18446744073709551615");
    assert_int_equal(util_ull2str(out, 0), 1);
    assert_string_equal(out, "0");
}

static void
test_num_ll2str_matches_printf_and_round_trips(void **state)
{
    char out[UTIL_LL_BUF], ref[32];
    int i;

    (void)state;
    for (i = 0; i < 200000; i++) {
        uint64_t r = num_rng();
        long long v = (long long)(r >> (num_rng() % 64)); /* spread the lengths */
        unsigned long long u = r >> (num_rng() % 64);
        long long back;

        if ((i & 1) && v != LLONG_MIN)
            v = -v;
        snprintf(ref, sizeof(ref), "%lld", v);
        if (util_ll2str(out, v) != strlen(ref) || strcmp(out, ref) != 0)
            fail_msg("ll2str(%lld) gave \"%s\"", v, out);
        assert_int_equal(util_str2ll(out, strlen(out), &back), 1);
        assert_true(back == v);
        snprintf(ref, sizeof(ref), "%llu", u);
        if (util_ull2str(out, u) != strlen(ref) || strcmp(out, ref) != 0)
            fail_msg("ull2str(%llu) gave \"%s\"", u, out);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_str2ll_strict_integers),
        cmocka_unit_test(test_num_str2ull_follows_stream_id_rules),
        cmocka_unit_test(test_num_str2ld_accepts_what_incrbyfloat_accepts),
        cmocka_unit_test(test_num_str2ld_length_limit),
        cmocka_unit_test(test_num_str2ld_huge_values_print_in_full),
        cmocka_unit_test(test_num_ld2str_human_sums_like_incrbyfloat),
        cmocka_unit_test(test_num_ld2str_auto_uses_17_significant_digits),
        cmocka_unit_test(test_num_ld2str_reports_short_buffer),
        cmocka_unit_test(test_num_str2d_and_d2resp_match_zadd_zscore),
        cmocka_unit_test(test_num_str2d_long_input),
        cmocka_unit_test(test_num_d2str_matches_listpack_scores),
        cmocka_unit_test(test_num_d2resp_short_buffer_and_nan),
        cmocka_unit_test(test_num_ll2str_edge_values),
        cmocka_unit_test_setup(test_num_ll2str_matches_printf_and_round_trips, num_setup_seed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
