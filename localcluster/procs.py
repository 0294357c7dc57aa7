"""Starting the cluster's daemons as processes (in a namespace, a session and a log each) and stopping them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from localcluster.netns import NETNS_DIR
from localcluster.state import Proc


def start(name: str, argv: Sequence[str], log: Path, *, netns: str | None, env: Mapping[str, str]) -> Proc:
    """A daemon in `netns` (network only: it shares the machine's mounts, as kubelet and containerd must),
    its output appended to `log`, in a session of its own."""
    full = ["nsenter", f"--net={NETNS_DIR / netns}", "--", *argv] if netns else list(argv)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(full)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            full, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(env), start_new_session=True
        )
    return Proc(name=name, pid=proc.pid, log=str(log), netns=netns)


def alive(pid: int) -> bool:
    """Running (a zombie of ours is reaped and counts as gone)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop(pids: Sequence[int], grace_s: float = 10.0) -> None:
    """SIGTERM each process's group, then SIGKILL whatever is left after `grace_s`."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if alive(pid):
            _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def mentioning(text: str) -> list[int]:
    """Processes whose command line mentions `text` (the run folder): what a crash left running."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found
