"""Streams with real clients: XADD/XRANGE/XREAD through redis-py, and the
blocking XREAD: woken by XADD from another client, timeouts, several
streams, "$" semantics, CLIENT UNBLOCK, a client that disconnects while
blocked, and pipelined commands behind a blocked XREAD."""

import threading
import time

import redis


def test_xadd_xrange_roundtrip_redispy(server):
    r = redis.Redis(port=server.port)
    ids = [r.xadd("orders", {"sku": str(i), "qty": "1"}) for i in range(5)]
    assert r.xlen("orders") == 5
    got = r.xrange("orders")
    assert [e[0] for e in got] == ids
    assert got[2][1] == {b"sku": b"2", b"qty": b"1"}
    assert [e[0] for e in r.xrevrange("orders", count=2)] == ids[:-3:-1]
    assert r.xdel("orders", ids[0]) == 1
    assert r.xtrim("orders", maxlen=2, approximate=False) == 2
    assert [e[0] for e in r.xrange("orders")] == ids[3:]
    assert r.type("orders") == b"stream"
    assert r.object("encoding", "orders") == b"stream"


def test_xread_block_woken_by_xadd(server):
    with server.client() as reader, server.client() as writer:
        assert writer.call("XADD", "s", "1-1", "a", "1") == b"$3\r\n1-1\r\n"
        reader.send_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        time.sleep(0.1)
        assert writer.call("XADD", "s", "2-1", "b", "2") == b"$3\r\n2-1\r\n"
        assert reader.read_reply(timeout=2) == (
            b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n")


def test_xread_block_timeout_null_resp2_and_resp3(server):
    with server.client() as c:
        start = time.time()
        assert c.call("XREAD", "BLOCK", "100", "STREAMS", "nokey", "$") == b"*-1\r\n"
        assert time.time() - start >= 0.09
        c.call("HELLO", "3")
        assert c.call("XREAD", "BLOCK", "50", "STREAMS", "nokey", "0") == b"_\r\n"


def test_xread_several_streams_one_wakes(server):
    with server.client() as reader, server.client() as writer:
        reader.send_command("XREAD", "BLOCK", "2000", "STREAMS", "a", "b", "$", "$")
        time.sleep(0.1)
        writer.call("XADD", "b", "5-0", "f", "v")
        assert reader.read_reply(timeout=3) == (
            b"*1\r\n*2\r\n$1\r\nb\r\n*1\r\n*2\r\n$3\r\n5-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n")


def test_xread_last_seen_id_never_misses(server):
    r = redis.Redis(port=server.port)
    seen = []
    last = "0-0"
    done = threading.Event()

    def consume():
        nonlocal last
        c = redis.Redis(port=server.port)
        while len(seen) < 300:
            resp = c.xread({"feed": last}, block=1000, count=7)
            for _, entries in resp or []:
                for eid, _ in entries:
                    seen.append(eid)
                    last = eid
        done.set()

    t = threading.Thread(target=consume)
    t.start()
    produced = [r.xadd("feed", {"n": str(i)}) for i in range(300)]
    assert done.wait(10)
    t.join()
    assert seen == produced


def test_client_unblock_timeout_and_error(server):
    with server.client() as reader, server.client() as admin:
        rid = int(reader.call("CLIENT", "ID")[1:-2])
        reader.send_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        time.sleep(0.1)
        assert admin.call("CLIENT", "UNBLOCK", str(rid)) == b":1\r\n"
        assert reader.read_reply(timeout=2) == b"*-1\r\n"
        reader.send_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        time.sleep(0.1)
        assert admin.call("CLIENT", "UNBLOCK", str(rid), "ERROR") == b":1\r\n"
        assert reader.read_reply(timeout=2) == (
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")
        assert admin.call("CLIENT", "UNBLOCK", str(rid)) == b":0\r\n"


def test_pipelined_commands_wait_behind_blocked_xread(server):
    with server.client() as reader, server.client() as writer:
        reader.send(b"*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n"
                    b"$1\r\ns\r\n$1\r\n$\r\n*1\r\n$4\r\nPING\r\n")
        time.sleep(0.1)
        writer.call("XADD", "s", "1-0", "k", "v")
        assert reader.read_reply(timeout=2).startswith(b"*1\r\n*2\r\n$1\r\ns\r\n")
        assert reader.read_reply(timeout=2) == b"+PONG\r\n"


def test_disconnect_while_blocked_is_cleaned_up(server):
    r = redis.Redis(port=server.port)
    c = server.client()
    c.send_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    time.sleep(0.1)
    assert r.info("clients")["blocked_clients"] == 1
    c.close()
    time.sleep(0.1)
    assert r.info("clients")["blocked_clients"] == 0
    assert r.xadd("s", {"a": "b"})


def test_xsetid_refuses_last_id_below_max_deleted(server):
    # Redis 7.4's check (Redis 7.0 accepted it and left the stream inconsistent).
    with server.client() as c:
        assert c.call("XADD", "x", "5-0", "a", "1") == b"$3\r\n5-0\r\n"
        assert c.call("XSETID", "x", "20-0", "MAXDELETEDID", "15-0") == b"+OK\r\n"
        assert c.call("XSETID", "x", "14-0") == (
            b"-ERR The ID specified in XSETID is smaller than current max_deleted_entry_id\r\n")


def test_xread_plus_reads_the_last_entry(server):
    # Redis 7.4: "+" as the ID returns the last entry.
    with server.client() as c:
        c.call("XADD", "p", "1-0", "a", "1")
        c.call("XADD", "p", "2-0", "b", "2")
        assert c.call("XREAD", "STREAMS", "p", "+") == (
            b"*1\r\n*2\r\n$1\r\np\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n")


def test_xinfo_stream_fields(server):
    r = redis.Redis(port=server.port)
    r.xadd("i", {"a": "1"}, id="1-0")
    r.xadd("i", {"b": "2"}, id="2-0")
    r.xdel("i", "1-0")
    info = r.xinfo_stream("i")
    assert [k.encode() if isinstance(k, str) else k for k in info] == [b"length", b"radix-tree-keys", b"radix-tree-nodes", b"last-generated-id",
                     b"max-deleted-entry-id", b"entries-added", b"recorded-first-entry-id",
                     b"groups", b"first-entry", b"last-entry"]
    assert info["length"] == 1
    assert info["last-generated-id"] == b"2-0"
    assert info["max-deleted-entry-id"] == b"1-0"
    assert info["entries-added"] == 2
    assert info["recorded-first-entry-id"] == b"2-0"
    assert info["first-entry"] == (b"2-0", {b"b": b"2"})
