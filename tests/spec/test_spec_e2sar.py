"""The E2SAR suite: the seed's parameters and defaults, impossible settings refused, the plan and its scripts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from spec.e2sar import E2sarSuite, receiver_port_count
from spec.load import StackError, load_stack, stack_from_config
from spec.plan import E2SAR_OWN_IP_VAR, E2SAR_RECEIVER_VAR, E2SAR_TOKEN_VAR, build_plan
from spec.runner import e2sar_command, e2sar_script

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def config(name: str = "kind-mesh") -> dict[str, Any]:
    document = yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in document["config"].items() if k.startswith("meshperf:")}


def test_the_seeds_parameters_and_defaults() -> None:
    suite = E2sarSuite()
    seed = (suite.mtu, suite.rate_gbps, suite.length, suite.num_events, suite.buf_size, suite.direct_mode)
    assert seed == (512, 0.1, 512, 10000, 32768, True)
    assert (suite.duration_s, suite.port, suite.threads) == (300, 19522, 1)
    assert suite.image == "jlabtsai/e2sar-container:latest" and suite.version == "0.1.4"
    assert suite.rates() == [0.1]
    # Socket buffers follow the rate (the seed's 32 KB is the floor), unless told not to.
    assert suite.buffer_bytes(0.1) == 625_000 and suite.buffer_bytes(0.001) == 32768
    assert E2sarSuite(size_buffers_from_rate=False).buffer_bytes(10) == 32768


@pytest.mark.parametrize(("threads", "ports"), [(1, 1), (2, 2), (3, 4), (4, 4), (5, 8)])
def test_receiver_ports_follow_threads(threads: int, ports: int) -> None:
    assert receiver_port_count(threads) == ports


def test_shipped_stacks_run_the_suite() -> None:
    local, mesh = load_stack("kind-local"), load_stack("kind-mesh")
    assert local.suites.e2sar.enabled and mesh.suites.e2sar.enabled
    assert local.node_of(local.suites.e2sar.sender) != local.node_of(local.suites.e2sar.receiver)
    assert mesh.node_of(mesh.suites.e2sar.sender)[0] != mesh.node_of(mesh.suites.e2sar.receiver)[0]


BAD = [
    ({"mtu": 1600}, "meshperf:suites.e2sar.mtu: 1600 is above the path's MTU 1500"),
    ({"mtu": 60}, "meshperf:suites.e2sar: mtu: 60 leaves no room"),
    ({"mtu": 0}, "meshperf:suites.e2sar: mtu: 0 (auto-detect) needs E2SAR 0.3.x"),
    ({"rate_gbps": 0.001, "duration_s": 30}, "meshperf:suites.e2sar: duration_s: 30 s is shorter than sending"),
    ({"rates_gbps": [1, 0.0001]}, "duration_s: 300 s is shorter than sending 10000 events of 512 bytes at 0.0001"),
    ({"threads": 8, "port": 65530}, "meshperf:suites.e2sar: threads: 8 threads need 8 UDP ports from 65530"),
    ({"rates_gbps": [0.1, 0.1]}, "meshperf:suites.e2sar.rates_gbps: rates repeat"),
    ({"port": 5200, "threads": 2}, "meshperf:suites.e2sar.port: the receiver's UDP ports 5200..5201 take netperf"),
    ({"receiver": "w9"}, "meshperf:suites.e2sar.receiver: no workload named 'w9'"),
    ({"sender": "w1", "receiver": "w2"}, "meshperf:suites.e2sar.receiver: sender w1 and receiver w2 are both on"),
    ({"version": "0.2"}, "meshperf:suites.e2sar.version: Input should be"),
    ({"colour": "red"}, "meshperf:suites.e2sar.colour: unknown key"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[str(b[0]) for b in BAD])
def test_impossible_settings_are_one_line_naming_the_key(change: dict[str, Any], message: str) -> None:
    cfg = copy.deepcopy(config("kind-local"))
    cfg["suites"]["e2sar"].update(change)
    with pytest.raises(StackError) as raised:
        stack_from_config(cfg, where="stacks/Pulumi.test.yaml")
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith("stacks/Pulumi.test.yaml: meshperf:suites.e2sar"), text
    assert message in text, text


def test_the_mtu_is_checked_against_the_link_across_clusters() -> None:
    cfg = copy.deepcopy(config("kind-mesh"))
    cfg["link"]["mtu"] = 1200
    cfg["suites"]["e2sar"]["mtu"] = 1400
    with pytest.raises(StackError, match=r"suites\.e2sar\.mtu: 1400 is above the path's MTU 1200 \(the link between"):
        stack_from_config(cfg)
    cfg["suites"]["e2sar"]["mtu"] = 1200
    assert stack_from_config(cfg).suites.e2sar.mtu == 1200


def test_same_node_only_when_the_stack_says_so() -> None:
    cfg = copy.deepcopy(config("kind-local"))
    cfg["suites"]["e2sar"].update(sender="w1", receiver="w2", allow_same_node=True)
    assert stack_from_config(cfg).suites.e2sar.allow_same_node


def test_plan_has_one_pair_per_rate_and_scripts_use_udp_ports_and_the_address_variable() -> None:
    cfg = copy.deepcopy(config("kind-local"))
    cfg["suites"]["e2sar"].update(rates_gbps=[0.1, 0.5, 2], threads=3, direct_mode=False)
    plan = build_plan(stack_from_config(cfg))
    assert [c.id for c in plan.e2sar] == ["e2sar-100m", "e2sar-500m", "e2sar-2000m"]
    case = plan.e2sar[0]
    assert (case.port, case.last_port) == (19522, 19525)
    receiver, sender = e2sar_command(case, "receiver"), e2sar_command(case, "sender")
    assert receiver[:2] == ["e2sar_perf", "-r"] and "--withcp" in receiver and receiver[-1] == "-4"
    assert receiver[receiver.index("--threads") + 1] == "3" and receiver[receiver.index("--port") + 1] == "19522"
    assert "-u" not in receiver and "-u" not in sender  # the URI (with the token) is in EJFAT_URI, not argv
    script = e2sar_script(case, "sender")
    assert (
        f'EJFAT_URI="ejfat://${{{E2SAR_TOKEN_VAR}}}@10.10.10.10:1234/lb/1?data=${{{E2SAR_RECEIVER_VAR}}}:19522&sync='
        in (script)
    )
    assert "nslookup" not in script
    assert "LANG=C" in script
    assert "2>&1" in script and "index.tsv" in script


@pytest.mark.parametrize("version", ["0.1.4", "0.3.x"])
def test_the_receivers_uri_names_its_own_address(version: str) -> None:
    """Every E2SAR release's reassembler refuses a URI without `data=`: the receiver's names its pod IP."""
    cfg = copy.deepcopy(config("kind-local"))
    cfg["suites"]["e2sar"]["version"] = version
    (case,) = build_plan(stack_from_config(cfg)).e2sar
    script = e2sar_script(case, "receiver")
    assert f"?data=${{{E2SAR_OWN_IP_VAR}}}:19522&sync=192.168.77.7:1234" in script
    assert f': "${{{E2SAR_OWN_IP_VAR}:?' in script


def test_the_token_is_no_stack_key_and_in_no_plan_or_script() -> None:
    cfg = copy.deepcopy(config("kind-local"))
    cfg["suites"]["e2sar"]["control_plane"] = {"token": "s3cr3t-t0ken"}
    with pytest.raises(StackError, match=r"^stack: meshperf:suites\.e2sar\.control_plane: token: a secret, not a"):
        stack_from_config(cfg)
    del cfg["suites"]["e2sar"]["control_plane"]
    plan = build_plan(stack_from_config(cfg))
    assert "token" not in plan.model_dump_json()
    for case in plan.e2sar:
        for role in ("receiver", "sender"):
            assert "useless" not in e2sar_script(case, role)  # the placeholder too comes from the Secret
