"""A plain-text table for the terminal: throughput per path and tool, latency, failures.

Fixed-width columns so that it reads the same in a CI log as in a terminal. A cell shows
`-` when the plan had no such case and `FAIL` when it had some but none succeeded.
"""

from __future__ import annotations

from collections.abc import Callable

from results.model import CaseResult, Results
from spec.model import NetPath, Tool
from spec.plan import PATH_LABELS

_COLUMNS: tuple[tuple[str, int], ...] = (
    ("path", 34),
    ("TCP Mbit/s (MSS)", 18),
    ("UDP Mbit/s (loss)", 19),
    ("netperf Mbit/s", 15),
    ("RR p50 us", 10),
    ("RR p99 us", 10),
)


def results_table(results: Results) -> str:
    failures = results.failures()
    title = f"meshperf results: stack {results.stack or '-'}, run {results.run_id or '-'}"
    lines = [title, f"{len(results.cases)} cases, {len(failures)} failed", "", _line([name for name, _ in _COLUMNS])]
    lines.append(_line(["-" * width for _, width in _COLUMNS]))
    for path in NetPath:
        if not any(c.path == path for c in results.cases):
            continue
        lines.append(
            _line(
                [
                    f"{int(path)} {PATH_LABELS[path]}",
                    _cell(results, "iperf3_tcp", path, _tcp),
                    _cell(results, "iperf3_udp", path, _udp),
                    _cell(results, "netperf_stream", path, lambda c: _number(c.throughput_mbps, 2)),
                    _cell(results, "netperf_rr", path, lambda c: _number(c.latency_us.p50 if c.latency_us else None)),
                    _cell(results, "netperf_rr", path, lambda c: _number(c.latency_us.p99 if c.latency_us else None)),
                ]
            )
        )
    if failures:
        lines += ["", f"failures ({len(failures)}):"]
        lines += [f"  {case_id}: {reason}" for case_id, reason in failures.items()]
    return "\n".join(lines) + "\n"


def _cell(results: Results, tool: Tool, path: NetPath, show: Callable[[CaseResult], str]) -> str:
    cases = results.cases_of(tool, path)
    if not cases:
        return "-"
    ok = [c for c in cases if c.ok]
    if not ok:
        return "FAIL"
    best = max(ok, key=lambda c: c.throughput_mbps or 0.0)
    return show(best)


def _tcp(case: CaseResult) -> str:
    return f"{_number(case.throughput_mbps)} ({case.mss_requested})"


def _udp(case: CaseResult) -> str:
    loss = "" if case.loss_percent is None else f" ({case.loss_percent:.2f}%)"
    return f"{_number(case.throughput_mbps)}{loss}"


def _number(value: float | None, decimals: int = 0) -> str:
    return "?" if value is None else f"{value:.{decimals}f}"


def _line(cells: list[str]) -> str:
    first, *rest = cells
    width0 = _COLUMNS[0][1]
    right = "".join(f" {cell:>{width}}" for cell, (_, width) in zip(rest, _COLUMNS[1:], strict=True))
    return f"{first[:width0]:<{width0}}{right}".rstrip()
