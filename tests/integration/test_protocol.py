"""Protocol edge cases: errors close the connection after their reply, the
query buffer and bulk length limits, and password authentication.

Texts are Redis 7.0.15's, byte for byte.
"""

import pytest

PROTO_ERRORS = [
    (b"*x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$x\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$536870913\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
    (b"*1\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
    (b"ECHO \"abc\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"ECHO 'abc\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"PING\r\n*x\r\nPING\r\n",
     b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"),
    (b"a" * (70 * 1024), b"-ERR Protocol error: too big inline request\r\n"),
    (b"*" + b"1" * (70 * 1024), b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"*1\r\n$" + b"1" * (70 * 1024), b"-ERR Protocol error: too big bulk count string\r\n"),
]


def send_quietly(c, data):
    """Send; the server may close before taking everything."""
    try:
        c.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


@pytest.mark.parametrize("data,reply", PROTO_ERRORS, ids=[repr(d[:24]) for d, _ in PROTO_ERRORS])
def test_protocol_error_closes(server, data, reply):
    with server.client() as c:
        send_quietly(c, data)
        assert c.read_until_close(timeout=5) == reply
    # the server itself is fine
    with server.client() as c:
        assert c.call("PING") == b"+PONG\r\n"


def test_partial_request_waits(raw):
    raw.send(b"*2\r\n$4\r\nECHO\r\n$5\r\nhel")
    data, closed = raw.read_available(quiet=0.3)
    assert (data, closed) == (b"", False)
    raw.send(b"lo\r\n")
    assert raw.read_reply() == b"$5\r\nhello\r\n"


def test_query_buffer_limit_closes(server_factory):
    srv = server_factory(args=["--client-query-buffer-limit", "1mb"])
    with srv.client() as c:
        assert c.call("SET", "small", b"x" * (512 * 1024)) == b"+OK\r\n"
    # 2 MB of an unfinished bulk argument: over the limit, closed
    with srv.client() as c:
        send_quietly(c, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2097152\r\n" + b"x" * (2 * 1024 * 1024))
        assert c.read_until_close(timeout=10) == b""
    # 2 MB without a newline: closed (Redis says "too big inline request")
    with srv.client() as c:
        send_quietly(c, b"x" * (2 * 1024 * 1024))
        assert c.read_until_close(timeout=10) in (
            b"", b"-ERR Protocol error: too big inline request\r\n")
    with srv.client() as c:
        assert c.call("STRLEN", "small") == b":524288\r\n"
        assert c.call("EXISTS", "k") == b":0\r\n"


def test_proto_max_bulk_len(server_factory):
    srv = server_factory(args=["--proto-max-bulk-len", "1mb"])
    with srv.client() as c:
        c.send(b"*2\r\n$4\r\nECHO\r\n$2097152\r\n")
        assert c.read_until_close(timeout=5) == b"-ERR Protocol error: invalid bulk length\r\n"
    with srv.client() as c:
        # exactly the limit is accepted
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n")
        assert c.read_available(quiet=0.3) == (b"", False)
        c.send(b"y" * 1048576 + b"\r\n")
        assert c.read_reply() == b"+OK\r\n"
        assert c.call("STRLEN", "k") == b":1048576\r\n"
        assert c.call("CONFIG", "GET", "proto-max-bulk-len") == \
            b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n"


NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
HELLO_NOAUTH = (b"-NOAUTH HELLO must be called with the client already authenticated, "
                b"otherwise the HELLO AUTH <user> <pass> option can be used to authenticate "
                b"the client and select the RESP protocol version at the same time\r\n")


def test_requirepass(server_factory):
    srv = server_factory(args=["--requirepass", "secret"])
    with srv.client() as c:
        assert c.call("GET", "x") == NOAUTH
        assert c.call("PING") == NOAUTH
        assert c.call("AUTH", "wrong") == WRONGPASS
        assert c.call("AUTH", "default", "wrong") == WRONGPASS
        assert c.call("HELLO", "3") == HELLO_NOAUTH
        assert c.call("AUTH") == b"-ERR wrong number of arguments for 'auth' command\r\n"
        assert c.call("AUTH", "secret") == b"+OK\r\n"
        assert c.call("SET", "x", "1") == b"+OK\r\n"
        assert c.call("GET", "x") == b"$1\r\n1\r\n"
    with srv.client() as c:
        assert c.call("AUTH", "default", "secret") == b"+OK\r\n"
        assert c.call("GET", "x") == b"$1\r\n1\r\n"
    with srv.client() as c:
        assert c.call("HELLO", "3", "AUTH", "default", "wrong") == WRONGPASS
        reply = c.call("HELLO", "3", "AUTH", "default", "secret")
        assert reply.startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n")
        assert c.call("GET", "missing") == b"_\r\n"
    # RESET drops authentication
    with srv.client() as c:
        assert c.call("AUTH", "secret") == b"+OK\r\n"
        assert c.call("RESET") == b"+RESET\r\n"
        assert c.call("GET", "x") == NOAUTH


def test_unauthenticated_limits(server_factory):
    srv = server_factory(args=["--requirepass", "secret"])
    with srv.client() as c:
        c.send(b"*11\r\n")
        assert c.read_until_close(timeout=5) == \
            b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    with srv.client() as c:
        c.send(b"*1\r\n$16385\r\n")
        assert c.read_until_close(timeout=5) == \
            b"-ERR Protocol error: unauthenticated bulk length\r\n"
    with srv.client() as c:
        assert c.call("AUTH", "secret") == b"+OK\r\n"
        c.send(b"*11\r\n")
        assert c.read_available(quiet=0.3) == (b"", False)


def test_auth_without_password(raw):
    assert raw.call("AUTH", "x") == (
        b"-ERR AUTH <password> called without any password configured for the default "
        b"user. Are you sure your configuration is correct?\r\n")
    assert raw.call("AUTH", "default", "anything") == b"+OK\r\n"


def test_config_set_requirepass(raw, server):
    assert raw.call("CONFIG", "SET", "requirepass", "pw") == b"+OK\r\n"
    # the connection that set it stays authenticated
    assert raw.call("PING") == b"+PONG\r\n"
    with server.client() as c:
        assert c.call("PING") == NOAUTH
        assert c.call("AUTH", "pw") == b"+OK\r\n"
        assert c.call("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
    with server.client() as c:
        assert c.call("PING") == b"+PONG\r\n"
