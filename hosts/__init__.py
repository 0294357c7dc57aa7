"""Asynchronous, Ansible-free host automation over asyncssh.

Facts read state, operations turn facts and desired state into commands, connectors are the
only code that touches a host, and the executor applies operations on many hosts at once.

    inventory = load_inventory("inventory.yaml")
    run = await apply(inventory, [Sysctl(key="net.core.rmem_max", value=26214400)])
"""

from hosts.connectors import CommandResult, Connector, HostError
from hosts.deploy import Deploy, DeployError, load_deploy
from hosts.executor import HostReport, OpResult, RunReport, apply, gather_facts
from hosts.inventory import Host, HostKeyPolicy, Inventory, InventoryError, inventory_from_data, load_inventory
from hosts.operations import (
    DebPackage,
    File,
    Line,
    LinkMtu,
    Operation,
    Route,
    Shell,
    Sysctl,
)

__all__ = [
    "CommandResult",
    "Connector",
    "DebPackage",
    "Deploy",
    "DeployError",
    "File",
    "Host",
    "HostError",
    "HostKeyPolicy",
    "HostReport",
    "Inventory",
    "InventoryError",
    "Line",
    "LinkMtu",
    "OpResult",
    "Operation",
    "Route",
    "RunReport",
    "Shell",
    "Sysctl",
    "apply",
    "gather_facts",
    "inventory_from_data",
    "load_deploy",
    "load_inventory",
]
