"""bench/matrix_time: the seed matrix seed-style (fixed 10 s per point) and with steady-state stopping.

On one lab, in one run: every client's cases run twice, once as the seed runs them (every
case for a fixed `--seconds`) and once with `steady_state` on the iperf3 TCP sweep (stop
when the running mean has settled; the fixed-duration tools, iperf3 UDP and netperf, run
`--other-seconds`). The two halves alternate case by case (and which goes first
alternates), so that drift in the machine's load falls on both alike. Prints the wall-time ratio
steady / seed and the median absolute relative difference between the two sets of
figures (every throughput point, and TCP_RR transactions/s). Goals: ratio <= 0.25 and
median difference <= 3 %.

    .venv/bin/python bench/matrix_time/run.py                     # the full matrix (~35 min)
    .venv/bin/python bench/matrix_time/run.py --mss 96,1376 --paths 1,6 --seconds 3   # a try
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from netlab.lab import Lab
from results.collect import collect
from results.logs import read_log_folder
from results.model import Results
from spec.load import load_stack
from spec.model import NetPath, Stack, SteadyState
from spec.plan import Plan, build_plan
from spec.runner import runner_script

TIME_GOAL, DIFF_GOAL = 0.25, 0.03


def _stacks(args: argparse.Namespace) -> tuple[Stack, Stack]:
    base = load_stack(args.stack)
    suite = base.suites.netperf
    update: dict[str, object] = {"duration_s": args.seconds, "omit_s": 0, "repeats": 1, "steady_state": None}
    if args.mss:
        update["mss"] = [int(m) for m in args.mss.split(",")]
    if args.paths:
        update["paths"] = [NetPath(int(p)) for p in args.paths.split(",")]
    seed_suite = suite.model_copy(update=update)
    steady = SteadyState(
        tolerance_pct=args.tolerance, window_s=args.window, min_s=args.min, max_s=args.seconds, omit_s=args.omit
    )
    steady_suite = seed_suite.model_copy(update={"steady_state": steady, "duration_s": args.other_seconds})

    def with_suite(s: object) -> Stack:
        return Stack.model_validate(
            {**base.model_dump(), "suites": {"netperf": s.model_dump() if hasattr(s, "model_dump") else s}}
        )

    return with_suite(seed_suite), with_suite(steady_suite)


async def _run(seed: Stack, steady: Stack, workdir: Path) -> tuple[Results, Results, float, float]:
    plans = {"seed": build_plan(seed), "steady": build_plan(steady)}
    walls = {"seed": 0.0, "steady": 0.0}
    async with Lab(seed, plans["seed"], workdir, say=lambda line: print(line, flush=True)) as lab:
        pairs = list(zip(plans["seed"].cases, plans["steady"].cases, strict=True))
        for i, pair in enumerate(pairs):
            # Case by case, the order alternating: drift on the machine falls on both halves alike.
            for kind, case in (("seed", pair[0]), ("steady", pair[1]))[:: 1 if i % 2 == 0 else -1]:
                script = _write(workdir / "scripts" / f"{kind}-{case.id}.sh", runner_script(case.client, [case]))
                began = time.monotonic()
                await lab.run_script(case.client, script, workdir / kind, case.time_limit_s + 60)
                walls[kind] += time.monotonic() - began
            if (i + 1) % 12 == 0 or i + 1 == len(pairs):
                done = f"{i + 1}/{len(pairs)} points"
                print(f"{done}: seed {walls['seed']:.1f} s, steady {walls['steady']:.1f} s", flush=True)
    out = {k: collect(p, read_log_folder(workdir / k)) for k, p in plans.items()}
    return out["seed"], out["steady"], walls["seed"], walls["steady"]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _figures(results: Results) -> dict[str, float]:
    return {p.key: p.median for p in results.points if p.median is not None}


def _report(seed: Results, steady: Results, plan: Plan, seed_s: float, steady_s: float) -> None:
    a, b = _figures(seed), _figures(steady)
    common = [k for k in a if k in b and a[k] > 0]
    diffs = {k: abs(b[k] - a[k]) / a[k] for k in common}
    for k in common:
        print(f"  {k:<28} seed {a[k]:12.1f}  steady {b[k]:12.1f}  diff {diffs[k] * 100:5.1f} %")
    stable = sum(c.stopped == "stable" for c in steady.cases)
    tcp = sum(c.steady is not None for c in plan.cases)
    used = [c.duration_s for c in steady.cases if c.duration_s is not None]
    print(f"failures: seed {len(seed.failures())}, steady {len(steady.failures())}")
    median_s = statistics.median(used or [0])
    print(f"steady-state TCP cases: {stable} of {tcp} stopped on stability, median {median_s:.2f} s")
    ratio = steady_s / seed_s
    median = statistics.median(diffs.values()) if diffs else float("nan")
    print(f"wall time: seed-style {seed_s:.1f} s, steady-state {steady_s:.1f} s, ratio {ratio:.3f}", end="")
    print(f" (goal <= {TIME_GOAL})")
    print(f"median |difference| over {len(diffs)} figures: {median * 100:.2f} % (goal <= {DIFF_GOAL * 100:.0f} %)")
    time_ok, figures_ok = ratio <= TIME_GOAL, median <= DIFF_GOAL
    print(f"verdict: time {'met' if time_ok else 'missed'}, figures {'met' if figures_ok else 'missed'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="kind-mesh")
    parser.add_argument("--seconds", type=int, default=10, help="seed-style duration, and steady max_s")
    parser.add_argument("--other-seconds", type=int, default=2, help="steady side: UDP and netperf durations")
    parser.add_argument("--tolerance", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--min", type=float, default=1.0)
    parser.add_argument("--omit", type=float, default=0.5)
    parser.add_argument("--mss", help="comma-separated MSS points instead of the stack's sweep")
    parser.add_argument("--paths", help="comma-separated paths instead of the stack's")
    args = parser.parse_args()
    seed, steady = _stacks(args)
    print(
        f"matrix_time {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {len(build_plan(seed).cases)} cases per half", flush=True
    )
    with tempfile.TemporaryDirectory(prefix="meshperf-matrix-") as tmp:
        seed_res, steady_res, seed_s, steady_s = asyncio.run(_run(seed, steady, Path(tmp)))
    _report(seed_res, steady_res, build_plan(steady), seed_s, steady_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
