"""Keyspace behaviour that needs time: active expiry reclaims keys nobody
reads, and the counters INFO reports for it; idle clients are closed after
`timeout`; CLIENT PAUSE holds writes; MONITOR sees commands."""

import re
import time

import redis


def info_field(r, section, name):
    return r.info(section).get(name)


def test_active_expiry_reclaims_unread_keys(server):
    r = redis.Redis(port=server.port)
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set("tmp:%d" % i, "x", px=1000)
    pipe.set("keep", "y")
    pipe.execute()
    # (1 s of TTL leaves room for a slow sanitizer build under load.)
    assert r.dbsize() == 2001
    # Nothing reads the keys: only the background cycle can remove them.
    deadline = time.time() + 8
    while time.time() < deadline and r.dbsize() > 1:
        time.sleep(0.1)
    assert r.dbsize() == 1
    assert info_field(r, "stats", "expired_keys") == 2000
    assert r.info("keyspace") == {"db0": {"keys": 1, "expires": 0, "avg_ttl": 0}}
    assert r.get("keep") == b"y"


def test_lazy_expiry_on_access(server):
    r = redis.Redis(port=server.port)
    r.config_set("hz", 1)
    r.set("k", "v", px=30)
    time.sleep(0.06)
    assert r.get("k") is None
    assert r.exists("k") == 0


def test_timeout_closes_idle_clients(server_factory):
    srv = server_factory(args=("--timeout", "1"))
    idle = srv.client()
    assert idle.call("PING") == b"+PONG\r\n"
    start = time.time()
    assert idle.read_until_close(timeout=5) == b""
    assert 1.0 <= time.time() - start < 4.0


def test_client_pause_write_holds_writes_not_reads(server):
    r = redis.Redis(port=server.port)
    other = redis.Redis(port=server.port)
    r.set("k", "v")
    assert r.execute_command("CLIENT", "PAUSE", "300", "WRITE") == b"OK"
    start = time.time()
    assert other.get("k") == b"v"
    assert time.time() - start < 0.2
    assert other.set("k", "w") is True
    assert time.time() - start >= 0.25
    assert r.get("k") == b"w"


def test_client_unpause_releases_at_once(server):
    r = redis.Redis(port=server.port)
    other = redis.Redis(port=server.port)
    r.execute_command("CLIENT", "PAUSE", "10000", "ALL")
    with server.client() as c:
        c.send_command("SET", "a", "1")
        time.sleep(0.2)
        assert r.execute_command("CLIENT", "UNPAUSE") == b"OK"
        assert c.read_reply(timeout=2) == b"+OK\r\n"
    assert other.get("a") == b"1"


def test_monitor_sees_commands(server):
    with server.client() as mon, server.client() as c:
        assert mon.call("MONITOR") == b"+OK\r\n"
        assert c.call("SET", "a b", "x\ny") == b"+OK\r\n"
        line = mon.read_reply(timeout=2)
        assert re.match(rb'^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "a b" "x\\ny"\r\n$', line)


def test_client_kill_by_id(server):
    with server.client() as victim, server.client() as c:
        vid = int(victim.call("CLIENT", "ID")[1:-2])
        assert c.call("CLIENT", "KILL", "ID", str(vid)) == b":1\r\n"
        assert victim.read_until_close(timeout=2) == b""
        assert c.call("CLIENT", "KILL", "ID", str(vid)) == b":0\r\n"
        assert c.call("CLIENT", "KILL", "1.2.3.4:5") == b"-ERR No such client\r\n"
