"""The whole suite on Kubernetes: clusters, image, mesh, test beds, client Jobs, Results.

Every Kubernetes body comes from `manifests`; this file decides only order, providers and
which runtime Outputs each object waits for.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import ExistingCluster, KindCluster
from components.config import Settings
from components.e2sar import E2sarPair
from components.image import ToolImage
from components.mesh import KindMeshRoutes, MeshEndpoint
from components.objects import addresses, register
from components.results import Results
from components.testbed import ClusterBed
from manifests import Addresses, Obj, Scene, clients, logdir_of
from manifests.testbed import viewer_name
from spec.plan import Plan


class Suite(pulumi.ComponentResource):
    clusters: dict[str, KindCluster | ExistingCluster]
    beds: dict[str, ClusterBed]
    jobs: list[k8s.batch.v1.Job]
    results: Results | None
    e2sar: list[E2sarPair]

    def __init__(self, resource_name: str, settings: Settings, plan: Plan, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshperf:kubernetes:Suite", resource_name, None, opts)
        stack, kube = settings.stack, settings.kube
        self.settings = settings
        here = pulumi.ResourceOptions(parent=self)
        self.clusters = {
            c.name: (KindCluster if settings.is_kind(c.name) else ExistingCluster)(
                f"cluster-{c.name}", settings, c.name, here
            )
            for c in stack.clusters
        }
        kinds = [c for c in self.clusters.values() if isinstance(c, KindCluster)]

        if settings.builds_image():
            first = settings.cluster(kinds[0].name)
            image = ToolImage(
                "image",
                kube.image.name,
                build_into=[c.kind_cluster.id for c in kinds],
                host=kinds[0].host,
                kind=first.kind,
                docker=first.docker,
                opts=here,
            )
        else:
            image = ToolImage("image", kube.image.name, opts=here)

        # kind clusters that share a host are routed to each other (for the remote-cluster path).
        routes: KindMeshRoutes | None = None
        if settings.routes_kind_clusters():
            first = settings.cluster(kinds[0].name)
            routes = KindMeshRoutes(
                "mesh-routes",
                {
                    "clusters": [c.name for c in kinds],
                    "cluster_ids": [c.kind_cluster.id for c in kinds],
                    "host": kinds[0].host,
                    "kind": first.kind,
                    "docker": first.docker,
                },
                pulumi.ResourceOptions(parent=self),
            )

        scene = Scene(stack, plan, kube)
        # Node IPs where meshperf routes the clusters itself: the sources kindnet masquerades to.
        node_ips: pulumi.Input[dict[str, list[str]]] = (
            routes.nodes.apply(lambda nodes: {c: [n["ip"] for n in ns] for c, ns in (nodes or {}).items()})
            if routes is not None
            else {}
        )

        # Beds: servers first (their pod IPs feed the other cluster's policies and mesh).
        self.beds = {}
        for cluster in scene.clusters:
            self.beds[cluster] = ClusterBed(
                f"bed-{cluster}",
                scene=scene,
                cluster=cluster,
                image=image.name,
                provider=self.clusters[cluster].provider,
                node_ips=node_ips,
                remote_pod_ips={t: self._server(t).status.pod_ip for t in scene.remote.get(cluster, [])},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[routes] if routes else []),
            )

        mesh = [
            MeshEndpoint(
                f"mesh-{src}-{t}",
                scene=scene,
                cluster=src,
                workload=t,
                remote_ip=self._server(t).status.pod_ip,
                provider=self.clusters[src].provider,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.beds[src]]),
            )
            for src, t in scene.mesh_pairs()
        ]

        # Client Jobs, one after another across all clusters: no two cases ever overlap.
        self.jobs = []
        viewers: list[dict[str, Any]] = []  # one per Job, in the Jobs' order
        previous: k8s.batch.v1.Job | None = None
        for client in plan.clients():
            cluster = scene.cluster_of(client)
            bed = self.beds[cluster]
            scripts = register(
                k8s.core.v1.ConfigMap,
                f"{client}-scripts",
                clients.client_scripts(scene, client),
                pulumi.ResourceOptions(parent=self, provider=self.clusters[cluster].provider, depends_on=[bed]),
            )
            limit = clients.time_limit_s(scene, client)
            body = self._client_addresses(scene, client, image.name).apply(
                partial(clients.client_job, scene, client=client)
            )
            viewers.append(self._viewer(scene, client, body))
            job = register(
                k8s.batch.v1.Job,
                f"{client}-client",
                body,
                pulumi.ResourceOptions(
                    parent=self,
                    provider=self.clusters[cluster].provider,
                    depends_on=[bed, scripts, *([previous] if previous else []), *mesh],
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{limit + 60}s", update=f"{limit + 60}s"),
                    delete_before_replace=True,
                ),
            )
            self.jobs.append(job)
            previous = job

        # E2SAR pairs, one rate after another, after the netperf clients.
        self.e2sar = []
        for pair_case in plan.e2sar:
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
        self.jobs += self.e2sar_jobs()

        self.results = None
        if kube.results.enabled and self.jobs:
            self.results = Results(
                "results",
                {
                    "plan": plan.model_dump_json(),
                    "viewers": viewers,
                    "run_id": stack.run_id,
                    "jobs": [j.metadata.uid for j in self.jobs],
                    "timeout_s": kube.results.read_timeout_s,
                },
                pulumi.ResourceOptions(
                    parent=self, depends_on=list(self.jobs), custom_timeouts=pulumi.CustomTimeouts(create="15m")
                ),
            )
        self.register_outputs({"jobs": [j.metadata.name for j in self.jobs]})

    def e2sar_jobs(self) -> list[k8s.batch.v1.Job]:
        return [job for pair in self.e2sar for job in (pair.receiver_job, pair.sender_job)]

    def _server(self, workload: str) -> k8s.core.v1.Pod:
        return self.beds[self.settings.stack.workloads[workload].cluster].servers[workload]

    def _client_addresses(self, scene: Scene, client: str, image: pulumi.Input[str]) -> pulumi.Output[Addresses]:
        """What a client's Job needs: the image, and its targets' pod IPs and cluster IPs."""
        bed = self.beds[scene.cluster_of(client)]
        pod_ips: dict[str, pulumi.Input[str]] = {}
        cluster_ips: dict[str, pulumi.Input[str]] = {}
        for case in scene.plan.cases_of(client):
            t = case.target.workload
            if case.target.address == "pod":
                pod_ips[t] = self._server(t).status.pod_ip
            elif t == client:
                assert bed.hairpin is not None
                cluster_ips[f"{t}-hairpin"] = bed.hairpin.spec.cluster_ip
            else:
                cluster_ips[f"{t}-vip"] = bed.vips[t].spec.cluster_ip
        return addresses(image=image, pod_ips=pod_ips, cluster_ips=cluster_ips)

    def _viewer(self, scene: Scene, workload: str, body: pulumi.Output[Obj] | Obj) -> dict[str, Any]:
        """Where Results reads a Job's logs: the viewer of its node, in the Job's own log folder."""
        cluster, node = scene.stack.node_of(workload)
        return {
            "kubeconfig": self.clusters[cluster.name].kubeconfig,
            "context": cluster.kubeconfig_context,
            "namespace": scene.namespace,
            "pod": viewer_name(node.name),
            "container": "viewer",
            "logdir": pulumi.Output.from_input(body).apply(lambda b: logdir_of(b["spec"]["template"])),
        }
