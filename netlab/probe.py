"""Facts about the machine a lab runs on, for a run's context (`results.context`)."""

from __future__ import annotations

import os
import platform
import subprocess

# Each tool and the command that prints its version; the first line of its output is kept.
VERSION_COMMANDS: dict[str, list[str]] = {"iperf3": ["iperf3", "--version"], "netperf": ["netperf", "-V"]}


def tool_versions() -> dict[str, str]:
    """`iperf3 --version` and `netperf -V`, first non-empty line each ("not found" when missing)."""
    return {tool: _first_line(command) for tool, command in VERSION_COMMANDS.items()}


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except FileNotFoundError:
        return "not found"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    lines = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return lines[0] if lines else f"unknown (exit {done.returncode}, no output)"


def kernel() -> str:
    return platform.release()


def cpus() -> int | None:
    """CPUs this process may run on (what the lab's processes share)."""
    return len(os.sched_getaffinity(0))
