#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A single-threaded echo server for bench/bench14.sh's one-client latency:
listens on 127.0.0.1:PORT, prints "listening" once it does, serves ONE
connection with blocking recv and sendall, and exits when the client closes
it (or after SECONDS without a connection).

usage: bench/echo_server.py PORT [SECONDS]
"""
import socket
import sys

port = int(sys.argv[1])
limit = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    s.listen(1)
    s.settimeout(limit)
    print('listening', flush=True)
    c, _ = s.accept()
    c.settimeout(None)
    with c:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := c.recv(65536):
            c.sendall(data)
