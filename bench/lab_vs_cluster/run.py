"""bench/lab_vs_cluster: the lab's fidelity to a real Kubernetes data path (issue 20, item 4).

In one sitting, one short profile of stacks/Pulumi.live-two-nodes.yaml (paths 1-5 and the host
baseline 7-8; one MSS, 1376; iperf3 TCP and UDP, netperf TCP_STREAM and TCP_RR; N s a case, no
steady state) runs in the lab (`netlab.run.run_lab`) and on a real local cluster (`localcluster`,
named lvbench) through the real `pulumi up`, with local state in a temporary folder. Both sides
read the same stack file (the project copy's, after its `pulumi config set` lines), so they run
the same plan and the same rendered objects; both sides' figures are the per-point summaries that
the same results/ code computes (the lab's `Results.points`, the stack output `points`).

The runs come in pairs whose order alternates (lab then cluster, then cluster then lab), so that
drift in the machine favours neither side; a point's ratio is the median over pairs of lab / cluster.
Prints per tool and path the lab's figure, the cluster's and lab/cluster, and a median per tool;
exits 1 when a point has no figure on either side. The stack is destroyed and the cluster stopped
on every exit path (errors, Ctrl-C, SIGTERM). Needs root and the live tools
(`sh scripts/live-tools.sh`); not run by the test suite.

    .venv/bin/python bench/lab_vs_cluster/run.py [--pairs 2] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "live"))  # the live tier's helpers: the real CLI, local state

# tests/live is no package that mypy checks: its helpers are typed, but seen from here as untyped.
from liveflow import (  # type: ignore[import-not-found]  # noqa: E402
    Pulumi,
    ToolsNotBuiltError,
    bin_dir,
    point_at,
    start_stack,
    tools_env,
)

from bench.lab_vs_cluster.ratios import Pair, exit_code, pair_rows, table  # noqa: E402
from localcluster import down  # noqa: E402
from localcluster.config import ClusterSpec, from_stack  # noqa: E402
from localcluster.up import up  # noqa: E402
from netlab.run import run_lab  # noqa: E402
from results.model import PointSummary  # noqa: E402
from spec.load import load_stack  # noqa: E402
from spec.model import Stack  # noqa: E402
from spec.plan import build_plan  # noqa: E402

STACK = "live-two-nodes"
NAME = "lvbench"  # the local cluster's own name: its run folder, namespaces and context are its own
MSS = 1376
UP_S = 900.0
DESTROY_S = 600.0


def say(line: str) -> None:
    print(f"bench: {line}", flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM and SIGHUP as Ctrl-C: the finally blocks destroy the stack and stop the cluster."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def configure(pulumi: Pulumi, spec: ClusterSpec, cluster: str, seconds: int) -> None:
    """The README's `pulumi config set` lines for this cluster, and the short profile."""
    point_at(pulumi, 0, cluster, spec)
    pulumi.config_set("meshperf:suites.netperf.mss", str(MSS))
    pulumi.config_set("meshperf:suites.netperf.duration_s", str(seconds))
    pulumi.run("config", "rm", "--path", "meshperf:suites.netperf.steady_state", timeout_s=60, label="config rm")


def lab_points(stack: Stack, runs: Path) -> list[PointSummary]:
    started = time.monotonic()
    outcome = asyncio.run(run_lab(stack, STACK, runs, say=lambda line: print(f"lab: {line}", flush=True)))
    if outcome.interrupted:
        raise KeyboardInterrupt("lab interrupted")
    failures = outcome.results.failures()
    say(f"lab run done in {time.monotonic() - started:.0f} s, {len(failures)} failed, {outcome.folder}")
    for case, why in failures.items():
        say(f"  lab failed {case}: {why}")
    return list(outcome.results.points)


@contextlib.contextmanager
def heartbeat(what: str, every_s: float = 30.0) -> Iterator[None]:
    """A line every `every_s` while `what` runs (pulumi's own output of the up is kept out: hundreds of lines)."""
    started, done = time.monotonic(), threading.Event()

    def beat() -> None:
        while not done.wait(every_s):
            say(f"{what}: {time.monotonic() - started:.0f} s, {_load()}")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


def cluster_points(pulumi: Pulumi) -> list[PointSummary]:
    started = time.monotonic()
    with heartbeat("pulumi up running"):
        pulumi.run("up", "--yes", timeout_s=UP_S, label="up", show_stdout=False)
    failures = pulumi.output("failures")
    points = [PointSummary.model_validate(p) for p in pulumi.output("points")]
    say(f"cluster run (pulumi up) done in {time.monotonic() - started:.0f} s, {len(failures)} failed")
    for case, why in failures.items():
        say(f"  cluster failed {case}: {why}")
    return points


def measure(pairs: int, seconds: int, tmp: Path, tools: dict[str, str]) -> list[Pair]:
    """The cluster up, the stack made, `pairs` pairs measured; the stack destroyed and the cluster
    stopped whatever happens."""
    live = from_stack(STACK)
    spec = live.renamed({live.name: NAME})
    pulumi: Pulumi | None = None
    made = False
    measured: list[Pair] = []
    try:
        took = up(spec, bin_dir=bin_dir(tools), say=lambda line: print(f"cluster: {line}", flush=True))
        say(f"cluster {NAME} up in {took:.0f} s")
        pulumi = start_stack(tmp, STACK, tools)
        configure(pulumi, spec, live.name, seconds)
        stack_file = pulumi.project / "stacks" / f"Pulumi.{STACK}.yaml"
        for i in range(pairs):
            pulumi.config_set("meshperf:run_id", str(i + 1), path=False)
            stack = load_stack(str(stack_file))  # the file `pulumi up` reads: the same plan on both sides
            plan = build_plan(stack)
            tools_run = sorted({c.tool for c in plan.cases})
            paths = sorted({int(c.path) for c in plan.cases})
            say(
                f"pair {i + 1}/{pairs}: {len(plan.cases)} cases (paths {paths}, {', '.join(tools_run)}, "
                f"{seconds} s each), {_load()}"
            )
            lab: list[PointSummary] = []
            cluster: list[PointSummary] = []
            for side in ("lab", "cluster") if i % 2 == 0 else ("cluster", "lab"):
                say(f"pair {i + 1}/{pairs}: {side}")
                if side == "lab":
                    lab = lab_points(stack, tmp / "runs")
                else:
                    made = True
                    cluster = cluster_points(pulumi)
            measured.append((lab, cluster))
            print(table(pair_rows([(lab, cluster)])), flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the clean-up runs to its end (each step is bounded)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if pulumi is not None and made:
            say("destroying the stack")
            pulumi.run("destroy", "--yes", timeout_s=DESTROY_S, label="destroy", check=False, show_stdout=False)
        left = down.teardown(spec.run_dir, spec.name, say=lambda line: print(f"cluster: {line}", flush=True))
        if left:
            say(f"could not remove: {', '.join(left)}")
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2, help="lab and cluster runs, in alternating order (default 2)")
    parser.add_argument("--seconds", type=int, default=3, help="each case's duration (default 3)")
    args = parser.parse_args()
    if args.pairs < 1 or args.seconds < 1:
        print("error: --pairs and --seconds must be at least 1", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("error: the local cluster and the lab need root", file=sys.stderr)
        return 2
    try:
        tools = tools_env()
    except ToolsNotBuiltError as exc:
        print(f"error: the live tools are not built ({exc}); build them: sh scripts/live-tools.sh", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    started = time.monotonic()
    say(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, {_load()}")
    tmp = Path(tempfile.mkdtemp(prefix="meshperf-lvbench-"))
    try:
        pairs = measure(args.pairs, args.seconds, tmp, tools)
    except KeyboardInterrupt as exc:
        print(f"bench: interrupted ({exc or 'Ctrl-C'}): stack destroyed, cluster stopped", file=sys.stderr)
        return 130
    except AssertionError as exc:  # a pulumi command failed or ran out of time (liveflow)
        print(f"error: {str(exc).splitlines()[0] if str(exc) else 'failed'}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = pair_rows(pairs)
    print(f"\nlab/cluster over {len(pairs)} pairs (MSS {MSS}, {args.seconds} s a case), {_load()}:")
    print(table(rows))
    say(f"done in {time.monotonic() - started:.0f} s")
    json_rows = [{**r.__dict__, "path": int(r.path)} for r in rows]
    say("rows as JSON: " + json.dumps(json_rows))
    return exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
