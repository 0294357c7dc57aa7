"""Routes and link MTUs: what meshes two clusters' nodes."""

from __future__ import annotations

import ipaddress
import shlex
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from hosts.facts import Fact, InterfaceMtus, Routes, normalize_dst
from hosts.operations.base import Change, Command, FactValues, Operation, OperationError


class Route(Operation):
    op: Literal["route"] = "route"
    dst: str
    via: str | None = None
    dev: str | None = None
    state: Literal["present", "absent"] = "present"

    @field_validator("dst")
    @classmethod
    def _dst(cls, v: str) -> str:
        return normalize_dst(v)

    @field_validator("via")
    @classmethod
    def _via(cls, v: str | None) -> str | None:
        return None if v is None else str(ipaddress.ip_address(v))

    @property
    def label(self) -> str:
        return f"route {self.dst} {self.state}"

    def facts(self) -> list[Fact[Any]]:
        return [Routes()]

    def changes(self, facts: FactValues) -> list[Change]:
        current = facts[Routes()].get(self.dst)
        if self.state == "absent":
            return [Command(f"ip route del {self.dst}")] if current else []
        if self.via is None and self.dev is None:
            raise OperationError(f"route {self.dst}: give 'via' or 'dev'")
        if current and (self.via is None or current.gateway == self.via) and (self.dev in (None, current.dev)):
            return []
        args = (f" via {self.via}" if self.via else "") + (f" dev {shlex.quote(self.dev)}" if self.dev else "")
        return [Command(f"ip route replace {self.dst}{args}")]


class LinkMtu(Operation):
    op: Literal["mtu"] = "mtu"
    dev: str
    mtu: Annotated[int, Field(ge=68, le=65535)]

    @property
    def label(self) -> str:
        return f"mtu {self.dev}={self.mtu}"

    def facts(self) -> list[Fact[Any]]:
        return [InterfaceMtus()]

    def changes(self, facts: FactValues) -> list[Change]:
        mtus = facts[InterfaceMtus()]
        if self.dev not in mtus:
            raise OperationError(f"no interface {self.dev}")
        return (
            [] if mtus[self.dev] == self.mtu else [Command(f"ip link set dev {shlex.quote(self.dev)} mtu {self.mtu}")]
        )
