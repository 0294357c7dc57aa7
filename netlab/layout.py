"""The lab's topology as data: namespaces, addresses, links and routes (pure).

Kubernetes shapes are mimicked where they matter to the six paths:
- each node is a namespace with a bridge (`cbr0`) holding the node's /24 of the pod subnet,
  and each pod the lab runs a namespace of its own with a veth on that bridge and its own
  address in that /24, as a CNI gives it (same-node traffic stays on the node): every server
  Pod, every log viewer Pod, and every Job, whose pods (one at a time: a retry follows a
  deleted pod, whose processes the kubelet has killed and checks are gone) use the Job's
  namespace in turn. Per Job, not per workload: an E2SAR pair's receiver and sender Jobs may
  belong to one workload (`allow_same_node`) and run at the same time;
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
- a workload's `egress_rate` is a tbf on each of its pods' own veth end (what the pod sends),
  its `ingress_rate` a tbf on the node's end (what the pod receives), as the CNI bandwidth
  plugin shapes every pod that carries the workload's annotations.
Which pods there are follows from the plan alone, named as `manifests.render()` names them
(tests hold the two to the same set), so that the pod IPs can be given to render().
No namespace has a link to the machine's own namespace: nothing the lab sends leaves it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from manifests import clients, e2sar
from manifests.scene import Scene
from manifests.testbed import server_name, viewer_name
from spec.model import Family, Stack, is_host_workload, rate_bits_per_s
from spec.plan import Plan

NODE_NET = ipaddress.IPv4Network("172.30.0.0/16")  # lab-internal: cluster i's nodes on 172.30.i.0/24
LINK_NET = ipaddress.IPv4Network("172.31.255.0/30")  # lab-internal: the inter-cluster link
NODE_NET6 = ipaddress.IPv6Network("fd00:ac1e::/48")  # lab-internal (ULA): cluster i's nodes on fd00:ac1e:0:i::/64
LINK_NET6 = ipaddress.IPv6Network("fd00:ac1f::/64")  # lab-internal (ULA): the inter-cluster link
TBF_BURST = "512kb"
TBF_LATENCY = "50ms"

Command = tuple[str, ...]


@dataclass(frozen=True)
class Pod:
    """A pod's network namespace: a Pod's, or a Job's (its pods in turn), named as the object is."""

    name: str
    workload: str | None  # None: a pod of no workload (a log viewer)
    cluster: str
    node: str
    ns: str
    ip: ipaddress.IPv4Address
    gateway: ipaddress.IPv4Address
    vip: ipaddress.IPv4Address | None  # a server Pod's: its workload's ClusterIP, where a case targets it
    host_veth: str  # the node's end of the pod's veth, on the node's bridge (the pod's end is eth0)
    namespace: str  # the Kubernetes namespace of its object: the pods', or the host baseline's
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

    def pod(self, name: str, cluster: str | None = None, namespace: str | None = None) -> Pod:
        """The namespace of the Pod or Job named `name` (in `cluster` and Kubernetes `namespace`, where names
        repeat: each node's log viewer is named after the node, in the pods' and the host baseline's namespace)."""
        found = [
            p for p in self.pods if p.name == name and cluster in (None, p.cluster) and namespace in (None, p.namespace)
        ]
        if len(found) != 1:
            where = f" in cluster {cluster}" if cluster else ""
            where += f" in namespace {namespace}" if namespace else ""
            raise KeyError(f"{len(found)} lab pods named {name!r}{where}, not one")
        return found[0]

    def server(self, workload: str) -> Pod:
        """A workload's server Pod: what its clients reach by pod IP, and its VIP's endpoint."""
        return self.pod(server_name(workload))

    def client(self, workload: str) -> Pod:
        """The namespace of a workload's client Job."""
        return self.pod(clients.job_name(workload))

    def node(self, cluster: str, name: str) -> NodeNs:
        return next(n for n in self.nodes if n.cluster == cluster and n.name == name)


@dataclass(frozen=True)
class Slot:
    """A pod to lay out: its object's name, its workload (None for a log viewer), where it runs."""

    name: str
    workload: str | None
    cluster: str
    node: str
    namespace: str  # the Kubernetes namespace: the pods', or the host baseline's


def pod_slots(stack: Stack, plan: Plan) -> list[Slot]:
    """Every Pod and Job `manifests.render()` makes for the plan, in a fixed order: the server Pods,
    the client Jobs, the E2SAR Jobs (receiver, sender), the log viewer Pods."""
    out: list[Slot] = []

    scene = Scene(stack, plan, stack.kubernetes)

    def of(name: str, workload: str) -> Slot:
        cluster, node = stack.node_of(workload)
        return Slot(name, workload, cluster.name, node.name, scene.namespace_of(workload))

    out += [of(server_name(w), w) for w in plan.servers()]
    out += [of(clients.job_name(w), w) for w in plan.clients()]
    for case in plan.e2sar:
        out += [of(e2sar.job_name(case, role), e2sar.workload_of(case, role)) for role in e2sar.ROLES]
    out += [
        Slot(viewer_name(node), None, cluster.name, node, scene.host_namespace if host else scene.namespace)
        for host in (False, True)
        for cluster in stack.clusters
        for node in scene.client_nodes(cluster.name, host=host)
    ]
    return out


def build_layout(stack: Stack, plan: Plan, prefix: str) -> Layout:
    """Namespaces and addresses for every pod the plan makes, on the nodes they sit on.

    A node's pods take its /24 from .2 up (.1 is the node's bridge), in `pod_slots` order: the
    same plan always gives the same addresses, and no two pods of a node share one."""
    vip_targets = {c.target.workload for c in plan.cases if c.target.address == "vip"}
    link_hosts, link_hosts6 = list(LINK_NET.hosts()), [LINK_NET6.network_address + 1, LINK_NET6.network_address + 2]
    clusters: list[ClusterNet] = []
    nodes: list[NodeNs] = []
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
    on_node: dict[tuple[str, str], int] = {}
    pods: list[Pod] = []
    for slot in pod_slots(stack, plan):
        cluster = stack.cluster(slot.cluster)
        on = next(n for n in nodes if (n.cluster, n.name) == (slot.cluster, slot.node))
        if slot.workload is not None and is_host_workload(slot.workload):
            # `hostNetwork: true`: the node's own namespace and addresses, nothing of its own to build.
            pods.append(
                Pod(
                    name=slot.name,
                    workload=slot.workload,
                    cluster=slot.cluster,
                    node=slot.node,
                    ns=on.ns,
                    ip=on.ip,
                    gateway=on.ip,
                    vip=None,
                    host_veth="",
                    namespace=slot.namespace,
                    host_network=True,
                    families=cluster.families,
                    ip6=on.ip6,
                )
            )
            continue
        subnet = cluster.node_pod_subnet(slot.node)
        on_node[slot.cluster, slot.node] = n = on_node.get((slot.cluster, slot.node), 0) + 1
        if n > subnet.num_addresses - 3:
            raise ValueError(f"node {slot.cluster}/{slot.node}: more pods than its pod /24 {subnet} holds")
        workload = stack.workloads[slot.workload] if slot.workload else None
        v6 = "ipv6" in cluster.families
        vip = vip6 = None
        if slot.workload in vip_targets and slot.name == server_name(slot.workload):
            index = [w for w in plan.servers() if stack.workload(w).cluster == slot.cluster].index(slot.workload)
            vip = cluster.service_subnet.network_address + 10 + index
            vip6 = cluster.service_subnet_v6.network_address + 10 + index if v6 else None
        subnet6 = cluster.node_pod_subnet_v6(slot.node)
        host_ns = slot.namespace != stack.kubernetes.namespace  # a pod of the host baseline's namespace
        pods.append(
            Pod(
                name=slot.name,
                workload=slot.workload,
                cluster=slot.cluster,
                node=slot.node,
                ns=f"{prefix}-{slot.cluster}-{'host-' if host_ns else ''}{slot.name}",
                ip=subnet.network_address + 1 + n,
                gateway=subnet.network_address + 1,
                vip=vip,
                host_veth=f"p{sum(not p.host_network for p in pods)}",
                egress_rate=workload.egress_rate if workload else None,
                ingress_rate=workload.ingress_rate if workload else None,
                namespace=slot.namespace,
                families=cluster.families,
                ip6=subnet6.network_address + 1 + n if v6 else None,
                gateway6=subnet6.network_address + 1 if v6 else None,
                vip6=vip6,
            )
        )
    namespaces = tuple([c.ns for c in clusters] + [n.ns for n in nodes] + [p.ns for p in pods if not p.host_network])
    if len(set(namespaces)) != len(namespaces):
        raise ValueError(f"two lab namespaces share a name: {sorted(namespaces)}")
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
        if pod.host_network or pod.ip6 is None or pod.gateway6 is None:
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

    Both ends of the link, when the stack gives it a rate; for every pod of a workload, the pod's
    own veth end for the workload's `egress_rate`, the node's end for its `ingress_rate`.
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
            what = f"{pod.workload} egress_rate {pod.egress_rate} ({pod.name})"
            out.append((what, tbf_command(pod.ns, "eth0", pod.egress_rate)))
        if pod.ingress_rate is not None:
            out.append(
                (
                    f"{pod.workload} ingress_rate {pod.ingress_rate} ({pod.name})",
                    tbf_command(node.ns, pod.host_veth, pod.ingress_rate),
                )
            )
    return out
