"""Operations: desired state in, the commands to reach it out; nothing out when already there."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from hosts.operations.apt import DebPackage
from hosts.operations.base import (
    Change,
    Command,
    FactValues,
    Operation,
    OperationError,
    Upload,
)
from hosts.operations.files import File, Line
from hosts.operations.network import LinkMtu, Route
from hosts.operations.shell import Shell
from hosts.operations.sysctl import Sysctl

AnyOperation = Annotated[
    Sysctl | File | Line | DebPackage | Route | LinkMtu | Shell,
    Field(discriminator="op"),
]

__all__ = [
    "AnyOperation",
    "Change",
    "Command",
    "DebPackage",
    "FactValues",
    "File",
    "Line",
    "LinkMtu",
    "Operation",
    "OperationError",
    "Route",
    "Shell",
    "Sysctl",
    "Upload",
]
