"""A stand-in for the Pulumi CLI's config handling: what the program receives from a stack file
plus `pulumi config set` commands. There is no Pulumi CLI here; this reproduces its rules from
its source (pulumi/pulumi, read at commit 1b59498):

- sdk/go/common/resource/config/object.go `MarshalString`: a top-level scalar reaches the
  program as its text (`run_id: 2` in YAML -> "2"), a list or map as JSON text.
- pkg/cmd/pulumi/config/config.go `configSetCmd.Run` and config/map.go `Map.Set`: without
  `--path` the value is stored as the string typed (or as `--type`); with `--path` and more
  than one path segment, object.go `coerce` turns "true"/"false" into booleans and base-10
  integers not starting with "0" into numbers, everything else stays a string ("0.5" too).
- pkg/workspace/config.go `mergeConfig` / `validateStackConfigValue` and
  sdk/go/common/workspace/project.go `ValidateConfigValue`: project defaults fill unset
  keys, a declared key with no default and no value is missing, and values are checked
  against the declared type.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_NAME = "meshperf"
INT_RE = re.compile(r"^-?[0-9]+$")


class PulumiCliError(Exception):
    """What the CLI would print and exit non-zero for."""


def _coerce(text: str) -> Any:
    """object.go `coerce`: booleans, and integers that do not start with 0; else the text."""
    if text in ("true", "false"):
        return text == "true"
    if len(text) > 1 and text[0] == "0":
        return text
    return int(text) if INT_RE.match(text) else text


def _typed(text: str, type_name: str) -> Any:
    if type_name == "string":
        return text
    try:
        if type_name == "int":
            return int(text)
        if type_name == "float":
            return float(text)
        if type_name == "bool":
            return {"true": True, "false": False}[text.lower()]
    except (ValueError, KeyError):
        raise PulumiCliError(f"error: could not parse {text!r} as {type_name}") from None
    raise PulumiCliError(f'error: invalid type "{type_name}"; must be one of string, int, bool, or float')


def parse_path(path: str) -> list[str | int]:
    """`a.b[0]["c.d"]` -> ["a", "b", 0, "c.d"] (config/key.go's path syntax, the subset the docs use)."""
    out: list[str | int] = []
    for match in re.finditer(r'\["([^"]*)"\]|\[(\d+)\]|([^.\[\]]+)', path):
        quoted, index, plain = match.groups()
        out.append(quoted if quoted is not None else int(index) if index is not None else plain)
    if not out:
        raise PulumiCliError(f"error: invalid configuration key: {path!r}")
    return out


def _full_key(key: str) -> str:
    return key if ":" in key.split(".", 1)[0].split("[", 1)[0] else f"{PROJECT_NAME}:{key}"


def _set_in(container: Any, path: list[str | int], value: Any) -> Any:
    head, rest = path[0], path[1:]
    if container is None:
        container = [] if isinstance(head, int) else {}
    if isinstance(head, int):
        if not isinstance(container, list) or head > len(container):
            raise PulumiCliError(f"error: could not set config: index {head} out of range")
        if head == len(container):
            container.append(None)
        container[head] = _set_in(container[head], rest, value) if rest else value
    else:
        if not isinstance(container, dict):
            raise PulumiCliError(f"error: could not set config: {head!r} is not in a map")
        container[head] = _set_in(container.get(head), rest, value) if rest else value
    return container


def _valid(type_name: str, items: dict[str, Any] | None, value: Any) -> bool:
    """project.go `ValidateConfigValue`."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return True
        return isinstance(value, str) and bool(INT_RE.match(value))
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(_valid(items["type"], items.get("items"), item) for item in value)


def _text(value: Any) -> str:
    """object.go `MarshalString`: what the program gets for a stored value."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass
class PulumiCli:
    """One project and one stack's config, changed by `pulumi config set` commands."""

    project: dict[str, Any]
    stack: str
    config: dict[str, Any] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)  # set with --secret: `secure:` in the file

    @classmethod
    def from_files(cls, project_dir: Path, stack: str) -> PulumiCli:
        project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
        folder = project_dir / str(project.get("stackConfigDir") or ".")
        doc = yaml.safe_load((folder / f"Pulumi.{stack}.yaml").read_text()) or {}
        return cls(project, stack, copy.deepcopy(doc.get("config") or {}))

    def run(self, command: str) -> None:
        """`pulumi config set [--path] [--type T] KEY VALUE [-s STACK]` (other commands are not config)."""
        argv = shlex.split(command)
        if argv[:3] != ["pulumi", "config", "set"]:
            raise PulumiCliError(f"not a `pulumi config set` command: {command}")
        path, secret, type_name, args = False, False, "", []
        rest = iter(argv[3:])
        for arg in rest:
            if arg == "--path":
                path = True
            elif arg == "--type":
                type_name = next(rest)
            elif arg in ("-s", "--stack"):
                if next(rest) != self.stack:
                    raise PulumiCliError(f"command is for another stack than {self.stack}: {command}")
            elif arg == "--plaintext":
                continue
            elif arg == "--secret":
                secret = True
            else:
                args.append(arg)
        if len(args) != 2:
            raise PulumiCliError(f"expected KEY VALUE: {command}")
        self.set(args[0], args[1], path=path, type_name=type_name)
        if secret:  # the program gets the text, the key listed as secret (configSetCmd: c.Secure)
            self.secret_keys.append(_full_key(args[0]).split(".", 1)[0])

    def set(self, key: str, text: str, *, path: bool = False, type_name: str = "") -> None:
        full = _full_key(key)
        namespace, name = full.split(":", 1)
        segments = parse_path(name) if path else [name]
        value = _typed(text, type_name) if type_name else text
        root = f"{namespace}:{segments[0]}"
        if len(segments) == 1:
            self.config[root] = value
            return
        if not type_name:
            value = _coerce(text)
        self.config[root] = _set_in(self.config.get(root), segments[1:], value)

    def program_config(self) -> dict[str, str]:
        """The config map the program receives: project defaults merged, types checked, all text."""
        merged = copy.deepcopy(self.config)
        missing: list[str] = []
        for raw_key, declared in sorted((self.project.get("config") or {}).items()):
            key = _full_key(raw_key)
            if key in merged:
                value = merged[key]
                # A scalar is checked as the text it is stored as; a list or map as itself.
                content = value if isinstance(value, list | dict) else _text(value)
                if "type" in declared and not _valid(declared["type"], declared.get("items"), content):
                    raise PulumiCliError(
                        f"Stack '{self.stack}' with configuration key '{raw_key}' must be of type '{declared['type']}'"
                    )
            elif "default" in declared or "value" in declared:
                merged[key] = declared.get("default", declared.get("value"))
            else:
                missing.append(raw_key)
        if missing:
            raise PulumiCliError(f"Stack '{self.stack}' is missing configuration values: {', '.join(missing)}")
        return {key: _text(value) for key, value in merged.items()}

    def write(self, project_dir: Path) -> Path:
        """The project file and this stack's file as the CLI would leave them, under `project_dir`."""
        folder = project_dir / str(self.project.get("stackConfigDir") or ".")
        folder.mkdir(parents=True, exist_ok=True)
        (project_dir / "Pulumi.yaml").write_text(yaml.safe_dump(self.project, sort_keys=False))
        path = folder / f"Pulumi.{self.stack}.yaml"
        # A secret is stored encrypted (`secure: v1:...`); the stand-in's ciphertext is only a marker.
        stored = {k: {"secure": "v1:c3RhbmQtaW4="} if k in self.secret_keys else v for k, v in self.config.items()}
        path.write_text(yaml.safe_dump({"config": stored}, sort_keys=False))
        return path
