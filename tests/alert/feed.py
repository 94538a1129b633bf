#!/usr/bin/env python3
# tests/alert/feed.py - one agent's probe rounds, posted to a collector once a second
#
# Usage: feed.py URL TOKEN_FILE MODE_FILE LOG
# Each round carries three DNS records (the anycast address 127.0.0.1 and the
# management addresses 127.0.0.2 = site-a/s1.lab and 127.0.0.3 = site-b/s2.lab,
# both answering). MODE_FILE says what the anycast address answers, read
# before each round:
#   hijack  an identity no instance has: outcome ok, instance null, "rogue.evil"
#   home    site-a's identity s1.lab
# seq and round keep growing for the life of this process, across collector
# restarts; a round the collector did not take (down, restarting) is dropped,
# like rounds an agent probes while its spool is lost. LOG gets one line per
# POST: "unix_time round mode status stored".
import http.client
import json
import sys
import time
import urllib.parse
from datetime import datetime, timezone

url, token_file, mode_file, log_path = sys.argv[1:5]
with open(token_file) as f:
    token = f.read().strip()
u = urllib.parse.urlsplit(url)
log = open(log_path, "a", buffering=1)


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def rec(seq, rnd, target, address, instance, identity):
    return {"seq": seq, "round": rnd, "time": now_rfc3339(), "service": "dns",
            "address": address, "family": 4, "target": target, "instance": instance,
            "identity": identity, "identity_source": "nsid", "query": "nsid",
            "transport": "udp", "outcome": "ok", "rcode": "NOERROR", "rtt_ms": 1.2}


# What a rogue server may put in its NSID: Slack markup (a channel mention and
# a phishing link) and an attempt to end an e-mail's DATA and start another.
HOSTILE = ("<!channel> hijack <https://evil.example/reset|Re-authenticate here>"
           "\n.\r\nMAIL FROM:<evil@example.net>\r\n")

seq = 0
rnd = 0
while True:
    t0 = time.monotonic()
    try:
        with open(mode_file) as f:
            mode = f.read().strip()
    except OSError:
        mode = "hijack"
    rnd += 1
    if mode == "home":
        anycast = ("site-a", "s1.lab")
    elif mode == "hostile":
        anycast = (None, HOSTILE)
    else:
        anycast = (None, "rogue.evil")
    recs = [rec(seq + 1, rnd, "anycast", "127.0.0.1", *anycast),
            rec(seq + 2, rnd, "management", "127.0.0.2", "site-a", "s1.lab"),
            rec(seq + 3, rnd, "management", "127.0.0.3", "site-b", "s2.lab")]
    seq += 3
    status, stored = 0, 0
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        c.request("POST", "/api/v1/results", json.dumps({"results": recs}),
                  {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        c.close()
        status = r.status
        if status == 200:
            stored = json.loads(body).get("stored", 0)
    except (OSError, http.client.HTTPException, ValueError):
        pass
    log.write(f"{time.time():.3f} {rnd} {mode} {status} {stored}\n")
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
