"""Hashes through redis-py: the round trips an application makes with
hset/hget/hgetall/hincrby/hscan_iter, on small (listpack) and large
(hashtable) hashes, in RESP2 (redis-py's default).

Each test gets a fresh runnel-server from the `server` fixture in
conftest.py; reply bytes are compared with redis-server by the
differential corpus (tests/diff/cases/hash.txt), so this file checks what
a client library sees: decoded values, dicts, iteration that completes.
"""

import pytest
import redis


@pytest.fixture
def r(server):
    client = redis.Redis.from_url("redis://127.0.0.1:%d" % server.port)
    yield client
    client.close()


def test_hset_hget_hgetall_round_trip(r):
    assert r.hset("user:1", mapping={"name": "ada", "lang": "c", "age": "36"}) == 3
    assert r.hset("user:1", "lang", "c11") == 0
    assert r.hget("user:1", "lang") == b"c11"
    assert r.hget("user:1", "missing") is None
    assert r.hgetall("user:1") == {b"name": b"ada", b"lang": b"c11", b"age": b"36"}
    # A small hash keeps insertion order, as Redis's listpack does.
    assert r.hkeys("user:1") == [b"name", b"lang", b"age"]
    assert r.hvals("user:1") == [b"ada", b"c11", b"36"]
    assert r.hmget("user:1", ["name", "nope", "age"]) == [b"ada", None, b"36"]
    assert r.hlen("user:1") == 3
    assert r.hexists("user:1", "name") is True
    assert r.hstrlen("user:1", "name") == 3
    assert r.type("user:1") == b"hash"
    assert r.object("encoding", "user:1") == b"listpack"
    assert r.hdel("user:1", "name", "age", "nope") == 2
    assert r.hdel("user:1", "lang") == 1
    assert r.exists("user:1") == 0
    assert r.hgetall("user:1") == {}


def test_binary_fields_and_values(r):
    field, value = b"f\x00\r\n\xff", b"\x00v\r\n" * 100
    assert r.hset("bin", field, value) == 1
    assert r.hget("bin", field) == value
    assert r.hgetall("bin") == {field: value}
    assert r.object("encoding", "bin") == b"hashtable"  # value over 64 bytes


def test_hincrby_and_hincrbyfloat(r):
    assert r.hincrby("counters", "offset") == 1
    assert r.hincrby("counters", "offset", 41) == 42
    assert r.hincrby("counters", "offset", -50) == -8
    assert r.hincrbyfloat("counters", "ratio", 10.5) == 10.5
    assert r.hincrbyfloat("counters", "ratio", 0.1) == pytest.approx(10.6)
    assert r.hget("counters", "ratio") == b"10.6"
    r.hset("counters", "text", "abc")
    with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
        r.hincrby("counters", "text", 1)
    with pytest.raises(redis.ResponseError, match="hash value is not a float"):
        r.hincrbyfloat("counters", "text", 1)
    r.hset("counters", "max", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.hincrby("counters", "max", 1)
    r.set("plain", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.hincrby("plain", "f", 1)


def test_hscan_iter_visits_every_field_once_or_more(r):
    big = {"field:%d" % i: "value:%d" % i for i in range(2000)}
    pipe = r.pipeline(transaction=False)
    for start in range(0, 2000, 500):
        chunk = dict(list(big.items())[start:start + 500])
        pipe.hset("big", mapping=chunk)
    pipe.execute()
    assert r.hlen("big") == 2000
    assert r.object("encoding", "big") == b"hashtable"
    seen = {}
    for k, v in r.hscan_iter("big", count=50):
        seen[k.decode()] = v.decode()
    assert seen == big
    matched = dict(r.hscan_iter("big", match="field:19*", count=100))
    assert matched == {k.encode(): v.encode() for k, v in big.items()
                       if k.startswith("field:19")}
    # A small hash comes back whole in one call.
    r.hset("small", mapping={"a": "1", "b": "2"})
    assert r.hscan("small", 0) == (0, {b"a": b"1", b"b": b"2"})


def test_encoding_follows_config_thresholds(r):
    assert r.config_get("hash-max-listpack-entries") == {"hash-max-listpack-entries": "512"}
    assert r.config_get("hash-max-ziplist-value") == {"hash-max-ziplist-value": "64"}
    assert r.config_set("hash-max-listpack-entries", 3) is True
    r.hset("t", mapping={"a": "1", "b": "2", "c": "3"})
    assert r.object("encoding", "t") == b"listpack"
    r.hset("t", "d", "4")
    assert r.object("encoding", "t") == b"hashtable"
    r.hdel("t", "a", "b", "c")
    assert r.object("encoding", "t") == b"hashtable"
    assert r.hgetall("t") == {b"d": b"4"}


def test_hrandfield_shapes(r):
    r.hset("rf", mapping={"a": "1", "b": "2", "c": "3"})
    assert r.hrandfield("rf") in (b"a", b"b", b"c")
    assert sorted(r.hrandfield("rf", 10)) == [b"a", b"b", b"c"]
    picks = r.hrandfield("rf", -20)
    assert len(picks) == 20 and set(picks) <= {b"a", b"b", b"c"}
    two = r.hrandfield("rf", 2)
    assert len(two) == 2 and len(set(two)) == 2
    flat = r.hrandfield("rf", 3, withvalues=True)
    assert dict(zip(flat[::2], flat[1::2])) == {b"a": b"1", b"b": b"2", b"c": b"3"}
    assert r.hrandfield("missing") is None
    assert r.hrandfield("missing", 3) == []
