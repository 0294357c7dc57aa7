"""Debian packages, installed or removed with apt-get."""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Literal

from pydantic import Field

from hosts.facts import DebPackages, Fact
from hosts.operations.base import Change, Command, FactValues, Operation

APT = "DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Options::=--force-confold"


class DebPackage(Operation):
    op: Literal["deb"] = "deb"
    names: Annotated[tuple[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9+.-]+$")], ...], Field(min_length=1)]
    state: Literal["present", "absent"] = "present"
    update_cache: bool = True

    @property
    def label(self) -> str:
        return f"deb {' '.join(self.names)} {self.state}"

    def facts(self) -> list[Fact[Any]]:
        return [DebPackages(self.names)]

    def changes(self, facts: FactValues) -> list[Change]:
        installed = facts[DebPackages(self.names)]
        if self.state == "present":
            missing = [n for n in self.names if installed.get(n) is None]
            if not missing:
                return []
            update = [Command(f"{APT} update")] if self.update_cache else []
            return [*update, Command(f"{APT} install --no-install-recommends {shlex.join(missing)}")]
        present = [n for n in self.names if installed.get(n) is not None]
        return [Command(f"{APT} remove {shlex.join(present)}")] if present else []
