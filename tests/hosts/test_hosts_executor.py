"""The executor's scripts from data, and whole runs against local hosts (no network)."""

from __future__ import annotations

import asyncio
import os
import subprocess

from hosts.connectors import KindNodeConnector, LocalConnector
from hosts.executor import apply, change_script, fact_script, parse_blocks
from hosts.facts import Kernel, OsRelease
from hosts.inventory import inventory_from_data
from hosts.operations import File, Line, Shell
from hosts.report import summary, to_json

T = "@mp-test"


def sh(script):
    return subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True, timeout=30)


def test_parse_blocks_keeps_output_exact():
    out = f"{T} 0\nabc\n\n{T} 0 0\n{T} 1\nno newline\n{T} 1 3\n{T} 2\n"
    assert parse_blocks(out, T) == {0: ("abc\n", 0), 1: ("no newline", 3)}
    assert parse_blocks("", T) == {}


def test_fact_script_frames_each_command():
    result = sh(fact_script(["echo one", "printf two", "exit 4", "true"], T))
    assert parse_blocks(result.stdout, T) == {0: ("one\n", 0), 1: ("two", 0), 2: ("", 4), 3: ("", 0)}


def test_change_script_stops_after_first_failure(tmp_path):
    marker = tmp_path / "m"
    groups = [["echo a", "echo b >&2"], ["true", "false", f"touch {marker}"], [f"touch {marker}"]]
    result = sh(change_script(groups, T))
    assert parse_blocks(result.stdout, T) == {0: ("a\nb\n", 0), 1: ("", 1)}
    assert not marker.exists()


def local_inventory(tmp_path, n=3, **extra):
    return inventory_from_data(
        {"hosts": {f"l{i}": {"connection": "local", "vars": {"dir": str(tmp_path)}, **extra} for i in range(n)}}
    )


def test_apply_local_idempotent_and_check_mode(tmp_path):
    inv = local_inventory(tmp_path)

    def operations(host):
        return [
            File(path=f"{tmp_path}/{host.name}.txt", content=f"{host.name}\n", mode="0600"),
            Line(path=f"{tmp_path}/{host.name}.conf", line="x = 1"),
        ]

    check = asyncio.run(apply(inv, operations, check=True, gather=[Kernel(), OsRelease()]))
    assert check.changed == 6 and not check.failed
    assert list(tmp_path.iterdir()) == []
    assert "check mode, nothing was changed" in summary(check)
    assert check.hosts[0].facts["kernel"]
    first = asyncio.run(apply(inv, operations))
    assert first.changed == 6 and not first.failed
    assert (tmp_path / "l1.txt").read_text() == "l1\n"
    second = asyncio.run(apply(inv, operations))
    assert second.changed == 0 and [h.count("ok") for h in second.hosts] == [2, 2, 2]
    assert '"status": "ok"' in to_json(second)


def test_failure_stops_that_host_only_and_names_the_reason(tmp_path):
    inv = local_inventory(tmp_path, 2)

    def operations(host):
        bad = "echo broken >&2; exit 3" if host.name == "l0" else "true"
        return [Shell(run=bad), Shell(run=f"touch {tmp_path}/{host.name}.after")]

    run = asyncio.run(apply(inv, operations))
    l0, l1 = run.hosts
    assert [r.status for r in l0.results] == ["failed", "failed"]
    assert l0.results[0].reason == "exit 3: broken"
    assert l0.results[1].reason.startswith("not run: 'shell echo broken")
    assert [r.status for r in l1.results] == ["changed", "changed"]
    assert not (tmp_path / "l0.after").exists() and (tmp_path / "l1.after").exists()
    assert [h.host for h in run.failed] == ["l0"]


def test_hanging_command_is_cut_by_its_timeout(tmp_path):
    inv = local_inventory(tmp_path, 1, command_timeout=0.5)
    run = asyncio.run(apply(inv, [Shell(run="sleep 30")]))
    (result,) = run.hosts[0].results
    assert result.status == "failed"
    assert result.reason == "command timed out after 0.5s: sh -s"
    assert run.elapsed < 10


def test_kind_node_connector_wraps_docker_exec():
    node = KindNodeConnector("w", "mesh-worker", LocalConnector())
    assert node.wrap("ip route show", stdin=False) == "docker exec mesh-worker sh -c 'ip route show'"
    assert node.wrap("sh -s", stdin=True) == "docker exec -i mesh-worker sh -c 'sh -s'"


def test_kind_node_runs_through_its_parent(tmp_path, monkeypatch):
    """With a fake `docker` on PATH: the node's commands reach the parent as docker exec."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # fake docker: `docker exec [-i] NODE sh -c CMD` -> run CMD with NODE in the environment
    (bin_dir / "docker").write_text(
        '#!/bin/sh\nshift; [ "$1" = -i ] && shift; NODE=$1; export NODE; shift; exec "$@"\n'
    )
    (bin_dir / "docker").chmod(0o755)
    inv = inventory_from_data(
        {
            "hosts": {
                "docker-host": {"connection": "local"},
                "w1": {"connection": "kind_node", "via": "docker-host", "node": "mesh-worker"},
            }
        }
    )
    operations = [File(path=str(tmp_path / "on-node"), content="x\n"), Shell(run=f"echo $NODE > {tmp_path}/node-name")]
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    run = asyncio.run(apply(inv, operations, hosts=[inv.hosts["w1"]]))
    assert [r.status for r in run.hosts[0].results] == ["changed", "changed"], run.hosts[0]
    assert (tmp_path / "node-name").read_text() == "mesh-worker\n"
