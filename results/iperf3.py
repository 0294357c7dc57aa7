"""iperf3 `-J` output -> Figures, for 3.12 and for the older 3.1 shape.

`error` is read before any figure: iperf3 exits 0 with `"error": "the server has
terminated"` and partial intervals when its server dies mid-test. TCP throughput is what
the receiver got (`end.sum_received`). UDP figures are the receiver's: `end.sum_received`
where it exists (3.12); 3.1 writes only `end.sum`, whose rate is the sender's, so the
received rate is derived from it and the receiver's loss, and a note says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from results.errors import UnknownOutputError
from results.figures import Figures, TestKind, failed

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
        return _udp(end)
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
    )


def _udp(end: Mapping[str, Any]) -> Figures:
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
        note=note,
    )


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
