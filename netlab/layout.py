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
IPv6 (a cluster whose `ip_family` is ipv6 or dual) is laid beside IPv4, the same way: each
node a /64 of the cluster's IPv6 pod subnet, node and link networks of ULA addresses, the
routes and forwarding of both families. Every IPv6 address is added `nodad` (usable at once,
no duplicate address detection to wait for). The pods of an IPv6-only cluster keep their IPv4
address too (the lab's plumbing: the kubelet's probes use it), but the Pod objects the rules
read carry only the IPv6 one, so no Service or policy of IPv4 exists for them.
No namespace has a link to the machine's own namespace: nothing the lab sends leaves it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from spec.model import Family, Stack, is_host_workload, rate_bits_per_s
from spec.plan import Plan, address_var

NODE_NET = ipaddress.IPv4Network("172.30.0.0/16")  # lab-internal: cluster i's nodes on 172.30.i.0/24
LINK_NET = ipaddress.IPv4Network("172.31.255.0/30")  # lab-internal: the inter-cluster link
NODE_NET6 = ipaddress.IPv6Network("fd00:ac1e::/48")  # lab-internal (ULA): cluster i's nodes on fd00:ac1e:0:i::/64
LINK_NET6 = ipaddress.IPv6Network("fd00:ac1f::/64")  # lab-internal (ULA): the inter-cluster link
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
    # The families of the pod's Pod object, the primary first: its cluster's (`Cluster.families`).
    families: tuple[Family, ...] = ("ipv4",)
    # IPv6 (a cluster of ipv6 or dual): the pod's address, its node's cbr0 address, its virtual IP.
    ip6: ipaddress.IPv6Address | None = None
    gateway6: ipaddress.IPv6Address | None = None
    vip6: ipaddress.IPv6Address | None = None

    def address(self, family: Family) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The pod's IP of one family (None: the pod has none of it)."""
        return self.ip6 if family == "ipv6" else self.ip

    def vip_of(self, family: Family) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The virtual IP of one family the lab gave the pod's VIP Service (None: no such Service)."""
        return self.vip6 if family == "ipv6" else self.vip


@dataclass(frozen=True)
class NodeNs:
    cluster: str
    name: str
    ns: str
    ip: ipaddress.IPv4Address
    pod_subnet: ipaddress.IPv4Network
    ip6: ipaddress.IPv6Address | None = None
    pod_subnet6: ipaddress.IPv6Network | None = None


@dataclass(frozen=True)
class ClusterNet:
    name: str
    ns: str
    router_ip: ipaddress.IPv4Address
    node_net: ipaddress.IPv4Network
    pod_subnet: ipaddress.IPv4Network
    link_ip: ipaddress.IPv4Address
    router_ip6: ipaddress.IPv6Address | None = None
    node_net6: ipaddress.IPv6Network | None = None
    pod_subnet6: ipaddress.IPv6Network | None = None
    link_ip6: ipaddress.IPv6Address | None = None


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
            if pod.ip6 is not None:
                env[address_var(pod.workload, "POD_IP", "ipv6")] = str(pod.ip6)
            if pod.vip6 is not None:
                env[address_var(pod.workload, "VIP", "ipv6")] = str(pod.vip6)
        return env


def build_layout(stack: Stack, plan: Plan, prefix: str) -> Layout:
    """Namespaces and addresses for the workloads the plan uses, on the nodes they sit on."""
    used = {c.client for c in plan.cases} | {c.target.workload for c in plan.cases}
    used |= {w for pair in plan.e2sar for w in (pair.sender, pair.receiver)}
    vip_targets = {c.target.workload for c in plan.cases if c.target.address == "vip"}
    link_hosts, link_hosts6 = list(LINK_NET.hosts()), [LINK_NET6.network_address + 1, LINK_NET6.network_address + 2]
    clusters: list[ClusterNet] = []
    nodes: list[NodeNs] = []
    pods: list[Pod] = []
    for ci, cluster in enumerate(stack.clusters):
        v6 = "ipv6" in cluster.families
        node_net = list(NODE_NET.subnets(new_prefix=24))[ci]
        node_net6 = ipaddress.IPv6Network((int(NODE_NET6.network_address) + (ci << 64), 64))
        hosts = list(node_net.hosts())
        clusters.append(
            ClusterNet(
                cluster.name,
                f"{prefix}-{cluster.name}-net",
                hosts[0],
                node_net,
                cluster.pod_subnet,
                link_hosts[ci],
                router_ip6=node_net6.network_address + 1 if v6 else None,
                node_net6=node_net6 if v6 else None,
                pod_subnet6=cluster.pod_subnet_v6 if v6 else None,
                link_ip6=link_hosts6[ci] if v6 else None,
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
                    ip6=node_net6.network_address + 11 + ni if v6 else None,
                    pod_subnet6=cluster.node_pod_subnet_v6(node.name) if v6 else None,
                )
            )
        services = list(cluster.service_subnet.hosts())
        first_service6 = cluster.service_subnet_v6.network_address + 1
        on_node: dict[str, int] = {}
        mine = sorted(w for w in used if stack.workload(w).cluster == cluster.name)
        for workload in (w for w in mine if is_host_workload(w)):
            on = next(n for n in nodes if (n.cluster, n.name) == (cluster.name, stack.node_of(workload)[1].name))
            pods.append(
                Pod(
                    workload,
                    cluster.name,
                    on.name,
                    on.ns,
                    on.ip,
                    on.ip,
                    None,
                    "",
                    host_network=True,
                    families=cluster.families,
                    ip6=on.ip6,
                    gateway6=on.ip6,
                )
            )
        for wi, workload in enumerate(w for w in mine if not is_host_workload(w)):
            node = stack.node_of(workload)[1]
            subnet = cluster.node_pod_subnet(node.name)
            on_node[node.name] = on_node.get(node.name, 0) + 1
            subnet6 = cluster.node_pod_subnet_v6(node.name)
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
                    families=cluster.families,
                    ip6=subnet6.network_address + 1 + on_node[node.name] if v6 else None,
                    gateway6=subnet6.network_address + 1 if v6 else None,
                    vip6=first_service6 + 9 + wi if v6 and workload in vip_targets else None,
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
    cmds += ipv6_commands(layout)
    cmds += _link_commands(layout)
    return cmds


def _addr6(ns: str, ip: ipaddress.IPv6Address, prefixlen: int, dev: str) -> Command:
    """An IPv6 address usable at once: `nodad` skips duplicate address detection (nothing else is on these links)."""
    return ("ip", "-n", ns, "-6", "addr", "add", f"{ip}/{prefixlen}", "dev", dev, "nodad")


def ipv6_commands(layout: Layout) -> list[Command]:
    """The IPv6 side of the clusters that have it, on the links `setup_commands` made: addresses, forwarding,
    routes (as kindnet adds them per family), and br_netfilter's ip6tables hook for hairpin DNAT."""
    cmds: list[Command] = []
    for net in layout.clusters:
        if net.router_ip6 is None or net.node_net6 is None:
            continue
        cmds += [
            _addr6(net.ns, net.router_ip6, net.node_net6.prefixlen, "br0"),
            _sysctl(net.ns, "net.ipv6.conf.all.forwarding", "1"),
        ]
        for node in (n for n in layout.nodes if n.cluster == net.name):
            assert node.ip6 is not None and node.pod_subnet6 is not None
            cmds += [
                _addr6(node.ns, node.ip6, net.node_net6.prefixlen, "eth0"),
                _addr6(node.ns, node.pod_subnet6.network_address + 1, node.pod_subnet6.prefixlen, "cbr0"),
                ("ip", "-n", node.ns, "-6", "route", "add", "default", "via", str(net.router_ip6)),
                ("ip", "-n", net.ns, "-6", "route", "add", str(node.pod_subnet6), "via", str(node.ip6)),
                _sysctl(node.ns, "net.ipv6.conf.all.forwarding", "1"),
                _sysctl(node.ns, "net.bridge.bridge-nf-call-ip6tables", "1"),
            ]
            cmds += [
                ("ip", "-n", node.ns, "-6", "route", "add", str(other.pod_subnet6), "via", str(other.ip6))
                for other in layout.nodes
                if other.cluster == node.cluster and other is not node and other.pod_subnet6 is not None
            ]
    for pod in layout.pods:
        if pod.ip6 is None or pod.gateway6 is None:
            continue
        node = layout.node(pod.cluster, pod.node)
        assert node.pod_subnet6 is not None
        cmds += [
            _addr6(pod.ns, pod.ip6, node.pod_subnet6.prefixlen, "eth0"),
            ("ip", "-n", pod.ns, "-6", "route", "add", "default", "via", str(pod.gateway6)),
        ]
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
        if here.link_ip6 is not None and there.link_ip6 is not None:  # both clusters have IPv6
            cmds += [
                _addr6(here.ns, here.link_ip6, LINK_NET6.prefixlen, "link0"),
                ("ip", "-n", here.ns, "-6", "route", "add", str(there.pod_subnet6), "via", str(there.link_ip6)),
                ("ip", "-n", here.ns, "-6", "route", "add", str(there.node_net6), "via", str(there.link_ip6)),
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
