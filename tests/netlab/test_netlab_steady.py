"""Repeats and steady-state stopping in the lab for real, and the compare gate on two different runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from labrun import run_folder, run_netlab

ROOT = Path(__file__).resolve().parents[2]
MESH = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())


def _up(tmp_path: Path, name: str, rate: str) -> Path:
    document = json.loads(json.dumps(MESH))
    config = document["config"]
    config["meshperf:link"] = {"mtu": 1500, "rate": rate}
    config["meshperf:suites"] = {
        "netperf": {
            "paths": [6],
            "tools": ["iperf3_tcp"],
            "mss": [1376],
            "repeats": 2,
            "steady_state": {"max_s": 6, "min_s": 1, "window_s": 0.5, "omit_s": 0.2, "tolerance_pct": 5},
        }
    }
    # One stack name for every run: `compare` refuses runs of different stacks.
    stack = tmp_path / f"stack-{name}" / "Pulumi.steady.yaml"
    stack.parent.mkdir()
    stack.write_text(yaml.safe_dump(document))
    code, output = run_netlab(tmp_path / name, stack)
    assert code == 0, output
    return run_folder(output)


def _compare(baseline: Path, current: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "results", "compare", str(baseline), str(current), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.usefixtures("clean_machine")
def test_steady_state_stops_on_a_stable_path_and_the_gate_compares_runs(tmp_path: Path) -> None:
    """Path 6 behind a 200 Mbit/s tbf is as stable as a path gets: every case must stop on
    stability well before max_s. Two runs of it are the same to the gate; a run behind half
    the rate is refused as another setup, and forced, is slower and fails it."""
    first = _up(tmp_path, "first", "200mbit")
    doc = json.loads((first / "results.json").read_text())
    cases = {c["case_id"]: c for c in doc["cases"]}
    assert set(cases) == {"p6-iperf3-tcp-mss1376-r1", "p6-iperf3-tcp-mss1376-r2"}
    for case in cases.values():
        assert case["ok"], case["error"]
        assert case["stopped"] == "stable", case
        assert 1.0 <= case["duration_s"] < 6.0
        assert 150 < case["throughput_mbps"] < 200  # the tbf is the bottleneck
    (log,) = (p.read_text() for p in (first / "logs").rglob("p6-iperf3-tcp-mss1376-r1.txt"))
    assert re.search(r"^meshperf-steady: stop=stable ", log, re.MULTILINE)
    (point,) = doc["points"]
    assert point["n"] == 2 and point["stopped_stable"] == 2
    assert point["ci95_low"] <= point["median"] <= point["ci95_high"]
    assert "5 iperf TCP. Remote Cluster using Pod IP" in (first / "results.csv").read_text()

    second = _up(tmp_path, "second", "200mbit")
    again = _compare(first, second)
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.search(r"^p6-iperf3_tcp-mss1376 .* same$", again.stdout, re.MULTILINE), again.stdout

    # A run behind half the rate: another link rate, which compare refuses unless forced.
    halved = _up(tmp_path, "halved", "100mbit")
    refused = _compare(first, halved)
    assert refused.returncode == 2 and "link_rate 200mbit / 100mbit" in refused.stderr, refused.stderr
    slower = _compare(first, halved, "--force")
    assert slower.returncode == 1, slower.stdout + slower.stderr
    assert re.search(r"^p6-iperf3_tcp-mss1376 .* slower$", slower.stdout, re.MULTILINE), slower.stdout
