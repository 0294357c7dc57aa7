"""SSH hosts as network namespaces: each host its own namespace, address and sshd, all on a bridge.

The bridge sits in a namespace of its own and the controller (the code under test) runs in
another namespace on it, so no packet touches the machine's own namespace. Used by the
tests and by bench/hosts_vs_ansible. Needs root.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hosts.connectors.quiet_asyncssh import asyncssh
from netlab.namespaces import claim, release

SSHD = "/usr/sbin/sshd"
SUBNET = "10.251"
CONTROLLER_ADDRESS = f"{SUBNET}.0.1"


def host_address(i: int) -> str:
    return f"{SUBNET}.{1 + i // 250}.{1 + i % 250}"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass
class LabHost:
    name: str
    namespace: str
    address: str
    workdir: Path
    host_key: asyncssh.SSHKey

    def known_hosts_line(self) -> str:
        return f"{self.address} {self.host_key.export_public_key().decode().strip()}"


class SshLab:
    def __init__(self, count: int, workdir: Path, prefix: str | None = None) -> None:
        self.count = count
        self.workdir = workdir
        self.prefix = prefix or f"mph{secrets.token_hex(3)}-"
        self.bridge_ns = f"{self.prefix}br"
        self.controller_ns = f"{self.prefix}ctl"
        self.hosts: list[LabHost] = []
        self.namespaces: list[str] = []
        self.client_key = workdir / "client_key"
        self.known_hosts = workdir / "known_hosts"

    # --- building -------------------------------------------------------------------------

    def start(self) -> SshLab:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        claim(self.prefix.rstrip("-"))  # the leak guard's record: released only once every namespace is gone
        Path("/run/sshd").mkdir(exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(self.client_key))
        self.client_key.chmod(0o600)
        (self.workdir / "authorized_keys").write_bytes(key.export_public_key())
        self._add_ns(self.bridge_ns)
        _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
        self._attach(self.controller_ns, 0, f"{CONTROLLER_ADDRESS}/16")
        for i in range(self.count):
            name = f"h{i}"
            ns = f"{self.prefix}{name}"
            host_dir = self.workdir / name
            host_dir.mkdir(exist_ok=True)
            host_key = asyncssh.generate_private_key("ssh-ed25519")
            host_key.write_private_key(str(host_dir / "host_key"))
            (host_dir / "host_key").chmod(0o600)
            host = LabHost(name, ns, host_address(i), host_dir, host_key)
            self._attach(ns, i + 1, f"{host.address}/16")
            self._start_sshd(host)
            self.hosts.append(host)
        self.known_hosts.write_text("".join(h.known_hosts_line() + "\n" for h in self.hosts))
        self._wait_listening()

    def _add_ns(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self.namespaces.append(ns)
        _ip("-n", ns, "link", "set", "lo", "up")

    def _attach(self, ns: str, index: int, cidr: str) -> None:
        self._add_ns(ns)
        port = f"p{index}"
        _ip("-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("-n", self.bridge_ns, "link", "set", port, "master", "br0", "up")
        _ip("-n", ns, "addr", "add", cidr, "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")

    def _start_sshd(self, host: LabHost) -> None:
        config = host.workdir / "sshd_config"
        config.write_text(
            f"ListenAddress {host.address}\nPort 22\nHostKey {host.workdir / 'host_key'}\n"
            f"PidFile {host.workdir / 'sshd.pid'}\nAuthorizedKeysFile {self.workdir / 'authorized_keys'}\n"
            "UsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nStrictModes no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n"
        )
        subprocess.run(
            ["ip", "netns", "exec", host.namespace, SSHD, "-f", str(config), "-E", str(host.workdir / "sshd.log")],
            check=True,
            timeout=30,
        )

    def _wait_listening(self, limit_s: float = 20.0) -> None:
        deadline = time.monotonic() + limit_s
        waiting = list(self.hosts)
        while waiting:
            waiting = [h for h in waiting if not (h.workdir / "sshd.pid").exists()]
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start on {', '.join(h.name for h in waiting)}")
            time.sleep(0.02)

    # --- using ----------------------------------------------------------------------------

    def in_controller(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run a command in the controller's namespace (where the code under test must run)."""
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            ["ip", "netns", "exec", self.controller_ns, *argv], text=True, capture_output=True, **kwargs
        )

    def in_host(self, host: LabHost, argv: list[str]) -> str:
        """Look at a host from outside, without the network (its namespace, our filesystem)."""
        return subprocess.run(
            ["ip", "netns", "exec", host.namespace, *argv], text=True, capture_output=True, check=True, timeout=30
        ).stdout

    def stop_sshd(self, host: LabHost) -> None:
        pid = int((host.workdir / "sshd.pid").read_text())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)

    def inventory(self, **defaults: object) -> dict[str, object]:
        """An inventory document with each host's per-host paths as variables."""
        return {
            "defaults": {
                "user": "root",
                "key": str(self.client_key),
                "known_hosts": str(self.known_hosts),
                "connect_timeout": 10,
                **defaults,
            },
            "hosts": {
                h.name: {
                    "address": h.address,
                    "vars": {"dir": str(h.workdir), "sysctl_file": str(h.workdir / "sysctl.conf")},
                }
                for h in self.hosts
            },
        }

    # --- removing -------------------------------------------------------------------------

    def kill_processes(self) -> None:
        """Kill every process in the lab's namespaces (sshd, its sessions, Ansible's ControlPersist masters)."""
        for ns in self.namespaces:
            self.kill_processes_in(ns)

    def kill_processes_in(self, ns: str) -> None:
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=30).stdout
        for pid in pids.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)

    def stop(self) -> None:
        self.kill_processes()
        deadline = time.monotonic() + 10
        for ns in reversed(self.namespaces):
            while time.monotonic() < deadline:
                left = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=30).stdout
                if not left.split():
                    break
                self.kill_processes()
                time.sleep(0.05)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30).stdout
        if not any(line.startswith(self.prefix) for line in existing.splitlines()):
            release(self.prefix.rstrip("-"))
        self.namespaces.clear()
