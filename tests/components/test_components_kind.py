"""KindCluster's provider class, called directly, against stand-in `kind` and `docker` executables.

The stand-in kind (a shell script the test writes) keeps its clusters as files and logs
every call; the stand-in docker answers the provider's two kubectl questions to a cluster's
control plane (its nodes with their labels, kubeadm's ClusterConfiguration) from files the
test writes, as the running cluster would. The provider reaches them through the local
connector, and over real SSH to an sshd the test starts on 127.0.0.1 (random port,
generated keys, host key checked).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
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
from components.kind import KindClusterProvider, cluster_identity, container_names, kind_config
from components.mesh import route_commands
from spec.kubernetes import KIND_NODE_IMAGES, KIND_VERSION, ClusterSettings, SshHost, kind_node_image
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
    cp "$cfg" "$STATE/clusters/$name"
    # A slow first node image pull: the nodes are there, the create goes on.
    if [ -e "$STATE/slow" ]; then sleep 60; fi
    ;;
  "get kubeconfig")
    [ -e "$STATE/clusters/$name" ] || { echo "could not locate any control plane nodes for '$name'" >&2; exit 1; }
    printf 'apiVersion: v1\\nkind: Config\\ncurrent-context: kind-%s\\n' "$name" ;;
  "delete cluster") rm -f "$STATE/clusters/$name"; echo "Deleting cluster \\"$name\\" ..." >&2 ;;
  *) echo "stand-in kind: unknown command $*" >&2; exit 2 ;;
esac
"""


STAND_IN_DOCKER = """#!/bin/sh
# Stand-in for docker, for tests: kubectl in a control-plane container answers from files in $STATE.
STATE={state}
echo "docker $*" >> "$STATE/calls.log"
KUBECTL="exec meshperf-control-plane kubectl --kubeconfig /etc/kubernetes/admin.conf"
case "$*" in
  "$KUBECTL get nodes -o json") cat "$STATE/nodes.json" ;;
  "$KUBECTL -n kube-system get configmap kubeadm-config -o jsonpath={.data.ClusterConfiguration}")
    cat "$STATE/kubeadm.yaml" ;;
  *) echo "stand-in docker: unexpected $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def stand_in_kind(tmp_path: Path) -> Path:
    """A directory with executables named `kind` and `docker` (the stand-ins) and their state."""
    state = tmp_path / "kind-state"
    (state / "clusters").mkdir(parents=True)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("kind", STAND_IN_KIND), ("docker", STAND_IN_DOCKER)):
        path = bindir / name
        path.write_text(text.replace("{state}", str(state)))
        path.chmod(0o755)
    return tmp_path


def props(host: dict[str, Any], bindir: Path | None = None, adopt: bool = False) -> dict[str, Any]:
    """The kind-local cluster's inputs; `bindir` names the stand-ins in full (a remote shell has its own PATH)."""
    stack = load_stack("kind-local")
    cluster = stack.clusters[0]
    return {
        "name": cluster.name,
        "config": kind_config(cluster, ClusterSettings(), KIND_NODE_IMAGES["1.31.0"]),
        "host": host,
        "kind": str(bindir / "kind") if bindir else "kind",
        "docker": str(bindir / "docker") if bindir else "docker",
        "adopt": adopt,
    }


def running_cluster(state: Path, labels: dict[str, dict[str, str]], pod: str, service: str) -> None:
    """What the stand-in docker's kubectl reports of a running cluster: its nodes and kubeadm's networking."""
    items = [
        {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **extra}}}
        for name, extra in labels.items()
    ]
    (state / "nodes.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    (state / "kubeadm.yaml").write_text(
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nclusterName: meshperf\n"
        f"networking:\n  dnsDomain: cluster.local\n  podSubnet: {pod}\n  serviceSubnet: {service}\n"
    )


# kind-local as kind makes it: containers named by kind's rule (<cluster>-<role>, then <role>2), the stack's labels.
MATCHING = {
    "meshperf-control-plane": {},
    "meshperf-worker": {"node": "worker1"},
    "meshperf-worker2": {"node": "worker2"},
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


def test_container_names_follow_kinds_namer() -> None:
    """kind's MakeNodeNamer: the first node of a role is `<cluster>-<role>`, the next ones `<role>2`, `<role>3`."""
    roles = ["control-plane", "worker", "worker", "control-plane", "worker"]
    assert container_names("m", roles) == [
        "m-control-plane",
        "m-worker",
        "m-worker2",
        "m-control-plane2",
        "m-worker3",
    ]


def test_route_commands_connect_every_node_to_the_other_clusters_pods() -> None:
    nodes = {
        "a": [{"name": "a-worker", "ip": "172.18.0.2", "pod_cidr": "10.244.1.0/24"}],
        "b": [
            {"name": "b-worker", "ip": "172.18.0.5", "pod_cidr": "10.245.1.0/24"},
            {"name": "b-control-plane", "ip": "172.18.0.4", "pod_cidr": "10.245.0.0/24"},
        ],
    }
    cmds = route_commands("docker", nodes, 1400)
    assert "docker exec a-worker ip route replace 10.245.1.0/24 via 172.18.0.5 mtu 1400" in cmds
    assert "docker exec b-control-plane ip route replace 10.244.1.0/24 via 172.18.0.2 mtu 1400" in cmds
    # Replies to masqueraded traffic are addressed to the node: its /32 carries the link's MTU too.
    assert "docker exec b-worker ip route replace 172.18.0.2/32 dev eth0 mtu 1400" in cmds
    assert len(cmds) == 2 * 4


def test_kind_cluster_locally_creates_and_deletes(stand_in_kind: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{stand_in_kind / 'bin'}{os.pathsep}{os.environ['PATH']}")
    provider = KindClusterProvider()
    p = props(host_props("local"))
    made = provider.create(p)
    assert made.id == "meshperf"
    assert made.outs["kubeconfig"].startswith("apiVersion: v1") and made.outs["adopted"] is False
    stored = yaml.safe_load((stand_in_kind / "kind-state" / "clusters" / "meshperf").read_text())
    assert stored["nodes"][1]["labels"] == {"node": "worker1"}
    assert provider.read("meshperf", p).id == "meshperf"
    provider.delete("meshperf", made.outs)
    provider.delete("meshperf", made.outs)  # already gone: fine
    assert provider.read("meshperf", p).id == ""
    calls = (stand_in_kind / "kind-state" / "calls.log").read_text().splitlines()
    assert sum(c.startswith("create cluster --name meshperf --config") for c in calls) == 1
    assert sum(c.startswith("delete cluster") for c in calls) == 1


def _existing_cluster(stand_in_kind: Path) -> Path:
    """A cluster named meshperf that something else made: the stand-in kind lists it."""
    state = stand_in_kind / "kind-state"
    (state / "clusters" / "meshperf").write_text("kind: Cluster\n# made by hand\n")
    return state


def test_an_existing_cluster_is_refused_without_the_adopt_key(
    stand_in_kind: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{stand_in_kind / 'bin'}{os.pathsep}{os.environ['PATH']}")
    state = _existing_cluster(stand_in_kind)
    with pytest.raises(RuntimeError) as raised:
        KindClusterProvider().create(props(host_props("local")))
    message = str(raised.value)
    assert message == (
        "kind cluster meshperf already exists on localhost and this stack did not create it: delete it "
        "(kind delete cluster --name meshperf) or set meshperf:kubernetes.clusters.meshperf.adopt: true "
        "to use it as it is"
    )
    calls = (state / "calls.log").read_text().splitlines()
    assert not any(c.startswith(("create cluster", "get kubeconfig")) for c in calls)


def test_an_adopted_cluster_is_checked_and_never_deleted(stand_in_kind: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{stand_in_kind / 'bin'}{os.pathsep}{os.environ['PATH']}")
    state = _existing_cluster(stand_in_kind)
    running_cluster(state, MATCHING, "10.244.0.0/16", "10.96.0.0/16")
    provider = KindClusterProvider()
    p = props(host_props("local"), adopt=True)
    made = provider.create(p)
    assert made.outs["adopted"] is True and "current-context: kind-meshperf" in made.outs["kubeconfig"]
    provider.delete("meshperf", made.outs)
    assert (state / "clusters" / "meshperf").exists()
    calls = (state / "calls.log").read_text().splitlines()
    assert not any(c.startswith(("create cluster", "delete cluster")) for c in calls)
    assert any("get nodes -o json" in c for c in calls) and any("kubeadm-config" in c for c in calls)
    # Only `adopt` changed: an update that keeps who made the cluster.
    assert provider.diff("meshperf", made.outs, {**p, "adopt": False}).replaces == []
    assert provider.update("meshperf", made.outs, {**p, "adopt": False}).outs["adopted"] is True


@pytest.mark.parametrize(
    ("labels", "pod", "expected"),
    [
        (
            {**MATCHING, "meshperf-worker2": {"node": "worker3"}},
            "10.244.0.0/16",
            "node meshperf-worker2 has node=worker3, the stack says node=worker2",
        ),
        (MATCHING, "10.250.0.0/16", "podSubnet is 10.250.0.0/16, the stack says 10.244.0.0/16"),
        (
            {k: v for k, v in MATCHING.items() if k != "meshperf-worker2"},
            "10.244.0.0/16",
            "node meshperf-worker2 is missing",
        ),
        ({**MATCHING, "meshperf-worker3": {}}, "10.244.0.0/16", "nodes the stack does not declare: meshperf-worker3"),
    ],
)
def test_an_adopted_cluster_that_differs_from_the_stack_is_refused(
    stand_in_kind: Path, monkeypatch: pytest.MonkeyPatch, labels: dict[str, dict[str, str]], pod: str, expected: str
) -> None:
    monkeypatch.setenv("PATH", f"{stand_in_kind / 'bin'}{os.pathsep}{os.environ['PATH']}")
    state = _existing_cluster(stand_in_kind)
    running_cluster(state, labels, pod, "10.96.0.0/16")
    with pytest.raises(RuntimeError) as raised:
        KindClusterProvider().create(props(host_props("local"), adopt=True))
    message = str(raised.value)
    assert message.startswith(
        "kind cluster meshperf on localhost (adopted, meshperf:kubernetes.clusters.meshperf.adopt) "
        "does not match the stack: "
    )
    assert expected in message and "\n" not in message


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
    provider = KindClusterProvider()
    p = props(host, stand_in_kind / "bin")
    made = provider.create(p)
    assert "current-context: kind-meshperf" in made.outs["kubeconfig"]
    assert (stand_in_kind / "kind-state" / "clusters" / "meshperf").exists()
    # A second create finds the cluster there: refused over SSH as locally, naming the SSH host.
    with pytest.raises(RuntimeError, match=rf"kind cluster meshperf already exists on root@127.0.0.1:{sshd['port']} "):
        provider.create(p)
    provider.delete("meshperf", made.outs)
    assert not (stand_in_kind / "kind-state" / "clusters" / "meshperf").exists()


def test_kind_cluster_adopted_over_ssh(stand_in_kind: Path, sshd: dict[str, Any]) -> None:
    d = sshd["dir"]
    host = host_props(
        SshHost(
            address="127.0.0.1", port=sshd["port"], key=str(d / "client_key"), known_hosts=str(d / "known_hosts")
        ).model_dump()
    )
    state = _existing_cluster(stand_in_kind)
    running_cluster(state, MATCHING, "10.244.0.0/16", "10.96.0.0/16")
    provider = KindClusterProvider()
    made = provider.create(props(host, stand_in_kind / "bin", adopt=True))
    assert made.outs["adopted"] is True
    provider.delete("meshperf", made.outs)
    assert (state / "clusters" / "meshperf").exists()
    running_cluster(state, {**MATCHING, "meshperf-worker": {}}, "10.244.0.0/16", "10.96.0.0/16")
    with pytest.raises(RuntimeError, match="node meshperf-worker has node=None, the stack says node=worker1"):
        provider.create(props(host, stand_in_kind / "bin", adopt=True))


def test_ssh_host_key_is_checked(stand_in_kind: Path, sshd: dict[str, Any], tmp_path: Path) -> None:
    d = sshd["dir"]
    other = tmp_path / "other_known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "imposter")], check=True)
    other.write_text(f"[127.0.0.1]:{sshd['port']} {(tmp_path / 'imposter.pub').read_text()}")
    host = host_props(
        SshHost(address="127.0.0.1", port=sshd["port"], key=str(d / "client_key"), known_hosts=str(other)).model_dump()
    )
    with pytest.raises(RunError, match="host key refused"):
        KindClusterProvider().create(props(host, stand_in_kind / "bin"))


def test_adopt_is_a_kind_cluster_key() -> None:
    from components.config import settings_from_config
    from spec.load import StackError

    existing = {
        "clusters": [
            {"name": "a", "kubeconfig_context": "ctx-a", "nodes": [{"name": "w", "labels": {"node": "worker1"}}]}
        ],
        "workloads": {"w1": {"cluster": "a", "node_selector": {"node": "worker1"}}},
        "suites": {"netperf": {"enabled": False}},
        "kubernetes": {"clusters": {"a": {"adopt": True}}},
    }
    with pytest.raises(StackError, match=r"clusters.a: host, node_image, api_server_address, api_server_port and"):
        settings_from_config(existing)
    kind = {**existing, "clusters": [{**existing["clusters"][0], "kubeconfig_context": None}]}
    assert settings_from_config(kind).cluster("a").adopt is True


def test_a_timed_out_create_is_stopped_and_what_it_left_deleted(
    stand_in_kind: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{stand_in_kind / 'bin'}{os.pathsep}{os.environ['PATH']}")
    state = stand_in_kind / "kind-state"
    (state / "slow").touch()
    p = props(host_props("local", command_timeout_s=1.0))
    started = time.monotonic()
    with pytest.raises(RunError, match=r"command timed out after 1s"):
        KindClusterProvider().create(p)
    assert time.monotonic() - started < 30
    assert not (state / "clusters" / "meshperf").exists(), "the half-made cluster is left behind"
    assert (state / "calls.log").read_text().splitlines()[-1] == "delete cluster --name meshperf"
    (state / "slow").unlink()
    assert KindClusterProvider().create(p).id == "meshperf"  # the next up starts clean


def _one_kind_cluster(**settings: Any) -> dict[str, Any]:
    return {
        "clusters": [{"name": "a", "nodes": [{"name": "w", "labels": {"node": "worker1"}}]}],
        "workloads": {"w1": {"cluster": "a", "node_selector": {"node": "worker1"}}},
        "suites": {"netperf": {"enabled": False}},
        "kubernetes": {"clusters": {"a": settings}},
    }


def test_the_command_timeout_is_a_setting_with_a_generous_default() -> None:
    from components.config import settings_from_config

    assert ClusterSettings().timeout_s() == 3600.0
    assert settings_from_config(_one_kind_cluster(command_timeout_s=7200)).cluster("a").timeout_s() == 7200.0
    ssh = {"address": "10.0.0.5", "command_timeout_s": 600}  # the older key, on the SSH host
    assert settings_from_config(_one_kind_cluster(host=ssh)).cluster("a").timeout_s() == 600.0
    # The timeout is how commands run there, not which machine: changing it re-creates nothing.
    base = props(host_props("local", command_timeout_s=3600.0))
    longer = {**base, "host": host_props("local", command_timeout_s=7200.0)}
    assert cluster_identity(base) == cluster_identity(longer)
    result = KindClusterProvider().diff("meshperf", base, longer)
    assert result.changes and result.replaces == []


def test_kind_over_ssh_serves_its_api_on_the_ssh_hosts_address() -> None:
    """`kind get kubeconfig` names https://<apiServerAddress>:<port> (kind's docker provider,
    GetAPIServerEndpoint): over SSH, by default the SSH host's address, which this machine reaches."""
    from components.config import settings_from_config

    stack = load_stack("kind-local")
    remote = settings_from_config(_one_kind_cluster(host={"address": "192.0.2.7"})).cluster("a")
    doc = yaml.safe_load(kind_config(stack.clusters[0], remote, "img"))
    assert doc["networking"]["apiServerAddress"] == "192.0.2.7"
    here = settings_from_config(_one_kind_cluster()).cluster("a")
    assert yaml.safe_load(kind_config(stack.clusters[0], here, "img"))["networking"]["apiServerAddress"] == "127.0.0.1"
    # An sshd on this machine's loopback (the tests' own): loopback is right.
    loop = settings_from_config(_one_kind_cluster(host={"address": "127.0.0.1", "port": 2222})).cluster("a")
    assert loop.api_server() == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"host": {"address": "192.0.2.7"}, "api_server_address": "127.0.0.1"},
            r"^stack: meshperf:kubernetes\.clusters\.a\.api_server_address: 127\.0\.0\.1 is the loopback of SSH host",
        ),
        (
            {"host": {"address": "192.0.2.7"}, "api_server_address": "0.0.0.0"},
            r"^stack: meshperf:kubernetes\.clusters\.a\.api_server_address: 0\.0\.0\.0 is no one address of SSH",
        ),
        (
            {"host": {"address": "kind-box.example"}},
            r"^stack: meshperf:kubernetes\.clusters\.a\.api_server_address: kind runs on SSH host 'kind-box.example'",
        ),
    ],
)
def test_a_remote_kind_with_an_unreachable_api_server_is_refused(settings: dict[str, Any], message: str) -> None:
    from components.config import settings_from_config
    from spec.load import StackError

    with pytest.raises(StackError, match=message) as caught:
        settings_from_config(_one_kind_cluster(**settings))
    assert "\n" not in str(caught.value)


def test_node_images_are_pinned_by_digest_for_the_kind_the_docs_install() -> None:
    from components.config import settings_from_config
    from spec.load import StackError

    root = Path(__file__).resolve().parents[2]
    installs = re.compile(r"go install sigs\.k8s\.io/kind@(v[0-9.]+)")  # kind built from its Go module
    for path in (root / "docs" / "kubernetes.md", root / ".github" / "workflows" / "kind.yml"):
        assert set(installs.findall(path.read_text())) == {KIND_VERSION}, path
    for version, image in KIND_NODE_IMAGES.items():
        assert re.fullmatch(rf"kindest/node:v{re.escape(version)}@sha256:[0-9a-f]{{64}}", image), image
    assert kind_node_image("1.31") == KIND_NODE_IMAGES["1.31.0"]
    assert kind_node_image("v1.30") == KIND_NODE_IMAGES["1.30.4"]  # the newest patch kind built
    assert kind_node_image("1.30.3") == KIND_NODE_IMAGES["1.30.3"]
    stack = _one_kind_cluster()
    for unknown in ("1.33", "1.30.5"):
        stack["clusters"][0]["kubernetes_version"] = unknown
        with pytest.raises(
            StackError, match=rf"meshperf:clusters\[0\]\.kubernetes_version: kind {KIND_VERSION} has no"
        ):
            settings_from_config(stack)
    stack["kubernetes"]["clusters"]["a"]["node_image"] = "registry.example/node:v1.33.1"
    assert settings_from_config(stack).node_image("a") == "registry.example/node:v1.33.1"
