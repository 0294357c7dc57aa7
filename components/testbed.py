"""One cluster's test bed: namespace, NetworkPolicies, servers, Services, log claims and viewers.

Every body is rendered by `manifests.testbed`; this registers them in order, with the
addresses (the image's name, node IPs, the remote servers' pod IPs) resolved in `apply`.
"""

from __future__ import annotations

from functools import partial

import pulumi
import pulumi_kubernetes as k8s

from components.objects import addresses, register
from components.testonly import without_dropped_port
from manifests import Addresses, Scene
from manifests import testbed as t


class ClusterBed(pulumi.ComponentResource):
    """Everything a cluster holds before its Jobs run."""

    servers: dict[str, k8s.core.v1.Pod]
    vips: dict[str, k8s.core.v1.Service]
    hairpin: k8s.core.v1.Service | None
    headless: k8s.core.v1.Service
    claims: dict[str, k8s.core.v1.PersistentVolumeClaim]
    viewers: dict[str, k8s.core.v1.Pod]
    host_viewers: dict[str, k8s.core.v1.Pod]

    def __init__(
        self,
        resource_name: str,
        *,
        scene: Scene,
        cluster: str,
        image: pulumi.Input[str],
        provider: k8s.Provider,
        node_ips: pulumi.Input[dict[str, list[str]]],
        remote_pod_ips: dict[str, dict[str, pulumi.Input[str]]],
        opts: pulumi.ResourceOptions | None = None,
        node_ips6: pulumi.Input[dict[str, list[str]]] | None = None,
    ) -> None:
        """`node_ips`: every cluster's node IPs where the runtime knows them (kind-mesh's routes), `node_ips6`
        their IPv6 ones (the nodes that have IPv6 pods);
        `remote_pod_ips`: the pod IPs of the other cluster's servers this cluster's clients reach, under
        the `Addresses` field of their family (`pod_ips`, `pod_ips6`)."""
        super().__init__("meshperf:kubernetes:ClusterBed", resource_name, None, opts)
        self.prefix, self.scene, self.cluster, self.k8s_provider = resource_name, scene, cluster, provider
        self.ns = register(
            k8s.core.v1.Namespace,
            f"{resource_name}-ns",
            t.namespace(scene, cluster),
            pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.namespace = scene.namespace
        with_image = addresses(image=image)
        self.policies = self._policies(node_ips, node_ips6 or {}, remote_pod_ips)
        self._servers_and_services(with_image)
        self._log_volumes(with_image)
        self._host_bed(with_image)
        self.register_outputs(
            {
                "namespace": self.namespace,
                "servers": {w: p.metadata.name for w, p in self.servers.items()},
                "viewers": {n: p.metadata.name for n, p in self.viewers.items()},
                "host_viewers": {n: p.metadata.name for n, p in self.host_viewers.items()},
            }
        )

    def _in_ns(self, *after: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self.k8s_provider, depends_on=[self.ns, *after])

    def _policies(
        self,
        node_ips: pulumi.Input[dict[str, list[str]]],
        node_ips6: pulumi.Input[dict[str, list[str]]],
        remote_pod_ips: dict[str, dict[str, pulumi.Input[str]]],
    ) -> list[k8s.networking.v1.NetworkPolicy]:
        """Deny all, then admit the servers' clients (by node IP too) and the clients' remote targets."""
        scene, cluster, prefix, in_ns = self.scene, self.cluster, self.prefix, self._in_ns
        sources = addresses(node_ips=node_ips, node_ips6=node_ips6)
        targets = addresses(**remote_pod_ips)
        return [
            register(k8s.networking.v1.NetworkPolicy, f"{prefix}-default-deny", t.deny_all(scene, cluster), in_ns()),
            register(
                k8s.networking.v1.NetworkPolicy,
                f"{prefix}-servers-ingress",
                sources.apply(lambda a: without_dropped_port(t.servers_ingress(scene, a, cluster))),
                in_ns(),
            ),
            register(
                k8s.networking.v1.NetworkPolicy,
                f"{prefix}-clients-egress",
                targets.apply(lambda a: without_dropped_port(t.clients_egress(scene, a, cluster))),
                in_ns(),
            ),
        ]

    def _servers_and_services(self, with_image: pulumi.Output[Addresses]) -> None:
        """Server pods once the policies are in place, their virtual IPs, the hairpin and headless Services."""
        scene, cluster, prefix, in_ns = self.scene, self.cluster, self.prefix, self._in_ns
        self.servers = {
            w: register(
                k8s.core.v1.Pod,
                f"{prefix}-{w}-server",
                with_image.apply(partial(t.server_pod, scene, workload=w)),
                in_ns(*self.policies),
            )
            for w in scene.servers_in(cluster)
        }
        self.vips = {
            w: register(k8s.core.v1.Service, f"{prefix}-{w}-vip", t.vip_service(scene, w), in_ns(self.servers[w]))
            for w in scene.vip_targets_in(cluster)
        }
        hairpin = scene.hairpin_in(cluster)
        self.hairpin = (
            None
            if hairpin is None
            else register(
                k8s.core.v1.Service, f"{prefix}-{hairpin}-hairpin", t.hairpin_service(scene, hairpin), in_ns()
            )
        )
        self.headless = register(
            k8s.core.v1.Service,
            f"{prefix}-servers",
            t.headless_service(scene, cluster),
            in_ns(*self.servers.values()),
        )

    def _log_volumes(self, with_image: pulumi.Output[Addresses]) -> None:
        """One claim and one viewer per node that runs clients (RWO is per node)."""
        scene, cluster = self.scene, self.cluster
        self.claims, self.viewers = {}, {}
        for node in scene.client_nodes(cluster):
            claim = register(
                k8s.core.v1.PersistentVolumeClaim,
                f"{self.prefix}-{node}-logs",
                t.log_claim(scene, cluster, node),
                self._in_ns(),
            )
            self.claims[node] = claim
            self.viewers[node] = register(
                k8s.core.v1.Pod,
                f"{self.prefix}-{node}-viewer",
                with_image.apply(partial(t.viewer_pod, scene, cluster=cluster, node=node)),
                self._in_ns(claim),
            )

    def _host_bed(self, with_image: pulumi.Output[Addresses]) -> None:
        """The host baseline's namespace (`privileged`), its host-network servers (in `servers`, beside
        the pods'), and a claim and viewer per node that runs its clients; no policy applies there."""
        scene, cluster, prefix = self.scene, self.cluster, self.prefix
        self.host_viewers = {}
        if not t.has_host_bed(scene, cluster):
            return
        opts = pulumi.ResourceOptions(parent=self, provider=self.k8s_provider)
        host_ns = register(k8s.core.v1.Namespace, f"{prefix}-host-ns", t.namespace(scene, cluster, host=True), opts)
        in_host = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[host_ns]))
        for w in scene.servers_in(cluster, host=True):
            body = with_image.apply(partial(t.server_pod, scene, workload=w))
            self.servers[w] = register(k8s.core.v1.Pod, f"{prefix}-{w}-server", body, in_host)
        for node in scene.client_nodes(cluster, host=True):
            claim = register(
                k8s.core.v1.PersistentVolumeClaim,
                f"{prefix}-{node}-host-logs",
                t.log_claim(scene, cluster, node, host=True),
                in_host,
            )
            self.host_viewers[node] = register(
                k8s.core.v1.Pod,
                f"{prefix}-{node}-host-viewer",
                with_image.apply(partial(t.viewer_pod, scene, cluster=cluster, node=node, host=True)),
                pulumi.ResourceOptions.merge(in_host, pulumi.ResourceOptions(depends_on=[claim])),
            )
