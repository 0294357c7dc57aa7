"""A log folder is written by pods and sits on the machine that runs the collector as root (issue 23).

Each test replays a proof of the security review for real: the other user is a real uid
(`nobody`, or the pods' uid 10001) set on a real process, the links are real symlinks, and the
report is the real `results report`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from results_inprocess import results_cli
from results_testkit import synthetic_folder

from manifests.base import UID, pod_security
from netlab.kubelet import Placement, _write_volumes
from netlab.podspec import PodVolumes
from results.files import read_regular
from results.logs import read_log_folder

SECRET = "root:SECRET-MARKER-4711:19000:0:99999:7:::\n"


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder other users can reach (pytest's tmp_path is root's 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="meshperf-untrusted-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def as_user(uid: int, gid: int, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), user=uid, group=gid, extra_groups=[], capture_output=True, text=True, timeout=30)


def logs_with_a_lab_claim(shared: Path) -> Path:
    """The run's log folder as the lab's kubelet makes it for a pod that mounts the log claim."""
    logs = shared / "logs"
    _write_volumes(
        PodVolumes(empty_dirs=[], configmap_files=[], sources={}),
        {"securityContext": pod_security()},
        Placement(netns="unused", claims={"logs": logs}),
        shared / "pod" / "hosts",
        "w1",
    )
    for name, text in synthetic_folder().items():
        (logs / name).parent.mkdir(parents=True, exist_ok=True)
        (logs / name).write_text(text)
    return logs


def secret_file(shared: Path) -> Path:
    secret = shared / "shadow"
    secret.write_text(SECRET)
    secret.chmod(0o600)  # root's only: the collector (root) could read it, the pod cannot
    return secret


def test_a_lab_claim_is_writable_by_its_pods_user_and_by_no_other(shared: Path) -> None:
    logs = logs_with_a_lab_claim(shared)
    nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True, check=True).stdout)
    planted = as_user(nobody, nobody, "ln", "-s", "/etc/ld.so.preload", str(logs / "results.json"))
    assert planted.returncode != 0 and "Permission denied" in planted.stderr, planted
    assert not (logs / "results.json").is_symlink()
    pod = as_user(UID, UID, "sh", "-c", f"echo measured > {logs}/p1-extra.txt")
    assert pod.returncode == 0, pod.stderr
    mode = (logs).stat().st_mode
    assert mode & 0o002 == 0, oct(mode)


def test_a_report_replaces_planted_links_and_leaves_their_targets_alone(shared: Path) -> None:
    logs = logs_with_a_lab_claim(shared)
    out = shared / "out"
    out.mkdir()
    victims = {}
    for name in ("results.json", "report.html", "throughput-vs-mss.png", "results.csv"):
        victim = shared / f"victim-{name}"
        victim.write_text("precious\n")
        victim.chmod(0o600)
        (out / name).symlink_to(victim)
        victims[name] = victim
    done = results_cli("report", str(logs), "--stack", "kind-local", "--out", str(out), "--ignore-unplanned")
    assert done.returncode in (0, 1), done.stderr
    for name, victim in victims.items():
        assert victim.read_text() == "precious\n", f"the report wrote through the link {name}"
        assert not (out / name).is_symlink() and (out / name).stat().st_size > 0
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "a temporary file was left"


def test_a_report_goes_beside_the_log_folder_by_default(shared: Path) -> None:
    logs = logs_with_a_lab_claim(shared)
    before = sorted(p.name for p in logs.rglob("*"))
    done = results_cli("report", str(logs), "--stack", "kind-local", "--ignore-unplanned")
    assert done.returncode in (0, 1), done.stderr
    assert sorted(p.name for p in logs.rglob("*")) == before, "the report wrote into the log folder"
    assert (shared / "report" / "results.json").is_file()


def test_the_collector_never_reads_a_host_file_through_a_pods_link(shared: Path) -> None:
    """The pod (uid 10001) links a log and an .err file, and a whole folder, to files only root can read."""
    logs = logs_with_a_lab_claim(shared)
    secret = secret_file(shared)
    (shared / "hostdir").mkdir(mode=0o700)
    (shared / "hostdir" / "p2-tcp-rr.txt").write_text(SECRET)
    log = next(name for name in synthetic_folder() if name.endswith(".json") and "/" not in name)
    case = log.split(".")[0]
    (logs / log).unlink()
    script = (
        f"ln -s {secret} {logs}/{log} && ln -s {secret} {logs}/{case}.err && "
        f"ln -s {shared}/hostdir {logs}/w9 && ln -s /proc/1/environ {logs}/{case}.log"
    )
    pod = as_user(UID, UID, "sh", "-c", script)
    assert pod.returncode == 0, pod.stderr
    files = read_log_folder(logs)
    assert log not in files and f"{case}.err" not in files and not [k for k in files if k.startswith("w9/")]
    out = shared / "out"
    done = results_cli("report", str(logs), "--stack", "kind-local", "--out", str(out), "--ignore-unplanned")
    assert done.returncode == 1, done.stderr
    for report in out.iterdir():
        if report.suffix in (".json", ".html", ".csv"):
            assert "SECRET-MARKER" not in report.read_text(), f"{report.name} quotes a host file"
    assert "SECRET-MARKER" not in done.stdout + done.stderr


def test_a_fifo_or_a_huge_file_in_a_log_folder_neither_hangs_nor_fills_memory(shared: Path) -> None:
    logs = logs_with_a_lab_claim(shared)
    os.mkfifo(logs / "p1-tcp-rr.txt.fifo")
    big = logs / "p1-huge.json"
    big.write_bytes(b"x" * 2048)
    started = time.monotonic()
    files = read_log_folder(logs)
    assert time.monotonic() - started < 10
    assert "p1-tcp-rr.txt.fifo" not in files
    assert read_regular(big, cap=1024) == "meshperf: log not read: larger than 1024 bytes\n"
    assert read_regular(big) == "x" * 2048
