"""Reading a log folder from disk: the only file I/O of the package besides its CLI."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict

from results.files import read_regular, regular_files
from spec.plan import Plan

# What a case's file is called (`spec.plan`): `p<path>-<tool>...` or `e2sar-<rate>-<role>`, then `.<ext>`.
_CASE_FILE = re.compile(r"^(?P<case>p[1-9][0-9]*-[a-z0-9-]+|e2sar-[a-z0-9-]+)\.[a-z0-9]+$")


def read_log_folder(path: str | Path) -> dict[str, str]:
    """Every file under `path` -> its text, keyed by its path relative to `path` (POSIX).

    Subfolders (one per node's log volume, say) are read too; `collect` matches logs by
    their base name and reads every `index*.tsv` it is given. Bytes that are not UTF-8
    are replaced, so a binary file is garbage to the parsers rather than a crash here.
    Pods write this folder: symlinks and anything but regular files are never read
    (`results.files`), so a pod cannot make the collector quote a host file.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a log folder")
    texts = {file.relative_to(root).as_posix(): read_regular(file) for file in regular_files(root)}
    return {name: text for name, text in texts.items() if text is not None}


def case_logs(root: Path, case_id: str) -> dict[str, str]:
    """A case's log files anywhere under `root` (`<case-id>.<ext>`), by base name, read as above."""
    texts = {p.name: read_regular(p) for p in regular_files(root) if p.name.startswith(f"{case_id}.")}
    return {name: text for name, text in texts.items() if text is not None}


class LogCensus(BaseModel):
    """The case files of a log folder, split by whether the plan has their case."""

    model_config = ConfigDict(frozen=True)

    planned: tuple[str, ...]  # files (relative names) named after a planned case
    unplanned_cases: tuple[str, ...]  # case ids of the other case-named files, sorted
    unplanned_example: str | None = None  # one such file, for the message


def planned_ids(plan: Plan) -> set[str]:
    """Every case id whose files the plan's runs write: netperf cases, and each E2SAR pair's two runs."""
    return {c.id for c in plan.cases} | {i for p in plan.e2sar for i in (p.receiver_id, p.sender_id)}


def log_census(plan: Plan, names: Iterable[str]) -> LogCensus:
    """Which of a folder's files are raw logs of `plan` (`<case-id>.<ext>`, any subfolder), and which
    are named after a case the plan does not have (another stack's run, say). Other files (index,
    env, a report left there) are neither: a folder holding only them holds no raw logs."""
    ids = planned_ids(plan)
    planned: list[str] = []
    others: dict[str, str] = {}
    for name in sorted(names):
        match = _CASE_FILE.match(PurePosixPath(name).name)
        if match is None:
            continue
        if match["case"] in ids:
            planned.append(name)
        else:
            others.setdefault(match["case"], name)
    first = min(others) if others else None
    return LogCensus(
        planned=tuple(planned),
        unplanned_cases=tuple(sorted(others)),
        unplanned_example=others[first] if first is not None else None,
    )
