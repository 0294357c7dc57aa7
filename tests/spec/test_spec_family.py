"""Address families: `ip_family` per cluster, every path over each family both its ends have."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from spec.load import StackError, stack_from_config
from spec.model import HOST_PATHS, NetPath
from spec.plan import build_plan
from spec.runner import case_command, runner_script
from tests.spec.test_spec_model import mesh_config


def _families(a: str, b: str) -> dict[str, Any]:
    config = copy.deepcopy(mesh_config())
    config["clusters"][0]["ip_family"] = a
    config["clusters"][1]["ip_family"] = b
    config["clusters"][1]["pod_subnet_v6"] = "fd00:10:245::/56"
    config["clusters"][1]["service_subnet_v6"] = "fd00:10:97::/112"
    config["suites"]["e2sar"]["enabled"] = "ipv6" not in (a, b)  # E2SAR is IPv4 only
    return config


def test_dual_runs_every_path_over_both_families_with_ipv4_ids_unchanged() -> None:
    plan = build_plan(stack_from_config(_families("dual", "dual")))
    v4 = [c for c in plan.cases if c.family == "ipv4"]
    v6 = [c for c in plan.cases if c.family == "ipv6"]
    assert len(v4) == len(v6) > 0
    assert {c.path for c in v6} == set(NetPath) - set(HOST_PATHS)  # the pod paths (no host baseline here)
    assert {c.id.removesuffix("-ipv6") for c in v6} == {c.id for c in v4}
    assert all(c.id.endswith("-ipv6") for c in v6) and not any(c.id.endswith("-ipv6") for c in v4)
    assert len({c.point for c in plan.cases}) == len(plan.cases)  # the family tells the points apart


def test_a_path_runs_only_over_the_families_both_ends_have() -> None:
    stack = stack_from_config(_families("dual", "ipv4"))
    assert stack.path_families(NetPath.SAME_NODE_VIP) == ("ipv4", "ipv6")
    assert stack.path_families(NetPath.REMOTE_CLUSTER_POD) == ("ipv4",)
    p6 = {c.family for c in build_plan(stack).cases if c.path is NetPath.REMOTE_CLUSTER_POD}
    assert p6 == {"ipv4"}


def test_clusters_that_share_no_family_are_refused_for_path_6() -> None:
    with pytest.raises(StackError, match=r"path 6 joins cluster-a \(ip_family ipv6\) and cluster-b \(ip_family ipv4\)"):
        stack_from_config(_families("ipv6", "ipv4"))


def test_ipv6_commands_name_the_family_and_read_the_ipv6_address() -> None:
    plan = build_plan(stack_from_config(_families("ipv6", "ipv6")))
    by_tool = {c.tool: c for c in plan.cases if c.path is NetPath.SAME_NODE_VIP}
    iperf3 = case_command(by_tool["iperf3_tcp"])
    start = iperf3.index("iperf3")  # after the steady-state watcher's words
    assert iperf3[start : start + 4] == ["iperf3", "-c", "${MESHPERF_W2_VIP6}", "-6"]
    netperf = case_command(by_tool["tcp_stream"])
    assert netperf[:3] == ["netperf", "-H", "${MESHPERF_W2_VIP6}"] and "-6" in netperf and "-4" not in netperf
    script = runner_script("w1", plan.cases_of("w1"))
    assert ': "${MESHPERF_W2_POD_IP6:?' in script and "MESHPERF_W2_POD_IP:" not in script


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("ip_family", "ipv5", "Input should be 'ipv4', 'ipv6' or 'dual'"),
        ("pod_subnet_v6", "fd00:10:244::/64", "is too small: each node takes a /64"),
        ("pod_subnet_v6", "fd00:10::/32", "at most 16 bits"),
        ("service_subnet_v6", "fd00:10:96::/96", "must be a /108 or longer"),
        ("service_subnet_v6", "fd00:10:244::/112", "overlaps"),
    ],
)
def test_bad_ipv6_keys_are_one_line_naming_the_key(key: str, value: str, why: str) -> None:
    config = _families("dual", "dual")
    config["clusters"][0][key] = value
    with pytest.raises(StackError) as raised:
        stack_from_config(config)
    assert "\n" not in str(raised.value)
    assert why in str(raised.value)
    assert str(raised.value).startswith("stack: meshperf:clusters[0]")


def test_ipv6_subnets_of_two_clusters_must_not_overlap() -> None:
    config = _families("dual", "dual")
    del config["clusters"][1]["pod_subnet_v6"]
    with pytest.raises(StackError, match=r"cluster-a.pod_subnet_v6 fd00:10:244::/56 overlaps cluster-b.pod_subnet_v6"):
        stack_from_config(config)


def test_e2sar_is_refused_on_an_ipv6_only_cluster() -> None:
    config = _families("ipv6", "ipv6")
    config["suites"]["e2sar"]["enabled"] = True
    with pytest.raises(StackError, match=r"suites.e2sar: E2SAR runs over IPv4 .* cluster cluster-a is ipv6 only"):
        stack_from_config(config)
