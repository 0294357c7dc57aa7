"""The whole suite on Kubernetes: clusters, image, mesh, test beds, client Jobs, Results."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import manifests as m
from components.cluster import ExistingCluster, KindCluster
from components.config import Settings
from components.e2sar import E2sarPair
from components.image import ToolImage
from components.mesh import KindMeshRoutes, MeshEndpoint
from components.results import Results
from components.testbed import ClusterBed
from spec.plan import Plan
from spec.runner import runner_script


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
                build_into=[c.name for c in kinds],
                cluster_ids=[c.identity for c in kinds],
                host=kinds[0].host,
                kind=first.kind,
                docker=first.docker,
                opts=here,
            )
        else:
            image = ToolImage("image", kube.image.name, opts=here)

        # kind clusters that share a host are routed to each other (for the remote-cluster path).
        routes: KindMeshRoutes | None = None
        if settings.routes_link():
            first = settings.cluster(kinds[0].name)
            routes = KindMeshRoutes(
                "mesh-routes",
                {
                    "clusters": [c.name for c in kinds],
                    "cluster_ids": [c.identity for c in kinds],
                    "host": kinds[0].host,
                    "kind": first.kind,
                    "docker": first.docker,
                    "mtu": stack.link.mtu,
                    "rate": stack.link.rate,
                },
                pulumi.ResourceOptions(parent=self),
            )

        # Which clusters reach which across the mesh: client cluster -> remote target workloads.
        remote: dict[str, set[str]] = {}
        for case in plan.cases:
            src = stack.workloads[case.client].cluster
            dst = stack.workloads[case.target.workload].cluster
            if src != dst:
                remote.setdefault(src, set()).add(case.target.workload)

        # Beds: servers first (their pod IPs feed the other cluster's policies and mesh).
        self.beds = {}
        order = sorted(stack.clusters, key=lambda c: c.name in remote)  # clusters with remote targets last
        for c in order:
            sources: list[pulumi.Input[str] | pulumi.Input[list[str]]] = []
            for other, targets in remote.items():
                if any(stack.workloads[t].cluster == c.name for t in targets):
                    sources.append(str(stack.cluster(other).pod_subnet))
                    if routes is not None:
                        sources.append(_node_blocks(routes, other))
            targets_here: list[pulumi.Input[str]] = [
                self.beds[stack.workloads[t].cluster].servers[t].status.pod_ip.apply(lambda ip: f"{ip}/32")
                for t in sorted(remote.get(c.name, ()))
            ]
            self.beds[c.name] = ClusterBed(
                f"bed-{c.name}",
                settings=settings,
                plan=plan,
                cluster=c.name,
                image=image.name,
                provider=self.clusters[c.name].provider,
                remote_sources=sources,
                remote_targets=targets_here,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[routes] if routes else []),
            )

        mesh: dict[tuple[str, str], MeshEndpoint] = {}
        for src, targets in remote.items():
            for t in sorted(targets):
                server = self.beds[stack.workloads[t].cluster].servers[t]
                mesh[(src, t)] = MeshEndpoint(
                    f"mesh-{src}-{t}",
                    workload=t,
                    namespace=self.beds[src].namespace,
                    remote_ip=server.status.pod_ip,
                    ports=m.service_ports(plan),
                    provider=self.clusters[src].provider,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[self.beds[src]]),
                )

        # Client Jobs, one after another across all clusters: no two cases ever overlap.
        self.jobs = []
        logdir = f"{kube.logs.mount_path.rstrip('/')}/{stack.run_id}"
        previous: k8s.batch.v1.Job | None = None
        for client in plan.clients():
            cluster, node = stack.node_of(client)
            bed = self.beds[cluster.name]
            cases = plan.cases_of(client)
            serves = any(c.target.workload == client for c in cases)
            env = []
            for var, value in sorted(self._addresses(plan, client, bed, mesh).items()):
                env.append({"name": var, "value": value})
            scripts = k8s.core.v1.ConfigMap(
                f"{client}-scripts",
                metadata=m.meta(f"{client}-scripts", bed.namespace, {m.WORKLOAD: client}),
                data={
                    "runner.sh": runner_script(client, cases),
                    "entry.sh": m.entry_script(cases, serves=serves, plan=plan),
                },
                opts=pulumi.ResourceOptions(
                    parent=self, provider=self.clusters[cluster.name].provider, depends_on=[bed]
                ),
            )
            template = m.client_pod_template(
                workload=client,
                serves=serves,
                image=image.name,
                pull_policy=settings.pull_policy(),
                node_selector=stack.workloads[client].node_selector,
                env=env,
                claim=bed.claims[node.name].metadata.name,
                scripts=scripts.metadata.name,
                logdir=logdir,
                mount_path=kube.logs.mount_path,
                run_id=stack.run_id,
                plan=plan,
                annotations=m.bandwidth_annotations(stack.workloads[client]),
            )
            limit = plan.time_limit_s(client) + kube.job_slack_s
            job = k8s.batch.v1.Job(
                f"{client}-client",
                metadata=m.meta(f"{client}-client", bed.namespace, {m.WORKLOAD: client}),
                spec=m.job_spec(template, limit),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=self.clusters[cluster.name].provider,
                    depends_on=[bed, scripts, *([previous] if previous else []), *mesh.values()],
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{limit + 60}s", update=f"{limit + 60}s"),
                    delete_before_replace=True,
                ),
            )
            self.jobs.append(job)
            previous = job

        # E2SAR pairs, one rate after another, after the netperf clients.
        self.e2sar = []
        for pair_case in plan.e2sar:
            rc, sc = stack.workloads[pair_case.receiver].cluster, stack.workloads[pair_case.sender].cluster
            senders: list[pulumi.Input[str] | pulumi.Input[list[str]]] = []
            if rc != sc:
                senders.append(str(stack.cluster(sc).pod_subnet))
                if routes is not None:
                    senders.append(_node_blocks(routes, sc))
            pair = E2sarPair(
                pair_case.id,
                settings=settings,
                case=pair_case,
                beds=self.beds,
                clusters=self.clusters,
                logdir=logdir,
                remote_sources=senders,
                depends_on=[*([previous] if previous else []), *self.e2sar_jobs()],
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.e2sar.append(pair)
            previous = pair.sender_job
        self.jobs += self.e2sar_jobs()

        self.results = None
        if kube.results.enabled and self.jobs:
            viewers: list[Any] = []
            for name, bed in self.beds.items():
                cluster_obj = self.clusters[name]
                for viewer in bed.viewers.values():
                    viewers.append(
                        {
                            "kubeconfig": cluster_obj.kubeconfig,
                            "context": stack.cluster(name).kubeconfig_context,
                            "namespace": bed.namespace,
                            "pod": viewer.metadata.name,
                            "container": "viewer",
                            "logdir": logdir,
                        }
                    )
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
                    parent=self,
                    depends_on=list(self.jobs),
                    custom_timeouts=pulumi.CustomTimeouts(create="15m"),
                    # Each viewer carries its cluster's kubeconfig.
                    additional_secret_outputs=["viewers"],
                ),
            )
        self.register_outputs({"jobs": [j.metadata.name for j in self.jobs]})

    def e2sar_jobs(self) -> list[k8s.batch.v1.Job]:
        return [job for pair in self.e2sar for job in (pair.receiver_job, pair.sender_job)]

    def _addresses(
        self, plan: Plan, client: str, bed: ClusterBed, mesh: dict[tuple[str, str], MeshEndpoint]
    ) -> dict[str, pulumi.Input[str]]:
        """Each target env var of a client's cases -> the address it stands for, as an Output."""
        src = self.settings.stack.workloads[client].cluster
        out: dict[str, pulumi.Input[str]] = {}
        for case in plan.cases_of(client):
            t = case.target
            if t.env_var in out:
                continue
            if t.address == "vip":
                service = bed.hairpin if t.workload == client else bed.vips[t.workload]
                assert service is not None
                out[t.env_var] = service.spec.cluster_ip
            elif (src, t.workload) in mesh:
                out[t.env_var] = mesh[(src, t.workload)].address
            else:
                out[t.env_var] = bed.servers[t.workload].status.pod_ip
        return out


def _node_blocks(routes: KindMeshRoutes, cluster: str) -> pulumi.Output[list[str]]:
    """The other cluster's node addresses as /32 blocks: kindnet masquerades pod traffic leaving a cluster."""
    return routes.nodes.apply(
        lambda nodes: [f"{ipaddress.IPv4Address(n['ip'])}/32" for n in (nodes or {}).get(cluster, [])]
    )
