"""A lab whose cases each run alone, through their own runner script (the same code `netlab up` runs),
with what the client's node saw read just before and just after each: the path's real traffic."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from leakguard import become_subreaper, processes_left

from manifests import clients, find
from netlab.cluster_state import IpAddress
from netlab.lab import Lab
from results.collect import collect
from results.logs import read_log_folder
from results.model import CaseResult, Results
from spec.model import NetPath, Stack
from spec.plan import Case, build_plan
from spec.runner import runner_script

T = TypeVar("T")
Seen = dict[str, tuple[T, T]]


async def _run_each(lab: Lab, folder: Path, traffic: Callable[[Lab, Case], T], name: str) -> tuple[Results, Seen[T]]:
    logs, scripts = folder / "logs", folder / "scripts"
    logs.mkdir(parents=True)
    scripts.mkdir()
    seen: Seen[T] = {}
    async with lab:
        for case in lab.plan.cases:
            script = scripts / f"{case.id}.sh"
            script.write_text(runner_script(case.client, [case]))
            before = traffic(lab, case)
            await lab.run_script(case.client, script, logs, case.time_limit_s + 30)
            seen[case.id] = (before, traffic(lab, case))
    return collect(lab.plan, read_log_folder(logs), stack=name), seen


def run_each_case(
    tmp_path_factory: pytest.TempPathFactory, stack: Stack, traffic: Callable[[Lab, Case], T], name: str
) -> tuple[Results, Seen[T]]:
    """One lab for a module's tests, each case alone with `traffic` read around it; it fails if the lab
    leaves anything behind (a namespace, a process)."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root: network namespaces")
    become_subreaper()
    folder = tmp_path_factory.mktemp(name)
    lab = Lab(stack, build_plan(stack), folder, say=lambda _: None)
    run = asyncio.run(_run_each(lab, folder, traffic, name))
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert lab.layout.prefix not in namespaces, namespaces
    assert not (left := processes_left()), f"processes left: {sorted(left)}"
    return run


def ok_case(results: Results, case_id: str) -> CaseResult:
    """A case that must have succeeded."""
    case = next(c for c in results.cases if c.case_id == case_id)
    assert case.ok, f"{case_id}: {case.error}"
    return case


@dataclass(frozen=True)
class Ends:
    """A case's addresses in its family (the client's, the target pod's, the one asked: pod IP or VIP),
    its data's protocol and port, and its client node's tables and conntrack entries."""

    client: IpAddress
    target: IpAddress
    asked: IpAddress
    proto: str
    port: int
    nat: str  # the client node's `iptables-save -c -t nat` (ip6tables for IPv6)
    conntrack: int  # the client node's entries of this flow: proto, client, the address asked, the port


def case_ends(lab: Lab, case: Case) -> Ends:
    pod = lab.layout.client(case.client)
    # The hairpin Service sends a client back to its own pod (entry.sh's servers); the others go to the server Pod.
    target = pod if case.path is NetPath.HAIRPIN else lab.layout.server(case.target.workload)
    node = lab.layout.node(pod.cluster, pod.node)
    (container,) = find(lab.objects, "Job", clients.job_name(case.client))["spec"]["template"]["spec"]["containers"]
    env = {str(e["name"]): str(e["value"]) for e in container.get("env") or [] if "value" in e}
    client, target_ip = pod.address(case.family), target.address(case.family)
    asked = ipaddress.ip_address(env[case.target.env_var])  # what the Job was given to reach
    assert client is not None and target_ip is not None
    proto = "udp" if case.tool in ("udp_rr", "udp_stream", "iperf3_udp") else "tcp"
    port = case.data_port if case.data_port is not None else case.port

    def run(*argv: str) -> str:
        return subprocess.run(
            ["ip", "netns", "exec", node.ns, *argv], capture_output=True, text=True, check=True
        ).stdout

    # The original direction of each entry; the kernel prints IPv6 addresses in full (%pI6).
    flow = re.compile(rf"\b{proto}\s+\d+ .*?\bsrc={client.exploded} dst={asked.exploded} sport=\d+ dport={port}\b")
    save = "ip6tables-save" if case.family == "ipv6" else "iptables-save"
    return Ends(
        client,
        target_ip,
        asked,
        proto,
        port,
        nat=run(save, "-c", "-t", "nat"),
        conntrack=sum(1 for line in run("cat", "/proc/net/nf_conntrack").splitlines() if flow.search(line)),
    )


def counted(saved: str, pattern: str) -> int:
    """The packets of the rules in an `iptables-save -c` output that match `pattern`."""
    return sum(int(line[1 : line.index(":")]) for line in saved.splitlines() if re.search(pattern, line))
