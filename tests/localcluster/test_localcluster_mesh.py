"""Two local clusters routed to each other (stacks/Pulumi.live-mesh.yaml, path 6): each started on its
own, with its own namespaces and node addresses; the second one's `up` links the two control planes
and routes each cluster's pod subnet and nodes to the other. Checked for real: the routes, TCP
between the clusters' nodes, iperf3 from a pod of the second cluster to a pod of the first by its pod
IP; then `down` of one removes the link and the routes through it on the other side, and `down` of
both leaves no namespace, process or mount."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from livekube import Live, bin_or_skip, mesh_specs_for_test

from localcluster import down, mesh, netns, procs
from localcluster.__main__ import up_all
from localcluster.config import ClusterSpec
from localcluster.state import load
from localcluster.up import UpError, up

NAMES = {"mesh-a": "lcmesh-a", "mesh-b": "lcmesh-b"}


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[Live, Live]]:
    bin_dir = bin_or_skip()
    specs = mesh_specs_for_test("live-mesh", NAMES)
    try:
        for spec in specs:
            took = up(spec, bin_dir=bin_dir)
            print(f"cluster {spec.name} start: {took:.0f} s")
        a, b = (Live(spec, bin_dir, spec.name) for spec in specs)
        yield a, b
    finally:
        for spec in reversed(specs):
            down.teardown(spec.run_dir, spec.name)


def cp_of(spec: ClusterSpec) -> str:
    state = load(spec.run_dir)
    assert state is not None, f"{spec.name} is not running"
    return mesh.cp_ns_of(state.prefix)


def node_ns(spec: ClusterSpec) -> str:
    state = load(spec.run_dir)
    assert state is not None
    return f"{state.prefix}-{spec.nodes[0].name}"


def routes(ns: str) -> str:
    return netns.ip(ns, "route", "show")


def test_each_control_plane_routes_the_other_cluster(clusters: tuple[Live, Live]) -> None:
    a, b = (c.spec for c in clusters)
    assert (a.nodes[0].ip, b.nodes[0].ip) == ("10.250.0.10", "10.250.1.10")
    assert mesh.linked_peers(a, cp_of(a)) == [b.name]
    assert mesh.linked_peers(b, cp_of(b)) == [a.name]
    in_a, in_b = routes(cp_of(a)), routes(cp_of(b))
    assert "10.245.0.0/16 via 10.249.0.6 dev mesh1" in in_a, in_a
    assert "10.250.1.0/24 via 10.249.0.6 dev mesh1" in in_a, in_a
    assert "10.244.0.0/16 via 10.249.0.5 dev mesh0" in in_b, in_b
    assert "10.250.0.0/24 via 10.249.0.5 dev mesh0" in in_b, in_b


def test_nodes_of_the_two_clusters_reach_each_other(clusters: tuple[Live, Live]) -> None:
    """TCP from b's node namespace to a listener in a's node namespace, on a's node address."""
    a, b = (c.spec for c in clusters)
    with netns.inside(node_ns(a)):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with server:
        server.bind((a.nodes[0].ip, 0))
        server.listen(1)
        server.settimeout(10)
        with netns.socket_in(node_ns(b)) as client:
            client.settimeout(10)
            client.connect((a.nodes[0].ip, server.getsockname()[1]))
            conn, (source, _) = server.accept()
            with conn:
                client.sendall(b"mesh")
                assert conn.recv(4) == b"mesh"
    assert source == b.nodes[0].ip


def test_pod_of_one_cluster_reaches_a_pod_of_the_other_by_its_ip(clusters: tuple[Live, Live]) -> None:
    a, b = clusters
    pod_ip, _ = a.server()
    assert pod_ip.startswith("10.244."), pod_ip
    b.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": b.namespace}})
    bits = b.iperf3_bits("cross-cluster", pod_ip)
    print(f"iperf3 {b.spec.name} pod -> {a.spec.name} pod {pod_ip}: {bits / 1e6:.0f} Mbit/s")
    assert bits > 0
    client = json.loads(b.kubectl("-n", b.namespace, "get", "pod", "cross-cluster", "-o", "json"))
    assert client["status"]["podIP"].startswith("10.245.")


def test_down_of_one_removes_the_link_then_both_leave_nothing(clusters: tuple[Live, Live]) -> None:
    a, b = (c.spec for c in clusters)
    a_cp = cp_of(a)
    assert down.teardown(b.run_dir, b.name) == []
    assert mesh.links(a_cp) == []
    assert "10.245.0.0/16" not in routes(a_cp)
    assert "10.250.1.0/24" not in routes(a_cp)
    assert down.teardown(a.run_dir, a.name) == []
    for spec in (a, b):
        assert down.namespaces_of(spec.name) == []
        assert procs.mentioning(str(spec.run_dir)) == []
        assert down.mounts_under(spec.run_dir) == []
        assert not spec.run_dir.exists()


def test_up_of_a_mesh_that_fails_on_its_second_cluster_stops_the_first(tmp_path: Path) -> None:
    """`meshperf cluster up -s live-mesh` (its `up_all`) with the second cluster unable to start (its run
    folder too deep for containerd's sockets): the first, already running, is stopped and removed too."""
    bin_or_skip()
    first, second = mesh_specs_for_test("live-mesh", {"mesh-a": "lcmeshf-a", "mesh-b": "lcmeshf-b"})
    second = second.model_copy(update={"run_root": tmp_path / ("deep" * 30)})
    try:
        with pytest.raises(UpError, match="too deep for containerd"):
            up_all([first, second])
        assert down.namespaces_of(first.name) == []
        assert procs.mentioning(str(first.run_dir)) == []
        assert not first.run_dir.exists()
    finally:
        down.teardown(first.run_dir, first.name)
