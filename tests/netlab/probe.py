"""A tiny echo server and client for the policy tests, run inside lab namespaces (no netcat here).

serve SECONDS PORT...   echo on every PORT over TCP and UDP, then exit after SECONDS
tcp IP PORT [UID]       connect (as UID, if given), send, expect the echo: exit 0, else 1
udp IP PORT [UID]       send a datagram, expect the echo: exit 0, else 1
"""

from __future__ import annotations

import os
import selectors
import socket
import sys
import time

TIMEOUT_S = 1.5


def serve(seconds: float, ports: list[int]) -> None:
    sel = selectors.DefaultSelector()
    for port in ports:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("0.0.0.0", port))
        tcp.listen(16)
        sel.register(tcp, selectors.EVENT_READ, "accept")
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("0.0.0.0", port))
        sel.register(udp, selectors.EVENT_READ, "udp")
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        for key, _ in sel.select(min(left, 0.5)):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if key.data == "accept":
                conn, _ = sock.accept()
                sel.register(conn, selectors.EVENT_READ, "conn")
            elif key.data == "udp":
                data, peer = sock.recvfrom(2048)
                sock.sendto(data, peer)
            else:
                data = sock.recv(2048)
                if data:
                    sock.sendall(data)
                else:
                    sel.unregister(sock)
                    sock.close()


def tcp(ip: str, port: int) -> int:
    try:
        with socket.create_connection((ip, port), timeout=TIMEOUT_S) as s:
            s.sendall(b"ping")
            return 0 if s.recv(16) == b"ping" else 1
    except OSError:
        return 1


def udp(ip: str, port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT_S)
        s.sendto(b"ping", (ip, port))
        try:
            return 0 if s.recvfrom(16)[0] == b"ping" else 1
        except OSError:
            return 1


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "serve":
        serve(float(args[0]), [int(p) for p in args[1:]])
    else:
        if len(args) > 2:
            os.setgid(int(args[2]))
            os.setuid(int(args[2]))
        sys.exit((tcp if cmd == "tcp" else udp)(args[0], int(args[1])))
