"""bench/streams: how many parallel iperf3 streams fill the lab's unshaped paths?

For each stream count N (default 4 and 8) one `python -m netlab up` of the kind-mesh stack
with the link unshaped, paths 1, 3 and 6, iperf3 TCP at MSS 1376 and UDP (`-b 0`) at 1422
bytes, `streams: N` and `repeats` rounds: every round measures the single-stream case and the
N-stream case one after the other, so the machine's drift touches both. Prints the median
Mbit/s (received) per tool, path and stream count, and the ratio N streams / 1 stream: the
measurement behind `DEFAULT_STREAMS`.

    .venv/bin/python bench/streams/run.py [--streams 4 8] [--repeats 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PATHS = (1, 3, 6)
TOOLS = ("iperf3_tcp", "iperf3_udp")


def stack_file(folder: Path, streams: int, repeats: int, seconds: int) -> Path:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
    config = document["config"]
    config["meshperf:link"] = {"mtu": 1500}  # unshaped
    netperf = {"paths": list(PATHS), "tools": list(TOOLS), "mss": [1376], "udp_length": [1422], "duration_s": seconds}
    config["meshperf:suites"] = {"netperf": {**netperf, "repeats": repeats, "streams": streams}}
    path = folder / f"Pulumi.streams{streams}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def run(stack: Path, runs: Path) -> list[dict[str, Any]]:
    """The cases of one lab run's results.json."""
    argv = [sys.executable, "-m", "netlab", "up", "-s", str(stack), "--runs-dir", str(runs)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    match = re.search(r"^run folder: (.+)$", done.stdout + done.stderr, re.MULTILINE)
    if done.returncode != 0 or not match:
        raise SystemExit(f"netlab up failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    cases: list[dict[str, Any]] = json.loads((Path(match[1]) / "results.json").read_text())["cases"]
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    figures: dict[tuple[str, int, int], list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="meshperf-streams-") as tmp:
        for n in args.streams:
            for case in run(stack_file(Path(tmp), n, args.repeats, args.seconds), Path(tmp) / "runs"):
                if case["ok"]:
                    figures[(case["tool"], case["path"], case["streams"])].append(case["throughput_mbps"])
    counts = [1, *args.streams]
    print("tool        path" + "".join(f"{f'{n} stream(s) Mbit/s':>22}" for n in counts) + "   ratio N/1 (medians)")
    for tool in TOOLS:
        for path in PATHS:
            medians = {n: statistics.median(v) for n in counts if (v := figures[(tool, path, n)])}
            ratios = "  ".join(f"{n}: {medians[n] / medians[1]:.2f}" for n in counts[1:] if {1, n} <= set(medians))
            cells = "".join(f"{medians.get(n, float('nan')):>22.0f}" for n in counts)
            print(f"{tool:<11} {path:>4}{cells}   {ratios}")
            for n in counts:
                print(f"{'':16}{n} stream(s): " + " ".join(f"{v:.0f}" for v in figures[(tool, path, n)]))


if __name__ == "__main__":
    main()
