"""Persistence: the append-only log (manifest, base, incr files), snapshots
(SAVE, BGSAVE, dump.rdb), rewrites, loading at start, torn and corrupt logs,
runnel-check-aof, INFO persistence, DEBUG RELOAD/LOADAOF.

Each restart starts a second server on the first one's --dir (arguments
given later override earlier ones).
"""

import os
import subprocess
import time

import pytest

import runnel

AOFDIR = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"


def ddir(srv):
    """The data directory srv runs on (a restarted server keeps the first one's)."""
    return getattr(srv, "data_dir", srv.dir)


def restart(server_factory, old, args=(), start=True):
    """A new server on old's data directory (old must have exited)."""
    d = ddir(old)
    srv = server_factory(args=["--dir", d] + list(args), start=start)
    srv.data_dir = d
    return srv


def sigkill(srv):
    """SIGKILL, as a crash; the fixture then expects no clean exit."""
    srv.kill()
    srv.returncode = srv.proc.returncode
    srv.expect_failure = True


def aof_files(srv):
    return sorted(os.listdir(os.path.join(ddir(srv), AOFDIR)))


def manifest(srv):
    with open(os.path.join(ddir(srv), AOFDIR, MANIFEST)) as f:
        return f.read()


def bulk_value(frame):
    head, _, rest = frame.partition(b"\r\n")
    assert head.startswith(b"$"), frame
    n = int(head[1:])
    assert rest[n:] == b"\r\n"
    return rest[:n]


def info_fields(c, section="persistence"):
    text = bulk_value(c.call("INFO", section)).decode()
    fields = []
    for line in text.split("\r\n"):
        if line and not line.startswith("#"):
            k, v = line.split(":", 1)
            fields.append((k, v))
    return fields


def info(c, section="persistence"):
    return dict(info_fields(c, section))


def wait_info(c, key, value, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if info(c).get(key) == value:
            return
        time.sleep(0.05)
    raise AssertionError("%s never became %s: %r" % (key, value, info(c)))


def fill(c):
    """One value of each type, in two databases."""
    assert c.call("SET", "str", "hello world") == b"+OK\r\n"
    assert c.call("XADD", "stream", "1-1", "f", "v") == b"$3\r\n1-1\r\n"
    assert c.call("XADD", "stream", "2-1", "a", "1", "b", "2") == b"$3\r\n2-1\r\n"
    assert c.call("HSET", "hash", "f1", "v1", "f2", "v2") == b":2\r\n"
    assert c.call("RPUSH", "list", "a", "b", "c") == b":3\r\n"
    assert c.call("SADD", "set", "x") == b":1\r\n"
    assert c.call("INCR", "counter") == b":1\r\n"
    assert c.call("INCR", "counter") == b":2\r\n"
    assert c.call("DEL", "gone") == b":0\r\n"
    assert c.call("SELECT", "3") == b"+OK\r\n"
    assert c.call("SET", "in3", "three") == b"+OK\r\n"
    assert c.call("SELECT", "0") == b"+OK\r\n"


def check(c, extra=0):
    """fill()'s data is all there (extra: keys the test added in db 0)."""
    assert c.call("GET", "str") == b"$11\r\nhello world\r\n"
    assert c.call("XRANGE", "stream", "-", "+") == (
        b"*2\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
        b"*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n")
    assert c.call("HGET", "hash", "f2") == b"$2\r\nv2\r\n"
    assert c.call("HLEN", "hash") == b":2\r\n"
    assert c.call("LRANGE", "list", "0", "-1") == b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    assert c.call("SISMEMBER", "set", "x") == b":1\r\n"
    assert c.call("GET", "counter") == b"$1\r\n2\r\n"
    assert c.call("DBSIZE") == b":%d\r\n" % (6 + extra)
    assert c.call("SELECT", "3") == b"+OK\r\n"
    assert c.call("GET", "in3") == b"$5\r\nthree\r\n"
    assert c.call("DBSIZE") == b":1\r\n"
    assert c.call("SELECT", "0") == b"+OK\r\n"


def test_graceful_restart_keeps_data(server_factory):
    a = server_factory()
    with a.client() as c:
        fill(c)
        assert c.call("XADD", "auto", "*", "k", "v").startswith(b"$")
        auto = c.call("XRANGE", "auto", "-", "+")
    assert a.stop() == 0
    assert aof_files(a) == ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", MANIFEST]
    assert manifest(a) == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                           "file appendonly.aof.1.incr.aof seq 1 type i\n")
    b = restart(server_factory, a)
    with b.client() as c:
        check(c, extra=1)
        # XADD * was logged with the ID it generated
        assert c.call("XRANGE", "auto", "-", "+") == auto
    assert "DB loaded from append only file" in b.stdout()


def test_sigkill_with_appendfsync_always(server_factory):
    a = server_factory(args=["--appendfsync", "always"])
    with a.client() as c:
        fill(c)
    sigkill(a)
    b = restart(server_factory, a)
    with b.client() as c:
        check(c)
        # the log continues in the same incr file after a restart
        assert c.call("SET", "after", "1") == b"+OK\r\n"
    sigkill(b)
    d = restart(server_factory, b, ["--appendfsync", "always"])
    with d.client() as c:
        assert c.call("GET", "after") == b"$1\r\n1\r\n"
        check(c, extra=1)


def test_expired_key_is_logged_as_del(server_factory):
    a = server_factory(args=["--appendfsync", "always"])
    with a.client() as c:
        assert c.call("SET", "k", "v", "PX", "50") == b"+OK\r\n"
        time.sleep(0.2)
        assert c.call("GET", "k") == b"$-1\r\n"
    sigkill(a)
    with open(os.path.join(a.dir, AOFDIR, "appendonly.aof.1.incr.aof"), "rb") as f:
        log = f.read()
    assert log.endswith(b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n")


def test_save_and_load_with_appendonly_no(server_factory):
    a = server_factory(args=["--appendonly", "no"])
    with a.client() as c:
        fill(c)
        assert c.call("SAVE") == b"+OK\r\n"
        assert info(c)["rdb_changes_since_last_save"] == "0"
        assert info(c)["aof_enabled"] == "0"
    sigkill(a)
    assert os.path.exists(os.path.join(a.dir, "dump.rdb"))
    assert not os.path.exists(os.path.join(a.dir, AOFDIR))
    b = restart(server_factory, a, ["--appendonly", "no"])
    with b.client() as c:
        check(c)
        assert info(c)["rdb_last_load_keys_loaded"] == "7"


def test_shutdown_saves_with_save_points(server_factory):
    a = server_factory(args=["--appendonly", "no", "--dbfilename", "snap.rdb"])
    with a.client() as c:
        fill(c)
    assert a.stop() == 0
    assert os.path.exists(os.path.join(a.dir, "snap.rdb"))
    # SHUTDOWN NOSAVE does not save; SHUTDOWN SAVE does even without save points
    b = restart(server_factory, a, ["--appendonly", "no", "--dbfilename", "snap.rdb",
                                    "--save", ""])
    with b.client() as c:
        check(c)
        assert c.call("SET", "str", "changed") == b"+OK\r\n"
        c.send_command("SHUTDOWN", "SAVE")
        assert c.read_until_close(timeout=10) == b""
    assert b.wait_exit() == 0
    d = restart(server_factory, b, ["--appendonly", "no", "--dbfilename", "snap.rdb",
                                    "--save", ""])
    with d.client() as c:
        assert c.call("GET", "str") == b"$7\r\nchanged\r\n"


def test_dump_loaded_then_log_created(server_factory):
    a = server_factory(args=["--appendonly", "no"])
    with a.client() as c:
        fill(c)
        assert c.call("SAVE") == b"+OK\r\n"
    sigkill(a)
    # appendonly yes with no manifest: dump.rdb is loaded and becomes the base
    b = restart(server_factory, a)
    with b.client() as c:
        check(c)
    sigkill(b)
    os.unlink(os.path.join(a.dir, "dump.rdb"))
    d = restart(server_factory, b)
    with d.client() as c:
        check(c)


def test_bgrewriteaof_switches_manifest(server_factory):
    a = server_factory(args=["--appendfsync", "always"])
    with a.client() as c:
        fill(c)
        for _ in range(300):
            c.send_command("INCR", "big")
        for i in range(300):
            assert c.read_reply() == b":%d\r\n" % (i + 1)
        before = os.path.getsize(os.path.join(a.dir, AOFDIR, "appendonly.aof.1.incr.aof"))
        assert c.call("BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
        wait_info(c, "aof_rewrite_in_progress", "0")
        wait_info(c, "aof_rewrites", "1")
        assert info(c)["aof_last_bgrewrite_status"] == "ok"
        assert manifest(a) == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                               "file appendonly.aof.2.incr.aof seq 2 type i\n")
        assert aof_files(a) == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof",
                                MANIFEST]
        assert os.path.getsize(os.path.join(a.dir, AOFDIR, "appendonly.aof.2.incr.aof")) == 0
        base = os.path.getsize(os.path.join(a.dir, AOFDIR, "appendonly.aof.2.base.rdb"))
        assert base < before
        assert info(c)["aof_base_size"] == str(base)
        assert c.call("SET", "post", "rewrite") == b"+OK\r\n"
    sigkill(a)
    b = restart(server_factory, a)
    with b.client() as c:
        assert c.call("GET", "big") == b"$3\r\n300\r\n"
        assert c.call("GET", "post") == b"$7\r\nrewrite\r\n"
        assert c.call("DEL", "big", "post") == b":2\r\n"
        check(c)


def test_bgsave_and_lastsave(server_factory):
    a = server_factory()
    with a.client() as c:
        first = int(c.call("LASTSAVE")[1:-2])
        assert abs(first - time.time()) < 5
        fill(c)
        assert info(c)["rdb_changes_since_last_save"] != "0"
        assert c.call("BGSAVE", "NOW") == b"-ERR syntax error\r\n"
        assert c.call("BGSAVE") == b"+Background saving started\r\n"
        r = c.call("BGSAVE")
        assert r in (b"-ERR Background save already in progress\r\n",
                     b"+Background saving started\r\n")
        wait_info(c, "rdb_bgsave_in_progress", "0")
        i = info(c)
        assert i["rdb_last_bgsave_status"] == "ok"
        assert i["rdb_changes_since_last_save"] == "0"
        assert int(c.call("LASTSAVE")[1:-2]) >= first
        assert c.call("SAVE", "x") == (
            b"-ERR wrong number of arguments for 'save' command\r\n")
    sigkill(a)
    b = restart(server_factory, a, ["--appendonly", "no"])
    with b.client() as c:
        check(c)


def test_bgsave_while_rewriting(server_factory):
    a = server_factory()
    with a.client() as c:
        fill(c)
        assert c.call("BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
        r = c.call("BGSAVE")
        if r != b"+Background saving started\r\n":  # the rewrite may be over already
            assert r == (b"-ERR Another child process is active (AOF?): can't BGSAVE right "
                         b"now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever "
                         b"possible.\r\n")
            assert c.call("BGSAVE", "SCHEDULE") in (b"+Background saving scheduled\r\n",
                                                    b"+Background saving started\r\n")
        wait_info(c, "aof_rewrite_in_progress", "0")
        wait_info(c, "rdb_bgsave_in_progress", "0")
        time.sleep(0.3)
        wait_info(c, "rdb_bgsave_in_progress", "0")
        assert os.path.exists(os.path.join(a.dir, "dump.rdb"))


PERSISTENCE_FIELDS = [
    "loading", "async_loading", "current_cow_peak", "current_cow_size", "current_cow_size_age",
    "current_fork_perc", "current_save_keys_processed", "current_save_keys_total",
    "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time",
    "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec",
    "rdb_saves", "rdb_last_cow_size", "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded",
    "aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
    "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec", "aof_last_bgrewrite_status",
    "aof_rewrites", "aof_rewrites_consecutive_failures", "aof_last_write_status",
    "aof_last_cow_size", "module_fork_in_progress", "module_fork_last_cow_size",
]
AOF_FIELDS = ["aof_current_size", "aof_base_size", "aof_pending_rewrite", "aof_buffer_length",
              "aof_pending_bio_fsync", "aof_delayed_fsync"]


def test_info_persistence_fields(server_factory):
    a = server_factory()
    with a.client() as c:
        fields = info_fields(c)
        assert [k for k, _ in fields] == PERSISTENCE_FIELDS + AOF_FIELDS
        i = dict(fields)
        assert i["loading"] == "0"
        assert i["aof_enabled"] == "1"
        assert i["rdb_last_bgsave_time_sec"] == "-1"
        assert i["aof_last_rewrite_time_sec"] == "-1"
        assert abs(int(i["rdb_last_save_time"]) - time.time()) < 5
        size = int(i["aof_current_size"])
        assert size == int(i["aof_base_size"])
        assert c.call("SET", "k", "v") == b"+OK\r\n"
        i = info(c)
        # SELECT 0 and the SET, as RESP
        assert int(i["aof_current_size"]) == size + 23 + 27
        assert i["rdb_changes_since_last_save"] == "1"
        assert c.call("CONFIG", "SET", "appendonly", "no") == b"+OK\r\n"
        assert [k for k, _ in info_fields(c)] == PERSISTENCE_FIELDS
        assert info(c)["aof_enabled"] == "0"


def test_config_persistence_params(server_factory):
    a = server_factory()
    with a.client() as c:
        assert c.call("CONFIG", "GET", "appendonly") == b"*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n"
        assert c.call("CONFIG", "GET", "save") == (
            b"*2\r\n$4\r\nsave\r\n$23\r\n3600 1 300 100 60 10000\r\n")
        assert c.call("CONFIG", "SET", "save", "1 2 3") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save "
            b"parameters\r\n")
        assert c.call("CONFIG", "SET", "save", "") == b"+OK\r\n"
        assert c.call("CONFIG", "GET", "save") == b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
        assert c.call("CONFIG", "SET", "appendfsync", "sometimes") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) "
            b"must be one of the following: everysec, always, no\r\n")
        assert c.call("CONFIG", "GET", "appendfsync") == (
            b"*2\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n")
        assert c.call("CONFIG", "SET", "dbfilename", "x.rdb") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set "
            b"protected config\r\n")
        assert c.call("CONFIG", "SET", "appenddirname", "x") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'appenddirname') - can't set "
            b"immutable config\r\n")


def test_appendonly_turned_on_at_runtime(server_factory):
    a = server_factory(args=["--appendonly", "no"])
    with a.client() as c:
        fill(c)
        assert c.call("CONFIG", "SET", "appendonly", "yes") == b"+OK\r\n"
        wait_info(c, "aof_rewrite_in_progress", "0")
        wait_info(c, "aof_rewrites", "1")
        assert c.call("SET", "later", "x") == b"+OK\r\n"
    assert a.stop() == 0
    assert manifest(a) == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                           "file appendonly.aof.1.incr.aof seq 1 type i\n")
    os.unlink(os.path.join(a.dir, "dump.rdb"))
    b = restart(server_factory, a)
    with b.client() as c:
        assert c.call("GET", "later") == b"$1\r\nx\r\n"
        assert c.call("DEL", "later") == b":1\r\n"
        check(c)


def incr_path(srv):
    return os.path.join(ddir(srv), AOFDIR, "appendonly.aof.1.incr.aof")


def test_torn_tail_is_truncated(server_factory):
    a = server_factory()
    with a.client() as c:
        fill(c)
    assert a.stop() == 0
    path = incr_path(a)
    good = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nhel")
    b = restart(server_factory, a)
    with b.client() as c:
        check(c)
        assert c.call("EXISTS", "x") == b":0\r\n"
    out = b.stdout()
    assert "!!! Warning: short read while loading the AOF file appendonlydir/" \
           "appendonly.aof.1.incr.aof!!!" in out
    assert "Truncating the AOF appendonlydir/appendonly.aof.1.incr.aof at offset %d" % good in out
    assert b.stop() == 0
    # the cut bytes are gone and writes after the restart followed the good prefix
    with open(path, "rb") as f:
        assert not f.read().startswith(b"*3\r\n$3\r\nSET\r\n$1\r\nx")


def test_torn_tail_refused_without_aof_load_truncated(server_factory):
    a = server_factory()
    with a.client() as c:
        fill(c)
    assert a.stop() == 0
    with open(incr_path(a), "ab") as f:
        f.write(b"*2\r\n$3\r\nGET")
    b = restart(server_factory, a, ["--aof-load-truncated", "no"], start=False)
    b.expect_failure = True
    assert b.wait_exit() == 1
    assert "Unexpected end of file reading the append only file " \
           "appendonlydir/appendonly.aof.1.incr.aof" in b.output()


def test_corrupt_middle_refuses_start_and_check_aof_fixes(server_factory):
    tool = os.environ.get("RUNNEL_CHECK_AOF")
    if not tool:
        pytest.fail("RUNNEL_CHECK_AOF is not set (path to runnel-check-aof)", pytrace=False)
    a = server_factory()
    with a.client() as c:
        fill(c)
    assert a.stop() == 0
    path = incr_path(a)
    good = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(b"*2\r\n$3\r\nDEL\r\n$3\r\nstrXX\r\n")  # bad bulk terminator
        f.write(runnel.encode_command(["SET", "late", "1"]))
    b = restart(server_factory, a, start=False)
    b.expect_failure = True
    assert b.wait_exit() == 1
    assert ("Bad file format reading the append only file appendonlydir/"
            "appendonly.aof.1.incr.aof at offset %d" % good) in b.output()

    man = os.path.join(a.dir, AOFDIR, MANIFEST)
    r = subprocess.run([tool, man], capture_output=True, text=True)
    assert r.returncode == 1
    assert "appendonly.aof.1.incr.aof is not valid at offset %d" % good in r.stdout
    r = subprocess.run([tool, "--fix", man], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Successfully truncated AOF" in r.stdout
    assert os.path.getsize(path) == good
    r = subprocess.run([tool, path], capture_output=True, text=True)
    assert r.returncode == 0 and "is valid" in r.stdout

    d = restart(server_factory, b)
    with d.client() as c:
        check(c)
        assert c.call("EXISTS", "late") == b":0\r\n"


def test_loading_reply_while_a_big_log_loads(server_factory):
    a = server_factory()
    assert a.stop() == 0
    # a big incr file: 400k SETs
    with open(incr_path(a), "ab") as f:
        chunk = b"".join(runnel.encode_command(["SET", "key:%d" % i, "value"])
                         for i in range(400000))
        f.write(chunk)
    b = restart(server_factory, a, start=False)
    seen_loading = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            c = runnel.RawClient(b.port, timeout=30)
        except OSError:
            time.sleep(0.005)
            continue
        with c:
            r = c.call("GET", "key:7")
            if r == b"-LOADING Redis is loading the dataset in memory\r\n":
                seen_loading = True
                # INFO answers while loading (a CMD_LOADING command)
                fields = info_fields(c)
                i = dict(fields)
                if i["loading"] == "1":
                    assert [k for k, _ in fields[:8]] == [
                        "loading", "async_loading", "loading_start_time", "loading_total_bytes",
                        "loading_rdb_used_mem", "loading_loaded_bytes", "loading_loaded_perc",
                        "loading_eta_seconds"]
                    total = os.path.getsize(incr_path(a)) + os.path.getsize(
                        os.path.join(ddir(a), AOFDIR, "appendonly.aof.1.base.rdb"))
                    assert int(i["loading_total_bytes"]) == total
                    assert 0 <= int(i["loading_loaded_bytes"]) <= total
                time.sleep(0.05)
                continue
            assert r == b"$5\r\nvalue\r\n"
            break
    assert seen_loading
    with b.client() as c:
        assert c.call("DBSIZE") == b":400000\r\n"
        assert info(c)["loading"] == "0"


def test_debug_reload_and_loadaof(server_factory):
    a = server_factory(args=["--enable-debug-command", "yes"])
    with a.client() as c:
        fill(c)
        assert c.call("DEBUG", "RELOAD") == b"+OK\r\n"
        check(c)
        assert c.call("DEBUG", "LOADAOF") == b"+OK\r\n"
        check(c)
        assert c.call("DEBUG", "nosuch") == (
            b"-ERR unknown subcommand or wrong number of arguments for 'nosuch'. Try DEBUG "
            b"HELP.\r\n")
    b = server_factory()
    with b.client() as c:
        assert c.call("DEBUG", "RELOAD").startswith(b"-ERR DEBUG command not allowed.")


def test_command_info_entries(server_factory):
    a = server_factory()
    with a.client() as c:
        assert c.call("COMMAND", "INFO", "bgsave") == (
            b"*1\r\n*10\r\n$6\r\nbgsave\r\n:-1\r\n*3\r\n+admin\r\n+noscript\r\n"
            b"+no_async_loading\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n"
            b"*0\r\n*0\r\n*0\r\n")


def test_automatic_rewrite_on_growth(server_factory):
    a = server_factory(args=["--auto-aof-rewrite-min-size", "4kb",
                             "--auto-aof-rewrite-percentage", "100"])
    with a.client() as c:
        assert info(c)["aof_rewrites"] == "0"
        for i in range(200):
            c.send_command("SET", "k", "x" * 40)
        for i in range(200):
            assert c.read_reply() == b"+OK\r\n"
        wait_info(c, "aof_rewrites", "1")
        wait_info(c, "aof_rewrite_in_progress", "0")
        assert manifest(a) == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                               "file appendonly.aof.2.incr.aof seq 2 type i\n")
        # the new base is small, so no further rewrite follows
        time.sleep(0.5)
        assert info(c)["aof_rewrites"] == "1"
    assert a.stop() == 0
    b = restart(server_factory, a)
    with b.client() as c:
        assert c.call("GET", "k") == b"$40\r\n" + b"x" * 40 + b"\r\n"


def test_shutdown_while_loading_keeps_files(server_factory):
    a = server_factory()
    assert a.stop() == 0
    with open(incr_path(a), "ab") as f:
        f.write(b"".join(runnel.encode_command(["SET", "key:%d" % i, "value"])
                         for i in range(400000)))
    size = os.path.getsize(incr_path(a))
    os.unlink(os.path.join(ddir(a), "dump.rdb"))
    b = restart(server_factory, a, start=False)
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline
        try:
            c = runnel.RawClient(b.port, timeout=30)
            break
        except OSError:
            time.sleep(0.005)
    with c:
        if c.call("GET", "key:1") != b"-LOADING Redis is loading the dataset in memory\r\n":
            pytest.skip("the log loaded before the client connected")
        c.send_command("SHUTDOWN")
        assert c.read_until_close(timeout=30) == b""
    assert b.wait_exit() == 0
    # no save of a half-loaded data set
    assert not os.path.exists(os.path.join(ddir(a), "dump.rdb"))
    assert os.path.getsize(incr_path(a)) == size
    d = restart(server_factory, b)
    with d.client() as c:
        deadline = time.monotonic() + 60
        while c.call("DBSIZE") == b"-LOADING Redis is loading the dataset in memory\r\n":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert c.call("DBSIZE") == b":400000\r\n"


def test_leftovers_removed_at_start(server_factory):
    a = server_factory()
    with a.client() as c:
        fill(c)
    assert a.stop() == 0
    logdir = os.path.join(ddir(a), AOFDIR)
    for name in ("temp-4242.snap", "appendonly.aof.7.incr.aof", "appendonly.aof.6.base.rdb"):
        with open(os.path.join(logdir, name), "wb") as f:
            f.write(b"left by a crash")
    with open(os.path.join(ddir(a), "temp-4243.snap"), "wb") as f:
        f.write(b"left by a crash")
    with open(os.path.join(logdir, "unrelated.txt"), "wb") as f:
        f.write(b"not ours")
    b = restart(server_factory, a)
    with b.client() as c:
        check(c)
    assert aof_files(b) == ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", MANIFEST,
                            "unrelated.txt"]
    assert not os.path.exists(os.path.join(ddir(a), "temp-4243.snap"))


def test_multi_exec_replayed_and_unfinished_transaction_cut(server_factory):
    a = server_factory()
    with a.client() as c:
        fill(c)
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("SET", "tx", "1") == b"+QUEUED\r\n"
        assert c.call("INCR", "counter") == b"+QUEUED\r\n"
        assert c.call("EXEC") == b"*2\r\n+OK\r\n:3\r\n"
    assert a.stop() == 0
    path = incr_path(a)
    good = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(runnel.encode_command(["MULTI"]))
        f.write(runnel.encode_command(["SET", "half", "1"]))
    b = restart(server_factory, a)
    with b.client() as c:
        assert c.call("GET", "tx") == b"$1\r\n1\r\n"
        assert c.call("GET", "counter") == b"$1\r\n3\r\n"
        assert c.call("EXISTS", "half") == b":0\r\n"
        # the loader's session left no transaction open behind it
        assert c.call("SET", "after", "1") == b"+OK\r\n"
    assert "Truncating the AOF appendonlydir/appendonly.aof.1.incr.aof at offset %d" % good \
        in b.stdout()
    assert b.stop() == 0
    d = restart(server_factory, b)
    with d.client() as c:
        assert c.call("GET", "after") == b"$1\r\n1\r\n"
        assert c.call("EXISTS", "half") == b":0\r\n"


def test_appendonly_on_again_continues_the_old_numbering(server_factory):
    a = server_factory()
    with a.client() as c:
        fill(c)
    assert a.stop() == 0
    b = restart(server_factory, a, ["--appendonly", "no", "--save", ""])
    with b.client() as c:
        # appendonly no loads dump.rdb (written at the first shutdown)
        check(c)
        assert c.call("SET", "more", "1") == b"+OK\r\n"
        assert c.call("CONFIG", "SET", "appendonly", "yes") == b"+OK\r\n"
        wait_info(c, "aof_rewrites", "1")
        wait_info(c, "aof_rewrite_in_progress", "0")
    assert manifest(b) == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                           "file appendonly.aof.2.incr.aof seq 2 type i\n")
    assert aof_files(b) == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", MANIFEST]
    assert b.stop() == 0
    os.unlink(os.path.join(ddir(a), "dump.rdb"))
    d = restart(server_factory, b)
    with d.client() as c:
        check(c, extra=1)
        assert c.call("GET", "more") == b"$1\r\n1\r\n"


MISCONF = (b"-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
           b"persist to disk. Commands that may modify the data set are disabled, because this "
           b"instance is configured to report errors during writes if RDB snapshotting fails "
           b"(stop-writes-on-bgsave-error option). Please check the Redis logs for details about "
           b"the RDB error.\r\n")


def test_failed_bgsave_refuses_writes(server_factory):
    a = server_factory()
    with a.client() as c:
        assert c.call("CONFIG", "SET", "dbfilename", "x.rdb") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set "
            b"protected config\r\n")
        # renaming the snapshot over a directory fails
        os.mkdir(os.path.join(ddir(a), "dump.rdb"))
        assert c.call("BGSAVE") == b"+Background saving started\r\n"
        wait_info(c, "rdb_bgsave_in_progress", "0")
        assert info(c)["rdb_last_bgsave_status"] == "err"
        assert c.call("SET", "k", "v") == MISCONF
        assert c.call("PING") == MISCONF
        assert c.call("GET", "k") == b"$-1\r\n"
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("SET", "k", "v") == MISCONF
        assert c.call("EXEC") == (b"-EXECABORT Transaction discarded because of previous "
                                  b"errors.\r\n")
        assert c.call("CONFIG", "SET", "stop-writes-on-bgsave-error", "no") == b"+OK\r\n"
        assert c.call("SET", "k", "v") == b"+OK\r\n"
        assert c.call("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes") == b"+OK\r\n"
        assert c.call("SET", "k", "v") == MISCONF
        os.rmdir(os.path.join(ddir(a), "dump.rdb"))
        assert c.call("BGSAVE") == b"+Background saving started\r\n"
        wait_info(c, "rdb_bgsave_in_progress", "0")
        assert info(c)["rdb_last_bgsave_status"] == "ok"
        assert c.call("SET", "k", "w") == b"+OK\r\n"


def test_save_point_triggers_bgsave(server_factory):
    a = server_factory(args=["--appendonly", "no", "--save", "1 2"])
    with a.client() as c:
        assert info(c)["rdb_saves"] == "0"
        assert c.call("SET", "a", "1") == b"+OK\r\n"
        time.sleep(1.5)
        # one change is below the save point
        assert info(c)["rdb_saves"] == "0"
        assert c.call("SET", "b", "2") == b"+OK\r\n"
        wait_info(c, "rdb_saves", "1")
        wait_info(c, "rdb_bgsave_in_progress", "0")
        assert info(c)["rdb_changes_since_last_save"] == "0"
    sigkill(a)
    b = restart(server_factory, a, ["--appendonly", "no", "--save", ""])
    with b.client() as c:
        assert c.call("MGET", "a", "b") == b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"


def test_corrupt_base_refuses_start(server_factory):
    a = server_factory()
    with a.client() as c:
        fill(c)
        assert c.call("BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
        wait_info(c, "aof_rewrites", "1")
        wait_info(c, "aof_rewrite_in_progress", "0")
    assert a.stop() == 0
    base = os.path.join(ddir(a), AOFDIR, "appendonly.aof.2.base.rdb")
    with open(base, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        f.seek(0)
        f.write(data)
    b = restart(server_factory, a, start=False)
    b.expect_failure = True
    assert b.wait_exit() == 1
    assert "Can't load the snapshot appendonlydir/appendonly.aof.2.base.rdb" in b.output()
    tool = os.environ.get("RUNNEL_CHECK_AOF")
    r = subprocess.run([tool, os.path.join(ddir(a), AOFDIR, MANIFEST)], capture_output=True,
                       text=True)
    assert r.returncode == 1 and "is not valid" in r.stdout
