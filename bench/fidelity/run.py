"""bench/fidelity: does the lab's machinery cost throughput?

On one lab, in one run, five pairs of measurements of path 3 (remote node, pod IP): the
lab's own way (the rendered client Job through the lab's kubelet, chrooted into the tool
image's userland: entry.sh, runner script, raw log, parser) and a bare `iperf3 -c` typed by
hand in the same client namespace, on the host, against the same server Pod. The order alternates within pairs so that
drift in the machine does not favour either. Prints each pair and the median ratio
lab / bare; the goal is >= 0.95.

    .venv/bin/python bench/fidelity/run.py [--pairs 5] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from netlab.lab import Lab
from netlab.rootfs import image_userland
from netlab.run import client_jobs
from results.iperf3 import parse_iperf3
from spec.model import NetPath, NetperfSuite, Stack, Suites
from spec.plan import build_plan

GOAL = 0.95


def exit_code(ratio: float) -> int:
    """0 when the median ratio meets the goal, 1 when it misses it."""
    return 0 if ratio >= GOAL else 1


def _stack(seconds: int) -> Stack:
    suite = NetperfSuite(paths=[NetPath.REMOTE_NODE_POD], tools=["iperf3_tcp"], mss=[1376], duration_s=seconds)
    return Stack(suites=Suites(netperf=suite))


async def _measure(pairs: int, seconds: int, workdir: Path) -> list[tuple[float, float]]:
    stack = _stack(seconds)
    plan = build_plan(stack)
    (case,) = plan.cases
    measured: list[tuple[float, float]] = []
    userland = image_userland(say=print)
    print(f"userland: {userland.kind} {userland.hash or userland.reason}", flush=True)
    async with Lab(stack, plan, workdir, say=lambda line: None, userland=userland) as lab:
        target = lab.layout.server("w2").ip
        bare_argv = ["iperf3", "-c", str(target), "-p", str(case.port), "-J", "-t", str(seconds), "-M", "1376"]
        (job,) = client_jobs(lab.objects)

        async def lab_way(i: int) -> float:
            outcome = await lab.run_job(job)
            assert outcome.succeeded, outcome.message
            figures = parse_iperf3((lab.job_logdir(job) / case.log_name).read_text())
            assert figures.ok and figures.throughput_mbps, figures.error
            return figures.throughput_mbps

        async def bare_way() -> float:
            _, out = await lab.exec("w3", *bare_argv)
            figures = parse_iperf3(out)
            assert figures.ok and figures.throughput_mbps, figures.error
            return figures.throughput_mbps

        for i in range(pairs):
            if i % 2 == 0:
                lab_mbps = await lab_way(i)
                bare_mbps = await bare_way()
            else:
                bare_mbps = await bare_way()
                lab_mbps = await lab_way(i)
            measured.append((lab_mbps, bare_mbps))
            print(
                f"pair {i + 1}: lab {lab_mbps:9.1f} Mbit/s   bare {bare_mbps:9.1f} Mbit/s   "
                f"ratio {lab_mbps / bare_mbps:.3f}",
                flush=True,
            )
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if args.pairs < 1 or args.seconds < 1:
        print("error: --pairs and --seconds must be at least 1", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="meshperf-fidelity-") as tmp:
        pairs = asyncio.run(_measure(args.pairs, args.seconds, Path(tmp)))
    ratio = statistics.median(lab / bare for lab, bare in pairs)
    verdict = "meets" if ratio >= GOAL else "misses"
    print(f"median ratio lab/bare over {len(pairs)} pairs: {ratio:.3f} ({verdict} the goal >= {GOAL})")
    return exit_code(ratio)


if __name__ == "__main__":
    sys.exit(main())
