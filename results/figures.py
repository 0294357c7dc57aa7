"""What one raw output says: the figures model every parser returns.

One model for both tools keeps the aggregation and the CLI free of per-tool cases: a
field a tool does not measure stays None, and `ok=False` with `error` records a run that
failed, so that a failure can never pass for a zero.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

ToolName = Literal["iperf3", "netperf"]
# iperf3's protocol, or netperf's test by the meshperf tool that runs it (TCP_CRR -> tcp_crr).
TestKind = Literal["tcp", "udp", "tcp_stream", "tcp_rr", "tcp_crr", "udp_rr", "udp_stream"]
RR_TESTS: frozenset[TestKind] = frozenset({"tcp_rr", "tcp_crr", "udp_rr"})


class Latency(BaseModel):
    """Request/response latency in microseconds (netperf TCP_RR omni selectors)."""

    model_config = ConfigDict(frozen=True)

    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    mean: float | None = None
    min: float | None = None
    max: float | None = None


class StreamFigure(BaseModel):
    """One of iperf3's parallel streams (-P): what the receiver got of it, and its socket's MSS."""

    model_config = ConfigDict(frozen=True)

    socket: int
    throughput_mbps: float
    local_port: int | None = None
    mss_actual: int | None = None  # from the runner's `ss -tni` snapshot, matched by local port


class Figures(BaseModel):
    """The figures of one raw output; None where the output does not carry a figure."""

    model_config = ConfigDict(frozen=True)

    tool: ToolName
    test: TestKind | None = None
    ok: bool
    error: str | None = None
    throughput_mbps: float | None = None
    retransmits: int | None = None
    cpu_host_percent: float | None = None
    cpu_remote_percent: float | None = None
    mss_requested: int | None = None
    loss_percent: float | None = None
    lost_packets: int | None = None
    jitter_ms: float | None = None
    transactions_per_s: float | None = None
    latency_us: Latency | None = None
    per_stream: tuple[StreamFigure, ...] | None = None  # iperf3 with -P N > 1: each stream's figure
    note: str | None = None
    # A steady-state case: the seconds its figure covers and what ended it.
    duration_s: float | None = None
    stopped: Literal["stable", "max"] | None = None


def failed(tool: ToolName, error: str, test: TestKind | None = None) -> Figures:
    """A run the output itself records as failed."""
    return Figures(tool=tool, test=test, ok=False, error=error)
