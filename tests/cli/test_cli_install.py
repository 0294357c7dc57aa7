"""scripts/install.sh touches only what is meshperf's (issue 14, item 6).

The script runs for real from a copy of the project whose `.venv/bin/python` is a stand-in
(named so: pip must not touch the shared virtualenv), on this machine, where every Debian
package it wants is already installed. A netserver of the user's own, started here, must
outlive it. The netperf install itself is run with netperf hidden from PATH and stand-ins
for `apt-get` and `dpkg`; the stand-in dpkg plays the netperf package's postinst, whose
`invoke-rc.d netperf start` asks policy-rc.d first and does not start the service when it
exits 101 (invoke-rc.d's rule).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORD = 'echo "$(basename "$0") $*" >> "$STANDIN_CALLS"\n'
# Stand-in apt-get: records its arguments; `download` leaves a package file, as apt-get download does.
STANDIN_APT = "#!/bin/sh\n" + RECORD + 'case "$*" in *download*) : > netperf_2.7.0-stand-in_amd64.deb ;; esac\n'
# Stand-in dpkg: the netperf postinst's start of the system netserver, through policy-rc.d as invoke-rc.d does.
STANDIN_DPKG = (
    "#!/bin/sh\n"
    + RECORD
    + 'policy="$MESHPERF_POLICY_RC_D"\n'
    + 'if [ -x "$policy" ]; then "$policy" netperf start; rc=$?; else rc=0; fi\n'
    + 'if [ "$rc" = 101 ]; then echo "postinst: start denied" >> "$STANDIN_CALLS"; '
    + 'else echo "postinst: netserver started" >> "$STANDIN_CALLS"; fi\n'
)
STANDIN_PYTHON = "#!/bin/sh\n" + RECORD


def _project(tmp_path: Path) -> Path:
    """A copy of the project's install script, requirements and a stand-in .venv/bin/python."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "install.sh", project / "scripts" / "install.sh")
    shutil.copy(ROOT / "requirements.lock", project / "requirements.lock")
    _script(project / ".venv" / "bin" / "python", STANDIN_PYTHON)
    return project


def _script(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int, deadline_s: float = 10) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def _run(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(project / "scripts" / "install.sh")], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_users_own_netserver_outlives_install(tmp_path: Path) -> None:
    project = _project(tmp_path)
    standins = tmp_path / "standin-bin"
    for name in ("apt-get", "dpkg"):  # everything is installed here: neither may be called
        _script(standins / name, "#!/bin/sh\n" + RECORD + "exit 1\n")
    calls = tmp_path / "calls.txt"
    port = _free_port()
    netserver = subprocess.Popen(
        ["netserver", "-D", "-L", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert _listening(port), "the user's netserver did not start"
        env = {**os.environ, "PATH": f"{standins}:{os.environ['PATH']}", "STANDIN_CALLS": str(calls)}
        env["MESHPERF_POLICY_RC_D"] = str(tmp_path / "policy-rc.d")
        done = _run(project, env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert netserver.poll() is None, "install.sh stopped a netserver that is not meshperf's"
        assert _listening(port, 1)
    finally:
        netserver.kill()
        netserver.wait(timeout=10)
    recorded = calls.read_text().splitlines()
    assert not [c for c in recorded if c.startswith(("apt-get", "dpkg"))], recorded
    assert recorded == [
        "python -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock",
        "python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .",
    ]
    assert not (tmp_path / "policy-rc.d").exists()


def _path_without_netperf(tmp_path: Path) -> Path:
    """A PATH folder with this machine's commands but netperf and netserver (symlinks)."""
    farm = tmp_path / "path"
    farm.mkdir()
    for folder in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"):
        for entry in os.scandir(folder):
            target = farm / entry.name
            if entry.name not in ("netperf", "netserver") and not target.exists():
                target.symlink_to(entry.path)
    return farm


@pytest.mark.parametrize("own_policy", [False, True])
def test_netperfs_postinst_starts_no_netserver(tmp_path: Path, own_policy: bool) -> None:
    project = _project(tmp_path)
    standins = tmp_path / "standin-bin"
    _script(standins / "apt-get", STANDIN_APT)
    _script(standins / "dpkg", STANDIN_DPKG)
    policy = tmp_path / "policy-rc.d"
    machines_own = "#!/bin/sh\n# the machine's own: allows everything\nexit 0\n"
    if own_policy:
        _script(policy, machines_own)
    calls = tmp_path / "calls.txt"
    env = {
        **os.environ,
        "PATH": f"{standins}:{_path_without_netperf(tmp_path)}",
        "STANDIN_CALLS": str(calls),
        "MESHPERF_POLICY_RC_D": str(policy),
    }
    done = _run(project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installing netperf from Debian non-free" in done.stdout
    recorded = calls.read_text().splitlines()
    assert any(c.startswith("dpkg -i ") and c.endswith("netperf_2.7.0-stand-in_amd64.deb") for c in recorded)
    if own_policy:  # the machine's own policy decides, and stays as it was
        assert "postinst: netserver started" in recorded
        assert policy.read_text() == machines_own
    else:  # meshperf's policy for the install only: no netserver started, and the policy gone again
        assert "postinst: start denied" in recorded
        assert not policy.exists()
