"""The cgroup (v1) tree the nodes' pods live in: one folder per run under this process's own
cgroup, made in every mounted hierarchy (kubelet with cgroupfs takes one path for all), so that
`down` can find every container process and remove every folder."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


def mounts() -> list[Path]:
    """The mounted cgroup hierarchies (v1 ones and a hybrid unified one)."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] in ("cgroup", "cgroup2"):
            found.append(Path(parts[1]))
    return found


def own_path() -> str:
    """This process's cgroup in the memory hierarchy (where the machine accounts for it), else /."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return path.rstrip("/")
    return ""


def make(path: str) -> None:
    """`path` in every hierarchy; cpuset folders get their parent's CPUs and memory nodes."""
    for mount in mounts():
        parts = [p for p in path.split("/") if p]
        current = mount
        for part in parts:
            current = current / part
            if not current.is_dir():
                current.mkdir()
                for key in ("cpuset.cpus", "cpuset.mems"):
                    own, parent = current / key, current.parent / key
                    if own.exists() and not own.read_text().strip():
                        own.write_text(parent.read_text())


def pids(path: str) -> list[int]:
    """Every process in `path` or below, in any hierarchy."""
    found: set[int] = set()
    for mount in mounts():
        top = mount / path.lstrip("/")
        if not top.is_dir():
            continue
        for folder, _, _ in os.walk(top):
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (Path(folder) / "cgroup.procs").read_text().split())
    return sorted(found)


def remove(path: str, wait_s: float = 10.0) -> list[str]:
    """Remove `path` and below in every hierarchy (deepest first, retried while emptying); what is left."""
    left: list[str] = []
    deadline = time.monotonic() + wait_s
    for mount in mounts():
        top = mount / path.lstrip("/")
        if not top.is_dir():
            continue
        folders = sorted((Path(f) for f, _, _ in os.walk(top)), key=lambda p: len(p.parts), reverse=True)
        for folder in folders:
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        left.append(str(folder))
                        break
                    time.sleep(0.2)
    return left


def named(prefix: str) -> list[str]:
    """The cgroup paths that start with `prefix` (its last part a name prefix), in any hierarchy."""
    parent, _, start = prefix.rpartition("/")
    found: set[str] = set()
    for mount in mounts():
        folder = mount / parent.lstrip("/")
        if folder.is_dir():
            found.update(f"{parent}/{p.name}" for p in folder.iterdir() if p.is_dir() and p.name.startswith(start))
    return sorted(found)
