"""The figures of the tools beyond the seed's, per path, for stack outputs (pure).

TCP_CRR and UDP_RR (`request_response`), UDP_STREAM (`udp_stream`), iperf3 UDP per
datagram size (`udp_by_length`) and iperf3 with parallel streams (`parallel_streams`), each
keyed by path label as `Results.latency()` is. A path whose cases all failed maps to None
(the reasons are in `failures`); a path the plan did not measure is left out. Where a point
was repeated, its figure is the median over the repeats, as in the seed CSV.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from typing import Any

from results.model import CaseResult, Results
from spec.model import NetPath, Tool
from spec.plan import PATH_LABELS

LATENCY_KEYS = ("p50", "p90", "p99", "mean", "min", "max")
# The rate's key per request/response test: TCP_CRR makes a connection per transaction.
RATE_KEYS: dict[Tool, str] = {
    "tcp_rr": "transactions_per_s",
    "tcp_crr": "connections_per_s",
    "udp_rr": "transactions_per_s",
}


def request_response(results: Results, tool: Tool) -> dict[str, dict[str, Any] | None]:
    """Per path: the rate (connections/s for TCP_CRR, else transactions/s) and the median of
    each latency percentile (microseconds) over the cases with figures."""
    out: dict[str, dict[str, Any] | None] = {}
    for path, ok in _measured(results, tool):
        if not ok:
            out[PATH_LABELS[path]] = None
            continue
        latency = {k: _median(getattr(c.latency_us, k) if c.latency_us else None for c in ok) for k in LATENCY_KEYS}
        out[PATH_LABELS[path]] = {
            RATE_KEYS[tool]: _point_median(results, tool, path, ok, lambda c: c.transactions_per_s),
            "latency_us": {k: v for k, v in latency.items() if v is not None},
        }
    return out


def udp_stream(results: Results) -> dict[str, dict[str, Any] | None]:
    """netperf UDP_STREAM per path: the receiver's Mbit/s, the loss (sent less received) and the datagram size."""
    out: dict[str, dict[str, Any] | None] = {}
    for path, ok in _measured(results, "udp_stream"):
        out[PATH_LABELS[path]] = (
            {
                "throughput_mbps": _point_median(results, "udp_stream", path, ok, lambda c: c.throughput_mbps),
                "loss_percent": _median(c.loss_percent for c in ok),
                "lost_packets": _median(c.lost_packets for c in ok),
                "udp_length": ok[0].udp_length,
            }
            if ok
            else None
        )
    return out


def udp_by_length(results: Results) -> dict[str, dict[str, dict[str, Any] | None]]:
    """iperf3 UDP per path and datagram size (single stream, the `udp_length` sweep): the
    receiver's Mbit/s, loss and jitter; None for a size whose cases all failed."""
    out: dict[str, dict[str, dict[str, Any] | None]] = {}
    for path in NetPath:
        cases = results.cases_of("iperf3_udp", path)
        if not cases:
            continue
        by_length: dict[str, dict[str, Any] | None] = {}
        for length in sorted({c.udp_length for c in cases if c.udp_length is not None}):
            ok = [c for c in cases if c.udp_length == length and c.ok]
            by_length[str(length)] = (
                {
                    "throughput_mbps": _median(c.throughput_mbps for c in ok),
                    "loss_percent": _median(c.loss_percent for c in ok),
                    "jitter_ms": _median(c.jitter_ms for c in ok),
                }
                if ok
                else None
            )
        out[PATH_LABELS[path]] = by_length
    return out


def parallel_streams(results: Results) -> dict[str, dict[str, dict[str, Any] | None]]:
    """iperf3 with `-P N` per path and tool: the sum over the streams, and each stream's Mbit/s
    and actual MSS (TCP), from the last repeat with figures; None when every repeat failed."""
    out: dict[str, dict[str, dict[str, Any] | None]] = {}
    for path in NetPath:
        row: dict[str, dict[str, Any] | None] = {}
        for tool in ("iperf3_tcp", "iperf3_udp"):
            cases = [c for c in results.cases_of(tool, path, None) if c.streams > 1]
            if not cases:
                continue
            ok = [c for c in cases if c.ok]
            row[tool] = _parallel(ok[-1], tool) if ok else None
        if row:
            out[PATH_LABELS[path]] = row
    return out


def _parallel(case: CaseResult, tool: str) -> dict[str, Any]:
    per_stream = [
        {"throughput_mbps": s.throughput_mbps, **({"mss_actual": s.mss_actual} if s.mss_actual is not None else {})}
        for s in case.per_stream or ()
    ]
    figures: dict[str, Any] = {
        "streams": case.streams,
        "throughput_mbps": case.throughput_mbps,
        "per_stream": per_stream,
    }
    if tool == "iperf3_udp" and case.loss_percent is not None:
        figures["loss_percent"] = case.loss_percent
    return figures


def _measured(results: Results, tool: Tool) -> list[tuple[NetPath, list[CaseResult]]]:
    """The paths the plan measured with `tool`, each with its cases that have figures."""
    return [(path, [c for c in cases if c.ok]) for path in NetPath if (cases := results.cases_of(tool, path))]


def _point_median(
    results: Results, tool: Tool, path: NetPath, ok: list[CaseResult], value: Callable[[CaseResult], float | None]
) -> float | None:
    """The point's median over its repeats (`points`), else the median over the cases given."""
    point = next((p for p in results.points if p.tool == tool and p.path == path and p.streams == 1), None)
    if point is not None and point.median is not None:
        return point.median
    return _median(value(c) for c in ok)


def _median(values: Iterable[float | int | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return statistics.median(present) if present else None
