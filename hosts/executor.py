"""Apply operations: all hosts in parallel, each host's operations in order.

Per host the run costs one connection and at most two scripts: one reads every fact the
operations need, one makes every change (uploads aside). A second apply that
finds everything in place runs only the first.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hosts.connectors import Connector, ConnectThrottle, HostError, connectors_for
from hosts.connectors.base import short
from hosts.facts import Fact
from hosts.inventory import Host, Inventory
from hosts.operations import Change, Command, FactValues, Operation, OperationError

Status = Literal["ok", "changed", "failed"]
# The operations for every host, or a function giving each host its own.
HostOperations = Sequence[Operation] | Callable[[Host], Sequence[Operation]]


@dataclass
class OpResult:
    label: str
    status: Status
    reason: str = ""
    commands: tuple[str, ...] = ()


@dataclass
class HostReport:
    host: str
    results: list[OpResult] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    elapsed: float = 0.0

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> bool:
        return self.error is not None or self.count("failed") > 0


@dataclass
class RunReport:
    hosts: list[HostReport]
    check: bool
    elapsed: float

    @property
    def failed(self) -> list[HostReport]:
        return [h for h in self.hosts if h.failed]

    @property
    def changed(self) -> int:
        return sum(h.count("changed") for h in self.hosts)


# --- scripts: pure, so that what runs on a host is tested from data ---------------------------


def fact_script(commands: Sequence[str], token: str) -> str:
    """One script that runs each fact command and frames its output and exit status."""
    blocks = [
        f"printf '%s %d\\n' {token} {i}\n( {cmd}\n)\nprintf '\\n%s %d %d\\n' {token} {i} $?"
        for i, cmd in enumerate(commands)
    ]
    return "\n".join(blocks) + "\n"


def change_script(groups: Sequence[Sequence[str]], token: str) -> str:
    """One script with a `set -e` block per operation; it stops after the first block that fails."""
    blocks = []
    for i, commands in enumerate(groups):
        body = "\n".join(commands)
        blocks.append(
            f"printf '%s %d\\n' {token} {i}\n( set -e\n{body}\n) 2>&1\nrc=$?\n"
            f"printf '\\n%s %d %d\\n' {token} {i} $rc\n[ $rc -eq 0 ] || exit 0"
        )
    return "\n".join(blocks) + "\n"


def parse_blocks(stdout: str, token: str) -> dict[int, tuple[str, int]]:
    """Output and exit status of each framed block that finished."""
    found: dict[int, tuple[str, int]] = {}
    rest = stdout
    while True:
        start = rest.find(f"{token} ")
        if start < 0:
            return found
        head_end = rest.find("\n", start)
        if head_end < 0:
            return found
        index = rest[start + len(token) + 1 : head_end]
        end_marker = f"\n{token} {index} "
        end = rest.find(end_marker, head_end)
        if end < 0:
            return found
        status_end = rest.find("\n", end + len(end_marker))
        status = rest[end + len(end_marker) : status_end if status_end >= 0 else None]
        found[int(index)] = (rest[head_end + 1 : end], int(status))
        rest = rest[status_end + 1 :] if status_end >= 0 else ""


def shown(commands: Sequence[Command]) -> tuple[str, ...]:
    """Commands as a report keeps them: a file's content replaced by its size (Command.shown)."""
    return tuple(c.display for c in commands)


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


# --- one host -------------------------------------------------------------------------------


class FactError(Exception):
    """Kept as the value of a fact that could not be read, so that only the operations needing it fail."""


async def read_facts(connector: Connector, facts: Sequence[Fact[Any]]) -> dict[Fact[Any], Any | FactError]:
    """Every fact in one script; a fact whose command fails becomes a FactError value."""
    if not facts:
        return {}
    token = f"@mp-{secrets.token_hex(6)}"
    result = await connector.run_script(fact_script([f.command() for f in facts], token))
    blocks = parse_blocks(result.stdout, token)
    values: dict[Fact[Any], Any | FactError] = {}
    for i, fact in enumerate(facts):
        if i not in blocks:
            values[fact] = FactError(f"fact {fact.label} not read: {last_line(result.stderr) or 'script stopped'}")
            continue
        output, status = blocks[i]
        if status != 0:
            why = last_line(result.stderr) or f"exit status {status}"
            values[fact] = FactError(f"fact {fact.label} failed: {why}")
            continue
        try:
            values[fact] = fact.process(output)
        except (ValueError, KeyError, IndexError) as exc:
            values[fact] = FactError(f"fact {fact.label}: cannot parse its output: {exc}")
    return values


class _Host:
    def __init__(self, host: Host, connector: Connector, check: bool) -> None:
        self.host = host
        self.connector = connector
        self.check = check

    async def apply(self, ops: Sequence[Operation], gather: Sequence[Fact[Any]]) -> HostReport:
        report = HostReport(self.host.name)
        try:
            await self.connector.connect()
            wanted = list(dict.fromkeys([*gather, *(f for op in ops for f in op.facts())]))
            values = await read_facts(self.connector, wanted)
        except HostError as exc:
            report.error = exc.reason
            return report
        report.facts = {f.name: v for f, v in values.items() if f in gather and not isinstance(v, FactError)}
        for fact in gather:
            if isinstance(values[fact], FactError):
                report.error = str(values[fact])
        changes = [self.changes_of(op, values) for op in ops]
        report.results = await self.execute(ops, changes)
        return report

    def changes_of(self, op: Operation, values: dict[Fact[Any], Any]) -> list[Change] | OpResult:
        """What `op` would change here, or its failure when a fact it needs could not be read."""
        failed = [v for f in op.facts() if isinstance(v := values[f], FactError)]
        if failed:
            return OpResult(op.label, "failed", str(failed[0]))
        try:
            return op.changes(FactValues(values))
        except OperationError as exc:
            return OpResult(op.label, "failed", str(exc))

    async def execute(self, ops: Sequence[Operation], changes: Sequence[list[Change] | OpResult]) -> list[OpResult]:
        """Plain commands of consecutive operations share one script; the first failure ends the host's run."""
        results: list[OpResult | None] = [None] * len(ops)
        batch: list[tuple[int, Operation, list[Command]]] = []

        async def flush() -> int | None:
            done = await self.run_commands([(op, cmds) for _, op, cmds in batch]) if batch else []
            for (i, _, _), result in zip(batch, done, strict=False):
                results[i] = result
            failed = [i for (i, _, _), r in zip(batch, done, strict=False) if r.status == "failed"]
            batch.clear()
            return failed[0] if failed else None

        failed_at: int | None = None
        for i, (op, todo) in enumerate(zip(ops, changes, strict=True)):
            if isinstance(todo, OpResult):
                failed_at = await flush()
                if failed_at is None:
                    results[i], failed_at = todo, i
                break
            commands = [c for c in todo if isinstance(c, Command)]
            if not todo:
                results[i] = OpResult(op.label, "ok")
            elif self.check and len(commands) == len(todo):
                results[i] = OpResult(op.label, "changed", "would change", shown(commands))
            elif len(commands) == len(todo):
                batch.append((i, op, commands))
                continue
            else:
                failed_at = await flush()
                if failed_at is not None:
                    break
                results[i] = result = await self.run_each(op, todo)
                if result.status == "failed":
                    failed_at = i
                    break
        else:
            failed_at = await flush()
        if failed_at is not None:
            why = f"not run: '{ops[failed_at].label}' failed before it"
            for j in range(failed_at + 1, len(ops)):
                results[j] = OpResult(ops[j].label, "failed", why)
        return [r for r in results if r is not None]

    async def run_commands(self, batch: Sequence[tuple[Operation, list[Command]]]) -> list[OpResult]:
        token = f"@mp-{secrets.token_hex(6)}"
        try:
            script = change_script([[c.text for c in cmds] for _, cmds in batch], token)
            result = await self.connector.run_script(script)
        except HostError as exc:
            return [OpResult(op.label, "failed", exc.reason, shown(cmds)) for op, cmds in batch]
        blocks = parse_blocks(result.stdout, token)
        out: list[OpResult] = []
        for i, (op, commands) in enumerate(batch):
            if i not in blocks:
                why = last_line(result.stderr) or f"script ended with exit status {result.exit_status}"
                out.append(OpResult(op.label, "failed", f"not finished: {why}", shown(commands)))
                break
            output, status = blocks[i]
            if status != 0:
                out.append(OpResult(op.label, "failed", f"exit {status}: {last_line(output)}", shown(commands)))
                break
            out.append(OpResult(op.label, "changed", "", shown(commands)))
        return out

    async def run_each(self, op: Operation, changes: Sequence[Change]) -> OpResult:
        """An operation with an upload: its changes one by one (it is called with at least one change)."""
        done: list[str] = []
        try:
            for change in changes:
                if isinstance(change, Command):
                    done.append(change.display)
                    if not self.check:
                        try:
                            result = await self.connector.run(change.text)
                        except HostError as exc:  # its reason quotes the command's start: show what may be shown
                            reason = exc.reason.replace(short(change.text), short(change.display))
                            raise HostError(exc.host, reason) from None
                        if not result.ok:
                            why = last_line(result.stderr or result.stdout)
                            return OpResult(op.label, "failed", f"exit {result.exit_status}: {why}", tuple(done))
                else:
                    done.append(f"upload {len(change.data)} bytes to {change.path}")
                    if not self.check:
                        await self.connector.upload(change.data, change.path, change.mode)
        except HostError as exc:
            return OpResult(op.label, "failed", exc.reason, tuple(done))
        return OpResult(op.label, "changed", "would change" if self.check else "", tuple(done))


# --- all hosts ------------------------------------------------------------------------------


async def apply(
    inventory: Inventory,
    operations: HostOperations,
    *,
    hosts: Iterable[Host] | None = None,
    gather: Sequence[Fact[Any]] = (),
    check: bool = False,
    forks: int = 64,
    progress: Callable[[HostReport], None] | None = None,
    throttle: ConnectThrottle | None = None,
) -> RunReport:
    """Apply `operations` to `hosts` (all of the inventory by default); one host's failure stops only that host."""
    if forks < 1:
        raise ValueError(f"forks must be at least 1, not {forks}")  # a semaphore of 0 would wait forever
    started = time.monotonic()
    selected = list(hosts) if hosts is not None else list(inventory.hosts.values())
    connectors = connectors_for(inventory, selected, throttle)
    limit = asyncio.Semaphore(forks)

    async def one(host: Host) -> HostReport:
        async with limit:
            t0 = time.monotonic()
            ops = operations(host) if callable(operations) else operations
            report = await _Host(host, connectors[host.name], check).apply(ops, gather)
            report.elapsed = time.monotonic() - t0
        if progress:
            progress(report)
        return report

    try:
        reports = await asyncio.gather(*(one(h) for h in selected))
    finally:
        await asyncio.gather(*(c.close() for c in connectors.values()), return_exceptions=True)
    return RunReport(list(reports), check, time.monotonic() - started)


async def gather_facts(
    inventory: Inventory, facts: Sequence[Fact[Any]], *, hosts: Iterable[Host] | None = None
) -> RunReport:
    """Read facts only (no operations): the report's `facts` per host."""
    return await apply(inventory, [], hosts=hosts, gather=facts)
