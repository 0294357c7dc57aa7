"""Lab tests run the real `python -m netlab` as root and check the machine is left clean."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import pytest
from leakguard import become_subreaper, orphans_of_this_test_process

from netlab.namespaces import owner

LAB_NS = re.compile(r"^mp[0-9a-f]{6}-")


def lab_namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if LAB_NS.match(line)}


@pytest.fixture
def clean_machine() -> Iterator[None]:
    """Fails the test if a lab namespace or a tool process it started is left afterwards."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root: network namespaces")
    become_subreaper()
    before_ns = lab_namespaces()
    yield
    # Labs of other runs on this machine may come and go meanwhile: only the ones whose
    # builder was a child of this test process count.
    left_ns = {ns for ns in lab_namespaces() - before_ns if (o := owner(ns[:8])) is None or o[1] == os.getpid()}
    left_procs = orphans_of_this_test_process()
    assert not left_ns, f"namespaces left: {sorted(left_ns)}"
    assert not left_procs, f"tool processes left: {sorted(left_procs)}"
