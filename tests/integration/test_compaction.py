"""Log rewrite (compaction) under load: BGREWRITEAOF and the automatic one.

test_rewrite_under_load: two writer threads, each on its own connection,
send one command at a time: `SET c:<i mod 20> <n>` (overwrites) and
`XADD cs * n <seq>`. Meanwhile BGREWRITEAOF runs REWRITES times, each
awaited through INFO persistence, and the manifest must then name one new
base (a higher seq) whose file exists, and, once the old files are gone,
no other appendonly.aof.* file in the directory. Then CONFIG SET auto-aof-rewrite-min-size
to a small size starts an automatic rewrite. The server is killed with
SIGKILL with the writers still running (appendfsync always) and restarted:
every acknowledged XADD is there with its ID, in order, plus at most the
one in flight, and every counter holds its last acknowledged value or the
one in flight.

test_kill_during_rewrite: SIGKILL 0-50 ms after BGREWRITEAOF, with the
writers running, four times on one directory: the same checks after each
restart, and the manifest still names one base whose file exists, with no
stale appendonly.aof.* file beside it (a killed rewrite's base, named like
the next one, must not linger).

test_orphan_rewrite_child: the server is killed while its rewrite child
runs (held with SIGSTOP, as a slow child on a loaded machine would be);
the restarted server empties the database, writes, and completes its own
rewrite; then the orphan is let go. Its stale snapshot must not replace
anything the new server's manifest names: after one more restart only the
new writes are there.

test_rewrite_shrinks: 20 keys overwritten 20000 times make a log of several
megabytes; after BGREWRITEAOF the directory holds a small fraction of it,
and a restart still gives the last values.

Set RUNNEL_PERSIST_ORACLE=/usr/bin/redis-server to run the same bodies
against the real Redis (used to validate this harness; ctest runs runnel).
"""

import os
import re
import signal
import threading
import time

import pytest

import runnel
from runnel import sigkill, wait_pong

ORACLE = os.environ.get("RUNNEL_PERSIST_ORACLE")  # redis-server path: validate the harness
REWRITES = 4  # BGREWRITEAOF calls under load
COUNTERS = 20  # keys the SET writer cycles through
AOF_ARGS = ["--appendonly", "yes", "--appendfsync", "always", "--aof-load-truncated", "yes"]
STARTED = b"+Background append only file rewriting started\r\n"


# -- servers restartable on one directory ------------------------------------


@pytest.fixture
def start(server_factory):
    """start(directory, args) -> a server whose --dir is directory, answering
    PING with +PONG. The --dir given last overrides runnel.Server's own."""
    oracle = []

    def start(directory, args):
        argv = ["--dir", str(directory)] + list(args)
        if ORACLE:
            srv = runnel.Server(ORACLE, "redis", args=argv)
            oracle.append(srv)
            srv.start()
        else:
            srv = server_factory(args=argv)
        wait_pong(srv)
        return srv

    yield start
    for srv in oracle:
        if srv.returncode is None:
            srv.stop(check=False)
        srv.cleanup()


def decode(frame, pos=0):
    """(value, end) of the RESP2 frame at frame[pos:]: bytes, int, list, None,
    or an Exception instance for an error reply."""
    t = frame[pos:pos + 1]
    eol = frame.index(b"\r\n", pos)
    head = frame[pos + 1:eol]
    if t == b"+":
        return head, eol + 2
    if t == b"-":
        return Exception(head.decode("utf-8", "replace")), eol + 2
    if t == b":":
        return int(head), eol + 2
    if t == b"$":
        n = int(head)
        if n < 0:
            return None, eol + 2
        return frame[eol + 2:eol + 2 + n], eol + 4 + n
    if t == b"*":
        n = int(head)
        if n < 0:
            return None, eol + 2
        out, p = [], eol + 2
        for _ in range(n):
            v, p = decode(frame, p)
            out.append(v)
        return out, p
    raise AssertionError("unexpected reply %r" % frame[pos:pos + 80])


# -- INFO persistence and the files --------------------------------------------


def persistence(c):
    """INFO persistence as {field: str}."""
    text, _ = decode(c.call("INFO", "persistence"))
    out = {}
    for line in text.decode().split("\r\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_rewrites(c, count, timeout=60.0):
    """Waits until aof_rewrites >= count with no rewrite running or scheduled."""
    deadline = time.monotonic() + timeout
    while True:
        info = persistence(c)
        if (int(info["aof_rewrites"]) >= count and info["aof_rewrite_in_progress"] == "0"
                and info["aof_rewrite_scheduled"] == "0"):
            assert info["aof_last_bgrewrite_status"] == "ok", info
            return info
        assert time.monotonic() < deadline, "rewrite %d not done in %gs: %r" % (
            count, timeout, info)
        time.sleep(0.05)


def aofdir(directory):
    return os.path.join(str(directory), "appendonlydir")


def manifest(directory):
    """[(file name, seq, type)] from appendonlydir/appendonly.aof.manifest."""
    with open(os.path.join(aofdir(directory), "appendonly.aof.manifest")) as f:
        out = []
        for line in f:
            words = line.split()
            if words:
                fields = dict(zip(words[0::2], words[1::2]))
                out.append((fields["file"], int(fields["seq"]), fields["type"]))
        return out


def check_manifest(directory, prev_base_seq, timeout=10.0):
    """Asserts the manifest names one base newer than prev_base_seq, its file
    and the incr files exist, and (polling: old files go asynchronously) that
    no other file named like the log's (appendonly.aof.*) is left in the
    directory; temp-* files are not checked. Returns the base seq."""
    m = manifest(directory)
    bases = [(name, seq) for name, seq, kind in m if kind == "b"]
    assert len(bases) == 1, m
    name, seq = bases[0]
    assert seq > prev_base_seq, "the manifest still names base %d: %r" % (seq, m)
    assert name == "appendonly.aof.%d.base.rdb" % seq, m
    listed = {n for n, _, _ in m} | {"appendonly.aof.manifest"}
    deadline = time.monotonic() + timeout
    while True:
        on_disk = {n for n in os.listdir(aofdir(directory)) if not n.startswith("temp-")}
        assert listed - {n for n, _, k in m if k == "h"} <= on_disk, (m, on_disk)
        if on_disk <= listed and not [k for _, _, k in manifest(directory) if k == "h"]:
            return seq
        assert time.monotonic() < deadline, "old files left behind: %r (manifest %r)" % (
            sorted(on_disk - listed), manifest(directory))
        time.sleep(0.05)
        m = manifest(directory)
        listed = {n for n, _, _ in m} | {"appendonly.aof.manifest"}


def dir_size(directory):
    d = aofdir(directory)
    return sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))


# -- writers ---------------------------------------------------------------------


class Writer(threading.Thread):
    """Sends one command at a time until stop is set or the connection
    breaks. kind "set": SET c:<i mod COUNTERS> <i>, acked[key] = last
    acknowledged i; kind "xadd": XADD cs * n <i>, acked = [id]. inflight:
    the command sent and not acknowledged (key, value) or seq; error: an
    unexpected reply."""

    def __init__(self, srv, kind, stop):
        super().__init__(daemon=True)
        self.client = srv.client(timeout=30)
        self.kind = kind
        self.stop = stop
        self.acked = {} if kind == "set" else []
        self.inflight = None
        self.error = None

    def run(self):
        i = 0
        try:
            while not self.stop.is_set():
                if self.kind == "set":
                    key = "c:%d" % (i % COUNTERS)
                    self.inflight = (key, i)
                    frame = self.client.call("SET", key, str(i))
                    if frame != b"+OK\r\n":
                        self.error = "SET %s %d: %r" % (key, i, frame)
                        return
                    self.acked[key] = i
                else:
                    self.inflight = i
                    value, _ = decode(self.client.call("XADD", "cs", "*", "n", str(i)))
                    if not isinstance(value, bytes):
                        self.error = "XADD %d: %r" % (i, value)
                        return
                    self.acked.append(value)
                self.inflight = None
                i += 1
        except (OSError, runnel.ConnectionClosed):
            pass
        finally:
            self.client.close()


def test_rewrite_under_load(start, tmp_path):
    srv = start(tmp_path, AOF_ARGS)
    stop = threading.Event()
    setter, adder = Writer(srv, "set", stop), Writer(srv, "xadd", stop)
    setter.start()
    adder.start()
    c = srv.client(timeout=30)
    base = check_manifest(tmp_path, -1)
    done = int(persistence(c)["aof_rewrites"])
    for _ in range(REWRITES):
        time.sleep(0.3)
        assert c.call("BGREWRITEAOF") == STARTED
        done += 1
        wait_rewrites(c, done)
        base = check_manifest(tmp_path, base)
    assert c.call("CONFIG", "SET", "auto-aof-rewrite-percentage", "100") == b"+OK\r\n"
    assert c.call("CONFIG", "SET", "auto-aof-rewrite-min-size", "16384") == b"+OK\r\n"
    wait_rewrites(c, done + 1)
    base = check_manifest(tmp_path, base)
    assert c.call("CONFIG", "SET", "auto-aof-rewrite-min-size", "64mb") == b"+OK\r\n"
    c.close()
    time.sleep(0.3)
    assert setter.is_alive() and adder.is_alive(), (setter.error, adder.error)
    sigkill(srv)  # writers still running
    setter.join(30)
    adder.join(30)
    assert setter.error is None and adder.error is None, (setter.error, adder.error)
    assert len(adder.acked) > 10 and len(setter.acked) == COUNTERS, "too little load"

    srv = start(tmp_path, AOF_ARGS)
    verify(srv, setter, adder, 0)
    print("%d XADD, %d SET acknowledged; base seq %d" % (len(adder.acked), len(setter.acked), base))


def verify(srv, setter, adder, first):
    """Asserts the restarted srv holds every write setter and adder had
    acknowledged (adder's entries following `first` entries already there),
    in order, plus at most their in-flight ones. Returns XLEN cs."""
    with srv.client(timeout=30) as c:
        entries, _ = decode(c.call("XRANGE", "cs", "-", "+", timeout=30))
        ids = [e[0] for e in entries][first:]
        ns = [int(e[1][1]) for e in entries][first:]
        assert ns == list(range(len(ns))), "duplicated or reordered stream entries"
        assert ids[:len(adder.acked)] == adder.acked, "acknowledged XADDs lost or changed"
        assert len(ids) - len(adder.acked) <= (1 if adder.inflight is not None else 0), (
            "%d extra entries" % (len(ids) - len(adder.acked)))
        for key, value in setter.acked.items():
            got, _ = decode(c.call("GET", key))
            ok = {value}
            if setter.inflight is not None and setter.inflight[0] == key:
                ok.add(setter.inflight[1])
            assert got is not None and int(got) in ok, "%s is %r, acknowledged %d" % (
                key, got, value)
    return len(entries)


def test_kill_during_rewrite(start, tmp_path):
    """SIGKILL a few milliseconds after BGREWRITEAOF, writers running: the
    restart loses no acknowledged write and the manifest stays usable."""
    srv = start(tmp_path, AOF_ARGS)
    with srv.client(timeout=60) as c:  # something for the rewrite to chew on
        fill = [runnel.encode_command(["SET", "big:%d" % i, b"x" * 100]) for i in range(20000)]
        c.send(b"".join(fill))
        assert c.read_exact(5 * len(fill), timeout=60) == b"+OK\r\n" * len(fill)
    first = 0
    for delay in (0.0, 0.005, 0.02, 0.05):
        stop = threading.Event()
        setter, adder = Writer(srv, "set", stop), Writer(srv, "xadd", stop)
        setter.start()
        adder.start()
        time.sleep(0.1)
        with srv.client() as c:
            assert c.call("BGREWRITEAOF") == STARTED
        time.sleep(delay)
        sigkill(srv)
        setter.join(30)
        adder.join(30)
        assert setter.error is None and adder.error is None, (setter.error, adder.error)
        srv = start(tmp_path, AOF_ARGS)
        first = verify(srv, setter, adder, first)
        check_manifest(tmp_path, -1)
        with srv.client() as c:
            assert c.call("GET", "big:19999") == b"$100\r\n" + b"x" * 100 + b"\r\n"


def child_pid(srv, timeout=10.0):
    """Pid of the rewrite child, from the log line 'rewriting started by pid N'."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = re.findall(r"rewriting started by pid (\d+)", srv.output())
        if pids:
            return int(pids[-1])
        time.sleep(0.002)
    raise AssertionError("no 'rewriting started by pid' line in the log\n" + srv.output())


def proc_state(pid):
    """State letter of pid from /proc (None when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_orphan_rewrite_child(start, tmp_path):
    args = AOF_ARGS + ["--auto-aof-rewrite-percentage", "0"]  # only the rewrites asked for
    srv = start(tmp_path, args)
    with srv.client(timeout=60) as c:
        for part in range(10):  # 100 MB: the child needs a moment to write it
            fill = [runnel.encode_command(["SET", "old:%d:%d" % (part, i), b"o" * 10000])
                    for i in range(1000)]
            c.send(b"".join(fill))
            assert c.read_exact(5 * len(fill), timeout=60) == b"+OK\r\n" * len(fill)
        assert c.call("BGREWRITEAOF") == STARTED
    child = child_pid(srv)
    try:
        os.kill(child, signal.SIGSTOP)
    except ProcessLookupError:
        pytest.skip("the rewrite child ended before it could be stopped")
    try:
        deadline = time.monotonic() + 2
        while proc_state(child) not in ("T", "t", None, "Z") and time.monotonic() < deadline:
            time.sleep(0.005)  # the stop is delivered asynchronously
        if proc_state(child) not in ("T", "t"):
            pytest.skip("the rewrite child ended before it could be stopped")
        stopped_with = sorted(os.listdir(aofdir(tmp_path)))  # for the failure message
        sigkill(srv)
        srv = start(tmp_path, args)
        with srv.client(timeout=30) as c:
            assert c.call("FLUSHALL") == b"+OK\r\n"
            assert c.call("SET", "new", "1") == b"+OK\r\n"
            done = int(persistence(c)["aof_rewrites"])
            assert c.call("BGREWRITEAOF") == STARTED
            wait_rewrites(c, done + 1)
            assert c.call("SET", "new2", "2") == b"+OK\r\n"
        os.kill(child, signal.SIGCONT)
        deadline = time.monotonic() + 60
        while proc_state(child) not in (None, "Z") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc_state(child) in (None, "Z"), "the orphaned rewrite child did not end"
    finally:
        if proc_state(child) not in (None, "Z"):
            os.kill(child, signal.SIGKILL)
    srv.stop()
    srv = start(tmp_path, args)
    with srv.client() as c:
        assert c.call("EXISTS", "old:0:0") == b":0\r\n", (
            "keys flushed before the restart came back: the orphan's snapshot was loaded; "
            "manifest %r; the log directory when the child was stopped: %r"
            % (manifest(tmp_path), stopped_with))
        assert c.call("GET", "new") == b"$1\r\n1\r\n"
        assert c.call("GET", "new2") == b"$1\r\n2\r\n"
        assert c.call("DBSIZE") == b":2\r\n"


def test_rewrite_shrinks(start, tmp_path):
    args = ["--appendonly", "yes", "--appendfsync", "everysec"]
    srv = start(tmp_path, args)
    value = b"v" * 200
    with srv.client(timeout=60) as c:
        batch = []
        for i in range(20000):
            batch.append(runnel.encode_command(["SET", "k:%d" % (i % 20), value + b"%d" % i]))
            if len(batch) == 1000:
                c.send(b"".join(batch))
                assert c.read_exact(5 * len(batch), timeout=60) == b"+OK\r\n" * len(batch)
                batch = []
        base = check_manifest(tmp_path, -1)
        info = persistence(c)
        before = dir_size(tmp_path)
        assert before > 20000 * 200, before
        assert c.call("BGREWRITEAOF") == STARTED
        wait_rewrites(c, int(info["aof_rewrites"]) + 1)
        check_manifest(tmp_path, base)
        after = dir_size(tmp_path)
        assert after * 20 < before, "log %d bytes before the rewrite, %d after" % (before, after)
        assert c.call("SET", "k:0", "last") == b"+OK\r\n"
    srv.stop()
    srv = start(tmp_path, args)
    with srv.client() as c:
        assert c.call("GET", "k:0") == b"$4\r\nlast\r\n"
        for i in range(1, 20):
            want = value + b"%d" % (19980 + i)
            assert c.call("GET", "k:%d" % i) == b"$%d\r\n%s\r\n" % (len(want), want)
