"""KindImage and KindMeshRoutes providers, called directly, against stand-in `docker` and `kind`.

The stand-ins (shell scripts the test writes on PATH) log every call and answer like the
real tools for what the providers ask: a build read from stdin, an image id, node names,
node addresses and pod CIDRs. They are stand-ins, not Docker: nothing is built or routed.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.hostrun import RunError, host_props
from components.image import KindImageProvider, build_context
from components.mesh import KindMeshRoutesProvider
from spec.image import IMAGES

STAND_IN_DOCKER = """#!/bin/sh
# Stand-in for docker, for tests.
echo "docker $*" >> "{log}"
case "$1" in
  build) mkdir -p "{state}/context" && tar -x -C "{state}/context" && echo "Successfully tagged $3" ;;
  image)
    case "$*" in *"{{.Os}}/{{.Architecture}}"*) echo "linux/amd64" ;; *) echo "sha256:0123abcd" ;; esac ;;
  save)
    [ "$2" = "--help" ] && { echo "      --platform string   Save only the given platform"; exit 0; }
    [ "$2" = "--platform" ] && [ "$4" = "-o" ] || { echo "stand-in docker: unexpected save $*" >&2; exit 2; }
    printf 'image archive of %s for %s\n' "$6" "$3" > "$5" ;;
  inspect)
    for a in "$@"; do last=$a; done
    case "$last" in
      a-control-plane) echo "172.18.0.2 " ;; a-worker) echo "172.18.0.3 " ;;
      b-control-plane) echo "172.18.0.4 " ;; b-worker) echo "172.18.0.5 " ;;
      *) echo "Error: No such object: $last" >&2; exit 1 ;;
    esac ;;
  exec)
    case "$*" in
      *"get node a-control-plane"*) printf 10.244.0.0/24 ;; *"get node a-worker"*) printf 10.244.1.0/24 ;;
      *"get node b-control-plane"*) printf 10.245.0.0/24 ;; *"get node b-worker"*) printf 10.245.1.0/24 ;;
      *"ip route replace"*|*" tc "*) : ;;
      *"cat /sys/class/net/eth0/mtu") echo 1500 ;;
      *) echo "stand-in docker: unexpected exec $*" >&2; exit 2 ;;
    esac ;;
  *) echo "stand-in docker: unknown command $*" >&2; exit 2 ;;
esac
"""
STAND_IN_KIND = """#!/bin/sh
# Stand-in for kind, for tests.
echo "kind $*" >> "{log}"
case "$1 $2" in
  "load image-archive")
    [ "$5" = "missing" ] && { echo "ERROR: no nodes found for cluster missing" >&2; exit 1; }
    cat "$3" >> "{state}/loaded-$5" ;;
  "get nodes") printf '%s-control-plane\\n%s-worker\\n' "$4" "$4" ;;
  *) echo "stand-in kind: unknown command $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir, state = tmp_path / "bin", tmp_path / "state"
    bindir.mkdir()
    state.mkdir()
    log = state / "calls.log"
    for name, text in (("docker", STAND_IN_DOCKER), ("kind", STAND_IN_KIND)):
        path = bindir / name
        path.write_text(text.replace("{log}", str(log)).replace("{state}", str(state)))
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{Path('/usr/bin')}:{Path('/bin')}")
    return state


def test_image_is_built_from_its_context_saved_for_its_platform_and_loaded_into_every_cluster(
    stand_ins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lambda message, *_a, **_k: said.append(message))
    props = {
        "image": "meshperf-tools:dev",
        "context": build_context(),
        "clusters": ["a", "b"],
        "host": host_props("local"),
        "kind": "kind",
        "docker": "docker",
    }
    result = KindImageProvider().create(props)
    assert result.id == "meshperf-tools:dev"
    assert result.outs["image_id"] == "sha256:0123abcd"
    # The stand-in unpacked the tar it read: the Dockerfile and the package list it COPYs.
    for name in ("Dockerfile", "packages.txt"):
        assert (stand_ins / "context" / name).read_text() == (IMAGES / name).read_text()
    calls = (stand_ins / "calls.log").read_text().splitlines()
    assert calls[0] == "docker build -t meshperf-tools:dev -"
    saves = [c for c in calls if c.startswith("docker save --platform")]
    assert len(saves) == 1 and saves[0].startswith("docker save --platform linux/amd64 -o ")
    archive = saves[0].split()[5]
    assert f"kind load image-archive {archive} --name a" in calls
    assert f"kind load image-archive {archive} --name b" in calls
    assert not any("docker-image" in c for c in calls)
    for cluster in ("a", "b"):
        loaded = (stand_ins / f"loaded-{cluster}").read_text()
        assert loaded == "image archive of meshperf-tools:dev for linux/amd64\n"
    assert not Path(archive).exists()  # the temporary archive is removed
    # Progress for the CLI: each long step says when it starts and ends, naming the image and cluster.
    assert "docker build meshperf-tools:dev on localhost: started" in said
    assert "kind load image-archive meshperf-tools:dev into b: started" in said
    assert any(m.startswith("kind load image-archive meshperf-tools:dev into b: done in ") for m in said)


def test_image_load_into_a_missing_cluster_is_one_clear_error(stand_ins: Path) -> None:
    props = {"image": "img", "context": {"Dockerfile": "FROM x\n"}, "clusters": ["missing"]}
    props["host"] = host_props("local")
    with pytest.raises(RunError, match="kind load image-archive img into missing") as raised:
        KindImageProvider().create(props)
    assert "no nodes found" in str(raised.value)
    save = next(c for c in (stand_ins / "calls.log").read_text().splitlines() if c.startswith("docker save --platform"))
    assert not Path(save.split()[5]).exists()  # removed on the failure path too


def test_image_diff_replaces_only_for_a_new_name() -> None:
    provider = KindImageProvider()
    old = {
        "image": "a:1",
        "context": {"Dockerfile": "x"},
        "clusters": ["a"],
        "cluster_ids": ["kind-a-1"],
        "host": "local",
    }
    assert not provider.diff("a:1", old, dict(old)).changes
    changed = provider.diff("a:1", old, {**old, "context": {"Dockerfile": "y"}})
    assert changed.changes and changed.replaces == []
    assert provider.diff("a:1", old, {**old, "image": "a:2"}).replaces == ["image"]
    # A re-created cluster (new identity) is empty: an update, which loads the image again.
    recreated = provider.diff("a:1", old, {**old, "cluster_ids": ["kind-a-2"]})
    assert recreated.changes and recreated.replaces == []


def test_mesh_routes_every_node_to_each_remote_nodes_pod_cidr(stand_ins: Path) -> None:
    result = KindMeshRoutesProvider().create({"clusters": ["a", "b"], "host": host_props("local"), "mtu": 1500.0})
    nodes = result.outs["nodes"]
    assert nodes["a"] == [
        {"name": "a-control-plane", "ip": "172.18.0.2", "pod_cidr": "10.244.0.0/24"},
        {"name": "a-worker", "ip": "172.18.0.3", "pod_cidr": "10.244.1.0/24"},
    ]
    routes = [c for c in (stand_ins / "calls.log").read_text().splitlines() if "ip route replace" in c]
    assert len(routes) == 2 * 2 * 2 * 2  # each of 2 nodes in each of 2 clusters, to each of 2 remote nodes and pods
    assert "docker exec a-worker ip route replace 10.245.1.0/24 via 172.18.0.5 mtu 1500" in routes
    assert "docker exec b-control-plane ip route replace 10.244.1.0/24 via 172.18.0.3 mtu 1500" in routes
