"""The test plan: a pure function of the stack model.

A case names its target symbolically (a workload and whether its pod IP or its virtual IP
is meant); each backend supplies the address through the environment variable that
`Target.env_var` names, so that one runner script serves Kubernetes and the lab alike.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from spec.model import PATH_ENDS, VIP_PATHS, NetPath, NetperfSuite, Stack, Tool

# The seed's labels for the paths, in the words of its CSV.
PATH_LABELS: dict[NetPath, str] = {
    NetPath.SAME_NODE_POD: "Same VM using Pod IP",
    NetPath.SAME_NODE_VIP: "Same VM using Virtual IP",
    NetPath.REMOTE_NODE_POD: "Remote VM using Pod IP",
    NetPath.REMOTE_NODE_VIP: "Remote VM using Virtual IP",
    NetPath.HAIRPIN: "Hairpin Pod to own Virtual IP",
    NetPath.REMOTE_CLUSTER_POD: "Remote Cluster using Pod IP",
}

# Raw output file extension per tool.
EXTENSIONS: dict[Tool, str] = {
    "iperf3_tcp": "json",
    "iperf3_udp": "json",
    "netperf_stream": "txt",
    "netperf_rr": "txt",
}


class Target(BaseModel):
    model_config = ConfigDict(frozen=True)

    workload: str
    address: Literal["pod", "vip"]

    @property
    def env_var(self) -> str:
        """The variable a backend sets to this target's IP address."""
        kind = "POD_IP" if self.address == "pod" else "VIP"
        return f"MESHPERF_{self.workload.upper()}_{kind}"


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

    @property
    def ext(self) -> str:
        return EXTENSIONS[self.tool]

    @property
    def log_name(self) -> str:
        return f"{self.id}.{self.ext}"

    @property
    def time_limit_s(self) -> int:
        """How long the runner lets the case run before it is cut: the test plus slack for setup."""
        return self.duration_s + self.omit_s + 10


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    cases: tuple[Case, ...]

    def clients(self) -> list[str]:
        """Client workloads in the order their scripts run."""
        return list(dict.fromkeys(c.client for c in self.cases))

    def cases_of(self, client: str) -> list[Case]:
        return [c for c in self.cases if c.client == client]

    def servers(self) -> list[str]:
        """Workloads that must serve iperf3 and netserver."""
        return sorted({c.target.workload for c in self.cases})

    def total_seconds(self) -> int:
        return sum(c.duration_s + c.omit_s for c in self.cases)

    def time_limit_s(self, client: str) -> int:
        return sum(c.time_limit_s for c in self.cases_of(client))


def build_plan(stack: Stack) -> Plan:
    suite = stack.suites.netperf
    if not suite.enabled:
        return Plan(cases=())
    cases = [case for tool in suite.tools for path in suite.paths for case in _cases(suite, tool, path)]
    order = {client: i for i, client in enumerate(dict.fromkeys(PATH_ENDS[p][0] for p in suite.paths))}
    return Plan(cases=tuple(sorted(cases, key=lambda c: order[c.client])))


def _cases(suite: NetperfSuite, tool: Tool, path: NetPath) -> list[Case]:
    client, target = PATH_ENDS[path]
    common = {
        "path": path,
        "tool": tool,
        "client": client,
        "target": Target(workload=target, address="vip" if path in VIP_PATHS else "pod"),
        "duration_s": suite.duration_s,
        "omit_s": suite.omit_s,
    }
    prefix = f"p{int(path)}-{tool.replace('_', '-')}"
    if tool == "iperf3_tcp":
        return [Case(id=f"{prefix}-mss{m}", mss=m, port=suite.ports.iperf3, **common) for m in suite.mss_points()]
    if tool == "iperf3_udp":
        return [
            Case(
                id=f"{prefix}-len{suite.udp_length}",
                udp_bandwidth=suite.udp_bandwidth,
                udp_length=suite.udp_length,
                port=suite.ports.iperf3,
                **common,
            )
        ]
    return [Case(id=prefix, port=suite.ports.netperf_control, data_port=suite.ports.netperf_data, **common)]
