"""The seam between dynamic providers and machines: `run(command) -> (rc, stdout, stderr)`.

A dynamic provider gets a host description as plain data (it crosses Pulumi's serializer)
and opens a runner on it for the length of one call: the local machine through
`hosts`' local connector, or an SSH host through its asyncssh connector (host key checked
against a known_hosts file, always).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pulumi

from hosts.connectors import Connector, HostError, LocalConnector, SSHConnector
from hosts.inventory import Host, HostKeyPolicy

Run = Callable[[str], Awaitable[tuple[int, str, str]]]

LOCAL: dict[str, Any] = {"kind": "local"}
# How long one command may take where the host does not say (spec.kubernetes.ClusterSettings.command_timeout_s).
COMMAND_TIMEOUT_S = 3600.0
# Keys of a host that say how to run commands there, not which machine it is.
RUN_KEYS = ("command_timeout_s",)


class RunError(RuntimeError):
    """A command on a host failed; str() is one line with the host, the command and why."""


def host_props(host: object, command_timeout_s: float | None = None) -> dict[str, Any]:
    """A settings host ("local" or an SshHost model's dump) as the plain dict providers get,
    with the command timeout to use there."""
    if host == "local" or host is None:
        out = dict(LOCAL)
    else:
        assert isinstance(host, Mapping)
        out = {"kind": "ssh", **{k: v for k, v in host.items() if v is not None}}
    if command_timeout_s is not None:
        out["command_timeout_s"] = command_timeout_s
    return out


def host_key(host: object) -> object:
    """Which machine a host is (what a change of re-creates things on): the host without its run settings."""
    if not isinstance(host, Mapping):
        return host
    return {k: v for k, v in host.items() if k not in RUN_KEYS}


def host_label(host: Mapping[str, Any]) -> str:
    if host.get("kind") == "ssh":
        return f"{host.get('user', 'root')}@{host['address']}:{host.get('port', 22)}"
    return "localhost"


def connector_for(host: Mapping[str, Any]) -> Connector:
    timeout = float(host.get("command_timeout_s", COMMAND_TIMEOUT_S))
    if host.get("kind", "local") == "local":
        return LocalConnector("localhost", command_timeout=timeout)
    return SSHConnector(
        Host(
            name=str(host["address"]).replace(":", "-"),
            connection="ssh",
            address=str(host["address"]),
            port=int(host.get("port", 22)),
            user=host.get("user", "root"),
            key=Path(host["key"]) if host.get("key") else None,
            known_hosts=Path(host["known_hosts"]) if host.get("known_hosts") else None,
            host_key_policy=HostKeyPolicy.STRICT,
            command_timeout=timeout,
        )
    )


@asynccontextmanager
async def open_runner(host: Mapping[str, Any]) -> AsyncIterator[Run]:
    """A runner on `host` for the length of the block; the connection is closed after it."""
    connector = connector_for(host)

    async def run(command: str) -> tuple[int, str, str]:
        try:
            result = await connector.run(command)
        except HostError as exc:
            raise RunError(str(exc)) from None
        return result.exit_status, result.stdout, result.stderr

    try:
        yield run
    finally:
        await connector.close()


async def check(run: Run, command: str, what: str) -> str:
    """Run a command that must succeed; its stdout, or RunError naming `what` and stderr's last line."""
    rc, out, err = await run(command)
    if rc != 0:
        last = (err.strip() or out.strip()).splitlines()[-1:] or [f"exit status {rc}"]
        raise RunError(f"{what} failed (exit {rc}): {last[0]}")
    return out


# How often a long command says it is still running.
HEARTBEAT_S = 30.0


def progress(message: str) -> None:
    """One progress line for the Pulumi CLI.

    A dynamic provider runs in its own process with no engine connection and no Resource
    object, so `pulumi.log.info` writes "info: <message>" to that process's stderr, which the
    engine shows line by line as info (pulumi's pkg/resource/plugin/plugin.go, `runtrace`).
    Each message therefore names its resource itself.
    """
    pulumi.log.info(message)


async def check_long(run: Run, command: str, what: str, heartbeat_s: float = HEARTBEAT_S) -> str:
    """`check` for a command that takes minutes: says when it starts, every `heartbeat_s` while it runs, and ends."""
    started = time.monotonic()
    progress(f"{what}: started")
    task = asyncio.ensure_future(check(run, command, what))
    while True:
        done, _ = await asyncio.wait({task}, timeout=heartbeat_s)
        if done:
            break
        progress(f"{what}: still running after {time.monotonic() - started:.0f} s")
    out = task.result()
    progress(f"{what}: done in {time.monotonic() - started:.0f} s")
    return out
