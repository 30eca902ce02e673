/*
 * Runnel dashboard logic (index.html): one WebSocket to /ws speaking the
 * runnel.json subprotocol, reconnecting with backoff when it drops.
 *
 *   every second: INFO default ws -> overview, server facts, ops/s and
 *                 memory charts
 *                 SCAN ... TYPE stream, then per stream XINFO STREAM,
 *                 XINFO GROUPS and per group XPENDING - + 1 -> streams
 *                 table and the group lag chart
 *                 PUBSUB CHANNELS + NUMSUB + NUMPAT -> channels table
 *   on a row click: {"tail": {"stream", "from": "$"}} -> pushed entries,
 *                 newest on top, capped at TAIL_CAP
 *
 * The session is RESP3, so INFO arrives as one string and XINFO as objects;
 * RESP2-shaped replies (flat key/value arrays) are accepted too. Charts are
 * drawn on <canvas> by drawChart. No framework, no network beyond /ws.
 */
"use strict";

(function () {
    const HISTORY_MS = 5 * 60 * 1000; /* chart window */
    const TICK_MS = 1000; /* refresh period */
    const TAIL_CAP = 200; /* entries kept in the live tail */
    const MAX_STREAMS = 200; /* rows of the streams table */
    const LAG_SERIES = 6; /* groups drawn on the lag chart */
    const CALL_TIMEOUT_MS = 10000; /* a request with no reply by then fails */
    const SCAN_CALLS = 20; /* SCAN calls a refresh, 1000 keys each */
    const TAIL_FLUSH_MS = 100; /* the tail is redrawn at most this often */

    const $ = (id) => document.getElementById(id);

    /* ---- values ------------------------------------------------------ */

    /* Text of a JSON-mapped RESP string ({"base64": ...} for binary). */
    function text(v) {
        if (v === null || v === undefined) {
            return "";
        }
        if (typeof v === "object" && typeof v.base64 === "string") {
            try {
                const bin = atob(v.base64);
                let out = "";
                for (let i = 0; i < bin.length; i++) {
                    const c = bin.charCodeAt(i);
                    out += c >= 32 && c < 127 ? bin[i] : "\\x" + c.toString(16).padStart(2, "0");
                }
                return out;
            } catch (e) {
                return v.base64;
            }
        }
        return String(v);
    }

    /* A number from a JSON number or a decimal string (big integers). */
    function num(v) {
        if (typeof v === "number") {
            return v;
        }
        if (typeof v === "string" && v !== "" && !isNaN(Number(v))) {
            return Number(v);
        }
        return null;
    }

    /* An object from a RESP3 map (already an object) or a RESP2 flat
     * key/value array. */
    function asMap(v) {
        if (Array.isArray(v)) {
            const o = {};
            for (let i = 0; i + 1 < v.length; i += 2) {
                o[text(v[i])] = v[i + 1];
            }
            return o;
        }
        return v && typeof v === "object" ? v : {};
    }

    /* Whether two keys (strings or {"base64": ...}) are the same; null
     * matches nothing. */
    function sameKey(a, b) {
        return a !== null && b !== null && JSON.stringify(a) === JSON.stringify(b);
    }

    /* Milliseconds part of a stream ID "ms-seq". */
    function idMs(id) {
        const ms = parseInt(String(id).split("-")[0], 10);
        return isNaN(ms) ? null : ms;
    }

    const nf = new Intl.NumberFormat("en-US");

    function fmtInt(v) {
        return v === null || v === undefined ? "–" : nf.format(v);
    }

    function fmtBytes(b) {
        if (b === null || b === undefined) {
            return "–";
        }
        const units = ["B", "KB", "MB", "GB", "TB"];
        let i = 0;
        while (Math.abs(b) >= 1024 && i < units.length - 1) {
            b /= 1024;
            i++;
        }
        return (i === 0 ? b.toFixed(0) : String(parseFloat(b.toFixed(b < 10 ? 2 : 1)))) + " " +
               units[i];
    }

    function fmtCompact(v) {
        if (v === null || v === undefined) {
            return "–";
        }
        const a = Math.abs(v);
        if (a >= 1e9) {
            return (v / 1e9).toFixed(1).replace(/\.0$/, "") + "G";
        }
        if (a >= 1e6) {
            return (v / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
        }
        if (a >= 1e4) {
            return (v / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
        }
        return a < 10 && v !== Math.round(v) ? v.toFixed(1) : String(Math.round(v));
    }

    /* A duration in seconds as "3d 4h", "2h 5m", "4m 10s" or "12s". */
    function fmtDuration(s) {
        if (s === null || s === undefined) {
            return "–";
        }
        s = Math.max(0, Math.floor(s));
        const d = Math.floor(s / 86400);
        const h = Math.floor((s % 86400) / 3600);
        const m = Math.floor((s % 3600) / 60);
        const sec = s % 60;
        if (d > 0) {
            return d + "d " + h + "h";
        }
        if (h > 0) {
            return h + "h " + m + "m";
        }
        if (m > 0) {
            return m + "m " + sec + "s";
        }
        return sec + "s";
    }

    function fmtTime(ms) {
        if (ms === null) {
            return "";
        }
        const d = new Date(ms);
        const two = (v) => String(v).padStart(2, "0");
        return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds()) + "." +
               String(d.getMilliseconds()).padStart(3, "0");
    }

    function el(tag, cls, content) {
        const e = document.createElement(tag);
        if (cls) {
            e.className = cls;
        }
        if (content !== undefined) {
            e.textContent = content;
        }
        return e;
    }

    /* ---- connection -------------------------------------------------- */

    /* One WebSocket with numbered requests; reconnects with backoff. */
    class Conn {
        constructor(url) {
            this.url = url;
            this.ws = null;
            this.nextId = 1;
            this.pending = new Map(); /* id -> {resolve, reject, timer} */
            this.backoff = 250;
            this.onopen = () => {};
            this.onclose = () => {};
            this.onpush = () => {};
        }

        get open() {
            return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
        }

        connect() {
            let ws;
            try {
                ws = new WebSocket(this.url, "runnel.json");
            } catch (e) {
                this.retry();
                return;
            }
            this.ws = ws;
            ws.onopen = () => {
                this.backoff = 250;
                this.onopen();
            };
            ws.onmessage = (ev) => this.receive(ev.data);
            ws.onerror = () => {}; /* a close event follows */
            ws.onclose = () => {
                if (this.ws !== ws) {
                    return;
                }
                this.ws = null;
                this.failAll("connection closed");
                this.onclose();
                this.retry();
            };
        }

        retry() {
            const wait = this.backoff;
            this.backoff = Math.min(this.backoff * 2, 5000);
            setTimeout(() => this.connect(), wait);
        }

        failAll(why) {
            for (const p of this.pending.values()) {
                clearTimeout(p.timer);
                p.reject(new Error(why));
            }
            this.pending.clear();
        }

        receive(data) {
            let msg;
            try {
                msg = JSON.parse(data);
            } catch (e) {
                return;
            }
            if (msg.push !== undefined) {
                this.onpush(msg);
                return;
            }
            const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
            if (p === undefined) {
                return;
            }
            this.pending.delete(msg.id);
            clearTimeout(p.timer);
            if (msg.error !== undefined) {
                p.reject(new Error(text(msg.error)));
            } else {
                p.resolve(msg.result);
            }
        }

        /* Sends body (cmd, tail or untail) with a fresh id; resolves with
         * the result, rejects with the error. */
        request(body) {
            if (!this.open) {
                return Promise.reject(new Error("not connected"));
            }
            const id = this.nextId++;
            return new Promise((resolve, reject) => {
                const timer = setTimeout(() => {
                    this.pending.delete(id);
                    reject(new Error("timeout"));
                }, CALL_TIMEOUT_MS);
                this.pending.set(id, { resolve, reject, timer });
                this.ws.send(JSON.stringify(Object.assign({ id }, body)));
            });
        }

        call(...cmd) {
            return this.request({ cmd });
        }
    }

    /* ---- time series and charts -------------------------------------- */

    /* Points (t ms, value or null for a gap) within the chart window. */
    class Series {
        constructor() {
            this.points = [];
        }

        add(t, v) {
            this.points.push([t, v]);
            while (this.points.length && this.points[0][0] < t - HISTORY_MS - TICK_MS) {
                this.points.shift();
            }
        }

        last() {
            return this.points.length ? this.points[this.points.length - 1][1] : null;
        }

        max() {
            let m = 0;
            for (const p of this.points) {
                if (p[1] !== null && p[1] > m) {
                    m = p[1];
                }
            }
            return m;
        }
    }

    const css = getComputedStyle(document.documentElement);
    const colour = (name) => css.getPropertyValue(name).trim();
    const PALETTE = [1, 2, 3, 4, 5, 6].map((i) => colour("--chart-" + i));

    /* A round grid step for values up to v over 4 intervals: 1, 2, 2.5 or
     * 5 times a power of 10 (of base units: 1024-based for bytes), at least
     * minStep. */
    function niceStep(v, bytes, minStep) {
        let raw = Math.max(v / 4, minStep);
        let unit = 1;
        if (bytes) {
            while (raw >= 1024 * unit) {
                unit *= 1024;
            }
        }
        raw /= unit;
        const p = Math.pow(10, Math.floor(Math.log10(raw)));
        for (const m of [1, 2, 2.5, 5, 10]) {
            if (raw <= m * p * 1.0000001) {
                return m * p * unit;
            }
        }
        return 10 * p * unit;
    }

    /* The time window shown: the data's age, from one minute up to
     * HISTORY_MS. */
    function chartWindow(lines, now) {
        let first = now;
        for (const l of lines) {
            if (l.series.points.length) {
                first = Math.min(first, l.series.points[0][0]);
            }
        }
        return Math.min(HISTORY_MS, Math.max(60000, now - first));
    }

    /*
     * Draws lines (array of {series, colour}) on canvas over the last
     * chartWindow, with a y grid labelled by opts.fmt (opts.bytes: steps
     * in KB/MB/GB; opts.minStep: the smallest step) and a time axis. A
     * single line is filled with a fading gradient below it.
     */
    function drawChart(canvas, lines, opts) {
        const fmt = opts.fmt;
        const dpr = window.devicePixelRatio || 1;
        const w = canvas.clientWidth;
        const h = canvas.clientHeight;
        if (w === 0 || h === 0) {
            return;
        }
        if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
            canvas.width = Math.round(w * dpr);
            canvas.height = Math.round(h * dpr);
        }
        const ctx = canvas.getContext("2d");
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.clearRect(0, 0, w, h);

        const padL = 52;
        const padR = 8;
        const padT = 8;
        const padB = 20;
        const pw = w - padL - padR;
        const ph = h - padT - padB;
        const now = Date.now();
        const span = chartWindow(lines, now);
        const t0 = now - span;
        let top = 0;
        for (const l of lines) {
            top = Math.max(top, l.series.max());
        }
        top = 4 * niceStep(top, opts.bytes, opts.minStep);
        const x = (t) => padL + ((t - t0) / span) * pw;
        const y = (v) => padT + ph - (v / top) * ph;

        /* grid and labels */
        ctx.font = "11px " + colour("--sans");
        ctx.lineWidth = 1;
        ctx.textBaseline = "middle";
        ctx.textAlign = "right";
        for (let i = 0; i <= 4; i++) {
            const v = (top * i) / 4;
            const yy = Math.round(y(v)) + 0.5;
            ctx.strokeStyle = i === 0 ? colour("--line") : "rgba(40, 49, 60, 0.55)";
            ctx.beginPath();
            ctx.moveTo(padL, yy);
            ctx.lineTo(w - padR, yy);
            ctx.stroke();
            ctx.fillStyle = colour("--muted");
            ctx.fillText(fmt(v), padL - 8, yy);
        }
        ctx.textAlign = "center";
        ctx.textBaseline = "alphabetic";
        const step = [10000, 15000, 30000, 60000].find((st) => span / st <= 6) || 60000;
        for (let d = 0; d <= span; d += step) {
            const label = d === 0           ? "now"
                          : d % 60000 === 0 ? "-" + d / 60000 + "m"
                                            : "-" + d / 1000 + "s";
            ctx.fillText(label, Math.min(Math.max(x(now - d), padL + 12), w - 16), h - 5);
        }

        /* lines */
        ctx.save();
        ctx.beginPath();
        ctx.rect(padL, padT - 2, pw, ph + 4);
        ctx.clip();
        for (const l of lines) {
            const pts = l.series.points.filter((p) => p[0] >= t0 - TICK_MS);
            ctx.strokeStyle = l.colour;
            ctx.lineWidth = 2;
            ctx.lineJoin = "round";
            let run = [];
            const flush = () => {
                if (run.length === 0) {
                    return;
                }
                ctx.beginPath();
                ctx.moveTo(x(run[0][0]), y(run[0][1]));
                for (const p of run.slice(1)) {
                    ctx.lineTo(x(p[0]), y(p[1]));
                }
                ctx.stroke();
                if (lines.length === 1 && run.length > 1) {
                    const g = ctx.createLinearGradient(0, padT, 0, padT + ph);
                    g.addColorStop(0, l.colour + "55");
                    g.addColorStop(1, l.colour + "00");
                    ctx.lineTo(x(run[run.length - 1][0]), y(0));
                    ctx.lineTo(x(run[0][0]), y(0));
                    ctx.closePath();
                    ctx.fillStyle = g;
                    ctx.fill();
                }
                const p = run[run.length - 1];
                ctx.fillStyle = l.colour;
                ctx.beginPath();
                ctx.arc(x(p[0]), y(p[1]), 2.5, 0, 2 * Math.PI);
                ctx.fill();
                run = [];
            };
            for (const p of pts) {
                if (p[1] === null) {
                    flush();
                } else {
                    run.push(p);
                }
            }
            flush();
        }
        ctx.restore();

        if (lines.every((l) => l.series.points.length === 0)) {
            ctx.fillStyle = colour("--muted");
            ctx.textAlign = "center";
            ctx.textBaseline = "middle";
            ctx.fillText("waiting for data", padL + pw / 2, padT + ph / 2);
        }
    }

    /* ---- state ------------------------------------------------------- */

    /* cursor: where the walk is; keys: JSON text -> key of the last full
     * pass; found: of the current one. */
    function newScan() {
        return { cursor: "0", keys: new Map(), found: new Map() };
    }

    const state = {
        conn: null,
        opsSeries: new Series(),
        memSeries: new Series(),
        lagSeries: new Map(), /* "stream / group" -> Series */
        lastCmds: null, /* [t ms, total_commands_processed] */
        selected: null, /* stream key (JSON value) tailed */
        tailing: false,
        paused: false,
        tailCounts: [], /* [second, entries] of the last 10 s, for the rate */
        tailQueue: [], /* entries not drawn yet (newest last) */
        tailFlush: false, /* a frame is requested to draw them */
        tailFlushed: 0, /* when they were last drawn (ms) */
        busy: { info: false, streams: false, channels: false },
        scan: newScan(), /* the SCAN walk over stream keys */
        auth: null, /* AUTH arguments that worked, sent again on reconnect */
        locked: false, /* the server answered NOAUTH */
    };

    function setConn(s, label) {
        $("conn").dataset.state = s;
        $("conn-text").textContent = label;
    }

    /* ---- overview ---------------------------------------------------- */

    /* INFO text -> {field: value}, with keyspace lines as db objects. */
    function parseInfo(s) {
        const info = { dbs: [] };
        s = text(s);
        if (s.startsWith("txt:")) {
            s = s.slice(4);
        }
        for (const line of s.split(/\r?\n/)) {
            if (line === "" || line[0] === "#") {
                continue;
            }
            const i = line.indexOf(":");
            if (i < 0) {
                continue;
            }
            const k = line.slice(0, i);
            const v = line.slice(i + 1);
            if (/^db\d+$/.test(k)) {
                const db = { name: k };
                for (const kv of v.split(",")) {
                    const [a, b] = kv.split("=");
                    db[a] = Number(b);
                }
                info.dbs.push(db);
            } else {
                info[k] = v;
            }
        }
        return info;
    }

    async function refreshInfo() {
        const info = parseInfo(await state.conn.call("INFO", "default", "ws"));
        const now = Date.now();
        const n = (k) => (info[k] === undefined ? null : Number(info[k]));

        /* ops/s from the command counter between two samples (the
         * dashboard's own few commands included), else the server's. */
        let ops = n("instantaneous_ops_per_sec");
        const total = n("total_commands_processed");
        if (total !== null && state.lastCmds !== null && now > state.lastCmds[0]) {
            const rate = ((total - state.lastCmds[1]) * 1000) / (now - state.lastCmds[0]);
            if (rate >= 0) {
                ops = rate;
            }
        }
        const haveRate = state.lastCmds !== null || ops > 0;
        state.lastCmds = total === null ? null : [now, total];
        /* used_memory, or the resident size where the allocator does not
         * count (used_memory 0). */
        const rss = !(n("used_memory") > 0) && n("used_memory_rss") > 0;
        const mem = rss ? n("used_memory_rss") : n("used_memory");
        state.opsSeries.add(now, haveRate ? ops : null);
        state.memSeries.add(now, mem);

        const version = info.runnel_version || info.redis_version;
        $("server-version").textContent = version ? "v" + version : "";
        $("ov-uptime").textContent = fmtDuration(n("uptime_in_seconds"));
        $("ov-mode").textContent = info.tcp_port ? "port " + info.tcp_port : "";
        $("ov-clients").textContent = fmtInt(n("connected_clients"));
        const blocked = n("blocked_clients");
        $("ov-blocked").textContent = blocked !== null ? fmtInt(blocked) + " blocked" : "";
        $("ov-memory").textContent = fmtBytes(mem);
        const peak = n("used_memory_peak");
        $("ov-peak").textContent = rss              ? "resident (RSS)"
                                   : peak !== null ? "peak " + fmtBytes(peak)
                                                   : "";
        $("ch-mem-title").textContent = rss ? "Memory (RSS)" : "Memory";
        $("ov-ops").textContent = ops === null ? "–" : fmtCompact(ops);
        $("ov-total").textContent = total !== null ? fmtInt(total) + " commands total" : "";
        let keys = 0;
        const dbs = $("ov-dbs");
        dbs.replaceChildren();
        for (const db of info.dbs) {
            keys += db.keys || 0;
            const chip = el("span", "db", db.name + ": " + fmtInt(db.keys || 0));
            chip.title = fmtInt(db.expires || 0) + " with a TTL";
            dbs.append(chip);
        }
        if (info.dbs.length === 0) {
            dbs.append(el("span", "none", "every database is empty"));
        }
        $("ov-keys").textContent = fmtInt(keys);
        $("ch-ops-now").textContent = ops === null ? "" : fmtCompact(ops) + " ops/s";
        $("ch-mem-now").textContent = fmtBytes(mem);
        renderFacts(info);
        $("foot-updated").textContent = "updated " + new Date(now).toLocaleTimeString("en-GB");
    }

    /* The Server panel: a few INFO fields, those the server reports. */
    function renderFacts(info) {
        const n = (k) => (info[k] === undefined ? null : Number(info[k]));
        const hits = n("keyspace_hits");
        const misses = n("keyspace_misses");
        const facts = [
            ["Version", info.runnel_version ? "Runnel " + info.runnel_version +
                (info.redis_version ? " (Redis " + info.redis_version + ")" : "")
                : info.redis_version ? "Redis " + info.redis_version : null],
            ["Process", info.process_id ? "pid " + info.process_id +
                (info.tcp_port ? ", port " + info.tcp_port : "") : null],
            ["Persistence", info.aof_enabled === undefined ? null
                : info.aof_enabled === "1" ? "append-only log" : "snapshots only"],
            ["Connections received", n("total_connections_received") === null ? null
                : fmtInt(n("total_connections_received"))],
            ["Keyspace hit rate", hits === null || misses === null || hits + misses === 0 ? null
                : ((100 * hits) / (hits + misses)).toFixed(1) + " %"],
            ["Network in / out", n("total_net_input_bytes") === null ? null
                : fmtBytes(n("total_net_input_bytes")) + " / " +
                  fmtBytes(n("total_net_output_bytes"))],
            ["WebSocket sessions", n("ws_connections") === null ? null
                : fmtInt(n("ws_connections")) + " (" + fmtInt(n("ws_tails")) + " tails, " +
                  fmtInt(n("ws_consumers")) + " consumers)"],
            ["WebSocket messages", n("ws_messages_received") === null ? null
                : fmtInt(n("ws_messages_received")) + " in / " +
                  fmtInt(n("ws_messages_sent")) + " out"],
        ];
        const dl = $("server-facts");
        dl.replaceChildren();
        for (const [k, v] of facts) {
            if (v !== null) {
                const dd = el("dd", null, v);
                dd.title = v;
                dl.append(el("dt", null, k), dd);
            }
        }
    }

    /* ---- streams ----------------------------------------------------- */

    /* The stream keys, by SCAN ... TYPE stream: at most SCAN_CALLS calls a
     * refresh, so a big keyspace is walked over several seconds; the keys
     * of the last complete pass plus those found so far in this one. */
    async function scanStreams() {
        const sc = state.scan;
        for (let calls = 0; calls < SCAN_CALLS; calls++) {
            const r = await state.conn.call("SCAN", sc.cursor, "TYPE", "stream", "COUNT", "1000");
            sc.cursor = text(r[0]);
            for (const k of r[1]) {
                sc.found.set(JSON.stringify(k), k);
            }
            if (sc.cursor === "0") {
                sc.keys = sc.found;
                sc.found = new Map();
                break;
            }
        }
        const all = new Map([...sc.keys, ...sc.found]);
        return [...all.values()]
            .sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0))
            .slice(0, MAX_STREAMS);
    }

    /* XINFO STREAM, XINFO GROUPS and the oldest pending entry of each
     * group for one stream. */
    async function describeStream(key) {
        const [xs, xg] = await Promise.all([
            state.conn.call("XINFO", "STREAM", key),
            state.conn.call("XINFO", "GROUPS", key),
        ]);
        const info = asMap(xs);
        const groups = (xg || []).map(asMap);
        await Promise.all(
            groups.map(async (g) => {
                g.oldestIdleMs = null;
                if (num(g.pending) > 0) {
                    const p = await state.conn.call("XPENDING", key, g.name, "-", "+", "1");
                    if (Array.isArray(p) && p.length && Array.isArray(p[0])) {
                        g.oldestIdleMs = num(p[0][2]);
                    }
                }
            }));
        return { key, info, groups };
    }

    function firstId(info) {
        const fe = info["first-entry"];
        if (Array.isArray(fe) && fe.length) {
            return text(fe[0]);
        }
        return num(info.length) > 0 ? text(info["recorded-first-entry-id"]) : null;
    }

    function lastId(info) {
        const le = info["last-entry"];
        if (Array.isArray(le) && le.length) {
            return text(le[0]);
        }
        return null;
    }

    function lagClass(lag) {
        if (lag === null || lag < 100) {
            return "num";
        }
        return lag < 10000 ? "num lag-warn" : "num lag-bad";
    }

    function renderStreams(rows) {
        const body = $("streams-body");
        const frag = document.createDocumentFragment();
        $("streams-count").textContent = rows.length ? "(" + rows.length + ")" : "";
        for (const r of rows) {
            const name = text(r.key);
            const tr = document.createElement("tr");
            tr.dataset.stream = name;
            if (sameKey(state.selected, r.key)) {
                tr.classList.add("selected");
            }
            tr.addEventListener("click", () => selectStream(r.key));
            let pending = 0;
            let lag = 0;
            let lagKnown = r.groups.length > 0;
            let oldest = null;
            const chips = el("div", "groups");
            for (const g of r.groups) {
                pending += num(g.pending) || 0;
                const gl = num(g.lag);
                if (gl === null) {
                    lagKnown = false;
                } else {
                    lag += gl;
                }
                if (g.oldestIdleMs !== null && (oldest === null || g.oldestIdleMs > oldest)) {
                    oldest = g.oldestIdleMs;
                }
                const chip = el("span", "group");
                chip.dataset.group = text(g.name);
                chip.append(el("span", "gname", text(g.name)));
                const nc = num(g.consumers) || 0;
                chip.append(el("span", "consumers", nc + (nc === 1 ? " consumer" : " consumers")));
                chip.title = "pending " + fmtInt(num(g.pending)) + ", lag " +
                             (gl === null ? "unknown" : fmtInt(gl)) + ", last delivered " +
                             text(g["last-delivered-id"]);
                chips.append(chip);
            }
            if (r.groups.length === 0) {
                chips.append(el("span", "none", "no groups"));
            }
            const first = firstId(r.info);
            const last = lastId(r.info) || text(r.info["last-generated-id"]);
            const cells = [
                el("td", "stream-key", name),
                el("td", "num", fmtInt(num(r.info.length))),
                el("td", "id", first || "–"),
                el("td", "id", num(r.info.length) > 0 ? last : "–"),
                el("td", "num", fmtInt(num(r.info["entries-added"]))),
                el("td"),
                el("td", "num", r.groups.length ? fmtInt(pending) : "–"),
                el("td", lagClass(lagKnown ? lag : null),
                   r.groups.length === 0 ? "–" : lagKnown ? fmtInt(lag) : "?"),
                el("td", "num", oldest === null ? "–" : fmtDuration(oldest / 1000)),
            ];
            cells[5].append(chips);
            cells[1].dataset.col = "length";
            cells[6].dataset.col = "pending";
            cells[7].dataset.col = "lag";
            cells[8].dataset.col = "oldest";
            tr.append(...cells);
            frag.append(tr);
        }
        if (rows.length === 0) {
            const tr = el("tr", "empty");
            const td = el("td", null, "No streams yet");
            td.colSpan = 9;
            tr.append(td);
            frag.append(tr);
        }
        body.replaceChildren(frag);
    }

    async function refreshStreams() {
        const keys = await scanStreams();
        const rows = (
            await Promise.all(keys.map((k) => describeStream(k).catch(() => null)))
        ).filter((r) => r !== null);
        const now = Date.now();
        const current = new Set();
        for (const r of rows) {
            for (const g of r.groups) {
                const id = text(r.key) + " / " + text(g.name);
                current.add(id);
                if (!state.lagSeries.has(id)) {
                    state.lagSeries.set(id, new Series());
                }
                state.lagSeries.get(id).add(now, num(g.lag));
            }
        }
        for (const [id, s] of state.lagSeries) {
            if (!current.has(id)) {
                s.add(now, null);
                if (s.points.every((p) => p[1] === null)) {
                    state.lagSeries.delete(id);
                }
            }
        }
        renderStreams(rows);
    }

    /* ---- live tail --------------------------------------------------- */

    function tailState(s) {
        $("tail-list").parentElement.dataset.tail = s;
    }

    async function startTail() {
        const key = state.selected;
        state.tailing = false;
        tailState("starting");
        try {
            await state.conn.request({ tail: { stream: key, from: "$" } });
            if (sameKey(key, state.selected)) {
                state.tailing = true;
                tailState("live");
            }
        } catch (e) {
            tailState("error");
            if (/^NOAUTH/.test(e.message)) {
                lock();
            } else if (e.message !== "connection closed") {
                $("tail-empty").textContent = "Cannot tail " + text(key) + ": " + e.message;
            }
        }
    }

    function selectStream(key) {
        if (sameKey(state.selected, key)) {
            return;
        }
        const prev = state.selected;
        state.selected = key;
        state.tailCounts = [];
        state.tailQueue = [];
        $("tail-name").textContent = text(key);
        $("tail-list").replaceChildren();
        $("tail-empty").textContent = "Waiting for new entries in " + text(key) + "…";
        $("tail-empty").hidden = false;
        $("tail-pause").disabled = false;
        for (const tr of $("streams-body").children) {
            tr.classList.toggle("selected", tr.dataset.stream === text(key));
        }
        if (!state.conn.open) {
            return;
        }
        const untail = prev === null
            ? Promise.resolve()
            : state.conn.request({ untail: { stream: prev } }).catch(() => {});
        untail.then(startTail);
    }

    /* Fields of an entry: an object, or a flat [field, value, ...] array. */
    function entryFields(f) {
        if (Array.isArray(f)) {
            const out = [];
            for (let i = 0; i + 1 < f.length; i += 2) {
                out.push([text(f[i]), text(f[i + 1])]);
            }
            return out;
        }
        return Object.entries(f || {}).map(([k, v]) => [k, text(v)]);
    }

    /* One <li> for an entry pushed by the tail. */
    function entryItem(e, fresh) {
        const id = text(e.id);
        const li = el("li", fresh ? "fresh" : null);
        li.dataset.id = id;
        const idCell = el("div");
        idCell.append(el("span", "eid", id), el("span", "etime", fmtTime(idMs(id))));
        const fields = el("div", "fields");
        for (const [k, v] of entryFields(e.fields)) {
            const kv = el("span");
            kv.append(el("span", "k", k), el("span", "v", v));
            fields.append(kv);
        }
        li.append(idCell, fields);
        return li;
    }

    /* Entries are queued and drawn together at most every TAIL_FLUSH_MS:
     * a burst of thousands costs one layout, and only the newest TAIL_CAP
     * are built. */
    function onEntry(msg) {
        if (!sameKey(state.selected, msg.stream)) {
            return;
        }
        const sec = Math.floor(Date.now() / 1000);
        const b = state.tailCounts[state.tailCounts.length - 1];
        if (b !== undefined && b[0] === sec) {
            b[1]++;
        } else {
            state.tailCounts.push([sec, 1]);
        }
        if (state.paused) {
            return;
        }
        state.tailQueue.push(msg.entry || {});
        if (state.tailQueue.length > TAIL_CAP) {
            state.tailQueue.splice(0, state.tailQueue.length - TAIL_CAP);
        }
        if (!state.tailFlush) {
            state.tailFlush = true;
            const wait = Math.max(0, state.tailFlushed + TAIL_FLUSH_MS - Date.now());
            setTimeout(() => requestAnimationFrame(flushTail), wait);
        }
    }

    function flushTail() {
        const batch = state.tailQueue;
        const now = Date.now();
        /* Flash new rows only while entries come slowly: repainting
         * dozens of fading rows a frame would hold the page back. */
        const calm = batch.length <= 3 && now - state.tailFlushed > 4 * TAIL_FLUSH_MS;
        state.tailQueue = [];
        state.tailFlush = false;
        state.tailFlushed = now;
        if (batch.length === 0) {
            return;
        }
        const frag = document.createDocumentFragment();
        for (let i = batch.length - 1; i >= 0; i--) {
            frag.append(entryItem(batch[i], calm));
        }
        const list = $("tail-list");
        list.prepend(frag);
        while (list.children.length > TAIL_CAP) {
            list.lastElementChild.remove();
        }
        $("tail-empty").hidden = true;
    }

    /* Entries per second over the last 10 s, beside the tail's title. */
    function renderTailRate() {
        const sec = Math.floor(Date.now() / 1000);
        state.tailCounts = state.tailCounts.filter((b) => b[0] > sec - 10);
        const n = state.tailCounts.reduce((sum, b) => sum + b[1], 0);
        const rate = fmtCompact(n / 10) + " entries/s";
        const paused = state.paused ? " · paused" : "";
        $("tail-rate").textContent = state.selected === null ? "" : rate + paused;
    }

    /* ---- pub/sub ----------------------------------------------------- */

    async function refreshChannels() {
        const all = (await state.conn.call("PUBSUB", "CHANNELS")) || [];
        const chans = all.slice(0, 500); /* NUMSUB for at most 500 */
        const [numsub, numpat] = await Promise.all([
            chans.length ? state.conn.call("PUBSUB", "NUMSUB", ...chans) : Promise.resolve([]),
            state.conn.call("PUBSUB", "NUMPAT"),
        ]);
        const counts = asMap(numsub);
        const rows = chans.map((c) => [text(c), num(counts[text(c)]) || 0]);
        rows.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
        const frag = document.createDocumentFragment();
        for (const [name, n] of rows.slice(0, 100)) {
            const tr = document.createElement("tr");
            tr.dataset.channel = name;
            tr.append(el("td", "stream-key", name), el("td", "num", fmtInt(n)));
            frag.append(tr);
        }
        if (rows.length === 0) {
            const tr = el("tr", "empty");
            const td = el("td", null, "No active channels");
            td.colSpan = 2;
            tr.append(td);
            frag.append(tr);
        }
        $("channels-body").replaceChildren(frag);
        $("channels-count").textContent = all.length ? "(" + fmtInt(all.length) + ")" : "";
        const np = num(numpat) || 0;
        $("channels-patterns").textContent = np + (np === 1 ? " pattern" : " patterns");
    }

    /* ---- drawing ----------------------------------------------------- */

    function drawAll() {
        const counts = { fmt: fmtCompact, bytes: false, minStep: 1 };
        drawChart($("chart-ops"), [{ series: state.opsSeries, colour: PALETTE[0] }], counts);
        drawChart($("chart-mem"), [{ series: state.memSeries, colour: PALETTE[1] }],
                  { fmt: fmtBytes, bytes: true, minStep: 1024 });
        const lag = [...state.lagSeries.entries()]
            .sort((a, b) => (b[1].last() || 0) - (a[1].last() || 0) || (a[0] < b[0] ? -1 : 1))
            .slice(0, LAG_SERIES);
        const lines = lag.map(([, s], i) => ({ series: s, colour: PALETTE[i % PALETTE.length] }));
        drawChart($("chart-lag"), lines, counts);
        const legend = $("ch-lag-legend");
        legend.replaceChildren();
        lag.forEach(([name, s], i) => {
            const item = el("span");
            const sw = el("i");
            sw.style.background = PALETTE[i % PALETTE.length];
            const v = s.last();
            item.append(sw, name + " " + (v === null ? "" : fmtCompact(v)));
            legend.append(item);
        });
        if (lag.length === 0) {
            legend.append(el("span", null, "no groups"));
        }
    }

    /* ---- authentication ---------------------------------------------- */

    /* The server wants a password (requirepass or ACL users): show the
     * form in the top bar until AUTH succeeds. */
    function lock() {
        if (state.locked) {
            return;
        }
        state.locked = true;
        setConn("closed", "Password required");
        $("auth").hidden = false;
        $("auth-pass").focus();
    }

    async function unlock(args) {
        await state.conn.call("AUTH", ...args);
        state.auth = args;
        state.locked = false;
        $("auth").hidden = true;
        $("auth-error").textContent = "";
        setConn("open", "Live");
        if (state.selected !== null && !state.tailing) {
            startTail();
        }
        tick();
    }

    function onAuthSubmit(ev) {
        ev.preventDefault();
        const user = $("auth-user").value;
        const pass = $("auth-pass").value;
        unlock(user ? [user, pass] : [pass]).catch((e) => {
            $("auth-error").textContent = e.message.replace(/^[A-Z]+ /, "");
        });
    }

    /* ---- main loop --------------------------------------------------- */

    /* Runs fn unless its previous run is still going. A NOAUTH error asks
     * for a password; other errors (a dropped connection) are left to the
     * next tick and the reconnect. */
    function guarded(name, fn) {
        if (state.busy[name] || !state.conn.open || state.locked) {
            return;
        }
        state.busy[name] = true;
        fn()
            .catch((e) => {
                if (/^NOAUTH/.test(e.message)) {
                    lock();
                }
            })
            .finally(() => {
                state.busy[name] = false;
            });
    }

    function tick() {
        guarded("info", refreshInfo);
        guarded("streams", refreshStreams);
        guarded("channels", refreshChannels);
        renderTailRate();
        drawAll();
    }

    function start() {
        const proto = location.protocol === "https:" ? "wss:" : "ws:";
        const url = proto + "//" + location.host + "/ws";
        $("foot-endpoint").textContent = url;
        state.conn = new Conn(url);
        state.conn.onopen = () => {
            setConn("open", "Live");
            state.lastCmds = null;
            state.locked = false;
            state.scan = newScan();
            const ready = state.auth === null
                ? Promise.resolve()
                : state.conn.call("AUTH", ...state.auth).catch(() => {});
            ready.then(() => {
                if (state.selected !== null) {
                    startTail();
                }
                tick();
            });
        };
        state.conn.onclose = () => {
            setConn("closed", "Reconnecting…");
            state.tailing = false;
            if (state.selected !== null) {
                tailState("starting");
            }
            const now = Date.now();
            state.opsSeries.add(now, null);
            state.memSeries.add(now, null);
        };
        state.conn.onpush = (msg) => {
            if (msg.push === "entry") {
                onEntry(msg);
            }
        };
        $("tail-pause").addEventListener("click", () => {
            state.paused = !state.paused;
            $("tail-pause").textContent = state.paused ? "Resume" : "Pause";
            renderTailRate();
        });
        $("auth").addEventListener("submit", onAuthSubmit);
        window.addEventListener("resize", drawAll);
        state.conn.connect();
        setInterval(tick, TICK_MS);
        drawAll();
    }

    start();
})();
