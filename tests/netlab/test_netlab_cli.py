"""`python -m netlab`: bad input is one line and a non-zero exit, before anything is built."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from leakguard import orphans_of_this_test_process

from netlab.namespaces import OWNERS_DIR, claim, release, remove_namespaces

ROOT = Path(__file__).resolve().parents[2]


def _netlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netlab", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.usefixtures("clean_machine")
def test_unknown_stack_is_one_line(tmp_path: Path) -> None:
    done = _netlab("up", "-s", "no-such-stack", "--runs-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "no such stack file" in done.stderr and "kind-mesh" in done.stderr
    assert not list(tmp_path.iterdir())  # no run folder for a run that never started


@pytest.mark.usefixtures("clean_machine")
def test_bad_key_is_one_line_naming_the_file_and_key(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text("config:\n  meshperf:suites:\n    netperf:\n      mss: {start: 40}\n")
    done = _netlab("up", "-s", str(stack), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2
    assert done.stderr == f"netlab: {stack}: meshperf:suites.netperf.mss: start 40 is outside 88..9000\n"
    assert not (tmp_path / "runs").exists()


BAD_STACKS = {
    "key-one": ("config:\n  1: x\n  meshperf:run_id: '1'\n", "config key 1 is not a 'namespace:key' name"),
    "typo": ("config:\n  meshpref:suites: {}\n", "meshpref:suites: namespace 'meshpref' is not 'meshperf'"),
    "none": ("config:\n  kubernetes:context: x\n", "config has no meshperf: key"),
    "rate": ("config:\n  meshperf:link: {rate: 0mbit}\n", "meshperf:link.rate: '0mbit': a rate must be above zero"),
}


@pytest.mark.usefixtures("clean_machine")
@pytest.mark.parametrize("name", sorted(BAD_STACKS))
def test_a_bad_stack_file_is_one_line_exit_2(tmp_path: Path, name: str) -> None:
    text, why = BAD_STACKS[name]
    stack = tmp_path / "x.yaml"  # a path to a stack file not named Pulumi.*.yaml is taken as it is
    stack.write_text(text)
    done = _netlab("up", "-s", str(stack), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2 and done.stderr.startswith(f"netlab: {stack}: {why}"), done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "runs").exists()


@pytest.mark.usefixtures("clean_machine")
def test_paths_that_are_no_stack_file_or_no_runs_folder_are_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "Pulumi.dir.yaml"
    folder.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    shipped = str(Path("stacks") / "Pulumi.kind-local.yaml")
    cases = [
        (("-s", str(tmp_path / "missing.yaml")), f"{tmp_path / 'missing.yaml'}: no such stack file"),
        (("-s", str(folder)), f"{folder}: is a folder, not a stack file"),
        (("-s", shipped, "--runs-dir", str(blocker)), f"--runs-dir {blocker}: is a file, not a folder"),
        (("-s", shipped, "--runs-dir", str(blocker / "x")), f"--runs-dir {blocker / 'x'}: cannot write there"),
        (("-s", shipped, "--runs-dir", "/proc/meshperf-runs"), "--runs-dir /proc/meshperf-runs: cannot write there"),
    ]
    for args, why in cases:
        done = _netlab("up", *args)
        assert done.returncode == 2 and done.stderr.startswith(f"netlab: {why}"), done.stderr
        assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_clean_removes_orphaned_labs_and_leaves_live_ones() -> None:
    dead, live = f"mp{secrets.token_hex(3)}", f"mp{secrets.token_hex(3)}"
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        for prefix in (dead, live):
            subprocess.run(["ip", "netns", "add", f"{prefix}-node"], check=True)
        claim(live)  # this test process: alive
        (OWNERS_DIR / dead).write_text(f"{gone.pid} 1\n")  # a lab whose builder was killed
        done = _netlab("clean")
        assert done.returncode == 0
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        assert f"{dead}-node" not in namespaces
        assert f"{live}-node" in namespaces
        assert f"{dead}-node" in done.stdout
        assert "lab(s) alone" in done.stdout
    finally:
        remove_namespaces(live)
        remove_namespaces(dead)
        release(live)
        release(dead)


@pytest.mark.usefixtures("clean_machine")
def test_the_leak_guard_sees_an_orphaned_tool() -> None:
    """The guard of tests/conftest.py would catch a tool a lab left behind (here one left on purpose)."""
    subprocess.run(["sh", "-c", "iperf3 -s -p 5999 -B 127.0.0.1 >/dev/null 2>&1 & exit 0"], check=True, timeout=10)
    deadline = time.monotonic() + 5
    found: set[tuple[int, str]] = set()
    while not found and time.monotonic() < deadline:
        found = {p for p in orphans_of_this_test_process() if p[1] == "iperf3"}
        time.sleep(0.05)
    for pid, _ in found:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert found
