"""The lab's topology as data: namespaces, addresses, links and routes (pure).

Kubernetes shapes are mimicked where they matter to the six paths:
- each node is a namespace with a bridge (`cbr0`) holding the node's /24 of the pod subnet,
  and each pod a namespace with a veth on that bridge (same-node traffic stays on the node);
- nodes of a cluster sit on a bridge in the cluster's network namespace, which also routes
  between clusters; every node has a route to every other node's pod /24 (as kindnet adds);
- Services, NetworkPolicies and kindnet's masquerade are rules in the node namespaces,
  derived from the Kubernetes objects (netlab/services.py, netpol.py, masquerade.py);
- the clusters' network namespaces are joined by one veth pair, the link, with the stack's
  MTU and a tbf rate; each routes the other's pod subnet and node network over it (kind's
  nodes share one Docker network, so a node's IP, which masqueraded traffic comes from,
  is reachable from the other cluster);
- a host-network pod (the host baseline's `<w>-host` twins) runs in its node's namespace, with
  the node's IP as its pod IP, as `hostNetwork: true` puts it on a cluster;
- a workload's `egress_rate` is a tbf on its pod's own veth end (what the pod sends), its
  `ingress_rate` a tbf on the node's end (what the pod receives), as the CNI bandwidth plugin
  shapes them.
No namespace has a link to the machine's own namespace: nothing the lab sends leaves it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from spec.model import Stack, is_host_workload, rate_bits_per_s
from spec.plan import Plan, address_var

NODE_NET = ipaddress.IPv4Network("172.30.0.0/16")  # lab-internal: cluster i's nodes on 172.30.i.0/24
LINK_NET = ipaddress.IPv4Network("172.31.255.0/30")  # lab-internal: the inter-cluster link
TBF_BURST = "512kb"
TBF_LATENCY = "50ms"

Command = tuple[str, ...]


@dataclass(frozen=True)
class Pod:
    workload: str
    cluster: str
    node: str
    ns: str
    ip: ipaddress.IPv4Address
    gateway: ipaddress.IPv4Address
    vip: ipaddress.IPv4Address | None
    host_veth: str  # the node's end of the pod's veth, on the node's bridge (the pod's end is eth0)
    egress_rate: str | None = None
    ingress_rate: str | None = None
    host_network: bool = False  # in its node's namespace, at the node's IP: no veth, no namespace of its own


@dataclass(frozen=True)
class NodeNs:
    cluster: str
    name: str
    ns: str
    ip: ipaddress.IPv4Address
    pod_subnet: ipaddress.IPv4Network


@dataclass(frozen=True)
class ClusterNet:
    name: str
    ns: str
    router_ip: ipaddress.IPv4Address
    node_net: ipaddress.IPv4Network
    pod_subnet: ipaddress.IPv4Network
    link_ip: ipaddress.IPv4Address


@dataclass(frozen=True)
class Layout:
    prefix: str
    clusters: tuple[ClusterNet, ...]
    nodes: tuple[NodeNs, ...]
    pods: tuple[Pod, ...]
    link_mtu: int
    link_rate: str | None
    namespaces: tuple[str, ...] = field(default=())

    def pod(self, workload: str) -> Pod:
        return next(p for p in self.pods if p.workload == workload)

    def node(self, cluster: str, name: str) -> NodeNs:
        return next(n for n in self.nodes if n.cluster == cluster and n.name == name)

    def target_env(self) -> dict[str, str]:
        """The addresses runner scripts read (`Target.env_var`) for every pod."""
        env: dict[str, str] = {}
        for pod in self.pods:
            env[address_var(pod.workload, "POD_IP")] = str(pod.ip)
            if pod.vip is not None:
                env[address_var(pod.workload, "VIP")] = str(pod.vip)
        return env


def build_layout(stack: Stack, plan: Plan, prefix: str) -> Layout:
    """Namespaces and addresses for the workloads the plan uses, on the nodes they sit on."""
    used = {c.client for c in plan.cases} | {c.target.workload for c in plan.cases}
    used |= {w for pair in plan.e2sar for w in (pair.sender, pair.receiver)}
    vip_targets = {c.target.workload for c in plan.cases if c.target.address == "vip"}
    link_hosts = list(LINK_NET.hosts())
    clusters: list[ClusterNet] = []
    nodes: list[NodeNs] = []
    pods: list[Pod] = []
    for ci, cluster in enumerate(stack.clusters):
        node_net = list(NODE_NET.subnets(new_prefix=24))[ci]
        hosts = list(node_net.hosts())
        clusters.append(
            ClusterNet(
                cluster.name, f"{prefix}-{cluster.name}-net", hosts[0], node_net, cluster.pod_subnet, link_hosts[ci]
            )
        )
        for ni, node in enumerate(cluster.nodes):
            nodes.append(
                NodeNs(
                    cluster.name,
                    node.name,
                    f"{prefix}-{cluster.name}-{node.name}",
                    hosts[10 + ni],
                    cluster.node_pod_subnet(node.name),
                )
            )
        services = list(cluster.service_subnet.hosts())
        on_node: dict[str, int] = {}
        mine = sorted(w for w in used if stack.workload(w).cluster == cluster.name)
        for workload in (w for w in mine if is_host_workload(w)):
            on = next(n for n in nodes if (n.cluster, n.name) == (cluster.name, stack.node_of(workload)[1].name))
            pods.append(Pod(workload, cluster.name, on.name, on.ns, on.ip, on.ip, None, "", host_network=True))
        for wi, workload in enumerate(w for w in mine if not is_host_workload(w)):
            node = stack.node_of(workload)[1]
            subnet = cluster.node_pod_subnet(node.name)
            on_node[node.name] = on_node.get(node.name, 0) + 1
            pods.append(
                Pod(
                    workload=workload,
                    cluster=cluster.name,
                    node=node.name,
                    ns=f"{prefix}-{cluster.name}-{workload}",
                    ip=subnet.network_address + 1 + on_node[node.name],
                    gateway=subnet.network_address + 1,
                    vip=services[9 + wi] if workload in vip_targets else None,
                    host_veth=f"p{sum(not p.host_network for p in pods)}",
                    egress_rate=stack.workloads[workload].egress_rate,
                    ingress_rate=stack.workloads[workload].ingress_rate,
                )
            )
    namespaces = tuple([c.ns for c in clusters] + [n.ns for n in nodes] + [p.ns for p in pods if not p.host_network])
    return Layout(prefix, tuple(clusters), tuple(nodes), tuple(pods), stack.link.mtu, stack.link.rate, namespaces)


def _sysctl(ns: str, key: str, value: str) -> Command:
    return ("ip", "netns", "exec", ns, "sh", "-c", f"echo {value} > /proc/sys/{key.replace('.', '/')}")


def setup_commands(layout: Layout) -> list[Command]:
    """Every `ip`/`tc` command that builds the lab, in order; iptables rules come from the objects."""
    cmds: list[Command] = [("ip", "netns", "add", ns) for ns in layout.namespaces]
    cmds += [("ip", "-n", ns, "link", "set", "lo", "up") for ns in layout.namespaces]
    for net in layout.clusters:
        cmds += [
            ("ip", "-n", net.ns, "link", "add", "br0", "type", "bridge"),
            ("ip", "-n", net.ns, "addr", "add", f"{net.router_ip}/{net.node_net.prefixlen}", "dev", "br0"),
            ("ip", "-n", net.ns, "link", "set", "br0", "up"),
            _sysctl(net.ns, "net.ipv4.ip_forward", "1"),
        ]
    for i, node in enumerate(layout.nodes):
        net = next(c for c in layout.clusters if c.name == node.cluster)
        port = f"n{i}"
        cmds += [
            ("ip", "-n", node.ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", net.ns),
            ("ip", "-n", net.ns, "link", "set", port, "master", "br0", "up"),
            ("ip", "-n", node.ns, "addr", "add", f"{node.ip}/{net.node_net.prefixlen}", "dev", "eth0"),
            ("ip", "-n", node.ns, "link", "set", "eth0", "up"),
            ("ip", "-n", node.ns, "link", "add", "cbr0", "type", "bridge"),
            ("ip", "-n", node.ns, "addr", "add", f"{node.pod_subnet.network_address + 1}/24", "dev", "cbr0"),
            ("ip", "-n", node.ns, "link", "set", "cbr0", "up"),
            ("ip", "-n", node.ns, "route", "add", "default", "via", str(net.router_ip)),
            ("ip", "-n", net.ns, "route", "add", str(node.pod_subnet), "via", str(node.ip)),
            _sysctl(node.ns, "net.ipv4.ip_forward", "1"),
        ]
        # Per-node pod routes, as kindnet installs them.
        cmds += [
            ("ip", "-n", node.ns, "route", "add", str(other.pod_subnet), "via", str(other.ip))
            for other in layout.nodes
            if other.cluster == node.cluster and other is not node
        ]
    for pod in (p for p in layout.pods if not p.host_network):
        node = layout.node(pod.cluster, pod.node)
        port = pod.host_veth
        cmds += [
            ("ip", "-n", pod.ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", node.ns),
            ("ip", "-n", node.ns, "link", "set", port, "master", "cbr0", "up"),
            # Hairpin mode, as kubelet sets it: with br_netfilter loaded, DNAT back to the
            # sender is bridged out of the port it came in on.
            ("ip", "-n", node.ns, "link", "set", port, "type", "bridge_slave", "hairpin", "on"),
            ("ip", "-n", pod.ns, "addr", "add", f"{pod.ip}/24", "dev", "eth0"),
            ("ip", "-n", pod.ns, "link", "set", "eth0", "up"),
            ("ip", "-n", pod.ns, "route", "add", "default", "via", str(pod.gateway)),
        ]
    cmds += _link_commands(layout)
    return cmds


def _link_commands(layout: Layout) -> list[Command]:
    if len(layout.clusters) < 2:
        return []
    a, b = layout.clusters[:2]
    cmds: list[Command] = [
        (
            "ip",
            "-n",
            a.ns,
            "link",
            "add",
            "link0",
            "mtu",
            str(layout.link_mtu),
            "type",
            "veth",
            "peer",
            "name",
            "link0",
            "netns",
            b.ns,
            "mtu",
            str(layout.link_mtu),
        ),
    ]
    for here, there in ((a, b), (b, a)):
        cmds += [
            ("ip", "-n", here.ns, "addr", "add", f"{here.link_ip}/{LINK_NET.prefixlen}", "dev", "link0"),
            ("ip", "-n", here.ns, "link", "set", "link0", "up"),
            ("ip", "-n", here.ns, "route", "add", str(there.pod_subnet), "via", str(there.link_ip)),
            ("ip", "-n", here.ns, "route", "add", str(there.node_net), "via", str(there.link_ip)),
        ]
    return cmds


def tbf_command(ns: str, device: str, rate: str) -> Command:
    """A tbf root qdisc on `device` in namespace `ns`: what leaves it, at most `rate`.

    The rate goes to tc in bits per second, as the stack model reads it: tc itself refuses
    `10g`, and would read `500mbps` as bytes, which the model refuses (`rate_bits_per_s`).
    """
    return (
        "ip",
        "netns",
        "exec",
        ns,
        "tc",
        "qdisc",
        "add",
        "dev",
        device,
        "root",
        "tbf",
        "rate",
        f"{rate_bits_per_s(rate)}bit",
        "burst",
        TBF_BURST,
        "latency",
        TBF_LATENCY,
    )


def shaping_commands(layout: Layout) -> list[tuple[str, Command]]:
    """Every tbf of the lab, each with what it limits (for the warning when tc refuses it).

    Both ends of the link, when the stack gives it a rate; a pod's own veth end for its
    workload's `egress_rate`, the node's end for its `ingress_rate`.
    """
    out: list[tuple[str, Command]] = []
    if len(layout.clusters) >= 2 and layout.link_rate is not None:
        out += [
            (f"link rate {layout.link_rate}", tbf_command(net.ns, "link0", layout.link_rate))
            for net in layout.clusters[:2]
        ]
    for pod in layout.pods:
        node = layout.node(pod.cluster, pod.node)
        if pod.egress_rate is not None:
            out.append((f"{pod.workload} egress_rate {pod.egress_rate}", tbf_command(pod.ns, "eth0", pod.egress_rate)))
        if pod.ingress_rate is not None:
            out.append(
                (
                    f"{pod.workload} ingress_rate {pod.ingress_rate}",
                    tbf_command(node.ns, pod.host_veth, pod.ingress_rate),
                )
            )
    return out
