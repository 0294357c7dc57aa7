"""The routed link between two local clusters of one stack (path 6: a pod reaching a pod of the other
cluster by its IP): a veth pair between the two control planes' namespaces, made directly inside
them, and routes there to the other cluster's pod subnet and nodes. The nodes already send what is
not their cluster's to their control plane (their default route), so nothing changes on a node, and
nothing touches the machine's own namespace.

Whichever of the two clusters starts second makes the link; removing either cluster's namespace
removes the veth pair whole, and the kernel drops the routes through it on the other side.
`disconnect` removes it explicitly first, so that `down` says so and checks the other side.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable

from localcluster import netns
from localcluster.config import MESH_NET, ClusterSpec, Peer
from localcluster.shell import CommandError
from localcluster.state import load

IF_PREFIX = "mesh"


def cp_ns_of(prefix: str) -> str:
    """A run's control plane namespace (the one holding the nodes' bridge)."""
    return f"{prefix}-cp"


def link_name(index: int) -> str:
    """The link's name in one control plane: `mesh<i>`, i the index of the cluster at its other end."""
    return f"{IF_PREFIX}{index}"


def pair_addresses(a: int, b: int) -> tuple[str, str]:
    """The /30 of clusters `a` and `b` (indexes in the stack): (a's address, b's address) with prefix."""
    low, high = sorted((a, b))
    net = ipaddress.IPv4Network((int(MESH_NET.network_address) + (low << 8) + 4 * high, 30))
    first, second = (f"{net.network_address + k}/30" for k in (1, 2))
    return (first, second) if a == low else (second, first)


def running_cp(peer: Peer, spec: ClusterSpec) -> str | None:
    """The peer's control plane namespace when it runs (its state names it and it exists), else None."""
    state = load(spec.run_root / peer.name)
    if state is None or not state.prefix:
        return None
    ns = cp_ns_of(state.prefix)
    return ns if netns.exists(ns) else None


def _route_to(ns: str, gateway: str, nets: list[ipaddress.IPv4Network]) -> None:
    for net in nets:
        netns.ip(ns, "route", "replace", str(net), "via", gateway)


def connect(spec: ClusterSpec, own_cp: str, say: Callable[[str], None]) -> list[str]:
    """This cluster linked and routed to each peer that runs; the names of those peers."""
    linked = []
    for peer in spec.peers:
        other_cp = running_cp(peer, spec)
        if other_cp is None:
            say(f"[up] mesh: cluster {peer.name} is not running; it links to this one when it starts")
            continue
        own_if, other_if = link_name(peer.index), link_name(spec.index)
        own_addr, other_addr = pair_addresses(spec.index, peer.index)
        for ns, dev in ((own_cp, own_if), (other_cp, other_if)):  # a link left by an earlier run
            if dev in links(ns):
                netns.ip(ns, "link", "del", dev)
        netns.veth(own_cp, own_if, other_cp, other_if)
        for ns, dev, addr in ((own_cp, own_if, own_addr), (other_cp, other_if, other_addr)):
            netns.ip(ns, "addr", "add", addr, "dev", dev)
            netns.ip(ns, "link", "set", dev, "up")
            netns.sysctl(ns, "net.ipv4.ip_forward", "1")
            netns.sysctl(ns, "net.ipv4.conf.all.rp_filter", "0")
        _route_to(own_cp, other_addr.split("/")[0], [peer.pod_subnet, peer.link_net])
        _route_to(other_cp, own_addr.split("/")[0], [spec.pod_subnet, spec.link_net])
        say(
            f"[up] mesh: linked to cluster {peer.name} ({own_cp} {own_if} {own_addr} <-> {other_cp} {other_if} "
            f"{other_addr}): routes to {peer.pod_subnet}, {peer.link_net} and back to {spec.pod_subnet}, "
            f"{spec.link_net}"
        )
        linked.append(peer.name)
    return linked


def links(ns: str) -> list[str]:
    """The mesh links in control plane namespace `ns`."""
    if not netns.exists(ns):
        return []
    out = netns.ip(ns, "-o", "link", "show")
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]
    return [n for n in names if n.startswith(IF_PREFIX) and n[len(IF_PREFIX) :].isdigit()]


def linked_peers(spec: ClusterSpec, own_cp: str) -> list[str]:
    """The peers this cluster's control plane has a link to."""
    present = set(links(own_cp))
    return [p.name for p in spec.peers if link_name(p.index) in present]


def disconnect(own_cp: str, say: Callable[[str], None]) -> None:
    """Every mesh link of this control plane gone (the other ends and the routes through them with it)."""
    for name in links(own_cp):
        say(f"[down] removing the mesh link {name} of {own_cp}")
        with contextlib.suppress(CommandError):  # gone meanwhile: the namespace's removal checks the rest
            netns.ip(own_cp, "link", "del", name)
