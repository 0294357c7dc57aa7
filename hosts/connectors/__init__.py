"""Connectors: the only code that touches a host."""

from __future__ import annotations

from collections.abc import Iterable

from hosts.connectors.base import CommandResult, Connector, HostError
from hosts.connectors.kind_node import KindNodeConnector
from hosts.connectors.local import LocalConnector
from hosts.connectors.ssh import ConnectThrottle, SSHConnector
from hosts.inventory import Host, Inventory

__all__ = [
    "CommandResult",
    "ConnectThrottle",
    "Connector",
    "HostError",
    "KindNodeConnector",
    "LocalConnector",
    "SSHConnector",
    "connectors_for",
]


def connectors_for(
    inventory: Inventory, hosts: Iterable[Host], throttle: ConnectThrottle | None = None
) -> dict[str, Connector]:
    """One connector per host, keyed by name; kind nodes share (and bring in) the connector of their host."""
    throttle = throttle or ConnectThrottle()
    made: dict[str, Connector] = {}

    def make(host: Host) -> Connector:
        if host.name in made:
            return made[host.name]
        connector: Connector
        if host.connection == "local":
            connector = LocalConnector(host.name, command_timeout=host.command_timeout, become=host.become)
        elif host.connection == "kind_node":
            assert host.via is not None and host.node is not None
            connector = KindNodeConnector(host.name, host.node, make(inventory.hosts[host.via]))
        else:
            connector = SSHConnector(host, throttle)
        made[host.name] = connector
        return connector

    for host in hosts:
        make(host)
    return made
