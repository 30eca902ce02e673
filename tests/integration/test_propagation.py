"""Propagation: what each write is recorded as in the append-only log, and
that replaying the log restores the same state.

Every test runs commands on a server with --appendfsync always, reads the
commands appended to the incr file named by the manifest, and asserts them
exactly: the forms are Redis 7.0's (read from redis-server 7.0.15's own log
for the same commands), except where 7.0 loses state and Runnel records
more (XREADGROUP records XGROUP SETID ... ENTRIESREAD after its XCLAIMs as
Redis 7.2 does, history reads record the new delivery count and time, and a
consumer created by a read or claim that recreates nothing is recorded with
XGROUP CREATECONSUMER). Times that depend on the clock are checked against
the window in which the command ran. The server is then killed (so the
start-up replays the log, not a snapshot made at shutdown) and restarted on
the same directory, and the values, absolute expiry times, stream entries,
groups, PELs, delivery counts and times, and consumers are compared with
what the first server had.
"""

import os
import threading
import time

import pytest
import redis

AOFDIR = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"

# Fields whose value depends on when they are read (consumer activity).
VOLATILE = {b"seen-time", b"active-time", b"idle", b"inactive"}


def now_ms():
    return int(time.time() * 1000)


def parse_log(data):
    """RESP multibulk commands of an AOF incr file, as lists of bytes."""
    cmds, i = [], 0
    while i < len(data):
        assert data[i:i + 1] == b"*", data[i:i + 40]
        j = data.index(b"\r\n", i)
        n, i = int(data[i + 1:j]), j + 2
        args = []
        for _ in range(n):
            j = data.index(b"\r\n", i)
            ln, i = int(data[i + 1:j]), j + 2
            args.append(data[i:i + ln])
            i += ln + 2
        cmds.append(args)
    return cmds


class Log:
    """The incr file of a server's append-only log, read incrementally."""

    def __init__(self, srv):
        self.dir = os.path.join(getattr(srv, "data_dir", srv.dir), AOFDIR)
        self.pos = 0

    def path(self):
        manifest = os.path.join(self.dir, MANIFEST)
        deadline = time.monotonic() + 5
        while not os.path.exists(manifest) and time.monotonic() < deadline:
            time.sleep(0.01)  # written once the server is up
        with open(manifest) as f:
            for line in f:
                parts = line.split()
                if parts and parts[-1] == "i":
                    return os.path.join(self.dir, parts[1])
        raise AssertionError("no incr file in the manifest")

    def new(self):
        """Commands appended since the last call, SELECT left out."""
        with open(self.path(), "rb") as f:
            data = f.read()
        cmds = parse_log(data[self.pos:])
        self.pos = len(data)
        return [c for c in cmds if c[0].upper() != b"SELECT"]


def b(*args):
    return [a if isinstance(a, bytes) else str(a).encode() for a in args]


def raw_client(port):
    """redis-py without its reply reshaping: replies as sent (bytes, lists)."""
    r = redis.Redis(port=port)
    r.response_callbacks.clear()
    return r


def start(server_factory):
    srv = server_factory(args=["--appendonly", "yes", "--appendfsync", "always"])
    r = raw_client(srv.port)
    log = Log(srv)
    log.new()
    return srv, r, log


def restart(server_factory, old):
    """Kill old (no shutdown snapshot) and start again on its directory."""
    d = getattr(old, "data_dir", old.dir)
    old.kill()
    old.returncode = old.proc.returncode
    old.expect_failure = True  # killed on purpose
    srv = server_factory(args=["--dir", d, "--appendonly", "yes", "--appendfsync", "always"])
    srv.data_dir = d
    deadline = time.monotonic() + 10
    while "DB loaded from append only file" not in srv.stdout():
        assert time.monotonic() < deadline, srv.output()
        time.sleep(0.01)
    return srv, raw_client(srv.port)


def strip_volatile(v):
    """v with the values of VOLATILE fields (flat key-value lists) blanked."""
    if isinstance(v, list):
        out, skip = [], False
        for x in v:
            out.append(None if skip else strip_volatile(x))
            skip = isinstance(x, bytes) and x in VOLATILE
        return out
    return v


def stream_state(r, key):
    """Everything a stream key holds, consumer activity times left out."""
    full = r.execute_command("XINFO", "STREAM", key, "FULL")
    groups = r.execute_command("XINFO", "GROUPS", key)
    state = [strip_volatile(full), strip_volatile(groups)]
    for g in groups:
        name = g[g.index(b"name") + 1]
        state.append(r.execute_command("XPENDING", key, name))
        pend = r.execute_command("XPENDING", key, name, "-", "+", 1000)
        state.append([[p[0], p[1], p[3]] for p in pend])  # idle depends on now
        state.append(strip_volatile(r.execute_command("XINFO", "CONSUMERS", key, name)))
    return state


def dump_state(r):
    """Every key of db 0: type, value and absolute expiry (ms)."""
    out = {}
    for k in sorted(r.execute_command("KEYS", "*")):
        t = r.execute_command("TYPE", k)
        if t == b"string":
            v = r.execute_command("GET", k)
        elif t == b"list":
            v = r.execute_command("LRANGE", k, 0, -1)
        elif t == b"set":
            v = sorted(r.execute_command("SMEMBERS", k))
        elif t == b"hash":
            flat = r.execute_command("HGETALL", k)
            v = sorted(zip(flat[::2], flat[1::2]))
        elif t == b"stream":
            v = stream_state(r, k)
        else:
            v = None
        out[k] = (t, v, r.execute_command("PEXPIRETIME", k))
    return out


def assert_restored(server_factory, srv, r):
    """Kills srv, replays its log in a new server, compares every key."""
    before = dump_state(r)
    assert before, "nothing to compare"
    srv2, r2 = restart(server_factory, srv)
    after = dump_state(r2)
    r2.close()
    assert srv2.stop() == 0  # before the first server's folder goes
    assert after == before


def assert_time_in(arg, lo, hi):
    t = int(arg)
    assert lo <= t <= hi, (t, lo, hi)


def wait_blocked(r, n=1):
    info = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
    deadline = time.monotonic() + 5
    while info.info("clients").get("blocked_clients", 0) < n:
        assert time.monotonic() < deadline, "client never blocked"
        time.sleep(0.01)


def in_thread(port, *args):
    """Runs a (blocking) command on its own connection; join() for the reply."""
    box = {}

    def run():
        box["reply"] = redis.Redis(port=port).execute_command(*args)

    t = threading.Thread(target=run)
    t.start()
    t.box = box
    return t


# ---- Strings and keys ----


def test_set_with_expiry_records_pxat(server_factory):
    srv, r, log = start(server_factory)
    lo = now_ms()
    r.execute_command("SET", "k1", "v", "EX", "100")
    r.execute_command("SET", "k2", "v", "PX", "100000", "GET")
    r.execute_command("SETEX", "k3", "100", "v")
    r.execute_command("PSETEX", "k4", "100000", "v")
    r.execute_command("SET", "k5", "v", "NX", "EX", "100")
    hi = now_ms()
    got = log.new()
    assert [c[:4] for c in got] == [b("SET", k, "v", "PXAT") for k in ("k1", "k2", "k3", "k4", "k5")]
    for c in got:
        assert len(c) == 5
        assert_time_in(c[4], lo + 100000, hi + 100000)
    r.execute_command("SET", "k6", "v", "EXAT", "99999999999")
    r.execute_command("SET", "k7", "v", "PXAT", "99999999999999", "XX")  # no key: nothing
    r.execute_command("SET", "k7", "v", "PXAT", "99999999999999")
    r.execute_command("SET", "k5", "w", "NX", "EX", "10")  # not set: nothing
    r.execute_command("SET", "k1", "w", "KEEPTTL")
    assert log.new() == [b("SET", "k6", "v", "PXAT", "99999999999000"),
                         b("SET", "k7", "v", "PXAT", "99999999999999"),
                         b("SET", "k1", "w", "KEEPTTL")]
    # A time already past is recorded as it is (Redis 7.0); the expiry cycle
    # may record the DEL at once.
    r.execute_command("SET", "k8", "v", "EXAT", "1")
    got = log.new()
    assert got[0] == b("SET", "k8", "v", "PXAT", "1000")
    assert got[1:] in ([], [b("DEL", "k8")])
    assert_restored(server_factory, srv, r)


def test_getex_records_pexpireat_persist_or_del(server_factory):
    srv, r, log = start(server_factory)
    r.set("g", "v")
    r.set("h", "v")
    log.new()
    lo = now_ms()
    r.execute_command("GETEX", "g", "EX", "100")
    hi = now_ms()
    (c,) = log.new()
    assert c[:2] == b("PEXPIREAT", "g")
    assert_time_in(c[2], lo + 100000, hi + 100000)
    r.execute_command("GETEX", "g", "EXAT", "99999999999")
    r.execute_command("GETEX", "g", "PXAT", "99999999999999")
    r.execute_command("GETEX", "g", "PERSIST")
    r.execute_command("GETEX", "g", "PERSIST")  # no TTL: nothing
    r.execute_command("GETEX", "g")
    r.execute_command("GETEX", "missing", "EX", "10")
    r.execute_command("GETEX", "h", "PX", "5000000")
    r.execute_command("GETEX", "g", "EXAT", "1")
    got = log.new()
    assert got[:3] == [b("PEXPIREAT", "g", "99999999999000"),
                       b("PEXPIREAT", "g", "99999999999999"), b("PERSIST", "g")]
    assert got[3][:2] == b("PEXPIREAT", "h")
    assert got[4:] == [b("DEL", "g")]
    assert_restored(server_factory, srv, r)


def test_expire_family_records_pexpireat_or_del(server_factory):
    srv, r, log = start(server_factory)
    for k in ("a", "b", "c", "d"):
        r.set(k, "v")
    log.new()
    lo = now_ms()
    r.execute_command("EXPIRE", "a", "100")
    r.execute_command("PEXPIRE", "b", "100000", "nx")
    hi = now_ms()
    got = log.new()
    assert got[0][:2] == b("PEXPIREAT", "a") and len(got[0]) == 3
    assert_time_in(got[0][2], lo + 100000, hi + 100000)
    assert got[1][:2] == b("PEXPIREAT", "b") and got[1][3:] == [b"nx"]
    assert_time_in(got[1][2], lo + 100000, hi + 100000)
    r.execute_command("EXPIREAT", "c", "99999999999", "GT")  # no TTL: GT fails
    r.execute_command("EXPIREAT", "c", "99999999999", "LT")
    r.execute_command("pexpireat", "d", "99999999999999")
    r.execute_command("EXPIRE", "missing", "10")
    r.execute_command("EXPIRE", "a", "-1")
    r.execute_command("PEXPIREAT", "b", "1")
    assert log.new() == [b("PEXPIREAT", "c", "99999999999000", "LT"),
                         b("pexpireat", "d", "99999999999999"),
                         b("DEL", "a"), b("DEL", "b")]
    r.execute_command("PERSIST", "c")
    assert log.new() == [b("PERSIST", "c")]
    assert_restored(server_factory, srv, r)


def test_getdel_getset_and_float_increments(server_factory):
    srv, r, log = start(server_factory)
    r.execute_command("SET", "f", "10.5", "PXAT", "99999999999999")
    r.set("s", "x")
    log.new()
    assert r.execute_command("INCRBYFLOAT", "f", "0.1") == b"10.6"
    assert r.execute_command("INCRBYFLOAT", "n", "3e2") == b"300"
    assert r.execute_command("HINCRBYFLOAT", "h", "fl", "1.5") == b"1.5"
    assert r.execute_command("HINCRBYFLOAT", "h", "fl", "2e3") == b"2001.5"
    assert r.execute_command("GETSET", "s", "y") == b"x"
    assert r.execute_command("GETDEL", "n") == b"300"
    assert r.execute_command("GETDEL", "n") is None
    assert log.new() == [b("SET", "f", "10.6", "KEEPTTL"), b("SET", "n", "300", "KEEPTTL"),
                         b("HSET", "h", "fl", "1.5"), b("HSET", "h", "fl", "2001.5"),
                         b("SET", "s", "y"), b("DEL", "n")]
    assert r.execute_command("PEXPIRETIME", "f") == 99999999999999
    assert_restored(server_factory, srv, r)


def test_plain_writes_are_recorded_as_sent(server_factory):
    srv, r, log = start(server_factory)
    cmds = [("set", "r", "v"), ("rename", "r", "r2"), ("renamenx", "r2", "r3"),
            ("copy", "r3", "r4"), ("copy", "r3", "r4", "replace"), ("move", "r4", "1"),
            ("copy", "r3", "r5", "DB", "2"), ("sadd", "s", "a", "b"), ("sadd", "t", "c"),
            ("smove", "s", "t", "a"), ("rpush", "l", "a", "b", "c"), ("lmove", "l", "l2", "left", "RIGHT"),
            ("rpoplpush", "l", "l2"), ("lpop", "l2", "1"), ("hset", "h", "a", "1"),
            ("hincrby", "h", "a", "2"), ("incr", "i"), ("del", "r3", "missing")]
    for c in cmds:
        r.execute_command(*c)
    assert log.new() == [b(*c) for c in cmds]
    # Reads and no-op writes record nothing.
    for c in [("get", "i"), ("lrange", "l2", "0", "-1"), ("smembers", "t"), ("hgetall", "h"),
              ("ttl", "i"), ("del", "missing"), ("smove", "s", "t", "zz"), ("persist", "i"),
              ("lpop", "missing"), ("spop", "missing"), ("expire", "missing", "1")]:
        r.execute_command(*c)
    assert log.new() == []
    assert_restored(server_factory, srv, r)


# ---- Sets and lists ----


def test_spop_records_srem_or_del(server_factory):
    srv, r, log = start(server_factory)
    r.sadd("s", *[str(i) for i in range(10)])
    r.sadd("one", "x")
    log.new()
    m = r.execute_command("SPOP", "s")
    assert log.new() == [b("SREM", "s", m)]
    (m,) = r.execute_command("SPOP", "s", "1")
    assert log.new() == [b("SREM", "s", m)]
    ms = r.execute_command("SPOP", "s", "3")
    assert log.new() == [[b"MULTI"]] + [b("SREM", "s", x) for x in ms] + [[b"EXEC"]]
    r.execute_command("SPOP", "s", "0")
    assert log.new() == []
    r.execute_command("SPOP", "one")
    assert log.new() == [b("SREM", "one", "x")]
    r.execute_command("SPOP", "s", "100")
    assert log.new() == [b("DEL", "s")]
    r.sadd("s2", *[str(i) for i in range(10)])
    log.new()
    ms = r.execute_command("SPOP", "s2", "8")
    assert log.new() == [[b"MULTI"]] + [b("SREM", "s2", x) for x in ms] + [[b"EXEC"]]
    assert_restored(server_factory, srv, r)


def test_spop_inside_exec_is_not_wrapped_twice(server_factory):
    srv, r, log = start(server_factory)
    r.sadd("s", "a", "b", "c", "d")
    log.new()
    p = r.pipeline(transaction=True)
    p.execute_command("SPOP", "s", "2")
    p.execute_command("SET", "k", "v")
    (ms, _) = p.execute()
    assert log.new() == ([[b"MULTI"]] + [b("SREM", "s", x) for x in ms] +
                         [b("SET", "k", "v"), [b"EXEC"]])
    assert_restored(server_factory, srv, r)


def test_list_pops_record_their_effect(server_factory):
    srv, r, log = start(server_factory)
    r.rpush("l", *"abcdefgh")
    log.new()
    r.execute_command("BLPOP", "none", "l", "0")
    r.execute_command("BRPOP", "l", "0")
    r.execute_command("LMPOP", "2", "none", "l", "LEFT", "COUNT", "2")
    r.execute_command("BLMPOP", "0", "1", "l", "right", "COUNT", "10")
    r.execute_command("LMPOP", "1", "none", "LEFT")
    assert log.new() == [b("LPOP", "l"), b("RPOP", "l"), b("LPOP", "l", "2"), b("RPOP", "l", "4")]
    r.rpush("m", "a", "b", "c")
    log.new()
    r.execute_command("BLMOVE", "m", "m2", "LEFT", "RIGHT", "0")
    r.execute_command("BRPOPLPUSH", "m", "m2", "0")
    assert log.new() == [b("LMOVE", "m", "m2", "LEFT", "RIGHT"), b("RPOPLPUSH", "m", "m2")]
    assert_restored(server_factory, srv, r)


def test_blocked_list_pops_record_their_effect_when_served(server_factory):
    srv, r, log = start(server_factory)
    cases = [
        (("BLPOP", "w1", "0"), ["w1", "z"], [b("LPOP", "w1")]),
        (("BRPOP", "w2", "0"), ["w2", "z", "y"], [b("RPOP", "w2")]),
        (("BLMOVE", "w3", "d3", "RIGHT", "LEFT", "0"), ["w3", "z", "y"],
         [b("LMOVE", "w3", "d3", "RIGHT", "LEFT")]),
        (("BRPOPLPUSH", "w4", "d4", "0"), ["w4", "z"], [b("RPOPLPUSH", "w4", "d4")]),
        (("BLMPOP", "0", "1", "w5", "LEFT", "COUNT", "5"), ["w5", "a", "b"], [b("LPOP", "w5", "2")]),
    ]
    for cmd, push, want in cases:
        t = in_thread(srv.port, *cmd)
        wait_blocked(r)
        r.rpush(*push)
        t.join(5)
        assert "reply" in t.box
        assert log.new() == [b("RPUSH", *push)] + want
    # A timeout records nothing.
    assert r.execute_command("BLPOP", "w9", "0.01") is None
    assert log.new() == []
    assert_restored(server_factory, srv, r)


# ---- Streams ----


def test_xadd_records_generated_ids_and_exact_trims(server_factory):
    srv, r, log = start(server_factory)
    lo = now_ms()
    id1 = r.execute_command("XADD", "s", "*", "f", "v")
    hi = now_ms()
    id2 = r.execute_command("XADD", "s", "MAXLEN", "~", "5", "*", "f", "v")
    got = log.new()
    assert got == [b("XADD", "s", id1, "f", "v"), b("XADD", "s", "MAXLEN", "=", "2", id2, "f", "v")]
    assert_time_in(id1.split(b"-")[0], lo, hi)
    r.execute_command("XADD", "t", "5-*", "f", "v")
    r.execute_command("XADD", "t", "5-*", "f", "v")
    r.execute_command("XADD", "t", "6", "f", "v")
    r.execute_command("XADD", "t", "0007-3", "f", "v")
    r.execute_command("XADD", "t", "maxlen", "=", "3", "8-1", "f", "v")
    r.execute_command("XADD", "t", "MINID", "~", "0", "9-*", "f", "v")
    r.execute_command("XADD", "t", "NOMKSTREAM", "MAXLEN", "~", "2", "LIMIT", "10", "10-1", "f", "v")
    r.execute_command("XADD", "none", "NOMKSTREAM", "*", "f", "v")
    assert log.new() == [b("XADD", "t", "5-0", "f", "v"), b("XADD", "t", "5-1", "f", "v"),
                         b("XADD", "t", "6", "f", "v"), b("XADD", "t", "0007-3", "f", "v"),
                         b("XADD", "t", "maxlen", "=", "3", "8-1", "f", "v"),
                         b("XADD", "t", "MINID", "=", "6-0", "9-0", "f", "v"),
                         b("XADD", "t", "NOMKSTREAM", "MAXLEN", "=", "5", "LIMIT", "10", "10-1",
                           "f", "v")]
    for i in range(1, 121):
        r.execute_command("XADD", "big", i, "f", "v")
    log.new()
    assert r.execute_command("XTRIM", "big", "MAXLEN", "~", "10") == 100
    assert r.execute_command("XTRIM", "big", "MINID", "~", "110") == 0
    assert r.execute_command("XTRIM", "big", "MAXLEN", "18") == 2
    assert log.new() == [b("XTRIM", "big", "MAXLEN", "=", "20"), b("XTRIM", "big", "MAXLEN", "18")]
    assert r.execute_command("XTRIM", "big", "minid", "~", "1000") == 18
    assert log.new() == [b("XTRIM", "big", "minid", "=",
                           "18446744073709551615-18446744073709551615")]
    assert_restored(server_factory, srv, r)


def test_group_commands_replay_as_sent(server_factory):
    srv, r, log = start(server_factory)
    for i in (1, 2, 3):
        r.execute_command("XADD", "x", "%d-1" % i, "a", i)
    log.new()
    cmds = [("XGROUP", "CREATE", "x", "g", "$"), ("XGROUP", "CREATE", "x", "g2", "0"),
            ("XGROUP", "CREATE", "x", "g3", "1-1", "ENTRIESREAD", "1"),
            ("XGROUP", "CREATE", "nx", "g", "$", "MKSTREAM"), ("XGROUP", "SETID", "x", "g", "0"),
            ("XGROUP", "SETID", "x", "g", "$"),
            ("XGROUP", "SETID", "x", "g", "1-1", "ENTRIESREAD", "1"),
            ("XGROUP", "CREATECONSUMER", "x", "g", "c1"), ("XGROUP", "DELCONSUMER", "x", "g", "c1"),
            ("XGROUP", "DESTROY", "x", "g3"), ("XSETID", "x", "5-5"),
            ("XSETID", "x", "6-6", "ENTRIESADDED", "10", "MAXDELETEDID", "2-0")]
    for c in cmds:
        r.execute_command(*c)
    r.execute_command("XGROUP", "CREATECONSUMER", "x", "g", "c2")
    r.execute_command("XGROUP", "CREATECONSUMER", "x", "g", "c2")  # exists: nothing
    assert log.new() == [b(*c) for c in cmds] + [b("XGROUP", "CREATECONSUMER", "x", "g", "c2")]
    assert_restored(server_factory, srv, r)


def xclaim(key, group, consumer, id_, ms, count, last):
    return b("XCLAIM", key, group, consumer, "0", id_, "TIME", ms, "RETRYCOUNT", count, "FORCE",
             "JUSTID", "LASTID", last)


def test_xreadgroup_records_claims_and_group_position(server_factory):
    srv, r, log = start(server_factory)
    for i in (1, 2, 3):
        r.execute_command("XADD", "x", "%d-1" % i, "a", i)
    r.execute_command("XGROUP", "CREATE", "x", "g", "0")
    log.new()
    lo = now_ms()
    r.execute_command("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "x", ">")
    hi = now_ms()
    got = log.new()
    t = got[1][7]
    assert_time_in(t, lo, hi)
    assert got == [[b"MULTI"], xclaim("x", "g", "alice", "1-1", t, 1, "1-1"),
                   xclaim("x", "g", "alice", "2-1", t, 1, "2-1"),
                   b("XGROUP", "SETID", "x", "g", "2-1", "ENTRIESREAD", "2"), [b"EXEC"]]
    time.sleep(0.01)
    # History: the new delivery count and time (Redis 7.0 records nothing).
    r.execute_command("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "x", "0")
    got = log.new()
    t2 = got[1][7]
    assert int(t2) > int(t)
    assert got == [[b"MULTI"], xclaim("x", "g", "alice", "1-1", t2, 2, "2-1"),
                   xclaim("x", "g", "alice", "2-1", t2, 2, "2-1"), [b"EXEC"]]
    # NOACK by a new consumer: the consumer and the group position only.
    r.execute_command("XREADGROUP", "GROUP", "g", "bob", "NOACK", "STREAMS", "x", ">")
    assert log.new() == [[b"MULTI"], b("XGROUP", "CREATECONSUMER", "x", "g", "bob"),
                         b("XGROUP", "SETID", "x", "g", "3-1", "ENTRIESREAD", "3"), [b"EXEC"]]
    # Nothing new, an existing consumer: nothing; a new one: the consumer.
    r.execute_command("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "x", ">")
    assert log.new() == []
    r.execute_command("XREADGROUP", "GROUP", "g", "carol", "STREAMS", "x", ">")
    assert log.new() == [b("XGROUP", "CREATECONSUMER", "x", "g", "carol")]
    # Two streams in one command: one transaction.
    r.execute_command("XADD", "x", "4-1", "a", "4")
    r.execute_command("XADD", "y", "1-1", "a", "1")
    r.execute_command("XGROUP", "CREATE", "y", "g", "0")
    log.new()
    r.execute_command("XREADGROUP", "GROUP", "g", "carol", "STREAMS", "x", "y", ">", ">")
    got = log.new()
    t3 = got[1][7]
    assert got == [[b"MULTI"], xclaim("x", "g", "carol", "4-1", t3, 1, "4-1"),
                   b("XGROUP", "SETID", "x", "g", "4-1", "ENTRIESREAD", "4"),
                   xclaim("y", "g", "carol", "1-1", t3, 1, "1-1"),
                   b("XGROUP", "SETID", "y", "g", "1-1", "ENTRIESREAD", "1"), [b"EXEC"]]
    assert_restored(server_factory, srv, r)


def test_blocked_xreadgroup_records_when_served(server_factory):
    srv, r, log = start(server_factory)
    r.execute_command("XGROUP", "CREATE", "x", "g", "$", "MKSTREAM")
    r.execute_command("XGROUP", "CREATECONSUMER", "x", "g", "c")
    log.new()
    t = in_thread(srv.port, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "x", ">")
    wait_blocked(r)
    lo = now_ms()
    r.execute_command("XADD", "x", "1-1", "f", "v")
    hi = now_ms()
    t.join(5)
    assert "reply" in t.box
    got = log.new()
    ms = got[2][7]
    assert_time_in(ms, lo, hi)
    assert got == [b("XADD", "x", "1-1", "f", "v"), [b"MULTI"], xclaim("x", "g", "c", "1-1", ms, 1, "1-1"),
                   b("XGROUP", "SETID", "x", "g", "1-1", "ENTRIESREAD", "1"), [b"EXEC"]]
    assert_restored(server_factory, srv, r)


def test_xclaim_records_each_claim(server_factory):
    srv, r, log = start(server_factory)
    for i in (1, 2, 3, 4):
        r.execute_command("XADD", "x", "%d-1" % i, "a", i)
    r.execute_command("XGROUP", "CREATE", "x", "g", "0")
    r.execute_command("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "x", ">")
    log.new()
    lo = now_ms()
    r.execute_command("XCLAIM", "x", "g", "zed", "0", "1-1")
    hi = now_ms()
    (c,) = log.new()
    assert_time_in(c[7], lo, hi)
    assert c == xclaim("x", "g", "zed", "1-1", c[7], 2, "3-1")
    r.execute_command("XCLAIM", "x", "g", "zed", "0", "1-1", "2-1", "JUSTID", "TIME", "1000")
    assert log.new() == [[b"MULTI"], xclaim("x", "g", "zed", "1-1", 1000, 2, "3-1"),
                         xclaim("x", "g", "zed", "2-1", 1000, 1, "3-1"), [b"EXEC"]]
    r.execute_command("XCLAIM", "x", "g", "zed", "0", "1-1", "RETRYCOUNT", "7", "TIME", "2000")
    assert log.new() == [xclaim("x", "g", "zed", "1-1", 2000, 7, "3-1")]
    r.execute_command("XCLAIM", "x", "g", "zed", "0", "4-1", "9-1", "FORCE", "TIME", "3000")
    assert log.new() == [xclaim("x", "g", "zed", "4-1", 3000, 2, "3-1")]
    # An entry gone from the stream: its state before the drop.
    r.execute_command("XDEL", "x", "2-1")
    log.new()
    r.execute_command("XCLAIM", "x", "g", "yan", "0", "2-1", "3-1", "TIME", "4000")
    assert log.new() == [[b"MULTI"], xclaim("x", "g", "zed", "2-1", 1000, 1, "3-1"),
                         xclaim("x", "g", "yan", "3-1", 4000, 2, "3-1"), [b"EXEC"]]
    # LASTID moves the group: XGROUP SETID with its entries-read.
    r.execute_command("XCLAIM", "x", "g", "yan", "0", "3-1", "TIME", "5000", "LASTID", "100-1")
    assert log.new() == [[b"MULTI"], xclaim("x", "g", "yan", "3-1", 5000, 3, "100-1"),
                         b("XGROUP", "SETID", "x", "g", "100-1", "ENTRIESREAD", "3"), [b"EXEC"]]
    # Nothing claimed: only a consumer it created.
    r.execute_command("XCLAIM", "x", "g", "newc", "99999999999999", "1-1")
    assert log.new() == [b("XGROUP", "CREATECONSUMER", "x", "g", "newc")]
    r.execute_command("XCLAIM", "x", "g", "newc", "99999999999999", "1-1")
    assert log.new() == []
    assert_restored(server_factory, srv, r)


def test_xautoclaim_records_claims_and_drops_in_pel_order(server_factory):
    srv, r, log = start(server_factory)
    for i in (1, 2, 3, 4):
        r.execute_command("XADD", "x", "%d-1" % i, "a", i)
    r.execute_command("XGROUP", "CREATE", "x", "g", "0")
    r.execute_command("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "x", ">")
    r.execute_command("XCLAIM", "x", "g", "alice", "0", "1-1", "2-1", "3-1", "4-1", "TIME", "1000",
                      "RETRYCOUNT", "5", "JUSTID")
    r.execute_command("XDEL", "x", "2-1")
    log.new()
    lo = now_ms()
    reply = r.execute_command("XAUTOCLAIM", "x", "g", "bob", "0", "0", "COUNT", "3")
    hi = now_ms()
    assert reply[2] == [b"2-1"]
    got = log.new()
    t = got[1][7]
    assert_time_in(t, lo, hi)
    assert got == [[b"MULTI"], xclaim("x", "g", "bob", "1-1", t, 6, "4-1"),
                   xclaim("x", "g", "alice", "2-1", 1000, 5, "4-1"),
                   xclaim("x", "g", "bob", "3-1", t, 6, "4-1"), [b"EXEC"]]
    r.execute_command("XAUTOCLAIM", "x", "g", "carol", "99999999999999", "0", "JUSTID")
    assert log.new() == [b("XGROUP", "CREATECONSUMER", "x", "g", "carol")]
    r.execute_command("XAUTOCLAIM", "x", "g", "carol", "0", "4-1", "JUSTID")
    assert log.new() == [xclaim("x", "g", "carol", "4-1", log_time_of(r, "x", "g", "4-1"), 5,
                                "4-1")]
    r.execute_command("XAUTOCLAIM", "x", "g", "carol", "0", "5-0")
    assert log.new() == []
    assert_restored(server_factory, srv, r)


def log_time_of(r, key, group, id_):
    """Delivery time of pending entry id_ (from XINFO STREAM FULL)."""
    full = r.execute_command("XINFO", "STREAM", key, "FULL")
    groups = full[full.index(b"groups") + 1]
    for g in groups:
        if g[g.index(b"name") + 1] == group.encode():
            for p in g[g.index(b"pending") + 1]:
                if p[0] == id_.encode():
                    return p[2]
    raise AssertionError("not pending")


def test_read_commands_record_nothing(server_factory):
    srv, r, log = start(server_factory)
    r.execute_command("XADD", "x", "1-1", "a", "1")
    r.execute_command("XGROUP", "CREATE", "x", "g", "0")
    r.execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x", ">")
    r.set("s", "v")
    r.rpush("l", "a")
    log.new()
    for c in [("XRANGE", "x", "-", "+"), ("XREVRANGE", "x", "+", "-"), ("XLEN", "x"),
              ("XREAD", "STREAMS", "x", "0"), ("XPENDING", "x", "g"),
              ("XPENDING", "x", "g", "-", "+", "10"), ("XINFO", "STREAM", "x"),
              ("XINFO", "STREAM", "x", "FULL"), ("XINFO", "GROUPS", "x"),
              ("XINFO", "CONSUMERS", "x", "g"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x", ">"),
              ("GET", "s"), ("GETEX", "s"), ("MGET", "s", "l"), ("STRLEN", "s"), ("LRANGE", "l", "0", "-1"),
              ("LPOS", "l", "a"), ("EXISTS", "s"), ("TYPE", "l"), ("PTTL", "s"), ("OBJECT", "ENCODING", "s"),
              ("XACK", "x", "g", "9-9"), ("XDEL", "x", "9-9"), ("XTRIM", "x", "MAXLEN", "~", "5"),
              ("XCLAIM", "x", "g", "c", "99999999999999", "1-1"), ("LREM", "l", "0", "zz")]:
        r.execute_command(*c)
    assert log.new() == []


def test_replay_after_ttl_passed_does_not_resurrect_keys(server_factory):
    srv, r, log = start(server_factory)
    r.execute_command("SET", "k", "5", "PX", "1000")
    r.execute_command("INCR", "k")
    r.execute_command("RPUSH", "l", "a")
    r.execute_command("PEXPIRE", "l", "1000")
    r.execute_command("RPUSH", "l", "b")
    srv.kill()
    time.sleep(1.2)
    srv2, r2 = restart(server_factory, srv)
    got = (r2.execute_command("GET", "k"), r2.execute_command("EXISTS", "l"))
    r2.close()
    assert srv2.stop() == 0
    assert got == (None, 0)
