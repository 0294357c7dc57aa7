"""The cluster's parts that run without Kubernetes: configs as their programs read them, the
provisioner's volume, and a half-made cluster (namespaces, containerd, a pod cgroup) torn down."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import tempfile
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from localcluster import cgroups, daemons, down, images, mesh, netns, procs, provisioner
from localcluster.config import ClusterSpec, Node, SpecError, all_from_stack, from_stack, spec_of
from localcluster.shell import run
from localcluster.state import State, save
from localcluster.up import ctr_ok
from spec.load import load_stack


def spec_at(root: Path, name: str = "lcparts") -> ClusterSpec:
    return ClusterSpec(
        name=name,
        context=f"meshperf-{name}",
        nodes=(Node(name="worker", labels={"node": "worker1"}, index=0),),
        pod_subnet=ipaddress.IPv4Network("10.244.0.0/16"),
        service_subnet=ipaddress.IPv4Network("10.96.0.0/16"),
        kubeconfig=root / name / "kubeconfig",
        run_root=root,
    )


def test_live_stack_names_one_labelled_node() -> None:
    spec = from_stack("live")
    assert (spec.name, spec.context) == ("live", "meshperf-live")
    assert [(n.name, n.labels) for n in spec.nodes] == [("worker", {"node": "worker1"})]
    assert spec.kubeconfig == Path("/var/lib/meshperf/cluster/live/kubeconfig")


def test_containerd_config_is_toml_with_every_path_in_the_node_folder(tmp_path: Path) -> None:
    spec = spec_at(tmp_path)
    lay = daemons.Layout(spec)
    node = spec.nodes[0]
    doc = tomllib.loads(daemons.containerd_config(lay, node))
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == daemons.SANDBOX_IMAGE
    assert cri["netns_mounts_under_state_dir"] is True
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    for path in (doc["root"], doc["state"], doc["grpc"]["address"], cri["cni"]["conf_dir"]):
        assert path.startswith(f"{lay.node_dir(node)}/"), path


def test_kubelet_runs_on_cgroup_v1_with_cgroupfs(tmp_path: Path) -> None:
    spec = spec_at(tmp_path)
    doc = yaml.safe_load(daemons.kubelet_config(daemons.Layout(spec), spec.nodes[0], "/x/worker"))
    assert (doc["cgroupDriver"], doc["failCgroupV1"], doc["cgroupRoot"]) == ("cgroupfs", False, "/x/worker")
    argv = daemons.kubelet(Path("/bin"), daemons.Layout(spec), spec.nodes[0])
    assert "--node-labels=node=worker1" in argv and "--hostname-override=worker" in argv


def test_cni_config_uses_the_node_pod_cidr_with_hairpin(tmp_path: Path) -> None:
    spec = spec_at(tmp_path)
    conf = json.loads(daemons.cni_conflist(daemons.Layout(spec), spec.nodes[0], "10.244.3.0/24"))
    bridge = conf["plugins"][0]
    assert bridge["hairpinMode"] is True
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.3.0/24"}]]


def test_provisioner_pins_the_volume_to_the_selected_node(tmp_path: Path) -> None:
    claim = {
        "metadata": {
            "name": "logs-worker",
            "namespace": "meshperf",
            "uid": "1234-abcd",
            "annotations": {provisioner.SELECTED: "worker"},
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    pv = provisioner.volume_for(claim, tmp_path)
    assert pv["spec"]["claimRef"] == {"namespace": "meshperf", "name": "logs-worker", "uid": "1234-abcd"}
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term["values"] == ["worker"]
    assert pv["spec"]["capacity"] == {"storage": "1Gi"} and pv["spec"]["storageClassName"] == provisioner.CLASS


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, containerd)")
def test_a_half_made_cluster_is_removed_whole() -> None:
    """Namespaces, a containerd with its mounts, a process in the pod cgroup: `teardown` leaves none."""
    # A short folder: containerd's sockets live in it, and a unix socket's path has 107 bytes at most.
    spec = spec_at(Path(tempfile.mkdtemp(prefix="lc-", dir="/tmp")))
    lay = daemons.Layout(spec)
    node = spec.nodes[0]
    prefix = f"{down.ns_prefix(spec.name)}{secrets.token_hex(2)}"
    state = State(prefix=prefix, namespaces=[f"{prefix}-cp", f"{prefix}-worker"])
    state.cgroups.append(f"{cgroups.own_path()}/meshperf-{prefix}")
    lay.run.mkdir(parents=True)
    save(lay.run, state)
    netns.build(state.namespaces[0], "10.250.0.1/24", {state.namespaces[1]: "10.250.0.10"}, 24)
    lay.node_dir(node).mkdir(parents=True)
    (lay.node_dir(node) / "containerd.toml").write_text(daemons.containerd_config(lay, node))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    state.processes.append(
        procs.start(
            "containerd/worker", daemons.containerd(lay, node), lay.log("c"), netns=state.namespaces[1], env=env
        )
    )
    cg = f"{state.cgroups[0]}/worker"
    cgroups.make(cg)
    sleeper = procs.start("sleeper", ["sleep", "300"], lay.log("s"), netns=None, env=env)
    (Path("/sys/fs/cgroup/pids") / cg.lstrip("/") / "cgroup.procs").write_text(str(sleeper.pid))
    save(lay.run, state)
    sock = str(lay.containerd_sock(node))
    try:
        deadline = time.monotonic() + 60
        while not ctr_ok(sock) and time.monotonic() < deadline:
            time.sleep(0.5)
        ctr = ["ctr", "-a", sock, "-n", "k8s.io"]
        run([*ctr, "images", "import", str(images.pause_archive(lambda _: None))], timeout_s=120)
        # A running container: an overlay mount, a shim outside any cgroup of ours, catatonit inside one.
        runc_root = str(lay.node_dir(node) / "containerd" / "runc")
        fifo = str(lay.run / "fifo")
        run(
            [
                *ctr,
                "run",
                "-d",
                "--runc-root",
                runc_root,
                "--fifo-dir",
                fifo,
                "--cgroup",
                f"{cg}/pod",
                daemons.SANDBOX_IMAGE,
                "pause",
            ],
            timeout_s=60,
        )
        assert down.mounts_under(lay.run), "nothing mounted: the test would prove nothing"
        assert len(cgroups.pids(state.cgroups[0])) == 2
    except BaseException:
        down.teardown(lay.run, spec.name, say=lambda _: None)
        raise

    left = down.teardown(lay.run, spec.name, say=lambda _: None)

    assert left == []
    assert netns.listing(prefix) == []
    assert down.mounts_under(lay.run) == []
    assert not procs.alive(sleeper.pid) and not procs.alive(state.processes[0].pid)
    assert not any((m / state.cgroups[0].lstrip("/")).exists() for m in cgroups.mounts())
    assert not lay.run.exists()
    spec.run_root.rmdir()


def test_a_cluster_owns_only_its_own_runs_names() -> None:
    names = [
        "mpk-live-1a2b-cp",
        "mpk-live-1a2b-worker",
        "mpk-live-two-3c4d-cp",
        "mpk-lively-5e6f-cp",
        "meshperf-mpk-live-1a2b",
    ]
    assert down.owned("live", names) == ["mpk-live-1a2b-cp", "mpk-live-1a2b-worker", "meshperf-mpk-live-1a2b"]
    assert down.owned("live-two", names) == ["mpk-live-two-3c4d-cp"]


def test_mesh_stack_names_two_clusters_with_distinct_addresses_each_the_other_peer() -> None:
    a, b = all_from_stack("live-mesh")
    assert (a.name, b.name) == ("mesh-a", "mesh-b")
    assert (str(a.link_net), a.cp_ip, a.nodes[0].ip) == ("10.250.0.0/24", "10.250.0.1", "10.250.0.10")
    assert (str(b.link_net), b.cp_ip, b.nodes[0].ip) == ("10.250.1.0/24", "10.250.1.1", "10.250.1.10")
    assert [(p.name, str(p.pod_subnet), str(p.link_net)) for p in a.peers] == [
        ("mesh-b", "10.245.0.0/16", "10.250.1.0/24")
    ]
    assert [(p.name, str(p.pod_subnet)) for p in b.peers] == [("mesh-a", "10.244.0.0/16")]
    assert mesh.pair_addresses(0, 1) == ("10.249.0.5/30", "10.249.0.6/30")
    assert mesh.pair_addresses(1, 0) == ("10.249.0.6/30", "10.249.0.5/30")
    assert from_stack("live").peers == ()


def test_local_clusters_sharing_a_pod_subnet_are_refused_naming_the_key() -> None:
    stack = load_stack("live-mesh")
    clash = stack.clusters[1].model_copy(update={"pod_subnet": ipaddress.IPv4Network("10.244.0.0/16")})
    stack = stack.model_copy(update={"clusters": [stack.clusters[0], clash]})
    with pytest.raises(SpecError, match=r"^x: clusters\.mesh-b\.pod_subnet: 10\.244\.0\.0/16 overlaps mesh-a's"):
        spec_of(stack, "x", "mesh-b")
