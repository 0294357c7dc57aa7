"""`python -m netlab up -s STACK [--quick] [--host-baseline]`: run a stack's suites in a network-namespace lab.

`python -m netlab clean` removes what a killed run (kill -9) may have left behind.
`python -m netlab rootfs` builds the tool image's root filesystem into its cache (netlab/rootfs.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from netlab.e2sar import lab_token
from netlab.namespaces import LabError, list_namespaces, orphaned_labs, release, remove_namespaces
from netlab.rootfs import PACKAGES_FILE, image_userland
from netlab.run import run_lab
from results.model import Results
from results.report_e2sar import e2sar_table
from results.report_table import results_table
from results.reports import OutputFolderError, ensure_writable_folder
from spec.load import StackError, load_stack, stack_name
from spec.profiles import quick, with_host_baseline

DEFAULT_STACK = "kind-mesh"
LAB_NS_RE = re.compile(r"^(mp[0-9a-f]{6})-")


def _say(line: str) -> None:
    print(line, flush=True)


def _bar() -> Progress:
    """rich's progress bar: cases done, time elapsed and an estimate of the time left."""
    return Progress(
        TextColumn("cases"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        transient=True,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m netlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build the lab, run the stack's suites, write the results, remove the lab")
    up.add_argument("-s", "--stack", default=DEFAULT_STACK, help=f"stack name or file (default {DEFAULT_STACK})")
    up.add_argument("--quick", action="store_true", help="two MSS points and 1 s cases: about a minute")
    up.add_argument(
        "--host-baseline",
        action="store_true",
        help="add the host-network paths (host-same, host-remote, host-remote-cluster) and pod/host ratios",
    )
    up.add_argument("-q", "--quiet", action="store_true", help="no line per case: only the table and the run folder")
    up.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run folders go (default runs/)")
    sub.add_parser("clean", help="remove lab namespaces and their processes left by a killed run")
    rootfs = sub.add_parser("rootfs", help="build (or find) the tool image's root filesystem in the cache")
    rootfs.add_argument("--packages", type=Path, default=PACKAGES_FILE, help="package list (default images/)")
    return parser


async def _up(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack)
    if args.host_baseline:
        stack = with_host_baseline(stack)
    if args.quick:
        stack = quick(stack)
    ensure_writable_folder(args.runs_dir, "--runs-dir")
    if stack.suites.e2sar.enabled:
        lab_token(os.environ)  # a token the URI cannot carry is bad input, before anything is built
    name = stack_name(args.stack)
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    profile = "quick" if args.quick else "default"
    if sys.stdout.isatty():  # a live bar under the case lines; plain lines (for logs) otherwise
        with _bar() as bar:
            cases = bar.add_task("cases", total=None)

            def say(line: str) -> None:
                bar.console.print(line, markup=False, highlight=False, soft_wrap=True)

            def advance(done: int, total: int) -> None:
                bar.update(cases, completed=done, total=total)

            outcome = await run_lab(stack, name, args.runs_dir, say, profile, advance, not args.quiet)
    else:
        outcome = await run_lab(stack, name, args.runs_dir, _say, profile, case_lines=not args.quiet)
    _say("")
    _say(results_table(outcome.results))
    if e2sar := e2sar_table(outcome.results):
        _say(e2sar)
    for warning in outcome.warnings:
        _say(f"warning: {warning}")
    failures = outcome.results.failures()
    # A skipped E2SAR suite (no e2sar_perf here) is said once and recorded, not a failure of the run.
    failures |= {k: v for k, v in outcome.results.e2sar_failures().items() if not _skipped(outcome.results, k)}
    if failures:
        _say(f"{len(failures)} of {len(outcome.results.cases)} cases failed: see results.json for why")
    _say(f"run folder: {outcome.folder}")
    if outcome.interrupted:
        return 130
    return 1 if failures else 0


def _skipped(results: Results, case_id: str) -> bool:
    return any(r.case_id == case_id and r.skipped for r in results.e2sar_cases)


def _clean() -> int:
    prefixes = {m[1] for ns in list_namespaces() if (m := LAB_NS_RE.match(ns))}
    orphans = orphaned_labs(prefixes)
    removed = [ns for prefix in orphans for ns in remove_namespaces(prefix)]
    for prefix in orphans:
        release(prefix)
    running = len(prefixes) - len(orphans)
    _say(f"removed {len(removed)} lab namespaces" + (f": {', '.join(removed)}" if removed else ""))
    if running:
        _say(f"left {running} lab(s) alone: their runs are still going")
    return 0


def _rootfs(packages: Path) -> int:
    userland = image_userland(packages, say=_say)
    _say(userland.root if userland.kind == "image" else f"not built: {userland.reason}")
    return 0 if userland.kind == "image" else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if os.geteuid() != 0:
        print("netlab: network namespaces need root (run as root)", file=sys.stderr)
        return 2
    try:
        if args.command == "clean":
            return _clean()
        if args.command == "rootfs":
            return _rootfs(args.packages)
        return asyncio.run(_up(args))
    except (StackError, LabError, OutputFolderError) as exc:
        print(f"netlab: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("netlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
