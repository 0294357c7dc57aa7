"""`python -m hosts`: bad input is one line and exit 2 before any host is touched; a failed host is 1.

The hosts here are `connection: local` (this machine, no network), so that a deploy that ran
would leave a file behind: the bad-input cases check that none did.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
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
        (
            local_inventory("me"),
            [{"shell": {"run": "echo ${nope}", "raw_vars": ["nope"]}}],
            (),
            "error: {deploy}: me: operations[1] (shell): host has no variable 'nope'",
        ),
        (
            local_inventory("me"),
            [{"shell": {"run": "echo", "raw_vars": "host"}}],
            (),
            "error: {deploy}: me: operations[1] (shell): raw_vars: a list of variable names, like [script]",
        ),
        (
            local_inventory("me"),
            [{"file": {"path": "/x", "content": "", "raw_vars": ["host"]}}],
            (),
            "error: {deploy}: me: operations[1] (file): raw_vars: unknown key",
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


SECRET = "token=s3cr3t-value\n"


def test_a_files_content_is_never_printed_or_saved_and_the_report_is_private(tmp_path: Path) -> None:
    """Issue 23 (4): -v, --check and --json show `<N bytes>` for a file's content; the report is 0600."""
    secret = {"file": {"path": str(tmp_path / "app.conf"), "content": SECRET, "mode": "0600"}}
    inventory, deploy = files(tmp_path, local_inventory("me"), [secret])
    report = tmp_path / "report.json"
    runs = [hosts_cli("apply", inventory, deploy, "--check", "-v", "--json", str(report))]
    check_report = report.read_text()
    runs.append(hosts_cli("apply", inventory, deploy, "-v", "--json", str(report)))
    assert all(done.returncode == 0 for done in runs), [d.stderr for d in runs]
    assert (tmp_path / "app.conf").read_text() == SECRET  # the content did reach the host
    for text in (*(d.stdout + d.stderr for d in runs), check_report, report.read_text()):
        assert "s3cr3t" not in text, text
    assert all(f"<{len(SECRET)} bytes>" in d.stderr for d in runs)  # -v shows the command, with the size
    (result,) = json.loads(report.read_text())["hosts"][0]["results"]
    assert result["status"] == "changed" and f"<{len(SECRET)} bytes>" in result["commands"][0]
    assert report.stat().st_mode & 0o777 == 0o600


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Path]:
    report = tmp_path / "report.json"
    report.write_text("{}")
    subprocess.run(["chattr", "+i", str(report)], check=True, timeout=30)
    try:
        yield report
    finally:
        subprocess.run(["chattr", "-i", str(report)], check=True, timeout=30)


def test_an_immutable_json_file_is_refused_before_anything_is_applied(tmp_path: Path, immutable: Path) -> None:
    """Issue 19 (2): every output path is checked before the first change (here root may write nowhere)."""
    inventory, deploy = files(tmp_path, local_inventory("me"), [write_marker(tmp_path)])
    done = hosts_cli("apply", inventory, deploy, "--json", str(immutable))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"error: --json {immutable}: cannot write it: Operation not permitted\n"
    assert done.stdout == "" and not (tmp_path / "marker").exists()


def test_a_json_file_under_proc_is_refused_before_anything_is_applied(tmp_path: Path) -> None:
    inventory, deploy = files(tmp_path, local_inventory("me"), [write_marker(tmp_path)])
    done = hosts_cli("apply", inventory, deploy, "--json", "/proc/report.json")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: --json /proc/report.json: cannot write in /proc: ")
    assert done.stderr.count("\n") == 1 and done.stdout == "" and not (tmp_path / "marker").exists()


def test_a_report_that_cannot_be_written_after_the_changes_is_one_line_and_the_summary_still_shows(
    tmp_path: Path,
) -> None:
    """The deploy itself takes the report's folder away: the changes are made, so say it and show them."""
    out = tmp_path / "out"
    out.mkdir()
    remove = {"shell": {"run": f"rm -r {out}"}}
    inventory, deploy = files(tmp_path, local_inventory("me"), [write_marker(tmp_path), remove])
    done = hosts_cli("apply", inventory, deploy, "--json", str(out / "report.json"))
    assert (tmp_path / "marker").exists()
    assert "1 hosts, 2 changed, 0 failed" in done.stdout, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: --json {out / 'report.json'}: the report was not written: No such file or directory"]
    assert "Traceback" not in done.stderr and done.returncode == 1


@pytest.mark.parametrize("limit", ["", ",", " , "])
def test_an_empty_limit_is_refused(tmp_path: Path, limit: str) -> None:
    """Issue 19 (4): `--limit ''` (say, an empty shell variable) must not mean every host."""
    inventory, deploy = files(tmp_path, local_inventory("me", "you"), [write_marker(tmp_path)])
    done = hosts_cli("apply", inventory, deploy, "--limit", limit)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"error: --limit {limit!r}: empty (name hosts or groups, or leave --limit out for all)\n"
    assert done.stdout == "" and not (tmp_path / "marker").exists()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty: a deploy names operations or facts to gather"),
        ("# nothing yet\n", "empty: a deploy names operations or facts to gather"),
        ("{}\n", "nothing to do: no operations and no gather"),
        ("operations: []\n", "nothing to do: no operations and no gather"),
        ("- file: {}\n", "a deploy is a mapping of gather and operations, not a list"),
    ],
)
def test_an_empty_deploy_is_refused(tmp_path: Path, text: str, why: str) -> None:
    inventory, deploy = files(tmp_path, local_inventory("me"), [])
    Path(deploy).write_text(text)
    done = hosts_cli("apply", inventory, deploy)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"error: {deploy}: {why}\n" and done.stdout == ""


def test_a_key_given_twice_is_refused_naming_it_and_its_lines(tmp_path: Path) -> None:
    """Issue 19 (4): PyYAML keeps the last of two equal keys without a word; an inventory or deploy refuses."""
    inventory, deploy = files(tmp_path, local_inventory("me"), [write_marker(tmp_path)])
    marker = tmp_path / "marker"
    Path(deploy).write_text(f"operations:\n  - file: {{path: {marker}, content: a}}\noperations: []\n")
    done = hosts_cli("apply", inventory, deploy)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"error: {deploy}:3:1: not valid YAML: key 'operations' is given twice (first on line 1)\n"
    Path(inventory).write_text("hosts:\n  me: {connection: local}\n  me: {address: 10.0.0.1}\n")
    Path(deploy).write_text(f"operations:\n  - file: {{path: {marker}, content: a}}\n")
    done = hosts_cli("apply", inventory, deploy)
    assert done.stderr == f"error: {inventory}:3:3: not valid YAML: key 'me' is given twice (first on line 2)\n"
    assert done.returncode == 2 and not marker.exists()
