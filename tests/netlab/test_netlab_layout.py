"""The lab's topology as data: addresses, isolation from the machine, NAT rules."""

from __future__ import annotations

import ipaddress

import pytest

from manifests import CLUSTER, render
from netlab.layout import (
    TBF_BURST,
    TBF_LATENCY,
    build_layout,
    setup_commands,
    shaping_commands,
    tbf_command,
)
from netlab.scheduled import lab_addresses
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
        cluster = stack.cluster(pod.cluster)
        if pod.workload is not None:
            assert (pod.cluster, pod.node) == (stack.node_of(pod.workload)[0].name, stack.node_of(pod.workload)[1].name)
        assert pod.ip in cluster.node_pod_subnet(pod.node)
        assert pod.gateway == cluster.node_pod_subnet(pod.node).network_address + 1
    assert layout.client("w1").node == layout.server("w2").node
    assert layout.client("w3").node != layout.server("w2").node
    assert layout.client("w1").ip != layout.server("w2").ip


@pytest.mark.parametrize("name", ["kind-local", "kind-mesh", "ci-example", "kind-dual"])
def test_every_rendered_pod_and_job_has_a_namespace_and_ip_of_its_own(name: str) -> None:
    """As a CNI gives them: one namespace and address per Pod (servers, log viewers) and per Job, on the
    node's pod /24, none shared on a node, the same for the same plan; a `hostNetwork` pod (the host
    baseline's, in ci-example) in its node's namespace at the node's address instead."""
    stack, plan, layout = _layout(name)
    objects = render(stack, plan, stack.kubernetes, lab_addresses(stack, plan, layout))
    rendered = {
        (o["metadata"]["labels"][CLUSTER], o["metadata"]["namespace"], o["metadata"]["name"])
        for o in objects
        if o["kind"] in ("Pod", "Job")
    }
    assert {(p.cluster, p.namespace, p.name) for p in layout.pods} == rendered
    assert len(layout.pods) == len(rendered)
    on_pod_network = [p for p in layout.pods if not p.host_network]
    assert len({p.ns for p in on_pod_network}) == len(on_pod_network)
    assert len({p.ip for p in on_pod_network}) == len(on_pod_network)  # the clusters' pod subnets differ too
    assert len({p.host_veth for p in on_pod_network}) == len(on_pod_network)
    for pod in on_pod_network:
        subnet = stack.cluster(pod.cluster).node_pod_subnet(pod.node)
        assert pod.ip in subnet and pod.ip not in (subnet.network_address, pod.gateway, subnet.broadcast_address)
    for pod in layout.pods:
        if pod.host_network:
            node = layout.node(pod.cluster, pod.node)
            assert (pod.ns, pod.ip) == (node.ns, node.ip)
    assert len(layout.namespaces) == len(layout.clusters) + len(layout.nodes) + len(on_pod_network)
    assert any(p.host_network for p in layout.pods) == stack.suites.netperf.host_baseline
    assert build_layout(stack, plan, "mptest00") == layout
    # the log viewers run too, in their own namespaces, on the nodes whose logs they read
    viewers = [p for p in layout.pods if p.workload is None]
    assert viewers and all(p.name.startswith("log-viewer-") for p in viewers)


def test_a_workloads_server_pod_and_client_job_have_different_ips_on_their_node() -> None:
    """w2 serves (its server Pod) and is a client reaching its own VIP (its client Job): two pods, two IPs."""
    stack, _, layout = _layout()
    server, client = layout.server("w2"), layout.client("w2")
    assert (server.name, client.name) == ("w2-server", "w2-client")
    assert server.ip != client.ip and server.ns != client.ns
    assert server.node == client.node
    subnet = stack.cluster("cluster-a").node_pod_subnet(server.node)
    assert server.ip in subnet and client.ip in subnet


def test_pod_lookups_name_what_they_cannot_find() -> None:
    _, _, layout = _layout()
    with pytest.raises(KeyError, match="0 lab pods named 'w2'"):
        layout.pod("w2")  # a workload is no pod
    with pytest.raises(KeyError, match="2 lab pods named 'log-viewer-worker', not one"):
        layout.pod("log-viewer-worker")  # one per cluster: say which
    assert layout.pod("log-viewer-worker", "cluster-b").cluster == "cluster-b"


def test_only_vip_targets_get_a_cluster_ip_in_their_service_subnet() -> None:
    stack, _, layout = _layout()
    assert layout.server("w2").vip in stack.cluster("cluster-a").service_subnet
    assert layout.server("w4").vip is None  # path 6 uses the pod IP
    assert [p.name for p in layout.pods if p.vip is not None] == ["w2-server"]  # the VIP's endpoint is the server Pod


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
    stack, plan, layout = _layout()
    nodes = sum(len(c.nodes) for c in stack.clusters)
    # two server Pods, three client Jobs, a receiver and a sender Job per E2SAR rate, three log viewers
    pods = 2 + 3 + 2 * len(plan.e2sar) + 3
    assert len(layout.namespaces) == len(stack.clusters) + nodes + pods
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


def test_pod_rates_shape_every_pod_of_the_workload() -> None:
    """The bandwidth plugin shapes each pod that carries the workload's annotations: here the server Pod,
    the client Job and the E2SAR receiver Job of w2, and the client Job of w1."""
    _, _, layout = _layout("kind-local", w1={"egress_rate": "300mbit"}, w2={"ingress_rate": "1gbit"})
    w1 = [p for p in layout.pods if p.workload == "w1"]
    w2 = [p for p in layout.pods if p.workload == "w2"]
    assert [p.name for p in w1] == ["w1-client"]
    assert [p.name for p in w2] == ["w2-server", "w2-client", "e2sar-100m-receiver"]
    nodes = {p.name: layout.node(p.cluster, p.node) for p in w2}
    assert sorted(shaping_commands(layout)) == sorted(
        [
            # what w1's pod sends leaves its own end of the veth, in the pod's namespace
            *[(f"w1 egress_rate 300mbit ({p.name})", tbf_command(p.ns, "eth0", "300mbit")) for p in w1],
            # what w2's pods receive leaves the node's end of each pod's veth, in the node's namespace
            *[(f"w2 ingress_rate 1gbit ({p.name})", tbf_command(nodes[p.name].ns, p.host_veth, "1gbit")) for p in w2],
        ]
    )
    for p in w2:  # each node end is the very device that setup plugs into the node's bridge for that pod
        node = nodes[p.name].ns
        plug = ("ip", "-n", p.ns, "link", "add", "eth0", "type", "veth", "peer", "name", p.host_veth, "netns", node)
        assert plug in setup_commands(layout)
    assert len({p.host_veth for p in layout.pods}) == len(layout.pods)


def test_pod_rates_beside_the_link_rate() -> None:
    _, plan, layout = _layout(w4={"egress_rate": "1gbit", "ingress_rate": "2gbit"})
    w4 = ["w4-server"] + [f"{case.id}-receiver" for case in plan.e2sar]
    whats = [what for what, _ in shaping_commands(layout)]
    assert whats == [
        "link rate 10gbit",
        "link rate 10gbit",
        *[line for name in w4 for line in (f"w4 egress_rate 1gbit ({name})", f"w4 ingress_rate 2gbit ({name})")],
    ]
    assert _layout()[2].client("w1").egress_rate is None


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
