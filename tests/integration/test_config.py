"""Configuration: file syntax, command-line overrides, CONFIG GET/SET/
REWRITE/RESETSTAT, and the fatal error for a bad directive.
"""

import os

import pytest

CONF = """# Runnel test configuration
# second comment line

hz 20
   # indented comment
timeout 30
requirepass "my secret"
loglevel warning
maxclients 500
tcp-keepalive 60
"""


def pairs(reply_client, *patterns):
    """CONFIG GET as a dict of str -> str (order is unspecified)."""
    from runnel import split_aggregate
    frame = reply_client.call("CONFIG", "GET", *patterns)
    head, elems = split_aggregate(frame)
    vals = []
    for e in elems:
        assert e[:1] == b"$", frame
        body = e[e.index(b"\r\n") + 2:-2]
        vals.append(body.decode())
    assert len(vals) % 2 == 0
    return dict(zip(vals[0::2], vals[1::2]))


def write_conf(tmp_path, text, name="x.conf"):
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def authed(srv):
    c = srv.client()
    assert c.call("AUTH", "my secret") == b"+OK\r\n"
    return c


def test_file_and_overrides(server_factory, tmp_path):
    path = write_conf(tmp_path, CONF)
    srv = server_factory(config=path, args=["--hz", "15", "--tcp-keepalive", "70"])
    with srv.client() as c:
        assert c.call("PING") == b"-NOAUTH Authentication required.\r\n"
    with authed(srv) as c:
        got = pairs(c, "hz", "timeout", "loglevel", "maxclients", "tcp-keepalive",
                    "requirepass")
        assert got == {"hz": "15", "timeout": "30", "loglevel": "warning",
                       "maxclients": "500", "tcp-keepalive": "70",
                       "requirepass": "my secret"}


def test_config_get_patterns(server):
    with server.client() as c:
        got = pairs(c, "hz", "timeout", "maxclients", "tcp-*", "nosuch")
        assert got == {"hz": "10", "timeout": "0", "maxclients": "10000",
                       "tcp-keepalive": "300", "tcp-backlog": "511"}
        assert pairs(c, "slowlog-*") == {"slowlog-log-slower-than": "10000",
                                         "slowlog-max-len": "128"}
        assert c.call("CONFIG", "GET", "nosuch*") == b"*0\r\n"


def test_config_set_atomic(server):
    with server.client() as c:
        assert c.call("CONFIG", "SET", "hz", "33", "timeout", "40") == b"+OK\r\n"
        assert pairs(c, "hz", "timeout") == {"hz": "33", "timeout": "40"}
        assert c.call("CONFIG", "SET", "hz", "44", "timeout", "-1") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument "
            b"must be between 0 and 2147483647 inclusive\r\n")
        assert c.call("CONFIG", "SET", "hz", "44", "maxclients", "0", "timeout", "5") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument "
            b"must be between 1 and 4294967295 inclusive\r\n")
        assert c.call("CONFIG", "SET", "timeout", "5", "nosuch", "1") == (
            b"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n")
        assert c.call("CONFIG", "SET", "hz", "44", "hz", "45") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate "
            b"parameter\r\n")
        assert pairs(c, "hz", "timeout", "maxclients") == {
            "hz": "33", "timeout": "40", "maxclients": "10000"}


def test_config_rewrite(server_factory, tmp_path):
    path = write_conf(tmp_path, CONF)
    srv = server_factory(config=path)
    with authed(srv) as c:
        assert c.call("CONFIG", "SET", "timeout", "45", "maxclients", "600") == b"+OK\r\n"
        assert c.call("CONFIG", "SET", "slowlog-max-len", "77") == b"+OK\r\n"
        assert c.call("CONFIG", "REWRITE") == b"+OK\r\n"
    with open(path) as f:
        lines = f.read().split("\n")
    orig = CONF.split("\n")
    # comments kept, values changed in place
    assert lines[0] == "# Runnel test configuration"
    assert lines[1] == "# second comment line"
    assert lines[3] == "hz 20"
    assert lines[4].strip() == "# indented comment"
    assert lines[5] == "timeout 45"
    assert lines[orig.index("maxclients 500")] == "maxclients 600"
    assert lines[orig.index("loglevel warning")] == "loglevel warning"
    assert "timeout 30" not in lines and "maxclients 500" not in lines
    assert "slowlog-max-len 77" in lines
    srv.stop()
    # the rewritten file loads back with the same values
    srv2 = server_factory(config=path)
    with authed(srv2) as c:
        assert pairs(c, "hz", "timeout", "maxclients", "slowlog-max-len", "requirepass",
                     "loglevel") == {"hz": "20", "timeout": "45", "maxclients": "600",
                                     "slowlog-max-len": "77", "requirepass": "my secret",
                                     "loglevel": "warning"}


def test_config_rewrite_without_file(server):
    with server.client() as c:
        assert c.call("CONFIG", "REWRITE") == \
            b"-ERR The server is running without a config file\r\n"


@pytest.mark.parametrize("text,line,shown,why", [
    ("hz 10\nfoo bar\n", 2, "'foo bar'", "Bad directive or wrong number of arguments"),
    ("# c\n\nhz abc\n", 3, "'hz \"abc\"'", "argument couldn't be parsed into an integer"),
])
def test_bad_config_file(server_factory, tmp_path, text, line, shown, why):
    path = write_conf(tmp_path, text, "bad.conf")
    srv = server_factory(config=path, start=False)
    srv.expect_failure = True
    rc = srv.wait_exit(timeout=10)
    assert rc != 0
    err = srv.stderr()
    assert "*** FATAL CONFIG FILE ERROR" in err
    assert "Reading the configuration file, at line %d" % line in err
    assert why in err


def test_bad_command_line_option(server_factory):
    srv = server_factory(args=["--nosuchoption", "1"], start=False)
    srv.expect_failure = True
    assert srv.wait_exit(timeout=10) != 0
    err = srv.stderr()
    assert "*** FATAL CONFIG FILE ERROR" in err
    assert "Bad directive or wrong number of arguments" in err


def stats(c):
    text = c.call("INFO", "stats").decode()
    out = {}
    for line in text.split("\r\n"):
        if ":" in line and not line.startswith("$"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def test_config_resetstat(server):
    with server.client() as c:
        for i in range(20):
            c.call("GET", "missing%d" % i)
        c.call("SET", "k", "v")
        c.call("GET", "k")
        before = stats(c)
        assert int(before["total_commands_processed"]) >= 22
        assert before["keyspace_misses"] == "20"
        assert before["keyspace_hits"] == "1"
        assert c.call("CONFIG", "RESETSTAT") == b"+OK\r\n"
        after = stats(c)
        assert after["total_commands_processed"] == "1"
        assert after["keyspace_misses"] == "0"
        assert after["keyspace_hits"] == "0"
        assert after["total_connections_received"] == "0"
        assert c.call("CONFIG", "RESETSTAT", "x") == \
            b"-ERR wrong number of arguments for 'config|resetstat' command\r\n"
