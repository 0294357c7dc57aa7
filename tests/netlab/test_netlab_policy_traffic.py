"""Services, NetworkPolicies and kindnet's masquerade, enforced for real between lab namespaces.

One lab (kind-mesh's namespaces, an echo server in each pod) serves every test; each test
writes the nodes' iptables from its own objects and sends real TCP/UDP. Policies are written
as kube-network-policies' own tests write them (pkg/networkpolicy/networkpolicy_test.go).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator

import pytest
from leakguard import become_subreaper, processes_left
from policylab import PolicyLab, namespace, pod, policy

from netlab.namespaces import list_namespaces

CLIENTS_A, CLIENTS_B, SERVERS = "ns-a", "ns-b", "ns-srv"
ECHO = {"name": "echo-tcp", "containerPort": 7006, "protocol": "TCP"}


@pytest.fixture(scope="module")
def lab() -> Iterator[PolicyLab]:
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root: network namespaces")
    become_subreaper()
    with PolicyLab() as built:
        yield built
    assert not [ns for ns in list_namespaces() if ns.startswith(f"{built.layout.prefix}-")], "namespaces left"
    assert not (left := processes_left()), f"processes left: {sorted(left)}"


def objects(lab: PolicyLab, *extra: dict, cluster_b: list[dict] | None = None) -> dict[str, list[dict]]:
    """w1 a client in ns-a (team blue), w3 a client in ns-b (team red), w2 the server, plus `extra`."""
    layout = lab.layout
    a = [
        namespace(CLIENTS_A, {"team": "blue"}),
        namespace(CLIENTS_B, {"team": "red"}),
        namespace(SERVERS, {}),
        pod(layout, "w1", CLIENTS_A, {"app": "client"}),
        pod(layout, "w3", CLIENTS_B, {"app": "client"}),
        pod(layout, "w2", SERVERS, {"app": "server"}, [ECHO]),
        *extra,
    ]
    b = [pod(layout, "w4", SERVERS, {"app": "server"}), *(cluster_b or [])]
    return {"cluster-a": a, "cluster-b": b}


def server_ingress(rules: list[dict], name: str = "srv-ingress") -> dict:
    return policy(name, SERVERS, {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": rules})


def everyone(*ports: dict) -> list[dict]:
    return [{"from": [{"namespaceSelector": {}}], "ports": list(ports)}]


def test_allowed_ports_pass_and_the_rest_is_dropped_naming_the_policy(lab: PolicyLab) -> None:
    lab.apply(objects(lab, server_ingress(everyone({"port": 7000}, {"protocol": "TCP", "port": 7001}))))
    assert lab.reaches("w1", lab.ip("w2"), 7000)
    assert lab.reaches("w1", lab.ip("w2"), 7001)
    assert not lab.reaches("w1", lab.ip("w2"), 7002)
    assert not lab.reaches("w1", lab.ip("w2"), 7000, "udp")  # a port without protocol is TCP
    (drop,) = lab.drops()
    assert drop.isolation.direction == "ingress" and drop.isolation.endpoint.name == "ns-srv/w2"
    assert drop.isolation.policies == ("ns-srv/srv-ingress",)
    assert "ns-srv/srv-ingress" in str(drop) and drop.packets >= 2
    # each denied flow, after DNAT, with its packets counted exactly (one UDP datagram was sent)
    flows = {(f.src, f.protocol, f.port, f.dst): n for f, n in drop.flows}
    assert set(flows) == {(lab.ip("w1"), p, port, lab.ip("w2")) for p, port in (("tcp", "7002"), ("udp", "7000"))}
    assert flows[lab.ip("w1"), "udp", "7000", lab.ip("w2")] == 1


def test_dropping_one_rule_denies_only_that_flow(lab: PolicyLab) -> None:
    full = everyone({"port": 7000}, {"port": 7001})
    lab.apply(objects(lab, server_ingress(full)))
    assert lab.reaches("w1", lab.ip("w2"), 7000) and lab.reaches("w1", lab.ip("w2"), 7001)
    mutated = [{**full[0], "ports": [{"port": 7000}]}]
    lab.apply(objects(lab, server_ingress(mutated)))
    assert lab.reaches("w1", lab.ip("w2"), 7000)
    assert not lab.reaches("w1", lab.ip("w2"), 7001)


def test_replies_of_admitted_flows_pass_a_default_deny(lab: PolicyLab) -> None:
    deny_all = policy("default-deny", SERVERS, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    lab.apply(objects(lab, deny_all, server_ingress(everyone({"port": 7000}, {"protocol": "UDP", "port": 7000}))))
    # w2 may send nothing, yet the echoes come back: established (TCP) and reply (UDP) packets
    assert lab.reaches("w1", lab.ip("w2"), 7000)
    assert lab.reaches("w1", lab.ip("w2"), 7000, "udp")
    assert not lab.reaches("w2", lab.ip("w1"), 7000)  # its own new flows are denied
    assert {(d.isolation.direction, d.isolation.endpoint.name) for d in lab.drops()} == {("egress", "ns-srv/w2")}


def test_end_port_admits_the_range_of_its_protocol_only(lab: PolicyLab) -> None:
    lab.apply(objects(lab, server_ingress(everyone({"protocol": "UDP", "port": 7003, "endPort": 7005}))))
    assert lab.reaches("w1", lab.ip("w2"), 7003, "udp")
    assert lab.reaches("w1", lab.ip("w2"), 7005, "udp")
    assert not lab.reaches("w1", lab.ip("w2"), 7006, "udp")
    assert not lab.reaches("w1", lab.ip("w2"), 7002, "udp")
    assert not lab.reaches("w1", lab.ip("w2"), 7004)  # TCP


def test_ip_block_except(lab: PolicyLab) -> None:
    block = {"ipBlock": {"cidr": "10.244.0.0/16", "except": [f"{lab.ip('w3')}/32"]}}
    lab.apply(objects(lab, server_ingress([{"from": [block], "ports": [{"port": 7000}]}])))
    assert lab.reaches("w1", lab.ip("w2"), 7000)
    assert not lab.reaches("w3", lab.ip("w2"), 7000)


@pytest.mark.parametrize("order", [("w1", "w3"), ("w3", "w1")])
def test_ip_block_with_two_excepts_drops_both(lab: PolicyLab, order: tuple[str, str]) -> None:
    """Issue 19: writing only an ipBlock's first `except` passed every test (each listed one)."""
    block = {"ipBlock": {"cidr": "10.244.0.0/16", "except": [f"{lab.ip(w)}/32" for w in order]}}
    lab.apply(objects(lab, server_ingress([{"from": [block], "ports": [{"port": 7000}]}])))
    assert not lab.reaches("w1", lab.ip("w2"), 7000)
    assert not lab.reaches("w3", lab.ip("w2"), 7000)
    # The same block with neither excepted admits both: the drops above are the excepts' doing.
    whole = {"ipBlock": {"cidr": "10.244.0.0/16"}}
    lab.apply(objects(lab, server_ingress([{"from": [whole], "ports": [{"port": 7000}]}])))
    assert lab.reaches("w1", lab.ip("w2"), 7000) and lab.reaches("w3", lab.ip("w2"), 7000)


@pytest.mark.parametrize(
    ("peer", "w1", "w3"),
    [
        ({"namespaceSelector": {"matchLabels": {"team": "blue"}}}, True, False),
        (
            {"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["red"]}]}},
            False,
            True,
        ),
        (
            {"namespaceSelector": {"matchLabels": {"team": "red"}}, "podSelector": {"matchLabels": {"app": "client"}}},
            False,
            True,
        ),
        (
            {"namespaceSelector": {"matchLabels": {"team": "red"}}, "podSelector": {"matchLabels": {"app": "other"}}},
            False,
            False,
        ),
        ({"podSelector": {"matchLabels": {"app": "client"}}}, False, False),  # the policy's namespace only
        ({"namespaceSelector": {}}, True, True),
    ],
)
def test_namespace_and_pod_selectors(lab: PolicyLab, peer: dict, w1: bool, w3: bool) -> None:
    lab.apply(objects(lab, server_ingress([{"from": [peer], "ports": [{"port": 7000}]}])))
    assert lab.reaches("w1", lab.ip("w2"), 7000) is w1
    assert lab.reaches("w3", lab.ip("w2"), 7000) is w3


def test_named_ports_resolve_against_the_pod_the_packet_goes_to(lab: PolicyLab) -> None:
    named = [{"to": [{"namespaceSelector": {}}], "ports": [{"port": "echo-tcp"}]}]
    client_egress = policy("client-egress", CLIENTS_A, {"podSelector": {}, "policyTypes": ["Egress"], "egress": named})
    lab.apply(objects(lab, server_ingress(everyone({"port": "echo-tcp"})), client_egress))
    assert lab.reaches("w3", lab.ip("w2"), 7006)  # ingress: w2's container port echo-tcp
    assert not lab.reaches("w3", lab.ip("w2"), 7007)
    assert lab.reaches("w1", lab.ip("w2"), 7006)  # egress: the destination w2 names 7006
    assert not lab.reaches("w1", lab.ip("w3"), 7006)  # w3 names no echo-tcp port


def test_probes_from_the_node_pass_as_root_only(lab: PolicyLab) -> None:
    deny_all = policy("default-deny", SERVERS, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    lab.apply(objects(lab, deny_all))
    assert not lab.reaches("w1", lab.ip("w2"), 7000)
    # kube-network-policies accepts what root on the node sends (`meta skuid 0`): the kubelet's probes
    assert lab.reaches("cluster-a/worker", lab.ip("w2"), 7000)
    assert not lab.reaches("cluster-a/worker", lab.ip("w2"), 7000, uid=65534)


def test_masqueraded_cross_cluster_flow_needs_the_node_blocks(lab: PolicyLab) -> None:
    subnet_only = [{"from": [{"ipBlock": {"cidr": "10.244.0.0/16"}}], "ports": [{"port": 7000}]}]
    lab.apply(objects(lab, cluster_b=[server_ingress(subnet_only)]))
    assert not lab.reaches("w1", lab.ip("w4"), 7000)
    (drop,) = lab.drops()
    assert drop.isolation.endpoint.name == "ns-srv/w4" and drop.isolation.policies == ("ns-srv/srv-ingress",)
    worker = lab.layout.node("cluster-a", "worker")
    with_nodes = [
        {
            "from": [{"ipBlock": {"cidr": "10.244.0.0/16"}}, {"ipBlock": {"cidr": f"{worker.ip}/32"}}],
            "ports": [{"port": 7000}],
        }
    ]
    lab.apply(objects(lab, cluster_b=[server_ingress(with_nodes)]))
    assert lab.reaches("w1", lab.ip("w4"), 7000)
    masquerade = re.compile(r"^\[(\d+):\d+\] -A KIND-MASQ-AGENT .*-j MASQUERADE$", re.M)
    assert sum(int(n) for text in lab.saved("nat") for n in masquerade.findall(text)) > 0


def _dnat_packets(lab: PolicyLab, to: str) -> int:
    pattern = re.compile(rf"^\[(\d+):\d+\] -A KUBE-SEP-\S+ .*-j DNAT --to-destination {re.escape(to)}$", re.M)
    return sum(int(n) for text in lab.saved("nat") for n in pattern.findall(text))


def test_cluster_ip_hairpin_and_mesh_endpoint_slice(lab: PolicyLab) -> None:
    vip, mesh_vip, headless = "10.96.0.50", "10.96.0.60", "10.96.0.70"
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "echo", "namespace": SERVERS},
        "spec": {"selector": {"app": "server"}, "ports": [{"name": "e", "port": 80, "targetPort": "echo-tcp"}]},
    }
    mesh = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "w4-mesh", "namespace": CLIENTS_A},
        "spec": {"clusterIP": mesh_vip, "ports": [{"name": "e", "port": 81}]},
    }
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "w4-mesh-1", "namespace": CLIENTS_A, "labels": {"kubernetes.io/service-name": "w4-mesh"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [lab.ip("w4")], "conditions": {"ready": True}}],
        "ports": [{"name": "e", "port": 7008, "protocol": "TCP"}],
    }
    none = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "servers", "namespace": SERVERS},
        "spec": {"clusterIP": "None", "selector": {"app": "server"}, "ports": [{"port": 82, "targetPort": 7009}]},
    }
    # Policies stay on: the client's egress policy admits the server pod, which only a check after DNAT sees.
    egress = policy(
        "client-egress",
        CLIENTS_A,
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "server"}}},
                        {"ipBlock": {"cidr": f"{lab.ip('w4')}/32"}},
                    ]
                }
            ],
        },
    )
    allocated = {(SERVERS, "echo"): ipaddress.IPv4Address(vip), (SERVERS, "servers"): ipaddress.IPv4Address(headless)}
    lab.apply(objects(lab, svc, mesh, slice_, none, egress, server_ingress(everyone())), allocated)
    assert lab.reaches("w1", vip, 80)
    assert _dnat_packets(lab, f"{lab.ip('w2')}:7006") > 0
    assert lab.reaches("w2", vip, 80)  # hairpin: to its own ClusterIP, masqueraded back to itself
    hairpin = re.compile(r"^\[(\d+):\d+\] -A KUBE-POSTROUTING .*-j MASQUERADE$", re.M)
    assert sum(int(n) for text in lab.saved("nat") for n in hairpin.findall(text)) > 0
    assert lab.reaches("w1", mesh_vip, 81)
    assert _dnat_packets(lab, f"{lab.ip('w4')}:7008") > 0
    assert not lab.reaches("w1", headless, 82)  # headless: no DNAT, nothing answers there
    assert all(headless not in text for text in lab.saved("nat"))
