"""Baselines and gates: each point of a current run against the same point of a baseline.

The verdict of a point (higher figures are better: Mbit/s, transactions/s):

- both sides have n >= 2 figures: Welch's t-test on the repeats. The change is the
  difference of the means relative to the baseline's mean, with its confidence interval
  at `confidence`. **slower** when the interval lies wholly below zero (the drop is real
  at that confidence) and the change is below -`threshold_pct` (it is large enough to
  matter); **faster** likewise above; **same** otherwise (no change, or one too small or
  too uncertain to call). Rule `welch`.
- either side has a single figure: there is no spread to judge, so the threshold alone
  decides on the medians: slower below -`threshold_pct`, faster above +`threshold_pct`.
  Rule `threshold-only (n=1)`, and the table says so.
- a point with no figure on one side (not measured, or every repeat failed): **missing**.
  Missing in the current run fails the gate (a dead run is no pass) unless the caller
  allows it; missing only in the baseline (a new point) is reported and does not.

Beside Welch, throughput points with n >= 2 on both sides get the Mann-Whitney rank test's
p-value (`mann_whitney_p`, column `MW p`): throughput is not normally distributed, and a rank
test does not assume it. It is shown, not used for the verdict.

Two runs are compared only when they measured the same thing on the same setup: the same
stack, profile (quick or full), case durations, MSS points, MTU and link rate
(`not_comparable`, which names every key that differs). They are read from the `run` block of
a results.json or of saved stack outputs where it has one, else from what the results record
(the stack, the MSS points); a saved `points` output carries only its MSS points. Repeats,
tool versions, kernel, CPUs and meshperf's version may differ: that is what a comparison is for.

`gate` gives the one verdict of both front ends: failed when any point is slower, or missing
in the current run (unless allowed), or when nothing could be compared (an empty or dead
baseline or current run). `python -m results compare` exits 1 on it; the Pulumi `regressions`
output (`regressions`) lists what failed it, and is empty exactly when the gate passes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from results.context import duration_text
from results.model import PointSummary, Results
from results.points import point_summaries
from results.stats import mann_whitney, welch
from results.textable import new_table, render
from spec.model import SteadyState

Verdict = Literal["faster", "same", "slower", "missing"]
WELCH = "welch"
THRESHOLD_ONLY = "threshold-only (n=1)"
NO_CURRENT = "no figure in the current run"


class PointComparison(BaseModel):
    """One point's verdict, with what it rests on (percentages relative to the baseline)."""

    model_config = ConfigDict(frozen=True)

    key: str
    metric: str
    verdict: Verdict
    rule: str
    n_baseline: int = 0
    n_current: int = 0
    baseline: float | None = None  # the baseline's mean (welch) or median (threshold-only)
    current: float | None = None
    change_pct: float | None = None
    change_ci_low_pct: float | None = None
    change_ci_high_pct: float | None = None
    p_value: float | None = None
    mann_whitney_p: float | None = None  # throughput, n >= 2 on both sides: the rank test's two-sided p


class CompareInputError(ValueError):
    """A file that holds no results: one line naming it."""


def verdict(
    baseline: PointSummary | None, current: PointSummary | None, threshold_pct: float = 5.0, confidence: float = 0.95
) -> PointComparison:
    """The verdict on one point (see the module's rules)."""
    some = current or baseline
    assert some is not None, "a point needs at least one side"
    base: dict[str, Any] = {
        "key": some.key,
        "metric": some.metric,
        "n_baseline": baseline.n if baseline else 0,
        "n_current": current.n if current else 0,
    }
    if current is None or not current.n:
        return PointComparison(verdict="missing", rule=NO_CURRENT, **base)
    if baseline is None or not baseline.n:
        return PointComparison(verdict="missing", rule="no figure in the baseline", **base)
    if baseline.n >= 2 and current.n >= 2 and baseline.mean:
        test = welch(baseline.values, current.values, confidence)
        scale = 100 / baseline.mean
        change = test.diff * scale
        low, high = test.ci_low * scale, test.ci_high * scale
        if high < 0 and change < -threshold_pct:
            call: Verdict = "slower"
        elif low > 0 and change > threshold_pct:
            call = "faster"
        else:
            call = "same"
        return PointComparison(
            verdict=call,
            rule=WELCH,
            baseline=baseline.mean,
            current=current.mean,
            change_pct=change,
            change_ci_low_pct=low,
            change_ci_high_pct=high,
            p_value=test.p_value,
            mann_whitney_p=(
                mann_whitney(baseline.values, current.values).p_value if some.metric == "throughput_mbps" else None
            ),
            **base,
        )
    assert baseline.median is not None and current.median is not None
    if baseline.median == 0:
        return PointComparison(verdict="missing", rule="baseline figure is zero", **base)
    change = (current.median - baseline.median) / baseline.median * 100
    call = "slower" if change < -threshold_pct else "faster" if change > threshold_pct else "same"
    return PointComparison(
        verdict=call, rule=THRESHOLD_ONLY, baseline=baseline.median, current=current.median, change_pct=change, **base
    )


def compare_points(
    baseline: Sequence[PointSummary],
    current: Sequence[PointSummary],
    threshold_pct: float = 5.0,
    confidence: float = 0.95,
) -> list[PointComparison]:
    """Every point of either side, in the current run's order (then the baseline's leftovers)."""
    before = {p.key: p for p in baseline}
    now = {p.key: p for p in current}
    keys = list(dict.fromkeys([*now, *before]))
    return [verdict(before.get(k), now.get(k), threshold_pct, confidence) for k in keys]


class Gate(BaseModel):
    """The gate's verdict on a comparison: what `compare` exits with and what `regressions` exports."""

    model_config = ConfigDict(frozen=True)

    failed: bool
    nothing_to_compare: str | None = None  # why no point could be compared, when none could
    failing: tuple[PointComparison, ...] = ()  # points slower, or (unless allowed) without a current figure


def gate(comparisons: Sequence[PointComparison], allow_missing: bool = False) -> Gate:
    """The one verdict of both front ends (the CLI's exit code, Pulumi's `regressions`): failed when a
    point is slower, when one has no figure in the current run (unless allowed), and when nothing
    could be compared at all (an empty or dead baseline or current run: no figure is no pass)."""
    failing = tuple(c for c in comparisons if c.verdict == "slower" or (c.rule == NO_CURRENT and not allow_missing))
    nothing: str | None = None
    if not any(c.verdict in ("faster", "same", "slower") for c in comparisons):
        has_before = any(c.n_baseline for c in comparisons)
        has_now = any(c.n_current for c in comparisons)
        nothing = (
            "neither run has a figure"
            if not has_before and not has_now
            else "the baseline has no figure"
            if not has_before
            else "the current run has no figure"
            if not has_now
            else "no point has a figure in both runs"
        )
    return Gate(failed=bool(failing) or nothing is not None, nothing_to_compare=nothing, failing=failing)


def gate_failed(comparisons: Sequence[PointComparison], allow_missing: bool = False) -> bool:
    """Any point slower, or (unless allowed) without a figure in the current run, or nothing compared (`gate`)."""
    return gate(comparisons, allow_missing).failed


class RunFacts(BaseModel):
    """What two runs must share to be compared (the `run` block keys of docs/lab.md); None where an
    input does not record it. `link_rate` None with `has_run`: the run was unshaped."""

    model_config = ConfigDict(frozen=True)

    has_run: bool = False  # the input has a `run` block (a lab's results.json, saved stack outputs)
    stack: str | None = None
    profile: str | None = None
    durations: dict[str, float | SteadyState] | None = None  # seconds, or how a steady-state case stops
    mss: tuple[int, ...] | None = None
    mtu: int | None = None
    link_rate: str | None = None


def stack_name(name: str) -> str:
    """'stacks/Pulumi.kind-mesh.yaml' and 'kind-mesh' name the same stack."""
    base = name.rsplit("/", 1)[-1]
    for suffix in (".yaml", ".yml"):
        base = base.removesuffix(suffix)
    return base.removeprefix("Pulumi.")


def run_facts(data: object, points: Sequence[PointSummary]) -> RunFacts:
    """From a results.json's `run` block where present, else from its stack and MSS points (or the points')."""
    block = data.get("run") if isinstance(data, dict) else None
    run = block if isinstance(block, dict) else {}
    mss = run.get("mss") or (data.get("mss_points") if isinstance(data, dict) else None)
    if not mss:
        mss = sorted({p.mss for p in points if p.mss is not None})
    durations = run.get("durations")
    stack = run.get("stack") or (data.get("stack") if isinstance(data, dict) else None)
    mtu = run.get("mtu")
    return RunFacts(
        has_run=bool(run),
        stack=stack_name(str(stack)) if stack else None,
        profile=run.get("profile"),
        durations=(
            {str(k): SteadyState.model_validate(v) if isinstance(v, dict) else float(v) for k, v in durations.items()}
            if isinstance(durations, dict)
            else None
        ),
        mss=tuple(sorted({int(m) for m in mss})) or None,
        mtu=int(mtu) if mtu is not None else None,
        link_rate=str(run["link_rate"]) if run.get("link_rate") else None,
    )


def not_comparable(baseline: RunFacts, current: RunFacts) -> str | None:
    """One line naming every key the two runs must share and do not (baseline / current), or None."""
    differ: list[str] = []
    for key in ("stack", "profile", "mtu"):
        before, now = getattr(baseline, key), getattr(current, key)
        if before is not None and now is not None and before != now:
            differ.append(f"{key} {before} / {now}")
    if baseline.has_run and current.has_run and baseline.link_rate != current.link_rate:
        differ.append(f"link_rate {baseline.link_rate or 'unshaped'} / {current.link_rate or 'unshaped'}")
    if baseline.durations is not None and current.durations is not None:
        for tool in sorted(baseline.durations.keys() | current.durations.keys()):
            before, now = baseline.durations.get(tool), current.durations.get(tool)
            if before is not None and now is not None and before != now:
                differ.append(f"durations.{tool} {duration_text(before)} / {duration_text(now)}")
    if baseline.mss is not None and current.mss is not None and baseline.mss != current.mss:
        differ.append(f"mss {list(baseline.mss)} / {list(current.mss)}")
    if not differ:
        return None
    return "keys that differ (baseline / current): " + "; ".join(differ)


NOTHING_TO_COMPARE = "nothing to compare"


def regressions(comparisons: Sequence[PointComparison]) -> list[dict[str, Any]]:
    """The `regressions` stack output, from `gate`: empty exactly when the CLI's gate passes. The
    failing points as plain data, or one entry with verdict 'nothing to compare' and why."""
    verdict_ = gate(comparisons)
    if verdict_.nothing_to_compare is not None:
        return [{"key": "*", "verdict": NOTHING_TO_COMPARE, "rule": verdict_.nothing_to_compare}]
    return [c.model_dump(mode="json") for c in verdict_.failing]


def points_from_data(data: object, where: str = "input") -> list[PointSummary]:
    """Point summaries from a Results dump, a `{"points": [...]}` mapping or a bare list of points."""
    try:
        if isinstance(data, list):
            return [PointSummary.model_validate(p) for p in data]
        if isinstance(data, dict) and "cases" in data:
            results = Results.model_validate(data)
            return list(results.points or point_summaries(results.cases))
        if isinstance(data, dict) and "points" in data:
            return [PointSummary.model_validate(p) for p in data["points"]]
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"])
        raise CompareInputError(f"{where}: not meshperf results ({at}: {first['msg']})") from None
    raise CompareInputError(f"{where}: not meshperf results (no cases or points)")


def load_points(path: Path) -> list[PointSummary]:
    """The points of a results.json, a run folder holding one, or a saved `points` stack output."""
    return load_run(path)[0]


def load_run(path: Path) -> tuple[list[PointSummary], RunFacts]:
    """The points of a run (as `load_points`) and what makes it comparable (`run_facts`)."""
    file = path / "results.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise CompareInputError(f"{file}: no such file") from None
    except OSError as exc:
        raise CompareInputError(f"{file}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CompareInputError(f"{file}: not JSON ({exc})") from None
    points = points_from_data(data, str(file))
    try:
        return points, run_facts(data, points)
    except (TypeError, ValueError, ValidationError) as exc:
        raise CompareInputError(f"{file}: run: {str(exc).splitlines()[0]}") from None


def run_name(path: Path) -> str:
    """How compare names a run: its run block's label, else stack and run id, else the file's name."""
    file = path / "results.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return file.name
    if isinstance(data, dict):
        run = data.get("run")
        if isinstance(run, dict) and run.get("label"):
            return f"{run.get('stack', '?')} {run['label']}"
        if data.get("stack") or data.get("run_id"):
            return f"{data.get('stack') or '?'} run {data.get('run_id') or '?'}"
    return str(file)


COMPARE_COLUMNS = ("point", "n b/c", "baseline", "current", "change %", "CI of change %", "p", "MW p", "verdict")


def comparison_table(
    comparisons: Sequence[PointComparison], threshold_pct: float, confidence: float, names: tuple[str, str] = ("", "")
) -> str:
    """The verdicts as text (columns laid out by rich, `results.textable`); `names` (baseline, current) head it."""
    table = new_table(*COMPARE_COLUMNS)
    table.columns[-1].justify = "left"  # words, not figures
    for c in comparisons:
        ci = (
            f"[{c.change_ci_low_pct:+.1f}, {c.change_ci_high_pct:+.1f}]"
            if c.change_ci_low_pct is not None and c.change_ci_high_pct is not None
            else "-"
        )
        note = "" if c.rule == WELCH else f" ({c.rule})"
        table.add_row(
            c.key,
            f"{c.n_baseline}/{c.n_current}",
            _num(c.baseline),
            _num(c.current),
            _num(c.change_pct, "+.1f"),
            ci,
            _num(c.p_value, ".3f"),
            _num(c.mann_whitney_p, ".3f"),
            f"{c.verdict}{note}",
        )
    lines = [
        f"meshperf compare: threshold {threshold_pct:g} %, confidence {confidence:g}",
        f"baseline: {names[0] or '-'}",
        f"current:  {names[1] or '-'}",
        "",
        render(table).rstrip("\n"),
    ]
    counts = {v: sum(c.verdict == v for c in comparisons) for v in ("slower", "same", "faster", "missing")}
    lines += ["", ", ".join(f"{n} {v}" for v, n in counts.items())]
    if any(c.mann_whitney_p is not None for c in comparisons):
        lines.append("p: Welch's t-test (the verdict's); MW p: Mann-Whitney rank test, shown beside it for throughput")
    return "\n".join(lines) + "\n"


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)
