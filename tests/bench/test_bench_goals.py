"""The benches' exit codes: 0 when the goal is met, 1 when it is missed (not a verdict line alone).

Each bench's goal is a small pure function of what it measured; the benches themselves run
for minutes to hours and are run by hand (their RESULTS.md say what they measured).
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / name / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fidelity_exits_1_below_its_ratio_goal() -> None:
    fidelity = bench("fidelity")
    assert fidelity.exit_code(0.97) == 0 and fidelity.exit_code(0.95) == 0
    assert fidelity.exit_code(0.949) == 1


@pytest.mark.parametrize(
    ("ratio", "difference", "code"),
    [(0.117, 0.004, 0), (0.25, 0.03, 0), (0.26, 0.004, 1), (0.117, 0.0511, 1), (0.1, math.nan, 1)],
)
def test_matrix_time_exits_1_when_either_goal_is_missed(ratio: float, difference: float, code: int) -> None:
    assert bench("matrix_time").exit_code(ratio, difference) == code


@pytest.mark.parametrize(
    ("missed", "alarms", "trials", "code"), [(0, 0, 10, 0), (1, 0, 10, 1), (0, 1, 10, 1), (0, 0, 9, 1)]
)
def test_regression_detection_exits_1_on_a_miss_a_false_alarm_or_too_few_trials(
    missed: int, alarms: int, trials: int, code: int
) -> None:
    assert bench("regression_detection").exit_code(missed, alarms, trials) == code


def test_hosts_vs_ansible_names_each_goal_missed() -> None:
    goals = bench("hosts_vs_ansible").goal_misses
    measured_n50 = {  # RESULTS.md, N = 50: every goal met
        "hosts": (13.28, 6.85, True),
        "ansible": (146.81, 147.30, True),
        "pyinfra": (172.74, 69.34, True),
        "floor": (12.61, 7.89, True),
    }
    assert goals(measured_n50) == []
    slow_pyinfra = {**measured_n50, "pyinfra": (60.0, 69.34, True)}
    assert goals(slow_pyinfra) == ["pyinfra cold: 4.52x, goal >= 5.00x"]
    slow_hosts = {**measured_n50, "hosts": (20.0, 6.85, True)}
    assert goals(slow_hosts) == ["ansible cold: 7.34x, goal >= 10.00x", "floor cold: 0.63x, goal >= 0.67x"]
    assert goals({**measured_n50, "ansible": (146.81, 147.30, False)}) == ["ansible: FAILED"]


@pytest.mark.parametrize(
    ("name", "args", "line"),
    [
        ("fidelity", ["--pairs", "0"], "error: --pairs and --seconds must be at least 1"),
        ("regression_detection", ["--repeats", "1"], "error: --trials must be at least 1, --repeats at least 2"),
        ("regression_detection", ["--cut", "1.5"], "error: --trials must be at least 1"),
        ("hosts_vs_ansible", ["--tools", "chef"], "error: --tools from hosts, ansible, pyinfra, floor (not chef)"),
        ("hosts_vs_ansible", ["--hosts", "0"], "error: --tools from"),
        ("matrix_time", ["--pod-rate", "1gbps"], "error: meshperf:workloads.w1.egress_rate: '1gbps' is bytes"),
    ],
)
def test_bad_options_are_one_line_and_exit_2_before_any_work(name: str, args: list[str], line: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / name / "run.py"), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stderr.startswith(line), done.stderr
    assert done.stderr.count("\n") == 1
