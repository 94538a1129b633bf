#!/usr/bin/env python3
# tests/fault/results.py - count one agent's stored results through GET /api/v1/results
# Usage: results.py URL AGENT [LAST] [--seqs FILE]
# Prints "stored=N distinct=N duplicates=N max=N missing=N" where missing counts
# the seqs of 1..LAST (or of the seqs listed one per line in FILE) not stored.
# Exit status 0 when nothing is missing and nothing is stored twice.
import json
import sys
import urllib.request

url, agent = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
want = None
if args and args[0] == "--seqs":
    with open(args[1]) as f:
        want = {int(x) for x in f if x.strip()}
elif args:
    want = set(range(1, int(args[0]) + 1))

seqs, after = [], 0
while True:
    with urllib.request.urlopen(f"{url}/api/v1/results?agent={agent}&after_seq={after}&limit=1000",
                                timeout=30) as r:
        rows = json.load(r)["results"]
    if not rows:
        break
    seqs += [x["seq"] for x in rows]
    if rows[-1]["seq"] <= after:
        break  # no progress: would loop forever
    after = rows[-1]["seq"]
distinct = set(seqs)
missing = sorted(want - distinct) if want is not None else []
print(f"stored={len(seqs)} distinct={len(distinct)} duplicates={len(seqs) - len(distinct)} "
      f"max={max(distinct) if distinct else 0} missing={len(missing)}")
if missing:
    print("missing:", missing[:20], file=sys.stderr)
sys.exit(1 if missing or len(seqs) != len(distinct) else 0)
