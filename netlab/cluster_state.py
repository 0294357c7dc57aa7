"""What a cluster's controllers see, read from plain Kubernetes objects (pure).

kube-proxy and the policy engine act on the API's objects: Pods with their IP and node,
Namespaces with their labels, Services, EndpointSlices and NetworkPolicies. The lab hands
over the objects it runs, each Pod with `status.podIP` and `spec.nodeName` filled in as the
kubelet and scheduler would have, and reads them here once.

The rules of each address family are written from a state of that family (`cluster_state(...,
family)`): each Pod at its address of that family (`status.podIPs`), a pod without one left out.

An `Endpoint` is one IP with the pod object(s) at it. The lab gives each pod its own network
namespace and IP, as a CNI does (netlab/layout.py), so an endpoint holds one pod there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from netlab.selectors import selects
from spec.model import Family

Obj = Mapping[str, Any]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
VERSIONS: dict[Family, int] = {"ipv4": 4, "ipv6": 6}


def host_cidr(ip: IpAddress) -> str:
    """One address as a CIDR: /32, or /128 for IPv6."""
    return f"{ip}/{ip.max_prefixlen}"


NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace


@dataclass(frozen=True)
class ContainerPort:
    name: str
    port: int
    protocol: str  # TCP, UDP, SCTP as the API spells them


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str
    labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...] = ()

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Endpoint:
    """One pod IP, the pod object(s) at it, the node it runs on and the ports its containers declare."""

    ip: IpAddress
    node: str
    pods: tuple[PodRef, ...]
    ports: tuple[ContainerPort, ...]

    @property
    def name(self) -> str:
        return "+".join(str(p) for p in self.pods)


@dataclass(frozen=True)
class ClusterState:
    endpoints: tuple[Endpoint, ...]
    namespace_labels: Mapping[str, Mapping[str, str]]
    services: tuple[Obj, ...]
    endpoint_slices: tuple[Obj, ...]
    policies: tuple[Obj, ...]
    family: Family = "ipv4"  # the family of every endpoint's address, and of the rules written from it

    def pods_selected(self, namespace: str, selector: Obj | None) -> list[tuple[Endpoint, PodRef]]:
        """Pod objects of `namespace` that `selector` selects, with their endpoint."""
        return [
            (ep, pod)
            for ep in self.endpoints
            for pod in ep.pods
            if pod.namespace == namespace and selects(selector, pod.labels)
        ]

    def endpoint_at(self, ip: IpAddress) -> Endpoint | None:
        return next((ep for ep in self.endpoints if ep.ip == ip), None)


def _kind(obj: Obj) -> str:
    return str(obj.get("kind", ""))


def _container_ports(pod: Obj) -> list[ContainerPort]:
    out = []
    for container in pod.get("spec", {}).get("containers", []):
        for p in container.get("ports") or []:
            out.append(ContainerPort(str(p.get("name", "")), int(p["containerPort"]), str(p.get("protocol", "TCP"))))
    return out


def pod_ip(pod: Obj, family: Family) -> IpAddress | None:
    """A Pod's address of one family: among `status.podIPs`, else `status.podIP` when it is of that family."""
    status = pod.get("status", {})
    listed = [p["ip"] for p in status.get("podIPs") or []] or ([status["podIP"]] if status.get("podIP") else [])
    return next((ip for ip in map(ipaddress.ip_address, listed) if ip.version == VERSIONS[family]), None)


def cluster_state(objects: Iterable[Obj], family: Family = "ipv4") -> ClusterState:
    """The objects of one cluster, as its controllers list them for one address family. Pods without an
    IP (of that family) are not running (have no endpoint of it)."""
    objs = list(objects)
    namespace_labels: dict[str, dict[str, str]] = {}
    for obj in objs:
        if _kind(obj) == "Namespace":
            name = obj["metadata"]["name"]
            namespace_labels[name] = {**(obj["metadata"].get("labels") or {}), NAMESPACE_NAME_LABEL: name}
    by_ip: dict[IpAddress, list[Obj]] = {}
    for obj in objs:
        # A host-network pod's IP is its node's: kube-network-policies neither selects such a pod nor
        # resolves its IP to it (pkg/networkpolicy, pkg/podinfo skip `spec.hostNetwork`), and no
        # Service of meshperf selects one, so it is no endpoint here.
        if _kind(obj) == "Pod" and obj.get("spec", {}).get("hostNetwork"):
            continue
        ip = pod_ip(obj, family) if _kind(obj) == "Pod" else None
        if ip is not None:
            by_ip.setdefault(ip, []).append(obj)
    endpoints = []
    for ip, pods in by_ip.items():
        nodes = {str(p.get("spec", {}).get("nodeName", "")) for p in pods}
        if len(nodes) != 1:
            raise ValueError(f"pods at {ip} sit on different nodes: {sorted(nodes)}")
        refs = tuple(
            PodRef(
                p["metadata"].get("namespace", "default"),
                p["metadata"]["name"],
                p["metadata"].get("labels") or {},
                tuple(_container_ports(p)),
            )
            for p in pods
        )
        ports = tuple(dict.fromkeys(cp for p in pods for cp in _container_ports(p)))
        endpoints.append(Endpoint(ip, nodes.pop(), refs, ports))
    for ns in {ref.namespace for ep in endpoints for ref in ep.pods} - namespace_labels.keys():
        namespace_labels[ns] = {NAMESPACE_NAME_LABEL: ns}
    return ClusterState(
        endpoints=tuple(sorted(endpoints, key=lambda e: e.ip)),
        namespace_labels=namespace_labels,
        services=tuple(o for o in objs if _kind(o) == "Service"),
        endpoint_slices=tuple(o for o in objs if _kind(o) == "EndpointSlice"),
        policies=tuple(o for o in objs if _kind(o) == "NetworkPolicy"),
        family=family,
    )
