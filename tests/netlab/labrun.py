"""Running `python -m netlab up` from the tests, as a user would, and finding its run folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def netlab_argv(tmp_path: Path, stack: Path) -> list[str]:
    return [sys.executable, "-m", "netlab", "up", "-s", str(stack), "--runs-dir", str(tmp_path / "runs")]


def netlab_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}


def run_netlab(tmp_path: Path, stack: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Exit code and output (stdout, then stderr) of one lab run, bounded in time."""
    done = subprocess.run(
        netlab_argv(tmp_path, stack), cwd=ROOT, capture_output=True, text=True, timeout=120, env=netlab_env(env)
    )
    return done.returncode, done.stdout + done.stderr


def run_folder(output: str) -> Path:
    """The folder a run printed last."""
    match = re.search(r"^run folder: (.+)$", output, re.MULTILINE)
    assert match, output
    return Path(match[1])
