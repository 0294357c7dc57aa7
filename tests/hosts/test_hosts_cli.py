"""`python -m hosts`: bad input is one line and exit 2 before any host is touched; a failed host is 1.

The hosts here are `connection: local` (this machine, no network), so that a deploy that ran
would leave a file behind: the bad-input cases check that none did.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def hosts_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hosts", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def files(tmp_path: Path, inventory: object, operations: list[object]) -> tuple[str, str]:
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "deploy.yaml").write_text(yaml.safe_dump({"operations": operations}))
    return str(tmp_path / "inventory.yaml"), str(tmp_path / "deploy.yaml")


def local_inventory(*names: str) -> dict[str, object]:
    return {"defaults": {"connection": "local"}, "hosts": {n: {"address": "localhost"} for n in names}}


def write_marker(tmp_path: Path) -> dict[str, object]:
    return {"file": {"path": str(tmp_path / "marker"), "content": "applied\n"}}


def test_a_local_deploy_applies_and_exits_0(tmp_path: Path) -> None:
    inventory, deploy = files(tmp_path, local_inventory("me"), [write_marker(tmp_path)])
    done = hosts_cli("apply", inventory, deploy, "--json", str(tmp_path / "report.json"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "marker").read_text() == "applied\n" and (tmp_path / "report.json").exists()


def test_a_failed_host_exits_1(tmp_path: Path) -> None:
    inventory, deploy = files(tmp_path, local_inventory("me"), [{"shell": {"run": "exit 3"}}])
    done = hosts_cli("apply", inventory, deploy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 hosts, 0 changed, 1 failed" in done.stdout


def test_verbose_shows_each_change_and_its_commands(tmp_path: Path) -> None:
    inventory, deploy = files(tmp_path, local_inventory("me"), [write_marker(tmp_path)])
    quiet = hosts_cli("apply", inventory, deploy)
    (tmp_path / "marker").unlink()  # changed again on the second run
    loud = hosts_cli("apply", inventory, deploy, "-v")
    assert quiet.returncode == loud.returncode == 0, quiet.stderr + loud.stderr
    assert len(quiet.stderr.splitlines()) == 1 and "changed=1" in quiet.stderr  # one line per host, no more
    changed = [line for line in loud.stderr.splitlines() if line.startswith("    changed ")]
    assert len(changed) == 1 and str(tmp_path / "marker") in changed[0]
    assert any(line.startswith("      $ ") for line in loud.stderr.splitlines())


@pytest.mark.parametrize(
    ("inventory", "operations", "options", "line"),
    [
        (
            local_inventory("me"),
            [{"sysctl": "net.ipv4.ip_forward=1"}],
            (),
            "error: {deploy}: me: operations[1] (sysctl): its arguments must be a mapping",
        ),
        ({"hosts": {}}, [], (), "error: {inventory}: hosts: no hosts"),
        ({}, [], (), "error: {inventory}: hosts: no hosts"),
        (local_inventory("me"), [], ("--forks", "0"), "error: --forks 0: must be at least 1"),
        (local_inventory("me"), [], ("--forks", "-1"), "error: --forks -1: must be at least 1"),
        (
            local_inventory("me"),
            [],
            ("--json", "{tmp}/no/such/folder/report.json"),
            "error: --json {tmp}/no/such/folder/report.json: no folder {tmp}/no/such/folder",
        ),
        (local_inventory("me"), [], ("--json", "{tmp}"), "error: --json {tmp}: is a folder, not a file"),
        (local_inventory("me"), [], ("--limit", "nobody"), "error: --limit nobody: no such host or group"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_applied(
    tmp_path: Path, inventory: object, operations: list[object], options: tuple[str, ...], line: str
) -> None:
    inventory_file, deploy = files(tmp_path, inventory, [write_marker(tmp_path), *operations])
    options = tuple(o.replace("{tmp}", str(tmp_path)) for o in options)
    done = hosts_cli("apply", inventory_file, deploy, *options)
    expected = line.replace("{inventory}", inventory_file).replace("{deploy}", deploy).replace("{tmp}", str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == "" and not (tmp_path / "marker").exists()


def test_no_dependency_warning_reaches_a_users_terminal() -> None:
    """cryptography >= 51 warns ten times about DSA when asyncssh is imported (issue 19, item 1)."""
    done = subprocess.run(
        [sys.executable, "-W", "always", "-m", "hosts", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert done.stderr == "", done.stderr
