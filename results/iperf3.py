"""iperf3 output -> Figures: `-J` JSON (3.12 and the older 3.1 shape) and text mode.

Text mode is what a steady-state case keeps (`spec.runner`'s `steady`): interval lines,
maybe a summary, and the runner's `meshperf-steady:` line. Its throughput is the
time-weighted mean of the interval rates after the line's omit_s (the sender's rate, the
one the watcher judged), the same whether the watcher stopped it or it ran to max_s.

`error` is read before any figure: iperf3 exits 0 with `"error": "the server has
terminated"` and partial intervals when its server dies mid-test. TCP throughput is what
the receiver got (`end.sum_received`), and with parallel streams (-P) each stream's
(`end.streams[].receiver`; for UDP the stream's rate less its lost datagrams). UDP
figures are the receiver's: `end.sum_received` where it exists (3.12); 3.1 writes only
`end.sum`, whose rate is the sender's, so the received rate is derived from it and the
receiver's loss, and a note says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from results.errors import UnknownOutputError
from results.figures import Figures, StreamFigure, TestKind, failed

IPERF3_KEYS = frozenset({"start", "intervals", "end", "error"})


def load_iperf3_json(text: str) -> dict[str, Any]:
    """The JSON document of an iperf3 -J output; UnknownOutputError if it is none."""
    stripped = text.strip()
    if not stripped:
        raise UnknownOutputError("empty output")
    try:
        doc = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise UnknownOutputError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or not IPERF3_KEYS & doc.keys():
        raise UnknownOutputError("JSON, but not iperf3's (no start, intervals, end or error key)")
    return doc


def parse_iperf3(text: str) -> Figures:
    """Figures of one iperf3 -J output (raises UnknownOutputError for non-iperf3 text)."""
    return iperf3_figures(load_iperf3_json(text))


def iperf3_figures(doc: Mapping[str, Any]) -> Figures:
    test = _test_kind(doc)
    error = doc.get("error")
    if error:
        return failed("iperf3", f"iperf3: {error}", test)
    end = _dict(doc.get("end"))
    if test == "udp":
        return _udp(doc, end)
    if test == "tcp":
        return _tcp(doc, end)
    return failed("iperf3", "iperf3 JSON without a TCP or UDP summary in 'end'")


def _tcp(doc: Mapping[str, Any], end: Mapping[str, Any]) -> Figures:
    received = _dict(end.get("sum_received"))
    bps = _number(received, "bits_per_second")
    if bps is None:
        return failed("iperf3", "iperf3 JSON has no end.sum_received.bits_per_second", "tcp")
    retransmits = _number(_dict(end.get("sum_sent")), "retransmits")
    host, remote = _cpu(end)
    mss = _number(_dict(doc.get("start")), "tcp_mss")
    return Figures(
        tool="iperf3",
        test="tcp",
        ok=True,
        throughput_mbps=bps / 1e6,
        retransmits=None if retransmits is None else int(retransmits),
        cpu_host_percent=host,
        cpu_remote_percent=remote,
        mss_requested=None if mss is None else int(mss),
        per_stream=_per_stream(doc, end, "receiver"),
    )


def _udp(doc: Mapping[str, Any], end: Mapping[str, Any]) -> Figures:
    figures_from = _dict(end.get("sum_received"))
    bps = _number(figures_from, "bits_per_second")
    note = None
    if bps is None:
        # iperf3 3.1: only end.sum, the sender's rate beside the receiver's loss and jitter.
        figures_from = _dict(end.get("sum"))
        sent = _number(figures_from, "bits_per_second")
        if sent is None:
            return failed("iperf3", "iperf3 UDP JSON has neither end.sum_received nor end.sum", "udp")
        bps = sent * (1 - (_number(figures_from, "lost_percent") or 0.0) / 100)
        note = "iperf3 3.1 shape: received rate = end.sum rate (the sender's) less lost_percent"
    lost_packets = _number(figures_from, "lost_packets")
    host, remote = _cpu(end)
    return Figures(
        tool="iperf3",
        test="udp",
        ok=True,
        throughput_mbps=bps / 1e6,
        loss_percent=_number(figures_from, "lost_percent"),
        lost_packets=None if lost_packets is None else int(lost_packets),
        jitter_ms=_number(figures_from, "jitter_ms"),
        cpu_host_percent=host,
        cpu_remote_percent=remote,
        per_stream=_per_stream(doc, end, "udp"),
        note=note,
    )


def _per_stream(doc: Mapping[str, Any], end: Mapping[str, Any], side: str) -> tuple[StreamFigure, ...] | None:
    """Each stream's received Mbit/s when there are several (TCP: `receiver`; UDP: `udp`, whose
    rate is the sender's, times the share of its datagrams that arrived, over the receiver's
    interval as the total's: a loaded receiver ends later than the sender); None for one stream."""
    streams = [_dict(_dict(s).get(side)) for s in doc_list(end.get("streams"))]
    received_s = _number(_dict(end.get("sum_received")), "seconds")
    if len(streams) < 2:
        return None
    connected = map(_dict, doc_list(_dict(doc.get("start")).get("connected")))
    ports = {c.get("socket"): c.get("local_port") for c in connected}
    figures: list[StreamFigure] = []
    for stream in streams:
        bps, socket = _number(stream, "bits_per_second"), stream.get("socket")
        if bps is None or not isinstance(socket, int):
            return None
        packets, lost = _number(stream, "packets"), _number(stream, "lost_packets")
        if side == "udp" and packets and lost is not None:
            bps *= (packets - lost) / packets
            sent_s = _number(stream, "seconds")
            if sent_s and received_s:
                bps *= sent_s / received_s
        port = ports.get(socket)
        local_port = port if isinstance(port, int) else None
        figures.append(StreamFigure(socket=socket, throughput_mbps=bps / 1e6, local_port=local_port))
    return tuple(figures)


def doc_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _test_kind(doc: Mapping[str, Any]) -> TestKind | None:
    """TCP or UDP, from start.test_start.protocol, else from the shape of end's sums."""
    protocol = _dict(_dict(doc.get("start")).get("test_start")).get("protocol")
    if isinstance(protocol, str) and protocol.upper() in ("TCP", "UDP"):
        return "tcp" if protocol.upper() == "TCP" else "udp"
    end = _dict(doc.get("end"))
    sums = [_dict(end.get(k)) for k in ("sum", "sum_sent", "sum_received")]
    if any("jitter_ms" in s for s in sums):
        return "udp"
    if any(sums):
        return "tcp"
    return None


def _cpu(end: Mapping[str, Any]) -> tuple[float | None, float | None]:
    cpu = _dict(end.get("cpu_utilization_percent"))
    return _number(cpu, "host_total"), _number(cpu, "remote_total")


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(obj: Mapping[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


TEXT_INTERVAL_RE = re.compile(
    r"^\[\s*\d+\]\s+(?P<a>[\d.]+)-(?P<b>[\d.]+)\s+sec\s+[\d.]+\s+\S*Bytes\s+(?P<rate>[\d.]+)\s+(?P<unit>[A-Za-z]?)bits/sec"
    r"(?:\s+(?P<retr>\d+))?(?P<rest>.*)$"
)
STEADY_RE = re.compile(r"^meshperf-steady: stop=(?P<stop>stable|max)\b(?P<rest>.*)$")
_SCALE = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def looks_like_iperf3_text(text: str) -> bool:
    """iperf3's text output: its connection line, or interval lines, or the runner's steady line."""
    return "Connecting to host" in text or any(
        TEXT_INTERVAL_RE.match(line) or STEADY_RE.match(line) for line in text.splitlines()[:50]
    )


def parse_iperf3_text(text: str) -> Figures:
    """Figures of an iperf3 TCP client's text output (from a steady-state case or by hand)."""
    lines = text.splitlines()
    errors = [line.split("iperf3: ", 1)[1] for line in lines if line.startswith("iperf3: ") and "interrupt" not in line]
    if errors:
        return failed("iperf3", f"iperf3: {errors[0]}", "tcp")
    stopped: str | None = None
    omit = 0.0
    for line in lines:
        if m := STEADY_RE.match(line):
            stopped = m["stop"]
            if o := re.search(r"\bomit_s=([\d.]+)", m["rest"]):
                omit = float(o[1])
    bits = seconds = 0.0
    retransmits: int | None = None
    for line in lines:
        m = TEXT_INTERVAL_RE.match(line)
        if not m:
            continue
        if "sender" in m["rest"] or "receiver" in m["rest"]:
            if "sender" in m["rest"] and m["retr"] is not None:
                retransmits = int(m["retr"])
            continue
        if m["unit"] not in _SCALE:
            return failed("iperf3", f"iperf3 rate unit {m['unit']}bits/sec: unknown unit", "tcp")
        a, b = float(m["a"]), float(m["b"])
        if b <= omit + 0.001 or b <= a:
            continue
        a = max(a, omit)
        bits += float(m["rate"]) * _SCALE[m["unit"]] * (b - a)
        seconds += b - a
    if seconds <= 0:
        return failed("iperf3", "iperf3 text output without an interval after the omitted start", "tcp")
    return Figures(
        tool="iperf3",
        test="tcp",
        ok=True,
        throughput_mbps=bits / seconds / 1e6,
        retransmits=retransmits,
        duration_s=round(seconds + omit, 3),
        stopped="stable" if stopped == "stable" else "max" if stopped == "max" else None,
    )
