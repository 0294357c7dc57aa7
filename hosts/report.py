"""What a run shows: a line per host as it finishes, a summary table at the end, JSON on request."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TextIO

from hosts.executor import HostReport, RunReport


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
    rows = [("host", "ok", "changed", "failed", "time", "")]
    for h in sorted(run.hosts, key=lambda h: h.host):
        if h.error:
            rows.append((h.host, "-", "-", "-", f"{h.elapsed:.1f}s", f"unreachable: {h.error}"))
            continue
        failed = next((r for r in h.results if r.status == "failed"), None)
        note = f"{failed.label}: {failed.reason}" if failed else ""
        rows.append(
            (h.host, str(h.count("ok")), str(h.count("changed")), str(h.count("failed")), f"{h.elapsed:.1f}s", note)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5] for row in rows]
    mode = "check mode, nothing was changed: " if run.check else ""
    verb = "would change" if run.check else "changed"
    total = f"{mode}{len(run.hosts)} hosts, {run.changed} {verb}, {len(run.failed)} failed, in {run.elapsed:.1f}s"
    return "\n".join(line.rstrip() for line in lines) + "\n" + total


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, frozenset | set | tuple):
        return sorted(value) if isinstance(value, frozenset | set) else list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def to_json(run: RunReport) -> str:
    return json.dumps(dataclasses.asdict(run), default=_plain, indent=2)
