#!/usr/bin/python3
"""Differential test: run case files against runnel-server and redis-server.

Each tests/diff/cases/*.txt gets a fresh pair of servers; every command is
sent as a RESP multibulk to both, and the raw reply bytes are compared.
Mismatches are printed with file:line, the command and both replies; the
exit code is non-zero if there is any mismatch, a bad case line, or a
server that does not exit cleanly (ASan).

Case file format: one command per line, split like redis-cli does
(sdssplitargs quoting); '#' lines and empty lines are ignored. Directives:
  !sort <cmd>       compare the top-level aggregate with elements sorted
  !nocompare <cmd>  run on both, do not compare
  !sleep <ms>       pause
  !reconnect        fresh connections on both
  !resp3 / !resp2   HELLO 3 / HELLO 2 on both, reply not compared
  !raw "<bytes>"    send raw bytes; compare everything received until the
                    server closes or 300 ms of silence; reconnect if closed

Usage: run_diff.py --runnel PATH [--redis PATH] [-k SUBSTR] [-v] [PATH...]
"""

import argparse
import os
import select
import shutil
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import runnel  # noqa: E402

RAW_QUIET = 0.3  # seconds of silence that end a !raw read
NOREPLY_QUIET = 0.1  # seconds to watch for unexpected replies when none is due
SUBSCRIBE = {b"subscribe", b"psubscribe", b"ssubscribe"}
UNSUBSCRIBE = {b"unsubscribe", b"punsubscribe", b"sunsubscribe"}


class CaseError(Exception):
    """A malformed case line."""


class Step:
    """One parsed case line."""

    def __init__(self, path, lineno, text, kind, args=None, data=None, ms=0):
        self.path = path
        self.lineno = lineno
        self.text = text  # the line as written, for reports
        self.kind = kind  # cmd, sort, nocompare, sleep, reconnect, resp3, resp2, raw
        self.args = args  # list of bytes for command kinds
        self.data = data  # raw bytes for !raw
        self.ms = ms  # !sleep duration

    def where(self):
        return "%s:%d" % (os.path.basename(self.path), self.lineno)


def parse_case_file(path):
    """Parse a case file into Steps; raises CaseError with file:line."""
    steps = []
    with open(path, "r", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = "%s:%d" % (path, lineno)
        try:
            steps.append(parse_line(path, lineno, stripped))
        except (runnel.SplitError, ValueError) as e:
            raise CaseError("%s: %s: %r" % (where, e, line))
    return steps


def parse_line(path, lineno, line):
    if not line.startswith("!"):
        args = runnel.split_args(line)
        if not args:
            raise ValueError("no command")
        return Step(path, lineno, line, "cmd", args=args)
    word, _, rest = line.partition(" ")
    rest = rest.strip()
    if word in ("!sort", "!nocompare"):
        args = runnel.split_args(rest)
        if not args:
            raise ValueError("%s needs a command" % word)
        return Step(path, lineno, line, word[1:], args=args)
    if word == "!sleep":
        return Step(path, lineno, line, "sleep", ms=int(rest))
    if word in ("!reconnect", "!resp3", "!resp2"):
        if rest:
            raise ValueError("%s takes no argument" % word)
        return Step(path, lineno, line, word[1:])
    if word == "!raw":
        parts = runnel.split_args(rest)
        if len(parts) != 1:
            raise ValueError("!raw takes one quoted argument")
        return Step(path, lineno, line, "raw", data=parts[0])
    raise ValueError("unknown directive %s" % word)


class Side:
    """One server and its current connection, with the client reply state."""

    def __init__(self, name, server):
        self.name = name
        self.server = server
        self.conn = None
        self.reply_off = False  # CLIENT REPLY OFF in force
        self.skip_next = False  # CLIENT REPLY SKIP: the next reply is dropped

    def connect(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.reply_off = self.skip_next = False
        try:
            self.conn = runnel.RawClient(self.server.port, timeout=runnel.REPLY_TIMEOUT)
        except OSError as e:
            raise runnel.ServerError("%s: cannot connect to port %d: %s\n%s"
                                     % (self.name, self.server.port, e,
                                        self.server.output()))

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def expected_replies(side, args):
    """How many replies the command yields on side: an int, or None for
    'at least one, then whatever arrives before a short silence'. Updates
    the CLIENT REPLY state."""
    name = args[0].lower()
    sub = args[1].lower() if len(args) > 1 else b""
    if name == b"client" and sub == b"reply" and len(args) == 3:
        mode = args[2].lower()
        if mode == b"on":
            side.reply_off = side.skip_next = False
            return 1
        if mode == b"off":
            side.reply_off = True
            return 0
        if mode == b"skip":
            was_off = side.reply_off
            side.skip_next = not was_off
            return 0
    if side.reply_off:
        return 0
    if side.skip_next:
        side.skip_next = False
        return 0
    if name == b"reset":
        side.reply_off = side.skip_next = False
    if name in SUBSCRIBE and len(args) > 1:
        return len(args) - 1
    if name in UNSUBSCRIBE:
        return len(args) - 1 if len(args) > 1 else None
    return 1


def read_replies(side, count):
    """Read `count` replies (None: one plus whatever follows quickly).

    RESP3 pushes that precede a reply are kept with it. Connection loss and
    timeouts become markers in the returned bytes, and the side reconnects.
    """
    conn = side.conn
    out = []
    try:
        if count == 0:
            data, closed = conn.read_available(quiet=NOREPLY_QUIET)
            out.append(data)
            if closed:
                out.append(b"<closed>")
                side.connect()
            return b"".join(out)
        n = 1 if count is None else count
        for _ in range(n):
            while True:
                f = conn.read_reply()
                out.append(f)
                if f[:1] != b">" or n > 1 or count is None:
                    break
        if count is None:
            data, closed = conn.read_available(quiet=NOREPLY_QUIET)
            out.append(data)
            if closed:
                out.append(b"<closed>")
                side.connect()
        elif conn.buf:
            out.append(b"<extra>" + conn.buf)
            conn.buf = b""
    except runnel.ConnectionClosed as e:
        out.append(e.partial + b"<closed>")
        side.connect()
    except socket.timeout:
        out.append(conn.buf + b"<timeout>")
        side.connect()
    except runnel.RespError as e:
        out.append(conn.buf + b"<bad RESP: " + str(e).encode() + b">")
        side.connect()
    return b"".join(out)


def run_command(sides, args):
    """Send args to every side, then read each side's replies."""
    data = runnel.encode_command(args)
    counts = []
    for s in sides:
        counts.append(expected_replies(s, args))
        try:
            s.conn.send(data)
        except OSError:
            pass  # the read reports the closed connection
    results = []
    quit_cmd = args[0].lower() == b"quit"
    for s, n in zip(sides, counts):
        r = read_replies(s, n)
        if quit_cmd:
            s.connect()
        results.append(r)
    return results


def read_raw_pair(sides, quiet):
    """Collect bytes from every side until EOF or `quiet` s of silence on
    each; return [(bytes, closed)]."""
    state = {s: [b"", False, time.monotonic()] for s in sides}
    for s in sides:
        state[s][0] = s.conn.buf
        s.conn.buf = b""
    hard = time.monotonic() + 10.0
    while True:
        now = time.monotonic()
        live = [s for s in sides if not state[s][1] and now - state[s][2] < quiet]
        if not live or now > hard:
            break
        timeout = min(quiet - (now - state[s][2]) for s in live)
        ready, _, _ = select.select([s.conn.sock for s in live], [], [], max(timeout, 0))
        for s in live:
            if s.conn.sock not in ready:
                continue
            try:
                chunk = s.conn.sock.recv(1 << 16)
            except (ConnectionResetError, socket.timeout):
                chunk = b""
            if chunk:
                state[s][0] += chunk
                state[s][2] = time.monotonic()
            else:
                state[s][1] = True
    return [(state[s][0], state[s][1]) for s in sides]


def run_raw(sides, data):
    for s in sides:
        try:
            s.conn.send(data)
        except OSError:
            pass
    results = []
    for s, (got, closed) in zip(sides, read_raw_pair(sides, RAW_QUIET)):
        if closed:
            got += b"<closed>"
            s.connect()
        results.append(got)
    return results


class Report:
    def __init__(self, verbose):
        self.verbose = verbose
        self.passed = 0
        self.failed = 0
        self.errors = []

    def compare(self, step, redis_reply, runnel_reply, sort=False):
        if sort:
            try:
                redis_reply = runnel.sort_aggregate(redis_reply)
                runnel_reply = runnel.sort_aggregate(runnel_reply)
            except (runnel.RespError, ValueError, TypeError):
                pass
        if redis_reply == runnel_reply:
            self.passed += 1
            if self.verbose:
                print("ok   %s: %s -> %r" % (step.where(), step.text, redis_reply[:200]))
            return
        self.failed += 1
        print("MISMATCH %s: %s" % (step.where(), step.text))
        print("  redis:  %r" % (redis_reply,))
        print("  runnel: %r" % (runnel_reply,))
        sys.stdout.flush()

    def error(self, msg):
        self.errors.append(msg)
        print("ERROR " + msg)
        sys.stdout.flush()


def run_file(path, steps, opts, report):
    redis = runnel.Server(opts.redis, "redis")
    runner = runnel.Server(opts.runnel, "runnel")
    servers = [redis, runner]
    ready = False
    try:
        for srv in servers:
            srv.spawn()
        for srv in servers:
            srv.wait_ready()
        ready = True
        sides = [Side("redis", redis), Side("runnel", runner)]
        for s in sides:
            s.connect()
        for step in steps:
            if not runner.alive():
                report.error("%s: runnel-server died before %s (exit %s)"
                             % (step.where(), step.text, runner.proc.returncode))
                return
            if opts.verbose > 1:
                print("-> %s: %s" % (step.where(), step.text))
            run_step(step, sides, report)
        for s in sides:
            s.close()
    except (runnel.ServerError, OSError) as e:
        report.error("%s: %s" % (os.path.basename(path), e))
    finally:
        for srv in servers:
            try:
                if srv.proc is not None and srv.returncode is None:
                    srv.stop(check=ready)
            except runnel.ServerError as e:
                report.error("%s: %s" % (os.path.basename(path), e))
            srv.cleanup()


def run_step(step, sides, report):
    k = step.kind
    if k == "sleep":
        time.sleep(step.ms / 1000.0)
    elif k == "reconnect":
        for s in sides:
            s.connect()
    elif k in ("resp3", "resp2"):
        run_command(sides, [b"HELLO", b"3" if k == "resp3" else b"2"])
    elif k == "raw":
        a, b = run_raw(sides, step.data)
        report.compare(step, a, b)
    else:
        a, b = run_command(sides, step.args)
        if k == "nocompare":
            if report.verbose:
                print("skip %s: %s" % (step.where(), step.text))
        else:
            report.compare(step, a, b, sort=(k == "sort"))


def collect_files(paths, pattern):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, n) for n in os.listdir(p) if n.endswith(".txt"))
        else:
            files.append(p)
    if pattern:
        files = [f for f in files if pattern in os.path.basename(f)]
    return files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runnel", default=runnel.runnel_binary(),
                    help="path to runnel-server (default $RUNNEL_SERVER)")
    ap.add_argument("--redis", default=shutil.which("redis-server") or "redis-server",
                    help="path to the oracle redis-server")
    ap.add_argument("-k", dest="pattern", help="only case files whose name contains this")
    ap.add_argument("-v", dest="verbose", action="count", default=0, help="verbose")
    ap.add_argument("paths", nargs="*", default=[os.path.join(HERE, "cases")])
    opts = ap.parse_args(argv)
    if not opts.runnel:
        ap.error("--runnel PATH (or $RUNNEL_SERVER) is required")
    files = collect_files(opts.paths, opts.pattern)
    report = Report(opts.verbose)
    start = time.monotonic()
    for path in files:
        try:
            steps = parse_case_file(path)
        except (CaseError, OSError) as e:
            report.error(str(e))
            continue
        t0 = time.monotonic()
        before = report.failed
        run_file(path, steps, opts, report)
        print("%-28s %4d steps  %3d mismatches  %.2fs"
              % (os.path.basename(path), len(steps), report.failed - before,
                 time.monotonic() - t0))
        sys.stdout.flush()
    print("run_diff: %d files in %.1fs, %d errors" % (len(files), time.monotonic() - start,
                                                    len(report.errors)))
    print("%d passed, %d failed" % (report.passed, report.failed + len(report.errors)))
    if not files:
        print("run_diff: no case files found")
        return 1
    return 1 if (report.failed or report.errors) else 0


if __name__ == "__main__":
    sys.exit(main())
