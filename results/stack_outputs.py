"""Checks on a stack's outputs as `pulumi stack output --json` prints them, for the kind workflow.

After a `pulumi up` on a live cluster (`.github/workflows/kind.yml`), the run counts only if
no case failed and every (path, tool) the plan measured has a figure in `throughput`.
"""

from __future__ import annotations

from collections.abc import Mapping

from results.seed import EXTRA_ROWS, SEED_ROWS
from spec.plan import Plan


def missing_throughput(plan: Plan, throughput: Mapping[str, object]) -> list[str]:
    """The `throughput` labels of the plan's (path, tool) pairs that hold no figure above zero."""
    measured = {(c.tool, c.path) for c in plan.cases}
    labels = [row.label for row in (*SEED_ROWS, *EXTRA_ROWS) if (row.tool, row.path) in measured]
    return [label for label in labels if not _positive(throughput.get(label))]


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
