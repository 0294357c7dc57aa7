"""Lab tests run the real `python -m netlab` as root and check the machine is left clean."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import pytest

TOOLS = ("iperf3", "netserver", "netperf")
LAB_NS = re.compile(r"^mp[0-9a-f]{6}-")


def lab_namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if LAB_NS.match(line)}


def tool_processes() -> set[int]:
    """PIDs of tool processes on the machine (zombies excluded)."""
    out = subprocess.run(["ps", "-eo", "pid=,stat=,comm="], capture_output=True, text=True, check=True).stdout
    pids = set()
    for line in out.splitlines():
        pid, stat, comm = line.split(None, 2)
        if comm.strip() in TOOLS and not stat.startswith("Z"):
            pids.add(int(pid))
    return pids


@pytest.fixture
def clean_machine() -> Iterator[None]:
    """Fails the test if a lab namespace or a tool process it started is left afterwards."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root: network namespaces")
    before_ns, before_procs = lab_namespaces(), tool_processes()
    yield
    left_ns = lab_namespaces() - before_ns
    left_procs = tool_processes() - before_procs
    assert not left_ns, f"namespaces left: {sorted(left_ns)}"
    assert not left_procs, f"tool processes left: {sorted(left_procs)}"
