"""Pictures of a run: throughput against MSS per path, latency per path, and two runs compared.

Each `*_figure` function is pure: Results in, a matplotlib `Figure` out, made without
pyplot: no global state, no display, and saving renders through matplotlib's Agg (PNG) and
SVG backends whatever backend the process has chosen. `figure_svg` and `figure_png` render
a figure in memory; `write_figure` is the only function here that writes files (PNG and SVG side by
side). A failed case is never drawn as zero: its point is a gap in its line, marked with a
cross in a pale red "failed" band along the top of the axes, and a path with no figure says
so in the legend.

Where a run measured a point more than once (repeats), the point is the median, whiskers
span min..max and a band the 95 % confidence interval of the mean: from the run's own point
summaries (`Results.points`, `results.points`) when it has them, else from its cases.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib import rc_context
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from results.figures import Latency
from results.files import write_atomic
from results.model import CaseResult, PointSummary, Results
from results.seed import SEED_ROWS
from results.stats import summarize
from spec.model import RR_TOOLS, NetPath, Tool
from spec.plan import PATH_LABELS

DPI = 100
THROUGHPUT_SIZE = (10.0, 6.0)  # inches: 1000 x 600 px at DPI
LATENCY_SIZE = (10.0, 6.0)
COMPARISON_SIZE = (14.0, 11.0)
# A range wider than this (largest / smallest positive value) is drawn on a log axis.
LOG_RATIO = 20.0
FAIL_COLOR = "#d62728"
FAIL_BAND = (0.9, 1.0)  # axes fraction along the top where failures are marked
LOG_NOTE = ", log scale"  # added to a y label inside its parentheses
# One colour per path, the same in every picture (tab10 without its red, kept for failures).
PATH_COLORS: dict[NetPath, str] = {
    NetPath.SAME_NODE_POD: "#1f77b4",
    NetPath.SAME_NODE_VIP: "#ff7f0e",
    NetPath.REMOTE_NODE_POD: "#2ca02c",
    NetPath.REMOTE_NODE_VIP: "#9467bd",
    NetPath.HAIRPIN: "#8c564b",
    NetPath.REMOTE_CLUSTER_POD: "#17becf",
}
PERCENTILES: tuple[tuple[str, str], ...] = (("p50", "#9ecae1"), ("p90", "#4292c6"), ("p99", "#08519c"))
# The seed's TCP rows give the order of the paths in a legend: 1, 2, 3, 4, 6, 5.
TCP_PATHS: tuple[NetPath, ...] = tuple(row.path for row in SEED_ROWS if row.tool == "iperf3_tcp")


@dataclass(frozen=True)
class Point:
    """One plotted value: the median of the successful cases at x, their range, and failures."""

    x: float
    y: float | None  # None: no successful case here, drawn as a gap
    low: float | None = None
    high: float | None = None
    n: int = 0
    failed: int = 0
    ci_low: float | None = None  # 95 % confidence interval of the mean, from the run's point summaries
    ci_high: float | None = None


def path_label(path: NetPath) -> str:
    """'1 Same VM using Pod IP': the path's number and the seed's label for it."""
    return f"{int(path)} {PATH_LABELS[path]}"


def plot_point(x: float, cases: Sequence[CaseResult], value: Callable[[CaseResult], float | None]) -> Point:
    """The point of the cases at x: median, min and max of their values where they succeeded."""
    values = [v for c in cases if c.ok and (v := value(c)) is not None]
    failed = sum(1 for c in cases if not c.ok)
    if not values:
        return Point(x=x, y=None, failed=failed)
    s = summarize(values, 0.95)
    return Point(x=x, y=s.median, low=s.min, high=s.max, n=s.n, failed=failed, ci_low=s.ci_low, ci_high=s.ci_high)


def measured(results: Results, tool: Tool, path: NetPath) -> bool:
    """Whether the run planned the tool on the path: it has cases, or (a saved `points` output
    read back without its cases) point summaries."""
    return bool(results.cases_of(tool, path)) or any(s.tool == tool and s.path == path for s in results.points)


def from_summary(x: float, summary: PointSummary) -> Point:
    """The point of a run's own summary of its repeats (`Results.points`)."""
    return Point(
        x=x,
        y=summary.median,
        low=summary.min,
        high=summary.max,
        n=summary.n,
        failed=summary.n_failed,
        ci_low=summary.ci95_low,
        ci_high=summary.ci95_high,
    )


def _mbps(case: CaseResult) -> float | None:
    return case.throughput_mbps


def tcp_points(results: Results, path: NetPath) -> list[Point]:
    """iperf3 TCP Mbit/s per MSS asked on a path, over the run's MSS points: the run's point
    summary where it has one, else the median of the cases."""
    cases = results.cases_of("iperf3_tcp", path)
    summaries = [s.mss for s in results.points if s.tool == "iperf3_tcp" and s.path == path and s.mss is not None]
    points = sorted({*results.mss_points, *(c.mss_requested for c in cases if c.mss_requested is not None), *summaries})
    out: list[Point] = []
    for m in points:
        summary = results.point("iperf3_tcp", path, m)
        at_m = [c for c in cases if c.mss_requested == m]
        out.append(from_summary(m, summary) if summary is not None else plot_point(m, at_m, _mbps))
    return out


def throughput_point(results: Results, tool: Tool, path: NetPath, x: float | None = None) -> Point:
    """A tool's single-stream Mbit/s on a path (UDP, netperf TCP_STREAM): its best point summary,
    else the median of its cases."""
    at = float(int(path)) if x is None else x
    summaries = [s for s in results.points if (s.tool, s.path, s.streams) == (tool, path, 1) and s.median is not None]
    if summaries and tool not in RR_TOOLS:
        return from_summary(at, max(summaries, key=lambda s: s.median or 0.0))
    return plot_point(at, results.cases_of(tool, path), _mbps)


def latency_point(results: Results, path: NetPath, name: str, x: float | None = None) -> Point:
    """netperf TCP_RR latency percentile `name` (p50, p90, p99) on a path, in microseconds:
    the median over repeats (the point summaries hold transactions/s, not latency)."""
    at = float(int(path)) if x is None else x
    return plot_point(at, results.cases_of("tcp_rr", path), latency_value(name))


def latency_value(name: str) -> Callable[[CaseResult], float | None]:
    def value(case: CaseResult) -> float | None:
        latency: Latency | None = case.latency_us
        return None if latency is None else getattr(latency, name)

    return value


def wants_log(values: Sequence[float | None]) -> bool:
    """Whether values span more than LOG_RATIO (a linear axis would flatten the small ones)."""
    positive = [v for v in values if v is not None and v > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_RATIO


def throughput_figure(results: Results, log_y: bool | None = None) -> Figure:
    """iperf3 TCP throughput against MSS, one line per path: the seed's table as a plot.

    `log_y` None chooses a log axis when the figures span more than LOG_RATIO.
    """
    fig = Figure(figsize=THROUGHPUT_SIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    fig.suptitle("iperf3 TCP throughput against MSS, per path", fontsize=14, fontweight="bold")
    ax.set_title(_run_words(results), fontsize=10, color="#555555")
    series = {path: tcp_points(results, path) for path in TCP_PATHS if measured(results, "iperf3_tcp", path)}
    if not series:
        _empty(ax, "no iperf3 TCP cases in this run")
        return fig
    failures: list[tuple[float, str]] = []
    spread = False
    for path, points in series.items():
        ok = [p for p in points if p.y is not None]
        failed = sum(p.failed for p in points)
        label = path_label(path)
        if not ok:
            label += f" (no figure: {failed} failed)"
        elif failed:
            label += f" ({failed} failed)"
        spread = _line(ax, points, PATH_COLORS[path], label, gid=f"data-tcp-p{int(path)}") or spread
        failures += [(p.x, PATH_COLORS[path]) for p in points if p.failed]
    all_values = [v for points in series.values() for p in points for v in (p.y, p.low, p.high, p.ci_high)]
    _y_scale(ax, all_values, log_y, "throughput (Mbit/s)")
    _mark_failures(ax, failures)
    xs = sorted({p.x for points in series.values() for p in points})
    _mss_axis(ax, xs)
    handles, labels = ax.get_legend_handles_labels()
    extra = [*(_spread_handles() if spread else []), *([_failure_handle()] if failures else [])]
    handles += extra
    labels += [str(h.get_label()) for h in extra]
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    return fig


def latency_figure(results: Results, log_y: bool | None = None) -> Figure:
    """netperf TCP_RR latency p50, p90, p99 per path, in microseconds."""
    fig = Figure(figsize=LATENCY_SIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    fig.suptitle("netperf TCP_RR latency per path", fontsize=14, fontweight="bold")
    ax.set_title(_run_words(results), fontsize=10, color="#555555")
    paths = [p for p in NetPath if results.cases_of("tcp_rr", p)]
    if not paths:
        _empty(ax, "no netperf TCP_RR cases in this run")
        return fig
    spread = False
    width = 0.8 / len(PERCENTILES)
    values: list[float | None] = []
    for k, (name, color) in enumerate(PERCENTILES):
        points = [latency_point(results, p, name) for p in paths]
        values += [v for p in points for v in (p.y, p.low, p.high)]
        xs = [i + (k - 1) * width for i, p in enumerate(points) if p.y is not None]
        ys = [p.y for p in points if p.y is not None]
        bars = ax.bar(xs, ys, width, label=name, color=color, edgecolor="white", zorder=2, gid=f"data-rr-{name}")
        drawn = [p for p in points if p.y is not None]
        if any(p.n > 1 for p in drawn):  # whiskers instead of value labels, which they would cover
            spread = True
            _error_bars(ax, xs, drawn, color="black")
        else:
            ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    _y_scale(ax, values, log_y, "round-trip latency (microseconds)")
    for i, path in enumerate(paths):
        if latency_point(results, path, "p50").y is None:
            failed = sum(1 for c in results.cases_of("tcp_rr", path) if not c.ok)
            words, color = (
                (f"failed\n({failed} case{'s' if failed != 1 else ''})", FAIL_COLOR)
                if failed
                else ("no latency\npercentiles in\nits output", "#555555")
            )
            ax.text(i, 0.5, words, transform=ax.get_xaxis_transform(), ha="center", va="center", color=color,
                    fontweight="bold")  # fmt: skip
    ax.set_xticks(range(len(paths)), [_wrap(path_label(p)) for p in paths], fontsize=9)
    ax.set_xlim(-0.6, len(paths) - 0.4)
    ax.set_xlabel("network path")
    ax.grid(axis="y", which="both", alpha=0.3, zorder=0)
    handles, labels = ax.get_legend_handles_labels()
    if spread:
        handles.append(whisker := _spread_handles()[1])
        labels.append(str(whisker.get_label()))
    ax.legend(handles, labels, title="percentile", fontsize=9, loc="upper left")
    return fig


def comparison_figure(baseline: Results, current: Results, log_y: bool | None = None) -> Figure:
    """Two runs side by side: TCP throughput against MSS per path (six panels), then UDP and
    netperf throughput and TCP_RR latency per path. Baseline grey and dashed, current in
    the path's colour; bars and bands are min..max over repeats where a run has them."""
    fig = Figure(figsize=COMPARISON_SIZE, dpi=DPI, layout="constrained")
    fig.suptitle(
        f"comparison: baseline {_run_name(baseline)}  vs  current {_run_name(current)}",
        fontsize=14,
        fontweight="bold",
    )
    grid = fig.add_gridspec(3, 6, height_ratios=(1, 1, 1.2))
    spread = False
    for i, path in enumerate(TCP_PATHS):
        ax = fig.add_subplot(grid[i // 3, 2 * (i % 3) : 2 * (i % 3) + 2])
        ax.set_title(path_label(path), fontsize=10, color=PATH_COLORS[path])
        base = tcp_points(baseline, path) if measured(baseline, "iperf3_tcp", path) else []
        cur = tcp_points(current, path) if measured(current, "iperf3_tcp", path) else []
        if not base and not cur:
            _empty(ax, "not in either run", fontsize=9)
            continue
        gid = f"data-tcp-p{int(path)}"
        spread = _line(ax, base, "#7f7f7f", "baseline", "--", "s", whiskers=False, gid=f"{gid}-baseline") or spread
        spread = _line(ax, cur, PATH_COLORS[path], "current", whiskers=False, gid=f"{gid}-current") or spread
        if not any(p.y is not None for p in [*base, *cur]):
            ax.text(0.5, 0.5, "no figures: every case failed", transform=ax.transAxes, ha="center", va="center",
                    fontsize=9, color=FAIL_COLOR)  # fmt: skip
        label = "TCP (Mbit/s)" if i % 3 == 0 else ""
        _y_scale(ax, [v for p in [*base, *cur] for v in (p.y, p.low, p.high, p.ci_high)], log_y, label)
        _mark_failures(
            ax, [(p.x, "#7f7f7f") for p in base if p.failed] + [(p.x, PATH_COLORS[path]) for p in cur if p.failed]
        )
        _mss_axis(ax, sorted({p.x for p in [*base, *cur]}), fontsize=7, label=i >= 3)
    other = fig.add_subplot(grid[2, :3])
    _paired_bars(
        other,
        baseline,
        current,
        [
            ("UDP", "iperf3_udp", lambda r, p: throughput_point(r, "iperf3_udp", p)),
            ("netperf", "tcp_stream", lambda r, p: throughput_point(r, "tcp_stream", p)),
        ],
        log_y,
        "throughput (Mbit/s)",
    )
    other.set_title("iperf3 UDP and netperf TCP_STREAM", fontsize=10)
    rr = fig.add_subplot(grid[2, 3:])
    _paired_bars(
        rr,
        baseline,
        current,
        [
            ("p50", "tcp_rr", lambda r, p: latency_point(r, p, "p50")),
            ("p99", "tcp_rr", lambda r, p: latency_point(r, p, "p99")),
        ],
        log_y,
        "latency (microseconds)",
    )
    rr.set_title("netperf TCP_RR latency", fontsize=10)
    handles = [
        Line2D([], [], color="#7f7f7f", linestyle="--", marker="s", label=f"baseline {_run_name(baseline)}"),
        Line2D([], [], color="black", marker="o", label=f"current {_run_name(current)} (path colour)"),
        *(_spread_handles("95 % CI of the mean (bars)") if spread else []),
        _failure_handle(),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    return fig


def figure_svg(fig: Figure) -> str:
    """The figure as SVG text, without a date, so that equal figures give equal files."""
    out = io.StringIO()
    with rc_context({"svg.hashsalt": "meshperf"}):  # ids from content, not from a random salt
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def figure_png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=fig.dpi)
    return out.getvalue()


def write_figure(fig: Figure, out: Path, stem: str) -> list[Path]:
    """`out/stem.png` and `out/stem.svg`, at the figure's own size (no tight cropping)."""
    png, svg = out / f"{stem}.png", out / f"{stem}.svg"
    write_atomic(png, figure_png(fig))
    write_atomic(svg, figure_svg(fig))
    return [png, svg]


def write_comparison(baseline: Results, current: Results, out: Path, stem: str = "comparison") -> list[Path]:
    """The comparison picture of two runs as `out/comparison.png` and `.svg`."""
    out.mkdir(parents=True, exist_ok=True)
    return write_figure(comparison_figure(baseline, current), out, stem)


# --- drawing helpers -------------------------------------------------------------------


def _run_name(results: Results) -> str:
    """The run's label (its run block), else stack/run id."""
    return results.run.label if results.run else f"{results.stack or '?'}/{results.run_id or '?'}"


def _run_words(results: Results) -> str:
    failed = len(results.failures())
    return f"{results.stack or '-'}, {results.label}: {len(results.cases)} cases, {failed} failed"


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, 16))


def _empty(ax: Axes, words: str, fontsize: int = 12) -> None:
    ax.text(0.5, 0.5, words, transform=ax.transAxes, ha="center", va="center", fontsize=fontsize, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def _line(
    ax: Axes,
    points: Sequence[Point],
    color: str,
    label: str,
    linestyle: str = "-",
    marker: str = "o",
    whiskers: bool = True,
    gid: str | None = None,
) -> bool:
    """A line through the points; a point without a figure is NaN, which matplotlib leaves as a
    gap. Points measured more than once get a band for the 95 % CI of the mean and, with
    `whiskers`, min..max whiskers. True when any spread was drawn. `gid` names the line in the
    SVG (`data-...`), so that a test of the file can find what was drawn."""
    if not points:
        return False
    xs = [p.x for p in points]
    ys = [math.nan if p.y is None else p.y for p in points]
    ax.plot(xs, ys, linestyle=linestyle, marker=marker, markersize=5, color=color, label=label, zorder=3, gid=gid)
    if any(p.ci_low is not None and p.ci_high is not None for p in points):
        low = [math.nan if p.ci_low is None else max(p.ci_low, 0.0) for p in points]
        high = [math.nan if p.ci_high is None else p.ci_high for p in points]
        ax.fill_between(xs, low, high, color=color, alpha=0.15, linewidth=0, zorder=2)
    spread = [p for p in points if p.y is not None and p.n > 1]
    if whiskers:
        _error_bars(ax, [p.x for p in spread], spread, color=color)
    return bool(spread)


def _spread_handles(whiskers: str = "min..max of repeats") -> list[Artist]:
    return [
        Patch(facecolor="#7f7f7f", alpha=0.3, label="band: 95 % CI of the mean (repeats)"),
        Line2D([], [], color="#7f7f7f", marker="_", markersize=10, label=f"whiskers: {whiskers}"),
    ]


def _error_bars(ax: Axes, xs: Sequence[float], points: Sequence[Point], color: str, ci: bool = False) -> None:
    """Whiskers for points measured more than once: min..max, or with `ci` the 95 % CI of the mean."""
    shown = [(x, p) for x, p in zip(xs, points, strict=True) if p.n > 1 and p.y is not None]
    if not shown:
        return
    ys = [p.y or 0.0 for _, p in shown]
    lows = [(p.ci_low if ci else p.low) for _, p in shown]
    highs = [(p.ci_high if ci else p.high) for _, p in shown]
    below = [max(0.0, y - (y if lo is None else lo)) for y, lo in zip(ys, lows, strict=True)]
    above = [max(0.0, (y if hi is None else hi) - y) for y, hi in zip(ys, highs, strict=True)]
    ax.errorbar([x for x, _ in shown], ys, yerr=[below, above], fmt="none", ecolor=color, capsize=3, zorder=4)


def _mark_failures(ax: Axes, marks: Sequence[tuple[float, str]]) -> bool:
    """Crosses at the x of failed cases, in a pale red band along the top of the axes, in
    the colour of their series (staggered when several fail at one x): seen, and never
    where a value of zero would be."""
    if not marks:
        return False
    ax.add_patch(Rectangle((0.0, FAIL_BAND[0]), 1.0, 1.0 - FAIL_BAND[0], transform=ax.transAxes,
                           facecolor="#fde0dd", edgecolor="none", zorder=1))  # fmt: skip
    ax.text(1.004, (1.0 + FAIL_BAND[0]) / 2, "failed", transform=ax.transAxes, ha="left", va="center", fontsize=7,
            color=FAIL_COLOR)  # fmt: skip
    colors = list(dict.fromkeys(color for _, color in marks))
    step = (1.0 - FAIL_BAND[0]) / (len(colors) + 1)
    for k, color in enumerate(colors):
        xs = [x for x, c in marks if c == color]
        y = FAIL_BAND[0] + step * (k + 1)
        ax.plot(xs, [y] * len(xs), linestyle="none", marker="x", markersize=7, markeredgewidth=2, color=color,
                transform=ax.get_xaxis_transform(), clip_on=False, zorder=5)  # fmt: skip
    return True


def _failure_handle() -> Line2D:
    return Line2D([], [], linestyle="none", marker="x", markersize=8, markeredgewidth=2, color=FAIL_COLOR,
                  label="failed case (no figure), in its series' colour")  # fmt: skip


def _y_scale(ax: Axes, values: Sequence[float | None], log_y: bool | None, label: str) -> None:
    """A linear axis from zero, or a log axis (said in the label) when asked or when wide."""
    ax.set_ylabel(label)
    positive = [v for v in values if v is not None and v > 0]
    if not positive:
        ax.set_ylim(0, 1)
        return
    use_log = wants_log(positive) if log_y is None else log_y
    if use_log:
        ax.set_yscale("log")
        ax.set_ylim(min(positive) / 2, max(positive) * 4)
        if label:
            ax.set_ylabel(label.replace(")", LOG_NOTE + ")") if label.endswith(")") else label + LOG_NOTE)
    else:
        ax.set_ylim(0, max(positive) * 1.2)
    ax.grid(True, which="major", alpha=0.3)


def _mss_axis(ax: Axes, xs: Sequence[float], fontsize: int = 9, label: bool = True) -> None:
    if not xs:
        return
    ticks = list(xs) if len(xs) <= 12 else list(xs)[::2]
    ax.set_xticks(ticks, [f"{x:.0f}" for x in ticks], fontsize=fontsize, rotation=45 if len(ticks) > 12 else 0)
    pad = max(32.0, (max(xs) - min(xs)) * 0.04)
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    if label:
        ax.set_xlabel("MSS (bytes, as requested)")


def _paired_bars(
    ax: Axes,
    baseline: Results,
    current: Results,
    metrics: Sequence[tuple[str, Tool, Callable[[Results, NetPath], Point]]],
    log_y: bool | None,
    label: str,
) -> None:
    """Per path, per metric: a baseline bar (hatched, light) next to a current bar (solid)."""
    paths = [p for p in NetPath if any(measured(r, tool, p) for r in (baseline, current) for _, tool, _ in metrics)]
    if not paths:
        _empty(ax, "not in either run", fontsize=9)
        return
    slots = 2 * len(metrics)
    width = 0.84 / slots
    colors = ("#1f77b4", "#ff7f0e", "#2ca02c")
    series = [
        (
            k,
            j,
            f"{name} {which}",
            [(i + (2 * k + j - (slots - 1) / 2) * width, value(run, p)) for i, p in enumerate(paths)],
        )
        for k, (name, _tool, value) in enumerate(metrics)
        for j, (run, which) in enumerate(((baseline, "baseline"), (current, "current")))
    ]
    values = [v for *_, points in series for _, pt in points for v in (pt.y, pt.ci_low, pt.ci_high)]
    failures = [(x, colors[k % 3]) for k, _, _, points in series for x, pt in points if pt.y is None and pt.failed]
    ax.set_xticks(range(len(paths)), [str(int(p)) for p in paths])
    ax.set_xlabel("network path (numbers as in the panels above)")
    if not any(v is not None for v in values):
        _y_scale(ax, values, log_y, label)
        _mark_failures(ax, failures)
        ax.text(0.5, 0.5, "no figures in either run", transform=ax.transAxes, ha="center", va="center", color="#555555")
        return
    handles: list[Artist] = []
    for k, j, name, points in series:
        drawn = [(x, pt) for x, pt in points if pt.y is not None]
        color, alpha, hatch = colors[k % 3], 0.45 if j == 0 else 1.0, "//" if j == 0 else None
        ax.bar([x for x, _ in drawn], [pt.y or 0.0 for _, pt in drawn], width, color=color, alpha=alpha, hatch=hatch,
               edgecolor="white", zorder=2, gid=f"data-{name.replace(' ', '-')}")  # fmt: skip
        _error_bars(ax, [x for x, _ in drawn], [pt for _, pt in drawn], color="black", ci=True)
        # drawn or not, the key stays whole
        handles.append(Patch(facecolor=color, alpha=alpha, hatch=hatch, edgecolor="white", label=name))
    _y_scale(ax, values, log_y, label)
    _mark_failures(ax, failures)
    ax.legend(handles=handles, fontsize=8, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
