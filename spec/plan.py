"""The test plan: a pure function of the stack model.

A case names its target symbolically (a workload and whether its pod IP or its virtual IP
is meant); each backend supplies the address through the environment variable that
`Target.env_var` names, so that one runner script serves Kubernetes and the lab alike.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from spec.e2sar import ControlPlane, Version, rate_label
from spec.model import NETPERF_TESTS, PATH_ENDS, VIP_PATHS, Family, NetPath, NetperfSuite, Stack, SteadyState, Tool

# The seed's labels for the paths, in the words of its CSV.
PATH_LABELS: dict[NetPath, str] = {
    NetPath.SAME_NODE_POD: "Same VM using Pod IP",
    NetPath.SAME_NODE_VIP: "Same VM using Virtual IP",
    NetPath.REMOTE_NODE_POD: "Remote VM using Pod IP",
    NetPath.REMOTE_NODE_VIP: "Remote VM using Virtual IP",
    NetPath.HAIRPIN: "Hairpin Pod to own Virtual IP",
    NetPath.REMOTE_CLUSTER_POD: "Remote Cluster using Pod IP",
    NetPath.HOST_SAME: "host-same: node to itself",
    NetPath.HOST_REMOTE: "host-remote: node to node",
    NetPath.HOST_REMOTE_CLUSTER: "host-remote-cluster: node to node across clusters",
}

# netperf 2.7 ends a TCP_CRR test about 4 s after the measured time (ELAPSED_TIME stays -l;
# measured here between namespaces, with and without -P): the plan's times count it.
CRR_TAIL_S = 4

# Raw output file extension per tool: iperf3's -J JSON, netperf's text.
EXTENSIONS: dict[Tool, str] = {"iperf3_tcp": "json", "iperf3_udp": "json", **{t: "txt" for t in NETPERF_TESTS}}


def address_var(workload: str, kind: Literal["POD_IP", "VIP"], family: Family = "ipv4") -> str:
    """`MESHPERF_W1_POD_IP`, `MESHPERF_W2_HOST_POD_IP`, `MESHPERF_W2_VIP6`: a shell variable's name (no hyphen)."""
    return f"MESHPERF_{workload.upper().replace('-', '_')}_{kind}{'6' if family == 'ipv6' else ''}"


class Target(BaseModel):
    model_config = ConfigDict(frozen=True)

    workload: str
    address: Literal["pod", "vip"]
    family: Family = "ipv4"

    @property
    def env_var(self) -> str:
        """The variable a backend sets to this target's IP address (of the target's family: `..._IP6`)."""
        return address_var(self.workload, "POD_IP" if self.address == "pod" else "VIP", self.family)


class Case(BaseModel):
    """One measurement: a tool run from a client workload against a target."""

    model_config = ConfigDict(frozen=True)

    id: str
    path: NetPath
    tool: Tool
    client: str
    target: Target
    duration_s: int
    omit_s: int = 0
    mss: int | None = None
    udp_bandwidth: str | None = None
    udp_length: int | None = None
    port: int
    data_port: int | None = None
    repeat: int = 1
    steady: SteadyState | None = None
    streams: int = 1  # iperf3's parallel streams (-P)

    @property
    def family(self) -> Family:
        """The address family the case runs over: its target's."""
        return self.target.family

    @property
    def ext(self) -> str:
        # A steady-state case keeps iperf3's text output (its intervals are watched as they come).
        return "txt" if self.steady is not None else EXTENSIONS[self.tool]

    @property
    def point(self) -> tuple[NetPath, Tool, int | None, int, Family]:
        """What repeats of one measurement share: path, tool, MSS or UDP length, streams, family."""
        return self.path, self.tool, self.mss if self.mss is not None else self.udp_length, self.streams, self.family

    @property
    def planned_s(self) -> float:
        """The test's longest run: the fixed duration (TCP_CRR's with its tail), or a steady-state case's max_s."""
        if self.steady is not None:
            return self.steady.max_s
        return self.duration_s + self.omit_s + (CRR_TAIL_S if self.tool == "tcp_crr" else 0)

    @property
    def log_name(self) -> str:
        return f"{self.id}.{self.ext}"

    @property
    def time_limit_s(self) -> int:
        """How long the runner lets the case run before it is cut: the test plus slack for setup."""
        return int(self.planned_s) + 10


E2SAR_RECEIVER_VAR = "MESHPERF_E2SAR_RECEIVER_IP"
# The receiver's own address, for its URI's `data=` (every E2SAR release's reassembler refuses a
# URI without one): the backend sets it (Kubernetes and the lab: the downward API's status.podIP).
E2SAR_OWN_IP_VAR = "MESHPERF_E2SAR_POD_IP"
# The control plane's token, from a Secret (`secretKeyRef`): the scripts read it at run time.
E2SAR_TOKEN_VAR = "MESHPERF_E2SAR_TOKEN"


class E2sarCase(BaseModel):
    """One E2SAR pair at one rate: a receiver run and a sender run, each with its own log.

    The sender reads the receiver's address from `E2SAR_RECEIVER_VAR`, which the backend
    sets (the lab: the receiver pod's IP; Kubernetes: the receiver Job's pod IP once ready); the
    receiver its own from `E2SAR_OWN_IP_VAR`; both the token from `E2SAR_TOKEN_VAR`. The case
    holds no token.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    sender: str
    receiver: str
    version: Version
    image: str
    rate_gbps: float
    mtu: int
    length: int
    num_events: int
    buf_size: int
    direct_mode: bool
    duration_s: int
    port: int
    last_port: int
    threads: int
    control_plane: ControlPlane

    @property
    def receiver_id(self) -> str:
        return f"{self.id}-receiver"

    @property
    def sender_id(self) -> str:
        return f"{self.id}-sender"

    @property
    def receiver_log(self) -> str:
        return f"{self.receiver_id}.txt"

    @property
    def sender_log(self) -> str:
        return f"{self.sender_id}.txt"

    @property
    def send_s(self) -> float:
        return self.num_events * self.length * 8 / (self.rate_gbps * 1e9)

    @property
    def receiver_limit_s(self) -> int:
        """The receiver runs DURATION; past that plus slack it is cut."""
        return self.duration_s + 30

    @property
    def sender_limit_s(self) -> int:
        return int(self.send_s) + 30


def e2sar_cases(stack: Stack) -> tuple[E2sarCase, ...]:
    """One pair per rate of the E2SAR suite, in the sweep's order; none when it is off."""
    suite = stack.suites.e2sar
    if not suite.enabled:
        return ()
    first, last = suite.port_range()
    return tuple(
        E2sarCase(
            id=f"e2sar-{rate_label(rate)}",
            sender=suite.sender,
            receiver=suite.receiver,
            version=suite.version,
            image=suite.image,
            rate_gbps=rate,
            mtu=suite.mtu,
            length=suite.length,
            num_events=suite.num_events,
            buf_size=suite.buffer_bytes(rate),
            direct_mode=suite.direct_mode,
            duration_s=suite.duration_s,
            port=first,
            last_port=last,
            threads=suite.threads,
            control_plane=suite.control_plane,
        )
        for rate in suite.rates()
    )


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    cases: tuple[Case, ...]
    e2sar: tuple[E2sarCase, ...] = ()

    def clients(self) -> list[str]:
        """Client workloads in the order their scripts run."""
        return list(dict.fromkeys(c.client for c in self.cases))

    def cases_of(self, client: str) -> list[Case]:
        return [c for c in self.cases if c.client == client]

    def servers(self) -> list[str]:
        """Workloads that must serve iperf3 and netserver."""
        return sorted({c.target.workload for c in self.cases})

    def total_seconds(self) -> int:
        return int(sum(c.planned_s for c in self.cases))

    def time_limit_s(self, client: str) -> int:
        return sum(c.time_limit_s for c in self.cases_of(client))


def build_plan(stack: Stack) -> Plan:
    suite = stack.suites.netperf
    if not suite.enabled:
        return Plan(cases=(), e2sar=e2sar_cases(stack))
    once = [
        case
        for tool in suite.tools
        for path in suite.all_paths()
        for family in stack.path_families(path)
        for case in _cases(suite, tool, path, family)
    ]
    # Repeats go round by round (every point once, then again), so that drift spreads over all points.
    cases = once if suite.repeats == 1 else [_repeat(c, k) for k in range(1, suite.repeats + 1) for c in once]
    order = {client: i for i, client in enumerate(dict.fromkeys(PATH_ENDS[p][0] for p in suite.all_paths()))}
    return Plan(cases=tuple(sorted(cases, key=lambda c: order[c.client])), e2sar=e2sar_cases(stack))


def _cases(suite: NetperfSuite, tool: Tool, path: NetPath, family: Family = "ipv4") -> list[Case]:
    """A tool's cases on one path over one address family (an IPv6 case's id ends in `-ipv6`)."""
    client, target = PATH_ENDS[path]
    steady = suite.steady_state
    fixed_s = steady.fixed_tools_s if steady is not None and steady.fixed_tools_s is not None else suite.duration_s
    common = {
        "path": path,
        "tool": tool,
        "client": client,
        "target": Target(workload=target, address="vip" if path in VIP_PATHS else "pod", family=family),
        "duration_s": suite.duration_s if tool == "iperf3_tcp" else fixed_s,
        "omit_s": suite.omit_s,
    }
    prefix = f"p{int(path)}-{tool.replace('_', '-')}"
    # Parallel streams: one more case at the sweep's last point (see NetperfSuite).
    parallel = [suite.streams] if suite.streams > 1 else []
    if tool == "iperf3_tcp":
        mss = suite.mss_points()
        # Steady-state stopping watches one stream's text output; parallel cases keep JSON and duration_s.
        return [
            Case(
                id=f"{prefix}-mss{m}{_streams_tag(n)}{_family_tag(family)}",
                mss=m,
                streams=n,
                port=suite.ports.iperf3,
                steady=steady if n == 1 else None,
                **common,
            )
            for m, n in [*((m, 1) for m in mss), *((max(mss), n) for n in parallel)]
        ]
    if tool == "iperf3_udp":
        lengths = suite.udp_length_points()
        return [
            Case(
                id=f"{prefix}-len{length}{_streams_tag(n)}{_family_tag(family)}",
                udp_bandwidth=suite.udp_bandwidth,
                udp_length=length,
                streams=n,
                port=suite.ports.iperf3,
                **common,
            )
            for length, n in [*((length, 1) for length in lengths), *((max(lengths), n) for n in parallel)]
        ]
    # netperf UDP_STREAM sends datagrams of the largest UDP length (-m); the other tests their defaults.
    length = {"udp_length": max(suite.udp_length_points())} if tool == "udp_stream" else {}
    ports = {"port": suite.ports.netperf_control, "data_port": suite.ports.netperf_data}
    return [Case(id=f"{prefix}{_family_tag(family)}", **ports, **common, **length)]


def _family_tag(family: Family) -> str:
    return "-ipv6" if family == "ipv6" else ""


def _streams_tag(streams: int) -> str:
    return f"-streams{streams}" if streams > 1 else ""


def _repeat(case: Case, k: int) -> Case:
    """The k-th repeat of a case: its id gets `-r<k>`."""
    return case.model_copy(update={"id": f"{case.id}-r{k}", "repeat": k})
