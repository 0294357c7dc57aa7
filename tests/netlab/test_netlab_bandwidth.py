"""Per-workload bandwidth limits in the lab for real: tbf on the pods' veth ends, measured by iperf3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from labrun import ROOT, run_folder, run_netlab

LOCAL = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-local.yaml").read_text())
W1_EGRESS, W2_INGRESS = 300, 800  # Mbit/s


@pytest.mark.usefixtures("clean_machine")
def test_egress_and_ingress_rates_limit_only_their_workloads(tmp_path: Path) -> None:
    """w1 sends at most 300 Mbit/s (path 1, w1 -> w2); w3 has no limit, so path 3 (w3 -> w2)
    runs faster than w1's limit and is held only by w2's 800 Mbit/s ingress."""
    document = json.loads(json.dumps(LOCAL))
    config = document["config"]
    config["meshperf:workloads"]["w1"]["egress_rate"] = f"{W1_EGRESS}mbit"
    config["meshperf:workloads"]["w2"]["ingress_rate"] = f"{W2_INGRESS}mbit"
    config["meshperf:suites"] = {
        "netperf": {"paths": [1, 3], "tools": ["iperf3_tcp"], "mss": [1376], "duration_s": 2},
        "e2sar": {"enabled": False},
    }
    stack = tmp_path / "Pulumi.bandwidth.yaml"
    stack.write_text(yaml.safe_dump(document))
    code, output = run_netlab(tmp_path, stack)
    assert code == 0, output
    assert "warning" not in output, output  # every tbf was applied
    folder = run_folder(output)
    cases = {c["case_id"]: c for c in json.loads((folder / "results.json").read_text())["cases"]}
    p1, p3 = cases["p1-iperf3-tcp-mss1376"], cases["p3-iperf3-tcp-mss1376"]
    assert p1["ok"] and p3["ok"], (p1["error"], p3["error"])
    assert 0.5 * W1_EGRESS < p1["throughput_mbps"] <= 1.05 * W1_EGRESS, p1
    assert 1.3 * W1_EGRESS < p3["throughput_mbps"] <= 1.05 * W2_INGRESS, p3
    topology = (folder / "lab" / "topology.txt").read_text()
    lines = {line.split()[1]: line for line in topology.splitlines() if line.startswith("pod ")}
    assert sorted(lines) == ["log-viewer-worker", "log-viewer-worker2", "w1-client", "w2-server", "w3-client"]
    assert lines["w1-client"].endswith(f"egress_rate={W1_EGRESS}mbit ingress_rate=-")
    assert lines["w2-server"].endswith(f"egress_rate=- ingress_rate={W2_INGRESS}mbit")
    assert lines["w3-client"].endswith("egress_rate=- ingress_rate=-")
    assert lines["log-viewer-worker"].endswith("egress_rate=- ingress_rate=-")
