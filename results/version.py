"""meshperf's own version: `git describe` of the checkout it runs from, else the installed package's."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def meshperf_version() -> str:
    """`git describe --always --dirty --tags` (a checkout), the package version (an install), or "unknown"."""
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--tags"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is not None and done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip()
    try:
        return metadata.version("meshperf")
    except metadata.PackageNotFoundError:
        return "unknown"
