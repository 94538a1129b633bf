"""bench/alert/summarize.py - summarize BENCH_OUT lines written by
tests/lab/test_events.sh: "fault agent event_type convergence_ms alert_ms
[seen_ms]", all from the fault injection. convergence: lab.sh fault's report
(every branch answered as the routing truth says; includes its own checking
time). seen: the first probe of that agent that showed the change. Prints a
Markdown table per fault and the overall percentiles."""
import math
import sys
from collections import defaultdict


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[max(0, min(len(xs) - 1, math.ceil(p / 100.0 * len(xs)) - 1))]  # nearest rank


rows = defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) not in (5, 6):
        continue
    conv, alert = int(f[3]), int(f[4])
    seen = int(f[5]) if len(f) == 6 else None
    rows[(f[0], f[2])].append((conv, alert, seen))

print("| fault | event | n | convergence p50 / p95 | first probe seeing it p50 / p95 "
      "| alert p50 / p95 | alert - convergence p50 / p95 | alert - first probe p50 / p95 |")
print("|---|---|---|---|---|---|---|---|")
all_conv, all_seen = [], []
for (fault, etype), v in sorted(rows.items()):
    conv = [x[0] for x in v]
    al = [x[1] for x in v]
    seen = [x[2] for x in v if x[2] is not None]
    bc = [x[1] - x[0] for x in v]
    bs = [x[1] - x[2] for x in v if x[2] is not None]
    all_conv += bc
    all_seen += bs
    fmt = lambda xs: "%d / %d" % (pct(xs, 50), pct(xs, 95)) if xs else "-"
    print("| %s | %s | %d | %s | %s | %s | %s | %s |" % (fault, etype, len(v), fmt(conv), fmt(seen),
                                                       fmt(al), fmt(bc), fmt(bs)))
print()
if all_conv:
    print("all (ms): alert - convergence: n=%d p50 %d, p95 %d, max %d" % (
        len(all_conv), pct(all_conv, 50), pct(all_conv, 95), max(all_conv)))
if all_seen:
    print("all (ms): alert - first probe seeing the change: n=%d p50 %d, p95 %d, max %d" % (
        len(all_seen), pct(all_seen, 50), pct(all_seen, 95), max(all_seen)))
