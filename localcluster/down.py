"""Stopping a local cluster and removing all it made: processes, pod and node namespaces, mounts,
cgroups and the run folder. Works from state.json and, where that is lost, from what mentions the
run folder, so that it also cleans up after a crash or a half-made `up`."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

from localcluster import cgroups, mesh, netns, procs
from localcluster.shell import run
from localcluster.state import State, load

# A test cluster's daemons get this long to exit on SIGTERM, then SIGKILL.
GRACE_S = 5.0
# Daemons stopped before containerd; containerd, the API server and etcd go last.
FIRST = ("relay", "provisioner", "kube-router", "kube-proxy", "kubelet", "scheduler", "controller-manager")


def ns_prefix(name: str) -> str:
    """The start of every namespace name of cluster `name`; a run adds 4 hex digits and its own dash."""
    return f"mpk-{name}-"


def owned(name: str, candidates: list[str]) -> list[str]:
    """The names (namespaces, cgroup folders) of runs of cluster `name`: `mpk-live-1a2b-...` is live's,
    `mpk-live-two-...` is not."""
    run = re.compile(rf"(^|meshperf-){re.escape(ns_prefix(name))}[0-9a-f]{{4}}(-|$)")
    return [c for c in candidates if run.search(c.rsplit("/", 1)[-1])]


def namespaces_of(name: str) -> list[str]:
    return owned(name, netns.listing(ns_prefix(name)))


def mounts_under(folder: Path) -> list[str]:
    """Mount points at or below `folder`, deepest first."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == str(folder) or point.startswith(f"{folder}/"):
            found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def _sandbox_ids(run_dir: Path) -> set[str]:
    """The pod sandboxes containerd made in this run (their ids name libcni's cache files)."""
    found: set[str] = set()
    for top in ("state", "root"):
        for folder in run_dir.glob(f"nodes/*/containerd/{top}/io.containerd.grpc.v1.cri/sandboxes/*"):
            found.add(folder.name)
    return found


def _outside(run_dir: Path, *, had_kubelet: bool) -> None:
    """What kubelet, libcni and the shims keep at fixed paths outside the run folder, where it is this run's."""
    ids = _sandbox_ids(run_dir)
    results = Path("/var/lib/cni/results")
    if ids and results.is_dir():
        for cached in results.iterdir():
            if any(i in cached.name for i in ids):
                cached.unlink(missing_ok=True)
    logs = Path("/var/log/containers")
    if logs.is_dir():
        for link in logs.iterdir():
            if link.is_symlink() and str(link.readlink()).startswith(f"{run_dir}/"):
                link.unlink()
    if had_kubelet:  # kubelet's device-plugin socket has a fixed path
        Path("/var/lib/kubelet/device-plugins/kubelet.sock").unlink(missing_ok=True)
    for folder in (
        "/run/containerd/s",
        "/run/containerd",
        "/var/lib/cni/results",
        "/var/lib/cni",
        "/var/log/containers",
        "/var/lib/kubelet/device-plugins",
        "/var/lib/kubelet",
    ):
        with contextlib.suppress(OSError):  # only the empty ones go
            Path(folder).rmdir()


def teardown(run_dir: Path, name: str, say: Callable[[str], None] = print) -> list[str]:
    """Everything of cluster `name` gone; the list of what could not be removed (empty when all went)."""
    state = load(run_dir) or State(prefix="")
    # A run that crashed before it saved its cgroup still made it under this process's own cgroup.
    found = owned(name, cgroups.named(f"{cgroups.own_path()}/meshperf-{ns_prefix(name)}"))
    state.cgroups = sorted(set(state.cgroups) | set(found))
    started = time.monotonic()

    def step(text: str) -> None:
        say(f"[down] {text} ({time.monotonic() - started:.0f} s)")

    by_name: dict[str, list[int]] = {}
    for p in state.processes:
        by_name.setdefault(p.name.split("/")[0], [])
        by_name[p.name.split("/")[0]].append(p.pid)
    first = [pid for n in FIRST for pid in by_name.get(n, [])]
    if first:
        step(f"stopping {len(first)} daemons")
        procs.stop(first, grace_s=GRACE_S)
    for cg in state.cgroups:  # the containers: killed where they are, before their runtime goes
        for pid in cgroups.pids(cg):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    rest = [p.pid for p in state.processes if p.pid not in first]
    if rest:
        step(f"stopping containerd, the API server and etcd ({len(rest)})")
        procs.stop(rest, grace_s=GRACE_S)
    stray = procs.mentioning(str(run_dir))  # shims and anything a lost state file did not list
    for cg in state.cgroups:
        stray += cgroups.pids(cg)
    if stray:
        step(f"killing {len(stray)} leftover processes")
        procs.stop(sorted(set(stray)), grace_s=3.0)
    points = mounts_under(run_dir)
    if points:
        step(f"unmounting {len(points)} mounts")
    for point in points:
        run(["umount", "-l", point], check=False)
    names = sorted(set(state.namespaces) | set(namespaces_of(name)))
    for ns in names:  # the links to other clusters first, named (the namespace's removal would take them too)
        if ns.endswith("-cp"):
            mesh.disconnect(ns, say)
    if names:
        step(f"removing {len(names)} namespaces")
    for ns in names:
        netns.delete(ns)
    if state.cgroups:
        step("removing the cgroups")
    left = [f"cgroup {c}" for cg in state.cgroups for c in cgroups.remove(cg)]
    left += [f"mount {p}" for p in mounts_under(run_dir)]
    left += [f"namespace {n}" for n in namespaces_of(name)]
    left += [f"process {p}" for p in procs.mentioning(str(run_dir)) if procs.alive(p)]
    _outside(run_dir, had_kubelet=any(p.name.startswith("kubelet/") for p in state.processes))
    if not left:
        step(f"removing {run_dir}")
        shutil.rmtree(run_dir, ignore_errors=True)
        if run_dir.exists():
            left.append(f"folder {run_dir}")
    return left
