"""The stack model: what a stack file's `meshperf:` config keys declare, validated.

Every check that can be made without a cluster is made here, so that a bad stack fails
with one line naming its key path before any resource or namespace exists.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import warnings
from enum import IntEnum
from typing import Annotated, ClassVar, Literal, TypeVar

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator

from spec.base import NAME_RE, Bool, Float, Int, Name, Strict, refuse_bool, schema_also, shown
from spec.e2sar import E2sarSuite
from spec.kubernetes import ClusterSettings, KubernetesSettings

RATE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmg]?)(bit|bps)?$", re.IGNORECASE)
MSS_MIN, MSS_MAX = 88, 9000
# The least rate a stack may give a link, a workload or iperf3's UDP: the lab's tbf lets a 512 KB
# burst through at once (netlab.layout.TBF_BURST, 4.2 Mbit), so below about 1 Mbit/s a 10 s case
# would mostly measure the burst, not the rate (Kubernetes' bandwidth plugin stops at 1 kbit).
RATE_MIN, RATE_MIN_BITS = "1mbit", 10**6
# IPv6: each node takes a /64 of the pod subnet (kube-controller-manager's
# --node-cidr-mask-size-ipv6 default), which may be at most 16 bits longer than the subnet's;
# a Service range of IPv6 may hold at most 2^20 addresses (kube-apiserver: a mask of /108 or longer).
NODE_PREFIX_V6, NODE_BITS_MAX_V6, SERVICE_PREFIX_MIN_V6 = 64, 16, 108
UDP_LENGTH_MIN, UDP_LENGTH_MAX = 16, 65507


# A cluster's address families, as kind's `networking.ipFamily` names them; dual is IPv4 first.
IpFamily = Literal["ipv4", "ipv6", "dual"]
Family = Literal["ipv4", "ipv6"]
FAMILIES: dict[IpFamily, tuple[Family, ...]] = {"ipv4": ("ipv4",), "ipv6": ("ipv6",), "dual": ("ipv4", "ipv6")}


class NetPath(IntEnum):
    """The seed's six network paths, then the host-network baselines (7-9: node to node, no CNI)."""

    SAME_NODE_POD = 1
    SAME_NODE_VIP = 2
    REMOTE_NODE_POD = 3
    REMOTE_NODE_VIP = 4
    HAIRPIN = 5
    REMOTE_CLUSTER_POD = 6
    HOST_SAME = 7
    HOST_REMOTE = 8
    HOST_REMOTE_CLUSTER = 9


# A path as a stack names it: its number (`true` is no path, though pydantic would read it as 1).
PathNumber = Annotated[NetPath, refuse_bool("a path number")]

POD_PATHS: tuple[NetPath, ...] = tuple(p for p in NetPath if p <= NetPath.REMOTE_CLUSTER_POD)
HOST_PATHS: tuple[NetPath, ...] = (NetPath.HOST_SAME, NetPath.HOST_REMOTE, NetPath.HOST_REMOTE_CLUSTER)
HOST_PATH_NAMES: dict[NetPath, str] = {
    NetPath.HOST_SAME: "host-same",
    NetPath.HOST_REMOTE: "host-remote",
    NetPath.HOST_REMOTE_CLUSTER: "host-remote-cluster",
}
# Each pod path's host-network baseline: the same nodes with no CNI between them. Paths that stay
# on one node (1, 2, the hairpin 5) -> node to itself; across nodes (3, 4) -> node to node; across
# clusters (6) -> node to node across the clusters. pod/host of a figure is the CNI's overhead.
HOST_BASELINE: dict[NetPath, NetPath] = {
    NetPath.SAME_NODE_POD: NetPath.HOST_SAME,
    NetPath.SAME_NODE_VIP: NetPath.HOST_SAME,
    NetPath.HAIRPIN: NetPath.HOST_SAME,
    NetPath.REMOTE_NODE_POD: NetPath.HOST_REMOTE,
    NetPath.REMOTE_NODE_VIP: NetPath.HOST_REMOTE,
    NetPath.REMOTE_CLUSTER_POD: NetPath.HOST_REMOTE_CLUSTER,
}
# A host path runs between the host-network twins of the pod path's ends (`host_workload`):
# host-same between w1's and w2's (one node), host-remote w3's -> w2's, host-remote-cluster w1's -> w4's.
HOST_PATH_OF: dict[NetPath, NetPath] = {
    NetPath.HOST_SAME: NetPath.SAME_NODE_POD,
    NetPath.HOST_REMOTE: NetPath.REMOTE_NODE_POD,
    NetPath.HOST_REMOTE_CLUSTER: NetPath.REMOTE_CLUSTER_POD,
}
HOST_SUFFIX = "-host"


def host_workload(workload: str) -> str:
    """The name of a workload's host-network twin: a pod with `hostNetwork: true` on the same node."""
    return f"{workload}{HOST_SUFFIX}"


def is_host_workload(name: str) -> bool:
    return name.endswith(HOST_SUFFIX)


# netperf's tools are named after its tests (as k8s-netperf and `cilium connectivity perf`
# name theirs); iperf3 has no named tests, so its two keep the tool's name and the protocol.
Tool = Literal["iperf3_tcp", "iperf3_udp", "tcp_stream", "tcp_rr", "tcp_crr", "udp_rr", "udp_stream"]
ALL_TOOLS: tuple[Tool, ...] = ("iperf3_tcp", "iperf3_udp", "tcp_stream", "tcp_rr", "tcp_crr", "udp_rr", "udp_stream")
# The default matrix: the seed's tools and TCP_RR. TCP_CRR, UDP_RR and UDP_STREAM are opt-in
# (`tools:`), since each adds a case of `duration_s` per path to the run.
DEFAULT_TOOLS: tuple[Tool, ...] = ("iperf3_tcp", "iperf3_udp", "tcp_stream", "tcp_rr")
NETPERF_TESTS: dict[Tool, str] = {
    "tcp_stream": "TCP_STREAM",
    "tcp_rr": "TCP_RR",
    "tcp_crr": "TCP_CRR",
    "udp_rr": "UDP_RR",
    "udp_stream": "UDP_STREAM",
}
# Parallel iperf3 streams of the extra headline cases (see NetperfSuite); 1 runs none. Chosen
# from the lab's unshaped paths with 1, 4 and 8 streams (bench/streams/RESULTS.md): one TCP
# stream already fills them (UDP gains from more: a stack asks for them).
DEFAULT_STREAMS = 1
RR_TOOLS: frozenset[Tool] = frozenset({"tcp_rr", "tcp_crr", "udp_rr"})
# Deprecated: the names netperf's two tools had before they took netperf's test names. Stacks,
# results.json files and saved `points` that use them still load (a stack gets a warning);
# this is the only place that knows them. Remove once no baseline carries them.
RENAMED_TOOLS: dict[str, Tool] = {"netperf_stream": "tcp_stream", "netperf_rr": "tcp_rr"}


def current_tool_name(value: object) -> object:
    """A deprecated tool name -> its current name; anything else unchanged (then validated as a Tool)."""
    return RENAMED_TOOLS.get(value, value) if isinstance(value, str) else value


ToolName = Annotated[Tool, BeforeValidator(current_tool_name)]


def rate_bits_per_s(rate: str) -> int:
    """'1gbit', '500mbit', '10g' -> bits per second, above zero.

    Bits only: tc reads `mbps` and `gbps` as bytes per second, a factor of 8 that a stack
    should never leave to chance, so the byte units are refused with the bit spelling.
    """
    m = RATE_RE.match(rate.strip())
    if not m:
        raise ValueError(f"{rate!r} is not a rate like '1gbit' or '500mbit'")
    number, prefix, unit = m.group(1), m.group(2).lower(), (m.group(3) or "").lower()
    if unit == "bps":
        raise ValueError(
            f"{rate!r} is bytes per second to tc: write '{float(number) * 8:g}{prefix}bit' "
            f"(or '{number}{prefix}bit' for bits per second)"
        )
    bits = int(float(number) * {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[prefix])
    if bits <= 0:
        raise ValueError(f"{rate!r}: a rate must be above zero (leave the key out for no limit)")
    if bits < RATE_MIN_BITS:
        raise ValueError(
            f"{rate!r} is below {RATE_MIN}, the least rate meshperf shapes to (below it the tbf's burst "
            "is most of what a 10 s case sends); leave the key out for no limit"
        )
    return bits


class Node(Strict):
    name: Name
    """The node's name, unique in its cluster."""
    role: Literal["control-plane", "worker"] = "worker"
    """The node's role, as kind names it."""
    labels: dict[str, str] = Field(default_factory=dict)
    """The node's labels: workloads are placed by them (`node_selector`)."""


class Cluster(Strict):
    name: Name
    """The cluster's name (the kind cluster's, and what workloads name in `cluster`)."""
    kubernetes_version: Annotated[str, Field(pattern=r"^v?1\.\d+(\.\d+)?$")] = "1.31"
    """Kubernetes version (`1.31`, `v1.31.0`): the kind node image, and the schema the objects are checked against."""
    pod_subnet: ipaddress.IPv4Network = ipaddress.IPv4Network("10.244.0.0/16")
    """The IPv4 pod subnet: each node takes a /24 of it, so a /22 or larger; no overlap with any other subnet of the
    stack.
    """
    service_subnet: ipaddress.IPv4Network = ipaddress.IPv4Network("10.96.0.0/16")
    """The IPv4 Service (ClusterIP) range; no overlap with any other subnet of the stack."""
    nodes: Annotated[list[Node], Field(min_length=1)]
    """The cluster's nodes, names unique."""
    kubeconfig_context: str | None = None
    """An existing cluster, reached by this kubeconfig context; without it, meshperf makes a kind cluster."""
    ip_family: IpFamily = "ipv4"
    """The address families of the cluster's pods and Services; `dual` is IPv4 first, as kind makes it."""
    pod_subnet_v6: ipaddress.IPv6Network = ipaddress.IPv6Network("fd00:10:244::/56")
    """The IPv6 pod subnet (kind's default), used only when `ip_family` is ipv6 or dual: each node takes a /64, at most
    16 bits below it.
    """
    service_subnet_v6: ipaddress.IPv6Network = ipaddress.IPv6Network("fd00:10:96::/112")
    """The IPv6 Service range (kind's default), used only when `ip_family` is ipv6 or dual: a /108 or longer."""

    @field_validator("pod_subnet")
    @classmethod
    def _room_for_nodes(cls, v: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if v.prefixlen > 22:
            raise ValueError(f"{v} is too small: each node takes a /24 of the pod subnet")
        return v

    @field_validator("pod_subnet_v6")
    @classmethod
    def _room_for_nodes_v6(cls, v: ipaddress.IPv6Network) -> ipaddress.IPv6Network:
        if v.prefixlen >= NODE_PREFIX_V6:
            raise ValueError(f"{v} is too small: each node takes a /{NODE_PREFIX_V6} of the pod subnet")
        if NODE_PREFIX_V6 - v.prefixlen > NODE_BITS_MAX_V6:
            raise ValueError(
                f"{v} is too large: Kubernetes allows at most {NODE_BITS_MAX_V6} bits between it and the "
                f"nodes' /{NODE_PREFIX_V6} (a /{NODE_PREFIX_V6 - NODE_BITS_MAX_V6} or longer)"
            )
        return v

    @field_validator("service_subnet_v6")
    @classmethod
    def _service_range_v6(cls, v: ipaddress.IPv6Network) -> ipaddress.IPv6Network:
        if v.prefixlen < SERVICE_PREFIX_MIN_V6:
            raise ValueError(f"{v} is too large: an IPv6 Service range must be a /{SERVICE_PREFIX_MIN_V6} or longer")
        return v

    @model_validator(mode="after")
    def _unique_nodes(self) -> Cluster:
        names = [n.name for n in self.nodes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"node names repeat: {', '.join(dup)}")
        if self.pod_subnet.overlaps(self.service_subnet):
            raise ValueError(f"pod_subnet {self.pod_subnet} overlaps service_subnet {self.service_subnet}")
        if len(self.nodes) > 2 ** (24 - self.pod_subnet.prefixlen):
            raise ValueError(f"pod_subnet {self.pod_subnet} has no /24 left for every node")
        if "ipv6" in self.families:
            if self.pod_subnet_v6.overlaps(self.service_subnet_v6):
                raise ValueError(
                    f"pod_subnet_v6 {self.pod_subnet_v6} overlaps service_subnet_v6 {self.service_subnet_v6}"
                )
            if len(self.nodes) > 2 ** (NODE_PREFIX_V6 - self.pod_subnet_v6.prefixlen):
                raise ValueError(f"pod_subnet_v6 {self.pod_subnet_v6} has no /{NODE_PREFIX_V6} left for every node")
        return self

    @property
    def families(self) -> tuple[Family, ...]:
        """The address families the cluster's pods and Services have, the primary one first."""
        return FAMILIES[self.ip_family]

    @property
    def version(self) -> str:
        """Kubernetes version as 'MAJOR.MINOR'."""
        return ".".join(self.kubernetes_version.lstrip("v").split(".")[:2])

    def node_pod_subnet(self, node: str) -> ipaddress.IPv4Network:
        """The /24 a node's pods get, in node order (as kindnet hands them out)."""
        index = [n.name for n in self.nodes].index(node)
        return list(self.pod_subnet.subnets(new_prefix=24))[index]

    def node_pod_subnet_v6(self, node: str) -> ipaddress.IPv6Network:
        """The /64 a node's pods get of the IPv6 pod subnet, in node order."""
        index = [n.name for n in self.nodes].index(node)
        return next(itertools.islice(self.pod_subnet_v6.subnets(new_prefix=NODE_PREFIX_V6), index, None))

    def subnets(self, family: Family) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The pod subnet and the service subnet of one family."""
        if family == "ipv6":
            return self.pod_subnet_v6, self.service_subnet_v6
        return self.pod_subnet, self.service_subnet


class Workload(Strict):
    """A test pod, placed by node labels in one cluster, optionally rate-limited.

    `egress_rate` limits what the pod sends, `ingress_rate` what it receives (tc style,
    like `Link.rate`); None leaves that direction unlimited.
    """

    cluster: Name
    """The cluster the workload's pods run in."""
    node_selector: Annotated[dict[str, str], Field(min_length=1)]
    """Node labels that place the pods: they must match exactly one node of the cluster."""
    egress_rate: str | None = None
    """Limits what the pods send (`2gbit`, `500mbit`; at least `1mbit`): the CNI bandwidth plugin's annotation on
    Kubernetes, a tbf in the lab. Unset: unlimited.
    """
    ingress_rate: str | None = None
    """Limits what the pods receive, as `egress_rate` does what they send. Unset: unlimited."""

    @field_validator("egress_rate", "ingress_rate")
    @classmethod
    def _rate(cls, v: str | None) -> str | None:
        if v is not None:
            rate_bits_per_s(v)
        return v


class Link(Strict):
    """The routed link between two clusters."""

    mtu: Annotated[Int, Field(ge=576, le=9000)] = 1500
    """The MTU of the routed link between the two clusters."""
    rate: str | None = None
    """The link's rate (`10gbit`, `500mbit`; at least `1mbit`). Unset: unshaped."""

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: str | None) -> str | None:
        if v is not None:
            rate_bits_per_s(v)
        return v


class _Sweep(Strict):
    """`{start, stop, step}`: start, start + step, ... up to stop, within the class's bounds."""

    low: ClassVar[int]
    high: ClassVar[int]
    start: Int
    """The first point."""
    stop: Int
    """The last point (reached when a step lands on it)."""
    step: Annotated[Int, Field(ge=1)] = 64
    """The distance between points."""

    @model_validator(mode="after")
    def _bounds(self) -> _Sweep:
        for key in ("start", "stop"):
            value = getattr(self, key)
            if not self.low <= value <= self.high:
                raise ValueError(f"{key} {value} is outside {self.low}..{self.high}")
        if self.stop < self.start:
            raise ValueError(f"stop {self.stop} is below start {self.start}")
        return self

    def points(self) -> list[int]:
        return list(range(self.start, self.stop + 1, self.step))


class MssSweep(_Sweep):
    """TCP MSS points (iperf3 -M): the seed's 96..1376 step 64."""

    low, high = MSS_MIN, MSS_MAX
    start: Int = 96
    """The first MSS."""
    stop: Int = 1376
    """The last MSS (reached when a step lands on it)."""


class UdpLengthSweep(_Sweep):
    """UDP datagram sizes (iperf3 -l): the seed's 96 till 1422 step 64 (its last point is 1376)."""

    low, high = UDP_LENGTH_MIN, UDP_LENGTH_MAX
    start: Int = 96
    """The first datagram size."""
    stop: Int = 1422
    """The last datagram size (reached when a step lands on it)."""


class Ports(Strict):
    iperf3: Annotated[Int, Field(ge=1, le=65535)] = 5201
    """iperf3's server port (`-p`)."""
    netperf_control: Annotated[Int, Field(ge=1, le=65535)] = 12865
    """netserver's control port."""
    netperf_data: Annotated[Int, Field(ge=1, le=65535)] = 12866
    """netperf's data port (`-P ,PORT`), fixed so that Services and NetworkPolicies can name it."""

    @model_validator(mode="after")
    def _distinct(self) -> Ports:
        values = [self.iperf3, self.netperf_control, self.netperf_data]
        if len(set(values)) != len(values):
            raise ValueError(f"ports must differ, got {values}")
        return self


class SteadyState(Strict):
    """Stop an iperf3 TCP case once its throughput has settled, instead of after a fixed time.

    iperf3 reports every `interval_s`; intervals that end before `omit_s` (slow start) are
    left out. After each interval the running mean since `omit_s` is taken; the case stops
    once it is at least `min_s` old and the running means of the intervals that ended in the
    last `window_s` lie within `tolerance_pct` of the latest one ((max - min) / latest), or
    at `max_s` whatever happens. The raw log records which of the two ended it. The defaults
    are the settings bench/matrix_time measured; on a long-RTT path, whose slow start lasts
    longer, raise `omit_s`.

    The fixed-duration tools (iperf3 UDP, netperf) run `fixed_tools_s` seconds while this is
    on (None: the suite's `duration_s`), as bench/matrix_time ran them (2 s); so removing the
    one `steady_state` key gives back the seed's method, every case `duration_s` long.
    """

    tolerance_pct: Annotated[Float, Field(gt=0, le=50)] = 3.0
    """How close, in percent of the latest, the running means of the last `window_s` must lie ((max - min) / latest)."""
    window_s: Annotated[Float, Field(gt=0, le=60)] = 0.5
    """The window of running means judged, in seconds."""
    min_s: Annotated[Float, Field(ge=0, le=3600)] = 1.0
    """The least a case runs before it may stop, in seconds."""
    max_s: Annotated[Int, Field(ge=1, le=3600)] = 10
    """The most a case runs, in seconds."""
    omit_s: Annotated[Float, Field(ge=0, le=60)] = 0.2
    """Intervals that end before this (slow start) are left out of the running mean, in seconds."""
    interval_s: Annotated[Float, Field(ge=0.1, le=10)] = 0.1
    """iperf3's report interval (`-i`), in seconds."""
    fixed_tools_s: Annotated[Int, Field(ge=1, le=3600)] | None = None
    """How long iperf3 UDP and netperf cases run meanwhile, in seconds. Unset: the suite's `duration_s`."""

    @model_validator(mode="after")
    def _order(self) -> SteadyState:
        if self.max_s < self.min_s:
            raise ValueError(f"max_s {self.max_s} is below min_s {self.min_s}")
        if self.max_s <= self.omit_s + self.window_s:
            raise ValueError(
                f"max_s {self.max_s} leaves no window after omit_s {self.omit_s} + window_s {self.window_s}"
            )
        if self.window_s < self.interval_s:
            raise ValueError(f"window_s {self.window_s} is shorter than interval_s {self.interval_s}")
        return self


SweepOrList = TypeVar("SweepOrList")


def _within(v: SweepOrList, what: str, low: int, high: int) -> SweepOrList:
    """A list of points each within low..high (a sweep checks its own bounds)."""
    if isinstance(v, list):
        bad = [n for n in v if not low <= n <= high]
        if bad:
            raise ValueError(f"{what} {bad[0]} is outside {low}..{high}")
    return v


def sweep_or_list(value: object) -> str:
    """Which shape of a sweep key to validate: only that one, so that its errors are the only ones."""
    return "sweep" if isinstance(value, dict | _Sweep) else "list"


def points_shape(value: object, key: str, one: str) -> object:
    """A sweep key's value in one of its three shapes: one point (made a list), a list, or a sweep mapping.

    Checked before pydantic tries each shape, so that a wrong one is one line in the stack's words.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list | dict | _Sweep):
        return value
    raise ValueError(
        f"{key} takes an integer ({one}), a list of integers, or {{start, stop, step}}; not {shown(value)}"
    )


class NetperfSuite(Strict):
    """The seed's netperf matrix plus request/response latency, connection rate and parallel streams.

    `streams` > 1 adds, per path, one iperf3 TCP case at the sweep's largest MSS and one iperf3
    UDP case at the largest UDP length, each with `-P streams`: the headline figure of a fast
    path, which one stream does not fill. The MSS and UDP-length sweeps stay single-stream,
    the seed's meaning.
    """

    enabled: Bool = True
    """Run the netperf matrix."""
    paths: Annotated[list[PathNumber], Field(min_length=1)] = Field(default_factory=lambda: list(POD_PATHS))
    """The pod paths to measure: 1 same node, pod IP (w1 -> w2); 2 same node, virtual IP; 3 remote node, pod IP (w3 ->
    w2); 4 remote node, virtual IP; 5 hairpin (w2 -> its own virtual IP); 6 remote cluster, pod IP (w1 -> w4).
    """
    host_baseline: Bool = False
    """The host-network baseline: for the pod paths above, their host paths (7 host-same, 8 host-remote,
    9 host-remote-cluster) with the same tools and points, so that every pod figure has a pod/host ratio.
    """
    tools: Annotated[list[ToolName], Field(min_length=1)] = Field(default_factory=lambda: list(DEFAULT_TOOLS))
    """The tools run on every path; `tcp_crr`, `udp_rr` and `udp_stream` are opt-in. The old names `netperf_stream` and
    `netperf_rr` still load, with a warning.
    """
    mss: Annotated[
        Annotated[MssSweep, Tag("sweep")] | Annotated[list[Int], Field(min_length=1), Tag("list")],
        Discriminator(sweep_or_list),
    ] = Field(MssSweep(), json_schema_extra=schema_also({"type": "integer"}))
    """TCP MSS points (iperf3 `-M`): `{start, stop, step}`, a list, or one MSS, each within 88..9000."""
    duration_s: Annotated[Int, Field(ge=1, le=3600)] = 10
    """How long each case runs (iperf3 `-t`, netperf `-l`), in seconds."""
    omit_s: Annotated[Int, Field(ge=0, le=60)] = 0
    """Seconds at the start of an iperf3 case left out of its figures (iperf3 `-O`)."""
    repeats: Annotated[Int, Field(ge=1, le=100)] = 1
    """How many times each point is measured (case ids get -r1..-rN); the results carry the spread."""
    steady_state: SteadyState | None = None
    """Stop iperf3 TCP cases once their throughput has settled. Unset: every case runs `duration_s`."""
    udp_bandwidth: str = "0"
    """iperf3 UDP's target rate (`-b`): `0` for unlimited, or a rate such as `500mbit`."""
    udp_length: Annotated[
        Annotated[UdpLengthSweep, Tag("sweep")] | Annotated[list[Int], Field(min_length=1), Tag("list")],
        Discriminator(sweep_or_list),
    ] = Field(UdpLengthSweep(), json_schema_extra=schema_also({"type": "integer"}))
    """UDP datagram sizes (iperf3 `-l`): `{start, stop, step}`, a list, or one size, each within 16..65507."""
    streams: Annotated[Int, Field(ge=1, le=128)] = DEFAULT_STREAMS
    """Parallel iperf3 streams (`-P`): above 1 adds, per path, one TCP case at the largest MSS and one UDP case at the
    largest datagram size.
    """
    ports: Ports = Ports()
    """The servers' ports, all different."""

    @field_validator("mss", mode="before")
    @classmethod
    def _one_mss(cls, v: object) -> object:
        return points_shape(v, "mss", "an MSS")

    @field_validator("mss")
    @classmethod
    def _mss_list(cls, v: MssSweep | list[int]) -> MssSweep | list[int]:
        return _within(v, "MSS", MSS_MIN, MSS_MAX)

    @field_validator("udp_length", mode="before")
    @classmethod
    def _one_length(cls, v: object) -> object:
        return points_shape(v, "udp_length", "a datagram size")

    @field_validator("udp_length")
    @classmethod
    def _length_list(cls, v: UdpLengthSweep | list[int]) -> UdpLengthSweep | list[int]:
        return _within(v, "UDP length", UDP_LENGTH_MIN, UDP_LENGTH_MAX)

    @field_validator("tools", mode="before")
    @classmethod
    def _renamed(cls, v: object) -> object:
        if isinstance(v, list):
            for old in (t for t in v if t in RENAMED_TOOLS):
                warnings.warn(f"tool {old!r} is deprecated: use {RENAMED_TOOLS[old]!r}", FutureWarning, stacklevel=2)
        return v

    @field_validator("udp_bandwidth")
    @classmethod
    def _bandwidth(cls, v: str) -> str:
        if v != "0":
            rate_bits_per_s(v)
        return v

    @field_validator("paths")
    @classmethod
    def _pod_paths(cls, v: list[NetPath]) -> list[NetPath]:
        host = [int(p) for p in v if p not in POD_PATHS]
        if host:
            raise ValueError(f"path {host[0]} is a host path: set host_baseline (paths take 1-6)")
        return v

    @field_validator("paths", "tools")
    @classmethod
    def _no_repeats(cls, v: list[object]) -> list[object]:
        if len(set(v)) != len(v):
            raise ValueError("entries repeat")
        return v

    def all_paths(self) -> list[NetPath]:
        """The pod paths, then (with `host_baseline`) the host paths they map to, in path order."""
        host = sorted({HOST_BASELINE[p] for p in self.paths}) if self.host_baseline else []
        return [*self.paths, *host]

    def mss_points(self) -> list[int]:
        return self.mss.points() if isinstance(self.mss, MssSweep) else list(self.mss)

    def udp_length_points(self) -> list[int]:
        return self.udp_length.points() if isinstance(self.udp_length, UdpLengthSweep) else list(self.udp_length)


class Suites(Strict):
    netperf: NetperfSuite = NetperfSuite()
    """The netperf matrix: the seed's paths, tools and sweeps."""
    e2sar: E2sarSuite = E2sarSuite()
    """The E2SAR perf test: a UDP sender and receiver pair per rate (off by default)."""


class Baseline(Strict):
    """A stack whose exported `points` are the reference for this one's (`regressions`)."""

    stack: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")]
    """The baseline stack: `stack`, `project/stack` or `org/project/stack` (read by StackReference)."""
    threshold_pct: Annotated[Float, Field(ge=0, le=100)] = 5.0
    """The change, in percent, below which a point is not slower."""
    confidence: Annotated[Float, Field(ge=0.5, lt=1)] = 0.95
    """The confidence level of the verdicts."""


def _default_clusters() -> list[Cluster]:
    return [
        Cluster(
            name="cluster-a",
            nodes=[
                Node(name="control-plane", role="control-plane"),
                Node(name="worker", labels={"node": "worker1"}),
                Node(name="worker2", labels={"node": "worker2"}),
            ],
        ),
        Cluster(
            name="cluster-b",
            pod_subnet=ipaddress.IPv4Network("10.245.0.0/16"),
            service_subnet=ipaddress.IPv4Network("10.97.0.0/16"),
            nodes=[
                Node(name="control-plane", role="control-plane"),
                Node(name="worker", labels={"node": "worker1"}),
            ],
        ),
    ]


def _default_workloads() -> dict[str, Workload]:
    return {
        "w1": Workload(cluster="cluster-a", node_selector={"node": "worker1"}),
        "w2": Workload(cluster="cluster-a", node_selector={"node": "worker1"}),
        "w3": Workload(cluster="cluster-a", node_selector={"node": "worker2"}),
        "w4": Workload(cluster="cluster-b", node_selector={"node": "worker1"}),
    }


# Which workloads each path needs: client, target.
PATH_ENDS: dict[NetPath, tuple[str, str]] = {
    NetPath.SAME_NODE_POD: ("w1", "w2"),
    NetPath.SAME_NODE_VIP: ("w1", "w2"),
    NetPath.REMOTE_NODE_POD: ("w3", "w2"),
    NetPath.REMOTE_NODE_VIP: ("w3", "w2"),
    NetPath.HAIRPIN: ("w2", "w2"),
    NetPath.REMOTE_CLUSTER_POD: ("w1", "w4"),
}
PATH_ENDS.update(
    {host: (host_workload(PATH_ENDS[pod][0]), host_workload(PATH_ENDS[pod][1])) for host, pod in HOST_PATH_OF.items()}
)
VIP_PATHS = frozenset({NetPath.SAME_NODE_VIP, NetPath.REMOTE_NODE_VIP, NetPath.HAIRPIN})


class Stack(Strict):
    """A whole stack: the `meshperf:` keys of a Pulumi stack file."""

    clusters: Annotated[list[Cluster], Field(min_length=1, max_length=2)] = Field(default_factory=_default_clusters)
    """One or two clusters; the default is the seed's two."""
    workloads: dict[Name, Workload] = Field(default_factory=_default_workloads)
    """The test pods by name; w1..w4 are the paths' ends (w1, w2 on one node, w3 on another, w4 in the other cluster).
    """
    link: Link = Link()
    """The routed link between the clusters; on Kubernetes only between two kind clusters on one Docker host (refused
    for existing clusters).
    """
    suites: Suites = Suites()
    """What to measure."""
    run_id: Annotated[
        str, Field(pattern=NAME_RE, max_length=20, json_schema_extra=schema_also({"type": "integer", "minimum": 0}))
    ] = "1"
    """Change it to run the suites again; text, and an unquoted number is read as its text (`7` is `"7"`)."""
    kubernetes: KubernetesSettings = KubernetesSettings()
    """The Kubernetes backend only: how the clusters are reached or made, the tool image, the logs. The lab ignores it.
    """
    baseline: Baseline | None = None
    """A stack whose exported `points` are the reference for this one's: the program then exports `regressions`."""

    @field_validator("run_id", mode="before")
    @classmethod
    def _run_id_text(cls, v: object) -> object:
        """`run_id: 7`, unquoted in a stack file, means the text "7" (the Pulumi CLI hands it over so)."""
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _consistent(self) -> Stack:
        _check_clusters(self.clusters)
        for name, workload in self.workloads.items():
            if is_host_workload(name):
                raise ValueError(f"workloads.{name}: names ending in {HOST_SUFFIX!r} are the host baseline's")
            _check_placement(self, name, workload)
        netperf = self.suites.netperf
        if netperf.enabled:
            _check_paths(self, netperf.all_paths())
        if self.suites.e2sar.enabled:
            _check_e2sar(self)
        return self

    def cluster(self, name: str) -> Cluster:
        return next(c for c in self.clusters if c.name == name)

    def workload(self, name: str) -> Workload:
        """A declared workload, or the host-network twin of one (`host_workload`): its placement, no
        rate limits (the CNI's bandwidth plugin shapes no host-network pod)."""
        if name not in self.workloads and is_host_workload(name):
            pod = self.workloads[name.removesuffix(HOST_SUFFIX)]
            return Workload(cluster=pod.cluster, node_selector=pod.node_selector)
        return self.workloads[name]

    def node_of(self, workload: str) -> tuple[Cluster, Node]:
        """The cluster and the first node whose labels carry the workload's selector."""
        w = self.workload(workload)
        cluster = self.cluster(w.cluster)
        return cluster, next(n for n in cluster.nodes if _matches(n, w.node_selector))

    def path_families(self, path: NetPath) -> tuple[Family, ...]:
        """The address families a path runs over: those both its ends' clusters have (IPv4 first)."""
        client, target = (self.cluster(self.workload(w).cluster) for w in PATH_ENDS[path])
        return tuple(f for f in client.families if f in target.families)


def _matches(node: Node, selector: dict[str, str]) -> bool:
    return all(node.labels.get(k) == v for k, v in selector.items())


def _check_clusters(clusters: list[Cluster]) -> None:
    names = [c.name for c in clusters]
    if len(set(names)) != len(names):
        raise ValueError(f"clusters: names repeat: {names}")
    keys = {"ipv4": ("pod_subnet", "service_subnet"), "ipv6": ("pod_subnet_v6", "service_subnet_v6")}
    subnets = [
        (f"{c.name}.{key}", getattr(c, key))
        for c in clusters
        for family in dict.fromkeys(("ipv4", *c.families))  # IPv4 always: the lab's pods carry it
        for key in keys[family]
    ]
    for i, (a_key, a) in enumerate(subnets):
        for b_key, b in subnets[i + 1 :]:
            if a.overlaps(b):
                raise ValueError(f"clusters: {a_key} {a} overlaps {b_key} {b}")


def _check_placement(stack: Stack, name: str, workload: Workload) -> None:
    where = f"workloads.{name}"
    if workload.cluster not in {c.name for c in stack.clusters}:
        raise ValueError(f"{where}.cluster: no cluster named {workload.cluster!r}")
    cluster = stack.cluster(workload.cluster)
    matching = [n.name for n in cluster.nodes if _matches(n, workload.node_selector)]
    if not matching:
        raise ValueError(f"{where}.node_selector: {workload.node_selector} matches no node of cluster {cluster.name!r}")
    if len(matching) > 1:
        raise ValueError(
            f"{where}.node_selector: {workload.node_selector} matches several nodes ({', '.join(matching)}); "
            "the paths need a fixed placement"
        )


def _check_paths(stack: Stack, paths: list[NetPath]) -> None:
    """Every path's ends declared and placed as the path needs; a host path as the pod path it twins."""
    for path in paths:
        for role in PATH_ENDS[HOST_PATH_OF.get(path, path)]:
            if role not in stack.workloads:
                where = "suites.netperf.host_baseline" if path in HOST_PATHS else "suites.netperf.paths"
                name = HOST_PATH_NAMES.get(path, f"path {int(path)}")
                raise ValueError(f"{where}: {name} needs workload {role!r}, which the stack does not declare")
    where = "suites.netperf.paths"
    nodes = {w: stack.node_of(w) for w in {r for p in paths for r in PATH_ENDS[p]}}

    def place(w: str) -> tuple[str, str]:
        return nodes[w][0].name, nodes[w][1].name

    if "w1" in nodes and "w3" in nodes and place("w1") == place("w3"):
        raise ValueError(f"{where}: w1 and w3 are both on {place('w1')}; the remote-node paths need them apart")
    for path in paths:
        client, target = PATH_ENDS[path]
        path = HOST_PATH_OF.get(path, path)
        if path in (NetPath.SAME_NODE_POD, NetPath.SAME_NODE_VIP) and place(client) != place(target):
            raise ValueError(
                f"{where}: path {int(path)} needs w1 and w2 on one node, got {place(client)} and {place(target)}"
            )
        if path in (NetPath.REMOTE_NODE_POD, NetPath.REMOTE_NODE_VIP):
            if place(client) == place(target):
                raise ValueError(
                    f"{where}: path {int(path)} needs w3 on another node than w2, both are on {place(client)}"
                )
            if place(client)[0] != place(target)[0]:
                raise ValueError(f"{where}: path {int(path)} needs w3 in the same cluster as w2")
        if path is NetPath.REMOTE_CLUSTER_POD and place(client)[0] == place(target)[0]:
            raise ValueError(f"{where}: path 6 needs w4 in another cluster than w1, both are in {place(client)[0]!r}")
        if not stack.path_families(path):
            a, b = (stack.cluster(place(w)[0]) for w in (client, target))
            raise ValueError(
                f"{where}: path {int(path)} joins {a.name} (ip_family {a.ip_family}) and {b.name} "
                f"(ip_family {b.ip_family}), which share no address family"
            )


def link_routed_by_meshperf(stack: Stack) -> bool:
    """Whether meshperf makes the link between the clusters, so that `link`'s MTU and rate are in force.

    On Kubernetes only two kind clusters on one Docker host are routed (and shaped) by
    meshperf; between existing clusters, or kind clusters on two hosts, the path is the
    clusters' own (their pod MTU is in force) and a non-default `link` is refused. The lab
    makes the link for every stack of two clusters.
    """
    if len(stack.clusters) != 2 or any(c.kubeconfig_context is not None for c in stack.clusters):
        return False
    default = ClusterSettings()
    hosts = {str(stack.kubernetes.clusters.get(c.name, default).host) for c in stack.clusters}
    return len(hosts) == 1


def _check_e2sar(stack: Stack) -> None:
    """The E2SAR suite against the rest of the stack: its ends exist, sit apart, and the MTU fits the path."""
    suite, where = stack.suites.e2sar, "suites.e2sar"
    for role in ("sender", "receiver"):
        name = getattr(suite, role)
        if name not in stack.workloads:
            raise ValueError(f"{where}.{role}: no workload named {name!r} (declare it under workloads)")
    (sc, sn), (rc, rn) = stack.node_of(suite.sender), stack.node_of(suite.receiver)
    for cluster in (sc, rc):
        if "ipv4" not in cluster.families:
            raise ValueError(f"{where}: E2SAR runs over IPv4 (-4, 0.0.0.0), and cluster {cluster.name} is ipv6 only")
    if (sc.name, sn.name) == (rc.name, rn.name) and not suite.allow_same_node:
        raise ValueError(
            f"{where}.receiver: sender {suite.sender} and receiver {suite.receiver} are both on "
            f"{sc.name}/{sn.name}; place them apart or set allow_same_node: true"
        )
    across_link = sc.name != rc.name and link_routed_by_meshperf(stack)
    path_mtu = min(suite.pod_mtu, stack.link.mtu) if across_link else suite.pod_mtu
    if suite.mtu > path_mtu:
        across = f"the link between {sc.name} and {rc.name}" if across_link else "the pod network"
        raise ValueError(f"{where}.mtu: {suite.mtu} is above the path's MTU {path_mtu} ({across})")
    netperf = stack.suites.netperf
    if netperf.enabled:
        first, last = suite.port_range()
        taken = {netperf.ports.iperf3, netperf.ports.netperf_control, netperf.ports.netperf_data}
        clash = sorted(p for p in taken if first <= p <= last)
        if clash:
            raise ValueError(f"{where}.port: the receiver's UDP ports {first}..{last} take netperf's port {clash[0]}")
