"""redis-cli against runnel-server: plain commands, raw and --no-raw output.

redis-cli prints raw values when stdout is not a terminal (as here) and
the redis-cli "(integer) 1" / quoted formatting with --no-raw.
"""

import shutil
import subprocess

import pytest

CLI = shutil.which("redis-cli")
pytestmark = pytest.mark.skipif(CLI is None, reason="redis-cli not installed")


def cli(server, *args, stdin=None):
    p = subprocess.run([CLI, "-h", "127.0.0.1", "-p", str(server.port)] + list(args),
                       input=stdin, capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


def test_ping(server):
    assert cli(server, "ping") == "PONG\n"
    assert cli(server, "PING", "hello") == "hello\n"


def test_set_get(server):
    assert cli(server, "set", "a", "b") == "OK\n"
    assert cli(server, "get", "a") == "b\n"
    assert cli(server, "get", "missing") == "\n"
    assert cli(server, "--no-raw", "get", "missing") == "(nil)\n"


def test_raw_and_no_raw(server):
    cli(server, "set", "a", "b")
    assert cli(server, "--no-raw", "get", "a") == '"b"\n'
    assert cli(server, "--raw", "get", "a") == "b\n"
    assert cli(server, "incr", "n") == "1\n"
    assert cli(server, "--no-raw", "incr", "n") == "(integer) 2\n"
    assert cli(server, "--no-raw", "set", "a", "c") == "OK\n"
    assert cli(server, "mset", "x", "1", "y", "2") == "OK\n"
    assert cli(server, "mget", "x", "missing", "y") == "1\n\n2\n"
    assert cli(server, "--no-raw", "mget", "x", "missing", "y") == \
        '1) "1"\n2) (nil)\n3) "2"\n'
    assert cli(server, "--no-raw", "set", "sp", "a b\n") == "OK\n"
    assert cli(server, "--no-raw", "get", "sp") == '"a b\\n"\n'


def test_errors(server):
    cli(server, "set", "s", "x")
    # in raw mode redis-cli ends an error with an extra newline
    assert cli(server, "incr", "s") == "ERR value is not an integer or out of range\n\n"
    assert cli(server, "--no-raw", "incr", "s") == \
        "(error) ERR value is not an integer or out of range\n"
    assert cli(server, "--no-raw", "nosuch", "a") == \
        "(error) ERR unknown command 'nosuch', with args beginning with: 'a' \n"


def test_stdin_commands(server):
    out = cli(server, stdin=b"SET k 1\nINCR k\nGET k\n")
    assert out == "OK\n2\n2\n"


def test_info_server(server):
    out = cli(server, "info", "server")
    assert "redis_version:" in out
    assert out.startswith("# Server\r\n")


def test_dbsize_and_flushall(server):
    cli(server, "set", "a", "1")
    assert cli(server, "--no-raw", "dbsize") == "(integer) 1\n"
    assert cli(server, "flushall") == "OK\n"
    assert cli(server, "dbsize") == "0\n"
