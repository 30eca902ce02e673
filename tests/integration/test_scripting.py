"""Lua scripting through redis-py and raw connections: register_script with
its EVALSHA-then-EVAL fallback, an offset/XADD/offset script run from
several clients at once (atomic: no lost update), BUSY seen by others while
a script loops past busy-reply-threshold, SCRIPT KILL and FUNCTION KILL,
UNKILLABLE once a script wrote (then SHUTDOWN NOSAVE ends the server),
sandbox escapes refused, and what a script's writes become in the
append-only log (MULTI ... EXEC). Reply bytes of single commands are
compared with redis-server by tests/diff/cases/script.txt.
"""

import os
import re
import threading
import time

import pytest
import redis

BUSY_EVAL = (b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
             b"SHUTDOWN NOSAVE.\r\n")
BUSY_FUNCTION = (b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 b"SHUTDOWN NOSAVE.\r\n")
UNKILLABLE = (b"-UNKILLABLE Sorry the script already executed write commands against the "
              b"dataset. You can either wait the script termination or kill the server in a "
              b"hard way using the SHUTDOWN NOSAVE command.\r\n")
LOOP_SHA = "694a5fe1ddb97a4c6a1bf299d9537c7d3d0f84e7"  # sha1("while true do end")


@pytest.fixture
def url(server):
    return "redis://127.0.0.1:%d" % server.port


@pytest.fixture
def r(url):
    client = redis.Redis.from_url(url)
    yield client
    client.close()


@pytest.fixture
def busy_server(server_factory):
    """A server whose scripts turn BUSY after 100 ms."""
    return server_factory(args=["--busy-reply-threshold", "100"])


def wait_busy(c, expect=BUSY_EVAL, timeout=10):
    """PING from c until it gets the BUSY error (the script passed the
    threshold); returns the number of tries."""
    deadline = time.monotonic() + timeout
    tries = 0
    while True:
        tries += 1
        c.send_command("PING")
        reply = c.read_reply()
        if reply == expect:
            return tries
        assert reply == b"+PONG\r\n", reply
        assert time.monotonic() < deadline, "never BUSY"
        time.sleep(0.02)


def test_register_script_falls_back_to_eval_after_flush(r):
    incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert incr_by(keys=["n"], args=[5]) == 5
    assert r.script_exists(incr_by.sha) == [True]
    r.script_flush()
    assert r.script_exists(incr_by.sha) == [False]
    # EVALSHA answers NOSCRIPT; redis-py loads the body and runs it again.
    assert incr_by(keys=["n"], args=[2]) == 7
    assert r.script_exists(incr_by.sha) == [True]
    assert r.get("n") == b"7"


def test_script_returns_nested_values_to_redis_py(r):
    r.rpush("l", "a", "b")
    s = r.register_script("return {redis.call('LRANGE', KEYS[1], 0, -1), 3.7, 'x', {ok='FINE'}}")
    assert s(keys=["l"]) == [[b"a", b"b"], 3, b"x", b"FINE"]
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return redis.call('INCR', KEYS[1])", 1, "l")
    assert str(e.value).startswith("WRONGTYPE Operation against a key holding the wrong kind")


OFFSET_XADD = """
local off = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') + 1
redis.call('XADD', KEYS[2], '*', 'seq', off, 'by', ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], off)
return off
"""


def test_offset_xadd_script_from_several_clients_loses_no_update(url):
    workers, rounds = 4, 100
    results = {}

    def work(name):
        c = redis.Redis.from_url(url)
        try:
            s = c.register_script(OFFSET_XADD)
            results[name] = [s(keys=["offsets", "orders"], args=["orders", name])
                             for _ in range(rounds)]
        finally:
            c.close()

    threads = [threading.Thread(target=work, args=("w%d" % i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    c = redis.Redis.from_url(url)
    try:
        total = workers * rounds
        assert int(c.hget("offsets", "orders")) == total
        entries = c.xrange("orders")
        assert [int(f[b"seq"]) for _, f in entries] == list(range(1, total + 1))
        # Every script saw a distinct offset, each client in increasing order.
        seen = sorted(v for vals in results.values() for v in vals)
        assert seen == list(range(1, total + 1))
        for vals in results.values():
            assert vals == sorted(vals)
    finally:
        c.close()


def test_busy_until_script_kill(busy_server):
    a, b = busy_server.client(), busy_server.client()
    try:
        a.send_command("EVAL", "while true do end", "0")
        wait_busy(b)
        b.send_command("SET", "k", "v")
        assert b.read_reply() == BUSY_EVAL
        b.send_command("FUNCTION", "STATS")
        assert b.read_reply() == BUSY_EVAL
        b.send_command("SHUTDOWN")
        assert b.read_reply() == BUSY_EVAL
        b.send_command("FUNCTION", "KILL")
        assert b.read_reply() == b"-NOTBUSY No scripts in execution right now.\r\n"
        b.send_command("SCRIPT", "KILL")
        assert b.read_reply() == b"+OK\r\n"
        assert a.read_reply() == (b"-ERR Script killed by user with SCRIPT KILL... script: "
                                  + LOOP_SHA.encode() + b", on @user_script:1.\r\n")
        for c in (a, b):
            c.send_command("PING")
            assert c.read_reply() == b"+PONG\r\n"
        b.send_command("EXISTS", "k")
        assert b.read_reply() == b":0\r\n"
        b.send_command("SCRIPT", "KILL")
        assert b.read_reply() == b"-NOTBUSY No scripts in execution right now.\r\n"
    finally:
        a.close()
        b.close()


def test_caller_pipeline_waits_for_the_killed_script(busy_server):
    """Commands the script's caller pipelined behind EVAL run after it, in
    order, and see nothing of a killed read-only script."""
    a, b = busy_server.client(), busy_server.client()
    try:
        a.send(b"*3\r\n$4\r\nEVAL\r\n$17\r\nwhile true do end\r\n$1\r\n0\r\n"
               b"*2\r\n$4\r\nECHO\r\n$5\r\nafter\r\n")
        wait_busy(b)
        b.send_command("SCRIPT", "KILL")
        assert b.read_reply() == b"+OK\r\n"
        assert a.read_reply().startswith(b"-ERR Script killed by user with SCRIPT KILL...")
        assert a.read_reply() == b"$5\r\nafter\r\n"
    finally:
        a.close()
        b.close()


def test_function_kill_ends_a_looping_function(busy_server):
    a, b = busy_server.client(), busy_server.client()
    try:
        b.send_command("FUNCTION", "LOAD",
                       "#!lua name=loop\nredis.register_function('spin', "
                       "function() while true do end end)")
        assert b.read_reply() == b"$4\r\nloop\r\n"
        a.send_command("FCALL", "spin", "0")
        wait_busy(b, BUSY_FUNCTION)
        b.send_command("SCRIPT", "KILL")
        assert b.read_reply() == BUSY_FUNCTION
        b.send_command("FUNCTION", "STATS")
        stats = b.read_reply()
        assert stats.startswith(b"*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n"
                                b"$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n"
                                b"$11\r\nduration_ms\r\n:")
        b.send_command("FUNCTION", "KILL")
        assert b.read_reply() == b"+OK\r\n"
        assert a.read_reply() == (b"-ERR Script killed by user with SCRIPT KILL... script: spin, "
                                  b"on @user_function:2.\r\n")
        a.send_command("PING")
        assert a.read_reply() == b"+PONG\r\n"
    finally:
        a.close()
        b.close()


def test_unkillable_after_a_write_then_shutdown_nosave(busy_server):
    a, b = busy_server.client(), busy_server.client()
    try:
        a.send_command("EVAL", "redis.call('SET', 'w', '1') while true do end", "0")
        wait_busy(b)
        b.send_command("SCRIPT", "KILL")
        assert b.read_reply() == UNKILLABLE
        b.send_command("FUNCTION", "KILL")
        assert b.read_reply() == UNKILLABLE
        b.send_command("SHUTDOWN", "NOSAVE")
        assert b.read_until_close(timeout=10) == b""
        assert busy_server.wait_exit(timeout=20) == 0
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("body, expected", [
    ("os.execute('true')",
     "user_script:1: Script attempted to access nonexistent global variable 'os'"),
    ("io.open('/etc/passwd')",
     "user_script:1: Script attempted to access nonexistent global variable 'io'"),
    ("return require('os')",
     "user_script:1: Script attempted to access nonexistent global variable 'require'"),
    ("return dofile('/etc/passwd')",
     "user_script:1: Script attempted to access nonexistent global variable 'dofile'"),
    ("return getfenv(0)",
     "user_script:1: Script attempted to access nonexistent global variable 'getfenv'"),
    ("setfenv(1, {})",
     "user_script:1: Script attempted to access nonexistent global variable 'setfenv'"),
    ("setmetatable(_G, nil)", "Attempt to modify a readonly table"),
    ("rawset(_G, 'os', {})", "Attempt to modify a readonly table"),
    ("rawset(redis, 'call', tostring)", "Attempt to modify a readonly table"),
    ("_G.os = {}", "user_script:1: Attempt to modify a readonly table"),
    ("redis.call = function() end", "user_script:1: Attempt to modify a readonly table"),
    ("string.rep = nil", "user_script:1: Attempt to modify a readonly table"),
    ("getmetatable('').__index = {}", "user_script:1: Attempt to modify a readonly table"),
    ("getmetatable('').__index.upper = nil", "user_script:1: Attempt to modify a readonly table"),
    ("newproxy(true)",
     "user_script:1: Script attempted to access nonexistent global variable 'newproxy'"),
])
def test_sandbox_escape_refused(r, body, expected):
    with pytest.raises(redis.ResponseError) as e:
        r.eval(body, 0)
    assert str(e.value).startswith(expected + " script: "), str(e.value)


def test_bytecode_is_not_loaded(r):
    body = ("local f, err = loadstring(string.dump(function() return 1 end)) "
            "return {tostring(f), err}")
    assert r.eval(body, 0) == [b"nil", b"Loading binary chunks is not allowed"]
    body = ("local code = string.dump(function() return 1 end) local done = false "
            "local f, err = load(function() if done then return nil end done = true "
            "return code end) return {tostring(f), err}")
    assert r.eval(body, 0) == [b"nil", b"Loading binary chunks is not allowed"]
    assert r.eval("return loadstring('return 40 + 2')()", 0) == 42


def test_globals_of_one_script_do_not_leak_into_the_next(r):
    with pytest.raises(redis.ResponseError):
        r.eval("leaked = 1", 0)
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return leaked", 0)
    assert "nonexistent global variable 'leaked'" in str(e.value)


def test_blocking_commands_inside_a_script_do_not_block(r):
    """Nothing waits inside a script: XREAD BLOCK is refused with Redis
    7.0's error and BLPOP (a noscript command) is refused outright."""
    start = time.monotonic()
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return redis.call('XREAD', 'BLOCK', '0', 'STREAMS', 's', '$')", 0)
    assert str(e.value).startswith("XREAD command is not allowed with BLOCK option from scripts")
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return redis.call('BLPOP', 'l', '0')", 0)
    assert str(e.value).startswith("This Redis command is not allowed from script")
    assert time.monotonic() - start < 2
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return redis.call('BLPOP', 'l', '0')", 0)
    assert str(e.value).startswith("This Redis command is not allowed from script script: ")


AOF_ARGS = ["--appendonly", "yes", "--appendfsync", "always"]


def read_log(srv):
    """Commands of the incr file of srv's append-only log, SELECT left out."""
    d = os.path.join(srv.dir, "appendonlydir")
    deadline = time.monotonic() + 5
    while not os.path.exists(os.path.join(d, "appendonly.aof.manifest")):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with open(os.path.join(d, "appendonly.aof.manifest")) as f:
        incr = [line.split()[1] for line in f if line.split() and line.split()[-1] == "i"][0]
    with open(os.path.join(d, incr), "rb") as f:
        data = f.read()
    cmds, i = [], 0
    while i < len(data):
        j = data.index(b"\r\n", i)
        n, i = int(data[i + 1:j]), j + 2
        args = []
        for _ in range(n):
            j = data.index(b"\r\n", i)
            ln, i = int(data[i + 1:j]), j + 2
            args.append(data[i:i + ln])
            i += ln + 2
        cmds.append(args)
    return [c for c in cmds if c[0].upper() != b"SELECT"]


def test_script_writes_are_logged_as_one_transaction(server_factory):
    srv = server_factory(args=AOF_ARGS)
    c = redis.Redis(port=srv.port)
    try:
        before = len(read_log(srv))
        assert c.eval("redis.call('SET', 'a', '1') redis.call('INCR', 'n') "
                      "return redis.call('GET', 'a')", 0) == b"1"
        assert c.eval("return redis.call('GET', 'a')", 0) == b"1"  # logs nothing
        p = c.pipeline(transaction=True)
        p.eval("return redis.call('INCR', 'n')", 0).set("b", "2")
        assert p.execute() == [2, True]
        c.function_load("#!lua name=lib\nredis.register_function('w', "
                        "function(k, a) return redis.call('SET', k[1], a[1]) end)")
        assert c.fcall("w", 1, "fk", "fv") == b"OK"
        log = read_log(srv)[before:]
        assert log == [
            [b"MULTI"], [b"SET", b"a", b"1"], [b"INCR", b"n"], [b"EXEC"],
            [b"MULTI"], [b"INCR", b"n"], [b"SET", b"b", b"2"], [b"EXEC"],
            [b"FUNCTION", b"LOAD", b"#!lua name=lib\nredis.register_function('w', "
             b"function(k, a) return redis.call('SET', k[1], a[1]) end)"],
            [b"MULTI"], [b"SET", b"fk", b"fv"], [b"EXEC"],
        ]
    finally:
        c.close()


def test_functions_come_back_after_a_restart(server_factory):
    srv = server_factory(args=AOF_ARGS)
    c = redis.Redis(port=srv.port)
    c.function_load("#!lua name=lib\nredis.register_function('two', function() return 2 end)")
    c.close()
    d = srv.dir
    srv.kill()
    srv.returncode = srv.proc.returncode
    srv.expect_failure = True  # killed on purpose
    srv2 = server_factory(args=["--dir", d] + AOF_ARGS)
    c = redis.Redis(port=srv2.port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                assert c.fcall("two", 0) == 2
                break
            except redis.BusyLoadingError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        c.close()


@pytest.mark.parametrize("how", ["rewrite", "save"])
def test_functions_survive_a_rewrite_or_a_snapshot(server_factory, how):
    """The libraries live in the snapshot (aux field "functions"): after
    BGREWRITEAOF (the log restarts from a new base) or SAVE with the log
    off, a restart still has them, and a damaged library is not loaded."""
    args = AOF_ARGS if how == "rewrite" else ["--appendonly", "no"]
    srv = server_factory(args=args)
    c = redis.Redis(port=srv.port)
    c.function_load("#!lua name=lib\nredis.register_function('two', function() return 2 end)")
    c.set("k", "v")
    if how == "rewrite":
        assert c.bgrewriteaof()
        deadline = time.monotonic() + 10
        while c.info("persistence")["aof_rewrite_in_progress"] or \
                c.info("persistence")["aof_rewrites"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # Only the base can hold the library now: the log restarted after it.
        incr = [n for n in os.listdir(os.path.join(srv.dir, "appendonlydir"))
                if n.endswith(".incr.aof")]
        for n in incr:
            with open(os.path.join(srv.dir, "appendonlydir", n), "rb") as f:
                assert b"FUNCTION" not in f.read()
    else:
        assert c.save()
    c.close()
    d = srv.dir
    srv.stop()
    srv2 = server_factory(args=["--dir", d] + args)
    c = redis.Redis(port=srv2.port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                assert c.fcall("two", 0) == 2
                break
            except redis.BusyLoadingError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert c.get("k") == b"v"
        assert [lib[b"library_name"] for lib in
                [dict(zip(x[::2], x[1::2])) for x in c.execute_command("FUNCTION", "LIST")]] \
            == [b"lib"]
    finally:
        c.close()


def test_function_dump_restore_policies(r):
    raw = redis.Redis(connection_pool=r.connection_pool)
    raw.response_callbacks.clear()
    r.function_load("#!lua name=lib1\nredis.register_function('a1', function() return 1 end)")
    r.function_load("#!lua name=lib2\nredis.register_function('a2', function() return 2 end)")
    payload = r.function_dump()
    with pytest.raises(redis.ResponseError) as e:
        raw.execute_command("FUNCTION", "RESTORE", payload)
    assert str(e.value) == "Library lib1 already exists"
    with pytest.raises(redis.ResponseError) as e:
        raw.execute_command("FUNCTION", "RESTORE", payload[:-1])
    assert str(e.value) == "DUMP payload version or checksum are wrong"
    with pytest.raises(redis.ResponseError) as e:
        raw.execute_command("FUNCTION", "RESTORE", payload, "BAD")
    assert str(e.value) == ("Wrong restore policy given, value should be either FLUSH, APPEND "
                            "or REPLACE.")
    assert raw.execute_command("FUNCTION", "RESTORE", payload, "REPLACE") == b"OK"
    r.function_delete("lib2")
    r.function_load("#!lua name=other\nredis.register_function('a2', function() return 22 end)")
    # REPLACE still refuses a function name another library owns; nothing changes.
    with pytest.raises(redis.ResponseError) as e:
        raw.execute_command("FUNCTION", "RESTORE", payload, "REPLACE")
    assert str(e.value) == "Function a2 already exists"
    assert r.fcall("a1", 0) == 1
    assert r.fcall("a2", 0) == 22
    assert raw.execute_command("FUNCTION", "RESTORE", payload, "FLUSH") == b"OK"
    assert r.fcall("a2", 0) == 2
    libs = sorted(lib[b"library_name"] for lib in
                  [dict(zip(x[::2], x[1::2])) for x in raw.execute_command("FUNCTION", "LIST")])
    assert libs == [b"lib1", b"lib2"]
    r.function_flush()
    assert raw.execute_command("FUNCTION", "RESTORE", payload) == b"OK"
    assert r.fcall("a1", 0) == 1


def test_sigterm_while_busy_stops_a_read_only_script_and_exits_cleanly(busy_server):
    a, b = busy_server.client(), busy_server.client()
    try:
        a.send_command("EVAL", "while true do end", "0")
        wait_busy(b)
        # SIGTERM is served once the script stopped; exit code 0 (ASan clean).
        assert busy_server.stop() == 0
    finally:
        a.close()
        b.close()


def test_shutdown_nosave_drops_the_half_run_script_from_the_log(server_factory):
    srv = server_factory(args=["--busy-reply-threshold", "100"] + AOF_ARGS)
    a, b = srv.client(), srv.client()
    try:
        b.send_command("SET", "before", "1")
        assert b.read_reply() == b"+OK\r\n"
        a.send_command("EVAL", "redis.call('SET', 'w', '1') while true do end", "0")
        wait_busy(b)
        b.send_command("SHUTDOWN", "NOSAVE")
        assert b.read_until_close(timeout=10) == b""
        assert srv.wait_exit(timeout=20) == 0
    finally:
        a.close()
        b.close()
    log = read_log(srv)
    assert [b"SET", b"before", b"1"] in log
    assert [b"MULTI"] not in log and [b"SET", b"w", b"1"] not in log


def test_script_push_wakes_a_blocked_client_after_the_script(server):
    a, b = server.client(), server.client()
    try:
        a.send_command("BLPOP", "q", "0")
        time.sleep(0.1)
        b.send_command("EVAL", "redis.call('RPUSH', KEYS[1], 'x', 'y') "
                       "return redis.call('LLEN', KEYS[1])", "1", "q")
        # The script saw both elements: the waiter is served after it.
        assert b.read_reply() == b":2\r\n"
        assert a.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
        b.send_command("LRANGE", "q", "0", "-1")
        assert b.read_reply() == b"*1\r\n$1\r\ny\r\n"
    finally:
        a.close()
        b.close()


def test_script_write_fails_a_watching_transaction(r, url):
    other = redis.Redis.from_url(url)
    try:
        with r.pipeline(transaction=True) as p:
            p.watch("k")
            other.eval("return redis.call('SET', KEYS[1], 'changed')", 1, "k")
            p.multi()
            p.set("k", "mine")
            with pytest.raises(redis.WatchError):
                p.execute()
        assert r.get("k") == b"changed"
    finally:
        other.close()


def test_monitor_shows_the_script_then_its_commands(server):
    m, c = server.client(), server.client()
    try:
        m.send_command("MONITOR")
        assert m.read_reply() == b"+OK\r\n"
        c.send_command("EVAL", "return redis.call('SET', 'a', 'b')", "0")
        assert c.read_reply() == b"+OK\r\n"
        c.send_command("EVALSHA", "f" * 40, "0")
        assert c.read_reply() == b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
        lines = [re.sub(rb"\[0 127\.0\.0\.1:\d+\]", b"[0 C]",
                        re.sub(rb"^\+\d+\.\d{6} ", b"+T ", m.read_reply())) for _ in range(3)]
        assert lines == [
            b"+T [0 C] \"EVAL\" \"return redis.call('SET', 'a', 'b')\" \"0\"\r\n",
            b"+T [0 lua] \"SET\" \"a\" \"b\"\r\n",
            b"+T [0 C] \"EVALSHA\" \"" + b"f" * 40 + b"\" \"0\"\r\n",
        ]
    finally:
        m.close()
        c.close()
