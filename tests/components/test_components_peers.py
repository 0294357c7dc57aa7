"""The peers' tests under mocks: every tool and parallel streams in kind-mesh, the UDP data port admitted
(server ports, Services, NetworkPolicies), every object valid against the schema, and the runner's commands."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest
from conftest import Run, run_program, stack_config
from test_components_schema import objects

ALL_TOOLS = ["iperf3_tcp", "iperf3_udp", "tcp_stream", "tcp_rr", "tcp_crr", "udp_rr", "udp_stream"]


@pytest.fixture(scope="module")
def peers() -> Run:
    config = stack_config("kind-mesh")
    suites = json.loads(config["meshperf:suites"])
    suites["netperf"].update({"tools": ALL_TOOLS, "streams": 4, "udp_length": [96, 1422]})
    config["meshperf:suites"] = json.dumps(suites)
    return run_program("kind-mesh", config)


def _ports(obj: dict[str, Any]) -> set[tuple[str, int]]:
    return {(p["protocol"], int(p["port"])) for p in obj}


def test_every_object_validates_strictly(peers: Run) -> None:
    for obj in objects(peers):
        kubernetes_validate.validate(obj, "1.31", strict=True)


def test_netperfs_udp_data_port_is_served_and_admitted(peers: Run) -> None:
    objs = objects(peers)
    services = [o for o in objs if o["kind"] == "Service" and o["spec"].get("clusterIP") != "None"]
    assert services
    for service in services:
        assert {("UDP", 12866), ("TCP", 12866), ("TCP", 12865)} <= _ports(service["spec"]["ports"]), service
    policies = [
        o for o in objs if o["kind"] == "NetworkPolicy" and (o["spec"].get("ingress") or o["spec"].get("egress"))
    ]
    for policy in policies:
        rules = policy["spec"].get("ingress", []) + policy["spec"].get("egress", [])
        admitted = set().union(*(_ports(r.get("ports", [])) for r in rules))
        if ("TCP", 12866) in admitted:  # the policies of netperf's traffic take its UDP too
            assert ("UDP", 12866) in admitted, policy["metadata"]["name"]
    servers = [o for o in objs if o["kind"] == "Pod" and any(c["name"] == "netserver" for c in o["spec"]["containers"])]
    assert servers
    for pod in servers:
        netserver = next(c for c in pod["spec"]["containers"] if c["name"] == "netserver")
        assert {("UDP", 12866), ("TCP", 12866)} <= {(p["protocol"], p["containerPort"]) for p in netserver["ports"]}


def test_the_shipped_stack_admits_no_udp_data_port(runs: dict[str, Run]) -> None:
    """Without netperf's UDP tests (the default), nothing opens UDP 12866."""
    for obj in objects(runs["kind-mesh"]):
        if obj["kind"] == "Service":
            assert ("UDP", 12866) not in _ports(obj["spec"]["ports"])


def test_the_jobs_scripts_run_the_new_tests(peers: Run) -> None:
    scripts = "\n".join(text for o in objects(peers) if o["kind"] == "ConfigMap" for text in o.get("data", {}).values())
    for words in ("-t TCP_CRR", "-t UDP_RR", "-t UDP_STREAM", "-P 4", "-l 96", "-l 1422"):
        assert words in scripts, words
