"""What every connector offers: run a command, upload a file, and fail in one clear line.

Connectors are the only code that touches a host; facts and operations stay pure.
"""

from __future__ import annotations

import posixpath
import secrets
import shlex
from abc import ABC, abstractmethod
from dataclasses import dataclass


class HostError(Exception):
    """A host could not be reached or a command on it could not complete; str() names the host."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.reason = message


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


def short(command: str, width: int = 60) -> str:
    """A command's first line, cut to fit in an error line."""
    line = command.strip().splitlines()[0] if command.strip() else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def staging_name(path: str) -> str:
    """A fresh random name beside `path` (same folder, so a rename puts it in place atomically)."""
    folder, name = posixpath.split(path)
    return posixpath.join(folder or ".", f".{name}.meshperf-{secrets.token_hex(8)}")


def stdin_to_file_command(path: str, mode: int) -> str:
    """Shell text that writes its stdin to `path`: a mktemp file beside it under umask 077, given
    `mode`, then renamed into place (never readable by others mid-write; a link at `path` replaced)."""
    folder, name = posixpath.split(path)
    template = shlex.quote(posixpath.join(folder or ".", f".{name}.meshperf-XXXXXXXX"))
    return (
        f'tmp=$(umask 077 && mktemp {template}) && {{ cat > "$tmp" && chmod {mode:o} "$tmp" && '
        f'mv -f "$tmp" {shlex.quote(path)} || {{ rm -f "$tmp"; false; }}; }}'
    )


class Connector(ABC):
    """One host's way in; `connect` is idempotent and one connection serves all commands."""

    name: str

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def run(self, command: str, *, input: str | None = None, time_limit: float | None = None) -> CommandResult:
        """Run one shell command; a timeout raises HostError and stops the command."""

    @abstractmethod
    async def upload(self, data: bytes, path: str, mode: int = 0o644) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def run_script(self, script: str, *, time_limit: float | None = None) -> CommandResult:
        """Feed a POSIX sh script on stdin: no quoting and no argument-length limit."""
        return await self.run("sh -s", input=script, time_limit=time_limit)
