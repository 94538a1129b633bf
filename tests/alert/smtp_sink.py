#!/usr/bin/env python3
# tests/alert/smtp_sink.py - an SMTP server that accepts every message and
# records it as a relay that tolerates bare LF would read it: a line ends at
# LF, DATA ends at a line that is "." (with or without CR). Every command
# line is appended to LOG.cmds, every message's raw DATA bytes to LOG.data
# (each followed by a line "=====END"), so a test can see whether a message
# ended early and smuggled commands in.
# Usage: smtp_sink.py PORT LOG
import socket
import sys

port, log = int(sys.argv[1]), sys.argv[2]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(8)


def serve(c):
    f = c.makefile("rb")
    c.sendall(b"220 sink ESMTP\r\n")
    with open(log + ".cmds", "ab") as cmds, open(log + ".data", "ab") as data:
        while True:
            line = f.readline()
            if not line:
                break
            cmds.write(line if line.endswith(b"\n") else line + b"\n")
            cmds.flush()
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"DATA":
                c.sendall(b"354 go ahead\r\n")
                while True:
                    l = f.readline()
                    if not l or l.rstrip(b"\r\n") == b".":
                        break
                    data.write(l)
                data.write(b"=====END\n")
                data.flush()
                c.sendall(b"250 queued\r\n")
            elif verb == b"QUIT":
                c.sendall(b"221 bye\r\n")
                break
            elif verb in (b"EHLO", b"HELO"):
                c.sendall(b"250 sink\r\n")
            else:
                c.sendall(b"250 ok\r\n")


while True:
    c, _ = ls.accept()
    try:
        serve(c)
    except OSError:
        pass  # a client that left early (a port probe) must not end the server
    c.close()
