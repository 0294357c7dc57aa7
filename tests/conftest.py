"""Shared fixtures: the project root on sys.path, and a guard around every test and every
module that fails it when a lab namespace it made, or a tool or sshd it started, is left."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from leakguard import become_subreaper, lab_namespaces, namespaces_left, orphans_of_this_test_process, processes_left  # noqa: E402


def _guard() -> Iterator[None]:
    before_ns, before_procs = lab_namespaces(), orphans_of_this_test_process()
    yield
    left_ns = namespaces_left(before_ns)
    left_procs = processes_left(before_procs)
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
