"""Repeats in the plan, and steady-state stopping in the runner script, run by /bin/sh.

The stand-in iperf3 writes text-mode interval lines every 0.1 s at a rate the test picks
(steady, or ramping so that it never settles), and on SIGTERM prints its summary and exits
1, as iperf3 3.12 does; the script's watcher must stop the steady one early and let the
ramping one run to max_s, and say which in the log.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from results.collect import collect
from results.logs import read_log_folder
from spec.model import NetperfSuite, Stack, SteadyState, Suites
from spec.plan import build_plan
from spec.runner import case_command, runner_script

STANDIN_IPERF3 = r"""#!/bin/sh
# stand-in for iperf3 -c ... -t T -i 0.1 in text mode; STANDIN_RAMP=1 makes the rate climb
t=0; n=0; total=0
for a in "$@"; do [ "$prev" = -t ] && t=$a; prev=$a; done
summary() {
    echo "- - - - - - - - - - - - - - - - - - - - - - - - -"
    echo "[ ID] Interval           Transfer     Bitrate         Retr"
    echo "[  5]   0.00-$1   sec  1.00 GBytes  1000000 Kbits/sec    7             sender"
    echo "[  5]   0.00-$1   sec  0.00 Bytes  0.00 Kbits/sec                  receiver"
}
trap 'summary "$end"; echo "iperf3: interrupt - the client has terminated" >&2; exit 1' TERM
echo "Connecting to host $3, port 5201"
echo "[  5] local 10.0.0.1 port 40000 connected to $3 port 5201"
echo "[ ID] Interval           Transfer     Bitrate         Retr  Cwnd"
while [ "$n" -lt $((t * 10)) ]; do
    start=$(printf '%d.%d0' $((n / 10)) $((n % 10))); n=$((n + 1))
    end=$(printf '%d.%d0' $((n / 10)) $((n % 10)))
    if [ -n "${STANDIN_RAMP:-}" ]; then rate=$((1000000 * n)); else rate=1000000; fi
    sleep 0.1
    echo "[  5]   $start-$end   sec  11.9 MBytes  $rate Kbits/sec    0   1.00 MBytes"
done
summary "$end"
"""


def _stack(**suite: object) -> Stack:
    fields: dict[str, object] = {"paths": [6], "tools": ["iperf3_tcp"], "mss": [1376], **suite}
    return Stack(suites=Suites(netperf=NetperfSuite.model_validate(fields)))


def test_repeats_make_unique_ids_round_by_round() -> None:
    plan = build_plan(_stack(mss=[536, 1376], repeats=3))
    ids = [c.id for c in plan.cases]
    assert len(ids) == len(set(ids)) == 6
    assert ids[:2] == ["p6-iperf3-tcp-mss536-r1", "p6-iperf3-tcp-mss1376-r1"]
    assert [c.repeat for c in plan.cases] == [1, 1, 2, 2, 3, 3]
    assert {c.point for c in plan.cases} == {(6, "iperf3_tcp", 536, 1, "ipv4"), (6, "iperf3_tcp", 1376, 1, "ipv4")}
    assert [c.id for c in build_plan(_stack()).cases] == ["p6-iperf3-tcp-mss1376"]  # n = 1: the seed's ids


def test_steady_state_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="max_s 2 leaves no window"):
        SteadyState(max_s=2, omit_s=1, window_s=1)
    with pytest.raises(ValidationError, match="shorter than interval_s"):
        SteadyState(window_s=0.1, interval_s=0.5)
    with pytest.raises(ValidationError):
        NetperfSuite(repeats=0)


def test_a_steady_case_runs_iperf3_text_mode_under_the_watcher() -> None:
    (case,) = build_plan(_stack(steady_state=SteadyState(tolerance_pct=2, max_s=8))).cases
    assert case.ext == "txt" and case.time_limit_s == 18
    command = case_command(case)
    assert command[:6] == ["steady", "2", "0.5", "1", "0.2", "0.1"]
    assert command[6:8] == ["iperf3", "-c"] and "-J" not in command
    assert command[command.index("-t") + 1] == "8" and "--forceflush" in command


def _run(tmp_path: Path, stack: Stack, ramp: bool, iperf3: str = STANDIN_IPERF3) -> tuple[float, Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "iperf3").write_text(iperf3)
    (bindir / "iperf3").chmod(0o755)
    (bindir / "ss").write_text("#!/bin/sh\necho ESTAB\n")
    (bindir / "ss").chmod(0o755)
    plan = build_plan(stack)
    script = tmp_path / "w1.sh"
    script.write_text(runner_script("w1", list(plan.cases)))
    logs = tmp_path / "logs"
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "MESHPERF_LOGDIR": str(logs),
        "MESHPERF_W4_POD_IP": "10.245.1.2",
    }
    if ramp:
        env["STANDIN_RAMP"] = "1"
    began = time.monotonic()
    subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60, check=True)
    return time.monotonic() - began, logs


def test_a_steady_rate_stops_early_on_stability(tmp_path: Path) -> None:
    stack = _stack(steady_state=SteadyState(max_s=6, min_s=1, window_s=0.5, omit_s=0.2))
    took, logs = _run(tmp_path, stack, ramp=False)
    assert took < 4, f"the watcher did not stop a steady stand-in ({took:.1f} s)"
    log = (logs / "p6-iperf3-tcp-mss1376.txt").read_text()
    assert "meshperf-steady: stop=stable" in log and "exit=0" in log
    assert "\t0\t1" in (logs / "index.tsv").read_text()  # success, first attempt
    (result,) = collect(build_plan(stack), read_log_folder(logs)).cases
    assert result.ok, result.error
    assert result.stopped == "stable"
    assert result.throughput_mbps == pytest.approx(1000.0)
    assert result.retransmits == 7
    assert result.duration_s is not None and 1.0 <= result.duration_s < 4


def test_a_rate_that_never_settles_runs_to_max(tmp_path: Path) -> None:
    stack = _stack(steady_state=SteadyState(max_s=2, min_s=1, window_s=0.5, omit_s=0.2, tolerance_pct=1))
    took, logs = _run(tmp_path, stack, ramp=True)
    assert took >= 2
    log = (logs / "p6-iperf3-tcp-mss1376.txt").read_text()
    assert "meshperf-steady: stop=max" in log
    (result,) = collect(build_plan(stack), read_log_folder(logs)).cases
    assert result.ok and result.stopped == "max"
    assert result.duration_s == pytest.approx(2.0)
    # Mean of 3..20 Gbit/s over 0.2..2.0 s (the interval 0.1-0.2 ends at omit: left out).
    assert result.throughput_mbps == pytest.approx(sum(range(3, 21)) / 18 * 1000)


def test_the_quick_profile_cuts_steady_cases_short() -> None:
    from spec.profiles import quick

    stack = _stack(repeats=2, steady_state=SteadyState(max_s=10, min_s=1, window_s=1, omit_s=0.5))
    steady = quick(stack).suites.netperf.steady_state
    assert steady is not None and steady.max_s == 3  # 0.5 s omitted + a 1 s window, + 1 s
    assert quick(stack).suites.netperf.repeats == 2
    assert quick(_stack()).suites.netperf.steady_state is None


@pytest.mark.parametrize("name", ["kind-mesh", "kind-local", "ci-example"])
def test_shipped_stacks_stop_tcp_on_steady_state_and_one_key_gives_the_seeds_method(name: str) -> None:
    from spec.load import STACKS_DIR, stack_from_config

    document = yaml.safe_load((STACKS_DIR / f"Pulumi.{name}.yaml").read_text())
    config = {k.split(":", 1)[1]: v for k, v in document["config"].items() if k.startswith("meshperf:")}
    fast = build_plan(stack_from_config(config))
    assert {c.tool for c in fast.cases if c.steady is not None} == {"iperf3_tcp"}
    assert {c.duration_s for c in fast.cases if c.tool != "iperf3_tcp"} == {2}
    del config["suites"]["netperf"]["steady_state"]  # the one key
    seed = build_plan(stack_from_config(config))
    assert [c.id for c in seed.cases] == [c.id for c in fast.cases]
    assert all(c.steady is None for c in seed.cases)
    assert {c.duration_s for c in seed.cases} == {config["suites"]["netperf"]["duration_s"]}


def test_the_quick_profile_runs_the_fixed_tools_one_second() -> None:
    from spec.profiles import quick

    stack = _stack(tools=["iperf3_tcp", "tcp_rr"], steady_state=SteadyState(fixed_tools_s=2))
    assert {c.tool: c.duration_s for c in build_plan(stack).cases}["tcp_rr"] == 2
    assert {c.tool: c.duration_s for c in build_plan(quick(stack)).cases}["tcp_rr"] == 1


def test_a_steady_case_that_must_retry_runs_steady_again(tmp_path: Path) -> None:
    """The first attempt finds no server (as while it restarts); the retry must run the same watcher."""
    stack = _stack(steady_state=SteadyState(max_s=6, min_s=1, window_s=0.5, omit_s=0.2))
    first = tmp_path / "refused-once"
    refused_once = (
        f'#!/bin/sh\nif [ "$1" = -c ] && [ ! -e {first} ]; then : > {first}\n'
        '  echo "iperf3: error - unable to connect to server - server may have stopped running"; exit 1; fi\n'
        + STANDIN_IPERF3.split("\n", 1)[1]
    )
    _, logs = _run(tmp_path, stack, ramp=False, iperf3=refused_once)
    line = (logs / "index.tsv").read_text().split("\t")
    assert line[3:5] == ["0", "2\n"], line  # success on the second attempt
    (result,) = collect(build_plan(stack), read_log_folder(logs)).cases
    assert result.ok and result.stopped == "stable", result.error
