"""Per-point summaries: the repeats of one (path, tool, MSS or UDP length) folded into a figure and its spread."""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from results.model import CaseResult, PointSummary
from results.stats import summarize
from spec.model import RR_TOOLS, Family, NetPath, Tool

PointKey = tuple[NetPath, Tool, int | None, int | None, int, Family]


def point_key(case: CaseResult) -> PointKey:
    return case.path, case.tool, case.mss_requested, case.udp_length, case.streams, case.family


def point_key_of(point: PointSummary) -> PointKey:
    return point.path, point.tool, point.mss, point.udp_length, point.streams, point.family


def point_summaries(cases: Iterable[CaseResult]) -> tuple[PointSummary, ...]:
    """One summary per point, in the order the points first appear among `cases`."""
    groups: dict[PointKey, list[CaseResult]] = {}
    for case in cases:
        groups.setdefault(point_key(case), []).append(case)
    return tuple(point_summary(group) for group in groups.values())


def point_summary(cases: list[CaseResult]) -> PointSummary:
    """The summary of one point's repeats (all of them the same point)."""
    first = cases[0]
    metric = "transactions_per_s" if first.tool in RR_TOOLS else "throughput_mbps"
    ordered = sorted(cases, key=lambda c: c.repeat)
    values = [v for c in ordered if c.ok and (v := getattr(c, metric)) is not None]
    durations = [c.duration_s for c in ordered if c.ok and c.duration_s is not None]
    steady = [c for c in ordered if c.ok and c.stopped is not None]
    fields: dict[str, object] = {}
    if values:
        s = summarize(values, 0.95)
        fields = {
            "median": s.median,
            "min": s.min,
            "max": s.max,
            "mean": s.mean,
            "stdev": s.stdev,
            "ci95_low": s.ci_low,
            "ci95_high": s.ci_high,
        }
    return PointSummary(
        path=first.path,
        tool=first.tool,
        mss=first.mss_requested,
        udp_length=first.udp_length,
        streams=first.streams,
        family=first.family,
        metric=metric,
        n=len(values),
        n_failed=len(cases) - len(values),
        values=tuple(values),
        duration_s_median=statistics.median(durations) if durations else None,
        stopped_stable=sum(c.stopped == "stable" for c in steady) if steady else None,
        **fields,
    )
