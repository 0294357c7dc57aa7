"""The plan: a pure, ordered function of the stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spec.load import load_stack
from spec.model import NetPath, Stack
from spec.plan import build_plan
from spec.profiles import quick

ROOT = Path(__file__).resolve().parents[2]


def test_seed_matrix_counts() -> None:
    plan = build_plan(Stack())
    tools = [c.tool for c in plan.cases]
    assert tools.count("iperf3_tcp") == 6 * 21
    assert tools.count("iperf3_udp") == 6
    assert tools.count("netperf_stream") == 6
    assert tools.count("netperf_rr") == 6
    assert len({c.id for c in plan.cases}) == len(plan.cases)


def test_paths_have_the_seed_ends_and_address_kinds() -> None:
    plan = build_plan(Stack())
    ends = {(c.path, c.client, c.target.workload, c.target.address) for c in plan.cases}
    assert ends == {
        (NetPath.SAME_NODE_POD, "w1", "w2", "pod"),
        (NetPath.SAME_NODE_VIP, "w1", "w2", "vip"),
        (NetPath.REMOTE_NODE_POD, "w3", "w2", "pod"),
        (NetPath.REMOTE_NODE_VIP, "w3", "w2", "vip"),
        (NetPath.HAIRPIN, "w2", "w2", "vip"),
        (NetPath.REMOTE_CLUSTER_POD, "w1", "w4", "pod"),
    }


def test_cases_are_grouped_by_client_and_keep_the_sweep_order() -> None:
    plan = build_plan(Stack())
    clients = [c.client for c in plan.cases]
    assert plan.clients() == ["w1", "w3", "w2"]
    # each client's cases are contiguous: its script runs them in one go
    assert clients == sorted(clients, key=plan.clients().index)
    p1 = [c.mss for c in plan.cases if c.path is NetPath.SAME_NODE_POD and c.tool == "iperf3_tcp"]
    assert p1 == list(range(96, 1377, 64))


def test_netperf_cases_fix_the_data_port() -> None:
    plan = build_plan(Stack())
    for case in plan.cases:
        if case.tool.startswith("netperf"):
            assert case.port == 12865
            assert case.data_port == 12866


def test_single_cluster_stack_has_no_remote_cluster_path() -> None:
    plan = build_plan(load_stack("kind-local"))
    assert NetPath.REMOTE_CLUSTER_POD not in {c.path for c in plan.cases}
    assert plan.servers() == ["w2"]


def test_plan_depends_on_the_stack_alone(tmp_path: Path) -> None:
    """The same plan from another process (other hash seed, clock zone, folder), and the stack left as it was."""
    stack = load_stack("kind-mesh")
    before = stack.model_dump_json()
    plan = build_plan(stack).model_dump_json()
    assert stack.model_dump_json() == before
    code = (
        "import sys; from spec.load import load_stack; from spec.plan import build_plan; "
        "sys.stdout.write(build_plan(load_stack('kind-mesh')).model_dump_json())"
    )
    for seed, zone in (("1", "UTC"), ("4242", "Asia/Kolkata")):
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed, "TZ": zone}
        elsewhere = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True
        )
        assert elsewhere.stdout == plan
    assert build_plan(quick(stack)).model_dump_json() != plan  # and it does follow the stack


def test_quick_profile_keeps_every_path_and_tool_on_two_mss_points() -> None:
    full, short = build_plan(Stack()), build_plan(quick(Stack()))
    assert {(c.path, c.tool) for c in short.cases} == {(c.path, c.tool) for c in full.cases}
    assert sorted({c.mss for c in short.cases if c.mss}) == [96, 1376]
    assert short.total_seconds() <= 60


def test_time_limits_cover_the_test_and_setup() -> None:
    plan = build_plan(Stack())
    case = plan.cases[0]
    assert case.time_limit_s > case.duration_s
    assert plan.time_limit_s("w1") == sum(c.time_limit_s for c in plan.cases_of("w1"))
