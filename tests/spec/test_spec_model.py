"""The stack model: defaults reproduce the seed, and bad stacks fail with one line naming the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from spec.load import StackError, load_stack, stack_from_config, stack_name
from spec.model import NetPath, NetperfSuite, Stack, rate_bits_per_s

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def mesh_config() -> dict[str, Any]:
    document = yaml.safe_load((STACKS / "Pulumi.kind-mesh.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in document["config"].items() if k.startswith("meshperf:")}


def test_defaults_reproduce_the_seed_matrix() -> None:
    stack = Stack()
    suite = stack.suites.netperf
    assert suite.mss_points() == list(range(96, 1377, 64))
    assert len(suite.mss_points()) == 21
    assert suite.paths == list(NetPath)[:6]
    assert set(suite.tools) == {"iperf3_tcp", "iperf3_udp", "tcp_stream", "tcp_rr"}
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


def test_rates_are_bits_per_second_and_tcs_byte_units_are_refused() -> None:
    assert rate_bits_per_s("1gbit") == 10**9
    assert rate_bits_per_s("500mbit") == 500 * 10**6
    assert rate_bits_per_s("2.5G") == 2_500_000_000
    with pytest.raises(ValueError, match="not a rate"):
        rate_bits_per_s("fast")
    # tc(8): "mbps" and "gbps" are bytes per second; the line names the bit spelling of both readings.
    with pytest.raises(ValueError, match=r"^'1gbps' is bytes per second to tc: write '8gbit' \(or '1gbit' for bits"):
        rate_bits_per_s("1gbps")
    with pytest.raises(ValueError, match=r"'2.5mbps' is bytes per second to tc: write '20mbit'"):
        rate_bits_per_s("2.5mbps")
    for zero in ("0mbit", "0", "0.0gbit"):
        with pytest.raises(ValueError, match="a rate must be above zero"):
            rate_bits_per_s(zero)


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
    ("suites.netperf.paths", [1, 10], "meshperf:suites.netperf.paths[1]", "Input should be"),
    ("suites.netperf.paths", [1, 7], "meshperf:suites.netperf.paths", "path 7 is a host path: set host_baseline"),
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
    ("link.rate", "0mbit", "meshperf:link.rate", "a rate must be above zero"),
    ("link.rate", "1gbps", "meshperf:link.rate", "bytes per second to tc: write '8gbit'"),
    ("workloads.w1.egress_rate", "100mbps", "meshperf:workloads.w1.egress_rate", "write '800mbit'"),
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


def test_udp_length_takes_a_sweep_a_list_or_one_length() -> None:
    assert NetperfSuite().udp_length_points() == list(range(96, 1423, 64))  # the seed's 96 till 1422 step 64
    assert NetperfSuite(udp_length={"start": 1000, "stop": 1422, "step": 200}).udp_length_points() == [1000, 1200, 1400]
    assert NetperfSuite(udp_length=[1422, 96]).udp_length_points() == [1422, 96]
    assert NetperfSuite(udp_length=1400).udp_length_points() == [1400]
    for bad, words in (([8], "UDP length 8 is outside 16..65507"), ({"start": 96, "stop": 70000}, "stop 70000")):
        with pytest.raises(ValidationError, match=words):
            NetperfSuite(udp_length=bad)


def test_streams_are_bounded() -> None:
    assert NetperfSuite(streams=8).streams == 8
    with pytest.raises(ValidationError, match="streams"):
        NetperfSuite(streams=0)


def test_old_tool_names_still_load_with_a_warning() -> None:
    with pytest.warns(FutureWarning) as caught:
        suite = NetperfSuite(tools=["iperf3_tcp", "netperf_rr", "netperf_stream"])
    assert [str(w.message) for w in caught] == [
        "tool 'netperf_rr' is deprecated: use 'tcp_rr'",
        "tool 'netperf_stream' is deprecated: use 'tcp_stream'",
    ]
    assert suite.tools == ["iperf3_tcp", "tcp_rr", "tcp_stream"]
    with pytest.raises(ValidationError, match="tools"):
        NetperfSuite(tools=["tcp_crrr"])


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            "config:\n  1: x\n  meshperf:run_id: '1'\n",
            "config key 1 is not a 'namespace:key' name (write meshperf:KEY)",
        ),
        ("config:\n  meshpref:suites: {}\n", "meshpref:suites: namespace 'meshpref' is not 'meshperf' (a typo?)"),
        (
            "config:\n  meshperf:run_id: '2'\n  mesh-perf:link: {}\n",
            "mesh-perf:link: namespace 'mesh-perf' is not 'meshperf'",
        ),
        ("config:\n  aws:region: x\n", "config has no meshperf: key"),
        ("config: {}\n", "config has no meshperf: key"),
        ("config: [1]\n", "'config' must be a mapping"),
    ],
)
def test_a_stack_file_that_would_run_the_defaults_unasked_is_refused(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(text)
    with pytest.raises(StackError) as raised:
        load_stack(str(path))
    assert str(raised.value).startswith(f"{path}: {why}"), raised.value


def test_a_folder_named_like_a_stack_file_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "Pulumi.dir.yaml"
    folder.mkdir()
    with pytest.raises(StackError, match=r"Pulumi.dir.yaml: is a folder, not a stack file$"):
        load_stack(str(folder))
    with pytest.raises(StackError, match=r"^[^\n]*: is a folder, not a stack file$"):
        load_stack(f"{tmp_path}/")


def test_a_path_to_a_missing_stack_file_is_named_as_given(tmp_path: Path) -> None:
    """Not mangled into stacks/Pulumi.<path>.yaml: the path the user typed, with or without .yaml."""
    for given in (str(tmp_path / "x.yaml"), str(tmp_path / "x")):
        with pytest.raises(StackError) as raised:
            load_stack(given)
        assert str(raised.value).startswith(f"{given}: no such stack file")
    assert stack_name(str(tmp_path / "Pulumi.mine.yaml")) == "mine"
    assert stack_name(str(tmp_path / "x.yaml")) == "x" and stack_name("kind-local") == "kind-local"


def test_host_twins_keep_the_placement_and_drop_the_rates() -> None:
    stack = Stack.model_validate(
        {
            "workloads": {
                "w1": {"cluster": "cluster-a", "node_selector": {"node": "worker1"}, "egress_rate": "1gbit"},
                "w2": {"cluster": "cluster-a", "node_selector": {"node": "worker1"}},
                "w3": {"cluster": "cluster-a", "node_selector": {"node": "worker2"}},
                "w4": {"cluster": "cluster-b", "node_selector": {"node": "worker1"}},
            }
        }
    )
    twin = stack.workload("w1-host")
    assert (twin.cluster, twin.node_selector, twin.egress_rate) == ("cluster-a", {"node": "worker1"}, None)
    assert stack.node_of("w1-host") == stack.node_of("w1")


def test_the_host_baseline_needs_the_pod_ends_and_refuses_names_it_owns() -> None:
    only_w2 = {"w2": {"cluster": "cluster-a", "node_selector": {"node": "worker1"}}}
    with pytest.raises(ValueError, match="host_baseline: host-same needs workload 'w1'"):
        Stack.model_validate({"workloads": only_w2, "suites": {"netperf": {"paths": [5], "host_baseline": True}}})
    Stack.model_validate({"workloads": only_w2, "suites": {"netperf": {"paths": [5]}}})
    taken = {**only_w2, "w2-host": {"cluster": "cluster-a", "node_selector": {"node": "worker1"}}}
    with pytest.raises(ValueError, match="w2-host: names ending in '-host'"):
        Stack.model_validate({"workloads": taken, "suites": {"netperf": {"paths": [5]}}})
