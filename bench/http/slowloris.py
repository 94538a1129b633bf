#!/usr/bin/env python3
"""bench/http/slowloris.py - hold N connections that send a request one byte at a time.

Usage: slowloris.py PORT N SECONDS. Prints how many connections the server cut
off (408 or close) and how many were still open at the end."""
import socket
import sys
import time

port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
req = b"GET /slow HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 10000
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    conns.append([s, 0, False])
end = time.time() + secs
while time.time() < end:
    for c in conns:
        if c[2]:
            continue
        try:
            c[0].send(req[c[1]:c[1] + 1])
            c[1] += 1
            data = c[0].recv(4096)
            c[2] = True  # an answer (408) or EOF: cut off
        except BlockingIOError:
            pass
        except OSError:
            c[2] = True
    time.sleep(0.5)
cut = sum(1 for c in conns if c[2])
print(f"slowloris: {n} connections, {cut} cut off, {n - cut} still open after {secs:.0f}s")
