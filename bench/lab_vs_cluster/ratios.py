"""bench/lab_vs_cluster's pure part: lab and cluster figures of the same points, paired into ratio rows.

Each pair is one lab run and one cluster run made one after the other; a point's ratio is the
median over pairs of lab / cluster, so that drift in the machine between pairs cancels. The lab
and cluster columns are each side's median over pairs. A point that one side did not measure (a
failed case, a point missing) keeps its row, with no ratio: it is never read as a ratio of zero.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from results.model import PointSummary
from spec.model import NetPath
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


Pair = tuple[Sequence[PointSummary], Sequence[PointSummary]]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _by_key(points: Sequence[PointSummary]) -> Mapping[str, PointSummary]:
    return {p.key: p for p in points}


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
        labs, clusters, ratios = [], [], []
        for lab_at, cluster_at in keyed:
            lv = lab_at[point.key].median if point.key in lab_at else None
            cv = cluster_at[point.key].median if point.key in cluster_at else None
            if lv is not None:
                labs.append(lv)
            if cv is not None:
                clusters.append(cv)
            if lv is not None and cv is not None and cv > 0:
                ratios.append(lv / cv)
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
            )
        )
    return rows


def tool_medians(rows: Sequence[Row]) -> dict[str, float | None]:
    """Per tool, the median of its rows' ratios (None when no row of the tool has one)."""
    tools = dict.fromkeys(r.tool for r in rows)
    return {t: _median([r.ratio for r in rows if r.tool == t and r.ratio is not None]) for t in tools}


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(rows: Sequence[Row]) -> str:
    """The rows as text: per tool its paths, then the tool's median ratio."""
    medians = tool_medians(rows)
    lines = [f"{'tool':<11} {'path':<37} {'lab':>10} {'cluster':>10} {'unit':<8} {'lab/cluster':>11}"]
    for tool, median in medians.items():
        for r in (r for r in rows if r.tool == tool):
            ratio = "no figure" if r.ratio is None else f"{r.ratio:.3f}"
            path = f"{int(r.path)} {PATH_LABELS[r.path]}"
            figures = f"{_figure(r.lab):>10} {_figure(r.cluster):>10} {UNITS[r.metric]:<8}"
            lines.append(f"{r.tool:<11} {path:<37} {figures} {ratio:>11}")
        shown = "-" if median is None else f"{median:.3f}"
        lines.append(f"{tool:<11} {'median over its paths':<37} {'':>10} {'':>10} {'':<8} {shown:>11}")
    return "\n".join(lines)


def exit_code(rows: Sequence[Row]) -> int:
    """0 when every point has a ratio; 1 when any lacks one (a side failed or did not measure it) or none ran."""
    return 0 if rows and all(r.ratio is not None for r in rows) else 1
