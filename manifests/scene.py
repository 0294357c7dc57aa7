"""Where things go: which objects each cluster holds, from the stack and the plan alone (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from spec.kubernetes import ClusterSettings, KubernetesSettings
from spec.model import VIP_PATHS, Cluster, Family, NetPath, Stack, is_host_workload
from spec.plan import Plan


@dataclass(frozen=True)
class Scene:
    """The stack, its plan and the Kubernetes settings, with the placement every object follows."""

    stack: Stack
    plan: Plan
    kube: KubernetesSettings

    @property
    def namespace(self) -> str:
        return self.kube.namespace

    @property
    def host_namespace(self) -> str:
        """The host baseline's namespace, beside the `restricted` one: `hostNetwork` needs `privileged`."""
        return f"{self.kube.namespace}-host"

    def namespace_of(self, workload: str) -> str:
        return self.host_namespace if is_host_workload(workload) else self.namespace

    def cluster_of(self, workload: str) -> str:
        return self.stack.workload(workload).cluster

    def cluster(self, workload: str) -> Cluster:
        """The cluster a workload runs in."""
        return self.stack.cluster(self.cluster_of(workload))

    def settings_of(self, cluster: str) -> ClusterSettings:
        return self.kube.clusters.get(cluster, ClusterSettings())

    @cached_property
    def remote(self) -> dict[str, list[str]]:
        """Client cluster -> the server workloads in the other cluster its pod clients reach (path 6;
        a host client reaches the other cluster's node directly, through no mesh endpoint or policy)."""
        out: dict[str, set[str]] = {}
        for case in self.plan.cases:
            if is_host_workload(case.client):
                continue
            src, dst = self.cluster_of(case.client), self.cluster_of(case.target.workload)
            if src != dst:
                out.setdefault(src, set()).add(case.target.workload)
        return {src: sorted(targets) for src, targets in out.items()}

    def remote_families(self, cluster: str, workload: str) -> list[Family]:
        """The families over which `cluster`'s clients reach the remote server `workload` (path 6)."""
        families = {
            c.family for c in self.plan.cases if c.target.workload == workload and self.cluster_of(c.client) == cluster
        }
        return [f for f in ("ipv4", "ipv6") if f in families]

    def cross_clusters(self) -> set[str]:
        """Clusters whose pods send to the other cluster: netperf clients and E2SAR senders."""
        senders = {self.cluster_of(p.sender) for p in self.plan.e2sar if self.e2sar_across(p.id)}
        return set(self.remote) | senders

    def e2sar_across(self, case_id: str) -> bool:
        case = next(p for p in self.plan.e2sar if p.id == case_id)
        return self.cluster_of(case.sender) != self.cluster_of(case.receiver)

    @property
    def clusters(self) -> list[str]:
        """Clusters in the order they are built: those whose clients reach the other cluster last."""
        return [c.name for c in sorted(self.stack.clusters, key=lambda c: c.name in self.remote)]

    def servers_in(self, cluster: str, *, host: bool = False) -> list[str]:
        """The server workloads of `cluster`: pod servers, or (`host`) the host baseline's."""
        return [w for w in self.plan.servers() if self.cluster_of(w) == cluster and is_host_workload(w) == host]

    def vip_targets_in(self, cluster: str) -> list[str]:
        """Servers of `cluster` reached by their virtual IP from another workload."""
        wanted = {c.target.workload for c in self.plan.cases if c.path in VIP_PATHS and c.client != c.target.workload}
        return [w for w in self.servers_in(cluster) if w in wanted]

    def hairpin_in(self, cluster: str) -> str | None:
        """The workload of `cluster` that reaches its own VIP (path 5), if any."""
        hairpin = [c.client for c in self.plan.cases if c.path is NetPath.HAIRPIN]
        return hairpin[0] if hairpin and self.cluster_of(hairpin[0]) == cluster else None

    def client_nodes(self, cluster: str, *, host: bool = False) -> dict[str, dict[str, str]]:
        """Spec node name -> a node selector that lands on it, for each node of `cluster` that runs
        clients (E2SAR senders and receivers included: their logs go on their node's volume); with
        `host`, the host baseline's clients (their claims are in their own namespace)."""
        out: dict[str, dict[str, str]] = {}
        for client in [*self.plan.clients(), *(w for pair in self.plan.e2sar for w in (pair.sender, pair.receiver))]:
            c, node = self.stack.node_of(client)
            if c.name == cluster and is_host_workload(client) == host:
                out.setdefault(node.name, dict(self.stack.workload(client).node_selector))
        return out

    def mesh_pairs(self) -> list[tuple[str, str]]:
        """(client cluster, remote server workload): one mesh endpoint each."""
        return [(src, t) for src, targets in sorted(self.remote.items()) for t in targets]

    def node_cidrs(self, cluster: str) -> list[str]:
        """A cluster's node addresses as the stack declares them (`kubernetes.clusters.<name>.node_cidrs`)."""
        return [str(n) for n in self.settings_of(cluster).node_cidrs]
