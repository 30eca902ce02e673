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
Always exits 0 when the files parse; the ratios are reported, not judged.

Usage: /usr/bin/python3 bench/compare.py DIR
"""
import csv
import os
import re
import statistics
import sys

TEST_ORDER = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"]
NAME_RE = re.compile(r"^(runnel|redis)-r(\d+)-P(\d+)(-[\w,]+)?\.csv$")


def load(directory):
    """Returns {(server, test, pipeline): {round: rps}} from every CSV in directory."""
    samples = {}
    for name in sorted(os.listdir(directory)):
        m = NAME_RE.match(name)
        if not m:
            continue
        server, rnd, pipeline = m.group(1), int(m.group(2)), int(m.group(3))
        with open(os.path.join(directory, name), newline="") as f:
            for row in csv.DictReader(f):
                test = row["test"].split(" ")[0]  # "MSET (10 keys)" -> "MSET"
                samples.setdefault((server, test, pipeline), {})[rnd] = float(row["rps"])
    return samples


def spread(values):
    """(max - min) / median as a percentage string."""
    med = statistics.median(values)
    return "%.0f%%" % (100.0 * (max(values) - min(values)) / med) if med else "-"


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    samples = load(argv[1])
    if not samples:
        print("compare.py: no CSV results in %s" % argv[1], file=sys.stderr)
        return 2
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
            rows.append((t, str(p), "%.0f" % mrn, "%.0f" % mrd, "%.2f" % ratio,
                         "%.2f" % statistics.median(paired) if paired else "-",
                         spread(list(rn.values())), spread(list(rd.values()))))
    head = ("test", "P", "runnel rps", "redis rps", "runnel/redis",
            "paired ratio", "runnel spread", "redis spread")
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
    rounds = min(len(v) for v in samples.values())
    print("\nmedian of %d rounds per cell; paired ratio = median over rounds of "
          "runnel/redis measured back to back;\nspread = (max-min)/median over the rounds; "
          "%d of %d runnel/redis ratios below 1.0" % (rounds, below, len(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
