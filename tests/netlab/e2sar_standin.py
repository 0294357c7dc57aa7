"""STAND-IN for E2SAR's `e2sar_perf` (no E2SAR build here): real UDP, E2SAR's rules and output formats.

Installed as `e2sar_perf` first on PATH by tests/netlab/test_netlab_e2sar.py. It takes the
seed's command lines and behaves as E2SAR's source says (bin/e2sar_perf.cpp,
include/e2sarDPSegmenter.hpp and e2sarDPReassembler.hpp, 0.1.4 and 0.3.1; reference/e2sar.md):

- the URI comes from `-u`, else from EJFAT_URI in the env; none: "Error in parsing URI ..." and -1;
- it refuses what the real tool refuses, in its words, on stderr, then "Stopping threads" and
  exit 0 (the real one's Ctrl-C handler exits 0): a receiver whose URI has no `data=` ("Unable to
  create reassembler: Data address not present in the URI", every release), a receiver port below
  1024, more than 128 threads; a sender without `data=`, or without `sync=` (0.1.4 always, 0.3.x
  only with --withcp);
- the sender cuts each event into frames of MTU - 64 bytes of data (E2SAR's headers) and sends
  them to the URI's `data=` address at `--rate` (each event's frames back to back, as E2SAR's
  line-rate bursts); it counts the frames the kernel took and the send errors;
- the receiver binds the port range, reassembles each event from its frames and counts what
  really arrived: an event is received once all its frames are in; one of which some frames came
  and the rest did not within the reassembly timeout (500 ms) is "lost in reassembly" and listed;
  an event none of whose frames arrived is counted nowhere, as in E2SAR.
It prints what E2SAR prints, in the format of the version in STANDIN_E2SAR_VERSION (0.1.4 or
0.3.1), thousands separators included. STANDIN_RECEIVER_URI, when set, is the URI the receiver
takes instead of its own (a test's way to give the lab a receiver that E2SAR refuses). It says
nothing about E2SAR's own performance.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import socket
import struct
import sys
import time
from pathlib import Path

HEADERS = 64  # IPv4 20 + UDP 8 + LB 16 + RE 20: what an MTU leaves for event data
FRAME = struct.Struct("!QII")  # the stand-in's RE header: event number, offset, event length
TIMEOUT_S = 0.5  # E2SAR's default event reassembly timeout


def setting(name: str, default: str) -> str:
    """From the env, else from `standin.json` beside the installed stand-in: the lab's pods get
    only their own env, so the test leaves the settings there."""
    beside = Path(sys.argv[0]).with_name("standin.json")
    saved = json.loads(beside.read_text()) if beside.is_file() else {}
    return os.environ.get(name) or str(saved.get(name, default))


VERSION = setting("STANDIN_E2SAR_VERSION", "0.1.4")
NEW = not VERSION.startswith("0.1")
URI_RE = re.compile(r"^ejfats?://(?:[^@/]*@)?[^:/]+:\d+/lb/[^?]+(?:\?(?P<query>.*))?$")


def n(value: int) -> str:
    return f"{value:,}"


def ports_for(threads: int) -> int:
    count = 1
    while count < threads:
        count *= 2
    return count


def give_up(what: str, why: str) -> None:
    """What e2sar_perf does when a constructor throws: the message on stderr, its Ctrl-C handler, exit 0."""
    print(f"Unable to create {what}: {why}", file=sys.stderr, flush=True)
    print("Stopping threads", flush=True)
    sys.exit(0)


def uri_parts(args: argparse.Namespace) -> dict[str, tuple[str, int | None]]:
    """The URI's `data=` and `sync=` parts; a URI that does not parse ends the run as E2SAR's does."""
    text = args.uri if args.uri is not None else os.environ.get("EJFAT_URI")
    # A test's fault: the receiver run as if given this URI (meshperf's earlier receiver URI, say).
    text = setting("STANDIN_RECEIVER_URI", "") or text if args.r else text
    m = URI_RE.match(text or "")
    if not m:
        print(f"Error in parsing URI from command-line, error invalid URI {text!r}", file=sys.stderr, flush=True)
        sys.exit(255)
    parts: dict[str, tuple[str, int | None]] = {}
    for item in (m["query"] or "").split("&"):
        key, _, value = item.partition("=")
        host, _, port = value.partition(":")
        if key in ("data", "sync") and host:
            parts[key] = (host, int(port) if port else None)
    return parts


def sender(args: argparse.Namespace) -> None:
    uri = uri_parts(args)
    if NEW:
        print(f"E2SAR Version:                 {VERSION}")
        print(f"Control plane:                 {'ON' if args.withcp else 'OFF'}")
        print(f"Sending average bit rate is:   {args.rate} Gbps")
    else:
        print(f"E2SAR Version: {VERSION}")
        print(f"Control plane                {'ON' if args.withcp else 'OFF'}")
        print(f"Sending bit rate is {args.rate} Gbps")
    if (args.withcp or not NEW) and "sync" not in uri:
        give_up("segmenter", "Sync address not present in the URI")
    if "data" not in uri:
        give_up("segmenter", "Data address is not present in the URI")
    host, port = uri["data"][0], uri["data"][1] or 19522
    chunk = args.mtu - HEADERS
    frames_per_event = -(-args.length // chunk)
    print(f"Event size is {args.length} bytes or {args.length * 8} bits")
    print(f"Sending {n(args.num)} event buffers")
    if NEW:
        print("Using interface eth0")
    print(f"Using MTU {args.mtu}", flush=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, args.bufsize)
    gap = args.length * 8 / (args.rate * 1e9)  # seconds between events at the rate
    sent = errors = 0
    last_error = ""
    start = time.monotonic()
    for event in range(args.num):
        ahead = start + event * gap - time.monotonic()
        if ahead > 0.0005:
            time.sleep(ahead)
        for offset in range(0, args.length, chunk):
            size = min(chunk, args.length - offset)
            try:
                sock.sendto(FRAME.pack(event, offset, args.length) + b"\0" * size, (host, port))
                sent += 1
            except OSError as exc:
                errors += 1
                last_error = exc.strerror or str(exc)
    elapsed = int((time.monotonic() - start) * 1e6)
    expected = args.num * frames_per_event
    unit = "packets" if NEW else "frames"
    if sent < expected:
        print(f"WARNING: Fewer {unit} than expected have been sent ({sent} of {expected}).")
    print(f"Completed, {n(sent)} {unit} sent, {n(errors)} errors")
    if errors:
        print(f"Last error encountered: {last_error}")
    if NEW:
        print(f"Elapsed usecs: {n(elapsed)} microseconds")
        print(f"Estimated effective throughput (Gbps): {sent * args.mtu * 8 / max(elapsed, 1) / 1000:.4f}")
    print("Stopping threads", flush=True)


class Reassembly:
    """Events by number: bytes in, frames in, when the first frame came; what E2SAR counts of them."""

    def __init__(self) -> None:
        self.pending: dict[int, list[float]] = {}  # event -> [bytes in, frames in, first seen]
        self.received = 0
        self.lost: list[tuple[int, int]] = []  # (event, frames received) of events given up on
        self.done: set[int] = set()
        self.packets = 0
        self.bytes = 0

    def frame(self, data: bytes) -> None:
        self.packets += 1
        self.bytes += len(data)
        event, _offset, length = FRAME.unpack_from(data)
        if event in self.done:
            return
        state = self.pending.setdefault(event, [0, 0, time.monotonic()])
        state[0] += len(data) - FRAME.size
        state[1] += 1
        if state[0] >= length:
            del self.pending[event]
            self.done.add(event)
            self.received += 1

    def expire(self, now: float) -> None:
        for event, (_bytes, frames, first) in list(self.pending.items()):
            if now - first >= TIMEOUT_S:
                del self.pending[event]
                self.done.add(event)
                self.lost.append((event, int(frames)))


def receiver(args: argparse.Namespace) -> None:
    uri = uri_parts(args)
    count = ports_for(args.threads)
    if NEW:
        print(f"E2SAR Version:                 {VERSION}")
        print(f"Control plane:                 {'ON' if args.withcp else 'OFF'}")
        print(f"Event reassembly timeout (ms): {int(TIMEOUT_S * 1000)}")
        print(f"Will run for:                  {args.duration} sec", flush=True)
    else:
        print(f"Control plane will be {'ON' if args.withcp else 'OFF'}\nUsing Unassigned Threads")
        print(f"Will run for {args.duration} sec", flush=True)
    if args.threads > 128:
        give_up("reassembler", "Too many reassembly threads requested, limit 128")
    if args.port < 1024:
        give_up("reassembler", "Base receive port in the privileged range (<1024)")
    if "data" not in uri:
        give_up("reassembler", "Data address not present in the URI")
    chooser = selectors.DefaultSelector()
    per_port = dict.fromkeys(range(args.port, args.port + count), 0)
    for port in per_port:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.bufsize)
        sock.bind((args.ip, port))
        sock.setblocking(False)
        chooser.register(sock, selectors.EVENT_READ, port)
    ports = f"{args.port}:{args.port + count - 1}"
    if NEW:
        print(f"Using IP address:              {args.ip}")
    print(f"Receiving on ports:            {ports}" if NEW else f"Receiving on ports {ports}", flush=True)
    events = Reassembly()
    end = time.monotonic() + args.duration
    next_block = time.monotonic() + 1.0
    while (now := time.monotonic()) < end:
        for key, _ in chooser.select(timeout=min(0.05, max(0.0, end - now))):
            while True:
                try:
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except BlockingIOError:
                    break
                events.frame(data)
                per_port[key.data] += 1
        events.expire(time.monotonic())
        if time.monotonic() >= next_block:
            block(events)
            next_block += 1.0
    events.expire(time.monotonic() + TIMEOUT_S)  # the run is over: whatever is incomplete timed out
    block(events)
    print("Completed")
    print("Stopping threads")
    if NEW:
        print("Deregistering worker")
        print("Port Stats: ")
        for port, got_here in per_port.items():
            print(f"\tPort: {port} Received: {n(got_here)}")
        print(f"Total: {n(sum(per_port.values()))}")
    else:
        print("Deregistering worker")


def block(events: Reassembly) -> None:
    lost = len(events.lost)
    if NEW:  # on stderr through the logging library, prefix on the first line only
        stamp = time.strftime("%H:%M:%S")
        listed = " ".join(f"<{e}:4321/{f}>" for e, f in events.lost)
        lines = [f"{os.getpid()}: [{stamp}.000000] {{info}} Stats:", f"\tTotal Bytes: {n(events.bytes)}"]
        lines += [f"\tTotal Packets: {n(events.packets)}", "\tBad RE Header Discards: 0"]
        lines += [f"\tEvents Received: {n(events.received)}", "\tEvents Mangled: 0"]
        lines += [f"\tEvents Lost in reassembly: {n(lost)}", "\tEvents Lost in enqueue: 0"]
        lines += [
            "\tData Errors: 0",
            "\tgRPC Errors: 0",
            f"\tEvents lost so far (<Evt ID:Data ID/num frags rcvd>): {listed}",
        ]
        print("\n".join(lines), file=sys.stderr, flush=True)
    else:
        listed = " ".join(f"<{e}:4321>" for e, _ in events.lost)
        print(f"Stats:\n\tEvents Received: {n(events.received)}\n\tEvents Mangled: 0\n\tEvents Lost: {n(lost)}")
        print(f"\tData Errors: 0\n\tgRPC Errors: 0\n\tEvents lost so far: {listed}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(prog="e2sar_perf (stand-in)")
    p.add_argument("-s", action="store_true")
    p.add_argument("-r", action="store_true")
    p.add_argument("-u", dest="uri", default=None)
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
