"""Dual stack on Kubernetes, under mocks: kind's config by kind's own rules, and the objects of kind-dual.

The mocks stand in for the CNI and the API server: a dual-stack cluster's pods get one IP per
family (`status.podIPs`) and a Service one virtual IP per family of its `ipFamilies`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
import yaml
from conftest import Run
from test_components_schema import objects

from components.kind import kind_config, mismatches
from components.mesh import rate_commands, route_commands
from manifests import CLUSTER
from spec.kubernetes import ClusterSettings
from spec.load import load_stack
from spec.model import Cluster


def kind_subnet_errors(subnets: str, ip_family: str) -> list[str]:
    """kind's `validateSubnets` (kubernetes-sigs/kind pkg/internal/apis/config/validate.go), as written there:
    dual takes one CIDR or two of different families; single stack one CIDR of its family."""
    nets = [ipaddress.ip_network(c, strict=True) for c in subnets.split(",")]
    dual = ip_family == "dual"
    if dual and len(nets) > 2:
        return ["expected one (IPv4 or IPv6) CIDR or two CIDRs from each family for dual-stack networking"]
    if dual and len(nets) == 2 and {n.version for n in nets} != {4, 6}:
        return ["expected one (IPv4 or IPv6) CIDR or two CIDRs from each family for dual-stack networking"]
    if not dual and len(nets) > 1:
        return ["only one CIDR allowed for single-stack networking"]
    if ip_family == "ipv4" and nets[0].version != 4:
        return ["expected IPv4 CIDR for IPv4 family"]
    if ip_family == "ipv6" and nets[0].version != 6:
        return ["expected IPv6 CIDR for IPv6 family"]
    return []


def test_our_port_of_kinds_subnet_rule_refuses_a_family_mismatch() -> None:
    """A port of kind's rule checked against itself: kind's own check runs only in the workflow."""
    assert kind_subnet_errors("10.244.0.0/16,10.245.0.0/16", "dual")
    assert kind_subnet_errors("10.244.0.0/16,fd00:10:244::/56", "ipv4")
    assert kind_subnet_errors("fd00:10:244::/56", "ipv4")
    assert kind_subnet_errors("10.244.0.0/16", "ipv6")
    assert not kind_subnet_errors("10.244.0.0/16,fd00:10:244::/56", "dual")


def _cluster(ip_family: str) -> Cluster:
    cluster = load_stack("kind-dual").clusters[0]
    return cluster.model_copy(update={"ip_family": ip_family})


@pytest.mark.parametrize("ip_family", ["ipv4", "ipv6", "dual"])
def test_kind_config_passes_kinds_rules_for_every_family(ip_family: str) -> None:
    networking = yaml.safe_load(kind_config(_cluster(ip_family), ClusterSettings(), "img"))["networking"]
    assert networking["ipFamily"] == ip_family
    for key in ("podSubnet", "serviceSubnet"):
        assert kind_subnet_errors(networking[key], ip_family) == [], (key, networking[key])


def test_dual_kind_config_lists_ipv4_first_and_an_adopted_cluster_is_compared_per_family() -> None:
    config = kind_config(_cluster("dual"), ClusterSettings(), "img")
    networking = yaml.safe_load(config)["networking"]
    assert networking["podSubnet"] == "10.244.0.0/16,fd00:10:244::/56"
    assert networking["serviceSubnet"] == "10.96.0.0/16,fd00:10:96::/112"
    labels = {
        "meshperf-control-plane": {},
        "meshperf-worker": {"node": "worker1"},
        "meshperf-worker2": {"node": "worker2"},
    }
    same = {"podSubnet": "10.244.0.0/16,fd00:10:244::/56", "serviceSubnet": "10.96.0.0/16,fd00:10:96::/112"}
    assert mismatches(config, "meshperf", labels, same) == []
    single = {**same, "podSubnet": "10.244.0.0/16"}
    assert mismatches(config, "meshperf", labels, single) == [
        "podSubnet is 10.244.0.0/16, the stack says 10.244.0.0/16,fd00:10:244::/56"
    ]


def _of(objs: list[dict[str, Any]], kind: str, name: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind and o["metadata"]["name"].startswith(name)]


def _policy(objs: list[dict[str, Any]], name: str, cluster: str) -> dict[str, Any]:
    return next(
        o
        for o in objs
        if o["kind"] == "NetworkPolicy"
        and o["metadata"]["name"] == name
        and o["metadata"]["labels"][CLUSTER] == cluster
    )


def _blocks(peers: list[dict[str, Any]]) -> set[str]:
    return {p["ipBlock"]["cidr"] for p in peers if "ipBlock" in p}


def test_dual_services_ask_for_both_families(runs: dict[str, Run]) -> None:
    objs = objects(runs["kind-dual"])
    services = [o for o in objs if o["kind"] == "Service"]
    assert services
    for service in services:
        assert service["spec"]["ipFamilyPolicy"] == "RequireDualStack", service["metadata"]["name"]
        assert service["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    # An IPv4 stack's Services stay as they were: the API's default family.
    assert all("ipFamilies" not in o["spec"] for o in objects(runs["kind-mesh"]) if o["kind"] == "Service")


def test_the_mesh_holds_one_endpoint_slice_per_family(runs: dict[str, Run]) -> None:
    run = runs["kind-dual"]
    slices = [r.outputs for r in run.kubernetes() if r.type == "kubernetes:discovery.k8s.io/v1:EndpointSlice"]
    by_type = {s["addressType"]: s for s in slices}
    assert sorted(by_type) == ["IPv4", "IPv6"] and len(slices) == 2
    for address_type, s in by_type.items():
        (address,) = s["endpoints"][0]["addresses"]
        assert ipaddress.ip_address(address).version == (6 if address_type == "IPv6" else 4)
        assert s["metadata"]["labels"]["kubernetes.io/service-name"] == "w4-mesh"
    # The IPv6 slice holds the IPv6 address the stand-in CNI gave w4's server pod.
    server = next(r for r in run.kubernetes() if r.type == "kubernetes:core/v1:Pod" and "w4-server" in r.name)
    assert by_type["IPv6"]["endpoints"][0]["addresses"] == [server.outputs["status"]["podIPs"][1]["ip"]]


def test_clients_get_ipv6_targets_and_policies_admit_both_families(runs: dict[str, Run]) -> None:
    objs = objects(runs["kind-dual"])
    w1 = next(o for o in objs if o["kind"] == "Job" and o["metadata"]["name"] == "w1-client")
    env = {e["name"]: e["value"] for e in w1["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert ipaddress.ip_address(env["MESHPERF_W2_POD_IP"]).version == 4
    assert ipaddress.ip_address(env["MESHPERF_W2_POD_IP6"]).version == 6
    assert ipaddress.ip_address(env["MESHPERF_W2_VIP6"]) in ipaddress.ip_network("fd00:10:96::/112")
    assert ipaddress.ip_address(env["MESHPERF_W4_POD_IP6"]).version == 6
    egress = _policy(objs, "clients-egress", "cluster-a")
    blocks = sorted(_blocks(egress["spec"]["egress"][0]["to"]), key=lambda b: ipaddress.ip_network(b).version)
    assert [b.split("/")[1] for b in blocks] == ["32", "128"]
    assert blocks[1] == f"{env['MESHPERF_W4_POD_IP6']}/128"
    sources = _blocks(_policy(objs, "servers-ingress", "cluster-b")["spec"]["ingress"][0]["from"])
    assert {"10.244.0.0/16", "fd00:10:244::/56"} <= sources
    servers = [o for o in objs if o["kind"] == "Pod" and o["metadata"]["name"].endswith("-server")]
    netservers = [c["command"] for s in servers for c in s["spec"]["containers"] if c["name"] == "netserver"]
    assert netservers and all(cmd[-1] == "-6" for cmd in netservers)  # `::` takes both families


def test_the_mesh_routes_and_shapes_ipv6_between_nodes_that_both_have_it() -> None:
    v6 = {"ip6": "fc00:f853:ccd:e793::5", "pod_cidr6": "fd00:10:245:1::/64"}
    nodes = {
        "a": [{"name": "a-worker", "ip": "172.18.0.2", "pod_cidr": "10.244.1.0/24",
               "ip6": "fc00:f853:ccd:e793::2", "pod_cidr6": "fd00:10:244:1::/64"}],
        "b": [{"name": "b-worker", "ip": "172.18.0.5", "pod_cidr": "10.245.1.0/24", **v6},
              {"name": "b-control-plane", "ip": "172.18.0.4", "pod_cidr": "10.245.0.0/24"}],  # no IPv6 pods
    }  # fmt: skip
    cmds = route_commands("docker", nodes, 1400)
    assert "docker exec a-worker ip -6 route replace fd00:10:245:1::/64 via fc00:f853:ccd:e793::5 mtu 1400" in cmds
    assert "docker exec a-worker ip -6 route replace fc00:f853:ccd:e793::5/128 dev eth0 mtu 1400" in cmds
    assert "docker exec b-worker ip -6 route replace fd00:10:244:1::/64 via fc00:f853:ccd:e793::2 mtu 1400" in cmds
    assert not any("b-control-plane ip -6" in c for c in cmds)  # a node without IPv6 pods: IPv4 only
    assert len(cmds) == 2 * 4 + 2 * 2
    rates = rate_commands("docker", nodes, "1gbit")
    ipv6 = [c for c in rates if "protocol ipv6" in c]
    assert "docker exec a-worker tc filter add dev eth0 parent 1: protocol ipv6 prio 1 u32 " in ipv6[0]
    assert {c.split("match ip6 dst ")[1].split()[0] for c in ipv6} == {
        "fd00:10:245:1::/64",
        "fc00:f853:ccd:e793::5/128",
        "fd00:10:244:1::/64",
        "fc00:f853:ccd:e793::2/128",
    }


def test_dual_policies_admit_the_other_clusters_ipv6_nodes(runs: dict[str, Run]) -> None:
    """kindnet masquerades IPv6 pod traffic leaving its cluster to the node's IPv6 address: the servers admit it."""
    objs = objects(runs["kind-dual"])
    sources = _blocks(_policy(objs, "servers-ingress", "cluster-b")["spec"]["ingress"][0]["from"])
    routes = next(r for r in runs["kind-dual"].resources if r.type.endswith("KindMeshRoutes"))
    (node,) = routes.outputs["nodes"]["cluster-a"]
    assert {f"{node['ip']}/32", f"{node['ip6']}/128"} <= sources
