"""The nng gateway (protocols/nng) with real nng peers.

Peers: nngcat (Debian nng-utils) for single req0/push0 messages, and
tests/nng/nng_req_client ($RUNNEL_NNG_REQ_CLIENT) for 10,000 requests over
16 contexts, ordered push0 producers, sequences of commands on one pipe
and sub0 subscribers with exact (NUL-terminated) topics.

Covers: RESP3 replies over rep0, many requests in flight, AUTH per pipe,
malformed and oversized requests refused without harming other pipes,
XREAD BLOCK / BLPOP over rep0 answered later (bridge blocking), a peer
that disappears while blocked, PUBLISH / SPUBLISH / stream entries on pub0
with the documented framing, push0 ingestion in order, INFO nng and
CLIENT LIST, and shutdown with live pipes.
"""

import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

import runnel

NNGCAT = shutil.which("nngcat")
CLIENT = os.environ.get("RUNNEL_NNG_REQ_CLIENT")

pytestmark = pytest.mark.skipif(NNGCAT is None or not CLIENT,
                                reason="needs nngcat (nng-utils) and RUNNEL_NNG_REQ_CLIENT")


def nng_server(server_factory, *extra):
    rep, pub, pull = runnel.free_port(), runnel.free_port(), runnel.free_port()
    srv = server_factory(args=["--nng-rep-url", "tcp://127.0.0.1:%d" % rep,
                               "--nng-pub-url", "tcp://127.0.0.1:%d" % pub,
                               "--nng-pull-url", "tcp://127.0.0.1:%d" % pull] + list(extra))
    srv.rep = "tcp://127.0.0.1:%d" % rep
    srv.pub = "tcp://127.0.0.1:%d" % pub
    srv.pull = "tcp://127.0.0.1:%d" % pull
    srv.password = extra[extra.index("--requirepass") + 1] if "--requirepass" in extra else None
    if "nng_rep_url" not in rclient(srv).info("nng"):
        pytest.skip("runnel-server built without the nng gateway")
    return srv


def rclient(server, **kw):
    kw.setdefault("password", getattr(server, "password", None))
    return redis.Redis(host="127.0.0.1", port=server.port, **kw)


def req(url, data, timeout=10):
    """One request with nngcat (str: --data, bytes: --file); returns the reply bytes."""
    with tempfile.NamedTemporaryFile() as f:
        if isinstance(data, bytes):
            f.write(data)
            f.flush()
            src = ["--file", f.name]
        else:
            src = ["--data", data]
        out = subprocess.run([NNGCAT, "--req0", "--dial", url, "--raw"] + src,
                             capture_output=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout


def seq(url, *cmds):
    """Commands in turn on one pipe; returns the list of replies."""
    out = subprocess.run([CLIENT, url, "0", "0", "seq"] + list(cmds),
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return [bytes.fromhex(line) for line in out.stdout.decode().split()]


def nng_info(server):
    info = rclient(server).info("nng")
    return {k: v for k, v in info.items()}


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_req_replies_are_resp3(server_factory):
    srv = nng_server(server_factory)
    assert req(srv.rep, "PING") == b"+PONG\r\n"
    assert req(srv.rep, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\x00b\r\n") == b"+OK\r\n"
    assert req(srv.rep, "GET k") == b"$3\r\na\x00b\r\n"
    assert req(srv.rep, "HGETALL nokey") == b"%0\r\n"
    assert req(srv.rep, "NOSUCH x") == (
        b"-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n")
    # HELLO 2 on a pipe switches that pipe only.
    assert seq(srv.rep, "HELLO 2", "HGETALL nokey")[1] == b"*0\r\n"
    assert req(srv.rep, "HGETALL nokey") == b"%0\r\n"


def test_many_requests_in_flight(server_factory):
    srv = nng_server(server_factory)
    out = subprocess.run([CLIENT, srv.rep, "16", "10000", "echo"], capture_output=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(b"ok 10000 ")
    out = subprocess.run([CLIENT, srv.rep, "16", "10000", "xadd", "s"], capture_output=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert rclient(srv).xlen("s") == 10000
    info = nng_info(srv)
    assert info["nng_requests"] == 20000
    assert info["nng_replies"] == 20000


def test_auth_per_pipe(server_factory):
    srv = nng_server(server_factory, "--requirepass", "pw")
    rclient(srv, password="pw").set("k", "v")
    assert req(srv.rep, "GET k") == b"-NOAUTH Authentication required.\r\n"
    replies = seq(srv.rep, "GET k", "AUTH nope", "AUTH pw", "GET k")
    assert replies == [b"-NOAUTH Authentication required.\r\n",
                       b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
                       b"+OK\r\n", b"$1\r\nv\r\n"]
    # Another pipe is not authenticated by the first one.
    assert req(srv.rep, "GET k") == b"-NOAUTH Authentication required.\r\n"


def test_malformed_and_oversized_refused(server_factory, tmp_path):
    srv = nng_server(server_factory, "--proto-max-bulk-len", "1mb")
    load = subprocess.Popen([CLIENT, srv.rep, "8", "5000", "echo"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert req(srv.rep, "*1\r\n$x\r\nPING\r\n") == b"-ERR Protocol error: invalid bulk length\r\n"
    assert req(srv.rep, "*2\r\n$4\r\nPING") == b"-ERR Protocol error: incomplete command\r\n"
    assert req(srv.rep, "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n") == (
        b"-ERR Protocol error: more than one command in a message\r\n")
    big = tmp_path / "big.bin"
    payload = b"x" * (1024 * 1024 + 1)
    big.write_bytes(b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % len(payload) + payload + b"\r\n")
    out = subprocess.run([NNGCAT, "--req0", "--dial", srv.rep, "--raw", "--file", str(big)],
                         capture_output=True, timeout=10)
    assert out.stdout == b"-ERR Protocol error: invalid bulk length\r\n"
    # At the limit it goes through.
    ok = tmp_path / "ok.bin"
    payload = b"y" * (1024 * 1024)
    ok.write_bytes(b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % len(payload) + payload + b"\r\n")
    out = subprocess.run([NNGCAT, "--req0", "--dial", srv.rep, "--raw", "--file", str(ok)],
                         capture_output=True, timeout=10)
    assert out.stdout == b"$%d\r\n" % len(payload) + payload + b"\r\n"
    stdout, stderr = load.communicate(timeout=120)
    assert load.returncode == 0, stderr
    assert nng_info(srv)["nng_refused"] == 4


def test_xread_block_over_rep(server_factory):
    srv = nng_server(server_factory)
    r = rclient(srv)
    p = subprocess.Popen([NNGCAT, "--req0", "--dial", srv.rep, "--raw", "--data",
                          "XREAD BLOCK 10000 STREAMS bs $"], stdout=subprocess.PIPE)
    assert wait_for(lambda: r.info("clients")["blocked_clients"] == 1)
    assert any(c["laddr"] == "nng" and "b" in c["flags"] for c in r.client_list())
    r.xadd("bs", {"a": "b"}, id="5-1")
    out, _ = p.communicate(timeout=10)
    assert out == b"%1\r\n$2\r\nbs\r\n*1\r\n*2\r\n$3\r\n5-1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert r.info("clients")["blocked_clients"] == 0
    # Timeout and CLIENT UNBLOCK as for a RESP client.
    assert req(srv.rep, "BLPOP l 0.2") == b"_\r\n"
    p = subprocess.Popen([NNGCAT, "--req0", "--dial", srv.rep, "--raw", "--data", "BLPOP l2 0"],
                         stdout=subprocess.PIPE)
    assert wait_for(lambda: r.info("clients")["blocked_clients"] == 1)
    bid = [c for c in r.client_list() if "b" in c["flags"]][0]["id"]
    assert r.execute_command("CLIENT", "UNBLOCK", bid, "ERROR") == 1
    out, _ = p.communicate(timeout=10)
    assert out == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"


def test_blocked_requests_hold_contexts(server_factory):
    srv = nng_server(server_factory, "--nng-rep-contexts", "2")
    r = rclient(srv)
    assert nng_info(srv)["nng_contexts"] == 2
    blockers = [subprocess.Popen([NNGCAT, "--req0", "--dial", srv.rep, "--raw", "--data",
                                  "XREAD BLOCK 0 STREAMS hold $"], stdout=subprocess.PIPE)
                for _ in range(2)]
    assert wait_for(lambda: r.info("clients")["blocked_clients"] == 2)
    ping = subprocess.Popen([NNGCAT, "--req0", "--dial", srv.rep, "--raw", "--data", "PING"],
                            stdout=subprocess.PIPE)
    time.sleep(0.5)
    assert ping.poll() is None  # both contexts wait for XADD
    r.xadd("hold", {"f": "v"}, id="1-1")
    assert ping.communicate(timeout=10)[0] == b"+PONG\r\n"
    for p in blockers:
        assert p.communicate(timeout=10)[0].startswith(b"%1\r\n$4\r\nhold\r\n")


def test_peer_gone_while_blocked(server_factory):
    srv = nng_server(server_factory)
    r = rclient(srv)
    p = subprocess.Popen([NNGCAT, "--req0", "--dial", srv.rep, "--raw", "--data",
                          "XREAD BLOCK 0 STREAMS gone $"], stdout=subprocess.PIPE)
    assert wait_for(lambda: r.info("clients")["blocked_clients"] == 1)
    p.kill()
    p.wait()
    assert wait_for(lambda: r.info("clients")["blocked_clients"] == 0)
    assert wait_for(lambda: nng_info(srv)["nng_pipes"] == 0)
    r.xadd("gone", {"f": "v"})
    # Every context is free again.
    out = subprocess.run([CLIENT, srv.rep, "16", "2000", "echo"], capture_output=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr


def sub_start(server, count, *topics):
    p = subprocess.Popen([CLIENT, server.pub, "0", str(count), "sub"] + list(topics),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    time.sleep(0.3)  # the pub side attaches the pipe
    return p


def sub_messages(p):
    out, err = p.communicate(timeout=15)
    assert p.returncode == 0, err
    return [bytes.fromhex(line) for line in out.decode().split()]


def test_pub_framing(server_factory):
    srv = nng_server(server_factory, "--nng-pub-streams", "ord*")
    r = rclient(srv)
    p = sub_start(srv, 4, "c:news", "sc:shard", "x:orders", "x:*")
    assert r.publish("newsroom", "no") == 0  # prefix of another channel: not received
    assert r.publish("news", b"hel\x00lo") == 0
    r.execute_command("SPUBLISH", "shard", "s1")
    r.publish("other", "no")
    r.xadd("orders", {"f": "v", "g": b"\x00"}, id="7-1")
    r.xadd("skipped", {"f": "v"})  # not matched by nng-pub-streams
    r.xadd("ordinal", {"a": "1"}, id="8-0")  # matches, received through "x:" prefix
    msgs = sub_messages(p)
    assert msgs == [
        b"c:news\x00hel\x00lo",
        b"sc:shard\x00s1",
        b"x:orders\x007-1\x00%2\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\n\x00\r\n",
        b"x:ordinal\x008-0\x00%1\r\n$1\r\na\r\n$1\r\n1\r\n",
    ]
    assert nng_info(srv)["nng_publishes"] == 6


def test_pub_streams_default_none(server_factory):
    srv = nng_server(server_factory)
    r = rclient(srv)
    p = sub_start(srv, 1, "*")
    r.xadd("orders", {"f": "v"})
    r.publish("ch", "m")
    assert sub_messages(p) == [b"c:ch\x00m"]


def test_push_ingestion_in_order(server_factory):
    srv = nng_server(server_factory)
    r = rclient(srv)
    # Three producers at once, one command per message or 16 (pipelined).
    procs = [subprocess.Popen([CLIENT, srv.pull, ("0", "16", "7")[i], "3000", "push", "in%d" % i],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    for i in range(3):
        assert wait_for(lambda: r.xlen("in%d" % i) == 3000)
        entries = r.xrange("in%d" % i)
        assert [int(e[1][b"n"]) for e in entries] == list(range(3000))
    # redis-cli sees them too.
    out = subprocess.run(["redis-cli", "-p", str(srv.port), "XLEN", "in0"], capture_output=True)
    assert out.stdout == b"3000\n"
    # A failing command is counted and logged; a malformed one too.
    subprocess.run([NNGCAT, "--push0", "--dial", srv.pull, "--data", "XADD s"], check=True,
                   timeout=10)
    subprocess.run([NNGCAT, "--push0", "--dial", srv.pull, "--data", "*1\r\n$x\r\n"],
                   check=True, timeout=10)
    assert wait_for(lambda: nng_info(srv)["nng_pull_errors"] == 2)
    assert nng_info(srv)["nng_pull_commands"] == 9001  # the malformed one never ran
    # In a pipelined message a malformed command drops the rest only.
    subprocess.run([NNGCAT, "--push0", "--dial", srv.pull, "--data",
                    "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*1\r\n$x\r\n"
                    "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n1\r\n"], check=True, timeout=10)
    assert wait_for(lambda: nng_info(srv)["nng_pull_errors"] == 3)
    assert r.get("a") == b"1"
    assert r.get("b") is None
    assert wait_for(lambda: "nng pull: command failed: ERR wrong number of arguments for "
                    "'xadd' command" in srv.output(), timeout=5)


def test_push_auth_per_pipe(server_factory):
    srv = nng_server(server_factory, "--requirepass", "pw")
    subprocess.run([NNGCAT, "--push0", "--dial", srv.pull, "--data", "XADD p * a 1"], check=True,
                   timeout=10)
    assert wait_for(lambda: nng_info(srv)["nng_pull_errors"] == 1)
    assert rclient(srv, password="pw").xlen("p") == 0


def test_info_client_list_and_pushes(server_factory):
    srv = nng_server(server_factory)
    r = rclient(srv)
    info = nng_info(srv)
    assert info["nng_rep_url"] == srv.rep
    assert info["nng_contexts"] == 16
    assert "nng_rep_url" in r.info("everything")
    assert "nng_rep_url" not in r.info()
    before = r.info("clients")["connected_clients"]
    replies = seq(srv.rep, "CLIENT SETNAME svc", "SUBSCRIBE ch", "CLIENT LIST")
    assert replies[1] == b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    assert b" laddr=nng fd=-1 name=svc " in replies[2]
    assert b" flags=P db=0 sub=1 " in replies[2]
    # The pipe is gone: its session too.
    assert wait_for(lambda: r.info("clients")["connected_clients"] == before)
    p = subprocess.Popen([CLIENT, srv.rep, "0", "0", "seq", "SUBSCRIBE ch2", "BLPOP nolist 1"],
                         stdout=subprocess.PIPE)
    assert wait_for(lambda: r.pubsub_numsub("ch2")[0][1] == 1)
    assert r.publish("ch2", "m") == 1  # reaches the session; nng has no push channel
    assert wait_for(lambda: nng_info(srv)["nng_pushes_dropped"] == 1)
    p.communicate(timeout=10)


def test_shutdown_with_live_pipes(server_factory):
    srv = nng_server(server_factory)
    p = subprocess.Popen([NNGCAT, "--req0", "--dial", srv.rep, "--raw", "--data",
                          "XREAD BLOCK 0 STREAMS never $"], stdout=subprocess.PIPE)
    sub = sub_start(srv, 1, "*")
    r = rclient(srv)
    assert wait_for(lambda: r.info("clients")["blocked_clients"] == 1)
    srv.stop()  # exits 0, no ASan report
    p.kill()
    sub.kill()
    p.wait()
    sub.wait()


def test_endpoint_in_use_leaves_resp_serving(server_factory):
    srv = nng_server(server_factory)
    # rep0 and pub0 listen, then pull0 fails: everything is undone.
    other = server_factory(args=["--nng-rep-url", "tcp://127.0.0.1:%d" % runnel.free_port(),
                                 "--nng-pub-url", "tcp://127.0.0.1:%d" % runnel.free_port(),
                                 "--nng-pull-url", srv.pull])
    r = rclient(other)
    assert wait_for(lambda: "the nng gateway is off" in other.output())
    assert "Address in use" in other.output()
    assert "nng_rep_url" not in r.info("nng")
    assert r.publish("ch", "m") == 0  # no tap reaches the stopped gateway
    r.xadd("s", {"f": "v"})
    assert r.info("clients")["connected_clients"] == 1
    # The first server's endpoint is untouched.
    assert req(srv.rep, "PING") == b"+PONG\r\n"


def test_client_kill_and_info(server_factory):
    srv = nng_server(server_factory)
    r = rclient(srv)
    info = seq(srv.rep, "CLIENT SETNAME me", "CLIENT INFO")[1]
    assert info.startswith(b"=") and b" laddr=nng fd=-1 name=me " in info
    p = subprocess.Popen([NNGCAT, "--req0", "--dial", srv.rep, "--raw", "--data",
                          "BLPOP never 0"], stdout=subprocess.PIPE)
    try:
        assert wait_for(lambda: r.info("clients")["blocked_clients"] == 1)
        bid = [c for c in r.client_list() if "b" in c["flags"]][0]["id"]
        total = nng_info(srv)["nng_pipes_total"]
        assert r.execute_command("CLIENT", "KILL", "ID", bid) == 1
        # The pipe is closed; nng's req0 dials again and resends on a new one.
        assert wait_for(lambda: nng_info(srv)["nng_pipes_total"] == total + 1)
        assert wait_for(lambda: [c["id"] for c in r.client_list() if "b" in c["flags"]] not in
                        ([], [bid]))
    finally:
        p.kill()
        p.wait()
    assert wait_for(lambda: r.info("clients")["blocked_clients"] == 0)
    assert wait_for(lambda: nng_info(srv)["nng_pipes"] == 0)
