"""The lab for real: `python -m netlab up` with real iperf3 and netperf between namespaces.

Each test runs the command as a user would and reads what it leaves in the run folder.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from labrun import ROOT, netlab_argv, netlab_env, run_folder

MESH = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
LINK_MTU = 1200


def _stack_file(tmp_path: Path, **suite: Any) -> Path:
    document = json.loads(json.dumps(MESH))
    config = document["config"]
    config["meshperf:link"] = {"mtu": LINK_MTU, "rate": "5gbit"}
    config["meshperf:suites"]["netperf"].pop("steady_state")  # fixed-duration cases, as each test sets them
    config["meshperf:suites"]["netperf"].update({"mss": [536, 1376], "duration_s": 1, **suite})
    path = tmp_path / "Pulumi.labtest.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _start(tmp_path: Path, stack: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        netlab_argv(tmp_path, stack),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=netlab_env(),
    )


def _cases(folder: Path) -> dict[str, dict[str, Any]]:
    document = json.loads((folder / "results.json").read_text())
    return {c["case_id"]: c for c in document["cases"]}


def _nat_counter(folder: Path, node: str, after: str, pattern: str) -> int:
    """Packets counted by the first rule matching pattern, in a node's snapshot (counters start at each client)."""
    text = (folder / "lab" / f"iptables-{node}-after-{after}.txt").read_text()
    for line in text.splitlines():
        if re.search(pattern, line):
            return int(line[1 : line.index(":")])
    raise AssertionError(f"no rule {pattern!r} in {node} after {after}")


@pytest.mark.usefixtures("clean_machine")
def test_all_six_paths_with_every_tool(tmp_path: Path) -> None:
    proc = _start(tmp_path, _stack_file(tmp_path))
    output, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, output
    folder = run_folder(output)
    cases = _cases(folder)
    assert len(cases) == 6 * 2 + 6 * 3
    for case in cases.values():
        assert case["ok"], f"{case['case_id']}: {case['error']}"
        if case["tool"] == "tcp_rr":
            assert case["transactions_per_s"] > 0
            assert 0 < case["latency_us"]["p50"] <= case["latency_us"]["p99"]
        else:
            assert case["throughput_mbps"] > 0, case
    # Paths 2 and 5 went through DNAT on w1/w2's node, path 4 on w3's node.
    dnat = r'-A KUBE-SEP-\S+ -p tcp .*"meshperf/w2-vip:iperf3-tcp" -j DNAT'
    assert _nat_counter(folder, "cluster-a-worker", "w1", dnat) > 0
    assert _nat_counter(folder, "cluster-a-worker2", "w3", dnat) > 0
    assert _nat_counter(folder, "cluster-a-worker2", "w1", dnat) == 0  # w1's traffic never touched w3's node
    # Hairpin: w2's own traffic came back to it, masqueraded.
    masq = r"-A KUBE-POSTROUTING .*-j MASQUERADE"
    assert _nat_counter(folder, "cluster-a-worker", "w2", masq) > _nat_counter(folder, "cluster-a-worker", "w3", masq)
    # The remote-cluster path carries the link's MTU: the MSS in use shrank to fit it.
    p6 = cases["p6-iperf3-tcp-mss1376"]
    p1 = cases["p1-iperf3-tcp-mss1376"]
    assert p6["mss_requested"] == p1["mss_requested"] == 1376
    assert p6["mss_actual"] is not None and p6["mss_actual"] <= LINK_MTU - 40
    assert p1["mss_actual"] is not None and p1["mss_actual"] > LINK_MTU - 40
    # The reports are there, in the seed's format and tidy.
    seed = (folder / "results.csv").read_text().splitlines()
    assert seed[0].startswith("MSS") and "Maximum" in seed[0]
    assert len(seed) == 17
    rows = list(csv.DictReader((folder / "results-tidy.csv").open()))
    assert {r["case_id"] for r in rows} == set(cases)
    # Each Job's log folder on the claim: one index line per case across them.
    assert sum(p.read_text().count("\n") for p in (folder / "logs").rglob("index.tsv")) == len(cases)


@pytest.mark.usefixtures("clean_machine")
def test_server_killed_mid_run_fails_one_case_and_the_rest_complete(tmp_path: Path) -> None:
    stack = _stack_file(tmp_path, paths=[1, 6], tools=["iperf3_tcp"], duration_s=4)
    proc = _start(tmp_path, stack)
    assert proc.stdout is not None
    lines: list[str] = []
    prefix = None
    killed = False
    deadline = time.monotonic() + 200
    for line in proc.stdout:
        lines.append(line)
        if m := re.search(r"prefix (mp[0-9a-f]{6})", line):
            prefix = m[1]
        if "p1-iperf3-tcp-mss1376" in line and not killed:
            time.sleep(2.0)  # p6-iperf3-tcp-mss536 is now two seconds into its four
            pids = subprocess.run(
                ["ip", "netns", "pids", f"{prefix}-cluster-b-w4-server"], capture_output=True, text=True, check=True
            ).stdout.split()
            for pid in pids:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "iperf3":
                    os.kill(int(pid), signal.SIGKILL)
                    killed = True
        assert time.monotonic() < deadline, "".join(lines)
    proc.wait(timeout=60)
    output = "".join(lines)
    assert killed, output
    assert "w4-server/iperf3 exited (137); restarting" in output  # the kubelet restarts it (restartPolicy)
    cases = _cases(run_folder(output))
    failed = {k for k, c in cases.items() if not c["ok"]}
    assert failed == {"p6-iperf3-tcp-mss536"}, output
    assert cases["p6-iperf3-tcp-mss536"]["error"]
    assert cases["p6-iperf3-tcp-mss1376"]["throughput_mbps"] > 0
    assert proc.returncode == 1  # a failed case is reported in the exit code


@pytest.mark.usefixtures("clean_machine")
def test_ctrl_c_removes_the_lab_and_keeps_what_was_measured(tmp_path: Path) -> None:
    proc = _start(tmp_path, _stack_file(tmp_path))
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if re.match(r"^\[ *2/", line):
            proc.send_signal(signal.SIGINT)
            break
    rest, _ = proc.communicate(timeout=120)
    output = "".join(lines) + rest
    assert proc.returncode == 130, output
    assert "removed" in output
    cases = _cases(run_folder(output))
    assert sum(c["ok"] for c in cases.values()) >= 2
    assert any(not c["ok"] and "not run" in c["error"] for c in cases.values())
