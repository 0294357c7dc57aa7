"""What a cluster run has made, kept in <run>/state.json as it is made, so that `down` (or the
next `up`) can undo all of it even after a crash: the prefix, namespaces, processes, cgroups."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field


class Proc(BaseModel):
    name: str
    pid: int
    log: str
    netns: str | None = None


class State(BaseModel):
    prefix: str
    namespaces: list[str] = Field(default_factory=list)
    processes: list[Proc] = Field(default_factory=list)
    cgroups: list[str] = Field(default_factory=list)
    pod_netns: list[str] = Field(default_factory=list)
    api_port: int | None = None


def path_of(run_dir: Path) -> Path:
    return run_dir / "state.json"


def load(run_dir: Path) -> State | None:
    try:
        return State.model_validate(json.loads(path_of(run_dir).read_text()))
    except (OSError, ValueError):
        return None


def save(run_dir: Path, state: State) -> None:
    tmp = path_of(run_dir).with_suffix(".tmp")
    tmp.write_text(state.model_dump_json(indent=1))
    tmp.replace(path_of(run_dir))
