"""The `meshperf` console script, installed for real (`pip install --no-deps -e .`) into a
throwaway virtualenv that sees the project's dependencies, and run from another folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "results" / "data"


@pytest.fixture(scope="module")
def meshperf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # The throwaway venv reads this interpreter's packages (pulumi, pydantic, ...) through a .pth file.
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return venv / "bin" / "meshperf"


def _run(meshperf: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(meshperf), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def test_version_and_subcommands_from_another_folder(meshperf: Path, tmp_path: Path) -> None:
    version = _run(meshperf, tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("meshperf ")
    assert version.stdout.split()[1] not in ("", "unknown")
    parsed = _run(meshperf, tmp_path, "results", "parse", str(DATA / "iperf3-3.12-tcp-mss536.json"))
    assert parsed.returncode == 0, parsed.stderr
    assert '"tool": "iperf3"' in parsed.stdout
    # A stack by its name and a log folder, from elsewhere: the project's stacks/ is found all the same.
    logs = ROOT / "tests" / "components" / "fixtures" / "kind-mesh-run"
    # --ignore-unplanned: the fixture also holds the host-network paths, which kind-mesh as shipped does not plan.
    report = _run(
        meshperf,
        tmp_path,
        "results",
        "report",
        str(logs),
        "--stack",
        "kind-mesh",
        "--out",
        "out",
        "--json",
        "--ignore-unplanned",
    )
    assert report.returncode == 1, report.stderr  # 1: the fixture holds no E2SAR logs (those pairs never ran)
    assert json.loads(report.stdout)["run"]["stack"] == "kind-mesh" and (tmp_path / "out" / "report.html").exists()
    lab = _run(meshperf, tmp_path, "lab", "up", "--help")
    assert lab.returncode == 0 and "--quick" in lab.stdout
    hosts = _run(meshperf, tmp_path, "hosts", "facts", "--help")
    assert hosts.returncode == 0 and "inventory" in hosts.stdout
    docs = _run(meshperf, tmp_path, "docs", "--check")  # the checkout's docs, from another folder
    assert docs.returncode == 0 and "up to date: docs/stack.md" in docs.stdout, docs.stderr
    unknown = _run(meshperf, tmp_path, "nonsense")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "nonsense" in unknown.stderr
