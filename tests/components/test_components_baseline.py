"""A stack naming a baseline stack: the StackReference, the `points` it reads, the `regressions` it exports."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import run_program, stack_config, stack_figures

from components.baseline import regressions_of
from results.compare import points_from_data
from results.model import PointSummary
from results.stats import summarize
from spec.load import stack_from_config
from spec.model import Baseline, NetPath

BASELINE = "acme/meshperf/nightly"
POINTS = stack_figures("kind-local")["points"]  # what kind-local's Results exports


def _scaled(points: list[dict[str, Any]], factor: float) -> list[dict[str, Any]]:
    out = []
    for p in points:
        q = dict(p)
        for key in ("median", "min", "max", "mean", "ci95_low", "ci95_high"):
            if q.get(key) is not None:
                q[key] = q[key] * factor
        q["values"] = [v * factor for v in q.get("values", [])]
        out.append(q)
    return out


def _config(threshold: float = 5.0) -> dict[str, str]:
    return {
        **stack_config("kind-local"),
        "meshperf:baseline": json.dumps({"stack": BASELINE, "threshold_pct": threshold}),
    }


def test_points_are_exported_for_a_later_stack_to_compare_with() -> None:
    run = run_program("kind-local", stack_config("kind-local"))
    # Through the engine None-valued keys drop out and whole numbers come back as floats:
    # the points must still read back as the same summaries.
    exported = points_from_data(run.outputs["points"])
    assert exported == points_from_data(POINTS)
    assert {"path", "tool", "mss", "n", "median", "min", "max", "values"} <= set(run.outputs["points"][0])
    assert "regressions" not in run.outputs  # no baseline named


def test_a_faster_baseline_makes_every_measured_point_a_regression() -> None:
    faster = _scaled(POINTS, 1.25)  # the baseline was 25 % faster everywhere
    run = run_program("kind-local", _config(), references={BASELINE: {"points": faster}})
    # The mocks answer a StackReference by its stack name: the figures below prove it named BASELINE.
    regressions = run.outputs["regressions"]
    measured = [p for p in POINTS if p["n"]]
    assert len(regressions) == len(measured) > 0
    assert {r["verdict"] for r in regressions} == {"slower"}
    assert all(r["change_pct"] < -5 for r in regressions)
    assert {r["rule"] for r in regressions} == {"threshold-only (n=1)"}  # the lab run has one repeat


def test_the_same_figures_or_a_generous_threshold_give_no_regressions() -> None:
    same = run_program("kind-local", _config(), references={BASELINE: {"points": POINTS}})
    assert same.outputs["regressions"] == []
    slower = _scaled(POINTS, 1.25)
    generous = run_program("kind-local", _config(threshold=30), references={BASELINE: {"points": slower}})
    assert generous.outputs["regressions"] == []


def test_nothing_to_compare_is_a_regression_as_the_cli_gate_says() -> None:
    """Issue 19: a baseline without points, or a run whose every point failed, gave `regressions == []`
    while `python -m results compare` failed the same data. One verdict (`results.compare.gate`)."""
    run = run_program("kind-local", _config(), references={BASELINE: {"throughput": {}}})
    assert run.outputs["regressions"] == [
        {"key": "*", "verdict": "nothing to compare", "rule": "the baseline has no figure"}
    ]
    dead = [{**p, "n": 0, "n_failed": 1, "values": [], "median": None, "mean": None} for p in POINTS]
    assert regressions_of(POINTS, dead, Baseline(stack=BASELINE)) == [
        {"key": "*", "verdict": "nothing to compare", "rule": "the current run has no figure"}
    ]
    assert regressions_of(POINTS, [], Baseline(stack=BASELINE))[0]["verdict"] == "nothing to compare"


def _repeats(values: list[float]) -> dict[str, Any]:
    """A point measured len(values) times, as a stack's `points` output holds it."""
    s = summarize(values)
    return PointSummary(
        path=NetPath(6),
        tool="iperf3_tcp",
        mss=1376,
        metric="throughput_mbps",
        n=len(values),
        median=s.median,
        mean=s.mean,
        min=s.min,
        max=s.max,
        stdev=s.stdev,
        ci95_low=s.ci_low,
        ci95_high=s.ci_high,
        values=tuple(values),
    ).model_dump(mode="json")


def test_the_baselines_confidence_decides_an_uncertain_drop() -> None:
    """An 8 % drop with a wide spread (Welch, n=4 on both sides): real at 60 % confidence, not at 99 %.
    `meshperf:baseline`'s `confidence` is read from the stack and used, not a constant."""
    before = [_repeats([1000.0, 1060.0, 940.0, 1000.0])]
    now = [_repeats([920.0, 980.0, 860.0, 920.0])]
    for confidence, slower in ((0.6, True), (0.99, False)):
        baseline = stack_from_config({"baseline": {"stack": BASELINE, "confidence": confidence}}).baseline
        assert baseline is not None and baseline.confidence == confidence
        found = regressions_of(before, now, baseline)
        assert [r["verdict"] for r in found] == (["slower"] if slower else []), confidence
        if slower:
            assert found[0]["rule"] == "welch" and found[0]["change_pct"] == pytest.approx(-8.0)
