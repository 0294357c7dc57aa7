"""The lab over IPv6 for real: all six paths between namespaces with iperf3 and netperf, on IPv6-only clusters.

Each case runs alone through its own runner script (the same code `netlab up` runs), and the client
node's ip6tables counters are read just before and after it: through a virtual IP (paths 2, 4, 5)
every new connection's first packet goes through kube-proxy's IPv6 DNAT rule of the target port, the
hairpin (5) is marked for masquerade by its endpoint's own rule, path 6 leaves its cluster through
kindnet's IPv6 masquerade; a pod-IP path touches no service rule. The conntrack entries the client's
node keeps are IPv6 flows from the client's IPv6 address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from caselab import case_ends, counted, ok_case, run_each_case

from netlab.lab import Lab
from results.model import CaseResult, Results
from spec.load import stack_from_config
from spec.model import HOST_PATHS, VIP_PATHS, NetPath, Stack
from spec.plan import Case, build_plan

ROOT = Path(__file__).resolve().parents[2]
DUAL = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-dual.yaml").read_text())
DURATION_S = 1
TOOLS = ("iperf3_tcp", "iperf3_udp", "tcp_stream", "tcp_rr", "tcp_crr")

POD_PATHS = [p for p in NetPath if p not in HOST_PATHS]  # the six; the host baseline is opt-in


@dataclass(frozen=True)
class Traffic:
    """What the client's node saw of one case: DNAT packets to the target's port, the hairpin's
    masquerade mark, kindnet's masquerade, and the case's IPv6 conntrack entries."""

    dnat: int
    hairpin_mark: int
    kindnet_masquerade: int
    conntrack: int


def ipv6_stack() -> Stack:
    config = json.loads(json.dumps(DUAL))["config"]
    keys = {k.removeprefix("meshperf:"): v for k, v in config.items() if k.startswith("meshperf:")}
    for cluster in keys["clusters"]:
        cluster["ip_family"] = "ipv6"
    keys["link"] = {"mtu": 1500}
    keys["suites"] = {
        "netperf": {"paths": [1, 2, 3, 4, 5, 6], "tools": list(TOOLS), "mss": [1376], "udp_length": [1400],
                    "duration_s": DURATION_S},
        "e2sar": {"enabled": False},
    }  # fmt: skip
    return stack_from_config(keys)


def _traffic(lab: Lab, case: Case) -> Traffic:
    ends = case_ends(lab, case)
    target = rf"\[{ends.target}\]:{ends.port}"
    return Traffic(
        dnat=counted(ends.nat, rf"-A KUBE-SEP-\S+ -p {ends.proto} .* -j DNAT --to-destination {target}$"),
        hairpin_mark=counted(ends.nat, rf"-A KUBE-SEP-\S+ -s {ends.target}/128 .* -j KUBE-MARK-MASQ$"),
        kindnet_masquerade=counted(ends.nat, r"-A KIND-MASQ-AGENT .*-j MASQUERADE$"),
        conntrack=ends.conntrack,
    )


LabRun = tuple[Results, dict[str, tuple[Traffic, Traffic]]]


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> LabRun:
    return run_each_case(tmp_path_factory, ipv6_stack(), _traffic, "ipv6")


def _case(results: Results, case_id: str) -> CaseResult:
    case = ok_case(results, case_id)
    assert case.family == "ipv6"
    return case


def test_every_case_ran_over_ipv6() -> None:
    plan = build_plan(ipv6_stack())
    assert {c.family for c in plan.cases} == {"ipv6"}
    assert {c.path for c in plan.cases} == set(POD_PATHS)


@pytest.mark.parametrize("path", POD_PATHS)
def test_all_six_paths_measure_over_ipv6(lab_run: LabRun, path: NetPath) -> None:
    results, seen = lab_run
    tcp = _case(results, f"p{int(path)}-iperf3-tcp-mss1376-ipv6")
    assert tcp.throughput_mbps is not None and tcp.throughput_mbps > 10
    assert tcp.mss_actual == 1364  # the MSS asked less the timestamp option, on the IPv6 socket
    udp = _case(results, f"p{int(path)}-iperf3-udp-len1400-ipv6")
    assert udp.throughput_mbps is not None and udp.throughput_mbps > 1
    stream = _case(results, f"p{int(path)}-tcp-stream-ipv6")
    assert stream.throughput_mbps is not None and stream.throughput_mbps > 10
    rr = _case(results, f"p{int(path)}-tcp-rr-ipv6")
    assert rr.latency_us is not None and 0 < rr.latency_us.p50 <= rr.latency_us.p99  # type: ignore[operator]
    crr = _case(results, f"p{int(path)}-tcp-crr-ipv6")
    assert crr.transactions_per_s is not None and crr.transactions_per_s > 50
    for case in (tcp, udp, stream, rr, crr):
        before, after = seen[case.case_id]
        assert after.conntrack >= before.conntrack + 1, case.case_id  # an IPv6 flow from the client's address
        if path in VIP_PATHS:  # through the IPv6 ClusterIP: kube-proxy's ip6tables DNAT
            assert after.dnat > before.dnat, case.case_id
        else:
            assert after.dnat == before.dnat, case.case_id
        if path is NetPath.HAIRPIN:  # back to itself: marked for masquerade by its endpoint's rule
            assert after.hairpin_mark > before.hairpin_mark, case.case_id
        if path is NetPath.REMOTE_CLUSTER_POD:  # out of the cluster's IPv6 pod subnet: kindnet masquerades
            assert after.kindnet_masquerade > before.kindnet_masquerade, case.case_id
    # TCP_CRR through a virtual IP: each connection's first packet through DNAT
    if path in VIP_PATHS:
        before, after = seen[crr.case_id]
        connections = crr.transactions_per_s * DURATION_S
        assert 0.9 * connections <= after.dnat - before.dnat <= crr.transactions_per_s * (DURATION_S + 1)
