"""The E2SAR suite through the real lab: runner scripts, UDP between namespaces, logs, parsing.

There is no e2sar_perf here: a STAND-IN (tests/netlab/e2sar_standin.py, installed first
on PATH as `e2sar_perf`) takes the seed's command lines, moves real UDP from the sender's
pod to the receiver's across the lab's clusters, and prints each E2SAR version's format.
Without it on PATH, the lab says the suite is skipped in one line and runs the rest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from labrun import run_netlab

ROOT = Path(__file__).resolve().parents[2]
MESH = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
STANDIN = Path(__file__).resolve().parent / "e2sar_standin.py"
EVENTS, DROP = 2000, 100


def _stack(tmp_path: Path, netperf: dict[str, object]) -> Path:
    document = json.loads(json.dumps(MESH))
    suites = document["config"]["meshperf:suites"]
    suites["netperf"].update(netperf)
    suites["e2sar"].update({"rates_gbps": [0.1], "num_events": EVENTS, "duration_s": 2, "threads": 2})
    path = tmp_path / "Pulumi.e2sartest.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _standin_processes(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if marker in line]


@pytest.mark.usefixtures("clean_machine")
@pytest.mark.parametrize("version", ["0.1.4", "0.3.1"])
def test_sender_and_receiver_scripts_run_in_the_lab_with_a_standin(tmp_path: Path, version: str) -> None:
    # The E2SAR Jobs run as the pod's user (10001) on the host's userland (E2SAR's image is not built
    # here): the stand-in must be where that user can run it (not under /tmp: the pods mount an emptyDir
    # there), with the system's python.
    bindir = Path(tempfile.mkdtemp(prefix="meshperf-standin-", dir="/var/tmp"))
    try:
        _run_with_standin(tmp_path, version, bindir)
    finally:
        shutil.rmtree(bindir)


def _run_with_standin(tmp_path: Path, version: str, bindir: Path) -> None:
    bindir.chmod(0o755)
    exe = bindir / "e2sar_perf"
    exe.write_text(f"#!/usr/bin/python3\n# STAND-IN for e2sar_perf (see {STANDIN.name})\n" + STANDIN.read_text())
    exe.chmod(0o755)
    (bindir / "standin.json").write_text(json.dumps({"STANDIN_E2SAR_VERSION": version, "STANDIN_E2SAR_DROP": DROP}))
    env = {"PATH": f"{bindir}:{os.environ['PATH']}"}
    code, output = run_netlab(tmp_path, _stack(tmp_path, {"enabled": False}), env)
    assert code == 0, output
    assert "e2sar-100m: 0.1 Gbps pair done" in output
    folder = Path(re.search(r"^run folder: (.+)$", output, re.MULTILINE)[1])  # type: ignore[index]
    logs = folder / "logs"  # each Job's log folder is a subfolder
    (receiver_log,) = (p.read_text() for p in logs.rglob("e2sar-100m-receiver.txt"))
    (sender_log,) = (p.read_text() for p in logs.rglob("e2sar-100m-sender.txt"))
    assert "Receiving on ports" in receiver_log and "19522:19523" in receiver_log  # 2 threads: 2 UDP ports
    assert f"Completed, {EVENTS - EVENTS // DROP:,}" in sender_log  # with the separators E2SAR prints
    if version.startswith("0.3"):
        assert "{info} Stats:" in receiver_log and "Port Stats:" in receiver_log  # stderr kept in the log
    lines = [line for p in logs.rglob("index.tsv") for line in p.read_text().splitlines()]
    index = {line.split("\t")[0]: line.split("\t") for line in lines}
    assert set(index) == {"e2sar-100m-receiver", "e2sar-100m-sender"}
    assert index["e2sar-100m-sender"][3] == "0"
    document = json.loads((folder / "results.json").read_text())
    (pair,) = document["e2sar_cases"]
    assert pair["ok"], pair
    assert pair["version"] == version
    assert pair["events_sent"] == EVENTS
    assert pair["events_received"] == EVENTS - EVENTS // DROP  # real UDP, across the lab's link
    assert pair["loss"] == EVENTS // DROP
    assert pair["e2sar_lost"] == 0  # E2SAR's own counters miss whole lost events
    assert (folder / "results-e2sar.csv").read_text().count("\n") == 2
    assert "E2SAR rate" in output
    assert not _standin_processes(str(bindir))


@pytest.mark.usefixtures("clean_machine")
def test_without_e2sar_perf_the_lab_says_so_in_one_line_and_runs_the_rest(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "e2sar_perf").exists())
    stack = _stack(tmp_path, {"paths": [6], "tools": ["iperf3_udp"], "duration_s": 1})
    code, output = run_netlab(tmp_path, stack, {"PATH": path})
    assert code == 0, output
    assert output.count("[lab] e2sar suite skipped: e2sar_perf is not on PATH") == 1
    folder = Path(re.search(r"^run folder: (.+)$", output, re.MULTILINE)[1])  # type: ignore[index]
    document = json.loads((folder / "results.json").read_text())
    assert all(c["ok"] for c in document["cases"]) and len(document["cases"]) == 1
    (pair,) = document["e2sar_cases"]
    assert pair["ok"] is False and pair["skipped"] is True and pair["error"] == "e2sar_perf is not on PATH"
