"""What the client Jobs logged about their tools and nodes (`env-<client>.tsv`, see `spec.runner`) (pure).

On Kubernetes this is the only place the tool versions, kernel and CPU count of a run can
come from: the program never runs on the nodes. Each Job writes one file; the facts of all
of them are merged here, and a fact the Jobs disagree on (nodes of different kernels, say)
keeps every value seen, so that the run block never claims one that only some nodes had.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict

from spec.runner import ENV_PREFIX

TOOLS = ("iperf3", "netperf")


class JobEnv(BaseModel):
    """The merged facts: tool -> version line; None where no Job logged a fact."""

    model_config = ConfigDict(frozen=True)

    tool_versions: dict[str, str] = {}
    kernel: str | None = None
    cpus: int | None = None  # None as well when the Jobs' nodes have different CPU counts


def parse_env(text: str) -> dict[str, str]:
    """One env file: name -> value, for `name<TAB>value` lines with a value."""
    facts: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.partition("\t")
        if name.strip() and value.strip():
            facts[name.strip()] = value.strip()
    return facts


def job_env(files: Mapping[str, str]) -> JobEnv:
    """The facts of every env file among a log folder's files (name -> text)."""
    found = [
        parse_env(text)
        for name, text in sorted(files.items())
        if PurePosixPath(name).name.startswith(ENV_PREFIX) and name.endswith(".tsv")
    ]
    versions = {tool: _joined(f.get(tool) for f in found) for tool in TOOLS}
    cpus = {f["cpus"] for f in found if f.get("cpus", "").isdigit()}
    return JobEnv(
        tool_versions={tool: v for tool, v in versions.items() if v is not None},
        kernel=_joined(f.get("kernel") for f in found),
        cpus=int(cpus.pop()) if len(cpus) == 1 else None,
    )


def _joined(values: Iterable[str | None]) -> str | None:
    """The distinct values seen, in order, joined by ' | '; None when none was seen."""
    seen = list(dict.fromkeys(v for v in values if v))
    return " | ".join(seen) or None
