"""What a lab run may leave behind: tool processes orphaned to this (subreaper) process."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

# The tools, and what the lab's kubelet starts: its container init (python), nsenter, and what pods run.
TOOLS = ("iperf3", "netserver", "netperf", "timeout", "sh", "e2sar_perf", "python", "nsenter", "nc", "sleep")
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphans of our children come to us, so that we can tell what our lab left behind."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def orphans_of_this_test_process() -> set[tuple[int, str]]:
    """Tool processes re-parented to this process (it is a subreaper): what a lab left running.

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
