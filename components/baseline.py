"""A baseline stack's figures, by StackReference, against this stack's: the `regressions` output.

The baseline stack exports `points` (per-point summaries, `components.results`); this
stack compares its own `points` to them with `results.compare`, the code behind
`python -m results compare`, and exports the points that are slower with confidence.
A baseline that exports no `points` (not run yet, or an older program) gives no
regressions rather than failing the update.
"""

from __future__ import annotations

from typing import Any

import pulumi

from results.compare import compare_points, points_from_data, regressions
from spec.model import Baseline


def regressions_of(baseline_points: Any, current_points: Any, baseline: Baseline) -> list[dict[str, Any]]:
    """The slower points of `current_points` against `baseline_points` (plain data, as stack outputs hold)."""
    if not baseline_points or not current_points:
        return []
    before = points_from_data(list(baseline_points), f"baseline stack {baseline.stack}: points")
    now = points_from_data(list(current_points), "points")
    return regressions(compare_points(before, now, baseline.threshold_pct, baseline.confidence))


def baseline_regressions(baseline: Baseline, current_points: pulumi.Input[Any]) -> pulumi.Output[list[dict[str, Any]]]:
    """`regressions`: this stack's points against those the baseline stack exports."""
    reference = pulumi.StackReference(f"baseline-{baseline.stack.replace('/', '-')}", stack_name=baseline.stack)
    return pulumi.Output.all(reference.get_output("points"), current_points).apply(
        lambda both: regressions_of(both[0], both[1], baseline)
    )
