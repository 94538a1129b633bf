#!/usr/bin/env python3
# tests/alert/am.py - what the collector, Alertmanager and the webhook receiver say
#
#   am.py open URL              the collector's open incidents, one "ID KIND" line each
#   am.py alert AMURL ID        Alertmanager's alerts (GET /api/v2/alerts, i.e. the ones
#                               not yet resolved) whose label incident is ID, one line each:
#                               "STATE ALERTNAME KIND SEVERITY ENDS_IN_S GENERATOR_URL";
#                               nothing when there is none
#   am.py hook LOG ID           the notifications Alertmanager sent the receiver for ID:
#                               "firing=N resolved=N"
import json
import sys
import urllib.request
from datetime import datetime, timezone


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def ts(s):
    # Alertmanager writes nanoseconds; Python wants at most microseconds
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        frac, tz = rest[:rest.index("+")], rest[rest.index("+"):]
        s = f"{head}.{frac[:6]}{tz}"
    return datetime.fromisoformat(s)


cmd = sys.argv[1]
if cmd == "open":
    for inc in get(sys.argv[2] + "/api/v1/incidents?state=open")["incidents"]:
        print(inc["id"], inc["kind"])
elif cmd == "alert":
    now = datetime.now(timezone.utc)
    for a in get(sys.argv[2] + "/api/v2/alerts"):
        lab = a.get("labels", {})
        if lab.get("incident") != sys.argv[3]:
            continue
        ends = round((ts(a["endsAt"]) - now).total_seconds(), 1) if a.get("endsAt") else "-"
        print(a.get("status", {}).get("state", "?"), lab.get("alertname", "-"),
              lab.get("kind", "-"), lab.get("severity", "-"), ends, a.get("generatorURL", "-"))
elif cmd == "hook":
    n = {"firing": 0, "resolved": 0}
    with open(sys.argv[2]) as f:
        for line in f:
            if not line.strip():
                continue
            msg = json.loads(line)
            for a in msg.get("alerts", []):
                if a.get("labels", {}).get("incident") == sys.argv[3]:
                    st = a.get("status", "?")
                    n[st] = n.get(st, 0) + 1
    print(" ".join(f"{k}={v}" for k, v in n.items()))
else:
    sys.exit(f"am.py: unknown command {cmd}")
