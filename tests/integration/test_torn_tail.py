"""Startup on a damaged append-only log: a torn tail and a corrupt middle.

A server with appendfsync always logs a few commands with binary values
(SET, XADD, HSET) and is killed with SIGKILL. Then, for EVERY length from
the start to the end of the last command of the newest incr file, a copy
of the directory has that file cut there and a server (aof-load-truncated
yes) starts on it: it must start, hold exactly what it held before the last
command (and the last command's effect too when the cut is at its end),
warn about the cut, and truncate the file back to the last whole command.
For three of the cuts a write after the restart must survive another
restart (nothing appended behind garbage). A corrupt byte in the middle of
the log instead makes startup fail with exit code 1 and a log line naming
the file and the byte offset; so do a base snapshot cut short (a base is no
log tail) and an incr file the manifest names but that is missing.

Servers on the cut copies start in parallel (CUT_WORKERS at a time).
Set RUNNEL_PERSIST_ORACLE=/usr/bin/redis-server to run the same bodies
against the real Redis (which names no offset: that check is skipped).
"""

import concurrent.futures
import os
import re
import shutil
import time

import pytest

import runnel
from runnel import sigkill, wait_pong

ORACLE = os.environ.get("RUNNEL_PERSIST_ORACLE")  # redis-server path: validate the harness
CUT_WORKERS = 6  # servers starting at once on cut copies
AOF_ARGS = ["--appendonly", "yes", "--appendfsync", "always", "--aof-load-truncated", "yes"]

# The log: every value is binary (CR, LF, NUL, RESP markers, high bytes).
PREFIX = [
    ["SET", "s:bin", b"\x00\r\n$*\xff"],
    ["XADD", "st", "1-1", "f", b"\x00\xfe\r\n"],
    ["HSET", "h", "f", b"\r\n\x00"],
    ["SET", "k2", b"v\n"],
    ["XADD", "st", "2-1", "g", b"*1\r\n"],
    ["HSET", "h", "f2", b"\xff\x00"],
]
LAST = {
    "set": ["SET", "s:bin", b"\x01\r\n\x00"],
    "xadd": ["XADD", "st", "3-1", "f", b"\r\n\x00"],
    "hset": ["HSET", "h", "f3", b"\x00\n"],
}
KEYS = ["s:bin", "st", "h", "k2", "after"]


# -- servers restartable on one directory ------------------------------------


@pytest.fixture
def start(server_factory):
    """start(directory, args, ready=True) -> a server whose --dir is directory.

    The --dir given last overrides the fresh one runnel.Server picks. With
    ready, waits until PING answers +PONG (not -LOADING).
    """
    oracle = []

    def start(directory, args, ready=True):
        argv = ["--dir", str(directory)] + list(args)
        if ORACLE:
            srv = runnel.Server(ORACLE, "redis", args=argv)
            oracle.append(srv)
            srv.spawn()
            if ready:
                srv.wait_ready(timeout=30)
        else:
            srv = server_factory(args=argv, start=False)
            if ready:
                try:
                    srv.wait_ready(timeout=30)
                except runnel.ServerError as e:
                    raise AssertionError(str(e))
        if ready:
            wait_pong(srv)
        return srv

    yield start
    for srv in oracle:
        if srv.returncode is None:
            srv.stop(check=False)
        srv.cleanup()


def decode(frame, pos=0):
    """(value, end) of the RESP2 frame at frame[pos:]: bytes, int, list or None;
    raises ValueError on bytes that are not a whole frame."""
    t = frame[pos:pos + 1]
    eol = frame.index(b"\r\n", pos)
    head = frame[pos + 1:eol]
    if t in (b"+", b"-"):
        return head, eol + 2
    if t == b":":
        return int(head), eol + 2
    if t == b"$":
        n = int(head)
        if n < 0:
            return None, eol + 2
        if frame[eol + 2 + n:eol + 4 + n] != b"\r\n":
            raise ValueError("bulk at %d is not closed" % pos)
        return frame[eol + 2:eol + 2 + n], eol + 4 + n
    if t == b"*":
        n = int(head)
        out, p = [], eol + 2
        for _ in range(max(n, 0)):
            v, p = decode(frame, p)
            out.append(v)
        return out, p
    raise ValueError("unexpected byte %r at %d" % (t, pos))


# -- the log on disk ---------------------------------------------------------------


def manifest(directory):
    """[(file name, seq, type)] from appendonlydir/appendonly.aof.manifest."""
    path = os.path.join(directory, "appendonlydir", "appendonly.aof.manifest")
    with open(path) as f:
        out = []
        for line in f:
            words = line.split()
            if not words:
                continue
            fields = dict(zip(words[0::2], words[1::2]))
            out.append((fields["file"], int(fields["seq"]), fields["type"]))
        return out


def last_incr(directory):
    """Path of the newest incr file the manifest lists."""
    incr = [(seq, name) for name, seq, kind in manifest(directory) if kind == "i"]
    assert incr, "no incr file in the manifest: %r" % manifest(directory)
    return os.path.join(directory, "appendonlydir", max(incr)[1])


def commands(data):
    """[(start, end, argv)] of the RESP commands making up data."""
    out, pos = [], 0
    while pos < len(data):
        argv, end = decode(data, pos)
        out.append((pos, end, argv))
        pos = end
    return out


def as_bytes(argv):
    return [a if isinstance(a, bytes) else a.encode() for a in argv]


def same_command(logged, sent):
    sent = as_bytes(sent)
    return (len(logged) == len(sent) and logged[0].upper() == sent[0].upper()
            and logged[1:] == sent[1:])


def dump(srv):
    """{key: value} of KEYS as raw replies (hash fields sorted)."""
    out = {}
    with srv.client() as c:
        for key in KEYS:
            kind = c.call("TYPE", key)
            if kind == b"+string\r\n":
                out[key] = c.call("GET", key)
            elif kind == b"+hash\r\n":
                out[key] = runnel.sort_aggregate(c.call("HGETALL", key))
            elif kind == b"+stream\r\n":
                out[key] = c.call("XRANGE", key, "-", "+")
            else:
                assert kind == b"+none\r\n", (key, kind)
    return out


@pytest.fixture(params=sorted(LAST))
def source(request, start, tmp_path):
    """A data dir whose newest incr file ends with LAST[param]; returns
    (dir, incr path relative to dir, state before, state after, last command)."""
    d = tmp_path / "src"
    d.mkdir()
    srv = start(d, AOF_ARGS)
    with srv.client() as c:
        for argv in PREFIX:
            reply = c.call(*argv)
            assert reply[:1] in (b"+", b":", b"$"), (argv, reply)
    before = dump(srv)
    last = LAST[request.param]
    with srv.client() as c:
        reply = c.call(*last)
        assert reply[:1] in (b"+", b":", b"$"), (last, reply)
    after = dump(srv)
    assert after != before
    sigkill(srv)  # appendfsync always: everything acknowledged is in the file
    incr = last_incr(str(d))
    with open(incr, "rb") as f:
        cmds = commands(f.read())
    assert cmds and same_command(cmds[-1][2], last), "the log does not end with %r: %r" % (
        last, cmds[-3:])
    return str(d), os.path.relpath(incr, str(d)), before, after, cmds


def copy_cut(src, dst, rel, length):
    shutil.copytree(src, dst)
    os.truncate(os.path.join(dst, rel), length)


def test_every_cut_in_last_command(start, tmp_path, source):
    src, rel, before, after, cmds = source
    first, end, _ = cmds[-1]
    name = os.path.basename(rel)
    cuts = list(range(first, end + 1))
    again = {first + 1, (first + end) // 2, end - 1}  # also append and restart

    def one(cut):
        d = str(tmp_path / ("cut-%d" % cut))
        copy_cut(src, d, rel, cut)
        srv = start(d, AOF_ARGS)
        state = dump(srv)
        want = after if cut == end else before
        assert state == want, "cut at %d (last command %d..%d): %r, want %r" % (
            cut, first, end, state, want)
        if first < cut < end:
            out = srv.output()
            assert name in out and "truncat" in out.lower(), (
                "cut at %d: no warning naming %s about the truncation\n%s" % (cut, name, out))
            size = os.path.getsize(os.path.join(d, rel))
            assert size == first, "cut at %d: %s left at %d bytes, not truncated to %d" % (
                cut, name, size, first)
        if cut in again:
            with srv.client() as c:
                assert c.call("SET", "after", b"x\r\n") == b"+OK\r\n"
            srv.stop()
            srv = start(d, AOF_ARGS)
            want = dict(want, after=b"$3\r\nx\r\n\r\n")
            assert dump(srv) == want, "cut at %d: the write after the restart was lost" % cut
        srv.stop()

    with concurrent.futures.ThreadPoolExecutor(CUT_WORKERS) as pool:
        for f in [pool.submit(one, cut) for cut in cuts]:
            f.result()


def offsets_named(text, name):
    """Integers following offset/byte/position on the log lines naming name."""
    found = set()
    for line in text.splitlines():
        if name in line:
            for m in re.finditer(r"(?:offset|byte|position|pos)\D{0,12}?(\d+)", line,
                                 re.IGNORECASE):
                found.add(int(m.group(1)))
    return found


@pytest.mark.parametrize("how", ["star", "length"])
def test_corrupt_middle_refuses_start(start, tmp_path, source, how):
    src, rel, _, _, cmds = source
    mid = len(cmds) // 2
    first, end, _ = cmds[mid]
    assert 0 < mid < len(cmds) - 1
    d = str(tmp_path / "corrupt")
    shutil.copytree(src, d)
    path = os.path.join(d, rel)
    with open(path, "r+b") as f:
        data = f.read()
        if how == "star":
            bad = first  # '*' of the command header
        else:
            bad = data.index(b"$", first) + 1  # first digit of the first bulk length
        f.seek(bad)
        f.write(b"?")
    srv = start(d, AOF_ARGS, ready=False)
    srv.expect_failure = True
    try:
        rc = srv.wait_exit(timeout=30)
    except runnel.ServerError as e:
        raise AssertionError("server did not refuse the corrupt log: %s" % e)
    out = srv.output()
    assert rc == 1, "exit code %r on a log corrupt at byte %d\n%s" % (rc, bad, out)
    name = os.path.basename(rel)
    assert name in out, "no log line names %s\n%s" % (name, out)
    if not ORACLE:  # redis-server names the file only
        named = offsets_named(out, name)
        assert named & {first, bad}, (
            "no line naming %s gives the offset %d (command) or %d (byte); offsets seen %r\n%s"
            % (name, first, bad, sorted(named), out))


@pytest.mark.parametrize("damage", ["base-cut", "incr-missing"])
def test_damaged_files_refuse_start(start, tmp_path, damage):
    """A base snapshot cut short (it is no log tail: aof-load-truncated does
    not apply) or an incr file the manifest names but that is gone: exit 1
    with a log line naming the file."""
    d = tmp_path / "data"
    d.mkdir()
    srv = start(d, AOF_ARGS)
    with srv.client() as c:
        for argv in PREFIX:
            assert c.call(*argv)[:1] in (b"+", b":", b"$"), argv
        assert c.call("BGREWRITEAOF")[:1] == b"+"
        deadline = time.monotonic() + 30
        while True:
            info = c.call("INFO", "persistence")
            if (b"aof_rewrite_in_progress:0\r\n" in info and b"aof_rewrite_scheduled:0\r\n" in info
                    and not re.search(rb"aof_rewrites:0\r\n", info)):
                break
            assert time.monotonic() < deadline, info
            time.sleep(0.05)
        assert c.call("SET", "k3", "v3") == b"+OK\r\n"
    sigkill(srv)
    files = manifest(str(d))
    if damage == "base-cut":
        name = [n for n, _, kind in files if kind == "b"][0]
        path = os.path.join(str(d), "appendonlydir", name)
        os.truncate(path, os.path.getsize(path) // 2)
    else:
        name = os.path.basename(last_incr(str(d)))
        os.unlink(os.path.join(str(d), "appendonlydir", name))
    srv = start(d, AOF_ARGS, ready=False)
    srv.expect_failure = True
    try:
        rc = srv.wait_exit(timeout=30)
    except runnel.ServerError as e:
        raise AssertionError("server did not refuse to start: %s" % e)
    out = srv.output()
    assert rc == 1, "exit code %r\n%s" % (rc, out)
    assert name in out, "no log line names %s\n%s" % (name, out)
