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

from components import manifests
from components.hostrun import Run, check, open_runner

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
        workload: str,
        namespace: pulumi.Input[str],
        remote_ip: pulumi.Input[str],
        ports: list[dict[str, Any]],
        provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("meshperf:kubernetes:MeshEndpoint", resource_name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        name = f"{workload}-mesh"
        self.service = k8s.core.v1.Service(
            f"{resource_name}-svc",
            metadata=manifests.meta(name, namespace, {"meshperf.io/workload": workload}, skip_await=True),
            spec=manifests.api({"clusterIP": "None", "ports": ports}),
            opts=child,
        )
        self.endpoint_slice = k8s.discovery.v1.EndpointSlice(
            f"{resource_name}-slice",
            metadata=manifests.meta(
                f"{name}-1",
                namespace,
                {"kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "meshperf.io"},
            ),
            address_type="IPv4",
            endpoints=manifests.api([{"addresses": [remote_ip], "conditions": {"ready": True}}]),
            ports=manifests.api([{"name": p["name"], "port": p["port"], "protocol": p["protocol"]} for p in ports]),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.service]),
        )
        self.address = self.endpoint_slice.endpoints.apply(lambda eps: eps[0].addresses[0])
        self.register_outputs({"address": self.address, "service": self.service.metadata.name})
