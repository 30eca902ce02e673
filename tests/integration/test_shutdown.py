"""Shutdown: SIGTERM, SIGINT and SHUTDOWN NOSAVE end the process with 0.

A non-zero code (an ASan leak report, a crash in the exit path) fails.
"""

import signal
import socket

import pytest


def busy(srv):
    """Leave some state and an idle client behind, as real shutdowns see."""
    c = srv.client()
    assert c.call("SET", "k", "v") == b"+OK\r\n"
    assert c.call("MSET", "a", "1", "b", "2") == b"+OK\r\n"
    assert c.call("EXPIRE", "a", "100") == b":1\r\n"
    return c


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exit_code(server_factory, sig):
    srv = server_factory()
    idle = busy(srv)
    try:
        assert srv.stop(sig=sig, check=False) == 0, srv.output()
        # the idle client sees EOF
        assert idle.read_until_close(timeout=5) == b""
    finally:
        idle.close()


def test_shutdown_nosave(server_factory):
    srv = server_factory()
    other = busy(srv)
    try:
        with srv.client() as c:
            c.send_command("SHUTDOWN", "NOSAVE")
            assert c.read_until_close(timeout=10) == b""
        assert srv.wait_exit(timeout=10) == 0, srv.output()
        assert other.read_until_close(timeout=5) == b""
    finally:
        other.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()


def test_shutdown_bad_args(server):
    with server.client() as c:
        assert c.call("SHUTDOWN", "FOO") == b"-ERR syntax error\r\n"
        assert c.call("PING") == b"+PONG\r\n"
