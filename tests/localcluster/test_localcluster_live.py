"""The local cluster for real: `up`, a Ready node with the stack's labels, an iperf3 server pod and
clients against its pod IP and its ClusterIP (tool image built from images/Dockerfile), a log
claim bound by the local provisioner, then `down` and nothing left. Skips only when the live
tools (scripts/live-tools.sh --check) are not built."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from livekube import Live, bin_or_skip, spec_for_test, started

from localcluster import cgroups, down, procs, tools
from localcluster.state import load
from localcluster.up import UpError, up

NAME = "lctest"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Live]:
    yield from started("live", NAME)


def test_node_is_ready_with_the_stack_labels(cluster: Live) -> None:
    node = json.loads(cluster.kubectl("get", "node", "worker", "-o", "json"))
    assert node["metadata"]["labels"]["node"] == "worker1"
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    assert node["spec"]["podCIDR"].startswith("10.244.")


def test_iperf3_between_pods_by_pod_ip_and_cluster_ip(cluster: Live) -> None:
    pod_ip, vip = cluster.server()
    assert pod_ip.startswith("10.244.") and vip.startswith("10.96.")
    assert cluster.iperf3_bits("client-pod-ip", pod_ip) > 0
    assert cluster.iperf3_bits("client-vip", vip) > 0


def test_hairpin_and_host_network(cluster: Live) -> None:
    """Path 5: a pod reaches itself through its own ClusterIP; host baseline: a hostNetwork pod has the node IP."""
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "self-vip", "namespace": NAME},
        "spec": {"selector": {"app": "self"}, "ports": [{"port": 5202, "targetPort": 5202}]},
    }
    cluster.apply(service)
    vip = cluster.kubectl("-n", NAME, "get", "service", "self-vip", "-o", "jsonpath={.spec.clusterIP}")
    script = f"iperf3 -s -p 5202 -D && sleep 2 && iperf3 -c {vip} -p 5202 -t 1 -J"
    cluster.apply(cluster.pod("self", ["sh", "-c", script]))
    cluster.wait_phase("self", "Succeeded")
    report = json.loads(cluster.kubectl("-n", NAME, "logs", "self"))
    assert report["end"]["sum_received"]["bits_per_second"] > 0
    cluster.apply(cluster.pod("host", ["sh", "-c", "ip -4 -o addr show eth0"], hostNetwork=True))
    cluster.wait_phase("host", "Succeeded")
    node_ip = cluster.spec.nodes[0].ip
    assert f"inet {node_ip}/" in cluster.kubectl("-n", NAME, "logs", "host")


def test_kube_router_enforces_a_network_policy(cluster: Live) -> None:
    """A policy selecting the server with no ingress rule: the port is closed to a client; without it, open."""
    pod_ip = json.loads(cluster.kubectl("-n", NAME, "get", "pod", "server", "-o", "json"))["status"]["podIP"]
    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-server", "namespace": NAME},
        "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"]},
    }
    probe = ["nc", "-z", "-w", "3", pod_ip, "5201"]
    cluster.apply(deny)
    time.sleep(3)  # kube-router syncs policies on change
    cluster.apply(cluster.pod("probe-denied", probe))
    cluster.wait_phase("probe-denied", "Failed")
    cluster.kubectl("-n", NAME, "delete", "networkpolicy", "deny-server")
    time.sleep(3)
    cluster.apply(cluster.pod("probe-allowed", probe))
    cluster.wait_phase("probe-allowed", "Succeeded")


def test_a_log_claim_binds_and_is_written(cluster: Live) -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "logs-worker", "namespace": NAME},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    writer = cluster.pod(
        "writer",
        ["sh", "-c", "echo written > /logs/proof"],
        securityContext={"runAsUser": 10001, "runAsGroup": 10001},
        volumes=[{"name": "logs", "persistentVolumeClaim": {"claimName": "logs-worker"}}],
    )
    writer["spec"]["containers"][0]["volumeMounts"] = [{"name": "logs", "mountPath": "/logs"}]  # type: ignore[index]
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAME}}, claim, writer)
    cluster.wait_phase("writer", "Succeeded")
    phase = cluster.kubectl("-n", NAME, "get", "pvc", "logs-worker", "-o", "jsonpath={.status.phase}")
    assert phase == "Bound"
    assert [p.read_text() for p in (cluster.spec.run_dir / "volumes").glob("*/proof")] == ["written\n"]


def test_down_leaves_nothing(cluster: Live) -> None:
    spec = cluster.spec
    state = load(spec.run_dir)
    assert state is not None
    pids = [p.pid for p in state.processes]
    assert all(procs.alive(p) for p in pids), "a daemon died while the cluster ran"
    started = time.monotonic()
    left = down.teardown(spec.run_dir, spec.name)
    print(f"cluster stop: {time.monotonic() - started:.0f} s")
    assert left == []
    assert down.namespaces_of(spec.name) == []
    assert not any(procs.alive(p) for p in pids)
    assert procs.mentioning(str(spec.run_dir)) == []
    assert down.mounts_under(spec.run_dir) == []
    assert not any((m / state.cgroups[0].lstrip("/")).exists() for m in cgroups.mounts())
    assert not spec.run_dir.exists()
    # kubelet and libcni keep a few files at fixed paths: none of this run's may stay.
    for fixed in ("/var/log/containers", "/var/lib/cni/results", "/var/lib/kubelet/device-plugins"):
        folder = Path(fixed)
        mine = (
            [p for p in folder.iterdir() if str(p.resolve()).startswith(str(spec.run_dir))] if folder.is_dir() else []
        )
        assert mine == [], f"{fixed}: {mine}"
    assert not Path("/var/lib/kubelet/device-plugins/kubelet.sock").exists()


def test_a_component_that_fails_is_named_with_its_log_and_nothing_is_left(tmp_path: Path) -> None:
    """A scheduler that cannot start: `up` names it with its log's last lines and removes all it started."""
    real = bin_or_skip()
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in tools.BUILT:
        (fake / name).symlink_to(real / name)
    (fake / "kube-scheduler").unlink()
    (fake / "kube-scheduler").write_text("#!/bin/sh\necho 'planted: the scheduler refuses to start' >&2\nexit 3\n")
    (fake / "kube-scheduler").chmod(0o755)
    spec = spec_for_test("live", f"{NAME}f")
    lines: list[str] = []
    with pytest.raises(UpError) as failed:
        up(spec, say=lines.append, bin_dir=fake)
    assert "scheduler" in str(failed.value) and "planted: the scheduler refuses to start" in str(failed.value)
    assert any(line.startswith("[up] failed: ") for line in lines)
    assert down.namespaces_of(spec.name) == []
    assert procs.mentioning(str(spec.run_dir)) == []
    assert not spec.run_dir.exists()
