"""The only ways the project reads log folders and writes reports: never through a symlink.

A log folder is written by pods (and, in the lab, sits on the machine running as root): a pod
or another local user can leave a symlink where a log or a report is expected. Logs are read
only from regular files reached without following any link, each up to a size cap; reports
are written to a fresh temporary file in the target folder and renamed over the name, which
replaces a planted link instead of writing through it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

LOG_CAP_BYTES = 16 * 1024 * 1024  # an iperf3 -J log of a 60 s case with intervals is ~300 KB
OVERSIZED = "meshperf: log not read: larger than {cap} bytes\n"


def read_regular(path: Path, cap: int = LOG_CAP_BYTES) -> str | None:
    """`path`'s text if it is a regular file that is not a symlink, else None (at most `cap` bytes)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None
        data = file.read(cap + 1)
    if len(data) > cap:
        return OVERSIZED.format(cap=cap)
    return data.decode("utf-8", errors="replace")


def regular_files(root: Path) -> list[Path]:
    """Every regular file under `root`, symlinks (to files or folders) left out, in sorted order."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in files:
            path = Path(folder) / name
            if stat.S_ISREG(path.lstat().st_mode):
                found.append(path)
    return sorted(found)


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write `path` as a new file renamed into place: a symlink at `path` is replaced, never followed."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data.encode() if isinstance(data, str) else data)
            os.fchmod(file.fileno(), mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
