/*
 * tests/unit/test_ws_json: the runnel.json mapping (protocols/ws/ws_json):
 * every RESP2/RESP3 type to JSON (non-UTF-8 as base64, integers beyond
 * 2^53 as strings, doubles, booleans, nulls, maps, sets, nested errors,
 * attributes), reply and push frames, XREAD entries, and the request
 * parser's successes and errors. Each case compares compact JSON text with
 * sorted keys. Built only with RUNNEL_WITH_WS (skipped otherwise).
 */
#ifdef RUNNEL_WITH_WS
#include "protocols/ws/ws_json.h"
#endif

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifdef RUNNEL_WITH_WS

/* Compact, key-sorted text of v (freed by the caller). */
static char *
test_ws_dump(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    assert_non_null(s);
    return s;
}

/* Converts the RESP bytes (whole) and compares with want. */
static void
test_ws_value_is(const char *resp, size_t len, const char *want)
{
    json_t *v = NULL;
    long used = ws_json_value(resp, len, &v);
    char *got;
    assert_int_equal(used, (long)len);
    got = test_ws_dump(v);
    assert_string_equal(got, want);
    free(got);
    json_decref(v);
}

#define VALUE_IS(lit, want) test_ws_value_is(lit, sizeof(lit) - 1, want)

static void
test_ws_json_strings(void **state)
{
    (void)state;
    VALUE_IS("$5\r\nhello\r\n", "\"hello\"");
    VALUE_IS("+OK\r\n", "\"OK\"");
    VALUE_IS("$0\r\n\r\n", "\"\"");
    VALUE_IS("$4\r\n\xc3\xa9t\xc3\r\n", "{\"base64\":\"w6l0ww==\"}");
    VALUE_IS("=15\r\ntxt:Some string\r\n", "\"Some string\"");
    /* Embedded NUL is valid UTF-8 and escaped by JSON. */
    VALUE_IS("$3\r\na\0b\r\n", "\"a\\u0000b\"");
}

static void
test_ws_json_non_utf8_as_base64(void **state)
{
    (void)state;
    VALUE_IS("$1\r\n\xff\r\n", "{\"base64\":\"/w==\"}");
    VALUE_IS("$2\r\n\xff\xfe\r\n", "{\"base64\":\"//4=\"}");
    VALUE_IS("$3\r\n\xff\xfe\x00\r\n", "{\"base64\":\"//4A\"}");
    /* An overlong encoding and a UTF-16 surrogate are not UTF-8 either. */
    VALUE_IS("$2\r\n\xc0\xaf\r\n", "{\"base64\":\"wK8=\"}");
    VALUE_IS("$3\r\n\xed\xa0\x80\r\n", "{\"base64\":\"7aCA\"}");
}

static void
test_ws_json_integers_beyond_2_53_are_strings(void **state)
{
    (void)state;
    VALUE_IS(":42\r\n", "42");
    VALUE_IS(":-7\r\n", "-7");
    VALUE_IS(":9007199254740991\r\n", "9007199254740991");
    VALUE_IS(":-9007199254740991\r\n", "-9007199254740991");
    VALUE_IS(":9007199254740992\r\n", "\"9007199254740992\"");
    VALUE_IS(":-9223372036854775808\r\n", "\"-9223372036854775808\"");
    VALUE_IS("(3492890328409238509324850943850943825024385\r\n",
             "\"3492890328409238509324850943850943825024385\"");
}

static void
test_ws_json_doubles_booleans_nulls(void **state)
{
    (void)state;
    VALUE_IS(",1.5\r\n", "1.5");
    VALUE_IS(",-0.25\r\n", "-0.25");
    VALUE_IS(",inf\r\n", "\"inf\"");
    VALUE_IS(",-inf\r\n", "\"-inf\"");
    VALUE_IS(",nan\r\n", "\"nan\"");
    VALUE_IS("#t\r\n", "true");
    VALUE_IS("#f\r\n", "false");
    VALUE_IS("_\r\n", "null");
    VALUE_IS("$-1\r\n", "null");
    VALUE_IS("*-1\r\n", "null");
}

static void
test_ws_json_maps_sets_arrays(void **state)
{
    (void)state;
    VALUE_IS("%2\r\n+b\r\n:1\r\n$1\r\na\r\n*2\r\n#t\r\n_\r\n", "{\"a\":[true,null],\"b\":1}");
    VALUE_IS("%1\r\n:7\r\n+seven\r\n", "{\"7\":\"seven\"}");
    VALUE_IS("~2\r\n+x\r\n+y\r\n", "[\"x\",\"y\"]");
    VALUE_IS("*0\r\n", "[]");
    VALUE_IS("%0\r\n", "{}");
    VALUE_IS("*2\r\n-ERR a\r\n!5\r\nERR b\r\n", "[{\"error\":\"ERR a\"},{\"error\":\"ERR b\"}]");
    /* Attributes are dropped, the value kept. */
    VALUE_IS("|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", "\"v\"");
}

static void
test_ws_json_incomplete_and_malformed(void **state)
{
    json_t *v = NULL;
    char deep[WS_JSON_MAX_DEPTH * 4 + 16];
    size_t n = 0;
    (void)state;
    assert_int_equal(ws_json_value("$5\r\nhel", 8, &v), 0);
    assert_int_equal(ws_json_value("*2\r\n:1\r\n", 8, &v), 0);
    assert_int_equal(ws_json_value(":12", 3, &v), 0);
    assert_int_equal(ws_json_value("?x\r\n", 4, &v), -EPROTO);
    assert_int_equal(ws_json_value(":1x\r\n", 5, &v), -EPROTO);
    assert_int_equal(ws_json_value("$1\r\nab\r\n", 7, &v), -EPROTO);
    assert_int_equal(ws_json_value("#x\r\n", 4, &v), -EPROTO);
    assert_int_equal(ws_json_value("%-1\r\n", 5, &v), -EPROTO);
    for (int i = 0; i <= WS_JSON_MAX_DEPTH + 1; i++) {
        memcpy(deep + n, "*1\r\n", 4);
        n += 4;
    }
    memcpy(deep + n, ":1\r\n", 4);
    n += 4;
    assert_int_equal(ws_json_value(deep, n, &v), -EPROTO);
    assert_null(v);
}

static void
test_ws_json_reply_result_error_and_frames(void **state)
{
    json_t *o;
    char *s;
    (void)state;
    o = ws_json_reply("-ERR nope\r\n", 11);
    s = test_ws_dump(o);
    assert_string_equal(s, "{\"error\":\"ERR nope\"}");
    free(s);
    json_decref(o);
    o = ws_json_reply(":3\r\n", 4);
    s = test_ws_dump(o);
    assert_string_equal(s, "{\"result\":3}");
    free(s);
    json_decref(o);
    /* SUBSCRIBE a b: two frames, one result array. */
    o = ws_json_reply(">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
                      ">3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
                      strlen(">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n") * 2);
    s = test_ws_dump(o);
    assert_string_equal(s, "{\"result\":[[\"subscribe\",\"a\",1],[\"subscribe\",\"b\",2]]}");
    free(s);
    json_decref(o);
    /* A nested error is a value, not the request's error. */
    o = ws_json_reply("*1\r\n-ERR x\r\n", 12);
    s = test_ws_dump(o);
    assert_string_equal(s, "{\"result\":[{\"error\":\"ERR x\"}]}");
    free(s);
    json_decref(o);
    assert_null(ws_json_reply("", 0));
    assert_null(ws_json_reply("$3\r\nab", 6));
}

static void
test_ws_json_push_frames(void **state)
{
    static const struct {
        const char *resp, *want;
    } cases[] = {
        {">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
         "{\"channel\":\"ch\",\"data\":\"hi\",\"push\":\"message\"}"},
        {">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$1\r\n\xff\r\n",
         "{\"channel\":\"ch\",\"data\":{\"base64\":\"/w==\"},\"pattern\":\"c*\",\"push\":"
         "\"pmessage\"}"},
        {">3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nx\r\n",
         "{\"channel\":\"s\",\"data\":\"x\",\"push\":\"smessage\"}"},
        {"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n",
         "{\"channel\":\"c\",\"data\":\"m\",\"push\":\"message\"}"},
        {">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n",
         "{\"data\":[[\"k\"]],\"push\":\"invalidate\"}"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *o = ws_json_push(cases[i].resp, strlen(cases[i].resp));
        char *s = test_ws_dump(o);
        assert_string_equal(s, cases[i].want);
        free(s);
        json_decref(o);
    }
    assert_null(ws_json_push(":1\r\n", 4));
    assert_null(ws_json_push(">1\r\n:1\r\n", 8));
}

static void
test_ws_json_entries_from_xread(void **state)
{
    static const char map3[] =
        "%1\r\n$1\r\ns\r\n*2\r\n"
        "*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
        "*2\r\n$3\r\n2-0\r\n_\r\n";
    static const char arr2[] = "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n"
                               "*2\r\n$3\r\n5-5\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
    json_t *v = NULL, *arr = json_array();
    char last[48] = "", *s;
    (void)state;
    assert_int_equal(ws_json_value(map3, sizeof(map3) - 1, &v), (long)sizeof(map3) - 1);
    assert_int_equal(ws_json_entries(v, arr, last, sizeof(last)), 2);
    assert_string_equal(last, "2-0");
    json_decref(v);
    assert_int_equal(ws_json_value(arr2, sizeof(arr2) - 1, &v), (long)sizeof(arr2) - 1);
    assert_int_equal(ws_json_entries(v, arr, last, sizeof(last)), 1);
    assert_string_equal(last, "5-5");
    json_decref(v);
    s = test_ws_dump(arr);
    assert_string_equal(s, "[{\"fields\":{\"a\":\"1\",\"b\":\"2\"},\"id\":\"1-1\"},"
                           "{\"fields\":null,\"id\":\"2-0\"},"
                           "{\"fields\":{\"f\":\"v\"},\"id\":\"5-5\"}]");
    free(s);
    json_decref(arr);
}

static void
test_ws_json_parse_requests(void **state)
{
    ws_req r;
    char err[256];
    const char *cmd = "{\"id\":7,\"cmd\":[\"XADD\",\"orders\",\"*\",42,1.5,{\"base64\":\"/wA=\"}]}";
    (void)state;
    assert_int_equal(ws_json_parse(cmd, strlen(cmd), &r, err, sizeof(err)), 0);
    assert_int_equal(r.kind, WS_REQ_CMD);
    assert_int_equal(json_integer_value(r.id), 7);
    assert_int_equal(r.argc, 6);
    assert_string_equal(r.argv[0].ptr, "XADD");
    assert_string_equal(r.argv[3].ptr, "42");
    assert_string_equal(r.argv[4].ptr, "1.5");
    assert_int_equal(r.argv[5].len, 2);
    assert_memory_equal(r.argv[5].ptr, "\xff\x00", 2);
    ws_req_fini(&r);

    const char *tail = "{\"id\":\"t\",\"tail\":{\"stream\":\"orders\"}}";
    assert_int_equal(ws_json_parse(tail, strlen(tail), &r, err, sizeof(err)), 0);
    assert_int_equal(r.kind, WS_REQ_TAIL);
    assert_string_equal(json_string_value(r.id), "t");
    assert_string_equal(r.stream.ptr, "orders");
    assert_null(r.from.ptr);
    assert_int_equal(r.count, 100);
    ws_req_fini(&r);

    const char *consume =
        "{\"consume\":{\"stream\":\"s\",\"group\":\"g\",\"consumer\":\"tab-1\",\"count\":3}}";
    assert_int_equal(ws_json_parse(consume, strlen(consume), &r, err, sizeof(err)), 0);
    assert_int_equal(r.kind, WS_REQ_CONSUME);
    assert_null(r.id);
    assert_string_equal(r.group.ptr, "g");
    assert_string_equal(r.consumer.ptr, "tab-1");
    assert_int_equal(r.count, 3);
    ws_req_fini(&r);

    const char *ack =
        "{\"id\":1,\"ack\":{\"stream\":\"s\",\"group\":\"g\",\"ids\":[\"1-1\",\"2-2\"]}}";
    assert_int_equal(ws_json_parse(ack, strlen(ack), &r, err, sizeof(err)), 0);
    assert_int_equal(r.kind, WS_REQ_ACK);
    assert_int_equal(r.argc, 2);
    assert_string_equal(r.argv[1].ptr, "2-2");
    ws_req_fini(&r);
}

static void
test_ws_json_parse_errors(void **state)
{
    static const struct {
        const char *text, *err;
        int has_id;
    } cases[] = {
        {"{\"id\":1,", "ERR invalid JSON: ", 0},
        {"[1,2]", "ERR a request must be a JSON object", 0},
        {"{\"id\":1}", "ERR a request has exactly one of cmd, tail, untail, consume, ack", 1},
        {"{\"id\":1,\"cmd\":[\"PING\"],\"tail\":{\"stream\":\"s\"}}",
         "ERR a request has exactly one of cmd, tail, untail, consume, ack", 1},
        {"{\"id\":1,\"cmd\":[]}", "ERR 'cmd' must be a non-empty array", 1},
        {"{\"id\":1,\"cmd\":\"PING\"}", "ERR 'cmd' must be a non-empty array", 1},
        {"{\"id\":1,\"cmd\":[\"GET\",[1]]}", "ERR 'cmd' must be a non-empty array", 1},
        {"{\"id\":1,\"cmd\":[\"GET\",{\"base64\":\"@@\"}]}", "ERR 'cmd' must be a non-empty array",
         1},
        {"{\"id\":1,\"tail\":{}}", "ERR 'stream' must be a string", 1},
        {"{\"id\":1,\"tail\":[]}", "ERR the request body must be an object", 1},
        {"{\"id\":1,\"consume\":{\"stream\":\"s\",\"consumer\":\"c\"}}",
         "ERR 'group' must be a string", 1},
        {"{\"id\":1,\"consume\":{\"stream\":\"s\",\"group\":\"g\",\"consumer\":\"c\",\"count\":0}}",
         "ERR 'count' must be an integer between 1 and 1000000", 1},
        {"{\"id\":1,\"ack\":{\"stream\":\"s\",\"group\":\"g\"}}",
         "ERR 'ids' must be a non-empty array of entry IDs", 1},
        {"{\"id\":1,\"id\":2,\"cmd\":[\"PING\"]}", "ERR invalid JSON: ", 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ws_req r;
        char err[256];
        assert_int_equal(ws_json_parse(cases[i].text, strlen(cases[i].text), &r, err, sizeof(err)),
                         -1);
        assert_true(strncmp(err, cases[i].err, strlen(cases[i].err)) == 0);
        if (cases[i].has_id)
            assert_int_equal(json_integer_value(r.id), 1);
        else
            assert_null(r.id);
        ws_req_fini(&r);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_json_strings),
        cmocka_unit_test(test_ws_json_non_utf8_as_base64),
        cmocka_unit_test(test_ws_json_integers_beyond_2_53_are_strings),
        cmocka_unit_test(test_ws_json_doubles_booleans_nulls),
        cmocka_unit_test(test_ws_json_maps_sets_arrays),
        cmocka_unit_test(test_ws_json_incomplete_and_malformed),
        cmocka_unit_test(test_ws_json_reply_result_error_and_frames),
        cmocka_unit_test(test_ws_json_push_frames),
        cmocka_unit_test(test_ws_json_entries_from_xread),
        cmocka_unit_test(test_ws_json_parse_requests),
        cmocka_unit_test(test_ws_json_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* the gateway is not built (RUNNEL_WITH_WS=OFF) */

static void
test_ws_json_not_built(void **state)
{
    (void)state;
    skip();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ws_json_not_built)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
