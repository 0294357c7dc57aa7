"""The pictures: valid PNG and SVG files of the expected size, failures as gaps, spread shown.

Files are checked as files (PNG signature and IHDR, SVG parsed as XML), then decoded and
checked not blank; the figures themselves are checked for what they draw.
"""

from __future__ import annotations

import json
import math
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Sequence
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from results_inprocess import results_cli
from results_testkit import small_plan, synthetic_folder

from results.collect import collect
from results.model import CaseResult, Results
from results.plots import (
    COMPARISON_SIZE,
    DPI,
    LATENCY_SIZE,
    PATH_COLORS,
    PERCENTILES,
    THROUGHPUT_SIZE,
    comparison_figure,
    figure_svg,
    latency_figure,
    path_label,
    throughput_figure,
    write_comparison,
)
from results.points import point_summaries
from results.report_json import results_json
from results.reports import write_reports
from spec.model import POD_PATHS, NetPath
from spec.plan import PATH_LABELS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"
PICTURES = {"throughput-vs-mss": THROUGHPUT_SIZE, "latency": LATENCY_SIZE}


@pytest.fixture(scope="module")
def results() -> Results:
    return collect(small_plan(), synthetic_folder(), stack="lab", run_id="7")


def repeated(results: Results, n: int = 4, run_id: str = "rep") -> Results:
    """Each case measured n times: throughput and latency scaled 0.9, 0.95, 1.0, 1.05, ..."""
    cases: list[CaseResult] = []
    for case in results.cases:
        for k in range(n):
            f = 0.9 + 0.05 * k
            update: dict[str, object] = {"repeat": k + 1, "case_id": f"{case.case_id}-r{k + 1}"}
            if case.throughput_mbps is not None:
                update["throughput_mbps"] = case.throughput_mbps * f
            if case.latency_us is not None and case.latency_us.p50 is not None:
                update["latency_us"] = case.latency_us.model_copy(update={"p50": case.latency_us.p50 * f})
            cases.append(case.model_copy(update=update))
    return results.model_copy(update={"cases": tuple(cases), "points": point_summaries(cases), "run_id": run_id})


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature and the CRC."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name}: not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(kind + body) == crc, f"{path.name}: IHDR CRC"
    assert data[-12:] == struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")), "no IEND"
    width, height = struct.unpack(">II", body[:8])
    return width, height


def colour_pixels(path: Path, colour: str) -> int:
    """How many pixels of a PNG are `colour` (within rounding)."""
    pixels = matplotlib.image.imread(path)[..., :3]
    return int(np.sum(np.all(np.abs(pixels - np.array(to_rgb(colour))) < 0.02, axis=-1)))


def assert_png(path: Path, inches: tuple[float, float], data_colours: Sequence[str]) -> None:
    """A PNG of the size, not blank: each colour the data is drawn in (a path's line, a percentile's
    bars) covers at least a few hundred pixels. Axes, titles and labels alone do not pass."""
    assert png_size(path) == (round(inches[0] * DPI), round(inches[1] * DPI))
    pixels = matplotlib.image.imread(path)  # decodes the whole image
    assert pixels.shape[:2] == (round(inches[1] * DPI), round(inches[0] * DPI))
    assert data_colours, "a picture with no data colour to look for proves nothing"
    for colour in data_colours:
        assert colour_pixels(path, colour) > 150, f"{path.name}: no data drawn in {colour}"


def assert_svg(path: Path, inches: tuple[float, float]) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    w, h = inches[0] * 72, inches[1] * 72  # matplotlib writes SVG in points
    assert root.get("width") == f"{w:g}pt" and root.get("height") == f"{h:g}pt"
    assert root.get("viewBox") == f"0 0 {w:g} {h:g}"


def svg_marks(path: Path) -> dict[str, int]:
    """What an SVG draws as data, by the gid `results.plots` gives it (`data-...`): a line's points
    (its markers; a failed point is a gap, no marker) or a series' bars (one group per bar)."""
    marks: dict[str, int] = {}
    for group in ET.parse(path).getroot().iter(f"{SVG_NS}g"):
        gid = group.get("id") or ""
        if gid.startswith("data-tcp-"):
            marks[gid] = len(list(group.iter(f"{SVG_NS}use")))
        elif gid.startswith("data-"):
            marks[gid] = marks.get(gid, 0) + 1
    return marks


def tcp_marks(results: Results, suffix: str = "") -> dict[str, int]:
    """Per TCP path in the run: how many MSS points have a figure (from the cases, not the plots)."""
    paths = {c.path for c in results.cases if c.tool == "iperf3_tcp"}
    return {
        f"data-tcp-p{int(p)}{suffix}": len({c.mss_requested for c in results.cases_of("iperf3_tcp", p) if c.ok})
        for p in paths
    }


def rr_marks(results: Results) -> dict[str, int]:
    """Per percentile: how many paths have it (bars), from the cases."""
    paths = {c.path for c in results.cases if c.tool == "tcp_rr"}
    counts = {
        name: sum(
            any(
                c.ok and c.latency_us and getattr(c.latency_us, name) is not None for c in results.cases_of("tcp_rr", p)
            )
            for p in paths
        )
        for name, _ in PERCENTILES
    }
    return {f"data-rr-{name}": n for name, n in counts.items() if n}


def test_reports_write_pictures_and_html_next_to_the_csv(results: Results, tmp_path: Path) -> None:
    """Issue 19: write_reports drawing an empty Results passed every picture test. The files must
    hold the run's data: a marker per TCP point with a figure, a bar per TCP_RR percentile and path."""
    paths = write_reports(results, tmp_path)
    names = {p.name for p in paths}
    assert {"results.csv", "report.html"} <= names
    for stem, inches in PICTURES.items():
        assert {f"{stem}.png", f"{stem}.svg"} <= names
        assert_svg(tmp_path / f"{stem}.svg", inches)
    throughput = tcp_marks(results)
    assert svg_marks(tmp_path / "throughput-vs-mss.svg") == throughput
    assert throughput == {"data-tcp-p1": 2, "data-tcp-p2": 1, "data-tcp-p3": 0, "data-tcp-p5": 1}
    drawn = [PATH_COLORS[NetPath(int(k.removeprefix("data-tcp-p")))] for k, n in throughput.items() if n]
    assert_png(tmp_path / "throughput-vs-mss.png", THROUGHPUT_SIZE, drawn)
    latency = rr_marks(results)
    assert svg_marks(tmp_path / "latency.svg") == latency and sum(latency.values()) >= 3
    assert_png(tmp_path / "latency.png", LATENCY_SIZE, [c for name, c in PERCENTILES if f"data-rr-{name}" in latency])


def test_comparison_files(results: Results, tmp_path: Path) -> None:
    current = repeated(results)
    paths = write_comparison(results, current, tmp_path / "cmp")
    assert [p.name for p in paths] == ["comparison.png", "comparison.svg"]
    assert_svg(paths[1], COMPARISON_SIZE)
    marks = svg_marks(paths[1])
    lines = {k: v for k, v in marks.items() if k.startswith("data-tcp-")}
    assert lines == tcp_marks(results, "-baseline") | tcp_marks(current, "-current")
    bars = {k: v for k, v in marks.items() if not k.startswith("data-tcp-")}
    udp = sum(any(c.ok for c in results.cases_of("iperf3_udp", p)) for p in NetPath)
    rr = rr_marks(results)["data-rr-p50"]  # paths with a p50 latency
    assert udp and rr and bars["data-UDP-baseline"] == bars["data-UDP-current"] == udp
    assert bars["data-p50-baseline"] == bars["data-p99-current"] == rr
    assert_png(paths[0], COMPARISON_SIZE, [PATH_COLORS[NetPath.SAME_NODE_POD], "#7f7f7f"])


def _lines(fig: Figure) -> dict[str, tuple[list[float], list[float]]]:
    ax = fig.axes[0]
    return {str(line.get_label()): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}  # type: ignore[arg-type]


def _line_of(lines: dict[str, tuple[list[float], list[float]]], path: NetPath) -> tuple[list[float], list[float]]:
    return next(v for k, v in lines.items() if k.startswith(path_label(path)))


def test_throughput_failures_are_gaps_not_zeros(results: Results) -> None:
    fig = throughput_figure(results)
    lines = _lines(fig)
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    for path in (NetPath.SAME_NODE_POD, NetPath.SAME_NODE_VIP, NetPath.REMOTE_NODE_POD, NetPath.HAIRPIN):
        assert any(PATH_LABELS[path] in t for t in texts)
    assert not any(PATH_LABELS[NetPath.REMOTE_NODE_VIP] in t for t in texts)  # not in the plan: not drawn
    by_mss = results.throughput_by_mss()
    xs, ys = _line_of(lines, NetPath.SAME_NODE_VIP)
    assert xs == [536, 1376]
    assert ys[0] == pytest.approx(by_mss["2 iperf TCP. Same VM using Virtual IP"][536])
    assert math.isnan(ys[1])  # MSS 1376 failed: a gap
    _, ys3 = _line_of(lines, NetPath.REMOTE_NODE_POD)
    assert all(math.isnan(y) for y in ys3)
    assert "3 Remote VM using Pod IP (no figure: 2 failed)" in texts
    assert all(y != 0 for _, ys_ in lines.values() for y in ys_)
    crosses = [line for line in fig.axes[0].get_lines() if line.get_marker() == "x"]
    assert sum(len(line.get_xdata()) for line in crosses) == 4  # type: ignore[arg-type]
    for line in crosses:  # drawn in the band at the top of the axes, nowhere near zero
        assert all(y > 0.85 for y in line.get_ydata())  # type: ignore[union-attr]
    ax = fig.axes[0]
    assert ax.get_xlabel() == "MSS (bytes, as requested)" and "Mbit/s" in ax.get_ylabel()
    assert "iperf3 TCP throughput" in fig.get_suptitle()


def test_log_axis_when_the_range_is_wide(results: Results) -> None:
    # The synthetic run spans 960..2003 Mbit/s: linear. Scale one path down 1000x: log.
    assert throughput_figure(results).axes[0].get_yscale() == "linear"
    assert throughput_figure(results, log_y=True).axes[0].get_yscale() == "log"
    slow = [
        c.model_copy(update={"throughput_mbps": c.throughput_mbps / 1000})
        if c.path == NetPath.SAME_NODE_VIP and c.throughput_mbps
        else c
        for c in results.cases
    ]
    wide = results.model_copy(update={"cases": tuple(slow), "points": point_summaries(slow)})
    ax = throughput_figure(wide).axes[0]
    assert ax.get_yscale() == "log" and "log scale" in ax.get_ylabel()
    assert throughput_figure(wide, log_y=False).axes[0].get_yscale() == "linear"


def test_latency_figure(results: Results) -> None:
    fig = latency_figure(results)
    ax = fig.axes[0]
    assert "microseconds" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert [label.replace("\n", " ") for label in labels] == [
        path_label(p) for p in (NetPath.SAME_NODE_POD, NetPath.SAME_NODE_VIP, NetPath.REMOTE_NODE_POD, NetPath.HAIRPIN)
    ]
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("failed") for t in texts)  # p3's TCP_RR has no index line
    heights = sorted(round(p.get_height(), 3) for p in ax.patches if p.get_height() > 0)  # type: ignore[attr-defined]
    p1 = next(c for c in results.cases if c.case_id == "p1-tcp-rr").latency_us
    assert p1 is not None and p1.p99 is not None and round(p1.p99, 3) in heights
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["p50", "p90", "p99"]


def test_repeats_draw_the_median_and_the_spread(results: Results) -> None:
    rep = repeated(results)
    fig = throughput_figure(rep)
    _, ys = _line_of(_lines(fig), NetPath.SAME_NODE_POD)
    point = rep.point("iperf3_tcp", NetPath.SAME_NODE_POD, 536)
    assert point is not None and point.n == 4 and point.ci95_low is not None
    assert ys[0] == pytest.approx(point.median)
    ax = fig.axes[0]
    assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the CI band
    assert any("95 % CI" in t.get_text() for t in fig.legends[0].get_texts())
    assert not any("95 % CI" in t.get_text() for t in throughput_figure(results).legends[0].get_texts())


def test_comparison_figure_panels(results: Results) -> None:
    fig = comparison_figure(results, repeated(results, run_id="8"))
    titles = [ax.get_title() for ax in fig.axes]
    assert all(path_label(p) in titles for p in POD_PATHS)  # the seed's six paths: one panel each
    assert "lab/7" in fig.get_suptitle() and "lab/8" in fig.get_suptitle()
    absent = fig.axes[titles.index(path_label(NetPath.REMOTE_NODE_VIP))]
    assert [t.get_text() for t in absent.texts] == ["not in either run"]


def test_svg_is_reproducible(results: Results) -> None:
    assert figure_svg(throughput_figure(results)) == figure_svg(throughput_figure(results))


def test_an_empty_run_still_gives_pictures(tmp_path: Path) -> None:
    """Pictures that say there is nothing, with no data in them: the checks above fail on them."""
    paths = write_reports(Results(stack="empty"), tmp_path)
    assert "report.html" in {p.name for p in paths}
    for stem, inches in PICTURES.items():
        assert_svg(tmp_path / f"{stem}.svg", inches)
        assert svg_marks(tmp_path / f"{stem}.svg") == {}
    assert "no iperf3 TCP cases in this run" in (tmp_path / "throughput-vs-mss.svg").read_text()
    assert "no netperf TCP_RR cases in this run" in (tmp_path / "latency.svg").read_text()
    for colour in [*PATH_COLORS.values(), *(c for _, c in PERCENTILES)]:
        with pytest.raises(AssertionError, match="no data drawn"):
            assert_png(tmp_path / "throughput-vs-mss.png", THROUGHPUT_SIZE, [colour])
        with pytest.raises(AssertionError, match="no data drawn"):
            assert_png(tmp_path / "latency.png", LATENCY_SIZE, [colour])


def test_compare_command_draws_the_comparison(results: Results, tmp_path: Path) -> None:
    base, cur = tmp_path / "base.json", tmp_path / "points.json"
    base.write_text(results_json(results))
    cur.write_text(json.dumps([p.model_dump(mode="json") for p in repeated(results).points]))  # points alone
    done = results_cli("compare", str(base), str(cur), "--plot", str(tmp_path / "cmp"))
    assert done.returncode in (0, 1), done.stderr
    assert "comparison plot:" in done.stdout.splitlines()[-1]
    assert_svg(tmp_path / "cmp" / "comparison.svg", COMPARISON_SIZE)
    again = write_comparison(results, repeated(results), tmp_path / "again")[1]
    # A `points` output carries no latency percentiles: the TCP lines are what both draw alike.
    lines = {k: v for k, v in svg_marks(tmp_path / "cmp" / "comparison.svg").items() if k.startswith("data-tcp-")}
    assert lines == {k: v for k, v in svg_marks(again).items() if k.startswith("data-tcp-")}
    assert sum(lines.values()) > 0
    assert_png(tmp_path / "cmp" / "comparison.png", COMPARISON_SIZE, [PATH_COLORS[NetPath.SAME_NODE_POD]])
