"""Sets through redis-py: the round trips an application makes with
sadd/smembers/srem/spop/sinter/sunionstore/sscan_iter, on small integer
(intset) and larger or non-integer (hashtable) sets, in RESP2 (redis-py's
default), plus the RESP3 set type on raw bytes.

Each test gets a fresh runnel-server from the `server` fixture in
conftest.py; reply bytes are compared with redis-server by the
differential corpus (tests/diff/cases/set.txt), so this file checks what
a client library sees: decoded Python sets, iteration that completes.
"""

import pytest
import redis


@pytest.fixture
def r(server):
    client = redis.Redis.from_url("redis://127.0.0.1:%d" % server.port)
    yield client
    client.close()


def test_sadd_smembers_srem_round_trip(r):
    assert r.sadd("ids", 3, 1, 2) == 3
    assert r.sadd("ids", 2, 4) == 1
    assert r.smembers("ids") == {b"1", b"2", b"3", b"4"}
    assert r.object("encoding", "ids") == b"intset"
    assert r.sismember("ids", 3)
    assert not r.sismember("ids", 9)
    assert r.smismember("ids", [1, 9]) == [1, 0]
    assert r.scard("ids") == 4
    assert r.sadd("ids", "tag") == 1
    assert r.object("encoding", "ids") == b"hashtable"
    assert r.srem("ids", 1, 2, 3, 4, "tag", "x") == 5
    assert r.exists("ids") == 0
    assert r.type("ids") == b"none"


def test_spop_srandmember_and_smove(r):
    r.sadd("pool", "a", "b", "c")
    assert r.srandmember("pool") in {b"a", b"b", b"c"}
    assert set(r.srandmember("pool", 2)) <= {b"a", b"b", b"c"}
    assert len(r.srandmember("pool", -5)) == 5
    popped = r.spop("pool")
    assert popped in {b"a", b"b", b"c"}
    rest = set(r.spop("pool", 10))
    assert rest | {popped} == {b"a", b"b", b"c"}
    assert r.exists("pool") == 0
    r.sadd("src", "m")
    assert r.smove("src", "dst", "m") is True
    assert r.smembers("dst") == {b"m"}
    assert r.exists("src") == 0


def test_algebra_and_store(r):
    r.sadd("a", 1, 2, 3, "x")
    r.sadd("b", 2, 3, 4)
    assert r.sinter("a", "b") == {b"2", b"3"}
    assert r.sintercard(2, ["a", "b"]) == 2
    assert r.sintercard(2, ["a", "b"], limit=1) == 1
    assert r.sunion("a", "b") == {b"1", b"2", b"3", b"4", b"x"}
    assert r.sdiff("a", "b") == {b"1", b"x"}
    assert r.sinterstore("i", "a", "b") == 2
    assert r.object("encoding", "i") == b"intset"
    assert r.sunionstore("u", "a", "b") == 5
    assert r.sdiffstore("d", "b", "a") == 1
    assert r.smembers("d") == {b"4"}
    assert r.sinterstore("i", "a", "missing") == 0
    assert r.exists("i") == 0
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sadd("s", "x")


def test_sscan_iter_large_set(r):
    members = {("m%d" % i).encode() for i in range(1000)}
    r.sadd("big", *members)
    assert set(r.sscan_iter("big", count=50)) == members
    assert set(r.sscan_iter("big", match="m99*")) == {b"m99", b"m990", b"m991", b"m992",
                                                      b"m993", b"m994", b"m995", b"m996",
                                                      b"m997", b"m998", b"m999"}


def test_resp3_replies_are_sets(raw):
    # Debian's redis-py speaks RESP2 only, so RESP3 is checked on raw bytes.
    raw.call("HELLO", "3")
    assert raw.call("SADD", "k", "2", "1") == b":2\r\n"
    assert raw.call("SMEMBERS", "k") == b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    assert raw.call("SRANDMEMBER", "k", "5") == b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    assert raw.call("SPOP", "k", "5") == b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    assert raw.call("SPOP", "k") == b"_\r\n"
