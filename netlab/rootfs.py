"""The tool image's userland for the lab: a root filesystem built by mmdebstrap from images/packages.txt.

A build is cached outside the run folders, under a hash of the package list and of the recipe
(the mmdebstrap arguments and the user the image creates), so a changed list builds a new root
and an unchanged one is reused. It is built into a temporary folder and renamed into place: a
cache entry is either whole or absent. Where it cannot be built (no mmdebstrap, no mirror), the
lab runs on the host's userland and says so; `Userland` is what results.json records.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
PACKAGES_FILE = ROOT / "images" / "packages.txt"
CACHE_VAR = "MESHPERF_ROOTFS_CACHE"
DEFAULT_CACHE = Path("/var/cache/meshperf/rootfs")
SUITE = "bookworm"
BUILD_TIMEOUT_S = 1200.0
LOCK_WAIT_S = BUILD_TIMEOUT_S + 60.0
# The image's user, created exactly as images/Dockerfile does (tests/images checks the two agree).
USERADD_ARGS = (
    "--uid",
    "10001",
    "--user-group",
    "--no-create-home",
    "--home-dir",
    "/nonexistent",
    "--shell",
    "/usr/sbin/nologin",
    "meshperf",
)
# The image's config (Dockerfile USER, ENV, WORKDIR, CMD; PATH is debian's base image's).
IMAGE_UID, IMAGE_GID = 10001, 10001
IMAGE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
IMAGE_WORKDIR = "/tmp"
IMAGE_CMD = ("sleep", "infinity")


class Userland(BaseModel):
    """Which userland containers run in (the image's root filesystem, or the host's) and the image's
    config that applies where the pod does not say: ENV, WORKDIR, USER, CMD."""

    kind: Literal["image", "host"]
    hash: str | None = None
    root: str = "/"
    reason: str | None = None
    env: dict[str, str] = IMAGE_ENV
    workdir: str = IMAGE_WORKDIR
    uid: int = IMAGE_UID
    gid: int = IMAGE_GID
    cmd: tuple[str, ...] = IMAGE_CMD


def host_userland(reason: str) -> Userland:
    """The host's own userland: its PATH, root's identity, no image config to add."""
    env = {"PATH": os.environ.get("PATH", IMAGE_ENV["PATH"]), "LANG": "C"}
    return Userland(kind="host", reason=reason, env=env, workdir="/", uid=0, gid=0, cmd=())


def parse_packages(text: str) -> tuple[str, ...]:
    """The package names of a list: one a line, `#` comments and blank lines ignored."""
    names = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return tuple(name for name in names if name)


def mmdebstrap_argv(packages: Sequence[str], target: Path) -> list[str]:
    """The build: Debian's base (Essential + apt) and the image's packages, without recommends."""
    hook = 'useradd --root "$1" ' + " ".join(shlex.quote(a) for a in USERADD_ARGS)
    return [
        "mmdebstrap",
        "--mode=root",
        "--variant=apt",
        "--components=main,non-free",
        f"--include={','.join(packages)}",
        f"--customize-hook={hook}",
        SUITE,
        str(target),
    ]


def recipe_hash(packages: Sequence[str]) -> str:
    """Names the cache entry: the sorted list and the build command (with a fixed target)."""
    recipe = "\n".join([*sorted(packages), *mmdebstrap_argv(sorted(packages), Path("TARGET"))])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_VAR) or DEFAULT_CACHE)


@contextlib.contextmanager
def _locked(path: Path, wait_s: float) -> Iterator[None]:
    """One build per cache entry at a time (two labs may start together); bounded wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path}: another build holds it for over {wait_s:.0f} s") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_rootfs(
    packages: Sequence[str],
    cache: Path,
    say: Callable[[str], None] = print,
    timeout_s: float = BUILD_TIMEOUT_S,
) -> Path:
    """The cached root filesystem for these packages, built first if missing; RuntimeError if it cannot be."""
    digest = recipe_hash(packages)
    final = cache / digest
    if (final / "etc" / "passwd").is_file():
        return final
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("mmdebstrap is not installed (run scripts/install.sh)")
    with _locked(cache / f"{digest}.lock", LOCK_WAIT_S):
        if (final / "etc" / "passwd").is_file():  # built by another process meanwhile
            return final
        tmp = cache / f"{digest}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        say(f"[rootfs] building {digest} from {len(packages)} packages with mmdebstrap (a few minutes, once)")
        started = time.monotonic()
        try:
            _run_build(mmdebstrap_argv(packages, tmp), say, timeout_s)
            tmp.rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        say(f"[rootfs] built {final} in {time.monotonic() - started:.0f} s")
    return final


def _run_build(argv: list[str], say: Callable[[str], None], timeout_s: float) -> None:
    """mmdebstrap with its info lines relayed as progress; killed whole past the time limit."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    # A stalled mirror prints nothing: a timer, not the read loop, enforces the limit.
    watchdog = threading.Timer(timeout_s, lambda: _kill_group(proc))
    watchdog.start()
    last, first_error = "", ""
    try:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.rstrip()
            last = line or last
            if line.startswith("E: ") and not first_error:  # the cause; later ones are its consequences
                first_error = line
            if line.startswith("I: "):
                say(f"[rootfs] {line[3:]}")
        code = proc.wait()
    finally:
        watchdog.cancel()
        _kill_group(proc)
        proc.wait()
    if code < 0:
        raise RuntimeError(f"mmdebstrap: not done after {timeout_s:.0f} s")
    if code != 0:
        raise RuntimeError(f"mmdebstrap exited {code}: {first_error or last or 'no output'}")


def _kill_group(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def image_userland(
    packages_file: Path = PACKAGES_FILE, cache: Path | None = None, say: Callable[[str], None] = print
) -> Userland:
    """The image's userland, or the host's with the one-line reason why the image's could not be built."""
    packages = parse_packages(packages_file.read_text())
    try:
        root = build_rootfs(packages, cache or cache_dir(), say)
    except (RuntimeError, TimeoutError, OSError) as exc:
        reason = f"the image's root filesystem could not be built ({exc}); containers run on the host's userland"
        say(f"[rootfs] {reason}")
        return host_userland(reason)
    return Userland(kind="image", hash=root.name, root=str(root))
