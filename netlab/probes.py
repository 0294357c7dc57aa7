"""Readiness probes as the kubelet runs them: tcpSocket from the node, exec inside the container.

A tcpSocket probe is a TCP connect from the node's network namespace (where the kubelet lives)
to the pod's IP; the socket is made by a thread that has entered that namespace, since a socket
belongs to the namespace it was created in. An exec probe runs the command in the container's
namespaces and root, as its user, with its env (`nsenter`), and succeeds on exit 0.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel

from netlab.namespaces import output_of

CLONE_NEWNET = 0x40000000
NSENTER = "/usr/bin/nsenter"


class ProbeSpec(BaseModel):
    """A readinessProbe's timing (the API's defaults) and its action."""

    initial_delay_s: float = 0
    period_s: float = 10
    timeout_s: float = 1
    success_threshold: int = 1
    failure_threshold: int = 3
    tcp_port: int | None = None
    tcp_host: str | None = None
    exec_argv: list[str] | None = None


def probe_spec(probe: Mapping[str, Any], ports: Mapping[str, int]) -> ProbeSpec:
    """A probe object read as the kubelet reads it; a named port is looked up in the container's ports."""
    timing = ProbeSpec(
        initial_delay_s=probe.get("initialDelaySeconds", 0),
        period_s=probe.get("periodSeconds", 10),
        timeout_s=probe.get("timeoutSeconds", 1),
        success_threshold=probe.get("successThreshold", 1),
        failure_threshold=probe.get("failureThreshold", 3),
    )
    if tcp := probe.get("tcpSocket"):
        port = tcp["port"]
        if isinstance(port, str) and not port.isdigit():
            if port not in ports:
                raise ValueError(f"tcpSocket port {port!r} is not a named port of the container")
            port = ports[port]
        return timing.model_copy(update={"tcp_port": int(port), "tcp_host": tcp.get("host")})
    if ex := probe.get("exec"):
        return timing.model_copy(update={"exec_argv": [str(a) for a in ex["command"]]})
    kinds = sorted(set(probe) & {"httpGet", "grpc"})
    raise ValueError(f"{', '.join(kinds) or 'this'} probes are not supported in the lab")


class NetnsConnector:
    """TCP connects from one network namespace: one thread per namespace, entered once."""

    def __init__(self) -> None:
        self._executors: dict[str, ThreadPoolExecutor] = {}

    def _executor(self, netns: str) -> ThreadPoolExecutor:
        if netns not in self._executors:
            self._executors[netns] = ThreadPoolExecutor(1, f"netns-{netns}", _enter_netns, (netns,))
        return self._executors[netns]

    async def connect(self, netns: str, host: str, port: int, timeout_s: float) -> str | None:
        """None when the port accepts a connection, else why not."""
        loop = asyncio.get_running_loop()
        try:
            sock = await loop.run_in_executor(self._executor(netns), _socket)
        except OSError as exc:
            return f"cannot enter {netns}: {exc}"
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), timeout_s)
        except TimeoutError:
            return f"tcp {host}:{port}: no answer within {timeout_s:g} s"
        except OSError as exc:
            return f"tcp {host}:{port}: {exc.strerror or exc}"
        finally:
            sock.close()
        return None

    def close(self) -> None:
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)
        self._executors.clear()


def _enter_netns(netns: str) -> None:
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
    finally:
        os.close(fd)


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


def nsenter_argv(pid: int, uid: int, gid: int, argv: list[str]) -> list[str]:
    """A command in a running container: its mount, PID, network, UTS and IPC namespaces, root and cwd."""
    return [NSENTER, "-t", str(pid), "-m", "-p", "-n", "-u", "-i", "-r", "-w", "-S", str(uid), "-G", str(gid), *argv]


async def exec_in(
    pid: int, uid: int, gid: int, argv: list[str], env: Mapping[str, str], timeout_s: float
) -> tuple[int, str]:
    """(exit code, output) of a command run in a container; -1 when it was cut at the timeout."""
    return await output_of(nsenter_argv(pid, uid, gid, argv), timeout_s, env)
