"""Running the machine's tools: bounded in time, their output kept for the error that names them."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence


class CommandError(RuntimeError):
    """A tool failed: str() names the command and the last lines it printed."""


def run(argv: Sequence[str], *, timeout_s: float = 120.0, check: bool = True, input_text: str | None = None) -> str:
    """The command's stdout; CommandError (with the tail of stderr) if it fails or overruns."""
    try:
        proc = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"{' '.join(argv)}: not done after {timeout_s:.0f} s") from exc
    except FileNotFoundError as exc:
        raise CommandError(f"{argv[0]}: not installed") from exc
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise CommandError(f"{' '.join(argv)} exited {proc.returncode}: {tail}")
    return proc.stdout


def run_logged(argv: Sequence[str], log: str, *, timeout_s: float) -> None:
    """A long command with its output in `log`; killed whole past the limit; CommandError with the log's tail."""
    with open(log, "ab") as out:  # noqa: PTH123 - an fd for the child
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise CommandError(f"{argv[0]}: not done after {timeout_s:.0f} s (log {log})") from None
    if code != 0:
        raise CommandError(f"{' '.join(argv[:3])} ... exited {code}; last lines of {log}:\n{tail(log)}")


def tail(path: str, lines: int = 15) -> str:
    """The last lines of a log, or a note that there is none."""
    try:
        with open(path, "rb") as f:  # noqa: PTH123
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])
