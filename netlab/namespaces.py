"""Creating and removing the lab's namespaces: the only code here that changes the machine.

Teardown is synchronous on purpose: it runs in `finally` blocks, after Ctrl-C and signals,
where an event loop may already be closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

COMMAND_TIMEOUT_S = 20.0
KILL_GRACE_S = 2.0
# Each live lab leaves "<pid> <parent pid>" here, so that `netlab clean` removes only labs
# whose process is gone, never one that another run is using.
OWNERS_DIR = Path("/run/meshperf/labs")


class LabError(RuntimeError):
    """A lab step that failed; str() is one line naming the command and what it said."""


def run(argv: Sequence[str], stdin: str | None = None, timeout: float = COMMAND_TIMEOUT_S) -> str:
    """Run one setup command; its stdout, or LabError with its stderr."""
    try:
        done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"{' '.join(argv)}: no answer within {timeout:.0f} s") from None
    except FileNotFoundError:
        raise LabError(f"{argv[0]}: not installed (run scripts/install.sh)") from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise LabError(f"{' '.join(argv)}: {why[-1] if why else f'exit {done.returncode}'}")
    return done.stdout


async def output_of(argv: Sequence[str], timeout_s: float, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """(exit code, output) of a command in its own session; -1 when it was cut at the timeout (its
    whole process group is killed)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=None if env is None else dict(env),
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        return -1, f"no exit within {timeout_s:g} s"
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    return proc.returncode or 0, out.decode(errors="replace")


def list_namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def namespace_pids(ns: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def _signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def remove_namespaces(prefix: str, known: Iterable[str] = ()) -> list[str]:
    """Kill every process in the lab's namespaces, then delete them; returns what was removed.

    Namespaces are found by prefix too, so that a half-built lab is removed whole.
    """
    names = sorted(set(known) | {ns for ns in list_namespaces() if ns.startswith(f"{prefix}-")})
    existing = set(list_namespaces())
    names = [ns for ns in names if ns in existing]
    pids = [pid for ns in names for pid in namespace_pids(ns)]
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE_S
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = [pid for ns in names for pid in namespace_pids(ns)]
    _signal_all(pids, signal.SIGKILL)
    for ns in names:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    return names


def claim(prefix: str) -> None:
    """Record this process as the owner of the lab with this prefix."""
    OWNERS_DIR.mkdir(parents=True, exist_ok=True)
    (OWNERS_DIR / prefix).write_text(f"{os.getpid()} {os.getppid()}\n")


def release(prefix: str) -> None:
    (OWNERS_DIR / prefix).unlink(missing_ok=True)


def owner(prefix: str) -> tuple[int, int] | None:
    """(pid, parent pid) of the process that built a lab, or None if none is recorded."""
    try:
        pid, ppid = (OWNERS_DIR / prefix).read_text().split()[:2]
        return int(pid), int(ppid)
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned_labs(prefixes: Iterable[str]) -> list[str]:
    """The prefixes whose owner is recorded dead, or not recorded at all."""
    return sorted(p for p in set(prefixes) if (o := owner(p)) is None or not _alive(o[0]))
