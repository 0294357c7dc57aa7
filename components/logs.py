"""Reading raw logs back: by exec into the log viewers (kubernetes_asyncio), or from a folder.

A reader returns a viewer's log folder as {file name: text}. The exec reader lists the
folder and cats each file in its own exec, reading the stdout, stderr and error channels
apart (the error channel carries the exit status). A file that vanished between the
listing and the cat is left out; a viewer pod that is gone, or not running, raises
ViewerGoneError; a read that outlasts its time raises LogReadTimeoutError. Both are LogReadError.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from results.files import read_regular, regular_files

STDOUT, STDERR, ERROR = 1, 2, 3
MISSING_RC = 3  # the list command's exit status when the log folder does not exist


class LogReadError(RuntimeError):
    """Logs could not be read from a viewer; str() names it."""


class ViewerGoneError(LogReadError):
    pass


class LogReadTimeoutError(LogReadError):
    pass


@dataclass(frozen=True)
class Viewer:
    namespace: str
    pod: str
    container: str
    logdir: str

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.pod}"


@dataclass(frozen=True)
class ExecResult:
    rc: int
    stdout: str
    stderr: str


Exec = Callable[[dict[str, Any]], Awaitable[ExecResult]]


def list_command(logdir: str) -> list[str]:
    d = shlex.quote(logdir)
    script = f'cd {d} 2>/dev/null || exit {MISSING_RC}; for f in *; do [ -f "$f" ] && printf "%s\\n" "$f"; done; exit 0'
    return ["sh", "-c", script]


def cat_command(logdir: str, name: str) -> list[str]:
    return ["cat", "--", f"{logdir.rstrip('/')}/{name}"]


def exec_request(viewer: Viewer, command: list[str]) -> dict[str, Any]:
    """Keyword arguments of CoreV1Api.connect_get_namespaced_pod_exec for one non-interactive command."""
    return {
        "name": viewer.pod,
        "namespace": viewer.namespace,
        "container": viewer.container,
        "command": command,
        "stdin": False,
        "stdout": True,
        "stderr": True,
        "tty": False,
    }


def exit_status(error_channel: str) -> int:
    """The v4 channel protocol's status object -> exit code (Success -> 0)."""
    if not error_channel.strip():
        return 0
    status = json.loads(error_channel)
    if status.get("status") == "Success":
        return 0
    for cause in status.get("details", {}).get("causes", []):
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", 1))
    return 1


def demux(frames: Iterable[bytes | str]) -> ExecResult:
    """Split v4.channel.k8s.io frames (first byte: channel) into stdout, stderr and exit status."""
    parts: dict[int, list[str]] = {STDOUT: [], STDERR: [], ERROR: []}
    for frame in frames:
        data = frame.encode() if isinstance(frame, str) else frame
        if len(data) < 1:
            continue
        channel = data[0]
        if channel in parts:
            parts[channel].append(data[1:].decode("utf-8", errors="replace"))
    return ExecResult(exit_status("".join(parts[ERROR])), "".join(parts[STDOUT]), "".join(parts[STDERR]))


class ExecLogReader:
    """A viewer's log folder by exec; `exec_fn` runs one request (kube_exec in production)."""

    def __init__(self, exec_fn: Exec, viewer: Viewer, timeout_s: float = 120.0, concurrency: int = 4) -> None:
        self.exec_fn = exec_fn
        self.viewer = viewer
        self.timeout_s = timeout_s
        self.concurrency = concurrency

    async def read(self) -> dict[str, str]:
        try:
            return await asyncio.wait_for(self._read(), self.timeout_s)
        except TimeoutError:
            raise LogReadTimeoutError(f"reading logs from {self.viewer.label} took over {self.timeout_s:g}s") from None

    async def _read(self) -> dict[str, str]:
        listing = await self.exec_fn(exec_request(self.viewer, list_command(self.viewer.logdir)))
        if listing.rc == MISSING_RC:
            return {}
        if listing.rc != 0:
            raise LogReadError(f"listing {self.viewer.logdir} in {self.viewer.label} failed: {listing.stderr.strip()}")
        names = [n for n in listing.stdout.splitlines() if n]
        gate = asyncio.Semaphore(self.concurrency)

        async def one(name: str) -> tuple[str, str | None]:
            async with gate:
                got = await self.exec_fn(exec_request(self.viewer, cat_command(self.viewer.logdir, name)))
            return name, got.stdout if got.rc == 0 else None  # gone since the listing: left out

        files = await asyncio.gather(*(one(n) for n in names))
        return {name: text for name, text in files if text is not None}


class FolderLogReader:
    """A local log folder (a lab run, or a copy of a viewer's) with the same interface.

    The folder stands for the viewer itself: a folder that is not there is a viewer that is
    gone (ViewerGoneError), never an empty set of logs.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    async def read(self) -> dict[str, str]:
        if not self.folder.is_dir():
            raise ViewerGoneError(f"log folder {self.folder} is gone")
        texts = {p.name: read_regular(p) for p in regular_files(self.folder) if p.parent == self.folder}
        return {name: text for name, text in texts.items() if text is not None}


def kube_exec(kubeconfig: str, context: str | None = None) -> Exec:
    """An Exec over the Kubernetes API (websocket, v4 channels), one connection per request."""
    from aiohttp import WSServerHandshakeError
    from kubernetes_asyncio import client, config
    from kubernetes_asyncio.client.exceptions import ApiException
    from kubernetes_asyncio.stream import WsApiClient

    async def run(request: dict[str, Any]) -> ExecResult:
        configuration = client.Configuration()
        await config.load_kube_config_from_dict(
            yaml.safe_load(kubeconfig), context=context, client_configuration=configuration
        )
        label = f"{request['namespace']}/{request['name']}"
        async with client.ApiClient(configuration=configuration) as api_client:
            try:
                pod = await client.CoreV1Api(api_client).read_namespaced_pod(request["name"], request["namespace"])
            except ApiException as exc:
                if exc.status == 404:
                    raise ViewerGoneError(f"log viewer {label} is gone") from None
                raise LogReadError(f"log viewer {label}: API error {exc.status} {exc.reason}") from None
            phase = pod.status.phase if pod.status else None
            if phase != "Running":
                raise ViewerGoneError(f"log viewer {label} is {phase or 'unknown'}, not Running")
        async with WsApiClient(configuration=configuration) as ws_client:
            api = client.CoreV1Api(api_client=ws_client)
            try:
                # With _preload_content=False the call hands back the websocket (its stub says str).
                connection: Any = await api.connect_get_namespaced_pod_exec(**request, _preload_content=False)
                frames: list[bytes] = []
                async with connection as ws:
                    async for message in ws:
                        frames.append(message.data if isinstance(message.data, bytes) else str(message.data).encode())
            except WSServerHandshakeError as exc:
                if exc.status == 404:
                    raise ViewerGoneError(f"log viewer {label} is gone") from None
                raise LogReadError(f"exec into {label} refused: HTTP {exc.status}") from None
        return demux(frames)

    return run
