"""Consumer groups with real clients: one producer and three consumers in one
group through redis-py (each entry delivered once, acks empty the PEL, a dead
consumer's entries handed over by XAUTOCLAIM with growing delivery counts),
blocking XREADGROUP (woken by XADD, timeouts, re-blocking when another reader
took the entry, a key deleted or replaced and a group destroyed while waiting,
CLIENT UNBLOCK), the Redis 7.2+/7.4 behaviours the 7.0 oracle lacks (XINFO
CONSUMERS "inactive", XINFO STREAM FULL "active-time", consumers created by
any read or claim, XREADGROUP "+", the lag of an emptied stream), and the
time-dependent replies (XPENDING idle, XINFO CONSUMERS, XINFO STREAM FULL)
compared with redis-server with the clock masked."""

import shutil
import threading
import time

import pytest
import redis

import runnel

REDIS_SERVER = shutil.which("redis-server")


def _raw(server):
    """A redis-py connection whose replies skip redis-py's reshaping."""
    conn = redis.Connection(port=server.port)
    conn.connect()
    return conn


def _do(conn, *args):
    conn.send_command(*args)
    try:
        return conn.read_response()
    except redis.ResponseError as e:
        return ("error", str(e))


# ---------------------------------------------------------------- redis-py scenario


def test_three_consumers_share_the_stream(server):
    r = redis.Redis(port=server.port)
    r.xgroup_create("jobs", "workers", id="0", mkstream=True)
    produced = [r.xadd("jobs", {"n": str(i)}) for i in range(300)]
    got = {}
    lock = threading.Lock()

    def consume(name):
        c = redis.Redis(port=server.port)
        while True:
            resp = c.xreadgroup("workers", name, {"jobs": ">"}, count=7, block=200)
            if not resp:
                return
            for _, entries in resp:
                for eid, fields in entries:
                    with lock:
                        got.setdefault(eid, []).append(name)
                    c.xack("jobs", "workers", eid)

    threads = [threading.Thread(target=consume, args=("c%d" % i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(got) == sorted(produced)
    assert all(len(v) == 1 for v in got.values()), "an entry went to two consumers"
    assert r.xpending("jobs", "workers")["pending"] == 0
    info = r.xinfo_groups("jobs")[0]
    assert info["consumers"] == 3
    assert info["pending"] == 0
    assert info["last-delivered-id"] == produced[-1]
    assert info["entries-read"] == 300
    assert info["lag"] == 0


def test_dead_consumer_entries_go_to_another(server):
    r = redis.Redis(port=server.port)
    r.xgroup_create("q", "g", id="0", mkstream=True)
    ids = [r.xadd("q", {"i": str(i)}) for i in range(10)]
    # "dead" reads five entries and never acknowledges them
    dead = r.xreadgroup("g", "dead", {"q": ">"}, count=5)[0][1]
    assert [e[0] for e in dead] == ids[:5]
    live = r.xreadgroup("g", "live", {"q": ">"})[0][1]
    for eid, _ in live:
        assert r.xack("q", "g", eid) == 1
    assert r.xpending("q", "g")["pending"] == 5
    time.sleep(0.06)
    # too recent for a 10 s min-idle, idle enough for 50 ms
    nxt, claimed, deleted = r.xautoclaim("q", "g", "rescuer", min_idle_time=10000, start_id="0")
    assert claimed == [] and deleted == []
    nxt, claimed, deleted = r.xautoclaim("q", "g", "rescuer", min_idle_time=50, start_id="0",
                                         count=3)
    assert [e[0] for e in claimed] == ids[:3]
    assert nxt == ids[3]
    nxt, claimed, deleted = r.xautoclaim("q", "g", "rescuer", min_idle_time=50, start_id=nxt)
    assert [e[0] for e in claimed] == ids[3:5]
    assert nxt == b"0-0"
    pend = r.xpending_range("q", "g", min="-", max="+", count=10)
    assert [p["message_id"] for p in pend] == ids[:5]
    assert all(p["consumer"] == b"rescuer" for p in pend)
    assert all(p["times_delivered"] == 2 for p in pend)
    # delivery counts keep growing with every claim and history read
    r.xclaim("q", "g", "rescuer", min_idle_time=0, message_ids=[ids[0]])
    r.xreadgroup("g", "rescuer", {"q": "0"}, count=1)
    assert r.xpending_range("q", "g", min=ids[0], max=ids[0], count=1)[0]["times_delivered"] == 4
    # the dead consumer has nothing left; deleting it loses nothing
    assert r.xgroup_delconsumer("q", "g", "dead") == 0
    for eid in ids[:5]:
        assert r.xack("q", "g", eid) == 1
    assert r.xpending("q", "g")["pending"] == 0


def test_deleted_entries_stay_pending_until_claimed(server):
    r = redis.Redis(port=server.port)
    r.xgroup_create("d", "g", id="0", mkstream=True)
    ids = [r.xadd("d", {"i": str(i)}) for i in range(4)]
    r.xreadgroup("g", "a", {"d": ">"})
    r.xdel("d", ids[1])
    r.xtrim("d", maxlen=1, approximate=False)
    assert r.xpending("d", "g")["pending"] == 4
    hist = r.xreadgroup("g", "a", {"d": "0"})[0][1]
    assert [e[0] for e in hist] == ids
    assert [bool(e[1]) for e in hist] == [False, False, False, True]  # nil fields
    nxt, claimed, deleted = r.xautoclaim("d", "g", "b", min_idle_time=0, start_id="0")
    assert deleted == ids[:3]
    assert [e[0] for e in claimed] == ids[3:]
    assert r.xpending("d", "g")["pending"] == 1


# ---------------------------------------------------------------- blocking


def test_blocked_xreadgroup_woken_by_xadd(server):
    with server.client() as reader, server.client() as writer:
        writer.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        reader.send_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        time.sleep(0.1)
        assert writer.call("XADD", "s", "1-1", "k", "v") == b"$3\r\n1-1\r\n"
        assert reader.read_reply(timeout=2) == (
            b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n")
        assert writer.call("XPENDING", "s", "g") == (
            b"*4\r\n:1\r\n$3\r\n1-1\r\n$3\r\n1-1\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n1\r\n")


def test_blocked_xreadgroup_resp3_and_timeout(server):
    with server.client() as c:
        c.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        start = time.time()
        assert c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "100", "STREAMS", "s", ">") == (
            b"*-1\r\n")
        assert time.time() - start >= 0.09
        c.call("HELLO", "3")
        assert c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "50", "STREAMS", "s", ">") == (
            b"_\r\n")


def test_second_reader_blocks_again_when_first_takes_the_entry(server):
    with server.client() as a, server.client() as b, server.client() as w:
        w.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        a.send_command("XREADGROUP", "GROUP", "g", "a", "COUNT", "1", "BLOCK", "0",
                       "STREAMS", "s", ">")
        time.sleep(0.05)
        b.send_command("XREADGROUP", "GROUP", "g", "b", "COUNT", "1", "BLOCK", "0",
                       "STREAMS", "s", ">")
        time.sleep(0.05)
        w.call("XADD", "s", "1-0", "n", "1")
        assert a.read_reply(timeout=2).startswith(b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0")
        with pytest.raises(Exception):
            b.read_reply(timeout=0.2)
        w.call("XADD", "s", "2-0", "n", "2")
        assert b.read_reply(timeout=2).startswith(b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0")
        assert w.call("XPENDING", "s", "g") == (
            b"*4\r\n:2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
            b"*2\r\n$1\r\nb\r\n$1\r\n1\r\n")


NOGROUP_S_G = b"-NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option\r\n"


def _block(client):
    client.send_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    time.sleep(0.1)


def test_blocked_xreadgroup_key_deleted(server):
    # Redis 7.2+ runs the command again: NOGROUP (7.0 said "-UNBLOCKED the
    # stream key no longer exists").
    with server.client() as reader, server.client() as admin:
        admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        _block(reader)
        assert admin.call("DEL", "s") == b":1\r\n"
        assert reader.read_reply(timeout=2) == NOGROUP_S_G
        assert reader.call("PING") == b"+PONG\r\n"


@pytest.mark.parametrize("flush", [["FLUSHALL"], ["FLUSHDB"], ["SWAPDB", "0", "1"]])
def test_blocked_xreadgroup_key_flushed_or_swapped(server, flush):
    # The waiting command runs again when its database is flushed or
    # swapped away, as Redis 7.2+ does, and finds no key.
    with server.client() as reader, server.client() as admin:
        admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        _block(reader)
        assert admin.call(*flush) == b"+OK\r\n"
        assert reader.read_reply(timeout=2) == NOGROUP_S_G


def test_blocked_xreadgroup_key_expired(server):
    with server.client() as reader, server.client() as admin:
        admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        admin.call("PEXPIRE", "s", "200")
        _block(reader)
        # Nobody touches the key: active expiry removes it and the reader
        # is answered without waiting for its (infinite) timeout.
        assert reader.read_reply(timeout=5) == NOGROUP_S_G


def test_blocked_xreadgroup_group_destroyed(server):
    # Redis 7.2+: NOGROUP from the re-run (7.0: "-NOGROUP the consumer group
    # this client was blocked on no longer exists").
    with server.client() as reader, server.client() as admin:
        admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        _block(reader)
        assert admin.call("XGROUP", "DESTROY", "s", "g") == b":1\r\n"
        assert reader.read_reply(timeout=2) == NOGROUP_S_G


def test_blocked_xreadgroup_key_replaced_by_string(server):
    with server.client() as reader, server.client() as admin:
        admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        _block(reader)
        assert admin.call("SET", "s", "x") == b"+OK\r\n"
        assert reader.read_reply(timeout=2) == (
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")


def test_blocked_xreadgroup_other_group_changes_do_not_wake(server):
    with server.client() as reader, server.client() as admin:
        admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        admin.call("XGROUP", "CREATE", "s", "other", "$")
        _block(reader)
        assert admin.call("XGROUP", "DESTROY", "s", "other") == b":1\r\n"
        assert admin.call("XGROUP", "CREATECONSUMER", "s", "g", "x") == b":1\r\n"
        with pytest.raises(Exception):
            reader.read_reply(timeout=0.2)
        admin.call("XADD", "s", "5-0", "a", "b")
        assert reader.read_reply(timeout=2).startswith(b"*1\r\n*2\r\n$1\r\ns\r\n")


def test_client_unblock_on_xreadgroup(server):
    with server.client() as reader, server.client() as admin:
        admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        rid = int(reader.call("CLIENT", "ID")[1:-2])
        _block(reader)
        assert admin.call("CLIENT", "UNBLOCK", str(rid)) == b":1\r\n"
        assert reader.read_reply(timeout=2) == b"*-1\r\n"
        _block(reader)
        assert admin.call("CLIENT", "UNBLOCK", str(rid), "ERROR") == b":1\r\n"
        assert reader.read_reply(timeout=2) == (
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")


def test_blocking_redispy_consumer_woken(server):
    r = redis.Redis(port=server.port)
    r.xgroup_create("feed", "g", id="$", mkstream=True)
    out = []

    def wait():
        c = redis.Redis(port=server.port)
        out.append(c.xreadgroup("g", "c", {"feed": ">"}, block=3000))

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.1)
    eid = r.xadd("feed", {"x": "1"})
    t.join(5)
    assert out == [[[b"feed", [(eid, {b"x": b"1"})]]]]


# ---------------------------------------------------------------- Redis 7.2+ / 7.4 behaviours


def test_xinfo_consumers_idle_and_inactive(server):
    conn = _raw(server)
    _do(conn, "XADD", "s", "1-0", "a", "1")
    _do(conn, "XGROUP", "CREATE", "s", "g", "0")
    _do(conn, "XGROUP", "CREATECONSUMER", "s", "g", "never")
    _do(conn, "XREADGROUP", "GROUP", "g", "reader", "STREAMS", "s", ">")
    time.sleep(0.2)
    _do(conn, "XREADGROUP", "GROUP", "g", "reader", "STREAMS", "s", ">")  # nothing new
    info = _do(conn, "XINFO", "CONSUMERS", "s", "g")
    assert [c[0::2] for c in info] == [[b"name", b"pending", b"idle", b"inactive"]] * 2
    never, reader = (dict(zip(c[0::2], c[1::2])) for c in info)
    assert never[b"name"] == b"never" and never[b"inactive"] == -1
    assert reader[b"pending"] == 1
    assert reader[b"idle"] < 100  # seen just now...
    assert reader[b"inactive"] >= 190  # ...but last active 200 ms ago
    conn.disconnect()


def test_consumers_created_by_any_read_or_claim(server):
    # Redis 7.2+ creates the consumer even when nothing is read or claimed
    # (7.0 only when something is).
    r = redis.Redis(port=server.port)
    r.xadd("s", {"a": "1"}, id="1-0")
    r.xgroup_create("s", "g", id="$")
    assert r.xreadgroup("g", "r", {"s": ">"}) == []
    r.xclaim("s", "g", "x", min_idle_time=0, message_ids=["1-0"])
    r.xautoclaim("s", "g", "y", min_idle_time=0, start_id="0")
    assert [c["name"] for c in r.xinfo_consumers("s", "g")] == [b"r", b"x", b"y"]


def test_xreadgroup_plus_is_refused(server):
    with server.client() as c:
        c.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        assert c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "+") == (
            b"-ERR The + ID is meaningless in the context of XREADGROUP: you want to read the "
            b"history of this consumer by specifying a proper ID, or use the > ID to get new "
            b"messages. The + ID would just return an empty result set.\r\n")


def test_lag_of_emptied_and_refilled_stream(server):
    # Redis 7.4: an empty stream has no lag; a group behind every entry of a
    # stream without deletions has all of them to read.
    r = redis.Redis(port=server.port)
    for i in range(1, 6):
        r.xadd("l", {"f": "v"}, id="%d-0" % i)
    r.xgroup_create("l", "g", id="0")
    r.xreadgroup("g", "c", {"l": ">"}, count=2)
    r.xtrim("l", maxlen=0, approximate=False)
    assert r.xinfo_groups("l")[0]["lag"] == 0
    r.xadd("l", {"f": "v"}, id="7-0")
    assert r.xinfo_groups("l")[0]["lag"] == 1
    r.xgroup_setid("l", "g", id="0", entries_read=10)
    assert r.xinfo_groups("l")[0]["lag"] == 1


def test_xinfo_stream_full_groups_section(server):
    conn = _raw(server)
    for i in (1, 2, 3):
        _do(conn, "XADD", "s", "%d-0" % i, "f", str(i))
    _do(conn, "XGROUP", "CREATE", "s", "g", "0")
    _do(conn, "XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">")
    _do(conn, "XCLAIM", "s", "g", "alice", "0", "1-0", "2-0", "TIME", "1000", "RETRYCOUNT", "4",
        "JUSTID")
    info = _do(conn, "XINFO", "STREAM", "s", "FULL")
    assert _do(conn, "XINFO", "STREAM", "s")[15] == 1  # "groups" count
    full = dict(zip(info[0::2], info[1::2]))
    (group,) = full[b"groups"]
    group = dict(zip(group[0::2], group[1::2]))
    assert group[b"name"] == b"g"
    assert group[b"last-delivered-id"] == b"2-0"
    assert group[b"entries-read"] == 2
    assert group[b"lag"] == 1
    assert group[b"pel-count"] == 2
    assert group[b"pending"] == [[b"1-0", b"alice", 1000, 4], [b"2-0", b"alice", 1000, 4]]
    (cons,) = group[b"consumers"]
    assert cons[0::2] == [b"name", b"seen-time", b"active-time", b"pel-count", b"pending"]
    cons = dict(zip(cons[0::2], cons[1::2]))
    assert cons[b"pending"] == [[b"1-0", 1000, 4], [b"2-0", 1000, 4]]
    assert abs(cons[b"active-time"] - time.time() * 1000) < 5000
    short = dict(zip(*[iter(_do(conn, "XINFO", "STREAM", "s", "FULL", "COUNT", "1"))] * 2))
    group = dict(zip(*[iter(short[b"groups"][0])] * 2))
    assert group[b"pending"] == [[b"1-0", b"alice", 1000, 4]]
    conn.disconnect()


def test_copy_keeps_groups_independent(server):
    r = redis.Redis(port=server.port)
    r.xadd("a", {"f": "v"}, id="1-0")
    r.xgroup_create("a", "g", id="0")
    r.xreadgroup("g", "c", {"a": ">"})
    assert r.copy("a", "b")
    r.xack("a", "g", "1-0")
    assert r.xpending("a", "g")["pending"] == 0
    assert r.xpending("b", "g")["pending"] == 1
    assert r.xinfo_groups("b")[0]["pending"] == 1


# ---------------------------------------------------------------- against redis-server, clock masked

SCRIPT = [
    ("XADD", "s", "1-0", "a", "1"),
    ("XADD", "s", "2-0", "b", "2"),
    ("XADD", "s", "3-0", "c", "3"),
    ("XADD", "s", "4-0", "d", "4"),
    ("XGROUP", "CREATE", "s", "g", "0"),
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0"),
    ("XCLAIM", "s", "g", "carol", "0", "2-0", "TIME", "1234", "JUSTID"),
    ("XDEL", "s", "3-0"),
]
CHECKS = [
    ("XPENDING", "s", "g", "-", "+", "10"),
    ("XPENDING", "s", "g", "-", "+", "10", "bob"),
    ("XPENDING", "s", "g", "IDLE", "0", "(1-0", "+", "2"),
    ("XINFO", "CONSUMERS", "s", "g"),
    ("XINFO", "STREAM", "s", "FULL"),
    ("XINFO", "GROUPS", "s"),
]


def _mask(cmd, reply):
    """The reply with clock-dependent fields replaced, 7.2+ fields dropped."""
    if cmd[0] == "XPENDING":
        for row in reply:
            if row[2] < 5000:
                row[2] = "recent"
            else:  # delivered by XCLAIM TIME 1234
                assert abs(row[2] - (time.time() * 1000 - 1234)) < 5000
                row[2] = "old"
    elif cmd[:2] == ("XINFO", "CONSUMERS"):
        out = []
        for c in reply:
            d = dict(zip(c[0::2], c[1::2]))
            assert 0 <= d[b"idle"] < 5000
            out.append([d[b"name"], d[b"pending"]])
        return out
    elif cmd[:2] == ("XINFO", "STREAM"):
        d = dict(zip(reply[0::2], reply[1::2]))
        d.pop(b"radix-tree-nodes")
        for g in d[b"groups"]:
            gd = dict(zip(g[0::2], g[1::2]))
            for p in gd[b"pending"]:
                if p[2] != 1234:
                    assert abs(p[2] - time.time() * 1000) < 5000
                    p[2] = "now"
            for c in gd[b"consumers"]:
                cd = dict(zip(c[0::2], c[1::2]))
                cd.pop(b"active-time", None)  # Redis 7.2+
                cd[b"seen-time"] = "now"
                for p in cd[b"pending"]:
                    if p[1] != 1234:
                        p[1] = "now"
                c[:] = [x for kv in sorted(cd.items()) for x in kv]
            g[:] = [x for kv in sorted(gd.items()) for x in kv]
        return sorted(d.items())
    return reply


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server (the oracle) is not installed")
def test_time_dependent_replies_match_redis(server):
    oracle = runnel.Server(REDIS_SERVER, "redis")
    try:
        oracle.start()
        conns = [_raw(server), _raw(oracle)]
        for cmd in SCRIPT:
            replies = [_do(c, *cmd) for c in conns]
            assert replies[0] == replies[1], cmd
        for cmd in CHECKS:
            replies = [_mask(cmd, _do(c, *cmd)) for c in conns]
            assert replies[0] == replies[1], cmd
        for c in conns:
            c.disconnect()
    finally:
        oracle.stop()
        oracle.cleanup()
