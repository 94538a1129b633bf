#!/usr/bin/env python3
# tests/fault/loadgen.py - POST numbered result batches to a collector and log each answer
#
# send:   loadgen.py send URL TOKEN_FILE NBATCHES SIZE ACKLOG [--pace S] [--first F]
#         batch b (0-based) carries seqs b*SIZE+1 .. (b+1)*SIZE; batches F..NBATCHES-1
#         (F defaults to 0), one POST per batch, tried once, S seconds apart; appends "b status stored duplicates ms" to ACKLOG
#         (status 0: no answer: refused, reset or timed out).
# resend: loadgen.py resend URL TOKEN_FILE NBATCHES SIZE ACKLOG
#         re-sends every batch without a 200 line in ACKLOG until it gets one
#         (60 s budget), appends those answers too, prints
#         "resent=N stored=N duplicates=N".
# Every request uses a new connection (the agent may too) and a 10 s timeout.
import http.client
import json
import sys
import time
import urllib.parse
from datetime import datetime, timezone


def record(seq):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"seq": seq, "round": seq, "time": now, "service": "dns", "address": "127.0.0.1",
            "family": 4, "target": "anycast", "instance": "site-a", "identity": "s1.lab",
            "identity_source": "nsid", "query": "nsid", "transport": "udp", "outcome": "ok",
            "rcode": "NOERROR", "rtt_ms": 1.5}


def post(url, token, body):
    u = urllib.parse.urlsplit(url)
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        c.request("POST", "/api/v1/results", body,
                  {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        st, dup, err = 0, 0, ""
        try:
            j = json.loads(data) if data else {}
        except ValueError:
            j = {"error": "unparsable body: " + repr(data[:60])}
        if r.status == 200:
            st, dup = j.get("stored", 0), j.get("duplicates", 0)
        else:
            err = str(j.get("error", ""))
        return r.status, st, dup, (time.monotonic() - t0) * 1000, err
    except (OSError, http.client.HTTPException, ValueError) as e:
        return 0, 0, 0, (time.monotonic() - t0) * 1000, type(e).__name__


def batch_body(b, size):
    return json.dumps({"results": [record(b * size + i) for i in range(1, size + 1)]})


def main():
    mode, url, token_file, nb, size, acklog = sys.argv[1:7]
    nb, size = int(nb), int(size)
    opts = dict(zip(sys.argv[7::2], sys.argv[8::2]))
    pace = float(opts.get("--pace", 0))
    first = int(opts.get("--first", 0))
    with open(token_file) as f:
        token = f.read().strip()
    log = open(acklog, "a", buffering=1)
    if mode == "send":
        for b in range(first, nb):
            code, st, dup, ms, err = post(url, token, batch_body(b, size))
            log.write(f"{b} {code} {st} {dup} {ms:.1f} {time.time():.3f} {err}\n")
            if code != 200:
                time.sleep(0.05)
            elif pace:
                time.sleep(pace)
        return 0
    acked = set()
    with open(acklog) as f:
        for line in f:
            p = line.split()
            if len(p) >= 2 and p[1] == "200":
                acked.add(int(p[0]))
    resent = stored = dups = 0
    deadline = time.monotonic() + 60
    for b in range(nb):
        if b in acked:
            continue
        resent += 1
        while True:
            code, st, dup, ms, err = post(url, token, batch_body(b, size))
            log.write(f"{b} {code} {st} {dup} {ms:.1f} {time.time():.3f} {err}\n")
            if code == 200:
                stored, dups = stored + st, dups + dup
                break
            if time.monotonic() > deadline:
                print(f"resend: batch {b} still refused (status {code})", file=sys.stderr)
                return 1
            time.sleep(0.2)
    print(f"resent={resent} stored={stored} duplicates={dups}")
    return 0


sys.exit(main())
