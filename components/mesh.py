"""The mesh: routes between kind clusters on one Docker host, and mesh endpoints.

Routes: every node of one cluster gets a route to each node of the other cluster's pod
/24 via that node's address on the Docker network (what a flat routed underlay gives).
A mesh endpoint is a selector-less headless Service in the client's cluster with an
EndpointSlice that holds the remote pod's IP: its DNS name resolves to the remote pod.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from components.hostrun import Run, check, open_runner
from components.objects import addresses, register
from manifests import Scene, mesh

NodeInfo = dict[str, str]  # {"name", "ip", "pod_cidr"}


def route_commands(docker: str, nodes: dict[str, list[NodeInfo]]) -> list[str]:
    """`docker exec NODE ip route replace CIDR via IP` for every node toward every other cluster's node."""
    q = shlex.quote
    commands = []
    for cluster, own in sorted(nodes.items()):
        for other_cluster, others in sorted(nodes.items()):
            if other_cluster == cluster:
                continue
            for node in own:
                for remote in others:
                    route = f"{q(remote['pod_cidr'])} via {q(remote['ip'])}"
                    commands.append(f"{q(docker)} exec {q(node['name'])} ip route replace {route}")
    return commands


async def node_info(run: Run, docker: str, kind: str, cluster: str) -> list[NodeInfo]:
    q = shlex.quote
    names = (await check(run, f"{q(kind)} get nodes --name {q(cluster)}", f"kind get nodes {cluster}")).split()
    control = next((n for n in names if n.endswith("-control-plane")), None)
    if control is None:
        raise RuntimeError(f"kind cluster {cluster} has no control-plane node")
    nodes = []
    for name in sorted(names):
        ip = await check(
            run,
            f"{q(docker)} inspect -f '{{{{range .NetworkSettings.Networks}}}}{{{{.IPAddress}}}} {{{{end}}}}' {q(name)}",
            f"docker inspect {name}",
        )
        cidr = await check(
            run,
            f"{q(docker)} exec {q(control)} kubectl --kubeconfig /etc/kubernetes/admin.conf "
            f"get node {q(name)} -o jsonpath='{{.spec.podCIDR}}'",
            f"pod CIDR of {name}",
        )
        nodes.append({"name": name, "ip": ip.split()[0], "pod_cidr": cidr.strip()})
    return nodes


class KindMeshRoutesProvider(ResourceProvider):
    """Inputs: clusters (kind names), host, kind, docker. Outputs add nodes: {cluster: [NodeInfo]}."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = asyncio.run(self._route(props))
        return CreateResult(id_="-".join(props["clusters"]), outs=outs)

    async def _route(self, props: dict[str, Any]) -> dict[str, Any]:
        docker, kind = str(props.get("docker") or "docker"), str(props.get("kind") or "kind")
        async with open_runner(props["host"]) as run:
            nodes = {c: await node_info(run, docker, kind, c) for c in props["clusters"]}
            for command in route_commands(docker, nodes):
                await check(run, command, "route between clusters")
        return {**props, "nodes": nodes}

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("clusters", "host", "cluster_ids") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The routes live in the node containers and go with them."""


class KindMeshRoutes(Resource, module="meshperf", name="KindMeshRoutes"):
    nodes: pulumi.Output[dict[str, list[NodeInfo]]]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(KindMeshRoutesProvider(), name, {**props, "nodes": None}, opts)


class MeshEndpoint(pulumi.ComponentResource):
    """A remote pod made visible in a cluster: a selector-less headless Service and its EndpointSlice."""

    service: k8s.core.v1.Service
    endpoint_slice: k8s.discovery.v1.EndpointSlice
    address: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        scene: Scene,
        cluster: str,
        workload: str,
        remote_ip: pulumi.Input[str],
        provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """In `cluster`, the Service for the other cluster's server `workload` at `remote_ip`."""
        super().__init__("meshperf:kubernetes:MeshEndpoint", resource_name, None, opts)
        self.service = register(
            k8s.core.v1.Service,
            f"{resource_name}-svc",
            mesh.mesh_service(scene, cluster, workload),
            pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.endpoint_slice = register(
            k8s.discovery.v1.EndpointSlice,
            f"{resource_name}-slice",
            addresses(pod_ips={workload: remote_ip}).apply(lambda a: mesh.mesh_slice(scene, a, cluster, workload)),
            pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.service]),
        )
        self.address = self.endpoint_slice.endpoints.apply(lambda eps: eps[0].addresses[0])
        self.register_outputs({"address": self.address, "service": self.service.metadata.name})
