"""What cluster to make, read from a stack, and where each of its files lives.

The nodes are the stack's own (names and labels as a stack declares them), so that a stack's
placement runs on the cluster it names; the control plane is not a node (it runs no pods).
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from spec.load import load_stack
from spec.model import Stack

RUN_ROOT = Path(os.environ.get("MESHPERF_CLUSTER_ROOT", "/var/lib/meshperf/cluster"))
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
# The link between the control plane's namespace and the nodes' (a bridge in the former).
LINK_NET = ipaddress.IPv4Network("10.250.0.0/24")
API_PORT = 6443


class Node(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    labels: dict[str, str]
    index: int

    @property
    def ip(self) -> str:
        return str(LINK_NET.network_address + 10 + self.index)


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

    @property
    def run_dir(self) -> Path:
        return self.run_root / self.name

    @property
    def cp_ip(self) -> str:
        return str(LINK_NET.network_address + 1)

    @property
    def api_service_ip(self) -> str:
        """The `kubernetes` Service's ClusterIP: the first address of the Service range."""
        return str(self.service_subnet.network_address + 1)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)


class SpecError(ValueError):
    """The stack cannot describe a local cluster: str() says which key and why."""


def from_stack(stack_name: str, cluster: str | None = None) -> ClusterSpec:
    """The local cluster a stack names: its one cluster with a kubeconfig context (or `cluster`)."""
    stack = load_stack(stack_name)
    return spec_of(stack, stack_name, cluster)


def spec_of(stack: Stack, where: str, cluster: str | None = None) -> ClusterSpec:
    candidates = [c for c in stack.clusters if c.kubeconfig_context and (cluster is None or c.name == cluster)]
    if len(candidates) != 1:
        named = f"named {cluster!r} " if cluster else ""
        raise SpecError(
            f"{where}: clusters: need exactly one cluster {named}with a kubeconfig_context, got {len(candidates)}"
        )
    c = candidates[0]
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
        nodes=tuple(Node(name=n.name, labels=dict(n.labels), index=i) for i, n in enumerate(workers)),
        pod_subnet=c.pod_subnet,
        service_subnet=c.service_subnet,
        kubeconfig=kubeconfig,
    )
