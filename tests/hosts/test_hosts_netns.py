"""The executor against real OpenSSH servers: 10 hosts, each a network namespace with its own sshd.

The CLI runs inside the lab's controller namespace, so no packet touches the machine's own
network. Needs root and /usr/sbin/sshd.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest
import yaml
from sshlab import SshLab, host_address

ROOT = Path(__file__).resolve().parents[2]
SYSCTLS = {"net.ipv4.tcp_fin_timeout": "30", "net.ipv4.tcp_keepalive_time": "600", "net.ipv4.tcp_syn_retries": "4"}
LINE = "10.251.0.1 controller"
DEPLOY = {
    "gather": ["os_release", "kernel"],
    "operations": [
        *({"sysctl": {"key": k, "value": v, "persist_file": "${sysctl_file}"}} for k, v in SYSCTLS.items()),
        {"file": {"path": "${dir}/motd", "content": "meshperf\n", "mode": "0640"}},
        {"line": {"path": "${dir}/hosts.conf", "line": LINE}},
    ],
}


@pytest.fixture
def lab(tmp_path):
    """A fresh lab per test (new namespaces: default sysctls, no files), so no test leans on another's state."""
    lab = SshLab(10, tmp_path / "sshlab")
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


def apply_cli(lab: SshLab, inventory: dict, deploy: dict, *args: str) -> tuple[int, dict, str]:
    d = lab.workdir
    (d / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    (d / "deploy.yaml").write_text(yaml.safe_dump(deploy))
    argv = [sys.executable, "-m", "hosts", "apply", str(d / "inventory.yaml"), str(d / "deploy.yaml")]
    proc = lab.in_controller([*argv, "--json", str(d / "report.json"), *args], cwd=str(ROOT), timeout=120)
    report = json.loads((d / "report.json").read_text())
    return proc.returncode, report, proc.stdout + proc.stderr


def live_sysctls(lab: SshLab, host) -> list[str]:
    return lab.in_host(host, ["cat", *(f"/proc/sys/{k.replace('.', '/')}" for k in SYSCTLS)]).split()


def test_check_apply_and_again(lab):
    before = [live_sysctls(lab, h) for h in lab.hosts]
    status, report, output = apply_cli(lab, lab.inventory(), DEPLOY, "--check")
    assert status == 0, output
    assert all(r["status"] == "changed" for h in report["hosts"] for r in h["results"])
    assert [live_sysctls(lab, h) for h in lab.hosts] == before
    assert not any((h.workdir / "motd").exists() or (h.workdir / "sysctl.conf").exists() for h in lab.hosts)
    assert "check mode, nothing was changed: 10 hosts, 50 would change, 0 failed" in output

    status, report, output = apply_cli(lab, lab.inventory(), DEPLOY)
    assert status == 0, output
    assert "10 hosts, 50 changed, 0 failed" in output
    for h in lab.hosts:
        assert live_sysctls(lab, h) == list(SYSCTLS.values())
        assert (h.workdir / "sysctl.conf").read_text() == "".join(f"{k} = {v}\n" for k, v in SYSCTLS.items())
        assert (h.workdir / "motd").read_text() == "meshperf\n"
        assert (h.workdir / "motd").stat().st_mode & 0o777 == 0o640
        assert (h.workdir / "hosts.conf").read_text() == LINE + "\n"
    assert all(h["facts"]["os_release"]["ID"] for h in report["hosts"])

    status, report, output = apply_cli(lab, lab.inventory(), DEPLOY)
    assert status == 0, output
    assert "10 hosts, 0 changed, 0 failed" in output


def test_failures_are_reported_while_the_others_complete(lab):
    """A changed host key, a host that is down and a hanging command, in one run with 8 healthy hosts."""
    inventory = lab.inventory()
    hosts = inventory["hosts"]
    for entry in hosts.values():
        entry["vars"]["skip_hang"] = "true"
    # h3's known key is another host's: a mismatch, as when a host was rebuilt or someone is in between
    wrong = lab.workdir / "known_hosts_wrong"
    wrong.write_text(
        lab.known_hosts.read_text().replace(
            lab.hosts[3].known_hosts_line(),
            f"{lab.hosts[3].address} {lab.hosts[4].known_hosts_line().split(' ', 1)[1]}",
        )
    )
    hosts["h3"]["known_hosts"] = str(wrong)
    hosts["h5"]["command_timeout"] = 5  # room for its facts on a loaded machine; the sleep is cut
    hosts["h5"]["vars"]["skip_hang"] = "false"
    hosts["down"] = {
        "address": host_address(200),
        "connect_timeout": 2,
        "vars": {"dir": "/nonexistent", "sysctl_file": "/x", "skip_hang": "true"},
    }
    deploy = {**DEPLOY, "operations": [{"shell": {"run": "sleep 60", "unless": "${skip_hang}"}}, *DEPLOY["operations"]]}

    status, _, output = apply_cli(lab, lab.inventory(), DEPLOY)  # this test's own starting state: applied
    assert status == 0, output
    t0 = time.monotonic()
    status, report, output = apply_cli(lab, inventory, deploy)
    elapsed = time.monotonic() - t0
    by_host = {h["host"]: h for h in report["hosts"]}
    assert status == 1, output
    assert elapsed < 30
    assert by_host["h3"]["error"].startswith(
        f"host key refused: the key of {lab.hosts[3].address}:22 does not match the one in {wrong}"
    )
    assert by_host["down"]["error"] in (
        f"no SSH answer from {host_address(200)}:22 within 2s",
        f"cannot connect to {host_address(200)}:22: No route to host",
    )
    h5 = by_host["h5"]["results"]
    assert h5[0] == {
        "label": "shell sleep 60",
        "status": "failed",
        "reason": "command timed out after 5s: sh -s",
        "commands": ["sleep 60"],
    }
    assert all(r["status"] == "failed" and r["reason"].startswith("not run") for r in h5[1:])
    healthy = [h for name, h in by_host.items() if name not in ("h3", "h5", "down")]
    assert len(healthy) == 8
    assert all(h["error"] is None and all(r["status"] == "ok" for r in h["results"]) for h in healthy)
    assert "unreachable: host key refused" in output
    assert re.search(r"^11 hosts, 0 changed, 3 failed, in [\d.]+s$", output, re.MULTILINE), output


@pytest.fixture
def one_host(tmp_path):
    lab = SshLab(1, tmp_path / "sshlab")
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


def test_a_variable_in_a_shell_operation_is_data_not_code(one_host):
    """Issue 23 (5): a host variable `hello; id > FILE #` in `run` and `unless` is one quoted word on a real
    host over real sshd: `id` never runs. `raw_vars` names the variables a deploy wants as code."""
    lab = one_host
    host = lab.hosts[0]
    pwned, unless_pwned = host.workdir / "pwned", host.workdir / "pwned-by-unless"
    inventory = lab.inventory()
    variables = inventory["hosts"]["h0"]["vars"]
    variables["greeting"] = f"hello; id > {pwned} #"
    variables["probe"] = f"false; id > {unless_pwned}"
    variables["code"] = f"id -u > {host.workdir / 'raw'}"
    deploy = {
        "operations": [
            {"shell": {"run": "printf '%s\\n' ${greeting} > ${dir}/said"}},
            {"shell": {"run": "touch ${dir}/checked", "unless": "test -e ${probe}"}},
            {"shell": {"run": "${code}", "raw_vars": ["code"]}},
        ]
    }
    status, report, output = apply_cli(lab, inventory, deploy)
    assert not pwned.exists() and not unless_pwned.exists(), "a variable ran as code"
    assert status == 0, output
    assert (host.workdir / "said").read_text() == f"hello; id > {pwned} #\n"
    assert (host.workdir / "checked").exists()  # `test -e 'false; id > ...'`: no such file, so it ran
    assert (host.workdir / "raw").read_text() == "0\n"  # the opt-in: inserted as code, run as root
    assert [r["status"] for r in report["hosts"][0]["results"]] == ["changed"] * 3


def test_a_large_file_goes_to_a_real_sshd_by_sftp_and_replaces_a_link(one_host):
    """A file above the inline limit is uploaded (sftp, OpenSSH's internal-sftp): created new and private,
    renamed over its path; its content is in no report."""
    lab = one_host
    host = lab.hosts[0]
    victim = host.workdir / "victim"
    victim.write_text("untouched\n")
    (host.workdir / "big.conf").symlink_to(victim)
    content = "secret-" + "x" * (70 * 1024) + "\n"
    deploy = {"operations": [{"file": {"path": "${dir}/big.conf", "content": content, "mode": "0640"}}]}
    status, report, output = apply_cli(lab, lab.inventory(), deploy, "-v")
    assert status == 0, output
    big = host.workdir / "big.conf"
    assert not big.is_symlink() and big.read_text() == content and big.stat().st_mode & 0o777 == 0o640
    assert victim.read_text() == "untouched\n"
    assert "secret-" not in output and "secret-" not in json.dumps(report)
    assert report["hosts"][0]["results"][0]["commands"] == [f"upload {len(content)} bytes to {big}"]
