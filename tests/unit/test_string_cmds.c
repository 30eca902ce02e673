/*
 * tests/unit/test_string_cmds: the string command handlers, called directly.
 *
 * Each case runs handlers from cmd_string_defs on a fresh keyspace with a
 * fixed clock and checks the exact reply bytes, the stored encoding, the
 * expiry table and the dirty count. This covers what the differential corpus
 * (tests/diff/cases/string.txt) cannot yet: WRONGTYPE paths on a value of
 * another type made by hand, expiry times against a known clock, and
 * keyspace state that no reply shows. Expected bytes were checked against
 * redis-server 7.0.15.
 */
#include "broker/commands/families.h"
#include "broker/config/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define TEST_NOW_MS   1700000000000LL /* the fixed command time */
#define TEST_MAX_ARGS 16

/* One keyspace, one reply sink and one caller shared by a case. */
typedef struct test_env {
    ks_space ks;      /* 16 databases */
    reply r;          /* reply of the last command */
    cmd_session sess; /* the caller, database 0 */
    long long dirty;  /* sum of the commands' dirty counts */
} test_env;

static const cmd_def *
test_find(const char *name)
{
    for (const cmd_def *d = cmd_string_defs; d->name; d++) {
        if (strcmp(d->name, name) == 0)
            return d;
    }
    fail_msg("no command %s", name);
    return NULL;
}

/* Runs one command given as NUL-terminated arguments ending with NULL and
 * returns its reply as a NUL-terminated string (valid until the next run).
 * Binary arguments are not needed by these cases. */
static const char *
test_run(test_env *e, const char *name, ...)
{
    resp_arg argv[TEST_MAX_ARGS];
    cmd_ctx c;
    va_list ap;
    int argc = 0;
    argv[argc].ptr = name;
    argv[argc++].len = strlen(name);
    va_start(ap, name);
    for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
        assert_true(argc < TEST_MAX_ARGS);
        argv[argc].ptr = a;
        argv[argc++].len = strlen(a);
    }
    va_end(ap);
    reply_reset(&e->r);
    c = (cmd_ctx){
        .argc = argc,
        .argv = argv,
        .ks = &e->ks,
        .db = &e->ks.dbs[0],
        .r = &e->r,
        .sess = &e->sess,
        .now_ms = TEST_NOW_MS,
        .cmd = test_find(name),
    };
    c.cmd->fn(&c);
    e->dirty += c.dirty;
    reply_raw(&e->r, "", 1); /* NUL for string compares, then drop it */
    e->r.len--;
    return e->r.buf;
}

#define RUN(e, ...) test_run((e), __VA_ARGS__, (const char *)NULL)

static ks_obj *
test_obj(test_env *e, const char *key)
{
    return ks_lookup(&e->ks, &e->ks.dbs[0], key, strlen(key), TEST_NOW_MS,
                     KS_LOOKUP_NOSTATS | KS_LOOKUP_NOTOUCH);
}

static const char *
test_enc(test_env *e, const char *key)
{
    ks_obj *o = test_obj(e, key);
    assert_non_null(o);
    return ks_obj_enc_name(o);
}

static int64_t
test_expire(test_env *e, const char *key)
{
    return ks_get_expire(&e->ks.dbs[0], key, strlen(key));
}

/* Stores a value of another type under key (a string object retagged). */
static void
test_put_list(test_env *e, const char *key)
{
    ks_obj *o = ks_obj_new_str("x", 1);
    o->type = KS_LIST;
    ks_set(&e->ks.dbs[0], key, strlen(key), o, 0);
}

static int
test_setup(void **state)
{
    test_env *e = test_calloc(1, sizeof(*e));
    config_init(); /* limits such as proto-max-bulk-len at their defaults */
    ks_space_init(&e->ks, 16);
    reply_init(&e->r, 2);
    e->sess.resp = 2;
    *state = e;
    return 0;
}

static int
test_teardown(void **state)
{
    test_env *e = *state;
    reply_fini(&e->r);
    ks_space_fini(&e->ks);
    config_fini();
    test_free(e);
    return 0;
}

/* ---- GET / SET ----------------------------------------------------------- */

static void
test_string_cmds_set_get_roundtrip(void **state)
{
    test_env *e = *state;
    assert_string_equal(RUN(e, "get", "k"), "$-1\r\n");
    assert_string_equal(RUN(e, "set", "k", "hello"), "+OK\r\n");
    assert_string_equal(RUN(e, "get", "k"), "$5\r\nhello\r\n");
    assert_int_equal(e->dirty, 1);
    assert_int_equal(e->ks.hits, 1);
    assert_int_equal(e->ks.misses, 1);
}

static void
test_string_cmds_set_nx_xx_get(void **state)
{
    test_env *e = *state;
    assert_string_equal(RUN(e, "set", "k", "a", "XX"), "$-1\r\n");
    assert_string_equal(RUN(e, "set", "k", "a", "NX"), "+OK\r\n");
    assert_string_equal(RUN(e, "set", "k", "b", "NX"), "$-1\r\n");
    assert_string_equal(RUN(e, "set", "k", "b", "NX", "GET"), "$1\r\na\r\n");
    assert_string_equal(RUN(e, "set", "k", "c", "xx", "get"), "$1\r\na\r\n");
    assert_string_equal(RUN(e, "get", "k"), "$1\r\nc\r\n");
    assert_string_equal(RUN(e, "set", "k", "d", "NX", "XX"), "-ERR syntax error\r\n");
    assert_int_equal(e->dirty, 2);
}

static void
test_string_cmds_set_expire_forms(void **state)
{
    test_env *e = *state;
    assert_string_equal(RUN(e, "set", "k", "v", "EX", "10"), "+OK\r\n");
    assert_int_equal(test_expire(e, "k"), TEST_NOW_MS + 10000);
    assert_string_equal(RUN(e, "set", "k", "v", "PX", "10"), "+OK\r\n");
    assert_int_equal(test_expire(e, "k"), TEST_NOW_MS + 10);
    assert_string_equal(RUN(e, "set", "k", "v", "EXAT", "1800000000"), "+OK\r\n");
    assert_int_equal(test_expire(e, "k"), 1800000000000LL);
    assert_string_equal(RUN(e, "set", "k", "v", "PXAT", "1800000000001"), "+OK\r\n");
    assert_int_equal(test_expire(e, "k"), 1800000000001LL);
    assert_string_equal(RUN(e, "set", "k", "w", "KEEPTTL"), "+OK\r\n");
    assert_int_equal(test_expire(e, "k"), 1800000000001LL);
    assert_string_equal(RUN(e, "set", "k", "x"), "+OK\r\n");
    assert_int_equal(test_expire(e, "k"), -1);
}

static void
test_string_cmds_set_invalid_expire(void **state)
{
    test_env *e = *state;
    assert_string_equal(RUN(e, "set", "k", "v", "EX", "0"),
                        "-ERR invalid expire time in 'set' command\r\n");
    assert_string_equal(RUN(e, "set", "k", "v", "EX", "9223372036854776"),
                        "-ERR invalid expire time in 'set' command\r\n");
    assert_string_equal(RUN(e, "set", "k", "v", "PX", "9223372036854775807"),
                        "-ERR invalid expire time in 'set' command\r\n");
    assert_string_equal(RUN(e, "setex", "k", "-1", "v"),
                        "-ERR invalid expire time in 'setex' command\r\n");
    assert_string_equal(RUN(e, "psetex", "k", "x", "v"),
                        "-ERR value is not an integer or out of range\r\n");
    assert_null(test_obj(e, "k"));
    assert_int_equal(e->dirty, 0);
}

static void
test_string_cmds_set_past_expiry_reads_as_gone(void **state)
{
    test_env *e = *state;
    /* Stored with its past time, as Redis 7.0 does; the next read reaps it
     * and counts an expired key. */
    assert_string_equal(RUN(e, "set", "k", "v", "PXAT", "1"), "+OK\r\n");
    assert_int_equal(test_expire(e, "k"), 1);
    assert_string_equal(RUN(e, "get", "k"), "$-1\r\n");
    assert_int_equal(e->ks.expired_keys, 1);
}

static void
test_string_cmds_wrongtype(void **state)
{
    test_env *e = *state;
    static const char wt[] = "-WRONGTYPE Operation against a key holding the wrong kind of "
                             "value\r\n";
    test_put_list(e, "l");
    assert_string_equal(RUN(e, "get", "l"), wt);
    assert_string_equal(RUN(e, "set", "l", "v", "GET"), wt);
    assert_string_equal(RUN(e, "getset", "l", "v"), wt);
    assert_string_equal(RUN(e, "getdel", "l"), wt);
    assert_string_equal(RUN(e, "getex", "l", "EX", "0"), wt);
    assert_string_equal(RUN(e, "append", "l", ""), wt);
    assert_string_equal(RUN(e, "strlen", "l"), wt);
    assert_string_equal(RUN(e, "incr", "l"), wt);
    assert_string_equal(RUN(e, "incrbyfloat", "l", "abc"), wt);
    assert_string_equal(RUN(e, "getrange", "l", "0", "1"), wt);
    assert_string_equal(RUN(e, "setrange", "l", "0", ""), wt);
    assert_string_equal(RUN(e, "setnx", "l", "v"), ":0\r\n");
    assert_string_equal(RUN(e, "mget", "l"), "*1\r\n$-1\r\n");
    assert_string_equal(RUN(e, "lcs", "x", "l"),
                        "-ERR The specified keys must contain string values\r\n");
    /* Argument errors checked before the lookup win. */
    assert_string_equal(RUN(e, "incrby", "l", "x"),
                        "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(RUN(e, "setrange", "l", "-1", "x"), "-ERR offset is out of range\r\n");
    assert_string_equal(RUN(e, "set", "l", "v", "EX", "0", "GET"),
                        "-ERR invalid expire time in 'set' command\r\n");
    assert_int_equal(test_obj(e, "l")->type, KS_LIST);
    /* A plain SET replaces it. */
    assert_string_equal(RUN(e, "set", "l", "v"), "+OK\r\n");
    assert_int_equal(test_obj(e, "l")->type, KS_STRING);
}

/* ---- GETEX / GETDEL / MSET --------------------------------------------- */

static void
test_string_cmds_getex_expiry(void **state)
{
    test_env *e = *state;
    RUN(e, "set", "k", "v");
    assert_string_equal(RUN(e, "getex", "k", "EX", "5"), "$1\r\nv\r\n");
    assert_int_equal(test_expire(e, "k"), TEST_NOW_MS + 5000);
    assert_string_equal(RUN(e, "getex", "k", "PERSIST"), "$1\r\nv\r\n");
    assert_int_equal(test_expire(e, "k"), -1);
    assert_string_equal(RUN(e, "getex", "nokey", "EX", "0"), "$-1\r\n");
    assert_string_equal(RUN(e, "getex", "k", "KEEPTTL"), "-ERR syntax error\r\n");
    /* An absolute time already past deletes at once. */
    assert_string_equal(RUN(e, "getex", "k", "EXAT", "1"), "$1\r\nv\r\n");
    assert_int_equal(ks_dict_count(e->ks.dbs[0].keys), 0);
    assert_int_equal(e->ks.expired_keys, 0);
}

static void
test_string_cmds_mset_arity_and_nx(void **state)
{
    test_env *e = *state;
    assert_string_equal(RUN(e, "mset", "a", "1", "b"),
                        "-ERR wrong number of arguments for 'mset' command\r\n");
    assert_string_equal(RUN(e, "mset", "a", "1", "b", "2"), "+OK\r\n");
    assert_string_equal(RUN(e, "msetnx", "c", "3", "a", "x"), ":0\r\n");
    assert_null(test_obj(e, "c"));
    assert_string_equal(RUN(e, "msetnx", "c", "3", "d", "4"), ":1\r\n");
    assert_string_equal(RUN(e, "mget", "a", "z", "d"), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n4\r\n");
    assert_int_equal(e->dirty, 4);
}

/* ---- Encodings, edits, counters ----------------------------------------- */

static void
test_string_cmds_encodings(void **state)
{
    test_env *e = *state;
    RUN(e, "set", "k", "123");
    assert_string_equal(test_enc(e, "k"), "int");
    RUN(e, "append", "k", "");
    assert_string_equal(test_enc(e, "k"), "raw");
    RUN(e, "incr", "k");
    assert_string_equal(test_enc(e, "k"), "int");
    RUN(e, "incrbyfloat", "k", "1");
    assert_string_equal(test_enc(e, "k"), "embstr");
    assert_string_equal(RUN(e, "get", "k"), "$3\r\n125\r\n");
    RUN(e, "setrange", "n", "0", "7");
    assert_string_equal(test_enc(e, "n"), "raw");
    RUN(e, "append", "m", "42");
    assert_string_equal(test_enc(e, "m"), "int");
}

static void
test_string_cmds_setrange_pads_with_zeros(void **state)
{
    test_env *e = *state;
    assert_string_equal(RUN(e, "setrange", "k", "3", "ab"), ":5\r\n");
    assert_memory_equal(RUN(e, "get", "k"), "$5\r\n\0\0\0ab\r\n", 11);
    assert_string_equal(RUN(e, "setrange", "k", "1", "X"), ":5\r\n");
    assert_memory_equal(RUN(e, "get", "k"), "$5\r\n\0X\0ab\r\n", 11);
    assert_string_equal(RUN(e, "setrange", "k", "536870912", "x"),
                        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    assert_string_equal(RUN(e, "setrange", "z", "536870912", ""), ":0\r\n");
    assert_null(test_obj(e, "z"));
}

static void
test_string_cmds_getrange_clamps(void **state)
{
    test_env *e = *state;
    RUN(e, "set", "k", "This is a string");
    assert_string_equal(RUN(e, "getrange", "k", "-3", "-1"), "$3\r\ning\r\n");
    assert_string_equal(RUN(e, "getrange", "k", "-1", "-5"), "$0\r\n\r\n");
    assert_string_equal(RUN(e, "getrange", "k", "-100", "-50"), "$1\r\nT\r\n");
    assert_string_equal(RUN(e, "getrange", "k", "10", "100"), "$6\r\nstring\r\n");
    assert_string_equal(RUN(e, "substr", "nokey", "0", "1"), "$0\r\n\r\n");
}

static void
test_string_cmds_incr_overflow_keeps_ttl(void **state)
{
    test_env *e = *state;
    RUN(e, "set", "k", "9223372036854775806", "EX", "100");
    assert_string_equal(RUN(e, "incr", "k"), ":9223372036854775807\r\n");
    assert_string_equal(RUN(e, "incr", "k"), "-ERR increment or decrement would overflow\r\n");
    assert_string_equal(RUN(e, "decrby", "k", "-9223372036854775808"),
                        "-ERR decrement would overflow\r\n");
    assert_int_equal(test_expire(e, "k"), TEST_NOW_MS + 100000);
    RUN(e, "set", "s", " 1");
    assert_string_equal(RUN(e, "incr", "s"), "-ERR value is not an integer or out of range\r\n");
}

static void
test_string_cmds_incrbyfloat_format(void **state)
{
    test_env *e = *state;
    assert_string_equal(RUN(e, "incrbyfloat", "f", "10.5"), "$4\r\n10.5\r\n");
    assert_string_equal(RUN(e, "incrbyfloat", "f", "0.1"), "$4\r\n10.6\r\n");
    assert_string_equal(RUN(e, "incrbyfloat", "f", "5.0e3"), "$22\r\n5010.60000000000000009\r\n");
    assert_string_equal(RUN(e, "incrbyfloat", "f", "inf"),
                        "-ERR increment would produce NaN or Infinity\r\n");
    assert_string_equal(RUN(e, "incrbyfloat", "f", "1 "), "-ERR value is not a valid float\r\n");
}

/* ---- LCS ------------------------------------------------------------------ */

static void
test_string_cmds_lcs_forms(void **state)
{
    test_env *e = *state;
    RUN(e, "mset", "a", "ohmytext", "b", "mynewtext");
    assert_string_equal(RUN(e, "lcs", "a", "b"), "$6\r\nmytext\r\n");
    assert_string_equal(RUN(e, "lcs", "a", "b", "LEN"), ":6\r\n");
    assert_string_equal(RUN(e, "lcs", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
                        "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
                        ":4\r\n$3\r\nlen\r\n:6\r\n");
    e->r.resp = 3;
    assert_string_equal(RUN(e, "lcs", "a", "b", "IDX"),
                        "%2\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
                        "*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n");
    assert_string_equal(RUN(e, "lcs", "a", "b", "IDX", "LEN"),
                        "-ERR If you want both the length and indexes, please just use IDX.\r\n");
}

static void
test_string_cmds_lcs_tie_break(void **state)
{
    test_env *e = *state;
    RUN(e, "mset", "a", "ABCBDAB", "b", "BDCABA");
    assert_string_equal(RUN(e, "lcs", "a", "b"), "$4\r\nBDAB\r\n");
    assert_string_equal(RUN(e, "lcs", "b", "a"), "$4\r\nBCBA\r\n");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_string_cmds_set_get_roundtrip),
        T(test_string_cmds_set_nx_xx_get),
        T(test_string_cmds_set_expire_forms),
        T(test_string_cmds_set_invalid_expire),
        T(test_string_cmds_set_past_expiry_reads_as_gone),
        T(test_string_cmds_wrongtype),
        T(test_string_cmds_getex_expiry),
        T(test_string_cmds_mset_arity_and_nx),
        T(test_string_cmds_encodings),
        T(test_string_cmds_setrange_pads_with_zeros),
        T(test_string_cmds_getrange_clamps),
        T(test_string_cmds_incr_overflow_keeps_ttl),
        T(test_string_cmds_incrbyfloat_format),
        T(test_string_cmds_lcs_forms),
        T(test_string_cmds_lcs_tie_break),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
