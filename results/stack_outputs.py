"""Checks on a stack's outputs as `pulumi stack output --json` prints them, for the kind workflow.

After a `pulumi up` on a live cluster (`.github/workflows/kind.yml`), the run counts only if
no case failed, every (path, tool) the plan measured has a figure in `throughput`, and every
E2SAR rate the plan runs has a pair in `e2sar` that completed and received events (an E2SAR
run that lost every event is no pass).
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


def e2sar_problems(plan: Plan, e2sar: Mapping[str, object]) -> list[str]:
    """One line per planned E2SAR rate that did not pass: no entry in `e2sar`, a failed pair, or no
    event received (`results.model.Results.e2sar` writes the entries, keyed '0.1 Gbps')."""
    problems = []
    for pair in plan.e2sar:
        key = f"{pair.rate_gbps:g} Gbps"
        entry = e2sar.get(key)
        if not isinstance(entry, Mapping):
            problems.append(f"no E2SAR figure: {key} ({pair.id})")
            continue
        if entry.get("ok") is not True:
            problems.append(f"E2SAR failed: {key} ({pair.id}): {entry.get('error') or 'failed'}")
            continue
        received = entry.get("events_received")
        if not _positive(received):
            sent = entry.get("events_sent")
            problems.append(f"E2SAR lost every event: {key} ({pair.id}): {received or 0} of {sent or '?'} received")
    return problems
