"""Services as kube-proxy (iptables mode) writes them on every node of a cluster (pure).

From the Service objects and their endpoints:
- a Service with a selector has as endpoints the pods of its namespace that the selector
  selects; a `targetPort` by name is looked up in each pod's container ports (a pod without
  it is no endpoint for that port), a missing one is the Service's `port`;
- a Service without a selector has the ready addresses of the EndpointSlices labelled
  `kubernetes.io/service-name: <service>` in its namespace, their port found by the
  Service port's name (the mesh's remote pods come this way);
- a headless Service (`clusterIP: None`) and an ExternalName Service get no rules: DNS
  answers for them, kube-proxy does nothing.
Each port of a ClusterIP becomes KUBE-SERVICES -> KUBE-SVC-* (spread by `statistic
random` over the endpoints, as kube-proxy does) -> KUBE-SEP-* (DNAT). Traffic from an
endpoint to itself (hairpin) and from outside the pod subnet gets the masquerade mark,
and KUBE-POSTROUTING masquerades marked packets.

kube-proxy runs once per address family (iptables and ip6tables): a Service has rules in the
family's table when its `ipFamilies` (IPv4 when unset) hold that family, its virtual IP of that
family (`spec.clusterIPs`), and as endpoints the pods' addresses of that family and the
EndpointSlices of that `addressType`.

Not reproduced: session affinity, traffic policies, NodePorts, the REJECT for a Service
with no endpoints (the lab's packets to it go unanswered instead of refused).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from manifests.base import API_FAMILY
from netlab.cluster_state import VERSIONS, ClusterState, IpAddress, IpNetwork, Obj, host_cidr
from netlab.iptables import Fragment, comment
from spec.model import Family

MASQ_MARK = "0x4000/0x4000"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

# (namespace, name) -> the ClusterIP the lab allocated, for Services whose objects carry none yet.
ClusterIps = Mapping[tuple[str, str], IpAddress]


@dataclass(frozen=True)
class ServiceEndpoint:
    ip: IpAddress
    port: int

    @property
    def target(self) -> str:
        """ip:port as DNAT's --to-destination takes it ([ip]:port for IPv6)."""
        return f"[{self.ip}]:{self.port}" if self.ip.version == 6 else f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePortRule:
    """One port of one ClusterIP and where kube-proxy sends it."""

    service: str  # namespace/name:port-name
    cluster_ip: IpAddress
    protocol: str  # tcp, udp, sctp
    port: int
    endpoints: tuple[ServiceEndpoint, ...]


def cluster_ip(service: Obj, allocated: ClusterIps, family: Family = "ipv4") -> IpAddress | None:
    """The Service's virtual IP of `family`: its own, or the one the lab allocated (`allocated` holds that
    family's); None when it is headless or not of that family."""
    spec = service.get("spec", {})
    if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
        return None
    if API_FAMILY[family] not in spec.get("ipFamilies", ["IPv4"]):
        return None
    own = [ipaddress.ip_address(ip) for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip]
    mine = [ip for ip in own if ip.version == VERSIONS[family]]
    if mine:
        return mine[0]
    meta = service["metadata"]
    return allocated.get((meta.get("namespace", "default"), meta["name"]))


def _selected_endpoints(state: ClusterState, namespace: str, spec: Obj, port: Obj) -> list[ServiceEndpoint]:
    target = port.get("targetPort", port["port"])
    protocol = port.get("protocol", "TCP")
    out = []
    # A Service selector is a plain label map: every label must match.
    for ep, _pod in state.pods_selected(namespace, {"matchLabels": spec["selector"]}):
        if isinstance(target, str) and not target.isdigit():
            number = next((cp.port for cp in ep.ports if cp.name == target and cp.protocol == protocol), None)
            if number is None:
                continue
        else:
            number = int(target)
        out.append(ServiceEndpoint(ep.ip, number))
    return list(dict.fromkeys(out))


def _slice_endpoints(state: ClusterState, namespace: str, name: str, port: Obj) -> list[ServiceEndpoint]:
    out = []
    for s in state.endpoint_slices:
        meta = s["metadata"]
        if meta.get("namespace", "default") != namespace or (meta.get("labels") or {}).get(SERVICE_NAME_LABEL) != name:
            continue
        if s.get("addressType", "IPv4") != API_FAMILY[state.family]:
            continue
        slice_port = next(
            (
                p
                for p in s.get("ports") or []
                if p.get("name", "") == port.get("name", "") and p.get("protocol", "TCP") == port.get("protocol", "TCP")
            ),
            None,
        )
        if slice_port is None or slice_port.get("port") is None:
            continue
        for endpoint in s.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            out += [ServiceEndpoint(ipaddress.ip_address(a), int(slice_port["port"])) for a in endpoint["addresses"]]
    return list(dict.fromkeys(out))


def service_port_rules(state: ClusterState, allocated: ClusterIps) -> list[ServicePortRule]:
    """Every ClusterIP port of the cluster with its endpoints, in a stable order."""
    out = []
    for service in state.services:
        vip = cluster_ip(service, allocated, state.family)
        if vip is None:
            continue
        meta, spec = service["metadata"], service["spec"]
        namespace = meta.get("namespace", "default")
        for port in spec.get("ports") or []:
            endpoints = (
                _selected_endpoints(state, namespace, spec, port)
                if spec.get("selector")
                else _slice_endpoints(state, namespace, meta["name"], port)
            )
            out.append(
                ServicePortRule(
                    service=f"{namespace}/{meta['name']}:{port.get('name', '')}",
                    cluster_ip=vip,
                    protocol=str(port.get("protocol", "TCP")).lower(),
                    port=int(port["port"]),
                    endpoints=tuple(endpoints),
                )
            )
    return sorted(out, key=lambda r: (r.service, r.protocol))


def _hash(*parts: str) -> str:
    """kube-proxy's chain suffix: 16 base32 characters of a SHA-256 of what the chain stands for."""
    return base64.b32encode(hashlib.sha256("".join(parts).encode()).digest()).decode()[:16]


def svc_chain(rule: ServicePortRule) -> str:
    return f"KUBE-SVC-{_hash(rule.service, rule.protocol)}"


def sep_chain(rule: ServicePortRule, endpoint: ServiceEndpoint) -> str:
    return f"KUBE-SEP-{_hash(rule.service, rule.protocol, f'{endpoint.ip}:{endpoint.port}')}"


def kube_proxy_nat(rules: list[ServicePortRule], pod_subnet: IpNetwork) -> Fragment:
    """The nat table kube-proxy keeps on every node of a cluster whose pods are `pod_subnet` (its iptables
    or, for an IPv6 subnet and rules, its ip6tables)."""
    chains = ["KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"]
    lines = [
        f"-A PREROUTING {comment('kubernetes service portals')} -j KUBE-SERVICES",
        f"-A OUTPUT {comment('kubernetes service portals')} -j KUBE-SERVICES",
        f"-A POSTROUTING {comment('kubernetes postrouting rules')} -j KUBE-POSTROUTING",
        f"-A KUBE-MARK-MASQ -j MARK --set-xmark {MASQ_MARK}",
        f"-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK} -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
        f"-A KUBE-POSTROUTING {comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE",
    ]
    for rule in rules:
        if not rule.endpoints:
            continue
        svc = svc_chain(rule)
        match = f"-d {host_cidr(rule.cluster_ip)} -p {rule.protocol} -m {rule.protocol} --dport {rule.port}"
        chains.append(svc)
        lines.append(f"-A KUBE-SERVICES {match} {comment(f'{rule.service} cluster IP')} -j {svc}")
        lines.append(f"-A {svc} ! -s {pod_subnet} {match} {comment(f'{rule.service} cluster IP')} -j KUBE-MARK-MASQ")
        n = len(rule.endpoints)
        for i, endpoint in enumerate(rule.endpoints):
            sep = sep_chain(rule, endpoint)
            chains.append(sep)
            left = n - i
            spread = "" if left == 1 else f"-m statistic --mode random --probability {1 / left:.10f} "
            lines.append(f"-A {svc} {comment(f'{rule.service} -> {endpoint.ip}:{endpoint.port}')} {spread}-j {sep}")
            lines.append(f"-A {sep} -s {host_cidr(endpoint.ip)} {comment(rule.service)} -j KUBE-MARK-MASQ")
            lines.append(
                f"-A {sep} -p {rule.protocol} -m {rule.protocol} {comment(rule.service)} "
                f"-j DNAT --to-destination {endpoint.target}"
            )
    return Fragment("nat", tuple(chains), tuple(lines))
