"""Pub/sub with real clients: redis-py, redis-cli and raw sockets.

Covers SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE delivery (RESP2 and RESP3 pushes),
fan-out to 100 subscribers in order, UNSUBSCRIBE-all replies, cleanup on
disconnect, client-output-buffer-limit (a subscriber that stops reading is
closed once over the hard limit, or over the soft limit for longer than its
seconds, while the others keep receiving), CONFIG REWRITE of the limits,
and INFO / CLIENT LIST fields.
"""

import os
import shutil
import socket
import subprocess
import time

import pytest
import redis

import runnel

CLI = shutil.which("redis-cli")


def rclient(server, **kw):
    return redis.Redis(host="127.0.0.1", port=server.port, **kw)


def get_message(ps, timeout=5.0):
    """Next non-None message from a redis-py PubSub, within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=0.1)
        if m is not None:
            return m
    raise AssertionError("no message within %gs" % timeout)


def test_redispy_subscribe_and_psubscribe(server):
    r = rclient(server)
    ps = r.pubsub()
    ps.subscribe("news")
    assert get_message(ps) == {"type": "subscribe", "pattern": None, "channel": b"news",
                               "data": 1}
    ps.psubscribe("n*")
    assert get_message(ps) == {"type": "psubscribe", "pattern": None, "channel": b"n*",
                               "data": 2}
    assert r.publish("news", "hello") == 2
    assert get_message(ps) == {"type": "message", "pattern": None, "channel": b"news",
                               "data": b"hello"}
    assert get_message(ps) == {"type": "pmessage", "pattern": b"n*", "channel": b"news",
                               "data": b"hello"}
    assert r.publish("nope", "x") == 1
    assert get_message(ps)["channel"] == b"nope"
    assert r.pubsub_numsub("news") == [(b"news", 1)]
    assert r.pubsub_numpat() == 1
    assert r.pubsub_channels() == [b"news"]
    ps.unsubscribe("news")
    assert get_message(ps) == {"type": "unsubscribe", "pattern": None, "channel": b"news",
                               "data": 1}
    ps.punsubscribe()
    assert get_message(ps) == {"type": "punsubscribe", "pattern": None, "channel": b"n*",
                               "data": 0}
    assert r.publish("news", "x") == 0
    ps.close()


def test_redispy_handler_thread(server):
    r = rclient(server)
    ps = r.pubsub(ignore_subscribe_messages=True)
    got = []
    ps.subscribe(**{"ch": lambda m: got.append(m["data"])})
    thread = ps.run_in_thread(sleep_time=0.01)
    try:
        deadline = time.monotonic() + 5
        while r.pubsub_numsub("ch")[0][1] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        for i in range(50):
            r.publish("ch", str(i))
        while len(got) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        thread.stop()
        thread.join(5)
        ps.close()
    assert got == [str(i).encode() for i in range(50)]


@pytest.mark.skipif(CLI is None, reason="redis-cli not installed")
def test_redis_cli_subscribe(server):
    p = subprocess.Popen([CLI, "-p", str(server.port), "subscribe", "alerts", "more"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        r = rclient(server)
        deadline = time.monotonic() + 5
        while r.pubsub_numsub("more")[0][1] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert r.publish("alerts", "disk full") == 1
        assert r.publish("more", "x y") == 1
        lines = []
        while len(lines) < 12:
            line = p.stdout.readline()
            assert line, "redis-cli exited early: %r" % p.stderr.read()
            lines.append(line.decode().rstrip("\n"))
    finally:
        p.kill()
        p.wait()
    # redis-cli prints raw values when stdout is not a terminal.
    assert lines == ["subscribe", "alerts", "1", "subscribe", "more", "2",
                     "message", "alerts", "disk full", "message", "more", "x y"]


def test_hundred_subscribers_in_order(server):
    subs = [server.client() for _ in range(100)]
    for s in subs:
        s.send_command("SUBSCRIBE", "fan")
    for s in subs:
        assert s.read_reply() == b"*3\r\n$9\r\nsubscribe\r\n$3\r\nfan\r\n:1\r\n"
    pub = server.client()
    n = 1000
    pub.send(b"".join(runnel.encode_command([b"PUBLISH", b"fan", b"m%d" % i])
                      for i in range(n)))
    for i in range(n):
        assert pub.read_reply() == b":100\r\n"
    for s in subs:
        want = b"".join(b"*3\r\n$7\r\nmessage\r\n$3\r\nfan\r\n$%d\r\nm%d\r\n"
                        % (len(b"m%d" % i), i) for i in range(n))
        assert s.read_exact(len(want)) == want
    for s in subs:
        s.close()
    pub.close()


def test_large_message_fan_out(server):
    subs = [server.client() for _ in range(5)]
    for s in subs:
        s.call("SUBSCRIBE", "big")
    payload = os.urandom(1 << 20)
    pub = server.client()
    assert pub.call("PUBLISH", "big", payload) == b":5\r\n"
    want = b"*3\r\n$7\r\nmessage\r\n$3\r\nbig\r\n$%d\r\n%s\r\n" % (len(payload), payload)
    for s in subs:
        assert s.read_exact(len(want)) == want
        s.close()
    pub.close()


def test_resp3_push_and_commands_between(server):
    c = server.client()
    c.call("HELLO", "3")
    assert c.call("SUBSCRIBE", "c1") == b">3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n"
    assert c.call("SET", "k", "v") == b"+OK\r\n"
    assert c.call("PING") == b"+PONG\r\n"
    pub = server.client()
    assert pub.call("PUBLISH", "c1", "hi") == b":1\r\n"
    assert c.read_reply() == b">3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$2\r\nhi\r\n"
    # A message to itself comes before the PUBLISH reply.
    c.send_command("PUBLISH", "c1", "self")
    pushes, reply = c.read_non_push()
    assert pushes == [b">3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$4\r\nself\r\n"]
    assert reply == b":1\r\n"
    assert c.call("GET", "k") == b"$1\r\nv\r\n"
    c.close()
    pub.close()


def test_resp3_pattern_push(server):
    # redis-py 4.3 has no RESP3 parser: the pushes are read raw.
    c = server.client()
    assert c.call("HELLO", "3")[:1] == b"%"
    assert c.call("PSUBSCRIBE", "a*") == b">3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:1\r\n"
    rclient(server).publish("ab", "x")
    assert c.read_reply() == b">4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$2\r\nab\r\n$1\r\nx\r\n"
    c.close()


def test_unsubscribe_all_replies(server):
    c = server.client()
    c.call("SUBSCRIBE", "a")
    c.call("SUBSCRIBE", "b")
    c.call("PSUBSCRIBE", "p1")
    c.call("PSUBSCRIBE", "p2")
    c.send_command("UNSUBSCRIBE")
    first, second = c.read_reply(), c.read_reply()
    # One reply per channel (Redis picks them in hash order), the count
    # going down and still counting the patterns.
    assert first.endswith(b":3\r\n") and second.endswith(b":2\r\n")
    assert {first[:-4], second[:-4]} == {b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n",
                                         b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n"}
    c.send_command("PUNSUBSCRIBE")
    assert c.read_reply() == b"*3\r\n$12\r\npunsubscribe\r\n$2\r\np1\r\n:1\r\n"
    assert c.read_reply() == b"*3\r\n$12\r\npunsubscribe\r\n$2\r\np2\r\n:0\r\n"
    assert c.call("UNSUBSCRIBE") == b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    assert c.call("GET", "x") == b"$-1\r\n"
    c.close()


def test_disconnect_drops_subscriptions(server):
    r = rclient(server)
    c = server.client()
    c.call("SUBSCRIBE", "gone")
    c.call("PSUBSCRIBE", "g*")
    c.call("SSUBSCRIBE", "sg")
    c.close()
    deadline = time.monotonic() + 5
    while r.pubsub_numsub("gone")[0][1] != 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.pubsub_numsub("gone") == [(b"gone", 0)]
    assert r.pubsub_numpat() == 0
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "sg") == [b"sg", 0]
    assert r.publish("gone", "x") == 0
    info = r.info("stats")
    assert info["pubsub_channels"] == 0
    assert info["pubsub_patterns"] == 0
    assert info["pubsubshard_channels"] == 0


def test_info_and_client_list(server):
    r = rclient(server)
    c = server.client()
    c.call("SUBSCRIBE", "a", "b")
    c.read_reply()
    c.call("PSUBSCRIBE", "p*")
    c.call("SSUBSCRIBE", "s")
    info = r.info("stats")
    assert (info["pubsub_channels"], info["pubsub_patterns"], info["pubsubshard_channels"]) == \
        (2, 1, 1)
    lines = [x for x in r.execute_command("CLIENT", "LIST").decode().split("\n") if x]
    sub = [x for x in lines if " sub=2 " in x]
    assert len(sub) == 1
    assert " flags=P " in sub[0] and " psub=1 " in sub[0] and " ssub=1 " in sub[0]
    assert r.execute_command("CLIENT", "LIST", "TYPE", "pubsub").decode().count("\n") == 1
    c.call("RESET")
    assert r.execute_command("CLIENT", "LIST", "TYPE", "pubsub") == b""
    c.close()


def _small_rcvbuf_client(port):
    """A raw client whose socket buffers are small, so a backlog builds up
    in the server instead of in the kernel."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.settimeout(10)
    return s


def _subscribe_raw(sock, channel):
    sock.sendall(runnel.encode_command([b"SUBSCRIBE", channel]))
    want = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(channel), channel)
    got = b""
    while len(got) < len(want):
        got += sock.recv(len(want) - len(got))
    assert got == want


def _drain_until_closed(sock, timeout=10):
    """Read until EOF; return the byte count, or None if still open."""
    sock.settimeout(timeout)
    total = 0
    try:
        while True:
            data = sock.recv(1 << 16)
            if not data:
                return total
            total += len(data)
    except (socket.timeout, ConnectionResetError):
        return None


def test_slow_subscriber_hard_limit(server):
    r = rclient(server)
    assert r.config_set("client-output-buffer-limit", "pubsub 256kb 0 0")
    slow = _small_rcvbuf_client(server.port)
    _subscribe_raw(slow, b"feed")
    fast = [server.client() for _ in range(3)]
    for f in fast:
        f.call("SUBSCRIBE", "feed")
    # The kernel takes about 2 MB for a socket that is not read; 8 MB
    # builds a backlog in the server well past the limit.
    payload = b"x" * 100000
    frame = b"*3\r\n$7\r\nmessage\r\n$4\r\nfeed\r\n$100000\r\n" + payload + b"\r\n"
    receivers = []
    for _ in range(80):
        # One message at a time: a fast reader never holds more than one.
        receivers.append(r.publish("feed", payload))
        for f in fast:
            assert f.read_exact(len(frame)) == frame
    # The slow one counted until it was dropped, then only the fast ones.
    assert receivers[0] == 4
    assert receivers[-1] == 3
    assert _drain_until_closed(slow) is not None
    slow.close()
    # Closed once, and logged in Redis's words.
    deadline = time.monotonic() + 5
    while "overcoming of output buffer limits" not in server.output() and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    out = server.output()
    assert out.count("for overcoming of output buffer limits.") == 1
    assert r.pubsub_numsub("feed") == [(b"feed", 3)]
    assert r.publish("feed", "after") == 3
    for f in fast:
        assert f.read_reply() == b"*3\r\n$7\r\nmessage\r\n$4\r\nfeed\r\n$5\r\nafter\r\n"
        f.close()


def test_slow_subscriber_soft_limit_needs_its_seconds(server):
    r = rclient(server)
    assert r.config_set("client-output-buffer-limit", "pubsub 0 512kb 1")
    slow = _small_rcvbuf_client(server.port)
    _subscribe_raw(slow, b"soft")
    payload = b"y" * 100000
    pipe = r.pipeline(transaction=False)
    for _ in range(40):
        pipe.publish("soft", payload)
    pipe.execute()
    # Over the soft limit, but not for long enough yet: still subscribed.
    start = time.monotonic()
    assert r.pubsub_numsub("soft") == [(b"soft", 1)]
    # Once over it for more than 1 s it is closed, even with no new message
    # (the periodic check, as Redis's clientsCron).
    deadline = start + 6
    while r.pubsub_numsub("soft")[0][1] != 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.pubsub_numsub("soft") == [(b"soft", 0)]
    assert time.monotonic() - start >= 0.9
    assert _drain_until_closed(slow) is not None
    slow.close()
    deadline = time.monotonic() + 5
    while "for overcoming of output buffer limits" not in server.output() and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert "closed for overcoming of output buffer limits." in server.output()


def test_normal_clients_unlimited_by_default(server):
    r = rclient(server)
    r.set("big", b"z" * (4 << 20))
    slow = _small_rcvbuf_client(server.port)
    # Ten 4 MB replies queued for a client that does not read: no limit for
    # normal clients by default.
    slow.sendall(b"".join(runnel.encode_command([b"GET", b"big"]) for _ in range(10)))
    time.sleep(0.5)
    assert r.execute_command("CLIENT", "LIST").decode().count("\n") == 2
    slow.close()


def test_obuf_limit_config_rewrite(server_factory, tmp_path):
    conf = tmp_path / "runnel.conf"
    conf.write_text("# comment\nclient-output-buffer-limit pubsub 32mb 8mb 60\n"
                    "notify-keyspace-events Ex\n")
    srv = server_factory(config=str(conf))
    r = rclient(srv)
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "xE"}
    r.config_set("client-output-buffer-limit", "NORMAL 1 2049 3 replica 1048576 3gb 5")
    r.config_set("notify-keyspace-events", "KEA")
    assert r.config_get("client-output-buffer-limit") == {
        "client-output-buffer-limit":
            "normal 1 2049 3 slave 1048576 3221225472 5 pubsub 33554432 8388608 60"}
    assert r.config_rewrite()
    text = conf.read_text()
    assert "client-output-buffer-limit normal 1 2049 3\n" in text
    assert "client-output-buffer-limit replica 1mb 3gb 5\n" in text
    assert "client-output-buffer-limit pubsub" not in text
    assert 'notify-keyspace-events "AKE"\n' in text
    assert text.index("normal 1 2049 3") < text.index("notify-keyspace-events")
    # The rewritten file loads back to the same values.
    srv.stop()
    srv2 = server_factory(config=str(conf))
    r2 = rclient(srv2)
    assert r2.config_get("client-output-buffer-limit") == {
        "client-output-buffer-limit":
            "normal 1 2049 3 slave 1048576 3221225472 5 pubsub 33554432 8388608 60"}
    assert r2.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}


def test_obuf_limit_on_command_line(server_factory):
    srv = server_factory(args=["--client-output-buffer-limit", "pubsub 1mb 512kb 7"])
    assert rclient(srv).config_get("client-output-buffer-limit") == {
        "client-output-buffer-limit":
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 7"}
