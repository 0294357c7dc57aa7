"""bench/regression_detection: does `results compare` catch a 10 % slower path, and only then?

On one lab, path 6 (the inter-cluster link, rate-limited by tbf; the link rate is set to
`--rate` so that the tbf is the bottleneck) is measured in `--trials` trials. In half of
them, chosen at random (the seed is printed), the current side runs with the tbf rate cut
by `--cut` (10 %) by `tc qdisc change` in both cluster namespaces. Each trial measures
`--repeats` baseline and current repeats, alternating (baseline r1, current r1, baseline
r2, ...) so that drift on the machine falls on both sides alike, each repeat a
steady-state iperf3 TCP case run by the runner script. The verdict is
`results.compare` (threshold `--threshold` %, confidence 0.95), the code behind
`python -m results compare`. Prints each trial, then detections and false alarms.
Goal: every injected cut caught, no false alarm.

    .venv/bin/python bench/regression_detection/run.py [--trials 10] [--repeats 5] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from netlab.lab import Lab
from netlab.layout import TBF_BURST, TBF_LATENCY
from netlab.namespaces import run
from results.collect import collect
from results.compare import PointComparison, compare_points
from results.logs import read_log_folder
from spec.load import load_stack
from spec.model import Link, NetPath, NetperfSuite, Stack, SteadyState, Suites, rate_bits_per_s
from spec.plan import build_plan
from spec.runner import runner_script


def _stack(rate: str, repeats: int) -> Stack:
    base = load_stack("kind-mesh")
    suite = NetperfSuite(
        paths=[NetPath.REMOTE_CLUSTER_POD],
        tools=["iperf3_tcp"],
        mss=[1376],
        repeats=repeats,
        steady_state=SteadyState(max_s=5, omit_s=0.2),
    )
    data = {**base.model_dump(), "link": Link(mtu=1500, rate=rate).model_dump(), "suites": Suites(netperf=suite)}
    return Stack.model_validate(data)


def _set_rate(lab: Lab, bits_per_s: int) -> None:
    for cluster in lab.layout.clusters[:2]:
        tbf = ("tbf", "rate", f"{bits_per_s // 1000}kbit", "burst", TBF_BURST, "latency", TBF_LATENCY)
        run(("ip", "netns", "exec", cluster.ns, "tc", "qdisc", "change", "dev", "link0", "root", *tbf))


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


async def _trial(lab: Lab, stack: Stack, workdir: Path, rate: int, cut: float, inject: bool) -> PointComparison:
    plan = build_plan(stack)
    _write(workdir / ".trial", "")
    for case in plan.cases:  # repeat by repeat: baseline, then current
        for side in ("baseline", "current"):
            _set_rate(lab, int(rate * (1 - cut)) if side == "current" and inject else rate)
            script = _write(workdir / f"{side}-{case.id}.sh", runner_script(case.client, [case]))
            await lab.run_script(case.client, script, workdir / side, case.time_limit_s + 30)
    _set_rate(lab, rate)
    before = collect(plan, read_log_folder(workdir / "baseline")).points
    now = collect(plan, read_log_folder(workdir / "current")).points
    (comparison,) = compare_points(before, now, threshold_pct=ARGS.threshold, confidence=0.95)
    return comparison


async def _bench(workdir: Path) -> tuple[int, int, int, int]:
    stack = _stack(ARGS.rate, ARGS.repeats)
    rate = rate_bits_per_s(ARGS.rate)
    trials = [True] * (ARGS.trials // 2) + [False] * (ARGS.trials - ARGS.trials // 2)
    random.Random(ARGS.seed).shuffle(trials)
    caught = missed = alarms = quiet = 0
    async with Lab(stack, build_plan(stack), workdir, say=lambda line: print(line, flush=True)) as lab:
        for i, inject in enumerate(trials, start=1):
            c = await _trial(lab, stack, workdir / f"trial{i}", rate, ARGS.cut, inject)
            slower = c.verdict == "slower"
            if inject:
                caught, missed = caught + slower, missed + (not slower)
            else:
                alarms, quiet = alarms + slower, quiet + (not slower)
            ci = f"[{c.change_ci_low_pct:+.1f}, {c.change_ci_high_pct:+.1f}]" if c.change_ci_low_pct is not None else ""
            outcome = ("detected" if slower else "MISSED") if inject else ("FALSE ALARM" if slower else "ok")
            print(
                f"trial {i:>2}: {'cut ' if inject else 'none'}  baseline {c.baseline or 0:7.1f}  current "
                f"{c.current or 0:7.1f} Mbit/s  change {c.change_pct or 0:+6.1f} % {ci:>16}  p {c.p_value or 0:.4f}"
                f"  -> {c.verdict}  ({outcome})",
                flush=True,
            )
    return caught, missed, alarms, quiet


def exit_code(missed: int, alarms: int, trials: int) -> int:
    """0 when every cut was caught with no false alarm in at least 10 trials, 1 otherwise."""
    return 0 if missed == 0 and alarms == 0 and trials >= 10 else 1


def main() -> int:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rate", default="1gbit", help="the link's tbf rate (the bottleneck)")
    parser.add_argument("--cut", type=float, default=0.10, help="the rate cut injected (fraction)")
    parser.add_argument("--threshold", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None)
    ARGS = parser.parse_args()
    if ARGS.trials < 1 or ARGS.repeats < 2 or not 0 < ARGS.cut < 1:
        print("error: --trials must be at least 1, --repeats at least 2, --cut between 0 and 1", file=sys.stderr)
        return 2
    if ARGS.seed is None:
        ARGS.seed = random.SystemRandom().randrange(10**6)
    print(
        f"regression_detection {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {ARGS.trials} trials, {ARGS.repeats} repeats "
        f"a side, link {ARGS.rate}, cut {ARGS.cut:.0%}, threshold {ARGS.threshold:g} %, seed {ARGS.seed}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="meshperf-regress-") as tmp:
        caught, missed, alarms, quiet = asyncio.run(_bench(Path(tmp)))
    injected = caught + missed
    print(f"detections: {caught} of {injected} injected cuts; false alarms: {alarms} of {alarms + quiet} clean trials")
    code = exit_code(missed, alarms, ARGS.trials)
    print(f"verdict: {'met' if code == 0 else 'missed'} (goal: every cut caught, no false alarm, >= 10 trials)")
    return code


ARGS = argparse.Namespace()

if __name__ == "__main__":
    sys.exit(main())
