"""Shared helpers for the integration tests and the differential runner.

Spawns runnel-server (or the oracle redis-server) on a free loopback port
with a fresh temporary directory, waits until it accepts connections, and
stops it with SIGTERM (SIGKILL after 5 s), checking that it exited with 0
so AddressSanitizer reports fail the test. Also holds a tiny raw RESP
client that reads exactly one complete RESP2/RESP3 reply as raw bytes,
and the redis-cli style argument splitter used by the case files.

Used by tests/integration/conftest.py and tests/diff/run_diff.py (which
puts this folder on sys.path). Standard library only.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

START_TIMEOUT = 10.0  # seconds to wait for the server to accept connections
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
REPLY_TIMEOUT = 10.0  # default seconds to wait for one reply


class ServerError(Exception):
    """The server failed to start, crashed, or exited with a non-zero code."""


class ConnectionClosed(Exception):
    """The peer closed the connection; .partial holds unparsed bytes."""

    def __init__(self, partial=b""):
        super().__init__("connection closed by server (partial=%r)" % (partial[:200],))
        self.partial = partial


class RespError(Exception):
    """The bytes received are not valid RESP."""


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def runnel_binary():
    """Path of runnel-server from $RUNNEL_SERVER, or None."""
    path = os.environ.get("RUNNEL_SERVER")
    return path or None


class Server:
    """One server process (runnel-server or redis-server) on a free port.

    kind is "runnel" or "redis"; the redis kind adds --save '' and
    --appendonly no. config, when given, is a config file path passed as the
    first argument. args are extra command-line arguments appended last, so
    they override everything before them.
    """

    def __init__(self, binary, kind="runnel", args=(), config=None, port=None):
        # the process runs in its temporary folder: make a relative path absolute
        self.binary = os.path.abspath(binary) if os.sep in binary else binary
        self.kind = kind
        self.args = list(args)
        self.config = config
        self.port = port
        self.proc = None
        self.root = None  # temporary folder: data/ is --dir, logs beside it
        self.dir = None
        self.returncode = None

    # -- lifecycle ---------------------------------------------------------

    def command_line(self):
        argv = [self.binary]
        if self.config:
            argv.append(self.config)
        argv += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        if self.kind == "redis":
            argv += ["--save", "", "--appendonly", "no"]
        else:
            # The nng endpoints default to fixed ports 7379-7381: off unless
            # a test passes its own (later options override these).
            argv += ["--nng-rep-url", "", "--nng-pub-url", "", "--nng-pull-url", ""]
            # The WebSocket gateway defaults to the fixed port 8379: off
            # unless a test passes its own --ws-port.
            argv += ["--ws-port", "0"]
        return argv + self.args

    def spawn(self):
        """Start the process without waiting for it to listen."""
        if self.port is None:
            self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="%s-test-" % self.kind)
        self.dir = os.path.join(self.root, "data")
        os.mkdir(self.dir)
        self._out = open(os.path.join(self.root, "stdout.log"), "wb")
        self._err = open(os.path.join(self.root, "stderr.log"), "wb")
        self.proc = subprocess.Popen(self.command_line(), stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err, cwd=self.root)
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        """Wait until the port accepts connections; ServerError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise ServerError("%s exited with %d before listening\n%s"
                                  % (self.binary, self.proc.returncode, self.output()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError("%s did not accept connections on port %d within %gs\n%s"
                                  % (self.binary, self.port, timeout, self.output()))
            time.sleep(0.02)

    def start(self):
        """spawn() then wait_ready()."""
        return self.spawn().wait_ready()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to end by itself; SIGKILL after timeout."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.returncode = self.proc.returncode
            raise ServerError("%s did not exit within %gs; killed\n%s"
                              % (self.binary, timeout, self.output()))
        self.returncode = self.proc.returncode
        return self.returncode

    def stop(self, sig=signal.SIGTERM, check=True):
        """Send sig by pid, wait (SIGKILL after 5 s), return the exit code.

        With check, a non-zero exit code (an ASan report, a crash) raises
        ServerError with the server's stderr. Safe to call twice.
        """
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        rc = self.wait_exit()
        self._close_logs()
        if check and rc != 0:
            raise ServerError("%s exited with code %d\n%s" % (self.binary, rc, self.output()))
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_logs()

    def cleanup(self):
        """Kill if still running and remove the temporary folder."""
        self.kill()
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _close_logs(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f is not None and not f.closed:
                f.close()

    # -- queries -----------------------------------------------------------

    def stderr(self):
        try:
            with open(os.path.join(self.root, "stderr.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def stdout(self):
        try:
            with open(os.path.join(self.root, "stdout.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def output(self, limit=20000):
        text = ""
        err = self.stderr()
        out = self.stdout()
        if err:
            text += "--- stderr ---\n" + err[-limit:]
        if out:
            text += "\n--- stdout ---\n" + out[-limit:]
        return text

    def client(self, timeout=REPLY_TIMEOUT):
        return RawClient(self.port, timeout=timeout)


# -- RESP ------------------------------------------------------------------


def encode_command(args):
    """Encode a list of str/bytes/int arguments as a RESP multibulk."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


def _line_end(buf, pos):
    i = buf.find(b"\r\n", pos)
    return None if i < 0 else i


def frame_end(buf, pos=0):
    """End offset of the complete RESP2/RESP3 frame at buf[pos:], or None.

    Raises RespError on bytes that cannot start a frame.
    """
    if pos >= len(buf):
        return None
    t = buf[pos:pos + 1]
    i = _line_end(buf, pos + 1)
    if i is None:
        return None
    head = buf[pos + 1:i]
    after = i + 2
    if t in b"+-:_,#(":
        return after
    if t in b"$!=":
        try:
            n = int(head)
        except ValueError:
            raise RespError("bad bulk length %r" % head)
        if n < 0:
            return after
        end = after + n + 2
        return end if end <= len(buf) else None
    if t in b"*~>%|":
        try:
            n = int(head)
        except ValueError:
            raise RespError("bad aggregate length %r" % head)
        if n < 0:
            return after
        if t in b"%|":
            n *= 2
        p = after
        for _ in range(n):
            p = frame_end(buf, p)
            if p is None:
                return None
        if t == b"|":  # an attribute precedes the actual reply
            return frame_end(buf, p)
        return p
    raise RespError("unexpected RESP type byte %r at %d in %r" % (t, pos, buf[pos:pos + 80]))


def split_aggregate(frame):
    """Split an array/set/push/map frame into (header, [element frames]).

    Returns None when frame is not an aggregate (or is a null aggregate).
    For a map each element is one key+value pair, so sorting keeps pairs.
    """
    t = frame[:1]
    if t not in (b"*", b"~", b">", b"%"):
        return None
    i = frame.find(b"\r\n")
    n = int(frame[1:i])
    if n < 0:
        return None
    p = i + 2
    elems = []
    for _ in range(n):
        q = frame_end(frame, p)
        if t == b"%":
            q = frame_end(frame, q)
        elems.append(frame[p:q])
        p = q
    return frame[:i + 2], elems


def sort_aggregate(frame):
    """Frame with the top-level aggregate's elements sorted by raw bytes."""
    parts = split_aggregate(frame)
    if parts is None:
        return frame
    head, elems = parts
    return head + b"".join(sorted(elems))


class RawClient:
    """A raw RESP client: send bytes, read one complete reply as bytes."""

    def __init__(self, port, host="127.0.0.1", timeout=REPLY_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.closed = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def send_command(self, *args):
        self.send(encode_command(list(args)))

    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 16)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            raise ConnectionClosed(self.buf)
        self.buf += data

    def read_reply(self, timeout=None):
        """One complete frame (an attribute is returned with its reply).

        Raises ConnectionClosed on EOF, socket.timeout on timeout.
        """
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            end = frame_end(self.buf, 0)
            if end is not None:
                frame, self.buf = self.buf[:end], self.buf[end:]
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete reply within %gs (have %r)"
                                     % (timeout, self.buf[:200]))
            self._recv(left)

    def read_non_push(self, timeout=None):
        """Read frames until one is not a RESP3 push; return (pushes, reply)."""
        pushes = []
        while True:
            f = self.read_reply(timeout)
            if f[:1] != b">":
                return pushes, f
            pushes.append(f)

    def read_exact(self, n, timeout=None):
        """Exactly n raw bytes (for big pipelines)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("got %d of %d bytes" % (len(self.buf), n))
            self._recv(left)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_available(self, quiet=0.3, limit=10.0):
        """Everything received until EOF or `quiet` seconds of silence.

        Returns (bytes, closed).
        """
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                self._recv(quiet)
            except socket.timeout:
                break
            except ConnectionClosed:
                break
        data, self.buf = self.buf, b""
        return data, self.closed

    def read_until_close(self, timeout=None):
        """All bytes until the server closes; socket.timeout if it does not."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("server did not close (have %r)" % self.buf[:200])
            try:
                self._recv(left)
            except ConnectionClosed:
                data, self.buf = self.buf, b""
                return data

    def call(self, *args, timeout=None):
        """Send one command, return its raw reply frame."""
        self.send_command(*args)
        return self.read_reply(timeout)


# -- redis-cli style argument splitting --------------------------------------

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}
_HEX = "0123456789abcdefABCDEF"


class SplitError(ValueError):
    """Unbalanced quotes or a closing quote not followed by a space."""


def split_args(line):
    """Split a line into bytes arguments as redis-cli (sdssplitargs) does.

    Double quotes take \\n \\r \\t \\b \\a \\\\ \\" and \\xHH escapes (any
    other escaped char stands for itself); single quotes take \\'. A closing
    quote must be followed by whitespace or the end. Raises SplitError.
    """
    args = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    raise SplitError("unbalanced quotes")
                c = line[i]
                if (c == "\\" and i + 3 < n + 0 and line[i + 1] == "x"
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    e = line[i]
                    cur += _ESCAPES.get(e, e).encode("utf-8")
                elif c == '"':
                    if i + 1 < n and line[i + 1] not in " \t\n\r\v\f":
                        raise SplitError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    cur += c.encode("utf-8")
            elif insq:
                if i >= n:
                    raise SplitError("unbalanced quotes")
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    i += 1
                    cur += b"'"
                elif c == "'":
                    if i + 1 < n and line[i + 1] not in " \t\n\r\v\f":
                        raise SplitError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    cur += c.encode("utf-8")
            else:
                if i >= n:
                    break
                c = line[i]
                if c in " \t\n\r\v\f":
                    break
                if c == '"':
                    inq = True
                elif c == "'":
                    insq = True
                else:
                    cur += c.encode("utf-8")
            i += 1
        args.append(bytes(cur))


def wait_pong(srv, timeout=30.0):
    """Waits until srv answers PING with +PONG (a loading server says -LOADING)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if not srv.alive():
            raise AssertionError("server exited while starting\n" + srv.output())
        try:
            with srv.client(timeout=2) as c:
                last = c.call("PING")
                if last == b"+PONG\r\n":
                    return
        except (OSError, ConnectionClosed):
            pass
        time.sleep(0.01)
    raise AssertionError("no +PONG within %gs (last %r)\n%s" % (timeout, last, srv.output()))


def sigkill(srv):
    """SIGKILL by pid and reap; marks the exit as expected for the teardown."""
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait()
    srv.returncode = srv.proc.returncode
    srv.expect_failure = True
    srv._close_logs()
