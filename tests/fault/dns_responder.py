#!/usr/bin/env python3
# tests/fault/dns_responder.py - a tiny DNS server on loopback that names itself
#
# Answers every query on ADDR:PORT (UDP) with NOERROR: CHAOS TXT queries
# (id.server, hostname.bind) get one TXT record with IDENTITY, and a query
# carrying the EDNS NSID option gets NSID = IDENTITY back. Malformed packets
# are ignored. Counts queries; prints the count to stderr on SIGTERM.
# Usage: dns_responder.py ADDR PORT IDENTITY
import signal
import socket
import struct
import sys

addr, port, ident = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
count = 0


def stop(*_):
    print(f"dns_responder: {count} queries answered", file=sys.stderr)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)


def answer(q):
    qid, flags, qd, _an, _ns, ar = struct.unpack("!6H", q[:12])
    if qd != 1 or flags & 0x8000:
        return None
    i = 12
    while q[i] != 0:
        i += 1 + q[i]
    qend = i + 5
    qtype, qclass = struct.unpack("!HH", q[i + 1:qend])
    nsid = False
    if ar >= 1 and len(q) >= qend + 11 and q[qend] == 0:
        otype, _size, _ttl, rdlen = struct.unpack("!HHIH", q[qend + 1:qend + 11])
        opts = q[qend + 11:qend + 11 + rdlen]
        j = 0
        while otype == 41 and j + 4 <= len(opts):
            code, olen = struct.unpack("!HH", opts[j:j + 4])
            nsid |= code == 3
            j += 4 + olen
    txt = qtype == 16 and qclass == 3
    out = struct.pack("!6H", qid, 0x8400 | (flags & 0x0100), 1, 1 if txt else 0, 0, 1 if ar else 0)
    out += q[12:qend]
    if txt:
        rd = bytes([len(ident)]) + ident
        out += struct.pack("!HHHIH", 0xC00C, 16, 3, 0, len(rd)) + rd
    if ar:
        od = struct.pack("!HH", 3, len(ident)) + ident if nsid else b""
        out += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(od)) + od
    return out


fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((addr, port))
while True:
    q, peer = s.recvfrom(4096)
    try:
        a = answer(q)
    except (IndexError, struct.error):
        a = None
    if a:
        s.sendto(a, peer)
        count += 1
