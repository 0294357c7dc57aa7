"""The lab's topology as data: addresses, isolation from the machine, NAT rules."""

from __future__ import annotations

import ipaddress

from netlab.layout import build_layout, nat_rules, service_ports, setup_commands, shaping_commands
from spec.load import load_stack
from spec.model import Stack
from spec.plan import build_plan


def _layout(name: str = "kind-mesh"):
    stack = load_stack(name)
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
    _, _, layout = _layout()
    for argv in setup_commands(layout) + shaping_commands(layout):
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
    assert len(shaping) == 2 and all("tbf" in a and "10gbit" in a for a in shaping)


def test_single_cluster_has_no_link() -> None:
    _, _, layout = _layout("kind-local")
    assert not [a for a in setup_commands(layout) if "link0" in a]
    assert shaping_commands(layout) == []


def test_nat_rules_dnat_each_service_port_with_hairpin_masquerade() -> None:
    _, plan, layout = _layout()
    rules = nat_rules(layout, "cluster-a")
    w2 = layout.pod("w2")
    for sp in service_ports(plan, "w2"):
        assert f"-d {w2.vip}/32 -p {sp.protocol} -m {sp.protocol} --dport {sp.port}" in rules
        assert f"-j DNAT --to-destination {w2.ip}:{sp.port}" in rules
    assert f"-A KUBE-SEP-W2 -s {w2.ip}/32 -j KUBE-MARK-MASQ" in rules
    assert "-j MASQUERADE" in rules
    assert rules.startswith("*nat\n") and rules.endswith("COMMIT\n")
    assert "DNAT" not in nat_rules(layout, "cluster-b")


def test_service_ports_cover_both_protocols_for_iperf3_and_netperf_data_port() -> None:
    plan = build_plan(Stack())
    ports = {(p.protocol, p.port) for p in service_ports(plan, "w2")}
    assert ports == {("tcp", 5201), ("udp", 5201), ("tcp", 12865), ("tcp", 12866)}


def test_lab_addresses_are_private() -> None:
    _, _, layout = _layout()
    for node in layout.nodes:
        assert ipaddress.ip_address(node.ip).is_private
