"""One self-contained HTML page of a run, rendered with Jinja2 (autoescaped) from `templates/report.html.j2`.

Everything is inside the file: the pictures are SVG as `data:` URIs, the style is inline,
there is no script and no external URL, so the page opens the same from a CI artifact, a
mail attachment or a browser with no network. The page shows every tool's figures with
what each one is (a single sample, a median of n with its 95 % interval, a maximum over
the MSS sweep), rounded for people; the CSV and JSON files beside it keep full precision.
The seed table holds the cells of `results.csv` (the same function writes both), rounded.
"""

from __future__ import annotations

import base64
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from results.context import context_rows
from results.humanize import human
from results.model import CaseResult, PointSummary, Results
from results.plots import figure_svg, latency_figure, latency_value, path_label, throughput_figure
from results.report_seed_csv import seed_csv
from spec.model import HOST_PATH_NAMES, NETPERF_TESTS, Family, NetPath, Tool

HTML_REPORT = "report.html"
TEMPLATES = Path(__file__).resolve().parent / "templates"
FAMILIES: tuple[Family, ...] = ("ipv4", "ipv6")
_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["human"] = human
# Columns of words rather than figures (left-aligned, wrapped): "what the figure is", "how cases ended".
_ENV.tests["words"] = lambda header: str(header).startswith(("what", "how"))


@dataclass(frozen=True)
class Row:
    """One table row: a label and its cells, already rounded for people ('' leaves a cell empty)."""

    label: str
    cells: tuple[str, ...]
    missing: bool = False  # no figure: the row is marked
    pad: int = 0  # empty cells after the figures (the seed table's UDP and netperf rows)


@dataclass(frozen=True)
class Section:
    """A titled table with a note saying what its figures are."""

    id: str
    title: str
    note: str
    head: tuple[str, ...]
    rows: tuple[Row, ...]
    empty: str = ""  # said instead of the table when there are no rows
    picture: str | None = None  # a data: URI
    picture_alt: str = ""
    caption: str = ""


def report_html(results: Results, svgs: Mapping[str, str] | None = None) -> str:
    """The page; pure. `svgs` holds the pictures ("throughput", "latency") as SVG text when
    they were drawn already; missing ones are drawn here, in memory."""
    svgs = svgs or {}
    seed_head, seed_rows = _seed_table(results)
    return _ENV.get_template("report.html.j2").render(
        title=f"meshperf: {results.stack or 'unnamed stack'}, {results.label}",
        context=_context_rows(results),
        summary=_case_counts(results),
        seed_head=seed_head,
        seed_rows=seed_rows,
        sections=[
            _tcp_section(results, svgs.get("throughput")),
            _udp_section(results),
            _stream_section(results),
            _rr_section(results, "tcp_rr", svgs.get("latency")),
            # The tools beyond the seed's (opt-in): a section when the run has their cases.
            *(s for s in (_parallel_section(results), *_more_sections(results)) if s.rows),
            _e2sar_section(results),
            *([_overhead_section(results)] if results.overhead else []),
        ],
        repeats=_repeats_section(results),
        failures=_failures(results),
        skips=_skips(results),
    )


def _context_rows(results: Results) -> list[tuple[str, str]]:
    run = results.run
    if run is None:
        starts = [c.start for c in results.cases if c.start is not None]
        ends = [c.end for c in results.cases if c.end is not None]
        return [
            ("stack", results.stack or "-"),
            ("run", results.label),
            ("context", "not recorded (a log folder read back without its run block)"),
            ("MSS points", ", ".join(str(m) for m in results.mss_points) or "-"),
            ("first case started", min(starts).isoformat() if starts else "-"),
            ("last case ended", max(ends).isoformat() if ends else "-"),
        ]
    return context_rows(run)


def _case_counts(results: Results) -> str:
    failed = len(results.failures())
    text = f"{len(results.cases)} cases, {len(results.cases) - failed} with figures, {failed} failed"
    if results.e2sar_cases:
        skipped = sum(r.skipped for r in results.e2sar_cases)
        ok = sum(r.ok for r in results.e2sar_cases)
        text += f"; E2SAR: {len(results.e2sar_cases)} pairs, {ok} with figures, {skipped} skipped"
    return text


def what_it_is(point: PointSummary) -> str:
    """A figure's kind: a single sample, or the median of n with its 95 % interval of the mean."""
    if point.n <= 1:
        return "single sample"
    interval = (
        f", 95 % CI {human(point.ci95_low)}..{human(point.ci95_high)}"
        if point.ci95_low is not None and point.ci95_high is not None
        else ""
    )
    return f"median of n={point.n}{interval}"


def _points(results: Results, tool: Tool, path: NetPath, family: Family) -> list[PointSummary]:
    """A tool's single-stream points on a path over one family (parallel streams have their own section)."""
    return [p for p in results.points if (p.tool, p.path, p.streams, p.family) == (tool, path, 1, family)]


def _paths(results: Results, tool: Tool) -> list[tuple[NetPath, Family]]:
    """The paths a tool ran on, each over each family it ran over: IPv4 first (the seed's), then IPv6."""
    return [(p, f) for f in FAMILIES for p in NetPath if results.cases_of(tool, p, family=f)]


def _label(path: NetPath, family: Family) -> str:
    """A row's path, with its family where it is not the seed's IPv4."""
    return path_label(path) + (" (IPv6)" if family == "ipv6" else "")


def _ok(cases: Sequence[CaseResult], value: Callable[[CaseResult], float | int | None]) -> float | None:
    """The median of a figure over the cases that have it."""
    values = [float(v) for c in cases if c.ok and (v := value(c)) is not None]
    return statistics.median(values) if values else None


def _tcp_section(results: Results, svg: str | None) -> Section:
    rows = []
    for path, family in _paths(results, "iperf3_tcp"):
        points = [p for p in _points(results, "iperf3_tcp", path, family) if p.median is not None]
        if not points:
            rows.append(Row(_label(path, family), ("", "", "no figure: every case failed", "", ""), missing=True))
            continue
        best = max(points, key=lambda p: p.median or 0.0)
        of = "single samples" if all(p.n <= 1 for p in points) else "medians over repeats"
        kind = f"maximum over {len(points)} MSS points ({of}); this point: {what_it_is(best)}"
        steady = [p for p in points if p.stopped_stable is not None]
        stopped = (
            f"{sum(p.stopped_stable or 0 for p in steady)} of {sum(p.n for p in steady)} stopped steady, "
            f"median {human(statistics.median(p.duration_s_median or 0.0 for p in steady))} s"
            if steady
            else "fixed duration"
        )
        rows.append(Row(_label(path, family), (human(best.median), str(best.mss), kind, str(best.n), stopped)))
    return Section(
        id="tcp",
        title="iperf3 TCP throughput",
        note="Per path the best MSS point, in Mbit/s (sender side), and what that figure is; every MSS "
        "point is in the seed's table below and in the picture.",
        head=("path", "Mbit/s", "at MSS", "what the figure is", "n", "how cases ended"),
        rows=tuple(rows),
        empty="No iperf3 TCP cases in this run.",
        picture=_data_uri(svg or figure_svg(throughput_figure(results))) if rows else None,
        picture_alt="iperf3 TCP throughput against MSS per path",
        caption="iperf3 TCP throughput against the MSS asked, one line per path. A failed case is a gap in"
        " its line and a cross in the red band at the top.",
    )


def _udp_section(results: Results) -> Section:
    """A row per path and datagram length (the `udp_length` sweep), single-stream."""
    rows = []
    for path, family in _paths(results, "iperf3_udp"):
        cases = results.cases_of("iperf3_udp", path, family=family)
        for length in sorted({c.udp_length or 0 for c in cases}):
            at = [c for c in cases if (c.udp_length or 0) == length]
            point = next(
                (p for p in _points(results, "iperf3_udp", path, family) if (p.udp_length or 0) == length), None
            )
            size = str(length) if length else ""
            if point is None or point.median is None:
                rows.append(
                    Row(_label(path, family), (size, "", "", "", "", "no figure: every case failed"), missing=True)
                )
                continue
            rows.append(
                Row(
                    _label(path, family),
                    (
                        size,
                        human(point.median),
                        human(_ok(at, lambda c: c.loss_percent)),
                        human(_ok(at, lambda c: c.lost_packets)),
                        human(_ok(at, lambda c: c.jitter_ms)),
                        what_it_is(point),
                    ),
                )
            )
    return Section(
        id="udp",
        title="iperf3 UDP: throughput, loss and jitter",
        note="What the receiver got, per datagram size (bytes of payload, `-l`): Mbit/s that arrived, the "
        "share of datagrams lost, and jitter; with repeats, each the median over the repeats.",
        head=(
            "path",
            "datagram bytes",
            "Mbit/s received",
            "loss %",
            "lost datagrams",
            "jitter ms",
            "what the figure is",
        ),
        rows=tuple(rows),
        empty="No iperf3 UDP cases in this run.",
    )


def _stream_section(results: Results) -> Section:
    rows = []
    for path, family in _paths(results, "tcp_stream"):
        points = [p for p in _points(results, "tcp_stream", path, family) if p.median is not None]
        if not points:
            rows.append(Row(_label(path, family), ("", "no figure: every case failed"), missing=True))
            continue
        rows.append(Row(_label(path, family), (human(points[0].median), what_it_is(points[0]))))
    return Section(
        id="netperf-stream",
        title="netperf TCP_STREAM throughput",
        note="Mbit/s per path.",
        head=("path", "Mbit/s", "what the figure is"),
        rows=tuple(rows),
        empty="No netperf TCP_STREAM cases in this run.",
    )


LATENCY_NAMES = ("p50", "p90", "p99", "mean", "min", "max")


# netperf's request/response tests: the section's id, title and what a transaction is.
_RR = {
    "tcp_rr": ("rr", "netperf TCP_RR latency", "transactions/s", "round trip on one connection"),
    "tcp_crr": ("crr", "netperf TCP_CRR connection rate", "connections/s", "connect, request, response, close"),
    "udp_rr": ("udp-rr", "netperf UDP_RR latency", "transactions/s", "one datagram each way"),
}


def _rr_section(results: Results, tool: Tool, svg: str | None = None) -> Section:
    section_id, title, unit, transaction = _RR[tool]
    rows = []
    for path, family in _paths(results, tool):
        ok = [c for c in results.cases_of(tool, path, family=family) if c.ok]
        if not ok:
            rows.append(Row(_label(path, family), ("",) * (len(LATENCY_NAMES) + 1) + ("no figure",), missing=True))
            continue
        latency = [_ok(ok, latency_value(name)) for name in LATENCY_NAMES]
        points = _points(results, tool, path, family)
        kind = what_it_is(points[0]) if points else "single sample"
        rows.append(
            Row(
                _label(path, family),
                (human(_ok(ok, lambda c: c.transactions_per_s)), *(human(v) for v in latency), kind),
            )
        )
    pictured = tool == "tcp_rr" and rows
    return Section(
        id=section_id,
        title=title,
        note=f"{unit.capitalize()} (a transaction: {transaction}) and the latency percentiles of a "
        f"transaction in microseconds; with repeats, each the median over the repeats (the interval is of "
        f"{unit}).",
        head=("path", unit, *(f"{n} us" for n in LATENCY_NAMES), "what the figure is"),
        rows=tuple(rows),
        empty=f"No netperf {NETPERF_TESTS[tool]} cases in this run.",
        picture=_data_uri(svg or figure_svg(latency_figure(results))) if pictured else None,
        picture_alt="netperf TCP_RR latency per path",
        caption="netperf TCP_RR round-trip latency percentiles per path, in microseconds.",
    )


def _more_sections(results: Results) -> list[Section]:
    """TCP_CRR, UDP_RR and UDP_STREAM."""
    return [_rr_section(results, "tcp_crr"), _rr_section(results, "udp_rr"), _udp_stream_section(results)]


def _udp_stream_section(results: Results) -> Section:
    rows = []
    for path, family in _paths(results, "udp_stream"):
        cases = results.cases_of("udp_stream", path, family=family)
        points = [p for p in _points(results, "udp_stream", path, family) if p.median is not None]
        size = str(cases[0].udp_length) if cases[0].udp_length else ""
        if not points:
            rows.append(Row(_label(path, family), (size, "", "", "", "no figure: every case failed"), missing=True))
            continue
        rows.append(
            Row(
                _label(path, family),
                (
                    size,
                    human(points[0].median),
                    human(_ok(cases, lambda c: c.loss_percent)),
                    human(_ok(cases, lambda c: c.lost_packets)),
                    what_it_is(points[0]),
                ),
            )
        )
    return Section(
        id="udp-stream",
        title="netperf UDP_STREAM: receiver throughput and loss",
        note="The receiver's Mbit/s, and the datagrams the sender sent that never arrived (sent minus "
        "received, from both sides' counts).",
        head=("path", "datagram bytes", "Mbit/s received", "loss %", "lost datagrams", "what the figure is"),
        rows=tuple(rows),
        empty="No netperf UDP_STREAM cases in this run.",
    )


def _parallel_section(results: Results) -> Section:
    """iperf3 with parallel streams (`streams: N`): the sum, each stream's share and its MSS."""
    rows = []
    parallel: tuple[tuple[Tool, str], ...] = (("iperf3_tcp", "TCP"), ("iperf3_udp", "UDP"))
    for tool, name in parallel:
        for family in FAMILIES:
            for path in NetPath:
                for case in results.cases_of(tool, path, None, family):
                    if case.streams <= 1:
                        continue
                    label = f"{_label(path, family)}, {name} x{case.streams}"
                    if not case.ok:
                        rows.append(Row(label, ("", "", "", "", f"no figure: {case.error}"), missing=True))
                        continue
                    shares = [s.throughput_mbps for s in case.per_stream or ()]
                    mss = sorted({s.mss_actual for s in case.per_stream or () if s.mss_actual is not None})
                    rows.append(
                        Row(
                            label,
                            (
                                human(case.throughput_mbps),
                                f"{human(min(shares))}..{human(max(shares))}" if shares else "",
                                ", ".join(str(m) for m in mss),
                                human(case.loss_percent) if tool == "iperf3_udp" else "",
                                f"sum of {case.streams} streams, single sample (repeat {case.repeat})",
                            ),
                        )
                    )
    return Section(
        id="streams",
        title="iperf3 parallel streams",
        note="iperf3 with -P N: the sum over the streams in Mbit/s (UDP: what the receiver got), the range of "
        "the streams' own figures, and the MSS each TCP stream's socket used (from ss).",
        head=("path", "Mbit/s (sum)", "per stream Mbit/s", "actual MSS", "loss %", "what the figure is"),
        rows=tuple(rows),
    )


def _e2sar_section(results: Results) -> Section:
    ran = [r for r in results.e2sar_cases if not r.skipped]
    rows = []
    for r in ran:
        if not r.ok:
            rows.append(Row(r.rate_key, ("", "", "", "", "", "", f"failed: {r.error}"), missing=True))
            continue
        rows.append(
            Row(
                r.rate_key,
                (
                    human(r.events_sent),
                    human(r.events_received),
                    human(r.loss),
                    human(r.loss_percent),
                    human(r.e2sar_lost),
                    human(r.achieved_gbps),
                    "single sample",
                ),
            )
        )
    skipped = [r for r in results.e2sar_cases if r.skipped]
    if not results.e2sar_cases:
        empty = "The E2SAR suite is off in this stack."
    elif skipped and not ran:
        empty = f"The E2SAR suite was skipped: {skipped[0].error}"
    else:
        empty = ""
    return Section(
        id="e2sar",
        title="E2SAR: loss against rate",
        note="Events sent and received per rate; loss counted from both sides (sent minus received) beside "
        "E2SAR's own lost counter.",
        head=("rate", "events sent", "received", "loss", "loss %", "E2SAR lost", "achieved Gbit/s", "what"),
        rows=tuple(rows),
        empty=empty,
    )


def _overhead_section(results: Results) -> Section:
    """Every pod-path point beside the same point on its host-network baseline, and their ratio."""
    rows = tuple(
        Row(
            o.point,
            (
                HOST_PATH_NAMES[o.host_path],
                o.metric,
                human(o.pod),
                human(o.host),
                "" if o.ratio is None else f"{o.ratio:.2f}",
            ),
            missing=o.ratio is None,
        )
        for o in sorted(results.overhead, key=lambda o: (o.path, o.point))
    )
    return Section(
        id="overhead",
        title="CNI overhead: pod paths against the host network",
        note=(
            "Each pod-path point against the same point (tool, MSS or UDP length, streams) between the same "
            "nodes' own network namespaces (hostNetwork): paths 1, 2 and 5 against host-same, 3 and 4 against "
            "host-remote, 6 against host-remote-cluster. pod/host is the ratio of the medians; below 1.00 is "
            "what the pod network (veth, bridge, DNAT, policies) costs."
        ),
        head=("point", "baseline", "metric", "pod", "host", "pod/host"),
        rows=rows,
    )


def _seed_table(results: Results) -> tuple[list[str], list[Row]]:
    """results.csv's cells (the seed's layout), rounded; UDP and netperf rows hold one figure."""
    lines = seed_csv(results).splitlines()
    header = [cell.strip() for cell in lines[0].split(";")[:-1]]
    rows = []
    for line in lines[1:]:
        label, *cells = (cell.strip() for cell in line.split(";")[:-1])
        shown = tuple(human(float(c)) if c else "" for c in cells)
        rows.append(Row(label, shown, pad=len(header) - 1 - len(shown)))
    return header, rows


def _repeats_section(results: Results) -> Section | None:
    """Every point's summary, when the run measured any point more than once."""
    if not any(p.n + p.n_failed > 1 for p in results.points):
        return None
    rows = tuple(
        Row(
            p.key,
            (
                p.metric,
                str(p.n),
                str(p.n_failed),
                *(human(v) for v in (p.median, p.min, p.max, p.ci95_low, p.ci95_high)),
            ),
        )
        for p in results.points
    )
    return Section(
        id="repeats",
        title="Repeats",
        note="Every point over its repeats: the 95 % interval is of the mean (Student's t).",
        head=("point", "metric", "n", "failed", "median", "min", "max", "95 % CI low", "95 % CI high"),
        rows=rows,
    )


def _failures(results: Results) -> list[tuple[str, str]]:
    """Cases and E2SAR pairs that were run (or meant to be) and have no figures, with why."""
    failed = list(results.failures().items())
    failed += [(r.case_id, r.error or "failed") for r in results.e2sar_cases if not r.ok and not r.skipped]
    return failed


def _skips(results: Results) -> list[tuple[str, str]]:
    return [(r.case_id, r.error or "skipped") for r in results.e2sar_cases if r.skipped]


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
