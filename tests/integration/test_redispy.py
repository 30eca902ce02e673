"""redis-py against runnel-server: the calls a typical application makes.

Uses Debian's python3-redis with its defaults (RESP2, connection pool).
Each test gets a fresh server from the `server` fixture in conftest.py.
"""

import pytest
import redis


@pytest.fixture
def r(server):
    client = redis.Redis.from_url("redis://127.0.0.1:%d" % server.port)
    yield client
    client.close()


def test_register_flow(r):
    assert r.ping() is True
    assert r.set("6_register", "12345", 14400) is True
    assert r.get("6_register") == b"12345"
    assert 14399 <= r.ttl("6_register") <= 14400
    assert r.delete("6_register") == 1
    assert r.get("6_register") is None
    assert r.delete("6_register") == 0
    assert r.ttl("6_register") == -2


def test_strings_and_counters(r):
    assert r.incr("n") == 1
    assert r.incr("n", 10) == 11
    assert r.decr("n") == 10
    assert r.get("n") == b"10"
    assert r.mset({"a": "1", "b": "2", "c": "3"}) is True
    assert r.mget("a", "b", "missing", "c") == [b"1", b"2", None, b"3"]
    assert r.set("nx", "v", nx=True) is True
    assert r.set("nx", "w", nx=True) is None
    assert r.get("nx") == b"v"
    assert r.exists("a", "b", "missing") == 2
    assert r.type("a") == b"string"
    assert r.append("a", "xy") == 3
    assert r.strlen("a") == 3


def test_expire_persist(r):
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 99000 <= r.pttl("k") <= 100000
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("k") is False
    assert r.expire("missing", 100) is False
    r.set("short", "v", px=50)
    assert r.get("short") == b"v"
    import time
    time.sleep(0.15)
    assert r.get("short") is None


def test_scan_iter(r):
    keys = {"user:%d" % i for i in range(300)}
    r.mset({k: "x" for k in keys})
    r.set("other", "y")
    found = set(k.decode() for k in r.scan_iter(match="user:*", count=50))
    assert found == keys
    assert set(r.scan_iter()) == {k.encode() for k in keys} | {b"other"}
    assert r.dbsize() == 301


def test_pipeline_no_transaction(r):
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.set("p%d" % i, i)
    for i in range(100):
        p.incr("p%d" % i)
    p.get("p99")
    p.get("missing")
    res = p.execute()
    assert res[:100] == [True] * 100
    assert res[100:200] == list(range(1, 101))
    assert res[200] == b"100"
    assert res[201] is None


def test_errors_raise(r):
    r.set("s", "notanumber")
    with pytest.raises(redis.ResponseError) as e:
        r.incr("s")
    assert str(e.value) == "value is not an integer or out of range"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("NOSUCHCMD", "a")
    assert str(e.value) == "unknown command 'NOSUCHCMD', with args beginning with: 'a' "


def test_select_and_flush(r, server):
    r.set("k", "db0")
    r1 = redis.Redis(host="127.0.0.1", port=server.port, db=1)
    try:
        assert r1.get("k") is None
        r1.set("k", "db1")
        assert r.get("k") == b"db0"
        assert r1.get("k") == b"db1"
        assert r1.flushdb() is True
        assert r1.dbsize() == 0
        assert r.dbsize() == 1
        assert r.flushall() is True
        assert r.dbsize() == 0
    finally:
        r1.close()


def test_client_name_and_info(r):
    assert r.client_setname("app-1") is True
    assert r.client_getname() == "app-1"
    info = r.info("server")
    assert "redis_version" in info
    assert r.config_get("timeout") == {"timeout": "0"}
