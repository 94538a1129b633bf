#!/usr/bin/env python3
# tests/fault/hold_conns.py - hold N idle or slow TCP connections to a server
#
# Usage: hold_conns.py PORT N SECONDS [--src ADDR[,ADDR...]] [--reopen-delay S]
# Half the connections never send a byte (idle); the other half send a request
# line and then one header byte per second (slowloris). A connection the server
# closes is counted (and whether it answered 408 or 503 first) and opened again,
# at once or S seconds later (a client that retries), so N stay open as far as
# the server allows. With --src the connections come from those local
# addresses in turn (127.0.0.x: as many sources to the server).
# Prints one summary line: "opened=N open_max=N open_end=N closed_by_server=N
# answered_408=N answered_503=N refused=N".
import errno
import selectors
import socket
import sys
import time

port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
srcs, delay = [None], 0.0
args = sys.argv[4:]
while args:
    if args[0] == "--src":
        srcs = args[1].split(",")
    elif args[0] == "--reopen-delay":
        delay = float(args[1])
    args = args[2:]
later = []  # (when, slow, src) of connections to open again
sel = selectors.DefaultSelector()
st = {"opened": 0, "closed_by_server": 0, "answered_408": 0, "answered_503": 0, "refused": 0,
      "open_max": 0}
conns = {}


def open_one(slow, src):
    s = socket.socket()
    s.setblocking(False)
    try:
        if src is not None:
            s.bind((src, 0))
        e = s.connect_ex(("127.0.0.1", port))
    except OSError as x:
        e = x.errno
    if e not in (0, errno.EINPROGRESS):
        st["refused"] += 1
        s.close()
        return
    st["opened"] += 1
    conns[s] = {"slow": slow, "src": src, "sent": 0, "buf": b""}
    sel.register(s, selectors.EVENT_READ)


for i in range(n):
    open_one(i % 2 == 1, srcs[i % len(srcs)])
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
        head = conns[s]["buf"][:20]
        if b" 408 " in head:
            st["answered_408"] += 1
        if b" 503 " in head:
            st["answered_503"] += 1
        st["closed_by_server"] += 1
        c = conns.pop(s)
        sel.unregister(s)
        s.close()
        if delay > 0:
            later.append((time.monotonic() + delay, c["slow"], c["src"]))
        else:
            open_one(c["slow"], c["src"])
    now = time.monotonic()
    while later and later[0][0] <= now:
        _, slow, src = later.pop(0)
        open_one(slow, src)
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
