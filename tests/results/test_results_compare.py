"""Verdict rules of `results.compare` and the `python -m results compare` gate's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from results_inprocess import results_cli

from results.compare import (
    THRESHOLD_ONLY,
    WELCH,
    compare_points,
    gate,
    gate_failed,
    load_points,
    regressions,
    verdict,
)
from results.model import PointSummary, Results
from results.stats import summarize
from spec.model import NetPath

ROOT = Path(__file__).resolve().parents[2]


def point(values: list[float], mss: int | None = 1376, path: int = 6) -> PointSummary:
    s = summarize(values) if values else None
    return PointSummary(
        path=NetPath(path),
        tool="iperf3_tcp",
        mss=mss,
        metric="throughput_mbps",
        n=len(values),
        median=s.median if s else None,
        mean=s.mean if s else None,
        min=s.min if s else None,
        max=s.max if s else None,
        stdev=s.stdev if s else None,
        ci95_low=s.ci_low if s else None,
        ci95_high=s.ci_high if s else None,
        values=tuple(values),
    )


BASE = [1000.0, 1010.0, 990.0, 1005.0, 995.0]  # mean 1000, sd 7.9


def test_a_clear_drop_beyond_the_threshold_is_slower() -> None:
    c = verdict(point(BASE), point([900.0, 905.0, 895.0, 902.0, 898.0]), threshold_pct=5)
    assert (c.verdict, c.rule) == ("slower", WELCH)
    assert c.change_pct == pytest.approx(-10.0)
    assert c.change_ci_high_pct is not None and c.change_ci_high_pct < 0
    assert c.p_value is not None and c.p_value < 0.001


def test_a_significant_drop_smaller_than_the_threshold_is_the_same() -> None:
    c = verdict(point(BASE), point([980.0, 982.0, 978.0, 981.0, 979.0]), threshold_pct=5)
    assert c.change_pct == pytest.approx(-2.0)
    assert c.change_ci_high_pct is not None and c.change_ci_high_pct < 0  # real, but too small to matter
    assert c.verdict == "same"


def test_a_large_but_uncertain_drop_is_the_same() -> None:
    noisy = [600.0, 1000.0, 1300.0]  # mean 966.7, huge spread
    c = verdict(point(BASE), point([500.0, 1200.0, 900.0]), threshold_pct=5)
    assert c.change_pct is not None and c.change_pct < -5
    assert c.change_ci_low_pct is not None and c.change_ci_high_pct is not None
    assert c.change_ci_low_pct < 0 < c.change_ci_high_pct
    assert c.verdict == "same"
    assert verdict(point(noisy), point(BASE)).verdict == "same"


def test_a_clear_rise_is_faster_and_the_threshold_and_confidence_matter() -> None:
    up = point([1100.0, 1105.0, 1095.0, 1102.0, 1098.0])
    assert verdict(point(BASE), up, threshold_pct=5).verdict == "faster"
    assert verdict(point(BASE), up, threshold_pct=15).verdict == "same"
    # A drop that is significant at 90 % but not at 99 %.
    a, b = [1000.0, 1040.0, 960.0], [930.0, 900.0, 960.0]
    assert verdict(point(a), point(b), 5, confidence=0.90).verdict == "slower"
    assert verdict(point(a), point(b), 5, confidence=0.99).verdict == "same"


def test_one_figure_on_either_side_falls_back_to_the_threshold_alone() -> None:
    c = verdict(point([1000.0]), point([940.0]), threshold_pct=5)
    assert (c.verdict, c.rule, c.p_value, c.change_ci_low_pct) == ("slower", THRESHOLD_ONLY, None, None)
    assert c.change_pct == pytest.approx(-6.0)
    assert verdict(point([1000.0]), point([960.0]), 5).verdict == "same"
    assert verdict(point(BASE), point([1060.0]), 5).verdict == "faster"  # median 1000 -> 1060
    assert verdict(point([1000.0]), point(BASE), 5).rule == THRESHOLD_ONLY


def test_a_point_missing_or_failed_in_the_current_run_fails_the_gate_unless_allowed() -> None:
    assert verdict(point(BASE), None).verdict == "missing"
    assert verdict(None, point(BASE)).verdict == "missing"
    assert verdict(point(BASE), point([])).verdict == "missing"  # every repeat failed
    two = [point(BASE, mss=96), point(BASE, mss=1376)]
    one_dead = compare_points(two, [point(BASE, mss=96), point([], mss=1376)])
    assert gate_failed(one_dead) and not gate_failed(one_dead, allow_missing=True)
    # A point only the current run has (new in it) is reported and does not fail the gate.
    new = compare_points([point(BASE, mss=96)], [point(BASE, mss=96), point(BASE, mss=1376)])
    assert [(c.key, c.verdict) for c in new] == [("p6-iperf3_tcp-mss96", "same"), ("p6-iperf3_tcp-mss1376", "missing")]
    assert not gate_failed(new)


def test_the_gate_fails_on_any_slower_point_and_regressions_list_them() -> None:
    before = [point(BASE, mss=96), point(BASE, mss=1376)]
    now = [point(BASE, mss=96), point([900.0, 905.0, 895.0, 902.0, 898.0], mss=1376)]
    comparisons = compare_points(before, now)
    assert [c.verdict for c in comparisons] == ["same", "slower"]
    assert gate_failed(comparisons)
    (only,) = regressions(comparisons)
    assert only["key"] == "p6-iperf3_tcp-mss1376" and only["verdict"] == "slower"


def _results_file(tmp_path: Path, name: str, points: list[PointSummary], run: dict[str, Any] | None = None) -> Path:
    """A results.json of these points; `run` as the block a lab run records (profile, durations, mss)."""
    path = tmp_path / name
    doc = json.loads(Results(points=tuple(points)).model_dump_json())
    if run is not None:
        doc["run"] = run
    path.write_text(json.dumps(doc))
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m results compare ARGS`, in this process (the closed-pipe test runs the real command)."""
    return results_cli("compare", *args)


def test_cli_exit_codes(tmp_path: Path) -> None:
    base = _results_file(tmp_path, "base.json", [point(BASE)])
    same = _results_file(tmp_path, "same.json", [point([1001.0, 999.0, 1003.0, 997.0, 1000.0])])
    slow = _results_file(tmp_path, "slow.json", [point([900.0, 905.0, 895.0, 902.0, 898.0])])
    ok = _cli(str(base), str(same))
    assert ok.returncode == 0, ok.stderr
    assert "p6-iperf3_tcp-mss1376" in ok.stdout and "same" in ok.stdout
    bad = _cli(str(base), str(slow), "--threshold", "5")
    assert bad.returncode == 1
    assert "slower" in bad.stdout and "1 slower" in bad.stdout
    assert _cli(str(base), str(slow), "--threshold", "20").returncode == 0
    # A run folder works as well as its results.json; a saved `points` output too.
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.json").write_text(slow.read_text())
    assert _cli(str(base), str(folder)).returncode == 1
    points = tmp_path / "points.json"
    points.write_text(json.dumps([point(BASE).model_dump(mode="json")]))
    assert _cli(str(points), str(base)).returncode == 0


def test_cli_bad_input_is_one_line_naming_the_file(tmp_path: Path) -> None:
    base = _results_file(tmp_path, "base.json", [point(BASE)])
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    for option in (("--threshold", "nan"), ("--threshold", "-1"), ("--confidence", "1"), ("--confidence", "nan")):
        done = _cli(str(base), str(base), *option)
        assert done.returncode == 2 and done.stderr.startswith("compare: --confidence must lie in"), option
    for wrong in (garbage, other, tmp_path / "absent.json", tmp_path):
        done = _cli(str(base), str(wrong))
        assert done.returncode == 2, (wrong, done.stdout)
        assert len(done.stderr.strip().splitlines()) == 1
        assert str(wrong) in done.stderr


def test_results_json_without_points_are_summarised_from_cases(tmp_path: Path) -> None:
    from results.collect import collect
    from spec.model import NetperfSuite, Stack, Suites
    from spec.plan import build_plan

    plan = build_plan(Stack(suites=Suites(netperf=NetperfSuite(paths=[NetPath(6)], tools=["iperf3_tcp"], mss=[536]))))
    results = collect(plan, {})
    doc = json.loads(results.model_dump_json())
    del doc["points"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    (only,) = load_points(path)
    assert only.key == "p6-iperf3_tcp-mss536" and only.n == 0 and only.n_failed == 1


def test_cli_gate_fails_on_a_dead_current_run(tmp_path: Path) -> None:
    base = _results_file(tmp_path, "base.json", [point(BASE, mss=96), point(BASE)])
    one_dead = _results_file(tmp_path, "one-dead.json", [point(BASE, mss=96), point([])])
    done = _cli(str(base), str(one_dead), "--force")
    assert done.returncode == 1, done.stdout
    assert "no figure in the current run" in done.stdout
    assert _cli(str(base), str(one_dead), "--force", "--allow-missing").returncode == 0


def test_nothing_to_compare_fails_the_gate_on_both_front_ends(tmp_path: Path) -> None:
    """Issue 19: `compare [] RUN` and `[] []` passed, and Pulumi's `regressions` was [] for a dead run.
    One verdict (`gate`): nothing compared is a failure, `--allow-missing` or not."""
    good = [point(BASE, mss=96), point(BASE)]
    dead = [point([], mss=96), point([])]
    cases = [
        ([], good, "the baseline has no figure"),
        (dead, good, "the baseline has no figure"),
        (good, [], "the current run has no figure"),
        (good, dead, "the current run has no figure"),
        ([], [], "neither run has a figure"),
        ([point(BASE, mss=96)], [point(BASE)], "no point has a figure in both runs"),
    ]
    for before, now, why in cases:
        comparisons = compare_points(before, now)
        verdict_ = gate(comparisons, allow_missing=True)
        assert verdict_.failed and verdict_.nothing_to_compare == why, (before, now)
        assert regressions(comparisons) == [{"key": "*", "verdict": "nothing to compare", "rule": why}]
        base = _results_file(tmp_path, "base.json", before)
        current = _results_file(tmp_path, "current.json", now)
        for allow in ((), ("--allow-missing",)):
            done = _cli(str(base), str(current), "--force", *allow)
            assert done.returncode == 1, (why, done.stdout)
            assert done.stderr == f"compare: nothing to compare: {why}\n"
    # A saved `points` output that is an empty list is an empty run, not a pass.
    empty = tmp_path / "points.json"
    empty.write_text("[]")
    assert _cli(str(empty), str(_results_file(tmp_path, "good.json", good))).returncode == 1
    assert _cli(str(empty), str(empty)).returncode == 1
    # Where the gate passes, `regressions` is empty; where a point fails it, it is listed.
    assert not gate(compare_points(good, good)).failed and regressions(compare_points(good, good)) == []
    assert [r["key"] for r in regressions(compare_points(good, [point(BASE, mss=96), point([])]))] == [
        "p6-iperf3_tcp-mss1376"
    ]


def _run_block(label: str = "kind-mesh-20261129T100000Z") -> dict[str, Any]:
    """The `run` block a lab run records (results.context), as JSON."""
    from results.context import run_context
    from spec.model import Stack

    context = run_context(
        Stack(),
        stack_name="kind-mesh",
        label=label,
        profile="full",
        tool_versions={"iperf3": "iperf 3.12"},
        kernel="6.1",
        cpus=2,
        meshperf_version="v-test",
    )
    block: dict[str, Any] = json.loads(context.model_dump_json())
    return block


RUN = {**_run_block(), "durations": {"iperf3_tcp": 10, "tcp_rr": 10}, "mss": [1376], "link_rate": "10gbit"}
STEADY = {"tolerance_pct": 3.0, "window_s": 0.5, "min_s": 1.0, "max_s": 10.0, "omit_s": 0.0}


@pytest.mark.parametrize(
    ("current_run", "line"),
    [
        ({**RUN, "profile": "quick"}, "profile full / quick"),
        ({**RUN, "durations": {"iperf3_tcp": 1, "tcp_rr": 10}}, "durations.iperf3_tcp 10 s / 1 s"),
        ({**RUN, "mss": [96, 1376]}, "mss [1376] / [96, 1376]"),
        (
            {**RUN, "durations": {"iperf3_tcp": STEADY, "tcp_rr": 10}},
            "durations.iperf3_tcp 10 s / until steady (within 3 % over 0.5 s, 1..10 s, first 0 s left out)",
        ),
        # Issue 19: kind-local unshaped against kind-mesh on a 10gbit link was "0 slower, 120 same".
        (
            {**RUN, "stack": "kind-local", "link_rate": None},
            "stack kind-mesh / kind-local; link_rate 10gbit / unshaped",
        ),
        ({**RUN, "mtu": 9000}, "mtu 1500 / 9000"),
        (
            {**RUN, "profile": "quick", "mtu": 1400, "mss": [96]},
            "profile full / quick; mtu 1500 / 1400; mss [1376] / [96]",
        ),
    ],
)
def test_cli_refuses_runs_that_are_not_comparable(tmp_path: Path, current_run: dict[str, Any], line: str) -> None:
    base = _results_file(tmp_path, "base.json", [point(BASE)], RUN)
    now = _results_file(tmp_path, "now.json", [point(BASE)], current_run)
    done = _cli(str(base), str(now))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"compare: not comparable: keys that differ (baseline / current): {line} (--force compares them anyway)\n"
    )
    assert _cli(str(base), str(now), "--force").returncode == 0
    assert _cli(str(base), str(_results_file(tmp_path, "same.json", [point(BASE)], RUN))).returncode == 0


def test_without_a_run_block_the_mss_points_the_results_record_decide(tmp_path: Path) -> None:
    """Older results.json (no `run`) and saved `points` outputs: their MSS points are compared."""
    base = _results_file(tmp_path, "base.json", [point(BASE, mss=96), point(BASE, mss=1376)])
    now = tmp_path / "points.json"
    now.write_text(json.dumps([point(BASE, mss=1376).model_dump(mode="json")]))
    done = _cli(str(base), str(now))
    assert done.returncode == 2
    assert "keys that differ (baseline / current): mss [96, 1376] / [1376] (" in done.stderr


def test_cli_output_into_a_closed_pipe_is_no_traceback(tmp_path: Path) -> None:
    """`compare --plot DIR ... | head -1`: the table stops at the reader, the plot is still drawn."""
    base = _results_file(tmp_path, "base.json", [point(BASE, mss=m) for m in range(88, 1400, 8)])
    slow = _results_file(tmp_path, "slow.json", [point([900.0, 905.0, 895.0], mss=m) for m in range(88, 1400, 8)])
    argv = [sys.executable, "-m", "results", "compare", str(base), str(slow), "--plot", str(tmp_path / "plot")]
    done = subprocess.run(
        ["sh", "-c", '"$@" | head -1', "sh", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stdout.startswith("meshperf compare: threshold 5 %")
    assert (tmp_path / "plot" / "comparison.png").stat().st_size > 0


def _labelled(tmp_path: Path, label: str, values: list[float]) -> Path:
    from results.context import run_context
    from spec.model import Stack

    context = run_context(
        Stack(),
        stack_name="kind-mesh",
        label=label,
        profile="default",
        tool_versions={"iperf3": "iperf 3.12"},
        kernel="6.1",
        cpus=2,
        meshperf_version="v-test",
    )
    path = tmp_path / f"{label}.json"
    path.write_text(Results(stack="kind-mesh", run_id="1", run=context, points=(point(values),)).model_dump_json())
    return path


def test_compare_names_both_runs_in_its_output_and_plot(tmp_path: Path) -> None:
    from results.plots import comparison_figure

    base = _labelled(tmp_path, "kind-mesh-20261129T100000Z", BASE)
    now = _labelled(tmp_path, "kind-mesh-20261129T110000Z", [1001.0, 999.0, 1003.0, 997.0, 1000.0])
    done = _cli(str(base), str(now), "--plot", str(tmp_path / "plot"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "baseline: kind-mesh kind-mesh-20261129T100000Z"
    assert lines[2] == "current:  kind-mesh kind-mesh-20261129T110000Z"
    figure = comparison_figure(
        Results.model_validate_json(base.read_text()), Results.model_validate_json(now.read_text())
    )
    title = figure.get_suptitle()
    assert "kind-mesh-20261129T100000Z" in title and "kind-mesh-20261129T110000Z" in title
    as_json = _cli(str(base), str(now), "--json")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["baseline"] == "kind-mesh kind-mesh-20261129T100000Z"
    assert document["current"] == "kind-mesh kind-mesh-20261129T110000Z"
    (only,) = document["points"]
    assert only["verdict"] == "same" and only["mann_whitney_p"] is not None


def test_mann_whitney_is_shown_beside_welch_for_throughput() -> None:
    c = verdict(point(BASE), point([900.0, 905.0, 895.0, 902.0, 898.0]))
    # Every current value below every baseline value, n = 5 and 5: exact two-sided p = 2 / C(10, 5).
    assert c.mann_whitney_p == pytest.approx(2 / 252)
    rr = point(BASE).model_copy(update={"tool": "tcp_rr", "metric": "transactions_per_s", "mss": None})
    assert verdict(rr, rr).mann_whitney_p is None  # transactions/s: Welch only
    assert verdict(point([1000.0]), point([900.0])).mann_whitney_p is None  # n = 1: no test at all


def test_comparison_table_snapshot() -> None:
    """The terminal table at its fixed width (rich, `results.textable.WIDTH`): both runs named, columns aligned."""
    from results.compare import comparison_table

    base = [point(BASE, mss=1376), point([1000.0], mss=96), point(BASE, mss=536)]
    now = [point([900.0, 905.0, 895.0, 902.0, 898.0], mss=1376), point([1200.0], mss=96), point([], mss=536)]
    names = ("kind-mesh kind-mesh-20261129T100000Z", "kind-local run 2 (0123456789ab)")
    text = comparison_table(compare_points(base, now), 5.0, 0.95, names)
    rule = "─" * 135
    assert text.splitlines() == [
        "meshperf compare: threshold 5 %, confidence 0.95",
        "baseline: kind-mesh kind-mesh-20261129T100000Z",
        "current:  kind-local run 2 (0123456789ab)",
        "",
        "point                   n b/c   baseline   current   change %   CI of change %       p    MW p   verdict",
        rule,
        "p6-iperf3_tcp-mss1376     5/5     1000.0     900.0      -10.0    [-11.0, -9.0]   0.000   0.008   slower",
        "p6-iperf3_tcp-mss96       1/1     1000.0    1200.0      +20.0                -       -       -   faster"
        " (threshold-only (n=1))",
        "p6-iperf3_tcp-mss536      5/0          -         -          -                -       -       -   missing"
        " (no figure in the current run)",
        "",
        "1 slower, 0 same, 1 faster, 1 missing",
        "p: Welch's t-test (the verdict's); MW p: Mann-Whitney rank test, shown beside it for throughput",
    ]
    lines = text.splitlines()
    verdicts = lines[4].index("verdict")
    assert lines[6].index("slower") == lines[7].index("faster") == lines[8].index("missing") == verdicts
    figures_end = lines[4].index("current") + len("current")
    assert lines[6][:figures_end].endswith("900.0") and lines[7][:figures_end].endswith("1200.0")
