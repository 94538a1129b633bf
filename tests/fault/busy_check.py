#!/usr/bin/env python3
# tests/fault/busy_check.py - fill a server's connection table, then read the
# answer a connection beyond the limit gets, byte for byte
#
# Usage: busy_check.py PORT N
# Opens N idle connections (more than the server's max_connections), then one
# more that sends GET /healthz and reads until the server closes. Prints
# "status=S content_length=L body_bytes=B json=yes|no held=H" and the raw body.
import json
import socket
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    held.append(s)
time.sleep(0.5)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
raw = b""
try:
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
