"""The host-network baseline in the lab, for real: hostNetwork pods in their nodes' namespaces.

The rendered host servers and client Jobs run through the lab's kubelet in the node's own network
namespace, at the node's IP: node to itself, node to node, node to node across the link.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from labrun import ROOT, run_folder, run_netlab

MESH = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
LINK_MTU = 1200


def _stack_file(tmp_path: Path) -> Path:
    document = json.loads(json.dumps(MESH))
    config = document["config"]
    config["meshperf:link"] = {"mtu": LINK_MTU, "rate": "5gbit"}
    netperf = config["meshperf:suites"]["netperf"]
    netperf.pop("steady_state")  # iperf3's JSON: who connected to whom
    netperf.update({"mss": [1376], "duration_s": 1, "tools": ["iperf3_tcp", "tcp_rr"], "host_baseline": True})
    config["meshperf:suites"]["e2sar"]["enabled"] = False
    path = tmp_path / "Pulumi.hostnet.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _topology(folder: Path) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """Nodes (cluster/name -> namespace, IP) and pods (Pod or Job name -> namespace, IP) as the lab built them."""
    text = (folder / "lab" / "topology.txt").read_text()
    nodes = {m[1]: (m[2], m[3]) for m in re.finditer(r"^node (\S+) ns=(\S+) ip=(\S+)", text, re.MULTILINE)}
    pods = {m[1]: (m[2], m[3]) for m in re.finditer(r"^pod (\S+) \S+ \S+ ns=(\S+) ip=(\S+)", text, re.MULTILINE)}
    return nodes, pods


def _connected(folder: Path, case_id: str) -> dict[str, Any]:
    (log,) = (folder / "logs").rglob(f"{case_id}.json")
    return dict(json.loads(log.read_text())["start"]["connected"][0])


def _dnat_packets(folder: Path, node: str, after: str) -> int:
    text = (folder / "lab" / f"iptables-{node}-after-{after}.txt").read_text()
    return sum(int(m[1]) for m in re.finditer(r"^\[(\d+):\d+\] -A KUBE-SEP-\S+ .* -j DNAT", text, re.MULTILINE))


@pytest.mark.usefixtures("clean_machine")
def test_host_paths_run_between_the_nodes_own_namespaces_and_give_every_pod_path_its_ratio(tmp_path: Path) -> None:
    code, output = run_netlab(tmp_path, _stack_file(tmp_path))
    assert code == 0, output
    folder = run_folder(output)
    document = json.loads((folder / "results.json").read_text())
    cases = {c["case_id"]: c for c in document["cases"]}
    assert len(cases) == 9 * 2
    for case in cases.values():
        assert case["ok"], f"{case['case_id']}: {case['error']}"
        assert (case["transactions_per_s"] if case["tool"] == "tcp_rr" else case["throughput_mbps"]) > 0
    # The host pods have no namespace of their own: they sit in their node's, at its IP.
    nodes, pods = _topology(folder)
    worker, worker2, remote = nodes["cluster-a/worker"], nodes["cluster-a/worker2"], nodes["cluster-b/worker"]
    assert pods["w1-host-client"] == pods["w2-host-server"] == worker
    assert pods["w3-host-client"] == worker2 and pods["w4-host-server"] == remote
    assert pods["w1-client"] != worker and pods["w1-client"][0] != worker[0]
    # iperf3 says who talked to whom: the nodes' own addresses, no DNAT and no masquerade between them.
    expected = {"p7": (worker, worker), "p8": (worker2, worker), "p9": (worker, remote)}
    for path, (client, server) in expected.items():
        seen = _connected(folder, f"{path}-iperf3-tcp-mss1376")
        assert (seen["local_host"], seen["remote_host"]) == (client[1], server[1]), path
    # Node to node across the clusters crosses the link: its MTU bounds the MSS, as on path 6.
    assert cases["p9-iperf3-tcp-mss1376"]["mss_actual"] <= LINK_MTU - 40 < cases["p7-iperf3-tcp-mss1376"]["mss_actual"]
    # kube-proxy's DNAT took the pod clients' VIP traffic and none of the host clients'.
    assert _dnat_packets(folder, "cluster-a-worker", "w1") > 0
    assert _dnat_packets(folder, "cluster-a-worker", "w1-host") == 0
    assert _dnat_packets(folder, "cluster-a-worker2", "w3-host") == 0
    # The host namespace holds no NetworkPolicy, and none of the pods' policies named a host pod.
    objects = json.loads((folder / "objects.json").read_text())
    assert not [o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == "meshperf-host"]
    rules = "".join(p.read_text() for p in (folder / "lab").glob("rules-*.txt"))
    assert "meshperf-host/" not in rules
    # Every pod point has its baseline and a ratio.
    ratios = {o["point"]: o for o in document["overhead"]}
    assert set(ratios) == {
        f"p{p}-{t}" + ("-mss1376" if t == "iperf3_tcp" else "") for p in range(1, 7) for t in ("iperf3_tcp", "tcp_rr")
    }
    for o in ratios.values():
        assert o["ratio"] > 0 and o["host"] > 0, o
    assert {ratios[f"p{p}-tcp_rr"]["host_path"] for p in (1, 2, 5)} == {7}
    assert {ratios[f"p{p}-tcp_rr"]["host_path"] for p in (3, 4)} == {8} and ratios["p6-tcp_rr"]["host_path"] == 9
    assert "CNI overhead" in output
