"""The stack outputs of the tools beyond the seed's, under mocks, and docs/kubernetes.md's table of outputs.

The Results mock computes its outputs with the real `figures()`; its stand-in log folder here
is made of outputs captured between network namespaces (tests/results/data), placed under
the case ids of a plan with TCP_CRR, UDP_RR, UDP_STREAM, 4 parallel streams and two UDP sizes.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import conftest
import pytest
from conftest import ROOT, Run, run_program, stack_config

sys.path.insert(0, str(ROOT / "tests" / "results"))  # the captures' test kit, shared with tests/results
from results_testkit import MORE_TOOLS_FAILED, more_tools_folder, more_tools_stack

P1, P6 = "Same VM using Pod IP", "Remote Cluster using Pod IP"


@pytest.fixture(scope="module")
def more(tmp_path_factory: pytest.TempPathFactory) -> Run:
    config = stack_config("kind-mesh")
    suites = json.loads(config["meshperf:suites"])
    suites["netperf"].update(more_tools_stack().suites.netperf.model_dump(mode="json", include={
        "paths", "tools", "mss", "udp_length", "streams", "duration_s"
    }))  # fmt: skip
    suites["netperf"].pop("steady_state", None)
    suites["e2sar"]["enabled"] = False
    config["meshperf:suites"] = json.dumps(suites)
    mp = pytest.MonkeyPatch()
    mp.setattr(conftest, "plan_logs", lambda plan: more_tools_folder())  # stand-in viewers' folders
    try:
        return run_program("kind-mesh", config)
    finally:
        mp.undo()


def test_tcp_crr_and_udp_rr_carry_their_rates_and_percentiles(more: Run) -> None:
    crr = more.outputs["tcp_crr"]
    # netperf-2.7-tcp-crr-keyval.txt: TRANSACTION_RATE=2517.807, P50/P90/P99 124/227/4650 us
    assert crr[P1]["connections_per_s"] == pytest.approx(2517.807)
    latency = crr[P1]["latency_us"]
    assert (latency["p50"], latency["p90"], latency["p99"]) == (124.0, 227.0, 4650.0)
    assert set(latency) == {"p50", "p90", "p99", "mean", "min", "max"}
    udp_rr = more.outputs["udp_rr"]
    assert udp_rr[P1]["transactions_per_s"] == pytest.approx(16141.167) and udp_rr[P1]["latency_us"]["p50"] == 21.0
    assert udp_rr.get(P6) is None  # its case failed: no figure
    assert MORE_TOOLS_FAILED in more.outputs["failures"]


def test_udp_stream_and_the_udp_size_sweep_are_the_receivers(more: Run) -> None:
    stream = more.outputs["udp_stream"][P6]
    assert stream["throughput_mbps"] == pytest.approx(146.48) and stream["udp_length"] == 1400
    assert stream["loss_percent"] == pytest.approx(38.01, abs=0.01) and stream["lost_packets"] == 15795
    sweep = more.outputs["udp_by_length"][P1]
    assert sorted(sweep, key=int) == ["96", "1400"]
    assert sweep["96"]["throughput_mbps"] == pytest.approx(14.67, abs=0.01)
    assert sweep["1400"]["loss_percent"] == pytest.approx(52.46, abs=0.01)


def test_parallel_streams_sum_to_the_total(more: Run) -> None:
    tcp = more.outputs["streams"][P1]["iperf3_tcp"]
    assert tcp["streams"] == 4 and len(tcp["per_stream"]) == 4
    assert {s["mss_actual"] for s in tcp["per_stream"]} == {1364}
    total = sum(s["throughput_mbps"] for s in tcp["per_stream"])
    assert total == pytest.approx(tcp["throughput_mbps"], rel=0.01)
    udp = more.outputs["streams"][P6]["iperf3_udp"]
    assert udp["streams"] == 4 and udp["loss_percent"] > 0


def test_a_stack_of_the_seeds_tools_has_them_empty(runs: dict[str, Run]) -> None:
    outputs = runs["kind-mesh"].outputs
    assert all(outputs[k] == {} for k in ("tcp_crr", "udp_rr", "udp_stream", "streams"))
    assert set(outputs["udp_by_length"][P1]) == {"1400"}  # kind-mesh's one UDP size


def _documented_outputs() -> list[str]:
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    table = text[text.index("| output | what it holds |") :].split("\n\n", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)


def test_the_docs_table_names_every_output(runs: dict[str, Run], more: Any) -> None:
    named = _documented_outputs()
    assert len(named) == len(set(named))
    exported = set(runs["kind-mesh"].outputs) | set(more.outputs)
    assert set(named) == exported | {"regressions"}  # regressions: only with meshperf:baseline
