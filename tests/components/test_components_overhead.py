"""`pulumi stack output overhead`: each pod point with its host-network baseline and pod/host, under mocks."""

from __future__ import annotations

import pytest
from conftest import Run

from spec.load import load_stack
from spec.model import HOST_BASELINE, HOST_PATHS
from spec.plan import build_plan


def test_every_pod_point_of_a_baseline_stack_has_its_ratio(runs: dict[str, Run]) -> None:
    plan = build_plan(load_stack("ci-example"))
    overhead = runs["ci-example"].outputs["overhead"]
    pod_points = {c.point for c in plan.cases if c.path not in HOST_PATHS}
    assert len(overhead) == len(pod_points)  # one entry per pod point, none for the host points
    for key, entry in overhead.items():
        assert entry["host_path"] == HOST_BASELINE[entry["path"]], key
        # The Results stand-in read real lab logs of both paths: a ratio of their figures.
        assert entry["pod"] > 0 and entry["host"] > 0, key
        assert entry["ratio"] == pytest.approx(entry["pod"] / entry["host"])
    assert "p5-tcp_rr" in overhead and overhead["p5-tcp_rr"]["host_path"] == 7


def test_a_stack_without_the_baseline_exports_none(runs: dict[str, Run]) -> None:
    assert runs["kind-mesh"].outputs["overhead"] == {}
