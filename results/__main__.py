"""`python -m results parse FILE`, `python -m results report LOGDIR --stack NAME`, `python -m results e2sar S R`.

parse: one raw output's figures as JSON; exit 0 for any output of a known tool, even a
failed run (the JSON says ok=false and why). report: a log folder and the stack that
planned it -> results.csv (the seed's layout), results-tidy.csv, results.json and a table;
exit 1 when a case failed. e2sar: a sender log and a receiver log (the seed's, or
meshperf's) -> the E2SAR figures as JSON. compare: `python -m results compare BASELINE
CURRENT [--threshold 5] [--confidence 0.95]`, each a results.json, a run folder or a saved
`points` stack output -> a verdict per point (`results.compare`); exit 1 when a point is
slower or missing in the current run; with `--plot DIR` also DIR/comparison.png and .svg;
`--json` prints the verdicts (and `report --json` results.json) instead of a table.
check-outputs: a live run's `throughput`, `failures` and (when the stack runs E2SAR) `e2sar`
outputs (the kind workflow) -> exit 1 when a case failed, a (path, tool) of the plan has no
figure, or an E2SAR rate failed or received no event.

Exit codes (docs/results.md's table): 0 done, 1 a measurement failed or the gate failed, 2 bad
input (one line on stderr naming the file or option).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from results.collect import collect
from results.context import RunContext, kubernetes_label, run_context, with_logged_facts
from results.detect import parse_output
from results.e2sar import e2sar_figures, parse_receiver, parse_sender
from results.errors import UnknownOutputError
from results.logs import log_census, read_log_folder
from results.report_json import results_json
from results.report_table import results_table
from results.reports import OutputFolderError, ensure_writable_folder, write_reports
from results.version import meshperf_version

BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m results", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    parse = commands.add_parser("parse", help="print one raw output's figures as JSON")
    parse.add_argument("file", type=Path, help="a raw output: iperf3 -J (3.1 or 3.12), netperf classic or omni")
    report = commands.add_parser("report", help="aggregate a log folder into reports")
    report.add_argument("logdir", type=Path, help="a log folder: raw outputs and index.tsv, as a run wrote them")
    report.add_argument("--stack", required=True, help="stack name (stacks/Pulumi.NAME.yaml) or stack file")
    report.add_argument(
        "--out", type=Path, help="folder for the report files (default: LOGDIR/../report, never the log folder)"
    )
    report.add_argument("--label", help="the run's label in its reports (default: 'run RUN_ID', with the hash)")
    report.add_argument("--content-hash", help="hash of what the run's Jobs ran (Kubernetes), shown in the label")
    report.add_argument("--json", action="store_true", help="print results.json instead of the table")
    report.add_argument(
        "--ignore-unplanned",
        action="store_true",
        help="leave out logs of cases the stack does not plan (another stack's run) instead of refusing",
    )
    e2sar = commands.add_parser("e2sar", help="print an E2SAR sender and receiver log's figures as JSON")
    e2sar.add_argument("sender_log", type=Path, help="the sender's log (stdout and stderr)")
    e2sar.add_argument("receiver_log", type=Path, help="the receiver's log (stdout and stderr)")
    compare = commands.add_parser("compare", help="verdict per point against a baseline; exit 1 if any is slower")
    compare.add_argument("baseline", type=Path, help="results.json, a run folder, or a saved points output")
    compare.add_argument("current", type=Path, help="the run to judge, in the same forms")
    compare.add_argument("--threshold", type=float, default=5.0, help="percent change that matters (default 5)")
    compare.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    compare.add_argument("--plot", type=Path, metavar="DIR", help="also draw DIR/comparison.png and .svg")
    compare.add_argument(
        "--allow-missing", action="store_true", help="a point without a figure in the current run does not fail"
    )
    compare.add_argument(
        "--force",
        action="store_true",
        help="compare runs whose run blocks differ (stack, profile, durations, MSS, MTU, rate)",
    )
    compare.add_argument("--json", action="store_true", help="print the verdicts as JSON instead of a table")
    outputs = commands.add_parser("check-outputs", help="a live run's stack outputs: no failure, every path measured")
    outputs.add_argument("--stack", required=True, help="stack name (stacks/Pulumi.NAME.yaml) or stack file")
    outputs.add_argument("throughput", type=Path, help="`pulumi stack output throughput --json` saved to a file")
    outputs.add_argument("failures", type=Path, help="`pulumi stack output failures --json` saved to a file")
    outputs.add_argument(
        "e2sar",
        type=Path,
        nargs="?",
        help="`pulumi stack output e2sar --json` saved to a file (needed when the stack runs E2SAR)",
    )
    args = parser.parse_args(argv)
    if args.command == "check-outputs":
        return _check_outputs(args.stack, args.throughput, args.failures, args.e2sar)
    if args.command == "compare":
        if args.plot is not None and (problem := _folder_problem(args.plot, "--plot")):
            return problem
        code = _compare(args)
        if args.plot is not None and code != BAD_INPUT:
            _plot_comparison(args.baseline, args.current, args.plot)
        return code
    if args.command == "parse":
        return _parse(args.file)
    if args.command == "e2sar":
        return _e2sar(args.sender_log, args.receiver_log)
    return _report(
        args.logdir,
        args.stack,
        args.out or default_report_folder(args.logdir),
        args.label,
        args.content_hash,
        args.json,
        args.ignore_unplanned,
    )


def _say(text: str) -> None:
    """Print to stdout; a reader that went away (`| head`) silences the rest, it is no crash."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _bad(line: str) -> int:
    print(line, file=sys.stderr)
    return BAD_INPUT


def _folder_problem(folder: Path, option: str) -> int | None:
    try:
        ensure_writable_folder(folder, option)
    except OutputFolderError as exc:
        return _bad(str(exc))
    return None


def _parse(file: Path) -> int:
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
        figures = parse_output(text)
    except OSError as exc:
        return _bad(f"{file}: cannot read: {exc.strerror or exc}")
    except UnknownOutputError as exc:
        return _bad(f"{file}: {exc}")
    _say(json.dumps(figures.model_dump(mode="json", exclude_none=True), indent=2) + "\n")
    return 0


def _e2sar(sender_log: Path, receiver_log: Path) -> int:
    """The seed's two logs (as its log viewer holds them, stdout and stderr together) -> figures."""
    try:
        text = sender_log.read_text(encoding="utf-8", errors="replace")
        sender = parse_sender(text)
    except (OSError, UnknownOutputError) as exc:
        return _bad(_not_e2sar(sender_log, "sender", exc))
    try:
        text = receiver_log.read_text(encoding="utf-8", errors="replace")
        receiver = parse_receiver(text)
    except (OSError, UnknownOutputError) as exc:
        return _bad(_not_e2sar(receiver_log, "receiver", exc))
    figures = e2sar_figures(sender, receiver)
    _say(json.dumps(figures.model_dump(mode="json", exclude_none=True), indent=2) + "\n")
    return 0


def _not_e2sar(log: Path, role: str, exc: OSError | UnknownOutputError) -> str:
    if isinstance(exc, OSError):
        return f"{log}: cannot read: {exc.strerror or exc}"
    return f"{log}: not an e2sar_perf {role} log: {exc}"


def default_report_folder(logdir: Path) -> Path:
    """Reports go beside the log folder, not into it: pods write the log folder (issue 23)."""
    return logdir.resolve().parent / "report"


def _report(
    logdir: Path,
    stack_name: str,
    out: Path,
    label: str | None,
    content_hash: str | None,
    as_json: bool,
    ignore_unplanned: bool = False,
) -> int:
    # spec.load reads YAML: imported here so that `parse` needs nothing beyond the parsers.
    from spec.load import StackError, load_stack
    from spec.plan import build_plan

    try:
        stack = load_stack(stack_name)
        files = read_log_folder(logdir)
    except (StackError, OSError) as exc:
        return _bad(str(exc).splitlines()[0])
    plan = build_plan(stack)
    census = log_census(plan, files)
    unplanned = (
        f"logs of {len(census.unplanned_cases)} cases that stack {stack_name} does not plan"
        f" (e.g. {census.unplanned_example})"
    )
    if not census.planned:
        # Nothing of the plan to read: a report now would call every case failed (and replace
        # good reports with that), so nothing is written.
        found = f"; it holds {unplanned}" if census.unplanned_cases else ""
        return _bad(f"no raw logs in {logdir}: no <case-id>.<ext> of a case stack {stack_name} plans{found}")
    if census.unplanned_cases and not ignore_unplanned:
        return _bad(f"{logdir}: {unplanned}: report with the stack that ran them, or --ignore-unplanned")
    if problem := _folder_problem(out, "--out"):
        return problem
    if census.unplanned_cases:
        print(f"{logdir}: left out {unplanned} (--ignore-unplanned)", file=sys.stderr)
    results = collect(
        plan,
        files,
        stack=stack_name,
        run_id=stack.run_id,
        e2sar_network_policies=stack.suites.e2sar.network_policies,
    )
    context = run_context(
        stack,
        stack_name=stack_name,
        label=label or kubernetes_label(stack.run_id, content_hash),
        profile="default",
        tool_versions={},  # known only where the Jobs logged them (env-*.tsv)
        kernel=None,
        cpus=None,
        meshperf_version=meshperf_version(),
    )
    context = with_logged_facts(
        context,
        files,
        (c.start for c in results.cases if c.start is not None),
        (c.end for c in results.cases if c.end is not None),
    )
    results = results.model_copy(update={"run": context})
    write_reports(results, out)
    _say(results_json(results) if as_json else results_table(results))
    failed = len(results.failures()) + len(results.e2sar_failures())
    if failed:
        print(f"{failed} cases failed: see {out / 'results.json'} for why", file=sys.stderr)
    return 1 if failed else 0


def _check_outputs(stack_name: str, throughput_file: Path, failures_file: Path, e2sar_file: Path | None) -> int:
    from results.stack_outputs import e2sar_problems, missing_throughput
    from spec.load import StackError, load_stack
    from spec.plan import build_plan

    try:
        plan = build_plan(load_stack(stack_name))
    except StackError as exc:
        return _bad(str(exc).splitlines()[0])
    if plan.e2sar and e2sar_file is None:
        return _bad(f"check-outputs: stack {stack_name} runs E2SAR: give its `e2sar` output as a third file")
    documents: list[dict[str, object]] = []
    for file in (throughput_file, failures_file, *([e2sar_file] if e2sar_file is not None else [])):
        try:
            document = json.loads(file.read_text())
        except OSError as exc:
            return _bad(f"{file}: cannot read: {exc.strerror or exc}")
        except ValueError as exc:
            return _bad(f"{file}: not JSON ({exc})")
        if not isinstance(document, dict):
            return _bad(f"{file}: must hold a JSON object (a stack output saved with --json)")
        documents.append(document)
    throughput, failures = documents[0], documents[1]
    missing = missing_throughput(plan, throughput)
    e2sar = e2sar_problems(plan, documents[2]) if plan.e2sar else []
    for case_id, why in failures.items():
        print(f"failed: {case_id}: {why}", file=sys.stderr)
    for label in missing:
        print(f"no figure: {label}", file=sys.stderr)
    for problem in e2sar:
        print(problem, file=sys.stderr)
    summary = f"{len(failures)} failures, {len(missing)} paths without a figure"
    if plan.e2sar:
        summary += f", {len(e2sar)} of {len(plan.e2sar)} E2SAR rates failed"
    _say(summary + "\n")
    return 1 if failures or missing or e2sar else 0


def _compare(args: argparse.Namespace) -> int:
    from results.compare import CompareInputError, compare_points, comparison_table, gate, load_run, run_name
    from results.compare import not_comparable as differs

    if not 0.5 <= args.confidence < 1 or not 0 <= args.threshold < float("inf"):
        return _bad("compare: --confidence must lie in [0.5, 1) and --threshold be >= 0")
    try:
        (before, before_facts), (now, now_facts) = load_run(args.baseline), load_run(args.current)
    except CompareInputError as exc:
        return _bad(str(exc))
    if not args.force and (difference := differs(before_facts, now_facts)):
        return _bad(f"compare: not comparable: {difference} (--force compares them anyway)")
    comparisons = compare_points(before, now, args.threshold, args.confidence)
    verdict = gate(comparisons, args.allow_missing)
    names = (run_name(args.baseline), run_name(args.current))
    if args.json:
        document = {
            "baseline": names[0],
            "current": names[1],
            "threshold_pct": args.threshold,
            "confidence": args.confidence,
            "gate_failed": verdict.failed,
            "nothing_to_compare": verdict.nothing_to_compare,
            "points": [c.model_dump(mode="json") for c in comparisons],
        }
        _say(json.dumps(document, indent=2) + "\n")
    else:
        _say(comparison_table(comparisons, args.threshold, args.confidence, names))
    if verdict.nothing_to_compare is not None:
        print(f"compare: nothing to compare: {verdict.nothing_to_compare}", file=sys.stderr)
    return 1 if verdict.failed else 0


def _plot_comparison(baseline: Path, current: Path, out: Path) -> None:
    """comparison.png and .svg of two runs (`results.plots`), from inputs `_compare` has read."""
    from results.compare import load_points
    from results.model import Results
    from results.plots import write_comparison

    def load(path: Path) -> Results:
        file = path / "results.json" if path.is_dir() else path
        text = file.read_text()
        try:  # a results.json: its cases and its points
            return Results.model_validate_json(text)
        except ValueError:  # saved stack outputs (their points, and the run block), or a `points` output
            data = json.loads(text)
            run = data.get("run") if isinstance(data, dict) else None
            try:
                context = RunContext.model_validate(run) if isinstance(run, dict) else None
            except ValueError:
                context = None
            stack = context.stack if context is not None else path.name
            return Results(stack=stack, run=context, points=tuple(load_points(path)))

    paths = write_comparison(load(baseline), load(current), out)
    _say(f"comparison plot: {', '.join(str(p) for p in paths)}\n")


if __name__ == "__main__":
    sys.exit(main())
