"""The README's Kubernetes flow on two nodes, for real (issue 20, item 2): stacks/Pulumi.live-two-nodes.yaml
on the local cluster's two nodes, so the remote-node paths 3 and 4 (w3 on worker2 -> w2 on worker1) and the
host baseline's remote-node path run on a real data path beside paths 1, 2 and 5.

Kept short (one MSS point, 2 s cases, iperf3 TCP only: 7 cases): the rest of the flow (refresh, re-runs,
policies, destroy of a gone cluster) is test_live_flow.py's on one node. The module fixture starts the
cluster under its own name and stops it on every exit path; skips in one line when the tools are not built.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from liveflow import PART_OF, Flow, flow_on, tools_or_skip

from manifests.base import ROLE, WORKLOAD
from results.seed import EXTRA_ROWS, SEED_ROWS
from spec.model import NetPath

TOOLS = tools_or_skip()

NAME = "lvtwo"  # the local cluster's own name (run folder, namespaces, kubeconfig context)
STACK = "live-two-nodes"
UP_S = 600.0
STEP_S = 300.0
SHORT = [
    ("meshperf:suites.netperf.mss", "1376"),
    ("meshperf:suites.netperf.duration_s", "2"),
    ("meshperf:suites.netperf.tools[0]", "iperf3_tcp"),
]
REMOTE = {NetPath.REMOTE_NODE_POD, NetPath.REMOTE_NODE_VIP, NetPath.HOST_REMOTE}


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    with flow_on(STACK, NAME, tmp_path_factory.mktemp("livetwo"), TOOLS, SHORT) as flow:
        yield flow


def _nodes(flow: Flow) -> dict[tuple[str, str], str]:
    """Every pod the stack made, by (workload, role): the node it ran on."""
    pods = flow.kubectl.json("get", "pods", "-A", "-l", PART_OF)["items"]
    labelled = [p for p in pods if WORKLOAD in p["metadata"]["labels"] and ROLE in p["metadata"]["labels"]]
    return {(p["metadata"]["labels"][WORKLOAD], p["metadata"]["labels"][ROLE]): p["spec"]["nodeName"] for p in labelled}


def test_up_measures_paths_1_to_5_and_the_host_baseline(flow: Flow) -> None:
    flow.pulumi.run("up", "--yes", timeout_s=UP_S, label="up")
    out: dict[str, Any] = flow.pulumi.outputs()
    assert out["failures"] == {}, out["failures"]
    throughput = flow.pulumi.output("throughput")
    print(f"live: throughput {json.dumps(throughput)}")
    planned = {(c.tool, c.path) for c in flow.plan().cases}
    rows = [r for r in (*SEED_ROWS, *EXTRA_ROWS) if (r.tool, r.path) in planned]
    assert {r.path for r in rows} == set(range(1, 6)), rows
    assert all((throughput.get(r.label) or 0) > 0 for r in rows), throughput
    # The host baseline: every pod point has its host figure, the remote-node path's (8) among them.
    overhead = out["overhead"]
    print(f"live: overhead {json.dumps(overhead)}")
    assert overhead and all((o.get("host") or 0) > 0 for o in overhead.values()), overhead
    assert {o["host_path"] for o in overhead.values()} == {NetPath.HOST_SAME, NetPath.HOST_REMOTE}


def test_remote_paths_ran_across_the_two_nodes(flow: Flow) -> None:
    """Each case's client on the other node than its server for paths 3, 4 and 8, on the same for the rest."""
    nodes = _nodes(flow)
    print(f"live: nodes {nodes}")
    assert len(set(nodes.values())) == 2, nodes
    for case in flow.plan().cases:
        client, server = nodes[(case.client, "client")], nodes[(case.target.workload, "server")]
        assert (client != server) == (case.path in REMOTE), (case.id, client, server)


def test_destroy_leaves_nothing_in_the_cluster(flow: Flow) -> None:
    assert flow.kubectl.left(), "the stack made nothing?"
    flow.pulumi.run("destroy", "--yes", timeout_s=STEP_S, label="destroy")
    assert flow.kubectl.left() == []
