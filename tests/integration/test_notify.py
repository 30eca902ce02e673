"""Keyspace notifications with real clients.

redis-py subscribers see set/del/expire events, "expired" from both lazy
and active expiry, "new" and "keymiss"; and a scripted run of the generic
and string commands publishes exactly the same event stream as the real
redis-server (the oracle) does, compared message by message.
"""

import shutil
import time

import pytest
import redis

import runnel

REDIS = shutil.which("redis-server")


def rclient(srv):
    return redis.Redis(host="127.0.0.1", port=srv.port)


def events(ps, quiet=0.3, limit=5.0):
    """(channel, data) of every message until `quiet` s pass without one."""
    out = []
    deadline = time.monotonic() + limit
    last = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last < quiet:
        m = ps.get_message(timeout=0.05)
        if m is None:
            continue
        last = time.monotonic()
        if m["type"] in ("message", "pmessage"):
            out.append((m["channel"], m["data"]))
    return out


def subscribed(r, flags):
    r.config_set("notify-keyspace-events", flags)
    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.psubscribe("__key*__:*")
    events(ps, quiet=0.1)
    return ps


def test_set_del_expire_events(server):
    r = rclient(server)
    ps = subscribed(r, "KEA")
    r.set("k", "v")
    r.expire("k", 100)
    r.delete("k")
    assert events(ps) == [
        (b"__keyspace@0__:k", b"set"), (b"__keyevent@0__:set", b"k"),
        (b"__keyspace@0__:k", b"expire"), (b"__keyevent@0__:expire", b"k"),
        (b"__keyspace@0__:k", b"del"), (b"__keyevent@0__:del", b"k"),
    ]
    ps.close()


def test_expired_by_active_expiry(server):
    r = rclient(server)
    ps = subscribed(r, "Ex")
    r.set("gone", "v", px=50)
    # Nobody reads the key: the active cycle reaps it and publishes.
    got = events(ps, quiet=1.0, limit=5.0)
    assert got == [(b"__keyevent@0__:expired", b"gone")]
    assert r.exists("gone") == 0
    ps.close()


def test_expired_then_keymiss_on_lazy_access(server):
    r = rclient(server)
    r.config_set("hz", "1")  # keep the active cycle out of the way
    ps = subscribed(r, "KExm")
    r.set("lazy", "v", px=1)
    time.sleep(0.01)
    assert r.get("lazy") is None
    assert events(ps) == [
        (b"__keyspace@0__:lazy", b"expired"), (b"__keyevent@0__:expired", b"lazy"),
        (b"__keyspace@0__:lazy", b"keymiss"), (b"__keyevent@0__:keymiss", b"lazy"),
    ]
    ps.close()


def test_new_event_and_other_database(server):
    r = rclient(server)
    ps = subscribed(r, "En")
    r1 = redis.Redis(host="127.0.0.1", port=server.port, db=5)
    r1.set("fresh", "1")
    r1.set("fresh", "2")
    r1.incr("counter")
    assert events(ps) == [(b"__keyevent@5__:new", b"fresh"),
                          (b"__keyevent@5__:new", b"counter")]
    ps.close()


def test_channel_subscriber_and_off_switch(server):
    r = rclient(server)
    r.config_set("notify-keyspace-events", "E$")
    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.subscribe("__keyevent@0__:incrby")
    events(ps, quiet=0.1)
    r.incr("n")
    r.set("s", "v")  # another event: not this channel
    assert events(ps) == [(b"__keyevent@0__:incrby", b"n")]
    r.config_set("notify-keyspace-events", "")
    r.incr("n")
    assert events(ps) == []
    ps.close()


# The commands of the oracle comparison: one per line, "sleep N" pauses N ms
# (long enough after short TTLs for both servers' active cycles to reap the
# keys before the next command, so the event order does not depend on when
# each cycle runs).
SCRIPT = """
set a 1
set a 2
set b v nx
set b v nx
set b w xx
set zz w xx
set c 1 ex 100
set c 1 px 100000 get
set c 2 keepttl
set nk v get
setnx e 1
setnx e 2
setex f 100 v
psetex g 100000 v
getset h 1
getset h 2
getdel h
getdel h
getex a ex 100
getex a persist
getex a persist
getex a pxat 1
getex nokey
get nokey
mget nokey a b
mset m1 1 m2 2
msetnx m3 1 m4 2
msetnx m3 1 m5 2
append ap x
append ap y
strlen nokey
setrange sr 5 x
setrange sr 0 y
setrange sr 0 ""
setrange nosr 0 ""
getrange nokey 0 1
incr i
incrby i 5
decr i
decrby i 2
incrbyfloat fl 1.5
lcs nokey nokey2
del a b nokey
unlink m1 m2
exists nokey m3
type nokey
ttl nokey
pttl nokey
touch nokey m3
object encoding nokey
rename m3 m3b
rename m3b m3b
renamenx m3b m4
renamenx m3b m6
set r1 x
set r2 y
rename r1 r2
move r2 1
move nokey 1
select 1
set r2 other
select 0
set r2 z
move r2 1
copy m6 m7
copy m6 m7
copy m6 m7 replace
copy m6 m8 db 2
expire m7 100
pexpire m7 100000
expireat m7 99999999999
expire m7 100 nx
expire m7 -1
expire nokey 100
set p 1 ex 100
persist p
persist p
set x 1 px 20
sleep 600
get x
set y 1 px 20
sleep 600
set y 2
flushall
"""


def run_script(port):
    """Run SCRIPT on one server; return (command, reply, events) for each
    command. The events published during a sleep (an active expiry) count
    with the command before it, which may or may not have seen them
    already."""
    sub = runnel.RawClient(port)
    w = runnel.RawClient(port)
    assert w.call("CONFIG", "SET", "notify-keyspace-events", "KEAnm") == b"+OK\r\n"
    w.call("FLUSHALL")
    sub.call("PSUBSCRIBE", "__key*__:*")
    out = []
    for line in SCRIPT.strip().split("\n"):
        args = runnel.split_args(line)
        if args[0] == b"sleep":
            time.sleep(int(args[1]) / 1000)
            got, _ = sub.read_available(quiet=0.05)
            out[-1] = (out[-1][0], out[-1][1], out[-1][2] + got)
            continue
        reply = w.call(*args)
        got, _ = sub.read_available(quiet=0.05)
        out.append((line, reply, got))
    sub.close()
    w.close()
    return out


@pytest.mark.skipif(REDIS is None, reason="redis-server (the oracle) not installed")
def test_same_events_as_redis(server):
    oracle = runnel.Server(REDIS, "redis").start()
    try:
        want = run_script(oracle.port)
    finally:
        oracle.stop()
        oracle.cleanup()
    got = run_script(server.port)
    assert len(got) == len(want)
    for (line, wr, wev), (_, gr, gev) in zip(want, got):
        assert (line, gr, gev) == (line, wr, wev)


def test_stream_events(server):
    r = rclient(server)
    ps = subscribed(r, "KEt")
    r.xadd("orders", {"sku": "42"}, id="1-0")
    r.xadd("orders", {"sku": "43"}, id="2-0", maxlen=1, approximate=False)
    r.xgroup_create("orders", "billing", id="0")
    assert events(ps) == [
        (b"__keyspace@0__:orders", b"xadd"), (b"__keyevent@0__:xadd", b"orders"),
        (b"__keyspace@0__:orders", b"xadd"), (b"__keyevent@0__:xadd", b"orders"),
        (b"__keyspace@0__:orders", b"xtrim"), (b"__keyevent@0__:xtrim", b"orders"),
        (b"__keyspace@0__:orders", b"xgroup-create"),
        (b"__keyevent@0__:xgroup-create", b"orders"),
    ]
    ps.close()
