"""Two nodes (stacks/Pulumi.live-two-nodes.yaml): each Ready with its labels and its own pod CIDR,
routed to the other: iperf3 from worker2 to worker1's pod by pod IP and by ClusterIP (paths 3, 4);
then `down` leaves none of the two nodes' namespaces or processes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from livekube import Live, started

from localcluster import down, procs

NAME = "lctest2"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Live]:
    yield from started("live-two-nodes", NAME)


def test_both_nodes_are_ready_with_their_labels_and_cidrs(cluster: Live) -> None:
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]
    seen = {n["metadata"]["name"]: (n["metadata"]["labels"]["node"], n["spec"]["podCIDR"]) for n in nodes}
    assert {name: label for name, (label, _) in seen.items()} == {"worker": "worker1", "worker2": "worker2"}
    assert len({cidr for _, cidr in seen.values()}) == 2


def test_iperf3_across_nodes_by_pod_ip_and_cluster_ip(cluster: Live) -> None:
    pod_ip, vip = cluster.server()
    assert cluster.iperf3_bits("remote-pod-ip", pod_ip, node="worker2") > 0
    assert cluster.iperf3_bits("remote-vip", vip, node="worker2") > 0


def test_down_leaves_nothing(cluster: Live) -> None:
    spec = cluster.spec
    assert down.teardown(spec.run_dir, spec.name) == []
    assert down.namespaces_of(spec.name) == []
    assert procs.mentioning(str(spec.run_dir)) == []
    assert down.mounts_under(spec.run_dir) == []
