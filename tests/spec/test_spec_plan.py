"""The plan: a pure, ordered function of the stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spec.load import StackError, load_stack
from spec.model import HOST_BASELINE, HOST_PATHS, NetPath, Stack
from spec.plan import CRR_TAIL_S, Case, build_plan
from spec.profiles import quick, with_host_baseline

ROOT = Path(__file__).resolve().parents[2]


def test_seed_matrix_counts() -> None:
    plan = build_plan(Stack())
    tools = [c.tool for c in plan.cases]
    assert tools.count("iperf3_tcp") == 6 * 21
    assert tools.count("iperf3_udp") == 6 * 21  # the seed's datagram sizes, 96 till 1422 step 64
    assert tools.count("tcp_stream") == 6
    assert tools.count("tcp_rr") == 6
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


def _suite_plan(**netperf: object) -> list[Case]:
    return list(build_plan(Stack.model_validate({"suites": {"netperf": netperf}})).cases)


def test_new_netperf_tools_run_on_every_path_with_the_fixed_data_port() -> None:
    cases = _suite_plan(tools=["tcp_crr", "udp_rr", "udp_stream"])
    for tool in ("tcp_crr", "udp_rr", "udp_stream"):
        mine = [c for c in cases if c.tool == tool]
        assert {c.path for c in mine} == set(NetPath) - set(HOST_PATHS)
        assert all(c.data_port == 12866 and c.port == 12865 and c.ext == "txt" for c in mine)
    assert {c.id for c in cases if c.path is NetPath.SAME_NODE_VIP} == {"p2-tcp-crr", "p2-udp-rr", "p2-udp-stream"}
    # UDP_STREAM sends the sweep's largest datagram
    assert {c.udp_length for c in cases if c.tool == "udp_stream"} == {1376}


def test_udp_length_sweeps_like_mss() -> None:
    sweep = _suite_plan(tools=["iperf3_udp"], paths=[1], udp_length={"start": 100, "stop": 400, "step": 100})
    assert [c.udp_length for c in sweep] == [100, 200, 300, 400]
    assert [c.id for c in sweep][-1] == "p1-iperf3-udp-len400"
    listed = _suite_plan(tools=["iperf3_udp"], paths=[1], udp_length=[1422, 96])
    assert [c.udp_length for c in listed] == [1422, 96]
    assert [c.udp_length for c in _suite_plan(tools=["iperf3_udp"], paths=[1], udp_length=1400)] == [1400]


def test_streams_add_one_parallel_case_at_the_last_point_and_keep_the_sweeps_single() -> None:
    steady = {"max_s": 5}
    cases = _suite_plan(tools=["iperf3_tcp", "iperf3_udp"], paths=[1], mss=[536, 1376], udp_length=[96, 1422],
                        streams=4, steady_state=steady)  # fmt: skip
    parallel = [c for c in cases if c.streams > 1]
    assert [(c.id, c.mss, c.udp_length, c.streams) for c in parallel] == [
        ("p1-iperf3-tcp-mss1376-streams4", 1376, None, 4),
        ("p1-iperf3-udp-len1422-streams4", None, 1422, 4),
    ]
    assert all(c.steady is None for c in parallel)  # the watcher reads one stream: parallel cases keep duration_s
    single = [c for c in cases if c.streams == 1]
    assert [c.mss or c.udp_length for c in single] == [536, 1376, 96, 1422]
    assert all(c.steady is not None for c in single if c.tool == "iperf3_tcp")
    assert len({c.point for c in cases}) == len(cases)  # streams tell the points apart
    assert not [c for c in _suite_plan(tools=["iperf3_tcp"], paths=[1], streams=1) if c.streams > 1]


def test_tcp_crr_cases_count_netperfs_tail_in_the_plans_time() -> None:
    """netperf 2.7's TCP_CRR returns about 4 s after its -l (timed here: `time netperf -t TCP_CRR -l 1` took 5 s)."""
    cases = _suite_plan(tools=["tcp_rr", "tcp_crr"], paths=[1], duration_s=3)
    rr, crr = cases
    assert (rr.planned_s, crr.planned_s) == (3, 3 + CRR_TAIL_S)
    assert crr.time_limit_s > crr.planned_s


def test_the_host_baseline_twins_every_pod_path_with_the_same_points() -> None:
    cases = _suite_plan(host_baseline=True, mss=[96, 1376], udp_length=[1400], streams=4)
    host = [c for c in cases if c.path in HOST_PATHS]
    assert {c.path for c in host} == set(HOST_PATHS)
    # Host cases run between the pod ends' host-network twins, by their (node) IP, never a VIP.
    ends = {(c.path, c.client, c.target.workload, c.target.address) for c in host}
    assert ends == {
        (NetPath.HOST_SAME, "w1-host", "w2-host", "pod"),
        (NetPath.HOST_REMOTE, "w3-host", "w2-host", "pod"),
        (NetPath.HOST_REMOTE_CLUSTER, "w1-host", "w4-host", "pod"),
    }
    # Each pod case's point exists on its host path: the same tool, MSS or length, streams.
    host_points = {(c.path, c.tool, c.mss, c.udp_length, c.streams) for c in host}
    for c in cases:
        if c.path not in HOST_PATHS:
            assert (HOST_BASELINE[c.path], c.tool, c.mss, c.udp_length, c.streams) in host_points
    assert {c.target.env_var for c in host} == {"MESHPERF_W2_HOST_POD_IP", "MESHPERF_W4_HOST_POD_IP"}
    # Pod clients run first (the seed's cases keep their order), host clients after them.
    clients = list(dict.fromkeys(c.client for c in cases))
    assert clients == ["w1", "w3", "w2", "w1-host", "w3-host"]


def test_the_host_baseline_takes_only_the_host_paths_of_the_chosen_pod_paths() -> None:
    cases = _suite_plan(host_baseline=True, paths=[2, 5], mss=[1376], tools=["iperf3_tcp"])
    assert [c.path for c in cases if c.path in HOST_PATHS] == [NetPath.HOST_SAME]
    assert not [c for c in _suite_plan(paths=[2], mss=[1376]) if c.path in HOST_PATHS]  # off by default


def test_host_baseline_profile_turns_it_on_and_checks_the_stack_again() -> None:
    stack = load_stack("kind-mesh")
    on = with_host_baseline(stack)
    assert not stack.suites.netperf.host_baseline and on.suites.netperf.host_baseline
    assert on.model_copy(update={"suites": stack.suites}) == stack  # nothing else changed
    assert {c.path for c in build_plan(on).cases} == set(NetPath)
    lonely = Stack.model_validate({"workloads": {"w2": Stack().workloads["w2"]}, "suites": {"netperf": {"paths": [5]}}})
    with pytest.raises(StackError, match=r"^--host-baseline: meshperf:suites.netperf.host_baseline: host-same needs"):
        with_host_baseline(lonely)
