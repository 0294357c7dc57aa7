"""One cluster's test bed: namespace, NetworkPolicies, servers, Services, log claims and viewers."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import manifests as m
from components.config import Settings
from spec.model import VIP_PATHS, NetPath
from spec.plan import Plan


class ClusterBed(pulumi.ComponentResource):
    """Everything a cluster holds before its Jobs run."""

    namespace: pulumi.Output[str]
    servers: dict[str, k8s.core.v1.Pod]
    vips: dict[str, k8s.core.v1.Service]
    hairpin: k8s.core.v1.Service | None
    headless: k8s.core.v1.Service
    claims: dict[str, k8s.core.v1.PersistentVolumeClaim]
    viewers: dict[str, k8s.core.v1.Pod]

    def __init__(
        self,
        resource_name: str,
        *,
        settings: Settings,
        plan: Plan,
        cluster: str,
        image: pulumi.Input[str],
        provider: k8s.Provider,
        remote_sources: list[pulumi.Input[str] | pulumi.Input[list[str]]],
        remote_targets: list[pulumi.Input[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("meshperf:kubernetes:ClusterBed", resource_name, None, opts)
        stack, kube = settings.stack, settings.kube
        pull = settings.pull_policy()
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        ns = k8s.core.v1.Namespace(
            f"{resource_name}-ns",
            metadata=m.meta(
                kube.namespace,
                labels={
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            ),
            opts=child,
        )
        self.namespace = ns.metadata.name
        in_ns = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ns])

        def policy(name: str, spec: Any) -> k8s.networking.v1.NetworkPolicy:
            return k8s.networking.v1.NetworkPolicy(
                f"{resource_name}-{name}", metadata=m.meta(name, self.namespace), spec=spec, opts=in_ns
            )

        self.policies = [
            policy("default-deny", m.deny_all_spec()),
            policy(
                "servers-ingress",
                pulumi.Output.all(*remote_sources).apply(lambda xs: m.servers_ingress_spec(plan, _cidrs(xs))),
            ),
            policy(
                "clients-egress",
                pulumi.Output.all(*remote_targets).apply(lambda xs: m.clients_egress_spec(plan, _cidrs(xs))),
            ),
        ]

        mine = [w for w in plan.servers() if stack.workloads[w].cluster == cluster]
        self.servers = {}
        for w in mine:
            self.servers[w] = k8s.core.v1.Pod(
                f"{resource_name}-{w}-server",
                metadata=m.meta(
                    f"{w}-server",
                    self.namespace,
                    {m.ROLE: "server", m.WORKLOAD: w, m.SERVES: "true"},
                    annotations=m.bandwidth_annotations(stack.workloads[w]),
                ),
                spec=m.server_pod_spec(plan, image, pull, stack.workloads[w].node_selector),
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ns, *self.policies]),
            )
        ports = m.service_ports(plan)
        vip_targets = sorted(
            {c.target.workload for c in plan.cases if c.path in VIP_PATHS and c.client != c.target.workload}
        )
        self.vips = {}
        for w in vip_targets:
            if w in self.servers:
                self.vips[w] = k8s.core.v1.Service(
                    f"{resource_name}-{w}-vip",
                    metadata=m.meta(f"{w}-vip", self.namespace, {m.WORKLOAD: w}),
                    spec=m.api({"type": "ClusterIP", "selector": {m.ROLE: "server", m.WORKLOAD: w}, "ports": ports}),
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.servers[w]]),
                )
        # Hairpin: the client pod serves too and is the only endpoint of its own VIP. The pod
        # only exists once its Job starts, so Pulumi must not wait for endpoints here.
        self.hairpin = None
        hairpin = [c for c in plan.cases if c.path is NetPath.HAIRPIN]
        if hairpin and stack.workloads[hairpin[0].client].cluster == cluster:
            w = hairpin[0].client
            self.hairpin = k8s.core.v1.Service(
                f"{resource_name}-{w}-hairpin",
                metadata=m.meta(f"{w}-hairpin", self.namespace, {m.WORKLOAD: w}, skip_await=True),
                spec=m.api(
                    {
                        "type": "ClusterIP",
                        "selector": {m.ROLE: "client", m.WORKLOAD: w, m.SERVES: "true"},
                        "ports": ports,
                    }
                ),
                opts=in_ns,
            )
        # Discovery, as in the E2SAR seed: DNS answers with the servers' pod IPs.
        self.headless = k8s.core.v1.Service(
            f"{resource_name}-servers",
            metadata=m.meta("servers", self.namespace),
            spec=m.api({"clusterIP": "None", "selector": {m.ROLE: "server"}, "ports": ports}),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ns, *self.servers.values()]),
        )

        # Log volumes: one claim and one viewer per node that runs clients (RWO is per node).
        self.claims, self.viewers = {}, {}
        for node, selector in client_nodes(settings, plan, cluster).items():
            claim = k8s.core.v1.PersistentVolumeClaim(
                f"{resource_name}-{node}-logs",
                metadata=m.meta(f"logs-{node}", self.namespace, skip_await=True),
                spec=m.claim_spec(kube.logs.size, kube.logs.storage_class),
                opts=in_ns,
            )
            self.claims[node] = claim
            self.viewers[node] = k8s.core.v1.Pod(
                f"{resource_name}-{node}-viewer",
                metadata=m.meta(f"log-viewer-{node}", self.namespace, {m.ROLE: "viewer"}),
                spec=m.viewer_pod_spec(image, pull, selector, claim.metadata.name, kube.logs.mount_path),
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ns, claim]),
            )
        self.register_outputs(
            {
                "namespace": self.namespace,
                "servers": {w: p.metadata.name for w, p in self.servers.items()},
                "viewers": {n: p.metadata.name for n, p in self.viewers.items()},
            }
        )


def client_nodes(settings: Settings, plan: Plan, cluster: str) -> dict[str, dict[str, str]]:
    """Spec node name -> a node selector that lands on it, for each node of `cluster` that runs clients
    (E2SAR senders and receivers included: their logs go on their node's volume)."""
    out: dict[str, dict[str, str]] = {}
    for client in [*plan.clients(), *(w for pair in plan.e2sar for w in (pair.sender, pair.receiver))]:
        c, node = settings.stack.node_of(client)
        if c.name == cluster:
            out.setdefault(node.name, dict(settings.stack.workloads[client].node_selector))
    return out


def _cidrs(items: list[Any]) -> list[str]:
    """Resolved CIDRs, lists spread, in a stable order without repeats."""
    flat: list[str] = []
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    return sorted(dict.fromkeys(str(c) for c in flat))
