"""`python -m results parse FILE` and `python -m results report LOGDIR --stack NAME`.

parse: one raw output's figures as JSON; exit 0 for any output of a known tool, even a
failed run (the JSON says ok=false and why), exit 1 with one line on stderr only when the
file is unreadable or no known tool wrote it. report: a log folder and the stack that
planned it -> results.csv (the seed's layout), results-tidy.csv, results.json and a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from results.collect import collect
from results.detect import parse_output
from results.errors import UnknownOutputError
from results.logs import read_log_folder
from results.report_table import results_table
from results.reports import write_reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m results", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    parse = commands.add_parser("parse", help="print one raw output's figures as JSON")
    parse.add_argument("file", type=Path)
    report = commands.add_parser("report", help="aggregate a log folder into reports")
    report.add_argument("logdir", type=Path)
    report.add_argument("--stack", required=True, help="stack name (stacks/Pulumi.NAME.yaml) or stack file")
    report.add_argument("--out", type=Path, help="folder for the report files (default: the log folder)")
    args = parser.parse_args(argv)
    if args.command == "parse":
        return _parse(args.file)
    return _report(args.logdir, args.stack, args.out or args.logdir)


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


def _report(logdir: Path, stack_name: str, out: Path) -> int:
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
    write_reports(results, out)
    print(results_table(results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
