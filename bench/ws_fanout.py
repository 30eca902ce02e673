"""bench/ws_fanout.py: fan-out of one stream to many WebSocket tails, beside
the same load over RESP SUBSCRIBE, on one runnel-server (see bench/ws.sh).

    ws_fanout.py --port P --ws-port W --sessions N --rate R --seconds S

ws:   N WebSocket sessions (runnel.json, python3-websockets) tail stream
      bench:fan from "$";
      a producer XADDs R entries/s for S seconds, each with field t = send
      time (ns); every session counts the pushes and records now - t.
wsraw: the same with a minimal WebSocket client that parses frames from
      64 KB reads, as the RESP client does (the fair comparison).
resp: N RESP2 connections SUBSCRIBE to bench:fan; the producer
      PUBLISHes R messages/s of the send time.
Prints one line per mode: delivered/s (deliveries over the producing
window plus the drain), p50/p99 latency in ms, and the core thread's CPU
time per produced message (from /proc, the main thread of --pid) and
the whole server's CPU time per delivery.
"""

import argparse
import asyncio
import base64
import json
import os
import time

import redis
import websockets


def cpu(path):
    """User + system seconds from a /proc stat file."""
    with open(path) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def core_cpu(pid):
    """(main thread = core, whole process) CPU seconds."""
    return cpu("/proc/%d/task/%d/stat" % (pid, pid)), cpu("/proc/%d/stat" % pid)


async def produce(port, kind, rate, seconds):
    r = redis.Redis(port=port)
    n = int(rate * seconds)
    start = time.monotonic()
    for i in range(n):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = str(time.time_ns())
        if kind != "resp":
            r.xadd("bench:fan", {"t": t})
        else:
            r.publish("bench:fan", t)
    r.close()
    return n


async def ws_session(url, lat, ready, stop):
    async with websockets.connect(url, compression=None, max_queue=None) as ws:
        await ws.send(json.dumps({"id": 1, "tail": {"stream": "bench:fan", "from": "$"}}))
        json.loads(await ws.recv())
        ready.release()
        while not stop.is_set():
            try:
                m = await asyncio.wait_for(ws.recv(), 0.5)
            except asyncio.TimeoutError:
                continue
            now = time.time_ns()
            m = json.loads(m)
            lat.append(now - int(m["entry"]["fields"]["t"]))


async def ws_raw_session(port, lat, ready, stop):
    """A minimal WebSocket client (no extension, frames parsed from big
    reads like the RESP client below), so both modes pay the same client
    cost per message."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: runnel.json\r\n\r\n"
                  % (port, key)).encode())
    req = json.dumps({"id": 1, "tail": {"stream": "bench:fan", "from": "$"}}).encode()
    writer.write(bytes([0x81, 0x80 | len(req)]) + b"\0\0\0\0" + req)  # masked, key 0
    await writer.drain()
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += await reader.read(4096)
    buf = buf[buf.index(b"\r\n\r\n") + 4:]
    first = True
    while not stop.is_set():
        while True:
            if len(buf) < 2:
                break
            n, pos = buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, pos = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, pos = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < pos + n:
                break
            payload, buf = buf[pos:pos + n], buf[pos + n:]
            if first:
                first = False  # {"id":1,"result":"OK"}
                ready.release()
                continue
            i = payload.find(b'"t":"')
            if i >= 0:
                lat.append(time.time_ns() - int(payload[i + 5:payload.index(b'"', i + 5)]))
        try:
            data = await asyncio.wait_for(reader.read(65536), 0.5)
        except asyncio.TimeoutError:
            continue
        if not data:
            break
        buf += data
    writer.close()


async def resp_session(port, lat, ready, stop):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"*2\r\n$9\r\nSUBSCRIBE\r\n$9\r\nbench:fan\r\n")
    await writer.drain()
    buf = b""
    while buf.count(b"\r\n") < 6:
        buf += await reader.read(4096)
    buf = b""
    ready.release()
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(65536), 0.5)
        except asyncio.TimeoutError:
            continue
        if not data:
            break
        now = time.time_ns()
        buf += data
        # *3 $7 message $9 bench:fan $<n> <t>: the payload is the last line.
        while True:
            end = buf.find(b"bench:fan\r\n$")
            if end < 0:
                break
            rest = buf[end + 12:]
            nl = rest.find(b"\r\n")
            if nl < 0:
                break
            n = int(rest[:nl])
            if len(rest) < nl + 2 + n + 2:
                break
            lat.append(now - int(rest[nl + 2:nl + 2 + n]))
            buf = rest[nl + 2 + n + 2:]
    writer.close()


async def run_mode(opts, kind):
    lat, stop = [], asyncio.Event()
    ready = asyncio.Semaphore(0)
    tasks = []
    for _ in range(opts.sessions):
        if kind == "ws":
            coro = ws_session("ws://127.0.0.1:%d/ws" % opts.ws_port, lat, ready, stop)
        elif kind == "wsraw":
            coro = ws_raw_session(opts.ws_port, lat, ready, stop)
        else:
            coro = resp_session(opts.port, lat, ready, stop)
        tasks.append(asyncio.create_task(coro))
    for _ in range(opts.sessions):
        await ready.acquire()
    if opts.burst:
        # Core cost per produced message: K pipelined XADD/PUBLISH in
        # batches of 100, core thread CPU measured across them only.
        r = redis.Redis(port=opts.port)
        c0 = core_cpu(opts.pid)[0]
        for b in range(0, opts.burst, 100):
            p = r.pipeline(transaction=False)
            for i in range(b, min(b + 100, opts.burst)):
                t = str(time.time_ns())
                p.xadd("bench:fan", {"t": t}) if kind != "resp" else p.publish("bench:fan", t)
            p.execute()
        core = core_cpu(opts.pid)[0] - c0
        print("%-4s sessions=%d burst=%d core_cpu/msg=%.1fus"
              % (kind, opts.sessions, opts.burst, 1e6 * core / opts.burst), flush=True)
        r.close()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return
    cpu0 = core_cpu(opts.pid)
    t0 = time.monotonic()
    n = await produce(opts.port, kind, opts.rate, opts.seconds)
    want = n * opts.sessions
    deadline = time.monotonic() + 30
    while len(lat) < want and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - t0
    cpu1 = core_cpu(opts.pid)
    core, total = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1e6 if lat else float("nan")
    print("%-4s sessions=%d produced=%d delivered=%d (%.1f%%) delivered/s=%.0f "
          "p50=%.1fms p99=%.1fms core_cpu/msg=%.1fus server_cpu/delivery=%.2fus"
          % (kind, opts.sessions, n, len(lat), 100.0 * len(lat) / max(want, 1),
             len(lat) / elapsed, p(0.50), p(0.99), 1e6 * core / max(n, 1),
             1e6 * total / max(len(lat), 1)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ws-port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--modes", default="resp,ws")
    ap.add_argument("--burst", type=int, default=0,
                    help="measure the core's CPU per message over N pipelined ones")
    opts = ap.parse_args()
    for kind in opts.modes.split(","):
        asyncio.run(run_mode(opts, kind))


if __name__ == "__main__":
    main()
