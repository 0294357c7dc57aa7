"""Files on the host: whole files with content and mode, and single lines in files."""

from __future__ import annotations

import hashlib
import re
import shlex
from typing import Any, Literal

from pydantic import field_validator

from hosts.facts import Fact, FileState, FileText
from hosts.operations.base import (
    Change,
    Command,
    FactValues,
    Operation,
    OperationError,
    Upload,
    parse_mode,
    temporary_file,
    write_file_command,
)

# Larger content goes by the connector's upload instead of inside the script.
INLINE_LIMIT = 64 * 1024


class File(Operation):
    op: Literal["file"] = "file"
    path: str
    content: str
    mode: int = 0o644

    _mode = field_validator("mode", mode="before")(parse_mode)

    @property
    def label(self) -> str:
        return f"file {self.path}"

    def facts(self) -> list[Fact[Any]]:
        return [FileState(self.path)]

    def changes(self, facts: FactValues) -> list[Change]:
        state = facts[FileState(self.path)]
        data = self.content.encode()
        if state is None or state.sha256 != hashlib.sha256(data).hexdigest():
            if len(data) > INLINE_LIMIT:
                return [Upload(self.path, data, self.mode)]
            return [write_file_command(self.path, self.content, self.mode)]
        if state.mode != self.mode:
            return [Command(f"chmod {self.mode:o} {shlex.quote(self.path)}")]
        return []


class Line(Operation):
    """A line present in a file; with `match`, the line replaces the lines that match the regex."""

    op: Literal["line"] = "line"
    path: str
    line: str
    match: str | None = None
    create: bool = True

    @field_validator("line")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v:
            raise ValueError("a line cannot hold a newline")
        return v

    @field_validator("match")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return v

    @property
    def label(self) -> str:
        return f"line in {self.path}"

    def facts(self) -> list[Fact[Any]]:
        return [FileText(self.path)]

    def changes(self, facts: FactValues) -> list[Change]:
        text = facts[FileText(self.path)]
        p = shlex.quote(self.path)
        if text is None:
            if not self.create:
                raise OperationError(f"no such file {self.path} (and create is off)")
            return [Command(f"printf '%s\\n' {shlex.quote(self.line)} >> {p}")]
        lines = text.splitlines()
        matching = [ln for ln in lines if self.match and re.search(self.match, ln)]
        if self.line in lines and all(ln == self.line for ln in matching):
            return []
        if matching:
            # Replace the matching lines in the file as it is then (awk reads the exact strings from env).
            env = " ".join(f"MP_{i}={shlex.quote(ln)}" for i, ln in enumerate([self.line, *matching]))
            keys = " || ".join(f'$0 == ENVIRON["MP_{i + 1}"]' for i in range(len(matching)))
            program = shlex.quote(f'{keys} {{ if (!done) print ENVIRON["MP_0"]; done = 1; next }} {{ print }}')
            replace = f'{env} awk {program} {p} > "$tmp" && cat "$tmp" > {p}'
            return [Command(f'tmp={temporary_file(self.path)} && {{ {replace}; rc=$?; rm -f "$tmp"; [ $rc -eq 0 ]; }}')]
        newline = "" if text.endswith("\n") or not text else "\\n"
        return [Command(f"printf '{newline}%s\\n' {shlex.quote(self.line)} >> {p}")]
