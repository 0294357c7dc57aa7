"""Repeats and steady-state stopping in the lab for real, and the compare gate on the run folders."""

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


def _up(tmp_path: Path, name: str) -> Path:
    document = json.loads(json.dumps(MESH))
    config = document["config"]
    config["meshperf:link"] = {"mtu": 1500, "rate": "1gbit"}
    config["meshperf:suites"] = {
        "netperf": {
            "paths": [6],
            "tools": ["iperf3_tcp"],
            "mss": [1376],
            "repeats": 2,
            "steady_state": {"max_s": 3, "min_s": 1, "window_s": 0.5, "omit_s": 0.2, "tolerance_pct": 5},
        }
    }
    stack = tmp_path / f"Pulumi.{name}.yaml"
    stack.write_text(yaml.safe_dump(document))
    code, output = run_netlab(tmp_path, stack)
    assert code == 0, output
    return run_folder(output)


@pytest.mark.usefixtures("clean_machine")
def test_steady_state_repeats_in_the_lab_and_the_gate(tmp_path: Path) -> None:
    folder = _up(tmp_path, "steady")
    doc = json.loads((folder / "results.json").read_text())
    cases = {c["case_id"]: c for c in doc["cases"]}
    assert set(cases) == {"p6-iperf3-tcp-mss1376-r1", "p6-iperf3-tcp-mss1376-r2"}
    for case in cases.values():
        assert case["ok"], case["error"]
        assert case["stopped"] in ("stable", "max")
        assert 1.0 <= case["duration_s"] <= 3.2
        assert 500 < case["throughput_mbps"] < 1000  # the 1gbit tbf is the bottleneck
    (log,) = (p.read_text() for p in (folder / "logs").rglob("p6-iperf3-tcp-mss1376-r1.txt"))
    assert re.search(r"^meshperf-steady: stop=(stable|max) ", log, re.MULTILINE)
    (point,) = doc["points"]
    assert point["n"] == 2 and point["ci95_low"] <= point["median"] <= point["ci95_high"]
    assert "5 iperf TCP. Remote Cluster using Pod IP" in (folder / "results.csv").read_text()
    # The same run against itself is no regression; a generous gate passes, exit 0.
    gate = subprocess.run(
        [sys.executable, "-m", "results", "compare", str(folder), str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "p6-iperf3_tcp-mss1376" in gate.stdout and "same" in gate.stdout
