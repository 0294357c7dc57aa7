"""What cluster to make, read from a stack, and where each of its files lives.

The nodes are the stack's own (names and labels as a stack declares them), so that a stack's
placement runs on the cluster it names; the control plane is not a node (it runs no pods).
A stack may name several local clusters (a mesh): each is started on its own, with its own node
addresses (10.250.<i>.0/24 for the stack's i-th), and routed to the others once both run (mesh.py).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from spec.load import load_stack
from spec.model import Cluster, Stack

RUN_ROOT = Path(os.environ.get("MESHPERF_CLUSTER_ROOT", "/var/lib/meshperf/cluster"))
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
# The link between the control plane's namespace and the nodes' (a bridge in the former): the
# stack's first local cluster's; its i-th local cluster's is 10.250.<i>.0/24, so that clusters
# routed to each other keep distinct node addresses.
LINK_NET = ipaddress.IPv4Network("10.250.0.0/24")
# The point-to-point links between the control planes of two local clusters: a /30 per pair.
MESH_NET = ipaddress.IPv4Network("10.249.0.0/16")
MAX_CLUSTERS = 8
API_PORT = 6443


def link_net(index: int) -> ipaddress.IPv4Network:
    """The node network of a stack's `index`-th local cluster."""
    return ipaddress.IPv4Network((int(LINK_NET.network_address) + (index << 8), LINK_NET.prefixlen))


class Node(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    labels: dict[str, str]
    index: int
    net: ipaddress.IPv4Network = LINK_NET

    @property
    def ip(self) -> str:
        return str(self.net.network_address + 10 + self.index)


class Peer(BaseModel):
    """Another local cluster of the same stack, routed to this one when both run."""

    model_config = ConfigDict(frozen=True)

    name: str
    index: int
    pod_subnet: ipaddress.IPv4Network

    @property
    def link_net(self) -> ipaddress.IPv4Network:
        return link_net(self.index)


class ClusterSpec(BaseModel):
    """One local cluster: its name (the run folder's), kubeconfig context, nodes and subnets."""

    model_config = ConfigDict(frozen=True)

    name: str
    context: str
    nodes: tuple[Node, ...]
    pod_subnet: ipaddress.IPv4Network
    service_subnet: ipaddress.IPv4Network
    kubeconfig: Path
    run_root: Path = RUN_ROOT
    index: int = 0
    peers: tuple[Peer, ...] = ()

    @property
    def run_dir(self) -> Path:
        return self.run_root / self.name

    @property
    def link_net(self) -> ipaddress.IPv4Network:
        return link_net(self.index)

    @property
    def cp_ip(self) -> str:
        return str(self.link_net.network_address + 1)

    @property
    def api_service_ip(self) -> str:
        """The `kubernetes` Service's ClusterIP: the first address of the Service range."""
        return str(self.service_subnet.network_address + 1)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def renamed(self, names: Mapping[str, str]) -> ClusterSpec:
        """This cluster under another name (`names[self.name]`: its own run folder, context `meshperf-<name>`
        and kubeconfig there), its peers under theirs, so that two clusters renamed alike still find each
        other: how tests run a stack's clusters beside the ones a user started from it."""
        name = names[self.name]
        return self.model_copy(
            update={
                "name": name,
                "context": f"meshperf-{name}",
                "kubeconfig": self.run_root / name / "kubeconfig",
                "peers": tuple(p.model_copy(update={"name": names[p.name]}) for p in self.peers if p.name in names),
            }
        )


class SpecError(ValueError):
    """The stack cannot describe a local cluster: str() says which key and why."""


def from_stack(stack_name: str, cluster: str | None = None) -> ClusterSpec:
    """The local cluster a stack names: its one cluster with a kubeconfig context (or `cluster`)."""
    stack = load_stack(stack_name)
    return spec_of(stack, stack_name, cluster)


def all_from_stack(stack_name: str, cluster: str | None = None) -> list[ClusterSpec]:
    """Every local cluster a stack names (its clusters with a kubeconfig context, in order), or `cluster` alone."""
    stack = load_stack(stack_name)
    if cluster is not None:
        return [spec_of(stack, stack_name, cluster)]
    names = [c.name for c in stack.clusters if c.kubeconfig_context]
    if not names:
        raise SpecError(f"{stack_name}: clusters: need a cluster with a kubeconfig_context, got none")
    return [spec_of(stack, stack_name, name) for name in names]


def _check_distinct(local: list[Cluster], where: str) -> None:
    """Clusters routed to each other must not share pod or Service addresses."""
    if len(local) > MAX_CLUSTERS:
        raise SpecError(f"{where}: clusters: at most {MAX_CLUSTERS} local clusters, got {len(local)}")
    for i, a in enumerate(local):
        for b in local[i + 1 :]:
            for key in ("pod_subnet", "service_subnet"):
                if getattr(a, key).overlaps(getattr(b, key)):
                    raise SpecError(
                        f"{where}: clusters.{b.name}.{key}: {getattr(b, key)} overlaps {a.name}'s "
                        f"{getattr(a, key)}; local clusters routed to each other need distinct ones"
                    )
            if a.pod_subnet.overlaps(b.service_subnet) or b.pod_subnet.overlaps(a.service_subnet):
                raise SpecError(f"{where}: clusters.{b.name}: its subnets overlap {a.name}'s")


def spec_of(stack: Stack, where: str, cluster: str | None = None) -> ClusterSpec:
    local = [c for c in stack.clusters if c.kubeconfig_context]
    candidates = [c for c in local if cluster is None or c.name == cluster]
    if len(candidates) != 1:
        named = f"named {cluster!r} " if cluster else ""
        raise SpecError(
            f"{where}: clusters: need exactly one cluster {named}with a kubeconfig_context, got {len(candidates)}"
        )
    _check_distinct(local, where)
    c = candidates[0]
    index = local.index(c)
    if not NAME_RE.match(c.name):
        raise SpecError(f"{where}: clusters.{c.name}: a local cluster's name is 1-16 of a-z, 0-9, '-'")
    workers = [n for n in c.nodes if n.role == "worker"]
    if not workers or len(workers) > 8:
        raise SpecError(
            f"{where}: clusters.{c.name}.nodes: a local cluster has 1 to 8 worker nodes, got {len(workers)}"
        )
    settings = stack.kubernetes.clusters.get(c.name)
    kubeconfig = Path(settings.kubeconfig) if settings and settings.kubeconfig else RUN_ROOT / c.name / "kubeconfig"
    assert c.kubeconfig_context is not None
    return ClusterSpec(
        name=c.name,
        context=c.kubeconfig_context,
        nodes=tuple(
            Node(name=n.name, labels=dict(n.labels), index=i, net=link_net(index)) for i, n in enumerate(workers)
        ),
        pod_subnet=c.pod_subnet,
        service_subnet=c.service_subnet,
        kubeconfig=kubeconfig,
        index=index,
        peers=tuple(Peer(name=o.name, index=i, pod_subnet=o.pod_subnet) for i, o in enumerate(local) if o is not c),
    )
