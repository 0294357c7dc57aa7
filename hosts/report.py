"""What a run shows: a line per host as it finishes, a summary table at the end, JSON on request.

No report holds a `file` operation's content: its commands show `<N bytes>` instead (Command.shown).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

from hosts.executor import HostReport, RunReport

TABLE_WIDTH = 160  # the summary table's width in characters, the same in a terminal and a log


def host_line(report: HostReport, done: int, total: int) -> str:
    width = len(str(total))
    head = f"[{done:>{width}}/{total}] {report.host}"
    if report.error:
        return f"{head}: UNREACHABLE {report.error}"
    counts = f"ok={report.count('ok')} changed={report.count('changed')} failed={report.count('failed')}"
    failed = next((r for r in report.results if r.status == "failed"), None)
    tail = f"  {failed.label}: {failed.reason}" if failed else ""
    return f"{head}: {counts} ({report.elapsed:.1f}s){tail}"


class Progress:
    """Prints one line per finished host (the executor's progress callback)."""

    def __init__(self, total: int, out: TextIO, verbose: bool = False) -> None:
        self.total = total
        self.done = 0
        self.out = out
        self.verbose = verbose

    def __call__(self, report: HostReport) -> None:
        self.done += 1
        print(host_line(report, self.done, self.total), file=self.out, flush=True)
        if self.verbose:
            for r in report.results:
                if r.status != "ok":
                    print(f"    {r.status:<7} {r.label}{': ' + r.reason if r.reason else ''}", file=self.out)
                    for command in r.commands:
                        print(f"      $ {command}", file=self.out)


def summary(run: RunReport) -> str:
    """A row per host (rich's table, rendered as plain text), then the totals."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="")
    for name in ("host", "ok", "changed", "failed", "time"):
        table.add_column(name, justify="left" if name == "host" else "right", no_wrap=True, min_width=len(name))
    table.add_column("", justify="left", overflow="fold")  # why a host failed
    for h in sorted(run.hosts, key=lambda h: h.host):
        if h.error:
            table.add_row(h.host, "-", "-", "-", f"{h.elapsed:.1f}s", f"unreachable: {h.error}")
            continue
        failed = next((r for r in h.results if r.status == "failed"), None)
        note = f"{failed.label}: {failed.reason}" if failed else ""
        table.add_row(
            h.host, str(h.count("ok")), str(h.count("changed")), str(h.count("failed")), f"{h.elapsed:.1f}s", note
        )
    out = io.StringIO()
    Console(file=out, width=TABLE_WIDTH, color_system=None, force_terminal=False, highlight=False).print(table)
    mode = "check mode, nothing was changed: " if run.check else ""
    verb = "would change" if run.check else "changed"
    total = f"{mode}{len(run.hosts)} hosts, {run.changed} {verb}, {len(run.failed)} failed, in {run.elapsed:.1f}s"
    return "".join(f"{line.rstrip()}\n" for line in out.getvalue().splitlines()) + total


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, frozenset | set | tuple):
        return sorted(value) if isinstance(value, frozenset | set) else list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def to_json(run: RunReport) -> str:
    return json.dumps(dataclasses.asdict(run), default=_plain, indent=2)


def output_problem(path: Path) -> str | None:
    """Why the report could not be written at `path`, found before any host is touched (None: it can).

    A real probe, not a permission bit: a temporary file is made and removed in the folder (root
    passes `os.access` under /proc and cannot create a file there), and an existing file must
    open for writing (an immutable one does not). A symlink at `path` is replaced, not followed.
    """
    folder = path.parent
    if path.is_dir():
        return "is a folder, not a file"
    if not folder.is_dir():
        return f"no folder {folder}"
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
        os.close(fd)
        Path(probe).unlink()
    except OSError as exc:
        return f"cannot write in {folder}: {exc.strerror or exc}"
    if path.exists() and not path.is_symlink():
        if not path.is_file():
            return "is not a regular file"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK))
        except OSError as exc:
            return f"cannot write it: {exc.strerror or exc}"
    return None


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (0600): a fresh temporary file renamed into place,
    so that a file or link planted at `path` is replaced, never written through. Raises OSError."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
