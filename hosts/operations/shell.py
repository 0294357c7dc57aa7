"""A command of the user's, made idempotent by a test (`unless`) or a file it creates (`creates`)."""

from __future__ import annotations

import shlex
from typing import Any, Literal

from hosts.facts import CommandSucceeds, Fact
from hosts.operations.base import Change, Command, FactValues, Operation


class Shell(Operation):
    op: Literal["shell"] = "shell"
    run: str
    unless: str | None = None
    creates: str | None = None

    @property
    def label(self) -> str:
        first = self.run.strip().splitlines()[0] if self.run.strip() else ""
        return f"shell {first[:40]}"

    def _created(self) -> CommandSucceeds:
        return CommandSucceeds(f"test -e {shlex.quote(self.creates or '')}")

    def facts(self) -> list[Fact[Any]]:
        facts: list[Fact[Any]] = []
        if self.unless:
            facts.append(CommandSucceeds(self.unless))
        if self.creates:
            facts.append(self._created())
        return facts

    def changes(self, facts: FactValues) -> list[Change]:
        if self.unless and facts[CommandSucceeds(self.unless)]:
            return []
        if self.creates and facts[self._created()]:
            return []
        return [Command(self.run)]
