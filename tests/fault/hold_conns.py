#!/usr/bin/env python3
# tests/fault/hold_conns.py - hold N idle or slow TCP connections to a server
#
# Usage: hold_conns.py PORT N SECONDS
# Half the connections never send a byte (idle); the other half send a request
# line and then one header byte per second (slowloris). A connection the server
# closes is counted (and whether it answered 408 first) and opened again, so N
# stay open as far as the server allows. Prints one summary line:
# "opened=N open_max=N open_end=N closed_by_server=N answered_408=N refused=N".
import errno
import selectors
import socket
import sys
import time

port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
sel = selectors.DefaultSelector()
st = {"opened": 0, "closed_by_server": 0, "answered_408": 0, "refused": 0, "open_max": 0}
conns = {}


def open_one(slow):
    s = socket.socket()
    s.setblocking(False)
    e = s.connect_ex(("127.0.0.1", port))
    if e not in (0, errno.EINPROGRESS):
        st["refused"] += 1
        s.close()
        return
    st["opened"] += 1
    conns[s] = {"slow": slow, "sent": 0, "buf": b""}
    sel.register(s, selectors.EVENT_READ)


for i in range(n):
    open_one(i % 2 == 1)
end = time.monotonic() + secs
next_tick = time.monotonic() + 1
req = b"POST /api/v1/results HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
while time.monotonic() < end:
    for key, _ in sel.select(timeout=0.2):
        s = key.fileobj
        try:
            d = s.recv(4096)
        except OSError:
            d = b""
        if d:
            conns[s]["buf"] += d
            continue
        if b" 408 " in conns[s]["buf"][:20]:
            st["answered_408"] += 1
        st["closed_by_server"] += 1
        slow = conns.pop(s)["slow"]
        sel.unregister(s)
        s.close()
        open_one(slow)
    if time.monotonic() >= next_tick:
        next_tick += 1
        for s, c in list(conns.items()):
            if not c["slow"]:
                continue
            chunk = req if c["sent"] == 0 else b"x"
            try:
                s.send(chunk)
                c["sent"] += 1
            except OSError:
                pass
    st["open_max"] = max(st["open_max"], len(conns))
st["open_end"] = len(conns)
print(" ".join(f"{k}={v}" for k, v in st.items()), flush=True)
