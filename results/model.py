"""The Results model: every planned case with its figures or the reason it has none.

A failed case stays in the results with `ok=False` and a reason naming its log file; its
figures stay None, so that no aggregate (a maximum, a CSV cell) can take a failure for a
measurement of zero.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

from results.context import RunContext
from results.e2sar import E2sarResult
from results.figures import Latency, StreamFigure
from results.seed import EXTRA_ROWS, SEED_ROWS, SeedRow
from spec.model import HOST_BASELINE, RR_TOOLS, Family, NetPath, Tool, ToolName
from spec.plan import PATH_LABELS


class CaseResult(BaseModel):
    """One planned case: where it ran, how it ended, what it measured."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    path: NetPath
    tool: ToolName
    client: str
    target: str
    address: Literal["pod", "vip"]
    mss_requested: int | None = None
    mss_actual: int | None = None
    udp_length: int | None = None
    ok: bool
    error: str | None = None
    exit_code: int | None = None
    attempts: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    throughput_mbps: float | None = None
    retransmits: int | None = None
    cpu_host_percent: float | None = None
    cpu_remote_percent: float | None = None
    loss_percent: float | None = None
    jitter_ms: float | None = None
    lost_packets: int | None = None
    transactions_per_s: float | None = None
    latency_us: Latency | None = None
    streams: int = 1  # iperf3's parallel streams (-P); the seed's figures are single-stream
    family: Family = "ipv4"  # the address family the case ran over; the seed's figures are IPv4
    per_stream: tuple[StreamFigure, ...] | None = None
    log: str
    note: str | None = None
    repeat: int = 1
    # Steady-state cases: how long the case ran (omit_s included) and what ended it.
    duration_s: float | None = None
    stopped: Literal["stable", "max"] | None = None

    @property
    def path_label(self) -> str:
        return PATH_LABELS[self.path]


class PointId(BaseModel):
    """What names a point: path, tool, MSS or UDP length, streams, address family."""

    model_config = ConfigDict(frozen=True)

    path: NetPath
    tool: ToolName
    mss: int | None = None
    udp_length: int | None = None
    streams: int = 1
    family: Family = "ipv4"

    @property
    def key(self) -> str:
        """`p<path>-<tool>[-mss<m>|-len<l>][-streams<n>][-ipv6]`: how reports and comparisons name the point."""
        tail = f"-mss{self.mss}" if self.mss is not None else f"-len{self.udp_length}" if self.udp_length else ""
        tail += f"-streams{self.streams}" if self.streams > 1 else ""
        tail += "-ipv6" if self.family == "ipv6" else ""
        return f"p{int(self.path)}-{self.tool}{tail}"


class PointSummary(PointId):
    """One point (path, tool, MSS or UDP length, streams) over its repeats: the figure and its spread.

    `metric` is the figure summarised (Mbit/s for throughput tools, transactions/s for
    netperf's request/response tests TCP_RR, TCP_CRR and UDP_RR). `median` is the figure
    the seed CSV shows; `ci95_low`/`ci95_high` is
    the 95 % confidence interval of the mean (Student's t, `results.stats`), None when
    fewer than two repeats succeeded. `values` are the successful repeats' figures in
    repeat order; `n` counts them, `n_failed` the repeats without a figure.
    """

    metric: Literal["throughput_mbps", "transactions_per_s"]
    n: int
    n_failed: int = 0
    median: float | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    stdev: float | None = None
    ci95_low: float | None = None
    ci95_high: float | None = None
    values: tuple[float, ...] = ()
    duration_s_median: float | None = None  # steady-state cases: median seconds measured
    stopped_stable: int | None = None  # steady-state cases: how many repeats stopped on stability


class Overhead(PointId):
    """One pod-path point beside the same point on its host-network baseline: `ratio` = pod / host
    of their medians (None when either has no figure), the CNI's overhead (results/overhead.py)."""

    point: str  # the pod point's key (PointSummary.key)
    host_path: NetPath
    metric: Literal["throughput_mbps", "transactions_per_s"]
    pod: float | None
    host: float | None
    ratio: float | None


class Userland(BaseModel):
    """Where a lab run's containers ran: the tool image's root filesystem (by the hash of its recipe),
    or the host's userland, with the reason."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["image", "host"]
    hash: str | None = None
    reason: str | None = None


class Results(BaseModel):
    """All cases of one run, with the seed's views of them, and the context it ran in (`run`)."""

    model_config = ConfigDict(frozen=True)

    stack: str = ""
    run_id: str = ""
    run: RunContext | None = None
    mss_points: tuple[int, ...] = ()
    cases: tuple[CaseResult, ...] = ()
    points: tuple[PointSummary, ...] = ()
    e2sar_cases: tuple[E2sarResult, ...] = ()
    # Whether NetworkPolicies selected the E2SAR pods (`suites.e2sar.network_policies`) while they ran.
    e2sar_network_policies: Literal["exempt", "enforced"] | None = None
    userland: Userland | None = None  # lab runs only

    @computed_field  # type: ignore[prop-decorator]
    @property
    def overhead(self) -> tuple[Overhead, ...]:
        """Each pod-path point with its host-network baseline and their ratio (none without a baseline)."""
        return _overheads(self.points)

    @property
    def label(self) -> str:
        """How reports name this run: its run block's label, else its run id."""
        return self.run.label if self.run is not None else f"run {self.run_id or '-'}"

    def point(
        self, tool: Tool, path: NetPath, mss: int | None = None, streams: int = 1, family: Family = "ipv4"
    ) -> PointSummary | None:
        return next(
            (
                p
                for p in self.points
                if (p.tool, p.path, p.mss, p.streams, p.family) == (tool, path, mss, streams, family)
            ),
            None,
        )

    def cases_of(self, tool: Tool, path: NetPath, streams: int | None = 1, family: Family = "ipv4") -> list[CaseResult]:
        """A tool's cases on a path over one family (IPv4: the seed's): single-stream ones (the seed's), those
        of `streams`, or all (None)."""
        return [
            c
            for c in self.cases
            if c.tool == tool and c.path == path and streams in (None, c.streams) and c.family == family
        ]

    def families(self) -> list[Family]:
        """The address families the run's cases ran over, IPv4 first."""
        return [f for f in ("ipv4", "ipv6") if any(c.family == f for c in self.cases)]

    def best_mbps(self, tool: Tool, path: NetPath, streams: int = 1, family: Family = "ipv4") -> float | None:
        """The best throughput of a tool on a path among its cases that succeeded (single-stream IPv4: the seed's)."""
        medians = [
            p.median
            for p in self.points
            if (p.tool, p.path, p.streams, p.family) == (tool, path, streams, family) and p.median is not None
        ]
        if medians and tool not in RR_TOOLS:  # repeats: the best point's median
            return max(medians)
        cases = self.cases_of(tool, path, streams, family)
        values = [c.throughput_mbps for c in cases if c.ok and c.throughput_mbps is not None]
        return max(values) if values else None

    def throughput(self) -> dict[str, float | None]:
        """Best Mbit/s per seed row label (the seed CSV's Maximum column); None: no figure.

        All 16 seed rows come first, in the seed's order; UDP and netperf on the hairpin
        path, which the seed has no row for, follow under unnumbered labels when measured.
        """
        rows: list[SeedRow] = list(SEED_ROWS)
        rows += [r for r in EXTRA_ROWS if self.cases_of(r.tool, r.path)]
        return {row.label: self.best_mbps(row.tool, row.path) for row in rows}

    def throughput_by_mss(self) -> dict[str, dict[int, float | None]]:
        """iperf3 TCP Mbit/s per MSS asked, per TCP seed row label; None where it failed."""
        table: dict[str, dict[int, float | None]] = {}
        for row in SEED_ROWS:
            if row.tool != "iperf3_tcp":
                continue
            cases = self.cases_of("iperf3_tcp", row.path)
            points = sorted({*self.mss_points, *(c.mss_requested for c in cases if c.mss_requested is not None)})
            by_mss = {c.mss_requested: c.throughput_mbps for c in cases if c.ok}
            seed_points = [
                p for p in self.points if (p.tool, p.path, p.streams, p.family) == ("iperf3_tcp", row.path, 1, "ipv4")
            ]
            by_mss.update({p.mss: p.median for p in seed_points})
            table[row.label] = {m: by_mss.get(m) for m in points}
        return table

    def latency(self, tool: Tool = "tcp_rr") -> dict[str, Latency | None]:
        """netperf request/response latency (TCP_RR unless asked) per path label, where the plan measured it."""
        out: dict[str, Latency | None] = {}
        for path in NetPath:
            cases = self.cases_of(tool, path)
            if cases:
                ok = [c.latency_us for c in cases if c.ok and c.latency_us is not None]
                out[PATH_LABELS[path]] = ok[-1] if ok else None
        return out

    def failures(self) -> dict[str, str]:
        """Case id -> why it has no figures."""
        return {c.case_id: c.error or "failed" for c in self.cases if not c.ok}

    def e2sar(self) -> dict[str, dict[str, object]]:
        """E2SAR figures per rate ('0.1 Gbps' -> figures, or ok=False and why): the `e2sar` stack output."""
        return {
            r.rate_key: r.model_dump(mode="json", exclude={"rate_gbps_planned"}, exclude_none=True)
            for r in self.e2sar_cases
        }

    def e2sar_failures(self) -> dict[str, str]:
        """E2SAR pair id -> why it has no figures (skipped pairs included)."""
        return {r.case_id: r.error or "failed" for r in self.e2sar_cases if not r.ok}


def _overheads(points: tuple[PointSummary, ...]) -> tuple[Overhead, ...]:
    """The CNI's overhead: each pod-path point against the same point (tool, MSS or UDP length, streams, family)
    on its host-network baseline (`spec.model.HOST_BASELINE`: the host path between the same nodes).
    `ratio` is pod / host of the medians (Mbit/s, or transactions/s for request/response tests): below
    1.0 is what the pod network costs. Pod points whose baseline was not measured have no entry."""
    by_key = {(p.path, p.tool, p.mss, p.udp_length, p.streams, p.family): p for p in points}
    out = []
    for pod in points:
        baseline = HOST_BASELINE.get(pod.path)
        host = by_key.get((baseline, pod.tool, pod.mss, pod.udp_length, pod.streams, pod.family)) if baseline else None
        if host is None:
            continue
        out.append(
            Overhead(
                point=pod.key,
                path=pod.path,
                host_path=host.path,
                tool=pod.tool,
                mss=pod.mss,
                udp_length=pod.udp_length,
                streams=pod.streams,
                family=pod.family,
                metric=pod.metric,
                pod=pod.median,
                host=host.median,
                ratio=pod.median / host.median if pod.median is not None and host.median else None,
            )
        )
    return tuple(out)
