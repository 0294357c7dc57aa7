"""The mesh: routes between kind clusters on one Docker host, the link on them, and mesh endpoints.

Routes: every node of one cluster gets a route to each node of the other cluster's pod
/24 via that node's address on the Docker network (what a flat routed underlay gives).
A mesh endpoint is a selector-less headless Service in the client's cluster with an
EndpointSlice that holds the remote pod's IP: its DNS name resolves to the remote pod.

The link (`meshperf:link`) is made on those routes, in each node, because the Docker bridge
is shared: its own MTU, or a qdisc on it, would also bind the traffic between the nodes of
one cluster (paths 3 and 4). So, in each node:
- MTU: the routes to the other cluster carry `mtu <link.mtu>`, both the one to each remote
  node's pod /24 and a /32 to the remote node itself: kindnet masquerades pod traffic that
  leaves its cluster to the node's address, so replies come back addressed to the node.
  Forwarded packets above the route's MTU get "fragmentation needed", as on a routed link.
  The link's MTU may not exceed the node interface's own (the Docker network's), which is read.
- Rate: an htb qdisc on the node's interface whose one class, at the link's rate, takes only
  packets to the other cluster (the same destinations as the routes, by u32 filters); all
  other traffic is left unclassified, which htb sends unshaped. It is a rate per node and
  direction, not one shared by all the nodes: the suites run one case at a time.
The interface is `eth0`, the one Docker gives a kind node on the kind network.

IPv6 (clusters of `ip_family` ipv6 or dual): kind's Docker network has IPv6 too; a node that has
an IPv6 address there and an IPv6 pod CIDR (`spec.podCIDRs`) gets the same routes and filters in
IPv6 (`ip -6 route`, a /128 to the remote node, `tc filter ... protocol ipv6 ... match ip6 dst`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import shlex
from functools import partial
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from components.hostrun import Run, check, host_label, open_runner, progress
from components.objects import addresses, register
from manifests import Scene, mesh
from manifests.addresses import POD_IPS
from spec.model import Family

NodeInfo = dict[str, str]  # {"name", "ip", "pod_cidr"}, and "ip6", "pod_cidr6" for a node with IPv6 pods
NODE_IFACE = "eth0"
LINK_CLASS = "1:10"


def _remote_nodes(nodes: dict[str, list[NodeInfo]], cluster: str) -> list[NodeInfo]:
    return [remote for other, others in sorted(nodes.items()) if other != cluster for remote in others]


def _destinations(node: NodeInfo, remote: NodeInfo) -> list[tuple[str, str, str]]:
    """(ip's family option, the remote's pod CIDR, the remote node's host route) per family both nodes have."""
    out = [("", remote["pod_cidr"], remote["ip"] + "/32")]
    if node.get("pod_cidr6") and remote.get("pod_cidr6") and remote.get("ip6"):
        out.append(("-6 ", remote["pod_cidr6"], remote["ip6"] + "/128"))
    return out


def route_commands(docker: str, nodes: dict[str, list[NodeInfo]], mtu: int) -> list[str]:
    """`docker exec NODE ip route replace ... mtu M` on every node toward every other cluster's node and its pods
    (IPv6 as well, between nodes that both have it)."""
    q = shlex.quote
    commands = []
    for cluster, own in sorted(nodes.items()):
        for node in own:
            for remote in _remote_nodes(nodes, cluster):
                for family, pods, host in _destinations(node, remote):
                    via = remote["ip6"] if family else remote["ip"]
                    for route in (f"{q(pods)} via {q(via)}", f"{q(host)} dev {NODE_IFACE}"):
                        commands.append(
                            f"{q(docker)} exec {q(node['name'])} ip {family}route replace {route} mtu {mtu}"
                        )
    return commands


def rate_commands(docker: str, nodes: dict[str, list[NodeInfo]], rate: str | None) -> list[str]:
    """On every node: htb at the root of its interface, one class at `rate`, filters for the other cluster only.

    An htb root left by an earlier run is removed first (htb cannot be changed in place), so
    the same commands give the same state; without a rate, that is all.
    """
    q = shlex.quote
    dev = f"dev {NODE_IFACE}"
    clear = f"if tc qdisc show {dev} root | grep -q '^qdisc htb 1: '; then tc qdisc del {dev} root; fi"
    commands = []
    for cluster, own in sorted(nodes.items()):
        for node in own:
            exec_ = f"{q(docker)} exec {q(node['name'])}"
            commands.append(f"{exec_} sh -c {q(clear)}")
            if rate is None:
                continue
            commands += [
                f"{exec_} tc qdisc add {dev} root handle 1: htb",
                f"{exec_} tc class add {dev} parent 1: classid {LINK_CLASS} htb rate {q(rate)} ceil {q(rate)}",
            ]
            for remote in _remote_nodes(nodes, cluster):
                for family, pods, host in _destinations(node, remote):
                    protocol, match = ("ipv6", "ip6") if family else ("ip", "ip")
                    commands += [
                        f"{exec_} tc filter add {dev} parent 1: protocol {protocol} prio 1 u32 "
                        f"match {match} dst {q(dst)} flowid {LINK_CLASS}"
                        for dst in (pods, host)
                    ]
    return commands


def state_checks(docker: str, nodes: dict[str, list[NodeInfo]], mtu: int, rate: str | None) -> list[tuple[str, str]]:
    """(command, what its output must hold) for every route `route_commands` makes and, with a rate, the
    link's htb class on every node: what a Docker restart (fresh node containers) loses."""
    q = shlex.quote
    checks = []
    for cluster, own in sorted(nodes.items()):
        for node in own:
            exec_ = f"{q(docker)} exec {q(node['name'])}"
            for remote in _remote_nodes(nodes, cluster):
                for family, pods, host in _destinations(node, remote):
                    via = remote["ip6"] if family else remote["ip"]
                    checks.append((f"{exec_} ip {family}route show {q(pods)}", f"via {via} "))
                    checks.append((f"{exec_} ip {family}route show {q(host)}", f"mtu {mtu} "))
            if rate is not None:
                checks.append((f"{exec_} tc class show dev {NODE_IFACE}", f"class htb {LINK_CLASS} "))
    return checks


async def missing_state(
    run: Run, docker: str, nodes: dict[str, list[NodeInfo]], mtu: int, rate: str | None
) -> list[str]:
    """The checks that fail (a node gone, a route or the link's class missing): empty when all is there."""
    missing = []
    for command, needle in state_checks(docker, nodes, mtu, rate):
        rc, out, _err = await run(command)
        if rc != 0 or needle not in " ".join(out.split()) + " ":
            missing.append(f"{command} has no {needle.strip()!r}")
    return missing


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
        node = {"name": name, "ip": ip.split()[0], "pod_cidr": cidr.strip()}
        nodes.append({**node, **await _ipv6_of(run, docker, control, name)})
    return nodes


async def _ipv6_of(run: Run, docker: str, control: str, name: str) -> NodeInfo:
    """A node's IPv6 address on the Docker network and its IPv6 pod CIDR, when it has both (else nothing)."""
    q = shlex.quote
    ips = await check(
        run,
        f"{q(docker)} inspect -f '{{{{range .NetworkSettings.Networks}}}}{{{{.GlobalIPv6Address}}}} {{{{end}}}}' "
        f"{q(name)}",
        f"docker inspect {name} (IPv6)",
    )
    cidrs = await check(
        run,
        f"{q(docker)} exec {q(control)} kubectl --kubeconfig /etc/kubernetes/admin.conf "
        f"get node {q(name)} -o jsonpath='{{.spec.podCIDRs[*]}}'",
        f"pod CIDRs of {name}",
    )
    ip6 = next((a for a in ips.split() if _version(a) == 6), None)
    cidr6 = next((c for c in cidrs.split() if _version(c.split("/")[0]) == 6), None)
    return {"ip6": ip6, "pod_cidr6": cidr6} if ip6 and cidr6 else {}


def _version(address: str) -> int | None:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return None


async def check_link_mtu(run: Run, docker: str, nodes: dict[str, list[NodeInfo]], mtu: int) -> None:
    """Refuse a link MTU above a node interface's MTU (the Docker network's): such packets would be dropped."""
    q = shlex.quote
    for node in (n for own in nodes.values() for n in own):
        have = await check(
            run, f"{q(docker)} exec {q(node['name'])} cat /sys/class/net/{NODE_IFACE}/mtu", f"MTU of {node['name']}"
        )
        if mtu > int(have.strip()):
            raise RuntimeError(
                f"meshperf:link.mtu: {mtu} is above the MTU {have.strip()} of {NODE_IFACE} on kind node "
                f"{node['name']} (the Docker network's); set meshperf:link.mtu to at most {have.strip()}"
            )


class KindMeshRoutesProvider(ResourceProvider):
    """Inputs: clusters (kind names), cluster_ids, host, kind, docker, mtu, rate (the link; rate may be null).

    Outputs add nodes: {cluster: [NodeInfo]}.
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = asyncio.run(self._route(props))
        return CreateResult(id_="-".join(props["clusters"]), outs=outs)

    async def _route(self, props: dict[str, Any]) -> dict[str, Any]:
        docker, kind = str(props.get("docker") or "docker"), str(props.get("kind") or "kind")
        mtu, rate = int(props["mtu"]), props.get("rate")
        where = f"kind clusters {' and '.join(props['clusters'])} on {host_label(props['host'])}"
        async with open_runner(props["host"]) as run:
            nodes = {c: await node_info(run, docker, kind, c) for c in props["clusters"]}
            await check_link_mtu(run, docker, nodes, mtu)
            for command in route_commands(docker, nodes, mtu):
                await check(run, command, "route between clusters")
            for command in rate_commands(docker, nodes, str(rate) if rate else None):
                await check(run, command, "link rate between clusters")
        progress(f"{where}: routed, link MTU {mtu}, rate {rate or 'unshaped'}")
        return {**props, "nodes": nodes}

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """On `refresh`: are the routes and the link still in the nodes? They live in the node containers
        and a Docker restart makes those afresh; then the resource is gone, and `up` makes it again."""

        async def missing() -> list[str]:
            rate = props.get("rate")
            async with open_runner(props["host"]) as run:
                return await missing_state(
                    run,
                    str(props.get("docker") or "docker"),
                    props.get("nodes") or {},
                    int(props["mtu"]),
                    str(rate) if rate else None,
                )

        lost = asyncio.run(missing())
        if lost:
            progress(f"mesh routes {id_}: {len(lost)} missing (first: {lost[0]}); `pulumi up` makes them again")
            return ReadResult("", props)
        return ReadResult(id_, props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A new link is made on fresh routes: replace, so no old class or filter stays behind.
        keys = ("clusters", "host", "cluster_ids", "mtu", "rate", "kind", "docker")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The routes live in the node containers and go with them."""


class KindMeshRoutes(Resource, module="meshperf", name="KindMeshRoutes"):
    nodes: pulumi.Output[dict[str, list[NodeInfo]]]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(KindMeshRoutesProvider(), name, {**props, "nodes": None}, opts)


class MeshEndpoint(pulumi.ComponentResource):
    """A remote pod made visible in a cluster: a selector-less headless Service and an EndpointSlice per family."""

    service: k8s.core.v1.Service
    endpoint_slice: k8s.discovery.v1.EndpointSlice  # the first family's (IPv4 on a dual-stack path)
    endpoint_slices: list[k8s.discovery.v1.EndpointSlice]
    address: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        scene: Scene,
        cluster: str,
        workload: str,
        remote_ips: dict[Family, pulumi.Input[str]],
        provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """In `cluster`, the Service for the other cluster's server `workload` at `remote_ips` (one per family
        the clients reach it over; the IPv4 slice keeps the resource name `<name>-slice`)."""
        super().__init__("meshperf:kubernetes:MeshEndpoint", resource_name, None, opts)
        self.service = register(
            k8s.core.v1.Service,
            f"{resource_name}-svc",
            mesh.mesh_service(scene, cluster, workload),
            pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.endpoint_slices = [
            register(
                k8s.discovery.v1.EndpointSlice,
                f"{resource_name}-slice" if family == "ipv4" else f"{resource_name}-slice-{family}",
                addresses(**{POD_IPS[family]: {workload: ip}}).apply(
                    partial(mesh.mesh_slice, scene, cluster=cluster, workload=workload, family=family)
                ),
                pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.service]),
            )
            for family, ip in remote_ips.items()
        ]
        self.endpoint_slice = self.endpoint_slices[0]
        self.address = self.endpoint_slice.endpoints.apply(lambda eps: eps[0].addresses[0])
        self.register_outputs({"address": self.address, "service": self.service.metadata.name})
