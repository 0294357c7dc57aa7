"""Policy mutations through a whole lab run: drop one allow rule from a rendered policy and only
the cases that need it fail, each with a reason naming the policy (issue 12, "How it is shown").

The run is `run_lab` in this process, with `render()` wrapped to mutate its output: the
objects are otherwise exactly what the Pulumi program registers, but for how long a client
waits for a target that does not answer (see `with_short_waits`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import netlab.lab
from manifests import render
from netlab.run import run_lab
from spec.load import load_stack
from spec.profiles import quick

Obj = dict[str, Any]


def _stack() -> Any:
    stack = quick(load_stack("kind-mesh"))
    netperf = stack.suites.netperf.model_copy(update={"paths": [1, 6], "tools": ["iperf3_tcp"], "mss": [1376]})
    e2sar = stack.suites.e2sar.model_copy(update={"enabled": False})
    return stack.model_copy(update={"suites": stack.suites.model_copy(update={"netperf": netperf, "e2sar": e2sar})})


def _servers_ingress(objects: list[Obj], cluster: str) -> Obj:
    return next(
        o
        for o in objects
        if o["kind"] == "NetworkPolicy"
        and o["metadata"]["name"] == "servers-ingress"
        and o["metadata"]["labels"]["meshperf.io/cluster"] == cluster
    )


def without_node_blocks(objects: list[Obj]) -> None:
    """kind-mesh's servers-ingress in cluster-b forgets the masquerading nodes: only the pod subnet is left."""
    rule = _servers_ingress(objects, "cluster-b")["spec"]["ingress"][0]
    rule["from"] = [p for p in rule["from"] if not p.get("ipBlock", {}).get("cidr", "").endswith("/32")]


def without_iperf3_tcp(objects: list[Obj]) -> None:
    """cluster-a's servers-ingress forgets iperf3's TCP port (UDP stays). Dropping a rule's last port
    or last peer would open it instead: an empty list means every port, every source."""
    rule = _servers_ingress(objects, "cluster-a")["spec"]["ingress"][0]
    rule["ports"] = [p for p in rule["ports"] if (p["protocol"], p["port"]) != ("TCP", 5201)]
    assert rule["ports"]


WAIT_BOUND = "+ 120)); until nc"  # entry.sh's wait for a target (manifests/clients.py)
SHORT_WAIT_S = 4


def with_short_waits(objects: list[Obj]) -> None:
    """Each client's entry.sh waits SHORT_WAIT_S, not two minutes, for a target that does not
    answer (a dropped rule's): the wait ends in `|| true` and the case runs and fails the same."""
    scripts = [o for o in objects if o["kind"] == "ConfigMap" and "entry.sh" in o.get("data", {})]
    assert scripts and all(WAIT_BOUND in o["data"]["entry.sh"] for o in scripts)
    for o in scripts:
        o["data"]["entry.sh"] = o["data"]["entry.sh"].replace(WAIT_BOUND, f"+ {SHORT_WAIT_S})); until nc")


@pytest.mark.usefixtures("clean_machine")
@pytest.mark.parametrize(
    ("mutate", "failing", "policy"),
    [
        (None, set(), None),
        (without_node_blocks, {"p6-iperf3-tcp-mss1376"}, "meshperf/servers-ingress"),
        (without_iperf3_tcp, {"p1-iperf3-tcp-mss1376"}, "meshperf/servers-ingress"),
    ],
)
def test_only_the_cases_a_dropped_rule_served_fail_naming_the_policy(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mutate: Callable[[list[Obj]], None] | None,
    failing: set[str],
    policy: str | None,
) -> None:
    def mutated_render(*args: Any) -> list[Obj]:
        objects = render(*args)
        with_short_waits(objects)
        if mutate is not None:
            mutate(objects)
        return objects

    monkeypatch.setattr(netlab.lab, "render", mutated_render)
    lines: list[str] = []
    outcome = asyncio.run(run_lab(_stack(), "mutation", tmp_path / "runs", lines.append))
    failed = {c.case_id: c.error or "" for c in outcome.results.cases if not c.ok}
    assert set(failed) == failing, "\n".join(lines)
    assert len(outcome.results.cases) == 2
    for case_id, error in failed.items():
        assert "NetworkPolicy denied" in error and policy in error, (case_id, error)


def without_iperf3_udp(objects: list[Obj]) -> None:
    """cluster-a's servers-ingress forgets iperf3's UDP port (TCP, its control connection, stays)."""
    rule = _servers_ingress(objects, "cluster-a")["spec"]["ingress"][0]
    rule["ports"] = [p for p in rule["ports"] if (p["protocol"], p["port"]) != ("UDP", 5201)]
    assert rule["ports"]


@pytest.mark.usefixtures("clean_machine")
def test_each_case_a_dropped_rule_fails_names_the_policy_with_its_own_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19, item 6: iperf3 UDP cases back to back against one server, through its virtual IP
    first, then its pod IP, then a client's own hairpin Service. A case's first datagram leaves as
    the case before it ends, so it is counted in that case's reading: each failed case is named by
    the drops of its own flows in both readings, not by whatever the reading beside it held."""

    def mutated_render(*args: Any) -> list[Obj]:
        objects = render(*args)
        with_short_waits(objects)
        without_iperf3_udp(objects)
        return objects

    stack = quick(load_stack("kind-mesh"))
    netperf = stack.suites.netperf.model_copy(update={"paths": [2, 1, 5], "tools": ["iperf3_udp"]})
    e2sar = stack.suites.e2sar.model_copy(update={"enabled": False})
    stack = stack.model_copy(update={"suites": stack.suites.model_copy(update={"netperf": netperf, "e2sar": e2sar})})
    monkeypatch.setattr(netlab.lab, "render", mutated_render)
    lines: list[str] = []
    outcome = asyncio.run(run_lab(stack, "mutation", tmp_path / "runs", lines.append))
    cases = {c.case_id: c for c in outcome.results.cases}
    assert sorted(cases) == ["p1-iperf3-udp-len1400", "p2-iperf3-udp-len1400", "p5-iperf3-udp-len1400"]
    for case_id, case in cases.items():
        assert not case.ok, case_id
        error = case.error or ""
        assert "NetworkPolicy denied" in error and "meshperf/servers-ingress" in error, (case_id, "\n".join(lines))
        assert ", udp/5201 from " in error, (case_id, error)
