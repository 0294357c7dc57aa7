"""`ss -tni` snapshot -> the MSS the data connection actually used.

iperf3 reports the MSS it asked for (`-M`), not the one the kernel chose (path MTU can
lower it), so the runner snapshots the client's sockets. Several sockets are listed: the
control connection too. The one that carried the data is the one with most bytes acked.
Note that ss's `mss:` excludes TCP options: `-M 536` with timestamps on shows `mss:524`.
"""

from __future__ import annotations

import re

_MSS = re.compile(r"(?<![a-z_])mss:(\d+)")
# The address line: Recv-Q, Send-Q, then the local address:port (IPv6 in brackets).
_LOCAL_PORT = re.compile(r"^\d+\s+\d+\s+\S*:(\d+)\s")
_COUNTERS = ("bytes_acked", "bytes_sent", "bytes_received")


def parse_ss_mss(text: str) -> int | None:
    """The `mss:` of the busiest socket in an `ss -tni` snapshot, None when none is listed."""
    best: tuple[tuple[int, ...], int] | None = None
    for block in _socket_blocks(text):
        mss = _MSS.search(block)
        if not mss:
            continue
        weight = tuple(_counter(block, name) for name in _COUNTERS)
        if best is None or weight > best[0]:
            best = (weight, int(mss.group(1)))
    return None if best is None else best[1]


def parse_ss_mss_by_port(text: str) -> dict[int, int]:
    """Local port -> `mss:` of every socket in an `ss -tni` snapshot (parallel streams' sockets)."""
    by_port: dict[int, int] = {}
    for block in _socket_blocks(text):
        mss, local = _MSS.search(block), _LOCAL_PORT.search(block)
        if mss and local:
            by_port[int(local.group(1))] = int(mss.group(1))
    return by_port


def _socket_blocks(text: str) -> list[str]:
    """One text per socket: its address line with the indented detail lines after it."""
    blocks: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("Recv-Q", "State", "Netid")):
            continue
        if line[0].isspace() and blocks:
            blocks[-1] += " " + line.strip()
        else:
            blocks.append(line.strip())
    return blocks


def _counter(block: str, name: str) -> int:
    m = re.search(rf"\b{name}:(\d+)", block)
    return int(m.group(1)) if m else 0
