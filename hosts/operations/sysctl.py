"""Kernel parameters: set now and persisted in a sysctl.d file, so that a reboot keeps them."""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Literal

from pydantic import Field

from hosts.facts import Fact, FileText, SysctlValue, normalize_sysctl, sysctl_path
from hosts.operations.base import Change, Command, FactValues, Operation, OperationError

SYSCTL_KEY_PATTERN = r"^[a-z0-9_][a-z0-9_./-]*$"


def persisted_values(text: str | None) -> dict[str, str]:
    """`key = value` lines of a sysctl.d file (later lines win, as sysctl --system reads them)."""
    values: dict[str, str] = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lstrip("-")] = normalize_sysctl(value)
    return values


def sed_escape(key: str) -> str:
    """A sysctl key as a sed address pattern (keys hold only [a-z0-9_./-])."""
    return key.replace(".", r"\.").replace("/", r"\/")


class Sysctl(Operation):
    op: Literal["sysctl"] = "sysctl"
    key: Annotated[str, Field(pattern=SYSCTL_KEY_PATTERN)]
    value: str | int
    persist: bool = True
    persist_file: str = "/etc/sysctl.d/99-meshperf.conf"

    @property
    def want(self) -> str:
        return normalize_sysctl(str(self.value))

    @property
    def label(self) -> str:
        return f"sysctl {self.key}={self.want}"

    def facts(self) -> list[Fact[Any]]:
        facts: list[Fact[Any]] = [SysctlValue(self.key)]
        return [*facts, FileText(self.persist_file)] if self.persist else facts

    def changes(self, facts: FactValues) -> list[Change]:
        live = facts[SysctlValue(self.key)]
        if live is None:
            raise OperationError(f"no sysctl {self.key} on this kernel")
        out: list[Change] = []
        if live != self.want:
            out.append(Command(f"printf '%s\\n' {shlex.quote(self.want)} > {sysctl_path(self.key)}"))
        if self.persist and persisted_values(facts[FileText(self.persist_file)]).get(self.key) != self.want:
            # Delete-and-append edits the file as it is then, so sysctls sharing a file compose.
            f = shlex.quote(self.persist_file)
            pattern = shlex.quote(rf"/^[[:space:]]*-\{{0,1\}}{sed_escape(self.key)}[[:space:]]*=/d")
            line = shlex.quote(f"{self.key} = {self.want}")
            out.append(Command(f"touch {f} && sed -i {pattern} {f} && printf '%s\\n' {line} >> {f}"))
        return out
