"""The stack model: defaults reproduce the seed, and bad stacks fail with one line naming the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from spec.load import StackError, load_stack, stack_from_config
from spec.model import NetPath, Stack, rate_bits_per_s

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def mesh_config() -> dict[str, Any]:
    document = yaml.safe_load((STACKS / "Pulumi.kind-mesh.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in document["config"].items() if k.startswith("meshperf:")}


def test_defaults_reproduce_the_seed_matrix() -> None:
    stack = Stack()
    suite = stack.suites.netperf
    assert suite.mss_points() == list(range(96, 1377, 64))
    assert len(suite.mss_points()) == 21
    assert suite.paths == list(NetPath)
    assert set(suite.tools) == {"iperf3_tcp", "iperf3_udp", "netperf_stream", "netperf_rr"}
    assert suite.duration_s == 10


@pytest.mark.parametrize("name", sorted(p.name.split(".")[1] for p in STACKS.glob("Pulumi.*.yaml")))
def test_every_shipped_stack_loads(name: str) -> None:
    stack = load_stack(name)
    assert stack.clusters


def test_placement_of_the_mesh_stack() -> None:
    stack = load_stack("kind-mesh")
    assert stack.node_of("w1") == stack.node_of("w2")
    assert stack.node_of("w3")[1].name != stack.node_of("w1")[1].name
    assert stack.node_of("w4")[0].name != stack.node_of("w1")[0].name
    cluster_a = stack.cluster("cluster-a")
    assert str(cluster_a.node_pod_subnet("worker2")) == "10.244.2.0/24"


def test_rates_parse_like_tc() -> None:
    assert rate_bits_per_s("1gbit") == 10**9
    assert rate_bits_per_s("500mbit") == 500 * 10**6
    assert rate_bits_per_s("2.5G") == 2_500_000_000
    with pytest.raises(ValueError, match="not a rate"):
        rate_bits_per_s("fast")


def _set(config: dict[str, Any], dotted: str, value: Any) -> None:
    """Set config[a][b][0][c] = value for 'a.b.0.c'."""
    keys = dotted.split(".")
    node: Any = config
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    last = keys[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


BAD_INPUTS = [
    # (what is set, value, expected key path in the message, expected reason fragment)
    ("suites.netperf.mss.start", 64, "meshperf:suites.netperf.mss", "outside 88..9000"),
    ("suites.netperf.mss.stop", 9100, "meshperf:suites.netperf.mss", "outside 88..9000"),
    ("suites.netperf.mss", [96, 20000], "meshperf:suites.netperf.mss", "outside 88..9000"),
    ("suites.netperf.mss.start", 1400, "meshperf:suites.netperf.mss", "below start"),
    ("suites.netperf.paths", [1, 7], "meshperf:suites.netperf.paths[1]", "Input should be"),
    ("suites.netperf.paths", [1, 1], "meshperf:suites.netperf.paths", "entries repeat"),
    ("suites.netperf.tools", ["iperf2"], "meshperf:suites.netperf.tools[0]", "Input should be"),
    ("suites.netperf.duration_s", 0, "meshperf:suites.netperf.duration_s", "greater than or equal to 1"),
    ("suites.netperf.udp_bandwidth", "lots", "meshperf:suites.netperf.udp_bandwidth", "not a rate"),
    ("suites.netperf.ports.netperf_data", 12865, "meshperf:suites.netperf.ports", "ports must differ"),
    ("suites.netperf.colour", "blue", "meshperf:suites.netperf.colour", "unknown key"),
    ("workloads.w3.node_selector", {"node": "worker1"}, "meshperf:suites.netperf.paths", "w1 and w3 are both on"),
    ("workloads.w2.node_selector", {"node": "worker2"}, "meshperf:suites.netperf.paths", "w1 and w2 on one node"),
    ("workloads.w1.node_selector", {"node": "gpu"}, "meshperf:workloads.w1.node_selector", "matches no node"),
    ("workloads.w4.cluster", "cluster-z", "meshperf:workloads.w4.cluster", "no cluster named"),
    ("workloads.w4.cluster", "cluster-a", "meshperf:suites.netperf.paths", "path 6 needs w4 in another cluster"),
    ("clusters.0.nodes.2.labels", {"node": "worker1"}, "meshperf:workloads.w1.node_selector", "matches several nodes"),
    ("workloads.w1.node_selector", {}, "meshperf:workloads.w1.node_selector", "at least 1 item"),
    ("workloads.w1.egress_rate", "2 gigs", "meshperf:workloads.w1.egress_rate", "not a rate"),
    ("workloads.w2.ingress_rate", "fast", "meshperf:workloads.w2.ingress_rate", "not a rate"),
    ("clusters.1.pod_subnet", "10.244.128.0/17", "meshperf:clusters", "overlaps"),
    ("clusters.0.service_subnet", "10.244.0.0/20", "meshperf:clusters[0]", "overlaps service_subnet"),
    ("clusters.0.pod_subnet", "10.244.0.0/24", "meshperf:clusters[0].pod_subnet", "too small"),
    ("clusters.0.pod_subnet", "10.244.0.0/33", "meshperf:clusters[0].pod_subnet", "valid IPv4 network"),
    ("clusters.0.kubernetes_version", "2.0", "meshperf:clusters[0].kubernetes_version", "match pattern"),
    ("clusters.0.nodes.1.name", "Worker_1", "meshperf:clusters[0].nodes[1].name", "match pattern"),
    ("clusters.0.nodes.2.name", "worker", "meshperf:clusters[0]", "node names repeat"),
    ("clusters.0.nodes.1.role", "master", "meshperf:clusters[0].nodes[1].role", "Input should be"),
    ("link.mtu", 100, "meshperf:link.mtu", "greater than or equal to 576"),
    ("link.rate", "ten gigs", "meshperf:link.rate", "not a rate"),
    ("run_id", "Run 1", "meshperf:run_id", "match pattern"),
]


@pytest.mark.parametrize(("key", "value", "where", "why"), BAD_INPUTS, ids=[b[0] + "=" + str(b[1]) for b in BAD_INPUTS])
def test_bad_input_is_one_line_naming_the_key(key: str, value: Any, where: str, why: str) -> None:
    config = copy.deepcopy(mesh_config())
    _set(config, key, value)
    with pytest.raises(StackError) as raised:
        stack_from_config(config, where="stacks/Pulumi.test.yaml")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"stacks/Pulumi.test.yaml: {where}"), message
    assert why in message, message


def test_path_needing_an_undeclared_workload() -> None:
    config = mesh_config()
    del config["workloads"]["w4"]
    with pytest.raises(StackError, match=r"suites\.netperf\.paths: path 6 needs workload 'w4'"):
        stack_from_config(config)


def test_three_clusters_are_refused() -> None:
    config = mesh_config()
    third = copy.deepcopy(config["clusters"][1])
    third.update(name="cluster-c", pod_subnet="10.246.0.0/16", service_subnet="10.98.0.0/16")
    config["clusters"].append(third)
    with pytest.raises(StackError, match=r"meshperf:clusters: List should have at most 2 items"):
        stack_from_config(config)


def test_unknown_stack_names_the_stacks_there(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"no such stack file .*kind-mesh"):
        load_stack("no-such-stack")


def test_broken_yaml_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  meshperf:link: {mtu: [\n")
    with pytest.raises(StackError, match="not valid YAML") as raised:
        load_stack(str(bad))
    assert "\n" not in str(raised.value)
    tabbed = tmp_path / "Pulumi.tabbed.yaml"
    tabbed.write_text("config:\n  meshperf:link:\n\tmtu: 1400\n")
    with pytest.raises(StackError) as raised:
        load_stack(str(tabbed))
    assert str(raised.value).startswith(f"{tabbed}:3:1: not valid YAML: ")  # file:line:column, from 1


def test_a_stack_file_path_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.mine.yaml"
    path.write_text(yaml.safe_dump({"config": {"meshperf:link": {"mtu": 1400}, "aws:region": "x"}}))
    stack = load_stack(str(path))
    assert stack.link.mtu == 1400
    assert len(stack.clusters) == 2  # defaults: the seed's two clusters
