#!/usr/bin/env python3
# tests/fault/busy_check.py - fill a server's connection table, then read the
# answer a connection beyond the limit gets, byte for byte
#
# Usage: busy_check.py PORT N [--src ADDR[,ADDR...]] [--probe-src ADDR]
# Opens N idle connections (more than the server's max_connections, or than
# its per-source cap when they share a source), then one more that sends
# GET /healthz and reads until the server closes. --src spreads the N over
# those local addresses in turn; --probe-src is where the last one comes from.
# Prints "status=S content_length=L body_bytes=B json=yes|no held=H" and the raw body.
import json
import socket
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
srcs, probe_src = [None], None
args = sys.argv[3:]
while args:
    if args[0] == "--src":
        srcs = args[1].split(",")
    elif args[0] == "--probe-src":
        probe_src = args[1]
    args = args[2:]


def dial(src, timeout=None):
    s = socket.socket()
    if src is not None:
        s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


held = []
for i in range(n):
    held.append(dial(srcs[i % len(srcs)]))
time.sleep(0.5)
s = dial(probe_src, 5)
raw = b""
try:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    while True:
        d = s.recv(4096)
        if not d:
            break
        raw += d
except OSError:
    pass
head, _, body = raw.partition(b"\r\n\r\n")
lines = head.decode(errors="replace").split("\r\n")
status = lines[0].split()[1] if lines and len(lines[0].split()) > 1 else "000"
cl = next((int(x.split(":", 1)[1]) for x in lines[1:] if x.lower().startswith("content-length:")), -1)
try:
    json.loads(body[:cl] if cl >= 0 else body)
    ok = "yes"
except ValueError:
    ok = "no"
print(f"status={status} content_length={cl} body_bytes={len(body)} json={ok} held={len(held)} body={body!r}")
