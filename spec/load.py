"""Reading a stack: from a Pulumi stack file or from Pulumi config, into a validated Stack.

Errors come out as one line naming the file and the key path, in the stack file's own
spelling (`meshperf:suites.netperf.mss.start`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from spec.model import Stack

NAMESPACE = "meshperf"
STACKS_DIR = Path(__file__).resolve().parent.parent / "stacks"


class StackError(ValueError):
    """A stack that cannot work; str() is one line fit for a terminal."""


def stack_from_config(config: Mapping[str, object], where: str = "stack") -> Stack:
    """Validate the `meshperf:` keys (prefix already stripped) of a stack's config."""
    try:
        return Stack.model_validate(dict(config))
    except ValidationError as exc:
        raise StackError(f"{where}: {describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    """The first error of a validation as 'meshperf:key.path: why'."""
    err = exc.errors()[0]
    parts = [str(p) for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
    key = ""
    for part in parts:
        key += f"[{part}]" if part.isdigit() else (f".{part}" if key else part)
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    # Whole-stack checks name their own key path at the head of the message.
    return f"{NAMESPACE}:{key}: {message}{more}" if key else f"{NAMESPACE}:{message}{more}"


def yaml_error(path: Path, exc: yaml.YAMLError) -> str:
    """'FILE:LINE:COLUMN: not valid YAML: what', as compilers say it (line and column from 1)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}: not valid YAML: {what}"


def stack_file(name_or_path: str) -> Path:
    """`kind-mesh` -> stacks/Pulumi.kind-mesh.yaml; an existing path is taken as it is."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    return STACKS_DIR / f"Pulumi.{name_or_path}.yaml"


def load_stack(name_or_path: str) -> Stack:
    path = stack_file(name_or_path)
    if not path.exists():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS_DIR.glob("Pulumi.*.yaml"))
        raise StackError(f"{path}: no such stack file (stacks here: {', '.join(known) or 'none'})")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackError(yaml_error(path, exc)) from None
    config = document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise StackError(f"{path}: 'config' must be a mapping")
    ours = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{NAMESPACE}:")}
    return stack_from_config(ours, where=str(path))
