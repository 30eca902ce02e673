"""Lists through redis-py: the round trips an application makes with
lpush/rpush/lpop/rpop/lrange/lset/linsert/lrem/ltrim/lpos/lmove/lmpop, on
lists small and large enough to span many quicklist nodes, and the
blocking pops: BLPOP woken by an RPUSH from another client, timeouts on
missing keys, several keys, and two blocked clients served in arrival
order (BLMOVE and BLMPOP too).

Each test gets a fresh runnel-server from the `server` fixture in
conftest.py; reply bytes are compared with redis-server by the
differential corpus (tests/diff/cases/list.txt), so this file checks what
a client library sees, and the timing of blocked clients.
"""

import threading
import time

import pytest
import redis


@pytest.fixture
def r(server):
    client = redis.Redis.from_url("redis://127.0.0.1:%d" % server.port)
    yield client
    client.close()


def _client(server):
    return redis.Redis.from_url("redis://127.0.0.1:%d" % server.port)


def test_push_pop_range_round_trip(r):
    assert r.rpush("q", "a", "b", "c") == 3
    assert r.lpush("q", "z") == 4
    assert r.lrange("q", 0, -1) == [b"z", b"a", b"b", b"c"]
    assert r.object("encoding", "q") == b"quicklist"
    assert r.type("q") == b"list"
    assert r.lpop("q") == b"z"
    assert r.rpop("q", 2) == [b"c", b"b"]
    assert r.llen("q") == 1
    assert r.lpop("q") == b"a"
    assert r.exists("q") == 0
    assert r.lpop("q") is None
    assert r.lpushx("q", "x") == 0
    assert r.exists("q") == 0


def test_edits(r):
    r.rpush("e", *"abcabc")
    assert r.lset("e", -1, "C") is True
    assert r.linsert("e", "BEFORE", "b", "x") == 7
    assert r.lrem("e", 0, "a") == 2
    assert r.lrange("e", 0, -1) == [b"x", b"b", b"c", b"b", b"C"]
    assert r.lpos("e", "b") == 1
    assert r.lpos("e", "b", rank=-1) == 3
    assert r.lpos("e", "b", count=0) == [1, 3]
    assert r.ltrim("e", 1, 2) is True
    assert r.lrange("e", 0, -1) == [b"b", b"c"]
    assert r.lindex("e", 1) == b"c"
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.lset("nokey", 0, "v")
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lpush("s", "a")


def test_large_list_many_nodes(r):
    values = [("v%06d" % i) * 20 for i in range(5000)]
    pipe = r.pipeline(transaction=False)
    for i in range(0, len(values), 500):
        pipe.rpush("big", *values[i : i + 500])
    pipe.execute()
    assert r.llen("big") == 5000
    assert r.lrange("big", 0, -1) == [v.encode() for v in values]
    assert r.lindex("big", 2500) == values[2500].encode()
    assert r.linsert("big", "AFTER", values[1234], "mid") == 5001
    assert r.lindex("big", 1235) == b"mid"
    assert r.lrem("big", 1, "mid") == 1
    assert r.ltrim("big", 100, -101) is True
    assert r.lrange("big", 0, 0) == [values[100].encode()]
    assert r.llen("big") == 4800


def test_lmove_and_lmpop(r):
    r.rpush("src", 1, 2, 3)
    assert r.lmove("src", "dst", "LEFT", "RIGHT") == b"1"
    assert r.rpoplpush("src", "dst") == b"3"
    assert r.lrange("dst", 0, -1) == [b"3", b"1"]
    assert r.lmpop(2, "none", "dst", direction="RIGHT", count=5) == [b"dst", [b"1", b"3"]]
    assert r.exists("dst") == 0
    assert r.lmpop(1, "none", direction="LEFT") is None


def test_blpop_with_data_and_timeout(r):
    r.rpush("b", "x")
    assert r.blpop(["none", "b"], timeout=0) == (b"b", b"x")
    start = time.monotonic()
    assert r.blpop(["none"], timeout=0.2) is None
    assert time.monotonic() - start >= 0.15
    assert r.brpoplpush("none", "d", timeout=0.1) is None
    assert r.blmpop(0.1, 1, "none", direction="LEFT") is None
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.blpop(["b"], timeout=-1)


def _blocked_call(results, key, fn):
    results[key] = fn()


def _wait_blocked(r, n):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if r.info("clients").get("blocked_clients", 0) >= n:
            return
        time.sleep(0.01)


def test_blpop_woken_by_push_from_another_client(server, r):
    waiter = _client(server)
    results = {}
    t = threading.Thread(target=_blocked_call,
                         args=(results, "a", lambda: waiter.blpop(["k1", "k2"], timeout=5)))
    t.start()
    _wait_blocked(r, 1)
    time.sleep(0.1)
    assert r.rpush("k2", "hello") == 1
    t.join(5)
    assert results["a"] == (b"k2", b"hello")
    assert r.exists("k2") == 0
    waiter.close()


def test_two_blocked_clients_served_in_arrival_order(server, r):
    first, second = _client(server), _client(server)
    results = {}
    t1 = threading.Thread(target=_blocked_call,
                          args=(results, "first", lambda: first.brpop(["fair"], timeout=5)))
    t1.start()
    _wait_blocked(r, 1)
    time.sleep(0.1)
    t2 = threading.Thread(target=_blocked_call,
                          args=(results, "second", lambda: second.brpop(["fair"], timeout=5)))
    t2.start()
    _wait_blocked(r, 2)
    time.sleep(0.1)
    r.rpush("fair", "one")
    t1.join(5)
    assert results["first"] == (b"fair", b"one")
    assert "second" not in results
    r.rpush("fair", "two")
    t2.join(5)
    assert results["second"] == (b"fair", b"two")
    first.close()
    second.close()


def test_blmove_and_blmpop_woken(server, r):
    waiter = _client(server)
    results = {}
    t = threading.Thread(
        target=_blocked_call,
        args=(results, "m", lambda: waiter.blmove("from", "to", 5, "LEFT", "RIGHT")))
    t.start()
    _wait_blocked(r, 1)
    time.sleep(0.1)
    r.lpush("from", "v")
    t.join(5)
    assert results["m"] == b"v"
    assert r.lrange("to", 0, -1) == [b"v"]
    t = threading.Thread(
        target=_blocked_call,
        args=(results, "p", lambda: waiter.blmpop(5, 2, "x1", "x2", direction="RIGHT", count=2)))
    t.start()
    _wait_blocked(r, 1)
    time.sleep(0.1)
    r.rpush("x2", "a", "b", "c")
    t.join(5)
    assert results["p"] == [b"x2", [b"c", b"b"]]
    assert r.lrange("x2", 0, -1) == [b"a"]
    waiter.close()


@pytest.mark.parametrize("cmd,change", [
    (("BLPOP", "k", "1"), ("SET", "k", "x")),
    (("BZPOPMIN", "k", "1"), ("SET", "k", "x")),
    (("BLMOVE", "k", "d", "LEFT", "LEFT", "1"), ("SADD", "k", "x")),
    (("XREAD", "BLOCK", "1000", "STREAMS", "k", "$"), ("SET", "k", "x")),
])
def test_blocked_pop_keeps_waiting_when_key_changes_type(server, cmd, change):
    """As in Redis 7.0: a key that becomes another type does not answer a
    blocked pop with WRONGTYPE; the caller waits for its timeout, or for
    the key to hold its type again."""
    with server.client() as waiter, server.client() as admin:
        waiter.send_command(*cmd)
        time.sleep(0.2)
        admin.call(*change)
        assert waiter.read_reply(timeout=3) == b"*-1\r\n"
    with server.client() as waiter, server.client() as admin:
        admin.call("DEL", "k")
        waiter.send_command("BLPOP", "k", "5")
        time.sleep(0.2)
        admin.call("SET", "k", "x")
        admin.call("DEL", "k")
        admin.call("RPUSH", "k", "v")
        assert waiter.read_reply(timeout=3) == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
