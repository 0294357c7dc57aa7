"""A deploy file: facts to gather and operations to apply, with `${var}` taken from each host's variables.

```yaml
gather: [os_release, kernel]
operations:
  - sysctl: {key: net.ipv4.tcp_fin_timeout, value: 30, persist_file: "${sysctl_file}"}
  - file: {path: "${motd}", content: "hello\n", mode: "0644"}
  - line: {path: /etc/hosts, line: "10.0.0.2 peer"}
```
Variables are a host's `vars` plus `host` (its name) and `address`; write `$$` for a literal `$`.
In a `shell` operation's `run` and `unless` each value is shell-quoted (one word, never code),
unless the operation names it in `raw_vars`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from string import Template
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from hosts.facts import FACTS_BY_NAME, Fact
from hosts.inventory import Host, load_yaml, yaml_error
from hosts.operations import AnyOperation, Operation

OPERATION = TypeAdapter[Operation](AnyOperation)


class DeployError(ValueError):
    """A deploy that cannot apply to a host; str() is one line."""


class Deploy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    gather: list[str] = Field(default_factory=list)
    operations: list[dict[str, Any]] = Field(default_factory=list)

    def gather_facts(self) -> list[Fact[Any]]:
        unknown = [name for name in self.gather if name not in FACTS_BY_NAME]
        if unknown:
            raise DeployError(f"gather: unknown facts {', '.join(unknown)} (known: {', '.join(FACTS_BY_NAME)})")
        return [FACTS_BY_NAME[name]() for name in self.gather]

    def operations_for(self, host: Host) -> list[Operation]:
        vars_ = {**{k: str(v) for k, v in host.vars.items()}, "host": host.name, "address": host.address}
        ops: list[Operation] = []
        for i, item in enumerate(self.operations):
            if len(item) != 1:
                raise DeployError(
                    f"{host.name}: operations[{i}]: write one operation per item, like {{sysctl: {{...}}}}"
                )
            ((kind, args),) = item.items()
            where = f"{host.name}: operations[{i}] ({kind})"
            if args is not None and not isinstance(args, dict):
                raise DeployError(f"{where}: its arguments must be a mapping, like {kind}: {{key: ..., value: ...}}")
            try:
                rendered = _render_shell(args or {}, vars_) if kind == "shell" else _render(args or {}, vars_)
                ops.append(OPERATION.validate_python({"op": kind, **rendered}))
            except KeyError as exc:
                raise DeployError(f"{where}: host has no variable {exc.args[0]!r}") from None
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err["loc"][1:]) or "op"
                message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
                raise DeployError(f"{where}: {loc}: {message.removeprefix('Value error, ')}") from None
            except ValueError as exc:
                raise DeployError(f"{where}: {exc}") from None
        return ops


def _render(value: Any, vars_: dict[str, str]) -> Any:
    if isinstance(value, str):
        return Template(value).substitute(vars_)
    if isinstance(value, dict):
        return {k: _render(v, vars_) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, vars_) for v in value]
    return value


# The keys of a `shell` operation that the shell reads as code: their variables are quoted.
SHELL_CODE_KEYS = ("run", "unless")


def _render_shell(args: dict[str, Any], vars_: dict[str, str]) -> dict[str, Any]:
    """A `shell` operation's arguments: each variable in `run` and `unless` shell-quoted, as one word.

    A host's variable is data: `hello; id #` must print, never run `id`. `raw_vars: [name, ...]`
    (the operation's own key, documented in docs/hosts.md) inserts those variables unquoted, as shell
    code; `creates` is a path the operation quotes itself, so it takes values as they are.
    """
    args = dict(args)
    raw = args.pop("raw_vars", [])
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise ValueError("raw_vars: a list of variable names, like [script]")
    unknown = [name for name in raw if name not in vars_]
    if unknown:
        raise KeyError(unknown[0])
    quoted = {k: v if k in raw else shlex.quote(v) for k, v in vars_.items()}
    return {k: _render(v, quoted if k in SHELL_CODE_KEYS else vars_) for k, v in args.items()}


def load_deploy(path: str | Path) -> Deploy:
    path = Path(path)
    try:
        data = load_yaml(path.read_text())
    except OSError as exc:
        raise DeployError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DeployError(yaml_error(path, exc)) from None
    if data is None:
        raise DeployError(f"{path}: empty: a deploy names operations or facts to gather")
    if not isinstance(data, dict):
        raise DeployError(f"{path}: a deploy is a mapping of gather and operations, not a {type(data).__name__}")
    try:
        deploy = Deploy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DeployError(f"{path}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    if not deploy.operations and not deploy.gather:
        raise DeployError(f"{path}: nothing to do: no operations and no gather")
    return deploy
