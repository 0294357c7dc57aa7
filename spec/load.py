"""Reading a stack: from a Pulumi stack file or from Pulumi config, into a validated Stack.

Errors come out as one line naming the file and the key path, in the stack file's own
spelling (`meshperf:suites.netperf.mss.start`).
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from spec.base import shown
from spec.e2sar import TOKEN_KEY
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


# pydantic's type errors in the stack's words: what the key takes, and what it was given.
EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping of keys",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
}
# The tags pydantic puts in an error's location for a union's member (class names, the sweeps' Tags): not keys.
UNION_TAGS = frozenset({"SshHost", "sweep", "list"})


def describe(exc: ValidationError) -> str:
    """The first error of a validation as 'meshperf:key.path: why'; an unknown key first, since a misspelt
    key is the likely cause of the others (`nods:` makes `nodes` missing)."""
    errors = exc.errors()
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    parts = [str(p) for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in UNION_TAGS))]
    key = ""
    for part in parts:
        key += f"[{part}]" if part.isdigit() else (f".{part}" if key else part)
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] in EXPECTED:
        message = f"expects {EXPECTED[err['type']]}, not {shown(err['input'])}"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    # Whole-stack checks name their own key path at the head of the message.
    return f"{NAMESPACE}:{key}: {message}{more}" if key else f"{NAMESPACE}:{message}{more}"


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last one unsaid)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` then a key of its own overrides
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first.get(key)
            except TypeError:  # an unhashable key: the constructor below says so
                continue
            if seen is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (first on line {seen})", key_node.start_mark
                )
            first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_yaml(text: str) -> Any:
    """One YAML document, as `yaml.safe_load` reads it, but a repeated key is an error (yaml.YAMLError)."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader's subclass


def yaml_error(path: Path, exc: yaml.YAMLError) -> str:
    """'FILE:LINE:COLUMN: not valid YAML: what', as compilers say it (line and column from 1)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}: not valid YAML: {what}"


def stack_file(name_or_path: str) -> Path:
    """`kind-mesh` -> stacks/Pulumi.kind-mesh.yaml; a path (a `/` in it, or a .yaml/.yml name) as it is."""
    path = Path(name_or_path)
    if "/" in name_or_path or path.suffix in (".yaml", ".yml"):
        return path
    return STACKS_DIR / f"Pulumi.{name_or_path}.yaml"


def stack_name(name_or_path: str) -> str:
    """The stack's name: `kind-mesh` for `kind-mesh` and for any path to a `Pulumi.kind-mesh.yaml`."""
    path = stack_file(name_or_path)
    return path.name.removeprefix("Pulumi.").removesuffix(path.suffix) if path.suffix else path.name


def load_stack(name_or_path: str) -> Stack:
    path = stack_file(name_or_path)
    if not path.exists():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS_DIR.glob("Pulumi.*.yaml"))
        raise StackError(f"{path}: no such stack file (stacks here: {', '.join(known) or 'none'})")
    if path.is_dir():
        raise StackError(f"{path}: is a folder, not a stack file")
    try:
        document = load_yaml(path.read_text()) or {}
    except OSError as exc:
        raise StackError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise StackError(f"{path}: not a text file") from None
    except yaml.YAMLError as exc:
        raise StackError(yaml_error(path, exc)) from None
    config = document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise StackError(f"{path}: 'config' must be a mapping")
    keys = meshperf_keys(config, str(path))
    keys.pop(TOKEN_KEY, None)  # a secret (Pulumi's, encrypted): never part of the Stack; the lab reads its own
    return stack_from_config(keys, where=str(path))


def meshperf_keys(config: Mapping[object, object], where: str) -> dict[str, object]:
    """The `meshperf:` keys of a stack file's config, prefix stripped.

    A key that is no text (`1:`), a namespace one typo away from ours (`meshpref:suites`), or
    no `meshperf:` key at all is refused: each would otherwise run the default matrix unasked.
    """
    ours: dict[str, object] = {}
    for key, value in config.items():
        if not isinstance(key, str):
            raise StackError(f"{where}: config key {key!r} is not a 'namespace:key' name (write {NAMESPACE}:KEY)")
        namespace, _, name = key.partition(":")
        if namespace == NAMESPACE:
            ours[name] = value
        elif get_close_matches(namespace, [NAMESPACE], n=1, cutoff=0.75):
            raise StackError(f"{where}: {key}: namespace {namespace!r} is not {NAMESPACE!r} (a typo?)")
    if not ours:
        raise StackError(f"{where}: config has no {NAMESPACE}: key (set one at least, e.g. {NAMESPACE}:suites)")
    return ours
