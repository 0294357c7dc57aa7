"""STAND-IN for E2SAR's `e2sar_perf` (no E2SAR build here): real UDP, E2SAR's output formats.

Installed as `e2sar_perf` first on PATH by tests/netlab/test_netlab_e2sar.py. It takes the
seed's command lines, sends one datagram per event (`-s`) to the URI's `data=` address, or
binds the receiver's UDP port range and counts what arrives (`-r`), and prints what
E2SAR prints, in the format of the version in STANDIN_E2SAR_VERSION (0.1.4 or 0.3.1;
reference/e2sar.md), thousands separators included. It makes no loss of its own: what the
receiver counts is what arrived over the lab's network, and its "Lost" counters stay 0.
It shows the pairing, the sender/receiver protocol and both output formats; it says nothing
about how E2SAR itself loses events on a network (that is not tested here). Exits 0 always.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import time
from pathlib import Path


def setting(name: str, default: str) -> str:
    """From the env, else from `standin.json` beside the installed stand-in: the lab's pods get
    only their own env, so the test leaves the settings there."""
    beside = Path(sys.argv[0]).with_name("standin.json")
    saved = json.loads(beside.read_text()) if beside.is_file() else {}
    return os.environ.get(name) or str(saved.get(name, default))


VERSION = setting("STANDIN_E2SAR_VERSION", "0.1.4")
NEW = not VERSION.startswith("0.1")


def n(value: int) -> str:
    return f"{value:,}"


def ports_for(threads: int) -> int:
    count = 1
    while count < threads:
        count *= 2
    return count


def sender(args: argparse.Namespace) -> None:
    m = re.search(r"data=([0-9.]+):(\d+)", args.uri)
    assert m, args.uri
    host, port = m.group(1), int(m.group(2))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    start = time.monotonic()
    for event in range(args.num):
        sock.sendto(event.to_bytes(8, "big") + b"\0" * max(0, min(args.length, args.mtu - 64) - 8), (host, port))
        sent += 1
        if sent % 20 == 0:
            time.sleep(0.001)  # paced, as E2SAR paces to --rate
    elapsed = int((time.monotonic() - start) * 1e6)
    if NEW:
        print(f"E2SAR Version:                 {VERSION}")
        print("Control plane:                 OFF")
        print(f"Sending average bit rate is:   {args.rate} Gbps")
        print(f"Event size is {args.length} bytes or {args.length * 8} bits")
        print(f"Sending {n(args.num)} event buffers")
        print("Using interface eth0")
        print(f"Using MTU {args.mtu}")
        print(f"Completed, {n(sent)} packets sent, 0 errors")
        print(f"Elapsed usecs: {n(elapsed)} microseconds")
        print(f"Estimated effective throughput (Gbps): {sent * args.length * 8 / max(elapsed, 1) / 1000:.4f}")
    else:
        print(f"E2SAR Version: {VERSION}")
        print("Control plane                OFF")
        print(f"Sending bit rate is {args.rate} Gbps")
        print(f"Event size is {args.length} bytes or {args.length * 8} bits")
        print(f"Sending {n(args.num)} event buffers")
        print(f"Using MTU {args.mtu}")
        print(f"Completed, {n(sent)} frames sent, 0 errors")
        print("Stopping threads")


def receiver(args: argparse.Namespace) -> None:
    count = ports_for(args.threads)
    socks = []
    for port in range(args.port, args.port + count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.bufsize)
        sock.bind((args.ip, port))
        sock.setblocking(False)
        socks.append(sock)
    last = f"{args.port}:{args.port + count - 1}"
    if NEW:
        print(f"E2SAR Version:                 {VERSION}\nControl plane:                 OFF")
        print(f"Will run for:                  {args.duration} sec\nReceiving on ports:            {last}", flush=True)
    else:
        print(f"Control plane will be OFF\nUsing Unassigned Threads\nWill run for {args.duration} sec")
        print(f"Receiving on ports {last}", flush=True)
    events: set[int] = set()
    per_port = dict.fromkeys(range(args.port, args.port + count), 0)
    total_bytes = 0
    end = time.monotonic() + args.duration
    next_block = time.monotonic() + 1.0
    while time.monotonic() < end:
        got = False
        for sock in socks:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            got = True
            events.add(int.from_bytes(data[:8], "big"))
            per_port[sock.getsockname()[1]] += 1
            total_bytes += len(data)
        if time.monotonic() >= next_block:
            block(len(events), total_bytes, sum(per_port.values()))
            next_block += 1.0
        if not got:
            time.sleep(0.0005)
    block(len(events), total_bytes, sum(per_port.values()))
    if NEW:
        print("Port Stats: ")
        for port, got_here in per_port.items():
            print(f"\tPort: {port} Received: {n(got_here)}")
        print(f"\tTotal: {n(sum(per_port.values()))}")
    else:
        print("Completed\nStopping threads\nDeregistering worker")


def block(received: int, total_bytes: int, packets: int) -> None:
    if NEW:  # on stderr through the logging library, prefix on the first line only
        stamp = time.strftime("%H:%M:%S")
        lines = [f"{os.getpid()}: [{stamp}.000000] {{info}} Stats:", f"\tTotal Bytes: {n(total_bytes)}"]
        lines += [f"\tTotal Packets: {n(packets)}", "\tBad RE Header Discards: 0", f"\tEvents Received: {n(received)}"]
        lines += ["\tEvents Mangled: 0", "\tEvents Lost in reassembly: 0", "\tEvents Lost in enqueue: 0"]
        lines += ["\tData Errors: 0", "\tgRPC Errors: 0", "\tEvents lost so far (<Evt ID:Data ID/num frags rcvd>):"]
        print("\n".join(lines), file=sys.stderr, flush=True)
    else:
        print(f"Stats:\n\tEvents Received: {n(received)}\n\tEvents Mangled: 0\n\tEvents Lost: 0\n\tData Errors: 0")
        print("\tgRPC Errors: 0\n\tEvents lost so far:", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(prog="e2sar_perf (stand-in)")
    p.add_argument("-s", action="store_true")
    p.add_argument("-r", action="store_true")
    p.add_argument("-u", dest="uri", required=True)
    p.add_argument("--mtu", type=int, default=1500)
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--length", type=int, default=1048576)
    p.add_argument("-n", dest="num", type=int, default=10)
    p.add_argument("-b", dest="bufsize", type=int, default=3 * 2**20)
    p.add_argument("-d", dest="duration", type=int, default=0)
    p.add_argument("--ip", default="0.0.0.0")
    p.add_argument("--port", type=int, default=10000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--withcp", action="store_true")
    p.add_argument("-4", dest="ipv4", action="store_true")
    args = p.parse_args()
    sender(args) if args.s else receiver(args)


if __name__ == "__main__":
    main()
