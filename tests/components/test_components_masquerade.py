"""Across clusters, policies admit what kindnet really delivers: the sending cluster's node addresses.

kindnet masquerades pod traffic whose destination is outside its own cluster's pod subnet
(kubernetes-sigs/kind images/kindnetd/cmd/kindnetd/masq.go: the KIND-MASQ-AGENT chain RETURNs
only for the pod subnets, from POD_SUBNET in main.go, and MASQUERADEs the rest). In the
other cluster the packet's source is the node's IP, never the pod subnet.
"""

from __future__ import annotations

import json

import pulumi
import pytest
from conftest import DYNAMIC, Run, run_program, stack_config
from test_components_graph import provider_cluster

from components.config import settings_from_config
from spec.load import StackError


def ingress_sources(run: Run, cluster: str, policy: str) -> list[str]:
    (found,) = [
        p
        for p in run.of_type("NetworkPolicy")
        if p.inputs["metadata"]["name"] == policy and provider_cluster(run, p.provider) == cluster
    ]
    return [peer["ipBlock"]["cidr"] for peer in found.inputs["spec"]["ingress"][0]["from"] if "ipBlock" in peer]


def test_ci_example_admits_the_declared_node_addresses(runs: dict[str, Run]) -> None:
    """Two existing clusters: w4's servers take path 6 from ci-a's nodes as the stack declares them."""
    assert ingress_sources(runs["ci-example"], "ci-b", "servers-ingress") == ["10.244.0.0/16", "172.18.0.0/16"]
    assert ingress_sources(runs["ci-example"], "ci-a", "servers-ingress") == []


def test_kind_mesh_admits_the_routed_nodes(runs: dict[str, Run]) -> None:
    """Two kind clusters routed by meshperf: the node IPs KindMeshRoutes read, as /32 blocks."""
    run = runs["kind-mesh"]
    (routes,) = run.of_type(DYNAMIC + "KindMeshRoutes")
    nodes = [f"{n['ip']}/32" for n in routes.outputs["nodes"]["cluster-a"]]
    assert nodes
    assert ingress_sources(run, "cluster-b", "servers-ingress") == sorted(["10.244.0.0/16", *nodes])
    # E2SAR across the mesh (sender w1 in cluster-a): each receiver's policy admits the same sources.
    for policy in (p.inputs["metadata"]["name"] for p in run.of_type("NetworkPolicy")):
        if policy.endswith("-receiver"):
            assert ingress_sources(run, "cluster-b", policy) == sorted(["10.244.0.0/16", *nodes])


def test_a_cross_cluster_plan_without_node_addresses_is_refused() -> None:
    config = stack_config("ci-example")
    kube = json.loads(config.pop("meshperf:kubernetes"))
    assert kube == {"clusters": {"ci-a": {"node_cidrs": ["172.18.0.0/16"]}}}
    run = Run()
    with pytest.raises(pulumi.RunError) as caught:
        run_program("ci-example", config, run)
    message = str(caught.value)
    assert "meshperf:kubernetes.clusters.ci-a.node_cidrs" in message and "masquerade" in message
    assert "\n" not in message
    assert run.resources == []


def test_without_path_6_no_node_addresses_are_needed() -> None:
    """Only a cluster whose pods send to the other cluster must declare its nodes."""
    config = {  # the values as the program decodes them: run_id stays text
        k.removeprefix("meshperf:"): v if k == "meshperf:run_id" else json.loads(v)
        for k, v in stack_config("ci-example").items()
        if k.startswith("meshperf:")
    }
    del config["kubernetes"]
    config["suites"]["netperf"]["paths"] = [1, 2, 3, 4, 5]
    assert settings_from_config(config).stack.kubernetes.clusters == {}
    config["suites"]["netperf"]["paths"] = [1, 6]
    with pytest.raises(StackError, match=r"clusters\.ci-a\.node_cidrs"):
        settings_from_config(config)
