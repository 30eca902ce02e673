"""Transactions through redis-py: pipelines with transaction=True, WATCH
retry loops under concurrent writers from several clients, changes made by
other clients (and by key expiry) invalidating a WATCH, and the
offset-then-XADD pattern an application builds on. Reply bytes are
compared with redis-server by tests/diff/cases/multi.txt; this file checks
what needs several connections or threads.
"""

import threading
import time

import pytest
import redis


@pytest.fixture
def url(server):
    return "redis://127.0.0.1:%d" % server.port


@pytest.fixture
def r(url):
    client = redis.Redis.from_url(url)
    yield client
    client.close()


def test_pipeline_transaction_returns_every_reply(r):
    p = r.pipeline(transaction=True)
    p.set("a", 1).incr("a").lpush("l", "x", "y").lrange("l", 0, -1).get("missing")
    assert p.execute() == [True, 2, 2, [b"y", b"x"], None]


def test_runtime_error_inside_exec_leaves_the_rest_applied(r):
    r.set("s", "text")
    p = r.pipeline(transaction=True)
    p.incr("n").lpush("s", "x").incr("n")
    res = p.execute(raise_on_error=False)
    assert res[0] == 1 and res[2] == 2
    assert isinstance(res[1], redis.ResponseError)
    assert str(res[1]).startswith("WRONGTYPE")
    assert r.get("n") == b"2"


def test_queueing_error_discards_everything(r):
    p = r.pipeline(transaction=True)
    p.set("q", 1)
    p.execute_command("GET")  # wrong arity: refused while queueing
    with pytest.raises(redis.ResponseError) as e:
        p.execute()
    assert "EXECABORT" in str(e.value) or "wrong number of arguments" in str(e.value)
    assert r.exists("q") == 0


def test_watch_invalidated_by_another_client(r, url):
    other = redis.Redis.from_url(url)
    try:
        r.set("w", 1)
        p = r.pipeline(transaction=True)
        p.watch("w")
        assert p.get("w") == b"1"
        other.set("w", 2)  # a change from elsewhere
        p.multi()
        p.set("w", 100)
        with pytest.raises(redis.WatchError):
            p.execute()
        assert r.get("w") == b"2"
        # An unrelated key does not disturb the next attempt.
        p = r.pipeline(transaction=True)
        p.watch("w")
        other.set("unrelated", 1)
        p.multi()
        p.set("w", 3)
        assert p.execute() == [True]
        assert r.get("w") == b"3"
    finally:
        other.close()


@pytest.mark.parametrize("change", ["del", "expire", "hset", "xadd", "sadd", "rpush",
                                    "rename", "flushdb", "swapdb"])
def test_every_family_invalidates_watch(r, url, change):
    other = redis.Redis.from_url(url)
    try:
        r.set("k", "v")
        p = r.pipeline(transaction=True)
        p.watch("k")
        if change == "del":
            other.delete("k")
        elif change == "expire":
            other.pexpire("k", 1)
            time.sleep(0.05)
        elif change == "rename":
            other.set("src", 1)
            other.rename("src", "k")
        elif change == "flushdb":
            other.flushdb()
        elif change == "swapdb":
            other.swapdb(0, 1)
        else:
            other.delete("k")
            if change == "hset":
                other.hset("k", "f", "v")
            elif change == "xadd":
                other.xadd("k", {"f": "v"})
            elif change == "sadd":
                other.sadd("k", "m")
            elif change == "rpush":
                other.rpush("k", "e")
        p.multi()
        p.set("marker", 1)
        with pytest.raises(redis.WatchError):
            p.execute()
        assert r.exists("marker") == 0
    finally:
        other.close()


def test_watch_retry_loop_under_concurrent_writers(url):
    """Four clients each add 1 to a counter 150 times with WATCH/GET/MULTI/
    SET: with optimistic locking no increment is lost."""
    workers, rounds = 4, 150
    retries = []
    errors = []

    def work():
        c = redis.Redis.from_url(url)
        n_retry = 0
        try:
            for _ in range(rounds):
                while True:
                    try:
                        with c.pipeline(transaction=True) as p:
                            p.watch("counter")
                            v = int(p.get("counter") or 0)
                            p.multi()
                            p.set("counter", v + 1)
                            p.execute()
                        break
                    except redis.WatchError:
                        n_retry += 1
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            retries.append(n_retry)
            c.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    c = redis.Redis.from_url(url)
    try:
        assert int(c.get("counter")) == workers * rounds
    finally:
        c.close()


def test_offset_xadd_offset_pattern_has_no_lost_update(url):
    """Read an offset from a hash, XADD, write the offset back, all under
    WATCH from several clients: the stream length equals the final offset
    and every entry carries a distinct sequence number."""
    workers, rounds = 3, 60

    def work(name):
        c = redis.Redis.from_url(url)
        try:
            for _ in range(rounds):
                while True:
                    try:
                        with c.pipeline(transaction=True) as p:
                            p.watch("offsets")
                            off = int(p.hget("offsets", "orders") or 0)
                            p.multi()
                            p.xadd("orders", {"seq": off + 1, "by": name})
                            p.hset("offsets", "orders", off + 1)
                            p.execute()
                        break
                    except redis.WatchError:
                        pass
        finally:
            c.close()

    threads = [threading.Thread(target=work, args=("w%d" % i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    c = redis.Redis.from_url(url)
    try:
        total = workers * rounds
        assert int(c.hget("offsets", "orders")) == total
        entries = c.xrange("orders")
        assert len(entries) == total
        assert [int(f[b"seq"]) for _, f in entries] == list(range(1, total + 1))
    finally:
        c.close()


def test_blocking_pop_inside_multi_does_not_block(r, url):
    p = r.pipeline(transaction=True)
    p.blpop("nothing", 0).xread({"nostream": "$"}, block=0)
    start = time.monotonic()
    assert p.execute() == [None, []]
    assert time.monotonic() - start < 2


def test_exec_wakes_blocked_client_after_the_transaction(r, url):
    """A client blocked on a list is served by a push made inside EXEC,
    and sees the list as the whole transaction left it."""
    got = []

    def waiter():
        c = redis.Redis.from_url(url)
        try:
            got.append(c.blpop("jobs", 5))
        finally:
            c.close()

    t = threading.Thread(target=waiter)
    t.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and r.info("clients")["blocked_clients"] < 1:
        time.sleep(0.01)
    p = r.pipeline(transaction=True)
    p.rpush("jobs", "a", "b").lpop("jobs")
    assert p.execute() == [2, b"a"]
    t.join(10)
    assert got == [(b"jobs", b"b")]


def test_disconnect_while_watching_and_queued(url, r):
    for _ in range(20):
        c = redis.Redis.from_url(url)
        c.execute_command("WATCH", "a", "b", "c")
        c.execute_command("MULTI")
        c.execute_command("SET", "a", 1)
        c.close()
    r.set("a", 2)  # touches keys whose watchers are gone
    assert r.get("a") == b"2"
    assert r.ping()
