"""The image's root filesystem: cached by the hash of its recipe, and without a mirror the lab says so.

"No mirror" is made for real: mmdebstrap (and the whole lab run) runs inside a network namespace
with only a loopback, so deb.debian.org cannot be reached, with an empty cache folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from labrun import ROOT, run_folder

from netlab.lab import new_prefix
from netlab.namespaces import claim, release, remove_namespaces
from netlab.rootfs import CACHE_VAR, PACKAGES_FILE, parse_packages, recipe_hash


def test_the_cache_entry_is_named_by_the_list_not_its_order() -> None:
    packages = parse_packages(PACKAGES_FILE.read_text())
    assert recipe_hash(packages) == recipe_hash(tuple(reversed(packages)))
    assert recipe_hash(packages) != recipe_hash([p for p in packages if p != "netcat-openbsd"])


@pytest.fixture
def offline_ns(clean_machine: None) -> Iterator[str]:
    """A network namespace with only a loopback: no route to any mirror."""
    prefix = new_prefix()
    ns = f"{prefix}-offline"
    claim(prefix)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    try:
        yield ns
    finally:
        remove_namespaces(prefix, [ns])
        release(prefix)


def _offline(ns: str, cache: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, CACHE_VAR: str(cache), "PYTHONUNBUFFERED": "1"}
    argv = ["ip", "netns", "exec", ns, sys.executable, "-m", "netlab", *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def test_without_a_mirror_the_build_fails_in_one_line_and_caches_nothing(offline_ns: str, tmp_path: Path) -> None:
    done = _offline(offline_ns, tmp_path / "cache", "rootfs", timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("not built: ")]
    assert "could not be built (mmdebstrap exited" in line and "host's userland" in line
    assert "Failed to fetch" in line  # the cause, not its consequences
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [
        f"{recipe_hash(parse_packages(PACKAGES_FILE.read_text()))}.lock"
    ]


def test_without_a_mirror_the_lab_runs_on_the_hosts_userland_and_records_it(offline_ns: str, tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-local.yaml").read_text())
    suites = document["config"]["meshperf:suites"]
    suites["netperf"].update({"paths": [1], "tools": ["iperf3_tcp"], "mss": [1376], "duration_s": 1})
    suites["e2sar"]["enabled"] = False
    stack = tmp_path / "Pulumi.offline.yaml"
    stack.write_text(yaml.safe_dump(document))
    done = _offline(
        offline_ns, tmp_path / "cache", "up", "-s", str(stack), "--runs-dir", str(tmp_path / "runs"), timeout=300
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    reasons = [x for x in output.splitlines() if "root filesystem could not be built" in x]
    assert len(reasons) == 1, output  # said once, in one line
    results = json.loads((run_folder(output) / "results.json").read_text())
    assert results["userland"]["kind"] == "host" and "mmdebstrap exited" in results["userland"]["reason"]
    assert results["userland"]["hash"] is None
    assert all(c["ok"] for c in results["cases"]) and len(results["cases"]) == 1
