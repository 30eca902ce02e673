#!/usr/bin/python3
"""
bench/compare.py: summarise the CSV files written by bench/run.sh.

Reads DIR/<server>-r<round>-P<pipeline>[-<tests>].csv (redis-benchmark
--csv output, server is "runnel" or "redis"), takes the median requests/sec
per (server, test, pipeline) over the rounds and prints a Markdown table:
test, P, runnel rps, redis rps, ratio runnel/redis (of the medians), then
the median of the per-round ratios (each round's runnel and redis runs are
back to back, so this cancels slow drifts in machine load) and the spread
(max-min over median) of each server's rounds so unstable rows stand out.
A file named for one test (e.g. "-xadd_maxlen") names its row by that test
in capitals, since --csv names a command-line test by its whole command.
Then, from DIR/mem-<server>.txt (key=value lines written by run.sh), the
memory per stream entry of each server, and the issue-3 goal lines: the
XADD ratios (goal >= 1.3) and the memory ratio runnel/redis (goal <= 0.8).
Always exits 0 when the files parse; the ratios are reported, not judged.

Usage: /usr/bin/python3 bench/compare.py DIR
"""
import csv
import os
import re
import statistics
import sys

TEST_ORDER = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET",
              "XADD", "XADD_MAXLEN", "XRANGE_100", "XREAD_100",
              "LPUSH", "LPOP", "SADD", "HSET", "ZADD", "LRANGE_100"]
XADD_TESTS = ["XADD", "XADD_MAXLEN"]
XADD_GOAL = 1.3          # runnel/redis requests/sec, at least
MEM_GOAL = 0.8           # runnel/redis bytes per entry, at most
NAME_RE = re.compile(r"^(runnel|redis)-r(\d+)-P(\d+)(-[\w,]+)?\.csv$")


def load(directory):
    """Returns {(server, test, pipeline): {round: rps}} from every CSV in directory."""
    samples = {}
    for name in sorted(os.listdir(directory)):
        m = NAME_RE.match(name)
        if not m:
            continue
        server, rnd, pipeline = m.group(1), int(m.group(2)), int(m.group(3))
        single = m.group(4)[1:].upper() if m.group(4) and "," not in m.group(4) else None
        with open(os.path.join(directory, name), newline="") as f:
            for row in csv.DictReader(f):
                # "LPUSH (needed to benchmark LRANGE)" fills a list: not a result.
                if "(needed" in row["test"]:
                    continue
                # "MSET (10 keys)" -> "MSET"; "XADD bench:xadd * f v" -> the file's name
                test = single or row["test"].split(" ")[0]
                samples.setdefault((server, test, pipeline), {})[rnd] = float(row["rps"])
    return samples


def load_mem(directory):
    """Returns {server: {key: int or float}} from DIR/mem-<server>.txt."""
    mem = {}
    for server in ("runnel", "redis"):
        try:
            with open(os.path.join(directory, "mem-%s.txt" % server)) as f:
                lines = f.read().split()
        except FileNotFoundError:
            continue
        fields = {}
        for item in lines:
            key, _, value = item.partition("=")
            try:
                fields[key] = float(value) if "." in value else int(value)
            except ValueError:
                fields[key] = None
        mem[server] = fields
    return mem


def per_entry(fields, used="used"):
    """Bytes per entry of the used_memory (or used="rss") growth, or None."""
    before, after = fields.get(used + "_before"), fields.get(used + "_after")
    entries = fields.get("entries")
    if before is None or after is None or not entries:
        return None
    return (after - before) / entries


def print_table(head, rows):
    """Prints a Markdown table, first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(cells):
        out = []
        for i, c in enumerate(cells):
            out.append(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]))
        return "| " + " | ".join(out) + " |"

    print(line(head))
    print("|" + "|".join("-" * (w + 1) + ":" if i else "-" * (w + 2)
                         for i, w in enumerate(widths)) + "|")
    for r in rows:
        print(line(r))


def print_mem(mem):
    """Prints the memory table; returns the runnel/redis bytes-per-entry ratio or None."""
    def num(value, fmt="%d"):
        return fmt % value if isinstance(value, (int, float)) else "-"

    rows = []
    for server in ("runnel", "redis"):
        f = mem.get(server)
        if f is None:
            rows.append((server, "missing", "", "", "", "", "", ""))
            continue
        rows.append((server, num(f.get("entries")), num(f.get("used_before")),
                     num(f.get("used_after")), num(per_entry(f), "%.1f"),
                     num(per_entry(f, "rss"), "%.1f"), num(f.get("used_after_del")),
                     num(f.get("fill_rps"), "%.0f")))
    print("\nMemory per stream entry: used_memory growth (INFO memory) for %s entries\n"
          "XADD mem * sensor 42 temp 21.5 on a fresh server; rss = used_memory_rss growth, "
          "for reference:\n" % "1,000,000")
    print_table(("server", "XLEN mem", "used_memory before", "used_memory after",
                 "bytes/entry", "rss bytes/entry", "used_memory after DEL",
                 "fill rps (-P 64)"), rows)
    for server, f in mem.items():
        if f.get("entries") != 1000000:
            print("warning: %s: XLEN mem was %s, not 1000000" % (server, f.get("entries")))
    if "runnel" not in mem or "redis" not in mem:
        return None
    rn, rd = per_entry(mem["runnel"]), per_entry(mem["redis"])
    return rn / rd if rn is not None and rd else None


def spread(values):
    """(max - min) / median as a percentage string."""
    med = statistics.median(values)
    return "%.0f%%" % (100.0 * (max(values) - min(values)) / med) if med else "-"


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    samples = load(argv[1])
    mem = load_mem(argv[1])
    if not samples and not mem:
        print("compare.py: no CSV results in %s" % argv[1], file=sys.stderr)
        return 2
    goals = []
    tests = sorted({k[1] for k in samples},
                   key=lambda t: (TEST_ORDER.index(t) if t in TEST_ORDER else 99, t))
    pipelines = sorted({k[2] for k in samples})
    rows = []
    below = 0
    for p in pipelines:
        for t in tests:
            rn = samples.get(("runnel", t, p), {})
            rd = samples.get(("redis", t, p), {})
            if not rn or not rd:
                rows.append((t, str(p), "-", "-", "missing", "", "", ""))
                continue
            mrn, mrd = statistics.median(rn.values()), statistics.median(rd.values())
            ratio = mrn / mrd if mrd else float("inf")
            paired = [rn[r] / rd[r] for r in rn if r in rd and rd[r]]
            below += ratio < 1.0
            if t in XADD_TESTS:
                goals.append("%-11s -P %-2d runnel/redis %.2f (paired %.2f), goal >= %.1f: %s"
                             % (t, p, ratio, statistics.median(paired) if paired else 0.0,
                                XADD_GOAL, "met" if ratio >= XADD_GOAL else "BELOW GOAL"))
            rows.append((t, str(p), "%.0f" % mrn, "%.0f" % mrd, "%.2f" % ratio,
                         "%.2f" % statistics.median(paired) if paired else "-",
                         spread(list(rn.values())), spread(list(rd.values()))))
    if rows:
        print_table(("test", "P", "runnel rps", "redis rps", "runnel/redis",
                     "paired ratio", "runnel spread", "redis spread"), rows)
        rounds = min(len(v) for v in samples.values())
        print("\nmedian of %d rounds per cell; paired ratio = median over rounds of "
              "runnel/redis measured back to back;\nspread = (max-min)/median over the rounds; "
              "%d of %d runnel/redis ratios below 1.0" % (rounds, below, len(rows)))
    mem_ratio = print_mem(mem) if mem else None
    if mem_ratio is not None:
        goals.append("memory/entry      runnel/redis %.2f, goal <= %.1f: %s"
                     % (mem_ratio, MEM_GOAL, "met" if mem_ratio <= MEM_GOAL else "BELOW GOAL"))
    if goals:
        print("\nStream goals (issue 3):")
        for g in goals:
            print("  " + g)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
