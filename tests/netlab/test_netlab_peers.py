"""The peers' tests in the lab for real, on paths 1, 2 and 6: netperf TCP_CRR, UDP_RR and UDP_STREAM,
and iperf3 with parallel streams.

Each case runs alone through its own runner script (the same code `netlab up` runs), so that the
client node's NAT counters and conntrack table can be read just before and just after it: the
path's real traffic, not only the tool's word. Through the virtual IP (path 2) every new TCP
connection is one packet through the DNAT rule of its port (the nat table sees a flow's first
packet only); on every path each connection leaves its own conntrack entry in the client's node
(kept for a while after it closes), so TCP_CRR's entries grow with the connections it made.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from leakguard import become_subreaper, orphans_of_this_test_process

from netlab.lab import Lab
from results.collect import collect
from results.logs import read_log_folder
from results.model import CaseResult, Results
from spec.load import stack_from_config
from spec.model import Stack
from spec.plan import Case, build_plan
from spec.runner import runner_script

ROOT = Path(__file__).resolve().parents[2]
MESH = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
DURATION_S = 2
STREAMS = 4


@dataclass(frozen=True)
class Traffic:
    """What the client's node saw of one case's flows: DNAT packets of the target port, conntrack entries."""

    dnat_packets: int
    conntrack: int


def _stack() -> Stack:
    config = json.loads(json.dumps(MESH))["config"]
    config["meshperf:link"] = {"mtu": 1500}
    config["meshperf:suites"] = {
        "netperf": {
            "paths": [1, 2, 6],
            "tools": ["tcp_crr", "udp_rr", "udp_stream", "iperf3_tcp", "iperf3_udp"],
            "mss": [1376],
            "udp_length": [1422],
            "streams": STREAMS,
            "duration_s": DURATION_S,
        }
    }
    return stack_from_config({k.removeprefix("meshperf:"): v for k, v in config.items() if k.startswith("meshperf:")})


def _port(case: Case) -> tuple[str, int]:
    """The protocol and server port that carry the case's data."""
    proto = "udp" if case.tool in ("udp_rr", "udp_stream", "iperf3_udp") else "tcp"
    return proto, case.data_port if case.data_port is not None else case.port


def _traffic(lab: Lab, case: Case) -> Traffic:
    pod = lab.layout.client(case.client)
    node = lab.layout.node(pod.cluster, pod.node)
    target = lab.layout.server(case.target.workload)
    address = target.vip if case.target.address == "vip" else target.ip
    proto, port = _port(case)

    def run(*argv: str) -> str:
        return subprocess.run(
            ["ip", "netns", "exec", node.ns, *argv], capture_output=True, text=True, check=True
        ).stdout

    dnat = 0
    for line in run("iptables-save", "-c", "-t", "nat").splitlines():
        if re.search(rf"-A KUBE-SEP-\S+ -p {proto} .* -j DNAT --to-destination {target.ip}:{port}$", line):
            dnat += int(line[1 : line.index(":")])
    # The original direction of each entry: proto, then the client's src and the address it asked for.
    flow = re.compile(rf"\b{proto}\s+\d+ .*?\bsrc={pod.ip} dst={address} sport=\d+ dport={port}\b")
    entries = sum(1 for line in run("cat", "/proc/net/nf_conntrack").splitlines() if flow.search(line))
    return Traffic(dnat, entries)


LabRun = tuple[Results, dict[str, tuple[Traffic, Traffic]]]


async def _run_each(lab: Lab, folder: Path) -> LabRun:
    logs, scripts = folder / "logs", folder / "scripts"
    logs.mkdir(parents=True)
    scripts.mkdir()
    seen: dict[str, tuple[Traffic, Traffic]] = {}
    async with lab:
        for case in lab.plan.cases:
            script = scripts / f"{case.id}.sh"
            script.write_text(runner_script(case.client, [case]))
            before = _traffic(lab, case)
            await lab.run_script(case.client, script, logs, case.time_limit_s + 30)
            seen[case.id] = (before, _traffic(lab, case))
    return collect(lab.plan, read_log_folder(logs), stack="peers"), seen


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> LabRun:
    """One lab for the module's tests; like `clean_machine`, it fails if the lab leaves anything behind."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root: network namespaces")
    become_subreaper()
    stack = _stack()
    folder = tmp_path_factory.mktemp("peers")
    lab = Lab(stack, build_plan(stack), folder, say=lambda _: None)
    run = asyncio.run(_run_each(lab, folder))
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert lab.layout.prefix not in namespaces, namespaces
    assert not orphans_of_this_test_process()
    return run


def _case(results: Results, case_id: str) -> CaseResult:
    case = next(c for c in results.cases if c.case_id == case_id)
    assert case.ok, f"{case_id}: {case.error}"
    return case


@pytest.mark.parametrize("path", [1, 2, 6])
def test_tcp_crr_connections_each_leave_their_traffic(lab_run: LabRun, path: int) -> None:
    results, seen = lab_run
    crr = _case(results, f"p{path}-tcp-crr")
    assert crr.transactions_per_s is not None and crr.transactions_per_s > 50
    lat = crr.latency_us
    assert lat is not None and 0 < lat.p50 <= lat.p99  # type: ignore[operator]
    connections = crr.transactions_per_s * DURATION_S
    before, after = seen[crr.case_id]
    # One conntrack entry per connection (each has its own client port): at least nine in ten of
    # those netperf counted, and no more than it could have made (its rate over a slack second more).
    grown = after.conntrack - before.conntrack
    assert 0.9 * connections <= grown <= crr.transactions_per_s * (DURATION_S + 1), (grown, connections)
    if path == 2:  # through the ClusterIP: every connection's first packet went through DNAT (a new
        # connection on a recycled client port may reuse a closed one's conntrack entry: DNAT counts it, the
        # table does not grow), and no more than netperf could have made
        dnat = after.dnat_packets - before.dnat_packets
        assert 0.9 * connections <= dnat <= crr.transactions_per_s * (DURATION_S + 1), (dnat, connections)
    else:
        assert after.dnat_packets == before.dnat_packets  # pod IP: no service rule touched


@pytest.mark.parametrize("path", [1, 2, 6])
def test_udp_rr_and_udp_stream_on_the_path(lab_run: LabRun, path: int) -> None:
    results, seen = lab_run
    rr = _case(results, f"p{path}-udp-rr")
    assert rr.transactions_per_s is not None and rr.transactions_per_s > 100
    assert rr.latency_us is not None and 0 < rr.latency_us.p50 <= rr.latency_us.p99  # type: ignore[operator]
    stream = _case(results, f"p{path}-udp-stream")
    assert stream.throughput_mbps is not None and stream.throughput_mbps > 1
    assert stream.loss_percent is not None and 0 <= stream.loss_percent < 100
    for case_id in (rr.case_id, stream.case_id):
        before, after = seen[case_id]
        assert after.conntrack >= before.conntrack + 1  # the UDP flow to the data port, in the client's node
        if path == 2:
            assert after.dnat_packets >= before.dnat_packets + 1
        else:
            assert after.dnat_packets == before.dnat_packets


@pytest.mark.parametrize("path", [1, 2, 6])
def test_parallel_streams_sum_to_the_total(lab_run: LabRun, path: int) -> None:
    results, seen = lab_run
    tcp = _case(results, f"p{path}-iperf3-tcp-mss1376-streams{STREAMS}")
    assert tcp.streams == STREAMS and tcp.per_stream is not None and len(tcp.per_stream) == STREAMS
    assert all(s.throughput_mbps > 0 for s in tcp.per_stream)
    assert sum(s.throughput_mbps for s in tcp.per_stream) == pytest.approx(tcp.throughput_mbps, rel=0.01)
    # each stream's own socket, with the MSS asked less the timestamp option
    assert [s.mss_actual for s in tcp.per_stream] == [1364] * STREAMS
    udp = _case(results, f"p{path}-iperf3-udp-len1422-streams{STREAMS}")
    assert udp.per_stream is not None and len(udp.per_stream) == STREAMS
    assert sum(s.throughput_mbps for s in udp.per_stream) == pytest.approx(udp.throughput_mbps, rel=0.01)
    before, after = seen[tcp.case_id]
    assert after.conntrack - before.conntrack >= STREAMS + 1  # the control connection and every stream
    if path == 2:
        assert after.dnat_packets - before.dnat_packets >= STREAMS + 1
    single = _case(results, f"p{path}-iperf3-tcp-mss1376")
    assert single.streams == 1 and single.per_stream is None
