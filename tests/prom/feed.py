#!/usr/bin/env python3
# tests/prom/feed.py - POST one batch of result records to a collector's ingest API
#
# Usage: feed.py URL TOKEN_FILE FIRST_SEQ SPEC...
# Each SPEC is "service/family/target/instance/outcome/rtt_ms" (rtt_ms "-" for none,
# instance "-" for none); the records get seqs FIRST_SEQ, FIRST_SEQ+1, ... and
# the current time. Prints the collector's answer; exits 1 unless it is 200.
import http.client
import json
import sys
import urllib.parse
from datetime import datetime, timezone

ADDR = {4: "127.0.0.1", 6: "::1"}
MGMT = {"site-a": "127.0.0.2", "site-b": "127.0.0.3"}
IDENT = {"site-a": "s1.lab", "site-b": "s2.lab"}


def record(seq, spec):
    service, family, target, instance, outcome, rtt = spec.split("/")
    family = int(family)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    inst = "" if instance == "-" else instance
    addr = ADDR[family] if target == "anycast" else MGMT.get(inst, "127.0.0.9")
    r = {"seq": seq, "round": seq, "time": now, "service": service, "address": addr,
         "family": family, "target": target, "instance": inst or None,
         "identity": IDENT.get(inst, inst) or None,
         "identity_source": "nsid" if inst else None, "query": "nsid", "transport": "udp",
         "outcome": outcome, "rcode": "NOERROR" if outcome == "ok" else None,
         "rtt_ms": None if rtt == "-" else float(rtt)}
    return {k: v for k, v in r.items() if v is not None}


def main():
    url, token_file, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
    recs = [record(first + i, s) for i, s in enumerate(sys.argv[4:])]
    token = open(token_file).read().strip()
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("POST", "/api/v1/results", json.dumps({"results": recs}),
              {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read().decode()
    print(r.status, body)
    sys.exit(0 if r.status == 200 else 1)


main()
