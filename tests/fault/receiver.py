#!/usr/bin/env python3
# tests/fault/receiver.py - an alert webhook receiver that works, or hangs
#
# ok:   receiver.py ok PORT LOG    answers every POST with 200 and appends its
#                                  body (one JSON object) as one line to LOG
# hang: receiver.py hang PORT      accepts connections, reads, never answers
#                                  (a receiver that is up but stuck)
import http.server
import socket
import sys
import time

mode, port = sys.argv[1], int(sys.argv[2])
if mode == "hang":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    held = []
    while True:
        c, _ = ls.accept()
        held.append(c)  # never answered, never closed
        time.sleep(0)

log = open(sys.argv[3], "a", buffering=1)


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n).decode(errors="replace").replace("\n", " ")
        log.write(body + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
