"""KindImage and KindMeshRoutes providers, called directly, against stand-in `docker` and `kind`.

The stand-ins (shell scripts the test writes on PATH) log every call and answer like the
real tools for what the providers ask: a build read from stdin, an image id, node names,
node addresses and pod CIDRs. They are stand-ins, not Docker: nothing is built or routed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.hostrun import RunError, host_props
from components.image import IMAGES, KindImageProvider, build_context
from components.mesh import KindMeshRoutesProvider

STAND_IN_DOCKER = """#!/bin/sh
# Stand-in for docker, for tests.
echo "docker $*" >> "{log}"
case "$1" in
  build) mkdir -p "{state}/context" && tar -x -C "{state}/context" && echo "Successfully tagged $3" ;;
  image) echo "sha256:0123abcd" ;;
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
      *"ip route replace"*) : ;;
      *) echo "stand-in docker: unexpected exec $*" >&2; exit 2 ;;
    esac ;;
  *) echo "stand-in docker: unknown command $*" >&2; exit 2 ;;
esac
"""
STAND_IN_KIND = """#!/bin/sh
# Stand-in for kind, for tests.
echo "kind $*" >> "{log}"
case "$1 $2" in
  "load docker-image") [ "$5" = "missing" ] && { echo "ERROR: no nodes found for cluster missing" >&2; exit 1; }; : ;;
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


def test_image_is_built_from_its_context_and_loaded_into_every_cluster(stand_ins: Path) -> None:
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
    assert "kind load docker-image meshperf-tools:dev --name a" in calls
    assert "kind load docker-image meshperf-tools:dev --name b" in calls


def test_image_load_into_a_missing_cluster_is_one_clear_error(stand_ins: Path) -> None:
    props = {"image": "img", "context": {"Dockerfile": "FROM x\n"}, "clusters": ["missing"]}
    props["host"] = host_props("local")
    with pytest.raises(RunError, match="kind load docker-image into missing") as raised:
        KindImageProvider().create(props)
    assert "no nodes found" in str(raised.value)


def test_image_diff_replaces_only_for_a_new_name() -> None:
    provider = KindImageProvider()
    old = {"image": "a:1", "context": {"Dockerfile": "x"}, "clusters": ["a"], "host": "local"}
    assert not provider.diff("a:1", old, dict(old)).changes
    changed = provider.diff("a:1", old, {**old, "context": {"Dockerfile": "y"}})
    assert changed.changes and changed.replaces == []
    assert provider.diff("a:1", old, {**old, "image": "a:2"}).replaces == ["image"]


def test_mesh_routes_every_node_to_each_remote_nodes_pod_cidr(stand_ins: Path) -> None:
    result = KindMeshRoutesProvider().create({"clusters": ["a", "b"], "host": host_props("local")})
    nodes = result.outs["nodes"]
    assert nodes["a"] == [
        {"name": "a-control-plane", "ip": "172.18.0.2", "pod_cidr": "10.244.0.0/24"},
        {"name": "a-worker", "ip": "172.18.0.3", "pod_cidr": "10.244.1.0/24"},
    ]
    routes = [c for c in (stand_ins / "calls.log").read_text().splitlines() if "ip route replace" in c]
    assert len(routes) == 2 * 2 * 2  # each of 2 nodes in each of 2 clusters, to each of 2 remote nodes
    assert "docker exec a-worker ip route replace 10.245.1.0/24 via 172.18.0.5" in routes
    assert "docker exec b-control-plane ip route replace 10.244.1.0/24 via 172.18.0.3" in routes
