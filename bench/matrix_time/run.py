"""bench/matrix_time: the seed matrix seed-style (fixed 10 s per point) and with steady-state stopping.

On one lab, in one run: every case runs once as the seed runs it (every case for a fixed
`--seconds`) and once with `steady_state` on the iperf3 TCP sweep (stop when the running
mean has settled; the fixed-duration tools, iperf3 UDP and netperf, run `--other-seconds`).
With `--floor`, every case also runs seed-style a second time: the difference between the
two seed-style halves is the noise floor, what the machine itself changes between two
identical measurements, against which the steady-state difference is read. The halves
alternate case by case (and their order rotates), so that drift in the machine's load
falls on all of them alike.

Prints the wall-time ratio steady / seed and the median absolute relative difference
between the two sets of figures (every throughput point, and TCP_RR transactions/s), per
path and overall. Goals: ratio <= 0.25 and median difference <= 3 %.

`--pod-rate R` gives every workload an `egress_rate` (a tbf on the pod's interface, as the
CNI bandwidth plugin does on Kubernetes): the figures are then set by the network, not by
how much of the machine's CPUs the neighbours leave to the lab.

    .venv/bin/python bench/matrix_time/run.py                      # the full matrix (~30 min)
    .venv/bin/python bench/matrix_time/run.py --floor              # and the noise floor (~55 min)
    .venv/bin/python bench/matrix_time/run.py --pod-rate 2gbit     # with the network setting the rate
    .venv/bin/python bench/matrix_time/run.py --mss 96,1376 --paths 1,6 --seconds 3   # a try
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pydantic import ValidationError

from netlab.lab import Lab
from results.collect import collect
from results.logs import read_log_folder
from results.model import Results
from spec.load import describe, load_stack
from spec.model import NetPath, Stack, SteadyState
from spec.plan import Plan, build_plan
from spec.runner import runner_script

TIME_GOAL, DIFF_GOAL = 0.25, 0.03
SEED, STEADY, AGAIN = "seed", "steady", "seed again"


def exit_code(time_ratio: float, median_difference: float) -> int:
    """0 when both goals are met (wall-time ratio and median difference), 1 when one is missed."""
    return 0 if time_ratio <= TIME_GOAL and median_difference <= DIFF_GOAL else 1


def _stacks(args: argparse.Namespace) -> dict[str, Stack]:
    base = load_stack(args.stack)
    data = base.model_dump()
    if args.pod_rate:
        data["workloads"] = {k: {**w, "egress_rate": args.pod_rate} for k, w in data["workloads"].items()}
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
    seed, steady_stack = (
        Stack.model_validate({**data, "suites": {"netperf": s.model_dump(mode="json")}})
        for s in (seed_suite, steady_suite)
    )
    return {SEED: seed, STEADY: steady_stack, **({AGAIN: seed} if args.floor else {})}


async def _run(stacks: dict[str, Stack], workdir: Path) -> tuple[dict[str, Results], dict[str, float]]:
    plans = {k: build_plan(s) for k, s in stacks.items()}
    walls = dict.fromkeys(plans, 0.0)
    halves = list(plans)
    async with Lab(stacks[SEED], plans[SEED], workdir, say=lambda line: print(line, flush=True)) as lab:
        rows = list(zip(*(p.cases for p in plans.values()), strict=True))
        for i, row in enumerate(rows):
            # Case by case, the order rotating: drift on the machine falls on every half alike.
            cases = dict(zip(halves, row, strict=True))
            for kind in halves[i % len(halves) :] + halves[: i % len(halves)]:
                case = cases[kind]
                folder = kind.replace(" ", "-")
                script = _write(workdir / "scripts" / f"{folder}-{case.id}.sh", runner_script(case.client, [case]))
                began = time.monotonic()
                await lab.run_script(case.client, script, workdir / folder, case.time_limit_s + 60)
                walls[kind] += time.monotonic() - began
            if (i + 1) % 12 == 0 or i + 1 == len(rows):
                took = ", ".join(f"{k} {s:.1f} s" for k, s in walls.items())
                print(f"{i + 1}/{len(rows)} points: {took}", flush=True)
    results = {k: collect(p, read_log_folder(workdir / k.replace(" ", "-"))) for k, p in plans.items()}
    return results, walls


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _figures(results: Results) -> dict[str, float]:
    return {p.key: p.median for p in results.points if p.median is not None}


def relative_differences(reference: Results, other: Results) -> dict[str, float]:
    """|other - reference| / reference per point key, over the points both have a figure for."""
    a, b = _figures(reference), _figures(other)
    return {k: abs(b[k] - a[k]) / a[k] for k in a if k in b and a[k] > 0}


def _median_pct(values: Iterable[float]) -> str:
    data = list(values)
    return f"{statistics.median(data) * 100:5.2f} %" if data else "    - "


def _report(results: dict[str, Results], walls: dict[str, float], plan: Plan) -> int:
    steady = relative_differences(results[SEED], results[STEADY])
    floor = relative_differences(results[SEED], results[AGAIN]) if AGAIN in results else {}
    a, b = _figures(results[SEED]), _figures(results[STEADY])
    for k, d in steady.items():
        again = f"  again diff {floor[k] * 100:5.1f} %" if k in floor else ""
        print(f"  {k:<28} seed {a[k]:12.1f}  steady {b[k]:12.1f}  diff {d * 100:5.1f} %{again}")
    against = "steady vs seed" + (" | seed vs seed" if floor else "")
    print(f"median |difference| per path, TCP sweep / the other tools: {against}")
    for path in sorted({p.path for p in results[SEED].points}):
        prefix = f"p{int(path)}-"
        cells = []
        for diffs in (steady, floor) if floor else (steady,):
            tcp = [d for k, d in diffs.items() if k.startswith(prefix + "iperf3_tcp")]
            rest = [d for k, d in diffs.items() if k.startswith(prefix) and "iperf3_tcp" not in k]
            cells.append(f"{_median_pct(tcp)} / {_median_pct(rest)}")
        print(f"  path {int(path)}: " + "   |   ".join(cells))
    stable = sum(c.stopped == "stable" for c in results[STEADY].cases)
    tcp_cases = sum(c.steady is not None for c in plan.cases)
    used = [c.duration_s for c in results[STEADY].cases if c.duration_s is not None]
    print("failures: " + ", ".join(f"{k} {len(r.failures())}" for k, r in results.items()))
    median_s = statistics.median(used or [0])
    print(f"steady-state TCP cases: {stable} of {tcp_cases} stopped on stability, median {median_s:.2f} s")
    ratio = walls[STEADY] / walls[SEED]
    print(f"wall time: seed-style {walls[SEED]:.1f} s, steady-state {walls[STEADY]:.1f} s, ratio {ratio:.3f}", end="")
    print(f" (goal <= {TIME_GOAL})")
    median = statistics.median(steady.values()) if steady else float("nan")
    print(f"median |difference| over {len(steady)} figures: {median * 100:.2f} % (goal <= {DIFF_GOAL * 100:.0f} %)")
    if floor:
        noise = statistics.median(floor.values())
        print(f"noise floor, seed-style against itself: median |difference| {noise * 100:.2f} % over {len(floor)}")
    time_ok, figures_ok = ratio <= TIME_GOAL, median <= DIFF_GOAL
    print(f"verdict: time {'met' if time_ok else 'missed'}, figures {'met' if figures_ok else 'missed'}")
    return exit_code(ratio, median)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="kind-mesh")
    parser.add_argument("--seconds", type=int, default=10, help="seed-style duration, and steady max_s")
    parser.add_argument("--other-seconds", type=int, default=2, help="steady side: UDP and netperf durations")
    parser.add_argument("--tolerance", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=0.5)
    parser.add_argument("--min", type=float, default=1.0)
    parser.add_argument("--omit", type=float, default=0.2)
    parser.add_argument("--floor", action="store_true", help="run seed-style twice: the noise floor")
    parser.add_argument("--pod-rate", help="every workload's egress_rate, e.g. 2gbit")
    parser.add_argument("--mss", help="comma-separated MSS points instead of the stack's sweep")
    parser.add_argument("--paths", help="comma-separated paths instead of the stack's")
    args = parser.parse_args()
    try:
        stacks = _stacks(args)
    except ValidationError as exc:  # a stack the options make invalid: its first error, as spec.load says it
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 2
    cases = len(build_plan(stacks[SEED]).cases)
    rate = f", pods at {args.pod_rate}" if args.pod_rate else ""
    print(f"matrix_time {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {cases} cases per half, {len(stacks)} halves{rate}")
    with tempfile.TemporaryDirectory(prefix="meshperf-matrix-") as tmp:
        results, walls = asyncio.run(_run(stacks, Path(tmp)))
    return _report(results, walls, build_plan(stacks[STEADY]))


if __name__ == "__main__":
    sys.exit(main())
