"""RESP3: HELLO 3 handshake bytes, RESP3 reply types, push frames.

Runnel answers HELLO with server "redis" and version "7.0.15" for client
compatibility, so the reply must match Redis byte for byte except the id.
"""

import re

import pytest
import redis

HELLO3 = re.compile(
    rb"%7\r\n"
    rb"\$6\r\nserver\r\n\$5\r\nredis\r\n"
    rb"\$7\r\nversion\r\n\$6\r\n7\.0\.15\r\n"
    rb"\$5\r\nproto\r\n:3\r\n"
    rb"\$2\r\nid\r\n:(\d+)\r\n"
    rb"\$4\r\nmode\r\n\$10\r\nstandalone\r\n"
    rb"\$4\r\nrole\r\n\$6\r\nmaster\r\n"
    rb"\$7\r\nmodules\r\n\*0\r\n\Z")

HELLO2 = re.compile(
    rb"\*14\r\n"
    rb"\$6\r\nserver\r\n\$5\r\nredis\r\n"
    rb"\$7\r\nversion\r\n\$6\r\n7\.0\.15\r\n"
    rb"\$5\r\nproto\r\n:2\r\n"
    rb"\$2\r\nid\r\n:(\d+)\r\n"
    rb"\$4\r\nmode\r\n\$10\r\nstandalone\r\n"
    rb"\$4\r\nrole\r\n\$6\r\nmaster\r\n"
    rb"\$7\r\nmodules\r\n\*0\r\n\Z")


def test_hello3_exact(raw):
    reply = raw.call("HELLO", "3")
    m = HELLO3.match(reply)
    assert m, reply
    cid = int(m.group(1))
    assert raw.call("CLIENT", "ID") == b":%d\r\n" % cid


def test_hello2_exact(raw):
    m = HELLO2.match(raw.call("HELLO", "2"))
    assert m
    # HELLO without a version keeps the current protocol
    assert HELLO2.match(raw.call("HELLO"))


def test_hello_errors(raw):
    assert raw.call("HELLO", "4") == b"-NOPROTO unsupported protocol version\r\n"
    assert raw.call("HELLO", "1") == b"-NOPROTO unsupported protocol version\r\n"
    assert raw.call("HELLO", "x") == \
        b"-ERR Protocol version is not an integer or out of range\r\n"
    assert raw.call("HELLO", "3", "FOO") == b"-ERR Syntax error in HELLO option 'FOO'\r\n"
    # a failed HELLO leaves the protocol as it was
    assert raw.call("GET", "missing") == b"$-1\r\n"


def test_resp3_types(raw):
    assert HELLO3.match(raw.call("HELLO", "3"))
    assert raw.call("GET", "missing") == b"_\r\n"
    assert raw.call("SET", "k", "v") == b"+OK\r\n"
    assert raw.call("GET", "k") == b"$1\r\nv\r\n"
    assert raw.call("MGET", "k", "missing") == b"*2\r\n$1\r\nv\r\n_\r\n"
    assert raw.call("INCR", "n") == b":1\r\n"
    assert raw.call("CONFIG", "GET", "hz") == b"%1\r\n$2\r\nhz\r\n$2\r\n10\r\n"
    assert raw.call("EXISTS", "k") == b":1\r\n"
    # back to RESP2
    assert HELLO2.match(raw.call("HELLO", "2"))
    assert raw.call("GET", "missing") == b"$-1\r\n"
    assert raw.call("CONFIG", "GET", "hz") == b"*2\r\n$2\r\nhz\r\n$2\r\n10\r\n"


def test_resp3_aggregate_types(raw):
    assert HELLO3.match(raw.call("HELLO", "3"))
    assert raw.call("MSET", "a", "ohmytext", "b", "mynewtext") == b"+OK\r\n"
    # LCS IDX is a map in RESP3 and a flat array in RESP2
    assert raw.call("LCS", "a", "b", "IDX", "MINMATCHLEN", "4") == (
        b"%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
        b"$3\r\nlen\r\n:6\r\n")
    # COMMAND INFO uses sets for flags and ACL categories
    info = raw.call("COMMAND", "INFO", "get")
    assert info.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n")
    assert HELLO2.match(raw.call("HELLO", "2"))
    assert raw.call("LCS", "a", "b", "IDX", "MINMATCHLEN", "4") == (
        b"*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
        b"$3\r\nlen\r\n:6\r\n")


def test_reset_returns_to_resp2(raw):
    assert HELLO3.match(raw.call("HELLO", "3"))
    assert raw.call("RESET") == b"+RESET\r\n"
    assert raw.call("GET", "missing") == b"$-1\r\n"


def redis_py_has_resp3():
    major = int(redis.__version__.split(".")[0])
    return major >= 5


@pytest.mark.skipif(not redis_py_has_resp3(),
                    reason="redis-py %s has no protocol=3 (needs 5.0)" % redis.__version__)
def test_redispy_protocol3(server):
    r = redis.Redis(host="127.0.0.1", port=server.port, protocol=3)
    try:
        assert r.ping() is True
        assert r.set("a", "1") is True
        assert r.get("a") == b"1"
        assert r.get("missing") is None
        r.hset("h", mapping={"f": "v"})
        assert r.hgetall("h") == {b"f": b"v"}
    finally:
        r.close()
