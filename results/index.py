"""The runners' index files: one `id<TAB>start<TAB>end<TAB>exit-code<TAB>attempts` line per finished case.

On Kubernetes each node's log volume has its own index, so the text read here may be
several files concatenated; a case indexed twice (a re-run) counts by its last line.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class IndexLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    start: datetime | None = None
    end: datetime | None = None
    exit_code: int | None = None
    attempts: int | None = None


def parse_index(text: str) -> dict[str, IndexLine]:
    """Case id -> its index line; lines too short to name an id and an exit code are skipped."""
    lines: dict[str, IndexLine] = {}
    for raw in text.splitlines():
        fields = raw.rstrip("\r").split("\t")
        if len(fields) < 4 or not fields[0].strip():
            continue
        case_id, start, end, code = (f.strip() for f in fields[:4])
        tries = fields[4].strip() if len(fields) > 4 else ""
        lines[case_id] = IndexLine(
            case_id=case_id,
            start=_time(start),
            end=_time(end),
            exit_code=int(code) if _is_int(code) else None,
            attempts=int(tries) if tries.isdigit() else None,
        )
    return lines


def _time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _is_int(value: str) -> bool:
    return value.lstrip("-").isdigit()
