"""Inventory and deploy files: settings resolve defaults < groups < host; bad input is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hosts.deploy import Deploy, DeployError, load_deploy
from hosts.inventory import HostKeyPolicy, InventoryError, inventory_from_data, load_inventory
from hosts.operations import File, Sysctl

DOC = {
    "defaults": {"user": "ci", "key": "~/.ssh/id_ed25519", "vars": {"mtu": 1500, "zone": "a"}},
    "groups": {
        "docker": {"hosts": ["ci-1", "ci-2"], "port": 2222, "vars": {"mtu": 9000}},
        "fast": {"hosts": ["ci-2"], "max_sessions": 4},
    },
    "hosts": {
        "ci-1": {"address": "10.0.0.1"},
        "ci-2": {"address": "10.0.0.2", "host_key_policy": "accept-new", "vars": {"zone": "b"}},
        "ci-1-worker": {"connection": "kind_node", "via": "ci-1", "node": "mesh-worker"},
        "me": {"connection": "local"},
        "bare": None,
    },
}


def test_settings_resolve_in_layers():
    inv = inventory_from_data(DOC)
    one, two = inv.hosts["ci-1"], inv.hosts["ci-2"]
    assert (one.address, one.port, one.user, one.key) == ("10.0.0.1", 2222, "ci", Path("~/.ssh/id_ed25519"))
    assert one.vars == {"mtu": 9000, "zone": "a"}
    assert two.vars == {"mtu": 9000, "zone": "b"}
    assert two.max_sessions == 4 and one.max_sessions == 8
    assert one.host_key_policy is HostKeyPolicy.STRICT
    assert two.host_key_policy is HostKeyPolicy.ACCEPT_NEW
    assert two.groups == ("docker", "fast")
    assert inv.hosts["bare"].address == "bare"
    worker = inv.hosts["ci-1-worker"]
    assert (worker.connection, worker.via, worker.node) == ("kind_node", "ci-1", "mesh-worker")


def test_select_by_host_and_group():
    inv = inventory_from_data(DOC)
    assert [h.name for h in inv.select("docker,me,ci-1")] == ["ci-1", "ci-2", "me"]
    assert len(inv.select(None)) == 5
    with pytest.raises(InventoryError, match="--limit nope: no such host or group"):
        inv.select("nope")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"hosts": {"a": {"port": 0}}}, "inventory: hosts.a.port: Input should be greater than or equal to 1"),
        ({"hosts": {"a": {"prot": 22}}}, "inventory: hosts.a.prot: unknown key"),
        ({"hosts": {"a": {"host_key_policy": "yes"}}}, "inventory: hosts.a.host_key_policy: Input should be"),
        ({"groups": {"g": {"hosts": ["x"]}}, "hosts": {}}, "inventory: groups.g: unknown hosts x"),
        (
            {"hosts": {"w": {"connection": "kind_node", "node": "n"}}},
            "inventory: hosts.w: a kind_node host needs 'via'",
        ),
        (
            {"hosts": {"w": {"connection": "kind_node", "via": "d", "node": "n"}}},
            "inventory: hosts.w.via: unknown host d",
        ),
        (
            {
                "hosts": {
                    "a": {},
                    "b": {"via": "a", "node": "x", "connection": "kind_node"},
                    "c": {"via": "b", "node": "y", "connection": "kind_node"},
                }
            },
            "inventory: hosts.c.via: b is itself reached via another host",
        ),
        ({"hosts": {"bad name": {}}}, "inventory: hosts.bad name"),
        (
            {"defaults": {"max_sessions": 11}},
            "inventory: defaults.max_sessions: Input should be less than or equal to 10",
        ),
    ],
)
def test_bad_inventory_is_one_line(doc, message):
    with pytest.raises(InventoryError) as info:
        inventory_from_data(doc)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_load_inventory_file(tmp_path):
    standalone = tmp_path / "inv.yaml"
    standalone.write_text(yaml.safe_dump(DOC))
    assert set(load_inventory(standalone).hosts) == set(DOC["hosts"])
    stack = tmp_path / "Pulumi.ci.yaml"
    stack.write_text(yaml.safe_dump({"config": {"meshperf:clusters": []}}))
    with pytest.raises(InventoryError, match=r"Pulumi.ci.yaml: config: unknown key$"):
        load_inventory(stack)
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  - a\n  b: [")
    with pytest.raises(
        InventoryError, match=rf"^{bad}:3:3: not valid YAML: expected <block end>"
    ):  # file:line:column, from 1
        load_inventory(bad)
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(tmp_path / "missing.yaml")


DEPLOY = {
    "gather": ["os_release", "kernel"],
    "operations": [
        {"sysctl": {"key": "net.ipv4.tcp_fin_timeout", "value": 30, "persist_file": "${dir}/sysctl.conf"}},
        {"file": {"path": "${dir}/motd", "content": "on $${host}: ${host}\n", "mode": "0600"}},
    ],
}


def test_deploy_renders_host_variables(tmp_path):
    inv = inventory_from_data({"hosts": {"h1": {"vars": {"dir": "/srv/h1"}}}})
    ops = Deploy.model_validate(DEPLOY).operations_for(inv.hosts["h1"])
    assert ops == [
        Sysctl(key="net.ipv4.tcp_fin_timeout", value=30, persist_file="/srv/h1/sysctl.conf"),
        File(path="/srv/h1/motd", content="on ${host}: h1\n", mode=0o600),
    ]
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(DEPLOY))
    assert [type(f).__name__ for f in load_deploy(path).gather_facts()] == ["OsRelease", "Kernel"]


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        ([{"file": {"path": "${nope}/x", "content": ""}}], "h1: operations[0] (file): host has no variable 'nope'"),
        ([{"sysctl": {"key": "net.x"}}], "h1: operations[0] (sysctl): value: Field required"),
        ([{"teleport": {}}], "h1: operations[0] (teleport): op: Input tag 'teleport' found using 'op' does not match"),
        (
            [{"file": {"path": "/x", "content": "", "mode": 644}}],
            "h1: operations[0] (file): mode: mode 644 is not a file mode",
        ),
        ([{"file": {}, "line": {}}], "h1: operations[0]: write one operation per item"),
        ([{"line": {"path": "/x", "line": "a", "colour": 1}}], "h1: operations[0] (line): colour: unknown key"),
    ],
)
def test_bad_deploy_is_one_line(operations, message):
    inv = inventory_from_data({"hosts": {"h1": {}}})
    with pytest.raises(DeployError) as info:
        Deploy(operations=operations).operations_for(inv.hosts["h1"])
    assert str(info.value).startswith(message), str(info.value)


def test_unknown_gather_fact():
    with pytest.raises(DeployError, match="gather: unknown facts uptime"):
        Deploy(gather=["uptime"]).gather_facts()
