"""bench/alert/summarize.py - summarize BENCH_OUT lines written by
tests/lab/test_events.sh: "fault agent event_type convergence_ms alert_ms"
(both from fault injection). Prints a Markdown table per fault."""
import math
import sys
from collections import defaultdict


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, math.ceil(p / 100.0 * len(xs)) - 1))  # nearest rank
    return xs[k]


rows = defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) != 5:
        continue
    fault, agent, etype, conv, alert = f[0], f[1], f[2], int(f[3]), int(f[4])
    rows[(fault, etype)].append((conv, alert, alert - conv))
print("| fault | event | n | convergence p50 / p95 (ms) | alert p50 / p95 (ms) "
      "| alert beyond convergence p50 / p95 / max (ms) |")
print("|---|---|---|---|---|---|")
allb = []
for (fault, etype), v in sorted(rows.items()):
    conv = [x[0] for x in v]
    al = [x[1] for x in v]
    b = [x[2] for x in v]
    allb += b
    print("| %s | %s | %d | %d / %d | %d / %d | %d / %d / %d |" % (
        fault, etype, len(v), pct(conv, 50), pct(conv, 95), pct(al, 50), pct(al, 95),
        pct(b, 50), pct(b, 95), max(b)))
if allb:
    print("\nall: n=%d, beyond convergence p50 %d ms, p95 %d ms, max %d ms" % (
        len(allb), pct(allb, 50), pct(allb, 95), max(allb)))
