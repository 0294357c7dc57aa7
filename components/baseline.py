"""A baseline stack's figures, by StackReference, against this stack's: the `regressions` output.

The baseline stack exports `points` (per-point summaries, `components.results`); this
stack compares its own `points` to them with `results.compare`, the code behind
`python -m results compare`, and exports what fails the same gate (`results.compare.gate`):
the slower points, those without a figure in this run, or, when nothing could be compared (a
baseline that exports no `points`, or a run without figures), one entry saying so. An empty
`regressions` is a pass, exactly where `python -m results compare` exits 0.
"""

from __future__ import annotations

from typing import Any

import pulumi

from results.compare import compare_points, points_from_data, regressions
from spec.model import Baseline


def regressions_of(baseline_points: Any, current_points: Any, baseline: Baseline) -> list[dict[str, Any]]:
    """What fails the gate for `current_points` against `baseline_points` (plain data, as stack outputs hold)."""
    before = points_from_data(list(baseline_points or []), f"baseline stack {baseline.stack}: points")
    now = points_from_data(list(current_points or []), "points")
    return regressions(compare_points(before, now, baseline.threshold_pct, baseline.confidence))


def baseline_regressions(baseline: Baseline, current_points: pulumi.Input[Any]) -> pulumi.Output[list[dict[str, Any]]]:
    """`regressions`: this stack's points against those the baseline stack exports."""
    reference = pulumi.StackReference(f"baseline-{baseline.stack.replace('/', '-')}", stack_name=baseline.stack)
    return pulumi.Output.all(reference.get_output("points"), current_points).apply(
        lambda both: regressions_of(both[0], both[1], baseline)
    )
