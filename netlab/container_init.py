"""The lab's container runtime step: start one container's process (stdlib only, run as a script).

Run as `ip netns exec <pod netns> python3 -I -S container_init.py <ContainerRun JSON> <status fd>`.
It makes private mount, PID, UTS and IPC namespaces, then forks: the child is PID 1 of the
container. The child mounts a tmpfs-backed overlay over the root filesystem (the writable layer
where mount points are made, as a runtime does), binds the volumes, mounts /proc, a minimal /dev
and /sys, makes the root read-only if asked, chroots, takes the container's user and groups and
execs the command with exactly the container's env. Everything it mounts lives in its own mount
namespace, so it all goes when the container's last process does: no mount outlives the container.

The parent stays outside the PID namespace: it writes "pid <host pid>" on the status fd, forwards
SIGTERM/SIGINT/SIGHUP, and exits with the container's code. If it is killed, the child's
parent-death signal kills PID 1, and with it every process of the container, daemons included.
On a failed start the child writes "error <reason>" on the status fd and exits 128.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x04000000, 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
# The userland ships setuid binaries (su, mount, passwd): its root never honours the bit.
ROOT_FLAGS = MS_NOSUID | MS_NODEV
# Inside the container's own mount namespace this folder holds its writable layer (a tmpfs).
STATE = "/run/meshperf/container"
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
)
START_FAILED = 128

libc = ctypes.CDLL(None, use_errno=True)


class StartError(Exception):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise StartError(f"{what}: {os.strerror(err)}")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {source} on {target}",
    )


def bind(source: str, target: str, readonly: bool) -> None:
    src, dst = Path(source), Path(target)
    if not src.exists():
        raise StartError(f"mount {target}: its source {source} does not exist")
    if src.is_dir():
        dst.mkdir(parents=True, exist_ok=True)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.touch()
    mount(source, target, None, MS_BIND)
    if readonly:
        mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def make_dev(root: str) -> None:
    dev = Path(root, "dev")
    dev.mkdir(parents=True, exist_ok=True)
    mount("tmpfs", str(dev), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for name in DEVICES:
        (dev / name).touch()
        mount(f"/dev/{name}", str(dev / name), None, MS_BIND)
    for link, to in LINKS:
        (dev / link).symlink_to(to)
    (dev / "shm").mkdir()
    mount("shm", str(dev / "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")


def prepare_root(spec: dict[str, object], lower: str) -> str:
    """The container's root: overlay of the root filesystem, volumes, /proc, /dev, /sys."""
    Path(STATE).mkdir(parents=True, exist_ok=True)
    mount("tmpfs", STATE, "tmpfs", 0, "mode=0755,size=256m")
    for sub in ("upper", "work", "root"):
        Path(STATE, sub).mkdir()
    root = f"{STATE}/root"
    mount("overlay", root, "overlay", ROOT_FLAGS, f"lowerdir={lower},upperdir={STATE}/upper,workdir={STATE}/work")
    Path(root, "proc").mkdir(exist_ok=True)
    mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    make_dev(root)
    Path(root, "sys").mkdir(exist_ok=True)
    mount("/sys", f"{root}/sys", None, MS_BIND)  # the pod netns's sysfs (ip netns exec mounted it)
    mount("none", f"{root}/sys", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    mounts = spec["mounts"]
    assert isinstance(mounts, list)
    for m in mounts:
        bind(str(m["source"]), root + os.path.normpath("/" + str(m["target"])), bool(m["readonly"]))
    if spec["readonly_root"]:
        mount("none", root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | ROOT_FLAGS)
    return root


def become(spec: dict[str, object]) -> None:
    """chroot, the working directory, the user and groups: what the runtime does last before exec."""
    lower = str(spec["lower"])
    root = prepare_root(spec, lower)
    hostname = str(spec["hostname"]).encode()
    _check(libc.sethostname(hostname, len(hostname)), "sethostname")
    os.chroot(root)
    try:
        os.chdir(str(spec["workdir"]))
    except OSError as exc:
        raise StartError(f"working directory {spec['workdir']}: {exc.strerror}") from None
    if spec["drop_all_capabilities"]:
        # `capabilities: {drop: [ALL]}` empties the bounding set too, as container runtimes do: no
        # later exec (a setuid file, a file capability) can give a capability back.
        for cap in range(int(Path("/proc/sys/kernel/cap_last_cap").read_text()) + 1):
            _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")
    groups = spec["groups"]
    assert isinstance(groups, list)
    os.setgroups([int(g) for g in groups])
    os.setgid(int(str(spec["gid"])))
    os.setuid(int(str(spec["uid"])))
    if spec["no_new_privs"]:
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    # After setuid: a change of credentials clears the parent-death signal.
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")


def child(spec: dict[str, object], status: int) -> None:
    argv = [str(a) for a in spec["argv"]]  # type: ignore[attr-defined]
    env = {str(k): str(v) for k, v in spec["env"].items()}  # type: ignore[attr-defined]
    try:
        become(spec)
        os.execvpe(argv[0], argv, env)
    except (StartError, OSError) as exc:
        reason = str(exc) if isinstance(exc, StartError) else f'exec "{argv[0]}": {exc.strerror}'
        os.write(status, f"error {reason}\n".encode())
        os._exit(START_FAILED)


def main() -> None:
    spec = json.loads(sys.argv[1])
    status = int(sys.argv[2])
    os.set_inheritable(status, False)
    try:
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC), "unshare")
        mount("none", "/", None, MS_REC | MS_PRIVATE)
    except StartError as exc:
        os.write(status, f"error {exc}\n".encode())
        sys.exit(START_FAILED)
    pid = os.fork()
    if pid == 0:
        child(spec, status)
    os.write(status, f"pid {pid}\n".encode())
    os.close(status)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: os.kill(pid, s))
    _, code = os.waitpid(pid, 0)
    exit_code = os.waitstatus_to_exitcode(code)
    sys.exit(exit_code if exit_code >= 0 else 128 - exit_code)


if __name__ == "__main__":
    main()
