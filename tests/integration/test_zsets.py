"""Sorted sets through redis-py: what a client library sees of ZADD, the
ranges, the algebra and the encodings, plus what the differential corpus
(tests/diff/cases/zset.txt) cannot compare byte for byte:

- the blocking pops BZPOPMIN, BZPOPMAX and BZMPOP woken by a ZADD from
  another client, on several keys, with timeouts, and two blocked clients
  served in arrival order;
- ZRANDMEMBER, whose output is random: uniqueness, membership, scores and
  a rough uniformity check, on listpack and skiplist sets;
- ZSCAN of a skiplist (dict order): a full iteration returns every member
  with its score, and MATCH filters;
- keyspace notifications seen by a second connection, including the pop
  of a blocked client;
- what is recorded in the append-only log for pops that block: ZPOPMIN /
  ZPOPMAX key [count], as Redis 7.0 propagates them, and a restart
  replays to the same sorted sets.

Each test gets a fresh runnel-server from the fixtures in conftest.py.
"""

import glob
import os
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


def _blocked_call(results, key, fn):
    try:
        results[key] = fn()
    except redis.RedisError as e:  # reported by the assertion on results
        results[key] = e


def _wait_blocked(r, n):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if r.info("clients").get("blocked_clients", 0) >= n:
            return
        time.sleep(0.01)
    pytest.fail("%d clients never blocked" % n)


def _start_blocked(results, key, fn):
    t = threading.Thread(target=_blocked_call, args=(results, key, fn))
    t.start()
    return t


# -- plain commands -----------------------------------------------------------


def test_add_range_score_round_trip(r):
    assert r.zadd("z", {"a": 1, "b": 2.5, "c": -3}) == 3
    assert r.zadd("z", {"a": 10}, ch=True) == 1
    assert r.zrange("z", 0, -1, withscores=True) == [(b"c", -3.0), (b"b", 2.5), (b"a", 10.0)]
    assert r.zincrby("z", 0.1, "x") == 0.1
    assert r.zincrby("z", 0.2, "x") == pytest.approx(0.3)
    assert r.zscore("z", "x") == 0.30000000000000004
    assert r.zadd("z", {"a": 5}, gt=True, ch=True) == 0
    assert r.zadd("z", {"a": 50}, gt=True, ch=True) == 1
    assert r.zrank("z", "a") == 3
    assert r.zrevrank("z", "a") == 0
    assert r.zrangebyscore("z", "(0", "+inf") == [b"x", b"b", b"a"]
    r.zadd("lex", {"a": 0, "b": 0, "c": 0, "d": 0})
    assert r.zrange("lex", "[c", "(a", bylex=True, desc=True) == [b"c", b"b"]
    assert r.zrangebylex("lex", "-", "+", start=1, num=2) == [b"b", b"c"]
    assert r.zmscore("z", ["a", "nope"]) == [50.0, None]
    assert r.zpopmin("z") == [(b"c", -3.0)]
    assert r.zpopmax("z", 2) == [(b"a", 50.0), (b"b", 2.5)]
    assert r.zrem("z", "x") == 1
    assert r.exists("z") == 0
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.zadd("s", {"a": 1})


def test_encodings_across_thresholds(r):
    r.zadd("small", {"m%03d" % i: i for i in range(128)})
    assert r.object("encoding", "small") == b"listpack"
    r.zadd("small", {"one-more": 1000})
    assert r.object("encoding", "small") == b"skiplist"
    r.zadd("long", {"x" * 64: 1})
    assert r.object("encoding", "long") == b"listpack"
    r.zadd("long", {"y" * 65: 2})
    assert r.object("encoding", "long") == b"skiplist"
    # store commands: the result's own size picks the encoding
    assert r.zrangestore("dst", "small", 0, 9) == 10
    assert r.object("encoding", "dst") == b"listpack"
    assert r.zunionstore("dst", ["small"]) == 129
    assert r.object("encoding", "dst") == b"skiplist"
    assert r.zinterstore("dst", ["small", "small"]) == 129
    assert r.zscore("dst", "m005") == 10.0
    assert r.zdiffstore("dst", ["small", "long"]) == 129
    assert r.zrange("dst", 0, 2) == [b"m000", b"m001", b"m002"]


def test_large_skiplist_ranges(r):
    members = {"k%05d" % i: (i * 7919) % 10007 for i in range(3000)}
    pipe = r.pipeline(transaction=False)
    items = list(members.items())
    for i in range(0, len(items), 500):
        pipe.zadd("big", dict(items[i : i + 500]))
    pipe.execute()
    assert r.object("encoding", "big") == b"skiplist"
    ordered = sorted(members.items(), key=lambda kv: (kv[1], kv[0]))
    assert r.zcard("big") == 3000
    got = r.zrange("big", 0, -1, withscores=True)
    assert got == [(k.encode(), float(v)) for k, v in ordered]
    assert r.zrange("big", 1000, 1009) == [k.encode() for k, _ in ordered[1000:1010]]
    for k, _ in ordered[::250]:
        assert r.zrank("big", k) == ordered.index((k, members[k]))
    assert r.zcount("big", 100, 200) == sum(1 for v in members.values() if 100 <= v <= 200)
    assert r.zremrangebyrank("big", 0, 999) == 1000
    assert r.zrange("big", 0, 0) == [ordered[1000][0].encode()]


# -- blocking pops ------------------------------------------------------------


def test_bzpop_with_data_and_timeouts(r):
    r.zadd("b", {"x": 1, "y": 2})
    assert r.bzpopmin(["none", "b"], timeout=0) == (b"b", b"x", 1.0)
    assert r.bzpopmax(["b"], timeout=0) == (b"b", b"y", 2.0)
    assert r.exists("b") == 0
    start = time.monotonic()
    assert r.bzpopmin(["none"], timeout=0.2) is None
    assert time.monotonic() - start >= 0.15
    start = time.monotonic()
    assert r.bzmpop(0.2, 2, ["none", "b"], min=True) is None
    assert time.monotonic() - start >= 0.15
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.bzpopmin(["b"], timeout=-1)
    with pytest.raises(redis.ResponseError, match="timeout is not a float or out of range"):
        r.bzpopmax(["b"], timeout="soon")
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.bzmpop(-1, 1, ["b"], min=True)


def test_bzpopmin_woken_by_zadd_from_another_client(server, r):
    waiter = _client(server)
    results = {}
    t = _start_blocked(results, "a", lambda: waiter.bzpopmin(["k1", "k2", "k3"], timeout=5))
    _wait_blocked(r, 1)
    time.sleep(0.05)
    assert r.zadd("k3", {"late": 3, "early": 1}) == 2
    t.join(5)
    assert results["a"] == (b"k3", b"early", 1.0)
    assert r.zrange("k3", 0, -1) == [b"late"]
    assert r.info("clients")["blocked_clients"] == 0
    waiter.close()


def test_bzpopmax_stays_blocked_until_its_key_has_members(server, r):
    waiter = _client(server)
    results = {}
    t = _start_blocked(results, "a", lambda: waiter.bzpopmax(["w"], timeout=5))
    _wait_blocked(r, 1)
    # a change to another key must not serve the waiter
    r.zadd("other", {"o": 1})
    time.sleep(0.1)
    assert r.info("clients")["blocked_clients"] == 1
    assert "a" not in results
    r.zadd("w", {"gone": 1})
    t.join(5)
    assert results["a"] == (b"w", b"gone", 1.0)
    assert r.exists("w") == 0
    assert r.zcard("other") == 1
    waiter.close()


def test_same_key_twice_and_deleted_key(server, r):
    waiter = _client(server)
    results = {}
    t = _start_blocked(results, "a", lambda: waiter.bzmpop(5, 2, ["dup", "dup"], min=True))
    _wait_blocked(r, 1)
    # creating and deleting the key in one transaction leaves it empty
    pipe = r.pipeline(transaction=True)
    pipe.zadd("dup", {"tmp": 1})
    pipe.delete("dup")
    pipe.execute()
    time.sleep(0.1)
    assert "a" not in results
    r.zadd("dup", {"x": 1})
    t.join(5)
    assert results["a"] == [b"dup", [[b"x", b"1"]]]
    assert r.info("clients")["blocked_clients"] == 0
    waiter.close()


def test_two_blocked_clients_served_in_arrival_order(server, r):
    first, second = _client(server), _client(server)
    results = {}
    t1 = _start_blocked(results, "first", lambda: first.bzpopmin(["fair"], timeout=5))
    _wait_blocked(r, 1)
    time.sleep(0.05)
    t2 = _start_blocked(results, "second", lambda: second.bzpopmin(["fair"], timeout=5))
    _wait_blocked(r, 2)
    time.sleep(0.05)
    r.zadd("fair", {"one": 1})
    t1.join(5)
    assert results["first"] == (b"fair", b"one", 1.0)
    assert "second" not in results
    r.zadd("fair", {"two": 2, "three": 3})
    t2.join(5)
    assert results["second"] == (b"fair", b"two", 2.0)
    assert r.zrange("fair", 0, -1) == [b"three"]
    first.close()
    second.close()


def test_one_zadd_serves_several_waiters(server, r):
    clients = [_client(server) for _ in range(3)]
    results = {}
    threads = []
    for i, c in enumerate(clients):
        threads.append(_start_blocked(results, i, lambda c=c: c.bzpopmin(["many"], timeout=5)))
        _wait_blocked(r, i + 1)
    r.zadd("many", {"a": 1, "b": 2})
    threads[0].join(5)
    threads[1].join(5)
    assert results[0] == (b"many", b"a", 1.0)
    assert results[1] == (b"many", b"b", 2.0)
    assert 2 not in results
    assert r.exists("many") == 0
    r.zadd("many", {"c": 3})
    threads[2].join(5)
    assert results[2] == (b"many", b"c", 3.0)
    for c in clients:
        c.close()


def test_bzmpop_woken_with_count(server, r):
    waiter = _client(server)
    results = {}
    t = _start_blocked(results, "p",
                       lambda: waiter.bzmpop(5, 2, ["x1", "x2"], max=True, count=2))
    _wait_blocked(r, 1)
    time.sleep(0.05)
    r.zadd("x2", {"a": 1, "b": 2, "c": 3})
    t.join(5)
    assert results["p"] == [b"x2", [[b"c", b"3"], [b"b", b"2"]]]
    assert r.zrange("x2", 0, -1) == [b"a"]
    waiter.close()


def test_blocked_pop_times_out_then_key_still_usable(server, r):
    waiter = _client(server)
    start = time.monotonic()
    assert waiter.bzpopmin(["t"], timeout=0.3) is None
    assert time.monotonic() - start >= 0.25
    assert r.info("clients")["blocked_clients"] == 0
    r.zadd("t", {"a": 1})
    assert r.zcard("t") == 1
    waiter.close()


def test_blocking_pop_in_multi_does_not_block(r):
    pipe = r.pipeline(transaction=True)
    pipe.bzpopmin(["none"], timeout=0)
    pipe.bzmpop(0, 1, ["none"], min=True)
    assert pipe.execute() == [None, None]


# -- ZRANDMEMBER ----------------------------------------------------------------


@pytest.mark.parametrize("size", [10, 300])
def test_zrandmember_invariants(r, size):
    members = {("m%d" % i).encode(): float(i) for i in range(size)}
    r.zadd("rz", members)
    assert r.object("encoding", "rz") == (b"listpack" if size <= 128 else b"skiplist")
    for _ in range(20):
        assert r.zrandmember("rz") in members
    for count in (1, 2, size // 2, size - 1):
        got = r.zrandmember("rz", count)
        assert len(got) == count
        assert len(set(got)) == count, "positive count must not repeat"
        assert set(got) <= set(members)
    whole = r.zrandmember("rz", size + 5)
    assert sorted(whole) == sorted(members)
    got = r.zrandmember("rz", -3 * size)
    assert len(got) == 3 * size
    assert set(got) <= set(members)
    pairs = r.zrandmember("rz", -50, withscores=True)
    assert len(pairs) == 100
    for m, s in zip(pairs[::2], pairs[1::2]):
        assert float(s) == members[m]
    pairs = r.zrandmember("rz", size // 2, withscores=True)
    assert len(set(pairs[::2])) == size // 2
    for m, s in zip(pairs[::2], pairs[1::2]):
        assert float(s) == members[m]


@pytest.mark.parametrize("size", [8, 200])
def test_zrandmember_roughly_uniform(r, size):
    r.zadd("u", {"m%d" % i: i for i in range(size)})
    draws = 400 * size
    counts = {}
    got = []
    for _ in range(draws // 10000 + 1):
        got += r.zrandmember("u", -min(10000, draws - len(got)))
    for m in got:
        counts[m] = counts.get(m, 0) + 1
    assert len(counts) == size
    # 400 expected per member: 6 standard deviations either way
    assert min(counts.values()) > 400 - 6 * 20
    assert max(counts.values()) < 400 + 6 * 20
    # distinct draws (count 3 < size): each sample has no repeats, and
    # across samples members come up as often as each other
    seen = {}
    pipe = r.pipeline(transaction=False)
    for _ in range(2000):
        pipe.zrandmember("u", 3)
    for sample in pipe.execute():
        assert len(set(sample)) == 3
        for m in sample:
            seen[m] = seen.get(m, 0) + 1
    if size == 8:
        # 750 expected per member, standard deviation about 22
        assert min(seen.values()) > 750 - 6 * 22
        assert max(seen.values()) < 750 + 6 * 22
    else:
        assert len(seen) > size * 0.95


# -- ZSCAN ----------------------------------------------------------------------


def test_zscan_covers_every_member_of_a_skiplist(r):
    members = {"member:%d" % i: i / 4 for i in range(5000)}
    members["inf"] = float("inf")
    members["ninf"] = float("-inf")
    pipe = r.pipeline(transaction=False)
    items = list(members.items())
    for i in range(0, len(items), 1000):
        pipe.zadd("sc", dict(items[i : i + 1000]))
    pipe.execute()
    assert r.object("encoding", "sc") == b"skiplist"
    seen = {}
    cursor, calls = 0, 0
    while True:
        cursor, batch = r.zscan("sc", cursor, count=100)
        calls += 1
        for m, s in batch:
            seen[m.decode()] = s
        if cursor == 0:
            break
    assert calls > 10, "a skiplist must be scanned in steps"
    assert seen == members
    matched = dict(r.zscan_iter("sc", match="member:1??"))
    assert matched == {("member:%d" % i).encode(): i / 4 for i in range(100, 200)}


def test_zscan_small_set_in_one_step(server, r):
    r.zadd("small", {"a": 1.5, "b": 0.1, "c": float("-inf")})
    assert r.zscan("small", 0, count=1) == (0, [(b"c", float("-inf")), (b"b", 0.1),
                                                  (b"a", 1.5)])
    c = server.client()
    assert c.call("ZSCAN", "small", "0") == (
        b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\nc\r\n$4\r\n-inf\r\n$1\r\nb\r\n"
        b"$19\r\n0.10000000000000001\r\n$1\r\na\r\n$3\r\n1.5\r\n")
    c.close()


# -- keyspace notifications -----------------------------------------------------


def _events(ps, n, timeout=3):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        msg = ps.get_message(timeout=0.1)
        if msg and msg["type"] == "pmessage":
            out.append((msg["channel"], msg["data"]))
    return out


def test_notifications_seen_by_another_connection(server, r):
    r.config_set("notify-keyspace-events", "KEz")
    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.psubscribe("__key*__:*")
    _events(ps, 0, timeout=0.2)
    r.zadd("n", {"a": 1, "b": 2})
    r.zincrby("n", 1, "a")
    r.zrem("n", "a")
    r.zremrangebyscore("n", 0, 10)
    assert _events(ps, 8) == [
        (b"__keyspace@0__:n", b"zadd"), (b"__keyevent@0__:zadd", b"n"),
        (b"__keyspace@0__:n", b"zincr"), (b"__keyevent@0__:zincr", b"n"),
        (b"__keyspace@0__:n", b"zrem"), (b"__keyevent@0__:zrem", b"n"),
        (b"__keyspace@0__:n", b"zremrangebyscore"),
        (b"__keyevent@0__:zremrangebyscore", b"n"),
    ]
    ps.close()


def test_notifications_of_a_served_blocked_pop(server, r):
    r.config_set("notify-keyspace-events", "Egz")
    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.psubscribe("__keyevent@0__:*")
    waiter = _client(server)
    results = {}
    t = _start_blocked(results, "a", lambda: waiter.bzpopmax(["bn"], timeout=5))
    _wait_blocked(r, 1)
    _events(ps, 0, timeout=0.2)
    r.zadd("bn", {"only": 1})
    t.join(5)
    assert results["a"] == (b"bn", b"only", 1.0)
    assert _events(ps, 3) == [
        (b"__keyevent@0__:zadd", b"bn"),
        (b"__keyevent@0__:zpopmax", b"bn"),
        (b"__keyevent@0__:del", b"bn"),
    ]
    ps.close()
    waiter.close()


# -- propagation ------------------------------------------------------------------


def _aof_text(directory):
    data = b""
    for path in sorted(glob.glob(os.path.join(directory, "**", "*.aof"), recursive=True)):
        with open(path, "rb") as f:
            data += f.read()
    return data


def test_blocking_pops_are_logged_as_plain_pops(server_factory, tmp_path):
    srv = server_factory(args=["--dir", str(tmp_path), "--appendonly", "yes",
                               "--appendfsync", "always"])
    r, waiter = _client(srv), _client(srv)
    results = {}
    t = _start_blocked(results, "a", lambda: waiter.bzpopmin(["pa"], timeout=5))
    _wait_blocked(r, 1)
    r.zadd("pa", {"x": 1, "y": 2, "z": 3})
    t.join(5)
    assert results["a"] == (b"pa", b"x", 1.0)
    t = _start_blocked(results, "b",
                       lambda: waiter.bzmpop(5, 2, ["none", "pb"], max=True, count=2))
    _wait_blocked(r, 1)
    r.zadd("pb", {"p": 1, "q": 2, "s": 3})
    t.join(5)
    assert results["b"] == [b"pb", [[b"s", b"3"], [b"q", b"2"]]]
    assert r.bzpopmax(["pa"], timeout=0) == (b"pa", b"z", 3.0)
    assert r.zmpop(1, ["pa"], min=True, count=5) == [b"pa", [[b"y", b"2"]]]
    # commands that change nothing are not logged (Redis counts no change)
    assert r.zadd("pb", {"p": 1.5}, ch=True) == 1
    assert r.zadd("pb", {"nosuch": 1}, xx=True) == 0
    assert r.zadd("pb", {"p": 0}, xx=True, incr=True) == 1.5
    assert r.zrem("pb", "nosuch") == 0
    assert r.zunionstore("nodst", ["none"]) == 0
    assert r.zremrangebyrank("pb", 5, 10) == 0
    assert r.zpopmin("none") == []
    r.close()
    waiter.close()
    srv.stop()
    log = _aof_text(str(tmp_path))
    assert b"BZPOPMIN" not in log.upper() and b"BZMPOP" not in log.upper()
    assert b"ZMPOP" not in log.upper()
    for quiet in (b"nosuch", b"nodst", b"ZREMRANGEBYRANK", b"\r\nnone\r\n"):
        assert quiet not in log, quiet
    assert log.count(b"$4\r\nZADD\r\n") == 3
    assert b"*2\r\n$7\r\nZPOPMIN\r\n$2\r\npa\r\n" in log
    assert b"*3\r\n$7\r\nZPOPMAX\r\n$2\r\npb\r\n$1\r\n2\r\n" in log
    assert b"*2\r\n$7\r\nZPOPMAX\r\n$2\r\npa\r\n" in log
    assert b"*3\r\n$7\r\nZPOPMIN\r\n$2\r\npa\r\n$1\r\n5\r\n" in log
    srv2 = server_factory(args=["--dir", str(tmp_path), "--appendonly", "yes"])
    r2 = _client(srv2)
    assert r2.exists("pa") == 0
    assert r2.zrange("pb", 0, -1, withscores=True) == [(b"p", 1.5)]
    r2.close()
