"""Shared fixtures: the project root on sys.path, and a guard around every test and every
module that fails it when a lab namespace it made, or a tool or sshd it started, is left."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from leakguard import (  # noqa: E402
    become_subreaper,
    lab_namespaces,
    namespaces_left,
    orphans_of_this_test_process,
    reap_container_orphans,
)

REAP_WAIT_S = 2.0


def _processes_left(before: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """What a test left running; a container's PID 1 that is only waiting for its namespace's zombies
    to be reaped (our duty as subreaper) is given a moment to go once they are."""
    deadline = time.monotonic() + REAP_WAIT_S
    while True:
        reap_container_orphans()
        left = orphans_of_this_test_process() - before
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _guard() -> Iterator[None]:
    before_ns, before_procs = lab_namespaces(), orphans_of_this_test_process()
    yield
    left_ns = namespaces_left(before_ns)
    left_procs = _processes_left(before_procs)
    assert not left_ns, f"namespaces left: {sorted(left_ns)}"
    assert not left_procs, f"processes left: {sorted(left_procs)}"


@pytest.fixture(scope="session", autouse=True)
def _subreaper() -> None:
    become_subreaper()


@pytest.fixture(scope="module", autouse=True)
def leaves_no_lab_after_the_module(_subreaper: None) -> Iterator[None]:
    """Module fixtures (a lab shared by a module's tests) are checked once the module is done."""
    yield from _guard()


@pytest.fixture(autouse=True)
def leaves_no_lab(_subreaper: None) -> Iterator[None]:
    """Every test: no lab namespace it made and no tool or sshd it started is left afterwards."""
    yield from _guard()
