"""The controller itself as a host: asyncio subprocesses, no SSH."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import tempfile
from pathlib import Path

from hosts.connectors.base import CommandResult, Connector, HostError, short, stdin_to_file_command


class LocalConnector(Connector):
    def __init__(self, name: str = "localhost", *, command_timeout: float = 300.0, become: bool = False) -> None:
        self.name = name
        self.command_timeout = command_timeout
        self.become = become

    async def connect(self) -> None:
        return None

    async def run(self, command: str, *, input: str | None = None, time_limit: float | None = None) -> CommandResult:
        limit = time_limit or self.command_timeout
        if self.become and os.geteuid() != 0:
            command = f"sudo -n sh -c {shlex.quote(command)}"
        # A session of its own, so that a timeout kills the command's children too.
        proc = await asyncio.create_subprocess_shell(
            command,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(input.encode() if input is not None else None), limit)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise HostError(self.name, f"command timed out after {limit:g}s: {short(command)}") from None
        return CommandResult(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))

    async def upload(self, data: bytes, path: str, mode: int = 0o644) -> None:
        if self.become and os.geteuid() != 0:
            result = await self.run(stdin_to_file_command(path, mode), input=data.decode())
            if not result.ok:
                raise HostError(self.name, f"upload to {path} failed: {result.stderr.strip()}")
            return
        try:
            await asyncio.to_thread(_write, Path(path), data, mode)
        except OSError as exc:
            raise HostError(self.name, f"upload to {path} failed: {exc.strerror}") from None

    async def close(self) -> None:
        return None


def _write(path: Path, data: bytes, mode: int) -> None:
    """A new owner-only file beside `path`, given its mode once written, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.meshperf-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            os.fchmod(out.fileno(), mode)
        Path(staging).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(staging).unlink()
        raise
