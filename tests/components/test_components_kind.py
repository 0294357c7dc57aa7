"""KindCluster's provider class, called directly, against a stand-in `kind` executable.

The stand-in (`kind`, a shell script the test writes) keeps its clusters as files and logs
every call; the provider reaches it through the local connector, and over real SSH to an
sshd the test starts on 127.0.0.1 (random port, generated keys, host key checked).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.hostrun import RunError, host_props
from components.kind import KindClusterProvider, kind_config, kind_node_names
from components.mesh import route_commands
from spec.kubernetes import KIND_NODE_IMAGES, ClusterSettings, SshHost
from spec.load import load_stack

STAND_IN_KIND = """#!/bin/sh
# Stand-in for kind, for tests: clusters are files in $STATE.
STATE={state}
echo "$*" >> "$STATE/calls.log"
name=kind
prev=
for a in "$@"; do [ "$prev" = "--name" ] && name=$a; [ "$prev" = "--config" ] && cfg=$a; prev=$a; done
case "$1 $2" in
  "get clusters") ls "$STATE/clusters" ;;
  "create cluster")
    [ -e "$STATE/clusters/$name" ] && { echo "node(s) already exist for \\"$name\\"" >&2; exit 1; }
    grep -q 'kind: Cluster' "$cfg" || { echo "bad config" >&2; exit 1; }
    cp "$cfg" "$STATE/clusters/$name" ;;
  "get kubeconfig")
    [ -e "$STATE/clusters/$name" ] || { echo "could not locate any control plane nodes for '$name'" >&2; exit 1; }
    printf 'apiVersion: v1\\nkind: Config\\ncurrent-context: kind-%s\\n' "$name" ;;
  "delete cluster") rm -f "$STATE/clusters/$name"; echo "Deleting cluster \\"$name\\" ..." >&2 ;;
  *) echo "stand-in kind: unknown command $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def stand_in_kind(tmp_path: Path) -> Path:
    """A directory with an executable named `kind` (the stand-in) and its state."""
    state = tmp_path / "kind-state"
    (state / "clusters").mkdir(parents=True)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    kind = bindir / "kind"
    kind.write_text(STAND_IN_KIND.replace("{state}", str(state)))
    kind.chmod(0o755)
    return tmp_path


def props(host: dict[str, Any], kind: str = "kind") -> dict[str, Any]:
    stack = load_stack("kind-local")
    cluster = stack.clusters[0]
    return {
        "name": cluster.name,
        "config": kind_config(cluster, ClusterSettings(), KIND_NODE_IMAGES["1.31"]),
        "host": host,
        "kind": kind,
    }


def test_kind_config_carries_labels_subnets_and_api_address() -> None:
    stack = load_stack("kind-mesh")
    b = stack.cluster("cluster-b")
    doc = yaml.safe_load(kind_config(b, ClusterSettings(api_server_address="10.252.0.2", api_server_port=6444), "img"))
    assert doc["apiVersion"] == "kind.x-k8s.io/v1alpha4" and doc["kind"] == "Cluster"
    assert doc["networking"] == {
        "ipFamily": "ipv4",
        "podSubnet": "10.245.0.0/16",
        "serviceSubnet": "10.97.0.0/16",
        "apiServerAddress": "10.252.0.2",
        "apiServerPort": 6444,
    }
    assert doc["nodes"] == [
        {"role": "control-plane", "image": "img"},
        {"role": "worker", "image": "img", "labels": {"node": "worker1"}},
    ]
    assert kind_node_names(b) == {"control-plane": "cluster-b-control-plane", "worker": "cluster-b-worker"}


def test_route_commands_connect_every_node_to_the_other_clusters_pods() -> None:
    nodes = {
        "a": [{"name": "a-worker", "ip": "172.18.0.2", "pod_cidr": "10.244.1.0/24"}],
        "b": [
            {"name": "b-worker", "ip": "172.18.0.5", "pod_cidr": "10.245.1.0/24"},
            {"name": "b-control-plane", "ip": "172.18.0.4", "pod_cidr": "10.245.0.0/24"},
        ],
    }
    cmds = route_commands("docker", nodes)
    assert "docker exec a-worker ip route replace 10.245.1.0/24 via 172.18.0.5" in cmds
    assert "docker exec b-control-plane ip route replace 10.244.1.0/24 via 172.18.0.2" in cmds
    assert len(cmds) == 4


def test_kind_cluster_locally_creates_adopts_and_deletes(stand_in_kind: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{stand_in_kind / 'bin'}{os.pathsep}{os.environ['PATH']}")
    provider = KindClusterProvider()
    p = props(host_props("local"))
    made = provider.create(p)
    assert made.id == "meshperf"
    assert made.outs["kubeconfig"].startswith("apiVersion: v1") and made.outs["adopted"] is False
    stored = yaml.safe_load((stand_in_kind / "kind-state" / "clusters" / "meshperf").read_text())
    assert stored["nodes"][1]["labels"] == {"node": "worker1"}
    # Idempotent: a second create adopts the cluster instead of failing.
    again = provider.create(p)
    assert again.outs["adopted"] is True
    assert provider.read("meshperf", p).id == "meshperf"
    provider.delete("meshperf", p)
    provider.delete("meshperf", p)  # already gone: fine
    assert provider.read("meshperf", p).id == ""
    calls = (stand_in_kind / "kind-state" / "calls.log").read_text().splitlines()
    assert sum(c.startswith("create cluster --name meshperf --config") for c in calls) == 1
    assert sum(c.startswith("delete cluster") for c in calls) == 1


def test_kind_cluster_failure_is_one_clear_line(stand_in_kind: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{stand_in_kind / 'bin'}{os.pathsep}{os.environ['PATH']}")
    p = props(host_props("local"))
    p["config"] = "not a kind config\n"
    with pytest.raises(RunError, match=r"kind create cluster meshperf on localhost failed \(exit 1\): bad config"):
        KindClusterProvider().create(p)


def test_diff_replaces_on_config_change() -> None:
    p = props(host_props("local"))
    provider = KindClusterProvider()
    assert provider.diff("meshperf", p, dict(p)).changes is False
    changed = provider.diff("meshperf", p, {**p, "config": p["config"] + "# more\n"})
    assert changed.replaces == ["config"] and changed.delete_before_replace


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An sshd on 127.0.0.1 with generated keys; the client checks its host key from a known_hosts file."""
    sshd_bin = shutil.which("sshd") or "/usr/sbin/sshd"
    assert Path(sshd_bin).exists(), "sshd is missing: scripts/install.sh installs openssh-server"
    d = tmp_path / "ssh"
    d.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    port = _free_port()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {(d / 'host_key.pub').read_text()}")
    (d / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1:{port}\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nUsePAM no\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nStrictModes no\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield {"port": port, "dir": d}
    finally:
        proc.kill()
        proc.wait()


def test_kind_cluster_over_ssh(stand_in_kind: Path, sshd: dict[str, Any]) -> None:
    d = sshd["dir"]
    host = host_props(
        SshHost(
            address="127.0.0.1",
            port=sshd["port"],
            user="root",
            key=str(d / "client_key"),
            known_hosts=str(d / "known_hosts"),
        ).model_dump()
    )
    kind = str(stand_in_kind / "bin" / "kind")  # the remote shell's PATH is its own: name it in full
    provider = KindClusterProvider()
    p = props(host, kind)
    made = provider.create(p)
    assert "current-context: kind-meshperf" in made.outs["kubeconfig"]
    assert (stand_in_kind / "kind-state" / "clusters" / "meshperf").exists()
    provider.delete("meshperf", p)
    assert not (stand_in_kind / "kind-state" / "clusters" / "meshperf").exists()


def test_ssh_host_key_is_checked(stand_in_kind: Path, sshd: dict[str, Any], tmp_path: Path) -> None:
    d = sshd["dir"]
    other = tmp_path / "other_known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "imposter")], check=True)
    other.write_text(f"[127.0.0.1]:{sshd['port']} {(tmp_path / 'imposter.pub').read_text()}")
    host = host_props(
        SshHost(address="127.0.0.1", port=sshd["port"], key=str(d / "client_key"), known_hosts=str(other)).model_dump()
    )
    with pytest.raises(RunError, match="host key refused"):
        KindClusterProvider().create(props(host, str(stand_in_kind / "bin" / "kind")))
