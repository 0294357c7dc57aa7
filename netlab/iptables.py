"""iptables-restore text from fragments of tables (pure): the one format every node's rules share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fragment:
    """Rules for one table: the user chains they declare and the `-A ...` lines, in order."""

    table: str
    chains: tuple[str, ...] = ()
    rules: tuple[str, ...] = field(default=())


def restore_text(fragments: Iterable[Fragment]) -> str:
    """One iptables-restore input: each table once, its fragments' chains, then their rules in order.

    iptables-restore flushes every table it is given, so a node's rules are always written whole.
    """
    tables: dict[str, list[Fragment]] = {}
    for fragment in fragments:
        tables.setdefault(fragment.table, []).append(fragment)
    out: list[str] = []
    for table, parts in tables.items():
        out.append(f"*{table}")
        chains = [c for part in parts for c in part.chains]
        out += [f":{chain} - [0:0]" for chain in dict.fromkeys(chains)]
        out += [rule for part in parts for rule in part.rules]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def comment(text: str) -> str:
    """A `-m comment` match; iptables keeps at most 256 characters."""
    return f'-m comment --comment "{text[:255]}"'
