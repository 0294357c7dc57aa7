"""An IPv6-only stack's objects: single-stack IPv6 Services, IPv6 targets, /128 blocks, netserver -6."""

from __future__ import annotations

import pytest

from manifests import Addresses, MissingAddressError, find, of_kind, render
from manifests.addresses import address_of
from spec.load import load_stack
from spec.model import Stack
from spec.plan import build_plan


def ipv6_stack() -> Stack:
    stack = load_stack("kind-dual")
    clusters = [c.model_copy(update={"ip_family": "ipv6"}) for c in stack.clusters]
    return Stack.model_validate({**stack.model_dump(), "clusters": [c.model_dump() for c in clusters]})


def ipv6_addresses() -> Addresses:
    return Addresses.model_validate(
        {
            "image": "tools:test",
            "pod_ips6": {"w2": "fd00:10:244::5", "w4": "fd00:10:245::5"},
            "cluster_ips6": {"w2-vip": "fd00:10:96::20", "w2-hairpin": "fd00:10:96::21"},
        }
    )


def test_ipv6_objects_use_only_ipv6() -> None:
    stack = ipv6_stack()
    objects = render(stack, build_plan(stack), stack.kubernetes, ipv6_addresses())
    for service in of_kind(objects, "Service"):
        assert service["spec"]["ipFamilyPolicy"] == "SingleStack"
        assert service["spec"]["ipFamilies"] == ["IPv6"]
    (mesh_slice,) = of_kind(objects, "EndpointSlice")
    assert mesh_slice["addressType"] == "IPv6" and mesh_slice["metadata"]["name"] == "w4-mesh-ipv6"
    assert mesh_slice["endpoints"][0]["addresses"] == ["fd00:10:245::5"]
    w1 = find(objects, "Job", "w1-client")
    env = {e["name"]: e["value"] for e in w1["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {k: v for k, v in env.items() if k.endswith(("_IP", "_IP6", "_VIP", "_VIP6"))} == {
        "MESHPERF_W2_POD_IP6": "fd00:10:244::5",
        "MESHPERF_W2_VIP6": "fd00:10:96::20",
        "MESHPERF_W4_POD_IP6": "fd00:10:245::5",
    }
    egress = find(objects, "NetworkPolicy", "clients-egress", cluster="cluster-a")
    assert {"ipBlock": {"cidr": "fd00:10:245::5/128"}} in egress["spec"]["egress"][0]["to"]
    ingress = find(objects, "NetworkPolicy", "servers-ingress", cluster="cluster-b")
    assert {"ipBlock": {"cidr": "fd00:10:244::/56"}} in ingress["spec"]["ingress"][0]["from"]
    scripts = find(objects, "ConfigMap", "w2-scripts")
    assert "netserver -p 12865 -6" in scripts["data"]["entry.sh"]  # the hairpin client serves too


def test_a_missing_ipv6_address_is_named() -> None:
    stack = ipv6_stack()
    with pytest.raises(MissingAddressError, match=r"no IPv6 pod IP for server 'w4' \(Addresses.pod_ips6\)"):
        render(stack, build_plan(stack), stack.kubernetes, Addresses(image="x"))


def test_address_of_picks_the_family_from_a_pods_list() -> None:
    assert address_of(["10.244.1.5", "fd00:10:244:1::5"], "ipv6") == "fd00:10:244:1::5"
    assert address_of(["10.244.1.5", "fd00:10:244:1::5"], "ipv4") == "10.244.1.5"
    with pytest.raises(MissingAddressError, match="no IPv6 address among"):
        address_of(["10.244.1.5"], "ipv6")
