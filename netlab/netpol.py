"""NetworkPolicies as kube-network-policies enforces them on kind >= 0.24, written as iptables (pure).

Read from kubernetes-sigs/kube-network-policies: v0.5.1 is what kind v0.24.0's kindnetd pins
(images/kindnetd/go.mod), later kinds pin later versions with the same evaluation:
- pkg/networkpolicy/controller.go (v0.5.1; pkg/dataplane/controller.go today),
  `syncNFTablesRules`: one filter chain on the POSTROUTING hook at priority srcnat-5 in the
  node's own namespace, so after kube-proxy's DNAT and before any SNAT, holding
  for IPv6 first `icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept` (neighbor
  discovery), then `meta skuid 0 accept` (what root on the node sends: the kubelet's probes, issue #65),
  `ct state established,related accept`, then `ip saddr @podips queue` and
  `ip daddr @podips queue`, where podips are the node's pods that some policy selects;
- pkg/networkpolicy/engine.go `EvaluatePacket` (v0.5.1: controller.go `evaluatePacket`):
  a queued packet passes when the egress policies of its source pod AND the ingress
  policies of its destination pod admit it; both pods are looked up by IP among all the
  cluster's pods, an address that is no pod (another cluster's, a node's) is no pod;
- pkg/networkpolicy/networkpolicy.go: `getNetworkPoliciesForPod` (a policy applies when its
  podSelector selects the pod in the policy's namespace), `EvaluatePolicyDirection` (a pod
  selected by any policy of a type is denied in that direction unless one rule of one of
  those policies admits the packet; a policy of that type with no rules admits nothing),
  `evaluateIngress`/`evaluateEgress` (a rule admits when its ports match and its peers are
  empty or one peer matches), `evaluateSelectors` (podSelector alone: the policy's
  namespace; namespaceSelector alone: every pod of the selected namespaces; both: pods
  matching both), `evaluateIPBlocks` (inside `cidr`, outside every `except`),
  `evaluatePorts` (protocol must match, TCP when unset; no port: every port of it; a number,
  or number..endPort; a name, looked up in the container ports of the pod the packet goes
  to: the selected pod for ingress, the destination pod for egress).

IPv6 is judged the same way, in ip6tables from the cluster's IPv6 state: the engine looks pods
up by IP of either family, and an ipBlock of the other family matches no packet of this one.

Here each node's mangle POSTROUTING (after DNAT, before SNAT, as the engine's hook) holds the
same order: root's own packets and established/related packets accepted, then every packet
from or to a policy-selected pod of the node judged by rules compiled from the policies.
Peers chosen by selectors become the /32s of the pods they select; ipBlocks stay CIDRs. A
denied packet ends on a counted DROP whose comment names the pod, the direction and the
policies that isolate it; just before, its flow (source, protocol and port, destination) is recorded
with a packet counter in an ipset of the node (`DROP_SETS`): `policy_drops` reads those back, so
that a failed case is named by the drops of its own flows, not of whichever case ran beside it.

What differs, and why: the engine gives its verdict in userspace (NFQUEUE) for every packet
that is not established or related; the lab decides the same question in the kernel. For
TCP and request/response traffic that is the first packet only. One-way UDP (E2SAR) never
becomes established, so on kind every datagram of a policy-selected pod crosses the queue
(1024 packets deep; kindnet runs it fail-open, so an overflow passes unjudged) and the
loss figures partly measure that queue; in the lab they do not. Not reproduced either:
- later versions accept established packets only of connections the queue itself accepted
  (a conntrack label), flush the conntrack entries a changed policy no longer admits, add an
  INPUT chain for pod-to-node traffic and let UDP port 53 pass unjudged: the same verdicts for
  the lab's traffic, whose policies do not change while a flow runs;
- AdminNetworkPolicy and BaselineAdminNetworkPolicy, SCTP (written, never sent here).
Each pod the lab runs has its own address (netlab/layout.py), so a policy that selects a pod
applies to that pod's address alone, as on a cluster.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from netlab.cluster_state import VERSIONS, ClusterState, Endpoint, IpAddress, IpNetwork, Obj, host_cidr
from netlab.iptables import Fragment, comment
from netlab.selectors import is_empty, selects

Direction = Literal["ingress", "egress"]
ENTRY = "KNP-POSTROUTING"
VERDICT = "KNP-VERDICT"
MATCHED = "0x10000/0x10000"  # set by an ipBlock sub-chain when the address is outside every except
DROP_TAG = "knp-drop"
# The ipsets (hash:ip,port,ip: source, protocol:port, destination) of the flows each direction's
# DROPs denied, per family: lab instrumentation, not the engine's.
DROP_SETS: dict[tuple[Direction, int], str] = {
    ("ingress", 4): "knp-drops-in4",
    ("egress", 4): "knp-drops-eg4",
    ("ingress", 6): "knp-drops-in6",
    ("egress", 6): "knp-drops-eg6",
}


@dataclass(frozen=True)
class PortMatch:
    protocol: str  # tcp, udp, sctp
    first: int | None = None  # None: every port of the protocol
    last: int | None = None


@dataclass(frozen=True)
class Peer:
    cidr: IpNetwork
    excepts: tuple[IpNetwork, ...] = ()


@dataclass(frozen=True)
class Allow:
    """One way through: any of `peers` (None: any address) on any of `ports` (None: any port)."""

    policy: str
    peers: tuple[Peer, ...] | None
    ports: tuple[PortMatch, ...] | None


@dataclass(frozen=True)
class Isolation:
    """A pod that policies isolate in one direction, and what they admit."""

    endpoint: Endpoint
    direction: Direction
    policies: tuple[str, ...]
    allows: tuple[Allow, ...]


def policy_types(policy: Obj) -> list[str]:
    """`spec.policyTypes` as the API server defaults it: Ingress, plus Egress when egress rules are given."""
    spec = policy.get("spec", {})
    types = spec.get("policyTypes")
    if types:
        return list(types)
    return ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _name(policy: Obj) -> str:
    return f"{policy['metadata'].get('namespace', 'default')}/{policy['metadata']['name']}"


def policies_for(state: ClusterState, endpoint: Endpoint, direction: Direction) -> list[Obj]:
    """The policies of this direction whose podSelector selects a pod at the endpoint."""
    kind = "Ingress" if direction == "ingress" else "Egress"
    return [
        p
        for p in state.policies
        if kind in policy_types(p)
        and any(
            pod.namespace == p["metadata"].get("namespace", "default") and selects(p["spec"]["podSelector"], pod.labels)
            for pod in endpoint.pods
        )
    ]


def peer_selects(state: ClusterState, peer: Obj, policy_ns: str, endpoint: Endpoint) -> bool:
    """`evaluateSelectors` for a pod peer (the peer has a podSelector or a namespaceSelector)."""
    pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
    for pod in endpoint.pods:
        if pod_sel is not None and not selects(pod_sel, pod.labels):
            continue
        if ns_sel is None:
            if pod.namespace == policy_ns:
                return True
            continue
        if is_empty(ns_sel) or selects(ns_sel, state.namespace_labels.get(pod.namespace, {})):
            return True
    return False


def _in_block(block: Obj, ip: IpAddress) -> bool:
    """Inside `cidr`, outside every `except` (an address never lies in a block of the other family)."""
    return ip in ipaddress.ip_network(block["cidr"]) and not any(
        ip in ipaddress.ip_network(e) for e in block.get("except") or []
    )


def _peers(state: ClusterState, peers: list[Obj], policy_ns: str) -> tuple[Peer, ...]:
    out: list[Peer] = []
    for peer in peers:
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            cidr = ipaddress.ip_network(block["cidr"])
            if cidr.version != VERSIONS[state.family]:
                continue  # this family's packets never match it: no rule in this family's table
            excepts = tuple(ipaddress.ip_network(e) for e in block.get("except") or [])
            out.append(Peer(cidr, excepts))
        elif peer.get("podSelector") is not None or peer.get("namespaceSelector") is not None:
            out += [
                Peer(ipaddress.ip_network(host_cidr(ep.ip)))
                for ep in state.endpoints
                if peer_selects(state, peer, policy_ns, ep)
            ]
    return tuple(dict.fromkeys(out))


def _peer_matches(state: ClusterState, peers: list[Obj], policy_ns: str, endpoint: Endpoint) -> bool:
    if not peers:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            if _in_block(peer["ipBlock"], endpoint.ip):
                return True
        elif peer_selects(state, peer, policy_ns, endpoint):
            return True
    return False


def _numbered(port: Obj) -> PortMatch | None:
    protocol = str(port.get("protocol", "TCP")).lower()
    number = port.get("port")
    if number is None:
        return PortMatch(protocol)
    if isinstance(number, str) and not number.isdigit():
        return None
    return PortMatch(protocol, int(number), int(port.get("endPort", number)))


def _named(endpoint: Endpoint, port: Obj) -> PortMatch | None:
    """A named port as `evaluatePorts` resolves it against a pod's containers (name and protocol)."""
    protocol = str(port.get("protocol", "TCP"))
    number = next((cp.port for cp in endpoint.ports if cp.name == port["port"] and cp.protocol == protocol), None)
    return None if number is None else PortMatch(protocol.lower(), number, number)


def _rule_allows(state: ClusterState, policy: Obj, rule: Obj, endpoint: Endpoint, direction: Direction) -> list[Allow]:
    name, ns = _name(policy), policy["metadata"].get("namespace", "default")
    peers_spec: list[Obj] = rule.get("from" if direction == "ingress" else "to") or []
    ports_spec: list[Obj] = rule.get("ports") or []
    peers = _peers(state, peers_spec, ns) if peers_spec else None
    if not ports_spec:
        return [Allow(name, peers, None)]
    numbered = [m for p in ports_spec if (m := _numbered(p)) is not None]
    named = [p for p in ports_spec if _numbered(p) is None]
    out = [Allow(name, peers, tuple(numbered))] if numbered else []
    if direction == "ingress":
        resolved = [m for p in named if (m := _named(endpoint, p)) is not None]
        if resolved:
            out.append(Allow(name, peers, tuple(resolved)))
        return out
    # Egress: a name is looked up in the destination pod, so each pod the peers admit gets its own number.
    for dest in state.endpoints:
        resolved = [m for p in named if (m := _named(dest, p)) is not None]
        if resolved and _peer_matches(state, peers_spec, ns, dest):
            out.append(Allow(name, (Peer(ipaddress.ip_network(host_cidr(dest.ip))),), tuple(resolved)))
    return out


def isolation(state: ClusterState, endpoint: Endpoint, direction: Direction) -> Isolation | None:
    """What the policies of one direction admit for a pod; None when no policy of it selects the pod."""
    policies = policies_for(state, endpoint, direction)
    if not policies:
        return None
    allows: list[Allow] = []
    for policy in policies:
        for rule in policy["spec"].get(direction) or []:
            allows += _rule_allows(state, policy, rule, endpoint, direction)
    return Isolation(endpoint, direction, tuple(_name(p) for p in policies), tuple(allows))


def isolations(state: ClusterState) -> list[Isolation]:
    """Everything the nodes judge, in the order they judge it: the egress of each pod, then the ingress."""
    egress = [iso for ep in state.endpoints if (iso := isolation(state, ep, "egress")) is not None]
    ingress = [iso for ep in state.endpoints if (iso := isolation(state, ep, "ingress")) is not None]
    return egress + ingress


# -- iptables --------------------------------------------------------------------------
def _port_args(port: PortMatch | None) -> str:
    if port is None:
        return ""
    if port.first is None:
        return f"-p {port.protocol}"
    span = str(port.first) if port.last in (None, port.first) else f"{port.first}:{port.last}"
    return f"-p {port.protocol} -m {port.protocol} --dport {span}"


def chained(state: ClusterState) -> list[tuple[str, Isolation]]:
    """Each judged isolation with its chain's name: the same on every node of the cluster."""
    return [(f"KNP-{'E' if iso.direction == 'egress' else 'I'}-{i}", iso) for i, iso in enumerate(isolations(state))]


def _isolation_rules(iso: Isolation, chain: str) -> tuple[list[str], list[str]]:
    """Chains and rules of one isolated pod's direction: RETURN when admitted, a counted DROP otherwise."""
    side = "-d" if iso.direction == "egress" else "-s"
    chains, rules = [chain], []
    uses_mark = False
    for allow in iso.allows:
        # None admits any port or peer; an empty tuple (selectors that select no pod) admits nothing.
        for port in (None,) if allow.ports is None else allow.ports:
            for peer in (None,) if allow.peers is None else allow.peers:
                where = f"{side} {peer.cidr}" if peer else ""
                match = " ".join(a for a in (where, _port_args(port), comment(allow.policy)) if a)
                if peer is None or not peer.excepts:
                    rules.append(f"-A {chain} {match} -j RETURN")
                    continue
                sub = f"{chain}-{len(chains)}"
                chains.append(sub)
                uses_mark = True
                rules.append(f"-A {chain} {match} -j {sub}")
                rules.append(f"-A {chain} -m mark --mark {MATCHED} -j RETURN")
                rules += [f"-A {sub} {side} {e} {comment(f'{allow.policy} except')} -j RETURN" for e in peer.excepts]
                rules.append(f"-A {sub} -j MARK --set-xmark {MATCHED}")
    if uses_mark:
        rules.insert(0, f"-A {chain} -j MARK --set-xmark 0x0/{MATCHED.split('/')[1]}")
    flows = DROP_SETS[iso.direction, iso.endpoint.ip.version]
    # A flow's first packet is counted by its adding (the set has counters), the next ones by the match.
    rules.append(f"-A {chain} -m set --match-set {flows} src,dst,dst")
    rules.append(f"-A {chain} -j SET --add-set {flows} src,dst,dst")
    rules.append(f"-A {chain} {comment(f'{DROP_TAG} {iso.direction} {iso.endpoint.name}')} -j DROP")
    return chains, rules


def policy_mangle(state: ClusterState, node: str) -> Fragment:
    """The mangle rules that enforce the cluster's policies on one node."""
    managed = sorted({iso.endpoint.ip for iso in isolations(state) if iso.endpoint.node == node})
    chains = [ENTRY, VERDICT]
    rules = [f"-A POSTROUTING {comment('kube-network-policies: after DNAT, before SNAT')} -j {ENTRY}"]
    if (
        state.family == "ipv6"
    ):  # the engine's first rule: `icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept`
        rules += [
            f"-A {ENTRY} -p ipv6-icmp -m icmp6 --icmpv6-type {kind} {comment('IPv6 neighbor discovery')} -j ACCEPT"
            for kind in ("neighbour-solicitation", "neighbour-advertisement")
        ]
    rules += [
        f"-A {ENTRY} -m owner --uid-owner 0 {comment('meta skuid 0 accept: the node root, kubelet probes')} -j ACCEPT",
        f"-A {ENTRY} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]
    for ip in managed:
        rules += [f"-A {ENTRY} -s {host_cidr(ip)} -j {VERDICT}", f"-A {ENTRY} -d {host_cidr(ip)} -j {VERDICT}"]
    body: list[str] = []
    for chain, iso in chained(state):
        side = "-s" if iso.direction == "egress" else "-d"
        rules.append(f"-A {VERDICT} {side} {host_cidr(iso.endpoint.ip)} -j {chain}")
        more_chains, more_rules = _isolation_rules(iso, chain)
        chains += more_chains
        body += more_rules
    rules.append(f"-A {VERDICT} -j ACCEPT")
    return Fragment("mangle", tuple(chains), tuple(rules + body))


# -- reading the drops back ------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Flow:
    """A denied flow as a drop set records it: after DNAT, before SNAT; `port` is the destination's
    (ICMP's type/code)."""

    src: str
    protocol: str
    port: str
    dst: str


DropCounts = dict[tuple[str, Flow], int]  # (drop set, flow) -> packets


@dataclass(frozen=True)
class PolicyDrop:
    isolation: Isolation
    flows: tuple[tuple[Flow, int], ...]  # each denied flow with its packets

    @property
    def packets(self) -> int:
        return sum(n for _, n in self.flows)

    def only(self, keep: Callable[[Flow], bool]) -> PolicyDrop | None:
        """The drops of the flows `keep` admits; None when there is none."""
        flows = tuple((f, n) for f, n in self.flows if keep(f))
        return PolicyDrop(self.isolation, flows) if flows else None

    def __str__(self) -> str:
        iso = self.isolation
        towards = "leaving" if iso.direction == "egress" else "reaching"
        peer = "to" if iso.direction == "egress" else "from"
        seen = dict.fromkeys(
            f"{f.protocol}/{f.port} {peer} {f.dst if iso.direction == 'egress' else f.src}" for f, _ in self.flows
        )
        return (
            f"NetworkPolicy denied {self.packets} packet(s) {towards} {iso.endpoint.name} ({iso.endpoint.ip}), "
            f"{', '.join(seen)}: no rule of {', '.join(iso.policies)} admits them"
        )


def drop_sets_restore(versions: Iterable[int]) -> str:
    """`ipset -exist restore` input: the drop sets of the IP versions, made when missing, emptied."""
    lines = []
    for (_, version), name in DROP_SETS.items():
        if version in versions:
            family = "inet" if version == 4 else "inet6"
            lines += [f"create {name} hash:ip,port,ip family {family} counters", f"flush {name}"]
    return "\n".join(lines) + "\n"


FLOW_LINE = re.compile(
    r"^add (?P<set>knp-drops-\S+) (?P<src>[^,\s]+),(?P<protocol>[a-z0-9-]+):(?P<port>[^,\s]+),(?P<dst>[^,\s]+)"
    r" packets (?P<packets>\d+)"
)


def drop_counts(saved: Iterable[str]) -> DropCounts:
    """(drop set, flow) -> packets its DROPs denied, summed over the nodes' `ipset save` outputs."""
    totals: DropCounts = {}
    for text in saved:
        for line in text.splitlines():
            if m := FLOW_LINE.match(line):
                key = (m["set"], Flow(m["src"], m["protocol"], m["port"], m["dst"]))
                totals[key] = totals.get(key, 0) + int(m["packets"])
    return totals


def policy_drops(state: ClusterState, after: DropCounts, before: DropCounts | None = None) -> list[PolicyDrop]:
    """Which pod, direction and policies denied which flows between two readings of one cluster's sets."""
    before = before or {}
    out = []
    for _, iso in chained(state):
        name = DROP_SETS[iso.direction, VERSIONS[state.family]]
        ip = str(iso.endpoint.ip)
        grown = [
            (flow, n - before.get((s, flow), 0))
            for (s, flow), n in sorted(after.items())
            if s == name and (flow.dst if iso.direction == "ingress" else flow.src) == ip
        ]
        flows = tuple((f, n) for f, n in grown if n > 0)
        if flows:
            out.append(PolicyDrop(iso, flows))
    return out
