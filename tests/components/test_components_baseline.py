"""A stack naming a baseline stack: the StackReference, the `points` it reads, the `regressions` it exports."""

from __future__ import annotations

import json
from typing import Any

from conftest import run_program, stack_config, stack_figures

from results.compare import points_from_data

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


def test_a_baseline_without_points_gives_no_regressions() -> None:
    run = run_program("kind-local", _config(), references={BASELINE: {"throughput": {}}})
    assert run.outputs["regressions"] == []
