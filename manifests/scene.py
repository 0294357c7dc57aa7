"""Where things go: which objects each cluster holds, from the stack and the plan alone (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from spec.kubernetes import ClusterSettings, KubernetesSettings
from spec.model import VIP_PATHS, Cluster, Family, NetPath, Stack
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

    def cluster_of(self, workload: str) -> str:
        return self.stack.workloads[workload].cluster

    def cluster(self, workload: str) -> Cluster:
        """The cluster a workload runs in."""
        return self.stack.cluster(self.cluster_of(workload))

    def settings_of(self, cluster: str) -> ClusterSettings:
        return self.kube.clusters.get(cluster, ClusterSettings())

    @cached_property
    def remote(self) -> dict[str, list[str]]:
        """Client cluster -> the server workloads in the other cluster its clients reach (path 6)."""
        out: dict[str, set[str]] = {}
        for case in self.plan.cases:
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

    def servers_in(self, cluster: str) -> list[str]:
        return [w for w in self.plan.servers() if self.cluster_of(w) == cluster]

    def vip_targets_in(self, cluster: str) -> list[str]:
        """Servers of `cluster` reached by their virtual IP from another workload."""
        wanted = {c.target.workload for c in self.plan.cases if c.path in VIP_PATHS and c.client != c.target.workload}
        return [w for w in self.servers_in(cluster) if w in wanted]

    def hairpin_in(self, cluster: str) -> str | None:
        """The workload of `cluster` that reaches its own VIP (path 5), if any."""
        hairpin = [c.client for c in self.plan.cases if c.path is NetPath.HAIRPIN]
        return hairpin[0] if hairpin and self.cluster_of(hairpin[0]) == cluster else None

    def client_nodes(self, cluster: str) -> dict[str, dict[str, str]]:
        """Spec node name -> a node selector that lands on it, for each node of `cluster` that runs
        clients (E2SAR senders and receivers included: their logs go on their node's volume)."""
        out: dict[str, dict[str, str]] = {}
        for client in [*self.plan.clients(), *(w for pair in self.plan.e2sar for w in (pair.sender, pair.receiver))]:
            c, node = self.stack.node_of(client)
            if c.name == cluster:
                out.setdefault(node.name, dict(self.stack.workloads[client].node_selector))
        return out

    def mesh_pairs(self) -> list[tuple[str, str]]:
        """(client cluster, remote server workload): one mesh endpoint each."""
        return [(src, t) for src, targets in sorted(self.remote.items()) for t in targets]

    def node_cidrs(self, cluster: str) -> list[str]:
        """A cluster's node addresses as the stack declares them (`kubernetes.clusters.<name>.node_cidrs`)."""
        return [str(n) for n in self.settings_of(cluster).node_cidrs]
