"""Reading the `meshperf:` keys as the Pulumi CLI hands them to the program.

The CLI passes every config value as text: a top-level scalar as it was typed
(`pulumi config set meshperf:run_id 2` arrives as "2"), a structured value as JSON text.
So each key is read through the public `pulumi.Config` API by its own type: `get` for the
scalars, `get_object` for the rest. `Pulumi.yaml` declares the same keys and types, so the
CLI refuses a value of the wrong shape before the program runs.

`pulumi.Config` cannot list keys, so a misspelt key (`meshperf:suite`) would be silently
ignored; the stack file that `pulumi config set` writes to is read for its key names instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import yaml

from spec.e2sar import TOKEN_KEY
from spec.load import NAMESPACE, StackError, load_yaml, yaml_error
from spec.model import Stack

# Top-level scalar keys: read as text, exactly as the CLI hands them over.
SCALAR_KEYS = frozenset({"run_id"})
KEYS = tuple(Stack.model_fields)
# Secret keys, read where they are used and never into the Stack (components/e2sar.py).
SECRET_KEYS = (TOKEN_KEY,)


def read_stack_config(stack_name: str, project_dir: Path | None = None) -> dict[str, object]:
    """Every `meshperf:` key that is set, decoded by its declared type; unknown keys refused."""
    check_key_names(stack_name, project_dir or Path.cwd())
    config = pulumi.Config(NAMESPACE)
    out: dict[str, object] = {}
    for key in KEYS:
        try:
            value = config.get(key) if key in SCALAR_KEYS else config.get_object(key)
        except (pulumi.ConfigTypeError, ValueError):
            raise StackError(f"stack {stack_name}: {NAMESPACE}:{key}: not valid JSON") from None
        if value is not None:
            out[key] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    """A project or stack file as the checks read it: a key given twice is an error, as in the stack's
    other readers (spec/load.py), not the last one silently."""
    try:
        document = load_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise StackError(yaml_error(path, exc)) from None
    return document if isinstance(document, dict) else {}


def stack_file_path(stack_name: str, project_dir: Path) -> Path | None:
    """The stack file the CLI reads and writes for `stack_name`, by the project's stackConfigDir."""
    project = project_dir / "Pulumi.yaml"
    if not project.is_file():
        return None
    document = _read(project)
    folder = project_dir / str(document.get("stackConfigDir") or ".")
    path = folder / f"Pulumi.{stack_name}.yaml"
    return path if path.is_file() else None


def check_key_names(stack_name: str, project_dir: Path) -> None:
    path = stack_file_path(stack_name, project_dir)
    if path is None:
        pulumi.log.warn(f"no stack file for {stack_name} under {project_dir}: misspelt meshperf keys go unnoticed")
        return
    document = _read(path)
    config = document.get("config") or {}
    prefix = f"{NAMESPACE}:"
    for name in config:
        key = str(name)
        if key.startswith(prefix) and key.removeprefix(prefix) not in (*KEYS, *SECRET_KEYS):
            raise StackError(f"{path}: {key}: unknown key (known: {', '.join((*KEYS, *SECRET_KEYS))})")
