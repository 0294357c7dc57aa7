"""The local cluster for real: `up`, a Ready node with the stack's labels, an iperf3 server pod and
clients against its pod IP and its ClusterIP (tool image built from images/Dockerfile), a log
claim bound by the local provisioner, then `down` and nothing left. Skips only when the live
tools (scripts/live-tools.sh --check) are not built."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from localcluster import cgroups, down, netns, procs, tools
from localcluster.config import ClusterSpec, from_stack
from localcluster.shell import run
from localcluster.state import load
from localcluster.up import UpError, up

NAME = "lctest"
IMAGE = "meshperf-tools:dev"


def _bin() -> Path:
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root")
    try:
        return tools.bin_dir()
    except tools.ToolsMissingError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[ClusterSpec, Path]]:
    bin_dir = _bin()
    live = from_stack("live")
    spec = live.model_copy(
        update={"name": NAME, "context": f"meshperf-{NAME}", "kubeconfig": live.run_root / NAME / "kubeconfig"}
    )
    try:
        took = up(spec)
        print(f"cluster start: {took:.0f} s")
        yield spec, bin_dir
    finally:
        down.teardown(spec.run_dir, spec.name)


def kubectl(cluster: tuple[ClusterSpec, Path], *args: str, input_text: str | None = None, timeout_s: float = 60) -> str:
    spec, bin_dir = cluster
    argv = [str(bin_dir / "kubectl"), "--kubeconfig", str(spec.kubeconfig), "--context", spec.context, *args]
    return run(argv, input_text=input_text, timeout_s=timeout_s)


def apply(cluster: tuple[ClusterSpec, Path], *objects: dict[str, object]) -> None:
    kubectl(cluster, "apply", "-f", "-", input_text=yaml.safe_dump_all(objects))


def pod(name: str, command: list[str], **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAME, "labels": {"app": name}},
        "spec": {
            "nodeSelector": {"node": "worker1"},
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": IMAGE, "imagePullPolicy": "Never", "command": command}],
            **spec,
        },
    }


def wait_phase(cluster: tuple[ClusterSpec, Path], name: str, phase: str, timeout_s: int = 90) -> None:
    try:
        kubectl(
            cluster,
            "-n",
            NAME,
            "wait",
            f"--for=jsonpath={{.status.phase}}={phase}",
            f"pod/{name}",
            f"--timeout={timeout_s}s",
            timeout_s=timeout_s + 10,
        )
    except Exception:
        print(kubectl(cluster, "-n", NAME, "describe", "pod", name))
        raise


def iperf3_bits(cluster: tuple[ClusterSpec, Path], name: str, target: str) -> float:
    apply(cluster, pod(name, ["iperf3", "-c", target, "-t", "2", "-J"]))
    wait_phase(cluster, name, "Succeeded")
    report = json.loads(kubectl(cluster, "-n", NAME, "logs", name))
    return float(report["end"]["sum_received"]["bits_per_second"])


def test_node_is_ready_with_the_stack_labels(cluster: tuple[ClusterSpec, Path]) -> None:
    node = json.loads(kubectl(cluster, "get", "node", "worker", "-o", "json"))
    assert node["metadata"]["labels"]["node"] == "worker1"
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    assert node["spec"]["podCIDR"].startswith("10.244.")


def test_iperf3_between_pods_by_pod_ip_and_cluster_ip(cluster: tuple[ClusterSpec, Path]) -> None:
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAME}})
    apply(
        cluster,
        pod("server", ["iperf3", "-s", "-p", "5201"]),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "server-vip", "namespace": NAME},
            "spec": {"selector": {"app": "server"}, "ports": [{"port": 5201, "targetPort": 5201}]},
        },
    )
    wait_phase(cluster, "server", "Running")
    server = json.loads(kubectl(cluster, "-n", NAME, "get", "pod", "server", "-o", "json"))
    assert server["status"]["podIP"].startswith("10.244.")
    assert iperf3_bits(cluster, "client-pod-ip", server["status"]["podIP"]) > 0
    vip = kubectl(cluster, "-n", NAME, "get", "service", "server-vip", "-o", "jsonpath={.spec.clusterIP}")
    assert vip.startswith("10.96.")
    assert iperf3_bits(cluster, "client-vip", vip) > 0


def test_a_log_claim_binds_and_is_written(cluster: tuple[ClusterSpec, Path]) -> None:
    spec, _ = cluster
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "logs-worker", "namespace": NAME},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    writer = pod(
        "writer",
        ["sh", "-c", "echo written > /logs/proof"],
        securityContext={"runAsUser": 10001, "runAsGroup": 10001},
        volumes=[{"name": "logs", "persistentVolumeClaim": {"claimName": "logs-worker"}}],
    )
    writer["spec"]["containers"][0]["volumeMounts"] = [{"name": "logs", "mountPath": "/logs"}]  # type: ignore[index]
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAME}}, claim, writer)
    wait_phase(cluster, "writer", "Succeeded")
    phase = kubectl(cluster, "-n", NAME, "get", "pvc", "logs-worker", "-o", "jsonpath={.status.phase}")
    assert phase == "Bound"
    assert [p.read_text() for p in (spec.run_dir / "volumes").glob("*/proof")] == ["written\n"]


def test_down_leaves_nothing(cluster: tuple[ClusterSpec, Path]) -> None:
    spec, _ = cluster
    state = load(spec.run_dir)
    assert state is not None
    pids = [p.pid for p in state.processes]
    assert all(procs.alive(p) for p in pids), "a daemon died while the cluster ran"
    started = time.monotonic()
    left = down.teardown(spec.run_dir, spec.name)
    print(f"cluster stop: {time.monotonic() - started:.0f} s")
    assert left == []
    assert netns.listing(down.ns_prefix(spec.name)) == []
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
    real = _bin()
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in tools.BUILT:
        (fake / name).symlink_to(real / name)
    (fake / "kube-scheduler").unlink()
    (fake / "kube-scheduler").write_text("#!/bin/sh\necho 'planted: the scheduler refuses to start' >&2\nexit 3\n")
    (fake / "kube-scheduler").chmod(0o755)
    live = from_stack("live")
    spec = live.model_copy(
        update={
            "name": f"{NAME}f",
            "context": f"meshperf-{NAME}f",
            "kubeconfig": live.run_root / f"{NAME}f" / "kubeconfig",
        }
    )
    lines: list[str] = []
    with pytest.raises(UpError) as failed:
        up(spec, say=lines.append, bin_dir=fake)
    assert "scheduler" in str(failed.value) and "planted: the scheduler refuses to start" in str(failed.value)
    assert any(line.startswith("[up] failed: ") for line in lines)
    assert netns.listing(down.ns_prefix(spec.name)) == []
    assert procs.mentioning(str(spec.run_dir)) == []
    assert not spec.run_dir.exists()
