"""A plain-text table for the terminal: throughput per path and tool, latency, failures.

Columns laid out by rich (`results.textable`), so that it reads the same in a CI log as in a terminal. A cell shows
`-` when the plan had no such case and `FAIL` when it had some but none succeeded. The TCP
cell is the maximum over the MSS sweep (the seed CSV's Maximum) and its header says so;
every throughput cell is a point's single sample or, when the point was repeated, its
median with `+-` half its 95 % confidence interval in percent of the mean. The run's
context (its `run` block) heads the table.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table

from results.context import context_rows
from results.model import CaseResult, Overhead, PointSummary, Results
from results.points import point_key, point_key_of
from results.textable import new_table, render
from spec.model import ALL_TOOLS, HOST_PATH_NAMES, Family, NetPath, Tool
from spec.plan import PATH_LABELS

COLUMNS = ("path", "TCP max Mbit/s (MSS)", "UDP Mbit/s (loss)", "netperf Mbit/s", "RR p50 us", "RR p99 us")


def results_table(results: Results) -> str:
    failures = results.failures()
    title = f"meshperf results: {results.stack or 'unnamed stack'}, {results.label}"
    lines = [title, *_context(results), f"{len(results.cases)} cases, {len(failures)} failed", ""]
    families = results.families() or ["ipv4"]
    for family in families:
        if len(families) > 1 or family != "ipv4":
            lines.append(f"{FAMILY_NAMES[family]}:")
        lines.append(render(_main_table(results, family)).rstrip("\n"))
    lines += _more_table(results)
    lines += _overhead_table(results)
    lines += ["", *_legend(results)]
    if failures:
        lines += ["", f"failures ({len(failures)}):"]
        lines += [f"  {case_id}: {reason}" for case_id, reason in failures.items()]
    return "\n".join(lines) + "\n"


FAMILY_NAMES: dict[Family, str] = {"ipv4": "IPv4", "ipv6": "IPv6"}


def _main_table(results: Results, family: Family) -> Table:
    """The seed's tools per path over one address family."""
    table = new_table(*COLUMNS)
    for path in NetPath:
        if not any(c.path == path and c.family == family for c in results.cases):
            continue
        table.add_row(
            f"{int(path)} {PATH_LABELS[path]}",
            _throughput(results, "iperf3_tcp", path, 0, lambda c: f" ({c.mss_requested})", family),
            _throughput(results, "iperf3_udp", path, 0, _loss, family),
            _throughput(results, "tcp_stream", path, 2, lambda c: "", family),
            _cell(results, "tcp_rr", path, lambda c: _number(c.latency_us.p50 if c.latency_us else None), 1, family),
            _cell(results, "tcp_rr", path, lambda c: _number(c.latency_us.p99 if c.latency_us else None), 1, family),
        )
    return table


# The tools beyond the seed's, in a second table when the run has any of them: iperf3 with
# parallel streams (its N in the header), netperf TCP_CRR, UDP_RR and UDP_STREAM.
_MORE_TOOLS = ("tcp_crr", "udp_rr", "udp_stream")


def _more_table(results: Results) -> list[str]:
    streams = max((c.streams for c in results.cases), default=1)
    if streams == 1 and not any(c.tool in _MORE_TOOLS for c in results.cases):
        return []
    table = new_table(
        "path",
        f"TCP x{streams} Mbit/s",
        f"UDP x{streams} Mbit/s (loss)",
        "CRR conn/s (p50 us)",
        "UDP_RR tr/s (p50 us)",
        "UDP_STREAM Mbit/s (loss)",
    )

    def rate(c: CaseResult) -> str:
        p50 = c.latency_us.p50 if c.latency_us else None
        return f"{_number(c.transactions_per_s)} ({_number(p50)})"

    def parallel(tool: Tool, path: NetPath, show: Callable[[CaseResult], str]) -> str:
        return _cell(results, tool, path, show, streams) if streams > 1 else "-"

    for path in NetPath:
        if not any(c.path == path for c in results.cases):
            continue
        table.add_row(
            f"{int(path)} {PATH_LABELS[path]}",
            parallel("iperf3_tcp", path, lambda c: _number(c.throughput_mbps)),
            parallel("iperf3_udp", path, lambda c: _number(c.throughput_mbps) + _loss(c)),
            _cell(results, "tcp_crr", path, rate),
            _cell(results, "udp_rr", path, rate),
            _cell(results, "udp_stream", path, lambda c: _number(c.throughput_mbps) + _loss(c)),
        )
    return ["", render(table).rstrip("\n")]


def _overhead_table(results: Results) -> list[str]:
    """pod/host per pod path and tool, of the figures the tables above show: the best single-stream
    point's median on each side (TCP: the maximum over the MSS sweep on each), when the run measured
    the host baseline. Per-point ratios are in results.json, the tidy CSV and the report."""
    entries = [o for o in results.overhead if o.streams == 1]
    if not entries:
        return []
    tools = [t for t in ALL_TOOLS if any(o.tool == t for o in entries)]
    table = new_table("path", "baseline", *(f"{t} pod/host" for t in tools))
    for path in sorted({o.path for o in entries}):
        mine = [o for o in entries if o.path == path]
        cells = [_ratio([o for o in mine if o.tool == t]) for t in tools]
        table.add_row(f"{int(path)} {PATH_LABELS[path]}", HOST_PATH_NAMES[mine[0].host_path], *cells)
    return ["", "CNI overhead: pod path / its host-network baseline", render(table).rstrip("\n")]


def _ratio(entries: list[Overhead]) -> str:
    """Best pod median over best host median among one tool's points on a path."""
    if not entries:
        return "-"
    pod = max((o.pod for o in entries if o.pod is not None), default=None)
    host = max((o.host for o in entries if o.host is not None), default=None)
    return "?" if pod is None or not host else f"{pod / host:.2f}"


def _context(results: Results) -> list[str]:
    """The run block in a few lines (`name: text`), the label and stack being in the title."""
    if results.run is None:
        return []
    rows = dict(context_rows(results.run))
    when = f"{rows['started']} .. {rows['ended']}"
    return [
        f"profile {rows['profile']}, repeats {rows['repeats']}; durations: {rows['durations']}",
        f"tools: {rows['tools']}; kernel {rows['kernel']}, {rows['CPUs']} CPUs; link {rows['link']}",
        f"meshperf {rows['meshperf']}; {when}",
    ]


def _legend(results: Results) -> list[str]:
    """What the cells are: single samples or medians, and the TCP column's maximum."""
    tcp = [p for p in results.points if p.tool == "iperf3_tcp" and p.streams == 1]
    repeated = any(p.n > 1 for p in results.points)
    each = "the median over its repeats" if repeated else "a single sample"
    lines = [f"each figure is {each}"]
    if tcp:
        mss = len({p.mss for p in tcp})
        lines[0] += f"; TCP max: the highest of the path's {mss} MSS points, at the MSS in brackets"
    if repeated:
        lines.append("+-: half the 95 % confidence interval of the mean over the repeats, in % of the mean")
    if results.overhead:
        lines.append(
            "pod/host: the pod path's best figure over its baseline's (Mbit/s, RR tests: transactions/s; "
            "TCP: maximum over the MSS points on each side); below 1.00 is what the pod network costs"
        )
    return lines


def _cell(
    results: Results,
    tool: Tool,
    path: NetPath,
    show: Callable[[CaseResult], str],
    streams: int = 1,
    family: Family = "ipv4",
) -> str:
    cases = results.cases_of(tool, path, streams, family)
    if not cases:
        return "-"
    ok = [c for c in cases if c.ok]
    if not ok:
        return "FAIL"
    return show(max(ok, key=lambda c: c.throughput_mbps or 0.0))


def _throughput(
    results: Results,
    tool: Tool,
    path: NetPath,
    decimals: int,
    label: Callable[[CaseResult], str],
    family: Family = "ipv4",
) -> str:
    """The best point's median, its spread when repeated, and the label of one of its cases."""
    points = [
        p
        for p in results.points
        if (p.tool, p.path, p.streams, p.family) == (tool, path, 1, family) and p.median is not None
    ]
    if not points:
        return _cell(results, tool, path, lambda c: _number(c.throughput_mbps, decimals) + label(c), 1, family)
    best = max(points, key=lambda p: p.median or 0.0)
    case = next(c for c in results.cases_of(tool, path, 1, family) if c.ok and point_key(c) == point_key_of(best))
    return f"{_number(best.median, decimals)}{_spread(best)}{label(case)}"


def _spread(point: PointSummary) -> str:
    if point.n < 2 or point.ci95_low is None or point.ci95_high is None or not point.mean:
        return ""
    return f" +-{(point.ci95_high - point.ci95_low) / 2 / point.mean * 100:.0f}%"


def _loss(case: CaseResult) -> str:
    return "" if case.loss_percent is None else f" ({case.loss_percent:.2f}%)"


def _number(value: float | None, decimals: int = 0) -> str:
    return "?" if value is None else f"{value:.{decimals}f}"
