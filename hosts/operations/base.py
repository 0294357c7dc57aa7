"""What an operation is: facts in, changes out, and nothing out when already in that state."""

from __future__ import annotations

import posixpath
import shlex
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from hosts.facts import Fact

T = TypeVar("T")


class OperationError(ValueError):
    """Desired state that cannot be reached from these facts; the reason is one line."""


class FactValues:
    """The facts read for one host, looked up with their own type."""

    def __init__(self, values: Mapping[Fact[Any], Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, fact: Fact[T]) -> T:
        value: T = self._values[fact]
        return value

    def __contains__(self, fact: object) -> bool:
        return fact in self._values

    def items(self) -> list[tuple[Fact[Any], Any]]:
        return list(self._values.items())


@dataclass(frozen=True)
class Command:
    """A shell command on the host; the commands of one operation run under `set -e`.

    `shown` is what reports, `-v`, `--check` and `--json` show instead of `text`, when the text
    carries data that must not leave the host's script (a file's content).
    """

    text: str
    shown: str | None = None

    @property
    def display(self) -> str:
        return self.text if self.shown is None else self.shown


@dataclass(frozen=True)
class Upload:
    """A file too large for a command: copied with the connector."""

    path: str
    data: bytes
    mode: int = 0o644


Change = Command | Upload


class Operation(BaseModel):
    """Desired state on one host. Subclasses are pure: `changes` reads only its facts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @abstractmethod
    def facts(self) -> Sequence[Fact[Any]]: ...

    @abstractmethod
    def changes(self, facts: FactValues) -> list[Change]: ...

    @property
    @abstractmethod
    def label(self) -> str: ...


def temporary_file(path: str) -> str:
    """Shell text that makes a new, empty, owner-only temporary file beside `path` and prints its name.

    mktemp's random name in the target's own folder (so that `mv` renames within one file system),
    under umask 077: no predictable name to plant a symlink at, no moment when another user can read it.
    """
    folder, name = posixpath.split(path)
    return f"$(umask 077 && mktemp {shlex.quote(posixpath.join(folder or '.', f'.{name}.meshperf-XXXXXXXX'))})"


def write_file_command(path: str, content: str, mode: int | None = None) -> Command:
    """Write text through a temporary file and rename, so that readers never see half a file.

    The command carries the content; what it shows says only how many bytes it writes.
    """

    def command(data: str) -> str:
        chmod = f' && chmod {mode:o} "$tmp"' if mode is not None else ""
        return (
            f"tmp={temporary_file(path)} && {{ printf '%s' {data} > \"$tmp\"{chmod} && "
            f'mv -f "$tmp" {shlex.quote(path)} || {{ rm -f "$tmp"; false; }}; }}'
        )

    return Command(command(shlex.quote(content)), shown=command(f"<{len(content.encode())} bytes>"))


def parse_mode(value: int | str) -> int:
    """'0644', '644' or 0o644 -> 0o644. YAML reads 0644 as 0o644 but 644 as decimal: refuse that."""
    mode = value if isinstance(value, int) else int(value, 8)
    if not 0 <= mode <= 0o7777 or (isinstance(value, int) and mode > 0o777):
        raise ValueError(f"mode {value!r} is not a file mode: write it as a string like '0644'")
    return mode
