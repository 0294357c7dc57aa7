"""`python -m results parse FILE`, `python -m results report LOGDIR --stack NAME`, `python -m results e2sar S R`.

parse: one raw output's figures as JSON; exit 0 for any output of a known tool, even a
failed run (the JSON says ok=false and why), exit 1 with one line on stderr only when the
file is unreadable or no known tool wrote it. report: a log folder and the stack that
planned it -> results.csv (the seed's layout), results-tidy.csv, results.json and a table.
e2sar: a sender log and a receiver log (the seed's, or meshperf's) -> the E2SAR figures as JSON.
compare: `python -m results compare BASELINE CURRENT [--threshold 5] [--confidence 0.95]`,
each a results.json, a run folder or a saved `points` stack output -> a verdict per point
(faster / same / slower, `results.compare`); exit 1 when a point is slower, 2 for bad input;
with `--plot DIR` also DIR/comparison.png and .svg (`results.plots.comparison_figure`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from results.collect import collect
from results.context import kubernetes_label, run_context
from results.detect import parse_output
from results.e2sar import e2sar_figures, parse_receiver, parse_sender
from results.errors import UnknownOutputError
from results.logs import read_log_folder
from results.report_json import results_json
from results.report_table import results_table
from results.reports import write_reports
from results.version import meshperf_version


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m results", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    parse = commands.add_parser("parse", help="print one raw output's figures as JSON")
    parse.add_argument("file", type=Path, help="a raw output: iperf3 -J (3.1 or 3.12), netperf classic or omni")
    report = commands.add_parser("report", help="aggregate a log folder into reports")
    report.add_argument("logdir", type=Path, help="a log folder: raw outputs and index.tsv, as a run wrote them")
    report.add_argument("--stack", required=True, help="stack name (stacks/Pulumi.NAME.yaml) or stack file")
    report.add_argument("--out", type=Path, help="folder for the report files (default: the log folder)")
    report.add_argument("--label", help="the run's label in its reports (default: 'run RUN_ID', with the hash)")
    report.add_argument("--content-hash", help="hash of what the run's Jobs ran (Kubernetes), shown in the label")
    report.add_argument("--json", action="store_true", help="print results.json instead of the table")
    e2sar = commands.add_parser("e2sar", help="print an E2SAR sender and receiver log's figures as JSON")
    e2sar.add_argument("sender_log", type=Path, help="the sender's log (stdout and stderr)")
    e2sar.add_argument("receiver_log", type=Path, help="the receiver's log (stdout and stderr)")
    compare = commands.add_parser("compare", help="verdict per point against a baseline; exit 1 if any is slower")
    compare.add_argument("baseline", type=Path, help="results.json, a run folder, or a saved points output")
    compare.add_argument("current", type=Path, help="the run to judge, in the same forms")
    compare.add_argument("--threshold", type=float, default=5.0, help="percent change that matters (default 5)")
    compare.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    compare.add_argument("--plot", type=Path, metavar="DIR", help="also draw DIR/comparison.png and .svg")
    compare.add_argument("--json", action="store_true", help="print the verdicts as JSON instead of a table")
    args = parser.parse_args(argv)
    if args.command == "compare":
        code = _compare(args.baseline, args.current, args.threshold, args.confidence, args.json)
        if args.plot is not None and code != 2:
            _plot_comparison(args.baseline, args.current, args.plot)
        return code
    if args.command == "parse":
        return _parse(args.file)
    if args.command == "e2sar":
        return _e2sar(args.sender_log, args.receiver_log)
    return _report(args.logdir, args.stack, args.out or args.logdir, args.label, args.content_hash, args.json)


def _parse(file: Path) -> int:
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
        figures = parse_output(text)
    except OSError as exc:
        print(f"{file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except UnknownOutputError as exc:
        print(f"{file}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(figures.model_dump(mode="json", exclude_none=True), indent=2))
    return 0


def _e2sar(sender_log: Path, receiver_log: Path) -> int:
    """The seed's two logs (as its log viewer holds them, stdout and stderr together) -> figures."""
    try:
        sender = parse_sender(sender_log.read_text(encoding="utf-8", errors="replace"))
        receiver = parse_receiver(receiver_log.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        print(f"{exc.filename}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except UnknownOutputError as exc:
        print(f"not an e2sar_perf log: {exc}", file=sys.stderr)
        return 1
    figures = e2sar_figures(sender, receiver)
    print(json.dumps(figures.model_dump(mode="json", exclude_none=True), indent=2))
    return 0


def _report(
    logdir: Path, stack_name: str, out: Path, label: str | None, content_hash: str | None, as_json: bool
) -> int:
    # spec.load reads YAML: imported here so that `parse` needs nothing beyond the parsers.
    from spec.load import StackError, load_stack
    from spec.plan import build_plan

    try:
        stack = load_stack(stack_name)
        files = read_log_folder(logdir)
    except (StackError, OSError) as exc:
        print(str(exc).splitlines()[0], file=sys.stderr)
        return 1
    results = collect(build_plan(stack), files, stack=stack_name, run_id=stack.run_id)
    starts = [c.start for c in results.cases if c.start is not None]
    ends = [c.end for c in results.cases if c.end is not None]
    context = run_context(
        stack,
        stack_name=stack_name,
        label=label or kubernetes_label(stack.run_id, content_hash),
        profile="default",
        tool_versions={},  # a log folder does not say which tool versions wrote it
        kernel=None,
        cpus=None,
        meshperf_version=meshperf_version(),
        started=min(starts) if starts else None,
        ended=max(ends) if ends else None,
    )
    results = results.model_copy(update={"run": context})
    write_reports(results, out)
    print(results_json(results) if as_json else results_table(results), end="")
    return 0


def _compare(baseline: Path, current: Path, threshold: float, confidence: float, as_json: bool) -> int:
    from results.compare import (
        CompareInputError,
        compare_points,
        comparison_table,
        gate_failed,
        load_points,
        run_name,
    )

    if not 0.5 <= confidence < 1 or threshold < 0:
        print("compare: --confidence must lie in [0.5, 1) and --threshold be >= 0", file=sys.stderr)
        return 2
    try:
        before, now = load_points(baseline), load_points(current)
    except CompareInputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    comparisons = compare_points(before, now, threshold, confidence)
    names = (run_name(baseline), run_name(current))
    if as_json:
        document = {
            "baseline": names[0],
            "current": names[1],
            "threshold_pct": threshold,
            "confidence": confidence,
            "points": [c.model_dump(mode="json") for c in comparisons],
        }
        print(json.dumps(document, indent=2))
    else:
        print(comparison_table(comparisons, threshold, confidence, names), end="")
    return 1 if gate_failed(comparisons) else 0


def _plot_comparison(baseline: Path, current: Path, out: Path) -> None:
    """comparison.png and .svg of two runs (`results.plots`), from inputs `_compare` has read."""
    from results.compare import load_points
    from results.model import Results
    from results.plots import write_comparison

    def load(path: Path) -> Results:
        file = path / "results.json" if path.is_dir() else path
        try:  # a results.json: its cases and its points
            return Results.model_validate_json(file.read_text())
        except ValueError:  # a saved `points` output: the points alone
            return Results(stack=path.name, points=tuple(load_points(path)))

    paths = write_comparison(load(baseline), load(current), out)
    print(f"comparison plot: {', '.join(str(p) for p in paths)}")


if __name__ == "__main__":
    sys.exit(main())
