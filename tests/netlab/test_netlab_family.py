"""The lab's IPv6 side as data: addresses and commands, and each family's rules from one set of objects."""

from __future__ import annotations

import ipaddress

from manifests import Obj, clients, find, render
from netlab.cluster_state import cluster_state
from netlab.layout import build_layout, ipv6_commands, setup_commands
from netlab.netpol import policy_mangle
from netlab.scheduled import lab_addresses
from netlab.services import kube_proxy_nat, service_port_rules
from spec.load import load_stack
from spec.plan import build_plan

POD = {
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "ns1", "labels": {"app": "web"}},
    "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
    "status": {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00:10:244::1"}]},
}
CLIENT = {
    "kind": "Pod",
    "metadata": {"name": "client", "namespace": "ns1", "labels": {"app": "client"}},
    "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
    "status": {"podIP": "fd00:10:244::2", "podIPs": [{"ip": "fd00:10:244::2"}]},  # an IPv6-only pod
}


def _service(families: list[str] | None) -> dict:
    spec = {"selector": {"app": "web"}, "ports": [{"name": "h", "port": 80}], "clusterIPs": ["10.96.0.10"]}
    if families:
        spec.update(ipFamilies=families, clusterIPs=["10.96.0.10", "fd00:10:96::10"])
    return {"kind": "Service", "metadata": {"name": "web", "namespace": "ns1"}, "spec": spec}


def test_each_family_sees_the_pods_at_their_address_of_it() -> None:
    v4, v6 = cluster_state([POD, CLIENT]), cluster_state([POD, CLIENT], "ipv6")
    assert [str(e.ip) for e in v4.endpoints] == ["10.0.0.1"]  # the IPv6-only pod has no IPv4 endpoint
    assert [str(e.ip) for e in v6.endpoints] == ["fd00:10:244::1", "fd00:10:244::2"]
    assert v6.family == "ipv6"


def test_a_service_has_ipv6_rules_only_when_its_families_hold_ipv6() -> None:
    assert service_port_rules(cluster_state([POD, _service(None)], "ipv6"), {}) == []
    (rule,) = service_port_rules(cluster_state([POD, _service(["IPv4", "IPv6"])], "ipv6"), {})
    assert str(rule.cluster_ip) == "fd00:10:96::10"
    text = "\n".join(kube_proxy_nat([rule], ipaddress.IPv6Network("fd00:10:244::/56")).rules)
    assert "! -s fd00:10:244::/56 -d fd00:10:96::10/128 -p tcp" in text
    assert "-s fd00:10:244::1/128 " in text  # the hairpin mark, per endpoint
    assert "-j DNAT --to-destination [fd00:10:244::1]:80" in text
    (v4,) = service_port_rules(cluster_state([POD, _service(["IPv4", "IPv6"])]), {})
    assert str(v4.cluster_ip) == "10.96.0.10"


def test_ipv6_policies_pass_neighbor_discovery_and_keep_only_their_familys_blocks() -> None:
    policy = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "np", "namespace": "ns1"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.1.0.0/16"}}, {"ipBlock": {"cidr": "fd00:1::/64"}}]}],
        },
    }
    v6 = policy_mangle(cluster_state([POD, policy], "ipv6"), "n1").rules
    assert v6[1].startswith("-A KNP-POSTROUTING -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation ")
    assert v6[2].startswith("-A KNP-POSTROUTING -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-advertisement ")
    assert "-A KNP-POSTROUTING -d fd00:10:244::1/128 -j KNP-VERDICT" in v6
    assert any("-s fd00:1::/64" in r for r in v6) and not any("10.1.0.0/16" in r for r in v6)
    v4 = policy_mangle(cluster_state([POD, policy]), "n1").rules
    assert not any("icmp6" in r or "fd00:" in r for r in v4)


def _job_env(objects: list[Obj], client: str) -> dict[str, str]:
    """The env the client's rendered Job gives its container: the addresses of its targets."""
    (container,) = find(objects, "Job", clients.job_name(client))["spec"]["template"]["spec"]["containers"]
    return {str(e["name"]): str(e["value"]) for e in container.get("env") or [] if "value" in e}


def test_the_dual_layout_adds_ipv6_beside_ipv4() -> None:
    stack = load_stack("kind-dual")
    plan = build_plan(stack)
    layout = build_layout(stack, plan, "mpx")
    w2 = layout.server("w2")
    assert w2.families == ("ipv4", "ipv6")
    assert w2.ip6 in stack.cluster("cluster-a").node_pod_subnet_v6("worker")
    assert w2.vip6 in stack.cluster("cluster-a").service_subnet_v6
    commands = setup_commands(layout)
    v6 = ipv6_commands(layout)
    assert all(c in commands for c in v6)
    adds = [c for c in v6 if "addr" in c]
    assert adds and all(c[-1] == "nodad" for c in adds)  # usable at once
    assert any(c[-1] == "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding" for c in v6)
    assert any(c[-1] == "echo 1 > /proc/sys/net/bridge/bridge-nf-call-ip6tables" for c in v6)  # hairpin DNAT
    route = ("ip", "-n", "mpx-cluster-a-net", "-6", "route", "add", "fd00:10:245::/56", "via", "fd00:ac1f::2")
    assert route in commands  # the link to the other cluster's IPv6 pods
    addresses = lab_addresses(stack, plan, layout)
    env = _job_env(render(stack, plan, stack.kubernetes, addresses), "w1")
    assert env["MESHPERF_W2_POD_IP6"] == str(w2.ip6) and env["MESHPERF_W2_VIP6"] == str(w2.vip6)
    assert addresses.cluster_ips6["w2-vip"] == w2.vip6
    assert addresses.cluster_ips6["w2-hairpin"] in stack.cluster("cluster-a").service_subnet_v6
    assert addresses.node_ips6["cluster-a"] and addresses.pod_ips6["w4"] == layout.server("w4").ip6


def test_an_ipv4_stack_lays_no_ipv6() -> None:
    stack = load_stack("kind-mesh")
    plan = build_plan(stack)
    layout = build_layout(stack, plan, "mpx")
    assert ipv6_commands(layout) == [] and all(p.ip6 is None for p in layout.pods)
    objects = render(stack, plan, stack.kubernetes, lab_addresses(stack, plan, layout))
    assert "MESHPERF_W2_POD_IP6" not in _job_env(objects, "w1")
