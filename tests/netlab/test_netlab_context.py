"""Every lab run carries its context: the `run` block of results.json, and the reports' headers."""

from __future__ import annotations

import json
import os
import platform
import pty
import re
import select
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from labrun import ROOT, netlab_argv, netlab_env, run_folder

MESH = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
RUN_KEYS = {
    "stack",
    "label",
    "profile",
    "durations",
    "repeats",
    "mss",
    "tool_versions",
    "kernel",
    "mtu",
    "link_rate",
    "cpus",
    "meshperf_version",
    "started",
    "ended",
}


def _quick_run(tmp_path: Path, *options: str) -> tuple[Path, str]:
    """`netlab up --quick` on kind-mesh cut to path 6, TCP and UDP (its steady_state kept)."""
    document = json.loads(json.dumps(MESH))
    config = document["config"]
    config["meshperf:suites"]["netperf"].update({"paths": [6], "tools": ["iperf3_tcp", "iperf3_udp"]})
    config["meshperf:suites"]["e2sar"]["enabled"] = False
    stack = tmp_path / "Pulumi.ctx.yaml"
    stack.write_text(yaml.safe_dump(document))
    done = subprocess.run(
        [*netlab_argv(tmp_path, stack), "--quick", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=netlab_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return run_folder(done.stdout), done.stdout


@pytest.mark.usefixtures("clean_machine")
def test_a_quick_run_records_its_context(tmp_path: Path) -> None:
    folder, output = _quick_run(tmp_path)
    run = json.loads((folder / "results.json").read_text())["run"]
    assert set(run) == RUN_KEYS
    assert run["stack"] == "ctx" and run["label"] == folder.name and run["profile"] == "quick"
    assert run["durations"]["iperf3_udp"] == 1.0  # the quick profile's fixed tools
    assert run["durations"]["iperf3_tcp"]["max_s"] <= 3 and run["durations"]["iperf3_tcp"]["fixed_tools_s"] == 1
    assert run["repeats"] == 1 and run["mss"] == [96, 1376]
    assert run["tool_versions"]["iperf3"].startswith("iperf 3.")
    assert run["tool_versions"]["netperf"].startswith("Netperf version 2.")
    # The same record as on Kubernetes: what the client Job's script logged in its env file.
    (env_file,) = (folder / "logs").rglob("env-w1.tsv")
    logged = dict(line.split("\t", 1) for line in env_file.read_text().splitlines())
    assert (logged["iperf3"], logged["netperf"]) == (run["tool_versions"]["iperf3"], run["tool_versions"]["netperf"])
    assert logged["kernel"] == run["kernel"] and int(logged["cpus"]) == run["cpus"]
    assert run["kernel"] == platform.release()
    assert run["mtu"] == 1500 and run["link_rate"] == "10gbit" and run["cpus"] >= 1
    assert run["meshperf_version"] not in ("", "unknown")
    assert datetime.fromisoformat(run["started"]) < datetime.fromisoformat(run["ended"])
    assert output.startswith("[lab]") and f"meshperf results: ctx, {folder.name}" in output
    assert "profile quick, repeats 1" in output
    page = (folder / "report.html").read_text()
    assert f"<title>meshperf: ctx, {folder.name}</title>" in page and "run 1" not in page
    assert re.search(r"^\[ ?1/\d+\] p6-iperf3-tcp-mss96 ", output, re.MULTILINE)  # a line per case
    again, quiet = _quick_run(tmp_path, "-q")
    assert not re.search(r"^\[ ?\d+/\d+\] ", quiet, re.MULTILINE) and "meshperf results: ctx" in quiet
    assert json.loads((again / "results.json").read_text())["run"]["label"] == again.name != folder.name


@pytest.mark.usefixtures("clean_machine")
def test_on_a_terminal_a_progress_bar_shows_elapsed_and_time_left(tmp_path: Path) -> None:
    """stdout a pseudo-terminal: rich's bar (cases done, elapsed, left) under the case lines."""
    document = json.loads(json.dumps(MESH))
    config = document["config"]
    config["meshperf:suites"]["netperf"].update({"paths": [6], "tools": ["iperf3_udp"]})
    config["meshperf:suites"]["e2sar"]["enabled"] = False
    stack = tmp_path / "Pulumi.tty.yaml"
    stack.write_text(yaml.safe_dump(document))
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [*netlab_argv(tmp_path, stack), "--quick"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**netlab_env(), "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the terminal closed: the run is over
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=30) == 0, seen.decode(errors="replace")[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))  # colours and cursor moves
    assert re.search(r"cases .*1/1 elapsed \d:\d\d:\d\d left", text), text[-2000:]
    assert "p6-iperf3-udp-len1400" in text and "about 0:00 left" in text
    assert "run folder: " in text
