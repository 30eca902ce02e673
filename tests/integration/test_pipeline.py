"""Pipelining: many commands in one write, every reply read back exactly.

The commands go out in ONE sendall, so the server sees large, arbitrarily
split read buffers and must answer all of them in order.
"""

import runnel


def test_set_get_10000(raw):
    n = 10000
    buf = bytearray()
    for i in range(n):
        buf += runnel.encode_command(["SET", "k%d" % i, "v%d" % i])
    for i in range(n):
        buf += runnel.encode_command(["GET", "k%d" % i])
    raw.send(bytes(buf))
    expected = bytearray(b"+OK\r\n" * n)
    for i in range(n):
        v = b"v%d" % i
        expected += b"$%d\r\n%s\r\n" % (len(v), v)
    got = raw.read_exact(len(expected), timeout=60)
    assert got == bytes(expected)
    assert raw.call("DBSIZE") == b":%d\r\n" % n


def test_incr_pipelined(raw):
    n = 5000
    raw.send(runnel.encode_command(["INCR", "ctr"]) * n)
    expected = b"".join(b":%d\r\n" % i for i in range(1, n + 1))
    assert raw.read_exact(len(expected), timeout=60) == expected
    assert raw.call("GET", "ctr") == b"$4\r\n5000\r\n"


def test_inline_pipelined(raw):
    n = 2000
    raw.send(b"PING\r\n" * n + b"ECHO done\r\n")
    expected = b"+PONG\r\n" * n + b"$4\r\ndone\r\n"
    assert raw.read_exact(len(expected), timeout=60) == expected


def test_mixed_errors_in_pipeline(raw):
    cmds = [["SET", "s", "x"], ["INCR", "s"], ["NOSUCH"], ["GET", "s"], ["GET"]]
    raw.send(b"".join(runnel.encode_command(c) for c in cmds) * 100)
    one = (b"+OK\r\n"
           b"-ERR value is not an integer or out of range\r\n"
           b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n"
           b"$1\r\nx\r\n"
           b"-ERR wrong number of arguments for 'get' command\r\n")
    assert raw.read_exact(len(one) * 100, timeout=60) == one * 100


def test_byte_by_byte(raw):
    data = runnel.encode_command(["SET", "slow", "a\r\nb"]) + runnel.encode_command(
        ["GET", "slow"])
    for i in range(len(data)):
        raw.send(data[i:i + 1])
    assert raw.read_reply() == b"+OK\r\n"
    assert raw.read_reply() == b"$4\r\na\r\nb\r\n"


def test_large_value(raw):
    big = b"x" * (3 * 1024 * 1024)
    raw.send(runnel.encode_command([b"SET", b"big", big]) + runnel.encode_command(
        [b"STRLEN", b"big"]) + runnel.encode_command([b"GET", b"big"]))
    assert raw.read_reply() == b"+OK\r\n"
    assert raw.read_reply() == b":%d\r\n" % len(big)
    assert raw.read_reply(timeout=30) == b"$%d\r\n%s\r\n" % (len(big), big)
