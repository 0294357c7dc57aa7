"""Every positional argument of every command line says what it wants in `--help`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    ("results", "parse"),
    ("results", "report"),
    ("results", "e2sar"),
    ("results", "compare"),
    ("hosts", "apply"),
    ("hosts", "facts"),
]


def positionals(help_text: str) -> dict[str, str]:
    """name -> its help, from argparse's 'positional arguments:' section."""
    section = help_text.split("positional arguments:", 1)[1].split("\n\n", 1)[0]
    found: dict[str, str] = {}
    name = ""
    for line in section.splitlines()[1:] if section.startswith("\n") else section.splitlines():
        if m := re.match(r"^  (\S+)(?:\s{2,}(.*))?$", line):
            name = m[1]
            found[name] = m[2] or ""
        elif name and line.strip():
            found[name] += " " + line.strip()
    return found


@pytest.mark.parametrize(("module", "command"), COMMANDS)
def test_every_positional_has_help(module: str, command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    found = positionals(done.stdout)
    assert found, done.stdout
    assert all(text.strip() for text in found.values()), found
