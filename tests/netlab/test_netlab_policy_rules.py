"""The rules the lab writes, from objects, checked as data (no namespaces needed).

Tables ported from kube-network-policies' own tests (pkg/networkpolicy/networkpolicy_test.go:
TestEvaluator_evaluateSelectors, TestEvaluator_evaluatePorts) where they apply.
"""

from __future__ import annotations

import ipaddress

import pytest

from manifests import render
from netlab.cluster_state import cluster_state
from netlab.iptables import Fragment, restore_text
from netlab.layout import build_layout
from netlab.masquerade import kindnet_masquerade
from netlab.netpol import (
    Flow,
    Peer,
    PortMatch,
    drop_counts,
    isolation,
    peer_selects,
    policy_drops,
    policy_mangle,
    policy_types,
)
from netlab.scheduled import cluster_objects, lab_addresses
from netlab.selectors import selects
from netlab.services import kube_proxy_nat, service_port_rules
from spec.load import load_stack
from spec.plan import build_plan

NS1 = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns1", "labels": {"team": "blue"}}}
NS2 = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns2", "labels": {"team": "red"}}}


def _pod(
    name: str, ns: str, labels: dict[str, str], ip: str, node: str = "n1", ports: list[dict] | None = None
) -> dict:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}]},
        "status": {"podIP": ip},
    }


POD1 = _pod("pod1", "ns1", {"app": "foo"}, "10.0.0.1", ports=[{"name": "http", "containerPort": 80}])
POD2 = _pod("pod2", "ns2", {"app": "bar"}, "10.0.0.2", node="n2")


def _np(spec: dict, name: str = "np", ns: str = "ns1") -> dict:
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec}


@pytest.mark.parametrize(
    ("selector", "labels", "want"),
    [
        (None, {"a": "1"}, False),
        ({}, {"a": "1"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "2"}}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "3"]}]}, {"a": "1"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"b": "1"}, True),
    ],
)
def test_label_selectors(selector: dict | None, labels: dict[str, str], want: bool) -> None:
    assert selects(selector, labels) is want


def test_unknown_selector_operator_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="'Has' is not one of"):
        selects({"matchExpressions": [{"key": "a", "operator": "Has"}]}, {})


# TestEvaluator_evaluateSelectors, row by row: (peer podSelector, namespaceSelector, pod, policy ns, want)
FOO, BAR = {"matchLabels": {"app": "foo"}}, {"matchLabels": {"app": "bar"}}
BLUE, RED = {"matchLabels": {"team": "blue"}}, {"matchLabels": {"team": "red"}}


@pytest.mark.parametrize(
    ("pod_sel", "ns_sel", "pod", "want"),
    [
        (FOO, None, "pod1", True),  # matching pod selector
        (BAR, None, "pod1", False),  # non-matching pod selector
        (None, BLUE, "pod1", True),  # matching namespace selector
        (None, RED, "pod1", False),  # non-matching namespace selector
        (FOO, BLUE, "pod1", True),  # matching pod and namespace selectors
        (FOO, RED, "pod1", False),  # matching pod, non-matching namespace selector
        (BAR, BLUE, "pod1", False),  # non-matching pod, matching namespace selector
        ({}, None, "pod1", True),  # empty pod selector matches all pods in policy namespace
        ({}, None, "pod2", False),  # empty pod selector does not match pod in other namespace
        (None, {}, "pod2", True),  # empty namespace selector matches all namespaces
    ],
)
def test_peer_selectors_as_kube_network_policies(
    pod_sel: dict | None, ns_sel: dict | None, pod: str, want: bool
) -> None:
    state = cluster_state([NS1, NS2, POD1, POD2])
    endpoint = next(ep for ep in state.endpoints if ep.pods[0].name == pod)
    peer = {k: v for k, v in (("podSelector", pod_sel), ("namespaceSelector", ns_sel)) if v is not None}
    assert peer_selects(state, peer, "ns1", endpoint) is want


def _ingress_ports(ports: list[dict]) -> tuple[PortMatch, ...] | None:
    state = cluster_state([NS1, POD1, _np({"podSelector": {}, "ingress": [{"ports": ports}]})])
    iso = isolation(state, state.endpoints[0], "ingress")
    assert iso is not None
    return tuple(m for allow in iso.allows for m in (allow.ports or ()))


@pytest.mark.parametrize(
    ("ports", "want"),
    [
        ([{"protocol": "TCP", "port": 30000}], (PortMatch("tcp", 30000, 30000),)),
        ([{"protocol": "UDP", "port": 30000}], (PortMatch("udp", 30000, 30000),)),
        ([{"port": 30000}], (PortMatch("tcp", 30000, 30000),)),  # protocol defaults to TCP
        ([{"protocol": "TCP", "port": 30000, "endPort": 30138}], (PortMatch("tcp", 30000, 30138),)),
        ([{"protocol": "UDP"}], (PortMatch("udp"),)),  # every UDP port
        ([{"protocol": "TCP", "port": "http"}], (PortMatch("tcp", 80, 80),)),  # match TCP named port
        ([{"protocol": "UDP", "port": "http"}], ()),  # no match UDP named port
    ],
)
def test_ports_as_kube_network_policies(ports: list[dict], want: tuple[PortMatch, ...]) -> None:
    assert _ingress_ports(ports) == want


def test_policy_types_default_as_the_api_server_does() -> None:
    assert policy_types(_np({"podSelector": {}})) == ["Ingress"]
    assert policy_types(_np({"podSelector": {}, "egress": [{}]})) == ["Ingress", "Egress"]
    assert policy_types(_np({"podSelector": {}, "policyTypes": ["Egress"]})) == ["Egress"]


def test_isolation_is_per_direction_and_rules_add_up() -> None:
    deny = _np({"podSelector": {}, "policyTypes": ["Ingress"]}, "deny")
    allow = _np(
        {"podSelector": FOO, "ingress": [{"from": [{"ipBlock": {"cidr": "10.1.0.0/16", "except": ["10.1.2.0/24"]}}]}]},
        "allow",
    )
    state = cluster_state([NS1, POD1, deny, allow])
    ep = state.endpoints[0]
    assert isolation(state, ep, "egress") is None  # no Egress policy: egress stays open
    iso = isolation(state, ep, "ingress")
    assert iso is not None and iso.policies == ("ns1/deny", "ns1/allow")
    (rule,) = iso.allows
    assert rule.ports is None
    assert rule.peers == (Peer(ipaddress.IPv4Network("10.1.0.0/16"), (ipaddress.IPv4Network("10.1.2.0/24"),)),)
    # an empty rule admits everything; a policy with no rules admits nothing
    everything = _np({"podSelector": {}, "ingress": [{}]}, "all")
    iso = isolation(cluster_state([NS1, POD1, deny, everything]), ep, "ingress")
    assert iso is not None and [(a.peers, a.ports) for a in iso.allows] == [(None, None)]


def test_mangle_order_follows_the_engine_hook() -> None:
    deny = _np({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, "deny")
    state = cluster_state([NS1, NS2, POD1, POD2, deny])
    rules = policy_mangle(state, "n1").rules
    assert rules[0].startswith("-A POSTROUTING ") and rules[0].endswith("-j KNP-POSTROUTING")
    assert "--uid-owner 0" in rules[1] and "--ctstate RELATED,ESTABLISHED" in rules[2]
    # only n1's selected pod is judged on n1 (pod2 is in ns2, no policy selects it)
    assert [r for r in rules if r.startswith("-A KNP-POSTROUTING -")][2:] == [
        "-A KNP-POSTROUTING -s 10.0.0.1/32 -j KNP-VERDICT",
        "-A KNP-POSTROUTING -d 10.0.0.1/32 -j KNP-VERDICT",
    ]
    assert rules[-1].endswith('--comment "knp-drop ingress ns1/pod1" -j DROP')


def test_except_blocks_go_through_a_marking_sub_chain() -> None:
    allow = _np(
        {
            "podSelector": {},
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "10.1.0.0/16", "except": ["10.1.2.0/24"]}}],
                    "ports": [{"protocol": "UDP", "port": 9000, "endPort": 9003}],
                }
            ],
            "policyTypes": ["Egress"],
        }
    )
    frag = policy_mangle(cluster_state([NS1, POD1, allow]), "n1")
    chain = next(r.split()[-1] for r in frag.rules if r.startswith("-A KNP-VERDICT -s 10.0.0.1/32"))
    body = [r for r in frag.rules if r.startswith(f"-A {chain}")]
    assert body[0] == f"-A {chain} -j MARK --set-xmark 0x0/0x10000"
    assert body[1].startswith(f"-A {chain} -d 10.1.0.0/16 -p udp -m udp --dport 9000:9003 ") and body[1].endswith(
        f"-j {chain}-1"
    )
    assert body[2] == f"-A {chain} -m mark --mark 0x10000/0x10000 -j RETURN"
    assert f"-A {chain}-1 -d 10.1.2.0/24" in "\n".join(frag.rules)


def test_every_except_of_an_ip_block_is_written() -> None:
    """Two `except` entries: both RETURN before the block's mark (only the first was never caught)."""
    allow = _np(
        {
            "podSelector": {},
            "egress": [{"to": [{"ipBlock": {"cidr": "10.1.0.0/16", "except": ["10.1.2.0/24", "10.1.7.0/24"]}}]}],
            "policyTypes": ["Egress"],
        }
    )
    frag = policy_mangle(cluster_state([NS1, POD1, allow]), "n1")
    chain = next(r.split()[-1] for r in frag.rules if r.startswith("-A KNP-VERDICT -s 10.0.0.1/32"))
    sub = [r for r in frag.rules if r.startswith(f"-A {chain}-1 ")]
    assert [r.split()[3] for r in sub if r.endswith("-j RETURN")] == ["10.1.2.0/24", "10.1.7.0/24"]
    assert sub[-1] == f"-A {chain}-1 -j MARK --set-xmark 0x10000/0x10000"


def test_drop_sets_name_the_pod_direction_policies_and_flows() -> None:
    deny = _np({"podSelector": {}, "policyTypes": ["Ingress"]}, "deny")
    state = cluster_state([NS1, POD1, deny])
    rules = policy_mangle(state, "n1").rules
    assert rules[-3:-1] == (
        "-A KNP-I-0 -m set --match-set knp-drops-in4 src,dst,dst",
        "-A KNP-I-0 -j SET --add-set knp-drops-in4 src,dst,dst",
    )
    assert rules[-1].endswith("-j DROP")
    node1 = (
        "create knp-drops-in4 hash:ip,port,ip family inet hashsize 1024 maxelem 65536 counters\n"
        "add knp-drops-in4 10.0.0.9,udp:5201,10.0.0.1 packets 7 bytes 224\n"
        "add knp-drops-in4 10.0.0.9,tcp:12865,10.0.0.1 packets 1 bytes 60\n"
        "add knp-drops-eg4 10.0.0.1,udp:5201,10.0.0.9 packets 5 bytes 160\n"
    )
    node2 = "add knp-drops-in4 10.0.0.9,udp:5201,10.0.0.1 packets 2 bytes 64\n"
    counts = drop_counts([node1, node2])
    assert counts[("knp-drops-in4", Flow("10.0.0.9", "udp", "5201", "10.0.0.1"))] == 9
    (drop,) = policy_drops(state, counts)  # the egress set's flow is no isolation of this state
    assert drop.packets == 10
    assert str(drop) == (
        "NetworkPolicy denied 10 packet(s) reaching ns1/pod1 (10.0.0.1), tcp/12865 from 10.0.0.9, "
        "udp/5201 from 10.0.0.9: no rule of ns1/deny admits them"
    )
    assert policy_drops(state, counts, before=counts) == []
    udp = drop.only(lambda f: f.protocol == "udp")
    assert udp is not None and udp.packets == 9
    assert drop.only(lambda f: f.port == "80") is None


def test_each_pod_is_judged_at_its_own_address_by_its_own_policies() -> None:
    """A workload's server Pod and its E2SAR receiver's pod have an address each, as on a cluster: the
    server's policy judges the server's address alone, the receiver's (when a policy selects it) its own."""
    server = _pod("server", "ns1", {"role": "server"}, "10.0.0.1", ports=[{"name": "t", "containerPort": 5201}])
    receiver = _pod(
        "receiver", "ns1", {"role": "e2sar"}, "10.0.0.2", ports=[{"containerPort": 19522, "protocol": "UDP"}]
    )
    deny = _np({"podSelector": {"matchLabels": {"role": "server"}}, "policyTypes": ["Ingress"]}, "deny-servers")
    state = cluster_state([NS1, server, receiver, deny])
    assert [[str(p) for p in ep.pods] for ep in state.endpoints] == [["ns1/server"], ["ns1/receiver"]]
    rules = policy_mangle(state, "n1").rules
    # no policy selects the receiver: the node sends none of its packets to a verdict
    assert [r for r in rules if r.startswith("-A KNP-POSTROUTING -") and "10.0.0." in r] == [
        "-A KNP-POSTROUTING -s 10.0.0.1/32 -j KNP-VERDICT",
        "-A KNP-POSTROUTING -d 10.0.0.1/32 -j KNP-VERDICT",
    ]
    assert [r for r in rules if r.startswith("-A KNP-VERDICT")] == [
        "-A KNP-VERDICT -d 10.0.0.1/32 -j KNP-I-0",
        "-A KNP-VERDICT -j ACCEPT",
    ]
    enforced = _np(
        {
            "podSelector": {"matchLabels": {"role": "e2sar"}},
            "ingress": [{"ports": [{"protocol": "UDP", "port": 19522}]}],
        },
        "e2sar",
    )
    rules = policy_mangle(cluster_state([NS1, server, receiver, deny, enforced]), "n1").rules
    assert [r for r in rules if r.startswith("-A KNP-VERDICT")] == [
        "-A KNP-VERDICT -d 10.0.0.1/32 -j KNP-I-0",
        "-A KNP-VERDICT -d 10.0.0.2/32 -j KNP-I-1",
        "-A KNP-VERDICT -j ACCEPT",
    ]
    # the receiver's own policy admits its UDP port, the server's policy nothing
    assert [r for r in rules if r.startswith("-A KNP-I-") and "knp-drops-in4" not in r] == [
        '-A KNP-I-0 -m comment --comment "knp-drop ingress ns1/server" -j DROP',
        '-A KNP-I-1 -p udp -m udp --dport 19522 -m comment --comment "ns1/e2sar" -j RETURN',
        '-A KNP-I-1 -m comment --comment "knp-drop ingress ns1/receiver" -j DROP',
    ]


def _svc(name: str, spec: dict, ns: str = "ns1") -> dict:
    return {"kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def test_services_resolve_endpoints_as_kube_proxy() -> None:
    ready_pod2 = _pod("pod3", "ns1", {"app": "foo"}, "10.0.0.3", ports=[{"name": "http", "containerPort": 8080}])
    selected = _svc(
        "web",
        {
            "clusterIP": "10.96.0.10",
            "selector": {"app": "foo"},
            "ports": [{"name": "h", "port": 80, "targetPort": "http"}],
        },
    )
    headless = _svc("dns", {"clusterIP": "None", "selector": {"app": "foo"}, "ports": [{"port": 53}]})
    unallocated = _svc("later", {"selector": {"app": "foo"}, "ports": [{"port": 81}]})
    bare = _svc("mesh", {"clusterIP": "10.96.0.11", "ports": [{"name": "h", "port": 80}]})
    slice_ = {
        "kind": "EndpointSlice",
        "metadata": {"name": "mesh-1", "namespace": "ns1", "labels": {"kubernetes.io/service-name": "mesh"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.9.0.1"]}, {"addresses": ["10.9.0.2"], "conditions": {"ready": False}}],
        "ports": [{"name": "h", "port": 7000, "protocol": "TCP"}],
    }
    state = cluster_state([NS1, POD1, ready_pod2, POD2, selected, headless, unallocated, bare, slice_])
    rules = {r.service: r for r in service_port_rules(state, {("ns1", "later"): ipaddress.IPv4Address("10.96.0.12")})}
    assert set(rules) == {"ns1/web:h", "ns1/later:", "ns1/mesh:h"}  # headless: none
    assert [(str(e.ip), e.port) for e in rules["ns1/web:h"].endpoints] == [("10.0.0.1", 80), ("10.0.0.3", 8080)]
    assert [(str(e.ip), e.port) for e in rules["ns1/mesh:h"].endpoints] == [("10.9.0.1", 7000)]  # not-ready left out
    assert str(rules["ns1/later:"].cluster_ip) == "10.96.0.12"
    text = "\n".join(kube_proxy_nat(list(rules.values()), ipaddress.IPv4Network("10.0.0.0/16")).rules)
    assert "-m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-" in text
    assert '-s 10.0.0.1/32 -m comment --comment "ns1/web:h" -j KUBE-MARK-MASQ' in text  # hairpin
    assert "! -s 10.0.0.0/16 -d 10.96.0.10/32" in text


def test_kindnet_masquerade_spares_the_pod_subnet_only() -> None:
    frag = kindnet_masquerade([ipaddress.IPv4Network("10.244.0.0/16")])
    assert frag.rules[0].startswith("-A POSTROUTING -m addrtype ! --dst-type LOCAL ")
    assert frag.rules[1].startswith("-A KIND-MASQ-AGENT -d 10.244.0.0/16 ") and frag.rules[1].endswith("-j RETURN")
    assert frag.rules[2].endswith("-j MASQUERADE")


def test_restore_text_declares_each_table_once() -> None:
    text = restore_text(
        [
            Fragment("nat", ("A",), ("-A A -j RETURN",)),
            Fragment("mangle", ("B",)),
            Fragment("nat", ("A", "C"), ("-A C -j RETURN",)),
        ]
    )
    assert text == "*nat\n:A - [0:0]\n:C - [0:0]\n-A A -j RETURN\n-A C -j RETURN\nCOMMIT\n*mangle\n:B - [0:0]\nCOMMIT\n"


def test_rendered_kind_mesh_objects_give_the_lab_its_rules() -> None:
    stack = load_stack("kind-mesh")
    plan = build_plan(stack)
    layout = build_layout(stack, plan, "mptest00")
    addresses = lab_addresses(stack, plan, layout)
    per_cluster = cluster_objects(render(stack, plan, stack.kubernetes, addresses), layout)
    a, b = cluster_state(per_cluster["cluster-a"]), cluster_state(per_cluster["cluster-b"])
    # every running pod at an address of its own: w2's server Pod and its (hairpin) client Job's pod apart
    at = {ep.ip: [p.name for p in ep.pods] for ep in a.endpoints}
    assert at[layout.server("w2").ip] == ["w2-server"]
    assert at[layout.client("w2").ip] == ["w2-client-pod"]
    assert all(len(names) == 1 for names in at.values())
    # kind-mesh is routed by KindMeshRoutes: cluster-b's servers admit cluster-a's nodes, where kindnet masquerades to
    w4 = next(ep for ep in b.endpoints if ep.ip == layout.server("w4").ip)
    iso = isolation(b, w4, "ingress")
    assert iso is not None and "meshperf/servers-ingress" in iso.policies
    blocks = {peer.cidr for allow in iso.allows for peer in allow.peers or ()}
    assert {ipaddress.IPv4Network(f"{n.ip}/32") for n in layout.nodes if n.cluster == "cluster-a"} <= blocks
    # the VIP's DNAT goes to w2's server Pod, the hairpin Service's to w2's client Job's pod (its own
    # servers), the mesh Service (headless) gets none
    endpoints: dict[str, set[ipaddress.IPv4Address]] = {}
    for r in service_port_rules(a, {("meshperf", n): ip for n, ip in addresses.cluster_ips.items()}):
        endpoints.setdefault(r.service.split(":")[0], set()).update(e.ip for e in r.endpoints)
    assert endpoints == {
        "meshperf/w2-vip": {layout.server("w2").ip},
        "meshperf/w2-hairpin": {layout.client("w2").ip},
    }


def test_the_lab_gives_node_ips_where_the_program_would_know_them() -> None:
    """kind-mesh: KindMeshRoutes reads both clusters' nodes; ci-example: ci-a declares node_cidrs (the lab's
    nodes stand for them); without either the policies hold the pod subnet only, and path 6 fails as on kind."""
    for name, given in (("kind-mesh", {"cluster-a", "cluster-b"}), ("ci-example", {"ci-a"})):
        stack = load_stack(name)
        plan = build_plan(stack)
        layout = build_layout(stack, plan, "mptest00")
        node_ips = lab_addresses(stack, plan, layout).node_ips
        assert set(node_ips) == given
        for cluster, ips in node_ips.items():
            assert ips == tuple(n.ip for n in layout.nodes if n.cluster == cluster)
    bare = load_stack("ci-example")
    bare = bare.model_copy(update={"kubernetes": bare.kubernetes.model_copy(update={"clusters": {}})})
    plan = build_plan(bare)
    assert lab_addresses(bare, plan, build_layout(bare, plan, "mptest00")).node_ips == {}
