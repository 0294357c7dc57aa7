"""The E2SAR scripts as they run, against the stand-in `e2sar_perf` on loopback (no lab, no root).

The stand-in refuses what the real tool refuses, per version (tests/netlab/e2sar_standin.py, from
E2SAR's source): these show that the URI the scripts build passes those checks, that the old
receiver URI (no `data=`) is refused as the real 0.3.2 refused it, and that a run the tool gave
up on ends with the tool's own error line on the script's output.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spec.load import stack_from_config
from spec.plan import E2SAR_OWN_IP_VAR, E2SAR_TOKEN_VAR, E2sarCase, build_plan
from spec.runner import LOGDIR_VAR, e2sar_script

ROOT = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).resolve().parent / "e2sar_standin.py"
REFUSED = "Unable to create reassembler: Data address not present in the URI"
OLD_RECEIVER_URI = "ejfat://useless@10.10.10.10:1234/lb/1?sync=192.168.77.7:1234"  # 0.1.4-style: sync= only


def _case(version: str, **change: object) -> E2sarCase:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-local.yaml").read_text())
    config = {k.split(":", 1)[1]: v for k, v in document["config"].items() if k.startswith("meshperf:")}
    config = copy.deepcopy(config)
    config["suites"]["e2sar"].update(version=version, duration_s=30, num_events=10)
    (case,) = build_plan(stack_from_config(config)).e2sar
    return case.model_copy(update={"duration_s": 1, **change})


def _bin(tmp_path: Path, version: str) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    exe = bindir / "e2sar_perf"
    exe.write_text(f"#!{sys.executable}\n" + STANDIN.read_text())
    exe.chmod(0o755)
    (bindir / "standin.json").write_text(f'{{"STANDIN_E2SAR_VERSION": "{version}"}}')
    return bindir


def _run_receiver(tmp_path: Path, case: E2sarCase, version: str) -> tuple[str, str]:
    """The receiver's script, as the pod runs it: (its output, the tool's log)."""
    script = tmp_path / "receiver.sh"
    script.write_text(e2sar_script(case, "receiver"))
    env = {
        "PATH": f"{_bin(tmp_path, version)}:{os.environ['PATH']}",
        LOGDIR_VAR: str(tmp_path / "logs"),
        E2SAR_OWN_IP_VAR: "127.0.0.1",  # the downward API's status.podIP
        E2SAR_TOKEN_VAR: "t0ken",  # the Secret's
    }
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout, (tmp_path / "logs" / case.receiver_log).read_text()


def _standin(version: str, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STANDIN), *argv],
        env={"PATH": os.environ["PATH"], "STANDIN_E2SAR_VERSION": version, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("version", ["0.1.4", "0.3.1"])
def test_the_standin_refuses_a_receiver_uri_without_a_data_address_and_exits_0(version: str) -> None:
    """As the real 0.3.2 did with meshperf's earlier receiver command line (and every release's
    reassembler would: the check is in include/e2sarDPReassembler.hpp since 0.1.0)."""
    argv = ["-r", "-d", "1", "-b", "32768", "--ip", "0.0.0.0", "--port", "19522", "--threads", "1", "-4"]
    done = _standin(version, "-u", OLD_RECEIVER_URI, *argv)
    assert done.returncode == 0
    assert done.stderr.strip() == REFUSED
    assert "Receiving on ports" not in done.stdout and done.stdout.rstrip().endswith("Stopping threads")
    # The same URI from the env (what the scripts use): refused alike; no URI at all: E2SAR's parse error.
    assert _standin(version, *argv, env={"EJFAT_URI": OLD_RECEIVER_URI}).stderr.strip() == REFUSED
    missing = _standin(version, *argv)
    assert missing.returncode == 255 and missing.stderr.startswith("Error in parsing URI from command-line")


@pytest.mark.parametrize("version", ["0.1.4", "0.3.1"])
def test_the_senders_sync_address_is_required_by_0_1_4_only(version: str) -> None:
    argv = ["-s", "-u", "ejfat://useless@10.10.10.10:1234/lb/1?data=127.0.0.1:9", "--mtu", "512", "-n", "1", "-4"]
    done = _standin(version, *argv, "--length", "100", "--ip", "0.0.0.0")
    assert done.returncode == 0
    if version == "0.1.4":
        assert done.stderr.strip() == "Unable to create segmenter: Sync address not present in the URI"
    else:
        assert not done.stderr and "Completed, 1 packets sent, 0 errors" in done.stdout


@pytest.mark.parametrize(("version", "script_version"), [("0.1.4", "0.1.4"), ("0.3.1", "0.3.x")])
def test_the_receivers_script_passes_the_tools_checks(tmp_path: Path, version: str, script_version: str) -> None:
    output, log = _run_receiver(tmp_path, _case(script_version), version)
    assert "Receiving on ports" in log and "19522:19522" in log, log
    assert "Unable to create" not in log and " error: " not in output


def test_a_receiver_the_tool_refuses_ends_with_the_tools_own_error_line(tmp_path: Path) -> None:
    """A port in the privileged range (the spec refuses it; here the case is made by hand): the script's
    last output line is the tool's error, what the ready-wait and the termination message carry."""
    output, log = _run_receiver(tmp_path, _case("0.3.x", port=1000, last_port=1000), "0.3.1")
    line = "Unable to create reassembler: Base receive port in the privileged range (<1024)"
    assert line in log
    assert output.rstrip().splitlines()[-1] == f"[meshperf] e2sar-100m-receiver error: {line}"
