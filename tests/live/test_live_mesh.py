"""Path 6 for real (issue 20, item 2): the real Pulumi CLI and pulumi-kubernetes on two local clusters
routed to each other (stacks/Pulumi.live-mesh.yaml: w1 and w2 in mesh-a, w4 in mesh-b, under this
module's own names). `pulumi up` measures path 1 and path 6 (w1 to w4's pod IP through the mesh
endpoint), every figure above 0 and `failures` `{}`; `pulumi destroy` leaves nothing of the stack in
either cluster. Both clusters are stopped on every exit path. Skips in one line when the live tools
are not built.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from liveflow import Kubectl, Pulumi, bin_dir, planned_rows, point_at, say, seed_rows, start_stack, tools_or_skip

from localcluster import down
from localcluster.config import ClusterSpec, all_from_stack
from localcluster.up import up
from spec.load import load_stack
from spec.plan import build_plan

TOOLS = tools_or_skip()

STACK = "live-mesh"
NAMES = {"mesh-a": "lvmesh-a", "mesh-b": "lvmesh-b"}  # the stack's clusters -> this module's local clusters
UP_S = 600.0
STEP_S = 300.0


@dataclass
class Mesh:
    pulumi: Pulumi
    specs: list[ClusterSpec]
    kubectls: list[Kubectl]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    started = time.monotonic()
    stack = all_from_stack(STACK)
    specs = [spec.renamed(NAMES) for spec in stack]
    pulumi: Pulumi | None = None
    try:
        t0 = time.monotonic()
        for spec in specs:
            up(spec, bin_dir=bin_dir(TOOLS), say=say)
        took = time.monotonic() - t0
        pulumi = start_stack(tmp_path_factory.mktemp("livemesh"), STACK, TOOLS)
        pulumi.times["clusters start"] = took
        for i, (cluster, spec) in enumerate(zip(stack, specs, strict=True)):
            point_at(pulumi, i, cluster.name, spec)
        yield Mesh(pulumi, specs, [Kubectl(bin_dir(TOOLS), s.kubeconfig, s.context) for s in specs])
    finally:
        t0 = time.monotonic()
        for spec in reversed(specs):
            down.teardown(spec.run_dir, spec.name, say=say)
        times = pulumi.times if pulumi else {}
        times["clusters down"] = time.monotonic() - t0
        times["live mesh total"] = time.monotonic() - started
        say("times: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))


def test_up_measures_path_6_across_the_clusters(mesh: Mesh) -> None:
    mesh.pulumi.run("up", "--yes", timeout_s=UP_S, label="up")
    out = mesh.pulumi.outputs()
    assert out["failures"] == {}, out["failures"]
    plan = build_plan(load_stack(str(mesh.pulumi.project / "stacks" / f"Pulumi.{STACK}.yaml")))
    rows, ours = seed_rows(), planned_rows(plan)
    assert {rows[label][1] for label in ours} == {1, 6}
    say(f"throughput {json.dumps({label: out['throughput'].get(label) for label in sorted(ours)})}")
    assert all((out["throughput"].get(label) or 0) > 0 for label in ours), out["throughput"]


def test_destroy_leaves_nothing_in_either_cluster(mesh: Mesh) -> None:
    mesh.pulumi.run("destroy", "--yes", timeout_s=STEP_S, label="destroy")
    for spec, kubectl in zip(mesh.specs, mesh.kubectls, strict=True):
        assert kubectl.left() == [], f"{spec.name}: {kubectl.left()}"
