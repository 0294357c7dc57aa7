"""What a test may leave behind: lab namespaces it made, and tool processes or sshd orphaned to it.

`tests/conftest.py` checks both around every test (and every module, for module fixtures).
Other work on the machine (other test runs, other labs) is never blamed: a namespace counts
only when its owner record (`netlab.namespaces.claim`, written by netlab and by the SSH lab of
the hosts tests) names this process or its child, or, for a netlab lab, when it has no record
at all; a process counts only when it was re-parented to this (subreaper) process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import subprocess
import time
from collections.abc import Collection
from pathlib import Path

from netlab.namespaces import owner

# The tools, sshd, and what the lab's kubelet starts: its container init (python), nsenter, what pods run.
TOOLS = ("iperf3", "netserver", "netperf", "timeout", "sh", "e2sar_perf", "sshd", "python", "nsenter", "nc", "sleep")
PR_SET_CHILD_SUBREAPER = 36
SETTLE_S = 2.0  # how long what was killed may take to go
NETLAB_NS = re.compile(r"^(mp[0-9a-f]{6})-")  # netlab's labs (netlab.lab)
SSHLAB_NS = re.compile(r"^(mph[0-9a-f]{6})-")  # the hosts tests' SSH labs (tests/hosts/sshlab.py)


def become_subreaper() -> None:
    """Orphans of our children come to us, so that we can tell what a test left behind."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def lab_namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    names = {line.split()[0] for line in out.splitlines() if line.strip()}
    return {ns for ns in names if NETLAB_NS.match(ns) or SSHLAB_NS.match(ns)}


def made_here(ns: str) -> bool:
    """Whether this test process (or a child of it) made the namespace, by its owner record."""
    me = os.getpid()
    if m := SSHLAB_NS.match(ns):
        record = owner(m[1])
        return record is not None and me in record
    m = NETLAB_NS.match(ns)
    record = owner(m[1]) if m else None
    return record is None or me in record


def namespaces_left(before: set[str]) -> set[str]:
    return {ns for ns in lab_namespaces() - before if made_here(ns)}


def reap_container_orphans() -> None:
    """Reap zombies re-parented to us from a container's PID namespace, as a subreaper must.

    A process that a kubelet probe ran in a container (`nsenter -p` forks into the container's
    PID namespace) is re-parented to the nearest subreaper when nsenter goes first: to us.
    Unreaped, it holds the container's PID 1 in the kernel's wait for every process of its
    namespace to go, and that PID 1 would look left behind. Our own children live in our PID
    namespace, so reaping only the other namespaces' zombies never takes a child's exit status.
    """
    me, ours = os.getpid(), Path("/proc/self/ns/pid").readlink()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            their_ns = (stat.parent / "ns" / "pid").readlink()
        except OSError:
            continue
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if int(ppid) == me and state == "Z" and their_ns != ours:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(stat.parent.name), os.WNOHANG)


def orphans_of_this_test_process() -> set[tuple[int, str]]:
    """Tool processes re-parented to this process (it is a subreaper): what a test left running.

    Only processes that descend from this test run count, so tools that other work on the
    machine runs are never blamed.
    """
    me = os.getpid()
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if int(ppid) == me and state != "Z" and comm in TOOLS:
            found.add((int(stat.parent.name), comm))
    return found


def processes_left(before: Collection[tuple[int, str]] = ()) -> set[tuple[int, str]]:
    """What a test or a lab left running, beyond `before`. A process just killed, or a container's PID 1
    that waits only for its namespace's zombies to be reaped (our duty as subreaper), is given a
    moment to go before it is blamed."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        reap_container_orphans()
        left = orphans_of_this_test_process() - set(before)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
