"""The WebSocket gateway (protocols/ws) with a real WebSocket client.

Client: python3-websockets (Debian). Side channel: redis-py on the RESP
port, and redis-cli where the issue asks for it (XADD, XPENDING).

Covers: JSON commands, replies and errors with the documented type
mapping; SUBSCRIBE/PSUBSCRIBE pushes; a live tail while redis-cli XADDs
(history first from an ID, nothing missed from "$", untail); a consumer
group with credit and acks that XPENDING agrees with, entries left pending
when the tab closes; NOAUTH before AUTH and tails inheriting the AUTH; the
1009 close over ws-max-message-size; the 1008 close over the pubsub
output limit; the resp3 subprotocol byte for byte; /metrics checked by a
strict Prometheus text-format parser; /healthz; the dashboard files;
origin refusal; 1001 to every session on shutdown.
"""

import asyncio
import base64
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import time

import pytest
import redis

import runnel

websockets = pytest.importorskip("websockets")

REDIS_CLI = "redis-cli"
DASHBOARD = os.path.join(os.path.dirname(__file__), "..", "..", "protocols", "ws", "dashboard")


def ws_server(server_factory, *extra):
    port = runnel.free_port()
    srv = server_factory(args=["--ws-port", str(port)] + list(extra))
    srv.ws_port = port
    srv.ws_url = "ws://127.0.0.1:%d/ws" % port
    # The RESP port listens first; the gateway starts right after it.
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return srv
        except OSError:
            assert time.monotonic() < deadline, "ws-port %d never listened\n%s" % (
                port, srv.output())
            time.sleep(0.02)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def cli(srv, *args):
    out = subprocess.run([REDIS_CLI, "-p", str(srv.port)] + list(args), check=True,
                         capture_output=True, timeout=10)
    return out.stdout.decode()


def http_get(srv, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.ws_port, timeout=10)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), body


class Session:
    """One JSON WebSocket session: call() waits for the reply to its id,
    keeping pushes (and replies to other ids) for push()."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.inbox = []

    async def send(self, obj):
        await self.ws.send(json.dumps(obj))

    async def recv(self, timeout=5):
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def call(self, *cmd):
        return await self.request({"cmd": list(cmd)})

    async def request(self, obj):
        self.next_id += 1
        rid = self.next_id
        await self.send(dict(obj, id=rid))
        while True:
            m = await self.recv()
            if m.get("id") == rid and "push" not in m:
                return m
            self.inbox.append(m)

    async def push(self, timeout=5):
        if self.inbox:
            return self.inbox.pop(0)
        return await self.recv(timeout)

    async def no_message(self, wait=0.4):
        assert not self.inbox, self.inbox
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(self.ws.recv(), wait)


def connect(srv, **kw):
    return websockets.connect(srv.ws_url, **kw)


def close_code(exc):
    rcvd = getattr(exc, "rcvd", None)
    return rcvd.code if rcvd is not None else exc.code


# -- commands and the JSON mapping -------------------------------------------

def test_ws_commands_replies_and_errors(server_factory):
    srv = ws_server(server_factory)

    async def go():
        async with connect(srv, subprotocols=["runnel.json"]) as ws:
            assert ws.subprotocol == "runnel.json"
            # permessage-deflate is offered by the client and accepted.
            assert [e.name for e in ws.extensions] == ["permessage-deflate"]
            s = Session(ws)
            assert await s.call("SET", "k", "v") == {"id": 1, "result": "OK"}
            assert await s.call("GET", "k") == {"id": 2, "result": "v"}
            assert await s.call("GET", "missing") == {"id": 3, "result": None}
            assert await s.call("HSET", "h", "a", 1, "b", "2") == {"id": 4, "result": 2}
            assert await s.call("HGETALL", "h") == {"id": 5, "result": {"a": "1", "b": "2"}}
            assert await s.call("SADD", "set", "x") == {"id": 6, "result": 1}
            assert await s.call("SMEMBERS", "set") == {"id": 7, "result": ["x"]}
            assert await s.call("INCRBY", "n", "9007199254740993") == \
                {"id": 8, "result": "9007199254740993"}
            assert await s.call("INCRBY", "m", 9007199254740991) == \
                {"id": 9, "result": 9007199254740991}
            r = await s.call("ZADD", "z", "1.5", "a")
            assert r == {"id": 10, "result": 1}
            assert await s.call("ZSCORE", "z", "a") == {"id": 11, "result": 1.5}
            # Binary values: base64 both ways.
            raw = b"\xff\x00\xfe"
            arg = {"base64": base64.b64encode(raw).decode()}
            assert await s.call("SET", "bin", arg) == {"id": 12, "result": "OK"}
            assert await s.call("GET", "bin") == {"id": 13, "result": arg}
            assert redis.Redis(port=srv.port).get("bin") == raw
            assert await s.call("STRLEN", "bin") == {"id": 14, "result": 3}
            # Errors keep Redis's text.
            assert await s.call("GET") == \
                {"id": 15, "error": "ERR wrong number of arguments for 'get' command"}
            assert await s.call("LPUSH", "k", "x") == {
                "id": 16,
                "error": "WRONGTYPE Operation against a key holding the wrong kind of value"}
            # Malformed requests are answered, the session goes on.
            await s.send({"id": 17, "cmd": []})
            m = await s.recv()
            assert m["id"] == 17 and m["error"].startswith("ERR 'cmd' must be")
            await ws.send("{not json")
            m = await s.recv()
            assert m["error"].startswith("ERR invalid JSON") and "id" not in m
            await s.send({"id": 18, "nope": 1})
            m = await s.recv()
            assert m == {"id": 18,
                         "error": "ERR a request has exactly one of cmd, tail, untail, "
                                  "consume, ack"}
            await s.send({"id": "str-id", "cmd": ["PING"]})
            assert await s.recv() == {"id": "str-id", "result": "PONG"}
            info = (await s.call("INFO", "ws"))["result"]
            assert "# Ws\r\n" in info and "ws_connections:1\r\n" in info
            assert "ws_port:%d\r\n" % srv.ws_port in info

    run(go())


def test_ws_subscribe_pushes(server_factory):
    srv = ws_server(server_factory)
    r = redis.Redis(port=srv.port)

    async def go():
        async with connect(srv) as ws:
            s = Session(ws)
            assert await s.call("SUBSCRIBE", "news") == \
                {"id": 1, "result": ["subscribe", "news", 1]}
            assert await s.call("PSUBSCRIBE", "n*") == \
                {"id": 2, "result": ["psubscribe", "n*", 2]}
            assert r.publish("news", "hello") == 2
            got = [await s.push(), await s.push()]
            assert {"push": "message", "channel": "news", "data": "hello"} in got
            assert {"push": "pmessage", "pattern": "n*", "channel": "news",
                    "data": "hello"} in got
            # Commands still work on a subscribed RESP3 session.
            assert await s.call("PING") == {"id": 3, "result": "PONG"}

    run(go())


# -- live tails ----------------------------------------------------------------

def test_ws_tail_while_redis_cli_xadds(server_factory):
    srv = ws_server(server_factory)
    old = cli(srv, "XADD", "orders", "1-1", "sku", "1").strip()
    assert old == "1-1"

    async def go():
        async with connect(srv) as ws:
            s = Session(ws)
            assert await s.request({"tail": {"stream": "orders", "from": "$"}}) == \
                {"id": 1, "result": "OK"}
            ids = [cli(srv, "XADD", "orders", "*", "sku", str(i), "qty", "1").strip()
                   for i in range(3)]
            for i, eid in enumerate(ids):
                assert await s.push() == {"push": "entry", "stream": "orders",
                                          "entry": {"id": eid,
                                                    "fields": {"sku": str(i), "qty": "1"}}}
            await s.no_message()
            # A second tail from an ID gets the history first.
            async with connect(srv) as ws2:
                s2 = Session(ws2)
                assert (await s2.request({"tail": {"stream": "orders", "from": "0"}}))["result"] \
                    == "OK"
                got = [(await s2.push())["entry"]["id"] for _ in range(4)]
                assert got == ["1-1"] + ids
            assert await s.request({"untail": {"stream": "orders"}}) == {"id": 2, "result": 1}
            cli(srv, "XADD", "orders", "*", "sku", "late")
            await s.no_message()
            assert await s.request({"untail": {"stream": "orders"}}) == {"id": 3, "result": 0}
            # Tailing a key of another type fails with the core's error.
            cli(srv, "SET", "str", "x")
            m = await s.request({"tail": {"stream": "str", "from": "0"}})
            assert m == {"id": 4, "result": "OK"}
            assert await s.push() == {"id": 4, "error": "WRONGTYPE Operation against a key "
                                                        "holding the wrong kind of value"}

    run(go())


def test_ws_tail_history_while_appending_misses_nothing(server_factory):
    srv = ws_server(server_factory)
    r = redis.Redis(port=srv.port)
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.xadd("hist", {"i": i})
    pipe.execute()

    async def go():
        async with connect(srv) as ws:
            s = Session(ws)
            # History is read 50 at a time while 300 more entries arrive.
            assert await s.request({"tail": {"stream": "hist", "from": "0", "count": 50}}) == \
                {"id": 1, "result": "OK"}
            loop = asyncio.get_running_loop()
            adder = loop.run_in_executor(None, lambda: [r.xadd("hist", {"i": "late%d" % i})
                                                        for i in range(300)])
            got = [(await s.push(timeout=20))["entry"]["id"] for _ in range(3300)]
            await adder
            want = [e[0].decode() for e in r.xrange("hist")]
            assert got == want
            await s.no_message()

    run(go())


def test_ws_tail_slow_reader_catches_up_in_order(server_factory):
    srv = ws_server(server_factory)
    r = redis.Redis(port=srv.port)

    async def go():
        async with connect(srv, max_queue=1, read_limit=2048, compression=None) as ws:
            s = Session(ws)
            assert await s.request({"tail": {"stream": "big", "from": "$"}}) == \
                {"id": 1, "result": "OK"}
            # 8 MB while the client reads nothing: the gateway's queue passes
            # its 1 MB mark and the tail falls back to reading history.
            pipe = r.pipeline(transaction=False)
            for i in range(2000):
                pipe.xadd("big", {"i": i, "pad": "x" * 4096})
            pipe.execute()
            got = []
            for _ in range(2000):
                m = await s.push(timeout=20)
                got.append(m["entry"]["id"])
            assert got == [e[0].decode() for e in r.xrange("big")]
            await s.no_message()
            info = (await s.call("INFO", "ws"))["result"]
            assert int(re.search(r"ws_tail_catchups:(\d+)", info).group(1)) >= 1

    run(go())


# -- consumer groups -------------------------------------------------------------

def pending(srv, stream, group):
    out = cli(srv, "XPENDING", stream, group).split("\n")
    return int(out[0])


def test_ws_consume_with_credit_and_ack(server_factory):
    srv = ws_server(server_factory)
    cli(srv, "XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM")
    ids = [cli(srv, "XADD", "jobs", "*", "n", str(i)).strip() for i in range(5)]

    async def go():
        async with connect(srv) as ws:
            s = Session(ws)
            assert await s.request({"consume": {"stream": "jobs", "group": "g",
                                                "consumer": "tab-1", "count": 2}}) == \
                {"id": 1, "result": "OK"}
            first = [await s.push() for _ in range(2)]
            assert [m["entry"]["id"] for m in first] == ids[:2]
            assert first[0] == {"push": "entry", "stream": "jobs", "group": "g",
                                "consumer": "tab-1",
                                "entry": {"id": ids[0], "fields": {"n": "0"}}}
            await s.no_message()  # no credit left
            assert pending(srv, "jobs", "g") == 2
            out = cli(srv, "XPENDING", "jobs", "g", "-", "+", "10", "tab-1")
            assert ids[0] in out and ids[1] in out and ids[2] not in out
            assert await s.request({"ack": {"stream": "jobs", "group": "g",
                                            "ids": ids[:2]}}) == {"id": 2, "result": 2}
            nxt = [await s.push() for _ in range(2)]
            assert [m["entry"]["id"] for m in nxt] == ids[2:4]
            assert pending(srv, "jobs", "g") == 2
            assert await s.request({"ack": {"stream": "jobs", "group": "g",
                                            "ids": [ids[2]]}}) == {"id": 3, "result": 1}
            assert (await s.push())["entry"]["id"] == ids[4]
            # New entries flow while there is credit.
            late = cli(srv, "XADD", "jobs", "*", "n", "late").strip()
            await s.no_message()  # credit 0 again: 3 and 4 unacked
            assert pending(srv, "jobs", "g") == 2
            await s.request({"ack": {"stream": "jobs", "group": "g", "ids": [ids[3]]}})
            assert (await s.push())["entry"]["id"] == late
            # Unknown group: the consume request fails.
            m = await s.request({"consume": {"stream": "jobs", "group": "nog",
                                             "consumer": "c"}})
            assert m["result"] == "OK"
            err = await s.push()
            assert err["id"] == m["id"] and err["error"].startswith("NOGROUP")
        # The tab closed: its entries stay pending, claimable as usual.
        assert pending(srv, "jobs", "g") == 2
        out = cli(srv, "XAUTOCLAIM", "jobs", "g", "other", "0", "0")
        assert ids[4] in out and late in out

    run(go())


# -- auth ------------------------------------------------------------------------

def test_ws_refused_before_auth(server_factory):
    srv = ws_server(server_factory, "--requirepass", "s3cret")
    r = redis.Redis(port=srv.port, password="s3cret")

    async def go():
        async with connect(srv) as ws:
            s = Session(ws)
            assert await s.call("GET", "k") == \
                {"id": 1, "error": "NOAUTH Authentication required."}
            m = await s.request({"tail": {"stream": "s", "from": "0"}})
            assert m == {"id": 2, "result": "OK"}
            assert await s.push() == {"id": 2, "error": "NOAUTH Authentication required."}
            assert (await s.call("AUTH", "wrong"))["error"].startswith("WRONGPASS")
            assert await s.call("AUTH", "s3cret") == {"id": 4, "result": "OK"}
            assert await s.call("GET", "k") == {"id": 5, "result": None}
            # Tails opened after AUTH inherit it.
            assert await s.request({"tail": {"stream": "s", "from": "$"}}) == \
                {"id": 6, "result": "OK"}
            eid = r.xadd("s", {"f": "v"}).decode()
            assert await s.push() == {"push": "entry", "stream": "s",
                                      "entry": {"id": eid, "fields": {"f": "v"}}}
        async with connect(srv) as ws:
            s = Session(ws)
            m = await s.call("HELLO", "3", "AUTH", "default", "s3cret")
            assert m["result"]["proto"] == 3
            assert await s.call("PING") == {"id": 2, "result": "PONG"}

    run(go())


# -- limits ----------------------------------------------------------------------

def test_ws_closed_over_message_limit(server_factory):
    srv = ws_server(server_factory, "--ws-max-message-size", "4096")

    async def go():
        async with connect(srv) as ws:
            s = Session(ws)
            big = "x" * 3000
            assert await s.call("SET", "k", big) == {"id": 1, "result": "OK"}
            await s.send({"id": 2, "cmd": ["SET", "k", "y" * 5000]})
            with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
                await s.recv()
            assert close_code(e.value) == 1009
        assert redis.Redis(port=srv.port).get("k") == b"x" * 3000

    run(go())


def test_ws_closed_over_pubsub_output_limit(server_factory):
    srv = ws_server(server_factory, "--client-output-buffer-limit", "pubsub 256kb 0 0")
    r = redis.Redis(port=srv.port)

    async def go():
        async with connect(srv, max_queue=1, read_limit=4096) as ws:
            s = Session(ws)
            assert (await s.call("SUBSCRIBE", "flood"))["result"] == ["subscribe", "flood", 1]
            payload = "p" * 65536
            for _ in range(400):
                r.publish("flood", payload)
            with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
                while True:
                    await s.recv(timeout=10)
            assert close_code(e.value) == 1008
        assert "closed for overcoming of output buffer limits" in srv.output()

    run(go())


# -- resp3 subprotocol -----------------------------------------------------------

def test_ws_resp3_subprotocol_round_trip(server_factory):
    srv = ws_server(server_factory)
    r = redis.Redis(port=srv.port)

    async def go():
        async with connect(srv, subprotocols=["resp3"]) as ws:
            assert ws.subprotocol == "resp3"

            async def call(*args):
                await ws.send(runnel.encode_command(args))
                return await asyncio.wait_for(ws.recv(), 5)

            assert await call("PING") == b"+PONG\r\n"
            assert await call("HSET", "h", "f", "v") == b":1\r\n"
            assert await call("HGETALL", "h") == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
            assert await call("GET", "nokey") == b"_\r\n"
            assert await call("GETX") == \
                b"-ERR unknown command 'GETX', with args beginning with: \r\n"
            assert await call("SUBSCRIBE", "c") == b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"
            r.publish("c", "hi")
            assert await asyncio.wait_for(ws.recv(), 5) == \
                b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n"
            await ws.send(b"*1\r\n$4\r\nPI")
            assert (await asyncio.wait_for(ws.recv(), 5)).startswith(b"-ERR Protocol error")

    run(go())


# -- HTTP --------------------------------------------------------------------------

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (\S+)$" % (METRIC_NAME, LABEL, LABEL))
HELP = re.compile(r"^# HELP (%s) (.*)$" % METRIC_NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % METRIC_NAME)


def parse_prometheus(text):
    """Strict text-format (0.0.4) check: every line is HELP, TYPE or a
    sample; a family's TYPE comes before its samples and each family is
    contiguous; values are floats. Returns {(name, labels): value}."""
    assert text.endswith("\n")
    samples, typed, done, current = {}, {}, set(), None
    for line in text[:-1].split("\n"):
        m = HELP.match(line) or TYPE.match(line)
        if m:
            name = m.group(1)
            if name != current:
                assert name not in done, "family %s is split" % name
                if current:
                    done.add(current)
                current = name
            if line.startswith("# TYPE"):
                assert name not in typed, "second TYPE for %s" % name
                typed[name] = m.group(2)
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name = m.group(1)
        assert name == current and name in typed, "sample %s outside its family" % name
        value = float(m.group(3))
        assert not math.isnan(value)
        labels = tuple(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                  m.group(2) or ""))
        assert (name, labels) not in samples, "duplicate sample %s" % line
        samples[(name, labels)] = value
    return samples


def test_ws_metrics_prometheus_format(server_factory):
    srv = ws_server(server_factory)
    r = redis.Redis(port=srv.port)
    for i in range(7):
        r.xadd("orders", {"i": i})
    r.xgroup_create("orders", "billing", id="0")
    r.xreadgroup("billing", "c1", {"orders": ">"}, count=3)
    r.xadd('we"ird\\key', {"a": 1})
    r.set("plain", 1)
    status, ctype, body = http_get(srv, "/metrics")
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4")
    m = parse_prometheus(body.decode())
    assert m[("runnel_up", ())] == 1
    assert m[("runnel_keys", (("db", "0"),))] == 3
    st = (("stream", "orders"),)
    sg = (("stream", "orders"), ("group", "billing"))
    assert m[("runnel_stream_length", st)] == 7
    assert m[("runnel_stream_entries_added_total", st)] == 7
    assert m[("runnel_stream_groups", st)] == 1
    assert m[("runnel_stream_group_pending", sg)] == 3
    assert m[("runnel_stream_group_lag", sg)] == 4
    assert m[("runnel_stream_group_consumers", sg)] == 1
    assert 0 <= m[("runnel_stream_group_oldest_pending_age_seconds", sg)] < 60
    assert m[("runnel_stream_length", (("stream", 'we\\"ird\\\\key'),))] == 1
    assert m[("runnel_command_calls_total", (("command", "xadd"),))] == 8
    assert ("runnel_ws_connections", ()) in m


def test_ws_healthz_and_dashboard(server_factory):
    srv = ws_server(server_factory)
    assert http_get(srv, "/healthz") == (200, "text/plain; charset=utf-8", b"ok\n")
    status, _, _ = http_get(srv, "/no-such-file")
    assert status == 404
    index = os.path.join(DASHBOARD, "index.html")
    if os.path.exists(index):
        status, ctype, body = http_get(srv, "/")
        assert (status, ctype) == (200, "text/html; charset=utf-8")
        with open(index, "rb") as f:
            assert body == f.read()
        for name, ctype in (("app.js", "text/javascript; charset=utf-8"),
                            ("style.css", "text/css; charset=utf-8")):
            path = os.path.join(DASHBOARD, name)
            if os.path.exists(path):
                status, got, body = http_get(srv, "/" + name)
                with open(path, "rb") as f:
                    assert (status, got, body) == (200, ctype, f.read())


def test_ws_origin_checked_on_handshake(server_factory):
    srv = ws_server(server_factory)
    other = ws_server(server_factory, "--ws-allowed-origins", "http://good.example *.x")

    async def go():
        host = "http://127.0.0.1:%d" % srv.ws_port
        async with connect(srv, origin=host) as ws:
            assert await Session(ws).call("PING") == {"id": 1, "result": "PONG"}
        with pytest.raises((websockets.exceptions.InvalidHandshake,
                            websockets.exceptions.ConnectionClosed, OSError)):
            async with connect(srv, origin="http://evil.example") as ws:
                await ws.recv()
        async with connect(other, origin="http://good.example") as ws:
            assert await Session(ws).call("PING") == {"id": 1, "result": "PONG"}
        with pytest.raises((websockets.exceptions.InvalidHandshake,
                            websockets.exceptions.ConnectionClosed, OSError)):
            async with connect(other, origin="http://127.0.0.1:%d" % other.ws_port) as ws:
                await ws.recv()
        # Only /ws upgrades.
        with pytest.raises((websockets.exceptions.InvalidHandshake,
                            websockets.exceptions.ConnectionClosed, OSError)):
            async with websockets.connect("ws://127.0.0.1:%d/other" % srv.ws_port) as ws:
                await ws.recv()

    run(go())


def test_ws_shutdown_closes_with_1001(server_factory):
    srv = ws_server(server_factory)

    async def go():
        async with connect(srv) as a, connect(srv, subprotocols=["resp3"]) as b:
            s = Session(a)
            assert await s.request({"tail": {"stream": "s", "from": "$"}}) == \
                {"id": 1, "result": "OK"}
            assert await s.call("SUBSCRIBE", "c") == {"id": 2, "result": ["subscribe", "c", 1]}
            srv.proc.send_signal(signal.SIGTERM)
            for ws in (a, b):
                with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                assert close_code(e.value) == 1001

    run(go())
    assert srv.wait_exit() == 0
