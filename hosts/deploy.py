"""A deploy file: facts to gather and operations to apply, with `${var}` taken from each host's variables.

```yaml
gather: [os_release, kernel]
operations:
  - sysctl: {key: net.ipv4.tcp_fin_timeout, value: 30, persist_file: "${sysctl_file}"}
  - file: {path: "${motd}", content: "hello\n", mode: "0644"}
  - line: {path: /etc/hosts, line: "10.0.0.2 peer"}
```
Variables are a host's `vars` plus `host` (its name) and `address`; write `$$` for a literal `$`.
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from hosts.facts import FACTS_BY_NAME, Fact
from hosts.inventory import Host, yaml_error
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
                rendered = _render(args or {}, vars_)
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


def load_deploy(path: str | Path) -> Deploy:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise DeployError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DeployError(yaml_error(path, exc)) from None
    try:
        return Deploy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DeployError(f"{path}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
