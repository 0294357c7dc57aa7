"""bench/lab_vs_cluster's pure part: lab and cluster figures of the same points, paired into ratio rows.

Each pair is one lab run and one cluster run made one after the other; a point's ratio is the
median over pairs of lab / cluster, so that drift in the machine between pairs cancels. The lab
and cluster columns are each side's median over pairs. A point that one side did not measure (a
failed case, a point missing) keeps its row, with no ratio: it is never read as a ratio of zero.

`vs_host` divides out what the machine does to both runtimes alike (the cluster's own daemons
sharing the CPUs, the kernel, noise): per pair, the pod path's pod/host on the lab over the same
on the cluster, the host path being the pod path's host-network baseline (`HOST_BASELINE`), then
the median over pairs. It says whether the lab predicts the pod network's cost on a real cluster.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from results.model import PointSummary
from spec.model import HOST_BASELINE, NetPath
from spec.plan import PATH_LABELS

TOOL_ORDER = ("iperf3_tcp", "iperf3_udp", "tcp_stream", "tcp_rr")
UNITS = {"throughput_mbps": "Mbit/s", "transactions_per_s": "trans/s"}


@dataclass(frozen=True)
class Row:
    """One point (path, tool, MSS or UDP length) on both sides."""

    point: str  # PointSummary.key, e.g. p3-iperf3_tcp-mss1376
    path: NetPath
    tool: str
    metric: str
    lab: float | None  # median over pairs
    cluster: float | None
    ratio: float | None  # median over pairs of lab / cluster
    pairs: int  # pairs with a figure on both sides
    vs_host: float | None = None  # median over pairs of (lab pod/host) / (cluster pod/host); pod paths only
    low: float | None = None  # the pairs' lowest and highest lab / cluster: the machine's noise
    high: float | None = None


Pair = tuple[Sequence[PointSummary], Sequence[PointSummary]]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _by_key(points: Sequence[PointSummary]) -> Mapping[str, PointSummary]:
    return {p.key: p for p in points}


def _host_key(p: PointSummary) -> str | None:
    """The key of the same point on the pod path's host-network baseline (None for a host path)."""
    baseline = HOST_BASELINE.get(p.path)
    return p.model_copy(update={"path": baseline}).key if baseline is not None else None


def _median_of(points: Mapping[str, PointSummary], key: str | None) -> float | None:
    return points[key].median if key is not None and key in points else None


def _order(p: PointSummary) -> tuple[int, int, str]:
    tool = TOOL_ORDER.index(p.tool) if p.tool in TOOL_ORDER else len(TOOL_ORDER)
    return (tool, int(p.path), p.key)


def pair_rows(pairs: Sequence[Pair]) -> list[Row]:
    """Every point either side measured in any pair, by tool then path: both sides' medians and the ratio."""
    seen: dict[str, PointSummary] = {}
    for lab, cluster in pairs:
        for p in (*lab, *cluster):
            seen.setdefault(p.key, p)
    keyed = [(_by_key(lab), _by_key(cluster)) for lab, cluster in pairs]
    rows = []
    for point in sorted(seen.values(), key=_order):
        labs, clusters, ratios, vs_host = [], [], [], []
        host = _host_key(point)
        for lab_at, cluster_at in keyed:
            lv, cv = _median_of(lab_at, point.key), _median_of(cluster_at, point.key)
            lh, ch = _median_of(lab_at, host), _median_of(cluster_at, host)
            if lv is not None:
                labs.append(lv)
            if cv is not None:
                clusters.append(cv)
            if lv is not None and cv is not None and cv > 0:
                ratios.append(lv / cv)
                if lh and ch:
                    vs_host.append((lv / lh) / (cv / ch))
        rows.append(
            Row(
                point=point.key,
                path=point.path,
                tool=point.tool,
                metric=point.metric,
                lab=_median(labs),
                cluster=_median(clusters),
                ratio=_median(ratios),
                pairs=len(ratios),
                vs_host=_median(vs_host),
                low=min(ratios, default=None),
                high=max(ratios, default=None),
            )
        )
    return rows


def tool_medians(rows: Sequence[Row], field: str = "ratio") -> dict[str, float | None]:
    """Per tool, the median of its rows' `field` (ratio or vs_host; None when no row of the tool has one)."""
    tools = dict.fromkeys(r.tool for r in rows)
    values = {t: [getattr(r, field) for r in rows if r.tool == t and getattr(r, field) is not None] for t in tools}
    return {t: _median(v) for t, v in values.items()}


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ratio(value: float | None, missing: str = "-") -> str:
    return missing if value is None else f"{value:.3f}"


def table(rows: Sequence[Row]) -> str:
    """The rows as text: per tool its paths, then the tool's median ratios."""
    medians, host_medians = tool_medians(rows), tool_medians(rows, "vs_host")
    head = (
        f"{'tool':<11} {'path':<37} {'lab':>10} {'cluster':>10} {'unit':<8} {'lab/cluster':>11} {'vs host':>8}"
        f"  {'pairs low..high':>15}"
    )
    lines = [head]
    for tool, median in medians.items():
        for r in (r for r in rows if r.tool == tool):
            path = f"{int(r.path)} {PATH_LABELS[r.path]}"
            figures = f"{_figure(r.lab):>10} {_figure(r.cluster):>10} {UNITS[r.metric]:<8}"
            spread = "-" if r.low is None or r.high is None else f"{r.low:.2f}..{r.high:.2f}"
            ratios = f"{_ratio(r.ratio, 'no figure'):>11} {_ratio(r.vs_host):>8}  {spread:>15}"
            lines.append(f"{r.tool:<11} {path:<37} {figures} {ratios}")
        medians_shown = f"{_ratio(median):>11} {_ratio(host_medians[tool]):>8}"
        lines.append(f"{tool:<11} {'median over its paths':<37} {'':>10} {'':>10} {'':<8} {medians_shown}")
    return "\n".join(lines)


def exit_code(rows: Sequence[Row]) -> int:
    """0 when every point has a ratio; 1 when any lacks one (a side failed or did not measure it) or none ran."""
    return 0 if rows and all(r.ratio is not None for r in rows) else 1
