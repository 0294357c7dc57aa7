"""The inventory: hosts, groups, connection settings and per-host variables, validated.

It is a YAML file of its own (`defaults`, `groups`, `hosts`); a stack file cannot carry one,
since the stack loader refuses keys it does not know. Settings resolve defaults < groups (in file order)
< host, so a host entry only says what is special about it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

HostName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*$", max_length=64)]


class InventoryError(ValueError):
    """An inventory that cannot work; str() is one line naming the file and the key."""


class HostKeyPolicy(StrEnum):
    """strict: the key must be in known_hosts; accept-new: record unknown hosts, refuse changed keys; off: no check."""

    STRICT = "strict"
    ACCEPT_NEW = "accept-new"
    OFF = "off"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConnectionSettings(_Strict):
    """Connection settings that defaults and groups may set for many hosts at once."""

    connection: Literal["ssh", "local", "kind_node"] | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    user: str | None = None
    key: Path | None = None
    known_hosts: Path | None = None
    host_key_policy: HostKeyPolicy | None = None
    connect_timeout: Annotated[float, Field(gt=0)] | None = None
    command_timeout: Annotated[float, Field(gt=0)] | None = None
    # Sessions open at once on the host's one connection: each command and each upload is one, and
    # kind nodes reached via this host add theirs. OpenSSH's MaxSessions allows 10 by default.
    max_sessions: Annotated[int, Field(ge=1, le=10)] | None = None
    become: bool | None = None
    vars: dict[str, Any] = Field(default_factory=dict)


class Group(ConnectionSettings):
    hosts: list[HostName] = Field(default_factory=list)


class HostEntry(ConnectionSettings):
    address: str | None = None
    via: HostName | None = None
    node: str | None = None


class Host(_Strict):
    """A host with every setting resolved: what a connector needs, nothing else to look up."""

    name: HostName
    connection: Literal["ssh", "local", "kind_node"] = "ssh"
    address: str
    port: int = 22
    user: str | None = None
    key: Path | None = None
    known_hosts: Path | None = None
    host_key_policy: HostKeyPolicy = HostKeyPolicy.STRICT
    connect_timeout: float = 10.0
    command_timeout: float = 300.0
    max_sessions: int = 8
    become: bool = False
    via: str | None = None
    node: str | None = None
    groups: tuple[str, ...] = ()
    vars: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _kind_node_needs_parent(self) -> Host:
        if self.connection == "kind_node" and not (self.via and self.node):
            raise ValueError("a kind_node host needs 'via' (the host running docker) and 'node' (the container)")
        return self


class InventoryFile(_Strict):
    defaults: ConnectionSettings = ConnectionSettings()
    groups: dict[HostName, Group] = Field(default_factory=dict)
    hosts: dict[HostName, HostEntry | None] = Field(default_factory=dict)


class Inventory(_Strict):
    hosts: dict[str, Host]
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    def select(self, limit: str | None = None) -> list[Host]:
        """Hosts named by a comma-separated list of host and group names (all when None).

        An empty list (`--limit ''`, `--limit ,`) is refused: a variable that came out empty in a
        script must not widen the run to every host.
        """
        if limit is None:
            return list(self.hosts.values())
        words = [w.strip() for w in limit.split(",") if w.strip()]
        if not words:
            raise InventoryError(f"--limit {limit!r}: empty (name hosts or groups, or leave --limit out for all)")
        names: list[str] = []
        for word in words:
            if word in self.groups:
                names.extend(self.groups[word])
            elif word in self.hosts:
                names.append(word)
            else:
                raise InventoryError(f"--limit {word}: no such host or group")
        return [self.hosts[n] for n in dict.fromkeys(names)]


def _merge(layers: list[ConnectionSettings]) -> dict[str, Any]:
    merged: dict[str, Any] = {"vars": {}}
    for layer in layers:
        for key, value in layer.model_dump(
            exclude_unset=True, exclude={"vars", "hosts", "address", "via", "node"}
        ).items():
            if value is not None:
                merged[key] = value
        merged["vars"] = {**merged["vars"], **layer.vars}
    return merged


def resolve(doc: InventoryFile) -> Inventory:
    """Resolve each host's settings and check the references between hosts and groups."""
    for group, g in doc.groups.items():
        unknown = [h for h in g.hosts if h not in doc.hosts]
        if unknown:
            raise ValueError(f"groups.{group}: unknown hosts {', '.join(unknown)}")
    if not doc.hosts:
        raise ValueError("hosts: no hosts (an inventory names at least one)")
    hosts: dict[str, Host] = {}
    for name, entry in doc.hosts.items():
        entry = entry or HostEntry()
        member_of = [g for g, group in doc.groups.items() if name in group.hosts]
        fields = _merge([doc.defaults, *(doc.groups[g] for g in member_of), entry])
        fields.update(name=name, address=entry.address or name, groups=tuple(member_of))
        if entry.via is not None:
            if entry.via not in doc.hosts:
                raise ValueError(f"hosts.{name}.via: unknown host {entry.via}")
            parent = doc.hosts[entry.via]
            if parent is not None and parent.via is not None:
                raise ValueError(f"hosts.{name}.via: {entry.via} is itself reached via another host")
            fields["via"] = entry.via
        if entry.node is not None:
            fields["node"] = entry.node
        try:
            hosts[name] = Host.model_validate(fields)
        except ValidationError as exc:
            raise ValueError(f"hosts.{name}: {_first(exc)}") from None
    groups = {g: tuple(group.hosts) for g, group in doc.groups.items()}
    return Inventory(hosts=hosts, groups=groups)


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


def inventory_from_data(data: object, where: str = "inventory") -> Inventory:
    try:
        return resolve(InventoryFile.model_validate(data))
    except ValidationError as exc:
        raise InventoryError(f"{where}: {_first(exc)}") from None
    except ValueError as exc:
        raise InventoryError(f"{where}: {exc}") from None


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last one unsaid)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` then a key of its own overrides
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first.get(key)
            except TypeError:  # an unhashable key: the constructor below says so
                continue
            if seen is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (first on line {seen})", key_node.start_mark
                )
            first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_yaml(text: str) -> Any:
    """One YAML document, as `yaml.safe_load` reads it, but a repeated key is an error (yaml.YAMLError)."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader's subclass


def yaml_error(path: Path, exc: yaml.YAMLError) -> str:
    """'FILE:LINE:COLUMN: not valid YAML: what' (line and column from 1), for inventories and deploys.

    The same few lines as spec.load's: hosts stands alone (DESIGN.md), so it does not import spec.
    """
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}: not valid YAML: {what}"


def load_inventory(path: str | Path) -> Inventory:
    """Read an inventory file."""
    path = Path(path)
    try:
        document = load_yaml(path.read_text())
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InventoryError(yaml_error(path, exc)) from None
    return inventory_from_data(document or {}, str(path))
