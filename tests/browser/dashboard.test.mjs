/*
 * The built-in dashboard (protocols/ws/dashboard) in real headless Chromium.
 *
 * Starts runnel-server ($RUNNEL_SERVER) on free ports with --ws-port, makes
 * a stream with redis-cli (XADD, XGROUP CREATE, XREADGROUP: 2 pending, lag
 * 3) and a subscribed channel, opens http://127.0.0.1:<ws-port>/ in
 * Debian's /usr/bin/chromium driven by playwright-core, and checks: no
 * console errors, the overview, the stream row with its group, pending and
 * lag, a new XADD in the live tail within one second, the channel with its
 * subscriber, a 420 px wide layout, and that the page reconnects after the
 * server restarts; then, with --requirepass, the password form. Saves
 * $RUNNEL_TEST_OUTPUT/dashboard.png (ctest: <build>/tests/output).
 * Run: RUNNEL_SERVER=<runnel-server> node tests/browser/dashboard.test.mjs
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";

/* playwright-core comes from npm ci in this folder (.ci/setup test). */
let chromium;
try {
    ({ chromium } = await import("playwright-core"));
} catch (e) {
    console.error("playwright-core is missing: `npm ci` in tests/browser (.ci/setup test)");
    throw e;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVER = process.env.RUNNEL_SERVER;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const OUTPUT = process.env.RUNNEL_TEST_OUTPUT || path.join(HERE, "output");

/* A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const port = s.address().port;
            s.close(() => resolve(port));
        });
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* One runnel-server with the WebSocket gateway on its own ports. */
class Server {
    constructor(port, wsPort, extra = []) {
        this.port = port;
        this.wsPort = wsPort;
        this.extra = extra;
        this.root = fs.mkdtempSync(path.join(os.tmpdir(), "runnel-browser-"));
        this.dir = path.join(this.root, "data");
        fs.mkdirSync(this.dir);
        this.proc = null;
        this.log = "";
    }

    async start() {
        const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir,
                      "--ws-port", String(this.wsPort), "--nng-rep-url", "", "--nng-pub-url", "",
                      "--nng-pull-url", "", ...this.extra];
        this.proc = spawn(SERVER, args, { cwd: this.root, stdio: ["ignore", "pipe", "pipe"] });
        this.proc.stdout.on("data", (d) => (this.log += d));
        this.proc.stderr.on("data", (d) => (this.log += d));
        this.exited = new Promise((resolve) => {
            this.proc.on("exit", (code, sig) => resolve({ code, sig }));
        });
        const deadline = Date.now() + 15000;
        for (;;) {
            if (this.proc.exitCode !== null) {
                const code = this.proc.exitCode;
                throw new Error("runnel-server exited with " + code + "\n" + this.log);
            }
            try {
                const r = await fetch("http://127.0.0.1:" + this.wsPort + "/healthz");
                if (r.ok && /^(PONG|NOAUTH)/.test(this.cli("PING"))) {
                    return;
                }
            } catch (e) {
                /* not listening yet */
            }
            if (Date.now() > deadline) {
                throw new Error("runnel-server did not start\n" + this.log);
            }
            await sleep(50);
        }
    }

    /* Stops with SIGTERM; the exit code must be 0 (an ASan report is not). */
    async stop() {
        if (this.proc === null) {
            return;
        }
        const proc = this.proc;
        this.proc = null;
        if (proc.exitCode === null) {
            proc.kill("SIGTERM");
        }
        const timer = setTimeout(() => proc.kill("SIGKILL"), 10000);
        const { code, sig } = await this.exited;
        clearTimeout(timer);
        assert.equal(code, 0, "runnel-server exited with " + code + " (" + sig + ")\n" + this.log);
    }

    cleanup() {
        fs.rmSync(this.root, { recursive: true, force: true });
    }

    /* One command through redis-cli; its output, trimmed. */
    cli(...args) {
        const argv = ["-p", String(this.port), ...args];
        return execFileSync("redis-cli", argv, { encoding: "utf8" }).trim();
    }
}

/* A page at 1440x1000 whose console errors and warnings, page errors,
 * failed requests and HTTP errors are collected in problems. */
async function openPage(browser) {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const problems = [];
    page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") {
            problems.push("console " + m.type() + ": " + m.text());
        }
    });
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("requestfailed", (r) => problems.push("request failed: " + r.url()));
    page.on("response", (r) => {
        if (r.status() >= 400) {
            problems.push("HTTP " + r.status() + ": " + r.url());
        }
    });
    return { page, problems };
}

/* Text of one cell (data-col) of a stream's row, as a page function. */
function streamCell(stream, col) {
    const sel = 'tr[data-stream="' + stream + '"] td[data-col="' + col + '"]';
    const td = document.querySelector(sel);
    return td === null ? null : td.textContent;
}

test("dashboard in headless Chromium", { timeout: 120000 }, async (t) => {
    assert.ok(SERVER, "RUNNEL_SERVER is not set (path to runnel-server)");
    const srv = new Server(await freePort(), await freePort());
    let browser = null;
    let subscriber = null;
    t.after(async () => {
        if (subscriber !== null) {
            subscriber.kill("SIGTERM");
        }
        if (browser !== null) {
            await browser.close();
        }
        await srv.stop().finally(() => srv.cleanup());
    });
    await srv.start();

    /* A stream with a group: 5 entries, 2 delivered to worker-1, so
     * pending 2 and lag 3; a second stream without groups. */
    for (let i = 1; i <= 5; i++) {
        srv.cli("XADD", "orders", "*", "sku", "A-" + i, "qty", String(i));
    }
    assert.equal(srv.cli("XGROUP", "CREATE", "orders", "billing", "0"), "OK");
    srv.cli("XREADGROUP", "GROUP", "billing", "worker-1", "COUNT", "2", "STREAMS", "orders", ">");
    srv.cli("XADD", "audit", "*", "event", "login", "user", "ada");
    subscriber = spawn("redis-cli", ["-p", String(srv.port), "SUBSCRIBE", "news"],
                       { stdio: "ignore" });

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    const { page, problems } = await openPage(browser);
    const base = "http://127.0.0.1:" + srv.wsPort + "/";
    const resp = await page.goto(base);
    assert.equal(resp.status(), 200);
    assert.equal(await page.title(), "Runnel dashboard");
    await page.waitForSelector("#conn[data-state=open]", { timeout: 5000 });

    /* Overview from INFO. */
    await page.waitForFunction(() => document.getElementById("ov-keys").textContent === "2",
                               null, { timeout: 5000 });
    assert.match(await page.textContent("#ov-dbs"), /db0: 2/);
    assert.match(await page.textContent("#ov-clients"), /^\d+$/);
    assert.match(await page.textContent("#ov-memory"), /^[\d.]+ (B|KB|MB|GB)$/);

    /* The stream row: length, group with its consumer, pending, lag. */
    const row = 'tr[data-stream="orders"]';
    await page.waitForSelector(row, { timeout: 5000 });
    const cell = (col) => page.textContent(row + ' td[data-col="' + col + '"]');
    assert.equal(await cell("length"), "5");
    assert.equal(await cell("pending"), "2");
    assert.equal(await cell("lag"), "3");
    assert.equal(await page.textContent(row + ' [data-group="billing"]'), "billing1 consumer");
    assert.equal(await page.textContent('tr[data-stream="audit"] td[data-col="lag"]'), "–");
    const ids = srv.cli("XRANGE", "orders", "-", "+").split("\n")
        .filter((l) => /^\d+-\d+$/.test(l));
    assert.equal(ids.length, 5);
    assert.equal(await page.textContent(row + " td:nth-child(3)"), ids[0]);
    assert.equal(await page.textContent(row + " td:nth-child(4)"), ids[4]);

    /* The subscribed channel. */
    await page.waitForSelector('tr[data-channel="news"]', { timeout: 5000 });
    assert.equal(await page.textContent('tr[data-channel="news"] td.num'), "1");

    /* Live tail: select the row, XADD, the entry shows within one second. */
    await page.click(row);
    await page.waitForSelector("section.tail[data-tail=live]", { timeout: 5000 });
    assert.equal(await page.textContent("#tail-name"), "orders");
    /* The clock starts when XADD has replied (the entry is appended). */
    const id = srv.cli("XADD", "orders", "*", "sku", "B-42", "note", "from the browser test");
    const t0 = Date.now();
    await page.waitForSelector('#tail-list li[data-id="' + id + '"]', { timeout: 1000 });
    const elapsed = Date.now() - t0;
    console.log("# tail latency: " + elapsed + " ms");
    assert.ok(elapsed < 1000, "tail entry shown after " + elapsed + " ms");
    assert.equal(await page.textContent('#tail-list li[data-id="' + id + '"] .fields'),
                 "skuB-42notefrom the browser test");
    /* The new entry raises the group's lag to 4. */
    await page.waitForFunction(`(${streamCell})("orders", "lag") === "4"`, null,
                               { timeout: 3000 });

    /* Some traffic for the charts, newest entry on top of the tail. */
    let last = id;
    for (let i = 0; i < 12; i++) {
        last = srv.cli("XADD", "orders", "*", "sku", "C-" + i, "qty", String(i % 4 + 1));
        await sleep(250);
    }
    await page.waitForSelector('#tail-list li[data-id="' + last + '"]', { timeout: 1000 });
    assert.equal(await page.getAttribute("#tail-list li:first-child", "data-id"), last);
    assert.equal(await page.locator("#tail-list li").count(), 13);
    await page.waitForFunction(`(${streamCell})("orders", "length") === "18"`, null,
                               { timeout: 3000 });

    /* The Server panel from INFO default ws: this page's session and tail. */
    await page.waitForFunction(
        () => /1 \(1 tails, 0 consumers\)/.test(document.getElementById("server-facts").innerText),
        null, { timeout: 3000 });

    fs.mkdirSync(OUTPUT, { recursive: true });
    const shot = path.join(OUTPUT, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log("# screenshot: " + shot);

    /* Narrow screens: one column, nothing wider than the viewport. */
    await page.setViewportSize({ width: 420, height: 900 });
    await sleep(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= 420, "page is " + overflow + " px wide in a 420 px viewport");
    await page.screenshot({ path: path.join(OUTPUT, "dashboard-narrow.png"), fullPage: true });
    await page.setViewportSize({ width: 1440, height: 1000 });
    assert.deepEqual(problems, []);

    /* Reconnect: restart the server on the same ports; the page comes back
     * live and tails again. Failed WebSocket attempts while it is down are
     * the browser's own console errors, so they are not counted here. */
    await srv.stop();
    await page.waitForSelector("#conn[data-state=closed]", { timeout: 5000 });
    await srv.start();
    await page.waitForSelector("#conn[data-state=open]", { timeout: 10000 });
    await page.waitForSelector("section.tail[data-tail=live]", { timeout: 5000 });
    const id2 = srv.cli("XADD", "orders", "*", "sku", "after-restart");
    await page.waitForSelector('#tail-list li[data-id="' + id2 + '"]', { timeout: 1000 });
    const other = problems.filter((p) => !/WebSocket connection to .* failed/.test(p));
    assert.deepEqual(other, []);
});

test("dashboard asks for the password when requirepass is set", { timeout: 60000 }, async (t) => {
    assert.ok(SERVER, "RUNNEL_SERVER is not set (path to runnel-server)");
    const srv = new Server(await freePort(), await freePort(), ["--requirepass", "s3cret"]);
    let browser = null;
    t.after(async () => {
        if (browser !== null) {
            await browser.close();
        }
        await srv.stop().finally(() => srv.cleanup());
    });
    await srv.start();
    srv.cli("-a", "s3cret", "--no-auth-warning", "XADD", "locked", "*", "k", "v");

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    const { page, problems } = await openPage(browser);
    await page.goto("http://127.0.0.1:" + srv.wsPort + "/");
    await page.waitForSelector("#auth:not([hidden])", { timeout: 5000 });
    assert.equal(await page.textContent("#conn-text"), "Password required");
    assert.equal(await page.locator('tr[data-stream="locked"]').count(), 0);

    await page.fill("#auth-pass", "wrong");
    await page.click("#auth button");
    await page.waitForFunction(() => document.getElementById("auth-error").textContent !== "",
                               null, { timeout: 3000 });
    assert.match(await page.textContent("#auth-error"), /password/i);

    await page.fill("#auth-pass", "s3cret");
    await page.click("#auth button");
    await page.waitForSelector("#auth", { state: "hidden", timeout: 3000 });
    await page.waitForSelector('tr[data-stream="locked"]', { timeout: 5000 });
    assert.equal(await page.textContent("#conn-text"), "Live");
    assert.deepEqual(problems, []);
});
