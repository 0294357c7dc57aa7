"""meshperf:link on Kubernetes: applied on kind-mesh's routes, refused where it cannot be applied.

The KindMeshRoutes provider is called directly against a stand-in `docker` and `kind`
(named so). The stand-in docker answers `inspect` and the control plane's kubectl from a
table, and runs every other `docker exec NODE CMD` as `ip netns exec <ns of NODE> CMD`:
each kind node is a network namespace this test makes, with an `eth0` on one bridge (the
shared Docker network) and its "pods" as addresses on its loopback. So the provider's `ip
route` and `tc` commands run for real, and the test measures what they did: a datagram
above the link's MTU is refused with DF set, and iperf3 to the other cluster is held to the
link's rate while iperf3 to a node of the same cluster is not.
"""

from __future__ import annotations

import errno
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from conftest import Run, run_program, stack_config, stand_in_kubeconfig

from components.hostrun import host_props
from components.mesh import KindMeshRoutesProvider
from components.stackconfig import SCALAR_KEYS

# name -> (address on the Docker network, its pod /24, one pod address in it)
NODES = {
    "a-control-plane": ("172.18.0.2", "10.244.0.0/24", "10.244.0.10"),
    "a-worker": ("172.18.0.3", "10.244.1.0/24", "10.244.1.10"),
    "b-control-plane": ("172.18.0.4", "10.245.0.0/24", "10.245.0.10"),
    "b-worker": ("172.18.0.5", "10.245.1.0/24", "10.245.1.10"),
}

STAND_IN_DOCKER = """#!/bin/sh
# Stand-in for docker, for tests: a kind node is the network namespace {prefix}-<node>.
echo "docker $*" >> "{log}"
case "$1" in
  inspect) for a in "$@"; do last=$a; done
    case "$last" in {inspect} *) echo "Error: No such object: $last" >&2; exit 1 ;; esac ;;
  exec) node=$2; shift 2
    case "$*" in
      *"kubectl --kubeconfig /etc/kubernetes/admin.conf get node "*)
        case "$*" in {cidrs} esac ;;
      *) exec ip netns exec "{prefix}-$node" "$@" ;;
    esac ;;
  *) echo "stand-in docker: unknown command $*" >&2; exit 2 ;;
esac
"""
STAND_IN_KIND = """#!/bin/sh
# Stand-in for kind, for tests.
case "$1 $2" in
  "get nodes") printf '%s-control-plane\\n%s-worker\\n' "$4" "$4" ;;
  *) echo "stand-in kind: unknown command $*" >&2; exit 2 ;;
esac
"""


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=30).stdout


@pytest.fixture
def kind_nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Four namespaces as kind nodes on one bridge, and stand-in docker/kind on PATH; all removed after."""
    prefix = f"mpl{secrets.token_hex(3)}"
    made: list[str] = []
    try:
        bridge = f"{prefix}-docker"
        sh("ip", "netns", "add", bridge)
        made.append(bridge)
        sh("ip", "-n", bridge, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", bridge, "link", "set", "br0", "up")
        for i, (node, (ip, _cidr, pod)) in enumerate(NODES.items()):
            ns = f"{prefix}-{node}"
            sh("ip", "netns", "add", ns)
            made.append(ns)
            peer = f"{prefix}p{i}"
            sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", bridge)
            sh("ip", "-n", bridge, "link", "set", peer, "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/16", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", f"{pod}/32", "dev", "lo")  # a pod of this node
        bindir, log = tmp_path / "bin", tmp_path / "calls.log"
        bindir.mkdir()
        inspect = " ".join(f'{n}) echo "{ip} " ;;' for n, (ip, _c, _p) in NODES.items())
        cidrs = " ".join(f'*"get node {n} "*) printf {cidr} ;;' for n, (_i, cidr, _p) in NODES.items())
        docker = STAND_IN_DOCKER.format(prefix=prefix, log=log, inspect=inspect, cidrs=cidrs)
        for name, text in (("docker", docker), ("kind", STAND_IN_KIND)):
            (bindir / name).write_text(text)
            (bindir / name).chmod(0o755)
        monkeypatch.setenv("PATH", f"{bindir}:/usr/sbin:/usr/bin:/sbin:/bin")
        yield {"prefix": prefix, "log": log}
    finally:
        for ns in reversed(made):
            subprocess.run(["ip", "netns", "del", ns], check=False, timeout=30)


def in_node(prefix: str, node: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", f"{prefix}-{node}", *args], capture_output=True, text=True, timeout=timeout
    )


SEND_WITH_DF = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO: never fragment
try:
    s.sendto(b"x" * int(sys.argv[2]), (sys.argv[1], 9))
except OSError as exc:
    print(exc.errno)
else:
    print(0)
"""


def send_errno(prefix: str, node: str, dst: str, payload: int) -> int:
    out = in_node(prefix, node, sys.executable, "-c", SEND_WITH_DF, dst, str(payload))
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


def iperf3_mbps(prefix: str, client: str, server: str, address: str) -> float:
    """One second of iperf3 TCP from `client` to `address` (on `server`), in Mbit/s received."""
    srv = subprocess.Popen(
        ["ip", "netns", "exec", f"{prefix}-{server}", "iperf3", "-s", "-1", "-B", address],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):  # the server is up once it listens; bounded: 5 s
            if f"{address}:5201" in in_node(prefix, server, "ss", "-ltn").stdout:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        out = in_node(prefix, client, "iperf3", "-c", address, "-t", "1", "-J", timeout=20)
        assert out.returncode == 0, out.stdout[-500:] + out.stderr
        return float(json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e6
    finally:
        srv.kill()
        srv.wait(timeout=10)


def test_the_link_mtu_and_rate_hold_between_clusters_and_only_there(kind_nodes: dict[str, Any]) -> None:
    prefix = kind_nodes["prefix"]
    props = {"clusters": ["a", "b"], "host": host_props("local"), "mtu": 1400.0, "rate": "20mbit"}
    result = KindMeshRoutesProvider().create(props)
    assert [n["name"] for n in result.outs["nodes"]["b"]] == ["b-control-plane", "b-worker"]

    routes = in_node(prefix, "a-worker", "ip", "route", "show").stdout
    assert "10.245.1.0/24 via 172.18.0.5 dev eth0 mtu 1400" in routes
    assert "172.18.0.5 dev eth0 scope link mtu 1400" in routes

    # MTU: 1400 bytes of IP (1372 of UDP payload) pass toward the other cluster; one more is refused.
    pod_b = NODES["b-worker"][2]
    assert send_errno(prefix, "a-worker", pod_b, 1372) == 0
    assert send_errno(prefix, "a-worker", pod_b, 1373) == errno.EMSGSIZE
    # Inside cluster a the Docker network's own MTU (1500) is left as it is.
    assert send_errno(prefix, "a-worker", NODES["a-control-plane"][0], 1472) == 0

    # Rate: toward the other cluster's pod, held to 20 Mbit/s; toward a node of the same cluster, not shaped.
    shaped = iperf3_mbps(prefix, "a-worker", "b-worker", pod_b)
    same_cluster = iperf3_mbps(prefix, "a-worker", "a-control-plane", NODES["a-control-plane"][0])
    print(f"iperf3 1 s: to the other cluster {shaped:.1f} Mbit/s, within the cluster {same_cluster:.0f} Mbit/s")
    assert 5 < shaped < 22, shaped
    assert same_cluster > 10 * shaped, (same_cluster, shaped)
    classes = in_node(prefix, "a-worker", "tc", "class", "show", "dev", "eth0").stdout
    assert "class htb 1:10 root prio 0 rate 20Mbit ceil 20Mbit" in classes

    # The same commands again (an up after a replace) give the same state: no second set of filters.
    KindMeshRoutesProvider().create(props)
    filters = in_node(prefix, "a-worker", "tc", "filter", "show", "dev", "eth0").stdout
    assert filters.count("flowid 1:10") == 4  # b's two pod /24s and two node /32s

    # Without a rate, the htb root goes and the routes keep the MTU.
    KindMeshRoutesProvider().create({**props, "rate": None})
    assert "htb" not in in_node(prefix, "a-worker", "tc", "qdisc", "show", "dev", "eth0").stdout
    assert "mtu 1400" in in_node(prefix, "a-worker", "ip", "route", "show").stdout


def test_refresh_sees_routes_and_a_link_that_a_docker_restart_lost(kind_nodes: dict[str, Any]) -> None:
    """The provider's `read` looks in the nodes: all there, it keeps the resource; a route or the link's
    class gone (fresh node containers after a Docker restart), the resource is gone and `up` makes it again."""
    prefix, provider = kind_nodes["prefix"], KindMeshRoutesProvider()
    props = {"clusters": ["a", "b"], "host": host_props("local"), "mtu": 1400, "rate": "20mbit"}
    made = provider.create(props)
    assert provider.read(made.id, made.outs).id == "a-b"
    in_node(prefix, "b-worker", "ip", "route", "del", NODES["a-worker"][1])
    assert provider.read(made.id, made.outs).id == ""
    made = provider.create(props)
    assert provider.read(made.id, made.outs).id == "a-b"
    in_node(prefix, "a-control-plane", "tc", "qdisc", "del", "dev", "eth0", "root")
    assert provider.read(made.id, made.outs).id == ""
    # Without a rate, no class is looked for.
    made = provider.create({**props, "rate": None})
    assert provider.read(made.id, made.outs).id == "a-b"


def test_a_link_mtu_above_the_docker_networks_is_refused(kind_nodes: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError) as raised:
        KindMeshRoutesProvider().create({"clusters": ["a", "b"], "host": host_props("local"), "mtu": 9000})
    assert str(raised.value) == (
        "meshperf:link.mtu: 9000 is above the MTU 1500 of eth0 on kind node a-control-plane (the Docker network's); "
        "set meshperf:link.mtu to at most 1500"
    )
    assert "ip route replace" not in kind_nodes["log"].read_text()


LINK = json.dumps({"mtu": 1400, "rate": "1gbit"})


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        (
            "ci-example",
            "meshperf:link: MTU and rate are applied only between kind clusters that meshperf routes; ci-a, ci-b is "
            "an existing cluster, whose network meshperf does not change; leave meshperf:link out",
        ),
        ("kind-local", "meshperf:link: there is one cluster, so no link between clusters; leave meshperf:link out"),
    ],
)
def test_a_link_that_cannot_be_applied_is_refused(
    stack: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(stand_in_kubeconfig(["kind-ci-a", "kind-ci-b"]))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    run = Run()
    with pytest.raises(pulumi.RunError) as raised:
        run_program(stack, {**stack_config(stack), "meshperf:link": LINK}, run)
    assert str(raised.value) == f"stack {stack}: {expected}"
    assert run.resources == []


def test_the_link_reaches_the_routes_provider_on_kind_mesh(runs: dict[str, Any]) -> None:
    routes = runs["kind-mesh"].of_type("meshperf:KindMeshRoutes")[0]
    assert routes.inputs["mtu"] == 1500 and routes.inputs["rate"] == "10gbit"


def _stack(name: str, **changes: Any) -> dict[str, Any]:
    """A shipped stack's `meshperf:` keys as values, with some keys changed."""
    keys = {k.removeprefix("meshperf:"): v for k, v in stack_config(name).items() if k.startswith("meshperf:")}
    config = {k: v if k in SCALAR_KEYS else json.loads(v) for k, v in keys.items()}
    return {**config, **changes}


def _e2sar(**changes: Any) -> dict[str, Any]:
    return {"e2sar": {"enabled": True, "sender": "w1", "receiver": "w4", **changes}}


def test_the_e2sar_mtu_check_takes_the_link_on_kind_mesh() -> None:
    from components.config import settings_from_config
    from spec.load import StackError

    stack = _stack("kind-mesh", link={"mtu": 1400})
    stack["suites"] = {**stack["suites"], **_e2sar(mtu=1400, pod_mtu=9000)}
    settings_from_config(stack)
    stack["suites"] = {**stack["suites"], **_e2sar(mtu=1401, pod_mtu=9000)}
    with pytest.raises(StackError) as raised:
        settings_from_config(stack)
    assert "suites.e2sar.mtu: 1401 is above the path's MTU 1400 (the link between cluster-a and cluster-b)" in str(
        raised.value
    )


def test_the_e2sar_mtu_check_takes_the_pod_mtu_between_existing_clusters() -> None:
    from components.config import settings_from_config
    from spec.load import StackError

    stack = _stack("ci-example")
    stack["suites"] = {"netperf": {"enabled": False}, **_e2sar(mtu=8000, pod_mtu=9000)}
    settings_from_config(stack)  # no link of meshperf's between them: the clusters' own 9000 is in force
    stack["suites"] = {"netperf": {"enabled": False}, **_e2sar(mtu=8000, pod_mtu=1500)}
    with pytest.raises(StackError, match=r"suites.e2sar.mtu: 8000 is above the path's MTU 1500 \(the pod network\)"):
        settings_from_config(stack)


def test_a_link_between_kind_clusters_on_two_hosts_is_refused() -> None:
    from components.config import settings_from_config
    from spec.load import StackError

    two_hosts = {
        "clusters": {
            "cluster-a": {"node_cidrs": ["172.18.0.0/16"]},
            "cluster-b": {
                "host": {"address": "kind-b.example", "known_hosts": "/dev/null"},
                "api_server_address": "192.0.2.8",  # a named SSH host: its address this machine reaches
                "node_cidrs": ["172.19.0.0/16"],
            },
        }
    }
    settings = settings_from_config(_stack("kind-mesh", link={}, kubernetes=two_hosts))
    assert not settings.routes_kind_clusters()
    with pytest.raises(StackError) as raised:
        settings_from_config(_stack("kind-mesh", kubernetes=two_hosts))
    assert str(raised.value) == (
        "stack: meshperf:link: MTU and rate are applied only between kind clusters on one Docker host; "
        "these are on different hosts; leave meshperf:link out"
    )
