"""The whole suite on Kubernetes: clusters, image, mesh, test beds, client Jobs, Results.

Every Kubernetes body comes from `manifests`; this file decides only order, providers and
which runtime Outputs each object waits for. Every object made through a kind cluster's
provider is `deleted_with` that cluster (set here once, by a transformation on the Suite, for
all its descendants: components.cluster says why).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import ExistingCluster, KindCluster
from components.config import Settings
from components.e2sar import E2sarPair
from components.hostrun import host_key
from components.image import LoadTarget, ToolImage
from components.mesh import KindMeshRoutes, MeshEndpoint
from components.objects import addresses, cluster_ip_of, pod_ip_of, register
from components.results import ResultsResource
from components.testbed import ClusterBed
from manifests import Addresses, Obj, Scene, clients, logdir_of
from manifests.addresses import CLUSTER_IPS, POD_IPS
from manifests.base import content_hash
from manifests.testbed import viewer_name
from results.context import RunContext, kubernetes_label, run_context
from results.version import meshperf_version
from spec.plan import Plan


class Suite(pulumi.ComponentResource):
    clusters: dict[str, KindCluster | ExistingCluster]
    beds: dict[str, ClusterBed]
    jobs: list[k8s.batch.v1.Job]
    results: ResultsResource | None
    e2sar: list[E2sarPair]

    def __init__(self, resource_name: str, settings: Settings, plan: Plan, opts: pulumi.ResourceOptions | None = None):
        self.clusters = {}
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transformations=[self._deleted_with_cluster]))
        super().__init__("meshperf:kubernetes:Suite", resource_name, None, opts)
        self.settings = settings
        here = pulumi.ResourceOptions(parent=self)
        self.clusters = {
            c.name: (KindCluster if settings.is_kind(c.name) else ExistingCluster)(
                f"cluster-{c.name}", settings, c.name, here
            )
            for c in settings.stack.clusters
        }
        kinds = [c for c in self.clusters.values() if isinstance(c, KindCluster)]
        image = self._image(kinds)
        routes = self._routes(kinds)
        scene = Scene(settings.stack, plan, settings.kube)
        # Node IPs where meshperf routes the clusters itself: the sources kindnet masquerades to.
        node_ips: pulumi.Input[dict[str, list[str]]] = (
            routes.nodes.apply(lambda nodes: {c: [n["ip"] for n in ns] for c, ns in (nodes or {}).items()})
            if routes is not None
            else {}
        )
        node_ips6: pulumi.Input[dict[str, list[str]]] = (
            routes.nodes.apply(
                lambda nodes: {c: [n["ip6"] for n in ns if "ip6" in n] for c, ns in (nodes or {}).items()}
            )
            if routes is not None
            else {}
        )
        self.beds = {}
        self._add_beds(scene, image.name, (node_ips, node_ips6), routes)
        mesh = self._mesh(scene)
        viewers: list[dict[str, Any]] = []  # one per Job, in the Jobs' order
        self.jobs = self._client_jobs(scene, image.name, mesh, viewers)
        self.e2sar = []
        self._add_e2sar_pairs(scene, node_ips, self.jobs[-1] if self.jobs else None, viewers)
        self.jobs += self.e2sar_jobs()
        self.results = self._results(plan, viewers) if settings.kube.results.enabled and self.jobs else None
        self.register_outputs({"jobs": [j.metadata.name for j in self.jobs]})

    def _deleted_with_cluster(
        self, args: pulumi.ResourceTransformationArgs
    ) -> pulumi.ResourceTransformationResult | None:
        """An object made through a cluster's provider goes with that cluster (not with an adopted one)."""
        provider = args.opts.provider
        cluster = next((c for c in self.clusters.values() if provider is not None and c.provider is provider), None)
        if cluster is None or cluster.deleted_with is None or args.opts.deleted_with is not None:
            return None
        with_cluster = pulumi.ResourceOptions(deleted_with=cluster.deleted_with)
        return pulumi.ResourceTransformationResult(args.props, pulumi.ResourceOptions.merge(args.opts, with_cluster))

    def _image(self, kinds: list[KindCluster]) -> ToolImage:
        """The tool image: built on each kind host and loaded into the clusters there, or pulled by name."""
        name = self.settings.kube.image.name
        here = pulumi.ResourceOptions(parent=self)
        if not self.settings.builds_image():
            return ToolImage("image", name, opts=here)
        targets: dict[str, LoadTarget] = {}
        for cluster in kinds:
            own = self.settings.cluster(cluster.name)
            where = json.dumps([host_key(cluster.host), own.kind, own.docker], sort_keys=True, default=str)
            target = targets.setdefault(where, LoadTarget(host=cluster.host, kind=own.kind, docker=own.docker))
            target.clusters.append(cluster.name)
            target.cluster_ids.append(cluster.identity)
        return ToolImage("image", name, targets=list(targets.values()), opts=here)

    def _routes(self, kinds: list[KindCluster]) -> KindMeshRoutes | None:
        """kind clusters that share a host, routed to each other (for the remote-cluster path)."""
        if not self.settings.routes_kind_clusters():
            return None
        first = self.settings.cluster(kinds[0].name)
        link = self.settings.stack.link
        return KindMeshRoutes(
            "mesh-routes",
            {
                "clusters": [c.name for c in kinds],
                "cluster_ids": [c.identity for c in kinds],
                "host": kinds[0].host,
                "kind": first.kind,
                "docker": first.docker,
                "mtu": link.mtu,
                "rate": link.rate,
            },
            pulumi.ResourceOptions(parent=self),
        )

    def _add_beds(
        self,
        scene: Scene,
        image: pulumi.Input[str],
        node_ips: tuple[pulumi.Input[dict[str, list[str]]], pulumi.Input[dict[str, list[str]]]],
        routes: KindMeshRoutes | None,
    ) -> None:
        """A bed per cluster, servers first: a later bed's policies take an earlier bed's server IPs.
        `node_ips`: the nodes' IPv4 and IPv6 addresses, where the routes know them."""
        for cluster in scene.clusters:
            self.beds[cluster] = ClusterBed(
                f"bed-{cluster}",
                scene=scene,
                cluster=cluster,
                image=image,
                provider=self.clusters[cluster].provider,
                node_ips=node_ips[0],
                node_ips6=node_ips[1],
                remote_pod_ips={
                    POD_IPS[f]: {t: pod_ip_of(self._server(t), f) for t in scene.remote.get(cluster, [])}
                    for f in ("ipv4", "ipv6")
                    if any(f in scene.remote_families(cluster, t) for t in scene.remote.get(cluster, []))
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[routes] if routes else []),
            )

    def _mesh(self, scene: Scene) -> list[MeshEndpoint]:
        """In each cluster, an endpoint for each server of the other cluster that its clients reach."""
        return [
            MeshEndpoint(
                f"mesh-{src}-{t}",
                scene=scene,
                cluster=src,
                workload=t,
                remote_ips={f: pod_ip_of(self._server(t), f) for f in scene.remote_families(src, t)},
                provider=self.clusters[src].provider,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.beds[src]]),
            )
            for src, t in scene.mesh_pairs()
        ]

    def _client_jobs(
        self, scene: Scene, image: pulumi.Input[str], mesh: list[MeshEndpoint], viewers: list[dict[str, Any]]
    ) -> list[k8s.batch.v1.Job]:
        """Client Jobs one after another across all clusters, so no two cases overlap; their viewers go to `viewers`."""
        jobs: list[k8s.batch.v1.Job] = []
        for client in scene.plan.clients():
            cluster = scene.cluster_of(client)
            bed = self.beds[cluster]
            provider = self.clusters[cluster].provider
            scripts = register(
                k8s.core.v1.ConfigMap,
                f"{client}-scripts",
                clients.client_scripts(scene, client),
                pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[bed]),
            )
            limit = clients.time_limit_s(scene, client)
            body = self._client_addresses(scene, client, image).apply(partial(clients.client_job, scene, client=client))
            viewers.append(self._viewer(scene, client, body))
            job = register(
                k8s.batch.v1.Job,
                f"{client}-client",
                body,
                pulumi.ResourceOptions(
                    parent=self,
                    provider=provider,
                    depends_on=[bed, scripts, *jobs[-1:], *mesh],
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{limit + 60}s", update=f"{limit + 60}s"),
                    delete_before_replace=True,
                ),
            )
            jobs.append(job)
        return jobs

    def _add_e2sar_pairs(
        self,
        scene: Scene,
        node_ips: pulumi.Input[dict[str, list[str]]],
        previous: k8s.batch.v1.Job | None,
        viewers: list[dict[str, Any]],
    ) -> None:
        """E2SAR pairs, one rate after another, after the netperf clients; each viewer added to `viewers`."""
        for pair_case in scene.plan.e2sar:
            pair = E2sarPair(
                pair_case.id,
                scene=scene,
                case=pair_case,
                beds=self.beds,
                clusters=self.clusters,
                node_ips=node_ips,
                depends_on=[*([previous] if previous else []), *self.e2sar_jobs()],
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.e2sar.append(pair)
            viewers += [
                self._viewer(scene, pair_case.receiver, pair.receiver_body),
                self._viewer(scene, pair_case.sender, pair.sender_body),
            ]
            previous = pair.sender_job

    def _results(self, plan: Plan, viewers: list[dict[str, Any]]) -> ResultsResource:
        """The figures, read from every Job's viewer once all Jobs are done."""
        kube = self.settings.kube
        return ResultsResource(
            "results",
            {
                "plan": plan.model_dump_json(),
                "viewers": viewers,
                "run_id": self.settings.stack.run_id,
                "jobs": [j.metadata.uid for j in self.jobs],
                "timeout_s": kube.results.read_timeout_s,
                "context": self._run_context(plan).model_dump_json(),
            },
            pulumi.ResourceOptions(
                parent=self,
                depends_on=list(self.jobs),
                custom_timeouts=pulumi.CustomTimeouts(create="15m"),
                # Each viewer carries its cluster's kubeconfig.
                additional_secret_outputs=["viewers"],
            ),
        )

    def _run_context(self, plan: Plan) -> RunContext:
        """The run block as far as the program knows it; the provider adds what the Jobs logged
        (tool versions, kernel, CPUs) and when their cases started and ended."""
        stack = self.settings.stack
        return run_context(
            stack,
            stack_name=pulumi.get_stack(),
            label=kubernetes_label(stack.run_id, content_hash(plan.model_dump(mode="json"))),
            profile="default",
            tool_versions={},
            kernel=None,
            cpus=None,
            meshperf_version=meshperf_version(),
        )

    def e2sar_jobs(self) -> list[k8s.batch.v1.Job]:
        return [job for pair in self.e2sar for job in (pair.receiver_job, pair.sender_job)]

    def _server(self, workload: str) -> k8s.core.v1.Pod:
        return self.beds[self.settings.stack.workload(workload).cluster].servers[workload]

    def _client_addresses(self, scene: Scene, client: str, image: pulumi.Input[str]) -> pulumi.Output[Addresses]:
        """What a client's Job needs: the image, and its targets' pod IPs and cluster IPs."""
        bed = self.beds[scene.cluster_of(client)]
        ips: dict[str, dict[str, pulumi.Input[str]]] = {}
        for case in scene.plan.cases_of(client):
            t, family = case.target.workload, case.family
            if case.target.address == "pod":
                ips.setdefault(POD_IPS[family], {})[t] = pod_ip_of(self._server(t), family)
            elif t == client:
                assert bed.hairpin is not None
                ips.setdefault(CLUSTER_IPS[family], {})[f"{t}-hairpin"] = cluster_ip_of(bed.hairpin, family)
            else:
                ips.setdefault(CLUSTER_IPS[family], {})[f"{t}-vip"] = cluster_ip_of(bed.vips[t], family)
        return addresses(image=image, **ips)

    def _viewer(self, scene: Scene, workload: str, body: pulumi.Output[Obj] | Obj) -> dict[str, Any]:
        """Where Results reads a Job's logs: the viewer of its node, in the Job's own log folder."""
        cluster, node = scene.stack.node_of(workload)
        return {
            "kubeconfig": self.clusters[cluster.name].kubeconfig,
            "context": cluster.kubeconfig_context,
            "namespace": scene.namespace_of(workload),
            "pod": viewer_name(node.name),
            "container": "viewer",
            "logdir": pulumi.Output.from_input(body).apply(lambda b: logdir_of(b["spec"]["template"])),
        }
