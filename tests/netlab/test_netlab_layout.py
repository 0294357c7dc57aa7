"""The lab's topology as data: addresses, isolation from the machine, NAT rules."""

from __future__ import annotations

import ipaddress

import pytest

from netlab.layout import (
    TBF_BURST,
    TBF_LATENCY,
    build_layout,
    setup_commands,
    shaping_commands,
    tbf_command,
)
from spec.load import load_stack
from spec.model import Stack
from spec.plan import build_plan


def _layout(name: str = "kind-mesh", **rates: dict[str, str]):
    stack = load_stack(name)
    if rates:  # workload -> {"egress_rate": ..., "ingress_rate": ...}
        data = stack.model_dump()
        for workload, keys in rates.items():
            data["workloads"][workload].update(keys)
        stack = Stack.model_validate(data)
    plan = build_plan(stack)
    return stack, plan, build_layout(stack, plan, "mptest00")


def test_pods_sit_on_their_nodes_pod_subnets() -> None:
    stack, _, layout = _layout()
    for pod in layout.pods:
        cluster, node = stack.node_of(pod.workload)
        assert pod.node == node.name
        assert pod.ip in cluster.node_pod_subnet(node.name)
        assert pod.gateway == cluster.node_pod_subnet(node.name).network_address + 1
    assert layout.pod("w1").node == layout.pod("w2").node
    assert layout.pod("w3").node != layout.pod("w2").node
    assert layout.pod("w1").ip != layout.pod("w2").ip


def test_only_vip_targets_get_a_cluster_ip_in_their_service_subnet() -> None:
    stack, _, layout = _layout()
    assert layout.pod("w2").vip in stack.cluster("cluster-a").service_subnet
    assert layout.pod("w4").vip is None  # path 6 uses the pod IP
    assert layout.pod("w1").vip is None
    env = layout.target_env()
    assert env["MESHPERF_W2_VIP"] == str(layout.pod("w2").vip)
    assert env["MESHPERF_W4_POD_IP"] == str(layout.pod("w4").ip)


def test_every_command_stays_inside_lab_namespaces() -> None:
    _, _, layout = _layout(w1={"egress_rate": "300mbit"}, w4={"ingress_rate": "1gbit"})
    for argv in setup_commands(layout) + [argv for _, argv in shaping_commands(layout)]:
        assert argv[0] in ("ip", "tc")
        if argv[:3] == ("ip", "netns", "add"):
            assert argv[3].startswith("mptest00-")
            continue
        # every other command names a lab namespace: none runs in the machine's own
        ns = argv[2] if argv[1] == "-n" else argv[3]
        assert argv[1] in ("-n", "netns"), argv
        assert ns.startswith("mptest00-"), argv
        if "peer" in argv:
            assert argv[argv.index("netns", 4) + 1].startswith("mptest00-"), argv


def test_namespaces_are_one_per_node_and_pod_plus_cluster_networks() -> None:
    stack, _, layout = _layout()
    nodes = sum(len(c.nodes) for c in stack.clusters)
    assert len(layout.namespaces) == len(stack.clusters) + nodes + 4
    assert len(set(layout.namespaces)) == len(layout.namespaces)


def test_link_carries_the_stack_mtu_and_rate() -> None:
    _, _, layout = _layout()
    link = next(a for a in setup_commands(layout) if "link0" in a and "add" in a and "veth" in a)
    assert link[link.index("mtu") + 1] == "1500"
    shaping = shaping_commands(layout)
    assert [what for what, _ in shaping] == ["link rate 10gbit"] * 2
    assert [argv for _, argv in shaping] == [tbf_command(net.ns, "link0", "10gbit") for net in layout.clusters]


def test_single_cluster_has_no_link() -> None:
    _, _, layout = _layout("kind-local")
    assert not [a for a in setup_commands(layout) if "link0" in a]
    assert shaping_commands(layout) == []


def test_tbf_takes_the_rate_in_bits_as_the_stack_model_reads_it() -> None:
    argv = tbf_command("mptest00-x", "eth0", "2.5G")
    assert argv == (
        *("ip", "netns", "exec", "mptest00-x", "tc", "qdisc", "add", "dev", "eth0", "root", "tbf"),
        *("rate", "2500000000bit", "burst", TBF_BURST, "latency", TBF_LATENCY),
    )
    with pytest.raises(ValueError, match="'500mbps' is bytes per second to tc: write '4000mbit'"):
        tbf_command("n", "d", "500mbps")  # tc would read bytes per second: refused, never guessed


def test_pod_rates_shape_the_pods_veth_ends() -> None:
    _, _, layout = _layout("kind-local", w1={"egress_rate": "300mbit"}, w2={"ingress_rate": "1gbit"})
    w1, w2 = layout.pod("w1"), layout.pod("w2")
    node = layout.node(w2.cluster, w2.node)
    assert shaping_commands(layout) == [
        # what w1 sends leaves its own end of the veth, in the pod's namespace
        ("w1 egress_rate 300mbit", tbf_command(w1.ns, "eth0", "300mbit")),
        # what w2 receives leaves the node's end of w2's veth, in the node's namespace
        ("w2 ingress_rate 1gbit", tbf_command(node.ns, w2.host_veth, "1gbit")),
    ]
    # that node end is the very device that setup plugs into the node's bridge for w2
    plug = ("ip", "-n", w2.ns, "link", "add", "eth0", "type", "veth", "peer", "name", w2.host_veth, "netns", node.ns)
    assert plug in setup_commands(layout)
    assert len({p.host_veth for p in layout.pods}) == len(layout.pods)


def test_pod_rates_beside_the_link_rate() -> None:
    _, _, layout = _layout(w4={"egress_rate": "1gbit", "ingress_rate": "2gbit"})
    whats = [what for what, _ in shaping_commands(layout)]
    assert whats == ["link rate 10gbit", "link rate 10gbit", "w4 egress_rate 1gbit", "w4 ingress_rate 2gbit"]
    assert _layout()[2].pod("w1").egress_rate is None


def test_lab_addresses_are_private() -> None:
    _, _, layout = _layout()
    for node in layout.nodes:
        assert ipaddress.ip_address(node.ip).is_private


def test_each_cluster_routes_the_other_clusters_pods_and_nodes_over_the_link() -> None:
    """Masqueraded traffic comes from the other cluster's node IPs: their replies must find the way back."""
    _, _, layout = _layout()
    a, b = layout.clusters
    cmds = setup_commands(layout)
    for here, there in ((a, b), (b, a)):
        for net in (there.pod_subnet, there.node_net):
            assert ("ip", "-n", here.ns, "route", "add", str(net), "via", str(there.link_ip)) in cmds
